// SPDX-License-Identifier: GPL-2.0

//! The send path: plaintext from `sendmsg` is framed into records, sealed in place and sent on
//! the bound socket. One buffer, allocated with the keys, holds the record being built.
//!
//! Nothing here blocks: the bound socket is always written with `MSG_DONTWAIT`, and when it takes
//! no more a step returns [`SendStep::WouldBlock`]; the socket layer waits for room without
//! holding any lock and calls again with the same [`SendProgress`]. Sealed bytes the bound socket
//! has not taken stay pending, and are sent first by the next step, the next call, or the flush
//! work when the bound socket has room again.

use core::ops::Range;

use kernel::{
    bindings,
    iov::IovIterSource,
    prelude::*,
    sync::Arc, //
};

use crate::{
    cipher::{
        RecordCipher,
        Sequence, //
    },
    keys::DirectionKeys,
    net::inet::InetSocket,
    record::{
        header::ContentType,
        protection::{
            RecordProtection,
            MAX_PLAINTEXT_LEN, //
        },
    },
};

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

/// The sending half of a socket with keys installed.
///
/// # Invariants
///
/// `pending` lies within `buf` and, while not empty, no record is open: the plaintext of an open
/// record and unsent ciphertext share `buf`.
pub(crate) struct Tx {
    bound: Arc<InetSocket>,
    cipher: RecordCipher,
    keys: DirectionKeys,
    sequence: Sequence,
    /// Largest plaintext per record.
    max_payload: usize,
    buf: KVec<u8>,
    /// The record being filled (`MSG_MORE` keeps it open across calls): its type and length.
    open: Option<(ContentType, usize)>,
    /// Sealed bytes in `buf` the bound socket has not taken yet.
    pending: Range<usize>,
    /// Bytes the bound socket has taken, all told.
    sent_total: u64,
}

impl Tx {
    /// Sets up sending with `keys`; allocates everything the records need.
    pub(crate) fn new(
        bound: Arc<InetSocket>,
        protection: RecordProtection,
        keys: DirectionKeys,
        max_payload: usize,
    ) -> Result<Self> {
        let cipher = RecordCipher::new(protection, &keys)?;
        // Room for the largest record, whatever the payload limit becomes later.
        let size = protection.overhead() + MAX_PLAINTEXT_LEN;
        Ok(Self {
            bound,
            cipher,
            sequence: Sequence::from_rec_seq(protection, keys.rec_seq()),
            keys,
            max_payload: max_payload.clamp(1, MAX_PLAINTEXT_LEN),
            buf: KVec::from_elem(0u8, size, GFP_KERNEL)?,
            open: None,
            pending: 0..0,
            sent_total: 0,
        })
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
        !self.pending.is_empty()
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
    /// them without waiting.
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
        let send_flags = (flags & bindings::MSG_NOSIGNAL) | bindings::MSG_DONTWAIT;
        if !self.flush(send_flags)? {
            return Ok(SendStep::WouldBlock);
        }
        if progress.sealed_last {
            return Ok(SendStep::Done);
        }
        // A record carries one content type.
        if matches!(self.open, Some((open_type, _)) if open_type != content_type) {
            self.seal_open_or_drop(progress)?;
            if !self.flush(send_flags)? {
                return Ok(SendStep::WouldBlock);
            }
        }
        let body = self.cipher.body_offset();
        loop {
            let (_, open_len) = *self.open.get_or_insert((content_type, 0));
            let room = self.max_payload.saturating_sub(open_len);
            let start = body + open_len;
            let space = self.buf.get_mut(start..start + room).ok_or(EINVAL)?;
            let copied = source.copy_from_iter(space);
            if copied == 0 && !source.is_empty() && room > 0 {
                return self.user_fault(progress, more, send_flags);
            }
            let open_len = open_len + copied;
            self.open = Some((content_type, open_len));
            progress.taken += copied;
            progress.taken_into_open += copied;
            let full = open_len == self.max_payload;
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
                self.open = None;
            }
            if source.is_empty() {
                return Ok(SendStep::Done);
            }
        }
    }

    /// The user buffer faulted. No empty record is left open; without `MSG_MORE` what the call
    /// took is sealed and sent (now, or by the flush work), as if the buffer had ended there.
    fn user_fault(
        &mut self,
        progress: &mut SendProgress,
        more: bool,
        send_flags: u32,
    ) -> Result<SendStep> {
        if matches!(self.open, Some((_, 0))) {
            self.open = None;
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

    /// Best effort at close: seals an open record and sends what the bound socket takes without
    /// waiting.
    pub(crate) fn flush_on_close(&mut self) {
        if self.pending.is_empty() && self.open.is_some() && self.seal_open().is_err() {
            return;
        }
        let _ = self.flush(bindings::MSG_DONTWAIT | bindings::MSG_NOSIGNAL);
    }

    /// Sends pending bytes without waiting: `Ok(true)` once none are left, `Ok(false)` when the
    /// bound socket takes no more now.
    pub(crate) fn flush_pending(&mut self) -> Result<bool> {
        self.flush(bindings::MSG_DONTWAIT | bindings::MSG_NOSIGNAL)
    }

    /// Seals the open record into `pending`. A record that cannot be sealed (the sequence
    /// numbers are used up) is dropped, and what this call put into it is not counted as taken,
    /// as mainline does.
    fn seal_open_or_drop(&mut self, progress: &mut SendProgress) -> Result {
        let sealed = self.seal_open();
        if sealed.is_err() {
            self.open = None;
            progress.taken = progress.taken.saturating_sub(progress.taken_into_open);
        }
        progress.taken_into_open = 0;
        sealed
    }

    /// Seals the open record into `pending`.
    fn seal_open(&mut self) -> Result {
        let Some((content_type, len)) = self.open else {
            return Ok(());
        };
        let number = self.sequence.take()?;
        let record_len = self.cipher.seal(number, content_type, &mut self.buf, len)?;
        crate::stats::count_record_out(len);
        // INVARIANT: The record was open, so nothing was pending; it now is, and none is open.
        self.open = None;
        self.pending = 0..record_len;
        Ok(())
    }

    /// Sends `pending` with `flags` (which include `MSG_DONTWAIT`) until the bound socket has
    /// taken all of it (`Ok(true)`) or takes no more now (`Ok(false)`).
    fn flush(&mut self, flags: u32) -> Result<bool> {
        while !self.pending.is_empty() {
            let bytes = self.buf.get(self.pending.clone()).ok_or(EINVAL)?;
            match self.bound.send(bytes, flags) {
                Ok(0) => return Ok(false),
                Ok(sent) => {
                    self.sent_total = self.sent_total.wrapping_add(sent as u64);
                    self.pending.start = self
                        .pending
                        .start
                        .saturating_add(sent)
                        .min(self.pending.end);
                }
                Err(err) if err == EAGAIN => return Ok(false),
                Err(err) => return Err(err),
            }
        }
        Ok(true)
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        crate::crypto::wipe(&mut self.buf);
    }
}
