//! Guardrail policies: what is never allowed, whatever the baseline says.
//!
//! Policies are written in Cedar, as `forbid` policies over Warden's
//! request model (`model`): a call that satisfies a forbid policy is a
//! violation of that rule. Cedar parses and type-checks them against the
//! model's schema (so a misspelt attribute is refused at load, with its
//! file and position); `compile` turns each into a tree that `eval` walks
//! per call, with Cedar's semantics and without building Cedar requests
//! (tested against Cedar's own authorizer).
//!
//! Each policy carries `@id` (its rule name, unique across files) and may
//! carry `@severity` (informational, low, medium, high, critical; medium
//! when absent), `@revoke("true")` (a violation also cuts the session or
//! credential off) and `@description`.

mod compile;
mod eval;
mod identities;
mod index;
mod model;
#[cfg(test)]
mod tests;

pub use identities::load_identities;
pub use model::{PolicyCall, Registered};

use compile::Compiled;
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// A policy file larger than this is refused (policies are written by
/// people; a file this large is a mistake or an attack on the loader).
const MAX_FILE_BYTES: u64 = 4 << 20;
/// At most this many rules across all files.
const MAX_RULES: usize = 10_000;

pub use crate::decide::Severity;

/// One rule as a finding explains it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rule {
    /// Its `@id`.
    pub id: String,
    /// Its `@description`, or the id.
    pub description: String,
    /// Its `@severity`.
    pub severity: Severity,
    /// Whether a violation also revokes (`@revoke("true")`).
    pub revoke: bool,
    /// Where it is written: `file:line`.
    pub source: String,
}

/// Why a policy set was refused. The set in force, if any, stays.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file, a rule count or an identities list is over its bound.
    #[error("{file}: {what}")]
    TooLarge {
        /// The file.
        file: String,
        /// What is over which bound.
        what: String,
    },
    /// A policy does not parse, type-check or fit Warden's model.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What is wrong (Cedar's words, or Warden's).
        message: String,
    },
    /// The identities file is not what it should be.
    #[error("{file}: {message}")]
    Identities {
        /// The file.
        file: String,
        /// What is wrong, naming the entity and field.
        message: String,
    },
}

struct Loaded {
    rule: Arc<Rule>,
    compiled: Compiled,
}

/// A checked, compiled set of rules with their identities. Immutable: a
/// reload builds a new one and swaps it in whole.
#[derive(Default)]
pub struct PolicySet {
    rules: Vec<Loaded>,
    /// Which rules a call needs to be evaluated against.
    index: index::RuleIndex,
    identities: FxHashMap<String, Registered>,
    /// Whether a rule reads `context.session_age` (only then does the
    /// engine look the call's session up).
    reads_session_age: bool,
    /// SHA-256 of the files' contents, in order (what the decision log records).
    digest: String,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("rules", &self.rules.len())
            .field("identities", &self.identities.len())
            .field("digest", &self.digest)
            .finish()
    }
}

/// A policy file's name and text.
pub struct Source {
    /// How errors name it (its path).
    pub name: String,
    /// Its Cedar text.
    pub text: String,
}

