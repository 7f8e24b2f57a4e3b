// SPDX-License-Identifier: GPL-2.0

//! Why the record layer rejects something, and the errno the module returns for it.
//!
//! The errnos follow mainline kernel TLS where the same situation exists (`tls_rx_msg_size`,
//! `tls_padding_length` and `tls_advance_record_sn` in `net/tls`): a length over the limit is
//! `EMSGSIZE`, a length below the overhead `EBADMSG`, a wrong version `EINVAL`, a missing TLS 1.3
//! content type and an exhausted sequence number `EBADMSG`.

use core::fmt;

/// `EINVAL` (invalid argument), as in `include/uapi/asm-generic/errno-base.h`.
pub const EINVAL: i32 = 22;

/// `EBADMSG` (not a data message), as in `include/uapi/asm-generic/errno.h`.
pub const EBADMSG: i32 = 74;

/// `EMSGSIZE` (message too long), as in `include/uapi/asm-generic/errno.h`.
pub const EMSGSIZE: i32 = 90;

/// `EPROTO` (protocol error), as in `include/uapi/asm-generic/errno.h`.
pub const EPROTO: i32 = 71;

/// A rejected record, header field, length, sequence number or configuration value.
///
/// Every variant is one rule; [`RecordError::errno`] gives the errno the module reports for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// The input ends before the record header, or before the record its length announces.
    Truncated,
    /// The content type is unknown, or not allowed in this place.
    ///
    /// TLS 1.2 and DTLS 1.2 records carry change_cipher_spec, alert, handshake or
    /// application_data; a TLS 1.3 record's outer type is always application_data, and its inner
    /// type is alert, handshake or application_data (RFC 8446 §5).
    BadContentType,
    /// The header's version field is not the one of the protocol in use.
    ///
    /// Also returned when a TLS header function is given a DTLS protocol, or the reverse.
    BadVersion,
    /// The header's length field is over the ciphertext limit of the protocol version.
    ///
    /// The limit is 2^14 + 2048 bytes for TLS 1.2 and DTLS 1.2 (RFC 5246 §6.2.3, RFC 6347 §4.1)
    /// and 2^14 + 256 bytes for TLS 1.3 (RFC 8446 §5.2).
    CiphertextTooLong,
    /// A plaintext is longer than 2^14 bytes, the limit of every version.
    ///
    /// Returned for a plaintext to send, for a received record whose length implies a longer
    /// plaintext, and for a decrypted TLS 1.3 record with more than 2^14 bytes of content.
    PlaintextTooLong,
    /// The header's length field is smaller than the explicit nonce, tag and inner type.
    LengthBelowOverhead,
    /// A decrypted TLS 1.3 record is all zeros, so it has no content type (RFC 8446 §5.4).
    MissingInnerContentType,
    /// Every sequence number has been used: 2^64 for TLS, 2^48 per epoch for DTLS.
    ///
    /// The counter never wraps, as a repeated sequence number would repeat a nonce.
    SequenceExhausted,
    /// A DTLS sequence number does not fit in 48 bits.
    SequenceOutOfRange,
    /// The DTLS replay window has already seen this sequence number.
    Replayed,
    /// The DTLS sequence number is left of the replay window, so it may be a replay.
    TooOld,
    /// The protocol version number is not one of `KTLS_VERSION_*`.
    UnknownVersion,
    /// The cipher number is not one of `KTLS_CIPHER_*`.
    UnknownCipher,
    /// A TLS 1.3 KeyUpdate does not end its record: more bytes follow it in the record, or it
    /// goes on in the next one (RFC 8446 §5.1: handshake messages must not span key changes).
    KeyChangeInsideRecord,
}

impl RecordError {
    /// Returns the positive errno the module reports for this error.
    ///
    /// The kernel side turns it into an error with `Error::from_errno(-err.errno())`. A DTLS
    /// receiver drops [`RecordError::Replayed`] and [`RecordError::TooOld`] datagrams silently
    /// (RFC 6347 §4.1.2.6); their errno is for logs and counters.
    #[must_use]
    pub const fn errno(self) -> i32 {
        match self {
            Self::CiphertextTooLong | Self::PlaintextTooLong => EMSGSIZE,
            Self::BadVersion
            | Self::SequenceOutOfRange
            | Self::UnknownVersion
            | Self::UnknownCipher => EINVAL,
            Self::Truncated
            | Self::BadContentType
            | Self::LengthBelowOverhead
            | Self::MissingInnerContentType
            | Self::SequenceExhausted
            | Self::Replayed
            | Self::TooOld => EBADMSG,
            Self::KeyChangeInsideRecord => EPROTO,
        }
    }

    /// Returns a short English description, for log messages.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::Truncated => "truncated record",
            Self::BadContentType => "bad content type",
            Self::BadVersion => "bad record version",
            Self::CiphertextTooLong => "record longer than the ciphertext limit",
            Self::PlaintextTooLong => "plaintext longer than 2^14 bytes",
            Self::LengthBelowOverhead => "record shorter than its protection overhead",
            Self::MissingInnerContentType => "TLS 1.3 record without content type",
            Self::SequenceExhausted => "sequence numbers exhausted",
            Self::SequenceOutOfRange => "DTLS sequence number over 48 bits",
            Self::Replayed => "replayed DTLS record",
            Self::TooOld => "DTLS record older than the replay window",
            Self::UnknownVersion => "unknown protocol version",
            Self::UnknownCipher => "unknown cipher",
            Self::KeyChangeInsideRecord => "TLS 1.3 KeyUpdate not at the end of its record",
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}
