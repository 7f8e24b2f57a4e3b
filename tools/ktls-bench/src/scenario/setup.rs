//! Scenario `setup`: what a connection costs before it moves any data.
//!
//! * `setup` rows: connections per second handed to the backend with both keys, timed over many
//!   established TCP connections: `af_ktls` is `socket` + `bind` + `KTLS_TX` + `KTLS_RX`; `ulp`
//!   is `TCP_ULP "tls"` + `TLS_TX` + `TLS_RX`; `userspace` keys two OpenSSL contexts. Each step
//!   is timed too (`us_socket`, `us_bind`, ... in the results).
//! * `memory` rows: kernel memory per idle connection with keys, from slab accounting (`Slab` in
//!   /proc/meminfo, which also counts kmalloc's page-sized allocations) over all connections,
//!   divided by their number; the drop in `MemFree` is reported beside it. The TCP connections
//!   exist before the first reading, so only what the backend adds is counted.
//!
//! Afterwards the first connection carries a message to a peer set up the same way, so a set-up
//! that did not really work fails the measurement.

use super::{push_result, Opts};
use crate::aead::Engine;
use crate::counters::meminfo;
use crate::endpoint::Backend;
use crate::keys::Suite;
use crate::measure::{interleaved, CpuClock, Measurement, Sink};
use crate::record::{Opener, Sealer};
use crate::sys;
use af_ktls::{AfKtlsSocket, Direction, KeyMaterial, Transport};
use std::io;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

enum Keyed {
    AfKtls(AfKtlsSocket),
    Ulp,
    User(Box<(Sealer, Opener)>),
}

fn raise_fd_limit(want: u64) {
    let lim = libc::rlimit {
        rlim_cur: want,
        rlim_max: want,
    };
    // SAFETY: `lim` is a valid rlimit for the duration of the call.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
}

/// What each timed step is called in the results, by backend.
fn step_names(backend: Backend) -> [&'static str; 4] {
    match backend {
        Backend::AfKtls => ["socket", "bind", "tx_keys", "rx_keys"],
        Backend::Ulp => ["", "tcp_ulp", "tx_keys", "rx_keys"],
        _ => ["", "", "tx_keys", "rx_keys"],
    }
}

/// One set-up, step by step, each step's time added to `steps`.
fn key(
    backend: Backend,
    suite: Suite,
    tcp: &TcpStream,
    keys: &KeyMaterial,
    family: libc::c_int,
    steps: &mut [f64; 4],
) -> io::Result<Keyed> {
    let mut t = Instant::now();
    let mut lap = |i: usize| {
        let now = Instant::now();
        steps[i] += now.duration_since(t).as_secs_f64();
        t = now;
    };
    Ok(match backend {
        Backend::AfKtls => {
            let sock = AfKtlsSocket::with_family(family, Transport::Stream)?;
            lap(0);
            sock.bind(tcp.as_fd(), suite.version, suite.cipher)?;
            lap(1);
            sock.set_keys(Direction::Tx, &keys.tx)?;
            lap(2);
            sock.set_keys(Direction::Rx, &keys.rx)?;
            lap(3);
            Keyed::AfKtls(sock)
        }
        Backend::Ulp => {
            af_ktls::ulp::attach(tcp.as_fd())?;
            lap(1);
            af_ktls::ulp::set_keys(tcp.as_fd(), Direction::Tx, &keys.tx)?;
            lap(2);
            af_ktls::ulp::set_keys(tcp.as_fd(), Direction::Rx, &keys.rx)?;
            lap(3);
            Keyed::Ulp
        }
        _ => {
            let sealer = Sealer::new(Engine::Openssl, suite, &keys.tx)?;
            lap(2);
            let opener = Opener::new(Engine::Openssl, suite, &keys.rx)?;
            lap(3);
            Keyed::User(Box::new((sealer, opener)))
        }
    })
}

/// Sends one message over a keyed connection to a peer keyed the same way.
fn check(
    suite: Suite,
    keyed: &mut Keyed,
    client: &TcpStream,
    server: &TcpStream,
) -> io::Result<()> {
    let (_, sk) = suite.key_pair();
    let msg = b"set-up check: this record went through the keys just installed";
    let mut buf = [0u8; 256];
    let timeout = Duration::from_secs(10);
    sys::set_timeouts(server.as_fd(), timeout)?;
    let got = match keyed {
        Keyed::AfKtls(sock) => {
            let peer = AfKtlsSocket::setup(server.as_fd(), &sk)?;
            sys::set_timeouts(peer.as_fd(), timeout)?;
            sys::send_all(sock.as_fd(), msg, 0)?;
            sys::recv(peer.as_fd(), &mut buf, 0)?
        }
        Keyed::Ulp => {
            af_ktls::ulp::setup(server.as_fd(), &sk)?;
            sys::send_all(client.as_fd(), msg, 0)?;
            sys::recv(server.as_fd(), &mut buf, 0)?
        }
        Keyed::User(pair) => {
            let mut opener = Opener::new(Engine::Openssl, suite, &sk.rx)?;
            let n = pair.0.seal(msg, &mut buf)?;
            let r = opener.open_tls(&mut buf[..n])?;
            buf.copy_within(r.clone(), 0);
            r.len()
        }
    };
    if &buf[..got] != msg {
        return Err(io::Error::other("the message did not come through"));
    }
    Ok(())
}

