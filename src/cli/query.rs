//! `warden query`: SQL over calls, findings and revocations.

use super::{input_config, CliObserver};
use anyhow::{bail, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use warden::input::ReadOptions;

#[derive(clap::Args)]
pub struct Args {
    /// The `warden.toml` to use (`warden default-config` prints the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Call inputs: files, directories, `.gz`, Parquet (repeatable).
    #[arg(long)]
    pub calls: Vec<String>,
    /// Record format of the call inputs (overrides `[input] format`).
    #[arg(long, value_enum)]
    pub calls_format: Option<warden::adapt::Format>,
    /// Findings: OCSF JSON lines as `replay --alerts-out` writes them or
    /// the alerts topic carries them (repeatable).
    #[arg(long)]
    pub findings: Vec<PathBuf>,
    /// Revocations: one SET per line (`replay --revocations-out`, the
    /// revocations topic) or OCSF Remediation Activities (repeatable).
    #[arg(long)]
    pub revocations: Vec<PathBuf>,
    /// Output format of results.
    #[arg(long, value_enum, default_value_t)]
    pub format: warden::query::render::OutputFormat,
    #[arg(long)]
    pub no_progress: bool,
    /// SQL statements (`;`-separated). Omit for the prompt.
    pub sql: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        config,
        calls,
        calls_format,
        findings,
        revocations,
        format,
        no_progress,
        sql,
    } = args;

    use warden::query::{prompt::Session, Sources, Workspace};
    let cfg = input_config(config.as_deref(), calls_format)?;
    let opts = ReadOptions::from(&cfg);
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
        Some(text) => session.script(&text, &mut out, &mut err)?,
        None if std::io::stdin().is_terminal() => session.interactive()?,
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            session.script(&text, &mut out, &mut err)?;
        }
    }
    if session.failures > 0 {
        bail!("{} statement(s) failed", session.failures);
    }
    Ok(())
}
