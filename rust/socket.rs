// SPDX-License-Identifier: GPL-2.0

//! The `proto_ops` of `AF_KTLS` sockets: `extern "C"` trampolines that turn C arguments into safe
//! types and errors into errnos.
//!
//! Nothing else in the module touches `struct socket` or `struct sock`.

use kernel::{
    bindings,
    error::{
        from_result,
        to_result, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    module::this_module,
    new_mutex,
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
    types::ForeignOwnable,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    bound::BoundSocket,
    c_table::CTable,
    cipher::record_error,
    keys::{
        DirectionKeys,
        MAX_CRYPTO_INFO_LEN, //
    },
    record::{
        header::ContentType,
        protection::{
            ProtocolVersion,
            RecordProtection,
            MAX_PLAINTEXT_LEN, //
        },
    },
    rx::Rx,
    shim,
    tx::Tx,
    uapi, //
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

/// Default DTLS datagram size limit when `KTLS_DTLS_MTU` is not set: an Ethernet MTU less IPv6
/// and UDP headers, with room to spare for tunnels.
const DEFAULT_DTLS_MTU: usize = 1400;

/// `KTLS_DTLS_MTU` accepts datagram sizes in this range (UDP's own maximum at the top).
const DTLS_MTU_RANGE: core::ops::RangeInclusive<u32> = 128..=65507;

/// What `bind` and the options set up, before and besides the two directions.
struct Setup {
    bound: Option<(Arc<BoundSocket>, RecordProtection)>,
    tx_keys: Option<DirectionKeys>,
    rx_keys: Option<DirectionKeys>,
    /// `KTLS_TX_MAX_PAYLOAD_LEN`.
    max_payload: u16,
    /// `KTLS_DTLS_MTU`.
    dtls_mtu: u32,
}

impl Setup {
    /// Largest plaintext per record sent: the payload limit and, for DTLS, what fits the MTU.
    fn effective_max_payload(&self, protection: RecordProtection) -> usize {
        let limit = usize::from(self.max_payload);
        if protection.version().is_datagram() {
            let mtu = usize::try_from(self.dtls_mtu).unwrap_or(DEFAULT_DTLS_MTU);
            limit.min(mtu.saturating_sub(protection.overhead()).max(1))
        } else {
            limit
        }
    }
}

/// The Rust state of one `AF_KTLS` socket, owned by its `struct sock`.
///
/// Locks are taken in the order `setup`, `tx`, `rx`; sending and receiving take only their own,
/// so one task can send while another receives.
#[pin_data]
pub(crate) struct KtlsSocket {
    kind: SocketKind,
    #[pin]
    setup: Mutex<Setup>,
    #[pin]
    tx: Mutex<Option<Tx>>,
    #[pin]
    rx: Mutex<Option<Rx>>,
}

impl KtlsSocket {
    fn new(kind: SocketKind) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            kind,
            setup <- new_mutex!(Setup {
                bound: None,
                tx_keys: None,
                rx_keys: None,
                max_payload: MAX_PLAINTEXT_LEN as u16,
                dtls_mtu: DEFAULT_DTLS_MTU as u32,
            }),
            tx <- new_mutex!(None),
            rx <- new_mutex!(None),
        }? Error)
    }

    /// `bind`: attaches the connected socket and fixes the version and cipher.
    fn bind(&self, address: &[u8]) -> Result {
        let address: &[u8; SOCKADDR_KTLS_LEN] = address.try_into().map_err(|_| EINVAL)?;
        let field = |at: usize| u16::from_ne_bytes([address[at], address[at + 1]]);
        let family = i32::from(field(0));
        let (cipher, version, reserved) = (field(2), field(4), field(6));
        let fd = i32::from_ne_bytes([address[8], address[9], address[10], address[11]]);
        if family != crate::family() {
            return Err(EAFNOSUPPORT);
        }
        if reserved != 0 {
            return Err(EINVAL);
        }
        let protection = RecordProtection::from_uapi(version, cipher).map_err(record_error)?;
        if protection.version().is_datagram() != (self.kind == SocketKind::Datagram) {
            return Err(EINVAL);
        }
        let mut setup = self.setup.lock();
        if setup.bound.is_some() {
            return Err(EISCONN);
        }
        let bound = Arc::new(BoundSocket::lookup(fd, self.kind)?, GFP_KERNEL)?;
        setup.bound = Some((bound, protection));
        Ok(())
    }

    /// `setsockopt(SOL_KTLS, ...)`.
    fn set_option(&self, name: u32, value: &[u8]) -> Result {
        let mut setup = self.setup.lock();
        match name {
            uapi::KTLS_TX | uapi::KTLS_RX => {
                let (bound, protection) = setup.bound.clone().ok_or(ENOTCONN)?;
                let keys = DirectionKeys::parse(protection, value)?;
                if name == uapi::KTLS_TX {
                    let mut tx = self.tx.lock();
                    if tx.is_some() {
                        return Err(EBUSY);
                    }
                    let max_payload = setup.effective_max_payload(protection);
                    *tx = Some(Tx::new(bound, protection, &keys, max_payload)?);
                    setup.tx_keys = Some(keys);
                } else {
                    let mut rx = self.rx.lock();
                    if rx.is_some() {
                        return Err(EBUSY);
                    }
                    *rx = Some(Rx::new(bound, protection, &keys)?);
                    setup.rx_keys = Some(keys);
                }
                Ok(())
            }
            uapi::KTLS_TX_MAX_PAYLOAD_LEN => {
                let bytes: [u8; 2] = value.try_into().map_err(|_| EINVAL)?;
                let max_payload = u16::from_ne_bytes(bytes);
                // Mainline's range (RFC 8449 record_size_limit); TLS 1.3's limit counts the
                // content type byte, so it may go one lower.
                let min = match setup.bound {
                    Some((_, protection)) if protection.version() == ProtocolVersion::Tls13 => 63,
                    _ => 64,
                };
                if !(min..=MAX_PLAINTEXT_LEN as u16).contains(&max_payload) {
                    return Err(EINVAL);
                }
                setup.max_payload = max_payload;
                self.update_tx_payload(&setup)
            }
            uapi::KTLS_DTLS_MTU => {
                if self.kind != SocketKind::Datagram {
                    return Err(ENOPROTOOPT);
                }
                let bytes: [u8; 4] = value.try_into().map_err(|_| EINVAL)?;
                let mtu = u32::from_ne_bytes(bytes);
                if !DTLS_MTU_RANGE.contains(&mtu) {
                    return Err(EINVAL);
                }
                setup.dtls_mtu = mtu;
                self.update_tx_payload(&setup)
            }
            _ => Err(ENOPROTOOPT),
        }
    }

    fn update_tx_payload(&self, setup: &Setup) -> Result {
        let mut tx = self.tx.lock();
        let (Some((_, protection)), Some(tx)) = (setup.bound.as_ref(), Option::as_mut(&mut *tx))
        else {
            return Ok(());
        };
        tx.set_max_payload(setup.effective_max_payload(*protection))
    }

    /// `getsockopt(SOL_KTLS, ...)`: what was set, copied into `out`; returns its length.
    fn get_option(&self, name: u32, out: &mut [u8; MAX_CRYPTO_INFO_LEN]) -> Result<usize> {
        let setup = self.setup.lock();
        let value: &[u8] = match name {
            uapi::KTLS_TX => setup.tx_keys.as_ref().ok_or(EBUSY)?.as_uapi(),
            uapi::KTLS_RX => setup.rx_keys.as_ref().ok_or(EBUSY)?.as_uapi(),
            uapi::KTLS_TX_MAX_PAYLOAD_LEN => &setup.max_payload.to_ne_bytes(),
            uapi::KTLS_DTLS_MTU if self.kind == SocketKind::Datagram => {
                &setup.dtls_mtu.to_ne_bytes()
            }
            _ => return Err(ENOPROTOOPT),
        };
        out.get_mut(..value.len())
            .ok_or(EINVAL)?
            .copy_from_slice(value);
        Ok(value.len())
    }

    /// The error for data calls in a direction that has no keys: not bound yet, or bound
    /// without keys for it.
    fn no_keys(&self) -> Error {
        if self.setup.lock().bound.is_some() {
            ENOKEY
        } else {
            ENOTCONN
        }
    }
}

