//! The three ways data moves after the handshake, behind one small interface the transfer loop
//! drives: userspace (rustls / OpenSSL keep doing records), `ulp` (mainline kernel TLS on the TCP
//! socket) and `af_ktls` (an AF_KTLS socket bound to the TCP/UDP socket).

use crate::dtls::LoggedUdp;
use crate::error::{Context, Error, Result};
use crate::tls::LoggedTcp;
use af_ktls::key_update::{
    KernelTls, KeyUpdateCounts, KeyUpdateRequest, KeyUpdates, HANDSHAKE_KEY_UPDATE,
};
use af_ktls::records::handshake_messages;
use af_ktls::socket::ReceivedRecord;
use af_ktls::uapi::{
    KTLS_RECORD_ALERT, KTLS_RECORD_APPLICATION_DATA, KTLS_RECORD_CHANGE_CIPHER_SPEC,
    KTLS_RECORD_HANDSHAKE,
};
use af_ktls::ulp::Mainline;
use af_ktls::{AfKtlsSocket, Cipher, Direction};
use openssl::ssl::{ErrorCode, SslStream};
use rustls::Connection;
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, RawFd};

/// What one receive attempt produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// Application data of this length is in the buffer.
    Data(usize),
    WouldBlock,
    /// close_notify or end of stream.
    Closed,
    /// A non-data record that needs no action (e.g. a TLS 1.3 NewSessionTicket).
    Skipped(&'static str),
    /// The peer's TLS 1.3 KeyUpdate (its next keys are installed once the channel returns it).
    KeyUpdate(KeyUpdateRequest),
}

/// Records moved, when the backend can tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordCounts {
    pub sent: Option<u64>,
    pub received: Option<u64>,
}

