//! The simulator's variants: each changes what it says, and nothing else.

use super::changes::BACKFILL_MS;
use super::fleet::World;
use super::*;
use crate::event::AgentType;

fn config(agents: usize, variants: Variants) -> SimConfig {
    SimConfig {
        agents,
        duration_ms: 3 * 24 * HOUR,
        seed: 7,
        start_ms: SimConfig::DEFAULT_START_MS,
        attack_share: 0.5,
        scenarios: Vec::new(),
        variants,
    }
}

fn world(cfg: &SimConfig) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    World::new(cfg, &mut rng, &mut Interner::new())
}

#[test]
fn variants_are_named_and_unknown_names_refused() {
    let all: Vec<String> = Variants::NAMES.iter().map(|s| s.to_string()).collect();
    let v = Variants::parse(&all).unwrap();
    assert!(v.mimicry && v.night_backfills && v.busy_teams && v.half_attacks);
    assert_eq!(Variants::parse(&[]).unwrap(), Variants::default());
    let err = Variants::parse(&["mimicry".into(), "nightly".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`nightly`") && err.contains("night-backfills"),
        "{err}"
    );
}

#[test]
fn night_backfills_come_to_every_kind_in_the_teams_night() {
    let cfg = config(
        600,
        Variants {
            night_backfills: true,
            ..Variants::default()
        },
    );
    let w = world(&cfg);
    let mut kinds = Vec::new();
    for a in &w.agents {
        let Some(t) = a.backfill_at else { continue };
        let tz_h = w.tenants[a.tenant].tz_h;
        let local_hour = (t.div_euclid(HOUR) + tz_h).rem_euclid(24);
        assert!(local_hour < 5, "a backfill at local {local_hour}:00");
        assert!(t >= a.start && t + BACKFILL_MS <= w.end());
        kinds.push(a.kind);
    }
    // About 15 % of the agents (binomial: 90 expected of 600).
    assert!(
        (50..140).contains(&kinds.len()),
        "{} backfills",
        kinds.len()
    );
    for kind in [
        AgentType::ApiKey,
        AgentType::AiAgent,
        AgentType::ServiceAccount,
    ] {
        assert!(kinds.contains(&kind), "no {kind:?} backfills");
    }
    // The default world keeps them to services and workloads.
    let w = world(&config(600, Variants::default()));
    assert!(w
        .agents
        .iter()
        .filter(|a| a.backfill_at.is_some())
        .all(|a| matches!(a.kind, AgentType::ServiceAccount | AgentType::Workload)));
}

#[test]
fn a_mimicking_intruder_uses_the_victims_actions_as_often_as_it_does() {
    let share_of_first = |variants: Variants| {
        let cfg = config(40, variants);
        let w = world(&cfg);
        let a = w.agents.iter().find(|a| a.actions.len() >= 5).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let hits = (0..n)
            .filter(|_| w.victims_action(a, &mut rng, "x") == a.actions[0])
            .count();
        let expected = a.weights[0] / a.weights.iter().sum::<f64>();
        (
            hits as f64 / n as f64,
            expected,
            1.0 / a.actions.len() as f64,
        )
    };
    let (got, weighted, uniform) = share_of_first(Variants {
        mimicry: true,
        ..Variants::default()
    });
    assert!((got - weighted).abs() < 0.015, "{got} against {weighted}");
    let (got, _, uniform_default) = share_of_first(Variants::default());
    assert_eq!(uniform, uniform_default);
    assert!((got - uniform).abs() < 0.015, "{got} against {uniform}");
}

#[test]
fn a_mimicking_off_hours_intruder_keeps_no_steady_beat() {
    let gaps = |variants: Variants| {
        let mut cfg = config(120, variants);
        cfg.scenarios = vec![scenario_index("off_hours").unwrap()];
        let f = generate(&cfg);
        let label = cfg.scenarios[0] as u8 + 1;
        let mut by_agent: FxHashMap<u32, Vec<i64>> = FxHashMap::default();
        for e in f.events.iter().filter(|e| e.label == label) {
            by_agent.entry(e.agent).or_default().push(e.ts);
        }
        assert!(by_agent.len() >= 3, "{} episodes", by_agent.len());
        by_agent
            .values()
            .map(|ts| {
                let g: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
                let distinct: std::collections::BTreeSet<i64> = g.iter().copied().collect();
                distinct.len() as f64 / g.len() as f64
            })
            .fold(f64::INFINITY, f64::min)
    };
    // Every gap alike by default; mostly different ones when mimicking.
    assert!(gaps(Variants::default()) < 0.05);
    assert!(
        gaps(Variants {
            mimicry: true,
            ..Variants::default()
        }) > 0.5
    );
}

#[test]
fn busy_teams_go_through_every_kind_of_change() {
    let every = |variants: Variants| {
        let w = world(&config(200, variants));
        w.tenants.iter().all(|t| {
            let c = &t.changes;
            c.dst.is_some()
                && c.egress_at.is_some()
                && c.upgrade_at.is_some()
                && c.rollout.is_some()
                && c.migration_at.is_some()
                && c.outage.is_some()
        })
    };
    assert!(every(Variants {
        busy_teams: true,
        ..Variants::default()
    }));
    assert!(!every(Variants::default()));
}

/// The default world is what every figure in docs/detection.md was
/// measured on: no variant may change it. Pinned by a digest of a small
/// fleet's canonical JSON lines (attacks of every family included); a
/// deliberate change to the simulator updates the digest and re-measures
/// the matrices.
#[test]
fn the_default_world_is_unchanged() {
    let mut cfg = config(60, Variants::default());
    cfg.duration_ms = 30 * HOUR;
    let mut text = Vec::new();
    write_events(&generate(&cfg), &mut text).unwrap();
    let digest = xxhash_rust::xxh3::xxh3_64(&text);
    // `warden simulate --agents 60 --duration 30h --seed 7 --attack-share
    // 0.5` wrote these same 40,655,490 bytes before variants existed
    // (checked with `cmp` against the build before them).
    assert_eq!(
        digest,
        0xd014_a575_886d_272f,
        "{} bytes, digest {digest:#018x}",
        text.len()
    );
}

/// Attacks that stop halfway keep the first half of each episode's time
/// (a ramp's own calls included, and halfway up), and leave every other
/// call of the fleet as it was.
#[test]
fn a_halved_attack_is_the_first_half_of_the_full_one() {
    let fleet = |variants: Variants| {
        let mut cfg = config(120, variants);
        cfg.duration_ms = 2 * 24 * HOUR;
        generate(&cfg)
    };
    let full = fleet(Variants::default());
    let half = fleet(Variants {
        half_attacks: true,
        ..Variants::default()
    });
    // Per agent: its labelled calls' times, and its other calls.
    type Calls = FxHashMap<u32, (Vec<i64>, Vec<(i64, u32)>)>;
    let split = |f: &Fleet| {
        let mut by: Calls = FxHashMap::default();
        for e in &f.events {
            let (attack, other) = by.entry(e.agent).or_default();
            if e.label > 0 {
                attack.push(e.ts);
            } else {
                other.push((e.ts, e.action));
            }
        }
        // Calls at the same millisecond may come in either order.
        for (_, other) in by.values_mut() {
            other.sort_unstable();
        }
        by
    };
    let (full, half) = (split(&full), split(&half));
    let ramp = scenario_index("ramping_exfiltration").unwrap() as u8 + 1;
    let mut episodes = 0;
    for (agent, (attack, other)) in &full {
        let (kept, other_now) = &half[agent];
        if attack.is_empty() {
            assert!(other == other_now, "agent {agent}'s calls changed");
            continue;
        }
        episodes += 1;
        let (first, last) = (attack[0], *attack.last().unwrap());
        // Every kept call is one of the full episode's, in its first half.
        assert!(kept.iter().all(|t| attack.contains(t)));
        assert!(kept.iter().all(|t| *t <= first + (last - first) / 2 + 1));
        if attack.len() >= 8 {
            let share = kept.len() as f64 / attack.len() as f64;
            assert!((0.2..0.8).contains(&share), "agent {agent}: {share}");
        }
        // What the attack no longer plays is gone, or (a ramp's own reads)
        // back to an ordinary call.
        assert!(other.iter().all(|c| other_now.contains(c)));
    }
    assert!(episodes >= 30, "{episodes} episodes");
    // The ramp stops rising halfway up: about 5.5 times the usual bytes
    // where the full one reaches 30 (each call's own noise aside).
    let peak = |variants: Variants| {
        fleet(variants)
            .events
            .iter()
            .filter(|e| e.label == ramp)
            .map(|e| e.bytes_out)
            .max()
            .unwrap_or(0)
    };
    let (full_peak, half_peak) = (
        peak(Variants::default()),
        peak(Variants {
            half_attacks: true,
            ..Variants::default()
        }),
    );
    assert!(full_peak > 0 && half_peak > 0);
    assert!(half_peak * 2 < full_peak, "{half_peak} against {full_peak}");
}
