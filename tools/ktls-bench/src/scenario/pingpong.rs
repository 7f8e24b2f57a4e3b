//! Scenario `pingpong`: small-message latency. The client sends 64 bytes, the server receives
//! them and sends them back, the client receives them: round trips per second, what an RPC or
//! database connection feels. TLS 1.3 AES-128-GCM, `TCP_NODELAY` on both ends, each message one
//! record; both ends check every message (the requests fully in the verification pass).

use super::{connect, push_result, seed, Opts};
use crate::endpoint::{Backend, Endpoint};
use crate::keys::Suite;
use crate::measure::Gate;
use crate::measure::{interleaved, two_sides, CpuClock, Measurement, Side, Sink};
use crate::pattern::{Check, Pattern, Verifier};
use std::io;
use std::time::Instant;

const MESSAGE: usize = 64;

/// Receives exactly one message into `verifier`.
fn recv_message(
    ep: &mut Endpoint,
    verifier: &mut Verifier,
    echo: Option<&mut Vec<u8>>,
) -> io::Result<()> {
    let want = verifier.bytes() + MESSAGE as u64;
    let mut echo = echo;
    while verifier.bytes() < want {
        let data = ep.recv()?;
        if data.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if verifier.bytes() + data.len() as u64 > want {
            return Err(io::Error::other("more than one message arrived"));
        }
        verifier.feed(data);
        if let Some(e) = echo.as_deref_mut() {
            e.extend_from_slice(data);
        }
    }
    Ok(())
}

fn client(
    ep: &mut Endpoint,
    pattern: &Pattern,
    check: Check,
    verify: u64,
    timed: u64,
    barrier: &Gate,
) -> Side {
    let mut side = Side::default();
    let mut buf = pattern.buffer();
    let mut replies = pattern.verifier(Check::Full);
    let mut one = |ep: &mut Endpoint, i: u64, replies: &mut Verifier| -> io::Result<()> {
        pattern.stamp(&mut buf, i);
        ep.send(&buf)?;
        recv_message(ep, replies, None)
    };
    for i in 0..verify {
        if let Err(e) = one(ep, i, &mut replies) {
            side.error = Some(format!("verification pass: {e}"));
            ep.abort();
            barrier.wait();
            return side;
        }
    }
    barrier.wait();
    replies.set_check(check);
    let syscalls0 = ep.syscalls;
    let cpu = CpuClock::begin();
    side.start = Some(Instant::now());
    for i in verify..verify + timed {
        if let Err(e) = one(ep, i, &mut replies) {
            side.error = Some(format!("round trip {i}: {e}"));
            ep.abort();
            break;
        }
        side.bytes += MESSAGE as u64;
    }
    side.end = Some(Instant::now());
    side.cpu = cpu.elapsed();
    side.syscalls = ep.syscalls - syscalls0;
    side.mismatches = replies.mismatches();
    side
}

fn server(
    ep: &mut Endpoint,
    pattern: &Pattern,
    check: Check,
    verify: u64,
    timed: u64,
    barrier: &Gate,
) -> Side {
    let mut side = Side::default();
    let mut requests = pattern.verifier(Check::Full);
    let mut echo = Vec::with_capacity(MESSAGE);
    let mut one = |ep: &mut Endpoint, requests: &mut Verifier| -> io::Result<()> {
        echo.clear();
        recv_message(ep, requests, Some(&mut echo))?;
        ep.send(&echo)
    };
    for _ in 0..verify {
        if let Err(e) = one(ep, &mut requests) {
            side.error = Some(format!("verification pass: {e}"));
            ep.abort();
            barrier.wait();
            return side;
        }
    }
    barrier.wait();
    requests.set_check(check);
    let syscalls0 = ep.syscalls;
    let cpu = CpuClock::begin();
    for _ in 0..timed {
        if let Err(e) = one(ep, &mut requests) {
            side.error = Some(e.to_string());
            ep.abort();
            break;
        }
    }
    side.cpu = cpu.elapsed();
    side.syscalls = ep.syscalls - syscalls0;
    side.mismatches = requests.mismatches();
    side
}

fn measure(opts: &Opts, backend: Backend, rep: u32, trips: u64) -> io::Result<Measurement> {
    let suite = Suite::TLS13_AES128;
    let (mut a, mut b) = connect(suite, backend, backend, MESSAGE)?;
    let pattern = Pattern::new(MESSAGE, seed("pingpong", rep, backend as u64));
    let verify = if opts.smoke { 4 } else { 32 };
    let check = opts.timed_check;
    let (c, s, before, after) = two_sides(
        |bar| client(&mut a, &pattern, check, verify, trips, bar),
        |bar| server(&mut b, &pattern, check, verify, trips, bar),
    );
    let mut m = Measurement::new(
        "pingpong",
        &format!("{} {MESSAGE}", suite.name()),
        backend.name(),
        rep,
    );
    m.suite = Some(suite.name());
    m.size = Some(MESSAGE as u64);
    m.set_counters(&before, &after);
    for (who, side) in [("client", &c), ("server", &s)] {
        if let Some(e) = &side.error {
            m.fail(format!("{who}: {e}"));
        }
        if side.mismatches > 0 {
            m.fail(format!("{who}: {} mismatches", side.mismatches));
        }
    }
    let seconds = match (c.start, c.end) {
        (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
        _ => 0.0,
    };
    m.bytes = c.bytes * 2;
    m.seconds = seconds;
    m.metric = "round trips/s".into();
    m.value = if seconds > 0.0 {
        trips as f64 / seconds
    } else {
        0.0
    };
    m.extra
        .insert("us_per_round_trip".into(), seconds * 1e6 / trips as f64);
    m.cpu_user = c.cpu.0 + s.cpu.0;
    m.cpu_sys = c.cpu.1 + s.cpu.1;
    m.syscalls = Some(c.syscalls + s.syscalls);
    m.records_tx = m.counters.get("KtlsTxRecords").map(|&v| v as u64);
    m.records_rx = m.counters.get("KtlsRxRecords").map(|&v| v as u64);
    m.check = format!("full+{}", check.name());
    if m.ok && c.bytes != trips * MESSAGE as u64 {
        m.fail(format!(
            "{} of {trips} round trips",
            c.bytes / MESSAGE as u64
        ));
    }
    Ok(m)
}

pub fn run(opts: &Opts, sink: &mut Sink) {
    let backends = [
        Backend::AfKtls,
        Backend::AfKtlsInline,
        Backend::Ulp,
        Backend::Userspace,
        Backend::Plain,
    ];
    let trips = opts.amount(4000, 64);
    for rep in 0..opts.reps() {
        for backend in interleaved(&backends, rep) {
            let mut fallback =
                Measurement::new("pingpong", "tls13-aes128gcm 64", backend.name(), rep);
            fallback.metric = "round trips/s".into();
            push_result(sink, measure(opts, backend, rep, trips), fallback);
        }
    }
}
