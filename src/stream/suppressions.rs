//! The suppressions topic, followed by every instance: each reads it whole
//! (assigned, never a group member, so every instance sees every record),
//! catches up before it scores its first call, then applies new records
//! between windows. A record's key is the suppression id; a tombstone
//! removes it. The topic may be written by anyone its ACL lets in, so a
//! record is checked like any input, refused (and counted) when bad, and
//! the set is capped.

use super::events::{SuppressionRefused, SuppressionsChanged};
use super::StreamError;
use crate::decide::suppress::MAX_SUPPRESSIONS;
use crate::decide::{Suppression, SuppressionSet};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest the start waits to have read the topic to its end.
const CATCH_UP: Duration = Duration::from_secs(10);
/// Records taken per call of `poll` (the rest on the next).
const PER_POLL: usize = 1000;

/// The suppressions topic as this instance follows it.
pub(crate) struct SuppressionFeed {
    consumer: BaseConsumer,
    /// From `[decisions] suppressions_file`, in force whatever the topic says.
    file: Vec<Arc<Suppression>>,
    /// From the topic, by id.
    topic: BTreeMap<String, Arc<Suppression>>,
    partitions: usize,
    /// Whether the topic existed at the start: when it did not, there is
    /// nothing to catch up with, and the start must not wait for the end
    /// of a partition no broker holds.
    exists: bool,
}

impl SuppressionFeed {
    /// Assigns every partition of `topic` from its beginning.
    pub fn start(
        consumer: BaseConsumer,
        topic: &str,
        file: Vec<Suppression>,
    ) -> Result<SuppressionFeed, StreamError> {
        let partitions = match consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(md) => md
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map_or(0, |t| t.partitions().len()),
            Err(e) => {
                tracing::warn!(topic, error = %e, "suppressions topic metadata");
                0
            }
        };
        if partitions == 0 {
            tracing::warn!(
                topic,
                "suppressions topic not found: following its partition 0 for when it is created"
            );
        }
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions.max(1) as i32 {
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        }
        consumer.assign(&tpl)?;
        Ok(SuppressionFeed {
            consumer,
            file: file.into_iter().map(Arc::new).collect(),
            topic: BTreeMap::new(),
            partitions: partitions.max(1),
            exists: partitions > 0,
        })
    }

    /// Reads the topic to its end (or for `CATCH_UP` at most), and returns
    /// the set then in force.
    pub fn catch_up(&mut self) -> Arc<SuppressionSet> {
        if !self.exists {
            return self.current();
        }
        let deadline = Instant::now() + CATCH_UP;
        let mut at_end = std::collections::BTreeSet::new();
        while at_end.len() < self.partitions && Instant::now() < deadline {
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                }
                Some(Err(e)) => tracing::debug!(error = %e, "suppressions topic"),
                Some(Ok(m)) => {
                    take(&mut self.topic, self.file.len(), &m);
                }
            }
        }
        if at_end.len() < self.partitions {
            tracing::warn!(
                "suppressions topic not read to its end within {CATCH_UP:?}; going on with what \
                 was read"
            );
        }
        self.current()
    }

    /// What arrived since the last call, without waiting: the new set when
    /// it changed.
    pub fn poll(&mut self) -> Option<Arc<SuppressionSet>> {
        let mut changed = false;
        for _ in 0..PER_POLL {
            match self.consumer.poll(Duration::ZERO) {
                None => break,
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopic) => {}
                Some(Err(e)) => tracing::debug!(error = %e, "suppressions topic"),
                Some(Ok(m)) => changed |= take(&mut self.topic, self.file.len(), &m),
            }
        }
        changed.then(|| self.current())
    }

    /// File and topic together (a topic record replaces a file one of the
    /// same id).
    fn current(&self) -> Arc<SuppressionSet> {
        let file = self
            .file
            .iter()
            .filter(|s| !self.topic.contains_key(&s.id))
            .cloned();
        let set = SuppressionSet::new(file.chain(self.topic.values().cloned()));
        SuppressionsChanged {
            in_force: set.len(),
            from_topic: self.topic.len(),
        }
        .emit();
        Arc::new(set)
    }
}

/// Applies one record; whether the set changed.
fn take<M: Message>(
    topic: &mut BTreeMap<String, Arc<Suppression>>,
    file_len: usize,
    m: &M,
) -> bool {
    let refuse = |reason: &str| {
        SuppressionRefused {
            partition: m.partition(),
            offset: m.offset(),
            reason,
        }
        .emit();
        false
    };
    let Some(Ok(key)) = m.key().map(std::str::from_utf8) else {
        return refuse("no key, or a key that is not UTF-8 (the key is the suppression id)");
    };
    let Some(value) = m.payload() else {
        return topic.remove(key).is_some();
    };
    let s = match Suppression::parse(value) {
        Ok(s) => s,
        Err(e) => return refuse(&e.to_string()),
    };
    if s.id != key {
        return refuse("the record's id is not its key");
    }
    if !topic.contains_key(key) && topic.len() + file_len >= MAX_SUPPRESSIONS {
        return refuse("the suppressions cap is reached");
    }
    topic.insert(s.id.clone(), Arc::new(s));
    true
}

/// Publishes one suppression to `[stream] suppressions_topic` (`None`: a
/// tombstone removing `id`), waiting for the broker's acknowledgement.
pub fn publish_suppression(
    cfg: &crate::config::Config,
    id: &str,
    record: Option<&Suppression>,
) -> Result<(), StreamError> {
    use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
    /// Keeps the delivery report: `flush` alone says nothing of a refusal.
    #[derive(Default)]
    struct Delivered(std::sync::Mutex<Option<Result<(), KafkaError>>>);
    impl rdkafka::ClientContext for Delivered {}
    impl ProducerContext for Delivered {
        type DeliveryOpaque = ();
        fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
            let outcome = r.as_ref().map(|_| ()).map_err(|(e, _)| e.clone());
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        }
    }
    let topic = &cfg.stream.suppressions_topic;
    if topic.is_empty() {
        return Err(StreamError::Invalid(
            "[stream] suppressions_topic is \"\": there is no topic to publish to".into(),
        ));
    }
    let props = cfg.kafka_properties(std::env::vars());
    let mut pc = super::kafka::producer_config(&props);
    pc.set("enable.idempotence", "true");
    let producer: BaseProducer<Delivered> = pc.create_with_context(Delivered::default())?;
    let value = record.map(Suppression::to_json);
    let mut rec = BaseRecord::<str, str>::to(topic).key(id);
    if let Some(v) = &value {
        rec = rec.payload(v.as_str());
    }
    producer.send(rec).map_err(|(e, _)| e)?;
    producer.flush(Duration::from_secs(30))?;
    let outcome = producer
        .context()
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match outcome {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.into()),
        None => Err(KafkaError::Flush(rdkafka::types::RDKafkaErrorCode::MessageTimedOut).into()),
    }
}
