//! What identities are allowed to do, from the files teams already have:
//! AWS IAM (`aws iam get-account-authorization-details`, or one policy
//! document named with the principal it attaches to), Kubernetes RBAC
//! (`kubectl get roles,clusterroles,rolebindings,clusterrolebindings -A -o
//! json`) and Warden's canonical grants file (`schemas/grants.schema.json`).
//! Grants are compared with use at the level of actions; resource scopes
//! and conditions are kept in each grant's description, not evaluated.

mod canonical;
mod iam;
mod iam_names;
mod pattern;
mod rbac;

pub use iam_names::permission as iam_permission;
pub use pattern::Pattern;
pub use rbac::{parse_k8s_action, K8sAction};

use rustc_hash::FxHashMap;
use std::path::Path;

/// The largest grants file read (these are policies, not logs).
const MAX_FILE_BYTES: u64 = 256 << 20;

/// Which system a grant comes from (and so how its suggestion is written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantSystem {
    /// AWS IAM.
    Iam,
    /// Kubernetes RBAC.
    Kubernetes,
    /// Warden's canonical grants file.
    Canonical,
}

/// How a grant decides whether an action is within it.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// An IAM `Allow`: any of `actions` (None: every action, as `NotAction`
    /// writes it) and none of `except`.
    Iam {
        actions: Option<Vec<Pattern>>,
        except: Vec<Pattern>,
    },
    /// A canonical action pattern.
    Canonical(Pattern),
    /// One RBAC policy rule.
    Rbac(rbac::Rule),
}

/// One thing an identity is allowed to do, with where it was granted.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The grant as written (`s3:Get*`; an RBAC rule's verbs and resources).
    pub display: String,
    /// Where it comes from (file, policy, role, binding).
    pub source: String,
    /// The system it belongs to.
    pub system: GrantSystem,
    pub(crate) matcher: Matcher,
}

impl Grant {
    /// Whether the grant covers `action` (as Warden's decoders write actions).
    pub fn allows(&self, action: &str) -> bool {
        match &self.matcher {
            Matcher::Iam { actions, except } => {
                let action = iam_names::permission(action);
                action.contains(':')
                    && actions
                        .as_ref()
                        .is_none_or(|a| a.iter().any(|p| p.matches(&action)))
                    && !except.iter().any(|p| p.matches(&action))
            }
            Matcher::Canonical(p) => p.matches(action),
            Matcher::Rbac(rule) => parse_k8s_action(action).is_some_and(|a| rule.allows(&a)),
        }
    }

    /// Whether the grant names more than one action (a wildcard, `NotAction`,
    /// an RBAC `*`).
    pub fn is_broad(&self) -> bool {
        match &self.matcher {
            Matcher::Iam { actions, except } => {
                !except.is_empty()
                    || actions
                        .as_ref()
                        .is_none_or(|a| a.iter().any(Pattern::is_wildcard))
            }
            Matcher::Canonical(p) => p.is_wildcard(),
            Matcher::Rbac(rule) => rule.is_broad(),
        }
    }
}

/// Why grants could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GrantsError {
    /// The file could not be read.
    #[error("grants {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("grants {path}: line {line}, column {column}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// Line of the error (1-based).
        line: usize,
        /// Column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The JSON is not a grants document this reads.
    #[error("grants {path}: {at}: {message}")]
    Shape {
        /// The file.
        path: String,
        /// Where in the document (a JSON pointer, or the document's index).
        at: String,
        /// What is wrong.
        message: String,
    },
}

/// Every grant read, by identity, with what could not be resolved.
#[derive(Debug, Default, Clone)]
pub struct GrantSet {
    by_identity: FxHashMap<String, Vec<Grant>>,
    /// Unconditional IAM denies on every resource, by identity: an action
    /// they match is not granted whatever the allows say.
    denies: FxHashMap<String, Vec<Pattern>>,
    /// Owners named in canonical grants files.
    owners: FxHashMap<String, String>,
    /// What was read but could not be resolved (a managed policy or role the
    /// files do not hold), for the report.
    pub unresolved: Vec<String>,
}

