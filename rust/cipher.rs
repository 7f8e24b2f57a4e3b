// SPDX-License-Identifier: GPL-2.0

//! [`RecordCipher`]: seals and opens whole records of one direction, in place, with the shared
//! record code (`record/`) for headers, nonces and AAD and [`Aead`] for the cryptography.

use core::ops::Range;

use kernel::prelude::*;

use crate::{
    crypto::Aead,
    keys::{
        DirectionKeys,
        NonceBase, //
    },
    record::{
        header::{
            ContentType,
            DtlsHeader,
            TlsHeader, //
        },
        inner::InnerPlaintext,
        nonce::{
            dtls12_aad,
            dtls12_explicit_nonce,
            salted_nonce,
            tls12_aad,
            tls12_explicit_nonce,
            tls13_aad,
            xor_nonce,
            NonceScheme,
            TLS12_AAD_LEN, //
        },
        protection::{
            ProtocolVersion,
            RecordProtection,
            DTLS_HEADER_LEN,
            GCM_EXPLICIT_NONCE_LEN,
            NONCE_LEN,
            TLS_HEADER_LEN, //
        },
        seq::{
            DtlsRecordNumber,
            DtlsSequence,
            TlsSequence, //
        },
        RecordError, //
    },
};

/// The kernel error for a record-layer error.
pub(crate) fn record_error(err: RecordError) -> Error {
    Error::from_errno(-err.errno())
}

/// The number of a record: a TLS sequence number or a DTLS epoch and sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordNumber {
    /// TLS 1.2 and 1.3: the implicit 64-bit sequence number.
    Tls(u64),
    /// DTLS 1.2: the explicit epoch and 48-bit sequence number of the header.
    Dtls(DtlsRecordNumber),
}

/// The nonce and AAD of the record being processed.
///
/// They live on the heap because the crypto API reaches them through scatterlists, which cannot
/// point into a (virtually mapped) kernel stack.
struct Scratch {
    nonce: [u8; NONCE_LEN],
    aad: [u8; TLS12_AAD_LEN],
    aad_len: usize,
}

/// Seals or opens the records of one direction of one socket.
pub(crate) struct RecordCipher {
    protection: RecordProtection,
    aead: Aead,
    nonce_base: NonceBase,
    scratch: KBox<Scratch>,
}

impl RecordCipher {
    /// Allocates the AEAD transform for `keys`; all memory the records need comes from here.
    pub(crate) fn new(protection: RecordProtection, keys: &DirectionKeys) -> Result<Self> {
        Ok(Self {
            protection,
            aead: Aead::new(protection.cipher(), keys.key())?,
            nonce_base: keys.nonce_base(),
            scratch: KBox::new(
                Scratch {
                    nonce: [0; NONCE_LEN],
                    aad: [0; TLS12_AAD_LEN],
                    aad_len: 0,
                },
                GFP_KERNEL,
            )?,
        })
    }

    /// The version and cipher this direction protects records with.
    pub(crate) fn protection(&self) -> RecordProtection {
        self.protection
    }

    /// The explicit nonce record `number` carries when sealed by this cipher (TLS/DTLS 1.2
    /// AES-GCM); `None` for ciphers without one.
    pub(crate) fn explicit_nonce(
        &self,
        number: RecordNumber,
    ) -> Option<[u8; GCM_EXPLICIT_NONCE_LEN]> {
        match (self.protection.nonce_scheme(), number) {
            (NonceScheme::SaltAndExplicit, RecordNumber::Tls(seq)) => {
                Some(tls12_explicit_nonce(&self.nonce_base.explicit_base, seq))
            }
            (NonceScheme::SaltAndExplicit, RecordNumber::Dtls(rn)) => {
                Some(dtls12_explicit_nonce(rn))
            }
            (NonceScheme::IvXorSequence, _) => None,
        }
    }

    /// Where the plaintext of a record starts: after the header and any explicit nonce.
    pub(crate) fn body_offset(&self) -> usize {
        self.protection.header_len() + self.protection.explicit_nonce_len()
    }

