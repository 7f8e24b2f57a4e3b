//! DTLS 1.2 over a connected UDP socket with OpenSSL. The socket is wrapped so that every
//! datagram in and out is logged: OpenSSL does not expose its record sequence numbers or explicit
//! nonces, but the wire does, and the handoff takes them from there.

use crate::cli::CipherArg;
use crate::error::{Context, Error, Result};
use af_ktls::dtls::{Role as DtlsRole, SessionSecrets};
use af_ktls::wire::DtlsRecordLog;
use af_ktls::KeyMaterial;
use foreign_types::ForeignTypeRef;
use openssl::ssl::{
    ErrorCode, HandshakeError, MidHandshakeSslStream, Ssl, SslContext, SslContextBuilder,
    SslFiletype, SslMethod, SslOptions, SslStream, SslVerifyMode, SslVersion,
};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// `DTLS_CTRL_HANDLE_TIMEOUT` (`DTLSv1_handle_timeout` is a macro over `SSL_ctrl`).
const DTLS_CTRL_HANDLE_TIMEOUT: libc::c_int = 74;
/// How long one blocking read waits before OpenSSL gets a chance to retransmit.
const RETRANSMIT_TICK: Duration = Duration::from_millis(250);
/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65535;

extern "C" {
    // In libssl since 1.1.0; not wrapped by openssl-sys. Covers decrypted-but-unread data,
    // unprocessed records of the current datagram and DTLS's buffered application data.
    fn SSL_has_pending(ssl: *const openssl_sys::SSL) -> libc::c_int;
}

fn cipher_list(cipher: CipherArg) -> &'static str {
    match cipher {
        CipherArg::Aes128gcm => "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherArg::Aes256gcm => "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherArg::Chacha20 => "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-CHACHA20-POLY1305",
    }
}

fn base_context(cipher: CipherArg) -> Result<SslContextBuilder> {
    let mut ctx = SslContext::builder(SslMethod::dtls()).context("creating DTLS context")?;
    ctx.set_min_proto_version(Some(SslVersion::DTLS1_2))
        .context("DTLS 1.2 minimum")?;
    ctx.set_max_proto_version(Some(SslVersion::DTLS1_2))
        .context("DTLS 1.2 maximum")?;
    ctx.set_cipher_list(cipher_list(cipher))
        .context("setting the cipher suite")?;
    // Renegotiation would start epoch 2 behind the kernel's back; tickets are not needed for
    // one-shot runs; we set the MTU ourselves rather than have OpenSSL ask the BIO.
    ctx.set_options(
        SslOptions::NO_RENEGOTIATION | SslOptions::NO_TICKET | SslOptions::NO_QUERY_MTU,
    );
    Ok(ctx)
}

pub fn server_context(cipher: CipherArg, cert: &Path, key: &Path) -> Result<SslContext> {
    let mut ctx = base_context(cipher)?;
    ctx.set_certificate_chain_file(cert)
        .with_context(|| format!("loading {}", cert.display()))?;
    ctx.set_private_key_file(key, SslFiletype::PEM)
        .with_context(|| format!("loading {}", key.display()))?;
    ctx.check_private_key()
        .context("certificate and key do not match")?;
    Ok(ctx.build())
}

pub fn client_context(cipher: CipherArg, ca: &Path) -> Result<SslContext> {
    let mut ctx = base_context(cipher)?;
    ctx.set_ca_file(ca)
        .with_context(|| format!("loading CA {}", ca.display()))?;
    ctx.set_verify(SslVerifyMode::PEER);
    Ok(ctx.build())
}

/// A connected UDP socket that logs the DTLS records of every datagram.
#[derive(Debug)]
pub struct LoggedUdp {
    pub udp: UdpSocket,
    pub sent: DtlsRecordLog,
    pub received: DtlsRecordLog,
}

impl Read for LoggedUdp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.udp.recv(buf)?;
        self.received.observe_datagram(&buf[..n]);
        Ok(n)
    }
}

impl Write for LoggedUdp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.udp.send(buf)?;
        self.sent.observe_datagram(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Binds `listen`, waits for the first datagram and connects the socket to its sender, so the
/// socket is a connected UDP socket as AF_KTLS requires.
pub fn accept_udp(listen: &str, timeout: Duration) -> Result<UdpSocket> {
    let udp = UdpSocket::bind(listen).with_context(|| format!("binding UDP {listen}"))?;
    wait_for_client(udp, timeout)
}

/// [`accept_udp`] on a socket that is already bound.
pub fn wait_for_client(udp: UdpSocket, timeout: Duration) -> Result<UdpSocket> {
    udp.set_read_timeout(Some(timeout))
        .context("setting a receive timeout")?;
    let mut probe = [0u8; 1];
    // Peek only: OpenSSL must still read the ClientHello.
    let (_, peer) = udp
        .peek_from(&mut probe)
        .context("waiting for a DTLS ClientHello")?;
    udp.connect(peer)
        .with_context(|| format!("connecting UDP to {peer}"))?;
    Ok(udp)
}

pub fn connect_udp(addr: &str) -> Result<UdpSocket> {
    let peer: SocketAddr = addr
        .parse()
        .map_err(|_| Error::msg(format!("not an address: {addr}")))?;
    let local = if peer.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let udp = UdpSocket::bind(local).context("binding UDP")?;
    udp.connect(peer)
        .with_context(|| format!("connecting UDP to {peer}"))?;
    Ok(udp)
}

/// Runs the DTLS handshake on `udp`, retransmitting on OpenSSL's timer, within `timeout`.
pub fn handshake(
    ctx: &SslContext,
    udp: UdpSocket,
    role: DtlsRole,
    server_name: Option<&str>,
    mtu: u32,
    timeout: Duration,
) -> Result<SslStream<LoggedUdp>> {
    udp.set_read_timeout(Some(RETRANSMIT_TICK))
        .context("setting a receive timeout")?;
    let mut ssl = Ssl::new(ctx).context("creating DTLS session")?;
    ssl.set_mtu(mtu).context("setting the DTLS MTU")?;
    if let Some(name) = server_name {
        if let Ok(ip) = name.parse() {
            ssl.param_mut()
                .set_ip(ip)
                .context("setting the expected IP")?;
        } else {
            ssl.set_hostname(name).context("setting SNI")?;
            ssl.param_mut()
                .set_host(name)
                .context("setting the expected host name")?;
        }
    }
    let io = LoggedUdp {
        udp,
        sent: DtlsRecordLog::default(),
        received: DtlsRecordLog::default(),
    };
    let deadline = Instant::now() + timeout;
    let mut attempt = match role {
        DtlsRole::Client => ssl.connect(io),
        DtlsRole::Server => ssl.accept(io),
    };
    loop {
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(HandshakeError::WouldBlock(mut mid)) => {
                if Instant::now() > deadline {
                    return Err(Error::msg("DTLS handshake timed out"));
                }
                handle_timeout(&mut mid);
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(mid)) => {
                return Err(Error::msg(format!(
                    "DTLS handshake failed: {}",
                    mid.error()
                )));
            }
            Err(HandshakeError::SetupFailure(e)) => {
                return Err(Error::msg(format!("DTLS setup failed: {e}")))
            }
        }
    }
}

