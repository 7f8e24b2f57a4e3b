// SPDX-License-Identifier: GPL-2.0

//! The operations of a family's sockets: [`SocketOps`], implemented by the state of each socket,
//! the `struct proto_ops` built from it, and the views its operations get of their socket
//! ([`Socket`]), message ([`Msg`]), option value ([`SockOptValue`], [`SockOptOut`]) and poll
//! ([`Poll`]).
//!
//! C header: [`include/linux/net.h`](srctree/include/linux/net.h).

use core::{
    marker::PhantomData,
    ptr::NonNull, //
};

use kernel::{
    bindings,
    error::{
        from_result,
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    module::this_module,
    prelude::*,
    sync::{
        Arc,
        ArcBorrow, //
    },
    types::{
        ForeignOwnable,
        Opaque, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use super::{
    family::FamilySlot,
    sock::SockRef, //
};
use crate::{
    helpers,
    pages::SharedChunk, //
};

/// What `socket(2)` asked of the family.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CreateArgs {
    /// The socket type (`SOCK_STREAM`, `SOCK_DGRAM`, ...), without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
    pub(crate) sock_type: i32,
    /// The protocol number.
    pub(crate) protocol: i32,
}

/// The operations of a family's sockets, implemented by the state of each socket.
///
/// [`SocketOps::create`] makes the state of a new socket; it lives in an [`Arc`], which the
/// socket's `struct sock` holds until `close` ([`SocketOps::release`]); the family may hold more
/// references (queued work, for example). Every other operation borrows it for its duration.
/// Operations not implemented fail as the kernel's `sock_no_*` helpers do (`EOPNOTSUPP`).
#[vtable]
pub(crate) trait SocketOps: Sized + Send + Sync + 'static {
    /// Where the family's registration keeps its number and `struct proto`.
    const FAMILY: &'static FamilySlot;

    /// Makes the state of a new socket. `sk` is a reference to the socket's own sock.
    fn create(sk: SockRef, args: CreateArgs) -> Result<Arc<Self>>;

    /// The socket is closed: called once, after every other operation ended.
    fn release(this: Arc<Self>) {
        drop(this);
    }

    /// `bind(2)`, with the address copied into the kernel.
    fn bind(_this: ArcBorrow<'_, Self>, _address: &[u8]) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `shutdown(2)`, with `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    fn shutdown(_this: ArcBorrow<'_, Self>, _how: i32) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `setsockopt(2)` at a level other than `SOL_SOCKET`.
    fn setsockopt(
        _this: ArcBorrow<'_, Self>,
        _level: i32,
        _name: i32,
        _value: SockOptValue<'_>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `getsockopt(2)` at a level other than `SOL_SOCKET`.
    fn getsockopt(
        _this: ArcBorrow<'_, Self>,
        _level: i32,
        _name: i32,
        _out: SockOptOut<'_>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `sendmsg(2)` and the calls built on it; returns the bytes taken.
    fn sendmsg(_this: ArcBorrow<'_, Self>, _sock: &Socket, _msg: &mut Msg<'_>) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `recvmsg(2)` and the calls built on it, with its `MSG_*` flags; returns the bytes
    /// delivered (or, for `MSG_TRUNC` on a datagram socket, the datagram's length).
    fn recvmsg(
        _this: ArcBorrow<'_, Self>,
        _sock: &Socket,
        _msg: &mut Msg<'_>,
        _flags: u32,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `poll(2)` and friends: the socket's poll mask. Must not sleep on a lock.
    fn poll(_this: ArcBorrow<'_, Self>, _sock: &Socket, _poll: &Poll<'_>) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `mmap(2)` of the socket.
    fn mmap(_this: ArcBorrow<'_, Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `splice(2)` out of the socket into `pipe`: at most `len` bytes; `flags` are `SPLICE_F_*`.
    fn splice_read(
        _this: ArcBorrow<'_, Self>,
        _sock: &Socket,
        _pipe: &Pipe<'_>,
        _len: usize,
        _flags: u32,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The source of a `splice(2)` or `sendfile(2)` into the socket ended (its last call had
    /// `MSG_MORE`, expecting more).
    fn splice_eof(_this: ArcBorrow<'_, Self>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// Sends `SIGPIPE` to the calling task, as a stream socket does for a `send` after
/// `shutdown(SHUT_WR)` without `MSG_NOSIGNAL`.
pub(crate) fn raise_sigpipe() {
    // SAFETY: Always safe in process context, where socket operations run.
    unsafe { helpers::rnet_raise_sigpipe() };
}

/// `SPLICE_F_NONBLOCK`: a `splice_read` that must not wait for data.
pub(crate) const SPLICE_NONBLOCK: u32 = helpers::SPLICE_F_NONBLOCK;

/// The pipe `splice_read` fills.
///
/// # Invariants
///
/// `pipe` is the live pipe of a `splice_read` call, locked by the splice code, for `'a`.
pub(crate) struct Pipe<'a> {
    pipe: NonNull<bindings::pipe_inode_info>,
    _call: PhantomData<&'a ()>,
}

impl Pipe<'_> {
    /// Adds `range` of `chunk` to the pipe as one buffer holding a reference on its page (never
    /// a copy). Returns the bytes added; `EAGAIN` when the pipe is full, `EPIPE` (and `SIGPIPE`)
    /// when it has no reader.
    pub(crate) fn add_chunk(
        &self,
        chunk: &SharedChunk,
        range: core::ops::Range<usize>,
    ) -> Result<usize> {
        let (page, offset, len) = chunk.raw_parts();
        if range.start >= range.end || range.end > len as usize {
            return Err(EINVAL);
        }
        let start = u32::try_from(range.start).map_err(|_| EINVAL)?;
        let bytes = u32::try_from(range.end - range.start).map_err(|_| EINVAL)?;
        let (pipe, start) = (self.pipe.as_ptr(), offset + start);
        // SAFETY: By the type invariant the pipe is live and locked; the chunk is shared (never
        // written again) and its page referenced, and the pipe takes its own reference.
        let added = unsafe { helpers::rnet_pipe_add_page(pipe, page, start, bytes) };
        to_result(i32::try_from(added).unwrap_or(-22))?;
        usize::try_from(added).map_err(|_| EINVAL)
    }
}

/// The socket an operation runs on.
///
/// # Invariants
///
/// Wraps a live `struct socket` of the family, with its sock, for the duration of the borrow.
#[repr(transparent)]
pub(crate) struct Socket(Opaque<bindings::socket>);

impl Socket {
    /// The socket at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is a live socket with a sock for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::socket) -> &'a Self {
        // SAFETY: `Socket` is a transparent wrapper; the caller vouches for `ptr`.
        unsafe { &*ptr.cast() }
    }

    /// The socket's receive timeout (`SO_RCVTIMEO`) in jiffies; 0 with `nonblock`.
    pub(crate) fn rcvtimeo(&self, nonblock: bool) -> c_long {
        // SAFETY: By the type invariant the socket and its sock are live.
        unsafe { helpers::rnet_sock_rcvtimeo(self.0.get(), nonblock) }
    }

    /// The socket's send timeout (`SO_SNDTIMEO`) in jiffies; 0 with `nonblock`.
    pub(crate) fn sndtimeo(&self, nonblock: bool) -> c_long {
        // SAFETY: By the type invariant the socket and its sock are live.
        unsafe { helpers::rnet_sock_sndtimeo(self.0.get(), nonblock) }
    }
}

/// The poll call an operation runs for: the file and poll table of `poll(2)`.
///
/// # Invariants
///
/// `file` and `table` are the live file and poll table (possibly null) of a poll of `sock`.
pub(crate) struct Poll<'a> {
    file: *mut bindings::file,
    sock: *mut bindings::socket,
    table: *mut bindings::poll_table_struct,
    _call: PhantomData<&'a ()>,
}

impl Poll<'_> {
    /// Registers the poller on the socket's own wait queue, which [`SockRef::wake`] wakes.
    pub(crate) fn wait_on_own_queue(&self) {
        // SAFETY: By the type invariant the pointers are those of this poll of `sock`.
        unsafe { helpers::rnet_sock_poll_wait(self.file, self.sock, self.table) };
    }

    /// The raw poll table, for [`super::inet::InetSocket::poll`].
    pub(super) fn table(&self) -> *mut bindings::poll_table_struct {
        self.table
    }
}

/// An option value `setsockopt` was given (user or kernel memory).
///
/// # Invariants
///
/// `ptr` is valid for reading `len` bytes for the duration of `'a` (the call).
pub(crate) struct SockOptValue<'a> {
    ptr: bindings::sockptr_t,
    len: usize,
    _call: PhantomData<&'a ()>,
}

impl SockOptValue<'_> {
    /// The value's length (`optlen`).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies the value into the start of `out`; `EINVAL` if `out` is shorter, `EFAULT` if the
    /// memory faults.
    pub(crate) fn copy_to(&self, out: &mut [u8]) -> Result {
        let out = out.get_mut(..self.len).ok_or(EINVAL)?;
        // SAFETY: `out` is valid for `len` bytes, and by the type invariant so is `ptr`.
        to_result(unsafe {
            helpers::rnet_copy_from_sockptr(out.as_mut_ptr().cast(), self.ptr, self.len)
        })
    }
}

/// Where `getsockopt` returns a value: the user's buffer and length.
pub(crate) struct SockOptOut<'a> {
    value: UserPtr,
    len: UserPtr,
    _call: PhantomData<&'a ()>,
}

impl SockOptOut<'_> {
    /// The room the caller gave (`*optlen`); `EINVAL` if negative, `EFAULT` if unreadable.
    pub(crate) fn room(&self) -> Result<usize> {
        let mut bytes = [0u8; 4];
        UserSlice::new(self.len, 4)
            .reader()
            .read_slice(&mut bytes)?;
        usize::try_from(i32::from_ne_bytes(bytes)).map_err(|_| EINVAL)
    }

    /// Returns `value`: copies it to the caller's buffer and its length to `*optlen`.
    pub(crate) fn write(self, value: &[u8]) -> Result {
        UserSlice::new(self.value, value.len())
            .writer()
            .write_slice(value)?;
        let len = c_int::try_from(value.len()).map_err(|_| EINVAL)?;
        UserSlice::new(self.len, 4)
            .writer()
            .write_slice(&len.to_ne_bytes())
    }
}

