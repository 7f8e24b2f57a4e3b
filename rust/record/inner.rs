// SPDX-License-Identifier: GPL-2.0

//! The TLS 1.3 inner plaintext: content ‖ content type ‖ zero padding (RFC 8446 §5.2, §5.4).

use super::{
    error::RecordError,
    header::ContentType,
    protection::MAX_PLAINTEXT_LEN, //
};

/// A decrypted TLS 1.3 record split into its content and real content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InnerPlaintext {
    content_type: ContentType,
    content_len: usize,
}

impl InnerPlaintext {
    /// Finds the real content type of the decrypted record `decrypted`, behind any padding.
    ///
    /// The content type is the last non-zero byte. Fails with
    /// [`RecordError::MissingInnerContentType`] if there is none (RFC 8446 §5.4: an all-zero
    /// plaintext is an unexpected_message), with [`RecordError::BadContentType`] for an unknown
    /// type or change_cipher_spec (never protected in TLS 1.3, RFC 8446 §5), and with
    /// [`RecordError::PlaintextTooLong`] for more than 2^14 bytes of content.
    pub fn parse(decrypted: &[u8]) -> Result<Self, RecordError> {
        // The padding length is not secret (it is the sender's choice); scanning it is what every
        // TLS 1.3 implementation, mainline's `tls_padding_length` included, does.
        let content_len = decrypted
            .iter()
            .rposition(|&byte| byte != 0)
            .ok_or(RecordError::MissingInnerContentType)?;
        let wire_type = decrypted
            .get(content_len)
            .copied()
            .ok_or(RecordError::MissingInnerContentType)?;
        let content_type = match ContentType::from_wire(wire_type)? {
            ContentType::ChangeCipherSpec => return Err(RecordError::BadContentType),
            content_type => content_type,
        };
        if content_len > MAX_PLAINTEXT_LEN {
            return Err(RecordError::PlaintextTooLong);
        }
        Ok(Self {
            content_type,
            content_len,
        })
    }

    /// Returns the real content type.
    #[must_use]
    pub const fn content_type(self) -> ContentType {
        self.content_type
    }

    /// Returns the length of the content, which starts at the beginning of the plaintext.
    #[must_use]
    pub const fn content_len(self) -> usize {
        self.content_len
    }
}
