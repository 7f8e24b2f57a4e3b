//! rustls `ExtractedSecrets` → [`KeyMaterial`].
//!
//! rustls hands over, per direction, the next record sequence number and a 12-byte `iv`:
//! * TLS 1.3 (any AEAD) and TLS 1.2 ChaCha20: the static IV; nonce = iv XOR seq.
//! * TLS 1.2 AES-GCM: `iv[0..4]` is the salt (client/server_write_IV) and `iv[4..12]` an extra
//!   8 key-block bytes `E` from which rustls made its explicit nonces (`E XOR seq`). The kernel
//!   gets the salt and, as its first explicit nonce, a value chosen for the target's nonce rule
//!   so that no nonce rustls used comes again ([`crate::nonce::rustls_tls12_iv`]).
//!
//! The cipher is taken from the key length, not only the variant, because older rustls versions
//! reported TLS 1.2 AES-256-GCM as `Aes128Gcm` (rustls#1833).
//!
//! Two ways, each in two calls:
//!
//! * A connection that keeps its keys for its whole life: [`handshake`] (a buffered
//!   [`rustls::Connection`], record by record, so rustls never reads past the handshake) and
//!   [`into_af_ktls`]. `tools/af-ktls/examples/rustls_echo.rs` shows it.
//! * A connection that can change keys (TLS 1.3 KeyUpdate, both ways): rustls computes the next
//!   traffic secrets only for its unbuffered connections, through
//!   `dangerous_into_kernel_connection`. [`handshake_unbuffered`] (record by record as well)
//!   and [`into_af_ktls_stream`], which gives an [`AfKtlsStream`]; or [`kernel_keys`] for the
//!   keys and a [`KeySchedule`] (the [`NextKeys`] for [`crate::key_update::KeyUpdates`]) to
//!   use with another socket (mainline kernel TLS). `tools/af-ktls/examples/key_update.rs`
//!   shows it.

use crate::key_update::NextKeys;
use crate::keys::{Cipher, DirectionKeys, KeyMaterial, RecordProtection, Version};
use crate::nonce::{self, Target};
use crate::socket::AfKtlsSocket;
use crate::stream::AfKtlsStream;
use crate::Error;
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::kernel::KernelConnection;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, InsufficientSizeError, UnbufferedStatus};
use rustls::{Connection, ConnectionTrafficSecrets, ExtractedSecrets, ProtocolVersion};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;

use crate::wire::{read_tls_record, MAX_TLS_RECORD_LEN};

/// Runs `conn`'s handshake over `tcp` to completion and sends its last flight. rustls is given
/// one whole record at a time, so it never holds bytes that follow the handshake (a session
/// ticket, the first data): after the handoff those belong to the kernel.
pub fn handshake(conn: &mut Connection, tcp: &mut TcpStream) -> io::Result<()> {
    let mut record = Box::new([0u8; MAX_TLS_RECORD_LEN]);
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(tcp)?;
        }
        if !conn.is_handshaking() {
            break;
        }
        let Some(mut rest) = read_tls_record(tcp, &mut record)? else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the peer closed the connection during the handshake",
            ));
        };
        while !rest.is_empty() {
            conn.read_tls(&mut rest)?;
        }
        if let Err(e) = conn.process_new_packets() {
            // Send the alert rustls queued, then fail.
            while conn.wants_write() && conn.write_tls(tcp).is_ok() {}
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
    }
    while conn.wants_write() {
        conn.write_tls(tcp)?;
    }
    Ok(())
}

/// Hands a connection whose handshake finished (through [`handshake`], so that rustls holds no
/// part of a later record) to a new AF_KTLS socket bound to `tcp`, with both directions' keys
/// and sequence numbers. Fails with `ResourceBusy` if rustls still holds plaintext the
/// application has not read or records it has not sent; the `ServerConfig`/`ClientConfig` must
/// have `enable_secret_extraction = true`.
pub fn into_af_ktls(mut conn: Connection, tcp: &TcpStream) -> io::Result<AfKtlsSocket> {
    let state = conn
        .process_new_packets()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if state.plaintext_bytes_to_read() > 0 || conn.wants_write() {
        return Err(io::Error::new(
            io::ErrorKind::ResourceBusy,
            "rustls still holds unread plaintext or unsent records: read or send them first",
        ));
    }
    let version = conn.protocol_version().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the handshake is not finished")
    })?;
    let secrets = conn
        .dangerous_extract_secrets()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let keys = key_material(version, &secrets, Target::AfKtls)?;
    AfKtlsSocket::setup(tcp.as_fd(), &keys)
}

