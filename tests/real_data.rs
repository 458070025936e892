//! The adapters on real public audit logs in `../shared/data` (see its
//! README). Each test skips, saying so, when that folder is absent. Counts
//! are asserted exactly, so a mapping that starts dropping records fails.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use warden::adapt::{map_record, Format, Mapped};
use warden::event::CallColumns;
use warden::input::{expand_inputs, EventReader, ReadOptions};

fn data(rel: &str) -> Option<PathBuf> {
    common::shared_data(rel)
}

struct Read {
    files: usize,
    events: u64,
    skipped: u64,
    bad: Vec<String>,
    agents: BTreeMap<String, u64>,
}

fn read_all(dir: &Path, format: Format) -> Read {
    let specs = expand_inputs(&[dir.display().to_string()]).unwrap();
    let mut r = Read {
        files: specs.len(),
        events: 0,
        skipped: 0,
        bad: Vec::new(),
        agents: BTreeMap::new(),
    };
    for spec in &specs {
        let opts = ReadOptions {
            format,
            ..ReadOptions::default()
        };
        let mut reader = EventReader::open(spec, opts, Arc::new(AtomicU64::new(0))).unwrap();
        let mut bad = Vec::new();
        while let Some(batch) = reader.next_batch(&mut bad).unwrap() {
            let cols = CallColumns::new(&batch).unwrap();
            for i in 0..cols.len() {
                r.events += 1;
                *r.agents
                    .entry(cols.row(i).agent_id.to_string())
                    .or_default() += 1;
            }
        }
        r.skipped += reader.skipped;
        r.bad.extend(bad.iter().map(|b| b.to_string()));
    }
    r
}

#[test]
fn invictus_cloudtrail_every_record_maps() {
    let Some(dir) = data("cloudtrail/invictus-ir") else {
        return;
    };
    for format in [Format::Auto, Format::Cloudtrail] {
        let r = read_all(&dir, format);
        assert_eq!(r.files, 55);
        assert_eq!(r.events, 2900, "{:?}", &r.bad[..r.bad.len().min(5)]);
        assert!(r.bad.is_empty(), "{:?}", &r.bad[..r.bad.len().min(5)]);
        assert!(r
            .agents
            .contains_key("arn:aws:iam::123837392027:user/benjamin"));
        assert!(r.agents.len() >= 15, "{:?}", r.agents.keys());
    }
}

#[test]
fn stratus_detonations_every_record_maps_and_odd_addresses_are_kept() {
    let Some(dir) = data("cloudtrail/stratus-detonations") else {
        return;
    };
    let r = read_all(&dir, Format::Auto);
    assert_eq!(r.files, 35);
    assert_eq!(r.events, 310);
    assert!(r.bad.is_empty(), "{:?}", r.bad);
    // Anonymised addresses with leading zeros are kept as text.
    let text = std::fs::read_to_string(dir.join("aws.persistence.iam-backdoor-user.json")).unwrap();
    let recs = warden::adapt::records(&text).unwrap();
    let Ok(Mapped::Event(ev)) = map_record(recs[0], Format::Cloudtrail, 1, "") else {
        panic!("maps")
    };
    assert_eq!(ev.src_ip.as_deref(), Some("211.9.016.253"));
    assert_eq!(ev.action, "iam:CreateAccessKey");
    assert_eq!(
        ev.resource.as_deref(),
        Some("iam:user/stratus-red-team-backdoor-u-user")
    );
}

#[test]
fn falco_kubernetes_fixtures() {
    let Some(dir) = data("k8s-audit/falco/trace_files") else {
        return;
    };
    let r = read_all(&dir, Format::Auto);
    assert_eq!(r.files, 47);
    // 52 records: 49 scored, 2 of another audit stage, and the deliberately
    // broken fixture `{"kind": 0}` reported as such.
    assert_eq!((r.events, r.skipped), (49, 2));
    assert_eq!(r.bad.len(), 1, "{:?}", r.bad);
    assert!(
        r.bad[0].contains("fal_01_003.json: line 1") && r.bad[0].contains("no known format"),
        "{}",
        r.bad[0]
    );
    assert!(
        r.agents
            .keys()
            .any(|a| a.starts_with("system:serviceaccount:") || a == "minikube-user"),
        "{:?}",
        r.agents.keys()
    );
    let k8s = read_all(&dir, Format::K8sAudit);
    assert_eq!((k8s.events, k8s.skipped, k8s.bad.len()), (49, 2, 1));
}

/// Panther's rule-test vectors are hand-made: real shapes, often missing
/// fields. Every vector whose `log` looks like CloudTrail or Kubernetes
/// audit is claimed; each one either maps or is refused with the missing
/// field named. GCP audit logs are no adapter's format and are claimed by none.
#[test]
fn panther_vectors_claimed_records_map_or_name_the_missing_field() {
    let Some(path) = data("panther/panther_rule_tests.jsonl") else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let mut tally: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut missing: BTreeMap<String, u64> = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let log = v["log"].to_string();
        let types: Vec<&str> = v["log_types"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        let family = if types.contains(&"AWS.CloudTrail") {
            "cloudtrail"
        } else if types.contains(&"Amazon.EKS.Audit") {
            "eks"
        } else if types.contains(&"GCP.AuditLog") {
            "gcp"
        } else {
            continue;
        };
        let outcome = match warden::adapt::detect(&log) {
            None => "unclaimed",
            Some(_) => match map_record(&log, Format::Auto, 1, "ResponseComplete") {
                Ok(Mapped::Event(_)) => "mapped",
                Ok(Mapped::Skipped) => "skipped",
                Err(e) => {
                    let field =
                        e.0.field
                            .clone()
                            .expect("a refused claimed record names its field");
                    *missing.entry(format!("{family}:{field}")).or_default() += 1;
                    "refused"
                }
            },
        };
        *tally.entry((family, outcome)).or_default() += 1;
    }
    println!("{tally:?}\n{missing:?}");
    let get = |f, o| tally.get(&(f, o)).copied().unwrap_or(0);
    assert_eq!(
        get("gcp", "mapped") + get("gcp", "refused"),
        0,
        "no adapter claims GCP audit logs"
    );
    assert_eq!(get("cloudtrail", "mapped"), 444);
    assert_eq!(get("cloudtrail", "refused"), 15);
    assert_eq!(get("cloudtrail", "unclaimed"), 78);
    // Panther's EKS vectors are hand-made without any timestamp (187) or are
    // of a stage other than ResponseComplete (3): a time is the one thing
    // Warden will not invent.
    assert_eq!(
        (
            get("eks", "mapped"),
            get("eks", "skipped"),
            get("eks", "refused")
        ),
        (0, 3, 187)
    );
    assert_eq!(get("gcp", "unclaimed"), 184);
    let expected: BTreeMap<String, u64> = [
        ("cloudtrail:eventTime".to_string(), 15),
        ("eks:stageTimestamp".to_string(), 187),
    ]
    .into();
    assert_eq!(missing, expected);
}

