//! Suppressions: an analyst's "this is benign" about one identity, narrowed
//! to one detector and one value if they say so, until a time if they say
//! so, and always saying who made it and why.
//!
//! A suppression does not switch a detector off. When a call's risk reaches
//! the finding threshold, the contributions a suppression covers are taken
//! out and the risk is combined again from what is left: if that stays
//! under the threshold the call is recorded as a suppressed finding (OCSF
//! status Suppressed) instead of raised; if other evidence still carries it
//! over, the finding is raised on that evidence alone. So a suppression of
//! one benign new action never hides an attack that also shows elsewhere.
//!
//! Expiry is judged in event time, as everything in a decision is: a
//! replay of last month under today's suppressions decides what the stream
//! decided with them in force, and a suppression `--until` a time stops
//! covering the first call made at or after it.

mod file;

pub use file::{load, load_configured, save, SuppressFileError};

use crate::event::{format_rfc3339_ms, parse_rfc3339_ms};
use crate::signal::{Feature, Signals, FEATURE_COUNT};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Longest id, agent, detector or value a suppression may name (bytes).
pub const MAX_FIELD_BYTES: usize = 1024;
/// Longest reason (bytes).
pub const MAX_REASON_BYTES: usize = 4096;
/// Most suppressions in force at once: a topic anyone can write to must not
/// grow every instance's memory without bound.
pub const MAX_SUPPRESSIONS: usize = 100_000;

/// One suppression, as the suppressions file and topic carry it (one JSON
/// object per line or record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suppression {
    /// Stable id (`sup-…`): `suppress remove` names it; the topic's key.
    pub id: String,
    /// The identity it covers (exactly its `agent_id`).
    pub agent: String,
    /// Only this detector's contribution (a feature name as findings
    /// print it, e.g. `novel_action`); every detector when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    /// Only when the contribution's new value (the action, network, client,
    /// parent or tenant a novelty detector names) is this; for the new
    /// action, its ATT&CK technique, and detectors without a value (rates,
    /// bytes, failures), when the call's action is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// RFC 3339; calls at or after it are no longer covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Why it is benign, in the analyst's words.
    pub reason: String,
    /// Who or what made it.
    pub by: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// Whether a covered call teaches the baseline that it is normal (it
    /// counts in its hour's volume profile, its bytes in the volume windows
    /// and its adoption in the cohort's adoption rate) instead of being kept
    /// out of them as flagged calls are.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub teach: bool,
}

/// Why a suppression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuppressError {
    /// Not a suppression record at all.
    #[error("not a suppression: {0}")]
    Json(String),
    /// One field is not acceptable.
    #[error("field `{field}`: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

fn field(field: &'static str, reason: impl Into<String>) -> SuppressError {
    SuppressError::Field {
        field,
        reason: reason.into(),
    }
}

impl Suppression {
    /// Parses and checks one record.
    pub fn parse(bytes: &[u8]) -> Result<Suppression, SuppressError> {
        let s: Suppression = serde_json::from_slice(bytes)
            .map_err(|e| SuppressError::Json(crate::event::prefix(&e.to_string(), 200).into()))?;
        s.check()?;
        Ok(s)
    }

    /// Every field within its bounds and meaning something.
    pub fn check(&self) -> Result<(), SuppressError> {
        let bounded = |name: &'static str, v: &str, max: usize| {
            if v.trim().is_empty() {
                Err(field(name, "is empty"))
            } else if v.len() > max {
                Err(field(
                    name,
                    format!("is {} bytes, more than {max}", v.len()),
                ))
            } else if v.chars().any(char::is_control) {
                Err(field(name, "holds control characters"))
            } else {
                Ok(())
            }
        };
        bounded("id", &self.id, MAX_FIELD_BYTES)?;
        bounded("agent", &self.agent, MAX_FIELD_BYTES)?;
        bounded("reason", &self.reason, MAX_REASON_BYTES)?;
        bounded("by", &self.by, MAX_FIELD_BYTES)?;
        if let Some(v) = &self.value {
            bounded("value", v, MAX_FIELD_BYTES)?;
        }
        if let Some(d) = &self.detector {
            feature_named(d).ok_or_else(|| {
                field(
                    "detector",
                    format!(
                        "`{}` is no detector (one of: {})",
                        crate::event::prefix(d, 64),
                        Feature::ALL.map(Feature::name).join(", ")
                    ),
                )
            })?;
        }
        parse_rfc3339_ms(&self.created)
            .ok_or_else(|| field("created", "is not an RFC 3339 time"))?;
        self.until_ms()?;
        Ok(())
    }

    /// `until` in ms since the epoch.
    pub fn until_ms(&self) -> Result<Option<i64>, SuppressError> {
        self.until
            .as_deref()
            .map(|u| parse_rfc3339_ms(u).ok_or_else(|| field("until", "is not an RFC 3339 time")))
            .transpose()
    }

    /// A new suppression's stable id, from what it covers and when it was
    /// made (the same `add` twice makes two ids only at two times).
    pub fn make_id(&mut self) {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for part in [
            self.agent.as_str(),
            self.detector.as_deref().unwrap_or(""),
            self.value.as_deref().unwrap_or(""),
            self.created.as_str(),
        ] {
            h.update(part.as_bytes());
            h.update(&[0xff]);
        }
        self.id = format!("sup-{:016x}", h.digest());
    }

    /// One line of the suppressions file (and one topic record's value).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a suppression serialises")
    }

    /// In words, for a suppressed finding and `suppress list`.
    pub fn describe(&self) -> String {
        let mut s = format!("suppressed by {} ({}", self.id, self.by);
        if let Some(d) = &self.detector {
            s.push_str(", ");
            s.push_str(d);
        }
        if let Some(v) = &self.value {
            s.push_str(" = ");
            s.push_str(&crate::event::echo(v));
        }
        if let Some(u) = &self.until {
            s.push_str(", until ");
            s.push_str(u);
        }
        s.push_str("): ");
        s.push_str(&crate::event::echo(&self.reason));
        s
    }
}

