// SPDX-License-Identifier: GPL-2.0

//! Key material for one direction, as `setsockopt(SOL_KTLS, KTLS_TX/KTLS_RX)` passes it in a
//! `struct ktls_crypto_info_*` (`include/uapi/linux/ktls.h`).

use kernel::prelude::*;

use crate::{
    crypto::wipe,
    record::{
        nonce::{
            salted_nonce,
            tls12_explicit_nonce, //
        },
        protection::{
            CipherSuite,
            RecordProtection,
            GCM_EXPLICIT_NONCE_LEN,
            GCM_SALT_LEN,
            NONCE_LEN, //
        },
    }, //
};

/// Largest `struct ktls_crypto_info_*` (AES-256-GCM and ChaCha20-Poly1305: 56 bytes).
pub(crate) const MAX_CRYPTO_INFO_LEN: usize = 56;

/// Byte offsets of the fields of a `struct ktls_crypto_info_*`.
struct Layout {
    iv: usize,
    key: usize,
    salt: usize,
    rec_seq: usize,
}

impl Layout {
    const fn of(cipher: CipherSuite) -> Self {
        match cipher {
            CipherSuite::Aes128Gcm => Self {
                iv: 4,
                key: 12,
                salt: 28,
                rec_seq: 32,
            },
            CipherSuite::Aes256Gcm => Self {
                iv: 4,
                key: 12,
                salt: 44,
                rec_seq: 48,
            },
            // No salt: the 12-byte IV is the whole static nonce.
            CipherSuite::Chacha20Poly1305 => Self {
                iv: 4,
                key: 16,
                salt: 16,
                rec_seq: 48,
            },
        }
    }
}

/// One direction's keys, parsed from userspace; every copy is wiped on drop.
pub(crate) struct DirectionKeys {
    /// The structure as userspace passed it, returned by `getsockopt`.
    raw: [u8; MAX_CRYPTO_INFO_LEN],
    raw_len: usize,
    cipher: CipherSuite,
}

impl DirectionKeys {
    /// Parses a `struct ktls_crypto_info_*` for a socket bound with `protection`.
    ///
    /// Fails with `EINVAL` when the length is not exactly the cipher's structure size, and with
    /// `EPROTO` when the version or cipher differ from the bind address.
    pub(crate) fn parse(protection: RecordProtection, bytes: &[u8]) -> Result<Self> {
        let cipher = protection.cipher();
        if bytes.len() != cipher.uapi_crypto_info_len() {
            return Err(EINVAL);
        }
        let (header, _) = bytes.split_first_chunk::<4>().ok_or(EINVAL)?;
        let version = u16::from_ne_bytes([header[0], header[1]]);
        let cipher_type = u16::from_ne_bytes([header[2], header[3]]);
        if version != protection.version().uapi() || cipher_type != cipher.uapi() {
            return Err(EPROTO);
        }
        let mut raw = [0u8; MAX_CRYPTO_INFO_LEN];
        raw.get_mut(..bytes.len())
            .ok_or(EINVAL)?
            .copy_from_slice(bytes);
        Ok(Self {
            raw,
            raw_len: bytes.len(),
            cipher,
        })
    }

    /// Builds the structure userspace would pass for `key`, the write IV (the 4-byte salt of
    /// TLS/DTLS 1.2 AES-GCM, or the 12-byte IV of TLS 1.3 and ChaCha20-Poly1305) and `rec_seq`.
    #[cfg(ktls_kunit)]
    pub(crate) fn from_parts(
        protection: RecordProtection,
        key: &[u8],
        write_iv: &[u8],
        rec_seq: [u8; 8],
    ) -> Result<Self> {
        let cipher = protection.cipher();
        let layout = Layout::of(cipher);
        let mut raw = [0u8; MAX_CRYPTO_INFO_LEN];
        let mut put = |offset: usize, bytes: &[u8]| -> Result {
            raw.get_mut(offset..)
                .and_then(|rest| rest.get_mut(..bytes.len()))
                .ok_or(EINVAL)?
                .copy_from_slice(bytes);
            Ok(())
        };
        put(0, &protection.version().uapi().to_ne_bytes())?;
        put(2, &cipher.uapi().to_ne_bytes())?;
        put(layout.key, key)?;
        match (cipher, write_iv.len()) {
            (CipherSuite::Chacha20Poly1305, _) => put(layout.iv, write_iv)?,
            (_, NONCE_LEN) => {
                let (salt, iv) = write_iv.split_at(GCM_SALT_LEN);
                put(layout.salt, salt)?;
                put(layout.iv, iv)?;
            }
            _ => put(layout.salt, write_iv)?,
        }
        put(layout.rec_seq, &rec_seq)?;
        let len = cipher.uapi_crypto_info_len();
        Self::parse(protection, raw.get(..len).ok_or(EINVAL)?)
    }

