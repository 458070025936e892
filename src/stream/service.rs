//! The poll loop and the worker it feeds. One thread polls the group consumer
//! (so heartbeats and rebalance callbacks are always served) and scores what
//! it polls in small windows; rebalance callbacks take the same worker lock
//! to hand state over between windows, never in the middle of one.

use super::events::{CheckpointWritten, PartitionAssigned, PartitionRevoked, RecordDeadLettered};
use super::offsets::OffsetTracker;
use super::output::{DeadLetter, Origin, Outputs};
use super::telemetry::{now_ms, Health, Latency};
use super::{state, RunSummary, StreamError};
use crate::config::Config;
use crate::decide::Decision;
use crate::engine::Engine;
use crate::event::{CallBatchBuilder, CallColumns, DecodeError};
use crate::source::RecordDecoder;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest wait for the broker to acknowledge outputs before a commit.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Rows per scoring window when the consumer has a backlog.
pub const WINDOW_ROWS: usize = 1024;

/// Where one scored row came from.
#[derive(Clone, Copy)]
struct RowOrigin {
    partition: i32,
    offset: i64,
    kafka_ts_ms: Option<i64>,
}

/// Event time per partition: the newest event seen, and so the watermark.
#[derive(Default, Clone, Copy)]
struct EventClock {
    max_ts: Option<i64>,
}

pub struct Worker {
    engine: Engine,
    cfg: Config,
    outputs: Outputs,
    restorer: BaseConsumer,
    offsets: OffsetTracker,
    builder: CallBatchBuilder,
    rows: Vec<RowOrigin>,
    window_msgs: Vec<(i32, i64)>,
    owned: BTreeMap<i32, EventClock>,
    latency: Latency,
    pub summary: RunSummary,
    fatal: Option<StreamError>,
    /// Set for good by the first fatal error: from then on nothing is
    /// committed and no state is written (the state may already reflect
    /// calls whose outputs were not delivered).
    failed: bool,
    health: Arc<Health>,
    last_checkpoint: Instant,
    last_gauges: Instant,
}

impl Worker {
    pub fn new(cfg: Config, outputs: Outputs, restorer: BaseConsumer, health: Arc<Health>) -> Self {
        Worker {
            engine: Engine::new(cfg.clone()),
            outputs,
            restorer,
            offsets: OffsetTracker::default(),
            builder: CallBatchBuilder::with_capacity(WINDOW_ROWS),
            rows: Vec::with_capacity(WINDOW_ROWS),
            window_msgs: Vec::with_capacity(WINDOW_ROWS),
            owned: BTreeMap::new(),
            latency: Latency::default(),
            summary: RunSummary::default(),
            fatal: None,
            failed: false,
            health,
            last_checkpoint: Instant::now(),
            last_gauges: Instant::now(),
            cfg,
        }
    }

    pub fn window_len(&self) -> usize {
        self.window_msgs.len()
    }

    fn fail(&mut self, e: StreamError) {
        tracing::error!(error = %e, "stopping: outputs can no longer be guaranteed");
        self.health
            .failed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.failed = true;
        if self.fatal.is_none() {
            self.fatal = Some(e);
        }
    }

    pub fn take_fatal(&mut self) -> Option<StreamError> {
        self.fatal.take()
    }

    /// Decodes one polled record into the current window. Records that do
    /// not decode go to the dead-letter topic; their good neighbours (and the
    /// good events of a partly bad envelope) are scored.
    pub fn ingest(&mut self, m: &BorrowedMessage<'_>) {
        let (partition, offset) = (m.partition(), m.offset());
        if !self.owned.contains_key(&partition) {
            // Fetched before a revoke took effect: the new owner reads it.
            return;
        }
        let kafka_ts_ms = m.timestamp().to_millis();
        self.summary.records += 1;
        let mut errors: Vec<DecodeError> = Vec::new();
        let mut good = 0usize;
        match m.payload().map(std::str::from_utf8) {
            None => errors.push(record_error(offset, "record has no value")),
            Some(Err(_)) => errors.push(record_error(offset, "record value is not valid UTF-8")),
            Some(Ok(text)) => {
                let decoder = RecordDecoder {
                    format: self.cfg.input.format,
                    k8s_stage: &self.cfg.input.k8s_stage,
                };
                let (builder, rows) = (&mut self.builder, &mut self.rows);
                let skipped = decoder.decode(
                    text.trim(),
                    offset.max(0) as u64,
                    &mut |ev| {
                        builder.push(ev);
                        rows.push(RowOrigin {
                            partition,
                            offset,
                            kafka_ts_ms,
                        });
                        good += 1;
                    },
                    &mut |e| errors.push(e),
                );
                self.summary.skipped_records += skipped;
            }
        }
        if let Some(first) = errors.first() {
            RecordDeadLettered {
                partition,
                offset,
                error: first,
                errors_in_record: errors.len(),
            }
            .emit();
            self.summary.decode_errors += errors.len() as u64;
            self.summary.dead_letters += 1;
            let dl = DeadLetter {
                topic: m.topic(),
                partition,
                offset,
                timestamp_ms: kafka_ts_ms,
                key: m.key(),
                value: m.payload(),
                headers: m.headers(),
                error: first,
                good_events: good,
            };
            match self
                .outputs
                .dead_letter(&dl, Origin::Call { partition, offset })
            {
                Ok(()) => self.offsets.sent(partition, offset),
                Err(e) => self.fail(StreamError::Produce(e)),
            }
        }
        self.window_msgs.push((partition, offset));
    }

