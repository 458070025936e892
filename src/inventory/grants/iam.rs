//! AWS IAM: identity policies (inline and managed, a user's groups'
//! included) from `aws iam get-account-authorization-details`, or one policy
//! document attached to a named principal. Roles and users are keyed by ARN,
//! as Warden's CloudTrail decoder names them.

use super::{strings, Grant, GrantSet, GrantSystem, Matcher, Pattern};
use serde_json::Value;

type Shape = (String, String);

pub(super) fn is_authorization_details(doc: &Value) -> bool {
    [
        "RoleDetailList",
        "UserDetailList",
        "GroupDetailList",
        "Policies",
    ]
    .iter()
    .any(|k| doc.get(k).is_some())
}

/// A document as the API gives it (URL-encoded JSON text) or as the CLI
/// gives it (decoded into the JSON).
fn document(v: &Value, at: &str) -> Result<Value, Shape> {
    match v {
        Value::String(s) => {
            let text =
                percent_decode(s).ok_or_else(|| (at.to_string(), "bad URL encoding".into()))?;
            serde_json::from_str(&text)
                .map_err(|e| (at.to_string(), format!("policy document: {e}")))
        }
        Value::Object(_) => Ok(v.clone()),
        _ => Err((at.into(), "expected a policy document".into())),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn is_everything(resources: &[String]) -> bool {
    resources.iter().any(|r| r == "*")
}

/// Reads one identity policy document's statements as `principal`'s grants.
pub(super) fn policy_document(
    set: &mut GrantSet,
    principal: &str,
    doc: &Value,
    source: &str,
) -> Result<(), Shape> {
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => {
            return Err((
                "/Statement".into(),
                "missing, or not an object or array".into(),
            ))
        }
    };
    for (i, st) in statements.iter().enumerate() {
        let at = format!("/Statement/{i}");
        let effect = st.get("Effect").and_then(Value::as_str);
        let allow = match effect {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => {
                return Err((
                    format!("{at}/Effect"),
                    "expected \"Allow\" or \"Deny\"".into(),
                ))
            }
        };
        let actions = st
            .get("Action")
            .map(|v| strings(v, &format!("{at}/Action")))
            .transpose()?;
        let not_actions = st
            .get("NotAction")
            .map(|v| strings(v, &format!("{at}/NotAction")))
            .transpose()?;
        let resources = match st.get("Resource").or(st.get("NotResource")) {
            Some(v) => strings(v, &format!("{at}/Resource"))?,
            None => return Err((at, "neither Resource nor NotResource".into())),
        };
        let conditional = st.get("Condition").is_some();
        let scope = if st.get("NotResource").is_some() {
            format!("NotResource {}", resources.join(", "))
        } else if is_everything(&resources) {
            String::new()
        } else {
            resources.join(", ")
        };
        let sid = st
            .get("Sid")
            .and_then(Value::as_str)
            .map(|s| format!(" {s}"))
            .unwrap_or_default();
        let mut where_ = format!("{source}, statement {i}{sid}");
        if !scope.is_empty() {
            where_.push_str(&format!(" on {scope}"));
        }
        if conditional {
            where_.push_str(" (with conditions)");
        }
        match (actions, not_actions, allow) {
            (Some(a), None, true) => {
                for p in a {
                    set.add(
                        principal,
                        Grant {
                            display: p.clone(),
                            source: where_.clone(),
                            system: GrantSystem::Iam,
                            matcher: Matcher::Iam {
                                actions: Some(vec![Pattern::iam(&p)]),
                                except: Vec::new(),
                            },
                        },
                    );
                }
            }
            (None, Some(n), true) => set.add(
                principal,
                Grant {
                    display: format!("NotAction {}", n.join(", ")),
                    source: where_,
                    system: GrantSystem::Iam,
                    matcher: Matcher::Iam {
                        actions: None,
                        except: n.iter().map(|p| Pattern::iam(p)).collect(),
                    },
                },
            ),
            (Some(a), None, false) => {
                // Only a deny that holds everywhere and always takes an
                // action away at the level this review works at.
                if !conditional && st.get("NotResource").is_none() && is_everything(&resources) {
                    for p in a {
                        set.deny(principal, Pattern::iam(&p));
                    }
                }
            }
            (None, Some(_), false) => {}
            _ => return Err((at, "exactly one of Action and NotAction".into())),
        }
    }
    Ok(())
}

fn list<'a>(doc: &'a Value, key: &str) -> Result<&'a [Value], Shape> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err((format!("/{key}"), "expected an array".into())),
    }
}

