//! `[[sinks]]` in warden.toml: where alerts and revocations go besides
//! Kafka. One list; each entry names its kind (`type = "webhook"`), may
//! appear more than once, and has its own severity route and delivery
//! settings. Secrets are never in the file: each sink names the environment
//! variable that holds one.
//!
//! This file holds what every kind shares (severities, buffering and
//! retries); each kind keeps its own config next to its code (`hec.rs`,
//! `webhook.rs`, `syslog.rs`, `ssf.rs`), and `SinkConfig` in `mod.rs` lists
//! the kinds.

use serde::{Deserialize, Serialize};

/// Looks up a secret by environment variable name.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// OCSF severities a sink receives; a record goes to every sink whose list
/// holds its `severity_id`.
pub use crate::decide::Severity;

/// What a sink does when its buffer is full.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Drop the new record, log it with its id and count it
    /// (`warden_sink_dropped_total{reason="buffer_full"}`). Detection and
    /// revocation never wait for a SIEM; the Kafka alerts topic keeps the
    /// record.
    DropNewest,
    /// Wait for room: nothing is dropped, but a sink that stays down stalls
    /// scoring once its buffer is full.
    Block,
}

/// Buffering and retries, the same for every sink.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Records queued for the sink (not yet delivered) at most.
    pub buffer: usize,
    /// What happens when the buffer is full.
    pub when_full: WhenFull,
    /// First retry after this long; doubled per attempt (with jitter) up to
    /// `retry_max_ms`.
    pub retry_initial_ms: u64,
    /// Longest wait between retries.
    pub retry_max_ms: u64,
    /// A record is retried until this long after it was handed over, then
    /// dropped, logged and counted
    /// (`reason="retries_exhausted"`). Records delivered within this window
    /// are never sent again, even if the pipeline hands them over twice.
    pub retry_for_seconds: u64,
    /// Per request (HTTP) or per connection attempt and write (syslog).
    pub timeout_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            buffer: 10_000,
            when_full: WhenFull::DropNewest,
            retry_initial_ms: 250,
            retry_max_ms: 30_000,
            retry_for_seconds: 600,
            timeout_ms: 10_000,
        }
    }
}

pub(crate) fn all_severities() -> Vec<Severity> {
    Severity::ALL.to_vec()
}
