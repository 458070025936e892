//! `warden demo`: the whole story on one machine. An embedded Kafka-protocol
//! cluster; a simulated fleet whose history is streamed onto the calls topic
//! as fast as the cluster takes it and whose last hours are then played at a
//! steady, compressed pace with attacks injected; `warden run`'s service
//! consuming it in-process; a watcher reading the alerts and revocations
//! topics as a SOC tool would; and, at the end, every injected attack against
//! what was caught and how long after injection.

use crate::config::Config;
use crate::sim::{self, SimConfig};
use crate::stream::{self, devbroker::DevBroker, Health, RunSummary};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
/// `warden demo`: an embedded Kafka cluster, a simulated fleet produced into
/// it with attacks injected live, and the streaming service consuming it.
pub struct DemoArgs {
    /// Wall-clock length of the live phase, e.g. 60s, 5m.
    #[arg(long, default_value = "60s", value_parser = crate::event::parse_duration_ms)]
    pub duration: i64,
    #[arg(long, default_value_t = 60)]
    /// Agents in the simulated fleet.
    pub agents: usize,
    #[arg(long, default_value_t = 7)]
    /// Seed of the simulated fleet.
    pub seed: u64,
    /// Partitions of the calls topic.
    #[arg(long, default_value_t = 4)]
    pub partitions: i32,
    /// Simulated history streamed first, so baselines exist when attacks start.
    #[arg(long, default_value = "30h", value_parser = crate::event::parse_duration_ms)]
    pub history: i64,
    /// Simulated time played live over `--duration` (attacks happen here).
    #[arg(long, default_value = "6h", value_parser = crate::event::parse_duration_ms)]
    pub live: i64,
    /// Share of agents that suffer an attack (those landing in the live phase are kept).
    #[arg(long, default_value_t = 0.6)]
    pub attack_share: f64,
    /// Serve /metrics, /healthz, /readyz here while the demo runs.
    #[arg(long, default_value = "")]
    pub metrics_listen: String,
    #[arg(long)]
    /// A `warden.toml` to run the service with (its Kafka settings are
    /// replaced by the embedded cluster's).
    pub config: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
/// Why the demo could not run.
pub enum DemoError {
    #[error("embedded cluster: {0}")]
    /// The embedded cluster or a client of it failed.
    Broker(#[from] KafkaError),
    #[error(transparent)]
    /// The streaming service stopped with an error.
    Stream(#[from] stream::StreamError),
    #[error(transparent)]
    /// The config file is not valid.
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    /// The arguments do not make a demo (or a thread of it failed).
    Invalid(String),
    #[error("writing the demo's progress: {0}")]
    /// Writing the demo's progress failed.
    Io(#[from] std::io::Error),
}

/// Calls the demo lets the service fall behind by (see the mock cluster's
/// retention in `run`).
const BACKLOG: u64 = 4000;

/// One call to produce.
struct Call {
    ts_ms: i64,
    agent: String,
    /// Its agent's own tenant: the record key, so each cohort lives in
    /// one partition (docs/streaming.md, "Keying the calls topic").
    tenant: String,
    json: String,
}

/// One injected attack and what became of it.
#[derive(Debug, Clone)]
pub struct AttackOutcome {
    /// The attacked agent.
    pub agent: String,
    /// The attack scenario played.
    pub scenario: String,
    /// Calls the attack made.
    pub calls: usize,
    /// Seconds after the attack's first call was produced.
    pub detected_after_s: Option<f64>,
    /// Seconds after the attack's first call until its revocation.
    pub revoked_after_s: Option<f64>,
    /// Highest risk a finding on the agent had.
    pub max_risk: u64,
}

/// What the demo showed.
pub struct DemoReport {
    /// Every attack injected in the live phase, and what became of it.
    pub attacks: Vec<AttackOutcome>,
    /// Findings on agents that were not attacked in the live phase.
    pub other_findings: u64,
    /// Calls produced.
    pub produced: u64,
    /// What the streaming service reported when it stopped.
    pub service: RunSummary,
    /// Wall-clock seconds the demo took.
    pub wall_s: f64,
}

impl DemoReport {
    /// The demo's closing table, as printed.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "\n{:<26} {:<24} {:>6} {:>10} {:>10} {:>5}\n",
            "agent", "injected attack", "calls", "caught", "revoked", "risk"
        ));
        let secs = |v: Option<f64>| v.map_or("-".to_string(), |d| format!("{d:.1} s"));
        for a in &self.attacks {
            s.push_str(&format!(
                "{:<26} {:<24} {:>6} {:>10} {:>10} {:>5}\n",
                a.agent,
                a.scenario,
                a.calls,
                secs(a.detected_after_s),
                secs(a.revoked_after_s),
                a.max_risk
            ));
        }
        let caught = self
            .attacks
            .iter()
            .filter(|a| a.detected_after_s.is_some())
            .count();
        s.push_str(&format!(
            "\ncaught {caught} of {} injected attacks; {} findings on other agents\n",
            self.attacks.len(),
            self.other_findings
        ));
        let v = &self.service;
        s.push_str(&format!(
            "{} calls produced, {} scored in {:.1} s; {} findings, {} revocations\nevent→decision p99: {:.0} ms in the last second of traffic; {:.0} ms over the run (the history backlog included)\n",
            self.produced, v.events, self.wall_s, v.findings, v.revocations, v.recent_p99_ms, v.latency_p99_ms
        ));
        s
    }
}

/// A decision seen on an output topic.
struct Seen {
    revocation: bool,
    agent: String,
    risk: u64,
    at: Instant,
}

fn watch(
    bootstrap: &str,
    topics: [String; 2],
    stop: Arc<AtomicBool>,
) -> Result<(Receiver<Seen>, std::thread::JoinHandle<()>), KafkaError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "warden-demo-watcher")
        .set("enable.auto.commit", "false")
        .create()?;
    let md = consumer.fetch_metadata(None, Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    for t in md
        .topics()
        .iter()
        .filter(|t| topics.iter().any(|x| x == t.name()))
    {
        for p in t.partitions() {
            tpl.add_partition_offset(t.name(), p.id(), Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl)?;
    let (tx, rx) = channel();
    let handle = std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) else {
                continue;
            };
            let agent = m
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            let revocation = m.topic() == topics[1];
            let risk = m
                .payload()
                .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
                .and_then(|v| v.get("risk_score").and_then(|r| r.as_u64()))
                .unwrap_or(0);
            let is_create = m.headers().is_some_and(|h| {
                h.iter()
                    .any(|h| h.key == "ce_type" && h.value.is_some_and(|v| v.ends_with(b".create")))
            });
            if (revocation || is_create)
                && tx
                    .send(Seen {
                        revocation,
                        agent,
                        risk,
                        at: Instant::now(),
                    })
                    .is_err()
            {
                break;
            }
        }
    });
    Ok((rx, handle))
}

