//! `warden tune`: thresholds from evidence.

use super::{input_config, write_report, CliObserver};
use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The `warden.toml` to use (`warden default-config` prints the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// False findings per 1,000 agent-days accepted (labelled input).
    #[arg(long, default_value_t = 1.0)]
    pub budget: f64,
    /// Wrongful revocations accepted (labelled input).
    #[arg(long, default_value_t = 0)]
    pub wrongful_budget: u64,
    /// New findings per day the team can triage (unlabelled input).
    #[arg(long)]
    pub findings_per_day: Option<f64>,
    /// Finding thresholds to sweep (risk 0-100).
    #[arg(long, value_delimiter = ',')]
    pub thresholds: Option<Vec<f32>>,
    /// Revocation thresholds to sweep.
    #[arg(long, value_delimiter = ',')]
    pub revoke_thresholds: Option<Vec<f32>>,
    /// Write the recommended configuration here.
    #[arg(long)]
    pub write_config: Option<PathBuf>,
    /// The whole sweep as JSON.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// A self-contained HTML report of the sweep.
    #[arg(long)]
    pub report_html: Option<PathBuf>,
    /// Record format (overrides `[input] format` in the config).
    #[arg(long, value_enum)]
    pub format: Option<warden::adapt::Format>,
    #[arg(long)]
    pub no_progress: bool,
    /// Threads to run the thresholds' engines on (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Files, directories or `-` (stdin); `.gz` accepted.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
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
        threads,
        inputs,
    } = args;

    let cfg = input_config(config.as_deref(), format)?;
    let mut opts = warden::offline::tune::TuneOptions {
        false_finding_budget: budget,
        wrongful_revocation_budget: wrongful_budget,
        findings_per_day_budget: findings_per_day,
        threads: threads.unwrap_or_else(super::cores),
        ..Default::default()
    };
    if let Some(t) = thresholds {
        opts.finding_thresholds = t;
    }
    if let Some(t) = revoke_thresholds {
        opts.revoke_thresholds = t;
    }
    let mut observer = CliObserver::new(!no_progress);
    let r = warden::offline::tune::run(&cfg, &inputs, &opts, &mut observer)?;
    print!("{}", warden::offline::tune::render::text(&r));
    if let Some(p) = report {
        write_report(&p, &r)?;
    }
    if let Some(p) = report_html {
        let html =
            warden::offline::tune::tune_page(&inputs, &r, &r.timeline, &r.risks, &r.top_agents);
        std::fs::write(&p, html).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(p) = write_config {
        let Some(rec) = &r.recommendation else {
            anyhow::bail!("no configuration to write: no threshold swept meets the budget");
        };
        std::fs::write(
            &p,
            warden::offline::tune::recommended_config(&cfg, rec, &inputs),
        )
        .with_context(|| format!("writing {}", p.display()))?;
        let omitted = warden::offline::tune::secret_kafka_keys(&cfg);
        if !omitted.is_empty() {
            tracing::warn!(
                omitted = %omitted.join(", "),
                "secret-bearing [kafka] keys were left out of the written configuration"
            );
        }
        tracing::info!(path = %p.display(), "recommended configuration written");
    }
    Ok(())
}
