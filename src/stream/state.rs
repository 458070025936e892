//! State that follows partitions: checkpoints to the compacted state topic,
//! and the restore (plus warm-up replay) of a partition taken over.
//!
//! Partition `p` of the calls topic has its agents' state in partition `p` of
//! the state topic, as Kafka Streams keeps changelogs. A checkpoint writes the
//! changed agents, the shared cohort statistics, then a marker holding the
//! calls offset the state reflects. Whoever takes `p` over reads its state
//! partition, then replays calls from the marker to the group's committed
//! offset without emitting (those outputs were already acknowledged).

use super::events::{FleetSharePublished, StateRecordRejected};
use super::output::Outputs;
use super::StreamError;
use crate::adapt::RecordDecoder;
use crate::engine::snapshot::{self, Checkpoint, StateRecord, CHECKPOINT_KEY};
use crate::engine::Engine;
use crate::event::{CallBatchBuilder, CallColumns};
use crate::inventory::LiveInventory;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use rustc_hash::FxHashMap;
use std::time::{Duration, Instant};

/// Writes partition `p`'s state as of `source_offset`.
#[allow(clippy::too_many_arguments)]
pub fn checkpoint(
    engine: &mut Engine,
    inventory: Option<&mut LiveInventory>,
    outputs: &mut Outputs,
    partition: i32,
    source_offset: i64,
    changed_only: bool,
    now_ms: i64,
) -> Result<usize, StreamError> {
    let mut first_err = None;
    let mut written = 0usize;
    let mut put = |k: &str, v: &[u8]| {
        if first_err.is_none() {
            match outputs.state(partition, k, v) {
                Ok(()) => written += 1,
                Err(e) => first_err = Some(e),
            }
        }
    };
    engine.snapshot_shared(partition as u32, changed_only, &mut put);
    engine.snapshot_partition(partition as u32, changed_only, &mut put);
    if let Some(inv) = inventory {
        inv.snapshot(partition as u32, changed_only, &mut put);
    }
    let mut buf = Vec::new();
    snapshot::encode_checkpoint(
        &Checkpoint {
            source_offset,
            written_ms: now_ms,
        },
        &mut buf,
    );
    put(CHECKPOINT_KEY, &buf);
    if first_err.is_none() && outputs.shares_fleet() {
        if let Some(share) = engine.fleet_share(partition as u32, source_offset) {
            match outputs.fleet(partition, &share) {
                Ok(()) => FleetSharePublished {
                    partition,
                    bytes: share.len(),
                }
                .emit(),
                Err(e) => first_err = Some(e),
            }
        }
    }
    match first_err {
        Some(e) => Err(StreamError::Produce(e)),
        None => Ok(written),
    }
}

/// What a restore found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Restored {
    pub agents: usize,
    /// Identities of the live inventory.
    pub identities: usize,
    pub shared_adopted: usize,
    /// State records this build could not read (counted, then skipped: the
    /// agent starts cold rather than from a misread baseline).
    pub rejected: usize,
    pub checkpoint: Option<Checkpoint>,
}

impl Restored {
    /// A record this build cannot read: logged, counted, skipped.
    fn reject(&mut self, partition: i32, error: &dyn std::fmt::Display) {
        StateRecordRejected { partition, error }.emit();
        self.rejected += 1;
    }
}

/// Called with each record's offset, key and value; an error stops the read.
type RecordFn<'a> = dyn FnMut(i64, Option<&[u8]>, Option<&[u8]>) -> Result<(), StreamError> + 'a;

