//! Key material for one connection, in the terms the kernel wants, wiped when dropped.

use crate::uapi::{self, ktls_crypto_info};
use crate::Error;
use core::fmt;
use ktls_record::nonce::NonceScheme;
use ktls_record::protection::{GCM_EXPLICIT_NONCE_LEN, GCM_SALT_LEN};
use ktls_record::seq::DtlsRecordNumber;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The protocol version, as bound (`sa_version`) and as written into the crypto info: the record
/// layer's [`ProtocolVersion`](ktls_record::protection::ProtocolVersion), the very type the kernel
/// module uses (`KTLS_VERSION_*` through `uapi()`/`from_uapi()`).
pub use ktls_record::protection::ProtocolVersion as Version;

/// The AEAD cipher: the record layer's [`CipherSuite`](ktls_record::protection::CipherSuite)
/// (`KTLS_CIPHER_*` through `uapi()`/`from_uapi()`, key length, crypto info size).
pub use ktls_record::protection::CipherSuite as Cipher;

/// A version with a cipher: overhead, explicit nonce and length limits of the records.
pub use ktls_record::protection::RecordProtection;

/// The length of the `salt` field of the cipher's crypto info structure (0 for ChaCha20-Poly1305,
/// whose whole 12-byte IV is the `iv` field).
const fn salt_len(cipher: Cipher) -> usize {
    match cipher {
        Cipher::Aes128Gcm => uapi::KTLS_AES_GCM_128_SALT_SIZE,
        Cipher::Aes256Gcm => uapi::KTLS_AES_GCM_256_SALT_SIZE,
        Cipher::Chacha20Poly1305 => uapi::KTLS_CHACHA20_POLY1305_SALT_SIZE,
    }
}

/// Which way the keys protect data, from this endpoint's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Tx,
    Rx,
}

/// The largest AEAD key any supported cipher uses.
const MAX_KEY_LEN: usize = 32;

/// Keys, nonce material and the next record sequence number for one direction.
///
/// `iv` holds 12 bytes whose meaning follows the kernel structure:
/// * AES-GCM: `iv[0..4]` is the `salt` field and `iv[4..12]` the `iv` field. For TLS 1.3 the two
///   together are the static write IV; for TLS/DTLS 1.2 the salt is the implicit nonce and
///   `iv[4..12]` the first explicit nonce the kernel sends (see [`crate::nonce`]).
/// * ChaCha20-Poly1305: the whole 12-byte static IV.
///
/// `rec_seq` is the next record sequence number (for DTLS: epoch << 48 | sequence).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DirectionKeys {
    #[zeroize(skip)]
    version: Version,
    #[zeroize(skip)]
    cipher: Cipher,
    key: [u8; MAX_KEY_LEN],
    iv: [u8; 12],
    rec_seq: u64,
}

