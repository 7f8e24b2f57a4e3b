// SPDX-License-Identifier: GPL-2.0

//! The send path: plaintext from `sendmsg` is framed into records, each sealed into a page chunk
//! of its own and handed to the bound socket by reference (`MSG_SPLICE_PAGES`), not copied
//! (records under 2 KiB are copied into the socket instead: cheaper than page references).
//!
//! - `send`, `write`: the caller's bytes are copied once, into the record's chunk, and sealed in
//!   place.
//! - `sendfile`, `splice` (`MSG_SPLICE_PAGES`): the record keeps references on the source's pages
//!   and is sealed from them into its chunk: the plaintext is never copied.
//!
//! A sealed chunk is never written again: the bound socket holds references on its page until
//! the peer acknowledges it (TCP retransmits the very ciphertext it was given), and the page
//! cache ([`PageFrag`]) cuts a page again only once nobody else references it. Because the
//! kernel encrypts once, a file that changes during `sendfile` can change what is sent, but
//! never makes an inconsistent record.
//!
//! Nothing here blocks: the bound socket is always written with `MSG_DONTWAIT`, and when it takes
//! no more a step returns [`SendStep::WouldBlock`]; the socket layer waits for room without
//! holding any lock and calls again with the same [`SendProgress`]. A sealed record the bound
//! socket has not taken all of stays pending and is sent first by the next step, the next call,
//! or the flush work when the bound socket has room again.

use core::ops::Range;

use kernel::{
    bindings,
    iov::IovIterSource,
    prelude::*,
    sync::Arc, //
};

use crate::{
    cipher::{
        Plaintext,
        RecordCipher,
        Sequence, //
    },
    keys::DirectionKeys,
    net::inet::InetSocket,
    pages::{
        take_source_pages,
        PageChunk,
        PageFrag,
        PageSegment,
        SharedChunk, //
    },
    record::{
        header::ContentType,
        protection::{
            RecordProtection,
            MAX_PLAINTEXT_LEN, //
        },
    },
    stats::{
        self,
        Counter, //
    },
};

/// The most page segments a spliced record holds; a record that would need more is sealed
/// early (records need not be full).
const MAX_SEGMENTS: usize = 32;

/// The smallest room worth opening a record in: a page chunk with less room left is skipped.
const MIN_RECORD_ROOM: usize = 4096;

/// The state of one `sendmsg` call, kept across the waits between its steps.
#[derive(Default)]
pub(crate) struct SendProgress {
    /// Plaintext bytes taken into records.
    pub(crate) taken: usize,
    /// Of those, the bytes in the record still open.
    taken_into_open: usize,
    /// The call's last record is sealed: once it is flushed, the call is complete.
    sealed_last: bool,
}

/// How a step of [`Tx::send`] ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendStep {
    /// The call is complete: [`SendProgress::taken`] bytes were taken.
    Done,
    /// The bound socket takes no more now.
    WouldBlock,
}

/// The record being filled.
struct OpenRecord {
    content_type: ContentType,
    /// Room for the whole record: header, explicit nonce, plaintext (when copied), content type,
    /// tag.
    chunk: PageChunk,
    /// Plaintext bytes in the record so far.
    len: usize,
    /// The plaintext is in `Tx::segments` (spliced), not in the chunk (copied).
    spliced: bool,
}

/// The sending half of a socket with keys installed.
///
/// # Invariants
///
/// While `pending` holds a record, no record is open and `segments` is empty unless the open
/// record is spliced.
pub(crate) struct Tx {
    bound: Arc<InetSocket>,
    cipher: RecordCipher,
    keys: DirectionKeys,
    sequence: Sequence,
    /// Largest plaintext per record.
    max_payload: usize,
    /// Where record chunks come from.
    frag: PageFrag,
    open: Option<OpenRecord>,
    /// The open record's spliced plaintext; its capacity is allocated with the keys.
    segments: KVec<PageSegment>,
    /// A sealed record and the part of it the bound socket has not taken yet.
    pending: Option<(SharedChunk, Range<usize>)>,
    /// Bytes the bound socket has taken, all told.
    sent_total: u64,
}

