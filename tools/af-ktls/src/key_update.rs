//! TLS 1.3 KeyUpdate (RFC 8446 §4.6.3) after the handoff, on AF_KTLS and on mainline kernel TLS.
//!
//! The kernel does the records; the application does the key schedule (Documentation/af_ktls.md,
//! "Long-lived connections"):
//!
//! * **Sending.** Send the KeyUpdate handshake message `{24, 0, 0, 1, request_update}` as one
//!   handshake record, then set `KTLS_TX` (mainline: `TLS_TX`) again with the next traffic keys and
//!   `rec_seq` 0. Every later record uses them.
//! * **Receiving.** The peer's KeyUpdate arrives as a handshake record; the kernel returns it and
//!   then fails reads with `EKEYEXPIRED` until `KTLS_RX` (`TLS_RX`) is set again with the peer's
//!   next keys and `rec_seq` 0. If the peer set `update_requested`, a KeyUpdate of our own with
//!   `update_not_requested` must go out before our next application data.
//!
//! The next keys come from the TLS library that did the handshake and keeps the traffic secrets
//! ([`NextKeys`]; for rustls, [`crate::from_rustls::KeySchedule`], which asks rustls's
//! `KernelConnection` for `application_traffic_secret_N+1` = HKDF-Expand-Label(secret_N,
//! "traffic upd", "", Hash.length) and the key and IV derived from it).
//!
//! [`KeyUpdates`] is the bookkeeping for both directions, usable from several threads: it
//! remembers an answer owed to the peer and an update the application asked for, derives each
//! key once, and never installs keys without having sent the message (or sends the message
//! without installing the keys, except when the kernel refuses them: then the connection is
//! over, see [`KeyUpdates::flush`]). [`KernelTls`] is what it needs from the socket; AF_KTLS
//! sockets and mainline's TCP sockets ([`crate::ulp::Mainline`]) implement it.
//! [`crate::stream::AfKtlsStream`] puts it together for `Read`/`Write`.

use crate::keys::{Direction, DirectionKeys, Version};
use crate::records::RecordError;
use crate::socket::AfKtlsSocket;
use crate::uapi::KTLS_RECORD_HANDSHAKE;
use crate::Error;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The handshake message type of KeyUpdate (the record layer's, shared with the kernel).
pub use crate::record::handshake::HANDSHAKE_KEY_UPDATE;

/// The length of a whole KeyUpdate message: type, 24-bit length 1, `request_update`.
pub const KEY_UPDATE_MESSAGE_LEN: usize = 5;

/// The `request_update` field of a KeyUpdate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyUpdateRequest {
    /// `update_not_requested` (0): only the sender's keys change.
    NotRequested,
    /// `update_requested` (1): the receiver must answer with a KeyUpdate of its own.
    Requested,
}

impl KeyUpdateRequest {
    /// The byte on the wire.
    pub fn wire(self) -> u8 {
        match self {
            KeyUpdateRequest::NotRequested => 0,
            KeyUpdateRequest::Requested => 1,
        }
    }

    /// Parses the body of a KeyUpdate message (what follows the 4-byte handshake header): exactly
    /// one byte, 0 or 1 (RFC 8446 §4.6.3; anything else is `illegal_parameter`).
    pub fn from_body(body: &[u8]) -> Result<Self, RecordError> {
        match body {
            [0] => Ok(KeyUpdateRequest::NotRequested),
            [1] => Ok(KeyUpdateRequest::Requested),
            _ => Err(RecordError::InvalidKeyUpdate),
        }
    }

    /// The whole handshake message: `{24, 0, 0, 1, request_update}`.
    pub fn message(self) -> [u8; KEY_UPDATE_MESSAGE_LEN] {
        [HANDSHAKE_KEY_UPDATE, 0, 0, 1, self.wire()]
    }
}

/// Where the next traffic keys come from: the TLS library that did the handshake and keeps the
/// connection's traffic secrets. Each call moves that direction's secret one step on, so each
/// must be installed (the [`KeyUpdates`] calls each once per KeyUpdate).
pub trait NextKeys: Send {
    /// Our next write keys, `rec_seq` 0: after we sent a KeyUpdate.
    fn next_tx_keys(&mut self) -> Result<DirectionKeys, Error>;
    /// The peer's next write keys, `rec_seq` 0: after it sent a KeyUpdate.
    fn next_rx_keys(&mut self) -> Result<DirectionKeys, Error>;
    /// Whether the library wants the peer's TLS 1.3 NewSessionTicket messages (a client that
    /// resumes sessions); `false`: they are skipped.
    fn wants_session_tickets(&self) -> bool {
        false
    }
    /// One NewSessionTicket message's body (without the 4-byte handshake header).
    fn new_session_ticket(&mut self, _body: &[u8]) -> Result<(), Error> {
        Ok(())
    }
}

