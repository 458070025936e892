//! Guardrail policies through the binary: `warden policy check`, replay
//! flagging exactly the calls each example rule matches (counted here from
//! the calls themselves, and with `warden query`), and reloads in `warden
//! run` on file change: in force within a second, no call lost, an invalid
//! set refused with the old one kept.

mod common;

use common::stream::{produce_paced, write_config, DevBroker, Service};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const EXAMPLES: &str = "deploy/policies/guardrails.cedar";

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

#[test]
fn check_lists_the_example_rules_and_names_an_error_by_position() {
    let out = common::succeeded(
        warden()
            .args(["policy", "check", EXAMPLES, "--identities"])
            .arg("deploy/policies/identities.example.json")
            .output()
            .unwrap(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for id in [
        "ai-agents-never-write-iam",
        "service-accounts-from-own-network",
        "no-cross-tenant",
        "no-calls-after-end-of-life",
    ] {
        assert!(text.contains(id), "{text}");
    }
    assert!(text.contains("ok: 4 rules, 2 identities"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cedar");
    std::fs::write(
        &bad,
        "@id(\"x\")\nforbid (principal, action, resource)\n  when { context.src == \"a\" };\n",
    )
    .unwrap();
    let out = warden()
        .args(["policy", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:", bad.display())), "{err}");
    assert!(err.contains("src"), "{err}");
}

struct Call {
    ts_ms: i64,
    agent: String,
    ty: String,
    action: String,
    tenant: Option<String>,
    src_ip: Option<String>,
    session: Option<String>,
    event_id: String,
}

fn calls(path: &Path) -> Vec<Call> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().map(String::from);
            Call {
                ts_ms: warden::event::parse_rfc3339_ms(v["ts"].as_str().unwrap()).unwrap(),
                agent: s("agent_id").unwrap(),
                ty: s("agent_type").unwrap_or_else(|| "unknown".into()),
                action: s("action").unwrap(),
                tenant: s("tenant"),
                src_ip: s("src_ip"),
                session: s("session_id"),
                event_id: s("event_id").unwrap(),
            }
        })
        .collect()
}

/// What the identities file says, kept here to count from.
#[derive(Default)]
struct Registered {
    tenant: Option<String>,
    network: Option<(Ipv4Addr, u32)>,
    end_of_life: Option<i64>,
}

fn in_network(ip: &str, (net, bits): (Ipv4Addr, u32)) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    ip.parse::<Ipv4Addr>()
        .is_ok_and(|a| u32::from(a) & mask == u32::from(net) & mask)
}

/// A rule on the session's age, beside the examples.
const SESSION_RULE: &str = r#"@id("session-older-than-12h") @severity("low")
forbid (principal, action, resource)
when { context has session_age && context.session_age >= 43200 };
"#;

/// The rules the example set holds, and `SESSION_RULE`, written out
/// plainly over the calls; `session_start` is when the agent first used
/// the call's session (ms).
fn expected(c: &Call, reg: Option<&Registered>, session_start: Option<i64>) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Some(start) = session_start {
        if (c.ts_ms - start).div_euclid(1000) >= 43_200 {
            out.push("session-older-than-12h");
        }
    }
    if let Some(op) = c.action.strip_prefix("iam:") {
        if c.ty == "ai_agent"
            && !["Get", "List", "Simulate"]
                .iter()
                .any(|p| op.starts_with(p))
        {
            out.push("ai-agents-never-write-iam");
        }
    }
    let Some(reg) = reg else {
        return out;
    };
    if let Some(net) = reg.network {
        if c.ty == "service_account" && !c.src_ip.as_deref().is_some_and(|ip| in_network(ip, net)) {
            out.push("service-accounts-from-own-network");
        }
    }
    if let (Some(home), Some(t)) = (&reg.tenant, &c.tenant) {
        if home != t {
            out.push("no-cross-tenant");
        }
    }
    if reg
        .end_of_life
        .is_some_and(|e| c.ts_ms.div_euclid(1000) >= e)
    {
        out.push("no-calls-after-end-of-life");
    }
    out
}

#[test]
fn replay_flags_exactly_the_calls_each_rule_matches() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::simulate_fleet(
        dir.path(),
        "fleet.jsonl",
        80,
        "2d",
        31,
        &["--attack-share", "0.5"],
    );
    let all = calls(&input);
    let (t0, t1) = (all[0].ts_ms, all[all.len() - 1].ts_ms);

    // Identities: each agent's home tenant is its first call's; a service
    // account's network is the /16 of its first address. Then a few
    // registered wrongly on purpose, and three credentials that reach
    // their end of life half-way through.
    let mut reg: BTreeMap<String, Registered> = BTreeMap::new();
    for c in &all {
        reg.entry(c.agent.clone()).or_insert_with(|| Registered {
            tenant: c.tenant.clone(),
            network: (c.ty == "service_account")
                .then(|| c.src_ip.as_deref()?.parse::<Ipv4Addr>().ok())
                .flatten()
                .map(|a| (Ipv4Addr::from(u32::from(a) & 0xffff_0000), 16)),
            end_of_life: None,
        });
    }
    let ids: Vec<String> = reg.keys().cloned().collect();
    let half = (t0 + (t1 - t0) / 2).div_euclid(1000);
    for id in &ids[..3] {
        reg.get_mut(id).unwrap().end_of_life = Some(half);
    }
    if let Some(r) = reg.values_mut().find(|r| r.tenant.is_some()) {
        r.tenant = Some("elsewhere".into());
    }
    if let Some(r) = reg.values_mut().find(|r| r.network.is_some()) {
        r.network = Some((Ipv4Addr::new(203, 0, 113, 0), 24));
    }
    let entities: Vec<Value> = reg
        .iter()
        .map(|(id, r)| {
            let mut attrs = serde_json::Map::new();
            if let Some(t) = &r.tenant {
                attrs.insert("tenant".into(), json!(t));
            }
            if let Some((net, bits)) = r.network {
                attrs.insert(
                    "network".into(),
                    json!({"__extn": {"fn": "ip", "arg": format!("{net}/{bits}")}}),
                );
            }
            if let Some(e) = r.end_of_life {
                attrs.insert("end_of_life".into(), json!(e));
            }
            json!({"uid": {"type": "Agent", "id": id}, "attrs": attrs, "parents": []})
        })
        .collect();
    let identities = dir.path().join("identities.json");
    std::fs::write(&identities, serde_json::to_string(&entities).unwrap()).unwrap();

    let mut want: BTreeSet<(String, String)> = BTreeSet::new();
    let mut started: BTreeMap<(String, String), i64> = BTreeMap::new();
    for c in &all {
        let start = c.session.as_ref().map(|s| {
            *started
                .entry((c.agent.clone(), s.clone()))
                .or_insert(c.ts_ms)
        });
        for rule in expected(c, reg.get(&c.agent), start) {
            want.insert((rule.to_string(), c.event_id.clone()));
        }
    }

    let session_rule = dir.path().join("sessions.cedar");
    std::fs::write(&session_rule, SESSION_RULE).unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let report = dir.path().join("report.json");
    common::succeeded(
        warden()
            .args(["replay", "--no-progress", "--policy", EXAMPLES, "--policy"])
            .arg(&session_rule)
            .arg("--identities")
            .arg(&identities)
            .arg("--alerts-out")
            .arg(&alerts)
            .arg("--report")
            .arg(&report)
            .arg(&input)
            .output()
            .unwrap(),
    );
    let summary: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let mut got: BTreeSet<(String, String)> = BTreeSet::new();
    for line in std::fs::read_to_string(&alerts).unwrap().lines() {
        let f: Value = serde_json::from_str(line).unwrap();
        if f["finding_info"]["types"][0] != "Policy Violation" {
            continue;
        }
        let rule = f["finding_info"]["analytic"]["uid"]
            .as_str()
            .unwrap()
            .to_string();
        let event = f["evidences"][0]["api"]["request"]["uid"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            got.insert((rule, event)),
            "one finding per call and rule: {f}"
        );
    }
    assert_eq!(
        summary["policy_violations"].as_u64().unwrap() as usize,
        got.len()
    );
    let per_rule = |s: &BTreeSet<(String, String)>| {
        let mut m = BTreeMap::<String, usize>::new();
        for (r, _) in s {
            *m.entry(r.clone()).or_default() += 1;
        }
        m
    };
    assert_eq!(per_rule(&got), per_rule(&want));
    assert_eq!(got, want);
    assert_eq!(
        per_rule(&want).len(),
        5,
        "every rule has calls to match: {:?}",
        per_rule(&want)
    );

    // The IAM rule once more, counted by SQL over the same calls.
    let out = common::succeeded(
        warden()
            .args(["query", "--no-progress", "--format", "json", "--calls"])
            .arg(&input)
            .arg(
                "SELECT count(*) AS n FROM calls WHERE agent_type = 'ai_agent' \
                 AND action LIKE 'iam:%' AND action NOT LIKE 'iam:Get%' \
                 AND action NOT LIKE 'iam:List%' AND action NOT LIKE 'iam:Simulate%'",
            )
            .output()
            .unwrap(),
    );
    let row: Value = serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(
        row["n"].as_u64().unwrap() as usize,
        per_rule(&got)["ai-agents-never-write-iam"]
    );
}

