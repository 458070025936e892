//! Behaviour archetypes: groups of agents that behave alike, fitted offline
//! by `warden train` (k-means over per-agent profile vectors) and used here
//! at run time.
//!
//! - A new agent is matched to an archetype from its first call (its type,
//!   then each new action and client it uses, weighed by how common each is
//!   among the archetype's members), its baselines start at the archetype's
//!   typical member rather than at the live cohort's average, and while it
//!   settles in a first use of something its archetype's members commonly
//!   use is expected, while something none of them uses keeps its full
//!   rarity.
//! - Once settled (a day), the agent is bound to the archetype nearest its
//!   own profile; a profile that later drifts beyond what the archetype's
//!   members span is a signal (`archetype_drift`).
//!
//! The profile vector is defined here, next to the state it is read from;
//! the model file carries the feature definition and the build refuses a
//! model whose features differ.

use super::session::ua_family;
use super::stats::{fingerprint, fp_kind, Ewm};
use crate::event::AgentType;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) const MODEL_FORMAT: &str = "warden.archetypes";
/// Layout of the model file.
pub(crate) const MODEL_VERSION: u32 = 1;
/// Definition of the profile vector; a model of another version is refused.
pub(crate) const PROFILE_VERSION: u32 = 1;
/// Drift is evidence that adds to others, never a finding or a
/// revocation's corroboration by itself: its surprise is capped below
/// the bits a group needs to corroborate (`score`).
pub(crate) const DRIFT_MAX_BITS: f32 = 3.5;
/// A value is in an archetype's vocabulary when at least this share of its
/// members, and at least `MIN_MEMBERS` of them, used it: what one or two
/// members did (an incident in the history, say) is not what the archetype
/// does.
pub(crate) const MIN_SHARE: f32 = 0.1;
pub(crate) const MIN_MEMBERS: u32 = 3;

const TYPE_FEATURES: usize = AgentType::ALL.len();
pub(crate) const PROFILE_LEN: usize = 9 + TYPE_FEATURES;

/// Name and meaning of each position of the profile vector.
pub(crate) fn profile_features() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        (
            "log_calls_1m",
            "mean of ln(1 + calls in the last minute), at the agent's calls",
        ),
        (
            "log_calls_15m",
            "mean of ln(1 + calls in the last 15 minutes)",
        ),
        (
            "log_distinct",
            "mean of ln(1 + distinct actions and resource families in the distinct window)",
        ),
        (
            "log_bytes_5m",
            "mean of ln(1 + bytes returned in the last 5 minutes)",
        ),
        (
            "log_bytes_2h",
            "mean of ln(1 + bytes returned in the last 2 hours)",
        ),
        (
            "failure_share",
            "share of failed calls (denied 1, error 0.3)",
        ),
        (
            "log_burstiness",
            "ln of the index of dispersion of calls per minute",
        ),
        (
            "active_hours_share",
            "share of the 24 hours of the day (UTC) with calls on any day",
        ),
        (
            "busiest_8h_share",
            "share of calls in the agent's busiest 8 hours of the day (UTC)",
        ),
    ]
    .iter()
    .map(|(n, d)| (n.to_string(), d.to_string()))
    .collect();
    for t in AgentType::ALL {
        v.push((
            format!("type_{}", t.as_str()),
            format!("1 if agent_type is {}", t.as_str()),
        ));
    }
    v
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read archetype model {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("archetype model {path} is not valid: {reason}")]
    Invalid { path: String, reason: String },
    #[error("cannot read ATT&CK catalogue {path} ([detectors] attack_catalogue): {source}")]
    CatalogueRead {
        path: String,
        source: std::io::Error,
    },
    #[error("ATT&CK catalogue {path} ([detectors] attack_catalogue) is not valid: {reason}")]
    CatalogueInvalid { path: String, reason: String },
}

/// Mean and spread of one baseline among an archetype's members (in the
/// engine's units: the log of the counter).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanSd {
    pub mean: f32,
    pub sd: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedBaselines {
    pub log_calls_1m: MeanSd,
    pub log_calls_15m: MeanSd,
    pub log_distinct: MeanSd,
    pub log_bytes_5m: MeanSd,
    pub log_bytes_2h: MeanSd,
}

