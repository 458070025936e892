//! Replay evaluation against labelled input.
//!
//! An attack episode is a run of one agent's events carrying one scenario
//! label, split where the gap between them exceeds 30 minutes (benign events
//! of the same agent in between do not split it). It is detected when a new
//! finding (Create) for that agent falls in [start - 1 min, end + 5 min];
//! the delay is that finding's time minus the episode start (floored at 0).
//! Any other new finding is false. A closed finding reopened
//! (`episode_reopen_minutes`) is not a new finding: it neither detects an
//! episode nor counts as false, and is counted apart, with those outside
//! every attack window (an incident's tail) named. Any revocation outside
//! every attack window of its agent is wrongful. Agent-days are distinct
//! (agent, UTC day) pairs with at least one event.
//!
//! Cold start: an agent whose first call comes at least `LATE_AGENT_MS`
//! after the input's first call joined a fleet whose baselines had formed
//! (as a new agent does in a running deployment). Its first
//! `COLD_WINDOW_MS` are its cold start; the report gives recall and false
//! findings there apart.

use crate::decide::{Decision, FindingActivity};
use crate::event::CallRow;
use crate::keyed::KeyedMap;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::collections::BTreeMap;

pub(crate) const EPISODE_GAP_MS: i64 = 30 * 60_000;
pub(crate) const WINDOW_BEFORE_MS: i64 = 60_000;
pub(crate) const WINDOW_AFTER_MS: i64 = 5 * 60_000;
const DAY_MS: i64 = 86_400_000;
pub(crate) const LATE_AGENT_MS: i64 = 6 * 3_600_000;
pub(crate) const COLD_WINDOW_MS: i64 = DAY_MS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttackEpisode {
    pub agent: u32,
    pub scenario: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub events: u64,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Evaluator {
    /// Keyed hashing: ids are written by callers (`keyed`).
    agents: KeyedMap<Box<str>, u32>,
    agent_names: Vec<Box<str>>,
    open: FxHashMap<(u32, Box<str>), AttackEpisode>,
    closed: Vec<AttackEpisode>,
    agent_days: FxHashSet<(u32, i64)>,
    created: Vec<(u32, i64, &'static str)>,
    /// Closed findings raised again: agent, time.
    reopened: Vec<(u32, i64)>,
    revocations: Vec<(u32, i64)>,
    labelled_events: u64,
    events: u64,
    /// Each agent's first call (by index), and the input's.
    first_ts: Vec<i64>,
    input_first_ts: Option<i64>,
}

/// Detection and false findings in new agents' first day.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColdStartReport {
    /// Agents that joined at least 6 h after the input began.
    pub agents: u64,
    /// Agent-days those agents had in their first 24 h.
    pub agent_days: u64,
    /// Labelled attack episodes among them.
    pub attack_episodes: u64,
    /// Of those, detected within the detection window.
    pub detected_episodes: u64,
    /// Detected over labelled episodes.
    pub recall: Option<f64>,
    /// Median seconds from an episode's first call to its first finding.
    pub median_delay_s: Option<f64>,
    /// Findings on agents under no attack.
    pub false_findings: u64,
    /// False findings normalised to 1,000 agent-days.
    pub false_findings_per_1000_agent_days: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
/// Detection of one attack scenario.
pub struct ScenarioReport {
    /// The scenario's label (`label` on the calls).
    pub scenario: String,
    /// Labelled episodes of it.
    pub episodes: u64,
    /// Of those, detected within the detection window.
    pub detected: u64,
    /// Detected over episodes.
    pub recall: f64,
    /// Median seconds from an episode's first call to its first finding.
    pub median_delay_s: Option<f64>,
    /// Each detected episode's delay in seconds, shortest first (to pool
    /// delays over several runs).
    pub delays_s: Vec<f64>,
    /// Episodes whose credential was revoked.
    pub revoked: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
/// What a replay found, judged against the labels when the input has them.
pub struct EvalReport {
    /// Calls scored.
    pub events: u64,
    /// Calls carrying an attack label.
    pub labelled_events: u64,
    /// Distinct agents seen.
    pub agents: u64,
    /// Agent-days: each agent counted once per UTC day it called.
    pub agent_days: u64,
    /// Distinct UTC days with events.
    pub days: u64,
    /// Findings created (updates not counted).
    pub findings_created: u64,
    /// Closed findings raised again (`episode_reopen_minutes`).
    #[serde(skip_serializing_if = "crate::offline::is_zero")]
    pub findings_reopened: u64,
    /// Of those, outside every attack window of their agent (an
    /// incident's tail): not new findings, so not false ones, but updates
    /// an analyst sees.
    #[serde(skip_serializing_if = "crate::offline::is_zero")]
    pub reopened_outside_attacks: u64,
    /// Revocations decided (enforced or in shadow).
    pub revocations: u64,
    /// Labelled attack episodes.
    pub attack_episodes: u64,
    /// Of those, detected within the detection window.
    pub detected_episodes: u64,
    /// Detected over labelled episodes; `None` without labels.
    pub recall: Option<f64>,
    /// Median seconds from an episode's first call to its first finding.
    pub median_delay_s: Option<f64>,
    /// Findings created on agents under no attack.
    pub false_findings: u64,
    /// False findings normalised to 1,000 agent-days.
    pub false_findings_per_1000_agent_days: f64,
    /// Revocations of agents under no attack.
    pub wrongful_revocations: u64,
    /// Detection per attack scenario.
    pub scenarios: Vec<ScenarioReport>,
    /// Up to 50 false findings (agent, time) to look at.
    pub false_finding_examples: Vec<(String, i64)>,
    /// False findings by the detector that contributed most.
    pub false_findings_by_detector: BTreeMap<String, u64>,
    /// Detection and false findings in new agents' first day.
    pub cold_start: ColdStartReport,
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

impl Evaluator {
    fn agent(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.agents.get(id) {
            return i;
        }
        let i = self.agent_names.len() as u32;
        self.agents.insert(id.into(), i);
        self.agent_names.push(id.into());
        self.first_ts.push(i64::MAX);
        i
    }

    pub(crate) fn observe_row(&mut self, row: &CallRow<'_>) {
        self.events += 1;
        let a = self.agent(row.agent_id);
        self.agent_days.insert((a, row.ts_ms.div_euclid(DAY_MS)));
        let first = &mut self.first_ts[a as usize];
        *first = (*first).min(row.ts_ms);
        self.input_first_ts = Some(self.input_first_ts.map_or(row.ts_ms, |t| t.min(row.ts_ms)));
        let Some(label) = row.label else { return };
        self.labelled_events += 1;
        let key = (a, Box::<str>::from(label));
        match self.open.get_mut(&key) {
            Some(ep) if row.ts_ms - ep.end_ms <= EPISODE_GAP_MS => {
                ep.end_ms = ep.end_ms.max(row.ts_ms);
                ep.events += 1;
            }
            _ => {
                let fresh = AttackEpisode {
                    agent: a,
                    scenario: label.to_string(),
                    start_ms: row.ts_ms,
                    end_ms: row.ts_ms,
                    events: 1,
                };
                if let Some(old) = self.open.insert(key, fresh) {
                    self.closed.push(old);
                }
            }
        }
    }

    pub(crate) fn observe_decision(&mut self, row: &CallRow<'_>, d: &Decision) {
        match d {
            Decision::Finding(f) if f.seq == 0 => {
                let lead = f.lead_detector();
                self.add_created(row.agent_id, f.time_ms, lead)
            }
            Decision::Finding(f) if f.activity == FindingActivity::Reopen => {
                self.add_reopened(row.agent_id, f.time_ms)
            }
            // A guardrail violation is raised like a finding: it detects an
            // attack, or is a false one on a benign call.
            Decision::Violation(v) => {
                self.add_created(row.agent_id, v.finding.time_ms, "guardrail_policy")
            }
            // Suppressed: not raised, so neither a detection nor a false one.
            Decision::Finding(_) | Decision::Suppressed(_) => {}
            Decision::Revocation(r) => self.add_revocation(row.agent_id, r.time_ms),
        }
    }

    /// A new finding (Create) for `agent_id`, led by detector `lead`.
    pub(crate) fn add_created(&mut self, agent_id: &str, time_ms: i64, lead: &'static str) {
        let a = self.agent(agent_id);
        self.created.push((a, time_ms, lead));
    }

    /// A closed finding of `agent_id` raised again.
    pub(crate) fn add_reopened(&mut self, agent_id: &str, time_ms: i64) {
        let a = self.agent(agent_id);
        self.reopened.push((a, time_ms));
    }

    pub(crate) fn add_revocation(&mut self, agent_id: &str, time_ms: i64) {
        let a = self.agent(agent_id);
        self.revocations.push((a, time_ms));
    }

    /// The same rows and labels with no decisions yet (`warden tune`
    /// evaluates many sets of decisions against one pass over the input).
    pub(crate) fn without_decisions(&self) -> Evaluator {
        let mut e = self.clone();
        e.created.clear();
        e.reopened.clear();
        e.revocations.clear();
        e
    }

    pub fn finish(mut self) -> EvalReport {
        let mut episodes: Vec<AttackEpisode> = std::mem::take(&mut self.closed);
        episodes.extend(self.open.drain().map(|(_, e)| e));
        episodes.sort_by(|a, b| {
            (a.agent, a.start_ms, &a.scenario).cmp(&(b.agent, b.start_ms, &b.scenario))
        });

        let mut windows: FxHashMap<u32, Vec<(i64, i64)>> = FxHashMap::default();
        for e in &episodes {
            windows
                .entry(e.agent)
                .or_default()
                .push((e.start_ms - WINDOW_BEFORE_MS, e.end_ms + WINDOW_AFTER_MS));
        }
        let mut created_by_agent: FxHashMap<u32, Vec<i64>> = FxHashMap::default();
        for &(a, t, _) in &self.created {
            created_by_agent.entry(a).or_default().push(t);
        }
        for v in created_by_agent.values_mut() {
            v.sort_unstable();
        }
        let in_any_window = |a: u32, t: i64| {
            windows
                .get(&a)
                .is_some_and(|w| w.iter().any(|&(s, e)| t >= s && t <= e))
        };

        let mut per: BTreeMap<String, (u64, u64, Vec<f64>, u64)> = BTreeMap::new();
        let mut all_delays = Vec::new();
        let mut detected_total = 0;
        for e in &episodes {
            let entry = per.entry(e.scenario.clone()).or_default();
            entry.0 += 1;
            let (lo, hi) = (e.start_ms - WINDOW_BEFORE_MS, e.end_ms + WINDOW_AFTER_MS);
            let first = created_by_agent
                .get(&e.agent)
                .and_then(|ts| ts.iter().find(|&&t| t >= lo && t <= hi).copied());
            if let Some(t) = first {
                entry.1 += 1;
                detected_total += 1;
                let delay = ((t - e.start_ms).max(0)) as f64 / 1000.0;
                entry.2.push(delay);
                all_delays.push(delay);
            }
            if self
                .revocations
                .iter()
                .any(|&(a, t)| a == e.agent && t >= lo && t <= hi)
            {
                entry.3 += 1;
            }
        }
        let mut false_examples = Vec::new();
        let mut false_findings = 0;
        let mut false_by_detector: BTreeMap<String, u64> = BTreeMap::new();
        for &(a, t, lead) in &self.created {
            if !in_any_window(a, t) {
                false_findings += 1;
                *false_by_detector.entry(lead.to_string()).or_default() += 1;
                if false_examples.len() < 50 {
                    false_examples.push((self.agent_names[a as usize].to_string(), t));
                }
            }
        }
        let cold_start = self.cold_start(&episodes, &created_by_agent, &in_any_window);
        let wrongful = self
            .revocations
            .iter()
            .filter(|&&(a, t)| !in_any_window(a, t))
            .count() as u64;
        let agent_days = self.agent_days.len() as u64;
        let days = self
            .agent_days
            .iter()
            .map(|&(_, d)| d)
            .collect::<FxHashSet<i64>>()
            .len() as u64;
        let scenarios = per
            .into_iter()
            .map(|(scenario, (n, d, mut delays, revoked))| ScenarioReport {
                scenario,
                episodes: n,
                detected: d,
                recall: if n > 0 { d as f64 / n as f64 } else { 0.0 },
                median_delay_s: median(&mut delays),
                delays_s: delays,
                revoked,
            })
            .collect();
        EvalReport {
            events: self.events,
            labelled_events: self.labelled_events,
            agents: self.agent_names.len() as u64,
            agent_days,
            days,
            findings_created: self.created.len() as u64,
            findings_reopened: self.reopened.len() as u64,
            reopened_outside_attacks: self
                .reopened
                .iter()
                .filter(|&&(a, t)| !in_any_window(a, t))
                .count() as u64,
            revocations: self.revocations.len() as u64,
            attack_episodes: episodes.len() as u64,
            detected_episodes: detected_total,
            recall: (!episodes.is_empty()).then(|| detected_total as f64 / episodes.len() as f64),
            median_delay_s: median(&mut all_delays),
            false_findings,
            false_findings_per_1000_agent_days: if agent_days > 0 {
                false_findings as f64 * 1000.0 / agent_days as f64
            } else {
                0.0
            },
            wrongful_revocations: wrongful,
            scenarios,
            false_finding_examples: false_examples,
            false_findings_by_detector: false_by_detector,
            cold_start,
        }
    }

    /// Whether agent `a` joined late, and then the end of its cold start.
    fn cold_until(&self, a: u32) -> Option<i64> {
        let first = self.first_ts.get(a as usize).copied()?;
        let input_first = self.input_first_ts?;
        (first - input_first >= LATE_AGENT_MS).then_some(first + COLD_WINDOW_MS)
    }

    fn cold_start(
        &self,
        episodes: &[AttackEpisode],
        created_by_agent: &FxHashMap<u32, Vec<i64>>,
        in_any_window: &dyn Fn(u32, i64) -> bool,
    ) -> ColdStartReport {
        let is_cold = |a: u32, t: i64| self.cold_until(a).is_some_and(|end| t < end);
        let agents = (0..self.agent_names.len() as u32)
            .filter(|&a| self.cold_until(a).is_some())
            .count() as u64;
        let agent_days = self
            .agent_days
            .iter()
            .filter(|&&(a, d)| {
                self.cold_until(a).is_some_and(|end| {
                    let first = self.first_ts[a as usize];
                    d * DAY_MS < end && (d + 1) * DAY_MS > first
                })
            })
            .count() as u64;
        let (mut n, mut detected, mut delays) = (0, 0, Vec::new());
        for e in episodes.iter().filter(|e| is_cold(e.agent, e.start_ms)) {
            n += 1;
            let (lo, hi) = (e.start_ms - WINDOW_BEFORE_MS, e.end_ms + WINDOW_AFTER_MS);
            if let Some(t) = created_by_agent
                .get(&e.agent)
                .and_then(|ts| ts.iter().find(|&&t| t >= lo && t <= hi))
            {
                detected += 1;
                delays.push(((t - e.start_ms).max(0)) as f64 / 1000.0);
            }
        }
        let false_findings = self
            .created
            .iter()
            .filter(|&&(a, t, _)| is_cold(a, t) && !in_any_window(a, t))
            .count() as u64;
        ColdStartReport {
            agents,
            agent_days,
            attack_episodes: n,
            detected_episodes: detected,
            recall: (n > 0).then(|| detected as f64 / n as f64),
            median_delay_s: median(&mut delays),
            false_findings,
            false_findings_per_1000_agent_days: if agent_days > 0 {
                false_findings as f64 * 1000.0 / agent_days as f64
            } else {
                0.0
            },
        }
    }
}

impl EvalReport {
    /// Human-readable table for the terminal.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "events {}  agents {}  agent-days {}  findings {}  revocations {}\n",
            self.events, self.agents, self.agent_days, self.findings_created, self.revocations
        ));
        if self.attack_episodes == 0 {
            s.push_str("input carries no attack labels: no detection evaluation\n");
            return s;
        }
        s.push_str(&format!(
            "{:<28} {:>8} {:>8} {:>7} {:>12} {:>8}\n",
            "scenario", "episodes", "detected", "recall", "median delay", "revoked"
        ));
        for r in &self.scenarios {
            s.push_str(&format!(
                "{:<28} {:>8} {:>8} {:>7.3} {:>11}s {:>8}\n",
                r.scenario,
                r.episodes,
                r.detected,
                r.recall,
                r.median_delay_s.map_or("-".into(), |d| format!("{d:.0}")),
                r.revoked
            ));
        }
        s.push_str(&format!(
            "{:<28} {:>8} {:>8} {:>7.3} {:>11}s\n",
            "all",
            self.attack_episodes,
            self.detected_episodes,
            self.recall.unwrap_or(0.0),
            self.median_delay_s
                .map_or("-".into(), |d| format!("{d:.0}"))
        ));
        s.push_str(&format!(
            "false findings {} ({:.2} per 1,000 agent-days)  wrongful revocations {}\n",
            self.false_findings, self.false_findings_per_1000_agent_days, self.wrongful_revocations
        ));
        if self.findings_reopened > 0 {
            s.push_str(&format!(
                "findings reopened {} (outside every attack window {})\n",
                self.findings_reopened, self.reopened_outside_attacks
            ));
        }
        let c = &self.cold_start;
        if c.agents > 0 {
            s.push_str(&format!(
                "cold start (first 24 h of {} agents that joined later): {}/{} attacks detected, median delay {}s, {} false findings ({:.2} per 1,000 agent-days)\n",
                c.agents,
                c.detected_episodes,
                c.attack_episodes,
                c.median_delay_s.map_or("-".into(), |d| format!("{d:.0}")),
                c.false_findings,
                c.false_findings_per_1000_agent_days
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{Evidence, Finding, FindingActivity, Revocation};
    use crate::event::{AgentType, Outcome};

    const MIN: i64 = 60_000;
    const DAY: i64 = 86_400_000;

    fn row(agent: &'static str, ts: i64, label: Option<&'static str>) -> CallRow<'static> {
        CallRow {
            ts_ms: ts,
            agent_id: agent,
            action: "x",
            agent_type: AgentType::Unknown,
            session_id: None,
            parent_id: None,
            tenant: None,
            resource: None,
            src_ip: None,
            user_agent: None,
            event_id: None,
            outcome: Outcome::Success,
            status: None,
            latency_ms: None,
            bytes_out: None,
            bytes_in: None,
            label,
            extra: None,
        }
    }

    fn finding(agent: &str, ts: i64, seq: u32) -> Decision {
        Decision::Finding(Box::new(Finding {
            uid: format!("f-{agent}-{ts}"),
            seq,
            activity: if seq == 0 {
                FindingActivity::Create
            } else {
                FindingActivity::Update
            },
            time_ms: ts,
            first_seen_ms: ts,
            agent_id: agent.into(),
            agent_type: AgentType::Unknown,
            tenant: None,
            session_id: None,
            cohort: "c".into(),
            risk: 70,
            contributions: vec![],
            trigger: Evidence {
                event_id: None,
                ts_ms: ts,
                action: "x".into(),
                resource: None,
                src_ip: None,
                user_agent: None,
                parent_id: None,
                outcome: Outcome::Success,
                extra: None,
            },
            related_event_ids: vec![],
            attacks: vec![],
        }))
    }

    fn revocation(agent: &str, ts: i64) -> Decision {
        Decision::Revocation(Revocation {
            uid: "r".into(),
            finding_uid: "f".into(),
            time_ms: ts,
            agent_id: agent.into(),
            agent_type: crate::event::AgentType::Unknown,
            tenant: None,
            session_id: None,
            risk: 90,
            reason: "r".into(),
            shadow: false,
        })
    }

    #[test]
    fn episodes_split_on_gaps_over_30_minutes_but_not_on_benign_events_between() {
        let mut e = Evaluator::default();
        for t in [0, 10 * MIN, 39 * MIN] {
            e.observe_row(&row("a", t, Some("exfil")));
            e.observe_row(&row("a", t + MIN, None));
        }
        // 31 minutes after the last labelled call: a second episode.
        e.observe_row(&row("a", 70 * MIN, Some("exfil")));
        let r = e.finish();
        assert_eq!(r.attack_episodes, 2);
        assert_eq!(r.scenarios[0].episodes, 2);
        assert_eq!(r.detected_episodes, 0);
        assert_eq!(r.recall, Some(0.0));
    }

    #[test]
    fn cold_start_counts_agents_that_joined_late_in_their_first_day() {
        const HOUR: i64 = 3_600_000;
        let mut e = Evaluator::default();
        e.observe_row(&row("old", 0, None));
        // Joined 2 h in: not late. Joined 7 h in: late, cold for 24 h.
        e.observe_row(&row("early", 2 * HOUR, None));
        e.observe_row(&row("new", 7 * HOUR, None));
        for t in [8 * HOUR, 8 * HOUR + MIN] {
            e.observe_row(&row("new", t, Some("stolen_credential")));
            e.observe_row(&row("early", t, Some("stolen_credential")));
        }
        // Labelled again after its cold day: not a cold-start episode.
        e.observe_row(&row("new", 40 * HOUR, Some("exfiltration")));
        e.observe_decision(
            &row("new", 8 * HOUR + MIN, None),
            &finding("new", 8 * HOUR + MIN, 0),
        );
        // False: in the cold day, and after it (only the first counts cold).
        e.observe_decision(&row("new", 20 * HOUR, None), &finding("new", 20 * HOUR, 0));
        e.observe_decision(&row("new", 35 * HOUR, None), &finding("new", 35 * HOUR, 0));
        let c = e.finish().cold_start;
        assert_eq!(c.agents, 1);
        assert_eq!((c.attack_episodes, c.detected_episodes), (1, 1));
        assert_eq!(c.median_delay_s, Some(60.0));
        assert_eq!(c.false_findings, 1);
        // Its first 24 h (7 h to 31 h) touch UTC days 0 and 1.
        assert_eq!(c.agent_days, 2);
    }

    #[test]
    fn detection_window_is_one_minute_before_to_five_after() {
        for (t, detected) in [
            (-MIN, true),
            (-MIN - 1, false),
            (10 * MIN + 5 * MIN, true),
            (10 * MIN + 5 * MIN + 1, false),
        ] {
            let mut e = Evaluator::default();
            e.observe_row(&row("a", 0, Some("probe")));
            e.observe_row(&row("a", 10 * MIN, Some("probe")));
            let r0 = row("a", t, None);
            e.observe_decision(&r0, &finding("a", t, 0));
            let r = e.finish();
            assert_eq!(r.detected_episodes == 1, detected, "finding at {t}");
            assert_eq!(r.false_findings == 1, !detected, "finding at {t}");
        }
    }

    #[test]
    fn updates_do_not_count_and_other_agents_findings_are_false() {
        let mut e = Evaluator::default();
        e.observe_row(&row("a", 0, Some("probe")));
        e.observe_row(&row("b", 0, None));
        e.observe_decision(&row("a", MIN, None), &finding("a", MIN, 1));
        e.observe_decision(&row("b", MIN, None), &finding("b", MIN, 0));
        let r = e.finish();
        assert_eq!(r.detected_episodes, 0, "an update is not a new finding");
        assert_eq!(r.false_findings, 1);
        assert_eq!(r.false_finding_examples, vec![("b".to_string(), MIN)]);
    }

    /// A reopening is not a new finding: it neither detects an attack nor
    /// is a false finding; reopenings are counted apart, with those outside
    /// every attack window.
    #[test]
    fn a_reopening_is_counted_apart_not_as_a_new_finding() {
        let reopened = |agent: &str, t: i64| match finding(agent, t, 2) {
            Decision::Finding(mut f) => {
                f.activity = FindingActivity::Reopen;
                Decision::Finding(f)
            }
            _ => unreachable!(),
        };
        let mut e = Evaluator::default();
        e.observe_row(&row("a", 0, None));
        e.observe_row(&row("a", 100 * MIN, Some("probe")));
        e.observe_row(&row("b", 0, None));
        e.observe_decision(&row("a", 0, None), &reopened("a", 101 * MIN));
        e.observe_decision(&row("b", 0, None), &reopened("b", 50 * MIN));
        let r = e.finish();
        assert_eq!(r.detected_episodes, 0);
        assert_eq!((r.findings_created, r.false_findings), (0, 0));
        assert_eq!((r.findings_reopened, r.reopened_outside_attacks), (2, 1));
        assert!(r
            .render()
            .contains("findings reopened 2 (outside every attack window 1)"));
    }

    #[test]
    fn rates_delays_and_wrongful_revocations() {
        let mut e = Evaluator::default();
        // 4 agents active on 2 days each = 8 agent-days.
        for a in ["a", "b", "c", "d"] {
            e.observe_row(&row(a, 0, None));
            e.observe_row(&row(a, DAY + 1, None));
        }
        e.observe_row(&row("a", 100 * MIN, Some("s1")));
        e.observe_row(&row("b", 100 * MIN, Some("s1")));
        e.observe_row(&row("c", 100 * MIN, Some("s2")));
        e.observe_decision(&row("a", 0, None), &finding("a", 102 * MIN, 0));
        e.observe_decision(&row("b", 0, None), &finding("b", 104 * MIN, 0));
        e.observe_decision(&row("c", 0, None), &revocation("c", 101 * MIN));
        e.observe_decision(&row("d", 0, None), &finding("d", 5, 0));
        e.observe_decision(&row("d", 0, None), &revocation("d", 5));
        let r = e.finish();
        assert_eq!(r.agent_days, 8);
        assert_eq!(r.attack_episodes, 3);
        assert_eq!(r.detected_episodes, 2);
        assert!((r.recall.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.median_delay_s, Some(180.0));
        assert_eq!(r.false_findings, 1);
        assert!((r.false_findings_per_1000_agent_days - 125.0).abs() < 1e-9);
        assert_eq!(r.wrongful_revocations, 1);
        let s2 = r.scenarios.iter().find(|s| s.scenario == "s2").unwrap();
        assert_eq!((s2.detected, s2.revoked), (0, 1));
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
