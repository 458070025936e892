//! Review results as OCSF 1.8.0 IAM Analysis Findings (class 2008): one per
//! identity the review flags, with the identity's activity
//! (`identity_activity_metrics`), its grants against its use
//! (`permission_analysis_results`) and the least-privilege suggestion. The
//! finding's uid is the identity's, so a later review updates it.

use super::live::{ReviewActivity, ReviewEvent, ReviewKind};
use super::review::{Entry, Flag, Inventory};
use crate::emit::ocsf::{user_type, OCSF_VERSION};
use serde_json::{json, Value};

const CLASS_UID: u32 = 2008;

/// Flags that make a finding (`new` alone is information, not a finding).
fn reportable(f: Flag) -> bool {
    !matches!(f, Flag::New)
}

fn title(f: Flag) -> &'static str {
    match f {
        Flag::Dormant => "dormant identity",
        Flag::NeverSeen => "granted identity never seen",
        Flag::New => "new identity",
        Flag::Unrotated => "credential not rotated",
        Flag::SharedCredential => "credential shared with another identity",
        Flag::ActionGrowth => "growing action set",
        Flag::UnusedGrants => "granted permissions never used",
    }
}

/// Medium when access is broader than use in a way an attacker profits
/// from (a shared or unrotated credential, an unused broad grant), Low
/// otherwise.
fn severity(e: &Entry) -> (u8, &'static str) {
    let broad_unused = e.grants.as_ref().is_some_and(|g| {
        g.unused
            .iter()
            .any(|u| u.grant.contains('*') || u.grant.starts_with("NotAction"))
    });
    if e.flags.contains(&Flag::SharedCredential)
        || e.flags.contains(&Flag::Unrotated)
        || broad_unused
    {
        (3, "Medium")
    } else {
        (2, "Low")
    }
}

/// The findings of a review, one per flagged identity, in identity order.
pub fn iam_analysis_findings(inv: &Inventory) -> Vec<Value> {
    inv.entries
        .iter()
        .filter(|e| e.flags.iter().copied().any(reportable))
        .map(|e| {
            let uid = identity_uid(&e.id, "");
            let flags: Vec<Flag> = e.flags.iter().copied().filter(|f| reportable(*f)).collect();
            let activity = Activity {
                id: 1,
                name: "Create",
                status: (1, "New"),
            };
            let record_uid = format!("{uid}:{}", inv.as_of_ms);
            finding(e, &flags, inv.as_of_ms, &uid, &record_uid, activity)
        })
        .collect()
}

/// A review finding of `warden run` (dormancy, unused grants), with the id
/// of its record: the same on every re-send of the same decision.
pub fn review_finding(ev: &ReviewEvent) -> (String, Value) {
    let uid = format!(
        "{}:{}",
        identity_uid(&ev.entry.id, ev.kind.as_str()),
        ev.episode
    );
    let flag = match ev.kind {
        ReviewKind::Dormant => Flag::Dormant,
        ReviewKind::UnusedGrants => Flag::UnusedGrants,
    };
    let activity = match ev.activity {
        ReviewActivity::Create => Activity {
            id: 1,
            name: "Create",
            status: (1, "New"),
        },
        ReviewActivity::Update => Activity {
            id: 2,
            name: "Update",
            status: (1, "New"),
        },
        ReviewActivity::Close => Activity {
            id: 3,
            name: "Close",
            status: (4, "Resolved"),
        },
    };
    let record_uid = format!("{uid}:{}", ev.seq);
    let mut v = finding(&ev.entry, &[flag], ev.time_ms, &uid, &record_uid, activity);
    v["metadata"]["log_name"] = json!("warden.review");
    if ev.activity == ReviewActivity::Close {
        let why = match ev.kind {
            ReviewKind::Dormant => "active again",
            ReviewKind::UnusedGrants => "every grant in use",
        };
        let message = format!("{}: {} resolved ({why})", ev.entry.id, title(flag));
        v["message"] = json!(message);
        v["finding_info"]["desc"] = json!(message);
    }
    (record_uid, v)
}

