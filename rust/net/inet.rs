// SPDX-License-Identifier: GPL-2.0

//! [`InetSocket`]: a connected TCP or UDP socket taken from a file descriptor, for a family that
//! carries its data over one.

use core::ptr::NonNull;

use kernel::{
    bindings,
    error::to_result,
    fs::{
        File,
        LocalFile, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc, //
    },
    types::Opaque,
};

use super::socket::Poll;
use crate::{
    helpers,
    pages::SharedChunk,
    sg::SgSource, //
};

/// Which transport an [`InetSocket`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// A TCP socket (`SOCK_STREAM`).
    Tcp,
    /// A UDP socket (`SOCK_DGRAM`).
    Udp,
}

/// The mark a family puts in the `sk_user_data` of the sockets it claims, so that it and every
/// other user of the field (sockmap, KCM, encapsulation) can tell a claimed socket. Declare one
/// per family as a `static`.
#[repr(align(8))]
pub(crate) struct ClaimMarker(#[expect(dead_code, reason = "only its address matters")] u8);

impl ClaimMarker {
    /// A marker.
    pub(crate) const fn new() -> Self {
        Self(0)
    }

    fn as_ptr(&'static self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }
}

/// Learns the operations of fresh TCP and UDP sockets, which [`InetSocket::claim`] compares with.
/// Call once, before the first claim (at module load).
pub(crate) fn learn_inet_ops() -> Result {
    // SAFETY: No preconditions; it only makes and releases kernel sockets.
    to_result(unsafe { helpers::rnet_inet_learn_ops() })
}

/// A connected TCP or UDP socket, claimed by one user until [`InetSocket::unclaim`] or drop.
///
/// # Invariants
///
/// `sock` is the socket of `file`, whose reference this value owns. It is a TCP
/// (`Transport::Tcp`) or UDP socket of an inet family, as the claim checked: its `struct sock` is
/// a `tcp_sock` or `udp_sock`, which nothing can change later. While `claimed`, its
/// `sk_user_data` is `marker`.
pub(crate) struct InetSocket {
    file: ARef<File>,
    sock: NonNull<bindings::socket>,
    transport: Transport,
    marker: &'static ClaimMarker,
    claimed: Atomic<bool>,
}

// SAFETY: The file reference may be dropped from any task, and the socket calls used here take
// the socket's own locks.
unsafe impl Send for InetSocket {}

// SAFETY: See `Send`: every operation through `&self` is one the socket layer serialises itself.
unsafe impl Sync for InetSocket {}

impl InetSocket {
    /// Takes the socket behind `fd` and claims it with `marker` if it is a connected socket of
    /// `transport`.
    ///
    /// Errors: `EBADF` (not a file descriptor), `ENOTSOCK` (not a socket), `EPROTOTYPE` (not a
    /// TCP resp. UDP socket of `AF_INET`/`AF_INET6`), `ENOTCONN` (not connected), `EEXIST`
    /// (claimed with `marker` already, or a TCP upper layer such as mainline kTLS is attached),
    /// `EBUSY` (another kernel user, e.g. a sockmap, has it).
    pub(crate) fn claim(
        fd: i32,
        transport: Transport,
        marker: &'static ClaimMarker,
    ) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        let file = LocalFile::fget(fd)?;
        // SAFETY: Called from a socket operation (`bind`), which runs no `fdget_pos`.
        let file = unsafe { LocalFile::assume_no_fdget_pos(file) };
        // SAFETY: `file` is a live file, held by this function.
        let sock = unsafe { bindings::sock_from_file(file.as_ptr()) };
        let sock = NonNull::new(sock).ok_or(ENOTSOCK)?;
        let stream = transport == Transport::Tcp;
        // SAFETY: `sock` is the live socket of `file`; `marker` is 8-byte aligned and `'static`.
        to_result(unsafe { helpers::rnet_inet_claim(sock.as_ptr(), stream, marker.as_ptr()) })?;
        // INVARIANT: The claim checked the kind and marked the socket; `file` is owned.
        Ok(Self {
            file,
            sock,
            transport,
            marker,
            claimed: Atomic::new(true),
        })
    }

    /// Gives the socket back: its users may claim it again. Idempotent.
    pub(crate) fn unclaim(&self) {
        if self.claimed.xchg(false, Relaxed) {
            // SAFETY: By the type invariant `sock` is live and was claimed with `marker`.
            unsafe { helpers::rnet_inet_unclaim(self.sock.as_ptr(), self.marker.as_ptr()) };
        }
    }

    /// The raw socket, for [`super::wait::WaitEntry`].
    pub(super) fn as_raw(&self) -> *mut bindings::socket {
        self.sock.as_ptr()
    }

    /// Receives into `buf` with `kernel_recvmsg` and the given `MSG_*` flags. Returns the number
    /// of bytes (0 at the end of a TCP stream) and whether a datagram was truncated.
    pub(crate) fn recv(&self, buf: &mut [u8], flags: u32) -> Result<(usize, bool)> {
        let mut msg = bindings::msghdr::default();
        let mut vec = bindings::kvec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let flags = i32::try_from(flags).map_err(|_| EINVAL)?;
        // SAFETY: By the type invariant `sock` is live; `msg` and `vec` are valid and `vec`
        // describes `buf`, which is writable for its length.
        let received = unsafe {
            bindings::kernel_recvmsg(self.sock.as_ptr(), &mut msg, &mut vec, 1, buf.len(), flags)
        };
        to_result(received)?;
        let truncated = msg.msg_flags & bindings::MSG_TRUNC != 0;
        Ok((usize::try_from(received).map_err(|_| EINVAL)?, truncated))
    }

    /// Sends `range` of `chunk` with the given `MSG_*` flags: from `SPLICE_MIN_LEN` bytes on
    /// with `MSG_SPLICE_PAGES` (the socket takes references on the page instead of copying the
    /// bytes), below it by copy, which costs less than the page references for a small record.
    /// Returns how many bytes it took.
    pub(crate) fn send_chunk(
        &self,
        chunk: &SharedChunk,
        range: core::ops::Range<usize>,
        flags: u32,
    ) -> Result<usize> {
        let (page, offset, len) = chunk.raw_parts();
        if range.start > range.end || range.end > len as usize {
            return Err(EINVAL);
        }
        let bytes = range.end - range.start;
        let vec = bindings::bio_vec {
            bv_page: page,
            bv_len: c_uint::try_from(bytes).map_err(|_| EINVAL)?,
            bv_offset: offset + range.start as u32,
        };
        let splice = if bytes >= SPLICE_MIN_LEN {
            bindings::MSG_SPLICE_PAGES
        } else {
            0
        };
        let mut msg = bindings::msghdr {
            msg_flags: flags | splice,
            ..Default::default()
        };
        // SAFETY: `msg_iter` is a valid place; `vec` describes bytes of the chunk, which stays
        // unchanged (shared) and referenced for the call; the socket takes its own references
        // (or copies the bytes).
        unsafe {
            bindings::iov_iter_bvec(&mut msg.msg_iter, bindings::ITER_SOURCE, &vec, 1, bytes)
        };
        // SAFETY: By the type invariant `sock` is live; `msg` is valid.
        let sent = unsafe { bindings::sock_sendmsg(self.sock.as_ptr(), &mut msg) };
        to_result(sent)?;
        usize::try_from(sent).map_err(|_| EINVAL)
    }

    /// Locks a TCP socket for reading its receive queue in place ([`TcpQueue`]).
    pub(crate) fn tcp_queue(&self) -> Result<TcpQueue<'_>> {
        if self.transport != Transport::Tcp {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant `sock` is live.
        unsafe { helpers::rnet_sock_lock(self.sock.as_ptr()) };
        // INVARIANT: Locked just above, by this task.
        Ok(TcpQueue { socket: self })
    }

    /// The next datagram of a UDP socket, without waiting: `Ok(None)` when none is queued, or
    /// when the socket's input ended ([`Self::input_ended`] tells). Its checksum is verified.
    pub(crate) fn recv_datagram(self: &Arc<Self>) -> Result<Option<Datagram>> {
        if self.transport != Transport::Udp {
            return Err(EINVAL);
        }
        let mut len = 0;
        let mut err = 0;
        // SAFETY: By the type invariant `sock` is live, and a UDP one.
        let skb = unsafe { helpers::rnet_udp_recv(self.sock.as_ptr(), &mut len, &mut err) };
        let Some(skb) = NonNull::new(skb) else {
            return match err {
                0 => Err(EIO),
                err if Error::from_errno(err) == EAGAIN => Ok(None),
                err => Err(Error::from_errno(err)),
            };
        };
        // INVARIANT: The datagram was taken off the socket's queue and is ours.
        Ok(Some(Datagram {
            socket: self.clone(),
            skb,
            len: len as usize,
        }))
    }

    /// TCP: whether the receive side is stalled (memory pressure, or a window down to one
    /// segment): then queued data must be read out for more to come.
    pub(crate) fn tcp_rcv_stalled(&self) -> bool {
        if self.transport != Transport::Tcp {
            return false;
        }
        // SAFETY: By the type invariant `sock` is live, and a TCP one.
        unsafe { helpers::rnet_tcp_rcv_stalled(self.sock.as_ptr()) }
    }

    /// Waits until a reader (`for_write` false) or a writer of the socket could make progress,
    /// for at most `timeout` jiffies, which it decreases by the time waited. With `sleep_first`
    /// it waits for the next wake-up before looking. `EAGAIN` when the time runs out; the errno
    /// of a pending signal. The caller holds no lock a data call on this socket needs.
    pub(crate) fn wait(&self, timeout: &mut c_long, for_write: bool, sleep_first: bool) -> Result {
        // SAFETY: By the type invariant `sock` is live; `timeout` is a valid place.
        to_result(unsafe {
            helpers::rnet_inet_wait(self.sock.as_ptr(), timeout, for_write, sleep_first)
        })
    }

    /// Whether an error (`sk_err`: a reset, an ICMP error) waits to be returned by the next call.
    pub(crate) fn error_pending(&self) -> bool {
        // SAFETY: By the type invariant `sock` is live.
        unsafe { helpers::rnet_sock_error_pending(self.sock.as_ptr()) }
    }

    /// Whether the socket's input ended: `shutdown(SHUT_RD)`, a FIN or a reset.
    pub(crate) fn input_ended(&self) -> bool {
        // SAFETY: By the type invariant `sock` is live.
        unsafe { helpers::rnet_sock_input_ended(self.sock.as_ptr()) }
    }

    /// `shutdown(2)` of the socket: `read` its receive side, `write` its send side (both: both).
    /// Wakes everything waiting on it.
    pub(crate) fn shutdown(&self, read: bool, write: bool) -> Result {
        let how = match (read, write) {
            (true, true) => bindings::sock_shutdown_cmd_SHUT_RDWR,
            (true, false) => bindings::sock_shutdown_cmd_SHUT_RD,
            (false, true) => bindings::sock_shutdown_cmd_SHUT_WR,
            (false, false) => return Ok(()),
        };
        // SAFETY: By the type invariant `sock` is live.
        to_result(unsafe { bindings::kernel_sock_shutdown(self.sock.as_ptr(), how) })
    }

    /// The socket's receive buffer size (`SO_RCVBUF`, as the kernel doubled it).
    pub(crate) fn rcvbuf(&self) -> usize {
        // SAFETY: By the type invariant `sock` is live.
        let rcvbuf = unsafe { helpers::rnet_sock_rcvbuf(self.sock.as_ptr()) };
        usize::try_from(rcvbuf).unwrap_or(0)
    }

    /// Bytes queued for reading on a TCP socket; 0 for UDP.
    pub(crate) fn tcp_queued(&self) -> usize {
        if self.transport != Transport::Tcp {
            return 0;
        }
        // SAFETY: By the type invariant `sock` is live, and a TCP one.
        let queued = unsafe { helpers::rnet_tcp_inq(self.sock.as_ptr()) };
        usize::try_from(queued).unwrap_or(0)
    }

    /// The socket's poll mask, registering the poller of `poll` on its wait queue.
    pub(crate) fn poll(&self, poll: &Poll<'_>) -> u32 {
        let sock = self.sock.as_ptr();
        // SAFETY: By the type invariant `sock` is live and has its protocol's operations; the
        // table is that of a live poll call (`Poll`'s invariant), and the file is the socket's.
        unsafe {
            match (*(*sock).ops).poll {
                Some(poll_fn) => poll_fn(self.file.as_ptr(), sock, poll.table()),
                None => 0,
            }
        }
    }
}

impl Drop for InetSocket {
    fn drop(&mut self) {
        self.unclaim();
    }
}

/// Records from this many bytes on are handed to the bound socket by page reference; smaller
/// ones are copied (measured with `make bench`: 1400-byte records 1.13x faster copied).
const SPLICE_MIN_LEN: usize = 2048;

/// A TCP socket locked (`lock_sock`) for reading its receive queue in place: the queue does not
/// change until the guard is dropped (`release_sock`), so its bytes can be mapped into
/// scatterlists and consumed afterwards.
///
/// # Invariants
///
/// `socket` is a TCP socket locked by this task for the guard's lifetime.
pub(crate) struct TcpQueue<'s> {
    socket: &'s InetSocket,
}

