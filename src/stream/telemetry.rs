//! What `warden run` tells its operators: Prometheus metrics, health and
//! readiness over HTTP, and the event→decision latency histogram.

use super::events::DecisionLatencyMeasured;
use crate::emit::transmitter::TransmitterDocuments;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use hdrhistogram::Histogram;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The process-wide Prometheus recorder (installed once; `warden demo` and
/// `warden run` share it).
pub(crate) fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder is installed: then ours renders
            // nothing, which /metrics shows rather than hides.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub(crate) use crate::event::now_ms;

pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Liveness and readiness, written by the poll loop, read by HTTP.
#[derive(Debug, Default)]
pub struct Health {
    /// Partitions assigned and their state restored: decisions are current.
    pub ready: AtomicBool,
    /// Last time the poll loop went round (ms since the epoch).
    pub heartbeat_ms: AtomicU64,
    /// The service hit an error it cannot recover from and is stopping.
    pub failed: AtomicBool,
}

/// A poll loop silent this long is not alive (a rebalance restore counts as
/// going round: it beats between partitions).
const STALL_MS: u64 = 60_000;

impl Health {
    pub(crate) fn beat(&self) {
        self.heartbeat_ms.store(now_ms() as u64, Ordering::Relaxed);
    }

    fn alive(&self) -> bool {
        let last = self.heartbeat_ms.load(Ordering::Relaxed);
        !self.failed.load(Ordering::Relaxed) && (now_ms() as u64).saturating_sub(last) < STALL_MS
    }
}

/// Serves /metrics, /healthz and /readyz on `addr` from a thread of its own,
/// and with `transmitter` the SSF discovery documents
/// (/.well-known/ssf-configuration, /jwks.json). Binds before returning, so
/// a taken port is reported at start-up; returns the bound address (port 0
/// picks one).
pub fn serve(
    addr: &str,
    health: Arc<Health>,
    transmitter: Option<Arc<TransmitterDocuments>>,
) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let handle = prometheus();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("warden-http".into())
        .spawn(move || {
            rt.block_on(async move {
                let h1 = health.clone();
                let mut app = Router::new()
                    .route("/metrics", get(move || async move { handle.render() }))
                    .route(
                        "/healthz",
                        get(move || async move {
                            if h1.alive() {
                                (StatusCode::OK, "ok\n")
                            } else {
                                (StatusCode::SERVICE_UNAVAILABLE, "stalled or failed\n")
                            }
                        }),
                    )
                    .route(
                        "/readyz",
                        get(move || async move {
                            if health.ready.load(Ordering::Relaxed) && health.alive() {
                                (StatusCode::OK, "ready\n")
                            } else {
                                (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                            }
                        }),
                    );
                if let Some(docs) = transmitter {
                    let d2 = docs.clone();
                    app = app
                        .route(
                            "/.well-known/ssf-configuration",
                            get(move || async move { json(docs.configuration.clone()) }),
                        )
                        .route(
                            "/jwks.json",
                            get(move || async move { json(d2.jwks.clone()) }),
                        );
                }
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => {
                        if let Err(e) = axum::serve(l, app).await {
                            tracing::error!(error = %e, "metrics endpoint stopped");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "metrics endpoint could not start"),
                }
            })
        })?;
    Ok(bound)
}

fn json(body: String) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
}

/// A latency up to a call's decision, in microseconds: from its Kafka
/// timestamp (event→decision, which includes the producer and broker), or
/// from the moment the consumer's poll returned it (poll→decision, this
/// process alone). The published quantiles are those of the last interval
/// (what is happening now); the total covers the run.
pub(crate) struct Latency {
    /// The Prometheus gauge family its quantiles are published as.
    metric: &'static str,
    interval: Histogram<u64>,
    total: Histogram<u64>,
}

/// Describes the two latency gauge families for /metrics.
pub(crate) fn describe_latencies() {
    metrics::describe_gauge!(
        EVENT_TO_DECISION,
        "Kafka record timestamp to decision, quantiles of the last interval."
    );
    metrics::describe_gauge!(
        POLL_TO_DECISION,
        "Consumer poll to decision (this process alone), quantiles of the last interval."
    );
}

/// Kafka record timestamp → decision.
pub(crate) const EVENT_TO_DECISION: &str = "warden_event_decision_latency_seconds";
/// Returned by the consumer's poll → decision.
pub(crate) const POLL_TO_DECISION: &str = "warden_poll_decision_latency_seconds";

impl Latency {
    pub(crate) fn new(metric: &'static str) -> Self {
        // 1 µs .. 1 h at 2 significant figures: ~10 KiB each.
        let h = || Histogram::new_with_bounds(1, 3_600_000_000, 2).expect("valid bounds");
        Latency {
            metric,
            interval: h(),
            total: h(),
        }
    }

    pub(crate) fn record_us(&mut self, us: u64) {
        self.interval.saturating_record(us.max(1));
    }

    /// Publishes the interval's p50/p99/p999 as gauges (seconds) and folds it
    /// into the run's total.
    pub(crate) fn publish(&mut self) -> Option<f64> {
        if self.interval.is_empty() {
            return None;
        }
        let p99_ms = self.interval.value_at_quantile(0.99) as f64 / 1000.0;
        let seconds = |q| self.interval.value_at_quantile(q) as f64 / 1e6;
        DecisionLatencyMeasured {
            metric: self.metric,
            p50_s: seconds(0.5),
            p99_s: seconds(0.99),
            p999_s: seconds(0.999),
        }
        .emit();
        fold(&mut self.total, &self.interval);
        self.interval.reset();
        Some(p99_ms)
    }

    /// (p50, p99, p999) over the whole run, in milliseconds, and the count.
    pub(crate) fn summary_ms(&self) -> (f64, f64, f64, u64) {
        let mut all = self.total.clone();
        fold(&mut all, &self.interval);
        let q = |q| all.value_at_quantile(q) as f64 / 1000.0;
        (q(0.5), q(0.99), q(0.999), all.len())
    }
}

/// Adds one latency histogram into another. Both are made with the same
/// bounds and record with saturation, so this cannot fail; if it ever did,
/// the run's total would miss one interval, which is said rather than hidden.
fn fold(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if let Err(e) = into.add(from) {
        tracing::warn!(error = %e, "latency interval not added to the run's total");
    }
}
