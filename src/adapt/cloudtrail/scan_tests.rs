//! The one-pass reader against serde_json's, on the shapes it reads and on
//! every other shape it must leave to serde_json.

use super::*;
use crate::adapt::assert_cloudtrail_agrees_with_serde as agrees;
use proptest::prelude::*;
use std::borrow::Cow;

/// A record as `warden simulate --format cloudtrail` writes one (and as
/// CloudTrail delivers them), with an error code and a resource list.
const RECORD: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:wl-acme-042-729c","arn":"arn:aws:sts::000000000000:assumed-role/wl-acme-042-729c/wl-acme-042-729c-session","accountId":"000000000000","accessKeyId":"irsa-db676b456573b0f8","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::000000000000:role/wl-acme-042-729c","accountId":"000000000000","userName":"wl-acme-042-729c"},"attributes":{"creationDate":"2026-11-20T00:00:00.060Z","mfaAuthenticated":"false"}}},"eventTime":"2026-11-20T00:00:00.060Z","eventSource":"sqs.amazonaws.com","eventName":"DeleteMessage","awsRegion":"eu-west-1","sourceIPAddress":"10.10.69.208","userAgent":"aws-sdk-java/2.25.1 Linux/5.10","requestParameters":{"resourceArn":"arn:aws:sqs:eu-west-1:000000000000:tenant-acme-6","key":"k","bucketName":"b"},"responseElements":null,"additionalEventData":{"bytesTransferredOut":241},"requestID":"11109b0466f9a04d","eventID":"evt-d02688884d82337c","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"tenant-acme","eventCategory":"Management","errorCode":"AccessDenied","resources":[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket"},"x",null,[]],"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"sqs.amazonaws.com"}}"#;

fn object(records: &[&str]) -> String {
    format!("{{\"Records\":[{}]}}", records.join(","))
}

fn scanned(raw: &str) -> Result<usize, usize> {
    agrees(raw);
    each_record(raw, &mut |_| {})
}

#[test]
fn the_common_shape_is_read_in_one_pass() {
    let raw = object(&[RECORD, RECORD, "{}"]);
    assert_eq!(scanned(&raw), Ok(3));
    let mut got = Vec::new();
    each_record(&raw, &mut |r| got.push(r)).unwrap();
    let id = got[0].user_identity.as_ref().unwrap();
    assert_eq!(id.kind.0.as_deref(), Some("AssumedRole"));
    let issuer = id.session_context.as_ref().unwrap().session_issuer.as_ref();
    assert_eq!(
        issuer.unwrap().arn.0.as_deref(),
        Some("arn:aws:iam::000000000000:role/wl-acme-042-729c")
    );
    assert_eq!(got[0].resources.len(), 1, "non-objects are left out");
    assert_eq!(
        got[0]
            .additional_event_data
            .as_ref()
            .unwrap()
            .bytes_transferred_out,
        Some(241.0)
    );
    assert_eq!(scanned(" {\n\"Records\" : [ ] }\r\n"), Ok(0));
    let spaced = "{ \"Records\" : [ { \"eventTime\" : \"2026-11-20T00:00:00Z\" ,\n\t\"userIdentity\" : \"root\" , \"resources\" : { \"a\" : [1, -2.5e3, true, null, {}] } } ] }";
    assert_eq!(scanned(spaced), Ok(1));
}

/// Escapes as real CloudTrail has them (policy documents in
/// `requestParameters`, quotes in user agents) stay on the one pass: decoded
/// where a field is read, checked where a value is skipped.
#[test]
fn escapes_are_read_in_one_pass() {
    let escaped = RECORD
        .replace("DeleteMessage", "Delete\\u004dess\\u00e9ge\\/\\\"\\\\\\t")
        .replace(
            r#""key":"k""#,
            r#""policyDocument":"{\"Version\":\"2012-10-17\",\n\"S\":[\"\u0026\"]}","key":"k""#,
        );
    let raw = object(&[RECORD, &escaped, RECORD]);
    assert_eq!(scanned(&raw), Ok(3));
    let mut got = Vec::new();
    each_record(&raw, &mut |r| got.push(r)).unwrap();
    let name = got[1].event_name.0.as_deref();
    assert_eq!(name, Some("DeleteMess\u{e9}ge/\"\\\t"));
    assert!(matches!(got[0].event_name.0, Some(Cow::Borrowed(_))));
}

