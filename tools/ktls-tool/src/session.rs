//! One run: connect or accept, handshake, hand off (or not), transfer, report.

use crate::channel::{
    AfKtlsChannel, Channel, OpensslDtlsChannel, RustlsChannel, Transport, UlpChannel,
};
use crate::cli::{Backend, CipherArg, Common, ExpectArg, TlsVersionArg};
use crate::dtls;
use crate::error::{Context, Error, Result};
use crate::handoff::Evidence;
use crate::pattern::{hex, Pattern, Role, PERIOD};
use crate::tls::{self, LoggedTcp};
use crate::transfer::{self, frame, Plan, MIN_WINDOW};
use af_ktls::dtls::Role as DtlsRole;
use af_ktls::key_update::{KeyUpdateCounts, KeyUpdates};
use af_ktls::nonce::Target;
use af_ktls::{AfKtlsSocket, KeyMaterial, RecordProtection, Version};
use serde_json::{json, Value};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_TLS_PAYLOAD: u64 = 16384;
const DEFAULT_DTLS_PAYLOAD: u64 = 1200;

/// What a run found; printed as text or JSON.
pub struct Report {
    pub role: Role,
    pub backend: Backend,
    pub protocol: String,
    pub cipher: String,
    pub suite: String,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub records_sent: Option<u64>,
    pub records_received: Option<u64>,
    pub seconds: f64,
    pub sent_sha256: String,
    pub received_sha256: String,
    pub expected_sha256: String,
    /// None if the stream matched; otherwise why not.
    pub mismatch: Option<String>,
    pub handoff: Option<Evidence>,
    pub skipped_records: Vec<&'static str>,
    pub close: String,
    /// KeyUpdates this side started (`--key-update-every`).
    pub key_updates_requested: u64,
    /// KeyUpdates sent and received, when the backend counts them.
    pub key_updates: Option<KeyUpdateCounts>,
    /// `--expect-key-updates` not met: why.
    pub key_update_shortfall: Option<String>,
}

impl Report {
    pub fn hash_ok(&self) -> bool {
        self.mismatch.is_none()
    }

    /// The data matched and every expectation was met.
    pub fn ok(&self) -> bool {
        self.hash_ok() && self.key_update_shortfall.is_none()
    }

    pub fn throughput_mib_s(&self) -> f64 {
        let bytes = (self.bytes_sent + self.bytes_received) as f64;
        if self.seconds > 0.0 {
            bytes / self.seconds / (1024.0 * 1024.0)
        } else {
            0.0
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "role": match self.role { Role::Client => "client", Role::Server => "server" },
            "backend": self.backend.name(),
            "version": self.protocol,
            "cipher": self.cipher,
            "suite": self.suite,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "records_sent": self.records_sent,
            "records_received": self.records_received,
            "seconds": self.seconds,
            "throughput_mib_s": self.throughput_mib_s(),
            "sent_sha256": self.sent_sha256,
            "received_sha256": self.received_sha256,
            "expected_received_sha256": self.expected_sha256,
            "hash_ok": self.hash_ok(),
            "mismatch": self.mismatch,
            "handoff": self.handoff.as_ref().map(Evidence::to_json),
            "skipped_records": self.skipped_records,
            "close": self.close,
            "key_updates_requested": self.key_updates_requested,
            "key_updates": self.key_updates.map(|k| json!({
                "sent": k.sent,
                "sent_requesting": k.sent_requesting,
                "received": k.received,
                "received_requesting": k.received_requesting,
            })),
            "key_updates_ok": self.key_update_shortfall.is_none(),
            "key_update_shortfall": self.key_update_shortfall,
        })
    }

    pub fn summary(&self) -> String {
        let records = |n: Option<u64>| n.map(|n| format!(" ({n} records)")).unwrap_or_default();
        let key_updates = match (self.key_updates, self.key_updates_requested) {
            (Some(k), _) => format!(
                "; KeyUpdates sent {} ({} requesting), received {} ({} requesting)",
                k.sent, k.sent_requesting, k.received, k.received_requesting
            ),
            (None, 0) => String::new(),
            (None, n) => format!("; KeyUpdates requested {n}"),
        };
        let shortfall = self
            .key_update_shortfall
            .as_ref()
            .map(|why| format!("; FAILED: {why}"))
            .unwrap_or_default();
        format!(
            "{} {} {} {}: sent {} B{}, received {} B{} in {:.3} s ({:.1} MiB/s); sha256 {}{}{}",
            match self.role {
                Role::Client => "client",
                Role::Server => "server",
            },
            self.protocol,
            self.cipher,
            self.backend.name(),
            self.bytes_sent,
            records(self.records_sent),
            self.bytes_received,
            records(self.records_received),
            self.seconds,
            self.throughput_mib_s(),
            match &self.mismatch {
                None => "ok".to_string(),
                Some(why) => format!("MISMATCH: {why}"),
            },
            key_updates,
            shortfall
        )
    }
}

