//! The decision log in `warden run`: one chain per partition of the calls
//! topic, on the same partition of the audit topic, so it moves with the
//! consumer group. Each output a call causes is logged as it is produced
//! (its log line holds the call's commit like the output itself), and the
//! chain is signed at every checkpoint, at handover and at shutdown. The
//! member that takes a partition over reads the last line of its log and
//! goes on from there, recording first the configuration it decides with
//! (`dev.warden.config`, the SHA-256 of its serialised form) and the
//! suppressions in force (`dev.warden.suppressions`), so a change of config
//! shows in the chain at the first handover after it. A change of the
//! suppressions is recorded in every chain this member owns when it is put
//! in force.

use crate::audit::{AuditError, AuditLog};
use crate::emit::set::SetSigner;
use crate::emit::{Rendered, SinkError};
use std::collections::BTreeMap;

/// The chains of the partitions this member owns.
pub(crate) struct AuditLogs {
    signer: SetSigner,
    topic: String,
    every: u64,
    /// The configuration this member decides with, serialised.
    config: Vec<u8>,
    /// The suppressions in force (`SuppressionSet::canonical`).
    suppressions: Vec<u8>,
    /// The digest of the guardrail policies in force, when there are any.
    policies: Option<String>,
    logs: BTreeMap<i32, AuditLog>,
}

impl AuditLogs {
    pub fn new(signer: SetSigner, topic: &str, every: u64, config: Vec<u8>) -> Self {
        AuditLogs {
            signer,
            topic: topic.to_string(),
            every,
            config,
            suppressions: Vec::new(),
            policies: None,
            logs: BTreeMap::new(),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Takes `partition`'s chain up after `last`, its last line (none: a
    /// new log), and records the configuration this member decides with.
    pub fn open(&mut self, partition: i32, last: Option<&[u8]>) -> Result<(), String> {
        let name = format!("{}[{partition}]", self.topic);
        let mut log = AuditLog::resume_lines(last, self.signer.clone(), &name, self.every)?;
        let now = crate::event::now_ms();
        log.config(&self.config, now)
            .and_then(|()| log.suppressions(&self.suppressions, now))
            .map_err(|e| e.to_string())?;
        if let Some(d) = &self.policies {
            log.policies(d, now).map_err(|e| e.to_string())?;
        }
        self.logs.insert(partition, log);
        Ok(())
    }

    /// Records in every chain owned that `canonical` suppressions are in
    /// force from now on.
    pub fn suppressions(&mut self, canonical: Vec<u8>) -> Result<(), AuditError> {
        let now = crate::event::now_ms();
        for log in self.logs.values_mut() {
            log.suppressions(&canonical, now)?;
        }
        self.suppressions = canonical;
        Ok(())
    }

    /// Records in every chain owned that the policies of `digest` are in
    /// force from now on (`None`: none are).
    pub fn policies(&mut self, digest: Option<String>) -> Result<(), AuditError> {
        let now = crate::event::now_ms();
        for log in self.logs.values_mut() {
            log.policies(digest.as_deref().unwrap_or(crate::audit::GENESIS), now)?;
        }
        self.policies = digest;
        Ok(())
    }

    /// The partitions whose chains this member owns.
    pub fn partitions(&self) -> Vec<i32> {
        self.logs.keys().copied().collect()
    }

    /// Lets `partition`'s chain go (its next owner takes it up).
    pub fn close(&mut self, partition: i32) {
        self.logs.remove(&partition);
    }

    /// Logs one output of `partition` (the CloudEvents type, id, subject,
    /// event time and the bytes it went out as).
    pub fn output(
        &mut self,
        partition: i32,
        kind: &str,
        id: &str,
        subject: &str,
        time_ms: i64,
        bytes: &[u8],
    ) -> Result<(), SinkError> {
        let Some(log) = self.logs.get_mut(&partition) else {
            return Ok(()); // not owned (a revoke in flight)
        };
        log.output(kind, id, subject, time_ms, bytes)
            .map_err(AuditError::into_sink)
    }

    /// Logs each record of a rendered decision of `partition`.
    pub fn rendered(&mut self, partition: i32, d: &Rendered<'_>) -> Result<(), SinkError> {
        match self.logs.get_mut(&partition) {
            Some(log) => log.rendered(d),
            None => Ok(()), // not owned (a revoke in flight)
        }
    }

    /// Signs `partition`'s chain now.
    pub fn checkpoint(&mut self, partition: i32, now_ms: i64) -> Result<(), SinkError> {
        let Some(log) = self.logs.get_mut(&partition) else {
            return Ok(());
        };
        log.checkpoint(now_ms).map_err(|e| SinkError::Destination {
            destination: "decision log",
            message: e.to_string(),
        })
    }

    /// The lines `partition`'s chain wrote since the last call.
    pub fn take_lines(&mut self, partition: i32) -> Vec<Vec<u8>> {
        self.logs
            .get_mut(&partition)
            .map(AuditLog::take_lines)
            .unwrap_or_default()
    }
}