    /// Scores the window's rows in order and produces their decisions.
    pub fn process_window(&mut self) {
        if self.window_msgs.is_empty() {
            return;
        }
        if !self.builder.is_empty() {
            let batch = self.builder.finish();
            let cols = match CallColumns::new(&batch) {
                Ok(c) => c,
                Err(e) => {
                    self.fail(StreamError::Engine(e.into()));
                    return;
                }
            };
            let lateness_ms = self.cfg.stream.allowed_lateness_seconds as i64 * 1000;
            let Worker {
                engine,
                outputs,
                offsets,
                rows,
                owned,
                latency,
                summary,
                fatal,
                ..
            } = self;
            for (i, o) in rows.iter().enumerate() {
                let row = cols.row(i);
                if let Some(clock) = owned.get_mut(&o.partition) {
                    match clock.max_ts {
                        Some(max) if row.ts_ms < max - lateness_ms => {
                            summary.late_events += 1;
                            metrics::counter!("warden_late_events_total").increment(1);
                        }
                        Some(max) if row.ts_ms <= max => {}
                        _ => clock.max_ts = Some(row.ts_ms),
                    }
                }
                let origin = Origin::Call {
                    partition: o.partition,
                    offset: o.offset,
                };
                engine.process_row_in(&row, o.partition as u32, &mut |_, d| {
                    match d {
                        Decision::Finding(f) => {
                            summary.findings += 1;
                            let activity = if f.seq == 0 { "create" } else { "update" };
                            metrics::counter!("warden_findings_total", "activity" => activity)
                                .increment(1);
                        }
                        Decision::Revocation(r) => {
                            summary.revocations += 1;
                            let mode = if r.shadow { "shadow" } else { "enforce" };
                            metrics::counter!("warden_revocations_total", "mode" => mode)
                                .increment(1);
                        }
                    }
                    match outputs.decision(d, origin) {
                        Ok(()) => offsets.sent(o.partition, o.offset),
                        Err(e) => {
                            fatal.get_or_insert(StreamError::Produce(e));
                        }
                    }
                });
                if let Some(ts) = o.kafka_ts_ms {
                    let us = super::telemetry::now_us() - ts * 1000;
                    latency.record_us(us.max(0) as u64);
                }
            }
            summary.events += rows.len() as u64;
            metrics::counter!("warden_events_total").increment(rows.len() as u64);
            self.rows.clear();
        }
        for (p, off) in self.window_msgs.drain(..) {
            self.offsets.processed(p, off);
        }
        if let Some(e) = self.fatal.take() {
            self.fail(e);
        }
    }

