// SPDX-License-Identifier: GPL-2.0

//! [`CTable`]: a C table of function pointers that Rust builds once and hands to the kernel.

/// A C operation or registration table (`proto_ops`, `net_proto_family`).
///
/// Such tables hold raw pointers, so Rust does not consider them `Send` or `Sync`. This wrapper
/// asserts both for tables that are fully built before the kernel sees them and never written
/// afterwards.
///
/// # Invariants
///
/// The wrapped table is not mutated while the kernel may read it, and its pointers are to
/// functions and to this module, which outlive every use of the table.
pub(crate) struct CTable<T>(T);

impl<T> CTable<T> {
    /// Wraps a fully built table.
    pub(crate) const fn new(table: T) -> Self {
        // INVARIANT: `CTable` gives out shared references only.
        Self(table)
    }

    /// The table, for the kernel to read.
    pub(crate) const fn get(&self) -> &T {
        &self.0
    }
}

// SAFETY: By the type invariant the table is immutable and its pointers are `'static` for every
// user, so moving it to another thread cannot race with anything.
unsafe impl<T> Send for CTable<T> {}

// SAFETY: By the type invariant the table is immutable, so concurrent readers cannot race.
unsafe impl<T> Sync for CTable<T> {}
