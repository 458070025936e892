//! Cohorts: an agent's peers (same tenant and agent type by default). They
//! answer "how rare is this value among my peers" for novelty, give a brand-new
//! agent a baseline from its first call, and tell a team-wide surge (a deploy)
//! from one agent's burst.

pub use super::global::Prevalence;
use super::global::{GlobalChange, GlobalPrevalence};
use super::shape::DayShape;
use super::stats::{decay, Ewm};
use crate::event::AgentType;
use crate::keyed::KeyedMap;
use rustc_hash::FxHashMap;

/// Kinds of values tracked for novelty (action, resource family, network,
/// user agent, parent, tenant, and sensitive action), in the order `detect` uses.
/// Sensitive actions have their own adoption rate: peers adopting new
/// everyday tools says little about how often they adopt new IAM calls.
pub(crate) const NOVELTY_KINDS: usize = 7;
pub(crate) const SENSITIVE_KIND: usize = 6;
/// Adoption counts and cohort event counts forget with this time constant,
/// so the burst of "everything is new" at start-up fades within days.
const ADOPTION_TAU_MS: f32 = 24.0 * 3_600_000.0;
/// A value held by fewer than this share of the cohort is rare.
const RARE_SHARE: f32 = 0.2;

/// How unusual a value is among the peers of an agent that uses it for the
/// first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rarity {
    /// No peer has used it (and it is not common elsewhere for this agent type).
    CohortNew = 0,
    /// Few peers use it.
    CohortRare = 1,
    /// Many peers use it: not evidence of anything.
    Common = 2,
}

/// What an adoption may teach its cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Teaches {
    /// Nothing: the agent is spraying values (`detect::novelty`).
    Nothing,
    /// How common the value is, but not that the team is taking it up: a
    /// new identity without a track record.
    Prevalence,
    /// Both.
    All,
}

/// The answer to "how surprising is it that this agent adopted this value".
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Novelty {
    pub class: Rarity,
    /// -log10 of the cohort's recent per-call rate of adoptions of this class.
    pub bits: f32,
    pub holders: u32,
    pub agents: u32,
    /// The adoption counter this incremented, if any: (kind, class).
    pub recorded: Option<(usize, usize)>,
    /// Other agents of the cohort that adopted the same value lately
    /// (decayed over `ROLLOUT_TAU_MS`): a team-wide roll-out.
    pub recent_peers: f32,
    /// Bits taken off for that roll-out (`rollout_discount`).
    pub discount: f32,
    /// No peer uses it, but agents of the same type in other cohorts do:
    /// it belongs to another team.
    pub elsewhere: bool,
}

/// Agents remembered as having moved into new places lately.
const MOVERS: usize = 8;
/// How long a move counts towards a team-wide one: as long as a place
/// stays new to an agent (`detect::places`).
const MOVE_WINDOW_MS: i64 = 4 * 3_600_000;

/// Memory of who adopted a value lately: a team's roll-out lands on its
/// members within minutes to an hour.
const ROLLOUT_TAU_MS: f32 = 30.0 * 60_000.0;
/// Values whose recent adopters a cohort remembers; past it, those not
/// adopted for two time constants are forgotten first.
const MAX_RECENT_VALUES: usize = 2048;
/// Most bits a roll-out can take off a first use.
pub(crate) const ROLLOUT_MAX_DISCOUNT: f32 = 3.0;

/// Bits a first use loses because `peers` other agents of the cohort took
/// the same value up lately: none for one peer (one compromised agent must
/// not launder a value for the others), then 1.5 bits per doubling, at most
/// `ROLLOUT_MAX_DISCOUNT`.
pub(crate) fn rollout_discount(peers: f32) -> f32 {
    if peers < 2.0 {
        0.0
    } else {
        (1.5 * peers.log2()).min(ROLLOUT_MAX_DISCOUNT)
    }
}

