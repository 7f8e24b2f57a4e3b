// SPDX-License-Identifier: GPL-2.0

//! The test cases of the record layer, shared by KUnit (in the module) and `cargo test`.
//!
//! Compiled only into test builds: `--cfg ktls_kunit` in the module, the `selftest` feature in
//! `tools/ktls-record`. Each case is a `pub fn() -> Result<(), CaseFailure>` that names the
//! expectation it found broken; [`for_each_record_case!`](crate::for_each_record_case) lists
//! every case once, so each harness generates one test per case from the same list:
//!
//! ```text
//! macro_rules! record_tests {
//!     ($($case:ident),* $(,)?) => {
//!         $(#[test] fn $case() { ktls_record::selftest::$case().unwrap() })*
//!     };
//! }
//! ktls_record::for_each_record_case!(record_tests);
//! ```
//!
//! The known-answer records ([`RECORD_VECTORS`]) also carry their keys and plaintexts, so a
//! harness with an AEAD (the kernel crypto API, or a userspace crate) can check the full
//! encryption. The cases themselves keep their data small: they run on a kernel stack.

use core::fmt;

use super::handshake::{
    HandshakeFraming,
    KeyChange, //
};
use super::{
    error::{
        RecordError,
        EBADMSG,
        EINVAL,
        EMSGSIZE, //
    },
    header::{
        ContentType,
        DtlsHeader,
        TlsHeader, //
    },
    inner::InnerPlaintext,
    nonce::{
        dtls12_aad,
        dtls12_explicit_nonce,
        salted_nonce,
        tls12_aad,
        tls12_explicit_nonce,
        tls13_aad,
        xor_nonce,
        NonceScheme, //
    },
    protection::{
        CipherSuite,
        ProtocolVersion,
        RecordProtection,
        MAX_PLAINTEXT_LEN, //
    },
    seq::{
        DtlsRecordNumber,
        DtlsSequence,
        TlsSequence,
        DTLS_MAX_SEQUENCE, //
    },
    window::ReplayWindow, //
};

/// Lists every case of this module, calling `$callback! { case_a, case_b, ... }`.
///
/// The callback is a `macro_rules!` macro in scope at the call site; it receives each case's
/// function name (a path segment under `record::selftest`) once, separated by commas.
#[macro_export]
macro_rules! for_each_record_case {
    ($callback:ident) => {
        $callback! {
            uapi_numbers_map_to_versions_and_ciphers,
            content_types_map_to_uapi_values,
            overhead_constants_per_version_and_cipher,
            plaintext_limit_is_2_pow_14_for_every_version,
            decrypted_len_enforces_overhead_and_plaintext_limit,
            tls12_header_round_trips,
            tls13_header_round_trips,
            dtls12_header_round_trips,
            header_rejects_truncated_input,
            header_rejects_unknown_content_type,
            tls13_header_requires_application_data_outer_type,
            header_rejects_bad_version,
            header_kind_must_match_protocol,
            header_length_limits_per_version,
            header_rejects_length_below_overhead,
            header_checks_in_mainline_order,
            split_record_needs_the_whole_payload,
            for_plaintext_builds_protected_lengths,
            tls12_gcm_nonce_is_salt_then_explicit,
            tls12_explicit_nonce_is_base_xor_sequence,
            tls12_chacha_nonce_is_iv_xor_padded_sequence,
            dtls12_gcm_nonce_is_salt_epoch_sequence,
            dtls12_chacha_nonce_is_iv_xor_epoch_sequence,
            tls12_aad_is_sequence_type_version_length,
            dtls12_aad_is_epoch_sequence_type_version_length,
            rfc8448_header_known_answer,
            rfc8448_nonce_known_answer,
            rfc8448_aad_known_answer,
            rfc8448_inner_plaintext_known_answer,
            dtls12_openssl_header_known_answer,
            dtls12_openssl_nonce_and_aad_known_answer,
            inner_plaintext_finds_type_behind_padding,
            inner_plaintext_without_padding,
            inner_plaintext_all_zero_is_rejected,
            inner_plaintext_rejects_bad_content_type,
            inner_plaintext_rejects_content_over_limit,
            tls_sequence_counts_from_rec_seq,
            tls_sequence_fails_after_u64_max_instead_of_wrapping,
            dtls_sequence_fails_after_48_bits_without_touching_epoch,
            dtls_record_number_rejects_sequence_over_48_bits,
            dtls_record_number_round_trips_rec_seq,
            window_accepts_zero_on_fresh_window,
            window_rejects_exact_duplicates,
            window_accepts_reordering_inside_window,
            window_left_edge_is_63_behind_highest,
            window_jump_beyond_64_resets_bitmap,
            window_jumps_of_63_and_64_keep_the_right_bits,
            window_check_does_not_move_window,
            window_mark_fails_for_concurrent_duplicate,
            window_handles_48_bit_maximum,
            window_rejects_sequence_beyond_48_bits,
            window_after_handoff_accepts_only_newer,
            window_reset_starts_a_new_epoch,
            errors_map_to_mainline_errnos,
            key_update_alone_ends_its_record,
            key_update_after_other_messages_in_one_record,
            key_update_followed_by_a_message_is_refused,
            key_update_spanning_records_is_refused,
            messages_spanning_records_are_followed,
        }
    };
}

/// A broken expectation of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseFailure {
    /// The expectation that did not hold, as the case states it.
    pub expectation: &'static str,
    /// The line of `rust/record/selftest.rs` that checks it.
    pub line: u32,
}

impl fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rust/record/selftest.rs:{}: expected {}",
            self.line, self.expectation
        )
    }
}

/// The result of a case.
pub type CaseResult = Result<(), CaseFailure>;

/// Returns from the case with a [`CaseFailure`] naming `$expectation` unless `$condition` holds.
macro_rules! ensure {
    ($condition:expr, $expectation:literal $(,)?) => {
        if !$condition {
            return Err(CaseFailure {
                expectation: $expectation,
                line: line!(),
            });
        }
    };
}

/// A protected record with everything needed to check it end to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordVector {
    /// Where the bytes come from.
    pub source: &'static str,
    /// Version and cipher.
    pub protection: RecordProtection,
    /// The write key.
    pub key: &'static [u8],
    /// The write IV: the 4-byte salt for 1.2 AES-GCM, the 12-byte static IV otherwise.
    pub write_iv: &'static [u8],
    /// The sequence number; for DTLS, epoch and sequence number as `epoch << 48 | sequence`.
    pub sequence: u64,
    /// The whole record as it was on the wire: header, explicit nonce, ciphertext and tag.
    pub record: &'static [u8],
    /// The AEAD nonce the record was sealed with (a known answer, computed independently).
    pub nonce: [u8; 12],
    /// The AEAD additional data (a known answer, computed independently).
    pub aad: &'static [u8],
    /// What the AEAD decrypts to; for TLS 1.3 the inner plaintext, content type included.
    pub plaintext: &'static [u8],
}

impl RecordVector {
    /// Returns the AEAD input of decryption: the ciphertext followed by its 16-byte tag.
    #[must_use]
    pub const fn ciphertext(&self) -> &'static [u8] {
        let start = self.protection.header_len() + self.protection.explicit_nonce_len();
        match self.record.split_at_checked(start) {
            Some((_, ciphertext)) => ciphertext,
            None => &[],
        }
    }
}

const TLS12_AES128: RecordProtection =
    RecordProtection::new(ProtocolVersion::Tls12, CipherSuite::Aes128Gcm);
const TLS12_AES256: RecordProtection =
    RecordProtection::new(ProtocolVersion::Tls12, CipherSuite::Aes256Gcm);
const TLS12_CHACHA: RecordProtection =
    RecordProtection::new(ProtocolVersion::Tls12, CipherSuite::Chacha20Poly1305);
const TLS13_AES128: RecordProtection =
    RecordProtection::new(ProtocolVersion::Tls13, CipherSuite::Aes128Gcm);
const TLS13_AES256: RecordProtection =
    RecordProtection::new(ProtocolVersion::Tls13, CipherSuite::Aes256Gcm);
const TLS13_CHACHA: RecordProtection =
    RecordProtection::new(ProtocolVersion::Tls13, CipherSuite::Chacha20Poly1305);
const DTLS12_AES128: RecordProtection =
    RecordProtection::new(ProtocolVersion::Dtls12, CipherSuite::Aes128Gcm);
const DTLS12_AES256: RecordProtection =
    RecordProtection::new(ProtocolVersion::Dtls12, CipherSuite::Aes256Gcm);
const DTLS12_CHACHA: RecordProtection =
    RecordProtection::new(ProtocolVersion::Dtls12, CipherSuite::Chacha20Poly1305);

/// Every supported version and cipher.
pub const ALL_PROTECTIONS: [RecordProtection; 9] = [
    TLS12_AES128,
    TLS12_AES256,
    TLS12_CHACHA,
    TLS13_AES128,
    TLS13_AES256,
    TLS13_CHACHA,
    DTLS12_AES128,
    DTLS12_AES256,
    DTLS12_CHACHA,
];

const ALL_CONTENT_TYPES: [ContentType; 4] = [
    ContentType::ChangeCipherSpec,
    ContentType::Alert,
    ContentType::Handshake,
    ContentType::ApplicationData,
];

// RFC 8448 §3 "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256): the application traffic keys
// and IVs ("derive write traffic keys for application data"), and the four records protected
// with them. The client's application_data (50 bytes, 00 01 ... 31) is its record 0; the
// server's comes after its NewSessionTicket, so it is record 1; each side's close_notify alert
// follows its data. The `cargo test` suite decrypts all four with these keys.

/// RFC 8448 §3: the client's application write key.
pub const RFC8448_CLIENT_APP_KEY: [u8; 16] = [
    0x17, 0x42, 0x2d, 0xda, 0x59, 0x6e, 0xd5, 0xd9, 0xac, 0xd8, 0x90, 0xe3, 0xc6, 0x3f, 0x50, 0x51,
];

/// RFC 8448 §3: the client's application write IV.
pub const RFC8448_CLIENT_APP_IV: [u8; 12] = [
    0x5b, 0x78, 0x92, 0x3d, 0xee, 0x08, 0x57, 0x90, 0x33, 0xe5, 0x23, 0xd9,
];

/// RFC 8448 §3: the server's application write key.
pub const RFC8448_SERVER_APP_KEY: [u8; 16] = [
    0x9f, 0x02, 0x28, 0x3b, 0x6c, 0x9c, 0x07, 0xef, 0xc2, 0x6b, 0xb9, 0xf2, 0xac, 0x92, 0xe3, 0x56,
];

/// RFC 8448 §3: the server's application write IV.
pub const RFC8448_SERVER_APP_IV: [u8; 12] = [
    0xcf, 0x78, 0x2b, 0x88, 0xdd, 0x83, 0x54, 0x9a, 0xad, 0xf1, 0xe9, 0x84,
];

/// RFC 8448 §3: the client's application_data record ("send application_data record").
pub const RFC8448_CLIENT_APP_RECORD: [u8; 72] = [
    0x17, 0x03, 0x03, 0x00, 0x43, 0xa2, 0x3f, 0x70, 0x54, 0xb6, 0x2c, 0x94, 0xd0, 0xaf, 0xfa, 0xfe,
    0x82, 0x28, 0xba, 0x55, 0xcb, 0xef, 0xac, 0xea, 0x42, 0xf9, 0x14, 0xaa, 0x66, 0xbc, 0xab, 0x3f,
    0x2b, 0x98, 0x19, 0xa8, 0xa5, 0xb4, 0x6b, 0x39, 0x5b, 0xd5, 0x4a, 0x9a, 0x20, 0x44, 0x1e, 0x2b,
    0x62, 0x97, 0x4e, 0x1f, 0x5a, 0x62, 0x92, 0xa2, 0x97, 0x70, 0x14, 0xbd, 0x1e, 0x3d, 0xea, 0xe6,
    0x3a, 0xee, 0xbb, 0x21, 0x69, 0x49, 0x15, 0xe4,
];

