// SPDX-License-Identifier: GPL-2.0

//! Protocol versions and ciphers, and what they add to a record: overhead and length limits.
//!
//! The numbers are those of `include/uapi/linux/ktls.h`: versions are the wire values and
//! ciphers are mainline kernel TLS's `TLS_CIPHER_*`.

use core::ffi::CStr;

use super::{
    error::RecordError,
    nonce::NonceScheme, //
};

/// `KTLS_VERSION_TLS_1_2`: TLS 1.2, the version field of its record headers.
pub const KTLS_VERSION_TLS_1_2: u16 = 0x0303;

/// `KTLS_VERSION_TLS_1_3`: TLS 1.3 (its record headers still carry 0x0303).
pub const KTLS_VERSION_TLS_1_3: u16 = 0x0304;

/// `KTLS_VERSION_DTLS_1_2`: DTLS 1.2, the version field of its record headers.
pub const KTLS_VERSION_DTLS_1_2: u16 = 0xfefd;

/// `KTLS_CIPHER_AES_GCM_128`: AES-128-GCM.
pub const KTLS_CIPHER_AES_GCM_128: u16 = 51;

/// `KTLS_CIPHER_AES_GCM_256`: AES-256-GCM.
pub const KTLS_CIPHER_AES_GCM_256: u16 = 52;

/// `KTLS_CIPHER_CHACHA20_POLY1305`: ChaCha20-Poly1305.
pub const KTLS_CIPHER_CHACHA20_POLY1305: u16 = 54;

/// Largest plaintext of one record in every version: 2^14 bytes (RFC 5246 §6.2.1, RFC 8446 §5.1).
pub const MAX_PLAINTEXT_LEN: usize = 1 << 14;

/// Largest length field of a TLS 1.2 or DTLS 1.2 record (RFC 5246 §6.2.3, RFC 6347 §4.1).
pub const MAX_CIPHERTEXT_LEN_TLS12: usize = MAX_PLAINTEXT_LEN + 2048;

/// Largest length field of a TLS 1.3 record (RFC 8446 §5.2).
pub const MAX_CIPHERTEXT_LEN_TLS13: usize = MAX_PLAINTEXT_LEN + 256;

/// Length of a TLS record header: type, version, length.
pub const TLS_HEADER_LEN: usize = 5;

/// Length of a DTLS 1.2 record header: type, version, epoch, 48-bit sequence number, length.
pub const DTLS_HEADER_LEN: usize = 13;

/// Length of the authentication tag of every supported AEAD.
pub const AEAD_TAG_LEN: usize = 16;

/// Length of the AEAD nonce of every supported cipher.
pub const NONCE_LEN: usize = 12;

/// Length of the explicit nonce a TLS 1.2 or DTLS 1.2 AES-GCM record carries (RFC 5288 §3).
pub const GCM_EXPLICIT_NONCE_LEN: usize = 8;

/// Length of the implicit part (salt) of a TLS 1.2 or DTLS 1.2 AES-GCM nonce (RFC 5288 §3).
pub const GCM_SALT_LEN: usize = 4;

/// Length of the content type a TLS 1.3 record carries inside its ciphertext (RFC 8446 §5.2).
pub const TLS13_INNER_TYPE_LEN: usize = 1;

/// A protocol version af_ktls supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolVersion {
    /// TLS 1.2 (RFC 5246), over TCP.
    Tls12,
    /// TLS 1.3 (RFC 8446), over TCP.
    Tls13,
    /// DTLS 1.2 (RFC 6347), over UDP.
    Dtls12,
}

impl ProtocolVersion {
    /// Returns the version with the UAPI number `value` (`KTLS_VERSION_*`).
    pub const fn from_uapi(value: u16) -> Result<Self, RecordError> {
        match value {
            KTLS_VERSION_TLS_1_2 => Ok(Self::Tls12),
            KTLS_VERSION_TLS_1_3 => Ok(Self::Tls13),
            KTLS_VERSION_DTLS_1_2 => Ok(Self::Dtls12),
            _ => Err(RecordError::UnknownVersion),
        }
    }

    /// Returns the UAPI number of this version (`KTLS_VERSION_*`).
    #[must_use]
    pub const fn uapi(self) -> u16 {
        match self {
            Self::Tls12 => KTLS_VERSION_TLS_1_2,
            Self::Tls13 => KTLS_VERSION_TLS_1_3,
            Self::Dtls12 => KTLS_VERSION_DTLS_1_2,
        }
    }

    /// Returns the value of the version field in this version's record headers.
    ///
    /// TLS 1.3 records carry the TLS 1.2 value (`legacy_record_version`, RFC 8446 §5.1).
    #[must_use]
    pub const fn record_version(self) -> u16 {
        match self {
            Self::Tls12 | Self::Tls13 => KTLS_VERSION_TLS_1_2,
            Self::Dtls12 => KTLS_VERSION_DTLS_1_2,
        }
    }

