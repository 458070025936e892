//! `warden replay`: the engine over files, as fast as one core allows, with
//! the same code path as the streaming service (Arrow windows → engine).

use super::eval::{EvalReport, Evaluator};
use super::report::Timeline;
use crate::config::Config;
use crate::decide::Decision;
use crate::emit::{Outputs, SinkError};
use crate::engine::sharded::ShardedEngine;
use crate::engine::{Engine, EngineCounters, EngineError};
use crate::event::CallRow;
use crate::input::{read_windows, read_windows_ahead, InputError, ReadObserver, ReadOptions};
use crate::signal::RiskHistogram;
use serde::Serialize;
use std::time::Instant;

/// Why a replay (or another offline pass over inputs) stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// An input could not be opened or read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A window did not have the call layout, or the model did not load.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A decision could not be written.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

#[derive(Debug, Clone, Serialize)]
/// What `warden replay` did (printed as JSON).
pub struct ReplaySummary {
    /// Inputs read (after directories were expanded).
    pub inputs: usize,
    /// Inputs that yielded no call, or more bad records than calls
    /// (`warden replay` then exits non-zero after writing its outputs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suspect_inputs: Vec<crate::input::SuspectInput>,
    /// Calls scored.
    pub events: u64,
    /// Records or fields that could not be decoded (skipped).
    pub decode_errors: u64,
    /// Records deliberately not scored (Kubernetes audit stages other than the configured one).
    pub skipped_records: u64,
    /// Findings created.
    pub findings_created: u64,
    /// Finding updates.
    pub findings_updated: u64,
    /// Episodes closed after going quiet (OCSF activity Close).
    pub findings_closed: u64,
    /// Closed findings raised again within `episode_reopen_minutes` (OCSF
    /// activity Update after the Close).
    #[serde(skip_serializing_if = "crate::offline::is_zero")]
    pub findings_reopened: u64,
    /// Revocations decided (enforced or in shadow).
    pub revocations: u64,
    /// Calls whose finding suppressions covered (recorded as suppressed
    /// findings, one per run of such calls).
    #[serde(skip_serializing_if = "crate::offline::is_zero")]
    pub findings_suppressed: u64,
    /// Guardrail policy violations (one per violating call and rule).
    #[serde(skip_serializing_if = "crate::offline::is_zero")]
    pub policy_violations: u64,
    /// Agents in the table at the end.
    pub agents_tracked: u64,
    /// Agents evicted to keep the table within `[engine] max_agents`.
    pub agents_evicted: u64,
    /// Of those, new identities evicted while on probation: a flood of new
    /// ids competes with new ids first, not with established baselines.
    pub agents_evicted_on_probation: u64,
    /// New agents put in their type's fallback cohort past
    /// `[engine] max_cohorts`.
    pub cohorts_overflowed: u64,
    /// Bytes of per-agent state at the end.
    pub state_bytes: u64,
    /// Those bytes per tracked agent.
    pub state_bytes_per_agent: f64,
    /// Wall-clock seconds the replay took.
    pub elapsed_s: f64,
    /// Calls scored per wall-clock second.
    pub events_per_sec: f64,
    /// The process's peak resident memory (Linux `VmHWM`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// Present when the input carried labels (or always with --report).
    pub evaluation: Option<EvalReport>,
    /// `--deliver`: what each sink beyond Kafka did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<crate::sinks::SinkStats>,
    /// Calls and new findings per hour, every call's risk (HTML report).
    #[serde(skip)]
    pub timeline: Timeline,
    #[serde(skip)]
    /// Every call's risk, for the score histogram.
    pub risks: RiskHistogram,
}

