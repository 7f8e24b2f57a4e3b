// SPDX-License-Identifier: GPL-2.0

//! Property tests: the replay window against a plain reference model, and round trips of every
//! header type, with random inputs.
//!
//! The default run checks about 11 million window operations (1.5 million in shrinkable proptest
//! sequences, 10 million in long random walks) in a few seconds. Set `KTLS_PROPTEST_SCALE=N` to
//! multiply every count by N (10 takes about 40 seconds).

use std::collections::BTreeSet;

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
        tls12_aad,
        tls13_aad,
        xor_nonce, //
    },
    protection::{
        ProtocolVersion,
        RecordProtection,
        MAX_PLAINTEXT_LEN, //
    },
    selftest::ALL_PROTECTIONS,
    seq::{
        DtlsRecordNumber,
        DtlsSequence,
        TlsSequence,
        DTLS_MAX_SEQUENCE, //
    },
    window::ReplayWindow,
    RecordError,
};
use proptest::prelude::*;

/// Returns the case count `base`, multiplied by `KTLS_PROPTEST_SCALE` if set.
fn cases(base: u32) -> u32 {
    let scale = std::env::var("KTLS_PROPTEST_SCALE")
        .ok()
        .and_then(|value| value.parse::<u32>().ok())
        .unwrap_or(1);
    base.saturating_mul(scale.max(1))
}

// ---- the replay window against a reference model ----------------------------------------------

/// The reference: the set of accepted numbers and the acceptance rule, written as plainly as
/// possible. A number is accepted iff it fits in 48 bits, was not accepted before, and is not
/// 64 or more below the highest accepted one.
#[derive(Default)]
struct ModelWindow {
    accepted: BTreeSet<u64>,
}

impl ModelWindow {
    fn highest(&self) -> Option<u64> {
        self.accepted.last().copied()
    }

    fn verdict(&self, sequence: u64) -> Result<(), RecordError> {
        if sequence > DTLS_MAX_SEQUENCE {
            return Err(RecordError::SequenceOutOfRange);
        }
        match self.highest() {
            Some(highest) if sequence + 64 <= highest => Err(RecordError::TooOld),
            _ if self.accepted.contains(&sequence) => Err(RecordError::Replayed),
            _ => Ok(()),
        }
    }

    fn accept(&mut self, sequence: u64) {
        self.accepted.insert(sequence);
        // Numbers far left of the window no longer change any verdict; keep the set small.
        if self.accepted.len() > 1024 {
            if let Some(highest) = self.highest() {
                self.accepted = self.accepted.split_off(&highest.saturating_sub(200));
            }
        }
    }
}

/// Where the next sequence number comes from, resolved against the model's state.
#[derive(Debug, Clone, Copy)]
enum SequenceChoice {
    /// The highest accepted number (0 on a fresh window) plus an offset.
    NearHighest(i64),
    /// A small absolute number.
    Small(u64),
    /// Close to the 48-bit maximum, a few beyond it included.
    NearMaximum(i64),
    /// Anything at all.
    Any(u64),
}

impl SequenceChoice {
    fn resolve(self, model: &ModelWindow) -> u64 {
        let base = |anchor: u64, offset: i64| anchor.saturating_add_signed(offset);
        match self {
            Self::NearHighest(offset) => base(model.highest().unwrap_or(0), offset),
            Self::Small(sequence) => sequence,
            Self::NearMaximum(offset) => base(DTLS_MAX_SEQUENCE, offset),
            Self::Any(sequence) => sequence,
        }
    }
}

/// One thing that happens to the window of a receiving socket.
#[derive(Debug, Clone, Copy)]
enum WindowOp {
    /// A record arrives: check, and if it authenticates (`authentic`), mark.
    Receive {
        sequence: SequenceChoice,
        authentic: bool,
    },
    /// A mark without a check just before, as when another copy was checked concurrently.
    MarkOnly(SequenceChoice),
    /// A new epoch.
    Reset,
}

