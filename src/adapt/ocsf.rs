//! OCSF API Activity (class 6003) → call events, as security lakes store them.

use super::{field_error, lenient, lenient_i64, lenient_str, AdaptError};

/// An array of objects; anything else reads as empty.
fn lenient_seq<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let raw: Option<&'de serde_json::value::RawValue> = Option::deserialize(d)?;
    Ok(raw
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default())
}
use crate::event::{AgentType, CallEvent, Outcome};
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct ApiActivity<'a> {
    #[serde(default, deserialize_with = "lenient_i64")]
    class_uid: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    time: Option<i64>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    actor: Option<Actor<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    api: Option<Api<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient_seq")]
    resources: Vec<Named<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    src_endpoint: Option<Endpoint<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    http_request: Option<HttpRequest<'a>>,
    #[serde(default, deserialize_with = "lenient_i64")]
    status_id: Option<i64>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    status: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    status_code: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    metadata: Option<Metadata<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    cloud: Option<Cloud<'a>>,
}

#[derive(Deserialize)]
struct Actor<'a> {
    #[serde(default, borrow, deserialize_with = "lenient")]
    user: Option<OcsfUser<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    session: Option<Named<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    invoked_by: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OcsfUser<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    uid: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_i64")]
    type_id: Option<i64>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    credential_uid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    uid: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Api<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    operation: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    service: Option<Named<'a>>,
}

#[derive(Deserialize)]
struct Endpoint<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    ip: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    hostname: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct HttpRequest<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    user_agent: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    uid: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    tenant_uid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Cloud<'a> {
    #[serde(default, borrow, deserialize_with = "lenient")]
    account: Option<Named<'a>>,
}

pub fn map(raw: &str, line: u64) -> Result<CallEvent<'_>, AdaptError> {
    let a: ApiActivity = serde_json::from_str(raw)
        .map_err(|e| AdaptError::from_json::<ApiActivity>(line, raw, "OCSF API Activity", &e))?;
    if a.class_uid != Some(6003) {
        return Err(field_error(
            line,
            "class_uid",
            &format!("{:?} is not API Activity (6003)", a.class_uid),
        ));
    }
    let ts = a.time.ok_or_else(|| field_error(line, "time", "missing"))?;
    let user = a.actor.as_ref().and_then(|x| x.user.as_ref());
    let agent = user
        .and_then(|u| u.uid.clone().or_else(|| u.name.clone()))
        .ok_or_else(|| field_error(line, "actor.user.uid", "missing (and no actor.user.name)"))?;
    let op = a
        .api
        .as_ref()
        .and_then(|x| x.operation.as_deref())
        .ok_or_else(|| field_error(line, "api.operation", "missing"))?;
    let action = match a
        .api
        .as_ref()
        .and_then(|x| x.service.as_ref())
        .and_then(|s| s.name.as_deref())
    {
        Some(svc) => format!("{}:{op}", svc.strip_suffix(".amazonaws.com").unwrap_or(svc)),
        None => op.to_string(),
    };
    let denied = [a.status.as_deref(), a.status_code.as_deref()]
        .iter()
        .flatten()
        .any(|s| {
            let s = s.to_ascii_lowercase();
            s.contains("denied")
                || s.contains("unauthorized")
                || s.contains("forbidden")
                || s == "403"
                || s == "401"
        });
    let outcome = match a.status_id {
        Some(2) if denied => Outcome::Denied,
        Some(2) => Outcome::Error,
        _ if denied => Outcome::Denied,
        _ => Outcome::Success,
    };
    let agent_type = match user.and_then(|u| u.type_id) {
        Some(1) | Some(2) => AgentType::Human,
        Some(3) | Some(4) => AgentType::ServiceAccount,
        _ => AgentType::Unknown,
    };
    let session = a
        .actor
        .as_ref()
        .and_then(|x| x.session.as_ref())
        .and_then(|s| s.uid.clone())
        .or_else(|| user.and_then(|u| u.credential_uid.clone()));
    let resource = a
        .resources
        .first()
        .and_then(|r| r.uid.clone().or_else(|| r.name.clone()));
    Ok(CallEvent {
        ts_ms: ts,
        agent_id: agent,
        action: Cow::Owned(action),
        agent_type,
        session_id: session,
        parent_id: a.actor.as_ref().and_then(|x| x.invoked_by.clone()),
        tenant: a
            .metadata
            .as_ref()
            .and_then(|m| m.tenant_uid.clone())
            .or_else(|| {
                a.cloud
                    .as_ref()
                    .and_then(|c| c.account.as_ref())
                    .and_then(|x| x.uid.clone())
            }),
        resource,
        src_ip: a
            .src_endpoint
            .as_ref()
            .and_then(|e| e.ip.clone().or_else(|| e.hostname.clone())),
        user_agent: a.http_request.as_ref().and_then(|h| h.user_agent.clone()),
        event_id: a.metadata.as_ref().and_then(|m| m.uid.clone()),
        outcome,
        extra: Some(r#"{"source_format":"ocsf"}"#.to_string()),
        ..CallEvent::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_reference_api_activity() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/examples/api_full.json"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("skipped: {path} not present");
            return;
        };
        let ev = map(&text, 1).unwrap();
        assert!(!ev.agent_id.is_empty());
        assert!(!ev.action.is_empty());
        assert!(ev.ts_ms > 0);
    }

    #[test]
    fn denied_status_and_missing_fields() {
        let raw = r#"{"class_uid":6003,"time":5,"actor":{"user":{"uid":"svc-1","type_id":4},"session":{"uid":"s"}},"api":{"operation":"GetSecretValue","service":{"name":"secretsmanager.amazonaws.com"}},"status_id":2,"status":"Failure","status_code":"AccessDenied","src_endpoint":{"ip":"1.2.3.4"}}"#;
        let ev = map(raw, 1).unwrap();
        assert_eq!(
            (ev.agent_id.as_ref(), ev.action.as_ref()),
            ("svc-1", "secretsmanager:GetSecretValue")
        );
        assert_eq!(ev.outcome, Outcome::Denied);
        assert_eq!(ev.agent_type, AgentType::ServiceAccount);
        assert_eq!(ev.session_id.as_deref(), Some("s"));
        let e = map(r#"{"class_uid":6003,"time":5,"api":{"operation":"x"}}"#, 2).unwrap_err();
        assert_eq!(e.0.field.as_deref(), Some("actor.user.uid"));
        assert!(map(r#"{"class_uid":2004,"time":5}"#, 2).is_err());
    }
}
