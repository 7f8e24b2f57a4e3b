//! TLS/DTLS 1.2 AES-GCM explicit nonces across the handoff: which one the kernel sends in each
//! record, and which `iv` to hand over so that it never repeats one the TLS library already used
//! under the same key.
//!
//! With AES-GCM in TLS 1.2 and DTLS 1.2 the 12-byte nonce is `salt(4) ‖ explicit(8)` and the
//! explicit part travels in the record (the sequence number is only in the AAD), so nonce
//! uniqueness depends on the explicit values alone. Libraries choose them differently:
//!
//! * rustls: `explicit = E XOR seq`, `E` being 8 extra key-block bytes.
//! * OpenSSL: a random 64-bit start, plus one per record (TLS and DTLS alike, OpenSSL 3.0).
//! * GnuTLS: `explicit = seq` (DTLS: epoch ‖ seq).
//!
//! And the kernels differ too ([`NonceRule`]):
//!
//! * AF_KTLS, TLS 1.2: `explicit(seq) = iv XOR first_seq XOR seq` — handing over
//!   `iv = E XOR next_seq` continues rustls's sequence exactly (GnuTLS: `iv = next_seq`).
//! * AF_KTLS, DTLS 1.2: `explicit = epoch ‖ seq`; the `iv` field is not used.
//! * mainline kTLS: `iv`, `iv + 1`, `iv + 2`, … whatever the sequence number. Handing over
//!   `E XOR next_seq` would be wrong here: with `E` odd, `(E XOR 1) + 1 == E`, the nonce of the
//!   library's Finished (the hazard of the rustls project's `ktls` crate).
//!   [`after_rustls_tls12`] starts past every value rustls used instead.

use ktls_record::nonce::{dtls12_explicit_nonce, tls12_explicit_nonce};
use ktls_record::seq::DtlsRecordNumber;

/// How a kernel derives the explicit nonce of each record it sends from the handed-over `iv` and
/// `rec_seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceRule {
    /// AF_KTLS TLS 1.2: `iv XOR first_seq XOR seq`.
    XorSequence,
    /// AF_KTLS DTLS 1.2: the record number (`epoch ‖ seq`) itself.
    RecordNumber,
    /// Mainline kernel TLS: `iv + (seq - first_seq)`, wrapping.
    Increment,
}

impl NonceRule {
    /// The explicit nonce of the record with sequence number `seq` (`seq >= first_seq`).
    ///
    /// The AF_KTLS rules are the record layer's, as the kernel applies them: the TLS 1.2 base is
    /// `tls12_explicit_nonce(iv, first_seq)`, and record `seq` gets `tls12_explicit_nonce(base,
    /// seq)`; a DTLS record gets `dtls12_explicit_nonce` of its record number.
    pub fn explicit_nonce(self, iv: u64, first_seq: u64, seq: u64) -> u64 {
        match self {
            NonceRule::XorSequence => {
                let base = tls12_explicit_nonce(&iv.to_be_bytes(), first_seq);
                u64::from_be_bytes(tls12_explicit_nonce(&base, seq))
            }
            NonceRule::RecordNumber => u64::from_be_bytes(dtls12_explicit_nonce(
                DtlsRecordNumber::from_be_bytes(seq.to_be_bytes()),
            )),
            NonceRule::Increment => iv.wrapping_add(seq.wrapping_sub(first_seq)),
        }
    }

    /// True if none of the explicit nonces of the `records` records from `first_seq` on is in
    /// `used`.
    pub fn avoids(self, used: &[u64], iv: u64, first_seq: u64, records: u64) -> bool {
        match self {
            // Nonce u would be sent in record u XOR base; harmless if that record is not among
            // the kernel's.
            NonceRule::XorSequence => {
                let base = iv ^ first_seq;
                used.iter()
                    .all(|&u| (u ^ base).wrapping_sub(first_seq) >= records)
            }
            NonceRule::RecordNumber => kernel_range_avoids(used, first_seq, records),
            NonceRule::Increment => kernel_range_avoids(used, iv, records),
        }
    }
}

