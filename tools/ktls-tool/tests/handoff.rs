//! The handoff, end to end on the host, without a kernel: real handshakes between real libraries
//! (rustls ↔ rustls for TLS, OpenSSL ↔ OpenSSL for DTLS) over loopback, then one side hands off
//! while the other keeps its library. A software record layer that follows the kernel's contract
//! (`soft` below) uses exactly the key material `af-ktls` produced:
//! * the records it seals with the TX keys — first sequence number and explicit nonce as handed
//!   over — must be accepted by the peer's library, and
//! * the records the peer's library sends must open with the RX keys at the handed-over sequence.
//!
//! And the sequence numbers handed over must equal the number of records the library sent and
//! received under those keys, with no explicit nonce repeated.

use af_ktls::dtls::Role as DtlsRole;
use af_ktls::from_rustls::{KeySchedule, UnbufferedConnection};
use af_ktls::key_update::{KeyUpdateRequest, NextKeys};
use af_ktls::nonce::{NonceRule, Target};
use af_ktls::record::header::ContentType;
use af_ktls::wire::{self, MAX_TLS_RECORD_LEN};
use af_ktls::{DirectionKeys, KeyMaterial, Version};
use ktls_tool::cli::{default_cert_dir, CipherArg, TlsVersionArg};
use ktls_tool::dtls::{self, LoggedUdp};
use ktls_tool::handoff::Evidence;
use ktls_tool::tls::{self, LoggedTcp};
use openssl::ssl::SslStream;
use rustls::Connection;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::thread;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A record layer in software with the kernel's contract: TX starts at `rec_seq`; for 1.2 AES-GCM
/// the caller passes each record's explicit nonce as the target's `NonceRule` gives it. Headers,
/// nonces, AAD and the TLS 1.3 inner content type are the kernel's own record layer
/// (`af_ktls::record`); only the AEAD is ring's.
mod soft {
    use af_ktls::record::header::{ContentType, DtlsHeader, TlsHeader};
    use af_ktls::record::inner::InnerPlaintext;
    use af_ktls::record::nonce::{
        dtls12_aad, salted_nonce, tls12_aad, tls13_aad, xor_nonce, NonceScheme,
    };
    use af_ktls::record::protection::{GCM_EXPLICIT_NONCE_LEN, GCM_SALT_LEN};
    use af_ktls::record::seq::DtlsRecordNumber;
    use af_ktls::{Cipher, DirectionKeys, Version};
    use ring::aead::{
        Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305,
    };

    pub const APPLICATION_DATA: ContentType = ContentType::ApplicationData;

    fn key(keys: &DirectionKeys) -> LessSafeKey {
        let algorithm = match keys.cipher() {
            Cipher::Aes128Gcm => &AES_128_GCM,
            Cipher::Aes256Gcm => &AES_256_GCM,
            Cipher::Chacha20Poly1305 => &CHACHA20_POLY1305,
        };
        LessSafeKey::new(UnboundKey::new(algorithm, keys.key()).expect("key length"))
    }

    /// The nonce of record `rec_seq` (DTLS: the record number as one integer): `salt ‖ explicit`
    /// with an explicit nonce, else `iv XOR rec_seq`.
    fn nonce(
        keys: &DirectionKeys,
        rec_seq: u64,
        explicit: Option<[u8; GCM_EXPLICIT_NONCE_LEN]>,
    ) -> Nonce {
        let iv = keys.iv();
        let nonce = match keys.protection().nonce_scheme() {
            NonceScheme::SaltAndExplicit => {
                let salt: &[u8; GCM_SALT_LEN] = iv.first_chunk().expect("salt");
                salted_nonce(salt, &explicit.expect("an explicit nonce"))
            }
            NonceScheme::IvXorSequence => xor_nonce(iv, rec_seq),
        };
        Nonce::assume_unique_for_key(nonce)
    }

    fn record_number(rec_seq: u64) -> DtlsRecordNumber {
        DtlsRecordNumber::from_be_bytes(rec_seq.to_be_bytes())
    }