impl DirectionKeys {
    /// Checks that `key` has the cipher's length. Every version goes with every cipher, as in the
    /// kernel; for DTLS, `rec_seq` is the record number ([`DtlsRecordNumber::as_u64`]).
    pub fn new(
        version: Version,
        cipher: Cipher,
        key: &[u8],
        iv: [u8; 12],
        rec_seq: u64,
    ) -> Result<Self, Error> {
        if key.len() != cipher.key_len() {
            return Err(Error::InvalidKeyMaterial(
                "key length does not match the cipher",
            ));
        }
        let mut stored_key = [0u8; MAX_KEY_LEN];
        stored_key[..key.len()].copy_from_slice(key);
        Ok(DirectionKeys {
            version,
            cipher,
            key: stored_key,
            iv,
            rec_seq,
        })
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The version and cipher together, for the record layer's overhead and nonce rules.
    pub fn protection(&self) -> RecordProtection {
        RecordProtection::new(self.version, self.cipher)
    }

    pub fn key(&self) -> &[u8] {
        &self.key[..self.cipher.key_len()]
    }

    /// The 12 nonce bytes described on the type.
    pub fn iv(&self) -> &[u8; 12] {
        &self.iv
    }

    /// The `salt` field of the AES-GCM structures (empty for ChaCha20).
    pub fn salt(&self) -> &[u8] {
        &self.iv[..salt_len(self.cipher)]
    }

    /// TLS/DTLS 1.2 AES-GCM: the first explicit nonce the kernel will send, as a number.
    pub fn first_explicit_nonce(&self) -> Option<u64> {
        match self.protection().nonce_scheme() {
            NonceScheme::SaltAndExplicit => {
                let (_, explicit) = self.iv.split_first_chunk::<GCM_SALT_LEN>()?;
                let explicit: [u8; GCM_EXPLICIT_NONCE_LEN] = explicit.try_into().ok()?;
                Some(u64::from_be_bytes(explicit))
            }
            NonceScheme::IvXorSequence => None,
        }
    }

    /// The next record sequence number as the kernel stores it (DTLS: epoch in the top 16 bits).
    pub fn rec_seq(&self) -> u64 {
        self.rec_seq
    }

    /// DTLS: `rec_seq` as the record number (epoch and 48-bit sequence number).
    pub fn record_number(&self) -> DtlsRecordNumber {
        DtlsRecordNumber::from_be_bytes(self.rec_seq.to_be_bytes())
    }

    /// DTLS: the epoch part of `rec_seq`.
    pub fn epoch(&self) -> u16 {
        self.record_number().epoch()
    }

    /// DTLS: the 48-bit sequence part; TLS: the whole 64-bit sequence number.
    pub fn sequence(&self) -> u64 {
        if self.version.is_datagram() {
            self.record_number().sequence()
        } else {
            self.rec_seq
        }
    }

    /// The structure to pass to `setsockopt(SOL_KTLS, KTLS_TX/KTLS_RX)` (or mainline's
    /// `SOL_TLS`, whose structures have the same layout).
    pub fn to_crypto_info(&self) -> CryptoInfo {
        let info = ktls_crypto_info {
            version: self.version.uapi(),
            cipher_type: self.cipher.uapi(),
        };
        let rec_seq = self.rec_seq.to_be_bytes();
        match self.cipher {
            Cipher::Aes128Gcm => {
                let mut c = uapi::ktls_crypto_info_aes_gcm_128 {
                    info,
                    rec_seq,
                    ..Default::default()
                };
                c.salt.copy_from_slice(&self.iv[..4]);
                c.iv.copy_from_slice(&self.iv[4..]);
                c.key.copy_from_slice(self.key());
                CryptoInfo::AesGcm128(c)
            }
            Cipher::Aes256Gcm => {
                let mut c = uapi::ktls_crypto_info_aes_gcm_256 {
                    info,
                    rec_seq,
                    ..Default::default()
                };
                c.salt.copy_from_slice(&self.iv[..4]);
                c.iv.copy_from_slice(&self.iv[4..]);
                c.key.copy_from_slice(self.key());
                CryptoInfo::AesGcm256(c)
            }
            Cipher::Chacha20Poly1305 => {
                let mut c = uapi::ktls_crypto_info_chacha20_poly1305 {
                    info,
                    rec_seq,
                    ..Default::default()
                };
                c.iv.copy_from_slice(&self.iv);
                c.key.copy_from_slice(self.key());
                CryptoInfo::Chacha20Poly1305(c)
            }
        }
    }
}

// Keys never appear in debug output.
impl fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectionKeys")
            .field("version", &self.version)
            .field("cipher", &self.cipher)
            .field("rec_seq", &format_args!("{:#018x}", self.rec_seq))
            .field("first_explicit_nonce", &self.first_explicit_nonce())
            .finish_non_exhaustive()
    }
}

/// Both directions of one connection.
#[derive(Clone, Debug)]
pub struct KeyMaterial {
    pub tx: DirectionKeys,
    pub rx: DirectionKeys,
}

impl KeyMaterial {
    pub fn new(tx: DirectionKeys, rx: DirectionKeys) -> Result<Self, Error> {
        if tx.version != rx.version || tx.cipher != rx.cipher {
            return Err(Error::InvalidKeyMaterial(
                "TX and RX use different versions or ciphers",
            ));
        }
        Ok(KeyMaterial { tx, rx })
    }

    pub fn version(&self) -> Version {
        self.tx.version
    }

    pub fn cipher(&self) -> Cipher {
        self.tx.cipher
    }

    pub fn direction(&self, direction: Direction) -> &DirectionKeys {
        match direction {
            Direction::Tx => &self.tx,
            Direction::Rx => &self.rx,
        }
    }
}

/// One of the three crypto info structures, ready for `setsockopt`.
#[derive(Clone, PartialEq, Eq)]
pub enum CryptoInfo {
    AesGcm128(uapi::ktls_crypto_info_aes_gcm_128),
    AesGcm256(uapi::ktls_crypto_info_aes_gcm_256),
    Chacha20Poly1305(uapi::ktls_crypto_info_chacha20_poly1305),
}

