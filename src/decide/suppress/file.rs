//! The suppressions file: one suppression per JSON line, written whole
//! (to a temporary file, then renamed over it) so a reader never sees half
//! an edit.

use super::{SuppressError, Suppression, MAX_SUPPRESSIONS};
use std::io::{BufRead, Write};
use std::path::Path;

/// Why the suppressions file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SuppressFileError {
    /// Reading or writing it failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A line is not a good suppression: the file is refused whole (an
    /// analyst's file with a mistake is fixed, not half applied).
    #[error("{path}:{line}: {error}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What is wrong with it.
        error: SuppressError,
    },
    /// Two lines carry one id.
    #[error("{path}:{line}: id `{id}` is already on line {first}")]
    Duplicate {
        /// The file.
        path: String,
        /// 1-based line of the second.
        line: u64,
        /// 1-based line of the first.
        first: u64,
        /// The id.
        id: String,
    },
    /// More suppressions than one instance holds.
    #[error("{path}: more than {MAX_SUPPRESSIONS} suppressions")]
    TooMany {
        /// The file.
        path: String,
    },
}

/// The suppressions `[decisions] suppressions_file` names: none when it is
/// unset.
pub fn load_configured(path: Option<&Path>) -> Result<Vec<Suppression>, SuppressFileError> {
    path.map_or(Ok(Vec::new()), load)
}

/// Reads every suppression in `path`, in file order. A missing file holds
/// none.
pub fn load(path: &Path) -> Result<Vec<Suppression>, SuppressFileError> {
    let name = path.display().to_string();
    let io = |source| SuppressFileError::Io {
        path: name.clone(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out: Vec<Suppression> = Vec::new();
    let mut seen = rustc_hash::FxHashMap::<String, u64>::default();
    // Lines are bounded as they are read: a line longer than any good
    // suppression is refused without being held whole.
    let max_line = 16 * super::MAX_FIELD_BYTES + super::MAX_REASON_BYTES;
    let mut reader = std::io::BufReader::new(file);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = std::io::Read::take(&mut reader, max_line as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(io)?;
        if n == 0 {
            break;
        }
        line += 1;
        let bad = |error| SuppressFileError::Line {
            path: name.clone(),
            line,
            error,
        };
        if buf.len() > max_line && !buf.ends_with(b"\n") {
            return Err(bad(SuppressError::Json(format!(
                "line longer than {max_line} bytes"
            ))));
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let s = Suppression::parse(text).map_err(bad)?;
        if let Some(first) = seen.insert(s.id.clone(), line) {
            return Err(SuppressFileError::Duplicate {
                path: name,
                line,
                first,
                id: s.id,
            });
        }
        if out.len() == MAX_SUPPRESSIONS {
            return Err(SuppressFileError::TooMany { path: name });
        }
        out.push(s);
    }
    Ok(out)
}

/// Writes `all` to `path`, replacing it whole.
pub fn save(path: &Path, all: &[Suppression]) -> Result<(), SuppressFileError> {
    let io = |source| SuppressFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp_name);
    let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
    for s in all {
        w.write_all(s.to_json().as_bytes()).map_err(io)?;
        w.write_all(b"\n").map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(agent: &str) -> Suppression {
        let mut s = Suppression {
            id: String::new(),
            agent: agent.into(),
            detector: Some("novel_action".into()),
            value: Some("secretsmanager:GetSecretValue".into()),
            until: Some("2026-12-31T00:00:00Z".into()),
            reason: "team roll-out, CHG-1234".into(),
            by: "analyst".into(),
            created: "2026-12-01T10:00:00Z".into(),
            teach: true,
        };
        s.make_id();
        s
    }

    #[test]
    fn saved_and_loaded_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        assert!(load(&path).unwrap().is_empty());
        let all = vec![one("a"), one("b")];
        save(&path, &all).unwrap();
        assert_eq!(load(&path).unwrap(), all);
    }

    #[test]
    fn a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let good = one("a").to_json();
        let bad = good.replace("novel_action", "no_such_detector");
        std::fs::write(&path, format!("{good}\n\n{bad}\n")).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains(":3: field `detector`"), "{e}");
        std::fs::write(&path, format!("{good}\n{good}\n")).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains(":2: id") && e.contains("line 1"), "{e}");
        std::fs::write(&path, vec![b'x'; 200_000]).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains(":1: ") && e.contains("longer than"), "{e}");
    }
}
