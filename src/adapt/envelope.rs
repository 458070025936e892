//! Envelopes: CloudTrail S3 objects (`{"Records":[...]}`), Kubernetes
//! `EventList`s and JSON arrays are unwrapped into their records; a broken
//! envelope still yields the records before the break.

use super::{AdaptError, CallEvent};
use crate::event::prefix;
use serde_json::value::RawValue;

/// Whether `head` (a line's first bytes) holds `"Records"`, a CloudTrail
/// envelope's key. Fixed-size comparisons: format detection asks this of
/// every line, and `str::contains` with a string pattern cost more than
/// the rest of that check.
pub(super) fn names_records(head: &str) -> bool {
    const KEY: &[u8; 9] = b"\"Records\"";
    head.as_bytes()
        .windows(KEY.len())
        .any(|w| <&[u8; 9]>::try_from(w).is_ok_and(|w| w == KEY))
}

/// Maps every record of a CloudTrail S3 object `{"Records":[...]}` in one
/// streaming parse, handing each to `each` as soon as it is read (no
/// intermediate vector of records). `None` when `raw` is not such an object
/// (use `records_salvaged` then); otherwise how many records were handed
/// over and, when the object broke part-way, the error after them.
///
/// The common shape is read by `cloudtrail::each_record`; where it gives
/// up, serde_json reads the object again and hands over only the records
/// after those, so what is handed over, and any error, is the same either
/// way.
pub(crate) fn for_each_cloudtrail_record<'a, F>(
    raw: &'a str,
    line: u64,
    mut each: F,
) -> Option<(usize, Option<serde_json::Error>)>
where
    F: FnMut(usize, Result<CallEvent<'a>, AdaptError>),
{
    if !names_records(prefix(raw.trim_start(), 16)) {
        return None;
    }
    let mut count = 0usize;
    let scanned = super::cloudtrail::each_record(raw, &mut |rec| {
        each(count, super::cloudtrail::from_record(rec, line));
        count += 1;
    });
    Some(match scanned {
        Ok(n) => (n, None),
        Err(n) => serde_each_record(raw, line, n, each),
    })
}

/// The records of a CloudTrail S3 object read by serde_json, as
/// `for_each_cloudtrail_record` hands them over, except the first `skip`
/// (read, not handed over: the scanner handed them over already).
fn serde_each_record<'a, F>(
    raw: &'a str,
    line: u64,
    skip: usize,
    mut each: F,
) -> (usize, Option<serde_json::Error>)
where
    F: FnMut(usize, Result<CallEvent<'a>, AdaptError>),
{
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct Records<'f, F> {
        each: &'f mut F,
        line: u64,
        count: &'f mut usize,
        /// Records already handed over, stepped past.
        skip: &'f mut usize,
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
            // Records the scanner handed over are only stepped past: serde
            // reads them as it reads a `Record` (they are well formed, or
            // the scanner would have given up there), without building one.
            while *self.skip > 0 {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    return Ok(());
                }
                *self.skip -= 1;
            }
            while let Some(rec) = seq.next_element::<super::cloudtrail::Record<'de>>()? {
                (self.each)(*self.count, super::cloudtrail::from_record(rec, self.line));
                *self.count += 1;
            }
            Ok(())
        }
    }
    struct Object<'f, F> {
        each: &'f mut F,
        line: u64,
        count: &'f mut usize,
        skip: &'f mut usize,
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
                        skip: &mut *self.skip,
                    })?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }
    let mut count = skip;
    let mut skip = skip;
    let mut de = serde_json::Deserializer::from_str(raw);
    let r = serde::Deserializer::deserialize_map(
        &mut de,
        Object {
            each: &mut each,
            line,
            count: &mut count,
            skip: &mut skip,
        },
    )
    .and_then(|_| de.end());
    (count, r.err())
}

/// For the fuzz harness and tests: panics when the one-pass reading of a
/// CloudTrail object hands over anything other than serde_json's reading
/// does (records, their errors, the count, the error after them).
pub(crate) fn assert_cloudtrail_agrees_with_serde(raw: &str) {
    type Seen<'a> = Vec<(usize, Result<CallEvent<'a>, String>)>;
    let (mut fast, mut slow): (Seen, Seen) = (Vec::new(), Vec::new());
    let Some((n, e)) = for_each_cloudtrail_record(raw, 1, |i, r| {
        fast.push((i, r.map_err(|e| e.0.to_string())))
    }) else {
        return;
    };
    let (m, f) = serde_each_record(raw, 1, 0, |i, r| {
        slow.push((i, r.map_err(|e| e.0.to_string())))
    });
    let text = |e: Option<serde_json::Error>| e.map(|e| e.to_string());
    assert_eq!((n, text(e)), (m, text(f)), "count or error differ: {raw:?}");
    assert!(fast == slow, "records differ: {raw:?}");
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
    let head = prefix(t, 64);
    head.contains("\"Records\"")
        || raw.contains("\"EventList\"")
        || (raw.contains("\"items\"") && raw.contains("List\""))
}

/// The records inside one top-level JSON value: the elements of an array, of
/// a CloudTrail `Records` envelope or a Kubernetes list's `items`, or the
/// value itself. When the value is truncated or broken part-way, the records
/// before the break are returned along with the error.
pub(crate) fn records_salvaged(raw: &str) -> (Vec<&str>, Option<serde_json::Error>) {
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
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn names_records_is_contains(head in "[{}\":,a-zRecords ]{0,16}|\\{\"ts\":\"Records\".{0,4}") {
            prop_assert_eq!(names_records(&head), head.contains("\"Records\""));
        }
    }
}
