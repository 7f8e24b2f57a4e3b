//! One end of a TLS connection, whichever backend moves its records: the same `send` / `recv`
//! interface over AF_KTLS, mainline kernel TLS, userspace records and plain TCP.

use crate::aead::Engine;
use crate::keys::Suite;
use crate::pattern::Pattern;
use crate::record::{Opener, Sealer};
use crate::sys;
use af_ktls::{AfKtlsSocket, Direction, KeyMaterial};
use ktls_record::protection::MAX_PLAINTEXT_LEN;
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};

/// Who frames and protects the records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An AF_KTLS socket bound to the TCP (or UDP) socket.
    AfKtls,
    /// The same with decrypt-ahead off: records are opened only inside `recv`.
    AfKtlsInline,
    /// Mainline kernel TLS (`TCP_ULP "tls"`).
    Ulp,
    /// Mainline kernel TLS with `TLS_TX_ZEROCOPY_RO` set (sendfile only).
    UlpZc,
    /// Records in userspace with OpenSSL EVP.
    Userspace,
    /// Records in userspace with ring (rustls's crypto).
    UserspaceRing,
    /// A sender only: userspace (OpenSSL) records sealed before the timed pass, which then only
    /// sends them, so the sending CPU is nearly idle (`Endpoint::preseal`).
    Presealed,
    /// No TLS at all: the ceiling of the socket part.
    Plain,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::AfKtls => "af_ktls",
            Backend::AfKtlsInline => "af_ktls-inline",
            Backend::Ulp => "ulp",
            Backend::UlpZc => "ulp-zc",
            Backend::Userspace => "userspace",
            Backend::UserspaceRing => "userspace-ring",
            Backend::Presealed => "presealed",
            Backend::Plain => "plain",
        }
    }

    pub fn engine(self) -> Engine {
        match self {
            Backend::UserspaceRing => Engine::Ring,
            _ => Engine::Openssl,
        }
    }
}

/// `SOL_TLS` option of mainline: zero-copy sendfile (honoured only with device offload).
const TLS_TX_ZEROCOPY_RO: libc::c_int = 3;

enum Kind {
    AfKtls(AfKtlsSocket),
    Ulp,
    User {
        sealer: Box<Sealer>,
        opener: Box<Opener>,
        /// Sealed records waiting to be sent (one call's worth).
        out: Vec<u8>,
        /// Received ciphertext: `start..end` is not yet consumed.
        inbuf: Vec<u8>,
        start: usize,
        end: usize,
        /// Bytes asked for per recv.
        read_size: usize,
        /// `Backend::Presealed`: the records of the timed pass, once sealed.
        presealed: Option<Presealed>,
    },
    Plain,
}

/// Records sealed ahead of the timed pass: `calls[i]` is where call `i`'s records end in `wire`
/// and how many there are.
struct Presealed {
    wire: Vec<u8>,
    calls: Vec<(usize, u64)>,
    next: usize,
    /// Records sealed but not sent yet (`records` counts only those sent).
    unsent_records: u64,
}

/// One end of a connection.
pub struct Endpoint {
    // Declared (and dropped) after `kind`: the AF_KTLS socket goes first.
    kind: Kind,
    tcp: TcpStream,
    /// Plaintext receive buffer of the kernel backends.
    buf: Vec<u8>,
    pub syscalls: u64,
    suite: Suite,
    backend: Backend,
}

