// SPDX-License-Identifier: GPL-2.0

//! Full AEAD checks of the known-answer records, with the nonce and AAD built by the shared code.
//!
//! The RFC 8448 records and the OpenSSL DTLS 1.2 records are decrypted with `aes-gcm` and
//! re-encrypted to the same bytes. The DTLS constants in `selftest.rs` are compared with the
//! files `tests/data/dtls12-aes128gcm/` that `make-vector.sh` wrote from a real session.

use aes_gcm::{
    aead::{
        Aead,
        KeyInit,
        Payload, //
    },
    Aes128Gcm,
    Nonce, //
};
use ktls_record::{
    header::{
        ContentType,
        DtlsHeader,
        TlsHeader, //
    },
    inner::InnerPlaintext,
    nonce::{
        dtls12_aad,
        salted_nonce,
        tls13_aad,
        xor_nonce,
        NonceScheme, //
    },
    protection::ProtocolVersion,
    selftest::{
        self,
        RecordVector, //
    },
    seq::DtlsRecordNumber,
};

/// What the shared code derives from a received record: nonce, AAD and the sealed bytes.
struct Opened {
    nonce: [u8; 12],
    aad: Vec<u8>,
    sealed: Vec<u8>,
}

/// Builds nonce and AAD for `vector` the way the module's receive path will.
fn open_with_shared_code(vector: &RecordVector) -> Opened {
    let protection = vector.protection;
    match protection.version() {
        ProtocolVersion::Tls13 => {
            let (header, payload, rest) =
                TlsHeader::split_record(protection, vector.record).expect("header");
            assert!(rest.is_empty());
            assert_eq!(protection.nonce_scheme(), NonceScheme::IvXorSequence);
            let iv: [u8; 12] = vector.write_iv.try_into().expect("12-byte IV");
            Opened {
                nonce: xor_nonce(&iv, vector.sequence),
                aad: tls13_aad(header.length()).to_vec(),
                sealed: payload.to_vec(),
            }
        }
        ProtocolVersion::Dtls12 => {
            let (header, payload, rest) =
                DtlsHeader::split_record(protection, vector.record).expect("header");
            assert!(rest.is_empty());
            assert_eq!(header.record_number().as_u64(), vector.sequence);
            assert_eq!(protection.nonce_scheme(), NonceScheme::SaltAndExplicit);
            let (explicit, sealed) = payload.split_first_chunk::<8>().expect("explicit nonce");
            let salt: [u8; 4] = vector.write_iv.try_into().expect("4-byte salt");
            let plaintext_len = protection.decrypted_len(header.length()).expect("length");
            Opened {
                nonce: salted_nonce(&salt, explicit),
                aad: dtls12_aad(header.record_number(), header.content_type(), plaintext_len)
                    .to_vec(),
                sealed: sealed.to_vec(),
            }
        }
        ProtocolVersion::Tls12 => unreachable!("no TLS 1.2 vector"),
    }
}

#[test]
fn every_known_answer_record_decrypts_and_reencrypts() {
    for vector in selftest::RECORD_VECTORS {
        let opened = open_with_shared_code(&vector);
        assert_eq!(opened.nonce, vector.nonce, "{}: nonce", vector.source);
        assert_eq!(opened.aad, vector.aad, "{}: AAD", vector.source);
        assert_eq!(
            opened.sealed,
            vector.ciphertext(),
            "{}: ciphertext",
            vector.source
        );

        let aead = Aes128Gcm::new_from_slice(vector.key).expect("AES-128 key");
        let nonce = Nonce::from_slice(&opened.nonce);
        let plaintext = aead
            .decrypt(
                nonce,
                Payload {
                    msg: &opened.sealed,
                    aad: &opened.aad,
                },
            )
            .unwrap_or_else(|_| panic!("{}: does not authenticate", vector.source));
        assert_eq!(plaintext, vector.plaintext, "{}: plaintext", vector.source);
        let sealed = aead
            .encrypt(
                nonce,
                Payload {
                    msg: vector.plaintext,
                    aad: vector.aad,
                },
            )
            .expect("encrypt");
        assert_eq!(
            sealed,
            vector.ciphertext(),
            "{}: re-encryption",
            vector.source
        );
    }
}