impl<'s> TcpQueue<'s> {
    /// Bytes queued.
    pub(crate) fn queued(&self) -> usize {
        self.socket.tcp_queued()
    }

    /// Copies the queued bytes from `offset` into `out`; `EAGAIN` if fewer are queued.
    pub(crate) fn copy(&self, offset: usize, out: &mut [u8]) -> Result {
        let offset = u32::try_from(offset).map_err(|_| EINVAL)?;
        let len = u32::try_from(out.len()).map_err(|_| EINVAL)?;
        // SAFETY: By the type invariant the socket is a locked TCP socket; `out` is writable
        // for `len` bytes.
        to_result(unsafe {
            helpers::rnet_tcp_queue_copy(self.socket.as_raw(), offset, out.as_mut_ptr().cast(), len)
        })
    }

    /// Adds the `len` queued bytes from `offset` to `list`, which may use them while the guard
    /// lives. `EAGAIN` if fewer are queued, `EMSGSIZE` if the list has too few entries left.
    pub(crate) fn map<'a>(&'a self, list: &mut SgSource<'a>, offset: usize, len: usize) -> Result {
        let offset32 = u32::try_from(offset).map_err(|_| EINVAL)?;
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        let sock = self.socket.as_raw();
        // SAFETY: By the type invariant the socket is locked, so its queued buffers stay, as they
        // are, while the guard (borrowed for `'a`) lives; they are linearly mapped socket buffers.
        unsafe {
            list.push_with(len, |entries, room| {
                let used = helpers::rnet_tcp_queue_sg(sock, offset32, len32, entries, room);
                to_result(used)?;
                usize::try_from(used).map_err(|_| EINVAL)
            })
        }
    }

    /// As [`Self::map`], mapping clones of the socket buffers that join `hold`: the bytes stay
    /// valid, unchanged, after they are consumed, as long as `hold` holds them.
    pub(crate) fn map_held<'a>(
        &self,
        list: &mut SgSource<'a>,
        offset: usize,
        len: usize,
        hold: &'a SkbHold,
    ) -> Result {
        let offset32 = u32::try_from(offset).map_err(|_| EINVAL)?;
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        let sock = self.socket.as_raw();
        let held = hold.as_raw();
        // SAFETY: By the type invariant the socket is locked, so its queue stays as it is while
        // the clones are made; the clones share the buffers' (linearly mapped) data and keep
        // it, unchanged (a cloned buffer is never written again), while `hold` (borrowed for
        // `'a`) has them; `hold` is only changed through its owner, here.
        unsafe {
            list.push_with(len, |entries, room| {
                let used =
                    helpers::rnet_tcp_queue_sg_held(sock, offset32, len32, entries, room, held);
                to_result(used)?;
                usize::try_from(used).map_err(|_| EINVAL)
            })
        }
    }

    /// Consumes the next `len` queued bytes (they were used).
    pub(crate) fn consume(self, len: usize) {
        if let Ok(len) = u32::try_from(len) {
            // SAFETY: By the type invariant the socket is locked; `tcp_read_done` consumes at most
            // what is queued.
            unsafe { helpers::rnet_tcp_consume(self.socket.as_raw(), len) };
        }
    }
}