/// The message of a `sendmsg` or `recvmsg` call.
///
/// # Invariants
///
/// `msg` is the live `msghdr` of the call for `'a`, its control data copied into the kernel for
/// `sendmsg`; nothing else uses it meanwhile.
pub(crate) struct Msg<'a> {
    msg: NonNull<bindings::msghdr>,
    _call: PhantomData<&'a mut bindings::msghdr>,
}

impl<'a> Msg<'a> {
    /// The `MSG_*` flags `sendmsg` was given.
    pub(crate) fn flags(&self) -> u32 {
        // SAFETY: By the type invariant `msg` is live.
        unsafe { (*self.msg.as_ptr()).msg_flags }
    }

    /// Adds `flags` to the flags `recvmsg` returns (`MSG_TRUNC`, ...).
    pub(crate) fn add_flags(&mut self, flags: u32) {
        // SAFETY: By the type invariant `msg` is live and ours.
        unsafe { (*self.msg.as_ptr()).msg_flags |= flags };
    }

    /// The one-byte control message `level`/`kind` of a `sendmsg`, if any. `EINVAL` for a
    /// malformed control message, or another one at `level`.
    pub(crate) fn control_u8(&mut self, level: i32, kind: i32) -> Result<Option<u8>> {
        let mut value = 0u8;
        let msg = self.msg.as_ptr();
        // SAFETY: By the type invariant `msg` is live, with its control data in the kernel.
        let found = unsafe { helpers::rnet_cmsg_find_u8(msg, level, kind, &mut value) };
        to_result(found)?;
        Ok((found > 0).then_some(value))
    }

