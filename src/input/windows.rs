//! Every input in order as Arrow windows, with bad records and progress
//! reported: in the caller's thread (`read_windows`), or decoded on a
//! thread of its own while the caller works on the windows before
//! (`read_windows_ahead`). Both report the same things in the same order.

use super::files::{expand_inputs, total_bytes, InputSpec};
use super::parallel::decode_lines;
use super::reader::{open_raw, BadRecord, EventReader, ReadOptions};
use super::{InputError, ReadObserver, ReadTotals, SuspectInput};
use arrow_array::RecordBatch;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

/// Windows decoded ahead and not yet taken.
const AHEAD: usize = 4;

/// What decoding one input yields, in order.
enum Read {
    /// A window, the bad records found while decoding it, and the raw
    /// bytes read so far.
    Window(RecordBatch, Vec<BadRecord>, u64),
    /// The end of an input: its last bad records and deliberate skips.
    End {
        input: String,
        bad: Vec<BadRecord>,
        skipped: u64,
    },
}

/// Decodes every input in `specs`, handing each step to `send`: a JSON-lines
/// input on `decoders` threads when that is more than one
/// (`parallel::decode_lines`), anything else on this one.
fn produce<E: From<InputError>>(
    specs: &[InputSpec],
    read_opts: &ReadOptions,
    decoders: usize,
    send: &mut dyn FnMut(Read) -> Result<(), E>,
) -> Result<(), E> {
    let bytes_read = Arc::new(AtomicU64::new(0));
    for spec in specs {
        if decoders > 1 && spec.parquet_path().is_none() {
            let (name, reader) = open_raw(spec, bytes_read.clone())?;
            let mut skipped = 0;
            let mut bad = Vec::new();
            let whole = decode_lines::<E>(name, reader, read_opts, decoders, &mut |run| {
                skipped += run.skipped;
                bad.extend(run.bad);
                for w in run.windows {
                    let read = bytes_read.load(Ordering::Relaxed);
                    send(Read::Window(w, std::mem::take(&mut bad), read))?;
                }
                Ok(())
            })?;
            match whole {
                // Read whole after runs of blank or non-UTF-8 lines: their
                // bad records go first (they hold no record, so none was
                // skipped).
                Some(reader) => read_one(spec, reader, bad, &bytes_read, send)?,
                None => send(Read::End {
                    input: spec.name(),
                    bad,
                    skipped,
                })?,
            }
        } else {
            let reader = EventReader::open(spec, read_opts.clone(), bytes_read.clone())?;
            read_one(spec, reader, Vec::new(), &bytes_read, send)?;
        }
    }
    Ok(())
}

/// Decodes one input on this thread; `bad` holds the input's bad records
/// found before.
fn read_one<E: From<InputError>>(
    spec: &InputSpec,
    mut reader: EventReader,
    mut bad: Vec<BadRecord>,
    bytes_read: &AtomicU64,
    send: &mut dyn FnMut(Read) -> Result<(), E>,
) -> Result<(), E> {
    while let Some(batch) = reader.next_batch(&mut bad)? {
        let read = bytes_read.load(Ordering::Relaxed);
        send(Read::Window(batch, std::mem::take(&mut bad), read))?;
    }
    send(Read::End {
        input: spec.name(),
        bad,
        skipped: reader.skipped,
    })
}

/// Counts what the inputs yielded and reports it to the observer.
struct Tally<'o> {
    totals: ReadTotals,
    observer: &'o mut dyn ReadObserver,
    rows_before: u64,
    bad_before: u64,
}

impl Tally<'_> {
    fn bad(&mut self, bad: Vec<BadRecord>) {
        for b in bad {
            self.totals.decode_errors += 1;
            self.observer.bad_record(&b);
        }
    }

    fn take<E>(
        &mut self,
        step: Read,
        window: &mut dyn FnMut(&RecordBatch) -> Result<(), E>,
    ) -> Result<(), E> {
        match step {
            Read::Window(batch, bad, bytes) => {
                self.bad(bad);
                window(&batch)?;
                self.totals.rows += batch.num_rows() as u64;
                self.observer.progress(bytes, self.totals.rows);
            }
            Read::End {
                input,
                bad,
                skipped,
            } => {
                self.bad(bad);
                let t = &mut self.totals;
                t.skipped_records += skipped;
                let calls = t.rows - self.rows_before;
                let bad_records = t.decode_errors - self.bad_before;
                let all_skipped = calls == 0 && bad_records == 0 && skipped > 0;
                if (calls == 0 && !all_skipped) || bad_records > calls {
                    t.suspect_inputs.push(SuspectInput {
                        input,
                        calls,
                        bad_records,
                    });
                }
                self.rows_before = t.rows;
                self.bad_before = t.decode_errors;
            }
        }
        Ok(())
    }
}

