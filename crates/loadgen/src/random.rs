//! Random content generated on the fly: a counter-based SplitMix64 stream, so any byte
//! range of a blob can be produced independently (a 16 MiB chunk, or a retry of one)
//! without holding the blob in memory, plus an HTTP body that streams such a range.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use sha2::{Digest as _, Sha256};

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Word `i` of the stream for `seed`; bytes `8i..8i+8` are its little-endian bytes.
#[inline]
fn word(seed: u64, i: u64) -> u64 {
    mix(seed.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA)))
}

/// Writes bytes `offset..offset + buf.len()` of the stream for `seed` into `buf`.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = offset;
    let mut out = buf;
    // Unaligned head.
    let head = (pos % 8) as usize;
    if head != 0 && !out.is_empty() {
        let w = word(seed, pos / 8).to_le_bytes();
        let n = (8 - head).min(out.len());
        out[..n].copy_from_slice(&w[head..head + n]);
        out = &mut out[n..];
        pos += n as u64;
    }
    let mut i = pos / 8;
    let mut words = out.chunks_exact_mut(8);
    for chunk in &mut words {
        chunk.copy_from_slice(&word(seed, i).to_le_bytes());
        i += 1;
    }
    let tail = words.into_remainder();
    if !tail.is_empty() {
        let w = word(seed, i).to_le_bytes();
        let n = tail.len();
        tail.copy_from_slice(&w[..n]);
    }
}

/// `len` bytes of the stream starting at `offset`, as one buffer (for small blobs).
pub fn bytes(seed: u64, offset: u64, len: usize) -> Bytes {
    let mut buf = BytesMut::zeroed(len);
    fill(seed, offset, &mut buf);
    buf.freeze()
}

/// `sha256:<hex>` of bytes `offset..offset + len` of the stream, computed in 1 MiB steps.
pub fn sha256_of(seed: u64, offset: u64, len: u64) -> String {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = offset;
    let end = offset + len;
    while pos < end {
        let n = (end - pos).min(buf.len() as u64) as usize;
        fill(seed, pos, &mut buf[..n]);
        hasher.update(&buf[..n]);
        pos += n as u64;
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// A small sequential generator for choices (layer counts, operation mix).
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// Uniform in `0..n` (`n` > 0; 0 gives 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Streams bytes `offset..offset + len` of the stream for `seed` in frames of at most
/// `frame` bytes, with an exact size hint so the request carries a `Content-Length`.
#[derive(Debug)]
pub struct RandomBody {
    seed: u64,
    pos: u64,
    end: u64,
    frame: usize,
}

/// Default frame size of [`RandomBody`].
pub const FRAME: usize = 512 * 1024;

impl RandomBody {
    pub fn new(seed: u64, offset: u64, len: u64) -> RandomBody {
        RandomBody {
            seed,
            pos: offset,
            end: offset.saturating_add(len),
            frame: FRAME,
        }
    }

    pub fn with_frame(mut self, frame: usize) -> RandomBody {
        self.frame = frame.max(1);
        self
    }

    pub fn remaining(&self) -> u64 {
        self.end - self.pos
    }
}

impl http_body::Body for RandomBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let remaining = self.remaining();
        if remaining == 0 {
            return Poll::Ready(None);
        }
        let n = remaining.min(self.frame as u64) as usize;
        let chunk = bytes(self.seed, self.pos, n);
        self.pos += n as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.end
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    fn drain(mut body: RandomBody) -> Vec<u8> {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        let mut frames = 0;
        while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
            let data = frame.into_data().unwrap();
            assert!(!data.is_empty());
            out.extend_from_slice(&data);
            frames += 1;
            assert!(frames < 1_000_000);
        }
        assert!(body.is_end_stream());
        out
    }

    #[test]
    fn body_yields_exactly_the_requested_size() {
        for (len, frame) in [
            (0u64, 7usize),
            (1, 7),
            (7, 7),
            (8, 7),
            (1000, 64),
            (65_537, 4096),
        ] {
            let body = RandomBody::new(42, 0, len).with_frame(frame);
            assert_eq!(body.size_hint().exact(), Some(len));
            assert_eq!(drain(body).len() as u64, len);
        }
        // default frame, a few MiB and an odd tail
        let len = 3 * 1024 * 1024 + 13;
        let body = RandomBody::new(1, 0, len);
        assert_eq!(body.size_hint().exact(), Some(len));
        assert_eq!(drain(body).len() as u64, len);
    }

    #[test]
    fn ranges_concatenate_to_the_whole_stream() {
        let whole = drain(RandomBody::new(9, 0, 1000).with_frame(33));
        // chunks that start at unaligned offsets
        let mut parts = Vec::new();
        for (off, len) in [(0u64, 3u64), (3, 500), (503, 1), (504, 496)] {
            parts.extend(drain(RandomBody::new(9, off, len).with_frame(10)));
        }
        assert_eq!(parts, whole);
        let mut small = [0u8; 5];
        fill(9, 501, &mut small);
        assert_eq!(&small[..], &whole[501..506]);
    }

    #[test]
    fn seeds_differ_and_content_is_not_trivial() {
        let a = bytes(1, 0, 4096);
        let b = bytes(2, 0, 4096);
        assert_ne!(a, b);
        let zeros = a.iter().filter(|&&x| x == 0).count();
        assert!(zeros < 64, "{zeros} zero bytes in 4096");
    }

    #[test]
    fn hash_matches_materialised_bytes() {
        let data = bytes(5, 10, 3 * 1024 * 1024 + 5);
        let expected = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
        assert_eq!(sha256_of(5, 10, data.len() as u64), expected);
    }

    #[test]
    fn rng_below_stays_in_range() {
        let mut r = Rng::new(3);
        let mut seen = [0u32; 3];
        for _ in 0..3000 {
            let v = r.below(3);
            assert!(v < 3);
            seen[v as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
        assert_eq!(r.below(0), 0);
    }
}