pub trait Channel {
    /// The descriptor to poll for readiness.
    fn poll_fd(&self) -> RawFd;
    /// Queues or sends `data`; `None` when it would block. Datagram channels send all or nothing.
    fn send(&mut self, data: &[u8]) -> Result<Option<usize>>;
    /// Userspace TLS may hold encrypted output not yet written to the socket.
    fn pending_output(&self) -> bool {
        false
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<Incoming>;
    /// Sends close_notify and, on streams, shuts the write side.
    fn close(&mut self) -> Result<()>;
    /// Records sent/received since the transfer began, when known.
    fn records(&self) -> RecordCounts;
    /// Starts a TLS 1.3 KeyUpdate that also asks the peer to update (`update_requested`): it
    /// goes out before the next data.
    fn request_key_update(&mut self) -> Result<()> {
        Err(Error::msg("this connection cannot send KeyUpdates"))
    }
    /// KeyUpdates sent and received, when the backend knows.
    fn key_updates(&self) -> Option<KeyUpdateCounts> {
        None
    }
}

fn would_block(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

// ---- userspace: rustls ------------------------------------------------------------------------

/// TLS records in userspace with rustls over a non-blocking TCP socket.
pub struct RustlsChannel {
    conn: Connection,
    io: LoggedTcp,
    records_at_start: (u64, u64),
}

// ---- TLS 1.3 KeyUpdate on the kernel backends -------------------------------------------------

/// Sends the KeyUpdates that are due before the next data. False: the socket had no room (the
/// update stays due).
fn flush_key_updates(updates: Option<&KeyUpdates>, sock: &impl KernelTls) -> Result<bool> {
    let Some(updates) = updates.filter(|u| u.due()) else {
        return Ok(true);
    };
    match updates.flush(sock, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) {
        Ok(()) => Ok(true),
        Err(e) if would_block(&e) => Ok(false),
        Err(e) => Err(Error::io("sending a KeyUpdate", e)),
    }
}

/// After a received record: a KeyUpdate's keys are installed here.
fn after_receive(
    incoming: Incoming,
    updates: Option<&KeyUpdates>,
    sock: &impl KernelTls,
) -> Result<Incoming> {
    if let Incoming::KeyUpdate(request) = incoming {
        let updates = updates.ok_or_else(|| {
            Error::msg("peer sent a KeyUpdate, but this connection has no TLS 1.3 key schedule")
        })?;
        updates
            .receive(sock, request)
            .map_err(|e| Error::io("taking the peer's next keys after its KeyUpdate", e))?;
    }
    Ok(incoming)
}

fn request_update(updates: Option<&KeyUpdates>) -> Result<()> {
    let updates =
        updates.ok_or_else(|| Error::msg("KeyUpdate needs TLS 1.3 and a key schedule"))?;
    updates.request(KeyUpdateRequest::Requested);
    Ok(())
}

/// Before close_notify: what is still due goes out (blocking), so the peer ends with our keys.
fn flush_before_close(updates: Option<&KeyUpdates>, sock: &impl KernelTls) -> Result<()> {
    match updates {
        Some(updates) => updates
            .flush(sock, libc::MSG_NOSIGNAL)
            .map_err(|e| Error::io("sending a KeyUpdate before close_notify", e)),
        None => Ok(()),
    }
}

impl RustlsChannel {
    pub fn new(conn: Connection, io: LoggedTcp) -> Result<Self> {
        io.tcp
            .set_nonblocking(true)
            .context("making the TCP socket non-blocking")?;
        let records_at_start = (io.sent.records, io.received.records);
        Ok(RustlsChannel {
            conn,
            io,
            records_at_start,
        })
    }
}

impl Channel for RustlsChannel {
    fn poll_fd(&self) -> RawFd {
        self.io.tcp.as_raw_fd()
    }

    fn send(&mut self, data: &[u8]) -> Result<Option<usize>> {
        let n = self
            .conn
            .writer()
            .write(data)
            .context("encrypting with rustls")?;
        Ok(if n == 0 { None } else { Some(n) })
    }

    fn request_key_update(&mut self) -> Result<()> {
        self.conn
            .refresh_traffic_keys()
            .map_err(|e| Error::msg(format!("rustls refused a KeyUpdate: {e}")))
    }

    fn pending_output(&self) -> bool {
        self.conn.wants_write()
    }

    fn flush(&mut self) -> Result<()> {
        match self.io.flush_tls(&mut self.conn) {
            Ok(()) => Ok(()),
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => Err(Error::io("sending TLS records", e)),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Incoming> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(0) => return Ok(Incoming::Closed),
                Ok(n) => return Ok(Incoming::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Incoming::Closed),
                Err(e) => return Err(Error::io("reading plaintext from rustls", e)),
            }
            let mut reader = LoggingReader {
                tcp: &mut self.io.tcp,
                log: &mut self.io.received,
            };
            match self.conn.read_tls(&mut reader) {
                Ok(0) => return Ok(Incoming::Closed),
                Ok(_) => {}
                Err(e) if would_block(&e) => return Ok(Incoming::WouldBlock),
                Err(e) => return Err(Error::io("reading TLS records", e)),
            }
            if let Err(e) = self.conn.process_new_packets() {
                let _ = self.io.flush_tls(&mut self.conn);
                return Err(Error::msg(format!("TLS error from peer data: {e}")));
            }
        }
    }

    fn close(&mut self) -> Result<()> {
        self.conn.send_close_notify();
        self.io
            .tcp
            .set_nonblocking(false)
            .context("making the TCP socket blocking")?;
        self.io
            .flush_tls(&mut self.conn)
            .map_err(|e| Error::io("sending close_notify", e))?;
        self.io
            .tcp
            .set_nonblocking(true)
            .context("making the TCP socket non-blocking")?;
        shutdown_write(&self.io.tcp)
    }

    fn records(&self) -> RecordCounts {
        RecordCounts {
            sent: Some(self.io.sent.records - self.records_at_start.0),
            received: Some(self.io.received.records - self.records_at_start.1),
        }
    }
}

struct LoggingReader<'a> {
    tcp: &'a mut TcpStream,
    log: &'a mut af_ktls::wire::TlsStreamLog,
}

impl Read for LoggingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.log.observe(&buf[..n]);
        Ok(n)
    }
}

fn shutdown_write(tcp: &TcpStream) -> Result<()> {
    match tcp.shutdown(Shutdown::Write) {
        Ok(()) => Ok(()),
        // The peer may already have closed.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        Err(e) => Err(Error::io("shutting down the TCP write side", e)),
    }
}

// ---- userspace: OpenSSL DTLS ------------------------------------------------------------------

/// DTLS records in userspace with OpenSSL over a non-blocking connected UDP socket.
pub struct OpensslDtlsChannel {
    stream: SslStream<LoggedUdp>,
    records_at_start: (u64, u64),
}

