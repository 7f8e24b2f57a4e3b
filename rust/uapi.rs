// SPDX-License-Identifier: GPL-2.0

//! The user API of `include/uapi/linux/ktls.h`, generated from the header itself (see `Kbuild`).

#![allow(
    dead_code,
    non_camel_case_types,
    unreachable_pub,
    missing_docs,
    reason = "bindgen output of the UAPI header; not every constant is used by the kernel side"
)]

use kernel::ffi;

// The header's fixed-width types, as `<linux/types.h>` defines them.
type __u8 = ffi::c_uchar;
type __u16 = ffi::c_ushort;
type __s32 = ffi::c_int;

include!("ktls_uapi_generated.rs");
