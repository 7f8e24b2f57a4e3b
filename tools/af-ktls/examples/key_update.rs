// SPDX-License-Identifier: GPL-2.0
//! TLS 1.3 KeyUpdate through AF_KTLS, both directions at once: after a real rustls handshake one
//! side hands its connection to the kernel as an `AfKtlsStream` and the other stays in rustls in
//! userspace, which echoes everything back. The kernel side writes from one thread and reads from
//! another; its writer asks for a KeyUpdate (`update_requested`, so the peer changes its keys too)
//! every `UPDATE_EVERY` bytes, and the echoing peer starts KeyUpdates of its own. rustls derives
//! every next key on both ends (on the kernel side through its `KernelConnection`); the data must
//! come back unchanged. With the kernel on the client side, the server's session tickets go to
//! rustls's session store on the way.
//!
//! ```sh
//! cargo build --release -p af-ktls --example key_update
//! insmod af_ktls.ko && target/release/examples/key_update
//! ```
//! `make check` builds and runs it in the test VM.

use std::{
    error::Error,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::Arc,
    thread,
};

use af_ktls::{
    from_rustls::{self, UnbufferedConnection},
    AfKtlsStream, KeyUpdateRequest,
};
use rustls::{
    client::UnbufferedClientConnection,
    crypto::ring::default_provider,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName},
    server::UnbufferedServerConnection,
    ClientConfig, ClientConnection, Connection, RootCertStore, ServerConfig, ServerConnection,
};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/certs");
const BYTES: usize = 1 << 20;
const WRITE: usize = 16 * 1024;
/// The kernel side asks for a KeyUpdate this often; the rustls side starts one every
/// `2 * UPDATE_EVERY` bytes it echoes.
const UPDATE_EVERY: usize = 64 * 1024;

fn server_config() -> Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(format!("{CERTS}/server.pem"))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(format!("{CERTS}/server.key"))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // AF_KTLS needs the keys: rustls hands them out only when this is on.
    config.enable_secret_extraction = true;
    Ok(Arc::new(config))
}

fn client_config() -> Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(format!("{CERTS}/ca.pem"))? {
        roots.add(cert?)?;
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.enable_secret_extraction = true;
    Ok(Arc::new(config))
}

/// The kernel side: rustls's unbuffered connection for the handshake (only it can derive the
/// keys after a KeyUpdate), then an AF_KTLS stream. One thread writes `out`, asking for a
/// KeyUpdate every `UPDATE_EVERY` bytes, then close_notify; this one reads the echo.
fn kernel_side(
    mut conn: UnbufferedConnection,
    mut tcp: TcpStream,
    out: Vec<u8>,
) -> Result<Vec<u8>> {
    from_rustls::handshake_unbuffered(&mut conn, &mut tcp)?;
    let stream: Arc<AfKtlsStream> = Arc::new(from_rustls::into_af_ktls_stream(conn, &tcp)?);
    let writer = {
        let stream = Arc::clone(&stream);
        thread::spawn(move || -> Result<()> {
            for (i, chunk) in out.chunks(WRITE).enumerate() {
                if i > 0 && (i * WRITE).is_multiple_of(UPDATE_EVERY) {
                    stream.key_update(KeyUpdateRequest::Requested)?;
                }
                (&*stream).write_all(chunk)?;
            }
            stream.send_close_notify()?;
            Ok(())
        })
    };
    let mut echoed = Vec::new();
    (&*stream).read_to_end(&mut echoed)?; // KeyUpdates and tickets are dealt with inside
    writer.join().map_err(|_| "writer panicked")??;
    let counts = stream.key_updates();
    println!(
        "  kernel side: KeyUpdates sent {} ({} asking for the peer's), received {} ({} asking)",
        counts.sent, counts.sent_requesting, counts.received, counts.received_requesting
    );
    if counts.sent_requesting == 0 || counts.received_requesting == 0 {
        return Err("no KeyUpdate went one of the ways".into());
    }
    Ok(echoed)
}

/// The userspace side: rustls does the records; everything read is echoed, with a KeyUpdate of
/// its own (rustls's `refresh_traffic_keys`) every `2 * UPDATE_EVERY` bytes; rustls answers the
/// kernel side's KeyUpdates by itself. Ends with close_notify after the peer's.
fn rustls_side(mut conn: Connection, mut tcp: TcpStream) -> Result<usize> {
    from_rustls::handshake(&mut conn, &mut tcp)?;
    let mut buf = vec![0u8; 65536];
    let (mut echoed, mut updates) = (0, 0);
    loop {
        if conn.read_tls(&mut tcp)? == 0 {
            return Err("connection closed without close_notify".into());
        }
        let state = conn.process_new_packets()?;
        let mut left = state.plaintext_bytes_to_read();
        while left > 0 {
            let n = conn.reader().read(&mut buf[..left.min(65536)])?;
            conn.writer().write_all(&buf[..n])?;
            left -= n;
            echoed += n;
            if echoed / (2 * UPDATE_EVERY) > updates {
                conn.refresh_traffic_keys()?;
                updates += 1;
            }
        }
        if state.peer_has_closed() {
            conn.send_close_notify();
        }
        while conn.wants_write() {
            conn.write_tls(&mut tcp)?;
        }
        if state.peer_has_closed() {
            return Ok(updates);
        }
    }
}

fn data() -> Vec<u8> {
    (0..BYTES).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// One connection: the kernel side (client or server) sends `BYTES`, the rustls side echoes.
fn connection(kernel_is_client: bool) -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server_config = server_config()?;
    let server = thread::spawn(move || -> Result<Option<Vec<u8>>> {
        let (tcp, _) = listener.accept()?;
        if kernel_is_client {
            let updates = rustls_side(
                Connection::Server(ServerConnection::new(server_config)?),
                tcp,
            )?;
            println!("  rustls server: started {updates} KeyUpdates");
            Ok(None)
        } else {
            let conn = UnbufferedServerConnection::new(server_config)?;
            kernel_side(conn.into(), tcp, data()).map(Some)
        }
    });
    let tcp = TcpStream::connect(addr)?;
    let name = ServerName::try_from("localhost")?;
    let client_echo = if kernel_is_client {
        let conn = UnbufferedClientConnection::new(client_config()?, name)?;
        Some(kernel_side(conn.into(), tcp, data())?)
    } else {
        let conn = ClientConnection::new(client_config()?, name)?;
        let updates = rustls_side(Connection::Client(conn), tcp)?;
        println!("  rustls client: started {updates} KeyUpdates");
        None
    };
    let server_echo = server.join().map_err(|_| "server thread panicked")??;
    let echoed = client_echo.or(server_echo).ok_or("no echo")?;
    if echoed != data() {
        return Err("the data changed on the way".into());
    }
    println!(
        "TLS 1.3, kernel {}: {BYTES} bytes echoed with KeyUpdates both ways",
        if kernel_is_client { "client" } else { "server" }
    );
    Ok(())
}

fn main() -> Result<()> {
    for kernel_is_client in [true, false] {
        connection(kernel_is_client)?;
    }
    Ok(())
}
