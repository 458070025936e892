//! Review results as OCSF 1.8.0 IAM Analysis Findings (class 2008): one per
//! identity the review flags, with the identity's activity
//! (`identity_activity_metrics`), its grants against its use
//! (`permission_analysis_results`) and the least-privilege suggestion. The
//! finding's uid is the identity's, so a later review updates it.

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
        .map(|e| finding(inv, e))
        .collect()
}

fn finding(inv: &Inventory, e: &Entry) -> Value {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(e.id.as_bytes());
    let uid = format!("wdn-iam-{:032x}", h.digest128());
    let flags: Vec<&str> = e
        .flags
        .iter()
        .copied()
        .filter(|f| reportable(*f))
        .map(title)
        .collect();
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
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + 1,
        "type_name": "IAM Analysis Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "time": inv.as_of_ms,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "Warden", "vendor_name": "Warden", "version": env!("CARGO_PKG_VERSION"), "uid": "warden"},
            "uid": format!("{uid}:{}", inv.as_of_ms),
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
            "first_seen_time": e.first_seen_ms.unwrap_or(inv.as_of_ms),
            "last_seen_time": e.last_seen_ms.unwrap_or(inv.as_of_ms),
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
