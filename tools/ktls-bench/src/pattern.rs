//! The data every scenario moves, and the check of what arrived.
//!
//! The stream is a sequence of chunks of `chunk` bytes (one send call each, or one datagram):
//! chunk `i` is a fixed pseudo-random block whose first 8 bytes are replaced by `i ^ seed`
//! (little endian). The generator is free: the sender writes the counter into its buffer and
//! sends it. The receiver knows every byte it should get:
//!
//! * `Full` compares every byte (the verification pass of each measurement);
//! * `Sparse` compares each chunk's counter and an 8-byte sample from its middle (the timed
//!   pass: it catches lost, repeated, reordered and stale chunks for a few instructions per
//!   chunk, and the AEAD tag already covers the bytes between).

use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Full,
    Sparse,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::Full => "full",
            Check::Sparse => "sparse",
        }
    }
}

/// The fixed block and the chunk size.
#[derive(Clone, Debug)]
pub struct Pattern {
    block: Arc<Vec<u8>>,
    seed: u64,
}

pub const COUNTER_LEN: usize = 8;

impl Pattern {
    /// A pattern of `chunk`-byte chunks (at least [`COUNTER_LEN`]).
    pub fn new(chunk: usize, seed: u64) -> Self {
        let chunk = chunk.max(COUNTER_LEN);
        let mut block = Vec::with_capacity(chunk);
        // xorshift64*: cheap, and no two chunks of the block look alike.
        let mut x = seed | 1;
        while block.len() < chunk {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
            let take = (chunk - block.len()).min(8);
            block.extend_from_slice(&v.to_le_bytes()[..take]);
        }
        Pattern {
            block: Arc::new(block),
            seed,
        }
    }

    pub fn chunk(&self) -> usize {
        self.block.len()
    }

    pub fn counter(&self, index: u64) -> [u8; COUNTER_LEN] {
        (index ^ self.seed).to_le_bytes()
    }

    /// A buffer holding chunk 0; [`Pattern::stamp`] turns it into any other chunk.
    pub fn buffer(&self) -> Vec<u8> {
        let mut buf = self.block.to_vec();
        self.stamp(&mut buf, 0);
        buf
    }

    /// Writes chunk `index`'s counter into `buf` (a buffer from [`Pattern::buffer`]).
    pub fn stamp(&self, buf: &mut [u8], index: u64) {
        buf[..COUNTER_LEN].copy_from_slice(&self.counter(index));
    }

    /// Bytes `offset..offset + out.len()` of the stream (used to fill files).
    pub fn fill(&self, offset: u64, out: &mut [u8]) {
        let chunk = self.chunk() as u64;
        let mut pos = 0;
        while pos < out.len() {
            let at = offset + pos as u64;
            let (index, within) = (at / chunk, (at % chunk) as usize);
            let n = (self.chunk() - within).min(out.len() - pos);
            out[pos..pos + n].copy_from_slice(&self.block[within..within + n]);
            let counter = self.counter(index);
            for j in within..(within + n).min(COUNTER_LEN) {
                out[pos + j - within] = counter[j];
            }
            pos += n;
        }
    }

    /// The check of a stream of this pattern.
    pub fn verifier(&self, check: Check) -> Verifier {
        Verifier {
            pattern: self.clone(),
            check,
            offset: 0,
            mismatches: 0,
            work_rounds: 0,
            digest: 0,
        }
    }
}

/// Checks a stream as it arrives, in pieces of any size.
#[derive(Debug)]
pub struct Verifier {
    pattern: Pattern,
    check: Check,
    offset: u64,
    mismatches: u64,
    /// Passes of [`application_work`] over every buffer fed, after it is checked.
    work_rounds: u32,
    /// What the work computed (kept, and `black_box`ed, so that it is not optimised away).
    digest: u64,
}

