//! Per-agent state and the table that holds it under a memory cap.

use super::archetype::PROFILE_LEN;
use super::cohort::SENSITIVE_KIND;
use super::hour_profile::HourProfile;
use super::rare_parts::RareParts;
use super::session::SessionSlots;
use super::stats::{DistinctWindow, EpochIndex, Ewm, SeenValues};
use crate::event::{AgentType, HOUR_MS};
use crate::keyed::KeyedHash;
use hashbrown::HashTable;
use rustc_hash::FxHashMap;

/// Slots of `AgentState::own_by_kind`: the cohort's adoption kinds (the
/// novelty kinds and sensitive actions), and parents other teams serve.
const OWN_SLOTS: usize = FOREIGN_PARENT_SLOT + 1;
/// See `OWN_SLOTS`.
pub(crate) const FOREIGN_PARENT_SLOT: usize = SENSITIVE_KIND + 1;

/// Everything Warden remembers about one agent: decayed counters (forward
/// decay: idle agents cost nothing), baselines, a seen-values filter and an
/// hour-of-week profile. 944 bytes; see `tests::state_is_small`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct AgentState {
    pub cohort: u32,
    pub agent_type: AgentType,
    pub first_ts: i64,
    pub last_ts: i64,
    pub events: u32,
    // decayed counters
    pub c1m: f32,
    pub c15m: f32,
    pub c10m_total: f32,
    pub c10m_failed: f32,
    pub bytes5m: f32,
    pub bytes2h: f32,
    // baselines of the log of those counters
    pub rate1: Ewm,
    pub rate15: Ewm,
    pub distinct: Ewm,
    pub bytes_s: Ewm,
    pub bytes_l: Ewm,
    /// Calls per minute, for how bursty the agent is.
    pub minutes: MinuteCounts,
    pub fail_share: f32,
    // seasonality
    /// The hour `hour_count` counts (the latest the agent called in).
    pub hour_idx: EpochIndex,
    /// Calls in that hour, saturating: the hour-of-week profile keeps no
    /// more than 65,535 an hour either. Written as `u32`, as it was.
    #[serde(with = "super::stats::narrow_u32")]
    pub hour_count: u16,
    /// Calls of this hour that were flagged (risk at finding level): they
    /// are left out of the seasonal count and profile, so Warden does not
    /// learn from, or keep re-alerting on, what it already flagged.
    #[serde(with = "super::stats::narrow_u32")]
    pub hour_flagged: u16,
    /// Calls per hour-of-week slot (slot 0 = Monday 00:00 UTC), halved-in on revisit.
    pub profile: HourProfile,
    // novelty
    pub seen: SeenValues,
    /// Decayed rarity bits per novelty kind (see `detect::NOVELTY_KINDS`).
    pub novelty: [f32; 6],
    /// Decayed calls, calls that adopted a new value (of any kind), and
    /// adoptions per kind of first use (`detect::own_slot`): the agent's own
    /// novelty rates, which judge its first uses while it settles in.
    pub own_calls: f32,
    pub own_adoptions: f32,
    pub own_by_kind: [f32; OWN_SLOTS],
    pub actions_win: DistinctWindow,
    pub families_win: DistinctWindow,
    pub sessions: SessionSlots,
    /// Traffic into places the agent touched for the first time lately.
    pub places: super::fresh_places::FreshPlaces,
    /// Bytes per call on its usual actions, for slow ramps.
    pub trend: super::bytes_trend::BytesTrend,
    /// ATT&CK tactics the agent has called (bits per `catalogue` tactic).
    pub tactics: u32,
    /// Ids of recent events that stood out, kept only while there are any,
    /// and the agent's behaviour archetype, when a model is loaded.
    pub rare: RareParts,
}

