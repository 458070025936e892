//! Rendering: every decision becomes its public records once, here, and
//! every destination takes those records through one trait.
//!
//! A finding renders to one OCSF Detection Finding; a revocation to its
//! signed Security Event Token (when a signer is configured) followed by its
//! OCSF Remediation Activity. Each [`OutputRecord`] carries its kind,
//! severity, key (the agent) and stable id, so no destination reads them
//! back out of the rendered JSON. Destinations ([`DecisionSink`]): the
//! files of `warden replay`, the Kafka topics of `warden run`, the sinks
//! beyond Kafka (`sinks`), and the in-memory collectors of the reports.
//! [`Outputs`] fans a decision out to a list of them.

mod files;
pub mod keys;
pub mod ocsf;
pub mod remediation;
pub mod set;
pub mod transmitter;

pub use files::FileSink;

use crate::decide::{Decision, FindingActivity};
use serde_json::Value;
use std::sync::Arc;

/// Why a decision could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing a file failed.
    #[error("writing {what}: {source}")]
    Io {
        /// Which output (`findings`, `revocations`).
        what: &'static str,
        /// The error from the file.
        source: std::io::Error,
    },
    /// A revocation could not be signed.
    #[error(transparent)]
    Sign(#[from] set::SetError),
    /// A destination refused the record for good (e.g. the Kafka producer).
    #[error("{destination}: {message}")]
    Destination {
        /// Which destination.
        destination: &'static str,
        /// What it said.
        message: String,
    },
}

/// What kind of output a record is; each destination takes the kinds its
/// protocol is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// OCSF Detection Finding (2004).
    Finding,
    /// OCSF Detection Finding (2004) with status Suppressed: on the alerts
    /// topic and in the findings file and decision log, never to the
    /// sinks beyond Kafka (an analyst said it is benign: nobody is paged).
    SuppressedFinding,
    /// OCSF Remediation Activity (7001) recording a revocation.
    Remediation,
    /// OCSF IAM Analysis Finding (2008) of the access review.
    AccessReview,
    /// A signed Security Event Token; shadow ones carry the shadow claim.
    Revocation {
        /// Decided in shadow mode: to be watched, never enforced.
        shadow: bool,
    },
}

/// A rendered record's content.
#[derive(Debug, Clone)]
pub enum Body {
    /// An OCSF event as JSON.
    Ocsf(Arc<Value>),
    /// A Security Event Token (compact JWS).
    Set(Arc<str>),
}

/// One output, rendered once and shared by every destination it goes to.
#[derive(Debug, Clone)]
pub struct OutputRecord {
    /// Stable id: OCSF `metadata.uid` or the SET's `jti`. Receivers
    /// deduplicate on it; retries and re-sends after a restart reuse it.
    pub id: String,
    /// What the record is.
    pub kind: RecordKind,
    /// The type of event, as CloudEvents `type` names it on Kafka.
    pub event_type: &'static str,
    /// The agent it is about: the Kafka key and CloudEvents subject.
    pub key: String,
    /// OCSF severity id (1 informational to 5 critical).
    pub severity_id: u8,
    /// Event time of the decision (epoch ms).
    pub time_ms: i64,
    /// The rendered content.
    pub body: Body,
}

impl OutputRecord {
    /// The OCSF event, for records that are one.
    pub(crate) fn ocsf_value(&self) -> Option<&Value> {
        match &self.body {
            Body::Ocsf(v) => Some(v),
            Body::Set(_) => None,
        }
    }
}

/// A decision with its records, as every destination receives it.
#[derive(Debug)]
pub struct Rendered<'d> {
    /// The decision itself (collectors keep it; writers need only records).
    pub decision: &'d Decision,
    /// Its records, in the order they go out: for a revocation the SET (if
    /// signed) before its Remediation Activity.
    pub records: Vec<Arc<OutputRecord>>,
}

/// Turns decisions into records: OCSF always, SETs when it has a signer.
#[derive(Default)]
pub struct Renderer {
    signer: Option<set::SetSigner>,
}

/// CloudEvents types of the records Warden emits.
mod event_types {
    pub(crate) const FINDING_CREATE: &str = "io.ocsf.detection_finding.create";
    pub(crate) const FINDING_UPDATE: &str = "io.ocsf.detection_finding.update";
    pub(crate) const FINDING_CLOSE: &str = "io.ocsf.detection_finding.close";
    pub(crate) const REMEDIATION: &str = "io.ocsf.remediation_activity.evict";
}

impl Renderer {
    /// A renderer that signs revocations with `signer` (`None`: revocations
    /// render to their Remediation Activity only).
    pub fn new(signer: Option<set::SetSigner>) -> Renderer {
        Renderer { signer }
    }

