//! The poll loop and the worker it feeds. One thread polls the group consumer
//! (so heartbeats and rebalance callbacks are always served) and scores what
//! it polls in small windows; rebalance callbacks take the same worker lock
//! to hand state over between windows, never in the middle of one.

use super::events::{
    CallsScored, DecisionMade, LateEventSeen, OutputRefusedTooLarge, RecordDeadLettered,
    RecordIsolated,
};
use super::fleet::FleetFeed;
use super::isolate::{decode_isolated, isolate};
use super::offsets::OffsetTracker;
use super::output::{Ack, DeadLetter, Origin, Outputs};
use super::suppressions::SuppressionFeed;
use super::telemetry::{Health, Latency, EVENT_TO_DECISION, POLL_TO_DECISION};
use super::{RunSummary, StreamError};
use crate::adapt::{latest_ts_from, RecordDecoder};
use crate::config::Config;
use crate::decide::Decision;
use crate::engine::Engine;
use crate::event::{prefix, CallBatchBuilder, CallColumns, CallEvent, DecodeError};
use crate::inventory::LiveInventory;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod context;
mod handover;
mod inventory;
pub(crate) use context::WorkerContext;

/// Longest wait for the broker to acknowledge outputs before a commit.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the sinks beyond Kafka before a commit: a SIEM that is
/// down must not hold up a rebalance; what it holds stays uncommitted.
pub(crate) const SINK_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per scoring window when the consumer has a backlog.
pub(crate) const WINDOW_ROWS: usize = 1024;
/// Longest a window stays open for more records after its first was polled:
/// bounds poll→decision (this wait, then decoding and scoring the window's
/// rows) well under a millisecond, while a backlog still fills windows of a
/// few hundred rows.
pub(crate) const WINDOW_WAIT: Duration = Duration::from_micros(200);

/// Where one scored row came from.
#[derive(Clone, Copy)]
struct RowOrigin {
    partition: i32,
    offset: i64,
    kafka_ts_ms: Option<i64>,
    /// When the consumer's poll returned its record.
    polled: Instant,
}

/// Event time per partition: the newest event seen, and so the watermark.
#[derive(Default, Clone, Copy)]
struct EventClock {
    max_ts: Option<i64>,
}

pub(crate) struct Worker {
    engine: Engine,
    /// The live inventory (None when `[stream] inventory_topic` is "").
    inventory: Option<LiveInventory>,
    /// The suppressions topic (None when `[stream] suppressions_topic` is "").
    suppressions: Option<SuppressionFeed>,
    /// The fleet topic (None when `[stream] fleet_topic` is "").
    fleet: Option<FleetFeed>,
    /// The guardrail policy files, watched for changes and SIGHUP.
    policies: Option<super::policies::PolicyWatch>,
    cfg: Config,
    outputs: Outputs,
    restorer: BaseConsumer,
    offsets: OffsetTracker,
    builder: CallBatchBuilder,
    rows: Vec<RowOrigin>,
    window_msgs: Vec<(i32, i64)>,
    /// When the window opened, on both clocks: the newest event time a
    /// record may carry is judged against it, and each decision's wall time
    /// is taken from it and the monotonic clock (one clock read per call).
    window_opened: Option<(Instant, i64)>,
    owned: BTreeMap<i32, EventClock>,
    /// Kafka timestamp → decision.
    latency: Latency,
    /// Poll → decision: this process's share of the latency.
    poll_latency: Latency,
    pub summary: RunSummary,
    /// The decisions of the call being scored (reused).
    decided: Vec<Decision>,
    fatal: Option<StreamError>,
    /// Set for good by the first fatal error: from then on nothing is
    /// committed and no state is written (the state may already reflect
    /// calls whose outputs were not delivered).
    failed: bool,
    health: Arc<Health>,
    last_checkpoint: Instant,
    last_gauges: Instant,
    last_inventory_publish: Instant,
}