impl AgentState {
    pub fn new(cohort: u32, agent_type: AgentType, ts: i64) -> Self {
        AgentState {
            cohort,
            agent_type,
            first_ts: ts,
            last_ts: ts,
            events: 0,
            c1m: 0.0,
            c15m: 0.0,
            c10m_total: 0.0,
            c10m_failed: 0.0,
            bytes5m: 0.0,
            bytes2h: 0.0,
            rate1: Ewm::default(),
            rate15: Ewm::default(),
            distinct: Ewm::default(),
            bytes_s: Ewm::default(),
            bytes_l: Ewm::default(),
            minutes: MinuteCounts::default(),
            fail_share: 0.0,
            hour_idx: EpochIndex::of(ts, HOUR_MS),
            hour_count: 0,
            hour_flagged: 0,
            profile: HourProfile::default(),
            seen: SeenValues::default(),
            novelty: [0.0; 6],
            own_calls: 0.0,
            own_adoptions: 0.0,
            own_by_kind: [0.0; OWN_SLOTS],
            actions_win: DistinctWindow::default(),
            families_win: DistinctWindow::default(),
            sessions: SessionSlots::default(),
            places: Default::default(),
            trend: Default::default(),
            tactics: 0,
            rare: RareParts::default(),
        }
    }

    /// Takes a call that reached finding level back out of the seasonal
    /// count and the volume counters: Warden does not learn from, or keep
    /// re-alerting on, what it already flagged (an exfiltration's bytes would
    /// otherwise keep the two-hour counter high long after it stopped).
    pub(crate) fn forget_flagged(&mut self, row: &crate::event::CallRow<'_>) {
        if EpochIndex::of(row.ts_ms, HOUR_MS) == self.hour_idx {
            self.hour_flagged = self.hour_flagged.saturating_add(1);
        }
        let b = row.bytes_out.unwrap_or(0) as f32;
        self.bytes5m = (self.bytes5m - b).max(0.0);
        self.bytes2h = (self.bytes2h - b).max(0.0);
    }

    /// Bytes this agent holds, including its heap parts.
    pub(crate) fn footprint(&self) -> usize {
        std::mem::size_of::<Self>() + self.seen.heap_bytes() + self.rare.heap_bytes()
    }
}

/// Exponentially weighted mean and second moment of calls per minute (idle
/// minutes included), giving the index of dispersion var/mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct MinuteCounts {
    minute: EpochIndex,
    /// Calls in `minute`, saturating (a single agent past a thousand calls
    /// a second is far past any dispersion it is judged by).
    #[serde(with = "super::stats::narrow_u32")]
    count: u16,
    mean: f32,
    sq: f32,
    /// Minutes folded, saturating: past a day of them the weight of a
    /// minute no longer depends on it.
    #[serde(with = "super::stats::narrow_u32")]
    folded: u16,
}

impl MinuteCounts {
    /// About a day of minutes.
    const ALPHA: f32 = 1.0 / 1440.0;

    fn fold(&mut self, x: f32) {
        let a = Self::ALPHA.max(1.0 / (self.folded as f32 + 1.0));
        self.mean += a * (x - self.mean);
        self.sq += a * (x * x - self.sq);
        self.folded = self.folded.saturating_add(1);
    }

