// SPDX-License-Identifier: GPL-2.0

//! [`BoundSocket`]: the connected TCP or UDP socket an `AF_KTLS` socket carries its records on.

use core::ptr::NonNull;

use kernel::{
    bindings,
    error::to_result,
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    }, //
};

use crate::{
    shim,
    socket::SocketKind, //
};

/// A connected TCP or UDP socket behind a file descriptor given to `bind`, claimed by one
/// `AF_KTLS` socket.
///
/// # Invariants
///
/// `sock` is a live socket whose file reference this value owns (from `sockfd_lookup`); it is
/// released on drop. It is a TCP (`kind` is `SocketKind::Stream`) or UDP socket of an inet
/// family, as the claim checked: its `struct sock` is a `tcp_sock` or `udp_sock`, which no later
/// change of the socket alters. While `claimed`, its `sk_user_data` marks it as AF_KTLS's.
pub(crate) struct BoundSocket {
    sock: NonNull<bindings::socket>,
    kind: SocketKind,
    claimed: Atomic<bool>,
}

// SAFETY: The file reference may be dropped from any task, and the socket calls used here
// (`kernel_sendmsg`, `kernel_recvmsg`, poll, waits) take the socket's own locks.
unsafe impl Send for BoundSocket {}

// SAFETY: See `Send`: every operation through `&self` is one the socket layer serialises itself.
unsafe impl Sync for BoundSocket {}

impl BoundSocket {
    /// Looks up `fd` and claims it if it is a connected socket `kind` can carry records on.
    ///
    /// Errors: `EBADF` (not a file descriptor), `ENOTSOCK` (not a socket), `EPROTOTYPE` (not a
    /// TCP socket for `SOCK_STREAM`, not a UDP socket for `SOCK_DGRAM`, not IPv4/IPv6),
    /// `ENOTCONN` (not connected), `EEXIST` (another `AF_KTLS` socket or a TCP upper layer such
    /// as mainline kTLS has it), `EBUSY` (another kernel user, e.g. a sockmap, has it).
    pub(crate) fn lookup(fd: i32, kind: SocketKind) -> Result<Self> {
        let mut err = 0;
        // SAFETY: `err` is a valid place for the error code.
        let sock = NonNull::new(unsafe { shim::ktls_shim_sock_lookup(fd, &mut err) })
            .ok_or_else(|| Error::from_errno(err))?;
        // SAFETY: `sock` is live: `sockfd_lookup` succeeded.
        let claimed =
            unsafe { shim::ktls_shim_bound_claim(sock.as_ptr(), kind == SocketKind::Stream) };
        if let Err(err) = to_result(claimed) {
            // SAFETY: The reference taken by `sockfd_lookup` above, dropped once.
            unsafe { shim::ktls_shim_sock_put(sock.as_ptr()) };
            return Err(err);
        }
        // INVARIANT: `sockfd_lookup` succeeded, so this owns one file reference, and the claim
        // checked the kind and marked the socket.
        Ok(Self {
            sock,
            kind,
            claimed: Atomic::new(true),
        })
    }

    /// Gives the socket back: `AF_KTLS` no longer holds it (another `AF_KTLS` socket or a sockmap
    /// may take it). Idempotent.
    pub(crate) fn unclaim(&self) {
        if self.claimed.xchg(false, Relaxed) {
            // SAFETY: By the type invariant `sock` is live; it was claimed by this value.
            unsafe { shim::ktls_shim_bound_unclaim(self.sock.as_ptr()) };
        }
    }

    /// Adds `entry` to the socket's wait queue with `func` as its wake function, which is then
    /// called with the poll mask of every wake-up of the socket.
    ///
    /// # Safety
    ///
    /// `entry` is valid and not on any wait queue, and stays valid until [`Self::unwatch`]
    /// removed it; `func` may be called in atomic context until then.
    pub(crate) unsafe fn watch(
        &self,
        entry: *mut bindings::wait_queue_entry,
        func: bindings::wait_queue_func_t,
    ) {
        // SAFETY: By the type invariant `sock` is live; the caller vouches for `entry`.
        unsafe { shim::ktls_shim_bound_watch(self.sock.as_ptr(), entry, func) };
    }

    /// Removes `entry` from the socket's wait queue; its wake function is not called afterwards.
    ///
    /// # Safety
    ///
    /// `entry` was added by [`Self::watch`] on this socket and not removed since.
    pub(crate) unsafe fn unwatch(&self, entry: *mut bindings::wait_queue_entry) {
        // SAFETY: By the type invariant `sock` is live; the caller vouches for `entry`.
        unsafe { shim::ktls_shim_bound_unwatch(self.sock.as_ptr(), entry) };
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
    /// of a pending signal. Takes no lock of the `AF_KTLS` socket: callers release theirs first.
    pub(crate) fn wait(&self, timeout: &mut c_long, for_write: bool, sleep_first: bool) -> Result {
        // SAFETY: By the type invariant `sock` is live; `timeout` is a valid place.
        to_result(unsafe {
            shim::ktls_shim_bound_wait(self.sock.as_ptr(), timeout, for_write, sleep_first)
        })
    }

    /// Whether an error (`sk_err`: a reset, an ICMP error) waits to be returned by the next call.
    pub(crate) fn error_pending(&self) -> bool {
        // SAFETY: By the type invariant `sock` is live.
        unsafe { shim::ktls_shim_bound_error_pending(self.sock.as_ptr()) }
    }

    /// Whether the socket's input ended: `shutdown(SHUT_RD)`, a FIN or a reset.
    pub(crate) fn input_ended(&self) -> bool {
        // SAFETY: By the type invariant `sock` is live.
        unsafe { shim::ktls_shim_bound_input_ended(self.sock.as_ptr()) }
    }

    /// Bytes queued for reading on a TCP socket; 0 for UDP.
    pub(crate) fn tcp_queued(&self) -> usize {
        if self.kind != SocketKind::Stream {
            return 0;
        }
        // SAFETY: By the type invariant `sock` is live, and of a stream kind it is TCP.
        let queued = unsafe { shim::ktls_shim_tcp_inq(self.sock.as_ptr()) };
        usize::try_from(queued).unwrap_or(0)
    }

    /// The socket's poll mask; registers `wait` on its wait queue.
    ///
    /// # Safety
    ///
    /// `wait` is null or the poll table the socket core passed to the `AF_KTLS` socket's poll.
    pub(crate) unsafe fn poll(&self, wait: *mut bindings::poll_table_struct) -> u32 {
        // SAFETY: By the type invariant `sock` is live; the caller vouches for `wait`.
        unsafe { shim::ktls_shim_sock_poll(self.sock.as_ptr(), wait) }
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        self.unclaim();
        // SAFETY: By the type invariant this owns one file reference, dropped once here.
        unsafe { shim::ktls_shim_sock_put(self.sock.as_ptr()) };
    }
}