impl Tx {
    /// Sets up sending with `keys`; allocates everything the records need but their pages.
    pub(crate) fn new(
        bound: Arc<InetSocket>,
        protection: RecordProtection,
        keys: DirectionKeys,
        max_payload: usize,
    ) -> Result<Self> {
        Ok(Self {
            bound,
            cipher: RecordCipher::new(protection, &keys)?,
            sequence: Sequence::from_rec_seq(protection, keys.rec_seq()),
            keys,
            max_payload: max_payload.clamp(1, MAX_PLAINTEXT_LEN),
            frag: PageFrag::new(),
            open: None,
            segments: KVec::with_capacity(MAX_SEGMENTS, GFP_KERNEL)?,
            pending: None,
            sent_total: 0,
        })
    }

    /// Changes to the next keys (`KTLS_TX` set again, see [`DirectionKeys::check_next`]). An
    /// open record is sealed with the current keys first; sealed records waiting for the bound
    /// socket keep their ciphertext. Nothing changes if the next keys cannot be set up.
    pub(crate) fn rekey(&mut self, keys: DirectionKeys) -> Result {
        let protection = self.cipher.protection();
        self.keys.check_next(protection, &keys)?;
        let cipher = RecordCipher::new(protection, &keys)?;
        if self.open.is_some() {
            self.seal_open()?;
        }
        self.cipher = cipher;
        self.sequence = Sequence::from_rec_seq(protection, keys.rec_seq());
        self.keys = keys;
        Ok(())
    }

    /// Whether nothing is buffered: no open record, nothing pending.
    pub(crate) fn is_idle(&self) -> bool {
        self.open.is_none() && self.pending.is_none()
    }

    /// The bound socket records go to.
    pub(crate) fn bound(&self) -> &Arc<InetSocket> {
        &self.bound
    }

    /// Bytes the bound socket has taken, all told: it changes whenever a step sends something.
    pub(crate) fn sent_total(&self) -> u64 {
        self.sent_total
    }

    /// Whether a record is open (`MSG_MORE`).
    pub(crate) fn has_open_record(&self) -> bool {
        self.open.is_some()
    }

    /// Whether sealed bytes wait for the bound socket.
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Changes the largest plaintext per record; `EBUSY` while a record is open.
    pub(crate) fn set_max_payload(&mut self, max_payload: usize) -> Result {
        if self.open.is_some() {
            return Err(EBUSY);
        }
        self.max_payload = max_payload.clamp(1, MAX_PLAINTEXT_LEN);
        Ok(())
    }

    /// The keys as set, with `rec_seq` the number of the next record and, for TLS/DTLS 1.2
    /// AES-GCM, `iv` its explicit nonce, for `getsockopt`.
    pub(crate) fn current_keys(&self, out: &mut [u8]) -> Result<usize> {
        let iv = self
            .sequence
            .peek()
            .and_then(|number| self.cipher.explicit_nonce(number));
        self.keys
            .write_current(out, self.sequence.next_rec_seq(), iv)
    }

