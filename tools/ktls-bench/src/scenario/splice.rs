//! Scenario `splice`: the thesis's OpenConnect/HAProxy relay. A relay sits between a TLS
//! connection and a plain TCP connection and moves the data across:
//!
//! * `decrypt`: TLS peer → relay → plain peer. The relay `splice`s from its TLS socket into a
//!   pipe and from the pipe into the plain socket (`af_ktls`: the AF_KTLS socket; `ulp`: the
//!   mainline kTLS socket); `userspace` receives records, opens them (OpenSSL) and sends the
//!   plaintext; `plain` splices TCP to TCP (the ceiling, no TLS anywhere).
//! * `encrypt`: the reverse, plain peer → relay → TLS peer.
//!
//! The TLS peer is mainline kernel TLS in every row and the plain peer plain TCP, so the rows
//! differ only in the relay. The source sends 16 KiB calls; the relay moves up to 64 KiB per
//! `splice` (or `recv`).

use super::{finish, push_result, seed, Opts, RX_SIZE, TIMEOUT_SECS};
use crate::endpoint::{Backend, Endpoint};
use crate::keys::Suite;
use crate::measure::Gate;
use crate::measure::{interleaved, run_sides, CpuClock, Measurement, Side, SideFn, Sink};
use crate::pattern::Pattern;
use crate::sys;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

const CHUNK: usize = 16 * 1024;
const PIPE: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// TLS in, plaintext out.
    Decrypt,
    /// Plaintext in, TLS out.
    Encrypt,
}

impl Direction {
    fn name(self) -> &'static str {
        match self {
            Direction::Decrypt => "decrypt",
            Direction::Encrypt => "encrypt",
        }
    }
}

/// The relay: moves `verify`, waits at the barrier, then moves `timed` more.
struct Relay {
    backend: Backend,
    direction: Direction,
    /// Its end of the TLS connection and its end of the plain connection.
    tls: Endpoint,
    plain: Endpoint,
    pipe: (OwnedFd, OwnedFd),
    buf: Vec<u8>,
    syscalls: u64,
}

impl Relay {
    fn relay(&mut self, amount: u64) -> io::Result<()> {
        let mut moved = 0u64;
        while moved < amount {
            let want = ((amount - moved) as usize).min(PIPE);
            let n = match self.backend {
                Backend::Userspace => self.copy_once(want)?,
                _ => self.splice_once(want)?,
            };
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("input ended after {moved} of {amount} bytes"),
                ));
            }
            moved += n as u64;
        }
        Ok(())
    }

    /// Socket → pipe → socket.
    fn splice_once(&mut self, want: usize) -> io::Result<usize> {
        let (from, to) = match self.direction {
            Direction::Decrypt => (self.tls.data_fd(), self.plain.data_fd()),
            Direction::Encrypt => (self.plain.data_fd(), self.tls.data_fd()),
        };
        self.syscalls += 1;
        let n = sys::splice(from, self.pipe.1.as_fd(), want, libc::SPLICE_F_MOVE)?;
        let mut left = n;
        while left > 0 {
            self.syscalls += 1;
            let m = sys::splice(self.pipe.0.as_fd(), to, left, libc::SPLICE_F_MOVE)?;
            if m == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            left -= m;
        }
        Ok(n)
    }

    /// Userspace: receive, open or seal, send.
    fn copy_once(&mut self, want: usize) -> io::Result<usize> {
        match self.direction {
            Direction::Decrypt => {
                let data = self.tls.recv()?;
                let n = data.len();
                if n > want {
                    return Err(io::Error::other("more plaintext than was sent"));
                }
                self.syscalls += sys::send_all(self.plain.tcp().as_fd(), data, 0)?;
                Ok(n)
            }
            Direction::Encrypt => {
                self.syscalls += 1;
                let n = sys::recv(self.plain.tcp().as_fd(), &mut self.buf[..want], 0)?;
                self.tls.send(&self.buf[..n])?;
                Ok(n)
            }
        }
    }

    fn run(mut self, verify: u64, timed: u64, barrier: &Gate) -> Side {
        let mut side = Side::default();
        if let Err(e) = self.relay(verify) {
            side.error = Some(format!("relay (verification pass): {e}"));
            self.tls.abort();
            self.plain.abort();
            barrier.wait();
            return side;
        }
        barrier.wait();
        let records = |r: &Relay| match r.direction {
            Direction::Decrypt => r.tls.records().1,
            Direction::Encrypt => r.tls.records().0,
        };
        let records0 = records(&self);
        let syscalls0 = self.syscalls + self.tls.syscalls;
        let cpu = CpuClock::begin();
        if let Err(e) = self.relay(timed) {
            side.error = Some(format!("relay: {e}"));
            self.tls.abort();
            self.plain.abort();
        }
        side.cpu = cpu.elapsed();
        side.syscalls = self.syscalls + self.tls.syscalls - syscalls0;
        side.records = match (records0, records(&self)) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        side
    }
}

