//! `warden run`: the engine as a Kafka consumer-group member. Calls come in
//! on the calls topic (keyed by agent id); findings, revocations and dead
//! letters go out on their topics; each agent's baselines live with the
//! partition its calls arrive on and move with it (see `state`).
//!
//! Delivery is at-least-once end to end: a call's offset is stored for commit
//! only once every output it caused has been acknowledged (`offsets`), and
//! every output carries a stable id (`ce_id`) for downstream deduplication.

pub mod demo;
pub mod devbroker;
mod events;
mod kafka;
pub mod offsets;
mod output;
mod service;
mod state;
pub mod telemetry;

use crate::config::Config;
use crate::engine::EngineError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use serde::Serialize;
use service::{Worker, WorkerContext};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use telemetry::Health;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("Kafka client: {0}")]
    Client(#[from] KafkaError),
    #[error("producing an output: {0}")]
    Produce(KafkaError),
    #[error("the broker did not accept an output (its input offset stays uncommitted): {0}")]
    Delivery(String),
    #[error("restoring partition state: {0}")]
    Restore(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Config(#[from] kafka::ConfigConflict),
    #[error(transparent)]
    Sign(#[from] crate::emit::set::SetError),
    #[error("producing an output: {0}")]
    Output(#[from] crate::emit::SinkError),
    #[error(transparent)]
    Sinks(#[from] crate::sinks::SinkConfigError),
    #[error("metrics endpoint {addr}: {source}")]
    Metrics {
        addr: String,
        source: std::io::Error,
    },
}

/// What one run did (printed as JSON when `warden run` exits).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Call records polled (a record can hold several events).
    pub records: u64,
    pub events: u64,
    pub decode_errors: u64,
    pub dead_letters: u64,
    pub skipped_records: u64,
    /// Events older than the partition's watermark (scored all the same).
    pub late_events: u64,
    pub findings: u64,
    pub revocations: u64,
    pub agents_restored: u64,
    /// Calls re-read (not re-emitted) after a restore to catch the state up.
    pub warmup_events: u64,
    pub checkpoints: u64,
    pub agents_tracked: u64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_p999_ms: f64,
    pub latency_samples: u64,
    /// p99 of the last second with traffic (what the gauges show now).
    pub recent_p99_ms: f64,
    pub backpressure_waits: u64,
    /// Per sink beyond Kafka (Splunk HEC, webhooks, syslog, SSF push).
    pub sinks: Vec<crate::sinks::SinkStats>,
    pub elapsed_s: f64,
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
    if !cfg.stream.metrics_listen.is_empty() {
        let addr =
            telemetry::serve(&cfg.stream.metrics_listen, health.clone()).map_err(|source| {
                StreamError::Metrics {
                    addr: cfg.stream.metrics_listen.clone(),
                    source,
                }
            })?;
        tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    } else {
        telemetry::prometheus();
    }
    let signer = crate::emit::set::SetSigner::from_config(&cfg.signing)?;
    let outputs = output::Outputs::new(
        &mut kafka::producer_config(&props),
        cfg.stream.clone(),
        crate::emit::Renderer::new(Some(signer)),
        &cfg.sinks,
    )?;
    let restorer: BaseConsumer = kafka::restore_config(&props, &cfg.stream.group_id).create()?;
    let engine = crate::engine::Engine::from_config(&cfg).map_err(EngineError::from)?;
    let worker = Arc::new(Mutex::new(Worker::new(
        cfg.clone(),
        engine,
        outputs,
        restorer,
        health.clone(),
    )));
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
        loop {
            match polled {
                None => break,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consumer error");
                    break;
                }
                Some(Ok(m)) => {
                    let mut w = consumer.context().lock();
                    w.ingest(&m);
                    if w.window_len() >= service::WINDOW_ROWS {
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
        w.checkpoint_all(&consumer);
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
        let _ = consumer.poll(Duration::from_millis(50));
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
