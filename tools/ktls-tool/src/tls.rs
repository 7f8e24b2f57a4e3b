//! TLS 1.2/1.3 over TCP with rustls: configuration, a handshake that never lets rustls read past
//! a record boundary, and the handoff of keys.
//!
//! The `userspace` backend keeps a buffered `rustls::Connection` for the data. The kernel
//! backends do the handshake with rustls's unbuffered connection instead: only that one becomes a
//! `KernelConnection`, which derives the next traffic keys for TLS 1.3 KeyUpdates after the
//! handoff (`af_ktls::from_rustls::KeySchedule`).

use crate::cli::{CipherArg, TlsVersionArg};
use crate::error::{Context, Error, Result};
use af_ktls::from_rustls::{KeySchedule, UnbufferedConnection};
use af_ktls::nonce::Target;
use af_ktls::wire::{read_tls_record, TlsStreamLog, MAX_TLS_RECORD_LEN};
use af_ktls::KeyMaterial;
use rustls::crypto::{ring as ring_provider, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CipherSuite, ClientConfig, Connection, ProtocolVersion, RootCertStore, ServerConfig};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

fn suites_for(version: TlsVersionArg, cipher: CipherArg) -> &'static [CipherSuite] {
    use CipherSuite::*;
    match (version, cipher) {
        (TlsVersionArg::V13, CipherArg::Aes128gcm) => &[TLS13_AES_128_GCM_SHA256],
        (TlsVersionArg::V13, CipherArg::Aes256gcm) => &[TLS13_AES_256_GCM_SHA384],
        (TlsVersionArg::V13, CipherArg::Chacha20) => &[TLS13_CHACHA20_POLY1305_SHA256],
        (TlsVersionArg::V12, CipherArg::Aes128gcm) => &[
            TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ],
        (TlsVersionArg::V12, CipherArg::Aes256gcm) => &[
            TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ],
        (TlsVersionArg::V12, CipherArg::Chacha20) => &[
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
    }
}

/// The ring provider restricted to the requested suite, so both ends agree on exactly it.
fn provider(version: TlsVersionArg, cipher: CipherArg) -> Arc<CryptoProvider> {
    let wanted = suites_for(version, cipher);
    let mut provider = ring_provider::default_provider();
    provider
        .cipher_suites
        .retain(|suite| wanted.contains(&suite.suite()));
    Arc::new(provider)
}

static TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn protocol_versions(
    version: TlsVersionArg,
) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match version {
        TlsVersionArg::V12 => TLS12_ONLY,
        TlsVersionArg::V13 => TLS13_ONLY,
    }
}

pub fn server_config(
    version: TlsVersionArg,
    cipher: CipherArg,
    cert: &Path,
    key: &Path,
) -> Result<Arc<ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading certificates from {}", cert.display()))?
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("parsing certificates in {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading key {}", key.display()))?;
    let mut config = ServerConfig::builder_with_provider(provider(version, cipher))
        .with_protocol_versions(protocol_versions(version))
        .context("TLS version and cipher do not match")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("server certificate and key")?;
    config.enable_secret_extraction = true;
    // A TLS 1.3 ticket would reach the peer's kernel receive path as a handshake record right
    // after the handoff; ktls-tool clients need none (see `transfer` for how tickets from other
    // servers are handled).
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

pub fn client_config(
    version: TlsVersionArg,
    cipher: CipherArg,
    ca: &Path,
) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(ca).with_context(|| format!("reading CA {}", ca.display()))?
    {
        roots
            .add(cert.with_context(|| format!("parsing CA {}", ca.display()))?)
            .context("adding CA certificate")?;
    }
    let mut config = ClientConfig::builder_with_provider(provider(version, cipher))
        .with_protocol_versions(protocol_versions(version))
        .context("TLS version and cipher do not match")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.enable_secret_extraction = true;
    // No resumption: every run is a full handshake with fresh keys.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

