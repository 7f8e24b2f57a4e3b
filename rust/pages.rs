// SPDX-License-Identifier: GPL-2.0

//! Pages for records, with their ownership spelt out.
//!
//! - [`PageFrag`] cuts pages (up to 32 KiB, as the socket layer's own page fragments) into
//!   [`PageChunk`]s, each a contiguous byte range that holds a reference on its page. A chunk is
//!   writable while only its owner knows it; [`PageChunk::share`] turns it into a read-only
//!   [`SharedChunk`], the only kind that may be handed to a socket or a pipe, which then take
//!   their own references. A page is cut again only once no reference but the cache's is left,
//!   so bytes a socket still holds (for retransmission) are never written.
//! - [`PageRef`] is a reference on a page another layer owns (a pipe's, the page cache's).
//! - [`UserPages`] are the pages of a caller's buffer, taken from its iterator for the kernel to
//!   write into, and given back (unpinned, marked dirty) on drop.

use core::ptr::NonNull;

use kernel::{
    bindings,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    page::PAGE_SIZE,
    prelude::*, //
};

use crate::helpers;

/// A reference on a page (`get_page`), dropped with it.
///
/// # Invariants
///
/// `page` is a page on which this value holds one reference.
pub(crate) struct PageRef {
    page: NonNull<bindings::page>,
}

// SAFETY: A page reference may be taken and dropped from any task.
unsafe impl Send for PageRef {}

// SAFETY: `&PageRef` gives only the pointer.
unsafe impl Sync for PageRef {}

impl PageRef {
    /// Takes a reference on `page`.
    ///
    /// # Safety
    ///
    /// `page` is a live page (one with a reference somewhere).
    pub(crate) unsafe fn get(page: NonNull<bindings::page>) -> Self {
        // SAFETY: The caller guarantees the page is live.
        unsafe { helpers::rpage_get(page.as_ptr()) };
        // INVARIANT: The reference was taken just above.
        Self { page }
    }

    /// The page.
    pub(crate) fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }
}

impl Clone for PageRef {
    fn clone(&self) -> Self {
        // SAFETY: By the type invariant this value keeps the page live.
        unsafe { Self::get(self.page) }
    }
}

impl Drop for PageRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this holds one reference, dropped once here.
        unsafe { helpers::rpage_put(self.page.as_ptr()) };
    }
}

/// A contiguous byte range of a page (possibly compound) that only its owner knows of.
///
/// # Invariants
///
/// `page` holds a reference; `offset..offset + len` lies within the (compound) page, which is in
/// the kernel's linear mapping (page fragments come from the page allocator without highmem);
/// no one but this value reads or writes the range.
pub(crate) struct PageChunk {
    page: PageRef,
    offset: u32,
    len: u32,
}

impl PageChunk {
    /// The chunk's length.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// The chunk's bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: By the type invariant the range is mapped and ours; `len` bytes from `offset`.
        unsafe { core::slice::from_raw_parts(self.address(), self.len as usize) }
    }

    /// The chunk's bytes, for writing.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: By the type invariant the range is mapped and only this value uses it.
        unsafe { core::slice::from_raw_parts_mut(self.address(), self.len as usize) }
    }

    fn address(&self) -> *mut u8 {
        // SAFETY: By the type invariant the page is live and linearly mapped.
        let base = unsafe { helpers::rpage_address(self.page.as_ptr()) }.cast::<u8>();
        base.wrapping_add(self.offset as usize)
    }

    /// The page, offset and length, for scatterlists ([`crate::crypto`]).
    pub(crate) fn raw_parts(&self) -> (*mut bindings::page, u32, u32) {
        (self.page.as_ptr(), self.offset, self.len)
    }

    /// Gives up writing: the chunk may now be shared with sockets and pipes.
    pub(crate) fn share(self) -> SharedChunk {
        SharedChunk { chunk: self }
    }
}

/// A [`PageChunk`] that is no longer written: sockets and pipes may hold references on its page.
pub(crate) struct SharedChunk {
    chunk: PageChunk,
}

