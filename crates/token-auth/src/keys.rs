//! ES256 (ECDSA P-256) signing and verifying keys, and the `kid` that names them.
//!
//! Keys come from PKCS#8 (or SEC1 `EC PRIVATE KEY`) PEM/DER or are generated on first
//! start. Private key material never reaches `Debug` output or logs.

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;

use crate::error::AuthError;

/// The private half: signs tokens. Every replica holds the same key so any of them can
/// issue tokens that all of them accept.
pub struct SigningKey {
    encoding: EncodingKey,
    verifying: VerifyingKey,
}

/// The public half: everything needed to check a token's signature.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: String,
    spki_der: Vec<u8>,
    decoding: DecodingKey,
}

impl SigningKey {
    /// Generates a fresh P-256 key; returns it with its PKCS#8 PEM so the caller can
    /// persist it (a key that changes on restart would invalidate every issued token).
    pub fn generate() -> Result<(SigningKey, String), AuthError> {
        let document =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| AuthError::Crypto("could not generate a P-256 key".to_owned()))?;
        let der = document.as_ref();
        let pem = encode_pem("PRIVATE KEY", der);
        Ok((SigningKey::from_der(der)?, pem))
    }

    /// Reads a PEM file holding a `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1)
    /// block; other blocks (such as `EC PARAMETERS` from `openssl ecparam`) are skipped.
    pub fn from_pem(pem: &str) -> Result<SigningKey, AuthError> {
        SigningKey::from_der(&private_key_der_from_pem(pem)?)
    }

    /// Reads a DER-encoded PKCS#8 or SEC1 P-256 private key.
    pub fn from_der(der: &[u8]) -> Result<SigningKey, AuthError> {
        let pair = EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| AuthError::Crypto(format!("not a usable P-256 private key: {e}")))?;
        // jsonwebtoken's ES256 signer wants PKCS#8, so normalise SEC1 input to it.
        let pkcs8 = pair
            .to_pkcs8v1()
            .map_err(|_| AuthError::Crypto("could not serialise the key as PKCS#8".to_owned()))?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| AuthError::Crypto("could not serialise the public key".to_owned()))?;
        let verifying = VerifyingKey {
            kid: key_id(spki.as_ref()),
            spki_der: spki.as_ref().to_vec(),
            // The aws-lc verifier takes the uncompressed point (0x04 || x || y).
            decoding: DecodingKey::from_ec_der(pair.public_key().as_ref()),
        };
        Ok(SigningKey {
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            verifying,
        })
    }

    /// The key id put in the `kid` header of every token this key signs.
    pub fn kid(&self) -> &str {
        &self.verifying.kid
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// Signs `claims` as a compact JWT with `alg: ES256`, `typ: JWT` and this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.verifying.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| AuthError::Crypto(format!("signing failed: {e}")))
    }
}

impl VerifyingKey {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The DER `SubjectPublicKeyInfo`, e.g. to publish the key to another verifier.
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The public key as a `PUBLIC KEY` PEM block.
    pub fn public_key_pem(&self) -> String {
        encode_pem("PUBLIC KEY", &self.spki_der)
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &"ES256")
            .field("kid", &self.verifying.kid)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &"ES256")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The libtrust key id docker's own tooling uses: the first 240 bits of the SHA-256 of
/// the DER `SubjectPublicKeyInfo`, base32, in colon-separated groups of four.
pub fn key_id(spki_der: &[u8]) -> String {
    let hash = digest(&SHA256, spki_der);
    let encoded = base32(&hash.as_ref()[..30]);
    let groups: Vec<&str> = encoded
        .as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    groups.join(":")
}

/// RFC 4648 base32 without padding (the input here is always a multiple of 5 bytes).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn encode_pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// Finds the first private key block in `pem` and returns its DER bytes.
fn private_key_der_from_pem(pem: &str) -> Result<Vec<u8>, AuthError> {
    let mut lines = pem.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let body: String = lines.by_ref().take_while(|l| *l != end).collect();
        match label {
            "PRIVATE KEY" | "EC PRIVATE KEY" => {
                return STANDARD
                    .decode(body.as_bytes())
                    .map_err(|_| AuthError::Crypto(format!("{label} block is not valid base64")));
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(AuthError::Crypto(
                    "encrypted private keys are not supported; store the key unencrypted \
                     with restrictive file permissions"
                        .to_owned(),
                ));
            }
            _ => {}
        }
    }
    Err(AuthError::Crypto(
        "no PRIVATE KEY or EC PRIVATE KEY block found".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example key from distribution's token documentation, with its published kid.
    const SPEC_X: &str = "m7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q";
    const SPEC_Y: &str = "dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc";
    const SPEC_KID: &str = "PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6";

    fn spec_spki() -> Vec<u8> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        // DER SubjectPublicKeyInfo header for an uncompressed P-256 point.
        let mut spki = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
        ];
        spki.extend(URL_SAFE_NO_PAD.decode(SPEC_X).unwrap());
        spki.extend(URL_SAFE_NO_PAD.decode(SPEC_Y).unwrap());
        spki
    }

    #[test]
    fn kid_matches_the_docker_reference_key() {
        assert_eq!(key_id(&spec_spki()), SPEC_KID);
    }

    /// The reference private key (`d` above) as PKCS#8 and as SEC1.
    const SPEC_PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgR7OnbfMaD5J2jl7G