impl Drop for TcpQueue<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this task locked the socket; released once here.
        unsafe { helpers::rnet_sock_unlock(self.socket.as_raw()) };
    }
}

/// A datagram taken off a UDP socket, its payload of `len` bytes at offset 0; given back to the
/// socket's accounting (`skb_consume_udp`) on drop.
///
/// # Invariants
///
/// `skb` is a datagram of `socket` that this value owns.
pub(crate) struct Datagram {
    socket: Arc<InetSocket>,
    skb: NonNull<bindings::sk_buff>,
    len: usize,
}

// SAFETY: An skb may be used and freed from any task; only `&mut`/owned access changes it.
unsafe impl Send for Datagram {}

// SAFETY: `&Datagram` only reads the skb's data.
unsafe impl Sync for Datagram {}

impl Datagram {
    /// The payload's length.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies payload bytes from `offset` into `out`.
    pub(crate) fn copy(&self, offset: usize, out: &mut [u8]) -> Result {
        if offset > self.len || out.len() > self.len - offset {
            return Err(EINVAL);
        }
        let offset = c_int::try_from(offset).map_err(|_| EINVAL)?;
        let len = c_int::try_from(out.len()).map_err(|_| EINVAL)?;
        // SAFETY: By the type invariant the skb is ours; the range is within its payload, and
        // `out` is writable for `len` bytes.
        to_result(unsafe {
            bindings::skb_copy_bits(self.skb.as_ptr(), offset, out.as_mut_ptr().cast(), len)
        })
    }

