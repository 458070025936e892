//! Replay inputs: files, directories (walked in name order), `-` for stdin,
//! gzip by `.gz` suffix. Lines are decoded into Arrow windows; bad lines are
//! reported with their file and line and skipped, never fatal.

use super::files::InputSpec;
use super::InputError;
use crate::adapt::{Format, RecordDecoder};
use crate::event::{CallBatchBuilder, DecodeError};
use arrow_array::RecordBatch;
use flate2::read::MultiGzDecoder;
use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
    /// The input it came from.
    pub input: String,
    /// What was wrong, with the line and field.
    pub error: DecodeError,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.input, self.error)
    }
}

/// How records are read and mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The record format (`auto` detects it per record).
    pub format: Format,
    /// Kubernetes audit stage kept (others are skipped, and counted).
    pub k8s_stage: String,
    /// Events per Arrow window.
    pub batch_size: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: Format::Auto,
            k8s_stage: "ResponseComplete".into(),
            batch_size: 4096,
        }
    }
}

/// Reads one input as batches of decoded events.
///
/// Line mode (JSON lines; each line one record or one envelope of records)
/// streams. When the first line is not a complete JSON value (a pretty-
/// printed CloudTrail array, a Kubernetes audit file) and the format is not
/// `native`, the input is read whole and its JSON values are taken one by one.
/// A Parquet input: whole windows, progress counted by rows.
struct ParquetInput {
    batches: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    bytes_per_row: f64,
    bytes_read: Arc<AtomicU64>,
}

/// Reads one input (a JSON-lines file, a `.gz`, a document, or a Parquet
/// file) as Arrow windows of calls, reporting each bad record and going on.
pub struct EventReader {
    parquet: Option<ParquetInput>,
    name: String,
    reader: Box<dyn BufRead>,
    line_no: u64,
    buf: Vec<u8>,
    builder: CallBatchBuilder,
    opts: ReadOptions,
    ready: VecDeque<RecordBatch>,
    started: bool,
    done: bool,
    /// Records deliberately not turned into events (e.g. other audit stages).
    pub skipped: u64,
}

