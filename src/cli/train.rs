//! `warden train`: behaviour archetypes from history.

use super::{input_config, CliObserver};
use anyhow::Result;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The `warden.toml` to use (`warden default-config` prints the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Record format (overrides `[input] format` in the config).
    #[arg(long, value_enum)]
    pub format: Option<warden::adapt::Format>,
    /// Number of archetypes (k).
    #[arg(long, default_value_t = 8)]
    pub archetypes: usize,
    /// Agents with fewer calls (or under a day of history) are not profiled.
    #[arg(long, default_value_t = 200)]
    pub min_events: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Model file; default `models/archetypes-vN.json`, N one past the
    /// highest there. Never overwritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub no_progress: bool,
    /// Files, directories or `-` (stdin); `.gz` and Parquet accepted.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        config,
        format,
        archetypes,
        min_events,
        seed,
        out,
        no_progress,
        inputs,
    } = args;

    let cfg = input_config(config.as_deref(), format)?;
    let opts = warden::offline::train::TrainOptions {
        archetypes,
        min_events,
        seed,
    };
    let mut observer = CliObserver::new(!no_progress);
    let model = warden::offline::train::train(&inputs, &cfg, &opts, &mut observer)?;
    let path = out.unwrap_or_else(|| warden::offline::train::next_model_path(Path::new("models")));
    warden::offline::train::save(&model, &path)?;
    print!("{}", warden::offline::train::render(&model));
    println!(
        "model written to {}; use it with `[engine] archetypes = \"{}\"` in warden.toml",
        path.display(),
        path.display()
    );
    Ok(())
}
