//! `warden replay`'s files: findings and remediation activities as OCSF
//! JSON lines, revocations as one signed SET per line.

use super::{Body, DecisionSink, RecordKind, Rendered, SinkError};
use std::io::Write;

/// Findings (OCSF JSON lines) and revocations (one signed Security Event
/// Token per line), each to its own (optional) writer. A revocation's OCSF
/// Remediation Activity goes to the findings file (the file of OCSF events
/// for the SIEM).
pub struct FileSink {
    findings: Option<Box<dyn Write>>,
    revocations: Option<Box<dyn Write>>,
    line: Vec<u8>,
}

impl FileSink {
    /// Either writer may be absent; its records are then not written.
    pub fn new(findings: Option<Box<dyn Write>>, revocations: Option<Box<dyn Write>>) -> Self {
        FileSink {
            findings,
            revocations,
            line: Vec::with_capacity(2048),
        }
    }
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> SinkError {
    move |source| SinkError::Io { what, source }
}

impl DecisionSink for FileSink {
    fn accept(&mut self, d: &Rendered<'_>, _: &()) -> Result<u32, SinkError> {
        for r in &d.records {
            let (w, what) = match r.kind {
                RecordKind::Revocation { .. } => (&mut self.revocations, "revocations"),
                RecordKind::Finding
                | RecordKind::SuppressedFinding
                | RecordKind::Remediation
                | RecordKind::AccessReview => (&mut self.findings, "findings"),
            };
            let Some(w) = w else { continue };
            self.line.clear();
            match &r.body {
                Body::Ocsf(v) => serde_json::to_writer(&mut self.line, &**v)
                    .expect("JSON values always serialise"),
                Body::Set(token) => self.line.extend_from_slice(token.as_bytes()),
            }
            self.line.push(b'\n');
            w.write_all(&self.line).map_err(io(what))?;
        }
        Ok(0)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if let Some(w) = &mut self.findings {
            w.flush().map_err(io("findings"))?;
        }
        if let Some(w) = &mut self.revocations {
            w.flush().map_err(io("revocations"))?;
        }
        Ok(())
    }
}
