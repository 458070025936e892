//! `warden audit`: checks a decision log.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use warden::emit::set::Verifier;

#[derive(clap::Subcommand)]
pub enum Args {
    /// Check a decision log (`warden replay --audit-log`): every record's
    /// position and link to the one before, and every checkpoint's
    /// signature. Names the first record altered, removed, inserted or
    /// reordered, and exits 1; prints the log's summary when it is intact.
    Verify {
        /// The signing key's JWKS (`warden keys generate` writes
        /// `<name>.jwks.json`; the service serves /jwks.json). Use the one
        /// you trust, never one found beside the log.
        #[arg(
            long,
            conflicts_with = "public_key",
            required_unless_present = "public_key"
        )]
        jwks: Option<PathBuf>,
        /// The signing key's public key PEM, instead of a JWKS.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// The log (a partition of the audit topic: its records, one per
        /// line, in offset order).
        #[arg(value_name = "LOG")]
        file: PathBuf,
    },
}

pub fn run(args: Args) -> Result<()> {
    let Args::Verify {
        jwks,
        public_key,
        file: log,
    } = args;
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    let keys = match (&jwks, &public_key) {
        (Some(p), _) => Verifier::from_jwks(&read(p)?),
        (None, Some(p)) => Verifier::from_public_pem(&read(p)?),
        (None, None) => bail!("give --jwks or --public-key"),
    }
    .map_err(|e| anyhow::anyhow!(e))?;
    let file =
        std::fs::File::open(&log).with_context(|| format!("cannot read {}", log.display()))?;
    match warden::audit::verify(std::io::BufReader::new(file), &keys) {
        Ok(v) => {
            println!("{}", serde_json::to_string(&v)?);
            if v.unsigned_tail > 0 {
                eprintln!(
                    "{}: the last {} record(s) follow the last checkpoint: chained, not yet signed",
                    log.display(),
                    v.unsigned_tail
                );
            }
            Ok(())
        }
        Err(t) => bail!("{}: {t}", log.display()),
    }
}
