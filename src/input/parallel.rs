//! One JSON-lines input decoded on several threads.
//!
//! Decoding is most of what replay spends per call, so a single decoding
//! thread caps how many engine threads can be kept busy, however many
//! cores there are. Here a splitter cuts the input into runs of whole lines
//! (about `RUN_BYTES` each) and numbers their first lines; workers decode
//! the runs with the same `EventReader` one thread uses, so every record,
//! bad line and skip comes out as it would there; and the runs' output is
//! put back in input order. Calls are numbered by their position in the
//! input, never by window (`engine::global`), so where windows break does
//! not change what is scored.
//!
//! Whether an input is one JSON document (a pretty-printed CloudTrail
//! array) is decided by its first record line, as one thread decides it;
//! such an input is handed back to be read whole on one thread.

use super::reader::{buffered, opens_document, overlong_line, BadRecord, EventReader, ReadOptions};
use super::InputError;
use crate::adapt::latest_ts_from_now;
use crate::event::DecodeError;
use arrow_array::RecordBatch;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

/// Bytes of input per run: a little over half a 4,096-call window of the
/// canonical call event, so most runs make one window.
const RUN_BYTES: usize = 1 << 20;

/// What a run of the input decoded to, handed on in input order.
#[derive(Debug, Default)]
pub(super) struct DecodedRun {
    /// Its windows of good calls.
    pub windows: Vec<RecordBatch>,
    /// Its bad records, in order.
    pub bad: Vec<BadRecord>,
    /// Its records deliberately not scored.
    pub skipped: u64,
}

/// A piece of the input, in input order.
enum Piece {
    /// Whole lines; the first is line `first_line` of the input.
    Lines { first_line: u64, bytes: Vec<u8> },
    /// A line over `[input] max_document_bytes`, passed over unread.
    Overlong(BadRecord),
    /// Reading the input failed here.
    Failed(InputError),
}

/// Cuts an input into pieces of whole lines.
struct Splitter {
    name: String,
    /// Read without a buffer of its own: reads go straight into pieces.
    reader: Box<dyn Read + Send>,
    /// Bytes a piece is cut at (the line that crosses it included).
    run_bytes: usize,
    cap: usize,
    /// Lines cut so far.
    lines: u64,
    /// The start of the line after the last piece.
    carry: Vec<u8>,
    eof: bool,
}

