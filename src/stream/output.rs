//! Everything `warden run` writes to Kafka: findings and revocations with
//! CloudEvents binary-mode headers, dead letters, and state records. Every
//! record carries where it came from, so its acknowledgement can release the
//! input offset that caused it.

use super::audit::AuditLogs;
use super::events::{OutputBackpressureWait, OutputTruncated};
use super::{oversize, StreamError};
use crate::config::StreamConfig;
use crate::decide::Decision;
use crate::emit::{self, Body, DecisionSink, RecordKind, Rendered, Renderer, SinkError};
use crate::event::{format_rfc3339_ms, DecodeError};
use crate::sinks::{SinkConfig, SinkSet, SinkStats};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

/// What an output was produced for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Caused by the call record at this input offset.
    Call { partition: i32, offset: i64 },
    /// A state-topic record (checkpoints wait for these with `flush`).
    State,
    /// An inventory-topic record (re-published on the schedule; a refusal
    /// stops the service like any other).
    Inventory,
    /// A partition's share on the fleet topic: best effort (the partition's
    /// state holds the share too), so a refusal is counted and the share
    /// goes out again at the next checkpoint.
    Fleet { partition: i32 },
}

/// The broker's answer for one output.
#[derive(Debug)]
pub(crate) struct Ack {
    pub origin: Origin,
    pub error: Option<String>,
    /// The broker refused the record as larger than it accepts (its
    /// `message.max.bytes` is below `[stream] max_message_bytes`): counted
    /// and logged, never fatal, or the same call would fail on every restart.
    pub too_large: bool,
}

pub(crate) struct DeliveryContext {
    acks: Sender<Ack>,
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        super::kafka::log_librdkafka("producer", level, fac, msg);
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Origin>;

    fn delivery(&self, result: &DeliveryResult<'_>, origin: Box<Origin>) {
        let err = result.as_ref().err().map(|(e, _)| e);
        let too_large = matches!(
            err.and_then(KafkaError::rdkafka_error_code),
            Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::MessageBatchTooLarge)
        );
        // The receiver lives as long as the service; after it is gone nobody
        // is waiting for this answer.
        let _ = self.acks.send(Ack {
            origin: *origin,
            error: err.map(ToString::to_string),
            too_large,
        });
    }
}

/// The Kafka topics as a destination of decisions: each record to its
/// topic (findings and remediation activities to the alerts topic, SETs to
/// the revocations topic of their mode), keyed by agent, with CloudEvents
/// binary-mode headers.
pub(crate) struct KafkaTopics {
    producer: ThreadedProducer<DeliveryContext>,
    cfg: StreamConfig,
    buf: Vec<u8>,
    /// Times `send` found the producer queue full and waited.
    backpressure_waits: u64,
    /// The largest record produced (key, value and headers).
    max_message_bytes: usize,
    /// Outputs replaced by their truncated form.
    truncated: u64,
    /// Where a record the client refuses as too large is answered.
    refusals: Sender<Ack>,
}

const FINDING_SCHEMA: &str = "https://schema.ocsf.io/schema/1.8.0/classes/detection_finding";
const REMEDIATION_SCHEMA: &str = "https://schema.ocsf.io/schema/1.8.0/classes/remediation_activity";
const IAM_ANALYSIS_SCHEMA: &str =
    "https://schema.ocsf.io/schema/1.8.0/classes/iam_analysis_finding";
/// CloudEvents type of an inventory record.
const INVENTORY_TYPE: &str = "dev.warden.inventory.identity";

/// The input record a dead letter is made of.
pub(crate) struct DeadLetter<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Option<&'a rdkafka::message::BorrowedHeaders>,
    pub error: &'a DecodeError,
    /// Events of the same record that did decode (an envelope partly bad).
    pub good_events: usize,
}

