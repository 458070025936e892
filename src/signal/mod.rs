//! Signals and scores: what each detector measured on a call (surprise in
//! bits, observed and expected values), and how the weighted surprises
//! combine into a risk. A leaf that the engine (which measures) and the
//! decider (which explains and decides) both import.

mod features;
mod score;

pub use features::{AttackTag, Feature, Group, Signals, FEATURE_COUNT};
pub(crate) use score::{combine, RiskHistogram, Score};

use serde::{Deserialize, Serialize};

/// Multiplier on each detector's surprise (`[detectors.weights]`; 1.0 = as
/// calibrated).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    /// Call rate against the agent's baseline.
    pub rate: f32,
    /// Activity in an hour of the week the agent is usually quiet.
    pub seasonal: f32,
    /// Values (actions, resources, networks, clients) new to the agent.
    pub novelty: f32,
    /// Distinct values in a short window (enumeration).
    pub distinct: f32,
    /// Failures and denials.
    pub outcome: f32,
    /// Bytes moved against the baseline.
    pub volume: f32,
    /// Session anomalies (reuse, age, concurrency).
    pub session: f32,
    /// Drift of a settled agent from its archetype (with `[engine] archetypes`).
    pub archetype: f32,
    /// A burst of new identities in one cohort (tenant and type).
    pub new_identities: f32,
    /// The first call of an ATT&CK tactic by an identity (`models/`
    /// attack catalogue).
    pub attack_catalogue: f32,
}

impl Weights {
    /// Every weight by its name in `[detectors.weights]`.
    fn named(&self) -> [(&'static str, f32); 10] {
        [
            ("rate", self.rate),
            ("seasonal", self.seasonal),
            ("novelty", self.novelty),
            ("distinct", self.distinct),
            ("outcome", self.outcome),
            ("volume", self.volume),
            ("session", self.session),
            ("archetype", self.archetype),
            ("new_identities", self.new_identities),
            ("attack_catalogue", self.attack_catalogue),
        ]
    }

    /// The first weight that is not a finite number of at least 0 (a
    /// negative weight would turn evidence into exoneration, and scoring
    /// counts only what is above zero), as a message naming it.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self
            .named()
            .into_iter()
            .find(|(_, w)| !(w.is_finite() && *w >= 0.0))
        {
            Some((name, w)) => Err(format!(
                "detectors.weights.{name} must be a finite number of at least 0, got {w}"
            )),
            None => Ok(()),
        }
    }
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            rate: 1.0,
            seasonal: 1.0,
            novelty: 1.0,
            distinct: 1.0,
            outcome: 1.0,
            volume: 1.0,
            session: 1.0,
            archetype: 1.0,
            new_identities: 1.0,
            attack_catalogue: 1.0,
        }
    }
}