/// RFC 8448 §3: the server's application_data record.
pub const RFC8448_SERVER_APP_RECORD: [u8; 72] = [
    0x17, 0x03, 0x03, 0x00, 0x43, 0x2e, 0x93, 0x7e, 0x11, 0xef, 0x4a, 0xc7, 0x40, 0xe5, 0x38, 0xad,
    0x36, 0x00, 0x5f, 0xc4, 0xa4, 0x69, 0x32, 0xfc, 0x32, 0x25, 0xd0, 0x5f, 0x82, 0xaa, 0x1b, 0x36,
    0xe3, 0x0e, 0xfa, 0xf9, 0x7d, 0x90, 0xe6, 0xdf, 0xfc, 0x60, 0x2d, 0xcb, 0x50, 0x1a, 0x59, 0xa8,
    0xfc, 0xc4, 0x9c, 0x4b, 0xf2, 0xe5, 0xf0, 0xa2, 0x1c, 0x00, 0x47, 0xc2, 0xab, 0xf3, 0x32, 0x54,
    0x0d, 0xd0, 0x32, 0xe1, 0x67, 0xc2, 0x95, 0x5d,
];

/// RFC 8448 §3: the client's close_notify alert record ("send alert record").
pub const RFC8448_CLIENT_ALERT_RECORD: [u8; 24] = [
    0x17, 0x03, 0x03, 0x00, 0x13, 0xc9, 0x87, 0x27, 0x60, 0x65, 0x56, 0x66, 0xb7, 0x4d, 0x7f, 0xf1,
    0x15, 0x3e, 0xfd, 0x6d, 0xb6, 0xd0, 0xb0, 0xe3,
];

/// RFC 8448 §3: the server's close_notify alert record.
pub const RFC8448_SERVER_ALERT_RECORD: [u8; 24] = [
    0x17, 0x03, 0x03, 0x00, 0x13, 0xb5, 0x8f, 0xd6, 0x71, 0x66, 0xeb, 0xf5, 0x99, 0xd2, 0x47, 0x20,
    0xcf, 0xbe, 0x7e, 0xfa, 0x7a, 0x88, 0x64, 0xa9,
];

/// RFC 8448 §3: the inner plaintext of both application_data records, 00 01 ... 31 then type 23.
pub const RFC8448_APP_INNER_PLAINTEXT: [u8; 51] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x17,
];

/// RFC 8448 §3: the inner plaintext of both alert records: close_notify (1, 0), then type 21.
pub const RFC8448_ALERT_INNER_PLAINTEXT: [u8; 3] = [0x01, 0x00, 0x15];

/// The header of the RFC 8448 application_data records, which is also their AAD.
const RFC8448_APP_HEADER: [u8; 5] = [0x17, 0x03, 0x03, 0x00, 0x43];

/// The header of the RFC 8448 alert records, which is also their AAD.
const RFC8448_ALERT_HEADER: [u8; 5] = [0x17, 0x03, 0x03, 0x00, 0x13];

/// RFC 8448 §3: the client's application_data record, record 0 of its application keys.
pub const RFC8448_CLIENT_APP_DATA: RecordVector = RecordVector {
    source: "RFC 8448 section 3, client application_data",
    protection: TLS13_AES128,
    key: &RFC8448_CLIENT_APP_KEY,
    write_iv: &RFC8448_CLIENT_APP_IV,
    sequence: 0,
    record: &RFC8448_CLIENT_APP_RECORD,
    // Sequence 0: the nonce is the IV itself.
    nonce: RFC8448_CLIENT_APP_IV,
    aad: &RFC8448_APP_HEADER,
    plaintext: &RFC8448_APP_INNER_PLAINTEXT,
};

/// RFC 8448 §3: the client's close_notify, record 1 of its application keys.
pub const RFC8448_CLIENT_ALERT: RecordVector = RecordVector {
    source: "RFC 8448 section 3, client alert",
    protection: TLS13_AES128,
    key: &RFC8448_CLIENT_APP_KEY,
    write_iv: &RFC8448_CLIENT_APP_IV,
    sequence: 1,
    record: &RFC8448_CLIENT_ALERT_RECORD,
    nonce: [
        0x5b, 0x78, 0x92, 0x3d, 0xee, 0x08, 0x57, 0x90, 0x33, 0xe5, 0x23, 0xd8,
    ],
    aad: &RFC8448_ALERT_HEADER,
    plaintext: &RFC8448_ALERT_INNER_PLAINTEXT,
};

/// RFC 8448 §3: the server's application_data, record 1 of its application keys.
pub const RFC8448_SERVER_APP_DATA: RecordVector = RecordVector {
    source: "RFC 8448 section 3, server application_data",
    protection: TLS13_AES128,
    key: &RFC8448_SERVER_APP_KEY,
    write_iv: &RFC8448_SERVER_APP_IV,
    sequence: 1,
    record: &RFC8448_SERVER_APP_RECORD,
    nonce: [
        0xcf, 0x78, 0x2b, 0x88, 0xdd, 0x83, 0x54, 0x9a, 0xad, 0xf1, 0xe9, 0x85,
    ],
    aad: &RFC8448_APP_HEADER,
    plaintext: &RFC8448_APP_INNER_PLAINTEXT,
};

/// RFC 8448 §3: the server's close_notify, record 2 of its application keys.
pub const RFC8448_SERVER_ALERT: RecordVector = RecordVector {
    source: "RFC 8448 section 3, server alert",
    protection: TLS13_AES128,
    key: &RFC8448_SERVER_APP_KEY,
    write_iv: &RFC8448_SERVER_APP_IV,
    sequence: 2,
    record: &RFC8448_SERVER_ALERT_RECORD,
    nonce: [
        0xcf, 0x78, 0x2b, 0x88, 0xdd, 0x83, 0x54, 0x9a, 0xad, 0xf1, 0xe9, 0x86,
    ],
    aad: &RFC8448_ALERT_HEADER,
    plaintext: &RFC8448_ALERT_INNER_PLAINTEXT,
};

// A DTLS 1.2 ECDHE-RSA-AES128-GCM-SHA256 session between OpenSSL 3.0 s_client and s_server on
// 127.0.0.1, recorded by tests/data/dtls12-aes128gcm/make-vector.sh, which also derived the key
// block from OpenSSL's key log. `cargo test` checks that these bytes equal the files there and
// decrypts both records. OpenSSL's explicit nonces start at a random value, so they are not the
// record numbers.

/// DTLS 1.2 (OpenSSL 3.0): the client's first application_data record, epoch 1, sequence 1.
pub const DTLS12_OPENSSL_CLIENT_RECORD: [u8; 67] = [
    0x17, 0xfe, 0xfd, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x36, 0x29, 0x35, 0x30,
    0xb9, 0xb4, 0x30, 0x10, 0x68, 0x2b, 0xe3, 0x3c, 0x0a, 0x8a, 0xaf, 0xd8, 0xf6, 0xd3, 0xcd, 0x37,
    0xef, 0xcc, 0x96, 0xdb, 0x05, 0x51, 0xa1, 0x5c, 0xec, 0xe7, 0x3c, 0x93, 0x98, 0x79, 0x56, 0x64,
    0x31, 0xfa, 0xaf, 0xe7, 0x97, 0xff, 0xef, 0x6a, 0x5b, 0xce, 0xb3, 0x63, 0xd0, 0x00, 0x74, 0x12,
    0xf1, 0x1e, 0x64,
];

/// DTLS 1.2 (OpenSSL 3.0): the server's first application_data record, epoch 1, sequence 1.
pub const DTLS12_OPENSSL_SERVER_RECORD: [u8; 80] = [
    0x17, 0xfe, 0xfd, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x43, 0xf7, 0xe1, 0x05,
    0x66, 0x8b, 0x4e, 0x99, 0xdd, 0xa4, 0x46, 0x80, 0x1c, 0x26, 0x46, 0xd0, 0x66, 0xce, 0xa9, 0x8d,
    0x50, 0x7d, 0x03, 0xf4, 0x20, 0x81, 0x48, 0x24, 0x90, 0xc1, 0xb5, 0x10, 0x3c, 0x2c, 0x0d, 0x0a,
    0x55, 0xe4, 0xde, 0x6e, 0xcd, 0x51, 0x82, 0x57, 0xc7, 0xbd, 0x66, 0x54, 0xdf, 0xef, 0x9b, 0xf9,
    0xfa, 0x61, 0x3a, 0xe6, 0x90, 0x6e, 0xc9, 0x67, 0x29, 0xd1, 0xbf, 0x74, 0xe8, 0xf8, 0x82, 0x2c,
];

/// DTLS 1.2 (OpenSSL 3.0): the client's write key.
pub const DTLS12_OPENSSL_CLIENT_KEY: [u8; 16] = [
    0x98, 0x39, 0xa8, 0x89, 0x77, 0x51, 0xc4, 0xba, 0x95, 0xd1, 0x4e, 0xf4, 0x56, 0x42, 0xe7, 0x31,
];

/// DTLS 1.2 (OpenSSL 3.0): the client's write salt (implicit nonce).
pub const DTLS12_OPENSSL_CLIENT_SALT: [u8; 4] = [0x06, 0x65, 0x02, 0x2e];

/// DTLS 1.2 (OpenSSL 3.0): the server's write key.
pub const DTLS12_OPENSSL_SERVER_KEY: [u8; 16] = [
    0xf0, 0x01, 0xcd, 0xe1, 0xe0, 0x86, 0x2a, 0xa9, 0x6b, 0xc2, 0x2d, 0xda, 0x45, 0xfd, 0x4c, 0x58,
];

/// DTLS 1.2 (OpenSSL 3.0): the server's write salt (implicit nonce).
pub const DTLS12_OPENSSL_SERVER_SALT: [u8; 4] = [0x2e, 0xdb, 0xb7, 0xa6];

/// DTLS 1.2 (OpenSSL 3.0): the client's record decrypts to this.
pub const DTLS12_OPENSSL_CLIENT_PLAINTEXT: &[u8; 30] = b"af_ktls DTLS 1.2 known answer\n";

/// DTLS 1.2 (OpenSSL 3.0): the server's record decrypts to this.
pub const DTLS12_OPENSSL_SERVER_PLAINTEXT: &[u8; 43] =
    b"af_ktls DTLS 1.2 known answer, server side\n";

/// DTLS 1.2 (OpenSSL 3.0): the client's record, epoch 1 sequence 1.
pub const DTLS12_OPENSSL_CLIENT_APP_DATA: RecordVector = RecordVector {
    source: "OpenSSL 3.0 DTLS 1.2 session, client application_data",
    protection: DTLS12_AES128,
    key: &DTLS12_OPENSSL_CLIENT_KEY,
    write_iv: &DTLS12_OPENSSL_CLIENT_SALT,
    sequence: 1 << 48 | 1,
    record: &DTLS12_OPENSSL_CLIENT_RECORD,
    // Salt, then the explicit nonce at the start of the payload.
    nonce: [
        0x06, 0x65, 0x02, 0x2e, 0x29, 0x35, 0x30, 0xb9, 0xb4, 0x30, 0x10, 0x68,
    ],
    // Epoch 1, sequence 1, application_data, 0xfefd, 30 bytes of plaintext.
    aad: &[
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x17, 0xfe, 0xfd, 0x00, 0x1e,
    ],
    plaintext: DTLS12_OPENSSL_CLIENT_PLAINTEXT,
};

