//! The userspace record layer: TLS 1.2/1.3 and DTLS 1.2 records framed with the module's own
//! record code (`ktls-record`: headers, nonces, AAD, TLS 1.3 inner type, DTLS replay window) and
//! protected with [`crate::aead`]. What a TLS library does per record, without its buffering.

use crate::aead::{Aead, AeadError, Engine};
use crate::keys::Suite;
use af_ktls::DirectionKeys;
use ktls_record::header::{ContentType, DtlsHeader, TlsHeader};
use ktls_record::inner::InnerPlaintext;
use ktls_record::nonce::{
    dtls12_aad, dtls12_explicit_nonce, salted_nonce, tls12_aad, tls12_explicit_nonce, tls13_aad,
    xor_nonce, NonceScheme,
};
use ktls_record::protection::{
    ProtocolVersion, RecordProtection, AEAD_TAG_LEN, GCM_EXPLICIT_NONCE_LEN, NONCE_LEN,
};
use ktls_record::seq::DtlsRecordNumber;
use ktls_record::window::ReplayWindow;
use ktls_record::RecordError;
use std::ops::Range;

fn record_err(e: RecordError) -> AeadError {
    AeadError(format!("record layer: {e:?}"))
}

/// Static nonce material of one direction, as the kernel derives it (rust/keys.rs).
struct NonceBase {
    salt: [u8; 4],
    iv: [u8; NONCE_LEN],
    /// TLS 1.2 AES-GCM: explicit nonce of record `seq` is `explicit_base ^ seq`.
    explicit_base: [u8; GCM_EXPLICIT_NONCE_LEN],
}

impl NonceBase {
    fn new(keys: &DirectionKeys) -> Self {
        let iv = *keys.iv();
        let mut salt = [0u8; 4];
        salt.copy_from_slice(&iv[..4]);
        let mut first = [0u8; GCM_EXPLICIT_NONCE_LEN];
        first.copy_from_slice(&iv[4..]);
        NonceBase {
            salt,
            iv,
            explicit_base: tls12_explicit_nonce(&first, keys.rec_seq()),
        }
    }
}

/// Seals the records of one direction.
pub struct Sealer {
    protection: RecordProtection,
    aead: Aead,
    nonce: NonceBase,
    /// The next record's number (DTLS: epoch << 48 | sequence).
    next: u64,
    pub records: u64,
}

impl Sealer {
    pub fn new(engine: Engine, suite: Suite, keys: &DirectionKeys) -> Result<Self, AeadError> {
        Ok(Sealer {
            protection: suite.protection(),
            aead: Aead::new(engine, suite.cipher, keys.key(), true)?,
            nonce: NonceBase::new(keys),
            next: keys.rec_seq(),
            records: 0,
        })
    }

    /// Bytes a record adds to its plaintext.
    pub fn overhead(&self) -> usize {
        self.protection.overhead()
    }

    /// Writes one application-data record protecting `plaintext` (at most `MAX_PLAINTEXT_LEN`) at
    /// the start of `out`; returns its length.
    pub fn seal(&mut self, plaintext: &[u8], out: &mut [u8]) -> Result<usize, AeadError> {
        let p = self.protection;
        let number = self.next;
        let header_len = p.header_len();
        let body = header_len + p.explicit_nonce_len();
        if out.len() < plaintext.len() + p.overhead() {
            return Err(AeadError("seal: record buffer too short".into()));
        }
        let ty = ContentType::ApplicationData;
        let len16 = u16::try_from(plaintext.len()).map_err(|_| AeadError("too long".into()))?;
        let (nonce, aad, aad_len) = match p.version() {
            ProtocolVersion::Dtls12 => {
                // DTLS: the sequence is the low 48 bits; the benchmark never nears their end.
                let rn = DtlsRecordNumber::from_be_bytes(number.to_be_bytes());
                let header =
                    DtlsHeader::for_plaintext(p, ty, rn, plaintext.len()).map_err(record_err)?;
                out[..header_len].copy_from_slice(&header.to_bytes());
                let explicit = dtls12_explicit_nonce(rn);
                out[header_len..body].copy_from_slice(&explicit);
                let nonce = salted_nonce(&self.nonce.salt, &explicit);
                (nonce, dtls12_aad(rn, ty, len16), 13)
            }
            ProtocolVersion::Tls12 | ProtocolVersion::Tls13 => {
                let header =
                    TlsHeader::for_plaintext(p, ty, plaintext.len()).map_err(record_err)?;
                out[..header_len].copy_from_slice(&header.to_bytes());
                let nonce = match p.nonce_scheme() {
                    NonceScheme::SaltAndExplicit => {
                        let explicit = tls12_explicit_nonce(&self.nonce.explicit_base, number);
                        out[header_len..body].copy_from_slice(&explicit);
                        salted_nonce(&self.nonce.salt, &explicit)
                    }
                    NonceScheme::IvXorSequence => xor_nonce(&self.nonce.iv, number),
                };
                if p.version() == ProtocolVersion::Tls13 {
                    let mut aad = [0u8; 13];
                    aad[..5].copy_from_slice(&tls13_aad(header.length()));
                    (nonce, aad, 5)
                } else {
                    (nonce, tls12_aad(number, ty, len16), 13)
                }
            }
        };
        // TLS 1.3 hides the content type behind the plaintext (no padding).
        let inner_type = [ty.wire()];
        let parts: &[&[u8]] = if p.version() == ProtocolVersion::Tls13 {
            &[plaintext, &inner_type]
        } else {
            &[plaintext]
        };
        let sealed = self
            .aead
            .seal(&nonce, &aad[..aad_len], parts, &mut out[body..])?;
        self.next += 1;
        self.records += 1;
        Ok(body + sealed)
    }

