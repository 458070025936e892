//! `warden inventory`, run as the binary: the inventory against counts made
//! independently (the fleet file read here; `warden query` on real logs),
//! unused grants against grants built with known over-grants, and each
//! suggestion read back as grants: it must allow every call used and
//! nothing unused.

mod common;

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use warden::inventory::grants::iam_permission;

const BIN: &str = env!("CARGO_BIN_EXE_warden");

fn inventory(args: &[&str], inputs: &[&Path]) -> Value {
    let out = common::succeeded(
        Command::new(BIN)
            .args(["inventory", "--no-progress", "--format", "json"])
            .args(args)
            .args(inputs)
            .output()
            .unwrap(),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn entries(doc: &Value) -> BTreeMap<String, Value> {
    doc["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_string(), e.clone()))
        .collect()
}

/// `field` of each object in the array `v`, as strings.
fn field_set(v: &Value, field: &str) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x[field].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// The fleet's calls per agent and actions per agent, read here.
fn count(fleet: &Path) -> BTreeMap<String, (u64, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    for line in std::fs::read_to_string(fleet).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let e = out
            .entry(v["agent_id"].as_str().unwrap().into())
            .or_default();
        e.0 += 1;
        e.1.insert(v["action"].as_str().unwrap().into());
    }
    out
}

#[test]
fn a_fleet_is_inventoried_and_over_grants_are_found_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = common::simulate_fleet(
        dir.path(),
        "fleet.jsonl",
        24,
        "1d",
        11,
        &["--attack-share", "0"],
    );
    let truth = count(&fleet);
    // Grants for 8 agents: what they used (one of them through a wildcard),
    // plus over-grants that must come back as unused, and nothing else.
    let mut grants = Vec::new();
    let mut over: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (i, (agent, (_, actions))) in truth.iter().take(8).enumerate() {
        let mut patterns: Vec<String> = actions.iter().cloned().collect();
        if i == 0 {
            // A wildcard in place of one action it used.
            let first = patterns[0].clone();
            patterns[0] = format!("{}*", &first[..first.len() - 1]);
        }
        let extra: BTreeSet<String> = [format!("never:Used{i}"), "admin:*".to_string()].into();
        patterns.extend(extra.iter().cloned());
        over.insert(agent.clone(), extra);
        grants.push(
            json!({"identity": agent, "owner": format!("team-{}", i % 3), "actions": patterns}),
        );
    }
    grants.push(json!({"identity": "ghost-agent", "actions": ["kb:read"]}));
    let grants_file = dir.path().join("grants.json");
    std::fs::write(
        &grants_file,
        json!({"version": 1, "grants": grants}).to_string(),
    )
    .unwrap();
    let g = grants_file.to_str().unwrap();

    let doc = inventory(&["--grants", g, "--dormant-after", "6h"], &[&fleet]);
    let got = entries(&doc);
    // Every identity, with the calls and actions counted here.
    for (agent, (calls, actions)) in &truth {
        let e = &got[agent];
        assert_eq!(e["calls"].as_u64().unwrap(), *calls, "{agent}");
        assert_eq!(&field_set(&e["actions"], "value"), actions, "{agent}");
    }
    assert_eq!(
        got.len(),
        truth.len() + 1,
        "the granted identity never seen is listed too"
    );
    assert_eq!(
        strings(&got["ghost-agent"]["flags"]),
        ["never_seen".to_string(), "unused_grants".to_string()].into()
    );
    // Unused grants: exactly the over-grants (precision and recall 1).
    let mut found = 0;
    for (agent, extra) in &over {
        let review = &got[agent]["grants"];
        let unused = field_set(&review["unused"], "grant");
        assert_eq!(&unused, extra, "{agent}");
        assert!(
            review["used_without_grant"].as_array().unwrap().is_empty(),
            "{agent}: {review}"
        );
        assert!(got[agent]["owner"].as_str().unwrap().starts_with("team-"));
        found += unused.len();
    }
    assert_eq!(found, 16);
    assert_eq!(doc["summary"]["unused_grants"], 17);

    // The suggestions, read back as grants: everything used is allowed,
    // no wildcard is left, nothing granted is unused.
    let suggested: Vec<Value> = over
        .keys()
        .flat_map(|a| {
            got[a]["grants"]["suggestion"]["grants"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    for s in &suggested {
        assert!(
            s["actions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| !p.as_str().unwrap().contains('*')),
            "{s}"
        );
    }
    let back = dir.path().join("suggested.json");
    std::fs::write(&back, json!({"grants": suggested}).to_string()).unwrap();
    let again = entries(&inventory(&["--grants", back.to_str().unwrap()], &[&fleet]));
    for agent in over.keys() {
        let review = &again[agent]["grants"];
        assert!(
            review["unused"].as_array().unwrap().is_empty(),
            "{agent}: {review}"
        );
        assert!(
            review["used_without_grant"].as_array().unwrap().is_empty(),
            "{agent}: {review}"
        );
    }

    // The other formats render the same review.
    let csv = Command::new(BIN)
        .args([
            "inventory",
            "--no-progress",
            "--format",
            "csv",
            "--grants",
            g,
        ])
        .arg(&fleet)
        .output()
        .unwrap();
    assert!(csv.status.success());
    assert_eq!(
        String::from_utf8(csv.stdout).unwrap().lines().count(),
        truth.len() + 2
    );
    let html = dir.path().join("inventory.html");
    let table = Command::new(BIN)
        .args(["inventory", "--no-progress", "--grants", g, "--report-html"])
        .arg(&html)
        .arg(&fleet)
        .output()
        .unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("unused grants") && text.contains("never:Used0"),
        "{text}"
    );
    assert!(std::fs::read_to_string(&html)
        .unwrap()
        .contains("Granted, never used"));
}

#[test]
fn a_bad_grants_file_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = common::simulate_fleet(dir.path(), "f.jsonl", 3, "1h", 1, &[]);
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\"grants\": [\n {\"identity\": \"a\", \"actions\": [\"x\" \"y\"]}]}",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["inventory", "--grants"])
        .arg(&bad)
        .arg(&fleet)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json: line 2, column"), "{err}");
}

/// The IAM policy grammar's shape (the policy reference's grammar, for the
/// elements a suggestion writes).
const IAM_GRAMMAR: &str = r#"{
  "type": "object", "required": ["Version", "Statement"], "additionalProperties": false,
  "properties": {
    "Version": {"enum": ["2012-10-17", "2008-10-17"]},
    "Id": {"type": "string"},
    "Statement": {"type": "array", "minItems": 1, "items": {
      "type": "object", "required": ["Effect", "Resource"], "additionalProperties": false,
      "properties": {
        "Sid": {"type": "string", "pattern": "^[A-Za-z0-9]*$"},
        "Effect": {"enum": ["Allow", "Deny"]},
        "Action": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[a-zA-Z0-9-]+:[A-Za-z0-9_-]+$"}},
        "Resource": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
      },
      "oneOf": [{"required": ["Action"]}]}}
  }
}"#;

#[test]
fn invictus_cloudtrail_principals_match_an_independent_count() {
    let Some(dir) = common::shared_data("cloudtrail/invictus-ir") else {
        return;
    };
    let doc = inventory(
        &["--input-format", "cloudtrail", "--dormant-after", "1h"],
        &[&dir],
    );
    let got = entries(&doc);
    let q = Command::new(BIN)
        .args(["query", "--no-progress", "--calls-format", "cloudtrail", "--format", "json", "--calls"])
        .arg(&dir)
        .arg("SELECT agent_id, count(*) AS n, count(DISTINCT action) AS actions FROM calls GROUP BY agent_id")
        .output()
        .unwrap();
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    let rows: Vec<Value> = String::from_utf8(q.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() > 1);
    assert_eq!(rows.len(), got.len(), "{:?}", got.keys());
    let mut total = 0;
    for r in &rows {
        let e = &got[r["agent_id"].as_str().unwrap()];
        assert_eq!(e["calls"], r["n"], "{r}");
        assert_eq!(
            e["actions"].as_array().unwrap().len() as u64,
            r["actions"].as_u64().unwrap(),
            "{r}"
        );
        total += r["n"].as_u64().unwrap();
    }
    assert_eq!(total, 2900, "every record of the set");

    // The busiest role, granted what it used plus IAM write and a wildcard
    // of reads: the review finds both extras, and its suggestion is a
    // valid IAM policy that allows exactly what it used.
    let (role, e) = got
        .iter()
        .filter(|(k, _)| k.starts_with("arn:aws:iam::"))
        .max_by_key(|(_, e)| e["calls"].as_u64().unwrap())
        .unwrap();
    let used: Vec<String> = e["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["calls"] != a["denied"])
        .map(|a| iam_permission(a["value"].as_str().unwrap()).to_string())
        .collect();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": used, "Resource": "*"},
        {"Effect": "Allow", "Action": ["iam:DeleteAccountAlias", "workspaces:Describe*"], "Resource": "*"}]});
    let tmp = tempfile::tempdir().unwrap();
    let pfile = tmp.path().join("policy.json");
    std::fs::write(&pfile, policy.to_string()).unwrap();
    let spec = format!("{role}={}", pfile.display());
    let review = &entries(&inventory(
        &["--input-format", "cloudtrail", "--grants", &spec],
        &[&dir],
    ))[role]["grants"];
    let unused = field_set(&review["unused"], "grant");
    assert_eq!(
        unused,
        [
            "iam:DeleteAccountAlias".to_string(),
            "workspaces:Describe*".to_string()
        ]
        .into(),
        "{review}"
    );
    let suggestion = &review["suggestion"];
    let grammar: Value = serde_json::from_str(IAM_GRAMMAR).unwrap();
    let validator = jsonschema::validator_for(&grammar).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(suggestion)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{suggestion}");
    std::fs::write(&pfile, suggestion.to_string()).unwrap();
    let again = &entries(&inventory(
        &["--input-format", "cloudtrail", "--grants", &spec],
        &[&dir],
    ))[role]["grants"];
    assert!(again["unused"].as_array().unwrap().is_empty(), "{again}");
    assert!(
        again["used_without_grant"].as_array().unwrap().is_empty(),
        "{again}"
    );
}

