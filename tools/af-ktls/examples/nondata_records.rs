// SPDX-License-Identifier: GPL-2.0
//! What `Read` on an AF_KTLS socket does with records that are not application data (see
//! `af_ktls::records`): a sender makes each kind of record through the kernel (`send_record`), the
//! receiver reads. Two AF_KTLS sockets over loopback TCP with fixed TLS 1.3 keys, as in
//! `tls13_loopback`.
//!
//! ```sh
//! cargo build --release -p af-ktls --example nondata_records
//! insmod af_ktls.ko && target/release/examples/nondata_records
//! ```
//! `make check` builds and runs it in the test VM.

use std::{
    error::Error,
    io::{ErrorKind, Read, Write},
    net::{TcpListener, TcpStream},
    os::fd::AsFd,
};

use af_ktls::{
    keys::{Cipher, Direction, DirectionKeys, KeyMaterial, Version},
    uapi::{KTLS_RECORD_ALERT, KTLS_RECORD_HANDSHAKE},
    AfKtlsSocket, RecordError,
};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn keys(key: &[u8; 16], iv: &[u8; 12]) -> std::result::Result<DirectionKeys, af_ktls::Error> {
    DirectionKeys::new(Version::Tls13, Cipher::Aes128Gcm, key, *iv, 0)
}

/// A NewSessionTicket handshake message with a `len`-byte body.
fn ticket(len: usize) -> Vec<u8> {
    let mut m = vec![4, 0, (len >> 8) as u8, len as u8];
    m.resize(4 + len, 0xaa);
    m
}

fn expect(what: &str, got: std::io::Result<usize>, want: &RecordError) -> Result<()> {
    match got {
        Err(e) if RecordError::from_io(&e) == Some(want) => {
            println!("{what}: Err({e})");
            Ok(())
        }
        other => Err(format!("{what}: expected {want:?}, got {other:?}").into()),
    }
}

fn main() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let a_tcp = TcpStream::connect(listener.local_addr()?)?;
    let (b_tcp, _) = listener.accept()?;
    let a_write = || keys(b"client-write-key", b"cIV.client-i");
    let b_write = || keys(b"server-write-key", b"sIV.server-i");
    let sender = AfKtlsSocket::setup(a_tcp.as_fd(), &KeyMaterial::new(a_write()?, b_write()?)?)?;
    let reader = AfKtlsSocket::setup(b_tcp.as_fd(), &KeyMaterial::new(b_write()?, a_write()?)?)?;
    let mut buf = [0u8; 64];

    // Two tickets, then data: a plain recv fails with EIO, Read skips the tickets.
    sender.send_record(KTLS_RECORD_HANDSHAKE, &ticket(200), 0)?;
    sender.send_record(KTLS_RECORD_HANDSHAKE, &ticket(3000), 0)?;
    (&sender).write_all(b"data")?;
    let plain = reader.recv(&mut buf, 0);
    if plain.as_ref().map_err(|e| e.raw_os_error()) != Err(Some(libc::EIO)) {
        return Err(format!("plain recv: expected EIO, got {plain:?}").into());
    }
    println!("plain recv before the tickets: EIO");
    // A buffer smaller than a ticket: the tickets are read in pieces and skipped whole.
    let n = (&reader).read(&mut buf[..3])?;
    let m = (&reader).read(&mut buf[n..])?;
    if &buf[..n + m] != b"data" {
        return Err("read after the tickets did not return the data".into());
    }
    println!(
        "Read: two NewSessionTickets skipped, then {} bytes of data",
        n + m
    );

    // Kept for the application when asked.
    reader.set_return_session_tickets(true);
    sender.send_record(KTLS_RECORD_HANDSHAKE, &ticket(40), 0)?;
    expect(
        "NewSessionTicket, returned",
        (&reader).read(&mut buf),
        &RecordError::NewSessionTicket(ticket(40)),
    )?;
    reader.set_return_session_tickets(false);

    // A KeyUpdate: the records after it are under the sender's next keys, which only the TLS
    // library can derive, so Read stops and tells the application (`AfKtlsStream` does the rest
    // with rustls's key schedule). Fixed "next" keys stand in for the derived ones here.
    sender.send_record(KTLS_RECORD_HANDSHAKE, &[24, 0, 0, 1, 1], 0)?;
    sender.set_keys(Direction::Tx, &keys(b"client-next-key.", b"cIV.client-n")?)?;
    expect(
        "KeyUpdate",
        (&reader).read(&mut buf),
        &RecordError::KeyUpdate {
            update_requested: true,
        },
    )?;
    let stopped = (&reader).read(&mut buf);
    if stopped.as_ref().map_err(|e| e.raw_os_error()) != Err(Some(libc::EKEYEXPIRED)) {
        return Err(
            format!("read before the next keys: expected EKEYEXPIRED, got {stopped:?}").into(),
        );
    }
    println!("read before the next keys: EKEYEXPIRED");
    reader.set_keys(Direction::Rx, &keys(b"client-next-key.", b"cIV.client-n")?)?;

    // user_canceled is skipped; another alert is an error of kind ConnectionAborted.
    sender.send_record(KTLS_RECORD_ALERT, &[1, 90], 0)?;
    sender.send_record(KTLS_RECORD_ALERT, &[2, 80], 0)?;
    let alert = (&reader).read(&mut buf);
    if !matches!(&alert, Err(e) if e.kind() == ErrorKind::ConnectionAborted) {
        return Err(format!("alert: expected ConnectionAborted, got {alert:?}").into());
    }
    expect(
        "alert internal_error",
        alert,
        &RecordError::Alert {
            level: 2,
            description: 80,
        },
    )?;

    // close_notify ends the stream.
    (&sender).write_all(b"last")?;
    sender.send_close_notify()?;
    let n = (&reader).read(&mut buf)?;
    let end = (&reader).read(&mut buf[n..])?;
    if &buf[..n] != b"last" || end != 0 {
        return Err("close_notify did not read as the end of the stream".into());
    }
    println!("Read: data, then Ok(0) at close_notify");
    Ok(())
}
