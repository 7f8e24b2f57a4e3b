// SPDX-License-Identifier: GPL-2.0

//! TLS 1.3 handshake messages across handshake records, as far as the receive side must follow
//! them: a KeyUpdate (RFC 8446 §4.6.3) puts the records after its own under the next keys.
//!
//! Handshake messages may span records, and several may share one, but they "MUST NOT span key
//! changes" (RFC 8446 §5.1): a KeyUpdate must end its record. Only message framing is followed
//! here (type, 24-bit length); the messages themselves are the application's TLS library's.

use super::error::RecordError;

/// The `key_update` handshake message type.
pub const HANDSHAKE_KEY_UPDATE: u8 = 24;

/// A handshake message's header: type (1 byte) and body length (3 bytes).
pub const MESSAGE_HEADER_LEN: usize = 4;

/// What a handshake record means for the records after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChange {
    /// The next record is under the same keys.
    None,
    /// The record ended with a whole KeyUpdate: the next record is under the next keys.
    KeyUpdate,
}

/// Follows handshake messages through the handshake records of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HandshakeFraming {
    /// The header of the message being read, as far as it has arrived.
    header: [u8; MESSAGE_HEADER_LEN],
    /// Bytes of `header` that arrived; `MESSAGE_HEADER_LEN` is never stored (a whole header
    /// starts the body).
    header_len: usize,
    /// The type of the message whose body is being read.
    message_type: u8,
    /// Bytes of that body still to come; 0 between messages.
    body_left: usize,
}

impl HandshakeFraming {
    /// Framing at a message boundary (the first record after keys are set).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            header: [0; MESSAGE_HEADER_LEN],
            header_len: 0,
            message_type: 0,
            body_left: 0,
        }
    }

    /// Follows the plaintext of the next handshake record.
    ///
    /// Fails with [`RecordError::KeyChangeInsideRecord`] when a KeyUpdate does not end its
    /// record: more bytes follow it, or it continues in the next record.
    pub fn record(&mut self, plaintext: &[u8]) -> Result<KeyChange, RecordError> {
        let mut rest = plaintext;
        let mut key_update_ended = false;
        while let Some(&first) = rest.first() {
            if key_update_ended {
                return Err(RecordError::KeyChangeInsideRecord);
            }
            if self.body_left > 0 {
                let take = self.body_left.min(rest.len());
                self.body_left -= take;
                rest = rest.get(take..).unwrap_or_default();
                key_update_ended = self.body_left == 0 && self.message_type == HANDSHAKE_KEY_UPDATE;
                continue;
            }
            if let Some(slot) = self.header.get_mut(self.header_len) {
                *slot = first;
            }
            self.header_len += 1;
            rest = rest.get(1..).unwrap_or_default();
            if self.header_len == MESSAGE_HEADER_LEN {
                let [message_type, a, b, c] = self.header;
                self.header_len = 0;
                self.message_type = message_type;
                self.body_left = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
                key_update_ended = self.body_left == 0 && message_type == HANDSHAKE_KEY_UPDATE;
            }
        }
        // A KeyUpdate whose header or body goes on in the next record spans the key change.
        let open_key_update = (self.header_len > 0 && self.header[0] == HANDSHAKE_KEY_UPDATE)
            || (self.body_left > 0 && self.message_type == HANDSHAKE_KEY_UPDATE);
        if open_key_update {
            return Err(RecordError::KeyChangeInsideRecord);
        }
        Ok(if key_update_ended {
            KeyChange::KeyUpdate
        } else {
            KeyChange::None
        })
    }
}
