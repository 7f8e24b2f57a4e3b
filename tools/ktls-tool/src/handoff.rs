//! Evidence that the kernel continues exactly where the TLS library stopped: per direction, the
//! records the library used under the handed-over keys (from the wire where the wire shows it) and
//! the first sequence number and explicit nonce the kernel will use. [`Evidence`] construction
//! fails if a sequence number or AES-GCM nonce would repeat, so a run never hands off unsafely.

use crate::dtls::LoggedUdp;
use crate::error::{Error, Result};
use crate::tls::LoggedTcp;
use af_ktls::dtls::HANDOFF_EPOCH;
use af_ktls::nonce::NonceRule;
use af_ktls::{KeyMaterial, Version};
use serde_json::{json, Value};

/// How far ahead the nonce check looks: more records than any run sends (2^48 is also the DTLS
/// sequence space).
const NONCE_CHECK_RECORDS: u64 = 1 << 48;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionEvidence {
    /// Records the library protected with these keys (TX: sent, RX: received).
    pub library_records: u64,
    /// Highest sequence number the library used, if any.
    pub library_last_seq: Option<u64>,
    /// The sequence number the kernel starts at (DTLS: without the epoch).
    pub kernel_first_seq: u64,
    /// TX, TLS/DTLS 1.2 AES-GCM: the explicit nonces the library put on the wire.
    pub library_explicit_nonces: Vec<u64>,
    /// TX, TLS/DTLS 1.2 AES-GCM: the kernel's first explicit nonce, and how it moves on.
    pub kernel_explicit_nonce: Option<(u64, NonceRule)>,
    /// Where the library numbers come from: "wire" (record headers seen) or "rustls".
    pub source: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub epoch: Option<u16>,
    pub tx: DirectionEvidence,
    pub rx: DirectionEvidence,
}

/// `rec_seq` as the nonce rules see it: DTLS with the epoch on top.
fn check_tx(tx: &DirectionEvidence, iv: u64, rec_seq: u64) -> Result<()> {
    if let Some(last) = tx.library_last_seq {
        if tx.kernel_first_seq <= last {
            return Err(Error::msg(format!(
                "handoff would reuse TX sequence number {} (library used up to {last})",
                tx.kernel_first_seq
            )));
        }
    }
    if let Some((first, rule)) = tx.kernel_explicit_nonce {
        if !rule.avoids(
            &tx.library_explicit_nonces,
            iv,
            rec_seq,
            NONCE_CHECK_RECORDS,
        ) {
            return Err(Error::msg(format!(
                "handoff would reuse an explicit nonce: kernel starts at {first:#018x} ({rule:?}), \
                 library used {:x?}",
                tx.library_explicit_nonces
            )));
        }
    }
    Ok(())
}

fn rule_text(rule: NonceRule) -> &'static str {
    match rule {
        NonceRule::XorSequence => "then iv XOR first_seq XOR seq",
        NonceRule::RecordNumber => "= epoch||seq",
        NonceRule::Increment => "counting up by one",
    }
}

impl Evidence {
    /// TLS over TCP after rustls: rustls reports the next sequence numbers; for TLS 1.2 the wire
    /// (records after each side's ChangeCipherSpec) must agree with it. `rule` is the target
    /// kernel's explicit-nonce rule.
    pub fn from_tls(keys: &KeyMaterial, io: &LoggedTcp, rule: NonceRule) -> Result<Self> {
        let tx_seq = keys.tx.rec_seq();
        let rx_seq = keys.rx.rec_seq();
        let tls12 = keys.version() == Version::Tls12;
        if tls12 && (io.sent.records_after_ccs != tx_seq || io.received.records_after_ccs != rx_seq)
        {
            return Err(Error::msg(format!(
                "rustls's next sequence numbers (TX {tx_seq}, RX {rx_seq}) disagree with the wire \
                 ({} sent, {} received after ChangeCipherSpec)",
                io.sent.records_after_ccs, io.received.records_after_ccs
            )));
        }
        let explicit = keys.tx.first_explicit_nonce();
        let tx = DirectionEvidence {
            library_records: tx_seq,
            library_last_seq: tx_seq.checked_sub(1),
            kernel_first_seq: tx_seq,
            library_explicit_nonces: if explicit.is_some() {
                io.sent.explicit_nonces_after_ccs.clone()
            } else {
                Vec::new()
            },
            kernel_explicit_nonce: explicit
                .map(|iv| (rule.explicit_nonce(iv, tx_seq, tx_seq), rule)),
            source: if tls12 { "wire" } else { "rustls" },
        };
        let rx = DirectionEvidence {
            library_records: rx_seq,
            library_last_seq: rx_seq.checked_sub(1),
            kernel_first_seq: rx_seq,
            library_explicit_nonces: Vec::new(),
            kernel_explicit_nonce: None,
            source: tx.source,
        };
        check_tx(&tx, explicit.unwrap_or(0), tx_seq)?;
        Ok(Evidence {
            epoch: None,
            tx,
            rx,
        })
    }

