//! Suppressions through the binary: `warden suppress add|list|remove`, their
//! effect on a replay (the covered finding recorded as suppressed, nothing
//! else changed), expiry at `--until` in event time, and propagation to
//! every `warden run` instance through the suppressions topic.

mod common;

use common::stream::{
    fleet_records, produce_paced, read_topic, write_config, DevBroker, Service, ALERTS,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

/// A fleet with attacks, and its findings replayed without suppressions.
fn fleet(dir: &Path) -> (PathBuf, Vec<String>) {
    let input = common::simulate_fleet(dir, "fleet.jsonl", 40, "1d", 7, &["--attack-share", "0.3"]);
    let alerts = replay(dir, &input, None, "base");
    (input, alerts)
}

/// `warden replay` of `input` with `suppressions`: its findings file lines.
fn replay(dir: &Path, input: &Path, suppressions: Option<&Path>, name: &str) -> Vec<String> {
    let alerts = dir.join(format!("{name}-alerts.jsonl"));
    let mut cmd = warden();
    cmd.args(["replay", "--no-progress", "--alerts-out"])
        .arg(&alerts);
    if let Some(s) = suppressions {
        cmd.arg("--suppressions").arg(s);
    }
    common::succeeded(cmd.arg(input).output().unwrap());
    std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap()
}

/// The identity a finding or remediation is about.
fn agent_of(f: &Value) -> String {
    f["anomaly_analyses"][0]["analysis_targets"][0]["name"]
        .as_str()
        .or_else(|| f["evidences"][0]["actor"]["user"]["uid"].as_str())
        .or_else(|| f["unmapped"]["agent_id"].as_str())
        .unwrap_or_else(|| panic!("no identity in {f}"))
        .to_string()
}

/// (detector, value) of each contribution of a finding.
fn contributions(f: &Value) -> Vec<(String, String)> {
    f["anomaly_analyses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let anomaly = &a["anomalies"][0];
            let param = anomaly["observation_parameter"].as_str().unwrap();
            (
                param.split('[').next().unwrap().to_string(),
                anomaly["observed_pattern"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

fn suppress_add(file: &Path, args: &[&str]) -> String {
    let out = common::succeeded(
        warden()
            .args(["suppress", "add", "--file"])
            .arg(file)
            .args(["--by", "analyst@example.com"])
            .args(args)
            .output()
            .unwrap(),
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn not_about<'a>(lines: &'a [String], agent: &str) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|l| agent_of(&json(l)) != agent)
        .collect()
}

#[test]
fn a_suppression_stops_the_matching_finding_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (input, base) = fleet(dir.path());
    let first = json(&base[0]);
    let agent = agent_of(&first);
    let file = dir.path().join("suppressions.jsonl");
    let id = suppress_add(
        &file,
        &["--agent", &agent, "--reason", "red-team drill, CHG-1234"],
    );
    assert!(id.starts_with("sup-"), "{id}");
    let after = replay(dir.path(), &input, Some(&file), "suppressed");

    // Nothing about the identity is raised; one run of it is recorded as
    // suppressed, saying by whom and why.
    let about: Vec<Value> = after
        .iter()
        .map(|l| json(l))
        .filter(|f| agent_of(f) == agent)
        .collect();
    assert!(!about.is_empty(), "the suppressed finding was not recorded");
    // No remediation either: a suppressed finding never revokes.
    assert!(about.iter().all(|f| f["class_uid"] == 2004), "{about:?}");
    for f in &about {
        assert_eq!(f["status_id"], 3, "{f}");
        assert_eq!(f["status"], "Suppressed");
        assert_eq!(f["comment"], "red-team drill, CHG-1234");
        let detail = f["status_detail"].as_str().unwrap();
        assert!(
            detail.contains(&id) && detail.contains("analyst@example.com"),
            "{detail}"
        );
    }
    // The first finding's call is the one recorded.
    assert_eq!(about[0]["time"], first["time"]);
    // Every other identity's findings are exactly what they were.
    assert_eq!(not_about(&after, &agent), not_about(&base, &agent));
}

#[test]
fn a_suppression_of_one_value_leaves_the_rest_of_the_evidence_to_decide() {
    let dir = tempfile::tempdir().unwrap();
    let (input, base) = fleet(dir.path());
    // The first finding led by a new action: suppress that action only.
    let (agent, value) = base
        .iter()
        .map(|l| json(l))
        .find_map(|f| {
            let c = contributions(&f);
            (c.first()?.0 == "novel_action").then(|| (agent_of(&f), c[0].1.clone()))
        })
        .expect("a finding led by a new action");
    let file = dir.path().join("suppressions.jsonl");
    suppress_add(
        &file,
        &[
            "--agent",
            &agent,
            "--detector",
            "novel_action",
            "--value",
            &value,
            "--reason",
            "rolled out to the whole team",
        ],
    );
    let after = replay(dir.path(), &input, Some(&file), "narrow");
    let raised: Vec<Value> = after
        .iter()
        .map(|l| json(l))
        .filter(|f| f["class_uid"] == 2004 && agent_of(f) == agent && f["status_id"] != 3)
        .collect();
    for f in &raised {
        assert!(
            !contributions(f).contains(&("novel_action".into(), value.clone())),
            "a raised finding still counts the suppressed value: {f}"
        );
    }
    // Evidence the suppression does not cover still raises findings.
    let other_evidence = base.iter().map(|l| json(l)).any(|f| {
        agent_of(&f) == agent
            && contributions(&f)
                .iter()
                .any(|(d, v)| d == "novel_action" && v != &value)
    });
    if other_evidence {
        assert!(!raised.is_empty(), "other evidence was suppressed too");
    }
    assert_eq!(not_about(&after, &agent), not_about(&base, &agent));
}

#[test]
fn a_suppression_expires_at_its_until_in_event_time() {
    let dir = tempfile::tempdir().unwrap();
    let (input, base) = fleet(dir.path());
    let first = json(&base[0]);
    let agent = agent_of(&first);
    let t = first["time"].as_i64().unwrap();
    let at = |ms: i64| warden::event::format_rfc3339_ms(ms);

    // Until the first finding's call: that call is no longer covered, and
    // (nothing before it reached the threshold) the replay is unchanged.
    let until_t = dir.path().join("until-t.jsonl");
    suppress_add(
        &until_t,
        &["--agent", &agent, "--until", &at(t), "--reason", "drill"],
    );
    assert_eq!(replay(dir.path(), &input, Some(&until_t), "until-t"), base);

    // One millisecond later: that call is covered.
    let until_after = dir.path().join("until-after.jsonl");
    suppress_add(
        &until_after,
        &[
            "--agent",
            &agent,
            "--until",
            &at(t + 1),
            "--reason",
            "drill",
        ],
    );
    let after = replay(dir.path(), &input, Some(&until_after), "until-after");
    let first_after = after
        .iter()
        .map(|l| json(l))
        .find(|f| agent_of(f) == agent)
        .unwrap();
    assert_eq!(first_after["time"], t);
    assert_eq!(first_after["status"], "Suppressed");
    // Calls after it are judged without it: whatever the identity does
    // next at finding level is raised.
    assert!(
        after
            .iter()
            .map(|l| json(l))
            .all(|f| agent_of(&f) != agent || f["status_id"] != 3 || f["time"] == t),
        "a call after the expiry was suppressed"
    );
}

#[test]
fn add_list_remove_and_bad_input_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.jsonl");
    let a = suppress_add(
        &file,
        &[
            "--agent",
            "svc-1",
            "--until",
            "7d",
            "--reason",
            "owner confirmed",
            "--teach",
        ],
    );
    let b = suppress_add(
        &file,
        &[
            "--agent",
            "svc-2",
            "--until",
            "2020-01-01T00:00:00Z",
            "--reason",
            "old",
        ],
    );
    let list = |extra: &[&str]| {
        let out = common::succeeded(
            warden()
                .args(["suppress", "list", "--file"])
                .arg(&file)
                .args(extra)
                .output()
                .unwrap(),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let table = list(&[]);
    assert!(table.contains(&a) && table.contains(&b), "{table}");
    assert!(table.contains(&format!("{b} (expired)")), "{table}");
    assert!(!table.contains(&format!("{a} (expired)")), "{table}");
    let lines = list(&["--json"]);
    let first = json(lines.lines().next().unwrap());
    assert_eq!(first["teach"], true);
    assert_eq!(first["by"], "analyst@example.com");

    common::succeeded(
        warden()
            .args(["suppress", "remove", "--file"])
            .arg(&file)
            .arg(&a)
            .output()
            .unwrap(),
    );
    let table = list(&[]);
    assert!(!table.contains(&a) && table.contains(&b), "{table}");

    // Refused, with the field named: an unknown detector, an empty
    // reason, an id that is not there.
    let refused = |args: &[&str]| {
        let out = warden()
            .args(["suppress", "add", "--file"])
            .arg(&file)
            .args(["--by", "x", "--agent", "svc-3"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(refused(&["--detector", "novel_acton", "--reason", "r"]).contains("detector"));
    assert!(refused(&["--reason", " "]).contains("reason"));
    let out = warden()
        .args(["suppress", "remove", "--file"])
        .arg(&file)
        .arg("sup-0000")
        .output()
        .unwrap();
    assert!(!out.status.success());

    // A damaged file is refused by replay, naming the line and field.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}{{\"id\":\"x\"}}\n")).unwrap();
    let input = dir.path().join("one.jsonl");
    std::fs::write(
        &input,
        "{\"ts\":\"2026-01-01T00:00:00Z\",\"agent_id\":\"a\",\"agent_type\":\"service_account\",\"action\":\"s3:GetObject\"}\n",
    )
    .unwrap();
    let out = warden()
        .args(["replay", "--no-progress", "--suppressions"])
        .arg(&file)
        .arg(&input)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("s.jsonl:2:"), "{err}");
}

/// Published after the first instance started and before the second:
/// the first takes it live, the second when it catches up at start, and
/// the covered finding is recorded as suppressed on the alerts topic.
#[test]
fn a_published_suppression_reaches_every_instance() {
    let dir = tempfile::tempdir().unwrap();
    let (input, base) = fleet(dir.path());
    let agent = agent_of(&json(&base[0]));
    let broker = DevBroker::start(2);
    let cfg = write_config(dir.path(), "w.toml", &broker.bootstrap, "");
    let one = Service::start(&cfg, &dir.path().join("one.log"));
    assert_eq!(one.metric("warden_suppressions"), 0.0);

    let file = dir.path().join("suppressions.jsonl");
    let out = common::succeeded(
        warden()
            .args(["suppress", "add", "--config"])
            .arg(&cfg)
            .arg("--file")
            .arg(&file)
            .args([
                "--by",
                "soc",
                "--agent",
                &agent,
                "--reason",
                "drill",
                "--publish",
            ])
            .output()
            .unwrap(),
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    one.wait_until("the first instance took it", Duration::from_secs(30), |s| {
        s.metric("warden_suppressions") == 1.0
    });
    let two = Service::start(&cfg, &dir.path().join("two.log"));
    assert_eq!(two.metric("warden_suppressions"), 1.0, "{}", two.log_tail());

    let recs = fleet_records(&input);
    let scored = || one.metric("warden_events_total") + two.metric("warden_events_total");
    produce_paced(&broker.bootstrap, &recs, &scored);
    let n = recs.len() as f64;
    one.wait_until("every call scored", Duration::from_secs(180), |_| {
        scored() >= n
    });
    let (s1, s2) = (one.terminate(), two.terminate());
    let suppressed =
        s1["findings_suppressed"].as_u64().unwrap() + s2["findings_suppressed"].as_u64().unwrap();
    assert!(suppressed >= 1, "{s1}\n{s2}");

    let about: Vec<Value> = read_topic(&broker.bootstrap, ALERTS)
        .iter()
        .map(|r| r.json())
        .filter(|f| f["class_uid"] == 2004 && agent_of(f) == agent)
        .collect();
    assert!(!about.is_empty());
    for f in &about {
        assert_eq!(f["status"], "Suppressed", "{f}");
        assert!(f["status_detail"].as_str().unwrap().contains(&id));
    }
    // Every partition's decision log records the set in force, as the file
    // holding just this suppression would (a change, or an opening).
    let published = warden::audit::sha256_hex(&std::fs::read(&file).unwrap());
    let mut recorded = std::collections::BTreeMap::<i32, Vec<String>>::new();
    for r in read_topic(&broker.bootstrap, "warden.audit.v1") {
        let line = r.json();
        if line["kind"] == "dev.warden.suppressions" {
            recorded
                .entry(r.partition)
                .or_default()
                .push(line["digest"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    for (p, digests) in &recorded {
        assert!(digests.contains(&published), "partition {p}: {digests:?}");
    }

    // Removed through the topic: a tombstone takes it out of force.
    let three = Service::start(&cfg, &dir.path().join("three.log"));
    assert_eq!(three.metric("warden_suppressions"), 1.0);
    common::succeeded(
        warden()
            .args(["suppress", "remove", "--config"])
            .arg(&cfg)
            .arg("--file")
            .arg(&file)
            .arg("--publish")
            .arg(&id)
            .output()
            .unwrap(),
    );
    three.wait_until("the removal arrived", Duration::from_secs(30), |s| {
        s.metric("warden_suppressions") == 0.0
    });
    three.terminate();
}

/// `--teach`: the calls a suppression covers count as normal for the
/// identity's baseline. A new nightly batch, suppressed on its first night
/// with `--teach`, is learned: on the next night, with the suppression
/// expired, its hour is judged against a profile that holds it. Without
/// teaching, the suppressed calls are kept out of the profile as flagged
/// calls are, and the second night is as surprising as the first.
#[test]
fn a_teaching_suppression_makes_what_it_covered_normal() {
    use common::{call, run_on, steady_fleet, HOUR, T0};
    use std::sync::Arc;
    use warden::decide::{Decision, Suppression, SuppressionSet};
    use warden::engine::Engine;
    use warden::signal::Feature;

    const DAY: i64 = 24 * HOUR;
    // T0 is a Friday: the batch starts Monday 02:00 and runs again Tuesday.
    let first_night = T0 + 3 * DAY + 2 * HOUR;
    let second_night = first_night + DAY;
    // A team that works office hours.
    let mut events: Vec<_> = (0..5)
        .flat_map(|d| {
            steady_fleet(
                10,
                T0 + d * DAY + 8 * HOUR,
                T0 + d * DAY + 18 * HOUR,
                30_000,
            )
        })
        .collect();
    for night in [first_night, second_night] {
        for i in 0..300 {
            events.push(call("wl-0", night + i * 12_000, "s3:PutObject"));
        }
    }
    events.sort_by_key(|e| e.ts_ms);

    let run = |teach: bool| {
        let mut s = Suppression {
            id: String::new(),
            agent: "wl-0".into(),
            detector: None,
            value: None,
            until: Some(warden::event::format_rfc3339_ms(first_night + HOUR)),
            reason: "new nightly export, CHG-77".into(),
            by: "test".into(),
            created: "2026-11-01T00:00:00Z".into(),
            teach,
        };
        s.make_id();
        let mut engine = Engine::new(warden::config::Config::default());
        engine.set_suppressions(Arc::new(SuppressionSet::new([Arc::new(s)])));
        let out = run_on(&mut engine, &events);
        let suppressed = out
            .iter()
            .filter(|d| matches!(d, Decision::Suppressed(_)))
            .count();
        // The seasonal surprise of the second night's first finding.
        let second: f32 = out
            .iter()
            .filter_map(|d| match d {
                Decision::Finding(f)
                    if f.agent_id == "wl-0"
                        && (second_night..second_night + HOUR).contains(&f.time_ms) =>
                {
                    Some(
                        f.contributions
                            .iter()
                            .filter(|c| c.feature == Feature::SeasonalHour)
                            .map(|c| c.surprise)
                            .sum::<f32>(),
                    )
                }
                _ => None,
            })
            .next()
            .unwrap_or(0.0);
        (suppressed, second)
    };
    let (kept_out, without) = run(false);
    let (taught, with) = run(true);
    assert!(
        kept_out >= 1 && taught >= 1,
        "the first night was not covered"
    );
    assert!(without > 0.0, "the second night raised nothing untaught");
    assert!(
        with < without,
        "teaching changed nothing: {with} vs {without} bits"
    );
}
