//! `warden run`: the streaming service.

use anyhow::Result;
use std::path::PathBuf;
use warden::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// The `warden.toml` to use (`warden default-config` prints the defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Overrides `[stream] metrics_listen` ("" turns it off).
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// Overrides `[decisions] revoke`: the one setting that differs between
    /// a shadow deployment and an enforcing one (deploy/kubernetes overlays).
    #[arg(long, value_enum)]
    pub revoke: Option<warden::decide::RevokeMode>,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        config,
        metrics_listen,
        revoke,
    } = args;

    let mut cfg = Config::load_or_default(config.as_deref())?;
    if let Some(m) = metrics_listen {
        cfg.stream.metrics_listen = m;
    }
    if let Some(r) = revoke {
        cfg.decisions.revoke = r;
    }
    let stop = super::shutdown_flag()?;
    let health = std::sync::Arc::new(warden::stream::Health::default());
    let summary = warden::stream::run(cfg, &stop, health, &mut |_| {})?;
    // The service only returns when asked to: name who asked, so an exit 0
    // is never a mystery in the log.
    tracing::info!(
        signal = super::stop_signal().unwrap_or("none"),
        "stopped on request"
    );
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}
