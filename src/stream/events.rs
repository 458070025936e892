//! Internal events of the streaming service: each one both logs and counts,
//! so what the logs say and what /metrics says cannot drift apart.

use crate::decide::FindingActivity;
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
    /// Where consuming goes on (the later of the two above).
    pub consume_from: Option<i64>,
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
            consume_from = self.consume_from,
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

/// Agents of one cohort arrived on more than one partition of the calls
/// topic (it is keyed by agent, not by tenant): each member scores such a
/// cohort against the sample of it its own partitions hold, so what a call
/// scores depends on which member holds what (docs/streaming.md, "Keying
/// the calls topic"). Logged when the count grows.
pub(crate) struct CohortsSplit {
    pub total: u64,
}

impl CohortsSplit {
    pub fn emit(&self) {
        tracing::warn!(
            cohorts = self.total,
            "cohorts span partitions of the calls topic; key it by each agent's own tenant so each member sees whole cohorts"
        );
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
    /// A finding was opened (`create`), updated (`update`), closed
    /// (`close`) or reopened (`reopen`), labelled by the detector that
    /// contributed most (a fixed set of names).
    Finding {
        activity: FindingActivity,
        detector: &'static str,
    },
    /// A revocation, enforced or in shadow mode.
    Revocation { shadow: bool },
    /// A finding suppressions covered, recorded with status Suppressed.
    Suppressed { detector: &'static str },
    /// A guardrail policy violation, by the rule's severity.
    Violation { severity: &'static str },
}

/// Every finding activity, for registering the metric's series at zero.
const ACTIVITIES: [FindingActivity; 4] = [
    FindingActivity::Create,
    FindingActivity::Update,
    FindingActivity::Close,
    FindingActivity::Reopen,
];

/// The `activity` label of `warden_findings_total`.
fn activity_label(a: FindingActivity) -> &'static str {
    match a {
        FindingActivity::Create => "create",
        FindingActivity::Update => "update",
        FindingActivity::Close => "close",
        FindingActivity::Reopen => "reopen",
    }
}

impl DecisionMade {
    pub fn emit(&self) {
        match *self {
            DecisionMade::Finding { activity, detector } => {
                let activity = activity_label(activity);
                metrics::counter!("warden_findings_total", "activity" => activity, "detector" => detector)
                    .increment(1);
            }
            DecisionMade::Revocation { shadow } => {
                let mode = if shadow { "shadow" } else { "enforce" };
                metrics::counter!("warden_revocations_total", "mode" => mode).increment(1);
            }
            DecisionMade::Suppressed { detector } => {
                metrics::counter!("warden_findings_suppressed_total", "detector" => detector)
                    .increment(1);
            }
            DecisionMade::Violation { severity } => {
                metrics::counter!("warden_policy_violations_total", "severity" => severity)
                    .increment(1);
            }
        }
    }
}

/// The guardrail policies were reloaded, or a reload was refused (the
/// set in force stays).
pub(crate) struct PoliciesReloaded<'a> {
    pub result:
        Result<&'a crate::decide::policy::PolicySet, &'a crate::decide::policy::PolicyError>,
}

impl PoliciesReloaded<'_> {
    pub fn emit(&self) {
        match self.result {
            Ok(set) => {
                tracing::info!(
                    rules = set.len(),
                    identities = set.identities(),
                    digest = set.digest(),
                    "guardrail policies reloaded"
                );
                metrics::counter!("warden_policy_reloads_total", "result" => "applied")
                    .increment(1);
                metrics::gauge!("warden_policy_rules").set(set.len() as f64);
            }
            Err(e) => {
                tracing::error!(error = %e, "guardrail policies refused; the set in force stays");
                metrics::counter!("warden_policy_reloads_total", "result" => "refused")
                    .increment(1);
            }
        }
    }
}

/// A review finding of the live inventory (dormancy, unused grants) was
/// raised, updated or closed.
pub(crate) struct ReviewFindingMade<'a> {
    pub identity: &'a str,
    pub kind: &'static str,
    pub activity: &'static str,
}

impl ReviewFindingMade<'_> {
    pub fn emit(&self) {
        tracing::info!(
            identity = self.identity,
            kind = self.kind,
            activity = self.activity,
            "access review finding"
        );
        metrics::counter!("warden_review_findings_total", "kind" => self.kind, "activity" => self.activity)
            .increment(1);
    }
}

/// Inventory records went to the inventory topic.
pub(crate) struct InventoryPublished {
    pub records: usize,
    /// Every changed identity (the schedule), or only those with something new.
    pub scheduled: bool,
}

