//! Volume detectors: call-rate rises against the agent's 1- and 15-minute
//! baselines, and bytes returned over 5 minutes and 2 hours.

use super::super::agent::AgentState;
use super::super::stats::{decay, normal_surprise, surge_tail_bits};
use super::{Detectors, MIN, NETWORK_KIND, USER_AGENT_KIND};
use crate::event::CallRow;
use crate::signal::{Feature, Signals};

/// Evidence, in the units of surprise, that the agent works from an
/// unfamiliar network or client lately: its recent first uses of both
/// (decayed to this call, not yet counting it). A benign surge (a
/// backfill, a catch-up run) runs the agent's own work from its own place
/// with its own client, so a rise explained away as one must also explain
/// the new context: the two surprises add.
pub(super) fn unfamiliar_context_bits(st: &AgentState) -> f32 {
    st.novelty[NETWORK_KIND] + st.novelty[USER_AGENT_KIND]
}

impl Detectors {
    /// Call-rate rises against the agent's 1- and 15-minute baselines.
    /// `ctx` is the evidence that the agent works from an unfamiliar
    /// network or client lately (`unfamiliar_context_bits`).
    pub(super) fn rate(
        &self,
        st: &mut AgentState,
        alpha: f32,
        surge: f32,
        activity: f32,
        ctx: f32,
        sig: &mut Signals,
    ) {
        let sd = self.rate_min_sd;
        for (f, count, base) in [
            (Feature::Rate1m, st.c1m, &mut st.rate1),
            (Feature::Rate15m, st.c15m, &mut st.rate15),
        ] {
            let x = (1.0 + count).ln();
            let z = base.z(x - surge, sd, 0.5);
            // Rises are scored no higher than a benign surge of that size
            // allows (`surge_tail_bits`), from a familiar context.
            let ratio = (x - surge - base.mean).exp();
            sig.set(
                f,
                normal_surprise(z).min(surge_tail_bits(ratio, activity) + ctx),
                count as f64,
                (base.mean.exp() - 1.0) as f64,
            );
            base.learn(x, alpha, sd, 0.5);
        }
    }

    /// Bytes returned to the caller over 5 minutes and over 2 hours: bulk and
    /// low-and-slow exfiltration.
    pub(super) fn volume(
        &self,
        st: &mut AgentState,
        row: &CallRow,
        dt: i64,
        alpha: f32,
        sig: &mut Signals,
    ) {
        let b = row.bytes_out.unwrap_or(0) as f32;
        st.bytes5m = st.bytes5m * decay(dt, 5.0 * MIN) + b;
        st.bytes2h = st.bytes2h * decay(dt, 120.0 * MIN) + b;
        for (f, total, base, sd) in [
            (Feature::BytesShort, st.bytes5m, &mut st.bytes_s, 0.8),
            (Feature::BytesLong, st.bytes2h, &mut st.bytes_l, 0.6),
        ] {
            // Payload sizes are heavy-tailed: wide floors, and a wide prior
            // while the baseline is young.
            let x = (1.0 + total).ln();
            let z = base.z(x, sd, 4.0);
            sig.set(
                f,
                normal_surprise(z),
                total as f64,
                (base.mean.exp() - 1.0) as f64,
            );
            base.learn(x, alpha, sd, 4.0);
        }
    }
}
