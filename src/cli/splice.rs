//! `warden splice`: real attack records in simulated principals.

use super::{create, write_report};
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use warden::config::Config;
use warden::sim::SimConfig;

#[derive(clap::Args)]
pub struct Args {
    /// One unit per input file (a technique) or per principal (a captured hour).
    #[arg(long, value_enum, default_value = "file")]
    pub unit: warden::offline::splice::SpliceUnit,
    #[arg(long, default_value_t = 200)]
    pub agents: usize,
    #[arg(long, default_value = "3d", value_parser = warden::event::parse_duration_ms)]
    pub duration: i64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// When the first unit starts after the background's start.
    #[arg(long, default_value = "30h", value_parser = warden::event::parse_duration_ms)]
    pub start_after: i64,
    /// Gap between units (file units).
    #[arg(long, default_value = "60m", value_parser = warden::event::parse_duration_ms)]
    pub spacing: i64,
    /// The `warden.toml` to use (`warden default-config` prints the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Write the spliced, labelled stream (canonical JSON lines) for `warden replay`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Per-unit results as JSON.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// CloudTrail files or directories to splice.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
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
    } = args;

    let cfg = Config::load_or_default(config.as_deref())?;
    let sc = warden::offline::splice::SpliceConfig {
        background: SimConfig {
            agents,
            duration_ms: duration,
            seed,
            start_ms: SimConfig::DEFAULT_START_MS,
            attack_share: 0.0,
            scenarios: Vec::new(),
            variants: Default::default(),
        },
        inputs,
        unit,
        start_after_ms: start_after,
        spacing_ms: spacing,
    };
    let mut spliced = warden::offline::splice::splice(&sc)?;
    if let Some(p) = &out {
        let mut w = create(p)?;
        for e in &spliced.events {
            w.write_all(e.to_json().as_bytes())?;
            w.write_all(b"\n")?;
        }
        w.flush()?;
    }
    let mut engine = warden::engine::Engine::from_config(cfg)?;
    warden::offline::splice::evaluate(&mut spliced, &mut engine)?;
    println!(
        "{:<58} {:>6} {:>9} {:>8} {:>5} {:>7}  detectors",
        "unit", "events", "detected", "delay_s", "risk", "revoked"
    );
    for u in &spliced.units {
        let labels: Vec<String> = u.labels.iter().map(|(k, v)| format!("{k}:{v}")).collect();
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
    Ok(())
}