impl OpensslDtlsChannel {
    pub fn new(stream: SslStream<LoggedUdp>) -> Result<Self> {
        stream
            .get_ref()
            .udp
            .set_nonblocking(true)
            .context("making the UDP socket non-blocking")?;
        let io = stream.get_ref();
        let records_at_start = (total_records(&io.sent), total_records(&io.received));
        Ok(OpensslDtlsChannel {
            stream,
            records_at_start,
        })
    }
}

fn total_records(log: &af_ktls::wire::DtlsRecordLog) -> u64 {
    (0..=log.highest_epoch().unwrap_or(0))
        .filter_map(|e| log.epoch(e))
        .map(|e| e.records)
        .sum()
}

impl Channel for OpensslDtlsChannel {
    fn poll_fd(&self) -> RawFd {
        self.stream.get_ref().udp.as_raw_fd()
    }

    fn send(&mut self, data: &[u8]) -> Result<Option<usize>> {
        match self.stream.ssl_write(data) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.code() == ErrorCode::WANT_WRITE || e.code() == ErrorCode::WANT_READ => {
                Ok(None)
            }
            Err(e) => match e.io_error() {
                Some(io) if io.raw_os_error() == Some(libc::ECONNREFUSED) => {
                    Err(Error::msg("peer is gone (ECONNREFUSED)"))
                }
                _ => Err(Error::msg(format!("DTLS write: {e}"))),
            },
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Incoming> {
        match self.stream.ssl_read(buf) {
            Ok(n) => Ok(Incoming::Data(n)),
            Err(e) if e.code() == ErrorCode::ZERO_RETURN => Ok(Incoming::Closed),
            Err(e) if e.code() == ErrorCode::WANT_READ || e.code() == ErrorCode::WANT_WRITE => {
                Ok(Incoming::WouldBlock)
            }
            Err(e) => match e.io_error() {
                Some(io) if io.raw_os_error() == Some(libc::ECONNREFUSED) => Ok(Incoming::Closed),
                _ => Err(Error::msg(format!("DTLS read: {e}"))),
            },
        }
    }

    fn close(&mut self) -> Result<()> {
        // Best effort: the peer may already be gone, and DTLS has no reliable close.
        let _ = self.stream.shutdown();
        Ok(())
    }

    fn records(&self) -> RecordCounts {
        let io = self.stream.get_ref();
        RecordCounts {
            sent: Some(total_records(&io.sent) - self.records_at_start.0),
            received: Some(total_records(&io.received) - self.records_at_start.1),
        }
    }
}

// ---- kernel backends ----------------------------------------------------------------------------

/// Turns one kernel `recvmsg` result into what the transfer loop wants. Non-data records are
/// never silently dropped: a close_notify ends the stream, a NewSessionTicket (which a TLS 1.3
/// server may send right after the handshake) is skipped and counted, a KeyUpdate (after any
/// tickets in its record) is returned for the channel to install the peer's next keys, and
/// anything else — another alert, another handshake message, ChangeCipherSpec — fails the run
/// with a message saying what arrived. A handshake record must be whole in `buf` (the transfer
/// reads with 64 KiB).
pub fn classify_kernel_record(rec: ReceivedRecord, buf: &[u8]) -> Result<Incoming> {
    if rec.control_truncated {
        return Err(Error::msg("record type control message was truncated"));
    }
    let body = &buf[..rec.len];
    match rec.content_type {
        None | Some(KTLS_RECORD_APPLICATION_DATA) => Ok(if rec.len == 0 {
            Incoming::Closed
        } else {
            Incoming::Data(rec.len)
        }),
        Some(KTLS_RECORD_ALERT) => match body {
            [_, 0, ..] => Ok(Incoming::Closed),
            [level, description, ..] => Err(Error::msg(format!(
                "peer sent alert level {level} description {description}"
            ))),
            _ => Err(Error::msg("peer sent a malformed alert")),
        },
        Some(KTLS_RECORD_HANDSHAKE) => {
            let messages = handshake_messages(body);
            if messages.is_empty() {
                return Err(Error::msg("peer sent an empty handshake record"));
            }
            let last = messages.len() - 1;
            let mut incoming = Incoming::Skipped("NewSessionTicket");
            for (i, message) in messages.into_iter().enumerate() {
                match message.map_err(|e| Error::msg(format!("peer's handshake record: {e}")))? {
                    (4, _) => {}
                    (HANDSHAKE_KEY_UPDATE, body) if i == last => {
                        let request = KeyUpdateRequest::from_body(body)
                            .map_err(|e| Error::msg(format!("peer's KeyUpdate: {e}")))?;
                        incoming = Incoming::KeyUpdate(request);
                    }
                    (HANDSHAKE_KEY_UPDATE, _) => {
                        return Err(Error::msg(
                            "peer's KeyUpdate is not the last message of its record",
                        ))
                    }
                    (t, _) => {
                        return Err(Error::msg(format!(
                            "peer sent handshake message type {t} after the handoff"
                        )))
                    }
                }
            }
            Ok(incoming)
        }
        Some(KTLS_RECORD_CHANGE_CIPHER_SPEC) => {
            Err(Error::msg("peer sent ChangeCipherSpec after the handoff"))
        }
        Some(other) => Err(Error::msg(format!(
            "record of unknown content type {other}"
        ))),
    }
}

fn kernel_recv_error(err: io::Error, what: &str) -> Result<Incoming> {
    if would_block(&err) {
        return Ok(Incoming::WouldBlock);
    }
    match err.raw_os_error() {
        Some(libc::ECONNRESET) | Some(libc::ECONNREFUSED) => Ok(Incoming::Closed),
        Some(libc::EBADMSG) => Err(Error::io(
            format!("{what}: record failed authentication"),
            err,
        )),
        Some(libc::EKEYEXPIRED) => Err(Error::io(
            format!("{what}: the peer's KeyUpdate was read but its next keys are not installed"),
            err,
        )),
        _ => Err(Error::io(what.to_string(), err)),
    }
}

fn kernel_send_result(result: io::Result<usize>, what: &str) -> Result<Option<usize>> {
    match result {
        Ok(n) => Ok(Some(n)),
        Err(e) if would_block(&e) => Ok(None),
        Err(e) => Err(Error::io(what.to_string(), e)),
    }
}

/// Records per direction since the handoff, from `getsockopt`'s `rec_seq` (the next record's
/// number). A KeyUpdate restarts it at 0, so the records under each key are added up when the
/// next keys go in ([`Tallied`]). 0 means "unknown" (a kernel that reports the initial value).
struct Tally {
    /// Records under keys already replaced, TX and RX.
    done: [Cell<u64>; 2],
    /// The first `rec_seq` of the current keys, TX and RX.
    start: [Cell<u64>; 2],
}

fn index(direction: Direction) -> usize {
    match direction {
        Direction::Tx => 0,
        Direction::Rx => 1,
    }
}

impl Tally {
    fn new(rec_seq_at_start: (u64, u64)) -> Self {
        Tally {
            done: [Cell::new(0), Cell::new(0)],
            start: [Cell::new(rec_seq_at_start.0), Cell::new(rec_seq_at_start.1)],
        }
    }

