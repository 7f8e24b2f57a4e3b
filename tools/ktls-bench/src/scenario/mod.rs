//! The scenarios, and what they share: options, connection set-up, the sending and receiving
//! halves of a transfer and their timing.

pub mod ahead;
pub mod ceiling;
pub mod dtls;
pub mod pingpong;
pub mod sendfile;
pub mod setup;
pub mod splice;
pub mod stream;

use crate::endpoint::{Backend, Endpoint};
use crate::keys::Suite;
use crate::measure::Gate;
use crate::measure::{CpuClock, Measurement, Side, Sink};
use crate::pattern::{Check, Pattern, Verifier};
use crate::sys;
use std::io;
use std::time::Instant;

/// Every scenario, in the order a full run takes them.
pub const ALL: [&str; 8] = [
    "ceiling", "stream", "sendfile", "splice", "dtls", "pingpong", "ahead", "setup",
];

/// Bytes the plaintext receive calls of the kernel backends ask for (userspace reads this much
/// ciphertext per call).
pub const RX_SIZE: usize = 64 * 1024;

/// A measurement whose data stops moving for this many (guest) seconds fails instead of
/// hanging the run.
pub const TIMEOUT_SECS: u64 = 30;

#[derive(Clone, Debug)]
pub struct Opts {
    /// Tiny sizes, one repetition: checks that every backend moves correct data, nothing more.
    pub smoke: bool,
    pub reps: u32,
    /// Multiplies every default amount of data (and of round trips, set-ups...).
    pub scale: f64,
    /// How the timed pass is checked (the verification pass always compares every byte).
    pub timed_check: Check,
    /// A tmpfs directory for the sendfile scenario's file.
    pub tmpdir: String,
    /// The ceiling module's control file.
    pub aead_proc: String,
    /// Also run the ring (rustls crypto) userspace rows of the stream scenario.
    pub ring: bool,
    /// Plaintext bytes per send call in the stream scenario.
    pub sizes: Vec<usize>,
}

impl Opts {
    /// `full` scaled, or a small fixed amount in a smoke run.
    pub fn amount(&self, full: u64, smoke: u64) -> u64 {
        if self.smoke {
            smoke
        } else {
            ((full as f64 * self.scale) as u64).max(1)
        }
    }

    pub fn reps(&self) -> u32 {
        if self.smoke {
            1
        } else {
            self.reps.max(1)
        }
    }

    /// Bytes of the fully compared verification pass before a timed pass of `size`-byte calls.
    pub fn verify_bytes(&self, size: usize) -> u64 {
        let records = if self.smoke { 3 } else { 8 };
        (size as u64 * records).max(64 * 1024)
    }
}

/// A fresh seed per connection, so no two measurements move the same bytes.
pub fn seed(scenario: &str, rep: u32, n: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scenario.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h ^ (u64::from(rep) << 32) ^ n
}

/// A TCP connection with `tx` on the client end and `rx` on the server end.
pub fn connect(
    suite: Suite,
    tx: Backend,
    rx: Backend,
    max_call: usize,
) -> io::Result<(Endpoint, Endpoint)> {
    let (c, s) = sys::tcp_pair()?;
    let (ck, sk) = suite.key_pair();
    let a = Endpoint::new(tx, suite, c, &ck, max_call, RX_SIZE)?;
    let b = Endpoint::new(rx, suite, s, &sk, max_call, RX_SIZE)?;
    a.set_timeouts(TIMEOUT_SECS)?;
    b.set_timeouts(TIMEOUT_SECS)?;
    Ok((a, b))
}

/// The sending half: `verify_calls` calls of the pattern, the barrier, then `timed_calls` more,
/// timed. Each call is one chunk of the pattern; a `presealed` sender seals the timed calls'
/// records before the barrier.
pub fn send_chunks(
    ep: &mut Endpoint,
    pattern: &Pattern,
    verify_calls: u64,
    timed_calls: u64,
    barrier: &Gate,
) -> Side {
    let mut side = Side::default();
    let mut buf = pattern.buffer();
    let prepared = (0..verify_calls)
        .try_for_each(|i| {
            pattern.stamp(&mut buf, i);
            ep.send(&buf)
        })
        .map_err(|e| format!("send (verification pass): {e}"))
        .and_then(|()| {
            ep.preseal(pattern, verify_calls, timed_calls)
                .map_err(|e| format!("sealing ahead of the timed pass: {e}"))
        });
    if let Err(e) = prepared {
        side.error = Some(e);
        ep.abort();
        barrier.wait();
        return side;
    }
    barrier.wait();
    let records0 = ep.records().0;
    let syscalls0 = ep.syscalls;
    let cpu = CpuClock::begin();
    side.start = Some(Instant::now());
    for i in verify_calls..verify_calls + timed_calls {
        pattern.stamp(&mut buf, i);
        if let Err(e) = ep.send(&buf) {
            side.error = Some(format!("send: {e}"));
            ep.abort();
            break;
        }
        side.bytes += buf.len() as u64;
    }
    side.end = Some(Instant::now());
    side.cpu = cpu.elapsed();
    side.syscalls = ep.syscalls - syscalls0;
    side.records = match (records0, ep.records().0) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    side
}

