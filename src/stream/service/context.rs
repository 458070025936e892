//! The consumer's context: librdkafka's callbacks (logs, statistics,
//! rebalances) run on the poll thread and reach the worker through its lock.

use super::Worker;
use crate::stream::events::ConsumerLagMeasured;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::{Arc, Mutex, MutexGuard};

/// The consumer's context: rebalance callbacks hand state over through the
/// shared worker.
pub(crate) struct WorkerContext {
    pub worker: Arc<Mutex<Worker>>,
}

impl WorkerContext {
    pub fn lock(&self) -> MutexGuard<'_, Worker> {
        // A panic while holding the lock leaves the engine in an unknown
        // state; the poisoned guard is still the best information we have.
        self.worker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ClientContext for WorkerContext {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, msg: &str) {
        crate::stream::kafka::log_librdkafka("consumer", level, fac, msg);
    }

    /// librdkafka's statistics (every `statistics.interval.ms`): consumer lag
    /// per partition and summed over the assigned partitions, as librdkafka
    /// computes it from the broker's high watermarks.
    fn stats(&self, stats: rdkafka::Statistics) {
        let partitions: Vec<(&str, i32, i64)> = stats
            .topics
            .iter()
            .flat_map(|(topic, t)| {
                t.partitions
                    .iter()
                    .filter(|(p, _)| **p >= 0)
                    // A partition handed over stays in the statistics with
                    // its last lag; only those this member wants count.
                    .map(move |(p, s)| {
                        let lag = if s.desired { s.consumer_lag.max(0) } else { 0 };
                        (topic.as_str(), *p, lag)
                    })
            })
            .collect();
        let lag = partitions.iter().map(|&(_, _, l)| l).sum();
        ConsumerLagMeasured {
            lag,
            partitions: &partitions,
        }
        .emit();
    }
}

impl ConsumerContext for WorkerContext {
    /// rdkafka's own rebalance with one change: partitions taken over are
    /// restored *before* they are assigned, so each is assigned at the
    /// offset its state goes on from rather than the group's commit (which
    /// may be behind the state: a commit refused in a rebalance).
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let give_up = |tpl: &TopicPartitionList| {
            if cooperative {
                consumer.incremental_unassign(tpl)
            } else {
                consumer.unassign()
            }
        };
        let done = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let (starts, topic) = {
                    let mut worker = self.lock();
                    let starts = worker.on_assign(consumer, tpl);
                    (starts, worker.cfg.stream.calls_topic.clone())
                };
                let mut store = TopicPartitionList::new();
                for (p, at) in starts {
                    let set = tpl
                        .set_partition_offset(&topic, p, Offset::Offset(at))
                        .and_then(|()| store.add_partition_offset(&topic, p, Offset::Offset(at)));
                    if let Err(e) = set {
                        tracing::warn!(partition = p, offset = at, error = %e,
                            "start offset not set; the group's commit decides");
                    }
                }
                let assigned = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                // A start ahead of the group's commit is committed with the
                // next background commit: otherwise the commit, and the lag
                // measured from it, would stay behind until a new call on
                // that partition is scored. (A start at the commit changes
                // nothing.)
                if assigned.is_ok() && store.count() > 0 {
                    if let Err(e) = consumer.store_offsets(&store) {
                        tracing::warn!(error = %e, "start offsets not stored");
                    }
                }
                assigned
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.lock().on_revoke(consumer, tpl);
                give_up(tpl)
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                tracing::warn!(error = %code, "rebalance error");
                // As rdkafka does: give up the assignment, the group
                // coordinator hands it out again.
                give_up(tpl)
            }
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "rebalance: the assignment was not changed");
        }
    }
}
