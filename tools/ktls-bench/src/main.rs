//! `ktls-bench`: the benchmark behind `make bench` (see Documentation/benchmarks.md).
//!
//! * `ktls-bench run` runs inside the test VM: every backend of each scenario in one boot,
//!   interleaved and repeated, one JSON object per measurement.
//! * `ktls-bench collect` (host) gathers the runs of one `make bench` into one results file with
//!   the commit, kernel and QEMU mode.
//! * `ktls-bench report` (host) prints the tables and writes one SVG chart per scenario.

mod aead;
mod counters;
mod debug;
mod endpoint;
mod keys;
mod measure;
mod pattern;
mod record;
mod report;
mod scenario;
mod sys;

use clap::{Parser, Subcommand};
use measure::Sink;
use pattern::Check;
use scenario::Opts;
use std::collections::BTreeMap;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ktls-bench",
    about = "af_ktls against mainline kTLS, userspace TLS and plain sockets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (inside the test VM, with af_ktls loaded).
    Run {
        /// Scenarios to run (default: all): ceiling, stream, sendfile, splice, dtls, pingpong,
        /// setup.
        #[arg(long = "scenario", value_name = "NAME")]
        scenarios: Vec<String>,
        /// Tiny sizes and one repetition; prints PASS/FAIL per scenario and backend and fails
        /// if any backend moved wrong data (make check). Asserts correctness, never speed.
        #[arg(long)]
        smoke: bool,
        /// Repetitions of each measurement.
        #[arg(long, default_value_t = 3)]
        reps: u32,
        /// Multiplies the default amount of data of every measurement.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// How the timed pass checks the data: sparse (each chunk's counter and a sample) or
        /// full (every byte). The verification pass always compares every byte.
        #[arg(long, default_value = "sparse")]
        check: String,
        /// Append measurements (JSON Lines) to this file.
        #[arg(long)]
        out: Option<String>,
        /// tmpfs directory for the sendfile scenario's file.
        #[arg(long, default_value = "/tmp")]
        tmpdir: String,
        /// Control file of the ceiling module (tools/aead-bench).
        #[arg(long, default_value = "/proc/ktls_aead_bench")]
        aead_proc: String,
        /// Leave out the ring (rustls crypto) userspace rows.
        #[arg(long)]
        no_ring: bool,
        /// Plaintext bytes per send call of the stream scenario.
        #[arg(long, value_delimiter = ',', default_value = "1400,4096,16384,65536")]
        sizes: Vec<usize>,
    },
    /// Gather raw runs into one results file.
    Collect {
        /// Where to write results.json.
        #[arg(long)]
        out: String,
        /// A run: MODE=FILE (JSON Lines from `run`), e.g. icount=build/bench/raw-icount.jsonl.
        #[arg(long = "run", value_name = "MODE=FILE")]
        runs: Vec<String>,
        /// Facts about the run, KEY=VALUE (commit, kernel, qemu, smp, date, ...).
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        meta: Vec<String>,
    },
    /// Print the tables of a results file and write one SVG per scenario.
    Report {
        results: String,
        /// Directory for the SVG charts (default: next to the results file).
        #[arg(long)]
        svg_dir: Option<String>,
        /// Print the tables as Markdown (for Documentation/benchmarks.md).
        #[arg(long)]
        markdown: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run {
            scenarios,
            smoke,
            reps,
            scale,
            check,
            out,
            tmpdir,
            aead_proc,
            no_ring,
            sizes,
        } => {
            let timed_check = match check.as_str() {
                "full" => Check::Full,
                "sparse" => Check::Sparse,
                other => {
                    eprintln!("ktls-bench: --check {other}: expected full or sparse");
                    return ExitCode::from(2);
                }
            };
            let opts = Opts {
                smoke,
                reps,
                scale,
                timed_check,
                tmpdir,
                aead_proc,
                ring: !no_ring,
                sizes,
            };
            run(&opts, &scenarios, out.as_deref())
        }
        Command::Collect { out, runs, meta } => match report::collect(&out, &runs, &meta) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ktls-bench collect: {e}");
                ExitCode::from(2)
            }
        },
        Command::Report {
            results,
            svg_dir,
            markdown,
        } => match report::report(&results, svg_dir.as_deref(), markdown) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ktls-bench report: {e}");
                ExitCode::from(2)
            }
        },
    }
}

fn run(opts: &Opts, scenarios: &[String], out: Option<&str>) -> ExitCode {
    let chosen: Vec<&str> = if scenarios.is_empty() {
        scenario::ALL.to_vec()
    } else {
        scenarios.iter().map(String::as_str).collect()
    };
    for name in &chosen {
        if !scenario::ALL.contains(name) {
            eprintln!(
                "ktls-bench: unknown scenario {name} (known: {})",
                scenario::ALL.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    let mut sink = match Sink::new(out, opts.smoke) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ktls-bench: opening the results file: {e}");
            return ExitCode::from(2);
        }
    };
    for name in scenario::ALL {
        if !chosen.contains(&name) {
            continue;
        }
        let started = std::time::Instant::now();
        match name {
            "ceiling" => scenario::ceiling::run(opts, &mut sink),
            "stream" => scenario::stream::run(opts, &mut sink),
            "sendfile" => scenario::sendfile::run(opts, &mut sink),
            "splice" => scenario::splice::run(opts, &mut sink),
            "dtls" => scenario::dtls::run(opts, &mut sink),
            "pingpong" => scenario::pingpong::run(opts, &mut sink),
            "ahead" => scenario::ahead::run(opts, &mut sink),
            "setup" => scenario::setup::run(opts, &mut sink),
            _ => {}
        }
        eprintln!(
            "ktls-bench: {name} done in {:.1} s (guest time)",
            started.elapsed().as_secs_f64()
        );
    }
    // One PASS/FAIL line per scenario and backend: every measurement of it moved correct data.
    let mut groups: BTreeMap<(String, String), (usize, Vec<String>)> = BTreeMap::new();
    for m in &sink.all {
        let g = groups
            .entry((m.scenario.clone(), m.backend.clone()))
            .or_default();
        g.0 += 1;
        if !m.ok {
            g.1.push(format!(
                "{}: {}",
                m.config,
                m.error.as_deref().unwrap_or("failed")
            ));
        }
    }
    let (mut passed, mut failed) = (0, 0);
    for ((scenario, backend), (count, failures)) in &groups {
        if failures.is_empty() {
            passed += 1;
            if opts.smoke {
                println!("PASS  bench_{scenario}_{backend} ({count} measurements)");
            }
        } else {
            failed += 1;
            println!(
                "FAIL  bench_{scenario}_{backend} ({} of {count} measurements failed)",
                failures.len()
            );
            for f in failures.iter().take(5) {
                println!("    | {f}");
            }
        }
    }
    println!("bench: {passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
