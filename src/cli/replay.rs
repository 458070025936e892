//! `warden replay`: the engine over recorded calls, with its outputs and evaluation.

use super::{create, input_config, write_report, CliObserver};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::time::Duration;
use warden::audit::AuditLog;
use warden::emit::set::SetSigner;
use warden::emit::{FileSink, Outputs, Renderer};
use warden::offline::replay;
use warden::offline::report::{replay_page, TopAgents};
use warden::sinks::SinkSet;

#[derive(clap::Args)]
pub struct Args {
    /// The `warden.toml` to use (`warden default-config` prints the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Findings (OCSF Detection Finding JSON lines).
    #[arg(long)]
    pub alerts_out: Option<PathBuf>,
    /// Revocation events (JSON lines).
    #[arg(long)]
    pub revocations_out: Option<PathBuf>,
    /// Evaluation and run summary (JSON).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// A self-contained HTML report (plots of events and findings over
    /// time, scores, recall per scenario, top agents).
    #[arg(long)]
    pub report_html: Option<PathBuf>,
    /// Also deliver findings and revocations to the sinks in `[sinks]`
    /// (Splunk HEC, webhooks, syslog/CEF, SSF push), to check the wiring
    /// with real findings; waits for them at the end.
    #[arg(long)]
    pub deliver: bool,
    /// Log every call of this agent with its per-detector surprises.
    #[arg(long)]
    pub trace_agent: Option<String>,
    /// Record format (overrides `[input] format` in the config).
    #[arg(long, value_enum)]
    pub format: Option<warden::adapt::Format>,
    /// A tamper-evident log of every output (and the config used), each
    /// line chained to the one before by its SHA-256, signed with the
    /// `[signing]` key every `--audit-checkpoint-every` lines and at the
    /// end; `warden audit verify` checks it.
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
    /// Lines between the decision log's signed checkpoints.
    #[arg(long, default_value_t = 1000, requires = "audit_log")]
    pub audit_checkpoint_every: u64,
    /// Suppressions to apply (overrides `[decisions] suppressions_file`):
    /// what they would have suppressed is recorded with OCSF status
    /// Suppressed in the findings instead of raised.
    #[arg(long)]
    pub suppressions: Option<PathBuf>,
    /// A guardrail policy file to apply (repeat for several; they
    /// override `[decisions] policy_files`): what they would have flagged
    /// is raised as policy violation findings.
    #[arg(long = "policy")]
    pub policies: Vec<PathBuf>,
    /// The identities file the policies read (overrides `[decisions]
    /// identities_file`).
    #[arg(long)]
    pub identities: Option<PathBuf>,
    /// Threads to score on (default: every core). Cohorts are shared out
    /// between them; the outputs are the same for any number.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Files, directories or `-` (stdin); `.gz` accepted.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        config,
        alerts_out,
        revocations_out,
        report,
        no_progress,
        report_html,
        deliver,
        trace_agent,
        format,
        audit_log,
        audit_checkpoint_every,
        suppressions,
        policies,
        identities,
        threads,
        inputs,
    } = args;

    let mut cfg = input_config(config.as_deref(), format)?;
    if suppressions.is_some() {
        cfg.decisions.suppressions_file = suppressions;
    }
    if !policies.is_empty() {
        cfg.decisions.policy_files = policies;
    }
    if identities.is_some() {
        cfg.decisions.identities_file = identities;
    }
    if deliver && cfg.sinks.is_empty() {
        bail!("--deliver: the config has no [[sinks]] to deliver to");
    }
    // Revocations are signed once, for the file and for SSF push alike,
    // and the decision log's checkpoints with the same key.
    let signer = match revocations_out.is_some() || deliver || audit_log.is_some() {
        true => Some(SetSigner::from_config(&cfg.signing)?),
        false => None,
    };
    let mut audit = match (&audit_log, &signer) {
        (Some(path), Some(signer)) => {
            Some(open_audit_log(path, signer, &cfg, audit_checkpoint_every)?)
        }
        _ => None,
    };
    let signer = signer.filter(|_| revocations_out.is_some() || deliver);
    let files = FileSink::new(
        alerts_out.as_deref().map(create).transpose()?,
        revocations_out.as_deref().map(create).transpose()?,
    );
    let mut sinks = match deliver {
        true => Some(SinkSet::start_blocking(
            &cfg.sinks,
            &|var| std::env::var(var).ok(),
            |()| {},
        )?),
        false => None,
    };
    let mut observer = CliObserver::new(!no_progress);
    let mut top = TopAgents::default();
    let mut outputs = Outputs::new(Renderer::new(signer));
    outputs.push(files);
    outputs.push(&mut top);
    if let Some(s) = &mut sinks {
        outputs.push(s);
    }
    if let Some(a) = &mut audit {
        outputs.push(a);
    }
    let mut summary = replay::run(
        cfg,
        trace_agent,
        &inputs,
        &mut outputs,
        &mut observer,
        threads.unwrap_or_else(super::cores),
    )?;
    drop(outputs);
    if let Some(a) = audit {
        let path = audit_log.as_deref().expect("opened with a path");
        let done = a
            .finish(warden::event::now_ms())
            .with_context(|| format!("writing {}", path.display()))?;
        println!(
            "decision log {}: {} records, {} checkpoints, head {}",
            path.display(),
            done.records,
            done.checkpoints,
            done.head
        );
    }
    if let Some(s) = sinks {
        summary.sinks = s.close(Duration::from_secs(600));
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
    if summary.policy_violations > 0 {
        println!("policy violations {}", summary.policy_violations);
    }
    println!(
        "decode errors {}  agents tracked {}  state {:.0} B/agent  {:.0} events/s ({:.2} s)",
        summary.decode_errors,
        summary.agents_tracked,
        summary.state_bytes_per_agent,
        summary.events_per_sec,
        summary.elapsed_s
    );
    if let Some(p) = report {
        write_report(&p, &summary)?;
    }
    if let Some(p) = report_html {
        let eval = summary.evaluation.as_ref().expect("replay evaluates");
        let html = replay_page(&inputs, eval, &summary.timeline, &summary.risks, &top);
        std::fs::write(&p, html).with_context(|| format!("writing {}", p.display()))?;
    }
    if !summary.suspect_inputs.is_empty() {
        // The outputs are written; the exit status says the run is not to
        // be trusted (a wrong file or a wrong --format looks like this).
        let list: Vec<String> = summary
            .suspect_inputs
            .iter()
            .map(|s| s.to_string())
            .collect();
        bail!(
            "{} input(s) yielded no call or mostly bad records (wrong file or --format?): {}",
            list.len(),
            list.join("; ")
        );
    }
    Ok(())
}

