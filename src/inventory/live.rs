//! The inventory `warden run` keeps: each identity's observation, held with
//! the partition its calls arrive on (and checkpointed with that partition's
//! state, so it moves with it), its inventory record re-published when it
//! changes, and its review judged in event time: a dormancy finding when it
//! has been quiet past the threshold (closed when it calls again), and an
//! unused-grants finding while grants it holds go unused.
//!
//! What needs other identities stays out: a credential shared across
//! partitions, delegation children and granted identities never seen are
//! for `warden inventory` (or a consumer of the inventory topic).

use super::grants::GrantSet;
use super::observe::Identity;
use super::review::{reviewed_entry, Entry, ReviewOptions, Window};
use crate::config::InventoryTimes;
use crate::event::CallRow;
use crate::keyed::{KeyedMap, KeyedSet};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Key prefix of inventory records on the state topic (agent records are
/// keyed by bare ids, the engine's shared records by other NUL prefixes).
pub const STATE_KEY_PREFIX: &str = "\u{0}inventory/";
/// Bumped whenever `Tracked`'s layout changes.
const STATE_VERSION: u8 = 1;

/// What a review finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewKind {
    /// No call for longer than `dormant_after`.
    Dormant,
    /// Grants not used within `unused_after`.
    UnusedGrants,
}

impl ReviewKind {
    /// Its name in ids and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewKind::Dormant => "dormant",
            ReviewKind::UnusedGrants => "unused_grants",
        }
    }
}

/// What happens to a review finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewActivity {
    /// Raised.
    Create,
    /// Its content changed (another set of unused grants).
    Update,
    /// Resolved: the identity called again, or uses what it holds.
    Close,
}

impl ReviewActivity {
    /// Its name in ids and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewActivity::Create => "create",
            ReviewActivity::Update => "update",
            ReviewActivity::Close => "close",
        }
    }
}

/// A review finding to raise, update or close.
#[derive(Debug, Clone)]
pub struct ReviewEvent {
    /// What it is about.
    pub kind: ReviewKind,
    /// What happens to it.
    pub activity: ReviewActivity,
    /// Which finding of this identity and kind: for dormancy the time of
    /// the last call before the quiet, for grants a running count. With
    /// `seq` it makes the record's id, the same on every re-send.
    pub episode: i64,
    /// Updates within the episode (0 for its creation).
    pub seq: u32,
    /// Event time of the decision (the partition's watermark, or the call
    /// that closed it).
    pub time_ms: i64,
    /// The identity's entry at that time.
    pub entry: Entry,
}

/// An inventory record: one identity's entry as of an event time.
#[derive(Debug, Serialize)]
pub struct InventoryRecord<'a> {
    /// The event time the entry is judged at.
    pub as_of_ms: i64,
    /// The entry (the same fields as `warden inventory --format json`).
    #[serde(flatten)]
    pub entry: &'a Entry,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct UnusedReport {
    episode: i64,
    seq: u32,
    grants: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    #[default]
    Nothing,
    /// Counts and times moved: published on the schedule.
    Counts,
    /// Something new (a first call, action, credential, place): published
    /// at the next opportunity.
    Material,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tracked {
    identity: Identity,
    /// Time of the last call before the quiet an open dormancy finding is about.
    dormant_since: Option<i64>,
    /// The open unused-grants finding.
    unused: Option<UnusedReport>,
    /// Unused-grants findings opened so far (the next one's episode).
    unused_episodes: i64,
    /// Event time of the last grants review.
    reviewed_ms: Option<i64>,
    /// Changed since last written to the state topic.
    #[serde(skip)]
    changed: bool,
    #[serde(skip)]
    publish: Pending,
    /// Grants name it (worked out when it is first seen or restored).
    #[serde(skip)]
    has_grants: bool,
}

impl Tracked {
    /// The earliest event time a review of it can be due.
    fn due_ms(&self, t: &InventoryTimes) -> i64 {
        let dormancy = match self.dormant_since {
            None => self
                .identity
                .total
                .last_ms
                .saturating_add(t.dormant_after_ms),
            Some(_) => i64::MAX,
        };
        let grants = if self.has_grants {
            let watched = self
                .identity
                .total
                .first_ms
                .saturating_add(t.unused_after_ms);
            let again = self
                .reviewed_ms
                .map_or(i64::MIN, |r| r.saturating_add(t.review_every_ms));
            watched.max(again)
        } else {
            i64::MAX
        };
        dormancy.min(grants)
    }
}

