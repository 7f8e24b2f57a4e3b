//! Command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// TLS 1.2/1.3 (TCP, rustls) and DTLS 1.2 (UDP, OpenSSL) client and server that hand the
/// connection to AF_KTLS, to mainline kernel TLS, or keep it in userspace, then move a
/// deterministic pattern and check it by SHA-256.
///
/// Data protocol: each side sends `--size` bytes of its own role's pattern and expects `--size`
/// bytes of the peer's pattern (or, with `--expect echo`, its own pattern back). With DTLS between
/// two ktls-tools each datagram carries a one-byte type (S start, D data, A acknowledgement) so
/// that the sender never has more than a window of data unacknowledged; `--peer-generic` drops
/// that framing for openssl/gnutls peers, whose data is the bare pattern.
#[derive(Parser, Debug)]
#[command(name = "ktls-tool", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Accept one connection (TCP) or association (UDP) and run the transfer.
    Server {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4433")]
        listen: String,
        #[command(flatten)]
        common: Common,
    },
    /// Connect and run the transfer.
    Client {
        /// Address to connect to.
        #[arg(long, default_value = "127.0.0.1:4433")]
        connect: String,
        /// Name to verify in the server certificate (default: the host of --connect).
        #[arg(long)]
        server_name: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Serve files over HTTPS (HTTP/1.1 GET/HEAD): rustls handshake, then the body with
    /// sendfile(2) on an AF_KTLS socket.
    Serve {
        /// Directory whose regular files are served.
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
        #[arg(long, value_enum, default_value = "1.3")]
        tls: TlsVersionArg,
        #[arg(long, value_enum, default_value = "aes128gcm")]
        cipher: CipherArg,
        /// Server certificate chain (PEM).
        #[arg(long)]
        cert: PathBuf,
        /// Server private key (PEM).
        #[arg(long)]
        key: PathBuf,
        /// Serve this many connections, then exit (default: for ever).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Write a role's pattern to stdout (to feed openssl/gnutls in interop tests).
    Pattern {
        #[arg(long, value_enum)]
        role: RoleArg,
        #[arg(long, value_parser = parse_size)]
        size: u64,
        /// A command line for the reading tool (`K` for OpenSSL's s_client, `^rekey^` for
        /// gnutls-cli --inline-commands) after every --command-every bytes. The output is then
        /// paced: through a pipe each write waits until the reader took the one before, so every
        /// read gets one write — the command alone, data in writes of at most 4000 bytes that
        /// never start with a letter OpenSSL takes as a command. The number of commands written
        /// goes to stderr.
        #[arg(long, requires = "command_every")]
        command: Option<String>,
        #[arg(long, value_parser = parse_size, requires = "command", value_name = "BYTES")]
        command_every: Option<u64>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// TLS version over TCP.
    #[arg(long, value_enum, default_value = "1.3", conflicts_with = "dtls")]
    pub tls: TlsVersionArg,
    /// DTLS 1.2 over UDP instead of TLS over TCP.
    #[arg(long)]
    pub dtls: bool,
    #[arg(long, value_enum, default_value = "aes128gcm")]
    pub cipher: CipherArg,
    /// Who moves the data after the handshake.
    #[arg(long, value_enum, default_value = "userspace")]
    pub backend: Backend,
    /// Bytes to send and to receive (suffixes K, M, G: powers of 1024).
    #[arg(long, value_parser = parse_size, default_value = "1M")]
    pub size: u64,
    /// Bytes per write (one record each below 16 KiB; DTLS: one datagram each).
    #[arg(long, value_parser = parse_size)]
    pub payload: Option<u64>,
    #[arg(long, value_enum, default_value = "both")]
    pub direction: DirectionArg,
    /// What the received stream is: the peer's pattern, or our own echoed back.
    #[arg(long, value_enum, default_value = "peer")]
    pub expect: ExpectArg,
    /// The peer is openssl/gnutls, not ktls-tool: no DTLS framing, plain pattern bytes.
    #[arg(long)]
    pub peer_generic: bool,
    /// DTLS: largest datagram (record overhead included).
    #[arg(long, default_value_t = 1400)]
    pub mtu: u32,
    /// DTLS: bytes a sender may have unacknowledged (ktls-tool peers only).
    #[arg(long, value_parser = parse_size, default_value = "256K")]
    pub window: u64,
    /// Seconds without progress before giving up.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Server certificate chain (PEM).
    #[arg(long, default_value_os_t = default_cert_dir().join("server.pem"))]
    pub cert: PathBuf,
    /// Server private key (PEM).
    #[arg(long, default_value_os_t = default_cert_dir().join("server.key"))]
    pub key: PathBuf,
    /// CA certificate that clients trust (PEM).
    #[arg(long, default_value_os_t = default_cert_dir().join("ca.pem"))]
    pub ca: PathBuf,
    /// Print one JSON object with the results on stdout.
    #[arg(long)]
    pub json: bool,
    /// Explain the handoff (sequence numbers, nonces) on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// TLS 1.3: send a KeyUpdate that asks the peer for one too (`update_requested`) every BYTES
    /// of data sent, so both directions change keys during the transfer.
    #[arg(long, value_parser = parse_size, value_name = "BYTES")]
    pub key_update_every: Option<u64>,
    /// Fail (exit 1) unless the peer sent at least N KeyUpdates. af_ktls and ulp backends, which
    /// count them.
    #[arg(long, value_name = "N")]
    pub expect_key_updates: Option<u64>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersionArg {
    #[value(name = "1.2")]
    V12,
    #[value(name = "1.3")]
    V13,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherArg {
    Aes128gcm,
    Aes256gcm,
    Chacha20,
}

impl CipherArg {
    /// The record layer's cipher.
    pub fn cipher(self) -> af_ktls::Cipher {
        match self {
            CipherArg::Aes128gcm => af_ktls::Cipher::Aes128Gcm,
            CipherArg::Aes256gcm => af_ktls::Cipher::Aes256Gcm,
            CipherArg::Chacha20 => af_ktls::Cipher::Chacha20Poly1305,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// rustls/OpenSSL keep doing the records.
    Userspace,
    /// Mainline kernel TLS (`TCP_ULP "tls"`); TLS over TCP only.
    Ulp,
    /// An AF_KTLS socket bound to the TCP/UDP socket.
    #[value(name = "af_ktls")]
    AfKtls,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Userspace => "userspace",
            Backend::Ulp => "ulp",
            Backend::AfKtls => "af_ktls",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectionArg {
    Send,
    Recv,
    Both,
}

impl DirectionArg {
    pub fn sends(self) -> bool {
        matches!(self, DirectionArg::Send | DirectionArg::Both)
    }

    pub fn receives(self) -> bool {
        matches!(self, DirectionArg::Recv | DirectionArg::Both)
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectArg {
    Peer,
    Echo,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleArg {
    Client,
    Server,
}

/// The committed test PKI, found relative to this crate so the same binary works on the host and
/// in the VM (which mounts the repository at the same path).
pub fn default_cert_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/certs")
}

/// "65536", "64K", "64M", "1G" (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, multiplier) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&text[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&text[..i], 1 << 30),
        _ => (text, 1),
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("not a size: {text:?}"))?;
    value
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size too large: {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("x").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "ktls-tool",
            "client",
            "--connect",
            "127.0.0.1:1",
            "--tls",
            "1.2",
            "--cipher",
            "chacha20",
            "--backend",
            "af_ktls",
            "--size",
            "4K",
            "--direction",
            "send",
            "--json",
        ])
        .expect("parses");
        let Command::Client { common, .. } = cli.command else {
            panic!("client")
        };
        assert_eq!(common.tls, TlsVersionArg::V12);
        assert_eq!(common.backend, Backend::AfKtls);
        assert_eq!(common.size, 4096);
        assert!(Cli::try_parse_from(["ktls-tool", "server", "--dtls", "--tls", "1.3"]).is_err());
        let cli = Cli::try_parse_from([
            "ktls-tool",
            "server",
            "--key-update-every",
            "64K",
            "--expect-key-updates",
            "3",
        ])
        .expect("parses");
        let Command::Server { common, .. } = cli.command else {
            panic!("server")
        };
        assert_eq!(common.key_update_every, Some(65536));
        assert_eq!(common.expect_key_updates, Some(3));
    }
}
