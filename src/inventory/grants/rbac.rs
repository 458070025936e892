//! Kubernetes RBAC: Roles and ClusterRoles, bound to service accounts,
//! users and groups by RoleBindings and ClusterRoleBindings, as `kubectl get
//! ... -o json` writes them (a List, single objects, or several documents).
//! Rules match as the API server's authorizer matches them (verbs, API
//! groups, resources with `*` and `*/subresource`, non-resource URLs).
//! A RoleBinding's namespace is kept in the grant's source; actions are
//! compared without it.

use super::{strings, Grant, GrantSet, GrantSystem, Matcher};
use rustc_hash::FxHashMap;
use serde_json::Value;

type Shape = (String, String);

const SA_PREFIX: &str = "system:serviceaccount:";

/// An observed Kubernetes action, as the audit decoder writes it
/// (`create pods/exec`, `get apps/deployments`, `get /healthz`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sAction<'a> {
    /// The verb.
    pub verb: &'a str,
    /// API group (`""` for the core group).
    pub group: &'a str,
    /// Resource (`pods`), empty for a non-resource URL.
    pub resource: &'a str,
    /// Subresource (`exec`), if any.
    pub subresource: Option<&'a str>,
    /// The URL of a non-resource request.
    pub url: Option<&'a str>,
}

/// Subresources the API server serves; the decoder writes `res/sub` for
/// the core group, which otherwise reads like `group/res`.
const SUBRESOURCES: &[&str] = &[
    "exec",
    "log",
    "status",
    "scale",
    "attach",
    "portforward",
    "proxy",
    "binding",
    "eviction",
    "token",
    "ephemeralcontainers",
    "finalize",
    "approval",
    "resize",
];

/// Splits an audit action into verb, group, resource and subresource.
pub fn parse_k8s_action(action: &str) -> Option<K8sAction<'_>> {
    let (verb, rest) = action.split_once(' ')?;
    if verb.is_empty() || rest.is_empty() {
        return None;
    }
    if rest.starts_with('/') {
        return Some(K8sAction {
            verb,
            group: "",
            resource: "",
            subresource: None,
            url: Some(rest),
        });
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let (group, resource, subresource) = match parts.as_slice() {
        [r] => ("", *r, None),
        [a, b] if SUBRESOURCES.contains(b) && !a.contains('.') => ("", *a, Some(*b)),
        [g, r] => (*g, *r, None),
        [g, r, s] => (*g, *r, Some(*s)),
        _ => return None,
    };
    Some(K8sAction {
        verb,
        group,
        resource,
        subresource,
        url: None,
    })
}

/// One policy rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    verbs: Vec<String>,
    groups: Vec<String>,
    resources: Vec<String>,
    urls: Vec<String>,
}

impl Rule {
    pub(crate) fn allows(&self, a: &K8sAction<'_>) -> bool {
        let any = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
        if !any(&self.verbs, a.verb) {
            return false;
        }
        if let Some(url) = a.url {
            return self.urls.iter().any(|u| {
                u == "*" || u == url || u.strip_suffix('*').is_some_and(|p| url.starts_with(p))
            });
        }
        if !any(&self.groups, a.group) {
            return false;
        }
        let combined = match a.subresource {
            Some(s) => format!("{}/{s}", a.resource),
            None => a.resource.to_string(),
        };
        self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || a.subresource
                    .is_some_and(|s| r.strip_prefix("*/") == Some(s))
        })
    }

    pub(crate) fn is_broad(&self) -> bool {
        let star = |l: &[String]| l.iter().any(|x| x.contains('*'));
        star(&self.verbs)
            || star(&self.groups)
            || star(&self.resources)
            || star(&self.urls)
            || self.verbs.len() > 1
            || self.resources.len() > 1
            || self.urls.len() > 1
    }

    fn display(&self) -> String {
        if !self.urls.is_empty() {
            return format!(
                "verbs [{}] on URLs [{}]",
                self.verbs.join(","),
                self.urls.join(",")
            );
        }
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                if g.is_empty() {
                    "\"\"".into()
                } else {
                    g.clone()
                }
            })
            .collect();
        format!(
            "verbs [{}] on apiGroups [{}] resources [{}]",
            self.verbs.join(","),
            groups.join(","),
            self.resources.join(",")
        )
    }
}

pub(super) fn is_rbac(doc: &Value) -> bool {
    doc.is_array()
        || doc.get("items").is_some_and(Value::is_array)
        || doc
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("rbac.authorization.k8s.io/") || v == "v1")
}

