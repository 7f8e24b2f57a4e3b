// SPDX-License-Identifier: GPL-2.0

//! The `proto_ops` of `AF_KTLS` sockets: `extern "C"` trampolines that turn C arguments into safe
//! types and errors into errnos, and [`KtlsSocket`], the state behind them.
//!
//! Nothing else in the module touches `struct socket` or `struct sock`.
//!
//! # Locking
//!
//! `tx` and `rx` are mutexes held only for short, non-blocking work (option calls, building and
//! opening records, copying to and from the caller): never across a wait. A data call that must
//! wait for the bound socket releases its mutex and waits on the bound socket's wait queue, with
//! the `AF_KTLS` socket's own `SO_RCVTIMEO`/`SO_SNDTIMEO`, interruptibly. Callers of one direction
//! are serialised by a flag under the mutex (`reader_present`, `writer_present`, as mainline's
//! `tls_rx_reader_acquire`): a second caller waits on a condition variable for its turn,
//! interruptibly and within its timeout, and with `MSG_DONTWAIT` gets `EAGAIN` at once. Option
//! calls take the mutexes only, so they never wait behind a blocked data call. `poll` takes no
//! sleeping lock: it reads atomics the data calls publish (`rx_poll`, `tx_pending`) and the bound
//! socket's state. `bound` is a spinlock around a reference, taken only to clone or swap it.
//! No two of these locks are ever held at once.