impl EventReader {
    /// Opens an input named by `spec` (`-` is stdin).
    pub fn open(
        spec: &InputSpec,
        opts: ReadOptions,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<Self, InputError> {
        if let InputSpec::File(p) = spec {
            if p.extension().is_some_and(|e| e == "parquet") {
                return Self::open_parquet(p, opts, bytes_read);
            }
        }
        let (name, raw): (String, Box<dyn Read>) = match spec {
            InputSpec::Stdin => ("-".into(), Box::new(io::stdin())),
            InputSpec::File(p) => {
                let f = File::open(p).map_err(|source| InputError::Open {
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
        Ok(Self::from_reader(name, reader, opts))
    }

    /// Parquet written by `warden convert`: its row groups are already
    /// windows of the call layout.
    fn open_parquet(
        p: &Path,
        opts: ReadOptions,
        bytes_read: Arc<AtomicU64>,
    ) -> Result<Self, InputError> {
        let name = p.display().to_string();
        let (batches, rows) =
            super::parquet::open_reader(p, opts.batch_size).map_err(|message| {
                InputError::Parquet {
                    path: name.clone(),
                    message,
                }
            })?;
        let file_bytes = std::fs::metadata(p).map_or(0, |m| m.len());
        let mut r = Self::from_reader(name, Box::new(io::empty()), opts);
        r.parquet = Some(ParquetInput {
            batches,
            bytes_per_row: file_bytes as f64 / rows.max(1) as f64,
            bytes_read,
        });
        Ok(r)
    }

    /// Reads records from any buffered reader; `name` labels its errors.
    pub fn from_reader(name: String, reader: Box<dyn BufRead>, opts: ReadOptions) -> Self {
        EventReader {
            parquet: None,
            name,
            reader,
            line_no: 0,
            buf: Vec::with_capacity(1024),
            builder: CallBatchBuilder::with_capacity(opts.batch_size),
            opts,
            ready: VecDeque::new(),
            started: false,
            done: false,
            skipped: 0,
        }
    }

    fn bad(&self, line: u64, reason: &str) -> BadRecord {
        BadRecord {
            input: self.name.clone(),
            error: DecodeError {
                line,
                record: None,
                field: None,
                reason: reason.into(),
            },
        }
    }

    /// One top-level JSON value (a line, or a value of a whole document).
    fn ingest(&mut self, raw: &str, line: u64, bad: &mut Vec<BadRecord>) {
        let decoder = RecordDecoder {
            format: self.opts.format,
            k8s_stage: &self.opts.k8s_stage,
        };
        let (builder, ready, batch_size) =
            (&mut self.builder, &mut self.ready, self.opts.batch_size);
        let name = &self.name;
        self.skipped += decoder.decode(
            raw,
            line,
            &mut |ev| {
                builder.push(ev);
                if builder.len() >= batch_size {
                    ready.push_back(builder.finish());
                }
            },
            &mut |error| {
                bad.push(BadRecord {
                    input: name.clone(),
                    error,
                })
            },
        );
    }

    /// Reads the rest of the input as one document of JSON values.
    fn ingest_document(
        &mut self,
        first: String,
        bad: &mut Vec<BadRecord>,
    ) -> Result<(), InputError> {
        let mut doc = first;
        let start_line = self.line_no;
        let mut rest = Vec::new();
        self.reader
            .read_to_end(&mut rest)
            .map_err(|source| InputError::Read {
                path: self.name.clone(),
                line: self.line_no,
                source,
            })?;
        match String::from_utf8(rest) {
            Ok(r) => doc.push_str(&r),
            Err(_) => {
                bad.push(self.bad(start_line, "input is not valid UTF-8"));
                return Ok(());
            }
        }
        let mut values = serde_json::Deserializer::from_str(&doc).into_iter::<&RawValue>();
        let mut counted_to = 0usize;
        let mut line = start_line;
        loop {
            let offset = values.byte_offset();
            match values.next() {
                None => break,
                Some(Ok(v)) => {
                    // Line of the value's first character, for error messages.
                    let begin = offset + doc[offset..].len() - doc[offset..].trim_start().len();
                    line += doc[counted_to..begin].matches('\n').count() as u64;
                    counted_to = begin;
                    self.ingest(v.get(), line, bad);
                }
                Some(Err(e)) => {
                    // Salvage the complete records of a truncated array or
                    // envelope; `ingest` reports where it broke.
                    let begin = offset + doc[offset..].len() - doc[offset..].trim_start().len();
                    line += doc[counted_to..begin].matches('\n').count() as u64;
                    let rest = &doc[begin..];
                    if rest.starts_with('[') || rest.starts_with('{') {
                        self.ingest(rest, line, bad);
                    } else {
                        bad.push(self.bad(line, &format!("malformed JSON: {e}")));
                    }
                    // A broken line of a JSON-lines file (its first line is
                    // more than a lone bracket) must not take its good
                    // neighbours with it: resynchronise after the broken
                    // line and read the rest line by line. A pretty-printed
                    // document has nothing to resynchronise to.
                    let single_line_value = rest.lines().next().is_some_and(|l| l.trim().len() > 1);
                    let broken_at = line + (e.line() as u64).saturating_sub(1);
                    let resync = if single_line_value {
                        e.line().max(1)
                    } else {
                        usize::MAX
                    };
                    for (i, l) in rest.lines().enumerate().skip(resync) {
                        let l = l.trim();
                        if !l.is_empty() {
                            self.ingest(
                                l,
                                broken_at + 1 + (i as u64 - e.line().max(1) as u64),
                                bad,
                            );
                        }
                    }
                    break;
                }
            }
        }
        self.line_no = start_line + doc.matches('\n').count() as u64;
        Ok(())
    }

    /// The next window of up to `batch_size` good events (a window can be
    /// larger when one envelope holds more); bad records are appended to
    /// `bad`. `None` at end of input.
    pub fn next_batch(
        &mut self,
        bad: &mut Vec<BadRecord>,
    ) -> Result<Option<RecordBatch>, InputError> {
        if let Some(p) = &mut self.parquet {
            let parquet_err = |message: String| InputError::Parquet {
                path: self.name.clone(),
                message,
            };
            return match p.batches.next() {
                None => Ok(None),
                Some(Err(e)) => Err(parquet_err(e.to_string())),
                Some(Ok(b)) => {
                    super::parquet::check_batch(&b).map_err(parquet_err)?;
                    p.bytes_read.fetch_add(
                        (b.num_rows() as f64 * p.bytes_per_row) as u64,
                        Ordering::Relaxed,
                    );
                    Ok(Some(b))
                }
            };
        }
        while self.ready.is_empty() && !self.done {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| InputError::Read {
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
                bad.push(self.bad(self.line_no, "line is not valid UTF-8"));
                continue;
            };
            let line = text.trim();
            if line.is_empty() {
                continue;
            }
            let first = !self.started;
            self.started = true;
            if first
                && self.opts.format != Format::Native
                && serde_json::from_str::<&RawValue>(line).is_err()
            {
                let text = text.to_string();
                self.ingest_document(text, bad)?;
                self.done = true;
                break;
            }
            let owned = std::mem::take(&mut self.buf);
            let line = std::str::from_utf8(&owned).unwrap_or("").trim();
            self.ingest(line, self.line_no, bad);
            self.buf = owned;
        }
        if let Some(b) = self.ready.pop_front() {
            return Ok(Some(b));
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
        reader_with(
            text,
            ReadOptions {
                batch_size: batch,
                ..ReadOptions::default()
            },
        )
    }

    fn reader_with(text: &str, opts: ReadOptions) -> EventReader {
        EventReader::from_reader(
            "mem".into(),
            Box::new(io::Cursor::new(text.as_bytes().to_vec())),
            opts,
        )
    }

    fn drain(r: &mut EventReader) -> (u64, Vec<BadRecord>) {
        let mut bad = Vec::new();
        let mut n = 0;
        while let Some(b) = r.next_batch(&mut bad).unwrap() {
            n += b.num_rows() as u64;
        }
        (n, bad)
    }

    const CT: &str = r#"{"eventTime":"2023-07-10T11:42:36Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"}}"#;

    #[test]
    fn pretty_printed_arrays_are_read_as_documents() {
        let text = format!("[\n  {CT},\n  {CT}\n]\n");
        let (n, bad) = drain(&mut reader(&text, 10));
        assert_eq!((n, bad.len()), (2, 0));
    }

    #[test]
    fn envelopes_per_line_and_bad_records_inside_them_are_located() {
        let broken = r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#;
        let text = format!("{{\"Records\":[{CT},{broken},{CT}]}}\n{CT}\n");
        let (n, bad) = drain(&mut reader(&text, 2));
        assert_eq!(n, 3);
        assert_eq!(bad.len(), 1);
        assert_eq!((bad[0].error.line, bad[0].error.record), (1, Some(1)));
        assert_eq!(bad[0].error.field.as_deref(), Some("eventTime"));
        assert!(
            bad[0]
                .to_string()
                .contains("line 1 record 1: field `eventTime`"),
            "{}",
            bad[0]
        );
    }

    #[test]
    fn a_truncated_document_keeps_its_complete_records() {
        let text = format!("[\n{CT},\n{CT},\n{{\"eventTime\":\"2023");
        let (n, bad) = drain(&mut reader(&text, 10));
        assert_eq!(n, 2, "the two complete records are kept");
        assert_eq!(bad.len(), 1);
        assert!(
            bad[0]
                .error
                .reason
                .contains("truncated or malformed JSON after 2 good records"),
            "{}",
            bad[0]
        );
        assert_eq!(bad[0].error.line, 1);
    }

    #[test]
    fn a_pretty_document_broken_midway_reports_once() {
        let text = format!("[\n{CT},\n{{\"eventTime\": oops}},\n{CT}\n]\n");
        let (n, bad) = drain(&mut reader(&text, 10));
        assert_eq!((n, bad.len()), (1, 1), "{bad:?}");
    }

    #[test]
    fn a_truncated_s3_object_line_keeps_its_complete_records() {
        let text = format!("{{\"Records\":[{CT},{CT},{{\"eventTi\n{CT}\n");
        let (n, bad) = drain(&mut reader(&text, 10));
        assert_eq!(n, 3, "two salvaged from line 1, one on line 2");
        assert_eq!(
            (bad.len(), bad[0].error.line, bad[0].error.record),
            (1, 1, Some(2))
        );
    }

    #[test]
    fn auto_still_unwraps_arrays_of_canonical_events() {
        let ev = r#"{"ts":1,"agent_id":"a","action":"x"}"#;
        let (n, bad) = drain(&mut reader(&format!("[{ev},{ev}]\n{ev}\n"), 10));
        assert_eq!((n, bad.len()), (3, 0));
    }

    #[test]
    fn native_format_does_not_unwrap_envelopes() {
        let opts = ReadOptions {
            format: Format::Native,
            ..ReadOptions::default()
        };
        let (n, bad) = drain(&mut reader_with(&format!("{CT}\n"), opts));
        assert_eq!((n, bad.len()), (0, 1));
        assert_eq!(
            bad[0].error.field.as_deref(),
            Some("ts"),
            "the first required field missing"
        );
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
        let mut r = EventReader::from_reader(
            "mem".into(),
            Box::new(io::Cursor::new(bytes)),
            ReadOptions {
                batch_size: 10,
                ..ReadOptions::default()
            },
        );
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