impl Endpoint {
    /// Sets up `backend` on the connected `tcp` with `keys`. `max_call` is the largest plaintext
    /// one `send` will be given; `rx_size` the bytes asked for per receive call.
    pub fn new(
        backend: Backend,
        suite: Suite,
        tcp: TcpStream,
        keys: &KeyMaterial,
        max_call: usize,
        rx_size: usize,
    ) -> io::Result<Self> {
        let kind = match backend {
            Backend::AfKtls => Kind::AfKtls(AfKtlsSocket::setup(tcp.as_fd(), keys)?),
            Backend::AfKtlsInline => {
                // No data moves before both ends are set up, so nothing was opened ahead yet.
                let sock = AfKtlsSocket::setup(tcp.as_fd(), keys)?;
                sock.set_decrypt_ahead(false)?;
                Kind::AfKtls(sock)
            }
            Backend::Ulp | Backend::UlpZc => {
                af_ktls::ulp::setup(tcp.as_fd(), keys)?;
                if backend == Backend::UlpZc {
                    sys::setsockopt_int(
                        tcp.as_fd(),
                        af_ktls::uapi::mainline::SOL_TLS,
                        TLS_TX_ZEROCOPY_RO,
                        1,
                    )?;
                }
                Kind::Ulp
            }
            Backend::Userspace | Backend::UserspaceRing | Backend::Presealed => {
                let engine = backend.engine();
                let sealer = Sealer::new(engine, suite, &keys.tx)?;
                let opener = Opener::new(engine, suite, &keys.rx)?;
                let records = max_call.div_ceil(MAX_PLAINTEXT_LEN).max(1);
                let wire_record = MAX_PLAINTEXT_LEN + sealer.overhead();
                Kind::User {
                    out: vec![0; max_call + records * sealer.overhead()],
                    inbuf: vec![0; rx_size.max(wire_record) + 2 * wire_record],
                    sealer: Box::new(sealer),
                    opener: Box::new(opener),
                    start: 0,
                    end: 0,
                    read_size: rx_size.max(wire_record),
                    presealed: None,
                }
            }
            Backend::Plain => Kind::Plain,
        };
        let buf = match kind {
            Kind::User { .. } => Vec::new(),
            _ => vec![0; rx_size],
        };
        Ok(Endpoint {
            kind,
            tcp,
            buf,
            syscalls: 0,
            suite,
            backend,
        })
    }

    /// `Backend::Presealed`: seals the records of calls `first..first + calls` of `pattern` now,
    /// so that the timed pass only sends them. Nothing for the other backends.
    pub fn preseal(&mut self, pattern: &Pattern, first: u64, calls: u64) -> io::Result<()> {
        if self.backend != Backend::Presealed {
            return Ok(());
        }
        let Kind::User {
            sealer,
            out,
            presealed,
            ..
        } = &mut self.kind
        else {
            return Ok(());
        };
        let mut buf = pattern.buffer();
        let mut wire = Vec::new();
        let mut ends = Vec::new();
        let records_before = sealer.records;
        for i in first..first + calls {
            pattern.stamp(&mut buf, i);
            let records = sealer.records;
            let n = sealer.seal_all(&buf, MAX_PLAINTEXT_LEN, out)?;
            wire.extend_from_slice(&out[..n]);
            ends.push((wire.len(), sealer.records - records));
        }
        *presealed = Some(Presealed {
            wire,
            calls: ends,
            next: 0,
            unsent_records: sealer.records - records_before,
        });
        Ok(())
    }

