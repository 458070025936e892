//! Input adapters: the log formats teams already have, mapped to the
//! canonical call event. `docs/adapters.md` has the field-by-field mapping.
//!
//! A record may arrive alone (one per Kafka message or JSON line), inside an
//! envelope (CloudTrail's S3 objects `{"Records":[...]}`, Kubernetes
//! `EventList`s, JSON arrays), or pretty-printed across lines; `records`
//! unwraps envelopes and `map_record` maps one record in a given format, or
//! in whichever format it looks like (`Format::Auto`).

mod cloudtrail;
mod k8s;
mod ocsf;

use crate::event::{decode_line, CallEvent, DecodeError};
use serde::Deserialize;
use serde_json::value::RawValue;

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

/// An optional text field that never fails its record: strings (borrowed
/// when unescaped) and numbers are kept as text; null, objects and arrays
/// read as absent. Source logs are inconsistent about optional fields; only a
/// required field may reject a record.
#[derive(Debug, Default, Clone)]
pub(crate) struct Text<'a>(pub Option<std::borrow::Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        use std::borrow::Cow;
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                d.deserialize_any(V(std::marker::PhantomData))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A nested object that, when it has an unexpected shape (a string where an
/// object belongs), reads as absent; read in the same pass.
pub(crate) fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    use serde::de::{value::MapAccessDeserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
            while s.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// `Text` for fields declared `Option<Cow<str>>`.
pub(crate) fn lenient_str<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<std::borrow::Cow<'a, str>>, D::Error> {
    Text::deserialize(d).map(|t| t.0)
}

/// An array whose elements of an unexpected shape are left out; a
/// non-array reads as empty. One pass.
pub(crate) fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Item<T>(Option<T>);
    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Item<T> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            lenient(d).map(Item)
        }
    }
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(Item(v)) = s.next_element::<Item<T>>()? {
                out.extend(v);
            }
            Ok(out)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Vec<T>, A::Error> {
            while m
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// A number that may arrive as text, as a float.
pub(crate) fn lenient_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Text::deserialize(d)?.0.and_then(|t| t.trim().parse().ok()))
}

/// A number that may arrive as text (`"403"`); anything else reads as absent.
pub(crate) fn lenient_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Text::deserialize(d)?.0.and_then(|t| t.trim().parse().ok()))
}

/// Strings of an array, each lenient; a non-array reads as empty.
pub(crate) fn lenient_strs<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<std::borrow::Cow<'a, str>>, D::Error> {
    struct V<'a>(std::marker::PhantomData<&'a ()>);
    impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
        type Value = Vec<std::borrow::Cow<'a, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of strings")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut s: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(t) = s.next_element::<Text<'a>>()? {
                out.extend(t.0);
            }
            Ok(out)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            while m
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V(std::marker::PhantomData))
}