fn labelled(s: &Service, name: &str, label: &str) -> f64 {
    let Some((_, body)) = s.get("/metrics") else {
        return 0.0;
    };
    body.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn batch(n: usize, from_ms: i64) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let action = if i % 2 == 0 { "test:Alpha" } else { "test:Beta" };
            let line = json!({"ts": from_ms + i as i64 * 1000, "agent_id": format!("agent-{}", i % 5),
                              "action": action, "agent_type": "workload", "event_id": format!("e-{from_ms}-{i}")});
            (format!("agent-{}", i % 5), line.to_string())
        })
        .collect()
}

const ALPHA: &str =
    "@id(\"alpha\") forbid (principal, action == Action::\"test:Alpha\", resource);\n";
const BETA: &str = "@id(\"beta\") forbid (principal, action == Action::\"test:Beta\", resource);\n";

/// Replaces `path`'s content at once (as an editor or a config management
/// tool does, by renaming a new file over it).
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn run_reloads_on_change_within_a_second_and_keeps_the_old_set_when_refused() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("guardrails.cedar");
    std::fs::write(&policy, ALPHA).unwrap();
    let broker = DevBroker::start(2);
    let cfg = write_config(dir.path(), "w.toml", &broker.bootstrap, "");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "[decisions]\npolicy_files = [{:?}]\n",
        policy.display().to_string()
    ));
    std::fs::write(&cfg, text).unwrap();
    let s = Service::start(&cfg, &dir.path().join("run.log"));
    assert_eq!(
        s.metric("warden_policy_rules"),
        1.0,
        "the set loaded at start"
    );
    assert_eq!(s.metric("warden_policy_reloads_total"), 0.0);

    let events = |s: &Service| s.metric("warden_events_total");
    let violations = |s: &Service| s.metric("warden_policy_violations_total");
    let start = 1_790_000_000_000i64;
    // 1: only alpha is in force.
    let one = batch(40, start);
    produce_paced(&broker.bootstrap, &one, &|| events(&s));
    s.wait_until("the first batch scored", Duration::from_secs(60), |s| {
        events(s) >= 40.0
    });
    assert_eq!(violations(&s), 20.0, "{}", s.log_tail());

    // 2: beta added; in force within a second of the change.
    replace(&policy, &format!("{ALPHA}{BETA}"));
    let changed = Instant::now();
    s.wait_until("the reload", Duration::from_secs(10), |s| {
        labelled(s, "warden_policy_reloads_total", "applied") >= 1.0
    });
    let took = changed.elapsed();
    assert!(took <= Duration::from_secs(1), "reload took {took:?}");
    assert_eq!(s.metric("warden_policy_rules"), 2.0);
    let two = batch(40, start + 100_000);
    produce_paced(&broker.bootstrap, &two, &|| events(&s));
    s.wait_until("the second batch scored", Duration::from_secs(60), |s| {
        events(s) >= 80.0
    });
    assert_eq!(violations(&s), 20.0 + 40.0, "{}", s.log_tail());

    // 3: an invalid set is refused and the previous one stays.
    replace(&policy, &format!("{ALPHA}{BETA}@id(\"bad\") forbid (principal, action, resource) when {{ context.nope }};\n"));
    s.wait_until("the refusal", Duration::from_secs(10), |s| {
        labelled(s, "warden_policy_reloads_total", "refused") >= 1.0
    });
    assert!(
        s.log_tail().contains("guardrails.cedar:3:"),
        "{}",
        s.log_tail()
    );
    let three = batch(40, start + 200_000);
    produce_paced(&broker.bootstrap, &three, &|| events(&s));
    s.wait_until("the third batch scored", Duration::from_secs(60), |s| {
        events(s) >= 120.0
    });
    assert_eq!(violations(&s), 20.0 + 40.0 + 40.0, "{}", s.log_tail());
    assert_eq!(s.metric("warden_policy_rules"), 2.0);
    let summary = s.terminate();
    assert_eq!(summary["events"], 120, "no call lost: {summary}");
    assert_eq!(summary["policy_violations"], 100, "{summary}");
}