    /// One application-data record with sequence number `rec_seq` and (1.2 AES-GCM) `explicit`.
    pub fn seal(
        keys: &DirectionKeys,
        rec_seq: u64,
        explicit: Option<u64>,
        plaintext: &[u8],
    ) -> Vec<u8> {
        let protection = keys.protection();
        let explicit = explicit.map(u64::to_be_bytes);
        assert_eq!(explicit.is_some(), protection.explicit_nonce_len() > 0);
        let len = u16::try_from(plaintext.len()).expect("record size");
        let mut body = plaintext.to_vec();
        let (header, aad) = match keys.version() {
            Version::Tls13 => {
                body.push(APPLICATION_DATA.wire());
                let header =
                    TlsHeader::for_plaintext(protection, APPLICATION_DATA, plaintext.len())
                        .expect("header");
                (
                    header.to_bytes().to_vec(),
                    tls13_aad(header.length()).to_vec(),
                )
            }
            Version::Tls12 => (
                TlsHeader::for_plaintext(protection, APPLICATION_DATA, plaintext.len())
                    .expect("header")
                    .to_bytes()
                    .to_vec(),
                tls12_aad(rec_seq, APPLICATION_DATA, len).to_vec(),
            ),
            Version::Dtls12 => {
                let number = record_number(rec_seq);
                (
                    DtlsHeader::for_plaintext(
                        protection,
                        APPLICATION_DATA,
                        number,
                        plaintext.len(),
                    )
                    .expect("header")
                    .to_bytes()
                    .to_vec(),
                    dtls12_aad(number, APPLICATION_DATA, len).to_vec(),
                )
            }
        };
        key(keys)
            .seal_in_place_append_tag(nonce(keys, rec_seq, explicit), Aad::from(aad), &mut body)
            .expect("seal");
        let explicit = explicit.map(|e| e.to_vec()).unwrap_or_default();
        [header, explicit, body].concat()
    }

    /// TLS 1.3: one record of inner content type `content_type` at `rec_seq` (the outer type is
    /// application_data, as for every protected TLS 1.3 record).
    pub fn seal13(
        keys: &DirectionKeys,
        rec_seq: u64,
        content_type: ContentType,
        plaintext: &[u8],
    ) -> Vec<u8> {
        assert_eq!(keys.version(), Version::Tls13);
        let protection = keys.protection();
        let mut body = plaintext.to_vec();
        body.push(content_type.wire());
        let header = TlsHeader::for_plaintext(protection, APPLICATION_DATA, plaintext.len())
            .expect("header");
        key(keys)
            .seal_in_place_append_tag(
                nonce(keys, rec_seq, None),
                Aad::from(tls13_aad(header.length())),
                &mut body,
            )
            .expect("seal");
        [header.to_bytes().to_vec(), body].concat()
    }

    /// TLS 1.3: opens one record at `rec_seq`: its inner content type and content.
    pub fn open13(keys: &DirectionKeys, rec_seq: u64, record: &[u8]) -> (ContentType, Vec<u8>) {
        assert_eq!(keys.version(), Version::Tls13);
        let (header, payload, rest) =
            TlsHeader::split_record(keys.protection(), record).expect("a TLS record");
        assert!(rest.is_empty(), "one record at a time");
        assert_eq!(
            header.content_type(),
            APPLICATION_DATA,
            "outer content type"
        );
        let mut buf = payload.to_vec();
        let plain = key(keys)
            .open_in_place(
                nonce(keys, rec_seq, None),
                Aad::from(tls13_aad(header.length())),
                &mut buf,
            )
            .expect("open");
        let inner = InnerPlaintext::parse(plain).expect("inner content type");
        (inner.content_type(), plain[..inner.content_len()].to_vec())
    }

