//! Helpers for the streaming tests: the real `warden` binary as a dev broker
//! and as service instances, a producer that stays within the embedded
//! cluster's retention, and readers for output topics and committed offsets.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CALLS: &str = "warden.calls.v1";
pub const ALERTS: &str = "warden.alerts.v1";
pub const REVOCATIONS: &str = "warden.revocations.v1";
pub const DLQ: &str = "warden.calls.dlq.v1";
pub const GROUP: &str = "warden";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_warden")
}

/// `warden dev-broker`, stopped on drop.
pub struct DevBroker {
    child: Child,
    pub bootstrap: String,
}

impl DevBroker {
    pub fn start(partitions: i32) -> DevBroker {
        let mut child = Command::new(bin())
            .args(["dev-broker", "--partitions", &partitions.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dev-broker");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let bootstrap = line.trim().to_string();
        assert!(bootstrap.contains(':'), "dev-broker printed {line:?}");
        DevBroker { child, bootstrap }
    }
}

impl Drop for DevBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A config file for `warden run` against `bootstrap`.
pub fn write_config(dir: &Path, name: &str, bootstrap: &str, extra_stream: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "[stream]\n{extra_stream}\n[kafka]\n\"bootstrap.servers\" = \"{bootstrap}\"\n\
             # The embedded cluster answers fetches only when the wait expires.\n\
             \"fetch.wait.max.ms\" = \"20\"\n\"session.timeout.ms\" = \"6000\"\n\
             \"heartbeat.interval.ms\" = \"500\"\n"
        ),
    )
    .unwrap();
    p
}

/// One `warden run` process with its metrics endpoint.
pub struct Service {
    child: Option<Child>,
    pub port: u16,
    stderr_path: PathBuf,
}

impl Service {
    pub fn start(config: &Path, log: &Path) -> Service {
        Service::start_with_env(config, log, &[])
    }

    /// With extra environment variables (secrets of configured sinks); the
    /// test process's own environment is left alone.
    pub fn start_with_env(config: &Path, log: &Path, env: &[(&str, &str)]) -> Service {
        let port = free_port();
        let err = std::fs::File::create(log).unwrap();
        let child = Command::new(bin())
            .envs(env.iter().copied())
            .args(["--log-format", "json", "run", "--config"])
            .arg(config)
            .args(["--metrics-listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("start warden run");
        let s = Service {
            child: Some(child),
            port,
            stderr_path: log.to_path_buf(),
        };
        s.wait_until("ready", Duration::from_secs(60), |s| {
            s.get("/readyz").is_some_and(|(code, _)| code == 200)
        });
        s
    }

    /// (status, body) of an HTTP GET on the metrics endpoint.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let code = text.get(9..12)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
        Some((code, body))
    }

    /// A counter or gauge from /metrics (summed over labels); 0 when absent.
    pub fn metric(&self, name: &str) -> f64 {
        let Some((_, body)) = self.get("/metrics") else {
            return 0.0;
        };
        body.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn wait_until(&self, what: &str, timeout: Duration, ok: impl Fn(&Service) -> bool) {
        let deadline = Instant::now() + timeout;
        while !ok(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGTERM; expects a clean exit 0 and returns the run summary.
    pub fn terminate(mut self) -> Value {
        let mut child = self.child.take().unwrap();
        let st = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "exit {status:?}; log:\n{}",
            self.log_tail()
        );
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("summary {out:?}: {e}"))
    }

    /// SIGKILL: no clean-up at all.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn producer(bootstrap: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap()
}

/// The simulator's calls as (agent id, JSON line).
pub fn fleet_records(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["agent_id"].as_str().unwrap().to_string(), l.to_string())
        })
        .collect()
}

/// Produces `records` to the calls topic in chunks, waiting for `consumed()`
/// to come within a chunk of what was sent: the embedded cluster keeps only
/// the last 5 MB of a partition.
pub fn produce_paced(bootstrap: &str, records: &[(String, String)], consumed: &dyn Fn() -> f64) {
    let p = producer(bootstrap);
    for (n, chunk) in records.chunks(1500).enumerate() {
        let sent_before = (n * 1500) as f64;
        let deadline = Instant::now() + Duration::from_secs(120);
        while consumed() + 3000.0 < sent_before {
            assert!(
                Instant::now() < deadline,
                "consumer stalled at {}",
                consumed()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for (k, v) in chunk {
            p.send(BaseRecord::to(CALLS).key(k).payload(v))
                .map_err(|(e, _)| e)
                .unwrap();
        }
        p.flush(Duration::from_secs(30)).unwrap();
    }
}

/// An output record as a downstream tool sees it.
#[derive(Debug, Clone)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub value: Vec<u8>,
    pub headers: BTreeMap<String, String>,
}

impl Record {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.value).unwrap()
    }
}