use core::ptr::NonNull;

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
    new_condvar, new_mutex, new_spinlock, new_work,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Arc,
        ArcBorrow,
        CondVar,
        CondVarTimeoutResult,
        Mutex,
        MutexGuard,
        SpinLock, //
    },
    time::Jiffies,
    types::{
        ForeignOwnable,
        Opaque, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
    workqueue::{
        impl_has_work,
        Work,
        WorkItem, //
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
        header::{
            ContentType,
            TlsHeader, //
        },
        protection::{
            ProtocolVersion,
            RecordProtection,
            MAX_PLAINTEXT_LEN,
            TLS_HEADER_LEN, //
        },
    },
    rx::{
        Received,
        RecvProgress,
        RecvStep,
        Rx,
        RxPoll, //
    },
    shim,
    tx::{
        SendProgress,
        SendStep,
        Tx, //
    },
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

/// `MAX_SCHEDULE_TIMEOUT`: a socket timeout that never runs out.
const NO_TIMEOUT: c_long = c_long::MAX;

/// The poll bits of readable data.
const POLL_READABLE: u32 = bindings::POLLIN | bindings::POLLRDNORM;

/// The poll bits of room to write.
const POLL_WRITABLE: u32 = bindings::POLLOUT | bindings::POLLWRNORM | bindings::POLLWRBAND;

/// The bound socket and the version and cipher fixed by `bind`.
#[derive(Clone)]
struct Bound {
    socket: Arc<BoundSocket>,
    protection: RecordProtection,
}

/// The sending half, under `KtlsSocket::tx`.
struct TxState {
    tx: Option<Tx>,
    /// A task is inside `sendmsg` (possibly waiting for room, with the mutex released).
    writer_present: bool,
    /// `KTLS_TX_MAX_PAYLOAD_LEN`.
    max_payload: u16,
    /// `KTLS_DTLS_MTU`.
    dtls_mtu: u32,
}

impl TxState {
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

/// The receiving half, under `KtlsSocket::rx`.
struct RxState {
    rx: Option<Rx>,
    /// A task is inside `recvmsg` (possibly waiting for data, with the mutex released).
    reader_present: bool,
}

/// A reference to the `AF_KTLS` socket's own `struct sock`, which keeps it allocated (its wait
/// queue pointer stays readable, and is cleared when the socket is released).
///
/// # Invariants
///
/// `sk` is a `struct sock` on which this value holds one reference (`sock_hold`).
struct OwnSock {
    sk: NonNull<bindings::sock>,
}

// SAFETY: A reference on a `struct sock` may be dropped from any task, and `wake` only reads its
// RCU-protected wait queue pointer.
unsafe impl Send for OwnSock {}

// SAFETY: See `Send`.
unsafe impl Sync for OwnSock {}

impl OwnSock {
    /// Takes a reference on `sk`.
    ///
    /// # Safety
    ///
    /// `sk` is a live `struct sock`.
    unsafe fn hold(sk: NonNull<bindings::sock>) -> Self {
        // SAFETY: The caller guarantees `sk` is live.
        unsafe { shim::ktls_shim_sk_hold(sk.as_ptr()) };
        // INVARIANT: The reference was taken just above.
        Self { sk }
    }

    /// Wakes the tasks that poll the `AF_KTLS` socket, with `mask`; nothing once it is released.
    fn wake(&self, mask: u32) {
        // SAFETY: By the type invariant the sock is allocated.
        unsafe { shim::ktls_shim_sk_wake(self.sk.as_ptr(), mask) };
    }
}

impl Drop for OwnSock {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this holds one reference, dropped once here.
        unsafe { shim::ktls_shim_sk_put(self.sk.as_ptr()) };
    }
}

/// A wait-queue entry with its own wake function, for another socket's wait queue.
#[repr(transparent)]
struct WaitEntry(Opaque<bindings::wait_queue_entry>);

// SAFETY: The entry is initialised once, before it is added to a queue, and afterwards only the
// wait-queue code reads or writes it, under the queue's lock.
unsafe impl Send for WaitEntry {}

// SAFETY: See `Send`: `&WaitEntry` gives nothing but the raw pointer.
unsafe impl Sync for WaitEntry {}

impl WaitEntry {
    fn get(&self) -> *mut bindings::wait_queue_entry {
        self.0.get()
    }
}

/// The Rust state of one `AF_KTLS` socket, shared by its `struct sock` and by queued work.
///
/// See the module documentation for the locking rules.
///
/// # Invariants
///
/// While `watching`, `watch` is on the wait queue of the socket in `bound` (with
/// [`bound_wake`] as its function), and `bound` is `Some`.
#[pin_data(PinnedDrop)]
pub(crate) struct KtlsSocket {
    kind: SocketKind,
    sk: OwnSock,
    /// Set once by `bind`; taken back by `release`.
    #[pin]
    bound: SpinLock<Option<Bound>>,
    #[pin]
    tx: Mutex<TxState>,
    /// Senders waiting for `writer_present` to clear.
    #[pin]
    tx_wait: CondVar,
    #[pin]
    rx: Mutex<RxState>,
    /// Receivers waiting for `reader_present` to clear.
    #[pin]
    rx_wait: CondVar,
    /// Receive keys are set: `rx_poll` describes them.
    rx_configured: Atomic<bool>,
    /// [`RxPoll`], packed: published under `rx`, read by `poll`.
    rx_poll: Atomic<u64>,
    /// Sealed records wait for the bound socket: no `POLLOUT`, and room queues `tx_work`.
    tx_pending: Atomic<bool>,
    /// `release` ran: work that runs late does nothing.
    closed: Atomic<bool>,
    /// Sends pending records once the bound socket has room.
    #[pin]
    tx_work: Work<KtlsSocket>,
    /// The entry through which the bound socket's wake-ups reach [`bound_wake`].
    watch: WaitEntry,
    watching: Atomic<bool>,
}

impl_has_work! {
    impl HasWork<Self> for KtlsSocket { self.tx_work }
}

impl KtlsSocket {
    fn new(kind: SocketKind, sk: OwnSock) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            kind,
            sk,
            bound <- new_spinlock!(None, "KtlsSocket::bound"),
            tx <- new_mutex!(
                TxState {
                    tx: None,
                    writer_present: false,
                    max_payload: MAX_PLAINTEXT_LEN as u16,
                    dtls_mtu: DEFAULT_DTLS_MTU as u32,
                },
                "KtlsSocket::tx"
            ),
            tx_wait <- new_condvar!("KtlsSocket::tx_wait"),
            rx <- new_mutex!(
                RxState {
                    rx: None,
                    reader_present: false,
                },
                "KtlsSocket::rx"
            ),
            rx_wait <- new_condvar!("KtlsSocket::rx_wait"),
            rx_configured: Atomic::new(false),
            rx_poll: Atomic::new(0),
            tx_pending: Atomic::new(false),
            closed: Atomic::new(false),
            tx_work <- new_work!("KtlsSocket::tx_work"),
            watch: WaitEntry(Opaque::uninit()),
            watching: Atomic::new(false),
        }? Error)
    }

    /// The bound socket and protection, if bound.
    fn bound(&self) -> Option<Bound> {
        self.bound.lock().clone()
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
        if self.bound.lock().is_some() {
            return Err(EISCONN);
        }
        let socket = Arc::new(BoundSocket::lookup(fd, self.kind)?, GFP_KERNEL)?;
        {
            let mut bound = self.bound.lock();
            if bound.is_some() {
                // Another bind of this socket won the race; the claim is undone on drop.
                return Err(EISCONN);
            }
            *bound = Some(Bound {
                socket: socket.clone(),
                protection,
            });
        }
        // SAFETY: `watch` is pinned in this state and not on any queue (only one bind gets here);
        // `detach_bound` removes it before the state is freed (type invariant).
        unsafe { socket.watch(self.watch.get(), Some(bound_wake)) };
        // INVARIANT: On the bound socket's queue, and `bound` is set.
        self.watching.store(true, Release);
        Ok(())
    }

    /// Lets go of the bound socket: no more wake-ups from it, and it is no longer claimed. The
    /// file reference goes with the last user of the state.
    fn detach_bound(&self) {
        let Some(bound) = self.bound.lock().take() else {
            return;
        };
        if self.watching.xchg(false, Acquire) {
            // SAFETY: By the type invariant `watch` is on this socket's queue.
            unsafe { bound.socket.unwatch(self.watch.get()) };
        }
        bound.socket.unclaim();
    }

    /// `release`: sends what the bound socket takes now and lets go of it.
    fn close(&self) {
        self.closed.store(true, Release);
        if let Some(tx) = Option::as_mut(&mut self.tx.lock().tx) {
            tx.flush_on_close();
        }
        self.detach_bound();
    }

    /// `setsockopt(SOL_KTLS, ...)`. Never waits behind a blocked data call.
    fn set_option(&self, name: u32, value: &[u8]) -> Result {
        match name {
            uapi::KTLS_TX | uapi::KTLS_RX => {
                let bound = self.bound().ok_or(ENOTCONN)?;
                let keys = DirectionKeys::parse(bound.protection, value)?;
                if name == uapi::KTLS_TX {
                    let mut state = self.tx.lock();
                    if state.tx.is_some() {
                        return Err(EBUSY);
                    }
                    let max_payload = state.effective_max_payload(bound.protection);
                    state.tx = Some(Tx::new(bound.socket, bound.protection, keys, max_payload)?);
                } else {
                    let mut state = self.rx.lock();
                    if state.rx.is_some() {
                        return Err(EBUSY);
                    }
                    let rx = Rx::new(bound.socket, bound.protection, keys)?;
                    self.rx_poll.store(rx.poll_state().pack(), Release);
                    state.rx = Some(rx);
                    self.rx_configured.store(true, Release);
                }
                Ok(())
            }
            uapi::KTLS_TX_MAX_PAYLOAD_LEN => {
                let bytes: [u8; 2] = value.try_into().map_err(|_| EINVAL)?;
                let max_payload = u16::from_ne_bytes(bytes);
                // Mainline's range (RFC 8449 record_size_limit); TLS 1.3's limit counts the
                // content type byte, so it may go one lower.
                let min = match self.bound() {
                    Some(bound) if bound.protection.version() == ProtocolVersion::Tls13 => 63,
                    _ => 64,
                };
                if !(min..=MAX_PLAINTEXT_LEN as u16).contains(&max_payload) {
                    return Err(EINVAL);
                }
                self.update_tx_limits(|state| state.max_payload = max_payload)
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
                self.update_tx_limits(|state| state.dtls_mtu = mtu)
            }
            _ => Err(ENOPROTOOPT),
        }
    }

    /// Changes the record size limits; `EBUSY` while a record is open or a send is in progress.
    fn update_tx_limits(&self, change: impl FnOnce(&mut TxState)) -> Result {
        let protection = self.bound().map(|bound| bound.protection);
        let mut state = self.tx.lock();
        if state.writer_present || state.tx.as_ref().is_some_and(Tx::has_open_record) {
            return Err(EBUSY);
        }
        change(&mut state);
        let max_payload = protection.map(|protection| state.effective_max_payload(protection));
        match (state.tx.as_mut(), max_payload) {
            (Some(tx), Some(max_payload)) => tx.set_max_payload(max_payload),
            _ => Ok(()),
        }
    }

    /// `getsockopt(SOL_KTLS, ...)`: the value copied into `out`; returns its length. Keys come
    /// back with the current sequence number, as mainline returns them.
    fn get_option(&self, name: u32, out: &mut [u8; MAX_CRYPTO_INFO_LEN]) -> Result<usize> {
        let value = match name {
            uapi::KTLS_TX => {
                let state = self.tx.lock();
                return state.tx.as_ref().ok_or(EBUSY)?.current_keys(out);
            }
            uapi::KTLS_RX => {
                let state = self.rx.lock();
                return state.rx.as_ref().ok_or(EBUSY)?.current_keys(out);
            }
            uapi::KTLS_TX_MAX_PAYLOAD_LEN => {
                let bytes = self.tx.lock().max_payload.to_ne_bytes();
                out.get_mut(..2).ok_or(EINVAL)?.copy_from_slice(&bytes);
                2
            }
            uapi::KTLS_DTLS_MTU if self.kind == SocketKind::Datagram => {
                let bytes = self.tx.lock().dtls_mtu.to_ne_bytes();
                out.get_mut(..4).ok_or(EINVAL)?.copy_from_slice(&bytes);
                4
            }
            _ => return Err(ENOPROTOOPT),
        };
        Ok(value)
    }

    /// The error for data calls in a direction that has no keys: not bound yet, or bound
    /// without keys for it.
    fn no_keys(&self) -> Error {
        if self.bound.lock().is_some() {
            ENOKEY
        } else {
            ENOTCONN
        }
    }

    /// `sendmsg`: see [`Tx::send`]. Waits for room (within `SO_SNDTIMEO` of this socket,
    /// interruptibly) with no lock held; returns the bytes taken when interrupted after some.
    fn send(
        &self,
        source: &mut IovIterSource<'_>,
        content_type: ContentType,
        flags: u32,
        mut timeout: c_long,
    ) -> Result<usize> {
        let nonblock = flags & bindings::MSG_DONTWAIT != 0;
        let mut state = acquire(&self.tx, &self.tx_wait, nonblock, &mut timeout, |state| {
            &mut state.writer_present
        })?;
        let mut progress = SendProgress::default();
        let mut waited_before = false;
        let result = loop {
            let Some(tx) = state.tx.as_mut() else {
                break Err(ENOKEY);
            };
            let sent_before = tx.sent_total();
            let step = tx.send(source, content_type, flags, &mut progress);
            match step {
                Ok(SendStep::Done) => break Ok(progress.taken),
                Ok(SendStep::WouldBlock) if nonblock || timeout == 0 => break Err(EAGAIN),
                Ok(SendStep::WouldBlock) => {
                    // Room reported but nothing sent: wait for the next wake-up before looking.
                    let sleep_first = waited_before && tx.sent_total() == sent_before;
                    let bound = tx.bound().clone();
                    self.tx_pending.store(tx.has_pending(), Release);
                    drop(state);
                    let waited = bound.wait(&mut timeout, true, sleep_first);
                    state = self.tx.lock();
                    if let Err(err) = waited {
                        break Err(err);
                    }
                    waited_before = true;
                }
                Err(err) => break Err(err),
            }
        };
        let pending = state.tx.as_ref().is_some_and(Tx::has_pending);
        self.tx_pending.store(pending, Release);
        state.writer_present = false;
        drop(state);
        self.tx_wait.notify_all();
        if pending {
            // Room may have come while this call held the state: let the flush work look.
            self.queue_tx_work();
        } else {
            self.sk.wake(POLL_WRITABLE);
        }
        match result {
            Err(_) if progress.taken > 0 => Ok(progress.taken),
            Err(err) if err == ENOKEY => Err(self.no_keys()),
            result => result,
        }
    }

    /// `recvmsg`: see [`Rx::recv`]. Waits for records (within `SO_RCVTIMEO` of this socket,
    /// interruptibly) with no lock held; returns what was received when interrupted after some.
    fn recv(
        &self,
        dest: &mut IovIterDest<'_>,
        flags: u32,
        mut timeout: c_long,
        report_type: &mut dyn FnMut(ContentType) -> bool,
    ) -> Result<Received> {
        let nonblock = flags & bindings::MSG_DONTWAIT != 0;
        let mut state = acquire(&self.rx, &self.rx_wait, nonblock, &mut timeout, |state| {
            &mut state.reader_present
        })?;
        let mut progress = RecvProgress::default();
        let mut waited_before = false;
        let result = loop {
            let Some(rx) = state.rx.as_mut() else {
                break Err(ENOKEY);
            };
            let step = rx.recv(dest, flags, &mut progress, report_type);
            self.rx_poll.store(rx.poll_state().pack(), Release);
            match step {
                Ok(RecvStep::Done) => break Ok(()),
                Ok(RecvStep::WouldBlock) if nonblock || timeout == 0 => break Err(EAGAIN),
                Ok(RecvStep::WouldBlock) => {
                    // Ready reported but nothing read: wait for the next wake-up before looking.
                    let sleep_first = waited_before && !progress.consumed;
                    let bound = rx.bound().clone();
                    drop(state);
                    let waited = bound.wait(&mut timeout, false, sleep_first);
                    state = self.rx.lock();
                    if let Err(err) = waited {
                        break Err(err);
                    }
                    waited_before = true;
                }
                Err(err) => break Err(err),
            }
        };
        state.reader_present = false;
        drop(state);
        self.rx_wait.notify_all();
        // A poller that lost the race for what is queued learns of what is left.
        self.sk.wake(POLL_READABLE);
        match result {
            Ok(()) => Ok(progress.received),
            Err(_) if progress.received.len > 0 => Ok(progress.received),
            Err(err) if err == ENOKEY => Err(self.no_keys()),
            Err(err) => Err(err),
        }
    }

    /// The poll mask: the bound socket's, with `POLLIN` iff a `recv` returns at once, `POLLOUT`
    /// iff a `send` takes data at once, and `POLLERR` only for errors a call would return (not
    /// for the bound socket's error queue, which `AF_KTLS` never reads).
    ///
    /// # Safety
    ///
    /// `wait` is the poll table the socket core passed with `file` and `sock`, this socket.
    unsafe fn poll(
        &self,
        file: *mut bindings::file,
        sock: *mut bindings::socket,
        wait: *mut bindings::poll_table_struct,
    ) -> u32 {
        // SAFETY: The caller passes this socket's file, socket and poll table.
        unsafe { shim::ktls_shim_sock_poll_wait(file, sock, wait) };
        let Some(bound) = self.bound() else {
            return 0;
        };
        // SAFETY: `wait` is the poll table of this poll (see above).
        let mut mask = unsafe { bound.socket.poll(wait) };
        let bound_error = bound.socket.error_pending();
        if !bound_error {
            mask &= !bindings::POLLERR;
        }
        if self.rx_configured.load(Acquire) {
            let (readable, failed) = self.rx_readiness(&bound, mask);
            mask &= !POLL_READABLE;
            if readable {
                mask |= POLL_READABLE;
            }
            if failed {
                mask |= bindings::POLLERR;
            }
        }
        let broken = mask & (bindings::POLLERR | bindings::POLLHUP) != 0;
        if self.tx_pending.load(Acquire) && !broken {
            mask &= !POLL_WRITABLE;
        }
        mask
    }

    /// Whether a `recv` would return at once, and whether the stream failed.
    fn rx_readiness(&self, bound: &Bound, mask: u32) -> (bool, bool) {
        let ended = bound.socket.input_ended()
            || bound.socket.error_pending()
            || mask & (bindings::POLLHUP | bindings::POLLRDHUP) != 0;
        let mut readable = true;
        // A reader may consume between the snapshot and the look at the TCP queue: the
        // generation tells, and the look is repeated.
        for _ in 0..3 {
            let word = self.rx_poll.load(Acquire);
            let state = RxPoll::unpack(word);
            if state.ready || state.failed {
                return (true, state.failed);
            }
            if ended {
                return (true, false);
            }
            readable = match self.kind {
                SocketKind::Datagram => mask & POLL_READABLE != 0,
                SocketKind::Stream => whole_record_queued(bound, state.need),
            };
            if self.rx_poll.load(Acquire) == word {
                break;
            }
        }
        (readable, false)
    }

    /// Queues the flush of pending records on the module's workqueue.
    fn queue_tx_work(&self) {
        let Some(queue) = crate::queue::queue() else {
            return;
        };
        // SAFETY: Every `KtlsSocket` lives in an `Arc` (see `create`), at the address
        // `Arc::into_raw` gives, and the caller holds a reference to it, which keeps the `Arc`
        // alive for this borrow.
        let this = unsafe { ArcBorrow::from_raw(self) };
        // Already queued: that run will see the pending records.
        let _ = queue.enqueue(Arc::from(this));
    }

    /// A wake-up of the bound socket, with its poll mask (0: unknown). Atomic context.
    fn bound_woken(&self, mask: u32) {
        let room = mask == 0 || mask & (POLL_WRITABLE | bindings::POLLERR | bindings::POLLHUP) != 0;
        if room && self.tx_pending.load(Relaxed) && !self.closed.load(Relaxed) {
            self.queue_tx_work();
        }
    }
}

