//! Scenario `ahead`: a receiver that works on every buffer it receives (the application's own
//! processing, `pattern::application_work`), fed by a sender of 16 KiB calls. With two CPUs,
//! AF_KTLS's decrypt-ahead opens the next records on the other CPU while the receiver works;
//! `af_ktls-inline` (decrypt-ahead off), mainline kTLS and userspace decrypt inside the
//! receiver's calls. Meaningful only where the guest's CPUs run in parallel: wall-clock TCG with
//! two vCPUs (`TCG_SMP=2`); under icount both vCPUs take turns on one host thread and the figure
//! is the total work, which decrypt-ahead cannot shorten.
//!
//! Three configurations:
//! - `work=1`: one pass of the work per buffer; the sender is the receiver's own backend, in the
//!   same guest. Decrypt-ahead runs on the CPU the reader is not on, the sender's, which sealing
//!   keeps busy: the receiver's decryption moves onto a CPU that has no time to spare.
//! - `work=1 sender=presealed`: the sender is userspace records sealed before the timed pass
//!   (`Backend::Presealed`), which then only sends them, as a remote peer would; the sending CPU
//!   has room for the work the receiver hands over. Rows are named by the receiver's backend.
//! - `work=N (= decryption) sender=presealed`: as many passes as take the time the kernel takes
//!   to open a record of the same size, measured in this guest before the runs (the ceiling
//!   module, `tools/aead-bench`). One pass costs about as many instructions per byte as AES-GCM
//!   does, but not as much time everywhere: TCG emulates AES-NI instructions one helper call
//!   each and runs the pass's multiply loop at near native speed, so there one pass is a small
//!   fraction of a decryption (and on hardware with vector AES, several decryptions). Without
//!   the ceiling module this configuration is left out.

use super::stream::{fallback, transfer, Transfer};
use super::{push_result, Opts};
use crate::endpoint::Backend;
use crate::keys::Suite;
use crate::measure::{interleaved, Sink};
use crate::pattern::application_work;
use af_ktls::Cipher;
use std::time::Instant;

/// Plaintext bytes per send call.
const SIZE: usize = 16 * 1024;

/// Passes of the application's work over each received buffer, first two configurations.
const WORK_ROUNDS: u32 = 1;

/// Upper bound of the calibrated number of passes.
const MAX_WORK_ROUNDS: u32 = 256;

/// Records (and passes of the work) timed for the calibration.
const CALIBRATION_RECORDS: u64 = 256;

/// The calibrated configuration's passes of [`application_work`] over a `SIZE`-byte buffer:
/// as many as take the time the kernel takes to open a TLS 1.3 AES-128-GCM record of that size
/// (the ceiling module's `open`, best of three). `None` without the ceiling module.
fn work_rounds_as_long_as_decryption(opts: &Opts) -> Option<u32> {
    let best =
        |f: &mut dyn FnMut() -> Option<f64>| (0..3).filter_map(|_| f()).min_by(f64::total_cmp);
    let decrypt_ns = best(&mut || {
        super::ceiling::kernel_run(
            &opts.aead_proc,
            Cipher::Aes128Gcm,
            SIZE,
            CALIBRATION_RECORDS,
            false,
        )
        .ok()
    })?;
    let buffer = vec![0x5au8; SIZE];
    let work_ns = best(&mut || {
        let start = Instant::now();
        let mut digest = 0;
        for _ in 0..CALIBRATION_RECORDS {
            digest = std::hint::black_box(application_work(digest, &buffer));
        }
        Some(start.elapsed().as_secs_f64() * 1e9)
    })?;
    let rounds = (decrypt_ns / work_ns.max(1.0)).round() as u32;
    eprintln!(
        "ktls-bench: ahead: opening a {SIZE}-byte record takes {:.1} us, one pass of the work \
         {:.1} us: {rounds} passes",
        decrypt_ns / CALIBRATION_RECORDS as f64 / 1e3,
        work_ns / CALIBRATION_RECORDS as f64 / 1e3,
    );
    Some(rounds.clamp(1, MAX_WORK_ROUNDS))
}

pub fn run(opts: &Opts, sink: &mut Sink) {
    let backends = [
        Backend::AfKtls,
        Backend::AfKtlsInline,
        Backend::Ulp,
        Backend::Userspace,
    ];
    let suite = Suite::TLS13_AES128;
    let timed = opts.amount(4 << 20, 128 * 1024);
    let mut configs = vec![
        (
            format!("{} {SIZE} work={WORK_ROUNDS}", suite.name()),
            WORK_ROUNDS,
            false,
        ),
        (
            format!(
                "{} {SIZE} work={WORK_ROUNDS} sender=presealed",
                suite.name()
            ),
            WORK_ROUNDS,
            true,
        ),
    ];
    if let Some(rounds) = work_rounds_as_long_as_decryption(opts) {
        configs.push((
            format!(
                "{} {SIZE} work={rounds} (= decryption) sender=presealed",
                suite.name()
            ),
            rounds,
            true,
        ));
    }
    for (config, work_rounds, presealed) in configs {
        for rep in 0..opts.reps() {
            for backend in interleaved(&backends, rep) {
                let t = Transfer {
                    scenario: "ahead",
                    config: config.clone(),
                    suite,
                    size: SIZE,
                    tx: if presealed {
                        Backend::Presealed
                    } else {
                        backend
                    },
                    rx: backend,
                    rep,
                    verify_bytes: opts.verify_bytes(SIZE),
                    timed_bytes: timed,
                    check: opts.timed_check,
                    label: backend.name().into(),
                    work_rounds,
                };
                push_result(sink, transfer(&t), fallback(&t));
            }
        }
    }
}
