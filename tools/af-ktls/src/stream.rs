//! [`AfKtlsStream`]: a TLS 1.3 connection on an AF_KTLS socket that changes keys as RFC 8446
//! §4.6.3 says, with the TLS library's key schedule ([`NextKeys`]) at hand.
//!
//! * [`AfKtlsStream::key_update`] sends a KeyUpdate and switches to the next TX keys
//!   (`Requested`: the peer must change its keys too).
//! * Reading ([`AfKtlsStream::recv`], `Read`) deals with the peer's KeyUpdates: the peer's next
//!   keys are installed and reading goes on; when the peer asked, our own KeyUpdate
//!   (`update_not_requested`) goes out before our next application data — at once if no `send`
//!   is in progress and the socket has room, else by the next `send`.
//! * Session tickets go to the TLS library ([`NextKeys::new_session_ticket`]) when it wants them.
//! * Everything else reads as on a plain [`AfKtlsSocket`] ([`crate::records`]).
//!
//! One thread may read while another writes. `tools/af-ktls/examples/key_update.rs` runs it
//! against rustls in userspace.

use crate::key_update::{KeyUpdateCounts, KeyUpdateRequest, KeyUpdates, NextKeys};
use crate::records::handshake_messages;
use crate::records::RecordError;
use crate::socket::AfKtlsSocket;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

const HS_NEW_SESSION_TICKET: u8 = 4;

/// An AF_KTLS socket with both directions' keys installed and the TLS library's key schedule,
/// so that the connection can change keys as long as it lives. TLS 1.3 (a TLS 1.2 connection
/// works too, but [`AfKtlsStream::key_update`] then fails: TLS 1.2 has no KeyUpdate).
pub struct AfKtlsStream {
    sock: AfKtlsSocket,
    updates: KeyUpdates,
    /// Held by every send (data and KeyUpdates): a KeyUpdate and the keys after it never
    /// interleave with a data record.
    sending: Mutex<()>,
    /// Held by every read, so a KeyUpdate is read and its keys installed before the next read.
    receiving: Mutex<()>,
    /// close_notify was sent: no KeyUpdate may follow it.
    closed: AtomicBool,
}

fn lock(mutex: &Mutex<()>) -> MutexGuard<'_, ()> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AfKtlsStream {
    /// `sock` has its keys (e.g. from [`crate::from_rustls::kernel_keys`]); `keys` derives the
    /// next ones (e.g. the [`crate::from_rustls::KeySchedule`] that came with them).
    pub fn new(sock: AfKtlsSocket, keys: impl NextKeys + 'static) -> Self {
        let updates = KeyUpdates::new(keys);
        sock.set_return_session_tickets(updates.wants_session_tickets());
        AfKtlsStream {
            sock,
            updates,
            sending: Mutex::new(()),
            receiving: Mutex::new(()),
            closed: AtomicBool::new(false),
        }
    }

    /// The AF_KTLS socket, for `poll`, options and counters. Sending or receiving on it directly
    /// bypasses the KeyUpdate handling.
    pub fn socket(&self) -> &AfKtlsSocket {
        &self.sock
    }

    /// Sends a KeyUpdate and installs the next TX keys; with `Requested` the peer answers with
    /// its own KeyUpdate (which reading then installs), so both directions change. Waits for a
    /// `send` in progress, and (blocking socket) for room. After an error other than
    /// `WouldBlock`/`Interrupted` the connection cannot go on.
    pub fn key_update(&self, request: KeyUpdateRequest) -> io::Result<()> {
        self.key_update_with_flags(request, libc::MSG_NOSIGNAL)
    }

    /// [`AfKtlsStream::key_update`] with `send` flags: with `MSG_DONTWAIT`, `WouldBlock` means
    /// the update is still due and goes out with the next send (or call).
    pub fn key_update_with_flags(
        &self,
        request: KeyUpdateRequest,
        flags: libc::c_int,
    ) -> io::Result<()> {
        let _sending = lock(&self.sending);
        self.updates.request(request);
        self.updates.flush(&self.sock, flags)
    }

    /// Sends application data (`send` flags), after any KeyUpdate that is due.
    pub fn send(&self, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
        let _sending = lock(&self.sending);
        self.updates.flush(&self.sock, flags)?;
        self.sock.send(buf, flags)
    }

    /// Receives application data (`recv` flags): as [`AfKtlsSocket::recv_data`], but the peer's
    /// KeyUpdates are dealt with here (see the [module](self)) and reading goes on. `Ok(0)` at
    /// close_notify or the end of the stream.
    pub fn recv(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
        let _receiving = lock(&self.receiving);
        let keep_tickets = self.sock.returns_session_tickets();
        self.sock
            .recv_data_with(buf, flags, keep_tickets, &mut |record| {
                for message in handshake_messages(&record.tickets) {
                    match message? {
                        (HS_NEW_SESSION_TICKET, body) => self.updates.new_session_ticket(body)?,
                        (msg_type, _) => {
                            return Err(RecordError::UnexpectedHandshake { msg_type }.into())
                        }
                    }
                }
                if let Some(request) = record.key_update {
                    self.updates.receive(&self.sock, request)?;
                    if request == KeyUpdateRequest::Requested {
                        self.answer_now();
                    }
                }
                Ok(())
            })
    }

    /// Sends the KeyUpdate the peer asked for right away if no `send` is in progress and the
    /// socket has room; otherwise the next `send` does. Not after our close_notify: nothing
    /// follows that (and no data will, so nothing is owed).
    fn answer_now(&self) {
        let _sending = match self.sending.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        // An error stays with the update (still due, or the connection broken) and is reported
        // by the next send.
        let _ = self
            .updates
            .flush(&self.sock, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
    }

    /// KeyUpdates sent and received so far.
    pub fn key_updates(&self) -> KeyUpdateCounts {
        self.updates.counts()
    }

    /// Sends a `close_notify` alert (after any KeyUpdate that is due). Nothing of ours follows
    /// it: KeyUpdates the peer asks for afterwards are not answered (RFC 8446 asks for the answer
    /// before our next application data, and there is none).
    pub fn send_close_notify(&self) -> io::Result<()> {
        let _sending = lock(&self.sending);
        self.updates.flush(&self.sock, libc::MSG_NOSIGNAL)?;
        self.closed.store(true, Ordering::Release);
        self.sock.send_close_notify()
    }
}

/// Application data only; `Ok(0)` at close_notify or the end of the stream.
impl io::Read for &AfKtlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf, 0)
    }
}

impl io::Write for &AfKtlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf, libc::MSG_NOSIGNAL)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