    /// One step of `sendmsg`: takes what `source` holds into records of `content_type` and sends
    /// them without waiting. `MSG_SPLICE_PAGES` takes the source's pages by reference.
    ///
    /// `MSG_MORE` keeps the last record open for the next call. Bytes are taken once they are in
    /// a record; a sealed record the bound socket cannot take at once stays pending.
    pub(crate) fn send(
        &mut self,
        source: &mut IovIterSource<'_>,
        content_type: ContentType,
        flags: u32,
        progress: &mut SendProgress,
    ) -> Result<SendStep> {
        let more = flags & bindings::MSG_MORE != 0;
        let splice = flags & bindings::MSG_SPLICE_PAGES != 0;
        let send_flags = (flags & bindings::MSG_NOSIGNAL) | bindings::MSG_DONTWAIT;
        if !self.flush(send_flags)? {
            return Ok(SendStep::WouldBlock);
        }
        if progress.sealed_last {
            return Ok(SendStep::Done);
        }
        // A record carries one content type, and its plaintext is copied or spliced, not both.
        if matches!(&self.open, Some(open) if open.len == 0 && open.content_type != content_type) {
            self.drop_open();
        }
        if matches!(&self.open, Some(open) if open.content_type != content_type
            || open.spliced != splice)
        {
            self.seal_open_or_drop(progress)?;
            if !self.flush(send_flags)? {
                return Ok(SendStep::WouldBlock);
            }
        }
        loop {
            let open_len = self.open_record(content_type, splice, source.len())?;
            let room = self.record_room().saturating_sub(open_len);
            let added = if splice {
                self.take_spliced(source, room)?
            } else {
                self.take_copied(source, open_len, room)?
            };
            if added == 0 && !source.is_empty() && room > 0 && !self.segments_full(splice) {
                return self.user_fault(progress, more, send_flags);
            }
            let open_len = open_len + added;
            if let Some(open) = self.open.as_mut() {
                open.len = open_len;
            }
            progress.taken += added;
            progress.taken_into_open += added;
            let full = open_len == self.record_room() || self.segments_full(splice);
            let last = source.is_empty() && !more;
            // An empty data send makes no record; empty control records are valid (alerts).
            let worth_a_record = open_len > 0 || content_type != ContentType::ApplicationData;
            if full || (last && worth_a_record) {
                self.seal_open_or_drop(progress)?;
                progress.sealed_last = last;
                if !self.flush(send_flags)? {
                    return Ok(SendStep::WouldBlock);
                }
            } else if last {
                self.drop_open();
            }
            if source.is_empty() {
                return Ok(SendStep::Done);
            }
        }
    }

    /// Makes sure a record of `content_type` is open (copied or `spliced`), with room for
    /// `wanted` more bytes of plaintext if the payload limit allows; returns its length.
    fn open_record(
        &mut self,
        content_type: ContentType,
        spliced: bool,
        wanted: usize,
    ) -> Result<usize> {
        if let Some(open) = self.open.as_mut() {
            open.spliced = spliced;
            return Ok(open.len);
        }
        let overhead = self.cipher.protection().overhead();
        let full = overhead + self.max_payload;
        // What is left of the current page serves if it holds what this call has (small sends
        // share pages); otherwise a full record gets fresh room, so records stay whole.
        let min = overhead + self.max_payload.min(wanted.max(MIN_RECORD_ROOM));
        let pages_before = self.frag.allocated();
        let chunk = self.frag.alloc(min, full).or_else(|_| {
            // Pages are short: a record as small as one byte is still a record.
            self.frag.alloc(overhead + 1, full)
        })?;
        stats::add(
            Counter::TxAllocs,
            (self.frag.allocated() - pages_before) as usize,
        );
        self.open = Some(OpenRecord {
            content_type,
            chunk,
            len: 0,
            spliced,
        });
        Ok(0)
    }

    /// How much plaintext the open record can hold: the payload limit, or less if its chunk is
    /// smaller.
    fn record_room(&self) -> usize {
        let overhead = self.cipher.protection().overhead();
        match &self.open {
            Some(open) => open
                .chunk
                .len()
                .saturating_sub(overhead)
                .min(self.max_payload),
            None => self.max_payload,
        }
    }

    /// Whether a spliced record has no room for another segment.
    fn segments_full(&self, splice: bool) -> bool {
        splice && self.segments.len() == MAX_SEGMENTS
    }

    /// Copies up to `room` bytes of `source` into the open record after its `open_len` bytes.
    fn take_copied(
        &mut self,
        source: &mut IovIterSource<'_>,
        open_len: usize,
        room: usize,
    ) -> Result<usize> {
        let body = self.cipher.body_offset();
        let Some(open) = self.open.as_mut() else {
            return Ok(0);
        };
        let start = body + open_len;
        // INVARIANT-backed: `record_room` keeps `start + room` within the chunk.
        let space = open
            .chunk
            .as_mut_slice()
            .get_mut(start..start + room)
            .ok_or(EINVAL)?;
        let copied = source.copy_from_iter(space);
        stats::add(Counter::TxCopyBytes, copied);
        Ok(copied)
    }

    /// Takes up to `room` bytes of a splicing `source` into the open record by reference.
    fn take_spliced(&mut self, source: &mut IovIterSource<'_>, room: usize) -> Result<usize> {
        take_source_pages(source, room, &mut self.segments, MAX_SEGMENTS)
    }

