//! Query results as a table for people, CSV for spreadsheets, JSON lines
//! for pipes (jq, a SIEM's file input).

use arrow_array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
/// How `warden query` prints results.
pub enum OutputFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per row (JSON lines); nulls left out.
    Json,
}

#[derive(Debug, thiserror::Error)]
/// Why a result could not be printed.
pub enum RenderError {
    #[error(transparent)]
    /// The result could not be formatted.
    Arrow(#[from] arrow_schema::ArrowError),
    #[error(transparent)]
    /// Writing it failed.
    Io(#[from] std::io::Error),
}

/// Prints `batches` in `format` to `out`.
pub fn write(
    batches: &[RecordBatch],
    format: OutputFormat,
    out: &mut dyn Write,
) -> Result<(), RenderError> {
    match format {
        OutputFormat::Table => {
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            if !batches.is_empty() && batches[0].num_columns() > 0 {
                writeln!(out, "{}", pretty_format_batches(batches)?)?;
            }
            writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
        }
        OutputFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for b in batches {
                w.write(b)?;
            }
        }
        OutputFormat::Json => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "agent_id",
                Arc::new(StringArray::from(vec![Some("a,1"), None])) as _,
            ),
            ("findings", Arc::new(Int64Array::from(vec![3, 1])) as _),
        ])
        .unwrap()
    }

    fn render(f: OutputFormat) -> String {
        let mut out = Vec::new();
        write(&[batch()], f, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_and_keeps_the_header() {
        assert_eq!(
            render(OutputFormat::Csv),
            "agent_id,findings\n\"a,1\",3\n,1\n"
        );
    }

    #[test]
    fn json_is_one_object_per_row_without_nulls() {
        assert_eq!(
            render(OutputFormat::Json),
            "{\"agent_id\":\"a,1\",\"findings\":3}\n{\"findings\":1}\n"
        );
    }

    #[test]
    fn table_counts_rows() {
        let t = render(OutputFormat::Table);
        assert!(t.contains("| a,1      | 3        |"), "{t}");
        assert!(t.ends_with("(2 rows)\n"), "{t}");
    }
}
