//! DTLS 1.2 key material: the key block from the session's master secret and randoms, with the
//! epoch, next sequence numbers and (AES-GCM) first explicit nonce taken from the records each
//! side put on the wire during the handshake.
//!
//! Sequence-number rules (see "Sequence numbers, per role" in
//! `Documentation/af_ktls.md`):
//! * TX: the next sequence number after the highest epoch-1 record this side sent. Finished is
//!   epoch 1 seq 0, and a retransmitted Finished takes a new number, so this is 1 or more.
//! * RX: `rec_seq` is one past the highest epoch-1 sequence number received; the kernel's replay
//!   window starts with that record's predecessor as its right edge and accepts anything newer.
//! * AES-GCM explicit nonces: AF_KTLS sends the record number (`epoch ‖ seq`) as the explicit
//!   nonce (the record layer's `dtls12_explicit_nonce`), so `iv` is set to the first one. GnuTLS
//!   uses the same scheme, so its nonces and the kernel's never meet; OpenSSL 3.0 starts its
//!   counter at a random value, so a collision is only improbable (about records²/2^64) — and
//!   checked: key material is refused if any nonce the library sent lies in the kernel's range.
//! * ChaCha20-Poly1305 (RFC 7905) has no explicit nonce: the nonce is the 12-byte write IV XOR
//!   the record number, so distinct record numbers are all it needs.
//! * Renegotiation must be off: only epoch 1 is handed over.

use crate::keys::{Cipher, DirectionKeys, KeyMaterial, RecordProtection, Version};
use crate::nonce::NonceRule;
use crate::prf::{PrfHash, Tls12KeyBlock, Tls12KeyBlockInputs};
use crate::wire::DtlsRecordLog;
use crate::Error;
use ktls_record::nonce::{dtls12_explicit_nonce, salted_nonce, NonceScheme};
use ktls_record::protection::{GCM_EXPLICIT_NONCE_LEN, GCM_SALT_LEN, NONCE_LEN};
use ktls_record::seq::{DtlsRecordNumber, DTLS_MAX_SEQUENCE};
use zeroize::Zeroizing;

/// Which end of the association this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// The only epoch handed to the kernel: the one the handshake's ChangeCipherSpec started.
pub const HANDOFF_EPOCH: u16 = 1;

/// Builds both directions from the key block and the wire logs of this endpoint's sent and
/// received datagrams.
pub fn key_material(
    role: Role,
    key_block: &Tls12KeyBlock,
    sent: &DtlsRecordLog,
    received: &DtlsRecordLog,
) -> Result<KeyMaterial, Error> {
    for log in [sent, received] {
        match log.highest_epoch() {
            Some(HANDOFF_EPOCH) => {}
            Some(_) => {
                return Err(Error::Unsupported(
                    "DTLS epoch other than 1 (renegotiation?)",
                ))
            }
            None => return Err(Error::InvalidKeyMaterial("no DTLS records seen")),
        }
    }
    let sent_epoch = sent
        .epoch(HANDOFF_EPOCH)
        .ok_or(Error::InvalidKeyMaterial("no epoch-1 record sent"))?;
    let tx_first = DtlsRecordNumber::new(HANDOFF_EPOCH, sent.next_sequence(HANDOFF_EPOCH))?;
    let rx_first = DtlsRecordNumber::new(HANDOFF_EPOCH, received.next_sequence(HANDOFF_EPOCH))?;

    let (tx_key, tx_fixed_iv, rx_key, rx_fixed_iv) = match role {
        Role::Client => (
            key_block.client_write_key(),
            key_block.client_write_iv(),
            key_block.server_write_key(),
            key_block.server_write_iv(),
        ),
        Role::Server => (
            key_block.server_write_key(),
            key_block.server_write_iv(),
            key_block.client_write_key(),
            key_block.client_write_iv(),
        ),
    };
    let cipher = key_block.cipher();
    let bad_iv = || Error::InvalidKeyMaterial("key block IV has the wrong length");
    let (tx_iv, rx_iv): ([u8; NONCE_LEN], [u8; NONCE_LEN]) =
        match RecordProtection::new(Version::Dtls12, cipher).nonce_scheme() {
            NonceScheme::SaltAndExplicit => {
                // Every record number the kernel can send in this epoch, from the first on.
                let kernel_records = DTLS_MAX_SEQUENCE - tx_first.sequence() + 1;
                if !NonceRule::RecordNumber.avoids(
                    &sent_epoch.explicit_nonces,
                    tx_first.as_u64(),
                    tx_first.as_u64(),
                    kernel_records,
                ) {
                    return Err(Error::InvalidKeyMaterial(
                        "an explicit nonce the library sent is one of the kernel's record numbers",
                    ));
                }
                let tx_salt: &[u8; GCM_SALT_LEN] = tx_fixed_iv.try_into().map_err(|_| bad_iv())?;
                let rx_salt: &[u8; GCM_SALT_LEN] = rx_fixed_iv.try_into().map_err(|_| bad_iv())?;
                (
                    // The first explicit nonce the kernel sends; AF_KTLS derives every DTLS one
                    // from the record number.
                    salted_nonce(tx_salt, &dtls12_explicit_nonce(tx_first)),
                    // The kernel ignores the RX explicit nonce (it arrives in every record).
                    salted_nonce(rx_salt, &[0; GCM_EXPLICIT_NONCE_LEN]),
                )
            }
            NonceScheme::IvXorSequence => (
                tx_fixed_iv.try_into().map_err(|_| bad_iv())?,
                rx_fixed_iv.try_into().map_err(|_| bad_iv())?,
            ),
        };

    KeyMaterial::new(
        DirectionKeys::new(Version::Dtls12, cipher, tx_key, tx_iv, tx_first.as_u64())?,
        DirectionKeys::new(Version::Dtls12, cipher, rx_key, rx_iv, rx_first.as_u64())?,
    )
}