fn text<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, Shape> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| (format!("{at}/{key}"), "missing or not a string".into()))
}

/// Inline policies (`RolePolicyList`...) and attached managed policies of
/// one role, user or group, as grants of `principal`.
fn policies_of(
    set: &mut GrantSet,
    managed: &rustc_hash::FxHashMap<String, Value>,
    principal: &str,
    entry: &Value,
    inline_key: &str,
    at: &str,
    from: &str,
) -> Result<(), Shape> {
    for (i, p) in list(entry, inline_key)
        .map_err(|(k, m)| (format!("{at}{k}"), m))?
        .iter()
        .enumerate()
    {
        let pat = format!("{at}/{inline_key}/{i}");
        let name = text(p, "PolicyName", &pat)?;
        let doc = document(
            p.get("PolicyDocument").unwrap_or(&Value::Null),
            &format!("{pat}/PolicyDocument"),
        )?;
        policy_document(
            set,
            principal,
            &doc,
            &format!("{from}, inline policy {name}"),
        )
        .map_err(|(k, m)| (format!("{pat}/PolicyDocument{k}"), m))?;
    }
    for (i, p) in list(entry, "AttachedManagedPolicies")
        .map_err(|(k, m)| (format!("{at}{k}"), m))?
        .iter()
        .enumerate()
    {
        let arn = text(p, "PolicyArn", &format!("{at}/AttachedManagedPolicies/{i}"))?;
        match managed.get(arn) {
            Some(doc) => policy_document(set, principal, doc, &format!("{from}, managed policy {arn}"))
                .map_err(|(k, m)| (format!("/Policies[{arn}]{k}"), m))?,
            None => set.unresolved.push(format!(
                "{principal}: managed policy {arn} is not in the file (export with AWSManagedPolicy too); its grants are not counted"
            )),
        }
    }
    Ok(())
}

pub(super) fn authorization_details(
    set: &mut GrantSet,
    doc: &Value,
    path: &str,
) -> Result<(), Shape> {
    let mut managed = rustc_hash::FxHashMap::default();
    for (i, p) in list(doc, "Policies")?.iter().enumerate() {
        let at = format!("/Policies/{i}");
        let arn = text(p, "Arn", &at)?;
        let versions = list(p, "PolicyVersionList").map_err(|(k, m)| (format!("{at}{k}"), m))?;
        let default = p.get("DefaultVersionId").and_then(Value::as_str);
        if let Some((j, v)) = versions.iter().enumerate().find(|(_, v)| {
            v.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true)
                || default.is_some_and(|d| v.get("VersionId").and_then(Value::as_str) == Some(d))
        }) {
            let d = document(
                v.get("Document").unwrap_or(&Value::Null),
                &format!("{at}/PolicyVersionList/{j}/Document"),
            )?;
            managed.insert(arn.to_string(), d);
        }
    }
    let mut groups: rustc_hash::FxHashMap<&str, (usize, &Value)> = rustc_hash::FxHashMap::default();
    for (i, g) in list(doc, "GroupDetailList")?.iter().enumerate() {
        groups.insert(
            text(g, "GroupName", &format!("/GroupDetailList/{i}"))?,
            (i, g),
        );
    }
    for (i, r) in list(doc, "RoleDetailList")?.iter().enumerate() {
        let at = format!("/RoleDetailList/{i}");
        let arn = text(r, "Arn", &at)?;
        set.known(arn);
        policies_of(
            set,
            &managed,
            arn,
            r,
            "RolePolicyList",
            &at,
            &format!("{path}: role {arn}"),
        )?;
    }
    for (i, u) in list(doc, "UserDetailList")?.iter().enumerate() {
        let at = format!("/UserDetailList/{i}");
        let arn = text(u, "Arn", &at)?;
        set.known(arn);
        policies_of(
            set,
            &managed,
            arn,
            u,
            "UserPolicyList",
            &at,
            &format!("{path}: user {arn}"),
        )?;
        for g in strings(
            u.get("GroupList").unwrap_or(&Value::Null),
            &format!("{at}/GroupList"),
        )? {
            match groups.get(g.as_str()) {
                Some(&(gi, gv)) => policies_of(
                    set,
                    &managed,
                    arn,
                    gv,
                    "GroupPolicyList",
                    &format!("/GroupDetailList/{gi}"),
                    &format!("{path}: group {g} of {arn}"),
                )?,
                None => set.unresolved.push(format!(
                    "{arn}: group {g} is not in the file; its grants are not counted"
                )),
            }
        }
    }
    Ok(())
}
