//! Decisions: turning per-event risk into findings and revocations, one
//! episode per agent (a finding that is created once and then updated, not a
//! storm of new ones).

mod config;
mod episode;
pub mod policy;
mod severity;
pub mod suppress;

pub use config::{DecisionConfig, RevokeMode};
pub(crate) use episode::Episode;
use episode::MAX_LAG_MS;
pub use severity::Severity;
pub use suppress::{Suppression, SuppressionSet};

use crate::event::{AgentType, CallRow, Outcome};
use crate::signal::{AttackTag, Feature, Score, Signals};
use rustc_hash::FxHashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
/// Where a finding is in its life, as OCSF's `activity_id` says it.
pub enum FindingActivity {
    /// The first finding of an episode.
    Create,
    /// A later call in the same episode raised it again.
    Update,
    /// The episode went quiet (`episode_quiet_minutes` without a
    /// finding-level call): the finding is closed.
    Close,
    /// A finding-level call within `episode_reopen_minutes` of the Close:
    /// the same finding raised again (OCSF has no such activity, so it goes
    /// out as an Update, back In Progress, saying it was reopened). An
    /// incident's tail, or an intruder back after a pause, is one finding
    /// for the analyst who has it, not a new one.
    Reopen,
}

/// Why a feature contributed: observed vs expected, and its surprise.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contribution {
    /// The feature (detector signal) that was surprising.
    pub feature: Feature,
    /// How surprising, in bits (`-log2 p`).
    pub surprise: f32,
    /// What was observed (a rate, a count, a share).
    pub observed: f64,
    /// What the agent's baseline expected instead.
    pub expected: f64,
    /// The new value, for novelty features.
    pub value: Option<String>,
}

/// The call that triggered a decision, as evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// The call's `event_id`, when the source had one.
    pub event_id: Option<String>,
    /// When the call was made (ms since the Unix epoch, UTC).
    pub ts_ms: i64,
    /// The action called, e.g. `s3:GetObject` or `tools/call`.
    pub action: String,
    /// The resource acted on, when known.
    pub resource: Option<String>,
    /// The caller's address, when known.
    pub src_ip: Option<String>,
    /// The caller's user agent, when known.
    pub user_agent: Option<String>,
    /// The identity this agent acted for, when delegated.
    pub parent_id: Option<String>,
    /// Whether the call succeeded, was denied or failed.
    pub outcome: Outcome,
    /// Source-specific pass-through data kept from the record.
    pub extra: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
/// A finding: an agent behaving unlike its baseline, with the evidence.
/// Rendered as an OCSF Detection Finding.
pub struct Finding {
    /// Stable id of the episode's finding; every Update carries the same one.
    pub uid: String,
    /// 0 for the Create, then 1, 2, ... for each Update.
    pub seq: u32,
    /// Create, Update or Close.
    pub activity: FindingActivity,
    /// When it was decided (the triggering call's time, ms since the epoch).
    pub time_ms: i64,
    /// When the episode's first finding-level call was made.
    pub first_seen_ms: i64,
    /// The agent (non-human identity) it is about.
    pub agent_id: String,
    /// What kind of identity that is.
    pub agent_type: AgentType,
    /// The agent's tenant, when known.
    pub tenant: Option<String>,
    /// The session (token) of the triggering call, when known.
    pub session_id: Option<String>,
    /// The cohort whose priors the agent's baseline was judged against.
    pub cohort: String,
    /// Risk 0-100 of the triggering event; never rewritten after emission.
    pub risk: u8,
    /// The features that drove the risk, strongest first.
    pub contributions: Vec<Contribution>,
    /// The call that triggered it.
    pub trigger: Evidence,
    /// Other calls of the episode, most recent last (bounded).
    pub related_event_ids: Vec<String>,
    /// MITRE ATT&CK techniques the evidence supports (the triggering
    /// call's catalogued action), as OCSF `attacks[]`.
    pub attacks: Vec<AttackTag>,
}