impl GrantSet {
    /// Reads one `--grants` argument: `FILE`, or `PRINCIPAL_ARN=FILE` for a
    /// plain IAM policy document attached to that principal.
    pub fn load(&mut self, spec: &str) -> Result<(), GrantsError> {
        if let Some((principal, file)) = spec.split_once('=').filter(|(p, _)| p.starts_with("arn:"))
        {
            let (path, docs) = read_json(Path::new(file))?;
            let doc = docs.into_iter().next().unwrap_or_default();
            let source = format!("{path} (attached to {principal})");
            return iam::policy_document(self, principal, &doc, &source)
                .map_err(|(at, message)| GrantsError::Shape { path, at, message });
        }
        let (path, docs) = read_json(Path::new(spec))?;
        for (i, doc) in docs.iter().enumerate() {
            let shape = |at: String, message: String| GrantsError::Shape {
                path: path.clone(),
                at: if docs.len() > 1 {
                    format!("document {}: {at}", i + 1)
                } else {
                    at
                },
                message,
            };
            let result = if doc.get("grants").is_some() {
                canonical::read(self, doc, &path)
            } else if iam::is_authorization_details(doc) {
                iam::authorization_details(self, doc, &path)
            } else if doc.get("Statement").is_some() {
                Err(("/Statement".into(), "a bare IAM policy document: name the principal it attaches to, as `--grants ARN=FILE`".into()))
            } else if rbac::is_rbac(doc) {
                rbac::read(self, doc, &path)
            } else {
                Err((String::new(), "neither a canonical grants file, IAM authorization details, nor Kubernetes RBAC objects".into()))
            };
            result.map_err(|(at, message)| {
                shape(if at.is_empty() { "/".into() } else { at }, message)
            })?;
        }
        Ok(())
    }

    pub(crate) fn add(&mut self, identity: &str, grant: Grant) {
        self.by_identity
            .entry(identity.to_string())
            .or_default()
            .push(grant);
    }

    /// An identity the files name, with or without grants.
    pub(crate) fn known(&mut self, identity: &str) {
        self.by_identity.entry(identity.to_string()).or_default();
    }

    pub(crate) fn deny(&mut self, identity: &str, p: Pattern) {
        self.denies.entry(identity.to_string()).or_default().push(p);
    }

    pub(crate) fn set_owner(&mut self, identity: &str, owner: &str) {
        self.owners.insert(identity.to_string(), owner.to_string());
    }

    /// The grants that apply to `identity`, its groups' included (a
    /// Kubernetes service account is in `system:serviceaccounts` and
    /// `system:serviceaccounts:NAMESPACE`).
    pub fn for_identity(&self, identity: &str) -> Vec<&Grant> {
        let mut out: Vec<&Grant> = self
            .by_identity
            .get(identity)
            .into_iter()
            .flatten()
            .collect();
        for group in rbac::groups_of(identity) {
            out.extend(self.by_identity.get(&group).into_iter().flatten());
        }
        out
    }

    /// Whether an unconditional deny takes `action` away from `identity`.
    pub fn denied(&self, identity: &str, action: &str) -> bool {
        let action = iam_names::permission(action);
        self.denies
            .get(identity)
            .is_some_and(|d| d.iter().any(|p| p.matches(&action)))
    }

    /// The owner a grants file names for `identity`.
    pub fn owner(&self, identity: &str) -> Option<&str> {
        self.owners.get(identity).map(String::as_str)
    }

    /// Whether the files name `identity` (with or without grants).
    pub fn names(&self, identity: &str) -> bool {
        self.by_identity.contains_key(identity)
    }

    /// Identities with grants of their own (groups excluded).
    pub fn identities(&self) -> impl Iterator<Item = &str> {
        self.by_identity
            .keys()
            .map(String::as_str)
            .filter(|k| !rbac::is_group(k))
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.by_identity.is_empty()
    }
}

/// Every JSON document in a file (one, or several one after another, as
/// `kubectl get -o json` runs appended to one file give).
fn read_json(path: &Path) -> Result<(String, Vec<serde_json::Value>), GrantsError> {
    use std::io::Read;
    let name = path.display().to_string();
    let read_err = |source| GrantsError::Read {
        path: name.clone(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read_err)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(GrantsError::Shape {
            path: name,
            at: "/".into(),
            message: format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        });
    }
    let mut docs = Vec::new();
    for doc in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
        docs.push(doc.map_err(|e| GrantsError::Syntax {
            path: name.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?);
    }
    if docs.is_empty() {
        return Err(GrantsError::Shape {
            path: name,
            at: "/".into(),
            message: "empty".into(),
        });
    }
    Ok((name, docs))
}

/// A string or an array of strings (IAM's and RBAC's lists), at `at`.
pub(crate) fn strings(v: &serde_json::Value, at: &str) -> Result<Vec<String>, (String, String)> {
    match v {
        serde_json::Value::String(s) => Ok(vec![s.clone()]),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(String::from)
                    .ok_or_else(|| (format!("{at}/{i}"), "expected a string".into()))
            })
            .collect(),
        serde_json::Value::Null => Ok(Vec::new()),
        _ => Err((at.into(), "expected a string or an array of strings".into())),
    }
}

#[cfg(test)]
mod tests;
