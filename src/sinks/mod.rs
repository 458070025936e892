//! Delivery beyond Kafka: Splunk HEC, Standard Webhooks, syslog (RFC 5424 +
//! CEF, TCP or TLS) and SSF push (RFC 8935). Each configured sink is a task
//! with a bounded queue, batching where its protocol has it, retries with
//! capped exponential backoff, and a window of recently delivered ids so a
//! record handed over twice is not sent twice.
//!
//! Callers hand over rendered records (OCSF JSON, signed SETs) with a tag;
//! every accepted record's tag comes back exactly once through the `done`
//! callback when the record is delivered or given up on, so the streaming
//! service can hold its input offset until then.

pub mod cef;
pub mod config;
mod delivery;
mod forward;
pub mod hec;
mod http;
pub mod ssf;
pub mod syslog;
pub mod webhook;

pub use config::SinksConfig;
use config::{DeliveryConfig, Severity, WhenFull};
pub use forward::ForwardSink;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum SinkConfigError {
    #[error("sink {sink}: environment variable {var} is not set (it holds the {what})")]
    MissingSecret {
        sink: String,
        var: String,
        what: &'static str,
    },
    #[error("sink {sink}: {message}")]
    Invalid { sink: String, message: String },
    #[error("starting the delivery runtime: {0}")]
    Runtime(std::io::Error),
}

/// What kind of output a record is; each sink takes the kinds its protocol
/// is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// OCSF Detection Finding (2004).
    Finding,
    /// OCSF Remediation Activity (7001) recording a revocation.
    Remediation,
    /// A signed Security Event Token; shadow ones carry the shadow claim.
    Revocation { shadow: bool },
}

#[derive(Debug, Clone)]
pub enum Body {
    Ocsf(Arc<Value>),
    /// Compact JWS.
    Set(Arc<str>),
}

/// One output, rendered once and shared by every sink it is routed to.
#[derive(Debug, Clone)]
pub struct SinkRecord {
    /// Stable id: OCSF `metadata.uid` or the SET's `jti`. Receivers
    /// deduplicate on it; retries reuse it.
    pub id: String,
    pub kind: RecordKind,
    pub severity_id: u8,
    pub time_ms: i64,
    pub body: Body,
}

impl SinkRecord {
    /// An OCSF event (finding or remediation activity), read for its id,
    /// class, severity and time.
    pub fn ocsf(value: Arc<Value>) -> SinkRecord {
        let kind = match value["class_uid"].as_u64() {
            Some(7001) => RecordKind::Remediation,
            _ => RecordKind::Finding,
        };
        SinkRecord {
            id: value["metadata"]["uid"].as_str().unwrap_or("").to_string(),
            kind,
            severity_id: value["severity_id"].as_u64().unwrap_or(0) as u8,
            time_ms: value["time"].as_i64().unwrap_or(0),
            body: Body::Ocsf(value),
        }
    }

    /// A revocation SET (`jti` = `id`).
    pub fn set(id: &str, token: Arc<str>, shadow: bool, severity_id: u8, time_ms: i64) -> Self {
        SinkRecord {
            id: id.to_string(),
            kind: RecordKind::Revocation { shadow },
            severity_id,
            time_ms,
            body: Body::Set(token),
        }
    }

    pub fn ocsf_value(&self) -> Option<&Value> {
        match &self.body {
            Body::Ocsf(v) => Some(v),
            Body::Set(_) => None,
        }
    }
}

/// Which records a sink takes.
#[derive(Debug, Clone)]
struct Route {
    ocsf: bool,
    sets: bool,
    shadow_sets: bool,
    severities: Vec<u8>,
}

impl Route {
    fn ocsf(severities: &[Severity]) -> Route {
        Route {
            ocsf: true,
            sets: false,
            shadow_sets: false,
            severities: severities.iter().map(|s| s.id()).collect(),
        }
    }

    fn takes(&self, r: &SinkRecord) -> bool {
        match r.kind {
            RecordKind::Finding | RecordKind::Remediation => {
                self.ocsf && self.severities.contains(&r.severity_id)
            }
            RecordKind::Revocation { shadow } => self.sets && (!shadow || self.shadow_sets),
        }
    }
}

