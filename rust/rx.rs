// SPDX-License-Identifier: GPL-2.0

//! The receive path: records are read from the bound socket into one buffer (allocated with the
//! keys), opened in place and handed to `recvmsg`.
//!
//! Nothing here blocks: when the bound socket has nothing more, a step returns
//! [`RecvStep::WouldBlock`] and the socket layer waits, without holding any lock, then calls again
//! with the same [`RecvProgress`].
//!
//! TLS reassembles records from the TCP stream and keeps a partly read record across calls, so
//! no byte is lost or reordered. A header is only read once all of it is queued, so that `poll`
//! can tell from the published [`RxPoll`] how many more bytes complete the record. DTLS reads whole
//! datagrams, which may hold several records; malformed, over-long, replayed, too old,
//! foreign-epoch and forged records are dropped and counted (RFC 6347 §4.1.2.7), and the replay
//! window moves only for records that authenticated.

use core::ops::Range;

use kernel::{
    bindings,
    iov::IovIterDest,
    prelude::*,
    sync::Arc, //
};

use crate::{
    cipher::{
        record_error,
        RecordCipher,
        RecordNumber,
        Sequence, //
    },
    keys::DirectionKeys,
    net::inet::InetSocket,
    record::{
        header::{
            ContentType,
            DtlsHeader,
            TlsHeader, //
        },
        protection::{
            RecordProtection,
            DTLS_HEADER_LEN, //
        },
        seq::DtlsRecordNumber,
        window::ReplayWindow,
    },
    stats::{
        self,
        Counter, //
    },
};

/// A record that was opened and waits, whole or in part, to be read.
#[derive(Clone)]
struct Ready {
    content_type: ContentType,
    /// Its (remaining) plaintext within `Rx::buf`.
    plaintext: Range<usize>,
}

/// What one `recvmsg` delivered.
#[derive(Default)]
pub(crate) struct Received {
    /// Plaintext bytes copied to the caller.
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
    /// TLS: how many more bytes the TCP queue must hold to complete the record being assembled;
    /// 0 when none is (the next record's header is then at the front of the TCP queue).
    pub(crate) need: u32,
    /// Changes whenever the reader takes bytes from the bound socket, so that `poll` can tell a
    /// snapshot taken while a reader raced it.
    pub(crate) generation: u32,
}

impl RxPoll {
    const READY: u64 = 1 << 0;
    const FAILED: u64 = 1 << 1;
    /// The generation lives in bits 2..32 (30 bits, wrapping); `need` in the upper half.
    const GENERATION_MASK: u32 = (1 << 30) - 1;

    /// Packs the state into one word, so that `poll` reads a consistent snapshot.
    pub(crate) fn pack(self) -> u64 {
        let mut word = (u64::from(self.need) << 32)
            | (u64::from(self.generation & Self::GENERATION_MASK) << 2);
        if self.ready {
            word |= Self::READY;
        }
        if self.failed {
            word |= Self::FAILED;
        }
        word
    }

    /// The state [`Self::pack`] packed.
    pub(crate) fn unpack(word: u64) -> Self {
        Self {
            ready: word & Self::READY != 0,
            failed: word & Self::FAILED != 0,
            need: (word >> 32) as u32,
            generation: ((word >> 2) as u32) & Self::GENERATION_MASK,
        }
    }
}

/// What a non-blocking read of the bound socket gave.
enum Input {
    /// Bytes (and, for a datagram, whether it was truncated).
    Data(usize, bool),
    /// The end of the input: a TCP stream ended, or the UDP socket was shut down for reading.
    Ended,
    /// Nothing now.
    WouldBlock,
}

/// What trying to open the next record gave.
enum NextRecord {
    /// `Rx::ready` holds a record.
    Opened,
    /// The stream ended cleanly between records (or the datagram socket was shut down).
    Ended,
    /// More input is needed.
    WouldBlock,
}

