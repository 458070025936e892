//! Text of an input read as one JSON document (a pretty-printed array or
//! envelope): invalid UTF-8 is replaced, and where it was is remembered, so
//! the reader skips only the records it falls in.

/// Whether a replacement made by `push_lossy` falls in `span`.
pub(super) fn has_replacement(replaced: &[usize], span: std::ops::Range<usize>) -> bool {
    // Sorted offsets: the first one at or past the span's start decides.
    let i = replaced.partition_point(|&at| at < span.start);
    replaced.get(i).is_some_and(|&at| at < span.end)
}

/// Appends `bytes` to `out` as UTF-8, replacing each invalid sequence with
/// U+FFFD; returns the offsets in `out` where replacements were made.
pub(super) fn push_lossy(out: &mut String, mut bytes: &[u8]) -> Vec<usize> {
    let mut replaced = Vec::new();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return replaced;
            }
            Err(e) => {
                let (good, bad) = bytes.split_at(e.valid_up_to());
                // `valid_up_to` is where the valid prefix ends: it is UTF-8.
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                replaced.push(out.len());
                out.push(char::REPLACEMENT_CHARACTER);
                let skip = e.error_len().unwrap_or(bad.len());
                bytes = &bad[skip..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacements_are_found_by_span() {
        let mut s = String::from("ab");
        let at = push_lossy(&mut s, b"c\xffd\xfe\xfde");
        assert_eq!(s, "abc\u{FFFD}d\u{FFFD}\u{FFFD}e");
        assert_eq!(at, [3, 7, 10]);
        assert!(has_replacement(&at, 0..4));
        assert!(!has_replacement(&at, 4..7));
        assert!(has_replacement(&at, 4..8));
        assert!(!has_replacement(&at, 13..20));
        assert!(push_lossy(&mut String::new(), "ü€".as_bytes()).is_empty());
    }
}
