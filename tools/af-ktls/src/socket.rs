//! `AfKtlsSocket`: an AF_KTLS socket bound to a connected TCP or UDP socket.

use crate::keys::{Cipher, CryptoInfo, Direction, DirectionKeys, KeyMaterial, Version};
use crate::sys;
use crate::uapi;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Where the module publishes the family number it registered (module parameter `family`).
const FAMILY_PARAMETER: &str = "/sys/module/af_ktls/parameters/family";

/// The family number to use: the loaded module's `family` parameter, or [`uapi::AF_KTLS`] when
/// the module is not loaded (socket() will then fail with `EAFNOSUPPORT`, as it should).
pub fn af_ktls_family() -> libc::c_int {
    std::fs::read_to_string(FAMILY_PARAMETER)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(uapi::AF_KTLS)
}

/// The kind of AF_KTLS socket: a stream for TLS over TCP, datagrams for DTLS over UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Stream,
    Datagram,
}

impl Transport {
    pub fn for_version(version: Version) -> Self {
        if version.is_datagram() {
            Transport::Datagram
        } else {
            Transport::Stream
        }
    }

    fn socket_type(self) -> libc::c_int {
        match self {
            Transport::Stream => libc::SOCK_STREAM,
            Transport::Datagram => libc::SOCK_DGRAM,
        }
    }
}

/// What one `recvmsg` returned: `len` bytes of one record type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedRecord {
    pub len: usize,
    /// The `KTLS_GET_RECORD_TYPE` control message, if the kernel sent one.
    pub content_type: Option<u8>,
    /// The kernel had more control data than fitted (`MSG_CTRUNC`).
    pub control_truncated: bool,
}

impl ReceivedRecord {
    /// Application data, either marked so or unmarked (a kernel may omit the cmsg for data).
    pub fn is_application_data(&self) -> bool {
        matches!(
            self.content_type,
            None | Some(uapi::KTLS_RECORD_APPLICATION_DATA)
        )
    }
}

/// An AF_KTLS socket. Closing it (drop) releases the kernel's reference to the bound socket.
///
/// `Read` (on `&AfKtlsSocket`) returns application data only: see [`crate::records`] for what
/// happens to alerts, session tickets and other records. `Write` sends application data.
#[derive(Debug)]
pub struct AfKtlsSocket {
    fd: OwnedFd,
    /// The family the socket was created with; bind() repeats it in `sa_family`.
    family: u16,
    transport: Transport,
    /// `Read` returns NewSessionTicket records as errors instead of skipping them.
    return_tickets: AtomicBool,
}

impl AfKtlsSocket {
    /// `socket(AF_KTLS, SOCK_STREAM | SOCK_DGRAM, 0)` with the family the module registered.
    pub fn new(transport: Transport) -> io::Result<Self> {
        Self::with_family(af_ktls_family(), transport)
    }

    /// Like [`AfKtlsSocket::new`] with an explicit family number.
    pub fn with_family(family: libc::c_int, transport: Transport) -> io::Result<Self> {
        let family_field = u16::try_from(family).map_err(|_| io::ErrorKind::InvalidInput)?;
        Ok(AfKtlsSocket {
            fd: sys::socket(family, transport.socket_type())?,
            family: family_field,
            transport,
            return_tickets: AtomicBool::new(false),
        })
    }

    /// Stream (TLS over TCP) or datagram (DTLS over UDP).
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// `true`: `Read` and [`AfKtlsSocket::recv_data`] return each TLS 1.3 NewSessionTicket
    /// record as [`crate::records::RecordError::NewSessionTicket`] (for a TLS library that keeps
    /// tickets for resumption); `false` (the default): they skip it.
    pub fn set_return_session_tickets(&self, on: bool) {
        self.return_tickets.store(on, Ordering::Relaxed);
    }

    pub fn returns_session_tickets(&self) -> bool {
        self.return_tickets.load(Ordering::Relaxed)
    }