/// What [`KeyUpdates`] needs from the kernel's TLS socket: AF_KTLS ([`AfKtlsSocket`]) or mainline
/// kernel TLS on the TCP socket ([`crate::ulp::Mainline`]).
pub trait KernelTls {
    /// Sends `buf` as one record of `content_type` (`KTLS_SET_RECORD_TYPE`/`TLS_SET_RECORD_TYPE`).
    fn send_record(&self, content_type: u8, buf: &[u8], flags: libc::c_int) -> io::Result<usize>;
    /// Installs one direction's keys (`KTLS_TX`/`KTLS_RX`, `TLS_TX`/`TLS_RX`).
    fn set_keys(&self, direction: Direction, keys: &DirectionKeys) -> io::Result<()>;
}

impl KernelTls for AfKtlsSocket {
    fn send_record(&self, content_type: u8, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
        AfKtlsSocket::send_record(self, content_type, buf, flags)
    }

    fn set_keys(&self, direction: Direction, keys: &DirectionKeys) -> io::Result<()> {
        AfKtlsSocket::set_keys(self, direction, keys)
    }
}

impl<T: KernelTls + ?Sized> KernelTls for &T {
    fn send_record(&self, content_type: u8, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
        (**self).send_record(content_type, buf, flags)
    }

    fn set_keys(&self, direction: Direction, keys: &DirectionKeys) -> io::Result<()> {
        (**self).set_keys(direction, keys)
    }
}

/// How many KeyUpdates went each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyUpdateCounts {
    /// KeyUpdates we sent (ours and answers), each followed by new TX keys.
    pub sent: u64,
    /// Of those, the ones that asked the peer to update too.
    pub sent_requesting: u64,
    /// KeyUpdates the peer sent, each followed by new RX keys.
    pub received: u64,
    /// Of those, the ones that asked us to update too.
    pub received_requesting: u64,
}

/// Our side's KeyUpdate not yet on the wire.
struct TxState {
    /// The application asked for an update ([`KeyUpdates::request`]).
    wanted: Option<KeyUpdateRequest>,
    /// Derived but not yet sent: the message's `request_update` and the keys that follow it.
    pending: Option<(KeyUpdateRequest, DirectionKeys)>,
    /// A KeyUpdate went out but the kernel refused the keys after it: the peer now decrypts with
    /// keys we cannot send with, so the connection cannot go on.
    broken: bool,
}

/// TLS 1.3 KeyUpdate bookkeeping for one connection, both directions (see the [module](self)).
///
/// Thread-safe: one thread may receive while another sends. The caller keeps KeyUpdates and data
/// in order on the send side: [`KeyUpdates::flush`] must not run while a data `send` of the same
/// connection is in progress (a record sealed with the old keys after the KeyUpdate would not
/// open at the peer); on the receive side the kernel keeps the order.
pub struct KeyUpdates {
    keys: Mutex<Box<dyn NextKeys>>,
    tx: Mutex<TxState>,
    /// The peer asked for our update; not yet answered.
    owed: AtomicBool,
    sent: AtomicU64,
    sent_requesting: AtomicU64,
    received: AtomicU64,
    received_requesting: AtomicU64,
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere does not make the counters or keys inconsistent: each update is applied
    // whole or not at all.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl KeyUpdates {
    pub fn new(keys: impl NextKeys + 'static) -> Self {
        KeyUpdates {
            keys: Mutex::new(Box::new(keys)),
            tx: Mutex::new(TxState {
                wanted: None,
                pending: None,
                broken: false,
            }),
            owed: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            sent_requesting: AtomicU64::new(0),
            received: AtomicU64::new(0),
            received_requesting: AtomicU64::new(0),
        }
    }

    /// Asks for a KeyUpdate of ours, sent by the next [`KeyUpdates::flush`]: `Requested` also asks
    /// the peer to update its keys (both directions change). Two requests before a flush make one
    /// KeyUpdate (`Requested` if either was).
    pub fn request(&self, request: KeyUpdateRequest) {
        let mut tx = lock(&self.tx);
        tx.wanted = tx.wanted.max(Some(request));
    }

    /// True if a KeyUpdate is waiting to be sent (owed to the peer, asked for, or not sent yet
    /// because the socket had no room): call [`KeyUpdates::flush`] before the next data.
    pub fn due(&self) -> bool {
        if self.owed.load(Ordering::Acquire) {
            return true;
        }
        let tx = lock(&self.tx);
        tx.wanted.is_some() || tx.pending.is_some()
    }

