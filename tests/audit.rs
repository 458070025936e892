//! The decision log through the binary: `warden replay --audit-log` writes
//! it, `warden audit verify` accepts it intact and names the first bad
//! record of each kind of tampering.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

fn keys(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    common::succeeded(
        warden()
            .args(["keys", "generate", "--out-dir"])
            .arg(dir)
            .args(["--name", name])
            .output()
            .unwrap(),
    );
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.jwks.json")),
    )
}

fn verify(log: &Path, jwks: &Path) -> Output {
    warden()
        .args(["audit", "verify", "--jwks"])
        .arg(jwks)
        .arg(log)
        .output()
        .unwrap()
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(p: &Path, lines: &[String]) {
    std::fs::write(
        p,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    warden::audit::sha256_hex(bytes)
}

/// The first bad record, as `warden audit verify` names it (and fails).
fn named(log: &Path, jwks: &Path) -> String {
    let out = verify(log, jwks);
    assert!(!out.status.success(), "accepted a tampered log");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_replay_log_verifies_ties_every_output_and_names_each_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, jwks) = keys(d, "audit");
    let (_, other_jwks) = keys(d, "other");
    let cfg = d.join("w.toml");
    std::fs::write(
        &cfg,
        format!("[signing]\nkey_file = {:?}\n", key.to_str().unwrap()),
    )
    .unwrap();
    let fleet = common::simulate_fleet(d, "fleet.jsonl", 30, "30h", 8, &[]);
    let (alerts, revs, log) = (
        d.join("alerts.jsonl"),
        d.join("revocations.jwt"),
        d.join("decisions.log"),
    );
    common::succeeded(
        warden()
            .args(["replay", "--no-progress", "--config"])
            .arg(&cfg)
            .arg("--alerts-out")
            .arg(&alerts)
            .arg("--revocations-out")
            .arg(&revs)
            .arg("--audit-log")
            .arg(&log)
            .args(["--audit-checkpoint-every", "7"])
            .arg(&fleet)
            .output()
            .unwrap(),
    );

    // Intact: accepted, every line covered by a signed checkpoint.
    let out = common::succeeded(verify(&log, &jwks));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let log_lines = lines(&log);
    assert_eq!(v["records"], log_lines.len() as u64);
    assert_eq!(v["unsigned_tail"], 0);
    assert!(v["checkpoints"].as_u64().unwrap() >= 3, "{v}");

    // Every output is in the log by its id, with the SHA-256 of the very
    // bytes written: findings, remediations and revocations alike.
    let digests: BTreeMap<String, String> = log_lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|r| {
            Some((
                r["id"].as_str()?.to_string(),
                r["digest"].as_str()?.to_string(),
            ))
        })
        .collect();
    let alert_lines = lines(&alerts);
    let rev_lines = lines(&revs);
    assert!(!alert_lines.is_empty() && !rev_lines.is_empty());
    for a in &alert_lines {
        let id = serde_json::from_str::<Value>(a).unwrap()["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(digests.get(&id), Some(&sha256_hex(a.as_bytes())), "{id}");
    }
    for t in &rev_lines {
        let (_, claims) = common::set_parts(t);
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(digests.get(jti), Some(&sha256_hex(t.as_bytes())), "{jti}");
    }
    // The first line records the configuration the run used.
    let first: Value = serde_json::from_str(&log_lines[0]).unwrap();
    assert_eq!(first["kind"], "dev.warden.config");

    let bad = d.join("bad.log");
    let record_of = |s: &str| -> (u64, u64) {
        // "…: line L (record S): …"
        let at = s.find(": line ").expect(s) + 7;
        let rest = &s[at..];
        let line: u64 = rest[..rest.find(' ').unwrap()].parse().unwrap();
        let at = rest.find("(record ").unwrap() + 8;
        let seq: u64 = rest[at..at + rest[at..].find(')').unwrap()]
            .parse()
            .unwrap();
        (line, seq)
    };
    let k = 9; // an output record, not a checkpoint
    assert!(!log_lines[k].contains("checkpoint"));

    // One byte changed.
    let mut t = log_lines.clone();
    t[k] = t[k].replacen("\"subject\":\"", "\"subject\":\"X", 1);
    write_lines(&bad, &t);
    assert_eq!(record_of(&named(&bad, &jwks)), (k as u64 + 1, k as u64));
    // One record removed.
    let mut t = log_lines.clone();
    t.remove(k);
    write_lines(&bad, &t);
    assert_eq!(record_of(&named(&bad, &jwks)), (k as u64 + 1, k as u64));
    // One record inserted: a copy of record k put after it.
    let mut t = log_lines.clone();
    t.insert(k + 1, log_lines[k].clone());
    write_lines(&bad, &t);
    assert_eq!(record_of(&named(&bad, &jwks)).0, k as u64 + 2);
    // Two records swapped.
    let mut t = log_lines.clone();
    t.swap(k, k + 1);
    write_lines(&bad, &t);
    assert_eq!(record_of(&named(&bad, &jwks)), (k as u64 + 1, k as u64));
    // Checkpoints signed by another key.
    let first_checkpoint = log_lines
        .iter()
        .position(|l| l.contains("dev.warden.audit.checkpoint"))
        .unwrap();
    let e = named(&log, &other_jwks);
    assert_eq!(record_of(&e).0, first_checkpoint as u64 + 1, "{e}");
    assert!(e.contains("signature"), "{e}");
}

#[test]
fn a_log_signed_with_a_key_made_for_the_run_is_verifiable_with_the_key_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fleet = common::simulate_fleet(d, "fleet.jsonl", 10, "12h", 3, &[]);
    let log = d.join("run.audit");
    let out = common::succeeded(
        warden()
            .args(["replay", "--no-progress", "--audit-log"])
            .arg(&log)
            .arg(&fleet)
            .output()
            .unwrap(),
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("made for this run"));
    common::succeeded(verify(&log, &d.join("run.jwks.json")));
}

