//! Deciding recorded calls again under other thresholds and detector
//! weights: each recorded call is re-scored from its surprises and handed
//! to the real decider, so a sweep row is what the engine would decide.

use crate::decide::{Decider, DecisionConfig, DecisionInput, RevokeMode};
use crate::engine::ScoredHit;
use crate::event::CallRow;
use crate::keyed::KeyedMap;
use crate::offline::eval::{EvalReport, Evaluator};
use crate::signal::{combine, Signals, FEATURE_COUNT};
use crate::signal::{Score, Weights};

/// The recorded calls, agents interned.
#[derive(Debug, Default)]
pub(crate) struct HitSet {
    names: Vec<Box<str>>,
    /// Agent ids are caller-written: random hash keys (`crate::keyed`).
    index: KeyedMap<Box<str>, u32>,
    hits: Vec<Hit>,
}

#[derive(Debug, Clone)]
struct Hit {
    agent: u32,
    ts_ms: i64,
    surprise: [f32; FEATURE_COUNT],
    session: u64,
}

/// A recorded call scored under one set of weights.
#[derive(Debug, Clone)]
pub(crate) struct Rescored {
    /// Which recorded call (index into the hits).
    hit: u32,
    /// Its score under the weights (risk, confidence, contributions).
    pub score: Score,
}

impl HitSet {
    pub fn extend(&mut self, hits: Vec<ScoredHit>) {
        for h in hits {
            let agent = match self.index.get(&h.agent_id) {
                Some(&i) => i,
                None => {
                    let i = self.names.len() as u32;
                    self.names.push(h.agent_id.clone());
                    self.index.insert(h.agent_id, i);
                    i
                }
            };
            self.hits.push(Hit {
                agent,
                ts_ms: h.ts_ms,
                surprise: h.surprise,
                session: h.session,
            });
        }
    }

    /// Risk, confidence and leading detector of every call under `weights`.
    pub(crate) fn rescore(&self, weights: &Weights) -> Vec<Rescored> {
        self.hits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let sig = Signals {
                    surprise: h.surprise,
                    ..Signals::default()
                };
                Rescored {
                    hit: i as u32,
                    score: combine(&sig, weights),
                }
            })
            .collect()
    }

    /// The evaluation of the decisions these calls make at the thresholds:
    /// each call goes through the real decider (`rules` with the finding
    /// and revocation thresholds replaced), so the episode rules are the
    /// engine's own. The calls carry only what the rules read: agent, time,
    /// session and score.
    pub fn evaluate(
        &self,
        scored: &[Rescored],
        rules: &DecisionConfig,
        finding_threshold: f32,
        revoke_threshold: f32,
        rows: &Evaluator,
    ) -> EvalReport {
        let mut eval = rows.without_decisions();
        let mut decider = Decider::new(DecisionConfig {
            finding_threshold,
            revoke_threshold,
            // The sweep asks what revoking would do, whatever the mode.
            revoke: match rules.revoke {
                RevokeMode::Off => RevokeMode::Shadow,
                mode => mode,
            },
            ..rules.clone()
        });
        let mut decided = Vec::new();
        let mut session = String::new();
        for s in scored {
            let h = &self.hits[s.hit as usize];
            let signals = Signals {
                surprise: h.surprise,
                ..Signals::default()
            };
            let name = &self.names[h.agent as usize];
            session.clear();
            if h.session != 0 {
                session.push_str(&format!("{:016x}", h.session));
            }
            let row = CallRow {
                ts_ms: h.ts_ms,
                agent_id: name,
                session_id: (h.session != 0).then_some(session.as_str()),
                ..CallRow::default()
            };
            let input = DecisionInput {
                agent_idx: h.agent,
                agent_id: name,
                cohort: "",
                row: &row,
                signals: &signals,
                score: &s.score,
                evidence_ids: &[],
            };
            decider.decide(&input, &mut decided);
            for d in decided.drain(..) {
                eval.observe_decision(&row, &d);
            }
        }
        eval.finish()
    }
}
