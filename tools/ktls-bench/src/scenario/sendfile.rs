//! Scenario `sendfile`: a file in the page cache (tmpfs) sent into the connection.
//!
//! * `af_ktls`: `sendfile(2)` into the AF_KTLS socket;
//! * `ulp`: `sendfile(2)` into mainline kernel TLS; `ulp-zc` the same with `TLS_TX_ZEROCOPY_RO`
//!   (which only device offload consults: in software it should measure the same);
//! * `userspace`: `read` 64 KiB + seal (OpenSSL) + one `send`, the loop servers run today;
//! * `plain`: `sendfile(2)` into plain TCP, the ceiling.
//!
//! Every TLS row has the same receiver, mainline kernel TLS reading 64 KiB per call, so the rows
//! differ only in how the file is sent (the receiver's cost is in every row alike).

use super::{finish, push_result, receive, seed, Opts, RX_SIZE, TIMEOUT_SECS};
use crate::endpoint::{Backend, Endpoint};
use crate::keys::Suite;
use crate::measure::Gate;
use crate::measure::{interleaved, two_sides, CpuClock, Measurement, Side, Sink};
use crate::pattern::Pattern;
use crate::record::Sealer;
use crate::sys;
use ktls_record::protection::MAX_PLAINTEXT_LEN;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::time::Instant;

/// Bytes per `sendfile` call and per userspace `read`.
const CHUNK: usize = 64 * 1024;

fn write_file(opts: &Opts, pattern: &Pattern, len: u64) -> io::Result<File> {
    let mut file = sys::tmpfs_file(&opts.tmpdir, len)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        pattern.fill(at, &mut buf[..n]);
        file.write_all(&buf[..n])?;
        at += n as u64;
    }
    file.flush()?;
    Ok(file)
}

/// Sends `file[from..to]` with the measured method.
fn send_range(
    backend: Backend,
    ep: &Endpoint,
    sealer: Option<&mut (Sealer, Vec<u8>, Vec<u8>)>,
    file: &File,
    from: u64,
    to: u64,
    syscalls: &mut u64,
) -> io::Result<()> {
    match backend {
        Backend::Userspace => {
            let Some((sealer, plain, wire)) = sealer else {
                return Err(io::Error::other("no userspace sealer"));
            };
            let mut f = file;
            f.seek(SeekFrom::Start(from))?;
            *syscalls += 1;
            let mut at = from;
            while at < to {
                let want = ((to - at) as usize).min(CHUNK);
                let n = f.read(&mut plain[..want])?;
                *syscalls += 1;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                let len = sealer.seal_all(&plain[..n], MAX_PLAINTEXT_LEN, wire)?;
                *syscalls += sys::send_all(ep.tcp().as_fd(), &wire[..len], 0)?;
                at += n as u64;
            }
            Ok(())
        }
        _ => {
            let mut offset = from as libc::off_t;
            while (offset as u64) < to {
                let want = ((to - offset as u64) as usize).min(CHUNK);
                *syscalls += 1;
                let n = sys::sendfile(ep.data_fd(), file.as_fd(), &mut offset, want)?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
            Ok(())
        }
    }
}

fn sender(
    backend: Backend,
    ep: &Endpoint,
    mut sealer: Option<(Sealer, Vec<u8>, Vec<u8>)>,
    file: &File,
    verify: u64,
    total: u64,
    barrier: &Gate,
) -> Side {
    let mut side = Side::default();
    let mut calls = 0;
    if let Err(e) = send_range(backend, ep, sealer.as_mut(), file, 0, verify, &mut calls) {
        side.error = Some(format!("verification pass: {e}"));
        ep.abort();
        barrier.wait();
        return side;
    }
    barrier.wait();
    let records = |sealer: &Option<(Sealer, Vec<u8>, Vec<u8>)>| match sealer {
        Some(s) => Some(s.0.records),
        None => ep.records().0,
    };
    let records0 = records(&sealer);
    calls = 0;
    let cpu = CpuClock::begin();
    side.start = Some(Instant::now());
    if let Err(e) = send_range(
        backend,
        ep,
        sealer.as_mut(),
        file,
        verify,
        total,
        &mut calls,
    ) {
        side.error = Some(e.to_string());
        ep.abort();
    }
    side.cpu = cpu.elapsed();
    side.syscalls = calls;
    side.bytes = total - verify;
    side.records = match (records0, records(&sealer)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    side
}

fn measure(
    opts: &Opts,
    backend: Backend,
    suite: Suite,
    rep: u32,
    (file, pattern, file_len): (&File, &Pattern, u64),
) -> io::Result<Measurement> {
    let verify = opts.verify_bytes(16384).min(file_len / 4);
    let (c, s) = sys::tcp_pair()?;
    let (ck, sk) = suite.key_pair();
    // The measured sender keeps its socket bare for userspace (it writes records itself).
    let tx_backend = match backend {
        Backend::Userspace => Backend::Plain,
        other => other,
    };
    let rx_backend = match backend {
        Backend::Plain => Backend::Plain,
        _ => Backend::Ulp,
    };
    let tx = Endpoint::new(tx_backend, suite, c, &ck, CHUNK, RX_SIZE)?;
    let mut rx = Endpoint::new(rx_backend, suite, s, &sk, CHUNK, RX_SIZE)?;
    tx.set_timeouts(TIMEOUT_SECS)?;
    rx.set_timeouts(TIMEOUT_SECS)?;
    let sealer = match backend {
        Backend::Userspace => {
            let sealer = Sealer::new(backend.engine(), suite, &ck.tx)?;
            let wire = vec![0u8; CHUNK + CHUNK.div_ceil(MAX_PLAINTEXT_LEN) * sealer.overhead()];
            Some((sealer, vec![0u8; CHUNK], wire))
        }
        _ => None,
    };
    let verifier = pattern.verifier(opts.timed_check);
    let timed = file_len - verify;
    let (a, b, before, after) = two_sides(
        |bar| sender(backend, &tx, sealer, file, verify, file_len, bar),
        |bar| receive(&mut rx, verifier, verify, timed, bar),
    );
    let mut m = Measurement::new(
        "sendfile",
        &format!("{} file", suite.name()),
        backend.name(),
        rep,
    );
    m.suite = Some(suite.name());
    m.size = Some(file_len);
    m.set_counters(&before, &after);
    finish(&mut m, &a, &b, timed, opts.timed_check);
    Ok(m)
}

pub fn run(opts: &Opts, sink: &mut Sink) {
    let suite = Suite::TLS13_AES128;
    let backends = [
        Backend::AfKtls,
        Backend::Ulp,
        Backend::UlpZc,
        Backend::Userspace,
        Backend::Plain,
    ];
    let file_len = opts.amount(32 << 20, 512 * 1024);
    let config = format!("{} file", suite.name());
    // One file for the whole scenario, written once (untimed): every row reads the same pages.
    let pattern = Pattern::new(CHUNK, seed("sendfile", 0, file_len));
    let file = match write_file(opts, &pattern, file_len) {
        Ok(f) => f,
        Err(e) => {
            let mut m = Measurement::new("sendfile", &config, "af_ktls", 0);
            m.fail(format!("writing the file to {}: {e}", opts.tmpdir));
            sink.push(m);
            return;
        }
    };
    for rep in 0..opts.reps() {
        for backend in interleaved(&backends, rep) {
            let mut fallback = Measurement::new("sendfile", &config, backend.name(), rep);
            fallback.metric = "MiB/s".into();
            let m = measure(opts, backend, suite, rep, (&file, &pattern, file_len));
            push_result(sink, m, fallback);
        }
    }
}
