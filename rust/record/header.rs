// SPDX-License-Identifier: GPL-2.0

//! Content types and the record headers of TLS (RFC 5246 §6.2, RFC 8446 §5) and DTLS 1.2
//! (RFC 6347 §4.1).
//!
//! Headers describe protected records only, so their lengths must fit the protection's overhead
//! and limits. Parsing checks enough bytes, the header kind (TLS or DTLS), and then, in mainline's
//! order (`tls_rx_msg_size`): length over the version's ciphertext limit, length that would
//! decrypt to more than 2^14 bytes of plaintext, length below the overhead, version, and finally
//! the content type, which mainline does not check.

use super::{
    error::RecordError,
    protection::{
        ProtocolVersion,
        RecordProtection,
        DTLS_HEADER_LEN,
        TLS_HEADER_LEN, //
    },
    seq::DtlsRecordNumber, //
};

/// `KTLS_RECORD_CHANGE_CIPHER_SPEC`: the change_cipher_spec content type.
pub const KTLS_RECORD_CHANGE_CIPHER_SPEC: u8 = 20;

/// `KTLS_RECORD_ALERT`: the alert content type.
pub const KTLS_RECORD_ALERT: u8 = 21;

/// `KTLS_RECORD_HANDSHAKE`: the handshake content type.
pub const KTLS_RECORD_HANDSHAKE: u8 = 22;

/// `KTLS_RECORD_APPLICATION_DATA`: the application_data content type.
pub const KTLS_RECORD_APPLICATION_DATA: u8 = 23;

/// The content type of a record (RFC 5246 §6.2.1, RFC 8446 §5.1).
///
/// Other values (heartbeat, tls12_cid, ack) belong to extensions af_ktls does not negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// change_cipher_spec (20).
    ChangeCipherSpec,
    /// alert (21).
    Alert,
    /// handshake (22).
    Handshake,
    /// application_data (23).
    ApplicationData,
}

impl ContentType {
    /// Returns the content type with wire value `value`.
    pub const fn from_wire(value: u8) -> Result<Self, RecordError> {
        match value {
            KTLS_RECORD_CHANGE_CIPHER_SPEC => Ok(Self::ChangeCipherSpec),
            KTLS_RECORD_ALERT => Ok(Self::Alert),
            KTLS_RECORD_HANDSHAKE => Ok(Self::Handshake),
            KTLS_RECORD_APPLICATION_DATA => Ok(Self::ApplicationData),
            _ => Err(RecordError::BadContentType),
        }
    }

    /// Returns the wire value, which is also the `KTLS_RECORD_*` cmsg value.
    #[must_use]
    pub const fn wire(self) -> u8 {
        match self {
            Self::ChangeCipherSpec => KTLS_RECORD_CHANGE_CIPHER_SPEC,
            Self::Alert => KTLS_RECORD_ALERT,
            Self::Handshake => KTLS_RECORD_HANDSHAKE,
            Self::ApplicationData => KTLS_RECORD_APPLICATION_DATA,
        }
    }
}

/// Checks the fields of a protected record's header in mainline's order, returning its type.
///
/// `datagram` says which kind of header the caller parses or builds; `version` and `wire_type`
/// are the raw header fields.
#[inline]
const fn check_fields(
    protection: RecordProtection,
    datagram: bool,
    wire_type: u8,
    version: u16,
    length: u16,
) -> Result<ContentType, RecordError> {
    if protection.version().is_datagram() != datagram {
        return Err(RecordError::BadVersion);
    }
    let length = length as usize;
    if length > protection.version().max_ciphertext_len() {
        return Err(RecordError::CiphertextTooLong);
    }
    if length > protection.max_payload_len() {
        return Err(RecordError::PlaintextTooLong);
    }
    if length < protection.min_payload_len() {
        return Err(RecordError::LengthBelowOverhead);
    }
    if version != protection.version().record_version() {
        return Err(RecordError::BadVersion);
    }
    let content_type = match ContentType::from_wire(wire_type) {
        Ok(content_type) => content_type,
        Err(err) => return Err(err),
    };
    // A TLS 1.3 record hides its real type inside; the outer one is always application_data.
    match (protection.version(), content_type) {
        (ProtocolVersion::Tls13, ContentType::ApplicationData) => Ok(content_type),
        (ProtocolVersion::Tls13, _) => Err(RecordError::BadContentType),
        (ProtocolVersion::Tls12 | ProtocolVersion::Dtls12, _) => Ok(content_type),
    }
}

