//! `warden dev-broker`: an embedded Kafka-protocol cluster for development.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::PathBuf;
use warden::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// The `warden.toml` to use (`warden default-config` prints the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Partitions of every topic.
    #[arg(long, default_value_t = 4)]
    pub partitions: i32,
}

pub fn run(args: Args) -> Result<()> {
    let Args { config, partitions } = args;

    let cfg = Config::load_or_default(config.as_deref())?;
    if partitions < 1 {
        bail!("--partitions must be at least 1");
    }
    let stop = super::shutdown_flag()?;
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
    Ok(())
}