#[pinned_drop]
impl PinnedDrop for KtlsSocket {
    fn drop(self: Pin<&mut Self>) {
        // Normally `release` did this; the entry must never outlive the state.
        self.detach_bound();
    }
}

impl WorkItem for KtlsSocket {
    type Pointer = Arc<KtlsSocket>;

    /// Sends pending records now that the bound socket has room, unless a sender is at it.
    fn run(this: Arc<KtlsSocket>) {
        if this.closed.load(Acquire) {
            return;
        }
        {
            let mut state = this.tx.lock();
            if state.writer_present {
                return;
            }
            let Some(tx) = state.tx.as_mut() else {
                return;
            };
            // An error stays for the next `send` to report, with the records still pending.
            let _ = tx.flush_pending();
            this.tx_pending.store(tx.has_pending(), Release);
        }
        this.sk.wake(POLL_WRITABLE);
    }
}

/// Whether the TCP queue holds the rest of the record being assembled (`need` more bytes) or,
/// when none is, a whole record: its header is peeked at.
fn whole_record_queued(bound: &Bound, need: u32) -> bool {
    let queued = bound.socket.tcp_queued();
    if need > 0 {
        return queued >= usize::try_from(need).unwrap_or(usize::MAX);
    }
    let header_len = bound.protection.header_len();
    if queued < header_len {
        return false;
    }
    let mut header = [0u8; TLS_HEADER_LEN];
    let Some(header) = header.get_mut(..header_len) else {
        return false;
    };
    match bound
        .socket
        .recv(header, bindings::MSG_PEEK | bindings::MSG_DONTWAIT)
    {
        Ok((read, _)) if read == header_len => {}
        _ => return false,
    }
    match TlsHeader::parse(bound.protection, header) {
        Ok(parsed) => queued >= parsed.record_len(),
        // `recv` reports the error at once.
        Err(_) => true,
    }
}