fn validate(common: &Common) -> Result<u64> {
    if common.dtls {
        if common.backend == Backend::Ulp {
            return Err(Error::msg(
                "--backend ulp is mainline kernel TLS, which has no DTLS; use userspace or af_ktls",
            ));
        }
        if !common.peer_generic && common.window < MIN_WINDOW {
            return Err(Error::msg(format!(
                "--window must be at least {MIN_WINDOW}"
            )));
        }
    }
    let payload = common.payload.unwrap_or(if common.dtls {
        DEFAULT_DTLS_PAYLOAD
    } else {
        DEFAULT_TLS_PAYLOAD
    });
    if payload == 0 || payload > PERIOD as u64 {
        return Err(Error::msg(format!("--payload must be 1..={PERIOD}")));
    }
    if common.dtls {
        let framing = u64::from(!common.peer_generic);
        // Header, explicit nonce (AES-GCM) and tag: the record layer's overhead.
        let overhead = RecordProtection::new(Version::Dtls12, common.cipher.cipher()).overhead();
        let room = u64::from(common.mtu).saturating_sub(overhead as u64);
        if payload + framing > room {
            return Err(Error::msg(format!(
                "--payload {payload} does not fit a {}-byte DTLS datagram (at most {})",
                common.mtu,
                room.saturating_sub(framing)
            )));
        }
    }
    if common.expect == ExpectArg::Echo && common.direction != crate::cli::DirectionArg::Both {
        return Err(Error::msg("--expect echo needs --direction both"));
    }
    let tls13 = !common.dtls && common.tls == TlsVersionArg::V13;
    if let Some(every) = common.key_update_every {
        if !tls13 {
            return Err(Error::msg(
                "--key-update-every needs TLS 1.3 (TLS 1.2 and DTLS 1.2 have no KeyUpdate)",
            ));
        }
        if every == 0 {
            return Err(Error::msg("--key-update-every must be at least 1 byte"));
        }
    }
    if common.expect_key_updates.is_some() && (!tls13 || common.backend == Backend::Userspace) {
        return Err(Error::msg(
            "--expect-key-updates needs TLS 1.3 and a kernel backend (af_ktls or ulp), \
             which count the peer's KeyUpdates",
        ));
    }
    Ok(payload)
}

fn verbose(common: &Common, line: &str) {
    if common.verbose {
        eprintln!("ktls-tool: {line}");
    }
}

pub fn run_server(listen: &str, common: &Common) -> Result<Report> {
    validate(common)?;
    let timeout = Duration::from_secs(common.timeout);
    if common.dtls {
        let udp = dtls::accept_udp(listen, timeout)?;
        verbose(
            common,
            &format!("DTLS association from {:?}", udp.peer_addr().ok()),
        );
        let ctx = dtls::server_context(common.cipher, &common.cert, &common.key)?;
        let stream = dtls::handshake(&ctx, udp, DtlsRole::Server, None, common.mtu, timeout)?;
        dtls_session(Role::Server, common, stream)
    } else {
        let listener =
            TcpListener::bind(listen).with_context(|| format!("listening on {listen}"))?;
        // Bounded like every other wait, so a test whose client never came does not hang.
        if !transfer::wait_readable(&listener, timeout)? {
            return Err(Error::msg(format!(
                "no client connected within {} s",
                common.timeout
            )));
        }
        let (tcp, peer) = listener.accept().context("accepting a TCP connection")?;
        verbose(common, &format!("TCP connection from {peer}"));
        let config = tls::server_config(common.tls, common.cipher, &common.cert, &common.key)?;
        tls_session(Role::Server, common, tcp, Handshake::Server(config))
    }
}

