// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the replay window against a plain reference model (differential fuzzing).
//!
//! Every 9 input bytes are one operation: a control byte (what to do, and whether the number is
//! relative to the highest accepted one) and 8 bytes for the sequence number.

#![no_main]

use std::collections::BTreeSet;

use ktls_record::{
    seq::DTLS_MAX_SEQUENCE,
    window::ReplayWindow,
    RecordError, //
};
use libfuzzer_sys::fuzz_target;

/// The accepted numbers and the acceptance rule, written as plainly as possible.
#[derive(Default)]
struct Model {
    accepted: BTreeSet<u64>,
}

impl Model {
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
}

fuzz_target!(|data: &[u8]| {
    let mut window = ReplayWindow::new();
    let mut model = Model::default();
    for op in data.chunks_exact(9) {
        let control = op[0];
        let raw = u64::from_le_bytes(op[1..9].try_into().unwrap());
        let sequence = match control >> 4 {
            // Near the highest accepted number, where the interesting cases are.
            0..=9 => {
                let highest = model.highest().unwrap_or(0);
                let offset = (raw % 200) as i64 - 130;
                highest.saturating_add_signed(offset)
            }
            // Near the 48-bit maximum.
            10..=11 => DTLS_MAX_SEQUENCE.saturating_add_signed((raw % 128) as i64 - 100),
            // Within 49 bits, and anything at all.
            12..=14 => raw & ((1 << 49) - 1),
            _ => raw,
        };
        let verdict = model.verdict(sequence);
        let before = window;
        match control % 4 {
            // A record that authenticates: check, then mark.
            0 | 1 => {
                assert_eq!(window.check(sequence), verdict);
                if verdict.is_ok() {
                    assert_eq!(window.mark(sequence), Ok(()));
                    model.accepted.insert(sequence);
                }
            }
            // A forged record: check only, nothing may change.
            2 => {
                assert_eq!(window.check(sequence), verdict);
                assert_eq!(window, before);
            }
            // A mark without a fresh check (a concurrent duplicate), or a new epoch.
            _ => {
                if control & 8 == 0 {
                    assert_eq!(window.mark(sequence), verdict);
                    if verdict.is_ok() {
                        model.accepted.insert(sequence);
                    } else {
                        assert_eq!(window, before);
                    }
                } else {
                    window.reset();
                    model = Model::default();
                }
            }
        }
        assert_eq!(window.highest(), model.highest());
    }
});
