//! Syslog (RFC 5424) carrying CEF, over TCP (RFC 6587) or TLS (RFC 5425),
//! on one long-lived connection that is re-opened after any failure. A
//! record counts as delivered once written and flushed to the connection;
//! syslog has no application-level acknowledgement, so a collector that
//! dies holding unread bytes can lose them (use HEC or a webhook where that
//! matters).

use super::config::{all_severities, DeliveryConfig, Env, Severity};
use super::delivery::{Encoded, SendError, SendFuture, Transport};
use super::{cef, Route, SinkConfigError, SinkKind};
use crate::emit::OutputRecord;
use crate::event::format_rfc3339_ms;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
/// How records reach the collector.
pub enum SyslogTransport {
    /// Plain TCP (trusted networks only).
    Tcp,
    /// TLS over TCP (RFC 5425).
    Tls,
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
/// How messages are delimited on the stream.
pub enum SyslogFraming {
    /// RFC 6587 3.4.1 / RFC 5425: `<length> <message>` (required for TLS).
    OctetCounting,
    /// RFC 6587 3.4.2: one message per line (CEF escapes every newline).
    NonTransparent,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
/// A `type = "syslog"` sink: RFC 5424 messages carrying CEF, over TCP or
/// TLS.
pub struct SyslogConfig {
    #[serde(default)]
    /// The sink's name in logs and metrics; empty: `syslog`.
    pub name: String,
    /// `host:port` of the collector.
    pub address: String,
    #[serde(default = "default_syslog_transport")]
    /// `tls` (the default) or `tcp`.
    pub transport: SyslogTransport,
    #[serde(default = "default_framing")]
    /// `octet-counting` (the default; required for TLS) or `non-transparent`.
    pub framing: SyslogFraming,
    /// Name checked against the collector's certificate; empty: the host of
    /// `address`.
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    /// PEM file of the CA that signs the collector's certificate; empty: the
    /// system's roots.
    pub ca_file: String,
    /// Facility number (16 = local0 .. 23 = local7).
    #[serde(default = "default_facility")]
    pub facility: u8,
    /// HOSTNAME field; empty: this machine's hostname.
    #[serde(default)]
    pub hostname: String,
    #[serde(default = "default_app_name")]
    /// APP-NAME field.
    pub app_name: String,
    /// MSGID of findings; remediation activities use `WARDEN_REMEDIATION`.
    #[serde(default = "default_msg_id")]
    pub msg_id: String,
    /// SD-ID of the structured data element (`name@<private enterprise
    /// number>`; 32473 is the number reserved for examples, RFC 5612).
    #[serde(default = "default_sd_id")]
    pub sd_id: String,
    #[serde(default = "all_severities")]
    /// Severities delivered (the others are not sent here).
    pub severities: Vec<Severity>,
    #[serde(default)]
    /// Queueing, batching and retries.
    pub delivery: DeliveryConfig,
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

/// The syslog header and structured data around a CEF message.
#[derive(Debug, Clone)]
pub struct SyslogFormat {
    /// Facility number.
    pub facility: u8,
    /// HOSTNAME field.
    pub hostname: String,
    /// APP-NAME field.
    pub app_name: String,
    /// MSGID of findings.
    pub msg_id: String,
    /// SD-ID of the structured data element.
    pub sd_id: String,
    /// How messages are delimited.
    pub framing: SyslogFraming,
}

impl SyslogFormat {
    /// The format a sink's config describes (the hostname resolved).
    pub fn from_config(c: &SyslogConfig) -> SyslogFormat {
        SyslogFormat {
            facility: c.facility.min(23),
            hostname: if c.hostname.is_empty() {
                super::hostname()
            } else {
                c.hostname.clone()
            },
            app_name: c.app_name.clone(),
            msg_id: c.msg_id.clone(),
            sd_id: c.sd_id.clone(),
            framing: c.framing,
        }
    }

