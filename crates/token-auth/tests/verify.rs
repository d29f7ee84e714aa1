//! Bearer-token verification on `/v2`: what is accepted, what is refused, and the exact
//! challenge docker receives.

mod common;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use registry_core::auth::UploadContext;
use registry_core::{Action, RegistryError, Resource};

use common::{MemoryDirectory, MemoryUsers, jwt_part, service, service_with};
use token_auth::rbac::UserAccount;
use token_auth::{
    AccessEntry, BearerVerifier, Claims, Identity, Scope, SigningKey, TokenConfig, TokenService,
};

const NOW: i64 = 1_700_000_000;
const HOUR: i64 = 3600;

fn admin() -> Identity {
    Identity::User(UserAccount {
        id: 1,
        username: "admin".into(),
        sysadmin: true,
    })
}

fn repo(name: &str) -> Resource {
    Resource::Repository(name.parse().unwrap())
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::HOST, HeaderValue::from_static("registry.test:5000"));
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

fn no_token() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::HOST, HeaderValue::from_static("registry.test:5000"));
    h
}

async fn issue(service: &TokenService, scopes: &[&str], now: i64) -> String {
    let scopes = Scope::parse_all(scopes.iter().copied()).unwrap();
    service
        .issue_at(Some(&admin()), &scopes, now)
        .await
        .unwrap()
        .token
}

/// Valid claims for `access`, as the service would sign them at `NOW`.
fn claims(access: Vec<AccessEntry>) -> Claims {
    Claims {
        iss: "berth-token-service".into(),
        sub: "admin".into(),
        aud: "berth".into(),
        exp: NOW + 300,
        nbf: NOW,
        iat: NOW,
        jti: "test".into(),
        access,
    }
}

fn entry(t: &str, name: &str, actions: &[&str]) -> AccessEntry {
    AccessEntry {
        resource_type: t.into(),
        name: name.into(),
        actions: actions.iter().map(|a| a.to_string()).collect(),
    }
}

