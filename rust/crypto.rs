// SPDX-License-Identifier: GPL-2.0

//! A small safe wrapper over the kernel's AEAD API: one transform and one request per direction,
//! allocated when the keys are installed, so that no record allocates.

use core::ptr::NonNull;

use kernel::{
    error::{
        from_err_ptr,
        to_result, //
    },
    prelude::*, //
};

use crate::{
    helpers,
    record::protection::{
        CipherSuite,
        NONCE_LEN, //
    }, //
};

/// An AEAD transform with its request, keyed for one direction of one socket.
///
/// # Invariants
///
/// `tfm` and `req` come from one successful `raead_alloc` and are freed only by `drop`;
/// `req` is bound to `tfm`.
pub(crate) struct Aead {
    tfm: NonNull<helpers::crypto_aead>,
    req: NonNull<helpers::aead_request>,
    tag_len: usize,
}

// SAFETY: The transform and request are used only through `&mut self` (one operation at a time),
// and the crypto API allows using them from any task.
unsafe impl Send for Aead {}

impl Aead {
    /// Allocates the kernel implementation of `cipher` and installs `key`.
    ///
    /// Fails with `EINVAL` for a key of the wrong length and `ENOENT` when the kernel lacks the
    /// algorithm.
    pub(crate) fn new(cipher: CipherSuite, key: &[u8]) -> Result<Self> {
        if key.len() != cipher.key_len() {
            return Err(EINVAL);
        }
        let tag_len = cipher.tag_len();
        let mut req = core::ptr::null_mut();
        // SAFETY: The name is a NUL-terminated string, `key` is valid for its length and `req`
        // is a valid place for the request pointer.
        let tfm = from_err_ptr(unsafe {
            helpers::raead_alloc(
                cipher.kernel_aead_name().as_char_ptr().cast(),
                key.as_ptr(),
                key.len() as u32,
                tag_len as u32,
                &mut req,
            )
        })?;
        match (NonNull::new(tfm), NonNull::new(req)) {
            // INVARIANT: Both come from one successful allocation.
            (Some(tfm), Some(req)) => Ok(Self { tfm, req, tag_len }),
            _ => Err(ENOMEM),
        }
    }

    /// Length of the authentication tag this transform appends.
    pub(crate) fn tag_len(&self) -> usize {
        self.tag_len
    }

    /// Encrypts the first `plaintext_len` bytes of `buf` in place and appends the tag.
    ///
    /// `buf` must hold `plaintext_len + tag_len` bytes and, like `aad` and `nonce`, live in the
    /// kernel's linear mapping (heap memory, not the stack).
    pub(crate) fn seal(
        &mut self,
        nonce: &mut [u8; NONCE_LEN],
        aad: &mut [u8],
        buf: &mut [u8],
        plaintext_len: usize,
    ) -> Result {
        let needed = plaintext_len.checked_add(self.tag_len).ok_or(EINVAL)?;
        if buf.len() < needed {
            return Err(EINVAL);
        }
        self.crypt(true, nonce, aad, buf, plaintext_len)
    }

    /// Decrypts `buf` (ciphertext and tag) in place and returns the plaintext length.
    ///
    /// Fails with `EBADMSG` when the record does not authenticate.
    pub(crate) fn open(
        &mut self,
        nonce: &mut [u8; NONCE_LEN],
        aad: &mut [u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let plaintext_len = buf.len().checked_sub(self.tag_len).ok_or(EBADMSG)?;
        self.crypt(false, nonce, aad, buf, buf.len())?;
        Ok(plaintext_len)
    }

    fn crypt(
        &mut self,
        encrypt: bool,
        nonce: &mut [u8; NONCE_LEN],
        aad: &mut [u8],
        buf: &mut [u8],
        data_len: usize,
    ) -> Result {
        let aad_len = u32::try_from(aad.len()).map_err(|_| EINVAL)?;
        let data_len = u32::try_from(data_len).map_err(|_| EINVAL)?;
        // SAFETY: By the type invariant `req` is a live request of this transform, used by one
        // operation at a time (`&mut self`). `nonce`, `aad` and `buf` are valid for the lengths
        // passed (checked by the callers) and outlive the call, which waits for completion.
        to_result(unsafe {
            helpers::raead_crypt(
                self.req.as_ptr(),
                encrypt,
                nonce.as_mut_ptr(),
                aad.as_mut_ptr(),
                aad_len,
                buf.as_mut_ptr(),
                data_len,
            )
        })
    }
}

impl Drop for Aead {
    fn drop(&mut self) {
        // SAFETY: By the type invariant both pointers come from one allocation and are freed here
        // only; the crypto API wipes the key schedule.
        unsafe { helpers::raead_free(self.tfm.as_ptr(), self.req.as_ptr()) };
    }
}

/// Overwrites `secret` with zeros in a way the compiler may not elide (`memzero_explicit`).
pub(crate) fn wipe(secret: &mut [u8]) {
    for byte in secret.iter_mut() {
        // SAFETY: `byte` is a valid, aligned `u8` place.
        unsafe { core::ptr::write_volatile(byte, 0) };
    }
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}
