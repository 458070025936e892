//! Least-privilege suggestions: grants covering exactly the actions an
//! identity used, with no wildcard, in the form its system reads: an IAM
//! policy document, a Kubernetes Role (or ClusterRole) with its binding, or
//! the canonical grants file.

use super::grants::{iam_permission, parse_k8s_action, GrantSystem};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const SA_PREFIX: &str = "system:serviceaccount:";

/// Core resources that live outside namespaces: using one needs a ClusterRole.
const CLUSTER_SCOPED: &[&str] = &[
    "nodes",
    "namespaces",
    "persistentvolumes",
    "clusterroles",
    "clusterrolebindings",
    "customresourcedefinitions",
    "storageclasses",
    "priorityclasses",
    "certificatesigningrequests",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "apiservices",
    "tokenreviews",
    "subjectaccessreviews",
    "selfsubjectaccessreviews",
    "selfsubjectrulesreviews",
    "ingressclasses",
    "runtimeclasses",
    "csidrivers",
    "csinodes",
    "volumeattachments",
];

/// The system an identity's suggestion is written for, from its id alone.
pub(crate) fn system_of(id: &str) -> GrantSystem {
    if id.starts_with("arn:aws") {
        GrantSystem::Iam
    } else if id.starts_with(SA_PREFIX) {
        GrantSystem::Kubernetes
    } else {
        GrantSystem::Canonical
    }
}

/// The suggestion for `id`, which used `used` (sorted, allowed, in the
/// window). `null` when nothing was used: every grant can go.
pub(crate) fn suggestion(id: &str, system: GrantSystem, used: &[&str]) -> Value {
    if used.is_empty() {
        return Value::Null;
    }
    match system {
        GrantSystem::Iam => iam(used),
        GrantSystem::Kubernetes => kubernetes(id, used),
        GrantSystem::Canonical => {
            json!({"version": 1, "grants": [{"identity": id, "actions": used}]})
        }
    }
}

/// One statement per service, actions listed one by one on every resource:
/// this review works at the level of actions.
fn iam(used: &[&str]) -> Value {
    let mut by_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for a in used {
        let p = iam_permission(a);
        if let Some((svc, name)) = p.split_once(':') {
            let ok = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if ok(svc) && ok(name) {
                by_service
                    .entry(svc.to_string())
                    .or_default()
                    .insert(p.to_string());
            }
        }
    }
    if by_service.is_empty() {
        return Value::Null;
    }
    let statements: Vec<Value> = by_service
        .into_iter()
        .map(|(svc, actions)| {
            let sid: String = format!("Used{svc}")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": "*"})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn kubernetes(id: &str, used: &[&str]) -> Value {
    // A service account is bound in its namespace; any other subject (a
    // user the RBAC files bind) cluster-wide, as a User.
    let sa = id.strip_prefix(SA_PREFIX).and_then(|r| r.split_once(':'));
    let (ns, name) = sa.unwrap_or(("default", id));
    let mut resources: BTreeMap<(&str, String), BTreeSet<&str>> = BTreeMap::new();
    let mut urls: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut cluster = false;
    for a in used {
        let Some(k) = parse_k8s_action(a) else {
            continue;
        };
        if let Some(url) = k.url {
            urls.entry(url).or_default().insert(k.verb);
            cluster = true;
            continue;
        }
        cluster |= CLUSTER_SCOPED.contains(&k.resource);
        let combined = match k.subresource {
            Some(s) => format!("{}/{s}", k.resource),
            None => k.resource.to_string(),
        };
        resources
            .entry((k.group, combined))
            .or_default()
            .insert(k.verb);
    }
    // Rules with the same verbs on the same group share one rule.
    let mut rules: BTreeMap<(&str, Vec<&str>), Vec<String>> = BTreeMap::new();
    for ((group, res), verbs) in resources {
        rules
            .entry((group, verbs.into_iter().collect()))
            .or_default()
            .push(res);
    }
    let mut rule_list: Vec<Value> = rules
        .into_iter()
        .map(
            |((group, verbs), res)| json!({"apiGroups": [group], "resources": res, "verbs": verbs}),
        )
        .collect();
    for (url, verbs) in urls {
        rule_list.push(json!({"nonResourceURLs": [url], "verbs": verbs}));
    }
    let cluster = cluster || sa.is_none();
    let role_name = object_name(&format!("warden-least-privilege-{name}"));
    let (role_kind, binding_kind) = if cluster {
        ("ClusterRole", "ClusterRoleBinding")
    } else {
        ("Role", "RoleBinding")
    };
    let mut role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": role_kind,
        "metadata": {"name": role_name}, "rules": rule_list});
    let mut binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": binding_kind,
    "metadata": {"name": role_name},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
    "subjects": [if sa.is_some() {
        json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
    } else {
        json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": id})
    }]});
    if !cluster {
        role["metadata"]["namespace"] = json!(ns);
        binding["metadata"]["namespace"] = json!(ns);
    }
    json!({"apiVersion": "v1", "kind": "List", "items": [role, binding]})
}

/// A Kubernetes object name (DNS-1123 subdomain) from any identity name:
/// lower case, characters outside `[a-z0-9.-]` as `-`, at most 253.
fn object_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '-') => c,
            _ => '-',
        })
        .collect();
    out.truncate(253);
    out.trim_matches(['-', '.']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_bound_cluster_wide_by_a_valid_name() {
        let s = suggestion("Alice@Example.com", GrantSystem::Kubernetes, &["get pods"]);
        let items = s["items"].as_array().unwrap();
        assert_eq!(items[0]["kind"], "ClusterRole");
        assert_eq!(
            items[0]["metadata"]["name"],
            "warden-least-privilege-alice-example.com"
        );
        assert_eq!(items[1]["subjects"][0]["kind"], "User");
        assert_eq!(items[1]["subjects"][0]["name"], "Alice@Example.com");
        let sa = suggestion(
            "system:serviceaccount:ci:deployer",
            GrantSystem::Kubernetes,
            &["get pods"],
        );
        assert_eq!(sa["items"][0]["kind"], "Role");
        assert_eq!(sa["items"][0]["metadata"]["namespace"], "ci");
        assert_eq!(sa["items"][1]["subjects"][0]["kind"], "ServiceAccount");
    }
}