/// Takes the turn of one direction: waits, interruptibly and within `timeout` (jiffies,
/// decreased by the time waited), until no other task is in it (`present` is false), then sets
/// it. `EAGAIN` at once with `nonblock` or a zero timeout, or when the time runs out; `EINTR`
/// (`ERESTARTSYS` without a timeout) on a signal.
fn acquire<'a, S: Unpin>(
    lock: &'a Mutex<S>,
    wait: &CondVar,
    nonblock: bool,
    timeout: &mut c_long,
    present: impl Fn(&mut S) -> &mut bool,
) -> Result<MutexGuard<'a, S>> {
    let mut guard = lock.lock();
    while *present(&mut *guard) {
        if nonblock || *timeout <= 0 {
            return Err(EAGAIN);
        }
        let jiffies = Jiffies::try_from(*timeout).unwrap_or(0);
        match wait.wait_interruptible_timeout(&mut guard, jiffies) {
            CondVarTimeoutResult::Timeout => return Err(EAGAIN),
            CondVarTimeoutResult::Signal { .. } => return Err(interrupted(*timeout)),
            CondVarTimeoutResult::Woken { jiffies } => {
                if *timeout != NO_TIMEOUT {
                    *timeout = c_long::try_from(jiffies).unwrap_or(0);
                }
            }
        }
    }
    *present(&mut *guard) = true;
    Ok(guard)
}

