//! `warden tune`: pick thresholds from evidence, in one pass over the input.
//!
//! The finding threshold also decides what the baselines learn (a flagged
//! call is kept out of them, so an attack does not become normal), so a
//! run at one threshold cannot say exactly what another would find. Each
//! finding threshold swept therefore gets an engine of its own; every
//! window is decoded once and scored by all of them (on every core), so the
//! finding sweep is exact: each row is what `warden replay` at that
//! threshold reports.
//!
//! Revocations do not change what is learned, so the revocation sweep
//! decides again, at each revocation threshold, the calls that reached the
//! decision stage in the chosen threshold's engine (exact too). The
//! per-detector weight sweep re-scores those recorded calls with one
//! weight lowered; it does not re-learn, so it is indicative.

mod model;
mod page;
pub mod render;

pub use page::tune_page;

use crate::config::{Config, DecisionConfig, Weights};
use crate::decide::{Decision, FindingActivity};
use crate::engine::archetype::Archetypes;
use crate::engine::{load_archetypes, Engine, EngineError};
use crate::event::CallColumns;
use crate::input::ReadOptions;
use crate::input::{read_windows, read_windows_ahead, ReadObserver};
use crate::offline::eval::{EvalReport, Evaluator, ScenarioReport};
use crate::offline::replay::ReplayError;
use crate::offline::report::{Timeline, TopAgents};
use crate::signal::RiskHistogram;
use arrow_array::RecordBatch;
use model::HitSet;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone)]
/// What `warden tune` sweeps and the budgets it recommends within.
pub struct TuneOptions {
    /// False findings per 1,000 agent-days the team accepts (labelled input).
    pub false_finding_budget: f64,
    /// Wrongful revocations accepted (labelled input).
    pub wrongful_revocation_budget: u64,
    /// New findings per day the team can triage (unlabelled input).
    pub findings_per_day_budget: Option<f64>,
    /// Finding thresholds (risk 0-100) swept; non-finite values are ignored.
    pub finding_thresholds: Vec<f32>,
    /// Revocation thresholds swept at the chosen finding threshold.
    pub revoke_thresholds: Vec<f32>,
    /// Multiplier tried on each detector's weight, one detector at a time.
    pub weight_factor: f32,
    /// Threads the thresholds' engines are shared out over (each engine
    /// stays on one thread, so the results do not depend on it).
    pub threads: usize,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            false_finding_budget: 1.0,
            wrongful_revocation_budget: 0,
            findings_per_day_budget: None,
            finding_thresholds: vec![40.0, 45.0, 50.0, 55.0, 60.0, 65.0, 70.0, 75.0, 80.0, 90.0],
            revoke_thresholds: vec![60.0, 65.0, 70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 100.0],
            weight_factor: 0.5,
            threads: super::available_cores(),
        }
    }
}

/// One row of the finding-threshold sweep.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FindingRow {
    /// The risk a call needs to raise or update a finding.
    pub finding_threshold: f32,
    /// Findings (created and updated) at this threshold.
    pub findings: u64,
    /// Findings per day of input.
    pub findings_per_day: f64,
    /// Distinct agents with at least one finding.
    pub agents_with_findings: u64,
    /// Labelled attack episodes with a finding inside the detection window.
    pub detected_episodes: u64,
    /// Detected episodes over labelled episodes.
    pub recall: Option<f64>,
    /// Findings that overlap an attack episode, over all findings.
    pub precision: Option<f64>,
    /// Labelled input only (as are recall and precision).
    pub false_findings: Option<u64>,
    /// False findings normalised to 1,000 agent-days of input.
    pub false_findings_per_1000_agent_days: Option<f64>,
    /// Median seconds from an episode's first call to its first finding.
    pub median_delay_s: Option<f64>,
}

/// One row of the revocation-threshold sweep (at the chosen finding
/// threshold).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RevokeRow {
    /// The risk a finding needs to revoke the credential.
    pub revoke_threshold: f32,
    /// Revocations (enforced or in shadow) at this threshold.
    pub revocations: u64,
    /// Labelled input only.
    pub episodes_revoked: Option<u64>,
    /// Revocations of agents under no attack (labelled input only).
    pub wrongful_revocations: Option<u64>,
}

/// A detector down-weighted (at the chosen thresholds).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WeightRow {
    /// The detector (feature group) whose weight was scaled.
    pub detector: String,
    /// The weight it was given.
    pub weight: f32,
    /// Recall with that weight (labelled input only).
    pub recall: Option<f64>,
    /// False findings per 1,000 agent-days with that weight.
    pub false_findings_per_1000_agent_days: Option<f64>,
    /// Wrongful revocations with that weight.
    pub wrongful_revocations: Option<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
