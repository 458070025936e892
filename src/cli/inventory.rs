//! `warden inventory`: the identity inventory and access review.

use super::{create, input_config, CliObserver};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;
use warden::event::{parse_duration_ms, parse_rfc3339_ms};
use warden::input::ReadOptions;
use warden::inventory::{self, grants::GrantSet, OutputFormat, ReviewOptions};

#[derive(clap::Args)]
pub struct Args {
    /// What identities are granted: a canonical grants file
    /// (schemas/grants.schema.json), `aws iam get-account-authorization-details`
    /// output, Kubernetes RBAC objects as `kubectl get ... -o json` writes
    /// them, or `PRINCIPAL_ARN=FILE` for one IAM policy document. Repeatable.
    #[arg(long)]
    pub grants: Vec<String>,
    /// The review's "now" (RFC 3339); calls after it are left out. Default:
    /// the last call read.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Quiet this long: dormant (e.g. `7d`, `36h`).
    #[arg(long, default_value = "7d")]
    pub dormant_after: String,
    /// A credential in use for longer than this: not rotated.
    #[arg(long, default_value = "90d")]
    pub rotate_after: String,
    /// Grants not used within this long before the review's "now" are
    /// unused (default: not used anywhere in the input).
    #[arg(long)]
    pub unused_after: Option<String>,
    /// How to write the review.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Where to write it (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also the review's findings, one OCSF 1.8.0 IAM Analysis Finding per
    /// flagged identity (JSON lines), for a SIEM.
    #[arg(long)]
    pub findings_out: Option<PathBuf>,
    /// Also a self-contained HTML page of the review.
    #[arg(long)]
    pub report_html: Option<PathBuf>,
    /// Identities kept (the rest are counted, not reviewed).
    #[arg(long, default_value_t = 1_000_000)]
    pub max_identities: usize,
    /// The `warden.toml` to use (`warden default-config` prints the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Record format (overrides `[input] format` in the config).
    #[arg(long, value_enum)]
    pub input_format: Option<warden::adapt::Format>,
    #[arg(long)]
    pub no_progress: bool,
    /// Files, directories, a Parquet lake or `-` (stdin); `.gz` accepted.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

fn duration(flag: &str, s: &str) -> Result<i64> {
    parse_duration_ms(s).map_err(|e| anyhow::anyhow!("--{flag} {s}: {e}"))
}

pub fn run(args: Args) -> Result<()> {
    let cfg = input_config(args.config.as_deref(), args.input_format)?;
    let as_of_ms = args
        .as_of
        .as_deref()
        .map(|s| parse_rfc3339_ms(s).with_context(|| format!("--as-of {s}: not an RFC 3339 time")))
        .transpose()?;
    let opts = ReviewOptions {
        as_of_ms,
        dormant_after_ms: duration("dormant-after", &args.dormant_after)?,
        rotate_after_ms: duration("rotate-after", &args.rotate_after)?,
        unused_after_ms: args
            .unused_after
            .as_deref()
            .map(|s| duration("unused-after", s))
            .transpose()?,
    };
    // Grants first: a bad grants file should fail before a long read.
    let mut grants = GrantSet::default();
    for g in &args.grants {
        grants.load(g)?;
    }
    let mut observer = CliObserver::new(!args.no_progress);
    let (observed, read) = inventory::observe(
        &args.inputs,
        &ReadOptions::from(&cfg),
        &mut observer,
        args.max_identities,
        as_of_ms,
    )?;
    let inv = inventory::review(&observed, &grants, &opts);
    let mut out = match &args.out {
        Some(p) => create(p)?,
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    inventory::render(&inv, args.format, &mut out).context("writing the review")?;
    out.flush().context("writing the review")?;
    if let Some(p) = &args.findings_out {
        let mut f = create(p)?;
        for finding in inventory::iam_analysis_findings(&inv) {
            serde_json::to_writer(&mut f, &finding).context("writing findings")?;
            writeln!(f).context("writing findings")?;
        }
        f.flush().context("writing findings")?;
    }
    if let Some(p) = &args.report_html {
        std::fs::write(p, inventory::html(&inv, &args.inputs))
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    eprintln!(
        "{} calls read, {} decode errors; {} identities reviewed",
        read.calls,
        read.decode_errors,
        inv.entries.len()
    );
    Ok(())
}
