// SPDX-License-Identifier: GPL-2.0
//! rustls to AF_KTLS end to end: a real handshake over loopback TCP, then one side moves its
//! data through AF_KTLS while the other stays in userspace rustls, which checks every record the
//! kernel makes. TLS 1.3 (the server sends rustls's default two session tickets, which the
//! AF_KTLS client's `Read` skips) and TLS 1.2, with the kernel on either side.
//!
//! ```sh
//! cargo build --release -p af-ktls --example rustls_echo
//! insmod af_ktls.ko && target/release/examples/rustls_echo
//! ```
//! `make check` builds and runs it in the test VM.

use std::{
    error::Error,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::Arc,
    thread,
};

use rustls::{
    crypto::ring::default_provider,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName},
    ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig, ServerConnection,
    SupportedProtocolVersion,
};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/certs");
const BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Side {
    Client,
    Server,
}

fn server_config(version: &'static SupportedProtocolVersion) -> Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(format!("{CERTS}/server.pem"))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(format!("{CERTS}/server.key"))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[version])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // AF_KTLS needs the keys: rustls hands them out only when this is on.
    config.enable_secret_extraction = true;
    Ok(Arc::new(config))
}

fn client_config(version: &'static SupportedProtocolVersion) -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(format!("{CERTS}/ca.pem"))? {
        roots.add(cert?)?;
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[version])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.enable_secret_extraction = true;
    Ok(Arc::new(config))
}

/// One end after its handshake: data through AF_KTLS, or through rustls in userspace.
enum End {
    Kernel(af_ktls::AfKtlsSocket),
    Rustls(Box<Connection>, TcpStream),
}

impl End {
    fn new(conn: Connection, tcp: TcpStream, kernel: bool) -> Result<End> {
        Ok(if kernel {
            // The handoff: keys and sequence numbers to the kernel; plain reads and writes from
            // now on, and the TCP socket stays open under the AF_KTLS socket.
            End::Kernel(af_ktls::from_rustls::into_af_ktls(conn, &tcp)?)
        } else {
            End::Rustls(Box::new(conn), tcp)
        })
    }

    fn write_all(&mut self, data: &[u8]) -> Result<()> {
        match self {
            End::Kernel(sock) => (&*sock).write_all(data)?,
            End::Rustls(conn, tcp) => {
                conn.writer().write_all(data)?;
                while conn.wants_write() {
                    conn.write_tls(tcp)?;
                }
            }
        }
        Ok(())
    }

    /// Application data; 0 once the peer sent close_notify.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        match self {
            // Session tickets are skipped, close_notify reads as 0 (af_ktls::records).
            End::Kernel(sock) => Ok((&*sock).read(buf)?),
            End::Rustls(conn, tcp) => loop {
                match conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if conn.read_tls(tcp)? == 0 {
                            return Err("connection closed without close_notify".into());
                        }
                        conn.process_new_packets()?;
                    }
                    Err(e) => return Err(e.into()),
                }
            },
        }
    }

    fn close_notify(&mut self) -> Result<()> {
        match self {
            End::Kernel(sock) => sock.send_close_notify()?,
            End::Rustls(conn, tcp) => {
                conn.send_close_notify();
                while conn.wants_write() {
                    conn.write_tls(tcp)?;
                }
            }
        }
        Ok(())
    }
}

/// Sends `out` and close_notify, then reads until the peer's close_notify (the client); or, with
/// nothing to send, echoes until close_notify and answers it (the server).
fn run_end(mut end: End, out: &[u8]) -> Result<Vec<u8>> {
    let echo = out.is_empty();
    let mut received = Vec::new();
    let mut buf = [0u8; 16384];
    if !echo {
        end.write_all(out)?;
        end.close_notify()?;
    }
    loop {
        let n = end.read(&mut buf)?;
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
        if echo {
            end.write_all(&buf[..n])?;
        }
    }
    if echo {
        end.close_notify()?;
    }
    Ok(received)
}

/// One connection: the client sends BYTES, the server echoes them, both close.
fn connection(version: &'static SupportedProtocolVersion, kernel: Side) -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server_config = server_config(version)?;
    let server = thread::spawn(move || -> Result<Vec<u8>> {
        let (mut tcp, _) = listener.accept()?;
        let mut conn = Connection::Server(ServerConnection::new(server_config)?);
        af_ktls::from_rustls::handshake(&mut conn, &mut tcp)?;
        run_end(End::new(conn, tcp, kernel == Side::Server)?, &[])
    });

    let mut tcp = TcpStream::connect(addr)?;
    let name = ServerName::try_from("localhost")?;
    let mut conn = Connection::Client(ClientConnection::new(client_config(version)?, name)?);
    af_ktls::from_rustls::handshake(&mut conn, &mut tcp)?;
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let out: Vec<u8> = (0..BYTES).map(|i| (i * 7 + i / 251) as u8).collect();
    let echoed = run_end(End::new(conn, tcp, kernel == Side::Client)?, &out)?;
    let seen_by_server = server.join().map_err(|_| "server thread panicked")??;
    if echoed != out || seen_by_server != out {
        return Err(format!("{suite}: the data changed on the way").into());
    }
    println!("{suite}: {BYTES} bytes echoed, the {kernel:?}'s data through AF_KTLS");
    Ok(())
}

fn main() -> Result<()> {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        for kernel in [Side::Client, Side::Server] {
            connection(version, kernel)?;
        }
    }
    Ok(())
}
