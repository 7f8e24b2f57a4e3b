//! Rust mirror of `include/uapi/linux/ktls.h`, plus the few mainline kernel TLS (`<linux/tls.h>`)
//! numbers the `ulp` comparison backend needs.
//!
//! Names follow the C header so that a reader can grep one against the other. The layouts are
//! checked at compile time here and against the C compiler's view of the header by
//! `tests/c_layout.rs`.

#![allow(non_camel_case_types)]

use core::mem::{offset_of, size_of};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Address family number registered by the module by default (`AF_DECnet`'s old number).
/// The module parameter `family` can move it: see [`crate::socket::af_ktls_family`].
pub const AF_KTLS: libc::c_int = 12;
pub const PF_KTLS: libc::c_int = AF_KTLS;

/// `setsockopt`/`getsockopt` level of AF_KTLS sockets.
pub const SOL_KTLS: libc::c_int = 300;

// Versions, ciphers and content types are the record layer's (`rust/record/`, compiled by the
// module and by `ktls-record`): one definition, checked against the C header by
// `tests/c_layout.rs`.
pub use ktls_record::header::{
    KTLS_RECORD_ALERT, KTLS_RECORD_APPLICATION_DATA, KTLS_RECORD_CHANGE_CIPHER_SPEC,
    KTLS_RECORD_HANDSHAKE,
};
pub use ktls_record::protection::{
    KTLS_CIPHER_AES_GCM_128, KTLS_CIPHER_AES_GCM_256, KTLS_CIPHER_CHACHA20_POLY1305,
    KTLS_VERSION_DTLS_1_2, KTLS_VERSION_TLS_1_2, KTLS_VERSION_TLS_1_3,
};

pub const KTLS_TX: libc::c_int = 1;
pub const KTLS_RX: libc::c_int = 2;
pub const KTLS_TX_MAX_PAYLOAD_LEN: libc::c_int = 5;
pub const KTLS_DTLS_MTU: libc::c_int = 16;
pub const KTLS_RX_DECRYPT_AHEAD: libc::c_int = 17;

pub const KTLS_SET_RECORD_TYPE: libc::c_int = 1;
pub const KTLS_GET_RECORD_TYPE: libc::c_int = 2;

pub const KTLS_AES_GCM_128_IV_SIZE: usize = 8;
pub const KTLS_AES_GCM_128_KEY_SIZE: usize = 16;
pub const KTLS_AES_GCM_128_SALT_SIZE: usize = 4;
pub const KTLS_AES_GCM_128_REC_SEQ_SIZE: usize = 8;

pub const KTLS_AES_GCM_256_IV_SIZE: usize = 8;
pub const KTLS_AES_GCM_256_KEY_SIZE: usize = 32;
pub const KTLS_AES_GCM_256_SALT_SIZE: usize = 4;
pub const KTLS_AES_GCM_256_REC_SEQ_SIZE: usize = 8;

pub const KTLS_CHACHA20_POLY1305_IV_SIZE: usize = 12;
pub const KTLS_CHACHA20_POLY1305_KEY_SIZE: usize = 32;
pub const KTLS_CHACHA20_POLY1305_SALT_SIZE: usize = 0;
pub const KTLS_CHACHA20_POLY1305_REC_SEQ_SIZE: usize = 8;

/// `struct sockaddr_ktls`: the `bind()` address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct sockaddr_ktls {
    pub sa_family: u16,
    pub sa_cipher: u16,
    pub sa_version: u16,
    pub sa_reserved: u16,
    pub sa_socket: i32,
}

/// `struct ktls_crypto_info`: the common prefix of every crypto info structure.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Zeroize)]
pub struct ktls_crypto_info {
    pub version: u16,
    pub cipher_type: u16,
}

/// `struct ktls_crypto_info_aes_gcm_128`. Holds a key, so it is wiped on drop and not `Copy`.
#[repr(C)]
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ktls_crypto_info_aes_gcm_128 {
    pub info: ktls_crypto_info,
    pub iv: [u8; KTLS_AES_GCM_128_IV_SIZE],
    pub key: [u8; KTLS_AES_GCM_128_KEY_SIZE],
    pub salt: [u8; KTLS_AES_GCM_128_SALT_SIZE],
    pub rec_seq: [u8; KTLS_AES_GCM_128_REC_SEQ_SIZE],
}