fn sequence_choice() -> impl Strategy<Value = SequenceChoice> {
    prop_oneof![
        12 => (-80i64..=80).prop_map(SequenceChoice::NearHighest),
        3 => (-300i64..=300).prop_map(SequenceChoice::NearHighest),
        2 => (0u64..200).prop_map(SequenceChoice::Small),
        2 => (-70i64..=3).prop_map(SequenceChoice::NearMaximum),
        1 => any::<u64>().prop_map(SequenceChoice::Any),
        1 => (0..=DTLS_MAX_SEQUENCE).prop_map(SequenceChoice::Any),
    ]
}

fn window_op() -> impl Strategy<Value = WindowOp> {
    prop_oneof![
        40 => (sequence_choice(), prop::bool::weighted(0.9))
            .prop_map(|(sequence, authentic)| WindowOp::Receive { sequence, authentic }),
        4 => sequence_choice().prop_map(WindowOp::MarkOnly),
        1 => Just(WindowOp::Reset),
    ]
}

/// Runs `ops` on a window and the model, failing at the first difference.
fn run_against_model(ops: &[WindowOp]) -> Result<(), TestCaseError> {
    let mut window = ReplayWindow::new();
    let mut model = ModelWindow::default();
    for (step, op) in ops.iter().enumerate() {
        match *op {
            WindowOp::Receive {
                sequence,
                authentic,
            } => {
                let sequence = sequence.resolve(&model);
                let verdict = model.verdict(sequence);
                let before = window;
                prop_assert_eq!(
                    window.check(sequence),
                    verdict,
                    "step {} check {}",
                    step,
                    sequence
                );
                prop_assert_eq!(window, before, "step {}: check changed the window", step);
                if authentic && verdict.is_ok() {
                    prop_assert_eq!(
                        window.mark(sequence),
                        Ok(()),
                        "step {} mark {}",
                        step,
                        sequence
                    );
                    model.accept(sequence);
                }
            }
            WindowOp::MarkOnly(sequence) => {
                let sequence = sequence.resolve(&model);
                let verdict = model.verdict(sequence);
                let before = window;
                prop_assert_eq!(
                    window.mark(sequence),
                    verdict,
                    "step {} mark {}",
                    step,
                    sequence
                );
                if verdict.is_ok() {
                    model.accept(sequence);
                } else {
                    prop_assert_eq!(
                        window,
                        before,
                        "step {}: a failed mark changed the window",
                        step
                    );
                }
            }
            WindowOp::Reset => {
                window.reset();
                model = ModelWindow::default();
            }
        }
        prop_assert_eq!(window.highest(), model.highest(), "step {}", step);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(3000)))]

    /// About 1.5 million operations by default (3000 sequences of up to 1000).
    #[test]
    fn window_matches_reference_model(ops in prop::collection::vec(window_op(), 1..1000)) {
        run_against_model(&ops)?;
    }
}

/// A 64-bit xorshift generator, for the long random walks below.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn window_matches_reference_model_on_long_random_walks() {
    // Millions of operations along a few long streams, with mostly small steps forward, some
    // reordering and duplicates, rare long jumps, and forged records that never get marked.
    let steps = 10_000_000 * u64::from(cases(1));
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut window = ReplayWindow::new();
    let mut model = ModelWindow::default();
    for step in 0..steps {
        let roll = rng.next();
        let highest = model.highest().unwrap_or(0);
        let sequence = match roll % 100 {
            0..=59 => highest + 1 + (roll >> 32) % 3,
            60..=89 => highest.saturating_sub((roll >> 32) % 70),
            90..=97 => highest.saturating_add((roll >> 32) % 200),
            98 => highest + 1000 + (roll >> 32) % 100_000,
            _ => DTLS_MAX_SEQUENCE - (roll >> 32) % 100,
        };
        let verdict = model.verdict(sequence);
        assert_eq!(
            window.check(sequence),
            verdict,
            "step {step}: check {sequence}"
        );
        let forged = (roll >> 8).is_multiple_of(10);
        if verdict.is_ok() && !forged {
            assert_eq!(
                window.mark(sequence),
                Ok(()),
                "step {step}: mark {sequence}"
            );
            model.accept(sequence);
        }
        if model.highest() == Some(DTLS_MAX_SEQUENCE) || roll.is_multiple_of(50_000) {
            // The end of the sequence space (or a rekey): a new epoch starts over.
            window.reset();
            model = ModelWindow::default();
        }
    }
}

