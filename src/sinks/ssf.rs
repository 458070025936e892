//! SSF push delivery (RFC 8935): each signed SET POSTed on its own to the
//! receiver's endpoint as `application/secevent+jwt`. The receiver answers
//! 202 when it has taken the SET; a 400 carries `{"err", "description"}`
//! (invalid_key, invalid_issuer, …), which retrying cannot fix. The `jti`
//! is the same on every retry, so a receiver that saw it already can ignore
//! the copy.

use super::config::SsfPushConfig;
use super::delivery::{Encoded, SendError, Transport};
use super::{http, Body, SinkConfigError, SinkRecord};

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
            client: http::client(name, &c.url, &c.ca_file, c.delivery.timeout_ms)?,
            url: c.url.clone(),
            authorization,
        })
    }
}

impl Transport for SsfPushTransport {
    fn encode(&self, r: &SinkRecord) -> Vec<u8> {
        match &r.body {
            Body::Set(t) => t.as_bytes().to_vec(),
            // Routing sends only SETs here.
            Body::Ocsf(_) => Vec::new(),
        }
    }

    async fn send(&mut self, batch: &[Encoded]) -> Result<(), SendError> {
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
    }
}