pub fn run_client(connect: &str, server_name: Option<&str>, common: &Common) -> Result<Report> {
    validate(common)?;
    let timeout = Duration::from_secs(common.timeout);
    let host = connect
        .rsplit_once(':')
        .map(|(h, _)| h.trim_matches(['[', ']']))
        .unwrap_or(connect);
    let name = server_name.unwrap_or(host);
    if common.dtls {
        let udp = dtls::connect_udp(connect)?;
        let ctx = dtls::client_context(common.cipher, &common.ca)?;
        let stream = dtls::handshake(&ctx, udp, DtlsRole::Client, Some(name), common.mtu, timeout)?;
        dtls_session(Role::Client, common, stream)
    } else {
        let tcp =
            TcpStream::connect(connect).with_context(|| format!("connecting to {connect}"))?;
        let config = tls::client_config(common.tls, common.cipher, &common.ca)?;
        tls_session(Role::Client, common, tcp, Handshake::Client(config, name))
    }
}

fn protocol_name(common: &Common) -> &'static str {
    match (common.dtls, common.tls) {
        (true, _) => "DTLS1.2",
        (false, TlsVersionArg::V12) => "TLS1.2",
        (false, TlsVersionArg::V13) => "TLS1.3",
    }
}

fn cipher_name(cipher: CipherArg) -> &'static str {
    match cipher {
        CipherArg::Aes128gcm => "AES-128-GCM",
        CipherArg::Aes256gcm => "AES-256-GCM",
        CipherArg::Chacha20 => "CHACHA20-POLY1305",
    }
}

fn handoff_error(backend: Backend, err: std::io::Error) -> Error {
    let hint = match (backend, err.raw_os_error()) {
        (Backend::Ulp, Some(libc::ENOENT)) => {
            " (the kernel has no `tls` ULP: load the tls module, or run in the test VM)"
        }
        (Backend::Ulp, Some(libc::ENOPROTOOPT)) => " (kernel TLS is not built into this kernel)",
        (Backend::AfKtls, Some(libc::EAFNOSUPPORT)) => " (the af_ktls module is not loaded)",
        _ => "",
    };
    let what = match backend {
        Backend::Ulp => {
            format!("handing the connection to mainline kernel TLS (TCP_ULP \"tls\"){hint}")
        }
        _ => format!("handing the connection to AF_KTLS{hint}"),
    };
    Error::io(what, err)
}

/// Which end of the handshake, with its configuration.
enum Handshake<'a> {
    Client(Arc<rustls::ClientConfig>, &'a str),
    Server(Arc<rustls::ServerConfig>),
}

fn tls_session(role: Role, common: &Common, tcp: TcpStream, hs: Handshake<'_>) -> Result<Report> {
    tcp.set_nodelay(true).context("TCP_NODELAY")?;
    tcp.set_read_timeout(Some(Duration::from_secs(common.timeout)))
        .context("setting a read timeout")?;
    let mut io = LoggedTcp::new(tcp);
    let mut early = Vec::new();
    let (mut channel, evidence, suite): (Box<dyn Channel>, Option<Evidence>, String) = match common
        .backend
    {
        Backend::Userspace => {
            let mut conn = match hs {
                Handshake::Client(config, name) => tls::new_client(config, name)?,
                Handshake::Server(config) => tls::new_server(config)?,
            };
            tls::handshake(&mut io, &mut conn)?;
            tls::drain_plaintext(&mut conn, &mut |data| early.extend_from_slice(data))?;
            io.tcp
                .set_read_timeout(None)
                .context("clearing the read timeout")?;
            let suite = conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default();
            verbose(common, &format!("handshake done: {suite}"));
            (Box::new(RustlsChannel::new(conn, io)?), None, suite)
        }
        backend => {
            // rustls's unbuffered connection, the one that can derive the keys after a
            // KeyUpdate (tls.rs).
            let mut conn = match hs {
                Handshake::Client(config, name) => tls::new_unbuffered_client(config, name)?,
                Handshake::Server(config) => tls::new_unbuffered_server(config)?,
            };
            tls::handshake_unbuffered(&mut io, &mut conn)?;
            io.tcp
                .set_read_timeout(None)
                .context("clearing the read timeout")?;
            let target = if backend == Backend::Ulp {
                Target::Mainline
            } else {
                Target::AfKtls
            };
            let handoff = tls::extract_unbuffered(&io, conn, target)?;
            verbose(common, &format!("handshake done: {}", handoff.suite));
            let evidence = Evidence::from_tls(&handoff.keys, &io, target.nonce_rule(false))?;
            evidence
                .lines()
                .iter()
                .for_each(|line| verbose(common, line));
            let keys = &handoff.keys;
            let start = (keys.tx.rec_seq(), keys.rx.rec_seq());
            // TLS 1.3: KeyUpdates both ways, from rustls's key schedule.
            let updates = handoff
                .schedule
                .filter(|_| keys.version() == Version::Tls13)
                .map(KeyUpdates::new);
            let channel: Box<dyn Channel> = if backend == Backend::Ulp {
                af_ktls::ulp::setup(io.tcp.as_fd(), keys).map_err(|e| handoff_error(backend, e))?;
                Box::new(UlpChannel::new(io.tcp, keys.cipher(), start, updates))
            } else {
                let sock = AfKtlsSocket::setup(io.tcp.as_fd(), keys)
                    .map_err(|e| handoff_error(backend, e))?;
                Box::new(AfKtlsChannel::new(
                    sock,
                    Transport::Tcp(io.tcp),
                    keys.cipher(),
                    start,
                    updates,
                ))
            };
            (channel, Some(evidence), handoff.suite)
        }
    };
    finish_session(role, common, channel.as_mut(), &early, evidence, suite)
}

