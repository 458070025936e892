//! SSF push delivery (RFC 8935): each signed SET POSTed on its own to the
//! receiver's endpoint as `application/secevent+jwt`. The receiver answers
//! 202 when it has taken the SET; a 400 carries `{"err", "description"}`
//! (invalid_key, invalid_issuer, …), which retrying cannot fix. The `jti`
//! is the same on every retry, so a receiver that saw it already can ignore
//! the copy.

use super::config::{DeliveryConfig, Env};
use super::delivery::{Encoded, SendFuture, Transport};
use super::{http, Route, SinkConfigError, SinkKind};
use crate::emit::Body;
use crate::emit::OutputRecord;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
/// A `type = "ssf_push"` sink: revocation SETs pushed to an OpenID SSF
/// receiver (RFC 8935).
pub struct SsfPushConfig {
    #[serde(default)]
    /// The sink's name in logs and metrics; empty: `ssf_push`.
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
    /// Extra PEM CA certificates to trust (besides the system's).
    pub ca_file: String,
    /// Allow an `http://` url although the Authorization header goes with
    /// every request (a trusted network only; refused otherwise).
    #[serde(default)]
    pub allow_insecure_http: bool,
    #[serde(default)]
    /// Queueing and retries.
    pub delivery: DeliveryConfig,
}

pub(crate) struct SsfPushTransport {
    client: reqwest::Client,
    url: String,
    authorization: Option<String>,
}

impl SsfPushTransport {
    pub fn new(
        name: &str,
        c: &SsfPushConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SsfPushTransport, SinkConfigError> {
        let authorization = if c.authorization_env.is_empty() {
            None
        } else {
            Some(http::secret(
                name,
                &c.authorization_env,
                "Authorization header for the SSF receiver",
                env,
            )?)
        };
        Ok(SsfPushTransport {
            client: http::client(
                name,
                &c.url,
                &c.ca_file,
                c.delivery.timeout_ms,
                http::Plaintext::for_credential(
                    !c.authorization_env.is_empty(),
                    c.allow_insecure_http,
                ),
            )?,
            url: c.url.clone(),
            authorization,
        })
    }
}

impl Transport for SsfPushTransport {
    fn encode(&self, r: &OutputRecord) -> Vec<u8> {
        match &r.body {
            Body::Set(t) => t.as_bytes().to_vec(),
            // Routing sends only SETs here.
            Body::Ocsf(_) => Vec::new(),
        }
    }

    fn send<'a>(&'a mut self, batch: &'a [Encoded]) -> SendFuture<'a> {
        Box::pin(async move {
            for r in batch {
                let mut req = self
                    .client
                    .post(&self.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/secevent+jwt")
                    .header(reqwest::header::ACCEPT, "application/json")
                    .body(r.bytes.clone());
                if let Some(a) = &self.authorization {
                    req = req.header(reqwest::header::AUTHORIZATION, a);
                }
                http::send(req).await?;
            }
            Ok(())
        })
    }
}

impl SinkKind for SsfPushConfig {
    fn kind(&self) -> &'static str {
        "ssf_push"
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn delivery(&self) -> &DeliveryConfig {
        &self.delivery
    }
    fn route(&self) -> Route {
        Route::sets(self.include_shadow)
    }
    fn build(&self, name: &str, env: Env<'_>) -> Result<Box<dyn Transport>, SinkConfigError> {
        Ok(Box::new(SsfPushTransport::new(name, self, env)?))
    }
}
