// SPDX-License-Identifier: GPL-2.0

//! The send path: plaintext from `sendmsg` is framed into records, sealed in place and sent on
//! the bound socket. One buffer, allocated with the keys, holds the record being built.

use core::ops::Range;

use kernel::{
    bindings,
    iov::IovIterSource,
    prelude::*,
    sync::Arc, //
};

use crate::{
    bound::BoundSocket,
    cipher::{
        RecordCipher,
        Sequence, //
    },
    keys::DirectionKeys,
    record::{
        header::ContentType,
        protection::{
            RecordProtection,
            MAX_PLAINTEXT_LEN, //
        },
    },
};

/// Flags of `sendmsg` that are passed on to the bound socket.
const PASSED_FLAGS: u32 = bindings::MSG_DONTWAIT | bindings::MSG_NOSIGNAL;

/// The sending half of a socket with keys installed.
///
/// # Invariants
///
/// `pending` lies within `buf` and, while not empty, no record is open: the plaintext of an open
/// record and unsent ciphertext share `buf`.
pub(crate) struct Tx {
    bound: Arc<BoundSocket>,
    cipher: RecordCipher,
    sequence: Sequence,
    /// Largest plaintext per record.
    max_payload: usize,
    buf: KVec<u8>,
    /// The record being filled (`MSG_MORE` keeps it open across calls): its type and length.
    open: Option<(ContentType, usize)>,
    /// Sealed bytes in `buf` the bound socket has not taken yet.
    pending: Range<usize>,
}

impl Tx {
    /// Sets up sending with `keys`; allocates everything the records need.
    pub(crate) fn new(
        bound: Arc<BoundSocket>,
        protection: RecordProtection,
        keys: &DirectionKeys,
        max_payload: usize,
    ) -> Result<Self> {
        let cipher = RecordCipher::new(protection, keys)?;
        // Room for the largest record, whatever the payload limit becomes later.
        let size = protection.overhead() + MAX_PLAINTEXT_LEN;
        Ok(Self {
            bound,
            cipher,
            sequence: Sequence::from_rec_seq(protection, keys.rec_seq()),
            max_payload: max_payload.clamp(1, MAX_PLAINTEXT_LEN),
            buf: KVec::from_elem(0u8, size, GFP_KERNEL)?,
            open: None,
            pending: 0..0,
        })
    }

    /// Changes the largest plaintext per record; `EBUSY` while a record is open.
    pub(crate) fn set_max_payload(&mut self, max_payload: usize) -> Result {
        if self.open.is_some() {
            return Err(EBUSY);
        }
        self.max_payload = max_payload.clamp(1, MAX_PLAINTEXT_LEN);
        Ok(())
    }

    /// Sends what `source` holds as records of `content_type`, returning how many plaintext
    /// bytes were taken.
    ///
    /// `MSG_MORE` keeps the last record open for the next call. Bytes are taken once they are in
    /// a record: if the bound socket then cannot take the record at once (`MSG_DONTWAIT`), it is
    /// sent first by the next call, and only an error before any byte was taken is returned.
    pub(crate) fn send(
        &mut self,
        source: &mut IovIterSource<'_>,
        content_type: ContentType,
        flags: u32,
    ) -> Result<usize> {
        let more = flags & bindings::MSG_MORE != 0;
        let send_flags = flags & PASSED_FLAGS;
        self.flush(send_flags)?;
        // A record carries one content type.
        if matches!(self.open, Some((open_type, _)) if open_type != content_type) {
            self.seal_open()?;
            self.flush(send_flags)?;
        }
        let body = self.cipher.body_offset();
        let mut taken = 0usize;
        loop {
            let (_, open_len) = *self.open.get_or_insert((content_type, 0));
            let room = self.max_payload.saturating_sub(open_len);
            let start = body + open_len;
            let space = self.buf.get_mut(start..start + room).ok_or(EINVAL)?;
            let copied = source.copy_from_iter(space);
            if copied == 0 && !source.is_empty() && room > 0 {
                // The user buffer faulted.
                return if taken > 0 { Ok(taken) } else { Err(EFAULT) };
            }
            let open_len = open_len + copied;
            self.open = Some((content_type, open_len));
            taken += copied;
            let full = open_len == self.max_payload;
            let last = source.is_empty() && !more;
            // An empty data send makes no record; empty control records are valid (alerts).
            let worth_a_record = open_len > 0 || content_type != ContentType::ApplicationData;
            if full || (last && worth_a_record) {
                self.seal_open()?;
                if let Err(err) = self.flush(send_flags) {
                    return if taken > 0 { Ok(taken) } else { Err(err) };
                }
            } else if last {
                self.open = None;
            }
            if source.is_empty() {
                return Ok(taken);
            }
        }
    }

    /// Best effort at close: seals an open record and sends what the bound socket takes without
    /// waiting.
    pub(crate) fn flush_on_close(&mut self) {
        if self.pending.is_empty() && self.open.is_some() && self.seal_open().is_err() {
            return;
        }
        let _ = self.flush(bindings::MSG_DONTWAIT | bindings::MSG_NOSIGNAL);
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

    /// Sends `pending` until the bound socket has taken all of it.
    fn flush(&mut self, flags: u32) -> Result {
        while !self.pending.is_empty() {
            let bytes = self.buf.get(self.pending.clone()).ok_or(EINVAL)?;
            let sent = self.bound.send(bytes, flags)?;
            if sent == 0 {
                return Err(EAGAIN);
            }
            self.pending.start = self.pending.start.saturating_add(sent).min(self.pending.end);
        }
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        crate::crypto::wipe(&mut self.buf);
    }
}
