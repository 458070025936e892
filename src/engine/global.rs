//! The agent-type-wide prevalence (how many agents of a type, across every
//! cohort, use a value), read as of a few windows of calls ago.
//!
//! It is the one statistic every cohort shares, so it is what stops cohorts
//! from being scored on separate threads (`engine::sharded`). Its changes
//! are therefore recorded as deltas stamped with the call's position in the
//! input, and applied `LAG_WINDOWS` windows of `WINDOW_CALLS` calls later,
//! in input order. A single engine and N engines that each hold some of the
//! cohorts (and exchange their deltas) then see the same view at every call,
//! and their outputs are byte-identical. The view lags the newest calls by
//! at most `LAG_WINDOWS × WINDOW_CALLS` calls, which on a busy fleet is a
//! fraction of a second and on a quiet one minutes: it shrinks a cohort's
//! estimate of a value towards how common the value is elsewhere, which
//! does not need to be to the call.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;

/// How many agents hold each value: a cohort's, and (`GlobalPrevalence`)
/// an agent type's.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prevalence {
    pub(crate) agents: u32,
    pub(crate) first_ts: Option<i64>,
    /// value fingerprint -> number of agents that have used it
    values: FxHashMap<u64, u32>,
}

impl Prevalence {
    pub(crate) fn count_agent(&mut self, ts: i64) {
        self.agents += 1;
        self.first_ts.get_or_insert(ts);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.agents == 0 && self.values.is_empty()
    }

    pub(crate) fn adopt(&mut self, fp: u64) {
        if let Some(n) = self.values.get_mut(&fp) {
            *n += 1;
        } else if self.values.len() < MAX_VALUES_PER_COHORT {
            self.values.insert(fp, 1);
        }
    }

    pub(crate) fn holders(&self, fp: u64) -> u32 {
        self.values.get(&fp).copied().unwrap_or(0)
    }
}

/// Cap on distinct values remembered per cohort. Past it new values are not
/// counted (they read as rare), which errs towards alerting, never hiding.
const MAX_VALUES_PER_COHORT: usize = 1 << 16;

/// Calls per window: positions `w × WINDOW_CALLS ..` form window `w`.
pub(crate) const WINDOW_CALLS: u64 = 4096;
/// A call of window `w` sees the deltas of windows up to `w - LAG_WINDOWS`.
/// Two windows let engines on different threads drift a window apart
/// without waiting for each other.
pub(crate) const LAG_WINDOWS: u64 = 3;

/// One change to the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GlobalDelta {
    /// Input position of the call that made it (merge order).
    pub seq: u64,
    pub agent_type: u8,
    pub change: GlobalChange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobalChange {
    /// A new agent of the type, first seen at this time.
    Agent { ts: i64 },
    /// An agent of the type used this value for the first time.
    Value(u64),
}

/// Where an engine's deltas go and the merged deltas of every engine come
/// from, one window at a time, in window order.
pub(crate) trait GlobalExchange: Send {
    /// This engine's deltas of `window` (possibly none).
    fn publish(&mut self, window: u64, deltas: Vec<GlobalDelta>);
    /// Every engine's deltas of `window`, in input order (waits for the
    /// other engines if they have not published it yet).
    fn merged(&mut self, window: u64) -> Arc<Vec<GlobalDelta>>;
}

/// A lone engine: its own deltas are all there are.
#[derive(Debug, Default)]
pub(crate) struct LocalExchange {
    windows: VecDeque<(u64, Arc<Vec<GlobalDelta>>)>,
}

impl GlobalExchange for LocalExchange {
    fn publish(&mut self, window: u64, deltas: Vec<GlobalDelta>) {
        self.windows.push_back((window, Arc::new(deltas)));
    }

    fn merged(&mut self, window: u64) -> Arc<Vec<GlobalDelta>> {
        // Windows are published and taken in order, each once.
        while let Some((w, d)) = self.windows.pop_front() {
            if w == window {
                return d;
            }
        }
        Arc::default()
    }
}

/// The view, the deltas not yet published, and where the engine is.
pub(crate) struct GlobalPrevalence {
    view: FxHashMap<u8, Prevalence>,
    pending: Vec<GlobalDelta>,
    /// Input position of the call being scored (stamped on its deltas).
    seq: u64,
    /// The window of `seq`.
    window: u64,
    exchange: Box<dyn GlobalExchange>,
    /// Bumped whenever the view changes (checkpoints write it then).
    pub changes: u64,
}

impl std::fmt::Debug for GlobalPrevalence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalPrevalence")
            .field("types", &self.view.len())
            .field("pending", &self.pending.len())
            .field("seq", &self.seq)
            .finish()
    }
}

