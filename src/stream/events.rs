//! Internal events of the streaming service: each one both logs and counts,
//! so what the logs say and what /metrics says cannot drift apart.

use crate::event::DecodeError;

/// A call record that could not be decoded went to the dead-letter topic.
pub(crate) struct RecordDeadLettered<'a> {
    pub partition: i32,
    pub offset: i64,
    pub error: &'a DecodeError,
    pub errors_in_record: usize,
}

impl RecordDeadLettered<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            partition = self.partition,
            offset = self.offset,
            record = self.error.record,
            field = self.error.field.as_deref().unwrap_or(""),
            errors = self.errors_in_record,
            "undecodable call record sent to the dead-letter topic: {}",
            self.error.reason
        );
        metrics::counter!("warden_decode_errors_total").increment(self.errors_in_record as u64);
        metrics::counter!("warden_dead_letters_total").increment(1);
    }
}

/// Partitions were taken over: state restored and warmed up.
pub(crate) struct PartitionAssigned {
    pub partition: i32,
    pub agents_restored: usize,
    pub warmup_events: u64,
    pub checkpoint_offset: Option<i64>,
    pub committed_offset: Option<i64>,
    pub elapsed_ms: u64,
}

impl PartitionAssigned {
    pub fn emit(&self) {
        tracing::info!(
            partition = self.partition,
            agents_restored = self.agents_restored,
            warmup_events = self.warmup_events,
            checkpoint_offset = self.checkpoint_offset,
            committed_offset = self.committed_offset,
            elapsed_ms = self.elapsed_ms,
            "partition assigned, state restored"
        );
        metrics::counter!("warden_partitions_assigned_total").increment(1);
        metrics::counter!("warden_state_agents_restored_total")
            .increment(self.agents_restored as u64);
        metrics::counter!("warden_warmup_events_total").increment(self.warmup_events);
    }
}

/// A partition was given up: its state written out (unless the assignment
/// was lost, when another instance may already own it).
pub(crate) struct PartitionRevoked {
    pub partition: i32,
    pub state_records_written: usize,
    pub agents_dropped: usize,
    pub lost: bool,
}

impl PartitionRevoked {
    pub fn emit(&self) {
        tracing::info!(
            partition = self.partition,
            state_records_written = self.state_records_written,
            agents_dropped = self.agents_dropped,
            lost = self.lost,
            "partition revoked"
        );
        metrics::counter!("warden_partitions_revoked_total").increment(1);
    }
}

/// Changed baselines were written to the state topic.
pub(crate) struct CheckpointWritten {
    pub partitions: usize,
    pub records: usize,
    pub elapsed_ms: u64,
}

impl CheckpointWritten {
    pub fn emit(&self) {
        tracing::debug!(
            partitions = self.partitions,
            records = self.records,
            elapsed_ms = self.elapsed_ms,
            "checkpoint written"
        );
        metrics::counter!("warden_checkpoints_total").increment(1);
        metrics::counter!("warden_state_records_written_total").increment(self.records as u64);
    }
}

/// A state record this build cannot read was skipped: the agent starts cold
/// rather than from a misread baseline.
pub(crate) struct StateRecordRejected<'a> {
    pub partition: i32,
    pub error: &'a dyn std::fmt::Display,
}

impl StateRecordRejected<'_> {
    pub fn emit(&self) {
        tracing::warn!(partition = self.partition, error = %self.error, "state record skipped");
        metrics::counter!("warden_state_records_rejected_total").increment(1);
    }
}

/// A call arrived further behind its partition's newest event time than
/// `allowed_lateness_seconds`: still scored, but counted, because a steady
/// stream of these means a producer's clock or a replayed backlog.
pub(crate) struct LateEventSeen;

impl LateEventSeen {
    pub fn emit(&self) {
        metrics::counter!("warden_late_events_total").increment(1);
    }
}

/// Calls scored in one window.
pub(crate) struct CallsScored {
    pub calls: usize,
}

impl CallsScored {
    pub fn emit(&self) {
        metrics::counter!("warden_events_total").increment(self.calls as u64);
    }
}

/// The engine decided something. Not logged here: the decision itself goes
/// to the findings or revocations topic.
pub(crate) enum DecisionMade {
    /// A finding was opened (`create`) or updated (`update`).
    Finding { update: bool },
    /// A revocation, enforced or in shadow mode.
    Revocation { shadow: bool },
}

impl DecisionMade {
    pub fn emit(&self) {
        match *self {
            DecisionMade::Finding { update } => {
                let activity = if update { "update" } else { "create" };
                metrics::counter!("warden_findings_total", "activity" => activity).increment(1);
            }
            DecisionMade::Revocation { shadow } => {
                let mode = if shadow { "shadow" } else { "enforce" };
                metrics::counter!("warden_revocations_total", "mode" => mode).increment(1);
            }
        }
    }
}