    /// The user buffer faulted. No empty record is left open; without `MSG_MORE` what the call
    /// took is sealed and sent (now, or by the flush work), as if the buffer had ended there.
    fn user_fault(
        &mut self,
        progress: &mut SendProgress,
        more: bool,
        send_flags: u32,
    ) -> Result<SendStep> {
        if matches!(&self.open, Some(open) if open.len == 0) {
            self.drop_open();
        }
        if progress.taken == 0 {
            return Err(EFAULT);
        }
        if !more && self.open.is_some() {
            self.seal_open_or_drop(progress)?;
            progress.sealed_last = true;
        }
        // What the bound socket does not take now stays pending for the flush work.
        let _ = self.flush(send_flags);
        Ok(SendStep::Done)
    }

    /// Seals the open record now (`splice_eof`, the end of a `sendfile`) and sends what the
    /// bound socket takes without waiting; the rest goes out by the flush work.
    pub(crate) fn push_open(&mut self) -> Result {
        if self.pending.is_none() && self.open.as_ref().is_some_and(|open| open.len > 0) {
            self.seal_open()?;
        }
        self.flush(bindings::MSG_DONTWAIT | bindings::MSG_NOSIGNAL)
            .map(|_| ())
    }

    /// Best effort at close: seals an open record and sends what the bound socket takes without
    /// waiting.
    pub(crate) fn flush_on_close(&mut self) {
        if self.pending.is_none() && self.open.is_some() && self.seal_open().is_err() {
            return;
        }
        let _ = self.flush(bindings::MSG_DONTWAIT | bindings::MSG_NOSIGNAL);
    }

    /// Sends pending bytes without waiting: `Ok(true)` once none are left, `Ok(false)` when the
    /// bound socket takes no more now.
    pub(crate) fn flush_pending(&mut self) -> Result<bool> {
        self.flush(bindings::MSG_DONTWAIT | bindings::MSG_NOSIGNAL)
    }

    /// Drops the open record and its segments.
    fn drop_open(&mut self) {
        self.open = None;
        self.segments.clear();
    }

    /// Seals the open record into `pending`. A record that cannot be sealed (the sequence
    /// numbers are used up) is dropped, and what this call put into it is not counted as taken,
    /// as mainline does.
    fn seal_open_or_drop(&mut self, progress: &mut SendProgress) -> Result {
        let sealed = self.seal_open();
        if sealed.is_err() {
            self.drop_open();
            progress.taken = progress.taken.saturating_sub(progress.taken_into_open);
        }
        progress.taken_into_open = 0;
        sealed
    }

    /// Seals the open record into `pending`.
    fn seal_open(&mut self) -> Result {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let number = self.sequence.take()?;
        let plaintext = if open.spliced {
            Plaintext::Segments(&self.segments)
        } else {
            Plaintext::InRecord(open.len)
        };
        let sealed = self
            .cipher
            .seal(number, open.content_type, &mut open.chunk, plaintext);
        self.segments.clear();
        let record_len = sealed?;
        self.frag.trim(&mut open.chunk, record_len);
        stats::count_record_out(open.len);
        // INVARIANT: The record was open, so nothing was pending; it now is, and none is open.
        self.pending = Some((open.chunk.share(), 0..record_len));
        Ok(())
    }

    /// Sends `pending` with `flags` (which include `MSG_DONTWAIT`) until the bound socket has
    /// taken all of it (`Ok(true)`) or takes no more now (`Ok(false)`).
    fn flush(&mut self, flags: u32) -> Result<bool> {
        while let Some((chunk, range)) = self.pending.as_mut() {
            match self.bound.send_chunk(chunk, range.clone(), flags) {
                Ok(0) => return Ok(false),
                Ok(sent) => {
                    self.sent_total = self.sent_total.wrapping_add(sent as u64);
                    range.start = range.start.saturating_add(sent).min(range.end);
                    if range.start >= range.end {
                        self.pending = None;
                    }
                }
                Err(err) if err == EAGAIN => return Ok(false),
                Err(err) => return Err(err),
            }
        }
        Ok(true)
    }
}
