//! Revocations as signed Security Event Tokens (RFC 8417) carrying one
//! OpenID CAEP event each (Shared Signals 1.0): `session-revoked` when the
//! call named a session, `credential-change` (`change_type: revoke`) for the
//! agent's credential otherwise. Header `typ: secevent+jwt`, `alg` ES256 or
//! RS256 from the PEM key, `kid`; `jti` is the revocation's stable id (the
//! idempotency key), `txn` its finding's uid, `sub_id` an SSF complex subject
//! naming the agent, its session and its tenant.

use crate::decide::Revocation;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

pub(crate) const SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
pub(crate) const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";

/// `[signing]` of `warden.toml`: how revocations are signed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// PEM private key (PKCS#8 P-256 for ES256, or RSA for RS256), from
    /// `warden keys generate`. Empty: a key made for each run, with a warning.
    pub key_file: String,
    /// `kid` in every SET header; empty: the key's RFC 7638 thumbprint.
    pub key_id: String,
    /// `iss` of every SET.
    pub issuer: String,
    /// `aud` of every SET (the receivers); empty leaves it out.
    pub audience: Vec<String>,
    /// JWKS files (or single public JWKs) served beside the active key at
    /// /jwks.json: the next key before it signs, the retired one while
    /// receivers may still hold its tokens (docs/operations.md).
    pub publish_jwks: Vec<String>,
    /// `jwks_uri` in /.well-known/ssf-configuration; empty: the issuer
    /// followed by `jwks.json`.
    pub jwks_uri: String,
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            key_file: String::new(),
            key_id: String::new(),
            issuer: "https://warden.invalid/".into(),
            audience: Vec::new(),
            publish_jwks: Vec::new(),
            jwks_uri: String::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
/// Why a revocation could not be signed.
pub enum SetError {
    #[error("cannot read signing key {path}: {source}")]
    /// The private key file could not be read.
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    #[error("signing key {0}: not a PKCS#8 P-256 (ES256) or RSA (RS256) private key in PEM")]
    /// The file is not a supported private key.
    Key(String),
    #[error("published key set {path}: {reason}")]
    /// A `publish_jwks` file is unreadable, not a JWK set, or holds a
    /// private key.
    Jwks {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    #[error("signing a security event token: {0}")]
    /// Encoding or signing the token failed.
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Signs revocations. Holds the private key and the public JWK receivers
/// verify with (`warden keys generate` writes both).
#[derive(Clone)]
pub struct SetSigner {
    key: EncodingKey,
    header: Header,
    issuer: String,
    audience: Vec<String>,
    jwk: Value,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

fn pem_der(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    STANDARD.decode(body.trim()).ok()
}

/// RFC 7638 thumbprint: the default `kid`.
fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

fn ec_jwk(public_point: &[u8]) -> Value {
    // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(&public_point[1..33]),
        URL_SAFE_NO_PAD.encode(&public_point[33..65]),
    );
    let kid = thumbprint(&format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    ));
    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "alg": "ES256", "use": "sig", "kid": kid})
}

/// A new ES256 key pair: (private key PEM, public key PEM, public JWK).
pub(crate) fn generate_es256() -> (String, String, Value) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("the system RNG works");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("a key ring just made parses");
    let point = pair.public_key().as_ref();
    // SubjectPublicKeyInfo for an uncompressed P-256 point.
    let mut spki = hex_prefix();
    spki.extend_from_slice(point);
    (
        pem("PRIVATE KEY", pkcs8.as_ref()),
        pem("PUBLIC KEY", &spki),
        ec_jwk(point),
    )
}

fn hex_prefix() -> Vec<u8> {
    const P: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
    (0..P.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&P[i..i + 2], 16).expect("constant hex"))
        .collect()
}

impl SetSigner {
    /// The key named in `[signing] key_file`; without one, a key made for
    /// this process only, with a warning (receivers cannot verify its SETs
    /// after a restart).
    pub fn from_config(c: &SigningConfig) -> Result<SetSigner, SetError> {
        if c.key_file.is_empty() {
            let (private, _, jwk) = generate_es256();
            tracing::warn!(
                kid = jwk["kid"].as_str().unwrap_or(""),
                "no [signing] key_file: revocations are signed with a key made for this run only; \
                 run `warden keys generate` and configure it"
            );
            return SetSigner::from_pem(&private, "ephemeral", c);
        }
        let text = std::fs::read_to_string(&c.key_file).map_err(|source| SetError::Read {
            path: c.key_file.clone(),
            source,
        })?;
        SetSigner::from_pem(&text, &c.key_file, c)
    }

