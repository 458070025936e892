//! `warden simulate`: a seeded, labelled fleet of agent calls.

use super::create;
use anyhow::{bail, Context, Result};
use std::io::{BufWriter, Write};
use std::path::Path;
use warden::sim::{self, SimConfig};

/// What `--format` writes.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SimFormat {
    /// Canonical call events, labelled.
    Native,
    /// The same calls as CloudTrail S3-delivery objects, unlabelled.
    Cloudtrail,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = 300)]
    pub agents: usize,
    /// How long, e.g. 24h, 3d, 90m.
    #[arg(long, default_value = "24h", value_parser = warden::event::parse_duration_ms)]
    pub duration: i64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First timestamp (RFC 3339); default Friday 2026-11-20T00:00:00Z.
    #[arg(long)]
    pub start: Option<String>,
    /// Share of agents that suffer an attack episode.
    #[arg(long, default_value_t = 0.15)]
    pub attack_share: f64,
    /// Attack scenarios to play (labels, comma-separated); default all.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Attack scenarios to leave out (a leave-one-family-out fleet).
    #[arg(long, value_delimiter = ',')]
    pub without_scenarios: Vec<String>,
    /// Departures from the default world, for measuring detection on
    /// fleets unlike the one it was tuned on (comma-separated):
    /// `mimicry` (attackers use the victim's actions as often as it does,
    /// at irregular gaps), `night-backfills` (any agent may run a one-off
    /// tenfold backfill in its team's night), `busy-teams` (every team
    /// goes through every kind of benign change) and `half-attacks` (every
    /// attack stops halfway: half its time, a ramp halfway up).
    #[arg(long, value_delimiter = ',')]
    pub variant: Vec<String>,
    /// Output file (`.gz` compresses); `-` for stdout.
    #[arg(long)]
    pub out: String,
    /// `native` (canonical call events, labelled) or `cloudtrail`
    /// (the same calls as CloudTrail S3-delivery objects, unlabelled).
    #[arg(long, default_value = "native")]
    pub format: SimFormat,
    /// Also plant identity-hygiene cases (dormant agents, shared API keys)
    /// and write the fleet's grants, with deliberate over-grants, and the
    /// labels of every case (`schemas/grants.schema.json`), for scoring
    /// `warden inventory`.
    #[arg(long)]
    pub grants_out: Option<String>,
    /// With `--grants-out`: the dormancy threshold the labels use.
    #[arg(long, default_value = "7d", value_parser = warden::event::parse_duration_ms)]
    pub dormant_after: i64,
    /// With `--grants-out`: the rotation threshold the labels use.
    #[arg(long, default_value = "90d", value_parser = warden::event::parse_duration_ms)]
    pub rotate_after: i64,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        agents,
        duration,
        seed,
        start,
        attack_share,
        scenarios,
        without_scenarios,
        variant,
        out,
        format,
        grants_out,
        dormant_after,
        rotate_after,
    } = args;

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
    let pool = scenario_pool(&scenarios, &without_scenarios)?;
    let variants = sim::Variants::parse(&variant)?;
    let cfg = SimConfig {
        agents,
        duration_ms: duration,
        seed,
        start_ms,
        attack_share,
        scenarios: pool,
        variants,
    };
    let mut fleet = sim::generate(&cfg);
    if let Some(path) = &grants_out {
        let cases = sim::ReviewCases {
            dormant_after_ms: dormant_after,
            rotate_after_ms: rotate_after,
        };
        let grants = sim::plant_review_cases(&mut fleet, seed, &cases);
        let mut g = create(Path::new(path))?;
        serde_json::to_writer_pretty(&mut g, &grants).context("writing the grants")?;
        g.flush().context("writing the grants")?;
    }
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
    Ok(())
}

/// The scenario indices `--scenarios` and `--without-scenarios` leave.
fn scenario_pool(only: &[String], without: &[String]) -> Result<Vec<usize>> {
    let index = |name: &String| {
        sim::scenario_index(name).with_context(|| {
            format!(
                "unknown scenario `{name}`; the simulator plays: {}",
                sim::SCENARIOS.join(", ")
            )
        })
    };
    let only: Vec<usize> = only.iter().map(index).collect::<Result<_>>()?;
    let without: Vec<usize> = without.iter().map(index).collect::<Result<_>>()?;
    let pool: Vec<usize> = (0..sim::SCENARIOS.len())
        .filter(|i| (only.is_empty() || only.contains(i)) && !without.contains(i))
        .collect();
    if pool.is_empty() {
        bail!("--scenarios and --without-scenarios leave no scenario to play");
    }
    Ok(pool)
}
