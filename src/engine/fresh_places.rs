//! Traffic into places new to the agent. A token replayed from inside the
//! agent's own network, with its own client and actions, still goes where
//! the agent never went: another bucket, table, tenant or path. One first
//! use is weak evidence (`novel_resource_family`); what stands out is how
//! much of the agent's traffic then goes there. The agent's usual share of
//! calls into places it touched for the first time lately is learned, so
//! an agent that explores all the time (an LLM agent browsing) is judged
//! by its own habit.

use super::stats::decay;
use serde::{Deserialize, Serialize};

/// A place stays new this long after the agent's first call into it:
/// long enough for reads at the agent's own cadence to add up.
pub(crate) const FRESH_MS: i64 = 4 * 3_600_000;
/// Calls are counted over about this long.
const WINDOW_MS: f32 = 60.0 * 60_000.0;
/// How fast the usual share follows the agent's calls.
const SHARE_ALPHA: f32 = 0.001;
/// Share of calls a brand-new agent is assumed to make into new places.
const NEW_AGENT_SHARE: f32 = 0.5;
/// Places remembered as new at once.
const SLOTS: usize = 4;

/// An agent's recently adopted places and its traffic into them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FreshPlaces {
    /// (family fingerprint, first call) of the latest new places; 0 = free.
    places: [(u64, i64); SLOTS],
    /// Calls into new places, and all calls, decayed over `WINDOW_MS`.
    pub(crate) fresh_calls: f32,
    pub(crate) calls: f32,
    /// The agent's usual share of calls into new places.
    pub(crate) share: f32,
}

impl Default for FreshPlaces {
    fn default() -> Self {
        FreshPlaces {
            places: [(0, 0); SLOTS],
            fresh_calls: 0.0,
            calls: 0.0,
            share: NEW_AGENT_SHARE,
        }
    }
}

impl FreshPlaces {
    /// Counts one call at `ts` into `family` (a fingerprint), which is the
    /// agent's first call there when `adopted`. Returns whether the call
    /// went into a new place.
    pub(crate) fn observe(&mut self, family: Option<u64>, adopted: bool, ts: i64, dt: i64) -> bool {
        let d = decay(dt, WINDOW_MS);
        self.fresh_calls *= d;
        self.calls = self.calls * d + 1.0;
        let Some(fp) = family else {
            self.share += SHARE_ALPHA * (0.0 - self.share);
            return false;
        };
        if adopted {
            // Replace the oldest slot.
            if let Some(slot) = self.places.iter_mut().min_by_key(|(_, t)| *t) {
                *slot = (fp, ts);
            }
        }
        let fresh = fp != 0
            && self
                .places
                .iter()
                .any(|&(p, t)| p == fp && ts - t < FRESH_MS);
        if fresh {
            self.fresh_calls += 1.0;
        }
        self.share += SHARE_ALPHA * (f32::from(u8::from(fresh)) - self.share);
        fresh
    }
}

/// Calls into new places (`fresh`) out of `calls`, where the agent's usual
/// share is `usual`: the tail the detector scores (Poisson, with a small
/// floor so an agent that never moves is not infinitely sure).
pub(crate) fn expected_fresh(calls: f32, usual: f32) -> f32 {
    calls * (usual + 0.005) + 0.3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stats::poisson_surprise;

    const MIN: i64 = 60_000;

    #[test]
    fn a_settled_agent_sending_its_traffic_somewhere_new_stands_out() {
        let mut p = FreshPlaces::default();
        let home = Some(1u64);
        // A week of a call a minute into its one place.
        for i in 0..7 * 24 * 60 {
            assert!(!p.observe(home, i == 0, i * MIN, MIN) || i < 240);
        }
        assert!(p.share < 0.01, "{}", p.share);
        // Half of its calls now go to a new bucket.
        let t0 = 7 * 24 * 60 * MIN;
        let mut surprise = 0.0;
        for i in 0..30 {
            let new = i % 2 == 0;
            let fam = if new { Some(2) } else { home };
            let usual = p.share;
            if p.observe(fam, new && i == 0, t0 + i * 30_000, 30_000) {
                surprise = poisson_surprise(p.fresh_calls, expected_fresh(p.calls, usual));
            }
        }
        // Past the finding line (7.2 bits) on its own.
        assert!(surprise > 7.2, "{surprise}");
    }

    #[test]
    fn places_stop_being_new_after_two_hours() {
        let mut p = FreshPlaces::default();
        assert!(p.observe(Some(5), true, 0, 0));
        assert!(p.observe(Some(5), false, FRESH_MS - 1, MIN));
        assert!(!p.observe(Some(5), false, FRESH_MS, 1));
    }
}