impl Finding {
    /// The detector that leads the finding, the first contribution (they
    /// are ordered by surprise, most first); "none" without any. A bounded
    /// label for metrics and evaluation tallies.
    pub fn lead_detector(&self) -> &'static str {
        self.contributions
            .first()
            .map_or("none", |c| c.feature.name())
    }
}

#[derive(Debug, Clone, PartialEq)]
/// A revocation: cut a credential or session off. Rendered as an OpenID
/// CAEP `session-revoked` Security Event Token.
pub struct Revocation {
    /// Stable id of this revocation.
    pub uid: String,
    /// The finding that justified it.
    pub finding_uid: String,
    /// When it was decided (ms since the epoch).
    pub time_ms: i64,
    /// The agent whose credential or session is revoked.
    pub agent_id: String,
    /// What kind of identity that is.
    pub agent_type: AgentType,
    /// The agent's tenant, when known.
    pub tenant: Option<String>,
    /// The session (token) to revoke; `None` means the agent's credential.
    pub session_id: Option<String>,
    /// Risk 0-100 of the finding that justified it.
    pub risk: u8,
    /// Why, in words a responder reads in the SET.
    pub reason: String,
    /// Decided in shadow mode: to be watched, not enforced.
    pub shadow: bool,
}

#[derive(Debug, Clone, PartialEq)]
/// What the decider concluded about one call.
pub enum Decision {
    /// A finding was created, updated or closed.
    Finding(Box<Finding>),
    /// A credential or session is to be revoked.
    Revocation(Revocation),
    /// A finding that suppressions covered: recorded (OCSF status
    /// Suppressed), never raised as new, never revoking.
    Suppressed(Box<SuppressedFinding>),
    /// A call that satisfied a guardrail policy's rule: a finding of its
    /// own kind, explained by the rule, whatever the baseline says.
    Violation(Box<Violation>),
}

/// A guardrail policy violation: the call as evidence, and the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The finding (`wdn-p-…`, one per violating call and rule).
    pub finding: Finding,
    /// The rule the call satisfied.
    pub rule: std::sync::Arc<policy::Rule>,
}

/// A finding the suppressions in force covered, with the ones that did.
#[derive(Debug, Clone, PartialEq)]
pub struct SuppressedFinding {
    /// The finding as it would have been raised (its own uid, `wdn-s-…`).
    pub finding: Finding,
    /// The suppressions that covered its evidence, in id order.
    pub by: Vec<std::sync::Arc<Suppression>>,
}

/// Everything the decider needs to know about the agent and event.
pub(crate) struct DecisionInput<'a> {
    pub agent_idx: u32,
    pub agent_id: &'a str,
    pub cohort: &'a str,
    pub row: &'a CallRow<'a>,
    pub signals: &'a Signals,
    pub score: &'a Score,
    pub evidence_ids: &'a [String],
}

pub(crate) struct Decider {
    cfg: DecisionConfig,
    episodes: FxHashMap<u32, Episode>,
    /// Per agent, the last call recorded as suppressed: one record per run
    /// of suppressed calls (a run ends after `episode_quiet_minutes`), not
    /// one per call. Not checkpointed: a partition's new owner may record
    /// a run once more.
    suppressed_runs: FxHashMap<u32, i64>,
    /// Per agent, what violations revoked in its current run of them (a
    /// run ends after `episode_quiet_minutes` without one): each session
    /// once, the credential once. Not checkpointed.
    violation_runs: FxHashMap<u32, ViolationRun>,
}

/// The time of an agent's last violation and the targets (sessions, or
/// `None` for the credential) its violations revoked since its run began.
type ViolationRun = (i64, Vec<Option<Box<str>>>);

fn stable_uid(prefix: &str, parts: &[&str]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0xff]);
    }
    format!("{prefix}-{:032x}", h.digest128())
}

