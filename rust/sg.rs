// SPDX-License-Identifier: GPL-2.0

//! Scatterlists over borrowed memory, for the crypto API.
//!
//! [`SgTable`] is room for entries, allocated once. A [`SgSource`] (memory that is read) or
//! [`SgDest`] (memory that is written) is built in it for one operation and borrows everything
//! its entries point at for its lifetime `'a`, so the memory outlives the operation and, for a
//! destination, nothing else reads or writes it meanwhile. Entries only ever point at memory in
//! the kernel's linear mapping (heap allocations, pages), never at the (virtually mapped) stack.

use core::marker::PhantomData;

use kernel::{
    bindings,
    prelude::*, //
};

use crate::{
    helpers,
    pages::{
        PageChunk,
        PageRef,
        UserPages, //
    },
};

/// Bytes on the heap (`kmalloc`), which scatterlist entries may point at.
pub(crate) struct HeapBytes<const N: usize> {
    bytes: KBox<[u8; N]>,
}

impl<const N: usize> HeapBytes<N> {
    /// `N` zero bytes on the heap.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            bytes: KBox::new([0; N], GFP_KERNEL)?,
        })
    }

    /// The bytes.
    pub(crate) fn get(&self) -> &[u8; N] {
        &self.bytes
    }

    /// The bytes, for writing.
    pub(crate) fn get_mut(&mut self) -> &mut [u8; N] {
        &mut self.bytes
    }
}

/// Room for scatterlist entries.
///
/// # Invariants
///
/// `entries[touched..]` are as `sg_init_table` over the whole table left them: a list built
/// next re-initialises only the entries before `touched`, the ones the last list wrote (mainline
/// likewise initialises only the entries a record needs, not a whole table per record).
pub(crate) struct SgTable {
    entries: KVec<bindings::scatterlist>,
    touched: usize,
}

// SAFETY: The entries are plain memory, used by one operation at a time through `&mut self`.
unsafe impl Send for SgTable {}

impl SgTable {
    /// Room for `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Result<Self> {
        let mut entries = KVec::with_capacity(capacity, GFP_KERNEL)?;
        for _ in 0..capacity {
            entries.push(bindings::scatterlist::default(), GFP_KERNEL)?;
        }
        // INVARIANT: Every entry counts as written, so the first list initialises them all.
        Ok(Self {
            entries,
            touched: capacity,
        })
    }

    /// A list of memory to read, built in this table.
    pub(crate) fn source<'a>(&'a mut self) -> SgSource<'a> {
        SgSource {
            list: SgList::new(&mut self.entries, &mut self.touched),
            _memory: PhantomData,
        }
    }

    /// A list of memory to write, built in this table.
    pub(crate) fn dest<'a>(&'a mut self) -> SgDest<'a> {
        SgDest {
            list: SgList::new(&mut self.entries, &mut self.touched),
            _memory: PhantomData,
        }
    }
}

/// The entries of a list being built.
///
/// # Invariants
///
/// `entries[..used]` are initialised entries describing `bytes` bytes of memory in the kernel's
/// linear mapping, borrowed by the list that owns this value. `*touched` covers every entry the
/// list may have written (the table's invariant).
struct SgList<'a> {
    entries: &'a mut [bindings::scatterlist],
    touched: &'a mut usize,
    used: usize,
    bytes: usize,
}

impl<'a> SgList<'a> {
    /// A list in `entries`, of which those before `touched` were written since they were
    /// initialised.
    fn new(entries: &'a mut [bindings::scatterlist], touched: &'a mut usize) -> Self {
        let len = c_uint::try_from(entries.len()).unwrap_or(0);
        let dirty = c_uint::try_from(*touched).unwrap_or(len).min(len);
        // SAFETY: `entries` is valid for `len` entries, of which `dirty` are re-initialised.
        unsafe { helpers::rsg_init_prefix(entries.as_mut_ptr(), dirty, len) };
        *touched = 0;
        Self {
            entries,
            touched,
            used: 0,
            bytes: 0,
        }
    }

    /// Counts entries up to `used` as written.
    fn mark_touched(&mut self) {
        *self.touched = (*self.touched).max(self.used);
    }

