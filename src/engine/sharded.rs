//! One input scored by several engines on their own threads, with the
//! output of one engine.
//!
//! Agents are sharded by cohort: an agent's calls go to the engine that
//! holds its cohort (chosen when the agent is first seen, so a token that
//! wanders into another tenant stays with its own baseline). Cohort
//! statistics therefore stay within one engine. What all engines share is
//! taken out of them and made the same for each:
//! - the shared clock (`clock::SharedClock`) is run here, over every call in
//!   input order, and each engine gets every tick that closes quiet
//!   episodes, whether or not the call is its own;
//! - the agent-type-wide prevalence is exchanged window by window through a
//!   `Hub` (see `global`).
//!
//! Decisions come back per batch and are put in input order: for each call,
//! the sweep's Closes in uid order (as one engine sorts them), then the
//! call's own decisions. The output is byte-identical to one engine's as
//! long as no memory cap is reached: `[engine] max_agents` and
//! `max_cohorts` are split between the engines, so which agents an
//! overflowing table evicts can differ.

use super::clock::{SharedClock, Tick};
use super::global::{merge, GlobalDelta, GlobalExchange};
use super::{CohortKey, DetectionConfig, Engine, EngineError};
use crate::decide::Decision;
use crate::event::{CallColumns, CallRow};
use crate::keyed::KeyedMap;
use arrow_array::RecordBatch;
use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex};

/// Batches handed out and not yet put back in order: enough for the
/// engines to drift apart by a few batches without waiting.
const IN_FLIGHT: usize = 4;

/// The engines' deltas of the agent-type-wide prevalence, window by window.
struct Hub {
    engines: usize,
    state: Mutex<HubState>,
    ready: Condvar,
}

#[derive(Default)]
struct HubState {
    windows: BTreeMap<u64, HubWindow>,
    /// An engine stopped early (an error elsewhere): nobody waits any more.
    closed: bool,
}

#[derive(Default)]
struct HubWindow {
    parts: Vec<Vec<GlobalDelta>>,
    published: usize,
    merged: Option<Arc<Vec<GlobalDelta>>>,
    taken: usize,
}

impl Hub {
    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.ready.notify_all();
    }
}

struct HubExchange {
    hub: Arc<Hub>,
}

impl GlobalExchange for HubExchange {
    fn publish(&mut self, window: u64, deltas: Vec<GlobalDelta>) {
        let mut st = self.hub.state.lock().unwrap_or_else(|e| e.into_inner());
        let w = st.windows.entry(window).or_default();
        w.parts.push(deltas);
        w.published += 1;
        if w.published == self.hub.engines {
            w.merged = Some(Arc::new(merge(std::mem::take(&mut w.parts))));
            self.hub.ready.notify_all();
        }
    }

