//! A cardinality spray into a labelled fleet, through the real binary: two
//! million fresh agent ids, a fifth of them stamped a day ahead, mixed into
//! a 300-agent fleet's calls under the real tenants. The state stays within
//! its cap, no real agent's baseline is pushed out, the same attacks are
//! caught, and the spray is reported as a burst of new identities.

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader, BufWriter, Write};

const SPRAY: usize = 2_000_000;
const MAX_AGENTS: usize = 20_000;

fn replay(dir: &std::path::Path, name: &str, input: &std::path::Path) -> (Value, Vec<Value>) {
    let cfg = dir.join("cap.toml");
    std::fs::write(&cfg, format!("[engine]\nmax_agents = {MAX_AGENTS}\n")).unwrap();
    common::replay_report(dir, name, &cfg, input)
}

/// Agents of the fleet (not the spray) with a finding created, sorted.
fn real_agents_flagged(findings: &[Value]) -> Vec<String> {
    let mut agents: Vec<String> = findings
        .iter()
        .filter(|f| f["activity_id"] == 1)
        .filter_map(|f| f["evidences"][0]["actor"]["user"]["uid"].as_str())
        .filter(|a| !a.starts_with("spray-"))
        .map(String::from)
        .collect();
    agents.sort();
    agents.dedup();
    agents
}

#[test]
fn two_million_sprayed_ids_change_nothing_for_the_real_agents() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = common::simulate_fleet(dir.path(), "fleet.jsonl", 300, "3d", 5151, &[]);
    // The spray: one new id every few real calls, under the tenant of the
    // call beside it, calling an everyday action; every fifth id dated a
    // day ahead of its neighbour (ranked by event time, those would have
    // looked the most recent of all).
    let lines: Vec<String> = BufReader::new(std::fs::File::open(&fleet).unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    let sprayed = dir.path().join("sprayed.jsonl");
    let mut w = BufWriter::new(std::fs::File::create(&sprayed).unwrap());
    let mut next = 0usize;
    for (i, l) in lines.iter().enumerate() {
        writeln!(w, "{l}").unwrap();
        let v: Value = serde_json::from_str(l).unwrap();
        let (ts, tenant) = (&v["ts"], v["tenant"].as_str().unwrap_or("-"));
        let ts_ms = match ts {
            Value::Number(n) => n.as_i64().unwrap(),
            Value::String(s) => warden::event::parse_rfc3339_ms(s).unwrap(),
            other => panic!("ts {other}"),
        };
        while next < SPRAY && next * lines.len() < (i + 1) * SPRAY {
            let t = if next.is_multiple_of(5) {
                ts_ms + 86_400_000
            } else {
                ts_ms
            };
            writeln!(
                w,
                r#"{{"ts":{t},"agent_id":"spray-{next}","action":"s3:GetObject","agent_type":"workload","tenant":"{tenant}"}}"#
            )
            .unwrap();
            next += 1;
        }
    }
    drop(w);
    assert_eq!(next, SPRAY);

    let (clean, clean_findings) = replay(dir.path(), "clean", &fleet);
    let (spray, spray_findings) = replay(dir.path(), "spray", &sprayed);
    let (c, s) = (&clean["evaluation"], &spray["evaluation"]);
    eprintln!(
        "clean: recall {} ({}/{}), false {}, peak RSS {} MB; spray: recall {} ({}/{}), evicted {} ({} on probation), peak RSS {} MB, state {} B",
        c["recall"], c["detected_episodes"], c["attack_episodes"], c["false_findings"],
        clean["peak_rss_bytes"].as_u64().unwrap_or(0) >> 20,
        s["recall"], s["detected_episodes"], s["attack_episodes"],
        spray["agents_evicted"], spray["agents_evicted_on_probation"],
        spray["peak_rss_bytes"].as_u64().unwrap_or(0) >> 20,
        spray["state_bytes"],
    );

    // The same attacks caught, scenario by scenario (the delays may move:
    // peers' adoption rates are per call of the cohort, and the spray's
    // calls are calls of the cohort, which makes a first use rarer).
    assert_eq!(c["detected_episodes"], s["detected_episodes"]);
    let caught = |e: &serde_json::Value| -> Vec<(String, u64, u64)> {
        e["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["scenario"].as_str().unwrap().to_string(),
                    x["episodes"].as_u64().unwrap(),
                    x["detected"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(caught(c), caught(s));
    // No real agent lost its baseline: only newcomers were evicted, and the
    // real agents' findings are the same ones.
    assert!(spray["agents_evicted"].as_u64().unwrap() > 1_000_000);
    assert_eq!(
        spray["agents_evicted"],
        spray["agents_evicted_on_probation"]
    );
    // The same real agents raise findings (a spray in their cohort may move
    // one by a minute: peers' adoption rates are per call of the cohort).
    assert_eq!(
        real_agents_flagged(&clean_findings),
        real_agents_flagged(&spray_findings)
    );
    // The state stayed within its cap.
    assert!(spray["agents_tracked"].as_u64().unwrap() <= MAX_AGENTS as u64);
    // Peak memory: what the clean run needed, plus the capped agent table
    // (at most 4 KiB an agent, id and index included), plus what replay's
    // evaluation keeps per distinct identity to count agent-days (at most
    // 256 B each; `warden run` has no evaluation), plus 64 MiB for the
    // larger input's buffers. Measured where the kernel reports it.
    if let (Some(base), Some(peak)) = (
        clean["peak_rss_bytes"].as_u64(),
        spray["peak_rss_bytes"].as_u64(),
    ) {
        let budget = base + (MAX_AGENTS as u64) * 4096 + (SPRAY as u64) * 256 + (64 << 20);
        assert!(peak <= budget, "peak RSS {peak} over {budget}");
    }
    // The spray is reported as a burst of new identities, a handful of times.
    let bursts = spray_findings
        .iter()
        .filter(|f| f["activity_id"] == 1)
        .filter(|f| {
            f["finding_info"]["analytic"]["name"]
                .as_str()
                .is_some_and(|n| n.contains("new_identity_burst"))
        })
        .count();
    eprintln!("new_identity_burst findings: {bursts}");
    assert!((1..=200).contains(&bursts), "{bursts} burst findings");
}