/// Opens the decision log and records the configuration and suppressions
/// the run uses. A
/// key made for this run only is written beside the log as
/// `<log>.jwks.json`, or nothing could ever verify it.
fn open_audit_log(
    path: &std::path::Path,
    signer: &SetSigner,
    cfg: &warden::config::Config,
    every: u64,
) -> Result<AuditLog> {
    if cfg.signing.key_file.is_empty() {
        let jwks = path.with_extension("jwks.json");
        std::fs::write(&jwks, serde_json::to_vec_pretty(&signer.jwks())?)
            .with_context(|| format!("writing {}", jwks.display()))?;
        eprintln!(
            "decision log signed with a key made for this run; its public key is in {} \
             (configure [signing] key_file to sign with yours)",
            jwks.display()
        );
    }
    let name = path.display().to_string();
    // Plain text whatever the name: the log is read back line by line.
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let out = Box::new(std::io::BufWriter::new(file));
    let mut log = AuditLog::new(out, signer.clone(), &name, every);
    let config = toml::to_string(cfg).context("serialising the config")?;
    let now = warden::event::now_ms();
    log.config(config.as_bytes(), now)
        .with_context(|| format!("writing {}", path.display()))?;
    // The suppressions applied, as the stream's chains record them.
    let suppressions =
        warden::decide::suppress::load_configured(cfg.decisions.suppressions_file.as_deref())?;
    let set = warden::decide::SuppressionSet::new(suppressions.into_iter().map(Into::into));
    log.suppressions(&set.canonical(), now)
        .with_context(|| format!("writing {}", path.display()))?;
    // The policies applied (loaded once more here: the engine loads its own).
    let policies = warden::decide::policy::load_configured(
        &cfg.decisions.policy_files,
        cfg.decisions.identities_file.as_deref(),
    )?;
    if !policies.is_empty() {
        log.policies(policies.digest(), now)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(log)
}
