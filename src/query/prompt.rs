//! The `warden query` prompt: statements end with `;` and may span lines;
//! backslash commands (`\d`, `\format csv`, `\q`) act at once. From a pipe
//! or a file the same statements run without prompts, and a failing
//! statement is reported by its number and does not stop the others.

use super::render::{self, OutputFormat};
use super::Workspace;
use std::io::{self, Write};

const HELP: &str = "\
Statements end with `;` and may span lines. Tables: calls, calls_coded, findings, revocations.
  \\d            tables and their columns
  \\d NAME       the columns of one table
  \\format F     output as table, csv or json
  \\q            quit (also Ctrl-D)
";

/// Splits SQL text into statements at `;` outside quotes and comments.
/// The text after the last `;` (an unfinished statement) is returned apart.
pub(crate) fn split_statements(text: &str) -> (Vec<String>, String) {
    #[derive(PartialEq)]
    enum In {
        Code,
        Single,
        Double,
        LineComment,
        BlockComment,
    }
    let mut state = In::Code;
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        match state {
            In::Code => match c {
                b'\'' => state = In::Single,
                b'"' => state = In::Double,
                b'-' if next == Some(b'-') => state = In::LineComment,
                b'/' if next == Some(b'*') => {
                    state = In::BlockComment;
                    i += 1;
                }
                b';' => {
                    let stmt = text[start..i].trim();
                    if !stmt.is_empty() && !only_comments(stmt) {
                        out.push(stmt.to_string());
                    }
                    start = i + 1;
                }
                _ => {}
            },
            // A doubled quote inside a literal is an escaped quote: leaving
            // and re-entering the literal handles it.
            In::Single if c == b'\'' => state = In::Code,
            In::Double if c == b'"' => state = In::Code,
            In::LineComment if c == b'\n' => state = In::Code,
            In::BlockComment if c == b'*' && next == Some(b'/') => {
                state = In::Code;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    (out, text[start..].to_string())
}

/// Every statement of `sql`, the unterminated last one included.
fn statements_in(sql: &str) -> Vec<String> {
    let (mut statements, rest) = split_statements(sql);
    let tail = rest.trim();
    if !tail.is_empty() && !only_comments(tail) {
        statements.push(tail.to_string());
    }
    statements
}

fn only_comments(stmt: &str) -> bool {
    stmt.lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
}

/// One query session's state: the output format may be changed at the prompt.
pub struct Session<'w> {
    ws: &'w Workspace,
    /// How results are printed (`\format` changes it).
    pub format: OutputFormat,
    /// Statements that failed so far.
    pub failures: u64,
}

impl<'w> Session<'w> {
    /// A session over `ws`, printing in `format`.
    pub fn new(ws: &'w Workspace, format: OutputFormat) -> Self {
        Session {
            ws,
            format,
            failures: 0,
        }
    }

    /// Runs one statement, printing its result to `out` or its error to
    /// `err` (labelled `label`).
    pub(crate) fn execute(
        &mut self,
        sql: &str,
        label: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        let result = self
            .ws
            .run(sql)
            .map_err(|e| e.to_string())
            .and_then(|b| render::write(&b, self.format, out).map_err(|e| e.to_string()));
        if let Err(e) = result {
            self.failures += 1;
            writeln!(err, "error in {label}: {e}")?;
        }
        Ok(())
    }

    /// A backslash command. Returns false on `\q`.
    fn command(
        &mut self,
        line: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<bool> {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("\\q" | "\\quit"), _) => return Ok(false),
            (Some("\\d"), None) => match self.ws.describe() {
                Ok(b) => {
                    if let Err(e) = render::write(&b, OutputFormat::Table, out) {
                        writeln!(err, "error: {e}")?;
                    }
                }
                Err(e) => writeln!(err, "error: {e}")?,
            },
            (Some("\\d"), Some(table)) => {
                let safe: String = table
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let sql = format!(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                     WHERE table_schema = 'public' AND table_name = '{safe}' ORDER BY ordinal_position"
                );
                self.execute(&sql, "\\d", out, err)?;
            }
            (Some("\\format"), Some(f)) => {
                match <OutputFormat as clap::ValueEnum>::from_str(f, true) {
                    Ok(f) => self.format = f,
                    Err(_) => writeln!(err, "unknown format `{f}`: table, csv or json")?,
                }
            }
            _ => write!(out, "{HELP}")?,
        }
        Ok(true)
    }

    /// Runs every statement of a script (stdin that is not a terminal), in
    /// order: a backslash command acts between the statements around it.
    pub fn script(
        &mut self,
        text: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        let mut sql = String::new();
        let mut n = 0;
        let mut run = |s: &mut Self, sql: &str, out: &mut dyn Write, err: &mut dyn Write| {
            for stmt in statements_in(sql) {
                n += 1;
                s.execute(&stmt, &format!("statement {n}"), out, err)?;
            }
            Ok(())
        };
        for line in text.lines() {
            if line.trim_start().starts_with('\\') {
                run(self, &std::mem::take(&mut sql), out, err)?;
                if !self.command(line.trim(), out, err)? {
                    return Ok(());
                }
            } else {
                sql.push_str(line);
                sql.push('\n');
            }
        }
        run(self, &sql, out, err)
    }

    /// The interactive prompt, with line editing and history.
    pub fn interactive(&mut self) -> Result<(), rustyline::error::ReadlineError> {
        use rustyline::error::ReadlineError;
        let mut editor = rustyline::DefaultEditor::new()?;
        let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
        writeln!(stdout, "{HELP}")?;
        let mut pending = String::new();
        loop {
            let prompt = if pending.is_empty() {
                "warden> "
            } else {
                "   ...> "
            };
            match editor.readline(prompt) {
                Ok(line) => {
                    // History is a convenience: a line it cannot keep is
                    // still run.
                    if let Err(e) = editor.add_history_entry(line.as_str()) {
                        tracing::debug!(error = %e, "line not added to history");
                    }
                    if pending.is_empty() && line.trim_start().starts_with('\\') {
                        if !self.command(line.trim(), &mut stdout, &mut stderr)? {
                            return Ok(());
                        }
                        continue;
                    }
                    pending.push_str(&line);
                    pending.push('\n');
                    let (statements, rest) = split_statements(&pending);
                    for stmt in statements {
                        self.execute(&stmt, "statement", &mut stdout, &mut stderr)?;
                    }
                    pending = if rest.trim().is_empty() {
                        String::new()
                    } else {
                        rest
                    };
                }
                // Ctrl-C drops the statement being typed, as in psql.
                Err(ReadlineError::Interrupted) => pending.clear(),
                Err(ReadlineError::Eof) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn semicolons_in_literals_and_comments_do_not_split() {
        let (s, rest) = split_statements(
            "SELECT 'a;b' AS \"x;y\"; -- c;d\nSELECT 1 /* ; */ ; SELECT 'it''s;' ;SELECT",
        );
        assert_eq!(
            s,
            vec![
                "SELECT 'a;b' AS \"x;y\"",
                "-- c;d\nSELECT 1 /* ; */",
                "SELECT 'it''s;'"
            ]
        );
        assert_eq!(rest, "SELECT");
    }

    #[test]
    fn empty_and_comment_only_statements_are_dropped() {
        let (s, rest) = split_statements(";;\n-- only a comment\n;  ");
        assert!(s.is_empty(), "{s:?}");
        assert_eq!(rest.trim(), "");
    }

    proptest! {
        /// Statements made of plain words and quoted literals (which may
        /// hold `;`) come back one for one.
        #[test]
        fn statements_round_trip(parts in prop::collection::vec(
            prop::collection::vec(prop_oneof![
                "[a-z0-9 ,()*=<>]{1,8}",
                "'[a-z;\" ]{0,6}'",
            ], 1..4), 1..6)) {
            let stmts: Vec<String> = parts
                .iter()
                .map(|p| format!("SELECT {}", p.concat()).trim().to_string())
                .collect();
            let text = stmts.iter().map(|s| format!("{s};")).collect::<String>();
            let (got, rest) = split_statements(&text);
            prop_assert_eq!(got, stmts);
            prop_assert_eq!(rest, "");
        }
    }
}