    /// Creates a socket of the right kind, binds it to `connected` and installs both directions'
    /// keys (TX first, then RX).
    pub fn setup(connected: BorrowedFd<'_>, keys: &KeyMaterial) -> io::Result<Self> {
        let sock = Self::new(Transport::for_version(keys.version()))?;
        sock.bind(connected, keys.version(), keys.cipher())?;
        sock.set_keys(Direction::Tx, &keys.tx)?;
        sock.set_keys(Direction::Rx, &keys.rx)?;
        Ok(sock)
    }

    /// `bind()` to the connected TCP/UDP socket `connected`.
    pub fn bind(
        &self,
        connected: BorrowedFd<'_>,
        version: Version,
        cipher: Cipher,
    ) -> io::Result<()> {
        let addr = sockaddr(self.family, connected.as_raw_fd(), version, cipher);
        sys::bind(self.fd.as_fd(), crate::keys::sockaddr_bytes(&addr))
    }

    /// `setsockopt(SOL_KTLS, KTLS_TX | KTLS_RX)`.
    pub fn set_keys(&self, direction: Direction, keys: &DirectionKeys) -> io::Result<()> {
        let info = keys.to_crypto_info();
        sys::setsockopt(
            self.fd.as_fd(),
            uapi::SOL_KTLS,
            option_name(direction),
            info.as_bytes(),
        )
    }

    /// `getsockopt(SOL_KTLS, KTLS_TX | KTLS_RX)`: what the kernel holds for `direction`. The
    /// length asked for is exactly the cipher's structure, as the ABI requires.
    pub fn crypto_info(&self, direction: Direction, cipher: Cipher) -> io::Result<CryptoInfo> {
        let mut buf = zeroize::Zeroizing::new([0u8; 56]);
        let len = sys::getsockopt(
            self.fd.as_fd(),
            uapi::SOL_KTLS,
            option_name(direction),
            &mut buf[..cipher.uapi_crypto_info_len()],
        )?;
        CryptoInfo::from_bytes(&buf[..len]).map_err(io::Error::from)
    }

    /// `KTLS_TX_MAX_PAYLOAD_LEN`: largest plaintext per record sent.
    pub fn set_tx_max_payload_len(&self, len: u16) -> io::Result<()> {
        sys::setsockopt(
            self.fd.as_fd(),
            uapi::SOL_KTLS,
            uapi::KTLS_TX_MAX_PAYLOAD_LEN,
            &len.to_ne_bytes(),
        )
    }

    /// `KTLS_DTLS_MTU`: largest datagram sent, overhead included (DTLS only).
    pub fn set_dtls_mtu(&self, mtu: u32) -> io::Result<()> {
        sys::setsockopt(
            self.fd.as_fd(),
            uapi::SOL_KTLS,
            uapi::KTLS_DTLS_MTU,
            &mtu.to_ne_bytes(),
        )
    }

    /// `KTLS_RX_DECRYPT_AHEAD`: whether arriving records are opened before `recv` asks (the
    /// default) or only inside `recv`.
    pub fn set_decrypt_ahead(&self, on: bool) -> io::Result<()> {
        sys::setsockopt(
            self.fd.as_fd(),
            uapi::SOL_KTLS,
            uapi::KTLS_RX_DECRYPT_AHEAD,
            &libc::c_int::from(on).to_ne_bytes(),
        )
    }

    pub fn send(&self, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
        sys::send(self.fd.as_fd(), buf, flags)
    }

    /// Plain `recv(2)`: fails with `EIO` (leaving the record queued) when the next record is not
    /// application data. [`AfKtlsSocket::recv_data`] and `Read` deal with those records.
    pub fn recv(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
        sys::recv(self.fd.as_fd(), buf, flags)
    }