impl Worker {
    /// `engine` is built from the same config (`Engine::from_config`).
    pub fn new(
        cfg: Config,
        engine: Engine,
        inventory: Option<LiveInventory>,
        outputs: Outputs,
        restorer: BaseConsumer,
        health: Arc<Health>,
    ) -> Self {
        Worker {
            engine,
            inventory,
            suppressions: None,
            fleet: None,
            policies: None,
            outputs,
            restorer,
            offsets: OffsetTracker::default(),
            builder: CallBatchBuilder::with_capacity(WINDOW_ROWS),
            rows: Vec::with_capacity(WINDOW_ROWS),
            window_msgs: Vec::with_capacity(WINDOW_ROWS),
            window_opened: None,
            owned: BTreeMap::new(),
            latency: Latency::new(EVENT_TO_DECISION),
            poll_latency: Latency::new(POLL_TO_DECISION),
            summary: RunSummary::default(),
            decided: Vec::new(),
            fatal: None,
            failed: false,
            health,
            last_checkpoint: Instant::now(),
            last_gauges: Instant::now(),
            last_inventory_publish: Instant::now(),
            cfg,
        }
    }

    /// Follows the suppressions topic from here on, `in_force` now.
    pub(crate) fn follow_suppressions(
        &mut self,
        feed: SuppressionFeed,
        in_force: Arc<crate::decide::SuppressionSet>,
    ) {
        self.put_in_force(in_force);
        self.suppressions = Some(feed);
    }

    /// Follows the fleet topic from here on (`feed` has caught up).
    pub(crate) fn follow_fleet(&mut self, feed: FleetFeed) {
        self.fleet = Some(feed);
    }

    /// Takes in the other members' new shares of the agent-type-wide view,
    /// between windows.
    pub(crate) fn poll_fleet(&mut self) {
        if let Some(feed) = self.fleet.as_mut() {
            feed.poll(&mut self.engine);
        }
    }

    /// Reloads the guardrail policies from here on when `watch` sees a
    /// change; the set the engine started with is recorded now.
    pub(crate) fn watch_policies(&mut self, watch: super::policies::PolicyWatch) {
        metrics::gauge!("warden_policy_rules").set(self.engine.policies().len() as f64);
        let digest = Some(self.engine.policies().digest().to_string());
        if let Err(e) = self.outputs.audit_policies(digest) {
            self.fail(e);
        }
        self.policies = Some(watch);
    }

    /// Puts reloaded policies in force between windows (no call is
    /// between two sets); a refused set leaves the one in force.
    pub(crate) fn poll_policies(&mut self) {
        let Some(result) = self.policies.as_mut().and_then(|w| w.poll()) else {
            return;
        };
        super::events::PoliciesReloaded {
            result: result.as_deref(),
        }
        .emit();
        if let Ok(set) = result {
            if let Err(e) = self.outputs.audit_policies(Some(set.digest().to_string())) {
                self.fail(e);
            }
            self.engine.set_policies(set);
        }
    }

    /// Puts new suppressions in force between windows.
    pub(crate) fn poll_suppressions(&mut self) {
        if let Some(set) = self.suppressions.as_mut().and_then(SuppressionFeed::poll) {
            self.put_in_force(set);
        }
    }

    /// Hands `set` to the engine and records it in the decision log: an
    /// audit must be able to tell which suppressions kept what down.
    fn put_in_force(&mut self, set: Arc<crate::decide::SuppressionSet>) {
        if let Err(e) = self.outputs.audit_suppressions(&set) {
            self.fail(e);
        }
        self.engine.set_suppressions(set);
    }

