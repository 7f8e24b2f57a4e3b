// SPDX-License-Identifier: GPL-2.0

//! The receive path: records are opened from the bound socket's own buffers.
//!
//! - A whole data record the caller's buffer can take is decrypted from the socket buffers
//!   straight into the caller's memory: no copy in the kernel at all ([`Stats`] counts these).
//! - Otherwise (`MSG_PEEK`, a short buffer, a control record, the next record of a datagram) it
//!   is decrypted from the socket buffers into a page chunk of ours, queued in `ready`, and
//!   copied out from there (or handed to a pipe by `splice_read`, without a copy).
//! - Decrypt-ahead ([`Rx::decrypt_ahead`], run by the socket's work item when records arrive and
//!   no reader is in a call) opens whole records the same way into `ready`, a few records ahead,
//!   so that the reader finds plaintext. It stops at a control record (the application decides
//!   what follows one, e.g. new keys), at an error (reported after the records before it) and at
//!   a record that needs the copying path (left to the reader).
//! - TLS: a record the TCP receive buffer cannot hold whole is pulled out of it piecewise into a
//!   buffer (`assembly`) and opened there in place: the copying path.
//!
//! Nothing here blocks: when the bound socket has nothing more, a step returns
//! [`RecvStep::WouldBlock`] and the socket layer waits, without holding any lock, then calls again
//! with the same [`RecvProgress`].
//!
//! TLS keeps a partly read record across calls, so no byte is lost or reordered. DTLS takes whole
//! datagrams, which may hold several records; malformed, over-long, replayed, too old,
//! foreign-epoch and forged records are dropped and counted (RFC 6347 §4.1.2.7), and the replay
//! window moves only for records that authenticated.
//!
//! [`Stats`]: crate::stats::Counter::RxZeroCopyRecords

use core::ops::Range;

use kernel::{
    bindings,
    iov::IovIterDest,
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Release, //
        },
        Arc, //
    },
};

use crate::{
    cipher::{
        record_error,
        Ciphertext,
        Opened,
        PlaintextDest,
        RecordCipher,
        RecordNumber,
        Sequence, //
    },
    crypto::AsyncOpen,
    keys::DirectionKeys,
    net::{
        inet::{
            Datagram,
            InetSocket, //
        },
        socket::Pipe,
    },
    pages::{
        PageFrag,
        SharedChunk,
        UserPages, //
    },
    record::{
        handshake::{
            HandshakeFraming,
            KeyChange, //
        },
        header::{
            ContentType,
            DtlsHeader,
            TlsHeader, //
        },
        protection::{
            ProtocolVersion,
            RecordProtection,
            DTLS_HEADER_LEN,
            GCM_EXPLICIT_NONCE_LEN,
            MAX_PLAINTEXT_LEN, //
        },
        seq::DtlsRecordNumber,
        window::ReplayWindow,
    },
    stats::{
        self,
        Counter, //
    },
};

/// The longest record prefix: a DTLS header and an explicit nonce.
const MAX_PREFIX_LEN: usize = DTLS_HEADER_LEN + GCM_EXPLICIT_NONCE_LEN;

/// Decrypt-ahead opens at most this many records before a reader takes them.
pub(crate) const AHEAD_RECORDS: usize = 4;

/// `MSG_PEEK` and decrypt-ahead hold at most this much plaintext, or the bound socket's receive
/// buffer if that is larger: bytes taken out of the socket no longer count against its buffer,
/// so without a bound a peer could make the kernel hold any amount.
const MIN_HELD_PLAINTEXT: usize = 2 * MAX_PLAINTEXT_LEN;

/// Where a ready record's plaintext is.
enum Store {
    /// A page chunk of its own (written once, when the record was opened).
    Chunk(SharedChunk),
    /// `Rx::assembly`, where the copying path opened it in place.
    Assembly,
    /// Being opened by an asynchronous transform (decrypt-ahead); DTLS: the record's number,
    /// marked in the replay window once it authenticated. [`Rx::settle`] makes it a chunk.
    InFlight(AsyncOpen, Option<DtlsRecordNumber>),
}

/// A record that was opened and waits, whole or in part, to be read.
struct Ready {
    content_type: ContentType,
    store: Store,
    /// Its (remaining) plaintext within the store.
    plaintext: Range<usize>,
}

/// What one `recvmsg` delivered.
#[derive(Default)]
pub(crate) struct Received {
    /// Plaintext bytes delivered to the caller (or, with `MSG_TRUNC` on a datagram socket, the
    /// record's length).
    pub(crate) len: usize,
    /// DTLS: the record was longer than the caller's buffer; its rest was discarded (or, with
    /// `MSG_PEEK`, not copied).
    pub(crate) truncated: bool,
}

/// The state of one `recvmsg` call, kept across the waits between its steps.
#[derive(Default)]
pub(crate) struct RecvProgress {
    /// What was delivered so far.
    pub(crate) received: Received,
    /// The content type of the records delivered (reported to the caller once).
    reported: Option<ContentType>,
    /// `MSG_PEEK`: how many queued records were copied whole (the next to look at).
    peeked: usize,
    /// Whether the last step read anything from the bound socket.
    pub(crate) consumed: bool,
}

/// How a step of [`Rx::recv`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RecvStep {
    /// The call is complete: return what [`RecvProgress::received`] says.
    Done,
    /// The call needs more from the bound socket.
    WouldBlock,
}

/// What `poll` needs to know of the receive side, published by the reader under its lock and read
/// by `poll` without one (see `KtlsSocket::rx_poll`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RxPoll {
    /// A `recv` returns at once without reading the bound socket: an opened record (or another
    /// record of the current datagram) waits, or the stream failed.
    pub(crate) ready: bool,
    /// The stream failed; every call returns the error (`POLLERR`).
    pub(crate) failed: bool,
    /// TLS 1.3: a KeyUpdate was opened; nothing more is readable until the next keys are set.
    pub(crate) key_update_pending: bool,
    /// TLS: how many more bytes the TCP queue must hold to complete the record being assembled
    /// on the copying path; 0 when none is (the next record's header is then at the front of the
    /// TCP queue).
    pub(crate) need: u32,
    /// Changes whenever the reader takes bytes from the bound socket, so that `poll` can tell a
    /// snapshot taken while a reader raced it.
    pub(crate) generation: u32,
}

