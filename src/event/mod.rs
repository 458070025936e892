//! The canonical call event (`schemas/call-event.schema.json`): its decoded form,
//! the JSON decoder, and the Arrow column layout events travel in.

mod batch;
mod decode;
mod time;

pub use batch::{call_schema, CallBatchBuilder, CallColumns, CallRow};
pub use decode::{decode_line, DecodeError, CALL_EVENT_FIELDS};
pub use time::{format_rfc3339_ms, parse_rfc3339_ms};

use std::borrow::Cow;

/// Kind of principal. Part of the cohort key, so an LLM agent is compared with
/// LLM agents of its tenant and not with cron jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AgentType {
    AiAgent,
    ServiceAccount,
    ApiKey,
    Workload,
    Human,
    #[default]
    Unknown,
}

impl AgentType {
    pub const ALL: [AgentType; 6] = [
        AgentType::AiAgent,
        AgentType::ServiceAccount,
        AgentType::ApiKey,
        AgentType::Workload,
        AgentType::Human,
        AgentType::Unknown,
    ];

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

    pub fn parse(s: &str) -> Option<AgentType> {
        AgentType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Result of the call as the API reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Outcome {
    #[default]
    Success,
    Denied,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

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
    pub ts_ms: i64,
    pub agent_id: Cow<'a, str>,
    pub action: Cow<'a, str>,
    pub agent_type: AgentType,
    pub session_id: Option<Cow<'a, str>>,
    pub parent_id: Option<Cow<'a, str>>,
    pub tenant: Option<Cow<'a, str>>,
    pub resource: Option<Cow<'a, str>>,
    pub src_ip: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub event_id: Option<Cow<'a, str>>,
    pub outcome: Outcome,
    pub status: Option<i64>,
    pub latency_ms: Option<f64>,
    pub bytes_out: Option<u64>,
    pub bytes_in: Option<u64>,
    /// Ground truth (replay data only). `None` means benign. Detectors never see it.
    pub label: Option<Cow<'a, str>>,
    /// Unknown fields, re-serialised as one JSON object, passed through to evidence.
    pub extra: Option<String>,
}