    /// The next entry; `EMSGSIZE` when the table is full.
    fn next(&mut self) -> Result<*mut bindings::scatterlist> {
        let entry = self.entries.get_mut(self.used).ok_or(EMSGSIZE)?;
        Ok(entry)
    }

    /// Adds `len` bytes of `page` at `offset`.
    ///
    /// # Safety
    ///
    /// The bytes are valid, in the linear mapping, for the list's lifetime.
    unsafe fn push_page(&mut self, page: *mut bindings::page, offset: u32, len: u32) -> Result {
        let entry = self.next()?;
        // SAFETY: `entry` is an entry of the table; the caller vouches for the bytes.
        unsafe { helpers::rsg_set_page(entry, page, len, offset) };
        self.used += 1;
        self.mark_touched();
        self.bytes += len as usize;
        Ok(())
    }

    /// Adds `bytes`.
    ///
    /// # Safety
    ///
    /// `bytes` is in the linear mapping and valid for the list's lifetime.
    unsafe fn push_buf(&mut self, bytes: *const u8, len: usize) -> Result {
        let entry = self.next()?;
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        // SAFETY: `entry` is an entry of the table; the caller vouches for the bytes.
        unsafe { helpers::rsg_set_buf(entry, bytes.cast(), len32) };
        self.used += 1;
        self.mark_touched();
        self.bytes += len;
        Ok(())
    }

    /// Lets `fill` write entries into the rest of the table; it returns how many it used.
    ///
    /// # Safety
    ///
    /// The entries `fill` writes describe `len` bytes of linearly mapped memory valid for the
    /// list's lifetime.
    unsafe fn push_with(
        &mut self,
        len: usize,
        fill: impl FnOnce(*mut bindings::scatterlist, c_uint) -> Result<usize>,
    ) -> Result {
        let (touched, total) = (*self.touched, self.entries.len());
        let rest = self.entries.get_mut(self.used..).ok_or(EMSGSIZE)?;
        let room = c_uint::try_from(rest.len()).map_err(|_| EINVAL)?;
        // `fill` may write any of the rest before it fails.
        *self.touched = total;
        let used = fill(rest.as_mut_ptr(), room)?;
        if used > rest.len() {
            return Err(EINVAL);
        }
        self.used += used;
        *self.touched = touched.max(self.used);
        self.bytes += len;
        Ok(())
    }

    /// Marks the last entry as the end and returns the first, for the crypto API.
    fn finish(&mut self) -> Result<*mut bindings::scatterlist> {
        let last = self.used.checked_sub(1).ok_or(EINVAL)?;
        let entry = self.entries.get_mut(last).ok_or(EINVAL)?;
        // SAFETY: `entry` is an initialised entry of the table.
        unsafe { helpers::rsg_mark_end(entry) };
        Ok(self.entries.as_mut_ptr())
    }
}

/// A scatterlist of memory the crypto API reads, borrowed for `'a`.
pub(crate) struct SgSource<'a> {
    list: SgList<'a>,
    _memory: PhantomData<&'a [u8]>,
}

impl<'a> SgSource<'a> {
    /// The bytes the list describes.
    pub(crate) fn len(&self) -> usize {
        self.list.bytes
    }

    /// Adds the first `len` bytes of `bytes`.
    pub(crate) fn push_heap<const N: usize>(
        &mut self,
        bytes: &'a HeapBytes<N>,
        len: usize,
    ) -> Result {
        let bytes = bytes.get().get(..len).ok_or(EINVAL)?;
        // SAFETY: `HeapBytes` is heap memory, borrowed for `'a`.
        unsafe { self.list.push_buf(bytes.as_ptr(), bytes.len()) }
    }

    /// Adds `len` bytes of `page` at `offset`.
    ///
    /// The caller keeps the bytes unchanged until the operation ends (a page of the page cache or
    /// a pipe's, referenced for `'a`).
    pub(crate) fn push_page(&mut self, page: &'a PageRef, offset: u32, len: u32) -> Result {
        if offset as usize + len as usize > PAGE_CAP {
            return Err(EINVAL);
        }
        // SAFETY: The reference keeps the page for `'a`; pages are linearly mapped here.
        unsafe { self.list.push_page(page.as_ptr(), offset, len) }
    }

