//! Delivery beyond Kafka: Splunk HEC, Standard Webhooks, syslog (RFC 5424 +
//! CEF, TCP or TLS) and SSF push (RFC 8935). Each configured sink is a task
//! with a bounded queue, batching where its protocol has it, retries with
//! capped exponential backoff, and a window of recently delivered ids so a
//! record handed over twice is not sent twice.
//!
//! A [`SinkSet`] is one `emit::DecisionSink`: it takes the records a
//! decision rendered to, with a tag; every accepted record's tag comes back
//! exactly once through the `done` callback when the record is delivered or
//! given up on, so the streaming service can hold its input offset until
//! then.

pub mod cef;
pub mod config;
mod delivery;
mod events;
pub mod hec;
mod http;
pub mod ssf;
pub mod syslog;
pub mod webhook;

use crate::emit::{DecisionSink, OutputRecord, RecordKind, Rendered, SinkError};
use config::{DeliveryConfig, Env, Severity, WhenFull};
use delivery::Transport;
use events::{DropReason, SinkBackpressureWait, SinkRecordDropped};
use hec::HecConfig;
use serde::{Deserialize, Serialize};
use ssf::SsfPushConfig;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use syslog::SyslogConfig;
use tokio::sync::mpsc;
use webhook::WebhookConfig;

/// Why the sinks could not start.
#[derive(Debug, thiserror::Error)]
pub enum SinkConfigError {
    /// A secret's environment variable is not set.
    #[error("sink {sink}: environment variable {var} is not set (it holds the {what})")]
    MissingSecret {
        /// The sink's label.
        sink: String,
        /// The variable named in the config.
        var: String,
        /// What the secret is.
        what: &'static str,
    },
    /// A setting is unusable (a bad URL, address or CA file).
    #[error("sink {sink}: {message}")]
    Invalid {
        /// The sink's label.
        sink: String,
        /// What is wrong.
        message: String,
    },
    /// The delivery thread could not start.
    #[error("starting the delivery runtime: {0}")]
    Runtime(std::io::Error),
}

/// One entry of `[[sinks]]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// Splunk HTTP Event Collector: OCSF findings and remediation activities.
    SplunkHec(HecConfig),
    /// Standard Webhooks (HMAC-signed JSON POSTs): SOAR tools, chat, paging.
    Webhook(WebhookConfig),
    /// Syslog RFC 5424 with a CEF message, over TCP or TLS.
    Syslog(SyslogConfig),
    /// SSF push delivery (RFC 8935) of the signed revocation SETs.
    SsfPush(SsfPushConfig),
}

impl SinkConfig {
    /// The kind's own config, behind the trait every kind implements.
    pub(crate) fn kind(&self) -> &dyn SinkKind {
        match self {
            SinkConfig::SplunkHec(c) => c,
            SinkConfig::Webhook(c) => c,
            SinkConfig::Syslog(c) => c,
            SinkConfig::SsfPush(c) => c,
        }
    }

    /// The kind's delivery settings, to adjust before `build`.
    pub(crate) fn delivery_mut(&mut self) -> &mut DeliveryConfig {
        match self {
            SinkConfig::SplunkHec(c) => &mut c.delivery,
            SinkConfig::Webhook(c) => &mut c.delivery,
            SinkConfig::Syslog(c) => &mut c.delivery,
            SinkConfig::SsfPush(c) => &mut c.delivery,
        }
    }
}

/// What every sink kind's config provides.
pub(crate) trait SinkKind {
    /// The kind as `type = "…"` names it; also the default label.
    fn kind(&self) -> &'static str;
    /// The configured label; empty for the default.
    fn name(&self) -> &str;
    /// Buffering and retries.
    fn delivery(&self) -> &DeliveryConfig;
    /// Which records the sink takes.
    fn route(&self) -> Route;
    /// The running transport, secrets read from `env`.
    fn build(&self, name: &str, env: Env<'_>) -> Result<Box<dyn Transport>, SinkConfigError>;
}

/// Which records a sink takes.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    ocsf: bool,
    sets: bool,
    shadow_sets: bool,
    severities: Vec<u8>,
}

impl Route {
    /// OCSF records (findings, remediation activities) of these severities.
    fn ocsf(severities: &[Severity]) -> Route {
        Route {
            ocsf: true,
            sets: false,
            shadow_sets: false,
            severities: severities.iter().map(|s| s.id()).collect(),
        }
    }

    /// Signed SETs; shadow ones too when asked.
    fn sets(include_shadow: bool) -> Route {
        Route {
            ocsf: false,
            sets: true,
            shadow_sets: include_shadow,
            severities: Vec::new(),
        }
    }

    fn takes(&self, r: &OutputRecord) -> bool {
        match r.kind {
            RecordKind::Finding | RecordKind::Remediation | RecordKind::AccessReview => {
                self.ocsf && self.severities.contains(&r.severity_id)
            }
            RecordKind::Revocation { shadow } => self.sets && (!shadow || self.shadow_sets),
            RecordKind::SuppressedFinding => false,
        }
    }
}

