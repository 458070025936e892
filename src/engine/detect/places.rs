//! Scoring traffic into places new to the agent (`fresh_places`): the
//! Poisson tail of its recent calls into them against its usual share.

use super::super::agent::AgentState;
use super::super::cohort::Cohorts;
use super::super::fresh_places::expected_fresh;
use super::super::stats::{fingerprint, fp_kind, poisson_surprise};
use super::{Derived, Detectors};
use crate::event::CallRow;
use crate::signal::{Feature, Signals};

impl Detectors {
    /// Calls into new places in the last ~hour against the agent's
    /// usual share of such calls: a Poisson tail, scored on calls that go
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
        let settling = ts - st.first_ts < super::SETTLING_MS;
        let p = &mut st.places;
        let usual = p.share;
        // A new agent goes everywhere for the first time; its habit is
        // learned while it settles in, and only then scored.
        if !p.observe(derived.fp_family, adopted, ts, dt) || settling {
            return;
        }
        // The team moving together (a migration) is not this agent's doing.
        let me = fingerprint(fp_kind::AGENT, row.agent_id) as u32;
        if cohorts.movers_near(st.cohort, me, derived.shared_ts) >= super::TEAM_MOVE_PEERS {
            return;
        }
        let expected = expected_fresh(p.calls, usual);
        sig.set(
            Feature::NewPlaceTraffic,
            poisson_surprise(p.fresh_calls, expected),
            p.fresh_calls as f64,
            expected as f64,
        );
        if let Some(family) = derived.family {
            sig.novel_value[Feature::NewPlaceTraffic.index()] = Some(family.into());
        }
    }
}
