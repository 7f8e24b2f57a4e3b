//! Kernel counters read around a timed pass: af_ktls's `/proc/net/af_ktls`, mainline's
//! `/proc/net/tls_stat`, and memory from `/proc/meminfo`.

use std::collections::BTreeMap;

/// `Name value` lines of a /proc file (af_ktls and tls_stat use this format).
fn read_pairs(path: &str) -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(path) {
        for line in text.lines() {
            let mut it = line.split_whitespace();
            if let (Some(name), Some(value)) = (it.next(), it.next()) {
                if let Ok(v) = value.parse() {
                    map.insert(name.to_string(), v);
                }
            }
        }
    }
    map
}

/// A snapshot of both modules' counters.
#[derive(Clone, Debug, Default)]
pub struct Snapshot(BTreeMap<String, u64>);

impl Snapshot {
    pub fn take() -> Self {
        let mut all = read_pairs("/proc/net/af_ktls");
        all.extend(read_pairs("/proc/net/tls_stat"));
        Snapshot(all)
    }

    /// The counters that changed since `before` (gauges such as TlsCurrTxSw may go down).
    pub fn delta(&self, before: &Snapshot) -> BTreeMap<String, i64> {
        self.0
            .iter()
            .filter_map(|(name, &after)| {
                let was = before.0.get(name).copied().unwrap_or(0);
                let d = after as i64 - was as i64;
                // Gauges of open sockets (TlsCurrTxSw...) say nothing about a timed pass.
                (d != 0 && !name.starts_with("TlsCurr")).then(|| (name.clone(), d))
            })
            .collect()
    }

    /// Whether af_ktls publishes `name` at all (counters the module does not have yet are
    /// reported as absent, not as zero).
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// `/proc/meminfo` in KiB.
pub fn meminfo() -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string("/proc/meminfo") {
        for line in text.lines() {
            let Some((name, rest)) = line.split_once(':') else {
                continue;
            };
            if let Some(v) = rest.split_whitespace().next().and_then(|v| v.parse().ok()) {
                map.insert(name.to_string(), v);
            }
        }
    }
    map
}
