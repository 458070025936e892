//! Criterion benches on a fixed simulated fleet (seed 1, 60 agents, 12 h):
//! decoding JSON lines into Arrow windows, and scoring those windows.
//! Compare ratios within one run; the machine is shared and noisy.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Cursor;
use warden::adapt::Format;
use warden::config::Config;
use warden::decide::policy::{PolicySet, Source};
use warden::engine::snapshot::{self, StateRecord};
use warden::engine::Engine;
use warden::event::CallColumns;
use warden::input::{EventReader, ReadOptions};
use warden::inventory::{grants::GrantSet, LiveInventory};
use warden::sim::{generate, write_cloudtrail, write_events, SimConfig};

fn fixture() -> Vec<u8> {
    let mut out = Vec::new();
    write_events(&generate(&fixture_config()), &mut out).expect("in-memory write");
    out
}

/// The same calls as `fixture`, as CloudTrail S3 delivery objects of 100
/// records per line.
fn fixture_cloudtrail() -> Vec<u8> {
    let mut out = Vec::new();
    write_cloudtrail(&generate(&fixture_config()), &mut out, 100).expect("in-memory write");
    out
}

fn fixture_config() -> SimConfig {
    SimConfig {
        agents: 60,
        duration_ms: 12 * 3_600_000,
        seed: 1,
        start_ms: SimConfig::DEFAULT_START_MS,
        attack_share: 0.15,
        scenarios: Vec::new(),
        variants: Default::default(),
    }
}

fn batches(bytes: &[u8]) -> Vec<arrow_array::RecordBatch> {
    batches_as(bytes, Format::Auto)
}

fn batches_as(bytes: &[u8], format: Format) -> Vec<arrow_array::RecordBatch> {
    let mut r = EventReader::from_reader(
        "bench".into(),
        Box::new(Cursor::new(bytes.to_vec())),
        ReadOptions {
            format,
            ..ReadOptions::default()
        },
    );
    let mut bad = Vec::new();
    std::iter::from_fn(|| r.next_batch(&mut bad).expect("in-memory read")).collect()
}

/// A 50-rule guardrail set of the shapes teams write.
fn fifty_rules() -> PolicySet {
    let mut text = include_str!("../deploy/policies/guardrails.cedar").to_string();
    let services = [
        "iam",
        "s3",
        "kms",
        "sts",
        "ec2",
        "secretsmanager",
        "lambda",
        "dynamodb",
    ];
    let ops = ["Delete", "Put", "Create", "Attach", "Update"];
    for i in 0..26 {
        let svc = services[i % services.len()];
        let op = ops[i % ops.len()];
        text.push_str(&format!(
            "@id(\"scoped-{i}\") forbid (principal, action in [Action::\"{svc}:{op}Thing{i}\", \
             Action::\"{svc}:{op}Other{i}\"], resource) when {{ principal.type != \"human\" }};\n"
        ));
    }
    for i in 0..20 {
        let svc = services[i % services.len()];
        text.push_str(&match i % 4 {
            0 => format!(
                "@id(\"any-{i}\") forbid (principal, action, resource) when {{ context.service == \"{svc}\" \
                 && principal.type == \"api_key\" && context.operation like \"Delete*\" }};\n"
            ),
            1 => format!(
                "@id(\"any-{i}\") forbid (principal, action, resource) when {{ context has tenant \
                 && context.tenant == \"tenant-{i}\" && principal.cohort like \"*ai_agent*\" }};\n"
            ),
            2 => format!(
                "@id(\"any-{i}\") forbid (principal, action, resource) when {{ context.hour < 4 \
                 && context.weekday >= 5 && context.service == \"{svc}\" }};\n"
            ),
            _ => format!(
                "@id(\"any-{i}\") forbid (principal, action, resource) when {{ context has resource \
                 && context.resource like \"*/restricted-{i}/*\" }};\n"
            ),
        });
    }
    let set = PolicySet::compile(
        &[Source {
            name: "bench.cedar".into(),
            text,
        }],
        Default::default(),
    )
    .expect("the bench's policies compile");
    assert_eq!(set.len(), 50);
    set
}

