//! `warden simulate`: a seeded, deterministic generator of labelled agent
//! fleets in the canonical schema, sorted by time.
//!
//! It models the benign side as carefully as the attacks (diurnal and weekly
//! rhythms per agent kind and tenant time zone, token rotation, pod restarts,
//! team-wide deploy bursts and API roll-outs, growth, agents appearing
//! mid-stream), because a detector tuned on a naive simulator is worthless.

mod attacks;
mod catalog;
mod changes;
mod fleet;
mod review;
mod threats;
mod write;

pub use attacks::SCENARIOS;
pub use review::{plant as plant_review_cases, ReviewCases};
pub use write::{write_cloudtrail, write_events};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;

/// One hour in ms (the simulator's calendar unit).
pub const HOUR: i64 = 3_600_000;
pub(crate) const MINUTE: i64 = 60_000;

#[derive(Debug, Clone)]
/// What `warden simulate` generates.
pub struct SimConfig {
    /// Agents in the fleet.
    pub agents: usize,
    /// How long the fleet runs, in ms.
    pub duration_ms: i64,
    /// Seed of the generator: the same config and seed give the same fleet.
    pub seed: u64,
    /// First call's time (ms since the epoch); see `DEFAULT_START_MS`.
    pub start_ms: i64,
    /// Share of agents that suffer an attack episode.
    pub attack_share: f64,
    /// Scenarios (indices into `SCENARIOS`) the attack plan draws from, in
    /// turn; empty plays them all. Leaving one out gives the fleets a
    /// leave-one-family-out evaluation tunes on.
    pub scenarios: Vec<usize>,
    /// Departures from the default world (`Variants`); none by default.
    pub variants: Variants,
}

/// Ways a fleet can differ from the one Warden's constants were chosen on,
/// for measuring how detection holds on fleets nobody here wrote: attackers
/// that blend in better, and benign work that looks more like an attack.
/// The default fleet is unchanged by this type (every draw it adds is made
/// only when its variant is on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variants {
    /// Attackers that use a victim's own actions use them as often as the
    /// victim does (its weights, not a uniform pick), and an off-hours
    /// intruder's calls come at random gaps rather than a steady beat.
    pub mimicry: bool,
    /// Any agent, of any kind, may run a one-off backfill (ten times its
    /// volume for two hours), more often (15 % of agents against 6 % of
    /// services and workloads), and always in its team's night (local
    /// 00:00–04:00): the benign twin of an off-hours intrusion.
    pub night_backfills: bool,
    /// Every team goes through every kind of benign change in the run
    /// (daylight saving, an egress move, a client upgrade, a sensitive
    /// roll-out, a storage migration, an outage), where by default each
    /// comes to a quarter to a half of the teams.
    pub busy_teams: bool,
    /// Every attack stops halfway: only the calls of the first half of its
    /// time are played, and a ramp stops halfway up (about 5.5 times the
    /// usual bytes where it would reach 30). Smaller and shorter episodes
    /// than the ones the detectors were built on, as another generator's
    /// attackers may well run.
    pub half_attacks: bool,
}

impl Variants {
    /// Names `--variant` takes.
    pub const NAMES: [&'static str; 4] =
        ["mimicry", "night-backfills", "busy-teams", "half-attacks"];

    /// The variants named (comma-separated names from `NAMES`).
    pub fn parse(names: &[String]) -> Result<Variants, UnknownVariant> {
        let mut v = Variants::default();
        for name in names {
            match name.as_str() {
                "mimicry" => v.mimicry = true,
                "night-backfills" => v.night_backfills = true,
                "busy-teams" => v.busy_teams = true,
                "half-attacks" => v.half_attacks = true,
                other => return Err(UnknownVariant(other.to_string())),
            }
        }
        Ok(v)
    }
}

/// A `--variant` name the simulator does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown variant `{0}`; the simulator knows: {names}", names = Variants::NAMES.join(", "))]
pub struct UnknownVariant(String);

impl SimConfig {
    /// Default start: Friday 2026-11-20 00:00 UTC, so a 3-day run spans a weekend.
    pub const DEFAULT_START_MS: i64 = 1_795_132_800_000;

    /// The scenarios this fleet's attacks are drawn from.
    pub(crate) fn scenario_pool(&self) -> Vec<usize> {
        if self.scenarios.is_empty() {
            (0..SCENARIOS.len()).collect()
        } else {
            self.scenarios.clone()
        }
    }
}

/// The index of a scenario by its label, for `--without-scenario`.
pub fn scenario_index(name: &str) -> Option<usize> {
    SCENARIOS.iter().position(|s| *s == name)
}

/// Strings used by events, interned; index 0 is "absent".
#[derive(Debug, Default)]
pub(crate) struct Interner {
    map: FxHashMap<String, u32>,
    strs: Vec<String>,
}

impl Interner {
    fn new() -> Self {
        let mut i = Interner::default();
        i.strs.push(String::new());
        i.map.insert(String::new(), 0);
        i
    }

    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.strs.len() as u32;
        self.strs.push(s.to_string());
        self.map.insert(s.to_string(), i);
        i
    }

    pub fn get(&self, i: u32) -> &str {
        &self.strs[i as usize]
    }
}

/// One generated call, with interned strings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SimEvent {
    pub ts: i64,
    pub agent: u32,
    pub action: u32,
    pub resource: u32,
    pub ip: u32,
    pub ua: u32,
    pub session: u32,
    pub parent: u32,
    pub outcome: u8,
    pub status: u16,
    pub latency_ms: f32,
    pub bytes_out: u64,
    pub bytes_in: u32,
    /// 0 = benign, else index into `SCENARIOS` + 1.
    pub label: u8,
    pub event_id: u64,
    /// The tenant the call names, when not the agent's own (cross-tenant access).
    pub tenant: u32,
}

/// A generated fleet: events sorted by time, and the strings they use.
pub struct Fleet {
    pub(crate) events: Vec<SimEvent>,
    pub(crate) strings: Interner,
    pub(crate) agent_names: Vec<u32>,
    pub(crate) agent_types: Vec<crate::event::AgentType>,
    pub(crate) tenants: Vec<u32>,
}

/// Generates a fleet: every agent's benign calendar and, for a share of
/// them, a labelled attack episode, sorted by time.
pub fn generate(cfg: &SimConfig) -> Fleet {
    let mut strings = Interner::new();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut world = fleet::World::new(cfg, &mut rng, &mut strings);
    world.attack_plan = attacks::plan(cfg, &world.agents, &mut rng);
    let mut events = Vec::new();
    for (i, agent) in world.agents.iter().enumerate() {
        let mut arng = ChaCha8Rng::seed_from_u64(
            cfg.seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1)),
        );
        let from = events.len();
        world.benign(agent, i as u32, &mut arng, &mut strings, &mut events);
        let plan = world.attack_plan.get(&(i as u32));
        if let Some(plan) = plan {
            let own: Vec<SimEvent> = events[from..].to_vec();
            attacks::inject(
                &world,
                agent,
                plan,
                &own,
                &mut arng,
                &mut strings,
                &mut events,
            );
        }
    }
    for e in events.iter_mut() {
        e.event_id = rng.random();
    }
    events.sort_by_key(|e| (e.ts, e.agent, e.event_id));
    Fleet {
        events,
        agent_names: world.agents.iter().map(|a| a.name).collect(),
        agent_types: world.agents.iter().map(|a| a.kind).collect(),
        tenants: world
            .agents
            .iter()
            .map(|a| world.tenants[a.tenant].name)
            .collect(),
        strings,
    }
}

#[cfg(test)]
#[path = "variant_tests.rs"]
mod variant_tests;