    /// One RFC 5424 message (without framing).
    pub fn message(&self, e: &Value) -> String {
        let severity_id = e["severity_id"].as_u64().unwrap_or(0);
        let pri = u32::from(self.facility) * 8 + u32::from(syslog_severity(severity_id));
        let remediation = e["class_uid"] == 7001;
        let finding_uid = if remediation {
            &e["metadata"]["correlation_uid"]
        } else {
            &e["finding_info"]["uid"]
        };
        let msg_id = if remediation {
            "WARDEN_REMEDIATION"
        } else {
            &self.msg_id
        };
        let mut sd = format!("[{}", header_token(&self.sd_id, 32, true));
        for (name, v) in [
            ("class_uid", &e["class_uid"]),
            ("finding_uid", finding_uid),
            ("ocsf_version", &e["metadata"]["version"]),
        ] {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            sd.push_str(&format!(" {name}=\"{}\"", sd_value(&text)));
        }
        sd.push(']');
        format!(
            "<{pri}>1 {} {} {} - {} {sd} {}",
            format_rfc3339_ms(e["time"].as_i64().unwrap_or(0)),
            header_token(&self.hostname, 255, false),
            header_token(&self.app_name, 48, false),
            header_token(msg_id, 32, false),
            cef::from_ocsf(e)
        )
    }

    /// The message framed for the stream.
    pub fn frame(&self, e: &Value) -> Vec<u8> {
        let m = self.message(e);
        match self.framing {
            SyslogFraming::OctetCounting => format!("{} {m}", m.len()).into_bytes(),
            SyslogFraming::NonTransparent => format!("{m}\n").into_bytes(),
        }
    }
}

/// Syslog severity for an OCSF `severity_id`.
fn syslog_severity(severity_id: u64) -> u8 {
    match severity_id {
        6 => 1, // Fatal: alert
        5 => 2, // Critical: crit
        4 => 3, // High: err
        3 => 4, // Medium: warning
        2 => 5, // Low: notice
        _ => 6, // informational
    }
}

/// A header field: printable US-ASCII without spaces, at most `max`
/// characters, `-` when empty. SD-NAMEs also exclude `=`, `]` and `"`.
fn header_token(s: &str, max: usize, sd_name: bool) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            let bad = !c.is_ascii_graphic() || (sd_name && matches!(c, '=' | ']' | '"'));
            if bad {
                '_'
            } else {
                c
            }
        })
        .take(max)
        .collect();
    if t.is_empty() {
        "-".into()
    } else {
        t
    }
}

/// PARAM-VALUE escaping (`"`, `\`, `]`); line breaks become spaces so a
/// line-framed stream stays one message per line.
fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