#[test]
fn falco_fixtures_give_service_accounts_and_their_verbs() {
    let Some(dir) = common::shared_data("k8s-audit/falco/trace_files") else {
        return;
    };
    let doc = inventory(&["--input-format", "k8s-audit"], &[&dir]);
    let got = entries(&doc);
    let sas: Vec<(&String, &Value)> = got
        .iter()
        .filter(|(k, _)| k.starts_with("system:serviceaccount:"))
        .collect();
    assert!(!sas.is_empty(), "{:?}", got.keys());
    let tmp = tempfile::tempdir().unwrap();
    for (sa, e) in sas {
        assert_eq!(e["agent_type"], "service_account");
        let ns = sa.split(':').nth(2).unwrap();
        assert_eq!(e["tenant"], ns);
        for a in e["actions"].as_array().unwrap() {
            let action = a["value"].as_str().unwrap();
            assert!(
                action
                    .split_once(' ')
                    .is_some_and(|(verb, _)| verb.chars().all(|c| c.is_ascii_lowercase())),
                "{action}"
            );
        }
        // Its suggested Role, bound to it, read back as RBAC grants.
        let review_doc = inventory(
            &[
                "--input-format",
                "k8s-audit",
                "--grants",
                write_empty_grant(&tmp, sa).to_str().unwrap(),
            ],
            &[&dir],
        );
        let suggestion = entries(&review_doc)[sa.as_str()]["grants"]["suggestion"].clone();
        if suggestion.is_null() {
            continue; // only denied calls: nothing to grant
        }
        let rbac = tmp.path().join("rbac.json");
        std::fs::write(&rbac, suggestion.to_string()).unwrap();
        let back = entries(&inventory(
            &[
                "--input-format",
                "k8s-audit",
                "--grants",
                rbac.to_str().unwrap(),
            ],
            &[&dir],
        ));
        let review = &back[sa.as_str()]["grants"];
        assert!(
            review["unused"].as_array().unwrap().is_empty(),
            "{sa}: {review}"
        );
        assert!(
            review["used_without_grant"].as_array().unwrap().is_empty(),
            "{sa}: {review}"
        );
    }
}

