//! `warden.toml`: every threshold, window and cohort key, with documented
//! defaults. Config is plain data; the engine reads it once at start-up.

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Format version of this file; only 1 exists.
    pub version: u32,
    pub input: InputConfig,
    pub engine: EngineConfig,
    pub decisions: DecisionConfig,
    pub detectors: DetectorConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// auto (detect per record), native, cloudtrail, k8s-audit or ocsf.
    pub format: crate::adapt::Format,
    /// Kubernetes audit stage that is scored; other stages are skipped.
    pub k8s_stage: String,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            format: crate::adapt::Format::Auto,
            k8s_stage: "ResponseComplete".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Most agents whose baselines are kept; past it the least recently seen
    /// are evicted (scoring of new agents never stops).
    pub max_agents: usize,
    /// Fields that form an agent's cohort (its peers for rarity and cold start).
    pub cohort_keys: Vec<CohortKey>,
    /// Events per columnar window handed to the engine.
    pub batch_size: usize,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CohortKey {
    Tenant,
    AgentType,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
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
pub struct DecisionConfig {
    /// Risk (0-100) at which a finding is raised.
    pub finding_threshold: f32,
    /// Risk at which a credential is revoked, when a high-confidence signal agrees.
    pub revoke_threshold: f32,
    pub revoke: RevokeMode,
    /// An agent's episode ends after this long without a finding-level event.
    pub episode_quiet_minutes: u32,
    /// An open finding is updated only when risk rises by this much ...
    pub update_min_risk_delta: f32,
    /// ... or a new detector contributes, and at most this often.
    pub update_min_interval_seconds: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub rate: f32,
    pub seasonal: f32,
    pub novelty: f32,
    pub distinct: f32,
    pub outcome: f32,
    pub volume: f32,
    pub session: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            rate: 1.0,
            seasonal: 1.0,
            novelty: 1.0,
            distinct: 1.0,
            outcome: 1.0,
            volume: 1.0,
            session: 1.0,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: 1,
            input: InputConfig::default(),
            engine: EngineConfig::default(),
            decisions: DecisionConfig::default(),
            detectors: DetectorConfig::default(),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_agents: 1_000_000,
            cohort_keys: vec![CohortKey::Tenant, CohortKey::AgentType],
            batch_size: 4096,
        }
    }
}

impl Default for DecisionConfig {
    fn default() -> Self {
        DecisionConfig {
            finding_threshold: 60.0,
            revoke_threshold: 85.0,
            revoke: RevokeMode::Enforce,
            episode_quiet_minutes: 30,
            update_min_risk_delta: 5.0,
            update_min_interval_seconds: 60,
        }
    }
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
        }
    }
}

impl Config {
    pub fn from_toml(text: &str, path: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let d = &self.decisions;
        if self.version != 1 {
            return Err(ConfigError::Invalid(format!(
                "version {} is not supported (expected 1)",
                self.version
            )));
        }
        if !(0.0..=100.0).contains(&d.finding_threshold)
            || !(0.0..=100.0).contains(&d.revoke_threshold)
        {
            return Err(ConfigError::Invalid(
                "thresholds must lie in 0..=100".into(),
            ));
        }
        if d.revoke_threshold < d.finding_threshold {
            return Err(ConfigError::Invalid(
                "decisions.revoke_threshold must not be below decisions.finding_threshold".into(),
            ));
        }
        if self.engine.max_agents == 0 || self.engine.batch_size == 0 {
            return Err(ConfigError::Invalid(
                "engine.max_agents and engine.batch_size must be positive".into(),
            ));
        }
        if self.detectors.distinct_window_seconds == 0 || self.detectors.rate_min_sd <= 0.0 {
            return Err(ConfigError::Invalid(
                "detectors.distinct_window_seconds and detectors.rate_min_sd must be positive"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_warden_toml_equals_defaults() {
        let text = include_str!("../warden.toml");
        assert_eq!(
            Config::from_toml(text, "warden.toml").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let c = Config::from_toml("[decisions]\nfinding_threshold = 50\n", "x").unwrap();
        assert_eq!(c.decisions.finding_threshold, 50.0);
        assert_eq!(c.decisions.revoke_threshold, 85.0);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let e = Config::from_toml("[decisions]\nfinding_treshold = 50\n", "w.toml").unwrap_err();
        assert!(e.to_string().contains("finding_treshold"), "{e}");
        assert!(Config::from_toml("[decisions]\nfinding_threshold = 90\n", "x").is_err());
        assert!(Config::from_toml("version = 2\n", "x").is_err());
    }
}
