//! Threat families that stay inside the victim's familiar context: a
//! token replayed from the agent's own network and client, exfiltration
//! that ramps over hours, delegation from a parent the agent never served,
//! calls into another tenant, low-and-slow reads of an archive, and a slow
//! spray of denied sensitive calls. Each is played on the victim's own
//! session, address and client at the time (`attacks::context_at`).

use super::catalog::call_shape;
use super::fleet::{Agent, World};
use super::{Interner, SimEvent, HOUR, MINUTE};
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

/// Sensitive calls a slow denied spray tries, one every few minutes.
const SPRAYED: [&str; 10] = [
    "iam:CreateAccessKey",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "ssm:GetParameter",
    "sts:AssumeRole",
    "iam:PassRole",
    "s3:PutBucketPolicy",
    "iam:CreateLoginProfile",
];

/// Places a replayed token reaches for that the agent never touched.
const FOREIGN_PREFIXES: [&str; 5] = [
    "payroll",
    "hr-records",
    "legal-hold",
    "security-audit",
    "board-reports",
];

/// How long a family's episode may run, for planning its start.
pub(super) fn duration(scenario: &str) -> i64 {
    match scenario {
        "ramping_exfiltration" => 12 * HOUR,
        "low_and_slow_exfiltration" | "archive_low_and_slow" | "slow_denied_spray" => 6 * HOUR,
        _ => 2 * HOUR,
    }
}

/// The victim's typical gap between calls over the six hours before `t`,
/// in ms (its cadence), and its calls per hour then.
fn cadence(own: &[SimEvent], t: i64) -> (i64, f64) {
    let from = own.partition_point(|e| e.ts < t - 6 * HOUR);
    let to = own.partition_point(|e| e.ts < t);
    let n = (to - from).max(1);
    let per_hour = n as f64 / 6.0;
    ((6 * HOUR) / n as i64, per_hour)
}

/// One attack call in the victim's context (`ctx`, labelled).
#[allow(clippy::too_many_arguments)]
pub(super) fn call(
    ctx: &SimEvent,
    t: i64,
    action: &str,
    resource: &str,
    outcome: u8,
    bytes: Option<u64>,
    rng: &mut ChaCha8Rng,
    s: &mut Interner,
) -> SimEvent {
    let (b, lat) = call_shape(action);
    let bytes_out = bytes.unwrap_or_else(|| {
        LogNormal::new(b.ln(), 0.8)
            .map(|d| d.sample(rng))
            .unwrap_or(b) as u64
    });
    SimEvent {
        ts: t,
        action: s.id(action),
        resource: s.id(resource),
        outcome,
        status: [200, 403, 500][outcome as usize],
        latency_ms: lat as f32 * rng.random_range(0.5..2.0),
        bytes_out: if outcome == 0 { bytes_out } else { 150 },
        bytes_in: rng.random_range(200..2000),
        label: ctx.label,
        event_id: 0,
        tenant: 0,
        ..*ctx
    }
}

/// A resource like the agent's own but under a prefix it never touched.
fn foreign_resource(tenant: &str, action: &str, place: &str, n: u32) -> String {
    if let Some(path) = action.split(' ').nth(1) {
        let top = path.split('/').nth(1).unwrap_or("v1");
        return format!("/{top}/{place}/{n}");
    }
    let svc = action.split(':').next().unwrap_or("x");
    match svc {
        "s3" => format!("arn:aws:s3:::{tenant}-{place}/objects/{n}.json"),
        "sqs" | "sns" => format!("arn:aws:{svc}:eu-west-1:000000000000:{tenant}-{place}"),
        "dynamodb" | "kinesis" => {
            format!("arn:aws:{svc}:eu-west-1:000000000000:table/{tenant}-{place}")
        }
        _ => format!("{svc}://{tenant}-{place}/items/{n}"),
    }
}