/// `struct ktls_crypto_info_aes_gcm_256`. Holds a key, so it is wiped on drop and not `Copy`.
#[repr(C)]
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ktls_crypto_info_aes_gcm_256 {
    pub info: ktls_crypto_info,
    pub iv: [u8; KTLS_AES_GCM_256_IV_SIZE],
    pub key: [u8; KTLS_AES_GCM_256_KEY_SIZE],
    pub salt: [u8; KTLS_AES_GCM_256_SALT_SIZE],
    pub rec_seq: [u8; KTLS_AES_GCM_256_REC_SEQ_SIZE],
}

/// `struct ktls_crypto_info_chacha20_poly1305`. Holds a key, so it is wiped on drop.
#[repr(C)]
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ktls_crypto_info_chacha20_poly1305 {
    pub info: ktls_crypto_info,
    pub iv: [u8; KTLS_CHACHA20_POLY1305_IV_SIZE],
    pub key: [u8; KTLS_CHACHA20_POLY1305_KEY_SIZE],
    pub rec_seq: [u8; KTLS_CHACHA20_POLY1305_REC_SEQ_SIZE],
}

/// Mainline kernel TLS (`<linux/tls.h>`, `TCP_ULP "tls"`): the `ulp` comparison backend.
/// Its `struct tls12_crypto_info_*` have exactly the layouts above, which is why the same
/// structures serve both.
pub mod mainline {
    /// `SOL_TLS` from `<linux/socket.h>`.
    pub const SOL_TLS: libc::c_int = 282;
    /// `TCP_ULP` from `<linux/tcp.h>`.
    pub const TCP_ULP: libc::c_int = 31;
    pub const TLS_TX: libc::c_int = 1;
    pub const TLS_RX: libc::c_int = 2;
    pub const TLS_SET_RECORD_TYPE: libc::c_int = 1;
    pub const TLS_GET_RECORD_TYPE: libc::c_int = 2;
}

// The header promises fixed-width fields and no holes: a hole would leave uninitialised bytes in
// what setsockopt copies into the kernel.
const _: () = {
    assert!(size_of::<sockaddr_ktls>() == 12);
    assert!(offset_of!(sockaddr_ktls, sa_family) == 0);
    assert!(offset_of!(sockaddr_ktls, sa_cipher) == 2);
    assert!(offset_of!(sockaddr_ktls, sa_version) == 4);
    assert!(offset_of!(sockaddr_ktls, sa_reserved) == 6);
    assert!(offset_of!(sockaddr_ktls, sa_socket) == 8);

    assert!(size_of::<ktls_crypto_info>() == 4);
    assert!(offset_of!(ktls_crypto_info, version) == 0);
    assert!(offset_of!(ktls_crypto_info, cipher_type) == 2);

    assert!(size_of::<ktls_crypto_info_aes_gcm_128>() == 40);
    assert!(offset_of!(ktls_crypto_info_aes_gcm_128, iv) == 4);
    assert!(offset_of!(ktls_crypto_info_aes_gcm_128, key) == 12);
    assert!(offset_of!(ktls_crypto_info_aes_gcm_128, salt) == 28);
    assert!(offset_of!(ktls_crypto_info_aes_gcm_128, rec_seq) == 32);

    assert!(size_of::<ktls_crypto_info_aes_gcm_256>() == 56);
    assert!(offset_of!(ktls_crypto_info_aes_gcm_256, iv) == 4);
    assert!(offset_of!(ktls_crypto_info_aes_gcm_256, key) == 12);
    assert!(offset_of!(ktls_crypto_info_aes_gcm_256, salt) == 44);
    assert!(offset_of!(ktls_crypto_info_aes_gcm_256, rec_seq) == 48);

    assert!(size_of::<ktls_crypto_info_chacha20_poly1305>() == 56);
    assert!(offset_of!(ktls_crypto_info_chacha20_poly1305, iv) == 4);
    assert!(offset_of!(ktls_crypto_info_chacha20_poly1305, key) == 16);
    assert!(offset_of!(ktls_crypto_info_chacha20_poly1305, rec_seq) == 48);
};