/// A client or server connection of rustls's unbuffered API, the one that can become a
/// [`KernelConnection`] (and so compute the next traffic secrets after the handoff).
pub enum UnbufferedConnection {
    Client(UnbufferedClientConnection),
    Server(UnbufferedServerConnection),
}

impl From<UnbufferedClientConnection> for UnbufferedConnection {
    fn from(conn: UnbufferedClientConnection) -> Self {
        UnbufferedConnection::Client(conn)
    }
}

impl From<UnbufferedServerConnection> for UnbufferedConnection {
    fn from(conn: UnbufferedServerConnection) -> Self {
        UnbufferedConnection::Server(conn)
    }
}

impl UnbufferedConnection {
    /// The negotiated version and cipher suite, once the handshake is done.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        match self {
            UnbufferedConnection::Client(c) => c.protocol_version(),
            UnbufferedConnection::Server(s) => s.protocol_version(),
        }
    }

    pub fn negotiated_cipher_suite(&self) -> Option<rustls::SupportedCipherSuite> {
        match self {
            UnbufferedConnection::Client(c) => c.negotiated_cipher_suite(),
            UnbufferedConnection::Server(s) => s.negotiated_cipher_suite(),
        }
    }
}

/// What the handshake loop does after one state.
enum Next {
    /// The handshake is over: application data may be written.
    Done,
    /// rustls waits for the peer's next record.
    NeedRecord,
    Continue,
}

fn encode_error(err: EncodeError) -> io::Error {
    io::Error::other(format!("rustls could not encode a handshake record: {err}"))
}

/// Handles one state of the unbuffered handshake: handshake records are collected in
/// `outgoing` and written to `io` when rustls says so.
fn handshake_step<Data>(
    state: ConnectionState<'_, '_, Data>,
    outgoing: &mut Vec<u8>,
    io: &mut impl Write,
) -> io::Result<Next> {
    match state {
        ConnectionState::EncodeTlsData(mut encoder) => {
            let mut chunk = vec![0u8; 4096];
            let len = match encoder.encode(&mut chunk) {
                Ok(len) => len,
                Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
                    chunk.resize(required_size, 0);
                    encoder.encode(&mut chunk).map_err(encode_error)?
                }
                Err(err) => return Err(encode_error(err)),
            };
            outgoing.extend_from_slice(chunk.get(..len).unwrap_or_default());
            Ok(Next::Continue)
        }
        ConnectionState::TransmitTlsData(transmit) => {
            io.write_all(outgoing)?;
            io.flush()?;
            outgoing.clear();
            transmit.done();
            Ok(Next::Continue)
        }
        ConnectionState::BlockedHandshake => Ok(Next::NeedRecord),
        ConnectionState::WriteTraffic(_) => Ok(Next::Done),
        ConnectionState::ReadTraffic(_) | ConnectionState::ReadEarlyData(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "application data arrived before the handshake was over",
        )),
        ConnectionState::PeerClosed | ConnectionState::Closed => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the peer closed the connection during the handshake",
        )),
        other => Err(io::Error::other(format!(
            "rustls handshake state {other:?} is not handled"
        ))),
    }
}

/// Runs the handshake of an unbuffered connection over `io` (a connected TCP stream, or
/// anything that reads and writes it) to completion. rustls is given one whole record at a
/// time, so it never holds bytes that follow the handshake (a session ticket, the first data):
/// after the handoff those belong to the kernel.
pub fn handshake_unbuffered(
    conn: &mut UnbufferedConnection,
    io: &mut (impl Read + Write),
) -> io::Result<()> {
    let mut record = Box::new([0u8; MAX_TLS_RECORD_LEN]);
    let mut incoming: Vec<u8> = Vec::new();
    let mut outgoing: Vec<u8> = Vec::new();
    loop {
        let status = match conn {
            UnbufferedConnection::Client(c) => {
                let UnbufferedStatus { discard, state } = c.process_tls_records(&mut incoming);
                state
                    .map(|state| handshake_step(state, &mut outgoing, io))
                    .map(|next| (discard, next))
            }
            UnbufferedConnection::Server(s) => {
                let UnbufferedStatus { discard, state } = s.process_tls_records(&mut incoming);
                state
                    .map(|state| handshake_step(state, &mut outgoing, io))
                    .map(|next| (discard, next))
            }
        };
        let (discard, next) = match status {
            Ok(step) => step,
            Err(err) => {
                // rustls queued an alert for the peer: send it (best effort), then fail.
                let _ = send_alert(conn, &mut outgoing, io);
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
        };
        incoming.drain(..discard.min(incoming.len()));
        match next? {
            Next::Done => return Ok(()),
            Next::Continue => {}
            Next::NeedRecord => {
                let Some(bytes) = read_tls_record(io, &mut record)? else {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the connection during the handshake",
                    ));
                };
                incoming.extend_from_slice(bytes);
            }
        }
    }
}

