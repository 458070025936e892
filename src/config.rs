//! `warden.toml`: every threshold, window and cohort key, with documented
//! defaults. Config is plain data; the engine reads it once at start-up.

pub use crate::decide::{DecisionConfig, RevokeMode};
pub use crate::emit::set::SigningConfig;
pub use crate::engine::{CohortKey, DetectionConfig, DetectorConfig, EngineConfig};
pub use crate::signal::Weights;
pub use inventory_section::{InventoryConfig, InventoryTimes};

mod inventory_section;

use crate::input::ReadOptions;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
/// Why a `warden.toml` could not be used.
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    /// The file could not be read.
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    /// The file is not valid TOML or has unknown or mistyped keys.
    Parse {
        /// The file.
        path: String,
        /// What the TOML parser said, with the line and column.
        message: String,
    },
    #[error("config: {0}")]
    /// The values contradict each other or are out of range.
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
/// Everything `warden.toml` sets. Each component owns its section's type;
/// this struct only gathers them, and every field has a default.
pub struct Config {
    /// Format version of this file; only 1 exists.
    pub version: u32,
    /// `[input]`: how records are read and decoded.
    pub input: InputConfig,
    /// `[engine]`: agent table size, windows, models.
    pub engine: EngineConfig,
    /// `[decisions]`: thresholds and revocation mode.
    pub decisions: DecisionConfig,
    /// `[inventory]`: the live inventory and its access review.
    pub inventory: InventoryConfig,
    /// `[detectors]`: detector tuning and weights.
    pub detectors: DetectorConfig,
    /// How revocations are signed as Security Event Tokens.
    pub signing: SigningConfig,
    /// `warden run`: topics, checkpoints, event time, the metrics endpoint.
    pub stream: StreamConfig,
    /// librdkafka properties passed through unchanged to the consumer and the
    /// producers (`bootstrap.servers`, `security.protocol`, `sasl.*`, `ssl.*`,
    /// timeouts). `WARDEN_KAFKA_<NAME>` environment variables override them:
    /// `WARDEN_KAFKA_SASL_PASSWORD` sets `sasl.password`.
    pub kafka: BTreeMap<String, String>,
    /// Sinks beyond Kafka (`[[sinks]]`, each with its `type`): Splunk HEC,
    /// webhooks, syslog/CEF, SSF push.
    pub sinks: Vec<crate::sinks::SinkConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
/// `[stream]`: what `warden run` consumes and produces.
pub struct StreamConfig {
    /// Consumer group: every instance with this id shares the calls topic's
    /// partitions, and each agent's state follows its partition.
    pub group_id: String,
    /// Call events, keyed by agent id.
    pub calls_topic: String,
    /// OCSF Detection Findings, keyed by agent id.
    pub alerts_topic: String,
    /// Revocations decided in `enforce` mode, keyed by agent id.
    pub revocations_topic: String,
    /// Revocations decided in `shadow` mode (watched, never enforced).
    pub shadow_revocations_topic: String,
    /// Records that could not be decoded: original bytes, and headers saying why.
    pub dead_letter_topic: String,
    /// Per-agent baselines, keyed by agent id; must be a compacted topic with
    /// as many partitions as the calls topic.
    pub state_topic: String,
    /// One inventory record per identity, keyed by identity; a compacted
    /// topic ("" turns the live inventory and its review findings off).
    pub inventory_topic: String,
    /// The decision log: per partition of the calls topic, a hash chain of
    /// every output, signed with `[signing]` (needs as many partitions as
    /// the calls topic; not compacted; "" turns it off).
    pub audit_topic: String,
    /// Analysts' suppressions (`warden suppress add --publish`), keyed by
    /// suppression id, a tombstone removing one; a compacted topic every
    /// instance reads whole ("" turns it off; `[decisions]
    /// suppressions_file` still applies).
    pub suppressions_topic: String,
    /// Each calls partition's share of the agent-type-wide prevalence (how
    /// many agents of a type, in any team, use a value), keyed by partition;
    /// a compacted topic every instance publishes its partitions' shares to
    /// and reads whole, so that each member scores against the whole fleet
    /// ("" turns it off: each member then sees only its own partitions).
    pub fleet_topic: String,
    /// Lines of a partition's decision log between signed checkpoints (it
    /// is also signed at every state checkpoint, handover and shutdown).
    pub audit_checkpoint_every: u64,
    /// How often identities whose counts moved are published again
    /// (something new about one, such as a first call or a new action or
    /// credential, is published within a second).
    pub inventory_publish_seconds: u32,
    /// CloudEvents `ce_source` of every output.
    pub source: String,
    /// Events up to this much older than the newest seen on their partition
    /// are in order; older ones are late (still scored, and counted).
    pub allowed_lateness_seconds: u32,
    /// How often changed baselines are written to the state topic, bounding
    /// what a crashed instance's successor re-reads to warm up.
    pub checkpoint_interval_seconds: u32,
    /// Longest a partition's state restore may take before the instance gives up.
    pub restore_timeout_seconds: u32,
    /// Address of /metrics, /healthz and /readyz ("" turns the endpoint off).
    pub metrics_listen: String,
    /// Largest record Warden produces (the broker's `message.max.bytes`):
    /// a finding or dead letter past it goes out truncated, and counted.
    pub max_message_bytes: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            group_id: "warden".into(),
            calls_topic: "warden.calls.v1".into(),
            alerts_topic: "warden.alerts.v1".into(),
            revocations_topic: "warden.revocations.v1".into(),
            shadow_revocations_topic: "warden.revocations.shadow.v1".into(),
            dead_letter_topic: "warden.calls.dlq.v1".into(),
            state_topic: "warden.state.v1".into(),
            inventory_topic: "warden.inventory.v1".into(),
            audit_topic: "warden.audit.v1".into(),
            suppressions_topic: "warden.suppressions.v1".into(),
            fleet_topic: "warden.fleet.v1".into(),
            audit_checkpoint_every: 1000,
            inventory_publish_seconds: 60,
            source: "//warden".into(),
            allowed_lateness_seconds: 60,
            checkpoint_interval_seconds: 30,
            restore_timeout_seconds: 120,
            metrics_listen: "127.0.0.1:9464".into(),
            max_message_bytes: 1_000_000,
        }
    }
}

