//! Hostile input against every decoder: arbitrary bytes, arbitrary Unicode
//! inserted at every offset of real-shaped records, and structured
//! mutations, under every `--format`. The property is the one a service on
//! an attacker-writable bus needs: decoding returns (events, bad records or
//! skips) and never panics, and a good record beside a bad one still
//! decodes.

use super::{Format, RecordDecoder};
use proptest::prelude::*;

const FORMATS: [Format; 5] = [
    Format::Auto,
    Format::Native,
    Format::Cloudtrail,
    Format::K8sAudit,
    Format::Ocsf,
];

/// One record of each shape the decoders know, and the envelopes.
pub(crate) const SEEDS: [&str; 9] = [
    r#"{"ts":"2026-11-20T10:00:00.123Z","agent_id":"agent-1","action":"s3:GetObject","agent_type":"ai_agent","tenant":"t1","session_id":"s1","resource":"arn:aws:s3:::b/k","src_ip":"10.0.0.1","user_agent":"boto3/1.34","outcome":"success","status":200,"latency_ms":12.5,"bytes_out":10,"bytes_in":2048,"x_extra":{"k":[1,2]}}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA:s","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"123456789012","accessKeyId":"ASIA1","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/r"}}},"eventTime":"2023-07-10T11:42:36Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2.0","requestParameters":{"bucketName":"b"},"errorCode":"AccessDenied","eventID":"e1","recipientAccountId":"123456789012"}"#,
    r#"{"Records":[{"eventTime":"2023-07-10 11:42:36.123","eventSource":"iam.amazonaws.com","eventName":"ListUsers","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"}},{"eventTime":"2023-07-10T11:42:37Z","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","userIdentity":{"type":"Root"}}]}"#,
    r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/d/secrets","verb":"list","user":{"username":"system:serviceaccount:d:sa","groups":["system:serviceaccounts"]},"sourceIPs":["10.1.2.3"],"userAgent":"kubectl/v1.29","objectRef":{"resource":"secrets","namespace":"d","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z","stageTimestamp":"2024-01-01T00:00:00.100000Z"}"#,
    r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a2","stage":"ResponseComplete","verb":"get","user":{"username":"u"},"requestURI":"/api","stageTimestamp":"2024-01-01T00:00:01Z"}]}"#,
    r#"{"class_uid":6003,"activity_id":1,"time":1700000000000,"actor":{"user":{"uid":"agent-9","type":"Service"},"session":{"uid":"s9"}},"api":{"operation":"GetSecretValue","service":{"name":"secretsmanager"}},"src_endpoint":{"ip":"10.9.9.9"},"status":"Success","resources":[{"uid":"arn:x"}]}"#,
    r#"[{"ts":1,"agent_id":"a","action":"b"},{"ts":2,"agent_id":"c","action":"d"}]"#,
    r#"{"ts":1700000000000,"agent_id":"ü€…","action":"tools/call:search","agent_type":"ai_agent"}"#,
    r#"{"eventTime":"2023-07-10 11:42:€","eventSource":"s3.amazonaws.com","eventName":"X","userIdentity":{"type":"Root"}}"#,
];

/// Decodes `raw` in `format`; returns events, bad records and skips.
pub(crate) fn decode_counts(raw: &str, format: Format) -> (usize, usize, u64) {
    let d = RecordDecoder {
        format,
        k8s_stage: "ResponseComplete",
        latest_ts_ms: i64::MAX,
        limits: crate::adapt::FieldLimits::NONE,
    };
    let (mut events, mut bad) = (0, 0);
    let skipped = d.decode(raw, 1, &mut |_| events += 1, &mut |_| bad += 1);
    (events, bad, skipped)
}

fn decode_everywhere(raw: &str) {
    for f in FORMATS {
        decode_counts(raw, f);
    }
}

