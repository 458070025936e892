//! The agent-type-wide view split by input partition, so the members of a
//! consumer group can share it (a GlobalKTable, in Kafka Streams' terms).
//!
//! A member scores only its partitions' calls, but how common a value is
//! among an agent type is a fleet-wide fact: a parent that other teams'
//! agents serve is a stranger to this team only if the member can see those
//! teams. So each partition's agents make a share of the view, the member
//! that owns the partition keeps it up to date and publishes it (the stream
//! writes it to the fleet topic at each checkpoint), and every member's view
//! is its own partitions' shares plus the latest published share of every
//! other partition. When a partition moves, its share moves with it: the
//! member giving it up keeps the share it last had as another member's
//! until the new owner publishes, and the new owner starts from the share
//! checkpointed in the partition's state.
//!
//! Replay has one partition and no shares: none of this runs there.

use super::{GlobalChange, GlobalDelta, Prevalence};
use rustc_hash::FxHashMap;

/// One partition's share of the view, by agent type.
pub(crate) type Share = FxHashMap<u8, Prevalence>;

/// Another member's partition, as last published.
#[derive(Debug, Default)]
struct Remote {
    /// The calls offset the share reflects (a later one replaces it).
    offset: i64,
    share: Share,
}

/// The shares behind one member's view.
#[derive(Debug, Default)]
pub(crate) struct Shares {
    /// Owned partitions: everything their agents have recorded.
    exact: FxHashMap<u32, Share>,
    /// Owned partitions: what the view holds of them (deltas reach the view
    /// `LAG_WINDOWS` windows after they are recorded).
    applied: FxHashMap<u32, Share>,
    /// Partitions other members own.
    remote: FxHashMap<u32, Remote>,
    /// Owned partitions: changes to the share so far (checkpoints and
    /// publications write a share only when it changed).
    changes: FxHashMap<u32, u64>,
    /// Owned partitions: the offset their share was last published at.
    published: FxHashMap<u32, i64>,
}

impl Shares {
    /// A delta recorded on `partition` now (the view takes it later).
    pub(crate) fn record(&mut self, partition: u32, agent_type: u8, change: GlobalChange) {
        let share = self.exact.entry(partition).or_default();
        apply_change(share.entry(agent_type).or_default(), change);
        *self.changes.entry(partition).or_default() += 1;
        self.applied.entry(partition).or_default();
    }

    /// Whether the view takes `d` now: a delta of a partition given up
    /// since it was recorded is already in the share handed on.
    pub(crate) fn take(&mut self, d: &GlobalDelta) -> bool {
        match self.applied.get_mut(&d.partition) {
            Some(share) => {
                apply_change(share.entry(d.agent_type).or_default(), d.change);
                true
            }
            None => false,
        }
    }

    /// Gives `partition` up: its exact share stays in `view` as another
    /// member's, as of the offset it was last published at, until the new
    /// owner publishes a later one.
    pub(crate) fn give_up(&mut self, partition: u32, view: &mut Share) {
        let exact = self.exact.remove(&partition).unwrap_or_default();
        if let Some(applied) = self.applied.remove(&partition) {
            subtract(view, &applied);
        }
        self.changes.remove(&partition);
        let offset = self.published.remove(&partition).unwrap_or(i64::MIN);
        add(view, &exact);
        self.remote.insert(
            partition,
            Remote {
                offset,
                share: exact,
            },
        );
    }

    /// Takes `partition` over: what another member published of it leaves
    /// the view (the partition's checkpointed share, then its calls,
    /// replace it).
    pub(crate) fn claim(&mut self, partition: u32, view: &mut Share) {
        if let Some(r) = self.remote.remove(&partition) {
            subtract(view, &r.share);
        }
        self.exact.entry(partition).or_default();
        self.applied.entry(partition).or_default();
        self.changes.entry(partition).or_default();
    }

    /// The checkpointed share of one agent type of an owned partition.
    pub(crate) fn restore(
        &mut self,
        partition: u32,
        agent_type: u8,
        snap: Prevalence,
        view: &mut Share,
    ) {
        self.claim(partition, view);
        let applied = self.applied.entry(partition).or_default();
        let old = applied.insert(agent_type, snap.clone()).unwrap_or_default();
        sub_one(view.entry(agent_type).or_default(), &old);
        add_one(view.entry(agent_type).or_default(), &snap);
        self.exact
            .entry(partition)
            .or_default()
            .insert(agent_type, snap);
    }

    /// Another member's share of `partition` as of `offset`. Refused (false)
    /// for a partition this member owns (its own share is newer) and for
    /// one older than the share held.
    pub(crate) fn adopt_remote(
        &mut self,
        partition: u32,
        offset: i64,
        share: Share,
        view: &mut Share,
    ) -> bool {
        if self.exact.contains_key(&partition) {
            return false;
        }
        if let Some(old) = self.remote.get(&partition) {
            if old.offset > offset {
                return false;
            }
            subtract(view, &old.share);
        }
        add(view, &share);
        self.remote.insert(partition, Remote { offset, share });
        true
    }

    /// An owned partition's share, with its change count.
    pub(crate) fn share(&self, partition: u32) -> Option<(&Share, u64)> {
        let share = self.exact.get(&partition)?;
        Some((share, self.changes.get(&partition).copied().unwrap_or(0)))
    }

    /// The changes to an owned partition's share so far.
    pub(crate) fn changes(&self, partition: u32) -> u64 {
        self.changes.get(&partition).copied().unwrap_or(0)
    }

    /// Records that `partition`'s share went out as of `offset`.
    pub(crate) fn published(&mut self, partition: u32, offset: i64) {
        if self.exact.contains_key(&partition) {
            self.published.insert(partition, offset);
        }
    }

    /// Partitions whose share comes from other members.
    pub(crate) fn remote_partitions(&self) -> usize {
        self.remote.len()
    }
}

fn apply_change(p: &mut Prevalence, change: GlobalChange) {
    match change {
        GlobalChange::Agent { ts } => p.count_agent(ts),
        GlobalChange::Value(fp) => p.adopt(fp),
    }
}

fn add(view: &mut Share, share: &Share) {
    for (t, p) in share {
        add_one(view.entry(*t).or_default(), p);
    }
}

fn subtract(view: &mut Share, share: &Share) {
    for (t, p) in share {
        if let Some(v) = view.get_mut(t) {
            sub_one(v, p);
        }
    }
}

fn add_one(view: &mut Prevalence, p: &Prevalence) {
    view.agents = view.agents.saturating_add(p.agents);
    view.first_ts = match (view.first_ts, p.first_ts) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    for (fp, n) in p.values() {
        view.add_holders(fp, n);
    }
}

fn sub_one(view: &mut Prevalence, p: &Prevalence) {
    view.agents = view.agents.saturating_sub(p.agents);
    for (fp, n) in p.values() {
        view.remove_holders(fp, n);
    }
}
