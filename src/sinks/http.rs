//! What the HTTP sinks share: a client that trusts the system's CAs plus an
//! optional PEM file, and one reading of a receiver's answer.

use super::delivery::SendError;
use super::SinkConfigError;
use reqwest::StatusCode;
use std::time::Duration;

/// Whether a sink may send its credential over plain `http://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plaintext {
    /// Nothing secret goes out with the request.
    NoCredential,
    /// A credential goes out, and the sink's config allows plain HTTP.
    Allowed,
    /// A credential goes out: plain HTTP is refused.
    Refused,
}

impl Plaintext {
    pub(super) fn for_credential(sends_credential: bool, allow_insecure_http: bool) -> Self {
        match (sends_credential, allow_insecure_http) {
            (false, _) => Plaintext::NoCredential,
            (true, true) => Plaintext::Allowed,
            (true, false) => Plaintext::Refused,
        }
    }
}

pub(super) fn client(
    sink: &str,
    url: &str,
    ca_file: &str,
    timeout_ms: u64,
    plaintext: Plaintext,
) -> Result<reqwest::Client, SinkConfigError> {
    let invalid = |message: String| SinkConfigError::Invalid {
        sink: sink.to_string(),
        message,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(format!("url {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!("url {url:?}: only http and https")));
    }
    if parsed.scheme() == "http" {
        match plaintext {
            Plaintext::Refused => {
                return Err(invalid(format!(
                    "url {url:?} is plain http and this sink sends a credential: use https, \
                     or set allow_insecure_http = true for this sink (a trusted network only)"
                )))
            }
            Plaintext::Allowed => tracing::warn!(
                sink,
                url,
                "sending a credential over plain http (allow_insecure_http = true)"
            ),
            Plaintext::NoCredential => {}
        }
    }
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_millis(timeout_ms.max(1)))
        .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")));
    if !ca_file.is_empty() {
        let pem = std::fs::read(ca_file).map_err(|e| invalid(format!("ca_file {ca_file}: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| invalid(format!("ca_file {ca_file}: {e}")))?;
        if certs.is_empty() {
            return Err(invalid(format!("ca_file {ca_file}: no certificate in it")));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| invalid(format!("HTTP client: {e}")))
}

/// Sends a request and reads the answer: 2xx is delivered; 408, 429, 5xx
/// and network failures are worth retrying; any other status is a refusal
/// that retrying cannot fix (bad token, malformed request).
pub(super) async fn send(req: reqwest::RequestBuilder) -> Result<(StatusCode, String), SendError> {
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Err(SendError::retryable(describe(&e))),
    };
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // The body says why; a receiver that hangs up mid-body still answered.
    let body = resp.text().await.unwrap_or_default();
    if status.is_success() {
        return Ok((status, body));
    }
    let mut snippet: String = body.chars().take(300).collect();
    if snippet.is_empty() {
        snippet = status.canonical_reason().unwrap_or("").to_string();
    }
    let message = format!("HTTP {}: {}", status.as_u16(), snippet.trim());
    let retryable = status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    Err(SendError {
        retryable,
        retry_after,
        message,
    })
}

/// reqwest's error with its causes (the useful part is often the cause:
/// "connection refused", a certificate problem).
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// A secret from the environment variable `var`.
pub(super) fn secret(
    sink: &str,
    var: &str,
    what: &'static str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SinkConfigError> {
    env(var)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SinkConfigError::MissingSecret {
            sink: sink.to_string(),
            var: var.to_string(),
            what,
        })
}