/// DTLS 1.2 (OpenSSL 3.0): the server's record, epoch 1 sequence 1.
pub const DTLS12_OPENSSL_SERVER_APP_DATA: RecordVector = RecordVector {
    source: "OpenSSL 3.0 DTLS 1.2 session, server application_data",
    protection: DTLS12_AES128,
    key: &DTLS12_OPENSSL_SERVER_KEY,
    write_iv: &DTLS12_OPENSSL_SERVER_SALT,
    sequence: 1 << 48 | 1,
    record: &DTLS12_OPENSSL_SERVER_RECORD,
    nonce: [
        0x2e, 0xdb, 0xb7, 0xa6, 0xf7, 0xe1, 0x05, 0x66, 0x8b, 0x4e, 0x99, 0xdd,
    ],
    // Epoch 1, sequence 1, application_data, 0xfefd, 43 bytes of plaintext.
    aad: &[
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x17, 0xfe, 0xfd, 0x00, 0x2b,
    ],
    plaintext: DTLS12_OPENSSL_SERVER_PLAINTEXT,
};

/// Every known-answer record, for harnesses that check the full AEAD.
pub const RECORD_VECTORS: [RecordVector; 6] = [
    RFC8448_CLIENT_APP_DATA,
    RFC8448_CLIENT_ALERT,
    RFC8448_SERVER_APP_DATA,
    RFC8448_SERVER_ALERT,
    DTLS12_OPENSSL_CLIENT_APP_DATA,
    DTLS12_OPENSSL_SERVER_APP_DATA,
];

/// A decrypted TLS 1.3 record with 2^14 + 1 bytes of zero content, then type 23.
///
/// Static because it is too large for a kernel stack; `get(1..)` of it is exactly at the limit.
static INNER_OVER_LIMIT: [u8; MAX_PLAINTEXT_LEN + 2] = {
    let mut bytes = [0; MAX_PLAINTEXT_LEN + 2];
    bytes[MAX_PLAINTEXT_LEN + 1] = 23;
    bytes
};

/// Returns a DTLS record number known to be valid.
const fn record_number(epoch: u16, sequence: u64) -> DtlsRecordNumber {
    DtlsRecordNumber::from_be_bytes(
        ((epoch as u64) << 48 | (sequence & DTLS_MAX_SEQUENCE)).to_be_bytes(),
    )
}

/// Returns the 5-byte TLS header with the given fields.
const fn tls_bytes(content_type: u8, version: u16, length: u16) -> [u8; 5] {
    let [v0, v1] = version.to_be_bytes();
    let [l0, l1] = length.to_be_bytes();
    [content_type, v0, v1, l0, l1]
}

/// Returns the 13-byte DTLS header with the given fields.
const fn dtls_bytes(content_type: u8, version: u16, record: u64, length: u16) -> [u8; 13] {
    let [v0, v1] = version.to_be_bytes();
    let [r0, r1, r2, r3, r4, r5, r6, r7] = record.to_be_bytes();
    let [l0, l1] = length.to_be_bytes();
    [content_type, v0, v1, r0, r1, r2, r3, r4, r5, r6, r7, l0, l1]
}

/// Checks the UAPI numbers of versions and ciphers, both ways, and the rejection of others.
pub fn uapi_numbers_map_to_versions_and_ciphers() -> CaseResult {
    for (value, version) in [
        (0x0303, ProtocolVersion::Tls12),
        (0x0304, ProtocolVersion::Tls13),
        (0xfefd, ProtocolVersion::Dtls12),
    ] {
        ensure!(
            ProtocolVersion::from_uapi(value) == Ok(version),
            "KTLS_VERSION_* to map to its version"
        );
        ensure!(
            version.uapi() == value,
            "a version to map back to its KTLS_VERSION_*"
        );
    }
    for value in [0, 0x0301, 0x0302, 0x0305, 0xfeff, 0xfefc, 0xffff] {
        ensure!(
            ProtocolVersion::from_uapi(value) == Err(RecordError::UnknownVersion),
            "other version numbers (TLS 1.0/1.1, DTLS 1.0, DTLS 1.3) to be unknown"
        );
    }
    for (value, cipher, key_len, info_len) in [
        (51, CipherSuite::Aes128Gcm, 16, 40),
        (52, CipherSuite::Aes256Gcm, 32, 56),
        (54, CipherSuite::Chacha20Poly1305, 32, 56),
    ] {
        ensure!(
            CipherSuite::from_uapi(value) == Ok(cipher),
            "KTLS_CIPHER_* to map to its cipher"
        );
        ensure!(
            cipher.uapi() == value,
            "a cipher to map back to its KTLS_CIPHER_*"
        );
        ensure!(cipher.key_len() == key_len, "key lengths 16, 32, 32");
        ensure!(cipher.tag_len() == 16, "16-byte tags");
        ensure!(
            cipher.uapi_crypto_info_len() == info_len,
            "struct ktls_crypto_info_* sizes 40, 56, 56"
        );
    }
    for value in [0, 50, 53, 55, 56, 57, 58, 0xffff] {
        ensure!(
            CipherSuite::from_uapi(value) == Err(RecordError::UnknownCipher),
            "other cipher numbers (CCM, SM4, ARIA) to be unknown"
        );
    }
    ensure!(
        CipherSuite::Aes256Gcm.kernel_aead_name().to_bytes() == b"gcm(aes)",
        "AES-GCM to use the kernel's gcm(aes)"
    );
    ensure!(
        CipherSuite::Chacha20Poly1305.kernel_aead_name().to_bytes()
            == b"rfc7539(chacha20,poly1305)",
        "ChaCha20-Poly1305 to use the kernel's rfc7539(chacha20,poly1305)"
    );
    ensure!(
        RecordProtection::from_uapi(0xfefd, 54) == Ok(DTLS12_CHACHA),
        "a version and cipher pair to map to its protection"
    );
    ensure!(
        RecordProtection::from_uapi(0x0300, 50) == Err(RecordError::UnknownVersion),
        "an unknown version to be reported before an unknown cipher"
    );
    ensure!(
        RecordProtection::from_uapi(0x0304, 53) == Err(RecordError::UnknownCipher),
        "a known version with an unknown cipher to report the cipher"
    );
    Ok(())
}

/// Checks the content type values, which are also the `KTLS_RECORD_*` cmsg values.
pub fn content_types_map_to_uapi_values() -> CaseResult {
    for (value, content_type) in [
        (20, ContentType::ChangeCipherSpec),
        (21, ContentType::Alert),
        (22, ContentType::Handshake),
        (23, ContentType::ApplicationData),
    ] {
        ensure!(
            ContentType::from_wire(value) == Ok(content_type),
            "types 20 to 23 to be known"
        );
        ensure!(
            content_type.wire() == value,
            "a type to map back to its value"
        );
    }
    for value in [0, 19, 24, 25, 26, 255] {
        ensure!(
            ContentType::from_wire(value) == Err(RecordError::BadContentType),
            "other types (heartbeat, tls12_cid, ack, ...) to be rejected"
        );
    }
    Ok(())
}

/// Checks header, explicit nonce, tag and inner type lengths, overhead, limits and nonce scheme.
pub fn overhead_constants_per_version_and_cipher() -> CaseResult {
    // (protection, header, explicit nonce, inner type, min payload, overhead, max payload, scheme)
    let table = [
        (
            TLS12_AES128,
            5,
            8,
            0,
            24,
            29,
            18432,
            NonceScheme::SaltAndExplicit,
        ),
        (
            TLS12_AES256,
            5,
            8,
            0,
            24,
            29,
            18432,
            NonceScheme::SaltAndExplicit,
        ),
        (
            TLS12_CHACHA,
            5,
            0,
            0,
            16,
            21,
            18432,
            NonceScheme::IvXorSequence,
        ),
        (
            TLS13_AES128,
            5,
            0,
            1,
            17,
            22,
            16640,
            NonceScheme::IvXorSequence,
        ),
        (
            TLS13_AES256,
            5,
            0,
            1,
            17,
            22,
            16640,
            NonceScheme::IvXorSequence,
        ),
        (
            TLS13_CHACHA,
            5,
            0,
            1,
            17,
            22,
            16640,
            NonceScheme::IvXorSequence,
        ),
        (
            DTLS12_AES128,
            13,
            8,
            0,
            24,
            37,
            18432,
            NonceScheme::SaltAndExplicit,
        ),
        (
            DTLS12_AES256,
            13,
            8,
            0,
            24,
            37,
            18432,
            NonceScheme::SaltAndExplicit,
        ),
        (
            DTLS12_CHACHA,
            13,
            0,
            0,
            16,
            29,
            18432,
            NonceScheme::IvXorSequence,
        ),
    ];
    for (protection, header, explicit, inner, min, overhead, max, scheme) in table {
        ensure!(
            protection.header_len() == header,
            "headers of 5 (TLS) and 13 (DTLS) bytes"
        );
        ensure!(
            protection.explicit_nonce_len() == explicit,
            "an 8-byte explicit nonce for 1.2 AES-GCM only"
        );
        ensure!(protection.tag_len() == 16, "16-byte tags");
        ensure!(
            protection.inner_type_len() == inner,
            "a 1-byte inner content type for TLS 1.3 only"
        );
        ensure!(
            protection.min_payload_len() == min,
            "minimum lengths 24 (1.2 GCM), 16 (1.2 ChaCha), 17 (1.3)"
        );
        ensure!(
            protection.overhead() == overhead,
            "overhead = header + minimum length"
        );
        ensure!(
            protection.version().max_ciphertext_len() == max,
            "ciphertext limits 2^14 + 2048 (1.2) and 2^14 + 256 (1.3)"
        );
        ensure!(
            protection.max_payload_len() == 16384 + min,
            "the largest valid length: 2^14 bytes of plaintext plus the overhead"
        );
        ensure!(
            protection.nonce_scheme() == scheme,
            "salt and explicit nonce for 1.2 AES-GCM, IV XOR sequence otherwise"
        );
    }
    Ok(())
}

/// Checks that 2^14 bytes of plaintext fit in a record of every version and one more does not.
pub fn plaintext_limit_is_2_pow_14_for_every_version() -> CaseResult {
    for protection in ALL_PROTECTIONS {
        let min = protection.min_payload_len();
        ensure!(
            protection.payload_len(0).map(usize::from) == Ok(min),
            "an empty plaintext to need exactly the overhead"
        );
        ensure!(
            protection.payload_len(16384).map(usize::from) == Ok(16384 + min),
            "2^14 bytes of plaintext to be allowed"
        );
        ensure!(
            protection.payload_len(16385) == Err(RecordError::PlaintextTooLong),
            "2^14 + 1 bytes of plaintext to be too long"
        );
        ensure!(
            protection.payload_len(usize::MAX) == Err(RecordError::PlaintextTooLong),
            "a huge plaintext to be too long, not to overflow"
        );
    }
    Ok(())
}

/// Checks the decrypted length of received records against overhead and plaintext limit.
pub fn decrypted_len_enforces_overhead_and_plaintext_limit() -> CaseResult {
    for protection in ALL_PROTECTIONS {
        let min = protection.min_payload_len() as u16;
        let inner = protection.inner_type_len() as u16;
        ensure!(
            protection.decrypted_len(min) == Ok(inner),
            "a minimum-length record to decrypt to nothing (1.3: just the type)"
        );
        ensure!(
            protection.decrypted_len(min - 1) == Err(RecordError::LengthBelowOverhead),
            "a record shorter than the overhead to be rejected"
        );
        ensure!(
            protection.decrypted_len(0) == Err(RecordError::LengthBelowOverhead),
            "an empty record to be below the overhead"
        );
        ensure!(
            protection.decrypted_len(16384 + min) == Ok(16384 + inner),
            "2^14 bytes of plaintext to be accepted"
        );
        ensure!(
            protection.decrypted_len(16385 + min) == Err(RecordError::PlaintextTooLong),
            "2^14 + 1 bytes of plaintext to be too long"
        );
        ensure!(
            protection.decrypted_len(u16::MAX) == Err(RecordError::PlaintextTooLong),
            "the largest length field to be too long"
        );
    }
    Ok(())
}

