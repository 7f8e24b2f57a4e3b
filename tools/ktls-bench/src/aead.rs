//! Userspace AEAD for the `userspace` backends: OpenSSL's EVP interface (AES-NI/AVX and
//! PCLMULQDQ code on this CPU) and ring (the crypto under rustls), each context keyed once and
//! reused for every record: no allocation per record.

use af_ktls::Cipher;
use openssl::cipher::{Cipher as OsslCipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;
use std::fmt;

use ktls_record::protection::{AEAD_TAG_LEN, NONCE_LEN};

/// Which userspace crypto library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Openssl,
    Ring,
}

#[derive(Debug)]
pub struct AeadError(pub String);

impl fmt::Display for AeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AeadError {}

impl From<openssl::error::ErrorStack> for AeadError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        AeadError(format!("OpenSSL: {e}"))
    }
}

impl From<AeadError> for std::io::Error {
    fn from(e: AeadError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// One direction's AEAD: seals (encrypt) or opens (decrypt) records.
pub enum Aead {
    Openssl { ctx: CipherCtx, encrypt: bool },
    Ring(Box<ring::aead::LessSafeKey>),
}

fn openssl_cipher(cipher: Cipher) -> &'static CipherRef {
    match cipher {
        Cipher::Aes128Gcm => OsslCipher::aes_128_gcm(),
        Cipher::Aes256Gcm => OsslCipher::aes_256_gcm(),
        Cipher::Chacha20Poly1305 => OsslCipher::chacha20_poly1305(),
    }
}

impl Aead {
    pub fn new(
        engine: Engine,
        cipher: Cipher,
        key: &[u8],
        encrypt: bool,
    ) -> Result<Self, AeadError> {
        match engine {
            Engine::Openssl => {
                let mut ctx = CipherCtx::new()?;
                if encrypt {
                    ctx.encrypt_init(Some(openssl_cipher(cipher)), Some(key), None)?;
                } else {
                    ctx.decrypt_init(Some(openssl_cipher(cipher)), Some(key), None)?;
                }
                ctx.set_iv_length(NONCE_LEN)?;
                Ok(Aead::Openssl { ctx, encrypt })
            }
            Engine::Ring => {
                let alg = match cipher {
                    Cipher::Aes128Gcm => &ring::aead::AES_128_GCM,
                    Cipher::Aes256Gcm => &ring::aead::AES_256_GCM,
                    Cipher::Chacha20Poly1305 => &ring::aead::CHACHA20_POLY1305,
                };
                let key = ring::aead::UnboundKey::new(alg, key)
                    .map_err(|_| AeadError("ring: bad key length".into()))?;
                Ok(Aead::Ring(Box::new(ring::aead::LessSafeKey::new(key))))
            }
        }
    }

    /// Encrypts the concatenation of `parts` into `out` and appends the tag; returns the bytes
    /// written (`sum of parts + AEAD_TAG_LEN`). OpenSSL encrypts straight from the parts into `out`;
    /// ring works in place, so the parts are copied first (as rustls does).
    pub fn seal(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, AeadError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if out.len() < len + AEAD_TAG_LEN {
            return Err(AeadError("seal: output too short".into()));
        }
        match self {
            Aead::Openssl { ctx, encrypt } => {
                debug_assert!(*encrypt);
                ctx.encrypt_init(None, None, Some(nonce))?;
                ctx.cipher_update(aad, None)?;
                let mut pos = 0;
                for part in parts {
                    pos += ctx.cipher_update(part, Some(&mut out[pos..]))?;
                }
                pos += ctx.cipher_final(&mut out[pos..])?;
                ctx.tag(&mut out[pos..pos + AEAD_TAG_LEN])?;
                Ok(pos + AEAD_TAG_LEN)
            }
            Aead::Ring(key) => {
                let mut pos = 0;
                for part in parts {
                    out[pos..pos + part.len()].copy_from_slice(part);
                    pos += part.len();
                }
                let tag = key
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(*nonce),
                        ring::aead::Aad::from(aad),
                        &mut out[..pos],
                    )
                    .map_err(|_| AeadError("ring: seal failed".into()))?;
                out[pos..pos + AEAD_TAG_LEN].copy_from_slice(tag.as_ref());
                Ok(pos + AEAD_TAG_LEN)
            }
        }
    }

    /// Decrypts `buf` (ciphertext then tag) in place; returns the plaintext length, or an error
    /// when the record does not authenticate.
    pub fn open(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<usize, AeadError> {
        let Some(len) = buf.len().checked_sub(AEAD_TAG_LEN) else {
            return Err(AeadError("open: shorter than the tag".into()));
        };
        match self {
            Aead::Openssl { ctx, encrypt } => {
                debug_assert!(!*encrypt);
                let (data, tag) = buf.split_at_mut(len);
                ctx.decrypt_init(None, None, Some(nonce))?;
                ctx.set_tag(tag)?;
                ctx.cipher_update(aad, None)?;
                ctx.cipher_update_inplace(data, len)?;
                ctx.cipher_final(&mut [])
                    .map_err(|_| AeadError("record failed authentication".into()))?;
                Ok(len)
            }
            Aead::Ring(key) => key
                .open_in_place(
                    ring::aead::Nonce::assume_unique_for_key(*nonce),
                    ring::aead::Aad::from(aad),
                    buf,
                )
                .map(|plain| plain.len())
                .map_err(|_| AeadError("record failed authentication".into())),
        }
    }
}

impl Aead {
    /// OpenSSL only: decrypts `input` (ciphertext then tag) into `output`, leaving `input` as it
    /// was, so one sealed record can be opened again and again (the ceiling scenario).
    pub fn open_to(
        &mut self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, AeadError> {
        let Some(len) = input.len().checked_sub(AEAD_TAG_LEN) else {
            return Err(AeadError("open: shorter than the tag".into()));
        };
        let Aead::Openssl { ctx, .. } = self else {
            return Err(AeadError("open_to: OpenSSL only".into()));
        };
        let (data, tag) = input.split_at(len);
        ctx.decrypt_init(None, None, Some(nonce))?;
        ctx.set_tag(tag)?;
        ctx.cipher_update(aad, None)?;
        let n = ctx.cipher_update(data, Some(output))?;
        ctx.cipher_final(&mut [])
            .map_err(|_| AeadError("record failed authentication".into()))?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_agree() {
        for cipher in [
            Cipher::Aes128Gcm,
            Cipher::Aes256Gcm,
            Cipher::Chacha20Poly1305,
        ] {
            let key = vec![7u8; cipher.key_len()];
            let nonce = [3u8; NONCE_LEN];
            let plain: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
            let mut sealed = Vec::new();
            for engine in [Engine::Openssl, Engine::Ring] {
                let mut aead = Aead::new(engine, cipher, &key, true).expect("key");
                let mut out = vec![0u8; 1100];
                let n = aead
                    .seal(&nonce, b"aad", &[&plain[..600], &plain[600..]], &mut out)
                    .expect("seal");
                out.truncate(n);
                sealed.push(out);
            }
            assert_eq!(sealed[0], sealed[1], "{cipher:?}");
            for engine in [Engine::Openssl, Engine::Ring] {
                let mut aead = Aead::new(engine, cipher, &key, false).expect("key");
                let mut buf = sealed[0].clone();
                assert_eq!(aead.open(&nonce, b"aad", &mut buf).expect("open"), 1000);
                assert_eq!(&buf[..1000], &plain[..]);
                let mut bad = sealed[0].clone();
                bad[5] ^= 1;
                assert!(aead.open(&nonce, b"aad", &mut bad).is_err(), "{engine:?}");
            }
        }
    }
}