/// Per-sink totals (also exported as `warden_sink_*` metrics).
#[derive(Debug, Default)]
pub(crate) struct SinkCounters {
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
/// What one sink did over a run.
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// Records the receiver accepted.
    pub delivered: u64,
    /// Send attempts (a batch is one).
    pub requests: u64,
    /// Sends tried again after a failure.
    pub retries: u64,
    /// Records already delivered within the retry window, not sent again.
    pub duplicates_skipped: u64,
    /// Records dropped because the queue was full (`when_full = "drop_newest"`).
    pub dropped_buffer_full: u64,
    /// Records the receiver refused in a way a retry cannot fix.
    pub dropped_rejected: u64,
    /// Records still failing when the retry window ran out.
    pub dropped_retries_exhausted: u64,
    /// Records still queued when the shutdown drain ended.
    pub dropped_at_shutdown: u64,
}

struct Queued<T> {
    record: Arc<OutputRecord>,
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
        cfg: &[SinkConfig],
        env: Env<'_>,
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
        // Unnamed sinks are labelled by kind, numbered from the second of a kind.
        let mut of_kind: std::collections::HashMap<&str, usize> = Default::default();
        for c in cfg {
            let c = c.kind();
            let n = of_kind.entry(c.kind()).or_default();
            let name = label(c.name(), c.kind(), *n);
            *n += 1;
            let transport = c.build(&name, env)?;
            events::register(&name);
            let d = c.delivery();
            let (tx, rx) = mpsc::channel(d.buffer.max(1));
            let counters = Arc::new(SinkCounters::default());
            let ctx = delivery::Ctx::new(&name, d, &counters, &shared);
            tasks.push(rt.spawn(delivery::spawn(transport)(rx, ctx)));
            sinks.push(SinkHandle {
                name,
                route: c.route(),
                when_full: d.when_full,
                tx,
                counters,
            });
        }
        drop(_guard);
        let thread = std::thread::Builder::new()
            .name("warden-sinks".into())
            .spawn(move || {
                rt.block_on(async {
                    for t in tasks {
                        // A task that panicked has answered for nothing
                        // more; the others still finish.
                        if let Err(e) = t.await {
                            tracing::error!(error = %e, "a sink task stopped");
                        }
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

    /// As `start`, for a replay: every sink waits for room in its buffer
    /// instead of dropping, whatever `when_full` says (replay is not in a
    /// hurry, and a dropped finding would make the check meaningless).
    pub fn start_blocking(
        cfg: &[SinkConfig],
        env: Env<'_>,
        done: impl Fn(T) + Send + Sync + 'static,
    ) -> Result<SinkSet<T>, SinkConfigError> {
        let mut cfg = cfg.to_vec();
        for c in &mut cfg {
            c.delivery_mut().when_full = WhenFull::Block;
        }
        Self::start(&cfg, env, done)
    }

    /// Whether no sink is configured.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Routes `record` to every sink that takes it; returns how many took it
    /// (each will call `done` with a copy of `tag` exactly once).
    pub(crate) fn submit(&self, record: &Arc<OutputRecord>, tag: T) -> usize
    where
        T: Clone,
    {
        let mut taken = 0;
        for s in &self.sinks {
            if !s.route.takes(record) {
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
                        SinkBackpressureWait { sink: &s.name }.emit();
                        s.tx.blocking_send(q).map_err(|e| e.0)
                    }
                    WhenFull::DropNewest => {
                        SinkRecordDropped {
                            sink: &s.name,
                            counters: &s.counters,
                            reason: DropReason::BufferFull,
                            id: &record.id,
                            error: "buffer full",
                        }
                        .emit();
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
    pub(crate) fn in_flight(&self) -> usize {
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

    /// What each sink has done so far.
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
            if t.join().is_err() {
                // Its tasks' counters are still read below; what it had not
                // answered for stays uncommitted upstream.
                tracing::error!("the sink delivery thread panicked");
            }
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

impl<T: Clone + Send + 'static> DecisionSink<T> for SinkSet<T> {
    /// Every record goes to each sink whose route takes it; each sink that
    /// took one answers for `tag` later (through `done`).
    fn accept(&mut self, d: &Rendered<'_>, tag: &T) -> Result<u32, SinkError> {
        let mut taken = 0;
        for r in &d.records {
            taken += self.submit(r, tag.clone()) as u32;
        }
        Ok(taken)
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

    fn finding(uid: &str, severity_id: u8) -> Arc<OutputRecord> {
        Arc::new(OutputRecord {
            id: uid.to_string(),
            kind: RecordKind::Finding,
            event_type: "io.ocsf.detection_finding.create",
            key: "agent".into(),
            severity_id,
            time_ms: 1,
            body: crate::emit::Body::Ocsf(Arc::new(serde_json::json!({
                "class_uid": 2004, "severity_id": severity_id, "time": 1,
                "metadata": {"uid": uid, "version": "1.8.0"},
                "finding_info": {"uid": uid},
            }))),
        })
    }

    /// `[[sinks]]` entries as warden.toml has them.
    fn sinks(text: &str) -> Result<Vec<SinkConfig>, toml::de::Error> {
        #[derive(serde::Deserialize)]
        struct File {
            sinks: Vec<SinkConfig>,
        }
        toml::from_str::<File>(text).map(|f| f.sinks)
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

    /// What the collector has read once `done` holds for it, or after 10 s:
    /// a delivery means the bytes were written, and the collector's thread
    /// may not have read them yet.
    fn received(got: &Mutex<Vec<u8>>, done: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let text = String::from_utf8(got.lock().unwrap().clone()).unwrap();
            if done(&text) || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn syslog_sinks(addr: &str, severities: &str) -> Vec<SinkConfig> {
        sinks(&format!(
            "[[sinks]]\ntype = \"syslog\"\naddress = \"{addr}\"\ntransport = \"tcp\"\nseverities = {severities}\n"
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
        assert_eq!(set.submit(&finding("f-1", 4), 1), 1);
        assert!(set.drain(Duration::from_secs(10)));
        assert_eq!(set.submit(&finding("f-1", 4), 2), 1);
        assert_eq!(set.submit(&finding("f-2", 4), 3), 1);
        // Not routed: severity medium is not in the list; nothing to answer.
        assert_eq!(set.submit(&finding("f-3", 3), 4), 0);
        assert!(set.drain(Duration::from_secs(10)));
        let stats = set.close(Duration::from_secs(5));
        assert_eq!(stats[0].delivered, 2);
        assert_eq!(stats[0].duplicates_skipped, 1);
        let mut tags = answered.lock().unwrap().clone();
        tags.sort();
        assert_eq!(tags, [1, 2, 3]);
        let text = received(&got, |t| t.contains("f-1") && t.contains("f-2"));
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
        let cfg = sinks(&format!(
            "[[sinks]]\ntype = \"syslog\"\naddress = \"127.0.0.1:{port}\"\ntransport = \"tcp\"\n\
             delivery = {{ buffer = 1, retry_initial_ms = 50, retry_for_seconds = 2 }}\n"
        ))
        .unwrap();
        let set = SinkSet::start(&cfg, &|_| None, |_: ()| {}).unwrap();
        let mut taken = 0;
        for i in 0..5 {
            taken += set.submit(&finding(&format!("f-{i}"), 4), ());
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
        let cfg = sinks(
            "[[sinks]]\ntype = \"webhook\"\nname = \"soar\"\nurl = \"https://soar.example/x\"\nsecret_env = \"NOPE\"\n",
        )
        .unwrap();
        let e = SinkSet::start(&cfg, &|_| None, |_: ()| {}).err().unwrap();
        assert_eq!(
            e.to_string(),
            "sink soar: environment variable NOPE is not set (it holds the webhook signing secret)"
        );
        let cfg = sinks("[[sinks]]\ntype = \"splunk_hec\"\nurl = \"ftp://splunk\"\n").unwrap();
        let e = SinkSet::start(&cfg, &|_| Some("t".into()), |_: ()| {})
            .err()
            .unwrap();
        assert!(e.to_string().contains("only http and https"), "{e}");
        // A credential over plain http is refused unless the sink allows it.
        for kind in [
            "type = \"splunk_hec\"",
            "type = \"ssf_push\"\nauthorization_env = \"A\"",
        ] {
            let text = format!("[[sinks]]\n{kind}\nurl = \"http://receiver:8088/x\"\n");
            let e = SinkSet::start(&sinks(&text).unwrap(), &|_| Some("t".into()), |_: ()| {})
                .err()
                .unwrap();
            assert!(e.to_string().contains("plain http"), "{kind}: {e}");
            let text = format!("{text}allow_insecure_http = true\n");
            assert!(
                SinkSet::start(&sinks(&text).unwrap(), &|_| Some("t".into()), |_: ()| {}).is_ok(),
                "{kind}"
            );
        }
        // A webhook sends no credential: plain http is allowed.
        let text = "[[sinks]]\ntype = \"webhook\"\nurl = \"http://soar/x\"\nsecret_env = \"S\"\n";
        let s = SinkSet::start(
            &sinks(text).unwrap(),
            &|_| Some("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
            |_: ()| {},
        );
        assert!(s.is_ok(), "{:?}", s.err());
        let cfg = sinks("[[sinks]]\ntype = \"syslog\"\naddress = \"collector\"\n").unwrap();
        let e = SinkSet::start(&cfg, &|_| None, |_: ()| {}).err().unwrap();
        assert!(e.to_string().contains("not host:port"), "{e}");
        // A misspelt key and an unknown kind are refused, naming them.
        let e = sinks("[[sinks]]\ntype = \"syslog\"\naddres = \"x:1\"\n").unwrap_err();
        assert!(e.to_string().contains("addres"), "{e}");
        let e = sinks("[[sinks]]\ntype = \"pager\"\nurl = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("pager"), "{e}");
    }
}
