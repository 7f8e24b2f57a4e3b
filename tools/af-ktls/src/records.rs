//! Records other than application data on an AF_KTLS socket, as [`std::io::Read`] sees them.
//!
//! The kernel never consumes a non-data record silently: it returns it alone, with its content
//! type in a control message, and a plain `recv` without room for that message fails with `EIO`
//! (Documentation/af_ktls.md, "Receiving"). [`AfKtlsSocket::recv_data`] (and so `Read`) reads
//! with room for the type and returns application data only:
//!
//! | record | `Read` |
//! |---|---|
//! | application data | the bytes |
//! | alert close_notify | `Ok(0)`: end of stream |
//! | alert user_canceled | skipped (a close_notify follows) |
//! | any other alert | `Err`, [`RecordError::Alert`] |
//! | TLS 1.3 NewSessionTicket | skipped; with [`AfKtlsSocket::set_return_session_tickets`] `Err`, [`RecordError::NewSessionTicket`] |
//! | HelloRequest (TLS 1.2) | skipped: a client may ignore it |
//! | KeyUpdate (TLS 1.3) | `Err`, [`RecordError::KeyUpdate`]: the peer's next keys must be installed first ([`crate::stream::AfKtlsStream`] does it and reads on) |
//! | other handshake messages, ChangeCipherSpec | `Err`, [`RecordError::UnexpectedHandshake`], [`RecordError::ChangeCipherSpec`] |
//! | DTLS handshake records | skipped: a peer retransmitting its last flight |
//!
//! The error is an [`io::Error`] whose payload is the [`RecordError`]:
//! [`RecordError::from_io`] gets it back. [`crate::stream::AfKtlsStream`] reads the same way but
//! deals with KeyUpdates itself (new keys, and an answer when the peer asks for one) and hands
//! session tickets to the TLS library.

use crate::key_update::{KeyUpdateRequest, HANDSHAKE_KEY_UPDATE};
use crate::record::handshake::MESSAGE_HEADER_LEN as HS_HEADER_LEN;
use crate::socket::{AfKtlsSocket, Transport};
use crate::uapi;
use std::fmt;
use std::io;

const ALERT_CLOSE_NOTIFY: u8 = 0;
const ALERT_USER_CANCELED: u8 = 90;
const HS_HELLO_REQUEST: u8 = 0;
const HS_NEW_SESSION_TICKET: u8 = 4;

/// A record that is not application data and that `Read` does not skip.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The peer sent this alert: any but close_notify (which reads as the end of the stream)
    /// and user_canceled (skipped). The connection is over.
    Alert { level: u8, description: u8 },
    /// A TLS 1.3 KeyUpdate: the peer's next records use its next keys, so reads fail with
    /// `EKEYEXPIRED` until they are installed (`KTLS_RX` with `rec_seq` 0; see
    /// [`crate::key_update`]). `update_requested`: the peer also asked for ours.
    KeyUpdate { update_requested: bool },
    /// A KeyUpdate whose body is not one byte 0 or 1 (RFC 8446 §4.6.3: `illegal_parameter`).
    InvalidKeyUpdate,
    /// One record's NewSessionTicket message(s) (type, length and body of each), returned only
    /// after [`AfKtlsSocket::set_return_session_tickets`]`(true)`, e.g. for a TLS library that
    /// stores tickets for resumption. Reading may go on.
    NewSessionTicket(Vec<u8>),
    /// A handshake message the connection cannot carry after the handoff (renegotiation,
    /// post-handshake authentication).
    UnexpectedHandshake { msg_type: u8 },
    /// A ChangeCipherSpec record after the handoff.
    ChangeCipherSpec,
    /// A content type TLS does not define.
    UnknownContentType(u8),
    /// The stream ended, or a record of another type came, inside an alert or handshake message.
    Truncated,
}

impl RecordError {
    /// The [`RecordError`] inside an error from [`AfKtlsSocket::recv_data`] or `Read`, if any.
    pub fn from_io(err: &io::Error) -> Option<&RecordError> {
        err.get_ref()?.downcast_ref::<RecordError>()
    }

    fn kind(&self) -> io::ErrorKind {
        match self {
            RecordError::Alert { .. } => io::ErrorKind::ConnectionAborted,
            RecordError::KeyUpdate { .. } => io::ErrorKind::Other,
            RecordError::NewSessionTicket(_) => io::ErrorKind::Other,
            RecordError::Truncated => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Alert { level, description } => {
                write!(f, "the peer sent alert {description} (level {level})")
            }
            RecordError::KeyUpdate { update_requested } => write!(
                f,
                "the peer sent a TLS 1.3 KeyUpdate{}: install its next keys (KTLS_RX) to read on",
                if *update_requested {
                    " and asked for ours"
                } else {
                    ""
                }
            ),
            RecordError::InvalidKeyUpdate => write!(f, "a malformed KeyUpdate message"),
            RecordError::NewSessionTicket(m) => {
                write!(f, "a NewSessionTicket record ({} bytes)", m.len())
            }
            RecordError::UnexpectedHandshake { msg_type } => write!(
                f,
                "the peer sent handshake message type {msg_type} after the handoff"
            ),
            RecordError::ChangeCipherSpec => {
                write!(f, "the peer sent ChangeCipherSpec after the handoff")
            }
            RecordError::UnknownContentType(t) => write!(f, "a record of unknown type {t}"),
            RecordError::Truncated => write!(f, "an alert or handshake message was cut short"),
        }
    }
}