/// Distances of the members from their centroid (standardised units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDistances {
    pub p50: f32,
    pub p90: f32,
    pub p99: f32,
    pub max: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archetype {
    pub id: u32,
    /// Short name for explanations (`api_key-3`).
    pub label: String,
    /// What its members are like, for people reviewing the model.
    pub description: String,
    pub members: u32,
    pub agent_types: BTreeMap<String, u32>,
    /// In standardised units (see `ProfileFeatureDef`).
    pub centroid: Vec<f32>,
    pub baselines: SeedBaselines,
    pub member_distances: MemberDistances,
    /// Share of members that used each action / client family.
    pub actions: BTreeMap<String, f32>,
    pub user_agents: BTreeMap<String, f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFeatureDef {
    pub name: String,
    pub definition: String,
    /// Standardisation: (x - mean) / sd.
    pub mean: f32,
    pub sd: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    pub trained_at: String,
    pub warden_version: String,
    pub inputs: Vec<String>,
    pub events: u64,
    pub agents_profiled: u64,
    pub agents_skipped: u64,
    pub min_events: u32,
    pub k: u32,
    pub seed: u64,
    pub inertia: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchetypeModel {
    pub format: String,
    pub version: u32,
    pub profile_version: u32,
    pub features: Vec<ProfileFeatureDef>,
    pub training: Training,
    pub archetypes: Vec<Archetype>,
}

impl ArchetypeModel {
    pub fn load(path: &Path) -> Result<ArchetypeModel, ModelError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
            path: name.clone(),
            source,
        })?;
        let invalid = |reason: String| ModelError::Invalid {
            path: name.clone(),
            reason,
        };
        let m: ArchetypeModel = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        m.check().map_err(invalid)?;
        Ok(m)
    }

    /// Refuses a model this build would misread.
    pub fn check(&self) -> Result<(), String> {
        if self.format != MODEL_FORMAT || self.version != MODEL_VERSION {
            return Err(format!(
                "format {} version {}; this build reads {MODEL_FORMAT} version {MODEL_VERSION}",
                self.format, self.version
            ));
        }
        if self.profile_version != PROFILE_VERSION {
            return Err(format!(
                "profile version {}; this build computes version {PROFILE_VERSION} (retrain with `warden train`)",
                self.profile_version
            ));
        }
        let ours: Vec<String> = profile_features().into_iter().map(|(n, _)| n).collect();
        let theirs: Vec<&str> = self.features.iter().map(|f| f.name.as_str()).collect();
        if ours != theirs {
            return Err(format!(
                "features {theirs:?} differ from this build's {ours:?}"
            ));
        }
        if self.archetypes.is_empty() {
            return Err("no archetypes".into());
        }
        for a in &self.archetypes {
            if a.centroid.len() != PROFILE_LEN || a.centroid.iter().any(|x| !x.is_finite()) {
                return Err(format!(
                    "archetype {}: centroid is not {PROFILE_LEN} finite numbers",
                    a.id
                ));
            }
        }
        if self
            .features
            .iter()
            .any(|f| !(f.sd.is_finite() && f.sd > 0.0 && f.mean.is_finite()))
        {
            return Err("a feature has no positive spread".into());
        }
        Ok(())
    }
}

/// An agent's archetype while it settles in (`evidence`: log-likelihood
/// per archetype) and after (`evidence` empty, bound to `current`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ArchetypeState {
    /// The model this state refers to (`Archetypes::id`): state restored
    /// under another model is matched afresh rather than misread.
    pub model: u32,
    pub current: u16,
    pub settled: bool,
    pub evidence: Vec<f32>,
    /// Drift surprise last signalled (a signal fires on a rise of a bit).
    pub drift_signalled: f32,
}

/// The model prepared for scoring: standardisation, centroids, vocabularies
/// by fingerprint.
#[derive(Debug)]
pub(crate) struct Archetypes {
    id: u32,
    model: ArchetypeModel,
    mean: [f32; PROFILE_LEN],
    sd: [f32; PROFILE_LEN],
    centroids: Vec<[f32; PROFILE_LEN]>,
    log_prior: Vec<f32>,
    log_type: Vec<[f32; TYPE_FEATURES]>,
    vocab: Vec<FxHashMap<u64, f32>>,
}

