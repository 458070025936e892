//! Input adapters: the log formats teams already have, mapped to the
//! canonical call event. `docs/adapters.md` has the field-by-field mapping.
//!
//! A record may arrive alone (one per Kafka message or JSON line), inside an
//! envelope (CloudTrail's S3 objects `{"Records":[...]}`, Kubernetes
//! `EventList`s, JSON arrays), or pretty-printed across lines; `records`
//! unwraps envelopes and `map_record` maps one record in a given format, or
//! in whichever format it looks like (`Format::Auto`).

mod cloudtrail;
mod decoder;
mod envelope;
#[cfg(test)]
mod hostile;
mod k8s;
mod lenient;
mod limits;
#[cfg(test)]
pub(crate) mod mutate;
mod ocsf;

pub(crate) use decoder::{latest_ts_from, latest_ts_from_now, RecordDecoder};
pub use envelope::records;
pub(crate) use envelope::{
    assert_cloudtrail_agrees_with_serde, for_each_cloudtrail_record, records_salvaged,
};
pub(crate) use lenient::{
    lenient, lenient_f64, lenient_i64, lenient_str, lenient_strs, lenient_vec, parse_log_time, Text,
};
pub(crate) use limits::FieldLimits;

use crate::event::{decode_line, CallEvent, DecodeError};
use serde::Deserialize;

/// Input format, per replay run or per topic.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Detect per record.
    #[default]
    Auto,
    /// The canonical call event (`schemas/call-event.schema.json`).
    Native,
    /// AWS CloudTrail records.
    Cloudtrail,
    /// Kubernetes API-server audit events.
    K8sAudit,
    /// OCSF API Activity (class 6003).
    Ocsf,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Native => "native",
            Format::Cloudtrail => "cloudtrail",
            Format::K8sAudit => "k8s-audit",
            Format::Ocsf => "ocsf",
        }
    }
}

/// A record that could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptError(pub DecodeError);

impl AdaptError {
    /// Turns a serde error into one naming the field path, by re-reading the
    /// record with path tracking (only on this error path, so the happy path
    /// stays fast).
    fn from_json<'a, T: Deserialize<'a>>(
        line: u64,
        raw: &'a str,
        what: &str,
        e: &serde_json::Error,
    ) -> AdaptError {
        let mut de = serde_json::Deserializer::from_str(raw);
        let field = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(pe) => Some(pe.path().to_string()).filter(|p| p != "." && !p.is_empty()),
            Ok(_) => None,
        };
        let mut reason = e.to_string();
        if let Some(pos) = reason.rfind(" at line ") {
            reason.truncate(pos);
        }
        AdaptError(DecodeError {
            line,
            record: None,
            field,
            reason: format!("{what}: {reason}"),
        })
    }
}

fn field_error(line: u64, field: &str, reason: &str) -> AdaptError {
    AdaptError(DecodeError {
        line,
        record: None,
        field: Some(field.to_string()),
        reason: reason.to_string(),
    })
}

/// What one record became.
// Not boxed: every record takes the `Event` path, and a box would cost an
// allocation per record; `Skipped` is the rare one.
#[allow(clippy::large_enum_variant)]
pub enum Mapped<'a> {
    /// A call event.
    Event(CallEvent<'a>),
    /// Deliberately not an event (a Kubernetes audit stage other than the
    /// configured one).
    Skipped,
}

/// Which format a single record looks like. Cheap: looks for the keys each
/// format cannot do without.
pub fn detect(raw: &str) -> Option<Format> {
    if raw.contains("\"agent_id\"") && raw.contains("\"action\"") {
        Some(Format::Native)
    } else if raw.contains("\"eventSource\"") && raw.contains("\"eventName\"") {
        Some(Format::Cloudtrail)
    } else if raw.contains("\"auditID\"")
        || raw.contains("\"audit.k8s.io/")
        || (raw.contains("\"verb\"")
            && raw.contains("\"user\"")
            && (raw.contains("\"objectRef\"") || raw.contains("\"requestURI\"")))
    {
        Some(Format::K8sAudit)
    } else if raw.contains("\"class_uid\"") {
        Some(Format::Ocsf)
    } else {
        None
    }
}

