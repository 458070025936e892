//! Writing the log: a `DecisionSink`, so it sees each output exactly as
//! the other destinations do, once rendered.

use super::{
    sha256_hex, AuditError, AuditRecord, GENESIS, KIND_CHECKPOINT, KIND_CONFIG, KIND_POLICIES,
    KIND_SUPPRESSIONS,
};
use crate::emit::set::SetSigner;
use crate::emit::{Body, DecisionSink, Rendered, SinkError};
use serde_json::json;
use std::io::Write;

/// What a log holds when it is closed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditSummary {
    /// Lines written, checkpoints included.
    pub records: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// SHA-256 of the last line.
    pub head: String,
}

/// Where the lines go: a file, or kept for the caller to send (the
/// stream produces each line as one record of the log's partition).
enum Out {
    Writer(Box<dyn Write + Send>),
    Lines(Vec<Vec<u8>>),
}

/// An append-only decision log.
pub struct AuditLog {
    out: Out,
    signer: SetSigner,
    /// Named in every checkpoint (a file name, or a topic and partition).
    name: String,
    seq: u64,
    prev: String,
    /// Lines since the last checkpoint.
    unsigned: u64,
    /// A checkpoint after this many lines.
    every: u64,
    checkpoints: u64,
    line: Vec<u8>,
    body: Vec<u8>,
}

impl AuditLog {
    /// A new log written to `out`, signed by `signer` every `every` lines
    /// (at least 1) and when it is finished.
    pub fn new(out: Box<dyn Write + Send>, signer: SetSigner, name: &str, every: u64) -> Self {
        Self::with(
            Out::Writer(out),
            signer,
            name,
            every,
            0,
            GENESIS.to_string(),
        )
    }

    /// A log whose lines the caller takes (`take_lines`), going on after
    /// `last`, the last line written so far (none: a new log).
    pub fn resume_lines(
        last: Option<&[u8]>,
        signer: SetSigner,
        name: &str,
        every: u64,
    ) -> Result<Self, String> {
        let (seq, prev) = match last {
            None => (0, GENESIS.to_string()),
            Some(line) => {
                let rec: AuditRecord = serde_json::from_slice(line)
                    .map_err(|e| format!("the log's last record does not read: {e}"))?;
                (rec.seq + 1, sha256_hex(line))
            }
        };
        Ok(Self::with(
            Out::Lines(Vec::new()),
            signer,
            name,
            every,
            seq,
            prev,
        ))
    }

    fn with(out: Out, signer: SetSigner, name: &str, every: u64, seq: u64, prev: String) -> Self {
        AuditLog {
            out,
            signer,
            name: name.to_string(),
            seq,
            prev,
            unsigned: 0,
            every: every.max(1),
            checkpoints: 0,
            line: Vec::with_capacity(512),
            body: Vec::with_capacity(4096),
        }
    }

    fn append(&mut self, mut rec: AuditRecord) -> Result<(), AuditError> {
        rec.seq = self.seq;
        rec.prev = std::mem::take(&mut self.prev);
        self.line.clear();
        serde_json::to_writer(&mut self.line, &rec).expect("audit records serialise");
        self.prev = sha256_hex(&self.line);
        match &mut self.out {
            Out::Writer(w) => {
                self.line.push(b'\n');
                w.write_all(&self.line)?;
            }
            Out::Lines(lines) => lines.push(self.line.clone()),
        }
        self.seq += 1;
        self.unsigned += 1;
        Ok(())
    }

    /// Records one output: its CloudEvents type, id, subject, event time
    /// and the bytes it went out as. Signs the chain when `every` lines
    /// have gone by since the last checkpoint.
    pub fn output(
        &mut self,
        kind: &str,
        id: &str,
        subject: &str,
        time_ms: i64,
        bytes: &[u8],
    ) -> Result<(), AuditError> {
        self.append(AuditRecord {
            seq: 0,
            prev: String::new(),
            kind: kind.into(),
            time_ms,
            id: Some(id.into()),
            subject: Some(subject.into()),
            digest: Some(sha256_hex(bytes)),
            signature: None,
        })?;
        if self.unsigned >= self.every {
            self.checkpoint(crate::event::now_ms())?;
        }
        Ok(())
    }