/// Plays one of this module's families from `t` into `batch`. `own` is the
/// victim's benign stream, which a ramp rewrites in place (its usual calls
/// start returning more).
#[allow(clippy::too_many_arguments)]
pub(super) fn inject(
    w: &World,
    a: &Agent,
    ctx: &SimEvent,
    mut t: i64,
    label: u8,
    own: &mut [SimEvent],
    rng: &mut ChaCha8Rng,
    s: &mut Interner,
    batch: &mut Vec<SimEvent>,
) {
    let ctx = SimEvent { label, ..*ctx };
    let name = super::SCENARIOS[label as usize - 1];
    let tenant = w.tenants[a.tenant].slug.clone();
    let usual = |rng: &mut ChaCha8Rng| w.victims_action(a, rng, "s3:GetObject");
    let (gap, per_hour) = cadence(own, t);
    match name {
        "inside_replay" => {
            // The agent's own actions, network and client at about twice its
            // rate, on a place it never touched, for 30-90 minutes.
            let place = FOREIGN_PREFIXES.choose(rng).copied().unwrap_or("payroll");
            let stop = t + rng.random_range(30..=90) * MINUTE;
            let step = (HOUR as f64 / per_hour.max(6.0)) as i64;
            while t < stop {
                t += rng.random_range(step / 2..=step * 3 / 2).max(1000);
                let action = usual(rng);
                let r = foreign_resource(&tenant, action, place, rng.random_range(0..5000));
                batch.push(call(&ctx, t, action, &r, 0, None, rng, s));
            }
        }
        "ramping_exfiltration" => {
            // The agent's usual reads return more and more: 1x to ~30x over
            // 12 hours (the calls are its own; the data leaving is not).
            let read = a
                .actions
                .iter()
                .copied()
                .find(|x| call_shape(x).0 >= 3_000.0)
                .unwrap_or(a.actions[0]);
            let read_id = s.id(read);
            let span = 12 * HOUR;
            // Halfway up when attacks stop halfway (`Variants::half_attacks`).
            let end = if w.cfg.variants.half_attacks {
                t + span / 2
            } else {
                t + span
            };
            for e in own.iter_mut() {
                if e.ts >= t && e.ts < end && e.action == read_id && e.outcome == 0 {
                    let progress = (e.ts - t) as f64 / span as f64;
                    e.bytes_out = (e.bytes_out as f64 * 30f64.powf(progress)) as u64;
                    e.label = label;
                }
            }
            // An agent that rarely makes that call gets a few more of them.
            let stop = t + span;
            let step = gap.clamp(5 * MINUTE, 15 * MINUTE);
            let r = own
                .iter()
                .rev()
                .find(|e| e.action == read_id)
                .map(|e| s.get(e.resource).to_string())
                .unwrap_or_else(|| foreign_resource(&tenant, read, "data", 1));
            while t < stop {
                t += rng.random_range(step / 2..=step * 3 / 2);
                let progress = (t - (stop - span)) as f64 / span as f64;
                let base = call_shape(read).0 * a.bytes_scale;
                let bytes = (base * 30f64.powf(progress)) as u64;
                batch.push(call(&ctx, t, read, &r, 0, Some(bytes), rng, s));
            }
            if w.cfg.variants.half_attacks {
                // Drawn in full first, so the draws after it stay as they were.
                batch.retain(|e| e.ts < end);
            }
        }
        "stranger_delegation" => {
            // Tasks for an orchestrator of another team, with the agent's
            // normal tools, for 30-60 minutes.
            let others: Vec<usize> = (0..w.tenants.len()).filter(|&i| i != a.tenant).collect();
            let Some(&other) = others.choose(rng) else {
                return;
            };
            let parent = w.tenants[other].orchestrators[0];
            let stop = t + rng.random_range(30..=60) * MINUTE;
            while t < stop {
                for _ in 0..rng.random_range(3..10) {
                    t += rng.random_range(1_000..6_000);
                    let action = usual(rng);
                    let r = foreign_resource(&tenant, action, "shared", rng.random_range(0..500));
                    let mut e = call(&ctx, t, action, &r, 0, None, rng, s);
                    e.parent = parent;
                    batch.push(e);
                }
                t += rng.random_range(3..12) * MINUTE;
            }
        }
        "cross_tenant" => {
            // Calls naming a tenant the agent never used, at its own pace.
            let others: Vec<usize> = (0..w.tenants.len()).filter(|&i| i != a.tenant).collect();
            let Some(&other) = others.choose(rng) else {
                return;
            };
            let theirs = w.tenants[other].slug.clone();
            let name = w.tenants[other].name;
            let step = gap.clamp(20_000, 5 * MINUTE);
            for _ in 0..rng.random_range(10..40) {
                t += rng.random_range(step / 2..=step * 3 / 2);
                let action = usual(rng);
                let r = foreign_resource(&theirs, action, "data", rng.random_range(0..5000));
                let mut e = call(&ctx, t, action, &r, 0, None, rng, s);
                e.tenant = name;
                batch.push(e);
            }
        }
        "archive_low_and_slow" => {
            // Ordinary-sized reads of an archive, one at the agent's own
            // cadence, for 3-6 hours.
            let stop = t + rng.random_range(3..=6) * HOUR;
            let step = gap.clamp(MINUTE, 15 * MINUTE);
            while t < stop {
                t += rng.random_range(step / 2..=step * 3 / 2);
                let r = format!(
                    "arn:aws:s3:::{tenant}-archive/{}/{}.csv.gz",
                    2019 + rng.random_range(0..5),
                    rng.random_range(0..100_000)
                );
                batch.push(call(&ctx, t, "s3:GetObject", &r, 0, None, rng, s));
            }
        }
        _ => {
            // slow_denied_spray: one denied sensitive call every 2-5 minutes
            // for six hours.
            let stop = t + 6 * HOUR;
            while t < stop {
                t += rng.random_range(2 * MINUTE..=5 * MINUTE);
                let action = SPRAYED.choose(rng).copied().unwrap_or("iam:PassRole");
                let r = format!(
                    "arn:aws:iam::000000000000:role/{}",
                    ["Admin", "billing-admin", "ci-deployer", "break-glass"]
                        [rng.random_range(0..4)]
                );
                batch.push(call(&ctx, t, action, &r, 1, None, rng, s));
            }
        }
    }
}
