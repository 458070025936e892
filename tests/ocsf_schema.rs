//! Golden check of real outputs against the raw OCSF 1.8.0 schema files in
//! `../shared/ocsf-schema-1.8.0` (skipped, with a message, when absent): every
//! Detection Finding and Remediation Activity `warden replay` writes, and
//! every IAM Analysis Finding `warden inventory` writes, has each
//! attribute its class requires, no attribute its class (or a profile) does
//! not define, values of the dictionary's types, and enum ids the schema
//! lists — recursively through every object.

mod common;

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

struct Ocsf {
    root: PathBuf,
    dictionary: Map<String, Value>,
    /// Event class or object name -> its file.
    files: HashMap<String, PathBuf>,
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn walk(dir: &Path, out: &mut HashMap<String, PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            if let Some(name) = read(&p)["name"].as_str() {
                out.entry(name.to_string()).or_insert(p);
            }
        }
    }
}

impl Ocsf {
    fn load(root: &Path) -> Ocsf {
        let mut files = HashMap::new();
        walk(&root.join("events"), &mut files);
        let mut objects = HashMap::new();
        walk(&root.join("objects"), &mut objects);
        // Objects are looked up by type name; keep them apart from classes
        // that share a name.
        for (k, v) in objects {
            files.insert(format!("object:{k}"), v);
        }
        let dictionary = read(&root.join("dictionary.json"))["attributes"]
            .as_object()
            .unwrap()
            .clone();
        Ocsf {
            root: root.to_path_buf(),
            dictionary,
            files,
        }
    }

    /// Attributes of a class or object, with those it extends and includes.
    fn attributes(&self, key: &str) -> Map<String, Value> {
        let def = read(&self.files[key]);
        let mut attrs = Map::new();
        if let Some(parent) = def["extends"].as_str() {
            let pkey = if key.starts_with("object:") {
                format!("object:{parent}")
            } else {
                parent.to_string()
            };
            if self.files.contains_key(&pkey) {
                attrs = self.attributes(&pkey);
            }
        }
        for (k, v) in def["attributes"].as_object().unwrap() {
            if k == "$include" {
                let includes: Vec<&str> = match v {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
                    _ => vec![],
                };
                for inc in includes {
                    let p = self.root.join(inc);
                    // A profile's attributes apply only to events that
                    // declare the profile: for the rest they are optional.
                    if let Some(more) = read(&p)["attributes"].as_object() {
                        for (ik, iv) in more {
                            let mut iv = iv.clone();
                            iv["requirement"] = Value::from("optional");
                            attrs.entry(ik.clone()).or_insert(iv);
                        }
                    }
                }
                continue;
            }
            let merged = match attrs.get(k) {
                Some(Value::Object(base)) => {
                    let mut m = base.clone();
                    for (fk, fv) in v.as_object().unwrap() {
                        m.insert(fk.clone(), fv.clone());
                    }
                    Value::Object(m)
                }
                _ => v.clone(),
            };
            attrs.insert(k.clone(), merged);
        }
        attrs
    }

    fn check(&self, value: &Value, key: &str, path: &str, errors: &mut Vec<String>) {
        let attrs = self.attributes(key);
        let Some(obj) = value.as_object() else {
            errors.push(format!("{path}: expected an object"));
            return;
        };
        for (name, spec) in &attrs {
            if spec["requirement"] == "required" && !obj.contains_key(name) {
                errors.push(format!("{path}.{name}: required by {key}, missing"));
            }
        }
        for (name, v) in obj {
            let Some(spec) = attrs.get(name) else {
                errors.push(format!("{path}.{name}: not an attribute of {key}"));
                continue;
            };
            let dict = &self.dictionary[name];
            let ty = spec["type"]
                .as_str()
                .or(dict["type"].as_str())
                .unwrap_or("");
            let is_array = spec["is_array"]
                .as_bool()
                .or(dict["is_array"].as_bool())
                .unwrap_or(false);
            let enum_ = spec.get("enum").or(dict.get("enum"));
            let items: Vec<&Value> = if is_array {
                match v.as_array() {
                    Some(a) => a.iter().collect(),
                    None => {
                        errors.push(format!("{path}.{name}: expected an array"));
                        continue;
                    }
                }
            } else {
                vec![v]
            };
            for item in items {
                self.check_value(item, name, ty, enum_, path, errors);
            }
        }
    }