    /// Adds `len` payload bytes from `offset` to `list`, which may use them while the datagram
    /// (borrowed for `'a`) lives.
    pub(crate) fn map<'a>(&'a self, list: &mut SgSource<'a>, offset: usize, len: usize) -> Result {
        if offset > self.len || len > self.len - offset {
            return Err(EINVAL);
        }
        let offset32 = u32::try_from(offset).map_err(|_| EINVAL)?;
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        let skb = self.skb.as_ptr();
        // SAFETY: The skb is ours (type invariant) and unchanged while borrowed for `'a`; its
        // buffers are linearly mapped.
        unsafe {
            list.push_with(len, |entries, room| {
                let used = helpers::rnet_skb_sg(skb, offset32, len32, entries, room);
                to_result(used)?;
                usize::try_from(used).map_err(|_| EINVAL)
            })
        }
    }
}

impl Datagram {
    /// As [`Self::map`], mapping a clone of the datagram that joins `hold`: the bytes stay
    /// valid, unchanged, after the datagram is released, as long as `hold` holds them.
    pub(crate) fn map_held<'a>(
        &self,
        list: &mut SgSource<'a>,
        offset: usize,
        len: usize,
        hold: &'a SkbHold,
    ) -> Result {
        if offset > self.len || len > self.len - offset {
            return Err(EINVAL);
        }
        let offset32 = u32::try_from(offset).map_err(|_| EINVAL)?;
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        let skb = self.skb.as_ptr();
        let held = hold.as_raw();
        // SAFETY: The skb is ours (type invariant); its clone shares the (linearly mapped) data
        // and keeps it, unchanged, while `hold` (borrowed for `'a`) has it.
        unsafe {
            list.push_with(len, |entries, room| {
                let used = helpers::rnet_skb_sg_held(skb, offset32, len32, entries, room, held);
                to_result(used)?;
                usize::try_from(used).map_err(|_| EINVAL)
            })
        }
    }
}

