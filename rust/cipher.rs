// SPDX-License-Identifier: GPL-2.0

//! [`RecordCipher`]: seals and opens whole records of one direction with the shared record code
//! (`record/`) for headers, nonces and AAD and [`Aead`] for the cryptography. Records are sealed
//! into page chunks, from plaintext copied there or from page segments (`sendfile`, `splice`),
//! and opened from socket buffers into a chunk or straight into the caller's buffer; the
//! copying path opens a record assembled in a buffer in place.

use core::ops::Range;

use kernel::prelude::*;

use crate::{
    crypto::{
        Aead,
        AsyncOpen,
        OpenParams, //
    },
    keys::{
        DirectionKeys,
        NonceBase, //
    },
    net::inet::{
        Datagram,
        TcpQueue, //
    },
    pages::{
        PageChunk,
        PageSegment,
        UserPages, //
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
    sg::{
        HeapBytes,
        SgTable, //
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

/// The most scatterlist entries one side of a record operation may take: the AAD, a TLS 1.3
/// content type, and the record's bytes in socket buffers, pipe pages or a caller's pages. A
/// record that needs more takes the copying path.
pub(crate) const SG_ENTRIES: usize = 48;

/// Where the plaintext of a record to seal is.
pub(crate) enum Plaintext<'a> {
    /// This many bytes at [`RecordCipher::body_offset`] of the record itself.
    InRecord(usize),
    /// In page segments, in order.
    Segments(&'a [PageSegment]),
}

/// Where the ciphertext of a record to open is: its bytes after the header and any explicit
/// nonce, up to the end of the record.
pub(crate) enum Ciphertext<'a> {
    /// In a locked TCP receive queue, from this offset.
    Tcp(&'a TcpQueue<'a>, usize),
    /// In a datagram, from this offset.
    Datagram(&'a Datagram, usize),
}

/// Where the plaintext of a record to open goes.
pub(crate) enum PlaintextDest<'a> {
    /// A chunk of ours, from its start.
    Chunk(&'a mut PageChunk),
    /// The caller's buffer. TLS 1.3: all but the last byte of the inner plaintext, which must
    /// then be the data content type (no padding), or the record is not opened there.
    User(&'a mut UserPages),
}

/// What opening a record gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Opened {
    /// A record of this content type with this many bytes of content.
    Record(ContentType, usize),
    /// TLS 1.3 into the caller's buffer: the record is not a data record without padding; it
    /// authenticated, but must be opened again into the kernel's memory to be understood.
    NotPlainData,
}

/// The heap memory of one record operation: the nonce, the AAD in and out, a TLS 1.3 content
/// type byte, and the scatterlist tables. On the heap because the crypto API reaches the AAD and
/// the type byte through scatterlists, which cannot point into a (virtually mapped) stack.
struct Scratch {
    nonce: HeapBytes<NONCE_LEN>,
    aad_in: HeapBytes<TLS12_AAD_LEN>,
    aad_out: HeapBytes<TLS12_AAD_LEN>,
    inner_type: HeapBytes<1>,
    aad_len: usize,
    src: SgTable,
    dst: SgTable,
}

/// Seals or opens the records of one direction of one socket.
pub(crate) struct RecordCipher {
    protection: RecordProtection,
    aead: Aead,
    nonce_base: NonceBase,
    scratch: Scratch,
}

impl RecordCipher {
    /// Allocates the AEAD transform for `keys`; all memory the records need comes from here.
    pub(crate) fn new(protection: RecordProtection, keys: &DirectionKeys) -> Result<Self> {
        Ok(Self {
            protection,
            aead: Aead::new(protection.cipher(), keys.key())?,
            nonce_base: keys.nonce_base(),
            scratch: Scratch {
                nonce: HeapBytes::new()?,
                aad_in: HeapBytes::new()?,
                aad_out: HeapBytes::new()?,
                inner_type: HeapBytes::new()?,
                aad_len: 0,
                src: SgTable::new(SG_ENTRIES)?,
                dst: SgTable::new(SG_ENTRIES)?,
            },
        })
    }

    /// The version and cipher this direction protects records with.
    pub(crate) fn protection(&self) -> RecordProtection {
        self.protection
    }

    /// Whether the transform is asynchronous ([`Self::start_open`] lets records be opened
    /// several at once, completing later).
    pub(crate) fn is_async(&self) -> bool {
        self.aead.is_async()
    }

    /// Starts opening a received TLS 1.2 or DTLS 1.2 data record whose ciphertext is in
    /// `source` into `chunk` without waiting (an asynchronous transform): the operation holds
    /// the socket buffers, so the record may be consumed from the socket at once.
    /// [`AsyncOpen::finish`] gives the chunk with `payload_len` less the overhead bytes of
    /// plaintext, or `EBADMSG`. TLS 1.3 records are refused (`EINVAL`): their content type is
    /// known only once opened, and the records after a KeyUpdate need other keys.
    pub(crate) fn start_open(
        &mut self,
        number: RecordNumber,
        outer_type: ContentType,
        prefix: &[u8],
        payload_len: usize,
        source: Ciphertext<'_>,
        chunk: PageChunk,
    ) -> Result<AsyncOpen> {
        if self.protection.version() == ProtocolVersion::Tls13 {
            return Err(EINVAL);
        }
        let cryptlen = self.prepare_open(number, outer_type, prefix, payload_len)?;
        let mut op = AsyncOpen::new(&self.aead, SG_ENTRIES)?;
        let params = OpenParams {
            nonce: *self.scratch.nonce.get(),
            aad: *self.scratch.aad_in.get(),
            aad_len: self.scratch.aad_len,
            cryptlen,
            tag_len: self.aead.tag_len(),
        };
        op.start(&params, chunk, |list, hold| match source {
            Ciphertext::Tcp(queue, offset) => queue.map_held(list, offset, cryptlen, hold),
            Ciphertext::Datagram(datagram, offset) => {
                datagram.map_held(list, offset, cryptlen, hold)
            }
        })?;
        Ok(op)
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

    /// Seals a record into `record`, whose start receives the header and explicit nonce and
    /// whose body the ciphertext, TLS 1.3 content type and tag; returns the record's length.
    pub(crate) fn seal(
        &mut self,
        number: RecordNumber,
        content_type: ContentType,
        record: &mut PageChunk,
        plaintext: Plaintext<'_>,
    ) -> Result<usize> {
        let protection = self.protection;
        let body = self.body_offset();
        let plaintext_len = match &plaintext {
            Plaintext::InRecord(len) => *len,
            Plaintext::Segments(segments) => {
                segments.iter().map(|segment| segment.len as usize).sum()
            }
        };
        let tls13 = protection.version() == ProtocolVersion::Tls13;
        let sealed_len = plaintext_len + protection.inner_type_len();
        let tag_len = self.aead.tag_len();
        let end = body + sealed_len + tag_len;
        let prefix = self.prepare_seal(number, content_type, plaintext_len)?;
        let bytes = record.as_mut_slice();
        let head = bytes.get_mut(..prefix.len).ok_or(EMSGSIZE)?;
        head.copy_from_slice(prefix.bytes.get(..prefix.len).ok_or(EINVAL)?);
        if bytes.len() < end {
            return Err(EMSGSIZE);
        }
        let scratch = &mut self.scratch;
        let aad_len = scratch.aad_len;
        match plaintext {
            Plaintext::InRecord(_) => {
                if tls13 {
                    // TLS 1.3 hides the real content type at the end of the plaintext.
                    *bytes.get_mut(body + plaintext_len).ok_or(EMSGSIZE)? = content_type.wire();
                }
                let mut data = scratch.dst.dest();
                data.push_heap(&mut scratch.aad_out, aad_len)?;
                data.push_chunk(record, body..end)?;
                self.aead.crypt_in_place(
                    true,
                    &mut scratch.nonce,
                    &mut data,
                    aad_len,
                    sealed_len,
                )?;
            }
            Plaintext::Segments(segments) => {
                scratch.inner_type.get_mut()[0] = content_type.wire();
                let mut src = scratch.src.source();
                src.push_heap(&scratch.aad_in, aad_len)?;
                for segment in segments {
                    src.push_page(&segment.page, segment.offset, segment.len)?;
                }
                if tls13 {
                    src.push_heap(&scratch.inner_type, 1)?;
                }
                let mut dst = scratch.dst.dest();
                dst.push_heap(&mut scratch.aad_out, aad_len)?;
                dst.push_chunk(record, body..end)?;
                self.aead.crypt(
                    true,
                    &mut scratch.nonce,
                    &mut src,
                    &mut dst,
                    aad_len,
                    sealed_len,
                )?;
            }
        }
        Ok(end)
    }

    /// Computes the header, explicit nonce, nonce and AAD of a record to seal.
    fn prepare_seal(
        &mut self,
        number: RecordNumber,
        content_type: ContentType,
        plaintext_len: usize,
    ) -> Result<RecordPrefix> {
        let protection = self.protection;
        let header_len = protection.header_len();
        let mut prefix = RecordPrefix {
            bytes: [0; DTLS_HEADER_LEN + GCM_EXPLICIT_NONCE_LEN],
            len: self.body_offset(),
        };
        let plaintext_len16 = u16::try_from(plaintext_len).map_err(|_| EMSGSIZE)?;
        let payload_len = match number {
            RecordNumber::Tls(_) => {
                let header = TlsHeader::for_plaintext(protection, content_type, plaintext_len)
                    .map_err(record_error)?;
                prefix.bytes[..TLS_HEADER_LEN].copy_from_slice(&header.to_bytes());
                header.length()
            }
            RecordNumber::Dtls(rn) => {
                let header = DtlsHeader::for_plaintext(protection, content_type, rn, plaintext_len)
                    .map_err(record_error)?;
                prefix.bytes[..DTLS_HEADER_LEN].copy_from_slice(&header.to_bytes());
                header.length()
            }
        };
        let scratch = &mut self.scratch;
        let nonce = match (protection.nonce_scheme(), number) {
            (NonceScheme::SaltAndExplicit, RecordNumber::Tls(seq)) => {
                let explicit = tls12_explicit_nonce(&self.nonce_base.explicit_base, seq);
                prefix.bytes[header_len..header_len + GCM_EXPLICIT_NONCE_LEN]
                    .copy_from_slice(&explicit);
                salted_nonce(&self.nonce_base.salt, &explicit)
            }
            (NonceScheme::SaltAndExplicit, RecordNumber::Dtls(rn)) => {
                let explicit = dtls12_explicit_nonce(rn);
                prefix.bytes[header_len..header_len + GCM_EXPLICIT_NONCE_LEN]
                    .copy_from_slice(&explicit);
                salted_nonce(&self.nonce_base.salt, &explicit)
            }
            (NonceScheme::IvXorSequence, RecordNumber::Tls(seq)) => {
                xor_nonce(&self.nonce_base.iv, seq)
            }
            (NonceScheme::IvXorSequence, RecordNumber::Dtls(rn)) => {
                xor_nonce(&self.nonce_base.iv, rn.as_u64())
            }
        };
        *scratch.nonce.get_mut() = nonce;
        scratch.set_aad(
            protection,
            number,
            content_type,
            plaintext_len16,
            payload_len,
        );
        Ok(prefix)
    }

    /// Prepares the nonce and AAD of a received record from its `prefix` (header, then explicit
    /// nonce if any). Returns the length the AEAD decrypts (ciphertext and tag); `EBADMSG` if the
    /// record is shorter than its overhead.
    fn prepare_open(
        &mut self,
        number: RecordNumber,
        outer_type: ContentType,
        prefix: &[u8],
        payload_len: usize,
    ) -> Result<usize> {
        let protection = self.protection;
        let header_len = protection.header_len();
        let explicit_len = protection.explicit_nonce_len();
        let cryptlen = payload_len.checked_sub(explicit_len).ok_or(EBADMSG)?;
        let plaintext_len = cryptlen.checked_sub(self.aead.tag_len()).ok_or(EBADMSG)?;
        let payload_len16 = u16::try_from(payload_len).map_err(|_| EBADMSG)?;
        let plaintext_len16 = u16::try_from(plaintext_len).map_err(|_| EBADMSG)?;
        let nonce = match (protection.nonce_scheme(), number) {
            (NonceScheme::SaltAndExplicit, _) => {
                let mut explicit = [0u8; GCM_EXPLICIT_NONCE_LEN];
                explicit.copy_from_slice(
                    prefix
                        .get(header_len..header_len + explicit_len)
                        .ok_or(EBADMSG)?,
                );
                salted_nonce(&self.nonce_base.salt, &explicit)
            }
            (NonceScheme::IvXorSequence, RecordNumber::Tls(seq)) => {
                xor_nonce(&self.nonce_base.iv, seq)
            }
            (NonceScheme::IvXorSequence, RecordNumber::Dtls(rn)) => {
                xor_nonce(&self.nonce_base.iv, rn.as_u64())
            }
        };
        *self.scratch.nonce.get_mut() = nonce;
        self.scratch.set_aad(
            protection,
            number,
            outer_type,
            plaintext_len16,
            payload_len16,
        );
        Ok(cryptlen)
    }

    /// Opens a received record whose ciphertext is in `source` into `dest`. `prefix` is its
    /// header and explicit nonce, `payload_len` its length field. `EBADMSG` if it does not
    /// authenticate; `EMSGSIZE` if a scatterlist would be too long (take the copying path).
    pub(crate) fn open(
        &mut self,
        number: RecordNumber,
        outer_type: ContentType,
        prefix: &[u8],
        payload_len: usize,
        source: Ciphertext<'_>,
        mut dest: PlaintextDest<'_>,
    ) -> Result<Opened> {
        let cryptlen = self.prepare_open(number, outer_type, prefix, payload_len)?;
        let decrypted_len = cryptlen - self.aead.tag_len();
        let tls13 = self.protection.version() == ProtocolVersion::Tls13;
        let scratch = &mut self.scratch;
        let aad_len = scratch.aad_len;
        let mut src = scratch.src.source();
        src.push_heap(&scratch.aad_in, aad_len)?;
        match source {
            Ciphertext::Tcp(queue, offset) => queue.map(&mut src, offset, cryptlen)?,
            Ciphertext::Datagram(datagram, offset) => datagram.map(&mut src, offset, cryptlen)?,
        }
        let mut dst = scratch.dst.dest();
        dst.push_heap(&mut scratch.aad_out, aad_len)?;
        match &mut dest {
            PlaintextDest::Chunk(chunk) => dst.push_chunk(chunk, 0..decrypted_len)?,
            PlaintextDest::User(pages) => {
                dst.push_user(pages)?;
                if tls13 {
                    // The last inner byte, the content type if there is no padding, is
                    // decrypted into the kernel's memory, where it can be trusted.
                    dst.push_heap(&mut scratch.inner_type, 1)?;
                }
            }
        }
        self.aead.crypt(
            false,
            &mut scratch.nonce,
            &mut src,
            &mut dst,
            aad_len,
            cryptlen,
        )?;
        if !tls13 {
            return Ok(Opened::Record(outer_type, decrypted_len));
        }
        match dest {
            PlaintextDest::Chunk(chunk) => {
                let inner = chunk.as_slice().get(..decrypted_len).ok_or(EINVAL)?;
                let inner = InnerPlaintext::parse(inner).map_err(record_error)?;
                Ok(Opened::Record(inner.content_type(), inner.content_len()))
            }
            PlaintextDest::User(_)
                if scratch.inner_type.get()[0] == ContentType::ApplicationData.wire() =>
            {
                Ok(Opened::Record(
                    ContentType::ApplicationData,
                    decrypted_len - 1,
                ))
            }
            PlaintextDest::User(_) => Ok(Opened::NotPlainData),
        }
    }

    /// Opens the complete record `record` (header included) in place: the copying path, for
    /// records assembled in the kernel's memory. Returns the content type and where its
    /// plaintext now is in `record`; `EBADMSG` if it does not authenticate.
    pub(crate) fn open_in_place(
        &mut self,
        number: RecordNumber,
        outer_type: ContentType,
        record: &mut KVec<u8>,
        range: Range<usize>,
    ) -> Result<(ContentType, Range<usize>)> {
        let header_len = self.protection.header_len();
        let body = range.start + self.body_offset();
        let payload_len = range.len().checked_sub(header_len).ok_or(EBADMSG)?;
        let prefix = record.get(range.start..body).ok_or(EBADMSG)?;
        let mut prefix_copy = [0u8; DTLS_HEADER_LEN + GCM_EXPLICIT_NONCE_LEN];
        prefix_copy
            .get_mut(..prefix.len())
            .ok_or(EINVAL)?
            .copy_from_slice(prefix);
        let cryptlen = self.prepare_open(
            number,
            outer_type,
            &prefix_copy[..prefix.len()],
            payload_len,
        )?;
        let decrypted_len = cryptlen - self.aead.tag_len();
        let scratch = &mut self.scratch;
        let aad_len = scratch.aad_len;
        let mut data = scratch.dst.dest();
        data.push_heap(&mut scratch.aad_out, aad_len)?;
        data.push_kvec(record, body..body + cryptlen)?;
        self.aead
            .crypt_in_place(false, &mut scratch.nonce, &mut data, aad_len, cryptlen)?;
        if self.protection.version() != ProtocolVersion::Tls13 {
            return Ok((outer_type, body..body + decrypted_len));
        }
        let inner = InnerPlaintext::parse(record.get(body..body + decrypted_len).ok_or(EBADMSG)?)
            .map_err(record_error)?;
        Ok((inner.content_type(), body..body + inner.content_len()))
    }
}

/// A record's header and explicit nonce, as sealed.
struct RecordPrefix {
    bytes: [u8; DTLS_HEADER_LEN + GCM_EXPLICIT_NONCE_LEN],
    len: usize,
}

impl Scratch {
    /// Builds the AAD of a record, in and out: TLS/DTLS 1.2 cover the plaintext length, TLS 1.3
    /// the header.
    fn set_aad(
        &mut self,
        protection: RecordProtection,
        number: RecordNumber,
        content_type: ContentType,
        plaintext_len: u16,
        payload_len: u16,
    ) {
        let aad = self.aad_in.get_mut();
        self.aad_len = match (protection.version(), number) {
            (ProtocolVersion::Tls13, _) => {
                let tls13 = tls13_aad(payload_len);
                aad[..tls13.len()].copy_from_slice(&tls13);
                tls13.len()
            }
            (_, RecordNumber::Tls(seq)) => {
                *aad = tls12_aad(seq, content_type, plaintext_len);
                TLS12_AAD_LEN
            }
            (_, RecordNumber::Dtls(rn)) => {
                *aad = dtls12_aad(rn, content_type, plaintext_len);
                TLS12_AAD_LEN
            }
        };
        *self.aad_out.get_mut() = *self.aad_in.get();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        crate::crypto::wipe(self.nonce.get_mut());
    }
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
            Plaintext,
            RecordCipher,
            RecordNumber, //
        },
        keys::DirectionKeys,
        pages::{
            PageFrag,
            PageSegment, //
        },
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

    /// Every known-answer record opens to its plaintext (in place, the copying path).
    #[test]
    fn known_answer_records_open() -> Result {
        for vector in &RECORD_VECTORS {
            let mut record = KVec::from_elem(0u8, vector.record.len(), GFP_KERNEL)?;
            record.copy_from_slice(vector.record);
            let outer = ContentType::from_wire(vector.record[0]).map_err(|_| EINVAL)?;
            let body = vector.protection.header_len() + vector.protection.explicit_nonce_len();
            let len = record.len();
            let (_, content) =
                cipher(vector)?.open_in_place(number(vector), outer, &mut record, 0..len)?;
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
            let len = record.len();
            let opened = cipher(vector)?.open_in_place(number(vector), outer, &mut record, 0..len);
            assert!(opened.err() == Some(EBADMSG));
        }
        Ok(())
    }

    /// The TLS 1.3 known-answer plaintexts and their content types.
    fn tls13_vectors() -> impl Iterator<Item = (&'static RecordVector, ContentType, &'static [u8])>
    {
        RECORD_VECTORS
            .iter()
            .filter(|vector| vector.protection.version() == ProtocolVersion::Tls13)
            .filter_map(|vector| {
                let (&inner_type, content) = vector.plaintext.split_last()?;
                let content_type = ContentType::from_wire(inner_type).ok()?;
                Some((vector, content_type, content))
            })
    }

    /// Sealing the TLS 1.3 plaintexts, copied into the record's chunk, reproduces the RFC 8448
    /// records byte for byte (TLS 1.2 explicit nonces are the sender's choice, so only TLS 1.3 is
    /// deterministic).
    #[test]
    fn tls13_records_seal_to_rfc8448() -> Result {
        let mut frag = PageFrag::new();
        let mut sealed = 0;
        for (vector, content_type, content) in tls13_vectors() {
            let body = vector.protection.header_len();
            let len = vector.record.len();
            let mut record = frag.alloc(len, len)?;
            record.as_mut_slice()[body..body + content.len()].copy_from_slice(content);
            let sealed_len = cipher(vector)?.seal(
                number(vector),
                content_type,
                &mut record,
                Plaintext::InRecord(content.len()),
            )?;
            assert_eq!(sealed_len, len);
            assert_eq!(&record.as_slice()[..len], vector.record);
            sealed += 1;
        }
        assert!(sealed >= 4);
        Ok(())
    }

    /// Sealing from page segments (`sendfile`, `splice`), the plaintext split over two pages at
    /// odd offsets, gives the same records.
    #[test]
    fn tls13_records_seal_from_segments() -> Result {
        let mut frag = PageFrag::new();
        for (vector, content_type, content) in tls13_vectors() {
            let split = content.len() / 3;
            let mut segments = KVec::new();
            for (part, offset) in [(&content[..split], 7usize), (&content[split..], 100)] {
                segments.push(PageSegment::with_bytes(part, offset)?, GFP_KERNEL)?;
            }
            let len = vector.record.len();
            let mut record = frag.alloc(len, len)?;
            let sealed_len = cipher(vector)?.seal(
                number(vector),
                content_type,
                &mut record,
                Plaintext::Segments(&segments),
            )?;
            assert_eq!(sealed_len, len);
            assert_eq!(&record.as_slice()[..len], vector.record);
        }
        Ok(())
    }
}