/// The finding uid of an identity (and review kind, "" for the offline
/// review's one finding per identity).
fn identity_uid(id: &str, kind: &str) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(id.as_bytes());
    if !kind.is_empty() {
        h.update(b"\0");
        h.update(kind.as_bytes());
    }
    format!("wdn-iam-{:032x}", h.digest128())
}

/// OCSF activity and status of a finding record.
#[derive(Clone, Copy)]
struct Activity {
    id: u32,
    name: &'static str,
    status: (u8, &'static str),
}

fn finding(
    e: &Entry,
    flags: &[Flag],
    time_ms: i64,
    uid: &str,
    record_uid: &str,
    activity: Activity,
) -> Value {
    let flags: Vec<&str> = flags.iter().copied().map(title).collect();
    let (severity_id, severity) = severity(e);
    let (type_id, type_name) = user_type(e.agent_type);
    let mut user = json!({"uid": e.id, "name": e.id, "type_id": type_id, "type": type_name});
    if let Some(t) = &e.tenant {
        user["account"] = json!({"uid": t});
    }
    let mut metrics = json!({});
    if let Some(f) = e.first_seen_ms {
        metrics["first_seen_time"] = json!(f);
    }
    if let Some(l) = e.last_seen_ms {
        metrics["last_seen_time"] = json!(l);
    }
    if let Some(c) = &e.credentials.oldest_in_use {
        metrics["programmatic_credentials"] = json!([{"uid": c}]);
    }
    let mut message = format!("{}: {}", e.id, flags.join(", "));
    let mut out = json!({
        "class_uid": CLASS_UID,
        "class_name": "IAM Analysis Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity.id,
        "activity_name": activity.name,
        "type_uid": CLASS_UID * 100 + activity.id,
        "type_name": format!("IAM Analysis Finding: {}", activity.name),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": activity.status.0,
        "status": activity.status.1,
        "time": time_ms,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "Warden", "vendor_name": "Warden", "version": env!("CARGO_PKG_VERSION"), "uid": "warden"},
            "uid": record_uid,
            "correlation_uid": uid,
            "log_name": "warden.inventory",
        },
        "user": user,
        "identity_activity_metrics": metrics,
        "finding_info": {
            "uid": uid,
            "title": format!("Access review: {}", flags.join(", ")),
            "types": ["Access Review"],
            "analytic": {"type_id": 1, "type": "Rule", "uid": "warden-inventory", "name": "warden access review", "version": env!("CARGO_PKG_VERSION")},
            "first_seen_time": e.first_seen_ms.unwrap_or(time_ms),
            "last_seen_time": e.last_seen_ms.unwrap_or(time_ms),
        },
        "unmapped": {"flags": e.flags, "calls": e.calls, "rotation_age_ms": e.credentials.rotation_age_ms},
    });
    if let Some(g) = &e.grants {
        let unused: Vec<&str> = g.unused.iter().map(|u| u.grant.as_str()).collect();
        out["permission_analysis_results"] = json!([{
            // The grants the finding is about: granted, and never used.
            "policy": {"name": "grants never used in the review window", "is_applied": true},
            "granted_privileges": unused,
            "analyzed_privileges_count": g.granted,
            "unused_privileges_count": unused.len(),
        }]);
        if !unused.is_empty() {
            message.push_str(&format!("; never used: {}", unused.join(", ")));
            out["remediation"] = json!({"desc": "Replace the identity's grants with the least-privilege suggestion (unmapped.least_privilege), which covers exactly its use in the review window."});
            out["unmapped"]["least_privilege"] = g.suggestion.clone();
        }
    }
    out["message"] = json!(message);
    out["finding_info"]["desc"] = json!(message);
    out
}