    /// The data of a `sendmsg`.
    pub(crate) fn source(&mut self) -> &mut IovIterSource<'a> {
        // SAFETY: By the type invariant `msg` is live; a `sendmsg`'s `msg_iter` is a source
        // iterator, borrowed with `self`.
        unsafe { IovIterSource::from_raw(&raw mut (*self.msg.as_ptr()).msg_iter) }
    }

    /// The buffer of a `recvmsg`, and its control data (`put_cmsg`), borrowed together.
    pub(crate) fn dest_and_control(&mut self) -> (&mut IovIterDest<'a>, MsgControl<'_>) {
        let msg = self.msg.as_ptr();
        // SAFETY: By the type invariant `msg` is live; a `recvmsg`'s `msg_iter` is a destination
        // iterator, borrowed with `self`. `MsgControl` touches only the control fields.
        let dest = unsafe { IovIterDest::from_raw(&raw mut (*msg).msg_iter) };
        let control = MsgControl {
            msg,
            _msg: PhantomData,
        };
        (dest, control)
    }
}

/// The control data of a `recvmsg`, borrowed alongside its buffer.
///
/// # Invariants
///
/// `msg` is the live `msghdr` of the call; this value reads and writes only its control fields.
pub(crate) struct MsgControl<'b> {
    msg: *mut bindings::msghdr,
    _msg: PhantomData<&'b mut ()>,
}