/// New identities in one cohort within `BURST_WINDOW_MS` that make a burst
/// (with `BURST_RATIO` times the usual count), once the cohort is older
/// than `BURST_WARMUP_MS`.
const BURST_MIN: f32 = 50.0;
const BURST_RATIO: f32 = 10.0;
const BURST_WINDOW_MS: f32 = 15.0 * 60_000.0;
const BURST_DAY_MS: f32 = 24.0 * 3_600_000.0;
const BURST_WARMUP_MS: i64 = 6 * 3_600_000;

/// Member means (each member's folded in every 64 of its calls) a
/// cohort's prior needs before its spread is read (`Cohort::member_spread`).
const MEMBER_SPREAD_AFTER: u32 = 20;
/// Least spread read from a cohort: members alike to a factor of about
/// 1.6 (in the log units the baselines keep).
const MIN_MEMBER_SPREAD: f32 = 0.25;

/// Baseline families a cohort keeps priors for (see `Prior`).
pub(crate) const PRIOR_COUNT: usize = 5;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Prior {
    Rate1m = 0,
    Rate15m = 1,
    Distinct = 2,
    BytesShort = 3,
    BytesLong = 4,
}

/// Who took a value up lately, two ways: a count decayed over
/// `ROLLOUT_TAU_MS` (how team-wide its adoption is right now), and the
/// current wave of adoptions (adoptions no more than `MOVE_WINDOW_MS`
/// apart), so an agent's move can be judged later against everyone who
/// moved around the same time, the stragglers of a slow roll-out included.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct RecentAdopters {
    decayed: f32,
    last: i64,
    wave_start: i64,
    wave_adopters: u32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cohort {
    pub key: Box<str>,
    prevalence: Prevalence,
    /// Mean baselines of member agents: a new agent starts from these.
    pub priors: [Ewm; PRIOR_COUNT],
    /// Whole-cohort call rate (15 min decayed count) and its baseline.
    activity: f32,
    last_ts: i64,
    activity_base: Ewm,
    /// Decayed calls, and decayed adoptions per novelty kind and rarity class.
    events: f32,
    adoptions: [[f32; 2]; NOVELTY_KINDS],
    /// New identities: decayed over 15 minutes and over a day (the
    /// baseline), the time of the last, and how many doublings of a burst
    /// have been reported (see `Cohorts::newcomer`).
    newcomers: f32,
    newcomers_day: f32,
    newcomers_ts: i64,
    burst_level: u32,
    /// value fingerprint -> its recent adopters.
    recent: FxHashMap<u64, RecentAdopters>,
    /// The latest agents (fingerprint, time) to move into a place of
    /// their own: several at once is the team moving (a migration).
    movers: [(u32, i64); MOVERS],
    /// The team's hour-of-day shape, lent to members with little history.
    day_shape: DayShape,
}

impl Cohort {
    /// A cohort that has learned nothing yet.
    pub(crate) fn empty(key: &str) -> Cohort {
        Cohort {
            key: key.into(),
            prevalence: Prevalence::default(),
            priors: [Ewm::default(); PRIOR_COUNT],
            activity: 0.0,
            last_ts: i64::MIN,
            activity_base: Ewm::default(),
            events: 0.0,
            adoptions: [[0.0; 2]; NOVELTY_KINDS],
            newcomers: 0.0,
            newcomers_day: 0.0,
            newcomers_ts: i64::MIN,
            burst_level: 0,
            recent: FxHashMap::default(),
            movers: [(0, i64::MIN); MOVERS],
            day_shape: DayShape::default(),
        }
    }

    /// Whether it has learned nothing: no agent and no call.
    fn is_fresh(&self) -> bool {
        self.prevalence.agents == 0 && self.events == 0.0
    }

