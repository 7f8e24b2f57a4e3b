// SPDX-License-Identifier: GPL-2.0

//! The user API of `include/uapi/linux/ktls.h`, generated from the header itself (see `Kbuild`),
//! and the compile-time proof that the record layer (`record/`) uses the header's numbers and
//! sizes: the header is their only source.

#![allow(
    dead_code,
    non_camel_case_types,
    unreachable_pub,
    missing_docs,
    reason = "bindgen output of the UAPI header; not every constant is used by the kernel side"
)]

use core::mem::{
    offset_of,
    size_of, //
};

use kernel::{
    ffi,
    transmute::FromBytes, //
};

use crate::record::{
    header::{
        ContentType,
        KTLS_RECORD_ALERT as RECORD_ALERT,
        KTLS_RECORD_APPLICATION_DATA as RECORD_APPLICATION_DATA,
        KTLS_RECORD_CHANGE_CIPHER_SPEC as RECORD_CHANGE_CIPHER_SPEC,
        KTLS_RECORD_HANDSHAKE as RECORD_HANDSHAKE, //
    },
    protection::{
        CipherSuite,
        ProtocolVersion,
        GCM_EXPLICIT_NONCE_LEN,
        GCM_SALT_LEN,
        NONCE_LEN, //
    },
};

// The header's fixed-width types, as `<linux/types.h>` defines them.
type __u8 = ffi::c_uchar;
type __u16 = ffi::c_ushort;
type __s32 = ffi::c_int;

include!("ktls_uapi_generated.rs");

// SAFETY: Integer fields only, and no padding (see the sizes checked below): every bit pattern is
// a valid value, and there is no interior mutability.
unsafe impl FromBytes for sockaddr_ktls {}

// SAFETY: As for `sockaddr_ktls`.
unsafe impl FromBytes for ktls_crypto_info {}

const _: () = {
    // The structures have no holes: their sizes are the sums of their fields.
    assert!(size_of::<sockaddr_ktls>() == 2 + 2 + 2 + 2 + 4);
    assert!(size_of::<ktls_crypto_info>() == 4);
    assert!(size_of::<ktls_crypto_info_aes_gcm_128>() == 4 + 8 + 16 + 4 + 8);
    assert!(size_of::<ktls_crypto_info_aes_gcm_256>() == 4 + 8 + 32 + 4 + 8);
    assert!(size_of::<ktls_crypto_info_chacha20_poly1305>() == 4 + 12 + 32 + 8);

    // Versions and ciphers: the record layer's numbers are the header's.
    assert!(ProtocolVersion::Tls12.uapi() as u32 == KTLS_VERSION_TLS_1_2);
    assert!(ProtocolVersion::Tls13.uapi() as u32 == KTLS_VERSION_TLS_1_3);
    assert!(ProtocolVersion::Dtls12.uapi() as u32 == KTLS_VERSION_DTLS_1_2);
    assert!(CipherSuite::Aes128Gcm.uapi() as u32 == KTLS_CIPHER_AES_GCM_128);
    assert!(CipherSuite::Aes256Gcm.uapi() as u32 == KTLS_CIPHER_AES_GCM_256);
    assert!(CipherSuite::Chacha20Poly1305.uapi() as u32 == KTLS_CIPHER_CHACHA20_POLY1305);

    // Content types.
    assert!(RECORD_CHANGE_CIPHER_SPEC as u32 == KTLS_RECORD_CHANGE_CIPHER_SPEC);
    assert!(RECORD_ALERT as u32 == KTLS_RECORD_ALERT);
    assert!(RECORD_HANDSHAKE as u32 == KTLS_RECORD_HANDSHAKE);
    assert!(RECORD_APPLICATION_DATA as u32 == KTLS_RECORD_APPLICATION_DATA);
    assert!(ContentType::Alert.wire() as u32 == KTLS_RECORD_ALERT);

    // Key, IV and salt sizes, and the structure each cipher takes.
    assert!(CipherSuite::Aes128Gcm.key_len() == KTLS_AES_GCM_128_KEY_SIZE as usize);
    assert!(CipherSuite::Aes256Gcm.key_len() == KTLS_AES_GCM_256_KEY_SIZE as usize);
    assert!(CipherSuite::Chacha20Poly1305.key_len() == KTLS_CHACHA20_POLY1305_KEY_SIZE as usize);
    assert!(GCM_SALT_LEN == KTLS_AES_GCM_128_SALT_SIZE as usize);
    assert!(GCM_SALT_LEN == KTLS_AES_GCM_256_SALT_SIZE as usize);
    assert!(GCM_EXPLICIT_NONCE_LEN == KTLS_AES_GCM_128_IV_SIZE as usize);
    assert!(GCM_EXPLICIT_NONCE_LEN == KTLS_AES_GCM_256_IV_SIZE as usize);
    assert!(NONCE_LEN == KTLS_CHACHA20_POLY1305_IV_SIZE as usize);
    assert!(KTLS_CHACHA20_POLY1305_SALT_SIZE == 0);
    assert!(
        CipherSuite::Aes128Gcm.uapi_crypto_info_len() == size_of::<ktls_crypto_info_aes_gcm_128>()
    );
    assert!(
        CipherSuite::Aes256Gcm.uapi_crypto_info_len() == size_of::<ktls_crypto_info_aes_gcm_256>()
    );
    assert!(
        CipherSuite::Chacha20Poly1305.uapi_crypto_info_len()
            == size_of::<ktls_crypto_info_chacha20_poly1305>()
    );
    assert!(KTLS_AES_GCM_128_REC_SEQ_SIZE == 8 && KTLS_AES_GCM_256_REC_SEQ_SIZE == 8);
    assert!(KTLS_CHACHA20_POLY1305_REC_SEQ_SIZE == 8);
};

