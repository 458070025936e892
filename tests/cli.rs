//! The real `warden` binary: simulate, replay, evaluation, bad input,
//! determinism, and detection quality on simulator seeds never tuned on.

mod common;

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

fn ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("warden runs");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn simulate(dir: &Path, name: &str, agents: u32, duration: &str, seed: u64) -> std::path::PathBuf {
    common::simulate_fleet(dir, name, agents, duration, seed, &[])
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Detection quality on a 3-day, 300-agent fleet from a seed the engine was
/// never tuned on, all fifteen threat families and the simulator's benign
/// changes (roll-outs, migrations, backfills, outages, clock shifts). The
/// floors are the figures measured today (docs/detection.md) less a margin;
/// the full matrix is `scripts/eval-matrix.sh`. The simulator streams
/// straight into replay through a pipe (about 600 MB of JSON never touches
/// the disk).
fn quality_on_seed(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let mut sim = warden()
        .args([
            "simulate",
            "--agents",
            "300",
            "--duration",
            "3d",
            "--seed",
            &seed.to_string(),
            "--out",
            "-",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = warden()
        .args(["replay", "--no-progress", "--report"])
        .arg(&report)
        .arg("-")
        .stdin(sim.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(sim.wait().unwrap().success());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    println!("seed {seed}:\n{text}");
    let r = read_json(&report);
    let e = &r["evaluation"];
    assert_eq!(e["attack_episodes"], 45);
    let recall = e["recall"].as_f64().unwrap();
    let ff = e["false_findings_per_1000_agent_days"].as_f64().unwrap();
    assert!(recall >= 0.8, "seed {seed}: recall {recall}\n{text}");
    // The families an attacker runs in minutes are found nearly always.
    let fast = [
        "stolen_credential",
        "discovery",
        "privilege_escalation",
        "bulk_exfiltration",
        "permission_probing",
        "cross_tenant",
        "stranger_delegation",
    ];
    let (mut n, mut found) = (0, 0);
    for s in e["scenarios"].as_array().unwrap() {
        if fast.contains(&s["scenario"].as_str().unwrap()) {
            n += s["episodes"].as_u64().unwrap();
            found += s["detected"].as_u64().unwrap();
        }
    }
    assert!(
        found * 10 >= n * 9,
        "seed {seed}: fast families {found}/{n}\n{text}"
    );
    assert!(
        ff <= 2.0,
        "seed {seed}: {ff} false findings per 1,000 agent-days\n{text}"
    );
    assert_eq!(e["wrongful_revocations"], 0, "seed {seed}\n{text}");
    assert_eq!(r["decode_errors"], 0);
    assert!(r["state_bytes_per_agent"].as_f64().unwrap() <= 2048.0);
}

#[test]
fn quality_on_held_out_seed_4242() {
    quality_on_seed(4242);
}

#[test]
fn quality_on_held_out_seed_9001() {
    quality_on_seed(9001);
}

#[test]
fn simulate_and_replay_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulate(dir.path(), "a.jsonl", 40, "24h", 11);
    let b = simulate(dir.path(), "b.jsonl", 40, "24h", 11);
    let c = simulate(dir.path(), "c.jsonl", 40, "24h", 12);
    let (a_text, b_text) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(a_text, b_text, "same seed, same bytes");
    assert_ne!(
        a_text,
        std::fs::read(&c).unwrap(),
        "another seed, another fleet"
    );

    // Time-sorted, canonical, labelled.
    let text = String::from_utf8(a_text).unwrap();
    let mut last = 0;
    let mut labels = std::collections::BTreeSet::new();
    for line in text.lines() {
        let ev = warden::event::decode_line(line, 0).expect("simulator writes canonical events");
        assert!(ev.ts_ms >= last);
        last = ev.ts_ms;
        if let Some(l) = ev.label {
            labels.insert(l.to_string());
        }
    }
    assert!(labels.len() >= 5, "{labels:?}");

    // One engine, then cohorts shared out over three threads (more than
    // this machine's cores, and uneven): the same outputs.
    let mut outputs = Vec::new();
    for (run, threads) in ["1", "3"].into_iter().enumerate() {
        let alerts = dir.path().join(format!("alerts{run}.jsonl"));
        let revs = dir.path().join(format!("revocations{run}.jsonl"));
        let report = dir.path().join(format!("report{run}.json"));
        ok(warden()
            .args([
                "replay",
                "--no-progress",
                "--threads",
                threads,
                "--alerts-out",
            ])
            .arg(&alerts)
            .arg("--revocations-out")
            .arg(&revs)
            .arg("--report")
            .arg(&report)
            .arg(&a));
        let mut report = read_json(&report);
        for timing in ["elapsed_s", "events_per_sec", "peak_rss_bytes"] {
            report.as_object_mut().unwrap().remove(timing);
        }
        // SETs are signed with a fresh key each run here (no key_file) and
        // ECDSA signatures are randomised: their claims are what must agree,
        // all but `iat`, which is when the token was issued (checked to be
        // now, not the event's time).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let claims: Vec<Value> = std::fs::read_to_string(&revs)
            .unwrap()
            .lines()
            .map(|l| {
                let mut c = common::set_parts(l).1;
                let iat = c["iat"].as_i64().unwrap();
                assert!((iat - now).abs() < 300, "iat {iat} is not the issuing time");
                c.as_object_mut().unwrap().remove("iat");
                c
            })
            .collect();
        outputs.push((std::fs::read(&alerts).unwrap(), claims, report));
    }
    assert!(!outputs[0].0.is_empty() && !outputs[0].1.is_empty());
    assert!(outputs[0].2["events"].as_u64().unwrap() > 10_000);
    assert_eq!(
        outputs[0], outputs[1],
        "same input and config, one thread or three: byte-identical findings, \
         identical revocation claims and report"
    );
}

#[test]
fn findings_are_ocsf_detection_findings_from_the_triggering_call() {
    let dir = tempfile::tempdir().unwrap();
    let input = simulate(dir.path(), "in.jsonl", 60, "24h", 5);
    let alerts = dir.path().join("alerts.jsonl");
    let revs = dir.path().join("revs.jsonl");
    ok(warden()
        .args(["replay", "--no-progress", "--alerts-out"])
        .arg(&alerts)
        .arg("--revocations-out")
        .arg(&revs)
        .arg(&input));
    // Index the input by event id to check each finding against its trigger.
    let mut by_id = std::collections::HashMap::new();
    for line in std::fs::read_to_string(&input).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        by_id.insert(v["event_id"].as_str().unwrap().to_string(), v);
    }
    let findings: Vec<Value> = std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!findings.is_empty());
    let mut uids = std::collections::HashSet::new();
    let mut closed = 0;
    let mut remediations = Vec::new();
    for f in &findings {
        if f["class_uid"] == 7001 {
            remediations.push(f.clone()); // checked against the revocations below
            continue;
        }
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["category_uid"], 2);
        assert_eq!(f["metadata"]["version"], "1.8.0");
        let act = f["activity_id"].as_i64().unwrap();
        assert!((1..=3).contains(&act));
        assert_eq!(f["type_uid"].as_i64().unwrap(), 200400 + act);
        assert_eq!(f["is_alert"].as_bool().unwrap_or(false), act == 1);
        let risk = f["risk_score"].as_i64().unwrap();
        assert!((60..=100).contains(&risk));
        let ev = &f["evidences"][0];
        let trigger = &by_id[ev["api"]["request"]["uid"].as_str().unwrap()];
        assert_eq!(ev["actor"]["user"]["uid"], trigger["agent_id"]);
        assert_eq!(ev["actor"]["user"]["credential_uid"], trigger["session_id"]);
        let ts = warden::event::parse_rfc3339_ms(trigger["ts"].as_str().unwrap()).unwrap();
        let uid = f["finding_info"]["uid"].as_str().unwrap().to_string();
        if act == 3 {
            // Closed once quiet: repeats the last finding's evidence, dated
            // when the episode went quiet (30 minutes after its last
            // finding-level call, which may be after the last finding).
            assert!(f["time"].as_i64().unwrap() >= ts + 30 * 60_000);
            assert_eq!(f["status_id"], 5);
            assert!(f["message"].as_str().unwrap().contains("episode closed"));
            assert!(uids.contains(&uid), "a Close follows its Create");
            closed += 1;
            continue;
        }
        assert_eq!(
            f["time"].as_i64().unwrap(),
            ts,
            "time is the triggering call's ts"
        );
        assert!(f["finding_info"]["first_seen_time"].as_i64().unwrap() <= ts);
        assert!(!f["anomaly_analyses"].as_array().unwrap().is_empty());
        assert!(
            f["message"].as_str().unwrap().contains("baseline")
                || f["message"].as_str().unwrap().contains('`')
        );
        if act == 1 {
            assert!(
                uids.insert(f["finding_info"]["uid"].as_str().unwrap().to_string()),
                "one Create per finding uid"
            );
        }
    }
    // Revocations: signed SETs naming their finding (txn) and agent.
    let revocations: Vec<Value> = std::fs::read_to_string(&revs)
        .unwrap()
        .lines()
        .map(|l| common::set_parts(l).1)
        .collect();
    for r in &revocations {
        assert!(
            uids.contains(r["txn"].as_str().unwrap()),
            "a revocation names its finding"
        );
        assert!(r["sub_id"]["user"]["id"].is_string());
    }
    assert!(closed > 0, "episodes that went quiet are closed");
    // Every revocation is also an OCSF Remediation Activity linked to its finding.
    assert_eq!(remediations.len(), revocations.len());
    for (m, r) in remediations.iter().zip(&revocations) {
        assert_eq!(m["command_uid"], r["jti"]);
        assert_eq!(m["metadata"]["correlation_uid"], r["txn"]);
        assert_eq!(m["type_uid"], 700102);
    }
}

