//! Defence in depth for a service on an attacker-writable bus: a record
//! whose decoding or scoring panics (a bug, but one an attacker may find
//! first) is isolated, so the instance goes on instead of crash-looping on
//! the same uncommitted offset. The decoders are meant never to panic
//! (`adapt::hostile` tests that); this is what happens if one still does.

use super::events::RecordIsolated;
use crate::event::DecodeError;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic comes back as its message instead of unwinding
/// further. The panic hook has already printed it with its location.
pub(crate) fn isolate<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    // Unwind safety: on a panic the caller drops what `f` was building for
    // this one record (or, for scoring, the agent's state may be left
    // part-updated, which costs one agent's baseline, not the service).
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref()))
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

/// Runs one record's decoding `step`, which reports its bad records to the
/// sink it is given; a panic becomes one more bad record at `offset` (the
/// events pushed before it stand, like the good part of a broken envelope).
pub(crate) fn decode_isolated(
    partition: i32,
    offset: u64,
    bad: &mut dyn FnMut(DecodeError),
    step: impl FnOnce(&mut dyn FnMut(DecodeError)) -> u64,
) -> u64 {
    match isolate(|| step(&mut *bad)) {
        Ok(skipped) => skipped,
        Err(msg) => {
            RecordIsolated {
                partition,
                offset: offset as i64,
                stage: "decode",
                reason: &msg,
            }
            .emit();
            bad(DecodeError {
                line: offset,
                record: None,
                field: None,
                reason: format!(
                    "the decoder failed on this record (isolated; please report it): {}",
                    crate::event::prefix(&msg, 200)
                ),
            });
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapt::{Format, RecordDecoder};
    use crate::event::CallEvent;

    #[test]
    fn a_panic_is_returned_as_its_message() {
        assert_eq!(isolate(|| 5), Ok(5));
        assert_eq!(isolate(|| -> u8 { panic!("boom") }), Err("boom".into()));
        let who = "agent-1";
        assert_eq!(
            isolate(|| -> u8 { panic!("boom at {who}") }),
            Err("boom at agent-1".into())
        );
    }

    /// A decoder with a bug: it decodes, then panics on records that say
    /// "poison".
    fn poisoned(
        d: &RecordDecoder<'_>,
        text: &str,
        line: u64,
        push: &mut dyn FnMut(&CallEvent<'_>),
        bad: &mut dyn FnMut(DecodeError),
    ) -> u64 {
        if text.contains("poison") {
            panic!("injected decoder bug");
        }
        d.decode(text, line, push, bad)
    }

    #[test]
    fn an_injected_decoder_panic_becomes_a_bad_record_and_neighbours_decode() {
        let d = RecordDecoder {
            format: Format::Auto,
            k8s_stage: "ResponseComplete",
            latest_ts_ms: i64::MAX,
            limits: crate::adapt::FieldLimits::NONE,
        };
        let records = [
            r#"{"ts":1,"agent_id":"a","action":"x"}"#,
            r#"{"ts":2,"agent_id":"poison","action":"x"}"#,
            r#"{"ts":3,"agent_id":"b","action":"y"}"#,
        ];
        let (mut events, mut errors) = (Vec::new(), Vec::new());
        for (i, r) in records.iter().enumerate() {
            let mut push = |e: &CallEvent<'_>| events.push(e.agent_id.to_string());
            decode_isolated(0, i as u64, &mut |e| errors.push(e), |bad| {
                poisoned(&d, r, i as u64, &mut push, bad)
            });
        }
        assert_eq!(events, ["a", "b"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 1);
        assert!(
            errors[0].reason.contains("injected decoder bug"),
            "{errors:?}"
        );
    }
}