/// Checks that TLS 1.2 headers of every content type survive build then parse, byte for byte.
pub fn tls12_header_round_trips() -> CaseResult {
    for protection in [TLS12_AES128, TLS12_AES256, TLS12_CHACHA] {
        for content_type in ALL_CONTENT_TYPES {
            // 16400: 2^14 bytes of plaintext with ChaCha20-Poly1305, the longest valid for all three.
            for length in [24, 1000, 16400] {
                let Ok(header) = TlsHeader::new(protection, content_type, length) else {
                    return Err(CaseFailure {
                        expectation: "valid TLS 1.2 header fields to be accepted",
                        line: line!(),
                    });
                };
                let bytes = header.to_bytes();
                ensure!(
                    bytes == tls_bytes(content_type.wire(), 0x0303, length),
                    "type, 0x0303, big-endian length on the wire"
                );
                ensure!(
                    TlsHeader::parse(protection, &bytes) == Ok(header),
                    "a built TLS 1.2 header to parse back to itself"
                );
                ensure!(
                    header.record_len() == 5 + usize::from(length),
                    "the record length to include the header"
                );
            }
        }
    }
    Ok(())
}

/// Checks TLS 1.3 headers: built from a plaintext with the outer type 23, and parsed back.
pub fn tls13_header_round_trips() -> CaseResult {
    for protection in [TLS13_AES128, TLS13_AES256, TLS13_CHACHA] {
        for length in [17, 1000, 16401] {
            let Ok(header) = TlsHeader::new(protection, ContentType::ApplicationData, length)
            else {
                return Err(CaseFailure {
                    expectation: "valid TLS 1.3 header fields to be accepted",
                    line: line!(),
                });
            };
            ensure!(
                TlsHeader::parse(protection, &header.to_bytes()) == Ok(header),
                "a built TLS 1.3 header to parse back to itself"
            );
        }
        for content_type in ALL_CONTENT_TYPES {
            let header = TlsHeader::for_plaintext(protection, content_type, 2);
            ensure!(
                header.map(TlsHeader::to_bytes) == Ok(tls_bytes(23, 0x0303, 19)),
                "a TLS 1.3 record to carry outer type 23, 0x0303, content + 1 + 16"
            );
        }
    }
    Ok(())
}

/// Checks that DTLS 1.2 headers survive build then parse, epoch and 48-bit sequence included.
pub fn dtls12_header_round_trips() -> CaseResult {
    for protection in [DTLS12_AES128, DTLS12_AES256, DTLS12_CHACHA] {
        for content_type in ALL_CONTENT_TYPES {
            for (epoch, sequence) in [(0, 0), (1, 0x0102_0304_0506), (0xffff, DTLS_MAX_SEQUENCE)] {
                let number = record_number(epoch, sequence);
                let Ok(header) = DtlsHeader::new(protection, content_type, number, 1000) else {
                    return Err(CaseFailure {
                        expectation: "valid DTLS 1.2 header fields to be accepted",
                        line: line!(),
                    });
                };
                let bytes = header.to_bytes();
                ensure!(
                    bytes == dtls_bytes(content_type.wire(), 0xfefd, number.as_u64(), 1000),
                    "type, 0xfefd, epoch, 48-bit sequence, length on the wire"
                );
                ensure!(
                    DtlsHeader::parse(protection, &bytes) == Ok(header),
                    "a built DTLS header to parse back to itself"
                );
                ensure!(
                    header.record_number().epoch() == epoch
                        && header.record_number().sequence() == sequence,
                    "the header to keep epoch and sequence apart"
                );
                ensure!(
                    header.record_len() == 1013,
                    "the record length to include the header"
                );
            }
        }
    }
    Ok(())
}

/// Checks that a header cut short is reported as truncated, at every length.
pub fn header_rejects_truncated_input() -> CaseResult {
    let tls = tls_bytes(23, 0x0303, 100);
    let dtls = dtls_bytes(23, 0xfefd, 1 << 48, 100);
    for len in 0..5 {
        let bytes = tls.get(..len).unwrap_or(&[]);
        ensure!(
            TlsHeader::parse(TLS12_AES128, bytes) == Err(RecordError::Truncated),
            "fewer than 5 bytes of TLS header to be truncated"
        );
    }
    for len in 0..13 {
        let bytes = dtls.get(..len).unwrap_or(&[]);
        ensure!(
            DtlsHeader::parse(DTLS12_AES128, bytes) == Err(RecordError::Truncated),
            "fewer than 13 bytes of DTLS header to be truncated"
        );
    }
    Ok(())
}

/// Checks that unknown content types are rejected in TLS 1.2 and DTLS 1.2 headers.
pub fn header_rejects_unknown_content_type() -> CaseResult {
    for content_type in [0, 19, 24, 25, 26, 0x80, 0xff] {
        ensure!(
            TlsHeader::parse(TLS12_AES128, &tls_bytes(content_type, 0x0303, 100))
                == Err(RecordError::BadContentType),
            "an unknown type in a TLS header to be rejected"
        );
        ensure!(
            DtlsHeader::parse(DTLS12_CHACHA, &dtls_bytes(content_type, 0xfefd, 1, 100))
                == Err(RecordError::BadContentType),
            "an unknown type in a DTLS header to be rejected"
        );
    }
    Ok(())
}

/// Checks that a protected TLS 1.3 record must have the outer type application_data.
pub fn tls13_header_requires_application_data_outer_type() -> CaseResult {
    for content_type in [20, 21, 22] {
        ensure!(
            TlsHeader::parse(TLS13_AES128, &tls_bytes(content_type, 0x0303, 100))
                == Err(RecordError::BadContentType),
            "outer types other than 23 in TLS 1.3 to be rejected"
        );
    }
    ensure!(
        TlsHeader::new(TLS13_CHACHA, ContentType::Handshake, 100)
            == Err(RecordError::BadContentType),
        "a TLS 1.3 header with outer type handshake not to be built"
    );
    ensure!(
        TlsHeader::parse(TLS13_AES128, &tls_bytes(23, 0x0303, 100)).is_ok(),
        "outer type 23 in TLS 1.3 to be accepted"
    );
    Ok(())
}

/// Checks that the version field must be 0x0303 in TLS (1.2 and 1.3) and 0xfefd in DTLS 1.2.
pub fn header_rejects_bad_version() -> CaseResult {
    for version in [0x0300, 0x0301, 0x0302, 0x0304, 0xfefd, 0x0000] {
        for protection in [TLS12_AES128, TLS13_AES128] {
            ensure!(
                TlsHeader::parse(protection, &tls_bytes(23, version, 100))
                    == Err(RecordError::BadVersion),
                "TLS versions other than 0x0303 (0x0304 included) to be rejected"
            );
        }
    }
    for version in [0xfeff, 0xfefc, 0x0303, 0x0000] {
        ensure!(
            DtlsHeader::parse(DTLS12_AES128, &dtls_bytes(23, version, 1, 100))
                == Err(RecordError::BadVersion),
            "DTLS versions other than 0xfefd (DTLS 1.0's 0xfeff included) to be rejected"
        );
    }
    Ok(())
}

/// Checks that the TLS header functions refuse DTLS protections and the reverse.
pub fn header_kind_must_match_protocol() -> CaseResult {
    ensure!(
        TlsHeader::parse(DTLS12_AES128, &tls_bytes(23, 0xfefd, 100))
            == Err(RecordError::BadVersion),
        "a TLS header not to be parsed under DTLS"
    );
    ensure!(
        DtlsHeader::parse(TLS12_AES128, &dtls_bytes(23, 0x0303, 1, 100))
            == Err(RecordError::BadVersion),
        "a DTLS header not to be parsed under TLS"
    );
    ensure!(
        TlsHeader::new(DTLS12_CHACHA, ContentType::Alert, 100) == Err(RecordError::BadVersion),
        "a TLS header not to be built under DTLS"
    );
    ensure!(
        DtlsHeader::new(
            TLS13_AES128,
            ContentType::ApplicationData,
            record_number(1, 1),
            100
        ) == Err(RecordError::BadVersion),
        "a DTLS header not to be built under TLS"
    );
    Ok(())
}

/// Checks the length limits of received headers, at the exact boundaries: 2^14 bytes of plaintext
/// plus the overhead is the longest record (`PlaintextTooLong` one byte above it), and past the
/// version's ciphertext limit (2^14 + 2048 for TLS/DTLS 1.2, 2^14 + 256 for TLS 1.3) the length
/// is `CiphertextTooLong`. Both are `EMSGSIZE`.
pub fn header_length_limits_per_version() -> CaseResult {
    for protection in [
        TLS12_AES128,
        TLS12_AES256,
        TLS12_CHACHA,
        TLS13_AES128,
        TLS13_CHACHA,
    ] {
        let longest = 16384 + protection.min_payload_len() as u16;
        ensure!(
            TlsHeader::parse(protection, &tls_bytes(23, 0x0303, longest)).is_ok(),
            "a record of 2^14 bytes of plaintext (1.3: and its content type) to be accepted"
        );
        ensure!(
            TlsHeader::parse(protection, &tls_bytes(23, 0x0303, longest + 1))
                == Err(RecordError::PlaintextTooLong),
            "a record of 2^14 + 1 bytes of plaintext (1.3: or one byte of padding) to be too long"
        );
    }
    for protection in [TLS12_AES128, TLS12_CHACHA] {
        ensure!(
            TlsHeader::parse(protection, &tls_bytes(23, 0x0303, 18432))
                == Err(RecordError::PlaintextTooLong),
            "a TLS 1.2 length of 2^14 + 2048 to carry too much plaintext"
        );
        ensure!(
            TlsHeader::parse(protection, &tls_bytes(23, 0x0303, 18433))
                == Err(RecordError::CiphertextTooLong),
            "a TLS 1.2 length of 2^14 + 2049 to be over the ciphertext limit"
        );
    }
    // TLS 1.3: 2^14 bytes of content with 100 bytes of padding is 2^14 + 101 bytes inside.
    ensure!(
        TlsHeader::parse(TLS13_AES256, &tls_bytes(23, 0x0303, 16384 + 1 + 100 + 16))
            == Err(RecordError::PlaintextTooLong),
        "TLS 1.3 content of 2^14 bytes plus padding to be too long"
    );
    ensure!(
        TlsHeader::parse(TLS13_AES256, &tls_bytes(23, 0x0303, 16640))
            == Err(RecordError::PlaintextTooLong),
        "a TLS 1.3 length of 2^14 + 256 to carry too much plaintext"
    );
    ensure!(
        TlsHeader::parse(TLS13_AES256, &tls_bytes(23, 0x0303, 16641))
            == Err(RecordError::CiphertextTooLong),
        "a TLS 1.3 length of 2^14 + 257 to be over the ciphertext limit"
    );
    ensure!(
        TlsHeader::parse(TLS13_CHACHA, &tls_bytes(23, 0x0303, 0xffff))
            == Err(RecordError::CiphertextTooLong),
        "the largest length field to be too long"
    );
    for (protection, longest) in [(DTLS12_AES128, 16408), (DTLS12_CHACHA, 16400)] {
        ensure!(
            DtlsHeader::parse(protection, &dtls_bytes(23, 0xfefd, 1, longest)).is_ok(),
            "a DTLS 1.2 record of 2^14 bytes of plaintext to be accepted"
        );
        ensure!(
            DtlsHeader::parse(protection, &dtls_bytes(23, 0xfefd, 1, longest + 1))
                == Err(RecordError::PlaintextTooLong),
            "a DTLS 1.2 record of 2^14 + 1 bytes of plaintext to be too long"
        );
    }
    ensure!(
        DtlsHeader::parse(DTLS12_AES128, &dtls_bytes(23, 0xfefd, 1, 18433))
            == Err(RecordError::CiphertextTooLong),
        "a DTLS 1.2 length of 2^14 + 2049 to be over the ciphertext limit"
    );
    ensure!(
        TlsHeader::new(TLS13_AES128, ContentType::ApplicationData, 16641)
            == Err(RecordError::CiphertextTooLong),
        "a TLS 1.3 header over the limit not to be built"
    );
    ensure!(
        TlsHeader::new(TLS13_AES128, ContentType::ApplicationData, 16402)
            == Err(RecordError::PlaintextTooLong),
        "a TLS 1.3 header for too much plaintext not to be built"
    );
    Ok(())
}