/// librdkafka's producer queue was full: the decision path waited for the
/// broker instead of buffering more.
pub(crate) struct OutputBackpressureWait;

impl OutputBackpressureWait {
    pub fn emit(&self) {
        metrics::counter!("warden_output_backpressure_waits_total").increment(1);
    }
}

/// The worker's view of itself, published as gauges at every settle.
pub(crate) struct WorkerGauges {
    pub agents_tracked: usize,
    pub state_bytes: usize,
    pub assigned_partitions: usize,
    pub outputs_in_flight: u64,
    /// Agents evicted to stay within `max_agents`, since the start.
    pub agents_evicted: u64,
    /// Of those, new identities evicted while on probation.
    pub agents_evicted_on_probation: u64,
    /// New agents put in a fallback cohort past `max_cohorts`.
    pub cohorts_overflowed: u64,
    /// The oldest owned partition's newest event time less the allowed
    /// lateness, when any partition has seen an event.
    pub watermark_ms: Option<i64>,
}

impl WorkerGauges {
    pub fn emit(&self) {
        metrics::gauge!("warden_agents_tracked").set(self.agents_tracked as f64);
        metrics::gauge!("warden_state_bytes").set(self.state_bytes as f64);
        metrics::gauge!("warden_assigned_partitions").set(self.assigned_partitions as f64);
        metrics::gauge!("warden_outputs_in_flight").set(self.outputs_in_flight as f64);
        metrics::counter!("warden_agents_evicted_total", "on_probation" => "false")
            .absolute(self.agents_evicted - self.agents_evicted_on_probation);
        metrics::counter!("warden_agents_evicted_total", "on_probation" => "true")
            .absolute(self.agents_evicted_on_probation);
        metrics::counter!("warden_cohorts_overflowed_total").absolute(self.cohorts_overflowed);
        if let Some(wm) = self.watermark_ms {
            metrics::gauge!("warden_event_time_watermark_seconds").set(wm as f64 / 1000.0);
        }
    }
}

/// Consumer lag summed over the assigned partitions, from librdkafka's
/// statistics.
pub(crate) struct ConsumerLagMeasured {
    pub lag: i64,
}

impl ConsumerLagMeasured {
    pub fn emit(&self) {
        metrics::gauge!("warden_consumer_lag").set(self.lag as f64);
    }
}

/// A latency to decision over the last interval, in seconds (event→decision
/// or poll→decision, named by `metric`).
pub(crate) struct DecisionLatencyMeasured {
    pub metric: &'static str,
    pub p50_s: f64,
    pub p99_s: f64,
    pub p999_s: f64,
}

impl DecisionLatencyMeasured {
    pub fn emit(&self) {
        for (label, v) in [
            ("0.5", self.p50_s),
            ("0.99", self.p99_s),
            ("0.999", self.p999_s),
        ] {
            metrics::gauge!(self.metric, "quantile" => label).set(v);
        }
    }
}

/// Decoding or scoring one record panicked (a bug): the record was isolated
/// to the dead-letter topic and the instance went on.
pub struct RecordIsolated<'a> {
    pub partition: i32,
    pub offset: i64,
    /// `decode` or `score`.
    pub stage: &'static str,
    pub reason: &'a str,
}

impl RecordIsolated<'_> {
    pub fn emit(&self) {
        tracing::error!(
            partition = self.partition,
            offset = self.offset,
            stage = self.stage,
            reason = self.reason,
            "a record made Warden panic; isolated to the dead-letter topic"
        );
        metrics::counter!("warden_records_isolated_total", "stage" => self.stage).increment(1);
    }
}

/// An output past the message size limit went out in its truncated form
/// (a finding with its long strings cut, a dead letter with the start of
/// its bytes).
pub(crate) struct OutputTruncated {
    /// `finding` or `dead_letter`.
    pub kind: &'static str,
    pub original_bytes: usize,
    pub limit: usize,
}

impl OutputTruncated {
    pub fn emit(&self) {
        tracing::warn!(
            kind = self.kind,
            original_bytes = self.original_bytes,
            limit = self.limit,
            "output larger than the message size limit; sent in truncated form"
        );
        metrics::counter!("warden_outputs_truncated_total", "kind" => self.kind).increment(1);
    }
}

/// The client or broker refused an output as too large: it was dropped,
/// not retried (it would be refused again on every restart).
pub(crate) struct OutputRefusedTooLarge<'a> {
    /// A state record rather than an output of a call.
    pub state: bool,
    pub error: &'a str,
}

impl OutputRefusedTooLarge<'_> {
    pub fn emit(&self) {
        let what = if self.state { "state" } else { "call_output" };
        tracing::error!(
            record = what,
            error = self.error,
            "an output was refused as too large and dropped: set [stream] max_message_bytes \
             to the broker's message.max.bytes"
        );
        metrics::counter!("warden_outputs_refused_too_large_total", "record" => what).increment(1);
    }
}