    /// DTLS after OpenSSL, for AF_KTLS (the only kernel with DTLS): everything from the record
    /// headers in the datagrams (and, for AES-GCM, the explicit nonces behind them).
    pub fn from_dtls(keys: &KeyMaterial, io: &LoggedUdp) -> Result<Self> {
        let sent = io.sent.epoch(HANDOFF_EPOCH).cloned().unwrap_or_default();
        let received = io
            .received
            .epoch(HANDOFF_EPOCH)
            .cloned()
            .unwrap_or_default();
        let rule = NonceRule::RecordNumber;
        // AES-GCM only: a ChaCha20-Poly1305 record has no explicit nonce (its first bytes, which
        // the wire log also collects, are ciphertext).
        let explicit = keys.tx.first_explicit_nonce();
        let iv = explicit.unwrap_or(0);
        let tx = DirectionEvidence {
            library_records: sent.records,
            library_last_seq: (sent.records > 0).then_some(sent.highest_sequence),
            kernel_first_seq: keys.tx.sequence(),
            library_explicit_nonces: if explicit.is_some() {
                sent.explicit_nonces
            } else {
                Vec::new()
            },
            kernel_explicit_nonce: explicit.map(|iv| {
                (
                    rule.explicit_nonce(iv, keys.tx.rec_seq(), keys.tx.rec_seq()),
                    rule,
                )
            }),
            source: "wire",
        };
        let rx = DirectionEvidence {
            library_records: received.records,
            library_last_seq: (received.records > 0).then_some(received.highest_sequence),
            kernel_first_seq: keys.rx.sequence(),
            library_explicit_nonces: Vec::new(),
            kernel_explicit_nonce: None,
            source: "wire",
        };
        if keys.tx.epoch() != HANDOFF_EPOCH || keys.rx.epoch() != HANDOFF_EPOCH {
            return Err(Error::msg("DTLS keys are not for epoch 1"));
        }
        check_tx(&tx, iv, keys.tx.rec_seq())?;
        Ok(Evidence {
            epoch: Some(HANDOFF_EPOCH),
            tx,
            rx,
        })
    }

    /// Human-readable lines for `--verbose`.
    pub fn lines(&self) -> Vec<String> {
        let epoch = self
            .epoch
            .map(|e| format!("epoch {e} "))
            .unwrap_or_default();
        let range = |d: &DirectionEvidence| match d.library_last_seq {
            Some(last) if d.library_records > 0 => {
                format!("{} record(s), {epoch}seq ..={last}", d.library_records)
            }
            _ => "no records".to_string(),
        };
        let mut tx = format!(
            "handoff TX: library sent {} [{}]; kernel sends from {epoch}seq {}",
            range(&self.tx),
            self.tx.source,
            self.tx.kernel_first_seq
        );
        if let Some((first, rule)) = self.tx.kernel_explicit_nonce {
            let used: Vec<String> = self
                .tx
                .library_explicit_nonces
                .iter()
                .map(|n| format!("{n:#018x}"))
                .collect();
            tx.push_str(&format!(
                ", explicit nonce {first:#018x} {} (library used [{}]; checked: no repeat within \
                 2^48 records)",
                rule_text(rule),
                used.join(", ")
            ));
        }
        let rx = format!(
            "handoff RX: library received {} [{}]; kernel expects {epoch}seq {} next",
            range(&self.rx),
            self.rx.source,
            self.rx.kernel_first_seq
        );
        vec![tx, rx]
    }

    pub fn to_json(&self) -> Value {
        let hex = |n: u64| format!("{n:#018x}");
        let direction = |d: &DirectionEvidence| {
            json!({
                "library_records": d.library_records,
                "library_last_seq": d.library_last_seq,
                "kernel_first_seq": d.kernel_first_seq,
                "library_explicit_nonces": d.library_explicit_nonces.iter().map(|&n| hex(n)).collect::<Vec<_>>(),
                "kernel_first_explicit_nonce": d.kernel_explicit_nonce.map(|(n, _)| hex(n)),
                "kernel_nonce_rule": d.kernel_explicit_nonce.map(|(_, rule)| format!("{rule:?}")),
                "source": d.source,
            })
        };
        json!({ "epoch": self.epoch, "tx": direction(&self.tx), "rx": direction(&self.rx) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(
        first_seq: u64,
        last: Option<u64>,
        nonces: Vec<u64>,
        first_nonce: Option<u64>,
    ) -> DirectionEvidence {
        DirectionEvidence {
            library_records: nonces.len() as u64,
            library_last_seq: last,
            kernel_first_seq: first_seq,
            library_explicit_nonces: nonces,
            kernel_explicit_nonce: first_nonce.map(|n| (n, NonceRule::Increment)),
            source: "wire",
        }
    }

    #[test]
    fn reuse_is_refused() {
        assert!(check_tx(&tx(1, Some(0), vec![5], Some(6)), 6, 1).is_ok());
        assert!(
            check_tx(&tx(0, Some(0), vec![5], Some(6)), 6, 0).is_err(),
            "sequence reuse"
        );
        assert!(
            check_tx(&tx(1, Some(0), vec![5], Some(4)), 4, 1).is_err(),
            "4 counts up into 5"
        );
        assert!(check_tx(&tx(0, None, vec![], None), 0, 0).is_ok());
    }
}
