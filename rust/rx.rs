// SPDX-License-Identifier: GPL-2.0

//! The receive path: records are read from the bound socket into one buffer (allocated with the
//! keys), opened in place and handed to `recvmsg`.
//!
//! TLS reassembles records from the TCP stream and keeps a partly read record across calls, so
//! no byte is lost or reordered. DTLS reads whole datagrams, which may hold several records;
//! malformed, replayed, too old, foreign-epoch and forged records are dropped and counted
//! (RFC 6347 §4.1.2.7), and the replay window moves only for records that authenticated.

use core::ops::Range;

use kernel::{
    bindings,
    iov::IovIterDest,
    prelude::*,
    sync::Arc, //
};

use crate::{
    bound::BoundSocket,
    cipher::{
        record_error,
        RecordCipher,
        RecordNumber,
        Sequence, //
    },
    keys::DirectionKeys,
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
pub(crate) struct Received {
    /// Plaintext bytes copied to the caller.
    pub(crate) len: usize,
    /// DTLS: the record was longer than the caller's buffer and its rest was discarded.
    pub(crate) truncated: bool,
}

/// The receiving half of a socket with keys installed.
pub(crate) struct Rx {
    bound: Arc<BoundSocket>,
    cipher: RecordCipher,
    datagram: bool,
    /// TLS: the number of the next record.
    sequence: Sequence,
    /// DTLS: the epoch of the keys and the replay window of that epoch.
    epoch: u16,
    window: ReplayWindow,
    buf: KVec<u8>,
    /// TLS: bytes of the record being assembled; DTLS: length of the datagram in `buf`.
    filled: usize,
    /// DTLS: where the next record of the datagram starts.
    next_in_datagram: usize,
    ready: Option<Ready>,
    /// TLS: the error that broke the stream; every later call reports it (as mainline does).
    failed: Option<Error>,
}

impl Rx {
    /// Sets up receiving with `keys`; allocates everything the records need.
    pub(crate) fn new(
        bound: Arc<BoundSocket>,
        protection: RecordProtection,
        keys: &DirectionKeys,
    ) -> Result<Self> {
        let rec_seq = keys.rec_seq();
        let first = DtlsRecordNumber::from_be_bytes(rec_seq);
        // DTLS: records before `rec_seq` were the library's; treat them as received.
        let window = match first.sequence().checked_sub(1) {
            Some(last) => ReplayWindow::after(last).map_err(record_error)?,
            None => ReplayWindow::new(),
        };
        Ok(Self {
            bound,
            cipher: RecordCipher::new(protection, keys)?,
            datagram: protection.version().is_datagram(),
            sequence: Sequence::from_rec_seq(protection, rec_seq),
            epoch: first.epoch(),
            window,
            buf: KVec::from_elem(
                0u8,
                protection.header_len() + protection.version().max_ciphertext_len(),
                GFP_KERNEL,
            )?,
            filled: 0,
            next_in_datagram: 0,
            ready: None,
            failed: None,
        })
    }

    /// Whether a record is opened and waiting to be read.
    pub(crate) fn has_ready(&self) -> bool {
        self.ready.is_some()
    }

    /// Copies plaintext into `dest` (`MSG_PEEK`, `MSG_DONTWAIT`, `MSG_WAITALL` honoured),
    /// waiting at most `timeout` jiffies (the `AF_KTLS` socket's `SO_RCVTIMEO`) for records.
    ///
    /// `report_type` is told the content type of the first record the call returns and says
    /// whether it reached the caller (a `KTLS_GET_RECORD_TYPE` cmsg). Consecutive data records
    /// are merged; types never mix in one call; a non-data record is returned alone, and fails
    /// with `EIO`, staying queued, when its type could not be reported.
    pub(crate) fn recv(
        &mut self,
        dest: &mut IovIterDest<'_>,
        flags: u32,
        mut timeout: c_long,
        report_type: &mut dyn FnMut(ContentType) -> bool,
    ) -> Result<Received> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let peek = flags & bindings::MSG_PEEK != 0;
        let waitall = flags & bindings::MSG_WAITALL != 0;
        let nonblock = flags & bindings::MSG_DONTWAIT != 0;
        let mut received = Received {
            len: 0,
            truncated: false,
        };
        let mut reported: Option<ContentType> = None;
        loop {
            if self.ready.is_none() {
                let block = !nonblock && (received.len == 0 || (waitall && !dest.is_empty()));
                match self.next_record(block, &mut timeout) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(_) if received.len > 0 => break,
                    Err(err) => return Err(err),
                }
            }
            let Some(mut ready) = self.ready.clone() else {
                break;
            };
            match reported {
                None => {
                    let delivered = report_type(ready.content_type);
                    if ready.content_type != ContentType::ApplicationData && !delivered {
                        return Err(EIO);
                    }
                    reported = Some(ready.content_type);
                }
                Some(content_type) if content_type != ready.content_type => break,
                Some(_) => {}
            }
            let bytes = self.buf.get(ready.plaintext.clone()).ok_or(EINVAL)?;
            let copied = dest.copy_to_iter(bytes);
            if copied < bytes.len() && !dest.is_empty() {
                // The user buffer faulted.
                return if received.len > 0 { Ok(received) } else { Err(EFAULT) };
            }
            received.len += copied;
            if peek {
                break;
            }
            ready.plaintext.start += copied;
            if self.datagram && !ready.plaintext.is_empty() {
                // Datagram semantics: the rest of the record is discarded, as UDP does.
                received.truncated = true;
                ready.plaintext.start = ready.plaintext.end;
            }
            let finished = ready.plaintext.is_empty();
            self.ready = if finished { None } else { Some(ready.clone()) };
            if ready.content_type != ContentType::ApplicationData
                || dest.is_empty()
                || self.datagram
            {
                break;
            }
        }
        Ok(received)
    }

    /// Whether a `recv` would return at once: a record (TLS: a whole one) or an error is
    /// waiting. For `poll`, which must not report `POLLIN` for part of a record.
    pub(crate) fn record_waiting(&mut self) -> bool {
        if self.ready.is_some() || self.failed.is_some() {
            return true;
        }
        if self.datagram {
            // A datagram is there or not; the bound socket's mask says which.
            return true;
        }
        let protection = self.cipher.protection();
        let header_len = protection.header_len();
        let queued = self.bound.tcp_queued();
        let mut header = [0u8; DTLS_HEADER_LEN];
        let (Some(have), Some(want)) = (
            self.buf.get(..self.filled.min(header_len)),
            header.get_mut(..header_len),
        ) else {
            return false;
        };
        let have_len = have.len();
        if let Some(part) = want.get_mut(..have_len) {
            part.copy_from_slice(have);
        }
        if have_len < header_len {
            // Peek at the rest of the header, which is at the front of the TCP queue.
            let Some(rest) = want.get_mut(have_len..) else {
                return false;
            };
            let peek = bindings::MSG_PEEK | bindings::MSG_DONTWAIT;
            match self.bound.recv(rest, peek) {
                Ok((read, _)) if read == rest.len() => {}
                _ => return false,
            }
        }
        match TlsHeader::parse(protection, want) {
            Ok(parsed) => queued >= parsed.record_len().saturating_sub(self.filled),
            // The error is what the next `recv` reports.
            Err(_) => true,
        }
    }

    /// Reads and opens the next record. `Ok(false)` at the end of the TCP stream.
    fn next_record(&mut self, block: bool, timeout: &mut c_long) -> Result<bool> {
        if self.datagram {
            self.next_datagram_record(block, timeout)
        } else {
            self.next_stream_record(block, timeout)
        }
    }

    /// Receives from the bound socket without its own blocking, waiting on it instead with the
    /// `AF_KTLS` socket's timeout.
    fn receive(
        bound: &BoundSocket,
        buf: &mut [u8],
        block: bool,
        timeout: &mut c_long,
    ) -> Result<(usize, bool)> {
        loop {
            match bound.recv(buf, bindings::MSG_DONTWAIT) {
                Err(err) if err == EAGAIN && block => bound.wait_readable(timeout)?,
                result => return result,
            }
        }
    }

    fn next_stream_record(&mut self, block: bool, timeout: &mut c_long) -> Result<bool> {
        let protection = self.cipher.protection();
        let header_len = protection.header_len();
        if !self.fill_to(header_len, block, timeout)? {
            return self.end_of_stream();
        }
        let parsed = TlsHeader::parse(protection, self.buf.get(..header_len).ok_or(EINVAL)?);
        let header = parsed.map_err(|err| self.fail(record_error(err)))?;
        let record_len = header.record_len();
        if !self.fill_to(record_len, block, timeout)? {
            return self.end_of_stream();
        }
        let number = self.sequence.take().map_err(|err| self.fail(err))?;
        let record = self.buf.get_mut(..record_len).ok_or(EINVAL)?;
        let opened = self.cipher.open(number, header.content_type(), record);
        let (content_type, plaintext) = opened.map_err(|err| {
            stats::count(Counter::RxDecryptErrors);
            self.fail(err)
        })?;
        self.filled = 0;
        stats::count_record_in(content_type, plaintext.len());
        self.ready = Some(Ready {
            content_type,
            plaintext,
        });
        Ok(true)
    }

    /// Reads from the stream until `buf` holds `len` bytes; `Ok(false)` at its end.
    fn fill_to(&mut self, len: usize, block: bool, timeout: &mut c_long) -> Result<bool> {
        while self.filled < len {
            let space = self.buf.get_mut(self.filled..len).ok_or(EINVAL)?;
            let (read, _) = Self::receive(&self.bound, space, block, timeout)?;
            if read == 0 {
                return Ok(false);
            }
            self.filled += read;
        }
        Ok(true)
    }

    /// The TCP stream ended: cleanly between records, or inside one (`EBADMSG`).
    fn end_of_stream(&mut self) -> Result<bool> {
        if self.filled == 0 {
            Ok(false)
        } else {
            Err(self.fail(EBADMSG))
        }
    }

    fn fail(&mut self, err: Error) -> Error {
        self.failed = Some(err);
        err
    }

    fn next_datagram_record(&mut self, block: bool, timeout: &mut c_long) -> Result<bool> {
        let protection = self.cipher.protection();
        loop {
            if self.next_in_datagram >= self.filled {
                let (len, truncated) = Self::receive(&self.bound, &mut self.buf, block, timeout)?;
                self.filled = if truncated { 0 } else { len };
                self.next_in_datagram = 0;
                if truncated {
                    stats::count(Counter::RxMalformed);
                    continue;
                }
            }
            let start = self.next_in_datagram;
            let rest = self.buf.get(start..self.filled).ok_or(EINVAL)?;
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
            let record = self.buf.get_mut(start..end).ok_or(EINVAL)?;
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
            self.ready = Some(Ready {
                content_type,
                plaintext: start + plaintext.start..start + plaintext.end,
            });
            return Ok(true);
        }
    }
}

impl Rx {
    /// Skips a DTLS record the header parser rejects. When its length field still frames it
    /// inside the datagram (an epoch-0 plaintext record the peer retransmits, such as a one-byte
    /// change_cipher_spec), only that record is dropped; otherwise the rest of the datagram.
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
