//! The command line: one file per subcommand, each an `Args` (its flags)
//! and a `run`. They parse and print; the work is in the library. What
//! several commands share is here: output files, the config with `--format`
//! over it, the shutdown flag, and the progress observer.

pub mod audit;
pub mod convert;
pub mod demo;
pub mod dev_broker;
pub mod inventory;
pub mod keys;
pub mod policy;
pub mod query;
pub mod replay;
pub mod run;
pub mod simulate;
pub mod splice;
pub mod suppress;
pub mod train;
pub mod tune;
pub mod verify;

mod observer;

pub use observer::CliObserver;

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use warden::config::Config;

/// The signal that last asked for a shutdown (0: none).
static STOP_SIGNAL: std::sync::LazyLock<Arc<std::sync::atomic::AtomicUsize>> =
    std::sync::LazyLock::new(Arc::default);

/// SIGTERM and SIGINT set the returned flag (a second one exits at once);
/// which one it was is kept for `stop_signal`.
pub fn shutdown_flag() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, flag.clone())
            .context("installing signal handlers")?;
        signal_hook::flag::register_usize(sig, STOP_SIGNAL.clone(), sig as usize)
            .context("installing signal handlers")?;
        signal_hook::flag::register(sig, flag.clone()).context("installing signal handlers")?;
    }
    Ok(flag)
}

/// The signal that stopped a service, if one did: a service that ends on
/// its own with status 0 says so, and why.
pub fn stop_signal() -> Option<&'static str> {
    match STOP_SIGNAL.load(std::sync::atomic::Ordering::Relaxed) as i32 {
        0 => None,
        signal_hook::consts::SIGTERM => Some("SIGTERM"),
        signal_hook::consts::SIGINT => Some("SIGINT"),
        _ => Some("another signal"),
    }
}

/// An output file, gzip-compressed when its name ends in `.gz`.
pub fn create(path: &Path) -> Result<Box<dyn Write>> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufWriter::new(flate2::write::GzEncoder::new(
            f,
            flate2::Compression::fast(),
        )))
    } else {
        Box::new(BufWriter::with_capacity(1 << 16, f))
    })
}

/// A `--report` file: pretty JSON.
pub fn write_report(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    serde_json::to_writer_pretty(BufWriter::new(f), value).context("writing report")
}

/// The config file (or the defaults), with `--format` over `[input] format`.
pub fn input_config(path: Option<&Path>, format: Option<warden::adapt::Format>) -> Result<Config> {
    let mut cfg = Config::load_or_default(path)?;
    if let Some(f) = format {
        cfg.input.format = f;
    }
    Ok(cfg)
}

/// Threads to use when `--threads` is not given: every core this process
/// may run on.
pub fn cores() -> usize {
    warden::offline::available_cores()
}
