//! Traffic into places new to the agent. A token replayed from inside the
//! agent's own network, with its own client and actions, still goes where
//! the agent never went: another bucket, table, tenant or path. One first
//! use is weak evidence (`novel_resource_family`); what stands out is how
//! much of the agent's traffic then goes there. The agent's usual share of
//! calls into places it touched for the first time lately is learned, so
//! an agent that explores all the time (an LLM agent browsing) is judged
//! by its own habit.

use super::stats::{beta_binomial_surprise, decay, Stamp};
use serde::{Deserialize, Serialize};

/// A place stays new this long after the agent's first call into it:
/// long enough for reads at the agent's own cadence to add up.
pub(crate) const FRESH_MS: i64 = 4 * 3_600_000;
/// Calls are counted over about this long.
const WINDOW_MS: f32 = 60.0 * 60_000.0;
/// Memory of the agent's habit: about a week of its calls.
const HABIT_TAU_MS: f32 = 7.0 * 24.0 * 3_600_000.0;
/// Prior on the share of calls an agent sends into places it adopted
/// lately, as pseudo-calls: 2 % over 25 calls. Weak, so a habit of a few
/// hundred calls outweighs it, and an agent that explores all the time
/// (an LLM agent browsing) is judged by its own habit.
const PRIOR_FRESH: f32 = 0.5;
const PRIOR_CALLS: f32 = 25.0;
/// Places remembered as new at once.
const SLOTS: usize = 4;

/// An agent's recently adopted places and its traffic into them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FreshPlaces {
    /// (family fingerprint's low half, first call) of the latest new
    /// places; 0 = free. Four places cannot collide on 32 bits in practice,
    /// and the half keeps the slot at 12 bytes.
    #[serde(with = "places_wire")]
    places: [(u32, Stamp); SLOTS],
    /// Calls into new places, and all calls, decayed over `WINDOW_MS`.
    pub(crate) fresh_calls: f32,
    pub(crate) calls: f32,
    /// The habit: calls into new places, and all calls, decayed over
    /// `HABIT_TAU_MS`. It includes the recent window, which scoring takes
    /// out again: a burst is judged against the agent's past, not itself.
    habit_fresh: f32,
    habit_calls: f32,
}

impl Default for FreshPlaces {
    fn default() -> Self {
        FreshPlaces {
            places: [(0, Stamp::default()); SLOTS],
            fresh_calls: 0.0,
            calls: 0.0,
            habit_fresh: 0.0,
            habit_calls: 0.0,
        }
    }
}

impl FreshPlaces {
    /// Counts one call at `ts` into `family` (a fingerprint), which is the
    /// agent's first call there when `adopted`. Returns when the agent
    /// first went there if the call went into a new place.
    pub(crate) fn observe(
        &mut self,
        family: Option<u64>,
        adopted: bool,
        ts: i64,
        dt: i64,
    ) -> Option<i64> {
        let d = decay(dt, WINDOW_MS);
        self.fresh_calls *= d;
        self.calls = self.calls * d + 1.0;
        let h = decay(dt, HABIT_TAU_MS);
        self.habit_fresh *= h;
        self.habit_calls *= h;
        let fp = family? as u32;
        if adopted {
            // Replace the oldest slot.
            if let Some(slot) = self.places.iter_mut().min_by_key(|(_, t)| t.get()) {
                *slot = (fp, Stamp::new(ts));
            }
        }
        let since = self
            .places
            .iter()
            .map(|&(p, t)| (p, t.get()))
            .find(|&(p, t)| fp != 0 && p == fp && ts - t < FRESH_MS)
            .map(|(_, t)| t);
        if since.is_some() {
            self.fresh_calls += 1.0;
        }
        since
    }

    /// Teaches the habit one call (`fresh`: into a new place).
    pub(crate) fn teach(&mut self, fresh: bool) {
        self.habit_calls += 1.0;
        self.habit_fresh += f32::from(u8::from(fresh));
    }

    /// The habit before the recent window: (calls into new places, calls).
    fn past(&self) -> (f32, f32) {
        let fresh = (self.habit_fresh - self.fresh_calls).max(0.0);
        let calls = (self.habit_calls - self.calls).max(fresh);
        (fresh, calls)
    }

    /// The habit's posterior on the share of calls into new places, as
    /// Beta(a, b).
    fn habit(&self) -> (f32, f32) {
        let (fresh, calls) = self.past();
        (
            PRIOR_FRESH + fresh,
            PRIOR_CALLS - PRIOR_FRESH + calls - fresh,
        )
    }

    /// Surprise of the calls into new places among the recent ones, against
    /// the agent's habit (beta-binomial: the habit's share is uncertain in
    /// proportion to how little of it is known), and the number of them
    /// the habit expects.
    pub(crate) fn surprise(&self) -> (f32, f32) {
        let (a, b) = self.habit();
        (
            beta_binomial_surprise(self.fresh_calls, self.calls, a, b),
            self.calls * a / (a + b),
        )
    }