/// The receiving half of a socket with keys installed.
///
/// # Invariants
///
/// `filled <= buf.len()`; TLS: `filled` is 0 or at least the header length, unless the stream
/// ended inside a header; DTLS: `next_in_datagram <= filled` or the datagram is used up; `ready`
/// lies within `buf[..filled]`.
pub(crate) struct Rx {
    bound: Arc<InetSocket>,
    cipher: RecordCipher,
    keys: DirectionKeys,
    datagram: bool,
    /// TLS: the number of the next record.
    sequence: Sequence,
    /// DTLS: the epoch of the keys and the replay window of that epoch.
    epoch: u16,
    window: ReplayWindow,
    buf: KVec<u8>,
    /// TLS: bytes of the record being assembled; DTLS: length of the datagram in `buf`.
    filled: usize,
    /// TLS: the header of the record being assembled, once all of it is in.
    assembling: Option<TlsHeader>,
    /// DTLS: where the next record of the datagram starts.
    next_in_datagram: usize,
    ready: Option<Ready>,
    /// TLS: the error that broke the stream; every later call reports it (as mainline does).
    failed: Option<Error>,
    /// See [`RxPoll::generation`].
    generation: u32,
}

impl Rx {
    /// Sets up receiving with `keys`; allocates everything the records need.
    pub(crate) fn new(
        bound: Arc<InetSocket>,
        protection: RecordProtection,
        keys: DirectionKeys,
    ) -> Result<Self> {
        let rec_seq = keys.rec_seq();
        let first = DtlsRecordNumber::from_be_bytes(rec_seq);
        // DTLS: records before `rec_seq` were the library's; treat them as received.
        let window = match first.sequence().checked_sub(1) {
            Some(last) => ReplayWindow::after(last).map_err(record_error)?,
            None => ReplayWindow::new(),
        };
        Ok(Self {
            cipher: RecordCipher::new(protection, &keys)?,
            datagram: protection.version().is_datagram(),
            sequence: Sequence::from_rec_seq(protection, rec_seq),
            epoch: first.epoch(),
            window,
            // A datagram may be up to the largest UDP payload; a TLS record is at most this.
            buf: KVec::from_elem(
                0u8,
                protection.header_len() + protection.version().max_ciphertext_len(),
                GFP_KERNEL,
            )?,
            keys,
            bound,
            filled: 0,
            assembling: None,
            next_in_datagram: 0,
            ready: None,
            failed: None,
            generation: 0,
        })
    }

    /// The bound socket records come from.
    pub(crate) fn bound(&self) -> &Arc<InetSocket> {
        &self.bound
    }

