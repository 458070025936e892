//! Event time is written by the caller. One record dated far in the future
//! must not move the clocks that only go forward (the minute episodes are
//! closed on): it is reported and skipped, and every finding, Close
//! included, stays as it was. And agents whose calls arrive hours behind
//! the rest keep their episodes as they would in time order.

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

/// One producer (or partition) can run hours behind the others: its agents'
/// calls arrive late while the shared clock follows the rest of the fleet.
/// Their episodes must still close on their own time, as in a file in time
/// order. Before each episode kept its agent's lag, the sweep closed them
/// while their calls were still arriving, so each next call opened a new
/// finding and revoked again (65 findings for 29 on a 200-agent fleet).
#[test]
fn agents_delivered_hours_late_keep_their_episodes() {
    use time::format_description::well_known::Rfc3339;
    const LATE_MS: i64 = 2 * 3_600_000;
    let dir = tempfile::tempdir().unwrap();
    let fleet = common::simulate_fleet(
        dir.path(),
        "fleet.jsonl",
        60,
        "2d",
        5,
        &["--attack-share", "0.4"],
    );
    let (want, _, _) = replay(dir.path(), &fleet, "in-order");

    // Every third agent, in order of first appearance, arrives two hours
    // late: the lines keep their event time and are reordered by arrival.
    let text = std::fs::read_to_string(&fleet).unwrap();
    let mut agents: Vec<String> = Vec::new();
    let mut arrivals: Vec<(i64, usize, &str)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let agent = v["agent_id"].as_str().unwrap().to_string();
        let nth = match agents.iter().position(|a| *a == agent) {
            Some(n) => n,
            None => {
                agents.push(agent);
                agents.len() - 1
            }
        };
        let ts = time::OffsetDateTime::parse(v["ts"].as_str().unwrap(), &Rfc3339).unwrap();
        let ms = (ts.unix_timestamp_nanos() / 1_000_000) as i64;
        let late = if nth % 3 == 0 { LATE_MS } else { 0 };
        arrivals.push((ms + late, i, line));
    }
    arrivals.sort_by_key(|&(at, i, _)| (at, i));
    let late = dir.path().join("late.jsonl");
    let body: Vec<&str> = arrivals.iter().map(|&(_, _, l)| l).collect();
    std::fs::write(&late, body.join("\n") + "\n").unwrap();
    let (got, report, stderr) = replay(dir.path(), &late, "late");
    assert_eq!(report["decode_errors"], 0, "{stderr}");

    // Each agent's episodes opened once, as in time order: none cut short
    // by the others' clock and raised again. (Which call of an episode
    // raises it can move: the cohort sees the calls in another order.)
    let opened = |findings: &str| -> Vec<(String, usize)> {
        let mut per_agent = std::collections::BTreeMap::<String, usize>::new();
        for f in findings
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|f| f["activity_id"] == 1)
        {
            let agent = f["evidences"][0]["actor"]["user"]["uid"].as_str().unwrap();
            *per_agent.entry(agent.to_string()).or_default() += 1;
        }
        per_agent.into_iter().collect()
    };
    let (want_opened, got_opened) = (opened(&want), opened(&got));
    assert!(
        want_opened.len() >= 5,
        "the fleet must raise findings for this test to mean anything"
    );
    assert_eq!(
        got_opened, want_opened,
        "late delivery changed how many episodes each agent had opened"
    );
}