    /// Takes in the broker's acknowledgements and stores the offsets they
    /// release (committed in the background by librdkafka).
    pub fn store_offsets<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        let acks: Vec<_> = self.outputs.drain_acks().collect();
        for ack in acks {
            if let Some(err) = ack.error {
                self.fail(StreamError::Delivery(err));
                continue;
            }
            if let Origin::Call { partition, offset } = ack.origin {
                self.offsets.acked(partition, offset);
            }
        }
        if self.failed {
            return; // never commit past an output that was not delivered
        }
        let advanced = self.offsets.advanced();
        if advanced.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for (p, off) in advanced {
            if self.owned.contains_key(&p) {
                let _ =
                    tpl.add_partition_offset(&self.cfg.stream.calls_topic, p, Offset::Offset(off));
            }
        }
        if tpl.count() > 0 {
            if let Err(e) = consumer.store_offsets(&tpl) {
                tracing::warn!(error = %e, "storing offsets failed");
            }
        }
    }

    /// Waits for every output, stores and commits the offsets they release.
    fn settle<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>, commit: bool) {
        self.process_window();
        if let Err(e) = self.outputs.flush(FLUSH_TIMEOUT) {
            self.fail(StreamError::Produce(e));
            return;
        }
        self.store_offsets(consumer);
        if commit && !self.failed {
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) => {}
                // Nothing new since the last commit.
                Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "commit failed; offsets stay stored for the next")
                }
            }
        }
    }

    /// Writes the changed state of `partitions` as of their committed offsets.
    fn write_state(&mut self, partitions: &[i32]) -> usize {
        let started = Instant::now();
        let mut records = 0;
        let mut written = 0;
        for &p in partitions {
            let Some(safe) = self.offsets.safe_offset(p) else {
                continue; // nothing processed since it was restored
            };
            match state::checkpoint(&mut self.engine, &mut self.outputs, p, safe, true, now_ms()) {
                Ok(n) => {
                    records += n;
                    written += 1;
                }
                Err(e) => {
                    self.fail(e);
                    return records;
                }
            }
        }
        if let Err(e) = self.outputs.flush(FLUSH_TIMEOUT) {
            self.fail(StreamError::Produce(e));
        }
        for ack in self.outputs.drain_acks().collect::<Vec<_>>() {
            match (ack.error, ack.origin) {
                (Some(err), _) => self.fail(StreamError::Delivery(err)),
                (None, Origin::Call { partition, offset }) => self.offsets.acked(partition, offset),
                (None, Origin::State) => {}
            }
        }
        if written > 0 {
            CheckpointWritten {
                partitions: written,
                records,
                elapsed_ms: started.elapsed().as_millis() as u64,
            }
            .emit();
            self.summary.checkpoints += 1;
        }
        records
    }

    /// A periodic checkpoint (and gauges), between windows.
    pub fn tick<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        if self.last_gauges.elapsed() >= Duration::from_secs(1) {
            self.last_gauges = Instant::now();
            self.publish_gauges(consumer);
        }
        let every = Duration::from_secs(self.cfg.stream.checkpoint_interval_seconds as u64);
        if self.last_checkpoint.elapsed() >= every {
            self.checkpoint_all(consumer);
        }
    }

    /// Settles outputs, commits, and writes every owned partition's state.
    pub fn checkpoint_all<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        self.last_checkpoint = Instant::now();
        self.summary.agents_tracked = self.engine.agents_tracked() as u64;
        self.settle(consumer, true);
        if !self.failed {
            let parts: Vec<i32> = self.owned.keys().copied().collect();
            self.write_state(&parts);
        }
    }

    fn publish_gauges<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        if let Some(p99) = self.latency.publish() {
            self.summary.recent_p99_ms = p99;
        }
        metrics::gauge!("warden_agents_tracked").set(self.engine.agents_tracked() as f64);
        metrics::gauge!("warden_state_bytes").set(self.engine.state_bytes() as f64);
        metrics::gauge!("warden_assigned_partitions").set(self.owned.len() as f64);
        metrics::gauge!("warden_outputs_in_flight").set(self.offsets.outstanding() as f64);
        let _ = consumer;
        let lateness_ms = self.cfg.stream.allowed_lateness_seconds as i64 * 1000;
        if let Some(wm) = self
            .owned
            .values()
            .filter_map(|c| c.max_ts)
            .min()
            .map(|m| m - lateness_ms)
        {
            metrics::gauge!("warden_event_time_watermark_seconds").set(wm as f64 / 1000.0);
        }
    }

    fn on_revoke<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        tpl: &TopicPartitionList,
    ) {
        let lost = consumer.assignment_lost();
        let parts: Vec<i32> = tpl
            .elements_for_topic(&self.cfg.stream.calls_topic)
            .iter()
            .map(|e| e.partition())
            .filter(|p| self.owned.contains_key(p))
            .collect();
        if parts.is_empty() {
            return;
        }
        self.health
            .ready
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let mut written = 0;
        if lost || self.failed {
            // Lost: another member may own these already, so neither commit
            // nor write state over theirs. Failed: outputs were not
            // delivered. Either way the records since the last commit are
            // read again by the next owner.
            if !self.failed {
                self.process_window();
            }
        } else {
            self.settle(consumer, true);
            if !self.failed {
                written = self.write_state(&parts);
            }
        }
        for p in parts {
            let dropped = self.engine.drop_partition(p as u32);
            self.offsets.remove(p);
            self.owned.remove(&p);
            PartitionRevoked {
                partition: p,
                state_records_written: written,
                agents_dropped: dropped,
                lost,
            }
            .emit();
        }
        self.health
            .ready
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn on_assign<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        tpl: &TopicPartitionList,
    ) {
        let topic = self.cfg.stream.calls_topic.clone();
        let parts: Vec<i32> = tpl
            .elements_for_topic(&topic)
            .iter()
            .map(|e| e.partition())
            .filter(|p| !self.owned.contains_key(p))
            .collect();
        self.health
            .ready
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let timeout = Duration::from_secs(self.cfg.stream.restore_timeout_seconds as u64);
        let mut query = TopicPartitionList::new();
        for &p in &parts {
            query.add_partition(&topic, p);
        }
        let committed = match consumer.committed_offsets(query, timeout) {
            Ok(c) => c,
            Err(e) => {
                self.fail(StreamError::Restore(format!("committed offsets: {e}")));
                return;
            }
        };
        for p in parts {
            let started = Instant::now();
            let deadline = started + timeout;
            self.health.beat();
            let restored = match state::restore(
                &self.restorer,
                &self.cfg.stream.state_topic,
                &mut self.engine,
                p,
                deadline,
            ) {
                Ok(r) => r,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            };
            let committed_offset =
                committed
                    .find_partition(&topic, p)
                    .and_then(|e| match e.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    });
            let mut warmup = 0;
            // Catch the state up to the committed offset: from the checkpoint
            // it was written at, or, with no checkpoint at all (the state was
            // lost, or the instance died before its first one), from the
            // oldest call the topic still retains.
            let from = restored.checkpoint.map_or(0, |c| c.source_offset);
            if let Some(k) = committed_offset {
                if from < k {
                    let decoder = RecordDecoder {
                        format: self.cfg.input.format,
                        k8s_stage: &self.cfg.input.k8s_stage,
                    };
                    match state::warm_up(
                        &self.restorer,
                        &topic,
                        &decoder,
                        &mut self.engine,
                        p,
                        from,
                        k,
                        deadline,
                    ) {
                        Ok(n) => warmup = n,
                        // Partial baselines beat no service: go live, say so.
                        Err(e) => tracing::warn!(
                            partition = p,
                            error = %e,
                            "warm-up incomplete; this partition's baselines miss some history"
                        ),
                    }
                }
            }
            self.summary.agents_restored += restored.agents as u64;
            self.summary.warmup_events += warmup;
            self.owned.insert(p, EventClock::default());
            PartitionAssigned {
                partition: p,
                agents_restored: restored.agents,
                warmup_events: warmup,
                checkpoint_offset: restored.checkpoint.map(|c| c.source_offset),
                committed_offset,
                elapsed_ms: started.elapsed().as_millis() as u64,
            }
            .emit();
        }
        self.health
            .ready
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn finish(&mut self) -> RunSummary {
        let (p50, p99, p999, n) = self.latency.summary_ms();
        let mut s = self.summary.clone();
        s.latency_p50_ms = p50;
        s.latency_p99_ms = p99;
        s.latency_p999_ms = p999;
        s.latency_samples = n;
        s.agents_tracked = s.agents_tracked.max(self.engine.agents_tracked() as u64);
        s.backpressure_waits = self.outputs.backpressure_waits;
        s
    }
}

