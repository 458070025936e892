//! A topic every instance reads whole (assigned, never a group member, so
//! each sees every record): read to its end before the first call is
//! scored, then followed between windows. The suppressions topic and the
//! fleet topic are read this way, as Kafka Streams reads a GlobalKTable.

use super::StreamError;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Longest the start waits to have read the topic to its end.
const CATCH_UP: Duration = Duration::from_secs(10);
/// Records taken per call of `poll` (the rest on the next).
const PER_POLL: usize = 1000;

/// One followed topic.
pub(crate) struct TopicFollower {
    consumer: BaseConsumer,
    /// What the topic is, for logs ("suppressions topic").
    what: &'static str,
    partitions: usize,
    /// Whether the topic existed at the start: when it did not, there is
    /// nothing to catch up with, and the start must not wait for the end
    /// of a partition no broker holds.
    exists: bool,
}

impl TopicFollower {
    /// Assigns every partition of `topic` from its beginning.
    pub fn start(
        consumer: BaseConsumer,
        topic: &str,
        what: &'static str,
    ) -> Result<TopicFollower, StreamError> {
        let partitions = match consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(md) => md
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map_or(0, |t| t.partitions().len()),
            Err(e) => {
                tracing::warn!(topic, error = %e, "{what} metadata");
                0
            }
        };
        if partitions == 0 {
            tracing::warn!(
                topic,
                "{what} not found: following its partition 0 for when it is created"
            );
        }
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions.max(1) as i32 {
            tpl.add_partition_offset(topic, p, Offset::Beginning)?;
        }
        consumer.assign(&tpl)?;
        Ok(TopicFollower {
            consumer,
            what,
            partitions: partitions.max(1),
            exists: partitions > 0,
        })
    }

    /// Whether the topic existed when following began.
    pub fn exists(&self) -> bool {
        self.exists
    }

    /// Reads the topic to its end (or for `CATCH_UP` at most), handing each
    /// record to `each`.
    pub fn catch_up(&mut self, each: &mut dyn FnMut(&BorrowedMessage<'_>)) {
        if !self.exists {
            return;
        }
        let deadline = Instant::now() + CATCH_UP;
        let mut at_end = BTreeSet::new();
        while at_end.len() < self.partitions && Instant::now() < deadline {
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    at_end.insert(p);
                }
                Some(Err(e)) => tracing::debug!(error = %e, "{}", self.what),
                Some(Ok(m)) => each(&m),
            }
        }
        if at_end.len() < self.partitions {
            tracing::warn!(
                "{} not read to its end within {CATCH_UP:?}; going on with what was read",
                self.what
            );
        }
    }

    /// Hands what arrived since the last call to `each`, without waiting.
    pub fn poll(&mut self, each: &mut dyn FnMut(&BorrowedMessage<'_>)) {
        for _ in 0..PER_POLL {
            match self.consumer.poll(Duration::ZERO) {
                None => break,
                Some(Err(KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::UnknownTopic) => {}
                Some(Err(e)) => tracing::debug!(error = %e, "{}", self.what),
                Some(Ok(m)) => each(&m),
            }
        }
    }
}