impl MsgControl<'_> {
    /// Appends the control message `level`/`kind` with `data`; whether all of it reached the
    /// caller (room for it, no `MSG_CTRUNC`).
    pub(crate) fn put(&mut self, level: i32, kind: i32, data: &[u8]) -> bool {
        let Ok(len) = c_int::try_from(data.len()) else {
            return false;
        };
        // SAFETY: By the type invariant `msg` is live; `put_cmsg` reads and updates only its
        // control fields, and copies `len` bytes from `data`.
        unsafe {
            let err =
                bindings::put_cmsg(self.msg, level, kind, len, data.as_ptr().cast_mut().cast());
            err == 0 && (*self.msg).msg_flags & bindings::MSG_CTRUNC == 0
        }
    }
}

/// The `struct proto_ops` of `T`'s sockets and their trampolines.
pub(crate) struct OpsTable<T: SocketOps>(PhantomData<T>);

impl<T: SocketOps> OpsTable<T> {
    /// The state of the socket `sock`.
    ///
    /// # Safety
    ///
    /// `sock` is a live socket of `T`'s family, between `create` and `release`; the borrow must
    /// not outlive the current socket operation.
    unsafe fn state<'a>(sock: *mut bindings::socket) -> ArcBorrow<'a, T> {
        // SAFETY: `create` stored an `Arc<T>` as the context of the socket's sock, which
        // `release` takes back only after every other operation ended (the caller's promise).
        unsafe { <Arc<T> as ForeignOwnable>::borrow(helpers::rnet_sk_ctx((*sock).sk)) }
    }

    /// # Safety
    ///
    /// Called by the socket core, once, with a socket of the family.
    unsafe extern "C" fn release(sock: *mut bindings::socket) -> c_int {
        // SAFETY: The caller passes a valid socket.
        let sk = unsafe { (*sock).sk };
        if sk.is_null() {
            return 0;
        }
        // SAFETY: `sk` is the family's sock; release runs after every other operation.
        let ctx = unsafe { helpers::rnet_sk_take_ctx(sk) };
        if !ctx.is_null() {
            // SAFETY: `create` stored an `Arc<T>` as the context; it was just taken back, once.
            T::release(unsafe { <Arc<T> as ForeignOwnable>::from_foreign(ctx) });
        }
        // SAFETY: `sock` is valid and its context was taken back just above.
        unsafe { helpers::rnet_sk_release(sock) };
        0
    }

