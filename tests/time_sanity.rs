//! Event time is written by the caller. One record dated far in the future
//! must not move the clocks that only go forward (the minute episodes are
//! closed on): it is reported and skipped, and every finding, Close
//! included, stays as it was.

mod common;

use std::process::Command;

fn replay(
    dir: &std::path::Path,
    input: &std::path::Path,
    tag: &str,
) -> (String, serde_json::Value, String) {
    let findings = dir.join(format!("{tag}-findings.jsonl"));
    let report = dir.join(format!("{tag}-report.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["replay", "--no-progress", "--alerts-out"])
        .arg(&findings)
        .arg("--report")
        .arg(&report)
        .arg(input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    (
        std::fs::read_to_string(findings).unwrap(),
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap(),
        stderr,
    )
}

#[test]
fn a_far_future_record_changes_no_close() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = common::simulate_fleet(
        dir.path(),
        "fleet.jsonl",
        40,
        "2d",
        11,
        &["--attack-share", "0.3"],
    );
    let (want, _, _) = replay(dir.path(), &fleet, "clean");
    let closes = want
        .lines()
        .filter(|l| l.contains(r#""activity_id":3"#))
        .count();
    assert!(
        closes > 0,
        "the fleet must close episodes for this test to mean anything"
    );

    // The same fleet with one call dated 2100 a third of the way in.
    let text = std::fs::read_to_string(&fleet).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let future = r#"{"ts":"2100-01-01T00:00:00Z","agent_id":"agent-from-the-future","action":"s3:GetObject","agent_type":"ai_agent"}"#;
    let at = lines.len() / 3;
    lines.insert(at, future);
    let poisoned = dir.path().join("poisoned.jsonl");
    std::fs::write(&poisoned, lines.join("\n") + "\n").unwrap();
    let (got, report, stderr) = replay(dir.path(), &poisoned, "poisoned");

    assert_eq!(got, want, "a far-future record changed the findings");
    assert_eq!(report["decode_errors"], 1, "{report}");
    assert!(
        stderr.contains(&format!("line {}: field `ts`", at + 1))
            && stderr.contains("ahead of the latest accepted"),
        "the future record is reported with its line: {stderr}"
    );
}