/// A value an attacker might put in a field.
fn hostile_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{json, Value};
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,40}".prop_map(Value::from),
        // Multi-byte text of every width, long enough to reach any
        // fixed offset a parser might cut at.
        "[ü€😀a ]{0,64}".prop_map(Value::from),
        Just(json!("9999-99-99T99:99:99Z")),
        Just(json!("2023-07-10 11:42:36€")),
        Just(
            serde_json::from_str::<Value>(&format!("{}1{}", "[".repeat(100), "]".repeat(100)))
                .unwrap()
        ),
        Just(json!({"a":{"b":{"c":{"d":[null, "x", 1.5]}}}})),
        Just(Value::from("x".repeat(10_000))),
    ]
}

/// Replaces one field (at any depth) of a seed with a hostile value.
fn mutate_field(v: &mut serde_json::Value, pick: usize, with: serde_json::Value) {
    let mut n = pick;
    fn walk(v: &mut serde_json::Value, n: &mut usize, with: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                for (_, child) in m.iter_mut() {
                    if *n == 0 {
                        *child = with.clone();
                        return true;
                    }
                    *n -= 1;
                    if walk(child, n, with) {
                        return true;
                    }
                }
                false
            }
            serde_json::Value::Array(a) => a.iter_mut().any(|c| walk(c, n, with)),
            _ => false,
        }
    }
    walk(v, &mut n, &with);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_everywhere(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn any_character_at_any_offset_never_panics(seed in 0..SEEDS.len(), at in 0usize..600, c in any::<char>(), cut in any::<bool>()) {
        let s = SEEDS[seed];
        let (head, tail) = s.split_at(crate::event::prefix(s, at).len());
        // Insert the character, or cut the record there and end with it.
        let mutated = format!("{head}{c}{}", if cut { "" } else { tail });
        decode_everywhere(&mutated);
    }

    #[test]
    fn structured_mutations_never_panic(seed in 0..SEEDS.len() - 2, pick in 0usize..40, with in hostile_value(),
                                        drop_from in 0usize..600, dup in any::<bool>()) {
        let mut v: serde_json::Value = serde_json::from_str(SEEDS[seed]).unwrap();
        mutate_field(&mut v, pick, with);
        let text = v.to_string();
        decode_everywhere(&text);
        // The same record truncated, and doubled without a separator.
        decode_everywhere(crate::event::prefix(&text, drop_from));
        if dup {
            decode_everywhere(&format!("{text}{text}"));
        }
    }
}

#[test]
fn every_seed_decodes_in_its_own_format_and_in_auto() {
    let own = [
        Format::Native,
        Format::Cloudtrail,
        Format::Cloudtrail,
        Format::K8sAudit,
        Format::K8sAudit,
        Format::Ocsf,
        // A bare array unwraps in `auto`; `native` takes one event a record.
        Format::Auto,
        Format::Native,
    ];
    for (seed, f) in SEEDS.iter().zip(own) {
        let (events, bad, _) = decode_counts(seed, f);
        assert!(events >= 1 && bad == 0, "{f:?}: {seed}");
        let (events, bad, _) = decode_counts(seed, Format::Auto);
        assert!(events >= 1 && bad == 0, "auto: {seed}");
    }
}

#[test]
fn the_reported_crashers_decode_or_fail_cleanly() {
    // Each of these panicked before: a fixed byte cut inside a character.
    let crashers = [
        r#"{"agent_id":"ü€…"#.to_string(),
        format!("{{\"Records\"a{}", "€".repeat(8)),
        format!("  {{\"a{}\"items\"", "€".repeat(29)),
        SEEDS[8].to_string(),
    ];
    for c in &crashers {
        decode_everywhere(c);
    }
    // The CloudTrail time with a character at byte 19 is a bad field, not a
    // crash, and names the field.
    let d = RecordDecoder {
        format: Format::Cloudtrail,
        k8s_stage: "ResponseComplete",
        latest_ts_ms: i64::MAX,
        limits: crate::adapt::FieldLimits::NONE,
    };
    let mut reasons = Vec::new();
    d.decode(SEEDS[8], 1, &mut |_| {}, &mut |e| reasons.push(e));
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(
        reasons[0].field.as_deref(),
        Some("eventTime"),
        "{reasons:?}"
    );
}

