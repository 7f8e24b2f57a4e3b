//! Record headers as seen on the wire during the handshake.
//!
//! Libraries do not always say which sequence numbers and explicit nonces they used (OpenSSL has
//! no `SSL_get_write_sequence`), but the records do. A handshake driver passes every datagram or
//! every chunk of the TCP stream, per direction, to one of these logs and reads the numbers back
//! at handoff time.

use ktls_record::header::KTLS_RECORD_CHANGE_CIPHER_SPEC;
use ktls_record::protection::{
    DTLS_HEADER_LEN, GCM_EXPLICIT_NONCE_LEN as EXPLICIT_NONCE_LEN, MAX_CIPHERTEXT_LEN_TLS12,
    TLS_HEADER_LEN,
};
use ktls_record::seq::DtlsRecordNumber;
use std::collections::BTreeMap;
use std::io::{self, Read};

/// The longest TLS record a stream can carry: header and TLS 1.2's largest length field, the
/// largest of every version's (the record layer's `MAX_CIPHERTEXT_LEN_TLS12`).
pub const MAX_TLS_RECORD_LEN: usize = TLS_HEADER_LEN + MAX_CIPHERTEXT_LEN_TLS12;

/// Reads exactly one TLS record, header and body, from a stream into `buf` and returns it; `None`
/// at a clean end of the stream before the record.
///
/// A TLS library given records this way never holds part of the records that follow the
/// handshake, which belong to the kernel after the handoff. Fails with `UnexpectedEof` for a
/// stream that ends inside a record, and `InvalidData` for a length over TLS's limit.
pub fn read_tls_record<'a>(
    reader: &mut impl Read,
    buf: &'a mut [u8; MAX_TLS_RECORD_LEN],
) -> io::Result<Option<&'a [u8]>> {
    let (header, body) = buf.split_at_mut(TLS_HEADER_LEN);
    let mut filled = 0;
    while filled < TLS_HEADER_LEN {
        match reader.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended inside a TLS record header",
                ))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // Plaintext handshake records go through here too, so the header is split, not checked
    // against a protection as `ktls_record::header::TlsHeader::parse` checks protected ones.
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let body = body.get_mut(..len).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a {len}-byte TLS record, longer than TLS allows"),
        )
    })?;
    reader.read_exact(body)?;
    Ok(buf.get(..TLS_HEADER_LEN + len))
}

/// What one DTLS record header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtlsRecordHeader {
    pub content_type: u8,
    pub version: u16,
    /// Epoch and 48-bit sequence number.
    pub record_number: DtlsRecordNumber,
    pub length: u16,
}

/// Splits a datagram into DTLS records (a datagram may carry several). Stops at the first
/// truncated record; what came before it is still returned.
///
/// Plaintext records (epoch 0) are split too, so the fields are taken as they stand, not checked
/// against a protection as `ktls_record::header::DtlsHeader::parse` checks protected ones.
pub fn dtls_records(datagram: &[u8]) -> Vec<(DtlsRecordHeader, &[u8])> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while let Some((&header, after)) = rest.split_first_chunk::<DTLS_HEADER_LEN>() {
        let [content_type, v0, v1, record_number @ .., l0, l1] = header;
        let header = DtlsRecordHeader {
            content_type,
            version: u16::from_be_bytes([v0, v1]),
            record_number: DtlsRecordNumber::from_be_bytes(record_number),
            length: u16::from_be_bytes([l0, l1]),
        };
        let Some((fragment, next)) = after.split_at_checked(usize::from(header.length)) else {
            break;
        };
        out.push((header, fragment));
        rest = next;
    }
    out
}

/// What one direction of a DTLS association put on the wire, per epoch.
#[derive(Clone, Debug, Default)]
pub struct DtlsRecordLog {
    epochs: BTreeMap<u16, EpochLog>,
}

/// Records of one epoch in one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochLog {
    pub records: u64,
    pub highest_sequence: u64,
    /// The explicit nonce (first 8 fragment bytes) of each protected record, in wire order.
    /// Epoch 0 records are unprotected and have none. Only AES-GCM records carry one: with
    /// ChaCha20-Poly1305 these are ciphertext bytes, and the caller ignores them.
    pub explicit_nonces: Vec<u64>,
    /// Content types in wire order (handy in `--verbose` output).
    pub content_types: Vec<u8>,
}