/// The identities of one partition.
#[derive(Debug)]
struct Book {
    /// By identity id (caller-written: hashed with random keys, so nothing
    /// may follow this map's order; see `crate::keyed`).
    identities: KeyedMap<Box<str>, Tracked>,
    /// No review is due before this event time (a lower bound).
    next_due_ms: i64,
    /// Identities with grants that used a new action since their review.
    to_review: KeyedSet<Box<str>>,
    /// The earliest call of the partition's identities: one first seen
    /// well after it is new.
    first_ms: Option<i64>,
}

impl Default for Book {
    fn default() -> Self {
        Book {
            identities: KeyedMap::default(),
            next_due_ms: i64::MAX,
            to_review: KeyedSet::default(),
            first_ms: None,
        }
    }
}

/// Why an inventory state record could not be read (the identity then
/// starts again from its next call).
#[derive(Debug, thiserror::Error)]
pub enum InventoryStateError {
    /// Written by a build with another layout.
    #[error("inventory state record has format version {found}; this build reads version {STATE_VERSION}")]
    Version {
        /// The version the record carries.
        found: u8,
    },
    /// The body does not decode.
    #[error("inventory state record does not decode: {0}")]
    Body(String),
}

/// The live inventory of the partitions an instance holds.
#[derive(Debug)]
pub struct LiveInventory {
    times: InventoryTimes,
    grants: GrantSet,
    max_identities: usize,
    books: FxHashMap<u32, Book>,
    held: usize,
    /// Calls of identities past `max_identities`, left out.
    pub overflowed: u64,
    /// Nobody shares credentials across this map: the live review judges
    /// each identity on its own.
    no_sharing: KeyedMap<Box<str>, Vec<Box<str>>>,
}

impl LiveInventory {
    /// An empty inventory judging by `times` against `grants`.
    pub fn new(times: InventoryTimes, grants: GrantSet, max_identities: usize) -> Self {
        LiveInventory {
            times,
            grants,
            max_identities,
            books: FxHashMap::default(),
            held: 0,
            overflowed: 0,
            no_sharing: KeyedMap::default(),
        }
    }

    /// Identities held.
    pub fn identities(&self) -> usize {
        self.held
    }

    fn opts(&self, as_of: i64) -> ReviewOptions {
        ReviewOptions {
            as_of_ms: Some(as_of),
            dormant_after_ms: self.times.dormant_after_ms,
            rotate_after_ms: self.times.rotate_after_ms,
            unused_after_ms: Some(self.times.unused_after_ms),
        }
    }

    fn entry(&self, id: &str, t: &Tracked, first_ms: Option<i64>, as_of: i64) -> Entry {
        let window = Window {
            as_of,
            first: first_ms.unwrap_or(t.identity.total.first_ms),
            unused_since: as_of.saturating_sub(self.times.unused_after_ms),
        };
        reviewed_entry(
            id,
            Some(&t.identity),
            &self.no_sharing,
            &self.grants,
            &self.opts(as_of),
            &window,
        )
    }

    /// Takes in one call of `partition`. Returns the closing of a dormancy
    /// finding when the call ends its identity's quiet.
    pub fn observe(&mut self, row: &CallRow<'_>, partition: u32) -> Option<ReviewEvent> {
        let book = self.books.entry(partition).or_default();
        let mut is_new = false;
        let t = match book.identities.get_mut(row.agent_id) {
            Some(t) => t,
            None if self.held < self.max_identities => {
                self.held += 1;
                is_new = true;
                let has_grants = !self.grants.for_identity(row.agent_id).is_empty();
                book.identities
                    .entry(row.agent_id.into())
                    .or_insert_with(|| Tracked {
                        identity: Identity::new(row.ts_ms, row.agent_type),
                        dormant_since: None,
                        unused: None,
                        unused_episodes: 0,
                        reviewed_ms: None,
                        changed: true,
                        publish: Pending::Material,
                        has_grants,
                    })
            }
            None => {
                self.overflowed += 1;
                return None;
            }
        };
        // A call of an action it had not used within the window, while an
        // unused-grants finding is open, may use one of those grants.
        let revives = t.unused.is_some()
            && t.identity
                .actions
                .values
                .get(row.action)
                .and_then(|u| u.last_allowed_ms)
                .is_none_or(|l| l < row.ts_ms - self.times.unused_after_ms);
        let learned = t.identity.add(row);
        t.changed = true;
        let pending = if is_new || learned.any() {
            Pending::Material
        } else {
            Pending::Counts
        };
        t.publish = t.publish.max(pending);
        if (learned.action || revives) && t.has_grants {
            book.to_review.insert(row.agent_id.into());
        }
        book.first_ms = Some(book.first_ms.map_or(row.ts_ms, |f| f.min(row.ts_ms)));
        book.next_due_ms = book.next_due_ms.min(t.due_ms(&self.times));
        // A late copy of an older call does not end the quiet.
        let since = t.dormant_since.filter(|since| row.ts_ms > *since)?;
        t.dormant_since = None;
        t.publish = Pending::Material;
        book.next_due_ms = book.next_due_ms.min(t.due_ms(&self.times));
        let first = book.first_ms;
        let t = &self.books[&partition].identities[row.agent_id];
        Some(ReviewEvent {
            kind: ReviewKind::Dormant,
            activity: ReviewActivity::Close,
            episode: since,
            seq: 1,
            time_ms: row.ts_ms,
            entry: self.entry(row.agent_id, t, first, row.ts_ms),
        })
    }