pub fn new_client(config: Arc<ClientConfig>, server_name: &str) -> Result<Connection> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|_| Error::msg(format!("invalid server name {server_name:?}")))?;
    Ok(Connection::Client(
        rustls::ClientConnection::new(config, name).context("starting TLS client")?,
    ))
}

pub fn new_server(config: Arc<ServerConfig>) -> Result<Connection> {
    Ok(Connection::Server(
        rustls::ServerConnection::new(config).context("starting TLS server")?,
    ))
}

/// An unbuffered client (for the kernel backends: see the module).
pub fn new_unbuffered_client(
    config: Arc<ClientConfig>,
    server_name: &str,
) -> Result<UnbufferedConnection> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|_| Error::msg(format!("invalid server name {server_name:?}")))?;
    Ok(UnbufferedConnection::Client(
        rustls::client::UnbufferedClientConnection::new(config, name)
            .context("starting TLS client")?,
    ))
}

pub fn new_unbuffered_server(config: Arc<ServerConfig>) -> Result<UnbufferedConnection> {
    Ok(UnbufferedConnection::Server(
        rustls::server::UnbufferedServerConnection::new(config).context("starting TLS server")?,
    ))
}

/// A TCP stream plus logs of every byte rustls wrote and was given, per direction.
pub struct LoggedTcp {
    pub tcp: TcpStream,
    pub sent: TlsStreamLog,
    pub received: TlsStreamLog,
}

impl LoggedTcp {
    pub fn new(tcp: TcpStream) -> Self {
        LoggedTcp {
            tcp,
            sent: TlsStreamLog::default(),
            received: TlsStreamLog::default(),
        }
    }

    /// Writes everything rustls has queued.
    pub fn flush_tls(&mut self, conn: &mut Connection) -> io::Result<()> {
        while conn.wants_write() {
            let mut writer = LoggingWriter {
                tcp: &mut self.tcp,
                log: &mut self.sent,
            };
            conn.write_tls(&mut writer)?;
        }
        Ok(())
    }

    /// Reads exactly one TLS record from the socket and gives it to rustls, so that rustls never
    /// holds part of a record the kernel should get (the "CorkStream" idea of the rustls
    /// project's ktls crate). Returns false on a clean EOF before a header.
    pub fn feed_one_record(&mut self, conn: &mut Connection) -> Result<bool> {
        let mut record = Box::new([0u8; MAX_TLS_RECORD_LEN]);
        let Some(mut rest) =
            read_tls_record(&mut self.tcp, &mut record).context("reading a TLS record")?
        else {
            return Ok(false);
        };
        self.received.observe(rest);
        while !rest.is_empty() {
            conn.read_tls(&mut rest)
                .context("giving a record to rustls")?;
        }
        Ok(true)
    }
}

/// Reading and writing the TCP stream through the logs (the unbuffered handshake's I/O).
impl Read for LoggedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.received.observe(&buf[..n]);
        Ok(n)
    }
}

impl Write for LoggedTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tcp.write(buf)?;
        self.sent.observe(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

struct LoggingWriter<'a> {
    tcp: &'a mut TcpStream,
    log: &'a mut TlsStreamLog,
}

impl Write for LoggingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tcp.write(buf)?;
        self.log.observe(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Runs the handshake to completion, record by record, and flushes rustls's last flight.
pub fn handshake(io: &mut LoggedTcp, conn: &mut Connection) -> Result<()> {
    while conn.is_handshaking() {
        io.flush_tls(conn).context("sending handshake")?;
        if !conn.is_handshaking() {
            break;
        }
        if !io.feed_one_record(conn)? {
            return Err(Error::msg(
                "peer closed the connection during the handshake",
            ));
        }
        if let Err(e) = conn.process_new_packets() {
            // Tell the peer why (rustls queued an alert), then fail.
            let _ = io.flush_tls(conn);
            return Err(Error::msg(format!("TLS handshake failed: {e}")));
        }
    }
    io.flush_tls(conn)
        .context("sending the last handshake flight")?;
    Ok(())
}

/// Reads plaintext rustls already decrypted (there is none after a record-exact handshake, but a
/// caller that exchanged data through rustls before the handoff may have some).
pub fn drain_plaintext(conn: &mut Connection, sink: &mut dyn FnMut(&[u8])) -> Result<()> {
    let mut buf = [0u8; 16384];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => return Err(Error::msg("peer sent close_notify before the handoff")),
            Ok(n) => sink(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(Error::io("reading buffered plaintext", e)),
        }
    }
}

