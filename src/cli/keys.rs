//! `warden keys`: signing keys for revocation Security Event Tokens.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum Args {
    /// Write a new ES256 (P-256) key pair: `<name>.pem` (private, for
    /// `[signing] key_file`), `<name>.pub.pem` and `<name>.jwks.json` (for
    /// receivers). Refuses to overwrite.
    Generate {
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
        #[arg(long, default_value = "warden-signing")]
        name: String,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args {
        Args::Generate { out_dir, name } => {
            let keys = warden::emit::keys::generate(&out_dir, &name)?;
            println!("kid {}", keys.kid);
            for p in &keys.paths {
                println!("wrote {}", p.display());
            }
        }
    }
    Ok(())
}