#[test]
fn bad_records_are_reported_by_line_and_field_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    writeln!(
        f,
        r#"{{"ts":"2026-11-20T10:00:00Z","agent_id":"a","action":"s3:GetObject"}}"#
    )
    .unwrap();
    writeln!(
        f,
        r#"{{"ts":"not a time","agent_id":"a","action":"s3:GetObject"}}"#
    )
    .unwrap();
    writeln!(f, r#"{{"ts":1795132800000,"agent_id":"b","action":"s3:GetObject","outcome":"perhaps","extra_field":[1]}}"#).unwrap();
    writeln!(f, "{{truncated").unwrap();
    writeln!(
        f,
        r#"{{"ts":1795132800001,"agent_id":"b","action":"s3:GetObject","extra_field":[1]}}"#
    )
    .unwrap();
    drop(f);
    let report = dir.path().join("r.json");
    let out = warden()
        .args(["replay", "--no-progress", "--report"])
        .arg(&report)
        .arg(&input)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: field `ts`"), "{err}");
    assert!(err.contains("line 3: field `outcome`"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    let r = read_json(&report);
    assert_eq!(r["decode_errors"], 3);
    assert_eq!(r["events"], 2);
    // More bad records than calls: the outputs are written, but the run
    // does not pass as a quiet one.
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("mostly bad records"), "{err}");
    assert_eq!(r["suspect_inputs"][0]["bad_records"], 3, "{r}");

    // With the good records in the majority, the same bad ones are reported
    // and the run succeeds.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&input)
        .unwrap();
    for i in 0..5 {
        writeln!(
            f,
            r#"{{"ts":{},"agent_id":"c","action":"s3:GetObject"}}"#,
            1_795_132_800_002i64 + i
        )
        .unwrap();
    }
    drop(f);
    ok(warden()
        .args(["replay", "--no-progress", "--report"])
        .arg(&report)
        .arg(&input));
    assert_eq!(read_json(&report)["events"], 7);
}

#[test]
fn gzip_directories_and_stdin_are_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("logs");
    std::fs::create_dir(&sub).unwrap();
    let plain = simulate(&sub, "day.jsonl", 20, "6h", 3);
    simulate(&sub, "day.jsonl.gz", 20, "6h", 3);
    std::fs::write(sub.join("notes.txt"), "not an input").unwrap();
    let report = dir.path().join("r.json");
    ok(warden()
        .args(["replay", "--no-progress", "--report"])
        .arg(&report)
        .arg(&sub));
    let r = read_json(&report);
    assert_eq!(r["inputs"], 2);
    let n_lines = std::fs::read_to_string(&plain).unwrap().lines().count() as u64;
    assert_eq!(r["events"].as_u64().unwrap(), 2 * n_lines);

    let mut child = warden()
        .args(["replay", "--no-progress", "--report"])
        .arg(dir.path().join("s.json"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&plain).unwrap())
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        read_json(&dir.path().join("s.json"))["events"]
            .as_u64()
            .unwrap(),
        n_lines
    );
}