/// Timestamps as found in source logs: RFC 3339, or the `YYYY-MM-DD
/// HH:MM:SS[.ffffff]` form (UTC, no offset) that log lakes such as Athena
/// and Panther export.
pub(crate) fn parse_log_time(s: &str) -> Option<i64> {
    if let Some(ms) = crate::event::parse_rfc3339_ms(s) {
        return Some(ms);
    }
    let b = s.as_bytes();
    if b.len() >= 19
        && b[10] == b' '
        && !s[19..].contains(['+', 'Z', 'z'])
        && !s[19..].contains('-')
    {
        let mut t = String::with_capacity(s.len() + 1);
        t.push_str(&s[..10]);
        t.push('T');
        t.push_str(&s[11..]);
        t.push('Z');
        return crate::event::parse_rfc3339_ms(&t);
    }
    None
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

/// Maps every record of a CloudTrail S3 object `{"Records":[...]}` in one
/// streaming parse, handing each to `each` as soon as it is read (no
/// intermediate vector of records). `None` when `raw` is not such an object
/// (use `records_salvaged` then); otherwise how many records were handed
/// over and, when the object broke part-way, the error after them.
pub fn for_each_cloudtrail_record<'a, F>(
    raw: &'a str,
    line: u64,
    each: F,
) -> Option<(usize, Option<serde_json::Error>)>
where
    F: FnMut(usize, Result<CallEvent<'a>, AdaptError>),
{
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    let head = raw.trim_start();
    if !head[..head.len().min(16)].contains("\"Records\"") {
        return None;
    }
    struct Records<'f, F> {
        each: &'f mut F,
        line: u64,
        count: &'f mut usize,
    }
    impl<'de, F: FnMut(usize, Result<CallEvent<'de>, AdaptError>)> DeserializeSeed<'de>
        for Records<'_, F>
    {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de, F: FnMut(usize, Result<CallEvent<'de>, AdaptError>)> Visitor<'de> for Records<'_, F> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of CloudTrail records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(rec) = seq.next_element::<cloudtrail::Record<'de>>()? {
                (self.each)(*self.count, cloudtrail::from_record(rec, self.line));
                *self.count += 1;
            }
            Ok(())
        }
    }
    struct Object<'f, F> {
        each: &'f mut F,
        line: u64,
        count: &'f mut usize,
    }
    impl<'de, F: FnMut(usize, Result<CallEvent<'de>, AdaptError>)> Visitor<'de> for Object<'_, F> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a CloudTrail S3 object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key == "Records" {
                    map.next_value_seed(Records {
                        each: &mut *self.each,
                        line: self.line,
                        count: &mut *self.count,
                    })?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }
    let mut each = each;
    let mut count = 0usize;
    let mut de = serde_json::Deserializer::from_str(raw);
    let r = serde::Deserializer::deserialize_map(
        &mut de,
        Object {
            each: &mut each,
            line,
            count: &mut count,
        },
    )
    .and_then(|_| de.end());
    Some((count, r.err()))
}

/// Collects the elements of a JSON array as raw text, one by one, into a
/// vector owned by the caller, so the elements before a syntax error (a
/// truncated file) survive the error.
struct Collect<'c, 'a>(&'c mut Vec<&'a str>);

impl<'de: 'a, 'a> serde::de::DeserializeSeed<'de> for Collect<'_, 'a> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de: 'a, 'a> serde::de::Visitor<'de> for Collect<'_, 'a> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<&'de RawValue>()? {
            self.0.push(v.get());
        }
        Ok(())
    }
}

/// `Records` / `items` of an envelope object, collected as above.
struct CollectEnvelope<'c, 'a>(&'c mut Vec<&'a str>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for CollectEnvelope<'_, 'a> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an envelope object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Records" || key == "items" {
                map.next_value_seed(Collect(&mut *self.0))?;
                found = true;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

fn looks_like_envelope(raw: &str) -> bool {
    let t = raw.trim_start();
    let head = &t[..t.len().min(64)];
    head.contains("\"Records\"")
        || raw.contains("\"EventList\"")
        || (raw.contains("\"items\"") && raw.contains("List\""))
}

/// The records inside one top-level JSON value: the elements of an array, of
/// a CloudTrail `Records` envelope or a Kubernetes list's `items`, or the
/// value itself. When the value is truncated or broken part-way, the records
/// before the break are returned along with the error.
pub fn records_salvaged(raw: &str) -> (Vec<&str>, Option<serde_json::Error>) {
    use serde::de::DeserializeSeed;
    let mut out = Vec::new();
    let t = raw.trim_start();
    if t.starts_with('[') {
        let mut de = serde_json::Deserializer::from_str(raw);
        let r = Collect(&mut out)
            .deserialize(&mut de)
            .and_then(|_| de.end());
        return (out, r.err());
    }
    if t.starts_with('{') && looks_like_envelope(raw) {
        let mut de = serde_json::Deserializer::from_str(raw);
        let r = serde::Deserializer::deserialize_map(&mut de, CollectEnvelope(&mut out));
        return match r.and_then(|found| de.end().map(|_| found)) {
            Ok(true) => (out, None),
            Ok(false) => (vec![raw], None),
            Err(e) => (out, Some(e)),
        };
    }
    (vec![raw], None)
}

/// `records_salvaged`, all or nothing.
pub fn records(raw: &str) -> Result<Vec<&str>, serde_json::Error> {
    match records_salvaged(raw) {
        (r, None) => Ok(r),
        (_, Some(e)) => Err(e),
    }
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