    pub(crate) fn from_pem(
        text: &str,
        name: &str,
        c: &SigningConfig,
    ) -> Result<SetSigner, SetError> {
        let der = pem_der(text).ok_or_else(|| SetError::Key(name.to_string()))?;
        let rng = SystemRandom::new();
        let (alg, key, mut jwk) = if let Ok(pair) =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
        {
            let key = EncodingKey::from_ec_der(&der);
            (Algorithm::ES256, key, ec_jwk(pair.public_key().as_ref()))
        } else if let Ok(pair) =
            RsaKeyPair::from_pkcs8(&der).or_else(|_| RsaKeyPair::from_der(&der))
        {
            let parts: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
            let n = URL_SAFE_NO_PAD.encode(&parts.n);
            let e = URL_SAFE_NO_PAD.encode(&parts.e);
            let kid = thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
            let key = EncodingKey::from_rsa_pem(text.as_bytes())?;
            let jwk =
                json!({"kty": "RSA", "n": n, "e": e, "alg": "RS256", "use": "sig", "kid": kid});
            (Algorithm::RS256, key, jwk)
        } else {
            return Err(SetError::Key(name.to_string()));
        };
        if !c.key_id.is_empty() {
            jwk["kid"] = json!(c.key_id);
        }
        let mut header = Header::new(alg);
        header.typ = Some("secevent+jwt".into());
        header.kid = jwk["kid"].as_str().map(String::from);
        Ok(SetSigner {
            key,
            header,
            issuer: c.issuer.clone(),
            audience: c.audience.clone(),
            jwk,
        })
    }

    /// The key id (`kid`) in every token's header and in the JWKS.
    pub fn kid(&self) -> &str {
        self.header.kid.as_deref().unwrap_or("")
    }

    /// The public key set receivers verify with.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk]})
    }

    /// The active key's public JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// `iss` of what it signs.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Any claims as a compact JWS of header `typ` `typ`, with this key
    /// (the decision log's checkpoints: one key vouches for all Warden says).
    pub fn sign_claims(&self, claims: &Value, typ: &str) -> Result<String, SetError> {
        let mut header = self.header.clone();
        header.typ = Some(typ.into());
        Ok(jsonwebtoken::encode(&header, claims, &self.key)?)
    }

    /// The revocation as a signed CAEP `session-revoked` SET (compact JWS).
    pub fn sign(&self, r: &Revocation) -> Result<String, SetError> {
        Ok(jsonwebtoken::encode(
            &self.header,
            &claims(r, &self.issuer, &self.audience, now_s()),
            &self.key,
        )?)
    }
}

fn now_s() -> i64 {
    crate::event::now_ms().div_euclid(1000)
}

/// The SET's claims: one CAEP event, the subject, and the links back to
/// the revocation (`jti`) and its finding (`txn`). `iat` is when the token
/// is issued (`issued_at_s`, RFC 8417 §2.2); when the revoked behaviour
/// happened is the event's `event_timestamp`. Event time is written by the
/// caller and must not date a token.
pub fn claims(r: &Revocation, issuer: &str, audience: &[String], issued_at_s: i64) -> Value {
    let ts = r.time_ms.div_euclid(1000);
    let reason = json!({"en": format!("{} (finding {})", r.reason, r.finding_uid)});
    let (event_type, event) = match &r.session_id {
        Some(_) => (
            SESSION_REVOKED,
            json!({"initiating_entity": "policy", "reason_admin": reason, "event_timestamp": ts}),
        ),
        None => (
            CREDENTIAL_CHANGE,
            json!({
                "credential_type": r.agent_type.as_str().replace('_', "-"),
                "change_type": "revoke",
                "friendly_name": r.agent_id,
                "initiating_entity": "policy",
                "reason_admin": reason,
                "event_timestamp": ts,
            }),
        ),
    };
    let opaque = |id: &str| json!({"format": "opaque", "id": id});
    let mut subject = json!({"format": "complex", "user": opaque(&r.agent_id)});
    if let Some(s) = &r.session_id {
        subject["session"] = opaque(s);
    }
    if let Some(t) = &r.tenant {
        subject["tenant"] = opaque(t);
    }
    let mut c = json!({
        "iss": issuer,
        "jti": r.uid,
        "iat": issued_at_s,
        "txn": r.finding_uid,
        "sub_id": subject,
        "events": {event_type: event},
    });
    match audience {
        [] => {}
        [one] => c["aud"] = json!(one),
        many => c["aud"] = json!(many),
    }
    if r.shadow {
        // Decided in shadow mode: to be watched, never enforced.
        c["https://warden.dev/claims/shadow"] = json!(true);
    }
    c
}

/// What a receiver checks in a SET's claims besides its signature.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The `iss` it must carry, if checked.
    pub issuer: Option<String>,
    /// An audience `aud` must name, if checked.
    pub audience: Option<String>,
    /// Now, in seconds since the epoch.
    pub now_s: i64,
    /// How far `iat` may be ahead of `now_s` (clock skew), in seconds.
    pub leeway_s: i64,
}