/// Checks the smallest lengths: explicit nonce + tag (+ inner type), per version and cipher.
pub fn header_rejects_length_below_overhead() -> CaseResult {
    for (protection, min) in [(TLS12_AES128, 24), (TLS12_CHACHA, 16), (TLS13_CHACHA, 17)] {
        ensure!(
            TlsHeader::parse(protection, &tls_bytes(23, 0x0303, min)).is_ok(),
            "a TLS length equal to the overhead to be accepted"
        );
        for length in [0, min - 1] {
            ensure!(
                TlsHeader::parse(protection, &tls_bytes(23, 0x0303, length))
                    == Err(RecordError::LengthBelowOverhead),
                "a TLS length below the overhead to be rejected"
            );
        }
    }
    for (protection, min) in [(DTLS12_AES256, 24), (DTLS12_CHACHA, 16)] {
        ensure!(
            DtlsHeader::parse(protection, &dtls_bytes(22, 0xfefd, 7, min)).is_ok(),
            "a DTLS length equal to the overhead to be accepted"
        );
        ensure!(
            DtlsHeader::parse(protection, &dtls_bytes(22, 0xfefd, 7, min - 1))
                == Err(RecordError::LengthBelowOverhead),
            "a DTLS length below the overhead to be rejected"
        );
    }
    Ok(())
}

/// Checks that errors come in mainline's order: length, version, then content type.
pub fn header_checks_in_mainline_order() -> CaseResult {
    ensure!(
        TlsHeader::parse(TLS12_AES128, &tls_bytes(99, 0x0301, 20000))
            == Err(RecordError::CiphertextTooLong),
        "a length over the limit to win over bad version and type (EMSGSIZE)"
    );
    ensure!(
        TlsHeader::parse(TLS12_AES128, &tls_bytes(99, 0x0301, 3))
            == Err(RecordError::LengthBelowOverhead),
        "a length below the overhead to win over bad version and type (EBADMSG)"
    );
    ensure!(
        TlsHeader::parse(TLS12_AES128, &tls_bytes(99, 0x0301, 100)) == Err(RecordError::BadVersion),
        "a bad version to win over a bad type (EINVAL)"
    );
    ensure!(
        DtlsHeader::parse(DTLS12_AES128, &dtls_bytes(99, 0xfeff, 1, 20000))
            == Err(RecordError::CiphertextTooLong),
        "the same order for DTLS"
    );
    ensure!(
        DtlsHeader::parse(DTLS12_AES128, &dtls_bytes(99, 0xfeff, 1, 100))
            == Err(RecordError::BadVersion),
        "the same order for DTLS, version before type"
    );
    Ok(())
}

/// Checks splitting whole records off a buffer, and truncation inside the payload.
pub fn split_record_needs_the_whole_payload() -> CaseResult {
    let mut stream = [0u8; 5 + 24 + 3];
    let (header, rest) = stream.split_at_mut(5);
    header.copy_from_slice(&tls_bytes(23, 0x0303, 24));
    if let Some(first) = rest.first_mut() {
        *first = 0xaa;
    }
    for cut in 5..29 {
        let bytes = stream.get(..cut).unwrap_or(&[]);
        ensure!(
            TlsHeader::split_record(TLS12_AES128, bytes) == Err(RecordError::Truncated),
            "a TLS record with part of its payload to be truncated"
        );
    }
    let Ok((header, payload, rest)) = TlsHeader::split_record(TLS12_AES128, &stream) else {
        return Err(CaseFailure {
            expectation: "a whole TLS record to split",
            line: line!(),
        });
    };
    ensure!(header.length() == 24, "the split header to be the record's");
    ensure!(
        payload.len() == 24 && payload.first() == Some(&0xaa),
        "the payload to follow the header"
    );
    ensure!(rest.len() == 3, "the bytes after the record to be returned");

    // Two DTLS records in one datagram, as RFC 6347 §4.1.1 allows.
    let mut datagram = [0u8; 2 * (13 + 16)];
    let (first, second) = datagram.split_at_mut(13 + 16);
    if let (Some(a), Some(b)) = (first.get_mut(..13), second.get_mut(..13)) {
        a.copy_from_slice(&dtls_bytes(23, 0xfefd, 1 << 48 | 5, 16));
        b.copy_from_slice(&dtls_bytes(21, 0xfefd, 1 << 48 | 6, 16));
    }
    let Ok((a, _, rest)) = DtlsHeader::split_record(DTLS12_CHACHA, &datagram) else {
        return Err(CaseFailure {
            expectation: "the first DTLS record to split",
            line: line!(),
        });
    };
    let Ok((b, _, rest)) = DtlsHeader::split_record(DTLS12_CHACHA, rest) else {
        return Err(CaseFailure {
            expectation: "the second DTLS record to split",
            line: line!(),
        });
    };
    ensure!(
        a.record_number().sequence() == 5 && b.record_number().sequence() == 6,
        "the records in datagram order"
    );
    ensure!(
        b.content_type() == ContentType::Alert && rest.is_empty(),
        "nothing after the last record"
    );
    let short = datagram.get(..13 + 15).unwrap_or(&[]);
    ensure!(
        DtlsHeader::split_record(DTLS12_CHACHA, short) == Err(RecordError::Truncated),
        "a DTLS record cut short to be truncated"
    );
    Ok(())
}

/// Checks the length fields of records built for a plaintext, per version and cipher.
pub fn for_plaintext_builds_protected_lengths() -> CaseResult {
    let app = ContentType::ApplicationData;
    ensure!(
        TlsHeader::for_plaintext(TLS12_AES128, app, 100).map(TlsHeader::length) == Ok(124),
        "TLS 1.2 AES-GCM: 8 + 100 + 16"
    );
    ensure!(
        TlsHeader::for_plaintext(TLS12_CHACHA, app, 100).map(TlsHeader::length) == Ok(116),
        "TLS 1.2 ChaCha20-Poly1305: 100 + 16"
    );
    ensure!(
        TlsHeader::for_plaintext(TLS13_AES256, ContentType::Alert, 100).map(TlsHeader::to_bytes)
            == Ok(tls_bytes(23, 0x0303, 117)),
        "TLS 1.3: outer type 23, 100 + 1 + 16"
    );
    ensure!(
        DtlsHeader::for_plaintext(DTLS12_AES128, app, record_number(2, 9), 100)
            .map(DtlsHeader::to_bytes)
            == Ok(dtls_bytes(23, 0xfefd, 2 << 48 | 9, 124)),
        "DTLS 1.2 AES-GCM: epoch 2, sequence 9, 8 + 100 + 16"
    );
    ensure!(
        TlsHeader::for_plaintext(TLS12_AES128, ContentType::Handshake, 100)
            .map(TlsHeader::content_type)
            == Ok(ContentType::Handshake),
        "TLS 1.2 to keep the content type in the header"
    );
    ensure!(
        TlsHeader::for_plaintext(TLS13_AES128, app, 16385) == Err(RecordError::PlaintextTooLong),
        "a TLS plaintext over 2^14 to be refused"
    );
    ensure!(
        DtlsHeader::for_plaintext(DTLS12_CHACHA, app, record_number(1, 1), 16385)
            == Err(RecordError::PlaintextTooLong),
        "a DTLS plaintext over 2^14 to be refused"
    );
    Ok(())
}

/// Checks the TLS 1.2 AES-GCM nonce: 4-byte salt, then the record's 8-byte explicit nonce.
pub fn tls12_gcm_nonce_is_salt_then_explicit() -> CaseResult {
    let nonce = salted_nonce(&[1, 2, 3, 4], &[5, 6, 7, 8, 9, 10, 11, 12]);
    ensure!(
        nonce == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        "salt(4) followed by explicit(8)"
    );
    Ok(())
}

/// Checks the explicit nonce af_ktls sends: the UAPI iv XOR the sequence number.
pub fn tls12_explicit_nonce_is_base_xor_sequence() -> CaseResult {
    ensure!(
        tls12_explicit_nonce(&[0; 8], 0x0102_0304_0506_0708) == [1, 2, 3, 4, 5, 6, 7, 8],
        "a zero base to give the big-endian sequence (GnuTLS's nonce)"
    );
    ensure!(
        tls12_explicit_nonce(&[0xff; 8], 1) == [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe],
        "the base XOR the sequence, not plus"
    );
    ensure!(
        tls12_explicit_nonce(&[0x5a; 8], 7) != tls12_explicit_nonce(&[0x5a; 8], 8),
        "distinct sequence numbers to give distinct nonces"
    );
    Ok(())
}

/// Checks the TLS 1.2 ChaCha20-Poly1305 nonce (RFC 7905 §2): IV XOR the padded sequence.
pub fn tls12_chacha_nonce_is_iv_xor_padded_sequence() -> CaseResult {
    let iv = [
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
    ];
    ensure!(xor_nonce(&iv, 0) == iv, "sequence 0 to give the IV itself");
    ensure!(
        xor_nonce(&iv, 0x0102_0304_0506_0708)
            == [0x10, 0x11, 0x12, 0x13, 0x15, 0x17, 0x15, 0x13, 0x1d, 0x1f, 0x1d, 0x13],
        "the sequence XORed into the last 8 bytes, the first 4 untouched"
    );
    ensure!(
        xor_nonce(&iv, u64::MAX)
            == [0x10, 0x11, 0x12, 0x13, 0xeb, 0xea, 0xe9, 0xe8, 0xe7, 0xe6, 0xe5, 0xe4],
        "the largest sequence to flip all of the last 8 bytes"
    );
    Ok(())
}

/// Checks the DTLS 1.2 AES-GCM nonce: salt, then epoch and 48-bit sequence as explicit nonce.
pub fn dtls12_gcm_nonce_is_salt_epoch_sequence() -> CaseResult {
    let number = record_number(1, 5);
    let explicit = dtls12_explicit_nonce(number);
    ensure!(
        explicit == [0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05],
        "the explicit nonce to be epoch(2) then sequence(6)"
    );
    ensure!(
        salted_nonce(&[0xa0, 0xa1, 0xa2, 0xa3], &explicit)
            == [0xa0, 0xa1, 0xa2, 0xa3, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05],
        "salt ‖ epoch ‖ sequence"
    );
    Ok(())
}

/// Checks the DTLS 1.2 ChaCha20-Poly1305 nonce: IV XOR (epoch ‖ 48-bit sequence).
pub fn dtls12_chacha_nonce_is_iv_xor_epoch_sequence() -> CaseResult {
    let iv = [0u8; 12];
    let number = record_number(0x0102, 0x0304_0506_0708);
    ensure!(
        xor_nonce(&iv, number.as_u64()) == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8],
        "epoch and sequence in the last 8 bytes"
    );
    ensure!(
        xor_nonce(&[0xff; 12], record_number(1, 2).as_u64())
            == [0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd],
        "the IV XOR epoch ‖ sequence"
    );
    Ok(())
}

/// Checks the TLS 1.2 AAD: sequence(8) ‖ type ‖ 0x0303 ‖ plaintext length(2).
pub fn tls12_aad_is_sequence_type_version_length() -> CaseResult {
    ensure!(
        tls12_aad(0x0102_0304_0506_0708, ContentType::ApplicationData, 0x1234)
            == [1, 2, 3, 4, 5, 6, 7, 8, 0x17, 0x03, 0x03, 0x12, 0x34],
        "sequence, type 23, 0x0303, length"
    );
    ensure!(
        tls12_aad(0, ContentType::Alert, 2) == [0, 0, 0, 0, 0, 0, 0, 0, 0x15, 0x03, 0x03, 0, 2],
        "sequence 0, alert, 2 bytes"
    );
    Ok(())
}