    /// Lets `fill` map memory owned elsewhere (socket buffers) into the rest of the table.
    ///
    /// # Safety
    ///
    /// The entries `fill` writes describe `len` bytes of linearly mapped memory that stays valid
    /// and unchanged for `'a`.
    pub(crate) unsafe fn push_with(
        &mut self,
        len: usize,
        fill: impl FnOnce(*mut bindings::scatterlist, c_uint) -> Result<usize>,
    ) -> Result {
        // SAFETY: The caller's promise is this one's.
        unsafe { self.list.push_with(len, fill) }
    }
}

/// A scatterlist of memory the crypto API writes (and, in place, reads), borrowed for `'a`.
pub(crate) struct SgDest<'a> {
    list: SgList<'a>,
    _memory: PhantomData<&'a mut [u8]>,
}

impl<'a> SgDest<'a> {
    /// The bytes the list describes.
    pub(crate) fn len(&self) -> usize {
        self.list.bytes
    }

    /// Adds the first `len` bytes of `bytes`.
    pub(crate) fn push_heap<const N: usize>(
        &mut self,
        bytes: &'a mut HeapBytes<N>,
        len: usize,
    ) -> Result {
        let bytes = bytes.get_mut().get_mut(..len).ok_or(EINVAL)?;
        // SAFETY: `HeapBytes` is heap memory, borrowed mutably for `'a`.
        unsafe { self.list.push_buf(bytes.as_mut_ptr(), bytes.len()) }
    }

    /// Adds `range` of the heap vector `vec`.
    pub(crate) fn push_kvec(
        &mut self,
        vec: &'a mut KVec<u8>,
        range: core::ops::Range<usize>,
    ) -> Result {
        let bytes = vec.get_mut(range).ok_or(EINVAL)?;
        // SAFETY: A `KVec` is `kmalloc` memory, borrowed mutably for `'a`.
        unsafe { self.list.push_buf(bytes.as_mut_ptr(), bytes.len()) }
    }

    /// Adds `range` of a page chunk of ours.
    pub(crate) fn push_chunk(
        &mut self,
        chunk: &'a mut PageChunk,
        range: core::ops::Range<usize>,
    ) -> Result {
        let (page, offset, len) = chunk.raw_parts();
        let (start, end) = checked_range(range, len)?;
        // SAFETY: The chunk is linearly mapped and only ours (type invariant), borrowed mutably
        // for `'a`.
        unsafe { self.list.push_page(page, offset + start, end - start) }
    }

    /// Adds a caller's buffer, all of it.
    pub(crate) fn push_user(&mut self, pages: &'a mut UserPages) -> Result {
        for (page, offset, len) in pages.pieces() {
            // SAFETY: The pages are pinned (or kept by the caller's iterator) for `'a`, and only
            // the kernel writes them meanwhile, on the caller's behalf.
            unsafe { self.list.push_page(page, offset, len)? };
        }
        Ok(())
    }
}

/// Runs an AEAD operation from `src` into `dst` ([`crate::crypto::Aead::crypt`]).
pub(crate) fn lists_for_crypt(
    src: &mut SgSource<'_>,
    dst: &mut SgDest<'_>,
) -> Result<(*mut bindings::scatterlist, *mut bindings::scatterlist)> {
    Ok((src.list.finish()?, dst.list.finish()?))
}

/// Marks the end of `list` for an in-place operation and returns it.
pub(crate) fn list_in_place(list: &mut SgDest<'_>) -> Result<*mut bindings::scatterlist> {
    list.list.finish()
}

/// `range` within a chunk of `len` bytes, as page offsets.
fn checked_range(range: core::ops::Range<usize>, len: u32) -> Result<(u32, u32)> {
    let start = u32::try_from(range.start).map_err(|_| EINVAL)?;
    let end = u32::try_from(range.end).map_err(|_| EINVAL)?;
    if start > end || end > len {
        return Err(EINVAL);
    }
    Ok((start, end))
}

/// The largest page (a compound page of the page-fragment cache) an entry may describe.
const PAGE_CAP: usize = 32768;