// ---- headers -----------------------------------------------------------------------------------

fn protection() -> impl Strategy<Value = RecordProtection> {
    prop::sample::select(ALL_PROTECTIONS.to_vec())
}

/// A protection of the given kind (TLS or DTLS), without rejection sampling.
fn protection_of_kind(datagram: bool) -> impl Strategy<Value = RecordProtection> {
    let protections: Vec<RecordProtection> = ALL_PROTECTIONS
        .into_iter()
        .filter(|protection| protection.version().is_datagram() == datagram)
        .collect();
    prop::sample::select(protections)
}

fn content_type() -> impl Strategy<Value = ContentType> {
    prop::sample::select(vec![
        ContentType::ChangeCipherSpec,
        ContentType::Alert,
        ContentType::Handshake,
        ContentType::ApplicationData,
    ])
}

/// A length field: mostly valid, with the edges of the limits and anything at all.
fn length_field() -> impl Strategy<Value = u16> {
    prop_oneof![
        0u16..20000,
        prop::sample::select(vec![
            0, 15, 16, 17, 23, 24, 16384, 16400, 16401, 16402, 16408, 16409, 16640, 16641, 18432,
            18433
        ]),
        any::<u16>(),
    ]
}

/// The rejection a header with these fields must get, from the rules written out plainly:
/// length over the version's ciphertext limit, length that leaves more than 2^14 bytes of
/// plaintext, length below the overhead, version, content type (mainline's order).
fn expected_verdict(
    protection: RecordProtection,
    wire_type: u8,
    version: u16,
    length: u16,
) -> Result<(), RecordError> {
    let (max, min) = match (protection.version(), protection.cipher().uapi()) {
        (ProtocolVersion::Tls13, _) => (16384 + 256, 16 + 1),
        (_, 54) => (16384 + 2048, 16),
        _ => (16384 + 2048, 8 + 16),
    };
    let wire_version = match protection.version() {
        ProtocolVersion::Dtls12 => 0xfefd,
        _ => 0x0303,
    };
    if usize::from(length) > max {
        Err(RecordError::CiphertextTooLong)
    } else if usize::from(length) > 16384 + min {
        Err(RecordError::PlaintextTooLong)
    } else if usize::from(length) < min {
        Err(RecordError::LengthBelowOverhead)
    } else if version != wire_version {
        Err(RecordError::BadVersion)
    } else if !(20..=23).contains(&wire_type)
        || (protection.version() == ProtocolVersion::Tls13 && wire_type != 23)
    {
        Err(RecordError::BadContentType)
    } else {
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(20000)))]

    /// Any 5 bytes: the parser agrees with the rules, and what it accepts it rebuilds exactly.
    #[test]
    fn tls_header_parse_matches_rules_and_rebuilds(
        protection in protection_of_kind(false),
        wire_type in prop_oneof![18u8..26, any::<u8>()],
        version in prop_oneof![Just(0x0303u16), Just(0x0304), Just(0xfefd), any::<u16>()],
        length in length_field(),
        tail in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let [v0, v1] = version.to_be_bytes();
        let [l0, l1] = length.to_be_bytes();
        let mut bytes = vec![wire_type, v0, v1, l0, l1];
        bytes.extend_from_slice(&tail);
        let parsed = TlsHeader::parse(protection, &bytes);
        prop_assert_eq!(parsed.map(|_| ()), expected_verdict(protection, wire_type, version, length));
        if let Ok(header) = parsed {
            prop_assert_eq!(&header.to_bytes()[..], &bytes[..5]);
            prop_assert_eq!(header.content_type().wire(), wire_type);
            prop_assert_eq!(header.length(), length);
            prop_assert_eq!(TlsHeader::new(protection, header.content_type(), length), Ok(header));
        }
        for cut in 0..5 {
            prop_assert_eq!(TlsHeader::parse(protection, &bytes[..cut]), Err(RecordError::Truncated));
        }
    }

    /// Any 13 bytes: the same for DTLS 1.2, epoch and 48-bit sequence number included.
    #[test]
    fn dtls_header_parse_matches_rules_and_rebuilds(
        protection in protection_of_kind(true),
        wire_type in prop_oneof![18u8..26, any::<u8>()],
        version in prop_oneof![Just(0xfefdu16), Just(0xfeff), Just(0x0303), any::<u16>()],
        record in any::<u64>(),
        length in length_field(),
        tail in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut bytes = vec![wire_type];
        bytes.extend_from_slice(&version.to_be_bytes());
        bytes.extend_from_slice(&record.to_be_bytes());
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&tail);
        let parsed = DtlsHeader::parse(protection, &bytes);
        prop_assert_eq!(parsed.map(|_| ()), expected_verdict(protection, wire_type, version, length));
        if let Ok(header) = parsed {
            prop_assert_eq!(&header.to_bytes()[..], &bytes[..13]);
            prop_assert_eq!(header.record_number().as_u64(), record);
            prop_assert_eq!(header.record_number().epoch(), (record >> 48) as u16);
            prop_assert_eq!(header.record_number().sequence(), record & DTLS_MAX_SEQUENCE);
            prop_assert_eq!(
                DtlsHeader::new(protection, header.content_type(), header.record_number(), length),
                Ok(header)
            );
        }
        for cut in 0..13 {
            prop_assert_eq!(DtlsHeader::parse(protection, &bytes[..cut]), Err(RecordError::Truncated));
        }
    }

    /// Every header built from fields parses back to itself, for every version and cipher.
    #[test]
    fn built_headers_round_trip(
        protection in protection(),
        content_type in content_type(),
        epoch in any::<u16>(),
        sequence in 0..=DTLS_MAX_SEQUENCE,
        length in length_field(),
    ) {
        if protection.version().is_datagram() {
            let number = DtlsRecordNumber::new(epoch, sequence).expect("48-bit sequence");
            match DtlsHeader::new(protection, content_type, number, length) {
                Ok(header) => {
                    prop_assert_eq!(DtlsHeader::parse(protection, &header.to_bytes()), Ok(header));
                    prop_assert_eq!(header.record_len(), 13 + usize::from(length));
                }
                Err(err) => {
                    let mut bytes = vec![content_type.wire(), 0xfe, 0xfd];
                    bytes.extend_from_slice(&number.to_be_bytes());
                    bytes.extend_from_slice(&length.to_be_bytes());
                    prop_assert_eq!(DtlsHeader::parse(protection, &bytes), Err(err));
                }
            }
        } else {
            match TlsHeader::new(protection, content_type, length) {
                Ok(header) => {
                    prop_assert_eq!(TlsHeader::parse(protection, &header.to_bytes()), Ok(header));
                    prop_assert_eq!(header.record_len(), 5 + usize::from(length));
                }
                Err(err) => {
                    let [l0, l1] = length.to_be_bytes();
                    let bytes = [content_type.wire(), 3, 3, l0, l1];
                    prop_assert_eq!(TlsHeader::parse(protection, &bytes), Err(err));
                }
            }
        }
    }

    /// Headers built for a plaintext carry the right length, and the AEAD length comes back.
    #[test]
    fn headers_for_plaintexts_round_trip_lengths(
        protection in protection(),
        content_type in content_type(),
        plaintext_len in prop_oneof![0usize..=MAX_PLAINTEXT_LEN, Just(MAX_PLAINTEXT_LEN + 1), any::<usize>()],
    ) {
        let number = DtlsRecordNumber::new(1, 2).expect("record number");
        // Whatever `for_plaintext` builds must also pass `parse`.
        let length = if protection.version().is_datagram() {
            let header = DtlsHeader::for_plaintext(protection, content_type, number, plaintext_len);
            if let Ok(header) = header {
                prop_assert_eq!(DtlsHeader::parse(protection, &header.to_bytes()), Ok(header));
                prop_assert_eq!(header.content_type(), content_type);
            }
            header.map(DtlsHeader::length)
        } else {
            let header = TlsHeader::for_plaintext(protection, content_type, plaintext_len);
            if let Ok(header) = header {
                prop_assert_eq!(TlsHeader::parse(protection, &header.to_bytes()), Ok(header));
            }
            header.map(TlsHeader::length)
        };
        if plaintext_len > MAX_PLAINTEXT_LEN {
            prop_assert_eq!(length, Err(RecordError::PlaintextTooLong));
        } else {
            let length = length.expect("a plaintext within the limit");
            prop_assert_eq!(usize::from(length), plaintext_len + protection.min_payload_len());
            let decrypted = protection.decrypted_len(length).expect("decrypted length");
            prop_assert_eq!(usize::from(decrypted), plaintext_len + protection.inner_type_len());
        }
    }

    /// Records laid end to end in a buffer split back into the same records.
    #[test]
    fn records_split_off_a_buffer_in_order(
        protection in protection(),
        records in prop::collection::vec((content_type(), 0usize..100), 1..8),
    ) {
        let mut buffer = Vec::new();
        let mut expected = Vec::new();
        for (index, (content_type, plaintext_len)) in records.iter().enumerate() {
            let number = DtlsRecordNumber::new(1, index as u64).expect("record number");
            let header = if protection.version().is_datagram() {
                DtlsHeader::for_plaintext(protection, *content_type, number, *plaintext_len)
                    .map(|h| (h.to_bytes().to_vec(), h.length()))
            } else {
                TlsHeader::for_plaintext(protection, *content_type, *plaintext_len)
                    .map(|h| (h.to_bytes().to_vec(), h.length()))
            };
            let (bytes, length) = header.expect("a small record");
            buffer.extend_from_slice(&bytes);
            buffer.extend(std::iter::repeat_n(index as u8, usize::from(length)));
            expected.push((index as u8, length));
        }
        let mut rest = &buffer[..];
        for (fill, length) in expected {
            let (header_length, payload, next) = if protection.version().is_datagram() {
                let (h, p, n) = DtlsHeader::split_record(protection, rest).expect("record");
                (h.length(), p, n)
            } else {
                let (h, p, n) = TlsHeader::split_record(protection, rest).expect("record");
                (h.length(), p, n)
            };
            prop_assert_eq!(header_length, length);
            prop_assert!(payload.iter().all(|&b| b == fill));
            rest = next;
        }
        prop_assert!(rest.is_empty());
    }
}

