use super::*;
use datafusion::arrow::compute::concat_batches;
use proptest::prelude::*;

/// What one thread makes of `bytes`: its calls as one window, its bad
/// records, its skips.
fn one_thread(bytes: &[u8], opts: &ReadOptions) -> (Option<RecordBatch>, Vec<BadRecord>, u64) {
    let mut r = EventReader::from_reader(
        "in.jsonl".into(),
        Box::new(io::Cursor::new(bytes.to_vec())),
        opts.clone(),
    );
    let mut bad = Vec::new();
    let mut windows = Vec::new();
    while let Some(w) = r.next_batch(&mut bad).unwrap() {
        windows.push(w);
    }
    (joined(&windows), bad, r.skipped)
}

/// The same through `decode_lines_in_runs` with pieces of `run` bytes,
/// and whether the input was handed back to be read whole (which is then
/// read to the end as `warden` reads it).
fn in_runs(
    bytes: &[u8],
    opts: &ReadOptions,
    run: usize,
    workers: usize,
) -> ((Option<RecordBatch>, Vec<BadRecord>, u64), bool) {
    let (mut windows, mut bad, mut skipped) = (Vec::new(), Vec::new(), 0);
    let whole = decode_lines_in_runs::<InputError>(
        run,
        "in.jsonl".into(),
        Box::new(io::Cursor::new(bytes.to_vec())),
        opts,
        workers,
        &mut |r| {
            windows.extend(r.windows);
            bad.extend(r.bad);
            skipped += r.skipped;
            Ok(())
        },
    )
    .unwrap();
    let handed_back = whole.is_some();
    if let Some(mut r) = whole {
        while let Some(w) = r.next_batch(&mut bad).unwrap() {
            windows.push(w);
        }
        skipped += r.skipped;
    }
    ((joined(&windows), bad, skipped), handed_back)
}

fn joined(windows: &[RecordBatch]) -> Option<RecordBatch> {
    let first = windows.first()?;
    Some(concat_batches(&first.schema(), windows).unwrap())
}

fn call(i: usize) -> String {
    format!(
        r#"{{"ts":"2026-11-20T00:{:02}:{:02}Z","agent_id":"agent-{}","action":"s3:GetObject","resource":"arn:aws:s3:::b/{i}"}}"#,
        (i / 60) % 60,
        i % 60,
        i % 7
    )
}

/// Lines of every kind one thread reports or passes over.
fn mixed_lines() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = (0..400).map(|i| call(i).into_bytes()).collect();
    lines[3] = b"{not json".to_vec();
    lines[50] = b"".to_vec();
    lines[51] = b"   ".to_vec();
    lines[90] = vec![b'{', 0xff, 0xfe, b'}'];
    lines[120] = br#"{"ts":"yesterday","agent_id":"a","action":"x"}"#.to_vec();
    lines[200] = format!(
        r#"{{"pad":"{}","agent_id":"a","action":"x"}}"#,
        "x".repeat(3000)
    )
    .into_bytes();
    lines
}

#[test]
fn runs_decode_as_one_thread_does() {
    let opts = ReadOptions {
        batch_size: 64,
        max_document_bytes: 2048,
        ..ReadOptions::default()
    };
    let mut text = mixed_lines().join(&b'\n');
    for tail in [false, true] {
        if tail {
            text.push(b'\n'); // the last line with its newline, too
        }
        let expected = one_thread(&text, &opts);
        assert_eq!(expected.1.len(), 4, "{:?}", expected.1);
        for (run, workers) in [(1, 2), (100, 3), (700, 2), (5000, 4), (1 << 20, 2)] {
            let (got, handed_back) = in_runs(&text, &opts, run, workers);
            assert!(!handed_back);
            assert_eq!(got, expected, "runs of {run} bytes on {workers} workers");
        }
    }
}

