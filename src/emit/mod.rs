//! Outputs: renderers for the public formats and the sinks that write them.

pub mod ocsf;
pub mod revocation;

use crate::decide::Decision;
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("writing {what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
}

/// Where decisions go. Replay writes files; the streaming service produces
/// to Kafka topics; tests collect them.
pub trait DecisionSink {
    fn emit(&mut self, d: &Decision) -> Result<(), SinkError>;
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Findings and revocations as JSON lines, each to its own (optional) writer.
pub struct JsonLinesSink {
    findings: Option<Box<dyn Write>>,
    revocations: Option<Box<dyn Write>>,
    line: Vec<u8>,
}

impl JsonLinesSink {
    pub fn new(findings: Option<Box<dyn Write>>, revocations: Option<Box<dyn Write>>) -> Self {
        JsonLinesSink {
            findings,
            revocations,
            line: Vec::with_capacity(2048),
        }
    }
}

impl DecisionSink for JsonLinesSink {
    fn emit(&mut self, d: &Decision) -> Result<(), SinkError> {
        let (w, what) = match d {
            Decision::Finding(_) => (&mut self.findings, "findings"),
            Decision::Revocation(_) => (&mut self.revocations, "revocations"),
        };
        let Some(w) = w else { return Ok(()) };
        self.line.clear();
        let value = match d {
            Decision::Finding(f) => ocsf::detection_finding(f),
            Decision::Revocation(r) => revocation::revocation_event(r),
        };
        serde_json::to_writer(&mut self.line, &value).expect("JSON values always serialise");
        self.line.push(b'\n');
        w.write_all(&self.line)
            .map_err(|source| SinkError::Io { what, source })
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if let Some(w) = &mut self.findings {
            w.flush().map_err(|source| SinkError::Io {
                what: "findings",
                source,
            })?;
        }
        if let Some(w) = &mut self.revocations {
            w.flush().map_err(|source| SinkError::Io {
                what: "revocations",
                source,
            })?;
        }
        Ok(())
    }
}

/// Collects decisions in memory (tests, evaluation).
#[derive(Debug, Default)]
pub struct MemorySink {
    pub decisions: Vec<Decision>,
}

impl DecisionSink for MemorySink {
    fn emit(&mut self, d: &Decision) -> Result<(), SinkError> {
        self.decisions.push(d.clone());
        Ok(())
    }
}