/// The key-expansion inputs of a finished OpenSSL (D)TLS 1.2 session, owned and wiped on drop.
pub struct SessionSecrets {
    pub master_secret: Zeroizing<[u8; 48]>,
    pub client_random: [u8; 32],
    pub server_random: [u8; 32],
    pub cipher: Cipher,
    pub prf_hash: PrfHash,
}

impl SessionSecrets {
    pub fn key_block(&self) -> Result<Tls12KeyBlock, Error> {
        Tls12KeyBlock::derive(&Tls12KeyBlockInputs {
            master_secret: &self.master_secret[..],
            client_random: &self.client_random,
            server_random: &self.server_random,
            cipher: self.cipher,
            prf_hash: self.prf_hash,
        })
    }

    /// Reads master secret, randoms and suite from an OpenSSL connection whose handshake is done.
    #[cfg(feature = "openssl")]
    pub fn from_openssl(ssl: &openssl::ssl::SslRef) -> Result<Self, Error> {
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;

        let suite = ssl
            .current_cipher()
            .ok_or(Error::InvalidKeyMaterial("no cipher negotiated"))?;
        let cipher = match suite.cipher_nid() {
            Some(Nid::AES_128_GCM) => Cipher::Aes128Gcm,
            Some(Nid::AES_256_GCM) => Cipher::Aes256Gcm,
            Some(Nid::CHACHA20_POLY1305) => Cipher::Chacha20Poly1305,
            _ => {
                return Err(Error::Unsupported(
                    "DTLS cipher suite other than AES-GCM or ChaCha20-Poly1305",
                ))
            }
        };
        let digest = suite
            .handshake_digest()
            .ok_or(Error::InvalidKeyMaterial("suite has no PRF hash"))?;
        let prf_hash = if digest.type_() == MessageDigest::sha256().type_() {
            PrfHash::Sha256
        } else if digest.type_() == MessageDigest::sha384().type_() {
            PrfHash::Sha384
        } else {
            return Err(Error::Unsupported("PRF hash other than SHA-256/SHA-384"));
        };
        let session = ssl
            .session()
            .ok_or(Error::InvalidKeyMaterial("no session"))?;
        let mut master_secret = Zeroizing::new([0u8; 48]);
        if session.master_key(&mut master_secret[..]) != 48 {
            return Err(Error::InvalidKeyMaterial("master secret is not 48 bytes"));
        }
        let mut client_random = [0u8; 32];
        let mut server_random = [0u8; 32];
        if ssl.client_random(&mut client_random) != 32
            || ssl.server_random(&mut server_random) != 32
        {
            return Err(Error::InvalidKeyMaterial("hello random is not 32 bytes"));
        }
        Ok(SessionSecrets {
            master_secret,
            client_random,
            server_random,
            cipher,
            prf_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content_type: u8, epoch: u16, seq: u64, explicit: u64) -> Vec<u8> {
        let mut r = vec![content_type, 0xfe, 0xfd];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&seq.to_be_bytes()[2..]);
        let body_len: u16 = if epoch == 0 { 1 } else { 8 + 16 + 12 };
        r.extend_from_slice(&body_len.to_be_bytes());
        if epoch == 0 {
            r.push(1);
        } else {
            r.extend_from_slice(&explicit.to_be_bytes());
            r.extend_from_slice(&[0u8; 28]);
        }
        r
    }

    fn secrets() -> SessionSecrets {
        SessionSecrets {
            master_secret: Zeroizing::new([9; 48]),
            client_random: [1; 32],
            server_random: [2; 32],
            cipher: Cipher::Aes128Gcm,
            prf_hash: PrfHash::Sha256,
        }
    }

    #[test]
    fn sequence_numbers_and_nonce_from_the_wire() {
        let kb = secrets().key_block().expect("derives");
        let mut sent = DtlsRecordLog::default();
        sent.observe_datagram(&record(20, 0, 5, 0));
        sent.observe_datagram(&record(22, 1, 0, 0xffff_ffff_ffff_fff0)); // Finished
        sent.observe_datagram(&record(22, 1, 1, 0xffff_ffff_ffff_fff1)); // retransmitted
        let mut received = DtlsRecordLog::default();
        received.observe_datagram(&record(22, 1, 0, 0x42));

        let km = key_material(Role::Client, &kb, &sent, &received).expect("builds");
        assert_eq!(km.version(), Version::Dtls12);
        assert_eq!(km.tx.rec_seq(), 0x0001_0000_0000_0002);
        assert_eq!(km.rx.rec_seq(), 0x0001_0000_0000_0001);
        assert_eq!(km.tx.first_explicit_nonce(), Some(0x0001_0000_0000_0002));
        assert_eq!(km.tx.key(), kb.client_write_key());
        assert_eq!(km.tx.salt(), kb.client_write_iv());
        assert_eq!(km.rx.key(), kb.server_write_key());

        let server = key_material(Role::Server, &kb, &sent, &received).expect("builds");
        assert_eq!(server.tx.key(), kb.server_write_key());
        assert_eq!(server.rx.salt(), kb.client_write_iv());
    }

    #[test]
    fn chacha20_takes_the_whole_write_iv_and_has_no_explicit_nonce() {
        let kb = SessionSecrets {
            cipher: Cipher::Chacha20Poly1305,
            ..secrets()
        }
        .key_block()
        .expect("derives");
        let mut sent = DtlsRecordLog::default();
        // The first 8 bytes of a ChaCha20 record are ciphertext, not a nonce: even "nonces" in
        // the kernel's range are no reason to refuse.
        sent.observe_datagram(&record(22, 1, 0, 0x0001_0000_0000_0001));
        let mut received = DtlsRecordLog::default();
        received.observe_datagram(&record(22, 1, 0, 0));
        received.observe_datagram(&record(23, 1, 1, 0));

        let km = key_material(Role::Server, &kb, &sent, &received).expect("builds");
        assert_eq!(km.cipher(), Cipher::Chacha20Poly1305);
        assert_eq!(km.tx.rec_seq(), 0x0001_0000_0000_0001);
        assert_eq!(km.rx.rec_seq(), 0x0001_0000_0000_0002);
        assert_eq!(km.tx.first_explicit_nonce(), None);
        assert_eq!(&km.tx.iv()[..], kb.server_write_iv());
        assert_eq!(&km.rx.iv()[..], kb.client_write_iv());
        assert_eq!(km.tx.key(), kb.server_write_key());
        assert_eq!(km.rx.key(), kb.client_write_key());
    }

    #[test]
    fn refuses_a_library_nonce_in_the_kernels_range() {
        let kb = secrets().key_block().expect("derives");
        let mut received = DtlsRecordLog::default();
        received.observe_datagram(&record(22, 1, 0, 0x42));
        let mut sent = DtlsRecordLog::default();
        // OpenSSL's random start happened to be just below the kernel's record numbers.
        sent.observe_datagram(&record(22, 1, 0, 0x0001_0000_0000_0005));
        assert!(key_material(Role::Client, &kb, &sent, &received).is_err());
        // GnuTLS's scheme (explicit = epoch ‖ seq) is never in the way.
        let mut gnutls = DtlsRecordLog::default();
        gnutls.observe_datagram(&record(22, 1, 0, 0x0001_0000_0000_0000));
        assert!(key_material(Role::Client, &kb, &gnutls, &received).is_ok());
    }

    #[test]
    fn refuses_missing_or_later_epochs() {
        let kb = secrets().key_block().expect("derives");
        let empty = DtlsRecordLog::default();
        let mut epoch1 = DtlsRecordLog::default();
        epoch1.observe_datagram(&record(22, 1, 0, 7));
        let mut epoch2 = DtlsRecordLog::default();
        epoch2.observe_datagram(&record(22, 2, 0, 7));
        assert!(key_material(Role::Client, &kb, &empty, &epoch1).is_err());
        assert!(key_material(Role::Client, &kb, &epoch1, &empty).is_err());
        assert!(key_material(Role::Client, &kb, &epoch2, &epoch1).is_err());
    }
}
