//! `warden policy check`: validates a guardrail policy set offline, as
//! `warden run` and `warden replay` would load it, and lists its rules.

use anyhow::{Context, Result};
use std::path::PathBuf;
use warden::decide::policy::PolicySet;

#[derive(clap::Subcommand)]
pub enum Args {
    /// Parse, type-check (against Warden's request model) and compile
    /// policy files; exit non-zero naming the file, line and column of the
    /// first error.
    Check {
        /// Cedar policy files (`forbid` policies with an `@id` each).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The identities file they read (Cedar entities JSON).
        #[arg(long)]
        identities: Option<PathBuf>,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: Args) -> Result<()> {
    let Args::Check {
        files,
        identities,
        json,
    } = args;
    let set = PolicySet::load(&files, identities.as_deref()).context("policy set refused")?;
    if json {
        let rules: Vec<_> = set.rules().map(|r| &**r).collect();
        let out = serde_json::json!({
            "rules": rules,
            "identities": set.identities(),
            "digest": set.digest(),
        });
        println!("{out}");
    } else {
        for r in set.rules() {
            println!(
                "{}\t{}\t{}{}\t{}",
                r.id,
                r.source,
                r.severity.as_str(),
                if r.revoke { ", revoke" } else { "" },
                r.description
            );
        }
        println!(
            "ok: {} rules, {} identities, sha256 {}",
            set.len(),
            set.identities(),
            set.digest()
        );
    }
    Ok(())
}
