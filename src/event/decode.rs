//! JSON decoding of one call event. A hand-written map visitor (rather than
//! `#[derive(Deserialize)]` with `#[serde(flatten)]`) keeps strings borrowed,
//! keeps unknown fields without buffering, and knows which field failed, so
//! every error names the line, the field and the reason.

use super::{parse_rfc3339_ms, AgentType, CallEvent, Outcome};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

/// A record that could not be decoded. `line` is the 1-based line in its input
/// (or the record offset on a bus); `field` is the field at fault when one is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct DecodeError {
    /// Line of the input (or offset of the record on a topic).
    pub line: u64,
    /// Index of the record inside its line or document, when it came in an
    /// envelope (a CloudTrail `Records` array, a JSON array, a list).
    pub record: Option<u64>,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// What was wrong.
    pub reason: String,
}

impl DecodeError {
    fn render(&self) -> String {
        let at = match self.record {
            Some(r) => format!("line {} record {}", self.line, r),
            None => format!("line {}", self.line),
        };
        match &self.field {
            Some(f) => format!("{at}: field `{f}`: {}", self.reason),
            None => format!("{at}: {}", self.reason),
        }
    }
}

/// Decodes one JSON object with serde_json (`decode_line` tries the
/// scanner first); the reference the scanner is tested against.
pub(super) fn decode_with_serde(line: &str, line_no: u64) -> Result<CallEvent<'_>, DecodeError> {
    let current = Cell::new("");
    let mut de = serde_json::Deserializer::from_str(line);
    let result = EventSeed { current: &current }
        .deserialize(&mut de)
        .and_then(|ev| de.end().map(|_| ev));
    result.map_err(|e| {
        let mut reason = e.to_string();
        // serde_json appends " at line 1 column N"; the line is ours to name.
        if let Some(pos) = reason.rfind(" at line ") {
            reason.truncate(pos);
            if e.column() > 0 {
                reason.push_str(&format!(" (column {})", e.column()));
            }
        }
        let field = match current.get() {
            "" => None,
            f => Some(f.to_string()),
        };
        // A field error message is prefixed by the visitor; strip it back out.
        let reason = match reason.strip_prefix(FIELD_ERR) {
            Some(r) => r.to_string(),
            None => reason,
        };
        DecodeError {
            line: line_no,
            record: None,
            field,
            reason,
        }
    })
}

const FIELD_ERR: &str = "\u{1}";

struct EventSeed<'c> {
    current: &'c Cell<&'static str>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = CallEvent<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(EventVisitor {
            current: self.current,
        })
    }
}

struct EventVisitor<'c> {
    current: &'c Cell<&'static str>,
}

/// The fields of the canonical schema, in schema order; every other field is
/// kept as pass-through.
pub const CALL_EVENT_FIELDS: [&str; 17] = [
    "ts",
    "agent_id",
    "action",
    "agent_type",
    "session_id",
    "parent_id",
    "tenant",
    "resource",
    "src_ip",
    "user_agent",
    "event_id",
    "outcome",
    "status",
    "latency_ms",
    "bytes_out",
    "bytes_in",
    "label",
];

/// Where `key` is in `CALL_EVENT_FIELDS`. Every line names all of them, so
/// this runs for each key of each call: its length and first byte (and, for
/// `src_ip` against `status`, its last) single out the one name it can be,
/// which one fixed-size comparison confirms (no call to `memcmp`), where a
/// scan compared it with up to 17.
pub(super) fn field_index(key: &str) -> Option<usize> {
    /// `b` is `name`, the field at `idx`.
    fn is<const N: usize>(b: &[u8], name: &[u8; N], idx: usize) -> Option<usize> {
        (<[u8; N]>::try_from(b).ok()? == *name).then_some(idx)
    }
    let b = key.as_bytes();
    match (b.len(), *b.first()?) {
        (2, b't') => is(b, b"ts", at::TS),
        (8, b'a') => is(b, b"agent_id", at::AGENT_ID),
        (6, b'a') => is(b, b"action", at::ACTION),
        (10, b'a') => is(b, b"agent_type", at::AGENT_TYPE),
        (10, b's') => is(b, b"session_id", at::SESSION_ID),
        (9, b'p') => is(b, b"parent_id", at::PARENT_ID),
        (6, b't') => is(b, b"tenant", at::TENANT),
        (8, b'r') => is(b, b"resource", at::RESOURCE),
        (6, b's') if b[5] == b'p' => is(b, b"src_ip", at::SRC_IP),
        (10, b'u') => is(b, b"user_agent", at::USER_AGENT),
        (8, b'e') => is(b, b"event_id", at::EVENT_ID),
        (7, b'o') => is(b, b"outcome", at::OUTCOME),
        (6, b's') => is(b, b"status", at::STATUS),
        (10, b'l') => is(b, b"latency_ms", at::LATENCY_MS),
        (9, b'b') => is(b, b"bytes_out", at::BYTES_OUT),
        (8, b'b') => is(b, b"bytes_in", at::BYTES_IN),
        (5, b'l') => is(b, b"label", at::LABEL),
        _ => None,
    }
}

