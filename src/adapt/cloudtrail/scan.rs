//! CloudTrail S3 objects of the common shape, read in one pass.
//!
//! A delivery object is `{"Records":[...]}`. serde_json reads one with a
//! visitor per value and a key matched after it is deserialized, and that
//! machinery cost the CloudTrail path more than the rest of the replay.
//! This reads the same `Record`s in one pass over the bytes with
//! `event::Cursor`, exactly as the derived readers would (lenient fields
//! included; escapes decoded in the fields read and checked in the values
//! skipped, as in the policy documents of `requestParameters`), and gives
//! up at the first thing it does not read exactly as serde_json does: an
//! escape in a key it matches or of a UTF-16 surrogate, a number or boolean
//! where text is read, a repeated field, a key beside `Records`, any syntax
//! error. Then `envelope` reads the object
//! with serde_json, past the records handed over here, so errors and the
//! records after them are what they always were.

use super::{BytesData, Identity, Issuer, Params, Record, Resource, SessionContext};
use crate::adapt::Text;
use crate::event::{Cursor, JsonValue};

/// Hands each record of `raw` to `each`, in order. `Ok` with the count
/// when the whole object was read; `Err` with the count handed over
/// before giving up (the rest is for serde_json).
pub(in crate::adapt) fn each_record<'a>(
    raw: &'a str,
    each: &mut dyn FnMut(Record<'a>),
) -> Result<usize, usize> {
    let mut c = Cursor::new(raw);
    let mut count = 0;
    match object(&mut c, each, &mut count) {
        Some(()) => Ok(count),
        None => Err(count),
    }
}

fn object<'a>(
    c: &mut Cursor<'a>,
    each: &mut dyn FnMut(Record<'a>),
    count: &mut usize,
) -> Option<()> {
    c.expect(b'{')?;
    c.expect(b'"')?;
    (c.string()? == "Records").then_some(())?;
    c.expect(b':')?;
    c.expect(b'[')?;
    if !c.eat(b']') {
        loop {
            c.expect(b'{')?;
            each(record(c)?);
            *count += 1;
            match c.next_byte()? {
                b',' => continue,
                b']' => break,
                _ => return None,
            }
        }
    }
    c.expect(b'}')?;
    c.at_end().then_some(())
}

/// Reads the members of an object whose `{` was read: `field` is given
/// each key and reads its value (`Some(false)` when the key is not one it
/// reads, and the value is then skipped). A key read twice gives up, as
/// the derived reader refuses it.
fn members<'a>(
    c: &mut Cursor<'a>,
    mut field: impl FnMut(&mut Cursor<'a>, &'a str, &mut u32) -> Option<bool>,
) -> Option<()> {
    if c.eat(b'}') {
        return Some(());
    }
    let mut seen = 0u32;
    loop {
        c.expect(b'"')?;
        let key = c.string()?;
        c.expect(b':')?;
        if !field(c, key, &mut seen)? {
            c.skip_value()?;
        }
        match c.next_byte()? {
            b',' => continue,
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

/// Marks field `bit` read; `None` when it was read before.
fn first(seen: &mut u32, bit: u32) -> Option<()> {
    let b = 1 << bit;
    (*seen & b == 0).then(|| *seen |= b)
}

/// A `Text` field: a string (borrowed unless it has escapes); null, an
/// object or an array, absent. Numbers and booleans (which `Text` renders)
/// are left to serde_json.
fn text<'a>(c: &mut Cursor<'a>) -> Option<Text<'a>> {
    match c.peek()? {
        b'"' => {
            c.i += 1;
            c.text().map(|s| Text(Some(s)))
        }
        b'n' => matches!(c.value()?, JsonValue::Null).then_some(Text(None)),
        b'{' | b'[' => c.skip_value().map(|_| Text(None)),
        _ => None,
    }
}

/// A `lenient` object: `read` reads its members when it is an object;
/// strings, null, arrays read as absent. Numbers and booleans are left to
/// serde_json (it converts them before they are dropped, and may refuse).
fn lenient<'a, T>(c: &mut Cursor<'a>, read: fn(&mut Cursor<'a>) -> Option<T>) -> Option<Option<T>> {
    match c.peek()? {
        b'{' => {
            c.i += 1;
            read(c).map(Some)
        }
        b'"' | b'n' | b'[' => c.skip_value().map(|_| None),
        _ => None,
    }
}

/// A `Text` field under `lenient_f64`: the text, trimmed and parsed. An
/// unsigned integer literal of up to 19 digits reads as serde_json renders
/// it (its own digits); other numbers are left to serde_json.
fn lenient_f64(c: &mut Cursor<'_>) -> Option<Option<f64>> {
    match c.peek()? {
        b'0'..=b'9' => match c.value()? {
            JsonValue::Int(n) if n.len() <= 19 => Some(n.parse().ok()),
            _ => None,
        },
        _ => Some(text(c)?.0.and_then(|t| t.trim().parse().ok())),
    }
}

fn record<'a>(c: &mut Cursor<'a>) -> Option<Record<'a>> {
    let mut r = Record::default();
    members(c, |c, key, seen| {
        let (bit, slot) = match key {
            "eventTime" => (0, &mut r.event_time),
            "eventSource" => (1, &mut r.event_source),
            "eventName" => (2, &mut r.event_name),
            "sourceIPAddress" => (3, &mut r.source_ip_address),
            "userAgent" => (4, &mut r.user_agent),
            "errorCode" => (5, &mut r.error_code),
            "eventID" => (6, &mut r.event_id),
            "recipientAccountId" => (7, &mut r.recipient_account_id),
            "awsRegion" => (8, &mut r.aws_region),
            "eventType" => (9, &mut r.event_type),
            "userIdentity" => {
                first(seen, 10)?;
                r.user_identity = lenient(c, identity)?;
                return Some(true);
            }
            "resources" => {
                first(seen, 11)?;
                r.resources = resources(c)?;
                return Some(true);
            }
            "requestParameters" => {
                first(seen, 12)?;
                r.request_parameters = lenient(c, params)?;
                return Some(true);
            }
            "additionalEventData" => {
                first(seen, 13)?;
                r.additional_event_data = lenient(c, bytes_data)?;
                return Some(true);
            }
            _ => return Some(false),
        };
        first(seen, bit)?;
        *slot = text(c)?;
        Some(true)
    })?;
    Some(r)
}

