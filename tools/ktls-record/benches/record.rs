// SPDX-License-Identifier: GPL-2.0

//! Criterion benchmarks of the per-record hot paths: the replay window and header parse/build.
//!
//! Run with `cargo bench -p ktls-record`; the throughput lines are operations per second (one
//! element is one check+mark, one parse or one build).

use std::hint::black_box;

use criterion::{
    criterion_group,
    criterion_main,
    Criterion,
    Throughput, //
};
use ktls_record::{
    header::{
        ContentType,
        DtlsHeader,
        TlsHeader, //
    },
    protection::{
        CipherSuite,
        ProtocolVersion,
        RecordProtection, //
    },
    seq::DtlsRecordNumber,
    window::ReplayWindow,
};

const BATCH: usize = 4096;

/// Sequence numbers in order, as on a clean link.
fn in_order() -> Vec<u64> {
    (0..BATCH as u64).collect()
}

/// Sequence numbers with local reordering, duplicates and gaps, as on a lossy link.
fn reordered() -> Vec<u64> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = 0u64;
    (0..BATCH)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            next += 1;
            next.saturating_sub(state % 40)
        })
        .collect()
}

fn window(c: &mut Criterion) {
    let mut group = c.benchmark_group("window");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, sequences) in [("in_order", in_order()), ("reordered", reordered())] {
        group.bench_function(format!("check_mark_{name}"), |b| {
            b.iter(|| {
                let mut window = ReplayWindow::new();
                let mut accepted = 0u32;
                for &sequence in black_box(&sequences) {
                    if window.check(sequence).is_ok() && window.mark(sequence).is_ok() {
                        accepted += 1;
                    }
                }
                black_box(accepted)
            })
        });
    }
    group.finish();
}

fn headers(c: &mut Criterion) {
    let tls = RecordProtection::new(ProtocolVersion::Tls13, CipherSuite::Aes128Gcm);
    let dtls = RecordProtection::new(ProtocolVersion::Dtls12, CipherSuite::Aes128Gcm);
    let tls_bytes: Vec<[u8; 5]> = (0..BATCH)
        .map(|i| {
            TlsHeader::for_plaintext(tls, ContentType::ApplicationData, i % 16385)
                .expect("header")
                .to_bytes()
        })
        .collect();
    let dtls_bytes: Vec<[u8; 13]> = (0..BATCH)
        .map(|i| {
            let number = DtlsRecordNumber::new(1, i as u64).expect("record number");
            DtlsHeader::for_plaintext(dtls, ContentType::ApplicationData, number, i % 1400)
                .expect("header")
                .to_bytes()
        })
        .collect();

    let mut group = c.benchmark_group("header");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("tls_parse", |b| {
        b.iter(|| {
            let mut total = 0usize;
            for bytes in black_box(&tls_bytes) {
                if let Ok(header) = TlsHeader::parse(tls, bytes) {
                    total += usize::from(header.length());
                }
            }
            black_box(total)
        })
    });
    group.bench_function("dtls_parse", |b| {
        b.iter(|| {
            let mut total = 0u64;
            for bytes in black_box(&dtls_bytes) {
                if let Ok(header) = DtlsHeader::parse(dtls, bytes) {
                    total += header.record_number().sequence() + u64::from(header.length());
                }
            }
            black_box(total)
        })
    });
    group.bench_function("tls_build", |b| {
        let mut out = vec![[0u8; 5]; BATCH];
        b.iter(|| {
            for (i, slot) in out.iter_mut().enumerate() {
                if let Ok(header) =
                    TlsHeader::for_plaintext(tls, ContentType::ApplicationData, black_box(i))
                {
                    *slot = header.to_bytes();
                }
            }
            black_box(&out);
        })
    });
    group.bench_function("dtls_build", |b| {
        let mut out = vec![[0u8; 13]; BATCH];
        b.iter(|| {
            for (i, slot) in out.iter_mut().enumerate() {
                let number = DtlsRecordNumber::from_be_bytes((1u64 << 48 | i as u64).to_be_bytes());
                if let Ok(header) = DtlsHeader::for_plaintext(
                    dtls,
                    ContentType::ApplicationData,
                    number,
                    black_box(i),
                ) {
                    *slot = header.to_bytes();
                }
            }
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group!(benches, window, headers);
criterion_main!(benches);
