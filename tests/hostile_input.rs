//! Every record in `tests/corpus/hostile/` (each once crashed or misled a
//! decoder), between two good records, through the real `warden replay`
//! under every `--format`: the run succeeds, both good records are scored,
//! and the bad one is reported by line.

use std::path::Path;
use std::process::Command;

/// A good record of each format, as one line.
fn good(format: &str, n: u32) -> String {
    match format {
        "auto" | "native" => format!(
            r#"{{"ts":"2026-11-20T10:00:0{n}Z","agent_id":"agent-{n}","action":"s3:GetObject","agent_type":"ai_agent"}}"#
        ),
        "cloudtrail" => format!(
            r#"{{"eventTime":"2023-07-10T11:42:3{n}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/u{n}"}}}}"#
        ),
        "k8s-audit" => format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a{n}","stage":"ResponseComplete","verb":"get","user":{{"username":"system:serviceaccount:d:sa{n}"}},"requestURI":"/api/v1/pods","stageTimestamp":"2024-01-01T00:00:0{n}Z"}}"#
        ),
        "ocsf" => format!(
            r#"{{"class_uid":6003,"activity_id":1,"time":170000000000{n},"actor":{{"user":{{"uid":"agent-{n}"}}}},"api":{{"operation":"GetSecretValue"}}}}"#
        ),
        other => panic!("no good record for {other}"),
    }
}

#[test]
fn every_corpus_record_is_reported_and_its_neighbours_scored_in_every_format() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/hostile");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "corpus is missing: {files:?}");
    let dir = tempfile::tempdir().unwrap();
    for file in &files {
        let bad = std::fs::read_to_string(file).unwrap();
        for format in ["auto", "native", "cloudtrail", "k8s-audit", "ocsf"] {
            let input = dir.path().join("in.jsonl");
            std::fs::write(
                &input,
                format!("{}\n{}{}\n", good(format, 1), bad, good(format, 2)),
            )
            .unwrap();
            let report = dir.path().join("report.json");
            let out = Command::new(env!("CARGO_BIN_EXE_warden"))
                .args(["replay", "--no-progress", "--format", format, "--report"])
                .arg(&report)
                .arg(&input)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{} under --format {format}", file.display());
            assert!(out.status.success(), "{what}: {stderr}");
            assert!(!stderr.contains("panicked"), "{what}: {stderr}");
            let r: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
            assert_eq!(r["events"], 2, "{what}: {r}");
            assert!(r["decode_errors"].as_u64().unwrap() >= 1, "{what}: {r}");
            assert!(
                stderr.contains("line=2") || stderr.contains("line 2"),
                "{what}: the bad record's line: {stderr}"
            );
        }
    }
}

/// A line past `[input] max_document_bytes` (a sender that never writes a
/// newline) is reported by line and passed over without being held; the
/// lines around it are scored, in every format.
#[test]
fn a_line_past_the_cap_is_reported_and_its_neighbours_scored() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("warden.toml");
    std::fs::write(&cfg, "[input]\nmax_document_bytes = 65536\n").unwrap();
    let huge = format!("{{\"agent_id\":\"{}\"}}", "a".repeat(3 << 20));
    for format in ["auto", "native", "cloudtrail", "k8s-audit", "ocsf"] {
        let input = dir.path().join("in.jsonl");
        std::fs::write(
            &input,
            format!("{}\n{huge}\n{}\n", good(format, 1), good(format, 2)),
        )
        .unwrap();
        let report = dir.path().join("report.json");
        let out = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["replay", "--no-progress", "--format", format, "--config"])
            .arg(&cfg)
            .arg("--report")
            .arg(&report)
            .arg(&input)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {stderr}");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(r["events"], 2, "{format}: {r}");
        assert_eq!(r["decode_errors"], 1, "{format}: {r}");
        assert!(
            stderr.contains("65536-byte cap") && stderr.contains("line 2:"),
            "{format}: {stderr}"
        );
    }
}
