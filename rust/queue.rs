// SPDX-License-Identifier: GPL-2.0

//! The module's workqueue: every af_ktls work item runs on it, and destroying it at unload waits
//! for all of them, so that no work item outlives the module's code.

use core::ptr::{
    null_mut,
    NonNull, //
};

use kernel::{
    bindings,
    cpu::CpuId,
    prelude::*,
    sync::atomic::{
        Acquire,
        Atomic,
        Release, //
    },
    workqueue::{
        Queue,
        RawWorkItem, //
    },
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
    /// Allocates the workqueue `name` (per-CPU: work runs on the CPU that queued it, or the one
    /// [`enqueue_on`] names) and publishes it.
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

/// The next online CPU after `cpu` (wrapping around; `cpu` itself when it is the only one).
pub(crate) fn cpu_after(cpu: CpuId) -> CpuId {
    // SAFETY: Reads the online mask only; any CPU number is a valid argument.
    let next = unsafe { helpers::rwq_cpu_after(cpu.as_u32()) };
    CpuId::from_u32(next).unwrap_or(cpu)
}

/// Queues `work` on the module's workqueue to run on `cpu`, where [`Queue::enqueue`] would run it
/// on the calling CPU. Returns `None` when the queue is gone, else what queueing returned (the
/// item back if it was queued already).
///
/// `cpu` must have been online once (the kernel warns otherwise): [`CpuId::current`] or
/// [`cpu_after`] give such CPUs. One that goes offline before the work runs is no fault: the
/// work then runs on another one.
pub(crate) fn enqueue_on<W, const ID: u64>(cpu: CpuId, work: W) -> Option<W::EnqueueOutput>
where
    W: RawWorkItem<ID> + Send + 'static,
{
    let queue = QUEUE.load(Acquire);
    if queue.is_null() {
        return None;
    }
    // SAFETY: As in `Queue::enqueue`: the closure returns false only when `queue_work_on` found
    // the item queued already, and `W` is `Send` and `'static`. `queue_work_on` dereferences the
    // work pointer, valid for the closure's call and, once it returned true, until the work runs.
    // The queue is live: a non-null `QUEUE` is, while a caller (a socket) exists.
    Some(unsafe {
        work.__enqueue(move |work_ptr| bindings::queue_work_on(i32::from(cpu), queue, work_ptr))
    })
}