    /// Writes the structure as userspace set it into `out`, with the current `rec_seq` (the
    /// number of the next record) and, if given, the TLS 1.2 AES-GCM `iv` (the next explicit
    /// nonce), as mainline's `getsockopt` reports them. Returns its length; `EINVAL` if `out`
    /// is too short.
    pub(crate) fn write_current(
        &self,
        out: &mut [u8],
        rec_seq: [u8; 8],
        iv: Option<[u8; GCM_EXPLICIT_NONCE_LEN]>,
    ) -> Result<usize> {
        let layout = Layout::of(self.cipher);
        let out = out.get_mut(..self.raw_len).ok_or(EINVAL)?;
        out.copy_from_slice(self.raw.get(..self.raw_len).ok_or(EINVAL)?);
        let mut put = |offset: usize, bytes: &[u8]| -> Result {
            out.get_mut(offset..)
                .and_then(|rest| rest.get_mut(..bytes.len()))
                .ok_or(EINVAL)?
                .copy_from_slice(bytes);
            Ok(())
        };
        put(layout.rec_seq, &rec_seq)?;
        if let Some(iv) = iv {
            put(layout.iv, &iv)?;
        }
        Ok(self.raw_len)
    }

    /// The AEAD key.
    pub(crate) fn key(&self) -> &[u8] {
        let layout = Layout::of(self.cipher);
        self.raw
            .get(layout.key..)
            .and_then(|rest| rest.get(..self.cipher.key_len()))
            .unwrap_or(&[])
    }

    /// The record sequence number field (DTLS: epoch and 48-bit sequence number).
    pub(crate) fn rec_seq(&self) -> [u8; 8] {
        self.array(Layout::of(self.cipher).rec_seq)
    }

    /// The static nonce material for this direction.
    pub(crate) fn nonce_base(&self) -> NonceBase {
        let layout = Layout::of(self.cipher);
        match self.cipher {
            CipherSuite::Aes128Gcm | CipherSuite::Aes256Gcm => {
                let salt: [u8; GCM_SALT_LEN] = self.array(layout.salt);
                let iv: [u8; GCM_EXPLICIT_NONCE_LEN] = self.array(layout.iv);
                // The first explicit nonce sent is `iv`; later ones stay unique by XOR-ing in
                // how many records came since (see `NonceBase::explicit_base`).
                let first = u64::from_be_bytes(self.rec_seq());
                NonceBase {
                    iv: salted_nonce(&salt, &iv),
                    salt,
                    explicit_base: tls12_explicit_nonce(&iv, first),
                }
            }
            CipherSuite::Chacha20Poly1305 => NonceBase {
                iv: self.array(layout.iv),
                salt: [0; GCM_SALT_LEN],
                explicit_base: [0; GCM_EXPLICIT_NONCE_LEN],
            },
        }
    }

    fn array<const N: usize>(&self, offset: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(field) = self.raw.get(offset..).and_then(|rest| rest.get(..N)) {
            out.copy_from_slice(field);
        }
        out
    }
}

impl Drop for DirectionKeys {
    fn drop(&mut self) {
        wipe(&mut self.raw);
    }
}

/// The static parts of every nonce of one direction; wiped on drop.
pub(crate) struct NonceBase {
    /// TLS 1.3 and ChaCha20-Poly1305: the 12-byte static IV; AES-GCM TLS 1.2: salt || iv.
    pub(crate) iv: [u8; NONCE_LEN],
    /// AES-GCM: the implicit 4-byte salt.
    pub(crate) salt: [u8; GCM_SALT_LEN],
    /// TLS 1.2 AES-GCM sending: the explicit nonce of record `s` is `explicit_base XOR s`.
    pub(crate) explicit_base: [u8; GCM_EXPLICIT_NONCE_LEN],
}

impl Drop for NonceBase {
    fn drop(&mut self) {
        wipe(&mut self.iv);
        wipe(&mut self.salt);
        wipe(&mut self.explicit_base);
    }
}