#[test]
fn a_document_is_handed_back_to_be_read_whole() {
    let opts = ReadOptions::default();
    let doc = format!(
        "[\n  {},\n  {{\"agent_id\": 7}},\n  {}\n]\n",
        call(1),
        call(2)
    );
    let (got, handed_back) = in_runs(doc.as_bytes(), &opts, 8, 2);
    assert!(handed_back);
    assert_eq!(got, one_thread(doc.as_bytes(), &opts));
    assert_eq!(got.1.len(), 1, "its bad element is reported once");
    // The first record line decides, as with one thread: blank lines and a
    // line that is not UTF-8 before it do not, and the lines of a document
    // after them keep their numbers.
    let mut lines = [
        b"".to_vec(),
        vec![0xff],
        call(1).into_bytes(),
        b"[".to_vec(),
    ];
    for handed in [false, true] {
        if handed {
            lines.swap(2, 3);
            lines[3] = b"{\"agent_id\": 7}]".to_vec();
        }
        let text = lines.join(&b'\n');
        for run in [1, 4, 100] {
            let (got, handed_back) = in_runs(&text, &opts, run, 2);
            assert_eq!(handed_back, handed, "runs of {run}");
            assert_eq!(got, one_thread(&text, &opts), "runs of {run}");
        }
    }
}

#[test]
fn a_line_over_the_cap_is_passed_over_without_being_held() {
    let opts = ReadOptions {
        max_document_bytes: 200,
        ..ReadOptions::default()
    };
    let long = "y".repeat(10_000);
    for text in [
        format!("{}\n{long}\n{}\n", call(1), call(2)),
        format!("{long}\n{}\n", call(1)),
        format!("{}\n{long}", call(1)),
    ] {
        let expected = one_thread(text.as_bytes(), &opts);
        assert_eq!(expected.1.len(), 1, "{text:.40}");
        assert!(expected.0.is_some(), "the calls beside it are read");
        for run in [10, 64, 4096] {
            let (got, handed_back) = in_runs(text.as_bytes(), &opts, run, 2);
            assert!(!handed_back);
            assert_eq!(got, expected, "runs of {run}: {text:.40}");
        }
    }
}

#[test]
fn a_taker_that_stops_stops_the_decoding() {
    let text = (0..5000).map(call).collect::<Vec<_>>().join("\n");
    let mut taken = 0;
    let r = decode_lines_in_runs::<InputError>(
        256,
        "in.jsonl".into(),
        Box::new(io::Cursor::new(text.into_bytes())),
        &ReadOptions::default(),
        2,
        &mut |_| {
            taken += 1;
            match taken {
                3 => Err(InputError::NoInputs),
                _ => Ok(()),
            }
        },
    );
    assert!(matches!(r, Err(InputError::NoInputs)));
    assert_eq!(taken, 3, "no run after the one that failed");
}

/// A line of the generated inputs.
fn any_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (0usize..500).prop_map(|i| call(i).into_bytes()),
        1 => Just(b"".to_vec()),
        1 => Just(b"{\"agent_id\":".to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => (0usize..400).prop_map(|n| format!(r#"{{"agent_id":"a","action":"x","p":"{}"}}"#, "z".repeat(n)).into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any mix of lines, any run size, any cap: the same calls, bad
    /// records and skips as one thread, whether read in runs or handed
    /// back as a document.
    #[test]
    fn any_input_decodes_as_one_thread_does(
        lines in proptest::collection::vec(any_line(), 0..120),
        newline_at_end in any::<bool>(),
        run in 1usize..3000,
        cap in 60u64..600,
        workers in 1usize..4,
    ) {
        let mut text = lines.join(&b'\n');
        if newline_at_end {
            text.push(b'\n');
        }
        let opts = ReadOptions { batch_size: 16, max_document_bytes: cap, ..ReadOptions::default() };
        let (got, handed_back) = in_runs(&text, &opts, run, workers);
        prop_assert_eq!(got, one_thread(&text, &opts));
        let first = text
            .split(|b| *b == b'\n')
            .filter_map(|l| std::str::from_utf8(l).ok())
            .map(str::trim)
            .find(|l| !l.is_empty());
        // Handed back only as a document; a line over the cap before the
        // first record line settles it as JSON lines, as one thread does.
        if handed_back {
            prop_assert!(first.is_some_and(|l| opens_document(opts.format, l)));
        }
    }
}