/// Everything `warden run` writes: decisions to the Kafka topics and the
/// sinks beyond Kafka (rendered once, through `emit`), dead letters, and
/// state records.
pub struct Outputs {
    renderer: Renderer,
    kafka: KafkaTopics,
    /// Splunk, webhooks, syslog, SSF push: each answers through `acks` too,
    /// so a call's offset waits for them as it waits for the broker.
    sinks: SinkSet<Origin>,
    acks: Receiver<Ack>,
    /// The decision log's chains, when `[stream] audit_topic` is set.
    audit: Option<AuditLogs>,
}

impl Outputs {
    /// A producer with idempotence on (no duplicates or reordering from its
    /// own retries) and a bounded queue: a slow broker makes `send` wait, it
    /// never makes memory grow.
    pub fn new(
        client: &mut ClientConfig,
        cfg: StreamConfig,
        renderer: Renderer,
        sinks: &[SinkConfig],
    ) -> Result<Self, StreamError> {
        let (tx, rx) = channel();
        let sink_acks = tx.clone();
        let refusals = tx.clone();
        // A sink answers once per record, delivered or given up on (logged
        // and counted there): either way the call's offset may move on.
        let sinks = SinkSet::start(
            sinks,
            &|var| std::env::var(var).ok(),
            move |origin: Origin| {
                // Fails only once the service has gone and nobody waits.
                if sink_acks
                    .send(Ack {
                        origin,
                        error: None,
                        too_large: false,
                    })
                    .is_err()
                {
                    tracing::debug!("sink answer after the service stopped");
                }
            },
        )?;
        // The producer refuses what the broker would: outputs are fitted
        // to this size before they are sent (see `oversize`).
        let max_message_bytes = cfg.max_message_bytes.to_string();
        for (k, v) in [
            ("message.max.bytes", max_message_bytes.as_str()),
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("linger.ms", "5"),
            ("queue.buffering.max.messages", "100000"),
            ("queue.buffering.max.kbytes", "262144"),
        ] {
            if client.get(k).is_none() {
                client.set(k, v);
            }
        }
        // A `[kafka] message.max.bytes` lower than ours is the one that holds.
        let max_message_bytes = client
            .get("message.max.bytes")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(cfg.max_message_bytes)
            .min(cfg.max_message_bytes);
        let producer = client.create_with_context(DeliveryContext { acks: tx })?;
        Ok(Outputs {
            renderer,
            kafka: KafkaTopics {
                producer,
                cfg,
                buf: Vec::with_capacity(4096),
                backpressure_waits: 0,
                max_message_bytes,
                truncated: 0,
                refusals,
            },
            sinks,
            acks: rx,
            audit: None,
        })
    }