/// After a failed step: encodes and sends what rustls queued (its alert).
fn send_alert(
    conn: &mut UnbufferedConnection,
    outgoing: &mut Vec<u8>,
    io: &mut impl Write,
) -> io::Result<()> {
    outgoing.clear();
    // A handful of states at most: the alert's encoding and its transmission.
    for _ in 0..4 {
        let next = match conn {
            UnbufferedConnection::Client(c) => match c.process_tls_records(&mut []).state {
                Ok(state @ ConnectionState::EncodeTlsData(_))
                | Ok(state @ ConnectionState::TransmitTlsData(_)) => {
                    handshake_step(state, outgoing, io)?
                }
                _ => return Ok(()),
            },
            UnbufferedConnection::Server(s) => match s.process_tls_records(&mut []).state {
                Ok(state @ ConnectionState::EncodeTlsData(_))
                | Ok(state @ ConnectionState::TransmitTlsData(_)) => {
                    handshake_step(state, outgoing, io)?
                }
                _ => return Ok(()),
            },
        };
        if !matches!(next, Next::Continue) {
            return Ok(());
        }
    }
    Ok(())
}

/// rustls's [`KernelConnection`] after the handoff, as the [`NextKeys`] of a connection: it
/// computes each direction's next traffic secret (RFC 8446 §7.2: HKDF-Expand-Label(secret_N,
/// "traffic upd", "", Hash.length)) and from it the key and IV; a client's also takes the
/// server's NewSessionTickets into its session store, for resumption.
pub struct KeySchedule {
    kernel: Kernel,
    version: Version,
}

enum Kernel {
    Client(KernelConnection<ClientConnectionData>),
    Server(KernelConnection<ServerConnectionData>),
}

impl KeySchedule {
    fn next(&mut self, tx: bool) -> Result<DirectionKeys, Error> {
        let next = match (&mut self.kernel, tx) {
            (Kernel::Client(k), true) => k.update_tx_secret(),
            (Kernel::Client(k), false) => k.update_rx_secret(),
            (Kernel::Server(k), true) => k.update_tx_secret(),
            (Kernel::Server(k), false) => k.update_rx_secret(),
        };
        let (seq, secrets) = next.map_err(|e| Error::Library(e.to_string()))?;
        // TLS 1.3 has no explicit nonce, so the target does not matter here.
        direction_keys(self.version, &secrets, seq, Some(Target::AfKtls))
    }
}

impl NextKeys for KeySchedule {
    fn next_tx_keys(&mut self) -> Result<DirectionKeys, Error> {
        self.next(true)
    }

    fn next_rx_keys(&mut self) -> Result<DirectionKeys, Error> {
        self.next(false)
    }

    fn wants_session_tickets(&self) -> bool {
        matches!(self.kernel, Kernel::Client(_)) && self.version == Version::Tls13
    }

    fn new_session_ticket(&mut self, body: &[u8]) -> Result<(), Error> {
        match &mut self.kernel {
            Kernel::Client(k) => k
                .handle_new_session_ticket(body)
                .map_err(|e| Error::Library(e.to_string())),
            // A client never sends tickets; the reader reports the message as unexpected first.
            Kernel::Server(_) => Err(Error::Unsupported("a NewSessionTicket from a client")),
        }
    }
}

/// Takes the keys out of an unbuffered connection whose handshake finished (through
/// [`handshake_unbuffered`], so that rustls holds no part of a later record): both directions'
/// keys and sequence numbers for the kernel, and the [`KeySchedule`] for their successors.
/// `target` is where the keys go (see [`key_material`]). The config must have
/// `enable_secret_extraction = true`.
pub fn kernel_keys(
    conn: UnbufferedConnection,
    target: Target,
) -> Result<(KeyMaterial, KeySchedule), Error> {
    let extracted = match conn {
        UnbufferedConnection::Client(c) => c
            .dangerous_into_kernel_connection()
            .map(|(secrets, k)| (secrets, Kernel::Client(k))),
        UnbufferedConnection::Server(s) => s
            .dangerous_into_kernel_connection()
            .map(|(secrets, k)| (secrets, Kernel::Server(k))),
    };
    let (secrets, kernel) = extracted.map_err(|e| Error::Library(e.to_string()))?;
    let version = match &kernel {
        Kernel::Client(k) => k.protocol_version(),
        Kernel::Server(k) => k.protocol_version(),
    };
    let keys = key_material(version, &secrets, target)?;
    let schedule = KeySchedule {
        kernel,
        version: keys.version(),
    };
    Ok((keys, schedule))
}