/// Checks the DTLS 1.2 AAD: epoch(2) ‖ sequence(6) ‖ type ‖ 0xfefd ‖ plaintext length(2).
pub fn dtls12_aad_is_epoch_sequence_type_version_length() -> CaseResult {
    ensure!(
        dtls12_aad(
            record_number(2, 0x0a0b_0c0d_0e0f),
            ContentType::Handshake,
            0x0010
        ) == [0, 2, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x16, 0xfe, 0xfd, 0x00, 0x10],
        "epoch, sequence, type 22, 0xfefd, length"
    );
    Ok(())
}

/// Checks parsing and building the headers of the RFC 8448 §3 TLS 1.3 records.
pub fn rfc8448_header_known_answer() -> CaseResult {
    for vector in [RFC8448_CLIENT_APP_DATA, RFC8448_SERVER_APP_DATA] {
        let Ok((header, payload, rest)) = TlsHeader::split_record(vector.protection, vector.record)
        else {
            return Err(CaseFailure {
                expectation: "the RFC 8448 application_data records to parse",
                line: line!(),
            });
        };
        ensure!(
            header.content_type() == ContentType::ApplicationData && header.length() == 0x43,
            "outer type 23 and length 67"
        );
        ensure!(
            payload.len() == 67 && rest.is_empty(),
            "the record to be exactly header + 67"
        );
        ensure!(
            TlsHeader::for_plaintext(vector.protection, ContentType::ApplicationData, 50)
                .map(TlsHeader::to_bytes)
                == Ok(RFC8448_APP_HEADER),
            "50 bytes of application data to get the RFC's header 17 03 03 00 43"
        );
        ensure!(
            vector.protection.decrypted_len(header.length()) == Ok(51),
            "51 bytes to decrypt: 50 of content and the type"
        );
    }
    for vector in [RFC8448_CLIENT_ALERT, RFC8448_SERVER_ALERT] {
        ensure!(
            TlsHeader::parse(vector.protection, vector.record).map(TlsHeader::length) == Ok(0x13),
            "the RFC 8448 alert records to have length 19"
        );
        ensure!(
            TlsHeader::for_plaintext(vector.protection, ContentType::Alert, 2)
                .map(TlsHeader::to_bytes)
                == Ok(RFC8448_ALERT_HEADER),
            "a 2-byte alert to get the RFC's header 17 03 03 00 13"
        );
    }
    Ok(())
}

/// Checks the TLS 1.3 nonces of the RFC 8448 §3 records: write IV XOR sequence.
pub fn rfc8448_nonce_known_answer() -> CaseResult {
    for vector in [
        RFC8448_CLIENT_APP_DATA,
        RFC8448_CLIENT_ALERT,
        RFC8448_SERVER_APP_DATA,
        RFC8448_SERVER_ALERT,
    ] {
        let Ok(iv) = <[u8; 12]>::try_from(vector.write_iv) else {
            return Err(CaseFailure {
                expectation: "a 12-byte TLS 1.3 write IV",
                line: line!(),
            });
        };
        ensure!(
            xor_nonce(&iv, vector.sequence) == vector.nonce,
            "the RFC 8448 nonces: client 0 and 1, server 1 and 2"
        );
    }
    ensure!(
        xor_nonce(&RFC8448_CLIENT_APP_IV, 0) == RFC8448_CLIENT_APP_IV,
        "record 0 to use the IV unchanged"
    );
    Ok(())
}

/// Checks the TLS 1.3 AAD of the RFC 8448 §3 records: their own 5-byte header.
pub fn rfc8448_aad_known_answer() -> CaseResult {
    for vector in [
        RFC8448_CLIENT_APP_DATA,
        RFC8448_CLIENT_ALERT,
        RFC8448_SERVER_APP_DATA,
        RFC8448_SERVER_ALERT,
    ] {
        let Ok(header) = TlsHeader::parse(vector.protection, vector.record) else {
            return Err(CaseFailure {
                expectation: "the RFC 8448 records to parse",
                line: line!(),
            });
        };
        let aad = tls13_aad(header.length());
        ensure!(
            aad.as_slice() == vector.aad,
            "the AAD to be the record header"
        );
        ensure!(
            aad == header.to_bytes(),
            "the AAD to equal the built header"
        );
        ensure!(
            vector.record.get(..5) == Some(aad.as_slice()),
            "the AAD to equal the header bytes on the wire"
        );
    }
    Ok(())
}

/// Checks the inner plaintexts of the RFC 8448 §3 records.
pub fn rfc8448_inner_plaintext_known_answer() -> CaseResult {
    let app = InnerPlaintext::parse(&RFC8448_APP_INNER_PLAINTEXT);
    ensure!(
        app.map(|inner| (inner.content_type(), inner.content_len()))
            == Ok((ContentType::ApplicationData, 50)),
        "50 bytes of application_data"
    );
    let alert = InnerPlaintext::parse(&RFC8448_ALERT_INNER_PLAINTEXT);
    ensure!(
        alert.map(|inner| (inner.content_type(), inner.content_len()))
            == Ok((ContentType::Alert, 2)),
        "a 2-byte alert"
    );
    Ok(())
}

/// Checks parsing the headers of the OpenSSL DTLS 1.2 records.
pub fn dtls12_openssl_header_known_answer() -> CaseResult {
    for (vector, length, plaintext_len) in [
        (DTLS12_OPENSSL_CLIENT_APP_DATA, 54, 30),
        (DTLS12_OPENSSL_SERVER_APP_DATA, 67, 43),
    ] {
        let Ok((header, payload, rest)) =
            DtlsHeader::split_record(vector.protection, vector.record)
        else {
            return Err(CaseFailure {
                expectation: "the OpenSSL DTLS records to parse",
                line: line!(),
            });
        };
        ensure!(
            header.content_type() == ContentType::ApplicationData,
            "application_data"
        );
        ensure!(
            header.record_number().epoch() == 1 && header.record_number().sequence() == 1,
            "epoch 1, sequence 1 (the Finished was sequence 0)"
        );
        ensure!(
            header.record_number().as_u64() == vector.sequence,
            "the vector's sequence"
        );
        ensure!(
            header.length() == length && payload.len() == usize::from(length) && rest.is_empty(),
            "the length field to cover the rest of the record"
        );
        ensure!(
            vector.protection.decrypted_len(length) == Ok(plaintext_len),
            "the plaintext length: length - 8 - 16"
        );
        ensure!(
            DtlsHeader::for_plaintext(
                vector.protection,
                ContentType::ApplicationData,
                header.record_number(),
                usize::from(plaintext_len),
            )
            .map(DtlsHeader::to_bytes)
            .ok()
            .as_ref()
            .map(<[u8; 13]>::as_slice)
                == vector.record.get(..13),
            "the same header built from the plaintext length"
        );
    }
    Ok(())
}

/// Checks the nonce (salt ‖ explicit nonce from the record) and AAD of the OpenSSL records.
pub fn dtls12_openssl_nonce_and_aad_known_answer() -> CaseResult {
    for vector in [
        DTLS12_OPENSSL_CLIENT_APP_DATA,
        DTLS12_OPENSSL_SERVER_APP_DATA,
    ] {
        let Ok((header, payload, _)) = DtlsHeader::split_record(vector.protection, vector.record)
        else {
            return Err(CaseFailure {
                expectation: "the OpenSSL DTLS records to parse",
                line: line!(),
            });
        };
        let (Some((explicit, _)), Ok(salt)) = (
            payload.split_first_chunk::<8>(),
            <[u8; 4]>::try_from(vector.write_iv),
        ) else {
            return Err(CaseFailure {
                expectation: "an 8-byte explicit nonce and a 4-byte salt",
                line: line!(),
            });
        };
        ensure!(
            vector.protection.nonce_scheme() == NonceScheme::SaltAndExplicit,
            "DTLS 1.2 AES-GCM to carry explicit nonces"
        );
        ensure!(
            salted_nonce(&salt, explicit) == vector.nonce,
            "salt ‖ the explicit nonce OpenSSL sent"
        );
        let Ok(plaintext_len) = vector.protection.decrypted_len(header.length()) else {
            return Err(CaseFailure {
                expectation: "a plaintext length",
                line: line!(),
            });
        };
        let aad = dtls12_aad(header.record_number(), header.content_type(), plaintext_len);
        ensure!(
            aad.as_slice() == vector.aad,
            "epoch ‖ sequence ‖ 23 ‖ 0xfefd ‖ plaintext length"
        );
    }
    Ok(())
}

/// Checks that the content type is found behind zero padding.
pub fn inner_plaintext_finds_type_behind_padding() -> CaseResult {
    let inner = InnerPlaintext::parse(&[b'h', b'i', 22, 0, 0, 0, 0]);
    ensure!(
        inner.map(|inner| (inner.content_type(), inner.content_len()))
            == Ok((ContentType::Handshake, 2)),
        "content 'hi', type handshake, 4 bytes of padding"
    );
    let inner = InnerPlaintext::parse(&[0, 0, 0, 23, 0]);
    ensure!(
        inner.map(|inner| (inner.content_type(), inner.content_len()))
            == Ok((ContentType::ApplicationData, 3)),
        "zero bytes of content before the type to stay content"
    );
    Ok(())
}

/// Checks inner plaintexts without padding, empty content included.
pub fn inner_plaintext_without_padding() -> CaseResult {
    ensure!(
        InnerPlaintext::parse(&[23]).map(|inner| (inner.content_type(), inner.content_len()))
            == Ok((ContentType::ApplicationData, 0)),
        "a lone type byte to be empty application data"
    );
    ensure!(
        InnerPlaintext::parse(&[1, 2, 3, 21])
            .map(|inner| (inner.content_type(), inner.content_len()))
            == Ok((ContentType::Alert, 3)),
        "the last byte to be the type"
    );
    Ok(())
}

/// Checks that an all-zero (or empty) decrypted TLS 1.3 record is an error.
pub fn inner_plaintext_all_zero_is_rejected() -> CaseResult {
    ensure!(
        InnerPlaintext::parse(&[]) == Err(RecordError::MissingInnerContentType),
        "an empty plaintext to have no type"
    );
    ensure!(
        InnerPlaintext::parse(&[0; 64]) == Err(RecordError::MissingInnerContentType),
        "an all-zero plaintext to have no type"
    );
    ensure!(
        InnerPlaintext::parse(INNER_OVER_LIMIT.get(..MAX_PLAINTEXT_LEN).unwrap_or(&[1]))
            == Err(RecordError::MissingInnerContentType),
        "2^14 zeros to have no type"
    );
    Ok(())
}

/// Checks that unknown inner types and a protected change_cipher_spec are rejected.
pub fn inner_plaintext_rejects_bad_content_type() -> CaseResult {
    for plaintext in [
        &[1u8, 0x19, 0][..],
        &[24],
        &[0xff, 0],
        &[20],
        &[1, 20, 0, 0],
    ] {
        ensure!(
            InnerPlaintext::parse(plaintext) == Err(RecordError::BadContentType),
            "unknown inner types and change_cipher_spec to be rejected"
        );
    }
    Ok(())
}

/// Checks that 2^14 bytes of content are accepted and 2^14 + 1 rejected.
pub fn inner_plaintext_rejects_content_over_limit() -> CaseResult {
    let at_limit = INNER_OVER_LIMIT.get(1..).unwrap_or(&[]);
    ensure!(
        InnerPlaintext::parse(at_limit).map(InnerPlaintext::content_len) == Ok(MAX_PLAINTEXT_LEN),
        "2^14 bytes of content to be accepted"
    );
    ensure!(
        InnerPlaintext::parse(&INNER_OVER_LIMIT) == Err(RecordError::PlaintextTooLong),
        "2^14 + 1 bytes of content to be too long"
    );
    Ok(())
}

