//! Unit tests of `cohort` (kept apart: the module is long enough).
use super::*;

#[test]
fn past_the_cap_new_cohorts_share_their_types_fallback() {
    let mut c = Cohorts::with_cap(2);
    let a = c.join("t1|workload", AgentType::Workload);
    let b = c.join("t2|workload", AgentType::Workload);
    assert_ne!(a, b);
    // A million made-up tenants cost one cohort per agent type.
    let sprayed: Vec<u32> = (0..1000)
        .map(|i| c.join(&format!("fake{i}|workload"), AgentType::Workload))
        .collect();
    assert!(sprayed.iter().all(|&s| s == sprayed[0]));
    assert_eq!(c.get(sprayed[0]).key.as_ref(), "(overflow)|workload");
    let ai = c.join("fake|ai_agent", AgentType::AiAgent);
    assert_eq!(c.get(ai).key.as_ref(), "(overflow)|ai_agent");
    assert_eq!(c.overflowed, 1001);
    // Known cohorts keep their own.
    assert_eq!(c.join("t1|workload", AgentType::Workload), a);
    // A restored cohort past the cap is not adopted.
    let mut snap = c.get(a).clone();
    snap.key = "t9|workload".into();
    assert!(!c.adopt_snapshot(snap));
}

#[test]
fn adoptions_are_classified_by_peer_share() {
    let mut c = Cohorts::default();
    let k = c.intern("t1|ai_agent");
    for _ in 0..30 {
        c.add_agent(k, AgentType::AiAgent, 0);
    }
    let first = c.adopt(k, AgentType::AiAgent, 0, 7, 0, Teaches::All);
    assert_eq!(first.class, Rarity::CohortNew);
    let second = c.adopt(k, AgentType::AiAgent, 0, 7, 0, Teaches::All);
    assert_eq!((second.class, second.holders), (Rarity::CohortRare, 1));
    for _ in 0..10 {
        c.adopt(k, AgentType::AiAgent, 0, 7, 0, Teaches::All);
    }
    let late = c.adopt(k, AgentType::AiAgent, 0, 7, 0, Teaches::All);
    assert_eq!(late.class, Rarity::Common);
    assert_eq!(late.bits, 0.0);
}

#[test]
fn a_team_moving_is_told_from_one_agent_moving_many_times() {
    let mut c = Cohorts::default();
    let k = c.intern("t|workload");
    // One agent moving again and again is still one mover.
    for i in 0..5 {
        assert_eq!(c.moved(k, 7, i * 60_000), 0);
    }
    assert_eq!(c.moved(k, 8, 400_000), 1);
    assert_eq!(c.moved(k, 9, 500_000), 2);
    // Four hours later the moves no longer count.
    assert_eq!(c.moved(k, 10, 500_000 + 4 * 3_600_000), 0);
}

#[test]
fn one_agent_moving_on_does_not_push_a_migrating_team_out_of_memory() {
    let mut c = Cohorts::default();
    let k = c.intern("t|workload");
    for agent in 1..=3 {
        c.moved(k, agent, agent as i64 * 60_000);
    }
    // Agent 9 then moves dozens of times within the hour.
    for i in 0..40 {
        c.moved(k, 9, 10 * 60_000 + i * 60_000);
    }
    // The team's first mover, asked about its move, still sees the rest.
    assert_eq!(c.movers_near(k, 1, 60_000), 3);
}

#[test]
fn a_team_wide_rollout_is_discounted_but_one_peer_launders_nothing() {
    let mut c = Cohorts::default();
    let k = c.intern("t1|ai_agent");
    for _ in 0..100 {
        c.add_agent(k, AgentType::AiAgent, 0);
    }
    let mut ts = 0;
    for _ in 0..50_000 {
        ts += 2000;
        c.observe(k, ts, true);
    }
    let adopt = |c: &mut Cohorts, fp: u64, ts: i64| {
        c.adopt(k, AgentType::AiAgent, SENSITIVE_KIND, fp, ts, Teaches::All)
    };
    let first = adopt(&mut c, 42, ts);
    // One peer before it: no discount (a compromised peer cannot
    // launder the value for the others).
    let second = adopt(&mut c, 42, ts + 60_000);
    assert_eq!((first.discount, second.discount), (0.0, 0.0));
    assert!(second.bits > 3.5, "{}", second.bits);
    // Several peers within minutes: a roll-out, discounted, bounded.
    let mut last = second;
    for i in 0..6 {
        last = adopt(&mut c, 42, ts + 120_000 + i * 60_000);
    }
    assert!(last.recent_peers > 5.0, "{}", last.recent_peers);
    assert_eq!(last.discount, ROLLOUT_MAX_DISCOUNT);
    assert!(last.bits > 0.0 && last.bits < second.bits - 2.9);
    // The same value taken up again a day later is a new question.
    let later = adopt(&mut c, 42, ts + 24 * 3_600_000);
    assert_eq!(later.discount, 0.0);
}

