//! At-least-once bookkeeping: a partition's offset may be committed only up to
//! the first record whose outputs the broker has not yet acknowledged.

use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default)]
struct PartitionOffsets {
    /// Next offset after the last record processed (None until one is).
    next: Option<i64>,
    /// Source offset -> outputs produced for it and not yet acknowledged.
    outstanding: BTreeMap<i64, u32>,
    /// Last offset handed out by `safe_offsets`.
    reported: Option<i64>,
}

/// Tracks, per input partition, which records still wait for their outputs.
#[derive(Debug, Default)]
pub(crate) struct OffsetTracker {
    parts: HashMap<i32, PartitionOffsets>,
}

impl OffsetTracker {
    /// An output caused by the record at `offset` was sent.
    pub fn sent(&mut self, partition: i32, offset: i64) {
        *self
            .parts
            .entry(partition)
            .or_default()
            .outstanding
            .entry(offset)
            .or_insert(0) += 1;
    }

    /// The broker acknowledged one output of the record at `offset`.
    pub(crate) fn acked(&mut self, partition: i32, offset: i64) {
        let Some(p) = self.parts.get_mut(&partition) else {
            return;
        };
        if let Some(n) = p.outstanding.get_mut(&offset) {
            *n -= 1;
            if *n == 0 {
                p.outstanding.remove(&offset);
            }
        }
    }

    /// Every output of the record at `offset` has been sent (records are
    /// processed in offset order within a partition).
    pub(crate) fn processed(&mut self, partition: i32, offset: i64) {
        let p = self.parts.entry(partition).or_default();
        p.next = Some(p.next.map_or(offset + 1, |n| n.max(offset + 1)));
    }

    /// The offset to resume `partition` from: every record before it is done.
    pub(crate) fn safe_offset(&self, partition: i32) -> Option<i64> {
        let p = self.parts.get(&partition)?;
        let next = p.next?;
        Some(match p.outstanding.keys().next() {
            Some(&first) => first.min(next),
            None => next,
        })
    }

    /// Partitions whose safe offset moved since the last call, with it.
    pub(crate) fn advanced(&mut self) -> Vec<(i32, i64)> {
        let mut out = Vec::new();
        let keys: Vec<i32> = self.parts.keys().copied().collect();
        for k in keys {
            if let Some(safe) = self.safe_offset(k) {
                let p = self.parts.get_mut(&k).expect("key just listed");
                if p.reported.is_none_or(|r| safe > r) {
                    p.reported = Some(safe);
                    out.push((k, safe));
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Outputs not yet acknowledged, over all partitions.
    pub(crate) fn outstanding(&self) -> u64 {
        self.parts
            .values()
            .flat_map(|p| p.outstanding.values())
            .map(|&n| n as u64)
            .sum()
    }

    /// Forgets a partition this instance gave up.
    pub fn remove(&mut self, partition: i32) {
        self.parts.remove(&partition);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_unacknowledged_output_holds_the_offset_back() {
        let mut t = OffsetTracker::default();
        assert_eq!(t.safe_offset(0), None);
        t.processed(0, 10);
        assert_eq!(t.safe_offset(0), Some(11));
        t.sent(0, 11);
        t.sent(0, 11);
        t.processed(0, 11);
        t.processed(0, 12);
        assert_eq!(t.safe_offset(0), Some(11));
        t.acked(0, 11);
        assert_eq!(t.safe_offset(0), Some(11));
        t.acked(0, 11);
        assert_eq!(t.safe_offset(0), Some(13));
        assert_eq!(t.advanced(), vec![(0, 13)]);
        assert!(t.advanced().is_empty());
    }

    proptest! {
        /// Against a naive model: the safe offset is the first offset whose
        /// record has an unacknowledged output, or one past the last processed.
        #[test]
        fn matches_a_naive_model(
            outputs in proptest::collection::vec(0u32..3, 1..60),
            ack_order in proptest::collection::vec(any::<u16>(), 0..200),
        ) {
            let mut t = OffsetTracker::default();
            let mut pending: Vec<(i64, u32)> = Vec::new();
            for (off, &n) in outputs.iter().enumerate() {
                for _ in 0..n {
                    t.sent(5, off as i64);
                }
                pending.push((off as i64, n));
                t.processed(5, off as i64);
            }
            let mut acks: Vec<i64> = pending
                .iter()
                .flat_map(|&(o, n)| std::iter::repeat_n(o, n as usize))
                .collect();
            for (step, r) in ack_order.iter().enumerate() {
                if acks.is_empty() {
                    break;
                }
                let o = acks.remove(*r as usize % acks.len());
                t.acked(5, o);
                pending.iter_mut().find(|p| p.0 == o).unwrap().1 -= 1;
                let model = pending
                    .iter()
                    .find(|p| p.1 > 0)
                    .map_or(outputs.len() as i64, |p| p.0);
                prop_assert_eq!(t.safe_offset(5), Some(model), "step {}", step);
            }
        }
    }
}