/// Where [`RxPoll`] is published, packed into one word, for `poll` to read without a lock: the
/// receive side stores each change as it makes it, before the bound socket's queue shows it (so
/// that a poller sees a record either still queued there or already opened).
pub(crate) struct PollWord(Atomic<u64>);

impl PollWord {
    /// A word that says nothing is ready.
    pub(crate) fn new() -> Self {
        Self(Atomic::new(0))
    }

    /// Publishes that there is no receive side (its keys were taken away).
    pub(crate) fn clear(&self) {
        self.store(RxPoll::default());
    }

    /// The state last published.
    pub(crate) fn load(&self) -> RxPoll {
        RxPoll::unpack(self.0.load(Acquire))
    }

    fn store(&self, state: RxPoll) {
        self.0.store(state.pack(), Release);
    }
}

impl RxPoll {
    const READY: u64 = 1 << 0;
    const FAILED: u64 = 1 << 1;
    const KEY_UPDATE_PENDING: u64 = 1 << 2;
    /// The generation lives in bits 3..32 (29 bits, wrapping); `need` in the upper half.
    const GENERATION_MASK: u32 = (1 << 29) - 1;

    /// Packs the state into one word, so that `poll` reads a consistent snapshot.
    fn pack(self) -> u64 {
        let mut word = (u64::from(self.need) << 32)
            | (u64::from(self.generation & Self::GENERATION_MASK) << 3);
        if self.ready {
            word |= Self::READY;
        }
        if self.failed {
            word |= Self::FAILED;
        }
        if self.key_update_pending {
            word |= Self::KEY_UPDATE_PENDING;
        }
        word
    }

    /// The state [`Self::pack`] packed.
    fn unpack(word: u64) -> Self {
        Self {
            ready: word & Self::READY != 0,
            failed: word & Self::FAILED != 0,
            key_update_pending: word & Self::KEY_UPDATE_PENDING != 0,
            need: (word >> 32) as u32,
            generation: ((word >> 3) as u32) & Self::GENERATION_MASK,
        }
    }
}

/// What trying to open the next record gave.
enum NextRecord {
    /// A record was queued at the back of `Rx::ready`.
    Opened,
    /// A data record of this many bytes went straight into the caller's buffer.
    Delivered(usize),
    /// The stream ended cleanly between records (or the datagram socket was shut down).
    Ended,
    /// More input is needed.
    WouldBlock,
}

/// The caller's buffer, for opening a record straight into it.
struct Direct<'b, 'd> {
    dest: &'b mut IovIterDest<'d>,
}

/// The receiving half of a socket with keys installed.
///
/// # Invariants
///
/// Each `ready` record's plaintext lies within its store; at most one is stored in `assembly`,
/// and none while a record is being assembled (`filled > 0`); TLS: `filled <= assembly.len()`
/// and, while `assembling` is set, `filled` bytes of that record are in `assembly`; DTLS:
/// `next_in_datagram` is an offset in `datagram`.
pub(crate) struct Rx {
    bound: Arc<InetSocket>,
    /// Where `poll` reads [`Self::poll_state`].
    published: Arc<PollWord>,
    cipher: RecordCipher,
    keys: DirectionKeys,
    datagram_mode: bool,
    /// TLS: the number of the next record.
    sequence: Sequence,
    /// DTLS: the epoch of the keys and the replay window of that epoch.
    epoch: u16,
    window: ReplayWindow,
    /// Where opened records' chunks come from.
    frag: PageFrag,
    /// Opened records not read yet, oldest first.
    ready: KVec<Ready>,
    /// TLS, the copying path: a record pulled out of the TCP queue in pieces (empty until the
    /// copying path is first taken).
    assembly: KVec<u8>,
    /// Bytes of it in `assembly`.
    filled: usize,
    /// Its header, once all of it is in.
    assembling: Option<TlsHeader>,
    /// DTLS: the datagram being read, and where its next record starts.
    datagram: Option<Datagram>,
    next_in_datagram: usize,
    /// TLS: the error that broke the stream; every later call reports it (as mainline does).
    failed: Option<Error>,
    /// An error of the bound socket (a reset; DTLS: an ICMP error) that decrypt-ahead met: the
    /// next call returns it once, after the records before it, as the socket would have.
    socket_error: Option<Error>,
    /// TLS 1.3: where handshake messages begin and end across handshake records.
    handshake: HandshakeFraming,
    /// TLS 1.3: a KeyUpdate was opened; the records after it need the next keys
    /// ([`Self::rekey`]), and until then calls fail with `EKEYEXPIRED` once `ready` is empty.
    key_update_pending: bool,
    /// See [`RxPoll::generation`].
    generation: u32,
}

impl Rx {
    /// Sets up receiving with `keys`; allocates everything the records need but their pages.
    pub(crate) fn new(
        bound: Arc<InetSocket>,
        protection: RecordProtection,
        keys: DirectionKeys,
        published: Arc<PollWord>,
    ) -> Result<Self> {
        let rec_seq = keys.rec_seq();
        let first = DtlsRecordNumber::from_be_bytes(rec_seq);
        let window = Self::window_from(first)?;
        let datagram_mode = protection.version().is_datagram();
        Ok(Self {
            cipher: RecordCipher::new(protection, &keys)?,
            datagram_mode,
            sequence: Sequence::from_rec_seq(protection, rec_seq),
            epoch: first.epoch(),
            window,
            frag: PageFrag::new(),
            ready: KVec::with_capacity(AHEAD_RECORDS + 1, GFP_KERNEL)?,
            assembly: KVec::new(),
            filled: 0,
            assembling: None,
            datagram: None,
            next_in_datagram: 0,
            keys,
            bound,
            published,
            failed: None,
            socket_error: None,
            handshake: HandshakeFraming::new(),
            key_update_pending: false,
            generation: 0,
        })
    }

    /// DTLS: the replay window of keys whose first record is `first`: the records before it
    /// were the library's, so they count as received.
    fn window_from(first: DtlsRecordNumber) -> Result<ReplayWindow> {
        match first.sequence().checked_sub(1) {
            Some(last) => ReplayWindow::after(last).map_err(record_error),
            None => Ok(ReplayWindow::new()),
        }
    }

