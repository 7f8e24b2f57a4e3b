//! Protocol suites and the fixed keys every backend of a measurement uses. Steady-state
//! throughput needs no handshake: both ends get the same key material a handshake would give
//! them (the client's TX keys are the server's RX keys and the other way round).

use af_ktls::{Cipher, DirectionKeys, KeyMaterial, Version};
use ktls_record::protection::{CipherSuite, ProtocolVersion, RecordProtection};
use std::fmt;

/// A version and a cipher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Suite {
    pub version: Version,
    pub cipher: Cipher,
}

impl Suite {
    pub const TLS12_AES128: Suite = Suite::new(Version::Tls12, Cipher::Aes128Gcm);
    pub const TLS13_AES128: Suite = Suite::new(Version::Tls13, Cipher::Aes128Gcm);
    pub const TLS13_AES256: Suite = Suite::new(Version::Tls13, Cipher::Aes256Gcm);
    pub const TLS13_CHACHA: Suite = Suite::new(Version::Tls13, Cipher::Chacha20Poly1305);
    pub const DTLS12_AES128: Suite = Suite::new(Version::Dtls12, Cipher::Aes128Gcm);

    /// The stream suites of the issue: TLS 1.2 AES-128-GCM and TLS 1.3 with each cipher.
    pub const STREAM: [Suite; 4] = [
        Suite::TLS12_AES128,
        Suite::TLS13_AES128,
        Suite::TLS13_AES256,
        Suite::TLS13_CHACHA,
    ];

    pub const fn new(version: Version, cipher: Cipher) -> Self {
        Suite { version, cipher }
    }

    /// The record layer's view of the suite.
    pub fn protection(self) -> RecordProtection {
        let version = match self.version {
            Version::Tls12 => ProtocolVersion::Tls12,
            Version::Tls13 => ProtocolVersion::Tls13,
            Version::Dtls12 => ProtocolVersion::Dtls12,
        };
        let cipher = match self.cipher {
            Cipher::Aes128Gcm => CipherSuite::Aes128Gcm,
            Cipher::Aes256Gcm => CipherSuite::Aes256Gcm,
            Cipher::Chacha20Poly1305 => CipherSuite::Chacha20Poly1305,
        };
        RecordProtection::new(version, cipher)
    }

    /// Short name used in configuration labels: `tls13-aes128gcm`.
    pub fn name(self) -> String {
        let version = match self.version {
            Version::Tls12 => "tls12",
            Version::Tls13 => "tls13",
            Version::Dtls12 => "dtls12",
        };
        format!("{version}-{}", cipher_name(self.cipher))
    }

    /// Keys for both ends: (client, server).
    pub fn key_pair(self) -> (KeyMaterial, KeyMaterial) {
        let first_seq = if self.version.is_datagram() {
            1 << 48 // epoch 1, sequence 0
        } else {
            0
        };
        let c2s = self.direction(0x11, first_seq);
        let s2c = self.direction(0x22, first_seq);
        // Both directions share the version and cipher by construction.
        let client = KeyMaterial {
            tx: c2s.clone(),
            rx: s2c.clone(),
        };
        let server = KeyMaterial { tx: s2c, rx: c2s };
        (client, server)
    }

    fn direction(self, fill: u8, rec_seq: u64) -> DirectionKeys {
        let key = [fill; 32];
        let mut iv = [0u8; 12];
        for (i, b) in iv.iter_mut().enumerate() {
            *b = fill.wrapping_add(i as u8);
        }
        match DirectionKeys::new(
            self.version,
            self.cipher,
            &key[..self.cipher.key_len()],
            iv,
            rec_seq,
        ) {
            Ok(keys) => keys,
            // The suites are constants of this program: a failure here is a programming error.
            Err(e) => panic!("fixed keys for {self}: {e}"),
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

pub fn cipher_name(cipher: Cipher) -> &'static str {
    match cipher {
        Cipher::Aes128Gcm => "aes128gcm",
        Cipher::Aes256Gcm => "aes256gcm",
        Cipher::Chacha20Poly1305 => "chacha20poly1305",
    }
}