    /// Seals the record in `record` whose plaintext (`plaintext_len` bytes) already sits at
    /// [`Self::body_offset`]; writes the header and explicit nonce and returns the record's
    /// length. `record` must have room for the TLS 1.3 content type byte and the tag.
    pub(crate) fn seal(
        &mut self,
        number: RecordNumber,
        content_type: ContentType,
        record: &mut [u8],
        plaintext_len: usize,
    ) -> Result<usize> {
        let protection = self.protection;
        let body = self.body_offset();
        let header_len = protection.header_len();
        let mut sealed_len = plaintext_len;
        if protection.version() == ProtocolVersion::Tls13 {
            // TLS 1.3 hides the real content type at the end of the plaintext (no padding).
            *record.get_mut(body + plaintext_len).ok_or(EINVAL)? = content_type.wire();
            sealed_len += 1;
        }
        let plaintext_len16 = u16::try_from(plaintext_len).map_err(|_| EMSGSIZE)?;
        match number {
            RecordNumber::Tls(_) => {
                let header = TlsHeader::for_plaintext(protection, content_type, plaintext_len)
                    .map_err(record_error)?;
                record
                    .get_mut(..TLS_HEADER_LEN)
                    .ok_or(EINVAL)?
                    .copy_from_slice(&header.to_bytes());
            }
            RecordNumber::Dtls(rn) => {
                let header = DtlsHeader::for_plaintext(protection, content_type, rn, plaintext_len)
                    .map_err(record_error)?;
                record
                    .get_mut(..DTLS_HEADER_LEN)
                    .ok_or(EINVAL)?
                    .copy_from_slice(&header.to_bytes());
            }
        }

        let scratch = &mut *self.scratch;
        match (protection.nonce_scheme(), number) {
            (NonceScheme::SaltAndExplicit, RecordNumber::Tls(seq)) => {
                let explicit = tls12_explicit_nonce(&self.nonce_base.explicit_base, seq);
                write_explicit(record, header_len, &explicit)?;
                scratch.nonce = salted_nonce(&self.nonce_base.salt, &explicit);
            }
            (NonceScheme::SaltAndExplicit, RecordNumber::Dtls(rn)) => {
                let explicit = dtls12_explicit_nonce(rn);
                write_explicit(record, header_len, &explicit)?;
                scratch.nonce = salted_nonce(&self.nonce_base.salt, &explicit);
            }
            (NonceScheme::IvXorSequence, RecordNumber::Tls(seq)) => {
                scratch.nonce = xor_nonce(&self.nonce_base.iv, seq);
            }
            (NonceScheme::IvXorSequence, RecordNumber::Dtls(rn)) => {
                scratch.nonce = xor_nonce(&self.nonce_base.iv, rn.as_u64());
            }
        }
        let tag_len = self.aead.tag_len();
        let payload_len =
            u16::try_from(body - header_len + sealed_len + tag_len).map_err(|_| EMSGSIZE)?;
        scratch.set_aad(
            protection,
            number,
            content_type,
            plaintext_len16,
            payload_len,
        );
        let end = body + sealed_len + tag_len;
        let data = record.get_mut(body..end).ok_or(EINVAL)?;
        self.aead.seal(
            &mut scratch.nonce,
            scratch.aad.get_mut(..scratch.aad_len).ok_or(EINVAL)?,
            data,
            sealed_len,
        )?;
        Ok(end)
    }

