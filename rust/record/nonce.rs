// SPDX-License-Identifier: GPL-2.0

//! AEAD nonces and additional data (AAD) of protected records.
//!
//! | version, cipher          | nonce                                  | AAD                                     |
//! |--------------------------|----------------------------------------|-----------------------------------------|
//! | TLS 1.2 AES-GCM          | salt ‖ explicit nonce (RFC 5288 §3)    | seq ‖ type ‖ 0x0303 ‖ plaintext length  |
//! | TLS 1.2 ChaCha20-Poly1305| IV XOR seq (RFC 7905 §2)               | seq ‖ type ‖ 0x0303 ‖ plaintext length  |
//! | DTLS 1.2 AES-GCM         | salt ‖ explicit nonce (epoch ‖ seq)    | epoch ‖ seq ‖ type ‖ 0xfefd ‖ length    |
//! | DTLS 1.2 ChaCha20        | IV XOR (epoch ‖ seq)                   | epoch ‖ seq ‖ type ‖ 0xfefd ‖ length    |
//! | TLS 1.3 (all ciphers)    | IV XOR seq (RFC 8446 §5.3)             | the 5-byte record header (RFC 8446 §5.2)|
//!
//! Sequence numbers are big endian and left-padded with zeros to the IV's 12 bytes before the
//! XOR. The explicit nonce of a received AES-GCM record is whatever the record carries (OpenSSL
//! starts at a random value); the explicit nonce af_ktls sends is its choice, see
//! [`tls12_explicit_nonce`] and [`dtls12_explicit_nonce`].

use super::{
    header::ContentType,
    protection::{
        GCM_EXPLICIT_NONCE_LEN,
        GCM_SALT_LEN,
        KTLS_VERSION_DTLS_1_2,
        KTLS_VERSION_TLS_1_2,
        NONCE_LEN,
        TLS_HEADER_LEN, //
    },
    seq::DtlsRecordNumber, //
};

/// Length of the TLS 1.2 and DTLS 1.2 AAD.
pub const TLS12_AAD_LEN: usize = 13;

/// Length of the TLS 1.3 AAD, the record header.
pub const TLS13_AAD_LEN: usize = TLS_HEADER_LEN;

/// How a record's AEAD nonce is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonceScheme {
    /// A 4-byte salt from the key block, then the 8-byte explicit nonce the record carries.
    ///
    /// TLS 1.2 and DTLS 1.2 with AES-GCM; see [`salted_nonce`].
    SaltAndExplicit,
    /// A 12-byte static IV XOR the sequence number (the epoch and sequence number for DTLS).
    ///
    /// TLS 1.3 with every cipher, and ChaCha20-Poly1305 in TLS 1.2 and DTLS 1.2; see
    /// [`xor_nonce`].
    IvXorSequence,
}

/// Returns the AES-GCM nonce `salt ‖ explicit` of TLS 1.2 and DTLS 1.2 (RFC 5288 §3).
#[inline]
#[must_use]
pub const fn salted_nonce(
    salt: &[u8; GCM_SALT_LEN],
    explicit: &[u8; GCM_EXPLICIT_NONCE_LEN],
) -> [u8; NONCE_LEN] {
    let [s0, s1, s2, s3] = *salt;
    let [e0, e1, e2, e3, e4, e5, e6, e7] = *explicit;
    [s0, s1, s2, s3, e0, e1, e2, e3, e4, e5, e6, e7]
}

/// Returns the nonce `iv XOR sequence`, the sequence left-padded to 12 bytes.
///
/// This is TLS 1.3 (RFC 8446 §5.3) and TLS 1.2 ChaCha20-Poly1305 (RFC 7905 §2) with the record's
/// sequence number, and DTLS 1.2 ChaCha20-Poly1305 with [`DtlsRecordNumber::as_u64`].
#[inline]
#[must_use]
pub const fn xor_nonce(iv: &[u8; NONCE_LEN], sequence: u64) -> [u8; NONCE_LEN] {
    let [i0, i1, i2, i3, i4, i5, i6, i7, i8, i9, i10, i11] = *iv;
    let [q0, q1, q2, q3, q4, q5, q6, q7] = sequence.to_be_bytes();
    [
        i0,
        i1,
        i2,
        i3,
        i4 ^ q0,
        i5 ^ q1,
        i6 ^ q2,
        i7 ^ q3,
        i8 ^ q4,
        i9 ^ q5,
        i10 ^ q6,
        i11 ^ q7,
    ]
}

