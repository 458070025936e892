//! Warden's own outputs as flat tables: `findings` (OCSF Detection Findings,
//! one row per Create/Update/Close record) and `revocations` (signed SETs,
//! or the OCSF Remediation Activities that the findings file carries beside
//! its findings). The full record stays in `raw` for anything not flattened.

use super::QueryError;
use crate::event::DecodeError;
use crate::input::BadRecord;
use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use base64::Engine as _;
use serde_json::Value;
use std::io::BufRead;
use std::sync::Arc;

const OCSF_DETECTION_FINDING: i64 = 2004;
const OCSF_REMEDIATION_ACTIVITY: i64 = 7001;
const SHADOW_CLAIM: &str = "https://warden.dev/claims/shadow";

fn utc_ms() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

pub(crate) fn findings_schema() -> SchemaRef {
    let mut fields = vec![Field::new("time", utc_ms(), false)];
    let (text, raw) = FINDING_TEXT.split_at(FINDING_TEXT.len() - 1);
    fields.extend(
        text.iter()
            .map(|(n, _)| Field::new(*n, DataType::Utf8, true)),
    );
    for n in ["severity_id", "risk_score"] {
        fields.push(Field::new(n, DataType::Int64, true));
    }
    fields.push(Field::new("first_seen", utc_ms(), true));
    fields.push(Field::new("last_seen", utc_ms(), true));
    fields.push(Field::new("related_events_count", DataType::Int64, true));
    fields.push(Field::new(raw[0].0, DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

pub(crate) fn revocations_schema() -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("time", utc_ms(), false),
        Field::new("revocation_uid", DataType::Utf8, false),
        s("finding_uid"),
        Field::new("agent_id", DataType::Utf8, false),
        s("session_id"),
        s("tenant"),
        s("kind"),
        Field::new("shadow", DataType::Boolean, false),
        s("reason"),
        s("source"),
        s("raw"),
    ]))
}

/// Reads findings files: Detection Findings become `findings` rows,
/// Remediation Activities become `revocations` rows; other classes are
/// counted as skipped.
#[derive(Default)]
pub(crate) struct OutputTables {
    findings: FindingRows,
    revocations: RevocationRows,
    seen_revocations: rustc_hash::FxHashSet<String>,
    pub skipped: u64,
}

fn bad(input: &str, line: u64, field: &str, reason: impl Into<String>) -> BadRecord {
    BadRecord {
        input: input.to_string(),
        error: DecodeError {
            line,
            record: None,
            field: (!field.starts_with('(')).then(|| field.to_string()),
            reason: reason.into(),
        },
    }
}

impl OutputTables {
    /// A file of OCSF JSON lines (`replay --alerts-out`, or the alerts
    /// topic dumped with kcat).
    pub(crate) fn read_findings(
        &mut self,
        name: &str,
        reader: impl BufRead,
        bad_records: &mut Vec<BadRecord>,
    ) -> Result<(), QueryError> {
        self.read_lines(name, reader, bad_records, |t, line, n| {
            let v = parse_json(name, n, line)?;
            match v.get("class_uid").and_then(Value::as_i64) {
                Some(OCSF_DETECTION_FINDING) => t.findings.push(&v, line, name, n),
                Some(OCSF_REMEDIATION_ACTIVITY) => t.push_remediation(&v, line, name, n),
                Some(_) => {
                    t.skipped += 1;
                    Ok(())
                }
                None => Err(bad(name, n, "class_uid", "missing: not an OCSF event")),
            }
        })
    }

    /// A file of revocations: one compact SET per line (`replay
    /// --revocations-out`, the revocations topic), or OCSF Remediation
    /// Activity JSON lines. Signatures are not checked here (`warden
    /// verify` does that).
    pub(crate) fn read_revocations(
        &mut self,
        name: &str,
        reader: impl BufRead,
        bad_records: &mut Vec<BadRecord>,
    ) -> Result<(), QueryError> {
        self.read_lines(name, reader, bad_records, |t, line, n| {
            if line.starts_with('{') {
                let v = parse_json(name, n, line)?;
                return t.push_remediation(&v, line, name, n);
            }
            let claims = set_claims(line).map_err(|m| bad(name, n, "(token)", m))?;
            t.push_set(&claims, line, name, n)
        })
    }