/// The thresholds `warden tune` recommends, and why.
pub struct Recommendation {
    /// Recommended `[decision] finding_threshold`.
    pub finding_threshold: f32,
    /// Recommended `[decision] revoke_threshold`.
    pub revoke_threshold: f32,
    /// The budget that decided it, in one sentence.
    pub why: String,
    /// What `warden replay` with these thresholds reports on this input.
    pub figures: EvalSummary,
}

/// The figures a budget is judged on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalSummary {
    /// Findings (created and updated).
    pub findings: u64,
    /// Findings per day of input.
    pub findings_per_day: f64,
    /// Labelled input only (as is recall).
    pub recall: Option<f64>,
    /// False findings normalised to 1,000 agent-days (labelled input only).
    pub false_findings_per_1000_agent_days: Option<f64>,
    /// Revocations of agents under no attack (labelled input only).
    pub wrongful_revocations: Option<u64>,
    /// Median seconds from an episode's first call to its first finding.
    pub median_delay_s: Option<f64>,
    /// Recall per attack scenario (labelled input only).
    pub scenarios: Vec<ScenarioReport>,
}

#[derive(Debug, Clone, Serialize)]
/// What `warden tune` found: the sweeps, the recommendation, and what the
/// HTML report draws.
pub struct TuneReport {
    /// Calls read.
    pub events: u64,
    /// Distinct agents seen.
    pub agents: u64,
    /// Agent-days: each agent counted once per UTC day it called.
    pub agent_days: u64,
    /// UTC days the input spans.
    pub days: u64,
    /// Whether the input carries attack labels (`label` on calls).
    pub labelled: bool,
    /// Labelled attack episodes.
    pub attack_episodes: u64,
    /// Calls at or above the lowest threshold swept, kept for the sweep.
    pub calls_recorded: usize,
    /// The false-finding budget the recommendation had to meet.
    pub false_finding_budget: f64,
    /// One false finding in these agent-days, per 1,000: a budget below it
    /// means "none at all on this input".
    pub false_finding_resolution: f64,
    /// The findings-per-day budget, for unlabelled input.
    pub findings_per_day_budget: Option<f64>,
    /// The finding-threshold sweep, lowest threshold first.
    pub finding_sweep: Vec<FindingRow>,
    /// The revocation-threshold sweep at the chosen finding threshold.
    pub revoke_sweep: Vec<RevokeRow>,
    /// Each detector down-weighted in turn at the chosen thresholds.
    pub weight_sweep: Vec<WeightRow>,
    /// The recommended thresholds, when any fits the budgets.
    pub recommendation: Option<Recommendation>,
    /// Why there is none, when there is none.
    pub no_recommendation: Option<String>,
    /// For the HTML report: calls (and, at the recommendation, new
    /// findings) per hour, every call's risk and the agents with findings
    /// at the recommended threshold (at the configured one without a
    /// recommendation).
    #[serde(skip)]
    pub timeline: Timeline,
    #[serde(skip)]
    /// Every call's risk, for the score histogram.
    pub risks: RiskHistogram,
    #[serde(skip)]
    /// Agents with findings at the threshold the report shows.
    pub top_agents: TopAgents,
}

/// Whether the evaluation had labels to judge findings by.
fn has_labels(r: &EvalReport) -> bool {
    r.labelled_events > 0
}

fn per_day(n: u64, days: u64) -> f64 {
    if days == 0 {
        0.0
    } else {
        n as f64 / days as f64
    }
}

fn summary(r: &EvalReport) -> EvalSummary {
    EvalSummary {
        findings: r.findings_created,
        findings_per_day: per_day(r.findings_created, r.days),
        recall: r.recall,
        false_findings_per_1000_agent_days: has_labels(r)
            .then_some(r.false_findings_per_1000_agent_days),
        wrongful_revocations: has_labels(r).then_some(r.wrongful_revocations),
        median_delay_s: r.median_delay_s,
        scenarios: r.scenarios.clone(),
    }
}

