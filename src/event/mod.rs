//! The canonical call event (`schemas/call-event.schema.json`): its decoded form,
//! the JSON decoder, and the Arrow column layout events travel in.

mod batch;
mod cursor;
mod decode;
mod scan;
pub(crate) use scan::assert_agrees_with_serde;
mod text;
mod time;

pub(crate) use batch::call_schema;
pub use batch::{CallBatchBuilder, CallColumns, CallRow};
pub(crate) use cursor::{Cursor, Value as JsonValue};
pub use decode::{DecodeError, CALL_EVENT_FIELDS};
pub(crate) use text::{echo, prefix};
pub use time::now_ms;
pub use time::{
    format_rfc3339_ms, parse_duration_ms, parse_rfc3339_ms, DAY_MS, HOUR_MS, MINUTE_MS,
};

use std::borrow::Cow;

/// Decodes one JSON object. `line_no` only labels errors. The common shape
/// of a line is scanned in one pass (`scan`); anything else, and every
/// error, is decoded by serde_json (`decode`), which names the field and
/// the column at fault.
pub fn decode_line(line: &str, line_no: u64) -> Result<CallEvent<'_>, DecodeError> {
    match scan::decode_plain(line) {
        Some(ev) => Ok(ev),
        None => decode::decode_with_serde(line, line_no),
    }
}

/// Kind of principal. Part of the cohort key, so an LLM agent is compared with
/// LLM agents of its tenant and not with cron jobs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum AgentType {
    /// An LLM-driven agent acting with its own credential.
    AiAgent,
    /// A service account (cloud or Kubernetes).
    ServiceAccount,
    /// A long-lived API key.
    ApiKey,
    /// A workload identity (a pod, a function, a VM role).
    Workload,
    /// A person: kept so mixed logs can be replayed, scored like the rest.
    Human,
    #[default]
    /// The source did not say.
    Unknown,
}

impl AgentType {
    /// Every kind, in the order of the schema's enum.
    pub const ALL: [AgentType; 6] = [
        AgentType::AiAgent,
        AgentType::ServiceAccount,
        AgentType::ApiKey,
        AgentType::Workload,
        AgentType::Human,
        AgentType::Unknown,
    ];

    /// The schema's name for it (`ai_agent`, `service_account`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentType::AiAgent => "ai_agent",
            AgentType::ServiceAccount => "service_account",
            AgentType::ApiKey => "api_key",
            AgentType::Workload => "workload",
            AgentType::Human => "human",
            AgentType::Unknown => "unknown",
        }
    }

    /// The kind named `s` in the schema's spelling, if any.
    pub fn parse(s: &str) -> Option<AgentType> {
        AgentType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Result of the call as the API reported it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum Outcome {
    #[default]
    /// The call did what it asked.
    Success,
    /// The call was refused for lack of permission (401/403, AccessDenied).
    Denied,
    /// The call failed for another reason.
    Error,
}

impl Outcome {
    /// The schema's name for it (`success`, `denied`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    /// The outcome named `s` in the schema's spelling, if any.
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "success" => Some(Outcome::Success),
            "denied" => Some(Outcome::Denied),
            "error" => Some(Outcome::Error),
            _ => None,
        }
    }
}