/// The smallest `[stream] max_message_bytes` accepted: a finding cut to
/// 64-byte strings and a dead letter's headers fit well inside it.
pub(crate) const MIN_MESSAGE_BYTES: usize = 16 * 1024;

/// Prefix of environment variables that override `[kafka]` properties.
pub(crate) const KAFKA_ENV_PREFIX: &str = "WARDEN_KAFKA_";

impl Config {
    /// `[kafka]` with `WARDEN_KAFKA_*` environment overrides applied (secrets
    /// belong in the environment, not in the file).
    pub(crate) fn kafka_properties(
        &self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> BTreeMap<String, String> {
        let mut props = self.kafka.clone();
        for (k, v) in env {
            if let Some(name) = k.strip_prefix(KAFKA_ENV_PREFIX) {
                if !name.is_empty() {
                    props.insert(name.to_ascii_lowercase().replace('_', "."), v);
                }
            }
        }
        props
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
/// `[input]`: how records are read and decoded.
pub struct InputConfig {
    /// auto (detect per record), native, cloudtrail, k8s-audit or ocsf.
    pub format: crate::adapt::Format,
    /// Kubernetes audit stage that is scored; other stages are skipped.
    pub k8s_stage: String,
    /// Calls dated more than this many seconds past this machine's clock
    /// are rejected (dead-lettered in `run`, reported and skipped in
    /// `replay`): event time is written by the caller.
    pub max_future_skew_seconds: u64,
    /// Largest input read as one JSON document (pretty-printed arrays and
    /// envelopes), and longest line of JSON lines: past it the rest of a
    /// document is reported and not read, and a longer line is reported
    /// and passed over, so a hostile file cannot exhaust memory.
    pub max_document_bytes: u64,
    /// Longest string field of a call, in bytes. An identity field (agent,
    /// session, parent, tenant, event id) over it makes the record bad;
    /// other text (action, resource, user agent, address) is cut to it.
    pub max_field_bytes: usize,
    /// Longest pass-through object kept with a call, in bytes; past it only
    /// its size is kept.
    pub max_extra_bytes: usize,
}

impl InputConfig {
    /// The size limits on each call's text.
    pub(crate) fn field_limits(&self) -> crate::adapt::FieldLimits {
        crate::adapt::FieldLimits {
            field_bytes: self.max_field_bytes,
            extra_bytes: self.max_extra_bytes,
        }
    }

    /// `max_future_skew_seconds` in ms.
    pub(crate) fn future_skew_ms(&self) -> i64 {
        (self.max_future_skew_seconds.min(i64::MAX as u64 / 1000) as i64) * 1000
    }
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            format: crate::adapt::Format::Auto,
            k8s_stage: "ResponseComplete".into(),
            max_future_skew_seconds: 300,
            max_document_bytes: 256 << 20,
            max_field_bytes: 4096,
            max_extra_bytes: 16384,
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
            inventory: InventoryConfig::default(),
            detectors: DetectorConfig::default(),
            signing: SigningConfig::default(),
            stream: StreamConfig::default(),
            kafka: BTreeMap::from([(
                "bootstrap.servers".to_string(),
                "localhost:9092".to_string(),
            )]),
            sinks: Vec::new(),
        }
    }
}

impl Config {
    pub(crate) fn from_toml(text: &str, path: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The file at `path`, or the defaults when none is given.
    pub fn load_or_default(path: Option<&Path>) -> Result<Config, ConfigError> {
        path.map_or_else(|| Ok(Config::default()), Config::load)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
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
        if self.engine.max_agents == 0
            || self.engine.batch_size == 0
            || self.engine.max_cohorts == 0
        {
            return Err(ConfigError::Invalid(
                "engine.max_agents, engine.max_cohorts and engine.batch_size must be positive"
                    .into(),
            ));
        }
        if self.detectors.distinct_window_seconds < 2 || self.detectors.rate_min_sd <= 0.0 {
            // The window's index is kept in 32 bits: 2-second windows reach
            // the year 2106, 1-second ones would stop sliding in 2038.
            return Err(ConfigError::Invalid(
                "detectors.distinct_window_seconds must be at least 2 and detectors.rate_min_sd positive"
                    .into(),
            ));
        }
        self.detectors
            .weights
            .check()
            .map_err(ConfigError::Invalid)?;
        self.inventory.times().map_err(ConfigError::Invalid)?;
        if self.stream.audit_checkpoint_every == 0 {
            return Err(ConfigError::Invalid(
                "stream.audit_checkpoint_every must be positive".into(),
            ));
        }
        if self.stream.inventory_publish_seconds == 0 {
            return Err(ConfigError::Invalid(
                "stream.inventory_publish_seconds must be positive".into(),
            ));
        }
        let s = &self.stream;
        if s.checkpoint_interval_seconds == 0 || s.restore_timeout_seconds == 0 {
            return Err(ConfigError::Invalid(
                "stream.checkpoint_interval_seconds and stream.restore_timeout_seconds must be positive"
                    .into(),
            ));
        }
        // librdkafka's own ceiling for message.max.bytes is 1,000,000,000.
        if !(MIN_MESSAGE_BYTES..=1_000_000_000).contains(&s.max_message_bytes) {
            return Err(ConfigError::Invalid(format!(
                "stream.max_message_bytes must be between {} and 1000000000",
                MIN_MESSAGE_BYTES
            )));
        }
        let topics = [
            &s.calls_topic,
            &s.alerts_topic,
            &s.revocations_topic,
            &s.shadow_revocations_topic,
            &s.dead_letter_topic,
            &s.state_topic,
            &s.inventory_topic,
            &s.audit_topic,
            &s.suppressions_topic,
            &s.fleet_topic,
        ];
        for (i, t) in topics.iter().enumerate() {
            // The inventory, audit, suppressions and fleet topics (the last
            // four) may be left empty: off.
            if t.is_empty() && i + 4 >= topics.len() {
                continue;
            }
            if t.is_empty() || topics[..i].contains(t) {
                return Err(ConfigError::Invalid(format!(
                    "stream topics must be non-empty and distinct ('{t}')"
                )));
            }
        }
        Ok(())
    }
}

impl From<Config> for DetectionConfig {
    fn from(c: Config) -> Self {
        DetectionConfig {
            engine: c.engine,
            detectors: c.detectors,
            decisions: c.decisions,
        }
    }
}

impl From<&Config> for DetectionConfig {
    fn from(c: &Config) -> Self {
        DetectionConfig {
            engine: c.engine.clone(),
            detectors: c.detectors.clone(),
            decisions: c.decisions.clone(),
        }
    }
}

impl From<&Config> for ReadOptions {
    /// As `[input]` and `[engine] batch_size` say.
    fn from(cfg: &Config) -> ReadOptions {
        ReadOptions {
            format: cfg.input.format,
            k8s_stage: cfg.input.k8s_stage.clone(),
            batch_size: cfg.engine.batch_size,
            max_future_skew_ms: cfg.input.future_skew_ms(),
            max_document_bytes: cfg.input.max_document_bytes,
            max_field_bytes: cfg.input.max_field_bytes,
            max_extra_bytes: cfg.input.max_extra_bytes,
        }
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
    fn a_negative_or_non_finite_weight_is_refused_by_name() {
        for (value, shown) in [("-1.0", "-1"), ("nan", "NaN"), ("inf", "inf")] {
            let text = format!("[detectors.weights]\nseasonal = {value}\n");
            let err = Config::from_toml(&text, "w.toml").unwrap_err().to_string();
            assert!(
                err.contains("detectors.weights.seasonal") && err.contains(shown),
                "{err}"
            );
        }
        let zero = Config::from_toml("[detectors.weights]\nrate = 0.0\n", "w.toml").unwrap();
        assert_eq!(zero.detectors.weights.rate, 0.0);
    }

    #[test]
    fn a_distinct_window_under_two_seconds_is_refused() {
        for secs in [0, 1] {
            let text = format!("[detectors]\ndistinct_window_seconds = {secs}\n");
            let err = Config::from_toml(&text, "w.toml").unwrap_err().to_string();
            assert!(
                err.contains("distinct_window_seconds must be at least 2"),
                "{err}"
            );
        }
        let two = Config::from_toml("[detectors]\ndistinct_window_seconds = 2\n", "w.toml");
        assert_eq!(two.unwrap().detectors.distinct_window_seconds, 2);
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let c = Config::from_toml("[decisions]\nfinding_threshold = 50\n", "x").unwrap();
        assert_eq!(c.decisions.finding_threshold, 50.0);
        assert_eq!(c.decisions.revoke_threshold, 85.0);
    }

    #[test]
    fn kafka_properties_pass_through_and_the_environment_wins() {
        let c = Config::from_toml(
            "[kafka]\n\"bootstrap.servers\" = \"b:9092\"\n\"sasl.mechanism\" = \"PLAIN\"\n",
            "x",
        )
        .unwrap();
        let p = c.kafka_properties([
            (
                "WARDEN_KAFKA_SASL_PASSWORD".to_string(),
                "s3cret".to_string(),
            ),
            (
                "WARDEN_KAFKA_BOOTSTRAP_SERVERS".to_string(),
                "c:9093".to_string(),
            ),
            ("HOME".to_string(), "/root".to_string()),
        ]);
        assert_eq!(p["bootstrap.servers"], "c:9093");
        assert_eq!(p["sasl.mechanism"], "PLAIN");
        assert_eq!(p["sasl.password"], "s3cret");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(Config::from_toml("[stream]\nalerts_topic = \"warden.calls.v1\"\n", "x").is_err());
        let e = Config::from_toml("[decisions]\nfinding_treshold = 50\n", "w.toml").unwrap_err();
        assert!(e.to_string().contains("finding_treshold"), "{e}");
        assert!(Config::from_toml("[decisions]\nfinding_threshold = 90\n", "x").is_err());
        assert!(Config::from_toml("version = 2\n", "x").is_err());
    }
}
