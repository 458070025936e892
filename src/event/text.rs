//! Cutting untrusted text safely. Records come from machines an attacker may
//! control, so text is never sliced at a fixed byte offset (which panics
//! inside a multi-byte character): these helpers cut at the nearest
//! character boundary at or below the limit.

/// The longest prefix of `s` that is at most `max_bytes` long and ends on a
/// character boundary.
pub(crate) fn prefix(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    // A UTF-8 character is at most 4 bytes: this loops at most 3 times.
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Longest caller-supplied value quoted in an explanation.
const ECHO_BYTES: usize = 256;

/// A caller-supplied value as an explanation quotes it: whole up to 256
/// bytes, else its start and its length. (The value itself travels in full,
/// within `[input]` limits, where it is data: `observed_pattern`.)
pub(crate) fn echo(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= ECHO_BYTES {
        s.into()
    } else {
        format!("{}…[{} bytes]", prefix(s, ECHO_BYTES), s.len()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cuts_before_a_split_character() {
        assert_eq!(prefix("ab€", 3), "ab");
        assert_eq!(prefix("ab€", 5), "ab€");
        assert_eq!(prefix("ab€", 2), "ab");
        assert_eq!(prefix("", 4), "");
        assert_eq!(prefix("ü", 0), "");
    }

    proptest! {
        #[test]
        fn any_text_any_limit(s in "\\PC{0,40}", max in 0usize..200) {
            let p = prefix(&s, max);
            prop_assert!(p.len() <= max);
            prop_assert!(s.starts_with(p));
            // Nothing longer would have fitted.
            if p.len() < s.len() {
                let next = s[p.len()..].chars().next().unwrap();
                prop_assert!(p.len() + next.len_utf8() > max);
            }
        }
    }

    #[test]
    fn echoes_are_cut_and_say_so() {
        assert_eq!(echo("s3:GetObject"), "s3:GetObject");
        let long = "€".repeat(100);
        let e = echo(&long);
        assert!(
            e.starts_with(&"€".repeat(42)) && e.ends_with("…[300 bytes]"),
            "{e}"
        );
    }
}
