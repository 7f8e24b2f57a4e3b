//! The deterministic data each side sends, and the running checks on what arrives.
//!
//! Each role has its own stream: byte `i` of role R is `period_R[i % PERIOD]`, where the period is
//! generated once from a fixed seed. A prime-sized period keeps the pattern from lining up with
//! record or write sizes, so a dropped, duplicated or reordered record changes the hash. Bytes are
//! printable ASCII in lines of at most 64 bytes, so that the streams pass unchanged through
//! `openssl s_client`/`gnutls-cli` stdin and stdout, and `gnutls-serv --echo` (which echoes
//! line by line) returns them.

use sha2::{Digest, Sha256};

/// Period of the pattern in bytes: a prime near 1 MiB.
pub const PERIOD: usize = 1_048_573;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Every line ends here (offset within the period).
const LINE: usize = 64;

/// Whose pattern: the client's and the server's differ, so an echo cannot pass as a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    fn seed(self) -> u64 {
        match self {
            Role::Client => 0x6b74_6c73_636c_6e74, // "ktlsclnt"
            Role::Server => 0x6b74_6c73_7372_7672, // "ktlssrvr"
        }
    }
}

/// One period of a role's pattern, plus enough of its start again that any window of up to
/// `PERIOD` bytes is one contiguous slice.
pub struct Pattern {
    doubled: Vec<u8>,
}

impl Pattern {
    pub fn new(role: Role) -> Self {
        // xorshift64*: fast, deterministic, and good enough to make every period unique.
        let mut state = role.seed();
        let mut doubled = Vec::with_capacity(2 * PERIOD);
        while doubled.len() < PERIOD {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let word = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
            for byte in word.to_le_bytes() {
                if doubled.len() < PERIOD {
                    let end_of_line = doubled.len() % LINE == LINE - 1;
                    doubled.push(if end_of_line {
                        b'\n'
                    } else {
                        ALPHABET[usize::from(byte & 63)]
                    });
                }
            }
        }
        doubled.extend_from_within(..PERIOD);
        Pattern { doubled }
    }

    /// The `len` bytes at stream offset `offset` (`len` at most [`PERIOD`]).
    pub fn slice(&self, offset: u64, len: usize) -> &[u8] {
        let start = usize::try_from(offset % PERIOD as u64).unwrap_or(0);
        &self.doubled[start..start + len.min(PERIOD)]
    }

    /// SHA-256 of the first `size` bytes of the stream.
    pub fn sha256(&self, size: u64) -> [u8; 32] {
        let mut hasher = Sha256::new();
        let mut offset = 0u64;
        while offset < size {
            let len = usize::try_from((size - offset).min(PERIOD as u64)).unwrap_or(PERIOD);
            hasher.update(self.slice(offset, len));
            offset += len as u64;
        }
        hasher.finalize().into()
    }

    /// Writes the first `size` bytes of the stream (for feeding other programs).
    pub fn write_to(&self, size: u64, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut offset = 0u64;
        while offset < size {
            let len = usize::try_from((size - offset).min(PERIOD as u64)).unwrap_or(PERIOD);
            out.write_all(self.slice(offset, len))?;
            offset += len as u64;
        }
        out.flush()
    }
}

/// Hashes what was sent.
pub struct SentStream {
    hasher: Sha256,
    pub bytes: u64,
}

impl SentStream {
    pub fn new() -> Self {
        SentStream {
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    pub fn record(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
    }

    pub fn sha256(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

impl Default for SentStream {
    fn default() -> Self {
        Self::new()
    }
}

/// Hashes what arrived and compares it, byte for byte, with the expected stream as it comes in,
/// remembering the first difference.
pub struct ReceivedStream<'a> {
    expected: &'a Pattern,
    expected_len: u64,
    hasher: Sha256,
    pub bytes: u64,
    pub first_mismatch: Option<u64>,
}

impl<'a> ReceivedStream<'a> {
    pub fn new(expected: &'a Pattern, expected_len: u64) -> Self {
        ReceivedStream {
            expected,
            expected_len,
            hasher: Sha256::new(),
            bytes: 0,
            first_mismatch: None,
        }
    }

    pub fn record(&mut self, data: &[u8]) {
        self.hasher.update(data);
        if self.first_mismatch.is_none() {
            let mut checked = 0usize;
            while checked < data.len() {
                let len = (data.len() - checked).min(PERIOD);
                let want = self.expected.slice(self.bytes + checked as u64, len);
                let got = &data[checked..checked + len];
                if want != got {
                    let at = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(0);
                    self.first_mismatch = Some(self.bytes + (checked + at) as u64);
                    break;
                }
                checked += len;
            }
            if self.first_mismatch.is_none() && self.bytes + data.len() as u64 > self.expected_len {
                self.first_mismatch = Some(self.expected_len);
            }
        }
        self.bytes += data.len() as u64;
    }

    pub fn complete(&self) -> bool {
        self.bytes >= self.expected_len
    }

    pub fn remaining(&self) -> u64 {
        self.expected_len.saturating_sub(self.bytes)
    }

    pub fn sha256(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_role_and_wrap_around() {
        let client = Pattern::new(Role::Client);
        let server = Pattern::new(Role::Server);
        assert_ne!(client.slice(0, 64), server.slice(0, 64));
        assert_eq!(client.slice(PERIOD as u64, 100), client.slice(0, 100));
        assert_eq!(
            client.slice(PERIOD as u64 - 10, 20)[10..],
            client.slice(0, 10)[..]
        );
        assert!(client
            .slice(0, PERIOD)
            .iter()
            .all(|b| ALPHABET.contains(b) || *b == b'\n'));
        assert!(client
            .slice(0, PERIOD)
            .split(|b| *b == b'\n')
            .all(|line| line.len() < LINE));
    }

    #[test]
    fn received_stream_detects_a_changed_byte_and_extra_data() {
        let pattern = Pattern::new(Role::Server);
        let mut data = pattern.slice(0, 5000).to_vec();
        let mut ok = ReceivedStream::new(&pattern, 5000);
        for chunk in data.chunks(333) {
            ok.record(chunk);
        }
        assert!(ok.complete());
        assert_eq!(ok.first_mismatch, None);
        assert_eq!(ok.sha256(), pattern.sha256(5000));

        data[4321] ^= 1;
        let mut bad = ReceivedStream::new(&pattern, 5000);
        bad.record(&data);
        assert_eq!(bad.first_mismatch, Some(4321));

        let mut long = ReceivedStream::new(&pattern, 10);
        long.record(pattern.slice(0, 11));
        assert_eq!(long.first_mismatch, Some(10));
    }

    #[test]
    fn sha256_matches_written_stream() {
        let pattern = Pattern::new(Role::Client);
        let size = PERIOD as u64 + 12345;
        let mut out = Vec::new();
        pattern.write_to(size, &mut out).expect("write to memory");
        assert_eq!(out.len() as u64, size);
        let digest: [u8; 32] = Sha256::digest(&out).into();
        assert_eq!(digest, pattern.sha256(size));
    }
}