/// Positions in `CALL_EVENT_FIELDS`, so the visitor matches a number, not
/// the name again. Each is looked up in the schema's list when compiling
/// (a name missing from it fails the build), so none can drift from it.
pub(super) mod at {
    use super::CALL_EVENT_FIELDS;

    /// Where `name` is in `CALL_EVENT_FIELDS`; evaluated at compile time.
    const fn position(name: &str) -> usize {
        let mut i = 0;
        while i < CALL_EVENT_FIELDS.len() {
            if eq(CALL_EVENT_FIELDS[i].as_bytes(), name.as_bytes()) {
                return i;
            }
            i += 1;
        }
        panic!("not a CALL_EVENT_FIELDS name")
    }

    const fn eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    pub const TS: usize = position("ts");
    pub const AGENT_ID: usize = position("agent_id");
    pub const ACTION: usize = position("action");
    pub const AGENT_TYPE: usize = position("agent_type");
    pub const SESSION_ID: usize = position("session_id");
    pub const PARENT_ID: usize = position("parent_id");
    pub const TENANT: usize = position("tenant");
    pub const RESOURCE: usize = position("resource");
    pub const SRC_IP: usize = position("src_ip");
    pub const USER_AGENT: usize = position("user_agent");
    pub const EVENT_ID: usize = position("event_id");
    pub const OUTCOME: usize = position("outcome");
    pub const STATUS: usize = position("status");
    pub const LATENCY_MS: usize = position("latency_ms");
    pub const BYTES_OUT: usize = position("bytes_out");
    pub const BYTES_IN: usize = position("bytes_in");
    pub const LABEL: usize = position("label");
}

fn field_err<E: de::Error>(msg: impl fmt::Display) -> E {
    E::custom(format!("{FIELD_ERR}{msg}"))
}

