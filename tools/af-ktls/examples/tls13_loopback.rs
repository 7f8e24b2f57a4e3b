// SPDX-License-Identifier: GPL-2.0
//! The Rust twin of `Documentation/examples/tls13_loopback.c`: a TLS 1.3 AES-128-GCM connection
//! over loopback TCP through two AF_KTLS sockets, with fixed keys standing in for the ones a TLS
//! library exports after its handshake (`af_ktls::from_rustls` does that for rustls).
//!
//! ```sh
//! cargo build --release -p af-ktls --example tls13_loopback
//! insmod af_ktls.ko && target/release/examples/tls13_loopback
//! ```
//! `make check` builds and runs it in the test VM.

use std::{
    error::Error,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    os::fd::AsFd,
};

use af_ktls::{
    keys::{Cipher, DirectionKeys, KeyMaterial, Version},
    socket::AfKtlsSocket,
};

/// One direction's keys: the write key and, for TLS 1.3, the 12-byte write IV.
fn keys(key: &[u8; 16], iv: &[u8; 12]) -> Result<DirectionKeys, af_ktls::Error> {
    // rec_seq 0: the next record's number, as for a client right after a TLS 1.3 handshake (a
    // server that sent session tickets starts after them: Documentation/af_ktls.md).
    DirectionKeys::new(Version::Tls13, Cipher::Aes128Gcm, key, *iv, 0)
}

fn main() -> Result<(), Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client_tcp = TcpStream::connect(listener.local_addr()?)?;
    let (server_tcp, _) = listener.accept()?;

    let client_write = || keys(b"client-write-key", b"cIV.client-i");
    let server_write = || keys(b"server-write-key", b"sIV.server-i");
    // Each socket sends with its own write keys and receives with the peer's.
    let client = AfKtlsSocket::setup(
        client_tcp.as_fd(),
        &KeyMaterial::new(client_write()?, server_write()?)?,
    )?;
    let server = AfKtlsSocket::setup(
        server_tcp.as_fd(),
        &KeyMaterial::new(server_write()?, client_write()?)?,
    )?;

    let hello = b"hello over AF_KTLS";
    (&client).write_all(hello)?;
    let mut buf = [0u8; 64];
    let n = (&server).read(&mut buf)?;
    println!(
        "server received {n} bytes: {}",
        String::from_utf8_lossy(&buf[..n])
    );
    (&server).write_all(&buf[..n])?;
    let n = (&client).read(&mut buf)?;
    println!("client received {n} bytes back");
    if &buf[..n] != hello {
        return Err("echo differs".into());
    }
    Ok(())
}
