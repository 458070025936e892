use super::*;
use crate::audit::AuditLog;
use crate::emit::set::{generate_es256, SetSigner, SigningConfig};
use proptest::prelude::*;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn signer() -> (SetSigner, Verifier) {
    let (private, public, _) = generate_es256();
    let s = SetSigner::from_pem(&private, "test", &SigningConfig::default()).unwrap();
    (s, Verifier::from_public_pem(&public).unwrap())
}

/// A finished log of `n` outputs, a checkpoint every 4 lines.
fn log(n: usize, signer: &SetSigner) -> Vec<Vec<u8>> {
    let buf = Shared::default();
    let mut log = AuditLog::new(Box::new(buf.clone()), signer.clone(), "test.log", 4);
    log.config(b"[decisions]\n", 1).unwrap();
    for i in 0..n {
        let body = format!("{{\"finding\":{i}}}");
        log.output(
            "io.ocsf.detection_finding.create",
            &format!("wdn-f-{i}"),
            &format!("agent-{}", i % 3),
            1_000 + i as i64,
            body.as_bytes(),
        )
        .unwrap();
    }
    log.finish(2).unwrap();
    let text = buf.0.lock().unwrap().clone();
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn check(lines: &[Vec<u8>], keys: &Verifier) -> Result<Verified, Tampered> {
    let mut text = Vec::new();
    for l in lines {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    verify(&text[..], keys)
}

#[test]
fn an_intact_log_verifies_and_ends_signed() {
    let (s, keys) = signer();
    let lines = log(10, &s);
    let v = check(&lines, &keys).unwrap();
    // config + 10 outputs + a checkpoint after every 4 lines + the last.
    assert_eq!(v.records, lines.len() as u64);
    assert_eq!(v.checkpoints, 3);
    assert_eq!(v.unsigned_tail, 0);
    assert_eq!(v.head, sha256_hex(lines.last().unwrap()));
}

#[test]
fn a_byte_changed_in_a_record_names_that_record() {
    let (s, keys) = signer();
    let mut lines = log(10, &s);
    // "agent-1" becomes "agent-3" in an output record mid-log.
    let k = (5..lines.len())
        .find(|&k| lines[k].windows(7).any(|w| w == b"agent-1"))
        .unwrap();
    let at = lines[k].windows(7).position(|w| w == b"agent-1").unwrap() + 6;
    lines[k][at] = b'3';
    let e = check(&lines, &keys).unwrap_err();
    assert_eq!((e.line, e.seq), (k as u64 + 1, k as u64), "{e}");
    // In the last record (a checkpoint): its signature no longer covers it.
    let mut lines = log(10, &s);
    let last = lines.len() - 1;
    let n = lines[last].len();
    lines[last][n - 5] ^= 1;
    let e = check(&lines, &keys).unwrap_err();
    assert_eq!(e.line, lines.len() as u64, "{e}");
}

#[test]
fn a_record_removed_is_named_by_its_position() {
    let (s, keys) = signer();
    let mut lines = log(10, &s);
    lines.remove(6);
    let e = check(&lines, &keys).unwrap_err();
    assert_eq!((e.line, e.seq), (7, 6), "{e}");
    assert!(e.reason.contains("removed"), "{e}");
}

#[test]
fn two_records_swapped_are_named_at_the_first() {
    let (s, keys) = signer();
    let mut lines = log(10, &s);
    lines.swap(2, 3);
    let e = check(&lines, &keys).unwrap_err();
    assert_eq!((e.line, e.seq), (3, 2), "{e}");
}

/// A record forged with the right position and link, before or after the
/// record it imitates: the one the chain does not go on from is named.
#[test]
fn an_inserted_record_is_named_wherever_it_goes() {
    let (s, keys) = signer();
    let lines = log(10, &s);
    let original: AuditRecord = serde_json::from_slice(&lines[6]).unwrap();
    let forged = AuditRecord {
        subject: Some("attacker".into()),
        ..original
    };
    let forged = serde_json::to_vec(&forged).unwrap();
    for at in [6, 7] {
        let mut tampered = lines.clone();
        tampered.insert(at, forged.clone());
        let e = check(&tampered, &keys).unwrap_err();
        assert_eq!(e.line, at as u64 + 1, "inserted at {at}: {e}");
    }
    // A record inserted with a link of its own making: named too.
    let mut tampered = lines.clone();
    let mut stray: AuditRecord = serde_json::from_slice(&lines[3]).unwrap();
    stray.seq = 4;
    stray.prev = "ab".repeat(32);
    tampered.insert(4, serde_json::to_vec(&stray).unwrap());
    let e = check(&tampered, &keys).unwrap_err();
    assert_eq!(e.line, 5, "{e}");
}

#[test]
fn a_checkpoint_signed_by_another_key_is_refused() {
    let (s, keys) = signer();
    let (other, _) = signer();
    let good = log(10, &s);
    let forged = log(10, &other);
    // The forger's log is intact in itself, and fails on the first
    // checkpoint under the real key.
    let e = check(&forged, &keys).unwrap_err();
    let first_checkpoint = good
        .iter()
        .position(|l| String::from_utf8_lossy(l).contains(KIND_CHECKPOINT))
        .unwrap();
    assert_eq!(e.line, first_checkpoint as u64 + 1, "{e}");
    assert!(e.reason.contains("signature"), "{e}");
}

#[test]
fn a_chain_rebuilt_after_an_edit_fails_at_the_checkpoint() {
    let (s, keys) = signer();
    let mut lines = log(10, &s);
    // Edit record 1 and recompute every link after it, as an attacker
    // without the key can: the next checkpoint no longer signs this head.
    let mut r: AuditRecord = serde_json::from_slice(&lines[1]).unwrap();
    r.subject = Some("someone-else".into());
    lines[1] = serde_json::to_vec(&r).unwrap();
    for i in 2..lines.len() {
        let mut r: AuditRecord = serde_json::from_slice(&lines[i]).unwrap();
        r.prev = sha256_hex(&lines[i - 1]);
        lines[i] = serde_json::to_vec(&r).unwrap();
    }
    let e = check(&lines, &keys).unwrap_err();
    assert!(e.reason.contains("checkpoint signs"), "{e}");
    assert_eq!(e.line, 5, "{e}");
}

/// The last line of a finished log is its final checkpoint, which no later
/// line chains to: every bit of it is covered by its own signature or by a
/// rule on what a checkpoint holds. Every single-bit flip there is caught.
#[test]
fn every_bit_of_the_final_checkpoint_is_covered() {
    let (s, keys) = signer();
    let lines = log(10, &s);
    let last = lines.len() - 1;
    assert!(String::from_utf8_lossy(&lines[last]).contains(KIND_CHECKPOINT));
    for at in 0..lines[last].len() {
        for bit in 0..8 {
            let mut tampered = lines.clone();
            tampered[last][at] ^= 1 << bit;
            let e = check(&tampered, &keys).expect_err("a flip on the last line passed");
            assert!(e.line >= last as u64, "byte {at} bit {bit}: {e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any one byte changed is caught, at the record it is in.
    #[test]
    fn one_byte_flipped_is_caught_where_it_is(at in 0usize..1_000_000, bit in 0u8..8) {
        let (s, keys) = signer();
        let lines = log(10, &s);
        let total: usize = lines.iter().map(Vec::len).sum();
        let mut at = at % total;
        let mut tampered = lines.clone();
        let mut which = 0;
        while at >= tampered[which].len() {
            at -= tampered[which].len();
            which += 1;
        }
        tampered[which][at] ^= 1 << bit;
        let e = check(&tampered, &keys).unwrap_err();
        // The record holding the byte, or (a changed position number can
        // make it pass for another) no later than it.
        prop_assert!(e.line <= which as u64 + 1, "flipped line {} named {}", which + 1, e);
        prop_assert!(e.line >= which as u64, "flipped line {} named {}", which + 1, e);
    }
}