/// `sock_intr_errno`: a call without a timeout restarts after a signal handler (`SA_RESTART`).
fn interrupted(timeout: c_long) -> Error {
    if timeout == NO_TIMEOUT {
        ERESTARTSYS
    } else {
        EINTR
    }
}

/// The wake function of `KtlsSocket::watch` on the bound socket's wait queue.
///
/// # Safety
///
/// Called by the wait queue code, under the queue's lock, for an entry that `KtlsSocket::bind`
/// added.
unsafe extern "C" fn bound_wake(
    entry: *mut bindings::wait_queue_entry,
    _mode: c_uint,
    _flags: c_int,
    key: *mut c_void,
) -> c_int {
    // SAFETY: The entry is the `watch` field of a `KtlsSocket` (only `bind` adds one), which
    // stays alive while the entry is on the queue: `detach_bound` removes it, under this queue's
    // lock, before the state can go.
    let this = unsafe { &*kernel::container_of!(entry.cast::<WaitEntry>(), KtlsSocket, watch) };
    // SAFETY: `key` is the wake-up's key, as the wait queue code passes it.
    let mask = unsafe { shim::ktls_shim_wake_key_mask(key) };
    this.bound_woken(mask);
    0
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
    mmap: Some(mmap),
    ..pin_init::zeroed()
});