/// Bytes a DTLS receive buffer should hold per byte of window: each datagram costs its payload
/// plus a socket buffer's overhead (about 2x for 1200-byte datagrams), and acknowledgements share
/// the buffer.
const RECEIVE_BUFFER_PER_WINDOW_BYTE: usize = 4;
const DTLS_RECEIVE_BUFFER: usize = 4 << 20;

fn dtls_session(
    role: Role,
    common: &Common,
    mut stream: openssl::ssl::SslStream<dtls::LoggedUdp>,
) -> Result<Report> {
    let timeout = Duration::from_secs(common.timeout);
    // UDP drops what does not fit the receive buffer; make it large, and keep the window within it.
    let granted = dtls::grow_receive_buffer(&stream.get_ref().udp, DTLS_RECEIVE_BUFFER)?;
    let window = common
        .window
        .min((granted / RECEIVE_BUFFER_PER_WINDOW_BYTE) as u64)
        .max(MIN_WINDOW);
    verbose(
        common,
        &format!("UDP receive buffer {granted} B, DTLS window {window} B"),
    );
    let common = &Common {
        window,
        ..common.clone()
    };
    let suite = stream
        .ssl()
        .current_cipher()
        .map(|c| c.name().to_string())
        .unwrap_or_default();
    verbose(common, &format!("handshake done: {suite}"));
    let framed = !common.peer_generic;
    let mut early = Vec::new();
    let mut buf = dtls::datagram_buffer();
    match role {
        Role::Client if framed => dtls::write_one(&mut stream, &[frame::START])?,
        // RFC 6347 §4.2.4: the server must answer retransmissions of the client's last flight
        // until it knows the client has its Finished. The client's first application record
        // proves that, so the server reads it through OpenSSL before handing off.
        Role::Server if framed => {
            let n = dtls::read_one(&mut stream, &mut buf, timeout)?;
            if buf[..n] != [frame::START] {
                return Err(Error::msg(
                    "expected the client's start message (is one side --peer-generic?)",
                ));
            }
        }
        Role::Server if common.direction.receives() => {
            let n = dtls::read_one(&mut stream, &mut buf, timeout)?;
            early.extend_from_slice(&buf[..n]);
        }
        _ => {}
    }
    // Anything OpenSSL already decrypted or holds for later belongs to the stream before the
    // handoff; only then may the keys leave.
    while dtls::has_pending(&stream) {
        let n = dtls::read_one(&mut stream, &mut buf, timeout)?;
        if framed {
            return Err(Error::msg("unexpected DTLS data before the handoff"));
        }
        early.extend_from_slice(&buf[..n]);
    }

    let (mut channel, evidence): (Box<dyn Channel>, Option<Evidence>) = match common.backend {
        Backend::Userspace => (Box::new(OpensslDtlsChannel::new(stream)?), None),
        Backend::Ulp | Backend::AfKtls => {
            let dtls_role = match role {
                Role::Client => DtlsRole::Client,
                Role::Server => DtlsRole::Server,
            };
            let (keys, _) = dtls::extract(&stream, dtls_role)?;
            let evidence = Evidence::from_dtls(&keys, stream.get_ref())?;
            evidence
                .lines()
                .iter()
                .for_each(|line| verbose(common, line));
            // Keep the UDP socket, drop OpenSSL's state (no close_notify: the association lives on
            // in the kernel).
            let udp = stream
                .get_ref()
                .udp
                .try_clone()
                .context("duplicating the UDP socket")?;
            drop(stream);
            udp.set_read_timeout(None)
                .context("clearing the read timeout")?;
            let channel = af_ktls_datagram_channel(common, udp, &keys)?;
            (channel, Some(evidence))
        }
    };
    finish_session(role, common, channel.as_mut(), &early, evidence, suite)
}

