// SPDX-License-Identifier: GPL-2.0

//! [`KtlsSocket`]: the state of an `AF_KTLS` socket and its socket operations.
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

use core::mem::size_of;

use kernel::{
    bindings,
    cpu::CpuId,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    new_condvar, new_mutex, new_spinlock, new_work,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Full,
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
    transmute::FromBytes,
    workqueue::{
        impl_has_work,
        Work,
        WorkItem, //
    },
};

use crate::{
    cipher::record_error,
    crypto::wipe,
    keys::{
        DirectionKeys,
        MAX_CRYPTO_INFO_LEN, //
    },
    net::{
        family::FamilySlot,
        inet::{
            ClaimMarker,
            InetSocket,
            Transport, //
        },
        sock::SockRef,
        socket::{
            raise_sigpipe,
            CreateArgs,
            Msg,
            Pipe,
            Poll,
            SockOptOut,
            SockOptValue,
            Socket,
            SocketOps,
            SPLICE_NONBLOCK, //
        },
        wait::{
            impl_has_wait_entry,
            OnWake,
            WaitEntry, //
        },
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
        PollWord,
        Received,
        RecvProgress,
        RecvStep,
        Rx, //
    },
    tx::{
        SendProgress,
        SendStep,
        Tx, //
    },
    uapi, //
};

/// Where the family's registration keeps its number and proto.
pub(crate) static KTLS_FAMILY: FamilySlot = FamilySlot::new();

/// The mark of bound sockets in their `sk_user_data`.
static CLAIM_MARKER: ClaimMarker = ClaimMarker::new();

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

/// The option and control message level.
const SOL_KTLS: i32 = uapi::SOL_KTLS as i32;

/// The bound socket and the version and cipher fixed by `bind`.
#[derive(Clone)]
struct Bound {
    socket: Arc<InetSocket>,
    protection: RecordProtection,
}

/// The sending half, under `KtlsSocket::tx`.
struct TxState {
    tx: Option<Tx>,
    /// A task is inside `sendmsg` (possibly waiting for room, with the mutex released).
    writer_present: bool,
    /// `shutdown(SHUT_WR)` ran: sends fail with `EPIPE`.
    write_shut: bool,
    /// The bound socket's write side is to be shut once the pending records are sent (the
    /// flush work does it).
    shutdown_after_flush: bool,
    /// After `KTLS_UNATTACH`: the keys as they were, with the next record's number.
    detached_keys: Option<DirectionKeys>,
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
    /// After `KTLS_UNATTACH`: the keys as they were, with the next record's number.
    detached_keys: Option<DirectionKeys>,
    /// `KTLS_RX_DECRYPT_AHEAD`.
    decrypt_ahead: bool,
}

/// The work item that sends pending records ([`WorkItem`] ID).
const TX_FLUSH_WORK: u64 = 0;

/// The work item that opens arriving records ahead of the reader ([`WorkItem`] ID).
const RX_AHEAD_WORK: u64 = 1;

/// The state of one `AF_KTLS` socket, shared by its `struct sock` and by queued work.
///
/// See the module documentation for the locking rules.
#[pin_data]
pub(crate) struct KtlsSocket {
    kind: SocketKind,
    /// The socket's own sock, to wake its pollers.
    sk: SockRef,
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
    /// [`RxPoll`]: published by the receive side, read by `poll`.
    rx_poll: Arc<PollWord>,
    /// Sealed records wait for the bound socket: no `POLLOUT`, and room queues `tx_work`.
    tx_pending: Atomic<bool>,
    /// Receive keys are set and `KTLS_RX_DECRYPT_AHEAD` is on: arriving data queues `rx_work`.
    rx_ahead: Atomic<bool>,
    /// A reader is in a call (`reader_present`, readable without the mutex): arriving data is
    /// its to open, so the bound socket's wake-ups do not queue `rx_work`.
    rx_reader_active: Atomic<bool>,
    /// Readers in a call, counting those still waiting for the mutex: decrypt-ahead stops
    /// before its next record when there is one, so a reader waits for one decryption at most.
    rx_callers: Atomic<u32>,
    /// Data arrived while a reader was in a call (or `rx_work` found one) and was left to it;
    /// the reader queues the work when it leaves, for what arrived meanwhile.
    rx_ahead_missed: Atomic<bool>,
    /// The CPU the last reader ran on, where it now works on what it received: `rx_work` is
    /// queued on another one (see [`Self::queue_rx_work`]).
    rx_reader_cpu: Atomic<u32>,
    /// `release` ran: work that runs late does nothing.
    closed: Atomic<bool>,
    /// Sends pending records once the bound socket has room.
    #[pin]
    tx_work: Work<KtlsSocket, TX_FLUSH_WORK>,
    /// Opens arriving records ahead of the reader.
    #[pin]
    rx_work: Work<KtlsSocket, RX_AHEAD_WORK>,
    /// Watches the bound socket's wake-ups ([`OnWake`]).
    #[pin]
    watch: WaitEntry<KtlsSocket>,
}

