// SPDX-License-Identifier: GPL-2.0

//! A small safe wrapper over the kernel's AEAD API: one transform and one request per direction,
//! allocated when the keys are installed, so that no record allocates. Its operations take
//! scatterlists ([`crate::sg`]) that borrow the memory they describe.
//!
//! When the transform is asynchronous (`cryptd`, hardware engines), decrypt-ahead starts
//! [`AsyncOpen`] operations instead, several at once, each with its own request and memory; the
//! transform lives as long as any of them.

use core::ptr::NonNull;

use kernel::{
    bindings,
    error::{
        from_err_ptr,
        to_result, //
    },
    prelude::*,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Release, //
        },
        Arc,
        Completion, //
    },
};

use crate::{
    helpers,
    net::inet::SkbHold,
    pages::PageChunk,
    record::{
        nonce::TLS12_AAD_LEN,
        protection::{
            CipherSuite,
            NONCE_LEN, //
        },
    },
    sg::{
        self,
        HeapBytes,
        SgDest,
        SgSource,
        SgTable, //
    },
};

/// An AEAD transform, keyed.
///
/// # Invariants
///
/// `tfm` comes from a successful `raead_alloc` and is freed only by `drop`.
struct Transform {
    tfm: NonNull<helpers::crypto_aead>,
}

// SAFETY: A keyed transform is used through requests, from any task; freeing it is `drop`'s.
unsafe impl Send for Transform {}

// SAFETY: `&Transform` only allocates requests for it, which the crypto API allows concurrently.
unsafe impl Sync for Transform {}

impl Drop for Transform {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the transform is ours; every request of it is gone
        // (each holds a reference to this value).
        unsafe { helpers::raead_tfm_free(self.tfm.as_ptr()) };
    }
}

/// An AEAD transform with its request, keyed for one direction of one socket.
///
/// # Invariants
///
/// `req` is a request of `transform`'s transform, freed only by `drop`.
pub(crate) struct Aead {
    transform: Arc<Transform>,
    req: NonNull<helpers::aead_request>,
    tag_len: usize,
    is_async: bool,
}

// SAFETY: The transform and request are used only through `&mut self` (one operation at a time),
// and the crypto API allows using them from any task.
unsafe impl Send for Aead {}

impl Aead {
    /// Allocates the kernel implementation of `cipher` and installs `key`. With the
    /// `force_cryptd` module parameter set, the implementation is wrapped in `cryptd()`, which
    /// makes it asynchronous (for testing).
    ///
    /// Fails with `EINVAL` for a key of the wrong length and `ENOENT` when the kernel lacks the
    /// algorithm.
    pub(crate) fn new(cipher: CipherSuite, key: &[u8]) -> Result<Self> {
        if key.len() != cipher.key_len() {
            return Err(EINVAL);
        }
        let tag_len = cipher.tag_len();
        // SAFETY: Reads a module parameter.
        let cryptd = unsafe { helpers::af_ktls_param_force_cryptd() };
        let mut req = core::ptr::null_mut();
        // SAFETY: The name is a NUL-terminated string, `key` is valid for its length and `req`
        // is a valid place for the request pointer.
        let tfm = from_err_ptr(unsafe {
            helpers::raead_alloc(
                cipher.kernel_aead_name().as_char_ptr().cast(),
                key.as_ptr(),
                key.len() as u32,
                tag_len as u32,
                cryptd,
                &mut req,
            )
        })?;
        let (Some(tfm), Some(req)) = (NonNull::new(tfm), NonNull::new(req)) else {
            return Err(ENOMEM);
        };
        // INVARIANT: `tfm` comes from a successful allocation.
        let transform = Transform { tfm };
        // SAFETY: The transform is live.
        let is_async = unsafe { helpers::raead_is_async(transform.tfm.as_ptr()) };
        match Arc::new(transform, GFP_KERNEL) {
            // INVARIANT: `req` is a request of this transform.
            Ok(transform) => Ok(Self {
                transform,
                req,
                tag_len,
                is_async,
            }),
            Err(err) => {
                // SAFETY: `req` is ours and unused; the transform goes with `transform`.
                unsafe { helpers::raead_request_free(req.as_ptr()) };
                Err(err.into())
            }
        }
    }