fn bench(c: &mut Criterion) {
    let bytes = fixture();
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    let windows = batches(&bytes);

    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(lines));
    g.sample_size(10);
    g.bench_function("decode_json_lines_to_arrow", |b| b.iter(|| batches(&bytes)));
    g.bench_function("decode_json_lines_to_arrow_native_format", |b| {
        b.iter(|| batches_as(&bytes, Format::Native))
    });
    // The same calls from CloudTrail delivery objects (issue 15: at most
    // 1.6x the native path per call, end to end).
    let cloudtrail = fixture_cloudtrail();
    g.bench_function("decode_cloudtrail_objects_to_arrow", |b| {
        b.iter(|| batches_as(&cloudtrail, Format::Cloudtrail))
    });
    g.bench_function("score_arrow_windows", |b| {
        b.iter(|| {
            let mut engine = Engine::new(Config::default());
            let mut decisions = 0u64;
            for w in &windows {
                engine
                    .process_batch(w, &mut |_, _| decisions += 1)
                    .expect("call layout");
            }
            decisions
        })
    });
    // Guardrail policies: the same scoring with 50 rules in force (the
    // shipped examples, 26 rules scoped to actions, 20 that apply to any
    // action); issue 18 budgets 25% over score_arrow_windows per call.
    let policies = std::sync::Arc::new(fifty_rules());
    g.bench_function("score_arrow_windows_50_policies", |b| {
        b.iter(|| {
            let mut engine = Engine::new(Config::default());
            engine.set_policies(policies.clone());
            let mut decisions = 0u64;
            for w in &windows {
                engine
                    .process_batch(w, &mut |_, _| decisions += 1)
                    .expect("call layout");
            }
            decisions
        })
    });
    // The live inventory `warden run` keeps beside scoring (its share of
    // the stream's per-call cost: compare with score_arrow_windows).
    g.bench_function("observe_inventory", |b| {
        let times = Config::default()
            .inventory
            .times()
            .expect("default durations");
        b.iter(|| {
            let mut inv = LiveInventory::new(times, GrantSet::default(), 1_000_000);
            let mut reviews = 0u64;
            for w in &windows {
                let cols = CallColumns::new(w).expect("call layout");
                for i in 0..cols.len() {
                    let row = cols.row(i);
                    reviews += u64::from(inv.observe(&row, 0).is_some());
                    inv.review(0, row.ts_ms, &mut |_| reviews += 1);
                }
            }
            reviews
        })
    });
    g.bench_function("decode_and_score", |b| {
        b.iter(|| {
            let mut engine = Engine::new(Config::default());
            let mut n = 0u64;
            for w in batches(&bytes) {
                engine
                    .process_batch(&w, &mut |_, _| n += 1)
                    .expect("call layout");
            }
            n
        })
    });
    g.finish();

    // The state topic's cost: every agent written (a checkpoint after a
    // busy interval, or a revoke), then read back into a fresh engine.
    let mut engine = Engine::new(Config::default());
    for w in &windows {
        engine
            .process_batch(w, &mut |_, _| {})
            .expect("call layout");
    }
    let agents = engine.agents_tracked() as u64;
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    engine.snapshot_partition(0, false, &mut |k, v| {
        records.push((k.to_string(), v.to_vec()))
    });
    let mut g = c.benchmark_group("state");
    g.throughput(Throughput::Elements(agents));
    g.bench_function("snapshot_all_agents", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            engine.snapshot_partition(0, false, &mut |_, v| bytes += v.len());
            bytes
        })
    });
    g.bench_function("restore_all_agents", |b| {
        b.iter(|| {
            let mut fresh = Engine::new(Config::default());
            for (k, v) in &records {
                if let Ok(StateRecord::Agent(a)) = snapshot::decode(v) {
                    fresh.restore_agent(k, *a, 0);
                }
            }
            fresh.agents_tracked()
        })
    });
    g.finish();

    // The same at the scale the issue sets: a million agents (the fleet's
    // states under a million ids) written, and read back, in one go.
    const MILLION: usize = 1_000_000;
    let agent_records: Vec<&Vec<u8>> = records
        .iter()
        .filter(|(_, v)| matches!(snapshot::decode(v), Ok(StateRecord::Agent(_))))
        .map(|(_, v)| v)
        .collect();
    let million: Vec<(String, &Vec<u8>)> = (0..MILLION)
        .map(|i| {
            (
                format!("agent-{i:07}"),
                agent_records[i % agent_records.len()],
            )
        })
        .collect();
    let mut cfg = Config::default();
    cfg.engine.max_agents = MILLION;
    let restore_million = || {
        let mut e = Engine::new(cfg.clone());
        for (k, v) in &million {
            if let Ok(StateRecord::Agent(a)) = snapshot::decode(v) {
                e.restore_agent(k, *a, 0);
            }
        }
        e
    };
    let mut big = restore_million();
    assert_eq!(big.agents_tracked(), MILLION);
    let mut g = c.benchmark_group("state_1m");
    g.sample_size(10);
    g.throughput(Throughput::Elements(MILLION as u64));
    g.bench_function("snapshot_1m_agents", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            big.snapshot_partition(0, false, &mut |_, v| bytes += v.len());
            bytes
        })
    });
    g.bench_function("restore_1m_agents", |b| {
        b.iter(|| restore_million().agents_tracked())
    });
    g.finish();
}