/// Weight of a value no member of the archetype used, in the match.
const UNSEEN_SHARE: f32 = 0.01;

impl Archetypes {
    pub fn new(model: ArchetypeModel) -> Result<Archetypes, String> {
        model.check()?;
        let mut mean = [0.0; PROFILE_LEN];
        let mut sd = [1.0; PROFILE_LEN];
        for (i, f) in model.features.iter().enumerate() {
            mean[i] = f.mean;
            sd[i] = f.sd;
        }
        let total: u32 = model
            .archetypes
            .iter()
            .map(|a| a.members)
            .sum::<u32>()
            .max(1);
        let text = serde_json::to_string(&model).map_err(|e| e.to_string())?;
        let mut out = Archetypes {
            id: xxhash_rust::xxh3::xxh3_64(text.as_bytes()) as u32,
            mean,
            sd,
            centroids: Vec::new(),
            log_prior: Vec::new(),
            log_type: Vec::new(),
            vocab: Vec::new(),
            model: model.clone(),
        };
        for a in &model.archetypes {
            let mut c = [0.0; PROFILE_LEN];
            c.copy_from_slice(&a.centroid);
            out.centroids.push(c);
            out.log_prior
                .push(((a.members.max(1)) as f32 / total as f32).ln());
            let mut lt = [0.0; TYPE_FEATURES];
            for (i, t) in AgentType::ALL.iter().enumerate() {
                let n = a.agent_types.get(t.as_str()).copied().unwrap_or(0) as f32;
                lt[i] = ((n + 0.1) / (a.members as f32 + 0.1 * TYPE_FEATURES as f32)).ln();
            }
            out.log_type.push(lt);
            let mut v = FxHashMap::default();
            for (s, share) in &a.actions {
                v.insert(fingerprint(fp_kind::ACTION, s), *share);
            }
            for (s, share) in &a.user_agents {
                v.insert(fingerprint(fp_kind::USER_AGENT, ua_family(s)), *share);
            }
            out.vocab.push(v);
        }
        Ok(out)
    }

    pub fn model(&self) -> &ArchetypeModel {
        &self.model
    }

    /// Whether `st` was made under this model and is whole (state comes
    /// back from a topic, where a damaged record must not be misread).
    pub(crate) fn fits(&self, st: &ArchetypeState) -> bool {
        st.model == self.id
            && (st.current as usize) < self.len()
            && if st.settled {
                st.evidence.is_empty()
            } else {
                st.evidence.len() == self.len()
            }
    }

    pub(crate) fn len(&self) -> usize {
        self.centroids.len()
    }

    pub fn label(&self, a: u16) -> &str {
        &self.model.archetypes[a as usize].label
    }

    pub(crate) fn seed_baselines(&self, a: u16) -> &SeedBaselines {
        &self.model.archetypes[a as usize].baselines
    }

    /// A new agent: the match from its type alone.
    pub fn start(&self, agent_type: AgentType) -> ArchetypeState {
        let t = AgentType::ALL
            .iter()
            .position(|x| *x == agent_type)
            .unwrap_or(0);
        let evidence: Vec<f32> = (0..self.len())
            .map(|a| self.log_prior[a] + self.log_type[a][t])
            .collect();
        ArchetypeState {
            model: self.id,
            current: argmax(&evidence),
            settled: false,
            evidence,
            drift_signalled: 0.0,
        }
    }

    /// A value the settling agent uses for the first time (fingerprint of
    /// an action or a client family) moves the match.
    pub(crate) fn add_evidence(&self, st: &mut ArchetypeState, fp: u64) {
        if st.settled {
            return;
        }
        for (a, e) in st.evidence.iter_mut().enumerate() {
            let share = self.vocab[a].get(&fp).copied().unwrap_or(0.0);
            *e += share.max(UNSEEN_SHARE).ln();
        }
        st.current = argmax(&st.evidence);
    }

