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
    sync::aref::ARef,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

use super::socket::Poll;
use crate::helpers;

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
        let sock =
            NonNull::new(unsafe { bindings::sock_from_file(file.as_ptr()) }).ok_or(ENOTSOCK)?;
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

    /// Sends `bytes` with `kernel_sendmsg` and the given `MSG_*` flags; returns how many were
    /// taken (all of them for UDP).
    pub(crate) fn send(&self, bytes: &[u8], flags: u32) -> Result<usize> {
        let mut msg = bindings::msghdr {
            msg_flags: flags,
            ..Default::default()
        };
        let mut vec = bindings::kvec {
            iov_base: bytes.as_ptr().cast_mut().cast(),
            iov_len: bytes.len(),
        };
        // SAFETY: By the type invariant `sock` is live; `msg` and `vec` are valid and `vec`
        // describes `bytes`, which the socket only reads.
        let sent = unsafe {
            bindings::kernel_sendmsg(self.sock.as_ptr(), &mut msg, &mut vec, 1, bytes.len())
        };
        to_result(sent)?;
        usize::try_from(sent).map_err(|_| EINVAL)
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