impl_has_work! {
    impl HasWork<Self, 0> for KtlsSocket { self.tx_work }
    impl HasWork<Self, 1> for KtlsSocket { self.rx_work }
}

impl_has_wait_entry! {
    impl HasWaitEntry for KtlsSocket { self.watch }
}

impl KtlsSocket {
    fn new(kind: SocketKind, sk: SockRef, rx_poll: Arc<PollWord>) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            kind,
            sk,
            bound <- new_spinlock!(None, "KtlsSocket::bound"),
            tx <- new_mutex!(
                TxState {
                    tx: None,
                    writer_present: false,
                    write_shut: false,
                    shutdown_after_flush: false,
                    detached_keys: None,
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
                    detached_keys: None,
                    decrypt_ahead: true,
                },
                "KtlsSocket::rx"
            ),
            rx_wait <- new_condvar!("KtlsSocket::rx_wait"),
            rx_configured: Atomic::new(false),
            rx_poll,
            tx_pending: Atomic::new(false),
            rx_ahead: Atomic::new(false),
            rx_reader_active: Atomic::new(false),
            rx_ahead_missed: Atomic::new(false),
            rx_callers: Atomic::new(0),
            rx_reader_cpu: Atomic::new(u32::MAX),
            closed: Atomic::new(false),
            tx_work <- new_work!("KtlsSocket::tx_work"),
            rx_work <- new_work!("KtlsSocket::rx_work"),
            watch <- WaitEntry::new(),
        }? Error)
    }

    /// The bound socket and protection, if bound.
    fn bound(&self) -> Option<Bound> {
        self.bound.lock().clone()
    }

    /// `bind`: attaches the connected socket and fixes the version and cipher.
    fn bind(this: ArcBorrow<'_, Self>, address: &[u8]) -> Result {
        if address.len() != size_of::<uapi::sockaddr_ktls>() {
            return Err(EINVAL);
        }
        let address = uapi::sockaddr_ktls::from_bytes_copy(address).ok_or(EINVAL)?;
        if i32::from(address.sa_family) != crate::family() {
            return Err(EAFNOSUPPORT);
        }
        if address.sa_reserved != 0 {
            return Err(EINVAL);
        }
        let protection = RecordProtection::from_uapi(address.sa_version, address.sa_cipher)
            .map_err(record_error)?;
        if protection.version().is_datagram() != (this.kind == SocketKind::Datagram) {
            return Err(EINVAL);
        }
        if this.bound.lock().is_some() {
            return Err(EISCONN);
        }
        let transport = match this.kind {
            SocketKind::Stream => Transport::Tcp,
            SocketKind::Datagram => Transport::Udp,
        };
        let socket = Arc::new(
            InetSocket::claim(address.sa_socket, transport, &CLAIM_MARKER)?,
            GFP_KERNEL,
        )?;
        {
            let mut bound = this.bound.lock();
            if bound.is_some() {
                // Another bind of this socket won the race; the claim is undone on drop.
                return Err(EISCONN);
            }
            *bound = Some(Bound {
                socket: socket.clone(),
                protection,
            });
        }
        WaitEntry::watch(this, socket)
    }

    /// Lets go of the bound socket: no more wake-ups from it, and it is no longer claimed. The
    /// file reference goes with the last user of the state.
    fn detach_bound(this: &Arc<Self>) {
        WaitEntry::unwatch(this);
        if let Some(bound) = this.bound.lock().take() {
            bound.socket.unclaim();
        }
    }

    /// `setsockopt(SOL_KTLS, ...)`. Never waits behind a blocked data call.
    fn set_option(&self, name: u32, value: &[u8]) -> Result {
        match name {
            uapi::KTLS_TX | uapi::KTLS_RX => {
                let bound = self.bound().ok_or(ENOTCONN)?;
                let keys = DirectionKeys::parse(bound.protection, value)?;
                if name == uapi::KTLS_TX {
                    let mut state = self.tx.lock();
                    // Keys again (TLS 1.3 KeyUpdate, DTLS epoch), but not under a send in
                    // progress, which may hold an open record and progress of its own.
                    if state.tx.is_some() && state.writer_present {
                        return Err(EBUSY);
                    }
                    if let Some(tx) = state.tx.as_mut() {
                        tx.rekey(keys)?;
                        self.tx_pending.store(tx.has_pending(), Release);
                        return Ok(());
                    }
                    let max_payload = state.effective_max_payload(bound.protection);
                    state.tx = Some(Tx::new(bound.socket, bound.protection, keys, max_payload)?);
                    state.detached_keys = None;
                } else {
                    let mut state = self.rx.lock();
                    if state.rx.is_some() && state.reader_present {
                        return Err(EBUSY);
                    }
                    if let Some(rx) = state.rx.as_mut() {
                        rx.rekey(keys)?;
                        drop(state);
                        // Pollers waiting out the key change look again.
                        self.sk.wake(POLL_READABLE);
                        return Ok(());
                    }
                    let rx = Rx::new(bound.socket, bound.protection, keys, self.rx_poll.clone())?;
                    rx.publish();
                    state.rx = Some(rx);
                    state.detached_keys = None;
                    self.rx_configured.store(true, Release);
                    self.rx_ahead.store(state.decrypt_ahead, Release);
                }
                Ok(())
            }
            uapi::KTLS_RX_DECRYPT_AHEAD => {
                let bytes: [u8; 4] = value.try_into().map_err(|_| EINVAL)?;
                let on = match i32::from_ne_bytes(bytes) {
                    0 => false,
                    1 => true,
                    _ => return Err(EINVAL),
                };
                // Records already opened stay queued for the reader either way.
                let mut state = self.rx.lock();
                state.decrypt_ahead = on;
                self.rx_ahead.store(on && state.rx.is_some(), Release);
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
                return match (&state.tx, &state.detached_keys) {
                    (Some(tx), _) => tx.current_keys(out),
                    (None, Some(keys)) => keys.write_current(out, keys.rec_seq(), None),
                    (None, None) => Err(EBUSY),
                };
            }
            uapi::KTLS_RX => {
                let state = self.rx.lock();
                return match (&state.rx, &state.detached_keys) {
                    (Some(rx), _) => rx.current_keys(out),
                    (None, Some(keys)) => keys.write_current(out, keys.rec_seq(), None),
                    (None, None) => Err(EBUSY),
                };
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
            uapi::KTLS_RX_DECRYPT_AHEAD => {
                let bytes = i32::from(self.rx.lock().decrypt_ahead).to_ne_bytes();
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
        this: ArcBorrow<'_, Self>,
        source: &mut IovIterSource<'_>,
        content_type: ContentType,
        flags: u32,
        mut timeout: c_long,
    ) -> Result<usize> {
        let nonblock = flags & bindings::MSG_DONTWAIT != 0;
        let mut state = acquire(&this.tx, &this.tx_wait, nonblock, &mut timeout, |state| {
            &mut state.writer_present
        })?;
        let mut progress = SendProgress::default();
        let mut waited_before = false;
        let result = loop {
            if state.write_shut {
                // As TCP after `shutdown(SHUT_WR)`.
                if flags & bindings::MSG_NOSIGNAL == 0 {
                    raise_sigpipe();
                }
                break Err(EPIPE);
            }
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
                    this.tx_pending.store(tx.has_pending(), Release);
                    drop(state);
                    let waited = bound.wait(&mut timeout, true, sleep_first);
                    state = this.tx.lock();
                    if let Err(err) = waited {
                        break Err(err);
                    }
                    waited_before = true;
                }
                Err(err) => break Err(err),
            }
        };
        let pending = state.tx.as_ref().is_some_and(Tx::has_pending);
        this.tx_pending.store(pending, Release);
        state.writer_present = false;
        drop(state);
        this.tx_wait.notify_all();
        if pending {
            // Room may have come while this call held the state: let the flush work look.
            Self::queue_tx_work(this);
        } else {
            this.sk.wake(POLL_WRITABLE);
        }
        match result {
            Err(_) if progress.taken > 0 => Ok(progress.taken),
            Err(err) if err == ENOKEY => Err(this.no_keys()),
            result => result,
        }
    }

    /// `recvmsg`: see [`Rx::recv`]. Waits for records (within `SO_RCVTIMEO` of this socket,
    /// interruptibly) with no lock held; returns what was received when interrupted after some.
    fn recv(
        this: ArcBorrow<'_, Self>,
        dest: &mut IovIterDest<'_>,
        flags: u32,
        timeout: c_long,
        report_type: &mut dyn FnMut(ContentType) -> bool,
    ) -> Result<Received> {
        let nonblock = flags & bindings::MSG_DONTWAIT != 0;
        Self::read(this, nonblock, timeout, |rx, progress| {
            rx.recv(dest, flags, progress, report_type)
        })
    }

    /// `splice_read`: see [`Rx::splice`]. Waits as [`Self::recv`] does, `SPLICE_F_NONBLOCK`
    /// meaning `MSG_DONTWAIT`.
    fn splice(
        this: ArcBorrow<'_, Self>,
        pipe: &Pipe<'_>,
        len: usize,
        nonblock: bool,
        timeout: c_long,
    ) -> Result<usize> {
        Self::read(this, nonblock, timeout, |rx, progress| {
            rx.splice(pipe, len, progress)
        })
        .map(|received| received.len)
    }

    /// Runs the receive `step` as the only reader until it is done, waiting for the bound
    /// socket between steps (see the module documentation).
    fn read(
        this: ArcBorrow<'_, Self>,
        nonblock: bool,
        mut timeout: c_long,
        mut step: impl FnMut(&mut Rx, &mut RecvProgress) -> Result<RecvStep>,
    ) -> Result<Received> {
        this.rx_callers.add(1, Relaxed);
        let acquired = acquire(&this.rx, &this.rx_wait, nonblock, &mut timeout, |state| {
            &mut state.reader_present
        });
        this.rx_callers.fetch_sub(1, Relaxed);
        let mut state = acquired?;
        this.rx_reader_active.store(true, Relaxed);
        this.rx_reader_cpu.store(CpuId::current().as_u32(), Relaxed);
        let mut progress = RecvProgress::default();
        let mut waited_before = false;
        let result = loop {
            let Some(rx) = state.rx.as_mut() else {
                break Err(ENOKEY);
            };
            // This step sees everything that arrived so far; only later arrivals need the work.
            this.rx_ahead_missed.xchg(false, Full);
            let done = step(rx, &mut progress);
            rx.publish();
            match done {
                Ok(RecvStep::Done) => break Ok(()),
                Ok(RecvStep::WouldBlock) if nonblock || timeout == 0 => break Err(EAGAIN),
                Ok(RecvStep::WouldBlock) => {
                    // Ready reported but nothing read: wait for the next wake-up before looking.
                    let sleep_first = waited_before && !progress.consumed;
                    let bound = rx.bound().clone();
                    drop(state);
                    let waited = bound.wait(&mut timeout, false, sleep_first);
                    state = this.rx.lock();
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
        this.rx_wait.notify_all();
        // A poller that lost the race for what is queued learns of what is left.
        this.sk.wake(POLL_READABLE);
        // Fully ordered against `woken`'s pair of operations: either this sees its mark or it
        // sees no reader and queues the work itself.
        this.rx_reader_active.xchg(false, Full);
        if this.rx_ahead_missed.xchg(false, Full) {
            Self::queue_rx_work(this);
        }
        match result {
            Ok(()) => Ok(progress.received),
            Err(_) if progress.received.len > 0 => Ok(progress.received),
            Err(err) if err == ENOKEY => Err(this.no_keys()),
            Err(err) => Err(err),
        }
    }

    /// `splice_eof`: the end of a `sendfile` or `splice` into the socket seals its last record
    /// and sends what the bound socket takes now; the flush work sends the rest.
    fn splice_eof(this: ArcBorrow<'_, Self>) {
        let mut timeout = NO_TIMEOUT;
        // Interrupted by a signal: the record stays open, for the next call or `close`.
        let Ok(mut state) = acquire(&this.tx, &this.tx_wait, false, &mut timeout, |state| {
            &mut state.writer_present
        }) else {
            return;
        };
        let pending = match state.tx.as_mut() {
            Some(tx) => {
                // An error stays for the next `send` to report.
                let _ = tx.push_open();
                tx.has_pending()
            }
            None => false,
        };
        this.tx_pending.store(pending, Release);
        state.writer_present = false;
        drop(state);
        this.tx_wait.notify_all();
        if pending {
            Self::queue_tx_work(this);
        }
    }

    /// The poll mask: the bound socket's, with `POLLIN` iff a `recv` returns at once, `POLLOUT`
    /// iff a `send` takes data at once, and `POLLERR` only for errors a call would return (not
    /// for the bound socket's error queue, which `AF_KTLS` never reads).
    fn poll_mask(&self, poll: &Poll<'_>) -> u32 {
        poll.wait_on_own_queue();
        let Some(bound) = self.bound() else {
            return 0;
        };
        let mut mask = bound.socket.poll(poll);
        if !bound.socket.error_pending() {
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
            let state = self.rx_poll.load();
            if state.ready || state.failed {
                return (true, state.failed);
            }
            // As mainline: while the next keys are awaited nothing is readable (a `recv` would
            // fail with `EKEYEXPIRED`); setting them wakes the pollers.
            if state.key_update_pending {
                return (false, false);
            }
            if ended {
                return (true, false);
            }
            readable = match self.kind {
                SocketKind::Datagram => mask & POLL_READABLE != 0,
                SocketKind::Stream => whole_record_queued(bound, state.need),
            };
            if self.rx_poll.load() == state {
                break;
            }
        }
        (readable, false)
    }

    /// `shutdown(2)`: `SHUT_WR` seals and sends the open record, then shuts the bound socket's
    /// write side (after the records waiting for room, which the flush work sends; a send in
    /// progress at that moment fails as on TCP); later sends fail with `EPIPE`. `SHUT_RD`
    /// shuts the bound socket's read side: a blocked `recv` returns, and records already
    /// opened are still read, then 0.
    fn shutdown(this: ArcBorrow<'_, Self>, how: i32) -> Result {
        let (read, write) = match u32::try_from(how) {
            Ok(bindings::sock_shutdown_cmd_SHUT_RD) => (true, false),
            Ok(bindings::sock_shutdown_cmd_SHUT_WR) => (false, true),
            Ok(bindings::sock_shutdown_cmd_SHUT_RDWR) => (true, true),
            _ => return Err(EINVAL),
        };
        let bound = this.bound().ok_or(ENOTCONN)?;
        let mut write_now = write;
        if write {
            let mut state = this.tx.lock();
            state.write_shut = true;
            let writer_present = state.writer_present;
            let pending = match state.tx.as_mut() {
                Some(tx) if !writer_present => {
                    // An error stays for `getsockopt(SO_ERROR)` of the bound socket.
                    let _ = tx.push_open();
                    tx.has_pending()
                }
                _ => false,
            };
            if pending {
                state.shutdown_after_flush = true;
                write_now = false;
                this.tx_pending.store(true, Release);
            }
        }
        if write && !write_now {
            Self::queue_tx_work(this);
        }
        bound.socket.shutdown(read, write_now)
    }

    /// `KTLS_UNATTACH`: gives the bound socket back to userspace once nothing is buffered in
    /// either direction (no open, pending or opened record, no partly read record or datagram,
    /// no data call in progress: else `EBUSY`). The keys stay readable with `getsockopt`, with
    /// the next records' numbers, so the application can go on with the records itself. The
    /// socket is then unbound (and may be bound again).
    fn unattach(this: ArcBorrow<'_, Self>) -> Result {
        let protection = this.bound().ok_or(ENOTCONN)?.protection;
        let mut no_wait = 0;
        // Both turns, without waiting: no data call, flush or decrypt-ahead runs meanwhile.
        let rx_turn = acquire(&this.rx, &this.rx_wait, true, &mut no_wait, |state| {
            &mut state.reader_present
        })
        .map_err(|_| EBUSY)?;
        let rx_idle = rx_turn.rx.as_ref().is_none_or(Rx::is_idle);
        drop(rx_turn);
        let result = if rx_idle {
            Self::unattach_tx(this, protection)
        } else {
            Err(EBUSY)
        };
        let mut state = this.rx.lock();
        let result = result.and_then(|()| {
            if let Some(rx) = state.rx.as_ref() {
                state.detached_keys = Some(snapshot_keys(protection, |out| rx.current_keys(out))?);
            }
            state.rx = None;
            this.rx_configured.store(false, Release);
            this.rx_ahead.store(false, Release);
            this.rx_poll.clear();
            Ok(())
        });
        state.reader_present = false;
        drop(state);
        this.rx_wait.notify_all();
        if result.is_ok() {
            Self::detach_bound(&Arc::from(this));
        }
        result
    }

    /// The sending half of [`Self::unattach`].
    fn unattach_tx(this: ArcBorrow<'_, Self>, protection: RecordProtection) -> Result {
        let mut no_wait = 0;
        let mut state = acquire(&this.tx, &this.tx_wait, true, &mut no_wait, |state| {
            &mut state.writer_present
        })
        .map_err(|_| EBUSY)?;
        let result = match state.tx.as_ref() {
            Some(tx) if !tx.is_idle() => Err(EBUSY),
            Some(tx) => snapshot_keys(protection, |out| tx.current_keys(out)).map(|keys| {
                state.detached_keys = Some(keys);
                state.tx = None;
                this.tx_pending.store(false, Release);
            }),
            None => Ok(()),
        };
        state.writer_present = false;
        drop(state);
        this.tx_wait.notify_all();
        result
    }

    /// Queues the flush of pending records on the module's workqueue.
    fn queue_tx_work(this: ArcBorrow<'_, Self>) {
        if let Some(queue) = crate::queue::queue() {
            // Already queued: that run will see the pending records.
            let _ = queue.enqueue::<_, TX_FLUSH_WORK>(Arc::from(this));
        }
    }

    /// Queues decrypt-ahead on the module's workqueue, on this CPU unless the last reader ran
    /// here: then on the next online CPU. Decrypt-ahead is there to open records while the
    /// reader works on the ones it took, which it cannot do on the reader's CPU (measured: on
    /// loopback, and wherever the acknowledgement that opens the sender's window is processed
    /// on the reader's CPU, the next data arrives there too; decrypt-ahead on that CPU made a
    /// reader that works on its data slower than without it).
    fn queue_rx_work(this: ArcBorrow<'_, Self>) {
        let here = CpuId::current();
        let cpu = match this.rx_reader_cpu.load(Relaxed) == here.as_u32() {
            true => crate::queue::cpu_after(here),
            false => here,
        };
        // Already queued: that run will see the new records.
        let _ = crate::queue::enqueue_on::<_, RX_AHEAD_WORK>(cpu, Arc::from(this));
    }
}

impl WorkItem<TX_FLUSH_WORK> for KtlsSocket {
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
            let pending = tx.has_pending();
            let bound = tx.bound().clone();
            this.tx_pending.store(pending, Release);
            if !pending && state.shutdown_after_flush {
                // `shutdown(SHUT_WR)` waited for these records.
                state.shutdown_after_flush = false;
                let _ = bound.shutdown(false, true);
            }
        }
        this.sk.wake(POLL_WRITABLE);
    }
}

impl WorkItem<RX_AHEAD_WORK> for KtlsSocket {
    type Pointer = Arc<KtlsSocket>;

    /// Opens the records that arrived whole, unless a reader is in a call (it opens them).
    fn run(this: Arc<KtlsSocket>) {
        let mut state = this.rx.lock();
        // Under the mutex: `release` takes it after setting `closed`, so no run touches the
        // bound socket once it is given back.
        if this.closed.load(Relaxed) || !state.decrypt_ahead {
            return;
        }
        if state.reader_present {
            this.rx_ahead_missed.store(true, Relaxed);
            return;
        }
        let Some(rx) = state.rx.as_mut() else {
            return;
        };
        let before = this.rx_poll.load();
        rx.decrypt_ahead(|| this.rx_callers.load(Relaxed) > 0);
        rx.publish();
        drop(state);
        if this.rx_poll.load() != before {
            this.sk.wake(POLL_READABLE);
        }
    }
}

/// Whether the TCP queue holds the rest of the record being assembled (`need` more bytes) or,
/// when none is, a whole record: its header is peeked at. A stalled receive side (a collapsed
/// window) counts too: then `recv` takes the queued part out, and more can come.
fn whole_record_queued(bound: &Bound, need: u32) -> bool {
    let queued = bound.socket.tcp_queued();
    if queued > 0 && bound.socket.tcp_rcv_stalled() {
        return true;
    }
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

/// The keys a direction's `current_keys` writes, kept as a structure of their own (wiped on
/// drop), for `getsockopt` after `KTLS_UNATTACH`.
fn snapshot_keys(
    protection: RecordProtection,
    current_keys: impl FnOnce(&mut [u8]) -> Result<usize>,
) -> Result<DirectionKeys> {
    let mut bytes = [0u8; MAX_CRYPTO_INFO_LEN];
    let keys = current_keys(&mut bytes)
        .and_then(|len| DirectionKeys::parse(protection, bytes.get(..len).ok_or(EINVAL)?));
    wipe(&mut bytes);
    keys
}

/// `sock_intr_errno`: a call without a timeout restarts after a signal handler (`SA_RESTART`).
fn interrupted(timeout: c_long) -> Error {
    if timeout == NO_TIMEOUT {
        ERESTARTSYS
    } else {
        EINTR
    }
}

#[vtable]
impl SocketOps for KtlsSocket {
    const FAMILY: &'static FamilySlot = &KTLS_FAMILY;

    fn create(sk: SockRef, args: CreateArgs) -> Result<Arc<Self>> {
        let kind = SocketKind::from_socket_args(args.sock_type, args.protocol)?;
        let rx_poll = Arc::new(PollWord::new(), GFP_KERNEL)?;
        Arc::pin_init(Self::new(kind, sk, rx_poll), GFP_KERNEL)
    }

    /// Sends what the bound socket takes now, drops both directions (their keys are wiped) and
    /// lets go of the bound socket; queued work may hold the rest a little longer.
    fn release(this: Arc<Self>) {
        this.closed.store(true, Release);
        let tx = {
            let mut state = this.tx.lock();
            if let Some(tx) = state.tx.as_mut() {
                tx.flush_on_close();
            }
            state.tx.take()
        };
        // A decrypt-ahead run in progress ends before the bound socket is given back; later
        // runs see `closed`.
        let rx = this.rx.lock().rx.take();
        // The directions hold the bound socket's file too: they go here, in the caller's
        // context, so that a process that closes both sockets finds the TCP/UDP socket closed
        // when `close` returns (a reference dropped later, by queued work, would be put
        // through `delayed_fput`: a peer's datagram could still find the port open).
        drop((tx, rx));
        Self::detach_bound(&this);
    }

    fn bind(this: ArcBorrow<'_, Self>, address: &[u8]) -> Result {
        Self::bind(this, address)
    }

    fn setsockopt(
        this: ArcBorrow<'_, Self>,
        level: i32,
        name: i32,
        value: SockOptValue<'_>,
    ) -> Result {
        if level != SOL_KTLS {
            return Err(ENOPROTOOPT);
        }
        let mut bytes = [0u8; MAX_CRYPTO_INFO_LEN];
        let name = u32::try_from(name).map_err(|_| ENOPROTOOPT)?;
        if name == uapi::KTLS_UNATTACH {
            return if value.len() == 0 {
                Self::unattach(this)
            } else {
                Err(EINVAL)
            };
        }
        let result = value
            .copy_to(&mut bytes)
            .and_then(|()| this.set_option(name, bytes.get(..value.len()).ok_or(EINVAL)?));
        wipe(&mut bytes);
        if result.is_ok() && (name == uapi::KTLS_RX || name == uapi::KTLS_RX_DECRYPT_AHEAD) {
            // Records may have arrived before the keys (or while decrypt-ahead was off).
            Self::queue_rx_work(this);
        }
        if result.is_ok() && name == uapi::KTLS_TX && this.tx_pending.load(Acquire) {
            // New keys sealed the open record: it goes out when the bound socket has room.
            Self::queue_tx_work(this);
        }
        result
    }

    /// `EINVAL` if the buffer is too short.
    fn getsockopt(this: ArcBorrow<'_, Self>, level: i32, name: i32, out: SockOptOut<'_>) -> Result {
        if level != SOL_KTLS {
            return Err(ENOPROTOOPT);
        }
        let room = out.room()?;
        let name = u32::try_from(name).map_err(|_| ENOPROTOOPT)?;
        let mut value = [0u8; MAX_CRYPTO_INFO_LEN];
        let result = this.get_option(name, &mut value).and_then(|len| {
            // As mainline: a buffer of exactly `struct ktls_crypto_info` gets the version and
            // cipher only, which is how an application asks what a socket was set up with.
            let is_keys = name == uapi::KTLS_TX || name == uapi::KTLS_RX;
            let len = if is_keys && room == uapi::CRYPTO_INFO_HEADER_LEN {
                uapi::CRYPTO_INFO_HEADER_LEN
            } else if room < len {
                return Err(EINVAL);
            } else {
                len
            };
            out.write(value.get(..len).ok_or(EINVAL)?)
        });
        wipe(&mut value);
        result
    }

    /// A `KTLS_SET_RECORD_TYPE` cmsg sends a record of another content type (not with
    /// `MSG_MORE`: `EINVAL`).
    fn sendmsg(this: ArcBorrow<'_, Self>, sock: &Socket, msg: &mut Msg<'_>) -> Result<usize> {
        let flags = msg.flags();
        if flags & !SEND_FLAGS != 0 {
            return Err(EOPNOTSUPP);
        }
        if flags & bindings::MSG_MORE != 0 && flags & bindings::MSG_EOR != 0 {
            return Err(EINVAL);
        }
        let content_type = match msg.control_u8(SOL_KTLS, uapi::KTLS_SET_RECORD_TYPE as i32)? {
            Some(_) if flags & bindings::MSG_MORE != 0 => return Err(EINVAL),
            Some(wire) => ContentType::from_wire(wire).map_err(|_| EINVAL)?,
            None => ContentType::ApplicationData,
        };
        let timeout = sock.sndtimeo(flags & bindings::MSG_DONTWAIT != 0);
        Self::send(this, msg.source(), content_type, flags, timeout)
    }

    /// Every call that returns data reports its record type in a `KTLS_GET_RECORD_TYPE` cmsg
    /// when the caller gave room for one.
    fn recvmsg(
        this: ArcBorrow<'_, Self>,
        sock: &Socket,
        msg: &mut Msg<'_>,
        flags: u32,
    ) -> Result<usize> {
        if flags & !RECV_FLAGS != 0 {
            return Err(EOPNOTSUPP);
        }
        let timeout = sock.rcvtimeo(flags & bindings::MSG_DONTWAIT != 0);
        let (dest, mut control) = msg.dest_and_control();
        let mut report_type = |content_type: ContentType| {
            control.put(
                SOL_KTLS,
                uapi::KTLS_GET_RECORD_TYPE as i32,
                &[content_type.wire()],
            )
        };
        let received = Self::recv(this, dest, flags, timeout, &mut report_type)?;
        if received.truncated {
            msg.add_flags(bindings::MSG_TRUNC);
        }
        Ok(received.len)
    }

    fn poll(this: ArcBorrow<'_, Self>, _sock: &Socket, poll: &Poll<'_>) -> u32 {
        this.poll_mask(poll)
    }

    fn shutdown(this: ArcBorrow<'_, Self>, how: i32) -> Result {
        Self::shutdown(this, how)
    }

    /// `EOPNOTSUPP` (the kernel's `sock_no_mmap` would say `ENODEV`).
    fn mmap(_this: ArcBorrow<'_, Self>) -> Result {
        Err(EOPNOTSUPP)
    }

    /// Decrypted data moves to the pipe as references on the pages it was decrypted into.
    fn splice_read(
        this: ArcBorrow<'_, Self>,
        sock: &Socket,
        pipe: &Pipe<'_>,
        len: usize,
        flags: u32,
    ) -> Result<usize> {
        let nonblock = flags & SPLICE_NONBLOCK != 0;
        let timeout = sock.rcvtimeo(nonblock);
        Self::splice(this, pipe, len, nonblock, timeout)
    }

    fn splice_eof(this: ArcBorrow<'_, Self>) {
        Self::splice_eof(this);
    }
}

impl OnWake for KtlsSocket {
    /// A wake-up of the bound socket: room queues the flush of pending records.
    fn woken(this: ArcBorrow<'_, Self>, mask: u32) {
        if this.closed.load(Relaxed) {
            return;
        }
        let room = mask == 0 || mask & (POLL_WRITABLE | bindings::POLLERR | bindings::POLLHUP) != 0;
        if room && this.tx_pending.load(Relaxed) {
            Self::queue_tx_work(this);
        }
        let input =
            mask == 0 || mask & (POLL_READABLE | bindings::POLLERR | bindings::POLLHUP) != 0;
        if input && this.rx_ahead.load(Relaxed) {
            // A reader in a call opens what arrives itself (it waits on the bound socket too);
            // a worker woken only to find it there would cost two context switches per record
            // (measured: ping-pong on one CPU at 0.64x of decrypt-ahead off). It queues the
            // work when it leaves.
            this.rx_ahead_missed.xchg(true, Full);
            if !this.rx_reader_active.load(Relaxed) && this.rx_ahead_missed.xchg(false, Full) {
                Self::queue_rx_work(this);
            }
        }
    }
}

/// KUnit suite `af_ktls_socket`.
#[cfg(ktls_kunit)]
#[kernel::macros::kunit_tests(af_ktls_socket)]
mod tests {
    use super::SocketKind;
    use kernel::{
        bindings,
        prelude::*, //
    };

    #[test]
    fn stream_and_datagram_are_accepted() {
        let stream = bindings::sock_type_SOCK_STREAM as i32;
        let dgram = bindings::sock_type_SOCK_DGRAM as i32;
        assert_eq!(
            SocketKind::from_socket_args(stream, 0),
            Ok(SocketKind::Stream)
        );
        assert_eq!(
            SocketKind::from_socket_args(dgram, 0),
            Ok(SocketKind::Datagram)
        );
    }

    #[test]
    fn other_types_are_not_supported() {
        for sock_type in [
            bindings::sock_type_SOCK_RAW,
            bindings::sock_type_SOCK_SEQPACKET,
            bindings::sock_type_SOCK_RDM,
            0,
            99,
        ] {
            assert_eq!(
                SocketKind::from_socket_args(sock_type as i32, 0),
                Err(ESOCKTNOSUPPORT)
            );
        }
    }

    #[test]
    fn protocols_other_than_zero_are_not_supported() {
        let stream = bindings::sock_type_SOCK_STREAM as i32;
        assert_eq!(
            SocketKind::from_socket_args(stream, 6),
            Err(EPROTONOSUPPORT)
        );
        // The type is checked first, as its errno is the more specific one.
        assert_eq!(SocketKind::from_socket_args(5, 6), Err(ESOCKTNOSUPPORT));
    }

    /// Fails on purpose in `make kunit-fail`, proving that `make check` notices failures.
    #[cfg(ktls_kunit_fail)]
    #[test]
    fn deliberately_failing_case() {
        assert_eq!(1 + 1, 3);
    }
}