fn measure(
    opts: &Opts,
    suite: Suite,
    backend: Backend,
    direction: Direction,
    rep: u32,
    total: u64,
) -> io::Result<Measurement> {
    let (ck, sk) = suite.key_pair();
    let peer_backend = if backend == Backend::Plain {
        Backend::Plain
    } else {
        Backend::Ulp
    };
    // TLS connection: peer (client) ↔ relay (server); plain connection: relay ↔ peer.
    let (t_peer, t_relay) = sys::tcp_pair()?;
    let (p_relay, p_peer) = sys::tcp_pair()?;
    let tls_peer = Endpoint::new(peer_backend, suite, t_peer, &ck, CHUNK, RX_SIZE)?;
    let tls_relay = Endpoint::new(backend, suite, t_relay, &sk, PIPE, RX_SIZE)?;
    let plain_relay = Endpoint::new(Backend::Plain, suite, p_relay, &sk, PIPE, RX_SIZE)?;
    let plain_peer = Endpoint::new(Backend::Plain, suite, p_peer, &ck, CHUNK, RX_SIZE)?;
    for ep in [&tls_peer, &tls_relay, &plain_relay, &plain_peer] {
        ep.set_timeouts(TIMEOUT_SECS)?;
    }
    let relay = Relay {
        backend,
        direction,
        tls: tls_relay,
        plain: plain_relay,
        pipe: sys::pipe(PIPE)?,
        buf: vec![0; PIPE],
        syscalls: 0,
    };
    let (mut source, mut sink) = match direction {
        Direction::Decrypt => (tls_peer, plain_peer),
        Direction::Encrypt => (plain_peer, tls_peer),
    };
    let pattern = Pattern::new(CHUNK, seed("splice", rep, backend as u64));
    let verify_calls = opts.verify_bytes(CHUNK).div_ceil(CHUNK as u64);
    let timed_calls = total.div_ceil(CHUNK as u64).max(1);
    let verify = verify_calls * CHUNK as u64;
    let timed = timed_calls * CHUNK as u64;
    let verifier = pattern.verifier(opts.timed_check);
    let sides: Vec<SideFn<'_>> = vec![
        Box::new(|bar: &Gate| {
            super::send_chunks(&mut source, &pattern, verify_calls, timed_calls, bar)
        }),
        Box::new(move |bar: &Gate| relay.run(verify, timed, bar)),
        Box::new(|bar: &Gate| super::receive(&mut sink, verifier, verify, timed, bar)),
    ];
    let (sides, before, after) = run_sides(sides);
    let config = format!("{} {}", suite.name(), direction.name());
    let mut m = Measurement::new("splice", &config, backend.name(), rep);
    m.suite = Some(suite.name());
    m.size = Some(CHUNK as u64);
    m.set_counters(&before, &after);
    let (src, rel, snk) = (&sides[0], &sides[1], &sides[2]);
    finish(&mut m, src, snk, timed, opts.timed_check);
    if let Some(e) = &rel.error {
        m.fail(e);
    }
    // What the relay did: its syscalls and records (af_ktls: from its counters, since the TLS
    // peer is mainline).
    m.cpu_user += rel.cpu.0;
    m.cpu_sys += rel.cpu.1;
    m.syscalls = Some(rel.syscalls);
    let counter = |n: &str| m.counters.get(n).map(|&v| v as u64);
    let relay_records = rel.records.or(match direction {
        Direction::Decrypt => counter("KtlsRxRecords"),
        Direction::Encrypt => counter("KtlsTxRecords"),
    });
    (m.records_tx, m.records_rx) = match direction {
        Direction::Decrypt => (None, relay_records),
        Direction::Encrypt => (relay_records, None),
    };
    Ok(m)
}

pub fn run(opts: &Opts, sink: &mut Sink) {
    let suite = Suite::TLS13_AES128;
    let backends = [
        Backend::AfKtls,
        Backend::Ulp,
        Backend::Userspace,
        Backend::Plain,
    ];
    let total = opts.amount(16 << 20, 256 * 1024);
    for direction in [Direction::Decrypt, Direction::Encrypt] {
        for rep in 0..opts.reps() {
            for backend in interleaved(&backends, rep) {
                let config = format!("{} {}", suite.name(), direction.name());
                let mut fallback = Measurement::new("splice", &config, backend.name(), rep);
                fallback.metric = "MiB/s".into();
                let m = measure(opts, suite, backend, direction, rep, total);
                push_result(sink, m, fallback);
            }
        }
    }
}
