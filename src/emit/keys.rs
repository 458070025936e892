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

/// Creates `path` with `mode` (on Unix, before any byte is written) and
/// writes `bytes`; fails if anything is already at `path`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists(path.display().to_string())
        } else {
            write_err(path)(e)
        }
    })?;
    f.write_all(bytes).map_err(write_err(path))?;
    f.sync_all().map_err(write_err(path))
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
    // The private key is created 0600 and exclusively: never readable by
    // others even for a moment, never written through a planted file or
    // symlink (create_new fails on any existing path, dangling links too).
    write_new(&paths[0], private.as_bytes(), 0o600)?;
    write_new(&paths[1], public.as_bytes(), 0o644)?;
    write_new(&paths[2], jwks.as_bytes(), 0o644)?;
    Ok(KeyFiles {
        kid: jwk["kid"].as_str().map(String::from).unwrap_or_default(),
        paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_private_key_is_created_owner_only_and_never_through_a_planted_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let files = generate(dir.path(), "k").unwrap();
        // Created with its mode: nothing chmods it afterwards, so this is the
        // mode it had from its first byte.
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files.paths[0]), 0o600);
        assert_eq!(mode(&files.paths[2]) & 0o600, 0o600);

        // A symlink planted where the key would go (even a dangling one) is
        // refused, and its target is never created.
        let target = dir.path().join("stolen.pem");
        std::os::unix::fs::symlink(&target, dir.path().join("j.pem")).unwrap();
        assert!(matches!(
            generate(dir.path(), "j"),
            Err(KeyError::Exists(_))
        ));
        assert!(!target.exists());
    }
}