/// `warden run` keeps one chain per partition on the audit topic; a
/// second member takes partitions over mid-stream and goes on with their
/// chains. Each partition's log, read off the topic, verifies, signed to
/// its end, and holds every finding delivered.
#[test]
fn the_streams_logs_verify_per_partition_across_a_handover() {
    use common::stream::*;
    use std::time::Duration;
    const AUDIT: &str = "warden.audit.v1";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, jwks) = keys(d, "audit");
    let broker = DevBroker::start(2);
    let cfg = write_config(d, "w.toml", &broker.bootstrap, "audit_checkpoint_every = 5");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "[signing]\nkey_file = {:?}\n",
        key.to_str().unwrap()
    ));
    std::fs::write(&cfg, text).unwrap();
    let fleet = simulate(d, 12, "30h", 21);
    let recs = fleet_records(&fleet);
    let a = Service::start(&cfg, &d.join("a.log"));
    let half = recs.len() / 2;
    produce_paced(&broker.bootstrap, &recs[..half], &|| {
        a.metric("warden_events_total")
    });
    a.wait_until("half scored", Duration::from_secs(120), |s| {
        s.metric("warden_events_total") >= half as f64
    });
    let b = Service::start(&cfg, &d.join("b.log"));
    b.wait_until("the group rebalanced", Duration::from_secs(60), |b| {
        let (pa, pb) = (
            a.metric("warden_assigned_partitions"),
            b.metric("warden_assigned_partitions"),
        );
        pb >= 1.0 && pa + pb == 2.0 && b.get("/readyz").is_some_and(|(c, _)| c == 200)
    });
    produce_paced(&broker.bootstrap, &recs[half..], &|| {
        a.metric("warden_events_total") + b.metric("warden_events_total") - half as f64
    });
    let n = recs.len() as f64;
    b.wait_until("every call scored", Duration::from_secs(120), |b| {
        a.metric("warden_events_total") + b.metric("warden_events_total") >= n
    });
    b.terminate();
    a.terminate();

    let mut logs: BTreeMap<i32, Vec<(i64, Vec<u8>)>> = BTreeMap::new();
    for r in read_topic(&broker.bootstrap, AUDIT) {
        logs.entry(r.partition)
            .or_default()
            .push((r.offset, r.value));
    }
    assert_eq!(logs.len(), 2, "a log per partition");
    let mut logged = std::collections::BTreeSet::new();
    let mut configs = Vec::new();
    for (p, mut records) in logs {
        records.sort();
        let path = d.join(format!("audit-{p}.log"));
        let text: Vec<u8> = records
            .iter()
            .flat_map(|(_, v)| v.iter().copied().chain([b'\n']))
            .collect();
        std::fs::write(&path, &text).unwrap();
        let out = common::succeeded(verify(&path, &jwks));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["unsigned_tail"], 0, "partition {p}: {v}");
        assert!(
            v["checkpoints"].as_u64().unwrap() >= 2,
            "partition {p}: {v}"
        );
        // Each member that takes the chain up records its config first.
        let first: Value = serde_json::from_slice(&records[0].1).unwrap();
        assert_eq!(first["kind"], "dev.warden.config", "partition {p}");
        for (_, rec) in &records {
            let r: Value = serde_json::from_slice(rec).unwrap();
            if let Some(id) = r["id"].as_str() {
                logged.insert(id.to_string());
            }
            if r["kind"] == "dev.warden.config" {
                configs.push(r["digest"].as_str().unwrap().to_string());
            }
        }
    }
    // The first member opened both chains, the second took one over: every
    // opening is recorded, with the config each member ran (the two differ
    // only in the metrics address each was started with).
    assert!(configs.len() >= 3, "{configs:?}");
    let distinct: std::collections::BTreeSet<_> = configs.iter().collect();
    assert_eq!(distinct.len(), 2, "{configs:?}");
    let alerts = read_topic(&broker.bootstrap, ALERTS);
    assert!(!alerts.is_empty());
    for a in &alerts {
        assert!(
            logged.contains(&a.headers["ce_id"]),
            "{} not in the decision log",
            a.headers["ce_id"]
        );
    }
}