    /// Seals `plaintext` as records of at most `max` bytes each into `out`; returns the bytes
    /// written.
    pub fn seal_all(
        &mut self,
        plaintext: &[u8],
        max: usize,
        out: &mut [u8],
    ) -> Result<usize, AeadError> {
        let mut pos = 0;
        for piece in plaintext.chunks(max.max(1)) {
            pos += self.seal(piece, &mut out[pos..])?;
        }
        Ok(pos)
    }
}

/// Opens the records of one direction.
pub struct Opener {
    protection: RecordProtection,
    aead: Aead,
    nonce: NonceBase,
    /// TLS: the next record's sequence number.
    next: u64,
    /// DTLS: the replay window and the epoch of the keys.
    window: ReplayWindow,
    epoch: u16,
    pub records: u64,
}

/// What opening a DTLS datagram's record gave.
pub enum Datagram {
    /// Application data at this range of the buffer.
    Data(Range<usize>),
    /// Dropped: replayed, too old, another epoch, malformed or failed authentication.
    Dropped(&'static str),
}

impl Opener {
    pub fn new(engine: Engine, suite: Suite, keys: &DirectionKeys) -> Result<Self, AeadError> {
        let window = if suite.version.is_datagram() && keys.sequence() > 0 {
            ReplayWindow::after(keys.sequence() - 1).map_err(record_err)?
        } else {
            ReplayWindow::new()
        };
        Ok(Opener {
            protection: suite.protection(),
            aead: Aead::new(engine, suite.cipher, keys.key(), false)?,
            nonce: NonceBase::new(keys),
            next: keys.rec_seq(),
            window,
            epoch: keys.epoch(),
            records: 0,
        })
    }

    /// TLS: the length of the whole record at the start of `buf`, once its header is there.
    pub fn record_len(&self, buf: &[u8]) -> Result<Option<usize>, AeadError> {
        match TlsHeader::parse(self.protection, buf) {
            Ok(header) => Ok(Some(header.record_len())),
            Err(RecordError::Truncated) => Ok(None),
            Err(e) => Err(record_err(e)),
        }
    }

    /// TLS: opens the complete record `record` in place; returns the plaintext's range. Any
    /// failure is fatal for the stream, as in TLS.
    pub fn open_tls(&mut self, record: &mut [u8]) -> Result<Range<usize>, AeadError> {
        let p = self.protection;
        let header = TlsHeader::parse(p, record).map_err(record_err)?;
        let header_len = p.header_len();
        let body = header_len + p.explicit_nonce_len();
        if record.len() != header.record_len() || record.len() < body + AEAD_TAG_LEN {
            return Err(AeadError("malformed record".into()));
        }
        let seq = self.next;
        let nonce = match p.nonce_scheme() {
            NonceScheme::SaltAndExplicit => {
                let mut explicit = [0u8; GCM_EXPLICIT_NONCE_LEN];
                explicit.copy_from_slice(&record[header_len..body]);
                salted_nonce(&self.nonce.salt, &explicit)
            }
            NonceScheme::IvXorSequence => xor_nonce(&self.nonce.iv, seq),
        };
        let sealed_len = record.len() - body - AEAD_TAG_LEN;
        let opened = if p.version() == ProtocolVersion::Tls13 {
            let aad = tls13_aad(header.length());
            self.aead.open(&nonce, &aad, &mut record[body..])?
        } else {
            let len16 = u16::try_from(sealed_len).map_err(|_| AeadError("too long".into()))?;
            let aad = tls12_aad(seq, header.content_type(), len16);
            self.aead.open(&nonce, &aad, &mut record[body..])?
        };
        self.next += 1;
        self.records += 1;
        let (ty, len) = if p.version() == ProtocolVersion::Tls13 {
            let inner = InnerPlaintext::parse(&record[body..body + opened]).map_err(record_err)?;
            (inner.content_type(), inner.content_len())
        } else {
            (header.content_type(), opened)
        };
        if ty != ContentType::ApplicationData {
            return Err(AeadError(format!("unexpected {ty:?} record")));
        }
        Ok(body..body + len)
    }

