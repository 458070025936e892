//! Tests of `reader.rs`: JSON lines, documents, envelopes, bad bytes.
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

/// A reader whose buffer holds `chunk` bytes, so lines straddle refills.
fn reader_chunked(text: &str, opts: ReadOptions, chunk: usize) -> EventReader {
    EventReader::from_reader(
        "mem".into(),
        Box::new(io::BufReader::with_capacity(
            chunk,
            io::Cursor::new(text.as_bytes().to_vec()),
        )),
        opts,
    )
}

#[test]
fn a_line_past_the_cap_is_passed_over_without_losing_its_neighbours() {
    let good = "{\"ts\":1,\"agent_id\":\"a\",\"action\":\"x\"}";
    let huge = format!("{{\"ts\":1,\"agent_id\":\"{}\"}}", "b".repeat(20_000));
    let opts = ReadOptions {
        max_document_bytes: 4096,
        ..ReadOptions::default()
    };
    // (input, line of the long one, bytes passed over: its newline too)
    let cases = [
        (format!("{good}\n{huge}\n{good}\n"), 2, huge.len() + 1),
        (format!("{good}\n{good}\n{huge}"), 3, huge.len()),
    ];
    for (text, line, passed) in cases {
        for chunk in [7, 1000, 1 << 20] {
            let (n, bad) = drain(&mut reader_chunked(&text, opts.clone(), chunk));
            assert_eq!(n, 2, "chunk {chunk}: {bad:?}");
            assert_eq!(bad.len(), 1, "chunk {chunk}: {bad:?}");
            let reason = &bad[0].error.reason;
            assert!(reason.contains("4096-byte cap"), "{reason}");
            assert!(reason.contains(&format!("its {passed} bytes")), "{reason}");
            assert_eq!(bad[0].error.line, line);
        }
    }
}

#[test]
fn a_line_at_the_cap_is_read() {
    let line = format!(
        "{{\"ts\":1,\"agent_id\":\"a\",\"action\":\"{}\"}}",
        "x".repeat(200)
    );
    let opts = ReadOptions {
        max_document_bytes: line.len() as u64,
        ..ReadOptions::default()
    };
    for text in [format!("{line}\n{line}\n"), format!("{line}\n{line}")] {
        for chunk in [7, 1 << 20] {
            let (n, bad) = drain(&mut reader_chunked(&text, opts.clone(), chunk));
            assert_eq!((n, bad.len()), (2, 0), "chunk {chunk}: {bad:?}");
        }
    }
}

proptest::proptest! {
    /// Where the reader's buffer ends does not change what is read: the
    /// same events and the same bad lines, whether a line lies whole in
    /// the buffer or straddles refills.
    #[test]
    fn refill_boundaries_do_not_change_what_is_read(
        lines in proptest::collection::vec(
            proptest::sample::select(vec![
                "{\"ts\":1,\"agent_id\":\"a\",\"action\":\"x\"}",
                "{\"ts\":2,\"agent_id\":\"b\",\"action\":\"y\",\"resource\":\"arn:aws:s3:::b/k\"}",
                "",
                "   ",
                "{\"ts\":",
                "not json",
                "{\"ts\":3,\"agent_id\":\"\u{e9}\",\"action\":\"z\"}",
            ]),
            0..20,
        ),
        trailing_newline in proptest::bool::ANY,
        invalid_byte_at in proptest::option::of(0usize..20),
        chunk in 1usize..64,
    ) {
        let mut bytes = lines.join("\n").into_bytes();
        if trailing_newline {
            bytes.push(b'\n');
        }
        if let Some(i) = invalid_byte_at.filter(|&i| i < bytes.len()) {
            bytes[i] = 0xff;
        }
        let read = |chunk: usize| {
            let mut r = EventReader::from_reader(
                "mem".into(),
                Box::new(io::BufReader::with_capacity(chunk, io::Cursor::new(bytes.clone()))),
                ReadOptions::default(),
            );
            let (n, bad) = drain(&mut r);
            (n, bad.iter().map(|b| b.to_string()).collect::<Vec<_>>())
        };
        proptest::prop_assert_eq!(read(chunk), read(1 << 20));
    }
}

/// A document whose first line already holds complete records: the
/// line's decode (which hands out those records, and here fills windows
/// of one) is undone before the document is read whole, so each record is
/// read once.
#[test]
fn a_document_whose_first_line_holds_records_reads_each_once() {
    for text in [
        format!("{{\"Records\":[{CT},{CT},\n{CT}]}}\n"),
        format!("[{CT},\n{CT}]\n"),
        format!("\n\n[{CT},{CT},{CT},\n{CT}\n]"),
    ] {
        for batch in [1, 2, 10] {
            let want = text.matches("eventTime").count() as u64;
            let (n, bad) = drain(&mut reader(&text, batch));
            assert_eq!((n, bad.len()), (want, 0), "batch {batch}: {text:?} {bad:?}");
        }
    }
}

/// A one-line object with a bad record is still JSON lines: its good
/// records are kept and the bad one reported once, as before the first
/// line was decided from its decode.
#[test]
fn a_first_line_with_a_bad_record_is_still_json_lines() {
    let broken = r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#;
    let text = format!("{{\"Records\":[{CT},{broken}]}}\n{{\"Records\":[{CT}]}}\n");
    let (n, bad) = drain(&mut reader(&text, 1));
    assert_eq!((n, bad.len()), (2, 1), "{bad:?}");
    assert_eq!((bad[0].error.line, bad[0].error.record), (1, Some(1)));
}

proptest::proptest! {
    /// Whether the first line opens a document is decided from its decode
    /// (`EventReader::ingest_first`) as `opens_document` decides it, for
    /// lines of whole, cut and broken values in every format.
    #[test]
    fn the_first_line_is_judged_as_opens_document_judges_it(
        parts in proptest::collection::vec(
            proptest::sample::select(vec![
                CT,
                "{\"Records\":[",
                "]}",
                "[",
                "]",
                ",",
                "{\"ts\":1,\"agent_id\":\"a\",\"action\":\"x\"}",
                "{\"eventTime\":\"2023",
                "{\"kind\":\"Event\",\"stage\":\"ResponseComplete\",\"verb\":\"get\"}",
                "{\"kind\":\"Event\",\"stage\":\"RequestReceived\"",
                "{\"class_uid\":3001",
                "\"a\"",
                "7",
                "null",
                " ",
                "}",
            ]),
            1..8,
        ),
    ) {
        assert_first_line_decision(&parts.concat());
    }
}