/// `struct sockaddr_ktls` is 12 bytes (checked by `tests/c`).
const SOCKADDR_KTLS_LEN: usize = core::mem::size_of::<uapi::sockaddr_ktls>();

/// Flags `sendmsg` accepts (mainline kTLS's set); others fail with `EOPNOTSUPP`.
const SEND_FLAGS: u32 = bindings::MSG_MORE
    | bindings::MSG_DONTWAIT
    | bindings::MSG_NOSIGNAL
    | bindings::MSG_EOR
    | bindings::MSG_SPLICE_PAGES
    | bindings::MSG_CMSG_COMPAT;

/// Flags `recvmsg` accepts; others (`MSG_OOB`, `MSG_ERRQUEUE`, ...) fail with `EOPNOTSUPP`.
const RECV_FLAGS: u32 = bindings::MSG_PEEK
    | bindings::MSG_DONTWAIT
    | bindings::MSG_WAITALL
    | bindings::MSG_TRUNC
    | bindings::MSG_CMSG_COMPAT;

/// The operations of every `AF_KTLS` socket.
///
/// Operations that make no sense for it use the kernel's `sock_no_*` helpers, which fail with
/// `EOPNOTSUPP`.
static KTLS_OPS: CTable<bindings::proto_ops> = CTable::new(bindings::proto_ops {
    // The core never reads it; the registered family number is the module parameter.
    family: 12,
    owner: this_module::<crate::LocalModule>().as_ptr(),
    release: Some(release),
    bind: Some(bind),
    connect: Some(shim::sock_no_connect),
    socketpair: Some(shim::sock_no_socketpair),
    accept: Some(shim::sock_no_accept),
    getname: Some(shim::sock_no_getname),
    poll: Some(poll),
    ioctl: Some(shim::sock_no_ioctl),
    listen: Some(shim::sock_no_listen),
    shutdown: Some(shim::sock_no_shutdown),
    setsockopt: Some(setsockopt),
    getsockopt: Some(getsockopt),
    sendmsg: Some(sendmsg),
    recvmsg: Some(recvmsg),
    mmap: Some(shim::sock_no_mmap),
    ..pin_init::zeroed()
});

