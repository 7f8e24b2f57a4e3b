// SPDX-License-Identifier: GPL-2.0

//! Key material for one direction, as `setsockopt(SOL_KTLS, KTLS_TX/KTLS_RX)` passes it in a
//! `struct ktls_crypto_info_*` (`include/uapi/linux/ktls.h`), read through the layouts of the
//! structures bindgen generated from the header ([`CryptoInfoLayout`]).

use kernel::{
    prelude::*,
    transmute::FromBytes, //
};

use crate::{
    crypto::wipe,
    record::{
        nonce::{
            salted_nonce,
            tls12_explicit_nonce, //
        },
        protection::{
            CipherSuite,
            ProtocolVersion,
            RecordProtection,
            GCM_EXPLICIT_NONCE_LEN,
            GCM_SALT_LEN,
            NONCE_LEN, //
        },
        seq::DtlsRecordNumber,
    },
    uapi::{
        ktls_crypto_info,
        CryptoInfoLayout, //
    },
};

pub(crate) use crate::uapi::MAX_CRYPTO_INFO_LEN;

/// One direction's keys, parsed from userspace; every copy is wiped on drop.
///
/// # Invariants
///
/// `raw[..layout.size]` is a `struct ktls_crypto_info_*` of `cipher`, with `layout` its layout:
/// every field named by `layout` lies within it.
pub(crate) struct DirectionKeys {
    raw: [u8; MAX_CRYPTO_INFO_LEN],
    cipher: CipherSuite,
    layout: CryptoInfoLayout,
}

impl DirectionKeys {
    /// Parses a `struct ktls_crypto_info_*` for a socket bound with `protection`.
    ///
    /// Fails with `EPROTO` when the version or cipher differ from the bind address (whatever the
    /// length, so that a structure of another cipher is named as such), then with `EINVAL` when
    /// the length is not exactly the cipher's structure size.
    pub(crate) fn parse(protection: RecordProtection, bytes: &[u8]) -> Result<Self> {
        let cipher = protection.cipher();
        let layout = CryptoInfoLayout::of(cipher);
        let (info, _) = ktls_crypto_info::from_bytes_copy_prefix(bytes).ok_or(EINVAL)?;
        if info.version != protection.version().uapi() || info.cipher_type != cipher.uapi() {
            return Err(EPROTO);
        }
        if bytes.len() != layout.size {
            return Err(EINVAL);
        }
        let mut raw = [0u8; MAX_CRYPTO_INFO_LEN];
        raw.get_mut(..bytes.len())
            .ok_or(EINVAL)?
            .copy_from_slice(bytes);
        // INVARIANT: The structure of `cipher`, whole, at the start of `raw`.
        Ok(Self {
            raw,
            cipher,
            layout,
        })
    }

    /// Checks that `next` may replace these keys (`KTLS_TX`/`KTLS_RX` set again): TLS 1.3 keys
    /// after a KeyUpdate, whose sequence numbers restart at 0; DTLS 1.2 keys of the next epoch.
    /// `EBUSY` for TLS 1.2, which never changes keys; `EINVAL` for a `rec_seq` that does not
    /// start the next keys.
    pub(crate) fn check_next(&self, protection: RecordProtection, next: &Self) -> Result {
        match protection.version() {
            ProtocolVersion::Tls12 => Err(EBUSY),
            ProtocolVersion::Tls13 if next.rec_seq() == [0; 8] => Ok(()),
            ProtocolVersion::Tls13 => Err(EINVAL),
            ProtocolVersion::Dtls12 => {
                let epoch = DtlsRecordNumber::from_be_bytes(self.rec_seq()).epoch();
                let next_epoch = DtlsRecordNumber::from_be_bytes(next.rec_seq()).epoch();
                if epoch.checked_add(1) == Some(next_epoch) {
                    Ok(())
                } else {
                    Err(EINVAL)
                }
            }
        }
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
        let layout = CryptoInfoLayout::of(cipher);
        let mut raw = [0u8; MAX_CRYPTO_INFO_LEN];
        put(&mut raw, 0, &protection.version().uapi().to_ne_bytes())?;
        put(&mut raw, 2, &cipher.uapi().to_ne_bytes())?;
        put(&mut raw, layout.key, key)?;
        match (layout.salt, write_iv.len()) {
            (None, _) => put(&mut raw, layout.iv, write_iv)?,
            (Some(salt), NONCE_LEN) => {
                let (salt_bytes, iv) = write_iv.split_at(GCM_SALT_LEN);
                put(&mut raw, salt, salt_bytes)?;
                put(&mut raw, layout.iv, iv)?;
            }
            (Some(salt), _) => put(&mut raw, salt, write_iv)?,
        }
        put(&mut raw, layout.rec_seq, &rec_seq)?;
        Self::parse(protection, raw.get(..layout.size).ok_or(EINVAL)?)
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
        let out = out.get_mut(..self.layout.size).ok_or(EINVAL)?;
        out.copy_from_slice(self.raw.get(..self.layout.size).ok_or(EINVAL)?);
        put(out, self.layout.rec_seq, &rec_seq)?;
        if let Some(iv) = iv {
            put(out, self.layout.iv, &iv)?;
        }
        Ok(self.layout.size)
    }

    /// The AEAD key.
    pub(crate) fn key(&self) -> &[u8] {
        self.field(self.layout.key, self.cipher.key_len())
    }

    /// The record sequence number field (DTLS: epoch and 48-bit sequence number).
    pub(crate) fn rec_seq(&self) -> [u8; 8] {
        self.array(self.layout.rec_seq)
    }

    /// The static nonce material for this direction.
    pub(crate) fn nonce_base(&self) -> NonceBase {
        match self.layout.salt {
            Some(salt) => {
                let salt: [u8; GCM_SALT_LEN] = self.array(salt);
                let iv: [u8; GCM_EXPLICIT_NONCE_LEN] = self.array(self.layout.iv);
                // The first explicit nonce sent is `iv`; later ones stay unique by XOR-ing in
                // how many records came since (see `NonceBase::explicit_base`).
                let first = u64::from_be_bytes(self.rec_seq());
                NonceBase {
                    iv: salted_nonce(&salt, &iv),
                    salt,
                    explicit_base: tls12_explicit_nonce(&iv, first),
                }
            }
            // No salt: the 12-byte IV is the whole static nonce.
            None => NonceBase {
                iv: self.array(self.layout.iv),
                salt: [0; GCM_SALT_LEN],
                explicit_base: [0; GCM_EXPLICIT_NONCE_LEN],
            },
        }
    }

    /// The field at `offset` of `len` bytes.
    fn field(&self, offset: usize, len: usize) -> &[u8] {
        // By the type invariant the layout's fields lie within `raw`; an empty slice otherwise
        // can only mean a broken layout, which the `uapi` assertions rule out.
        self.raw
            .get(offset..)
            .and_then(|rest| rest.get(..len))
            .unwrap_or(&[])
    }

    fn array<const N: usize>(&self, offset: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Ok(field) = <&[u8; N]>::try_from(self.field(offset, N)) {
            out = *field;
        }
        out
    }
}

impl Drop for DirectionKeys {
    fn drop(&mut self) {
        wipe(&mut self.raw);
    }
}

/// Copies `bytes` into `out` at `offset`; `EINVAL` if it does not fit.
fn put(out: &mut [u8], offset: usize, bytes: &[u8]) -> Result {
    out.get_mut(offset..)
        .and_then(|rest| rest.get_mut(..bytes.len()))
        .ok_or(EINVAL)?
        .copy_from_slice(bytes);
    Ok(())
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