    /// Opens one application-data record (whole, header included) at `rec_seq`.
    pub fn open(keys: &DirectionKeys, rec_seq: u64, record: &[u8]) -> Vec<u8> {
        let protection = keys.protection();
        let (content_type, payload, aad) = match keys.version() {
            Version::Dtls12 => {
                let (header, payload, rest) =
                    DtlsHeader::split_record(protection, record).expect("a DTLS record");
                assert!(rest.is_empty(), "one record per datagram");
                assert_eq!(
                    header.record_number(),
                    record_number(rec_seq),
                    "DTLS epoch and sequence number"
                );
                let len = protection.decrypted_len(header.length()).expect("length");
                let aad = dtls12_aad(header.record_number(), header.content_type(), len);
                (header.content_type(), payload, aad.to_vec())
            }
            Version::Tls12 | Version::Tls13 => {
                let (header, payload, rest) =
                    TlsHeader::split_record(protection, record).expect("a TLS record");
                assert!(rest.is_empty(), "one record at a time");
                let aad = if keys.version() == Version::Tls13 {
                    tls13_aad(header.length()).to_vec()
                } else {
                    let len = protection.decrypted_len(header.length()).expect("length");
                    tls12_aad(rec_seq, header.content_type(), len).to_vec()
                };
                (header.content_type(), payload, aad)
            }
        };
        assert_eq!(content_type, APPLICATION_DATA, "outer content type");
        let (explicit, sealed) = payload.split_at(protection.explicit_nonce_len());
        let mut buf = sealed.to_vec();
        let plain = key(keys)
            .open_in_place(
                nonce(keys, rec_seq, explicit.try_into().ok()),
                Aad::from(aad),
                &mut buf,
            )
            .expect("open");
        if keys.version() == Version::Tls13 {
            let inner = InnerPlaintext::parse(plain).expect("inner content type");
            assert_eq!(inner.content_type(), APPLICATION_DATA, "inner content type");
            plain[..inner.content_len()].to_vec()
        } else {
            plain.to_vec()
        }
    }
}

// ---- TLS -------------------------------------------------------------------------------------

struct TlsEnd {
    io: LoggedTcp,
    conn: Connection,
}

fn tls_pair(version: TlsVersionArg, cipher: CipherArg) -> (TlsEnd, TlsEnd) {
    let certs = default_cert_dir();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let server_config = tls::server_config(
        version,
        cipher,
        &certs.join("server.pem"),
        &certs.join("server.key"),
    )
    .expect("config");
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut end = TlsEnd {
            io: LoggedTcp::new(tcp),
            conn: tls::new_server(server_config).expect("server"),
        };
        tls::handshake(&mut end.io, &mut end.conn).expect("server handshake");
        end
    });
    let client_config = tls::client_config(version, cipher, &certs.join("ca.pem")).expect("config");
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut client = TlsEnd {
        io: LoggedTcp::new(tcp),
        conn: tls::new_client(client_config, "localhost").expect("client"),
    };
    tls::handshake(&mut client.io, &mut client.conn).expect("client handshake");
    (client, server.join().expect("server thread"))
}

/// `from` sends `messages` through its library, `to` reads them through its library, one record
/// each.
fn exchange_in_userspace(from: &mut TlsEnd, to: &mut TlsEnd, messages: &[&[u8]]) {
    for m in messages {
        from.conn.writer().write_all(m).expect("write");
        from.io.flush_tls(&mut from.conn).expect("flush");
        assert!(to.io.feed_one_record(&mut to.conn).expect("record"));
        to.conn.process_new_packets().expect("process");
        let mut got = vec![0u8; m.len()];
        to.conn.reader().read_exact(&mut got).expect("plaintext");
        assert_eq!(&got, m);
    }
}

/// Reads one whole TLS record from the socket.
fn read_tls_record(tcp: &mut TcpStream) -> Vec<u8> {
    let mut buf = Box::new([0u8; MAX_TLS_RECORD_LEN]);
    wire::read_tls_record(tcp, &mut buf)
        .expect("reading a record")
        .expect("a record, not the end of the stream")
        .to_vec()
}

