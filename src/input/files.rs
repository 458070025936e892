//! Which inputs a command reads: files, directories walked in name order,
//! and `-` for standard input.

use super::InputError;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
/// One input as named on the command line.
pub enum InputSpec {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl InputSpec {
    /// A Parquet file (read as whole windows, on one thread), by its
    /// `.parquet` extension.
    pub fn parquet_path(&self) -> Option<&Path> {
        match self {
            InputSpec::File(p) if is_parquet(p) => Some(p),
            _ => None,
        }
    }

    /// The name errors and reports use.
    pub fn name(&self) -> String {
        match self {
            InputSpec::Stdin => "-".into(),
            InputSpec::File(p) => p.display().to_string(),
        }
    }
}

fn is_event_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let name = name.strip_suffix(".gz").unwrap_or(name);
    [".jsonl", ".ndjson", ".json"]
        .iter()
        .any(|s| name.ends_with(s))
        || is_parquet(p)
}

fn is_parquet(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "parquet")
}

/// Expands the command-line inputs: directories become their event files
/// (`.jsonl`, `.ndjson`, `.json`, optionally `.gz`, and `.parquet`),
/// recursively, sorted (so `day=` partitions come in date order).
pub fn expand_inputs(args: &[String]) -> Result<Vec<InputSpec>, InputError> {
    let mut out = Vec::new();
    for a in args {
        if a == "-" {
            out.push(InputSpec::Stdin);
            continue;
        }
        let p = PathBuf::from(a);
        if p.is_dir() {
            let mut files = Vec::new();
            walk(&p, &mut files)?;
            files.sort();
            out.extend(files.into_iter().map(InputSpec::File));
        } else if p.is_file() {
            out.push(InputSpec::File(p));
        } else {
            return Err(InputError::Missing(a.clone()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let rd = std::fs::read_dir(dir).map_err(|source| InputError::Open {
        path: dir.display().to_string(),
        source,
    })?;
    for entry in rd {
        let entry = entry.map_err(|source| InputError::Open {
            path: dir.display().to_string(),
            source,
        })?;
        let p = entry.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_event_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Total on-disk bytes of the inputs (for progress), when known.
pub fn total_bytes(inputs: &[InputSpec]) -> Option<u64> {
    let mut total = 0;
    for i in inputs {
        match i {
            InputSpec::Stdin => return None,
            InputSpec::File(p) => total += std::fs::metadata(p).ok()?.len(),
        }
    }
    Some(total)
}