    /// The records of one decision.
    pub fn render(&self, d: &Decision) -> Result<Vec<Arc<OutputRecord>>, SinkError> {
        Ok(match d {
            Decision::Finding(f) => {
                let event_type = match f.activity {
                    FindingActivity::Create => event_types::FINDING_CREATE,
                    // A reopening updates the finding the receiver has.
                    FindingActivity::Update | FindingActivity::Reopen => {
                        event_types::FINDING_UPDATE
                    }
                    FindingActivity::Close => event_types::FINDING_CLOSE,
                };
                vec![Arc::new(OutputRecord {
                    id: ocsf::finding_record_uid(f),
                    kind: RecordKind::Finding,
                    event_type,
                    key: f.agent_id.clone(),
                    severity_id: ocsf::severity(f.risk).0,
                    time_ms: f.time_ms,
                    body: Body::Ocsf(Arc::new(ocsf::detection_finding(f))),
                })]
            }
            Decision::Revocation(r) => {
                let severity_id = ocsf::severity(r.risk).0;
                let mut out = Vec::with_capacity(2);
                if let Some(signer) = &self.signer {
                    out.push(Arc::new(OutputRecord {
                        id: r.uid.clone(),
                        kind: RecordKind::Revocation { shadow: r.shadow },
                        event_type: if r.session_id.is_some() {
                            set::SESSION_REVOKED
                        } else {
                            set::CREDENTIAL_CHANGE
                        },
                        key: r.agent_id.clone(),
                        severity_id,
                        time_ms: r.time_ms,
                        body: Body::Set(signer.sign(r)?.into()),
                    }));
                }
                out.push(Arc::new(OutputRecord {
                    id: remediation::record_uid(r),
                    kind: RecordKind::Remediation,
                    event_type: event_types::REMEDIATION,
                    key: r.agent_id.clone(),
                    severity_id,
                    time_ms: r.time_ms,
                    body: Body::Ocsf(Arc::new(remediation::remediation_activity(r))),
                }));
                out
            }
            Decision::Suppressed(s) => {
                let f = &s.finding;
                vec![Arc::new(OutputRecord {
                    id: ocsf::finding_record_uid(f),
                    kind: RecordKind::SuppressedFinding,
                    event_type: event_types::FINDING_CREATE,
                    key: f.agent_id.clone(),
                    severity_id: ocsf::severity(f.risk).0,
                    time_ms: f.time_ms,
                    body: Body::Ocsf(Arc::new(ocsf::suppressed_finding(s))),
                })]
            }
            Decision::Violation(v) => {
                let f = &v.finding;
                vec![Arc::new(OutputRecord {
                    id: ocsf::finding_record_uid(f),
                    kind: RecordKind::Finding,
                    event_type: event_types::FINDING_CREATE,
                    key: f.agent_id.clone(),
                    severity_id: v.rule.severity.id(),
                    time_ms: f.time_ms,
                    body: Body::Ocsf(Arc::new(ocsf::policy_violation(v))),
                })]
            }
        })
    }
}

/// A destination of decisions. `T` is what the caller tags each decision
/// with (the input offset in `warden run`, nothing in replay) so that an
/// asynchronous destination can answer for it later.
pub trait DecisionSink<T = ()> {
    /// Whether this destination reads `Rendered::records` (collectors that
    /// only keep decisions say no, so nothing is rendered just for them).
    fn needs_records(&self) -> bool {
        true
    }

    /// Takes one decision. Returns how many acknowledgements for `tag` will
    /// follow later (0 for a destination that is done when this returns).
    fn accept(&mut self, d: &Rendered<'_>, tag: &T) -> Result<u32, SinkError>;

    /// Pushes out anything buffered.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

impl<T, S: DecisionSink<T> + ?Sized> DecisionSink<T> for &mut S {
    fn needs_records(&self) -> bool {
        (**self).needs_records()
    }
    fn accept(&mut self, d: &Rendered<'_>, tag: &T) -> Result<u32, SinkError> {
        (**self).accept(d, tag)
    }
    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }
}

/// Renders each decision once and hands it to every destination in order.
pub struct Outputs<'a, T = ()> {
    renderer: Renderer,
    destinations: Vec<Box<dyn DecisionSink<T> + 'a>>,
}

impl<'a, T> Outputs<'a, T> {
    /// No destinations yet.
    pub fn new(renderer: Renderer) -> Self {
        Outputs {
            renderer,
            destinations: Vec::new(),
        }
    }

    /// Adds a destination after those already there.
    pub fn push(&mut self, destination: impl DecisionSink<T> + 'a) {
        self.destinations.push(Box::new(destination));
    }

    /// Renders `d` (only if some destination reads records) and gives it to
    /// every destination; returns the acknowledgements that will follow.
    pub fn emit(&mut self, d: &Decision, tag: &T) -> Result<u32, SinkError> {
        let mut list: Vec<&mut dyn DecisionSink<T>> = self
            .destinations
            .iter_mut()
            .map(|s| &mut **s as &mut dyn DecisionSink<T>)
            .collect();
        deliver(&self.renderer, d, tag, &mut list)
    }

    /// Flushes every destination.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.destinations.iter_mut().try_for_each(|s| s.flush())
    }
}

/// Renders `d` once, only if a destination reads records, and hands it to
/// each destination in order. `Outputs` fans out through this, and so does
/// a caller that owns its destinations (the streaming service).
pub fn deliver<T>(
    renderer: &Renderer,
    d: &Decision,
    tag: &T,
    destinations: &mut [&mut dyn DecisionSink<T>],
) -> Result<u32, SinkError> {
    let records = if destinations.iter().any(|s| s.needs_records()) {
        renderer.render(d)?
    } else {
        Vec::new()
    };
    let rendered = Rendered {
        decision: d,
        records,
    };
    let mut acks = 0;
    for s in destinations.iter_mut() {
        acks += s.accept(&rendered, tag)?;
    }
    Ok(acks)
}
