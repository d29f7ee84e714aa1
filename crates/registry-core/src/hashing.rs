//! A sha256 whose running state can be saved with an upload session and restored on
//! another process, so a chunked upload can continue on any replica without re-reading
//! what was already staged.

use sha2::Sha256;
use sha2::digest::Digest as _;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};

use crate::digest::Digest;

#[derive(Clone, Default)]
pub struct UploadHasher {
    inner: Sha256,
}

impl UploadHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
    }

    /// The digest of everything hashed so far (does not consume the state).
    pub fn digest(&self) -> Digest {
        Digest::from_sha256(self.inner.clone().finalize().as_slice())
    }

    /// The state as bytes, to persist with the upload session.
    pub fn save(&self) -> Vec<u8> {
        self.inner.serialize().to_vec()
    }

    /// Restores a state saved by [`save`](Self::save); `None` if the bytes are not one.
    pub fn restore(saved: &[u8]) -> Option<Self> {
        let state = SerializedState::<Sha256>::try_from(saved).ok()?;
        Sha256::deserialize(&state).ok().map(|inner| Self { inner })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_continues_the_same_digest() {
        let mut a = UploadHasher::new();
        a.update(b"hello ");
        let saved = a.save();
        let mut b = UploadHasher::restore(&saved).unwrap();
        b.update(b"world");
        assert_eq!(b.digest(), Digest::of(b"hello world"));
        assert!(UploadHasher::restore(b"garbage").is_none());
    }
}
