//! Scenario `dtls`: DTLS 1.2 AES-128-GCM over connected UDP, 1400-byte datagrams on the wire
//! (1363 bytes of plaintext each), one record per datagram.
//!
//! * `af_ktls`: AF_KTLS DTLS sockets on both ends (`KTLS_DTLS_MTU` 1400);
//! * `userspace`: records sealed and opened with OpenSSL EVP, with the record layer's replay
//!   window, sent and received as datagrams;
//! * `plain`: UDP datagrams of the same plaintext, the ceiling.
//!
//! UDP drops what the receiver cannot keep up with, so the sender is paced by a window: it may
//! be at most 256 datagrams ahead of the receiver (which has a 4 MiB receive buffer), and waits
//! on a condition variable otherwise. The figure is then the record layer's speed, not the
//! drop rate; losses are still counted (datagrams sent and never received) and reported.

use super::{push_result, seed, Opts};
use crate::aead::Engine;
use crate::endpoint::Backend;
use crate::keys::Suite;
use crate::measure::Gate;
use crate::measure::{interleaved, two_sides, CpuClock, Measurement, Side, Sink};
use crate::pattern::{Pattern, Verifier};
use crate::record::{Datagram, Opener, Sealer};
use crate::sys;
use af_ktls::AfKtlsSocket;
use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

pub const MTU: usize = 1400;
const WINDOW: u64 = 256;
const RCVBUF: i32 = 4 << 20;
/// The receiver gives up on a datagram that has not come after this long (guest time).
const RECV_TIMEOUT_MS: u64 = 500;

/// Pacing between sender and receiver.
#[derive(Default)]
struct Flow {
    sent: AtomicU64,
    received: AtomicU64,
    waiting: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
    stalls: AtomicU64,
}

