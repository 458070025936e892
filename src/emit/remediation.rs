//! Every revocation, recorded for the SOC as an OCSF 1.8.0 Remediation
//! Activity (class 7001) linked to its finding: the revocation itself goes
//! to the identity provider; this record says, in the SIEM's own schema,
//! that Warden asked for it, against whom, and why.

use super::ocsf::{severity, OCSF_VERSION};
use crate::decide::Revocation;
use serde_json::{json, Value};

/// The Remediation Activity's own id (`metadata.uid`), derived from the
/// revocation's so it is as stable.
pub(crate) fn record_uid(r: &Revocation) -> String {
    format!("{}:remediation", r.uid)
}

/// A revocation as an OCSF 1.8.0 Remediation Activity (Evict).
pub fn remediation_activity(r: &Revocation) -> Value {
    let (severity_id, severity_name, _, _) = severity(r.risk);
    // D3FEND: Evict by terminating the session, or by revoking the credential.
    let (technique, technique_uid, target) = match &r.session_id {
        Some(s) => ("Session Termination", "D3-ST", format!("session {s}")),
        None => ("Credential Revoking", "D3-CR", "credential".to_string()),
    };
    // Warden requests the revocation; the identity provider enforces it.
    // A shadow decision is recorded but never sent for enforcement.
    let status = if r.shadow {
        "Shadow: decided, not enforced"
    } else {
        "Requested"
    };
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "product": {"name": "Warden", "vendor_name": "Warden", "version": env!("CARGO_PKG_VERSION"), "uid": "warden"},
        "uid": record_uid(r),
        "correlation_uid": r.finding_uid,
        "log_name": "warden.remediations",
    });
    if let Some(t) = &r.tenant {
        metadata["tenant_uid"] = json!(t);
    }
    json!({
        "class_uid": 7001,
        "class_name": "Remediation Activity",
        "category_uid": 7,
        "category_name": "Remediation",
        "activity_id": 2,
        "activity_name": "Evict",
        "type_uid": 700102,
        "type_name": "Remediation Activity: Evict",
        "severity_id": severity_id,
        "severity": severity_name,
        "time": r.time_ms,
        "status_id": 99,
        "status": status,
        "message": format!(
            "{} of agent {} {} (finding {}): {}",
            technique,
            r.agent_id,
            if r.shadow { format!("{target}, shadow mode") } else { target },
            r.finding_uid,
            r.reason
        ),
        "command_uid": r.uid,
        "countermeasures": [{
            "d3f_tactic": {"name": "Evict", "uid": "d3f:Evict"},
            "d3f_technique": {"name": technique, "uid": technique_uid},
        }],
        "metadata": metadata,
        "unmapped": {
            "agent_id": r.agent_id,
            "session_id": r.session_id,
            "finding_uid": r.finding_uid,
            "risk_score": r.risk,
            "shadow": r.shadow,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revocation(session: Option<&str>, shadow: bool) -> Revocation {
        Revocation {
            uid: "wdn-r-1".into(),
            finding_uid: "wdn-f-1".into(),
            time_ms: 1_795_132_800_000,
            agent_id: "svc-a".into(),
            agent_type: crate::event::AgentType::ServiceAccount,
            tenant: Some("acme".into()),
            session_id: session.map(String::from),
            risk: 92,
            reason: "risk 92: novelty".into(),
            shadow,
        }
    }

    #[test]
    fn links_the_finding_and_names_the_countermeasure() {
        let v = remediation_activity(&revocation(Some("tok-1"), false));
        assert_eq!(v["class_uid"], 7001);
        assert_eq!(v["type_uid"], 700102);
        assert_eq!(v["command_uid"], "wdn-r-1");
        assert_eq!(v["metadata"]["correlation_uid"], "wdn-f-1");
        assert_eq!(v["metadata"]["tenant_uid"], "acme");
        assert_eq!(v["countermeasures"][0]["d3f_technique"]["uid"], "D3-ST");
        assert_eq!(v["severity_id"], 5);
        assert!(v["message"].as_str().unwrap().contains("session tok-1"));
        let c = remediation_activity(&revocation(None, true));
        assert_eq!(c["countermeasures"][0]["d3f_technique"]["uid"], "D3-CR");
        assert!(c["status"].as_str().unwrap().starts_with("Shadow"));
    }
}
