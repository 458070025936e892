use super::super::decode::decode_with_serde;
use super::super::decode_line;
use super::super::CALL_EVENT_FIELDS;
use super::*;
use proptest::prelude::*;

const LINE: &str = r#"{"ts":"2026-11-20T00:00:02.551Z","agent_id":"key-globex-011-473d","action":"GET /v1/orders/{id}","agent_type":"api_key","tenant":"tenant-globex","session_id":"key_76762ffdc8c77e2f7ba0","resource":"/v1/orders/878","src_ip":"198.19.15.12","user_agent":"PartnerSync/3.2","event_id":"evt-b86e2188a2a29c0a","outcome":"success","status":200,"latency_ms":46.1,"bytes_out":221,"bytes_in":290}"#;

/// The scanner's answer for `line`, checked against the serde path (as the
/// fuzz harness checks it): when it accepts a line, serde decodes the same
/// event, bit for bit.
fn agreed(line: &str) -> Option<CallEvent<'_>> {
    assert_agrees_with_serde(line);
    decode_plain(line)
}

#[test]
fn the_common_shape_is_scanned_and_borrowed() {
    let ev = agreed(LINE).expect("a simulator line is the common shape");
    assert!(matches!(ev.agent_id, Cow::Borrowed(_)));
    assert_eq!(ev.status, Some(200));
    assert_eq!(ev.bytes_in, Some(290));
    let spaced = " {\n\t\"ts\" : 5 ,\"agent_id\":\"a\",\r\n\"action\":\"b\", \"x\" : [ ] ,\"label\":\"benign\"} ";
    assert!(agreed(spaced).is_none(), "an array is the serde path's");
    let spaced = " {\n\t\"ts\" : 5 ,\"agent_id\":\"a\",\r\n\"action\":\"b\", \"x\" : true ,\"label\":\"benign\"} ";
    let ev = agreed(spaced).unwrap();
    assert_eq!(ev.label, None);
    assert_eq!(ev.extra.as_deref(), Some(r#"{"x":true}"#));
}

#[test]
fn anything_else_is_left_to_serde() {
    for line in [
        "",
        "{}",
        "[1]",
        r#"{"ts":1,"agent_id":"a\"b","action":"x"}"#, // an escape
        r#"{"t\u0073":1,"agent_id":"a","action":"x"}"#, // an escaped key
        r#"{"ts":1,"agent_id":"a","action":"x","n":{"a":1}}"#, // nested
        r#"{"ts":1,"ts":2,"agent_id":"a","action":"x"}"#, // repeated
        r#"{"ts":1,"agent_id":"","action":"x"}"#,     // empty
        r#"{"ts":1,"action":"x"}"#,                   // missing
        r#"{"ts":1.0,"agent_id":"a","action":"x"}"#,  // serde accepts, differently
        r#"{"ts":1,"agent_id":"a","action":"x","bytes_out":1e400}"#,
        r#"{"ts":1,"agent_id":"a","action":"x","bytes_out":-1}"#,
        r#"{"ts":1,"agent_id":"a","action":"x","status":2.5}"#,
        r#"{"ts":1,"agent_id":"a","action":"x","status":01}"#,
        r#"{"ts":1,"agent_id":"a","action":"x","outcome":"maybe"}"#,
        "{\"ts\":1,\"agent_id\":\"a\u{1}\",\"action\":\"x\"}", // a raw control character
        r#"{"ts":1,"agent_id":"a","action":"x"} trailing"#,
        r#"{"ts":1,"agent_id":"a","action":"x",}"#,
        r#"{"ts":1,"agent_id":"a","action":"x""#,
        r#"{"ts":nul,"agent_id":"a","action":"x"}"#,
        r#"{"ts":1,"agent_id":"a","action":"x","status":-0}"#, // a float to serde
    ] {
        assert!(agreed(line).is_none(), "{line}");
        // And decode_line says what serde says.
        assert_eq!(decode_line(line, 3), decode_with_serde(line, 3), "{line}");
    }
}

#[test]
fn numbers_convert_as_serde_json_converts_them() {
    for (lit, want) in [
        ("-0", Some(-0.0f64)),
        ("-0.0", Some(-0.0)),
        ("0e7", Some(0.0)),
        ("46.1", Some(46.1)),
        ("1.7976931348623157e308", Some(f64::MAX)),
        ("18446744073709551615", Some(u64::MAX as f64)),
        ("2.5E-3", Some(0.0025)),
    ] {
        let line = format!(r#"{{"ts":1,"agent_id":"a","action":"x","latency_ms":{lit}}}"#);
        let ev = agreed(&line).expect(lit);
        assert_eq!(
            ev.latency_ms.map(f64::to_bits),
            want.map(f64::to_bits),
            "{lit}"
        );
    }
}

/// A value as it may be written for any field: of the right type or not,
/// with escapes, odd numbers and nulls.
fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 :/._{}-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        1 => "[a-z\"\\\\\u{e9}\u{1F600}\u{1}]{0,6}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => proptest::sample::select(vec![
            "\"ai_agent\"", "\"api_key\"", "\"denied\"", "\"error\"", "\"success\"",
            "\"benign\"", "\"\"", "\"2026-11-20T00:00:02.551Z\"", "\"2026-13-01T00:00:00Z\"",
        ]).prop_map(String::from),
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        2 => any::<f64>().prop_map(|f| format!("{f:e}")),
        1 => any::<f64>().prop_map(|f| format!("{f}")),
        1 => proptest::sample::select(vec![
            "null", "true", "false", "-0", "-0.0", "0.000", "1e-400", "1e400", "01", "1.",
            ".5", "-", "+1", "1e", "1E+2", "[1,2]", "{\"a\":1}", "nul", "99999999999999999999",
            "-9223372036854775809", "9223372036854775807", "4.1e1",
        ]).prop_map(String::from),
    ]
}

fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(CALL_EVENT_FIELDS.to_vec()).prop_map(String::from),
        1 => "[a-z_]{1,8}",
        1 => Just("t\\u0073".to_string()),
    ]
}

fn ws() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec!["", "", "", " ", "\n", "\t ", "\r\n"])
}

/// A line: a few required fields (so many lines decode) and random others.
fn any_line() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((any_key(), any_value(), ws(), ws()), 0..20),
        any::<bool>(),
        ws(),
    )
        .prop_map(|(fields, with_required, pad)| {
            let mut parts: Vec<String> = Vec::new();
            if with_required {
                parts.push(r#""ts":1795168800000,"agent_id":"a-1","action":"s3:GetObject""#.into());
            }
            for (k, v, a, b) in fields {
                parts.push(format!("{a}\"{k}\"{b}:{a}{v}{b}"));
            }
            format!("{pad}{{{}}}{pad}", parts.join(","))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_scanner_agrees_with_serde(line in any_line()) {
        agreed(&line);
        prop_assert_eq!(decode_line(&line, 7), decode_with_serde(&line, 7));
    }

    #[test]
    fn a_damaged_line_is_never_accepted_differently(cut in 0usize..LINE.len(), insert in any::<char>(), drop in any::<bool>()) {
        let mut line = LINE.to_string();
        let at = (0..=cut).rev().find(|&i| line.is_char_boundary(i)).unwrap_or(0);
        if drop {
            line.remove(at);
        } else {
            line.insert(at, insert);
        }
        agreed(&line);
        prop_assert_eq!(decode_line(&line, 7), decode_with_serde(&line, 7));
    }
}

/// Each schema field with a value of its type, in the forms producers
/// write (no escapes), in any order, with unknown fields among them.
fn well_typed_line() -> impl Strategy<Value = String> {
    let text = || "[a-zA-Z0-9 :/._{}\u{e9}\u{1F600}-]{1,16}".prop_map(|s| format!("\"{s}\""));
    let opt_text = move || prop_oneof![4 => text(), 1 => Just("null".to_string())];
    let number = || {
        prop_oneof![
            (0u64..1 << 53).prop_map(|n| n.to_string()),
            (0.0f64..1e9).prop_map(|f| format!("{f}")),
            (0.0f64..1e9).prop_map(|f| format!("{f:.1}")),
            (0.0f64..1e9).prop_map(|f| format!("{f:e}")),
            Just("null".to_string()),
        ]
    };
    let fields = (
        prop_oneof![
            (0i64..4_102_444_800_000).prop_map(|t| t.to_string()),
            (0i64..4_102_444_800_000)
                .prop_map(|t| format!("\"{}\"", crate::event::format_rfc3339_ms(t))),
        ],
        text(),
        text(),
        proptest::sample::select(AgentType::ALL.to_vec())
            .prop_map(|t| format!("\"{}\"", t.as_str())),
        proptest::collection::vec(opt_text(), 8),
        proptest::sample::select(vec!["\"success\"", "\"denied\"", "\"error\"", "null"]),
        prop_oneof![
            (-1000i64..1000).prop_map(|n| n.to_string()),
            Just("null".to_string())
        ],
        proptest::collection::vec(number(), 3),
        proptest::collection::vec(("x_[a-z]{1,6}", text()), 0..3),
    );
    (fields, any::<u64>()).prop_map(
        |((ts, agent, action, kind, texts, outcome, status, numbers, extra), order)| {
            let mut parts = vec![
                format!("\"ts\":{ts}"),
                format!("\"agent_id\":{agent}"),
                format!("\"action\":{action}"),
                format!("\"agent_type\":{kind}"),
                format!("\"outcome\":{outcome}"),
                format!("\"status\":{status}"),
            ];
            let names = [
                "session_id",
                "parent_id",
                "tenant",
                "resource",
                "src_ip",
                "user_agent",
                "event_id",
                "label",
            ];
            parts.extend(
                names
                    .iter()
                    .zip(&texts)
                    .map(|(k, v)| format!("\"{k}\":{v}")),
            );
            let names = ["latency_ms", "bytes_out", "bytes_in"];
            parts.extend(
                names
                    .iter()
                    .zip(&numbers)
                    .map(|(k, v)| format!("\"{k}\":{v}")),
            );
            parts.extend(extra.iter().map(|(k, v)| format!("\"{k}\":{v}")));
            // A shuffle driven by `order`.
            let mut seed = order | 1;
            for i in (1..parts.len()).rev() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                parts.swap(i, (seed % (i as u64 + 1)) as usize);
            }
            format!("{{{}}}", parts.join(","))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn well_typed_lines_are_scanned(line in well_typed_line()) {
        prop_assert!(agreed(&line).is_some(), "{}", line);
    }
}

#[test]
fn strings_end_where_serde_says_at_every_offset() {
    for pad in 0..9 {
        for len in 0..20 {
            for odd in [
                "",
                "\\\"",
                "\\n",
                "\u{1}",
                "\u{1f}",
                " ",
                "\u{7f}",
                "é",
                "\u{1F600}",
            ] {
                let id = format!("{}{odd}{}", "x".repeat(len + 1), "y".repeat(pad));
                let line = format!(
                    "{{\"{}\":1,\"ts\":1,\"agent_id\":\"{id}\",\"action\":\"a\"}}",
                    "k".repeat(pad)
                );
                let scanned = agreed(&line);
                assert_eq!(decode_line(&line, 1), decode_with_serde(&line, 1), "{line}");
                let plain = !odd.starts_with('\\') && !odd.starts_with(|c: char| c < ' ');
                assert_eq!(scanned.is_some(), plain, "{line}");
            }
        }
    }
}
