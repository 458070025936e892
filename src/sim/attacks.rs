//! Attack scenarios, injected into a victim's own stream (its session,
//! address and rhythm at the time) and labelled with the scenario name.

use super::fleet::{Agent, AttackPlan, World};
use super::threats;
use super::{Interner, SimConfig, SimEvent, HOUR, MINUTE};
use crate::event::AgentType;
use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap;

/// The attack scenarios the simulator plays, by the label their calls carry.
pub const SCENARIOS: [&str; 15] = [
    "stolen_credential",
    "discovery",
    "privilege_escalation",
    "bulk_exfiltration",
    "permission_probing",
    "prompt_injection",
    "off_hours",
    "delegation_abuse",
    "low_and_slow_exfiltration",
    // The families a stolen token or a hijacked agent uses to stay under
    // volume and novelty lines (`threats`).
    "inside_replay",
    "ramping_exfiltration",
    "stranger_delegation",
    "cross_tenant",
    "archive_low_and_slow",
    "slow_denied_spray",
];

const DISCOVERY: [&str; 24] = [
    "iam:ListRoles",
    "iam:ListUsers",
    "iam:ListPolicies",
    "s3:ListBuckets",
    "ec2:DescribeInstances",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
    "lambda:ListFunctions",
    "secretsmanager:ListSecrets",
    "rds:DescribeDBInstances",
    "kms:ListKeys",
    "sts:GetCallerIdentity",
    "organizations:ListAccounts",
    "dynamodb:ListTables",
    "sqs:ListQueues",
    "sns:ListTopics",
    "ecr:DescribeRepositories",
    "eks:ListClusters",
    "cloudtrail:DescribeTrails",
    "logs:DescribeLogGroups",
    "ssm:DescribeParameters",
    "iam:GetAccountAuthorizationDetails",
    "guardduty:ListDetectors",
    "route53:ListHostedZones",
];
const ESCALATION: [&str; 10] = [
    "iam:CreateAccessKey",
    "iam:AttachUserPolicy",
    "iam:PutRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:PassRole",
    "sts:AssumeRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:AddUserToGroup",
    "iam:CreateLoginProfile",
    "lambda:CreateFunction",
];
const INJECTED_TOOLS: [&str; 8] = [
    "secretsmanager:GetSecretValue",
    "email:SendExternal",
    "shell:Exec",
    "db:ExportTable",
    "http:PostExternal",
    "files:ShareExternal",
    "crm:ExportAllCustomers",
    "iam:CreateAccessKey",
];
const DELEGATED: [&str; 6] = [
    "secretsmanager:GetSecretValue",
    "iam:ListAccessKeys",
    "s3:GetBucketPolicy",
    "kms:Decrypt",
    "ssm:GetParameter",
    "iam:GetRole",
];
const ATTACKER_UAS: [&str; 3] = [
    "python-requests/2.31.0",
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.5",
    "curl/8.4.0",
];

/// Scenarios that need the victim's own baseline (seasonal profile, settled
/// tool set, usual parents, usual volume) are not planned on agents that
/// appear mid-stream; the others also test cold start.
fn needs_history(scenario: &str) -> bool {
    matches!(
        scenario,
        "off_hours"
            | "prompt_injection"
            | "delegation_abuse"
            | "low_and_slow_exfiltration"
            | "inside_replay"
            | "ramping_exfiltration"
            | "stranger_delegation"
            | "cross_tenant"
            | "archive_low_and_slow"
    )
}

fn eligible(scenario: &str, kind: AgentType) -> bool {
    match scenario {
        "prompt_injection" => kind == AgentType::AiAgent,
        "off_hours" => kind == AgentType::ApiKey,
        "delegation_abuse" => matches!(kind, AgentType::AiAgent | AgentType::Workload),
        "stranger_delegation" => kind == AgentType::AiAgent,
        _ => true,
    }
}

/// Picks victims and start times: scenarios round-robin over a share of the
/// fleet, after a warm-up in which baselines form. Agents that appear
/// mid-stream may be attacked within their first hours (cold start).
pub(crate) fn plan(
    cfg: &SimConfig,
    agents: &[Agent],
    rng: &mut ChaCha8Rng,
) -> FxHashMap<u32, AttackPlan> {
    let mut out = FxHashMap::default();
    let pool = cfg.scenario_pool();
    let n_attacks = ((cfg.agents as f64 * cfg.attack_share).round() as usize)
        .max(pool.len().min(cfg.agents / 4));
    let end = cfg.start_ms + cfg.duration_ms;
    let warmup = (26 * HOUR).min(cfg.duration_ms / 2);
    for k in 0..n_attacks {
        let Some(&scenario) = pool.get(k % pool.len().max(1)) else {
            break;
        };
        let name = SCENARIOS[scenario];
        let long = threats::duration(name);
        for _ in 0..200 {
            let v = rng.random_range(0..agents.len()) as u32;
            let a = &agents[v as usize];
            let late = a.start > cfg.start_ms;
            if out.contains_key(&v) || !eligible(name, a.kind) || (late && needs_history(name)) {
                continue;
            }
            let earliest = if a.start > cfg.start_ms {
                a.start + 30 * MINUTE
            } else {
                cfg.start_ms + warmup
            };
            let latest = end - long;
            if earliest >= latest {
                continue;
            }
            let start = if a.start > cfg.start_ms {
                earliest + rng.random_range(0..2 * HOUR)
            } else {
                rng.random_range(earliest..latest)
            };
            if start >= latest {
                continue;
            }
            out.insert(v, AttackPlan { scenario, start });
            break;
        }
    }
    out
}

