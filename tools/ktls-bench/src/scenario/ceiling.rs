//! Scenario `ceiling`: what the cryptography alone costs, so the other scenarios can say what
//! fraction of it their paths reach.
//!
//! * `kernel-seal` / `kernel-open`: the kernel's AEAD transforms af_ktls uses (`gcm(aes)`,
//!   `rfc7539(chacha20,poly1305)`), driven by the benchmark-only module tools/aead-bench the way
//!   af_ktls drives them (two-entry scatterlist, in place, one request reused), no sockets;
//! * `openssl-seal` / `openssl-open`: OpenSSL EVP the way the userspace backend uses it;
//! * `tx-path` rows (TLS 1.3 AES-128-GCM, 16 KiB calls): the whole send path of each backend
//!   into a receiver that drops the bytes unread (TCP `MSG_TRUNC`), so the sender's cost is all
//!   there is; compared with `kernel-seal` at 16 KiB this is the "TX reaches N % of the AEAD"
//!   figure. The verification pass opens the first records in userspace and compares them.

use super::{connect, push_result, seed, send_chunks, Opts};
use crate::aead::{Aead, Engine};
use crate::endpoint::{Backend, Endpoint};
use crate::keys::{cipher_name, Suite};
use crate::measure::Gate;
use crate::measure::{interleaved, two_sides, CpuClock, Measurement, Side, Sink};
use crate::pattern::{Check, Pattern, Verifier};
use crate::sys;
use af_ktls::Cipher;
use ktls_record::protection::{AEAD_TAG_LEN, NONCE_LEN};
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::Instant;

const SIZES: [usize; 3] = [1400, 4096, 16384];
const CIPHERS: [Cipher; 3] = [
    Cipher::Aes128Gcm,
    Cipher::Aes256Gcm,
    Cipher::Chacha20Poly1305,
];
/// The AAD of a TLS 1.2 record (13 bytes; TLS 1.3's is 5).
const AAD: [u8; 13] = [0x17; 13];

fn kernel_alg(cipher: Cipher) -> &'static str {
    match cipher {
        Cipher::Aes128Gcm | Cipher::Aes256Gcm => "gcm(aes)",
        Cipher::Chacha20Poly1305 => "rfc7539(chacha20,poly1305)",
    }
}

/// One run of the ceiling module: nanoseconds for `records` records.
pub(super) fn kernel_run(
    path: &str,
    cipher: Cipher,
    size: usize,
    records: u64,
    seal: bool,
) -> io::Result<f64> {
    let line = format!(
        "{} {} {} {} {} {}\n",
        kernel_alg(cipher),
        cipher.key_len(),
        AAD.len(),
        size,
        records,
        if seal { "seal" } else { "open" }
    );
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    f.write_all(line.as_bytes())?;
    let mut out = String::new();
    let mut f = std::fs::File::open(path)?;
    f.read_to_string(&mut out)?;
    let ns = out
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ns="))
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| io::Error::other(format!("unexpected answer {out:?}")))?;
    Ok(ns)
}

