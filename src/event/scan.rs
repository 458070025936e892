//! The common shape of a canonical line, decoded by one pass over its bytes.
//!
//! Nearly every line a replay or the stream reads is a flat object whose
//! strings carry no escapes and whose values are strings, numbers or null.
//! For those, serde_json's general machinery (a visitor per value, a key
//! deserialized before it is matched) costs as much as the whole parse
//! floor. This scanner reads exactly that shape and nothing else: at the
//! first thing outside it (an escape, a nested value, a number it cannot
//! convert exactly as serde_json would, any error) it gives up, and
//! `decode_line` decodes the line with serde_json as before. So every line
//! that has a problem is still reported by the serde path, with its field
//! and column, and every line this accepts decodes to the same event, bit
//! for bit (tested against the serde path, and fuzzed with it).

use super::cursor::{Cursor, Value};
use super::decode::{at, byte_count, field_index, non_negative, render_extra};
use super::{parse_rfc3339_ms, AgentType, CallEvent, Outcome};
use std::borrow::Cow;

/// The event of `line` when it has the common shape; `None` sends it to
/// the serde path, which decodes it or says what is wrong with it.
pub(super) fn decode_plain(line: &str) -> Option<CallEvent<'_>> {
    let mut c = Cursor::new(line);
    c.expect(b'{')?;
    let mut ev = CallEvent::default();
    let mut seen = 0u32;
    let mut extra: Vec<(&str, &str)> = Vec::new();
    loop {
        c.expect(b'"')?;
        let key = c.string()?;
        c.expect(b':')?;
        c.skip_ws();
        let start = c.i;
        let value = c.value()?;
        match field_index(key) {
            None => extra.push((key, line.get(start..c.i)?)),
            Some(idx) => {
                let bit = 1u32 << idx;
                if seen & bit != 0 {
                    return None; // a repeated field: the serde path names it
                }
                seen |= bit;
                assign(&mut ev, idx, value)?;
            }
        }
        match c.next_byte()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    c.skip_ws();
    let required = (1 << at::TS) | (1 << at::AGENT_ID) | (1 << at::ACTION);
    if c.i != line.len() || seen & required != required {
        return None;
    }
    if !extra.is_empty() {
        ev.extra = Some(render_extra(extra.into_iter()));
    }
    Some(ev)
}

/// Sets field `idx` of `ev` from `v` exactly as the serde visitor does, or
/// `None` where the visitor would fail or would convert differently.
fn assign<'a>(ev: &mut CallEvent<'a>, idx: usize, v: Value<'a>) -> Option<()> {
    match idx {
        at::TS => {
            ev.ts_ms = match v {
                Value::Str(s) => parse_rfc3339_ms(s)?,
                Value::Int(n) => integer(n)?,
                _ => return None,
            }
        }
        at::AGENT_ID => ev.agent_id = Cow::Borrowed(non_empty(v)?),
        at::ACTION => ev.action = Cow::Borrowed(non_empty(v)?),
        at::AGENT_TYPE => {
            if let Some(s) = opt_str(v)? {
                ev.agent_type = AgentType::parse(s)?;
            }
        }
        at::OUTCOME => {
            if let Some(s) = opt_str(v)? {
                ev.outcome = Outcome::parse(s)?;
            }
        }
        at::SESSION_ID => ev.session_id = opt_str(v)?.map(Cow::Borrowed),
        at::PARENT_ID => ev.parent_id = opt_str(v)?.map(Cow::Borrowed),
        at::TENANT => ev.tenant = opt_str(v)?.map(Cow::Borrowed),
        at::RESOURCE => ev.resource = opt_str(v)?.map(Cow::Borrowed),
        at::SRC_IP => ev.src_ip = opt_str(v)?.map(Cow::Borrowed),
        at::USER_AGENT => ev.user_agent = opt_str(v)?.map(Cow::Borrowed),
        at::EVENT_ID => ev.event_id = opt_str(v)?.map(Cow::Borrowed),
        at::LABEL => {
            ev.label = opt_str(v)?
                .filter(|l| !l.is_empty() && *l != "benign")
                .map(Cow::Borrowed)
        }
        at::STATUS => {
            ev.status = match v {
                Value::Null => None,
                Value::Int(n) => Some(integer(n)?),
                _ => return None,
            }
        }
        at::LATENCY_MS => ev.latency_ms = non_negative::<serde_json::Error>(opt_f64(v)?).ok()?,
        at::BYTES_OUT => ev.bytes_out = byte_count::<serde_json::Error>(opt_f64(v)?).ok()?,
        at::BYTES_IN => ev.bytes_in = byte_count::<serde_json::Error>(opt_f64(v)?).ok()?,
        _ => return None,
    }
    Some(())
}

fn non_empty(v: Value<'_>) -> Option<&str> {
    match v {
        Value::Str(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// `Some(None)` for null, `None` for anything but a string or null.
fn opt_str(v: Value<'_>) -> Option<Option<&str>> {
    match v {
        Value::Null => Some(None),
        Value::Str(s) => Some(Some(s)),
        _ => None,
    }
}

/// An integer literal as serde_json hands it to an `i64` visitor (`ts`,
/// `status`), when it is within `i64`. Anything else goes to the serde
/// path, which accepts some (`5.0` for a `ts`) and rejects the rest with
/// its own words.
fn integer(n: &str) -> Option<i64> {
    // serde_json reads `-0` as the float -0.0, which an `i64` visitor
    // takes or refuses by its own rules.
    n.parse().ok().filter(|&v| v != 0 || !n.starts_with('-'))
}

/// A number as serde_json hands it to an `f64` visitor. An integer literal
/// is read as an integer and converted (`-0` is -0.0, as serde_json makes
/// it); a decimal is parsed with correct rounding, as serde_json's
/// `float_roundtrip` does. Out-of-range values and very long exponents go
/// to the serde path.
fn opt_f64(v: Value<'_>) -> Option<Option<f64>> {
    let n = match v {
        Value::Null => return Some(None),
        Value::Int(n) if n.starts_with('-') => {
            return Some(Some(match n.parse::<i64>().ok()? {
                0 => -0.0,
                v => v as f64,
            }))
        }
        Value::Int(n) => return Some(Some(n.parse::<u64>().ok()? as f64)),
        Value::Dec(n) => n,
        _ => return None,
    };
    if n.len() > 40 {
        return None;
    }
    let x: f64 = n.parse().ok()?;
    (x.is_finite() && x != 0.0 || is_plain_zero(n)).then_some(Some(x))
}

/// A decimal whose digits are all zero (so 0.0 is its exact value, not an
/// underflow that serde_json might treat otherwise).
fn is_plain_zero(n: &str) -> bool {
    let mantissa = n.split(['e', 'E']).next().unwrap_or(n);
    mantissa.bytes().all(|b| matches!(b, b'0' | b'.' | b'-'))
}

/// For the fuzz harness (`stream::fuzz_decode`): panics when the scanner
/// accepts `line` and decodes it other than the serde path does.
pub(crate) fn assert_agrees_with_serde(line: &str) {
    if let Some(ev) = decode_plain(line) {
        let slow = super::decode::decode_with_serde(line, 1)
            .unwrap_or_else(|e| panic!("scanned a line serde rejects ({e}): {line:?}"));
        let bits = |e: &CallEvent<'_>| e.latency_ms.map(f64::to_bits);
        assert!(
            ev == slow && bits(&ev) == bits(&slow),
            "scanned differently: {line:?}"
        );
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