    fn merged(&mut self, window: u64) -> Arc<Vec<GlobalDelta>> {
        let mut st = self.hub.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(w) = st.windows.get_mut(&window) {
                if let Some(m) = w.merged.clone() {
                    w.taken += 1;
                    if w.taken == self.hub.engines {
                        st.windows.remove(&window);
                    }
                    return m;
                }
            }
            if st.closed {
                return Arc::default();
            }
            st = self.hub.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Closes the hub when an engine's thread ends before its jobs do (a
/// panic), so no other engine waits for it for ever. A thread that ran out
/// of jobs must not close it: the others may still need its windows, which
/// it has all published.
struct CloseUnlessDone {
    hub: Arc<Hub>,
    done: bool,
}

impl Drop for CloseUnlessDone {
    fn drop(&mut self) {
        if !self.done {
            self.hub.close();
        }
    }
}

/// Which engine holds each agent.
struct Router {
    keys: Vec<CohortKey>,
    engines: usize,
    /// Agent → engine; cleared past `max_agents` (a cleared agent is routed
    /// by its next call's cohort, which for all but a wanderer is the same).
    /// Keyed hashing: ids and tenants are written by callers (`keyed`).
    agents: KeyedMap<Box<str>, u16>,
    max_agents: usize,
    /// Cohort → engine; cleared past `max_cohorts` like `agents` (the
    /// engines overflow their cohort tables there anyway), so a spray of
    /// tenants cannot grow it without bound.
    cohorts: KeyedMap<Box<str>, u16>,
    max_cohorts: usize,
    /// Calls routed to each engine so far: a new cohort goes to the least
    /// loaded.
    load: Vec<u64>,
    key: String,
}

impl Router {
    /// The engine for row `i`. Only an agent not routed yet needs more of
    /// its row than its id: this runs on the thread that also hands out
    /// every window, and a whole row per call read there (18 columns of a
    /// window another thread decoded) was a measurable share of its time.
    fn route(&mut self, cols: &CallColumns<'_>, i: usize) -> usize {
        let agent_id = cols.agent_id(i);
        if let Some(&e) = self.agents.get(agent_id) {
            self.load[e as usize] += 1;
            return e as usize;
        }
        // The cohort the engine will put the agent in (`Engine::cohort_key_of`).
        CohortKey::write_key(&self.keys, &cols.row(i), &mut self.key);
        let e = match self.cohorts.get(self.key.as_str()) {
            Some(&e) => e,
            None => {
                let least = (0..self.engines).min_by_key(|&e| self.load[e]).unwrap_or(0) as u16;
                if self.cohorts.len() >= self.max_cohorts {
                    self.cohorts.clear();
                }
                self.cohorts.insert(self.key.as_str().into(), least);
                least
            }
        };
        if self.agents.len() >= self.max_agents {
            self.agents.clear();
        }
        self.agents.insert(agent_id.into(), e);
        self.load[e as usize] += 1;
        e as usize
    }
}

/// Hands one batch of the input on to be scored.
pub(crate) type Push<'a, E> = dyn FnMut(&RecordBatch) -> Result<(), E> + 'a;
/// Takes each call in input order with the decisions made on it.
pub(crate) type OnRow<'a, E> = dyn FnMut(&CallRow<'_>, &mut Vec<Decision>) -> Result<(), E> + 'a;

/// One batch for one engine: every call's tick, and which calls are its own.
struct Job {
    batch: Arc<RecordBatch>,
    ticks: Arc<Vec<Tick>>,
    own: Vec<bool>,
}

/// What an engine decided on a batch: (input position, 0 for a sweep's
/// Close or 1 for the call's own, decision).
type Decided = Vec<(u64, u8, Decision)>;

/// Several engines behind one `process` (see the module docs).
pub(crate) struct ShardedEngine {
    engines: Vec<Engine>,
    router: Router,
    clock: SharedClock,
    hub: Arc<Hub>,
}

impl ShardedEngine {
    /// `threads` engines (at least one) built as `Engine::from_config`, the
    /// files the config names read once for all of them.
    pub(crate) fn new(cfg: DetectionConfig, threads: usize) -> Result<Self, EngineError> {
        let n = threads.clamp(1, u16::MAX as usize);
        let mut per = cfg.clone();
        per.engine.max_agents = cfg.engine.max_agents.div_ceil(n).max(1);
        per.engine.max_cohorts = cfg.engine.max_cohorts.div_ceil(n).max(1);
        let hub = Arc::new(Hub {
            engines: n,
            state: Mutex::default(),
            ready: Condvar::new(),
        });
        let files = super::EngineFiles::load(&per)?;
        let mut engines = Vec::with_capacity(n);
        for _ in 0..n {
            let mut e = Engine::with_files(per.clone(), &files);
            e.set_global_exchange(Box::new(HubExchange { hub: hub.clone() }));
            engines.push(e);
        }
        Ok(ShardedEngine {
            engines,
            router: Router {
                keys: cfg.engine.cohort_keys.clone(),
                engines: n,
                agents: KeyedMap::default(),
                max_agents: cfg.engine.max_agents.max(1),
                cohorts: KeyedMap::default(),
                max_cohorts: cfg.engine.max_cohorts.max(1),
                load: vec![0; n],
                key: String::new(),
            },
            clock: SharedClock::default(),
            hub,
        })
    }

    /// Applies `f` to every engine (tracing, recording hits).
    pub(crate) fn each(&mut self, f: impl Fn(&mut Engine)) {
        self.engines.iter_mut().for_each(f);
    }

    /// The engines, for their totals once the input is done.
    pub(crate) fn engines(&self) -> &[Engine] {
        &self.engines
    }

