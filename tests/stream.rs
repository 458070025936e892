//! `warden run` against the embedded Kafka-protocol cluster (librdkafka's
//! mock cluster, started by `warden dev-broker`): outputs with their keys and
//! CloudEvents headers, dead letters, commits, a crash, and partitions (with
//! their baselines) moving to a second instance.

mod common;

use common::stream::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The latest inventory record of each identity (as the compacted topic
/// keeps it) counts exactly the calls produced for it.
fn assert_inventory_counts_each_call_once(bootstrap: &str, recs: &[(String, String)]) {
    let mut calls: BTreeMap<String, u64> = BTreeMap::new();
    for (_, line) in recs {
        let v: Value = serde_json::from_str(line).unwrap();
        *calls
            .entry(v["agent_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let mut inventory: BTreeMap<String, u64> = BTreeMap::new();
    for r in read_topic(bootstrap, "warden.inventory.v1") {
        let n = r.json()["calls"].as_u64().unwrap();
        inventory.insert(r.key.unwrap(), n);
    }
    assert_eq!(inventory, calls);
}

fn ids(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records.iter().map(|r| r.headers["ce_id"].clone()).collect();
    v.sort();
    v
}

/// Produces raw lines with Debian's kcat (a client that is not ours), or
/// with rdkafka when kcat is not installed.
fn produce_raw(bootstrap: &str, key: &str, lines: &[&str]) {
    let kcat = Command::new("kcat")
        .args(["-P", "-b", bootstrap, "-t", CALLS, "-k", key])
        .stdin(Stdio::piped())
        .spawn();
    match kcat {
        Ok(mut child) => {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            for l in lines {
                writeln!(stdin, "{l}").unwrap();
            }
            drop(stdin);
            assert!(child.wait().unwrap().success());
        }
        Err(_) => {
            eprintln!("kcat not installed: producing the bad records with rdkafka instead");
            use rdkafka::producer::{BaseRecord, Producer};
            let p = producer(bootstrap);
            for l in lines {
                p.send(BaseRecord::to(CALLS).key(key).payload(*l))
                    .map_err(|(e, _)| e)
                    .unwrap();
            }
            p.flush(Duration::from_secs(10)).unwrap();
        }
    }
}

#[test]
fn stream_equals_replay_with_headers_dead_letters_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let broker = DevBroker::start(1);
    let sim = simulate(dir.path(), 10, "30h", 21);
    let mut recs = fleet_records(&sim);
    // One call delivered hours late (a copy of an early one), mid-stream:
    // scored all the same, and counted as late.
    let late = recs[10].clone();
    let at = recs.len() / 3;
    recs.insert(at, late);
    let fleet = dir.path().join("with-late.jsonl");
    let text: String = recs.iter().map(|(_, l)| format!("{l}\n")).collect();
    std::fs::write(&fleet, text).unwrap();
    let (want_findings, want_revocations) = replay_ids(dir.path(), &fleet);
    assert!(
        want_findings.len() >= 3,
        "fleet too quiet: {want_findings:?}"
    );
    // A producer queue of two messages: outputs (and the state written at
    // shutdown) keep hitting it, and must wait rather than grow or drop.
    let cfg = write_config(dir.path(), "w.toml", &broker.bootstrap, "");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\"queue.buffering.max.messages\" = \"2\"\n");
    std::fs::write(&cfg, text).unwrap();
    let svc = Service::start(&cfg, &dir.path().join("svc.log"));

    let half = recs.len() / 2;
    produce_paced(&broker.bootstrap, &recs[..half], &|| {
        svc.metric("warden_events_total")
    });
    let bad = [
        "this is not JSON",
        r#"{"ts":"yesterday","agent_id":"agent-x","action":"s3:GetObject"}"#,
        // Cut at a fixed byte offset inside a character, this once
        // panicked the poll thread and crash-looped the instance.
        r#"{"agent_id":"ü€…"#,
    ];
    produce_raw(&broker.bootstrap, "agent-x", &bad);
    produce_paced(&broker.bootstrap, &recs[half..], &|| {
        svc.metric("warden_events_total") - half as f64
    });
    let n = recs.len() as f64;
    svc.wait_until("every call scored", Duration::from_secs(120), |s| {
        s.metric("warden_events_total") >= n
            && s.metric("warden_dead_letters_total") >= bad.len() as f64
    });
    assert!(svc.get("/healthz").is_some_and(|(c, _)| c == 200));
    let metrics = svc.get("/metrics").unwrap().1;
    for m in [
        "warden_events_total",
        "warden_decode_errors_total",
        "warden_findings_total",
        "warden_findings_total{activity=\"reopen\"",
        "warden_revocations_total",
        "warden_agents_tracked",
        "warden_state_bytes",
        "warden_consumer_lag",
        "warden_event_decision_latency_seconds{quantile=\"0.99\"}",
        "warden_poll_decision_latency_seconds{quantile=\"0.99\"}",
    ] {
        assert!(metrics.contains(m), "/metrics lacks {m}:\n{metrics}");
    }
    let summary = svc.terminate();
    assert_eq!(summary["events"], recs.len() as u64, "{summary}");
    assert_eq!(summary["dead_letters"], bad.len() as u64, "{summary}");
    assert_eq!(summary["decode_errors"], bad.len() as u64, "{summary}");
    assert_eq!(summary["late_events"], 1, "{summary}");
    // This process's share of the latency is part of the whole (the event
    // latency is in whole milliseconds of the Kafka timestamp).
    let poll_p99 = summary["poll_decision_p99_ms"].as_f64().unwrap();
    let event_p99 = summary["latency_p99_ms"].as_f64().unwrap();
    assert!(poll_p99 > 0.0 && poll_p99 <= event_p99 + 1.0, "{summary}");
    assert!(
        summary["backpressure_waits"].as_u64().unwrap() > 0,
        "{summary}"
    );

    // Findings: the same ones replay makes, keyed by agent, with CloudEvents headers.
    let alerts = read_topic(&broker.bootstrap, ALERTS);
    assert_eq!(ids(&alerts), want_findings);
    for a in &alerts {
        let j = a.json();
        let h = &a.headers;
        assert_eq!(h["ce_specversion"], "1.0");
        assert_eq!(h["ce_id"], j["metadata"]["uid"].as_str().unwrap());
        assert_eq!(h["ce_source"], "//warden");
        // Findings, and each revocation's OCSF Remediation Activity.
        let (class, subject) = match j["class_uid"].as_i64() {
            Some(2004) => (
                "io.ocsf.detection_finding.",
                &j["evidences"][0]["actor"]["user"]["uid"],
            ),
            Some(7001) => ("io.ocsf.remediation_activity.", &j["unmapped"]["agent_id"]),
            other => panic!("unexpected class {other:?} on the alerts topic"),
        };
        assert!(h["ce_type"].starts_with(class), "{h:?}");
        assert_eq!(h["ce_subject"], subject.as_str().unwrap());
        assert!(
            warden::event::parse_rfc3339_ms(&h["ce_time"]).is_some(),
            "{h:?}"
        );
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(a.key.as_deref(), Some(h["ce_subject"].as_str()));
    }
    let revs = read_topic(&broker.bootstrap, REVOCATIONS);
    assert_eq!(ids(&revs), want_revocations);
    for r in &revs {
        // A signed Security Event Token, keyed by its agent.
        let (header, claims) = common::set_parts(std::str::from_utf8(&r.value).unwrap());
        assert_eq!(header["typ"], "secevent+jwt");
        assert_eq!(r.headers["content-type"], "application/secevent+jwt");
        assert_eq!(r.headers["ce_id"], claims["jti"].as_str().unwrap());
        assert_eq!(
            r.key.as_deref(),
            Some(claims["sub_id"]["user"]["id"].as_str().unwrap())
        );
    }

    // Dead letters: the original bytes and key, and why, and where from.
    let dlq = read_topic(&broker.bootstrap, DLQ);
    assert_eq!(dlq.len(), bad.len());
    for (i, d) in dlq.iter().enumerate() {
        assert_eq!(d.value, bad[i].as_bytes());
        assert_eq!(d.key.as_deref(), Some("agent-x"));
        assert_eq!(d.headers["warden_source_topic"], CALLS);
        assert_eq!(d.headers["warden_source_partition"], "0");
        assert_eq!(d.headers["warden_source_offset"], (half + i).to_string());
        assert!(
            d.headers["warden_error"].starts_with(&format!("{CALLS}[0] offset {}", half + i)),
            "{:?}",
            d.headers
        );
    }
    assert_eq!(
        dlq[1].headers.get("warden_error_field").map(String::as_str),
        Some("ts"),
        "{:?}",
        dlq[1].headers
    );

    // Every record, the bad ones included, is committed.
    assert_eq!(
        committed(&broker.bootstrap, 1),
        vec![(recs.len() + bad.len()) as i64]
    );
}

/// Starts a second instance on a one-partition calls topic, produces
/// `recs[cut..]` to it, and stops it once every call is committed: its
/// summary. With `commits_first`, the instance must have committed that
/// offset before any new call is produced.
fn finish_on_a_second_instance(
    bootstrap: &str,
    cfg: &std::path::Path,
    dir: &std::path::Path,
    recs: &[(String, String)],
    cut: usize,
    commits_first: Option<i64>,
) -> Value {
    let second = Service::start(cfg, &dir.join("second.log"));
    if let Some(offset) = commits_first {
        second.wait_until("the commit caught up", Duration::from_secs(60), |_| {
            committed(bootstrap, 1)[0] == offset
        });
    }
    produce_paced(bootstrap, &recs[cut..], &|| {
        second.metric("warden_events_total") + cut as f64
    });
    let n = recs.len() as i64;
    second.wait_until("everything committed", Duration::from_secs(120), |_| {
        committed(bootstrap, 1)[0] >= n
    });
    second.terminate()
}

#[test]
fn a_crash_loses_no_call_and_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let broker = DevBroker::start(1);
    let fleet = simulate(dir.path(), 10, "30h", 22);
    let recs = fleet_records(&fleet);
    let (want_findings, want_revocations) = replay_ids(dir.path(), &fleet);
    let cfg = write_config(
        dir.path(),
        "w.toml",
        &broker.bootstrap,
        "checkpoint_interval_seconds = 1",
    );
    let first = Service::start(&cfg, &dir.path().join("first.log"));
    let cut = recs.len() * 3 / 5;
    produce_paced(&broker.bootstrap, &recs[..cut], &|| {
        first.metric("warden_events_total")
    });
    // Crash after a checkpoint and a commit, with work done since. A
    // checkpoint commits first and then writes the state, so a commit can
    // be seen before any state exists (a crash then is caught up by
    // warm-up, not restored): both are waited for. The state metric counts
    // records once the producer has flushed them.
    first.wait_until("a checkpoint and a commit", Duration::from_secs(60), |s| {
        s.metric("warden_state_records_written_total") > 0.0
            && committed(&broker.bootstrap, 1)[0] > 0
    });
    let scored_before = first.metric("warden_events_total");
    first.kill();
    assert!(scored_before > 0.0);

    let summary =
        finish_on_a_second_instance(&broker.bootstrap, &cfg, dir.path(), &recs, cut, None);
    assert!(
        summary["agents_restored"].as_u64().unwrap() > 0,
        "{summary}\nfirst:\n{}\nsecond:\n{}",
        std::fs::read_to_string(dir.path().join("first.log")).unwrap(),
        std::fs::read_to_string(dir.path().join("second.log")).unwrap()
    );

    let alerts = read_topic(&broker.bootstrap, ALERTS);
    let got = ids(&alerts);
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    let want: BTreeSet<String> = want_findings.iter().cloned().collect();
    assert_eq!(unique, want, "findings lost or changed by the crash");
    eprintln!(
        "crash: {} findings, {} delivered twice (same ce_id: deduplicated downstream)",
        unique.len(),
        got.len() - unique.len()
    );
    let revs: BTreeSet<String> = ids(&read_topic(&broker.bootstrap, REVOCATIONS))
        .into_iter()
        .collect();
    assert_eq!(revs, want_revocations.into_iter().collect());
    // The inventory after the crash counts every call once: restored as of
    // the checkpoint, caught up to the commit, the rest read again.
    assert_inventory_counts_each_call_once(&broker.bootstrap, &recs);
}

/// The state written at a handover is ahead of the group's commit when
/// the commit is refused (a commit in a rebalance may be): the next owner
/// goes on from where the state ends, and reads no call twice.
#[test]
fn a_commit_behind_the_state_reads_no_call_twice() {
    let dir = tempfile::tempdir().unwrap();
    let broker = DevBroker::start(1);
    let fleet = simulate(dir.path(), 8, "20h", 24);
    let recs = fleet_records(&fleet);
    let (want_findings, _) = replay_ids(dir.path(), &fleet);
    let cfg = write_config(dir.path(), "w.toml", &broker.bootstrap, "");
    let first = Service::start(&cfg, &dir.path().join("first.log"));
    let cut = recs.len() / 2;
    produce_paced(&broker.bootstrap, &recs[..cut], &|| {
        first.metric("warden_events_total")
    });
    first.wait_until("the first half scored", Duration::from_secs(60), |s| {
        s.metric("warden_events_total") >= cut as f64
    });
    // A clean stop writes the state as of the last call and commits it;
    // then the commit is set back, as if refused.
    first.terminate();
    assert_eq!(committed(&broker.bootstrap, 1)[0], cut as i64);
    commit_offset(&broker.bootstrap, 0, 0);
    assert_eq!(committed(&broker.bootstrap, 1)[0], 0);

    let summary = finish_on_a_second_instance(
        &broker.bootstrap,
        &cfg,
        dir.path(),
        &recs,
        cut,
        // The next owner commits where its state ends, before any new call.
        Some(cut as i64),
    );
    let log = || std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert_eq!(
        summary["events"].as_u64().unwrap(),
        (recs.len() - cut) as u64,
        "the second instance read calls its state already held\n{}",
        log()
    );
    assert_eq!(summary["warmup_events"], 0, "{summary}");
    assert_inventory_counts_each_call_once(&broker.bootstrap, &recs);
    let unique: BTreeSet<String> = ids(&read_topic(&broker.bootstrap, ALERTS))
        .into_iter()
        .collect();
    let want: BTreeSet<String> = want_findings.into_iter().collect();
    assert_eq!(unique, want);
}

/// Partition of each agent's calls, read back from the calls topic.
/// The partition each agent's calls came on (whatever they were keyed by).
fn agent_partitions(bootstrap: &str) -> BTreeMap<String, i32> {
    read_topic(bootstrap, CALLS)
        .into_iter()
        .map(|r| {
            (
                r.json()["agent_id"].as_str().unwrap().to_string(),
                r.partition,
            )
        })
        .collect()
}

fn assigned_partitions(log: &std::path::Path) -> BTreeSet<i64> {
    let mut owned = BTreeSet::new();
    for l in std::fs::read_to_string(log).unwrap().lines() {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        let msg = v["fields"]["message"].as_str().unwrap_or("");
        let p = v["fields"]["partition"].as_i64();
        match (msg, p) {
            ("partition assigned, state restored", Some(p)) => {
                owned.insert(p);
            }
            ("partition revoked", Some(p)) => {
                owned.remove(&p);
            }
            _ => {}
        }
    }
    owned
}

/// A second instance joins mid-stream and takes partitions over from the
/// first, with calls keyed by agent id or (`by_tenant`) by the agent's own
/// tenant (that of its first call: a cross-tenant call names another).
/// Attacks on agents that moved are caught as replay catches them, and
/// benign agents that moved are not flagged. Returns both instances'
/// summaries.
fn partitions_move_to_a_second_instance(by_tenant: bool) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let broker = DevBroker::start(4);
    let fleet = simulate(dir.path(), 16, "32h", 23);
    let mut home: BTreeMap<String, String> = BTreeMap::new();
    let recs: Vec<(String, String)> = fleet_records(&fleet)
        .into_iter()
        .map(|(agent, l)| {
            let v: Value = serde_json::from_str(&l).unwrap();
            let tenant = v["tenant"].as_str().unwrap_or("-").to_string();
            let tenant = home.entry(agent.clone()).or_insert(tenant).clone();
            (if by_tenant { tenant } else { agent }, l)
        })
        .collect();
    let labelled: BTreeMap<String, i64> = std::fs::read_to_string(&fleet)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            v.get("label")?;
            let ts = warden::event::parse_rfc3339_ms(v["ts"].as_str()?)?;
            Some((v["agent_id"].as_str()?.to_string(), ts))
        })
        .fold(BTreeMap::new(), |mut m, (a, ts)| {
            let e = m.entry(a).or_insert(ts);
            *e = (*e).min(ts);
            m
        });
    let first_attack = *labelled.values().min().unwrap();
    let split = recs
        .iter()
        .position(|(_, l)| {
            let v: Value = serde_json::from_str(l).unwrap();
            warden::event::parse_rfc3339_ms(v["ts"].as_str().unwrap()).unwrap() >= first_attack
        })
        .unwrap();

    // Replay of the whole stream: what one engine that never moved decides.
    let alerts_path = dir.path().join("replay-alerts.jsonl");
    let st = Command::new(bin())
        .args(["replay", "--no-progress", "--alerts-out"])
        .arg(&alerts_path)
        .arg(&fleet)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let replay_flagged: BTreeSet<String> = std::fs::read_to_string(&alerts_path)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Some(
                v["evidences"][0]["actor"]["user"]["uid"]
                    .as_str()?
                    .to_string(),
            )
        })
        .collect();

    let cfg = write_config(dir.path(), "w.toml", &broker.bootstrap, "");
    let a = Service::start(&cfg, &dir.path().join("a.log"));
    produce_paced(&broker.bootstrap, &recs[..split], &|| {
        a.metric("warden_events_total")
    });
    a.wait_until("history scored", Duration::from_secs(120), |s| {
        s.metric("warden_events_total") >= split as f64
    });
    let b = Service::start(&cfg, &dir.path().join("b.log"));
    b.wait_until("the group rebalanced", Duration::from_secs(60), |b| {
        let (pa, pb) = (
            a.metric("warden_assigned_partitions"),
            b.metric("warden_assigned_partitions"),
        );
        pb >= 1.0 && pa + pb == 4.0 && b.get("/readyz").is_some_and(|(c, _)| c == 200)
    });
    let b_parts = assigned_partitions(&dir.path().join("b.log"));
    assert!(!b_parts.is_empty());
    produce_paced(&broker.bootstrap, &recs[split..], &|| {
        a.metric("warden_events_total") + b.metric("warden_events_total") - split as f64
    });
    let n = recs.len() as f64;
    b.wait_until("every call scored", Duration::from_secs(120), |b| {
        a.metric("warden_events_total") + b.metric("warden_events_total") >= n
    });
    let sb = b.terminate();
    let sa = a.terminate();
    assert!(sb["agents_restored"].as_u64().unwrap() > 0, "{sb}");
    assert!(sb["identities_restored"].as_u64().unwrap() > 0, "{sb}");
    // The inventory moved with the partitions: each identity's latest
    // record counts each of its calls once, wherever they were observed.
    assert_inventory_counts_each_call_once(&broker.bootstrap, &recs);

    let parts = agent_partitions(&broker.bootstrap);
    let stream_flagged: BTreeSet<String> = read_topic(&broker.bootstrap, ALERTS)
        .into_iter()
        .filter_map(|r| r.key)
        .collect();
    // Attacks on agents that moved to B are still caught ...
    let moved_attacked: Vec<&String> = labelled
        .keys()
        .filter(|a| b_parts.contains(&(parts[*a] as i64)) && replay_flagged.contains(*a))
        .collect();
    assert!(
        !moved_attacked.is_empty(),
        "no attacked agent moved: {b_parts:?}"
    );
    for a in &moved_attacked {
        assert!(
            stream_flagged.contains(*a),
            "attack on moved agent {a} missed"
        );
    }
    for a in labelled.keys().filter(|a| replay_flagged.contains(*a)) {
        assert!(stream_flagged.contains(a), "attack on {a} missed");
    }
    // ... and benign agents that moved are not flagged for having moved.
    let benign_moved_flagged: Vec<&String> = stream_flagged
        .iter()
        .filter(|a| !labelled.contains_key(*a) && !replay_flagged.contains(*a))
        .filter(|a| b_parts.contains(&(parts[*a] as i64)))
        .collect();
    assert!(
        benign_moved_flagged.is_empty(),
        "benign moved agents flagged after the handover: {benign_moved_flagged:?}"
    );
    (sa, sb)
}

