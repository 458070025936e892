//! `warden run`: the engine as a Kafka consumer-group member. Calls come in
//! on the calls topic (keyed by agent id); findings, revocations and dead
//! letters go out on their topics; each agent's baselines live with the
//! partition its calls arrive on and move with it (see `state`).
//!
//! Delivery is at-least-once end to end: a call's offset is stored for commit
//! only once every output it caused has been acknowledged (`offsets`), and
//! every output carries a stable id (`ce_id`) for downstream deduplication.

mod audit;
pub mod demo;
pub mod devbroker;
mod events;
mod fleet;
mod follow;
mod fuzz;
mod isolate;
mod kafka;
pub mod offsets;
mod output;
mod oversize;
mod policies;
mod service;
mod state;
mod suppressions;
pub(crate) mod telemetry;

use crate::config::Config;
use crate::emit::transmitter::TransmitterDocuments;
use crate::engine::EngineError;
pub use fuzz::fuzz_decode;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use serde::Serialize;
use service::{Worker, WorkerContext};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use suppressions::publish_suppression;
pub use telemetry::Health;

#[derive(Debug, thiserror::Error)]
/// Why `warden run` stopped. Every variant is fatal: the instance exits
/// without committing past what it did not finish, and a restart (or the
/// next group member) resumes from the last commit.
pub enum StreamError {
    #[error("Kafka client: {0}")]
    /// The Kafka client failed (connecting, subscribing, polling).
    Client(#[from] KafkaError),
    #[error("producing an output: {0}")]
    /// An output could not be handed to the producer.
    Produce(KafkaError),
    #[error("the broker did not accept an output (its input offset stays uncommitted): {0}")]
    /// The broker refused an output after librdkafka's retries.
    Delivery(String),
    #[error("restoring partition state: {0}")]
    /// A partition's state could not be read back.
    Restore(String),
    #[error(transparent)]
    /// The engine could not be built from the config.
    Engine(#[from] EngineError),
    #[error(transparent)]
    /// The Kafka settings contradict what the service needs.
    Config(#[from] kafka::ConfigConflict),
    #[error("config: {0}")]
    /// The config contradicts itself (caught by its validation when read
    /// from a file).
    Invalid(String),
    #[error("[inventory] grants: {0}")]
    /// A grants file of `[inventory]` could not be read.
    Grants(#[from] crate::inventory::grants::GrantsError),
    #[error(transparent)]
    /// The SET signing key could not be loaded or used.
    Sign(#[from] crate::emit::set::SetError),
    #[error("producing an output: {0}")]
    /// An output could not be rendered or delivered.
    Output(#[from] crate::emit::SinkError),
    #[error(transparent)]
    /// A sink in `[[sinks]]` is misconfigured.
    Sinks(#[from] crate::sinks::SinkConfigError),
    #[error("metrics endpoint {addr}: {source}")]
    /// The metrics and health endpoint could not listen.
    Metrics {
        /// The address it was to listen on.
        addr: String,
        /// Why it could not.
        source: std::io::Error,
    },
}

/// What one run did (printed as JSON when `warden run` exits).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Call records polled (a record can hold several events).
    pub records: u64,
    /// Calls scored.
    pub events: u64,
    /// Records or fields that could not be decoded.
    pub decode_errors: u64,
    /// Records sent to the dead-letter topic.
    pub dead_letters: u64,
    /// Records skipped without a dead letter (tombstones, empty values).
    pub skipped_records: u64,
    /// Outputs past `[stream] max_message_bytes` sent in truncated form.
    pub outputs_truncated: u64,
    /// Outputs the client or broker refused as too large (dropped, counted).
    pub outputs_refused_too_large: u64,
    /// Events older than the partition's watermark (scored all the same).
    pub late_events: u64,
    /// Findings emitted (created, updated and closed).
    pub findings: u64,
    /// Revocations emitted.
    pub revocations: u64,
    /// Findings suppressions covered, recorded with status Suppressed.
    pub findings_suppressed: u64,
    /// Guardrail policy violations raised.
    pub policy_violations: u64,
    /// Access review findings (dormancy, unused grants) raised, updated or closed.
    pub review_findings: u64,
    /// Inventory records published.
    pub inventory_records: u64,
    /// Identities in the live inventory at the end (or the most seen at a
    /// checkpoint).
    pub inventory_identities: u64,
    /// Identities of the live inventory restored from the state topic.
    pub identities_restored: u64,
    /// Agents whose baselines were restored from the state topic.
    pub agents_restored: u64,
    /// Calls re-read (not re-emitted) after a restore to catch the state up.
    pub warmup_events: u64,
    /// Checkpoints written to the state topic.
    pub checkpoints: u64,
    /// Agents held in memory at the end (or the most seen at a checkpoint).
    pub agents_tracked: u64,
    /// Cohorts whose agents came on more than one partition (the calls
    /// topic is not keyed by tenant).
    pub cohorts_split: u64,
    /// Median event→decision latency over the run, ms.
    pub latency_p50_ms: f64,
    /// p99 event→decision latency over the run, ms.
    pub latency_p99_ms: f64,
    /// p99.9 event→decision latency over the run, ms.
    pub latency_p999_ms: f64,
    /// Calls the latency figures are measured over.
    pub latency_samples: u64,
    /// Median poll→decision latency (this process's share), ms.
    pub poll_decision_p50_ms: f64,
    /// p99 poll→decision latency, ms.
    pub poll_decision_p99_ms: f64,
    /// p99.9 poll→decision latency, ms.
    pub poll_decision_p999_ms: f64,
    /// p99 of the last second with traffic (what the gauges show now).
    pub recent_p99_ms: f64,
    /// Times the producer queue was full and the service waited.
    pub backpressure_waits: u64,
    /// Per sink beyond Kafka (Splunk HEC, webhooks, syslog, SSF push).
    pub sinks: Vec<crate::sinks::SinkStats>,
    /// Wall-clock seconds the run took.
    pub elapsed_s: f64,
}

/// The suppressions topic `[stream]` names, if any, followed from its start.
fn follow_suppressions(
    cfg: &Config,
    props: &std::collections::BTreeMap<String, String>,
) -> Result<Option<suppressions::SuppressionFeed>, StreamError> {
    if cfg.stream.suppressions_topic.is_empty() {
        return Ok(None);
    }
    let file = crate::decide::suppress::load_configured(cfg.decisions.suppressions_file.as_deref())
        .map_err(EngineError::from)?;
    let consumer: BaseConsumer =
        kafka::restore_config(props, &format!("{}.suppressions", cfg.stream.group_id)).create()?;
    suppressions::SuppressionFeed::start(consumer, &cfg.stream.suppressions_topic, file).map(Some)
}

/// The fleet topic `[stream]` names, if any, followed from its start.
fn follow_fleet(
    cfg: &Config,
    props: &std::collections::BTreeMap<String, String>,
) -> Result<Option<fleet::FleetFeed>, StreamError> {
    if cfg.stream.fleet_topic.is_empty() {
        return Ok(None);
    }
    let consumer: BaseConsumer =
        kafka::restore_config(props, &format!("{}.fleet", cfg.stream.group_id)).create()?;
    fleet::FleetFeed::start(consumer, &cfg.stream.fleet_topic).map(Some)
}

/// The live inventory `[stream]` and `[inventory]` ask for, if any.
fn live_inventory(cfg: &Config) -> Result<Option<crate::inventory::LiveInventory>, StreamError> {
    if cfg.stream.inventory_topic.is_empty() {
        return Ok(None);
    }
    let mut grants = crate::inventory::grants::GrantSet::default();
    for g in &cfg.inventory.grants {
        grants.load(g)?;
    }
    for note in &grants.unresolved {
        tracing::warn!(note = %note, "[inventory] grants: not resolved");
    }
    let times = cfg.inventory.times().map_err(StreamError::Invalid)?;
    Ok(Some(crate::inventory::LiveInventory::new(
        times,
        grants,
        cfg.inventory.max_identities,
    )))
}

/// Runs until `shutdown` is set (SIGTERM/SIGINT in `warden run`), then
/// finishes in-flight work, flushes outputs and state, commits and returns.
/// `observe` sees the running totals a few times a second.
pub fn run(
    cfg: Config,
    shutdown: &AtomicBool,
    health: Arc<Health>,
    observe: &mut dyn FnMut(&RunSummary),
) -> Result<RunSummary, StreamError> {
    let props = cfg.kafka_properties(std::env::vars());
    let signer = crate::emit::set::SetSigner::from_config(&cfg.signing)?;
    if !cfg.stream.metrics_listen.is_empty() {
        let push = cfg
            .sinks
            .iter()
            .any(|s| matches!(s, crate::sinks::SinkConfig::SsfPush(_)));
        let docs = TransmitterDocuments::new(&cfg.signing, &signer, push)?;
        let addr = telemetry::serve(
            &cfg.stream.metrics_listen,
            health.clone(),
            Some(Arc::new(docs)),
        )
        .map_err(|source| StreamError::Metrics {
            addr: cfg.stream.metrics_listen.clone(),
            source,
        })?;
        tracing::info!(
            %addr,
            "serving /metrics, /healthz, /readyz, /.well-known/ssf-configuration and /jwks.json"
        );
    } else {
        telemetry::prometheus();
    }
    events::register_series(cfg.engine.max_agents);
    telemetry::describe_latencies();
    let audit = if cfg.stream.audit_topic.is_empty() {
        None
    } else {
        // The same serialised form `replay --audit-log` records.
        let config = toml::to_string(&cfg).map_err(|e| {
            StreamError::Invalid(format!("cannot be serialised for the decision log: {e}"))
        })?;
        Some(audit::AuditLogs::new(
            signer.clone(),
            &cfg.stream.audit_topic,
            cfg.stream.audit_checkpoint_every,
            config.into_bytes(),
        ))
    };
    let mut outputs = output::Outputs::new(
        &mut kafka::producer_config(&props),
        cfg.stream.clone(),
        crate::emit::Renderer::new(Some(signer)),
        &cfg.sinks,
    )?;
    if let Some(a) = audit {
        outputs.keep_audit_log(a);
    }
    let restorer: BaseConsumer = kafka::restore_config(&props, &cfg.stream.group_id).create()?;
    let mut engine = crate::engine::Engine::from_config(&cfg)?;
    // Partitions move between members, each with its share of the
    // agent-type-wide view.
    engine.track_partitions();
    let mut fleet = follow_fleet(&cfg, &props)?;
    if fleet.as_ref().is_some_and(|f| !f.exists()) {
        tracing::warn!(
            topic = %cfg.stream.fleet_topic,
            "fleet topic not found: this member scores against its own partitions' agents \
             only (create the topic, one partition, compacted, and restart)"
        );
        outputs.stop_sharing_fleet();
        fleet = None;
    }
    if let Some(feed) = fleet.as_mut() {
        // Before the first call: a restarted member scores against the
        // whole fleet from its first call on.
        feed.catch_up(&mut engine);
    }
    let suppressions = follow_suppressions(&cfg, &props)?;
    let inventory = live_inventory(&cfg)?;
    let mut worker = Worker::new(
        cfg.clone(),
        engine,
        inventory,
        outputs,
        restorer,
        health.clone(),
    );
    if let Some(feed) = fleet {
        worker.follow_fleet(feed);
    }
    if let Some(mut feed) = suppressions {
        // Before the first call is scored: a restarted instance must not
        // raise what analysts have suppressed.
        let in_force = feed.catch_up();
        worker.follow_suppressions(feed, in_force);
    }
    if let Some(watch) = policies::PolicyWatch::new(&cfg.decisions).map_err(|e| {
        StreamError::Invalid(format!(
            "installing the SIGHUP handler for policy reloads: {e}"
        ))
    })? {
        worker.watch_policies(watch);
    }
    let worker = Arc::new(Mutex::new(worker));
    let consumer: BaseConsumer<WorkerContext> =
        kafka::consumer_config(&props, &cfg.stream.group_id)?
            .create_with_context(WorkerContext { worker })?;
    consumer.subscribe(&[&cfg.stream.calls_topic])?;
    tracing::info!(
        group = %cfg.stream.group_id,
        calls = %cfg.stream.calls_topic,
        "consuming"
    );
    let started = Instant::now();
    let mut last_observed = Instant::now();
    while !shutdown.load(Ordering::Relaxed) {
        health.beat();
        // Poll without holding the worker: rebalance callbacks run inside
        // poll and take it themselves.
        let mut polled = consumer.poll(Duration::from_millis(50));
        let mut window_opened: Option<Instant> = None;
        loop {
            match polled {
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consumer error");
                    break;
                }
                Some(Ok(m)) => {
                    let polled = Instant::now();
                    let opened = *window_opened.get_or_insert(polled);
                    let mut w = consumer.context().lock();
                    w.ingest(&m, polled);
                    // A window closes when full, or when its first call has
                    // waited long enough: under a backlog librdkafka hands
                    // over thousands of buffered records at once, and the
                    // first of them would otherwise wait for all the others
                    // to be decoded and scored.
                    if w.window_len() >= service::WINDOW_ROWS
                        || polled.duration_since(opened) >= service::WINDOW_WAIT
                    {
                        break;
                    }
                }
            }
            polled = consumer.poll(Duration::ZERO);
        }
        let mut w = consumer.context().lock();
        w.process_window();
        w.store_offsets(&consumer);
        w.tick(&consumer);
        if let Some(e) = w.take_fatal() {
            return Err(e);
        }
        if last_observed.elapsed() >= Duration::from_millis(250) {
            last_observed = Instant::now();
            w.summary.elapsed_s = started.elapsed().as_secs_f64();
            observe(&w.summary);
        }
    }
    tracing::info!("shutting down: finishing in-flight work, writing state, committing");
    {
        let mut w = consumer.context().lock();
        w.process_window();
        w.publish_inventory(true);
        w.checkpoint_all(&consumer, service::SINK_DRAIN_TIMEOUT);
        if let Some(e) = w.take_fatal() {
            return Err(e);
        }
    }
    // Leave the group now rather than at session timeout, so the partitions
    // move to the other members at once. Records polled from here on are not
    // processed: their offsets are not committed, the next owner reads them.
    consumer.unsubscribe();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && consumer
            .assignment()
            .map(|a| a.count() > 0)
            .unwrap_or(false)
    {
        // Polling serves the rebalance callback; a record or error seen
        // here belongs to the next owner.
        if let Some(Err(e)) = consumer.poll(Duration::from_millis(50)) {
            tracing::debug!(error = %e, "consumer error while leaving the group");
        }
    }
    let mut w = consumer.context().lock();
    if let Some(e) = w.take_fatal() {
        return Err(e);
    }
    let mut summary = w.finish();
    summary.elapsed_s = started.elapsed().as_secs_f64();
    health.ready.store(false, Ordering::Relaxed);
    Ok(summary)
}
