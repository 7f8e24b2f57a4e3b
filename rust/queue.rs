// SPDX-License-Identifier: GPL-2.0

//! The module's workqueue: every af_ktls work item runs on it, and destroying it at unload waits
//! for all of them, so that no work item outlives the module's code.

use core::ptr::{
    null_mut,
    NonNull, //
};

use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Release, //
    },
    workqueue::Queue, //
};

use crate::helpers;

/// The queue while [`ModuleQueue`] lives; null before and after.
static QUEUE: Atomic<*mut bindings::workqueue_struct> = Atomic::new(null_mut());

/// Owns the module's workqueue.
///
/// # Invariants
///
/// `queue` comes from `alloc_workqueue`, is published in [`QUEUE`] and is destroyed on drop.
pub(crate) struct ModuleQueue {
    queue: NonNull<bindings::workqueue_struct>,
}

// SAFETY: A workqueue may be used and destroyed from any task.
unsafe impl Send for ModuleQueue {}

// SAFETY: `&ModuleQueue` gives no access to the queue; see `Send`.
unsafe impl Sync for ModuleQueue {}

impl ModuleQueue {
    /// Allocates the workqueue `name` (per-CPU: work runs on the CPU that queued it, the one
    /// that received the data) and publishes it.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string.
        let queue = unsafe { helpers::rwq_alloc(name.as_char_ptr()) };
        let queue = NonNull::new(queue).ok_or(ENOMEM)?;
        QUEUE.store(queue.as_ptr(), Release);
        // INVARIANT: Allocated and published just above.
        Ok(Self { queue })
    }
}

impl Drop for ModuleQueue {
    fn drop(&mut self) {
        QUEUE.store(null_mut(), Release);
        // SAFETY: By the type invariant the queue is ours; destroying it waits for every work
        // item on it. Items are only queued by sockets, and none exists any more: the family is
        // unregistered first and every socket holds a module reference.
        unsafe { bindings::destroy_workqueue(self.queue.as_ptr()) };
    }
}

/// The module's workqueue, if it exists (always, while a socket does).
pub(crate) fn queue() -> Option<&'static Queue> {
    let queue = QUEUE.load(Acquire);
    if queue.is_null() {
        return None;
    }
    // SAFETY: A non-null `QUEUE` is a live workqueue until `ModuleQueue` is dropped, which
    // happens only once no socket, and so no caller, exists.
    Some(unsafe { Queue::from_raw(queue) })
}
