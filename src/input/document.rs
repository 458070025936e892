//! Text of an input read as one JSON document (a pretty-printed array or
//! envelope): invalid UTF-8 is replaced, and where it was is remembered, so
//! the reader skips only the records it falls in; the document's values
//! are found one after another (`DocValues`).

use crate::event::Cursor;
use serde_json::value::RawValue;
use serde_json::StreamDeserializer;

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

/// Whether `text` is one JSON value and nothing else (whitespace around
/// it aside), as `serde_json::from_str::<&RawValue>` says: the cursor
/// steps over it when it can (this is asked of every input's first line,
/// and a CloudTrail object is one line of up to megabytes), serde_json
/// decides when it cannot.
pub(super) fn is_one_value(text: &str) -> bool {
    let mut c = Cursor::new(text);
    if c.skip_value().is_some() && c.at_end() {
        return true;
    }
    serde_json::from_str::<&RawValue>(text).is_ok()
}

/// The values of a document, one after another, as serde_json's stream
/// reader finds them (`into_iter::<&RawValue>`), with their extents.
///
/// Objects and arrays are stepped over with the cursor (the grammar serde's
/// `IgnoredAny` checks, `Cursor::skip_value`): splitting a pretty-printed
/// CloudTrail file with serde_json cost as much as decoding it. At the first
/// value the cursor does not take (a number, a syntax error, deep nesting,
/// escaped surrogates), serde_json reads the document from its start, steps
/// past the values already handed over and carries on, so the values after
/// it and any error, with its line and column, are serde_json's.
pub(super) struct DocValues<'a> {
    doc: &'a str,
    /// Where the cursor stands, while it reads.
    pos: usize,
    slow: Option<StreamDeserializer<'a, serde_json::de::StrRead<'a>, &'a RawValue>>,
}

impl<'a> DocValues<'a> {
    pub(super) fn new(doc: &'a str) -> Self {
        DocValues {
            doc,
            pos: 0,
            slow: None,
        }
    }

    /// Where the last value ended (0 before the first).
    pub(super) fn byte_offset(&self) -> usize {
        self.slow.as_ref().map_or(self.pos, |s| s.byte_offset())
    }

    pub(super) fn next(&mut self) -> Option<Result<&'a str, serde_json::Error>> {
        if self.slow.is_none() {
            let mut c = Cursor::new(self.doc);
            c.i = self.pos;
            if c.at_end() {
                return None;
            }
            let start = c.i;
            if matches!(c.peek(), Some(b'{' | b'[')) && c.skip_value().is_some() {
                self.pos = c.i;
                return self.doc.get(start..c.i).map(Ok);
            }
            let mut slow = serde_json::Deserializer::from_str(self.doc).into_iter();
            // The values before are well formed (the cursor took them).
            while slow.byte_offset() < self.pos && slow.next().is_some() {}
            self.slow = Some(slow);
        }
        let slow = self.slow.as_mut()?;
        slow.next().map(|v| v.map(RawValue::get))
    }
}

/// For the fuzz harness and tests: panics when the cursor's split of a
/// document (`DocValues`, `is_one_value`) differs from serde_json's: the
/// values, where each ends, and the error with its line and column.
pub(crate) fn assert_split_agrees_with_serde(doc: &str) {
    type Split = (Vec<(String, usize)>, Option<String>);
    fn collect(
        mut next: impl FnMut() -> Option<Result<(String, usize), serde_json::Error>>,
    ) -> Split {
        let mut out = Vec::new();
        loop {
            match next() {
                None => return (out, None),
                Some(Ok(v)) => out.push(v),
                Some(Err(e)) => return (out, Some(e.to_string())),
            }
        }
    }
    let mut ours = DocValues::new(doc);
    let fast = collect(|| {
        let v = ours.next()?;
        Some(v.map(|v| (v.to_string(), ours.byte_offset())))
    });
    let mut theirs = serde_json::Deserializer::from_str(doc).into_iter::<&RawValue>();
    let slow = collect(|| {
        let v = theirs.next()?;
        Some(v.map(|v| (v.get().to_string(), theirs.byte_offset())))
    });
    assert_eq!(fast, slow, "split differently: {doc:?}");
    let one = serde_json::from_str::<&RawValue>(doc).is_ok();
    assert_eq!(is_one_value(doc), one, "one value or not: {doc:?}");
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

    #[test]
    fn one_value_is_what_serde_says_it_is() {
        for text in [
            "",
            " ",
            "{}",
            " {\"a\":[1,2]} \n",
            "{} {}",
            "{",
            "7",
            "-",
            "\"a\\\"\"",
            "nul",
            "[\"\\ud800\"]",
            "{}x",
            "1 2",
            "\u{a0}{}",
        ] {
            let serde = serde_json::from_str::<&RawValue>(text).is_ok();
            assert_eq!(is_one_value(text), serde, "{text:?}");
        }
    }

    #[test]
    fn documents_split_as_serde_splits_them() {
        for doc in [
            "",
            "  \n",
            "{\"Records\":[{\"a\":\"\\\"x\\n\"}]}\n",
            "[1, 2]\n[3]{}\n",
            "{} 12 {}",
            "{} 1x",
            "{\"a\":1}\n{\"a\":\n",
            "[{\"a\":\"\\ud83d\\ude00\"}] [\"\u{1}\"]",
            "{}\u{a0}{}",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] {}",
        ] {
            assert_split_agrees_with_serde(doc);
        }
    }

    proptest::proptest! {
        /// Documents of several values of any shape, whole or cut short.
        #[test]
        fn any_document_splits_as_serde_splits_it(
            values in proptest::collection::vec(
                proptest::sample::select(vec![
                    "{}", "[]", "{\"a\":[1,{\"b\":null}]}", "[\"x\\\"y\u{e9}\"]", "7", "\"s\"",
                    "{\"a\":\"\\ud800\"}", "[1,]", "{\"a\" 1}", "tru", "[\"\u{1}\"]",
                ]),
                0..5,
            ),
            seps in proptest::collection::vec(
                proptest::sample::select(vec!["", " ", "\n", "\r\n\t", "x"]),
                5,
            ),
            cut in 0usize..200,
        ) {
            let mut doc = String::new();
            for (v, sep) in values.iter().zip(&seps) {
                doc.push_str(v);
                doc.push_str(sep);
            }
            // Cut anywhere, then back to the character the cut fell in.
            let mut end = doc.len().saturating_sub(cut % (doc.len() + 1));
            while !doc.is_char_boundary(end) {
                end -= 1;
            }
            let doc = doc.get(..end).unwrap_or_default();
            assert_split_agrees_with_serde(doc);
        }
    }
}