    /// Other agents that adopted `fp` lately, as of `ts`; counts this
    /// adoption in when `record`.
    fn recent_adopters(&mut self, fp: u64, ts: i64, record: bool) -> f32 {
        let seen = self.recent.get(&fp).map_or(0.0, |r| {
            r.decayed * decay((ts - r.last).max(0), ROLLOUT_TAU_MS)
        });
        if record {
            if self.recent.len() >= MAX_RECENT_VALUES && !self.recent.contains_key(&fp) {
                let horizon = 2.0 * ROLLOUT_TAU_MS;
                self.recent.retain(|_, r| ((ts - r.last) as f32) < horizon);
                if self.recent.len() >= MAX_RECENT_VALUES {
                    return seen;
                }
            }
            let e = self.recent.entry(fp).or_insert(RecentAdopters {
                decayed: 0.0,
                last: ts,
                wave_start: ts,
                wave_adopters: 0,
            });
            if ts - e.last >= MOVE_WINDOW_MS {
                (e.wave_start, e.wave_adopters) = (ts, 0);
            }
            e.decayed = seen + 1.0;
            e.last = ts.max(e.last);
            e.wave_start = e.wave_start.min(ts);
            e.wave_adopters = e.wave_adopters.saturating_add(1);
        }
        seen
    }

    /// Log-rate excess of the cohort right now, leaving out `own` (the
    /// asking agent's share of the recent activity): one agent's burst is not
    /// a team-wide surge, however quiet its peers are. 0 when not surging.
    pub fn surge(&self, own: f32) -> f32 {
        self.others_activity(own).map_or(0.0, |others| {
            ((1.0 + others).ln() - self.activity_base.mean).max(0.0)
        })
    }

    /// How busy the team is right now against its usual level, leaving out
    /// `own` as `surge` does: about 1 at a normal time, near 0 while the
    /// team is idle. It stands in for the day shape until a full day of it
    /// is known. `None` while the usual level is not known either.
    pub fn busy_now(&self, own: f32) -> Option<f32> {
        self.others_activity(own)
            .map(|others| (1.0 + others) / self.activity_base.mean.exp())
    }

    /// The team's recent activity without `own`, once its usual level is
    /// known (`surge` and `busy_now` compare the two).
    fn others_activity(&self, own: f32) -> Option<f32> {
        (self.activity_base.n >= 200).then(|| (self.activity - own).max(0.0))
    }

    /// How far apart the cohort's members sit on baseline `which`: the
    /// variance of their means (at least `MIN_MEMBER_SPREAD`), once
    /// `MEMBER_SPREAD_AFTER` of them have been folded into the prior.
    /// `None` before: a young cohort does not know it yet.
    pub(crate) fn member_spread(&self, which: Prior) -> Option<f32> {
        let p = self.priors[which as usize];
        (p.n >= MEMBER_SPREAD_AFTER).then_some(p.var.max(MIN_MEMBER_SPREAD))
    }

    /// How busy clock hour `hour` is for the team relative to its average
    /// hour (`DayShape::share`).
    pub fn day_share(&self, hour: i64) -> Option<f32> {
        self.day_shape.share(hour)
    }
}

/// All cohorts plus a per-agent-type global prevalence used to shrink small
/// cohorts' estimates.
///
/// Cohort keys come from callers (a tenant is a field of the call), so the
/// number of cohorts is capped: past `max`, an agent of an unknown cohort
/// joins its agent type's fallback cohort (`OVERFLOW_TENANT|type`). A
/// million fake tenants then cost one cohort, not a million, and real
/// cohorts keep their statistics. Cohorts are never evicted: their indices
/// are held by agents.
#[derive(Debug)]
pub(crate) struct Cohorts {
    /// Keyed hashing: cohort keys carry caller-written tenants (`keyed`).
    index: KeyedMap<Box<str>, u32>,
    list: Vec<Cohort>,
    /// Agent-type-wide prevalence, read with a lag (see `global`).
    global: GlobalPrevalence,
    max: usize,
    /// Agents sent to a fallback cohort because the cap was reached.
    pub overflowed: u64,
    /// Counts changes to any cohort; `touched` stamps each with it, so a
    /// checkpoint writes only the cohorts changed since the last one.
    clock: u64,
    touched: Vec<u64>,
    /// Which input partitions each cohort's agents arrive on (`Home`).
    homes: Vec<Home>,
    /// Cohorts whose agents arrived on more than one partition.
    pub split: u64,
}