impl SharedChunk {
    /// The chunk's bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.chunk.as_slice()
    }

    /// The page, offset and length, for sockets, pipes and scatterlists.
    pub(crate) fn raw_parts(&self) -> (*mut bindings::page, u32, u32) {
        self.chunk.raw_parts()
    }
}

/// A cache of pages cut into [`PageChunk`]s (`struct page_frag`, `skb_page_frag_refill`).
///
/// # Invariants
///
/// `frag.page` is null or a page on which this value holds one reference.
pub(crate) struct PageFrag {
    frag: bindings::page_frag,
    /// Pages allocated, all told (for the counters).
    allocated: u64,
}

// SAFETY: The page reference may be used and dropped from any task.
unsafe impl Send for PageFrag {}

impl PageFrag {
    /// An empty cache.
    pub(crate) fn new() -> Self {
        // INVARIANT: No page yet.
        Self {
            frag: bindings::page_frag::default(),
            allocated: 0,
        }
    }

    /// Pages allocated so far.
    pub(crate) fn allocated(&self) -> u64 {
        self.allocated
    }

    /// A chunk of at least `min` and at most `max` bytes: as much of `max` as the current page
    /// has room for. `ENOMEM` if no page with `min` bytes of room can be had, `EINVAL` if `min`
    /// is zero or over `max`.
    pub(crate) fn alloc(&mut self, min: usize, max: usize) -> Result<PageChunk> {
        if min == 0 || min > max {
            return Err(EINVAL);
        }
        let min32 = u32::try_from(min).map_err(|_| EINVAL)?;
        let before = self.frag.page;
        // SAFETY: `frag` is ours; by the type invariant its page, if any, holds our reference,
        // which the refill either keeps or drops when it takes another page.
        if !unsafe { bindings::skb_page_frag_refill(min32, &mut self.frag, bindings::GFP_KERNEL) } {
            return Err(ENOMEM);
        }
        // A page the refill kept (offset 0 again: no other reference was left) is not new.
        if self.frag.page != before {
            self.allocated += 1;
        }
        let room = self.frag.size.saturating_sub(self.frag.offset);
        let len = room.min(u32::try_from(max).unwrap_or(u32::MAX));
        let page = NonNull::new(self.frag.page).ok_or(ENOMEM)?;
        // SAFETY: The refill succeeded, so `page` is live (the cache's reference).
        let page = unsafe { PageRef::get(page) };
        // INVARIANT: `offset..offset + len` is within the page's room; the cache hands it out
        // once, and reuses the page only when no other reference is left.
        let chunk = PageChunk {
            page,
            offset: self.frag.offset,
            len,
        };
        self.frag.offset += len;
        Ok(chunk)
    }
}

impl PageFrag {
    /// Gives the cache back what `chunk` holds beyond its first `len` bytes, if `chunk` is the
    /// last piece the cache cut (nothing came after it): the next chunk starts there. A record
    /// is given room for the most it may grow to and keeps what it used.
    pub(crate) fn trim(&mut self, chunk: &mut PageChunk, len: usize) {
        let Ok(len) = u32::try_from(len) else {
            return;
        };
        let last_cut = chunk.page.as_ptr() == self.frag.page
            && chunk.offset.checked_add(chunk.len) == Some(self.frag.offset);
        if len >= chunk.len || !last_cut {
            return;
        }
        // INVARIANT: The bytes given back were only this chunk's, and it no longer has them;
        // the cache hands them out once more.
        chunk.len = len;
        self.frag.offset = chunk.offset + len;
    }
}

impl Drop for PageFrag {
    fn drop(&mut self) {
        if let Some(page) = NonNull::new(self.frag.page) {
            // SAFETY: By the type invariant this holds one reference on the page.
            unsafe { helpers::rpage_put(page.as_ptr()) };
        }
    }
}

/// A piece of a page held by reference: plaintext spliced in (`sendfile`, `splice`), kept until
/// its record is sealed.
pub(crate) struct PageSegment {
    pub(crate) page: PageRef,
    pub(crate) offset: u32,
    pub(crate) len: u32,
}