    /// # Safety
    ///
    /// Called by the socket core with a live socket and `len` bytes of address in the kernel.
    unsafe extern "C" fn bind(
        sock: *mut bindings::socket,
        address: *mut bindings::sockaddr_unsized,
        len: c_int,
    ) -> c_int {
        from_result(|| {
            let len = usize::try_from(len).map_err(|_| EINVAL)?;
            // SAFETY: The socket core copied `len` bytes of address into kernel memory.
            let address = unsafe { core::slice::from_raw_parts(address.cast::<u8>(), len) };
            // SAFETY: The socket core passes a live socket of the family.
            T::bind(unsafe { Self::state(sock) }, address)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the socket core with a live socket.
    unsafe extern "C" fn shutdown(sock: *mut bindings::socket, how: c_int) -> c_int {
        // SAFETY: The socket core passes a live socket of the family.
        from_result(|| T::shutdown(unsafe { Self::state(sock) }, how).map(|()| 0))
    }

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
            // INVARIANT: The socket core vouches for `optval` for the duration of the call.
            let value = SockOptValue {
                ptr: optval,
                len: usize::try_from(optlen).map_err(|_| EINVAL)?,
                _call: PhantomData,
            };
            // SAFETY: The socket core passes a live socket of the family.
            T::setsockopt(unsafe { Self::state(sock) }, level, name, value)?;
            Ok(0)
        })
    }

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
            let out = SockOptOut {
                value: UserPtr::from_ptr(optval.cast()),
                len: UserPtr::from_ptr(optlen.cast()),
                _call: PhantomData,
            };
            // SAFETY: The socket core passes a live socket of the family.
            T::getsockopt(unsafe { Self::state(sock) }, level, name, out)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the socket core with a live socket and a valid message.
    unsafe extern "C" fn sendmsg(
        sock: *mut bindings::socket,
        msg: *mut bindings::msghdr,
        _size: usize,
    ) -> c_int {
        from_result(|| {
            // INVARIANT: The socket core passes the call's message, control data copied in.
            let mut msg = Msg {
                msg: NonNull::new(msg).ok_or(EINVAL)?,
                _call: PhantomData,
            };
            // SAFETY: The socket core passes a live socket of the family.
            let (this, sock) = unsafe { (Self::state(sock), Socket::from_raw(sock)) };
            let sent = T::sendmsg(this, sock, &mut msg)?;
            c_int::try_from(sent).map_err(|_| EINVAL)
        })
    }

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
            // INVARIANT: The socket core passes the call's message.
            let mut msg = Msg {
                msg: NonNull::new(msg).ok_or(EINVAL)?,
                _call: PhantomData,
            };
            // SAFETY: The socket core passes a live socket of the family.
            let (this, sock) = unsafe { (Self::state(sock), Socket::from_raw(sock)) };
            let received = T::recvmsg(this, sock, &mut msg, flags)?;
            c_int::try_from(received).map_err(|_| EINVAL)
        })
    }

    /// # Safety
    ///
    /// Called by the socket core with a live socket, its file and its poll table.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        sock: *mut bindings::socket,
        table: *mut bindings::poll_table_struct,
    ) -> bindings::__poll_t {
        // INVARIANT: The socket core passes this poll's file and table.
        let poll = Poll {
            file,
            sock,
            table,
            _call: PhantomData,
        };
        // SAFETY: The socket core passes a live socket of the family.
        let (this, sock) = unsafe { (Self::state(sock), Socket::from_raw(sock)) };
        T::poll(this, sock, &poll)
    }

    /// # Safety
    ///
    /// Called by the splice code with a live socket and a live, locked pipe.
    unsafe extern "C" fn splice_read(
        sock: *mut bindings::socket,
        _ppos: *mut bindings::loff_t,
        pipe: *mut bindings::pipe_inode_info,
        len: usize,
        flags: c_uint,
    ) -> isize {
        let result = (|| {
            // INVARIANT: The splice code passes the call's pipe, locked.
            let pipe = Pipe {
                pipe: NonNull::new(pipe).ok_or(EINVAL)?,
                _call: PhantomData,
            };
            // SAFETY: The splice code passes a live socket of the family.
            let (this, sock) = unsafe { (Self::state(sock), Socket::from_raw(sock)) };
            let spliced = T::splice_read(this, sock, &pipe, len, flags)?;
            isize::try_from(spliced).map_err(|_| EINVAL)
        })();
        match result {
            Ok(spliced) => spliced,
            Err(err) => err.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by the splice code with a live socket.
    unsafe extern "C" fn splice_eof(sock: *mut bindings::socket) {
        // SAFETY: The splice code passes a live socket of the family.
        T::splice_eof(unsafe { Self::state(sock) });
    }

    /// # Safety
    ///
    /// Called by the socket core with a live socket.
    unsafe extern "C" fn mmap(
        _file: *mut bindings::file,
        sock: *mut bindings::socket,
        _vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: The socket core passes a live socket of the family.
        from_result(|| T::mmap(unsafe { Self::state(sock) }).map(|()| 0))
    }

    const VTABLE: bindings::proto_ops = bindings::proto_ops {
        // The socket core does not read it: the registered number is the family's.
        family: 0,
        owner: this_module::<T::OwnerModule>().as_ptr(),
        release: Some(Self::release),
        bind: if T::HAS_BIND {
            Some(Self::bind)
        } else {
            Some(helpers::sock_no_bind)
        },
        connect: Some(helpers::sock_no_connect),
        socketpair: Some(helpers::sock_no_socketpair),
        accept: Some(helpers::sock_no_accept),
        getname: Some(helpers::sock_no_getname),
        poll: if T::HAS_POLL { Some(Self::poll) } else { None },
        ioctl: Some(helpers::sock_no_ioctl),
        listen: Some(helpers::sock_no_listen),
        shutdown: if T::HAS_SHUTDOWN {
            Some(Self::shutdown)
        } else {
            Some(helpers::sock_no_shutdown)
        },
        setsockopt: if T::HAS_SETSOCKOPT {
            Some(Self::setsockopt)
        } else {
            None
        },
        getsockopt: if T::HAS_GETSOCKOPT {
            Some(Self::getsockopt)
        } else {
            None
        },
        sendmsg: if T::HAS_SENDMSG {
            Some(Self::sendmsg)
        } else {
            Some(helpers::sock_no_sendmsg)
        },
        recvmsg: if T::HAS_RECVMSG {
            Some(Self::recvmsg)
        } else {
            Some(helpers::sock_no_recvmsg)
        },
        mmap: if T::HAS_MMAP {
            Some(Self::mmap)
        } else {
            Some(helpers::sock_no_mmap)
        },
        splice_read: if T::HAS_SPLICE_READ {
            Some(Self::splice_read)
        } else {
            None
        },
        splice_eof: if T::HAS_SPLICE_EOF {
            Some(Self::splice_eof)
        } else {
            None
        },
        ..pin_init::zeroed()
    };

    /// The table, for `struct socket::ops`.
    pub(super) const fn build() -> &'static bindings::proto_ops {
        &Self::VTABLE
    }
}