impl Source {
    /// Reads `path` (bounded in size).
    pub fn read(path: &Path) -> Result<Source, PolicyError> {
        let name = path.display().to_string();
        let read_err = |source| PolicyError::Read {
            file: name.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read_err)?.len();
        if len > MAX_FILE_BYTES {
            return Err(PolicyError::TooLarge {
                file: name,
                what: format!("{len} bytes, over the {MAX_FILE_BYTES}-byte bound"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        Ok(Source { name, text })
    }
}

/// Line and column (1-based, in characters) of byte `offset` of `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let upto = &text[..end];
    let line = upto.matches('\n').count() + 1;
    let column = upto.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn invalid_at(src: &Source, offset: usize, message: String) -> PolicyError {
    let (line, column) = position(&src.text, offset);
    PolicyError::Invalid {
        file: src.name.clone(),
        line,
        column,
        message,
    }
}

/// A Cedar diagnostic as an error at its first labelled position.
fn diagnostic(src: &Source, d: &dyn miette::Diagnostic) -> PolicyError {
    let offset = d
        .labels()
        .and_then(|mut l| l.next())
        .map_or(0, |l| l.offset());
    let mut message = d.to_string();
    if let Some(help) = d.help() {
        message.push_str(&format!(" ({help})"));
    }
    invalid_at(src, offset, message)
}

/// Every `Action::"…"` a policy's JSON form names (declared in the schema
/// so that any action type-checks).
fn actions_named(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(o) => {
            let e = o.get("__entity").unwrap_or(v);
            if let (Some("Action"), Some(id)) = (
                e.get("type").and_then(|t| t.as_str()),
                e.get("id").and_then(|i| i.as_str()),
            ) {
                out.push(id.to_string());
            }
            o.values().for_each(|x| actions_named(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| actions_named(x, out)),
        _ => {}
    }
}

/// The offset of a policy's `@id("…")` in its file (where errors about a
/// whole policy point).
fn offset_of_id(text: &str, id: &str) -> usize {
    let needle = format!("\"{id}\"");
    text.find(&needle).unwrap_or(0)
}

const ANNOTATIONS: [&str; 4] = ["id", "severity", "revoke", "description"];

impl PolicySet {
    /// Loads, checks and compiles the policy files and the identities file.
    pub fn load(files: &[PathBuf], identities: Option<&Path>) -> Result<PolicySet, PolicyError> {
        let sources = files
            .iter()
            .map(|p| Source::read(p))
            .collect::<Result<Vec<_>, _>>()?;
        let identities = match identities {
            Some(p) => load_identities(p)?,
            None => FxHashMap::default(),
        };
        PolicySet::compile(&sources, identities)
    }

    /// Checks and compiles policy texts (`warden policy check` and tests).
    pub fn compile(
        sources: &[Source],
        identities: FxHashMap<String, Registered>,
    ) -> Result<PolicySet, PolicyError> {
        // Parse every file, in order of the policies in it.
        let mut parsed = Vec::with_capacity(sources.len());
        let mut actions = Vec::new();
        let mut count = 0;
        for src in sources {
            let set =
                cedar_policy::PolicySet::from_str(&src.text).map_err(|e| diagnostic(src, &e))?;
            let mut policies: Vec<(usize, cedar_policy::Policy, serde_json::Value)> = Vec::new();
            for p in set.policies() {
                let n = p
                    .id()
                    .to_string()
                    .strip_prefix("policy")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(usize::MAX);
                let est = p.to_json().map_err(|e| invalid_at(src, 0, e.to_string()))?;
                actions_named(&est, &mut actions);
                policies.push((n, p.clone(), est));
            }
            if set.templates().next().is_some() {
                return Err(invalid_at(src, 0, "templates are not supported".into()));
            }
            policies.sort_by_key(|(n, ..)| *n);
            count += policies.len();
            if count > MAX_RULES {
                return Err(PolicyError::TooLarge {
                    file: src.name.clone(),
                    what: format!("more than {MAX_RULES} rules"),
                });
            }
            parsed.push((set, policies));
        }
        // Type-check against the model.
        let schema_text = model::schema_text(&actions);
        let (schema, _) =
            cedar_policy::Schema::from_cedarschema_str(&schema_text).map_err(|e| {
                PolicyError::Invalid {
                    file: "(warden's schema)".into(),
                    line: 0,
                    column: 0,
                    message: e.to_string(),
                }
            })?;
        let validator = cedar_policy::Validator::new(schema);
        for (src, (set, _)) in sources.iter().zip(&parsed) {
            let result = validator.validate(set, cedar_policy::ValidationMode::Strict);
            let first = result
                .validation_errors()
                .next()
                .map(|e| diagnostic(src, e));
            if let Some(e) = first {
                return Err(e);
            }
        }
        // Compile, with the annotations read.
        let mut out = PolicySet {
            identities,
            ..PolicySet::default()
        };
        let mut ids = FxHashMap::default();
        let mut index = index::IndexBuilder::default();
        for (src, (_, policies)) in sources.iter().zip(parsed) {
            for (n, p, est) in policies {
                let nth = n.saturating_add(1);
                let id = p.annotation("id").map(str::to_string).ok_or_else(|| {
                    invalid_at(
                        src,
                        0,
                        format!(
                            "policy number {nth} of the file has no @id(\"…\") (its rule name)"
                        ),
                    )
                })?;
                let at = offset_of_id(&src.text, &id);
                let bad = |m: String| invalid_at(src, at, format!("policy {id:?}: {m}"));
                if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
                    return Err(bad("@id must be 1-200 printable characters".into()));
                }
                if let Some(prev) = ids.insert(id.clone(), src.name.clone()) {
                    return Err(bad(format!("@id is also used in {prev}")));
                }
                if let Some((k, _)) = p.annotations().find(|(k, _)| !ANNOTATIONS.contains(k)) {
                    return Err(bad(format!(
                        "unknown annotation @{k} (known: @{})",
                        ANNOTATIONS.join(", @")
                    )));
                }
                if p.effect() != cedar_policy::Effect::Forbid {
                    return Err(bad(
                        "guardrails are `forbid` policies (a call that satisfies one is a \
                         violation); write exceptions as `unless { … }`"
                            .into(),
                    ));
                }
                let severity = match p.annotation("severity") {
                    None => Severity::Medium,
                    Some(s) => Severity::parse(s)
                        .filter(|s| *s != Severity::Fatal)
                        .ok_or_else(|| {
                            bad(format!(
                            "@severity(\"{s}\"): use informational, low, medium, high or critical"
                        ))
                        })?,
                };
                let revoke = match p.annotation("revoke") {
                    None | Some("false") => false,
                    Some("true") => true,
                    Some(o) => {
                        return Err(bad(format!("@revoke(\"{o}\"): use \"true\" or \"false\"")))
                    }
                };
                let compiled = compile::compile(&est).map_err(bad)?;
                out.reads_session_age |= compiled
                    .conditions
                    .iter()
                    .any(|c| c.reads(model::ContextAttr::SessionAge));
                let (line, _) = position(&src.text, at);
                index.add(out.rules.len() as u32, &compiled);
                out.rules.push(Loaded {
                    rule: Arc::new(Rule {
                        description: p.annotation("description").unwrap_or(&id).to_string(),
                        id,
                        severity,
                        revoke,
                        source: format!("{}:{line}", src.name),
                    }),
                    compiled,
                });
            }
        }
        out.index = index.build();
        out.digest = digest(sources, &out.identities);
        Ok(out)
    }

    /// No rules: nothing to evaluate.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a rule reads the session's age (`context.session_age`).
    pub fn reads_session_age(&self) -> bool {
        self.reads_session_age
    }

    /// How many rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Identities the identities file lists.
    pub fn identities(&self) -> usize {
        self.identities.len()
    }

    /// SHA-256 (hex) of the policy texts and the identities, in order.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The rules, in file order.
    pub fn rules(&self) -> impl Iterator<Item = &Arc<Rule>> {
        self.rules.iter().map(|l| &l.rule)
    }

    /// What the identities file says about `agent_id`.
    pub fn identity(&self, agent_id: &str) -> Option<&Registered> {
        if self.identities.is_empty() {
            return None;
        }
        self.identities.get(agent_id)
    }

    /// The rules `call` violates, in file order, into `m` (cleared first).
    /// Only the rules its action, or a guard's value, could concern are
    /// evaluated.
    pub fn violations(&self, call: &PolicyCall<'_>, m: &mut Matches) {
        m.rules.clear();
        let c = self.index.candidates(call, &mut m.scratch);
        for &i in c.iter() {
            let l = &self.rules[i as usize];
            if eval::satisfied(&l.compiled, call) {
                m.rules.push(l.rule.clone());
            }
        }
    }
}

/// Scratch for `PolicySet::violations`, kept between calls.
#[derive(Debug, Default)]
pub struct Matches {
    scratch: index::Scratch,
    rules: Vec<Arc<Rule>>,
}

impl Matches {
    /// The rules the last call violated, in file order.
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }
}

fn digest(sources: &[Source], identities: &FxHashMap<String, Registered>) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for s in sources {
        ctx.update(s.name.as_bytes());
        ctx.update(&[0]);
        ctx.update(s.text.as_bytes());
        ctx.update(&[0]);
    }
    let mut ids: Vec<_> = identities.iter().collect();
    ids.sort_by(|a, b| a.0.cmp(b.0));
    for (id, r) in ids {
        ctx.update(format!("{id}\0{r:?}\0").as_bytes());
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Loads the policy set `[decisions]` names (empty when it names none).
pub fn load_configured(
    files: &[PathBuf],
    identities: Option<&Path>,
) -> Result<Arc<PolicySet>, PolicyError> {
    if files.is_empty() {
        return Ok(Arc::default());
    }
    PolicySet::load(files, identities).map(Arc::new)
}