    /// Reviews what is due in `partition` at event time `watermark_ms`,
    /// in identity order.
    pub fn review(&mut self, partition: u32, watermark_ms: i64, out: &mut dyn FnMut(ReviewEvent)) {
        let Some(book) = self.books.get_mut(&partition) else {
            return;
        };
        let full = watermark_ms >= book.next_due_ms;
        if !full && book.to_review.is_empty() {
            return;
        }
        let mut ids: Vec<Box<str>> = if full {
            book.identities.keys().cloned().collect()
        } else {
            book.to_review.iter().cloned().collect()
        };
        ids.sort_unstable();
        let mut book = self.books.remove(&partition).expect("looked up above");
        let first = book.first_ms;
        let mut next_due = if full { i64::MAX } else { book.next_due_ms };
        for id in ids {
            let asked = book.to_review.remove(&id);
            let Some(t) = book.identities.get_mut(&id) else {
                continue;
            };
            self.review_one(&id, t, first, watermark_ms, asked, out);
            next_due = next_due.min(t.due_ms(&self.times));
        }
        book.next_due_ms = next_due;
        self.books.insert(partition, book);
    }

    fn review_one(
        &self,
        id: &str,
        t: &mut Tracked,
        first: Option<i64>,
        now: i64,
        asked: bool,
        out: &mut dyn FnMut(ReviewEvent),
    ) {
        let last = t.identity.total.last_ms;
        if t.dormant_since.is_none() && now - last > self.times.dormant_after_ms {
            t.dormant_since = Some(last);
            t.changed = true;
            t.publish = Pending::Material;
            out(ReviewEvent {
                kind: ReviewKind::Dormant,
                activity: ReviewActivity::Create,
                episode: last,
                seq: 0,
                time_ms: now,
                entry: self.entry(id, t, first, now),
            });
        }
        let watched = now - t.identity.total.first_ms >= self.times.unused_after_ms;
        let again = t
            .reviewed_ms
            .is_none_or(|r| now - r >= self.times.review_every_ms);
        if !(t.has_grants && watched && (asked || again)) {
            return;
        }
        t.reviewed_ms = Some(now);
        t.changed = true;
        let entry = self.entry(id, t, first, now);
        let unused: Vec<String> = entry
            .grants
            .as_ref()
            .map(|g| g.unused.iter().map(|u| u.grant.clone()).collect())
            .unwrap_or_default();
        let (activity, report) = match (t.unused.take(), unused.is_empty()) {
            (None, true) => return,
            (None, false) => {
                t.unused_episodes += 1;
                (
                    ReviewActivity::Create,
                    UnusedReport {
                        episode: t.unused_episodes,
                        seq: 0,
                        grants: unused,
                    },
                )
            }
            (Some(open), false) if open.grants == unused => {
                t.unused = Some(open);
                return;
            }
            (Some(open), false) => (
                ReviewActivity::Update,
                UnusedReport {
                    episode: open.episode,
                    seq: open.seq + 1,
                    grants: unused,
                },
            ),
            (Some(open), true) => (
                ReviewActivity::Close,
                UnusedReport {
                    seq: open.seq + 1,
                    ..open
                },
            ),
        };
        t.publish = Pending::Material;
        let (episode, seq) = (report.episode, report.seq);
        if activity != ReviewActivity::Close {
            t.unused = Some(report);
        }
        out(ReviewEvent {
            kind: ReviewKind::UnusedGrants,
            activity,
            episode,
            seq,
            time_ms: now,
            entry,
        });
    }