    pub(crate) fn observe(&mut self, ts: i64) {
        let m = EpochIndex::of(ts, 60_000);
        if self.folded == 0 && self.count == 0 {
            self.minute = m;
        }
        if m.get() > self.minute.get() {
            self.fold(self.count as f32);
            // Idle minutes in between count as zeros (a day of them at most).
            for _ in 0..(m.get() - self.minute.get() - 1).min(1440) {
                self.fold(0.0);
            }
            self.minute = m;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
    }

    /// var / mean of calls per minute; 1 until known.
    pub(crate) fn dispersion(&self) -> f32 {
        if self.folded < 60 || self.mean <= 0.0 {
            return 1.0;
        }
        ((self.sq - self.mean * self.mean) / self.mean).max(1.0)
    }
}

/// Calls an agent makes before it leaves probation. A new identity is cheap
/// to mint; an established baseline is what detection stands on, so a
/// flood of new ids competes with other new ids first.
pub(crate) const PROBATION_CALLS: u32 = 32;

/// Agents by id, dense indices, a cap and eviction by arrival order.
///
/// Recency is the order calls were processed in, never their event time:
/// event time is written by the caller, and ranking by it let ids stamped
/// in the future push out every real agent. When the table is full, an
/// eighth of it goes: the least recently seen agents still on probation
/// (fewer than `PROBATION_CALLS` calls) while there are enough of them, and
/// the least recently seen of all only when there are not.
///
/// Ids are written by callers, so the index hashes them with keys drawn
/// per table (`KeyedHash`): ids crafted to collide under a fixed hash would
/// otherwise pile into one probe sequence and make every lookup walk it.
/// The index holds indices only; each id is stored once, in `ids`.
#[derive(Debug)]
pub(crate) struct AgentTable {
    index: HashTable<u32>,
    hasher: KeyedHash,
    ids: Vec<Box<str>>,
    states: Vec<AgentState>,
    /// The input partition each agent's events arrive on (0 in replay): its
    /// state is written to, and restored from, that partition of the state topic.
    partitions: Vec<u32>,
    /// Changed since its state was last written out.
    dirty: Vec<bool>,
    free: Vec<u32>,
    /// Arrival stamp of each agent's latest call (see `clock`).
    seen: Vec<u32>,
    /// Counts processed calls: the recency eviction ranks by. It is 32 bits
    /// (4 bytes less per agent in `seen`); when it runs out, the stamps are
    /// renumbered in the same order (`renumber_seen`).
    clock: u32,
    cap: usize,
    pub evicted: u64,
    /// Of those, agents evicted while on probation.
    pub evicted_on_probation: u64,
}

impl AgentTable {
    pub fn new(cap: usize) -> Self {
        AgentTable {
            index: HashTable::new(),
            hasher: KeyedHash::default(),
            ids: Vec::new(),
            states: Vec::new(),
            partitions: Vec::new(),
            dirty: Vec::new(),
            free: Vec::new(),
            seen: Vec::new(),
            clock: 0,
            cap,
            evicted: 0,
            evicted_on_probation: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn lookup(&self, id: &str) -> Option<u32> {
        let ids = &self.ids;
        self.index
            .find(self.hasher.hash_one(id), |&i| &*ids[i as usize] == id)
            .copied()
    }

    /// Inserts a new agent, evicting an eighth of the table first when it is
    /// full (see the type's docs). Returns the new index and the evicted ones.
    pub fn insert(&mut self, id: &str, state: AgentState, evicted: &mut Vec<u32>) -> u32 {
        if self.index.len() >= self.cap {
            self.evict_oldest(evicted);
        }
        let idx = match self.free.pop() {
            Some(i) => {
                self.ids[i as usize] = id.into();
                self.states[i as usize] = state;
                self.partitions[i as usize] = 0;
                self.dirty[i as usize] = true;
                self.seen[i as usize] = self.clock;
                i
            }
            None => {
                self.ids.push(id.into());
                self.states.push(state);
                self.partitions.push(0);
                self.dirty.push(true);
                self.seen.push(self.clock);
                (self.states.len() - 1) as u32
            }
        };
        let (ids, hasher) = (&self.ids, &self.hasher);
        self.index.insert_unique(hasher.hash_one(id), idx, |&i| {
            hasher.hash_one(&*ids[i as usize])
        });
        idx
    }

    /// Takes agent `idx` out of the index and its id out of `ids`; false
    /// when it was not there (a free slot).
    fn unindex(&mut self, idx: u32) -> bool {
        let ids = &self.ids;
        let id = &*ids[idx as usize];
        match self
            .index
            .find_entry(self.hasher.hash_one(id), |&i| i == idx)
        {
            Ok(entry) => {
                entry.remove();
                self.ids[idx as usize] = Box::default();
                true
            }
            Err(_) => false,
        }
    }

    fn evict_oldest(&mut self, evicted: &mut Vec<u32>) {
        let n = (self.cap / 8).max(1);
        let on_probation = |st: &AgentState| st.events < PROBATION_CALLS;
        let newcomers: Vec<(u32, u32, u32)> = self
            .index
            .iter()
            .filter(|&&i| on_probation(&self.states[i as usize]))
            .map(|&i| (self.states[i as usize].cohort, self.seen[i as usize], i))
            .collect();
        let chosen = if newcomers.len() >= n {
            fair_share(newcomers, n)
        } else {
            // Not enough newcomers to make room: the least recently seen of
            // all go, established or not.
            let mut all: Vec<(u32, u32)> = self
                .index
                .iter()
                .map(|&i| (self.seen[i as usize], i))
                .collect();
            let n = n.min(all.len());
            if n == 0 {
                return;
            }
            all.select_nth_unstable(n - 1);
            // In recency order, not the index's (its order changes with
            // the hash keys): the slots are reused in this order.
            let oldest = &mut all[..n];
            oldest.sort_unstable();
            oldest.iter().map(|&(_, i)| i).collect()
        };
        for &i in &chosen {
            if on_probation(&self.states[i as usize]) {
                self.evicted_on_probation += 1;
            }
            self.unindex(i);
            self.states[i as usize].rare.forget_notable();
            self.free.push(i);
            evicted.push(i);
        }
        self.evicted += chosen.len() as u64;
    }

    pub fn state(&mut self, idx: u32) -> &mut AgentState {
        &mut self.states[idx as usize]
    }

    pub(crate) fn state_ref(&self, idx: u32) -> &AgentState {
        &self.states[idx as usize]
    }

    /// Marks the agent changed and records the partition its events come
    /// on; returns whether that is another partition than it had.
    #[inline]
    pub(crate) fn touch(&mut self, idx: u32, partition: u32) -> bool {
        let moved = std::mem::replace(&mut self.partitions[idx as usize], partition) != partition;
        self.dirty[idx as usize] = true;
        if self.clock == u32::MAX {
            self.renumber_seen();
        }
        self.clock += 1;
        self.seen[idx as usize] = self.clock;
        moved
    }

    /// Gives the live agents' arrival stamps the ranks 1, 2, ... in the
    /// order eviction reads them (stamp, then index), so recency ranks the
    /// same after as before, and restarts the clock after them. Runs once
    /// per 4 billion calls.
    fn renumber_seen(&mut self) {
        let mut live: Vec<(u32, u32)> = self
            .index
            .iter()
            .map(|&i| (self.seen[i as usize], i))
            .collect();
        live.sort_unstable();
        self.seen.fill(0);
        for (rank, &(_, i)) in live.iter().enumerate() {
            self.seen[i as usize] = rank as u32 + 1;
        }
        self.clock = live.len() as u32;
    }

    /// Live agents of `partition` (all of them, or only those changed since
    /// their state was last taken), marking them clean.
    pub(crate) fn take_partition(&mut self, partition: u32, dirty_only: bool) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .index
            .iter()
            .copied()
            .filter(|&i| {
                self.partitions[i as usize] == partition && (!dirty_only || self.dirty[i as usize])
            })
            .collect();
        out.sort_unstable();
        for &i in &out {
            self.dirty[i as usize] = false;
        }
        out
    }

    pub(crate) fn mark_written(&mut self, idx: u32) {
        self.dirty[idx as usize] = false;
    }

    /// Forgets one agent (its partition moved to another instance).
    pub fn remove(&mut self, idx: u32) {
        if self.unindex(idx) {
            self.states[idx as usize].rare.forget_notable();
            self.free.push(idx);
        }
    }

    pub fn id(&self, idx: u32) -> &str {
        &self.ids[idx as usize]
    }

    /// Every agent held, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AgentState)> + '_ {
        self.index
            .iter()
            .map(|&i| (&*self.ids[i as usize], &self.states[i as usize]))
    }