fn finding_row(t: f32, r: &EvalReport, agents_with_findings: u64) -> FindingRow {
    FindingRow {
        finding_threshold: t,
        findings: r.findings_created,
        findings_per_day: per_day(r.findings_created, r.days),
        agents_with_findings,
        detected_episodes: r.detected_episodes,
        recall: r.recall,
        precision: (r.attack_episodes > 0 && r.findings_created > 0)
            .then(|| (r.findings_created - r.false_findings) as f64 / r.findings_created as f64),
        false_findings: has_labels(r).then_some(r.false_findings),
        false_findings_per_1000_agent_days: has_labels(r)
            .then_some(r.false_findings_per_1000_agent_days),
        median_delay_s: r.median_delay_s,
    }
}

/// One finding threshold's engine and the decisions the evaluation needs.
struct Arm {
    threshold: f32,
    engine: Engine,
    /// New findings: agent, time, leading detector, risk, explanation.
    created: Vec<(Box<str>, i64, &'static str, u8, String)>,
    /// Closed findings raised again: agent, time.
    reopened: Vec<(Box<str>, i64)>,
    revocations: Vec<(Box<str>, i64)>,
}

impl Arm {
    fn new(cfg: &Config, archetypes: Option<Arc<Archetypes>>, threshold: f32) -> Arm {
        let mut c = cfg.clone();
        c.decisions.finding_threshold = threshold;
        let mut engine = Engine::with_archetypes(c, archetypes);
        engine.record_hits();
        Arm {
            threshold,
            engine,
            created: Vec::new(),
            reopened: Vec::new(),
            revocations: Vec::new(),
        }
    }

    fn process(&mut self, batch: &RecordBatch) -> Result<(), EngineError> {
        let (created, reopened, revocations) =
            (&mut self.created, &mut self.reopened, &mut self.revocations);
        self.engine.process_batch(batch, &mut |row, d| match d {
            Decision::Finding(f) if f.seq == 0 => {
                let lead = f.lead_detector();
                let why = crate::offline::report::explain(f);
                created.push((row.agent_id.into(), f.time_ms, lead, f.risk, why));
            }
            Decision::Finding(f) if f.activity == FindingActivity::Reopen => {
                reopened.push((row.agent_id.into(), f.time_ms))
            }
            Decision::Revocation(r) => revocations.push((row.agent_id.into(), r.time_ms)),
            Decision::Finding(_) | Decision::Suppressed(_) | Decision::Violation(_) => {}
        })
    }

    fn report(&self, rows: &Evaluator) -> EvalReport {
        let mut e = rows.without_decisions();
        for (a, t, lead, _, _) in &self.created {
            e.add_created(a, *t, lead);
        }
        for (a, t) in &self.reopened {
            e.add_reopened(a, *t);
        }
        for (a, t) in &self.revocations {
            e.add_revocation(a, *t);
        }
        e.finish()
    }