/// [`kernel_keys`] handed to a new AF_KTLS socket bound to `tcp`, as an [`AfKtlsStream`] that
/// changes keys when asked ([`AfKtlsStream::key_update`]) and when the peer does.
pub fn into_af_ktls_stream(
    conn: UnbufferedConnection,
    tcp: &TcpStream,
) -> io::Result<AfKtlsStream> {
    let (keys, schedule) = kernel_keys(conn, Target::AfKtls)?;
    let sock = AfKtlsSocket::setup(tcp.as_fd(), &keys)?;
    Ok(AfKtlsStream::new(sock, schedule))
}

/// Converts what `dangerous_extract_secrets()` returned. `version` is the connection's
/// `protocol_version()`, read before extracting (extraction consumes the connection); `target`
/// is where the keys go (AF_KTLS and mainline advance TLS 1.2 explicit nonces differently).
pub fn key_material(
    version: ProtocolVersion,
    secrets: &ExtractedSecrets,
    target: Target,
) -> Result<KeyMaterial, Error> {
    let version = match version {
        ProtocolVersion::TLSv1_2 => Version::Tls12,
        ProtocolVersion::TLSv1_3 => Version::Tls13,
        _ => return Err(Error::Unsupported("TLS version other than 1.2 or 1.3")),
    };
    let (tx_seq, tx_secrets) = &secrets.tx;
    let (rx_seq, rx_secrets) = &secrets.rx;
    let tx = direction_keys(version, tx_secrets, *tx_seq, Some(target))?;
    let rx = direction_keys(version, rx_secrets, *rx_seq, None)?;
    KeyMaterial::new(tx, rx)
}

fn direction_keys(
    version: Version,
    secrets: &ConnectionTrafficSecrets,
    next_seq: u64,
    sending_to: Option<Target>,
) -> Result<DirectionKeys, Error> {
    let (key, iv, bulk) = match secrets {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv } => {
            (key.as_ref(), iv.as_ref(), Bulk::AesGcm)
        }
        ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
            (key.as_ref(), iv.as_ref(), Bulk::AesGcm)
        }
        ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
            (key.as_ref(), iv.as_ref(), Bulk::Chacha20)
        }
        _ => {
            return Err(Error::Unsupported(
                "rustls cipher other than AES-GCM or ChaCha20-Poly1305",
            ))
        }
    };
    raw_direction_keys(version, bulk, key, iv, next_seq, sending_to)
}

/// The cipher family as rustls names it; the key length decides AES-128 vs AES-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bulk {
    AesGcm,
    Chacha20,
}

