// SPDX-License-Identifier: GPL-2.0

//! [`Registration`]: an address family whose sockets run a [`SocketOps`] implementation.

use core::{
    marker::PhantomData,
    ptr::{
        null_mut,
        NonNull, //
    },
};

use kernel::{
    bindings,
    error::{
        from_err_ptr,
        from_result,
        to_result, //
    },
    module::this_module,
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Release, //
    },
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

use super::{
    sock::SockRef,
    socket::{
        CreateArgs,
        OpsTable,
        SocketOps, //
    },
};
use crate::helpers;

/// Number of address families the kernel knows (`NPROTO`): `sock_register` refuses larger ones.
const NPROTO: i32 = bindings::AF_MAX as i32;

/// Where a family's [`Registration`] keeps its number and `struct proto` for `create`, which the
/// socket core calls without either. A family declares one as a `static` ([`SocketOps::FAMILY`]).
pub(crate) struct FamilySlot {
    number: Atomic<i32>,
    proto: Atomic<*mut helpers::proto>,
}

impl FamilySlot {
    /// An empty slot.
    pub(crate) const fn new() -> Self {
        Self {
            number: Atomic::new(0),
            proto: Atomic::new(null_mut()),
        }
    }
}

/// A registered address family: `sock_register` with `T`'s socket operations and a
/// `struct proto` of its own; unregistered on drop.
///
/// # Invariants
///
/// `family` holds the registered `net_proto_family`, and `proto` the registered proto, both
/// published in `T::FAMILY`, for as long as this value lives.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: SocketOps> {
    #[pin]
    family: Opaque<bindings::net_proto_family>,
    proto: NonNull<helpers::proto>,
    _t: PhantomData<T>,
}

// SAFETY: Unregistering may happen on any task.
unsafe impl<T: SocketOps> Send for Registration<T> {}

// SAFETY: `&Registration` gives access to nothing.
unsafe impl<T: SocketOps> Sync for Registration<T> {}

impl<T: SocketOps> Registration<T> {
    /// Registers address family `number`, whose sockets' `struct sock`s come from a proto named
    /// `name`.
    ///
    /// Fails with `EINVAL` for a number outside `1..NPROTO` and with `EEXIST` when another
    /// family already uses the number.
    pub(crate) fn register(name: &'static CStr, number: i32) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            proto: {
                if !(1..NPROTO).contains(&number) {
                    pr_err!("cannot register address family {number}: out of range\n");
                    return Err(EINVAL);
                }
                let owner = this_module::<T::OwnerModule>().as_ptr();
                // SAFETY: `name` is a NUL-terminated string that outlives the proto (`'static`);
                // the proto is unregistered in `drop`, or below if the family fails.
                let proto = from_err_ptr(unsafe {
                    helpers::rnet_proto_register(name.as_char_ptr(), owner)
                })?;
                NonNull::new(proto).ok_or(ENOMEM)?
            },
            family <- Opaque::try_ffi_init(move |slot: *mut bindings::net_proto_family| {
                // SAFETY: The initializer may write to `slot`.
                unsafe {
                    slot.write(bindings::net_proto_family {
                        family: number,
                        create: Some(Self::create),
                        owner: this_module::<T::OwnerModule>().as_ptr(),
                    })
                };
                // SAFETY: `this` is being initialised; `proto` was set just above.
                let proto = unsafe { (*this.as_ptr()).proto };
                T::FAMILY.number.store(number, Release);
                T::FAMILY.proto.store(proto.as_ptr(), Release);
                // SAFETY: `slot` is a valid `net_proto_family` that lives, pinned, until `drop`
                // unregisters it.
                let registered = to_result(unsafe { bindings::sock_register(slot) });
                if let Err(err) = registered {
                    pr_err!("cannot register address family {number}: error {}\n", err.to_errno());
                    T::FAMILY.proto.store(null_mut(), Release);
                    // SAFETY: Registered above; no socket can use it, the family failed.
                    unsafe { helpers::rnet_proto_unregister(proto.as_ptr()) };
                }
                registered
            }),
            _t: PhantomData,
        })
    }

    /// `net_proto_family::create`: makes a socket of the family.
    ///
    /// # Safety
    ///
    /// Called by the socket core with a valid `net` and a freshly allocated `sock` that has no
    /// `struct sock` yet, while the family is registered.
    unsafe extern "C" fn create(
        net: *mut bindings::net,
        sock: *mut bindings::socket,
        protocol: c_int,
        kern: c_int,
    ) -> c_int {
        from_result(|| {
            let proto = T::FAMILY.proto.load(Acquire);
            let number = T::FAMILY.number.load(Acquire);
            if proto.is_null() {
                return Err(EAFNOSUPPORT);
            }
            // SAFETY: The caller passes a valid socket that nothing else uses yet.
            let sock_type = i32::from(unsafe { (*sock).type_ });
            // SAFETY: `net` and `sock` are valid; `proto` is registered while the family is,
            // and `sock_unregister` waits for running `create` calls.
            let sk = unsafe { helpers::rnet_sk_alloc(net, sock, number, kern, proto) };
            let sk = NonNull::new(sk).ok_or(ENOMEM)?;
            // SAFETY: `sk` was allocated just above.
            let own = unsafe { SockRef::hold(sk) };
            match T::create(
                own,
                CreateArgs {
                    sock_type,
                    protocol,
                },
            ) {
                Ok(state) => {
                    // SAFETY: `sk` is this socket's sock; it owns the state from now on, until
                    // `release` takes it back.
                    unsafe { helpers::rnet_sk_set_ctx(sk.as_ptr(), state.into_foreign()) };
                    // SAFETY: `sock` is valid (see above).
                    unsafe { (*sock).ops = OpsTable::<T>::build() };
                    Ok(0)
                }
                Err(err) => {
                    // `create` must leave no sock behind on failure (`__sock_create`).
                    // SAFETY: `sock` has the sock allocated above, without a context.
                    unsafe { helpers::rnet_sk_release(sock) };
                    Err(err)
                }
            }
        })
    }
}

#[pinned_drop]
impl<T: SocketOps> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant the family is registered. `sock_unregister` waits for
        // running `create` calls; no socket exists any more, as each holds a module reference.
        unsafe { bindings::sock_unregister((*self.family.get()).family) };
        T::FAMILY.proto.store(null_mut(), Release);
        // SAFETY: By the type invariant the proto is registered; its last sock is gone.
        unsafe { helpers::rnet_proto_unregister(self.proto.as_ptr()) };
    }
}