impl Decider {
    pub fn new(cfg: DecisionConfig) -> Self {
        Decider {
            cfg,
            episodes: FxHashMap::default(),
            suppressed_runs: FxHashMap::default(),
            violation_runs: FxHashMap::default(),
        }
    }

    /// The agent's state was evicted: its episode goes with it.
    pub(crate) fn forget(&mut self, agent_idx: u32) {
        self.episodes.remove(&agent_idx);
        self.suppressed_runs.remove(&agent_idx);
        self.violation_runs.remove(&agent_idx);
    }

    /// A call that violated `rule`: a finding for it, and, when the rule
    /// says so and revocation is not off, a revocation of the call's
    /// session (or the credential), once per run of violations.
    pub(crate) fn violation(
        &mut self,
        inp: &DecisionInput<'_>,
        rule: &std::sync::Arc<policy::Rule>,
        out: &mut Vec<Decision>,
    ) {
        let row = inp.row;
        let ts = row.ts_ms;
        let ts_s = ts.to_string();
        let run = Episode::of_one_call(
            stable_uid(
                "wdn-p",
                &[&rule.id, inp.agent_id, &ts_s, row.event_id.unwrap_or("")],
            ),
            ts,
            inp.score.risk,
        );
        let risk = inp.score.risk.round().clamp(0.0, 100.0) as u8;
        let mut finding = build_finding(inp, &run, FindingActivity::Create, risk);
        // The rule explains it; the behavioural evidence of the call is
        // not what raised it.
        finding.contributions.clear();
        let finding_uid = finding.uid.clone();
        out.push(Decision::Violation(Box::new(Violation {
            finding,
            rule: rule.clone(),
        })));
        if !rule.revoke || self.cfg.revoke == RevokeMode::Off {
            return;
        }
        let quiet_ms = self.quiet_ms();
        let (last, revoked) = self
            .violation_runs
            .entry(inp.agent_idx)
            .or_insert((ts, Vec::new()));
        if ts - *last >= quiet_ms {
            revoked.clear();
        }
        *last = (*last).max(ts);
        let mut target: Option<Box<str>> = row.session_id.map(Into::into);
        if target.is_some() && revoked.len() >= MAX_REVOKED_SESSIONS {
            target = None;
        }
        if revoked.contains(&target) {
            return;
        }
        revoked.push(target.clone());
        let reason = format!(
            "guardrail policy {} ({}) violated at {ts_s} by {} ({})",
            rule.id, rule.description, row.action, rule.source
        );
        let shadow = self.cfg.revoke == RevokeMode::Shadow;
        out.push(Decision::Revocation(revocation(
            inp,
            &finding_uid,
            target,
            risk,
            reason,
            shadow,
        )));
    }

    /// A call whose finding-level evidence suppressions covered: recorded
    /// as a suppressed finding when it starts a run of such calls. It
    /// neither opens, updates nor revokes an episode.
    pub(crate) fn suppressed(
        &mut self,
        inp: &DecisionInput<'_>,
        by: Vec<std::sync::Arc<Suppression>>,
        out: &mut Vec<Decision>,
    ) {
        let ts = inp.row.ts_ms;
        let quiet_ms = self.quiet_ms();
        if let Some(last) = self.suppressed_runs.get_mut(&inp.agent_idx) {
            if ts - *last < quiet_ms {
                *last = (*last).max(ts);
                return;
            }
        }
        self.suppressed_runs.insert(inp.agent_idx, ts);
        let ts_s = ts.to_string();
        let run = Episode::of_one_call(
            stable_uid(
                "wdn-s",
                &[inp.agent_id, &ts_s, inp.row.event_id.unwrap_or("")],
            ),
            ts,
            inp.score.risk,
        );
        let risk = inp.score.risk.round().clamp(0.0, 100.0) as u8;
        let finding = build_finding(inp, &run, FindingActivity::Create, risk);
        out.push(Decision::Suppressed(Box::new(SuppressedFinding {
            finding,
            by,
        })));
    }

