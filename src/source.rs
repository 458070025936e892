//! Replay inputs: files, directories (walked in name order), `-` for stdin,
//! gzip by `.gz` suffix. Lines are decoded into Arrow windows; bad lines are
//! reported with their file and line and skipped, never fatal.

use crate::event::{decode_line, CallBatchBuilder, DecodeError};
use arrow_array::RecordBatch;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("input {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("input {path}: read failed at line {line}: {source}")]
    Read {
        path: String,
        line: u64,
        source: io::Error,
    },
    #[error("input {0}: not a file or directory")]
    Missing(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    Stdin,
    File(PathBuf),
}

impl InputSpec {
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
}

/// Expands the command-line inputs: directories become their event files
/// (`.jsonl`, `.ndjson`, `.json`, optionally `.gz`), recursively, sorted.
pub fn expand_inputs(args: &[String]) -> Result<Vec<InputSpec>, SourceError> {
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
            return Err(SourceError::Missing(a.clone()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let rd = std::fs::read_dir(dir).map_err(|source| SourceError::Open {
        path: dir.display().to_string(),
        source,
    })?;
    for entry in rd {
        let entry = entry.map_err(|source| SourceError::Open {
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

/// Counts the raw bytes read (below any decompression), for progress.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A decode error together with the input it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub input: String,
    pub error: DecodeError,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.input, self.error)
    }
}

/// Reads one input as batches of decoded events.
pub struct EventReader {
    name: String,
    reader: Box<dyn BufRead>,
    line_no: u64,
    buf: Vec<u8>,
    builder: CallBatchBuilder,
    batch_size: usize,
    done: bool,
}

impl EventReader {
    pub fn open(
        spec: &InputSpec,
        batch_size: usize,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<Self, SourceError> {
        let (name, raw): (String, Box<dyn Read>) = match spec {
            InputSpec::Stdin => ("-".into(), Box::new(io::stdin())),
            InputSpec::File(p) => {
                let f = File::open(p).map_err(|source| SourceError::Open {
                    path: p.display().to_string(),
                    source,
                })?;
                (p.display().to_string(), Box::new(f))
            }
        };
        let counted = Counting {
            inner: raw,
            counter: bytes_read,
        };
        let reader: Box<dyn BufRead> = if name.ends_with(".gz") {
            Box::new(BufReader::with_capacity(
                1 << 16,
                MultiGzDecoder::new(BufReader::with_capacity(1 << 16, counted)),
            ))
        } else {
            Box::new(BufReader::with_capacity(1 << 16, counted))
        };
        Ok(Self::from_reader(name, reader, batch_size))
    }

    pub fn from_reader(name: String, reader: Box<dyn BufRead>, batch_size: usize) -> Self {
        EventReader {
            name,
            reader,
            line_no: 0,
            buf: Vec::with_capacity(1024),
            builder: CallBatchBuilder::with_capacity(batch_size),
            batch_size,
            done: false,
        }
    }

    /// The next window of up to `batch_size` good events; bad lines are
    /// appended to `bad`. `None` at end of input.
    pub fn next_batch(
        &mut self,
        bad: &mut Vec<BadRecord>,
    ) -> Result<Option<RecordBatch>, SourceError> {
        while !self.done && self.builder.len() < self.batch_size {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| SourceError::Read {
                    path: self.name.clone(),
                    line: self.line_no + 1,
                    source,
                })?;
            if n == 0 {
                self.done = true;
                break;
            }
            self.line_no += 1;
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                bad.push(BadRecord {
                    input: self.name.clone(),
                    error: DecodeError {
                        line: self.line_no,
                        field: None,
                        reason: "line is not valid UTF-8".into(),
                    },
                });
                continue;
            };
            let line = text.trim();
            if line.is_empty() {
                continue;
            }
            match decode_line(line, self.line_no) {
                Ok(ev) => self.builder.push(&ev),
                Err(error) => bad.push(BadRecord {
                    input: self.name.clone(),
                    error,
                }),
            }
        }
        if self.builder.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.builder.finish()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(text: &str, batch: usize) -> EventReader {
        EventReader::from_reader(
            "mem".into(),
            Box::new(io::Cursor::new(text.as_bytes().to_vec())),
            batch,
        )
    }

    #[test]
    fn bad_lines_are_reported_and_good_neighbours_kept() {
        let text = "{\"ts\":1,\"agent_id\":\"a\",\"action\":\"x\"}\n\
                    not json\n\
                    \n\
                    {\"ts\":\"bad\",\"agent_id\":\"a\",\"action\":\"x\"}\n\
                    {\"ts\":2,\"agent_id\":\"b\",\"action\":\"y\"}\n";
        let mut r = reader(text, 10);
        let mut bad = Vec::new();
        let b = r.next_batch(&mut bad).unwrap().unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[0].error.line, 2);
        assert_eq!(bad[1].error.line, 4);
        assert_eq!(bad[1].error.field.as_deref(), Some("ts"));
        assert!(bad[1].to_string().starts_with("mem: line 4: field `ts`"));
        assert!(r.next_batch(&mut bad).unwrap().is_none());
    }

    #[test]
    fn invalid_utf8_is_a_bad_line_not_a_failure() {
        let mut bytes = b"{\"ts\":1,\"agent_id\":\"a\",\"action\":\"x\"}\n".to_vec();
        bytes.extend_from_slice(b"{\"ts\":1,\"agent_id\":\"\xff\",\"action\":\"x\"}\n");
        bytes.extend_from_slice(b"{\"ts\":3,\"agent_id\":\"c\",\"action\":\"x\"}\n");
        let mut r = EventReader::from_reader("mem".into(), Box::new(io::Cursor::new(bytes)), 10);
        let mut bad = Vec::new();
        let b = r.next_batch(&mut bad).unwrap().unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].error.line, 2);
    }

    #[test]
    fn batches_split_at_batch_size() {
        let line = "{\"ts\":1,\"agent_id\":\"a\",\"action\":\"x\"}\n";
        let mut r = reader(&line.repeat(5), 2);
        let mut bad = Vec::new();
        let sizes: Vec<usize> =
            std::iter::from_fn(|| r.next_batch(&mut bad).unwrap().map(|b| b.num_rows())).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }
}
