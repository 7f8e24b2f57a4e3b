//! ktls-tool as a library, so the integration tests can drive handshakes and handoffs directly.
//! The binary (`main.rs`) only parses the command line and prints.

pub mod channel;
pub mod cli;
pub mod dtls;
pub mod error;
pub mod handoff;
pub mod pattern;
pub mod serve;
pub mod session;
pub mod tls;
pub mod transfer;
