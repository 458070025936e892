//! What receivers of Warden's revocations discover it by (OpenID Shared
//! Signals Framework 1.0, "Transmitter Configuration Metadata"): the
//! metadata document served at `/.well-known/ssf-configuration` and the
//! JWKS at its `jwks_uri`. Both are fixed for a process's life, so they are
//! rendered once at start-up and served as they are.
//!
//! The JWKS holds the active signing key and every key in `[signing]
//! publish_jwks`, so a key can be published before it signs and kept after
//! it stops (rotation, docs/operations.md). Only public keys are ever
//! served: a published file holding private members is refused.

use super::set::{SetError, SetSigner, SigningConfig, CREDENTIAL_CHANGE, SESSION_REVOKED};
use serde_json::{json, Value};

/// RFC 8935 push delivery, which `ssf_push` sinks perform.
pub const PUSH_DELIVERY: &str = "urn:ietf:rfc:8935";

/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The two documents, rendered.
#[derive(Debug, Clone)]
pub struct TransmitterDocuments {
    /// `/.well-known/ssf-configuration`.
    pub configuration: String,
    /// `/jwks.json`.
    pub jwks: String,
}

impl TransmitterDocuments {
    /// Renders both from the signing config, the active signer, and whether
    /// any sink pushes SETs (RFC 8935).
    pub fn new(
        c: &SigningConfig,
        signer: &SetSigner,
        push: bool,
    ) -> Result<TransmitterDocuments, SetError> {
        let jwks = published_jwks(c, signer)?;
        Ok(TransmitterDocuments {
            configuration: configuration(c, push).to_string(),
            jwks: jwks.to_string(),
        })
    }
}

/// Where the JWKS is, as receivers are told.
fn jwks_uri(c: &SigningConfig) -> String {
    if c.jwks_uri.is_empty() {
        format!("{}/jwks.json", c.issuer.trim_end_matches('/'))
    } else {
        c.jwks_uri.clone()
    }
}

/// The transmitter configuration metadata. `events_supported` is not a
/// metadata member of SSF 1.0 (it belongs to a stream's configuration);
/// Warden has one fixed set of events and states it here too, and SSF
/// receivers ignore members they do not know.
fn configuration(c: &SigningConfig, push: bool) -> Value {
    let delivery: Vec<&str> = if push { vec![PUSH_DELIVERY] } else { vec![] };
    json!({
        "spec_version": "1_0",
        "issuer": c.issuer,
        "jwks_uri": jwks_uri(c),
        "delivery_methods_supported": delivery,
        "events_supported": [SESSION_REVOKED, CREDENTIAL_CHANGE],
    })
}

/// The active key first, then every published one not already present
/// (by `kid`).
fn published_jwks(c: &SigningConfig, signer: &SetSigner) -> Result<Value, SetError> {
    let mut keys = vec![signer.jwk().clone()];
    for path in &c.publish_jwks {
        let bad = |reason: String| SetError::Jwks {
            path: path.clone(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let listed = match doc.get("keys") {
            Some(Value::Array(ks)) => ks.clone(),
            Some(_) => return Err(bad("\"keys\" is not an array".into())),
            None => vec![doc],
        };
        for (i, k) in listed.into_iter().enumerate() {
            let obj = k
                .as_object()
                .ok_or_else(|| bad(format!("key {i} is not an object")))?;
            if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
                return Err(bad(format!(
                    "key {i} has the private member \"{m}\": publish public keys only"
                )));
            }
            let kid = obj.get("kid").and_then(Value::as_str).unwrap_or("");
            if kid.is_empty() || obj.get("kty").and_then(Value::as_str).is_none() {
                return Err(bad(format!("key {i} needs \"kty\" and a \"kid\"")));
            }
            // The key must be usable: a receiver would fail on it later.
            let _: jsonwebtoken::jwk::Jwk = serde_json::from_value(k.clone())
                .map_err(|e| bad(format!("key {i} ({kid}) is not a valid JWK: {e}")))?;
            if !keys.iter().any(|have| have["kid"] == kid) {
                keys.push(k);
            }
        }
    }
    Ok(json!({ "keys": keys }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::set::generate_es256;

    fn signer() -> (SetSigner, SigningConfig) {
        let c = SigningConfig {
            issuer: "https://warden.example.com/".into(),
            ..SigningConfig::default()
        };
        let (private, _, _) = generate_es256();
        (SetSigner::from_pem(&private, "test", &c).unwrap(), c)
    }

    fn write(dir: &std::path::Path, name: &str, v: &Value) -> String {
        let p = dir.join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p.to_string_lossy().into_owned()
    }

    #[test]
    fn metadata_names_the_issuer_its_jwks_and_events() {
        let (s, c) = signer();
        let d = TransmitterDocuments::new(&c, &s, true).unwrap();
        let m: Value = serde_json::from_str(&d.configuration).unwrap();
        assert_eq!(m["issuer"], "https://warden.example.com/");
        assert_eq!(m["jwks_uri"], "https://warden.example.com/jwks.json");
        assert_eq!(m["spec_version"], "1_0");
        assert_eq!(m["delivery_methods_supported"], json!([PUSH_DELIVERY]));
        assert_eq!(
            m["events_supported"],
            json!([SESSION_REVOKED, CREDENTIAL_CHANGE])
        );
        let d = TransmitterDocuments::new(&c, &s, false).unwrap();
        let m: Value = serde_json::from_str(&d.configuration).unwrap();
        assert_eq!(m["delivery_methods_supported"], json!([]));
    }

    #[test]
    fn published_keys_join_the_active_one_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let (s, mut c) = signer();
        let (_, _, next) = generate_es256();
        let (_, _, old) = generate_es256();
        c.publish_jwks = vec![
            write(dir.path(), "set.json", &json!({"keys": [next, s.jwk()]})),
            write(dir.path(), "one.json", &old),
        ];
        let d = TransmitterDocuments::new(&c, &s, false).unwrap();
        let jwks: Value = serde_json::from_str(&d.jwks).unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(
            kids,
            [
                s.kid(),
                next["kid"].as_str().unwrap(),
                old["kid"].as_str().unwrap()
            ]
        );
        // Every served key verifies as a JWKS (what receivers load).
        crate::emit::set::Verifier::from_jwks(&d.jwks).unwrap();
    }

    #[test]
    fn a_private_key_is_never_published() {
        let dir = tempfile::tempdir().unwrap();
        let (s, mut c) = signer();
        let (_, _, mut leaked) = generate_es256();
        leaked["d"] = json!("c2VjcmV0");
        c.publish_jwks = vec![write(dir.path(), "leak.json", &json!({"keys": [leaked]}))];
        let e = TransmitterDocuments::new(&c, &s, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("leak.json") && e.contains("\"d\""), "{e}");
    }

    #[test]
    fn a_bad_published_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (s, mut c) = signer();
        for (name, body, says) in [
            ("notjson.json", "{", "not JSON"),
            ("nokid.json", r#"{"keys":[{"kty":"EC"}]}"#, "kid"),
            ("badkeys.json", r#"{"keys":{}}"#, "not an array"),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            c.publish_jwks = vec![p.to_string_lossy().into_owned()];
            let e = TransmitterDocuments::new(&c, &s, false)
                .unwrap_err()
                .to_string();
            assert!(e.contains(name) && e.contains(says), "{e}");
        }
        c.publish_jwks = vec![dir
            .path()
            .join("absent.json")
            .to_string_lossy()
            .into_owned()];
        assert!(TransmitterDocuments::new(&c, &s, false).is_err());
    }
}