fn check_tls_handoff(
    target: Target,
    version: TlsVersionArg,
    cipher: CipherArg,
    kernel_side_is_client: bool,
    before: usize,
) {
    let label =
        format!("{target:?} {version:?} {cipher:?} kernel-side-client={kernel_side_is_client} before={before}");
    let rule = target.nonce_rule(false);
    let (mut client, mut server) = tls_pair(version, cipher);
    let messages: Vec<Vec<u8>> = (0..before)
        .map(|i| format!("library record {i}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    exchange_in_userspace(&mut client, &mut server, &refs);
    exchange_in_userspace(&mut server, &mut client, &refs);
    let (mut kernel_side, mut library_side) = if kernel_side_is_client {
        (client, server)
    } else {
        (server, client)
    };

    tls::drain_plaintext(&mut kernel_side.conn, &mut |_| {
        panic!("no plaintext may be left")
    })
    .expect("drain");
    let handoff = tls::extract(&kernel_side.io, kernel_side.conn, target).expect("extract");
    let keys: KeyMaterial = handoff.keys;
    let evidence = Evidence::from_tls(&keys, &kernel_side.io, rule).expect("no reuse");

    // The rec_seq handed over equals the records the library sent/received under these keys:
    // TLS 1.2 counts the Finished (seq 0), TLS 1.3 only application records.
    let finished = u64::from(version == TlsVersionArg::V12);
    let library_records = before as u64 + finished;
    assert_eq!(keys.tx.rec_seq(), library_records, "{label}: TX rec_seq");
    assert_eq!(keys.rx.rec_seq(), library_records, "{label}: RX rec_seq");
    assert_eq!(evidence.tx.library_records, library_records, "{label}");
    if version == TlsVersionArg::V12 {
        assert_eq!(
            kernel_side.io.sent.records_after_ccs, library_records,
            "{label}: wire TX count"
        );
        assert_eq!(
            kernel_side.io.received.records_after_ccs, library_records,
            "{label}: wire RX count"
        );
    }

    // Kernel-side TX: records sealed with the handed-over keys, counting on from there.
    let tcp = &mut kernel_side.io.tcp;
    let first_explicit = keys.tx.first_explicit_nonce();
    let mut used_explicit = kernel_side.io.sent.explicit_nonces_after_ccs.clone();
    for i in 0..3u64 {
        let tx_seq = keys.tx.rec_seq();
        let explicit = first_explicit.map(|iv| rule.explicit_nonce(iv, tx_seq, tx_seq + i));
        if let Some(e) = explicit {
            assert!(
                !used_explicit.contains(&e),
                "{label}: explicit nonce {e:#x} reused"
            );
            used_explicit.push(e);
        }
        let text = format!("kernel record {i}");
        tcp.write_all(&soft::seal(
            &keys.tx,
            keys.tx.rec_seq() + i,
            explicit,
            text.as_bytes(),
        ))
        .expect("send");
        assert!(
            library_side
                .io
                .feed_one_record(&mut library_side.conn)
                .expect("record"),
            "{label}"
        );
        library_side
            .conn
            .process_new_packets()
            .unwrap_or_else(|e| panic!("{label}: peer rejected record {i}: {e}"));
        let mut got = vec![0u8; text.len()];
        library_side
            .conn
            .reader()
            .read_exact(&mut got)
            .expect("plaintext");
        assert_eq!(got, text.as_bytes(), "{label}");
    }

    // Kernel-side RX: the library's next records open at the handed-over sequence numbers.
    for i in 0..3u64 {
        let text = format!("library record after handoff {i}");
        library_side
            .conn
            .writer()
            .write_all(text.as_bytes())
            .expect("write");
        library_side
            .io
            .flush_tls(&mut library_side.conn)
            .expect("flush");
        let record = read_tls_record(tcp);
        assert_eq!(
            soft::open(&keys.rx, keys.rx.rec_seq() + i, &record),
            text.as_bytes(),
            "{label}"
        );
    }
}

#[test]
fn tls_handoff_matches_rustls_on_both_ends() {
    for version in [TlsVersionArg::V12, TlsVersionArg::V13] {
        for cipher in [
            CipherArg::Aes128gcm,
            CipherArg::Aes256gcm,
            CipherArg::Chacha20,
        ] {
            for kernel_side_is_client in [true, false] {
                for before in [0, 3] {
                    for target in [Target::AfKtls, Target::Mainline] {
                        check_tls_handoff(target, version, cipher, kernel_side_is_client, before);
                    }
                }
            }
        }
    }
}

// ---- TLS 1.3 KeyUpdate -----------------------------------------------------------------------

/// One end of [`tls13_pair_unbuffered`].
enum End {
    Kernel(Box<(LoggedTcp, UnbufferedConnection)>),
    Library(Box<TlsEnd>),
}

/// The kernel side's handshake with rustls's unbuffered connection (as ktls-tool's kernel
/// backends do it), the library side's with the buffered one.
fn tls13_pair_unbuffered(
    cipher: CipherArg,
    kernel_side_is_client: bool,
) -> ((LoggedTcp, UnbufferedConnection), TlsEnd) {
    let certs = default_cert_dir();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let server_config = tls::server_config(
        TlsVersionArg::V13,
        cipher,
        &certs.join("server.pem"),
        &certs.join("server.key"),
    )
    .expect("config");
    let client_config =
        tls::client_config(TlsVersionArg::V13, cipher, &certs.join("ca.pem")).expect("config");
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut io = LoggedTcp::new(tcp);
        if kernel_side_is_client {
            let mut conn = tls::new_server(server_config).expect("server");
            tls::handshake(&mut io, &mut conn).expect("server handshake");
            End::Library(Box::new(TlsEnd { io, conn }))
        } else {
            let mut conn = tls::new_unbuffered_server(server_config).expect("server");
            tls::handshake_unbuffered(&mut io, &mut conn).expect("server handshake");
            End::Kernel(Box::new((io, conn)))
        }
    });
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut io = LoggedTcp::new(tcp);
    let client = if kernel_side_is_client {
        let mut conn = tls::new_unbuffered_client(client_config, "localhost").expect("client");
        tls::handshake_unbuffered(&mut io, &mut conn).expect("client handshake");
        End::Kernel(Box::new((io, conn)))
    } else {
        let mut conn = tls::new_client(client_config, "localhost").expect("client");
        tls::handshake(&mut io, &mut conn).expect("client handshake");
        End::Library(Box::new(TlsEnd { io, conn }))
    };
    match (client, server.join().expect("server thread")) {
        (End::Kernel(kernel), End::Library(library))
        | (End::Library(library), End::Kernel(kernel)) => (*kernel, *library),
        _ => unreachable!("one end of each kind"),
    }
}

