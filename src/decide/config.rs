//! `[decisions]` of `warden.toml`: thresholds and episode rules.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
/// What happens when a finding is confident enough to revoke.
pub enum RevokeMode {
    /// Emit revocations.
    Enforce,
    /// Decide revocations but mark them as shadow events (watch before enforcing).
    Shadow,
    /// Never decide revocations.
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
/// `[decisions]`: when a finding is raised and a credential revoked.
pub struct DecisionConfig {
    /// Risk (0-100) at which a finding is raised.
    pub finding_threshold: f32,
    /// Risk at which a credential is revoked, when a high-confidence signal agrees.
    pub revoke_threshold: f32,
    /// Whether revocations are enforced, shadowed or never decided.
    pub revoke: RevokeMode,
    /// An agent's episode ends after this long without a finding-level event.
    pub episode_quiet_minutes: u32,
    /// A finding-level call this long after an episode's Close reopens its
    /// finding (an incident's tail is not a new incident); 0: never.
    pub episode_reopen_minutes: u32,
    /// An open finding is updated only when risk rises by this much ...
    pub update_min_risk_delta: f32,
    /// ... or a new detector contributes, and at most this often.
    pub update_min_interval_seconds: u32,
    /// Analysts' suppressions (`warden suppress add` writes them), one
    /// JSON object per line; none when unset. `warden run` also takes them
    /// from `[stream] suppressions_topic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressions_file: Option<std::path::PathBuf>,
    /// Guardrail policy files (Cedar `forbid` policies, `decide::policy`),
    /// evaluated on every call; none when empty. `warden run` reloads them
    /// on SIGHUP and when a file changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_files: Vec<std::path::PathBuf>,
    /// What policies know of each identity beyond its calls (home tenant,
    /// owner, network, end of life), as Cedar entities JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities_file: Option<std::path::PathBuf>,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            finding_threshold: 60.0,
            revoke_threshold: 85.0,
            revoke: RevokeMode::Enforce,
            episode_quiet_minutes: 30,
            episode_reopen_minutes: 30,
            update_min_risk_delta: 5.0,
            update_min_interval_seconds: 60,
            suppressions_file: None,
            policy_files: Vec::new(),
            identities_file: None,
        }
    }
}