/// Where the keys go: it decides the [`NonceRule`] and so the `iv` to hand over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// An AF_KTLS socket.
    AfKtls,
    /// Mainline kernel TLS (`TCP_ULP "tls"`); TLS only.
    Mainline,
}

impl Target {
    /// The rule for a version with explicit nonces (TLS/DTLS 1.2 AES-GCM).
    pub fn nonce_rule(self, datagram: bool) -> NonceRule {
        match (self, datagram) {
            (Target::AfKtls, false) => NonceRule::XorSequence,
            (Target::AfKtls, true) => NonceRule::RecordNumber,
            (Target::Mainline, _) => NonceRule::Increment,
        }
    }
}

/// A starting value and how many records the kernel can send from it before its counter could
/// reach a nonce the library already used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExplicitNonceStart {
    pub first: u64,
    pub records_available: u64,
}

/// The `iv` to hand over for rustls TLS 1.2 AES-GCM TX keys, whose base is `explicit_base` (`E`)
/// and next sequence number `next_seq`.
pub fn rustls_tls12_iv(target: Target, explicit_base: u64, next_seq: u64) -> u64 {
    match target {
        Target::AfKtls => explicit_base ^ next_seq,
        Target::Mainline => after_rustls_tls12(explicit_base, next_seq).first,
    }
}

/// Mainline's increment rule after rustls TLS 1.2 AES-GCM: the library sent `E XOR s` for every
/// `s < next_seq`. All of those lie in the aligned block of `P = next_seq.next_power_of_two()`
/// values containing `E`, so the kernel starts right after that block and has `2^64 - P` records
/// before wrapping back into it.
pub fn after_rustls_tls12(explicit_base: u64, next_seq: u64) -> ExplicitNonceStart {
    if next_seq == 0 {
        return ExplicitNonceStart {
            first: explicit_base,
            records_available: u64::MAX,
        };
    }
    let block = next_seq.checked_next_power_of_two().unwrap_or(0);
    // block == 0 stands for 2^64: every value was used (unreachable in practice).
    if block == 0 {
        return ExplicitNonceStart {
            first: explicit_base,
            records_available: 0,
        };
    }
    let mask = block - 1;
    ExplicitNonceStart {
        first: (explicit_base | mask).wrapping_add(1),
        records_available: block.wrapping_neg(),
    }
}

/// Mainline's increment rule after nonces seen on the wire (e.g. OpenSSL's random-start
/// counter): start after the largest circular gap between used values, so the kernel's
/// increasing counter runs through unused values only. Returns `first = 0` and all records
/// available when nothing was used.
pub fn after_observed(used: &[u64]) -> ExplicitNonceStart {
    let mut sorted: Vec<u64> = used.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let (Some(&lowest), Some(&highest)) = (sorted.first(), sorted.last()) else {
        return ExplicitNonceStart {
            first: 0,
            records_available: u64::MAX,
        };
    };
    // The gap that wraps around from the highest value back to the lowest.
    let mut best = ExplicitNonceStart {
        first: highest.wrapping_add(1),
        records_available: lowest.wrapping_sub(highest).wrapping_sub(1),
    };
    if sorted.len() == 1 {
        best.records_available = u64::MAX;
    }
    for pair in sorted.windows(2) {
        let available = pair[1] - pair[0] - 1;
        if available > best.records_available {
            best = ExplicitNonceStart {
                first: pair[0] + 1,
                records_available: available,
            };
        }
    }
    best
}