    /// Share of the archetype's members that used the value, if it is in
    /// its vocabulary.
    pub fn share(&self, a: u16, fp: u64) -> Option<f32> {
        self.vocab[a as usize].get(&fp).copied()
    }

    /// Probability of the current match among all archetypes.
    pub(crate) fn confidence(&self, st: &ArchetypeState) -> f32 {
        if st.settled || st.evidence.is_empty() {
            return 1.0;
        }
        let top = st.evidence[st.current as usize];
        let z: f32 = st.evidence.iter().map(|e| (e - top).exp()).sum();
        1.0 / z
    }

    fn standardise(&self, v: &[f32; PROFILE_LEN]) -> [f32; PROFILE_LEN] {
        let mut z = [0.0; PROFILE_LEN];
        for i in 0..PROFILE_LEN {
            z[i] = (v[i] - self.mean[i]) / self.sd[i];
        }
        z
    }

    /// Distance of a profile from archetype `a`'s centroid.
    pub(crate) fn distance(&self, a: u16, v: &[f32; PROFILE_LEN]) -> f32 {
        dist(&self.standardise(v), &self.centroids[a as usize])
    }

    /// The archetype nearest a profile.
    pub(crate) fn nearest(&self, v: &[f32; PROFILE_LEN]) -> (u16, f32) {
        let z = self.standardise(v);
        self.centroids
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u16, dist(&z, c)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0))
    }

    /// Binds a settled agent to the archetype nearest its profile.
    pub(crate) fn settle(&self, st: &mut ArchetypeState, v: &[f32; PROFILE_LEN]) {
        st.current = self.nearest(v).0;
        st.settled = true;
        st.evidence = Vec::new();
    }

    /// -log10 of the share of the archetype's members at least as far from
    /// its centroid as distance `d`, read off the member quantiles and
    /// extended past the farthest member with an exponential tail.
    pub(crate) fn drift_surprise(&self, a: u16, d: f32) -> f32 {
        let arch = &self.model.archetypes[a as usize];
        let q = &arch.member_distances;
        // The farthest member stands for at most half the 1 % tail.
        let floor = (1.0 / (arch.members as f32 + 1.0)).min(0.005);
        let points = [(q.p50, 0.5f32), (q.p90, 0.1), (q.p99, 0.01), (q.max, floor)];
        if d <= points[0].0 {
            return 0.0;
        }
        for w in points.windows(2) {
            let ((d0, p0), (d1, p1)) = (w[0], w[1]);
            if d <= d1 && d1 > d0 {
                let t = (d - d0) / (d1 - d0);
                return -(p0.log10() + t * (p1.log10() - p0.log10()));
            }
        }
        // Past the farthest member: one more decade of rarity per tail width.
        let width = (q.max - q.p90).max(0.25);
        (-floor.log10() + (d - q.max) / width).min(DRIFT_MAX_BITS)
    }
}

fn dist(a: &[f32; PROFILE_LEN], b: &[f32; PROFILE_LEN]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

fn argmax(v: &[f32]) -> u16 {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i as u16)
}