#[test]
fn a_call_dated_past_the_latest_accepted_time_is_a_bad_ts_field() {
    let d = RecordDecoder {
        format: Format::Auto,
        k8s_stage: "ResponseComplete",
        latest_ts_ms: 1_000_000,
        limits: crate::adapt::FieldLimits::NONE,
    };
    let (mut events, mut errors) = (0, Vec::new());
    for ts in [999_999, 1_000_000, 1_000_001, 4_102_444_800_000, i64::MAX] {
        let raw = format!(r#"{{"ts":{ts},"agent_id":"a","action":"x"}}"#);
        d.decode(&raw, 7, &mut |_| events += 1, &mut |e| errors.push(e));
    }
    assert_eq!(events, 2);
    assert_eq!(errors.len(), 3, "{errors:?}");
    for e in &errors {
        assert_eq!((e.line, e.field.as_deref()), (7, Some("ts")), "{e:?}");
        assert!(e.reason.contains("ahead of the latest accepted"), "{e:?}");
    }
    // In an envelope, the good records around a future one still count.
    let raw = r#"{"Records":[{"eventTime":"1970-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"A"},{"eventTime":"2100-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"B"},{"eventTime":"1970-01-01T00:00:01Z","eventSource":"s3.amazonaws.com","eventName":"C"}]}"#;
    let (mut events, mut errors) = (0, 0);
    d.decode(raw, 1, &mut |_| events += 1, &mut |_| errors += 1);
    assert_eq!((events, errors), (2, 1));
}

#[test]
fn error_reasons_do_not_echo_a_huge_value() {
    let huge = "€".repeat(70_000);
    for raw in [
        format!(r#"{{"ts":"{huge}","agent_id":"a","action":"x"}}"#),
        format!(r#"{{"ts":1,"agent_id":"a","action":"x","bytes_out":"{huge}"}}"#),
        format!(r#"{{"eventTime":"{huge}","eventSource":"s3.amazonaws.com","eventName":"X"}}"#),
    ] {
        for f in FORMATS {
            let d = RecordDecoder {
                format: f,
                k8s_stage: "ResponseComplete",
                latest_ts_ms: i64::MAX,
                limits: crate::adapt::FieldLimits::NONE,
            };
            d.decode(&raw, 1, &mut |_| {}, &mut |e| {
                assert!(e.reason.len() < 300, "{f:?}: {} bytes", e.reason.len());
                assert!(e.to_string().len() < 400, "{f:?}");
            });
        }
    }
}

/// The mutation fuzzer at the size the issue measured it: every class,
/// 25,000 mutants each, under every format. A panic is caught and reported
/// with its format, class, iteration and input.
#[test]
fn twelve_mutation_classes_times_25000_never_panic() {
    use super::mutate::{Mutator, CLASSES};
    const PER_CLASS: usize = 25_000;
    for (fi, format) in FORMATS.into_iter().enumerate() {
        for (class, name) in CLASSES.iter().enumerate() {
            let mut m = Mutator::new((fi * 100 + class) as u64);
            let (mut events, mut bad, mut not_utf8) = (0usize, 0usize, 0usize);
            for i in 0..PER_CLASS {
                let mutant = m.mutate(SEEDS[i % SEEDS.len()], class);
                let Ok(text) = std::str::from_utf8(&mutant) else {
                    // The service refuses these before decoding (a dead letter).
                    not_utf8 += 1;
                    continue;
                };
                match std::panic::catch_unwind(|| decode_counts(text, format)) {
                    Ok((e, b, _)) => {
                        events += e;
                        bad += b;
                    }
                    Err(_) => panic!("{format:?} / {name} / iteration {i} panicked on {text:?}"),
                }
            }
            // Each class must really mutate: some records survive, some break.
            assert!(
                bad + not_utf8 > 0,
                "{format:?} / {name}: no mutant was refused ({events} events)"
            );
        }
    }
}