#[test]
fn other_shapes_are_left_to_serde_with_the_records_before_them() {
    let surrogates = RECORD.replace("DeleteMessage", "Delete\\ud83d\\ude00");
    let lone = RECORD.replace(r#""key":"k""#, r#""x":"\udc00","key":"k""#);
    let bad = RECORD.replace(r#""key":"k""#, r#""x":"\x","key":"k""#);
    let short = RECORD.replace(r#""key":"k""#, r#""x":"\u12","key":"k""#);
    let key = RECORD.replace("\"eventName\"", "\"event\\u004eame\"");
    for (raw, handed_over) in [
        (object(&[RECORD, &surrogates, RECORD]), 1),
        (object(&[RECORD, &lone]), 1),
        (object(&[RECORD, &bad]), 1),
        (object(&[RECORD, &short]), 1),
        (object(&[RECORD, &key]), 1),
        (object(&[RECORD, r#"{"eventTime":5}"#]), 1),
        (object(&[r#"{"eventName":"a","eventName":"b"}"#]), 0),
        (object(&[r#"{"userIdentity":{"type":true}}"#]), 0),
        (object(&[r#"{"userIdentity":12}"#]), 0),
        (object(&[r#"{"resources":1e999}"#]), 0),
        (
            object(&[r#"{"additionalEventData":{"bytesTransferredOut":-1}}"#]),
            0,
        ),
        (
            object(&[r#"{"additionalEventData":{"bytesTransferredOut":"12 "}}"#]),
            1,
        ),
        (object(&[RECORD, "[1]"]), 1),
        (object(&[RECORD, "{\"a\":\"\u{1}\"}"]), 1),
        (
            format!("{{\"Records\":[{RECORD}],\"Records\":[{RECORD}]}}"),
            1,
        ),
        (format!("{{\"x\":1,\"Records\":[{RECORD}]}}"), 0),
        (format!("{{\"Records\":[{RECORD},]}}"), 1),
        (format!("{{\"Records\":[{RECORD}]}} x"), 1),
        (object(&[RECORD])[..RECORD.len()].to_string(), 0),
        (
            format!("{{\"Records\":[{}]}}", "[".repeat(100) + &"]".repeat(100)),
            0,
        ),
    ] {
        let got = scanned(&raw);
        assert_eq!(got.unwrap_or_else(|n| n), handed_over, "{raw}");
    }
    let deep = format!(
        "{{\"Records\":[{{\"a\":{}1{}}}]}}",
        "[".repeat(70),
        "]".repeat(70)
    );
    assert_eq!(scanned(&deep), Err(0), "nesting past the cursor's limit");
}

/// Values of every shape, some the reader takes and some it leaves.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9:/._ -]{0,12}".prop_map(|s| format!("\"{s}\"")),
        proptest::sample::select(vec![
            "null",
            "true",
            "false",
            "0",
            "-0",
            "241",
            "12.5",
            "1e999",
            "-3",
            "01",
            "\"\\n\"",
            "\"\\u0041\"",
            "\"a\\\"b\\\\c\\/\"",
            "\"\\u00e9\\t\"",
            "\"\\ud83d\\ude00\"",
            "\"\\udc00\"",
            "\"\\x\"",
            "\"\\u12\"",
            "\"2026-11-20T00:00:00Z\"",
            "\"AssumedRole\"",
            "\"IAMUser\"",
            "\" 17 \"",
            "\"arn:aws:sts::1:assumed-role/R/s\"",
            "\"\"",
        ])
        .prop_map(String::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec((key(), inner), 0..5).prop_map(|v| {
                let m: Vec<String> = v.iter().map(|(k, x)| format!("\"{k}\":{x}")).collect();
                format!("{{{}}}", m.join(","))
            }),
        ]
    })
}

fn key() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "eventTime",
        "eventSource",
        "eventName",
        "userIdentity",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "eventID",
        "recipientAccountId",
        "awsRegion",
        "eventType",
        "resources",
        "requestParameters",
        "additionalEventData",
        "type",
        "arn",
        "accountId",
        "accessKeyId",
        "invokedBy",
        "principalId",
        "userName",
        "sessionContext",
        "sessionIssuer",
        "sourceIdentity",
        "ARN",
        "bucketName",
        "key",
        "roleName",
        "policyArn",
        "secretId",
        "bytesTransferredOut",
        "other",
        "Records",
    ])
}

fn record() -> impl Strategy<Value = String> {
    proptest::collection::vec((key(), value(), " ?"), 0..8).prop_map(|v| {
        let m: Vec<String> = v
            .iter()
            .map(|(k, x, w)| format!("\"{k}\":{w}{x}"))
            .collect();
        format!("{{{}}}", m.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random objects of random records: the same records, errors and
    /// count as serde_json's reading, whether the reader took them or not.
    #[test]
    fn random_objects_agree_with_serde(records in proptest::collection::vec(record(), 0..4)) {
        let refs: Vec<&str> = records.iter().map(String::as_str).collect();
        agrees(&object(&refs));
    }

    /// A real record damaged at one place: cut short, or a byte replaced.
    #[test]
    fn damaged_objects_agree_with_serde(at in 0..RECORD.len() + 30, b in any::<u8>(), cut in any::<bool>()) {
        let mut raw = object(&[RECORD, RECORD]).into_bytes();
        let at = at.min(raw.len() - 1);
        if cut {
            raw.truncate(at);
        } else {
            raw[at] = b;
        }
        if let Ok(raw) = String::from_utf8(raw) {
            agrees(&raw);
        }
    }
}

/// Every CloudTrail file of the shared real logs (Stratus Red Team and
/// Invictus records: escapes, numbers, nested parameters) reads the same
/// both ways. Skipped when `../shared/data` is absent.
#[test]
fn real_cloudtrail_logs_agree_with_serde() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cloudtrail");
    let Ok(dirs) = std::fs::read_dir(&root) else {
        eprintln!("skipped: {} is absent", root.display());
        return;
    };
    let mut files = 0;
    let mut stack: Vec<_> = dirs.flatten().map(|e| e.path()).collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            agrees(text.trim());
            text.lines().for_each(agrees);
            files += 1;
        }
    }
    assert!(files > 0, "no CloudTrail files under {}", root.display());
}
