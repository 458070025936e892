//! `warden keys generate`: a new ES256 signing key and what receivers need
//! to verify with it, written as files that are never overwritten.

use std::path::{Path, PathBuf};

/// Why the key files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// One of the files is already there; nothing was written.
    #[error("{0} exists; not overwriting a key")]
    Exists(String),
    /// A file or the directory could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The files written, and the key id receivers will see in `kid`.
#[derive(Debug)]
pub struct KeyFiles {
    /// `kid` of the new key (its RFC 7638 thumbprint).
    pub kid: String,
    /// The private key (PEM), the public key (PEM) and the JWKS, in order.
    pub paths: [PathBuf; 3],
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `<name>.pem` (private, for `[signing] key_file`), `<name>.pub.pem`
/// and `<name>.jwks.json` (for receivers) into `out_dir`.
pub fn generate(out_dir: &Path, name: &str) -> Result<KeyFiles, KeyError> {
    let (private, public, jwk) = super::set::generate_es256();
    std::fs::create_dir_all(out_dir).map_err(write_err(out_dir))?;
    let jwks = serde_json::to_string_pretty(&serde_json::json!({"keys": [jwk]}))
        .expect("JSON values always serialise")
        + "\n";
    let paths = [
        out_dir.join(format!("{name}.pem")),
        out_dir.join(format!("{name}.pub.pem")),
        out_dir.join(format!("{name}.jwks.json")),
    ];
    if let Some(p) = paths.iter().find(|p| p.exists()) {
        return Err(KeyError::Exists(p.display().to_string()));
    }
    for (p, text) in paths.iter().zip([&private, &public, &jwks]) {
        std::fs::write(p, text).map_err(write_err(p))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&paths[0], std::fs::Permissions::from_mode(0o600))
            .map_err(write_err(&paths[0]))?;
    }
    Ok(KeyFiles {
        kid: jwk["kid"].as_str().map(String::from).unwrap_or_default(),
        paths,
    })
}
