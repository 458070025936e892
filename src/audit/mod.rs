//! The tamper-evident decision log: every output Warden emits (findings,
//! remediations, revocations, review findings) and every configuration it
//! ran with, as an append-only chain of JSON lines. Each line carries the
//! SHA-256 of the line before it; every so many lines a checkpoint signs the
//! chain's head with the SET signing key (a compact JWS of its own `typ`),
//! as CloudTrail's digest files sign its log files. Changing, removing,
//! inserting or reordering any line breaks the chain at that line, and
//! forging the chain anew needs the signing key.
//!
//! log (append, checkpoint) → verify (the chain, each checkpoint's
//! signature, and the first line that is not what it should be).

mod log;
mod verify;

pub use log::{AuditLog, AuditSummary};
pub use verify::{verify, Tampered, Verified};

use serde::{Deserialize, Serialize};

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// `typ` of a checkpoint's JWS (never a SET's, so one cannot pass for the other).
pub const CHECKPOINT_TYP: &str = "warden-audit-checkpoint+jwt";
/// `kind` of a checkpoint line.
pub const KIND_CHECKPOINT: &str = "dev.warden.audit.checkpoint";
/// `kind` of the line recording the configuration a run used.
pub const KIND_CONFIG: &str = "dev.warden.config";
/// `kind` of the line recording the suppressions put in force (the SHA-256
/// of the set as a suppressions file sorted by id would hold it).
pub const KIND_SUPPRESSIONS: &str = "dev.warden.suppressions";
/// `kind` of the line recording the guardrail policies put in force (the
/// SHA-256 of the policy files and identities, `PolicySet::digest`), at
/// start and at every reload.
pub const KIND_POLICIES: &str = "dev.warden.policies";

/// One line of the log. Outputs are named by their CloudEvents type
/// (`io.ocsf.detection_finding.create`, the CAEP event URI of a SET, ...),
/// their id (`ce_id`: OCSF `metadata.uid` or the SET's `jti`), subject and
/// the SHA-256 of their bytes as written to the alerts and revocations
/// files or topics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Position in the log, from 0.
    pub seq: u64,
    /// SHA-256 (hex) of the previous line's bytes; `GENESIS` for the first.
    pub prev: String,
    /// What is recorded.
    pub kind: String,
    /// Event time of a decision; the wall clock for checkpoints and config.
    pub time_ms: i64,
    /// The output's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The identity it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// SHA-256 (hex) of the output's bytes, or of the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// A checkpoint's compact JWS over `{iss, iat, time_ms, log, seq, head}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut s = String::with_capacity(64);
    for b in d.as_ref() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Why the log could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Writing the log failed.
    #[error("writing the decision log: {0}")]
    Io(#[from] std::io::Error),
    /// Signing a checkpoint failed.
    #[error("signing a decision log checkpoint: {0}")]
    Sign(#[from] crate::emit::set::SetError),
}

impl AuditError {
    /// As a destination's error, for the outputs fan-out.
    pub fn into_sink(self) -> crate::emit::SinkError {
        crate::emit::SinkError::Destination {
            destination: "decision log",
            message: self.to_string(),
        }
    }
}
