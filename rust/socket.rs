// SPDX-License-Identifier: GPL-2.0

//! The `proto_ops` of `AF_KTLS` sockets: `extern "C"` trampolines that turn C arguments into safe
//! types and errors into errnos.
//!
//! Nothing else in the module touches `struct socket` or `struct sock`.

use kernel::{
    bindings,
    error::from_result,
    module::this_module,
    prelude::*,
    types::ForeignOwnable, //
};

use crate::{
    c_table::CTable,
    shim, //
};

/// Whether an `AF_KTLS` socket carries TLS over TCP or DTLS over UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SocketKind {
    /// `SOCK_STREAM`: TLS 1.2 or 1.3 over a connected TCP socket.
    Stream,
    /// `SOCK_DGRAM`: DTLS 1.2 over a connected UDP socket.
    Datagram,
}

impl SocketKind {
    /// The kind of socket `socket(AF_KTLS, sock_type, protocol)` asks for.
    ///
    /// Fails with `ESOCKTNOSUPPORT` for types other than `SOCK_STREAM` and `SOCK_DGRAM`, then with
    /// `EPROTONOSUPPORT` for any protocol but 0.
    pub(crate) fn from_socket_args(sock_type: i32, protocol: i32) -> Result<Self> {
        let kind = match u32::try_from(sock_type) {
            Ok(bindings::sock_type_SOCK_STREAM) => Self::Stream,
            Ok(bindings::sock_type_SOCK_DGRAM) => Self::Datagram,
            _ => return Err(ESOCKTNOSUPPORT),
        };
        if protocol != 0 {
            return Err(EPROTONOSUPPORT);
        }
        Ok(kind)
    }
}

/// The Rust state of one `AF_KTLS` socket, owned by its `struct sock`.
pub(crate) struct KtlsSocket {
    #[expect(dead_code, reason = "read by bind, which arrives with the data path")]
    kind: SocketKind,
}

/// The operations of every `AF_KTLS` socket.
///
/// Operations the data path does not implement yet use the kernel's `sock_no_*` helpers, which
/// fail with `EOPNOTSUPP`; `setsockopt`/`getsockopt` at levels other than `SOL_SOCKET` do the
/// same when left `None`.
static KTLS_OPS: CTable<bindings::proto_ops> = CTable::new(bindings::proto_ops {
    // The core never reads it; the registered family number is the module parameter.
    family: 12,
    owner: this_module::<crate::LocalModule>().as_ptr(),
    release: Some(release),
    bind: Some(shim::sock_no_bind),
    connect: Some(shim::sock_no_connect),
    socketpair: Some(shim::sock_no_socketpair),
    accept: Some(shim::sock_no_accept),
    getname: Some(shim::sock_no_getname),
    ioctl: Some(shim::sock_no_ioctl),
    listen: Some(shim::sock_no_listen),
    shutdown: Some(shim::sock_no_shutdown),
    sendmsg: Some(shim::sock_no_sendmsg),
    recvmsg: Some(shim::sock_no_recvmsg),
    mmap: Some(shim::sock_no_mmap),
    ..pin_init::zeroed()
});

/// `net_proto_family::create`: sets up a new `AF_KTLS` socket.
///
/// # Safety
///
/// Called by the socket core with a valid `net` and a freshly allocated `sock` that has no
/// `struct sock` yet.
pub(crate) unsafe extern "C" fn create(
    net: *mut bindings::net,
    sock: *mut bindings::socket,
    protocol: c_int,
    kern: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: The caller passes a valid socket that nothing else uses yet.
        let sock = unsafe { &mut *sock };
        let kind = SocketKind::from_socket_args(i32::from(sock.type_), protocol)?;
        let state = KBox::new(KtlsSocket { kind }, GFP_KERNEL)?.into_foreign();
        let family = crate::module_parameters::family.value();
        // SAFETY: `net` and `sock` are valid (see above); `state` is handed to the new sock.
        let sk = unsafe { shim::ktls_shim_sk_alloc(net, sock, family, kern, state) };
        if sk.is_null() {
            // SAFETY: `state` came from `into_foreign` above and was not stored anywhere.
            drop(unsafe { KBox::<KtlsSocket>::from_foreign(state) });
            return Err(ENOMEM);
        }
        sock.ops = KTLS_OPS.get();
        Ok(0)
    })
}

/// `proto_ops::release`: frees the socket's state and drops its `struct sock`.
///
/// # Safety
///
/// Called by the socket core, once, with a socket created by [`create`].
unsafe extern "C" fn release(sock: *mut bindings::socket) -> c_int {
    // SAFETY: The caller passes a valid socket.
    let sk = unsafe { (*sock).sk };
    if sk.is_null() {
        return 0;
    }
    // SAFETY: `sk` was allocated by `create`, which stored a `KBox<KtlsSocket>` in it; release
    // runs once, so the box is taken back exactly once.
    drop(unsafe { KBox::<KtlsSocket>::from_foreign(shim::ktls_shim_sk_ctx(sk)) });
    // SAFETY: `sock` is valid and its context was freed just above.
    unsafe { shim::ktls_shim_sk_release(sock) };
    0
}