/// Per-sink totals (also exported as `warden_sink_*` metrics).
#[derive(Debug, Default)]
pub struct SinkCounters {
    pub delivered: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub duplicates_skipped: AtomicU64,
    pub dropped_buffer_full: AtomicU64,
    pub dropped_rejected: AtomicU64,
    pub dropped_retries_exhausted: AtomicU64,
    pub dropped_at_shutdown: AtomicU64,
}

impl SinkCounters {
    fn snapshot(&self, name: &str) -> SinkStats {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SinkStats {
            name: name.to_string(),
            delivered: n(&self.delivered),
            requests: n(&self.requests),
            retries: n(&self.retries),
            duplicates_skipped: n(&self.duplicates_skipped),
            dropped_buffer_full: n(&self.dropped_buffer_full),
            dropped_rejected: n(&self.dropped_rejected),
            dropped_retries_exhausted: n(&self.dropped_retries_exhausted),
            dropped_at_shutdown: n(&self.dropped_at_shutdown),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SinkStats {
    pub name: String,
    pub delivered: u64,
    pub requests: u64,
    pub retries: u64,
    pub duplicates_skipped: u64,
    pub dropped_buffer_full: u64,
    pub dropped_rejected: u64,
    pub dropped_retries_exhausted: u64,
    pub dropped_at_shutdown: u64,
}

struct Queued<T> {
    record: Arc<SinkRecord>,
    tag: T,
    /// When it was handed over: its retry window runs from here, so a
    /// backlog built up during an outage expires together instead of one
    /// record's window after another.
    queued_at: Instant,
}

struct SinkHandle<T> {
    name: String,
    route: Route,
    when_full: WhenFull,
    tx: mpsc::Sender<Queued<T>>,
    counters: Arc<SinkCounters>,
}

/// Shared by the caller and every sink task.
struct Shared<T> {
    done: Box<dyn Fn(T) + Send + Sync>,
    in_flight: AtomicUsize,
    /// Set at close: stop retrying, give up what is left.
    closing: AtomicBool,
}

impl<T> Shared<T> {
    fn finish(&self, tag: T) {
        (self.done)(tag);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The configured sinks, running on their own small runtime.
pub struct SinkSet<T: Send + 'static> {
    sinks: Vec<SinkHandle<T>>,
    shared: Arc<Shared<T>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> SinkSet<T> {
    /// Starts every sink in `cfg`. `env` looks up secrets by variable name.
    /// `done` is called once per accepted record, from a delivery thread.
    pub fn start(
        cfg: &SinksConfig,
        env: &dyn Fn(&str) -> Option<String>,
        done: impl Fn(T) + Send + Sync + 'static,
    ) -> Result<SinkSet<T>, SinkConfigError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SinkConfigError::Runtime)?;
        let shared = Arc::new(Shared {
            done: Box::new(done),
            in_flight: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
        });
        let mut sinks = Vec::new();
        let mut tasks = Vec::new();
        // Reqwest clients and TLS configs are built inside the runtime.
        let _guard = rt.enter();
        let mut add = |name: String, route: Route, d: &DeliveryConfig, t: delivery::Spawn<T>| {
            let (tx, rx) = mpsc::channel(d.buffer.max(1));
            let counters = Arc::new(SinkCounters::default());
            tasks.push(rt.spawn(t(rx, delivery::Ctx::new(&name, d, &counters, &shared))));
            sinks.push(SinkHandle {
                name,
                route,
                when_full: d.when_full,
                tx,
                counters,
            });
        };
        for (i, c) in cfg.splunk_hec.iter().enumerate() {
            let name = label(&c.name, "splunk_hec", i);
            let t = hec::HecTransport::new(&name, c, env)?;
            add(
                name,
                Route::ocsf(&c.severities),
                &c.delivery,
                delivery::spawn(t),
            );
        }
        for (i, c) in cfg.webhook.iter().enumerate() {
            let name = label(&c.name, "webhook", i);
            let t = webhook::WebhookTransport::new(&name, c, env)?;
            add(
                name,
                Route::ocsf(&c.severities),
                &c.delivery,
                delivery::spawn(t),
            );
        }
        for (i, c) in cfg.syslog.iter().enumerate() {
            let name = label(&c.name, "syslog", i);
            let t = syslog::SyslogTransport::new(&name, c)?;
            add(
                name,
                Route::ocsf(&c.severities),
                &c.delivery,
                delivery::spawn(t),
            );
        }
        for (i, c) in cfg.ssf_push.iter().enumerate() {
            let name = label(&c.name, "ssf_push", i);
            let t = ssf::SsfPushTransport::new(&name, c, env)?;
            let route = Route {
                ocsf: false,
                sets: true,
                shadow_sets: c.include_shadow,
                severities: Vec::new(),
            };
            add(name, route, &c.delivery, delivery::spawn(t));
        }
        drop(_guard);
        let thread = std::thread::Builder::new()
            .name("warden-sinks".into())
            .spawn(move || {
                rt.block_on(async {
                    for t in tasks {
                        let _ = t.await;
                    }
                })
            })
            .map_err(SinkConfigError::Runtime)?;
        Ok(SinkSet {
            sinks,
            shared,
            thread: Some(thread),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Routes `record` to every sink that takes it; returns how many took it
    /// (each will call `done` with a copy of `tag` exactly once).
    pub fn submit(&self, record: SinkRecord, tag: T) -> usize
    where
        T: Clone,
    {
        let record = Arc::new(record);
        let mut taken = 0;
        for s in &self.sinks {
            if !s.route.takes(&record) {
                continue;
            }
            let q = Queued {
                record: record.clone(),
                tag: tag.clone(),
                queued_at: Instant::now(),
            };
            self.shared.in_flight.fetch_add(1, Ordering::AcqRel);
            let sent = match s.tx.try_send(q) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(q)) => match s.when_full {
                    WhenFull::Block => {
                        metrics::counter!("warden_sink_backpressure_waits_total", "sink" => s.name.clone())
                            .increment(1);
                        s.tx.blocking_send(q).map_err(|e| e.0)
                    }
                    WhenFull::DropNewest => {
                        s.counters
                            .dropped_buffer_full
                            .fetch_add(1, Ordering::Relaxed);
                        delivery::dropped(&s.name, "buffer_full", &record.id, "buffer full");
                        Err(q)
                    }
                },
                Err(mpsc::error::TrySendError::Closed(q)) => Err(q),
            };
            match sent {
                Ok(()) => taken += 1,
                // Not queued: nothing will answer for it, so it is not
                // counted as taken.
                Err(_) => {
                    self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        taken
    }

    /// Records accepted and not yet delivered or given up on.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Acquire)
    }

    /// Waits until every accepted record is finished, at most `timeout`;
    /// true when nothing is left.
    pub fn drain(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while self.in_flight() > 0 {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    pub fn stats(&self) -> Vec<SinkStats> {
        self.sinks
            .iter()
            .map(|s| s.counters.snapshot(&s.name))
            .collect()
    }

    /// Waits up to `timeout` for what is queued, then gives up on the rest
    /// (logged and counted) and stops every sink. Returns the final totals.
    pub fn close(mut self, timeout: Duration) -> Vec<SinkStats> {
        self.drain(timeout);
        self.shutdown()
    }

    fn shutdown(&mut self) -> Vec<SinkStats> {
        self.shared.closing.store(true, Ordering::Release);
        let counters: Vec<_> = self
            .sinks
            .drain(..) // closes the queues; each task finishes what it holds
            .map(|s| (s.name, s.counters))
            .collect();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        counters.iter().map(|(name, c)| c.snapshot(name)).collect()
    }
}

impl<T: Send + 'static> Drop for SinkSet<T> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown();
        }
    }
}

fn label(name: &str, kind: &str, i: usize) -> String {
    match (name.is_empty(), i) {
        (false, _) => name.to_string(),
        (true, 0) => kind.to_string(),
        (true, i) => format!("{kind}-{i}"),
    }
}

/// This machine's hostname, for HEC `host` and the syslog HOSTNAME field.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "warden".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::Mutex;

    fn finding(uid: &str, severity_id: u8) -> SinkRecord {
        SinkRecord::ocsf(Arc::new(serde_json::json!({
            "class_uid": 2004, "severity_id": severity_id, "time": 1,
            "metadata": {"uid": uid, "version": "1.8.0"},
            "finding_info": {"uid": uid},
        })))
    }

    /// A syslog collector on loopback that keeps everything it reads.
    fn collector() -> (String, Arc<Mutex<Vec<u8>>>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for c in l.incoming() {
                let mut c = c.unwrap();
                let mut buf = [0u8; 4096];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    g.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            }
        });
        (addr, got)
    }

    fn syslog_sinks(addr: &str, severities: &str) -> SinksConfig {
        toml::from_str(&format!(
            "[[syslog]]\naddress = \"{addr}\"\ntransport = \"tcp\"\nseverities = {severities}\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_record_handed_over_twice_is_sent_once_and_answered_twice() {
        let (addr, got) = collector();
        let answered = Arc::new(Mutex::new(Vec::new()));
        let a = answered.clone();
        let set = SinkSet::start(
            &syslog_sinks(&addr, "[\"high\"]"),
            &|_| None,
            move |t: u32| a.lock().unwrap().push(t),
        )
        .unwrap();
        assert_eq!(set.submit(finding("f-1", 4), 1), 1);
        assert!(set.drain(Duration::from_secs(10)));
        assert_eq!(set.submit(finding("f-1", 4), 2), 1);
        assert_eq!(set.submit(finding("f-2", 4), 3), 1);
        // Not routed: severity medium is not in the list; nothing to answer.
        assert_eq!(set.submit(finding("f-3", 3), 4), 0);
        assert!(set.drain(Duration::from_secs(10)));
        let stats = set.close(Duration::from_secs(5));
        assert_eq!(stats[0].delivered, 2);
        assert_eq!(stats[0].duplicates_skipped, 1);
        let mut tags = answered.lock().unwrap().clone();
        tags.sort();
        assert_eq!(tags, [1, 2, 3]);
        let text = String::from_utf8(got.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("externalId=f-1").count(), 1, "{text}");
        assert_eq!(text.matches("externalId=f-2").count(), 1, "{text}");
        assert!(!text.contains("f-3"));
    }

    #[test]
    fn a_full_buffer_drops_the_newest_and_says_so() {
        // Nobody listens: the first record is stuck retrying, the buffer of
        // one holds the second, the third is dropped and not counted taken.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg: SinksConfig = toml::from_str(&format!(
            "[[syslog]]\naddress = \"127.0.0.1:{port}\"\ntransport = \"tcp\"\n\
             delivery = {{ buffer = 1, retry_initial_ms = 50, retry_for_seconds = 2 }}\n"
        ))
        .unwrap();
        let set = SinkSet::start(&cfg, &|_| None, |_: ()| {}).unwrap();
        let mut taken = 0;
        for i in 0..5 {
            taken += set.submit(finding(&format!("f-{i}"), 4), ());
            std::thread::sleep(Duration::from_millis(30));
        }
        assert!(taken < 5, "a buffer of one cannot take five while stuck");
        let stats = set.close(Duration::from_millis(100));
        assert_eq!(stats[0].dropped_buffer_full, 5 - taken as u64);
        assert_eq!(stats[0].delivered, 0);
        // Everything taken is answered for: given up while retrying, or
        // at shutdown without another try.
        assert_eq!(
            stats[0].dropped_retries_exhausted + stats[0].dropped_at_shutdown,
            taken as u64
        );
    }

    #[test]
    fn missing_secrets_and_bad_settings_are_named() {
        let cfg: SinksConfig = toml::from_str(
            "[[webhook]]\nname = \"soar\"\nurl = \"https://soar.example/x\"\nsecret_env = \"NOPE\"\n",
        )
        .unwrap();
        let e = SinkSet::start(&cfg, &|_| None, |_: ()| {}).err().unwrap();
        assert_eq!(
            e.to_string(),
            "sink soar: environment variable NOPE is not set (it holds the webhook signing secret)"
        );
        let cfg: SinksConfig = toml::from_str("[[splunk_hec]]\nurl = \"ftp://splunk\"\n").unwrap();
        let e = SinkSet::start(&cfg, &|_| Some("t".into()), |_: ()| {})
            .err()
            .unwrap();
        assert!(e.to_string().contains("only http and https"), "{e}");
        let cfg: SinksConfig = toml::from_str("[[syslog]]\naddress = \"collector\"\n").unwrap();
        let e = SinkSet::start(&cfg, &|_| None, |_: ()| {}).err().unwrap();
        assert!(e.to_string().contains("not host:port"), "{e}");
        assert!(toml::from_str::<SinksConfig>("[[syslog]]\naddres = \"x:1\"\n").is_err());
    }
}