/// Where a cohort's agents arrive, as this engine has seen them.
///
/// On a calls topic keyed by each agent's own tenant (which keeps every
/// cohort of the tenant together) each cohort lives in one partition, and
/// its statistics are that partition's state: they are checkpointed to that
/// partition only, forgotten with it, and taken over whole by whoever takes
/// the partition over. Which member holds what then does not change what a
/// call scores. A cohort whose agents come on several partitions (a topic
/// keyed by agent) is split: each member learns it from its own partitions,
/// checkpoints it to each of them, and adopts a copy only where it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Home {
    /// No agent of it seen here (new, or forgotten with its partition).
    Unseen,
    One(u32),
    Split,
}

/// The tenant part of a fallback cohort's key.
pub(crate) const OVERFLOW_TENANT: &str = "(overflow)";

impl Default for Cohorts {
    fn default() -> Self {
        Cohorts::with_cap(usize::MAX)
    }
}

impl Cohorts {
    pub(crate) fn with_cap(max: usize) -> Self {
        Cohorts {
            index: KeyedMap::default(),
            list: Vec::new(),
            global: GlobalPrevalence::default(),
            max,
            overflowed: 0,
            clock: 0,
            touched: Vec::new(),
            homes: Vec::new(),
            split: 0,
        }
    }

    /// Records that an agent of `cohort` arrived on input `partition`.
    pub(crate) fn note_partition(&mut self, cohort: u32, partition: u32) {
        let home = &mut self.homes[cohort as usize];
        *home = match *home {
            Home::Unseen => Home::One(partition),
            Home::One(p) if p == partition => return,
            Home::One(_) => {
                self.split += 1;
                Home::Split
            }
            Home::Split => return,
        };
    }

    /// Whether `partition`'s checkpoints carry cohort `i`: one that lives
    /// there, a split one, and one adopted from a checkpoint with no agent
    /// of it here; not one that lives in another partition, nor one that
    /// has learned nothing.
    fn written_to(&self, i: usize, partition: u32) -> bool {
        match self.homes[i] {
            Home::One(p) => p == partition,
            Home::Split => true,
            Home::Unseen => !self.list[i].is_fresh(),
        }
    }

    /// Forgets the cohorts that live in `partition` (its agents are being
    /// dropped): whoever takes the partition over has them from its
    /// checkpoint, and this engine must not keep a copy that goes stale and
    /// would keep it from adopting the current one should the partition
    /// come back.
    pub(crate) fn forget_partition(&mut self, partition: u32) {
        for i in 0..self.list.len() {
            if self.homes[i] == Home::One(partition) {
                self.list[i] = Cohort::empty(&self.list[i].key);
                self.homes[i] = Home::Unseen;
                self.touched[i] = 0;
            }
        }
    }

    /// The cohort for an agent of `agent_type` with cohort `key`: its own
    /// while the cap allows, else its type's fallback cohort.
    pub(crate) fn join(&mut self, key: &str, agent_type: AgentType) -> u32 {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        // The fallback cohorts themselves may go one past the cap per type.
        if self.list.len() >= self.max {
            self.overflowed += 1;
            let fallback = format!("{OVERFLOW_TENANT}|{}", agent_type.as_str());
            return self.intern(&fallback);
        }
        self.intern(key)
    }

    #[inline]
    fn touch(&mut self, i: u32) {
        self.clock += 1;
        self.touched[i as usize] = self.clock;
    }