    /// Sends `buf` as one record of `content_type` (e.g. an alert) via `KTLS_SET_RECORD_TYPE`.
    pub fn send_record(
        &self,
        content_type: u8,
        buf: &[u8],
        flags: libc::c_int,
    ) -> io::Result<usize> {
        sys::send_with_record_type(
            self.fd.as_fd(),
            uapi::SOL_KTLS,
            uapi::KTLS_SET_RECORD_TYPE,
            content_type,
            buf,
            flags,
        )
    }

    /// `recvmsg` with room for `KTLS_GET_RECORD_TYPE`, so non-data records can be told apart.
    pub fn recv_record(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<ReceivedRecord> {
        let r = sys::recv_with_record_type(
            self.fd.as_fd(),
            uapi::SOL_KTLS,
            uapi::KTLS_GET_RECORD_TYPE,
            buf,
            flags,
        )?;
        Ok(ReceivedRecord {
            len: r.len,
            content_type: r.content_type,
            control_truncated: r.control_truncated,
        })
    }

    /// `shutdown(2)` on the AF_KTLS socket: `Write` seals and sends an open record, then shuts
    /// down the bound socket's write side once the records waiting for room went out; `Read`
    /// ends reading (Documentation/af_ktls.md, "Long-lived connections"). A close_notify stays
    /// the application's: [`AfKtlsSocket::send_close_notify`] first.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        sys::shutdown(self.fd.as_fd(), how)
    }

    /// Sends a `close_notify` alert (warning level, description 0).
    pub fn send_close_notify(&self) -> io::Result<()> {
        self.send_record(uapi::KTLS_RECORD_ALERT, &[1, 0], libc::MSG_NOSIGNAL)
            .map(drop)
    }
}

fn option_name(direction: Direction) -> libc::c_int {
    match direction {
        Direction::Tx => uapi::KTLS_TX,
        Direction::Rx => uapi::KTLS_RX,
    }
}

/// The `bind()` address for `connected` (a descriptor number) with `version` and `cipher`.
pub fn sockaddr(
    family: u16,
    connected: RawFd,
    version: Version,
    cipher: Cipher,
) -> uapi::sockaddr_ktls {
    uapi::sockaddr_ktls {
        sa_family: family,
        sa_cipher: cipher.uapi(),
        sa_version: version.uapi(),
        sa_reserved: 0,
        sa_socket: connected,
    }
}

impl AsFd for AfKtlsSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for AfKtlsSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Application data only; `Ok(0)` at close_notify or the end of the stream; other records as
/// in [`crate::records`].
impl io::Read for &AfKtlsSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_data(buf, 0)
    }
}

impl io::Write for &AfKtlsSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf, libc::MSG_NOSIGNAL)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_byte_layout() {
        let addr = sockaddr(12, 7, Version::Dtls12, Cipher::Aes256Gcm);
        let bytes = crate::keys::sockaddr_bytes(&addr);
        let mut expected = Vec::new();
        expected.extend_from_slice(&12u16.to_ne_bytes());
        expected.extend_from_slice(&52u16.to_ne_bytes());
        expected.extend_from_slice(&0xfefdu16.to_ne_bytes());
        expected.extend_from_slice(&0u16.to_ne_bytes());
        expected.extend_from_slice(&7i32.to_ne_bytes());
        assert_eq!(bytes, &expected[..]);
    }

    #[test]
    fn transport_follows_version() {
        assert_eq!(Transport::for_version(Version::Dtls12), Transport::Datagram);
        assert_eq!(Transport::for_version(Version::Tls13), Transport::Stream);
    }

    #[test]
    fn socket_without_the_module_fails_cleanly() {
        // On a host without the module the family is unknown: a clear errno, no panic.
        if std::path::Path::new(FAMILY_PARAMETER).exists() {
            return;
        }
        let err = AfKtlsSocket::new(Transport::Stream).expect_err("no AF_KTLS on this kernel");
        assert_eq!(err.raw_os_error(), Some(libc::EAFNOSUPPORT), "{err}");
    }
}