#[test]
fn start_up_calibrates_itself_and_a_mature_cohort_finds_new_values_rare() {
    let mut c = Cohorts::default();
    let k = c.intern("t|workload");
    c.add_agent(k, AgentType::Workload, 0);
    // At start-up, every call adopts something: adoptions are not rare.
    let mut ts = 0;
    let mut last = 0.0;
    for v in 0..20u64 {
        ts += 1000;
        c.observe(k, ts, true);
        last = c.adopt(k, AgentType::Workload, 0, v, ts, Teaches::All).bits;
    }
    assert!(last < 0.5, "start-up adoption scored {last} bits");
    // A day of calls with nothing new, then one new value.
    for _ in 0..50_000 {
        ts += 2000;
        c.observe(k, ts, true);
    }
    let novel = c
        .adopt(k, AgentType::Workload, 0, 999, ts, Teaches::All)
        .bits;
    assert!(novel > 3.5, "{novel}");
}

#[test]
fn decayed_counts_do_not_depend_on_arrival_order() {
    let ts: Vec<i64> = (0..400).map(|i| i * 7_000 + (i % 5) * 1_000).collect();
    let mut in_order = Cohorts::default();
    let a = in_order.intern("t|w");
    for &t in &ts {
        in_order.observe(a, t, true);
    }
    // Two "partitions" arriving in chunks, the second one late.
    let mut chunked = Cohorts::default();
    let b = chunked.intern("t|w");
    for &t in ts.iter().step_by(2).chain(ts.iter().skip(1).step_by(2)) {
        chunked.observe(b, t, true);
    }
    let (x, y) = (in_order.get(a), chunked.get(b));
    assert!(
        (x.activity - y.activity).abs() < 1e-2 * x.activity,
        "{} vs {}",
        x.activity,
        y.activity
    );
    assert!((x.events - y.events).abs() < 1e-3 * x.events);
}

#[test]
fn surge_shows_a_team_wide_burst() {
    let mut c = Cohorts::default();
    let k = c.intern("t|workload");
    let mut ts = 0;
    for _ in 0..5000 {
        ts += 1000; // one call a second across the cohort
        c.observe(k, ts, true);
    }
    assert!(c.get(k).surge(0.0) < 0.3);
    for _ in 0..3000 {
        ts += 200; // five a second for 10 minutes
        c.observe(k, ts, true);
    }
    assert!(c.get(k).surge(0.0) > 1.0, "{}", c.get(k).surge(0.0));
    // The same burst from a single agent is not a surge of its peers.
    let own = c.get(k).activity;
    assert_eq!(c.get(k).surge(own), 0.0);
}

#[test]
fn members_spread_is_read_once_enough_members_are_folded_in() {
    let mut c = Cohorts::default();
    let k = c.join("t1|api_key", AgentType::ApiKey);
    // Members' means of 5-minute bytes, alternating 3 KB and 30 KB.
    for i in 0..MEMBER_SPREAD_AFTER {
        assert_eq!(c.get(k).member_spread(Prior::BytesShort), None, "after {i}");
        let mean = if i % 2 == 0 { 3e3f32 } else { 3e4 }.ln();
        c.update_prior(k, Prior::BytesShort, mean);
    }
    let spread = c.get(k).member_spread(Prior::BytesShort).unwrap();
    // Half of ln 10 either side of the middle: a variance near 1.3.
    assert!(spread > 0.8 && spread < 1.6, "{spread}");
    // Other baselines know nothing yet; members alike read the floor.
    assert_eq!(c.get(k).member_spread(Prior::BytesLong), None);
    for _ in 0..MEMBER_SPREAD_AFTER {
        c.update_prior(k, Prior::BytesLong, 9.0);
    }
    assert_eq!(
        c.get(k).member_spread(Prior::BytesLong),
        Some(MIN_MEMBER_SPREAD)
    );
}