    /// Answers received so far.
    pub(crate) fn drain_acks(&self) -> impl Iterator<Item = Ack> + '_ {
        self.acks.try_iter()
    }

    /// Waits until every output sent so far is answered.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.kafka.producer.flush(timeout)
    }

    /// Times a send found the producer queue full and waited.
    pub fn backpressure_waits(&self) -> u64 {
        self.kafka.backpressure_waits
    }

    /// Waits up to `timeout` for the sinks beyond Kafka; what they still
    /// hold keeps its input offset uncommitted.
    pub(crate) fn drain_sinks(&self, timeout: Duration) -> bool {
        self.sinks.drain(timeout)
    }

    /// Outputs replaced by their truncated form so far.
    pub fn truncated(&self) -> u64 {
        self.kafka.truncated
    }

    pub fn sink_stats(&self) -> Vec<SinkStats> {
        self.sinks.stats()
    }

    /// Produces the records a decision makes, caused by the call at
    /// `origin`, to the Kafka topics and then to the sinks; returns how many
    /// acknowledgements will follow (each record is answered on its own).
    pub(crate) fn decision(&mut self, d: &Decision, origin: Origin) -> Result<u32, StreamError> {
        let acks = match &mut self.audit {
            Some(audit) => {
                let mut destinations: [&mut dyn DecisionSink<Origin>; 3] =
                    [&mut self.kafka, &mut self.sinks, audit];
                emit::deliver(&self.renderer, d, &origin, &mut destinations)?
            }
            None => {
                let mut destinations: [&mut dyn DecisionSink<Origin>; 2] =
                    [&mut self.kafka, &mut self.sinks];
                emit::deliver(&self.renderer, d, &origin, &mut destinations)?
            }
        };
        Ok(acks + self.send_audit_lines(origin)?)
    }

    /// Keeps a decision log per owned partition on `audit`'s topic.
    pub(crate) fn keep_audit_log(&mut self, audit: AuditLogs) {
        self.audit = Some(audit);
    }

    /// The audit topic, when the decision log is kept.
    pub(crate) fn audit_topic(&self) -> Option<&str> {
        self.audit.as_ref().map(AuditLogs::topic)
    }

    /// Takes `partition`'s chain up after `last`, the last line of its log.
    pub(crate) fn audit_open(&mut self, partition: i32, last: Option<&[u8]>) -> Result<(), String> {
        match &mut self.audit {
            Some(a) => a.open(partition, last),
            None => Ok(()),
        }
    }

    /// Records the suppressions put in force in every chain owned, and
    /// produces the lines (answered as state, like a checkpoint).
    pub(crate) fn audit_suppressions(
        &mut self,
        set: &crate::decide::SuppressionSet,
    ) -> Result<(), StreamError> {
        let Some(a) = &mut self.audit else {
            return Ok(());
        };
        a.suppressions(set.canonical())
            .map_err(|e| StreamError::Output(e.into_sink()))?;
        for p in a.partitions() {
            self.send_audit_lines_of(p, Origin::State)?;
        }
        Ok(())
    }

    /// Records the guardrail policies put in force in every chain owned
    /// (`None` before any chain is open: only remembered for new chains).
    pub(crate) fn audit_policies(&mut self, digest: Option<String>) -> Result<(), StreamError> {
        let Some(a) = &mut self.audit else {
            return Ok(());
        };
        a.policies(digest)
            .map_err(|e| StreamError::Output(e.into_sink()))?;
        for p in a.partitions() {
            self.send_audit_lines_of(p, Origin::State)?;
        }
        Ok(())
    }

    /// Lets `partition`'s chain go.
    pub(crate) fn audit_close(&mut self, partition: i32) {
        if let Some(a) = &mut self.audit {
            a.close(partition);
        }
    }

    /// Signs `partition`'s chain and produces the checkpoint (answered as
    /// state: a checkpoint waits for it with `flush`).
    pub(crate) fn audit_checkpoint(
        &mut self,
        partition: i32,
        now_ms: i64,
    ) -> Result<(), StreamError> {
        if let Some(a) = &mut self.audit {
            a.checkpoint(partition, now_ms)?;
            self.send_audit_lines_of(partition, Origin::State)?;
        }
        Ok(())
    }

    /// Produces the lines the decision log wrote for the call at `origin`.
    fn send_audit_lines(&mut self, origin: Origin) -> Result<u32, StreamError> {
        match origin {
            Origin::Call { partition, .. } => self.send_audit_lines_of(partition, origin),
            _ => Ok(0),
        }
    }

    fn send_audit_lines_of(&mut self, partition: i32, origin: Origin) -> Result<u32, StreamError> {
        let Some(a) = &mut self.audit else {
            return Ok(0);
        };
        let topic = a.topic().to_string();
        let lines = a.take_lines(partition);
        for line in &lines {
            let rec =
                BaseRecord::<str, [u8], Box<Origin>>::with_opaque_to(&topic, Box::new(origin))
                    .partition(partition)
                    .payload(line.as_slice());
            self.kafka.send(rec).map_err(StreamError::Produce)?;
        }
        Ok(lines.len() as u32)
    }

    /// Produces an undecodable record to the dead-letter topic: the original
    /// key, bytes and headers, plus headers that say why and where from.
    pub(crate) fn dead_letter(
        &mut self,
        dl: &DeadLetter<'_>,
        origin: Origin,
    ) -> Result<(), KafkaError> {
        let mut headers = OwnedHeaders::new_with_capacity(8);
        let orig_len = dl.headers.map_or(0, headers_len);
        match dl.headers {
            // Headers are the sender's too: past a quarter of the limit
            // they are left out (and said to be), not allowed to crowd out
            // the record itself.
            Some(_) if orig_len > self.kafka.max_message_bytes / 4 => {
                headers = headers.insert(h("warden_source_headers_dropped", &orig_len.to_string()));
            }
            Some(orig) => {
                for hd in orig.iter() {
                    headers = headers.insert(Header {
                        key: hd.key,
                        value: hd.value,
                    });
                }
            }
            None => {}
        }
        let partition = dl.partition.to_string();
        let offset = dl.offset.to_string();
        let error = located(dl.topic, dl.partition, dl.offset, dl.error);
        headers = headers
            .insert(h("warden_error", &error))
            .insert(h("warden_source_topic", dl.topic))
            .insert(h("warden_source_partition", &partition))
            .insert(h("warden_source_offset", &offset));
        if let Some(f) = &dl.error.field {
            headers = headers.insert(h("warden_error_field", f));
        }
        if let Some(r) = dl.error.record {
            headers = headers.insert(h("warden_error_record", &r.to_string()));
        }
        if dl.good_events > 0 {
            headers = headers.insert(h("warden_good_events", &dl.good_events.to_string()));
        }
        // The original bytes once, cut to what the topic accepts: a record
        // past the limit was most likely refused for its size, and its
        // start is what an analyst needs to see which.
        let value = dl.value.unwrap_or(&[]);
        let key_len = dl.key.map_or(0, |k| 2 * k.len());
        let budget = self.kafka.value_budget(key_len + headers_len(&headers));
        let kept = oversize::fit_bytes(value, budget);
        if kept.len() < value.len() {
            headers = headers.insert(h("warden_truncated_from_bytes", &value.len().to_string()));
            self.kafka.count_truncated("dead_letter", value.len());
        }
        let topic = self.kafka.cfg.dead_letter_topic.clone();
        let mut rec =
            BaseRecord::<str, [u8], Box<Origin>>::with_opaque_to(&topic, Box::new(origin))
                .payload(kept)
                .headers(headers);
        if let Some(k) = dl
            .key
            .filter(|k| k.len() > self.kafka.max_message_bytes / 8)
        {
            let hs = rec.headers.take().unwrap_or_default();
            rec = rec.headers(hs.insert(h("warden_source_key_dropped", &k.len().to_string())));
        } else if let Some(k) = dl.key {
            // Keys are usually agent ids; a key that is not UTF-8 is kept in
            // a header instead of being mangled.
            match std::str::from_utf8(k) {
                Ok(k) => rec = rec.key(k),
                Err(_) => {
                    let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
                    let hs = rec.headers.take().unwrap_or_default();
                    rec = rec.headers(hs.insert(h("warden_source_key_hex", &hex)));
                }
            }
        }
        if let Some(ts) = dl.timestamp_ms {
            rec = rec.timestamp(ts);
        }
        self.kafka.send(rec)
    }

    /// Produces an access review finding to the alerts topic, caused by
    /// the call at `origin`. The sinks beyond Kafka take decisions of the
    /// detection engine only; a SIEM reads review findings off the topic.
    /// Returns how many acknowledgements will follow (the finding's, and
    /// its decision log lines').
    pub(crate) fn review(
        &mut self,
        r: &emit::OutputRecord,
        origin: Origin,
    ) -> Result<u32, StreamError> {
        self.kafka
            .produce(r, origin)
            .map_err(StreamError::Produce)?;
        if let (Some(a), Origin::Call { partition, .. }, Body::Ocsf(v)) =
            (&mut self.audit, origin, &r.body)
        {
            let bytes = serde_json::to_vec(&**v).expect("JSON values serialise");
            a.output(partition, r.event_type, &r.id, &r.key, r.time_ms, &bytes)?;
        }
        Ok(1 + self.send_audit_lines(origin)?)
    }

    /// Produces one identity's inventory record to the compacted inventory
    /// topic, keyed by identity (the topic's partitioner places it).
    pub(crate) fn inventory(
        &mut self,
        identity: &str,
        id: &str,
        time_ms: i64,
        value: &[u8],
    ) -> Result<(), KafkaError> {
        let topic = self.kafka.cfg.inventory_topic.clone();
        let time = format_rfc3339_ms(time_ms);
        let headers = OwnedHeaders::new_with_capacity(7)
            .insert(h("ce_specversion", "1.0"))
            .insert(h("ce_id", id))
            .insert(h("ce_source", &self.kafka.cfg.source))
            .insert(h("ce_type", INVENTORY_TYPE))
            .insert(h("ce_time", &time))
            .insert(h("ce_subject", identity))
            .insert(h("content-type", "application/json"));
        let rec = BaseRecord::with_opaque_to(&topic, Box::new(Origin::Inventory))
            .key(identity)
            .payload(value)
            .headers(headers);
        self.kafka.send(rec)
    }

    /// Whether partitions' shares of the agent-type-wide view are published
    /// (`[stream] fleet_topic` is set).
    pub(crate) fn shares_fleet(&self) -> bool {
        !self.kafka.cfg.fleet_topic.is_empty()
    }

    /// Publishes no shares (the fleet topic does not exist).
    pub(crate) fn stop_sharing_fleet(&mut self) {
        self.kafka.cfg.fleet_topic.clear();
    }

    /// Produces calls partition `partition`'s share of the agent-type-wide
    /// view to the fleet topic, keyed by the partition's number.
    pub(crate) fn fleet(&mut self, partition: i32, value: &[u8]) -> Result<(), KafkaError> {
        let topic = self.kafka.cfg.fleet_topic.clone();
        let key = partition.to_string();
        let rec = BaseRecord::with_opaque_to(&topic, Box::new(Origin::Fleet { partition }))
            .key(key.as_str())
            .payload(value);
        self.kafka.send(rec)
    }

    /// Produces one state record to `partition` of the state topic (the same
    /// partition number as the calls it summarises).
    pub fn state(&mut self, partition: i32, key: &str, value: &[u8]) -> Result<(), KafkaError> {
        let topic = self.kafka.cfg.state_topic.clone();
        let rec = BaseRecord::with_opaque_to(&topic, Box::new(Origin::State))
            .partition(partition)
            .key(key)
            .payload(value);
        self.kafka.send(rec)
    }
}