    /// DTLS: opens the one record of `datagram` in place, with the replay window.
    pub fn open_dtls(&mut self, datagram: &mut [u8]) -> Datagram {
        let p = self.protection;
        let Ok((header, _, _)) = DtlsHeader::split_record(p, datagram) else {
            return Datagram::Dropped("malformed");
        };
        let rn = header.record_number();
        if rn.epoch() != self.epoch {
            return Datagram::Dropped("other epoch");
        }
        if self.window.check(rn.sequence()).is_err() {
            return Datagram::Dropped("replayed");
        }
        let header_len = p.header_len();
        let body = header_len + p.explicit_nonce_len();
        let end = header.record_len();
        if end < body + AEAD_TAG_LEN {
            return Datagram::Dropped("malformed");
        }
        let mut explicit = [0u8; GCM_EXPLICIT_NONCE_LEN];
        explicit.copy_from_slice(&datagram[header_len..body]);
        let nonce = salted_nonce(&self.nonce.salt, &explicit);
        let Ok(len16) = u16::try_from(end - body - AEAD_TAG_LEN) else {
            return Datagram::Dropped("malformed");
        };
        let aad = dtls12_aad(rn, header.content_type(), len16);
        match self.aead.open(&nonce, &aad, &mut datagram[body..end]) {
            Ok(len) => {
                if self.window.mark(rn.sequence()).is_err() {
                    return Datagram::Dropped("replayed");
                }
                self.records += 1;
                if header.content_type() != ContentType::ApplicationData {
                    return Datagram::Dropped("not application data");
                }
                Datagram::Data(body..body + len)
            }
            Err(_) => Datagram::Dropped("failed authentication"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ktls_record::protection::MAX_PLAINTEXT_LEN;

    #[test]
    fn tls_round_trip_every_suite_and_engine() {
        for suite in Suite::STREAM {
            let (client, server) = suite.key_pair();
            for (se, oe) in [
                (Engine::Openssl, Engine::Ring),
                (Engine::Ring, Engine::Openssl),
            ] {
                let mut sealer = Sealer::new(se, suite, &client.tx).expect("sealer");
                let mut opener = Opener::new(oe, suite, &server.rx).expect("opener");
                let plain: Vec<u8> = (0..40000u32).map(|i| (i * 7) as u8).collect();
                let mut wire = vec![0u8; 41000];
                let n = sealer
                    .seal_all(&plain, MAX_PLAINTEXT_LEN, &mut wire)
                    .expect("seal");
                assert_eq!(sealer.records, 3);
                let mut pos = 0;
                let mut got = Vec::new();
                while pos < n {
                    let len = opener
                        .record_len(&wire[pos..n])
                        .expect("hdr")
                        .expect("whole");
                    let range = opener.open_tls(&mut wire[pos..pos + len]).expect("open");
                    got.extend_from_slice(&wire[pos + range.start..pos + range.end]);
                    pos += len;
                }
                assert_eq!(got, plain, "{suite}");
            }
        }
    }

    #[test]
    fn dtls_round_trip_and_replay() {
        let suite = Suite::DTLS12_AES128;
        let (client, server) = suite.key_pair();
        let mut sealer = Sealer::new(Engine::Openssl, suite, &client.tx).expect("sealer");
        let mut opener = Opener::new(Engine::Openssl, suite, &server.rx).expect("opener");
        let mut dgram = vec![0u8; 1500];
        let n = sealer.seal(&[9u8; 1000], &mut dgram).expect("seal");
        let copy = dgram[..n].to_vec();
        match opener.open_dtls(&mut dgram[..n]) {
            Datagram::Data(r) => assert_eq!(r.len(), 1000),
            Datagram::Dropped(why) => panic!("dropped: {why}"),
        }
        let mut replay = copy;
        assert!(matches!(
            opener.open_dtls(&mut replay),
            Datagram::Dropped("replayed")
        ));
    }
}
