//! The benign world: tenants, agents of four kinds, and their everyday
//! behaviour including the benign changes a detector must not alert on.

use super::catalog::{
    call_shape, CRON_TEMPLATES, LLM_TOOLS, LLM_UAS, PARTNER_UAS, REST, SDK_UAS, WORKLOAD,
};
use super::changes::{self, TeamChanges};
use super::{Interner, SimConfig, SimEvent, HOUR, MINUTE};
use crate::event::AgentType;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use rustc_hash::FxHashMap;

pub(crate) struct Tenant {
    pub name: u32,
    pub slug: String,
    pub tz_h: i64,
    pub vpc: u8,
    pub orchestrators: Vec<u32>,
    pub admin: u32,
    pub team_tools: Vec<&'static str>,
    pub deploys: Vec<(i64, i64)>,
    pub rollout_ms: i64,
    pub changes: TeamChanges,
}

pub struct Agent {
    pub name: u32,
    pub kind: AgentType,
    pub tenant: usize,
    pub start: i64,
    /// Base calls (or tasks, or runs) per hour at full intensity.
    pub rate: f64,
    pub growth_per_day: f64,
    pub actions: Vec<&'static str>,
    pub weights: Vec<f64>,
    pub ua: u32,
    pub bytes_scale: f64,
    pub period_ms: i64,
    pub phase_ms: i64,
    pub partner_net: u8,
    pub rotates_key_at: Option<i64>,
    pub rollout_action: Option<(&'static str, i64)>,
    /// The client after the team's upgrade, and when this agent gets it.
    pub upgrade: Option<(u32, i64)>,
    /// The team's sensitive roll-out, as this agent takes it up.
    pub sensitive_rollout: Option<(&'static str, i64)>,
    /// Start of a two-hour backfill at ten times the volume.
    pub backfill_at: Option<i64>,
}

impl Agent {
    /// One of the agent's own actions, as often as it uses each.
    pub(crate) fn usual_action(&self, rng: &mut ChaCha8Rng) -> &'static str {
        let total: f64 = self.weights.iter().sum();
        let mut x = rng.random::<f64>() * total;
        for (act, w) in self.actions.iter().zip(&self.weights) {
            if x < *w {
                return act;
            }
            x -= w;
        }
        self.actions[0]
    }
}

pub(crate) struct AttackPlan {
    pub scenario: usize,
    pub start: i64,
}

pub(crate) struct World {
    pub cfg: SimConfig,
    pub tenants: Vec<Tenant>,
    pub agents: Vec<Agent>,
    pub attack_plan: FxHashMap<u32, AttackPlan>,
}

fn hex(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

impl World {
    pub fn new(cfg: &SimConfig, rng: &mut ChaCha8Rng, s: &mut Interner) -> World {
        let end = cfg.start_ms + cfg.duration_ms;
        let n_tenants = (cfg.agents / 50).clamp(2, 40);
        let tzs = [0i64, -5, 1, 8, -8, 5, 9, -3];
        let mut tenants = Vec::new();
        // Benign changes come from their own generator, so adding one does
        // not reshuffle the rest of the world.
        let mut crng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x00c4_a46e_5eed);
        for t in 0..n_tenants {
            let names = [
                "acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell",
            ];
            let slug = if t < 8 {
                format!("tenant-{}", names[t])
            } else {
                format!("tenant-{}{}", names[t % 8], t)
            };
            let mut tools = LLM_TOOLS.to_vec();
            tools.shuffle(rng);
            tools.truncate(14);
            let mut deploys = Vec::new();
            // One or two team deploys on weekdays' working hours.
            for _ in 0..rng.random_range(1..=2) {
                let day = rng.random_range(0..(cfg.duration_ms / (24 * HOUR)).max(1));
                let at = cfg.start_ms
                    + day * 24 * HOUR
                    + (rng.random_range(9..17) - tzs[t % 8]).rem_euclid(24) * HOUR;
                deploys.push((at, at + rng.random_range(20..45) * MINUTE));
            }
            tenants.push(Tenant {
                name: s.id(&slug),
                tz_h: tzs[t % 8],
                vpc: (10 + t) as u8,
                orchestrators: (0..rng.random_range(2..=3))
                    .map(|k| s.id(&format!("orchestrator-{slug}-{k}")))
                    .collect(),
                admin: s.id(&format!("admin-role-{slug}")),
                team_tools: tools,
                deploys,
                rollout_ms: cfg.start_ms
                    + cfg.duration_ms / 3
                    + rng.random_range(0..cfg.duration_ms / 3),
                slug,
                changes: TeamChanges::draw(&mut crng, cfg.start_ms, end, cfg.variants.busy_teams),
            });
        }
        let mut agents = Vec::new();
        for i in 0..cfg.agents {
            let tenant = rng.random_range(0..n_tenants);
            let roll: f64 = rng.random();
            let kind = if roll < 0.30 {
                AgentType::AiAgent
            } else if roll < 0.55 {
                AgentType::ServiceAccount
            } else if roll < 0.80 {
                AgentType::ApiKey
            } else {
                AgentType::Workload
            };
            let late = rng.random_bool(0.1) && cfg.duration_ms > 24 * HOUR;
            let start = if late {
                cfg.start_ms + rng.random_range(6 * HOUR..cfg.duration_ms - 12 * HOUR)
            } else {
                cfg.start_ms
            };
            let tn = &tenants[tenant];
            let (prefix, actions, rate, ua): (&str, Vec<&'static str>, f64, &str) = match kind {
                AgentType::AiAgent => {
                    let mut own = tn.team_tools.clone();
                    own.shuffle(rng);
                    own.truncate(rng.random_range(5..=9));
                    (
                        "agent",
                        own,
                        rng.random_range(1.0..6.0),
                        LLM_UAS.choose(rng).copied().unwrap_or(LLM_UAS[0]),
                    )
                }
                AgentType::ServiceAccount => {
                    let tpl = CRON_TEMPLATES[rng.random_range(0..CRON_TEMPLATES.len())];
                    (
                        "svc",
                        tpl.to_vec(),
                        0.0,
                        SDK_UAS.choose(rng).copied().unwrap_or(SDK_UAS[0]),
                    )
                }
                AgentType::ApiKey => {
                    let mut own = REST.to_vec();
                    own.shuffle(rng);
                    own.truncate(rng.random_range(3..=7));
                    (
                        "key",
                        own,
                        rng.random_range(20.0..300.0),
                        PARTNER_UAS.choose(rng).copied().unwrap_or(PARTNER_UAS[0]),
                    )
                }
                _ => {
                    let mut own = WORKLOAD.to_vec();
                    own.shuffle(rng);
                    own.truncate(rng.random_range(3..=6));
                    if !own.contains(&"sqs:ReceiveMessage") {
                        own[0] = "sqs:ReceiveMessage";
                    }
                    (
                        "wl",
                        own,
                        rng.random_range(30.0..600.0),
                        SDK_UAS.choose(rng).copied().unwrap_or(SDK_UAS[0]),
                    )
                }
            };
            // Zipf-like weights over the agent's own actions.
            let weights = (0..actions.len())
                .map(|k| 1.0 / (k as f64 + 1.0).powf(0.8))
                .collect();
            let rollout_action = match kind {
                AgentType::AiAgent => Some((
                    "tools:SummarizeV2",
                    tn.rollout_ms + rng.random_range(0..3 * HOUR),
                )),
                AgentType::ApiKey => Some((
                    "GET /v2/orders",
                    tn.rollout_ms + rng.random_range(0..3 * HOUR),
                )),
                _ => None,
            };
            let period_ms = [5, 10, 15, 30, 60][rng.random_range(0..5)] * MINUTE;
            agents.push(Agent {
                name: s.id(&format!(
                    "{prefix}-{}-{:03}-{}",
                    tn.slug.trim_start_matches("tenant-"),
                    i,
                    hex(rng, 4)
                )),
                kind,
                tenant,
                start,
                rate,
                growth_per_day: rng.random_range(0.0..0.08),
                actions,
                weights,
                ua: s.id(ua),
                bytes_scale: LogNormal::new(0.0, 0.7)
                    .map(|d| d.sample(rng))
                    .unwrap_or(1.0),
                period_ms,
                phase_ms: rng.random_range(0..period_ms),
                partner_net: rng.random_range(1..250),
                rotates_key_at: rng
                    .random_bool(0.3)
                    .then(|| start + rng.random_range(0..(end - start).max(1))),
                rollout_action,
                upgrade: tn.changes.upgrade_at.map(|at| {
                    (
                        s.id(&changes::upgraded(ua)),
                        at + crng.random_range(0..HOUR),
                    )
                }),
                sensitive_rollout: tn
                    .changes
                    .rollout
                    .filter(|(k, _, _)| *k == kind)
                    .map(|(_, action, at)| (action, at + crng.random_range(0..20 * MINUTE))),
                backfill_at: if cfg.variants.night_backfills {
                    changes::draw_night_backfill(&mut crng, start, end, tn.tz_h)
                } else {
                    changes::draw_backfill(&mut crng, kind, start, end)
                },
            });
        }
        // The attack plan is drawn by `sim::generate` right after, from the
        // same generator (attacks depend on the world, not the other way).
        World {
            cfg: cfg.clone(),
            tenants,
            agents,
            attack_plan: Default::default(),
        }
    }

    pub fn end(&self) -> i64 {
        self.cfg.start_ms + self.cfg.duration_ms
    }

    /// Local hour and whether it is a weekend day, in the tenant's time zone.
    pub fn local(&self, tenant: usize, t: i64) -> (i64, bool) {
        let tn = &self.tenants[tenant];
        let local_h = t.div_euclid(HOUR) + tn.tz_h + tn.changes.dst_shift(t);
        let hour = local_h.rem_euclid(24);
        // Epoch day 0 was a Thursday; Saturday = 2, Sunday = 3 (mod 7).
        let dow = local_h.div_euclid(24).rem_euclid(7);
        (hour, dow == 2 || dow == 3)
    }

    /// Activity multiplier at `t` (diurnal, weekly, growth, deploys).
    pub(crate) fn intensity(&self, a: &Agent, t: i64) -> f64 {
        // Schedules driven by people drift from day to day.
        let drift = match a.kind {
            AgentType::ApiKey | AgentType::AiAgent => {
                changes::schedule_drift(a.name, t.div_euclid(24 * HOUR))
            }
            _ => 0,
        };
        let (h, weekend) = self.local(a.tenant, t + drift);
        let diurnal = match a.kind {
            AgentType::ApiKey => match h {
                8..=17 => 1.0,
                7 | 18 => 0.45,
                6 | 19 | 20 => 0.12,
                _ => 0.025,
            },
            AgentType::AiAgent => match h {
                7..=19 => 1.0,
                6 | 20 | 21 => 0.5,
                _ => 0.12,
            },
            AgentType::Workload => {
                0.7 + 0.3 * ((h as f64 - 14.0) / 24.0 * std::f64::consts::TAU).cos()
            }
            _ => 1.0,
        };
        let weekly = match (a.kind, weekend) {
            (AgentType::ApiKey, true) => 0.15,
            (AgentType::AiAgent, true) => 0.4,
            (AgentType::Workload, true) => 0.75,
            _ => 1.0,
        };
        let days = (t - self.cfg.start_ms) as f64 / (24 * HOUR) as f64;
        let growth = (1.0 + a.growth_per_day).powf(days);
        let deploy = if matches!(a.kind, AgentType::Workload) && self.in_deploy(a.tenant, t) {
            3.0
        } else {
            1.0
        };
        let backfill = if a
            .backfill_at
            .is_some_and(|b| t >= b && t < b + changes::BACKFILL_MS)
        {
            changes::BACKFILL_MULT
        } else {
            1.0
        };
        diurnal * weekly * growth * deploy * backfill
    }

    /// The second octet of the team's internal addresses at `t` (a /16 per
    /// team, moved once when its egress changes).
    pub(crate) fn vpc_at(&self, tenant: usize, t: i64) -> u8 {
        let tn = &self.tenants[tenant];
        match tn.changes.egress_at {
            Some(at) if t >= at => tn.vpc.wrapping_add(100),
            _ => tn.vpc,
        }
    }

    pub(crate) fn in_deploy(&self, tenant: usize, t: i64) -> bool {
        self.tenants[tenant]
            .deploys
            .iter()
            .any(|&(s, e)| t >= s && t < e)
    }

    /// Arrival times of a non-homogeneous Poisson process (thinning).
    fn arrivals(&self, a: &Agent, rng: &mut ChaCha8Rng, per_hour: f64, max_mult: f64) -> Vec<i64> {
        let max_mult = if a.backfill_at.is_some() {
            max_mult * changes::BACKFILL_MULT
        } else {
            max_mult
        };
        let lam_max = per_hour * max_mult / HOUR as f64;
        let mut t = a.start as f64;
        let end = self.end() as f64;
        let mut out = Vec::new();
        if lam_max <= 0.0 {
            return out;
        }
        loop {
            let u: f64 = rng.random::<f64>().max(1e-12);
            t += -u.ln() / lam_max;
            if t >= end {
                break;
            }
            if rng.random::<f64>() * max_mult < self.intensity(a, t as i64) {
                out.push(t as i64);
            }
        }
        out
    }

    /// One of the victim's own actions, as an intruder with its token picks
    /// it: uniformly from what the victim calls, or under the `mimicry`
    /// variant as often as the victim calls each.
    pub(crate) fn victims_action(
        &self,
        a: &Agent,
        rng: &mut ChaCha8Rng,
        fallback: &'static str,
    ) -> &'static str {
        if self.cfg.variants.mimicry && !a.actions.is_empty() {
            a.usual_action(rng)
        } else {
            a.actions.choose(rng).copied().unwrap_or(fallback)
        }
    }