fn check(
    verifier: &BearerVerifier,
    token: &str,
    resource: &Resource,
    action: Action,
    upload: Option<UploadContext>,
    now: i64,
) -> Result<String, (String, String)> {
    match verifier.authorize_at(&bearer(token), resource, action, upload, now) {
        Ok(grant) => Ok(grant.principal.subject),
        Err(RegistryError::Unauthorized { challenge, message }) => Err((challenge, message)),
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

fn assert_invalid(result: Result<String, (String, String)>) {
    let (challenge, _) = result.expect_err("token must be refused");
    assert!(
        challenge.ends_with(r#",error="invalid_token""#),
        "{challenge}"
    );
}

fn assert_insufficient(result: Result<String, (String, String)>) {
    let (challenge, _) = result.expect_err("token must be refused");
    assert!(
        challenge.ends_with(r#",error="insufficient_scope""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn valid_token_passes() {
    let (service, _) = service();
    let token = issue(&service, &["repository:lib/app:pull,push,delete"], NOW).await;
    let v = service.verifier();
    for action in [Action::Pull, Action::Push, Action::Delete] {
        assert_eq!(
            check(v, &token, &repo("lib/app"), action, None, NOW + 10),
            Ok("admin".into())
        );
    }
    assert!(check(v, &token, &Resource::Base, Action::Pull, None, NOW).is_ok());
}

#[tokio::test]
async fn wildcard_and_catalog() {
    let (service, _) = service();
    let v = service.verifier();
    let star = issue(&service, &["repository:lib/app:*"], NOW).await;
    assert!(check(v, &star, &repo("lib/app"), Action::Delete, None, NOW).is_ok());
    assert_insufficient(check(v, &star, &Resource::Catalog, Action::Pull, None, NOW));
    let catalog = issue(&service, &["registry:catalog:*"], NOW).await;
    assert!(check(v, &catalog, &Resource::Catalog, Action::Pull, None, NOW).is_ok());
    assert_insufficient(check(
        v,
        &catalog,
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));
}

#[tokio::test]
async fn anonymous_token_opens_only_the_base_endpoint() {
    let (service, _) = service();
    let scopes = Scope::parse_all(["repository:lib/app:pull"]).unwrap();
    let token = service.issue_at(None, &scopes, NOW).await.unwrap().token;
    let v = service.verifier();
    assert_eq!(
        check(v, &token, &Resource::Base, Action::Pull, None, NOW),
        Ok(String::new())
    );
    assert_insufficient(check(v, &token, &repo("lib/app"), Action::Pull, None, NOW));
}

#[tokio::test]
async fn missing_token_gets_the_docker_challenge() {
    let (service, _) = service();
    let v = service.verifier();
    let cases = [
        (Resource::Base, Action::Pull, r#"Bearer realm="http://registry.test:5000/service/token",service="berth""#.to_owned()),
        (repo("lib/app"), Action::Pull, r#"Bearer realm="http://registry.test:5000/service/token",service="berth",scope="repository:lib/app:pull""#.to_owned()),
        (repo("lib/app"), Action::Push, r#"Bearer realm="http://registry.test:5000/service/token",service="berth",scope="repository:lib/app:pull,push""#.to_owned()),
        (repo("lib/app"), Action::Delete, r#"Bearer realm="http://registry.test:5000/service/token",service="berth",scope="repository:lib/app:delete""#.to_owned()),
        (Resource::Catalog, Action::Pull, r#"Bearer realm="http://registry.test:5000/service/token",service="berth",scope="registry:catalog:*""#.to_owned()),
    ];
    for (resource, action, expected) in cases {
        match v.authorize_at(&no_token(), &resource, action, None, NOW) {
            Err(RegistryError::Unauthorized { challenge, message }) => {
                assert_eq!(challenge, expected);
                assert_eq!(message, "authentication required");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn basic_credentials_on_v2_get_a_bearer_challenge() {
    let (service, _) = service();
    let mut h = no_token();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Basic YWRtaW46eA=="),
    );
    match service
        .verifier()
        .authorize_at(&h, &repo("a"), Action::Pull, None, NOW)
    {
        Err(RegistryError::Unauthorized { challenge, .. }) => {
            assert!(challenge.starts_with("Bearer realm="));
            assert!(!challenge.contains("error="));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn insufficient_scope_challenge_is_exact() {
    let (service, _) = service();
    let token = issue(&service, &["repository:lib/app:pull"], NOW).await;
    let result = check(
        service.verifier(),
        &token,
        &repo("lib/app"),
        Action::Push,
        None,
        NOW,
    );
    let (challenge, _) = result.unwrap_err();
    assert_eq!(
        challenge,
        r#"Bearer realm="http://registry.test:5000/service/token",service="berth",scope="repository:lib/app:pull,push",error="insufficient_scope""#
    );
}

#[tokio::test]
async fn realm_follows_proxy_headers_or_external_url() {
    let (service, _) = service();
    let mut h = no_token();
    h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    h.insert(
        "x-forwarded-host",
        HeaderValue::from_static("registry.example.com"),
    );
    let Err(RegistryError::Unauthorized { challenge, .. }) =
        service
            .verifier()
            .authorize_at(&h, &Resource::Base, Action::Pull, None, NOW)
    else {
        panic!("expected a challenge")
    };
    assert_eq!(
        challenge,
        r#"Bearer realm="https://registry.example.com/service/token",service="berth""#
    );

    let config = TokenConfig {
        external_url: Some("https://berth.example.org".into()),
        service: "berth.example.org".into(),
        ..TokenConfig::default()
    };
    let (service, _) = service_with(config, MemoryUsers::new());
    let Err(RegistryError::Unauthorized { challenge, .. }) =
        service
            .verifier()
            .authorize_at(&h, &Resource::Base, Action::Pull, None, NOW)
    else {
        panic!("expected a challenge")
    };
    assert_eq!(
        challenge,
        r#"Bearer realm="https://berth.example.org/service/token",service="berth.example.org""#
    );
}

#[tokio::test]
async fn tampered_signature_is_refused() {
    let (service, _) = service();
    let token = issue(&service, &["repository:lib/app:pull"], NOW).await;
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
    sig[10] ^= 1;
    let forged = format!("{rest}.{}", URL_SAFE_NO_PAD.encode(&sig));
    assert_invalid(check(
        service.verifier(),
        &forged,
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));
    // Truncated and missing signatures too.
    let truncated = format!("{rest}.{}", &signature[..20]);
    assert_invalid(check(
        service.verifier(),
        &truncated,
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));
    assert_invalid(check(
        service.verifier(),
        &format!("{rest}."),
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));
}

#[tokio::test]
async fn tampered_claims_are_refused() {
    let (service, _) = service();
    let token = issue(&service, &["repository:lib/app:pull"], NOW).await;
    let parts: Vec<&str> = token.split('.').collect();
    let mut body = jwt_part(&token, 1);
    body["access"][0]["actions"] = serde_json::json!(["pull", "push"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(body.to_string()),
        parts[2]
    );
    assert_invalid(check(
        service.verifier(),
        &forged,
        &repo("lib/app"),
        Action::Push,
        None,
        NOW,
    ));
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (service, key) = service();
    for alg in ["none", "None", "NONE"] {
        let head = serde_json::json!({"alg": alg, "typ": "JWT", "kid": key.kid()});
        let body = serde_json::to_string(&claims(vec![entry("repository", "lib/app", &["pull"])]))
            .unwrap();
        for sig in ["", "AAAA"] {
            let token = format!(
                "{}.{}.{sig}",
                URL_SAFE_NO_PAD.encode(head.to_string()),
                URL_SAFE_NO_PAD.encode(body.as_bytes())
            );
            assert_invalid(check(
                service.verifier(),
                &token,
                &repo("lib/app"),
                Action::Pull,
                None,
                NOW,
            ));
        }
    }
}

#[tokio::test]
async fn hs256_with_the_public_key_as_secret_is_refused() {
    let (service, key) = service();
    let public = key.verifying_key();
    let secrets: Vec<Vec<u8>> = vec![
        public.public_key_der().to_vec(),
        public.public_key_pem().into_bytes(),
        public.public_key_der()[26..].to_vec(),
    ];
    for secret in secrets {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut head = Header::new(alg);
            head.kid = Some(key.kid().to_owned());
            let token = jsonwebtoken::encode(
                &head,
                &claims(vec![entry("repository", "lib/app", &["pull"])]),
                &EncodingKey::from_secret(&secret).unwrap(),
            )
            .unwrap();
            assert_invalid(check(
                service.verifier(),
                &token,
                &repo("lib/app"),
                Action::Pull,
                None,
                NOW,
            ));
        }
    }
}

#[tokio::test]
async fn token_signed_by_another_key_is_refused() {
    let (service, _) = service();
    let (other, _) = SigningKey::generate().unwrap();
    let body = claims(vec![entry("repository", "lib/app", &["pull"])]);
    // Signed and labelled with the other key: unknown kid.
    let token = other.sign(&body).unwrap();
    assert_invalid(check(
        service.verifier(),
        &token,
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));
}

#[tokio::test]
async fn kid_spoofing_is_refused() {
    let (service, key) = service();
    let (other, _) = SigningKey::generate().unwrap();
    // Signed by the other key but claiming ours in the header: the signature must fail.
    let token = other
        .sign(&claims(vec![entry("repository", "lib/app", &["pull"])]))
        .unwrap();
    let (head, rest) = token.split_once('.').unwrap();
    let mut head_json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
    head_json["kid"] = key.kid().into();
    let spoofed = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(head_json.to_string()));
    assert_invalid(check(
        service.verifier(),
        &spoofed,
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));

    // No kid at all.
    let (h, rest) = issue(&service, &["repository:lib/app:pull"], NOW)
        .await
        .split_once('.')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap();
    let mut head_json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    head_json.as_object_mut().unwrap().remove("kid");
    let no_kid = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(head_json.to_string()));
    assert_invalid(check(
        service.verifier(),
        &no_kid,
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));
}

#[tokio::test]
async fn rotated_key_is_accepted_when_added() {
    let (service, _) = service();
    let (old, _) = SigningKey::generate().unwrap();
    let token = old
        .sign(&claims(vec![entry("repository", "lib/app", &["pull"])]))
        .unwrap();
    let verifier = service
        .verifier()
        .clone()
        .with_key(old.verifying_key().clone());
    assert!(check(&verifier, &token, &repo("lib/app"), Action::Pull, None, NOW).is_ok());
}

#[tokio::test]
async fn garbage_tokens_are_refused() {
    let (service, _) = service();
    for token in [
        "x",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "....",
        "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
    ] {
        assert_invalid(check(
            service.verifier(),
            token,
            &repo("lib/app"),
            Action::Pull,
            None,
            NOW,
        ));
    }
}

#[tokio::test]
async fn expired_token_is_refused() {
    let (service, _) = service();
    let token = issue(&service, &["repository:lib/app:pull"], NOW).await;
    let v = service.verifier();
    // 300 s lifetime + 30 s leeway.
    assert!(check(v, &token, &repo("lib/app"), Action::Pull, None, NOW + 330).is_ok());
    let (challenge, message) =
        check(v, &token, &repo("lib/app"), Action::Pull, None, NOW + 331).unwrap_err();
    assert!(challenge.ends_with(r#",error="invalid_token""#));
    assert!(message.contains("expired"));
}

#[tokio::test]
async fn not_yet_valid_token_is_refused() {
    let (service, _) = service();
    let token = issue(&service, &["repository:lib/app:pull"], NOW).await;
    let v = service.verifier();
    assert!(check(v, &token, &repo("lib/app"), Action::Pull, None, NOW - 30).is_ok());
    assert_invalid(check(
        v,
        &token,
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW - 31,
    ));
}

#[tokio::test]
async fn wrong_audience_or_issuer_is_refused() {
    let (service, key) = service();
    let v = service.verifier();
    let mut wrong_aud = claims(vec![entry("repository", "lib/app", &["pull"])]);
    wrong_aud.aud = "registry.docker.io".into();
    assert_invalid(check(
        v,
        &key.sign(&wrong_aud).unwrap(),
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));

    let mut wrong_iss = claims(vec![entry("repository", "lib/app", &["pull"])]);
    wrong_iss.iss = "someone-else".into();
    assert_invalid(check(
        v,
        &key.sign(&wrong_iss).unwrap(),
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));

    // Claims missing altogether.
    let bare = serde_json::json!({"exp": NOW + 300, "access": [{"type": "repository", "name": "lib/app", "actions": ["pull"]}]});
    assert_invalid(check(
        v,
        &key.sign(&bare).unwrap(),
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));

    // The same key configured for another service refuses our tokens.
    let other_config = TokenConfig {
        service: "other".into(),
        ..TokenConfig::default()
    };
    let other = BearerVerifier::new(key.verifying_key().clone(), &other_config).unwrap();
    let ours = key
        .sign(&claims(vec![entry("repository", "lib/app", &["pull"])]))
        .unwrap();
    assert_invalid(check(
        &other,
        &ours,
        &repo("lib/app"),
        Action::Pull,
        None,
        NOW,
    ));
    assert!(check(v, &ours, &repo("lib/app"), Action::Pull, None, NOW).is_ok());
}

#[tokio::test]
async fn token_for_repo_a_does_not_open_repo_b() {
    let (service, _) = service();
    let token = issue(&service, &["repository:team/a:pull,push"], NOW).await;
    let v = service.verifier();
    for other in ["team/b", "team/a/sub", "team", "team/ab", "a"] {
        assert_insufficient(check(v, &token, &repo(other), Action::Pull, None, NOW));
    }
}

#[tokio::test]
async fn path_tricks_in_the_access_claim_match_nothing() {
    // Even a correctly signed token whose access entry names the repository in a
    // non-canonical way grants nothing: matching is exact.
    let (service, key) = service();
    let v = service.verifier();
    for name in [
        "lib/../lib/app",
        "LIB/app",
        "Lib/App",
        "lib%2Fapp",
        "lib/app/",
        "/lib/app",
        "lib/*",
        "*",
        "lib//app",
    ] {
        let token = key
            .sign(&claims(vec![entry(
                "repository",
                name,
                &["pull", "push", "*"],
            )]))
            .unwrap();
        assert_insufficient(check(v, &token, &repo("lib/app"), Action::Pull, None, NOW));
    }
    for t in ["repository(plugin)", "Repository", "registry"] {
        let token = key
            .sign(&claims(vec![entry(t, "lib/app", &["pull"])]))
            .unwrap();
        assert_insufficient(check(v, &token, &repo("lib/app"), Action::Pull, None, NOW));
    }
    // The canonical name is granted.
    let token = key
        .sign(&claims(vec![entry("repository", "lib/app", &["pull"])]))
        .unwrap();
    assert!(check(v, &token, &repo("lib/app"), Action::Pull, None, NOW).is_ok());
}

#[tokio::test]
async fn upload_grace_accepts_an_expired_token_within_bounds() {
    let (service, _) = service();
    let token = issue(&service, &["repository:lib/app:pull,push"], NOW).await;
    let v = service.verifier();
    let exp = NOW + 300;
    let started = |at: i64| Some(UploadContext { started_at: at });
    let push = |upload, now| check(v, &token, &repo("lib/app"), Action::Push, upload, now);

    // Started while the token was valid; continued hours later.
    assert!(push(started(NOW + 60), NOW + 5 * HOUR).is_ok());
    // Started exactly at expiry still counts.
    assert!(push(started(exp), NOW + HOUR).is_ok());
    // Up to 24 h after the upload started...
    assert!(push(started(NOW + 60), NOW + 60 + 24 * HOUR).is_ok());
    // ...and not a second more.
    assert_invalid(push(started(NOW + 60), NOW + 61 + 24 * HOUR));
    // Started after the token had expired: the token never covered this upload.
    assert_invalid(push(started(exp + 1), NOW + HOUR));
    // Without an upload context the same token is just expired.
    assert_invalid(push(None, NOW + HOUR));
}

#[tokio::test]
async fn upload_grace_still_checks_signature_audience_and_scope() {
    let (service, key) = service();
    let v = service.verifier();
    let upload = Some(UploadContext {
        started_at: NOW + 10,
    });
    let later = NOW + 2 * HOUR;

    let pull_only = issue(&service, &["repository:lib/app:pull"], NOW).await;
    assert_insufficient(check(
        v,
        &pull_only,
        &repo("lib/app"),
        Action::Push,
        upload,
        later,
    ));

    let other_repo = issue(&service, &["repository:lib/other:pull,push"], NOW).await;
    assert_insufficient(check(
        v,
        &other_repo,
        &repo("lib/app"),
        Action::Push,
        upload,
        later,
    ));

    let mut wrong_aud = claims(vec![entry("repository", "lib/app", &["pull", "push"])]);
    wrong_aud.aud = "elsewhere".into();
    assert_invalid(check(
        v,
        &key.sign(&wrong_aud).unwrap(),
        &repo("lib/app"),
        Action::Push,
        upload,
        later,
    ));

    let (stranger, _) = SigningKey::generate().unwrap();
    let foreign = stranger
        .sign(&claims(vec![entry(
            "repository",
            "lib/app",
            &["pull", "push"],
        )]))
        .unwrap();
    assert_invalid(check(
        v,
        &foreign,
        &repo("lib/app"),
        Action::Push,
        upload,
        later,
    ));
}

#[tokio::test]
async fn upload_grace_is_configurable() {
    let config = TokenConfig {
        upload_grace: std::time::Duration::from_secs(HOUR as u64),
        ..TokenConfig::default()
    };
    let (service, _) = service_with(config, MemoryUsers::new());
    let token = issue(&service, &["repository:lib/app:push"], NOW).await;
    let upload = Some(UploadContext { started_at: NOW });
    let v = service.verifier();
    assert!(
        check(
            v,
            &token,
            &repo("lib/app"),
            Action::Push,
            upload,
            NOW + HOUR
        )
        .is_ok()
    );
    assert_invalid(check(
        v,
        &token,
        &repo("lib/app"),
        Action::Push,
        upload,
        NOW + HOUR + 1,
    ));
}

#[tokio::test]
async fn bad_configuration_is_rejected() {
    let (key, _) = SigningKey::generate().unwrap();
    let users = || -> std::sync::Arc<dyn token_auth::CredentialVerifier> {
        std::sync::Arc::new(MemoryUsers::new())
    };
    let directory = || std::sync::Arc::new(MemoryDirectory::standard());
    for config in [
        TokenConfig {
            ttl: std::time::Duration::from_secs(59),
            ..TokenConfig::default()
        },
        TokenConfig {
            service: "a\"b".into(),
            ..TokenConfig::default()
        },
        TokenConfig {
            service: String::new(),
            ..TokenConfig::default()
        },
        TokenConfig {
            realm_path: "service/token".into(),
            ..TokenConfig::default()
        },
        TokenConfig {
            external_url: Some("ftp://x".into()),
            ..TokenConfig::default()
        },
        TokenConfig {
            default_scheme: "gopher".into(),
            ..TokenConfig::default()
        },
        TokenConfig {
            login_limits: token_auth::LoginLimits {
                failures_per_account: 0,
                ..Default::default()
            },
            ..TokenConfig::default()
        },
        TokenConfig {
            login_limits: token_auth::LoginLimits {
                window: std::time::Duration::ZERO,
                ..Default::default()
            },
            ..TokenConfig::default()
        },
        TokenConfig {
            project_cache_ttl: std::time::Duration::from_secs(3600),
            ..TokenConfig::default()
        },
    ] {
        let (fresh, _) = SigningKey::generate().unwrap();
        assert!(TokenService::new(config, fresh, users(), directory()).is_err());
    }
    assert!(TokenService::new(TokenConfig::default(), key, users(), directory()).is_ok());
}