    /// The agent-type-wide prevalence (its input position and exchange).
    pub(crate) fn global_mut(&mut self) -> &mut GlobalPrevalence {
        &mut self.global
    }

    /// The agent-type-wide prevalence.
    pub(crate) fn global(&self) -> &GlobalPrevalence {
        &self.global
    }

    /// The cohorts a checkpoint of `partition` carries (`written_to`) that
    /// changed since `since` (a value of `changes()`), or all of them. The
    /// agent-type-wide prevalence has its own counter (`GlobalPrevalence`).
    pub(crate) fn changed_since(&self, since: Option<u64>, partition: u32) -> Vec<&Cohort> {
        let after = since.unwrap_or(0);
        self.list
            .iter()
            .zip(&self.touched)
            .enumerate()
            .filter(|&(i, (_, &t))| (since.is_none() || t > after) && self.written_to(i, partition))
            .map(|(_, (c, _))| c)
            .collect()
    }

    /// The change counter now.
    pub(crate) fn changes(&self) -> u64 {
        self.clock
    }

    pub(crate) fn intern(&mut self, key: &str) -> u32 {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.list.len() as u32;
        self.touched.push(0);
        self.homes.push(Home::Unseen);
        self.list.push(Cohort::empty(key));
        self.index.insert(key.into(), i);
        i
    }

    pub fn get(&self, i: u32) -> &Cohort {
        &self.list[i as usize]
    }

    pub(crate) fn add_agent(&mut self, cohort: u32, agent_type: AgentType, ts: i64) {
        self.touch(cohort);
        self.list[cohort as usize].prevalence.count_agent(ts);
        self.global
            .record(agent_type as u8, GlobalChange::Agent { ts });
    }

    /// Counts a new identity in `cohort` at `ts` (arrival order; a time
    /// before the last counts as the last). Returns `(observed, expected)`
    /// new identities in the last 15 minutes when this one makes a burst
    /// worth reporting: at least `BURST_MIN` and `BURST_RATIO` times the
    /// cohort's usual 15-minute count, in a cohort older than `BURST_WARMUP_MS`
    /// (at start-up every identity is new). A burst is reported when it
    /// first crosses the floor and again at each doubling, so two million
    /// sprayed ids make about fifteen reports, not two million.
    pub(crate) fn newcomer(&mut self, cohort: u32, ts: i64) -> Option<(f32, f32)> {
        self.touch(cohort);
        let c = &mut self.list[cohort as usize];
        let dt = if c.newcomers_ts == i64::MIN {
            0
        } else {
            (ts - c.newcomers_ts).max(0)
        };
        c.newcomers_ts = c.newcomers_ts.max(ts);
        // The expectation is read before this burst adds to it.
        let expected = c.newcomers_day * decay(dt, BURST_DAY_MS) * BURST_WINDOW_MS / BURST_DAY_MS;
        c.newcomers = c.newcomers * decay(dt, BURST_WINDOW_MS) + 1.0;
        c.newcomers_day = c.newcomers_day * decay(dt, BURST_DAY_MS) + 1.0;
        if c.newcomers < BURST_MIN / 2.0 {
            c.burst_level = 0;
        }
        let warm = c
            .prevalence
            .first_ts
            .is_some_and(|f| ts - f >= BURST_WARMUP_MS);
        let next = BURST_MIN * (1u64 << c.burst_level.min(40)) as f32;
        if warm && c.newcomers >= next && c.newcomers >= BURST_RATIO * (expected + 1.0) {
            c.burst_level += 1;
            return Some((c.newcomers, expected));
        }
        None
    }

