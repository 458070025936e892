//! Engine state as records for the state topic: one record per agent (its
//! baselines and episode, open or closed lately), one per cohort and per
//! agent-type prevalence, and the checkpoint marker the stream writes after
//! them. Every value starts with a format version byte and a kind byte,
//! then a postcard body, so a later build can refuse (and count) a record
//! it cannot read instead of misreading it.

use super::cohort::{Cohort, Prevalence};
use super::global::{Share, MAX_VALUES_PER_COHORT};
use super::{AgentState, Engine};
use crate::decide::Episode;
use serde::{Deserialize, Serialize};

/// Bumped whenever the layout of any record below changes.
pub(crate) const STATE_FORMAT_VERSION: u8 = 8;

const KIND_AGENT: u8 = 0;
const KIND_COHORT: u8 = 1;
const KIND_GLOBAL: u8 = 2;
const KIND_CHECKPOINT: u8 = 3;
/// One partition's share of an agent type's prevalence (a streaming
/// member's state; `KIND_GLOBAL` is a whole view, which replay writes).
const KIND_GLOBAL_SHARE: u8 = 4;
/// One partition's shares of every agent type, as published on the fleet
/// topic for the group's other members.
const KIND_FLEET_SHARE: u8 = 5;

/// Key of a partition's checkpoint marker. Agent ids are the keys of agent
/// records; shared records use keys that start with a NUL byte.
pub(crate) const CHECKPOINT_KEY: &str = "\u{0}checkpoint";

#[derive(Debug, thiserror::Error, PartialEq)]
/// Why a state-topic value could not be read (the agent then starts cold).
pub enum SnapshotError {
    #[error("state record is shorter than its two header bytes")]
    /// Shorter than its header.
    Truncated,
    #[error("state record has format version {found}; this build reads version {expected}")]
    /// Written by a build with another state format.
    Version {
        /// The version the record carries.
        found: u8,
        /// The version this build writes and reads.
        expected: u8,
    },
    #[error("state record has unknown kind {0}")]
    /// A record kind this build does not know.
    Kind(u8),
    #[error("state record body does not decode: {0}")]
    /// The body does not decode.
    Body(#[from] postcard::Error),
}

#[derive(Serialize)]
struct AgentRecordRef<'a> {
    cohort: &'a str,
    state: &'a AgentState,
    episode: Option<&'a Episode>,
}

#[derive(Debug, Deserialize)]
/// One agent's baseline and episode (open, or closed and still to be
/// reopened), as checkpointed.
pub struct AgentRecord {
    cohort: String,
    state: AgentState,
    episode: Option<Episode>,
}

/// Where a partition's state stands: it reflects every input record before
/// `source_offset` (and none after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The input offset the state reflects everything before.
    pub source_offset: i64,
    /// When the checkpoint was written (ms since the epoch).
    pub written_ms: i64,
}

/// One decoded state-topic value.
#[derive(Debug)]
pub enum StateRecord {
    /// An agent's baseline.
    Agent(Box<AgentRecord>),
    /// A cohort's priors.
    Cohort(Box<Cohort>),
    /// Fleet-wide prevalence of one value kind.
    Global(u8, Box<Prevalence>),
    /// A partition's checkpoint marker.
    Checkpoint(Checkpoint),
    /// One agent type's prevalence among the agents of the state
    /// partition the record is in.
    GlobalShare(u8, Box<Prevalence>),
    /// A fleet-topic record (another member's partition).
    FleetShare(Box<FleetShare>),
}

/// One partition's share of the agent-type-wide view, as a member published
/// it to the fleet topic.
#[derive(Debug, Serialize, Deserialize)]
pub struct FleetShare {
    /// The calls partition whose agents make the share.
    pub partition: u32,
    /// The calls offset it reflects everything before.
    pub source_offset: i64,
    /// By agent type.
    pub types: Vec<(u8, Prevalence)>,
}

#[derive(Serialize)]
struct FleetShareRef<'a> {
    partition: u32,
    source_offset: i64,
    types: &'a [(u8, &'a Prevalence)],
}

/// Why a fleet-topic record was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FleetShareError {
    #[error(transparent)]
    /// Not a readable record.
    Record(#[from] SnapshotError),
    #[error("record is not a fleet share")]
    /// Another kind of record.
    NotAShare,
    #[error("key {key:?} does not name the record's partition {partition}")]
    /// The key and the body disagree (or the key is not a partition).
    Key {
        /// The record's key, as text.
        key: String,
        /// The partition its body names.
        partition: u32,
    },
    #[error("agent type {agent_type} holds {values} values, over the cap of {cap}")]
    /// More values than any member keeps.
    TooManyValues {
        /// The agent type.
        agent_type: u8,
        /// Values in the record.
        values: usize,
        /// What a member keeps at most.
        cap: usize,
    },
    #[error("agent type {0} appears twice")]
    /// One type listed twice.
    DuplicateType(u8),
}

/// Encodes `partition`'s share as a fleet-topic value (its key is the
/// partition number in decimal).
pub(crate) fn encode_fleet_share(
    partition: u32,
    source_offset: i64,
    types: &[(u8, &Prevalence)],
    out: &mut Vec<u8>,
) {
    let body = FleetShareRef {
        partition,
        source_offset,
        types,
    };
    encode(KIND_FLEET_SHARE, &body, out)
}

