//! `warden convert`: any input to day-partitioned Parquet.

use super::{input_config, CliObserver};
use anyhow::Result;
use std::path::PathBuf;
use warden::input::ReadOptions;

#[derive(clap::Args)]
pub struct Args {
    /// The `warden.toml` to use (`warden default-config` prints the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Record format (overrides `[input] format` in the config).
    #[arg(long, value_enum)]
    pub format: Option<warden::adapt::Format>,
    /// A new or empty directory; gets `day=YYYY-MM-DD/part-NNNNN.parquet`.
    #[arg(long)]
    pub out_dir: PathBuf,
    #[arg(long)]
    pub no_progress: bool,
    /// Threads (default: every core; two are used, one decoding and one
    /// encoding Parquet). The files are the same for any number.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Files, directories or `-` (stdin); `.gz` accepted.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        config,
        format,
        out_dir,
        no_progress,
        threads,
        inputs,
    } = args;

    let cfg = input_config(config.as_deref(), format)?;
    let mut observer = CliObserver::new(!no_progress);
    let opts = ReadOptions::from(&cfg);
    let s = warden::offline::convert::convert(
        &inputs,
        &opts,
        &out_dir,
        &mut observer,
        threads.unwrap_or_else(super::cores),
    )?;
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
    Ok(())
}
