//! `ktls-tool serve`: an HTTPS file server whose bodies go out with `sendfile(2)` on an AF_KTLS
//! socket: rustls does the handshake, the kernel encrypts the file's pages into records without
//! a copy of the plaintext.
//!
//! HTTP/1.1 `GET` and `HEAD` of regular files under a directory, one request per connection
//! (`Connection: close`), which is all `curl` and `openssl s_client` need to fetch a file.

use crate::cli::{CipherArg, TlsVersionArg};
use crate::error::{Context, Error, Result};
use crate::tls;
use af_ktls::AfKtlsSocket;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Longest request head accepted.
const MAX_REQUEST: usize = 8192;

/// What `serve` needs.
pub struct ServeOptions<'a> {
    pub listen: &'a str,
    pub dir: &'a Path,
    pub tls: TlsVersionArg,
    pub cipher: CipherArg,
    pub cert: &'a Path,
    pub key: &'a Path,
    /// Connections to serve before returning (`None`: for ever).
    pub count: Option<u64>,
}

/// Serves files from `options.dir` until `options.count` connections were served.
pub fn serve(options: &ServeOptions<'_>) -> Result<()> {
    let mut config =
        (*tls::server_config(options.tls, options.cipher, options.cert, options.key)?).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    let listener = TcpListener::bind(options.listen)
        .with_context(|| format!("listening on {}", options.listen))?;
    eprintln!(
        "ktls-tool serve: {} on https://{}",
        options.dir.display(),
        options.listen
    );
    let mut served = 0;
    while options.count.is_none_or(|count| served < count) {
        let (tcp, peer) = listener.accept().context("accepting a connection")?;
        served += 1;
        match serve_connection(tcp, config.clone(), options.dir) {
            Ok(line) => eprintln!("ktls-tool serve: {peer}: {line}"),
            Err(err) => eprintln!("ktls-tool serve: {peer}: {err}"),
        }
    }
    Ok(())
}

/// One connection: handshake, handoff to AF_KTLS, one request, the file by `sendfile`.
fn serve_connection(
    mut tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    dir: &Path,
) -> Result<String> {
    let mut conn = tls::new_server(config)?;
    af_ktls::from_rustls::handshake(&mut conn, &mut tcp).context("TLS handshake")?;
    let sock = af_ktls::from_rustls::into_af_ktls(conn, &tcp).context("handing over to AF_KTLS")?;
    let request = read_request(&sock)?;
    let (status, file) = match parse_request(&request) {
        Ok((method, target)) => match open_target(dir, target) {
            Some(file) => (200, Some((method, target.to_string(), file))),
            None => (404, None),
        },
        Err(status) => (status, None),
    };
    let Some((method, target, file)) = file else {
        let reason = if status == 404 {
            "Not Found"
        } else {
            "Bad Request"
        };
        let head =
            format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        (&sock)
            .write_all(head.as_bytes())
            .context("sending the response")?;
        sock.send_close_notify().context("sending close_notify")?;
        return Ok(format!("{status}"));
    };
    let len = file.metadata().context("reading the file's size")?.len();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\
         Connection: close\r\n\r\n"
    );
    // The head goes into the record the body starts (MSG_MORE), then the file by reference.
    let more = if method == "HEAD" { 0 } else { libc::MSG_MORE };
    send_all(&sock, head.as_bytes(), more)?;
    if method != "HEAD" {
        sendfile_all(&sock, &file, len)?;
    }
    sock.send_close_notify().context("sending close_notify")?;
    Ok(format!("{method} {target}: 200, {len} bytes"))
}

/// Reads the request head (up to the empty line).
fn read_request(mut sock: &AfKtlsSocket) -> Result<Vec<u8>> {
    let mut request = Vec::new();
    let mut buf = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        if request.len() > MAX_REQUEST {
            return Err(Error::msg("request head too long"));
        }
        let n = sock.read(&mut buf).context("reading the request")?;
        if n == 0 {
            return Err(Error::msg("connection closed before a request"));
        }
        request.extend_from_slice(&buf[..n]);
    }
    Ok(request)
}

/// The method and target of a `GET`/`HEAD` request; an HTTP status otherwise.
fn parse_request(request: &[u8]) -> std::result::Result<(&str, &str), u16> {
    let line = request.split(|&b| b == b'\r').next().ok_or(400u16)?;
    let line = std::str::from_utf8(line).map_err(|_| 400u16)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if !version.starts_with("HTTP/1.") || !(method == "GET" || method == "HEAD") {
        return Err(400);
    }
    Ok((method, target))
}

/// The regular file `target` names under `dir`, refusing anything that leaves it.
fn open_target(dir: &Path, target: &str) -> Option<File> {
    let relative = Path::new(target.split('?').next()?.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let path: PathBuf = dir.join(relative);
    let file = File::open(path).ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

fn send_all(sock: &AfKtlsSocket, mut bytes: &[u8], flags: libc::c_int) -> Result<()> {
    while !bytes.is_empty() {
        let sent = sock
            .send(bytes, flags)
            .context("sending the response head")?;
        bytes = &bytes[sent..];
    }
    Ok(())
}

/// Sends `len` bytes of `file` with `sendfile(2)` into the AF_KTLS socket.
fn sendfile_all(sock: &AfKtlsSocket, file: &File, len: u64) -> Result<()> {
    let mut offset: libc::off_t = 0;
    let mut left = len;
    while left > 0 {
        let chunk = left.min(1 << 30) as usize;
        let (out_fd, in_fd) = (sock.as_raw_fd(), file.as_raw_fd());
        // SAFETY: Both descriptors are open for the call; `offset` is a valid place.
        let sent = unsafe { libc::sendfile(out_fd, in_fd, &mut offset, chunk) };
        if sent < 0 {
            return Err(Error::io("sendfile", std::io::Error::last_os_error()));
        }
        if sent == 0 {
            return Err(Error::msg("sendfile: the file ended early"));
        }
        left -= sent as u64;
    }
    Ok(())
}
