//! Outputs: renderers for the public formats and the sinks that write them.

pub mod ocsf;
pub mod remediation;
pub mod set;

use crate::decide::Decision;
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("writing {what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sign(#[from] set::SetError),
}

/// Where decisions go. Replay writes files; the streaming service produces
/// to Kafka topics; tests collect them.
pub trait DecisionSink {
    fn emit(&mut self, d: &Decision) -> Result<(), SinkError>;
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Findings (OCSF JSON lines) and revocations (one signed Security Event
/// Token per line), each to its own (optional) writer.
pub struct JsonLinesSink {
    findings: Option<Box<dyn Write>>,
    revocations: Option<(Box<dyn Write>, set::SetSigner)>,
    line: Vec<u8>,
}

impl JsonLinesSink {
    pub fn new(
        findings: Option<Box<dyn Write>>,
        revocations: Option<(Box<dyn Write>, set::SetSigner)>,
    ) -> Self {
        JsonLinesSink {
            findings,
            revocations,
            line: Vec::with_capacity(2048),
        }
    }
}

fn write_line(
    w: &mut Option<Box<dyn Write>>,
    line: &mut Vec<u8>,
    what: &'static str,
    value: &serde_json::Value,
) -> Result<(), SinkError> {
    let Some(w) = w else { return Ok(()) };
    line.clear();
    serde_json::to_writer(&mut *line, value).expect("JSON values always serialise");
    line.push(b'\n');
    w.write_all(line)
        .map_err(|source| SinkError::Io { what, source })
}

impl DecisionSink for JsonLinesSink {
    /// Findings go to the findings file; a revocation goes to the
    /// revocations file and its OCSF Remediation Activity to the findings
    /// file (the file of OCSF events for the SIEM).
    fn emit(&mut self, d: &Decision) -> Result<(), SinkError> {
        match d {
            Decision::Finding(f) => write_line(
                &mut self.findings,
                &mut self.line,
                "findings",
                &ocsf::detection_finding(f),
            ),
            Decision::Revocation(r) => {
                if let Some((w, signer)) = &mut self.revocations {
                    let token = signer.sign(r)?;
                    w.write_all(token.as_bytes())
                        .and_then(|()| w.write_all(b"\n"))
                        .map_err(|source| SinkError::Io {
                            what: "revocations",
                            source,
                        })?;
                }
                write_line(
                    &mut self.findings,
                    &mut self.line,
                    "findings",
                    &remediation::remediation_activity(r),
                )
            }
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if let Some(w) = &mut self.findings {
            w.flush().map_err(|source| SinkError::Io {
                what: "findings",
                source,
            })?;
        }
        if let Some((w, _)) = &mut self.revocations {
            w.flush().map_err(|source| SinkError::Io {
                what: "revocations",
                source,
            })?;
        }
        Ok(())
    }
}

/// Every decision to two sinks (files and the sinks beyond Kafka).
pub struct BothSinks<'a>(pub &'a mut dyn DecisionSink, pub &'a mut dyn DecisionSink);

impl DecisionSink for BothSinks<'_> {
    fn emit(&mut self, d: &Decision) -> Result<(), SinkError> {
        self.0.emit(d)?;
        self.1.emit(d)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.flush()?;
        self.1.flush()
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