    fn pick_action(&self, a: &Agent, t: i64, rng: &mut ChaCha8Rng) -> &'static str {
        if let Some((act, at)) = a.sensitive_rollout {
            if t >= at && rng.random_bool(0.08) {
                return act;
            }
        }
        if let Some((act, at)) = a.rollout_action {
            if t >= at && rng.random_bool(0.12) {
                return act;
            }
        }
        a.usual_action(rng)
    }

    pub(crate) fn resource(
        &self,
        a: &Agent,
        action: &str,
        at: i64,
        rng: &mut ChaCha8Rng,
    ) -> String {
        let tn = &self.tenants[a.tenant];
        let t = &tn.slug;
        // A storage migration renames every bucket and table of the team.
        let v2 = if tn.changes.migration_at.is_some_and(|m| at >= m) {
            "-v2"
        } else {
            ""
        };
        let n: u32 = rng.random_range(0..5000);
        let svc = action.split(':').next().unwrap_or("x");
        if action.contains(' ') {
            let path = action.split(' ').nth(1).unwrap_or("/");
            return path
                .replace("{id}", &format!("{n}"))
                .replace("{sku}", &format!("sku-{n}"));
        }
        match svc {
            "s3" => format!(
                "arn:aws:s3:::{t}-{}-data{v2}/objects/{n}.json",
                self.agent_slot(a)
            ),
            "sqs" | "sns" => format!(
                "arn:aws:{svc}:eu-west-1:000000000000:{t}-{}",
                self.agent_slot(a)
            ),
            "dynamodb" | "kinesis" => format!(
                "arn:aws:{svc}:eu-west-1:000000000000:table/{t}-{}{v2}",
                self.agent_slot(a)
            ),
            "llm" => "model/frontier-large".to_string(),
            _ => format!("{svc}://{t}/items/{n}"),
        }
    }

    fn agent_slot(&self, a: &Agent) -> u32 {
        a.name % 7
    }

    fn shape(&self, a: &Agent, action: &str, rng: &mut ChaCha8Rng) -> (u64, f32, u32) {
        let (bytes, lat) = call_shape(action);
        let b = LogNormal::new((bytes * a.bytes_scale).ln(), 0.9)
            .map(|d| d.sample(rng))
            .unwrap_or(bytes);
        let l = LogNormal::new(lat.ln(), 0.5)
            .map(|d| d.sample(rng))
            .unwrap_or(lat);
        let bin = LogNormal::new(6.0, 1.0)
            .map(|d| d.sample(rng))
            .unwrap_or(400.0);
        (b as u64, l as f32, bin as u32)
    }

    /// Generates the agent's benign calls into `out`.
    pub fn benign(
        &self,
        a: &Agent,
        idx: u32,
        rng: &mut ChaCha8Rng,
        s: &mut Interner,
        out: &mut Vec<SimEvent>,
    ) {
        let tn = &self.tenants[a.tenant];
        let mut ident = Identity::default();
        let push = |w: &World,
                    t: i64,
                    action: &'static str,
                    ident: &mut Identity,
                    rng: &mut ChaCha8Rng,
                    s: &mut Interner,
                    out: &mut Vec<SimEvent>| {
            ident.refresh(w, a, t, rng, s);
            let ua = match a.upgrade {
                Some((ua, at)) if t >= at => ua,
                _ => a.ua,
            };
            let res = s.id(&w.resource(a, action, t, rng));
            let fail_bias = if matches!(a.kind, AgentType::Workload) && ident.throttled_until > t {
                0.12
            } else {
                0.0
            };
            // In an outage half the calls fail and each failure is retried
            // with backoff, up to three times.
            let outage = w.tenants[a.tenant].changes.in_outage(t);
            let mut at = t;
            for attempt in 0..4 {
                let (bytes_out, latency_ms, bytes_in) = w.shape(a, action, rng);
                let r: f64 = rng.random();
                let (outcome, status) = if outage && r < 0.5 {
                    (2, 503)
                } else if r < 0.004 {
                    (1, 403)
                } else if r < 0.01 + fail_bias {
                    (2, 503)
                } else {
                    (0, 200)
                };
                out.push(SimEvent {
                    ts: at,
                    agent: idx,
                    action: s.id(action),
                    resource: res,
                    ip: ident.ip,
                    ua,
                    session: ident.session,
                    parent: ident.parent,
                    outcome,
                    status,
                    latency_ms,
                    bytes_out: if outcome == 0 { bytes_out } else { 120 },
                    bytes_in,
                    label: 0,
                    event_id: 0,
                    tenant: 0,
                });
                if !(outage && outcome == 2) {
                    break;
                }
                at += 1000 << attempt;
            }
        };
        match a.kind {
            AgentType::AiAgent => {
                for task in self.arrivals(a, rng, a.rate, 1.6) {
                    let n = 3 + rng.random_range(0..12) + rng.random_range(0..12);
                    let mut t = task;
                    ident.parent = *tn.orchestrators.choose(rng).unwrap_or(&0);
                    for k in 0..n {
                        let action = if k % 3 == 0 {
                            "llm:InvokeModel"
                        } else if rng.random_bool(0.01) {
                            // An occasional team tool this agent has not used yet.
                            tn.team_tools.choose(rng).copied().unwrap_or("kb:Query")
                        } else {
                            self.pick_action(a, t, rng)
                        };
                        push(self, t, action, &mut ident, rng, s, out);
                        t += LogNormal::new(7.5, 0.8)
                            .map(|d| d.sample(rng))
                            .unwrap_or(2000.0) as i64;
                    }
                }
            }
            AgentType::ServiceAccount => {
                let mut run =
                    a.start - (a.start - a.phase_ms).rem_euclid(a.period_ms) + a.period_ms;
                while run < self.end() {
                    let backfill = self.intensity(a, run) >= changes::BACKFILL_MULT;
                    let extra = if backfill {
                        changes::BACKFILL_MULT as i64
                    } else if self.in_deploy(a.tenant, run) {
                        3
                    } else {
                        1
                    };
                    for r in 0..extra {
                        let mut t = run + r * a.period_ms / extra + rng.random_range(0..20_000);
                        for action in &a.actions {
                            push(self, t, action, &mut ident, rng, s, out);
                            t += rng.random_range(200..3000);
                        }
                        if let Some((action, at)) = a.sensitive_rollout {
                            if t >= at {
                                push(self, t, action, &mut ident, rng, s, out);
                            }
                        }
                    }
                    run += a.period_ms;
                }
            }
            _ => {
                for t in self.arrivals(a, rng, a.rate, 3.6) {
                    let action = self.pick_action(a, t, rng);
                    push(self, t, action, &mut ident, rng, s, out);
                }
            }
        }
    }
}

