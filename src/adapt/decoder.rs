//! One record, whatever its format, into canonical call events. Both the
//! file reader (`input`) and the Kafka consumer (`stream`) decode through
//! this, so a record means the same on the bus as in a file.

use super::{AdaptError, Format, Mapped};
use crate::event::{decode_line, CallEvent, DecodeError};

/// Turns one top-level JSON value (a line of a file, or one Kafka record)
/// into call events, whatever format it is in.
pub(crate) struct RecordDecoder<'o> {
    pub format: Format,
    pub k8s_stage: &'o str,
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
                let head = &raw[..raw.len().min(16)];
                head.starts_with('{')
                    && !head.contains("\"Records\"")
                    && super::detect(raw) == Some(Format::Native)
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