impl DtlsRecordLog {
    pub fn observe_datagram(&mut self, datagram: &[u8]) {
        for (header, fragment) in dtls_records(datagram) {
            let epoch = header.record_number.epoch();
            let log = self.epochs.entry(epoch).or_default();
            log.records += 1;
            log.highest_sequence = log.highest_sequence.max(header.record_number.sequence());
            log.content_types.push(header.content_type);
            if epoch > 0 {
                if let Some(explicit) = fragment.get(..EXPLICIT_NONCE_LEN) {
                    let mut bytes = [0u8; EXPLICIT_NONCE_LEN];
                    bytes.copy_from_slice(explicit);
                    log.explicit_nonces.push(u64::from_be_bytes(bytes));
                }
            }
        }
    }

    pub fn epoch(&self, epoch: u16) -> Option<&EpochLog> {
        self.epochs.get(&epoch)
    }

    pub fn highest_epoch(&self) -> Option<u16> {
        self.epochs.keys().next_back().copied()
    }

    /// The sequence number after the highest one seen in `epoch` (0 if none was seen).
    pub fn next_sequence(&self, epoch: u16) -> u64 {
        self.epochs
            .get(&epoch)
            .map_or(0, |log| log.highest_sequence + 1)
    }
}

/// One direction of a TLS byte stream: record boundaries, and for TLS 1.2 the records protected
/// by the keys switched on by the last ChangeCipherSpec.
#[derive(Clone, Debug, Default)]
pub struct TlsStreamLog {
    /// Bytes of a header or of the explicit nonce that arrived split across chunks.
    partial: Vec<u8>,
    /// Bytes of the current record's body still to skip.
    body_left: usize,
    /// True while the first bytes of the current record's body are still wanted.
    want_nonce: bool,
    pub records: u64,
    pub change_cipher_spec_seen: bool,
    /// Records after the last ChangeCipherSpec: in TLS 1.2, the next sequence number.
    pub records_after_ccs: u64,
    /// Explicit nonces of the records after the last ChangeCipherSpec (TLS 1.2 AES-GCM).
    pub explicit_nonces_after_ccs: Vec<u64>,
}