/// Simulates the fleet and keeps only attacks that start in the live phase.
/// Attacked agent -> (scenario, calls, first call's time).
type Attacks = BTreeMap<String, (String, usize, i64)>;

fn fleet(args: &DemoArgs) -> (Vec<Call>, Attacks, i64) {
    let start = SimConfig::DEFAULT_START_MS;
    let f = sim::generate(&SimConfig {
        agents: args.agents,
        duration_ms: args.history + args.live,
        seed: args.seed,
        start_ms: start,
        attack_share: args.attack_share,
        scenarios: Vec::new(),
        variants: Default::default(),
    });
    let live_start = start + args.history;
    let live_end = live_start + args.live;
    let agent = |e: &sim::SimEvent| f.strings.get(f.agent_names[e.agent as usize]);
    // agent -> (first, last) attack call, from the simulator's own labels.
    let mut span: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for e in f.events.iter().filter(|e| e.label > 0) {
        let s = span.entry(agent(e)).or_insert((e.ts, e.ts));
        s.0 = s.0.min(e.ts);
        s.1 = s.1.max(e.ts);
    }
    let mut buf = Vec::new();
    sim::write_events(&f, &mut buf).expect("writing to memory");
    let text = String::from_utf8(buf).expect("simulator writes UTF-8");
    // write_events writes one line per event, in order.
    let mut calls = Vec::new();
    // agent -> (scenario, calls, first ts) for attacks wholly in the live phase.
    let mut attacks = Attacks::new();
    for (e, line) in f.events.iter().zip(text.lines()) {
        if e.ts >= live_end {
            break;
        }
        if e.label > 0 {
            let (first, last) = span[agent(e)];
            if first < live_start || last >= live_end {
                continue; // not wholly in the live phase: not part of the show
            }
            let scenario = sim::SCENARIOS[e.label as usize - 1];
            attacks
                .entry(agent(e).to_string())
                .or_insert((scenario.to_string(), 0, e.ts))
                .1 += 1;
        }
        calls.push(Call {
            ts_ms: e.ts,
            agent: agent(e).to_string(),
            tenant: f.strings.get(f.tenants[e.agent as usize]).to_string(),
            json: line.to_string(),
        });
    }
    (calls, attacks, live_start)
}