/// Decodes and checks one fleet-topic record. The topic is written by
/// Warden's members, but anyone its ACL lets in can write to it too, so a
/// record is checked like any input before it moves a member's view.
pub fn decode_fleet_share(key: Option<&[u8]>, value: &[u8]) -> Result<FleetShare, FleetShareError> {
    let StateRecord::FleetShare(share) = decode(value)? else {
        return Err(FleetShareError::NotAShare);
    };
    let key_text = key.map(String::from_utf8_lossy).unwrap_or_default();
    if key_text.parse::<u32>().ok() != Some(share.partition) {
        return Err(FleetShareError::Key {
            key: key_text.chars().take(64).collect(),
            partition: share.partition,
        });
    }
    let mut seen = [false; 256];
    for (t, p) in &share.types {
        if std::mem::replace(&mut seen[*t as usize], true) {
            return Err(FleetShareError::DuplicateType(*t));
        }
        if p.distinct() > MAX_VALUES_PER_COHORT {
            return Err(FleetShareError::TooManyValues {
                agent_type: *t,
                values: p.distinct(),
                cap: MAX_VALUES_PER_COHORT,
            });
        }
    }
    Ok(*share)
}

impl FleetShare {
    /// The share as the engine keeps it.
    pub(crate) fn into_share(self) -> Share {
        self.types.into_iter().collect()
    }
}

fn encode<T: Serialize + ?Sized>(kind: u8, body: &T, out: &mut Vec<u8>) {
    out.clear();
    out.push(STATE_FORMAT_VERSION);
    out.push(kind);
    // Serialising plain data into a Vec cannot fail.
    let body = postcard::to_extend(body, std::mem::take(out)).expect("state serialises");
    *out = body;
}

pub(crate) fn encode_checkpoint(c: &Checkpoint, out: &mut Vec<u8>) {
    encode(KIND_CHECKPOINT, c, out)
}

/// Decodes one state-topic value.
pub fn decode(value: &[u8]) -> Result<StateRecord, SnapshotError> {
    let [version, kind, body @ ..] = value else {
        return Err(SnapshotError::Truncated);
    };
    if *version != STATE_FORMAT_VERSION {
        return Err(SnapshotError::Version {
            found: *version,
            expected: STATE_FORMAT_VERSION,
        });
    }
    Ok(match *kind {
        KIND_AGENT => StateRecord::Agent(Box::new(postcard::from_bytes(body)?)),
        KIND_COHORT => StateRecord::Cohort(Box::new(postcard::from_bytes(body)?)),
        KIND_GLOBAL => {
            let (t, p): (u8, Prevalence) = postcard::from_bytes(body)?;
            StateRecord::Global(t, Box::new(p))
        }
        KIND_CHECKPOINT => StateRecord::Checkpoint(postcard::from_bytes(body)?),
        KIND_GLOBAL_SHARE => {
            let (t, p): (u8, Prevalence) = postcard::from_bytes(body)?;
            StateRecord::GlobalShare(t, Box::new(p))
        }
        KIND_FLEET_SHARE => StateRecord::FleetShare(Box::new(postcard::from_bytes(body)?)),
        k => return Err(SnapshotError::Kind(k)),
    })
}

impl Engine {
    /// Writes the state of the agents whose events come on `partition` (only
    /// those changed since they were last written, when `changed_only`) as
    /// `(key, value)` records. Returns how many were written.
    pub fn snapshot_partition(
        &mut self,
        partition: u32,
        changed_only: bool,
        out: &mut dyn FnMut(&str, &[u8]),
    ) -> usize {
        let idxs = self.agents.take_partition(partition, changed_only);
        let mut buf = Vec::with_capacity(1536);
        for &i in &idxs {
            let state = self.agents.state_ref(i);
            let rec = AgentRecordRef {
                cohort: &self.cohorts.get(state.cohort).key,
                state,
                episode: self.decider.episode(i),
            };
            encode(KIND_AGENT, &rec, &mut buf);
            out(self.agents.id(i), &buf);
        }
        idxs.len()
    }

    /// Writes the cohorts' and agent types' shared statistics to
    /// `partition`: all of them, or with `changed_only` those changed since
    /// they were last written there. Returns how many records.
    pub(crate) fn snapshot_shared(
        &mut self,
        partition: u32,
        changed_only: bool,
        out: &mut dyn FnMut(&str, &[u8]),
    ) -> usize {
        let since = self
            .shared_written
            .get(&partition)
            .copied()
            .filter(|_| changed_only);
        let global = self.cohorts.global_mut();
        // Split by partition (the stream), a partition's state holds its
        // own share of the agent-type-wide view; whole (replay), the view.
        let split = global.tracks_partitions();
        let global_now = if split {
            global.share_changes(partition)
        } else {
            global.changes
        };
        let now = (self.cohorts.changes(), global_now);
        self.shared_written.insert(partition, now);
        let mut buf = Vec::new();
        let cohorts = self.cohorts.changed_since(since.map(|(c, _)| c), partition);
        let global_changed = since.is_none_or(|(_, g)| now.1 > g);
        let mut n = cohorts.len();
        for c in cohorts {
            encode(KIND_COHORT, c, &mut buf);
            out(&format!("\u{0}cohort\u{0}{}", c.key), &buf);
        }
        if global_changed && split {
            let global = self.cohorts.global_mut();
            for (t, p) in global.share(partition).map(|s| s.0).unwrap_or_default() {
                encode(KIND_GLOBAL_SHARE, &(t, p), &mut buf);
                out(&format!("\u{0}gshare\u{0}{t}"), &buf);
                n += 1;
            }
        } else if global_changed {
            for (t, p) in self.cohorts.globals() {
                encode(KIND_GLOBAL, &(t, p), &mut buf);
                out(&format!("\u{0}global\u{0}{t}"), &buf);
                n += 1;
            }
        }
        n
    }

