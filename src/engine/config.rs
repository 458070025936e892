//! The engine's settings: `[engine]` and `[detectors]` of `warden.toml`
//! (the file as a whole is `config::Config`).

use crate::decide::DecisionConfig;
use crate::signal::Weights;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
/// `[engine]`: how many agents are kept, their cohorts, the window size and
/// the archetype model.
pub struct EngineConfig {
    /// Most agents whose baselines are kept; past it an eighth is evicted,
    /// newcomers on probation first, by arrival order (scoring of new agents
    /// never stops).
    pub max_agents: usize,
    /// Fields that form an agent's cohort (its peers for rarity and cold start).
    pub cohort_keys: Vec<CohortKey>,
    /// Most cohorts kept. Cohort keys come from the calls (the tenant), so
    /// past this an agent of a new cohort joins its type's fallback cohort
    /// (`(overflow)|type`) instead of costing memory and checkpoints.
    pub max_cohorts: usize,
    /// Events per columnar window handed to the engine.
    pub batch_size: usize,
    /// Behaviour archetypes from `warden train` (a model file under
    /// `models/`): new agents are matched to one from their first call, and
    /// a settled agent drifting from its archetype is a signal. Unset: new
    /// agents start from their cohort's average.
    pub archetypes: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
/// A field that forms an agent's cohort.
pub enum CohortKey {
    /// The agent's tenant.
    Tenant,
    /// The agent's type.
    AgentType,
}

impl CohortKey {
    /// Writes the cohort key of `row` under `keys` into `out` (cleared
    /// first): the fields joined by `|`, `-` for a call without a tenant.
    pub(crate) fn write_key(keys: &[CohortKey], row: &crate::event::CallRow<'_>, out: &mut String) {
        out.clear();
        for (n, k) in keys.iter().enumerate() {
            if n > 0 {
                out.push('|');
            }
            match k {
                CohortKey::Tenant => out.push_str(row.tenant.unwrap_or("-")),
                CohortKey::AgentType => out.push_str(row.agent_type.as_str()),
            }
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_agents: 1_000_000,
            cohort_keys: vec![CohortKey::Tenant, CohortKey::AgentType],
            max_cohorts: 50_000,
            batch_size: 4096,
            archetypes: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
/// `[detectors]`: which actions count as sensitive, per-detector weights
/// and windows.
pub struct DetectorConfig {
    /// Case-insensitive substrings that make an action sensitive (credential,
    /// privilege, secret, destructive or data-export operations).
    pub sensitive_actions: Vec<String>,
    /// Multiplier on every detector's surprise (1.0 = as calibrated).
    pub weights: Weights,
    /// Seconds of the short distinct-count window (enumeration).
    pub distinct_window_seconds: u32,
    /// Minimum spread (natural-log units) assumed for rate baselines: a 2x
    /// swing is never more than ln 2 / this many standard deviations.
    pub rate_min_sd: f32,
    /// A team's own ATT&CK mappings, added to the shipped catalogue
    /// (`models/attack-catalogue-v1.json`); unset for none.
    pub attack_catalogue: Option<std::path::PathBuf>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        let s = [
            "iam:",
            "sts:AssumeRole",
            "secret",
            "kms:Decrypt",
            "ssm:GetParameter",
            "Delete",
            "Policy",
            "AccessKey",
            "PassRole",
            "LoginProfile",
            "Export",
            "admin",
            "shell",
            "exec",
            "SendExternal",
            "PostExternal",
            "ShareExternal",
            "impersonat",
        ];
        DetectorConfig {
            sensitive_actions: s.iter().map(|x| x.to_string()).collect(),
            weights: Weights::default(),
            distinct_window_seconds: 300,
            rate_min_sd: 0.35,
            attack_catalogue: None,
        }
    }
}

/// What an engine is built from: its own sections of `warden.toml` and the
/// decision rules it applies. `config::Config` converts into this, so
/// `Engine::new(config)` takes either.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DetectionConfig {
    /// `[engine]`: table size, cohorts, windows, archetype model.
    pub engine: EngineConfig,
    /// `[detectors]`: sensitive actions, weights, windows.
    pub detectors: DetectorConfig,
    /// `[decisions]`: thresholds and episode rules.
    pub decisions: DecisionConfig,
}