    /// Opens the complete record `record` (header included) in place. Returns the content type
    /// and where its plaintext now is in `record`; `EBADMSG` if it does not authenticate.
    pub(crate) fn open(
        &mut self,
        number: RecordNumber,
        outer_type: ContentType,
        record: &mut [u8],
    ) -> Result<(ContentType, Range<usize>)> {
        let protection = self.protection;
        let header_len = protection.header_len();
        let body = self.body_offset();
        let tag_len = self.aead.tag_len();
        let payload_len = record
            .len()
            .checked_sub(header_len)
            .and_then(|len| u16::try_from(len).ok())
            .ok_or(EBADMSG)?;
        let sealed_len = record.len().checked_sub(body + tag_len).ok_or(EBADMSG)?;
        let scratch = &mut *self.scratch;
        scratch.nonce = match (protection.nonce_scheme(), number) {
            (NonceScheme::SaltAndExplicit, _) => {
                let mut explicit = [0u8; GCM_EXPLICIT_NONCE_LEN];
                explicit.copy_from_slice(record.get(header_len..body).ok_or(EBADMSG)?);
                salted_nonce(&self.nonce_base.salt, &explicit)
            }
            (NonceScheme::IvXorSequence, RecordNumber::Tls(seq)) => {
                xor_nonce(&self.nonce_base.iv, seq)
            }
            (NonceScheme::IvXorSequence, RecordNumber::Dtls(rn)) => {
                xor_nonce(&self.nonce_base.iv, rn.as_u64())
            }
        };
        let plaintext_len16 = u16::try_from(sealed_len).map_err(|_| EBADMSG)?;
        scratch.set_aad(protection, number, outer_type, plaintext_len16, payload_len);
        let data = record.get_mut(body..).ok_or(EBADMSG)?;
        let opened = self.aead.open(
            &mut scratch.nonce,
            scratch.aad.get_mut(..scratch.aad_len).ok_or(EINVAL)?,
            data,
        )?;
        if protection.version() != ProtocolVersion::Tls13 {
            return Ok((outer_type, body..body + opened));
        }
        let inner = InnerPlaintext::parse(record.get(body..body + opened).ok_or(EBADMSG)?)
            .map_err(record_error)?;
        Ok((inner.content_type(), body..body + inner.content_len()))
    }
}