    fn total(&self, direction: Direction, now: io::Result<af_ktls::CryptoInfo>) -> Option<u64> {
        let i = index(direction);
        let now = now.ok()?.rec_seq();
        let total = self.done[i].get() + now.saturating_sub(self.start[i].get());
        (total > 0).then_some(total)
    }
}

/// A kernel TLS socket whose key changes are tallied: before new keys go in, the records under
/// the old ones are added to the [`Tally`].
struct Tallied<'a, S> {
    sock: S,
    tally: &'a Tally,
    cipher: Cipher,
    info: fn(&S, Direction, Cipher) -> io::Result<af_ktls::CryptoInfo>,
}

impl<S: KernelTls> KernelTls for Tallied<'_, S> {
    fn send_record(&self, content_type: u8, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
        self.sock.send_record(content_type, buf, flags)
    }

    fn set_keys(&self, direction: Direction, keys: &af_ktls::DirectionKeys) -> io::Result<()> {
        let before = (self.info)(&self.sock, direction, self.cipher);
        self.sock.set_keys(direction, keys)?;
        let i = index(direction);
        let used = before
            .map(|info| info.rec_seq().saturating_sub(self.tally.start[i].get()))
            .unwrap_or(0);
        self.tally.done[i].set(self.tally.done[i].get() + used);
        self.tally.start[i].set(keys.rec_seq());
        Ok(())
    }
}

