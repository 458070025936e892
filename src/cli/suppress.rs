//! `warden suppress`: analysts' feedback. `add` writes a suppression to the
//! suppressions file (and with `--publish` to the suppressions topic every
//! `warden run` instance follows); `list` shows them; `remove` takes one out.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::PathBuf;
use warden::config::Config;
use warden::decide::suppress::{self, Suppression};
use warden::event::{format_rfc3339_ms, now_ms, parse_duration_ms, parse_rfc3339_ms};

/// Where the suppressions live.
#[derive(clap::Args)]
pub struct Store {
    /// The `warden.toml` whose `[decisions] suppressions_file` and
    /// `[stream] suppressions_topic` (with `[kafka]`) to use.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The suppressions file (overrides `[decisions] suppressions_file`).
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
pub enum Args {
    /// Suppress an identity's findings: all of them, one detector's, or
    /// one value's (a new action, network, client, parent or tenant, or the
    /// call's action). Covered evidence is taken out of the risk; what is
    /// left decides, and a covered finding is recorded with OCSF status
    /// Suppressed instead of raised.
    Add {
        #[command(flatten)]
        store: Store,
        /// The identity (`agent_id`) it covers.
        #[arg(long)]
        agent: String,
        /// Only this detector (as findings name it, e.g. `novel_action`).
        #[arg(long)]
        detector: Option<String>,
        /// Only this value.
        #[arg(long)]
        value: Option<String>,
        /// Until when, in event time: RFC 3339 (`2026-12-31T00:00:00Z`) or
        /// a duration from now (`7d`, `12h`). Without it, until removed.
        #[arg(long)]
        until: Option<String>,
        /// Why it is benign (a change ticket, the owner's word).
        #[arg(long)]
        reason: String,
        /// Who makes it (default: `$USER`).
        #[arg(long)]
        by: Option<String>,
        /// Covered calls teach the baseline that they are normal, instead
        /// of being kept out of it as flagged calls are.
        #[arg(long)]
        teach: bool,
        /// Also publish it to `[stream] suppressions_topic`.
        #[arg(long)]
        publish: bool,
    },
    /// List the suppressions in the file (expired ones marked).
    List {
        #[command(flatten)]
        store: Store,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a suppression by id.
    Remove {
        #[command(flatten)]
        store: Store,
        /// Also publish the removal (a tombstone) to the suppressions topic.
        #[arg(long)]
        publish: bool,
        /// The suppression's id (`sup-…`).
        id: String,
    },
}

impl Store {
    fn open(&self) -> Result<(Config, PathBuf)> {
        let cfg = Config::load_or_default(self.config.as_deref())?;
        let file = match (&self.file, &cfg.decisions.suppressions_file) {
            (Some(f), _) | (None, Some(f)) => f.clone(),
            (None, None) => bail!(
                "no suppressions file: name one with --file, or set [decisions] \
                 suppressions_file in the --config"
            ),
        };
        Ok((cfg, file))
    }
}

pub fn run(args: Args) -> Result<()> {
    match args {
        Args::Add {
            store,
            agent,
            detector,
            value,
            until,
            reason,
            by,
            teach,
            publish,
        } => {
            let (cfg, path) = store.open()?;
            let now = now_ms();
            let until = until
                .map(|u| match parse_rfc3339_ms(&u) {
                    Some(ms) => Ok(ms),
                    None => parse_duration_ms(&u)
                        .ok()
                        .and_then(|d| now.checked_add(d))
                        .with_context(|| {
                            format!("--until `{u}`: neither an RFC 3339 time nor a duration")
                        }),
                })
                .transpose()?;
            if until.is_some_and(|u| u <= now) {
                // Meaningful in a replay of history (expiry is in event
                // time), never for calls arriving now.
                eprintln!(
                    "note: --until is in the past: it covers only calls made before it \
                     (a replay of history), no new call"
                );
            }
            let by = match by.or_else(|| std::env::var("USER").ok()) {
                Some(b) => b,
                None => bail!("--by: say who makes the suppression ($USER is not set)"),
            };
            let mut s = Suppression {
                id: String::new(),
                agent,
                detector,
                value,
                until: until.map(format_rfc3339_ms),
                reason,
                by,
                created: format_rfc3339_ms(now),
                teach,
            };
            s.make_id();
            s.check().context("the suppression")?;
            let mut all = suppress::load(&path)?;
            all.push(s.clone());
            suppress::save(&path, &all)?;
            if publish {
                warden::stream::publish_suppression(&cfg, &s.id, Some(&s))
                    .context("publishing to the suppressions topic")?;
            }
            println!("{}", s.id);
            Ok(())
        }
        Args::List { store, json } => {
            let (_, path) = store.open()?;
            let all = suppress::load(&path)?;
            let now = now_ms();
            let mut out = std::io::stdout().lock();
            for s in &all {
                let expired = s.until_ms()?.is_some_and(|u| u <= now);
                if json {
                    writeln!(out, "{}", s.to_json())?;
                } else {
                    writeln!(
                        out,
                        "{}{}\t{}\t{}\t{}",
                        s.id,
                        if expired { " (expired)" } else { "" },
                        s.agent,
                        s.created,
                        s.describe()
                    )?;
                }
            }
            Ok(())
        }
        Args::Remove { store, publish, id } => {
            let (cfg, path) = store.open()?;
            let mut all = suppress::load(&path)?;
            let before = all.len();
            all.retain(|s| s.id != id);
            if all.len() == before && !publish {
                bail!("no suppression `{id}` in {}", path.display());
            }
            suppress::save(&path, &all)?;
            if publish {
                warden::stream::publish_suppression(&cfg, &id, None)
                    .context("publishing the removal to the suppressions topic")?;
            }
            println!("removed {id}");
            Ok(())
        }
    }
}