/// Agent ids are written by callers. These share their low 15 bits under
/// FxHash, the unkeyed hash the agent table used before its index was keyed
/// (`src/keyed.rs`): in such a table they all start the same probe sequence,
/// so each lookup walks past the others. Found by trying names in turn, as a
/// sender would offline. With `crafted` false, as many ordinary ids.
fn flood_ids(n: usize, crafted: bool) -> Vec<String> {
    use std::hash::BuildHasher;
    let fx = rustc_hash::FxBuildHasher;
    (0u64..)
        .map(|k| format!("svc-flood-{k:x}"))
        .filter(|id| !crafted || fx.hash_one(id.as_str()) & 0x7fff == 0)
        .take(n)
        .collect()
}

/// `rounds` calls from each of `ids`, round-robin, one a millisecond.
fn flood_fleet(ids: &[String], rounds: usize) -> Vec<u8> {
    use time::format_description::well_known::Rfc3339;
    let start = time::macros::datetime!(2026-11-02 00:00 UTC);
    let mut out = Vec::new();
    let mut ms = 0i64;
    for _ in 0..rounds {
        for id in ids {
            let ts = (start + time::Duration::milliseconds(ms))
                .format(&Rfc3339)
                .expect("a valid instant");
            ms += 1;
            out.extend_from_slice(
                format!(
                    r#"{{"ts":"{ts}","agent_id":"{id}","action":"s3:GetObject","agent_type":"service_account"}}"#
                )
                .as_bytes(),
            );
            out.push(b'\n');
        }
    }
    out
}

/// Hash flooding: 20,000 agents whose ids collide under an unkeyed hash,
/// five calls each, against as many ordinary ids. With a keyed index the
/// two cost the same per call.
fn hash_flood(c: &mut Criterion) {
    const AGENTS: usize = 20_000;
    const ROUNDS: usize = 5;
    let mut g = c.benchmark_group("hash_flood");
    g.sample_size(10);
    g.throughput(Throughput::Elements((AGENTS * ROUNDS) as u64));
    for (name, crafted) in [("score_colliding_ids", true), ("score_ordinary_ids", false)] {
        // Built on first use: finding crafted ids takes seconds, and a
        // filter that selects other benches should not pay for it.
        let fixture = std::cell::OnceCell::new();
        let windows =
            || fixture.get_or_init(|| batches(&flood_fleet(&flood_ids(AGENTS, crafted), ROUNDS)));
        g.bench_function(name, |b| {
            let windows = windows();
            b.iter(|| {
                let mut engine = Engine::new(Config::default());
                for w in windows {
                    engine
                        .process_batch(w, &mut |_, _| {})
                        .expect("call layout");
                }
                engine.agents_tracked()
            })
        });
        // The live inventory keeps its own table of identities.
        let times = Config::default()
            .inventory
            .times()
            .expect("default durations");
        let inventory = name.replace("score", "observe_inventory");
        g.bench_function(inventory.as_str(), |b| {
            let windows = windows();
            b.iter(|| {
                let mut inv = LiveInventory::new(times, GrantSet::default(), 1_000_000);
                for w in windows {
                    let cols = CallColumns::new(w).expect("call layout");
                    for i in 0..cols.len() {
                        inv.observe(&cols.row(i), 0);
                    }
                }
                inv.identities()
            })
        });
    }
    g.finish();
}

/// The whole of `warden replay` (read, decode, score on `threads`
/// engines sharded by cohort, decide, evaluate) over the fixture written
/// to a file: the sharded engine is crate-private, so it is measured
/// through the replay it serves. On this 2-core machine compare the
/// ratio of the two within one run.
fn sharded_replay(c: &mut Criterion) {
    use warden::emit::{Outputs, Renderer};
    use warden::input::ReadObserver;
    struct Quiet;
    impl ReadObserver for Quiet {}
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("fleet.jsonl");
    let bytes = fixture();
    std::fs::write(&path, &bytes).expect("fixture written");
    let inputs = [path.display().to_string()];
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    let mut g = c.benchmark_group("sharded_replay");
    g.throughput(Throughput::Elements(lines));
    g.sample_size(10);
    for threads in [1usize, 2] {
        g.bench_function(format!("replay_threads_{threads}"), |b| {
            b.iter(|| {
                let mut outputs: Outputs<'_> = Outputs::new(Renderer::new(None));
                warden::offline::replay::run(
                    Config::default(),
                    None,
                    &inputs,
                    &mut outputs,
                    &mut Quiet,
                    threads,
                )
                .expect("replay of the fixture")
                .events
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench, hash_flood, sharded_replay);
criterion_main!(benches);