/// True if `records` values counted up from `first` (wrapping, like the kernel's big-endian
/// increment) avoid every value in `used`.
pub fn kernel_range_avoids(used: &[u64], first: u64, records: u64) -> bool {
    used.iter().all(|&u| u.wrapping_sub(first) >= records)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record the kernel sends from `next` on, under `rule`, for `n` records.
    fn kernel_nonces(rule: NonceRule, iv: u64, next: u64, n: u64) -> Vec<u64> {
        (next..next + n)
            .map(|seq| rule.explicit_nonce(iv, next, seq))
            .collect()
    }

    #[test]
    fn rustls_handoff_never_repeats_a_nonce() {
        for e in [
            0u64,
            1,
            0x55,
            0x1234_5678_9abc_def1,
            0xffff_ffff_ffff_fff0,
            u64::MAX,
            0x8000_0000_0000_0003,
        ] {
            for next in 1..=70u64 {
                let used: Vec<u64> = (0..next).map(|s| e ^ s).collect();
                for (target, rule) in [
                    (Target::AfKtls, NonceRule::XorSequence),
                    (Target::Mainline, NonceRule::Increment),
                ] {
                    assert_eq!(target.nonce_rule(false), rule);
                    let iv = rustls_tls12_iv(target, e, next);
                    let sent = kernel_nonces(rule, iv, next, 4096);
                    assert!(
                        sent.iter().all(|n| !used.contains(n)),
                        "{target:?} e={e:#x} next={next}"
                    );
                    assert!(
                        rule.avoids(&used, iv, next, 1 << 40),
                        "{target:?} e={e:#x} next={next}"
                    );
                }
                // AF_KTLS continues rustls's own sequence: record `seq` gets E XOR seq.
                let iv = rustls_tls12_iv(Target::AfKtls, e, next);
                assert_eq!(
                    NonceRule::XorSequence.explicit_nonce(iv, next, next + 5),
                    e ^ (next + 5)
                );
            }
        }
    }

    #[test]
    fn the_naive_choice_collides_under_mainline() {
        // The hazard of the rustls project's ktls crate: E odd, library used E (seq 0);
        // E XOR 1 + 1 == E.
        let e = 0x1234_5678_9abc_def1;
        assert!(!NonceRule::Increment.avoids(&[e], e ^ 1, 1, 2));
        let start = after_rustls_tls12(e, 1);
        assert_eq!(start.first, e + 1);
        assert!(NonceRule::Increment.avoids(&[e], start.first, 1, 1 << 40));
    }

    #[test]
    fn avoids_agrees_with_enumeration() {
        let used = [7u64, 100, 0x0001_0000_0000_0003, u64::MAX];
        for rule in [
            NonceRule::XorSequence,
            NonceRule::RecordNumber,
            NonceRule::Increment,
        ] {
            for iv in [0u64, 5, 96, 0x0001_0000_0000_0000, u64::MAX - 2] {
                for first in [0u64, 1, 3, 0x0001_0000_0000_0001] {
                    let sent = kernel_nonces(rule, iv, first, 200);
                    let expected = sent.iter().all(|n| !used.contains(n));
                    assert_eq!(
                        rule.avoids(&used, iv, first, 200),
                        expected,
                        "{rule:?} iv={iv:#x} first={first:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn observed_consecutive_counter() {
        let used = [0x7000, 0x7001, 0x7002];
        let start = after_observed(&used);
        assert_eq!(start.first, 0x7003);
        assert!(kernel_range_avoids(
            &used,
            start.first,
            start.records_available
        ));
        assert!(!kernel_range_avoids(
            &used,
            start.first,
            start.records_available + 1
        ));
    }

    #[test]
    fn observed_counter_that_wrapped() {
        let used = [u64::MAX - 1, u64::MAX, 0, 1];
        let start = after_observed(&used);
        assert_eq!(start.first, 2);
        assert!(kernel_range_avoids(
            &used,
            start.first,
            start.records_available
        ));
    }

    #[test]
    fn observed_single_and_empty() {
        assert_eq!(after_observed(&[]).first, 0);
        let start = after_observed(&[u64::MAX]);
        assert_eq!(start.first, 0);
        assert!(kernel_range_avoids(&[u64::MAX], 0, u64::MAX));
    }

    #[test]
    fn mainline_block_size() {
        for next in [1u64, 2, 3, 64, 65] {
            let start = after_rustls_tls12(0x1234, next);
            assert_eq!(
                start.records_available,
                next.next_power_of_two().wrapping_neg()
            );
        }
    }
}