impl TlsStreamLog {
    /// Feeds the next chunk of the stream, in order.
    pub fn observe(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            if self.body_left > 0 {
                if self.want_nonce {
                    let need = EXPLICIT_NONCE_LEN - self.partial.len();
                    let take = need.min(chunk.len()).min(self.body_left);
                    self.partial.extend_from_slice(&chunk[..take]);
                    if self.partial.len() == EXPLICIT_NONCE_LEN {
                        let mut bytes = [0u8; EXPLICIT_NONCE_LEN];
                        bytes.copy_from_slice(&self.partial);
                        self.explicit_nonces_after_ccs
                            .push(u64::from_be_bytes(bytes));
                        self.partial.clear();
                        self.want_nonce = false;
                    }
                    self.body_left -= take;
                    chunk = &chunk[take..];
                    if self.body_left == 0 {
                        // A protected record shorter than a nonce cannot be TLS 1.2 AES-GCM.
                        self.partial.clear();
                        self.want_nonce = false;
                    }
                } else {
                    let take = self.body_left.min(chunk.len());
                    self.body_left -= take;
                    chunk = &chunk[take..];
                }
                continue;
            }
            let need = TLS_HEADER_LEN - self.partial.len();
            let take = need.min(chunk.len());
            self.partial.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.partial.len() < TLS_HEADER_LEN {
                continue;
            }
            let content_type = self.partial[0];
            let length = usize::from(u16::from_be_bytes([self.partial[3], self.partial[4]]));
            self.partial.clear();
            self.records += 1;
            if content_type == KTLS_RECORD_CHANGE_CIPHER_SPEC {
                self.change_cipher_spec_seen = true;
                self.records_after_ccs = 0;
                self.explicit_nonces_after_ccs.clear();
            } else if self.change_cipher_spec_seen {
                self.records_after_ccs += 1;
                self.want_nonce = true;
            }
            self.body_left = length;
            if length == 0 {
                self.want_nonce = false;
            }
        }
    }

    /// True when the stream ends on a record boundary (no partial header or body pending).
    pub fn at_record_boundary(&self) -> bool {
        self.partial.is_empty() && self.body_left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dtls_record(content_type: u8, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 0xfe, 0xfd];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&seq.to_be_bytes()[2..]);
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn dtls_log_tracks_epochs_and_nonces() {
        let mut log = DtlsRecordLog::default();
        let mut flight = dtls_record(22, 0, 3, b"client key exchange");
        flight.extend(dtls_record(20, 0, 4, &[1]));
        flight.extend(dtls_record(
            22,
            1,
            0,
            &[0, 0, 0, 0, 0, 0, 0xaa, 0xbb, 1, 2, 3],
        ));
        log.observe_datagram(&flight);
        // A retransmitted Finished gets a new sequence number.
        log.observe_datagram(&dtls_record(22, 1, 1, &[0, 0, 0, 0, 0, 0, 0xaa, 0xbc, 9]));
        // A truncated trailing record is ignored.
        let mut truncated = dtls_record(23, 1, 7, &[0; 20]);
        truncated.truncate(20);
        log.observe_datagram(&truncated);

        assert_eq!(log.highest_epoch(), Some(1));
        assert_eq!(log.next_sequence(0), 5);
        assert_eq!(log.next_sequence(1), 2);
        assert_eq!(log.next_sequence(2), 0);
        let epoch1 = log.epoch(1).expect("epoch 1 seen");
        assert_eq!(epoch1.records, 2);
        assert_eq!(epoch1.explicit_nonces, vec![0xaabb, 0xaabc]);
        assert!(log
            .epoch(0)
            .expect("epoch 0 seen")
            .explicit_nonces
            .is_empty());
    }

    fn tls_record(content_type: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn reads_one_tls_record_at_a_time() {
        let mut stream = tls_record(22, b"server hello");
        stream.extend(tls_record(23, &[7; 40]));
        let mut reader = &stream[..];
        let mut buf = Box::new([0u8; MAX_TLS_RECORD_LEN]);
        let first = read_tls_record(&mut reader, &mut buf)
            .expect("reads")
            .map(<[u8]>::to_vec);
        assert_eq!(first.as_deref(), Some(&stream[..17]));
        let second = read_tls_record(&mut reader, &mut buf)
            .expect("reads")
            .map(<[u8]>::to_vec);
        assert_eq!(second.as_deref(), Some(&stream[17..]));
        assert_eq!(
            read_tls_record(&mut reader, &mut buf).expect("clean end"),
            None
        );

        let inside_header = read_tls_record(&mut &stream[..3], &mut buf).expect_err("cut");
        assert_eq!(inside_header.kind(), std::io::ErrorKind::UnexpectedEof);
        let inside_body = read_tls_record(&mut &stream[..10], &mut buf).expect_err("cut");
        assert_eq!(inside_body.kind(), std::io::ErrorKind::UnexpectedEof);
        // 2^14 + 2048 is the longest length field; one more is refused before it is read.
        let mut long = vec![23, 3, 3];
        long.extend_from_slice(&(16384u16 + 2049).to_be_bytes());
        let too_long = read_tls_record(&mut &long[..], &mut buf).expect_err("too long");
        assert_eq!(too_long.kind(), std::io::ErrorKind::InvalidData);
        long[3..5].copy_from_slice(&(16384u16 + 2048).to_be_bytes());
        long.resize(5 + 16384 + 2048, 0);
        let longest = read_tls_record(&mut &long[..], &mut buf).expect("longest record");
        assert_eq!(longest.map(<[u8]>::len), Some(long.len()));
    }

    #[test]
    fn tls_log_counts_records_after_ccs_across_any_split() {
        let mut stream = tls_record(22, b"client hello");
        stream.extend(tls_record(20, &[1]));
        stream.extend(tls_record(22, &[0, 0, 0, 0, 0, 0, 0, 0x10, 0xee, 0xee]));
        stream.extend(tls_record(23, &[0, 0, 0, 0, 0, 0, 0, 0x11, 0xdd]));
        for split in 1..stream.len() {
            let mut log = TlsStreamLog::default();
            for piece in stream.chunks(split) {
                log.observe(piece);
            }
            assert!(log.at_record_boundary());
            assert_eq!(log.records, 4);
            assert!(log.change_cipher_spec_seen);
            assert_eq!(log.records_after_ccs, 2);
            assert_eq!(
                log.explicit_nonces_after_ccs,
                vec![0x10, 0x11],
                "split {split}"
            );
        }
        let mut log = TlsStreamLog::default();
        log.observe(&stream[..stream.len() - 1]);
        assert!(!log.at_record_boundary());
    }
}