/// One decoded call event. Strings borrow from the input line when they carry
/// no escapes, so decoding does not allocate per field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallEvent<'a> {
    /// When the call was made, in ms since the Unix epoch (UTC).
    pub ts_ms: i64,
    /// The non-human identity that made the call.
    pub agent_id: Cow<'a, str>,
    /// The API action called (`s3:GetObject`, `tools/call:search`, ...).
    pub action: Cow<'a, str>,
    /// What kind of identity made it.
    pub agent_type: AgentType,
    /// The session or token the call was made with.
    pub session_id: Option<Cow<'a, str>>,
    /// The identity this one acted for, when delegated.
    pub parent_id: Option<Cow<'a, str>>,
    /// The tenant (account, project, namespace owner) it belongs to.
    pub tenant: Option<Cow<'a, str>>,
    /// The resource acted on.
    pub resource: Option<Cow<'a, str>>,
    /// The caller's IP address.
    pub src_ip: Option<Cow<'a, str>>,
    /// The caller's user agent.
    pub user_agent: Option<Cow<'a, str>>,
    /// The source's id for the call, kept as evidence.
    pub event_id: Option<Cow<'a, str>>,
    /// Whether the call succeeded, was denied or failed.
    pub outcome: Outcome,
    /// The protocol status code, when there is one.
    pub status: Option<i64>,
    /// How long the call took, in ms.
    pub latency_ms: Option<f64>,
    /// Bytes returned to the caller (the schema's `bytes_out`: what a
    /// read or download sent back, as CloudTrail's `bytesTransferredOut`).
    pub bytes_out: Option<u64>,
    /// Bytes sent by the caller.
    pub bytes_in: Option<u64>,
    /// Ground truth (replay data only). `None` means benign. Detectors never see it.
    pub label: Option<Cow<'a, str>>,
    /// Unknown fields, re-serialised as one JSON object, passed through to evidence.
    pub extra: Option<String>,
}

impl CallEvent<'_> {
    /// An owned copy (for events that outlive their input buffer).
    pub fn into_owned(self) -> CallEvent<'static> {
        let own = |c: Option<Cow<'_, str>>| c.map(|s| Cow::Owned(s.into_owned()));
        CallEvent {
            ts_ms: self.ts_ms,
            agent_id: Cow::Owned(self.agent_id.into_owned()),
            action: Cow::Owned(self.action.into_owned()),
            agent_type: self.agent_type,
            session_id: own(self.session_id),
            parent_id: own(self.parent_id),
            tenant: own(self.tenant),
            resource: own(self.resource),
            src_ip: own(self.src_ip),
            user_agent: own(self.user_agent),
            event_id: own(self.event_id),
            outcome: self.outcome,
            status: self.status,
            latency_ms: self.latency_ms,
            bytes_out: self.bytes_out,
            bytes_in: self.bytes_in,
            label: own(self.label),
            extra: self.extra,
        }
    }

    /// The event as one canonical JSON object (`schemas/call-event.schema.json`);
    /// pass-through fields are written back at top level.
    pub fn to_json(&self) -> String {
        let mut m = serde_json::Map::new();
        m.insert("ts".into(), format_rfc3339_ms(self.ts_ms).into());
        m.insert("agent_id".into(), self.agent_id.as_ref().into());
        m.insert("action".into(), self.action.as_ref().into());
        m.insert("agent_type".into(), self.agent_type.as_str().into());
        for (k, v) in [
            ("session_id", &self.session_id),
            ("parent_id", &self.parent_id),
            ("tenant", &self.tenant),
            ("resource", &self.resource),
            ("src_ip", &self.src_ip),
            ("user_agent", &self.user_agent),
            ("event_id", &self.event_id),
            ("label", &self.label),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.as_ref().into());
            }
        }
        m.insert("outcome".into(), self.outcome.as_str().into());
        if let Some(s) = self.status {
            m.insert("status".into(), s.into());
        }
        if let Some(l) = self.latency_ms {
            m.insert("latency_ms".into(), l.into());
        }
        if let Some(b) = self.bytes_out {
            m.insert("bytes_out".into(), b.into());
        }
        if let Some(b) = self.bytes_in {
            m.insert("bytes_in".into(), b.into());
        }
        if let Some(serde_json::Value::Object(extra)) = self
            .extra
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok())
        {
            for (k, v) in extra {
                m.entry(k).or_insert(v);
            }
        }
        serde_json::Value::Object(m).to_string()
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn to_json_round_trips_through_the_decoder() {
        let line = r#"{"ts":"2026-11-20T10:00:00.123Z","agent_id":"a","action":"s3:GetObject","agent_type":"workload","session_id":"s","outcome":"denied","status":403,"bytes_out":7,"label":"x","region":"eu"}"#;
        let ev = decode_line(line, 1).unwrap();
        let again = ev.to_json();
        assert_eq!(decode_line(&again, 1).unwrap(), ev.clone().into_owned());
        assert!(again.contains("\"region\":\"eu\""));
    }
}