eE8ESo7CnHSBm/1N2k9IXYFrKJChRANCAASbvNSnHdv7OZUTlzKZKzrg84b1BzIS
klpgIPzb7nj39HVN24s/LGf/BjwfqHZvFsc95TQ69cXAEED0GjnK9X5n
-----END PRIVATE KEY-----
";
    const SPEC_SEC1_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIEezp23zGg+Sdo5exnhPBEqOwpx0gZv9TdpPSF2BayiQoAoGCCqGSM49
AwEHoUQDQgAEm7zUpx3b+zmVE5cymSs64POG9QcyEpJaYCD82+549/R1TduLPyxn
/wY8H6h2bxbHPeU0OvXFwBBA9Bo5yvV+Zw==
-----END EC PRIVATE KEY-----
";

    #[test]
    fn reference_key_in_either_encoding_has_the_published_kid() {
        assert_eq!(
            SigningKey::from_pem(SPEC_PKCS8_PEM).unwrap().kid(),
            SPEC_KID
        );
        assert_eq!(SigningKey::from_pem(SPEC_SEC1_PEM).unwrap().kid(), SPEC_KID);
    }

    /// The specification's example claims, signed with the reference key by an
    /// independent ES256 implementation (the example signature printed in the
    /// specification itself does not verify), pass our verification path.
    #[test]
    fn verifies_a_token_signed_by_another_implementation() {
        use crate::service::TokenConfig;
        use crate::verify::BearerVerifier;
        const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiIsImtpZCI6IlBZWU86VEVXVTpWN0pIOjI2SlY6QVFUWjpMSkMzOlNYVko6WEdIQTozNEYyOjJMQVE6WlJNSzpaN1E2In0.eyJpc3MiOiJhdXRoLmRvY2tlci5jb20iLCJzdWIiOiJqbGhhd24iLCJhdWQiOiJyZWdpc3RyeS5kb2NrZXIuY29tIiwiZXhwIjoxNDE1Mzg3MzE1LCJuYmYiOjE0MTUzODcwMTUsImlhdCI6MTQxNTM4NzAxNSwianRpIjoidFlKQ08xYzZjbnl5N2tBbjBjN3JLUGdiVjFIMWJGd3MiLCJhY2Nlc3MiOlt7InR5cGUiOiJyZXBvc2l0b3J5IiwibmFtZSI6InNhbWFsYmEvbXktYXBwIiwiYWN0aW9ucyI6WyJwdXNoIl19XX0.jnaiJElGMABivZzYltUL3rBmoEbtGoME5pVcw1TJehX6exfej5P-gbgdHW4vxRAeFbIKaf9H6qBe30RgVpkZ2Q";
        let key = SigningKey::from_pem(SPEC_PKCS8_PEM).unwrap();
        let config = TokenConfig {
            service: "registry.docker.com".into(),
            issuer: "auth.docker.com".into(),
            ..TokenConfig::default()
        };
        let verifier = BearerVerifier::new(key.verifying_key().clone(), &config).unwrap();
        let claims = verifier.verify_token(TOKEN, None, 1_415_387_100).unwrap();
        assert_eq!(claims.sub, "jlhawn");
        assert_eq!(claims.access[0].name, "samalba/my-app");
        // The same token once expired.
        assert!(verifier.verify_token(TOKEN, None, 1_415_387_400).is_err());
    }

    #[test]
    fn base32_rfc4648_vectors() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn generated_key_round_trips_through_pem() {
        let (key, pem) = SigningKey::generate().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let again = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(key.kid(), again.kid());
        assert_eq!(key.kid().len(), 59);
        assert_eq!(key.kid().split(':').count(), 12);
        // The generated SPKI is the standard P-256 form, so the kid is the libtrust one.
        assert_eq!(key.verifying_key().public_key_der().len(), 91);
    }

    #[test]
    fn distinct_keys_have_distinct_kids() {
        let (a, _) = SigningKey::generate().unwrap();
        let (b, _) = SigningKey::generate().unwrap();
        assert_ne!(a.kid(), b.kid());
    }

    #[test]
    fn pem_with_leading_parameters_block_is_read() {
        let (key, pem) = SigningKey::generate().unwrap();
        let with_params = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{pem}"
        );
        assert_eq!(SigningKey::from_pem(&with_params).unwrap().kid(), key.kid());
    }

    #[test]
    fn bad_pem_is_rejected() {
        assert!(SigningKey::from_pem("").is_err());
        assert!(
            SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----")
                .is_err()
        );
        assert!(
            SigningKey::from_pem(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----"
            )
            .is_err()
        );
        assert!(SigningKey::from_der(b"not a key").is_err());
    }

    #[test]
    fn debug_never_prints_key_material() {
        let (key, pem) = SigningKey::generate().unwrap();
        let printed = format!("{key:?} {:?}", key.verifying_key());
        assert!(printed.contains(key.kid()));
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!printed.contains(&body[..20]));
    }

    #[test]
    fn public_key_pem_is_labelled() {
        let (key, _) = SigningKey::generate().unwrap();
        let pem = key.verifying_key().public_key_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
    }
}