#[cfg(ktls_kunit)]
impl PageSegment {
    /// A segment of a new page holding `bytes` at `offset`, as a splice would bring (tests).
    pub(crate) fn with_bytes(bytes: &[u8], offset: usize) -> Result<Self> {
        let page = kernel::page::Page::alloc_page(GFP_KERNEL)?;
        // SAFETY: `bytes` is readable for its length; the page is new and only this function
        // writes it (`write_raw` checks the range).
        unsafe { page.write_raw(bytes.as_ptr(), offset, bytes.len())? };
        let raw = NonNull::new(page.as_ptr()).ok_or(ENOMEM)?;
        // SAFETY: `page` holds a reference until the end of this function; the segment takes
        // its own.
        let page_ref = unsafe { PageRef::get(raw) };
        Ok(Self {
            page: page_ref,
            offset: u32::try_from(offset)?,
            len: u32::try_from(bytes.len())?,
        })
    }
}

/// Takes up to `len` bytes from a `MSG_SPLICE_PAGES` source as references on its pages (pipe
/// buffers, the page cache) instead of copies, appending at most `max_segments` segments to
/// `out` (whose capacity must allow it). Returns the bytes taken; `EINVAL` for a source of user
/// memory, which splicing never passes.
pub(crate) fn take_source_pages(
    source: &mut IovIterSource<'_>,
    len: usize,
    out: &mut KVec<PageSegment>,
    max_segments: usize,
) -> Result<usize> {
    let iter = source.as_raw();
    // SAFETY: `iter` is the live iterator of `source`.
    if unsafe { helpers::rpage_iter_will_pin(iter) } {
        return Err(EINVAL);
    }
    let mut taken = 0;
    let mut pages = [core::ptr::null_mut(); SOURCE_BATCH];
    while taken < len && max_segments > out.len() && out.len() < out.capacity() {
        let room = (max_segments - out.len())
            .min(out.capacity() - out.len())
            .min(SOURCE_BATCH);
        let mut slot = pages.as_mut_ptr();
        let mut offset = 0usize;
        // SAFETY: `iter` is live; `slot` points at `room` entries of `pages`, which the call
        // fills. A page-backed iterator takes no references: the caller's pipe keeps the pages
        // for this call, and references are taken below before the pages are kept.
        let got = unsafe {
            bindings::iov_iter_extract_pages(
                iter,
                &mut slot,
                len - taken,
                room as c_uint,
                0,
                &mut offset,
            )
        };
        let got = match usize::try_from(got) {
            Ok(0) => break,
            Ok(got) => got,
            Err(_) if taken > 0 => break,
            Err(_) => return Err(Error::from_errno(i32::try_from(got).unwrap_or(-14))),
        };
        let mut left = got;
        let mut piece_offset = offset;
        for &page in pages.iter().take(room) {
            if left == 0 {
                break;
            }
            let piece = left.min(PAGE_SIZE - piece_offset);
            let page = NonNull::new(page).ok_or(EINVAL)?;
            // SAFETY: The page is one of the source's, alive for this call.
            let page = unsafe { PageRef::get(page) };
            out.push(
                PageSegment {
                    page,
                    offset: piece_offset as u32,
                    len: piece as u32,
                },
                GFP_KERNEL,
            )?;
            left -= piece;
            piece_offset = 0;
        }
        taken += got;
    }
    Ok(taken)
}

/// Pages taken from a splicing source at a time.
const SOURCE_BATCH: usize = 16;

/// The most pages [`UserPages`] takes: a record's plaintext (2^14 + 1 bytes) spans at most 6
/// pages of one buffer; a buffer in many pieces may need more, and then takes the copying path.
pub(crate) const MAX_USER_PAGES: usize = 8;