impl KafkaTopics {
    /// Value bytes a record may carry beside `other` bytes of key and headers.
    fn value_budget(&self, other: usize) -> usize {
        self.max_message_bytes
            .saturating_sub(oversize::RECORD_OVERHEAD + other)
    }

    fn count_truncated(&mut self, kind: &'static str, original_bytes: usize) {
        self.truncated += 1;
        OutputTruncated {
            kind,
            original_bytes,
            limit: self.max_message_bytes,
        }
        .emit();
    }

    fn send(&mut self, mut rec: BaseRecord<'_, str, [u8], Box<Origin>>) -> Result<(), KafkaError> {
        loop {
            match self.producer.send(rec) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // Backpressure: the broker is slower than we are. Wait for
                    // the queue to drain instead of buffering more.
                    self.backpressure_waits += 1;
                    OutputBackpressureWait.emit();
                    std::thread::sleep(Duration::from_millis(2));
                    rec = back;
                }
                Err((e, back))
                    if e.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge) =>
                {
                    // Refused before it left: answered like a refusal from
                    // the broker, so it is counted the same way.
                    let refused = Ack {
                        origin: *back.delivery_opaque,
                        error: Some(e.to_string()),
                        too_large: true,
                    };
                    if self.refusals.send(refused).is_err() {
                        tracing::debug!("refusal after the service stopped");
                    }
                    return Ok(());
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// One record with CloudEvents binary-mode headers.
    fn produce(&mut self, r: &emit::OutputRecord, origin: Origin) -> Result<(), KafkaError> {
        let (topic, schema) = match r.kind {
            RecordKind::Finding | RecordKind::SuppressedFinding => {
                (&self.cfg.alerts_topic, Some(FINDING_SCHEMA))
            }
            RecordKind::Remediation => (&self.cfg.alerts_topic, Some(REMEDIATION_SCHEMA)),
            RecordKind::AccessReview => (&self.cfg.alerts_topic, Some(IAM_ANALYSIS_SCHEMA)),
            RecordKind::Revocation { shadow: true } => (&self.cfg.shadow_revocations_topic, None),
            RecordKind::Revocation { shadow: false } => (&self.cfg.revocations_topic, None),
        };
        let topic = topic.clone();
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let content_type = match &r.body {
            Body::Ocsf(v) => {
                serde_json::to_writer(&mut buf, &**v).expect("JSON values always serialise");
                "application/json"
            }
            Body::Set(t) => {
                buf.extend_from_slice(t.as_bytes());
                "application/secevent+jwt"
            }
        };
        let time = format_rfc3339_ms(r.time_ms);
        let mut headers = OwnedHeaders::new_with_capacity(8)
            .insert(h("ce_specversion", "1.0"))
            .insert(h("ce_id", &r.id))
            .insert(h("ce_source", &self.cfg.source))
            .insert(h("ce_type", r.event_type))
            .insert(h("ce_time", &time))
            .insert(h("ce_subject", &r.key))
            .insert(h("content-type", content_type));
        if let Some(s) = schema {
            headers = headers.insert(h("ce_dataschema", s));
        }
        // A finding past the size limit goes out in its truncated form. A
        // SET cannot be cut without breaking its signature; its claims are
        // ids bounded by `[input] max_field_bytes`, so it fits any sane limit.
        let budget = self.value_budget(r.key.len() + headers_len(&headers));
        let fitted = match &r.body {
            Body::Ocsf(v) => oversize::fit_json(v, &buf, budget),
            Body::Set(_) => None,
        };
        if fitted.is_some() {
            self.count_truncated("finding", buf.len());
        }
        let payload = fitted.as_deref().unwrap_or(&buf[..]);
        let rec = BaseRecord::with_opaque_to(&topic, Box::new(origin))
            .key(r.key.as_str())
            .payload(payload)
            .headers(headers);
        let sent = self.send(rec);
        self.buf = buf;
        sent
    }
}

impl DecisionSink<Origin> for KafkaTopics {
    fn accept(&mut self, d: &Rendered<'_>, origin: &Origin) -> Result<u32, SinkError> {
        for r in &d.records {
            self.produce(r, *origin)
                .map_err(|e| SinkError::Destination {
                    destination: "kafka",
                    message: e.to_string(),
                })?;
        }
        Ok(d.records.len() as u32)
    }
}

impl DecisionSink<Origin> for AuditLogs {
    fn accept(&mut self, d: &Rendered<'_>, origin: &Origin) -> Result<u32, SinkError> {
        if let Origin::Call { partition, .. } = *origin {
            self.rendered(partition, d)?;
        }
        // Its lines are produced by `Outputs`, which counts their answers.
        Ok(0)
    }
}

/// A decode error located on the bus: topic, partition, offset, record
/// inside an envelope, field (a file's errors name the line instead).
pub(crate) fn located(topic: &str, partition: i32, offset: i64, e: &DecodeError) -> String {
    let mut s = format!("{topic}[{partition}] offset {offset}");
    if let Some(r) = e.record {
        s.push_str(&format!(" record {r}"));
    }
    if let Some(f) = &e.field {
        s.push_str(&format!(" field `{f}`"));
    }
    s.push_str(": ");
    s.push_str(&e.reason);
    s
}

/// Bytes the headers take on the wire, near enough for the size budget.
fn headers_len(headers: &impl Headers) -> usize {
    headers
        .iter()
        .map(|hd| hd.key.len() + hd.value.map_or(0, <[u8]>::len) + 8)
        .sum()
}

fn h<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}