/// The unbuffered handshake (kernel backends), record by record, over the logged stream.
pub fn handshake_unbuffered(io: &mut LoggedTcp, conn: &mut UnbufferedConnection) -> Result<()> {
    af_ktls::from_rustls::handshake_unbuffered(conn, io)
        .map_err(|e| Error::msg(format!("TLS handshake failed: {e}")))
}

/// What the handoff found: the keys, and the library's side of the sequence-number story.
pub struct TlsHandoff {
    pub keys: KeyMaterial,
    pub version: ProtocolVersion,
    pub suite: String,
    /// The next keys after KeyUpdates (from an unbuffered connection).
    pub schedule: Option<KeySchedule>,
}

/// What a handoff needs to know before it takes the secrets: the connection stopped at a record
/// boundary (guaranteed by `feed_one_record`), and the negotiated version and suite (named for
/// the report).
fn negotiated(
    io: &LoggedTcp,
    version: Option<ProtocolVersion>,
    suite: Option<rustls::SupportedCipherSuite>,
) -> Result<(ProtocolVersion, String)> {
    if !io.received.at_record_boundary() {
        return Err(Error::msg(
            "a partial TLS record was read before the handoff",
        ));
    }
    let version = version.ok_or_else(|| Error::msg("no TLS version negotiated"))?;
    let suite = suite.map_or_else(|| "unknown".to_string(), |s| format!("{:?}", s.suite()));
    Ok((version, suite))
}

/// Extracts the secrets once nothing is buffered: no unsent TLS, no undelivered plaintext
/// (`drain_plaintext` first), and no partial record (guaranteed by `feed_one_record`). `target`
/// is where the keys go: it decides the TLS 1.2 AES-GCM explicit nonce handed over.
pub fn extract(io: &LoggedTcp, conn: Connection, target: Target) -> Result<TlsHandoff> {
    if conn.wants_write() {
        return Err(Error::msg("rustls still has TLS records to send"));
    }
    let (version, suite) = negotiated(io, conn.protocol_version(), conn.negotiated_cipher_suite())?;
    let secrets = conn
        .dangerous_extract_secrets()
        .map_err(|e| Error::msg(format!("extracting secrets: {e}")))?;
    let keys = af_ktls::from_rustls::key_material(version, &secrets, target)
        .context("converting rustls secrets")?;
    Ok(TlsHandoff {
        keys,
        version,
        suite,
        schedule: None,
    })
}

/// [`extract`] for an unbuffered connection: the keys, and rustls's key schedule for the keys
/// after them.
pub fn extract_unbuffered(
    io: &LoggedTcp,
    conn: UnbufferedConnection,
    target: Target,
) -> Result<TlsHandoff> {
    let (version, suite) = negotiated(io, conn.protocol_version(), conn.negotiated_cipher_suite())?;
    let (keys, schedule) =
        af_ktls::from_rustls::kernel_keys(conn, target).context("taking the keys from rustls")?;
    Ok(TlsHandoff {
        keys,
        version,
        suite,
        schedule: Some(schedule),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_and_cipher_has_a_suite() {
        for version in [TlsVersionArg::V12, TlsVersionArg::V13] {
            for cipher in [
                CipherArg::Aes128gcm,
                CipherArg::Aes256gcm,
                CipherArg::Chacha20,
            ] {
                let p = provider(version, cipher);
                assert!(!p.cipher_suites.is_empty(), "{version:?} {cipher:?}");
                let tls13 = p
                    .cipher_suites
                    .iter()
                    .all(|s| s.version() == &rustls::version::TLS13);
                assert_eq!(tls13, version == TlsVersionArg::V13);
            }
        }
    }
}
