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

mod shares;
pub(crate) use shares::Share;
use shares::Shares;

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

    /// Agents counted.
    pub fn agents(&self) -> u32 {
        self.agents
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

    /// Every value with its number of holders.
    pub(crate) fn values(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.values.iter().map(|(fp, n)| (*fp, *n))
    }

    /// Distinct values held.
    pub(crate) fn distinct(&self) -> usize {
        self.values.len()
    }

    /// Adds `n` holders of `fp` (another share of the view), within the cap.
    pub(crate) fn add_holders(&mut self, fp: u64, n: u32) {
        if let Some(h) = self.values.get_mut(&fp) {
            *h = h.saturating_add(n);
        } else if self.values.len() < MAX_VALUES_PER_COHORT {
            self.values.insert(fp, n);
        }
    }

    /// A prevalence of `n` values held once each, past the cap if asked
    /// (a hostile record's).
    #[cfg(test)]
    pub(crate) fn with_values(n: u64) -> Prevalence {
        Prevalence {
            agents: 1,
            first_ts: None,
            values: (0..n).map(|fp| (fp, 1)).collect(),
        }
    }

    /// Takes back `n` holders of `fp` added before.
    pub(crate) fn remove_holders(&mut self, fp: u64, n: u32) {
        if let Some(h) = self.values.get_mut(&fp) {
            *h = h.saturating_sub(n);
            if *h == 0 {
                self.values.remove(&fp);
            }
        }
    }
}