impl std::error::Error for RecordError {}

impl From<RecordError> for io::Error {
    fn from(err: RecordError) -> Self {
        io::Error::new(err.kind(), err)
    }
}

/// What one handshake record held, as far as the reader acts on it.
#[derive(Debug, Default)]
pub(crate) struct HandshakeRecord {
    /// The NewSessionTicket messages (type, length and body of each), when they were kept.
    pub tickets: Vec<u8>,
    /// A KeyUpdate, which ends its record (the kernel refuses anything after it).
    pub key_update: Option<KeyUpdateRequest>,
}

/// The handshake messages in `bytes` (whole messages, as in a handshake record or
/// [`RecordError::NewSessionTicket`]): `(msg_type, body)` each; an error for a message cut short.
pub fn handshake_messages(mut bytes: &[u8]) -> Vec<Result<(u8, &[u8]), RecordError>> {
    let mut messages = Vec::new();
    while !bytes.is_empty() {
        let Some((&[msg_type, a, b, c], rest)) = bytes.split_first_chunk::<HS_HEADER_LEN>() else {
            messages.push(Err(RecordError::Truncated));
            break;
        };
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        let Some((body, rest)) = rest.split_at_checked(len) else {
            messages.push(Err(RecordError::Truncated));
            break;
        };
        messages.push(Ok((msg_type, body)));
        bytes = rest;
    }
    messages
}

impl AfKtlsSocket {
    /// Receives application data only, as `Read` does (see the [module](self) table), with
    /// `recv` flags (`MSG_DONTWAIT`, `MSG_PEEK`, `MSG_WAITALL`). Returns `Ok(0)` at
    /// close_notify or the end of the stream. With `MSG_DONTWAIT` it may return `WouldBlock`
    /// after skipping a record.
    pub fn recv_data(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
        let keep_tickets = self.returns_session_tickets();
        self.recv_data_with(buf, flags, keep_tickets, &mut |record| {
            if let Some(request) = record.key_update {
                return Err(RecordError::KeyUpdate {
                    update_requested: request == KeyUpdateRequest::Requested,
                }
                .into());
            }
            if !record.tickets.is_empty() {
                return Err(RecordError::NewSessionTicket(record.tickets).into());
            }
            Ok(())
        })
    }

    /// [`AfKtlsSocket::recv_data`] with the handshake records that are not skipped given to
    /// `on_handshake` (which returns `Ok` to read on); `keep_tickets`: whether their
    /// NewSessionTicket messages are kept for it.
    pub(crate) fn recv_data_with(
        &self,
        buf: &mut [u8],
        flags: libc::c_int,
        keep_tickets: bool,
        on_handshake: &mut dyn FnMut(HandshakeRecord) -> io::Result<()>,
    ) -> io::Result<usize> {
        loop {
            let mut rec = self.recv_record(buf, flags)?;
            let content_type = rec
                .content_type
                .unwrap_or(uapi::KTLS_RECORD_APPLICATION_DATA);
            if content_type == uapi::KTLS_RECORD_APPLICATION_DATA {
                return Ok(rec.len);
            }
            // Not data: it is dealt with here, so a peek becomes a read.
            if flags & libc::MSG_PEEK != 0 {
                rec = self.recv_record(buf, flags & !libc::MSG_PEEK)?;
            }
            let start = buf.get(..rec.len).unwrap_or_default().to_vec();
            let stream = self.transport() == Transport::Stream;
            match rec.content_type.unwrap_or(content_type) {
                uapi::KTLS_RECORD_ALERT => {
                    let alert = if stream {
                        self.complete(start, 2, uapi::KTLS_RECORD_ALERT)?
                    } else {
                        start
                    };
                    match alert[..] {
                        [_, ALERT_CLOSE_NOTIFY, ..] => return Ok(0),
                        [_, ALERT_USER_CANCELED, ..] => continue,
                        [level, description, ..] => {
                            return Err(RecordError::Alert { level, description }.into())
                        }
                        _ => return Err(RecordError::Truncated.into()),
                    }
                }
                uapi::KTLS_RECORD_HANDSHAKE if !stream => continue,
                uapi::KTLS_RECORD_HANDSHAKE => {
                    let record = self.handshake_record(start, keep_tickets)?;
                    if record.key_update.is_some() || !record.tickets.is_empty() {
                        on_handshake(record)?;
                    }
                }
                uapi::KTLS_RECORD_CHANGE_CIPHER_SPEC => {
                    return Err(RecordError::ChangeCipherSpec.into())
                }
                other => return Err(RecordError::UnknownContentType(other).into()),
            }
        }
    }

