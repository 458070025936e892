//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod receivers;
pub mod stream;

use std::borrow::Cow;
use warden::config::Config;
use warden::decide::Decision;
use warden::engine::Engine;
use warden::event::{AgentType, CallBatchBuilder, CallEvent, Outcome};

pub const T0: i64 = 1_795_132_800_000; // Friday 2026-11-20T00:00Z
pub const MIN: i64 = 60_000;
pub const HOUR: i64 = 3_600_000;

/// A call of agent `agent` at `ts` with sensible defaults.
pub fn call(agent: &str, ts: i64, action: &str) -> CallEvent<'static> {
    CallEvent {
        ts_ms: ts,
        agent_id: Cow::Owned(agent.to_string()),
        action: Cow::Owned(action.to_string()),
        agent_type: AgentType::Workload,
        session_id: Some(Cow::Owned(format!("{agent}-tok"))),
        tenant: Some(Cow::Borrowed("t1")),
        resource: Some(Cow::Owned(format!("arn:aws:s3:::{agent}-bucket/obj"))),
        src_ip: Some(Cow::Borrowed("10.1.2.3")),
        user_agent: Some(Cow::Borrowed("aws-sdk-go-v2/1.30.1")),
        event_id: Some(Cow::Owned(format!("e-{agent}-{ts}"))),
        outcome: Outcome::Success,
        bytes_out: Some(2_000),
        ..CallEvent::default()
    }
}

/// A fleet of `n` steady workloads calling every `every_ms` from `from` to `to`,
/// round-robin over a few ordinary actions.
pub fn steady_fleet(n: usize, from: i64, to: i64, every_ms: i64) -> Vec<CallEvent<'static>> {
    let actions = [
        "sqs:ReceiveMessage",
        "s3:PutObject",
        "sqs:DeleteMessage",
        "dynamodb:PutItem",
    ];
    let mut out = Vec::new();
    let mut t = from;
    let mut k = 0usize;
    while t < to {
        for a in 0..n {
            let ts = t + (a as i64 * 997) % every_ms;
            out.push(call(
                &format!("wl-{a}"),
                ts,
                actions[(k + a) % actions.len()],
            ));
        }
        t += every_ms;
        k += 1;
    }
    out.sort_by_key(|e| e.ts_ms);
    out
}

/// Runs events through a fresh engine, in time order, in windows of 512.
pub fn run(cfg: Config, events: &[CallEvent<'_>]) -> Vec<Decision> {
    let mut engine = Engine::new(cfg);
    run_on(&mut engine, events)
}

pub fn run_on(engine: &mut Engine, events: &[CallEvent<'_>]) -> Vec<Decision> {
    let mut out = Vec::new();
    for chunk in events.chunks(512) {
        let mut b = CallBatchBuilder::with_capacity(chunk.len());
        for e in chunk {
            b.push(e);
        }
        engine
            .process_batch(&b.finish(), &mut |_, d| out.push(d.clone()))
            .expect("batch has the call layout");
    }
    out
}

pub fn merge(
    mut a: Vec<CallEvent<'static>>,
    b: Vec<CallEvent<'static>>,
) -> Vec<CallEvent<'static>> {
    a.extend(b);
    a.sort_by_key(|e| e.ts_ms);
    a
}

/// Every finding (create, update, close) on `agent`, in order.
pub fn findings_for<'a>(
    decisions: &'a [Decision],
    agent: &str,
) -> Vec<&'a warden::decide::Finding> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Finding(f) if f.agent_id == agent => Some(&**f),
            _ => None,
        })
        .collect()
}

/// The names of the features a finding reports, leading first.
pub fn feature_names(f: &warden::decide::Finding) -> Vec<&'static str> {
    f.contributions.iter().map(|c| c.feature.name()).collect()
}

/// New findings (Create) for `agent`, with their leading feature names.
pub fn created_for(decisions: &[Decision], agent: &str) -> Vec<(i64, Vec<&'static str>)> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Finding(f) if f.seq == 0 && f.agent_id == agent => {
                Some((f.time_ms, feature_names(f)))
            }
            _ => None,
        })
        .collect()
}