fn identity<'a>(c: &mut Cursor<'a>) -> Option<Identity<'a>> {
    let mut id = Identity::default();
    members(c, |c, key, seen| {
        let (bit, slot) = match key {
            "type" => (0, &mut id.kind),
            "principalId" => (1, &mut id.principal_id),
            "arn" => (2, &mut id.arn),
            "accountId" => (3, &mut id.account_id),
            "accessKeyId" => (4, &mut id.access_key_id),
            "userName" => (5, &mut id.user_name),
            "invokedBy" => (6, &mut id.invoked_by),
            "sessionContext" => {
                first(seen, 7)?;
                id.session_context = lenient(c, session_context)?;
                return Some(true);
            }
            _ => return Some(false),
        };
        first(seen, bit)?;
        *slot = text(c)?;
        Some(true)
    })?;
    Some(id)
}

fn session_context<'a>(c: &mut Cursor<'a>) -> Option<SessionContext<'a>> {
    let mut s = SessionContext::default();
    members(c, |c, key, seen| {
        match key {
            "sessionIssuer" => {
                first(seen, 0)?;
                s.session_issuer = lenient(c, issuer)?;
            }
            "sourceIdentity" => {
                first(seen, 1)?;
                s.source_identity = text(c)?;
            }
            _ => return Some(false),
        }
        Some(true)
    })?;
    Some(s)
}

fn issuer<'a>(c: &mut Cursor<'a>) -> Option<Issuer<'a>> {
    let mut i = Issuer::default();
    members(c, |c, key, seen| {
        if key != "arn" {
            return Some(false);
        }
        first(seen, 0)?;
        i.arn = text(c)?;
        Some(true)
    })?;
    Some(i)
}

fn resource<'a>(c: &mut Cursor<'a>) -> Option<Resource<'a>> {
    let mut r = Resource::default();
    members(c, |c, key, seen| {
        if key != "ARN" {
            return Some(false);
        }
        first(seen, 0)?;
        r.arn = text(c)?;
        Some(true)
    })?;
    Some(r)
}

/// `lenient_vec` of resources: the objects of an array (other elements
/// left out); anything but an array reads as empty.
fn resources<'a>(c: &mut Cursor<'a>) -> Option<Vec<Resource<'a>>> {
    let mut out = Vec::new();
    match c.peek()? {
        b'[' => {
            c.i += 1;
            if c.eat(b']') {
                return Some(out);
            }
            loop {
                out.extend(lenient(c, resource)?);
                match c.next_byte()? {
                    b',' => continue,
                    b']' => return Some(out),
                    _ => return None,
                }
            }
        }
        b'{' | b'"' | b'n' => c.skip_value().map(|_| out),
        _ => None,
    }
}

fn params<'a>(c: &mut Cursor<'a>) -> Option<Params<'a>> {
    let mut p = Params::default();
    members(c, |c, key, seen| {
        let (bit, slot) = match key {
            "bucketName" => (0, &mut p.bucket_name),
            "key" => (1, &mut p.key),
            "roleName" => (2, &mut p.role_name),
            "userName" => (3, &mut p.user_name),
            "policyArn" => (4, &mut p.policy_arn),
            "secretId" => (5, &mut p.secret_id),
            "functionName" => (6, &mut p.function_name),
            "instanceId" => (7, &mut p.instance_id),
            "name" => (8, &mut p.name),
            "keyId" => (9, &mut p.key_id),
            "trailName" => (10, &mut p.trail_name),
            "groupName" => (11, &mut p.group_name),
            _ => return Some(false),
        };
        first(seen, bit)?;
        *slot = text(c)?;
        Some(true)
    })?;
    Some(p)
}

fn bytes_data(c: &mut Cursor<'_>) -> Option<BytesData> {
    let mut b = BytesData::default();
    members(c, |c, key, seen| {
        if key != "bytesTransferredOut" {
            return Some(false);
        }
        first(seen, 0)?;
        b.bytes_transferred_out = lenient_f64(c)?;
        Some(true)
    })?;
    Some(b)
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