impl CryptoInfo {
    /// The structure's bytes exactly as the kernel reads them.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            CryptoInfo::AesGcm128(c) => struct_bytes(c),
            CryptoInfo::AesGcm256(c) => struct_bytes(c),
            CryptoInfo::Chacha20Poly1305(c) => struct_bytes(c),
        }
    }

    /// Parses what `getsockopt` returned (`bytes` must be exactly one structure).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() < 4 {
            return Err(Error::InvalidKeyMaterial(
                "crypto info shorter than its header",
            ));
        }
        let cipher_type = u16::from_ne_bytes([bytes[2], bytes[3]]);
        let info = ktls_crypto_info {
            version: u16::from_ne_bytes([bytes[0], bytes[1]]),
            cipher_type,
        };
        let cipher = Cipher::from_uapi(cipher_type)
            .map_err(|_| Error::Unsupported("unknown cipher_type in crypto info"))?;
        if bytes.len() != cipher.uapi_crypto_info_len() {
            return Err(Error::InvalidKeyMaterial(
                "crypto info length does not match its cipher",
            ));
        }
        match cipher {
            Cipher::Aes128Gcm => {
                let mut c = uapi::ktls_crypto_info_aes_gcm_128 {
                    info,
                    ..Default::default()
                };
                c.iv.copy_from_slice(&bytes[4..12]);
                c.key.copy_from_slice(&bytes[12..28]);
                c.salt.copy_from_slice(&bytes[28..32]);
                c.rec_seq.copy_from_slice(&bytes[32..40]);
                Ok(CryptoInfo::AesGcm128(c))
            }
            Cipher::Aes256Gcm => {
                let mut c = uapi::ktls_crypto_info_aes_gcm_256 {
                    info,
                    ..Default::default()
                };
                c.iv.copy_from_slice(&bytes[4..12]);
                c.key.copy_from_slice(&bytes[12..44]);
                c.salt.copy_from_slice(&bytes[44..48]);
                c.rec_seq.copy_from_slice(&bytes[48..56]);
                Ok(CryptoInfo::AesGcm256(c))
            }
            Cipher::Chacha20Poly1305 => {
                let mut c = uapi::ktls_crypto_info_chacha20_poly1305 {
                    info,
                    ..Default::default()
                };
                c.iv.copy_from_slice(&bytes[4..16]);
                c.key.copy_from_slice(&bytes[16..48]);
                c.rec_seq.copy_from_slice(&bytes[48..56]);
                Ok(CryptoInfo::Chacha20Poly1305(c))
            }
        }
    }

    /// The record sequence number field.
    pub fn rec_seq(&self) -> u64 {
        u64::from_be_bytes(match self {
            CryptoInfo::AesGcm128(c) => c.rec_seq,
            CryptoInfo::AesGcm256(c) => c.rec_seq,
            CryptoInfo::Chacha20Poly1305(c) => c.rec_seq,
        })
    }

    /// The `iv` field as a number for the AES-GCM structures (TLS 1.2: the next explicit nonce).
    pub fn iv_field(&self) -> Option<u64> {
        match self {
            CryptoInfo::AesGcm128(c) => Some(u64::from_be_bytes(c.iv)),
            CryptoInfo::AesGcm256(c) => Some(u64::from_be_bytes(c.iv)),
            CryptoInfo::Chacha20Poly1305(_) => None,
        }
    }
}

impl fmt::Debug for CryptoInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoInfo")
            .field("len", &self.as_bytes().len())
            .field("rec_seq", &format_args!("{:#018x}", self.rec_seq()))
            .finish_non_exhaustive()
    }
}

/// Marker for the UAPI structures whose every byte is an initialised integer: `repr(C)`, made of
/// `u16`/`u8` arrays only, and (checked in `uapi.rs`) without padding.
trait PlainUapiStruct: Sized {}
impl PlainUapiStruct for uapi::ktls_crypto_info_aes_gcm_128 {}
impl PlainUapiStruct for uapi::ktls_crypto_info_aes_gcm_256 {}
impl PlainUapiStruct for uapi::ktls_crypto_info_chacha20_poly1305 {}
impl PlainUapiStruct for uapi::sockaddr_ktls {}

fn struct_bytes<T: PlainUapiStruct>(value: &T) -> &[u8] {
    // SAFETY: `PlainUapiStruct` types are `repr(C)` integer-only structs without padding (sizes
    // asserted at compile time in uapi.rs), so all `size_of::<T>()` bytes behind the reference are
    // initialised, and the slice borrows `value` for its lifetime.
    unsafe {
        core::slice::from_raw_parts((value as *const T).cast::<u8>(), core::mem::size_of::<T>())
    }
}

