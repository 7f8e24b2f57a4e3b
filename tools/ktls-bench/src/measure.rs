//! One measurement: what is recorded, how two ends are timed, and where results go.

use crate::counters::Snapshot;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Barrier;
use std::time::Instant;

/// One line of the raw results (JSON Lines). Throughputs are plaintext bytes over guest time.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Measurement {
    pub scenario: String,
    /// What the backends of one comparison share, e.g. `tls13-aes128gcm 16384`.
    pub config: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    pub backend: String,
    pub rep: u32,
    /// The figure compared: `MiB/s`, `round trips/s`, `setups/s`, `KiB/connection`.
    pub metric: String,
    pub value: f64,
    /// Whether more of `value` is better (false for memory).
    pub higher_is_better: bool,
    pub bytes: u64,
    pub seconds: f64,
    pub cpu_user: f64,
    pub cpu_sys: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_tx: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_rx: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscalls: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<u64>,
    /// af_ktls and mainline counters that moved during the timed pass.
    #[serde(default)]
    pub counters: BTreeMap<String, i64>,
    /// af_ktls's `KtlsTxCopyBytes + KtlsRxCopyBytes` per plaintext byte, when it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies_per_byte: Option<f64>,
    /// af_ktls's `KtlsTxAllocs + KtlsRxAllocs` per record, when it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocs_per_record: Option<f64>,
    /// How the data was checked: `full+sparse` (a fully compared verification pass, then the
    /// timed pass compared sparsely), `full`, `count`...
    pub check: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Scenario-specific figures (e.g. memory deltas).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f64>,
}

impl Measurement {
    pub fn new(scenario: &str, config: &str, backend: &str, rep: u32) -> Self {
        Measurement {
            scenario: scenario.into(),
            config: config.into(),
            backend: backend.into(),
            rep,
            higher_is_better: true,
            ok: true,
            ..Default::default()
        }
    }

    pub fn fail(&mut self, why: impl std::fmt::Display) {
        self.ok = false;
        let why = why.to_string();
        self.error = Some(match self.error.take() {
            Some(prev) => format!("{prev}; {why}"),
            None => why,
        });
    }

    /// Fills the counter deltas and the per-byte / per-record figures derived from them.
    pub fn set_counters(&mut self, before: &Snapshot, after: &Snapshot) {
        let d = after.delta(before);
        let get = |n: &str| d.get(n).copied().unwrap_or(0);
        if after.has("KtlsTxCopyBytes") && self.bytes > 0 {
            let copied = get("KtlsTxCopyBytes") + get("KtlsRxCopyBytes");
            self.copies_per_byte = Some(copied as f64 / self.bytes as f64);
        }
        if after.has("KtlsTxAllocs") {
            let records = get("KtlsTxRecords") + get("KtlsRxRecords");
            if records > 0 {
                let allocs = get("KtlsTxAllocs") + get("KtlsRxAllocs");
                self.allocs_per_record = Some(allocs as f64 / records as f64);
            }
        }
        self.counters = d;
    }

    /// Sets `value` to MiB/s of `bytes` over `seconds`.
    pub fn set_throughput(&mut self, bytes: u64, seconds: f64) {
        self.bytes = bytes;
        self.seconds = seconds;
        self.metric = "MiB/s".into();
        self.value = if seconds > 0.0 {
            bytes as f64 / seconds / (1024.0 * 1024.0)
        } else {
            0.0
        };
    }
}

/// What one thread of a measurement reports.
#[derive(Debug, Default)]
pub struct Side {
    /// When its timed part started / ended (the sender stamps the start, the receiver the end).
    pub start: Option<Instant>,
    pub end: Option<Instant>,
    pub cpu: (f64, f64),
    pub syscalls: u64,
    pub bytes: u64,
    pub mismatches: u64,
    pub records: Option<u64>,
    pub error: Option<String>,
}

/// Measures a thread's CPU time from `begin` on.
pub struct CpuClock((f64, f64));

impl CpuClock {
    pub fn begin() -> Self {
        CpuClock(crate::sys::thread_cpu())
    }

    pub fn elapsed(&self) -> (f64, f64) {
        let (u, s) = crate::sys::thread_cpu();
        (u - self.0 .0, s - self.0 .1)
    }
}