/// Reads one partition of `topic` from `from` up to `until` (or its current
/// end). The end is where the fetches say the partition ends (partition
/// EOF), as well as the high watermark asked for first: a broker whose
/// ListOffsets answer is short (tansu 0.6 gives the last batch's first
/// offset + 1), or offsets missing at the end (compaction, transaction
/// markers), neither cuts the read short nor holds it until the deadline.
fn read_partition(
    reader: &BaseConsumer,
    topic: &str,
    partition: i32,
    from: Offset,
    until: Option<i64>,
    deadline: Instant,
    each: &mut RecordFn<'_>,
) -> Result<(), StreamError> {
    let left = || deadline.saturating_duration_since(Instant::now());
    let (low, high) = reader
        .fetch_watermarks(topic, partition, left())
        .map_err(|e| StreamError::Restore(format!("{topic}[{partition}] watermarks: {e}")))?;
    let start = match from {
        Offset::Offset(o) => o.max(low),
        _ => low,
    };
    if high <= low || until.is_some_and(|u| start >= u) {
        return Ok(()); // empty, or nothing asked for
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(start))
        .map_err(|e| StreamError::Restore(e.to_string()))?;
    reader
        .assign(&tpl)
        .map_err(|e| StreamError::Restore(format!("{topic}[{partition}] assign: {e}")))?;
    // The next offset to be read. ListOffsets' `high` is a lower bound of
    // the end (tansu 0.6 gives the last batch's first offset + 1), so an
    // end-of-partition event before it is not this read's end: one left
    // queued by an earlier read of the same partition number (the event
    // names no topic), or a fetch that had not yet seen the data.
    let mut next = start;
    loop {
        if Instant::now() >= deadline {
            return Err(StreamError::Restore(format!(
                "{topic}[{partition}]: not read to {} before the restore timeout",
                until.map_or("its end".to_string(), |u| format!("offset {u}"))
            )));
        }
        match reader.poll(Duration::from_millis(100)) {
            None => continue,
            Some(Err(KafkaError::PartitionEOF(p))) if p == partition && next >= high => break,
            Some(Err(KafkaError::PartitionEOF(_))) => continue,
            Some(Err(e)) => {
                return Err(StreamError::Restore(format!("{topic}[{partition}]: {e}")));
            }
            Some(Ok(m)) => {
                if m.partition() != partition || m.topic() != topic {
                    continue;
                }
                if until.is_some_and(|u| m.offset() >= u) {
                    break;
                }
                next = m.offset() + 1;
                each(m.offset(), m.key(), m.payload())?;
                if until.is_some_and(|u| m.offset() + 1 >= u) {
                    break;
                }
            }
        }
    }
    reader
        .unassign()
        .map_err(|e| StreamError::Restore(e.to_string()))?;
    Ok(())
}

/// The last record of one partition of `topic` (none when it is empty): a
/// decision log's head, to go on from.
pub(crate) fn last_record(
    reader: &BaseConsumer,
    topic: &str,
    partition: i32,
    deadline: Instant,
) -> Result<Option<Vec<u8>>, StreamError> {
    let left = deadline.saturating_duration_since(Instant::now());
    let (low, high) = reader
        .fetch_watermarks(topic, partition, left)
        .map_err(|e| StreamError::Restore(format!("{topic}[{partition}] watermarks: {e}")))?;
    if high <= low {
        return Ok(None);
    }
    // From the last offset the broker names, on to the partition's end (a
    // short ListOffsets answer only makes the read longer).
    let mut last = None;
    read_partition(
        reader,
        topic,
        partition,
        Offset::Offset(high - 1),
        None,
        deadline,
        &mut |_, _, v| {
            if let Some(v) = v {
                last = Some(v.to_vec());
            }
            Ok(())
        },
    )?;
    Ok(last)
}

/// Loads partition `p`'s state into the engine.
pub(crate) fn restore(
    reader: &BaseConsumer,
    state_topic: &str,
    engine: &mut Engine,
    mut inventory: Option<&mut LiveInventory>,
    partition: i32,
    deadline: Instant,
) -> Result<Restored, StreamError> {
    // Latest value per key (a compacted topic may still hold older ones).
    let mut latest: FxHashMap<Vec<u8>, Option<Vec<u8>>> = FxHashMap::default();
    read_partition(
        reader,
        state_topic,
        partition,
        Offset::Beginning,
        None,
        deadline,
        &mut |_, k, v| {
            if let Some(k) = k {
                latest.insert(k.to_vec(), v.map(<[u8]>::to_vec));
            }
            Ok(())
        },
    )?;
    let mut out = Restored::default();
    let mut agents = Vec::new();
    // What other members published of this partition's share of the
    // agent-type-wide view gives way to its checkpointed share.
    engine.claim_partition(partition as u32);
    for (k, v) in latest {
        let Some(v) = v else { continue }; // tombstone
        if LiveInventory::is_state_key(&k) {
            // Left alone when the live inventory is off.
            if let Some(inv) = inventory.as_deref_mut() {
                match inv.restore(&k, &v, partition as u32) {
                    Ok(()) => out.identities += 1,
                    Err(e) => out.reject(partition, &e),
                }
            }
            continue;
        }
        match snapshot::decode(&v) {
            Ok(StateRecord::Agent(a)) => match String::from_utf8(k) {
                Ok(id) => agents.push((id, a)),
                Err(_) => out.rejected += 1,
            },
            Ok(StateRecord::Checkpoint(c)) => out.checkpoint = Some(c),
            Ok(shared) => {
                if engine.restore_shared(shared, partition as u32) {
                    out.shared_adopted += 1;
                }
            }
            Err(e) => out.reject(partition, &e),
        }
    }
    // Shared statistics first, so agents join the cohorts they left.
    agents.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, a) in agents {
        engine.restore_agent(&id, *a, partition as u32);
        out.agents += 1;
    }
    Ok(out)
}