/// Where the fields of a cipher's `struct ktls_crypto_info_*` are, from the generated structures.
#[derive(Clone, Copy)]
pub(crate) struct CryptoInfoLayout {
    /// The whole structure's size, the only valid `optlen`.
    pub(crate) size: usize,
    pub(crate) iv: usize,
    pub(crate) iv_len: usize,
    pub(crate) key: usize,
    /// The salt's offset; `None` for ChaCha20-Poly1305, whose structure has none.
    pub(crate) salt: Option<usize>,
    pub(crate) rec_seq: usize,
}

impl CryptoInfoLayout {
    /// The layout of `cipher`'s structure.
    pub(crate) const fn of(cipher: CipherSuite) -> Self {
        match cipher {
            CipherSuite::Aes128Gcm => Self {
                size: size_of::<ktls_crypto_info_aes_gcm_128>(),
                iv: offset_of!(ktls_crypto_info_aes_gcm_128, iv),
                iv_len: KTLS_AES_GCM_128_IV_SIZE as usize,
                key: offset_of!(ktls_crypto_info_aes_gcm_128, key),
                salt: Some(offset_of!(ktls_crypto_info_aes_gcm_128, salt)),
                rec_seq: offset_of!(ktls_crypto_info_aes_gcm_128, rec_seq),
            },
            CipherSuite::Aes256Gcm => Self {
                size: size_of::<ktls_crypto_info_aes_gcm_256>(),
                iv: offset_of!(ktls_crypto_info_aes_gcm_256, iv),
                iv_len: KTLS_AES_GCM_256_IV_SIZE as usize,
                key: offset_of!(ktls_crypto_info_aes_gcm_256, key),
                salt: Some(offset_of!(ktls_crypto_info_aes_gcm_256, salt)),
                rec_seq: offset_of!(ktls_crypto_info_aes_gcm_256, rec_seq),
            },
            CipherSuite::Chacha20Poly1305 => Self {
                size: size_of::<ktls_crypto_info_chacha20_poly1305>(),
                iv: offset_of!(ktls_crypto_info_chacha20_poly1305, iv),
                iv_len: KTLS_CHACHA20_POLY1305_IV_SIZE as usize,
                key: offset_of!(ktls_crypto_info_chacha20_poly1305, key),
                salt: None,
                rec_seq: offset_of!(ktls_crypto_info_chacha20_poly1305, rec_seq),
            },
        }
    }
}

/// `struct ktls_crypto_info`, the version and cipher every key structure starts with.
pub(crate) const CRYPTO_INFO_HEADER_LEN: usize = size_of::<ktls_crypto_info>();

/// The largest `struct ktls_crypto_info_*`.
pub(crate) const MAX_CRYPTO_INFO_LEN: usize = {
    let aes256 = size_of::<ktls_crypto_info_aes_gcm_256>();
    let chacha = size_of::<ktls_crypto_info_chacha20_poly1305>();
    if aes256 > chacha {
        aes256
    } else {
        chacha
    }
};