/// The library side reads one record and must find `text` in it.
fn library_reads(library: &mut TlsEnd, text: &[u8], label: &str) {
    assert!(library
        .io
        .feed_one_record(&mut library.conn)
        .expect("record"));
    library
        .conn
        .process_new_packets()
        .unwrap_or_else(|e| panic!("{label}: peer rejected a record: {e}"));
    let mut got = vec![0u8; text.len()];
    library
        .conn
        .reader()
        .read_exact(&mut got)
        .expect("plaintext");
    assert_eq!(got, text, "{label}");
}

/// KeyUpdates both ways after a handoff, with the keys rustls's `KernelConnection` derives
/// (`af_ktls::from_rustls::KeySchedule`), against rustls in userspace updating its own keys:
/// records sealed with our next TX keys must open at the peer, and the peer's records after its
/// KeyUpdate must open with our next RX keys.
fn check_key_updates(cipher: CipherArg, kernel_side_is_client: bool) {
    let label = format!("{cipher:?} kernel-side-client={kernel_side_is_client}");
    let ((mut io, conn), mut library) = tls13_pair_unbuffered(cipher, kernel_side_is_client);
    let handoff = tls::extract_unbuffered(&io, conn, Target::AfKtls).expect("extract");
    let mut schedule: KeySchedule = handoff.schedule.expect("a key schedule");
    let mut rx = handoff.keys.rx.clone();
    let mut rx_seq = rx.rec_seq();
    let mut ours = OurTx {
        keys: handoff.keys.tx.clone(),
        seq: handoff.keys.tx.rec_seq(),
    };
    let tcp = &mut io.tcp;

    for round in 0..3 {
        // Ours: a KeyUpdate asking for the peer's, then data under the next keys, which the
        // library reads after taking the KeyUpdate record (no data in it).
        let text = format!("round {round}: after our KeyUpdate");
        ours.key_update(tcp, &mut schedule, KeyUpdateRequest::Requested);
        ours.send(tcp, soft::APPLICATION_DATA, text.as_bytes());
        library_reads_after_key_update(&mut library, text.as_bytes(), &label);

        // The library answers (update_not_requested) before its next data, and on even rounds
        // starts one of its own (update_requested).
        if round % 2 == 0 {
            library.conn.refresh_traffic_keys().expect("refresh");
        }
        let text = format!("round {round}: the library's data");
        library
            .conn
            .writer()
            .write_all(text.as_bytes())
            .expect("write");
        library.io.flush_tls(&mut library.conn).expect("flush");
        let mut requests = Vec::new();
        loop {
            let record = read_tls_record(tcp);
            let (content_type, content) = soft::open13(&rx, rx_seq, &record);
            rx_seq += 1;
            if content_type == soft::APPLICATION_DATA {
                assert_eq!(content, text.as_bytes(), "{label}");
                break;
            }
            assert_eq!(content_type, ContentType::Handshake, "{label}");
            let [24, 0, 0, 1, request] = content[..] else {
                panic!("{label}: expected a KeyUpdate, got {content:?}");
            };
            requests.push(request);
            rx = schedule.next_rx_keys().expect("next RX keys");
            rx_seq = 0;
        }
        let expected: &[u8] = if round % 2 == 0 { &[0, 1] } else { &[0] };
        assert_eq!(requests, expected, "{label}: round {round}");
        if round % 2 == 0 {
            // The library asked for ours: answer it.
            let text = format!("round {round}: after our answer");
            ours.key_update(tcp, &mut schedule, KeyUpdateRequest::NotRequested);
            ours.send(tcp, soft::APPLICATION_DATA, text.as_bytes());
            library_reads_after_key_update(&mut library, text.as_bytes(), &label);
        }
    }
}

