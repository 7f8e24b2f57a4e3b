// SPDX-License-Identifier: GPL-2.0

//! Registration of the `AF_KTLS` address family and of its `struct proto`.

use kernel::{
    bindings,
    error::to_result,
    module::this_module,
    prelude::*, //
};

use crate::{
    c_table::CTable,
    shim,
    socket, //
};

/// Number of address families the kernel knows (`NPROTO`): `sock_register` refuses larger ones.
const NPROTO: i32 = bindings::AF_MAX as i32;

/// The registered `AF_KTLS` family; unregisters on drop.
///
/// # Invariants
///
/// `family` is registered with `sock_register`, the shim's `struct proto` with `proto_register`
/// and `/proc/net/af_ktls` exists for as long as this value lives.
pub(crate) struct Registration {
    family: KBox<CTable<bindings::net_proto_family>>,
}

impl Registration {
    /// Registers the socket allocator and the address family `number`.
    ///
    /// Fails with `EINVAL` for a number outside `1..NPROTO` and with `EEXIST` when another
    /// family already uses the number.
    pub(crate) fn new(number: i32) -> Result<Self> {
        if !(1..NPROTO).contains(&number) {
            return Err(EINVAL);
        }
        let family = KBox::new(
            CTable::new(bindings::net_proto_family {
                family: number,
                create: Some(socket::create),
                owner: this_module::<crate::LocalModule>().as_ptr(),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: Called once per registration; undone in `drop` or below.
        to_result(unsafe { shim::ktls_shim_proto_register() })?;
        // SAFETY: `family` is a valid `net_proto_family` that lives, at a stable heap address,
        // until `drop` unregisters it.
        if let Err(err) = to_result(unsafe { bindings::sock_register(family.get()) }) {
            // SAFETY: Registered just above and not in use: the family registration failed.
            unsafe { shim::ktls_shim_proto_unregister() };
            return Err(err);
        }
        // SAFETY: Undone in `drop`.
        if let Err(err) = to_result(unsafe { shim::ktls_shim_proc_create() }) {
            // SAFETY: Both were registered above and no socket exists yet.
            unsafe {
                bindings::sock_unregister(number);
                shim::ktls_shim_proto_unregister();
            }
            return Err(err);
        }
        // INVARIANT: All three registrations succeeded.
        Ok(Self { family })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: Created in `new`.
        unsafe { shim::ktls_shim_proc_remove() };
        // SAFETY: By the type invariant the family is registered. `sock_unregister` waits for
        // concurrent `create` calls to finish; no socket can exist any more, because each one
        // holds a reference on this module.
        unsafe { bindings::sock_unregister(self.family.get().family) };
        // SAFETY: By the type invariant the proto is registered; its last socket is gone.
        unsafe { shim::ktls_shim_proto_unregister() };
    }
}
