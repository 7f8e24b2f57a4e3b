// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of af_ktls, compiled only into test builds (`--cfg ktls_kunit`).

#[kernel::macros::kunit_tests(af_ktls_socket)]
mod socket_tests {
    use crate::socket::SocketKind;
    use kernel::{
        bindings,
        prelude::*, //
    };

    #[test]
    fn stream_and_datagram_are_accepted() {
        let stream = bindings::sock_type_SOCK_STREAM as i32;
        let dgram = bindings::sock_type_SOCK_DGRAM as i32;
        assert_eq!(
            SocketKind::from_socket_args(stream, 0),
            Ok(SocketKind::Stream)
        );
        assert_eq!(
            SocketKind::from_socket_args(dgram, 0),
            Ok(SocketKind::Datagram)
        );
    }

    #[test]
    fn other_types_are_not_supported() {
        for sock_type in [
            bindings::sock_type_SOCK_RAW,
            bindings::sock_type_SOCK_SEQPACKET,
            bindings::sock_type_SOCK_RDM,
            0,
            99,
        ] {
            assert_eq!(
                SocketKind::from_socket_args(sock_type as i32, 0),
                Err(ESOCKTNOSUPPORT)
            );
        }
    }

    #[test]
    fn protocols_other_than_zero_are_not_supported() {
        let stream = bindings::sock_type_SOCK_STREAM as i32;
        assert_eq!(
            SocketKind::from_socket_args(stream, 6),
            Err(EPROTONOSUPPORT)
        );
        // The type is checked first, as its errno is the more specific one.
        assert_eq!(SocketKind::from_socket_args(5, 6), Err(ESOCKTNOSUPPORT));
    }

    /// Fails on purpose in `make kunit-fail`, proving that `make check` notices failures.
    #[cfg(ktls_kunit_fail)]
    #[test]
    fn deliberately_failing_case() {
        assert_eq!(1 + 1, 3);
    }
}

/// KUnit suite `af_ktls_record`: every case of `record::selftest`, generated from
/// [`for_each_record_case!`](crate::for_each_record_case), the list `cargo test` runs too.
///
/// `#[kunit_tests]` only sees `#[test]` functions written out in the module, not ones a macro
/// generates, so this suite builds its case table itself.
mod record_suite {
    use kernel::bindings;

    macro_rules! record_kunit_suite {
        ($($case:ident),* $(,)?) => {
            $(
                /// Runs one shared record-layer case and reports its failure to KUnit.
                ///
                /// # Safety
                ///
                /// Called by KUnit, from the test's own task.
                unsafe extern "C" fn $case(_test: *mut bindings::kunit) {
                    let result = crate::record::selftest::$case();
                    if let Err(failure) = &result {
                        // `core::format_args!`: `fmt!` only formats `kernel::fmt::Display` types.
                        kernel::kunit::err(core::format_args!(
                            "    # {}: {}\n",
                            stringify!($case),
                            failure
                        ));
                    }
                    kernel::kunit_assert!(
                        "af_ktls_record",
                        c"rust/kunit.rs",
                        0,
                        result.is_ok()
                    );
                }
            )*

            /// The suite's cases, `NULL`-terminated as KUnit requires.
            static mut RECORD_CASES: [bindings::kunit_case; [$(stringify!($case)),*].len() + 1] = [
                $(kernel::kunit::kunit_case(kernel::c_str!(stringify!($case)), $case),)*
                pin_init::zeroed(),
            ];

            kernel::kunit_unsafe_test_suite!(af_ktls_record, RECORD_CASES);
        };
    }

    crate::for_each_record_case!(record_kunit_suite);
}

/// KUnit suite `af_ktls_crypto`: the known-answer records of `record::selftest` (RFC 8448 and a
/// real OpenSSL DTLS 1.2 session) through the kernel crypto API, as the data path uses it.
#[kernel::macros::kunit_tests(af_ktls_crypto)]
mod crypto_tests {
    use crate::{
        cipher::{
            RecordCipher,
            RecordNumber, //
        },
        keys::DirectionKeys,
        record::{
            header::ContentType,
            protection::ProtocolVersion,
            selftest::{
                RecordVector,
                RECORD_VECTORS, //
            },
            seq::DtlsRecordNumber,
        },
    };
    use kernel::prelude::*;

    fn number(vector: &RecordVector) -> RecordNumber {
        if vector.protection.version().is_datagram() {
            RecordNumber::Dtls(DtlsRecordNumber::from_be_bytes(
                vector.sequence.to_be_bytes(),
            ))
        } else {
            RecordNumber::Tls(vector.sequence)
        }
    }

    fn cipher(vector: &RecordVector) -> Result<RecordCipher> {
        let rec_seq = vector.sequence.to_be_bytes();
        let keys =
            DirectionKeys::from_parts(vector.protection, vector.key, vector.write_iv, rec_seq)?;
        RecordCipher::new(vector.protection, &keys)
    }

    /// Every known-answer record opens to its plaintext.
    #[test]
    fn known_answer_records_open() -> Result {
        for vector in &RECORD_VECTORS {
            let mut record = KVec::from_elem(0u8, vector.record.len(), GFP_KERNEL)?;
            record.copy_from_slice(vector.record);
            let outer = ContentType::from_wire(vector.record[0]).map_err(|_| EINVAL)?;
            let body = vector.protection.header_len() + vector.protection.explicit_nonce_len();
            let (_, content) = cipher(vector)?.open(number(vector), outer, &mut record)?;
            assert_eq!(
                &record[body..body + vector.plaintext.len()],
                vector.plaintext
            );
            assert!(content.end <= body + vector.plaintext.len());
        }
        Ok(())
    }

    /// A flipped tag bit fails with `EBADMSG`.
    #[test]
    fn forged_records_fail() -> Result {
        for vector in &RECORD_VECTORS {
            let mut record = KVec::from_elem(0u8, vector.record.len(), GFP_KERNEL)?;
            record.copy_from_slice(vector.record);
            let last = record.len() - 1;
            record[last] ^= 1;
            let outer = ContentType::from_wire(vector.record[0]).map_err(|_| EINVAL)?;
            let opened = cipher(vector)?.open(number(vector), outer, &mut record);
            assert!(opened.err() == Some(EBADMSG));
        }
        Ok(())
    }

    /// Sealing the TLS 1.3 plaintexts reproduces the RFC 8448 records byte for byte (TLS 1.2
    /// explicit nonces are the sender's choice, so only TLS 1.3 is deterministic).
    #[test]
    fn tls13_records_seal_to_rfc8448() -> Result {
        let mut sealed = 0;
        for vector in RECORD_VECTORS
            .iter()
            .filter(|vector| vector.protection.version() == ProtocolVersion::Tls13)
        {
            let Some((&inner_type, content)) = vector.plaintext.split_last() else {
                return Err(EINVAL);
            };
            let content_type = ContentType::from_wire(inner_type).map_err(|_| EINVAL)?;
            let body = vector.protection.header_len();
            let mut record = KVec::from_elem(0u8, vector.record.len(), GFP_KERNEL)?;
            record[body..body + content.len()].copy_from_slice(content);
            let len =
                cipher(vector)?.seal(number(vector), content_type, &mut record, content.len())?;
            assert_eq!(len, vector.record.len());
            assert_eq!(&record[..], vector.record);
            sealed += 1;
        }
        assert!(sealed >= 4);
        Ok(())
    }
}
