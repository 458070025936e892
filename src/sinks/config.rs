//! `[sinks]` in warden.toml: where alerts and revocations go besides Kafka.
//! Every sink is optional and may appear more than once (`[[sinks.webhook]]`),
//! each with its own severity route and delivery settings. Secrets are never
//! in the file: each sink names the environment variable that holds one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    /// Splunk HTTP Event Collector: OCSF findings and remediation activities.
    pub splunk_hec: Vec<HecConfig>,
    /// Standard Webhooks (HMAC-signed JSON POSTs): SOAR tools, chat, paging.
    pub webhook: Vec<WebhookConfig>,
    /// Syslog RFC 5424 with a CEF message, over TCP or TLS.
    pub syslog: Vec<SyslogConfig>,
    /// SSF push delivery (RFC 8935) of the signed revocation SETs.
    pub ssf_push: Vec<SsfPushConfig>,
}

impl SinksConfig {
    pub fn is_empty(&self) -> bool {
        self.splunk_hec.is_empty()
            && self.webhook.is_empty()
            && self.syslog.is_empty()
            && self.ssf_push.is_empty()
    }

    /// Every sink's delivery settings.
    pub fn deliveries_mut(&mut self) -> impl Iterator<Item = &mut DeliveryConfig> {
        let hec = self.splunk_hec.iter_mut().map(|c| &mut c.delivery);
        let webhook = self.webhook.iter_mut().map(|c| &mut c.delivery);
        let syslog = self.syslog.iter_mut().map(|c| &mut c.delivery);
        let ssf = self.ssf_push.iter_mut().map(|c| &mut c.delivery);
        hec.chain(webhook).chain(syslog).chain(ssf)
    }
}

/// OCSF severities a sink receives; a record goes to every sink whose list
/// holds its `severity_id`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
    Fatal,
}

impl Severity {
    pub fn id(self) -> u8 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
            Severity::Fatal => 6,
        }
    }

    pub fn all() -> Vec<Severity> {
        use Severity::*;
        vec![Informational, Low, Medium, High, Critical, Fatal]
    }
}

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
    pub when_full: WhenFull,
    /// First retry after this long; doubled per attempt (with jitter) up to
    /// `retry_max_ms`.
    pub retry_initial_ms: u64,
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

fn all_severities() -> Vec<Severity> {
    Severity::all()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
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
    pub source: String,
    /// Sourcetype of Detection Findings and of Remediation Activities.
    #[serde(default = "default_finding_sourcetype")]
    pub finding_sourcetype: String,
    #[serde(default = "default_remediation_sourcetype")]
    pub remediation_sourcetype: String,
    /// Events per request at most, and bytes per request at most.
    #[serde(default = "default_batch_events")]
    pub batch_max_events: usize,
    #[serde(default = "default_batch_bytes")]
    pub batch_max_bytes: usize,
    /// How long a batch waits to fill before it is sent.
    #[serde(default = "default_batch_wait_ms")]
    pub batch_wait_ms: u64,
    /// Extra PEM CA certificates to trust (besides the system's).
    #[serde(default)]
    pub ca_file: String,
    #[serde(default = "all_severities")]
    pub severities: Vec<Severity>,
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(default)]
    pub name: String,
    pub url: String,
    /// Environment variable holding the signing secret, `whsec_<base64>` as
    /// Standard Webhooks receivers issue it.
    pub secret_env: String,
    #[serde(default)]
    pub ca_file: String,
    #[serde(default = "all_severities")]
    pub severities: Vec<Severity>,
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    Tcp,
    Tls,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SyslogFraming {
    /// RFC 6587 3.4.1 / RFC 5425: `<length> <message>` (required for TLS).
    OctetCounting,
    /// RFC 6587 3.4.2: one message per line (CEF escapes every newline).
    NonTransparent,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    #[serde(default)]
    pub name: String,
    /// `host:port` of the collector.
    pub address: String,
    #[serde(default = "default_syslog_transport")]
    pub transport: SyslogTransport,
    #[serde(default = "default_framing")]
    pub framing: SyslogFraming,
    /// Name checked against the collector's certificate; empty: the host of
    /// `address`.
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub ca_file: String,
    /// Facility number (16 = local0 .. 23 = local7).
    #[serde(default = "default_facility")]
    pub facility: u8,
    /// HOSTNAME field; empty: this machine's hostname.
    #[serde(default)]
    pub hostname: String,
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// MSGID of findings; remediation activities use `WARDEN_REMEDIATION`.
    #[serde(default = "default_msg_id")]
    pub msg_id: String,
    /// SD-ID of the structured data element (`name@<private enterprise
    /// number>`; 32473 is the number reserved for examples, RFC 5612).
    #[serde(default = "default_sd_id")]
    pub sd_id: String,
    #[serde(default = "all_severities")]
    pub severities: Vec<Severity>,
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SsfPushConfig {
    #[serde(default)]
    pub name: String,
    /// The receiver's push endpoint (from its stream configuration).
    pub url: String,
    /// Environment variable holding the `Authorization` header value the
    /// receiver gave (e.g. `Bearer …`); empty: none sent.
    #[serde(default)]
    pub authorization_env: String,
    /// Also push shadow-mode SETs (they carry the shadow claim).
    #[serde(default)]
    pub include_shadow: bool,
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
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
fn default_syslog_transport() -> SyslogTransport {
    SyslogTransport::Tls
}
fn default_framing() -> SyslogFraming {
    SyslogFraming::OctetCounting
}
fn default_facility() -> u8 {
    16
}
fn default_app_name() -> String {
    "warden".into()
}
fn default_msg_id() -> String {
    "WARDEN_ALERT".into()
}
fn default_sd_id() -> String {
    "warden@32473".into()
}