/// The evolving identity of an agent: token, address, parent.
#[derive(Default)]
struct Identity {
    session: u32,
    session_until: i64,
    ip: u32,
    ip_until: i64,
    parent: u32,
    throttled_until: i64,
    next_throttle: i64,
    vpc: u8,
    key_rotated: bool,
}

impl Identity {
    fn refresh(&mut self, w: &World, a: &Agent, t: i64, rng: &mut ChaCha8Rng, s: &mut Interner) {
        match a.kind {
            AgentType::AiAgent => {
                if t >= self.session_until {
                    self.session = s.id(&format!("tok-{}", hex(rng, 16)));
                    self.session_until = t + rng.random_range(15..60) * MINUTE;
                }
                let vpc = w.vpc_at(a.tenant, t);
                if t >= self.ip_until || vpc != self.vpc {
                    self.vpc = vpc;
                    self.ip = s.id(&format!(
                        "10.{}.{}.{}",
                        vpc,
                        rng.random_range(32..40),
                        rng.random_range(2..250)
                    ));
                    self.ip_until = t + rng.random_range(4..24) * HOUR;
                }
            }
            AgentType::ServiceAccount => {
                if t >= self.session_until {
                    // Daily token rotation.
                    self.session = s.id(&format!("sa-tok-{}", hex(rng, 12)));
                    self.session_until = t + 24 * HOUR;
                }
                let vpc = w.vpc_at(a.tenant, t);
                if self.ip == 0 || vpc != self.vpc {
                    self.vpc = vpc;
                    self.ip = s.id(&format!(
                        "10.{}.{}.{}",
                        vpc,
                        rng.random_range(8..12),
                        rng.random_range(2..250)
                    ));
                }
            }
            AgentType::ApiKey => {
                let rotated = a.rotates_key_at.is_some_and(|r| t >= r);
                if self.session == 0 || rotated != self.key_rotated {
                    self.session = s.id(&format!("key_{}", hex(rng, 20)));
                    self.key_rotated = rotated;
                }
                // A partner's egress pool: a few addresses in one network.
                self.ip = s.id(&format!(
                    "198.{}.{}.{}",
                    18 + a.partner_net % 2,
                    a.partner_net,
                    10 + rng.random_range(0..4)
                ));
            }
            _ => {
                // Pod restarts (and deploys) bring a new address in the same VPC and a new token.
                let deploy = w.in_deploy(a.tenant, t);
                let vpc = w.vpc_at(a.tenant, t);
                if t >= self.ip_until || vpc != self.vpc || (deploy && rng.random_bool(0.002)) {
                    self.vpc = vpc;
                    self.ip = s.id(&format!(
                        "10.{}.{}.{}",
                        vpc,
                        rng.random_range(64..72),
                        rng.random_range(2..250)
                    ));
                    self.ip_until = t + rng.random_range(2..12) * HOUR;
                    self.session_until = 0;
                }
                if t >= self.session_until {
                    self.session = s.id(&format!("irsa-{}", hex(rng, 16)));
                    self.session_until = t + HOUR;
                }
                if self.next_throttle == 0 {
                    self.next_throttle = t + rng.random_range(2..30) * HOUR;
                }
                if t >= self.next_throttle {
                    self.throttled_until = t + rng.random_range(5..15) * MINUTE;
                    self.next_throttle = t + rng.random_range(12..36) * HOUR;
                }
            }
        }
    }
}
