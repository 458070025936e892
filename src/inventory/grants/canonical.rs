//! Warden's canonical grants file (`schemas/grants.schema.json`): identity
//! to action patterns, for systems that have no policy language of their
//! own (agent tool permissions, API gateways).

use super::{strings, Grant, GrantSet, GrantSystem, Matcher, Pattern};
use serde_json::Value;

pub(super) fn read(set: &mut GrantSet, doc: &Value, path: &str) -> Result<(), (String, String)> {
    if let Some(v) = doc.get("version") {
        if v.as_u64() != Some(1) {
            return Err(("/version".into(), "only version 1 is read".into()));
        }
    }
    let grants = doc
        .get("grants")
        .and_then(Value::as_array)
        .ok_or_else(|| ("/grants".to_string(), "expected an array".to_string()))?;
    for (i, g) in grants.iter().enumerate() {
        let at = format!("/grants/{i}");
        let identity = g
            .get("identity")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| (format!("{at}/identity"), "missing or empty".to_string()))?;
        let actions = strings(
            g.get("actions").unwrap_or(&Value::Null),
            &format!("{at}/actions"),
        )?;
        if let Some(owner) = g.get("owner").and_then(Value::as_str) {
            set.set_owner(identity, owner);
        }
        set.known(identity);
        for (j, a) in actions.iter().enumerate() {
            if a.is_empty() {
                return Err((format!("{at}/actions/{j}"), "an empty pattern".into()));
            }
            set.add(
                identity,
                Grant {
                    display: a.clone(),
                    source: format!("{path}: grants[{i}]"),
                    system: GrantSystem::Canonical,
                    matcher: Matcher::Canonical(Pattern::exact(a)),
                },
            );
        }
    }
    Ok(())
}