/// Our sending direction in `check_key_updates`: records sealed in software with the keys the
/// kernel would be given.
struct OurTx {
    keys: DirectionKeys,
    seq: u64,
}

impl OurTx {
    fn send(&mut self, tcp: &mut TcpStream, content_type: ContentType, content: &[u8]) {
        tcp.write_all(&soft::seal13(&self.keys, self.seq, content_type, content))
            .expect("send");
        self.seq += 1;
    }

    /// A KeyUpdate under the current keys, after which the next keys from `schedule` apply,
    /// numbered from 0.
    fn key_update(
        &mut self,
        tcp: &mut TcpStream,
        schedule: &mut KeySchedule,
        request: KeyUpdateRequest,
    ) {
        self.send(tcp, ContentType::Handshake, &request.message());
        self.keys = schedule.next_tx_keys().expect("next TX keys");
        assert_eq!(self.keys.rec_seq(), 0);
        self.seq = 0;
    }
}

/// The library side takes our KeyUpdate record, then must read `text` under the next keys.
fn library_reads_after_key_update(library: &mut TlsEnd, text: &[u8], label: &str) {
    assert!(library
        .io
        .feed_one_record(&mut library.conn)
        .expect("record"));
    library
        .conn
        .process_new_packets()
        .unwrap_or_else(|e| panic!("{label}: peer rejected our KeyUpdate: {e}"));
    library_reads(library, text, label);
}

