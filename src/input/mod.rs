//! Reading recorded calls: files, directories walked in name order, `-` for
//! stdin, gzip by `.gz` suffix, and Parquet in the call layout. Every record
//! is decoded through `adapt` into Arrow windows of call events; bad records
//! are reported with their input, line and field and skipped, never fatal.
//! `replay`, `tune`, `train`, `convert` and `query` all read through
//! [`read_windows`].

mod document;
mod files;
#[cfg(test)]
mod hostile_files;
mod parquet;
mod reader;

pub use files::{expand_inputs, total_bytes, InputSpec};
pub use reader::{BadRecord, EventReader, ReadOptions};

use arrow_array::RecordBatch;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("input {path}: {source}")]
    /// An input could not be opened.
    Open {
        /// The input.
        path: String,
        /// Why.
        source: io::Error,
    },
    #[error("input {path}: read failed at line {line}: {source}")]
    /// Reading an input failed part-way.
    Read {
        /// The input.
        path: String,
        /// The line (record) the failure was at.
        line: u64,
        /// Why.
        source: io::Error,
    },
    #[error("input {0}: not a file or directory")]
    /// A named input is neither a file nor a directory.
    Missing(String),
    #[error("input {path}: Parquet: {message}")]
    /// A Parquet input could not be read.
    Parquet {
        /// The input.
        path: String,
        /// What the Parquet reader said.
        message: String,
    },
    #[error("no inputs given")]
    /// The command was given no input.
    NoInputs,
}

/// Hooks for progress display and bad-record reporting while inputs are
/// read, so the library prints nothing itself.
pub trait ReadObserver {
    /// Reading starts; the inputs' total size when it is known.
    fn started(&mut self, _total_bytes: Option<u64>) {}
    /// Raw bytes read and rows decoded so far.
    fn progress(&mut self, _bytes_read: u64, _events: u64) {}
    /// A record that could not be decoded (it is skipped).
    fn bad_record(&mut self, _bad: &BadRecord) {}
    /// Every input was read.
    fn finished(&mut self) {}
}

/// An input that yielded no call, or more bad records than calls: most
/// likely the wrong file or the wrong `--format`, which must not pass as a
/// quiet run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SuspectInput {
    /// The input.
    pub input: String,
    /// Calls it yielded.
    pub calls: u64,
    /// Records in it that could not be decoded.
    pub bad_records: u64,
}

impl std::fmt::Display for SuspectInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} calls, {} bad records",
            self.input, self.calls, self.bad_records
        )
    }
}

/// What reading the inputs found besides events.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadTotals {
    /// Inputs read (after directories were expanded).
    pub inputs: usize,
    /// Call events decoded.
    pub rows: u64,
    /// Records that could not be decoded.
    pub decode_errors: u64,
    /// Records deliberately not scored (Kubernetes audit stages other than
    /// the configured one).
    pub skipped_records: u64,
    /// Inputs that yielded no call (other than by deliberate skips), or
    /// more bad records than calls.
    pub suspect_inputs: Vec<SuspectInput>,
}

/// Reads every input in order as Arrow windows of call events: bad records
/// go to the observer (and are counted), progress too; `window` sees each
/// window, and its first error stops the read and is returned as it is.
pub(crate) fn read_windows<E: From<InputError>>(
    inputs: &[String],
    read_opts: &ReadOptions,
    observer: &mut dyn ReadObserver,
    window: &mut dyn FnMut(&RecordBatch) -> Result<(), E>,
) -> Result<ReadTotals, E> {
    let specs = expand_inputs(inputs)?;
    if specs.is_empty() {
        return Err(InputError::NoInputs.into());
    }
    let bytes_read = Arc::new(AtomicU64::new(0));
    observer.started(total_bytes(&specs));
    let mut t = ReadTotals {
        inputs: specs.len(),
        ..ReadTotals::default()
    };
    let mut bad = Vec::new();
    for spec in &specs {
        let (rows_before, bad_before) = (t.rows, t.decode_errors);
        let mut reader = EventReader::open(spec, read_opts.clone(), bytes_read.clone())?;
        while let Some(batch) = reader.next_batch(&mut bad)? {
            for b in bad.drain(..) {
                t.decode_errors += 1;
                observer.bad_record(&b);
            }
            window(&batch)?;
            t.rows += batch.num_rows() as u64;
            observer.progress(bytes_read.load(Ordering::Relaxed), t.rows);
        }
        for b in bad.drain(..) {
            t.decode_errors += 1;
            observer.bad_record(&b);
        }
        t.skipped_records += reader.skipped;
        let (calls, bad_records) = (t.rows - rows_before, t.decode_errors - bad_before);
        let all_skipped = calls == 0 && bad_records == 0 && reader.skipped > 0;
        if (calls == 0 && !all_skipped) || bad_records > calls {
            t.suspect_inputs.push(SuspectInput {
                input: spec.name(),
                calls,
                bad_records,
            });
        }
    }
    observer.finished();
    Ok(t)
}
