// SPDX-License-Identifier: GPL-2.0

//! Module-wide counters, readable in `/proc/net/af_ktls` (one `Name value` line each, like
//! mainline's `/proc/net/tls_stat`).

use kernel::{
    seq_file::{
        seq_print,
        SeqFile, //
    },
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

use crate::{
    proc::Show,
    record::header::ContentType, //
};

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
    /// Bytes af_ktls copied on the send path (the caller's plaintext into a record's page).
    TxCopyBytes,
    /// Bytes af_ktls copied on the receive path (into the kernel, and out to the caller).
    RxCopyBytes,
    /// Pages allocated for records sent (page-fragment refills).
    TxAllocs,
    /// Pages allocated for records received.
    RxAllocs,
    /// Records opened straight into the caller's buffer, with no copy.
    RxZeroCopyRecords,
    /// Records opened by decrypt-ahead, before a reader asked for them.
    RxAheadRecords,
    /// Of those, records started on an asynchronous transform, several at once.
    RxAsyncRecords,
}

const COUNT: usize = 16;

/// The names printed in `/proc/net/af_ktls`.
static NAMES: [&str; COUNT] = [
    "KtlsTxRecords",
    "KtlsTxBytes",
    "KtlsRxRecords",
    "KtlsRxBytes",
    "KtlsRxControlRecords",
    "KtlsRxDecryptErrors",
    "KtlsRxReplayed",
    "KtlsRxOtherEpoch",
    "KtlsRxMalformed",
    "KtlsTxCopyBytes",
    "KtlsRxCopyBytes",
    "KtlsTxAllocs",
    "KtlsRxAllocs",
    "KtlsRxZeroCopyRecords",
    "KtlsRxAheadRecords",
    "KtlsRxAsyncRecords",
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

/// The content of `/proc/net/af_ktls`.
pub(crate) struct Stats;

impl Show for Stats {
    fn show(m: &SeqFile) {
        for (name, value) in NAMES.iter().zip(COUNTERS.iter()) {
            seq_print!(m, "{:<32}{}\n", name, value.load(Relaxed));
        }
    }
}