/// Where a partition taken over goes on from, given the calls offset its
/// restored state reflects (its checkpoint) and the group's committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resume {
    /// Calls `[from, to)` to replay into the state without emitting.
    pub warm_up: Option<(i64, i64)>,
    /// The first offset to consume (none: the consumer's reset policy).
    pub consume_from: Option<i64>,
}

impl Resume {
    /// A checkpoint's offset is one every output before it was acknowledged
    /// at (it is written after the outputs settle), so consuming goes on
    /// from the later of it and the commit. Behind the commit, the state is
    /// caught up by warm-up; ahead of it (the commit was refused, as a
    /// commit in a rebalance may be, or never made, after the state was
    /// written), consuming from the commit would count those calls twice.
    /// With no checkpoint, warm-up starts at the oldest call retained.
    pub fn at(checkpoint: Option<i64>, committed: Option<i64>) -> Resume {
        let state = checkpoint.unwrap_or(0);
        match committed {
            Some(k) if state < k => Resume {
                warm_up: Some((state, k)),
                consume_from: Some(k),
            },
            _ => Resume {
                warm_up: None,
                consume_from: checkpoint.max(committed),
            },
        }
    }
}

/// Replays calls `[from, to)` of partition `p` into the engine without
/// emitting: they were processed (and their outputs acknowledged) before
/// the last commit, after the checkpoint the state was restored from.
#[allow(clippy::too_many_arguments)]
pub(crate) fn warm_up(
    reader: &BaseConsumer,
    calls_topic: &str,
    decoder: &RecordDecoder<'_>,
    engine: &mut Engine,
    mut inventory: Option<&mut LiveInventory>,
    lateness_ms: i64,
    partition: i32,
    from: i64,
    to: i64,
    deadline: Instant,
) -> Result<u64, StreamError> {
    let mut builder = CallBatchBuilder::with_capacity(1024);
    let mut events = 0u64;
    let mut max_ts = i64::MIN;
    let mut run = |builder: &mut CallBatchBuilder, engine: &mut Engine| {
        let batch = builder.finish();
        let cols = CallColumns::new(&batch).map_err(|e| StreamError::Engine(e.into()))?;
        for i in 0..cols.len() {
            let row = cols.row(i);
            engine.process_row_in(&row, partition as u32, &mut |_, _| {});
            max_ts = max_ts.max(row.ts_ms);
            // Review findings these calls caused were delivered before the
            // commit: judged again, as they were live, only to bring the
            // state up to date.
            if let Some(inv) = inventory.as_deref_mut() {
                inv.observe(&row, partition as u32);
                inv.review(partition as u32, max_ts - lateness_ms, &mut |_| {});
            }
            events += 1;
        }
        Ok::<(), StreamError>(())
    };
    read_partition(
        reader,
        calls_topic,
        partition,
        Offset::Offset(from),
        Some(to),
        deadline,
        &mut |offset, _, v| {
            let Some(text) = v.and_then(|v| std::str::from_utf8(v).ok()) else {
                return Ok(());
            };
            // Bad records went to the dead-letter topic the first time round.
            decoder.decode(
                text,
                offset as u64 + 1,
                &mut |ev| builder.push(ev),
                &mut |_| {},
            );
            if builder.len() >= 1024 {
                run(&mut builder, engine)?;
            }
            Ok(())
        },
    )?;
    if !builder.is_empty() {
        run(&mut builder, engine)?;
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::Resume;

    #[test]
    fn a_partition_goes_on_from_the_later_of_its_checkpoint_and_its_commit() {
        // Committed past the checkpoint: warm up the state, then go on.
        assert_eq!(
            Resume::at(Some(100), Some(250)),
            Resume {
                warm_up: Some((100, 250)),
                consume_from: Some(250)
            }
        );
        // No checkpoint: the state is rebuilt from the oldest call.
        assert_eq!(
            Resume::at(None, Some(250)),
            Resume {
                warm_up: Some((0, 250)),
                consume_from: Some(250)
            }
        );
        // The state is ahead of the commit (refused in a rebalance): its
        // calls are neither replayed nor read again.
        for committed in [None, Some(0), Some(99)] {
            assert_eq!(
                Resume::at(Some(100), committed),
                Resume {
                    warm_up: None,
                    consume_from: Some(100)
                },
                "{committed:?}"
            );
        }
        assert_eq!(
            Resume::at(Some(100), Some(100)),
            Resume {
                warm_up: None,
                consume_from: Some(100)
            }
        );
        // Nothing at all: the consumer's reset policy decides.
        assert_eq!(
            Resume::at(None, None),
            Resume {
                warm_up: None,
                consume_from: None
            }
        );
    }
}