fn measure(backend: Backend, rep: u32, conns: usize) -> io::Result<Vec<Measurement>> {
    let suite = Suite::TLS13_AES128;
    let (ck, _) = suite.key_pair();
    let mut pairs = Vec::with_capacity(conns);
    for _ in 0..conns {
        pairs.push(sys::tcp_pair()?);
    }
    // Read once, as an application would (the crate's `AfKtlsSocket::new` reads it from sysfs
    // every time).
    let family = af_ktls::socket::af_ktls_family();
    // One untimed set-up first: one-time costs (OpenSSL loading its providers and
    // configuration, the first instance of a crypto transform) are not per connection.
    let (warm_c, _warm_s) = sys::tcp_pair()?;
    drop(key(backend, suite, &warm_c, &ck, family, &mut [0f64; 4])?);
    let mem0 = meminfo();
    let mut keyed = Vec::with_capacity(conns);
    let mut steps = [0f64; 4];
    let cpu = CpuClock::begin();
    let start = Instant::now();
    for (client, _) in &pairs {
        keyed.push(key(backend, suite, client, &ck, family, &mut steps)?);
    }
    let seconds = start.elapsed().as_secs_f64();
    let (cpu_user, cpu_sys) = cpu.elapsed();
    let mem1 = meminfo();

    let config = format!("{} setup", suite.name());
    let mut m = Measurement::new("setup", &config, backend.name(), rep);
    m.suite = Some(suite.name());
    m.metric = "setups/s".into();
    m.seconds = seconds;
    m.value = if seconds > 0.0 {
        conns as f64 / seconds
    } else {
        0.0
    };
    m.cpu_user = cpu_user;
    m.cpu_sys = cpu_sys;
    m.syscalls = Some(match backend {
        Backend::AfKtls => 4 * conns as u64,
        Backend::Ulp => 3 * conns as u64,
        _ => 0,
    });
    m.check = "one message".into();
    m.extra.insert("connections".into(), conns as f64);
    m.extra
        .insert("us_per_setup".into(), seconds * 1e6 / conns as f64);
    for (name, t) in step_names(backend).iter().zip(steps) {
        if !name.is_empty() {
            m.extra.insert(format!("us_{name}"), t * 1e6 / conns as f64);
        }
    }
    if let (Some(first), Some((client, server))) = (keyed.first_mut(), pairs.first()) {
        if let Err(e) = check(suite, first, client, server) {
            m.fail(format!("check after set-up: {e}"));
        }
    }
    let mut out = vec![m.clone()];
    if backend != Backend::Userspace {
        let per_conn = |name: &str| {
            let a = mem0.get(name).copied().unwrap_or(0) as f64;
            let b = mem1.get(name).copied().unwrap_or(0) as f64;
            (b - a) / conns as f64
        };
        let config = format!("{} memory", suite.name());
        let mut mem = Measurement::new("setup", &config, backend.name(), rep);
        mem.suite = m.suite.clone();
        mem.metric = "KiB/connection".into();
        mem.higher_is_better = false;
        mem.value = per_conn("Slab");
        mem.check = m.check.clone();
        mem.ok = m.ok;
        mem.error = m.error.clone();
        mem.extra
            .insert("MemFree_drop_kib_per_conn".into(), -per_conn("MemFree"));
        for name in ["Percpu", "VmallocUsed", "KernelStack", "PageTables"] {
            mem.extra
                .insert(format!("{name}_kib_per_conn"), per_conn(name));
        }
        mem.extra.insert("connections".into(), conns as f64);
        out.push(mem);
    }
    drop(keyed);
    drop(pairs);
    Ok(out)
}

pub fn run(opts: &Opts, sink: &mut Sink) {
    let backends = [Backend::AfKtls, Backend::Ulp, Backend::Userspace];
    let conns = opts.amount(512, 16) as usize;
    raise_fd_limit(4 * conns as u64 + 256);
    for rep in 0..opts.reps() {
        for backend in interleaved(&backends, rep) {
            match measure(backend, rep, conns) {
                Ok(ms) => {
                    for m in ms {
                        sink.push(m);
                    }
                }
                Err(e) => {
                    let config = "tls13-aes128gcm setup";
                    let mut f = Measurement::new("setup", config, backend.name(), rep);
                    f.metric = "setups/s".into();
                    push_result(sink, Err(e), f);
                }
            }
        }
    }
}