/// The header of a protected TLS 1.2 or TLS 1.3 record: content type and length.
///
/// The version field is always 0x0303. A value of this type always satisfies the limits of the
/// protection it was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TlsHeader {
    content_type: ContentType,
    length: u16,
}

impl TlsHeader {
    /// Returns a header, checking the fields as [`TlsHeader::parse`] does.
    #[inline]
    pub const fn new(
        protection: RecordProtection,
        content_type: ContentType,
        length: u16,
    ) -> Result<Self, RecordError> {
        let version = protection.version().record_version();
        match check_fields(protection, false, content_type.wire(), version, length) {
            Ok(content_type) => Ok(Self {
                content_type,
                length,
            }),
            Err(err) => Err(err),
        }
    }

    /// Returns the header of a record that protects `plaintext_len` bytes of `content_type`.
    ///
    /// For TLS 1.3 the outer type is application_data and `content_type` goes inside the
    /// ciphertext; no padding is added.
    #[inline]
    pub const fn for_plaintext(
        protection: RecordProtection,
        content_type: ContentType,
        plaintext_len: usize,
    ) -> Result<Self, RecordError> {
        if protection.version().is_datagram() {
            return Err(RecordError::BadVersion);
        }
        // `payload_len` keeps the length between the overhead and 2^14 + overhead, which is
        // within every version's ciphertext limit, so the fields need no further check.
        let length = match protection.payload_len(plaintext_len) {
            Ok(length) => length,
            Err(err) => return Err(err),
        };
        let content_type = match protection.version() {
            ProtocolVersion::Tls13 => ContentType::ApplicationData,
            ProtocolVersion::Tls12 | ProtocolVersion::Dtls12 => content_type,
        };
        Ok(Self {
            content_type,
            length,
        })
    }

    /// Parses the header at the start of `bytes`, which may hold more of the stream.
    #[inline]
    pub const fn parse(protection: RecordProtection, bytes: &[u8]) -> Result<Self, RecordError> {
        let Some((header, _)) = bytes.split_first_chunk::<TLS_HEADER_LEN>() else {
            return Err(RecordError::Truncated);
        };
        let [wire_type, version_hi, version_lo, length_hi, length_lo] = *header;
        let version = u16::from_be_bytes([version_hi, version_lo]);
        let length = u16::from_be_bytes([length_hi, length_lo]);
        match check_fields(protection, false, wire_type, version, length) {
            Ok(content_type) => Ok(Self {
                content_type,
                length,
            }),
            Err(err) => Err(err),
        }
    }

    /// Parses a whole record at the start of `bytes`.
    ///
    /// Returns the header, the payload (explicit nonce, ciphertext and tag) and the bytes after
    /// the record. Fails with [`RecordError::Truncated`] if the payload is incomplete.
    #[inline]
    pub const fn split_record(
        protection: RecordProtection,
        bytes: &[u8],
    ) -> Result<(Self, &[u8], &[u8]), RecordError> {
        let header = match Self::parse(protection, bytes) {
            Ok(header) => header,
            Err(err) => return Err(err),
        };
        let Some((_, rest)) = bytes.split_at_checked(TLS_HEADER_LEN) else {
            return Err(RecordError::Truncated);
        };
        match rest.split_at_checked(header.length as usize) {
            Some((payload, rest)) => Ok((header, payload, rest)),
            None => Err(RecordError::Truncated),
        }
    }

    /// Returns the outer content type.
    #[must_use]
    pub const fn content_type(self) -> ContentType {
        self.content_type
    }

    /// Returns the length field: the bytes of the record after the header.
    #[must_use]
    pub const fn length(self) -> u16 {
        self.length
    }

    /// Returns the length of the whole record, header included.
    #[must_use]
    pub const fn record_len(self) -> usize {
        TLS_HEADER_LEN + self.length as usize
    }

    /// Returns the header as it goes on the wire.
    #[inline]
    #[must_use]
    pub const fn to_bytes(self) -> [u8; TLS_HEADER_LEN] {
        let [version_hi, version_lo] = ProtocolVersion::Tls12.record_version().to_be_bytes();
        let [length_hi, length_lo] = self.length.to_be_bytes();
        [
            self.content_type.wire(),
            version_hi,
            version_lo,
            length_hi,
            length_lo,
        ]
    }
}

