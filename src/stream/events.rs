//! Internal events of the streaming service: each one both logs and counts,
//! so what the logs say and what /metrics says cannot drift apart.

use crate::event::DecodeError;

/// A call record that could not be decoded went to the dead-letter topic.
pub struct RecordDeadLettered<'a> {
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
pub struct PartitionAssigned {
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
pub struct PartitionRevoked {
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
pub struct CheckpointWritten {
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
