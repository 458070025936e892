//! `warden replay`: the engine over files, as fast as one core allows, with
//! the same code path as the streaming service (Arrow windows → engine).

use crate::config::Config;
use crate::emit::{DecisionSink, SinkError};
use crate::engine::RiskHistogram;
use crate::engine::{Engine, EngineCounters, EngineError};
use crate::eval::{EvalReport, Evaluator};
use crate::report::Timeline;
use crate::source::{expand_inputs, total_bytes, BadRecord, EventReader, ReadOptions, SourceError};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("no inputs given")]
    NoInputs,
    /// The consumer of the windows stopped reading (its own error says why).
    #[error("stopped by the consumer of the input")]
    Stopped,
}

/// Hooks for progress display and bad-record reporting, so the library
/// prints nothing itself.
pub trait ReplayObserver {
    fn started(&mut self, _total_bytes: Option<u64>) {}
    fn progress(&mut self, _bytes_read: u64, _events: u64) {}
    fn bad_record(&mut self, _bad: &BadRecord) {}
    fn finished(&mut self) {}
}

/// An observer that does nothing.
pub struct Quiet;
impl ReplayObserver for Quiet {}

#[derive(Debug, Clone, Serialize)]
pub struct ReplaySummary {
    pub inputs: usize,
    pub events: u64,
    pub decode_errors: u64,
    /// Records deliberately not scored (Kubernetes audit stages other than the configured one).
    pub skipped_records: u64,
    pub findings_created: u64,
    pub findings_updated: u64,
    /// Episodes closed after going quiet (OCSF activity Close).
    pub findings_closed: u64,
    pub revocations: u64,
    pub agents_tracked: u64,
    pub agents_evicted: u64,
    pub state_bytes: u64,
    pub state_bytes_per_agent: f64,
    pub elapsed_s: f64,
    pub events_per_sec: f64,
    /// Present when the input carried labels (or always with --report).
    pub evaluation: Option<EvalReport>,
    /// `--deliver`: what each sink beyond Kafka did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<crate::sinks::SinkStats>,
    /// Calls and new findings per hour, every call's risk (HTML report).
    #[serde(skip)]
    pub timeline: Timeline,
    #[serde(skip)]
    pub risks: RiskHistogram,
}

pub fn run(
    cfg: Config,
    trace_agent: Option<String>,
    inputs: &[String],
    sink: &mut dyn DecisionSink,
    observer: &mut dyn ReplayObserver,
) -> Result<ReplaySummary, ReplayError> {
    let read_opts = ReadOptions::from_config(&cfg);
    let mut engine = Engine::from_config(cfg).map_err(EngineError::from)?;
    engine.trace_agent(trace_agent);
    let mut eval = Evaluator::default();
    let mut timeline = Timeline::default();
    let start = Instant::now();
    let mut sink_error: Option<SinkError> = None;
    let totals = read_windows(inputs, &read_opts, observer, &mut |batch| {
        // One pass over the window: each row is evaluated and scored.
        let cols = crate::event::CallColumns::new(batch).map_err(EngineError::from)?;
        for i in 0..cols.len() {
            let row = cols.row(i);
            eval.observe_row(&row);
            timeline.add_event(row.ts_ms);
            engine.process_row(&row, &mut |row, d| {
                eval.observe_decision(row, d);
                if let crate::decide::Decision::Finding(f) = d {
                    if f.seq == 0 {
                        timeline.add_finding(f.time_ms);
                    }
                }
                if sink_error.is_none() {
                    if let Err(e) = sink.emit(d) {
                        sink_error = Some(e);
                    }
                }
            });
        }
        match sink_error.take() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    })?;
    sink.flush()?;
    let (decode_errors, skipped_records) = (totals.decode_errors, totals.skipped_records);
    let specs_len = totals.inputs;
    let elapsed = start.elapsed().as_secs_f64();
    let c: EngineCounters = engine.counters();
    let report = eval.finish();
    let agents = engine.agents_tracked() as u64;
    let state_bytes = engine.state_bytes() as u64;
    Ok(ReplaySummary {
        inputs: specs_len,
        events: c.events,
        decode_errors,
        skipped_records,
        findings_created: c.findings_created,
        findings_updated: c.findings_updated,
        findings_closed: c.findings_closed,
        revocations: c.revocations,
        agents_tracked: agents,
        agents_evicted: c.agents_evicted,
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
        evaluation: Some(report),
        sinks: Vec::new(),
        timeline,
        risks: engine.risk_histogram().clone(),
    })
}

/// What reading the inputs found besides events.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadTotals {
    pub inputs: usize,
    pub rows: u64,
    pub decode_errors: u64,
    pub skipped_records: u64,
}

/// Reads every input in order as Arrow windows of call events: bad records
/// go to the observer (and are counted), progress too; `window` sees each
/// window. Replay and tune read through this.
pub fn read_windows(
    inputs: &[String],
    read_opts: &ReadOptions,
    observer: &mut dyn ReplayObserver,
    window: &mut dyn FnMut(&arrow_array::RecordBatch) -> Result<(), ReplayError>,
) -> Result<ReadTotals, ReplayError> {
    let specs = expand_inputs(inputs)?;
    if specs.is_empty() {
        return Err(ReplayError::NoInputs);
    }
    let bytes_read = Arc::new(AtomicU64::new(0));
    observer.started(total_bytes(&specs));
    let mut t = ReadTotals {
        inputs: specs.len(),
        ..ReadTotals::default()
    };
    let mut bad = Vec::new();
    for spec in &specs {
        let mut reader = EventReader::open(spec, read_opts.clone(), bytes_read.clone())?;
        while let Some(batch) = reader.next_batch(&mut bad)? {
            for b in bad.drain(..) {
                t.decode_errors += 1;
                observer.bad_record(&b);
            }
            window(&batch)?;
            t.rows += batch.num_rows() as u64;
            observer.progress(bytes_read.load(Ordering::Relaxed), t.rows);
        }
        for b in bad.drain(..) {
            t.decode_errors += 1;
            observer.bad_record(&b);
        }
        t.skipped_records += reader.skipped;
    }
    observer.finished();
    Ok(t)
}
