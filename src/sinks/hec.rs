//! Splunk HTTP Event Collector: each OCSF record in the HEC JSON envelope,
//! with a sourcetype per OCSF class and indexed fields for the usual
//! filters (class, severity, tenant); batches are envelopes back to back in
//! one POST, as the `/services/collector/event` endpoint takes them.

use super::config::{all_severities, DeliveryConfig, Env, Severity};
use super::delivery::{BatchLimits, Encoded, SendFuture, Transport};
use super::{http, Route, SinkConfigError, SinkKind};
use crate::emit::OutputRecord;
use crate::emit::RecordKind;
use serde_json::{json, Map, Value};
use std::time::Duration;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
/// A `type = "splunk_hec"` sink: OCSF events to Splunk's HTTP Event
/// Collector, batched.
pub struct HecConfig {
    /// Label in logs and metrics; defaults to "splunk_hec".
    #[serde(default)]
    pub name: String,
    /// The event endpoint, e.g. `https://splunk:8088/services/collector/event`.
    pub url: String,
    /// Environment variable holding the HEC token (sent as `Splunk <token>`).
    #[serde(default = "default_hec_token_env")]
    pub token_env: String,
    /// Index; empty uses the token's default index.
    #[serde(default)]
    pub index: String,
    /// `host` of each event; empty: this machine's hostname.
    #[serde(default)]
    pub host: String,
    #[serde(default = "default_source")]
    /// `source` of each event.
    pub source: String,
    /// Sourcetype of Detection Findings and of Remediation Activities.
    #[serde(default = "default_finding_sourcetype")]
    pub finding_sourcetype: String,
    #[serde(default = "default_remediation_sourcetype")]
    /// Sourcetype of Remediation Activities (revocations).
    pub remediation_sourcetype: String,
    /// Events per request at most, and bytes per request at most.
    #[serde(default = "default_batch_events")]
    pub batch_max_events: usize,
    #[serde(default = "default_batch_bytes")]
    /// Bytes per request at most.
    pub batch_max_bytes: usize,
    /// How long a batch waits to fill before it is sent.
    #[serde(default = "default_batch_wait_ms")]
    pub batch_wait_ms: u64,
    /// Extra PEM CA certificates to trust (besides the system's).
    #[serde(default)]
    pub ca_file: String,
    /// Allow an `http://` url although the token goes with every request
    /// (a trusted network only; refused otherwise).
    #[serde(default)]
    pub allow_insecure_http: bool,
    #[serde(default = "all_severities")]
    /// Severities delivered (the others are not sent here).
    pub severities: Vec<Severity>,
    #[serde(default)]
    /// Queueing, batching and retries.
    pub delivery: DeliveryConfig,
}

fn default_hec_token_env() -> String {
    "WARDEN_SPLUNK_HEC_TOKEN".into()
}
fn default_source() -> String {
    "warden".into()
}
fn default_finding_sourcetype() -> String {
    "ocsf:detection_finding".into()
}
fn default_remediation_sourcetype() -> String {
    "ocsf:remediation_activity".into()
}
fn default_batch_events() -> usize {
    100
}
fn default_batch_bytes() -> usize {
    1 << 20
}
fn default_batch_wait_ms() -> u64 {
    200
}

/// The envelope around one OCSF event.
#[derive(Debug, Clone)]
pub struct HecEnvelope {
    /// `host` of each event.
    pub host: String,
    /// `source` of each event.
    pub source: String,
    /// Index; empty: the token's default.
    pub index: String,
    /// Sourcetype of Detection Findings.
    pub finding_sourcetype: String,
    /// Sourcetype of Remediation Activities.
    pub remediation_sourcetype: String,
}

impl HecEnvelope {
    /// The envelope a sink's config describes (the hostname resolved).
    pub fn from_config(c: &HecConfig) -> HecEnvelope {
        HecEnvelope {
            host: if c.host.is_empty() {
                super::hostname()
            } else {
                c.host.clone()
            },
            source: c.source.clone(),
            index: c.index.clone(),
            finding_sourcetype: c.finding_sourcetype.clone(),
            remediation_sourcetype: c.remediation_sourcetype.clone(),
        }
    }

    /// `event` wrapped for HEC: `time` in epoch seconds (milliseconds kept),
    /// indexed `fields` as strings (HEC indexes text).
    pub fn wrap(&self, kind: RecordKind, event: &Value) -> Value {
        let sourcetype = match kind {
            RecordKind::Remediation => &self.remediation_sourcetype,
            _ => &self.finding_sourcetype,
        };
        let mut fields = Map::new();
        if let Some(c) = event["class_uid"].as_u64() {
            fields.insert("class_uid".into(), json!(c.to_string()));
        }
        if let Some(s) = event["severity"].as_str() {
            fields.insert("severity".into(), json!(s));
        }
        if let Some(t) = event["metadata"]["tenant_uid"].as_str() {
            fields.insert("tenant".into(), json!(t));
        }
        let mut env = json!({
            "time": event["time"].as_i64().unwrap_or(0) as f64 / 1000.0,
            "host": self.host,
            "source": self.source,
            "sourcetype": sourcetype,
        });
        if !self.index.is_empty() {
            env["index"] = json!(self.index);
        }
        env["fields"] = Value::Object(fields);
        env["event"] = event.clone();
        env
    }
}

pub(crate) struct HecTransport {
    client: reqwest::Client,
    url: String,
    auth: String,
    envelope: HecEnvelope,
    limits: BatchLimits,
    body: Vec<u8>,
}

impl HecTransport {
    pub fn new(
        name: &str,
        c: &HecConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<HecTransport, SinkConfigError> {
        let token = http::secret(name, &c.token_env, "Splunk HEC token", env)?;
        Ok(HecTransport {
            client: http::client(
                name,
                &c.url,
                &c.ca_file,
                c.delivery.timeout_ms,
                http::Plaintext::for_credential(true, c.allow_insecure_http),
            )?,
            url: c.url.clone(),
            auth: format!("Splunk {token}"),
            envelope: HecEnvelope::from_config(c),
            limits: BatchLimits {
                max_records: c.batch_max_events.max(1),
                max_bytes: c.batch_max_bytes.max(1),
                wait: Duration::from_millis(c.batch_wait_ms),
            },
            body: Vec::new(),
        })
    }
}

impl Transport for HecTransport {
    fn limits(&self) -> BatchLimits {
        self.limits
    }

    fn encode(&self, r: &OutputRecord) -> Vec<u8> {
        let event = r.ocsf_value().cloned().unwrap_or(Value::Null);
        let mut line = serde_json::to_vec(&self.envelope.wrap(r.kind, &event))
            .expect("JSON values always serialise");
        line.push(b'\n');
        line
    }

    fn send<'a>(&'a mut self, batch: &'a [Encoded]) -> SendFuture<'a> {
        Box::pin(async move {
            self.body.clear();
            for r in batch {
                self.body.extend_from_slice(&r.bytes);
            }
            let req = self
                .client
                .post(&self.url)
                .header(reqwest::header::AUTHORIZATION, &self.auth)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(self.body.clone());
            http::send(req).await.map(|_| ())
        })
    }
}

impl SinkKind for HecConfig {
    fn kind(&self) -> &'static str {
        "splunk_hec"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn delivery(&self) -> &DeliveryConfig {
        &self.delivery
    }
    fn route(&self) -> Route {
        Route::ocsf(&self.severities)
    }
    fn build(&self, name: &str, env: Env<'_>) -> Result<Box<dyn Transport>, SinkConfigError> {
        Ok(Box::new(HecTransport::new(name, self, env)?))
    }
}
