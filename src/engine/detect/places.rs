//! Scoring traffic into places new to the agent (`fresh_places`): its
//! recent calls into them against its habit (a beta-binomial tail).

use super::super::agent::AgentState;
use super::super::cohort::Cohorts;
use super::super::fresh_places::FRESH_MS;
use super::super::stats::{fingerprint, fp_kind};
use super::{Derived, Detectors};
use crate::event::CallRow;
use crate::signal::{Feature, Signals};

impl Detectors {
    /// Calls into new places in the last ~hour against the agent's habit
    /// of such calls (`FreshPlaces::surprise`), scored on calls that go
    /// into a new place (evidence must not linger onto ordinary calls).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_places(
        &self,
        st: &mut AgentState,
        cohorts: &Cohorts,
        row: &CallRow,
        derived: &Derived<'_>,
        adopted: bool,
        dt: i64,
        sig: &mut Signals,
    ) {
        let ts = row.ts_ms;
        let p = &mut st.places;
        // A new agent goes everywhere for the first time: the places of its
        // first hours are its vocabulary, not moves. From when those stop
        // being new, its first uses are moves, scored against its habit,
        // which is learned from then on: an agent that keeps finding new
        // places in its first day is an explorer by habit.
        let past_vocabulary = ts - st.first_ts >= FRESH_MS;
        let since = p.observe(derived.fp_family, adopted && past_vocabulary, ts, dt);
        if past_vocabulary {
            p.teach(since.is_some());
        }
        let Some(since) = since else {
            return;
        };
        // The team moving together around when this agent moved (a
        // migration, each member into a place of its own) or rolling out
        // the same place (the first adopter is judged before the others
        // follow) is not this agent's doing. Judged at the agent's move,
        // in the cohort's clock, for as long as the place stays new.
        let me = fingerprint(fp_kind::AGENT, row.agent_id) as u32;
        let moved_at = derived.shared_ts - (ts - since);
        let joined = derived.fp_family.map_or(0, |fp| {
            cohorts
                .adopters_near(st.cohort, fp, moved_at)
                .saturating_sub(1) as usize
        });
        if cohorts.movers_near(st.cohort, me, moved_at) >= super::TEAM_MOVE_PEERS
            || joined >= super::TEAM_MOVE_PEERS
        {
            return;
        }
        let (surprise, expected) = p.surprise();
        sig.set(
            Feature::NewPlaceTraffic,
            surprise,
            p.fresh_calls as f64,
            expected as f64,
        );
        if let Some(family) = derived.family {
            sig.novel_value[Feature::NewPlaceTraffic.index()] = Some(family.into());
        }
    }
}
