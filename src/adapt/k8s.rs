//! Kubernetes API-server audit events (`audit.k8s.io/v1`, also `v1beta1`) →
//! call events. Service accounts (`system:serviceaccount:ns:name`) are the
//! classic non-human identity here.

use super::{field_error, lenient, lenient_i64, lenient_str, lenient_strs, AdaptError};
use crate::event::{parse_rfc3339_ms, AgentType, CallEvent, Outcome};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    audit_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    stage: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    verb: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    user: Option<User<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    impersonated_user: Option<User<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient_strs")]
    source_i_ps: Vec<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    object_ref: Option<ObjectRef<'a>>,
    #[serde(default, deserialize_with = "lenient")]
    response_status: Option<Status>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    request_received_timestamp: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    stage_timestamp: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    timestamp: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    username: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient_extra")]
    extra: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRef<'a> {
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    resource: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    namespace: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    subresource: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "lenient_str")]
    api_group: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default, deserialize_with = "lenient_i64")]
    code: Option<i64>,
}

fn lenient_extra<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    Ok(lenient(d)?.unwrap_or_default())
}

/// `Ok(None)`: a record of another stage than `stage` (not an error).
pub fn map<'a>(raw: &'a str, line: u64, stage: &str) -> Result<Option<CallEvent<'a>>, AdaptError> {
    let ev: Event = serde_json::from_str(raw)
        .map_err(|e| AdaptError::from_json::<Event>(line, raw, "Kubernetes audit event", &e))?;
    if let Some(s) = ev.stage.as_deref() {
        if s != stage {
            return Ok(None);
        }
    }
    let ts_text = ev
        .stage_timestamp
        .as_deref()
        .or(ev.request_received_timestamp.as_deref())
        .or(ev.timestamp.as_deref())
        .ok_or_else(|| {
            field_error(
                line,
                "stageTimestamp",
                "missing (and no requestReceivedTimestamp)",
            )
        })?;
    let ts = parse_rfc3339_ms(ts_text).ok_or_else(|| {
        field_error(
            line,
            "stageTimestamp",
            &format!("`{ts_text}` is not an RFC 3339 date-time"),
        )
    })?;
    let user = ev
        .user
        .as_ref()
        .and_then(|u| u.username.as_deref())
        .ok_or_else(|| field_error(line, "user.username", "missing"))?;
    let verb = ev
        .verb
        .as_deref()
        .ok_or_else(|| field_error(line, "verb", "missing"))?;
    let (agent_type, tenant) = if let Some(rest) = user.strip_prefix("system:serviceaccount:") {
        (
            AgentType::ServiceAccount,
            rest.split(':').next().map(|ns| Cow::Owned(ns.to_string())),
        )
    } else if user.starts_with("system:node:")
        || user.starts_with("system:kube-")
        || user == "system:apiserver"
    {
        (AgentType::Workload, None)
    } else if user == "system:anonymous" {
        (AgentType::Unknown, None)
    } else {
        (AgentType::Human, None)
    };
    let action = match &ev.object_ref {
        Some(o) => {
            let res = o.resource.as_deref().unwrap_or("?");
            let group = o
                .api_group
                .as_deref()
                .filter(|g| !g.is_empty())
                .map(|g| format!("{g}/"))
                .unwrap_or_default();
            match o.subresource.as_deref() {
                Some(sub) => format!("{verb} {group}{res}/{sub}"),
                None => format!("{verb} {group}{res}"),
            }
        }
        None => format!("{verb} {}", ev.request_uri.as_deref().unwrap_or("/")),
    };
    let resource = ev.object_ref.as_ref().map(|o| {
        let res = o.resource.as_deref().unwrap_or("?");
        match (o.namespace.as_deref(), o.name.as_deref()) {
            (Some(ns), Some(n)) => format!("{ns}/{res}/{n}"),
            (Some(ns), None) => format!("{ns}/{res}"),
            (None, Some(n)) => format!("{res}/{n}"),
            (None, None) => res.to_string(),
        }
    });
    let code = ev.response_status.as_ref().and_then(|s| s.code);
    let outcome = match code {
        Some(401 | 403) => Outcome::Denied,
        Some(c) if c >= 400 => Outcome::Error,
        _ => Outcome::Success,
    };
    let credential = ev.user.as_ref().and_then(|u| {
        [
            "authentication.kubernetes.io/credential-id",
            "authentication.kubernetes.io/pod-uid",
        ]
        .iter()
        .find_map(|k| u.extra.get(*k).and_then(|v| v.first()).cloned())
    });
    let mut extra = serde_json::Map::new();
    extra.insert("source_format".into(), "k8s-audit".into());
    if let Some(uri) = &ev.request_uri {
        extra.insert("requestURI".into(), uri.as_ref().into());
    }
    Ok(Some(CallEvent {
        ts_ms: ts,
        agent_id: Cow::Owned(user.to_string()),
        action: Cow::Owned(action),
        agent_type,
        session_id: credential.map(Cow::Owned),
        parent_id: ev
            .impersonated_user
            .as_ref()
            .and_then(|u| u.username.clone()),
        tenant,
        resource: resource.map(Cow::Owned),
        src_ip: ev.source_i_ps.first().cloned(),
        user_agent: ev.user_agent.clone(),
        event_id: ev.audit_id.clone(),
        outcome,
        status: code,
        extra: Some(serde_json::Value::Object(extra).to_string()),
        ..CallEvent::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_exec_with_impersonation() {
        let raw = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/pods/web-0/exec","verb":"create","user":{"username":"system:serviceaccount:ci:deployer","extra":{"authentication.kubernetes.io/credential-id":["JTI=abc"]}},"impersonatedUser":{"username":"admin"},"sourceIPs":["10.0.0.7"],"userAgent":"kubectl/v1.29","objectRef":{"resource":"pods","namespace":"prod","name":"web-0","subresource":"exec"},"responseStatus":{"code":403},"stageTimestamp":"2024-01-01T00:00:00.5Z"}"#;
        let ev = map(raw, 1, "ResponseComplete").unwrap().unwrap();
        assert_eq!(ev.agent_id, "system:serviceaccount:ci:deployer");
        assert_eq!(ev.agent_type, AgentType::ServiceAccount);
        assert_eq!(ev.tenant.as_deref(), Some("ci"));
        assert_eq!(ev.action, "create pods/exec");
        assert_eq!(ev.resource.as_deref(), Some("prod/pods/web-0"));
        assert_eq!(ev.parent_id.as_deref(), Some("admin"));
        assert_eq!(ev.session_id.as_deref(), Some("JTI=abc"));
        assert_eq!(ev.outcome, Outcome::Denied);
        assert_eq!(ev.ts_ms, 1_704_067_200_500);
    }

    #[test]
    fn other_stages_are_skipped_and_missing_fields_named() {
        let raw = r#"{"stage":"RequestReceived","verb":"get","user":{"username":"u"},"stageTimestamp":"2024-01-01T00:00:00Z"}"#;
        assert!(map(raw, 1, "ResponseComplete").unwrap().is_none());
        let e = map(
            r#"{"verb":"get","stageTimestamp":"2024-01-01T00:00:00Z"}"#,
            4,
            "ResponseComplete",
        )
        .unwrap_err();
        assert_eq!(e.0.field.as_deref(), Some("user.username"));
    }
}