    /// Changes to the next keys (`KTLS_RX` set again, see [`DirectionKeys::check_next`]): TLS
    /// 1.3 only after a KeyUpdate was opened (else `EBUSY`); DTLS 1.2 for the next epoch, with a
    /// fresh replay window (records of the old epoch are dropped from then on, as records of
    /// any other epoch are). Records already opened stay queued. Nothing changes on failure.
    pub(crate) fn rekey(&mut self, keys: DirectionKeys) -> Result {
        let protection = self.cipher.protection();
        self.keys.check_next(protection, &keys)?;
        if protection.version() == ProtocolVersion::Tls13 && !self.key_update_pending {
            return Err(EBUSY);
        }
        // Records in flight belong to the current keys (and window).
        self.settle(usize::MAX);
        let first = DtlsRecordNumber::from_be_bytes(keys.rec_seq());
        let window = Self::window_from(first)?;
        let cipher = RecordCipher::new(protection, &keys)?;
        self.cipher = cipher;
        self.sequence = Sequence::from_rec_seq(protection, keys.rec_seq());
        self.epoch = first.epoch();
        self.window = window;
        self.keys = keys;
        self.handshake = HandshakeFraming::new();
        self.key_update_pending = false;
        self.publish();
        Ok(())
    }

    /// Whether nothing is buffered: no opened record, no partly read record or datagram.
    pub(crate) fn is_idle(&self) -> bool {
        let more_in_datagram = self
            .datagram
            .as_ref()
            .is_some_and(|datagram| self.next_in_datagram < datagram.len());
        self.ready.is_empty() && self.filled == 0 && !more_in_datagram
    }

    /// TLS 1.3: follows the handshake record just queued at the back of `ready`; a KeyUpdate
    /// ending it stops the stream until the next keys (`key_update_pending`). A KeyUpdate that
    /// does not end its record breaks the stream (`EPROTO`); the record is not delivered.
    fn follow_handshake(&mut self) -> Result {
        if self.cipher.protection().version() != ProtocolVersion::Tls13 {
            return Ok(());
        }
        let Some(ready) = self.ready.last() else {
            return Ok(());
        };
        if ready.content_type != ContentType::Handshake {
            return Ok(());
        }
        let store = match &ready.store {
            Store::Chunk(chunk) => chunk.as_slice(),
            Store::Assembly => self.assembly.as_slice(),
            // Only data records are opened asynchronously.
            Store::InFlight(..) => return Ok(()),
        };
        let plaintext = store.get(ready.plaintext.clone()).ok_or(EINVAL)?;
        match self.handshake.record(plaintext) {
            Ok(KeyChange::None) => Ok(()),
            Ok(KeyChange::KeyUpdate) => {
                self.key_update_pending = true;
                Ok(())
            }
            Err(err) => {
                self.ready.pop();
                Err(self.fail(record_error(err)))
            }
        }
    }

    /// Publishes [`Self::poll_state`] for `poll`.
    pub(crate) fn publish(&self) {
        self.published.store(self.poll_state());
    }

    /// The bound socket records come from.
    pub(crate) fn bound(&self) -> &Arc<InetSocket> {
        &self.bound
    }

    /// The keys as set, with `rec_seq` the number of the next record to arrive (DTLS: one past
    /// the highest accepted), for `getsockopt`.
    pub(crate) fn current_keys(&self, out: &mut [u8]) -> Result<usize> {
        let next = if self.datagram_mode {
            match self.window.highest() {
                Some(highest) => DtlsRecordNumber::new(self.epoch, highest.saturating_add(1))
                    .map(DtlsRecordNumber::to_be_bytes)
                    .unwrap_or([0xff; 8]),
                None => self.keys.rec_seq(),
            }
        } else {
            self.sequence.next_rec_seq()
        };
        self.keys.write_current(out, next, None)
    }

    /// The state `poll` reads.
    fn poll_state(&self) -> RxPoll {
        let more_in_datagram = self
            .datagram
            .as_ref()
            .is_some_and(|datagram| self.next_in_datagram < datagram.len());
        let need = if self.datagram_mode || self.filled == 0 {
            0
        } else {
            match self.assembling {
                Some(header) => header.record_len().saturating_sub(self.filled),
                None => self
                    .cipher
                    .protection()
                    .header_len()
                    .saturating_sub(self.filled),
            }
        };
        let error = self.failed.is_some() || self.socket_error.is_some();
        RxPoll {
            ready: !self.ready.is_empty() || error || more_in_datagram,
            failed: error,
            key_update_pending: self.key_update_pending,
            need: u32::try_from(need).unwrap_or(u32::MAX),
            generation: self.generation,
        }
    }

    /// One step of `recvmsg`: delivers plaintext into `dest` (`MSG_PEEK`, `MSG_WAITALL`,
    /// `MSG_TRUNC` honoured) from opened records and records it can open without waiting.
    ///
    /// `report_type` is told the content type of the first record the call returns and says
    /// whether it reached the caller (a `KTLS_GET_RECORD_TYPE` cmsg). Consecutive data records
    /// are merged; types never mix in one call; a non-data record is returned alone, and fails
    /// with `EIO`, staying queued, when its type could not be reported.
    pub(crate) fn recv(
        &mut self,
        dest: &mut IovIterDest<'_>,
        flags: u32,
        progress: &mut RecvProgress,
        report_type: &mut dyn FnMut(ContentType) -> bool,
    ) -> Result<RecvStep> {
        progress.consumed = false;
        let peek = flags & bindings::MSG_PEEK != 0;
        let result = self.deliver(dest, flags, progress, report_type);
        if self.datagram_mode && !peek && self.ready.is_empty() {
            // The next record of the datagram is opened now, so that `poll` knows whether one
            // is really there (it may be dropped).
            let _ = self.open_in_datagram(None, false);
        }
        match result {
            // What was delivered stands; a TLS error is reported again by the next call.
            Err(_) if progress.received.len > 0 => Ok(RecvStep::Done),
            result => result,
        }
    }

