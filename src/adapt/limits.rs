//! Size limits applied to every decoded call, whatever its format. Records
//! come from machines an attacker may control: a 200 KB agent id would be
//! repeated in every finding, state record and dead letter. Identity fields
//! over the limit make the record bad (they key state and cannot be cut
//! without merging identities); descriptive fields are cut at a character
//! boundary; pass-through data over its limit is replaced by its size.

use crate::event::{prefix, CallEvent, DecodeError};
use std::borrow::Cow;

/// Limits on one call's text, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldLimits {
    /// Each string field.
    pub field_bytes: usize,
    /// The pass-through `extra` object.
    pub extra_bytes: usize,
}

impl FieldLimits {
    /// No limit (tests).
    #[cfg(test)]
    pub const NONE: FieldLimits = FieldLimits {
        field_bytes: usize::MAX,
        extra_bytes: usize::MAX,
    };

    /// `ev` within the limits: `Ok(None)` when it already is (the common
    /// case, no copy), `Ok(Some(cut))` when descriptive text was cut, `Err`
    /// naming the identity field that is too long.
    pub fn apply<'a>(
        &self,
        ev: &CallEvent<'a>,
        line: u64,
    ) -> Result<Option<CallEvent<'a>>, DecodeError> {
        let max = self.field_bytes;
        let too_long = |name: &str, v: &str| DecodeError {
            line,
            record: None,
            field: Some(name.into()),
            reason: format!(
                "{} bytes, over the {max}-byte limit ([input] max_field_bytes): \
                 an identity field is not cut",
                v.len()
            ),
        };
        let identity = [
            ("agent_id", Some(&ev.agent_id)),
            ("session_id", ev.session_id.as_ref()),
            ("parent_id", ev.parent_id.as_ref()),
            ("tenant", ev.tenant.as_ref()),
            ("event_id", ev.event_id.as_ref()),
        ];
        for (name, v) in identity {
            if let Some(v) = v.filter(|v| v.len() > max) {
                return Err(too_long(name, v));
            }
        }
        let long = |v: &Option<Cow<'a, str>>| v.as_ref().is_some_and(|v| v.len() > max);
        let extra_long = ev
            .extra
            .as_ref()
            .is_some_and(|v| v.len() > self.extra_bytes);
        if ev.action.len() <= max
            && !long(&ev.resource)
            && !long(&ev.src_ip)
            && !long(&ev.user_agent)
            && !long(&ev.label)
            && !extra_long
        {
            return Ok(None);
        }
        let cut = |v: &Cow<'a, str>| -> Cow<'a, str> {
            match v {
                Cow::Borrowed(s) => Cow::Borrowed(prefix(s, max)),
                Cow::Owned(s) => Cow::Owned(prefix(s, max).to_string()),
            }
        };
        let mut out = ev.clone();
        out.action = cut(&ev.action);
        for f in [
            &mut out.resource,
            &mut out.src_ip,
            &mut out.user_agent,
            &mut out.label,
        ] {
            if let Some(v) = f.as_mut() {
                *v = cut(v);
            }
        }
        if extra_long {
            let n = ev.extra.as_ref().map_or(0, |e| e.len());
            out.extra = Some(format!("{{\"warden_extra_dropped_bytes\":{n}}}"));
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(agent: &str, resource: &str) -> CallEvent<'static> {
        CallEvent {
            ts_ms: 1,
            agent_id: Cow::Owned(agent.into()),
            action: Cow::Borrowed("s3:GetObject"),
            resource: Some(Cow::Owned(resource.into())),
            ..CallEvent::default()
        }
    }

    const L: FieldLimits = FieldLimits {
        field_bytes: 16,
        extra_bytes: 32,
    };

    #[test]
    fn within_limits_nothing_is_copied() {
        assert_eq!(L.apply(&ev("a", "r"), 1), Ok(None));
    }

    #[test]
    fn a_long_identity_is_a_bad_field_and_long_text_is_cut() {
        let e = L.apply(&ev(&"x".repeat(17), "r"), 3).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (3, Some("agent_id")));
        assert!(!e.reason.contains("xxxx"), "the value is not echoed: {e}");
        let cut = L.apply(&ev("a", &"€".repeat(10)), 1).unwrap().unwrap();
        assert_eq!(cut.resource.as_deref(), Some("€€€€€"));
        let mut big = ev("a", "r");
        big.extra = Some(format!("{{\"k\":\"{}\"}}", "y".repeat(100)));
        let cut = L.apply(&big, 1).unwrap().unwrap();
        assert_eq!(
            cut.extra.as_deref(),
            Some("{\"warden_extra_dropped_bytes\":108}")
        );
    }
}
