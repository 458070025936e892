//! Deciding recorded calls again under other thresholds and detector
//! weights, with the decider's episode rules: a new finding when the agent
//! has no episode open (or its last one went quiet), one revocation per
//! target per episode, revocation only for high-confidence calls at or
//! above both thresholds. Only new findings and revocations matter to the
//! evaluation, so updates and closes are not modelled.

use crate::config::Weights;
use crate::decide::quiet_from_minute;
use crate::engine::{combine, ScoredHit, Signals};
use crate::eval::{EvalReport, Evaluator};
use rustc_hash::FxHashMap;

/// The recorded calls, agents interned.
#[derive(Debug, Default)]
pub struct HitSet {
    names: Vec<Box<str>>,
    index: FxHashMap<Box<str>, u32>,
    hits: Vec<Hit>,
}

#[derive(Debug, Clone)]
struct Hit {
    agent: u32,
    ts_ms: i64,
    surprise: [f32; crate::engine::FEATURE_COUNT],
    session: u64,
}

/// A recorded call scored under one set of weights.
#[derive(Debug, Clone, Copy)]
pub struct Rescored {
    agent: u32,
    ts_ms: i64,
    pub risk: f32,
    high_confidence: bool,
    lead: &'static str,
    session: u64,
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
    pub fn rescore(&self, weights: &Weights) -> Vec<Rescored> {
        self.hits
            .iter()
            .map(|h| {
                let sig = Signals {
                    surprise: h.surprise,
                    ..Signals::default()
                };
                let s = combine(&sig, weights);
                let lead: &'static str = match s.contributions().next() {
                    Some((f, _)) => f.name(),
                    None => "none",
                };
                Rescored {
                    agent: h.agent,
                    ts_ms: h.ts_ms,
                    risk: s.risk,
                    high_confidence: s.high_confidence,
                    lead,
                    session: h.session,
                }
            })
            .collect()
    }

    /// The evaluation of the decisions these calls make at the thresholds.
    pub fn evaluate(
        &self,
        scored: &[Rescored],
        finding_threshold: f32,
        revoke_threshold: f32,
        quiet_ms: i64,
        rows: &Evaluator,
    ) -> EvalReport {
        let mut eval = rows.without_decisions();
        // Per agent: last finding-level call, targets revoked this episode.
        let mut open: FxHashMap<u32, (i64, Vec<u64>)> = FxHashMap::default();
        for h in scored {
            if let Some((last, _)) = open.get(&h.agent) {
                if h.ts_ms.div_euclid(60_000) >= quiet_from_minute(*last, quiet_ms) {
                    open.remove(&h.agent);
                }
            }
            if h.risk < finding_threshold {
                continue;
            }
            let name = &self.names[h.agent as usize];
            let episode = open.entry(h.agent).or_insert_with(|| {
                eval.add_created(name, h.ts_ms, h.lead);
                (h.ts_ms, Vec::new())
            });
            episode.0 = episode.0.max(h.ts_ms);
            if h.risk >= revoke_threshold && h.high_confidence && !episode.1.contains(&h.session) {
                episode.1.push(h.session);
                eval.add_revocation(name, h.ts_ms);
            }
        }
        eval.finish()
    }
}