    /// The keys as set, with `rec_seq` the number of the next record to arrive (DTLS: one past
    /// the highest accepted), for `getsockopt`.
    pub(crate) fn current_keys(&self, out: &mut [u8]) -> Result<usize> {
        let next = if self.datagram {
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
    pub(crate) fn poll_state(&self) -> RxPoll {
        let more_in_datagram = self.datagram && self.next_in_datagram < self.filled;
        let need = match self.assembling {
            Some(header) => header.record_len().saturating_sub(self.filled),
            // Only a stream that ended (or urgent data skipped by TCP) leaves part of a header.
            None => self
                .cipher
                .protection()
                .header_len()
                .saturating_sub(self.filled),
        };
        let need = if self.datagram || self.filled == 0 {
            0
        } else {
            need
        };
        RxPoll {
            ready: self.ready.is_some() || self.failed.is_some() || more_in_datagram,
            failed: self.failed.is_some(),
            need: u32::try_from(need).unwrap_or(u32::MAX),
            generation: self.generation,
        }
    }

    /// One step of `recvmsg`: copies plaintext into `dest` (`MSG_PEEK`, `MSG_WAITALL` honoured)
    /// from opened records and records it can open without waiting.
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
        let waitall = flags & bindings::MSG_WAITALL != 0;
        let real_len = flags & bindings::MSG_TRUNC != 0;
        let result = self.deliver(dest, peek, waitall, real_len, progress, report_type);
        if self.datagram && !peek && self.ready.is_none() {
            // The next record of the datagram is opened now, so that `poll` knows whether one
            // is really there (it may be dropped).
            self.open_in_datagram();
        }
        match result {
            // What was delivered stands; a TLS error is reported again by the next call.
            Err(_) if progress.received.len > 0 => Ok(RecvStep::Done),
            result => result,
        }
    }

    fn deliver(
        &mut self,
        dest: &mut IovIterDest<'_>,
        peek: bool,
        waitall: bool,
        real_len: bool,
        progress: &mut RecvProgress,
        report_type: &mut dyn FnMut(ContentType) -> bool,
    ) -> Result<RecvStep> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        loop {
            if self.ready.is_none() {
                match self.next_record(progress)? {
                    NextRecord::Opened => {}
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
            let Some(mut ready) = self.ready.clone() else {
                return Ok(RecvStep::Done);
            };
            match progress.reported {
                None => {
                    let delivered = report_type(ready.content_type);
                    if ready.content_type != ContentType::ApplicationData && !delivered {
                        return Err(EIO);
                    }
                    progress.reported = Some(ready.content_type);
                }
                Some(content_type) if content_type != ready.content_type => {
                    return Ok(RecvStep::Done);
                }
                Some(_) => {}
            }
            let bytes = self.buf.get(ready.plaintext.clone()).ok_or(EINVAL)?;
            let copied = dest.copy_to_iter(bytes);
            if copied < bytes.len() && !dest.is_empty() {
                // The user buffer faulted: what was copied counts, nothing is consumed.
                return if progress.received.len > 0 {
                    Ok(RecvStep::Done)
                } else {
                    Err(EFAULT)
                };
            }
            if self.datagram && copied < ready.plaintext.len() {
                // Datagram semantics: the caller's buffer was short, as UDP reports it; with
                // `MSG_TRUNC` the call returns the record's real length.
                progress.received.truncated = true;
                progress.received.len += if real_len {
                    ready.plaintext.len()
                } else {
                    copied
                };
            } else {
                progress.received.len += copied;
            }
            if peek {
                return Ok(RecvStep::Done);
            }
            ready.plaintext.start += copied;
            if self.datagram {
                // Datagram semantics: the rest of the record is discarded, as UDP does.
                ready.plaintext.start = ready.plaintext.end;
            }
            let finished = ready.plaintext.is_empty();
            self.ready = if finished { None } else { Some(ready.clone()) };
            if ready.content_type != ContentType::ApplicationData
                || dest.is_empty()
                || self.datagram
            {
                return Ok(RecvStep::Done);
            }
        }
    }

    /// Reads and opens the next record without waiting.
    fn next_record(&mut self, progress: &mut RecvProgress) -> Result<NextRecord> {
        if self.datagram {
            self.next_datagram_record(progress)
        } else {
            self.next_stream_record(progress)
        }
    }

    /// Reads from the bound socket without blocking in it.
    fn receive(
        bound: &InetSocket,
        buf: &mut [u8],
        generation: &mut u32,
        progress: &mut RecvProgress,
    ) -> Result<Input> {
        match bound.recv(buf, bindings::MSG_DONTWAIT) {
            Ok((len, truncated)) => {
                *generation = generation.wrapping_add(1);
                progress.consumed = true;
                Ok(Input::Data(len, truncated))
            }
            // A UDP socket shut down for reading has nothing more, ever; recv says EAGAIN.
            Err(err) if err == EAGAIN && bound.input_ended() => Ok(Input::Ended),
            Err(err) if err == EAGAIN => Ok(Input::WouldBlock),
            Err(err) => {
                progress.consumed = true;
                Err(err)
            }
        }
    }

    fn next_stream_record(&mut self, progress: &mut RecvProgress) -> Result<NextRecord> {
        let protection = self.cipher.protection();
        let header_len = protection.header_len();
        let header = match self.assembling {
            Some(header) => header,
            None => {
                // The header is read only once all of it is there (or the stream ended or
                // failed), so a partly assembled record always knows its length.
                let missing = header_len.saturating_sub(self.filled);
                if self.bound.tcp_queued() < missing
                    && !self.bound.input_ended()
                    && !self.bound.error_pending()
                {
                    return Ok(NextRecord::WouldBlock);
                }
                match self.fill_to(header_len, progress)? {
                    NextRecord::Opened => {}
                    other => return Ok(other),
                }
                let parsed =
                    TlsHeader::parse(protection, self.buf.get(..header_len).ok_or(EINVAL)?);
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
        let record = self.buf.get_mut(..record_len).ok_or(EINVAL)?;
        let opened = self.cipher.open(number, header.content_type(), record);
        let (content_type, plaintext) = opened.map_err(|err| {
            stats::count(Counter::RxDecryptErrors);
            self.fail(err)
        })?;
        self.filled = 0;
        self.assembling = None;
        stats::count_record_in(content_type, plaintext.len());
        // INVARIANT: The plaintext lies within the record just read.
        self.ready = Some(Ready {
            content_type,
            plaintext,
        });
        Ok(NextRecord::Opened)
    }

    /// Reads from the stream until `buf` holds `len` bytes: `Opened` once it does.
    fn fill_to(&mut self, len: usize, progress: &mut RecvProgress) -> Result<NextRecord> {
        while self.filled < len {
            let space = self.buf.get_mut(self.filled..len).ok_or(EINVAL)?;
            match Self::receive(&self.bound, space, &mut self.generation, progress)? {
                Input::Data(0, _) | Input::Ended => return self.end_of_stream(),
                Input::Data(read, _) => self.filled += read,
                Input::WouldBlock => return Ok(NextRecord::WouldBlock),
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

    fn next_datagram_record(&mut self, progress: &mut RecvProgress) -> Result<NextRecord> {
        loop {
            if self.open_in_datagram() {
                return Ok(NextRecord::Opened);
            }
            let input = Self::receive(&self.bound, &mut self.buf, &mut self.generation, progress)?;
            let (len, truncated) = match input {
                Input::Data(len, truncated) => (len, truncated),
                Input::Ended => return Ok(NextRecord::Ended),
                Input::WouldBlock => return Ok(NextRecord::WouldBlock),
            };
            self.next_in_datagram = 0;
            self.filled = if truncated { 0 } else { len };
            if truncated {
                stats::count(Counter::RxMalformed);
            }
        }
    }

    /// Opens the next record of the datagram in `buf`, dropping (and counting) those that are
    /// malformed, replayed, of another epoch or forged. Whether a record is now ready.
    fn open_in_datagram(&mut self) -> bool {
        let protection = self.cipher.protection();
        while self.ready.is_none() && self.next_in_datagram < self.filled {
            let start = self.next_in_datagram;
            let Some(rest) = self.buf.get(start..self.filled) else {
                self.next_in_datagram = self.filled;
                break;
            };
            let header = match DtlsHeader::parse(protection, rest) {
                Ok(header) if header.record_len() <= rest.len() => header,
                _ => {
                    self.skip_unparsable_record(start);
                    continue;
                }
            };
            let end = start + header.record_len();
            self.next_in_datagram = end;
            let number = header.record_number();
            if number.epoch() != self.epoch {
                stats::count(Counter::RxOtherEpoch);
                continue;
            }
            if self.window.check(number.sequence()).is_err() {
                stats::count(Counter::RxReplayed);
                continue;
            }
            let Some(record) = self.buf.get_mut(start..end) else {
                continue;
            };
            let Ok((content_type, plaintext)) =
                self.cipher
                    .open(RecordNumber::Dtls(number), header.content_type(), record)
            else {
                // Forged or corrupted: dropped, and the window does not move.
                stats::count(Counter::RxDecryptErrors);
                continue;
            };
            if self.window.mark(number.sequence()).is_err() {
                // Not reachable under the lock after `check`, but the contract is to drop.
                stats::count(Counter::RxReplayed);
                continue;
            }
            stats::count_record_in(content_type, plaintext.len());
            // INVARIANT: The plaintext lies within the record, within the datagram.
            self.ready = Some(Ready {
                content_type,
                plaintext: start + plaintext.start..start + plaintext.end,
            });
        }
        self.ready.is_some()
    }

    /// Skips a DTLS record the header parser rejects. When its length field still frames it
    /// inside the datagram (an epoch-0 plaintext record the peer retransmits, such as a one-byte
    /// change_cipher_spec, or a record over the length limit), only that record is dropped;
    /// otherwise the rest of the datagram.
    fn skip_unparsable_record(&mut self, start: usize) {
        let rest = self.buf.get(start..self.filled).unwrap_or(&[]);
        let field = |at: usize| {
            rest.get(at..at + 2)
                .and_then(|bytes| bytes.try_into().ok())
                .map(u16::from_be_bytes)
        };
        // DTLS header: type (1), version (2), epoch (2), sequence number (6), length (2).
        let framed = field(11)
            .map(|len| DTLS_HEADER_LEN + usize::from(len))
            .filter(|&len| len <= rest.len());
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
                self.next_in_datagram = self.filled;
            }
        }
    }
}

impl Drop for Rx {
    fn drop(&mut self) {
        crate::crypto::wipe(&mut self.buf);
    }
}
