//! The TLS 1.2 PRF (RFC 5246 §5) and the key block of the AEAD suites (RFC 5246 §6.3; AES-GCM
//! RFC 5288, ChaCha20-Poly1305 RFC 7905), as DTLS 1.2 uses them. Needed because OpenSSL exposes the master secret but not the record keys.

use crate::keys::Cipher;
use crate::Error;
use ktls_record::protection::{GCM_SALT_LEN, NONCE_LEN};
use ring::hmac;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The PRF hash of a TLS 1.2 cipher suite: SHA-256 unless the suite name ends in `_SHA384`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrfHash {
    Sha256,
    Sha384,
}

impl PrfHash {
    fn algorithm(self) -> hmac::Algorithm {
        match self {
            PrfHash::Sha256 => hmac::HMAC_SHA256,
            PrfHash::Sha384 => hmac::HMAC_SHA384,
        }
    }
}

/// `PRF(secret, label, seed)` = `P_hash(secret, label ‖ seed)`, filling `out`.
///
/// `P_hash(s, seed) = HMAC(s, A(1) ‖ seed) ‖ HMAC(s, A(2) ‖ seed) ‖ …` with `A(0) = seed` and
/// `A(i) = HMAC(s, A(i-1))`.
pub fn tls12_prf(hash: PrfHash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let key = hmac::Key::new(hash.algorithm(), secret);
    let mut label_seed = Zeroizing::new(Vec::with_capacity(label.len() + seed.len()));
    label_seed.extend_from_slice(label);
    label_seed.extend_from_slice(seed);

    let mut a = hmac::sign(&key, &label_seed);
    let mut filled = 0;
    while filled < out.len() {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(&label_seed);
        let block = ctx.sign();
        let take = block.as_ref().len().min(out.len() - filled);
        out[filled..filled + take].copy_from_slice(&block.as_ref()[..take]);
        filled += take;
        a = hmac::sign(&key, a.as_ref());
    }
}

/// The inputs of the key expansion, as a TLS 1.2 or DTLS 1.2 session knows them.
pub struct Tls12KeyBlockInputs<'a> {
    /// 48 bytes; already includes the extended master secret if that was negotiated.
    pub master_secret: &'a [u8],
    pub client_random: &'a [u8; 32],
    pub server_random: &'a [u8; 32],
    pub cipher: Cipher,
    pub prf_hash: PrfHash,
}

/// The implicit nonce part of the key block: `fixed_iv_length`, 4 bytes of salt for AES-GCM
/// (RFC 5288 §3) and the whole 12-byte IV for ChaCha20-Poly1305 (RFC 7905 §2).
const fn fixed_iv_len(cipher: Cipher) -> usize {
    match cipher {
        Cipher::Aes128Gcm | Cipher::Aes256Gcm => GCM_SALT_LEN,
        Cipher::Chacha20Poly1305 => NONCE_LEN,
    }
}

/// The parts of an AEAD suite's key block (no MAC keys: AEAD suites have `mac_key_length` 0).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Tls12KeyBlock {
    #[zeroize(skip)]
    cipher: Cipher,
    client_write_key: [u8; 32],
    server_write_key: [u8; 32],
    client_write_iv: [u8; NONCE_LEN],
    server_write_iv: [u8; NONCE_LEN],
}

impl Tls12KeyBlock {
    /// `key_block = PRF(master_secret, "key expansion", server_random ‖ client_random)`, cut into
    /// client key, server key, client IV, server IV (note: server random first; RFC 5246 §6.3).
    pub fn derive(inputs: &Tls12KeyBlockInputs<'_>) -> Result<Self, Error> {
        if inputs.master_secret.len() != 48 {
            return Err(Error::InvalidKeyMaterial(
                "TLS 1.2 master secret must be 48 bytes",
            ));
        }
        let key_len = inputs.cipher.key_len();
        let iv_len = fixed_iv_len(inputs.cipher);
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(inputs.server_random);
        seed[32..].copy_from_slice(inputs.client_random);
        let mut block = Zeroizing::new([0u8; 2 * 32 + 2 * NONCE_LEN]);
        let block_len = 2 * key_len + 2 * iv_len;
        tls12_prf(
            inputs.prf_hash,
            inputs.master_secret,
            b"key expansion",
            &seed,
            &mut block[..block_len],
        );
        let mut out = Tls12KeyBlock {
            cipher: inputs.cipher,
            client_write_key: [0; 32],
            server_write_key: [0; 32],
            client_write_iv: [0; NONCE_LEN],
            server_write_iv: [0; NONCE_LEN],
        };
        let (client_key, rest) = block.split_at(key_len);
        let (server_key, rest) = rest.split_at(key_len);
        let (client_iv, rest) = rest.split_at(iv_len);
        let server_iv = &rest[..iv_len];
        out.client_write_key[..key_len].copy_from_slice(client_key);
        out.server_write_key[..key_len].copy_from_slice(server_key);
        out.client_write_iv[..iv_len].copy_from_slice(client_iv);
        out.server_write_iv[..iv_len].copy_from_slice(server_iv);
        Ok(out)
    }

    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    pub fn client_write_key(&self) -> &[u8] {
        &self.client_write_key[..self.cipher.key_len()]
    }