/// Replays `inputs` through the engine with `cfg`, writing what `outputs`
/// asks for; `trace_agent` logs one agent's every score. With `threads`
/// above one, cohorts are scored on that many threads (`engine::sharded`);
/// the outputs are the same.
pub fn run(
    cfg: Config,
    trace_agent: Option<String>,
    inputs: &[String],
    outputs: &mut Outputs<'_>,
    observer: &mut dyn ReadObserver,
    threads: usize,
) -> Result<ReplaySummary, ReplayError> {
    let read_opts = ReadOptions::from(&cfg);
    let mut eval = Evaluator::default();
    let mut timeline = Timeline::default();
    let start = Instant::now();
    let mut on_row = |row: &CallRow<'_>, decided: &mut Vec<Decision>| {
        eval.observe_row(row);
        timeline.add_event(row.ts_ms);
        for d in decided.drain(..) {
            eval.observe_decision(row, &d);
            if let Decision::Finding(f) = &d {
                if f.seq == 0 {
                    timeline.add_finding(f.time_ms);
                }
            }
            outputs.emit(&d, &())?;
        }
        Ok::<(), ReplayError>(())
    };
    let (totals, scored) = if threads <= 1 {
        let mut engine = Engine::from_config(cfg)?;
        engine.trace_agent(trace_agent);
        let mut decided: Vec<Decision> = Vec::new();
        let totals = read_windows(inputs, &read_opts, observer, &mut |batch| {
            let cols = crate::event::CallColumns::new(batch).map_err(EngineError::from)?;
            for i in 0..cols.len() {
                let row = cols.row(i);
                engine.process_row(&row, &mut |_, d| decided.push(d.clone()));
                on_row(&row, &mut decided)?;
            }
            Ok::<(), ReplayError>(())
        })?;
        (totals, Scored::of(std::slice::from_ref(&engine)))
    } else {
        let mut engines = ShardedEngine::new(cfg.into(), threads)?;
        engines.each(|e| e.trace_agent(trace_agent.clone()));
        let mut totals = None;
        engines.run(
            &mut |push| {
                // Decoding on threads of its own too, as many as the
                // engines': on one it is the slowest part (about half of
                // the work), and it caps the speed-up at about two.
                totals = Some(read_windows_ahead(
                    inputs, &read_opts, threads, observer, push,
                )?);
                Ok(())
            },
            &mut on_row,
        )?;
        let totals = totals.expect("the feed ran to the end");
        (totals, Scored::of(engines.engines()))
    };
    outputs.flush()?;
    let (decode_errors, skipped_records) = (totals.decode_errors, totals.skipped_records);
    let specs_len = totals.inputs;
    let elapsed = start.elapsed().as_secs_f64();
    let c = scored.counters;
    let report = eval.finish();
    let agents = scored.agents;
    let state_bytes = scored.state_bytes;
    Ok(ReplaySummary {
        inputs: specs_len,
        suspect_inputs: totals.suspect_inputs,
        events: c.events,
        decode_errors,
        skipped_records,
        findings_created: c.findings_created,
        findings_updated: c.findings_updated,
        findings_closed: c.findings_closed,
        findings_reopened: c.findings_reopened,
        revocations: c.revocations,
        findings_suppressed: c.findings_suppressed,
        policy_violations: c.policy_violations,
        agents_tracked: agents,
        agents_evicted: c.agents_evicted,
        agents_evicted_on_probation: c.agents_evicted_on_probation,
        cohorts_overflowed: c.cohorts_overflowed,
        state_bytes,
        state_bytes_per_agent: if agents > 0 {
            state_bytes as f64 / agents as f64
        } else {
            0.0
        },
        elapsed_s: elapsed,
        events_per_sec: if elapsed > 0.0 {
            c.events as f64 / elapsed
        } else {
            0.0
        },
        peak_rss_bytes: peak_rss_bytes(),
        evaluation: Some(report),
        sinks: Vec::new(),
        timeline,
        risks: scored.risks,
    })
}

/// What the engines scored, summed over them.
struct Scored {
    counters: EngineCounters,
    agents: u64,
    state_bytes: u64,
    risks: RiskHistogram,
}

impl Scored {
    fn of(engines: &[Engine]) -> Scored {
        let mut risks = RiskHistogram::default();
        for e in engines {
            risks.merge(e.risk_histogram());
        }
        Scored {
            counters: EngineCounters::sum(engines.iter().map(Engine::counters)),
            agents: engines.iter().map(|e| e.agents_tracked() as u64).sum(),
            state_bytes: engines.iter().map(|e| e.state_bytes() as u64).sum(),
            risks,
        }
    }
}

/// Peak resident set size of this process, from `/proc/self/status`
/// (`VmHWM`, in kB); `None` where there is no such file.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}
