//! The fleet topic: each member's partitions' shares of the agent-type-wide
//! view, so that every member scores against the whole fleet and not only
//! the partitions it holds (`engine::global::shares`).
//!
//! A compacted topic keyed by calls partition. The member that owns a
//! partition publishes its share whenever it checkpoints a changed one; every
//! member follows the topic whole and takes in the shares of the partitions
//! it does not own. Without it (`[stream] fleet_topic = ""`) a member's view
//! is its own partitions': a parent other teams' agents serve reads as
//! unknown unless those teams' calls come to the same member.

use super::events::{FleetShareAdopted, FleetShareRefused};
use super::follow::TopicFollower;
use super::StreamError;
use crate::engine::snapshot::decode_fleet_share;
use crate::engine::Engine;
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::{BorrowedMessage, Message};

/// The fleet topic as this member follows it.
pub(crate) struct FleetFeed {
    topic: TopicFollower,
}

impl FleetFeed {
    /// Assigns every partition of `topic` from its beginning.
    pub fn start(consumer: BaseConsumer, topic: &str) -> Result<FleetFeed, StreamError> {
        Ok(FleetFeed {
            topic: TopicFollower::start(consumer, topic, "fleet topic")?,
        })
    }

    /// Whether the topic exists (publishing to a missing one would stall
    /// every checkpoint until librdkafka gives up on it).
    pub fn exists(&self) -> bool {
        self.topic.exists()
    }

    /// Reads the topic to its end (or for a bounded time) into `engine`.
    pub fn catch_up(&mut self, engine: &mut Engine) {
        self.topic.catch_up(&mut |m| take(engine, m));
    }

    /// Takes in what arrived since the last call, without waiting.
    pub fn poll(&mut self, engine: &mut Engine) {
        self.topic.poll(&mut |m| take(engine, m));
    }
}

/// Applies one record (a tombstone is ignored: a partition's share is
/// replaced, never removed, since its agents stay in the fleet).
fn take(engine: &mut Engine, m: &BorrowedMessage<'_>) {
    let Some(value) = m.payload() else {
        return;
    };
    match decode_fleet_share(m.key(), value) {
        Ok(share) => {
            let (partition, source_offset) = (share.partition, share.source_offset);
            if engine.adopt_fleet_share(share) {
                FleetShareAdopted {
                    partition,
                    source_offset,
                }
                .emit();
            }
        }
        Err(e) => FleetShareRefused {
            partition: m.partition(),
            offset: m.offset(),
            error: &e,
        }
        .emit(),
    }
}
