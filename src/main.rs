//! The `warden` command line.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use warden::config::Config;
use warden::emit::JsonLinesSink;
use warden::replay::{self, ReplayObserver};
use warden::sim::{self, SimConfig};
use warden::source::BadRecord;

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Real-time behavioural detection for non-human identities"
)]
struct Cli {
    /// Log filter (also RUST_LOG), e.g. `info` or `warden=debug`.
    #[arg(long, global = true, default_value = "info")]
    log: String,
    /// Log lines as text or as JSON objects (for log shippers).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a labelled, time-sorted fleet of agent calls (JSON lines).
    Simulate {
        #[arg(long, default_value_t = 300)]
        agents: usize,
        /// How long, e.g. 24h, 3d, 90m.
        #[arg(long, default_value = "24h", value_parser = warden::event::parse_duration_ms)]
        duration: i64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First timestamp (RFC 3339); default Friday 2026-11-20T00:00:00Z.
        #[arg(long)]
        start: Option<String>,
        /// Share of agents that suffer an attack episode.
        #[arg(long, default_value_t = 0.15)]
        attack_share: f64,
        /// Output file (`.gz` compresses); `-` for stdout.
        #[arg(long)]
        out: String,
        /// `native` (canonical call events, labelled) or `cloudtrail`
        /// (the same calls as CloudTrail S3-delivery objects, unlabelled).
        #[arg(long, default_value = "native")]
        format: SimFormat,
    },
    /// Run the detection engine over recorded calls; evaluate when labelled.
    Replay {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Findings (OCSF Detection Finding JSON lines).
        #[arg(long)]
        alerts_out: Option<PathBuf>,
        /// Revocation events (JSON lines).
        #[arg(long)]
        revocations_out: Option<PathBuf>,
        /// Evaluation and run summary (JSON).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Never draw a progress bar.
        #[arg(long)]
        no_progress: bool,
        /// A self-contained HTML report (plots of events and findings over
        /// time, scores, recall per scenario, top agents).
        #[arg(long)]
        report_html: Option<PathBuf>,
        /// Also deliver findings and revocations to the sinks in `[sinks]`
        /// (Splunk HEC, webhooks, syslog/CEF, SSF push), to check the wiring
        /// with real findings; waits for them at the end.
        #[arg(long)]
        deliver: bool,
        /// Log every call of this agent with its per-detector surprises.
        #[arg(long)]
        trace_agent: Option<String>,
        /// Record format (overrides `[input] format` in the config).
        #[arg(long, value_enum)]
        format: Option<warden::adapt::Format>,
        /// Files, directories or `-` (stdin); `.gz` accepted.
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// Convert any input replay reads into Parquet (the canonical event's
    /// Arrow schema), partitioned by UTC day: the fast path for months of
    /// history (`warden replay OUT_DIR`).
    Convert {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Record format (overrides `[input] format` in the config).
        #[arg(long, value_enum)]
        format: Option<warden::adapt::Format>,
        /// A new or empty directory; gets `day=YYYY-MM-DD/part-NNNNN.parquet`.
        #[arg(long)]
        out_dir: PathBuf,
        #[arg(long)]
        no_progress: bool,
        /// Files, directories or `-` (stdin); `.gz` accepted.
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// Fit behaviour archetypes (k-means over per-agent profiles) from
    /// history and save them, versioned, for `[engine] archetypes`.
    Train {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Record format (overrides `[input] format` in the config).
        #[arg(long, value_enum)]
        format: Option<warden::adapt::Format>,
        /// Number of archetypes (k).
        #[arg(long, default_value_t = 8)]
        archetypes: usize,
        /// Agents with fewer calls (or under a day of history) are not profiled.
        #[arg(long, default_value_t = 200)]
        min_events: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Model file; default `models/archetypes-vN.json`, N one past the
        /// highest there. Never overwritten.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        no_progress: bool,
        /// Files, directories or `-` (stdin); `.gz` and Parquet accepted.
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// SQL over calls, findings and revocations (DataFusion). Tables:
    /// `calls` (any input replay reads; a Parquet lake is scanned in
    /// place), `calls_coded`, `findings`, `revocations`. Without a
    /// statement: an interactive prompt, or the statements on stdin.
    Query {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Call inputs: files, directories, `.gz`, Parquet (repeatable).
        #[arg(long)]
        calls: Vec<String>,
        /// Record format of the call inputs (overrides `[input] format`).
        #[arg(long, value_enum)]
        calls_format: Option<warden::adapt::Format>,
        /// Findings: OCSF JSON lines as `replay --alerts-out` writes them or
        /// the alerts topic carries them (repeatable).
        #[arg(long)]
        findings: Vec<PathBuf>,
        /// Revocations: one SET per line (`replay --revocations-out`, the
        /// revocations topic) or OCSF Remediation Activities (repeatable).
        #[arg(long)]
        revocations: Vec<PathBuf>,
        /// Output format of results.
        #[arg(long, value_enum, default_value_t)]
        format: warden::query::render::OutputFormat,
        #[arg(long)]
        no_progress: bool,
        /// SQL statements (`;`-separated). Omit for the prompt.
        sql: Option<String>,
    },
    /// Pick thresholds from evidence: replay once, sweep the finding and
    /// revocation thresholds (and each detector's weight), recommend a
    /// configuration for a false-finding budget and replay it to check.
    Tune {
        #[arg(long)]
        config: Option<PathBuf>,
        /// False findings per 1,000 agent-days accepted (labelled input).
        #[arg(long, default_value_t = 1.0)]
        budget: f64,
        /// Wrongful revocations accepted (labelled input).
        #[arg(long, default_value_t = 0)]
        wrongful_budget: u64,
        /// New findings per day the team can triage (unlabelled input).
        #[arg(long)]
        findings_per_day: Option<f64>,
        /// Finding thresholds to sweep (risk 0-100).
        #[arg(long, value_delimiter = ',')]
        thresholds: Option<Vec<f32>>,
        /// Revocation thresholds to sweep.
        #[arg(long, value_delimiter = ',')]
        revoke_thresholds: Option<Vec<f32>>,
        /// Write the recommended configuration here.
        #[arg(long)]
        write_config: Option<PathBuf>,
        /// The whole sweep as JSON.
        #[arg(long)]
        report: Option<PathBuf>,
        /// A self-contained HTML report of the sweep.
        #[arg(long)]
        report_html: Option<PathBuf>,
        /// Record format (overrides `[input] format` in the config).
        #[arg(long, value_enum)]
        format: Option<warden::adapt::Format>,
        #[arg(long)]
        no_progress: bool,
        /// Files, directories or `-` (stdin); `.gz` accepted.
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// Splice real attack records (Stratus techniques, a captured hour) into
    /// simulated principals with steady baselines, and report what is caught.
    Splice {
        /// One unit per input file (a technique) or per principal (a captured hour).
        #[arg(long, value_enum, default_value = "file")]
        unit: warden::splice::SpliceUnit,
        #[arg(long, default_value_t = 200)]
        agents: usize,
        #[arg(long, default_value = "3d", value_parser = warden::event::parse_duration_ms)]
        duration: i64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// When the first unit starts after the background's start.
        #[arg(long, default_value = "30h", value_parser = warden::event::parse_duration_ms)]
        start_after: i64,
        /// Gap between units (file units).
        #[arg(long, default_value = "60m", value_parser = warden::event::parse_duration_ms)]
        spacing: i64,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write the spliced, labelled stream (canonical JSON lines) for `warden replay`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Per-unit results as JSON.
        #[arg(long)]
        report: Option<PathBuf>,
        /// CloudTrail files or directories to splice.
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// Run as a streaming service: a consumer-group member on the calls
    /// topic, with outputs, state and metrics on Kafka and HTTP (see
    /// `[stream]` and `[kafka]` in warden.toml). Stops cleanly on SIGTERM/SIGINT.
    Run {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Overrides `[stream] metrics_listen` ("" turns it off).
        #[arg(long)]
        metrics_listen: Option<String>,
    },
    /// Start an in-process Kafka-protocol cluster (librdkafka's mock cluster)
    /// with Warden's topics, print its bootstrap address, serve until stopped.
    DevBroker {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Partitions of every topic.
        #[arg(long, default_value_t = 4)]
        partitions: i32,
    },
    /// The whole story on one machine, no set-up: an embedded cluster, a
    /// simulated fleet with injected attacks streamed onto it, the service
    /// consuming it, and a live view of what it catches.
    Demo(warden::demo::DemoArgs),
    /// Signing keys for revocation Security Event Tokens.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// Check Security Event Tokens (a file of them, one per line, or `-`)
    /// against a public key or a JWKS, and print each one's header and
    /// claims: what a receiver will see.
    Verify {
        /// Public key PEM (EC or RSA).
        #[arg(long, conflicts_with = "jwks", required_unless_present = "jwks")]
        public_key: Option<PathBuf>,
        /// JSON Web Key Set (as `warden keys generate` writes it).
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// Files of SETs, or `-` for stdin.
        #[arg(default_value = "-")]
        inputs: Vec<String>,
    },
    /// Print the default configuration (the documented `warden.toml`).
    DefaultConfig,
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Write a new ES256 (P-256) key pair: `<name>.pem` (private, for
    /// `[signing] key_file`), `<name>.pub.pem` and `<name>.jwks.json` (for
    /// receivers). Refuses to overwrite.
    Generate {
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
        #[arg(long, default_value = "warden-signing")]
        name: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// SIGTERM and SIGINT set the returned flag (a second one exits at once).
fn shutdown_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, flag.clone())
            .context("installing signal handlers")?;
        signal_hook::flag::register(sig, flag.clone()).context("installing signal handlers")?;
    }
    Ok(flag)
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SimFormat {
    Native,
    Cloudtrail,
}

fn create(path: &Path) -> Result<Box<dyn Write>> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufWriter::new(flate2::write::GzEncoder::new(
            f,
            flate2::Compression::fast(),
        )))
    } else {
        Box::new(BufWriter::with_capacity(1 << 16, f))
    })
}

/// A `--report` file: pretty JSON.
fn write_report(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    serde_json::to_writer_pretty(BufWriter::new(f), value).context("writing report")
}

/// The config file (or the defaults), with `--format` over `[input] format`.
fn input_config(path: Option<&Path>, format: Option<warden::adapt::Format>) -> Result<Config> {
    let mut cfg = Config::load_or_default(path)?;
    if let Some(f) = format {
        cfg.input.format = f;
    }
    Ok(cfg)
}

/// Progress bar on a terminal, bad records to the log (the first 20 in full).
struct CliObserver {
    /// Draw a bar at all (`--no-progress` turns it off; it is also off
    /// when stderr is not a terminal).
    progress: bool,
    bar: Option<ProgressBar>,
    bad_shown: u64,
}

impl CliObserver {
    fn new(progress: bool) -> Self {
        CliObserver {
            progress,
            bar: None,
            bad_shown: 0,
        }
    }
}

impl ReplayObserver for CliObserver {
    fn started(&mut self, total: Option<u64>) {
        if !self.progress || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::no_length(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        self.bar = Some(bar);
    }
    fn progress(&mut self, bytes: u64, events: u64) {
        if let Some(b) = &self.bar {
            b.set_position(bytes);
            b.set_message(format!("{events} events"));
        }
    }
    fn bad_record(&mut self, bad: &BadRecord) {
        self.bad_shown += 1;
        if self.bad_shown <= 20 {
            tracing::warn!(input = %bad.input, line = bad.error.line, field = bad.error.field.as_deref().unwrap_or(""), "skipped bad record: {bad}");
        } else if self.bad_shown == 21 {
            tracing::warn!("more bad records; only the count is reported from here on");
        }
    }
    fn finished(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => fmt.init(),
        LogFormat::Json => fmt.json().init(),
    }

    match cli.cmd {
        Cmd::Simulate {
            agents,
            duration,
            seed,
            start,
            attack_share,
            out,
            format,
        } => {
            if agents == 0 {
                bail!("--agents must be at least 1");
            }
            if !(0.0..=1.0).contains(&attack_share) {
                bail!("--attack-share must lie in 0..=1");
            }
            let start_ms = match start {
                Some(s) => warden::event::parse_rfc3339_ms(&s)
                    .with_context(|| format!("--start `{s}` is not RFC 3339"))?,
                None => SimConfig::DEFAULT_START_MS,
            };
            let cfg = SimConfig {
                agents,
                duration_ms: duration,
                seed,
                start_ms,
                attack_share,
            };
            let fleet = sim::generate(&cfg);
            let mut w: Box<dyn Write> = if out == "-" {
                Box::new(BufWriter::new(std::io::stdout().lock()))
            } else {
                create(Path::new(&out))?
            };
            let n = match format {
                SimFormat::Native => sim::write_events(&fleet, &mut w),
                SimFormat::Cloudtrail => sim::write_cloudtrail(&fleet, &mut w, 100),
            }
            .context("writing simulated events")?;
            drop(w);
            tracing::info!(events = n, agents, seed, out = %out, "simulated fleet written");
        }
        Cmd::Replay {
            config,
            alerts_out,
            revocations_out,
            report,
            no_progress,
            report_html,
            deliver,
            trace_agent,
            format,
            inputs,
        } => {
            let cfg = input_config(config.as_deref(), format)?;
            let findings = alerts_out.as_deref().map(create).transpose()?;
            let revocations = match revocations_out.as_deref() {
                Some(p) => Some((
                    create(p)?,
                    warden::emit::set::SetSigner::from_config(&cfg.signing)?,
                )),
                None => None,
            };
            let mut sink = JsonLinesSink::new(findings, revocations);
            let mut forward = match deliver {
                true if cfg.sinks.is_empty() => {
                    anyhow::bail!("--deliver: the config has no [sinks] to deliver to")
                }
                true => Some(warden::sinks::ForwardSink::start(
                    &cfg.sinks,
                    warden::emit::set::SetSigner::from_config(&cfg.signing)?,
                    &|var| std::env::var(var).ok(),
                )?),
                false => None,
            };
            let mut observer = CliObserver::new(!no_progress);
            let mut top = warden::report::TopAgents::default();
            let mut with_top = warden::emit::BothSinks(&mut sink, &mut top);
            let mut summary = match &mut forward {
                Some(f) => {
                    let mut both = warden::emit::BothSinks(&mut with_top, f);
                    replay::run(cfg, trace_agent, &inputs, &mut both, &mut observer)?
                }
                None => replay::run(cfg, trace_agent, &inputs, &mut with_top, &mut observer)?,
            };
            drop(sink);
            if let Some(f) = forward {
                summary.sinks = f.close(std::time::Duration::from_secs(600));
                for s in &summary.sinks {
                    println!(
                        "sink {}: delivered {}  requests {}  retries {}  dropped {}",
                        s.name,
                        s.delivered,
                        s.requests,
                        s.retries,
                        s.dropped_buffer_full
                            + s.dropped_rejected
                            + s.dropped_retries_exhausted
                            + s.dropped_at_shutdown
                    );
                }
            }
            if let Some(ev) = &summary.evaluation {
                print!("{}", ev.render());
            }
            println!(
                "decode errors {}  agents tracked {}  state {:.0} B/agent  {:.0} events/s ({:.2} s)",
                summary.decode_errors, summary.agents_tracked, summary.state_bytes_per_agent, summary.events_per_sec, summary.elapsed_s
            );
            if let Some(p) = report {
                write_report(&p, &summary)?;
            }
            if let Some(p) = report_html {
                let eval = summary.evaluation.as_ref().expect("replay evaluates");
                let html = warden::report::replay_page(
                    &inputs,
                    eval,
                    &summary.timeline,
                    &summary.risks,
                    &top,
                );
                std::fs::write(&p, html).with_context(|| format!("writing {}", p.display()))?;
            }
        }
        Cmd::Convert {
            config,
            format,
            out_dir,
            no_progress,
            inputs,
        } => {
            let cfg = input_config(config.as_deref(), format)?;
            let mut observer = CliObserver::new(!no_progress);
            let opts = warden::source::ReadOptions::from_config(&cfg);
            let s = warden::lake::convert(&inputs, &opts, &out_dir, &mut observer)?;
            println!(
                "{} rows in {} files over {} days, {:.1} MB written to {}; {} decode errors, {} records skipped",
                s.rows,
                s.files,
                s.days,
                s.bytes_written as f64 / 1e6,
                out_dir.display(),
                s.decode_errors,
                s.skipped_records
            );
        }
        Cmd::Train {
            config,
            format,
            archetypes,
            min_events,
            seed,
            out,
            no_progress,
            inputs,
        } => {
            let cfg = input_config(config.as_deref(), format)?;
            let opts = warden::train::TrainOptions {
                archetypes,
                min_events,
                seed,
            };
            let mut observer = CliObserver::new(!no_progress);
            let model = warden::train::train(&inputs, &cfg, &opts, &mut observer)?;
            let path = out.unwrap_or_else(|| warden::train::next_model_path(Path::new("models")));
            warden::train::save(&model, &path)?;
            print!("{}", warden::train::render(&model));
            println!(
                "model written to {}; use it with `[engine] archetypes = \"{}\"` in warden.toml",
                path.display(),
                path.display()
            );
        }
        Cmd::Query {
            config,
            calls,
            calls_format,
            findings,
            revocations,
            format,
            no_progress,
            sql,
        } => {
            use warden::query::{prompt::Session, Sources, Workspace};
            let cfg = input_config(config.as_deref(), calls_format)?;
            let opts = warden::source::ReadOptions::from_config(&cfg);
            let sources = Sources {
                calls,
                findings,
                revocations,
            };
            let mut observer = CliObserver::new(!no_progress);
            let ws = Workspace::open(&sources, &opts, &mut observer)?;
            let l = &ws.loaded;
            tracing::info!(
                calls = l
                    .calls
                    .map_or("scanned in place (Parquet)".to_string(), |n| n.to_string()),
                findings = l.findings,
                revocations = l.revocations,
                bad_records = l.bad_records,
                other_ocsf_records = l.other_records,
                "tables loaded"
            );
            let mut session = Session::new(&ws, format);
            let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
            match sql {
                Some(text) => session.script(&text, &mut out, &mut err),
                None if std::io::stdin().is_terminal() => session.interactive()?,
                None => {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
                    session.script(&text, &mut out, &mut err);
                }
            }
            if session.failures > 0 {
                bail!("{} statement(s) failed", session.failures);
            }
        }
        Cmd::Tune {
            config,
            budget,
            wrongful_budget,
            findings_per_day,
            thresholds,
            revoke_thresholds,
            write_config,
            report,
            report_html,
            format,
            no_progress,
            inputs,
        } => {
            let cfg = input_config(config.as_deref(), format)?;
            let mut opts = warden::tune::TuneOptions {
                false_finding_budget: budget,
                wrongful_revocation_budget: wrongful_budget,
                findings_per_day_budget: findings_per_day,
                ..Default::default()
            };
            if let Some(t) = thresholds {
                opts.finding_thresholds = t;
            }
            if let Some(t) = revoke_thresholds {
                opts.revoke_thresholds = t;
            }
            let mut observer = CliObserver::new(!no_progress);
            let r = warden::tune::run(&cfg, &inputs, &opts, &mut observer)?;
            print!("{}", warden::tune::render::text(&r));
            if let Some(p) = report {
                write_report(&p, &r)?;
            }
            if let Some(p) = report_html {
                let html =
                    warden::report::tune_page(&inputs, &r, &r.timeline, &r.risks, &r.top_agents);
                std::fs::write(&p, html).with_context(|| format!("writing {}", p.display()))?;
            }
            if let Some(p) = write_config {
                let Some(rec) = &r.recommendation else {
                    anyhow::bail!("no configuration to write: no threshold swept meets the budget");
                };
                std::fs::write(&p, warden::tune::recommended_config(&cfg, rec, &inputs))
                    .with_context(|| format!("writing {}", p.display()))?;
                tracing::info!(path = %p.display(), "recommended configuration written");
            }
        }
        Cmd::Splice {
            unit,
            agents,
            duration,
            seed,
            start_after,
            spacing,
            config,
            out,
            report,
            inputs,
        } => {
            let cfg = Config::load_or_default(config.as_deref())?;
            let sc = warden::splice::SpliceConfig {
                background: SimConfig {
                    agents,
                    duration_ms: duration,
                    seed,
                    start_ms: SimConfig::DEFAULT_START_MS,
                    attack_share: 0.0,
                },
                inputs,
                unit,
                start_after_ms: start_after,
                spacing_ms: spacing,
            };
            let mut spliced = warden::splice::splice(&sc)?;
            if let Some(p) = &out {
                let mut w = create(p)?;
                for e in &spliced.events {
                    w.write_all(e.to_json().as_bytes())?;
                    w.write_all(b"\n")?;
                }
                w.flush()?;
            }
            let mut engine = warden::engine::Engine::from_config(cfg)?;
            warden::splice::evaluate(&mut spliced, &mut engine);
            println!(
                "{:<58} {:>6} {:>9} {:>8} {:>5} {:>7}  detectors",
                "unit", "events", "detected", "delay_s", "risk", "revoked"
            );
            for u in &spliced.units {
                let labels: Vec<String> =
                    u.labels.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                println!(
                    "{:<58} {:>6} {:>9} {:>8} {:>5} {:>7}  {}  [{}]",
                    u.unit,
                    u.events,
                    if u.detected { "yes" } else { "no" },
                    u.delay_s.map_or("-".into(), |d| format!("{d:.0}")),
                    u.max_risk,
                    if u.revoked { "yes" } else { "no" },
                    u.features.join("+"),
                    labels.join(" ")
                );
            }
            let n = spliced.units.len();
            let caught = spliced.units.iter().filter(|u| u.detected).count();
            println!("caught {caught} of {n} units");
            if let Some(p) = report {
                write_report(&p, &spliced.units)?;
            }
        }
        Cmd::Run {
            config,
            metrics_listen,
        } => {
            let mut cfg = Config::load_or_default(config.as_deref())?;
            if let Some(m) = metrics_listen {
                cfg.stream.metrics_listen = m;
            }
            let stop = shutdown_flag()?;
            let health = std::sync::Arc::new(warden::stream::Health::default());
            let summary = warden::stream::run(cfg, &stop, health, &mut |_| {})?;
            println!("{}", serde_json::to_string(&summary)?);
        }
        Cmd::DevBroker { config, partitions } => {
            let cfg = Config::load_or_default(config.as_deref())?;
            if partitions < 1 {
                bail!("--partitions must be at least 1");
            }
            let stop = shutdown_flag()?;
            let broker = warden::stream::devbroker::DevBroker::start(&cfg.stream, partitions)
                .context("starting the embedded cluster")?;
            println!("{}", broker.bootstrap_servers());
            std::io::stdout().flush()?;
            tracing::info!(
                bootstrap = %broker.bootstrap_servers(),
                partitions,
                calls = %cfg.stream.calls_topic,
                alerts = %cfg.stream.alerts_topic,
                revocations = %cfg.stream.revocations_topic,
                "embedded Kafka-protocol cluster serving until SIGINT/SIGTERM (in memory; each partition keeps its last 5 MB)"
            );
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        Cmd::Demo(args) => {
            let stop = shutdown_flag()?;
            let report = warden::demo::run(&args, &stop)?;
            print!("{}", report.render());
        }
        Cmd::Keys {
            cmd: KeysCmd::Generate { out_dir, name },
        } => {
            let (private, public, jwk) = warden::emit::set::generate_es256();
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("cannot create {}", out_dir.display()))?;
            let files = [
                (out_dir.join(format!("{name}.pem")), private),
                (out_dir.join(format!("{name}.pub.pem")), public),
                (
                    out_dir.join(format!("{name}.jwks.json")),
                    serde_json::to_string_pretty(&serde_json::json!({"keys": [jwk]}))? + "\n",
                ),
            ];
            for (p, _) in &files {
                if p.exists() {
                    bail!("{} exists; not overwriting a key", p.display());
                }
            }
            for (p, text) in &files {
                std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?;
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&files[0].0, std::fs::Permissions::from_mode(0o600))?;
            }
            println!("kid {}", jwk["kid"].as_str().unwrap_or(""));
            for (p, _) in &files {
                println!("wrote {}", p.display());
            }
        }
        Cmd::Verify {
            public_key,
            jwks,
            inputs,
        } => {
            use warden::emit::set::Verifier;
            let verifier = match (&public_key, &jwks) {
                (Some(p), _) => Verifier::from_public_pem(
                    &std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                ),
                (None, Some(p)) => Verifier::from_jwks(
                    &std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                ),
                (None, None) => bail!("give --public-key or --jwks"),
            }
            .map_err(|e| anyhow::anyhow!(e))?;
            let (mut good, mut bad) = (0u64, 0u64);
            for input in &inputs {
                let text = if input == "-" {
                    let mut s = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                    s
                } else {
                    std::fs::read_to_string(input)
                        .with_context(|| format!("cannot read {input}"))?
                };
                for (i, line) in text.lines().enumerate() {
                    let token = line.trim();
                    if token.is_empty() {
                        continue;
                    }
                    match verifier.verify(token) {
                        Ok((header, claims)) => {
                            good += 1;
                            println!(
                                "{}",
                                serde_json::json!({"valid": true, "header": header, "claims": claims})
                            );
                        }
                        Err(e) => {
                            bad += 1;
                            println!(
                                "{}",
                                serde_json::json!({"valid": false, "input": input, "line": i + 1, "error": e})
                            );
                        }
                    }
                }
            }
            eprintln!("{good} valid, {bad} invalid");
            if bad > 0 {
                std::process::exit(1);
            }
        }
        Cmd::DefaultConfig => {
            print!("{}", include_str!("../warden.toml"));
        }
    }
    Ok(())
}