impl Flow {
    /// Blocks the sender while it is a window ahead; returns after a timeout in any case (a lost
    /// datagram must not stop the run).
    fn before_send(&self, index: u64) {
        if index.saturating_sub(self.received.load(Ordering::Acquire)) < WINDOW {
            return;
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.waiting.store(true, Ordering::SeqCst);
        while index.saturating_sub(self.received.load(Ordering::SeqCst)) > WINDOW / 2 {
            let (g, timeout) = self
                .cv
                .wait_timeout(guard, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner());
            guard = g;
            if timeout.timed_out() {
                self.stalls.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        self.waiting.store(false, Ordering::SeqCst);
    }

    fn after_send(&self, index: u64) {
        self.sent.store(index + 1, Ordering::Release);
    }

    fn after_receive(&self) {
        let r = self.received.fetch_add(1, Ordering::SeqCst) + 1;
        if self.waiting.load(Ordering::SeqCst)
            && self.sent.load(Ordering::SeqCst).saturating_sub(r) <= WINDOW / 2
        {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cv.notify_one();
        }
    }
}

enum End {
    AfKtls {
        sock: AfKtlsSocket,
        /// The bound UDP socket, kept open for the AF_KTLS socket's lifetime.
        _udp: UdpSocket,
    },
    User {
        sealer: Box<Sealer>,
        opener: Box<Opener>,
        udp: UdpSocket,
    },
    Plain(UdpSocket),
}

impl End {
    fn new(
        backend: Backend,
        suite: Suite,
        udp: UdpSocket,
        keys: &af_ktls::KeyMaterial,
    ) -> io::Result<Self> {
        sys::setsockopt_int(udp.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF)?;
        let timeout = Duration::from_millis(RECV_TIMEOUT_MS);
        sys::set_timeouts(udp.as_fd(), timeout)?;
        Ok(match backend {
            Backend::AfKtls => {
                let sock = AfKtlsSocket::setup(udp.as_fd(), keys)?;
                sock.set_dtls_mtu(MTU as u32)?;
                sys::set_timeouts(sock.as_fd(), timeout)?;
                End::AfKtls { sock, _udp: udp }
            }
            Backend::Userspace => End::User {
                sealer: Box::new(Sealer::new(Engine::Openssl, suite, &keys.tx)?),
                opener: Box::new(Opener::new(Engine::Openssl, suite, &keys.rx)?),
                udp,
            },
            _ => End::Plain(udp),
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            End::AfKtls { sock, .. } => sock.as_fd(),
            End::User { udp, .. } | End::Plain(udp) => udp.as_fd(),
        }
    }

    fn records(&self) -> (Option<u64>, Option<u64>) {
        match self {
            End::User { sealer, opener, .. } => (Some(sealer.records), Some(opener.records)),
            _ => (None, None),
        }
    }
}

fn sender(
    end: &mut End,
    pattern: &Pattern,
    flow: &Flow,
    verify: u64,
    total: u64,
    barrier: &Gate,
) -> Side {
    let mut side = Side::default();
    let mut buf = pattern.buffer();
    let mut wire = vec![0u8; MTU + 64];
    let mut send = |end: &mut End, i: u64, buf: &mut [u8]| -> io::Result<()> {
        pattern.stamp(buf, i);
        flow.before_send(i);
        match end {
            End::User { sealer, udp, .. } => {
                let n = sealer.seal(buf, &mut wire)?;
                sys::send(udp.as_fd(), &wire[..n], 0)?;
            }
            other => {
                sys::send(other.fd(), buf, 0)?;
            }
        }
        flow.after_send(i);
        Ok(())
    };
    for i in 0..verify {
        if let Err(e) = send(end, i, &mut buf) {
            side.error = Some(format!("send (verification pass): {e}"));
            barrier.wait();
            return side;
        }
    }
    barrier.wait();
    let records0 = end.records().0;
    let cpu = CpuClock::begin();
    side.start = Some(Instant::now());
    for i in verify..total {
        if let Err(e) = send(end, i, &mut buf) {
            side.error = Some(format!("send: {e}"));
            break;
        }
        side.syscalls += 1;
        side.bytes += buf.len() as u64;
    }
    side.cpu = cpu.elapsed();
    side.records = match (records0, end.records().0) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    side
}

/// Receives datagrams until chunk `last` arrived or nothing comes for the timeout. Returns
/// (datagrams received, time of the last one).
fn receive_until(
    end: &mut End,
    verifier: &mut Verifier,
    flow: &Flow,
    last: u64,
    next: &mut u64,
    side: &mut Side,
) -> io::Result<u64> {
    let mut buf = vec![0u8; 2048];
    let mut got = 0;
    while *next <= last {
        side.syscalls += 1;
        let n = match sys::recv(end.fd(), &mut buf, 0) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        };
        let data: &[u8] = match end {
            End::User { opener, .. } => match opener.open_dtls(&mut buf[..n]) {
                Datagram::Data(r) => &buf[r],
                Datagram::Dropped(why) => {
                    return Err(io::Error::other(format!("record dropped: {why}")))
                }
            },
            _ => &buf[..n],
        };
        flow.after_receive();
        let Some(index) = verifier.datagram_index(data) else {
            side.mismatches += 1;
            continue;
        };
        if index < *next || index > last || !verifier.datagram(data, index) {
            side.mismatches += 1;
            continue;
        }
        *next = index + 1;
        got += 1;
        side.end = Some(Instant::now());
    }
    Ok(got)
}

fn receiver(
    end: &mut End,
    pattern: &Pattern,
    opts: &Opts,
    flow: &Flow,
    verify: u64,
    total: u64,
    barrier: &Gate,
) -> (Side, u64) {
    let mut side = Side::default();
    let mut verifier = pattern.verifier(crate::pattern::Check::Full);
    let mut next = 0;
    match receive_until(end, &mut verifier, flow, verify - 1, &mut next, &mut side) {
        Ok(got) if got == verify => {}
        Ok(got) => {
            side.error = Some(format!(
                "verification pass: {got} of {verify} datagrams arrived"
            ))
        }
        Err(e) => side.error = Some(format!("receive (verification pass): {e}")),
    }
    let verify_mismatches = side.mismatches;
    barrier.wait();
    if side.error.is_some() {
        return (side, 0);
    }
    verifier.set_check(opts.timed_check);
    side.syscalls = 0;
    let records0 = end.records().1;
    let cpu = CpuClock::begin();
    side.start = Some(Instant::now());
    side.end = side.start;
    let got = match receive_until(end, &mut verifier, flow, total - 1, &mut next, &mut side) {
        Ok(got) => got,
        Err(e) => {
            side.error = Some(format!("receive: {e}"));
            0
        }
    };
    side.cpu = cpu.elapsed();
    side.bytes = got * pattern.chunk() as u64;
    side.mismatches += verify_mismatches;
    side.records = match (records0, end.records().1) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    (side, got)
}

fn measure(opts: &Opts, backend: Backend, rep: u32, datagrams: u64) -> io::Result<Measurement> {
    let suite = Suite::DTLS12_AES128;
    let (ck, sk) = suite.key_pair();
    let (c, s) = sys::udp_pair()?;
    let mut a = End::new(backend, suite, c, &ck)?;
    let mut b = End::new(backend, suite, s, &sk)?;
    let plaintext = MTU - suite.protection().overhead();
    let pattern = Pattern::new(plaintext, seed("dtls", rep, backend as u64));
    let flow = Flow::default();
    let verify = if opts.smoke { 16 } else { 64 };
    let total = verify + datagrams;
    let mut got = 0;
    let (tx, rx, before, after) = two_sides(
        |bar| sender(&mut a, &pattern, &flow, verify, total, bar),
        |bar| {
            let (side, n) = receiver(&mut b, &pattern, opts, &flow, verify, total, bar);
            got = n;
            side
        },
    );
    let mut m = Measurement::new(
        "dtls",
        &format!("{} {MTU}", suite.name()),
        backend.name(),
        rep,
    );
    m.suite = Some(suite.name());
    m.size = Some(plaintext as u64);
    m.set_counters(&before, &after);
    super::finish(&mut m, &tx, &rx, rx.bytes, opts.timed_check);
    let lost = datagrams.saturating_sub(got);
    m.loss = Some(lost);
    m.extra.insert("datagrams".into(), datagrams as f64);
    m.extra.insert(
        "sender_stalls".into(),
        flow.stalls.load(Ordering::Relaxed) as f64,
    );
    if rx.mismatches > 0 {
        m.fail(format!("{} datagrams did not match", rx.mismatches));
    }
    // A few losses are UDP's right; most of the stream must arrive or the figure means little.
    if lost * 100 > datagrams {
        m.fail(format!("{lost} of {datagrams} datagrams lost"));
    }
    Ok(m)
}

pub fn run(opts: &Opts, sink: &mut Sink) {
    let backends = [Backend::AfKtls, Backend::Userspace, Backend::Plain];
    let datagrams = opts.amount(8192, 256);
    for rep in 0..opts.reps() {
        for backend in interleaved(&backends, rep) {
            let mut fallback = Measurement::new(
                "dtls",
                &format!("dtls12-aes128gcm {MTU}"),
                backend.name(),
                rep,
            );
            fallback.metric = "MiB/s".into();
            push_result(sink, measure(opts, backend, rep, datagrams), fallback);
        }
    }
}
