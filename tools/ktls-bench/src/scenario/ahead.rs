//! Scenario `ahead`: a receiver that works on every buffer it receives (the application's own
//! processing, `pattern::application_work`, about as costly per byte as decryption), fed by a
//! sender of 16 KiB calls. With two CPUs, AF_KTLS's decrypt-ahead opens the next records on the
//! other CPU while the receiver works; `af_ktls-inline` (decrypt-ahead off), mainline kTLS and
//! userspace decrypt inside the receiver's calls. Meaningful only where the guest's CPUs run in
//! parallel: wall-clock TCG with two vCPUs (`TCG_SMP=2`); under icount both vCPUs take turns on
//! one host thread and the figure is the total work, which decrypt-ahead cannot shorten.
//!
//! Two configurations:
//! - `work=1`: the sender is the receiver's own backend, in the same guest. On loopback the
//!   records arrive in the sender's system call, so the (per-CPU) decrypt-ahead work runs on
//!   the sender's CPU, which sealing keeps busy: the receiver's decryption moves onto a CPU that
//!   has no time to spare.
//! - `work=1 sender=presealed`: the sender is userspace records sealed before the timed pass
//!   (`Backend::Presealed`), which then only sends them, as a remote peer would; the sending CPU
//!   has room for the work the receiver hands over. Rows are named by the receiver's backend.

use super::stream::{fallback, transfer, Transfer};
use super::{push_result, Opts};
use crate::endpoint::Backend;
use crate::keys::Suite;
use crate::measure::{interleaved, Sink};

/// Plaintext bytes per send call.
const SIZE: usize = 16 * 1024;

/// Passes of the application's work over each received buffer.
const WORK_ROUNDS: u32 = 1;

pub fn run(opts: &Opts, sink: &mut Sink) {
    let backends = [
        Backend::AfKtls,
        Backend::AfKtlsInline,
        Backend::Ulp,
        Backend::Userspace,
    ];
    let suite = Suite::TLS13_AES128;
    let timed = opts.amount(4 << 20, 128 * 1024);
    for presealed in [false, true] {
        let config = match presealed {
            false => format!("{} {} work={WORK_ROUNDS}", suite.name(), SIZE),
            true => format!(
                "{} {} work={WORK_ROUNDS} sender=presealed",
                suite.name(),
                SIZE
            ),
        };
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
                    work_rounds: WORK_ROUNDS,
                };
                push_result(sink, transfer(&t), fallback(&t));
            }
        }
    }
}
