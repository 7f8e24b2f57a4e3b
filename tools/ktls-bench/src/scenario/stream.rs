//! Scenario `stream`: one sender, one receiver, the same backend on both ends of a loopback TCP
//! connection; plaintext sizes per send call × suites. Receivers ask for 64 KiB per call.
//!
//! Before it, `interop`: records sealed by each backend are opened by each other one (userspace
//! ↔ af_ktls, userspace ↔ ulp, af_ktls ↔ ulp) for every suite, every byte compared, so the
//! userspace rows are known to do the same work as the kernel's.

use super::{connect, finish, push_result, receive, seed, send_chunks, Opts};
use crate::endpoint::Backend;
use crate::keys::Suite;
use crate::measure::{interleaved, two_sides, Measurement, Sink};
use crate::pattern::{Check, Pattern};
use std::io;

/// One transfer of `size`-byte calls from a `tx` end to an `rx` end.
pub struct Transfer<'a> {
    pub scenario: &'a str,
    pub config: String,
    pub suite: Suite,
    pub size: usize,
    pub tx: Backend,
    pub rx: Backend,
    pub rep: u32,
    pub verify_bytes: u64,
    pub timed_bytes: u64,
    pub check: Check,
    pub label: String,
    /// Passes of application work over every received buffer (`pattern::application_work`).
    pub work_rounds: u32,
}

pub fn transfer(t: &Transfer<'_>) -> io::Result<Measurement> {
    let (mut a, mut b) = connect(t.suite, t.tx, t.rx, t.size)?;
    let pattern = Pattern::new(t.size, seed(t.scenario, t.rep, t.size as u64));
    let verify_calls = t.verify_bytes.div_ceil(t.size as u64);
    let timed_calls = t.timed_bytes.div_ceil(t.size as u64).max(1);
    let verify = verify_calls * t.size as u64;
    let timed = timed_calls * t.size as u64;
    let mut verifier = pattern.verifier(t.check);
    verifier.set_work(t.work_rounds);
    let (tx, rx, before, after) = two_sides(
        |bar| send_chunks(&mut a, &pattern, verify_calls, timed_calls, bar),
        |bar| receive(&mut b, verifier, verify, timed, bar),
    );
    let mut m = Measurement::new(t.scenario, &t.config, &t.label, t.rep);
    m.suite = Some(t.suite.name());
    m.size = Some(t.size as u64);
    m.set_counters(&before, &after);
    finish(&mut m, &tx, &rx, timed, t.check);
    Ok(m)
}

pub fn fallback(t: &Transfer<'_>) -> Measurement {
    let mut m = Measurement::new(t.scenario, &t.config, &t.label, t.rep);
    m.suite = Some(t.suite.name());
    m.size = Some(t.size as u64);
    m.metric = "MiB/s".into();
    m
}

/// Records of every backend opened by every other backend, for every suite.
pub fn interop(opts: &Opts, sink: &mut Sink) {
    use Backend::*;
    let pairs = [
        (Userspace, AfKtls),
        (AfKtls, Userspace),
        (Userspace, Ulp),
        (Ulp, Userspace),
        (AfKtls, Ulp),
        (Ulp, AfKtls),
        (UserspaceRing, AfKtls),
        (AfKtls, UserspaceRing),
    ];
    for suite in Suite::STREAM {
        for (tx, rx) in pairs {
            // 20000-byte calls: a full record and a partial one per call.
            let t = Transfer {
                scenario: "interop",
                config: suite.name(),
                suite,
                size: 20000,
                tx,
                rx,
                rep: 0,
                verify_bytes: 60000,
                timed_bytes: 60000,
                check: Check::Full,
                label: format!("{}>{}", tx.name(), rx.name()),
                work_rounds: 0,
            };
            let mut m = transfer(&t);
            if let Ok(m) = &mut m {
                m.metric = "check".into();
                m.value = if m.ok { 1.0 } else { 0.0 };
            }
            let _ = opts;
            push_result(sink, m, fallback(&t));
        }
    }
}

pub fn run(opts: &Opts, sink: &mut Sink) {
    interop(opts, sink);
    for &size in &opts.sizes {
        for suite in Suite::STREAM {
            let mut backends = vec![Backend::AfKtls, Backend::Ulp, Backend::Userspace];
            if opts.ring {
                backends.push(Backend::UserspaceRing);
            }
            // Plain TCP does not depend on the suite: one row per size.
            if suite == Suite::TLS13_AES128 {
                backends.push(Backend::Plain);
            }
            // Small calls cost per call, not per byte: fewer bytes keep the time similar.
            let full = match size {
                0..=2047 => 2 << 20,
                2048..=8191 => 4 << 20,
                _ => 8 << 20,
            };
            let timed = opts.amount(full, 128 * 1024);
            for rep in 0..opts.reps() {
                for backend in interleaved(&backends, rep) {
                    let t = Transfer {
                        scenario: "stream",
                        config: format!("{} {}", suite.name(), size),
                        suite,
                        size,
                        tx: backend,
                        rx: backend,
                        rep,
                        verify_bytes: opts.verify_bytes(size),
                        timed_bytes: timed,
                        check: opts.timed_check,
                        label: backend.name().into(),
                        work_rounds: 0,
                    };
                    push_result(sink, transfer(&t), fallback(&t));
                }
            }
        }
    }
}
