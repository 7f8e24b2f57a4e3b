// SPDX-License-Identifier: GPL-2.0

//! The DTLS 1.2 anti-replay window (RFC 6347 §4.1.2.6), 64 records wide.
//!
//! The window remembers the highest sequence number received (its right edge) and, in a 64-bit
//! bitmap, which of the 64 numbers ending there have been received. A record is accepted if it
//! is right of the edge, or inside the window and not yet received; anything left of the window
//! is rejected, as it can no longer be told apart from a replay.
//!
//! The contract, as in GnuTLS:
//!
//! - [`ReplayWindow::check`] runs before decryption and changes nothing, so a forged record
//!   (one that then fails authentication) cannot move the window.
//! - [`ReplayWindow::mark`] runs only after the record authenticated. It checks again and fails
//!   if the number was marked in between (two copies of one record decrypted concurrently); the
//!   caller then drops the record like any replay.
//! - A window covers one epoch. The caller compares the record's epoch with the current one
//!   before it uses the window, drops records of other epochs (or hands them to userspace), and
//!   starts a fresh window (or [`ReplayWindow::after`]) whenever the epoch changes. The window
//!   sees 48-bit sequence numbers only, never epochs.
//! - A fresh window accepts any sequence number, 0 included.

use super::{
    error::RecordError,
    seq::DTLS_MAX_SEQUENCE, //
};

/// Width of the window: how many sequence numbers, ending at the highest, it remembers.
pub const REPLAY_WINDOW_LEN: u64 = 64;

/// Where a sequence number falls relative to the window.
enum Slot {
    /// The window is fresh; any number is the first.
    First,
    /// Right of the window by `distance` (at least 1).
    Ahead { distance: u64 },
    /// Inside the window and not yet received; `mask` is its bit.
    Inside { mask: u64 },
}

/// The anti-replay window of one DTLS 1.2 epoch of one receiving socket.
///
/// # Invariants
///
/// `bitmap` is 0 if and only if nothing has been marked yet. Otherwise bit 0 stands for
/// `highest`, which has been marked, and bit `i` for `highest - i`; `highest` is at most
/// [`DTLS_MAX_SEQUENCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayWindow {
    /// The highest sequence number marked; meaningless while `bitmap` is 0.
    highest: u64,
    /// Which of `highest` and the 63 numbers before it have been marked, `highest` in bit 0.
    bitmap: u64,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    /// Returns a fresh window, which accepts any first sequence number.
    #[must_use]
    pub const fn new() -> Self {
        // INVARIANT: nothing marked, bitmap 0.
        Self {
            highest: 0,
            bitmap: 0,
        }
    }

    /// Returns a window that counts every sequence number up to `last` as received.
    ///
    /// For a handoff from userspace: `last` is the highest sequence number of the epoch the
    /// library received. Later numbers are accepted, `last` and the 63 before it are rejected as
    /// replays, and older ones as too old.
    pub const fn after(last: u64) -> Result<Self, RecordError> {
        if last > DTLS_MAX_SEQUENCE {
            return Err(RecordError::SequenceOutOfRange);
        }
        // INVARIANT: bit 0 (for `last`) is set, `last` was checked.
        Ok(Self {
            highest: last,
            bitmap: u64::MAX,
        })
    }

    /// Returns the highest sequence number marked, or `None` for a fresh window.
    #[must_use]
    pub const fn highest(&self) -> Option<u64> {
        if self.bitmap == 0 {
            None
        } else {
            Some(self.highest)
        }
    }

    /// Checks whether a record with 48-bit sequence number `sequence` may be accepted.
    ///
    /// Changes nothing. Fails with [`RecordError::Replayed`] for a number already marked,
    /// [`RecordError::TooOld`] for one left of the window, and
    /// [`RecordError::SequenceOutOfRange`] above 2^48 - 1.
    #[inline]
    pub const fn check(&self, sequence: u64) -> Result<(), RecordError> {
        match self.slot(sequence) {
            Ok(_) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Records that the record with sequence number `sequence` authenticated.
    ///
    /// Fails, changing nothing, in exactly the cases [`ReplayWindow::check`] fails; the caller
    /// then drops the record.
    #[inline]
    pub fn mark(&mut self, sequence: u64) -> Result<(), RecordError> {
        match self.slot(sequence)? {
            Slot::First => self.bitmap = 1,
            Slot::Ahead { distance } => {
                // Shifting by 64 or more leaves none of the old bits in the window.
                let kept = u32::try_from(distance)
                    .ok()
                    .and_then(|distance| self.bitmap.checked_shl(distance))
                    .unwrap_or(0);
                self.bitmap = kept | 1;
            }
            Slot::Inside { mask } => {
                self.bitmap |= mask;
                return Ok(());
            }
        }
        // INVARIANT: bit 0 was set for the new highest, which `slot` checked against the limit.
        self.highest = sequence;
        Ok(())
    }

    /// Forgets every sequence number, as for a new epoch.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Places `sequence` relative to the window.
    #[inline]
    const fn slot(&self, sequence: u64) -> Result<Slot, RecordError> {
        if sequence > DTLS_MAX_SEQUENCE {
            return Err(RecordError::SequenceOutOfRange);
        }
        if self.bitmap == 0 {
            return Ok(Slot::First);
        }
        let Some(behind) = self.highest.checked_sub(sequence) else {
            // Cannot underflow: `sequence > highest` here.
            return Ok(Slot::Ahead {
                distance: sequence.wrapping_sub(self.highest),
            });
        };
        // Numbers 64 or more behind the highest are left of the window.
        if behind >= REPLAY_WINDOW_LEN {
            return Err(RecordError::TooOld);
        }
        let mask = 1u64 << behind;
        if self.bitmap & mask != 0 {
            Err(RecordError::Replayed)
        } else {
            Ok(Slot::Inside { mask })
        }
    }
}
