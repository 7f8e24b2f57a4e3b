//! Userspace API for `AF_KTLS` sockets.
//!
//! An application completes a TLS 1.2/1.3 (TCP) or DTLS 1.2 (UDP) handshake with its TLS library,
//! turns the library's secrets into [`KeyMaterial`], and hands the connected socket and the keys to
//! the kernel:
//!
//! ```no_run
//! # fn demo(tcp: std::net::TcpStream, keys: af_ktls::KeyMaterial) -> std::io::Result<()> {
//! use std::os::fd::AsFd;
//! let sock = af_ktls::AfKtlsSocket::setup(tcp.as_fd(), &keys)?;
//! sock.send(b"hello", 0)?;
//! # Ok(()) }
//! ```
//!
//! * [`record`]: the kernel module's own record layer (the `ktls-record` crate, compiled from
//!   `rust/record/`): [`Version`], [`Cipher`], headers, nonces, AAD, sequence numbers. This crate
//!   takes every record rule from it and defines none of its own.
//! * [`uapi`] mirrors `include/uapi/linux/ktls.h` (layouts checked at compile time and against the
//!   C compiler in `tests/c_layout.rs`).
//! * [`keys`]: [`KeyMaterial`] / [`DirectionKeys`], wiped on drop.
//! * [`from_rustls`]: rustls `ExtractedSecrets` → [`KeyMaterial`] (feature `rustls`).
//! * [`dtls`]: the DTLS 1.2 key block from an OpenSSL session plus the sequence numbers and
//!   explicit nonces seen on the wire ([`wire`]), with [`prf`] and [`nonce`] doing the work.
//! * [`socket`]: [`AfKtlsSocket`]; [`records`]: what `Read` does with alerts, session tickets
//!   and other records that are not data; [`ulp`]: the same operations on mainline kernel TLS.
//! * [`key_update`]: TLS 1.3 KeyUpdate after the handoff, both directions, on AF_KTLS and
//!   mainline; [`stream`]: [`AfKtlsStream`], a connection that changes keys as long as it lives
//!   (with rustls: [`from_rustls::into_af_ktls_stream`]).

/// The record layer, exactly as the kernel module compiles it (`rust/record/`): protocol versions
/// and ciphers, record headers and limits, nonces and additional data, sequence numbers and the
/// DTLS replay window.
pub use ktls_record as record;

pub mod dtls;
#[cfg(feature = "rustls")]
pub mod from_rustls;
pub mod key_update;
pub mod keys;
pub mod nonce;
pub mod prf;
pub mod records;
pub mod socket;
pub mod stream;
mod sys;
pub mod uapi;
pub mod ulp;
pub mod wire;

pub use key_update::{KeyUpdateRequest, KeyUpdates, NextKeys};
pub use keys::{
    Cipher, CryptoInfo, Direction, DirectionKeys, KeyMaterial, RecordProtection, Version,
};
pub use records::RecordError;
pub use socket::{af_ktls_family, AfKtlsSocket, ReceivedRecord, Transport};
pub use stream::AfKtlsStream;

use core::fmt;

/// Errors from turning library secrets into key material. Socket calls return `std::io::Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The secrets are inconsistent or have the wrong size.
    InvalidKeyMaterial(&'static str),
    /// A version, cipher or situation AF_KTLS (or this crate) does not handle.
    Unsupported(&'static str),
    /// A value the record layer refuses (e.g. a DTLS sequence number over 48 bits).
    Record(ktls_record::RecordError),
    /// The TLS library refused (e.g. rustls asked for the next keys of a TLS 1.2 connection).
    Library(String),
}

impl From<ktls_record::RecordError> for Error {
    fn from(err: ktls_record::RecordError) -> Self {
        Error::Record(err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidKeyMaterial(what) => write!(f, "invalid key material: {what}"),
            Error::Unsupported(what) => write!(f, "unsupported: {what}"),
            Error::Record(err) => write!(f, "record layer: {err}"),
            Error::Library(what) => write!(f, "TLS library: {what}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(err: Error) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, err)
    }
}