/// The state of the `AF_KTLS` socket `sock`.
///
/// # Safety
///
/// `sock` is a live socket set up by [`create`] and not yet released; the returned reference
/// must not outlive the current socket operation.
unsafe fn state<'a>(sock: *mut bindings::socket) -> Pin<&'a KtlsSocket> {
    // SAFETY: The caller guarantees `sock` is live; `create` stored a `Pin<KBox<KtlsSocket>>` in
    // its `struct sock`, which `release` frees only after every other operation ended.
    unsafe { <Pin<KBox<KtlsSocket>> as ForeignOwnable>::borrow(shim::ktls_shim_sk_ctx((*sock).sk)) }
}

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
        let state = KBox::pin_init(KtlsSocket::new(kind), GFP_KERNEL)?.into_foreign();
        let family = crate::family();
        // SAFETY: `net` and `sock` are valid (see above); `state` is handed to the new sock.
        let sk = unsafe { shim::ktls_shim_sk_alloc(net, sock, family, kern, state) };
        if sk.is_null() {
            // SAFETY: `state` came from `into_foreign` above and was not stored anywhere.
            drop(unsafe { <Pin<KBox<KtlsSocket>> as ForeignOwnable>::from_foreign(state) });
            return Err(ENOMEM);
        }
        sock.ops = KTLS_OPS.get();
        Ok(0)
    })
}

/// `proto_ops::release`: sends what is left, frees the socket's state and drops its `struct sock`.
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
    // SAFETY: `sk` was allocated by `create`, which stored a `Pin<KBox<KtlsSocket>>` in it;
    // release runs once, after every other operation, so the box is taken back exactly once.
    let state = unsafe {
        <Pin<KBox<KtlsSocket>> as ForeignOwnable>::from_foreign(shim::ktls_shim_sk_ctx(sk))
    };
    if let Some(tx) = Option::as_mut(&mut *state.tx.lock()) {
        tx.flush_on_close();
    }
    // Dropping the state wipes the keys and frees both directions and, last, the reference to
    // the bound socket.
    drop(state);
    // SAFETY: `sock` is valid and its context was freed just above.
    unsafe { shim::ktls_shim_sk_release(sock) };
    0
}

/// `proto_ops::bind`: see [`KtlsSocket::bind`].
///
/// # Safety
///
/// Called by the socket core with a live socket and `len` bytes of address in kernel memory.
unsafe extern "C" fn bind(
    sock: *mut bindings::socket,
    address: *mut bindings::sockaddr_unsized,
    len: c_int,
) -> c_int {
    from_result(|| {
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        if len != SOCKADDR_KTLS_LEN {
            return Err(EINVAL);
        }
        // SAFETY: The socket core copied `len` bytes of address into kernel memory.
        let address = unsafe { core::slice::from_raw_parts(address.cast::<u8>(), len) };
        // SAFETY: The socket core passes a live socket.
        unsafe { state(sock) }.bind(address)?;
        Ok(0)
    })
}