    /// Splits the agent-type-wide view by input partition, so that a
    /// partition's share moves with it and members of a consumer group can
    /// publish their shares to each other (`global::shares`). The stream
    /// calls it before the first call; replay never does.
    pub(crate) fn track_partitions(&mut self) {
        self.cohorts.global_mut().track_partitions();
    }

    /// Takes `partition` over, before its state is restored: what other
    /// members published of its share leaves the view.
    pub(crate) fn claim_partition(&mut self, partition: u32) {
        self.cohorts.global_mut().claim(partition);
    }

    /// `partition`'s share of the agent-type-wide view as a fleet-topic
    /// value as of `source_offset`, when this member owns the partition and
    /// the share changed since it last published it.
    pub(crate) fn fleet_share(&mut self, partition: u32, source_offset: i64) -> Option<Vec<u8>> {
        let last = self.fleet_published.get(&partition).copied();
        let global = self.cohorts.global_mut();
        let (types, changes) = global.share(partition)?;
        if last.is_some_and(|l| l >= changes) {
            return None;
        }
        let mut buf = Vec::new();
        encode_fleet_share(partition, source_offset, &types, &mut buf);
        self.fleet_published.insert(partition, changes);
        global.share_published(partition, source_offset);
        Some(buf)
    }

    /// Publishes `partition`'s share again at the next checkpoint (the last
    /// publication was not delivered).
    pub(crate) fn republish_fleet_share(&mut self, partition: u32) {
        self.fleet_published.remove(&partition);
    }

    /// Another member's share of its partition; false when refused (this
    /// member owns the partition, or holds a later share of it).
    pub(crate) fn adopt_fleet_share(&mut self, share: FleetShare) -> bool {
        let (partition, offset) = (share.partition, share.source_offset);
        self.cohorts
            .global_mut()
            .adopt_remote(partition, offset, share.into_share())
    }

    /// Partitions whose share of the agent-type-wide view comes from other
    /// members.
    pub(crate) fn fleet_partitions_shared(&self) -> usize {
        self.cohorts.global().remote_partitions()
    }

    /// Forgets the agents of a partition this instance no longer owns, and
    /// the cohorts that live in it (`cohort::Home`).
    pub(crate) fn drop_partition(&mut self, partition: u32) -> usize {
        let idxs = self.agents.take_partition(partition, false);
        for &i in &idxs {
            self.agents.remove(i);
            self.decider.forget(i);
        }
        self.cohorts.forget_partition(partition);
        self.cohorts.global_mut().give_up(partition);
        self.fleet_published.remove(&partition);
        idxs.len()
    }

    /// Takes in shared statistics restored from `partition` of the state
    /// topic; returns whether they were adopted (see
    /// `Cohorts::adopt_snapshot`). A view split by partition takes the
    /// partition's share and ignores whole views (an earlier build's, which
    /// held other partitions too).
    pub(crate) fn restore_shared(&mut self, rec: StateRecord, partition: u32) -> bool {
        let split = self.cohorts.global_mut().tracks_partitions();
        match rec {
            StateRecord::Cohort(c) => self.cohorts.adopt_snapshot(*c),
            StateRecord::Global(t, p) if !split => self.cohorts.adopt_global(t, *p),
            StateRecord::GlobalShare(t, p) => {
                self.cohorts.global_mut().restore_share(partition, t, *p)
            }
            _ => false,
        }
    }