fn af_ktls_info(
    sock: &&AfKtlsSocket,
    direction: Direction,
    cipher: Cipher,
) -> io::Result<af_ktls::CryptoInfo> {
    sock.crypto_info(direction, cipher)
}

fn mainline_info(
    sock: &Mainline<'_>,
    direction: Direction,
    cipher: Cipher,
) -> io::Result<af_ktls::CryptoInfo> {
    af_ktls::ulp::crypto_info(sock.0, direction, cipher)
}

/// Mainline kernel TLS on the TCP socket itself.
pub struct UlpChannel {
    tcp: TcpStream,
    cipher: Cipher,
    records: Tally,
    /// TLS 1.3: KeyUpdates both ways.
    updates: Option<KeyUpdates>,
}

impl UlpChannel {
    pub fn new(
        tcp: TcpStream,
        cipher: Cipher,
        rec_seq_at_start: (u64, u64),
        updates: Option<KeyUpdates>,
    ) -> Self {
        UlpChannel {
            tcp,
            cipher,
            records: Tally::new(rec_seq_at_start),
            updates,
        }
    }

    /// The socket for KeyUpdates.
    fn kernel(&self) -> Tallied<'_, Mainline<'_>> {
        Tallied {
            sock: Mainline(self.tcp.as_fd()),
            tally: &self.records,
            cipher: self.cipher,
            info: mainline_info,
        }
    }
}

impl Channel for UlpChannel {
    fn poll_fd(&self) -> RawFd {
        self.tcp.as_raw_fd()
    }

    fn send(&mut self, data: &[u8]) -> Result<Option<usize>> {
        if !flush_key_updates(self.updates.as_ref(), &self.kernel())? {
            return Ok(None);
        }
        let sent = af_ktls::ulp::send(
            self.tcp.as_fd(),
            data,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        );
        kernel_send_result(sent, "send on kernel TLS")
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Incoming> {
        match af_ktls::ulp::recv_record(self.tcp.as_fd(), buf, libc::MSG_DONTWAIT) {
            Ok(rec) => after_receive(
                classify_kernel_record(rec, buf)?,
                self.updates.as_ref(),
                &self.kernel(),
            ),
            Err(e) => kernel_recv_error(e, "recvmsg on kernel TLS"),
        }
    }

    fn request_key_update(&mut self) -> Result<()> {
        request_update(self.updates.as_ref())
    }

    fn key_updates(&self) -> Option<KeyUpdateCounts> {
        self.updates.as_ref().map(KeyUpdates::counts)
    }

    fn close(&mut self) -> Result<()> {
        flush_before_close(self.updates.as_ref(), &self.kernel())?;
        match af_ktls::ulp::send_close_notify(self.tcp.as_fd()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
            Err(e) => return Err(Error::io("sending close_notify through kernel TLS", e)),
        }
        shutdown_write(&self.tcp)
    }

    fn records(&self) -> RecordCounts {
        let fd = self.tcp.as_fd();
        let now = |d| af_ktls::ulp::crypto_info(fd, d, self.cipher);
        RecordCounts {
            sent: self.records.total(Direction::Tx, now(Direction::Tx)),
            received: self.records.total(Direction::Rx, now(Direction::Rx)),
        }
    }
}

/// The transport socket an AF_KTLS socket is bound to; kept open for the socket's whole life.
pub enum Transport {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

/// An AF_KTLS socket bound to the TCP or UDP socket.
pub struct AfKtlsChannel {
    sock: AfKtlsSocket,
    transport: Transport,
    cipher: Cipher,
    records: Tally,
    /// TLS 1.3: KeyUpdates both ways.
    updates: Option<KeyUpdates>,
}

impl AfKtlsChannel {
    pub fn new(
        sock: AfKtlsSocket,
        transport: Transport,
        cipher: Cipher,
        rec_seq_at_start: (u64, u64),
        updates: Option<KeyUpdates>,
    ) -> Self {
        AfKtlsChannel {
            sock,
            transport,
            cipher,
            records: Tally::new(rec_seq_at_start),
            updates,
        }
    }

