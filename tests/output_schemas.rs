//! Golden tests: what `warden replay` writes validates against the JSON
//! Schemas in `schemas/` that document Warden's outputs, and each schema
//! rejects an output broken in the way a consumer would notice.

mod common;

use serde_json::Value;
use std::path::Path;

fn validator(name: &str) -> jsonschema::Validator {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{name} is not a valid schema: {e}"))
}

fn set_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| {
            let (header, claims) = common::set_parts(l);
            serde_json::json!({"header": header, "claims": claims})
        })
        .collect()
}

fn lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn errors(v: &jsonschema::Validator, x: &Value) -> Vec<String> {
    v.iter_errors(x)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn replay_outputs_validate_against_their_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let (alerts, revs) = common::replayed_fleet(dir.path(), 60, "30h", 8);
    let finding = validator("detection-finding.schema.json");
    let remediation = validator("remediation-activity.schema.json");
    let revocation = validator("security-event-token.schema.json");

    let outputs = lines(&alerts);
    let mut counts = [0usize; 4];
    for (i, v) in outputs.iter().enumerate() {
        let (which, slot) = match v["class_uid"].as_i64() {
            Some(2004) => (&finding, v["activity_id"].as_u64().unwrap() as usize - 1),
            Some(7001) => (&remediation, 3),
            other => panic!("line {}: class {other:?}", i + 1),
        };
        counts[slot] += 1;
        let e = errors(which, v);
        assert!(e.is_empty(), "alerts line {}: {e:?}", i + 1);
    }
    assert!(
        counts.iter().all(|&n| n > 0),
        "create/update/close/remediation seen: {counts:?}"
    );
    let revocations = set_lines(&revs);
    assert_eq!(revocations.len(), counts[3]);
    for (i, v) in revocations.iter().enumerate() {
        let e = errors(&revocation, v);
        assert!(e.is_empty(), "revocations line {}: {e:?}", i + 1);
    }

    // Each schema catches what a consumer would trip on.
    let create = outputs.iter().find(|v| v["activity_id"] == 1).unwrap();
    let mut no_alert = create.clone();
    no_alert.as_object_mut().unwrap().remove("is_alert");
    assert!(
        !errors(&finding, &no_alert).is_empty(),
        "a Create must be an alert"
    );
    let update = outputs.iter().find(|v| v["activity_id"] == 2).unwrap();
    let mut alert_update = update.clone();
    alert_update["is_alert"] = Value::from(true);
    assert!(
        !errors(&finding, &alert_update).is_empty(),
        "only a Create is an alert"
    );
    // A reopening is an Update back In Progress after the Close, not a new
    // alert, under the finding's own uid.
    let reopened = outputs
        .iter()
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("so it is reopened"))
        })
        .expect("a reopened finding in this fleet");
    assert_eq!(
        (&reopened["activity_id"], &reopened["status_id"]),
        (&Value::from(2), &Value::from(2))
    );
    assert!(reopened.get("is_alert").is_none());
    let uid = &reopened["finding_info"]["uid"];
    let closed_before = outputs
        .iter()
        .take_while(|v| !std::ptr::eq(*v, reopened))
        .any(|v| &v["finding_info"]["uid"] == uid && v["activity_id"] == 3);
    assert!(closed_before, "reopened after its Close");
    let mut bad_uid = create.clone();
    bad_uid["metadata"]["uid"] = Value::from("f-1");
    assert!(!errors(&finding, &bad_uid).is_empty());
    let rem = outputs.iter().find(|v| v["class_uid"] == 7001).unwrap();
    let mut unlinked = rem.clone();
    unlinked["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("correlation_uid");
    assert!(
        !errors(&remediation, &unlinked).is_empty(),
        "a remediation names its finding"
    );
    let session = revocations
        .iter()
        .find(|r| r["claims"]["sub_id"]["session"].is_object())
        .expect("a session revocation");
    let mut no_session = session.clone();
    no_session["claims"]["sub_id"]
        .as_object_mut()
        .unwrap()
        .remove("session");
    assert!(
        !errors(&revocation, &no_session).is_empty(),
        "session-revoked names the session"
    );
    let mut expiring = session.clone();
    expiring["claims"]["exp"] = Value::from(1);
    assert!(
        !errors(&revocation, &expiring).is_empty(),
        "a SET carries no exp"
    );
}