/// Maps one record. `line` labels errors; `k8s_stage` is the audit stage kept.
pub fn map_record<'a>(
    raw: &'a str,
    format: Format,
    line: u64,
    k8s_stage: &str,
) -> Result<Mapped<'a>, AdaptError> {
    let format = match format {
        Format::Auto => detect(raw).ok_or_else(|| {
            AdaptError(DecodeError {
                line,
                record: None,
                field: None,
                reason: "record is in no known format (native call event, CloudTrail, Kubernetes audit, OCSF API Activity)".into(),
            })
        })?,
        f => f,
    };
    Ok(match format {
        Format::Native | Format::Auto => Mapped::Event(decode_line(raw, line).map_err(AdaptError)?),
        Format::Cloudtrail => Mapped::Event(cloudtrail::map(raw, line)?),
        Format::Ocsf => Mapped::Event(ocsf::map(raw, line)?),
        Format::K8sAudit => match k8s::map(raw, line, k8s_stage)? {
            Some(ev) => Mapped::Event(ev),
            None => Mapped::Skipped,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_unwrap() {
        assert_eq!(
            records(r#"[{"a":1},{"b":2}]"#).unwrap(),
            vec![r#"{"a":1}"#, r#"{"b":2}"#]
        );
        assert_eq!(
            records(r#"{"Records":[{"a":1}]}"#).unwrap(),
            vec![r#"{"a":1}"#]
        );
        assert_eq!(
            records(
                r#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"x":1},{"y":2}]}"#
            )
            .unwrap()
            .len(),
            2
        );
        assert_eq!(records(r#"{"ts":1}"#).unwrap(), vec![r#"{"ts":1}"#]);
        assert!(records(r#"{"Records":[{"a":1}"#).is_err());
    }

    #[test]
    fn truncated_envelopes_keep_the_records_before_the_cut() {
        let (r, e) = records_salvaged(r#"{"Records":[{"a":1},{"b":2},{"c":"#);
        assert_eq!(r, vec![r#"{"a":1}"#, r#"{"b":2}"#]);
        assert!(e.is_some());
        let (r, e) = records_salvaged("[{\"a\":1},\n{\"b\":");
        assert_eq!((r.len(), e.is_some()), (1, true));
        let (r, e) = records_salvaged(r#"{"Records":[],"x":1}"#);
        assert_eq!((r.len(), e.is_none()), (0, true));
    }

    #[test]
    fn detection_by_shape() {
        assert_eq!(
            detect(r#"{"ts":1,"agent_id":"a","action":"b"}"#),
            Some(Format::Native)
        );
        assert_eq!(
            detect(r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#),
            Some(Format::Cloudtrail)
        );
        assert_eq!(
            detect(r#"{"apiVersion":"audit.k8s.io/v1","auditID":"x"}"#),
            Some(Format::K8sAudit)
        );
        assert_eq!(detect(r#"{"class_uid":6003}"#), Some(Format::Ocsf));
        assert_eq!(detect(r#"{"protoPayload":{}}"#), None);
        let e = match map_record(
            r#"{"protoPayload":{}}"#,
            Format::Auto,
            5,
            "ResponseComplete",
        ) {
            Err(e) => e,
            Ok(_) => panic!("unknown shape accepted"),
        };
        assert!(e.0.reason.contains("no known format"));
        assert_eq!(e.0.line, 5);
    }

    #[test]
    fn lake_timestamps_are_utc() {
        assert_eq!(
            parse_log_time("2024-01-02 03:04:05.000000"),
            parse_log_time("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            parse_log_time("2024-01-02 03:04:05"),
            Some(1_704_164_645_000)
        );
        assert_eq!(
            parse_log_time("2024-01-02 03:04:05+02:00"),
            Some(1_704_157_445_000)
        );
        assert_eq!(parse_log_time("yesterday"), None);
    }

    #[test]
    fn optional_fields_of_odd_shape_do_not_reject_a_record() {
        let raw = r#"{"eventTime":"2024-01-02 03:04:05","eventSource":"iam.amazonaws.com","eventName":"GetRole","userAgent":7,"sourceIPAddress":{"x":1},"resources":["{'arn': 'x'}"],"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u","accessKeyId":null}}"#;
        let Ok(Mapped::Event(ev)) = map_record(raw, Format::Auto, 1, "") else {
            panic!("record refused")
        };
        assert_eq!(ev.user_agent.as_deref(), Some("7"));
        assert_eq!(ev.src_ip, None);
    }

    #[test]
    fn odd_shapes_are_absent_and_syntax_errors_name_the_field_path() {
        // A number where a string belongs, a string where an object belongs:
        // read as text and as absent, in every adapter.
        let k8s = r#"{"auditID":"a","verb":"get","user":{"username":"u"},"objectRef":{"resource":7},"impersonatedUser":"x","sourceIPs":"1.2.3.4","responseStatus":{"code":"403"},"stageTimestamp":"2024-01-01T00:00:00Z"}"#;
        let Ok(Mapped::Event(ev)) = map_record(k8s, Format::K8sAudit, 2, "ResponseComplete") else {
            panic!("k8s record refused")
        };
        assert_eq!(
            (
                ev.action.as_ref(),
                ev.parent_id.as_deref(),
                ev.src_ip.as_deref()
            ),
            ("get 7", None, None)
        );
        assert_eq!(ev.outcome, crate::event::Outcome::Denied);
        let ocsf = r#"{"class_uid":6003,"time":5,"actor":{"user":{"uid":9,"type_id":"4"},"session":"s"},"api":{"operation":"Get"},"resources":"r","src_endpoint":[1]}"#;
        let Ok(Mapped::Event(ev)) = map_record(ocsf, Format::Ocsf, 2, "") else {
            panic!("ocsf record refused")
        };
        assert_eq!(
            (
                ev.agent_id.as_ref(),
                ev.session_id.as_deref(),
                ev.resource.as_deref()
            ),
            ("9", None, None)
        );
        // A record cut inside a field names where it broke.
        let cut = r#"{"auditID":"a","verb":"get","user":{"username":"u"#;
        let e = match map_record(cut, Format::K8sAudit, 3, "ResponseComplete") {
            Err(e) => e,
            Ok(_) => panic!("truncated record accepted"),
        };
        assert_eq!(
            (e.0.line, e.0.field.as_deref()),
            (3, Some("user.username")),
            "{e:?}"
        );
    }
}