/// Every record of `topic` (all partitions, from the start), read until the
/// topic has been quiet for a second.
pub fn read_topic(bootstrap: &str, topic: &str) -> Vec<Record> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "20")
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in md.topics()[0].partitions() {
        let (_, high) = c
            .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
            .unwrap();
        ends.insert(p.id(), high);
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut done: BTreeMap<i32, bool> = ends.iter().map(|(p, h)| (*p, *h == 0)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.values().any(|d| !d) && Instant::now() < deadline {
        let Some(Ok(m)) = c.poll(Duration::from_millis(100)) else {
            continue;
        };
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or(b"")).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if m.offset() + 1 >= ends[&m.partition()] {
            done.insert(m.partition(), true);
        }
        out.push(Record {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            value: m.payload().unwrap_or(b"").to_vec(),
            headers,
        });
    }
    assert!(done.values().all(|d| *d), "{topic} not read to its end");
    out
}

/// The group's committed offset per partition of the calls topic.
pub fn committed(bootstrap: &str, partitions: i32) -> Vec<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(CALLS, p);
    }
    let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    (0..partitions)
        .map(|p| match got.find_partition(CALLS, p).unwrap().offset() {
            Offset::Offset(o) => o,
            _ => -1,
        })
        .collect()
}

/// Sets the group's committed offset of calls partition `partition` from a
/// consumer that joins the group (the embedded cluster takes commits from
/// members only), as a tool resetting offsets does while no member runs.
pub fn commit_offset(bootstrap: &str, partition: i32, offset: i64) {
    use rdkafka::consumer::CommitMode;
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", GROUP)
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .create()
        .unwrap();
    c.subscribe(&[CALLS]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.assignment().unwrap().count() == 0 {
        assert!(Instant::now() < deadline, "never joined the group");
        // Only the assignment is wanted: no record is read (or committed).
        let _ = c.poll(Duration::from_millis(100));
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(CALLS, partition, Offset::Offset(offset))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).unwrap();
    c.unsubscribe();
}

/// `warden replay` of the same calls: ids of findings and revocations.
pub fn replay_ids(dir: &Path, input: &Path) -> (Vec<String>, Vec<String>) {
    let alerts = dir.join("replay-alerts.jsonl");
    let revs = dir.join("replay-revocations.jsonl");
    let out = Command::new(bin())
        .args(["replay", "--no-progress", "--alerts-out"])
        .arg(&alerts)
        .arg("--revocations-out")
        .arg(&revs)
        .arg(input)
        .output()
        .unwrap();
    assert!(out.status.success());
    let ids = |p: &Path, field: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                if field == "uid" {
                    let j: Value = serde_json::from_str(l).unwrap();
                    j["metadata"]["uid"].as_str().unwrap().to_string()
                } else {
                    let (_, claims) = super::set_parts(l);
                    claims["jti"].as_str().unwrap().to_string()
                }
            })
            .collect();
        v.sort();
        v
    };
    (ids(&alerts, "uid"), ids(&revs, "jti"))
}

pub fn simulate(dir: &Path, agents: u32, duration: &str, seed: u64) -> PathBuf {
    super::simulate_fleet(
        dir,
        &format!("fleet-{agents}-{seed}.jsonl"),
        agents,
        duration,
        seed,
        &["--attack-share", "0.5"],
    )
}

/// The first finding `replay_ids` wrote to `dir`, and the index in `recs` of
/// the call that triggered it (found by its event id).
pub fn first_finding_trigger(dir: &Path, recs: &[(String, String)]) -> (Value, usize) {
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("replay-alerts.jsonl"))
            .unwrap()
            .lines()
            .next()
            .expect("replay wrote a finding"),
    )
    .unwrap();
    let trigger_id = first["evidences"][0]["api"]["request"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let trigger = recs
        .iter()
        .position(|(_, l)| l.contains(&format!("\"event_id\":\"{trigger_id}\"")))
        .expect("trigger call in the fleet");
    (first, trigger)
}