/// Cap on distinct values remembered per cohort. Past it new values are not
/// counted (they read as rare), which errs towards alerting, never hiding.
pub(crate) const MAX_VALUES_PER_COHORT: usize = 1 << 16;

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
    /// Input partition of the call that made it (see `shares`).
    pub partition: u32,
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
    /// Drops the deltas of `partition` not taken yet: the partition was
    /// given up with them in its share. Only a lone engine's exchange holds
    /// partitions that move (the stream's); sharded replay has one.
    fn forget_partition(&mut self, _partition: u32) {}
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

    fn forget_partition(&mut self, partition: u32) {
        for (_, deltas) in self.windows.iter_mut() {
            if deltas.iter().any(|d| d.partition == partition) {
                Arc::make_mut(deltas).retain(|d| d.partition != partition);
            }
        }
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
    /// Input partition of the call being scored.
    partition: u32,
    /// The view split by partition (the stream only, `track_partitions`).
    shares: Option<Box<Shares>>,
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
            partition: 0,
            shares: None,
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
            if let Some(shares) = self.shares.as_mut() {
                if !shares.take(d) {
                    continue;
                }
            }
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
            partition: self.partition,
            agent_type,
            change,
        });
        if let Some(shares) = self.shares.as_mut() {
            shares.record(self.partition, agent_type, change);
        }
    }

    /// The input partition of the calls scored from now on.
    pub(crate) fn set_partition(&mut self, partition: u32) {
        self.partition = partition;
    }

    /// Keeps the view split by input partition, so that partitions can move
    /// between members with their share of it (`shares`).
    pub(crate) fn track_partitions(&mut self) {
        self.shares.get_or_insert_with(Box::default);
    }

    /// Whether the view is split by partition (`track_partitions`).
    pub(crate) fn tracks_partitions(&self) -> bool {
        self.shares.is_some()
    }

    /// Takes `partition` over (before its state is restored).
    pub(crate) fn claim(&mut self, partition: u32) {
        if let Some(s) = self.shares.as_mut() {
            s.claim(partition, &mut self.view);
            self.changes += 1;
        }
    }

    /// Gives `partition` up (its share stays in the view as another
    /// member's until the new owner publishes). Its deltas not yet in the
    /// view are dropped: they are in the share handed on, and a partition
    /// taken back would otherwise count them twice.
    pub(crate) fn give_up(&mut self, partition: u32) {
        if let Some(s) = self.shares.as_mut() {
            s.give_up(partition, &mut self.view);
            self.pending.retain(|d| d.partition != partition);
            self.exchange.forget_partition(partition);
            self.changes += 1;
        }
    }

    /// Takes in the checkpointed share of `agent_type` of an owned
    /// partition; false when the view is not split by partition.
    pub(crate) fn restore_share(
        &mut self,
        partition: u32,
        agent_type: u8,
        snap: Prevalence,
    ) -> bool {
        match self.shares.as_mut() {
            Some(s) => {
                s.restore(partition, agent_type, snap, &mut self.view);
                self.changes += 1;
                true
            }
            None => false,
        }
    }

    /// Takes in another member's share of `partition` as of `offset`;
    /// false when refused (see `Shares::adopt_remote`).
    pub(crate) fn adopt_remote(&mut self, partition: u32, offset: i64, share: Share) -> bool {
        let adopted = self
            .shares
            .as_mut()
            .is_some_and(|s| s.adopt_remote(partition, offset, share, &mut self.view));
        if adopted {
            self.changes += 1;
        }
        adopted
    }

    /// An owned partition's share, by agent type in type order, with the
    /// number of changes made to it so far.
    pub(crate) fn share(&self, partition: u32) -> Option<(Vec<(u8, &Prevalence)>, u64)> {
        let (share, changes) = self.shares.as_ref()?.share(partition)?;
        let mut v: Vec<(u8, &Prevalence)> = share.iter().map(|(k, p)| (*k, p)).collect();
        v.sort_unstable_by_key(|(k, _)| *k);
        Some((v, changes))
    }

    /// Changes to an owned partition's share so far (0 when not split).
    pub(crate) fn share_changes(&self, partition: u32) -> u64 {
        self.shares.as_ref().map_or(0, |s| s.changes(partition))
    }

    /// Records that an owned partition's share went out as of `offset`.
    pub(crate) fn share_published(&mut self, partition: u32, offset: i64) {
        if let Some(s) = self.shares.as_mut() {
            s.published(partition, offset);
        }
    }

    /// Partitions whose share of the view comes from other members.
    pub(crate) fn remote_partitions(&self) -> usize {
        self.shares.as_ref().map_or(0, |s| s.remote_partitions())
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
            partition: 0,
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

    /// A member: a view split by partition.
    fn member() -> GlobalPrevalence {
        let mut g = GlobalPrevalence::default();
        g.track_partitions();
        g
    }

    /// `g` records, on `partition`, a new agent and `fps` as its values,
    /// then moves far enough on for the view to take them.
    fn agent_on(g: &mut GlobalPrevalence, partition: u32, fps: &[u64]) {
        g.set_partition(partition);
        g.record(1, GlobalChange::Agent { ts: 0 });
        for &fp in fps {
            g.record(1, GlobalChange::Value(fp));
        }
        let next = g.seq + WINDOW_CALLS * (LAG_WINDOWS + 1);
        g.advance(next);
    }

    /// The share `g` owns of `partition`, as another member takes it in.
    fn published(g: &GlobalPrevalence, partition: u32) -> Share {
        let (types, _) = g.share(partition).expect("owned");
        types.into_iter().map(|(t, p)| (t, p.clone())).collect()
    }

    fn holders(g: &GlobalPrevalence, fp: u64) -> (u32, u32) {
        g.get(1).map_or((0, 0), |p| (p.agents, p.holders(fp)))
    }

    #[test]
    fn another_members_partition_counts_in_the_view() {
        let (mut a, mut b) = (member(), member());
        agent_on(&mut a, 0, &[7]);
        agent_on(&mut b, 1, &[7, 8]);
        assert_eq!(holders(&a, 7), (1, 1), "a alone");
        assert!(a.adopt_remote(1, 100, published(&b, 1)));
        assert_eq!(holders(&a, 7), (2, 2));
        assert_eq!(holders(&a, 8), (2, 1));
        assert_eq!(a.remote_partitions(), 1);
        // A later share of the same partition replaces it, not adds to it.
        agent_on(&mut b, 1, &[8]);
        assert!(a.adopt_remote(1, 200, published(&b, 1)));
        assert_eq!(holders(&a, 8), (3, 2));
        // An older one (a record compaction had not removed yet) is refused.
        assert!(!a.adopt_remote(1, 150, Share::default()));
        assert_eq!(holders(&a, 8), (3, 2));
        // And nobody else's share of a partition a member owns is taken.
        assert!(!a.adopt_remote(0, 300, Share::default()));
        assert_eq!(holders(&a, 7), (3, 2));
    }

    #[test]
    fn a_partition_given_up_counts_until_its_new_owner_publishes() {
        let (mut a, mut b) = (member(), member());
        agent_on(&mut a, 0, &[7]);
        agent_on(&mut a, 1, &[7]);
        a.share_published(1, 40);
        // Recorded, not yet in the view, when the partition goes.
        a.set_partition(1);
        a.record(1, GlobalChange::Agent { ts: 0 });
        a.record(1, GlobalChange::Value(9));
        let handed_on = published(&a, 1);
        a.give_up(1);
        assert_eq!(holders(&a, 7), (3, 2), "kept, with what was pending");
        assert_eq!(holders(&a, 9), (3, 1));
        let next = a.seq + WINDOW_CALLS * (LAG_WINDOWS + 1);
        a.advance(next);
        assert_eq!(
            holders(&a, 9),
            (3, 1),
            "a pending delta is not counted twice"
        );
        // The new owner restores the share from the partition's state and
        // goes on; its publication replaces the one `a` kept.
        b.claim(1);
        for (t, p) in handed_on {
            assert!(b.restore_share(1, t, p));
        }
        agent_on(&mut b, 1, &[9]);
        assert_eq!(holders(&b, 9), (3, 2));
        assert!(a.adopt_remote(1, 41, published(&b, 1)));
        assert_eq!(holders(&a, 9), (4, 2));
        assert_eq!(holders(&a, 7), (4, 2));
    }

    #[test]
    fn a_partition_given_up_and_taken_back_counts_each_agent_once() {
        let mut a = member();
        agent_on(&mut a, 0, &[7]);
        // Recorded, one window published and not yet taken, one pending.
        a.set_partition(0);
        a.record(1, GlobalChange::Value(8));
        a.advance(a.seq + WINDOW_CALLS);
        a.record(1, GlobalChange::Value(9));
        let handed_on = published(&a, 0);
        a.give_up(0);
        // Taken back at once (a rebalance that settles where it started),
        // from the share its checkpoint holds.
        a.claim(0);
        for (t, p) in handed_on {
            assert!(a.restore_share(0, t, p));
        }
        let next = a.seq + WINDOW_CALLS * (LAG_WINDOWS + 1);
        a.advance(next);
        assert_eq!(holders(&a, 7), (1, 1));
        assert_eq!(holders(&a, 8), (1, 1), "not counted again");
        assert_eq!(holders(&a, 9), (1, 1), "not counted again");
    }

    #[test]
    fn a_partition_taken_over_drops_what_others_published_of_it() {
        let (mut a, mut b) = (member(), member());
        agent_on(&mut b, 1, &[7]);
        assert!(a.adopt_remote(1, 10, published(&b, 1)));
        assert_eq!(holders(&a, 7), (1, 1));
        a.claim(1);
        assert_eq!(holders(&a, 7), (0, 0), "its state and calls rebuild it");
        assert_eq!(a.remote_partitions(), 0);
        agent_on(&mut a, 1, &[7]);
        assert_eq!(holders(&a, 7), (1, 1));
    }

    #[test]
    fn a_lone_engine_does_not_split_its_view() {
        let mut g = GlobalPrevalence::default();
        agent_on(&mut g, 3, &[7]);
        assert!(g.share(3).is_none());
        assert!(!g.adopt_remote(1, 10, Share::default()));
        assert!(!g.restore_share(1, 1, Prevalence::default()));
        g.give_up(3);
        assert_eq!(holders(&g, 7), (1, 1));
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

        /// However a fleet's partitions are shared out between two members,
        /// and one moved between them midway and maybe back (share
        /// checkpointed by the one that gives it up, restored by the one
        /// that takes it, with deltas of it still on their way to the view),
        /// once each has published its partitions' shares to the other,
        /// both views are the one a lone engine reading every call has.
        #[test]
        fn members_that_share_their_partitions_see_the_whole_fleet(
            calls in proptest::collection::vec((0u32..4, 0u64..12, proptest::bool::ANY), 1..120),
            owner_of in proptest::collection::vec(proptest::bool::ANY, 4),
            moved in 0u32..4,
            move_at in 0usize..120,
            back_after in 0usize..60,
        ) {
            let mut lone = GlobalPrevalence::default();
            let mut members = [member(), member()];
            let mut owner: Vec<usize> = owner_of.iter().map(|&b| usize::from(b)).collect();
            let mut seq = 0;
            for (i, &(p, fp, new_agent)) in calls.iter().enumerate() {
                if i == move_at || i == move_at + back_after {
                    let (from, to) = (owner[moved as usize], 1 - owner[moved as usize]);
                    let handed = members[from].share(moved).map(|(t, _)| {
                        t.into_iter().map(|(t, p)| (t, p.clone())).collect::<Vec<_>>()
                    });
                    members[from].give_up(moved);
                    members[to].claim(moved);
                    for (t, share) in handed.unwrap_or_default() {
                        members[to].restore_share(moved, t, share);
                    }
                    owner[moved as usize] = to;
                }
                let change = if new_agent {
                    GlobalChange::Agent { ts: i as i64 }
                } else {
                    GlobalChange::Value(fp)
                };
                for g in [&mut lone, &mut members[owner[p as usize]]] {
                    g.advance(seq);
                    g.set_partition(p);
                    g.record(1, change);
                }
                seq += 700;
            }
            let end = seq + WINDOW_CALLS * (LAG_WINDOWS + 1);
            lone.advance(end);
            for g in members.iter_mut() {
                g.advance(end);
            }
            for p in 0..4u32 {
                let o = owner[p as usize];
                if let Some((types, _)) = members[o].share(p) {
                    let share: Share = types.into_iter().map(|(t, v)| (t, v.clone())).collect();
                    members[1 - o].adopt_remote(p, seq as i64, share);
                }
            }
            // Agents and holders; `first_ts` is when the view first counted
            // an agent, which depends on the order shares arrive in (and is
            // not read of the agent-type-wide view).
            let counts = |g: &GlobalPrevalence| {
                g.get(1).map(|p| {
                    let mut v: Vec<(u64, u32)> = p.values().collect();
                    v.sort_unstable();
                    (p.agents, v)
                })
            };
            let whole = counts(&lone);
            for g in &members {
                proptest::prop_assert_eq!(counts(g).filter(|c| c.0 > 0 || !c.1.is_empty()), whole.clone());
            }
        }
    }
}
