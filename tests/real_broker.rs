//! End to end against a Kafka-compatible broker that is not ours (tansu, a
//! separate process) driven by a client that is not ours (kafka-python):
//! Python creates the topics, produces the calls and reads the findings; the
//! findings must be exactly those `warden replay` makes of the same calls.
//!
//! scripts/test.sh installs both; without them the test says so and skips.

mod common;

use common::stream::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn tansu() -> Option<PathBuf> {
    let home = std::env::var("HOME").ok()?;
    let candidates = [
        PathBuf::from(format!("{home}/.cargo/bin/tansu")),
        PathBuf::from("/usr/local/bin/tansu"),
    ];
    candidates.into_iter().find(|p| p.exists())
}

fn kafka_python() -> bool {
    Command::new("python3")
        .args(["-c", "import kafka"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn client(args: &[&str]) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/kafka_python_client.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "kafka-python client {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Broker(Child);
impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// tansu on a free port and its bootstrap address, or None (said) when
/// tansu or kafka-python is missing.
fn start_tansu() -> Option<(Broker, String)> {
    // scripts/test.sh installs both and sets WARDEN_REQUIRE_BROKER=1: there
    // a missing one is a failure, not a skip that counts as a pass.
    let required = std::env::var("WARDEN_REQUIRE_BROKER").is_ok_and(|v| v == "1");
    let skip = |what: &str| {
        assert!(
            !required,
            "{what} is not installed (WARDEN_REQUIRE_BROKER=1)"
        );
        eprintln!("SKIPPED: {what} is not installed (scripts/test.sh installs it)");
    };
    let Some(tansu) = tansu() else {
        skip("tansu");
        return None;
    };
    if !kafka_python() {
        skip("kafka-python");
        return None;
    }
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let broker = Broker(
        Command::new(tansu)
            .args([
                "broker",
                "--storage-engine",
                "memory://tansu/",
                "--listener-url",
            ])
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu"),
    );
    let mut tries = 0;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        tries += 1;
        assert!(tries < 100, "tansu did not start listening");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((broker, format!("127.0.0.1:{port}")))
}

#[test]
fn tansu_and_kafka_python_round_trip() {
    let Some((_broker, bootstrap)) = start_tansu() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // One partition: the calls keep the file's order, so the findings must be
    // exactly replay's (several partitions interleave differently on
    // every run; `tests/stream.rs` covers those).
    let topics = client(&["topics", &bootstrap, "1"]);
    assert!(topics.contains("warden.state.v1"), "{topics}");

    let fleet = simulate(dir.path(), 10, "30h", 31);
    let n = std::fs::read_to_string(&fleet).unwrap().lines().count();
    let (want, _) = replay_ids(dir.path(), &fleet);
    assert!(!want.is_empty());

    let cfg = dir.path().join("w.toml");
    std::fs::write(
        &cfg,
        format!(
            "[kafka]\n\"bootstrap.servers\" = \"{bootstrap}\"\n\
             \"session.timeout.ms\" = \"6000\"\n"
        ),
    )
    .unwrap();
    let svc = Service::start(&cfg, &dir.path().join("svc.log"));
    let produced: Value = serde_json::from_str(
        client(&["produce", &bootstrap, CALLS, fleet.to_str().unwrap()]).trim(),
    )
    .unwrap();
    assert_eq!(produced["produced"], n as u64);
    svc.wait_until("every call scored", Duration::from_secs(120), |s| {
        s.metric("warden_events_total") >= n as f64
    });
    let summary = svc.terminate();
    assert_eq!(summary["events"], n as u64, "{summary}");

    // The next owner of the partition (here: a restart) takes its agents'
    // state from the state topic as the last one left it: every agent, and
    // the checkpoint marker, so there is nothing to re-read.
    // tansu 0.6 acts on a departed member only when its session times out,
    // not on its LeaveGroup, and a member that joins before then can be left
    // with no partition for good (docs/performance.md, "tansu 0.6, as a
    // test broker"). Kafka hands the partition over at once; here the next
    // owner starts after the session (6 s) is over. Ready alone is not
    // enough either: a member holding no partition is ready too.
    std::thread::sleep(Duration::from_secs(8));
    let next = Service::start(&cfg, &dir.path().join("svc2.log"));
    next.wait_until("the partition restored", Duration::from_secs(60), |s| {
        s.metric("warden_partitions_assigned_total") >= 1.0
            && s.get("/readyz").is_some_and(|(c, _)| c == 200)
    });
    let restored = next.terminate();
    assert_eq!(
        restored["agents_restored"], summary["agents_tracked"],
        "{restored}"
    );
    assert_eq!(restored["warmup_events"], 0, "{restored}");

    let got: Vec<Value> = serde_json::from_str(
        client(&["consume", &bootstrap, ALERTS, &want.len().to_string(), "60"]).trim(),
    )
    .unwrap();
    let mut ids: Vec<String> = got
        .iter()
        .map(|r| r["headers"]["ce_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, want);
    for r in &got {
        assert_eq!(r["key"], r["headers"]["ce_subject"]);
        let class = r["value"]["class_uid"].as_i64().unwrap();
        assert!(class == 2004 || class == 7001, "{r}");
        assert_eq!(r["headers"]["ce_id"], r["value"]["metadata"]["uid"]);
    }
}

/// A member joins mid-stream: the cooperative rebalance moves some of the
/// first member's partitions, and their agents' state goes with them. The
/// first member writes every agent and the checkpoint marker of a partition
/// it gives up in one go (no periodic checkpoint here), and tansu 0.6
/// answers ListOffsets with the last batch's first offset + 1: a restore that
/// trusted that answer read the first state record only, found no agents and
/// no marker, and rebuilt everything from the calls topic instead.
#[test]
fn tansu_rebalance_moves_each_agents_state_with_its_partition() {
    let Some((_broker, bootstrap)) = start_tansu() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    client(&["topics", &bootstrap, "4"]);
    let fleet = simulate(dir.path(), 24, "12h", 37);
    let n = std::fs::read_to_string(&fleet).unwrap().lines().count();
    let cfg = dir.path().join("w.toml");
    std::fs::write(
        &cfg,
        format!(
            "[stream]\ncheckpoint_interval_seconds = 3600\n\
             [kafka]\n\"bootstrap.servers\" = \"{bootstrap}\"\n\
             \"fetch.wait.max.ms\" = \"10\"\n"
        ),
    )
    .unwrap();
    let first_log = dir.path().join("first.log");
    let first = Service::start(&cfg, &first_log);
    client(&["produce", &bootstrap, CALLS, fleet.to_str().unwrap()]);
    first.wait_until("every call scored", Duration::from_secs(120), |s| {
        s.metric("warden_events_total") >= n as f64
    });
    let second = Service::start(&cfg, &dir.path().join("second.log"));
    second.wait_until("a partition taken over", Duration::from_secs(60), |s| {
        s.metric("warden_partitions_assigned_total") >= 1.0
    });
    // What the first member gave up, from its log.
    let moved = || -> (usize, u64) {
        let log = std::fs::read_to_string(&first_log).unwrap();
        let revoked: Vec<Value> = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| v.get("fields").cloned().unwrap_or(v))
            .filter(|f| f["message"] == "partition revoked")
            .collect();
        let agents = revoked
            .iter()
            .map(|f| f["agents_dropped"].as_u64().unwrap());
        (revoked.len(), agents.sum())
    };
    first.wait_until(
        "the first member gave partitions up",
        Duration::from_secs(30),
        |_| moved().0 > 0,
    );
    std::thread::sleep(Duration::from_secs(2)); // the rest of the handover
    let taken = second.terminate();
    let (partitions, agents) = moved();
    assert!(agents > 0, "{partitions} partitions moved without agents");
    assert_eq!(taken["agents_restored"], agents, "{taken}");
    assert_eq!(taken["warmup_events"], 0, "{taken}");
    first.terminate();
}