fn handle_timeout(mid: &mut MidHandshakeSslStream<LoggedUdp>) {
    let ssl = mid.ssl().as_ptr();
    // SAFETY: `ssl` is the live SSL object owned by `mid` for the duration of the call;
    // DTLS_CTRL_HANDLE_TIMEOUT takes no pointer argument and only retransmits if the timer expired.
    unsafe {
        openssl_sys::SSL_ctrl(ssl, DTLS_CTRL_HANDLE_TIMEOUT, 0, std::ptr::null_mut());
    }
}

/// True if OpenSSL holds any received data or records not yet handed to the application.
pub fn has_pending(stream: &SslStream<LoggedUdp>) -> bool {
    let ssl = stream.ssl().as_ptr();
    // SAFETY: `ssl` is the live SSL object owned by `stream`; SSL_has_pending only reads it.
    stream.ssl().pending() > 0 || unsafe { SSL_has_pending(ssl) } != 0
}

/// Reads one datagram's plaintext through OpenSSL (before the handoff), waiting up to `timeout`.
pub fn read_one(
    stream: &mut SslStream<LoggedUdp>,
    buf: &mut [u8],
    timeout: Duration,
) -> Result<usize> {
    let deadline = Instant::now() + timeout;
    loop {
        match stream.ssl_read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.code() == ErrorCode::WANT_READ && Instant::now() < deadline => {}
            Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                return Err(Error::msg(
                    "peer closed the DTLS association before sending data",
                ))
            }
            Err(e) => return Err(Error::msg(format!("DTLS read before handoff: {e}"))),
        }
    }
}

/// Writes one datagram's plaintext through OpenSSL (before the handoff).
pub fn write_one(stream: &mut SslStream<LoggedUdp>, data: &[u8]) -> Result<()> {
    let n = stream
        .ssl_write(data)
        .map_err(|e| Error::msg(format!("DTLS write before handoff: {e}")))?;
    if n != data.len() {
        return Err(Error::msg("DTLS write was split"));
    }
    Ok(())
}

/// Derives the keys once OpenSSL holds nothing undelivered.
pub fn extract(stream: &SslStream<LoggedUdp>, role: DtlsRole) -> Result<(KeyMaterial, String)> {
    if has_pending(stream) {
        return Err(Error::msg(
            "OpenSSL still holds received DTLS data; refusing to hand off",
        ));
    }
    let ssl = stream.ssl();
    let suite = ssl
        .current_cipher()
        .map(|c| c.name().to_string())
        .unwrap_or_default();
    let secrets = SessionSecrets::from_openssl(ssl).context("reading the DTLS session")?;
    let key_block = secrets.key_block().context("deriving the key block")?;
    let io = stream.get_ref();
    let keys = af_ktls::dtls::key_material(role, &key_block, &io.sent, &io.received)
        .context("DTLS key material")?;
    Ok((keys, suite))
}

/// Asks for a receive buffer of `bytes` (SO_RCVBUFFORCE when privileged, else SO_RCVBUF up to
/// `net.core.rmem_max`) and returns what the kernel granted, in payload terms (the kernel reports
/// twice the usable size).
pub fn grow_receive_buffer(udp: &UdpSocket, bytes: usize) -> Result<usize> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(udp);
    let wanted = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `wanted` is a live c_int and `len` is its size; the kernel only reads it.
        let ret = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&raw const wanted).cast(),
                len,
            )
        };
        if ret == 0 {
            break;
        }
    }
    let mut granted: libc::c_int = 0;
    let mut granted_len = len;
    // SAFETY: `granted` and `granted_len` are live and sized for an int option.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw mut granted).cast(),
            &mut granted_len,
        )
    };
    if ret != 0 {
        return Err(Error::io("reading SO_RCVBUF", io::Error::last_os_error()));
    }
    Ok(usize::try_from(granted).unwrap_or(0) / 2)
}

/// Receive buffer size for one datagram.
pub fn datagram_buffer() -> Vec<u8> {
    vec![0u8; MAX_DATAGRAM]
}