impl Expect {
    /// No `iss` or `aud` check; `iat` at most a minute ahead of this
    /// machine's clock.
    pub fn now() -> Expect {
        Expect {
            issuer: None,
            audience: None,
            now_s: now_s(),
            leeway_s: 60,
        }
    }
}

/// Verification keys: from a public key PEM (EC or RSA) or a JWKS.
pub struct Verifier {
    keys: Vec<(Option<String>, DecodingKey, Algorithm)>,
}

impl Verifier {
    /// Keys from a PEM public key (EC P-256 or RSA).
    pub fn from_public_pem(text: &str) -> Result<Verifier, String> {
        let b = text.as_bytes();
        let keys = match DecodingKey::from_ec_pem(b) {
            Ok(k) => vec![(None, k, Algorithm::ES256)],
            Err(_) => vec![(
                None,
                DecodingKey::from_rsa_pem(b)
                    .map_err(|e| format!("not an EC or RSA public key: {e}"))?,
                Algorithm::RS256,
            )],
        };
        Ok(Verifier { keys })
    }

    /// Keys from a JWK Set (each key matched by `kid`).
    pub fn from_jwks(text: &str) -> Result<Verifier, String> {
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(text).map_err(|e| format!("not a JWKS: {e}"))?;
        let mut keys = Vec::new();
        for k in &set.keys {
            let alg = match &k.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                _ => continue,
            };
            let key = DecodingKey::from_jwk(k).map_err(|e| format!("JWKS key: {e}"))?;
            keys.push((k.common.key_id.clone(), key, alg));
        }
        if keys.is_empty() {
            return Err("the JWKS has no EC or RSA signing key".into());
        }
        Ok(Verifier { keys })
    }

    /// Checks one SET: signature (by `kid` when the JWKS names keys), `typ`,
    /// and that it carries exactly one event. Returns header and claims.
    /// Verifies the signature and the SET's shape, then `expect`'s claims.
    pub fn verify_claims(&self, token: &str, expect: &Expect) -> Result<(Value, Value), String> {
        let (header, claims) = self.verify(token)?;
        let iat = claims["iat"]
            .as_i64()
            .ok_or("iat is missing or not a number")?;
        if iat > expect.now_s.saturating_add(expect.leeway_s) {
            return Err(format!(
                "iat {iat} is {} s in the future",
                iat.saturating_sub(expect.now_s)
            ));
        }
        if let Some(want) = &expect.issuer {
            if claims["iss"].as_str() != Some(want.as_str()) {
                return Err(format!("iss is {}, not {want:?}", claims["iss"]));
            }
        }
        if let Some(want) = &expect.audience {
            let found = match &claims["aud"] {
                Value::String(s) => s == want,
                Value::Array(a) => a.iter().any(|v| v.as_str() == Some(want.as_str())),
                _ => false,
            };
            if !found {
                return Err(format!(
                    "aud is {}, which does not name {want:?}",
                    claims["aud"]
                ));
            }
        }
        Ok((header, claims))
    }

    /// Verifies the signature and the SET's shape (`typ`, one event).
    pub fn verify(&self, token: &str) -> Result<(Value, Value), String> {
        let (header, claims) = self.verify_typed(token, "secevent+jwt")?;
        let events = claims["events"].as_object().map_or(0, |e| e.len());
        if events != 1 {
            return Err(format!("carries {events} events, a SET carries one"));
        }
        Ok((header, claims))
    }

    /// Verifies a compact JWS of header `typ` `typ` (by `kid` when the keys
    /// name one) and returns its header and claims.
    pub fn verify_typed(&self, token: &str, typ: &str) -> Result<(Value, Value), String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("header: {e}"))?;
        if header.typ.as_deref() != Some(typ) {
            return Err(format!("typ is {:?}, not {typ}", header.typ));
        }
        let mut last = "no key matches its kid and alg".to_string();
        for (kid, key, alg) in &self.keys {
            if *alg != header.alg || (kid.is_some() && header.kid.is_some() && *kid != header.kid) {
                continue;
            }
            let mut v = Validation::new(*alg);
            // SETs carry no `exp` (RFC 8417 §2.2) and name their audience
            // for the receiver to check, not us.
            v.required_spec_claims.clear();
            v.validate_exp = false;
            v.validate_aud = false;
            match jsonwebtoken::decode::<Value>(token, key, &v) {
                Ok(data) => {
                    let header = serde_json::to_value(&data.header).unwrap_or(Value::Null);
                    return Ok((header, data.claims));
                }
                Err(e) => last = format!("signature: {e}"),
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AgentType;

    fn revocation(session: Option<&str>) -> Revocation {
        Revocation {
            uid: "wdn-r-00000000000000000000000000000001".into(),
            finding_uid: "wdn-f-00000000000000000000000000000002".into(),
            time_ms: 1_795_132_800_123,
            agent_id: "svc-a".into(),
            agent_type: AgentType::ApiKey,
            tenant: Some("acme".into()),
            session_id: session.map(String::from),
            risk: 92,
            reason: "risk 92".into(),
            shadow: false,
        }
    }

    fn cfg() -> SigningConfig {
        SigningConfig {
            issuer: "https://warden.example/".into(),
            audience: vec!["https://idp.example/ssf".into()],
            ..SigningConfig::default()
        }
    }

    #[test]
    fn a_receiver_checks_issuer_audience_and_a_future_iat() {
        let (private, public, _) = generate_es256();
        let signer = SetSigner::from_pem(&private, "test", &cfg()).unwrap();
        let token = signer.sign(&revocation(Some("tok-1"))).unwrap();
        let v = Verifier::from_public_pem(&public).unwrap();
        let expect = |iss: &str, aud: &str| Expect {
            issuer: Some(iss.into()),
            audience: Some(aud.into()),
            ..Expect::now()
        };
        let ok = expect("https://warden.example/", "https://idp.example/ssf");
        assert!(v.verify_claims(&token, &ok).is_ok());
        let e = v
            .verify_claims(&token, &expect("https://other/", "https://idp.example/ssf"))
            .unwrap_err();
        assert!(e.contains("iss"), "{e}");
        let e = v
            .verify_claims(&token, &expect("https://warden.example/", "https://rp/"))
            .unwrap_err();
        assert!(e.contains("aud"), "{e}");
        // A receiver whose clock reads an hour earlier sees iat in the future.
        let behind = Expect {
            now_s: ok.now_s - 3600,
            ..ok
        };
        let e = v.verify_claims(&token, &behind).unwrap_err();
        assert!(e.contains("in the future"), "{e}");
    }

    #[test]
    fn es256_sets_round_trip_through_pem_and_jwks() {
        let (private, public, jwk) = generate_es256();
        let signer = SetSigner::from_pem(&private, "test", &cfg()).unwrap();
        assert_eq!(signer.kid(), jwk["kid"].as_str().unwrap());
        let token = signer.sign(&revocation(Some("tok-1"))).unwrap();
        for v in [
            Verifier::from_public_pem(&public).unwrap(),
            Verifier::from_jwks(&signer.jwks().to_string()).unwrap(),
        ] {
            let (h, c) = v.verify(&token).unwrap();
            assert_eq!(h["typ"], "secevent+jwt");
            assert_eq!(h["alg"], "ES256");
            assert_eq!(c["jti"], "wdn-r-00000000000000000000000000000001");
            assert_eq!(c["txn"], "wdn-f-00000000000000000000000000000002");
            assert_eq!(c["aud"], "https://idp.example/ssf");
            assert_eq!(
                c["events"][SESSION_REVOKED]["event_timestamp"],
                1_795_132_800
            );
            let iat = c["iat"].as_i64().unwrap();
            assert!((iat - now_s()).abs() < 60, "iat is the issuing time: {iat}");
            assert_eq!(c["sub_id"]["format"], "complex");
            assert_eq!(c["sub_id"]["user"]["id"], "svc-a");
            assert_eq!(c["sub_id"]["session"]["id"], "tok-1");
            assert!(c["events"][SESSION_REVOKED]["reason_admin"]["en"].is_string());
        }
        // Tampering with the claims breaks the signature.
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["sub_id"]["user"]["id"] = json!("someone-else");
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        let forged = parts.join(".");
        assert!(Verifier::from_public_pem(&public)
            .unwrap()
            .verify(&forged)
            .is_err());
        // Another key does not verify it.
        let (_, other, _) = generate_es256();
        assert!(Verifier::from_public_pem(&other)
            .unwrap()
            .verify(&token)
            .is_err());
    }

    #[test]
    fn a_credential_revocation_is_a_caep_credential_change() {
        let c = claims(&revocation(None), "iss", &[], 1_800_000_000);
        let e = &c["events"][CREDENTIAL_CHANGE];
        assert_eq!(e["change_type"], "revoke");
        assert_eq!(e["credential_type"], "api-key");
        assert!(c.get("aud").is_none());
        assert!(c["sub_id"].get("session").is_none());
        assert_eq!(c["events"].as_object().unwrap().len(), 1);
        assert!(c.get("https://warden.dev/claims/shadow").is_none());
        let shadow = Revocation {
            shadow: true,
            ..revocation(None)
        };
        assert_eq!(
            claims(&shadow, "iss", &[], 1_800_000_000)["https://warden.dev/claims/shadow"],
            true
        );
    }

    #[test]
    fn garbage_keys_are_refused_with_the_file_named() {
        let e = SetSigner::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "k.pem",
            &cfg(),
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("k.pem"), "{e}");
    }
}
