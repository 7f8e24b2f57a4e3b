// SPDX-License-Identifier: GPL-2.0

//! Record sequence numbers: the sender's counters, which never wrap, and DTLS record numbers.
//!
//! TLS numbers records from 0 to 2^64 - 1 (RFC 5246 §6.1, RFC 8446 §5.3); DTLS 1.2 numbers them
//! from 0 to 2^48 - 1 within each 16-bit epoch (RFC 6347 §4.1). A sequence number is part of the
//! nonce, so using one twice under a key would break the AEAD: when the numbers run out, the
//! counters fail instead of wrapping, and the connection needs new keys.

use super::error::RecordError;

/// Largest DTLS 1.2 sequence number: 2^48 - 1.
pub const DTLS_MAX_SEQUENCE: u64 = (1 << 48) - 1;

/// A DTLS 1.2 record number: a 16-bit epoch and a 48-bit sequence number.
///
/// Its 8-byte big-endian form, epoch first, is what the record header, the AAD and the UAPI's
/// `rec_seq` carry.
///
/// # Invariants
///
/// The sequence number is at most [`DTLS_MAX_SEQUENCE`], as both live in one `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DtlsRecordNumber(u64);

impl DtlsRecordNumber {
    /// Returns the record number of `sequence` in `epoch`.
    ///
    /// Fails with [`RecordError::SequenceOutOfRange`] if `sequence` needs more than 48 bits.
    pub const fn new(epoch: u16, sequence: u64) -> Result<Self, RecordError> {
        if sequence > DTLS_MAX_SEQUENCE {
            return Err(RecordError::SequenceOutOfRange);
        }
        // INVARIANT: `sequence` was checked to fit in 48 bits.
        Ok(Self(((epoch as u64) << 48) | sequence))
    }

    /// Returns the record number in its wire form: epoch (2 bytes) then sequence (6 bytes).
    #[must_use]
    pub const fn from_be_bytes(bytes: [u8; 8]) -> Self {
        // INVARIANT: the low 48 bits of any `u64` are at most `DTLS_MAX_SEQUENCE`.
        Self(u64::from_be_bytes(bytes))
    }

    /// Returns the wire form: epoch (2 bytes) then sequence number (6 bytes), big endian.
    #[must_use]
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Returns the epoch.
    #[must_use]
    pub const fn epoch(self) -> u16 {
        let [e0, e1, ..] = self.0.to_be_bytes();
        u16::from_be_bytes([e0, e1])
    }

    /// Returns the 48-bit sequence number within the epoch.
    #[must_use]
    pub const fn sequence(self) -> u64 {
        self.0 & DTLS_MAX_SEQUENCE
    }

    /// Returns epoch and sequence number as one integer, `epoch << 48 | sequence`.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

/// The sequence number of the next TLS record a connection sends.
///
/// Every value from the first up to 2^64 - 1 is handed out once; after that
/// [`TlsSequence::take`] fails with [`RecordError::SequenceExhausted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsSequence {
    /// The number the next record gets, or `None` once 2^64 - 1 has been used.
    next: Option<u64>,
}

impl TlsSequence {
    /// Returns a counter whose next record gets `first` (the UAPI's `rec_seq`).
    #[must_use]
    pub const fn new(first: u64) -> Self {
        Self { next: Some(first) }
    }

    /// Returns a counter starting at the big-endian `rec_seq` of a `struct ktls_crypto_info_*`.
    #[must_use]
    pub const fn from_rec_seq(rec_seq: [u8; 8]) -> Self {
        Self::new(u64::from_be_bytes(rec_seq))
    }

    /// Returns the number of the next record without using it, or `None` once exhausted.
    #[must_use]
    pub const fn peek(&self) -> Option<u64> {
        self.next
    }

    /// Returns the number for the next record and advances past it.
    pub fn take(&mut self) -> Result<u64, RecordError> {
        let current = self.next.ok_or(RecordError::SequenceExhausted)?;
        self.next = current.checked_add(1);
        Ok(current)
    }
}

/// The record number of the next DTLS 1.2 record a connection sends in the current epoch.
///
/// Every sequence number from the first up to 2^48 - 1 is handed out once; after that
/// [`DtlsSequence::take`] fails with [`RecordError::SequenceExhausted`]. The epoch never
/// changes: a new epoch means new keys and a new counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtlsSequence {
    /// The number the next record gets, or `None` once sequence 2^48 - 1 has been used.
    next: Option<DtlsRecordNumber>,
}

impl DtlsSequence {
    /// Returns a counter whose next record gets `first`.
    #[must_use]
    pub const fn new(first: DtlsRecordNumber) -> Self {
        Self { next: Some(first) }
    }

    /// Returns a counter starting at the `rec_seq` of a `struct ktls_crypto_info_*`.
    #[must_use]
    pub const fn from_rec_seq(rec_seq: [u8; 8]) -> Self {
        Self::new(DtlsRecordNumber::from_be_bytes(rec_seq))
    }

    /// Returns the number of the next record without using it, or `None` once exhausted.
    #[must_use]
    pub const fn peek(&self) -> Option<DtlsRecordNumber> {
        self.next
    }

    /// Returns the number for the next record and advances past it.
    pub fn take(&mut self) -> Result<DtlsRecordNumber, RecordError> {
        let current = self.next.ok_or(RecordError::SequenceExhausted)?;
        // Carrying into the epoch would forge a record number of the next epoch.
        self.next = DtlsRecordNumber::new(current.epoch(), current.sequence().wrapping_add(1)).ok();
        Ok(current)
    }
}