    /// One step of `splice_read`: hands up to `len` bytes of the next data record to `pipe` as
    /// references on its pages, without a copy (a record opened on the copying path is copied
    /// into a chunk first). A control record fails with `EINVAL` and stays for `recvmsg`; what
    /// the pipe does not take stays for the next call.
    pub(crate) fn splice(
        &mut self,
        pipe: &Pipe<'_>,
        len: usize,
        progress: &mut RecvProgress,
    ) -> Result<RecvStep> {
        progress.consumed = false;
        if self.ready.is_empty() {
            self.check_stopped()?;
            match self.next_record(None, progress)? {
                NextRecord::Opened | NextRecord::Delivered(_) => {}
                NextRecord::Ended => return Ok(RecvStep::Done),
                NextRecord::WouldBlock => return Ok(RecvStep::WouldBlock),
            }
        }
        self.settle(1);
        match self.ready.first() {
            None => return Ok(RecvStep::Done),
            Some(ready) if ready.content_type != ContentType::ApplicationData => {
                return Err(EINVAL)
            }
            Some(_) => {}
        }
        self.chunk_from_assembly()?;
        let Some(ready) = self.ready.first_mut() else {
            return Ok(RecvStep::Done);
        };
        let Store::Chunk(chunk) = &ready.store else {
            return Err(EINVAL);
        };
        let take = len.min(ready.plaintext.len());
        if take > 0 {
            let start = ready.plaintext.start;
            let added = pipe.add_chunk(chunk, start..start + take)?;
            progress.received.len += added;
            ready.plaintext.start += added;
        }
        if ready.plaintext.is_empty() {
            self.pop_front();
            if self.datagram_mode && self.ready.is_empty() {
                let _ = self.open_in_datagram(None, false);
            }
        }
        Ok(RecvStep::Done)
    }

    /// Opens whole records that are already queued on the bound socket, without waiting, until
    /// [`AHEAD_RECORDS`] or the plaintext bound are held. Called only between readers' calls.
    /// Stops at a control record, at an error (which the reader gets after the records before
    /// it), before a record that needs the copying path, and before the next record when
    /// `reader_waiting` says a reader waits for the lock (it takes what is open and opens the
    /// rest itself).
    pub(crate) fn decrypt_ahead(&mut self, reader_waiting: impl Fn() -> bool) {
        let mut progress = RecvProgress::default();
        loop {
            let room = self.failed.is_none()
                && self.socket_error.is_none()
                && !self.key_update_pending
                && self.ready.len() < AHEAD_RECORDS
                && self.held_plaintext() < self.plaintext_bound()
                && self
                    .ready
                    .last()
                    .is_none_or(|ready| ready.content_type == ContentType::ApplicationData);
            if !room || reader_waiting() {
                return;
            }
            let next = if self.datagram_mode {
                self.next_datagram_record(None, true, &mut progress)
            } else {
                self.next_stream_record(None, false, &mut progress)
            };
            match next {
                Ok(NextRecord::Opened) => stats::count(Counter::RxAheadRecords),
                Ok(_) => return,
                Err(err) => {
                    // An error that broke the stream is kept by `fail`; the bound socket's own
                    // is kept for the reader. Out of memory leaves the records to the reader.
                    if self.failed.is_none() && err != ENOMEM {
                        self.socket_error = Some(err);
                    }
                    return;
                }
            }
        }
    }

    /// Plaintext bytes held in `ready`.
    fn held_plaintext(&self) -> usize {
        self.ready.iter().map(|ready| ready.plaintext.len()).sum()
    }

    /// How much plaintext `MSG_PEEK` and decrypt-ahead may hold.
    fn plaintext_bound(&self) -> usize {
        self.bound.rcvbuf().max(MIN_HELD_PLAINTEXT)
    }

