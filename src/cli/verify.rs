//! `warden verify`: checks Security Event Tokens as a receiver would.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Public key PEM (EC or RSA).
    #[arg(long, conflicts_with = "jwks", required_unless_present = "jwks")]
    pub public_key: Option<PathBuf>,
    /// JSON Web Key Set (as `warden keys generate` writes it).
    #[arg(long)]
    pub jwks: Option<PathBuf>,
    /// The issuer (`iss`) every token must carry, e.g. `[signing] issuer`.
    #[arg(long)]
    pub issuer: Option<String>,
    /// An audience every token's `aud` must name (this receiver).
    #[arg(long)]
    pub audience: Option<String>,
    /// Files of SETs, or `-` for stdin.
    #[arg(default_value = "-")]
    pub inputs: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let Args {
        public_key,
        jwks,
        issuer,
        audience,
        inputs,
    } = args;
    let expect = warden::emit::set::Expect {
        issuer,
        audience,
        ..warden::emit::set::Expect::now()
    };

    use warden::emit::set::Verifier;
    let verifier = match (&public_key, &jwks) {
        (Some(p), _) => Verifier::from_public_pem(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        (None, Some(p)) => Verifier::from_jwks(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        (None, None) => bail!("give --public-key or --jwks"),
    }
    .map_err(|e| anyhow::anyhow!(e))?;
    let (mut good, mut bad) = (0u64, 0u64);
    for input in &inputs {
        let text = if input == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            s
        } else {
            std::fs::read_to_string(input).with_context(|| format!("cannot read {input}"))?
        };
        for (i, line) in text.lines().enumerate() {
            let token = line.trim();
            if token.is_empty() {
                continue;
            }
            match verifier.verify_claims(token, &expect) {
                Ok((header, claims)) => {
                    good += 1;
                    println!(
                        "{}",
                        serde_json::json!({"valid": true, "header": header, "claims": claims})
                    );
                }
                Err(e) => {
                    bad += 1;
                    println!(
                        "{}",
                        serde_json::json!({"valid": false, "input": input, "line": i + 1, "error": e})
                    );
                }
            }
        }
    }
    eprintln!("{good} valid, {bad} invalid");
    if bad > 0 {
        std::process::exit(1);
    }
    Ok(())
}