    /// Bytes of agent state held now: states, ids, index entries and the
    /// per-agent columns beside them (partition, dirty bit, arrival stamp).
    pub fn state_bytes(&self) -> usize {
        const BESIDE: usize = std::mem::size_of::<Box<str>>() // `ids`
            + std::mem::size_of::<u32>() + 1 // the index entry and its control byte
            + std::mem::size_of::<u32>() // `partitions`
            + std::mem::size_of::<bool>() // `dirty`
            + std::mem::size_of::<u32>(); // `seen`
        self.index
            .iter()
            .map(|&i| self.states[i as usize].footprint() + self.ids[i as usize].len() + BESIDE)
            .sum()
    }
}

/// `n` newcomers (cohort, arrival stamp, index) to evict, shared out across
/// cohorts max-min fairly: the cohort (tenant and type) with the most
/// newcomers gives up its least recently seen first, until every cohort
/// still holding more than the others is down to their level. A flood of
/// new ids from one tenant then evicts that tenant's own newcomers, not
/// another tenant's new identities settling in.
fn fair_share(newcomers: Vec<(u32, u32, u32)>, n: usize) -> Vec<u32> {
    let mut by_cohort: FxHashMap<u32, Vec<(u32, u32)>> = FxHashMap::default();
    for (cohort, seen, i) in newcomers {
        by_cohort.entry(cohort).or_default().push((seen, i));
    }
    // The level L: the fewest newcomers a cohort keeps, such that taking
    // everything above L frees at least n.
    let above = |level: usize| -> usize {
        by_cohort
            .values()
            .map(|m| m.len().saturating_sub(level))
            .sum()
    };
    let (mut lo, mut hi) = (0usize, by_cohort.values().map(Vec::len).max().unwrap_or(0));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if above(mid) >= n {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let level = lo;
    // Everything above the level goes, oldest first within each cohort;
    // what that frees beyond n is given back, one newcomer each, to the
    // first of those cohorts in cohort order (deterministic).
    let mut keys: Vec<u32> = by_cohort.keys().copied().collect();
    keys.sort_unstable();
    let mut surplus = above(level) - n;
    let mut out = Vec::with_capacity(n);
    for k in keys {
        let members = by_cohort.get_mut(&k).expect("key from the map");
        let mut take = members.len().saturating_sub(level);
        if take > 0 && surplus > 0 {
            take -= 1;
            surplus -= 1;
        }
        if take == 0 {
            continue;
        }
        members.sort_unstable();
        out.extend(members[..take].iter().map(|&(_, i)| i));
    }
    out
}

impl AgentState {
    /// The agent's profile, read off its baselines.
    pub(crate) fn profile_vector(&self) -> [f32; PROFILE_LEN] {
        let st = self;
        // Hours of the day, folded over the week: unlike hour-of-week shares
        // these are as meaningful after one day as after a month, so an agent's
        // profile does not drift merely by growing older.
        let mut hours = [0f32; 24];
        for (slot, c) in st.profile.counts().enumerate() {
            hours[slot % 24] += c as f32;
        }
        let total: f32 = hours.iter().sum();
        let active = hours.iter().filter(|&&c| c > 0.0).count() as f32 / 24.0;
        hours.sort_by(|a, b| b.total_cmp(a));
        let busiest: f32 = hours[..8].iter().sum();
        let mut v = [0.0; PROFILE_LEN];
        v[..9].copy_from_slice(&[
            st.rate1.mean,
            st.rate15.mean,
            st.distinct.mean,
            st.bytes_s.mean,
            st.bytes_l.mean,
            st.fail_share,
            st.minutes.dispersion().ln(),
            active,
            if total > 0.0 { busiest / total } else { 1.0 },
        ]);
        if let Some(i) = AgentType::ALL.iter().position(|t| *t == st.agent_type) {
            v[9 + i] = 1.0;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowed_counters_are_written_as_before() {
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Before {
            minute: i64,
            count: u32,
            mean: f32,
            sq: f32,
            folded: u32,
        }
        let mut now = MinuteCounts::default();
        for ts in [0, 10, 20, 60_000, 61_000, 300_000, 300_001] {
            now.observe(1_795_000_000_000 + ts);
        }
        let bytes = postcard::to_allocvec(&now).unwrap();
        let before: Before = postcard::from_bytes(&bytes).unwrap();
        assert_eq!((before.count, before.folded), (2, 5));
        assert_eq!(bytes, postcard::to_allocvec(&before).unwrap());
        assert_eq!(postcard::from_bytes::<MinuteCounts>(&bytes).unwrap(), now);
        // A count past 16 bits, written by a build that kept 32, saturates.
        let wide = Before {
            count: 70_000,
            folded: u32::MAX,
            ..before
        };
        let read: MinuteCounts =
            postcard::from_bytes(&postcard::to_allocvec(&wide).unwrap()).unwrap();
        assert_eq!((read.count, read.folded), (u16::MAX, u16::MAX));
    }

    #[test]
    fn state_is_small() {
        let size = std::mem::size_of::<AgentState>();
        // The largest parts are the hour-of-week profile (168 B), the
        // per-action bytes trends (168 B), the seen-values filter's current
        // generation (128 B) and the sessions (120 B). Agents whose filter
        // rotated hold its previous generation on the heap (`footprint`).
        assert!(size <= 944, "AgentState is {size} bytes");
        // A 16-byte-aligned field would pad every agent's state to a
        // multiple of 16 (`stats::Bits128`).
        assert_eq!(std::mem::align_of::<AgentState>(), 8);
    }

    /// The index finds each id's own slot through removals and reused
    /// slots, also for ids that collide under an unkeyed hash (the ones a
    /// flooding sender would send: their low 15 bits agree under FxHash).
    #[test]
    fn the_index_finds_every_agent_through_removals_and_reuse() {
        use std::hash::BuildHasher;
        let fx = rustc_hash::FxBuildHasher;
        let ids: Vec<String> = (0u64..)
            .map(|k| format!("flood-{k:x}"))
            .filter(|id| fx.hash_one(id.as_str()) & 0x7fff == 0)
            .take(300)
            .collect();
        let mut t = AgentTable::new(10_000);
        let mut evicted = Vec::new();
        let st = || AgentState::new(0, AgentType::ServiceAccount, 0);
        let idx: Vec<u32> = ids
            .iter()
            .map(|id| t.insert(id, st(), &mut evicted))
            .collect();
        for (k, id) in ids.iter().enumerate().filter(|(k, _)| k % 3 == 0) {
            t.remove(idx[k]);
            assert_eq!(t.lookup(id), None);
        }
        t.remove(idx[0]); // twice: nothing happens
        assert_eq!(t.len(), 200);
        for (k, id) in ids.iter().enumerate() {
            match t.lookup(id) {
                Some(i) => assert!(k % 3 != 0 && i == idx[k] && t.id(i) == id),
                None => assert_eq!(k % 3, 0, "{id} lost"),
            }
        }
        // The removed come back into freed slots, under their own ids.
        for id in ids.iter().step_by(3) {
            let i = t.insert(id, st(), &mut evicted);
            assert_eq!(t.lookup(id), Some(i));
            assert_eq!(t.id(i), id);
        }
        assert_eq!(t.len(), 300);
        assert!(evicted.is_empty());
        let mut held: Vec<&str> = t.iter().map(|(id, _)| id).collect();
        held.sort_unstable();
        let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(held, want);
    }

    #[test]
    fn dispersion_separates_poisson_from_bursts() {
        // One call a minute, every minute: not bursty.
        let mut steady = MinuteCounts::default();
        for i in 0..2000 {
            steady.observe(i * 60_000 + 5);
        }
        assert!(steady.dispersion() < 1.1, "{}", steady.dispersion());
        // Twenty calls in one minute, then 19 idle minutes.
        let mut bursty = MinuteCounts::default();
        for b in 0..100 {
            for k in 0..20 {
                bursty.observe(b * 20 * 60_000 + k * 1000);
            }
        }
        assert!(bursty.dispersion() > 15.0, "{}", bursty.dispersion());
    }

    /// An agent with `calls` calls, seen now.
    fn seen_agent(t: &mut AgentTable, id: &str, calls: u32, ts: i64) -> u32 {
        seen_in(t, 0, id, calls, ts)
    }

    fn seen_in(t: &mut AgentTable, cohort: u32, id: &str, calls: u32, ts: i64) -> u32 {
        let mut st = AgentState::new(cohort, AgentType::Unknown, ts);
        st.events = calls;
        let i = t.insert(id, st, &mut Vec::new());
        t.touch(i, 0);
        i
    }

    #[test]
    fn one_tenants_flood_evicts_its_own_newcomers_not_another_tenants() {
        let mut t = AgentTable::new(64);
        for i in 0..40 {
            seen_agent(&mut t, &format!("real{i}"), 500, 1_000);
        }
        // Tenant 1's new identities, settling in, arrived before the flood.
        for i in 0..6 {
            seen_in(&mut t, 1, &format!("new{i}"), 3, 2_000);
        }
        for i in 0..10_000 {
            seen_in(&mut t, 2, &format!("spray{i}"), 1, 3_000);
        }
        for i in 0..6 {
            assert!(t.lookup(&format!("new{i}")).is_some(), "new{i} evicted");
        }
        assert!(t.len() <= 64);
    }

    #[test]
    fn fair_share_levels_the_largest_cohorts_first() {
        // Cohort 0 holds 10 newcomers, 1 holds 6, 2 holds 2; freeing 8
        // takes both 0 and 1 down to 4, leaving 2 alone.
        let mut v = Vec::new();
        for (cohort, n) in [(0u32, 10u32), (1, 6), (2, 2)] {
            for k in 0..n {
                v.push((cohort, k, cohort * 100 + k));
            }
        }
        let out = fair_share(v, 8);
        assert_eq!(out.len(), 8);
        let from = |c: u32| out.iter().filter(|&&i| i / 100 == c).count();
        assert_eq!((from(0), from(1), from(2)), (6, 2, 0), "{out:?}");
        // Oldest first within a cohort.
        assert!(out.contains(&0) && out.contains(&100), "{out:?}");
    }

    #[test]
    fn a_flood_of_new_ids_stamped_in_the_future_evicts_only_newcomers() {
        let mut t = AgentTable::new(64);
        for i in 0..40 {
            seen_agent(&mut t, &format!("real{i}"), 500, 1_000);
        }
        // 10,000 fresh ids dated a day ahead: by event time every real agent
        // would look oldest.
        for i in 0..10_000 {
            seen_agent(&mut t, &format!("spray{i}"), 1, 1_000 + 86_400_000);
        }
        for i in 0..40 {
            assert!(t.lookup(&format!("real{i}")).is_some(), "real{i} evicted");
        }
        assert!(t.len() <= 64);
        assert_eq!(t.evicted, t.evicted_on_probation);
        assert!(
            t.lookup("spray9999").is_some(),
            "the newest newcomer is kept"
        );
    }

    /// The 32-bit arrival clock running out renumbers the stamps without
    /// changing who is least recently seen.
    #[test]
    fn the_arrival_clock_wraps_without_changing_recency() {
        let mut t = AgentTable::new(16);
        for i in 0..16 {
            seen_agent(&mut t, &format!("a{i}"), 500, 0);
        }
        t.clock = u32::MAX - 3;
        // a0..a5 call again across the clock's end, a0 last.
        for i in (0..6).rev() {
            let idx = t.lookup(&format!("a{i}")).unwrap();
            t.touch(idx, 0);
        }
        assert!(t.clock < 32, "renumbered: {}", t.clock);
        seen_agent(&mut t, "new", 1, 0);
        // a6 and a7 are the least recently seen now.
        assert!(t.lookup("a6").is_none() && t.lookup("a7").is_none());
        for i in (0..6).chain(8..16) {
            assert!(t.lookup(&format!("a{i}")).is_some(), "a{i}");
        }
    }

    #[test]
    fn without_enough_newcomers_the_least_recently_seen_go() {
        let mut t = AgentTable::new(16);
        for i in 0..16 {
            seen_agent(&mut t, &format!("a{i}"), 500, 0);
        }
        // a0 calls again, so a1 and a2 are now the least recently seen,
        // though a0's event time is the oldest.
        let a0 = t.lookup("a0").unwrap();
        t.touch(a0, 0);
        seen_agent(&mut t, "new", 1, 0);
        assert!(t.lookup("a0").is_some());
        assert!(t.lookup("a1").is_none() && t.lookup("a2").is_none());
        assert_eq!(t.evicted, 2);
        assert_eq!(t.evicted_on_probation, 0);
    }

    #[test]
    fn eviction_keeps_recent_agents_and_admits_new_ones() {
        let mut t = AgentTable::new(16);
        let mut ev = Vec::new();
        for i in 0..16 {
            let idx = t.insert(
                &format!("a{i}"),
                AgentState::new(0, AgentType::Unknown, i),
                &mut ev,
            );
            t.touch(idx, 0);
        }
        assert!(ev.is_empty());
        t.insert("new", AgentState::new(0, AgentType::Unknown, 100), &mut ev);
        assert_eq!(ev.len(), 2);
        assert!(t.lookup("a0").is_none() && t.lookup("a1").is_none());
        assert!(t.lookup("a15").is_some() && t.lookup("new").is_some());
        assert_eq!(t.len(), 15);
        assert_eq!(t.evicted, 2);
    }
}