    /// The agent's episode, open or closed lately, if any (for its state
    /// snapshot).
    pub fn episode(&self, agent_idx: u32) -> Option<&Episode> {
        self.episodes.get(&agent_idx)
    }

    /// Reinstates an episode restored from a snapshot.
    pub(crate) fn restore_episode(&mut self, agent_idx: u32, episode: Episode) {
        self.episodes.insert(agent_idx, episode);
    }

    /// Episodes not closed yet.
    #[cfg(test)]
    pub(crate) fn open_episodes(&self) -> usize {
        self.episodes.values().filter(|e| !e.is_closed()).count()
    }

    /// Whether any episode is kept, open or closed lately (the minute's
    /// sweep has work to do).
    pub(crate) fn has_episodes(&self) -> bool {
        !self.episodes.is_empty()
    }

    fn quiet_ms(&self) -> i64 {
        self.cfg.episode_quiet_minutes as i64 * 60_000
    }

    /// Past the quiet time, then past the reopening time after it.
    fn forget_ms(&self) -> i64 {
        self.quiet_ms() + self.cfg.episode_reopen_minutes as i64 * 60_000
    }

    /// Notes where the agent's call at `ts` stood against the shared clock
    /// (`now`, the watermark). Calls reach the engine from several
    /// producers and partitions, and one of them can run hours behind the
    /// others (a shipper catching up on a backlog, a partition a new owner
    /// resumes). The shared clock follows the majority, so without this a
    /// lagging agent's episode would be closed as quiet while its calls
    /// are still arriving, and its next call would open a new finding and
    /// revoke again. Called after the call was decided on.
    pub(crate) fn note_clock(&mut self, agent_idx: u32, ts: i64, now: Option<i64>) {
        if let Some(ep) = self.episodes.get_mut(&agent_idx) {
            ep.lag_ms = now.map_or(0, |now| now.saturating_sub(ts).clamp(0, MAX_LAG_MS));
        }
    }

    /// Closes every episode quiet at `now_ms` (Close findings, in uid
    /// order), each on its agent's own time: `now_ms` less the agent's lag;
    /// forgets the closed ones whose time to be reopened is over.
    pub(crate) fn close_quiet(&mut self, now_ms: i64, out: &mut Vec<Decision>) {
        let (quiet_ms, forget_ms) = (self.quiet_ms(), self.forget_ms());
        let minute = |e: &Episode| (now_ms - e.lag_ms).div_euclid(60_000);
        let mut quiet: Vec<u32> = self
            .episodes
            .iter()
            .filter(|(_, e)| !e.is_closed() && minute(e) >= e.quiet_from_minute(quiet_ms))
            .map(|(i, _)| *i)
            .collect();
        quiet.sort_by(|a, b| self.episodes[a].uid.cmp(&self.episodes[b].uid));
        for i in quiet {
            if let Some(f) = self.episodes.get_mut(&i).and_then(|e| e.close(quiet_ms)) {
                out.push(Decision::Finding(Box::new(f)));
            }
        }
        self.episodes
            .retain(|_, e| !e.is_closed() || minute(e) < e.quiet_from_minute(forget_ms));
    }

