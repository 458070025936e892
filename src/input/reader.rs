//! Replay inputs: files, directories (walked in name order), `-` for stdin,
//! gzip by `.gz` suffix. Lines are decoded into Arrow windows; bad lines are
//! reported with their file and line and skipped, never fatal.

use super::document::{has_replacement, is_one_value, push_lossy, DocValues};
use super::files::InputSpec;
use super::InputError;
use crate::adapt::{latest_ts_from_now, FieldLimits, Format, RecordDecoder};
use crate::event::{CallBatchBuilder, DecodeError};
use arrow_array::RecordBatch;
use flate2::read::MultiGzDecoder;
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
    /// not read. Also the longest line: a longer one is reported and passed
    /// over.
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

/// Read buffer of a JSON-lines input. Lines that lie whole in it are
/// decoded where they are, without a copy; CloudTrail delivery objects are
/// one line of 40-150 KB each, so a buffer of several such lines leaves few
/// of them straddling a refill.
const READ_BUFFER: usize = 1 << 20;

/// Opens a text input (`-` is stdin; gzip by its `.gz` suffix) for reading
/// in lines, counting its raw bytes into `bytes_read`. Returns its name.
fn open_text(
    spec: &InputSpec,
    bytes_read: Arc<AtomicU64>,
) -> Result<(String, Box<dyn BufRead + Send>), InputError> {
    let (name, raw) = open_raw(spec, bytes_read)?;
    Ok((name, Box::new(BufReader::with_capacity(READ_BUFFER, raw))))
}

/// `open_text` without the read buffer, for a reader that reads in large
/// pieces of its own (the parallel decoder): the input is then copied once,
/// into the pieces.
pub(super) fn open_raw(
    spec: &InputSpec,
    bytes_read: Arc<AtomicU64>,
) -> Result<(String, Box<dyn Read + Send>), InputError> {
    let (name, raw): (String, Box<dyn Read + Send>) = match spec {
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
    let reader: Box<dyn Read + Send> = if name.ends_with(".gz") {
        Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            1 << 16,
            counted,
        )))
    } else {
        Box::new(counted)
    };
    Ok((name, reader))
}

/// Read buffer a document is read whole through (the parallel decoder hands
/// such an input back to be read on one thread).
pub(super) fn buffered(reader: Box<dyn Read + Send>) -> Box<dyn BufRead + Send> {
    Box::new(BufReader::with_capacity(READ_BUFFER, reader))
}