    /// Classifies a value an agent of `cohort` uses for the first time, scores
    /// it by how often such adoptions happen in this cohort per call, and
    /// records the adoption as far as `teaches` allows (a spraying agent must
    /// not teach its peers that new values are common, nor fill their
    /// prevalence maps; a new identity does not vouch for a roll-out). The rate is learned, so start-up (when every
    /// value is new to everyone) calibrates itself instead of alerting.
    pub(crate) fn adopt(
        &mut self,
        cohort: u32,
        agent_type: AgentType,
        kind: usize,
        fp: u64,
        ts: i64,
        teaches: Teaches,
    ) -> Novelty {
        let record = teaches != Teaches::Nothing;
        if record {
            self.touch(cohort);
            self.global
                .record(agent_type as u8, GlobalChange::Value(fp));
        }
        let g = self.global.get(agent_type as u8);
        let elsewhere_holders = g.map_or(0, |g| g.holders(fp));
        let g_share = match g {
            Some(g) if g.agents > 0 => elsewhere_holders as f32 / g.agents as f32,
            _ => 0.0,
        };
        let c = &mut self.list[cohort as usize];
        let holders = c.prevalence.holders(fp);
        let agents = c.prevalence.agents.max(1);
        let share = holders as f32 / agents as f32;
        let class = if holders == 0 && g_share < RARE_SHARE {
            Rarity::CohortNew
        } else if share < RARE_SHARE && g_share < 2.0 * RARE_SHARE {
            Rarity::CohortRare
        } else {
            Rarity::Common
        };
        if record {
            c.prevalence.adopt(fp);
        }
        // Only members with a track record vouch for a roll-out: a spray of
        // new identities must not make a value look like a team's change.
        let recent_peers = c.recent_adopters(fp, ts, teaches == Teaches::All);
        let discount = rollout_discount(recent_peers);
        let mut recorded = None;
        let bits = match class {
            Rarity::Common => 0.0,
            _ => {
                let k = class as usize;
                let p = (c.adoptions[kind][k] + 0.5) / (c.events + 20.0);
                if record {
                    c.adoptions[kind][k] += 1.0;
                    recorded = Some((kind, k));
                }
                (-p.min(1.0).log10() - discount).max(0.0)
            }
        };
        Novelty {
            class,
            bits,
            holders,
            agents,
            recorded,
            recent_peers,
            discount,
            elsewhere: holders == 0 && elsewhere_holders > 0,
        }
    }

    /// Takes back adoptions made by a call that was flagged: attacks must not
    /// teach a cohort that adopting new sensitive calls is normal.
    pub(crate) fn forget_adoptions(&mut self, cohort: u32, recorded: &[(usize, usize)]) {
        self.touch(cohort);
        let c = &mut self.list[cohort as usize];
        for &(kind, class) in recorded {
            c.adoptions[kind][class] = (c.adoptions[kind][class] - 1.0).max(0.0);
        }
    }

    /// Folds one event into the cohort's activity. A cohort's agents can
    /// sit on different Kafka partitions, which arrive interleaved in chunks
    /// when a backlog drains: an event older than the newest seen adds its
    /// decayed weight instead of 1, so the decayed counts are the same in
    /// any arrival order (and a drain does not look like a team-wide surge).
    /// Only calls of `established` members (with a track record) shape the
    /// team's day: a spray of new identities must not move it.
    pub(crate) fn observe(&mut self, cohort: u32, ts: i64, established: bool) {
        self.touch(cohort);
        let c = &mut self.list[cohort as usize];
        let dt = if c.last_ts == i64::MIN {
            0
        } else {
            ts - c.last_ts
        };
        if dt >= 0 {
            c.activity = c.activity * decay(dt, 900_000.0) + 1.0;
            let d = decay(dt, ADOPTION_TAU_MS);
            c.events = c.events * d + 1.0;
            for k in c.adoptions.iter_mut() {
                k[0] *= d;
                k[1] *= d;
            }
            c.last_ts = ts;
        } else {
            c.activity += decay(-dt, 900_000.0);
            c.events += decay(-dt, ADOPTION_TAU_MS);
        }
        if established {
            c.day_shape.observe(ts);
        }
        let alpha = (1.0 - decay(dt, 6.0 * 3_600_000.0)).clamp(0.000_05, 0.05);
        c.activity_base.update((1.0 + c.activity).ln(), alpha, 0.1);
    }

