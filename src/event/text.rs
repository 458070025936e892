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
    &s[..end]
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
}