impl InventoryPublished {
    pub fn emit(&self) {
        tracing::debug!(
            records = self.records,
            scheduled = self.scheduled,
            "inventory records published"
        );
        metrics::counter!("warden_inventory_records_total").increment(self.records as u64);
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
    /// `[engine] max_agents`: past it, baselines are evicted.
    pub agents_capacity: usize,
    /// What /readyz answers (the state of every owned partition restored).
    pub ready: bool,
    pub state_bytes: usize,
    pub assigned_partitions: usize,
    pub outputs_in_flight: u64,
    /// Agents evicted to stay within `max_agents`, since the start.
    pub agents_evicted: u64,
    /// Of those, new identities evicted while on probation.
    pub agents_evicted_on_probation: u64,
    /// New agents put in a fallback cohort past `max_cohorts`.
    pub cohorts_overflowed: u64,
    /// Cohorts seen with agents on more than one partition.
    pub cohorts_split: u64,
    /// The oldest owned partition's newest event time less the allowed
    /// lateness, when any partition has seen an event.
    pub watermark_ms: Option<i64>,
    /// Identities in the live inventory (0 when it is off).
    pub inventory_identities: usize,
    /// Partitions whose share of the agent-type-wide view other members
    /// published (the fleet topic).
    pub fleet_partitions_shared: usize,
}

impl WorkerGauges {
    pub fn emit(&self) {
        metrics::gauge!("warden_agents_tracked").set(self.agents_tracked as f64);
        metrics::gauge!("warden_agents_capacity").set(self.agents_capacity as f64);
        metrics::gauge!("warden_ready").set(if self.ready { 1.0 } else { 0.0 });
        metrics::gauge!("warden_state_bytes").set(self.state_bytes as f64);
        metrics::gauge!("warden_assigned_partitions").set(self.assigned_partitions as f64);
        metrics::gauge!("warden_outputs_in_flight").set(self.outputs_in_flight as f64);
        metrics::counter!("warden_agents_evicted_total", "on_probation" => "false")
            .absolute(self.agents_evicted - self.agents_evicted_on_probation);
        metrics::counter!("warden_agents_evicted_total", "on_probation" => "true")
            .absolute(self.agents_evicted_on_probation);
        metrics::counter!("warden_cohorts_overflowed_total").absolute(self.cohorts_overflowed);
        metrics::counter!("warden_cohorts_split_total").absolute(self.cohorts_split);
        metrics::gauge!("warden_inventory_identities").set(self.inventory_identities as f64);
        metrics::gauge!("warden_fleet_partitions_shared").set(self.fleet_partitions_shared as f64);
        if let Some(wm) = self.watermark_ms {
            metrics::gauge!("warden_event_time_watermark_seconds").set(wm as f64 / 1000.0);
        }
    }
}

/// Consumer lag from librdkafka's statistics: summed over this member's
/// partitions, and per partition of each topic it knows (0 for partitions
/// it does not own, so a partition that moved away is not counted twice).
pub(crate) struct ConsumerLagMeasured<'a> {
    pub lag: i64,
    /// (topic, partition, lag) for every partition in the statistics.
    pub partitions: &'a [(&'a str, i32, i64)],
}