#[test]
fn a_bad_config_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("w.toml");
    std::fs::write(&cfg, "[decisions]\nfinding_treshold = 50\n").unwrap();
    let input = simulate(dir.path(), "in.jsonl", 5, "1h", 1);
    let out = warden()
        .args(["replay", "--no-progress", "--config"])
        .arg(&cfg)
        .arg(&input)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("finding_treshold"));
    // The shipped default config loads and is what `default-config` prints.
    let printed = ok(warden().arg("default-config")).stdout;
    std::fs::write(&cfg, printed).unwrap();
    ok(warden()
        .args(["replay", "--no-progress", "--config"])
        .arg(&cfg)
        .arg(&input));
}

#[test]
fn the_shipped_replay_sample_replays_with_an_evaluation() {
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("replay-data/fleet-40x24h-seed7.jsonl.gz");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    ok(warden()
        .args(["replay", "--no-progress", "--report"])
        .arg(&report)
        .arg(&sample));
    let r = read_json(&report);
    assert!(r["events"].as_u64().unwrap() > 50_000);
    assert!(r["evaluation"]["attack_episodes"].as_u64().unwrap() >= 5);
    // Regenerating it with the documented command gives the same events.
    let regen = simulate(dir.path(), "regen.jsonl", 40, "24h", 7);
    let mut gz = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&sample).unwrap()),
        &mut gz,
    )
    .unwrap();
    assert_eq!(gz, std::fs::read_to_string(regen).unwrap());
}

