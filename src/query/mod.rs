//! `warden query`: SQL (DataFusion) over replay inputs and Warden's outputs.
//!
//! Tables:
//! - `calls`: every input replay reads (JSON lines, `.gz`, CloudTrail,
//!   Kubernetes audit, OCSF API Activity, a Parquet lake), normalised to the
//!   canonical call event; `agent_type` and `outcome` as names.
//! - `calls_coded`: the same rows in the Arrow/Parquet layout (those two
//!   columns as their integer codes), for queries that join on codes.
//! - `findings`: OCSF Detection Findings, flattened (see `outputs`).
//! - `revocations`: SETs or OCSF Remediation Activities, flattened.
//!
//! A Parquet lake (`warden convert`) is scanned in place, with projection
//! and row-group pruning, so months of history are not loaded to memory;
//! every other input is decoded once into Arrow batches held in memory.
//! DataFusion stays at this edge: nothing on the per-event path plans SQL.

mod outputs;
pub mod prompt;
pub mod render;

use crate::event::{call_schema, AgentType};
use crate::input::{expand_inputs, InputSpec, ReadOptions};
use crate::input::{read_windows, ReadObserver};
use arrow_array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
/// Why a query session could not be opened or a statement failed.
pub enum QueryError {
    #[error(transparent)]
    /// An input could not be read.
    Source(#[from] crate::input::InputError),
    #[error("cannot read {path}: {source}")]
    /// A findings or revocations file could not be read.
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    #[error("{0}")]
    /// DataFusion refused or failed the statement.
    Sql(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    /// A table could not be built.
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("cannot start the query runtime: {0}")]
    /// The query runtime could not start.
    Runtime(std::io::Error),
}

/// What to load: the files behind each table (any may be empty).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Anything replay reads (files, directories, `.gz`, Parquet).
    pub calls: Vec<String>,
    /// OCSF JSON lines (findings; remediation activities feed `revocations`).
    pub findings: Vec<PathBuf>,
    /// One SET per line, or OCSF Remediation Activity JSON lines.
    pub revocations: Vec<PathBuf>,
}

/// Rows loaded into each table, and how `calls` is served.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// `None` when `calls` scans a Parquet lake in place.
    pub calls: Option<u64>,
    /// Whether `calls` is a Parquet lake scanned in place.
    pub calls_scanned_in_place: bool,
    /// Findings loaded.
    pub findings: usize,
    /// Revocations loaded.
    pub revocations: usize,
    /// Records that could not be read (each also went to `bad_record`).
    pub bad_records: u64,
    /// OCSF records of other classes in the findings files.
    pub other_records: u64,
}

/// A session with the tables registered, ready for SQL.
pub struct Workspace {
    ctx: SessionContext,
    rt: tokio::runtime::Runtime,
    /// Rows loaded into each table.
    pub loaded: Loaded,
}

/// Batches handed to DataFusion are at least this big: the readers' windows
/// are small (1,024 rows) for latency, which only costs a query.
const MEM_BATCH_ROWS: usize = 64 * 1024;

impl Workspace {
    /// Loads the sources into tables `calls`, `findings` and `revocations`.
    pub fn open(
        sources: &Sources,
        read_opts: &ReadOptions,
        observer: &mut dyn ReadObserver,
    ) -> Result<Workspace, QueryError> {
        // One thread: statements run one at a time, and the scans that
        // dominate are decoded by DataFusion's own partitions on it.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(QueryError::Runtime)?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("warden", "public");
        let ctx = SessionContext::new_with_config(config);
        let mut loaded = Loaded::default();

        let coded: Arc<dyn datafusion::catalog::TableProvider> = if sources.calls.is_empty() {
            Arc::new(MemTable::try_new(call_schema(), vec![vec![]])?)
        } else if let Some(urls) = parquet_only(&sources.calls)? {
            loaded.calls_scanned_in_place = true;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            let config = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options)
                .with_schema(call_schema());
            Arc::new(ListingTable::try_new(config)?)
        } else {
            let batches = read_calls(&sources.calls, read_opts, observer, &mut loaded)?;
            Arc::new(MemTable::try_new(call_schema(), vec![batches])?)
        };
        ctx.register_table("calls_coded", coded)?;
        rt.block_on(ctx.sql(&calls_view_sql()))?;