impl ConsumerLagMeasured<'_> {
    pub fn emit(&self) {
        metrics::gauge!("warden_consumer_lag").set(self.lag as f64);
        for &(topic, partition, lag) in self.partitions {
            metrics::gauge!(
                "warden_consumer_partition_lag",
                "topic" => topic.to_string(),
                "partition" => partition.to_string()
            )
            .set(lag as f64);
        }
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

/// Describes every series `warden run` publishes and sets each to zero at
/// start-up, so /metrics lists them all before the first event, the first
/// dead letter or the first revocation: alert rules on `increase(...)` and
/// the dashboard then see a zero rather than nothing.
pub(crate) fn register_series(max_agents: usize) {
    use metrics::{describe_counter, describe_gauge};
    const COUNTERS: [(&str, &str); 18] = [
        (
            "warden_suppression_updates_total",
            "Changes to the suppressions in force (topic records, start).",
        ),
        (
            "warden_suppressions_refused_total",
            "Suppressions topic records refused (bad, or past the cap).",
        ),
        ("warden_events_total", "Calls scored and decided."),
        (
            "warden_dead_letters_total",
            "Records sent to the dead-letter topic.",
        ),
        (
            "warden_decode_errors_total",
            "Errors found in dead-lettered records.",
        ),
        (
            "warden_late_events_total",
            "Calls older than the allowed lateness (still scored).",
        ),
        (
            "warden_partitions_assigned_total",
            "Partitions this member took over.",
        ),
        (
            "warden_partitions_revoked_total",
            "Partitions this member handed over.",
        ),
        (
            "warden_state_agents_restored_total",
            "Agent baselines restored from the state topic.",
        ),
        (
            "warden_warmup_events_total",
            "Calls replayed without output to warm restored state.",
        ),
        (
            "warden_checkpoints_total",
            "Checkpoints of state to the state topic.",
        ),
        (
            "warden_state_records_written_total",
            "Records written to the state topic.",
        ),
        (
            "warden_state_records_rejected_total",
            "State records of an unreadable format (agent starts cold).",
        ),
        (
            "warden_output_backpressure_waits_total",
            "Times the producer queue was full and decisions waited.",
        ),
        (
            "warden_fleet_shares_published_total",
            "Owned partitions' shares of the agent-type-wide view published to the fleet topic.",
        ),
        (
            "warden_fleet_shares_adopted_total",
            "Other members' partition shares taken in from the fleet topic.",
        ),
        (
            "warden_fleet_shares_refused_total",
            "Fleet topic records refused (unreadable, or failing their checks).",
        ),
        (
            "warden_fleet_shares_undelivered_total",
            "Owned partitions' shares the broker did not take (sent again at the next checkpoint).",
        ),
    ];
    for (name, help) in COUNTERS {
        describe_counter!(name, help);
        metrics::counter!(name).absolute(0);
    }
    describe_counter!(
        "warden_cohorts_overflowed_total",
        "New agents put in a fallback cohort past max_cohorts."
    );
    metrics::counter!("warden_cohorts_overflowed_total").absolute(0);
    describe_counter!(
        "warden_cohorts_split_total",
        "Cohorts whose agents arrived on more than one partition of the calls topic."
    );
    metrics::counter!("warden_cohorts_split_total").absolute(0);
    describe_counter!(
        "warden_agents_evicted_total",
        "Agent baselines evicted to stay within max_agents."
    );
    for p in ["true", "false"] {
        metrics::counter!("warden_agents_evicted_total", "on_probation" => p).absolute(0);
    }
    describe_counter!(
        "warden_revocations_total",
        "Revocations decided, by mode (enforce or shadow)."
    );
    for mode in ["enforce", "shadow"] {
        metrics::counter!("warden_revocations_total", "mode" => mode).absolute(0);
    }
    describe_counter!(
        "warden_findings_total",
        "Finding records: opened (create), updated (update), closed after going quiet (close) or reopened soon after (reopen), by lead detector."
    );
    for activity in ACTIVITIES.map(activity_label) {
        for f in crate::signal::Feature::ALL {
            metrics::counter!("warden_findings_total", "activity" => activity, "detector" => f.name())
                .absolute(0);
        }
    }
    describe_counter!(
        "warden_findings_suppressed_total",
        "Findings suppressions covered (recorded with status Suppressed), by lead detector."
    );
    for f in crate::signal::Feature::ALL {
        metrics::counter!("warden_findings_suppressed_total", "detector" => f.name()).absolute(0);
    }
    describe_counter!(
        "warden_policy_reloads_total",
        "Guardrail policy reloads (file change or SIGHUP), applied or refused (the set in force stays)."
    );
    for result in ["applied", "refused"] {
        metrics::counter!("warden_policy_reloads_total", "result" => result).absolute(0);
    }
    describe_gauge!("warden_policy_rules", "Guardrail policy rules in force.");
    metrics::gauge!("warden_policy_rules").set(0.0);
    describe_counter!(
        "warden_policy_violations_total",
        "Guardrail policy violations (one per violating call and rule), by the rule's severity."
    );
    // Every severity a rule may carry (`@severity` refuses fatal).
    for severity in crate::decide::Severity::ALL {
        if severity != crate::decide::Severity::Fatal {
            metrics::counter!("warden_policy_violations_total", "severity" => severity.as_str())
                .absolute(0);
        }
    }
    describe_gauge!(
        "warden_suppressions",
        "Suppressions in force (file and topic)."
    );
    metrics::gauge!("warden_suppressions").set(0.0);
    describe_counter!(
        "warden_records_isolated_total",
        "Records whose decoding or scoring panicked, isolated to the dead-letter topic."
    );
    for stage in ["decode", "score"] {
        metrics::counter!("warden_records_isolated_total", "stage" => stage).absolute(0);
    }
    describe_counter!(
        "warden_outputs_truncated_total",
        "Outputs cut to fit max_message_bytes."
    );
    describe_counter!(
        "warden_outputs_refused_too_large_total",
        "Outputs too large even when cut."
    );
    for record in ["state", "call_output"] {
        metrics::counter!("warden_outputs_refused_too_large_total", "record" => record).absolute(0);
    }
    for (name, help) in [
        (
            "warden_ready",
            "1 when every owned partition's state is restored (what /readyz answers).",
        ),
        (
            "warden_agents_tracked",
            "Agents whose baselines this member holds.",
        ),
        (
            "warden_agents_capacity",
            "[engine] max_agents: past it, baselines are evicted.",
        ),
        (
            "warden_state_bytes",
            "Bytes of agent and cohort state held.",
        ),
        (
            "warden_assigned_partitions",
            "Partitions of the calls topic this member owns.",
        ),
        (
            "warden_outputs_in_flight",
            "Outputs produced and not yet acknowledged.",
        ),
        (
            "warden_fleet_partitions_shared",
            "Partitions whose share of the agent-type-wide view comes from other members.",
        ),
        (
            "warden_consumer_lag",
            "Calls behind the log end, summed over this member's partitions.",
        ),
    ] {
        describe_gauge!(name, help);
        metrics::gauge!(name).set(0.0);
    }
    metrics::gauge!("warden_agents_capacity").set(max_agents as f64);
    describe_gauge!(
        "warden_consumer_partition_lag",
        "Calls behind the log end, per partition (0 where not owned)."
    );
    describe_gauge!(
        "warden_event_time_watermark_seconds",
        "Oldest owned partition's newest event time less the allowed lateness."
    );
    describe_gauge!(
        "warden_inventory_identities",
        "Identities in this member's live inventory."
    );
    metrics::gauge!("warden_inventory_identities").set(0.0);
    describe_counter!(
        "warden_inventory_records_total",
        "Inventory records published to the inventory topic."
    );
    metrics::counter!("warden_inventory_records_total").absolute(0);
    describe_counter!(
        "warden_review_findings_total",
        "Access review findings (dormant, unused_grants) raised, updated or closed."
    );
    for kind in ["dormant", "unused_grants"] {
        for activity in ["create", "update", "close"] {
            metrics::counter!("warden_review_findings_total", "kind" => kind, "activity" => activity)
                .absolute(0);
        }
    }
}

/// The suppressions in force changed (a record on the suppressions topic,
/// or the catch-up at start).
pub(crate) struct SuppressionsChanged {
    pub in_force: usize,
    pub from_topic: usize,
}

impl SuppressionsChanged {
    pub fn emit(&self) {
        tracing::info!(
            in_force = self.in_force,
            from_topic = self.from_topic,
            "suppressions in force changed"
        );
        metrics::gauge!("warden_suppressions").set(self.in_force as f64);
        metrics::counter!("warden_suppression_updates_total").increment(1);
    }
}

/// A record on the suppressions topic was refused (it stays out of force).
pub(crate) struct SuppressionRefused<'a> {
    pub partition: i32,
    pub offset: i64,
    pub reason: &'a str,
}

