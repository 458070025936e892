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
mod parallel;
mod parquet;
mod reader;
mod windows;

pub use files::{expand_inputs, total_bytes, InputSpec};
pub use reader::{BadRecord, EventReader, ReadOptions};

use std::io;

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

pub(crate) use document::assert_split_agrees_with_serde;
pub(crate) use reader::assert_first_line_decision;
pub(crate) use windows::{read_windows, read_windows_ahead};
