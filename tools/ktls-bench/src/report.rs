//! Host side: the results file of one `make bench`, its tables and its charts.
//!
//! Every comparison is a ratio of medians taken in the same run (same boot, same QEMU mode):
//! absolute figures from an emulated CPU mean little on their own.

use crate::measure::Measurement;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `build/bench/results.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Results {
    /// Commit, kernel release, QEMU version and modes, date, CPUs...
    pub meta: BTreeMap<String, String>,
    pub runs: Vec<Run>,
}

/// All measurements of one VM boot.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Run {
    /// `icount` (instruction counting, deterministic: the primary figures) or `tcg` (wall clock).
    pub mode: String,
    pub measurements: Vec<Measurement>,
}

pub fn collect(out: &str, runs: &[String], meta: &[String]) -> Result<(), String> {
    let mut results = Results::default();
    for kv in meta {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--meta {kv}: expected KEY=VALUE"))?;
        results.meta.insert(k.to_string(), v.to_string());
    }
    for spec in runs {
        let (mode, path) = spec
            .split_once('=')
            .ok_or_else(|| format!("--run {spec}: expected MODE=FILE"))?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let mut measurements = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let m: Measurement =
                serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", i + 1))?;
            measurements.push(m);
        }
        results.runs.push(Run {
            mode: mode.to_string(),
            measurements,
        });
    }
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(out, json + "\n").map_err(|e| format!("{out}: {e}"))
}

/// The repetitions of one backend in one configuration.
#[derive(Debug, Clone)]
pub struct Cell {
    pub backend: String,
    pub metric: String,
    pub higher_is_better: bool,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub ok: bool,
    /// Measurements, and how many of them failed (wrong data, a stall).
    pub runs: usize,
    pub failed: usize,
    /// The medians of the per-measurement explanatory figures.
    pub records_per_mib: Option<f64>,
    pub syscalls_per_mib: Option<f64>,
    pub sys_share: Option<f64>,
    pub copies_per_byte: Option<f64>,
    pub allocs_per_record: Option<f64>,
    pub loss: Option<f64>,
    pub extra: BTreeMap<String, f64>,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn median_of(ms: &[&Measurement], f: impl Fn(&Measurement) -> Option<f64>) -> Option<f64> {
    let mut v: Vec<f64> = ms.iter().filter_map(|m| f(m)).collect();
    (!v.is_empty()).then(|| median(&mut v))
}

impl Cell {
    fn new(ms: &[&Measurement]) -> Self {
        let first = ms[0];
        let mut values: Vec<f64> = ms.iter().filter(|m| m.ok).map(|m| m.value).collect();
        let mut sorted = values.clone();
        let med = median(&mut sorted);
        let mib = |m: &Measurement| m.bytes as f64 / (1024.0 * 1024.0);
        let mut extra = BTreeMap::new();
        let keys: Vec<String> = first.extra.keys().cloned().collect();
        for k in keys {
            if let Some(v) = median_of(ms, |m| m.extra.get(&k).copied()) {
                extra.insert(k, v);
            }
        }
        values.sort_by(|a, b| a.total_cmp(b));
        Cell {
            backend: first.backend.clone(),
            metric: first.metric.clone(),
            higher_is_better: first.higher_is_better,
            min: values.first().copied().unwrap_or(f64::NAN),
            max: values.last().copied().unwrap_or(f64::NAN),
            median: med,
            ok: ms.iter().all(|m| m.ok),
            runs: ms.len(),
            failed: ms.iter().filter(|m| !m.ok).count(),
            records_per_mib: median_of(ms, |m| {
                let r = m.records_tx.or(m.records_rx)?;
                (m.bytes > 0).then(|| r as f64 / mib(m))
            }),
            syscalls_per_mib: median_of(ms, |m| {
                let s = m.syscalls?;
                (m.bytes > 0 && m.metric == "MiB/s").then(|| s as f64 / mib(m))
            }),
            sys_share: median_of(ms, |m| {
                let t = m.cpu_user + m.cpu_sys;
                (t > 0.0).then(|| m.cpu_sys / t)
            }),
            copies_per_byte: median_of(ms, |m| m.copies_per_byte),
            allocs_per_record: median_of(ms, |m| m.allocs_per_record),
            loss: median_of(ms, |m| m.loss.map(|l| l as f64)),
            extra,
        }
    }

    /// (max - min) / median, in percent.
    pub fn spread(&self) -> f64 {
        if self.median > 0.0 {
            (self.max - self.min) / self.median * 100.0
        } else {
            f64::NAN
        }
    }
}

/// One scenario's results: configurations in the order measured, each with its backends.
pub struct Table {
    pub scenario: String,
    pub configs: Vec<(String, Vec<Cell>)>,
}

/// A configuration's measurements, backend by backend.
type ConfigGroup<'a> = (String, Vec<(String, Vec<&'a Measurement>)>);

pub fn tables(ms: &[Measurement]) -> Vec<Table> {
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<String, Vec<ConfigGroup<'_>>> = BTreeMap::new();
    for m in ms {
        if !order.contains(&m.scenario) {
            order.push(m.scenario.clone());
        }
        let configs = by.entry(m.scenario.clone()).or_default();
        let ci = match configs.iter().position(|(c, _)| *c == m.config) {
            Some(i) => i,
            None => {
                configs.push((m.config.clone(), Vec::new()));
                configs.len() - 1
            }
        };
        let backends = &mut configs[ci].1;
        match backends.iter_mut().find(|(b, _)| *b == m.backend) {
            Some((_, v)) => v.push(m),
            None => backends.push((m.backend.clone(), vec![m])),
        }
    }
    order
        .into_iter()
        .map(|scenario| {
            let mut configs = by.remove(&scenario).unwrap_or_default();
            // Backends in a fixed order, whatever order the first repetition ran them in.
            for (_, backends) in &mut configs {
                backends.sort_by_key(|(b, _)| backend_rank(b));
            }
            Table {
                scenario,
                configs: configs
                    .into_iter()
                    .map(|(c, bs)| (c, bs.iter().map(|(_, v)| Cell::new(v)).collect()))
                    .collect(),
            }
        })
        .collect()
}

fn backend_rank(b: &str) -> usize {
    const ORDER: [&str; 11] = [
        "af_ktls",
        "af_ktls-inline",
        "ulp",
        "ulp-zc",
        "userspace",
        "userspace-ring",
        "plain",
        "kernel-seal",
        "kernel-open",
        "openssl-seal",
        "openssl-open",
    ];
    ORDER.iter().position(|o| *o == b).unwrap_or(ORDER.len())
}

fn find<'a>(cells: &'a [Cell], backend: &str) -> Option<&'a Cell> {
    cells
        .iter()
        .find(|c| c.backend == backend && c.median.is_finite())
}

/// `cell / reference` when both exist.
fn ratio(cells: &[Cell], cell: &Cell, reference: &str) -> Option<f64> {
    let r = find(cells, reference)?;
    (r.median > 0.0 && cell.median.is_finite()).then(|| cell.median / r.median)
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "n/a".into(),
    }
}

fn fmt_ratio(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.2}x"),
        _ => "-".into(),
    }
}

/// The table of one scenario, as fixed-width text or Markdown.
fn render_table(t: &Table, markdown: bool, ceiling: Option<&Table>) -> String {
    let headers = [
        "config",
        "backend",
        "median",
        "metric",
        "spread",
        "vs ulp",
        "vs userspace",
        "vs plain",
        "sys CPU",
        "records/MiB",
        "syscalls/MiB",
        "copies/B",
        "allocs/rec",
        "notes",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (config, cells) in &t.configs {
        for c in cells {
            let mut notes = Vec::new();
            if !c.ok {
                let ok = c.runs - c.failed;
                notes.push(format!(
                    "FAILED {} of {} (median of the {ok} others)",
                    c.failed, c.runs
                ));
            }
            if !c.higher_is_better {
                notes.push("lower is better".to_string());
            }
            if let Some(l) = c.loss {
                notes.push(format!("lost {l:.0}"));
            }
            for (k, v) in &c.extra {
                match k.as_str() {
                    "us_per_round_trip" => notes.push(format!("{v:.1} us/round trip")),
                    "us_per_setup" => notes.push(format!("{v:.1} us/set-up")),
                    "MemFree_drop_kib_per_conn" => notes.push(format!("MemFree drop {v:.1} KiB")),
                    k if k.starts_with("us_") && k != "us_per_setup" => {
                        notes.push(format!("{} {v:.1} us", &k[3..]))
                    }
                    "ns_per_record" => notes.push(format!("{v:.0} ns/record")),
                    _ => {}
                }
            }
            if let Some(ceil) = ceiling.and_then(|ct| tx_fraction(t, config, c, ct)) {
                notes.push(format!("{:.0} % of kernel-seal", ceil * 100.0));
            }
            rows.push(vec![
                config.clone(),
                c.backend.clone(),
                if !c.median.is_finite() {
                    "-".into()
                } else if c.median.abs() >= 1000.0 {
                    format!("{:.0}", c.median)
                } else {
                    format!("{:.1}", c.median)
                },
                c.metric.clone(),
                if c.spread().is_finite() {
                    format!("{:.1}%", c.spread())
                } else {
                    "-".into()
                },
                if c.backend == "ulp" {
                    "".into()
                } else {
                    fmt_ratio(ratio(cells, c, "ulp"))
                },
                if c.backend == "userspace" {
                    "".into()
                } else {
                    fmt_ratio(ratio(cells, c, "userspace"))
                },
                if c.backend == "plain" {
                    "".into()
                } else {
                    fmt_ratio(ratio(cells, c, "plain"))
                },
                c.sys_share
                    .map(|s| format!("{:.0}%", s * 100.0))
                    .unwrap_or_else(|| "n/a".into()),
                fmt_opt(c.records_per_mib, 1),
                fmt_opt(c.syscalls_per_mib, 1),
                fmt_opt(c.copies_per_byte, 2),
                fmt_opt(c.allocs_per_record, 2),
                notes.join(", "),
            ]);
        }
    }
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "| {} |", headers.join(" | "));
        let _ = writeln!(
            out,
            "|{}",
            headers
                .iter()
                .enumerate()
                .map(|(i, _)| if (2..13).contains(&i) {
                    "---:|"
                } else {
                    "---|"
                })
                .collect::<String>()
        );
        for r in &rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
    } else {
        let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
        for r in &rows {
            for (i, f) in r.iter().enumerate() {
                widths[i] = widths[i].max(f.len());
            }
        }
        let line = |fields: Vec<String>| {
            fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if (2..13).contains(&i) {
                        format!("{f:>w$}", w = widths[i])
                    } else {
                        format!("{f:<w$}", w = widths[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let _ = writeln!(
            out,
            "{}",
            line(headers.iter().map(|h| h.to_string()).collect())
        );
        let mut last = String::new();
        for r in rows {
            if r[0] != last && !last.is_empty() {
                out.push('\n');
            }
            last = r[0].clone();
            let _ = writeln!(out, "{}", line(r));
        }
    }
    out
}

/// The `tx-path` rows of the ceiling scenario as a fraction of `kernel-seal` (same cipher, same
/// record size).
fn tx_fraction(t: &Table, config: &str, c: &Cell, ceiling: &Table) -> Option<f64> {
    if t.scenario != "ceiling" || !config.ends_with("tx-path") {
        return None;
    }
    let mut words = config.split_whitespace();
    let suite = words.next()?;
    let size = words.next()?;
    let cipher = suite.split_once('-')?.1;
    let (_, cells) = ceiling
        .configs
        .iter()
        .find(|(cc, _)| *cc == format!("{cipher} {size}"))?;
    let seal = find(cells, "kernel-seal")?;
    Some(c.median / seal.median)
}

/// The targets, and where each stands in this run.
fn targets(tables: &[Table]) -> Vec<(String, String, Option<bool>)> {
    let get = |scenario: &str| tables.iter().find(|t| t.scenario == scenario);
    let mut out = Vec::new();
    let mut pair =
        |scenario: &str, filter: &dyn Fn(&str) -> bool, reference: &str, goal: f64, what: &str| {
            let Some(t) = get(scenario) else {
                return;
            };
            let mut ratios = Vec::new();
            for (config, cells) in &t.configs {
                if !filter(config) {
                    continue;
                }
                if let (Some(a), Some(_)) = (find(cells, "af_ktls"), find(cells, reference)) {
                    if let Some(r) = ratio(cells, a, reference) {
                        ratios.push((config.clone(), r));
                    }
                }
            }
            if ratios.is_empty() {
                out.push((what.to_string(), "not measured".to_string(), None));
                return;
            }
            let worst = ratios
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(c, r)| format!("{r:.2}x ({c})"))
                .unwrap_or_default();
            let best = ratios
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(c, r)| format!("{r:.2}x ({c})"))
                .unwrap_or_default();
            let met = ratios.iter().all(|(_, r)| *r >= goal);
            let range = if ratios.len() == 1 {
                worst
            } else {
                format!("worst {worst}, best {best}")
            };
            out.push((what.to_string(), range, Some(met)));
        };
    pair(
        "ahead",
        &|_| true,
        "af_ktls-inline",
        1.05,
        "ahead (2 CPUs, wall clock): af_ktls >= 1.05x af_ktls-inline (decrypt-ahead off)",
    );
    pair(
        "pingpong",
        &|_| true,
        "af_ktls-inline",
        0.97,
        "ping-pong: decrypt-ahead no slower than without (af_ktls >= 0.97x af_ktls-inline)",
    );
    pair(
        "stream",
        &|_| true,
        "ulp",
        1.15,
        "stream: af_ktls >= 1.15x ulp (every size and cipher)",
    );
    pair(
        "stream",
        &|_| true,
        "userspace",
        1.25,
        "stream: af_ktls >= 1.25x userspace",
    );
    pair(
        "sendfile",
        &|_| true,
        "userspace",
        1.4,
        "sendfile: af_ktls >= 1.4x userspace read+encrypt+send",
    );
    pair(
        "sendfile",
        &|_| true,
        "ulp",
        1.1,
        "sendfile: af_ktls >= 1.1x ulp sendfile",
    );
    pair(
        "splice",
        &|_| true,
        "userspace",
        1.2,
        "splice relay: af_ktls >= 1.2x userspace (both directions)",
    );
    pair(
        "dtls",
        &|_| true,
        "userspace",
        1.2,
        "DTLS: af_ktls >= 1.2x userspace",
    );
    pair(
        "pingpong",
        &|_| true,
        "ulp",
        1.0,
        "ping-pong: af_ktls >= 1.0x ulp",
    );
    if let Some(t) = get("ceiling") {
        let frac = t.configs.iter().find_map(|(config, cells)| {
            let c = find(cells, "af_ktls")?;
            tx_fraction(t, config, c, t)
        });
        out.push((
            "TX at 16 KiB >= 80 % of the kernel AEAD (tx-path vs kernel-seal)".into(),
            frac.map(|f| format!("{:.0} %", f * 100.0))
                .unwrap_or_else(|| "not measured".into()),
            frac.map(|f| f >= 0.8),
        ));
    }
    out
}

pub fn report(path: &str, svg_dir: Option<&str>, markdown: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let results: Results = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let dir = svg_dir
        .map(str::to_string)
        .or_else(|| {
            std::path::Path::new(path)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| ".".into());
    println!("af_ktls benchmark: {path}");
    for (k, v) in &results.meta {
        println!("  {k}: {v}");
    }
    for (i, run) in results.runs.iter().enumerate() {
        let ts = tables(&run.measurements);
        let role = if i == 0 { "primary" } else { "secondary" };
        println!();
        if markdown {
            println!("### Mode `{}` ({role})", run.mode);
        } else {
            println!("===== mode {} ({role}) =====", run.mode);
        }
        let ceiling = ts.iter().find(|t| t.scenario == "ceiling");
        for t in &ts {
            println!();
            if markdown {
                println!("#### {}", t.scenario);
                println!();
            } else {
                println!("--- {}", t.scenario);
            }
            print!("{}", render_table(t, markdown, ceiling));
            if t.scenario != "interop" {
                let suffix = if i == 0 {
                    String::new()
                } else {
                    format!("-{}", run.mode)
                };
                let file = format!("{dir}/{}{suffix}.svg", t.scenario);
                chart(t, &run.mode, &file).map_err(|e| format!("{file}: {e}"))?;
            }
        }
        println!();
        if markdown {
            println!("#### Targets ({})", run.mode);
            println!();
            println!("| target | measured | met |");
            println!("|---|---|---|");
        } else {
            println!("--- targets ({}: ratios of medians in this run)", run.mode);
        }
        for (what, measured, met) in targets(&ts) {
            let met = match met {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            if markdown {
                println!("| {what} | {measured} | {met} |");
            } else {
                println!("{met:<4} {what}: {measured}");
            }
        }
    }
    Ok(())
}

const COLORS: [RGBColor; 11] = [
    RGBColor(0xd6, 0x27, 0x28), // af_ktls: red
    RGBColor(0xe3, 0x77, 0xc2), // af_ktls-inline
    RGBColor(0x1f, 0x77, 0xb4), // ulp
    RGBColor(0x17, 0xbe, 0xcf), // ulp-zc
    RGBColor(0x2c, 0xa0, 0x2c), // userspace
    RGBColor(0x98, 0xdf, 0x8a), // userspace-ring
    RGBColor(0x7f, 0x7f, 0x7f), // plain
    RGBColor(0x94, 0x67, 0xbd), // kernel-seal
    RGBColor(0xc5, 0xb0, 0xd5), // kernel-open
    RGBColor(0xff, 0x7f, 0x0e), // openssl-seal
    RGBColor(0xff, 0xbb, 0x78), // openssl-open
];

/// Bars higher than this many times the reference are cut (and labelled with their value).
const Y_CAP: f64 = 2.5;

/// A configuration as an axis label: `tls13-aes128gcm 16384` → `1.3 AES128 16384`.
fn short_label(config: &str) -> String {
    config
        .replace("dtls12-", "DTLS ")
        .replace("tls12-", "1.2 ")
        .replace("tls13-", "1.3 ")
        .replace("aes128gcm", "AES128")
        .replace("aes256gcm", "AES256")
        .replace("chacha20poly1305", "ChaCha")
}

/// The reference a configuration's bars are divided by: mainline where it is measured, else
/// the kernel's AEAD, else userspace. The ceiling's `tx-path` rows are divided by the kernel's
/// AEAD sealing records of the same cipher and size, so their bars read as fractions of it.
fn reference<'a>(t: &'a Table, config: &str, cells: &'a [Cell]) -> Option<&'a Cell> {
    if t.scenario == "ceiling" && config.ends_with("tx-path") {
        let mut words = config.split_whitespace();
        if let (Some(suite), Some(size)) = (words.next(), words.next()) {
            let cipher = suite.split_once('-').map_or(suite, |(_, c)| c);
            let aead = format!("{cipher} {size}");
            if let Some((_, aead_cells)) = t.configs.iter().find(|(c, _)| *c == aead) {
                if let Some(seal) = find(aead_cells, "kernel-seal") {
                    return Some(seal);
                }
            }
        }
    }
    ["ulp", "kernel-seal", "userspace"]
        .iter()
        .find_map(|r| find(cells, r))
        .or_else(|| cells.iter().find(|c| c.median.is_finite()))
}

/// One grouped bar chart: per configuration, every backend's median relative to the
/// configuration's reference backend, with its min–max as a whisker.
fn chart(t: &Table, mode: &str, file: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut backends: Vec<String> = Vec::new();
    for (_, cells) in &t.configs {
        for c in cells {
            if !backends.contains(&c.backend) {
                backends.push(c.backend.clone());
            }
        }
    }
    backends.sort_by_key(|b| backend_rank(b));
    let n = t.configs.len().max(1);
    let refs: Vec<Option<&Cell>> = t
        .configs
        .iter()
        .map(|(config, cells)| reference(t, config, cells))
        .collect();
    let mut ymax: f64 = 1.2;
    for ((_, cells), r) in t.configs.iter().zip(&refs) {
        if let Some(r) = r {
            for c in cells {
                if r.median > 0.0 && c.max.is_finite() {
                    ymax = ymax.max((c.max / r.median * 1.1).min(Y_CAP));
                }
            }
        }
    }
    let width = (160 + 120 * n as u32).max(640);
    let root = SVGBackend::new(file, (width, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    // Room above the bars for the legend.
    ymax *= 1.25;
    let mut refs_unique: Vec<&str> = Vec::new();
    for r in refs.iter().flatten() {
        if !refs_unique.contains(&r.backend.as_str()) {
            refs_unique.push(r.backend.as_str());
        }
    }
    let caption = format!(
        "{} ({mode}): median relative to {} = 1, whiskers min-max",
        t.scenario,
        refs_unique.join(" / ")
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(70)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..n as f64, 0f64..ymax)?;
    let labels: Vec<String> = t.configs.iter().map(|(c, _)| short_label(c)).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("relative to the reference")
        .draw()?;
    // The reference line.
    chart.draw_series(LineSeries::new(
        [(0.0, 1.0), (n as f64, 1.0)],
        BLACK.mix(0.5).stroke_width(1),
    ))?;
    for backend in &backends {
        let color = COLORS[backend_rank(backend).min(COLORS.len() - 1)];
        let mut rects = Vec::new();
        let mut whiskers = Vec::new();
        let mut labels_over = Vec::new();
        for (gi, ((_, cells), r)) in t.configs.iter().zip(&refs).enumerate() {
            let (Some(r), Some(c)) = (r, find(cells, backend)) else {
                continue;
            };
            if r.median <= 0.0 {
                continue;
            }
            // Bars side by side within the group, in the fixed backend order.
            let present: Vec<&str> = backends
                .iter()
                .filter(|b| find(cells, b).is_some())
                .map(String::as_str)
                .collect();
            let bi = present.iter().position(|b| b == backend).unwrap_or(0);
            let bar = 0.8 / present.len().max(1) as f64;
            let x0 = gi as f64 + 0.1 + bi as f64 * bar;
            let x1 = x0 + bar * 0.9;
            let rel = c.median / r.median;
            rects.push(Rectangle::new(
                [(x0, 0.0), (x1, rel.min(ymax))],
                color.filled(),
            ));
            let xm = (x0 + x1) / 2.0;
            if rel > ymax {
                // Off the scale (plain TCP, mostly): the bar is cut and labelled.
                labels_over.push(Text::new(
                    format!("{rel:.1}x"),
                    (x0, ymax * 0.97),
                    ("sans-serif", 11).into_font().color(&BLACK),
                ));
            } else {
                whiskers.push(PathElement::new(
                    vec![(xm, c.min / r.median), (xm, (c.max / r.median).min(ymax))],
                    BLACK.stroke_width(1),
                ));
            }
        }
        chart
            .draw_series(rects)?
            .label(backend.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        chart.draw_series(whiskers)?;
        chart.draw_series(labels_over)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(config: &str, backend: &str, value: f64) -> Measurement {
        let mut m = Measurement::new("stream", config, backend, 0);
        m.metric = "MiB/s".into();
        m.value = value;
        m.bytes = 1 << 20;
        m
    }

    #[test]
    fn medians_ratios_and_targets() {
        let ms = vec![
            m("a 1", "af_ktls", 10.0),
            m("a 1", "af_ktls", 12.0),
            m("a 1", "af_ktls", 11.0),
            m("a 1", "ulp", 20.0),
            m("a 1", "userspace", 5.0),
        ];
        let ts = tables(&ms);
        assert_eq!(ts.len(), 1);
        let cells = &ts[0].configs[0].1;
        let a = find(cells, "af_ktls").expect("af_ktls");
        assert_eq!(a.median, 11.0);
        assert!((a.spread() - 2.0 / 11.0 * 100.0).abs() < 1e-9);
        assert_eq!(ratio(cells, a, "ulp"), Some(0.55));
        let t = targets(&ts);
        assert_eq!(t[0].2, Some(false));
        assert_eq!(t[1].2, Some(true));
        let text = render_table(&ts[0], false, None);
        assert!(text.contains("0.55x"), "{text}");
    }

    #[test]
    fn charts_need_no_fonts() {
        let ms = vec![
            m("a 1", "af_ktls", 10.0),
            m("a 1", "ulp", 20.0),
            m("b 2", "ulp", 3.0),
        ];
        let ts = tables(&ms);
        let dir = std::env::temp_dir().join(format!("ktls-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("stream.svg");
        chart(&ts[0], "icount", file.to_str().expect("utf-8")).expect("chart");
        let svg = std::fs::read_to_string(&file).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("af_ktls"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