#[test]
fn revocations_are_sets_signed_with_a_generated_key_that_verify_checks() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = ok(warden().args(["keys", "generate", "--out-dir"]).arg(&keys));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("kid "));
    // Never overwrites a key.
    let again = warden()
        .args(["keys", "generate", "--out-dir"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(!again.status.success());

    let cfg = dir.path().join("w.toml");
    std::fs::write(
        &cfg,
        format!(
            "[signing]\nkey_file = \"{}\"\nissuer = \"https://warden.test/\"\naudience = [\"https://idp.test/ssf\"]\n",
            keys.join("warden-signing.pem").display()
        ),
    )
    .unwrap();
    let input = simulate(dir.path(), "in.jsonl", 60, "30h", 8);
    let revs = dir.path().join("revs.jwt");
    ok(warden()
        .args(["replay", "--no-progress", "--config"])
        .arg(&cfg)
        .arg("--revocations-out")
        .arg(&revs)
        .arg(&input));
    let n = std::fs::read_to_string(&revs).unwrap().lines().count();
    assert!(n > 0);
    for key in [
        ["--jwks", "warden-signing.jwks.json"],
        ["--public-key", "warden-signing.pub.pem"],
    ] {
        let out = ok(warden()
            .args(["verify", key[0]])
            .arg(keys.join(key[1]))
            .arg(&revs));
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), n);
        for l in &lines {
            assert_eq!(l["valid"], true);
            assert_eq!(l["header"]["alg"], "ES256");
            assert_eq!(l["claims"]["iss"], "https://warden.test/");
            assert_eq!(l["claims"]["aud"], "https://idp.test/ssf");
        }
    }
    // One altered token fails the whole check and is named.
    let text = std::fs::read_to_string(&revs).unwrap();
    let first = text.lines().next().unwrap();
    let mut parts: Vec<&str> = first.split('.').collect();
    let sig = parts[2].chars().rev().collect::<String>();
    parts[2] = &sig;
    let tampered = dir.path().join("tampered.jwt");
    std::fs::write(&tampered, format!("{}\n{text}", parts.join("."))).unwrap();
    let out = warden()
        .args(["verify", "--jwks"])
        .arg(keys.join("warden-signing.jwks.json"))
        .arg(&tampered)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let first_result: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first_result["valid"], false);
    assert_eq!(first_result["line"], 1);
}