    fn check_value(
        &self,
        v: &Value,
        name: &str,
        ty: &str,
        enum_: Option<&Value>,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        let at = format!("{path}.{name}");
        // The schema compiler fills these enums in from the class tree.
        let computed = matches!(name, "class_uid" | "category_uid" | "type_uid");
        if let Some(e) = enum_.filter(|_| !computed) {
            let key = match v {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            if e.get(&key).is_none() && key != "99" && key != "0" {
                errors.push(format!("{at}: {key} is not in the enum"));
            }
        }
        let ok = match ty {
            "integer_t" | "long_t" | "timestamp_t" | "port_t" => v.is_i64() || v.is_u64(),
            "float_t" => v.is_number(),
            "boolean_t" => v.is_boolean(),
            "json_t" | "object" | "" => true,
            t if t.ends_with("_t") => v.is_string(),
            obj => {
                let k = format!("object:{obj}");
                if self.files.contains_key(&k) {
                    self.check(v, &k, &at, errors);
                    true
                } else {
                    errors.push(format!("{at}: unknown type {obj}"));
                    true
                }
            }
        };
        if !ok {
            errors.push(format!("{at}: {v} is not a {ty}"));
        }
    }
}

/// The schema files, or `None` (said, via `skip_missing`) when absent.
/// Fails with every distinct problem the checker found, if any.
fn assert_no_problems(mut errors: Vec<String>) {
    errors.sort();
    errors.dedup();
    assert!(
        errors.is_empty(),
        "{} problems:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

fn schema() -> Option<(PathBuf, Ocsf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/ocsf-schema-1.8.0");
    if !root.join("dictionary.json").exists() {
        common::skip_missing(&root);
        return None;
    }
    let ocsf = Ocsf::load(&root);
    Some((root, ocsf))
}

#[test]
fn findings_and_remediations_validate_against_ocsf_1_8_0() {
    let Some((_, ocsf)) = schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (alerts, _) = common::replayed_fleet(dir.path(), 60, "30h", 8);
    let text = std::fs::read_to_string(&alerts).unwrap();

    // The checker itself finds what it should: a finding broken three ways.
    let mut broken: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    broken.as_object_mut().unwrap().remove("metadata");
    broken["severity_id"] = Value::from(42);
    broken["finding_info"]["not_in_ocsf"] = Value::from(true);
    let mut found = Vec::new();
    ocsf.check(&broken, "detection_finding", "broken", &mut found);
    for want in [
        "broken.metadata: required by detection_finding, missing",
        "broken.severity_id: 42 is not in the enum",
        "broken.finding_info.not_in_ocsf: not an attribute of object:finding_info",
    ] {
        assert!(
            found.iter().any(|e| e == want),
            "checker missed {want:?}: {found:?}"
        );
    }

    let mut seen: HashMap<i64, usize> = HashMap::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        let class = match v["class_uid"].as_i64() {
            Some(2004) => "detection_finding",
            Some(7001) => "remediation_activity",
            other => panic!("line {}: unexpected class {other:?}", i + 1),
        };
        *seen
            .entry(v["activity_id"].as_i64().unwrap() + 10 * v["class_uid"].as_i64().unwrap())
            .or_default() += 1;
        ocsf.check(&v, class, &format!("line {}", i + 1), &mut errors);
    }
    assert_no_problems(errors);
    // Every kind of output was exercised: Create, Update, Close, Remediation.
    for kind in [20041, 20042, 20043, 70012] {
        assert!(
            seen.contains_key(&kind),
            "no output of kind {kind}: {seen:?}"
        );
    }
    // ATT&CK tags were among what was validated.
    let tagged = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["finding_info"]["attacks"].is_array())
        .count();
    assert!(tagged > 0, "no finding carried finding_info.attacks");
    // So were reopenings (an Update after the Close).
    assert!(
        text.contains("so it is reopened"),
        "no finding was reopened in this fleet"
    );
}

/// A suppressed finding (status Suppressed, with who suppressed it and why)
/// is still an OCSF 1.8.0 Detection Finding.
#[test]
fn suppressed_findings_validate_against_ocsf_1_8_0() {
    let Some((_, ocsf)) = schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (alerts, _) = common::replayed_fleet(dir.path(), 40, "1d", 7);
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(&alerts)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let agent = first["anomaly_analyses"][0]["analysis_targets"][0]["name"]
        .as_str()
        .or_else(|| first["evidences"][0]["actor"]["user"]["uid"].as_str())
        .unwrap_or_else(|| panic!("no identity in {first}"))
        .to_string();
    let bin = env!("CARGO_BIN_EXE_warden");
    let file = dir.path().join("suppressions.jsonl");
    common::succeeded(
        std::process::Command::new(bin)
            .args(["suppress", "add", "--file"])
            .arg(&file)
            .args(["--agent", &agent, "--by", "analyst@example.com"])
            .args(["--reason", "red-team drill, CHG-1234"])
            .output()
            .unwrap(),
    );
    let suppressed = dir.path().join("suppressed.jsonl");
    common::succeeded(
        std::process::Command::new(bin)
            .args(["replay", "--no-progress", "--suppressions"])
            .arg(&file)
            .arg("--alerts-out")
            .arg(&suppressed)
            .arg(dir.path().join("fleet.jsonl"))
            .output()
            .unwrap(),
    );
    let mut errors = Vec::new();
    let mut checked = 0;
    for (i, line) in std::fs::read_to_string(&suppressed)
        .unwrap()
        .lines()
        .enumerate()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["status_id"] == 3 {
            checked += 1;
            ocsf.check(
                &v,
                "detection_finding",
                &format!("line {}", i + 1),
                &mut errors,
            );
        }
    }
    assert!(checked > 0, "no suppressed finding was written");
    assert_no_problems(errors);
}

