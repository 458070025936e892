//! Parquet inputs in the call layout (`warden convert` writes them): the
//! schema is checked once per file and nulls once per window.

use crate::event::call_schema;
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::fs::File;
use std::path::Path;

/// Reads a Parquet file of call events as Arrow windows, after checking
/// that it has every column of the call layout with its type.
pub(crate) fn open_reader(
    path: &Path,
    batch_size: usize,
) -> Result<(ParquetRecordBatchReader, u64), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.to_string())?;
    let total_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let found = builder.schema().clone();
    for want in call_schema().fields() {
        match found.field_with_name(want.name()) {
            Ok(f) if f.data_type() == want.data_type() => {}
            Ok(f) => {
                return Err(format!(
                    "column `{}` is {}, the call layout has {} (write it with `warden convert`)",
                    want.name(),
                    f.data_type(),
                    want.data_type()
                ))
            }
            Err(_) => {
                return Err(format!(
                    "no column `{}` (write it with `warden convert`)",
                    want.name()
                ))
            }
        }
    }
    let reader = builder
        .with_batch_size(batch_size.max(1))
        .build()
        .map_err(|e| e.to_string())?;
    Ok((reader, total_rows))
}

/// A batch read from Parquet is checked once more: the columns the call
/// layout requires must have no nulls (a file from another writer may).
pub(crate) fn check_batch(batch: &RecordBatch) -> Result<(), String> {
    for f in call_schema().fields() {
        if !f.is_nullable() {
            let c = batch
                .column_by_name(f.name())
                .ok_or_else(|| format!("no column `{}`", f.name()))?;
            if c.null_count() > 0 {
                return Err(format!(
                    "column `{}` has {} nulls; the call layout requires a value",
                    f.name(),
                    c.null_count()
                ));
            }
        }
    }
    Ok(())
}