fn record_error(offset: i64, reason: &str) -> DecodeError {
    DecodeError {
        line: offset.max(0) as u64,
        record: None,
        field: None,
        reason: reason.into(),
    }
}

/// The consumer's context: rebalance callbacks hand state over through the
/// shared worker.
pub struct WorkerContext {
    pub worker: Arc<Mutex<Worker>>,
}

impl WorkerContext {
    pub fn lock(&self) -> MutexGuard<'_, Worker> {
        // A panic while holding the lock leaves the engine in an unknown
        // state; the poisoned guard is still the best information we have.
        self.worker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ClientContext for WorkerContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        super::kafka::log_librdkafka("consumer", level, fac, msg);
    }

    /// librdkafka's statistics (every `statistics.interval.ms`): consumer lag
    /// summed over the assigned partitions, as librdkafka computes it from
    /// the broker's high watermarks.
    fn stats(&self, stats: rdkafka::Statistics) {
        let lag: i64 = stats
            .topics
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|(p, _)| **p >= 0)
            .map(|(_, p)| p.consumer_lag.max(0))
            .sum();
        metrics::gauge!("warden_consumer_lag").set(lag as f64);
    }
}

impl ConsumerContext for WorkerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            self.lock().on_revoke(consumer, tpl);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => self.lock().on_assign(consumer, tpl),
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }
}