/// The victim's context (session, address, user agent, parent) just before `t`.
pub(super) fn context_at(own: &[SimEvent], t: i64) -> Option<SimEvent> {
    let i = own.partition_point(|e| e.ts <= t);
    if i > 0 {
        Some(own[i - 1])
    } else {
        own.first().copied()
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn inject(
    w: &World,
    a: &Agent,
    plan: &AttackPlan,
    own: &[SimEvent],
    rng: &mut ChaCha8Rng,
    s: &mut Interner,
    out: &mut Vec<SimEvent>,
) {
    let name = SCENARIOS[plan.scenario];
    let label = plan.scenario as u8 + 1;
    let mut t = plan.start;
    if name == "off_hours" {
        // Move to the next 01:00-04:00 local.
        while !(1..4).contains(&w.local(a.tenant, t).0) {
            t += 15 * MINUTE;
        }
        t += rng.random_range(0..30) * MINUTE;
    }
    let Some(ctx) = context_at(own, t) else {
        return;
    };
    let tenant = &w.tenants[a.tenant].slug;
    let external_ip = |rng: &mut ChaCha8Rng, s: &mut Interner| {
        s.id(&format!(
            "{}.{}.{}.{}",
            [185, 45, 91, 103][rng.random_range(0..4)],
            rng.random_range(1..255),
            rng.random_range(0..255),
            rng.random_range(1..255)
        ))
    };
    let labelled = SimEvent { label, ..ctx };
    let ev = |t: i64,
              action: &str,
              resource: String,
              outcome: u8,
              bytes: Option<u64>,
              rng: &mut ChaCha8Rng,
              s: &mut Interner| {
        threats::call(&labelled, t, action, &resource, outcome, bytes, rng, s)
    };
    let mut batch = Vec::new();
    match name {
        "stolen_credential" => {
            // The token, used in parallel from another network and client.
            let ip = external_ip(rng, s);
            let ua = s.id(ATTACKER_UAS.choose(rng).copied().unwrap_or("curl/8.4.0"));
            let n = rng.random_range(15..60);
            for _ in 0..n {
                t += rng.random_range(5_000..60_000);
                let action = if rng.random_bool(0.5) {
                    w.victims_action(a, rng, "s3:GetObject")
                } else {
                    DISCOVERY
                        .choose(rng)
                        .copied()
                        .unwrap_or("sts:GetCallerIdentity")
                };
                let mut e = ev(
                    t,
                    action,
                    format!("arn:aws:s3:::{tenant}-data/{}", rng.random_range(0..100)),
                    u8::from(rng.random_bool(0.1)),
                    None,
                    rng,
                    s,
                );
                e.ip = ip;
                e.ua = ua;
                batch.push(e);
            }
        }
        "discovery" => {
            let n = rng.random_range(60..250);
            for _ in 0..n {
                t += rng.random_range(300..4_000);
                let action = DISCOVERY.choose(rng).copied().unwrap_or("s3:ListBuckets");
                let svc = action.split(':').next().unwrap_or("x");
                batch.push(ev(
                    t,
                    action,
                    format!(
                        "arn:aws:{svc}:eu-west-1:000000000000:{}",
                        rng.random_range(0..50)
                    ),
                    u8::from(rng.random_bool(0.1)),
                    None,
                    rng,
                    s,
                ));
            }
        }
        "privilege_escalation" => {
            let n = rng.random_range(10..40);
            for _ in 0..n {
                t += rng.random_range(5_000..40_000);
                let action = ESCALATION.choose(rng).copied().unwrap_or("iam:PassRole");
                let denied = rng.random_bool(0.7);
                batch.push(ev(
                    t,
                    action,
                    format!(
                        "arn:aws:iam::000000000000:role/{}",
                        ["Admin", "OrganizationAccountAccessRole", "ci-deployer"]
                            [rng.random_range(0..3)]
                    ),
                    u8::from(denied),
                    None,
                    rng,
                    s,
                ));
            }
        }
        "bulk_exfiltration" => {
            let n = rng.random_range(50..300);
            for _ in 0..n {
                t += rng.random_range(1_000..6_000);
                let bytes = rng.random_range(5_000_000..100_000_000);
                batch.push(ev(
                    t,
                    "s3:GetObject",
                    format!(
                        "arn:aws:s3:::{tenant}-{}/export/{}.parquet",
                        ["customer-data", "backups", "finance"][rng.random_range(0..3)],
                        rng.random_range(0..10_000)
                    ),
                    0,
                    Some(bytes),
                    rng,
                    s,
                ));
            }
        }
        "permission_probing" => {
            let n = rng.random_range(30..120);
            for _ in 0..n {
                t += rng.random_range(2_000..12_000);
                let pool: &[&str] = if rng.random_bool(0.5) {
                    &DISCOVERY
                } else {
                    &ESCALATION
                };
                let action = pool.choose(rng).copied().unwrap_or("iam:ListRoles");
                batch.push(ev(
                    t,
                    action,
                    format!(
                        "arn:aws:{}:::probe/{}",
                        action.split(':').next().unwrap_or("x"),
                        rng.random_range(0..500)
                    ),
                    u8::from(rng.random_bool(0.9)),
                    None,
                    rng,
                    s,
                ));
            }
        }
        "prompt_injection" => {
            // A few novel sensitive tools, slowly, amid normal work.
            let k = rng.random_range(2..=4);
            let mut tools = INJECTED_TOOLS.to_vec();
            rand::seq::SliceRandom::shuffle(&mut tools[..], rng);
            for tool in tools.iter().take(k) {
                for _ in 0..rng.random_range(1..=3) {
                    t += rng.random_range(2..15) * MINUTE;
                    batch.push(ev(
                        t,
                        tool,
                        format!(
                            "{}://{tenant}/target/{}",
                            tool.split(':').next().unwrap_or("x"),
                            rng.random_range(0..100)
                        ),
                        0,
                        None,
                        rng,
                        s,
                    ));
                }
            }
        }
        "off_hours" => {
            let n = rng.random_range(40..200);
            let span = rng.random_range(20..60) * MINUTE;
            let new_ip = rng.random_bool(0.5).then(|| external_ip(rng, s));
            for _ in 0..n {
                t += if w.cfg.variants.mimicry {
                    // Irregular gaps with the same mean: no steady beat.
                    rng.random_range(0..=2 * span / n as i64)
                } else {
                    span / n as i64
                };
                let action = w.victims_action(a, rng, "GET /v1/orders");
                let path = action
                    .split(' ')
                    .nth(1)
                    .unwrap_or("/")
                    .replace("{id}", &rng.random_range(0..5000).to_string())
                    .replace("{sku}", "sku-1");
                let mut e = ev(t, action, path, 0, None, rng, s);
                if let Some(ip) = new_ip {
                    e.ip = ip;
                }
                batch.push(e);
            }
        }
        "delegation_abuse" => {
            let admin = w.tenants[a.tenant].admin;
            let n = rng.random_range(10..40);
            for _ in 0..n {
                t += rng.random_range(10_000..60_000);
                let action = DELEGATED.choose(rng).copied().unwrap_or("kms:Decrypt");
                let mut e = ev(
                    t,
                    action,
                    format!(
                        "arn:aws:secretsmanager:eu-west-1:000000000000:secret:{tenant}/prod/{}",
                        rng.random_range(0..20)
                    ),
                    0,
                    None,
                    rng,
                    s,
                );
                e.parent = admin;
                batch.push(e);
            }
        }
        "low_and_slow_exfiltration" => {
            // Moderate chunks every few minutes for hours.
            let hours = rng.random_range(3..6);
            let stop = t + hours * HOUR;
            while t < stop {
                t += rng.random_range(2..7) * MINUTE;
                let bytes = rng.random_range(20_000_000..60_000_000);
                batch.push(ev(
                    t,
                    "s3:GetObject",
                    format!(
                        "arn:aws:s3:::{tenant}-customer-data/exports/{}.csv.gz",
                        rng.random_range(0..100_000)
                    ),
                    0,
                    Some(bytes),
                    rng,
                    s,
                ));
            }
        }
        _ => {
            let own_from = out.len() - own.len();
            threats::inject(
                w,
                a,
                &ctx,
                t,
                label,
                &mut out[own_from..],
                rng,
                s,
                &mut batch,
            );
        }
    }
    // A ramp stops halfway up in `threats` itself: its own calls carry it.
    if w.cfg.variants.half_attacks && name != "ramping_exfiltration" {
        keep_first_half(&mut batch);
    }
    out.extend(batch);
}

/// Keeps the calls of the first half of an episode's time
/// (`Variants::half_attacks`). Cut after every call was drawn, so the
/// random draws, and with them the rest of the fleet, stay as they were.
fn keep_first_half(batch: &mut Vec<SimEvent>) {
    let times = || batch.iter().map(|e| e.ts);
    let (Some(first), Some(last)) = (times().min(), times().max()) else {
        return;
    };
    let cut = first + (last - first) / 2;
    batch.retain(|e| e.ts <= cut);
}