/// A guardrail policy violation (the rule as the analytic, its severity)
/// is an OCSF 1.8.0 Detection Finding too.
#[test]
fn policy_violations_validate_against_ocsf_1_8_0() {
    let Some((_, ocsf)) = schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = common::simulate_fleet(
        dir.path(),
        "fleet.jsonl",
        40,
        "1d",
        7,
        &["--attack-share", "0.5"],
    );
    let alerts = dir.path().join("alerts.jsonl");
    common::succeeded(
        std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .args([
                "replay",
                "--no-progress",
                "--policy",
                "deploy/policies/guardrails.cedar",
            ])
            .arg("--alerts-out")
            .arg(&alerts)
            .arg(&input)
            .output()
            .unwrap(),
    );
    let mut errors = Vec::new();
    let mut checked = 0;
    for (i, line) in std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .enumerate()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["finding_info"]["types"][0] == "Policy Violation" {
            checked += 1;
            assert_eq!(v["finding_info"]["analytic"]["type_id"], 1, "{v}");
            ocsf.check(
                &v,
                "detection_finding",
                &format!("line {}", i + 1),
                &mut errors,
            );
        }
    }
    assert!(checked > 0, "no policy violation was written");
    assert_no_problems(errors);
}

/// `warden inventory --findings-out`: every review finding is an OCSF 1.8.0
/// IAM Analysis Finding, with at least one of the analyses the class asks
/// for, on a fleet with every kind of planted case.
#[test]
fn inventory_findings_validate_against_ocsf_1_8_0() {
    let Some((root, ocsf)) = schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let grants = dir.path().join("grants.json");
    let g = grants.to_str().unwrap();
    let fleet = common::simulate_fleet(
        dir.path(),
        "fleet.jsonl",
        40,
        "10d",
        3,
        &["--grants-out", g, "--rotate-after", "5d"],
    );
    let findings = dir.path().join("review.jsonl");
    common::succeeded(
        std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["inventory", "--no-progress", "--format", "json", "--out"])
            .arg(dir.path().join("inventory.json"))
            .args(["--grants", g, "--rotate-after", "5d", "--findings-out"])
            .arg(&findings)
            .arg(&fleet)
            .output()
            .unwrap(),
    );
    let class = read(&root.join("events/findings/iam_analysis_finding.json"));
    let at_least_one: Vec<&str> = class["constraints"]["at_least_one"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut errors = Vec::new();
    let mut titles = std::collections::BTreeSet::new();
    let text = std::fs::read_to_string(&findings).unwrap();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["class_uid"], 2008);
        ocsf.check(
            &v,
            "iam_analysis_finding",
            &format!("line {}", i + 1),
            &mut errors,
        );
        assert!(
            at_least_one.iter().any(|k| v.get(*k).is_some()),
            "line {}: none of {at_least_one:?}",
            i + 1
        );
        titles.insert(v["finding_info"]["title"].as_str().unwrap().to_string());
    }
    assert_no_problems(errors);
    for kind in ["dormant identity", "never used", "not rotated", "shared"] {
        assert!(
            titles.iter().any(|t| t.contains(kind)),
            "no finding about {kind}: {titles:?}"
        );
    }
}

