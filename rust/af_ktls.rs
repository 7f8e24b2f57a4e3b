// SPDX-License-Identifier: GPL-2.0

//! AF_KTLS: TLS 1.2/1.3 and DTLS 1.2 record sockets over connected TCP and UDP sockets.
//!
//! Userspace completes the handshake with any TLS library, binds an `AF_KTLS` socket to the
//! connected socket and hands over the key material; from then on this module frames, encrypts
//! and decrypts the records. The C ABI is `include/uapi/linux/ktls.h`; the design is described
//! in `Documentation/design.md`.

use kernel::{
    error::to_result,
    prelude::*, //
};

mod bound;
mod c_table;
mod cipher;
mod crypto;
mod family;
mod keys;
#[cfg(ktls_kunit)]
mod kunit;
mod queue;
pub mod record;
mod rx;
mod shim;
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
    // is declared on the C side (`rust/ktls_shim.c`), where it can be readable in sysfs.
    alias: ["net-pf-12"],
}

/// The address family this module registers: the `family` module parameter (default
/// `AF_KTLS`), readable by applications in `/sys/module/af_ktls/parameters/family`.
pub(crate) fn family() -> i32 {
    // SAFETY: Reads an `int` that only the module loader writes, before `init` runs.
    unsafe { shim::ktls_shim_family() }
}

/// The loaded module: owns the registration of the address family and the workqueue.
///
/// Fields drop in order: the family first (no new socket; existing ones pin the module), then
/// the workqueue, whose destruction waits for work that sockets queued before they closed.
struct AfKtls {
    _family: family::Registration,
    _queue: queue::ModuleQueue,
}

impl kernel::Module for AfKtls {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let number = family();
        // SAFETY: No preconditions; module initialisation runs once.
        to_result(unsafe { shim::ktls_shim_learn_inet_ops() })?;
        let queue = queue::ModuleQueue::new()?;
        let registration = family::Registration::new(number).inspect_err(|err| {
            pr_err!(
                "cannot register address family {number}: error {}\n",
                err.to_errno()
            )
        })?;
        pr_info!("registered AF_KTLS as address family {number}\n");
        Ok(Self {
            _family: registration,
            _queue: queue,
        })
    }
}

impl Drop for AfKtls {
    fn drop(&mut self) {
        pr_info!("unregistering AF_KTLS\n");
    }
}
