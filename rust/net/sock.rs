// SPDX-License-Identifier: GPL-2.0

//! [`SockRef`]: a counted reference to a `struct sock`.

use core::ptr::NonNull;

use kernel::bindings;

use crate::helpers;

/// A reference to a `struct sock`, which keeps it allocated.
///
/// A family's socket state holds one to its own sock, so that work running after `close` can
/// still wake pollers safely: an orphaned sock has no wait queue, and the wake then does nothing.
///
/// # Invariants
///
/// `sk` is a `struct sock` on which this value holds one reference (`sock_hold`).
pub(crate) struct SockRef {
    sk: NonNull<bindings::sock>,
}

// SAFETY: A reference on a `struct sock` may be dropped from any task, and `wake` only reads its
// RCU-protected wait queue pointer.
unsafe impl Send for SockRef {}

// SAFETY: See `Send`.
unsafe impl Sync for SockRef {}

impl SockRef {
    /// Takes a reference on `sk`.
    ///
    /// # Safety
    ///
    /// `sk` is a live `struct sock`.
    pub(crate) unsafe fn hold(sk: NonNull<bindings::sock>) -> Self {
        // SAFETY: The caller guarantees `sk` is live.
        unsafe { helpers::rnet_sock_hold(sk.as_ptr()) };
        // INVARIANT: The reference was taken just above.
        Self { sk }
    }

    /// Wakes the tasks that poll the sock's socket, with the poll bits `mask`; does nothing once
    /// the socket is released.
    pub(crate) fn wake(&self, mask: u32) {
        // SAFETY: By the type invariant the sock is allocated.
        unsafe { helpers::rnet_sk_wake(self.sk.as_ptr(), mask) };
    }
}

impl Drop for SockRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this holds one reference, dropped once here.
        unsafe { helpers::rnet_sock_put(self.sk.as_ptr()) };
    }
}