    pub(crate) fn window_len(&self) -> usize {
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

    pub(crate) fn take_fatal(&mut self) -> Option<StreamError> {
        self.fatal.take()
    }

    /// Decodes one polled record into the current window. Records that do
    /// not decode go to the dead-letter topic; their good neighbours (and the
    /// good events of a partly bad envelope) are scored.
    /// `polled` is when the consumer's poll returned it.
    pub(crate) fn ingest(&mut self, m: &BorrowedMessage<'_>, polled: Instant) {
        let (partition, offset) = (m.partition(), m.offset());
        if !self.owned.contains_key(&partition) {
            // Fetched before a revoke took effect: the new owner reads it.
            return;
        }
        let kafka_ts_ms = m.timestamp().to_millis();
        self.summary.records += 1;
        let (_, opened_us) = *self
            .window_opened
            .get_or_insert_with(|| (polled, super::telemetry::now_us()));
        let mut errors: Vec<DecodeError> = Vec::new();
        let mut good = 0usize;
        match m.payload().map(std::str::from_utf8) {
            None => errors.push(record_error(offset, "record has no value")),
            Some(Err(_)) => errors.push(record_error(offset, "record value is not valid UTF-8")),
            Some(Ok(text)) => {
                let decoder = RecordDecoder {
                    format: self.cfg.input.format,
                    k8s_stage: &self.cfg.input.k8s_stage,
                    latest_ts_ms: latest_ts_from(opened_us / 1000, self.cfg.input.future_skew_ms()),
                    limits: self.cfg.input.field_limits(),
                };
                let (builder, rows) = (&mut self.builder, &mut self.rows);
                let mut push = |ev: &CallEvent<'_>| {
                    builder.push(ev);
                    rows.push(RowOrigin {
                        partition,
                        offset,
                        kafka_ts_ms,
                        polled,
                    });
                    good += 1;
                };
                let line = offset.max(0) as u64;
                let skipped = decode_isolated(partition, line, &mut |e| errors.push(e), |bad| {
                    decoder.decode(text.trim(), line, &mut push, bad)
                });
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
    pub(crate) fn process_window(&mut self) {
        if self.window_msgs.is_empty() {
            return;
        }
        if !self.builder.is_empty() {
            if let Err(e) = self.score_window() {
                self.fail(e);
            }
            self.rows.clear();
        }
        self.window_opened = None;
        for (p, off) in self.window_msgs.drain(..) {
            self.offsets.processed(p, off);
        }
    }

    /// Scores the built window; the first output that cannot be produced
    /// stops it (the service then stops without committing).
    fn score_window(&mut self) -> Result<(), StreamError> {
        let batch = self.builder.finish();
        let cols = CallColumns::new(&batch).map_err(|e| StreamError::Engine(e.into()))?;
        let lateness_ms = self.cfg.stream.allowed_lateness_seconds as i64 * 1000;
        // Set by the window's first record.
        let (opened, opened_us) = self
            .window_opened
            .unwrap_or_else(|| (Instant::now(), super::telemetry::now_us()));
        let Worker {
            engine,
            inventory,
            cfg,
            outputs,
            offsets,
            rows,
            owned,
            latency,
            poll_latency,
            summary,
            decided,
            ..
        } = self;
        for (i, o) in rows.iter().enumerate() {
            let row = cols.row(i);
            if let Some(clock) = owned.get_mut(&o.partition) {
                match clock.max_ts {
                    Some(max) if row.ts_ms < max - lateness_ms => {
                        summary.late_events += 1;
                        LateEventSeen.emit();
                    }
                    Some(max) if row.ts_ms <= max => {}
                    _ => clock.max_ts = Some(row.ts_ms),
                }
            }
            let origin = Origin::Call {
                partition: o.partition,
                offset: o.offset,
            };
            let scored = isolate(|| {
                engine.process_row_in(&row, o.partition as u32, &mut |_, d| {
                    decided.push(d.clone())
                })
            });
            if let Err(reason) = scored {
                // A bug met on this call: its decisions so far are dropped,
                // the call goes to the dead-letter topic in canonical form,
                // and the window goes on.
                decided.clear();
                RecordIsolated {
                    partition: o.partition,
                    offset: o.offset,
                    stage: "score",
                    reason: &reason,
                }
                .emit();
                summary.dead_letters += 1;
                let error = DecodeError {
                    line: o.offset.max(0) as u64,
                    record: None,
                    field: None,
                    reason: format!(
                        "scoring failed on this call (isolated; please report it): {}",
                        prefix(&reason, 200)
                    ),
                };
                let value = row.to_event().to_json();
                let dl = DeadLetter {
                    topic: &cfg.stream.calls_topic,
                    partition: o.partition,
                    offset: o.offset,
                    timestamp_ms: o.kafka_ts_ms,
                    key: Some(row.agent_id.as_bytes()),
                    value: Some(value.as_bytes()),
                    headers: None,
                    error: &error,
                    good_events: 0,
                };
                outputs
                    .dead_letter(&dl, origin)
                    .map_err(StreamError::Produce)?;
                offsets.sent(o.partition, o.offset);
                continue;
            }
            for d in decided.drain(..) {
                match &d {
                    Decision::Finding(f) => {
                        summary.findings += 1;
                        DecisionMade::Finding {
                            activity: f.activity,
                            detector: f.lead_detector(),
                        }
                        .emit();
                    }
                    Decision::Revocation(r) => {
                        summary.revocations += 1;
                        DecisionMade::Revocation { shadow: r.shadow }.emit();
                    }
                    Decision::Suppressed(s) => {
                        summary.findings_suppressed += 1;
                        DecisionMade::Suppressed {
                            detector: s.finding.lead_detector(),
                        }
                        .emit();
                    }
                    Decision::Violation(v) => {
                        summary.policy_violations += 1;
                        DecisionMade::Violation {
                            severity: v.rule.severity.as_str(),
                        }
                        .emit();
                    }
                }
                for _ in 0..outputs.decision(&d, origin)? {
                    offsets.sent(o.partition, o.offset);
                }
            }
            if let Some(inv) = inventory.as_mut() {
                let watermark = owned
                    .get(&o.partition)
                    .and_then(|c| c.max_ts)
                    .map(|m| m - lateness_ms);
                inventory::observe(inv, &row, o.partition, watermark, &mut |ev| {
                    inventory::send_review(outputs, offsets, summary, ev, origin)
                })?;
            }
            let decided_at = Instant::now();
            poll_latency.record_us(decided_at.duration_since(o.polled).as_micros() as u64);
            if let Some(ts) = o.kafka_ts_ms {
                let now_us = opened_us + decided_at.duration_since(opened).as_micros() as i64;
                latency.record_us((now_us - ts * 1000).max(0) as u64);
            }
        }
        summary.events += rows.len() as u64;
        CallsScored { calls: rows.len() }.emit();
        Ok(())
    }

    /// Takes in the broker's acknowledgements and stores the offsets they
    /// release (committed in the background by librdkafka).
    pub(crate) fn store_offsets<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        let acks: Vec<_> = self.outputs.drain_acks().collect();
        for ack in acks {
            self.take_ack(ack);
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
                if let Err(e) =
                    tpl.add_partition_offset(&self.cfg.stream.calls_topic, p, Offset::Offset(off))
                {
                    tracing::warn!(partition = p, offset = off, error = %e, "offset not stored");
                }
            }
        }
        if tpl.count() > 0 {
            if let Err(e) = consumer.store_offsets(&tpl) {
                tracing::warn!(error = %e, "storing offsets failed");
            }
        }
    }

    /// One output's answer: delivered releases its call's offset; refused
    /// as too large is counted and releases it too (the record would be
    /// refused again on every retry and restart); any other failure stops
    /// the service without committing.
    pub(crate) fn take_ack(&mut self, ack: Ack) {
        match (ack.error, ack.origin) {
            (Some(err), Origin::Fleet { partition }) => {
                super::events::FleetShareUndelivered {
                    partition,
                    error: &err,
                }
                .emit();
                self.engine.republish_fleet_share(partition as u32);
            }
            (Some(err), origin) if ack.too_large => {
                OutputRefusedTooLarge {
                    state: origin == Origin::State,
                    error: &err,
                }
                .emit();
                self.summary.outputs_refused_too_large += 1;
                if let Origin::Call { partition, offset } = origin {
                    self.offsets.acked(partition, offset);
                }
            }
            (Some(err), _) => self.fail(StreamError::Delivery(err)),
            (None, Origin::Call { partition, offset }) => self.offsets.acked(partition, offset),
            (None, Origin::State | Origin::Inventory | Origin::Fleet { .. }) => {}
        }
    }

    pub fn finish(&mut self) -> RunSummary {
        let (p50, p99, p999, n) = self.latency.summary_ms();
        let mut s = self.summary.clone();
        s.latency_p50_ms = p50;
        s.latency_p99_ms = p99;
        s.latency_p999_ms = p999;
        s.latency_samples = n;
        let (p50, p99, p999, _) = self.poll_latency.summary_ms();
        s.poll_decision_p50_ms = p50;
        s.poll_decision_p99_ms = p99;
        s.poll_decision_p999_ms = p999;
        s.agents_tracked = s.agents_tracked.max(self.engine.agents_tracked() as u64);
        s.cohorts_split = self.engine.counters().cohorts_split;
        s.inventory_identities = s
            .inventory_identities
            .max(self.inventory.as_ref().map_or(0, |i| i.identities() as u64));
        s.backpressure_waits = self.outputs.backpressure_waits();
        s.outputs_truncated = self.outputs.truncated();
        s.sinks = self.outputs.sink_stats();
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