    /// Scores the batches `feed` produces. `on_row` gets every call in
    /// input order with the decisions made on it (sweep Closes first).
    /// `feed` gives each batch to the closure it is handed; an error from
    /// `on_row` stops the feed.
    pub(crate) fn run<E>(
        &mut self,
        feed: &mut dyn FnMut(&mut Push<'_, E>) -> Result<(), E>,
        on_row: &mut OnRow<'_, E>,
    ) -> Result<(), E>
    where
        E: From<EngineError>,
    {
        let (router, clock, hub) = (&mut self.router, &mut self.clock, &self.hub);
        std::thread::scope(|s| {
            let mut jobs: Vec<SyncSender<Job>> = Vec::new();
            let mut results: Vec<Receiver<Decided>> = Vec::new();
            for engine in self.engines.iter_mut() {
                let (jtx, jrx) = sync_channel::<Job>(IN_FLIGHT);
                let (rtx, rrx) = channel::<Decided>();
                let guard = CloseUnlessDone {
                    hub: hub.clone(),
                    done: false,
                };
                jobs.push(jtx);
                results.push(rrx);
                s.spawn(move || {
                    let mut guard = guard;
                    guard.done = work(engine, jrx, rtx);
                });
            }
            let mut pending: VecDeque<(Arc<RecordBatch>, Arc<Vec<Tick>>)> = VecDeque::new();
            let mut out = Vec::new();
            let mut fed = |batch: &RecordBatch| -> Result<(), E> {
                let cols = CallColumns::new(batch).map_err(EngineError::from)?;
                let mut owner = Vec::with_capacity(cols.len());
                let mut ticks = Vec::with_capacity(cols.len());
                for i in 0..cols.len() {
                    owner.push(router.route(&cols, i));
                    ticks.push(clock.tick(cols.ts_ms(i)));
                }
                let batch = Arc::new(batch.clone());
                let ticks = Arc::new(ticks);
                for (e, tx) in jobs.iter().enumerate() {
                    let own = owner.iter().map(|&o| o == e).collect();
                    let job = Job {
                        batch: batch.clone(),
                        ticks: ticks.clone(),
                        own,
                    };
                    if tx.send(job).is_err() {
                        // The engine's thread is gone: it panicked, and
                        // the scope will say so.
                        return Ok(());
                    }
                }
                pending.push_back((batch, ticks));
                if pending.len() > IN_FLIGHT {
                    let (b, t) = pending.pop_front().expect("just checked");
                    deliver(&b, &t, &results, &mut out, on_row)?;
                }
                Ok(())
            };
            let fed_all = feed(&mut fed);
            let rest = fed_all.and_then(|()| {
                pending
                    .drain(..)
                    .try_for_each(|(b, t)| deliver(&b, &t, &results, &mut out, on_row))
            });
            drop(jobs);
            rest
        })
    }
}

/// One engine's thread: each job's own calls scored, every sweep taken.
/// Returns whether it ran out of jobs (rather than losing its caller).
fn work(engine: &mut Engine, jobs: Receiver<Job>, results: Sender<Decided>) -> bool {
    while let Ok(job) = jobs.recv() {
        let mut decided: Decided = Vec::new();
        let Ok(cols) = CallColumns::new(&job.batch) else {
            return false;
        };
        for (i, tick) in job.ticks.iter().enumerate() {
            let own = job.own[i];
            if !own && tick.sweep.is_none() {
                continue;
            }
            let row = cols.row(i);
            engine.advance(&row, tick, &mut |_, d| {
                decided.push((tick.seq, 0, d.clone()))
            });
            if own {
                let rest = Tick {
                    sweep: None,
                    ..*tick
                };
                engine.process_ticked(&row, 0, &rest, &mut |_, d| {
                    decided.push((tick.seq, 1, d.clone()))
                });
            }
        }
        if let Some(last) = job.ticks.last() {
            engine.advance_global(last.seq + 1);
        }
        if results.send(decided).is_err() {
            return false;
        }
    }
    true
}

/// Puts one batch's decisions from every engine in input order and hands
/// each call with its decisions to `on_row`.
fn deliver<E: From<EngineError>>(
    batch: &RecordBatch,
    ticks: &[Tick],
    results: &[Receiver<Decided>],
    out: &mut Vec<Decision>,
    on_row: &mut OnRow<'_, E>,
) -> Result<(), E> {
    let mut all: Decided = Vec::new();
    for r in results {
        // A closed channel is a panicked engine: the scope reports it.
        all.extend(r.recv().unwrap_or_default());
    }
    // One engine sorts a sweep's Closes by uid; the call's own decisions
    // keep the order they were made in (the sort is stable).
    all.sort_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| match (a.1, &a.2, &b.2) {
                (0, Decision::Finding(x), Decision::Finding(y)) => x.uid.cmp(&y.uid),
                _ => std::cmp::Ordering::Equal,
            })
    });
    let cols = CallColumns::new(batch).map_err(EngineError::from)?;
    let first = ticks.first().map_or(0, |t| t.seq);
    let mut next = all.into_iter().peekable();
    for i in 0..cols.len() {
        let seq = first + i as u64;
        out.clear();
        while let Some((_, _, d)) = next.next_if(|(s, _, _)| *s == seq) {
            out.push(d);
        }
        on_row(&cols.row(i), out)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "sharded_tests.rs"]
mod tests;
