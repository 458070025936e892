use super::*;
use crate::input::{EventReader, ReadOptions};
use crate::keyed::KeyedMap;
use crate::sim::{self, SimConfig};

/// A labelled fleet (attacks included, cross-tenant ones among them) as
/// Arrow windows of `batch` calls.
fn fleet(seed: u64, batch: usize) -> Vec<RecordBatch> {
    let cfg = SimConfig {
        agents: 80,
        duration_ms: 30 * 3_600_000,
        seed,
        start_ms: SimConfig::DEFAULT_START_MS,
        attack_share: 0.5,
        scenarios: Vec::new(),
        variants: Default::default(),
    };
    let mut text = Vec::new();
    sim::write_events(&sim::generate(&cfg), &mut text).unwrap();
    let opts = ReadOptions {
        batch_size: batch,
        ..ReadOptions::default()
    };
    let mut r =
        EventReader::from_reader("fleet".into(), Box::new(std::io::Cursor::new(text)), opts);
    let (mut out, mut bad) = (Vec::new(), Vec::new());
    while let Some(b) = r.next_batch(&mut bad).unwrap() {
        out.push(b);
    }
    assert!(bad.is_empty(), "{bad:?}");
    out
}

/// Every call's decisions, in order, as one engine makes them.
fn one_engine(batches: &[RecordBatch]) -> Vec<(usize, String)> {
    let mut e = Engine::new(DetectionConfig::default());
    let mut out = Vec::new();
    let mut n = 0;
    for b in batches {
        let cols = CallColumns::new(b).unwrap();
        for i in 0..cols.len() {
            e.process_row(&cols.row(i), &mut |_, d| out.push((n, format!("{d:?}"))));
            n += 1;
        }
    }
    out
}

fn sharded(batches: &[RecordBatch], threads: usize) -> Vec<(usize, String)> {
    let mut engines = ShardedEngine::new(DetectionConfig::default(), threads).unwrap();
    let mut out = Vec::new();
    let mut n = 0;
    engines
        .run::<EngineError>(
            &mut |push| batches.iter().try_for_each(&mut *push),
            &mut |_, decided| {
                out.extend(decided.drain(..).map(|d| (n, format!("{d:?}"))));
                n += 1;
                Ok(())
            },
        )
        .unwrap();
    let events: u64 = engines.engines().iter().map(|e| e.counters().events).sum();
    assert_eq!(events as usize, n, "every call scored once");
    out
}

#[test]
fn any_number_of_engines_decide_what_one_does_in_the_same_order() {
    // Windows smaller than the prevalence exchange's, and larger.
    for (seed, batch) in [(5, 700), (6, 9000)] {
        let batches = fleet(seed, batch);
        let want = one_engine(&batches);
        assert!(
            want.iter().any(|(_, d)| d.contains("Revocation")) && want.len() > 20,
            "the fleet must exercise findings, closes and revocations: {}",
            want.len()
        );
        for threads in [1, 2, 3, 5] {
            assert!(
                sharded(&batches, threads) == want,
                "seed {seed}, {threads} threads: decisions differ from one engine's"
            );
        }
    }
}

/// A router over `engines` engines, cohorts by tenant and type.
fn router(engines: usize, max_agents: usize, max_cohorts: usize) -> Router {
    Router {
        keys: vec![CohortKey::Tenant, CohortKey::AgentType],
        engines,
        agents: KeyedMap::default(),
        max_agents,
        cohorts: KeyedMap::default(),
        max_cohorts,
        load: vec![0; engines],
        key: String::new(),
    }
}

#[test]
fn an_agent_that_wanders_into_another_tenant_stays_with_its_engine() {
    let mut r = router(4, 100, 100);
    let lines: Vec<String> = [("a", "t1"), ("b", "t2"), ("c", "t3"), ("a", "t3")]
        .iter()
        .map(|(agent, tenant)| {
            format!(
                r#"{{"ts":"2026-11-20T00:00:00Z","agent_id":"{agent}","action":"s3:GetObject","agent_type":"workload","tenant":"{tenant}"}}"#
            )
        })
        .collect();
    let mut b = crate::event::CallBatchBuilder::with_capacity(8);
    for l in &lines {
        b.push(&crate::event::decode_line(l, 1).unwrap());
    }
    let batch = b.finish();
    let cols = CallColumns::new(&batch).unwrap();
    let routes: Vec<usize> = (0..cols.len()).map(|i| r.route(&cols, i)).collect();
    assert_eq!(
        routes[3], routes[0],
        "agent a keeps its engine in tenant t3"
    );
    assert_ne!(
        routes[0], routes[1],
        "new cohorts go to the least loaded engine"
    );
    assert_ne!(routes[2], routes[0]);
}

/// A spray of tenants (each a new cohort) leaves the router's tables at
/// their caps, as the engines' own tables are.
#[test]
fn a_spray_of_tenants_does_not_grow_the_router_without_bound() {
    let mut r = router(2, 50, 20);
    let mut b = crate::event::CallBatchBuilder::with_capacity(1000);
    for i in 0..1000 {
        let l = format!(
            r#"{{"ts":"2026-11-20T00:00:00Z","agent_id":"a{i}","action":"s3:GetObject","agent_type":"workload","tenant":"t{i}"}}"#
        );
        b.push(&crate::event::decode_line(&l, 1).unwrap());
    }
    let batch = b.finish();
    let cols = CallColumns::new(&batch).unwrap();
    for i in 0..cols.len() {
        r.route(&cols, i);
        assert!(r.cohorts.len() <= 20 && r.agents.len() <= 50);
    }
    assert_eq!(r.load.iter().sum::<u64>(), 1000);
}
