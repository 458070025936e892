//! Months of history as Parquet: `warden convert` writes any input Warden
//! reads as the canonical event's Arrow schema (`event::call_schema`),
//! partitioned by UTC day (`day=YYYY-MM-DD/part-NNNNN.parquet`, Snappy),
//! and replay reads those files straight into its Arrow windows: no JSON
//! to parse, so it runs at the engine's own speed.
//!
//! `agent_type` and `outcome` are stored as the engine's small codes; the
//! files carry their meaning in key-value metadata (`warden.agent_type_codes`,
//! `warden.outcome_codes`) for other tools.

use crate::event::{call_schema, format_rfc3339_ms, AgentType, Outcome};
use crate::input::{read_windows, read_windows_ahead, InputError, ReadObserver, ReadOptions};
use arrow_array::{Array, RecordBatch, TimestampMillisecondArray};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::event::DAY_MS;
/// Rows per row group: bounds what a writer buffers (a few tens of MB).
const ROW_GROUP_ROWS: usize = 131_072;

#[derive(Debug, thiserror::Error)]
/// Why a conversion to Parquet failed.
pub enum LakeError {
    #[error(transparent)]
    /// An input could not be read.
    Read(#[from] InputError),
    #[error("{path}: {source}")]
    /// A file of the lake could not be written.
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    /// A Parquet file could not be encoded.
    Parquet {
        /// The file.
        path: String,
        /// Why.
        source: parquet::errors::ParquetError,
    },
    #[error("{0} is not empty: convert writes into a new or empty directory")]
    /// The output directory already holds files.
    NotEmpty(String),
}

#[derive(Debug, Clone, Default, Serialize)]
/// What `warden convert` wrote.
pub struct ConvertSummary {
    /// Calls written.
    pub rows: u64,
    /// Records or fields that could not be decoded (skipped).
    pub decode_errors: u64,
    /// Records skipped for other reasons (not calls).
    pub skipped_records: u64,
    /// Parquet files written.
    pub files: usize,
    /// UTC days (partitions) written.
    pub days: usize,
    /// Bytes written.
    pub bytes_written: u64,
}

fn writer_props() -> WriterProperties {
    let codes = |v: Vec<&str>| v.join(",");
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_key_value_metadata(Some(vec![
            KeyValue::new("warden.schema".into(), "call-event/1".to_string()),
            KeyValue::new(
                "warden.agent_type_codes".into(),
                codes(AgentType::ALL.iter().map(|t| t.as_str()).collect()),
            ),
            KeyValue::new(
                "warden.outcome_codes".into(),
                codes(
                    [Outcome::Success, Outcome::Denied, Outcome::Error]
                        .iter()
                        .map(|o| o.as_str())
                        .collect(),
                ),
            ),
        ]))
        .build()
}

/// Writers per day; a day is closed once the input has moved two days past
/// it (time-ordered input keeps one or two open), and a late row for a
/// closed day starts that day's next part file.
struct DayWriters {
    dir: PathBuf,
    open: BTreeMap<i64, (PathBuf, ArrowWriter<File>)>,
    parts: BTreeMap<i64, u32>,
    summary: ConvertSummary,
}

impl DayWriters {
    /// One window, cut at day boundaries.
    fn write_window(&mut self, batch: &RecordBatch) -> Result<(), LakeError> {
        for (day, start, len) in day_runs(batch) {
            self.write(day, &batch.slice(start, len))?;
        }
        Ok(())
    }

    fn write(&mut self, day: i64, batch: &RecordBatch) -> Result<(), LakeError> {
        if !self.open.contains_key(&day) {
            let part = self.parts.entry(day).or_insert(0);
            let date = &format_rfc3339_ms(day * DAY_MS)[..10];
            let dir = self.dir.join(format!("day={date}"));
            std::fs::create_dir_all(&dir).map_err(|source| LakeError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            let path = dir.join(format!("part-{part:05}.parquet"));
            *part += 1;
            let file = File::create(&path).map_err(|source| LakeError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let w = ArrowWriter::try_new(file, call_schema(), Some(writer_props()))
                .map_err(|source| parquet_err(&path, source))?;
            self.open.insert(day, (path, w));
            self.summary.files += 1;
        }
        let (path, w) = self.open.get_mut(&day).expect("just opened");
        w.write(batch).map_err(|source| parquet_err(path, source))?;
        // Close the days the input has left behind.
        let stale: Vec<i64> = self.open.range(..day - 1).map(|(d, _)| *d).collect();
        for d in stale {
            self.close(d)?;
        }
        Ok(())
    }

    fn close(&mut self, day: i64) -> Result<(), LakeError> {
        if let Some((path, w)) = self.open.remove(&day) {
            w.close().map_err(|source| parquet_err(&path, source))?;
            self.summary.bytes_written += std::fs::metadata(&path).map_or(0, |m| m.len());
        }
        Ok(())
    }
}

fn parquet_err(path: &Path, source: parquet::errors::ParquetError) -> LakeError {
    LakeError::Parquet {
        path: path.display().to_string(),
        source,
    }
}

/// Rows of `batch` in runs of one UTC day (one run for time-ordered input
/// within a day).
fn day_runs(batch: &RecordBatch) -> Vec<(i64, usize, usize)> {
    let ts = batch
        .column(0)
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .expect("windows have the call layout");
    let mut runs: Vec<(i64, usize, usize)> = Vec::new();
    for i in 0..ts.len() {
        let day = ts.value(i).div_euclid(DAY_MS);
        match runs.last_mut() {
            Some((d, _, len)) if *d == day => *len += 1,
            _ => runs.push((day, i, 1)),
        }
    }
    runs
}

/// Converts `inputs` (any format replay reads) into day-partitioned
/// Parquet under `out_dir`, which must be new or empty. With `threads`
/// above one, decoding and Parquet encoding run on two threads (the files
/// are the same).
pub fn convert(
    inputs: &[String],
    read_opts: &ReadOptions,
    out_dir: &Path,
    observer: &mut dyn ReadObserver,
    threads: usize,
) -> Result<ConvertSummary, LakeError> {
    if out_dir.exists()
        && std::fs::read_dir(out_dir)
            .map_err(|source| LakeError::Io {
                path: out_dir.display().to_string(),
                source,
            })?
            .next()
            .is_some()
    {
        return Err(LakeError::NotEmpty(out_dir.display().to_string()));
    }
    let mut w = DayWriters {
        dir: out_dir.to_path_buf(),
        open: BTreeMap::new(),
        parts: BTreeMap::new(),
        summary: ConvertSummary::default(),
    };
    let totals = if threads <= 1 {
        read_windows(inputs, read_opts, observer, &mut |batch| {
            w.write_window(batch)
        })?
    } else {
        // Decoding on its own thread, Parquet encoding on this one. One
        // decoding thread, not several: the Parquet writer cuts its pages
        // where windows break, and several decoders break windows where
        // their runs end, so the files would hold the same rows in other
        // bytes.
        read_windows_ahead(inputs, read_opts, 1, observer, &mut |batch| {
            w.write_window(batch)
        })?
    };
    let days: Vec<i64> = w.open.keys().copied().collect();
    for d in days {
        w.close(d)?;
    }
    let mut s = w.summary;
    s.rows = totals.rows;
    s.decode_errors = totals.decode_errors;
    s.skipped_records = totals.skipped_records;
    s.days = w.parts.len();
    Ok(s)
}