    /// The descriptor plaintext goes through (`sendfile`, `splice`): the AF_KTLS socket, or the
    /// TCP socket itself for mainline and plain. Userspace has none (records go through TCP).
    pub fn data_fd(&self) -> BorrowedFd<'_> {
        match &self.kind {
            Kind::AfKtls(sock) => sock.as_fd(),
            _ => self.tcp.as_fd(),
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Receive and send timeouts on the TCP socket and on the AF_KTLS socket.
    pub fn set_timeouts(&self, secs: u64) -> io::Result<()> {
        let timeout = std::time::Duration::from_secs(secs);
        sys::set_timeouts(self.tcp.as_fd(), timeout)?;
        if let Kind::AfKtls(sock) = &self.kind {
            sys::set_timeouts(sock.as_fd(), timeout)?;
        }
        Ok(())
    }

    /// Ends the TCP connection at once (after a failure, so the peer stops waiting).
    pub fn abort(&self) {
        let _ = self.tcp.shutdown(std::net::Shutdown::Both);
    }

    /// Sends all of `data` (userspace: as records of at most 16 KiB, in one `send`; presealed,
    /// after `preseal`: the next call's records, sealed there from the same pattern call).
    pub fn send(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.kind {
            Kind::User {
                presealed: Some(p), ..
            } => {
                // The records of this call were sealed from the same pattern call (the receiver
                // checks what arrives).
                let start = match p.next {
                    0 => 0,
                    i => p.calls[i - 1].0,
                };
                let Some(&(end, records)) = p.calls.get(p.next) else {
                    return Err(io::Error::other("more calls than were presealed"));
                };
                self.syscalls += sys::send_all(self.tcp.as_fd(), &p.wire[start..end], 0)?;
                p.next += 1;
                p.unsent_records -= records;
            }
            Kind::User { sealer, out, .. } => {
                let n = sealer.seal_all(data, MAX_PLAINTEXT_LEN, out)?;
                self.syscalls += sys::send_all(self.tcp.as_fd(), &out[..n], 0)?;
            }
            Kind::AfKtls(sock) => {
                self.syscalls += sys::send_all(sock.as_fd(), data, 0)?;
            }
            Kind::Ulp | Kind::Plain => {
                self.syscalls += sys::send_all(self.tcp.as_fd(), data, 0)?;
            }
        }
        Ok(())
    }

    /// Receives the next plaintext: one call's worth for the kernel backends, one record for
    /// userspace. Empty at the end of the stream.
    pub fn recv(&mut self) -> io::Result<&[u8]> {
        match &mut self.kind {
            Kind::User {
                opener,
                inbuf,
                start,
                end,
                read_size,
                ..
            } => {
                let (at, range) = loop {
                    if let Some(len) = opener.record_len(&inbuf[*start..*end])? {
                        if *end - *start >= len {
                            let at = *start;
                            let range = opener.open_tls(&mut inbuf[at..at + len])?;
                            *start += len;
                            break (at, range);
                        }
                    }
                    // Room for a whole read: move the partial record to the front when the
                    // tail runs short (at most one record's bytes, once per read).
                    if inbuf.len() - *end < *read_size {
                        inbuf.copy_within(*start..*end, 0);
                        *end -= *start;
                        *start = 0;
                    }
                    let room = (*read_size).min(inbuf.len() - *end);
                    self.syscalls += 1;
                    let n = sys::recv(self.tcp.as_fd(), &mut inbuf[*end..*end + room], 0)?;
                    if n == 0 {
                        if *end == *start {
                            return Ok(&[]);
                        }
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "stream ended inside a record",
                        ));
                    }
                    *end += n;
                };
                Ok(&inbuf[at + range.start..at + range.end])
            }
            Kind::AfKtls(sock) => {
                self.syscalls += 1;
                let n = sys::recv(sock.as_fd(), &mut self.buf, 0)?;
                Ok(&self.buf[..n])
            }
            Kind::Ulp | Kind::Plain => {
                self.syscalls += 1;
                let n = sys::recv(self.tcp.as_fd(), &mut self.buf, 0)?;
                Ok(&self.buf[..n])
            }
        }
    }

    /// Records this end has sent and received, when the backend itself can tell: userspace
    /// counts them, mainline reports its sequence numbers. AF_KTLS's come from its counters.
    pub fn records(&self) -> (Option<u64>, Option<u64>) {
        match &self.kind {
            Kind::User {
                sealer,
                opener,
                presealed,
                ..
            } => {
                let unsent = presealed.as_ref().map_or(0, |p| p.unsent_records);
                (Some(sealer.records - unsent), Some(opener.records))
            }
            Kind::Ulp => {
                let seq = |d| {
                    af_ktls::ulp::crypto_info(self.tcp.as_fd(), d, self.suite.cipher)
                        .ok()
                        .map(|i| i.rec_seq())
                };
                (seq(Direction::Tx), seq(Direction::Rx))
            }
            _ => (None, None),
        }
    }
}