/// The state of the `AF_KTLS` socket `sock`.
///
/// # Safety
///
/// `sock` is a live socket set up by [`create`] and not yet released; the returned reference
/// must not outlive the current socket operation.
unsafe fn state<'a>(sock: *mut bindings::socket) -> ArcBorrow<'a, KtlsSocket> {
    // SAFETY: The caller guarantees `sock` is live; `create` stored an `Arc<KtlsSocket>` in its
    // `struct sock`, which `release` takes back only after every other operation ended.
    unsafe { <Arc<KtlsSocket> as ForeignOwnable>::borrow(shim::ktls_shim_sk_ctx((*sock).sk)) }
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
        let family = crate::family();
        // SAFETY: `net` and `sock` are valid (see above).
        let sk = NonNull::new(unsafe { shim::ktls_shim_sk_alloc(net, sock, family, kern) })
            .ok_or(ENOMEM)?;
        // SAFETY: `sk` was allocated just above and is attached to `sock`.
        let own = unsafe { OwnSock::hold(sk) };
        match Arc::pin_init(KtlsSocket::new(kind, own), GFP_KERNEL) {
            Ok(state) => {
                // SAFETY: `sk` is this socket's sock; it owns the state from now on.
                unsafe { shim::ktls_shim_sk_set_ctx(sk.as_ptr(), state.into_foreign()) };
            }
            Err(err) => {
                // `create` must leave no sock behind on failure (`__sock_create`).
                // SAFETY: `sock` has the sock allocated above, with no context.
                unsafe { shim::ktls_shim_sk_release(sock) };
                return Err(err);
            }
        }
        sock.ops = KTLS_OPS.get();
        Ok(0)
    })
}