/// Socket buffers held by clones, so that their bytes stay valid after the socket consumed or
/// freed the buffers: the clones share the data (nothing is copied). Released on drop.
///
/// # Invariants
///
/// `list` is an initialised `sk_buff_head` whose buffers (clones) this value owns; it is changed
/// only by the functions given `&self` above, one at a time (their callers hold `&mut` of the
/// owner), and by `drop`.
#[pin_data(PinnedDrop)]
pub(crate) struct SkbHold {
    #[pin]
    list: Opaque<bindings::sk_buff_head>,
}

// SAFETY: Socket buffers may be held and freed from any task.
unsafe impl Send for SkbHold {}

// SAFETY: See the type invariant: `&SkbHold` changes the list only under its owner's `&mut`.
unsafe impl Sync for SkbHold {}

impl SkbHold {
    /// An empty hold.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is a valid place for a list head, initialised here.
            list <- Opaque::ffi_init(|slot: *mut bindings::sk_buff_head| unsafe {
                helpers::rnet_hold_init(slot)
            }),
        })
    }

    fn as_raw(&self) -> *mut bindings::sk_buff_head {
        self.list.get()
    }
}

#[pinned_drop]
impl PinnedDrop for SkbHold {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant the list is initialised and its buffers are ours.
        unsafe { helpers::rnet_hold_release(self.list.get()) };
    }
}

impl Drop for Datagram {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the skb is a datagram of the (live) socket, ours to free.
        unsafe { helpers::rnet_udp_consume(self.socket.as_raw(), self.skb.as_ptr()) };
    }
}
