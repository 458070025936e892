//! Replay inputs: files, directories (walked in name order), `-` for stdin,
//! gzip by `.gz` suffix. Lines are decoded into Arrow windows; bad lines are
//! reported with their file and line and skipped, never fatal.

use super::document::{has_replacement, push_lossy};
use super::files::InputSpec;
use super::InputError;
use crate::adapt::{latest_ts_from_now, FieldLimits, Format, RecordDecoder};
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
    /// Events dated more than this far past this machine's clock (ms) are
    /// reported and skipped.
    pub max_future_skew_ms: i64,
    /// Largest input read as one JSON document (a pretty-printed array or
    /// envelope) rather than line by line; past it the rest is reported and
    /// not read.
    pub max_document_bytes: u64,
    /// Longest string field, in bytes (identity fields over it make the
    /// record bad; other text is cut).
    pub max_field_bytes: usize,
    /// Longest pass-through `extra` object, in bytes (dropped past it).
    pub max_extra_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: Format::Auto,
            k8s_stage: "ResponseComplete".into(),
            batch_size: 4096,
            max_future_skew_ms: 300_000,
            max_document_bytes: 256 << 20,
            max_field_bytes: 4096,
            max_extra_bytes: 16384,
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
    /// Events dated after this are reported and skipped (see
    /// `ReadOptions::max_future_skew_ms`), fixed when the input is opened.
    latest_ts_ms: i64,
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
            latest_ts_ms: latest_ts_from_now(opts.max_future_skew_ms),
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
            latest_ts_ms: self.latest_ts_ms,
            limits: FieldLimits {
                field_bytes: self.opts.max_field_bytes,
                extra_bytes: self.opts.max_extra_bytes,
            },
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
        let cap = self.opts.max_document_bytes;
        (&mut self.reader)
            .take(cap.saturating_add(1))
            .read_to_end(&mut rest)
            .map_err(|source| InputError::Read {
                path: self.name.clone(),
                line: self.line_no,
                source,
            })?;
        if rest.len() as u64 > cap {
            rest.truncate(cap as usize);
            bad.push(self.bad(
                start_line,
                &format!(
                    "document larger than the {cap}-byte cap ([input] max_document_bytes): \
                     its records past the cap are not read"
                ),
            ));
        }
        // Invalid UTF-8 is replaced, and the records it falls in are
        // reported and skipped below: one bad byte must not take the
        // document's other records with it.
        let replaced = push_lossy(&mut doc, &rest);
        drop(rest);
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
                    let end = values.byte_offset();
                    if !has_replacement(&replaced, begin..end) {
                        self.ingest(v.get(), line, bad);
                    } else {
                        // Read an array or envelope element by element, so
                        // only the elements the bad bytes fall in are lost.
                        let elems = crate::adapt::records(v.get()).unwrap_or_default();
                        if elems.len() <= 1 {
                            bad.push(self.bad(line, "record holds invalid UTF-8"));
                        }
                        for e in elems.iter().filter(|_| elems.len() > 1) {
                            let at = e.as_ptr() as usize - doc.as_ptr() as usize;
                            let e_line = line + doc[begin..at].matches('\n').count() as u64;
                            if has_replacement(&replaced, at..at + e.len()) {
                                bad.push(self.bad(e_line, "record holds invalid UTF-8"));
                            } else {
                                self.ingest(e, e_line, bad);
                            }
                        }
                    }
                }
                Some(Err(e)) => {
                    // Salvage the complete records of a truncated array or
                    // envelope; `ingest` reports where it broke.
                    let begin = offset + doc[offset..].len() - doc[offset..].trim_start().len();
                    line += doc[counted_to..begin].matches('\n').count() as u64;
                    let rest = &doc[begin..];
                    if has_replacement(&replaced, begin..doc.len())
                        && (rest.starts_with('[') || rest.starts_with('{'))
                    {
                        // Salvaging would score text with replaced bytes;
                        // the line-by-line pass below reports them instead.
                        bad.push(self.bad(line, &format!("malformed JSON: {e}")));
                    } else if rest.starts_with('[') || rest.starts_with('{') {
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
                    let mut at = begin;
                    for (i, l) in rest.split_inclusive('\n').enumerate() {
                        let span = at..at + l.len();
                        at += l.len();
                        let l = l.trim();
                        if i < resync || l.is_empty() {
                            continue;
                        }
                        let l_line = broken_at + 1 + (i as u64 - e.line().max(1) as u64);
                        if has_replacement(&replaced, span) {
                            bad.push(self.bad(l_line, "line holds invalid UTF-8"));
                        } else {
                            self.ingest(l, l_line, bad);
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
    fn an_invalid_byte_in_a_document_costs_only_its_own_record() {
        // Not JSON lines (the first line is a lone bracket): document mode.
        let mut text = b"[\n".to_vec();
        for i in 0..50 {
            text.extend_from_slice(
                format!("  {{\"ts\":{i},\"agent_id\":\"a{i}\",\"action\":\"x\"}},\n").as_bytes(),
            );
        }
        text.extend_from_slice(b"  {\"ts\":99,\"agent_id\":\"bad\xff\",\"action\":\"x\"},\n");
        text.extend_from_slice(b"  {\"ts\":100,\"agent_id\":\"last\",\"action\":\"x\"}\n]\n");
        let mut r = EventReader::from_reader(
            "mem".into(),
            Box::new(io::Cursor::new(text)),
            ReadOptions::default(),
        );
        let (n, bad) = drain(&mut r);
        // The array is one value: it is read element by element, and only
        // the element holding the invalid byte is lost (and named by line).
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].error.reason.contains("invalid UTF-8"), "{bad:?}");
        assert_eq!(bad[0].error.line, 52, "{bad:?}");
        assert_eq!(n, 51, "{bad:?}");
    }

    #[test]
    fn a_broken_first_line_and_a_bad_byte_later_lose_only_those_two_lines() {
        // The measured case: a non-native JSON-lines file whose first line
        // is cut short switches to document mode; one invalid byte further
        // on used to drop the whole file as one bad record.
        let mut text = b"{\"eventTime\":\"2023-07-10T11:42:36Z\",\"eventSo\n".to_vec();
        let good = |i: usize| {
            format!(
                "{{\"eventTime\":\"2023-07-10T11:42:36Z\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"E{i}\",\"userIdentity\":{{\"type\":\"Root\"}}}}\n"
            )
        };
        for i in 0..50 {
            text.extend_from_slice(good(i).as_bytes());
        }
        text.extend_from_slice(b"{\"eventTime\":\"2023-07-10T11:42:36Z\",\"eventSource\":\"s3\xff\",\"eventName\":\"X\"}\n");
        for i in 50..60 {
            text.extend_from_slice(good(i).as_bytes());
        }
        let mut r = EventReader::from_reader(
            "mem".into(),
            Box::new(io::Cursor::new(text)),
            ReadOptions::default(),
        );
        let (n, bad) = drain(&mut r);
        assert_eq!(n, 60, "{bad:?}");
        let lines: Vec<u64> = bad.iter().map(|b| b.error.line).collect();
        assert_eq!(lines, [1, 52], "{bad:?}");
    }

    #[test]
    fn invalid_bytes_in_a_stream_of_documents_cost_only_their_records() {
        // Concatenated pretty-printed objects (no JSON lines): one has a bad byte.
        let mut text = b"{\n".to_vec();
        text.extend_from_slice(b"  \"ts\": 1, \"agent_id\": \"a\", \"action\": \"x\"\n}\n");
        text.extend_from_slice(b"{\n  \"ts\": 2, \"agent_id\": \"b\xfe\", \"action\": \"x\"\n}\n");
        text.extend_from_slice(b"{\n  \"ts\": 3, \"agent_id\": \"c\", \"action\": \"x\"\n}\n");
        let mut r = EventReader::from_reader(
            "mem".into(),
            Box::new(io::Cursor::new(text)),
            ReadOptions::default(),
        );
        let (n, bad) = drain(&mut r);
        assert_eq!(n, 2, "{bad:?}");
        assert_eq!(bad.len(), 1, "{bad:?}");
        // The line the bad record starts on.
        assert_eq!(bad[0].error.line, 4, "{bad:?}");
    }

    #[test]
    fn a_document_past_its_cap_is_reported_not_read_whole() {
        let mut text = String::from("[\n");
        for i in 0..1000 {
            text.push_str(&format!(
                "  {{\"ts\":{i},\"agent_id\":\"a\",\"action\":\"x\"}},\n"
            ));
        }
        text.push_str("  {\"ts\":1,\"agent_id\":\"a\",\"action\":\"x\"}\n]\n");
        let mut r = reader_with(
            &text,
            ReadOptions {
                max_document_bytes: 4096,
                ..ReadOptions::default()
            },
        );
        let (n, bad) = drain(&mut r);
        assert!(
            bad.iter().any(|b| b.error.reason.contains("cap")),
            "{bad:?}"
        );
        // The records inside the cap are kept (a truncated array salvages).
        assert!(n > 0 && n < 1001, "{n}");
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