// ---- inner plaintext, nonces, AAD, sequence numbers -------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(5000)))]

    /// Content ‖ type ‖ padding gives back the type and content length, whatever the content.
    #[test]
    fn inner_plaintext_finds_type_behind_any_padding(
        content in prop::collection::vec(any::<u8>(), 0..300),
        wire_type in prop::sample::select(vec![21u8, 22, 23]),
        padding in 0usize..300,
    ) {
        let mut plaintext = content.clone();
        plaintext.push(wire_type);
        plaintext.extend(std::iter::repeat_n(0, padding));
        let inner = InnerPlaintext::parse(&plaintext).expect("a typed plaintext");
        prop_assert_eq!(inner.content_type().wire(), wire_type);
        prop_assert_eq!(inner.content_len(), content.len());
    }

    /// Arbitrary bytes: the result agrees with "the last non-zero byte is the type".
    #[test]
    fn inner_plaintext_matches_last_nonzero_rule(bytes in prop::collection::vec(0u8..30, 0..64)) {
        let result = InnerPlaintext::parse(&bytes);
        match bytes.iter().rposition(|&b| b != 0) {
            None => prop_assert_eq!(result, Err(RecordError::MissingInnerContentType)),
            Some(at) if (21..=23).contains(&bytes[at]) => {
                prop_assert_eq!(result.map(InnerPlaintext::content_len), Ok(at));
            }
            Some(_) => prop_assert_eq!(result, Err(RecordError::BadContentType)),
        }
    }

    /// Nonces: XOR with the sequence is an involution that leaves the first 4 bytes alone, and
    /// the salted nonce is the plain concatenation.
    #[test]
    fn nonces_have_their_layout(iv in any::<[u8; 12]>(), sequence in any::<u64>(), salt in any::<[u8; 4]>(), explicit in any::<[u8; 8]>()) {
        let nonce = xor_nonce(&iv, sequence);
        prop_assert_eq!(&nonce[..4], &iv[..4]);
        prop_assert_eq!(xor_nonce(&nonce, sequence), iv);
        let tail = u64::from_be_bytes(nonce[4..].try_into().unwrap()) ^ u64::from_be_bytes(iv[4..].try_into().unwrap());
        prop_assert_eq!(tail, sequence);
        let salted = salted_nonce(&salt, &explicit);
        prop_assert_eq!(&salted[..4], &salt[..]);
        prop_assert_eq!(&salted[4..], &explicit[..]);
    }

    /// AAD layouts, against a concatenation written out by hand.
    #[test]
    fn aads_have_their_layout(sequence in any::<u64>(), epoch in any::<u16>(), dtls_sequence in 0..=DTLS_MAX_SEQUENCE, content_type in content_type(), length in any::<u16>()) {
        let mut expected = sequence.to_be_bytes().to_vec();
        expected.extend_from_slice(&[content_type.wire(), 0x03, 0x03]);
        expected.extend_from_slice(&length.to_be_bytes());
        prop_assert_eq!(tls12_aad(sequence, content_type, length).to_vec(), expected);

        let number = DtlsRecordNumber::new(epoch, dtls_sequence).expect("48-bit sequence");
        let mut expected = epoch.to_be_bytes().to_vec();
        expected.extend_from_slice(&dtls_sequence.to_be_bytes()[2..]);
        expected.extend_from_slice(&[content_type.wire(), 0xfe, 0xfd]);
        expected.extend_from_slice(&length.to_be_bytes());
        prop_assert_eq!(dtls12_aad(number, content_type, length).to_vec(), expected);

        prop_assert_eq!(tls13_aad(length).to_vec(), vec![0x17, 0x03, 0x03, (length >> 8) as u8, length as u8]);
    }

    /// Counters hand out consecutive numbers and stop exactly at their limit.
    #[test]
    fn sequences_count_up_to_their_limit(start_below_end in 0u64..50, epoch in any::<u16>(), take in 1usize..100) {
        let mut tls = TlsSequence::new(u64::MAX - start_below_end);
        let mut dtls = DtlsSequence::new(
            DtlsRecordNumber::new(epoch, DTLS_MAX_SEQUENCE - start_below_end).expect("in range"),
        );
        for i in 0..take as u64 {
            if i <= start_below_end {
                prop_assert_eq!(tls.take(), Ok(u64::MAX - start_below_end + i));
                let number = dtls.take().expect("a DTLS number");
                prop_assert_eq!(number.epoch(), epoch);
                prop_assert_eq!(number.sequence(), DTLS_MAX_SEQUENCE - start_below_end + i);
            } else {
                prop_assert_eq!(tls.take(), Err(RecordError::SequenceExhausted));
                prop_assert_eq!(dtls.take(), Err(RecordError::SequenceExhausted));
            }
        }
    }
}