    /// Returns whether this version runs over datagrams (DTLS) rather than a stream.
    #[must_use]
    pub const fn is_datagram(self) -> bool {
        matches!(self, Self::Dtls12)
    }

    /// Returns the length of this version's record header.
    #[must_use]
    pub const fn header_len(self) -> usize {
        match self {
            Self::Tls12 | Self::Tls13 => TLS_HEADER_LEN,
            Self::Dtls12 => DTLS_HEADER_LEN,
        }
    }

    /// Returns the largest length field this version allows in a protected record.
    #[must_use]
    pub const fn max_ciphertext_len(self) -> usize {
        match self {
            Self::Tls12 | Self::Dtls12 => MAX_CIPHERTEXT_LEN_TLS12,
            Self::Tls13 => MAX_CIPHERTEXT_LEN_TLS13,
        }
    }
}

/// An AEAD cipher af_ktls supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherSuite {
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 8439; in TLS 1.2 and DTLS 1.2 per RFC 7905).
    Chacha20Poly1305,
}

impl CipherSuite {
    /// Returns the cipher with the UAPI number `value` (`KTLS_CIPHER_*`).
    pub const fn from_uapi(value: u16) -> Result<Self, RecordError> {
        match value {
            KTLS_CIPHER_AES_GCM_128 => Ok(Self::Aes128Gcm),
            KTLS_CIPHER_AES_GCM_256 => Ok(Self::Aes256Gcm),
            KTLS_CIPHER_CHACHA20_POLY1305 => Ok(Self::Chacha20Poly1305),
            _ => Err(RecordError::UnknownCipher),
        }
    }

    /// Returns the UAPI number of this cipher (`KTLS_CIPHER_*`).
    #[must_use]
    pub const fn uapi(self) -> u16 {
        match self {
            Self::Aes128Gcm => KTLS_CIPHER_AES_GCM_128,
            Self::Aes256Gcm => KTLS_CIPHER_AES_GCM_256,
            Self::Chacha20Poly1305 => KTLS_CIPHER_CHACHA20_POLY1305,
        }
    }

    /// Returns the key length in bytes.
    #[must_use]
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm => 16,
            Self::Aes256Gcm | Self::Chacha20Poly1305 => 32,
        }
    }

    /// Returns the length of the authentication tag.
    #[must_use]
    pub const fn tag_len(self) -> usize {
        AEAD_TAG_LEN
    }

    /// Returns the size of this cipher's `struct ktls_crypto_info_*`, the only valid `optlen`.
    #[must_use]
    pub const fn uapi_crypto_info_len(self) -> usize {
        // Header (version, cipher_type) + iv + key + salt + rec_seq, with no padding.
        match self {
            Self::Aes128Gcm => 4 + 8 + 16 + 4 + 8,
            Self::Aes256Gcm => 4 + 8 + 32 + 4 + 8,
            Self::Chacha20Poly1305 => 4 + 12 + 32 + 8,
        }
    }

    /// Returns the name of the kernel crypto API's AEAD for this cipher (mainline's names).
    #[must_use]
    pub const fn kernel_aead_name(self) -> &'static CStr {
        match self {
            Self::Aes128Gcm | Self::Aes256Gcm => c"gcm(aes)",
            Self::Chacha20Poly1305 => c"rfc7539(chacha20,poly1305)",
        }
    }
}

/// How one direction of a connection protects its records: a protocol version and a cipher.
///
/// Every combination is valid. The methods give the per-record overhead and length limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordProtection {
    version: ProtocolVersion,
    cipher: CipherSuite,
}

impl RecordProtection {
    /// Returns the protection of `version` with `cipher`.
    #[must_use]
    pub const fn new(version: ProtocolVersion, cipher: CipherSuite) -> Self {
        Self { version, cipher }
    }

    /// Returns the protection named by the UAPI numbers of a version and a cipher.
    pub const fn from_uapi(version: u16, cipher: u16) -> Result<Self, RecordError> {
        // The version is checked first: it decides which cipher structures are meaningful.
        let version = match ProtocolVersion::from_uapi(version) {
            Ok(version) => version,
            Err(err) => return Err(err),
        };
        match CipherSuite::from_uapi(cipher) {
            Ok(cipher) => Ok(Self::new(version, cipher)),
            Err(err) => Err(err),
        }
    }

    /// Returns the protocol version.
    #[must_use]
    pub const fn version(self) -> ProtocolVersion {
        self.version
    }

    /// Returns the cipher.
    #[must_use]
    pub const fn cipher(self) -> CipherSuite {
        self.cipher
    }

    /// Returns the length of the record header.
    #[must_use]
    pub const fn header_len(self) -> usize {
        self.version.header_len()
    }