    /// Sends what is due — first the answer owed to the peer (`update_not_requested`), then the
    /// update asked for — each as the KeyUpdate record followed by the next TX keys. `flags` are
    /// `send` flags (`MSG_DONTWAIT`: a `WouldBlock` error leaves the update due, with its keys
    /// already derived, for the next call). Returns once nothing is due.
    ///
    /// If the kernel took the KeyUpdate but refuses the keys after it, the error is returned and
    /// every later call fails: the peer decrypts with keys this side cannot send with.
    pub fn flush(&self, sock: &impl KernelTls, flags: libc::c_int) -> io::Result<()> {
        let mut tx = lock(&self.tx);
        loop {
            if tx.broken {
                return Err(io::Error::other(
                    "a KeyUpdate was sent but the kernel refused the keys after it; \
                     the connection cannot go on",
                ));
            }
            if tx.pending.is_none() {
                let request = if self.owed.swap(false, Ordering::AcqRel) {
                    KeyUpdateRequest::NotRequested
                } else if let Some(request) = tx.wanted.take() {
                    request
                } else {
                    return Ok(());
                };
                let keys = lock(&self.keys).next_tx_keys()?;
                check_next_keys(&keys)?;
                tx.pending = Some((request, keys));
            }
            let Some((request, keys)) = tx.pending.as_ref() else {
                continue;
            };
            let request = *request;
            let message = request.message();
            let sent = sock.send_record(KTLS_RECORD_HANDSHAKE, &message, flags)?;
            if sent != message.len() {
                // A record is sent whole or not at all; a short count means a kernel that cut the
                // message: the peer will not make sense of what follows either.
                tx.broken = true;
                return Err(io::Error::other(format!(
                    "the kernel took {sent} of the {} bytes of a KeyUpdate",
                    message.len()
                )));
            }
            if let Err(err) = sock.set_keys(Direction::Tx, keys) {
                tx.broken = true;
                return Err(io::Error::new(
                    err.kind(),
                    format!("installing the next TX keys after a KeyUpdate: {err}"),
                ));
            }
            tx.pending = None;
            self.sent.fetch_add(1, Ordering::Relaxed);
            if request == KeyUpdateRequest::Requested {
                self.sent_requesting.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The peer's KeyUpdate was read ([`KeyUpdateRequest::from_body`] parses it): installs the
    /// peer's next keys as RX keys, and if the peer asked for it, owes it a KeyUpdate of ours
    /// (sent by the next [`KeyUpdates::flush`], which must come before our next data).
    pub fn receive(&self, sock: &impl KernelTls, request: KeyUpdateRequest) -> io::Result<()> {
        let keys = lock(&self.keys).next_rx_keys()?;
        check_next_keys(&keys)?;
        sock.set_keys(Direction::Rx, &keys).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("installing the peer's next keys after its KeyUpdate: {err}"),
            )
        })?;
        self.received.fetch_add(1, Ordering::Relaxed);
        if request == KeyUpdateRequest::Requested {
            self.received_requesting.fetch_add(1, Ordering::Relaxed);
            self.owed.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Whether NewSessionTicket messages go to the TLS library ([`NextKeys::wants_session_tickets`]).
    pub fn wants_session_tickets(&self) -> bool {
        lock(&self.keys).wants_session_tickets()
    }

    /// Hands one NewSessionTicket message body to the TLS library.
    pub fn new_session_ticket(&self, body: &[u8]) -> Result<(), Error> {
        lock(&self.keys).new_session_ticket(body)
    }

    pub fn counts(&self) -> KeyUpdateCounts {
        KeyUpdateCounts {
            sent: self.sent.load(Ordering::Relaxed),
            sent_requesting: self.sent_requesting.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            received_requesting: self.received_requesting.load(Ordering::Relaxed),
        }
    }
}

/// Checks keys meant to follow a KeyUpdate: TLS 1.3, sequence number 0.
pub fn check_next_keys(keys: &DirectionKeys) -> Result<(), Error> {
    if keys.version() != Version::Tls13 {
        return Err(Error::Unsupported("KeyUpdate is TLS 1.3 only"));
    }
    if keys.rec_seq() != 0 {
        return Err(Error::InvalidKeyMaterial(
            "keys after a KeyUpdate start at sequence number 0",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Cipher;
    use std::cell::RefCell;

    #[test]
    fn messages_and_bodies() {
        assert_eq!(KeyUpdateRequest::Requested.message(), [24, 0, 0, 1, 1]);
        assert_eq!(KeyUpdateRequest::NotRequested.message(), [24, 0, 0, 1, 0]);
        assert_eq!(
            KeyUpdateRequest::from_body(&[1]),
            Ok(KeyUpdateRequest::Requested)
        );
        assert_eq!(
            KeyUpdateRequest::from_body(&[0]),
            Ok(KeyUpdateRequest::NotRequested)
        );
        for bad in [&[2u8][..], &[], &[0, 0]] {
            assert_eq!(
                KeyUpdateRequest::from_body(bad),
                Err(RecordError::InvalidKeyUpdate)
            );
        }
    }

    /// Keys numbered by generation in their first key byte.
    struct Counting {
        tx: u8,
        rx: u8,
    }

    fn generation(n: u8) -> DirectionKeys {
        DirectionKeys::new(Version::Tls13, Cipher::Aes128Gcm, &[n; 16], [n; 12], 0)
            .expect("valid keys")
    }

    impl NextKeys for Counting {
        fn next_tx_keys(&mut self) -> Result<DirectionKeys, Error> {
            self.tx += 1;
            Ok(generation(self.tx))
        }
        fn next_rx_keys(&mut self) -> Result<DirectionKeys, Error> {
            self.rx += 1;
            Ok(generation(self.rx))
        }
    }

    /// Records what the kernel would have been asked; fails sends while `full`.
    #[derive(Default)]
    struct Log {
        calls: RefCell<Vec<String>>,
        full: RefCell<bool>,
        refuse_keys: RefCell<bool>,
    }

    impl KernelTls for Log {
        fn send_record(&self, content_type: u8, buf: &[u8], _: libc::c_int) -> io::Result<usize> {
            if *self.full.borrow() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.calls
                .borrow_mut()
                .push(format!("record {content_type} {buf:?}"));
            Ok(buf.len())
        }
        fn set_keys(&self, direction: Direction, keys: &DirectionKeys) -> io::Result<()> {
            if *self.refuse_keys.borrow() {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            self.calls
                .borrow_mut()
                .push(format!("{direction:?} keys {}", keys.key()[0]));
            Ok(())
        }
    }

    fn take(log: &Log) -> Vec<String> {
        std::mem::take(&mut *log.calls.borrow_mut())
    }

    #[test]
    fn answers_before_own_update_and_derives_each_key_once() {
        let updates = KeyUpdates::new(Counting { tx: 0, rx: 0 });
        let log = Log::default();
        assert!(!updates.due());
        updates.flush(&log, 0).expect("nothing to do");
        assert!(take(&log).is_empty());

        // The peer asks; we answer with update_not_requested, then send the one we wanted.
        updates
            .receive(&log, KeyUpdateRequest::Requested)
            .expect("received");
        assert_eq!(take(&log), ["Rx keys 1"]);
        updates.request(KeyUpdateRequest::NotRequested);
        updates.request(KeyUpdateRequest::Requested);
        assert!(updates.due());
        // No room: the answer's keys are derived once and kept.
        *log.full.borrow_mut() = true;
        let err = updates.flush(&log, libc::MSG_DONTWAIT).expect_err("full");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(updates.due());
        *log.full.borrow_mut() = false;
        updates.flush(&log, 0).expect("sent");
        assert_eq!(
            take(&log),
            [
                "record 22 [24, 0, 0, 1, 0]",
                "Tx keys 1",
                "record 22 [24, 0, 0, 1, 1]",
                "Tx keys 2"
            ]
        );
        assert!(!updates.due());
        assert_eq!(
            updates.counts(),
            KeyUpdateCounts {
                sent: 2,
                sent_requesting: 1,
                received: 1,
                received_requesting: 1
            }
        );

        // update_not_requested owes nothing.
        updates
            .receive(&log, KeyUpdateRequest::NotRequested)
            .expect("received");
        assert!(!updates.due());
        assert_eq!(take(&log), ["Rx keys 2"]);
    }

    #[test]
    fn refused_keys_end_the_connection() {
        let updates = KeyUpdates::new(Counting { tx: 0, rx: 0 });
        let log = Log::default();
        updates.request(KeyUpdateRequest::Requested);
        *log.refuse_keys.borrow_mut() = true;
        let err = updates.flush(&log, 0).expect_err("refused");
        assert_eq!(err.raw_os_error(), None);
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        *log.refuse_keys.borrow_mut() = false;
        updates.request(KeyUpdateRequest::NotRequested);
        assert!(updates.flush(&log, 0).is_err(), "stays broken");
        assert_eq!(take(&log), ["record 22 [24, 0, 0, 1, 1]"]);
    }

    #[test]
    fn next_keys_are_tls13_from_zero() {
        assert!(check_next_keys(&generation(1)).is_ok());
        let tls12 =
            DirectionKeys::new(Version::Tls12, Cipher::Aes128Gcm, &[1; 16], [1; 12], 0).expect("");
        assert!(check_next_keys(&tls12).is_err());
        let later =
            DirectionKeys::new(Version::Tls13, Cipher::Aes128Gcm, &[1; 16], [1; 12], 5).expect("");
        assert!(check_next_keys(&later).is_err());
    }
}