/// Returns the explicit nonce af_ktls sends in the TLS 1.2 AES-GCM record `sequence`.
///
/// It is `base XOR sequence`, `base` being the UAPI's 8-byte `iv`. Distinct sequence numbers
/// give distinct nonces whatever the base, so a library that used the same scheme before the
/// handoff (rustls: base = the 8 extra key-block bytes; GnuTLS: base = 0) never sees a nonce
/// repeat. Mainline instead sends `iv`, `iv + 1`, ... whatever the sequence number.
#[inline]
#[must_use]
pub const fn tls12_explicit_nonce(
    base: &[u8; GCM_EXPLICIT_NONCE_LEN],
    sequence: u64,
) -> [u8; GCM_EXPLICIT_NONCE_LEN] {
    (u64::from_be_bytes(*base) ^ sequence).to_be_bytes()
}

/// Returns the explicit nonce af_ktls sends in the DTLS 1.2 AES-GCM record `record_number`.
///
/// It is the record number itself, epoch then sequence, as GnuTLS sends it: unique per key
/// because a key never outlives its epoch.
#[inline]
#[must_use]
pub const fn dtls12_explicit_nonce(
    record_number: DtlsRecordNumber,
) -> [u8; GCM_EXPLICIT_NONCE_LEN] {
    record_number.to_be_bytes()
}

/// Returns the TLS 1.2 AAD: sequence ‖ type ‖ 0x0303 ‖ plaintext length (RFC 5246 §6.2.3.3).
#[inline]
#[must_use]
pub const fn tls12_aad(
    sequence: u64,
    content_type: ContentType,
    plaintext_len: u16,
) -> [u8; TLS12_AAD_LEN] {
    aad_with_version(sequence, content_type, KTLS_VERSION_TLS_1_2, plaintext_len)
}

/// Returns the DTLS 1.2 AAD: epoch ‖ sequence ‖ type ‖ 0xfefd ‖ plaintext length (RFC 6347 §4.1.2.1).
#[inline]
#[must_use]
pub const fn dtls12_aad(
    record_number: DtlsRecordNumber,
    content_type: ContentType,
    plaintext_len: u16,
) -> [u8; TLS12_AAD_LEN] {
    aad_with_version(
        record_number.as_u64(),
        content_type,
        KTLS_VERSION_DTLS_1_2,
        plaintext_len,
    )
}

/// Returns the TLS 1.3 AAD, the record header: 0x17 ‖ 0x0303 ‖ length (RFC 8446 §5.2).
///
/// `payload_len` is the record's length field, the ciphertext with its tag.
#[inline]
#[must_use]
pub const fn tls13_aad(payload_len: u16) -> [u8; TLS13_AAD_LEN] {
    let [version_hi, version_lo] = KTLS_VERSION_TLS_1_2.to_be_bytes();
    let [length_hi, length_lo] = payload_len.to_be_bytes();
    [
        ContentType::ApplicationData.wire(),
        version_hi,
        version_lo,
        length_hi,
        length_lo,
    ]
}

/// Returns `sequence ‖ type ‖ version ‖ length`, the AAD layout of TLS 1.2 and DTLS 1.2.
const fn aad_with_version(
    sequence: u64,
    content_type: ContentType,
    version: u16,
    plaintext_len: u16,
) -> [u8; TLS12_AAD_LEN] {
    let [q0, q1, q2, q3, q4, q5, q6, q7] = sequence.to_be_bytes();
    let [version_hi, version_lo] = version.to_be_bytes();
    let [length_hi, length_lo] = plaintext_len.to_be_bytes();
    [
        q0,
        q1,
        q2,
        q3,
        q4,
        q5,
        q6,
        q7,
        content_type.wire(),
        version_hi,
        version_lo,
        length_hi,
        length_lo,
    ]
}