    /// Inventory records of `partition`'s identities that changed since
    /// they were last published (only those with something new, when
    /// `material_only`), as of event time `as_of_ms`, in identity order.
    /// Returns how many were handed to `out`.
    pub fn publish(
        &mut self,
        partition: u32,
        as_of_ms: i64,
        material_only: bool,
        out: &mut dyn FnMut(&str, &InventoryRecord<'_>),
    ) -> usize {
        let least = if material_only {
            Pending::Material
        } else {
            Pending::Counts
        };
        let Some(book) = self.books.get(&partition) else {
            return 0;
        };
        let mut ids: Vec<&str> = book
            .identities
            .iter()
            .filter(|(_, t)| t.publish >= least)
            .map(|(k, _)| &**k)
            .collect();
        ids.sort_unstable();
        for id in &ids {
            let entry = self.entry(id, &book.identities[*id], book.first_ms, as_of_ms);
            out(
                id,
                &InventoryRecord {
                    as_of_ms,
                    entry: &entry,
                },
            );
        }
        let done: Vec<Box<str>> = ids.iter().map(|&i| i.into()).collect();
        let book = self.books.get_mut(&partition).expect("looked up above");
        for id in &done {
            if let Some(t) = book.identities.get_mut(id) {
                t.publish = Pending::Nothing;
            }
        }
        done.len()
    }

    /// Writes `partition`'s identities (those changed since last written,
    /// when `changed_only`) as state-topic records.
    pub fn snapshot(
        &mut self,
        partition: u32,
        changed_only: bool,
        put: &mut dyn FnMut(&str, &[u8]),
    ) {
        let Some(book) = self.books.get_mut(&partition) else {
            return;
        };
        let mut key = String::new();
        let mut buf = Vec::new();
        // In id order, as the engine writes its agents: the map's order
        // changes from run to run.
        let mut ids: Vec<(&str, &Tracked)> = book
            .identities
            .iter()
            .filter(|(_, t)| !changed_only || t.changed)
            .map(|(id, t)| (&**id, t))
            .collect();
        ids.sort_unstable_by_key(|(id, _)| *id);
        for (id, t) in ids {
            key.clear();
            key.push_str(STATE_KEY_PREFIX);
            key.push_str(id);
            buf.clear();
            buf.push(STATE_VERSION);
            // Serialising plain data into a Vec cannot fail.
            buf = postcard::to_extend(t, std::mem::take(&mut buf)).expect("state serialises");
            put(&key, &buf);
        }
        // Everything changed was written just now.
        for t in book.identities.values_mut() {
            t.changed = false;
        }
    }

    /// Whether a state-topic key is an inventory record's.
    pub fn is_state_key(key: &[u8]) -> bool {
        key.starts_with(STATE_KEY_PREFIX.as_bytes())
    }

    /// Takes back one identity of `partition` from its state record.
    pub fn restore(
        &mut self,
        key: &[u8],
        value: &[u8],
        partition: u32,
    ) -> Result<(), InventoryStateError> {
        let id = key
            .strip_prefix(STATE_KEY_PREFIX.as_bytes())
            .and_then(|k| std::str::from_utf8(k).ok())
            .ok_or_else(|| InventoryStateError::Body("key is not an inventory key".into()))?;
        let (version, body) = value
            .split_first()
            .ok_or_else(|| InventoryStateError::Body("empty record".into()))?;
        if *version != STATE_VERSION {
            return Err(InventoryStateError::Version { found: *version });
        }
        let mut t: Tracked =
            postcard::from_bytes(body).map_err(|e| InventoryStateError::Body(e.to_string()))?;
        t.has_grants = !self.grants.for_identity(id).is_empty();
        // Its record goes out again from its new owner, on the schedule.
        t.publish = Pending::Counts;
        let book = self.books.entry(partition).or_default();
        book.first_ms = Some(book.first_ms.map_or(t.identity.total.first_ms, |f| {
            f.min(t.identity.total.first_ms)
        }));
        // Judged again from the first call after the restore.
        book.next_due_ms = i64::MIN;
        if book.identities.insert(id.into(), t).is_none() {
            self.held += 1;
        }
        Ok(())
    }

    /// Forgets `partition` (revoked: its next owner restores it). Returns
    /// how many identities were dropped.
    pub fn drop_partition(&mut self, partition: u32) -> usize {
        let n = self
            .books
            .remove(&partition)
            .map_or(0, |b| b.identities.len());
        self.held -= n;
        n
    }
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