/// Where the threads of a measurement meet between their untimed part (set-up, verification
/// pass) and their timed part. The thread that runs the measurement reads the counters while
/// every side waits in between, so they cover exactly the timed part.
pub struct Gate {
    barrier: Barrier,
}

impl Gate {
    /// Called exactly once by every side: returns when all have finished their untimed part
    /// and the counters have been read.
    pub fn wait(&self) {
        self.barrier.wait();
        self.barrier.wait();
    }
}

/// A thread of a measurement: it calls [`Gate::wait`] exactly once, between its untimed part
/// and its timed part, and reports what it did.
pub type SideFn<'a> = Box<dyn FnOnce(&Gate) -> Side + Send + 'a>;

/// Runs each of `sides` on its own thread and returns their reports, plus the counters around
/// the timed part (taken while every side waits at the gate, and after every side has ended).
pub fn run_sides(sides: Vec<SideFn<'_>>) -> (Vec<Side>, Snapshot, Snapshot) {
    let gate = Gate {
        barrier: Barrier::new(sides.len() + 1),
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = sides
            .into_iter()
            .map(|f| {
                let gate = &gate;
                s.spawn(move || f(gate))
            })
            .collect();
        gate.barrier.wait();
        let before = Snapshot::take();
        gate.barrier.wait();
        let reports = handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Side {
                    error: Some("thread panicked".into()),
                    ..Default::default()
                })
            })
            .collect();
        let after = Snapshot::take();
        (reports, before, after)
    })
}

/// [`run_sides`] for a sender `a` and a receiver `b`.
pub fn two_sides<'a, A, B>(a: A, b: B) -> (Side, Side, Snapshot, Snapshot)
where
    A: FnOnce(&Gate) -> Side + Send + 'a,
    B: FnOnce(&Gate) -> Side + Send + 'a,
{
    let (mut sides, before, after) = run_sides(vec![Box::new(a), Box::new(b)]);
    let rb = sides.pop().unwrap_or_default();
    let ra = sides.pop().unwrap_or_default();
    (ra, rb, before, after)
}

/// Where measurements go: one JSON object per line in the results file, and a short line on
/// stdout.
pub struct Sink {
    file: Option<std::fs::File>,
    pub all: Vec<Measurement>,
    quiet: bool,
}

impl Sink {
    pub fn new(path: Option<&str>, quiet: bool) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(Sink {
            file,
            all: Vec::new(),
            quiet,
        })
    }

    pub fn push(&mut self, m: Measurement) {
        crate::debug::lap(&format!("{} {} {}", m.scenario, m.config, m.backend));
        if !self.quiet {
            let status = if m.ok { "ok" } else { "FAILED" };
            println!(
                "{:<9} {:<28} {:<16} rep {} {:>10.2} {:<14} {}{}",
                m.scenario,
                m.config,
                m.backend,
                m.rep,
                m.value,
                m.metric,
                status,
                m.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
        if let Some(f) = &mut self.file {
            if let Ok(line) = serde_json::to_string(&m) {
                let _ = writeln!(f, "{line}");
            }
        }
        self.all.push(m);
    }
}

/// Backends in a different order for each repetition, so that no backend always runs first
/// (caches, TCP autotuning, memory layout) or right after the same neighbour.
pub fn interleaved<T: Copy>(items: &[T], rep: u32) -> Vec<T> {
    let n = items.len();
    if n == 0 {
        return Vec::new();
    }
    let shift = rep as usize % n;
    let mut order: Vec<T> = items[shift..]
        .iter()
        .chain(&items[..shift])
        .copied()
        .collect();
    if rep as usize / n % 2 == 1 {
        order.reverse();
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_rotates() {
        assert_eq!(interleaved(&[1, 2, 3], 0), vec![1, 2, 3]);
        assert_eq!(interleaved(&[1, 2, 3], 1), vec![2, 3, 1]);
        assert_eq!(interleaved(&[1, 2, 3], 2), vec![3, 1, 2]);
        assert_eq!(interleaved(&[1, 2, 3], 3), vec![3, 2, 1]);
    }
}
