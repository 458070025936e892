//! `warden tune` (the real binary): each row of its sweep is what `warden
//! replay` reports at that threshold; the configuration it recommends meets
//! its false-finding budget on fleets it never saw; unlabelled input gets a
//! volume table; real CloudTrail logs go through it.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_warden");

fn tune(dir: &Path, args: &[&str], input: &Path) -> (Value, String) {
    let report = dir.join("tune.json");
    let out = Command::new(BIN)
        .args(["tune", "--no-progress", "--report"])
        .arg(&report)
        .args(args)
        .arg(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tune failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// `warden replay` with `config` (TOML text): its evaluation.
fn replay(dir: &Path, config: &str, input: &Path) -> Value {
    let cfg = dir.join("replay.toml");
    std::fs::write(&cfg, config).unwrap();
    common::replay_evaluation(dir, &cfg, input)
}

fn fleet(dir: &Path, name: &str, agents: u32, seed: u64) -> PathBuf {
    common::simulate_fleet(dir, name, agents, "3d", seed, &["--attack-share", "0.2"])
}

#[test]
fn every_sweep_row_is_what_replay_reports_at_that_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let input = fleet(dir.path(), "fleet.jsonl", 60, 5);
    // One finding threshold, so the revocation sweep is at it.
    let (r, text) = tune(
        dir.path(),
        &[
            "--thresholds",
            "42",
            "--revoke-thresholds",
            "50,70,90",
            "--budget",
            "1000",
        ],
        &input,
    );
    assert!(text.contains("finding threshold sweep"), "{text}");
    let row = &r["finding_sweep"][0];
    for rt in [50, 70, 90] {
        let ev = replay(
            dir.path(),
            &format!("[decisions]\nfinding_threshold = 42.0\nrevoke_threshold = {rt}.0\n"),
            &input,
        );
        assert_eq!(row["findings"], ev["findings_created"]);
        assert_eq!(row["false_findings"], ev["false_findings"]);
        assert_eq!(row["detected_episodes"], ev["detected_episodes"]);
        let rv = r["revoke_sweep"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["revoke_threshold"] == rt as f64)
            .unwrap();
        assert_eq!(
            rv["revocations"], ev["revocations"],
            "revoke threshold {rt}"
        );
        assert_eq!(rv["wrongful_revocations"], ev["wrongful_revocations"]);
    }
    // Several finding thresholds at once: each row as its own replay.
    let (r, _) = tune(
        dir.path(),
        &["--thresholds", "45,70", "--budget", "1000"],
        &input,
    );
    for (i, t) in [45, 70].into_iter().enumerate() {
        let ev = replay(
            dir.path(),
            &format!("[decisions]\nfinding_threshold = {t}.0\n"),
            &input,
        );
        let row = &r["finding_sweep"][i];
        assert_eq!(row["finding_threshold"], t as f64);
        assert_eq!(row["findings"], ev["findings_created"], "threshold {t}");
        assert_eq!(row["false_findings"], ev["false_findings"], "threshold {t}");
        assert_eq!(row["recall"], ev["recall"], "threshold {t}");
    }
    // Lower thresholds never flag fewer agents nor catch fewer episodes.
    // (The count of findings may fall: a lower line can join two crossings
    // of a higher one into one open episode.)
    for key in ["agents_with_findings", "detected_episodes"] {
        let f = |i: usize| r["finding_sweep"][i][key].as_u64().unwrap();
        assert!(f(0) >= f(1), "{key}: {} < {}", f(0), f(1));
    }
}

/// A high finding line chosen with revocation lines swept below it: the
/// recommended revocation line is never under the finding line, and the
/// config written is one `warden replay` accepts.
#[test]
fn a_recommended_config_is_always_a_valid_one() {
    let dir = tempfile::tempdir().unwrap();
    let input = fleet(dir.path(), "fleet.jsonl", 60, 5);
    let written = dir.path().join("tuned.toml");
    let (r, text) = tune(
        dir.path(),
        &[
            "--thresholds",
            "90",
            "--revoke-thresholds",
            "60,70,80,95",
            "--budget",
            "1000",
            "--write-config",
            written.to_str().unwrap(),
        ],
        &input,
    );
    let rec = &r["recommendation"];
    assert_eq!(rec["finding_threshold"], 90.0, "{text}");
    assert!(rec["revoke_threshold"].as_f64().unwrap() >= 90.0, "{text}");
    for row in r["revoke_sweep"].as_array().unwrap() {
        assert!(row["revoke_threshold"].as_f64().unwrap() >= 90.0, "{row}");
    }
    // Replay refuses a config whose revocation line is under its finding
    // line; this one loads and runs.
    let ev = common::replay_evaluation(dir.path(), &written, &input);
    assert!(ev["events"].as_u64().unwrap() > 0);
}

#[test]
fn the_recommended_config_meets_its_budget_on_fleets_it_never_saw() {
    let dir = tempfile::tempdir().unwrap();
    let train = fleet(dir.path(), "train.jsonl", 150, 1);
    let written = dir.path().join("tuned.toml");
    let budget = 3.0;
    let (r, text) = tune(
        dir.path(),
        &[
            "--budget",
            &budget.to_string(),
            "--write-config",
            written.to_str().unwrap(),
        ],
        &train,
    );
    let rec = &r["recommendation"];
    assert!(rec.is_object(), "{text}");
    assert!(
        rec["figures"]["false_findings_per_1000_agent_days"]
            .as_f64()
            .unwrap()
            <= budget
    );
    let cfg = std::fs::read_to_string(&written).unwrap();
    assert!(cfg.starts_with("# Written by `warden tune`"), "{cfg}");
    assert!(cfg.contains(&format!(
        "finding_threshold = {:?}",
        rec["finding_threshold"].as_f64().unwrap()
    )));
    for seed in [2, 3] {
        let held_out = fleet(dir.path(), &format!("test{seed}.jsonl"), 150, seed);
        let ev = common::replay_evaluation(dir.path(), &written, &held_out);
        let ff = ev["false_findings_per_1000_agent_days"].as_f64().unwrap();
        assert!(
            ff <= budget,
            "seed {seed}: {ff} false findings per 1,000 agent-days"
        );
        assert_eq!(ev["wrongful_revocations"], 0, "seed {seed}");
        // Fifteen threat families, some of them slow and quiet (archive
        // reads, ramps): docs/detection.md has the per-family figures.
        assert!(
            ev["recall"].as_f64().unwrap() >= 0.7,
            "seed {seed}: {}",
            ev["recall"]
        );
    }
}

/// The same fleet without its labels: a volume table, and a recommendation
/// only for a findings-per-day budget.
#[test]
fn unlabelled_input_gets_volumes_and_a_per_day_budget() {
    let dir = tempfile::tempdir().unwrap();
    let labelled = fleet(dir.path(), "fleet.jsonl", 60, 8);
    let bare = dir.path().join("bare.jsonl");
    let text: String = std::fs::read_to_string(&labelled)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("label");
            v.to_string() + "\n"
        })
        .collect();
    std::fs::write(&bare, text).unwrap();
    let (r, out) = tune(dir.path(), &[], &bare);
    assert_eq!(r["labelled"], false);
    assert!(r["recommendation"].is_null());
    assert!(out.contains("no recommendation: unlabelled input"), "{out}");
    let rows = r["finding_sweep"].as_array().unwrap();
    assert!(rows.iter().all(|x| [
        "recall",
        "precision",
        "false_findings",
        "false_findings_per_1000_agent_days"
    ]
    .iter()
    .all(|k| x[*k].is_null())));
    assert!(
        r["revoke_sweep"].as_array().unwrap().is_empty(),
        "no budget, no sweep"
    );
    // Volumes need not fall with the threshold: at a higher one an episode
    // can go quiet between calls and open again.
    let days = r["days"].as_f64().unwrap();
    let per_day: Vec<f64> = rows
        .iter()
        .map(|x| x["findings_per_day"].as_f64().unwrap())
        .collect();
    for (x, pd) in rows.iter().zip(&per_day) {
        assert!((x["findings"].as_f64().unwrap() / days - pd).abs() < 1e-9);
        assert!(x["agents_with_findings"].as_u64().unwrap() <= x["findings"].as_u64().unwrap());
    }
    let mut sorted = per_day.clone();
    sorted.sort_by(f64::total_cmp);
    let budget = sorted[0];
    let (r, _) = tune(
        dir.path(),
        &["--findings-per-day", &budget.to_string()],
        &bare,
    );
    let rec = &r["recommendation"];
    assert!(rec["figures"]["findings_per_day"].as_f64().unwrap() <= budget);
    // Without labels nothing can be called wrongful: the revocation sweep
    // only counts.
    let rv = r["revoke_sweep"].as_array().unwrap();
    assert!(!rv.is_empty());
    assert!(rv
        .iter()
        .all(|v| v["wrongful_revocations"].is_null() && v["revocations"].is_u64()));
    assert!(rec["figures"]["false_findings_per_1000_agent_days"].is_null());
    // The lowest threshold within the budget.
    let first_ok = rows
        .iter()
        .find(|x| x["findings_per_day"].as_f64().unwrap() <= budget)
        .unwrap();
    assert_eq!(rec["finding_threshold"], first_ok["finding_threshold"]);
}

#[test]
fn real_cloudtrail_logs_can_be_tuned() {
    let data = Path::new("../shared/data/cloudtrail/invictus-ir");
    if !data.exists() {
        common::skip_missing(data);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (r, out) = tune(
        dir.path(),
        &["--format", "cloudtrail", "--findings-per-day", "50"],
        data,
    );
    assert_eq!(r["labelled"], false);
    assert!(r["events"].as_u64().unwrap() > 1000, "{out}");
    assert!(r["recommendation"].is_object(), "{out}");
}