/// Checks that a TLS counter starts at the UAPI's big-endian rec_seq and counts up.
pub fn tls_sequence_counts_from_rec_seq() -> CaseResult {
    let mut sequence = TlsSequence::from_rec_seq([0, 0, 0, 0, 0, 0, 1, 5]);
    ensure!(sequence.peek() == Some(0x105), "rec_seq to be big endian");
    ensure!(
        sequence.take() == Ok(0x105),
        "the first record to get rec_seq"
    );
    ensure!(
        sequence.take() == Ok(0x106),
        "the next record to get rec_seq + 1"
    );
    ensure!(sequence.peek() == Some(0x107), "peek not to advance");
    ensure!(
        sequence.peek() == Some(0x107),
        "peek twice to give the same"
    );
    Ok(())
}

/// Checks that a TLS counter hands out 2^64 - 1 once and then fails, for good.
pub fn tls_sequence_fails_after_u64_max_instead_of_wrapping() -> CaseResult {
    let mut sequence = TlsSequence::new(u64::MAX - 1);
    ensure!(sequence.take() == Ok(u64::MAX - 1), "2^64 - 2 to be used");
    ensure!(sequence.take() == Ok(u64::MAX), "2^64 - 1 to be used");
    ensure!(
        sequence.take() == Err(RecordError::SequenceExhausted),
        "no number after 2^64 - 1, not a wrap to 0"
    );
    ensure!(
        sequence.take() == Err(RecordError::SequenceExhausted),
        "the exhausted counter to stay exhausted"
    );
    ensure!(sequence.peek().is_none(), "nothing left to peek at");
    let mut sequence = TlsSequence::from_rec_seq([0xff; 8]);
    ensure!(
        sequence.take() == Ok(u64::MAX),
        "a rec_seq of all ones to allow one record"
    );
    ensure!(
        sequence.take() == Err(RecordError::SequenceExhausted),
        "and then none"
    );
    Ok(())
}

/// Checks that a DTLS counter stops after sequence 2^48 - 1 and never carries into the epoch.
pub fn dtls_sequence_fails_after_48_bits_without_touching_epoch() -> CaseResult {
    let mut sequence = DtlsSequence::new(record_number(3, DTLS_MAX_SEQUENCE - 1));
    ensure!(
        sequence.take() == Ok(record_number(3, DTLS_MAX_SEQUENCE - 1)),
        "2^48 - 2 to be used"
    );
    ensure!(
        sequence.take() == Ok(record_number(3, DTLS_MAX_SEQUENCE)),
        "2^48 - 1 to be used in the same epoch"
    );
    ensure!(
        sequence.take() == Err(RecordError::SequenceExhausted),
        "no epoch 4 sequence 0 after epoch 3 sequence 2^48 - 1"
    );
    ensure!(
        sequence.take() == Err(RecordError::SequenceExhausted),
        "the exhausted counter to stay exhausted"
    );
    let mut sequence = DtlsSequence::from_rec_seq([0, 1, 0, 0, 0, 0, 0, 1]);
    ensure!(
        sequence.take() == Ok(record_number(1, 1)),
        "rec_seq to be epoch then sequence"
    );
    ensure!(
        sequence.peek() == Some(record_number(1, 2)),
        "the next sequence in the same epoch"
    );
    Ok(())
}

/// Checks that a DTLS record number refuses sequence numbers over 48 bits.
pub fn dtls_record_number_rejects_sequence_over_48_bits() -> CaseResult {
    ensure!(
        DtlsRecordNumber::new(0, 1 << 48) == Err(RecordError::SequenceOutOfRange),
        "2^48 not to fit"
    );
    ensure!(
        DtlsRecordNumber::new(5, u64::MAX) == Err(RecordError::SequenceOutOfRange),
        "2^64 - 1 not to fit"
    );
    let Ok(number) = DtlsRecordNumber::new(0xffff, DTLS_MAX_SEQUENCE) else {
        return Err(CaseFailure {
            expectation: "the largest epoch and sequence to fit",
            line: line!(),
        });
    };
    ensure!(number.to_be_bytes() == [0xff; 8], "all ones on the wire");
    ensure!(
        number.epoch() == 0xffff && number.sequence() == DTLS_MAX_SEQUENCE,
        "epoch and sequence to stay apart"
    );
    Ok(())
}

/// Checks the 8-byte form of DTLS record numbers: epoch then sequence, big endian.
pub fn dtls_record_number_round_trips_rec_seq() -> CaseResult {
    let number = DtlsRecordNumber::from_be_bytes([0x00, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x07]);
    ensure!(number.epoch() == 2, "the first 2 bytes to be the epoch");
    ensure!(
        number.sequence() == 0x0100_0007,
        "the last 6 bytes to be the sequence"
    );
    ensure!(
        number.as_u64() == 2 << 48 | 0x0100_0007,
        "the integer form to be epoch << 48 | sequence"
    );
    ensure!(
        number.to_be_bytes() == [0x00, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x07],
        "the bytes to round-trip"
    );
    ensure!(
        DtlsRecordNumber::new(2, 0x0100_0007) == Ok(number),
        "new to agree with the bytes"
    );
    Ok(())
}

/// Checks that a fresh window accepts sequence 0 (the 2016 AF_KTLS window could not).
pub fn window_accepts_zero_on_fresh_window() -> CaseResult {
    let mut window = ReplayWindow::new();
    ensure!(
        window.highest().is_none(),
        "a fresh window to have no highest"
    );
    ensure!(window.check(0) == Ok(()), "sequence 0 to pass the check");
    ensure!(window.mark(0) == Ok(()), "sequence 0 to be marked");
    ensure!(window.highest() == Some(0), "0 to be the highest");
    ensure!(
        window.check(0) == Err(RecordError::Replayed),
        "0 again to be a replay"
    );
    ensure!(window.check(1) == Ok(()), "1 to follow");
    Ok(())
}

/// Checks that exact duplicates are rejected, at the edge and inside the window.
pub fn window_rejects_exact_duplicates() -> CaseResult {
    let mut window = ReplayWindow::new();
    ensure!(window.mark(5) == Ok(()), "5 to be accepted");
    ensure!(
        window.check(5) == Err(RecordError::Replayed),
        "5 again to be a replay"
    );
    ensure!(
        window.mark(5) == Err(RecordError::Replayed),
        "5 not to be marked twice"
    );
    ensure!(window.mark(9) == Ok(()), "9 to be accepted");
    ensure!(window.mark(7) == Ok(()), "7 to be accepted late");
    ensure!(
        window.check(7) == Err(RecordError::Replayed),
        "7 again to be a replay"
    );
    ensure!(
        window.check(5) == Err(RecordError::Replayed),
        "5 to stay seen after a shift"
    );
    ensure!(window.check(6) == Ok(()), "6, never seen, to be accepted");
    Ok(())
}

/// Checks that records arriving out of order inside the window are each accepted once.
pub fn window_accepts_reordering_inside_window() -> CaseResult {
    let mut window = ReplayWindow::new();
    for sequence in [10, 7, 9, 8, 12, 11, 3] {
        ensure!(
            window.check(sequence) == Ok(()),
            "each new number to pass the check"
        );
        ensure!(
            window.mark(sequence) == Ok(()),
            "each new number to be marked"
        );
    }
    ensure!(window.highest() == Some(12), "12 to be the highest");
    for sequence in [3, 7, 8, 9, 10, 11, 12] {
        ensure!(
            window.check(sequence) == Err(RecordError::Replayed),
            "each marked number to be a replay"
        );
    }
    for sequence in [0, 1, 2, 4, 5, 6, 13] {
        ensure!(
            window.check(sequence) == Ok(()),
            "each unmarked number to pass"
        );
    }
    Ok(())
}

/// Checks the left edge: 63 behind the highest is inside, 64 behind is too old.
pub fn window_left_edge_is_63_behind_highest() -> CaseResult {
    let mut window = ReplayWindow::new();
    ensure!(window.mark(100) == Ok(()), "100 to be accepted");
    ensure!(
        window.check(37) == Ok(()),
        "100 - 63 to be inside the window"
    );
    ensure!(
        window.check(36) == Err(RecordError::TooOld),
        "100 - 64 to be too old"
    );
    ensure!(
        window.check(0) == Err(RecordError::TooOld),
        "0 to be too old"
    );
    ensure!(
        window.mark(36) == Err(RecordError::TooOld),
        "a too-old number not to be marked"
    );
    ensure!(window.mark(37) == Ok(()), "100 - 63 to be marked");
    ensure!(
        window.highest() == Some(100),
        "a late record not to move the edge"
    );
    Ok(())
}

/// Checks that a jump of more than 64 forgets every old bit.
pub fn window_jump_beyond_64_resets_bitmap() -> CaseResult {
    let mut window = ReplayWindow::new();
    for sequence in 0..10 {
        ensure!(window.mark(sequence) == Ok(()), "0 to 9 to be accepted");
    }
    ensure!(window.mark(200) == Ok(()), "a jump to 200 to be accepted");
    ensure!(
        window.check(200) == Err(RecordError::Replayed),
        "200 to be marked"
    );
    ensure!(
        window.check(199) == Ok(()),
        "199, never seen, to be accepted"
    );
    ensure!(
        window.check(137) == Ok(()),
        "200 - 63, never seen, to be accepted"
    );
    ensure!(
        window.check(136) == Err(RecordError::TooOld),
        "200 - 64 to be too old"
    );
    ensure!(
        window.check(9) == Err(RecordError::TooOld),
        "the old numbers to be too old"
    );
    ensure!(window.mark(150) == Ok(()), "150 to be marked");
    ensure!(
        window.check(150) == Err(RecordError::Replayed),
        "150 to be a replay"
    );
    Ok(())
}

/// Checks jumps of exactly 63 (the old edge stays, at the far end) and 64 (it falls out).
pub fn window_jumps_of_63_and_64_keep_the_right_bits() -> CaseResult {
    let mut window = ReplayWindow::new();
    ensure!(window.mark(1) == Ok(()), "1 to be accepted");
    ensure!(window.mark(64) == Ok(()), "a jump of 63 to be accepted");
    ensure!(
        window.check(1) == Err(RecordError::Replayed),
        "1 to be remembered at the far end"
    );
    ensure!(window.check(2) == Ok(()), "2 to be unseen");
    ensure!(
        window.check(0) == Err(RecordError::TooOld),
        "0 to be left of the window"
    );

    let mut window = ReplayWindow::new();
    ensure!(window.mark(1) == Ok(()), "1 to be accepted");
    ensure!(window.mark(65) == Ok(()), "a jump of 64 to be accepted");
    ensure!(
        window.check(1) == Err(RecordError::TooOld),
        "1 to have left the window"
    );
    ensure!(window.check(2) == Ok(()), "2 to be unseen, at the far end");
    ensure!(
        window.check(65) == Err(RecordError::Replayed),
        "65 to be marked"
    );
    Ok(())
}

/// Checks that `check` alone never moves the window, as for a record that fails to decrypt.
pub fn window_check_does_not_move_window() -> CaseResult {
    let mut window = ReplayWindow::new();
    ensure!(window.mark(10) == Ok(()), "10 to be accepted");
    let before = window;
    ensure!(
        window.check(1_000_000) == Ok(()),
        "a far number to pass the check"
    );
    ensure!(window == before, "the check to change nothing");
    ensure!(
        window.highest() == Some(10),
        "a forged far record not to move the edge"
    );
    ensure!(window.check(5) == Ok(()), "5 to stay inside the window");
    ensure!(
        window.check(1_000_000) == Ok(()),
        "the forged number to stay unmarked"
    );
    Ok(())
}