    fn read_lines(
        &mut self,
        name: &str,
        mut reader: impl BufRead,
        bad_records: &mut Vec<BadRecord>,
        mut row: impl FnMut(&mut Self, &str, u64) -> Result<(), BadRecord>,
    ) -> Result<(), QueryError> {
        let mut buf = String::new();
        let mut n = 0u64;
        loop {
            buf.clear();
            let read = reader
                .read_line(&mut buf)
                .map_err(|source| QueryError::Read {
                    path: name.to_string(),
                    source,
                })?;
            if read == 0 {
                return Ok(());
            }
            n += 1;
            let line = buf.trim();
            if line.is_empty() {
                continue;
            }
            if let Err(b) = row(self, line, n) {
                bad_records.push(b);
            }
        }
    }

    fn push_remediation(
        &mut self,
        v: &Value,
        line: &str,
        name: &str,
        n: u64,
    ) -> Result<(), BadRecord> {
        let uid =
            str_at(v, "/command_uid").ok_or_else(|| bad(name, n, "command_uid", "missing"))?;
        if !self.seen_revocations.insert(uid.to_string()) {
            return Ok(());
        }
        let message = str_at(v, "/message").unwrap_or_default();
        let row = RevocationRow {
            time: time_at(v, "/time").ok_or_else(|| bad(name, n, "time", "missing"))?,
            uid,
            finding_uid: str_at(v, "/metadata/correlation_uid"),
            agent_id: str_at(v, "/evidences/0/actor/user/uid")
                .or_else(|| str_at(v, "/actor/user/uid"))
                .or_else(|| agent_in_message(message))
                .ok_or_else(|| bad(name, n, "actor.user.uid", "missing"))?,
            session_id: None,
            tenant: str_at(v, "/metadata/tenant_uid"),
            kind: match str_at(v, "/countermeasures/0/d3f_technique/uid") {
                Some("D3-ST") => Some("session_revoked"),
                Some("D3-CR") => Some("credential_revoked"),
                _ => None,
            },
            shadow: str_at(v, "/status").is_some_and(|s| s.starts_with("Shadow")),
            reason: message.split_once("): ").map(|(_, r)| r),
            source: "ocsf",
            raw: line,
        };
        self.revocations.push(&row);
        Ok(())
    }

    fn push_set(&mut self, c: &Value, line: &str, name: &str, n: u64) -> Result<(), BadRecord> {
        let uid = str_at(c, "/jti").ok_or_else(|| bad(name, n, "jti", "missing"))?;
        if !self.seen_revocations.insert(uid.to_string()) {
            return Ok(());
        }
        let (event_type, event) = c
            .get("events")
            .and_then(Value::as_object)
            .and_then(|m| m.iter().next())
            .ok_or_else(|| bad(name, n, "events", "no event in the token"))?;
        let kind = event_type.rsplit('/').next().map(|k| match k {
            "session-revoked" => "session_revoked",
            "credential-change" => "credential_revoked",
            other => other,
        });
        let seconds = c
            .pointer("/iat")
            .and_then(Value::as_i64)
            .ok_or_else(|| bad(name, n, "iat", "missing or not a number"))?;
        let reason = str_at(event, "/reason_admin/en");
        let row = RevocationRow {
            time: event
                .get("event_timestamp")
                .and_then(Value::as_i64)
                .unwrap_or(seconds)
                .saturating_mul(1000),
            uid,
            finding_uid: str_at(c, "/txn"),
            agent_id: str_at(c, "/sub_id/user/id")
                .ok_or_else(|| bad(name, n, "sub_id.user.id", "missing"))?,
            session_id: str_at(c, "/sub_id/session/id"),
            tenant: str_at(c, "/sub_id/tenant/id"),
            kind,
            shadow: c
                .get(SHADOW_CLAIM)
                .and_then(Value::as_bool)
                .unwrap_or(false),
            // "… (finding wdn-f-…)": the finding is its own column.
            reason: reason.map(|r| r.rsplit_once(" (finding ").map_or(r, |(head, _)| head)),
            source: "set",
            raw: line,
        };
        self.revocations.push(&row);
        Ok(())
    }

