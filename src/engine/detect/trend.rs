//! Scoring slow ramps of bytes per call (`bytes_trend`).

use super::super::agent::AgentState;
use super::super::bytes_trend::{BITS_PER_UNIT, MAX_BITS};
use super::{Derived, Detectors};
use crate::event::{CallRow, Outcome};
use crate::signal::{Feature, Signals};

impl Detectors {
    /// A sustained rise of bytes per call on one of the agent's usual
    /// actions (successful calls only).
    pub(super) fn bytes_trend(
        &self,
        st: &mut AgentState,
        row: &CallRow,
        derived: &Derived<'_>,
        sig: &mut Signals,
    ) {
        let (Outcome::Success, Some(bytes)) = (row.outcome, row.bytes_out) else {
            return;
        };
        if let Some((cusum, typical)) = st.trend.observe(derived.fp_action, bytes, row.ts_ms) {
            sig.set(
                Feature::BytesTrend,
                (cusum * BITS_PER_UNIT).min(MAX_BITS),
                bytes as f64,
                typical as f64,
            );
        }
    }
}
