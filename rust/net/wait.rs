// SPDX-License-Identifier: GPL-2.0

//! [`WaitEntry`]: a wait-queue entry through which another socket's wake-ups reach an object.
//!
//! Unlike replacing the other socket's `sk_data_ready`, an entry on its wait queue composes with
//! whatever else watches the socket and leaves nothing to restore.

use core::marker::PhantomData;

use kernel::{
    bindings, new_spinlock,
    prelude::*,
    sync::{
        Arc,
        ArcBorrow,
        SpinLock, //
    },
    types::Opaque,
};

use super::inet::InetSocket;
use crate::helpers;

/// An object a [`WaitEntry`] reports wake-ups to.
pub(crate) trait OnWake: Send + Sync + Sized + 'static {
    /// The watched socket woke its waiters with the poll bits `mask` (0: unknown, anything).
    ///
    /// Runs in atomic context, under the socket's wait-queue lock: it must not sleep, and it
    /// must not remove the entry (it would deadlock).
    fn woken(this: ArcBorrow<'_, Self>, mask: u32);
}

/// Gives the [`WaitEntry`] embedded in `Self`.
///
/// # Safety
///
/// `raw_entry` and `entry_container_of` must be inverse: the entry is a field of `Self`.
pub(crate) unsafe trait HasWaitEntry: OnWake {
    /// The entry of the object at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points at a valid `Self`.
    unsafe fn raw_entry(ptr: *const Self) -> *const WaitEntry<Self>;

    /// The object whose entry is at `entry`.
    ///
    /// # Safety
    ///
    /// `entry` points at the entry of a valid `Self`.
    unsafe fn entry_container_of(entry: *const WaitEntry<Self>) -> *const Self;
}

/// Implements [`HasWaitEntry`] for a type with a [`WaitEntry`] field.
macro_rules! impl_has_wait_entry {
    (impl HasWaitEntry for $type:ty { self.$field:ident }) => {
        // SAFETY: The two functions are inverse: they go to and from the same field.
        unsafe impl $crate::net::wait::HasWaitEntry for $type {
            unsafe fn raw_entry(ptr: *const Self) -> *const $crate::net::wait::WaitEntry<Self> {
                // SAFETY: The caller promises that `ptr` points at a valid `Self`.
                unsafe { ::core::ptr::addr_of!((*ptr).$field) }
            }

            unsafe fn entry_container_of(
                entry: *const $crate::net::wait::WaitEntry<Self>,
            ) -> *const Self {
                // SAFETY: The caller promises that `entry` is the field of a valid `Self`.
                unsafe { ::kernel::container_of!(entry.cast_mut(), Self, $field).cast_const() }
            }
        }
    };
}
pub(crate) use impl_has_wait_entry;

/// What a [`WaitEntry`] watches: the socket, and a reference that keeps its owner alive while
/// the entry is on the socket's queue.
struct Watching<T> {
    socket: Arc<InetSocket>,
    _owner: Arc<T>,
}

/// A wait-queue entry, embedded in `T`, that can be put on one socket's wait queue at a time.
///
/// # Invariants
///
/// `entry` is on the wait queue of `watching`'s socket, with [`Self::wake`] as its function,
/// exactly while `watching` is `Some`; meanwhile `watching` holds a reference to the `T` that
/// embeds this entry, so the entry stays valid.
#[pin_data]
pub(crate) struct WaitEntry<T: HasWaitEntry> {
    entry: Opaque<bindings::wait_queue_entry>,
    #[pin]
    watching: SpinLock<Option<Watching<T>>>,
    _t: PhantomData<T>,
}

// SAFETY: `entry` is only touched by the wait-queue code under the queue's lock and by
// `watch`/`unwatch` under `watching`'s lock; the rest is `Send`.
unsafe impl<T: HasWaitEntry> Send for WaitEntry<T> {}

// SAFETY: See `Send`.
unsafe impl<T: HasWaitEntry> Sync for WaitEntry<T> {}

impl<T: HasWaitEntry> WaitEntry<T> {
    /// An entry on no queue.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            entry: Opaque::uninit(),
            watching <- new_spinlock!(None, "WaitEntry::watching"),
            _t: PhantomData,
        })
    }

    /// Puts `this`'s entry on `socket`'s wait queue: its wake-ups call [`OnWake::woken`]. While
    /// it is there it keeps `this` alive: [`Self::unwatch`] ends it. `EBUSY` if it watches
    /// already.
    pub(crate) fn watch(this: ArcBorrow<'_, T>, socket: Arc<InetSocket>) -> Result {
        // SAFETY: `this` is a valid `T`.
        let entry = unsafe { &*T::raw_entry(&*this) };
        let mut watching = entry.watching.lock();
        if watching.is_some() {
            return Err(EBUSY);
        }
        // SAFETY: `socket` is live; the entry is on no queue (no `watching`) and, by the
        // reference stored below, stays valid until `unwatch` removes it.
        unsafe {
            helpers::rnet_sock_add_wait(socket.as_raw(), entry.entry.get(), Some(Self::wake))
        };
        // INVARIANT: On `socket`'s queue, and the owner is kept alive.
        *watching = Some(Watching {
            socket,
            _owner: this.into(),
        });
        Ok(())
    }

    /// Takes `this`'s entry off its socket's queue, if it is on one: no wake-up reaches `this`
    /// afterwards (the removal waits for a running one). Returns the socket watched.
    pub(crate) fn unwatch(this: &Arc<T>) -> Option<Arc<InetSocket>> {
        // SAFETY: `this` is a valid `T`.
        let entry = unsafe { &*T::raw_entry(&**this) };
        let mut guard = entry.watching.lock();
        let watching = guard.take()?;
        // SAFETY: By the type invariant the entry is on this socket's queue; the lock keeps a
        // `watch` from putting it on another meanwhile.
        unsafe { helpers::rnet_sock_remove_wait(watching.socket.as_raw(), entry.entry.get()) };
        drop(guard);
        // The owner reference drops here; the caller still holds `this`.
        Some(watching.socket)
    }

    /// The entry's wake function.
    ///
    /// # Safety
    ///
    /// Called by the wait-queue code, under the queue's lock, for an entry `watch` added.
    unsafe extern "C" fn wake(
        entry: *mut bindings::wait_queue_entry,
        _mode: c_uint,
        _flags: c_int,
        key: *mut c_void,
    ) -> c_int {
        // SAFETY: `watch` added only the `entry` field of a `WaitEntry<T>` embedded in a `T`.
        let owner = unsafe { T::entry_container_of(Self::from_raw_entry(entry)) };
        // SAFETY: While the entry is on a queue, `watching` holds an `Arc<T>` of `owner` (type
        // invariant), at the address `Arc::into_raw` gives; the queue's lock, held here, keeps
        // `unwatch` from dropping it meanwhile.
        let this = unsafe { ArcBorrow::from_raw(owner) };
        // The wake-up's key is its poll mask (`key_to_poll`).
        T::woken(this, key as usize as u32);
        0
    }

    /// The `WaitEntry` whose `entry` field is at `raw`.
    ///
    /// # Safety
    ///
    /// `raw` is the `entry` field of a `WaitEntry<T>`.
    unsafe fn from_raw_entry(raw: *mut bindings::wait_queue_entry) -> *const Self {
        let raw = raw.cast::<Opaque<bindings::wait_queue_entry>>();
        // SAFETY: The caller promises `raw` is the `entry` field of a `WaitEntry<T>`.
        unsafe { kernel::container_of!(raw, Self, entry).cast_const() }
    }
}