fn af_ktls_datagram_channel(
    common: &Common,
    udp: std::net::UdpSocket,
    keys: &KeyMaterial,
) -> Result<Box<dyn Channel>> {
    let sock =
        AfKtlsSocket::setup(udp.as_fd(), keys).map_err(|e| handoff_error(Backend::AfKtls, e))?;
    if let Err(e) = sock.set_dtls_mtu(common.mtu) {
        verbose(
            common,
            &format!("KTLS_DTLS_MTU not accepted ({e}); the payload size keeps datagrams small"),
        );
    }
    let start = (keys.tx.rec_seq(), keys.rx.rec_seq());
    Ok(Box::new(AfKtlsChannel::new(
        sock,
        Transport::Udp(udp),
        keys.cipher(),
        start,
        None,
    )))
}

fn finish_session(
    role: Role,
    common: &Common,
    channel: &mut dyn Channel,
    early: &[u8],
    evidence: Option<Evidence>,
    suite: String,
) -> Result<Report> {
    let payload = validate(common)?;
    let send_pattern = Pattern::new(role);
    let expected_role = match common.expect {
        ExpectArg::Peer => role.peer(),
        ExpectArg::Echo => role,
    };
    let expected = if expected_role == role {
        None
    } else {
        Some(Pattern::new(expected_role))
    };
    let expected = expected.as_ref().unwrap_or(&send_pattern);
    let plan = Plan {
        size: common.size,
        payload: usize::try_from(payload).unwrap_or(usize::MAX),
        sends: common.direction.sends(),
        receives: common.direction.receives(),
        send_pattern: &send_pattern,
        expected,
        idle_timeout: Duration::from_secs(common.timeout),
        dtls_window: (common.dtls && !common.peer_generic).then_some(common.window),
        datagram: common.dtls,
        key_update_every: common.key_update_every,
    };
    let outcome = transfer::run(channel, &plan, early)?;
    let records = outcome.records;
    let expected_len = if plan.receives { plan.size } else { 0 };
    let expected_sha = expected.sha256(expected_len);
    let received_sha = outcome.received.sha256();
    let mismatch = if let Some(at) = outcome.received.first_mismatch {
        Some(format!(
            "received stream differs from the expected pattern at byte {at}"
        ))
    } else if outcome.received.bytes != expected_len {
        Some(format!(
            "received {} bytes, expected {expected_len}",
            outcome.received.bytes
        ))
    } else if received_sha != expected_sha {
        Some("SHA-256 of the received stream differs".to_string())
    } else {
        None
    };
    let key_update_shortfall = common.expect_key_updates.and_then(|want| {
        let got = outcome.key_updates.map(|k| k.received).unwrap_or(0);
        (got < want)
            .then(|| format!("the peer sent {got} KeyUpdates, at least {want} were expected"))
    });
    if !outcome.skipped.is_empty() {
        verbose(
            common,
            &format!("skipped non-data records: {:?}", outcome.skipped),
        );
    }
    Ok(Report {
        role,
        backend: common.backend,
        protocol: protocol_name(common).to_string(),
        cipher: cipher_name(common.cipher).to_string(),
        suite,
        bytes_sent: outcome.sent.bytes,
        bytes_received: outcome.received.bytes,
        records_sent: records.sent,
        records_received: records.received,
        seconds: outcome.seconds,
        sent_sha256: hex(&outcome.sent.sha256()),
        received_sha256: hex(&received_sha),
        expected_sha256: hex(&expected_sha),
        mismatch,
        handoff: evidence,
        skipped_records: outcome.skipped,
        close: outcome.close,
        key_updates_requested: outcome.key_updates_requested,
        key_updates: outcome.key_updates,
        key_update_shortfall,
    })
}
