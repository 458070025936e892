//! One agent's run of findings: created once, updated, closed when quiet,
//! and kept a while after its Close so that the same incident acting up
//! again reopens its finding instead of raising a new one.

use super::{Finding, FindingActivity};

/// One agent's run of findings, open or recently closed (public only so
/// its state can be snapshotted; its fields stay private to the decider).
///
/// Closed means the Close was emitted: the Close takes the last finding
/// with it, so `last` is `None` exactly when the episode is closed (an
/// open episode always holds the finding it last emitted). Keeping that in
/// `last` rather than in a field of its own leaves the checkpointed layout
/// as it was: a closed episode reads as one whose Close has nothing to
/// repeat, which a build from before reopening closes without a record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Episode {
    pub(super) uid: String,
    pub(super) first_ts: i64,
    pub(super) last_hit_ts: i64,
    pub(super) last_emit_ts: i64,
    pub(super) max_risk: f32,
    /// The sequence number of the last record emitted (Create 0, then each
    /// Update, the Close, a reopening and so on).
    pub(super) seq: u32,
    pub(super) features: u32,
    pub(super) revoked: Vec<Option<Box<str>>>,
    /// The last finding emitted, which the Close repeats (agent, session,
    /// trigger, evidence) so a SIEM can match it without a lookup.
    pub(super) last: Option<Box<Finding>>,
    /// How far the agent's calls run behind the shared clock, as of its
    /// last call (see `Decider::note_clock`). Not checkpointed (another
    /// engine's clock is another clock): a restored episode is measured
    /// against the restoring engine's clock from the agent's last call.
    #[serde(skip)]
    pub(super) lag_ms: i64,
}

/// The most an agent's lag behind the shared clock postpones the closing
/// of its quiet episode. A backlog a day deep is caught up on as it
/// arrives; beyond that, a call stamped far in the past (event time is
/// written by the caller) must not keep an episode open for ever.
pub(super) const MAX_LAG_MS: i64 = 24 * 3_600_000;

/// Minute (since the epoch) from which an episode whose last finding-level
/// call was at `last_hit_ts` counts as quiet. Whole minutes, so an engine
/// that took the agent over mid-stream closes it at the same call as one
/// that never stopped.
fn quiet_from_minute(last_hit_ts: i64, quiet_ms: i64) -> i64 {
    (last_hit_ts + quiet_ms).div_euclid(60_000) + 1
}

impl Episode {
    /// A new episode opened by a finding-level call at `ts`.
    pub(super) fn open(uid: String, ts: i64, risk: f32, features: u32) -> Episode {
        Episode {
            uid,
            first_ts: ts,
            last_hit_ts: ts,
            last_emit_ts: ts,
            max_risk: risk,
            seq: 0,
            features,
            revoked: Vec::new(),
            last: None,
            lag_ms: 0,
        }
    }

    /// A finding of one call (suppressed or a policy violation): never
    /// updated, never kept.
    pub(super) fn of_one_call(uid: String, ts: i64, risk: f32) -> Episode {
        Episode::open(uid, ts, risk, 0)
    }

    /// Whether its Close was emitted (see the type's comment).
    pub(super) fn is_closed(&self) -> bool {
        self.last.is_none()
    }

    /// Minute from which it counts as quiet (`quiet_ms` after its last
    /// finding-level call); with `reopen_ms` added, the minute from which
    /// a closed episode is forgotten.
    pub(super) fn quiet_from_minute(&self, quiet_ms: i64) -> i64 {
        quiet_from_minute(self.last_hit_ts, quiet_ms)
    }

    /// Closes it: the Close record (the last finding again, dated when the
    /// episode went quiet, with the episode's highest risk), or `None`
    /// when it was closed already.
    pub(super) fn close(&mut self, quiet_ms: i64) -> Option<Finding> {
        let mut f = *self.last.take()?;
        self.seq += 1;
        f.seq = self.seq;
        f.activity = FindingActivity::Close;
        f.time_ms = self.last_hit_ts + quiet_ms;
        f.risk = self.max_risk.round().clamp(0.0, 100.0) as u8;
        Some(f)
    }
}