/// A canonical grants file naming `identity` with no grant, so its review
/// (and suggestion) is written.
fn write_empty_grant(dir: &tempfile::TempDir, identity: &str) -> std::path::PathBuf {
    let p = dir.path().join("empty.json");
    std::fs::write(
        &p,
        json!({"grants": [{"identity": identity, "actions": []}]}).to_string(),
    )
    .unwrap();
    p
}

/// `warden simulate --grants-out` plants dormant agents and shared keys and
/// writes grants with over-grants and the labels of every case; the review
/// finds each labelled case and nothing else.
#[test]
fn the_simulators_labelled_cases_are_found_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("grants.json");
    let g = grants.to_str().unwrap();
    let fleet = common::simulate_fleet(
        dir.path(),
        "fleet.jsonl",
        60,
        "10d",
        21,
        &[
            "--grants-out",
            g,
            "--dormant-after",
            "7d",
            "--rotate-after",
            "5d",
        ],
    );
    let labels = serde_json::from_str::<Value>(&std::fs::read_to_string(&grants).unwrap()).unwrap()
        ["labels"]
        .clone();
    let doc = inventory(
        &[
            "--grants",
            g,
            "--dormant-after",
            "7d",
            "--rotate-after",
            "5d",
        ],
        &[&fleet],
    );
    let got = entries(&doc);
    let flagged = |flag: &str| -> BTreeSet<String> {
        got.values()
            .filter(|e| strings(&e["flags"]).contains(flag))
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let truth_unused: BTreeSet<(String, String)> = labels["over_grants"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(id, gs)| strings(gs).into_iter().map(move |g| (id.clone(), g)))
        .collect();
    let found_unused: BTreeSet<(String, String)> = got
        .values()
        .flat_map(|e| {
            let id = e["id"].as_str().unwrap().to_string();
            e["grants"]["unused"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |u| (id.clone(), u["grant"].as_str().unwrap().to_string()))
        })
        .collect();
    let shared: BTreeSet<String> = labels["shared_credentials"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(strings)
        .collect();
    for (what, truth, found) in [
        ("dormant", strings(&labels["dormant"]), flagged("dormant")),
        ("shared credential", shared, flagged("shared_credential")),
        (
            "unrotated",
            strings(&labels["unrotated"]),
            flagged("unrotated"),
        ),
    ] {
        assert!(!truth.is_empty(), "the fleet plants {what} cases");
        assert_eq!(found, truth, "{what}");
    }
    assert!(!truth_unused.is_empty());
    assert_eq!(found_unused, truth_unused, "unused grants");
}