fn splice_report(unit: &str, dir: &Path) -> Vec<serde_json::Value> {
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("r.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["splice", "--unit", unit, "--report"])
        .arg(&report)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
}

/// The per-technique figures published in docs/real-data.md.
#[test]
fn stratus_techniques_spliced_into_simulated_principals() {
    let Some(dir) = data("cloudtrail/stratus-detonations") else {
        return;
    };
    let units = splice_report("file", &dir);
    assert_eq!(units.len(), 35);
    let caught: Vec<&str> = units
        .iter()
        .filter(|u| u["detected"] == true)
        .map(|u| u["unit"].as_str().unwrap())
        .collect();
    assert_eq!(caught.len(), 34, "{caught:?}");
    for must in [
        "aws.execution.ssm-send-command",
        "aws.credential-access.ec2-get-password-data",
        "aws.persistence.iam-create-admin-user",
        // Single-call control-plane techniques: the first call of a
        // high-impact ATT&CK tactic (models/attack-catalogue-v1.json).
        "aws.defense-evasion.cloudtrail-stop",
        "aws.defense-evasion.cloudtrail-delete",
        "aws.exfiltration.ec2-share-ebs-snapshot",
        "aws.exfiltration.rds-share-snapshot",
        // A watched action's first use (reading secrets) on the call that
        // brings a network the principal never used.
        "aws.credential-access.secretsmanager-batch-retrieve-secrets",
    ] {
        assert!(caught.contains(&must), "{must} not caught: {caught:?}");
    }
}

#[test]
fn invictus_hour_spliced_per_principal() {
    let Some(dir) = data("cloudtrail/invictus-ir") else {
        return;
    };
    let units = splice_report("principal", &dir);
    assert_eq!(units.len(), 20);
    let by = |name: &str| {
        units
            .iter()
            .find(|u| u["unit"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(by("user/bert-jan")["detected"], true);
    assert_eq!(by("user/bert-jan")["revoked"], true);
    assert!(by("user/bert-jan")["delay_s"].as_f64().unwrap() <= 60.0);
    // RDS at work through its service-linked role (the calls' source is
    // `rds.amazonaws.com`): not the role's holder choosing new actions.
    assert_eq!(by("AWSServiceRoleForRDS")["detected"], false);
    for role in [
        "ec2-get-password-data-role",
        "get-usr-data-role",
        "ec2-steal-credentials-role",
        "ec2-enumerate-role",
    ] {
        assert_eq!(by(role)["detected"], true, "{role}");
    }
    let benign_flagged = units
        .iter()
        .filter(|u| u["labels"].get("benign").is_some() && u["detected"] == true)
        .count();
    assert_eq!(
        benign_flagged, 1,
        "see docs/real-data.md for why benign principals are flagged when spliced"
    );
}

/// Real files cut in half (an interrupted S3 download, a partial copy): the
/// complete records before the cut are scored and the cut is reported.
#[test]
fn truncated_real_files_keep_their_complete_records() {
    let Some(inv) = data("cloudtrail/invictus-ir") else {
        return;
    };
    let Some(stratus) = data("cloudtrail/stratus-detonations") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut specs = expand_inputs(&[inv.display().to_string()]).unwrap();
    let first = match specs.remove(0) {
        warden::input::InputSpec::File(p) => p,
        other => panic!("{other:?}"),
    };
    let whole = std::fs::read_to_string(&first).unwrap();
    let total = warden::adapt::records(&whole).unwrap().len();
    std::fs::write(
        dir.path().join("cut-s3-object.json"),
        &whole[..whole.len() / 2],
    )
    .unwrap();
    let pretty =
        std::fs::read_to_string(stratus.join("aws.execution.ssm-send-command.json")).unwrap();
    let pretty_total = warden::adapt::records(&pretty).unwrap().len();
    std::fs::write(
        dir.path().join("cut-pretty.json"),
        &pretty[..pretty.len() / 2],
    )
    .unwrap();

    let r = read_all(dir.path(), Format::Auto);
    assert_eq!(r.bad.len(), 2, "{:?}", r.bad);
    assert!(
        r.bad
            .iter()
            .all(|b| b.contains("truncated or malformed JSON after")),
        "{:?}",
        r.bad
    );
    // Roughly half of each file's records survive, and never more than all.
    assert!(
        r.events > ((total + pretty_total) / 3) as u64 && r.events < (total + pretty_total) as u64,
        "{} of {}",
        r.events,
        total + pretty_total
    );
}
