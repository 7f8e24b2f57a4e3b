// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the header parsers, record splitting, length arithmetic and the inner plaintext.
//!
//! The first input byte picks the version and cipher; the rest is a stream (TLS) or datagram
//! (DTLS) of records. Besides not panicking, every header accepted must rebuild to the same
//! bytes and be accepted again by `new`.

#![no_main]

use ktls_record::{
    header::{
        DtlsHeader,
        TlsHeader, //
    },
    inner::InnerPlaintext,
    protection::{
        CipherSuite,
        ProtocolVersion,
        RecordProtection, //
    },
    RecordError,
};
use libfuzzer_sys::fuzz_target;

const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::Tls12,
    ProtocolVersion::Tls13,
    ProtocolVersion::Dtls12,
];
const CIPHERS: [CipherSuite; 3] = [
    CipherSuite::Aes128Gcm,
    CipherSuite::Aes256Gcm,
    CipherSuite::Chacha20Poly1305,
];

fn check_payload(protection: RecordProtection, length: u16, payload: &[u8]) {
    assert_eq!(payload.len(), usize::from(length));
    match protection.decrypted_len(length) {
        Ok(decrypted) => {
            assert!(usize::from(decrypted) <= payload.len());
            assert!(usize::from(decrypted) >= protection.inner_type_len());
        }
        Err(err) => assert!(matches!(
            err,
            RecordError::LengthBelowOverhead | RecordError::PlaintextTooLong
        )),
    }
    // Treat the payload as if it had decrypted to itself.
    if let Ok(inner) = InnerPlaintext::parse(payload) {
        assert!(inner.content_len() < payload.len());
        assert_eq!(
            payload.get(inner.content_len()),
            Some(&inner.content_type().wire())
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let version = VERSIONS[usize::from(selector % 3)];
    let cipher = CIPHERS[usize::from(selector / 3 % 3)];
    let protection = RecordProtection::new(version, cipher);

    // Both parsers see every input; the one of the wrong kind must refuse it (as truncated if
    // it is too short for that kind of header, else as the wrong version).
    let wrong_kind = if version.is_datagram() {
        TlsHeader::parse(protection, rest).map(|_| ())
    } else {
        DtlsHeader::parse(protection, rest).map(|_| ())
    };
    assert!(matches!(
        wrong_kind,
        Err(RecordError::BadVersion | RecordError::Truncated)
    ));

    while !rest.is_empty() {
        if version.is_datagram() {
            if let Ok(header) = DtlsHeader::parse(protection, rest) {
                assert_eq!(&header.to_bytes()[..], &rest[..13]);
                assert_eq!(
                    DtlsHeader::new(
                        protection,
                        header.content_type(),
                        header.record_number(),
                        header.length()
                    ),
                    Ok(header)
                );
            }
            match DtlsHeader::split_record(protection, rest) {
                Ok((header, payload, next)) => {
                    assert_eq!(header.record_len() + next.len(), rest.len());
                    check_payload(protection, header.length(), payload);
                    rest = next;
                }
                Err(_) => break,
            }
        } else {
            if let Ok(header) = TlsHeader::parse(protection, rest) {
                assert_eq!(&header.to_bytes()[..], &rest[..5]);
                assert_eq!(
                    TlsHeader::new(protection, header.content_type(), header.length()),
                    Ok(header)
                );
            }
            match TlsHeader::split_record(protection, rest) {
                Ok((header, payload, next)) => {
                    assert_eq!(header.record_len() + next.len(), rest.len());
                    check_payload(protection, header.length(), payload);
                    rest = next;
                }
                Err(_) => break,
            }
        }
    }
});