/// The receiving half: `verify` bytes compared in full, the barrier, then `timed` bytes checked
/// with `verifier`'s check; the receiver stamps the end of the timed pass.
pub fn receive(
    ep: &mut Endpoint,
    mut verifier: Verifier,
    verify: u64,
    timed: u64,
    barrier: &Gate,
) -> Side {
    let mut side = Side::default();
    let timed_check = verifier.check();
    verifier.set_check(Check::Full);
    if let Err(e) = receive_until(ep, &mut verifier, verify) {
        side.error = Some(format!("receive (verification pass): {e}"));
        ep.abort();
        barrier.wait();
        return side;
    }
    side.mismatches = verifier.mismatches();
    verifier.set_check(timed_check);
    barrier.wait();
    let records0 = ep.records().1;
    let syscalls0 = ep.syscalls;
    let cpu = CpuClock::begin();
    side.start = Some(Instant::now());
    let result = receive_until(ep, &mut verifier, verify + timed);
    side.end = Some(Instant::now());
    side.cpu = cpu.elapsed();
    if let Err(e) = result {
        side.error = Some(format!("receive: {e}"));
        crate::debug::dump(&format!(
            "receive failed after {} bytes: {e}",
            verifier.bytes()
        ));
        ep.abort();
    }
    side.bytes = verifier.bytes().saturating_sub(verify);
    side.mismatches = verifier.mismatches();
    side.syscalls = ep.syscalls - syscalls0;
    side.records = match (records0, ep.records().1) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    side
}

fn receive_until(ep: &mut Endpoint, verifier: &mut Verifier, total: u64) -> io::Result<()> {
    while verifier.bytes() < total {
        let data = ep.recv()?;
        if data.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("stream ended after {} of {total} bytes", verifier.bytes()),
            ));
        }
        verifier.feed(data);
    }
    if verifier.bytes() > total {
        return Err(io::Error::other(format!(
            "{} bytes arrived, {total} were sent",
            verifier.bytes()
        )));
    }
    Ok(())
}

/// Fills a measurement from the two sides of a one-way transfer: time from the sender's start
/// to the receiver's end, CPU of both, syscalls, records (from the backends or af_ktls's
/// counters), check results and errors.
pub fn finish(m: &mut Measurement, tx: &Side, rx: &Side, expected: u64, check: Check) {
    for (who, side) in [("sender", tx), ("receiver", rx)] {
        if let Some(e) = &side.error {
            m.fail(format!("{who}: {e}"));
        }
    }
    let seconds = match (tx.start, rx.end) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    m.set_throughput(rx.bytes, seconds);
    m.cpu_user = tx.cpu.0 + rx.cpu.0;
    m.cpu_sys = tx.cpu.1 + rx.cpu.1;
    m.syscalls = Some(tx.syscalls + rx.syscalls);
    m.records_tx = tx.records;
    m.records_rx = rx.records;
    let ktls = |name: &str| m.counters.get(name).map(|&v| v as u64);
    if m.records_tx.is_none() {
        m.records_tx = ktls("KtlsTxRecords");
    }
    if m.records_rx.is_none() {
        m.records_rx = ktls("KtlsRxRecords");
    }
    m.check = format!("full+{}", check.name());
    if rx.mismatches > 0 {
        m.fail(format!("{} mismatches in the received data", rx.mismatches));
    }
    if m.ok && rx.bytes != expected {
        m.fail(format!("received {} bytes, expected {expected}", rx.bytes));
    }
}

/// Pushes `m`, or a failed measurement if setting it up failed.
pub fn push_result(sink: &mut Sink, m: io::Result<Measurement>, fallback: Measurement) {
    match m {
        Ok(m) => sink.push(m),
        Err(e) => {
            let mut f = fallback;
            f.fail(format!("set-up: {e}"));
            sink.push(f);
        }
    }
}
