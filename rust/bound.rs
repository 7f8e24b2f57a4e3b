// SPDX-License-Identifier: GPL-2.0

//! [`BoundSocket`]: the connected TCP or UDP socket an `AF_KTLS` socket carries its records on.

use core::ptr::NonNull;

use kernel::{
    bindings,
    error::to_result,
    prelude::*, //
};

use crate::{
    shim,
    socket::SocketKind, //
};

/// `IPPROTO_TCP` and `IPPROTO_UDP`.
const IPPROTO_TCP: i32 = bindings::IPPROTO_TCP as i32;
const IPPROTO_UDP: i32 = bindings::IPPROTO_UDP as i32;

/// A reference to the connected socket behind a file descriptor given to `bind`.
///
/// # Invariants
///
/// `sock` is a live socket whose file reference this value owns (from `sockfd_lookup`); it is
/// released on drop.
pub(crate) struct BoundSocket {
    sock: NonNull<bindings::socket>,
}

// SAFETY: The file reference may be dropped from any task, and the socket calls used here
// (`kernel_sendmsg`, `kernel_recvmsg`, poll) take the socket's own locks.
unsafe impl Send for BoundSocket {}

// SAFETY: See `Send`: every operation through `&self` is one the socket layer serialises itself.
unsafe impl Sync for BoundSocket {}

impl BoundSocket {
    /// Looks up `fd` and checks that it is a connected socket `kind` can carry records on.
    ///
    /// Errors: `EBADF` (not a file descriptor), `ENOTSOCK` (not a socket), `EPROTOTYPE` (not TCP
    /// for `SOCK_STREAM`, not UDP for `SOCK_DGRAM`, or not IPv4/IPv6), `ENOTCONN` (not connected).
    pub(crate) fn lookup(fd: i32, kind: SocketKind) -> Result<Self> {
        let mut err = 0;
        // SAFETY: `err` is a valid place for the error code.
        let sock = NonNull::new(unsafe { shim::ktls_shim_sock_lookup(fd, &mut err) })
            .ok_or_else(|| Error::from_errno(err))?;
        // INVARIANT: `sockfd_lookup` succeeded, so this owns one file reference; every early
        // return below drops it again.
        let bound = Self { sock };
        let wanted = match kind {
            SocketKind::Stream => IPPROTO_TCP,
            SocketKind::Datagram => IPPROTO_UDP,
        };
        // SAFETY: By the type invariant `sock` is live.
        let (protocol, family) = unsafe {
            (
                shim::ktls_shim_sock_protocol(bound.sock.as_ptr()),
                shim::ktls_shim_sock_family(bound.sock.as_ptr()),
            )
        };
        let inet = family == bindings::AF_INET as i32 || family == bindings::AF_INET6 as i32;
        if protocol != wanted || !inet {
            return Err(EPROTOTYPE);
        }
        // SAFETY: By the type invariant `sock` is live.
        if !unsafe { shim::ktls_shim_sock_is_connected(bound.sock.as_ptr()) } {
            return Err(ENOTCONN);
        }
        Ok(bound)
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

    /// Waits until the socket is readable (data, error or end of stream), for at most `timeout`
    /// jiffies, which it decreases by the time waited. `EAGAIN` when the time runs out; the
    /// errno of a pending signal.
    pub(crate) fn wait_readable(&self, timeout: &mut c_long) -> Result {
        // SAFETY: By the type invariant `sock` is live; `timeout` is a valid place.
        to_result(unsafe { shim::ktls_shim_wait_readable(self.sock.as_ptr(), timeout) })
    }

    /// Bytes queued for reading on a TCP socket.
    pub(crate) fn tcp_queued(&self) -> usize {
        // SAFETY: By the type invariant `sock` is live, and TCP for a stream `AF_KTLS` socket.
        let queued = unsafe { shim::ktls_shim_tcp_inq(self.sock.as_ptr()) };
        usize::try_from(queued).unwrap_or(0)
    }

    /// The bound socket's poll mask; registers `wait` on its wait queue.
    ///
    /// # Safety
    ///
    /// `wait` is the poll table the socket core passed to the `AF_KTLS` socket's poll.
    pub(crate) unsafe fn poll(&self, wait: *mut bindings::poll_table_struct) -> u32 {
        // SAFETY: By the type invariant `sock` is live; the caller vouches for `wait`.
        unsafe { shim::ktls_shim_sock_poll(self.sock.as_ptr(), wait) }
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this owns one file reference, dropped once here.
        unsafe { shim::ktls_shim_sock_put(self.sock.as_ptr()) };
    }
}

