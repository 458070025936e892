//! Checkpoints and rebalances: settling outputs, committing, writing state
//! to the state topic, and taking partitions over (restore, warm-up).

use super::{EventClock, Worker, FLUSH_TIMEOUT, SINK_DRAIN_TIMEOUT};
use crate::adapt::{latest_ts_from_now, RecordDecoder};
use crate::stream::events::{
    CheckpointWritten, CohortsSplit, PartitionAssigned, PartitionRevoked, WorkerGauges,
};
use crate::stream::telemetry::now_ms;
use crate::stream::{state, StreamError};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

impl Worker {
    /// Waits for every Kafka output, and up to `sink_wait` for the sinks
    /// beyond Kafka; stores and commits the offsets they release.
    fn settle<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        commit: bool,
        sink_wait: Duration,
    ) {
        self.process_window();
        if let Err(e) = self.outputs.flush(FLUSH_TIMEOUT) {
            self.fail(StreamError::Produce(e));
            return;
        }
        if !self.outputs.drain_sinks(sink_wait) && !sink_wait.is_zero() {
            tracing::warn!("sinks still hold records; their input offsets stay uncommitted");
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
            let done = state::checkpoint(
                &mut self.engine,
                self.inventory.as_mut(),
                &mut self.outputs,
                p,
                safe,
                true,
                now_ms(),
            )
            .and_then(|n| self.outputs.audit_checkpoint(p, now_ms()).map(|()| n));
            match done {
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
            self.take_ack(ack);
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
    pub(crate) fn tick<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        self.poll_suppressions();
        self.poll_fleet();
        self.poll_policies();
        if self.last_gauges.elapsed() >= Duration::from_secs(1) {
            self.last_gauges = Instant::now();
            self.publish_gauges();
            self.publish_inventory_due();
        }
        let every = Duration::from_secs(self.cfg.stream.checkpoint_interval_seconds as u64);
        if self.last_checkpoint.elapsed() >= every {
            // Without waiting for the sinks beyond Kafka: what they hold is
            // committed once they deliver it, and a SIEM that is down must
            // not stall scoring for a drain timeout at every checkpoint.
            self.checkpoint_all(consumer, Duration::ZERO);
        }
    }

    /// Settles outputs (waiting up to `sink_wait` for the sinks beyond
    /// Kafka), commits, and writes every owned partition's state.
    pub(crate) fn checkpoint_all<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        sink_wait: Duration,
    ) {
        self.last_checkpoint = Instant::now();
        self.summary.agents_tracked = self.engine.agents_tracked() as u64;
        if let Some(inv) = &self.inventory {
            self.summary.inventory_identities = inv.identities() as u64;
        }
        self.settle(consumer, true, sink_wait);
        if !self.failed {
            let parts: Vec<i32> = self.owned.keys().copied().collect();
            self.write_state(&parts);
        }
    }

    fn publish_gauges(&mut self) {
        if let Some(p99) = self.latency.publish() {
            self.summary.recent_p99_ms = p99;
        }
        self.poll_latency.publish();
        let lateness_ms = self.cfg.stream.allowed_lateness_seconds as i64 * 1000;
        let counters = self.engine.counters();
        if counters.cohorts_split > self.summary.cohorts_split {
            self.summary.cohorts_split = counters.cohorts_split;
            CohortsSplit {
                total: counters.cohorts_split,
            }
            .emit();
        }
        WorkerGauges {
            agents_tracked: self.engine.agents_tracked(),
            agents_capacity: self.cfg.engine.max_agents,
            ready: self.health.ready.load(std::sync::atomic::Ordering::Relaxed),
            state_bytes: self.engine.state_bytes(),
            assigned_partitions: self.owned.len(),
            outputs_in_flight: self.offsets.outstanding(),
            agents_evicted: counters.agents_evicted,
            agents_evicted_on_probation: counters.agents_evicted_on_probation,
            cohorts_overflowed: counters.cohorts_overflowed,
            cohorts_split: counters.cohorts_split,
            watermark_ms: self
                .owned
                .values()
                .filter_map(|c| c.max_ts)
                .min()
                .map(|m| m - lateness_ms),
            inventory_identities: self.inventory.as_ref().map_or(0, |i| i.identities()),
            fleet_partitions_shared: self.engine.fleet_partitions_shared(),
        }
        .emit();
    }

    pub(super) fn on_revoke<C: ConsumerContext>(
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
            // The next owner republishes only what changes after it takes
            // over: what changed here goes out now.
            self.process_window();
            self.publish_inventory(true);
            self.settle(consumer, true, SINK_DRAIN_TIMEOUT);
            if !self.failed {
                written = self.write_state(&parts);
            }
        }
        for p in parts {
            self.outputs.audit_close(p);
            let dropped = self.engine.drop_partition(p as u32);
            if let Some(inv) = self.inventory.as_mut() {
                inv.drop_partition(p as u32);
            }
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

    /// Restores the state of the partitions in `tpl` not owned yet and
    /// returns the offset each is to be consumed from (see
    /// [`state::Resume`]); none for those the consumer's reset policy
    /// places, or when the restore failed (the worker then stops).
    pub(super) fn on_assign<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        tpl: &TopicPartitionList,
    ) -> Vec<(i32, i64)> {
        let mut starts = Vec::new();
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
                return Vec::new();
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
                self.inventory.as_mut(),
                p,
                deadline,
            ) {
                Ok(r) => r,
                Err(e) => {
                    self.fail(e);
                    return Vec::new();
                }
            };
            if let Some(topic) = self.outputs.audit_topic().map(String::from) {
                let opened =
                    state::last_record(&self.restorer, &topic, p, deadline).and_then(|last| {
                        self.outputs
                            .audit_open(p, last.as_deref())
                            .map_err(|e| StreamError::Restore(format!("{topic}[{p}]: {e}")))
                    });
                if let Err(e) = opened {
                    self.fail(e);
                    return Vec::new();
                }
            }
            let committed_offset =
                committed
                    .find_partition(&topic, p)
                    .and_then(|e| match e.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    });
            let mut warmup = 0;
            let resume = state::Resume::at(
                restored.checkpoint.map(|c| c.source_offset),
                committed_offset,
            );
            if let Some(at) = resume.consume_from {
                starts.push((p, at));
            }
            // Catch the state up to the committed offset: from the checkpoint
            // it was written at, or, with no checkpoint at all (the state was
            // lost, or the instance died before its first one), from the
            // oldest call the topic still retains.
            if let Some((from, k)) = resume.warm_up {
                // The same rule as when these calls were first read, so
                // warm-up rebuilds the state they built.
                let decoder = RecordDecoder {
                    format: self.cfg.input.format,
                    k8s_stage: &self.cfg.input.k8s_stage,
                    latest_ts_ms: latest_ts_from_now(self.cfg.input.future_skew_ms()),
                    limits: self.cfg.input.field_limits(),
                };
                match state::warm_up(
                    &self.restorer,
                    &topic,
                    &decoder,
                    &mut self.engine,
                    self.inventory.as_mut(),
                    self.cfg.stream.allowed_lateness_seconds as i64 * 1000,
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
            self.summary.agents_restored += restored.agents as u64;
            self.summary.identities_restored += restored.identities as u64;
            self.summary.warmup_events += warmup;
            self.owned.insert(p, EventClock::default());
            PartitionAssigned {
                partition: p,
                agents_restored: restored.agents,
                warmup_events: warmup,
                checkpoint_offset: restored.checkpoint.map(|c| c.source_offset),
                committed_offset,
                consume_from: resume.consume_from,
                elapsed_ms: started.elapsed().as_millis() as u64,
            }
            .emit();
        }
        self.health
            .ready
            .store(true, std::sync::atomic::Ordering::Relaxed);
        starts
    }
}
