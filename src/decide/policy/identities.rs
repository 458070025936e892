//! The identities file: what policies may know about an identity that its
//! calls do not carry (home tenant, owner, network, end of life), in
//! Cedar's entities JSON format so the same file serves Cedar tooling:
//!
//! ```json
//! [{"uid": {"type": "Agent", "id": "svc-billing"},
//!   "attrs": {"tenant": "acme", "owner": "team-billing",
//!             "network": {"__extn": {"fn": "ip", "arg": "10.20.0.0/16"}},
//!             "end_of_life": 1798761600},
//!   "parents": []}]
//! ```
//!
//! `network` may also be a plain string; `end_of_life` is seconds since
//! the epoch.

use super::model::{IpRange, Registered, AGENT};
use super::PolicyError;
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::path::Path;

/// At most this many identities (an inventory, not a log).
const MAX_IDENTITIES: usize = 2_000_000;
const MAX_BYTES: u64 = 512 << 20;

/// Reads and checks an identities file.
pub fn load_identities(path: &Path) -> Result<FxHashMap<String, Registered>, PolicyError> {
    let file = path.display().to_string();
    let fail = |message: String| PolicyError::Identities {
        file: file.clone(),
        message,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .len();
    if len > MAX_BYTES {
        return Err(fail(format!(
            "{len} bytes, over the {MAX_BYTES}-byte bound"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    parse(&text).map_err(fail)
}

fn string(v: &Value, what: &str) -> Result<String, String> {
    match v.as_str() {
        Some(s) if !s.is_empty() && s.len() <= 1024 => Ok(s.to_string()),
        _ => Err(format!("{what} must be a string of 1 to 1024 bytes")),
    }
}

pub(crate) fn parse(text: &str) -> Result<FxHashMap<String, Registered>, String> {
    let list: Vec<Value> = serde_json::from_str(text).map_err(|e| {
        format!(
            "line {} column {}: not a JSON array of entities: {e}",
            e.line(),
            e.column()
        )
    })?;
    if list.len() > MAX_IDENTITIES {
        return Err(format!("more than {MAX_IDENTITIES} identities"));
    }
    let mut out = FxHashMap::default();
    for (i, e) in list.iter().enumerate() {
        let at = |m: String| format!("entity {i}: {m}");
        let uid = e.get("uid").ok_or_else(|| at("no uid".into()))?;
        let uid = uid.get("__entity").unwrap_or(uid);
        if uid.get("type").and_then(Value::as_str) != Some(AGENT) {
            return Err(at(format!("uid.type must be {AGENT:?}")));
        }
        let id = string(uid.get("id").unwrap_or(&Value::Null), "uid.id").map_err(at)?;
        if e.get("parents")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty())
        {
            return Err(at(
                "parents are not supported (Warden's model has no hierarchy)".into(),
            ));
        }
        let mut r = Registered::default();
        let attrs = e.get("attrs").and_then(Value::as_object);
        for (k, v) in attrs.into_iter().flatten() {
            let field = format!("attrs.{k}");
            match k.as_str() {
                "tenant" => r.tenant = Some(string(v, &field).map_err(at)?),
                "owner" => r.owner = Some(string(v, &field).map_err(at)?),
                "network" => {
                    let text = v
                        .get("__extn")
                        .filter(|x| x.get("fn").and_then(Value::as_str) == Some("ip"))
                        .and_then(|x| x.get("arg"))
                        .unwrap_or(v);
                    let s = string(text, &field).map_err(at)?;
                    r.network = Some(IpRange::parse(&s).ok_or_else(|| {
                        at(format!("{field}: {s:?} is not an address or CIDR range"))
                    })?);
                }
                "end_of_life" => {
                    r.end_of_life = Some(v.as_i64().ok_or_else(|| {
                        at(format!(
                            "{field} must be an integer (seconds since the epoch)"
                        ))
                    })?)
                }
                other => {
                    return Err(at(format!(
                        "attrs.{other} is not in the model (tenant, owner, network, end_of_life)"
                    )))
                }
            }
        }
        if out.insert(id.clone(), r).is_some() {
            return Err(at(format!("{id:?} is listed twice")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cedar_entities_and_names_the_bad_one() {
        let ok = r#"[{"uid":{"type":"Agent","id":"a"},"attrs":{"tenant":"t","network":{"__extn":{"fn":"ip","arg":"10.0.0.0/8"}},"end_of_life":5},"parents":[]},
                     {"uid":{"type":"Agent","id":"b"},"attrs":{"network":"192.168.1.0/24"}}]"#;
        let m = parse(ok).unwrap();
        assert_eq!(m["a"].end_of_life, Some(5));
        assert!(m["b"].network.is_some());
        let bad = r#"[{"uid":{"type":"Agent","id":"a"},"attrs":{}},{"uid":{"type":"Agent","id":"b"},"attrs":{"network":"10.0.0.0/99"}}]"#;
        let e = parse(bad).unwrap_err();
        assert!(e.starts_with("entity 1: attrs.network"), "{e}");
        assert!(parse(r#"[{"uid":{"type":"User","id":"a"}}]"#)
            .unwrap_err()
            .contains("uid.type"));
        assert!(parse("{").unwrap_err().contains("line 1"));
    }
}