    /// Reinstates one agent restored from the state topic as an agent of
    /// `partition`. It counts as written (not changed).
    pub fn restore_agent(&mut self, agent_id: &str, rec: AgentRecord, partition: u32) {
        let cohort = self.cohorts.intern(&rec.cohort);
        let mut state = rec.state;
        state.cohort = cohort;
        let last_call_ts = state.last_ts;
        let idx = match self.agents.lookup(agent_id) {
            Some(i) => {
                *self.agents.state(i) = state;
                self.decider.forget(i);
                i
            }
            None => {
                self.scratch_evicted.clear();
                let i = self
                    .agents
                    .insert(agent_id, state, &mut self.scratch_evicted);
                for e in self.scratch_evicted.drain(..) {
                    self.decider.forget(e);
                }
                i
            }
        };
        if let Some(ep) = rec.episode {
            self.decider.restore_episode(idx, ep);
            // The partition may resume behind this engine's clock (its
            // checkpoint is older than the calls of the partitions this
            // engine kept scoring): as far behind as the agent's last call
            // is, its episode must not be closed as quiet before its own
            // calls catch up. Its next call measures the lag again.
            self.decider.note_clock(idx, last_call_ts, self.clock.now());
        }
        self.cohorts.note_partition(cohort, partition);
        self.agents.touch(idx, partition);
        self.agents.mark_written(idx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::event::{CallBatchBuilder, CallColumns, CallEvent};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn event(agent: &str, i: i64, action: &str) -> CallEvent<'static> {
        CallEvent {
            event_id: Some(format!("e{i}").into()),
            ts_ms: 1_795_132_800_000 + i * 7_000,
            agent_id: agent.to_string().into(),
            action: action.to_string().into(),
            src_ip: Some("10.1.2.3".into()),
            session_id: Some("s1".into()),
            ..CallEvent::default()
        }
    }

    fn feed(engine: &mut Engine, events: &[CallEvent<'_>], partition: u32) -> Vec<String> {
        let batch = CallBatchBuilder::batch_of(events);
        let cols = CallColumns::new(&batch).unwrap();
        let mut out = Vec::new();
        for i in 0..cols.len() {
            engine.process_row_in(&cols.row(i), partition, &mut |_, d| {
                out.push(format!("{d:?}"))
            });
        }
        out
    }

    /// Partition `partition` taken over by `to` from `from`, as a stream
    /// hands it over: its checkpoint written, then dropped, then restored.
    fn moved(from: &mut Engine, to: &mut Engine, partition: u32) {
        let mut shared = Vec::new();
        from.snapshot_shared(partition, false, &mut |k, v| {
            shared.push((k.to_string(), v.to_vec()))
        });
        to.claim_partition(partition);
        for (_, v) in shared {
            to.restore_shared(decode(&v).unwrap(), partition);
        }
        let mut recs = Vec::new();
        from.snapshot_partition(partition, false, &mut |k, v| {
            recs.push((k.to_string(), v.to_vec()))
        });
        from.drop_partition(partition);
        for (k, v) in recs {
            match decode(&v).unwrap() {
                StateRecord::Agent(a) => to.restore_agent(&k, *a, partition),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Keys of the shared records a checkpoint of `partition` writes.
    fn shared_keys(e: &mut Engine, partition: u32, changed_only: bool) -> Vec<String> {
        let mut keys = Vec::new();
        e.snapshot_shared(partition, changed_only, &mut |k, _| {
            keys.push(k.replace('\u{0}', "/"))
        });
        keys
    }

    /// Event time is the caller's: an agent stamping calls past what a
    /// 32-bit hour index holds (the year 245,000) is scored without a
    /// panic, its own index saturates, and its record restores as it was.
    #[test]
    fn an_agent_stamped_beyond_the_hour_index_is_scored_and_restored() {
        let mut e = Engine::new(Config::default());
        let mut events: Vec<_> = (0..40).map(|i| event("a", i, "s3:GetObject")).collect();
        for k in 0..20 {
            let mut far = event("a", 40 + k, "s3:GetObject");
            far.ts_ms = 8_000_000_000_000_000 + k * 3_600_000;
            events.push(far);
        }
        events.push(event("a", 60, "s3:PutObject"));
        feed(&mut e, &events, 0);
        let before = e.agents.state_ref(e.agents.lookup("a").unwrap()).clone();
        assert_eq!(before.hour_idx.get(), i64::from(i32::MAX));
        let mut other = Engine::new(Config::default());
        moved(&mut e, &mut other, 0);
        let after = other.agents.state_ref(other.agents.lookup("a").unwrap());
        assert_eq!(*after, before);
    }

    #[test]
    fn checkpoints_write_only_the_cohorts_that_changed() {
        let mut e = Engine::new(Config::default());
        let mut a = event("a", 0, "x");
        a.tenant = Some("t1".into());
        let mut b = event("b", 1, "y");
        b.tenant = Some("t2".into());
        feed(&mut e, &[a.clone(), b], 0);
        let all = shared_keys(&mut e, 0, true);
        assert!(all.iter().any(|k| k.contains("t1")) && all.iter().any(|k| k.contains("t2")));
        assert!(shared_keys(&mut e, 0, true).is_empty(), "nothing changed");
        a.ts_ms += 14_000;
        feed(&mut e, &[a], 0);
        let changed = shared_keys(&mut e, 0, true);
        assert!(changed.iter().any(|k| k.contains("t1")), "{changed:?}");
        assert!(!changed.iter().any(|k| k.contains("t2")), "{changed:?}");
        // Another partition has had nothing written yet, and no cohort
        // lives there: the agent-type-wide records only.
        let other = shared_keys(&mut e, 1, true);
        assert!(cohort_keys(&other).is_empty(), "{other:?}");
        // A full checkpoint writes everything again.
        assert_eq!(shared_keys(&mut e, 0, false).len(), all.len());
    }

    /// A call of `tenant`'s, a second after call `i - 1`: as on a busy
    /// stream, where the shared clock (the lower quartile of the last 64
    /// calls' times) is within its skew of every call, so cohort
    /// statistics decay by the calls' own times whichever engine holds
    /// them. (On a stream quieter than 64 calls in five minutes, an engine
    /// holding fewer partitions has a clock further behind.)
    fn tenant_event(agent: &str, tenant: &str, i: i64, action: &str) -> CallEvent<'static> {
        let mut e = event(agent, i, action);
        e.ts_ms = 1_795_132_800_000 + i * 1_000;
        e.tenant = Some(tenant.to_string().into());
        e
    }

    /// A partition resumed behind the clock of the engine taking it over
    /// (its checkpoint is older than the calls that engine kept scoring on
    /// its other partitions) keeps its agents' open episodes open until
    /// their own calls catch up: the clock's sweep must not close one as
    /// quiet, or the agent's next call would open a second finding (and
    /// revoke again) for the same run.
    #[test]
    fn a_partition_resumed_behind_the_clock_keeps_its_episodes_open() {
        const TOOLS: [&str; 8] = [
            "iam:CreateUser",
            "iam:AttachUserPolicy",
            "kms:ScheduleKeyDeletion",
            "cloudtrail:StopLogging",
            "ec2:ModifySnapshotAttribute",
            "iam:CreateAccessKey",
            "s3:PutBucketPolicy",
            "secretsmanager:GetSecretValue",
        ];
        let mut first = Engine::new(Config::default());
        let steady: Vec<CallEvent<'static>> = (0..600)
            .map(|i| tenant_event("x1", "t1", i * 20, "s3:GetObject"))
            .collect();
        feed(&mut first, &steady, 0);
        let burst: Vec<CallEvent<'static>> = (0..8)
            .map(|i| tenant_event("x1", "t1", 12_000 + i, TOOLS[i as usize]))
            .collect();
        let raised = feed(&mut first, &burst, 0);
        assert!(raised.iter().any(|d| d.contains("Create")), "{raised:?}");
        assert_eq!(first.decider.open_episodes(), 1);

        // Another engine two hours further on, scoring another tenant.
        let mut second = Engine::new(Config::default());
        let ahead: Vec<CallEvent<'static>> = (0..800)
            .map(|i| tenant_event("y1", "t2", 12_000 + 7_200 + i * 10, "s3:GetObject"))
            .collect();
        feed(&mut second, &ahead, 1);
        moved(&mut first, &mut second, 0);
        assert_eq!(second.decider.open_episodes(), 1);
        // Its clock sweeps on (minutes of t2's calls) ...
        let on: Vec<CallEvent<'static>> = (800..900)
            .map(|i| tenant_event("y1", "t2", 12_000 + 7_200 + i * 10, "s3:GetObject"))
            .collect();
        let swept = feed(&mut second, &on, 1);
        assert!(!swept.iter().any(|d| d.contains("Close")), "{swept:?}");
        assert_eq!(second.decider.open_episodes(), 1);
        // ... and x1's next call, a minute after its last, goes on with
        // the same episode.
        let next = feed(
            &mut second,
            &[tenant_event("x1", "t1", 12_060, "iam:DeleteUser")],
            0,
        );
        assert!(
            !next
                .iter()
                .any(|d| d.contains("Create") || d.contains("Close")),
            "{next:?}"
        );
        assert_eq!(second.decider.open_episodes(), 1);
    }

    /// A closed episode is checkpointed and restored as closed (its Close
    /// is not sent again by the new owner), and the agent acting up again
    /// within the reopening time reopens the same finding there.
    #[test]
    fn a_closed_episode_moves_with_its_partition_and_reopens_there() {
        let mut first = Engine::new(Config::default());
        let steady: Vec<CallEvent<'static>> = (0..600)
            .map(|i| tenant_event("x1", "t1", i * 20, "s3:GetObject"))
            .collect();
        feed(&mut first, &steady, 0);
        let burst = |from: i64, tools: &[&str]| -> Vec<CallEvent<'static>> {
            (0..tools.len())
                .map(|i| tenant_event("x1", "t1", from + i as i64, tools[i]))
                .collect()
        };
        let raised = feed(
            &mut first,
            &burst(
                12_000,
                &[
                    "iam:CreateUser",
                    "iam:AttachUserPolicy",
                    "kms:ScheduleKeyDeletion",
                    "cloudtrail:StopLogging",
                ],
            ),
            0,
        );
        let uid = |d: &[String]| -> Option<String> {
            d.iter().find_map(|d| {
                let at = d.find("uid: \"wdn-f-")? + 6;
                Some(d[at..at + 38].to_string())
            })
        };
        let created = uid(&raised).expect("a finding");
        // Forty minutes of another agent's calls on the same partition:
        // the sweep closes x1's episode.
        let other: Vec<CallEvent<'static>> = (0..240)
            .map(|i| tenant_event("y1", "t1", 12_010 + i * 10, "s3:GetObject"))
            .collect();
        let swept = feed(&mut first, &other, 0);
        assert!(swept.iter().any(|d| d.contains("Close")), "{swept:?}");
        assert_eq!(first.decider.open_episodes(), 0);
        assert!(first.decider.has_episodes());

        let mut second = Engine::new(Config::default());
        moved(&mut first, &mut second, 0);
        assert_eq!(second.decider.open_episodes(), 0);
        assert!(second.decider.has_episodes(), "restored, closed");
        let back = feed(
            &mut second,
            &burst(
                14_700,
                &[
                    "iam:DeleteUser",
                    "kms:DisableKey",
                    "cloudtrail:DeleteTrail",
                    "ec2:ModifySnapshotAttribute",
                ],
            ),
            0,
        );
        assert!(back.iter().any(|d| d.contains("Reopen")), "{back:?}");
        assert!(!back.iter().any(|d| d.contains("Create")), "{back:?}");
        assert_eq!(uid(&back), Some(created));
    }

    fn cohort_keys(keys: &[String]) -> Vec<&str> {
        keys.iter()
            .filter_map(|k| k.strip_prefix("/cohort/"))
            .collect()
    }

    /// On a topic keyed by tenant, a cohort's statistics are written to the
    /// partition its agents come on and nowhere else; one whose agents come
    /// on two partitions is split, written to both, and counted.
    #[test]
    fn a_cohort_is_checkpointed_where_its_agents_come() {
        let mut e = Engine::new(Config::default());
        feed(&mut e, &[tenant_event("a", "t1", 0, "x")], 0);
        feed(&mut e, &[tenant_event("b", "t2", 1, "x")], 1);
        assert_eq!(cohort_keys(&shared_keys(&mut e, 0, false)), ["t1|unknown"]);
        assert_eq!(cohort_keys(&shared_keys(&mut e, 1, false)), ["t2|unknown"]);
        assert_eq!(e.counters().cohorts_split, 0);
        // Another agent of t1 on partition 1: t1 spans both.
        feed(&mut e, &[tenant_event("c", "t1", 2, "x")], 1);
        assert_eq!(cohort_keys(&shared_keys(&mut e, 0, false)), ["t1|unknown"]);
        assert_eq!(
            cohort_keys(&shared_keys(&mut e, 1, false)),
            ["t1|unknown", "t2|unknown"]
        );
        assert_eq!(e.counters().cohorts_split, 1);
        // So does a cohort whose agent turns up on another partition.
        feed(&mut e, &[tenant_event("b", "t2", 3, "x")], 0);
        assert_eq!(e.counters().cohorts_split, 2);
    }

    /// A partition given up takes the cohorts that live in it along: a
    /// stale copy kept here would stop this engine adopting the current one
    /// if the partition came back. Split cohorts stay (they are learned
    /// from the partitions still held).
    #[test]
    fn a_cohort_goes_with_its_partition() {
        let mut e = Engine::new(Config::default());
        feed(&mut e, &[tenant_event("a", "t1", 0, "x")], 0);
        feed(&mut e, &[tenant_event("b", "t2", 1, "x")], 1);
        feed(&mut e, &[tenant_event("c", "t3", 2, "x")], 0);
        feed(&mut e, &[tenant_event("d", "t3", 3, "x")], 1);
        let mut other = Engine::new(Config::default());
        moved(&mut e, &mut other, 1);
        assert_eq!(
            cohort_keys(&shared_keys(&mut e, 0, false)),
            ["t1|unknown", "t3|unknown"]
        );
        let t2 = e.cohorts.intern("t2|unknown");
        assert_eq!(*e.cohorts.get(t2), Cohort::empty("t2|unknown"));
        let t3 = e.cohorts.intern("t3|unknown");
        assert_ne!(*e.cohorts.get(t3), Cohort::empty("t3|unknown"));
        // The new owner has it whole, and checkpoints it.
        let t2 = other.cohorts.intern("t2|unknown");
        assert_ne!(*other.cohorts.get(t2), Cohort::empty("t2|unknown"));
        assert!(cohort_keys(&shared_keys(&mut other, 1, false)).contains(&"t2|unknown"));
    }

    /// The agent-type shares a checkpoint of `partition` writes, by type.
    fn checkpointed_shares(e: &mut Engine, partition: u32) -> Vec<(u8, Prevalence)> {
        let mut out = Vec::new();
        e.snapshot_shared(partition, false, &mut |k, v| {
            assert!(
                !k.contains("global"),
                "a member writes no whole view ({k:?})"
            );
            if let Ok(StateRecord::GlobalShare(t, p)) = decode(v) {
                out.push((t, *p));
            }
        });
        out
    }

    /// In the stream, a partition's state holds its own agents' share of
    /// the agent-type-wide view; the member that takes the partition over
    /// starts from it and publishes it, and the member that gave the
    /// partition up takes the publication in as another member's.
    #[test]
    fn a_partitions_share_of_the_type_view_moves_and_is_published() {
        let member = || {
            let mut e = Engine::new(Config::default());
            e.track_partitions();
            e
        };
        let mut e = member();
        feed(&mut e, &[tenant_event("a", "t1", 0, "x")], 0);
        feed(
            &mut e,
            &[
                tenant_event("b", "t2", 1, "y"),
                tenant_event("c", "t2", 2, "y"),
            ],
            1,
        );
        let agents =
            |shares: &[(u8, Prevalence)]| shares.iter().map(|(_, p)| p.agents).sum::<u32>();
        assert_eq!(agents(&checkpointed_shares(&mut e, 0)), 1);
        assert_eq!(agents(&checkpointed_shares(&mut e, 1)), 2);
        let mut other = member();
        moved(&mut e, &mut other, 1);
        assert_eq!(agents(&checkpointed_shares(&mut other, 1)), 2);
        assert!(checkpointed_shares(&mut e, 1).is_empty(), "no longer e's");
        assert_eq!(e.fleet_partitions_shared(), 1, "kept as another member's");
        // Published by its new owner (every share once; then only a
        // changed one), and taken in by the member that gave it up.
        let value = other.fleet_share(1, 10).expect("published");
        assert!(other.fleet_share(1, 11).is_none(), "unchanged");
        let share = decode_fleet_share(Some(b"1"), &value).unwrap();
        assert_eq!((share.partition, share.source_offset), (1, 10));
        assert_eq!(agents(&share.types), 2);
        assert!(e.adopt_fleet_share(share));
        // Nobody's share of a partition a member owns is taken in.
        let own = decode_fleet_share(Some(b"1"), &value).unwrap();
        assert!(!other.adopt_fleet_share(own));
        feed(&mut other, &[tenant_event("d", "t2", 3, "y")], 1);
        let value = other.fleet_share(1, 12).expect("changed");
        assert_eq!(
            agents(&decode_fleet_share(Some(b"1"), &value).unwrap().types),
            3
        );
        // A lone engine (replay) writes its whole view, as before.
        let mut lone = Engine::new(Config::default());
        feed(&mut lone, &[tenant_event("a", "t1", 0, "x")], 0);
        assert!(lone.fleet_share(0, 0).is_none());
    }

    /// The fleet topic is open to whoever its ACL lets write: a record is
    /// refused unless its key names its partition, each agent type comes
    /// once and no type holds more values than a member keeps.
    #[test]
    fn a_bad_fleet_record_is_refused() {
        let p = Prevalence::with_values(3);
        let mut buf = Vec::new();
        encode_fleet_share(2, 5, &[(1, &p)], &mut buf);
        assert!(decode_fleet_share(Some(b"2"), &buf).is_ok());
        for key in [None, Some(&b"3"[..]), Some(&b"x"[..]), Some(&b"02 "[..])] {
            assert!(
                matches!(
                    decode_fleet_share(key, &buf),
                    Err(FleetShareError::Key { .. })
                ),
                "{key:?}"
            );
        }
        encode_fleet_share(2, 5, &[(1, &p), (1, &p)], &mut buf);
        assert_eq!(
            decode_fleet_share(Some(b"2"), &buf).unwrap_err(),
            FleetShareError::DuplicateType(1)
        );
        let huge = Prevalence::with_values(MAX_VALUES_PER_COHORT as u64 + 1);
        encode_fleet_share(2, 5, &[(1, &huge)], &mut buf);
        assert!(matches!(
            decode_fleet_share(Some(b"2"), &buf),
            Err(FleetShareError::TooManyValues { .. })
        ));
        encode_checkpoint(
            &Checkpoint {
                source_offset: 1,
                written_ms: 2,
            },
            &mut buf,
        );
        assert_eq!(
            decode_fleet_share(Some(b"2"), &buf).unwrap_err(),
            FleetShareError::NotAShare
        );
        assert!(matches!(
            decode_fleet_share(Some(b"2"), &buf[..1]),
            Err(FleetShareError::Record(SnapshotError::Truncated))
        ));
    }

    proptest! {
        /// A fleet record a member wrote reads back as written; any bytes
        /// at all, or a written record cut or damaged anywhere, are read or
        /// refused, never a panic.
        #[test]
        fn fleet_records_round_trip_and_bad_bytes_are_refused(
            partition in 0u32..1000,
            offset in proptest::num::i64::ANY,
            types in proptest::collection::btree_map(0u8..8, 0u64..50, 0..4),
            cut in proptest::num::usize::ANY,
            flip in proptest::num::usize::ANY,
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let shares: Vec<(u8, Prevalence)> =
                types.iter().map(|(t, n)| (*t, Prevalence::with_values(*n))).collect();
            let refs: Vec<(u8, &Prevalence)> = shares.iter().map(|(t, p)| (*t, p)).collect();
            let mut buf = Vec::new();
            encode_fleet_share(partition, offset, &refs, &mut buf);
            let key = partition.to_string();
            let back = decode_fleet_share(Some(key.as_bytes()), &buf).unwrap();
            prop_assert_eq!((back.partition, back.source_offset), (partition, offset));
            prop_assert_eq!(back.types, shares);
            let _ = decode_fleet_share(Some(key.as_bytes()), &buf[..cut % (buf.len() + 1)]);
            let mut damaged = buf.clone();
            let i = flip % damaged.len();
            damaged[i] ^= 0x5a;
            let _ = decode_fleet_share(Some(key.as_bytes()), &damaged);
            let _ = decode_fleet_share(Some(key.as_bytes()), &noise);
            let _ = decode(&noise);
        }
    }

    proptest! {
        /// Two tenants, each on a partition of its own (a topic keyed by
        /// tenant), scored by one engine; or by one engine until a cut,
        /// after which a second takes one partition over, and gives it back
        /// at a second cut. Every agent's decisions are the same either
        /// way: cohort statistics move with their partition, so which
        /// engine holds what does not change what a call scores.
        #[test]
        fn a_tenant_keyed_handover_is_invisible(
            actions in proptest::collection::vec(0usize..6, 20..120),
            cut in 1usize..110,
            back in 1usize..110,
        ) {
            const ACTIONS: [&str; 6] = ["s3:GetObject", "s3:ListBucket", "iam:CreateAccessKey",
                "sts:AssumeRole", "ec2:DescribeInstances", "kms:Decrypt"];
            // At each step one call of each tenant, stamped alike.
            let steps: Vec<[CallEvent<'static>; 2]> = actions
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let (i, a) = (i as i64, ACTIONS[*a]);
                    [
                        tenant_event(if i % 3 == 0 { "a1" } else { "a2" }, "t1", i, a),
                        tenant_event(if i % 2 == 0 { "b1" } else { "b2" }, "t2", i, ACTIONS[5 - (i as usize % 6)]),
                    ]
                })
                .collect();
            let cut = cut.min(steps.len() - 1);
            let back = (cut + back).min(steps.len());
            let by_agent = |out: &mut BTreeMap<String, Vec<String>>, agent: &str, d: Vec<String>| {
                out.entry(agent.to_string()).or_default().extend(d);
            };
            let mut whole = Engine::new(Config::default());
            let mut expected = BTreeMap::new();
            for [a, b] in &steps {
                by_agent(&mut expected, &a.agent_id, feed(&mut whole, std::slice::from_ref(a), 0));
                by_agent(&mut expected, &b.agent_id, feed(&mut whole, std::slice::from_ref(b), 1));
            }
            let mut first = Engine::new(Config::default());
            let mut second = Engine::new(Config::default());
            let mut got = BTreeMap::new();
            for (n, [a, b]) in steps.iter().enumerate() {
                if n == cut {
                    moved(&mut first, &mut second, 1);
                }
                if n == back {
                    moved(&mut second, &mut first, 1);
                }
                by_agent(&mut got, &a.agent_id, feed(&mut first, std::slice::from_ref(a), 0));
                let owner = if n < cut || n >= back { &mut first } else { &mut second };
                by_agent(&mut got, &b.agent_id, feed(owner, std::slice::from_ref(b), 1));
            }
            prop_assert_eq!(got, expected);
            // And the statistics themselves: each tenant's cohort as the
            // engine that never moved has it.
            let (t1, t2) = ("t1|unknown", "t2|unknown");
            let (mine, theirs) = (first.cohorts.intern(t1), whole.cohorts.intern(t1));
            prop_assert_eq!(first.cohorts.get(mine), whole.cohorts.get(theirs));
            let owner_of_t2 = if back < steps.len() { &mut first } else { &mut second };
            let (mine, theirs) = (owner_of_t2.cohorts.intern(t2), whole.cohorts.intern(t2));
            prop_assert_eq!(owner_of_t2.cohorts.get(mine), whole.cohorts.get(theirs));
        }
    }

    proptest! {
        /// An engine that takes over a partition mid-stream from another's
        /// snapshot decides exactly as the engine that never stopped.
        #[test]
        fn handover_is_invisible(
            actions in proptest::collection::vec(0usize..6, 20..160),
            cut in 1usize..150,
        ) {
            const ACTIONS: [&str; 6] = ["s3:GetObject", "s3:ListBucket", "iam:CreateAccessKey",
                "sts:AssumeRole", "ec2:DescribeInstances", "kms:Decrypt"];
            let events: Vec<CallEvent<'static>> = actions
                .iter()
                .enumerate()
                .map(|(i, a)| event(if i % 3 == 0 { "a1" } else { "a2" }, i as i64, ACTIONS[*a]))
                .collect();
            let cut = cut.min(events.len() - 1);
            let mut whole = Engine::new(Config::default());
            let expected = feed(&mut whole, &events, 3);

            let mut first = Engine::new(Config::default());
            let mut got = feed(&mut first, &events[..cut], 3);
            let mut second = Engine::new(Config::default());
            moved(&mut first, &mut second, 3);
            prop_assert_eq!(first.agents_tracked(), 0);
            got.extend(feed(&mut second, &events[cut..], 3));
            prop_assert_eq!(got, expected);
        }
    }

    proptest! {
        /// A state topic is input from the outside: no byte string makes the
        /// decoder panic, and a truncated or flipped record is refused or
        /// read as some record, never a crash.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn damaged_agent_records_never_panic(cut in 0usize..1200, flip in 0usize..1200, bit in 0u8..8) {
            let mut e = Engine::new(Config::default());
            feed(&mut e, &[event("a", 0, "x"), event("a", 1, "y")], 0);
            let mut rec = Vec::new();
            e.snapshot_partition(0, false, &mut |_, v| rec = v.to_vec());
            let i = flip % rec.len();
            rec[i] ^= 1 << bit;
            rec.truncate(cut.max(2));
            if let Ok(StateRecord::Agent(a)) = decode(&rec) {
                let mut fresh = Engine::new(Config::default());
                fresh.restore_agent("a", *a, 0);
                feed(&mut fresh, &[event("a", 2, "z")], 0);
            }
        }
    }

    #[test]
    fn only_changed_agents_are_written_again() {
        let mut e = Engine::new(Config::default());
        feed(&mut e, &[event("a", 0, "x"), event("b", 1, "x")], 0);
        feed(&mut e, &[event("c", 2, "x")], 1);
        let mut keys = Vec::new();
        e.snapshot_partition(0, true, &mut |k, _| keys.push(k.to_string()));
        assert_eq!(keys, ["a", "b"]);
        keys.clear();
        e.snapshot_partition(0, true, &mut |k, _| keys.push(k.to_string()));
        assert!(keys.is_empty());
        feed(&mut e, &[event("b", 3, "y")], 0);
        e.snapshot_partition(0, true, &mut |k, _| keys.push(k.to_string()));
        assert_eq!(keys, ["b"]);
        assert_eq!(e.drop_partition(0), 2);
        assert_eq!(e.agents_tracked(), 1);
    }

    #[test]
    fn foreign_versions_and_garbage_are_refused_not_misread() {
        let mut buf = Vec::new();
        encode_checkpoint(
            &Checkpoint {
                source_offset: 42,
                written_ms: 7,
            },
            &mut buf,
        );
        match decode(&buf).unwrap() {
            StateRecord::Checkpoint(c) => assert_eq!(c.source_offset, 42),
            other => panic!("{other:?}"),
        }
        let mut future = buf.clone();
        future[0] = STATE_FORMAT_VERSION + 1;
        assert!(matches!(
            decode(&future),
            Err(SnapshotError::Version { .. })
        ));
        assert_eq!(decode(&[1]).unwrap_err(), SnapshotError::Truncated);
        let v = STATE_FORMAT_VERSION;
        assert_eq!(decode(&[v, 9]).unwrap_err(), SnapshotError::Kind(9));
        assert!(matches!(decode(&[v, 0, 0xff]), Err(SnapshotError::Body(_))));
        // A record of the previous layout is refused by version, not misread.
        assert!(matches!(
            decode(&[v - 1, 0, 0]),
            Err(SnapshotError::Version { .. })
        ));
    }
}