impl Splitter {
    /// Reads until `buf` holds `want` bytes or the input ends, straight
    /// into `buf` (the bytes it grows by are zeroed first: cheaper than
    /// copying them through a read buffer).
    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> Result<(), InputError> {
        while buf.len() < want && !self.eof {
            let held = buf.len();
            buf.resize(want, 0);
            let read = self.reader.read(&mut buf[held..]);
            buf.truncate(held + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(InputError::Read {
                        path: self.name.clone(),
                        line: self.lines + 1,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// The next piece; `None` at the end of the input.
    fn next_piece(&mut self) -> Option<Piece> {
        let mut buf = std::mem::take(&mut self.carry);
        let mut want = self.run_bytes.max(buf.len() + 1);
        // Bytes of `buf` known to hold no newline (a line longer than a run
        // is scanned once, not once per refill).
        let mut scanned = 0;
        loop {
            if let Err(e) = self.fill(&mut buf, want) {
                return Some(Piece::Failed(e));
            }
            if let Some(i) = memchr::memrchr(b'\n', &buf[scanned..]) {
                let end = scanned + i + 1;
                self.carry = buf[end..].to_vec();
                buf.truncate(end);
                break;
            }
            if self.eof {
                break;
            }
            if buf.len() > self.cap {
                return Some(self.pass_over(buf.len()));
            }
            scanned = buf.len();
            want = buf.len() + self.run_bytes;
        }
        if buf.is_empty() {
            return None;
        }
        let first_line = self.lines + 1;
        self.lines += memchr::memchr_iter(b'\n', &buf).count() as u64;
        if buf.last() != Some(&b'\n') {
            self.lines += 1; // the input's last line, without a newline
        }
        Some(Piece::Lines {
            first_line,
            bytes: buf,
        })
    }

    /// Passes over the rest of a line of which `held` bytes were read and
    /// are over the cap, without holding it, and reports it as one thread
    /// does. What follows the line's end is kept for the next piece.
    fn pass_over(&mut self, held: usize) -> Piece {
        let mut passed_over = held;
        let mut scratch = Vec::new();
        loop {
            scratch.clear();
            if let Err(e) = self.fill(&mut scratch, self.run_bytes) {
                return Piece::Failed(e);
            }
            if let Some(i) = memchr::memchr(b'\n', &scratch) {
                passed_over += i + 1;
                self.carry = scratch[i + 1..].to_vec();
                break;
            }
            passed_over += scratch.len();
            if self.eof {
                break;
            }
        }
        self.lines += 1;
        Piece::Overlong(BadRecord {
            input: self.name.clone(),
            error: DecodeError {
                line: self.lines,
                record: None,
                field: None,
                reason: overlong_line(self.cap, passed_over),
            },
        })
    }
}

/// Whether an input is one JSON document, decided by its first record line
/// as `EventReader` decides it (lines that are blank or not UTF-8 do not
/// count); `None` if `bytes`, the input's next whole lines, hold none.
fn is_document(opts: &ReadOptions, bytes: &[u8]) -> Option<bool> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| opens_document(opts.format, l))
}

fn decode(
    name: &str,
    piece: Piece,
    opts: &ReadOptions,
    latest_ts_ms: i64,
) -> Result<DecodedRun, InputError> {
    match piece {
        Piece::Lines { first_line, bytes } => {
            let mut r =
                EventReader::for_lines(name.into(), bytes, opts.clone(), first_line, latest_ts_ms);
            let mut run = DecodedRun::default();
            while let Some(w) = r.next_batch(&mut run.bad)? {
                run.windows.push(w);
            }
            run.skipped = r.skipped;
            Ok(run)
        }
        Piece::Overlong(bad) => Ok(DecodedRun {
            bad: vec![bad],
            ..DecodedRun::default()
        }),
        Piece::Failed(e) => Err(e),
    }
}

/// Decodes the JSON-lines input `name` from `reader` on `workers` threads,
/// handing each run's output to `take` in input order. Returns the input
/// to be read whole on one thread instead when it is one JSON document.
pub(super) fn decode_lines<E: From<InputError>>(
    name: String,
    reader: Box<dyn Read + Send>,
    opts: &ReadOptions,
    workers: usize,
    take: &mut dyn FnMut(DecodedRun) -> Result<(), E>,
) -> Result<Option<EventReader>, E> {
    decode_lines_in_runs(RUN_BYTES, name, reader, opts, workers, take)
}

/// `decode_lines`, with pieces cut at `run_bytes`.
fn decode_lines_in_runs<E: From<InputError>>(
    run_bytes: usize,
    name: String,
    reader: Box<dyn Read + Send>,
    opts: &ReadOptions,
    workers: usize,
    take: &mut dyn FnMut(DecodedRun) -> Result<(), E>,
) -> Result<Option<EventReader>, E> {
    let latest_ts_ms = latest_ts_from_now(opts.max_future_skew_ms);
    let mut splitter = Splitter {
        name: name.clone(),
        reader,
        run_bytes: run_bytes.max(1),
        cap: usize::try_from(opts.max_document_bytes).unwrap_or(usize::MAX),
        lines: 0,
        carry: Vec::new(),
        eof: false,
    };
    // The first record line decides whether the input is one document.
    // Pieces before it hold only blank lines and lines that are not UTF-8,
    // read alike either way: they are decoded here and not held. A line
    // over the cap decides too: one thread takes what follows it for JSON
    // lines.
    let first = loop {
        match splitter.next_piece() {
            Some(Piece::Lines { first_line, bytes }) => match is_document(opts, &bytes) {
                None => take(decode(
                    &name,
                    Piece::Lines { first_line, bytes },
                    opts,
                    latest_ts_ms,
                )?)?,
                Some(false) => break Some(Piece::Lines { first_line, bytes }),
                Some(true) => {
                    // Nothing of this piece was decoded yet: the reader
                    // starts again from its first line.
                    let mut again = bytes;
                    again.append(&mut splitter.carry);
                    let rest = io::Cursor::new(again).chain(splitter.reader);
                    let whole =
                        EventReader::from_reader(name, buffered(Box::new(rest)), opts.clone());
                    return Ok(Some(whole.at_line(first_line)));
                }
            },
            other => break other,
        }
    };
    let workers = workers.max(1);
    std::thread::scope(|s| {
        let (work_tx, work_rx) = sync_channel::<(u64, Piece)>(workers);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, done_rx) = channel::<(u64, Option<Decoded>)>();
        // Pieces cut and not yet taken in order: bounds the memory a slow
        // piece lets the others pile up behind it.
        let (slot_tx, slot_rx) = sync_channel::<()>(2 * workers + 2);
        for _ in 0..workers {
            let (work_rx, name) = (work_rx.clone(), &name);
            let done = WorkerDone(done_tx.clone());
            s.spawn(move || loop {
                let job = work_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok((seq, piece)) = job else { break };
                let run = decode(name, piece, opts, latest_ts_ms);
                if done.0.send((seq, Some(run))).is_err() {
                    break;
                }
            });
        }
        drop((work_rx, done_tx));
        s.spawn(move || {
            let pieces = first
                .into_iter()
                .chain(std::iter::from_fn(|| splitter.next_piece()));
            for (seq, piece) in (0u64..).zip(pieces) {
                if slot_tx.send(()).is_err() || work_tx.send((seq, piece)).is_err() {
                    break; // the taker stopped
                }
            }
        });
        in_order(done_rx, slot_rx, take)
    })?;
    Ok(None)
}

/// A run as a worker decoded it.
type Decoded = Result<DecodedRun, InputError>;

/// A worker's end of the channel of decoded runs. A worker that panics
/// says so on it: the run it held would never come, and the others would
/// wait for it for ever.
struct WorkerDone(Sender<(u64, Option<Decoded>)>);

impl Drop for WorkerDone {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.0.send((u64::MAX, None));
        }
    }
}

/// Hands the decoded runs to `take` by sequence number. Returning drops
/// both receivers, which stops the splitter and the workers.
fn in_order<E: From<InputError>>(
    done: Receiver<(u64, Option<Decoded>)>,
    slots: Receiver<()>,
    take: &mut dyn FnMut(DecodedRun) -> Result<(), E>,
) -> Result<(), E> {
    let mut waiting = BTreeMap::new();
    let mut next = 0u64;
    for (seq, run) in done {
        // The worker's own panic is what the caller sees (the scope
        // rethrows it once every thread has stopped).
        let Some(run) = run else { break };
        waiting.insert(seq, run);
        while let Some(run) = waiting.remove(&next) {
            next += 1;
            let _ = slots.recv();
            take(run?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "parallel_tests.rs"]
mod tests;