fn is_about_the_action(f: Feature) -> bool {
    matches!(f, Feature::NovelAction | Feature::CataloguedAction)
}

fn feature_named(name: &str) -> Option<Feature> {
    Feature::ALL.into_iter().find(|f| f.name() == name)
}

/// A suppression ready to match: its detector and expiry parsed once.
#[derive(Debug)]
struct Compiled {
    rule: Arc<Suppression>,
    feature: Option<Feature>,
    until_ms: Option<i64>,
}

impl Compiled {
    /// The features it takes out of this call's evidence (a bit per
    /// feature index), 0 when it does not apply.
    fn covers(&self, ts_ms: i64, signals: &Signals, action: &str) -> u32 {
        if self.until_ms.is_some_and(|u| ts_ms >= u) {
            return 0;
        }
        let mut mask = 0u32;
        for f in Feature::ALL {
            let i = f.index();
            if signals.surprise[i] <= 0.0 || self.feature.is_some_and(|g| g != f) {
                continue;
            }
            let value_matches = match &self.rule.value {
                None => true,
                Some(v) => match signals.novel_value[i].as_deref() {
                    // The new action and its ATT&CK technique are both
                    // about the call's action: one value covers both.
                    Some(nv) => nv == v || (is_about_the_action(f) && action == v),
                    None => action == v,
                },
            };
            if value_matches {
                mask |= 1 << i;
            }
        }
        mask
    }
}

/// What the suppressions in force say about one call.
#[derive(Debug)]
pub struct Covered {
    /// Features taken out of the evidence (bit per feature index).
    pub mask: u32,
    /// The suppressions that took them, in id order.
    pub by: Vec<Arc<Suppression>>,
    /// Whether any of them teaches the baseline.
    pub teach: bool,
}

impl Covered {
    /// `signals` without the covered features' surprise.
    pub fn without(&self, signals: &Signals) -> Signals {
        let mut kept = signals.clone();
        for i in 0..FEATURE_COUNT {
            if self.mask & (1 << i) != 0 {
                kept.surprise[i] = 0.0;
            }
        }
        kept
    }
}

/// The suppressions in force, looked up by identity.
#[derive(Debug, Default)]
pub struct SuppressionSet {
    by_agent: FxHashMap<Box<str>, Vec<Compiled>>,
    len: usize,
}

impl SuppressionSet {
    /// A set of checked suppressions (the first `MAX_SUPPRESSIONS`; the
    /// caller counts what it could not hold).
    pub fn new(rules: impl IntoIterator<Item = Arc<Suppression>>) -> SuppressionSet {
        let mut set = SuppressionSet::default();
        for rule in rules.into_iter().take(MAX_SUPPRESSIONS) {
            let (Ok(until_ms), feature) = (
                rule.until_ms(),
                rule.detector.as_deref().and_then(feature_named),
            ) else {
                continue;
            };
            set.by_agent
                .entry(rule.agent.as_str().into())
                .or_default()
                .push(Compiled {
                    rule,
                    feature,
                    until_ms,
                });
            set.len += 1;
        }
        for list in set.by_agent.values_mut() {
            list.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
        }
        set
    }