    /// Returns how the AEAD nonce of a record is formed.
    #[must_use]
    pub const fn nonce_scheme(self) -> NonceScheme {
        match (self.version, self.cipher) {
            (ProtocolVersion::Tls12 | ProtocolVersion::Dtls12, CipherSuite::Aes128Gcm)
            | (ProtocolVersion::Tls12 | ProtocolVersion::Dtls12, CipherSuite::Aes256Gcm) => {
                NonceScheme::SaltAndExplicit
            }
            (ProtocolVersion::Tls13, _) | (_, CipherSuite::Chacha20Poly1305) => {
                NonceScheme::IvXorSequence
            }
        }
    }

    /// Returns the length of the explicit nonce at the start of each record's payload.
    ///
    /// It is 8 for TLS 1.2 and DTLS 1.2 AES-GCM, and 0 for ChaCha20-Poly1305 and TLS 1.3.
    #[must_use]
    pub const fn explicit_nonce_len(self) -> usize {
        match self.nonce_scheme() {
            NonceScheme::SaltAndExplicit => GCM_EXPLICIT_NONCE_LEN,
            NonceScheme::IvXorSequence => 0,
        }
    }

    /// Returns the length of the authentication tag at the end of each record.
    #[must_use]
    pub const fn tag_len(self) -> usize {
        self.cipher.tag_len()
    }

    /// Returns the length of the content type hidden inside the ciphertext (1 for TLS 1.3).
    #[must_use]
    pub const fn inner_type_len(self) -> usize {
        match self.version {
            ProtocolVersion::Tls13 => TLS13_INNER_TYPE_LEN,
            ProtocolVersion::Tls12 | ProtocolVersion::Dtls12 => 0,
        }
    }

    /// Returns the smallest valid length field: explicit nonce, tag and inner content type.
    ///
    /// A record of exactly this length carries an empty plaintext.
    #[must_use]
    pub const fn min_payload_len(self) -> usize {
        self.explicit_nonce_len() + self.tag_len() + self.inner_type_len()
    }

    /// Returns the largest valid length field: 2^14 bytes of plaintext plus the overhead.
    ///
    /// A longer record would decrypt to more than 2^14 bytes (2^14 + 1 with the TLS 1.3 content
    /// type and any padding), which every version forbids (RFC 5246 §6.2.3, RFC 6347 §4.1.2.1,
    /// RFC 8446 §5.2 and §5.4). With a fixed-overhead AEAD the length field alone decides it, so
    /// the record is rejected before it is decrypted, as mainline does. This is below every
    /// version's ciphertext limit ([`ProtocolVersion::max_ciphertext_len`]).
    #[must_use]
    pub const fn max_payload_len(self) -> usize {
        MAX_PLAINTEXT_LEN + self.min_payload_len()
    }

    /// Returns the bytes a record adds to its plaintext: header, explicit nonce, tag, inner type.
    #[must_use]
    pub const fn overhead(self) -> usize {
        self.header_len() + self.min_payload_len()
    }

    /// Returns the length field of a record that protects `plaintext_len` bytes.
    ///
    /// Fails with [`RecordError::PlaintextTooLong`] over 2^14 bytes. TLS 1.3 records are built
    /// without padding.
    pub const fn payload_len(self, plaintext_len: usize) -> Result<u16, RecordError> {
        if plaintext_len > MAX_PLAINTEXT_LEN {
            return Err(RecordError::PlaintextTooLong);
        }
        // At most 2^14 + 25, so the second check only guards the conversion.
        let len = plaintext_len + self.min_payload_len();
        if len > u16::MAX as usize {
            return Err(RecordError::PlaintextTooLong);
        }
        Ok(len as u16)
    }

    /// Returns how many bytes the AEAD decrypts in a record with length field `payload_len`.
    ///
    /// That is the plaintext for TLS 1.2 and DTLS 1.2, and the inner plaintext (content, type and
    /// padding) for TLS 1.3. Fails with [`RecordError::LengthBelowOverhead`] if the length cannot
    /// hold the overhead, and with [`RecordError::PlaintextTooLong`] if the result is over 2^14
    /// bytes (2^14 + 1 with the TLS 1.3 content type, RFC 8446 §5.4). Together with the header
    /// check, this is mainline's limit of 2^14 + overhead.
    pub const fn decrypted_len(self, payload_len: u16) -> Result<u16, RecordError> {
        let outside = self.explicit_nonce_len() + self.tag_len();
        let sealed = match (payload_len as usize).checked_sub(outside) {
            Some(sealed) if sealed >= self.inner_type_len() => sealed,
            _ => return Err(RecordError::LengthBelowOverhead),
        };
        if sealed > MAX_PLAINTEXT_LEN + self.inner_type_len() {
            return Err(RecordError::PlaintextTooLong);
        }
        // Not more than `payload_len`, so it fits in u16.
        Ok(sealed as u16)
    }
}