/// Pages of a caller's buffer, taken from its iterator for the kernel to write into.
///
/// # Invariants
///
/// `pages[i]` holds the `pieces[i]` (offset, length) of the buffer, for `i < count`, in order,
/// `len` bytes in all: pinned (user memory) when `pinned`, else memory the caller's iterator keeps
/// alive for the call. They are released (unpinned, marked dirty) on drop.
pub(crate) struct UserPages {
    pages: [*mut bindings::page; MAX_USER_PAGES],
    pieces: [(u32, u32); MAX_USER_PAGES],
    count: usize,
    len: usize,
    pinned: bool,
}

impl UserPages {
    /// Takes the next `len` bytes of `dest`, advancing it. `Ok(None)`, with `dest` unchanged,
    /// when they are not in [`MAX_USER_PAGES`] pages (or the buffer is shorter).
    pub(crate) fn extract(dest: &mut IovIterDest<'_>, len: usize) -> Result<Option<Self>> {
        if len == 0 || dest.len() < len {
            return Ok(None);
        }
        let iter = dest.as_raw();
        // SAFETY: `iter` is the live iterator of `dest`.
        let pinned = unsafe { helpers::rpage_iter_will_pin(iter) };
        // INVARIANT: Nothing taken yet; what is taken below is recorded before anything else.
        let mut taken = Self {
            pages: [core::ptr::null_mut(); MAX_USER_PAGES],
            pieces: [(0, 0); MAX_USER_PAGES],
            count: 0,
            len: 0,
            pinned,
        };
        while taken.len < len && taken.count < MAX_USER_PAGES {
            let mut slot = taken.pages.as_mut_ptr().wrapping_add(taken.count);
            let room = (MAX_USER_PAGES - taken.count) as c_uint;
            let mut offset = 0usize;
            // SAFETY: `iter` is live; `slot` points at `room` free entries of `pages`, which the
            // call fills (given an array, it does not allocate one).
            let got = unsafe {
                bindings::iov_iter_extract_pages(
                    iter,
                    &mut slot,
                    len - taken.len,
                    room,
                    0,
                    &mut offset,
                )
            };
            let got = match usize::try_from(got) {
                Ok(0) => break,
                Ok(got) => got,
                Err(_) => {
                    let err = Error::from_errno(i32::try_from(got).unwrap_or(-14));
                    taken.give_back(dest);
                    return Err(err);
                }
            };
            // One run: the first page from `offset`, then whole pages, the last one in part.
            let mut left = got;
            let mut piece_offset = offset;
            while left > 0 && taken.count < MAX_USER_PAGES {
                let piece = left.min(PAGE_SIZE - piece_offset);
                taken.pieces[taken.count] = (piece_offset as u32, piece as u32);
                taken.count += 1;
                left -= piece;
                piece_offset = 0;
            }
            taken.len += got;
        }
        if taken.len < len {
            taken.give_back(dest);
            return Ok(None);
        }
        Ok(Some(taken))
    }

    /// Puts the bytes back into `dest` (which must be the iterator they came from) and releases
    /// the pages.
    pub(crate) fn give_back(self, dest: &mut IovIterDest<'_>) {
        // SAFETY: `dest`'s iterator gave these `len` bytes (the caller's promise).
        unsafe { bindings::iov_iter_revert(dest.as_raw(), self.len) };
    }

    /// The pages as (page, offset, length) pieces, for scatterlists.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = (*mut bindings::page, u32, u32)> + '_ {
        self.pages
            .iter()
            .zip(self.pieces.iter())
            .take(self.count)
            .map(|(&page, &(offset, len))| (page, offset, len))
    }
}

impl Drop for UserPages {
    fn drop(&mut self) {
        let count = self.count;
        release_pages(&mut self.pages[..count], self.pinned);
    }
}

/// Releases pages `iov_iter_extract_pages` gave: unpins them (marking them dirty, as they were
/// written) when they were pinned; kernel iterators took no reference.
fn release_pages(pages: &mut [*mut bindings::page], pinned: bool) {
    if pinned && !pages.is_empty() {
        // SAFETY: The pages were pinned by `iov_iter_extract_pages` and are unpinned once here.
        unsafe {
            bindings::unpin_user_pages_dirty_lock(pages.as_mut_ptr(), pages.len() as c_ulong, true)
        };
    }
}
