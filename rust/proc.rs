// SPDX-License-Identifier: GPL-2.0

//! [`ProcNetFile`]: a read-only file in `/proc/net` (initial network namespace) that
//! [`Show::show`] prints.

use core::marker::PhantomData;

use kernel::{
    bindings,
    error::to_result,
    prelude::*,
    seq_file::SeqFile, //
};

use crate::helpers;

/// What a [`ProcNetFile`] shows.
pub(crate) trait Show: 'static {
    /// Prints the file's content.
    fn show(m: &SeqFile);
}

/// `/proc/net/<name>`, shown by `T`; removed on drop.
///
/// # Invariants
///
/// The file `name` exists, with [`ProcNetFile::show`] as its show function, while this value
/// lives.
pub(crate) struct ProcNetFile<T: Show> {
    name: &'static CStr,
    _t: PhantomData<T>,
}

impl<T: Show> ProcNetFile<T> {
    /// Creates `/proc/net/<name>`.
    pub(crate) fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string that outlives the file; `show` may be called
        // until `drop` removes it.
        to_result(unsafe {
            helpers::rproc_net_create_single(name.as_char_ptr(), Some(Self::show))
        })?;
        // INVARIANT: Created just above.
        Ok(Self {
            name,
            _t: PhantomData,
        })
    }

    /// # Safety
    ///
    /// Called by the seq_file code with the file's `seq_file`.
    unsafe extern "C" fn show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: The seq_file code passes a valid `seq_file`, ours for this call.
        T::show(unsafe { SeqFile::from_raw(m) });
        0
    }
}

impl<T: Show> Drop for ProcNetFile<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the file exists; removal waits for running readers.
        unsafe { helpers::rproc_net_remove(self.name.as_char_ptr()) };
    }
}