    /// Suppressions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The set as a suppressions file sorted by id would hold it: one JSON
    /// line each. The decision log records its SHA-256, so which
    /// suppressions were in force when can be checked afterwards.
    pub fn canonical(&self) -> Vec<u8> {
        let mut rules: Vec<&Suppression> =
            self.by_agent.values().flatten().map(|c| &*c.rule).collect();
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        let mut out = Vec::new();
        for r in rules {
            out.extend_from_slice(r.to_json().as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// Whether it holds none (the engine then skips the lookup).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What covers this call of `agent`, if anything does.
    pub fn covering(
        &self,
        agent: &str,
        ts_ms: i64,
        signals: &Signals,
        action: &str,
    ) -> Option<Covered> {
        let list = self.by_agent.get(agent)?;
        let mut covered = Covered {
            mask: 0,
            by: Vec::new(),
            teach: false,
        };
        for c in list {
            let m = c.covers(ts_ms, signals, action);
            if m != 0 {
                covered.mask |= m;
                covered.teach |= c.rule.teach;
                covered.by.push(c.rule.clone());
            }
        }
        (covered.mask != 0).then_some(covered)
    }
}

/// `created` for a suppression made now.
pub fn created_now() -> String {
    format_rfc3339_ms(crate::event::now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(detector: Option<&str>, value: Option<&str>, until: Option<&str>) -> Suppression {
        let mut s = Suppression {
            id: String::new(),
            agent: "svc-1".into(),
            detector: detector.map(String::from),
            value: value.map(String::from),
            until: until.map(String::from),
            reason: "rolled out by the platform team".into(),
            by: "analyst@example.com".into(),
            created: "2026-11-20T00:00:00Z".into(),
            teach: false,
        };
        s.make_id();
        s
    }

    fn signals_with(f: Feature, bits: f32, value: Option<&str>) -> Signals {
        let mut s = Signals::default();
        s.set(f, bits, 1.0, 0.0);
        s.novel_value[f.index()] = value.map(Into::into);
        s
    }

    fn set(rules: Vec<Suppression>) -> SuppressionSet {
        SuppressionSet::new(rules.into_iter().map(Arc::new))
    }

    const T: i64 = 1_764_000_000_000;

    #[test]
    fn a_detector_and_value_cover_only_that_contribution() {
        let s = set(vec![rule(
            Some("novel_action"),
            Some("secretsmanager:GetSecretValue"),
            None,
        )]);
        let mut sig = signals_with(
            Feature::NovelAction,
            12.0,
            Some("secretsmanager:GetSecretValue"),
        );
        sig.set(Feature::NovelNetwork, 9.0, 1.0, 0.0);
        let c = s
            .covering("svc-1", T, &sig, "secretsmanager:GetSecretValue")
            .unwrap();
        assert_eq!(c.mask, 1 << Feature::NovelAction.index());
        let kept = c.without(&sig);
        assert_eq!(kept.surprise[Feature::NovelAction.index()], 0.0);
        assert_eq!(kept.surprise[Feature::NovelNetwork.index()], 9.0);
        // Another value, another agent: not covered.
        let other = signals_with(Feature::NovelAction, 12.0, Some("iam:PassRole"));
        assert!(s.covering("svc-1", T, &other, "iam:PassRole").is_none());
        assert!(s.covering("svc-2", T, &sig, "x").is_none());
    }

    #[test]
    fn a_value_without_a_novel_value_matches_the_action() {
        let s = set(vec![rule(None, Some("s3:GetObject"), None)]);
        let sig = signals_with(Feature::Rate15m, 8.0, None);
        assert!(s.covering("svc-1", T, &sig, "s3:GetObject").is_some());
        assert!(s.covering("svc-1", T, &sig, "s3:PutObject").is_none());
    }

    #[test]
    fn it_stops_covering_at_its_until() {
        let s = set(vec![rule(None, None, Some("2025-11-24T16:00:00Z"))]);
        let until = parse_rfc3339_ms("2025-11-24T16:00:00Z").unwrap();
        let sig = signals_with(Feature::Rate1m, 8.0, None);
        assert!(s.covering("svc-1", until - 1, &sig, "a").is_some());
        assert!(s.covering("svc-1", until, &sig, "a").is_none());
    }

    #[test]
    fn bad_records_name_the_field() {
        let mut r = rule(Some("novel_acton"), None, None);
        assert!(matches!(
            r.check(),
            Err(SuppressError::Field {
                field: "detector",
                ..
            })
        ));
        r.detector = None;
        r.reason = " ".into();
        assert!(matches!(
            r.check(),
            Err(SuppressError::Field {
                field: "reason",
                ..
            })
        ));
        r.reason = "ok".into();
        r.until = Some("tomorrow".into());
        assert!(matches!(
            r.check(),
            Err(SuppressError::Field { field: "until", .. })
        ));
        r.until = None;
        r.agent = "a\u{1b}[31m".into();
        assert!(matches!(
            r.check(),
            Err(SuppressError::Field { field: "agent", .. })
        ));
        assert!(matches!(
            Suppression::parse(br#"{"id":"x","agent":"a","oops":1}"#),
            Err(SuppressError::Json(_))
        ));
    }

    proptest! {
        /// Whatever bytes arrive (the topic is writable by whoever holds
        /// its ACL), parsing returns a checked suppression or an error;
        /// a good one survives its own serialisation.
        #[test]
        fn parse_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                                              reason in "[a-z ]{1,40}", value in proptest::option::of("[a-z:]{1,20}")) {
            let _ = Suppression::parse(&bytes);
            let mut r = rule(None, value.as_deref(), None);
            r.reason = reason;
            if r.check().is_ok() {
                prop_assert_eq!(Suppression::parse(r.to_json().as_bytes()).unwrap(), r);
            }
        }
    }
}