/// Stands for what an application does with the data it receives: FNV-1a over `data`, byte by
/// byte (about as many instructions per byte as AES-GCM costs the kernel), folded into `digest`.
pub fn application_work(digest: u64, data: &[u8]) -> u64 {
    let mut h = digest ^ 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

impl Verifier {
    /// Makes every later [`Self::feed`] also do `rounds` passes of [`application_work`].
    pub fn set_work(&mut self, rounds: u32) {
        self.work_rounds = rounds;
    }

    /// Checks `data`, the next bytes of the stream.
    pub fn feed(&mut self, data: &[u8]) {
        let chunk = self.pattern.chunk();
        let mut pos = 0;
        while pos < data.len() {
            let at = self.offset + pos as u64;
            let index = at / chunk as u64;
            let within = (at % chunk as u64) as usize;
            let n = (chunk - within).min(data.len() - pos);
            let piece = &data[pos..pos + n];
            let counter = self.pattern.counter(index);
            // The counter bytes this piece covers.
            for j in within..(within + n).min(COUNTER_LEN) {
                if piece[j - within] != counter[j] {
                    self.mismatches += 1;
                }
            }
            let block = &self.pattern.block[..];
            match self.check {
                Check::Full => {
                    let from = within.max(COUNTER_LEN);
                    if from < within + n && piece[from - within..] != block[from..within + n] {
                        self.mismatches += 1;
                    }
                }
                Check::Sparse => {
                    let mid = (chunk / 2).max(COUNTER_LEN);
                    let end = (mid + COUNTER_LEN).min(chunk);
                    if within <= mid
                        && end <= within + n
                        && piece[mid - within..end - within] != block[mid..end]
                    {
                        self.mismatches += 1;
                    }
                }
            }
            pos += n;
        }
        self.offset += data.len() as u64;
        for _ in 0..self.work_rounds {
            self.digest = std::hint::black_box(application_work(self.digest, data));
        }
    }

    /// Checks one datagram that should be chunk `index` whole; returns false if it is not.
    pub fn datagram(&mut self, data: &[u8], index: u64) -> bool {
        let before = self.mismatches;
        if data.len() != self.pattern.chunk() {
            self.mismatches += 1;
            return false;
        }
        self.offset = index * self.pattern.chunk() as u64;
        self.feed(data);
        self.mismatches == before
    }

    /// The chunk index a datagram claims by its counter.
    pub fn datagram_index(&self, data: &[u8]) -> Option<u64> {
        let counter: [u8; COUNTER_LEN] = data.get(..COUNTER_LEN)?.try_into().ok()?;
        Some(u64::from_le_bytes(counter) ^ self.pattern.seed)
    }

    pub fn bytes(&self) -> u64 {
        self.offset
    }

    pub fn mismatches(&self) -> u64 {
        self.mismatches
    }

    pub fn check(&self) -> Check {
        self.check
    }

    /// Changes how the following bytes are checked (full for a verification pass).
    pub fn set_check(&mut self, check: Check) {
        self.check = check;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(p: &Pattern, chunks: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = p.buffer();
        for i in 0..chunks {
            p.stamp(&mut buf, i);
            out.extend_from_slice(&buf);
        }
        out
    }

    #[test]
    fn fill_matches_the_sender() {
        let p = Pattern::new(100, 7);
        let s = stream(&p, 5);
        let mut filled = vec![0u8; s.len() - 13];
        p.fill(13, &mut filled);
        assert_eq!(&s[13..], &filled[..]);
    }

    #[test]
    fn any_split_verifies() {
        let p = Pattern::new(1000, 3);
        let s = stream(&p, 7);
        for check in [Check::Full, Check::Sparse] {
            for piece in [1, 7, 8, 999, 1000, 1001, 4096] {
                let mut v = p.verifier(check);
                for part in s.chunks(piece) {
                    v.feed(part);
                }
                assert_eq!(v.mismatches(), 0, "{check:?} piece {piece}");
                assert_eq!(v.bytes(), s.len() as u64);
            }
        }
    }

    #[test]
    fn corruption_is_caught() {
        let p = Pattern::new(1000, 3);
        let s = stream(&p, 4);
        // A flipped byte in the body: only the full check sees it.
        let mut bad = s.clone();
        bad[1234] ^= 1;
        let mut v = p.verifier(Check::Full);
        v.feed(&bad);
        assert!(v.mismatches() > 0);
        // A repeated chunk (stale buffer): both see it.
        let mut repeated = s[..1000].to_vec();
        repeated.extend_from_slice(&s[..1000]);
        for check in [Check::Full, Check::Sparse] {
            let mut v = p.verifier(check);
            v.feed(&repeated);
            assert!(v.mismatches() > 0, "{check:?}");
        }
        // Zeros where data should be: the sparse sample sees it.
        let mut zeros = s.clone();
        zeros[1000..2000].fill(0);
        let mut v = p.verifier(Check::Sparse);
        v.feed(&zeros);
        assert!(v.mismatches() > 0);
    }

    #[test]
    fn datagrams() {
        let p = Pattern::new(64, 9);
        let mut buf = p.buffer();
        p.stamp(&mut buf, 5);
        let mut v = p.verifier(Check::Full);
        assert_eq!(v.datagram_index(&buf), Some(5));
        assert!(v.datagram(&buf, 5));
        assert!(!v.datagram(&buf, 6));
        assert!(!v.datagram(&buf[..10], 5));
    }
}