    /// TLS only: reads more of the current record (the kernel hands out a partly read record
    /// piece by piece) until `have` holds `want` bytes. Blocks: the rest of a record is already
    /// decrypted in the kernel.
    fn complete(&self, mut have: Vec<u8>, want: usize, content_type: u8) -> io::Result<Vec<u8>> {
        let mut scratch = [0u8; 4096];
        while have.len() < want {
            let room = scratch.len().min(want - have.len());
            let rec = self.recv_record(&mut scratch[..room], 0)?;
            if rec.len == 0 || rec.content_type != Some(content_type) {
                return Err(RecordError::Truncated.into());
            }
            have.extend_from_slice(scratch.get(..rec.len).unwrap_or_default());
        }
        Ok(have)
    }

    /// The handshake messages of a record whose first bytes are `have`: returns when every one
    /// was read and nothing more of them is buffered here, with the tickets (if `keep_tickets`)
    /// and the KeyUpdate found. Other tickets and HelloRequests are skipped; anything else is an
    /// error.
    fn handshake_record(
        &self,
        mut have: Vec<u8>,
        keep_tickets: bool,
    ) -> io::Result<HandshakeRecord> {
        let mut record = HandshakeRecord::default();
        let mut pos = 0;
        loop {
            have = self.complete(have, pos + HS_HEADER_LEN, uapi::KTLS_RECORD_HANDSHAKE)?;
            let msg_type = have[pos];
            let body = usize::from(have[pos + 1]) << 16
                | usize::from(have[pos + 2]) << 8
                | usize::from(have[pos + 3]);
            let end = pos + HS_HEADER_LEN + body;
            match msg_type {
                HS_NEW_SESSION_TICKET if keep_tickets => {
                    have = self.complete(have, end, uapi::KTLS_RECORD_HANDSHAKE)?;
                    record.tickets.extend_from_slice(&have[pos..end]);
                }
                HS_NEW_SESSION_TICKET | HS_HELLO_REQUEST if end > have.len() => {
                    // Skip the rest of the body without keeping it.
                    self.discard(end - have.len())?;
                    return Ok(record);
                }
                HS_NEW_SESSION_TICKET | HS_HELLO_REQUEST => {}
                HANDSHAKE_KEY_UPDATE => {
                    have = self.complete(have, end, uapi::KTLS_RECORD_HANDSHAKE)?;
                    let request = KeyUpdateRequest::from_body(&have[pos + HS_HEADER_LEN..end])?;
                    record.key_update = Some(request);
                    // The last message of its record: the kernel breaks the stream (EPROTO) if
                    // anything follows it there.
                    return Ok(record);
                }
                msg_type => return Err(RecordError::UnexpectedHandshake { msg_type }.into()),
            }
            pos = end;
            if pos >= have.len() {
                return Ok(record);
            }
        }
    }

    fn discard(&self, mut len: usize) -> io::Result<()> {
        let mut scratch = [0u8; 4096];
        while len > 0 {
            let room = scratch.len().min(len);
            let rec = self.recv_record(&mut scratch[..room], 0)?;
            if rec.len == 0 || rec.content_type != Some(uapi::KTLS_RECORD_HANDSHAKE) {
                return Err(RecordError::Truncated.into());
            }
            len -= rec.len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_through_io_error() {
        let err: io::Error = RecordError::Alert {
            level: 2,
            description: 40,
        }
        .into();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted);
        assert_eq!(
            RecordError::from_io(&err),
            Some(&RecordError::Alert {
                level: 2,
                description: 40
            })
        );
        let err: io::Error = RecordError::KeyUpdate {
            update_requested: true,
        }
        .into();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(err.to_string().contains("KeyUpdate"));
        assert_eq!(
            RecordError::from_io(&io::Error::from_raw_os_error(libc::EIO)),
            None
        );
    }

    #[test]
    fn handshake_messages_split_and_report_truncation() {
        let bytes = [4, 0, 0, 2, 9, 9, 24, 0, 0, 1, 1];
        let messages = handshake_messages(&bytes);
        assert_eq!(messages, vec![Ok((4, &[9, 9][..])), Ok((24, &[1][..]))]);
        assert!(handshake_messages(&[]).is_empty());
        assert_eq!(
            handshake_messages(&[4, 0, 0, 3, 1]),
            vec![Err(RecordError::Truncated)]
        );
        assert_eq!(
            handshake_messages(&[24, 0, 0, 1, 0, 4, 0]),
            vec![Ok((24, &[0][..])), Err(RecordError::Truncated)]
        );
    }
}