enum Conn {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Tcp(t) => t,
            Conn::Tls(t) => t.get_ref().0,
        }
    }

    fn writer(&mut self) -> &mut (dyn AsyncWrite + Unpin + Send) {
        match self {
            Conn::Tcp(t) => t,
            Conn::Tls(t) => t,
        }
    }

    /// Whether the collector has closed the connection (or it broke). A
    /// write to a closed peer usually "succeeds" into the kernel buffer and
    /// is lost, so a reused connection is checked first. Peeking leaves any
    /// bytes (TLS session tickets) for the TLS layer.
    async fn closed(&self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::ZERO, self.tcp().peek(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

pub(crate) struct SyslogSink {
    address: String,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls_pki_types::ServerName<'static>,
    )>,
    format: SyslogFormat,
    timeout: Duration,
    conn: Option<Conn>,
}

impl SyslogSink {
    pub fn new(name: &str, c: &SyslogConfig) -> Result<SyslogSink, SinkConfigError> {
        let invalid = |message: String| SinkConfigError::Invalid {
            sink: name.to_string(),
            message,
        };
        let host = c
            .address
            .rsplit_once(':')
            .filter(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .ok_or_else(|| invalid(format!("address {:?} is not host:port", c.address)))?;
        let tls = match c.transport {
            SyslogTransport::Tcp => {
                if c.framing == SyslogFraming::NonTransparent {
                    tracing::info!(sink = name, "syslog over TCP with newline framing");
                }
                None
            }
            SyslogTransport::Tls => {
                if c.framing != SyslogFraming::OctetCounting {
                    return Err(invalid(
                        "syslog over TLS uses octet-counting framing (RFC 5425)".into(),
                    ));
                }
                let server = if c.server_name.is_empty() {
                    host
                } else {
                    c.server_name.clone()
                };
                let server = rustls_pki_types::ServerName::try_from(server.clone())
                    .map_err(|e| invalid(format!("server name {server:?}: {e}")))?;
                Some((connector(&c.ca_file).map_err(invalid)?, server))
            }
        };
        Ok(SyslogSink {
            address: c.address.clone(),
            tls,
            format: SyslogFormat::from_config(c),
            timeout: Duration::from_millis(c.delivery.timeout_ms.max(1)),
            conn: None,
        })
    }

    async fn connect(&self) -> Result<Conn, SendError> {
        let tcp = tokio::time::timeout(self.timeout, TcpStream::connect(&self.address))
            .await
            .map_err(|_| {
                SendError::retryable(format!("connecting to {}: timed out", self.address))
            })?
            .map_err(|e| SendError::retryable(format!("connecting to {}: {e}", self.address)))?;
        // Records are written whole and flushed at once; without Nagle
        // they leave now. A socket that refuses the option still works.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on the syslog connection");
        }
        match &self.tls {
            None => Ok(Conn::Tcp(tcp)),
            Some((connector, server)) => {
                let tls =
                    tokio::time::timeout(self.timeout, connector.connect(server.clone(), tcp))
                        .await
                        .map_err(|_| SendError::retryable("TLS handshake timed out"))?
                        .map_err(|e| SendError::retryable(format!("TLS handshake: {e}")))?;
                Ok(Conn::Tls(Box::new(tls)))
            }
        }
    }
}

/// Trusts the system's CAs plus those in `ca_file` (PEM).
fn connector(ca_file: &str) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if !ca_file.is_empty() {
        use rustls_pki_types::pem::PemObject;
        let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| format!("ca_file {ca_file}: {e}"))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("ca_file {ca_file}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("ca_file {ca_file}: no certificate in it"));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("ca_file {ca_file}: {e}"))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

impl Transport for SyslogSink {
    fn encode(&self, r: &OutputRecord) -> Vec<u8> {
        self.format.frame(r.ocsf_value().unwrap_or(&Value::Null))
    }

    fn send<'a>(&'a mut self, batch: &'a [Encoded]) -> SendFuture<'a> {
        Box::pin(async move {
            let mut conn = match self.conn.take() {
                Some(c) if !c.closed().await => c,
                _ => self.connect().await?,
            };
            let write = async {
                let w = conn.writer();
                for r in batch {
                    w.write_all(&r.bytes).await?;
                }
                w.flush().await
            };
            match tokio::time::timeout(self.timeout, write).await {
                Ok(Ok(())) => {
                    self.conn = Some(conn);
                    Ok(())
                }
                // The connection is dropped; the next attempt opens a new one.
                Ok(Err(e)) => Err(SendError::retryable(format!(
                    "writing to {}: {e}",
                    self.address
                ))),
                Err(_) => Err(SendError::retryable(format!(
                    "writing to {}: timed out",
                    self.address
                ))),
            }
        })
    }
}

impl SinkKind for SyslogConfig {
    fn kind(&self) -> &'static str {
        "syslog"
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
    /// Syslog takes no secret from the environment.
    fn build(&self, name: &str, _env: Env<'_>) -> Result<Box<dyn Transport>, SinkConfigError> {
        Ok(Box::new(SyslogSink::new(name, self)?))
    }
}