fn start<'o>(
    inputs: &[String],
    observer: &'o mut dyn ReadObserver,
) -> Result<(Vec<InputSpec>, Tally<'o>), InputError> {
    let specs = expand_inputs(inputs)?;
    if specs.is_empty() {
        return Err(InputError::NoInputs);
    }
    observer.started(total_bytes(&specs));
    let totals = ReadTotals {
        inputs: specs.len(),
        ..ReadTotals::default()
    };
    let tally = Tally {
        totals,
        observer,
        rows_before: 0,
        bad_before: 0,
    };
    Ok((specs, tally))
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
    let (specs, mut tally) = start(inputs, observer)?;
    produce(&specs, read_opts, 1, &mut |step| tally.take(step, window))?;
    tally.observer.finished();
    Ok(tally.totals)
}

/// Why the decoding thread stopped early.
enum Stop {
    Input(InputError),
    /// The caller stopped taking windows (its own error is returned).
    Dropped,
}

impl From<InputError> for Stop {
    fn from(e: InputError) -> Self {
        Stop::Input(e)
    }
}

/// As `read_windows`, with decoding on threads of its own (`decoders` of
/// them for JSON lines, one for anything else), up to `AHEAD` windows ahead
/// of `window`. The calls, bad records and totals are those of
/// `read_windows`; only where windows break may differ.
pub(crate) fn read_windows_ahead<E: From<InputError>>(
    inputs: &[String],
    read_opts: &ReadOptions,
    decoders: usize,
    observer: &mut dyn ReadObserver,
    window: &mut dyn FnMut(&RecordBatch) -> Result<(), E>,
) -> Result<ReadTotals, E> {
    let (specs, mut tally) = start(inputs, observer)?;
    let (tx, rx) = sync_channel::<Result<Read, InputError>>(AHEAD);
    std::thread::scope(|s| {
        let decoder = s.spawn(|| {
            let tx = tx;
            let sent = produce::<Stop>(&specs, read_opts, decoders, &mut |step| {
                tx.send(Ok(step)).map_err(|_| Stop::Dropped)
            });
            if let Err(Stop::Input(e)) = sent {
                // The caller may have gone: nothing more to tell then.
                let _ = tx.send(Err(e));
            }
        });
        let taken = rx.iter().try_for_each(|step| match step {
            Ok(step) => tally.take(step, window),
            Err(e) => Err(E::from(e)),
        });
        // Stops the decoder if the windows were not all taken.
        drop(rx);
        decoder.join().expect("the decoding thread panicked");
        taken
    })?;
    tally.observer.finished();
    Ok(tally.totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything an observer and a window see, in order.
    #[derive(Default)]
    struct Seen(Vec<String>);

    impl ReadObserver for Seen {
        fn started(&mut self, total: Option<u64>) {
            self.0.push(format!("started {total:?}"));
        }
        fn progress(&mut self, bytes: u64, events: u64) {
            self.0.push(format!("progress {bytes} {events}"));
        }
        fn bad_record(&mut self, bad: &BadRecord) {
            self.0.push(format!("bad {bad}"));
        }
        fn finished(&mut self) {
            self.0.push("finished".into());
        }
    }

    fn inputs(dir: &std::path::Path) -> Vec<String> {
        let good = |i: u32| {
            format!(
                r#"{{"ts":"2026-11-20T00:00:{:02}Z","agent_id":"a{i}","action":"s3:GetObject"}}"#,
                i % 60
            )
        };
        let mut first: Vec<String> = (0..250).map(good).collect();
        first.insert(7, "{not json".into());
        first.insert(
            120,
            r#"{"ts":"yesterday","agent_id":"a","action":"x"}"#.into(),
        );
        let empty = dir.join("b-empty.jsonl");
        std::fs::write(dir.join("a.jsonl"), first.join("\n")).unwrap();
        std::fs::write(&empty, "").unwrap();
        std::fs::write(dir.join("c.jsonl"), good(1)).unwrap();
        ["a.jsonl", "b-empty.jsonl", "c.jsonl"]
            .iter()
            .map(|n| dir.join(n).display().to_string())
            .collect()
    }

    #[test]
    fn reading_ahead_reports_what_reading_in_place_does() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = inputs(dir.path());
        let opts = ReadOptions {
            batch_size: 64,
            ..ReadOptions::default()
        };
        let run = |ahead: bool| {
            let mut seen = Seen::default();
            let mut windows = Vec::new();
            let mut window = |b: &RecordBatch| {
                windows.push(b.clone());
                Ok::<(), InputError>(())
            };
            let t = if ahead {
                read_windows_ahead(&inputs, &opts, 1, &mut seen, &mut window)
            } else {
                read_windows(&inputs, &opts, &mut seen, &mut window)
            }
            .unwrap();
            (seen.0, windows, format!("{t:?}"))
        };
        let (here, ahead) = (run(false), run(true));
        assert!(here.0.iter().filter(|s| s.starts_with("bad")).count() == 2);
        assert!(
            here.2.contains("b-empty"),
            "the empty input is suspect: {}",
            here.2
        );
        assert_eq!(here, ahead);
    }

    /// Every kind of input through several decoding threads: the same
    /// calls in the same order, bad records, suspects and totals as one
    /// thread reading in place (windows break elsewhere, and progress is
    /// reported per window).
    #[test]
    fn decoding_on_several_threads_reports_what_one_thread_does() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let mut all = inputs(dir.path());
        let lines: Vec<String> = (0..3000)
            .map(|i| {
                format!(
                    r#"{{"ts":"2026-11-21T00:00:{:02}Z","agent_id":"g{}","action":"s3:PutObject"}}"#,
                    i % 60,
                    i % 13
                )
            })
            .collect();
        let gz = dir.path().join("d.jsonl.gz");
        let mut enc = GzEncoder::new(std::fs::File::create(&gz).unwrap(), Compression::fast());
        enc.write_all(lines.join("\n").as_bytes()).unwrap();
        enc.finish().unwrap();
        // A document after a line that is not UTF-8 and more than a run of
        // blank lines: the bad line is reported from a run of its own, then
        // the document is read whole.
        let doc = dir.path().join("e.json");
        let mut text = b"\xff\xfe\n".to_vec();
        text.resize(text.len() + (3 << 19), b'\n');
        text.extend(format!("[\n{},\n{}\n]\n", lines[0], lines[1]).bytes());
        std::fs::write(&doc, text).unwrap();
        all.extend([gz, doc].iter().map(|p| p.display().to_string()));
        let opts = ReadOptions {
            batch_size: 64,
            ..ReadOptions::default()
        };
        let run = |decoders: usize| {
            let mut seen = Seen::default();
            let mut windows = Vec::new();
            let mut window = |b: &RecordBatch| {
                windows.push(b.clone());
                Ok::<(), InputError>(())
            };
            let t = if decoders == 0 {
                read_windows(&all, &opts, &mut seen, &mut window)
            } else {
                read_windows_ahead(&all, &opts, decoders, &mut seen, &mut window)
            }
            .unwrap();
            seen.0.retain(|s| !s.starts_with("progress"));
            let calls =
                datafusion::arrow::compute::concat_batches(&windows[0].schema(), &windows).unwrap();
            (seen.0, calls, format!("{t:?}"))
        };
        let one = run(0);
        assert_eq!(one.1.num_rows(), 250 + 1 + 3000 + 2);
        assert!(
            one.0
                .iter()
                .any(|s| s.starts_with("bad") && s.contains("e.json")),
            "the line before the document is reported: {:?}",
            one.0
        );
        for decoders in [2, 3] {
            assert_eq!(run(decoders), one, "{decoders} decoding threads");
        }
    }

    #[test]
    fn a_window_that_fails_stops_the_reading_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = inputs(dir.path());
        let opts = ReadOptions {
            batch_size: 8,
            ..ReadOptions::default()
        };
        let mut taken = 0;
        let r = read_windows_ahead(&inputs, &opts, 1, &mut Seen::default(), &mut |_| {
            taken += 1;
            match taken {
                3 => Err(InputError::NoInputs),
                _ => Ok(()),
            }
        });
        assert!(matches!(r, Err(InputError::NoInputs)));
        assert_eq!(taken, 3, "no window after the one that failed");
    }
}
