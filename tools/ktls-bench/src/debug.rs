//! `KTLS_BENCH_DEBUG=1`: what the kernel looked like when a measurement went wrong or slow.
//! Diagnostics only: nothing here changes a measurement.

use std::sync::Mutex;
use std::time::Instant;

pub fn enabled() -> bool {
    std::env::var_os("KTLS_BENCH_DEBUG").is_some()
}

/// Prints the counters and the TCP sockets' state (`ss -tmni` when it exists: queues, socket
/// memory, windows, timers) to stderr.
pub fn dump(what: &str) {
    if !enabled() {
        return;
    }
    eprintln!("DEBUG {what}");
    for f in ["/proc/net/af_ktls", "/proc/net/tcp"] {
        eprintln!("{}", std::fs::read_to_string(f).unwrap_or_default());
    }
    let _ = std::process::Command::new("ss").arg("-tmnie").status();
}

/// Prints how long it has been since the previous measurement ended (set-up and verification
/// passes included, which the figures leave out).
pub fn lap(label: &str) {
    if !enabled() {
        return;
    }
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    if let Some(t) = *last {
        eprintln!(
            "DEBUG {label}: {:.3} s since the previous measurement",
            (now - t).as_secs_f64()
        );
    }
    *last = Some(now);
}
