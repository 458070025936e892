//! Checking a log: each line's position and link to the line before it,
//! and each checkpoint's signature over the head it names. The first line
//! that is not what it should be is named, with what is wrong with it.

use super::{sha256_hex, AuditRecord, CHECKPOINT_TYP, GENESIS, KIND_CHECKPOINT};
use crate::emit::set::Verifier;
use std::io::BufRead;

/// An intact log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verified {
    /// Lines, checkpoints included.
    pub records: u64,
    /// Checkpoints whose signature and head were checked.
    pub checkpoints: u64,
    /// SHA-256 of the last line.
    pub head: String,
    /// Lines after the last checkpoint: chained, but not yet signed (a
    /// live log always has some; a finished replay log none).
    pub unsigned_tail: u64,
}

/// The first line of a log that is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} (record {seq}): {reason}")]
pub struct Tampered {
    /// 1-based line of the first bad record.
    pub line: u64,
    /// The position that record should hold.
    pub seq: u64,
    /// What is wrong.
    pub reason: String,
}

/// Checks the log read from `input` against the signing keys in `keys`.
/// The log is read whole (it holds decisions, not calls).
pub fn verify(input: impl BufRead, keys: &Verifier) -> Result<Verified, Tampered> {
    let mut lines = Vec::new();
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line.map_err(|e| Tampered {
            line: i as u64 + 1,
            seq: i as u64,
            reason: format!("cannot be read: {e}"),
        })?;
        lines.push(line);
    }
    // A final newline leaves one empty piece.
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut expected_seq = 0u64;
    let mut prev_hash = GENESIS.to_string();
    let mut checkpoints = 0u64;
    let mut unsigned = 0u64;
    for (i, line) in lines.iter().enumerate() {
        let n = i as u64 + 1;
        let bad = |seq: u64, reason: String| Tampered {
            line: n,
            seq,
            reason,
        };
        let rec: AuditRecord = serde_json::from_slice(line)
            .map_err(|e| bad(expected_seq, format!("is not a decision log record: {e}")))?;
        if rec.seq != expected_seq {
            if rec.seq + 1 == expected_seq && i > 0 {
                return Err(intruder(&lines, i, rec.seq));
            }
            let reason = if rec.seq > expected_seq {
                format!(
                    "holds record {} where record {expected_seq} belongs: records removed, \
                     or reordered",
                    rec.seq
                )
            } else {
                format!(
                    "holds record {}, already passed: inserted, or reordered",
                    rec.seq
                )
            };
            return Err(bad(expected_seq, reason));
        }
        if rec.prev != prev_hash {
            // This line names the hash of the line before it: either that
            // line was altered, or this one does not belong here (it is
            // this one when the next line links past it, or at the start).
            let skipped = i > 0
                && lines
                    .get(i + 1)
                    .and_then(|l| serde_json::from_slice::<AuditRecord>(l).ok())
                    .is_some_and(|r| r.prev == prev_hash);
            let malformed = rec.prev.len() != 64
                || !rec
                    .prev
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            let (line, seq) = if i == 0 || skipped || malformed {
                (n, expected_seq)
            } else {
                (n - 1, expected_seq - 1)
            };
            return Err(Tampered {
                line,
                seq,
                reason: format!(
                    "altered, or not the record the next one chains to (line {n} expects \
                     SHA-256 {}, the record hashes to {prev_hash})",
                    rec.prev
                ),
            });
        }
        if rec.kind != KIND_CHECKPOINT && rec.signature.is_some() {
            // A checkpoint whose kind was changed would otherwise pass as
            // an unsigned record and leave the tail unchecked.
            return Err(bad(
                rec.seq,
                "carries a checkpoint signature but is not a checkpoint: altered".into(),
            ));
        }
        if rec.kind == KIND_CHECKPOINT {
            check_checkpoint(&rec, keys).map_err(|reason| bad(rec.seq, reason))?;
            checkpoints += 1;
            unsigned = 0;
        } else {
            unsigned += 1;
        }
        prev_hash = sha256_hex(line);
        expected_seq += 1;
    }
    Ok(Verified {
        records: expected_seq,
        checkpoints,
        head: prev_hash,
        unsigned_tail: unsigned,
    })
}

/// Lines `i - 1` and `i` both hold record `seq`: the one the chain goes on
/// from (the next line links to it) is the record, the other was inserted.
fn intruder(lines: &[Vec<u8>], i: usize, seq: u64) -> Tampered {
    let next_links_to = |j: usize| {
        lines
            .get(i + 1)
            .and_then(|l| serde_json::from_slice::<AuditRecord>(l).ok())
            .is_some_and(|r| r.prev == sha256_hex(&lines[j]))
    };
    // The chain goes on from the earlier: the later was inserted; from
    // the later: the earlier was; from neither: the later was altered.
    let inserted = if next_links_to(i - 1) {
        i
    } else if next_links_to(i) {
        i - 1
    } else {
        i
    };
    let other = if inserted == i { i - 1 } else { i };
    Tampered {
        line: inserted as u64 + 1,
        seq,
        reason: format!(
            "a second record {seq} (beside line {}): inserted, or records were reordered",
            other + 1
        ),
    }
}

/// A checkpoint's signature, and that what it signs is this point of the chain.
fn check_checkpoint(rec: &AuditRecord, keys: &Verifier) -> Result<(), String> {
    let token = rec
        .signature
        .as_deref()
        .ok_or("checkpoint without a signature")?;
    let (_, claims) = keys
        .verify_typed(token, CHECKPOINT_TYP)
        .map_err(|e| format!("checkpoint signature does not verify: {e}"))?;
    if rec.id.is_some() || rec.subject.is_some() || rec.digest.is_some() {
        return Err("a checkpoint names no output: altered".into());
    }
    // Its own time is signed too (logs from before that sign `iat`, whole
    // seconds, only).
    let time_signed = match claims.get("time_ms") {
        Some(t) => t.as_i64() == Some(rec.time_ms),
        None => claims["iat"].as_i64() == Some(rec.time_ms.div_euclid(1000)),
    };
    if !time_signed {
        return Err(format!(
            "checkpoint time {} is not the time it signs: altered",
            rec.time_ms
        ));
    }
    if claims["seq"].as_u64() != Some(rec.seq) || claims["head"].as_str() != Some(&rec.prev) {
        return Err(format!(
            "checkpoint signs record {} and head {}, not this point of the chain",
            claims["seq"], claims["head"]
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
