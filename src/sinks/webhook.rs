//! A generic webhook signed as Standard Webhooks specifies: the body is the
//! compact OCSF JSON; `webhook-id` is the record's stable id (the same on
//! every retry, so the receiver can deduplicate); `webhook-timestamp` and
//! `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`)
//! are made fresh for each attempt. Receivers verify with any Standard
//! Webhooks (or Svix) library.

use super::config::{all_severities, DeliveryConfig, Env, Severity};
use super::delivery::{Encoded, SendFuture, Transport};
use super::{http, Route, SinkConfigError, SinkKind};
use crate::emit::OutputRecord;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::hmac;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
/// A `type = "webhook"` sink: each record POSTed as JSON, signed as
/// Standard Webhooks specify.
pub struct WebhookConfig {
    #[serde(default)]
    /// The sink's name in logs and metrics; empty: `webhook`.
    pub name: String,
    /// The endpoint records are POSTed to.
    pub url: String,
    /// Environment variable holding the signing secret, `whsec_<base64>` as
    /// Standard Webhooks receivers issue it.
    pub secret_env: String,
    #[serde(default)]
    /// Extra PEM CA certificates to trust (besides the system's).
    pub ca_file: String,
    /// Accepted for symmetry with the other HTTP sinks: a webhook sends no
    /// credential (its requests are signed), so `http://` is allowed.
    #[serde(default)]
    pub allow_insecure_http: bool,
    #[serde(default = "all_severities")]
    /// Severities delivered (the others are not sent here).
    pub severities: Vec<Severity>,
    #[serde(default)]
    /// Queueing, batching and retries.
    pub delivery: DeliveryConfig,
}

/// Signs webhook messages with a Standard Webhooks secret.
pub(crate) struct WebhookSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for WebhookSigner {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSigner(..)")
    }
}

impl WebhookSigner {
    /// `secret` as receivers issue it: `whsec_` then base64 of the key (the
    /// prefix may be left off).
    pub fn new(secret: &str) -> Result<WebhookSigner, String> {
        let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
        let key = STANDARD
            .decode(b64)
            .map_err(|e| format!("the secret is not whsec_ + base64: {e}"))?;
        if key.len() < 16 {
            return Err(format!(
                "the secret is {} bytes; Standard Webhooks asks for 24 to 64",
                key.len()
            ));
        }
        Ok(WebhookSigner {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    /// The `webhook-signature` header value.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.to_string().as_bytes());
        ctx.update(b".");
        ctx.update(body);
        format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
    }
}

pub(crate) struct WebhookTransport {
    client: reqwest::Client,
    url: String,
    signer: WebhookSigner,
}

impl WebhookTransport {
    pub fn new(
        name: &str,
        c: &WebhookConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<WebhookTransport, SinkConfigError> {
        let secret = http::secret(name, &c.secret_env, "webhook signing secret", env)?;
        let signer = WebhookSigner::new(&secret).map_err(|message| SinkConfigError::Invalid {
            sink: name.to_string(),
            message: format!("{}: {message}", c.secret_env),
        })?;
        Ok(WebhookTransport {
            client: http::client(
                name,
                &c.url,
                &c.ca_file,
                c.delivery.timeout_ms,
                http::Plaintext::for_credential(false, c.allow_insecure_http),
            )?,
            url: c.url.clone(),
            signer,
        })
    }
}

impl Transport for WebhookTransport {
    fn encode(&self, r: &OutputRecord) -> Vec<u8> {
        serde_json::to_vec(r.ocsf_value().unwrap_or(&serde_json::Value::Null))
            .expect("JSON values always serialise")
    }

    fn send<'a>(&'a mut self, batch: &'a [Encoded]) -> SendFuture<'a> {
        Box::pin(async move {
            for r in batch {
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let req = self
                    .client
                    .post(&self.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("webhook-id", &r.id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", self.signer.sign(&r.id, ts, &r.bytes))
                    .body(r.bytes.clone());
                http::send(req).await?;
            }
            Ok(())
        })
    }
}

impl SinkKind for WebhookConfig {
    fn kind(&self) -> &'static str {
        "webhook"
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
        Ok(Box::new(WebhookTransport::new(name, self, env)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        // The vector every Standard Webhooks / Svix library is tested with:
        // a receiver's own library will verify what Warden sends.
        let s = WebhookSigner::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            s.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        // The prefix is optional; a different body or time signs differently.
        let bare = WebhookSigner::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            bare.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_ne!(
            s.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265331,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn bad_secrets_are_refused_with_a_reason() {
        assert!(WebhookSigner::new("whsec_not base64!")
            .unwrap_err()
            .contains("base64"));
        assert!(WebhookSigner::new("whsec_c2hvcnQ=")
            .unwrap_err()
            .contains("bytes"));
    }
}