impl Scratch {
    /// Builds the AAD of a record: TLS/DTLS 1.2 cover the plaintext length, TLS 1.3 the header.
    fn set_aad(
        &mut self,
        protection: RecordProtection,
        number: RecordNumber,
        content_type: ContentType,
        plaintext_len: u16,
        payload_len: u16,
    ) {
        match (protection.version(), number) {
            (ProtocolVersion::Tls13, _) => {
                let aad = tls13_aad(payload_len);
                self.aad[..aad.len()].copy_from_slice(&aad);
                self.aad_len = aad.len();
            }
            (_, RecordNumber::Tls(seq)) => {
                self.aad = tls12_aad(seq, content_type, plaintext_len);
                self.aad_len = TLS12_AAD_LEN;
            }
            (_, RecordNumber::Dtls(rn)) => {
                self.aad = dtls12_aad(rn, content_type, plaintext_len);
                self.aad_len = TLS12_AAD_LEN;
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        crate::crypto::wipe(&mut self.nonce);
    }
}

/// Writes a TLS/DTLS 1.2 explicit nonce after the header.
fn write_explicit(
    record: &mut [u8],
    header_len: usize,
    explicit: &[u8; GCM_EXPLICIT_NONCE_LEN],
) -> Result {
    record
        .get_mut(header_len..header_len + GCM_EXPLICIT_NONCE_LEN)
        .ok_or(EINVAL)?
        .copy_from_slice(explicit);
    Ok(())
}

/// The numbers a direction gives its next records: they never wrap.
pub(crate) enum Sequence {
    /// TLS: 64-bit sequence numbers.
    Tls(TlsSequence),
    /// DTLS: epoch and 48-bit sequence number, the epoch fixed for the keys' lifetime.
    Dtls(DtlsSequence),
}

impl Sequence {
    /// The sequence that starts at the `rec_seq` userspace handed over.
    pub(crate) fn from_rec_seq(protection: RecordProtection, rec_seq: [u8; 8]) -> Self {
        if protection.version().is_datagram() {
            Self::Dtls(DtlsSequence::from_rec_seq(rec_seq))
        } else {
            Self::Tls(TlsSequence::from_rec_seq(rec_seq))
        }
    }

    /// The number of the next record without using it, or `None` once the numbers are used up.
    pub(crate) fn peek(&self) -> Option<RecordNumber> {
        match self {
            Self::Tls(seq) => seq.peek().map(RecordNumber::Tls),
            Self::Dtls(seq) => seq.peek().map(RecordNumber::Dtls),
        }
    }

    /// The `rec_seq` of the next record (DTLS: epoch and sequence number); all ones once the
    /// numbers are used up.
    pub(crate) fn next_rec_seq(&self) -> [u8; 8] {
        match self {
            Self::Tls(seq) => seq.peek().map(u64::to_be_bytes),
            Self::Dtls(seq) => seq.peek().map(DtlsRecordNumber::to_be_bytes),
        }
        .unwrap_or([0xff; 8])
    }

    /// The number of the next record; `EBADMSG` once the numbers are used up.
    pub(crate) fn take(&mut self) -> Result<RecordNumber> {
        match self {
            Self::Tls(seq) => seq.take().map(RecordNumber::Tls),
            Self::Dtls(seq) => seq.take().map(RecordNumber::Dtls),
        }
        .map_err(record_error)
    }
}

/// KUnit suite `af_ktls_crypto`: the known-answer records of `record::selftest` (RFC 8448 and a
/// real OpenSSL DTLS 1.2 session) through the kernel crypto API, as the data path uses it.
#[cfg(ktls_kunit)]
#[kernel::macros::kunit_tests(af_ktls_crypto)]
mod tests {
    use crate::{
        cipher::{
            RecordCipher,
            RecordNumber, //
        },
        keys::DirectionKeys,
        record::{
            header::ContentType,
            protection::ProtocolVersion,
            selftest::{
                RecordVector,
                RECORD_VECTORS, //
            },
            seq::DtlsRecordNumber,
        },
    };
    use kernel::prelude::*;

    fn number(vector: &RecordVector) -> RecordNumber {
        if vector.protection.version().is_datagram() {
            RecordNumber::Dtls(DtlsRecordNumber::from_be_bytes(
                vector.sequence.to_be_bytes(),
            ))
        } else {
            RecordNumber::Tls(vector.sequence)
        }
    }

    fn cipher(vector: &RecordVector) -> Result<RecordCipher> {
        let rec_seq = vector.sequence.to_be_bytes();
        let keys =
            DirectionKeys::from_parts(vector.protection, vector.key, vector.write_iv, rec_seq)?;
        RecordCipher::new(vector.protection, &keys)
    }

    /// Every known-answer record opens to its plaintext.
    #[test]
    fn known_answer_records_open() -> Result {
        for vector in &RECORD_VECTORS {
            let mut record = KVec::from_elem(0u8, vector.record.len(), GFP_KERNEL)?;
            record.copy_from_slice(vector.record);
            let outer = ContentType::from_wire(vector.record[0]).map_err(|_| EINVAL)?;
            let body = vector.protection.header_len() + vector.protection.explicit_nonce_len();
            let (_, content) = cipher(vector)?.open(number(vector), outer, &mut record)?;
            assert_eq!(
                &record[body..body + vector.plaintext.len()],
                vector.plaintext
            );
            assert!(content.end <= body + vector.plaintext.len());
        }
        Ok(())
    }

    /// A flipped tag bit fails with `EBADMSG`.
    #[test]
    fn forged_records_fail() -> Result {
        for vector in &RECORD_VECTORS {
            let mut record = KVec::from_elem(0u8, vector.record.len(), GFP_KERNEL)?;
            record.copy_from_slice(vector.record);
            let last = record.len() - 1;
            record[last] ^= 1;
            let outer = ContentType::from_wire(vector.record[0]).map_err(|_| EINVAL)?;
            let opened = cipher(vector)?.open(number(vector), outer, &mut record);
            assert!(opened.err() == Some(EBADMSG));
        }
        Ok(())
    }

    /// Sealing the TLS 1.3 plaintexts reproduces the RFC 8448 records byte for byte (TLS 1.2
    /// explicit nonces are the sender's choice, so only TLS 1.3 is deterministic).
    #[test]
    fn tls13_records_seal_to_rfc8448() -> Result {
        let mut sealed = 0;
        for vector in RECORD_VECTORS
            .iter()
            .filter(|vector| vector.protection.version() == ProtocolVersion::Tls13)
        {
            let Some((&inner_type, content)) = vector.plaintext.split_last() else {
                return Err(EINVAL);
            };
            let content_type = ContentType::from_wire(inner_type).map_err(|_| EINVAL)?;
            let body = vector.protection.header_len();
            let mut record = KVec::from_elem(0u8, vector.record.len(), GFP_KERNEL)?;
            record[body..body + content.len()].copy_from_slice(content);
            let len =
                cipher(vector)?.seal(number(vector), content_type, &mut record, content.len())?;
            assert_eq!(len, vector.record.len());
            assert_eq!(&record[..], vector.record);
            sealed += 1;
        }
        assert!(sealed >= 4);
        Ok(())
    }
}
