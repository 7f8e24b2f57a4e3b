// SPDX-License-Identifier: GPL-2.0

//! A small safe wrapper over the kernel's AEAD API: one transform and one request per direction,
//! allocated when the keys are installed, so that no record allocates. Its operations take
//! scatterlists ([`crate::sg`]) that borrow the memory they describe.

use core::ptr::NonNull;

use kernel::{
    bindings,
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
    },
    sg::{
        self,
        HeapBytes,
        SgDest,
        SgSource, //
    },
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

    /// Encrypts or decrypts `src` into `dst`: both begin with `assoclen` bytes of AAD, then
    /// `src` has `cryptlen` bytes (decrypting: ciphertext and tag) and `dst` room for the
    /// result (encrypting: `cryptlen` bytes and the tag; decrypting: `cryptlen` less the tag).
    /// Fails with `EBADMSG` when a record does not authenticate, `EINVAL` if a list is short.
    pub(crate) fn crypt(
        &mut self,
        encrypt: bool,
        nonce: &mut HeapBytes<NONCE_LEN>,
        src: &mut SgSource<'_>,
        dst: &mut SgDest<'_>,
        assoclen: usize,
        cryptlen: usize,
    ) -> Result {
        let out_len = self.out_len(encrypt, cryptlen)?;
        if src.len() < assoclen + cryptlen || dst.len() < assoclen + out_len {
            return Err(EINVAL);
        }
        let (src, dst) = sg::lists_for_crypt(src, dst)?;
        self.run(encrypt, nonce, src, dst, assoclen, cryptlen)
    }

    /// As [`Self::crypt`], in place: `data` holds the AAD, then the input, with room for the tag
    /// when encrypting.
    pub(crate) fn crypt_in_place(
        &mut self,
        encrypt: bool,
        nonce: &mut HeapBytes<NONCE_LEN>,
        data: &mut SgDest<'_>,
        assoclen: usize,
        cryptlen: usize,
    ) -> Result {
        let out_len = self.out_len(encrypt, cryptlen)?;
        if data.len() < assoclen + cryptlen.max(out_len) {
            return Err(EINVAL);
        }
        let list = sg::list_in_place(data)?;
        self.run(encrypt, nonce, list, list, assoclen, cryptlen)
    }

    /// The output length of an operation on `cryptlen` bytes.
    fn out_len(&self, encrypt: bool, cryptlen: usize) -> Result<usize> {
        if encrypt {
            cryptlen.checked_add(self.tag_len).ok_or(EINVAL)
        } else {
            cryptlen.checked_sub(self.tag_len).ok_or(EBADMSG)
        }
    }

    fn run(
        &mut self,
        encrypt: bool,
        nonce: &mut HeapBytes<NONCE_LEN>,
        src: *mut bindings::scatterlist,
        dst: *mut bindings::scatterlist,
        assoclen: usize,
        cryptlen: usize,
    ) -> Result {
        let assoclen = c_uint::try_from(assoclen).map_err(|_| EINVAL)?;
        let cryptlen = c_uint::try_from(cryptlen).map_err(|_| EINVAL)?;
        // SAFETY: By the type invariant `req` is a live request of this transform, used by one
        // operation at a time (`&mut self`). The lists describe memory borrowed by the callers'
        // `SgSource`/`SgDest` for longer than this call, which waits for completion, and were
        // checked to be long enough; `nonce` is heap memory of the cipher's nonce size.
        to_result(unsafe {
            helpers::raead_crypt_sg(
                self.req.as_ptr(),
                encrypt,
                nonce.get_mut().as_mut_ptr(),
                src,
                dst,
                assoclen,
                cryptlen,
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