impl SuppressionRefused<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            partition = self.partition,
            offset = self.offset,
            "suppression record refused: {}",
            self.reason
        );
        metrics::counter!("warden_suppressions_refused_total").increment(1);
    }
}

/// Another member's share of the agent-type-wide view was taken in (the
/// fleet topic).
pub(crate) struct FleetShareAdopted {
    pub partition: u32,
    pub source_offset: i64,
}

impl FleetShareAdopted {
    pub fn emit(&self) {
        tracing::debug!(
            partition = self.partition,
            source_offset = self.source_offset,
            "fleet share taken in"
        );
        metrics::counter!("warden_fleet_shares_adopted_total").increment(1);
    }
}

/// A record on the fleet topic was refused (the view stays as it was).
pub(crate) struct FleetShareRefused<'a> {
    pub partition: i32,
    pub offset: i64,
    pub error: &'a crate::engine::snapshot::FleetShareError,
}

impl FleetShareRefused<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            partition = self.partition,
            offset = self.offset,
            "fleet topic record refused: {}",
            self.error
        );
        metrics::counter!("warden_fleet_shares_refused_total").increment(1);
    }
}

/// The broker refused a partition's share (the fleet topic missing, say):
/// the view of other members lags, nothing else does; it goes out again at
/// the next checkpoint.
pub(crate) struct FleetShareUndelivered<'a> {
    pub partition: i32,
    pub error: &'a str,
}

impl FleetShareUndelivered<'_> {
    pub fn emit(&self) {
        tracing::warn!(
            partition = self.partition,
            "fleet share not delivered (is the fleet topic created?): {}",
            self.error
        );
        metrics::counter!("warden_fleet_shares_undelivered_total").increment(1);
    }
}

/// A partition's share of the agent-type-wide view was published.
pub(crate) struct FleetSharePublished {
    pub partition: i32,
    pub bytes: usize,
}

impl FleetSharePublished {
    pub fn emit(&self) {
        tracing::debug!(
            partition = self.partition,
            bytes = self.bytes,
            "fleet share published"
        );
        metrics::counter!("warden_fleet_shares_published_total").increment(1);
    }
}