#[test]
fn partitions_move_to_a_second_instance_with_their_baselines() {
    let (sa, _) = partitions_move_to_a_second_instance(false);
    // Keyed by agent, a team's agents come on several partitions: each
    // instance scores such a cohort against its own sample, and says so.
    assert!(sa["cohorts_split"].as_u64().unwrap() > 0, "{sa}");
}

/// Keyed by tenant, every cohort lives in one partition: no cohort is
/// split, and the cohorts moved whole with their partitions.
#[test]
fn a_topic_keyed_by_tenant_moves_whole_cohorts() {
    let (sa, sb) = partitions_move_to_a_second_instance(true);
    assert_eq!(sa["cohorts_split"], 0, "{sa}");
    assert_eq!(sb["cohorts_split"], 0, "{sb}");
}

/// Every member publishes its partitions' shares of the agent-type-wide
/// view (how many agents of a type use a value, whatever their team) to the
/// fleet topic and takes in the others': each scores against the whole
/// fleet, not only the teams whose calls come to it.
#[test]
fn members_share_the_agent_type_view_through_the_fleet_topic() {
    use rdkafka::producer::{BaseRecord, Producer};
    let dir = tempfile::tempdir().unwrap();
    let broker = DevBroker::start(2);
    let fleet = simulate(dir.path(), 12, "6h", 31);
    // Keyed by the agent's own tenant: one partition per tenant, in turn.
    let mut home: BTreeMap<String, String> = BTreeMap::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let recs: Vec<(String, String)> = fleet_records(&fleet)
        .into_iter()
        .map(|(agent, l)| {
            let v: Value = serde_json::from_str(&l).unwrap();
            let t = v["agent_type"].as_str().unwrap_or("unknown").to_string();
            types.entry(agent.clone()).or_insert(t);
            let tenant = v["tenant"].as_str().unwrap_or("-").to_string();
            (home.entry(agent).or_insert(tenant).clone(), l)
        })
        .collect();
    let tenants: BTreeSet<&String> = home.values().collect();
    assert!(tenants.len() >= 2, "{tenants:?}");
    let partition_of = |tenant: &str| tenants.iter().position(|t| *t == tenant).unwrap() as i32 % 2;
    let p = producer(&broker.bootstrap);
    for (k, v) in &recs {
        p.send(
            BaseRecord::to(CALLS)
                .partition(partition_of(k))
                .key(k)
                .payload(v),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();

    let cfg = write_config(
        dir.path(),
        "w.toml",
        &broker.bootstrap,
        "checkpoint_interval_seconds = 1",
    );
    let a = Service::start(&cfg, &dir.path().join("a.log"));
    a.wait_until(
        "both partitions' shares published",
        Duration::from_secs(120),
        |a| {
            a.metric("warden_events_total") >= recs.len() as f64
                && a.metric("warden_fleet_shares_published_total") >= 2.0
        },
    );
    assert_eq!(
        a.metric("warden_fleet_partitions_shared"),
        0.0,
        "a owns both"
    );
    let b = Service::start(&cfg, &dir.path().join("b.log"));
    b.wait_until("the group rebalanced", Duration::from_secs(60), |b| {
        let (pa, pb) = (
            a.metric("warden_assigned_partitions"),
            b.metric("warden_assigned_partitions"),
        );
        pa == 1.0 && pb == 1.0 && b.get("/readyz").is_some_and(|(c, _)| c == 200)
    });
    // Each member counts the partition it does not own: b from a's
    // publication, read before its first call; a from the share it handed
    // on, until b publishes a later one.
    for (name, m) in [("a", &a), ("b", &b)] {
        m.wait_until(
            "the other partition's share held",
            Duration::from_secs(30),
            |m| m.metric("warden_fleet_partitions_shared") == 1.0,
        );
        assert_eq!(m.metric("warden_fleet_shares_refused_total"), 0.0, "{name}");
    }
    assert!(b.metric("warden_fleet_shares_adopted_total") >= 1.0);
    b.terminate();
    a.terminate();

    // The latest share of each partition: together they count every agent
    // of the fleet once, by type.
    let mut latest: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for r in read_topic(&broker.bootstrap, "warden.fleet.v1") {
        latest.insert(r.key.clone().unwrap(), r.value);
    }
    assert_eq!(latest.keys().collect::<Vec<_>>(), ["0", "1"]);
    let mut counted: BTreeMap<u8, u32> = BTreeMap::new();
    for (k, v) in &latest {
        let share = warden::engine::snapshot::decode_fleet_share(Some(k.as_bytes()), v).unwrap();
        for (t, p) in share.types {
            *counted.entry(t).or_default() += p.agents();
        }
    }
    let mut expected: BTreeMap<u8, u32> = BTreeMap::new();
    for t in types.values() {
        let t = warden::event::AgentType::parse(t).unwrap();
        *expected.entry(t as u8).or_default() += 1;
    }
    assert_eq!(counted, expected);
}

#[test]
fn an_undelivered_output_holds_its_call_uncommitted() {
    let dir = tempfile::tempdir().unwrap();
    // In-process, so the test can make the broker refuse Warden's outputs.
    let cfg0 = warden::config::Config::default();
    let broker = warden::stream::devbroker::DevBroker::start(&cfg0.stream, 1).unwrap();
    let bootstrap = broker.bootstrap_servers();
    let fleet = simulate(dir.path(), 6, "10h", 24);
    // All of it is produced before Warden starts: it must fit the embedded
    // cluster's 5 MB per partition.
    assert!(std::fs::metadata(&fleet).unwrap().len() < 4_500_000);
    let recs = fleet_records(&fleet);
    let (want, _) = replay_ids(dir.path(), &fleet);
    assert!(!want.is_empty());
    // The call that triggers the first finding.
    let trigger = first_finding_trigger(dir.path(), &recs).1 as i64;
    {
        use rdkafka::producer::{BaseRecord, Producer};
        let p = producer(&bootstrap);
        for (k, v) in &recs {
            p.send(BaseRecord::to(CALLS).key(k).payload(v))
                .map_err(|(e, _)| e)
                .unwrap();
        }
        p.flush(Duration::from_secs(30)).unwrap();
    }
    broker.fail_produce_requests(100_000);
    let cfg = write_config(dir.path(), "w.toml", &bootstrap, "");
    let out = Command::new(bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .args(["--metrics-listen", ""])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "warden run kept going without its outputs: {:?} {}\nSTDOUT {}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    // The refusal comes back either in a delivery report ("did not accept
    // an output") or, once librdkafka knows the topic is refused, from the
    // produce call itself ("producing an output"): both stop the service
    // without committing past the call.
    assert!(
        err.contains("did not accept an output") || err.contains("producing an output"),
        "{err}"
    );
    let held = committed(&bootstrap, 1)[0];
    assert!(
        held <= trigger,
        "committed offset {held} is past the call (offset {trigger}) whose finding was never delivered\n{err}"
    );

    // The broker recovers: a restart resumes from there and every finding arrives.
    broker.clear_produce_failures();
    let svc = Service::start(&cfg, &dir.path().join("svc.log"));
    let n = recs.len() as i64;
    svc.wait_until("everything committed", Duration::from_secs(120), |_| {
        committed(&bootstrap, 1)[0] >= n
    });
    svc.terminate();
    let got: BTreeSet<String> = ids(&read_topic(&bootstrap, ALERTS)).into_iter().collect();
    assert_eq!(got, want.into_iter().collect());
}

#[test]
fn the_demo_catches_its_injected_attacks_live() {
    let out = Command::new(bin())
        .args([
            "demo",
            "--duration",
            "8s",
            "--agents",
            "24",
            "--seed",
            "3",
            "--partitions",
            "1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("caught "))
        .unwrap_or_else(|| panic!("no summary line:\n{text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let (caught, injected): (u32, u32) = (words[1].parse().unwrap(), words[3].parse().unwrap());
    assert!(injected >= 1, "{text}");
    assert_eq!(caught, injected, "{text}");
    assert!(
        text.contains("INJECT") && text.contains("FINDING"),
        "{text}"
    );
}

/// A webhook receiver that is down holds the offsets of the calls whose
/// findings it has not taken; when it recovers, every alert on the alerts
/// topic reaches it exactly once and the offsets move on.
#[test]
fn a_sink_that_is_down_holds_commits_and_loses_nothing() {
    use common::receivers::HttpReceiver;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let broker = DevBroker::start(1);
    let fleet = simulate(dir.path(), 10, "30h", 22);
    let recs = fleet_records(&fleet);
    let up = Arc::new(AtomicBool::new(false));
    let up2 = up.clone();
    let soar = HttpReceiver::start(
        0,
        200,
        "",
        204,
        "",
        Box::new(move |_, _| {
            if up2.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err((503, "maintenance".into()))
            }
        }),
    );
    let cfg = write_config(
        dir.path(),
        "w.toml",
        &broker.bootstrap,
        "checkpoint_interval_seconds = 1",
    );
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "\n[[sinks]]\ntype = \"webhook\"\nurl = \"{}/hook\"\nsecret_env = \"TEST_WEBHOOK_SECRET\"\n\
         delivery = {{ retry_initial_ms = 50, retry_max_ms = 300 }}\n",
        soar.url
    ));
    std::fs::write(&cfg, text).unwrap();
    std::env::set_var(
        "TEST_WEBHOOK_SECRET",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    );
    let svc = Service::start(&cfg, &dir.path().join("svc.log"));
    produce_paced(&broker.bootstrap, &recs, &|| {
        svc.metric("warden_events_total")
    });
    let n = recs.len() as i64;
    svc.wait_until("every call scored", Duration::from_secs(120), |s| {
        s.metric("warden_events_total") >= n as f64
    });
    std::thread::sleep(Duration::from_secs(2));
    let held = committed(&broker.bootstrap, 1)[0];
    assert!(
        held < n,
        "committed {held} of {n} while the sink holds findings"
    );
    assert!(
        !soar.refused().is_empty(),
        "the sink should have been trying"
    );

    up.store(true, Ordering::SeqCst);
    svc.wait_until("everything committed", Duration::from_secs(60), |_| {
        committed(&broker.bootstrap, 1)[0] >= n
    });
    let summary = svc.terminate();
    let alerts = ids(&read_topic(&broker.bootstrap, ALERTS));
    assert!(!alerts.is_empty());
    let mut got: Vec<String> = soar
        .accepted()
        .iter()
        .map(|q| q.headers["webhook-id"].to_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(
        got, alerts,
        "each alert once at the webhook, as on the topic"
    );
    let s = &summary["sinks"][0];
    assert!(s["retries"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(s["delivered"], alerts.len());
}

/// The live inventory on the embedded cluster: a record per identity on
/// the inventory topic, and review findings judged in event time: an
/// identity quiet past `dormant_after` is reported dormant (once), and the
/// finding closes when it calls again; grants never used are reported.
#[test]
fn the_inventory_topic_and_review_findings_follow_event_time() {
    const INVENTORY: &str = "warden.inventory.v1";
    let dir = tempfile::tempdir().unwrap();
    // One partition: event time moves by the partition's own calls, and a
    // partition holding only the quiet identity would stand still.
    let broker = DevBroker::start(1);
    let grants = dir.path().join("grants.json");
    std::fs::write(
        &grants,
        r#"{"grants":[{"identity":"svc-a","owner":"team-a","actions":["s3:GetObject","s3:DeleteBucket"]},
                      {"identity":"svc-b","actions":["s3:GetObject"]}]}"#,
    )
    .unwrap();
    let cfg = write_config(
        dir.path(),
        "w.toml",
        &broker.bootstrap,
        "inventory_publish_seconds = 1",
    );
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "[inventory]\ndormant_after = \"2h\"\nunused_after = \"1h\"\ngrants = [{:?}]\n",
        grants.to_str().unwrap()
    ));
    std::fs::write(&cfg, text).unwrap();
    // Event time runs six hours; wall time a few seconds. svc-b stops
    // after the first hour and is back at 5h30.
    let call = |agent: &str, minute: i64| {
        let ts = warden::event::format_rfc3339_ms(1_790_000_000_000 + minute * 60_000);
        (
            agent.to_string(),
            format!(
                r#"{{"ts":"{ts}","agent_id":"{agent}","agent_type":"service_account","action":"s3:GetObject","session_id":"{agent}-key","src_ip":"10.0.0.7","outcome":"success"}}"#
            ),
        )
    };
    let mut recs = Vec::new();
    for minute in (0..360).step_by(5) {
        for agent in ["svc-a", "svc-c"] {
            recs.push(call(agent, minute));
        }
        if minute < 60 {
            recs.push(call("svc-b", minute));
        }
    }
    recs.push(call("svc-b", 330));
    recs.sort_by_key(|(_, l)| l[7..31].to_string());
    let svc = Service::start(&cfg, &dir.path().join("svc.log"));
    produce_paced(&broker.bootstrap, &recs, &|| {
        svc.metric("warden_events_total")
    });
    let n = recs.len() as f64;
    svc.wait_until("every call scored", Duration::from_secs(120), |s| {
        s.metric("warden_events_total") >= n
    });
    // Published within a second of being learned.
    svc.wait_until("inventory published", Duration::from_secs(30), |s| {
        s.metric("warden_inventory_records_total") >= 3.0
    });
    let summary = svc.terminate();
    assert_eq!(summary["inventory_identities"], 3, "{summary}");

    // The latest record of each identity, as a compacted topic keeps it.
    let mut latest: BTreeMap<String, Value> = BTreeMap::new();
    for r in read_topic(&broker.bootstrap, INVENTORY) {
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["ce_type"], "dev.warden.inventory.identity");
        let key = r.key.clone().unwrap();
        assert_eq!(r.headers["ce_subject"], key);
        latest.insert(key, r.json());
    }
    assert_eq!(
        latest.keys().collect::<Vec<_>>(),
        ["svc-a", "svc-b", "svc-c"]
    );
    let a = &latest["svc-a"];
    assert_eq!(a["id"], "svc-a");
    assert_eq!(a["owner"], "team-a");
    assert_eq!(a["calls"], 72);
    assert_eq!(a["actions"][0]["value"], "s3:GetObject");
    assert_eq!(a["networks"][0]["value"], "10.0");
    assert_eq!(a["grants"]["unused"][0]["grant"], "s3:DeleteBucket");
    assert_eq!(
        a["grants"]["suggestion"]["grants"][0]["actions"],
        serde_json::json!(["s3:GetObject"])
    );
    let b = &latest["svc-b"];
    assert_eq!(b["calls"], 13);
    assert_eq!(
        b["last_seen_ms"],
        1_790_000_000_000i64 + 330 * 60_000,
        "{b}"
    );

    // Review findings: IAM Analysis Findings on the alerts topic, keyed by
    // identity, with CloudEvents headers of their own.
    let reviews: Vec<Record> = read_topic(&broker.bootstrap, ALERTS)
        .into_iter()
        .filter(|r| r.json()["class_uid"] == 2008)
        .collect();
    let seen: Vec<(String, String)> = reviews
        .iter()
        .map(|r| (r.key.clone().unwrap(), r.headers["ce_type"].clone()))
        .collect();
    let mut kinds: Vec<(String, String)> = seen.clone();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            ("svc-a".into(), "io.ocsf.iam_analysis_finding.create".into()),
            ("svc-b".into(), "io.ocsf.iam_analysis_finding.close".into()),
            ("svc-b".into(), "io.ocsf.iam_analysis_finding.create".into()),
        ],
        "{seen:?}"
    );
    let dormant: Vec<Value> = reviews
        .iter()
        .map(Record::json)
        .filter(|v| {
            v["unmapped"]["flags"]
                .as_array()
                .unwrap()
                .contains(&"dormant".into())
        })
        .collect();
    assert_eq!(dormant.len(), 1, "raised once: {dormant:?}");
    // Judged in event time, at the first call that took the watermark (the
    // newest event less the minute of allowed lateness) past the last call
    // (55 min) plus two hours: the call at 180 min. Not when the wall
    // clock, or the way calls fell into windows, said so.
    assert_eq!(
        dormant[0]["time"].as_i64().unwrap() - 1_790_000_000_000,
        179 * 60_000,
        "{dormant:?}"
    );
    let close = reviews
        .iter()
        .find(|r| r.headers["ce_type"].ends_with(".close"))
        .unwrap()
        .json();
    assert_eq!(close["status"], "Resolved");
    assert_eq!(
        close["finding_info"]["uid"], dormant[0]["finding_info"]["uid"],
        "the close is of the same finding"
    );
    for r in &reviews {
        assert_eq!(r.headers["ce_id"], r.json()["metadata"]["uid"]);
    }
}