pub(crate) fn sockaddr_bytes(addr: &uapi::sockaddr_ktls) -> &[u8] {
    struct_bytes(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(version: Version, cipher: Cipher) -> DirectionKeys {
        let key: Vec<u8> = (1..=cipher.key_len() as u8).collect();
        let iv = [
            0xa0, 0xa1, 0xa2, 0xa3, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
        ];
        DirectionKeys::new(version, cipher, &key, iv, 0x0001_0000_0000_0005).expect("valid keys")
    }

    #[test]
    fn aes_gcm_128_byte_layout() {
        let info = keys(Version::Dtls12, Cipher::Aes128Gcm).to_crypto_info();
        let bytes = info.as_bytes();
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[0..2], &0xfefdu16.to_ne_bytes());
        assert_eq!(&bytes[2..4], &51u16.to_ne_bytes());
        assert_eq!(
            &bytes[4..12],
            &[0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7]
        ); // iv
        assert_eq!(&bytes[12..28], &(1..=16).collect::<Vec<u8>>()[..]); // key
        assert_eq!(&bytes[28..32], &[0xa0, 0xa1, 0xa2, 0xa3]); // salt
        assert_eq!(&bytes[32..40], &[0, 1, 0, 0, 0, 0, 0, 5]); // epoch 1, seq 5
        assert_eq!(CryptoInfo::from_bytes(bytes).expect("parses"), info);
    }

    #[test]
    fn aes_gcm_256_byte_layout() {
        let info = keys(Version::Tls12, Cipher::Aes256Gcm).to_crypto_info();
        let bytes = info.as_bytes();
        assert_eq!(bytes.len(), 56);
        assert_eq!(&bytes[0..2], &0x0303u16.to_ne_bytes());
        assert_eq!(&bytes[2..4], &52u16.to_ne_bytes());
        assert_eq!(
            &bytes[4..12],
            &[0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7]
        );
        assert_eq!(&bytes[12..44], &(1..=32).collect::<Vec<u8>>()[..]);
        assert_eq!(&bytes[44..48], &[0xa0, 0xa1, 0xa2, 0xa3]);
        assert_eq!(&bytes[48..56], &[0, 1, 0, 0, 0, 0, 0, 5]);
        assert_eq!(CryptoInfo::from_bytes(bytes).expect("parses"), info);
    }

    #[test]
    fn chacha20_byte_layout() {
        let info = keys(Version::Tls13, Cipher::Chacha20Poly1305).to_crypto_info();
        let bytes = info.as_bytes();
        assert_eq!(bytes.len(), 56);
        assert_eq!(&bytes[0..2], &0x0304u16.to_ne_bytes());
        assert_eq!(&bytes[2..4], &54u16.to_ne_bytes());
        assert_eq!(
            &bytes[4..16],
            &[0xa0, 0xa1, 0xa2, 0xa3, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7]
        );
        assert_eq!(&bytes[16..48], &(1..=32).collect::<Vec<u8>>()[..]);
        assert_eq!(&bytes[48..56], &[0, 1, 0, 0, 0, 0, 0, 5]);
        assert_eq!(CryptoInfo::from_bytes(bytes).expect("parses"), info);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(
            DirectionKeys::new(Version::Tls12, Cipher::Aes128Gcm, &[0; 32], [0; 12], 0).is_err()
        );
        // Every version goes with every cipher, as in the kernel (DTLS 1.2 ChaCha20 included).
        assert!(DirectionKeys::new(
            Version::Dtls12,
            Cipher::Chacha20Poly1305,
            &[0; 32],
            [0; 12],
            0
        )
        .is_ok());
        assert!(CryptoInfo::from_bytes(&[0; 3]).is_err());
        let mut short = keys(Version::Tls12, Cipher::Aes128Gcm)
            .to_crypto_info()
            .as_bytes()
            .to_vec();
        short.pop();
        assert!(CryptoInfo::from_bytes(&short).is_err());
    }

    #[test]
    fn dtls_epoch_and_sequence() {
        let k = keys(Version::Dtls12, Cipher::Aes256Gcm);
        assert_eq!(k.epoch(), 1);
        assert_eq!(k.sequence(), 5);
        assert_eq!(k.first_explicit_nonce(), Some(0xb0b1_b2b3_b4b5_b6b7));
        assert_eq!(
            keys(Version::Tls13, Cipher::Aes128Gcm).first_explicit_nonce(),
            None
        );
        let chacha = keys(Version::Dtls12, Cipher::Chacha20Poly1305);
        assert_eq!(chacha.first_explicit_nonce(), None);
        assert_eq!((chacha.epoch(), chacha.sequence()), (1, 5));
        assert_eq!(chacha.salt(), &[] as &[u8]);
    }

    #[test]
    fn debug_output_hides_the_key() {
        let text = format!("{:?}", keys(Version::Tls12, Cipher::Aes128Gcm));
        assert!(!text.contains("key:"), "{text}");
    }

    #[test]
    fn key_material_requires_matching_directions() {
        let tx = keys(Version::Tls12, Cipher::Aes128Gcm);
        assert!(KeyMaterial::new(tx.clone(), keys(Version::Tls13, Cipher::Aes128Gcm)).is_err());
        assert!(KeyMaterial::new(tx.clone(), keys(Version::Tls12, Cipher::Aes256Gcm)).is_err());
        assert!(KeyMaterial::new(tx.clone(), tx).is_ok());
    }
}