/// Reads one input (a JSON-lines file, a `.gz`, a document, or a Parquet
/// file) as Arrow windows of calls, reporting each bad record and going on.
pub struct EventReader {
    parquet: Option<ParquetInput>,
    name: String,
    reader: Box<dyn BufRead + Send>,
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
        if let Some(p) = spec.parquet_path() {
            return Self::open_parquet(p, opts, bytes_read);
        }
        let (name, reader) = open_text(spec, bytes_read)?;
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
    pub fn from_reader(name: String, reader: Box<dyn BufRead + Send>, opts: ReadOptions) -> Self {
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

    /// Reads a run of whole lines cut from a JSON-lines input
    /// (the parallel decoder): its first line is line `first_line` of the
    /// input, `latest_ts_ms` is the input's (fixed when it was opened), and
    /// the input is already known not to be one document.
    pub(super) fn for_lines(
        name: String,
        lines: Vec<u8>,
        opts: ReadOptions,
        first_line: u64,
        latest_ts_ms: i64,
    ) -> Self {
        let mut r = Self::from_reader(name, Box::new(io::Cursor::new(lines)), opts);
        r.line_no = first_line.saturating_sub(1);
        r.started = true;
        r.latest_ts_ms = latest_ts_ms;
        r
    }

    /// The same reader with its first line numbered `first_line`: it
    /// reads on from there in an input whose earlier lines were read
    /// elsewhere.
    pub(super) fn at_line(mut self, first_line: u64) -> Self {
        self.line_no = first_line.saturating_sub(1);
        self
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
        let mut values = DocValues::new(&doc);
        let mut counted_to = 0usize;
        let mut line = start_line;
        loop {
            let offset = values.byte_offset();
            let next = values.next();
            // Where the value (or the break) starts, past the whitespace
            // after the previous one, and its line, for error messages.
            let tail = doc.get(offset..).unwrap_or_default().trim_start();
            let begin = doc.len() - tail.len();
            line += doc
                .get(counted_to..begin)
                .map_or(0, |t| t.matches('\n').count()) as u64;
            counted_to = begin;
            match next {
                None => break,
                Some(Ok(v)) => {
                    let end = values.byte_offset();
                    if !has_replacement(&replaced, begin..end) {
                        self.ingest(v, line, bad);
                    } else {
                        // Read an array or envelope element by element, so
                        // only the elements the bad bytes fall in are lost.
                        let elems = crate::adapt::records(v).unwrap_or_default();
                        if elems.len() <= 1 {
                            bad.push(self.bad(line, "record holds invalid UTF-8"));
                        }
                        for e in elems.iter().filter(|_| elems.len() > 1) {
                            let at = e.as_ptr() as usize - doc.as_ptr() as usize;
                            let e_line = line
                                + doc.get(begin..at).map_or(0, |t| t.matches('\n').count()) as u64;
                            if has_replacement(&replaced, at..at + e.len()) {
                                bad.push(self.bad(e_line, "record holds invalid UTF-8"));
                            } else {
                                self.ingest(e, e_line, bad);
                            }
                        }
                    }
                }
                Some(Err(e)) => {
                    self.ingest_broken(tail, begin, line, &e, &replaced, bad);
                    break;
                }
            }
        }
        self.line_no = start_line + doc.matches('\n').count() as u64;
        Ok(())
    }

    /// The rest of a document from a value that does not parse (`rest`,
    /// at byte `begin` of the text, on `line`): salvage what is complete,
    /// report where it broke, and read on line by line where the input is
    /// really JSON lines.
    fn ingest_broken(
        &mut self,
        rest: &str,
        begin: usize,
        line: u64,
        e: &serde_json::Error,
        replaced: &[usize],
        bad: &mut Vec<BadRecord>,
    ) {
        let opens_value = rest.starts_with('[') || rest.starts_with('{');
        // A JSON-lines file whose first line is cut short (or otherwise
        // broken) lands here too: the parser then reads on into the next
        // lines as if they belonged to it. When the next non-empty line is
        // a complete value of its own, the input is JSON lines: only the
        // first line is broken, and every line after it is read.
        let first_line = rest.split_inclusive('\n').next().unwrap_or(rest);
        let after_first = rest.get(first_line.len()..).unwrap_or_default();
        let single_line_value = first_line.trim().len() > 1;
        let json_lines = single_line_value
            && after_first
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .is_some_and(is_one_value);
        let broken = if json_lines { first_line } else { rest };
        if has_replacement(replaced, begin..begin + broken.len()) || !opens_value {
            // Salvaging would score text with replaced bytes (the line
            // pass below reports them), and a non-value has nothing to
            // salvage.
            bad.push(self.bad(line, &format!("malformed JSON: {e}")));
        } else {
            // Salvage the complete records of a truncated array or
            // envelope; `ingest` reports where it broke.
            self.ingest(broken.trim(), line, bad);
        }
        // Where to read on line by line: after the broken line of a JSON-
        // lines file, after the line the parser gave up on for a value on
        // one line, nowhere for a pretty-printed document (it has nothing
        // to resynchronise to).
        let resync = if json_lines {
            1
        } else if single_line_value {
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
            let l_line = line + i as u64;
            if has_replacement(replaced, span) {
                bad.push(self.bad(l_line, "line holds invalid UTF-8"));
            } else {
                self.ingest(l, l_line, bad);
            }
        }
    }

    /// Reads and ingests the next line of `reader`: in place when the line
    /// lies whole in the reader's buffer, else gathered in `self.buf`. A
    /// first line that is not a JSON value of its own is handed back: the
    /// input is a document, to be read whole once the reader is back.
    ///
    /// A line longer than `max_document_bytes` is reported and passed over
    /// without being held: a sender that never writes a newline must not
    /// grow this buffer until the process is killed.
    fn next_line(
        &mut self,
        reader: &mut dyn BufRead,
        bad: &mut Vec<BadRecord>,
    ) -> Result<Option<String>, InputError> {
        let cap = usize::try_from(self.opts.max_document_bytes).unwrap_or(usize::MAX);
        self.buf.clear();
        // Bytes of an over-long line passed over so far.
        let mut passed_over = 0usize;
        loop {
            let avail = match reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(InputError::Read {
                        path: self.name.clone(),
                        line: self.line_no + 1,
                        source,
                    })
                }
            };
            let newline = memchr::memchr(b'\n', avail);
            let chunk = newline.map_or(avail.len(), |i| i + 1);
            let content = self.buf.len() + newline.unwrap_or(avail.len());
            if passed_over > 0 || content > cap {
                // Over the cap: pass over to the end of the line, then
                // report it once.
                passed_over += self.buf.len() + chunk;
                self.buf.clear();
                reader.consume(chunk);
                if newline.is_some() || chunk == 0 {
                    self.line_no += 1;
                    self.started = true;
                    bad.push(self.bad(self.line_no, &overlong_line(cap, passed_over)));
                    self.done = chunk == 0;
                    return Ok(None);
                }
                continue;
            }
            if avail.is_empty() {
                // End of input: a last line without a newline, or nothing.
                if self.buf.is_empty() {
                    self.done = true;
                    return Ok(None);
                }
                return Ok(self.take_gathered_line(bad));
            }
            match newline {
                Some(i) if self.buf.is_empty() => {
                    let first = self.take_line(&avail[..=i], bad);
                    reader.consume(i + 1);
                    return Ok(first);
                }
                Some(i) => {
                    self.buf.extend_from_slice(&avail[..=i]);
                    reader.consume(i + 1);
                    return Ok(self.take_gathered_line(bad));
                }
                None => {
                    let n = avail.len();
                    self.buf.extend_from_slice(avail);
                    reader.consume(n);
                }
            }
        }
    }

    /// `take_line` on the line gathered in `self.buf`, whose allocation
    /// is kept for the next.
    fn take_gathered_line(&mut self, bad: &mut Vec<BadRecord>) -> Option<String> {
        let owned = std::mem::take(&mut self.buf);
        let first = self.take_line(&owned, bad);
        self.buf = owned;
        first
    }

    /// Ingests one line (its newline included). Returns the line when it
    /// is the input's first and not a value of its own (see `next_line`).
    fn take_line(&mut self, bytes: &[u8], bad: &mut Vec<BadRecord>) -> Option<String> {
        self.line_no += 1;
        let Ok(text) = std::str::from_utf8(bytes) else {
            bad.push(self.bad(self.line_no, "line is not valid UTF-8"));
            return None;
        };
        let line = text.trim();
        if line.is_empty() {
            return None;
        }
        let first = !self.started;
        self.started = true;
        if first && self.opts.format != Format::Native {
            return self.ingest_first(text, line, bad);
        }
        self.ingest(line, self.line_no, bad);
        None
    }

    /// The input's first record line, in a format where it may open a
    /// document (`opens_document`). It is decoded as a line first: a line
    /// that decodes without a bad record is a JSON value of its own (a
    /// decoder accepts exactly one value, as serde_json does), so the input
    /// is JSON lines and the line needed one pass, not two (a CloudTrail
    /// S3 object is one line, often megabytes). Only when the decode
    /// reports a bad record is the line asked whether it is a value; if it
    /// is not, what the decode did is undone and the line is handed back
    /// to be read as the start of a document. Nothing of this input was
    /// decoded before its first record line, so undoing is starting the
    /// windows afresh.
    fn ingest_first(&mut self, text: &str, line: &str, bad: &mut Vec<BadRecord>) -> Option<String> {
        debug_assert!(self.builder.is_empty() && self.ready.is_empty());
        let (bad_before, skipped_before) = (bad.len(), self.skipped);
        self.ingest(line, self.line_no, bad);
        if bad.len() == bad_before || !opens_document(self.opts.format, line) {
            return None;
        }
        bad.truncate(bad_before);
        self.skipped = skipped_before;
        self.ready.clear();
        self.builder = CallBatchBuilder::with_capacity(self.opts.batch_size);
        Some(text.to_string())
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
            // The reader is taken out while a line borrowed from its buffer
            // is decoded (a line that lies whole in the buffer is not
            // copied), and put back before anything else reads from it.
            let mut reader = std::mem::replace(&mut self.reader, Box::new(io::empty()));
            let step = self.next_line(&mut *reader, bad);
            self.reader = reader;
            if let Some(first) = step? {
                self.ingest_document(first, bad)?;
                self.done = true;
            }
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

/// Whether an input whose first record line is `line` (trimmed) is one
/// JSON document to be read whole (a pretty-printed array or envelope)
/// rather than JSON lines: the line is not a value of its own.
pub(super) fn opens_document(format: Format, line: &str) -> bool {
    format != Format::Native && !is_one_value(line)
}

/// For the fuzz harness and the tests: panics when the reader decides
/// otherwise than `opens_document` whether `text`, as an input's first
/// record line, opens a document (`EventReader::ingest_first` decides it
/// from the line's decode).
pub(crate) fn assert_first_line_decision(text: &str) {
    let line = text.trim();
    if line.is_empty() {
        return;
    }
    // Every format, so one added later is checked too (native never opens
    // a document and takes the line straight away).
    let formats = <Format as clap::ValueEnum>::value_variants();
    for &format in formats.iter().filter(|&&f| f != Format::Native) {
        // Small windows: the decision does not depend on where windows
        // break, and the fuzzer calls this on every input.
        let opts = ReadOptions {
            format,
            batch_size: 16,
            ..ReadOptions::default()
        };
        let mut r = EventReader::from_reader("fuzz".into(), Box::new(io::empty()), opts);
        let document = r.ingest_first(text, line, &mut Vec::new()).is_some();
        assert_eq!(
            document,
            opens_document(format, line),
            "{format:?}: the first line's decode decided otherwise: {line:?}"
        );
    }
}

/// Why a line over the cap was passed over (`passed_over` bytes of it, its
/// newline included).
pub(super) fn overlong_line(cap: usize, passed_over: usize) -> String {
    format!(
        "line longer than the {cap}-byte cap ([input] max_document_bytes): \
         its {passed_over} bytes were passed over"
    )
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
