//! One record, whatever its format, into canonical call events. Both the
//! file reader (`input`) and the Kafka consumer (`stream`) decode through
//! this, so a record means the same on the bus as in a file.

use super::{AdaptError, Format, Mapped};
use crate::event::{decode_line, prefix, CallEvent, DecodeError};

/// Turns one top-level JSON value (a line of a file, or one Kafka record)
/// into call events, whatever format it is in.
pub(crate) struct RecordDecoder<'o> {
    pub format: Format,
    pub k8s_stage: &'o str,
    /// Events dated after this (ms since the epoch) are bad records: event
    /// time is written by the caller, and one record dated in 2100 would
    /// otherwise move every clock that only goes forward.
    pub latest_ts_ms: i64,
    /// Size limits on each call's text.
    pub limits: super::FieldLimits,
}

/// Longest error reason passed on. Reasons may quote the bad value (a
/// parser's "invalid type: string …" does), and the value is the
/// attacker's: a 200 KB field must not become a 200 KB log line and
/// dead-letter header.
const MAX_REASON_BYTES: usize = 256;

fn cap_reason(e: &mut DecodeError) {
    if e.reason.len() > MAX_REASON_BYTES {
        let keep = crate::event::prefix(&e.reason, MAX_REASON_BYTES).len();
        e.reason.truncate(keep);
        e.reason.push_str("… (cut)");
    }
}

/// The latest event time accepted now: this machine's clock plus `skew_ms`.
pub(crate) fn latest_ts_from_now(skew_ms: i64) -> i64 {
    latest_ts_from(crate::event::now_ms(), skew_ms)
}

/// The same, as of `now_ms` (a caller that already read the clock).
pub(crate) fn latest_ts_from(now_ms: i64, skew_ms: i64) -> i64 {
    now_ms.saturating_add(skew_ms.max(0))
}

impl RecordDecoder<'_> {
    /// Events go to `push`, bad records (with `line` and, inside envelopes,
    /// the record index) to `bad`. Returns the records deliberately skipped.
    pub fn decode(
        &self,
        raw: &str,
        line: u64,
        push: &mut dyn FnMut(&CallEvent<'_>),
        bad: &mut dyn FnMut(DecodeError),
    ) -> u64 {
        let (latest, limits) = (self.latest_ts_ms, self.limits);
        // Collected, then reported: `bad` is lent to the decoders meanwhile.
        // Empty (no allocation) unless an event breaks a limit.
        let mut refused: Vec<DecodeError> = Vec::new();
        let skipped = self.decode_any(
            raw,
            line,
            &mut |ev| {
                if ev.ts_ms > latest {
                    refused.push(DecodeError {
                        line,
                        record: None,
                        field: Some("ts".into()),
                        reason: format!(
                            "event time {} ms is {} s ahead of the latest accepted \
                             ([input] max_future_skew_seconds past this machine's clock)",
                            ev.ts_ms,
                            (ev.ts_ms as i128 - latest as i128) / 1000
                        ),
                    });
                } else {
                    match limits.apply(ev, line) {
                        Ok(None) => push(ev),
                        Ok(Some(cut)) => push(&cut),
                        Err(e) => refused.push(e),
                    }
                }
            },
            &mut |mut e| {
                cap_reason(&mut e);
                bad(e)
            },
        );
        for e in refused {
            bad(e);
        }
        skipped
    }

    fn decode_any(
        &self,
        raw: &str,
        line: u64,
        push: &mut dyn FnMut(&CallEvent<'_>),
        bad: &mut dyn FnMut(DecodeError),
    ) -> u64 {
        let cut = |line: u64, delivered: usize, e: &dyn std::fmt::Display| DecodeError {
            line,
            record: (delivered > 0).then_some(delivered as u64),
            field: None,
            reason: format!("truncated or malformed JSON after {delivered} good records: {e}"),
        };
        // A canonical event needs no envelope handling: in `auto`, spot it
        // first so the common case costs one key scan, not three.
        let native = match self.format {
            Format::Native => true,
            Format::Auto => {
                let head = prefix(raw, 16);
                let object = head.starts_with('{') && !super::envelope::names_records(head);
                // A line that opens as canonical ones are written is decoded
                // straight away: the key scans below cost more than the
                // decoding. Only when that fails is the format asked for.
                if object && (head.starts_with("{\"ts\"") || head.starts_with("{\"agent_id\"")) {
                    match decode_line(raw, line) {
                        Ok(ev) => {
                            push(&ev);
                            return 0;
                        }
                        Err(error) if super::detect(raw) == Some(Format::Native) => {
                            bad(error);
                            return 0;
                        }
                        Err(_) => false,
                    }
                } else {
                    object && super::detect(raw) == Some(Format::Native)
                }
            }
            _ => false,
        };
        if native {
            match decode_line(raw, line) {
                Ok(ev) => push(&ev),
                Err(error) => bad(error),
            }
            return 0;
        }
        if matches!(self.format, Format::Auto | Format::Cloudtrail) {
            let streamed = super::for_each_cloudtrail_record(raw, line, |i, m| match m {
                Ok(ev) => push(&ev),
                Err(AdaptError(mut error)) => {
                    error.record = Some(i as u64);
                    bad(error);
                }
            });
            match streamed {
                None => {}
                Some((_, None)) => return 0,
                Some((delivered, Some(e))) => {
                    // Broken part-way: the records before the break are in.
                    bad(cut(line, delivered, &e));
                    return 0;
                }
            }
        }
        let (recs, broken) = super::records_salvaged(raw);
        if let Some(e) = &broken {
            // The records before the break are still read below.
            bad(cut(line, recs.len(), e));
        }
        let enveloped = broken.is_some()
            || recs.len() > 1
            || recs.first().is_some_and(|r| r.len() != raw.len());
        let mut skipped = 0;
        for (i, rec) in recs.into_iter().enumerate() {
            match super::map_record(rec, self.format, line, self.k8s_stage) {
                Ok(Mapped::Event(ev)) => push(&ev),
                Ok(Mapped::Skipped) => skipped += 1,
                Err(AdaptError(mut error)) => {
                    if enveloped {
                        error.record = Some(i as u64);
                    }
                    bad(error);
                }
            }
        }
        skipped
    }
}