impl Default for GlobalPrevalence {
    fn default() -> Self {
        GlobalPrevalence {
            view: FxHashMap::default(),
            pending: Vec::new(),
            seq: 0,
            window: 0,
            exchange: Box::new(LocalExchange::default()),
            changes: 0,
        }
    }
}

impl GlobalPrevalence {
    /// Exchanges deltas through `exchange` (sharded scoring) instead of
    /// keeping them to itself.
    pub(crate) fn set_exchange(&mut self, exchange: Box<dyn GlobalExchange>) {
        self.exchange = exchange;
    }

    /// Moves to input position `seq`: publishes every window passed and
    /// applies every merged window now `LAG_WINDOWS` behind.
    pub(crate) fn advance(&mut self, seq: u64) {
        self.seq = seq;
        let w = seq / WINDOW_CALLS;
        while self.window < w {
            let done = std::mem::take(&mut self.pending);
            self.exchange.publish(self.window, done);
            self.window += 1;
            if let Some(ready) = self.window.checked_sub(LAG_WINDOWS) {
                let merged = self.exchange.merged(ready);
                self.apply(&merged);
            }
        }
    }

    fn apply(&mut self, deltas: &[GlobalDelta]) {
        for d in deltas {
            let g = self.view.entry(d.agent_type).or_default();
            match d.change {
                GlobalChange::Agent { ts } => g.count_agent(ts),
                GlobalChange::Value(fp) => g.adopt(fp),
            }
        }
        if !deltas.is_empty() {
            self.changes += 1;
        }
    }

    pub(crate) fn record(&mut self, agent_type: u8, change: GlobalChange) {
        self.pending.push(GlobalDelta {
            seq: self.seq,
            agent_type,
            change,
        });
    }

    /// The view for `agent_type`, if any agent of it is known.
    pub(crate) fn get(&self, agent_type: u8) -> Option<&Prevalence> {
        self.view.get(&agent_type)
    }

    /// The view by agent type, in type order (for the state topic).
    pub(crate) fn sorted(&self) -> Vec<(u8, &Prevalence)> {
        let mut g: Vec<(u8, &Prevalence)> = self.view.iter().map(|(k, v)| (*k, v)).collect();
        g.sort_unstable_by_key(|(k, _)| *k);
        g
    }

    /// Takes a restored view for a type this engine knows nothing of yet.
    pub(crate) fn adopt_snapshot(&mut self, agent_type: u8, snap: Prevalence) -> bool {
        let g = self.view.entry(agent_type).or_default();
        let fresh = g.is_empty();
        if fresh {
            *g = snap;
            self.changes += 1;
        }
        fresh
    }
}

/// Merges the engines' deltas of one window into input order.
pub(crate) fn merge(parts: Vec<Vec<GlobalDelta>>) -> Vec<GlobalDelta> {
    let mut all: Vec<GlobalDelta> = parts.into_iter().flatten().collect();
    // Stable: one call's deltas keep the order they were made in.
    all.sort_by_key(|d| d.seq);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(seq: u64, fp: u64) -> GlobalDelta {
        GlobalDelta {
            seq,
            agent_type: 1,
            change: GlobalChange::Value(fp),
        }
    }

    #[test]
    fn a_change_is_seen_only_lag_windows_later() {
        let mut g = GlobalPrevalence::default();
        g.advance(10);
        g.record(1, GlobalChange::Agent { ts: 5 });
        g.record(1, GlobalChange::Value(42));
        let seen = |g: &GlobalPrevalence| g.get(1).map_or(0, |p| p.holders(42));
        g.advance(WINDOW_CALLS * LAG_WINDOWS - 1);
        assert_eq!(seen(&g), 0, "still inside the lag");
        g.advance(WINDOW_CALLS * LAG_WINDOWS);
        assert_eq!(seen(&g), 1);
    }

    #[test]
    fn merged_windows_are_in_input_order_whoever_made_them() {
        let a = vec![value(3, 1), value(9, 2)];
        let b = vec![value(1, 3), value(5, 4), value(9, 5)];
        let seqs: Vec<u64> = merge(vec![a, b]).iter().map(|d| d.seq).collect();
        assert_eq!(seqs, [1, 3, 5, 9, 9]);
    }

    proptest::proptest! {
        /// However one window's calls were shared out between engines,
        /// the merged deltas are the ones a lone engine made, in its order.
        #[test]
        fn a_window_shared_out_merges_back_to_input_order(
            calls in proptest::collection::vec((0usize..4, 0u64..3), 0..200),
        ) {
            let mut lone = Vec::new();
            let mut parts = vec![Vec::new(); 4];
            for (seq, (engine, n)) in calls.iter().enumerate() {
                for k in 0..*n {
                    let d = value(seq as u64, seq as u64 * 10 + k);
                    lone.push(d);
                    parts[*engine].push(d);
                }
            }
            proptest::prop_assert_eq!(merge(parts), lone);
        }
    }
}