    pub fn server_write_key(&self) -> &[u8] {
        &self.server_write_key[..self.cipher.key_len()]
    }

    /// `client_write_IV`: the 4-byte salt (AES-GCM) or the 12-byte IV (ChaCha20-Poly1305).
    pub fn client_write_iv(&self) -> &[u8] {
        &self.client_write_iv[..fixed_iv_len(self.cipher)]
    }

    /// `server_write_IV`: the 4-byte salt (AES-GCM) or the 12-byte IV (ChaCha20-Poly1305).
    pub fn server_write_iv(&self) -> &[u8] {
        &self.server_write_iv[..fixed_iv_len(self.cipher)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
            .collect()
    }

    // The TLS 1.2 PRF test vectors published on the IETF TLS mailing list (SHA-256 and SHA-384),
    // also used by other implementations' test suites.
    #[test]
    fn prf_sha256_vector() {
        let secret = hex("9bbe436ba940f017b17652849a71db35");
        let seed = hex("a0ba9f936cda311827a6f796ffd5198c");
        let mut out = [0u8; 100];
        tls12_prf(PrfHash::Sha256, &secret, b"test label", &seed, &mut out);
        assert_eq!(
            out.to_vec(),
            hex(concat!(
                "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a",
                "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab",
                "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701",
                "87347b66"
            ))
        );
    }

    #[test]
    fn prf_sha384_vector() {
        let secret = hex("b80b733d6ceefcdc71566ea48e5567df");
        let seed = hex("cd665cf6a8447dd6ff8b27555edb7465");
        let mut out = [0u8; 148];
        tls12_prf(PrfHash::Sha384, &secret, b"test label", &seed, &mut out);
        assert_eq!(
            out.to_vec(),
            hex(concat!(
                "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd",
                "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd",
                "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425",
                "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6",
                "91c8f3a26854308d5eaa3be85e0990703d73e56f"
            ))
        );
    }

    #[test]
    fn key_block_is_split_client_then_server() {
        let master = [7u8; 48];
        let client_random = [1u8; 32];
        let server_random = [2u8; 32];
        let inputs = Tls12KeyBlockInputs {
            master_secret: &master,
            client_random: &client_random,
            server_random: &server_random,
            cipher: Cipher::Aes256Gcm,
            prf_hash: PrfHash::Sha384,
        };
        let kb = Tls12KeyBlock::derive(&inputs).expect("derives");
        let mut seed = Vec::new();
        seed.extend_from_slice(&server_random);
        seed.extend_from_slice(&client_random);
        let mut expected = [0u8; 72];
        tls12_prf(
            PrfHash::Sha384,
            &master,
            b"key expansion",
            &seed,
            &mut expected,
        );
        assert_eq!(kb.client_write_key(), &expected[..32]);
        assert_eq!(kb.server_write_key(), &expected[32..64]);
        assert_eq!(kb.client_write_iv(), &expected[64..68]);
        assert_eq!(kb.server_write_iv(), &expected[68..72]);
    }

    #[test]
    fn chacha20_key_block_has_12_byte_ivs() {
        let master = [7u8; 48];
        let inputs = Tls12KeyBlockInputs {
            master_secret: &master,
            client_random: &[1; 32],
            server_random: &[2; 32],
            cipher: Cipher::Chacha20Poly1305,
            prf_hash: PrfHash::Sha256,
        };
        let kb = Tls12KeyBlock::derive(&inputs).expect("derives");
        let mut seed = [2u8; 64];
        seed[32..].fill(1);
        let mut expected = [0u8; 88];
        tls12_prf(
            PrfHash::Sha256,
            &master,
            b"key expansion",
            &seed,
            &mut expected,
        );
        assert_eq!(kb.client_write_key(), &expected[..32]);
        assert_eq!(kb.server_write_key(), &expected[32..64]);
        assert_eq!(kb.client_write_iv(), &expected[64..76]);
        assert_eq!(kb.server_write_iv(), &expected[76..88]);
    }

    #[test]
    fn key_block_rejects_bad_inputs() {
        let inputs = |master: &'static [u8], cipher| Tls12KeyBlockInputs {
            master_secret: master,
            client_random: &[0; 32],
            server_random: &[0; 32],
            cipher,
            prf_hash: PrfHash::Sha256,
        };
        assert!(Tls12KeyBlock::derive(&inputs(&[0; 47], Cipher::Aes128Gcm)).is_err());
        assert!(Tls12KeyBlock::derive(&inputs(&[0; 48], Cipher::Chacha20Poly1305)).is_ok());
        assert!(Tls12KeyBlock::derive(&inputs(&[0; 48], Cipher::Aes128Gcm)).is_ok());
    }
}