    fn agents_with_findings(&self) -> u64 {
        let mut a: Vec<&str> = self.created.iter().map(|(a, ..)| &**a).collect();
        a.sort_unstable();
        a.dedup();
        a.len() as u64
    }
}

/// Scores every window with every arm, the arms split over `threads` threads.
fn process_all(arms: &mut [Arm], batch: &RecordBatch, threads: usize) -> Result<(), ReplayError> {
    let per = arms.len().div_ceil(threads.max(1)).max(1);
    let run = |arms: &mut [Arm]| -> Result<(), EngineError> {
        arms.iter_mut().try_for_each(|a| a.process(batch))
    };
    let mut groups = arms.chunks_mut(per);
    let here = groups.next().unwrap_or_default();
    std::thread::scope(|s| {
        let others: Vec<_> = groups.map(|g| s.spawn(|| run(g))).collect();
        let mut result = run(here);
        for o in others {
            result = result.and(o.join().expect("an engine thread panicked"));
        }
        result
    })?;
    Ok(())
}

/// Sweeps the thresholds and detector weights over `inputs` with `cfg` as
/// the starting point, reading the input once: the engine scores every call,
/// then each threshold is decided by the real `Decider` over the recorded
/// scores.
pub fn run(
    cfg: &Config,
    inputs: &[String],
    opts: &TuneOptions,
    observer: &mut dyn ReadObserver,
) -> Result<TuneReport, ReplayError> {
    let mut thresholds = opts.finding_thresholds.clone();
    thresholds.retain(|t| t.is_finite());
    thresholds.sort_by(f32::total_cmp);
    thresholds.dedup();
    if thresholds.is_empty() {
        thresholds.push(cfg.decisions.finding_threshold);
    }
    let mut revoke = opts.revoke_thresholds.clone();
    revoke.sort_by(f32::total_cmp);
    revoke.dedup();
    let archetypes = load_archetypes(&cfg.engine).map_err(EngineError::from)?;
    let mut arms: Vec<Arm> = thresholds
        .iter()
        .map(|&t| Arm::new(cfg, archetypes.clone(), t))
        .collect();
    let mut rows = Evaluator::default();
    let mut timeline = Timeline::default();
    let read_opts = ReadOptions::from(cfg);
    let mut window = |batch: &RecordBatch| {
        let cols = CallColumns::new(batch).map_err(EngineError::from)?;
        for i in 0..cols.len() {
            let row = cols.row(i);
            rows.observe_row(&row);
            timeline.add_event(row.ts_ms);
        }
        process_all(&mut arms, batch, opts.threads)
    };
    if opts.threads > 1 {
        // Decoding on threads of its own while the arms score the windows
        // before (where windows break does not change a score).
        read_windows_ahead(inputs, &read_opts, opts.threads, observer, &mut window)?;
    } else {
        read_windows(inputs, &read_opts, observer, &mut window)?;
    }
    let rules = &cfg.decisions;
    let weights = &cfg.detectors.weights;

    let rows_only = rows.without_decisions().finish();
    let labelled = rows_only.labelled_events > 0;
    let finding_sweep: Vec<FindingRow> = arms
        .iter()
        .map(|a| finding_row(a.threshold, &a.report(&rows), a.agents_with_findings()))
        .collect();
    let calls_recorded = arms[0].engine.hits().len();

    let mut report = TuneReport {
        events: rows_only.events,
        agents: rows_only.agents,
        agent_days: rows_only.agent_days,
        days: rows_only.days,
        labelled,
        attack_episodes: rows_only.attack_episodes,
        calls_recorded,
        false_finding_budget: opts.false_finding_budget,
        false_finding_resolution: if rows_only.agent_days > 0 {
            1000.0 / rows_only.agent_days as f64
        } else {
            f64::INFINITY
        },
        findings_per_day_budget: opts.findings_per_day_budget,
        finding_sweep,
        revoke_sweep: Vec::new(),
        weight_sweep: Vec::new(),
        recommendation: None,
        no_recommendation: None,
        timeline,
        risks: RiskHistogram::default(),
        top_agents: TopAgents::default(),
    };

    // Unlabelled: the lowest threshold within the findings-per-day budget.
    let chosen: Option<&FindingRow> = if labelled {
        choose_finding_row(&report.finding_sweep, opts.false_finding_budget)
    } else if let Some(b) = opts.findings_per_day_budget {
        report
            .finding_sweep
            .iter()
            .find(|r| r.findings_per_day <= b)
    } else {
        report.no_recommendation = Some(
            "unlabelled input: choose a budget from the table (--findings-per-day) \
             to get a recommendation"
                .into(),
        );
        None
    };
    let chosen = chosen.map(|r| r.finding_threshold);
    // The report's pictures show the chosen threshold, else the one
    // nearest the configured threshold.
    let shown = chosen.unwrap_or_else(|| {
        let c = cfg.decisions.finding_threshold;
        thresholds
            .iter()
            .copied()
            .min_by(|a, b| (a - c).abs().total_cmp(&(b - c).abs()))
            .unwrap_or(c)
    });
    if let Some(arm) = arms.iter().find(|a| a.threshold == shown) {
        report.risks = arm.engine.risk_histogram().clone();
        for (agent, t, _, risk, why) in &arm.created {
            report.timeline.add_finding(*t);
            report.top_agents.add(agent, *t, *risk, why);
        }
    }
    let Some(ft) = chosen else {
        if report.no_recommendation.is_none() {
            report.no_recommendation = Some("no threshold swept meets the budget".into());
        }
        return Ok(report);
    };
    let arm = arms
        .iter_mut()
        .find(|a| a.threshold == ft)
        .expect("the chosen threshold has an arm");
    let mut hits = HitSet::default();
    hits.extend(arm.engine.take_hits());
    let scored = hits.rescore(weights);
    // A revocation line below the finding line never acts (a revocation
    // rides on a finding) and a config holding one is refused: only lines
    // at or above the chosen finding line are swept and recommended.
    report.revoke_sweep = revoke
        .iter()
        .filter(|&&rt| rt >= ft)
        .map(|&rt| {
            let r = hits.evaluate(&scored, rules, ft, rt, &rows);
            RevokeRow {
                revoke_threshold: rt,
                revocations: r.revocations,
                episodes_revoked: has_labels(&r)
                    .then(|| r.scenarios.iter().map(|s| s.revoked).sum()),
                wrongful_revocations: has_labels(&r).then_some(r.wrongful_revocations),
            }
        })
        .collect();
    let rt = if labelled {
        choose_revoke_threshold(&report.revoke_sweep, opts.wrongful_revocation_budget)
            .unwrap_or(cfg.decisions.revoke_threshold)
    } else {
        cfg.decisions.revoke_threshold
    }
    .max(ft);
    let figures = hits.evaluate(&scored, rules, ft, rt, &rows);
    report.weight_sweep = weight_sweep(&hits, weights, opts.weight_factor, rules, ft, rt, &rows);
    report.recommendation = Some(Recommendation {
        finding_threshold: ft,
        revoke_threshold: rt,
        why: why(labelled, opts),
        figures: summary(&figures),
    });
    Ok(report)
}

/// The most attack episodes detected within the false-finding budget, then
/// the fewest false findings; among the lines that tie on both, the middle
/// one, as for revocations. Going higher buys nothing measured, and an
/// attack unlike the labelled ones scores near the line: taking the highest
/// of a tie lost whole families when one was left out of tuning.
fn choose_finding_row(sweep: &[FindingRow], budget: f64) -> Option<&FindingRow> {
    let ok: Vec<&FindingRow> = sweep
        .iter()
        .filter(|r| {
            r.false_findings_per_1000_agent_days
                .is_some_and(|f| f <= budget)
        })
        .collect();
    let merit = |r: &FindingRow| {
        (
            r.detected_episodes,
            std::cmp::Reverse(r.false_findings.unwrap_or(u64::MAX)),
        )
    };
    let best = ok.iter().map(|r| merit(r)).max()?;
    let mut tied: Vec<&FindingRow> = ok.into_iter().filter(|r| merit(r) == best).collect();
    tied.sort_by(|a, b| a.finding_threshold.total_cmp(&b.finding_threshold));
    Some(tied[tied.len() / 2])
}

/// The most attack episodes revoked with no more wrongful revocations than
/// allowed; among equals, the middle of the run of thresholds that do as
/// well, so neither a slightly riskier attack nor a slightly calmer one
/// moves the outcome.
fn choose_revoke_threshold(sweep: &[RevokeRow], wrongful_budget: u64) -> Option<f32> {
    let ok: Vec<&RevokeRow> = sweep
        .iter()
        .filter(|r| r.wrongful_revocations.is_some_and(|w| w <= wrongful_budget))
        .collect();
    let best = ok.iter().map(|r| r.episodes_revoked).max()?;
    let tied: Vec<f32> = ok
        .iter()
        .filter(|r| r.episodes_revoked == best)
        .map(|r| r.revoke_threshold)
        .collect();
    Some(tied[tied.len() / 2])
}

fn why(labelled: bool, opts: &TuneOptions) -> String {
    if labelled {
        format!(
            "most recall with at most {} false findings per 1,000 agent-days and {} wrongful \
             revocations",
            opts.false_finding_budget, opts.wrongful_revocation_budget
        )
    } else {
        format!(
            "lowest threshold with at most {} new findings per day",
            opts.findings_per_day_budget.unwrap_or(f64::INFINITY)
        )
    }
}

fn weight_sweep(
    hits: &HitSet,
    base: &Weights,
    factor: f32,
    rules: &DecisionConfig,
    ft: f32,
    rt: f32,
    rows: &Evaluator,
) -> Vec<WeightRow> {
    type Field = fn(&mut Weights) -> &mut f32;
    let detectors: [(&str, Field); 8] = [
        ("rate", |w| &mut w.rate),
        ("seasonal", |w| &mut w.seasonal),
        ("novelty", |w| &mut w.novelty),
        ("distinct", |w| &mut w.distinct),
        ("outcome", |w| &mut w.outcome),
        ("volume", |w| &mut w.volume),
        ("session", |w| &mut w.session),
        ("archetype", |w| &mut w.archetype),
    ];
    detectors
        .iter()
        .map(|(name, field)| {
            let mut w = base.clone();
            *field(&mut w) *= factor;
            let weight = *field(&mut w);
            let r = hits.evaluate(&hits.rescore(&w), rules, ft, rt, rows);
            WeightRow {
                detector: name.to_string(),
                weight,
                recall: r.recall,
                false_findings_per_1000_agent_days: has_labels(&r)
                    .then_some(r.false_findings_per_1000_agent_days),
                wrongful_revocations: has_labels(&r).then_some(r.wrongful_revocations),
            }
        })
        .collect()
}

/// A config file with the recommended thresholds and a header saying where
/// they came from.
pub fn recommended_config(cfg: &Config, rec: &Recommendation, inputs: &[String]) -> String {
    let mut c = cfg.clone();
    c.decisions.finding_threshold = rec.finding_threshold;
    c.decisions.revoke_threshold = rec.revoke_threshold;
    let omitted = secret_kafka_keys(&c);
    c.kafka.retain(|k, _| !omitted.contains(k));
    let body = toml::to_string(&c).expect("the config serialises");
    let note = if omitted.is_empty() {
        String::new()
    } else {
        format!(
            "# Left out because they hold secrets (set them again, or through \
             WARDEN_KAFKA_* variables): {}.\n",
            omitted.join(", ")
        )
    };
    format!(
        "# Written by `warden tune` from {}.\n# {}.\n# On that input: {}.\n{note}\n{body}",
        inputs.join(", "),
        rec.why,
        render::summary_line(&rec.figures),
    )
}

/// `[kafka]` properties that hold secrets (passwords, private keys, SASL
/// and OAuth configs with credentials inside): never copied into a written
/// config, which is made to be shared and committed.
pub fn secret_kafka_keys(cfg: &Config) -> Vec<String> {
    const MARKERS: [&str; 6] = [
        "password",
        "secret",
        "token",
        "jaas",
        "oauthbearer.config",
        ".pem",
    ];
    cfg.kafka
        .keys()
        .filter(|k| {
            let k = k.to_ascii_lowercase();
            MARKERS.iter().any(|m| k.contains(m)) || k.contains("key.pem") || k.ends_with(".key")
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    fn row(threshold: f32, detected: u64, false_findings: u64) -> FindingRow {
        FindingRow {
            finding_threshold: threshold,
            findings: detected + false_findings,
            findings_per_day: 0.0,
            agents_with_findings: detected + false_findings,
            detected_episodes: detected,
            recall: Some(detected as f64 / 10.0),
            precision: None,
            false_findings: Some(false_findings),
            false_findings_per_1000_agent_days: Some(false_findings as f64),
            median_delay_s: None,
        }
    }

    #[test]
    fn the_finding_line_is_the_middle_of_the_best_within_budget() {
        let sweep = [
            row(40.0, 10, 5), // over budget
            row(50.0, 9, 1),  // within, but a false finding more
            row(55.0, 9, 0),
            row(60.0, 9, 0),
            row(65.0, 9, 0),
            row(70.0, 9, 0),
            row(80.0, 8, 0),
        ];
        let chosen = choose_finding_row(&sweep, 1.0).unwrap();
        assert_eq!(chosen.finding_threshold, 65.0);
        let chosen = choose_finding_row(&sweep[..3], 1.0).unwrap();
        assert_eq!(chosen.finding_threshold, 55.0);
        assert!(choose_finding_row(&sweep[..1], 1.0).is_none());
    }

    #[test]
    fn a_written_config_leaves_out_every_secret_and_says_so() {
        let mut cfg = Config::default();
        for (k, v) in [
            ("bootstrap.servers", "kafka:9093"),
            ("sasl.password", "hunter2"),
            ("ssl.key.password", "hunter3"),
            ("sasl.oauthbearer.client.secret", "hunter4"),
            ("ssl.key.pem", "-----BEGIN PRIVATE KEY-----"),
            ("sasl.jaas.config", "user=\"u\" password=\"hunter5\""),
            ("sasl.username", "warden"),
        ] {
            cfg.kafka.insert(k.into(), v.into());
        }
        let rec = Recommendation {
            finding_threshold: 70.0,
            revoke_threshold: 90.0,
            why: "test".into(),
            figures: EvalSummary {
                findings: 0,
                findings_per_day: 0.0,
                recall: None,
                false_findings_per_1000_agent_days: None,
                wrongful_revocations: None,
                median_delay_s: None,
                scenarios: Vec::new(),
            },
        };
        let text = recommended_config(&cfg, &rec, &["in.jsonl".into()]);
        for secret in ["hunter", "BEGIN PRIVATE KEY"] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        assert!(text.contains("kafka:9093") && text.contains("sasl.username"));
        assert!(
            text.contains("Left out because they hold secrets"),
            "{text}"
        );
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back.decisions.finding_threshold, 70.0);
        assert!(!back.kafka.contains_key("sasl.password"));
    }
}
