// SPDX-License-Identifier: GPL-2.0

//! The TLS 1.2, TLS 1.3 and DTLS 1.2 record layer: framing, nonces, AAD and the replay window.
//!
//! This is plain `core` Rust without allocation, kernel types or `unsafe`, and nothing in it can
//! panic on any input: every rejection is a [`RecordError`], which names the errno the module
//! returns for it. The module compiles it as `pub mod record;` in `rust/af_ktls.rs`; the
//! userspace crate `tools/ktls-record` includes the same files to test, fuzz and benchmark them.
//!
//! What is where:
//!
//! - [`protection`]: protocol versions and ciphers (the UAPI numbers), overhead and limits.
//! - [`header`]: content types and the TLS and DTLS record headers.
//! - [`nonce`]: AEAD nonces and additional data for every version and cipher.
//! - [`inner`]: the TLS 1.3 inner plaintext (content type behind zero padding).
//! - [`handshake`]: TLS 1.3 handshake message framing across records (where a KeyUpdate ends).
//! - [`seq`]: sending sequence numbers that never wrap, and DTLS record numbers.
//! - [`window`]: the DTLS 1.2 replay window.
//! - `selftest`: the test cases shared by KUnit and `cargo test` (test builds only).
//!
//! The receive path of a record is: parse the header, check the replay window (DTLS), build the
//! nonce and AAD, decrypt, mark the window (DTLS), and for TLS 1.3 find the inner content type.

pub mod error;
pub mod handshake;
pub mod header;
pub mod inner;
pub mod nonce;
pub mod protection;
#[cfg(any(ktls_kunit, feature = "selftest"))]
pub mod selftest;
pub mod seq;
pub mod window;

pub use error::RecordError;