/// Checks that two copies of one record can pass `check` but only one can be marked.
pub fn window_mark_fails_for_concurrent_duplicate() -> CaseResult {
    let mut window = ReplayWindow::new();
    ensure!(window.mark(20) == Ok(()), "20 to be accepted");
    ensure!(window.check(15) == Ok(()), "the first copy of 15 to pass");
    ensure!(
        window.check(15) == Ok(()),
        "the second copy of 15 to pass before either marks"
    );
    ensure!(window.mark(15) == Ok(()), "the first copy to be marked");
    ensure!(
        window.mark(15) == Err(RecordError::Replayed),
        "the second copy not to be marked"
    );
    ensure!(window.check(30) == Ok(()), "both copies of 30 to pass");
    ensure!(
        window.mark(30) == Ok(()),
        "the first copy of 30 to move the edge"
    );
    ensure!(
        window.mark(30) == Err(RecordError::Replayed),
        "the second copy of 30 to be refused"
    );
    Ok(())
}

/// Checks the window at the largest 48-bit sequence number.
pub fn window_handles_48_bit_maximum() -> CaseResult {
    let mut window = ReplayWindow::new();
    ensure!(
        window.check(DTLS_MAX_SEQUENCE) == Ok(()),
        "2^48 - 1 to pass on a fresh window"
    );
    ensure!(
        window.mark(DTLS_MAX_SEQUENCE) == Ok(()),
        "2^48 - 1 to be marked"
    );
    ensure!(
        window.highest() == Some(DTLS_MAX_SEQUENCE),
        "2^48 - 1 to be the highest"
    );
    ensure!(
        window.check(DTLS_MAX_SEQUENCE) == Err(RecordError::Replayed),
        "2^48 - 1 again to be a replay"
    );
    ensure!(
        window.check(DTLS_MAX_SEQUENCE - 1) == Ok(()),
        "2^48 - 2 to be accepted"
    );
    ensure!(
        window.check(DTLS_MAX_SEQUENCE - 63) == Ok(()),
        "the far end to be accepted"
    );
    ensure!(
        window.check(DTLS_MAX_SEQUENCE - 64) == Err(RecordError::TooOld),
        "64 behind to be too old"
    );
    let mut window = ReplayWindow::new();
    ensure!(
        window.mark(DTLS_MAX_SEQUENCE - 100) == Ok(()),
        "2^48 - 101 to be accepted"
    );
    ensure!(
        window.mark(DTLS_MAX_SEQUENCE) == Ok(()),
        "a jump to 2^48 - 1 to be accepted"
    );
    ensure!(
        window.check(DTLS_MAX_SEQUENCE - 100) == Err(RecordError::TooOld),
        "the jump to leave 2^48 - 101 behind"
    );
    Ok(())
}

/// Checks that sequence numbers of more than 48 bits are refused, without changing the window.
pub fn window_rejects_sequence_beyond_48_bits() -> CaseResult {
    let mut window = ReplayWindow::new();
    for sequence in [1 << 48, (1 << 48) + 1, u64::MAX] {
        ensure!(
            window.check(sequence) == Err(RecordError::SequenceOutOfRange),
            "over 48 bits to be out of range on a fresh window"
        );
        ensure!(
            window.mark(sequence) == Err(RecordError::SequenceOutOfRange),
            "over 48 bits not to be marked"
        );
    }
    ensure!(
        window.highest().is_none(),
        "the refused numbers not to change the window"
    );
    ensure!(
        window.mark(DTLS_MAX_SEQUENCE) == Ok(()),
        "2^48 - 1 to be accepted"
    );
    ensure!(
        window.check(1 << 48) == Err(RecordError::SequenceOutOfRange),
        "2^48 to be out of range after 2^48 - 1"
    );
    ensure!(
        ReplayWindow::after(1 << 48) == Err(RecordError::SequenceOutOfRange),
        "a handoff beyond 48 bits to be refused"
    );
    Ok(())
}

/// Checks a window taken over from userspace: only numbers after the last received pass.
pub fn window_after_handoff_accepts_only_newer() -> CaseResult {
    let Ok(mut window) = ReplayWindow::after(5) else {
        return Err(CaseFailure {
            expectation: "a handoff at 5 to be valid",
            line: line!(),
        });
    };
    ensure!(window.highest() == Some(5), "5 to be the highest");
    ensure!(
        window.check(5) == Err(RecordError::Replayed),
        "5 to count as received"
    );
    ensure!(
        window.check(0) == Err(RecordError::Replayed),
        "0 to count as received"
    );
    ensure!(window.check(6) == Ok(()), "6 to be accepted");
    ensure!(window.mark(8) == Ok(()), "8 to be accepted");
    ensure!(
        window.check(7) == Ok(()),
        "7, after the handoff, to be accepted"
    );
    ensure!(
        window.check(4) == Err(RecordError::Replayed),
        "4 to stay received"
    );
    let Ok(window) = ReplayWindow::after(100) else {
        return Err(CaseFailure {
            expectation: "a handoff at 100 to be valid",
            line: line!(),
        });
    };
    ensure!(
        window.check(37) == Err(RecordError::Replayed),
        "the far end to count as received"
    );
    ensure!(
        window.check(36) == Err(RecordError::TooOld),
        "left of the window to be too old"
    );
    Ok(())
}

/// Checks that a reset window (a new epoch) accepts anything again, 0 included.
pub fn window_reset_starts_a_new_epoch() -> CaseResult {
    let mut window = ReplayWindow::new();
    ensure!(window.mark(100) == Ok(()), "100 to be accepted");
    window.reset();
    ensure!(window.highest().is_none(), "a reset window to be fresh");
    ensure!(
        window == ReplayWindow::default(),
        "a reset window to equal a new one"
    );
    ensure!(
        window.mark(0) == Ok(()),
        "0 to be accepted in the new epoch"
    );
    Ok(())
}

/// Checks each error's errno: mainline's where it has the same check.
pub fn errors_map_to_mainline_errnos() -> CaseResult {
    ensure!(
        EINVAL == 22 && EBADMSG == 74 && EMSGSIZE == 90,
        "Linux's errno values"
    );
    for (error, errno) in [
        (RecordError::Truncated, EBADMSG),
        (RecordError::BadContentType, EBADMSG),
        (RecordError::BadVersion, EINVAL),
        (RecordError::CiphertextTooLong, EMSGSIZE),
        (RecordError::PlaintextTooLong, EMSGSIZE),
        (RecordError::LengthBelowOverhead, EBADMSG),
        (RecordError::MissingInnerContentType, EBADMSG),
        (RecordError::SequenceExhausted, EBADMSG),
        (RecordError::SequenceOutOfRange, EINVAL),
        (RecordError::Replayed, EBADMSG),
        (RecordError::TooOld, EBADMSG),
        (RecordError::UnknownVersion, EINVAL),
        (RecordError::UnknownCipher, EINVAL),
    ] {
        ensure!(
            error.errno() == errno,
            "EMSGSIZE over the limit, EBADMSG below it or malformed, EINVAL for versions"
        );
        ensure!(
            !error.description().is_empty(),
            "a description for every error"
        );
    }
    Ok(())
}

/// A KeyUpdate message (type 24, length 1, update_not_requested).
const KEY_UPDATE: [u8; 5] = [24, 0, 0, 1, 0];

/// A NewSessionTicket-like message: type 4 and a 6-byte body.
const TICKET: [u8; 10] = [4, 0, 0, 6, 1, 2, 3, 4, 5, 6];

/// Checks that a record holding only a KeyUpdate announces the key change.
pub fn key_update_alone_ends_its_record() -> CaseResult {
    let mut framing = HandshakeFraming::new();
    ensure!(
        framing.record(&KEY_UPDATE) == Ok(KeyChange::KeyUpdate),
        "a lone KeyUpdate to change the keys"
    );
    ensure!(
        framing.record(&TICKET) == Ok(KeyChange::None),
        "the next record (under the new keys) to start at a message boundary"
    );
    Ok(())
}

/// Checks a KeyUpdate behind other messages in its record.
pub fn key_update_after_other_messages_in_one_record() -> CaseResult {
    let mut record = [0u8; TICKET.len() * 2 + KEY_UPDATE.len()];
    let (tickets, update) = record.split_at_mut(TICKET.len() * 2);
    let (first, second) = tickets.split_at_mut(TICKET.len());
    first.copy_from_slice(&TICKET);
    second.copy_from_slice(&TICKET);
    update.copy_from_slice(&KEY_UPDATE);
    ensure!(
        HandshakeFraming::new().record(&record) == Ok(KeyChange::KeyUpdate),
        "two tickets then a KeyUpdate to change the keys"
    );
    ensure!(
        HandshakeFraming::new().record(&TICKET) == Ok(KeyChange::None),
        "a ticket alone to change nothing"
    );
    Ok(())
}

/// Checks that a message after a KeyUpdate in the same record is a protocol error.
pub fn key_update_followed_by_a_message_is_refused() -> CaseResult {
    let mut record = [0u8; KEY_UPDATE.len() + TICKET.len()];
    let (update, ticket) = record.split_at_mut(KEY_UPDATE.len());
    update.copy_from_slice(&KEY_UPDATE);
    ticket.copy_from_slice(&TICKET);
    ensure!(
        HandshakeFraming::new().record(&record) == Err(RecordError::KeyChangeInsideRecord),
        "a ticket after a KeyUpdate to be refused"
    );
    ensure!(
        HandshakeFraming::new().record(&[24, 0, 0, 0, 4])
            == Err(RecordError::KeyChangeInsideRecord),
        "a byte after an empty KeyUpdate to be refused"
    );
    ensure!(
        RecordError::KeyChangeInsideRecord.errno() == super::error::EPROTO,
        "the errno to be EPROTO"
    );
    Ok(())
}

/// Checks that a KeyUpdate split over two records is a protocol error, in its header or body.
pub fn key_update_spanning_records_is_refused() -> CaseResult {
    let (head, tail) = KEY_UPDATE.split_at(2);
    ensure!(
        HandshakeFraming::new().record(head) == Err(RecordError::KeyChangeInsideRecord),
        "a KeyUpdate header cut by the record's end to be refused"
    );
    let (head, _) = KEY_UPDATE.split_at(4);
    ensure!(
        HandshakeFraming::new().record(head) == Err(RecordError::KeyChangeInsideRecord),
        "a KeyUpdate body in the next record to be refused"
    );
    ensure!(tail.len() == 3, "the split to be 2 + 3 bytes");
    Ok(())
}

/// Checks that other messages may span records and that the framing follows them.
pub fn messages_spanning_records_are_followed() -> CaseResult {
    let mut framing = HandshakeFraming::new();
    let (a, rest) = TICKET.split_at(3);
    let (b, c) = rest.split_at(4);
    ensure!(
        framing.record(a) == Ok(KeyChange::None),
        "a ticket's first 3 bytes to change nothing"
    );
    ensure!(
        framing.record(b) == Ok(KeyChange::None),
        "its next 4 bytes to change nothing"
    );
    let mut record = [0u8; 3 + KEY_UPDATE.len()];
    let (end, update) = record.split_at_mut(c.len());
    end.copy_from_slice(c);
    update.copy_from_slice(&KEY_UPDATE);
    ensure!(
        framing.record(&record) == Ok(KeyChange::KeyUpdate),
        "the ticket's end then a KeyUpdate to change the keys"
    );
    // Bytes that look like a KeyUpdate inside another message's body are not one.
    let mut framing = HandshakeFraming::new();
    ensure!(
        framing.record(&[4, 0, 0, 5, 24, 0, 0, 1, 0]) == Ok(KeyChange::None),
        "a KeyUpdate's bytes inside a ticket's body to change nothing"
    );
    Ok(())
}