        let mut tables = outputs::OutputTables::default();
        let mut bad = Vec::new();
        for path in &sources.findings {
            tables.read_findings(&path.display().to_string(), open_text(path)?, &mut bad)?;
        }
        for path in &sources.revocations {
            tables.read_revocations(&path.display().to_string(), open_text(path)?, &mut bad)?;
        }
        for b in &bad {
            observer.bad_record(b);
        }
        loaded.bad_records += bad.len() as u64;
        loaded.other_records = tables.skipped;
        loaded.findings = tables.findings_rows();
        loaded.revocations = tables.revocations_rows();
        let (findings, revocations) = tables.finish()?;
        for (name, batch) in [("findings", findings), ("revocations", revocations)] {
            let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
            ctx.register_table(name, Arc::new(table))?;
        }
        Ok(Workspace { ctx, rt, loaded })
    }

    /// Runs one SQL statement and collects its result.
    pub fn run(&self, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
        self.rt.block_on(async {
            let df = self.ctx.sql(sql).await?;
            Ok(df.collect().await?)
        })
    }

    /// The tables and their columns, for `\d` at the prompt.
    pub fn describe(&self) -> Result<Vec<RecordBatch>, QueryError> {
        self.run(
            "SELECT table_name, column_name, data_type FROM information_schema.columns \
             WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
        )
    }
}

/// `calls` as analysts read it: the coded columns as names.
fn calls_view_sql() -> String {
    let schema = call_schema();
    let agent_types: String = AgentType::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| format!(" WHEN {i} THEN '{}'", t.as_str()))
        .collect();
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "agent_type" => format!("CASE agent_type{agent_types} END AS agent_type"),
            "outcome" => "CASE outcome WHEN 0 THEN 'success' WHEN 1 THEN 'denied' \
                          WHEN 2 THEN 'error' END AS outcome"
                .to_string(),
            other => format!("\"{other}\""),
        })
        .collect();
    format!(
        "CREATE VIEW calls AS SELECT {} FROM calls_coded",
        columns.join(", ")
    )
}

/// When every input is Parquet (files, or directories holding only
/// Parquet files, such as a lake from `warden convert`), the URLs to scan
/// them in place.
fn parquet_only(inputs: &[String]) -> Result<Option<Vec<ListingTableUrl>>, QueryError> {
    let specs = expand_inputs(inputs)?;
    let all_parquet = !specs.is_empty()
        && specs.iter().all(|s| match s {
            InputSpec::File(p) => p.extension().is_some_and(|e| e == "parquet"),
            InputSpec::Stdin => false,
        });
    if !all_parquet {
        return Ok(None);
    }
    let urls = inputs
        .iter()
        .map(|i| {
            let path = std::path::absolute(Path::new(i)).map_err(|source| QueryError::Read {
                path: i.clone(),
                source,
            })?;
            let mut text = path.display().to_string();
            if path.is_dir() && !text.ends_with('/') {
                text.push('/');
            }
            Ok(ListingTableUrl::parse(&text)?)
        })
        .collect::<Result<Vec<_>, QueryError>>()?;
    Ok(Some(urls))
}

fn read_calls(
    inputs: &[String],
    read_opts: &ReadOptions,
    observer: &mut dyn ReadObserver,
    loaded: &mut Loaded,
) -> Result<Vec<RecordBatch>, QueryError> {
    let mut out = Vec::new();
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    let concat = |pending: &mut Vec<RecordBatch>| {
        let batch = concat_batches(&call_schema(), pending.iter());
        pending.clear();
        batch
    };
    let totals = read_windows(inputs, read_opts, observer, &mut |w| {
        pending.push(w.clone());
        pending_rows += w.num_rows();
        if pending_rows >= MEM_BATCH_ROWS {
            pending_rows = 0;
            out.push(concat(&mut pending)?);
        }
        Ok::<(), QueryError>(())
    })?;
    if !pending.is_empty() {
        out.push(concat(&mut pending)?);
    }
    loaded.calls = Some(totals.rows);
    loaded.bad_records += totals.decode_errors;
    Ok(out)
}

fn open_text(path: &Path) -> Result<Box<dyn std::io::BufRead>, QueryError> {
    let read_err = |source| QueryError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            file,
        ))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}
