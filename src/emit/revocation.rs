//! Revocation events. Until the signed SSF/CAEP Security Event Token form
//! lands, a revocation is a plain JSON object naming the agent, the session,
//! the reason and the finding that caused it.

use crate::decide::Revocation;
use crate::event::format_rfc3339_ms;
use serde_json::{json, Value};

pub fn revocation_event(r: &Revocation) -> Value {
    json!({
        "type": "warden.revocation.v1",
        "id": r.uid,
        "time": r.time_ms,
        "time_rfc3339": format_rfc3339_ms(r.time_ms),
        "agent_id": r.agent_id,
        "tenant": r.tenant,
        "session_id": r.session_id,
        "scope": if r.session_id.is_some() { "session" } else { "credential" },
        "finding_uid": r.finding_uid,
        "risk_score": r.risk,
        "reason": r.reason,
        "shadow": r.shadow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agent_session_reason_and_finding() {
        let v = revocation_event(&Revocation {
            uid: "wdn-r-1".into(),
            finding_uid: "wdn-f-1".into(),
            time_ms: 1_000,
            agent_id: "a".into(),
            tenant: None,
            session_id: Some("s".into()),
            risk: 90,
            reason: "risk 90".into(),
            shadow: false,
        });
        assert_eq!(v["agent_id"], "a");
        assert_eq!(v["session_id"], "s");
        assert_eq!(v["scope"], "session");
        assert_eq!(v["finding_uid"], "wdn-f-1");
        assert_eq!(v["reason"], "risk 90");
    }
}