/// `warden run`'s review findings (dormancy raised and resolved, unused
/// grants raised, updated and resolved) are IAM Analysis Findings too.
#[test]
fn live_review_findings_validate_against_ocsf_1_8_0() {
    use warden::config::InventoryTimes;
    use warden::inventory::{grants::GrantSet, LiveInventory, ReviewActivity};
    let Some((_, ocsf)) = schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grants.json");
    std::fs::write(
        &path,
        r#"{"grants":[{"identity":"svc","owner":"team","actions":["s3:GetObject","s3:PutObject","iam:*"]}]}"#,
    )
    .unwrap();
    let mut grants = GrantSet::default();
    grants.load(path.to_str().unwrap()).unwrap();
    let h = common::HOUR;
    let times = InventoryTimes {
        dormant_after_ms: 3 * h,
        rotate_after_ms: 100 * h,
        unused_after_ms: 2 * h,
        review_every_ms: 24 * h,
    };
    let mut inv = LiveInventory::new(times, grants, 10);
    let mut events: Vec<_> = (0..4)
        .map(|i| common::call("svc", i * h, "s3:GetObject"))
        .collect();
    events.push(common::call("svc", 4 * h, "s3:PutObject"));
    events.push(common::call("svc", 5 * h, "iam:ListRoles"));
    events.extend((0..12).map(|i| common::call("busy", i * h, "s3:GetObject")));
    events.push(common::call("svc", 12 * h, "s3:GetObject"));
    events.sort_by_key(|e| e.ts_ms);
    let batch = warden::event::CallBatchBuilder::batch_of(&events);
    let cols = warden::event::CallColumns::new(&batch).unwrap();
    let mut made = Vec::new();
    for i in 0..cols.len() {
        let row = cols.row(i);
        made.extend(inv.observe(&row, 0));
        inv.review(0, row.ts_ms, &mut |e| made.push(e));
    }
    let mut kinds = std::collections::BTreeSet::new();
    let mut errors = Vec::new();
    for (i, ev) in made.iter().enumerate() {
        let (id, v) = warden::inventory::review_finding(ev);
        assert_eq!(v["metadata"]["uid"], id.as_str());
        assert_eq!(v["class_uid"], 2008);
        ocsf.check(
            &v,
            "iam_analysis_finding",
            &format!("finding {i}"),
            &mut errors,
        );
        kinds.insert((ev.kind.as_str(), ev.activity.as_str()));
        if ev.activity == ReviewActivity::Close {
            assert_eq!(v["status_id"], 4);
        }
    }
    assert_no_problems(errors);
    let want = [
        ("dormant", "close"),
        ("dormant", "create"),
        ("unused_grants", "close"),
        ("unused_grants", "create"),
        ("unused_grants", "update"),
    ];
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), want);
}