/// The same loop in userspace with OpenSSL: seal out of place into a record buffer (as the
/// userspace backend does), or open one sealed record again and again.
fn openssl_run(cipher: Cipher, size: usize, records: u64, seal: bool) -> io::Result<f64> {
    let key = vec![0x5a; cipher.key_len()];
    let plain = vec![0xa5u8; size];
    let mut out = vec![0u8; size + AEAD_TAG_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    let mut sealer = Aead::new(Engine::Openssl, cipher, &key, true)?;
    let mut sealed = vec![0u8; size + AEAD_TAG_LEN];
    sealer.seal(&nonce, &AAD, &[&plain], &mut sealed)?;
    let mut opener = Aead::new(Engine::Openssl, cipher, &key, false)?;
    let start = Instant::now();
    for i in 0..records {
        if seal {
            nonce[NONCE_LEN - 8..].copy_from_slice(&i.to_be_bytes());
            sealer.seal(&nonce, &AAD, &[&plain], &mut out)?;
        } else {
            opener.open_to(&nonce, &AAD, &sealed, &mut out)?;
        }
    }
    Ok(start.elapsed().as_secs_f64() * 1e9)
}

fn aead_measurement(
    opts: &Opts,
    backend: &str,
    cipher: Cipher,
    size: usize,
    rep: u32,
) -> Measurement {
    let config = format!("{} {size}", cipher_name(cipher));
    let mut m = Measurement::new("ceiling", &config, backend, rep);
    m.size = Some(size as u64);
    m.metric = "MiB/s".into();
    let records = (opts.amount(8 << 20, 256 * 1024) / size as u64).max(4);
    let seal = backend.ends_with("seal");
    let cpu = CpuClock::begin();
    let ns = if backend.starts_with("kernel") {
        kernel_run(&opts.aead_proc, cipher, size, records, seal)
    } else {
        openssl_run(cipher, size, records, seal)
    };
    let (u, s) = cpu.elapsed();
    m.cpu_user = u;
    m.cpu_sys = s;
    m.check = "authenticates".into();
    match ns {
        Ok(ns) => {
            m.set_throughput(records * size as u64, ns * 1e-9);
            m.records_tx = seal.then_some(records);
            m.records_rx = (!seal).then_some(records);
            m.extra.insert("ns_per_record".into(), ns / records as f64);
        }
        Err(e) => m.fail(e),
    }
    m
}

/// Receives the verification pass through a userspace opener, then drops the timed pass's
/// `wire` bytes unread.
fn discard(
    ep: &mut Endpoint,
    mut verifier: Verifier,
    verify: u64,
    wire: u64,
    barrier: &Gate,
) -> Side {
    let mut side = Side::default();
    while verifier.bytes() < verify {
        match ep.recv() {
            Ok(d) if !d.is_empty() => verifier.feed(d),
            Ok(_) => {
                side.error = Some("stream ended in the verification pass".into());
                break;
            }
            Err(e) => {
                side.error = Some(format!("verification pass: {e}"));
                break;
            }
        }
    }
    side.mismatches = verifier.mismatches();
    if side.error.is_some() {
        ep.abort();
        barrier.wait();
        return side;
    }
    barrier.wait();
    let cpu = CpuClock::begin();
    let mut got = 0;
    while got < wire {
        side.syscalls += 1;
        match sys::recv_discard(ep.tcp().as_fd(), (wire - got) as usize) {
            Ok(0) => {
                side.error = Some(format!("stream ended after {got} of {wire} bytes"));
                break;
            }
            Ok(n) => got += n as u64,
            Err(e) => {
                side.error = Some(e.to_string());
                break;
            }
        }
    }
    side.end = Some(Instant::now());
    side.cpu = cpu.elapsed();
    side.bytes = got;
    side
}

fn tx_path(opts: &Opts, backend: Backend, rep: u32) -> io::Result<Measurement> {
    let suite = Suite::TLS13_AES128;
    let size = 16384;
    let rx_backend = if backend == Backend::Plain {
        Backend::Plain
    } else {
        Backend::Userspace
    };
    let (mut a, mut b) = connect(suite, backend, rx_backend, size)?;
    let pattern = Pattern::new(size, seed("tx-path", rep, backend as u64));
    let verify_calls = opts.verify_bytes(size).div_ceil(size as u64);
    let timed_calls = opts.amount(16 << 20, 256 * 1024).div_ceil(size as u64);
    let overhead = if backend == Backend::Plain {
        0
    } else {
        suite.protection().overhead() as u64
    };
    let wire = timed_calls * (size as u64 + overhead);
    let verifier = pattern.verifier(Check::Full);
    let verify = verify_calls * size as u64;
    let (tx, rx, before, after) = two_sides(
        |bar| send_chunks(&mut a, &pattern, verify_calls, timed_calls, bar),
        |bar| discard(&mut b, verifier, verify, wire, bar),
    );
    let mut m = Measurement::new(
        "ceiling",
        &format!("{} {size} tx-path", suite.name()),
        backend.name(),
        rep,
    );
    m.suite = Some(suite.name());
    m.size = Some(size as u64);
    m.set_counters(&before, &after);
    for (who, side) in [("sender", &tx), ("receiver", &rx)] {
        if let Some(e) = &side.error {
            m.fail(format!("{who}: {e}"));
        }
    }
    if rx.mismatches > 0 {
        m.fail(format!(
            "{} mismatches in the verification pass",
            rx.mismatches
        ));
    }
    if m.ok && rx.bytes != wire {
        m.fail(format!("{} bytes on the wire, expected {wire}", rx.bytes));
    }
    let seconds = match (tx.start, rx.end) {
        (Some(s), Some(e)) => e.duration_since(s).as_secs_f64(),
        _ => 0.0,
    };
    m.set_throughput(tx.bytes, seconds);
    m.cpu_user = tx.cpu.0 + rx.cpu.0;
    m.cpu_sys = tx.cpu.1 + rx.cpu.1;
    m.syscalls = Some(tx.syscalls + rx.syscalls);
    m.records_tx = tx
        .records
        .or(m.counters.get("KtlsTxRecords").map(|&v| v as u64));
    m.check = "full (verification pass), wire length (timed)".into();
    Ok(m)
}

pub fn run(opts: &Opts, sink: &mut Sink) {
    let have_module = std::path::Path::new(&opts.aead_proc).exists();
    let mut aead_rows = vec!["openssl-seal", "openssl-open"];
    if have_module {
        aead_rows.extend(["kernel-seal", "kernel-open"]);
    } else {
        eprintln!(
            "ktls-bench: {} missing (tools/aead-bench not loaded): no kernel ceiling",
            opts.aead_proc
        );
        let mut m = Measurement::new("ceiling", "aes128gcm 16384", "kernel-seal", 0);
        m.metric = "MiB/s".into();
        m.fail(format!(
            "{} missing: load tools/aead-bench/ktls_aead_bench.ko",
            opts.aead_proc
        ));
        sink.push(m);
    }
    for cipher in CIPHERS {
        for size in SIZES {
            for rep in 0..opts.reps() {
                for backend in interleaved(&aead_rows, rep) {
                    sink.push(aead_measurement(opts, backend, cipher, size, rep));
                }
            }
        }
    }
    let paths = [
        Backend::AfKtls,
        Backend::Ulp,
        Backend::Userspace,
        Backend::Plain,
    ];
    for rep in 0..opts.reps() {
        for backend in interleaved(&paths, rep) {
            let mut fallback = Measurement::new(
                "ceiling",
                "tls13-aes128gcm 16384 tx-path",
                backend.name(),
                rep,
            );
            fallback.metric = "MiB/s".into();
            push_result(sink, tx_path(opts, backend, rep), fallback);
        }
    }
}
