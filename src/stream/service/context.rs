//! The consumer's context: librdkafka's callbacks (logs, statistics,
//! rebalances) run on the poll thread and reach the worker through its lock.

use super::Worker;
use crate::stream::events::ConsumerLagMeasured;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::ClientContext;
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
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            self.lock().on_revoke(consumer, tpl);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => self.lock().on_assign(consumer, tpl),
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
            Rebalance::Revoke(_) => {}
        }
    }
}