    /// Whether the implementation is asynchronous: its operations may complete later, from
    /// another context ([`AsyncOpen`] lets several run at once).
    pub(crate) fn is_async(&self) -> bool {
        self.is_async
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
        // SAFETY: By the type invariant the request is ours, and no operation runs (`&mut self`
        // methods wait for theirs); the transform goes with the last reference.
        unsafe { helpers::raead_request_free(self.req.as_ptr()) };
    }
}

/// The status of an [`AsyncOpen`] whose operation is not over.
const PENDING: i32 = 1;

/// What decrypting one record takes besides its memory: the nonce, the AAD (its first
/// `aad_len` bytes), and `cryptlen` bytes of ciphertext and tag, the tag `tag_len` bytes long.
pub(crate) struct OpenParams {
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) aad: [u8; TLS12_AAD_LEN],
    pub(crate) aad_len: usize,
    pub(crate) cryptlen: usize,
    pub(crate) tag_len: usize,
}

/// A decryption that may complete after the call that started it (an asynchronous transform).
/// It owns everything its scatterlists describe, the nonce, the AAD, the held socket buffers of
/// the ciphertext and the plaintext's chunk, until the operation is over: [`Self::finish`] waits
/// for that, and so does dropping it. The transform lives at least as long.
pub(crate) struct AsyncOpen {
    op: Pin<KBox<AsyncOpenOp>>,
}

/// The memory and state of an [`AsyncOpen`].
///
/// # Invariants
///
/// `req` is a request of `transform`'s transform, freed only by `drop`. Once `started`, the
/// crypto API may use `req`, the heap bytes, the tables' entries, `hold`'s buffers and `chunk`
/// until `status` is no longer `PENDING` (then `done` is complete); nothing else touches them
/// meanwhile.
#[pin_data(PinnedDrop)]
struct AsyncOpenOp {
    transform: Arc<Transform>,
    req: NonNull<helpers::aead_request>,
    #[pin]
    done: Completion,
    status: Atomic<i32>,
    started: bool,
    nonce: HeapBytes<NONCE_LEN>,
    aad_in: HeapBytes<TLS12_AAD_LEN>,
    aad_out: HeapBytes<TLS12_AAD_LEN>,
    src: SgTable,
    dst: SgTable,
    #[pin]
    hold: SkbHold,
    chunk: Option<PageChunk>,
}

// SAFETY: The operation's memory is touched by the crypto API (any context) only while it runs,
// and by the owner only through `&mut`, once it is over; the status and completion are atomic.
unsafe impl Send for AsyncOpenOp {}

// SAFETY: `&AsyncOpenOp` reads the atomic status and waits on the completion only.
unsafe impl Sync for AsyncOpenOp {}

impl AsyncOpen {
    /// Allocates an operation for `aead`'s transform, with scatterlist tables of `entries`.
    pub(crate) fn new(aead: &Aead, entries: usize) -> Result<Self> {
        // SAFETY: The transform is live (`aead` holds it).
        let req = unsafe { helpers::raead_request_alloc(aead.transform.tfm.as_ptr()) };
        let req = NonNull::new(req).ok_or(ENOMEM)?;
        let op = KBox::pin_init(
            // INVARIANT: `req` is a request of this transform; nothing is started.
            try_pin_init!(AsyncOpenOp {
                transform: aead.transform.clone(),
                req,
                done <- Completion::new(),
                status: Atomic::new(PENDING),
                started: false,
                nonce: HeapBytes::new()?,
                aad_in: HeapBytes::new()?,
                aad_out: HeapBytes::new()?,
                src: SgTable::new(entries)?,
                dst: SgTable::new(entries)?,
                hold <- SkbHold::new(),
                chunk: None,
            }? Error),
            GFP_KERNEL,
        );
        match op {
            Ok(op) => Ok(Self { op }),
            Err(err) => {
                // SAFETY: The request is unused, and was not stored.
                unsafe { helpers::raead_request_free(req.as_ptr()) };
                Err(err)
            }
        }
    }