/// `proto_ops::release`: sends what the bound socket takes now, lets go of it and drops the
/// socket's state and its `struct sock`.
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
    // SAFETY: `sk` was allocated by `create`; release runs once, after every other operation.
    let ctx = unsafe { shim::ktls_shim_sk_take_ctx(sk) };
    if !ctx.is_null() {
        // SAFETY: `create` stored an `Arc<KtlsSocket>` as the context; it was just taken back,
        // exactly once.
        let state = unsafe { <Arc<KtlsSocket> as ForeignOwnable>::from_foreign(ctx) };
        state.close();
        // Queued work may hold the state a little longer; the last reference wipes the keys and
        // frees both directions, the reference to the bound socket and the one to this sock.
        drop(state);
    }
    // SAFETY: `sock` is valid and its context was taken back just above.
    unsafe { shim::ktls_shim_sk_release(sock) };
    0
}

/// `proto_ops::mmap`: `EOPNOTSUPP` (`sock_no_mmap` would say `ENODEV`).
///
/// # Safety
///
/// Called by the socket core; no argument is used.
unsafe extern "C" fn mmap(
    _file: *mut bindings::file,
    _sock: *mut bindings::socket,
    _vma: *mut bindings::vm_area_struct,
) -> c_int {
    EOPNOTSUPP.to_errno()
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
        // SAFETY: The socket core passes a live socket.
        let timeout =
            unsafe { shim::ktls_shim_sndtimeo(sock, flags & bindings::MSG_DONTWAIT != 0) };
        // SAFETY: `msg_iter` is the message's valid source iterator, used by this call only.
        let source = unsafe { IovIterSource::from_raw(&mut msg.msg_iter) };
        let sent = this.send(source, content_type, flags, timeout)?;
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
        let nonblock = flags & bindings::MSG_DONTWAIT != 0;
        // SAFETY: The socket core passes a live socket.
        let timeout = unsafe { shim::ktls_shim_rcvtimeo(sock, nonblock) };
        let received = this.recv(dest, flags, timeout, &mut report_type)?;
        if received.truncated {
            // SAFETY: `msg` is valid and the iterator borrow ended.
            unsafe { (*msg).msg_flags |= bindings::MSG_TRUNC };
        }
        c_int::try_from(received.len).map_err(|_| EINVAL)
    })
}

/// `proto_ops::poll`: see [`KtlsSocket::poll`]. Never sleeps on a lock.
///
/// # Safety
///
/// Called by the socket core with a live socket, its file and its poll table.
unsafe extern "C" fn poll(
    file: *mut bindings::file,
    sock: *mut bindings::socket,
    wait: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: The socket core passes a live socket.
    let this = unsafe { state(sock) };
    // SAFETY: The socket core passes this socket's file and poll table.
    unsafe { this.poll(file, sock, wait) }
}
