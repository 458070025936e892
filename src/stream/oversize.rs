//! Outputs that would not fit in one Kafka message. A record larger than the
//! broker accepts fails to produce; treated as fatal, the service would stop
//! without committing and meet the same call again on restart. Instead an
//! oversized finding is replaced by a truncated form that keeps its ids,
//! kinds and reasons (every long string cut, the cut marked in `unmapped`),
//! and an oversized dead letter keeps the start of the original bytes. Both
//! are counted (`warden_outputs_truncated_total`).

use crate::event::prefix;
use serde_json::{json, Map, Value};

/// Bytes a record's key, headers and framing may take beside its value.
pub(crate) const RECORD_OVERHEAD: usize = 1024;

/// String lengths tried, longest first, until a finding fits.
const STRING_CAPS: [usize; 4] = [4096, 1024, 256, 64];

/// `v` serialised within `budget` bytes: as is when it fits, else with every
/// string cut to the longest cap that fits, else the finding's ids and
/// reasons only. `None` when it fits as rendered (`buf` holds it).
pub(crate) fn fit_json(v: &Value, rendered: &[u8], budget: usize) -> Option<Vec<u8>> {
    if rendered.len() <= budget {
        return None;
    }
    for cap in STRING_CAPS {
        let mut cut = cut_strings(v, cap);
        mark(&mut cut, rendered.len(), Some(cap));
        let out = serde_json::to_vec(&cut).expect("JSON values always serialise");
        if out.len() <= budget {
            return Some(out);
        }
    }
    let mut min = skeleton(v);
    mark(&mut min, rendered.len(), None);
    Some(serde_json::to_vec(&min).expect("JSON values always serialise"))
}

/// The part of a dead letter's original bytes that fits in `budget`.
pub(crate) fn fit_bytes(value: &[u8], budget: usize) -> &[u8] {
    value.get(..budget).unwrap_or(value)
}

fn cut_strings(v: &Value, cap: usize) -> Value {
    match v {
        Value::String(s) if s.len() > cap => {
            Value::String(format!("{}…[{} bytes]", prefix(s, cap), s.len()))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| cut_strings(x, cap)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (prefix(k, cap).to_string(), cut_strings(x, cap)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What identifies a finding and says why it was raised, nothing the caller
/// supplied at length: class, activity, severity, time, the ids in
/// `metadata` and `finding_info`, and the detectors that fired.
fn skeleton(v: &Value) -> Value {
    let mut out = Map::new();
    for k in [
        "class_uid",
        "class_name",
        "category_uid",
        "category_name",
        "activity_id",
        "activity_name",
        "type_uid",
        "type_name",
        "severity_id",
        "severity",
        "status_id",
        "status",
        "time",
        "risk_score",
        "risk_level_id",
        "risk_level",
        "is_alert",
    ] {
        if let Some(x) = v.get(k) {
            out.insert(k.into(), cut_strings(x, 64));
        }
    }
    if let Some(m) = v.get("metadata") {
        let mut meta = Map::new();
        for k in ["version", "product", "uid", "correlation_uid", "log_name"] {
            if let Some(x) = m.get(k) {
                meta.insert(k.into(), cut_strings(x, 64));
            }
        }
        out.insert("metadata".into(), Value::Object(meta));
    }
    if let Some(fi) = v.get("finding_info") {
        let mut info = Map::new();
        for k in ["uid", "types", "first_seen_time", "last_seen_time"] {
            if let Some(x) = fi.get(k) {
                info.insert(k.into(), cut_strings(x, 64));
            }
        }
        if let Some(a) = fi.get("analytic") {
            info.insert("analytic".into(), cut_strings(a, 256));
        }
        info.insert(
            "title".into(),
            fi.get("title")
                .map_or(json!("Warden finding"), |t| cut_strings(t, 256)),
        );
        out.insert("finding_info".into(), Value::Object(info));
    }
    if let Some(m) = v.get("message") {
        out.insert("message".into(), cut_strings(m, 256));
    }
    Value::Object(out)
}

fn mark(v: &mut Value, original_bytes: usize, cap: Option<usize>) {
    let Some(o) = v.as_object_mut() else {
        return;
    };
    let unmapped = o
        .entry("unmapped")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(u) = unmapped.as_object_mut() {
        u.insert(
            "warden_truncated".into(),
            json!({
                "original_bytes": original_bytes,
                "max_string_bytes": cap,
                "reason": "the finding exceeded the output's message size limit",
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(agent: &str) -> Value {
        json!({
            "class_uid": 2004,
            "activity_id": 1,
            "severity_id": 4,
            "time": 1,
            "message": format!("novel action by {agent}"),
            "metadata": {"uid": "rec-1", "correlation_uid": "f-1", "version": "1.8.0"},
            "finding_info": {"uid": "f-1", "title": "Novel action", "types": ["Behavioral Anomaly"],
                             "analytic": {"uid": "novel_action", "name": "warden"}},
            "evidences": [{"actor": {"user": {"uid": agent, "name": agent}}}],
            "unmapped": {"cohort": "t/ai_agent"},
        })
    }

    fn fit(v: &Value, budget: usize) -> Option<Value> {
        let rendered = serde_json::to_vec(v).unwrap();
        fit_json(v, &rendered, budget).map(|b| {
            assert!(b.len() <= budget, "{} > {budget}", b.len());
            serde_json::from_slice(&b).unwrap()
        })
    }

    #[test]
    fn a_finding_that_fits_is_left_alone() {
        assert!(fit(&finding("agent-1"), 4096).is_none());
    }

    #[test]
    fn long_strings_are_cut_and_ids_kept() {
        let huge = "ü".repeat(400_000);
        let out = fit(&finding(&huge), 100_000).expect("truncated");
        assert_eq!(out["finding_info"]["uid"], "f-1");
        assert_eq!(out["metadata"]["uid"], "rec-1");
        assert_eq!(out["finding_info"]["analytic"]["uid"], "novel_action");
        let t = &out["unmapped"]["warden_truncated"];
        assert!(t["original_bytes"].as_u64().unwrap() > 2_000_000);
        assert_eq!(t["max_string_bytes"], 4096);
        assert_eq!(out["unmapped"]["cohort"], "t/ai_agent");
        let uid = out["evidences"][0]["actor"]["user"]["uid"]
            .as_str()
            .unwrap();
        assert!(uid.ends_with("…[800000 bytes]"), "{} bytes", uid.len());
    }

    #[test]
    fn many_long_strings_fall_back_to_the_skeleton() {
        let mut v = finding("a");
        v["evidences"] = Value::Array(
            (0..2000)
                .map(|i| json!({"uid": i.to_string().repeat(80)}))
                .collect(),
        );
        let out = fit(&v, 20_000).expect("truncated");
        assert!(out.get("evidences").is_none());
        assert_eq!(out["finding_info"]["uid"], "f-1");
        assert_eq!(out["finding_info"]["title"], "Novel action");
        assert_eq!(
            out["unmapped"]["warden_truncated"]["max_string_bytes"],
            Value::Null
        );
    }

    #[test]
    fn dead_letter_bytes_keep_their_start() {
        let v = vec![7u8; 3_000_000];
        assert_eq!(fit_bytes(&v, 1000).len(), 1000);
        assert_eq!(fit_bytes(&v[..10], 1000).len(), 10);
    }
}