#[test]
fn key_updates_match_rustls_both_ways() {
    for cipher in [
        CipherArg::Aes128gcm,
        CipherArg::Aes256gcm,
        CipherArg::Chacha20,
    ] {
        for kernel_side_is_client in [true, false] {
            check_key_updates(cipher, kernel_side_is_client);
        }
    }
}

#[test]
fn tls12_has_no_next_keys() {
    let certs = default_cert_dir();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let config = tls::server_config(
        TlsVersionArg::V12,
        CipherArg::Aes128gcm,
        &certs.join("server.pem"),
        &certs.join("server.key"),
    )
    .expect("config");
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let mut io = LoggedTcp::new(tcp);
        let mut conn = tls::new_server(config).expect("server");
        tls::handshake(&mut io, &mut conn).expect("server handshake");
    });
    let config = tls::client_config(
        TlsVersionArg::V12,
        CipherArg::Aes128gcm,
        &certs.join("ca.pem"),
    )
    .expect("config");
    let mut io = LoggedTcp::new(TcpStream::connect(addr).expect("connect"));
    let mut conn = tls::new_unbuffered_client(config, "localhost").expect("client");
    tls::handshake_unbuffered(&mut io, &mut conn).expect("client handshake");
    server.join().expect("server thread");
    let handoff = tls::extract_unbuffered(&io, conn, Target::AfKtls).expect("extract");
    assert_eq!(handoff.keys.version(), Version::Tls12);
    // The TLS 1.2 keys are the same as the buffered path's (tls_handoff_matches_rustls_on_both_ends
    // covers those); a KeyUpdate is refused by rustls.
    let err = handoff
        .schedule
        .expect("a key schedule")
        .next_tx_keys()
        .expect_err("TLS 1.2 has no KeyUpdate");
    assert!(matches!(err, af_ktls::Error::Library(_)), "{err}");
}

// ---- DTLS ------------------------------------------------------------------------------------

fn dtls_pair(cipher: CipherArg) -> (SslStream<LoggedUdp>, SslStream<LoggedUdp>) {
    let certs = default_cert_dir();
    let listen = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = listen.local_addr().expect("address");
    let server_ctx =
        dtls::server_context(cipher, &certs.join("server.pem"), &certs.join("server.key"))
            .expect("ctx");
    let server = thread::spawn(move || {
        let udp = dtls::wait_for_client(listen, TIMEOUT).expect("client");
        dtls::handshake(&server_ctx, udp, DtlsRole::Server, None, 1400, TIMEOUT)
            .expect("server handshake")
    });
    let client_ctx = dtls::client_context(cipher, &certs.join("ca.pem")).expect("ctx");
    let udp = dtls::connect_udp(&addr.to_string()).expect("connect");
    let client = dtls::handshake(
        &client_ctx,
        udp,
        DtlsRole::Client,
        Some("localhost"),
        1400,
        TIMEOUT,
    )
    .expect("client handshake");
    (client, server.join().expect("server thread"))
}