    pub fn decide(&mut self, inp: &DecisionInput<'_>, out: &mut Vec<Decision>) {
        let row = inp.row;
        let ts = row.ts_ms;
        let minute = ts.div_euclid(60_000);
        let (quiet_ms, forget_ms) = (self.quiet_ms(), self.forget_ms());
        if let Some(e) = self.episodes.get_mut(&inp.agent_idx) {
            if !e.is_closed() && minute >= e.quiet_from_minute(quiet_ms) {
                if let Some(f) = e.close(quiet_ms) {
                    out.push(Decision::Finding(Box::new(f)));
                }
            }
            if e.is_closed() && minute >= e.quiet_from_minute(forget_ms) {
                self.episodes.remove(&inp.agent_idx);
            }
        }
        let score = inp.score;
        if score.risk < self.cfg.finding_threshold {
            return;
        }
        let risk = score.risk.round() as u8;
        let mask = score.feature_mask();
        let (episode, activity) = match self.episodes.entry(inp.agent_idx) {
            std::collections::hash_map::Entry::Vacant(v) => {
                let ts_s = ts.to_string();
                let uid = stable_uid("wdn-f", &[inp.agent_id, &ts_s, row.event_id.unwrap_or("")]);
                let ep = v.insert(Episode::open(uid, ts, score.risk, mask));
                (ep, Some(FindingActivity::Create))
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let ep = o.into_mut();
                let act = if ep.is_closed() {
                    // Raised again within the reopening time: always said,
                    // whatever the risk, since the analyst was told it ended.
                    Some(FindingActivity::Reopen)
                } else {
                    let rises = score.risk >= ep.max_risk + self.cfg.update_min_risk_delta;
                    let new_features = mask & !ep.features != 0;
                    let due =
                        ts - ep.last_emit_ts >= self.cfg.update_min_interval_seconds as i64 * 1000;
                    ((rises || new_features) && due).then_some(FindingActivity::Update)
                };
                ep.last_hit_ts = ep.last_hit_ts.max(ts);
                if act.is_some() {
                    ep.seq += 1;
                    ep.last_emit_ts = ts;
                    ep.features |= mask;
                    ep.max_risk = ep.max_risk.max(score.risk);
                }
                (ep, act)
            }
        };
        if let Some(activity) = activity {
            let f = Box::new(build_finding(inp, episode, activity, risk));
            episode.last = Some(f.clone());
            out.push(Decision::Finding(f));
        }
        let revoke = self.cfg.revoke != RevokeMode::Off
            && score.risk >= self.cfg.revoke_threshold
            && score.high_confidence;
        let mut target: Option<Box<str>> = row.session_id.map(Into::into);
        let mut escalated = false;
        if revoke && target.is_some() && episode.revoked.len() >= MAX_REVOKED_SESSIONS {
            // An identity minting session after session: past the bound,
            // cut the credential itself (once) rather than chase sessions.
            escalated = !episode.revoked.contains(&target);
            if escalated {
                target = None;
            }
        }
        if revoke && !episode.revoked.contains(&target) {
            episode.revoked.push(target.clone());
            let ts_s = ts.to_string();
            let reason = if escalated {
                format!(
                    "risk {risk} at {}: {}; {MAX_REVOKED_SESSIONS} sessions already revoked in \
                     this episode, so the credential is revoked",
                    ts_s,
                    explain(score)
                )
            } else {
                format!("risk {risk} at {}: {}", ts_s, explain(score))
            };
            let shadow = self.cfg.revoke == RevokeMode::Shadow;
            out.push(Decision::Revocation(revocation(
                inp,
                &episode.uid,
                target,
                risk,
                reason,
                shadow,
            )));
        }
    }
}

/// A revocation of `target` (a session; `None`: the credential) on the
/// call `inp`, justified by the finding `finding_uid`. Its uid is stable
/// per finding and target, so a receiver can tell a repeat.
fn revocation(
    inp: &DecisionInput<'_>,
    finding_uid: &str,
    target: Option<Box<str>>,
    risk: u8,
    reason: String,
    shadow: bool,
) -> Revocation {
    let row = inp.row;
    Revocation {
        uid: stable_uid("wdn-r", &[finding_uid, target.as_deref().unwrap_or("")]),
        finding_uid: finding_uid.to_string(),
        time_ms: row.ts_ms,
        agent_id: inp.agent_id.to_string(),
        agent_type: row.agent_type,
        tenant: row.tenant.map(String::from),
        session_id: target.map(String::from),
        risk,
        reason,
        shadow,
    }
}

