//! Identity-hygiene cases planted in a fleet, with their ground truth, so
//! `warden inventory` can be scored (`warden simulate --grants-out F`):
//! grants covering what each agent used plus deliberate over-grants,
//! agents that go dormant, API keys shared by two agents, and the keys that
//! are never rotated. The cases are planted after the fleet is generated,
//! from a generator of their own, so a fleet without `--grants-out` is
//! unchanged. Labels are computed from the calls as finally written.

use super::{Fleet, HOUR};
use crate::event::{AgentType, DAY_MS};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The thresholds the labels are computed with (the review's own flags).
#[derive(Debug, Clone, Copy)]
pub struct ReviewCases {
    /// Quiet this long before the last call: dormant.
    pub dormant_after_ms: i64,
    /// A credential in use for longer than this: not rotated.
    pub rotate_after_ms: i64,
}

/// Share of agents given over-grants.
const OVER_GRANTED: f64 = 0.3;
/// Share of agents cut off to go dormant (at least one when the window allows).
const DORMANT: f64 = 0.04;
/// Share of agents that share another's API key (at least one pair when
/// there are two keys).
const SHARING: f64 = 0.02;

/// Plants the cases in `fleet` and returns the grants file with its labels
/// (`schemas/grants.schema.json`).
pub fn plant(fleet: &mut Fleet, seed: u64, cases: &ReviewCases) -> Value {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0f6a_1e57);
    let n = fleet.agent_names.len();
    let attacked: BTreeSet<u32> = fleet
        .events
        .iter()
        .filter(|e| e.label != 0)
        .map(|e| e.agent)
        .collect();
    let first_ts = fleet.events.first().map_or(0, |e| e.ts);
    let end = fleet.events.last().map_or(0, |e| e.ts);
    let mut benign: Vec<u32> = (0..n as u32).filter(|a| !attacked.contains(a)).collect();
    benign.shuffle(&mut rng);

    // Dormant: cut off at least a day before the threshold would let it pass.
    let latest_cut = end - cases.dormant_after_ms - DAY_MS;
    let mut cut: BTreeMap<u32, i64> = BTreeMap::new();
    if latest_cut > first_ts + 12 * HOUR {
        let k = ((n as f64 * DORMANT).round() as usize).max(1);
        for &a in benign.iter().take(k) {
            cut.insert(a, rng.random_range(first_ts + 12 * HOUR..latest_cut));
        }
    }
    fleet
        .events
        .retain(|e| cut.get(&e.agent).is_none_or(|&c| e.ts <= c));

    // Shared keys: the second key of a pair calls with the first's key.
    let keys: Vec<u32> = benign
        .iter()
        .copied()
        .filter(|a| !cut.contains_key(a) && fleet.agent_types[*a as usize] == AgentType::ApiKey)
        .collect();
    let pairs = ((n as f64 * SHARING / 2.0).round() as usize)
        .max(1)
        .min(keys.len() / 2);
    for pair in keys.chunks(2).take(pairs) {
        let (owner, borrower) = (pair[0], pair[1]);
        if let Some(key) = fleet
            .events
            .iter()
            .find(|e| e.agent == owner && e.session != 0)
            .map(|e| e.session)
        {
            for e in fleet.events.iter_mut().filter(|e| e.agent == borrower) {
                e.session = key;
            }
        }
    }

    // What each agent did, as finally written.
    let mut allowed: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); n];
    let mut called: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); n];
    let mut last: Vec<Option<i64>> = vec![None; n];
    let mut sessions: Vec<BTreeMap<u32, (i64, i64)>> = vec![BTreeMap::new(); n];
    let mut users: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for e in &fleet.events {
        let a = e.agent as usize;
        called[a].insert(e.action);
        if e.outcome != 1 {
            allowed[a].insert(e.action);
        }
        last[a] = Some(e.ts);
        if e.session != 0 {
            let s = sessions[a].entry(e.session).or_insert((e.ts, e.ts));
            s.1 = e.ts;
            users.entry(e.session).or_default().insert(e.agent);
        }
    }
    let as_of = end;
    let every_action: BTreeSet<u32> = called.iter().flatten().copied().collect();
    let name = |a: u32| fleet.strings.get(fleet.agent_names[a as usize]).to_string();

    let mut grants = Vec::new();
    let mut over: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in 0..n as u32 {
        let mut actions: Vec<String> = allowed[a as usize]
            .iter()
            .map(|&x| fleet.strings.get(x).to_string())
            .collect();
        if rng.random_bool(OVER_GRANTED) {
            let candidates: Vec<u32> = every_action
                .difference(&called[a as usize])
                .copied()
                .collect();
            let k = rng.random_range(1..=3).min(candidates.len());
            let extra: Vec<String> = candidates
                .choose_multiple(&mut rng, k)
                .map(|&x| fleet.strings.get(x).to_string())
                .collect();
            if !extra.is_empty() {
                actions.extend(extra.iter().cloned());
                over.insert(name(a), extra);
            }
        }
        if last[a as usize].is_some() || over.contains_key(&name(a)) {
            grants.push(json!({"identity": name(a), "owner": fleet.strings.get(fleet.tenants[a as usize]), "actions": actions}));
        }
    }
    let dormant: Vec<String> = (0..n as u32)
        .filter(|&a| last[a as usize].is_some_and(|l| as_of - l > cases.dormant_after_ms))
        .map(name)
        .collect();
    // A credential is in use while it is used after the newest one first
    // appeared; the oldest of those is the age the review judges.
    let unrotated: Vec<String> = (0..n as u32)
        .filter(|&a| {
            let s = &sessions[a as usize];
            let newest = s.values().map(|&(f, _)| f).max();
            newest.is_some_and(|nf| {
                s.values()
                    .filter(|&&(_, l)| l >= nf)
                    .map(|&(f, _)| f)
                    .min()
                    .is_some_and(|f| as_of - f > cases.rotate_after_ms)
            })
        })
        .map(name)
        .collect();
    let shared: Vec<Vec<String>> = users
        .values()
        .filter(|u| u.len() > 1)
        .map(|u| u.iter().map(|&a| name(a)).collect())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    json!({
        "version": 1,
        "grants": grants,
        "labels": {
            "as_of": crate::event::format_rfc3339_ms(as_of),
            "dormant_after_ms": cases.dormant_after_ms,
            "rotate_after_ms": cases.rotate_after_ms,
            "over_grants": over,
            "dormant": dormant,
            "shared_credentials": shared,
            "unrotated": unrotated,
        }
    })
}
