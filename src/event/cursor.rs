//! A cursor over JSON text for the scanners that decode the common shape
//! of a record in one pass (`event::scan` for canonical lines,
//! `adapt::cloudtrail` for CloudTrail objects). It reads only what it can
//! read exactly as serde_json would, and answers `None` at anything else (a
//! control character, an escape where it reads a borrowed string, an
//! escape of a UTF-16 surrogate, a syntax error), so that its caller can
//! hand the whole input to serde_json, which decodes it or says what is
//! wrong with it.

/// Nesting a skipped value may have below the cursor's caller: well under
/// serde_json's own limit of 128, so nothing this skips is refused there.
const MAX_SKIP_DEPTH: u32 = 64;

/// One value of the common shape.
#[derive(Clone, Copy)]
pub(crate) enum Value<'a> {
    /// A string without escapes, as it stands between its quotes.
    Str(&'a str),
    /// A number without fraction or exponent, as written.
    Int(&'a str),
    /// A number with a fraction or an exponent, as written.
    Dec(&'a str),
    Null,
    Bool,
}

pub(crate) struct Cursor<'a> {
    s: &'a str,
    /// Byte offset of the next byte to read.
    pub i: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(s: &'a str) -> Self {
        Cursor { s, i: 0 }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.i == self.s.len()
    }

    /// The next byte after whitespace, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes().get(self.i).copied()
    }

    /// Consumes `want` when it comes next (after whitespace).
    pub fn eat(&mut self, want: u8) -> bool {
        let hit = self.peek() == Some(want);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// Skips one value of any shape (after whitespace) that its reader
    /// would ignore (`serde::de::IgnoredAny`): its grammar is checked, its
    /// numbers are not converted, its strings' escapes are checked (see
    /// `escape`). `None` at a control character, nesting deeper than
    /// `MAX_SKIP_DEPTH`, or any error.
    pub fn skip_value(&mut self) -> Option<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: u32) -> Option<()> {
        let close = match self.peek()? {
            b'{' => b'}',
            b'[' => b']',
            b'"' => {
                self.i += 1;
                return self.skip_string();
            }
            _ => return self.value().map(|_| ()),
        };
        if depth >= MAX_SKIP_DEPTH {
            return None;
        }
        self.i += 1;
        if self.eat(close) {
            return Some(());
        }
        loop {
            if close == b'}' {
                self.expect(b'"')?;
                self.skip_string()?;
                self.expect(b':')?;
            }
            self.skip_nested(depth + 1)?;
            match self.next_byte()? {
                b',' => continue,
                b if b == close => return Some(()),
                _ => return None,
            }
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    /// Skips JSON whitespace.
    pub fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace, consumed.
    pub fn next_byte(&mut self) -> Option<u8> {
        self.skip_ws();
        let b = *self.bytes().get(self.i)?;
        self.i += 1;
        Some(b)
    }

    pub fn expect(&mut self, want: u8) -> Option<()> {
        (self.next_byte()? == want).then_some(())
    }

    /// The rest of a string whose opening quote was read, when it has no
    /// escape and no control character (JSON forbids those raw), borrowed.
    #[inline]
    pub fn string(&mut self) -> Option<&'a str> {
        let start = self.i;
        let i = self.string_stop(start)?;
        self.end_string(start, i)
    }

    /// The rest of a string whose opening quote was read, its escapes
    /// decoded as serde_json decodes them: borrowed when it has none.
    pub fn text(&mut self) -> Option<std::borrow::Cow<'a, str>> {
        let start = self.i;
        let mut i = self.string_stop(start)?;
        if self.bytes()[i] != b'\\' {
            return self.end_string(start, i).map(std::borrow::Cow::Borrowed);
        }
        let mut out = String::with_capacity(i - start + 16);
        let mut run = start;
        loop {
            // Runs end at ASCII bytes, so every slice is on char boundaries.
            out.push_str(self.s.get(run..i)?);
            match self.bytes()[i] {
                b'"' => {
                    self.i = i + 1;
                    return Some(std::borrow::Cow::Owned(out));
                }
                b'\\' => {
                    let (ch, len) = escape(self.bytes(), i + 1)?;
                    out.push(ch);
                    run = i + 1 + len;
                    i = self.string_stop(run)?;
                }
                _ => return None, // a control character
            }
        }
    }

    /// Steps past the rest of a string whose opening quote was read, as
    /// serde_json ignores one: escapes checked (`escape`), control
    /// characters refused.
    fn skip_string(&mut self) -> Option<()> {
        let mut i = self.i;
        loop {
            i = self.string_stop(i)?;
            match self.bytes()[i] {
                b'"' => {
                    self.i = i + 1;
                    return Some(());
                }
                b'\\' => i += 1 + escape(self.bytes(), i + 1)?.1,
                _ => return None,
            }
        }
    }

    /// Index of the first quote, backslash or control character at or
    /// after `i`; `None` at the end of the input. Eight bytes are tested at
    /// a time (most strings here are short, so this beats `memchr`'s
    /// set-up); a byte loop does the last few.
    #[inline]
    fn string_stop(&self, mut i: usize) -> Option<usize> {
        const ONES: u64 = u64::from_ne_bytes([1; 8]);
        const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
        /// High bit set in each byte of `x` below `n` (n <= 128), and
        /// possibly in bytes above one that is: the lowest is exact.
        fn below(x: u64, n: u8) -> u64 {
            x.wrapping_sub(ONES * n as u64) & !x & HIGH
        }
        let b = self.bytes();
        while let Some(chunk) = b.get(i..i + 8) {
            let x = u64::from_le_bytes(chunk.try_into().ok()?);
            let stop = below(x ^ (ONES * b'"' as u64), 1)
                | below(x ^ (ONES * b'\\' as u64), 1)
                | below(x, 0x20);
            if stop != 0 {
                return Some(i + (stop.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        while !matches!(b.get(i)?, b'"' | b'\\' | 0..=0x1f) {
            i += 1;
        }
        Some(i)
    }

    /// The string from `start` when byte `i` closes it.
    fn end_string(&mut self, start: usize, i: usize) -> Option<&'a str> {
        if *self.bytes().get(i)? != b'"' {
            return None; // an escape or a control character
        }
        self.i = i + 1;
        self.s.get(start..i)
    }

    /// One value of the common shape, after whitespace.
    pub fn value(&mut self) -> Option<Value<'a>> {
        match *self.bytes().get(self.i)? {
            b'"' => {
                self.i += 1;
                self.string().map(Value::Str)
            }
            b'-' | b'0'..=b'9' => self.number(),
            b'n' => self.word(b"null").map(|_| Value::Null),
            b't' => self.word(b"true").map(|_| Value::Bool),
            b'f' => self.word(b"false").map(|_| Value::Bool),
            _ => None, // objects and arrays: the serde path keeps them
        }
    }

    fn word(&mut self, w: &[u8]) -> Option<()> {
        let end = self.i + w.len();
        (self.bytes().get(self.i..end)? == w).then(|| self.i = end)
    }

    /// A number in JSON's grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)?
    /// ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Option<Value<'a>> {
        let start = self.i;
        let b = self.bytes();
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        let int_end = i;
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.i = i;
        let n = self.s.get(start..i)?;
        Some(if i == int_end {
            Value::Int(n)
        } else {
            Value::Dec(n)
        })
    }
}

/// The escape after a backslash, at `b[i..]`: the character it stands for
/// and how many bytes it takes. `None` at an invalid escape (serde_json
/// refuses it too) and at `\u` escapes of UTF-16 surrogates: serde_json
/// pairs those where it decodes a string and does not where it ignores
/// one, so they are left to it.
fn escape(b: &[u8], i: usize) -> Option<(char, usize)> {
    let ch = match *b.get(i)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let hex = b.get(i + 1..i + 5)?;
            let n = hex
                .iter()
                .try_fold(0u32, |n, &h| Some(n * 16 + char::from(h).to_digit(16)?))?;
            return char::from_u32(n).map(|c| (c, 5));
        }
        _ => return None,
    };
    Some((ch, 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// JSON string bodies built from plain runs and escapes of every kind,
    /// valid or not (surrogates paired and lone, bad letters, short hex).
    fn body() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-zA-Z0-9 é{}:,\\[\\]]{0,6}",
            proptest::sample::select(vec![
                "\\\"",
                "\\\\",
                "\\/",
                "\\b",
                "\\f",
                "\\n",
                "\\r",
                "\\t",
                "\\u0041",
                "\\u00e9",
                "\\uFFFF",
                "\\ud83d\\ude00",
                "\\ud83d",
                "\\ude00",
                "\\u12",
                "\\u+123",
                "\\x",
                "\\",
                "\u{1}",
            ])
            .prop_map(String::from),
        ];
        proptest::collection::vec(piece, 0..6).prop_map(|v| v.concat())
    }

    proptest! {
        /// `text` decodes a string exactly as serde_json does, or leaves it
        /// to serde_json; and never takes one serde_json refuses.
        #[test]
        fn text_agrees_with_serde(b in body()) {
            let raw = format!("\"{b}\" ");
            let mut c = Cursor::new(&raw);
            c.i = 1;
            if let Some(t) = c.text() {
                // The string ends at its first unescaped quote, which may
                // be inside `b` (`\\` then `"`): serde_json must read the
                // same string up to there.
                let taken = raw.get(..c.i);
                prop_assert!(taken.is_some(), "stopped inside a character");
                let serde = taken.and_then(|t| serde_json::from_str::<String>(t).ok());
                prop_assert_eq!(Some(t.as_ref()), serde.as_deref());
            }
            let whole = serde_json::from_str::<String>(&raw).is_ok();
            if !b.contains('\\') && whole {
                prop_assert!(Cursor::new(&raw).value().is_some(), "plain strings are read");
            }
        }

        /// `skip_value` steps over what serde_json ignores (`IgnoredAny`),
        /// to the same place, or leaves it to serde_json; it never steps
        /// over what serde_json refuses.
        #[test]
        fn skipping_agrees_with_serde(bodies in proptest::collection::vec(body(), 1..4)) {
            let quoted: Vec<String> = bodies.iter().map(|b| format!("\"{b}\"")).collect();
            let raw = format!("{{{}:[{}]}}", quoted[0], quoted.join(","));
            let mut c = Cursor::new(&raw);
            if c.skip_value().is_some() {
                // A quote inside a body may end the value early: serde_json
                // must take exactly what the cursor stepped over.
                let taken = raw.get(..c.i);
                prop_assert!(taken.is_some(), "stopped inside a character");
                let serde = taken
                    .is_some_and(|t| serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok());
                prop_assert!(serde, "{}", raw);
            }
            let plain = bodies.iter().all(|b| !b.contains(['\\', '\u{1}']));
            prop_assert!(!plain || Cursor::new(&raw).skip_value().is_some());
        }
    }
}