#[test]
fn a_flipped_bit_anywhere_fails_authentication() {
    // The vectors are only worth something if the AEAD really checks them.
    let vector = selftest::RFC8448_SERVER_APP_DATA;
    let opened = open_with_shared_code(&vector);
    let aead = Aes128Gcm::new_from_slice(vector.key).expect("AES-128 key");
    for bit in 0..opened.sealed.len() * 8 {
        let mut sealed = opened.sealed.clone();
        sealed[bit / 8] ^= 1 << (bit % 8);
        let payload = Payload {
            msg: &sealed,
            aad: &opened.aad,
        };
        assert!(aead
            .decrypt(Nonce::from_slice(&opened.nonce), payload)
            .is_err());
    }
    // The sequence number is part of the nonce: the right record under the wrong number fails.
    let iv: [u8; 12] = vector.write_iv.try_into().expect("12-byte IV");
    let wrong = xor_nonce(&iv, vector.sequence + 1);
    let payload = Payload {
        msg: &opened.sealed,
        aad: &opened.aad,
    };
    assert!(aead.decrypt(Nonce::from_slice(&wrong), payload).is_err());
}

#[test]
fn rfc8448_records_carry_the_expected_inner_content() {
    for vector in [
        selftest::RFC8448_CLIENT_APP_DATA,
        selftest::RFC8448_SERVER_APP_DATA,
    ] {
        let inner = InnerPlaintext::parse(vector.plaintext).expect("inner plaintext");
        assert_eq!(inner.content_type(), ContentType::ApplicationData);
        let content: Vec<u8> = (0..50).collect();
        assert_eq!(&vector.plaintext[..inner.content_len()], content.as_slice());
    }
    for vector in [
        selftest::RFC8448_CLIENT_ALERT,
        selftest::RFC8448_SERVER_ALERT,
    ] {
        let inner = InnerPlaintext::parse(vector.plaintext).expect("inner plaintext");
        assert_eq!(inner.content_type(), ContentType::Alert);
        // close_notify: level warning (1), description 0.
        assert_eq!(&vector.plaintext[..inner.content_len()], &[1, 0]);
    }
}

/// Reads `tests/data/dtls12-aes128gcm/NAME.hex`.
fn dtls_vector_file(name: &str) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/dtls12-aes128gcm/"
    );
    let text = std::fs::read_to_string(format!("{path}{name}.hex"))
        .unwrap_or_else(|err| panic!("{path}{name}.hex: {err}"));
    let text = text.trim();
    assert!(text.len() % 2 == 0, "{name}.hex: odd number of digits");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

#[test]
fn dtls_constants_match_the_recorded_session() {
    assert_eq!(
        dtls_vector_file("client-record"),
        selftest::DTLS12_OPENSSL_CLIENT_RECORD
    );
    assert_eq!(
        dtls_vector_file("client-write-key"),
        selftest::DTLS12_OPENSSL_CLIENT_KEY
    );
    assert_eq!(
        dtls_vector_file("client-write-salt"),
        selftest::DTLS12_OPENSSL_CLIENT_SALT
    );
    assert_eq!(
        dtls_vector_file("client-plaintext"),
        selftest::DTLS12_OPENSSL_CLIENT_PLAINTEXT
    );
    assert_eq!(
        dtls_vector_file("server-record"),
        selftest::DTLS12_OPENSSL_SERVER_RECORD
    );
    assert_eq!(
        dtls_vector_file("server-write-key"),
        selftest::DTLS12_OPENSSL_SERVER_KEY
    );
    assert_eq!(
        dtls_vector_file("server-write-salt"),
        selftest::DTLS12_OPENSSL_SERVER_SALT
    );
    assert_eq!(
        dtls_vector_file("server-plaintext"),
        selftest::DTLS12_OPENSSL_SERVER_PLAINTEXT
    );
}

#[test]
fn dtls_files_decrypt_with_the_shared_nonce_and_aad() {
    // Straight from the committed files, so the test does not depend on the constants above.
    for side in ["client", "server"] {
        let record = dtls_vector_file(&format!("{side}-record"));
        let key = dtls_vector_file(&format!("{side}-write-key"));
        let salt: [u8; 4] = dtls_vector_file(&format!("{side}-write-salt"))
            .try_into()
            .expect("4-byte salt");
        let protection = selftest::DTLS12_OPENSSL_CLIENT_APP_DATA.protection;
        let (header, payload, _) = DtlsHeader::split_record(protection, &record).expect("header");
        let (explicit, sealed) = payload.split_first_chunk::<8>().expect("explicit nonce");
        let plaintext_len = protection.decrypted_len(header.length()).expect("length");
        let aad = dtls12_aad(header.record_number(), header.content_type(), plaintext_len);
        let nonce = salted_nonce(&salt, explicit);
        let plaintext = Aes128Gcm::new_from_slice(&key)
            .expect("key")
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .expect("the recorded DTLS record to authenticate");
        assert_eq!(
            plaintext,
            dtls_vector_file(&format!("{side}-plaintext")),
            "{side}"
        );
        assert_eq!(
            header.record_number(),
            DtlsRecordNumber::new(1, 1).expect("record number")
        );
    }
}
