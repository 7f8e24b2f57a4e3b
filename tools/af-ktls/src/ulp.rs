//! Mainline kernel TLS (`net/tls`, `TCP_ULP "tls"`) with the same key material: the `ulp`
//! comparison backend. TLS over TCP only; mainline has no DTLS.
//!
//! Unlike AF_KTLS there is no second socket: the TCP socket itself becomes the TLS socket once the
//! ULP is attached and keys are set, and plain `send`/`recv` on it carry plaintext.
//!
//! TLS 1.3 KeyUpdate works the same way as on AF_KTLS (Linux 7.3, which this project tests with,
//! has it: `TLS_TX`/`TLS_RX` set again with `rec_seq` 0, reads fail with `EKEYEXPIRED` between the peer's KeyUpdate and
//! its new keys): [`Mainline`] is the socket for [`crate::key_update::KeyUpdates`].

use crate::key_update::KernelTls;
use crate::keys::{Cipher, CryptoInfo, Direction, DirectionKeys, KeyMaterial, Version};
use crate::socket::ReceivedRecord;
use crate::sys;
use crate::uapi::mainline::{
    SOL_TLS, TCP_ULP, TLS_GET_RECORD_TYPE, TLS_RX, TLS_SET_RECORD_TYPE, TLS_TX,
};
use crate::uapi::KTLS_RECORD_ALERT;
use std::io;
use std::os::fd::BorrowedFd;

/// `setsockopt(SOL_TCP, TCP_ULP, "tls")`. Fails with `ENOENT` when the `tls` module is not
/// available, `ENOTCONN` on a socket that is not established, `EEXIST` when already attached.
pub fn attach(tcp: BorrowedFd<'_>) -> io::Result<()> {
    sys::setsockopt(tcp, libc::SOL_TCP, TCP_ULP, b"tls")
}

/// `setsockopt(SOL_TLS, TLS_TX | TLS_RX)` with the mainline structure (same layout as AF_KTLS's).
pub fn set_keys(tcp: BorrowedFd<'_>, direction: Direction, keys: &DirectionKeys) -> io::Result<()> {
    if keys.version() == Version::Dtls12 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "mainline kernel TLS has no DTLS",
        ));
    }
    let info = keys.to_crypto_info();
    sys::setsockopt(tcp, SOL_TLS, option_name(direction), info.as_bytes())
}

/// Attaches the ULP and installs both directions (TX first, then RX).
pub fn setup(tcp: BorrowedFd<'_>, keys: &KeyMaterial) -> io::Result<()> {
    if keys.version() == Version::Dtls12 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "mainline kernel TLS has no DTLS",
        ));
    }
    attach(tcp)?;
    set_keys(tcp, Direction::Tx, &keys.tx)?;
    set_keys(tcp, Direction::Rx, &keys.rx)
}

/// `getsockopt(SOL_TLS, TLS_TX | TLS_RX)`: mainline reports the *current* `rec_seq` and `iv`,
/// which tells how many records the kernel has sent or received. Mainline wants the exact size of
/// the cipher's structure, hence `cipher`.
pub fn crypto_info(
    tcp: BorrowedFd<'_>,
    direction: Direction,
    cipher: Cipher,
) -> io::Result<CryptoInfo> {
    let mut buf = zeroize::Zeroizing::new([0u8; 56]);
    let len = sys::getsockopt(
        tcp,
        SOL_TLS,
        option_name(direction),
        &mut buf[..cipher.uapi_crypto_info_len()],
    )?;
    CryptoInfo::from_bytes(&buf[..len]).map_err(io::Error::from)
}

/// `send(2)` of application data on the TCP socket once kernel TLS owns it.
pub fn send(tcp: BorrowedFd<'_>, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    sys::send(tcp, buf, flags)
}

/// Sends one record of `content_type` via the `TLS_SET_RECORD_TYPE` cmsg.
pub fn send_record(
    tcp: BorrowedFd<'_>,
    content_type: u8,
    buf: &[u8],
    flags: libc::c_int,
) -> io::Result<usize> {
    sys::send_with_record_type(tcp, SOL_TLS, TLS_SET_RECORD_TYPE, content_type, buf, flags)
}

/// `recvmsg` with room for `TLS_GET_RECORD_TYPE`. Without that room mainline fails non-data
/// records with `EIO`.
pub fn recv_record(
    tcp: BorrowedFd<'_>,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<ReceivedRecord> {
    let r = sys::recv_with_record_type(tcp, SOL_TLS, TLS_GET_RECORD_TYPE, buf, flags)?;
    Ok(ReceivedRecord {
        len: r.len,
        content_type: r.content_type,
        control_truncated: r.control_truncated,
    })
}

/// Sends a `close_notify` alert.
pub fn send_close_notify(tcp: BorrowedFd<'_>) -> io::Result<()> {
    send_record(tcp, KTLS_RECORD_ALERT, &[1, 0], libc::MSG_NOSIGNAL).map(drop)
}

/// The TCP socket with mainline kernel TLS on it, as the kernel TLS socket
/// [`crate::key_update::KeyUpdates`] sends KeyUpdates on and installs keys into.
#[derive(Clone, Copy, Debug)]
pub struct Mainline<'fd>(pub BorrowedFd<'fd>);

impl KernelTls for Mainline<'_> {
    fn send_record(&self, content_type: u8, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
        send_record(self.0, content_type, buf, flags)
    }

    fn set_keys(&self, direction: Direction, keys: &DirectionKeys) -> io::Result<()> {
        set_keys(self.0, direction, keys)
    }
}

fn option_name(direction: Direction) -> libc::c_int {
    match direction {
        Direction::Tx => TLS_TX,
        Direction::Rx => TLS_RX,
    }
}