    /// The per-agent-type prevalence, for the state topic.
    pub fn globals(&self) -> Vec<(u8, &Prevalence)> {
        self.global.sorted()
    }

    /// Adopts a cohort learned elsewhere (another instance, or this one before
    /// a restart) when this instance knows nothing of it yet. A cohort this
    /// instance has already learned from its own traffic is kept: it is a
    /// sample of the same peers, and mixing two samples would double-count.
    pub(crate) fn adopt_snapshot(&mut self, snap: Cohort) -> bool {
        if !self.index.contains_key(&snap.key) && self.list.len() >= self.max {
            return false;
        }
        let i = self.intern(&snap.key) as usize;
        let fresh = self.list[i].is_fresh();
        if fresh {
            self.list[i] = snap;
        }
        fresh
    }

    /// As `adopt_snapshot`, for the agent-type-wide prevalence.
    pub(crate) fn adopt_global(&mut self, agent_type: u8, snap: Prevalence) -> bool {
        self.global.adopt_snapshot(agent_type, snap)
    }

    /// Records that `agent` (a fingerprint) moved into a place of its own
    /// at `ts`; returns how many other agents of `cohort` did so within
    /// the four hours before. A team migrating moves many members at once; a
    /// replayed token moves one.
    pub(crate) fn moved(&mut self, cohort: u32, agent: u32, ts: i64) -> usize {
        let others = self.movers_near(cohort, agent, ts);
        self.touch(cohort);
        let m = &mut self.list[cohort as usize].movers;
        // An agent already remembered as moving lately keeps its slot:
        // one agent moving again and again must not push the rest of a
        // migrating team out of memory, clearing the way for itself.
        let again = m
            .iter()
            .any(|&(a, t)| a == agent && t != i64::MIN && (ts - t).abs() < MOVE_WINDOW_MS);
        if !again {
            if let Some(slot) = m.iter_mut().min_by_key(|(_, t)| *t) {
                *slot = (agent, ts);
            }
        }
        others
    }

    /// Established agents of `cohort` that took `fp` up in the wave of
    /// adoptions around `ts` (the asker included): a team rolls a place out
    /// within hours, each adoption within `MOVE_WINDOW_MS` of the last.
    pub(crate) fn adopters_near(&self, cohort: u32, fp: u64, ts: i64) -> u32 {
        self.list[cohort as usize]
            .recent
            .get(&fp)
            .filter(|r| ts > r.wave_start - MOVE_WINDOW_MS && ts < r.last + MOVE_WINDOW_MS)
            .map_or(0, |r| r.wave_adopters)
    }

    /// Other agents of `cohort` that moved into places of their own within
    /// four hours of `ts`, before or after it: asked again while a move's
    /// traffic builds up, so the first movers of a migration are excused
    /// once the rest of the team follows.
    pub(crate) fn movers_near(&self, cohort: u32, agent: u32, ts: i64) -> usize {
        let movers = &self.list[cohort as usize].movers;
        let near =
            |&(a, t): &(u32, i64)| a != agent && t != i64::MIN && (ts - t).abs() < MOVE_WINDOW_MS;
        // Distinct agents among the few remembered, without allocating:
        // a mover counts at its first near entry.
        movers
            .iter()
            .enumerate()
            .filter(|&(i, m)| near(m) && !movers[..i].iter().any(|p| near(p) && p.0 == m.0))
            .count()
    }

    pub(crate) fn update_prior(&mut self, cohort: u32, which: Prior, agent_mean: f32) {
        self.touch(cohort);
        self.list[cohort as usize].priors[which as usize].update(agent_mean, 0.05, 0.0);
    }
}

#[cfg(test)]
#[path = "cohort_tests.rs"]
mod tests;