/// Sessions revoked one by one in an episode before the credential itself
/// is: bounds the episode's memory (an attacker can mint sessions freely)
/// and answers session rotation with the stronger cut.
const MAX_REVOKED_SESSIONS: usize = 16;

fn explain(score: &Score) -> String {
    score
        .contributions()
        .map(|(f, s)| format!("{} ({s:.1} bits)", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn build_finding(
    inp: &DecisionInput<'_>,
    ep: &Episode,
    activity: FindingActivity,
    risk: u8,
) -> Finding {
    let row = inp.row;
    let contributions = inp
        .score
        .contributions()
        .map(|(f, s)| Contribution {
            feature: f,
            surprise: s,
            observed: inp.signals.observed[f.index()],
            expected: inp.signals.expected[f.index()],
            value: inp.signals.novel_value[f.index()]
                .as_deref()
                .map(String::from),
        })
        .collect();
    let own = row.event_id.map(String::from);
    let mut related: Vec<String> = inp.evidence_ids.to_vec();
    if let Some(id) = &own {
        if !related.contains(id) {
            related.push(id.clone());
        }
    }
    Finding {
        uid: ep.uid.clone(),
        seq: ep.seq,
        activity,
        time_ms: row.ts_ms,
        first_seen_ms: ep.first_ts,
        agent_id: inp.agent_id.to_string(),
        agent_type: row.agent_type,
        tenant: row.tenant.map(String::from),
        session_id: row.session_id.map(String::from),
        cohort: inp.cohort.to_string(),
        risk,
        contributions,
        trigger: Evidence {
            event_id: own,
            ts_ms: row.ts_ms,
            action: row.action.to_string(),
            resource: row.resource.map(String::from),
            src_ip: row.src_ip.map(String::from),
            user_agent: row.user_agent.map(String::from),
            parent_id: row.parent_id.map(String::from),
            outcome: row.outcome,
            extra: row.extra.map(String::from),
        },
        related_event_ids: related,
        attacks: inp.signals.attack.iter().cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::{combine, Weights};

    /// Two independent groups of strong evidence: confident enough to revoke.
    fn strong_evidence() -> (Signals, Score) {
        let mut signals = Signals::default();
        signals.set(Feature::NovelAction, 30.0, 1.0, 0.0);
        signals.set(Feature::FailedCalls, 30.0, 10.0, 0.0);
        let score = combine(&signals, &Weights::default());
        (signals, score)
    }

    fn input_of<'a>(
        row: &'a CallRow<'a>,
        signals: &'a Signals,
        score: &'a Score,
    ) -> DecisionInput<'a> {
        DecisionInput {
            agent_idx: 0,
            agent_id: "svc",
            cohort: "c",
            row,
            signals,
            score,
            evidence_ids: &[],
        }
    }

    #[test]
    fn revoked_sessions_are_bounded_and_then_the_credential_is_revoked() {
        let mut d = Decider::new(DecisionConfig {
            revoke: RevokeMode::Enforce,
            ..DecisionConfig::default()
        });
        let (signals, score) = strong_evidence();
        assert!(score.high_confidence && score.risk >= 99.0);
        let sessions: Vec<String> = (0..40).map(|i| format!("tok-{i}")).collect();
        let mut out = Vec::new();
        for (i, s) in sessions.iter().enumerate() {
            let row = CallRow {
                ts_ms: 1_000 + i as i64,
                agent_id: "svc",
                action: "iam:CreateAccessKey",
                session_id: Some(s),
                ..CallRow::default()
            };
            d.decide(&input_of(&row, &signals, &score), &mut out);
        }
        let revoked: Vec<Option<&str>> = out
            .iter()
            .filter_map(|d| match d {
                Decision::Revocation(r) => Some(r.session_id.as_deref()),
                _ => None,
            })
            .collect();
        assert_eq!(revoked.len(), MAX_REVOKED_SESSIONS + 1, "{revoked:?}");
        assert!(revoked[..MAX_REVOKED_SESSIONS].iter().all(Option::is_some));
        assert_eq!(revoked[MAX_REVOKED_SESSIONS], None, "then the credential");
        assert!(d.episode(0).unwrap().revoked.len() <= MAX_REVOKED_SESSIONS + 1);
    }

    /// An agent whose calls run two hours behind the shared clock (another
    /// producer is ahead) keeps its episode open while its calls arrive;
    /// the sweep closes it once the agent, on its own time, went quiet.
    #[test]
    fn a_lagging_agents_episode_is_closed_on_its_own_time() {
        let mut d = Decider::new(DecisionConfig::default());
        let quiet_ms = DecisionConfig::default().episode_quiet_minutes as i64 * 60_000;
        let (signals, score) = strong_evidence();
        let lag = 2 * 3_600_000;
        let t0 = 1_000_000_000;
        let row = CallRow {
            ts_ms: t0,
            agent_id: "svc",
            action: "iam:CreateAccessKey",
            ..CallRow::default()
        };
        let mut out = Vec::new();
        let input = input_of(&row, &signals, &score);
        d.decide(&input, &mut out);
        d.note_clock(0, t0, Some(t0 + lag));
        assert_eq!(d.open_episodes(), 1);
        // The clock is past the agent's quiet time, the agent is not.
        out.clear();
        d.close_quiet(t0 + lag + 60_000, &mut out);
        assert!(out.is_empty() && d.open_episodes() == 1, "{out:?}");
        // On its own time, it went quiet.
        d.close_quiet(t0 + lag + quiet_ms + 120_000, &mut out);
        assert_eq!(d.open_episodes(), 0);
        assert!(matches!(&out[..], [Decision::Finding(f)] if f.activity == FindingActivity::Close));
        // An agent on time is closed by the clock as before; a stamp a
        // week in the past postpones it by a day at most.
        for (stamp_lag, closed_at) in [
            (0, quiet_ms + 120_000),
            (7 * 86_400_000, MAX_LAG_MS + quiet_ms + 120_000),
        ] {
            let mut d = Decider::new(DecisionConfig::default());
            d.decide(&input, &mut out);
            d.note_clock(0, t0, Some(t0 + stamp_lag));
            out.clear();
            d.close_quiet(t0 + closed_at - 180_000, &mut out);
            assert_eq!(d.open_episodes(), 1, "lag {stamp_lag}");
            d.close_quiet(t0 + closed_at, &mut out);
            assert_eq!(d.open_episodes(), 0, "lag {stamp_lag}");
        }
    }

    fn call<'a>(ts_ms: i64, session: &'a str) -> CallRow<'a> {
        CallRow {
            ts_ms,
            agent_id: "svc",
            action: "iam:CreateAccessKey",
            session_id: Some(session),
            ..CallRow::default()
        }
    }

    fn decided(d: &mut Decider, row: &CallRow<'_>) -> Vec<Decision> {
        let (signals, score) = strong_evidence();
        let mut out = Vec::new();
        d.decide(&input_of(row, &signals, &score), &mut out);
        out
    }

    fn findings(out: &[Decision]) -> Vec<(FindingActivity, &str, u32)> {
        out.iter()
            .filter_map(|d| match d {
                Decision::Finding(f) => Some((f.activity, f.uid.as_str(), f.seq)),
                _ => None,
            })
            .collect()
    }

    fn revoked_sessions(out: &[Decision]) -> Vec<Option<&str>> {
        out.iter()
            .filter_map(|d| match d {
                Decision::Revocation(r) => Some(r.session_id.as_deref()),
                _ => None,
            })
            .collect()
    }

    /// An agent acting up again within the reopening time after its
    /// finding's Close reopens that finding (same uid, the sequence going
    /// on), whether the sweep closed it or its own next call did; a
    /// session already revoked in the incident is not revoked again, a new
    /// one is.
    #[test]
    fn a_finding_raised_again_soon_after_its_close_is_reopened() {
        let cfg = DecisionConfig::default();
        let quiet = cfg.episode_quiet_minutes as i64 * 60_000;
        let reopen = cfg.episode_reopen_minutes as i64 * 60_000;
        assert!(reopen > 0);
        let t0 = 1_000_000_020_000;
        for swept in [true, false] {
            let mut d = Decider::new(cfg.clone());
            let first = decided(&mut d, &call(t0, "tok-1"));
            let uid = findings(&first)[0].1.to_string();
            assert_eq!(findings(&first), [(FindingActivity::Create, &*uid, 0)]);
            assert_eq!(revoked_sessions(&first), [Some("tok-1")]);
            let mut out = Vec::new();
            if swept {
                d.close_quiet(t0 + quiet + 60_000, &mut out);
                assert_eq!(findings(&out), [(FindingActivity::Close, &*uid, 1)]);
                assert_eq!(d.open_episodes(), 0);
                assert!(d.has_episodes(), "kept to be reopened");
                out.clear();
            }
            let back = t0 + quiet + reopen - 120_000;
            out.extend(decided(&mut d, &call(back, "tok-1")));
            assert_eq!(
                findings(&out),
                if swept {
                    vec![(FindingActivity::Reopen, &*uid, 2)]
                } else {
                    vec![
                        (FindingActivity::Close, &*uid, 1),
                        (FindingActivity::Reopen, &*uid, 2),
                    ]
                },
                "swept: {swept}"
            );
            assert!(revoked_sessions(&out).is_empty(), "tok-1 was revoked");
            let other = decided(&mut d, &call(back + 1_000, "tok-2"));
            assert_eq!(revoked_sessions(&other), [Some("tok-2")]);
            assert_eq!(d.open_episodes(), 1);
            // It closes again, one record on.
            out.clear();
            d.close_quiet(back + quiet + 120_000, &mut out);
            assert_eq!(findings(&out), [(FindingActivity::Close, &*uid, 3)]);
        }
    }

    /// Past the reopening time the closed episode is forgotten (by the
    /// sweep, or by the agent's next call) and a new finding is created;
    /// with no reopening time, a closed episode is not kept at all, as
    /// before reopening existed.
    #[test]
    fn past_the_reopening_time_a_new_finding_is_created() {
        let t0 = 1_000_000_020_000;
        for reopen_minutes in [30, 0] {
            let cfg = DecisionConfig {
                episode_reopen_minutes: reopen_minutes,
                ..DecisionConfig::default()
            };
            let quiet = cfg.episode_quiet_minutes as i64 * 60_000;
            let reopen = reopen_minutes as i64 * 60_000;
            for swept in [true, false] {
                let mut d = Decider::new(cfg.clone());
                let first = decided(&mut d, &call(t0, "tok-1"));
                let uid = findings(&first)[0].1.to_string();
                let mut out = Vec::new();
                if swept {
                    d.close_quiet(t0 + quiet + 60_000, &mut out);
                    assert_eq!(d.has_episodes(), reopen > 0);
                    d.close_quiet(t0 + quiet + reopen + 60_000, &mut out);
                    assert!(!d.has_episodes(), "forgotten");
                }
                out.extend(decided(
                    &mut d,
                    &call(t0 + quiet + reopen + 60_000, "tok-1"),
                ));
                let f = findings(&out);
                assert_eq!(f[0], (FindingActivity::Close, &*uid, 1), "{f:?}");
                assert_eq!(f[1].0, FindingActivity::Create);
                assert_ne!(f[1].1, uid, "a new finding");
                assert_eq!(revoked_sessions(&out), [Some("tok-1")], "a new incident");
            }
        }
    }
}
