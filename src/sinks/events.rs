//! Internal events of sink delivery. Each one logs (where a log line helps),
//! counts on /metrics and counts in the sink's own totals, so the three
//! cannot drift apart. Metric names are `warden_sink_*_total`, labelled by
//! the sink's name.

use super::SinkCounters;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Why a record was given up on; the `reason` label of
/// `warden_sink_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// The queue was full and the sink is set to drop the newest record.
    BufferFull,
    /// The receiver refused it in a way a retry cannot fix.
    Rejected,
    /// Still failing when the retry window ran out.
    RetriesExhausted,
    /// Still queued when the shutdown drain ended.
    Shutdown,
}

impl DropReason {
    fn label(self) -> &'static str {
        match self {
            DropReason::BufferFull => "buffer_full",
            DropReason::Rejected => "rejected",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::Shutdown => "shutdown",
        }
    }

    fn counter(self, c: &SinkCounters) -> &std::sync::atomic::AtomicU64 {
        match self {
            DropReason::BufferFull => &c.dropped_buffer_full,
            DropReason::Rejected => &c.dropped_rejected,
            DropReason::RetriesExhausted => &c.dropped_retries_exhausted,
            DropReason::Shutdown => &c.dropped_at_shutdown,
        }
    }
}

/// Every series a sink can report, at zero, from the moment it starts:
/// an alert on `increase(...)` and a dashboard need the series before the
/// first failure.
pub(crate) fn register(sink: &str) {
    for name in [
        "warden_sink_delivered_total",
        "warden_sink_retries_total",
        "warden_sink_duplicates_skipped_total",
        "warden_sink_backpressure_waits_total",
    ] {
        metrics::counter!(name, "sink" => sink.to_string()).absolute(0);
    }
    for reason in [
        DropReason::BufferFull,
        DropReason::Rejected,
        DropReason::RetriesExhausted,
        DropReason::Shutdown,
    ] {
        metrics::counter!("warden_sink_dropped_total", "sink" => sink.to_string(), "reason" => reason.label())
            .absolute(0);
    }
}

/// A record given up on: logged with its id (so it can be found on the
/// alerts topic) and counted.
pub(crate) struct SinkRecordDropped<'a> {
    pub sink: &'a str,
    pub counters: &'a SinkCounters,
    pub reason: DropReason,
    pub id: &'a str,
    pub error: &'a str,
}

impl SinkRecordDropped<'_> {
    pub fn emit(&self) {
        let reason = self.reason.label();
        tracing::error!(
            sink = self.sink,
            reason,
            id = self.id,
            error = self.error,
            "record not delivered to sink"
        );
        self.reason
            .counter(self.counters)
            .fetch_add(1, Ordering::Relaxed);
        metrics::counter!("warden_sink_dropped_total", "sink" => self.sink.to_string(), "reason" => reason)
            .increment(1);
    }
}

/// A failed send that will be tried again.
pub(crate) struct SinkRetry<'a> {
    pub sink: &'a str,
    pub counters: &'a SinkCounters,
    pub records: usize,
    pub attempt: u32,
    pub delay: Duration,
    pub error: &'a str,
}

impl SinkRetry<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            sink = self.sink,
            records = self.records,
            attempt = self.attempt,
            retry_in_ms = self.delay.as_millis() as u64,
            error = self.error,
            "sink delivery failed; retrying"
        );
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("warden_sink_retries_total", "sink" => self.sink.to_string())
            .increment(1);
    }
}

/// A send the receiver accepted. Not logged: it is the normal case, once
/// per batch.
pub(crate) struct SinkBatchDelivered<'a> {
    pub sink: &'a str,
    pub counters: &'a SinkCounters,
    pub records: usize,
}

impl SinkBatchDelivered<'_> {
    pub fn emit(&self) {
        let n = self.records as u64;
        self.counters.delivered.fetch_add(n, Ordering::Relaxed);
        metrics::counter!("warden_sink_delivered_total", "sink" => self.sink.to_string())
            .increment(n);
    }
}

/// A send attempt, whatever its outcome.
pub(crate) struct SinkRequestSent<'a> {
    pub counters: &'a SinkCounters,
}

impl SinkRequestSent<'_> {
    pub fn emit(&self) {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// A record already delivered within the retry window (or already in the
/// batch) was answered for without sending it again.
pub(crate) struct SinkDuplicateSkipped<'a> {
    pub sink: &'a str,
    pub counters: &'a SinkCounters,
}

impl SinkDuplicateSkipped<'_> {
    pub fn emit(&self) {
        self.counters
            .duplicates_skipped
            .fetch_add(1, Ordering::Relaxed);
        metrics::counter!("warden_sink_duplicates_skipped_total", "sink" => self.sink.to_string())
            .increment(1);
    }
}

/// The sink's queue was full and the sink is set to block: the decision
/// path waits for it.
pub(crate) struct SinkBackpressureWait<'a> {
    pub sink: &'a str,
}

impl SinkBackpressureWait<'_> {
    pub fn emit(&self) {
        metrics::counter!("warden_sink_backpressure_waits_total", "sink" => self.sink.to_string())
            .increment(1);
    }
}