fn send(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    c: &Call,
) -> Result<(), KafkaError> {
    let mut rec = BaseRecord::to(topic).key(&c.tenant).payload(&c.json);
    loop {
        match producer.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                rec = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Runs the demo until it ends or `stop` is set.
pub fn run(args: &DemoArgs, stop: &AtomicBool) -> Result<DemoReport, DemoError> {
    if args.agents == 0 || args.partitions < 1 || !(0.0..=1.0).contains(&args.attack_share) {
        return Err(DemoError::Invalid(
            "--agents and --partitions must be positive, --attack-share in 0..=1".into(),
        ));
    }
    let mut cfg = Config::load_or_default(args.config.as_deref())?;
    cfg.stream.metrics_listen = args.metrics_listen.clone();
    cfg.stream.checkpoint_interval_seconds = cfg.stream.checkpoint_interval_seconds.min(10);
    let broker = DevBroker::start(&cfg.stream, args.partitions)?;
    let bootstrap = broker.bootstrap_servers();
    cfg.kafka
        .insert("bootstrap.servers".into(), bootstrap.clone());
    // The mock cluster answers a fetch only when its wait expires; a real
    // broker answers as soon as data arrives, so this only matters here.
    cfg.kafka
        .entry("fetch.wait.max.ms".into())
        .or_insert_with(|| "20".into());
    let tty = std::io::stderr().is_terminal();
    let say = |line: String| {
        if tty {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    say(format!(
        "embedded Kafka-protocol cluster at {bootstrap} ({} partitions); simulating {} agents",
        args.partitions, args.agents
    ));
    let (calls, attacks, live_start) = fleet(args);
    let history = calls.iter().filter(|c| c.ts_ms < live_start).count();
    say(format!(
        "{} calls: {history} of history (streamed first, as fast as the service takes them), {} live over {:.0} s with {} attacks injected",
        calls.len(),
        calls.len() - history,
        args.duration as f64 / 1000.0,
        attacks.len()
    ));

    // The service, exactly as `warden run` runs it.
    let svc_stop = Arc::new(AtomicBool::new(false));
    let live: Arc<Mutex<RunSummary>> = Arc::default();
    let service = {
        let (cfg, svc_stop, live) = (cfg.clone(), svc_stop.clone(), live.clone());
        std::thread::spawn(move || {
            let health = Arc::new(Health::default());
            stream::run(cfg, &svc_stop, health, &mut |s| {
                *live.lock().unwrap_or_else(|p| p.into_inner()) = s.clone();
            })
        })
    };
    let watch_stop = Arc::new(AtomicBool::new(false));
    let (seen, watcher) = watch(
        &bootstrap,
        [
            cfg.stream.alerts_topic.clone(),
            cfg.stream.revocations_topic.clone(),
        ],
        watch_stop.clone(),
    )?;
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;

    let started = Instant::now();
    let speed = args.live as f64 / args.duration as f64; // simulated ms per wall ms
    let mut injected: BTreeMap<String, Instant> = BTreeMap::new();
    let mut outcomes: BTreeMap<String, AttackOutcome> = attacks
        .iter()
        .map(|(a, (scenario, n, _))| {
            (
                a.clone(),
                AttackOutcome {
                    agent: a.clone(),
                    scenario: scenario.clone(),
                    calls: *n,
                    detected_after_s: None,
                    revoked_after_s: None,
                    max_risk: 0,
                },
            )
        })
        .collect();
    let mut other_findings = 0u64;
    let mut live_wall_start: Option<Instant> = None;
    let mut last_status = Instant::now();
    let mut i = 0usize;
    let topic = cfg.stream.calls_topic.clone();
    let take_seen = |outcomes: &mut BTreeMap<String, AttackOutcome>,
                     injected: &BTreeMap<String, Instant>,
                     other: &mut u64| {
        for s in seen.try_iter() {
            let since = injected
                .get(&s.agent)
                .map(|t| s.at.duration_since(*t).as_secs_f64());
            match (outcomes.get_mut(&s.agent), since) {
                (Some(o), Some(d)) => {
                    o.max_risk = o.max_risk.max(s.risk);
                    let what = if s.revocation {
                        o.revoked_after_s.get_or_insert(d);
                        "REVOKED"
                    } else {
                        o.detected_after_s.get_or_insert(d);
                        "FINDING"
                    };
                    say(format!(
                        "  [{:>5.1} s] {what:<8} {:<26} {} — {d:.1} s after injection",
                        started.elapsed().as_secs_f64(),
                        s.agent,
                        o.scenario
                    ));
                }
                _ if !s.revocation => {
                    *other += 1;
                    say(format!(
                        "  [{:>5.1} s] finding  {:<26} risk {} (no attack injected)",
                        started.elapsed().as_secs_f64(),
                        s.agent,
                        s.risk
                    ));
                }
                _ => {}
            }
        }
    };
    let status = |produced: usize, live: &Mutex<RunSummary>| {
        let v = live.lock().unwrap_or_else(|p| p.into_inner()).clone();
        say(format!(
            "  [{:>5.1} s] produced {produced:>7}  scored {:>7}  ({:.0}/s)  findings {:>3}  revocations {:>3}  event→decision p99 {:.0} ms (last second)",
            started.elapsed().as_secs_f64(),
            v.events,
            if v.elapsed_s > 0.0 { v.events as f64 / v.elapsed_s } else { 0.0 },
            v.findings,
            v.revocations,
            v.recent_p99_ms,
        ));
    };
    while i < calls.len() && !stop.load(Ordering::Relaxed) {
        let c = &calls[i];
        if c.ts_ms >= live_start {
            let t0 = *live_wall_start.get_or_insert_with(|| {
                say("history streamed; live phase starts".to_string());
                Instant::now()
            });
            let due = t0 + Duration::from_millis(((c.ts_ms - live_start) as f64 / speed) as u64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep((due - now).min(Duration::from_millis(50)));
                take_seen(&mut outcomes, &injected, &mut other_findings);
                if last_status.elapsed() >= Duration::from_secs(5) {
                    last_status = Instant::now();
                    status(i, &live);
                }
                continue;
            }
            if attacks.contains_key(&c.agent) && !injected.contains_key(&c.agent) {
                let (scenario, _, first) = &attacks[&c.agent];
                if c.ts_ms >= *first {
                    injected.insert(c.agent.clone(), Instant::now());
                    say(format!(
                        "  [{:>5.1} s] INJECT   {:<26} {scenario}",
                        started.elapsed().as_secs_f64(),
                        c.agent
                    ));
                }
            }
        }
        // The embedded cluster keeps only the last 5 MB of each partition:
        // stay close enough ahead of the service that nothing is dropped
        // before it is read (a real cluster's retention makes this moot).
        while i as u64 > live.lock().unwrap_or_else(|p| p.into_inner()).records + BACKLOG
            && !stop.load(Ordering::Relaxed)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        send(&producer, &topic, c)?;
        i += 1;
        if last_status.elapsed() >= Duration::from_secs(5) {
            last_status = Instant::now();
            status(i, &live);
            take_seen(&mut outcomes, &injected, &mut other_findings);
        }
    }
    producer.flush(Duration::from_secs(30))?;
    // Let the service drain what is left (bounded), then stop it cleanly.
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < drain_deadline && !stop.load(Ordering::Relaxed) {
        take_seen(&mut outcomes, &injected, &mut other_findings);
        if live.lock().unwrap_or_else(|p| p.into_inner()).events >= i as u64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    take_seen(&mut outcomes, &injected, &mut other_findings);
    status(i, &live);
    svc_stop.store(true, Ordering::Relaxed);
    let service = service
        .join()
        .map_err(|_| DemoError::Invalid("the service thread panicked".into()))??;
    watch_stop.store(true, Ordering::Relaxed);
    watcher
        .join()
        .map_err(|_| DemoError::Invalid("the findings watcher thread panicked".into()))?;
    drop(producer);
    std::io::stdout().flush()?;
    Ok(DemoReport {
        attacks: outcomes.into_values().collect(),
        other_findings,
        produced: i as u64,
        service,
        wall_s: started.elapsed().as_secs_f64(),
    })
}
