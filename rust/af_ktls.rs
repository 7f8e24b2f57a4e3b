// SPDX-License-Identifier: GPL-2.0

//! AF_KTLS: TLS 1.2/1.3 and DTLS 1.2 record sockets over connected TCP and UDP sockets.
//!
//! Userspace completes the handshake with any TLS library, binds an `AF_KTLS` socket to the
//! connected socket and hands over the key material; from then on this module frames, encrypts
//! and decrypts the records. The C ABI is `include/uapi/linux/ktls.h`; the design is described
//! in `Documentation/design.md`.

use kernel::prelude::*;

mod cipher;
mod crypto;
mod helpers;
mod keys;
mod net;
mod pages;
mod proc;
mod queue;
pub mod record;
mod rx;
mod sg;
mod socket;
mod stats;
mod tx;
mod uapi;

module! {
    type: AfKtls,
    name: "af_ktls",
    authors: ["af_ktls developers"],
    description: "AF_KTLS: TLS and DTLS record sockets",
    license: "GPL",
    // Autoloading by `socket(12, ...)` follows the default family only. The `family` parameter
    // is declared on the C side (`rust/af_ktls_params.c`), where it can be readable in sysfs.
    alias: ["net-pf-12"],
}

/// The address family this module registers: the `family` module parameter (default
/// `AF_KTLS`), readable by applications in `/sys/module/af_ktls/parameters/family`.
pub(crate) fn family() -> i32 {
    // SAFETY: Reads an `int` that only the module loader writes, before `init` runs.
    unsafe { helpers::af_ktls_param_family() }
}

/// The loaded module: the address family, `/proc/net/af_ktls` and the workqueue.
///
/// Fields drop in the order declared: the family first (no new socket; existing ones pin the
/// module), then the counters' file, then the workqueue, whose destruction waits for work that
/// sockets queued before they closed. They are created the other way round, so that no socket
/// can exist if the module fails to load.
#[pin_data(PinnedDrop)]
struct AfKtls {
    #[pin]
    family: net::family::Registration<socket::KtlsSocket>,
    stats: proc::ProcNetFile<stats::Stats>,
    queue: queue::ModuleQueue,
}

impl kernel::InPlaceModule for AfKtls {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let number = family();
        try_pin_init!(Self {
            queue: {
                net::inet::learn_inet_ops()?;
                queue::ModuleQueue::new(c"af_ktls")?
            },
            stats: proc::ProcNetFile::create(c"af_ktls")?,
            family <- net::family::Registration::register(c"AF_KTLS", number),
        })
        .pin_chain(move |_| {
            pr_info!("registered AF_KTLS as address family {number}\n");
            Ok(())
        })
    }
}

#[pinned_drop]
impl PinnedDrop for AfKtls {
    fn drop(self: Pin<&mut Self>) {
        pr_info!("unregistering AF_KTLS\n");
    }
}

/// KUnit suite `af_ktls_record`: every case of `record::selftest`, generated from
/// [`for_each_record_case!`](crate::for_each_record_case), the list `cargo test` runs too.
///
/// `#[kunit_tests]` only sees `#[test]` functions written out in the module, not ones a macro
/// generates, so this suite builds its case table itself.
#[cfg(ktls_kunit)]
mod record_suite {
    use kernel::bindings;

    macro_rules! record_kunit_suite {
        ($($case:ident),* $(,)?) => {
            $(
                /// Runs one shared record-layer case and reports its failure to KUnit.
                ///
                /// # Safety
                ///
                /// Called by KUnit, from the test's own task.
                unsafe extern "C" fn $case(_test: *mut bindings::kunit) {
                    let result = crate::record::selftest::$case();
                    if let Err(failure) = &result {
                        // `core::format_args!`: `fmt!` only formats `kernel::fmt::Display` types.
                        kernel::kunit::err(core::format_args!(
                            "    # {}: {}\n",
                            stringify!($case),
                            failure
                        ));
                    }
                    kernel::kunit_assert!(
                        "af_ktls_record",
                        c"rust/kunit.rs",
                        0,
                        result.is_ok()
                    );
                }
            )*

            /// The suite's cases, `NULL`-terminated as KUnit requires.
            static mut RECORD_CASES: [bindings::kunit_case; [$(stringify!($case)),*].len() + 1] = [
                $(kernel::kunit::kunit_case(kernel::c_str!(stringify!($case)), $case),)*
                pin_init::zeroed(),
            ];

            kernel::kunit_unsafe_test_suite!(af_ktls_record, RECORD_CASES);
        };
    }

    crate::for_each_record_case!(record_kunit_suite);
}