    /// Why a reader that has taken every opened record cannot go on, if it cannot: the stream's
    /// error, a KeyUpdate whose next keys are not set yet (`EKEYEXPIRED`), or the bound socket's
    /// error (reported once). They come after the records opened before them, so callers ask
    /// only at an empty queue.
    fn check_stopped(&mut self) -> Result {
        if let Some(err) = self.failed {
            return Err(err);
        }
        if self.key_update_pending {
            return Err(EKEYEXPIRED);
        }
        match self.socket_error.take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Waits for the records among the first `count` queued that an asynchronous transform is
    /// opening, and makes them ordinary records. One that did not authenticate is dropped and
    /// counted (DTLS), or breaks the stream there (TLS: it and the records after it go; the
    /// error comes after the records before it).
    fn settle(&mut self, count: usize) {
        let mut index = 0;
        while index < count.min(self.ready.len()) {
            let in_flight = self
                .ready
                .get(index)
                .is_some_and(|ready| matches!(ready.store, Store::InFlight(..)));
            if !in_flight {
                index += 1;
                continue;
            }
            let Ok(Ready {
                content_type,
                store: Store::InFlight(op, number),
                plaintext,
            }) = self.ready.remove(index)
            else {
                break;
            };
            match op.finish() {
                Ok(chunk) => {
                    if let Some(number) = number {
                        if self.window.mark(number.sequence()).is_err() {
                            // Two copies were in flight; the first one counts.
                            stats::count(Counter::RxReplayed);
                            continue;
                        }
                    }
                    stats::count_record_in(content_type, plaintext.len());
                    let ready = Ready {
                        content_type,
                        store: Store::Chunk(chunk.share()),
                        plaintext,
                    };
                    // Cannot fail: the record's place was just freed.
                    if self.ready.insert_within_capacity(index, ready).is_err() {
                        break;
                    }
                    index += 1;
                }
                Err(err) => {
                    stats::count(Counter::RxDecryptErrors);
                    if number.is_none() {
                        // The records after it wait for their operations as they go.
                        self.ready.truncate(index);
                        self.fail(err);
                        break;
                    }
                }
            }
        }
        self.publish();
    }

    /// Starts opening a data record from the bound socket's buffers with the asynchronous
    /// transform and queues it in flight (decrypt-ahead). On failure nothing is queued.
    fn open_async(
        &mut self,
        number: RecordNumber,
        prefix: &[u8],
        payload_len: usize,
        source: Ciphertext<'_>,
    ) -> Result {
        let protection = self.cipher.protection();
        let decrypted_len = payload_len
            .checked_sub(protection.explicit_nonce_len() + protection.tag_len())
            .ok_or(EBADMSG)?;
        self.ready.reserve(1, GFP_KERNEL)?;
        let pages_before = self.frag.allocated();
        let chunk = self
            .frag
            .alloc(decrypted_len.max(1), decrypted_len.max(1))?;
        stats::add(
            Counter::RxAllocs,
            (self.frag.allocated() - pages_before) as usize,
        );
        let op = self.cipher.start_open(
            number,
            ContentType::ApplicationData,
            prefix,
            payload_len,
            source,
            chunk,
        )?;
        let window_number = match number {
            RecordNumber::Dtls(number) => Some(number),
            RecordNumber::Tls(_) => None,
        };
        // INVARIANT: The plaintext will lie at the start of the chunk.
        let ready = Ready {
            content_type: ContentType::ApplicationData,
            store: Store::InFlight(op, window_number),
            plaintext: 0..decrypted_len,
        };
        // Cannot fail: room was reserved above.
        self.ready.push_within_capacity(ready).map_err(|_| ENOMEM)?;
        stats::count(Counter::RxAsyncRecords);
        Ok(())
    }

    /// Drops the oldest queued record, read in full.
    fn pop_front(&mut self) {
        if !self.ready.is_empty() {
            // Cannot fail: the queue is not empty.
            let _ = self.ready.remove(0);
        }
    }

    /// Moves the record opened in `assembly`, if one is queued, into a chunk of its own, so that
    /// `assembly` is free for the next record and the record can go to a pipe (a copy).
    fn chunk_from_assembly(&mut self) -> Result {
        let Some(ready) = self
            .ready
            .iter_mut()
            .find(|ready| matches!(ready.store, Store::Assembly))
        else {
            return Ok(());
        };
        let bytes = self.assembly.get(ready.plaintext.clone()).ok_or(EINVAL)?;
        let size = bytes.len().max(1);
        let mut chunk = self.frag.alloc(size, size)?;
        chunk
            .as_mut_slice()
            .get_mut(..bytes.len())
            .ok_or(EINVAL)?
            .copy_from_slice(bytes);
        stats::add(Counter::RxCopyBytes, bytes.len());
        // INVARIANT: The plaintext now lies at the start of the chunk; `assembly` holds none.
        ready.plaintext = 0..bytes.len();
        ready.store = Store::Chunk(chunk.share());
        Ok(())
    }

    fn deliver(
        &mut self,
        dest: &mut IovIterDest<'_>,
        flags: u32,
        progress: &mut RecvProgress,
        report_type: &mut dyn FnMut(ContentType) -> bool,
    ) -> Result<RecvStep> {
        let peek = flags & bindings::MSG_PEEK != 0;
        let waitall = flags & bindings::MSG_WAITALL != 0;
        let real_len = flags & bindings::MSG_TRUNC != 0;
        loop {
            // `MSG_PEEK` walks the queue without taking from it; other calls take its front.
            let index = if peek { progress.peeked } else { 0 };
            self.settle(index + 1);
            if index >= self.ready.len() {
                self.check_stopped()?;
                if peek && index > 0 && self.held_plaintext() >= self.plaintext_bound() {
                    return Ok(RecvStep::Done);
                }
                // Only data may go straight to the caller, and only into a buffer that is
                // consumed (no `MSG_PEEK`) and has not taken another type.
                let direct =
                    !peek && matches!(progress.reported, None | Some(ContentType::ApplicationData));
                let direct = direct.then_some(Direct { dest: &mut *dest });
                match self.next_record(direct, progress)? {
                    NextRecord::Opened => continue,
                    NextRecord::Delivered(len) => {
                        if progress.reported.is_none() {
                            report_type(ContentType::ApplicationData);
                            progress.reported = Some(ContentType::ApplicationData);
                        }
                        progress.received.len += len;
                        if dest.is_empty() || self.datagram_mode {
                            return Ok(RecvStep::Done);
                        }
                        continue;
                    }
                    NextRecord::Ended => return Ok(RecvStep::Done),
                    NextRecord::WouldBlock => {
                        // Some data is enough, unless `MSG_WAITALL` wants the buffer full.
                        let satisfied = progress.received.len > 0 && (!waitall || dest.is_empty());
                        return Ok(if satisfied {
                            RecvStep::Done
                        } else {
                            RecvStep::WouldBlock
                        });
                    }
                }
            }
            let Some(ready) = self.ready.get_mut(index) else {
                return Ok(RecvStep::Done);
            };
            let content_type = ready.content_type;
            match progress.reported {
                None => {
                    let delivered = report_type(content_type);
                    if content_type != ContentType::ApplicationData && !delivered {
                        return Err(EIO);
                    }
                    progress.reported = Some(content_type);
                }
                Some(reported) if reported != content_type => return Ok(RecvStep::Done),
                Some(_) => {}
            }
            let store = match &ready.store {
                Store::Chunk(chunk) => chunk.as_slice(),
                Store::Assembly => self.assembly.as_slice(),
                // `settle` ran for this record.
                Store::InFlight(..) => return Err(EINVAL),
            };
            let bytes = store.get(ready.plaintext.clone()).ok_or(EINVAL)?;
            let copied = dest.copy_to_iter(bytes);
            stats::add(Counter::RxCopyBytes, copied);
            if copied < bytes.len() && !dest.is_empty() {
                // The user buffer faulted: what was copied counts, nothing is consumed.
                return if progress.received.len > 0 {
                    Ok(RecvStep::Done)
                } else {
                    Err(EFAULT)
                };
            }
            if self.datagram_mode && copied < bytes.len() {
                // Datagram semantics: the caller's buffer was short, as UDP reports it; with
                // `MSG_TRUNC` the call returns the record's real length.
                progress.received.truncated = true;
                progress.received.len += if real_len { bytes.len() } else { copied };
            } else {
                progress.received.len += copied;
            }
            let whole = copied == bytes.len();
            let more_wanted = content_type == ContentType::ApplicationData
                && !dest.is_empty()
                && !self.datagram_mode;
            if peek {
                if !whole || !more_wanted {
                    return Ok(RecvStep::Done);
                }
                progress.peeked += 1;
                continue;
            }
            ready.plaintext.start += copied;
            if self.datagram_mode {
                // Datagram semantics: the rest of the record is discarded, as UDP does.
                ready.plaintext.start = ready.plaintext.end;
            }
            if ready.plaintext.is_empty() {
                self.pop_front();
            }
            if !more_wanted {
                return Ok(RecvStep::Done);
            }
        }
    }

    /// Opens the next record without waiting: into the caller's buffer when `direct` allows and
    /// it qualifies, else into `ready`.
    fn next_record(
        &mut self,
        direct: Option<Direct<'_, '_>>,
        progress: &mut RecvProgress,
    ) -> Result<NextRecord> {
        if self.datagram_mode {
            self.next_datagram_record(direct, false, progress)
        } else {
            self.next_stream_record(direct, true, progress)
        }
    }

    /// Counts a read of the bound socket: for `poll`'s snapshots and the caller's waits.
    fn consumed(&mut self, progress: &mut RecvProgress) {
        self.generation = self.generation.wrapping_add(1);
        progress.consumed = true;
        self.publish();
    }

    /// TLS: opens the next record; `copying` allows the copying path (a record the TCP receive
    /// buffer cannot hold whole, the end of the stream), else such a record is `WouldBlock`.
    fn next_stream_record(
        &mut self,
        direct: Option<Direct<'_, '_>>,
        copying: bool,
        progress: &mut RecvProgress,
    ) -> Result<NextRecord> {
        if self.filled > 0 {
            if !copying {
                return Ok(NextRecord::WouldBlock);
            }
            return self.assemble(progress);
        }
        let protection = self.cipher.protection();
        let header_len = protection.header_len();
        let prefix_len = self.cipher.body_offset();
        let bound = self.bound.clone();
        let queue = bound.tcp_queue()?;
        let queued = queue.queued();
        if queued < header_len {
            drop(queue);
            return self.stream_short(copying, progress);
        }
        let mut prefix = [0u8; MAX_PREFIX_LEN];
        queue.copy(0, prefix.get_mut(..header_len).ok_or(EINVAL)?)?;
        let parsed = TlsHeader::parse(protection, prefix.get(..header_len).ok_or(EINVAL)?);
        let header = match parsed {
            Ok(header) => header,
            Err(err) => return Err(self.fail(record_error(err))),
        };
        let record_len = header.record_len();
        if queued < record_len {
            drop(queue);
            return self.stream_short(copying, progress);
        }
        queue.copy(0, prefix.get_mut(..prefix_len).ok_or(EINVAL)?)?;
        let prefix = prefix.get(..prefix_len).ok_or(EINVAL)?;
        let payload_len = record_len - header_len;
        let number = self.sequence.peek().ok_or(EBADMSG)?;
        let source = Ciphertext::Tcp(&queue, prefix_len);
        let zero_copy_len = self.direct_len(header.content_type(), payload_len);
        let mut delivered = None;
        if let (Some(direct), Some(len)) = (direct, zero_copy_len) {
            if let Some(mut pages) = UserPages::extract(direct.dest, len)? {
                let opened = self.cipher.open(
                    number,
                    header.content_type(),
                    prefix,
                    payload_len,
                    Ciphertext::Tcp(&queue, prefix_len),
                    PlaintextDest::User(&mut pages),
                );
                match opened {
                    Ok(Opened::Record(_, len)) => {
                        drop(pages);
                        delivered = Some(len);
                    }
                    Ok(Opened::NotPlainData) => pages.give_back(direct.dest),
                    Err(err) => {
                        drop(pages);
                        drop(queue);
                        stats::count(Counter::RxDecryptErrors);
                        return Err(self.fail(err));
                    }
                }
            }
        }
        let asynchronous = !copying
            && delivered.is_none()
            && header.content_type() == ContentType::ApplicationData
            && self.cipher.is_async()
            && protection.version() != ProtocolVersion::Tls13;
        if asynchronous {
            // Decrypt-ahead with an asynchronous transform: the record goes in flight and the
            // next one can start at once. If it cannot, the reader opens it.
            let source = Ciphertext::Tcp(&queue, prefix_len);
            if self
                .open_async(number, prefix, payload_len, source)
                .is_err()
            {
                return Ok(NextRecord::WouldBlock);
            }
            self.publish();
            queue.consume(record_len);
            self.consumed(progress);
            self.sequence.take().map_err(|err| self.fail(err))?;
            return Ok(NextRecord::Opened);
        }
        let opened = match delivered {
            Some(len) => Ok(Opened::Record(ContentType::ApplicationData, len)),
            None => {
                self.open_into_chunk(number, header.content_type(), prefix, payload_len, source)
            }
        };
        let opened = match opened {
            Ok(opened) => opened,
            Err(err) => {
                drop(queue);
                if err != ENOMEM {
                    stats::count(Counter::RxDecryptErrors);
                    return Err(self.fail(err));
                }
                return Err(err);
            }
        };
        // `poll` sees the opened record before the bound socket's queue loses it.
        self.publish();
        queue.consume(record_len);
        self.consumed(progress);
        self.sequence.take().map_err(|err| self.fail(err))?;
        match (opened, delivered) {
            (Opened::Record(content_type, len), Some(_)) => {
                stats::count_record_in(content_type, len);
                stats::count(Counter::RxZeroCopyRecords);
                Ok(NextRecord::Delivered(len))
            }
            _ => {
                self.follow_handshake()?;
                Ok(NextRecord::Opened)
            }
        }
    }

    /// How much of a data record of `outer_type` with length field `payload_len` goes into the
    /// caller's buffer when opened there, or `None` if it may not go there.
    fn direct_len(&self, outer_type: ContentType, payload_len: usize) -> Option<usize> {
        if outer_type != ContentType::ApplicationData {
            return None;
        }
        let protection = self.cipher.protection();
        let outside = protection.explicit_nonce_len() + protection.tag_len();
        // TLS 1.3: the content type, the inner plaintext's last byte, goes to the kernel.
        let len = payload_len.checked_sub(outside + protection.inner_type_len())?;
        (len > 0).then_some(len)
    }

    /// Opens a record from the socket's buffers into a new chunk, queued in `ready`.
    fn open_into_chunk(
        &mut self,
        number: RecordNumber,
        outer_type: ContentType,
        prefix: &[u8],
        payload_len: usize,
        source: Ciphertext<'_>,
    ) -> Result<Opened> {
        let protection = self.cipher.protection();
        let decrypted_len = payload_len
            .checked_sub(protection.explicit_nonce_len() + protection.tag_len())
            .ok_or(EBADMSG)?;
        // Room in the queue first, so that an opened record always finds its place.
        self.ready.reserve(1, GFP_KERNEL)?;
        let pages_before = self.frag.allocated();
        let mut chunk = self
            .frag
            .alloc(decrypted_len.max(1), decrypted_len.max(1))?;
        stats::add(
            Counter::RxAllocs,
            (self.frag.allocated() - pages_before) as usize,
        );
        let opened = self.cipher.open(
            number,
            outer_type,
            prefix,
            payload_len,
            source,
            PlaintextDest::Chunk(&mut chunk),
        )?;
        if let Opened::Record(content_type, len) = opened {
            stats::count_record_in(content_type, len);
            // INVARIANT: The plaintext lies at the start of the chunk.
            let ready = Ready {
                content_type,
                store: Store::Chunk(chunk.share()),
                plaintext: 0..len,
            };
            // Cannot fail: room was reserved above.
            self.ready.push_within_capacity(ready).map_err(|_| ENOMEM)?;
        }
        Ok(opened)
    }

    /// Less than the next record (or its header) is queued: wait for the rest, unless the
    /// copying path may take what is there (`copying`) and the rest cannot come in.
    fn stream_short(&mut self, copying: bool, progress: &mut RecvProgress) -> Result<NextRecord> {
        if !copying {
            return Ok(NextRecord::WouldBlock);
        }
        if self.bound.tcp_rcv_stalled() {
            // The TCP receive buffer is full and its window closed (even part of a header can
            // hold it all: its socket buffer is charged in full): take the record out piecewise.
            return self.assemble(progress);
        }
        // The rest never comes if the stream ended (inside a record: `EBADMSG`) or failed.
        if !self.bound.input_ended() && !self.bound.error_pending() {
            return Ok(NextRecord::WouldBlock);
        }
        // Take what is there: the end of the stream, inside a record or not, or the error.
        self.assemble(progress)
    }

    /// The copying path: reads the record from the stream into `assembly` and opens it there.
    fn assemble(&mut self, progress: &mut RecvProgress) -> Result<NextRecord> {
        let protection = self.cipher.protection();
        let header_len = protection.header_len();
        let header = match self.assembling {
            Some(header) => header,
            None => {
                if self.filled == 0 {
                    // `assembly` may still hold a queued record (peeked at, or behind others).
                    self.chunk_from_assembly()?;
                    self.ready.reserve(1, GFP_KERNEL)?;
                    // Room for the longest valid record, allocated the first time the copying
                    // path is taken (most connections never take it).
                    let assembly_len = protection.header_len() + protection.max_payload_len();
                    if self.assembly.len() < assembly_len {
                        self.assembly = KVec::zeroed(assembly_len, GFP_KERNEL)?;
                    }
                }
                match self.fill_to(header_len, progress)? {
                    NextRecord::Opened => {}
                    other => return Ok(other),
                }
                let parsed =
                    TlsHeader::parse(protection, self.assembly.get(..header_len).ok_or(EINVAL)?);
                let header = parsed.map_err(|err| self.fail(record_error(err)))?;
                self.assembling = Some(header);
                header
            }
        };
        let record_len = header.record_len();
        match self.fill_to(record_len, progress)? {
            NextRecord::Opened => {}
            other => return Ok(other),
        }
        let number = self.sequence.take().map_err(|err| self.fail(err))?;
        let opened = self.cipher.open_in_place(
            number,
            header.content_type(),
            &mut self.assembly,
            0..record_len,
        );
        let (content_type, plaintext) = opened.map_err(|err| {
            stats::count(Counter::RxDecryptErrors);
            self.fail(err)
        })?;
        self.filled = 0;
        self.assembling = None;
        stats::count_record_in(content_type, plaintext.len());
        // INVARIANT: The plaintext lies within the record just assembled, the only one stored
        // in `assembly` (`chunk_from_assembly` ran before it was read in).
        let ready = Ready {
            content_type,
            store: Store::Assembly,
            plaintext,
        };
        // Cannot fail: room was reserved before the record was read in.
        self.ready.push_within_capacity(ready).map_err(|_| ENOMEM)?;
        self.follow_handshake()?;
        Ok(NextRecord::Opened)
    }

    /// Reads from the stream until `assembly` holds `len` bytes: `Opened` once it does.
    fn fill_to(&mut self, len: usize, progress: &mut RecvProgress) -> Result<NextRecord> {
        while self.filled < len {
            let space = self.assembly.get_mut(self.filled..len).ok_or(EINVAL)?;
            match self.bound.recv(space, bindings::MSG_DONTWAIT) {
                Ok((0, _)) => return self.end_of_stream(),
                Ok((read, _)) => {
                    stats::add(Counter::RxCopyBytes, read);
                    self.filled += read;
                    self.consumed(progress);
                }
                Err(err) if err == EAGAIN => return Ok(NextRecord::WouldBlock),
                Err(err) => {
                    self.consumed(progress);
                    return Err(err);
                }
            }
        }
        Ok(NextRecord::Opened)
    }

    /// The TCP stream ended: cleanly between records, or inside one (`EBADMSG`).
    fn end_of_stream(&mut self) -> Result<NextRecord> {
        if self.filled == 0 {
            Ok(NextRecord::Ended)
        } else {
            Err(self.fail(EBADMSG))
        }
    }

    fn fail(&mut self, err: Error) -> Error {
        self.failed = Some(err);
        err
    }

    fn next_datagram_record(
        &mut self,
        mut direct: Option<Direct<'_, '_>>,
        asynchronous: bool,
        progress: &mut RecvProgress,
    ) -> Result<NextRecord> {
        loop {
            let direct_now = direct.as_mut().map(|direct| Direct {
                dest: &mut *direct.dest,
            });
            match self.open_in_datagram(direct_now, asynchronous)? {
                NextRecord::WouldBlock => {}
                other => return Ok(other),
            }
            // The datagram is used up: the next one.
            self.datagram = None;
            match self.bound.recv_datagram()? {
                Some(datagram) => {
                    self.next_in_datagram = 0;
                    self.datagram = Some(datagram);
                    self.consumed(progress);
                }
                // A UDP socket shut down for reading has nothing more, ever.
                None if self.bound.input_ended() => return Ok(NextRecord::Ended),
                None => return Ok(NextRecord::WouldBlock),
            }
        }
    }

    /// Opens the next record of the current datagram, dropping (and counting) those that are
    /// malformed, over-long, replayed, of another epoch or forged: into the caller's buffer when
    /// `direct` allows, else into `ready` (in flight, with an asynchronous transform, when
    /// `asynchronous`: decrypt-ahead). `WouldBlock` when the datagram has no record left.
    fn open_in_datagram(
        &mut self,
        mut direct: Option<Direct<'_, '_>>,
        asynchronous: bool,
    ) -> Result<NextRecord> {
        let protection = self.cipher.protection();
        let prefix_len = self.cipher.body_offset();
        loop {
            let Some(datagram) = self.datagram.as_ref() else {
                return Ok(NextRecord::WouldBlock);
            };
            let start = self.next_in_datagram;
            let rest = datagram.len().saturating_sub(start);
            if rest == 0 {
                return Ok(NextRecord::WouldBlock);
            }
            let mut prefix = [0u8; MAX_PREFIX_LEN];
            let have = rest.min(MAX_PREFIX_LEN);
            datagram.copy(start, prefix.get_mut(..have).ok_or(EINVAL)?)?;
            let header = match DtlsHeader::parse(protection, prefix.get(..have).ok_or(EINVAL)?) {
                Ok(header) if header.record_len() <= rest && prefix_len <= have => header,
                _ => {
                    self.skip_unparsable_record(start, prefix.get(..have).unwrap_or(&[]), rest);
                    continue;
                }
            };
            let record_len = header.record_len();
            self.next_in_datagram = start + record_len;
            let number = header.record_number();
            if number.epoch() != self.epoch {
                stats::count(Counter::RxOtherEpoch);
                continue;
            }
            if self.window.check(number.sequence()).is_err() {
                stats::count(Counter::RxReplayed);
                continue;
            }
            let payload_len = record_len - DTLS_HEADER_LEN;
            let prefix = prefix.get(..prefix_len).ok_or(EINVAL)?;
            let source_offset = start + prefix_len;
            let zero_copy_len = self.direct_len(header.content_type(), payload_len);
            let mut delivered = None;
            if let (Some(direct), Some(len)) = (direct.as_mut(), zero_copy_len) {
                if let Some(mut pages) = UserPages::extract(direct.dest, len)? {
                    let datagram = self.datagram.as_ref().ok_or(EINVAL)?;
                    let opened = self.cipher.open(
                        RecordNumber::Dtls(number),
                        header.content_type(),
                        prefix,
                        payload_len,
                        Ciphertext::Datagram(datagram, source_offset),
                        PlaintextDest::User(&mut pages),
                    );
                    match opened {
                        Ok(Opened::Record(_, len)) => delivered = Some(len),
                        // Forged or corrupted: dropped, and the window does not move.
                        Ok(Opened::NotPlainData) | Err(_) => {
                            pages.give_back(direct.dest);
                            stats::count(Counter::RxDecryptErrors);
                            continue;
                        }
                    }
                }
            }
            if asynchronous
                && delivered.is_none()
                && header.content_type() == ContentType::ApplicationData
                && self.cipher.is_async()
            {
                // Decrypt-ahead with an asynchronous transform: the record goes in flight; the
                // window is marked once it authenticated (`settle`).
                let datagram = self.datagram.take().ok_or(EINVAL)?;
                let source = Ciphertext::Datagram(&datagram, source_offset);
                let started =
                    self.open_async(RecordNumber::Dtls(number), prefix, payload_len, source);
                self.datagram = Some(datagram);
                if started.is_ok() {
                    return Ok(NextRecord::Opened);
                }
            }
            if delivered.is_none() {
                let datagram = self.datagram.take().ok_or(EINVAL)?;
                let opened = self.open_into_chunk(
                    RecordNumber::Dtls(number),
                    header.content_type(),
                    prefix,
                    payload_len,
                    Ciphertext::Datagram(&datagram, source_offset),
                );
                self.datagram = Some(datagram);
                if opened.is_err() {
                    // Forged or corrupted: dropped, and the window does not move.
                    stats::count(Counter::RxDecryptErrors);
                    continue;
                }
            }
            if self.window.mark(number.sequence()).is_err() {
                // Not reachable under the lock after `check`, but the contract is to drop.
                stats::count(Counter::RxReplayed);
                if delivered.is_none() {
                    self.ready.pop();
                }
                continue;
            }
            if let Some(len) = delivered {
                stats::count_record_in(ContentType::ApplicationData, len);
                stats::count(Counter::RxZeroCopyRecords);
                return Ok(NextRecord::Delivered(len));
            }
            return Ok(NextRecord::Opened);
        }
    }

    /// Skips a DTLS record the header parser rejects, given its first bytes. When its length
    /// field still frames it inside the datagram (an epoch-0 plaintext record the peer
    /// retransmits, such as a one-byte change_cipher_spec, or a record over the length limit),
    /// only that record is dropped; otherwise the rest of the datagram.
    fn skip_unparsable_record(&mut self, start: usize, head: &[u8], rest: usize) {
        let field = |at: usize| {
            head.get(at..at + 2)
                .and_then(|bytes| bytes.try_into().ok())
                .map(u16::from_be_bytes)
        };
        // DTLS header: type (1), version (2), epoch (2), sequence number (6), length (2).
        let framed = field(11)
            .map(|len| DTLS_HEADER_LEN + usize::from(len))
            .filter(|&len| len <= rest);
        match (framed, field(3)) {
            (Some(len), Some(epoch)) if epoch != self.epoch => {
                stats::count(Counter::RxOtherEpoch);
                self.next_in_datagram = start + len;
            }
            (Some(len), _) => {
                stats::count(Counter::RxMalformed);
                self.next_in_datagram = start + len;
            }
            (None, _) => {
                stats::count(Counter::RxMalformed);
                self.next_in_datagram = start + rest;
            }
        }
    }
}

impl Drop for Rx {
    fn drop(&mut self) {
        crate::crypto::wipe(&mut self.assembly);
    }
}

/// KUnit suite `af_ktls_rx`: the receive side's state that needs no socket.
#[cfg(ktls_kunit)]
#[kernel::macros::kunit_tests(af_ktls_rx)]
mod tests {
    use super::{
        PollWord,
        RxPoll, //
    };

    /// Every field survives the packing `poll` reads, the generation wrapping at 29 bits.
    #[test]
    fn poll_state_round_trips() {
        let word = PollWord::new();
        assert_eq!(word.load(), RxPoll::default());
        for (ready, failed, key_update_pending) in [
            (true, false, false),
            (false, true, false),
            (false, false, true),
            (true, true, true),
        ] {
            for (need, generation) in [(0, 0), (16_406, 1), (u32::MAX, (1 << 29) - 1)] {
                let state = RxPoll {
                    ready,
                    failed,
                    key_update_pending,
                    need,
                    generation,
                };
                word.store(state);
                assert_eq!(word.load(), state);
            }
        }
        let wrapped = RxPoll {
            generation: 1 << 29,
            ..RxPoll::default()
        };
        word.store(wrapped);
        assert_eq!(word.load().generation, 0);
        word.clear();
        assert_eq!(word.load(), RxPoll::default());
    }
}