/// `proto_ops::setsockopt` at `SOL_KTLS`.
///
/// # Safety
///
/// Called by the socket core with a live socket and `optval` valid for `optlen` bytes.
unsafe extern "C" fn setsockopt(
    sock: *mut bindings::socket,
    level: c_int,
    name: c_int,
    optval: bindings::sockptr_t,
    optlen: c_uint,
) -> c_int {
    from_result(|| {
        if level != uapi::SOL_KTLS as c_int {
            return Err(ENOPROTOOPT);
        }
        let mut value = [0u8; MAX_CRYPTO_INFO_LEN];
        let len = usize::try_from(optlen).map_err(|_| EINVAL)?;
        let buf = value.get_mut(..len).ok_or(EINVAL)?;
        // SAFETY: `buf` is valid for `len` bytes and the caller vouches for `optval`.
        to_result(unsafe {
            shim::ktls_shim_copy_from_sockptr(buf.as_mut_ptr().cast(), optval, len)
        })?;
        let name = u32::try_from(name).map_err(|_| ENOPROTOOPT)?;
        // SAFETY: The socket core passes a live socket.
        let result = unsafe { state(sock) }.set_option(name, buf);
        crate::crypto::wipe(&mut value);
        result.map(|()| 0)
    })
}

/// `proto_ops::getsockopt` at `SOL_KTLS`: `EINVAL` if the buffer is too short.
///
/// # Safety
///
/// Called by the socket core with a live socket and user pointers.
unsafe extern "C" fn getsockopt(
    sock: *mut bindings::socket,
    level: c_int,
    name: c_int,
    optval: *mut c_char,
    optlen: *mut c_int,
) -> c_int {
    from_result(|| {
        if level != uapi::SOL_KTLS as c_int {
            return Err(ENOPROTOOPT);
        }
        let optlen_user = UserPtr::from_ptr(optlen.cast());
        let mut len_bytes = [0u8; 4];
        UserSlice::new(optlen_user, 4)
            .reader()
            .read_slice(&mut len_bytes)?;
        let room = usize::try_from(i32::from_ne_bytes(len_bytes)).map_err(|_| EINVAL)?;
        let name = u32::try_from(name).map_err(|_| ENOPROTOOPT)?;
        let mut value = [0u8; MAX_CRYPTO_INFO_LEN];
        // SAFETY: The socket core passes a live socket.
        let result = unsafe { state(sock) }.get_option(name, &mut value);
        let written = result.and_then(|len| {
            if room < len {
                return Err(EINVAL);
            }
            let out = UserSlice::new(UserPtr::from_ptr(optval.cast()), len);
            out.writer().write_slice(value.get(..len).ok_or(EINVAL)?)?;
            Ok(len)
        });
        crate::crypto::wipe(&mut value);
        let len = c_int::try_from(written?).map_err(|_| EINVAL)?;
        UserSlice::new(optlen_user, 4)
            .writer()
            .write_slice(&len.to_ne_bytes())?;
        Ok(0)
    })
}

/// `proto_ops::sendmsg`: see [`Tx::send`]. A `KTLS_SET_RECORD_TYPE` cmsg sends a record of
/// another content type (not with `MSG_MORE`: `EINVAL`).
///
/// # Safety
///
/// Called by the socket core with a live socket and a valid message.
unsafe extern "C" fn sendmsg(
    sock: *mut bindings::socket,
    msg: *mut bindings::msghdr,
    _size: usize,
) -> c_int {
    from_result(|| {
        // SAFETY: The socket core passes a valid message, used by this call only.
        let msg = unsafe { &mut *msg };
        let flags = msg.msg_flags;
        if flags & !SEND_FLAGS != 0 {
            return Err(EOPNOTSUPP);
        }
        if flags & bindings::MSG_MORE != 0 && flags & bindings::MSG_EOR != 0 {
            return Err(EINVAL);
        }
        let mut wire_type = 0u8;
        // SAFETY: `msg` is valid; the socket core copied its control messages into the kernel.
        let found = unsafe {
            shim::ktls_shim_cmsg_record_type(
                msg,
                uapi::SOL_KTLS as c_int,
                uapi::KTLS_SET_RECORD_TYPE as c_int,
                &mut wire_type,
            )
        };
        to_result(found)?;
        let content_type = if found > 0 {
            if flags & bindings::MSG_MORE != 0 {
                return Err(EINVAL);
            }
            ContentType::from_wire(wire_type).map_err(|_| EINVAL)?
        } else {
            ContentType::ApplicationData
        };
        // SAFETY: The socket core passes a live socket.
        let this = unsafe { state(sock) };
        // SAFETY: `msg_iter` is the message's valid source iterator, used by this call only.
        let source = unsafe { IovIterSource::from_raw(&mut msg.msg_iter) };
        // The lock is released before `no_keys` takes `setup`: lock order is setup, tx, rx.
        let sent = Option::as_mut(&mut *this.tx.lock())
            .map(|tx| tx.send(source, content_type, flags));
        let sent = sent.unwrap_or_else(|| Err(this.no_keys()))?;
        c_int::try_from(sent).map_err(|_| EINVAL)
    })
}