impl<'de> Visitor<'de> for EventVisitor<'_> {
    type Value = CallEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object (one call event)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut ev = CallEvent::default();
        let (mut has_ts, mut has_agent, mut has_action) = (false, false, false);
        let mut seen = [false; CALL_EVENT_FIELDS.len()];
        let mut extra: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let key = key.0;
            let Some(idx) = field_index(&key) else {
                self.current.set("");
                let v: &'de RawValue = map.next_value()?;
                extra.push((key, v));
                continue;
            };
            let name = CALL_EVENT_FIELDS[idx];
            self.current.set(name);
            if std::mem::replace(&mut seen[idx], true) {
                return Err(field_err("appears more than once"));
            }
            match idx {
                at::TS => {
                    ev.ts_ms = map.next_value::<Ts>()?.0;
                    has_ts = true;
                }
                at::AGENT_ID => {
                    ev.agent_id = required_str(map.next_value::<OptStr>()?.0)?;
                    has_agent = true;
                }
                at::ACTION => {
                    ev.action = required_str(map.next_value::<OptStr>()?.0)?;
                    has_action = true;
                }
                at::AGENT_TYPE => {
                    if let Some(s) = map.next_value::<OptStr>()?.0 {
                        ev.agent_type = AgentType::parse(&s).ok_or_else(|| {
                            field_err(format!(
                                "unknown value `{s}` (expected ai_agent, service_account, api_key, workload, human or unknown)"
                            ))
                        })?;
                    }
                }
                at::OUTCOME => {
                    if let Some(s) = map.next_value::<OptStr>()?.0 {
                        ev.outcome = Outcome::parse(&s).ok_or_else(|| {
                            field_err(format!(
                                "unknown value `{s}` (expected success, denied or error)"
                            ))
                        })?;
                    }
                }
                at::SESSION_ID => ev.session_id = map.next_value::<OptStr>()?.0,
                at::PARENT_ID => ev.parent_id = map.next_value::<OptStr>()?.0,
                at::TENANT => ev.tenant = map.next_value::<OptStr>()?.0,
                at::RESOURCE => ev.resource = map.next_value::<OptStr>()?.0,
                at::SRC_IP => ev.src_ip = map.next_value::<OptStr>()?.0,
                at::USER_AGENT => ev.user_agent = map.next_value::<OptStr>()?.0,
                at::EVENT_ID => ev.event_id = map.next_value::<OptStr>()?.0,
                at::LABEL => {
                    ev.label = map
                        .next_value::<OptStr>()?
                        .0
                        .filter(|l| !l.is_empty() && l != "benign")
                }
                at::STATUS => ev.status = map.next_value::<Option<i64>>()?,
                at::LATENCY_MS => ev.latency_ms = non_negative(map.next_value::<Option<f64>>()?)?,
                at::BYTES_OUT => ev.bytes_out = byte_count(map.next_value::<Option<f64>>()?)?,
                at::BYTES_IN => ev.bytes_in = byte_count(map.next_value::<Option<f64>>()?)?,
                _ => unreachable!("every CALL_EVENT_FIELDS field has an arm"),
            }
            // The value parsed: errors from here on are not this field's.
            self.current.set("");
        }
        self.current.set("");
        for (present, name) in [
            (has_ts, "ts"),
            (has_agent, "agent_id"),
            (has_action, "action"),
        ] {
            if !present {
                self.current.set(name);
                return Err(field_err("required field is missing"));
            }
        }
        if !extra.is_empty() {
            ev.extra = Some(render_extra(
                extra.iter().map(|(k, v)| (k.as_ref(), v.get())),
            ));
        }
        Ok(ev)
    }
}

/// The unknown fields (each key with its value's JSON text) as one object.
pub(super) fn render_extra<'x>(extra: impl Iterator<Item = (&'x str, &'x str)>) -> String {
    let mut out = String::with_capacity(64);
    out.push('{');
    for (i, (k, v)) in extra.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).unwrap_or_else(|_| "\"?\"".into()));
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
    out
}

fn required_str<E: de::Error>(v: Option<Cow<'_, str>>) -> Result<Cow<'_, str>, E> {
    match v {
        Some(s) if !s.is_empty() => Ok(s),
        Some(_) => Err(field_err("must not be empty")),
        None => Err(field_err("must not be null")),
    }
}

pub(super) fn non_negative<E: de::Error>(v: Option<f64>) -> Result<Option<f64>, E> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => {
            Err(field_err(format!("must be a non-negative number, got {x}")))
        }
        other => Ok(other),
    }
}

pub(super) fn byte_count<E: de::Error>(v: Option<f64>) -> Result<Option<u64>, E> {
    Ok(non_negative(v)?.map(|x| x.round() as u64))
}

/// A string that borrows from the input when it can.
struct Str<'a>(Cow<'a, str>);
struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor).map(Str)
    }
}

/// An optional string: JSON null and absence are the same.
struct OptStr<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for OptStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<Str<'de>>::deserialize(d).map(|o| OptStr(o.map(|s| s.0)))
    }
}

/// `ts`: RFC 3339 text or integer epoch milliseconds.
struct Ts(i64);