/// The header of a protected DTLS 1.2 record: content type, epoch, sequence number and length.
///
/// The version field is always 0xfefd. A value of this type always satisfies the limits of the
/// protection it was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtlsHeader {
    content_type: ContentType,
    record_number: DtlsRecordNumber,
    length: u16,
}

impl DtlsHeader {
    /// Returns a header, checking the fields as [`DtlsHeader::parse`] does.
    #[inline]
    pub const fn new(
        protection: RecordProtection,
        content_type: ContentType,
        record_number: DtlsRecordNumber,
        length: u16,
    ) -> Result<Self, RecordError> {
        let version = protection.version().record_version();
        match check_fields(protection, true, content_type.wire(), version, length) {
            Ok(content_type) => Ok(Self {
                content_type,
                record_number,
                length,
            }),
            Err(err) => Err(err),
        }
    }

    /// Returns the header of a record that protects `plaintext_len` bytes of `content_type`.
    #[inline]
    pub const fn for_plaintext(
        protection: RecordProtection,
        content_type: ContentType,
        record_number: DtlsRecordNumber,
        plaintext_len: usize,
    ) -> Result<Self, RecordError> {
        if !protection.version().is_datagram() {
            return Err(RecordError::BadVersion);
        }
        // As for TLS, `payload_len` keeps the length within the limits.
        match protection.payload_len(plaintext_len) {
            Ok(length) => Ok(Self {
                content_type,
                record_number,
                length,
            }),
            Err(err) => Err(err),
        }
    }

    /// Parses the header at the start of `bytes`, which may hold more of the datagram.
    #[inline]
    pub const fn parse(protection: RecordProtection, bytes: &[u8]) -> Result<Self, RecordError> {
        let Some((header, _)) = bytes.split_first_chunk::<DTLS_HEADER_LEN>() else {
            return Err(RecordError::Truncated);
        };
        let [wire_type, version_hi, version_lo, record_number @ .., length_hi, length_lo] = *header;
        let version = u16::from_be_bytes([version_hi, version_lo]);
        let length = u16::from_be_bytes([length_hi, length_lo]);
        match check_fields(protection, true, wire_type, version, length) {
            Ok(content_type) => Ok(Self {
                content_type,
                record_number: DtlsRecordNumber::from_be_bytes(record_number),
                length,
            }),
            Err(err) => Err(err),
        }
    }

    /// Parses a whole record at the start of `bytes`, which may hold more records.
    ///
    /// Returns the header, the payload (explicit nonce, ciphertext and tag) and the bytes after
    /// the record. Fails with [`RecordError::Truncated`] if the payload is incomplete.
    #[inline]
    pub const fn split_record(
        protection: RecordProtection,
        bytes: &[u8],
    ) -> Result<(Self, &[u8], &[u8]), RecordError> {
        let header = match Self::parse(protection, bytes) {
            Ok(header) => header,
            Err(err) => return Err(err),
        };
        let Some((_, rest)) = bytes.split_at_checked(DTLS_HEADER_LEN) else {
            return Err(RecordError::Truncated);
        };
        match rest.split_at_checked(header.length as usize) {
            Some((payload, rest)) => Ok((header, payload, rest)),
            None => Err(RecordError::Truncated),
        }
    }

    /// Returns the content type.
    #[must_use]
    pub const fn content_type(self) -> ContentType {
        self.content_type
    }

    /// Returns the epoch and sequence number.
    #[must_use]
    pub const fn record_number(self) -> DtlsRecordNumber {
        self.record_number
    }

    /// Returns the length field: the bytes of the record after the header.
    #[must_use]
    pub const fn length(self) -> u16 {
        self.length
    }

    /// Returns the length of the whole record, header included.
    #[must_use]
    pub const fn record_len(self) -> usize {
        DTLS_HEADER_LEN + self.length as usize
    }

    /// Returns the header as it goes on the wire.
    #[inline]
    #[must_use]
    pub const fn to_bytes(self) -> [u8; DTLS_HEADER_LEN] {
        let [version_hi, version_lo] = ProtocolVersion::Dtls12.record_version().to_be_bytes();
        let [e0, e1, s0, s1, s2, s3, s4, s5] = self.record_number.to_be_bytes();
        let [length_hi, length_lo] = self.length.to_be_bytes();
        [
            self.content_type.wire(),
            version_hi,
            version_lo,
            e0,
            e1,
            s0,
            s1,
            s2,
            s3,
            s4,
            s5,
            length_hi,
            length_lo,
        ]
    }
}