/// Baselines a new agent of archetype `a` starts from: its members' typical
/// values, with few pseudo-samples so they stay wide and adapt fast.
pub fn seed(b: &MeanSd) -> Ewm {
    Ewm {
        mean: b.mean,
        var: (b.sd * b.sd).max(0.25),
        n: 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baselines() -> SeedBaselines {
        let m = MeanSd { mean: 1.0, sd: 0.5 };
        SeedBaselines {
            log_calls_1m: m,
            log_calls_15m: m,
            log_distinct: m,
            log_bytes_5m: m,
            log_bytes_2h: m,
        }
    }

    /// Two archetypes: LLM agents that use `bedrock:InvokeModel`, and
    /// workloads that use `sqs:ReceiveMessage`.
    fn model() -> ArchetypeModel {
        let features = profile_features()
            .into_iter()
            .map(|(name, definition)| ProfileFeatureDef {
                name,
                definition,
                mean: 0.0,
                sd: 1.0,
            })
            .collect();
        let arch = |id: u32, t: &str, action: &str, x: f32| {
            let mut centroid = vec![0.0; PROFILE_LEN];
            centroid[0] = x;
            Archetype {
                id,
                label: format!("{t}-{id}"),
                description: String::new(),
                members: 50,
                agent_types: BTreeMap::from([(t.to_string(), 50)]),
                centroid,
                baselines: baselines(),
                member_distances: MemberDistances {
                    p50: 1.0,
                    p90: 2.0,
                    p99: 3.0,
                    max: 4.0,
                },
                actions: BTreeMap::from([(action.to_string(), 0.9)]),
                user_agents: BTreeMap::new(),
            }
        };
        ArchetypeModel {
            format: MODEL_FORMAT.into(),
            version: MODEL_VERSION,
            profile_version: PROFILE_VERSION,
            features,
            training: Training {
                trained_at: String::new(),
                warden_version: String::new(),
                inputs: vec![],
                events: 0,
                agents_profiled: 100,
                agents_skipped: 0,
                min_events: 200,
                k: 2,
                seed: 1,
                inertia: 0.0,
            },
            archetypes: vec![
                arch(0, "ai_agent", "bedrock:InvokeModel", -3.0),
                arch(1, "workload", "sqs:ReceiveMessage", 3.0),
            ],
        }
    }

    #[test]
    fn type_then_actions_move_the_match() {
        let m = Archetypes::new(model()).unwrap();
        let mut st = m.start(AgentType::AiAgent);
        assert_eq!(st.current, 0);
        assert!(m.confidence(&st) > 0.9);
        // An AI agent that behaves like a workload ends up matched to one.
        for _ in 0..4 {
            m.add_evidence(&mut st, fingerprint(fp_kind::ACTION, "sqs:ReceiveMessage"));
        }
        assert_eq!(st.current, 1);
        assert_eq!(
            m.share(1, fingerprint(fp_kind::ACTION, "sqs:ReceiveMessage")),
            Some(0.9)
        );
        assert_eq!(
            m.share(0, fingerprint(fp_kind::ACTION, "iam:CreateUser")),
            None
        );
    }

    #[test]
    fn settling_binds_to_the_nearest_centroid() {
        let m = Archetypes::new(model()).unwrap();
        let mut st = m.start(AgentType::AiAgent);
        let mut v = [0.0; PROFILE_LEN];
        v[0] = 2.5;
        m.settle(&mut st, &v);
        assert!(st.settled && st.evidence.is_empty());
        assert_eq!(st.current, 1);
        assert!((m.distance(1, &v) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn drift_surprise_grows_with_distance() {
        let m = Archetypes::new(model()).unwrap();
        assert_eq!(m.drift_surprise(0, 0.5), 0.0);
        let s: Vec<f32> = [1.5, 2.0, 3.0, 4.0, 5.0, 8.0]
            .iter()
            .map(|&d| m.drift_surprise(0, d))
            .collect();
        assert!(s.windows(2).all(|w| w[1] > w[0]), "{s:?}");
        assert!((s[1] - 1.0).abs() < 1e-5, "p90 is one bit: {s:?}");
        assert!((s[2] - 2.0).abs() < 1e-5, "p99 is two bits: {s:?}");
    }

    /// The model shipped in models/ is one this build reads.
    #[test]
    fn the_shipped_model_loads() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/archetypes-v1.json"
        ));
        let m = Archetypes::new(ArchetypeModel::load(path).unwrap()).unwrap();
        assert!(m.len() >= 4);
    }

    #[test]
    fn a_model_of_another_definition_is_refused() {
        let mut other = model();
        other.features.swap(0, 1);
        assert!(other.check().unwrap_err().contains("differ"));
        let mut old = model();
        old.profile_version = PROFILE_VERSION + 1;
        assert!(old.check().unwrap_err().contains("retrain"));
        let mut broken = model();
        broken.archetypes[0].centroid.pop();
        assert!(broken.check().is_err());
        let text = serde_json::to_string(&model()).unwrap();
        let back: ArchetypeModel = serde_json::from_str(&text).unwrap();
        assert_eq!(back, model());
    }
}