pub fn revocations_for<'a>(
    decisions: &'a [Decision],
    agent: &str,
) -> Vec<&'a warden::decide::Revocation> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Revocation(r) if r.agent_id == agent => Some(r),
            _ => None,
        })
        .collect()
}

/// The header and claims of a Security Event Token, without checking its
/// signature (`warden verify` does that).
pub fn set_parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine as _;
    let part = |i: usize| -> serde_json::Value {
        let b64 = token.split('.').nth(i).expect("a compact JWS");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    };
    (part(0), part(1))
}

/// Simulates a labelled fleet and replays it with the default config:
/// returns the findings file and the revocations file it wrote.
pub fn replayed_fleet(
    dir: &std::path::Path,
    agents: u32,
    duration: &str,
    seed: u64,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_warden");
    let input = simulate_fleet(dir, "fleet.jsonl", agents, duration, seed, &[]);
    let alerts = dir.join("alerts.jsonl");
    let revs = dir.join("revocations.jwt");
    let replay = Command::new(bin)
        .args(["replay", "--no-progress", "--alerts-out"])
        .arg(&alerts)
        .arg("--revocations-out")
        .arg(&revs)
        .arg(&input)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(replay.success());
    (alerts, revs)
}

/// `warden simulate` into `dir/name` (`extra` adds flags such as
/// `--attack-share`); panics with the simulator's stderr if it fails.
pub fn simulate_fleet(
    dir: &std::path::Path,
    name: &str,
    agents: u32,
    duration: &str,
    seed: u64,
    extra: &[&str],
) -> std::path::PathBuf {
    let path = dir.join(name);
    let (a, s) = (agents.to_string(), seed.to_string());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "simulate",
            "--agents",
            &a,
            "--duration",
            duration,
            "--seed",
            &s,
        ])
        .args(extra)
        .arg("--out")
        .arg(&path)
        .output()
        .unwrap();
    succeeded(out);
    path
}

/// `warden replay --config cfg --report …` of `input`: its evaluation.
pub fn replay_evaluation(
    dir: &std::path::Path,
    cfg: &std::path::Path,
    input: &std::path::Path,
) -> serde_json::Value {
    replay_report(dir, "replay", cfg, input).0["evaluation"].clone()
}

/// `warden replay --config cfg --report dir/name.json --alerts-out
/// dir/name-alerts.jsonl` of `input`: the report, and the findings.
pub fn replay_report(
    dir: &std::path::Path,
    name: &str,
    cfg: &std::path::Path,
    input: &std::path::Path,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let report = dir.join(format!("{name}.json"));
    let alerts = dir.join(format!("{name}-alerts.jsonl"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["replay", "--no-progress", "--config"])
        .arg(cfg)
        .arg("--report")
        .arg(&report)
        .arg("--alerts-out")
        .arg(&alerts)
        .arg(input)
        .output()
        .unwrap();
    succeeded(out);
    let report = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let findings = std::fs::read_to_string(alerts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (report, findings)
}

/// A test whose fixture is missing (`../shared/data`, `../shared/examples`,
/// the OCSF schema files) says so and passes, except when
/// `WARDEN_REQUIRE_SHARED_DATA=1` is set (`.ci/run` sets it): then a
/// missing fixture fails the test instead of counting as passed.
pub fn skip_missing(path: &std::path::Path) {
    if std::env::var("WARDEN_REQUIRE_SHARED_DATA").is_ok_and(|v| v == "1") {
        panic!(
            "{} is absent and WARDEN_REQUIRE_SHARED_DATA=1: this test needs it",
            path.display()
        );
    }
    eprintln!("skipped: {} is absent", path.display());
}

/// `../shared/data/REL` when it is there; otherwise `skip_missing` says so
/// (or fails, under `WARDEN_REQUIRE_SHARED_DATA=1`) and this is `None`.
pub fn shared_data(rel: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        skip_missing(&p);
        None
    }
}

/// A finished run of the binary, which must have succeeded (its stderr in
/// the panic message otherwise).
pub fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