    /// Starts decrypting the record `params` describes into the first `cryptlen - tag_len`
    /// bytes of `chunk`. `map_ciphertext` adds the ciphertext to the source list, from socket
    /// buffers it holds in the given [`SkbHold`]. Returns without waiting; [`Self::finish`]
    /// gives the result.
    pub(crate) fn start(
        &mut self,
        params: &OpenParams,
        chunk: PageChunk,
        map_ciphertext: impl for<'a> FnOnce(&mut SgSource<'a>, &'a SkbHold) -> Result,
    ) -> Result {
        let OpenParams {
            nonce,
            aad,
            aad_len,
            cryptlen,
            tag_len,
        } = *params;
        let decrypted_len = cryptlen.checked_sub(tag_len).ok_or(EBADMSG)?;
        let assoclen = c_uint::try_from(aad_len).map_err(|_| EINVAL)?;
        let cryptlen32 = c_uint::try_from(cryptlen).map_err(|_| EINVAL)?;
        // SAFETY: Nothing below moves a pinned field (`done`, `hold` are only borrowed).
        let op = unsafe { self.op.as_mut().get_unchecked_mut() };
        if op.started {
            return Err(EBUSY);
        }
        *op.nonce.get_mut() = nonce;
        *op.aad_in.get_mut() = aad;
        *op.aad_out.get_mut() = aad;
        let chunk = op.chunk.insert(chunk);
        let mut src = op.src.source();
        src.push_heap(&op.aad_in, aad_len)?;
        map_ciphertext(&mut src, &op.hold)?;
        let mut dst = op.dst.dest();
        dst.push_heap(&mut op.aad_out, aad_len)?;
        dst.push_chunk(chunk, 0..decrypted_len)?;
        if src.len() < aad_len + cryptlen {
            return Err(EINVAL);
        }
        let (src, dst) = sg::lists_for_crypt(&mut src, &mut dst)?;
        op.started = true;
        let req = op.req.as_ptr();
        let iv = op.nonce.get_mut().as_mut_ptr();
        // From here on the operation is only shared: the callback may run at any time.
        let raw: *mut AsyncOpenOp = op;
        // SAFETY: By the type invariant `req` is a request of the live transform. The lists
        // describe memory this operation owns (heap bytes, the chunk, socket buffers held by
        // `hold`), which stays valid and untouched until it is over (`finish` and `drop` wait);
        // the operation is pinned, so the callback's pointer stays valid.
        let started = unsafe {
            helpers::raead_start(
                req,
                false,
                iv,
                src,
                dst,
                assoclen,
                cryptlen32,
                Some(Self::completed),
                raw.cast(),
            )
        };
        if started != -(bindings::EINPROGRESS as i32) {
            // SAFETY: `raw` is the pinned operation, alive; only shared access from here on.
            let op = unsafe { &*raw };
            // Over already (done at once, or refused): no callback comes.
            op.status.store(started, Release);
            op.done.complete_all();
        }
        Ok(())
    }

    /// Waits until the operation is over; its chunk with the plaintext, or `EBADMSG` when the
    /// record did not authenticate (or the operation's error).
    pub(crate) fn finish(mut self) -> Result<PageChunk> {
        self.op.done.wait_for_completion();
        to_result(self.op.status.load(Acquire))?;
        // SAFETY: Nothing below moves a pinned field.
        let op = unsafe { self.op.as_mut().get_unchecked_mut() };
        op.chunk.take().ok_or(EINVAL)
    }

    /// The transform's completion callback.
    ///
    /// # Safety
    ///
    /// `data` is the `AsyncOpenOp` of an operation started by [`Self::start`] and not over.
    unsafe extern "C" fn completed(data: *mut c_void, err: c_int) {
        if err == -(bindings::EINPROGRESS as i32) {
            // A backlogged request started; the result comes later.
            return;
        }
        // SAFETY: The caller guarantees `data` is a live operation, which stays so until its
        // completion is signalled (its owner waits for it).
        let op = unsafe { &*data.cast::<AsyncOpenOp>() };
        op.status.store(err, Release);
        op.done.complete_all();
    }
}

#[pinned_drop]
impl PinnedDrop for AsyncOpenOp {
    fn drop(self: Pin<&mut Self>) {
        if self.started {
            // The crypto API may still use the memory: wait until it is done with it.
            self.done.wait_for_completion();
        }
        // SAFETY: By the type invariant the request is ours and, the operation being over (or
        // never started), unused. The transform stays until `transform` drops after this.
        unsafe { helpers::raead_request_free(self.req.as_ptr()) };
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
