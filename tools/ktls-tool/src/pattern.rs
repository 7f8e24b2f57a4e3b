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

/// First bytes that OpenSSL's `s_client` and `s_server` take as commands when a read of their
/// stdin starts with them (Q, q quit; R, r renegotiate; K, k update keys; c, P, S in s_server).
const COMMAND_LETTERS: &[u8] = b"QqRrKkcPS";

/// Largest paced write: `gnutls-cli` reads its stdin 4095 bytes at a time (OpenSSL 16 KiB), and
/// a pipe write of at most `PIPE_BUF` (4096) bytes reaches the reader whole.
pub const PACED_CHUNK: usize = 4000;

/// One write of [`Pattern::paced_writes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacedWrite {
    /// Pattern bytes `offset..offset + len`.
    Data { offset: u64, len: usize },
    /// The command line.
    Command,
}

impl Pattern {
    /// The writes that feed `size` bytes of the pattern to a command line tool that takes
    /// commands on its stdin (OpenSSL's `K`, `gnutls-cli --inline-commands`'s `^rekey^`), with a
    /// command after every `every` bytes (at the first byte from there on that no OpenSSL command
    /// letter is). Written one at a time, each after the reader took the one before, every read of
    /// the tool gets exactly one write: data writes of at most [`PACED_CHUNK`] bytes, none starting
    /// with a command letter, and each command alone.
    pub fn paced_writes(&self, size: u64, every: u64) -> Vec<PacedWrite> {
        let allowed = |at: u64| !COMMAND_LETTERS.contains(&self.slice(at, 1)[0]);
        let command_at = |from: u64| {
            let mut at = from;
            while at < size && !allowed(at) {
                at += 1;
            }
            at
        };
        let mut writes = Vec::new();
        let mut offset = 0u64;
        let mut multiple = every.max(1);
        let mut next_command = command_at(multiple);
        while offset < size {
            if offset == next_command {
                writes.push(PacedWrite::Command);
                multiple = multiple.saturating_add(every.max(1));
                next_command = command_at(multiple.max(offset + 1));
            }
            let limit = size.min(next_command);
            let mut end = limit.min(offset + PACED_CHUNK as u64);
            if end < limit {
                // The next data write starts at `end`: back to a byte that no command letter is
                // (the pattern has a newline every 64 bytes).
                while end > offset + 1 && !allowed(end) {
                    end -= 1;
                }
            }
            let len = usize::try_from(end - offset).unwrap_or(PACED_CHUNK);
            writes.push(PacedWrite::Data { offset, len });
            offset = end;
        }
        writes
    }
}

/// Bytes written to the pipe `fd` that its reader has not taken yet; `None` if `fd` is no pipe.
fn unread_in_pipe(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<Option<usize>> {
    use std::os::fd::AsRawFd;
    // SAFETY: fstat writes one `struct stat` into `st`, which is valid for it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open for the call and `st` is a valid out pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Ok(None);
    }
    let mut unread: libc::c_int = 0;
    // SAFETY: FIONREAD on a pipe (either end) writes one int, the bytes queued in it.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut unread) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Some(usize::try_from(unread).unwrap_or(0)))
}

/// Writes [`Pattern::paced_writes`] to stdout with `command` and a newline as each command:
/// when stdout is a pipe, each write waits until the reader took everything before it. Returns
/// how many commands were written.
pub fn write_paced(
    pattern: &Pattern,
    size: u64,
    command: &str,
    every: u64,
) -> std::io::Result<u64> {
    use std::io::Write;
    use std::os::fd::AsFd;
    // A file on the same descriptor: one write(2) per write (stdout's own buffer would split
    // writes at newlines).
    let mut out = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    let line = format!("{command}\n");
    let mut commands = 0;
    for write in pattern.paced_writes(size, every) {
        while unread_in_pipe(out.as_fd())?.unwrap_or(0) > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        match write {
            PacedWrite::Data { offset, len } => out.write_all(pattern.slice(offset, len))?,
            PacedWrite::Command => {
                out.write_all(line.as_bytes())?;
                commands += 1;
            }
        }
        out.flush()?;
    }
    Ok(commands)
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

    #[test]
    fn paced_writes_cover_the_pattern_with_commands_between() {
        for role in [Role::Client, Role::Server] {
            let pattern = Pattern::new(role);
            let size = 300_000u64;
            let every = 32 * 1024;
            let writes = pattern.paced_writes(size, every);
            let mut next = 0u64;
            let mut commands = Vec::new();
            let mut after_command = false;
            for write in &writes {
                match *write {
                    PacedWrite::Data { offset, len } => {
                        assert_eq!(offset, next, "contiguous");
                        assert!(len > 0 && len <= PACED_CHUNK);
                        let first = pattern.slice(offset, 1)[0];
                        assert!(!COMMAND_LETTERS.contains(&first), "at {offset}");
                        next += len as u64;
                        after_command = false;
                    }
                    PacedWrite::Command => {
                        assert!(!after_command, "one command at a time");
                        commands.push(next);
                        after_command = true;
                    }
                }
            }
            assert_eq!(next, size);
            // One command per multiple of `every` below `size`, each at or just after it.
            assert_eq!(commands.len() as u64, (size - 1) / every);
            for (i, at) in commands.iter().enumerate() {
                let multiple = (i as u64 + 1) * every;
                assert!(
                    (multiple..multiple + 64).contains(at),
                    "{at} for {multiple}"
                );
            }
            assert_eq!(
                writes.last().map(|w| *w == PacedWrite::Command),
                Some(false)
            );
        }
    }
}
