//! The suppressions topic, followed by every instance: each reads it whole
//! (assigned, never a group member, so every instance sees every record),
//! catches up before it scores its first call, then applies new records
//! between windows. A record's key is the suppression id; a tombstone
//! removes it. The topic may be written by anyone its ACL lets in, so a
//! record is checked like any input, refused (and counted) when bad, and
//! the set is capped.

use super::events::{SuppressionRefused, SuppressionsChanged};
use super::follow::TopicFollower;
use super::StreamError;
use crate::decide::suppress::MAX_SUPPRESSIONS;
use crate::decide::{Suppression, SuppressionSet};
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The suppressions topic as this instance follows it.
pub(crate) struct SuppressionFeed {
    topic_reader: TopicFollower,
    /// From `[decisions] suppressions_file`, in force whatever the topic says.
    file: Vec<Arc<Suppression>>,
    /// From the topic, by id.
    topic: BTreeMap<String, Arc<Suppression>>,
}

impl SuppressionFeed {
    /// Assigns every partition of `topic` from its beginning.
    pub fn start(
        consumer: BaseConsumer,
        topic: &str,
        file: Vec<Suppression>,
    ) -> Result<SuppressionFeed, StreamError> {
        Ok(SuppressionFeed {
            topic_reader: TopicFollower::start(consumer, topic, "suppressions topic")?,
            file: file.into_iter().map(Arc::new).collect(),
            topic: BTreeMap::new(),
        })
    }

    /// Reads the topic to its end (or for a bounded time), and returns the
    /// set then in force.
    pub fn catch_up(&mut self) -> Arc<SuppressionSet> {
        let (topic, file_len) = (&mut self.topic, self.file.len());
        self.topic_reader.catch_up(&mut |m| {
            take(topic, file_len, m);
        });
        self.current()
    }

    /// What arrived since the last call, without waiting: the new set when
    /// it changed.
    pub fn poll(&mut self) -> Option<Arc<SuppressionSet>> {
        let mut changed = false;
        let (topic, file_len) = (&mut self.topic, self.file.len());
        self.topic_reader
            .poll(&mut |m| changed |= take(topic, file_len, m));
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