/// Groups a Kubernetes identity is in, whose bindings apply to it too.
pub(super) fn groups_of(identity: &str) -> Vec<String> {
    match identity
        .strip_prefix(SA_PREFIX)
        .and_then(|r| r.split_once(':'))
    {
        Some((ns, _)) => vec![
            "group:system:serviceaccounts".into(),
            format!("group:system:serviceaccounts:{ns}"),
            "group:system:authenticated".into(),
        ],
        None => Vec::new(),
    }
}

pub(super) fn is_group(key: &str) -> bool {
    key.starts_with("group:")
}

fn rules(obj: &Value, at: &str) -> Result<Vec<Rule>, Shape> {
    let Some(list) = obj.get("rules").filter(|r| !r.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| (format!("{at}/rules"), "expected an array".into()))?;
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let at = format!("{at}/rules/{i}");
            let field = |k: &str| strings(r.get(k).unwrap_or(&Value::Null), &format!("{at}/{k}"));
            let rule = Rule {
                verbs: field("verbs")?,
                groups: field("apiGroups")?,
                resources: field("resources")?,
                urls: field("nonResourceURLs")?,
            };
            if rule.verbs.is_empty() {
                return Err((format!("{at}/verbs"), "a rule needs verbs".into()));
            }
            Ok(rule)
        })
        .collect()
}

fn meta<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
}

pub(super) fn read(set: &mut GrantSet, doc: &Value, path: &str) -> Result<(), Shape> {
    let items: Vec<(String, &Value)> = match doc {
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("/{i}"), v))
            .collect(),
        _ => match doc.get("items").and_then(Value::as_array) {
            Some(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("/items/{i}"), v))
                .collect(),
            None => vec![(String::new(), doc)],
        },
    };
    let mut roles: FxHashMap<(String, String), Vec<Rule>> = FxHashMap::default();
    let mut cluster_roles: FxHashMap<String, Vec<Rule>> = FxHashMap::default();
    let mut bindings = Vec::new();
    for (at, obj) in &items {
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = meta(obj, "name").unwrap_or("");
        match kind {
            "Role" => {
                let ns = meta(obj, "namespace").unwrap_or("default").to_string();
                roles.insert((ns, name.to_string()), rules(obj, at)?);
            }
            "ClusterRole" => {
                cluster_roles.insert(name.to_string(), rules(obj, at)?);
            }
            "RoleBinding" | "ClusterRoleBinding" => bindings.push((at.clone(), kind, *obj)),
            _ => {} // other objects in a List (ServiceAccounts, ...) grant nothing
        }
    }
    for (at, kind, b) in bindings {
        let name = meta(b, "name").unwrap_or("?");
        let ns = meta(b, "namespace").unwrap_or("default");
        let role_ref = b
            .get("roleRef")
            .ok_or_else(|| (format!("{at}/roleRef"), "missing".into()))?;
        let ref_kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
        let ref_name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
        let (granted, what) = match ref_kind {
            "Role" if kind == "RoleBinding" => (
                roles.get(&(ns.to_string(), ref_name.to_string())),
                format!("Role {ns}/{ref_name}"),
            ),
            "ClusterRole" => (
                cluster_roles.get(ref_name),
                format!("ClusterRole {ref_name}"),
            ),
            _ => {
                return Err((
                    format!("{at}/roleRef/kind"),
                    format!("`{ref_kind}` cannot be bound by a {kind}"),
                ))
            }
        };
        let scope = if kind == "RoleBinding" {
            format!(" in namespace {ns}")
        } else {
            String::new()
        };
        let subjects = b
            .get("subjects")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for (i, s) in subjects.iter().enumerate() {
            let s_kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            let s_name = s.get("name").and_then(Value::as_str).unwrap_or("");
            let identity = match s_kind {
                "ServiceAccount" => {
                    let s_ns = s.get("namespace").and_then(Value::as_str).unwrap_or(ns);
                    format!("{SA_PREFIX}{s_ns}:{s_name}")
                }
                "User" => s_name.to_string(),
                "Group" => format!("group:{s_name}"),
                _ => {
                    return Err((
                        format!("{at}/subjects/{i}/kind"),
                        format!("unknown subject kind `{s_kind}`"),
                    ))
                }
            };
            let Some(granted) = granted else {
                set.unresolved.push(format!("{identity}: {kind} {name} binds {what}, which is not in the files; its grants are not counted"));
                set.known(&identity);
                continue;
            };
            if granted.is_empty() {
                set.known(&identity);
            }
            for rule in granted {
                set.add(
                    &identity,
                    Grant {
                        display: rule.display(),
                        source: format!("{path}: {what} via {kind} {name}{scope}"),
                        system: GrantSystem::Kubernetes,
                        matcher: Matcher::Rbac(rule.clone()),
                    },
                );
            }
        }
    }
    Ok(())
}