    /// Records each record of a rendered decision, with the SHA-256 of the
    /// bytes it is written as (an OCSF event's JSON, a SET's token).
    pub fn rendered(&mut self, d: &Rendered<'_>) -> Result<(), SinkError> {
        for r in &d.records {
            let mut body = std::mem::take(&mut self.body);
            body.clear();
            match &r.body {
                Body::Ocsf(v) => {
                    serde_json::to_writer(&mut body, &**v).expect("JSON values serialise")
                }
                Body::Set(t) => body.extend_from_slice(t.as_bytes()),
            }
            let done = self.output(r.event_type, &r.id, &r.key, r.time_ms, &body);
            self.body = body;
            done.map_err(AuditError::into_sink)?;
        }
        Ok(())
    }

    /// Records the configuration a run uses (`bytes`: its serialised form).
    pub fn config(&mut self, bytes: &[u8], now_ms: i64) -> Result<(), AuditError> {
        self.setting(KIND_CONFIG, bytes, now_ms)
    }

    /// Records the suppressions put in force (`bytes`:
    /// `SuppressionSet::canonical`).
    pub fn suppressions(&mut self, bytes: &[u8], now_ms: i64) -> Result<(), AuditError> {
        self.setting(KIND_SUPPRESSIONS, bytes, now_ms)
    }

    /// Records the guardrail policies put in force, by their digest
    /// (`PolicySet::digest`, already a SHA-256).
    pub fn policies(&mut self, digest: &str, now_ms: i64) -> Result<(), AuditError> {
        self.setting_digest(KIND_POLICIES, digest.to_string(), now_ms)
    }

    fn setting(&mut self, kind: &str, bytes: &[u8], now_ms: i64) -> Result<(), AuditError> {
        self.setting_digest(kind, sha256_hex(bytes), now_ms)
    }

    /// A line recording a setting put in force, by its SHA-256.
    fn setting_digest(
        &mut self,
        kind: &str,
        digest: String,
        now_ms: i64,
    ) -> Result<(), AuditError> {
        self.append(AuditRecord {
            seq: 0,
            prev: String::new(),
            kind: kind.into(),
            time_ms: now_ms,
            id: None,
            subject: None,
            digest: Some(digest),
            signature: None,
        })
    }

    /// Signs the chain's head now (nothing to do if nothing was written
    /// since the last checkpoint).
    pub fn checkpoint(&mut self, now_ms: i64) -> Result<(), AuditError> {
        if self.unsigned == 0 {
            return Ok(());
        }
        let claims = json!({
            "iss": self.signer.issuer(),
            "iat": now_ms.div_euclid(1000),
            // The checkpoint line's own time, so that nothing on the last
            // line of a finished log is left outside a signature.
            "time_ms": now_ms,
            "log": self.name,
            "seq": self.seq,
            "head": self.prev,
        });
        let signature = self.signer.sign_claims(&claims, super::CHECKPOINT_TYP)?;
        self.append(AuditRecord {
            seq: 0,
            prev: String::new(),
            kind: KIND_CHECKPOINT.into(),
            time_ms: now_ms,
            id: None,
            subject: None,
            digest: None,
            signature: Some(signature),
        })?;
        self.flush_out()?;
        self.unsigned = 0;
        self.checkpoints += 1;
        Ok(())
    }

    fn flush_out(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Out::Writer(w) => w.flush(),
            Out::Lines(_) => Ok(()),
        }
    }

    /// The lines written since the last call (a log made by `resume_lines`).
    pub fn take_lines(&mut self) -> Vec<Vec<u8>> {
        match &mut self.out {
            Out::Writer(_) => Vec::new(),
            Out::Lines(lines) => std::mem::take(lines),
        }
    }

    /// Signs what is left and flushes.
    pub fn finish(mut self, now_ms: i64) -> Result<AuditSummary, AuditError> {
        self.checkpoint(now_ms)?;
        self.flush_out()?;
        Ok(AuditSummary {
            records: self.seq,
            checkpoints: self.checkpoints,
            head: self.prev,
        })
    }
}

impl DecisionSink for AuditLog {
    fn accept(&mut self, d: &Rendered<'_>, _: &()) -> Result<u32, SinkError> {
        self.rendered(d)?;
        Ok(0)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.flush_out().map_err(|source| SinkError::Io {
            what: "decision log",
            source,
        })
    }
}