    /// The socket for KeyUpdates.
    fn kernel(&self) -> Tallied<'_, &AfKtlsSocket> {
        Tallied {
            sock: &self.sock,
            tally: &self.records,
            cipher: self.cipher,
            info: af_ktls_info,
        }
    }
}

impl Channel for AfKtlsChannel {
    fn poll_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn send(&mut self, data: &[u8]) -> Result<Option<usize>> {
        if !flush_key_updates(self.updates.as_ref(), &self.kernel())? {
            return Ok(None);
        }
        kernel_send_result(
            self.sock
                .send(data, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL),
            "send on AF_KTLS",
        )
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<Incoming> {
        match self.sock.recv_record(buf, libc::MSG_DONTWAIT) {
            Ok(rec) => after_receive(
                classify_kernel_record(rec, buf)?,
                self.updates.as_ref(),
                &self.kernel(),
            ),
            Err(e) => kernel_recv_error(e, "recvmsg on AF_KTLS"),
        }
    }

    fn request_key_update(&mut self) -> Result<()> {
        request_update(self.updates.as_ref())
    }

    fn key_updates(&self) -> Option<KeyUpdateCounts> {
        self.updates.as_ref().map(KeyUpdates::counts)
    }

    fn close(&mut self) -> Result<()> {
        flush_before_close(self.updates.as_ref(), &self.kernel())?;
        match self.sock.send_close_notify() {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EPIPE) | Some(libc::ECONNREFUSED)
                ) => {}
            Err(e) => return Err(Error::io("sending close_notify through AF_KTLS", e)),
        }
        match &self.transport {
            Transport::Udp(_) => Ok(()),
            // Shut down through AF_KTLS so that anything it still queues goes out first; fall back
            // to the TCP socket if the module does not implement shutdown.
            Transport::Tcp(tcp) => match self.sock.shutdown(Shutdown::Write) {
                Ok(()) => Ok(()),
                Err(_) => shutdown_write(tcp),
            },
        }
    }

    fn records(&self) -> RecordCounts {
        let now = |d| self.sock.crypto_info(d, self.cipher);
        RecordCounts {
            sent: self.records.total(Direction::Tx, now(Direction::Tx)),
            received: self.records.total(Direction::Rx, now(Direction::Rx)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(len: usize, content_type: Option<u8>) -> ReceivedRecord {
        ReceivedRecord {
            len,
            content_type,
            control_truncated: false,
        }
    }

    #[test]
    fn kernel_records_are_classified() {
        assert_eq!(
            classify_kernel_record(rec(5, Some(23)), b"hello").ok(),
            Some(Incoming::Data(5))
        );
        assert_eq!(
            classify_kernel_record(rec(5, None), b"hello").ok(),
            Some(Incoming::Data(5))
        );
        assert_eq!(
            classify_kernel_record(rec(0, None), b"").ok(),
            Some(Incoming::Closed)
        );
        assert_eq!(
            classify_kernel_record(rec(2, Some(21)), &[1, 0]).ok(),
            Some(Incoming::Closed)
        );
        assert!(classify_kernel_record(rec(2, Some(21)), &[2, 40]).is_err());
        assert_eq!(
            classify_kernel_record(rec(4, Some(22)), &[4, 0, 0, 0]).ok(),
            Some(Incoming::Skipped("NewSessionTicket"))
        );
        assert_eq!(
            classify_kernel_record(rec(5, Some(22)), &[24, 0, 0, 1, 1]).ok(),
            Some(Incoming::KeyUpdate(KeyUpdateRequest::Requested))
        );
        // Tickets, then a KeyUpdate at the end of the record.
        assert_eq!(
            classify_kernel_record(rec(11, Some(22)), &[4, 0, 0, 2, 7, 7, 24, 0, 0, 1, 0]).ok(),
            Some(Incoming::KeyUpdate(KeyUpdateRequest::NotRequested))
        );
        for bad in [
            &[24, 0, 0, 1, 2][..],
            &[24, 0, 0, 1, 0, 4, 0, 0, 0],
            &[24, 0, 0, 2, 0],
            &[20, 0, 0, 0],
            &[],
        ] {
            assert!(
                classify_kernel_record(rec(bad.len(), Some(22)), bad).is_err(),
                "{bad:?}"
            );
        }
        assert!(classify_kernel_record(rec(1, Some(20)), &[1]).is_err());
        let truncated = ReceivedRecord {
            len: 1,
            content_type: Some(23),
            control_truncated: true,
        };
        assert!(classify_kernel_record(truncated, &[0]).is_err());
    }
}