impl<'de> de::Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 string or integer epoch milliseconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| field_err("epoch milliseconds out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(v as i64)
                } else {
                    Err(field_err(format!(
                        "expected integer epoch milliseconds, got {v}"
                    )))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
                parse_rfc3339_ms(v)
                    .ok_or_else(|| field_err(format!("`{v}` is not an RFC 3339 date-time")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
                Err(field_err("must not be null"))
            }
        }
        d.deserialize_any(V).map(Ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::decode_line;

    #[test]
    fn field_index_finds_each_schema_field_and_nothing_else() {
        for (i, name) in CALL_EVENT_FIELDS.iter().enumerate() {
            assert_eq!(field_index(name), Some(i), "{name}");
        }
        for (i, name) in [
            (at::TS, "ts"),
            (at::AGENT_ID, "agent_id"),
            (at::ACTION, "action"),
            (at::AGENT_TYPE, "agent_type"),
            (at::SESSION_ID, "session_id"),
            (at::PARENT_ID, "parent_id"),
            (at::TENANT, "tenant"),
            (at::RESOURCE, "resource"),
            (at::SRC_IP, "src_ip"),
            (at::USER_AGENT, "user_agent"),
            (at::EVENT_ID, "event_id"),
            (at::OUTCOME, "outcome"),
            (at::STATUS, "status"),
            (at::LATENCY_MS, "latency_ms"),
            (at::BYTES_OUT, "bytes_out"),
            (at::BYTES_IN, "bytes_in"),
            (at::LABEL, "label"),
        ] {
            assert_eq!(CALL_EVENT_FIELDS[i], name);
        }
        for other in [
            "", "t", "tss", "Ts", "src_ix", "statuS", "agent_ic", "labels", "é",
        ] {
            assert_eq!(field_index(other), None, "{other}");
        }
    }

    #[test]
    fn decodes_full_event_and_keeps_unknown_fields() {
        let line = r#"{"ts":"2026-11-20T10:00:00Z","agent_id":"a-1","action":"s3:GetObject","agent_type":"ai_agent","session_id":"s1","parent_id":"orch","tenant":"t","resource":"arn:x","src_ip":"10.0.0.1","user_agent":"ua","event_id":"e1","outcome":"denied","status":403,"latency_ms":12.5,"bytes_out":100,"bytes_in":7,"label":"exfil","region":"eu","nested":{"a":[1,2]}}"#;
        let ev = decode_line(line, 1).unwrap();
        assert_eq!(ev.ts_ms, 1_795_168_800_000);
        assert_eq!(ev.agent_id, "a-1");
        assert!(matches!(ev.agent_id, Cow::Borrowed(_)));
        assert_eq!(ev.agent_type, AgentType::AiAgent);
        assert_eq!(ev.outcome, Outcome::Denied);
        assert_eq!(ev.status, Some(403));
        assert_eq!(ev.bytes_out, Some(100));
        assert_eq!(ev.label.as_deref(), Some("exfil"));
        assert_eq!(
            ev.extra.as_deref(),
            Some(r#"{"region":"eu","nested":{"a":[1,2]}}"#)
        );
    }

    #[test]
    fn defaults_and_nulls() {
        let ev = decode_line(
            r#"{"ts":5,"agent_id":"a","action":"GET /x","session_id":null,"label":"benign","outcome":null}"#,
            3,
        )
        .unwrap();
        assert_eq!(ev.ts_ms, 5);
        assert_eq!(ev.agent_type, AgentType::Unknown);
        assert_eq!(ev.outcome, Outcome::Success);
        assert_eq!(ev.session_id, None);
        assert_eq!(ev.label, None);
        assert_eq!(ev.extra, None);
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let ev = decode_line(r#"{"ts":1,"agent_id":"a\"b","action":"x\u0041"}"#, 1).unwrap();
        assert_eq!(ev.agent_id, "a\"b");
        assert_eq!(ev.action, "xA");
    }

    fn err(line: &str) -> DecodeError {
        decode_line(line, 42).unwrap_err()
    }

    #[test]
    fn errors_name_line_field_and_reason() {
        let e = err(r#"{"ts":"yesterday","agent_id":"a","action":"x"}"#);
        assert_eq!(e.line, 42);
        assert_eq!(e.field.as_deref(), Some("ts"));
        assert!(e.reason.contains("RFC 3339"), "{e}");
        assert!(e.to_string().starts_with("line 42: field `ts`:"), "{e}");

        let e = err(r#"{"ts":1,"action":"x"}"#);
        assert_eq!(e.field.as_deref(), Some("agent_id"));
        assert!(e.reason.contains("missing"));

        let e = err(r#"{"ts":1,"agent_id":"","action":"x"}"#);
        assert_eq!(e.field.as_deref(), Some("agent_id"));

        let e = err(r#"{"ts":1,"agent_id":"a","action":"x","outcome":"maybe"}"#);
        assert_eq!(e.field.as_deref(), Some("outcome"));
        assert!(e.reason.contains("maybe"));

        let e = err(r#"{"ts":1,"agent_id":"a","action":"x","bytes_out":-3}"#);
        assert_eq!(e.field.as_deref(), Some("bytes_out"));

        let e = err(r#"{"ts":1,"agent_id":"a","action":"x","status":"ok"}"#);
        assert_eq!(e.field.as_deref(), Some("status"));

        let e = err(r#"{"ts":1.5,"agent_id":"a","action":"x"}"#);
        assert_eq!(e.field.as_deref(), Some("ts"));

        let e = err(r#"{"ts":1,"ts":2,"agent_id":"a","action":"x"}"#);
        assert_eq!(e.field.as_deref(), Some("ts"));
    }

    use proptest::prelude::*;

    fn json_str() -> impl Strategy<Value = String> {
        // Printable text plus quotes, backslashes and non-ASCII, to exercise escaping.
        proptest::string::string_regex("[a-zA-Z0-9 :/._\\\"\u{e9}\u{1F600}-]{1,24}").unwrap()
    }

    proptest! {
        #[test]
        fn field_index_agrees_with_a_scan_of_the_schema(
            key in prop_oneof![
                "[a-z_]{0,12}",
                proptest::sample::select(CALL_EVENT_FIELDS.to_vec()).prop_map(String::from),
                ".{0,12}",
            ]
        ) {
            let scan = CALL_EVENT_FIELDS.iter().position(|k| *k == key);
            prop_assert_eq!(field_index(&key), scan);
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            let _ = decode_line(&s, 1);
        }

        #[test]
        fn arbitrary_json_objects_never_panic(v in proptest::collection::btree_map("[a-z_]{1,10}", prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)),
            ".{0,12}".prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
        ], 0..12)) {
            let line = serde_json::to_string(&v).unwrap();
            let _ = decode_line(&line, 1);
        }

        #[test]
        fn valid_events_round_trip(ts in 0i64..4_102_444_800_000, agent in json_str(), action in json_str(),
                                   session in proptest::option::of(json_str()), bytes in proptest::option::of(0u64..1u64 << 50),
                                   outcome in 0usize..3, extra_key in "x_[a-z]{1,8}", extra_val in any::<i32>()) {
            let outcome_s = ["success", "denied", "error"][outcome];
            let v = serde_json::json!({
                "ts": ts, "agent_id": agent, "action": action, "session_id": session,
                "bytes_out": bytes, "outcome": outcome_s, extra_key.clone(): extra_val,
            });
            let line = serde_json::to_string(&v).unwrap();
            let ev = decode_line(&line, 9).unwrap();
            prop_assert_eq!(ev.ts_ms, ts);
            prop_assert_eq!(ev.agent_id.as_ref(), agent.as_str());
            prop_assert_eq!(ev.action.as_ref(), action.as_str());
            prop_assert_eq!(ev.session_id.as_deref(), session.as_deref());
            prop_assert_eq!(ev.bytes_out, bytes);
            prop_assert_eq!(ev.outcome.as_str(), outcome_s);
            let extra: serde_json::Value = serde_json::from_str(ev.extra.as_deref().unwrap()).unwrap();
            prop_assert_eq!(&extra[&extra_key], &serde_json::json!(extra_val));
        }

        #[test]
        fn rfc3339_and_epoch_ms_agree(ts in 0i64..4_102_444_800_000) {
            let text = crate::event::format_rfc3339_ms(ts);
            let line = format!(r#"{{"ts":"{text}","agent_id":"a","action":"b"}}"#);
            prop_assert_eq!(decode_line(&line, 1).unwrap().ts_ms, ts);
        }
    }

    #[test]
    fn syntax_errors_have_no_field_but_a_column() {
        let e = err(r#"{"ts":1,"agent_id":"a","action":"x""#);
        assert_eq!(e.field, None);
        assert!(e.reason.contains("column"), "{e}");
        let e = err("[1,2]");
        assert_eq!(e.field, None);
        let e = err(r#"{"ts":1,"agent_id":"a","action":"x"} trailing"#);
        assert_eq!(e.field, None);
        assert!(err("").reason.contains("EOF"));
    }
}