    /// The habit's share of calls into new places (its posterior mean).
    #[cfg(test)]
    fn usual_share(&self) -> f32 {
        let (a, b) = self.habit();
        a / (a + b)
    }
}

/// The places as state records hold them: (fingerprint as `u64`, first
/// call as `i64`), so the state format did not change with the narrower
/// slots (test `places_are_written_as_before`).
mod places_wire {
    use super::{Stamp, SLOTS};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        places: &[(u32, Stamp); SLOTS],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        places.map(|(p, t)| (u64::from(p), t.get())).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<[(u32, Stamp); SLOTS], D::Error> {
        let wire = <[(u64, i64); SLOTS]>::deserialize(d)?;
        Ok(wire.map(|(p, t)| (p as u32, Stamp::new(t))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    /// Plays calls a minute apart from an agent's first; `place(i)` names
    /// the family of call `i`,
    /// adopted on its first appearance. Returns the highest surprise on
    /// calls from `score_from` on.
    fn play(p: &mut FreshPlaces, n: i64, score_from: i64, place: impl Fn(i64) -> u64) -> f32 {
        let mut seen = std::collections::HashSet::new();
        let mut top = 0.0f32;
        for i in 0..n {
            let fam = place(i);
            let fresh = p
                .observe(Some(fam), seen.insert(fam), i * MIN, MIN)
                .is_some();
            let s = if fresh { p.surprise().0 } else { 0.0 };
            if i >= score_from {
                top = top.max(s);
            }
            // As the engine does: taught once the first places are old.
            if i * MIN >= FRESH_MS {
                p.teach(fresh);
            }
        }
        top
    }

    #[test]
    fn a_settled_agent_sending_its_traffic_somewhere_new_stands_out() {
        let mut p = FreshPlaces::default();
        let week = 7 * 24 * 60;
        // A week of a call a minute into its one place, then half of its
        // calls go to a new bucket for half an hour.
        let top = play(&mut p, week + 30, week, |i| {
            if i >= week && i % 2 == 0 {
                2
            } else {
                1
            }
        });
        assert!(p.usual_share() < 0.01, "{}", p.usual_share());
        // Past the finding line (7.2) on its own.
        assert!(top > 7.2, "{top}");
    }

    #[test]
    fn an_agent_that_explores_all_the_time_is_judged_by_its_habit() {
        let mut p = FreshPlaces::default();
        // Every tenth call goes somewhere it has not been for a day.
        let top = play(&mut p, 3 * 24 * 60, 24 * 60, |i| {
            if i % 10 == 0 {
                1000 + (i / 10) as u64
            } else {
                1
            }
        });
        assert!(p.usual_share() > 0.05, "{}", p.usual_share());
        assert!(top < 2.0, "{top}");
    }

    #[test]
    fn a_short_habit_claims_less_certainty() {
        // The same burst into a new place after a day and after a week.
        let burst = |history: i64| {
            let mut p = FreshPlaces::default();
            play(&mut p, history + 10, history, |i| {
                u64::from(i >= history) + 1
            })
        };
        let (day, week) = (burst(24 * 60), burst(7 * 24 * 60));
        assert!(day < week, "{day} vs {week}");
    }

    /// Places go into a state record in the layout they always had, read
    /// back as they were, and a record written with whole 64-bit
    /// fingerprints reads as their low halves.
    #[test]
    fn places_are_written_as_before() {
        #[derive(Serialize)]
        struct Before {
            places: [(u64, i64); SLOTS],
            fresh_calls: f32,
            calls: f32,
            habit_fresh: f32,
            habit_calls: f32,
        }
        let mut p = FreshPlaces::default();
        let fam = 0xdead_beef_0000_0007u64;
        p.observe(Some(fam), true, 5 * MIN, MIN);
        let bytes = postcard::to_allocvec(&p).unwrap();
        let read: FreshPlaces = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(read, p);
        let before = Before {
            places: [(fam, 5 * MIN), (0, 0), (0, 0), (0, 0)],
            fresh_calls: p.fresh_calls,
            calls: p.calls,
            habit_fresh: 0.0,
            habit_calls: 0.0,
        };
        let old: FreshPlaces =
            postcard::from_bytes(&postcard::to_allocvec(&before).unwrap()).unwrap();
        assert_eq!(old, p);
        assert_eq!(
            p.clone().observe(Some(fam), false, 6 * MIN, MIN),
            Some(5 * MIN)
        );
    }

    #[test]
    fn places_stop_being_new_after_four_hours() {
        let mut p = FreshPlaces::default();
        assert_eq!(p.observe(Some(5), true, 0, 0), Some(0));
        assert_eq!(p.observe(Some(5), false, FRESH_MS - 1, MIN), Some(0));
        assert_eq!(p.observe(Some(5), false, FRESH_MS, 1), None);
    }
}