fn check_dtls_handoff(cipher: CipherArg, kernel_side_is_client: bool, before: usize) {
    let label =
        format!("DTLS {cipher:?} kernel-side-client={kernel_side_is_client} before={before}");
    let (mut client, mut server) = dtls_pair(cipher);
    let mut buf = dtls::datagram_buffer();
    let mut read = |stream: &mut SslStream<LoggedUdp>| -> Vec<u8> {
        let n = dtls::read_one(stream, &mut buf, TIMEOUT).expect("read");
        buf[..n].to_vec()
    };
    // What ktls-tool does: the client's first record tells the server the handshake is over.
    dtls::write_one(&mut client, b"S").expect("start");
    assert_eq!(read(&mut server), b"S");
    for i in 0..before {
        let text = format!("library datagram {i}");
        dtls::write_one(&mut server, text.as_bytes()).expect("write");
        assert_eq!(read(&mut client), text.as_bytes());
        dtls::write_one(&mut client, text.as_bytes()).expect("write");
        assert_eq!(read(&mut server), text.as_bytes());
    }
    let (kernel_side, mut library_side, role) = if kernel_side_is_client {
        (client, server, DtlsRole::Client)
    } else {
        (server, client, DtlsRole::Server)
    };

    let (keys, _) = dtls::extract(&kernel_side, role).expect("extract");
    let evidence = Evidence::from_dtls(&keys, kernel_side.get_ref()).expect("no reuse");
    // Epoch 1 records the library sent: Finished, the client's start message, `before` data.
    let sent = 1 + u64::from(kernel_side_is_client) + before as u64;
    let received = 1 + u64::from(!kernel_side_is_client) + before as u64;
    assert_eq!(keys.version(), Version::Dtls12);
    assert_eq!((keys.tx.epoch(), keys.rx.epoch()), (1, 1), "{label}");
    assert_eq!(
        keys.tx.sequence(),
        sent,
        "{label}: TX seq = records sent in epoch 1 (no loss on loopback)"
    );
    assert_eq!(keys.rx.sequence(), received, "{label}: RX seq");
    assert_eq!(evidence.tx.library_records, sent, "{label}");

    let mut buf = dtls::datagram_buffer();
    let udp = kernel_side.get_ref().udp.try_clone().expect("dup");
    udp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let library_nonces = evidence.tx.library_explicit_nonces.clone();
    drop(kernel_side);

    for i in 0..3u64 {
        let text = format!("kernel datagram {i}");
        let rec_seq = keys.tx.rec_seq();
        let explicit = keys
            .tx
            .first_explicit_nonce()
            .map(|iv| NonceRule::RecordNumber.explicit_nonce(iv, rec_seq, rec_seq + i));
        if let Some(explicit) = explicit {
            assert!(!library_nonces.contains(&explicit), "{label}: nonce reuse");
        }
        udp.send(&soft::seal(
            &keys.tx,
            keys.tx.rec_seq() + i,
            explicit,
            text.as_bytes(),
        ))
        .expect("send");
        let n = dtls::read_one(&mut library_side, &mut buf, TIMEOUT)
            .unwrap_or_else(|e| panic!("{label}: OpenSSL rejected kernel datagram {i}: {e}"));
        assert_eq!(&buf[..n], text.as_bytes(), "{label}");
    }
    for i in 0..3u64 {
        let text = format!("library datagram after handoff {i}");
        dtls::write_one(&mut library_side, text.as_bytes()).expect("write");
        let n = udp.recv(&mut buf).expect("datagram");
        assert_eq!(
            soft::open(&keys.rx, keys.rx.rec_seq() + i, &buf[..n]),
            text.as_bytes(),
            "{label}"
        );
    }
}

#[test]
fn dtls_handoff_matches_openssl_on_both_ends() {
    for cipher in [
        CipherArg::Aes128gcm,
        CipherArg::Aes256gcm,
        CipherArg::Chacha20,
    ] {
        for kernel_side_is_client in [true, false] {
            for before in [0, 2] {
                check_dtls_handoff(cipher, kernel_side_is_client, before);
            }
        }
    }
}

/// The same check through the keys' byte form: what setsockopt would carry parses back to the
/// same numbers (guards against a mix-up between `DirectionKeys` and the UAPI structure).
#[test]
fn crypto_info_round_trip_of_real_keys() {
    let (client, server) = tls_pair(TlsVersionArg::V12, CipherArg::Aes256gcm);
    drop(server);
    let keys = tls::extract(&client.io, client.conn, Target::AfKtls)
        .expect("extract")
        .keys;
    let info = keys.tx.to_crypto_info();
    let parsed = af_ktls::CryptoInfo::from_bytes(info.as_bytes()).expect("parses");
    assert_eq!(parsed.rec_seq(), keys.tx.rec_seq());
    assert_eq!(parsed.iv_field(), keys.tx.first_explicit_nonce());
    let _: &DirectionKeys = &keys.rx;
}