    pub(crate) fn findings_rows(&self) -> usize {
        self.findings.len
    }

    pub(crate) fn revocations_rows(&self) -> usize {
        self.revocations.len
    }

    pub fn finish(mut self) -> Result<(RecordBatch, RecordBatch), QueryError> {
        Ok((self.findings.finish()?, self.revocations.finish()?))
    }
}

fn parse_json(name: &str, n: u64, line: &str) -> Result<Value, BadRecord> {
    serde_json::from_str(line).map_err(|e| bad(name, n, "(record)", format!("not JSON: {e}")))
}

/// The claims of a compact JWS, decoded but not verified.
fn set_claims(token: &str) -> Result<Value, String> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWT (header.payload.signature)".into());
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("payload is not JSON: {e}"))
}

fn str_at<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn time_at(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

/// "Credential Revoking of agent X …": the agent of a remediation message,
/// for records without an actor.
fn agent_in_message(message: &str) -> Option<&str> {
    message.split(" of agent ").nth(1)?.split(' ').next()
}

#[derive(Default)]
struct FindingRows {
    len: usize,
    time: TimestampMillisecondBuilder,
    text: Vec<StringBuilder>,
    severity_id: Int64Builder,
    risk_score: Int64Builder,
    first_seen: TimestampMillisecondBuilder,
    last_seen: TimestampMillisecondBuilder,
    related: Int64Builder,
}

/// Text columns of `findings_schema`, in order, as JSON pointers into the
/// OCSF record (`None`: computed in `push`). `raw` (the record) is last.
const FINDING_TEXT: [(&str, Option<&str>); 19] = [
    ("finding_uid", Some("/finding_info/uid")),
    ("record_uid", Some("/metadata/uid")),
    ("activity", Some("/activity_name")),
    ("agent_id", None),
    ("identity_type", Some("/evidences/0/actor/user/type")),
    ("tenant", Some("/metadata/tenant_uid")),
    ("cohort", Some("/unmapped/cohort")),
    ("severity", Some("/severity")),
    ("status", Some("/status")),
    ("detector", Some("/finding_info/analytic/uid")),
    ("detectors", None),
    (
        "observed",
        Some("/anomaly_analyses/0/anomalies/0/observed_pattern"),
    ),
    ("title", Some("/finding_info/title")),
    ("message", Some("/message")),
    ("action", None),
    ("event_uid", Some("/evidences/0/api/request/uid")),
    ("src_ip", None),
    ("user_agent", Some("/evidences/0/http_request/user_agent")),
    ("raw", None),
];

impl FindingRows {
    fn push(&mut self, v: &Value, line: &str, name: &str, n: u64) -> Result<(), BadRecord> {
        let time = time_at(v, "/time").ok_or_else(|| bad(name, n, "time", "missing"))?;
        if str_at(v, "/finding_info/uid").is_none() {
            return Err(bad(name, n, "finding_info.uid", "missing"));
        }
        let agent = str_at(v, "/anomaly_analyses/0/analysis_targets/0/name")
            .or_else(|| str_at(v, "/evidences/0/actor/user/uid"))
            .ok_or_else(|| bad(name, n, "evidences[0].actor.user.uid", "missing"))?;
        if self.text.is_empty() {
            self.text = (0..FINDING_TEXT.len())
                .map(|_| StringBuilder::new())
                .collect();
        }
        let action = match (
            str_at(v, "/evidences/0/api/service/name"),
            str_at(v, "/evidences/0/api/operation"),
        ) {
            (Some(s), Some(op)) => Some(format!("{s}:{op}")),
            (None, op) => op.map(str::to_string),
            (Some(s), None) => Some(s.to_string()),
        };
        let detectors = str_at(v, "/finding_info/analytic/name")
            .and_then(|n| n.rsplit_once(": "))
            .map(|(_, list)| list.replace('+', ","));
        for ((column, pointer), b) in FINDING_TEXT.iter().zip(&mut self.text) {
            let value = match (*column, pointer) {
                (_, Some(p)) => str_at(v, p).map(str::to_string),
                ("agent_id", None) => Some(agent.to_string()),
                ("detectors", None) => detectors.clone(),
                ("action", None) => action.clone(),
                ("src_ip", None) => str_at(v, "/evidences/0/src_endpoint/ip")
                    .or_else(|| str_at(v, "/evidences/0/src_endpoint/hostname"))
                    .map(str::to_string),
                _ => Some(line.to_string()),
            };
            b.append_option(value);
        }
        self.time.append_value(time);
        self.severity_id.append_option(time_at(v, "/severity_id"));
        self.risk_score.append_option(time_at(v, "/risk_score"));
        self.first_seen
            .append_option(time_at(v, "/finding_info/first_seen_time"));
        self.last_seen
            .append_option(time_at(v, "/finding_info/last_seen_time"));
        self.related
            .append_option(time_at(v, "/finding_info/related_events_count"));
        self.len += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<RecordBatch, QueryError> {
        if self.text.is_empty() {
            return Ok(RecordBatch::new_empty(findings_schema()));
        }
        let utc = |b: &mut TimestampMillisecondBuilder| -> ArrayRef {
            Arc::new(b.finish().with_timezone("UTC"))
        };
        let mut text: Vec<ArrayRef> = self
            .text
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let raw = text.pop().expect("raw is the last text column");
        let mut columns = vec![utc(&mut self.time)];
        columns.extend(text);
        columns.push(Arc::new(self.severity_id.finish()));
        columns.push(Arc::new(self.risk_score.finish()));
        columns.push(utc(&mut self.first_seen));
        columns.push(utc(&mut self.last_seen));
        columns.push(Arc::new(self.related.finish()));
        columns.push(raw);
        Ok(RecordBatch::try_new(findings_schema(), columns)?)
    }
}

struct RevocationRow<'a> {
    time: i64,
    uid: &'a str,
    finding_uid: Option<&'a str>,
    agent_id: &'a str,
    session_id: Option<&'a str>,
    tenant: Option<&'a str>,
    kind: Option<&'a str>,
    shadow: bool,
    reason: Option<&'a str>,
    source: &'static str,
    raw: &'a str,
}

#[derive(Default)]
struct RevocationRows {
    len: usize,
    time: TimestampMillisecondBuilder,
    uid: StringBuilder,
    finding_uid: StringBuilder,
    agent_id: StringBuilder,
    session_id: StringBuilder,
    tenant: StringBuilder,
    kind: StringBuilder,
    shadow: BooleanBuilder,
    reason: StringBuilder,
    source: StringBuilder,
    raw: StringBuilder,
}

impl RevocationRows {
    fn push(&mut self, r: &RevocationRow<'_>) {
        self.time.append_value(r.time);
        self.uid.append_value(r.uid);
        self.finding_uid.append_option(r.finding_uid);
        self.agent_id.append_value(r.agent_id);
        self.session_id.append_option(r.session_id);
        self.tenant.append_option(r.tenant);
        self.kind.append_option(r.kind);
        self.shadow.append_value(r.shadow);
        self.reason.append_option(r.reason);
        self.source.append_value(r.source);
        self.raw.append_value(r.raw);
        self.len += 1;
    }

    fn finish(&mut self) -> Result<RecordBatch, QueryError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish().with_timezone("UTC")),
            Arc::new(self.uid.finish()),
            Arc::new(self.finding_uid.finish()),
            Arc::new(self.agent_id.finish()),
            Arc::new(self.session_id.finish()),
            Arc::new(self.tenant.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.shadow.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.raw.finish()),
        ];
        Ok(RecordBatch::try_new(revocations_schema(), columns)?)
    }
}