/// `proto_ops::recvmsg`: see [`Rx::recv`]. Every call that returns data reports its record type
/// in a `KTLS_GET_RECORD_TYPE` cmsg when the caller gave room for one.
///
/// # Safety
///
/// Called by the socket core with a live socket and a valid message.
unsafe extern "C" fn recvmsg(
    sock: *mut bindings::socket,
    msg: *mut bindings::msghdr,
    _size: usize,
    flags: c_int,
) -> c_int {
    from_result(|| {
        let flags = u32::try_from(flags).map_err(|_| EINVAL)?;
        if flags & !RECV_FLAGS != 0 {
            return Err(EOPNOTSUPP);
        }
        // SAFETY: The socket core passes a live socket.
        let this = unsafe { state(sock) };
        // SAFETY: The socket core passes a valid message; `msg_iter` is its destination
        // iterator, used by this call only. `put_cmsg` below touches only the control fields.
        let dest = unsafe { IovIterDest::from_raw(&raw mut (*msg).msg_iter) };
        let mut report_type = |content_type: ContentType| {
            let wire = content_type.wire();
            // SAFETY: `msg` is valid; `put_cmsg` reads and updates only its control fields
            // (never `msg_iter`), and copies one byte from `wire`.
            unsafe {
                let err = bindings::put_cmsg(
                    msg,
                    uapi::SOL_KTLS as c_int,
                    uapi::KTLS_GET_RECORD_TYPE as c_int,
                    1,
                    (&raw const wire).cast_mut().cast(),
                );
                err == 0 && (*msg).msg_flags & bindings::MSG_CTRUNC == 0
            }
        };
        // The lock is released before `no_keys` takes `setup`: lock order is setup, tx, rx.
        let nonblock = flags & bindings::MSG_DONTWAIT != 0;
        // SAFETY: The socket core passes a live socket.
        let timeout = unsafe { shim::ktls_shim_rcvtimeo(sock, nonblock) };
        let received = Option::as_mut(&mut *this.rx.lock())
            .map(|rx| rx.recv(dest, flags, timeout, &mut report_type));
        let received = received.unwrap_or_else(|| Err(this.no_keys()))?;
        if received.truncated {
            // SAFETY: `msg` is valid and the iterator borrow ended.
            unsafe { (*msg).msg_flags |= bindings::MSG_TRUNC };
        }
        c_int::try_from(received.len).map_err(|_| EINVAL)
    })
}

/// `proto_ops::poll`: the bound socket's mask, plus `EPOLLIN` for an opened record waiting.
///
/// # Safety
///
/// Called by the socket core with a live socket and its poll table.
unsafe extern "C" fn poll(
    _file: *mut bindings::file,
    sock: *mut bindings::socket,
    wait: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: The socket core passes a live socket.
    let this = unsafe { state(sock) };
    let Some((bound, _)) = this.setup.lock().bound.clone() else {
        return 0;
    };
    // SAFETY: `wait` is the poll table the socket core gave this poll.
    let mask = unsafe { bound.poll(wait) };
    let readable = bindings::POLLIN | bindings::POLLRDNORM;
    let end = bindings::POLLHUP | bindings::POLLRDHUP | bindings::POLLERR;
    // Without keys the bound socket's mask is all there is. A receiver in `recv` holds the lock
    // and will take what is there; otherwise `POLLIN` needs a whole record (or its end).
    let Some(mut rx) = this.rx.try_lock() else {
        return mask & !readable;
    };
    let Some(rx) = Option::as_mut(&mut *rx) else {
        return mask;
    };
    if rx.has_ready() {
        mask | readable
    } else if mask & end != 0 || rx.record_waiting() {
        mask
    } else {
        mask & !readable
    }
}
