// SPDX-License-Identifier: GPL-2.0

//! The af_ktls record layer in userspace: the very source the kernel module compiles.
//!
//! The modules live in `rust/record.rs` and `rust/record/` at the top of the repository, where
//! the module's crate root includes them with `pub mod record;`. This crate includes the same
//! files, so that they are tested (`cargo test`), fuzzed (`fuzz/`) and benchmarked (`cargo
//! bench`) natively. With the `selftest` feature it also exports the test cases that KUnit runs
//! in the module (see `record::selftest`).

#![no_std]
#![warn(missing_docs, unreachable_pub)]

// An inline module with a directory path makes `record.rs` an ordinary (non-`mod.rs`) file, so
// its `mod header;` and friends resolve to `rust/record/*.rs` exactly as in the kernel build.
#[path = "../../../rust"]
mod shared {
    pub(crate) mod record;
}

pub use shared::record::*;
