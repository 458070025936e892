//! `warden dev-broker`: an in-process Kafka-protocol cluster (librdkafka's
//! mock cluster) with Warden's topics created, for development, the demo and
//! tests. Real clients (kcat, any librdkafka or Java client) can use it. It
//! keeps everything in memory and is slow; never benchmark against it. Each
//! partition keeps only its last 5 MB (a fixed limit of librdkafka's mock
//! broker): a consumer that falls further behind than that loses records.

use crate::config::StreamConfig;
use rdkafka::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

/// An embedded Kafka-protocol cluster (librdkafka's mock cluster) with
/// Warden's topics, for `warden dev-broker`, the demo and the tests.
pub struct DevBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl DevBroker {
    /// Starts a one-broker cluster and creates every topic of `cfg` with
    /// `partitions` partitions (the state topic matches the calls topic).
    pub fn start(cfg: &StreamConfig, partitions: i32) -> Result<Self, KafkaError> {
        let cluster = MockCluster::new(1)?;
        for t in [
            &cfg.calls_topic,
            &cfg.alerts_topic,
            &cfg.revocations_topic,
            &cfg.shadow_revocations_topic,
            &cfg.dead_letter_topic,
            &cfg.state_topic,
        ] {
            cluster.create_topic(t, partitions, 1)?;
        }
        for t in [&cfg.inventory_topic, &cfg.audit_topic] {
            if !t.is_empty() {
                cluster.create_topic(t, partitions, 1)?;
            }
        }
        // Suppressions and fleet shares are read whole by every instance:
        // one partition.
        for t in [&cfg.suppressions_topic, &cfg.fleet_topic] {
            if !t.is_empty() {
                cluster.create_topic(t, 1, 1)?;
            }
        }
        Ok(DevBroker { cluster })
    }

    /// Makes the next `count` produce requests (from any client) fail with
    /// a non-retriable error: for drills and tests of what happens when the
    /// broker refuses outputs.
    pub fn fail_produce_requests(&self, count: usize) {
        let errs = vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; count];
        self.cluster.request_errors(RDKafkaApiKey::Produce, &errs);
    }

    /// Undoes `fail_produce_requests`.
    pub fn clear_produce_failures(&self) {
        self.cluster.clear_request_errors(RDKafkaApiKey::Produce);
    }

    /// `host:port` list clients connect to.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