fn raw_direction_keys(
    version: Version,
    bulk: Bulk,
    key: &[u8],
    iv: &[u8],
    next_seq: u64,
    sending_to: Option<Target>,
) -> Result<DirectionKeys, Error> {
    let cipher = match (bulk, key.len()) {
        (Bulk::Chacha20, 32) => Cipher::Chacha20Poly1305,
        (Bulk::AesGcm, 16) => Cipher::Aes128Gcm,
        (Bulk::AesGcm, 32) => Cipher::Aes256Gcm,
        _ => {
            return Err(Error::InvalidKeyMaterial(
                "rustls key length does not match its cipher",
            ))
        }
    };
    let mut nonce_bytes: [u8; 12] = iv
        .try_into()
        .map_err(|_| Error::InvalidKeyMaterial("rustls IV is not 12 bytes"))?;
    // RX keeps rustls's bytes: the kernel reads each record's explicit nonce from the record.
    let explicit_nonce = RecordProtection::new(version, cipher).explicit_nonce_len() != 0;
    if let (true, Some(target)) = (explicit_nonce, sending_to) {
        let mut base = [0u8; 8];
        base.copy_from_slice(&nonce_bytes[4..]);
        let first = nonce::rustls_tls12_iv(target, u64::from_be_bytes(base), next_seq);
        nonce_bytes[4..].copy_from_slice(&first.to_be_bytes());
    }
    DirectionKeys::new(version, cipher, key, nonce_bytes, next_seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::cipher::{AeadKey, Iv};

    const IV: [u8; 12] = [0x11, 0x11, 0x11, 0x11, 0, 0, 0, 0, 0, 0, 0, 0x21];

    fn secrets(variant: fn(AeadKey, Iv) -> ConnectionTrafficSecrets) -> ExtractedSecrets {
        // rustls only lets callers build 32-byte AeadKeys; 16-byte keys are covered below with
        // raw_direction_keys and by ktls-tool's handshake tests.
        ExtractedSecrets {
            tx: (1, variant(AeadKey::from([0x11; 32]), Iv::new(IV))),
            rx: (3, variant(AeadKey::from([0x22; 32]), Iv::new(IV))),
        }
    }

    fn aes128(key: AeadKey, iv: Iv) -> ConnectionTrafficSecrets {
        ConnectionTrafficSecrets::Aes128Gcm { key, iv }
    }
    fn aes256(key: AeadKey, iv: Iv) -> ConnectionTrafficSecrets {
        ConnectionTrafficSecrets::Aes256Gcm { key, iv }
    }
    fn chacha(key: AeadKey, iv: Iv) -> ConnectionTrafficSecrets {
        ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv }
    }

    #[test]
    fn tls12_aes128_explicit_nonce_per_target() {
        let tx = |target| {
            raw_direction_keys(
                Version::Tls12,
                Bulk::AesGcm,
                &[0x11; 16],
                &IV,
                1,
                Some(target),
            )
            .expect("converts")
        };
        let af_ktls = tx(Target::AfKtls);
        assert_eq!(af_ktls.cipher(), Cipher::Aes128Gcm);
        assert_eq!(af_ktls.rec_seq(), 1);
        assert_eq!(af_ktls.salt(), &[0x11; 4]);
        assert_eq!(af_ktls.key(), &[0x11; 16]);
        // rustls sent Finished with explicit E XOR 0 = 0x21. AF_KTLS continues with E XOR seq:
        // its first record (seq 1) carries 0x20.
        assert_eq!(af_ktls.first_explicit_nonce(), Some(0x20));
        // Mainline counts up from iv, so iv starts past 0x21.
        assert_eq!(tx(Target::Mainline).first_explicit_nonce(), Some(0x22));
        // RX keeps rustls's bytes: the kernel ignores the RX explicit nonce.
        let rx = raw_direction_keys(Version::Tls12, Bulk::AesGcm, &[0x22; 16], &IV, 3, None)
            .expect("converts");
        assert_eq!(rx.iv(), &IV);
        assert_eq!(rx.rec_seq(), 3);
    }

    #[test]
    fn aes256_variant_and_mislabelled_key_length() {
        let km = key_material(ProtocolVersion::TLSv1_2, &secrets(aes256), Target::AfKtls)
            .expect("converts");
        assert_eq!(km.version(), Version::Tls12);
        assert_eq!(km.cipher(), Cipher::Aes256Gcm);
        assert_eq!((km.tx.rec_seq(), km.rx.rec_seq()), (1, 3));
        assert_eq!(km.tx.key(), &[0x11; 32]);
        assert_eq!(km.rx.key(), &[0x22; 32]);
        // rustls#1833: a 32-byte key reported as Aes128Gcm is AES-256-GCM.
        let km = key_material(ProtocolVersion::TLSv1_2, &secrets(aes128), Target::AfKtls)
            .expect("converts");
        assert_eq!(km.cipher(), Cipher::Aes256Gcm);
    }

    #[test]
    fn tls13_and_chacha_keep_static_iv_and_sequence() {
        let km = key_material(ProtocolVersion::TLSv1_3, &secrets(aes256), Target::AfKtls)
            .expect("converts");
        assert_eq!(km.version(), Version::Tls13);
        assert_eq!(km.tx.iv(), &IV);
        assert_eq!(km.tx.first_explicit_nonce(), None);
        let km = key_material(ProtocolVersion::TLSv1_2, &secrets(chacha), Target::Mainline)
            .expect("converts");
        assert_eq!(km.cipher(), Cipher::Chacha20Poly1305);
        assert_eq!(km.tx.iv(), &IV);
    }

    #[test]
    fn rejects_other_versions_and_sizes() {
        assert!(key_material(ProtocolVersion::TLSv1_1, &secrets(aes256), Target::AfKtls).is_err());
        assert!(key_material(ProtocolVersion::DTLSv1_2, &secrets(aes256), Target::AfKtls).is_err());
        assert!(raw_direction_keys(
            Version::Tls13,
            Bulk::Chacha20,
            &[0; 16],
            &IV,
            0,
            Some(Target::AfKtls)
        )
        .is_err());
        assert!(raw_direction_keys(
            Version::Tls13,
            Bulk::AesGcm,
            &[0; 24],
            &IV,
            0,
            Some(Target::AfKtls)
        )
        .is_err());
        assert!(raw_direction_keys(
            Version::Tls13,
            Bulk::AesGcm,
            &[0; 16],
            &IV[..8],
            0,
            Some(Target::AfKtls)
        )
        .is_err());
    }
}
