// SPDX-License-Identifier: GPL-2.0

//! Module-wide counters, readable in `/proc/net/af_ktls` (one `Name value` line each, like
//! mainline's `/proc/net/tls_stat`).

use kernel::{
    ffi::c_char,
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

use crate::record::header::ContentType;

/// What af_ktls counts. The discriminant is the index in [`COUNTERS`] and [`NAMES`].
#[derive(Clone, Copy)]
pub(crate) enum Counter {
    /// Records sent.
    TxRecords,
    /// Plaintext bytes sent in records.
    TxBytes,
    /// Records received that authenticated.
    RxRecords,
    /// Plaintext bytes received in such records.
    RxBytes,
    /// Received records of a type other than application data (alerts, handshake messages).
    RxControlRecords,
    /// Received records that failed authentication (TLS: fatal; DTLS: dropped).
    RxDecryptErrors,
    /// DTLS records dropped by the replay window: duplicates and records too old.
    RxReplayed,
    /// DTLS records dropped for an epoch other than the keys'.
    RxOtherEpoch,
    /// DTLS datagrams or records dropped as malformed (bad header, truncated).
    RxMalformed,
}

const COUNT: usize = 9;

/// The names printed in `/proc/net/af_ktls`, NUL-terminated for the C side.
static NAMES: [&CStr; COUNT] = [
    c"KtlsTxRecords",
    c"KtlsTxBytes",
    c"KtlsRxRecords",
    c"KtlsRxBytes",
    c"KtlsRxControlRecords",
    c"KtlsRxDecryptErrors",
    c"KtlsRxReplayed",
    c"KtlsRxOtherEpoch",
    c"KtlsRxMalformed",
];

static COUNTERS: [Atomic<u64>; COUNT] = [const { Atomic::new(0) }; COUNT];

/// Adds one to `counter`.
pub(crate) fn count(counter: Counter) {
    add(counter, 1);
}

/// Adds `n` to `counter`.
pub(crate) fn add(counter: Counter, n: usize) {
    if let Some(value) = COUNTERS.get(counter as usize) {
        value.add(n as u64, Relaxed);
    }
}

/// Counts a received record of `content_type` with `len` bytes of plaintext.
pub(crate) fn count_record_in(content_type: ContentType, len: usize) {
    count(Counter::RxRecords);
    add(Counter::RxBytes, len);
    if content_type != ContentType::ApplicationData {
        count(Counter::RxControlRecords);
    }
}

/// Counts a sent record with `len` bytes of plaintext.
pub(crate) fn count_record_out(len: usize) {
    count(Counter::TxRecords);
    add(Counter::TxBytes, len);
}

/// Number of counters, for the C side's `/proc` file.
#[no_mangle]
extern "C" fn ktls_stats_count() -> c_int {
    COUNT as c_int
}

/// Name of counter `index`, or NULL.
#[no_mangle]
extern "C" fn ktls_stats_name(index: c_int) -> *const c_char {
    usize::try_from(index)
        .ok()
        .and_then(|index| NAMES.get(index))
        .map_or(core::ptr::null(), |name| name.as_char_ptr().cast())
}

/// Value of counter `index` (0 for an unknown index).
#[no_mangle]
extern "C" fn ktls_stats_value(index: c_int) -> u64 {
    usize::try_from(index)
        .ok()
        .and_then(|index| COUNTERS.get(index))
        .map_or(0, |value| value.load(Relaxed))
}
