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

/// Prior variance of a young bytes baseline (log units, shrinking with its
/// samples; `Ewm::z`) when its cohort's spread is not known: a factor of
/// about 7 either way.
const BYTES_PRIOR_VAR: f32 = 4.0;

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
    ///
    /// Payload sizes are heavy-tailed: wide floors, and a wide prior
    /// (`BYTES_PRIOR_VAR`) while the baseline is young. Where the agent's
    /// cohort knows how far apart its members sit (`member_spread`, for the
    /// 5-minute and the 2-hour baseline), a young baseline takes that as
    /// its prior instead: an agent an hour old is as uncertain as its peers
    /// differ from each other, so a new key in a team of keys that return
    /// kilobytes is not excused a pull of gigabytes, and a new member of a
    /// team whose members differ widely keeps a wide prior.
    pub(super) fn volume(
        &self,
        st: &mut AgentState,
        row: &CallRow,
        dt: i64,
        alpha: f32,
        member_spread: [Option<f32>; 2],
        sig: &mut Signals,
    ) {
        let b = row.bytes_out.unwrap_or(0) as f32;
        st.bytes5m = st.bytes5m * decay(dt, 5.0 * MIN) + b;
        st.bytes2h = st.bytes2h * decay(dt, 120.0 * MIN) + b;
        let baselines = [
            (Feature::BytesShort, st.bytes5m, &mut st.bytes_s, 0.8),
            (Feature::BytesLong, st.bytes2h, &mut st.bytes_l, 0.6),
        ];
        for ((f, total, base, sd), spread) in baselines.into_iter().zip(member_spread) {
            let x = (1.0 + total).ln();
            let prior_var = match spread {
                Some(v) if base.is_young() => v,
                _ => BYTES_PRIOR_VAR,
            };
            let z = base.z(x, sd, prior_var);
            sig.set(
                f,
                normal_surprise(z),
                total as f64,
                (base.mean.exp() - 1.0) as f64,
            );
            base.learn(x, alpha, sd, prior_var);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::DetectorConfig;
    use crate::engine::stats::Ewm;
    use crate::event::AgentType;

    /// Bits of `bytes_out_5m` at the first call of a bulk pull (20 MB) by
    /// a key seeded from its cohort and then making `calls` calls of 3 KB,
    /// a minute apart, with its cohort's members `spread` apart.
    fn first_pull_bits(calls: i64, spread: Option<f32>) -> f32 {
        let d = Detectors::new(&DetectorConfig::default(), None);
        let t0 = crate::event::parse_rfc3339_ms("2026-11-23T08:00:00Z").unwrap();
        let mut st = AgentState::new(0, AgentType::ApiKey, t0);
        let seed = |mean: f32| Ewm {
            mean,
            var: 0.25,
            n: 5,
        };
        (st.bytes_s, st.bytes_l) = (seed(3e3f32.ln()), seed(1e5f32.ln()));
        let mut sig = Signals::default();
        let call = |st: &mut AgentState, i: i64, bytes: u64, sig: &mut Signals| {
            let row = CallRow {
                ts_ms: t0 + i * 60_000,
                bytes_out: Some(bytes),
                ..CallRow::default()
            };
            d.volume(st, &row, 60_000, 0.002, [spread; 2], sig);
        };
        for i in 0..calls {
            call(&mut st, i, 3_000, &mut sig);
        }
        call(&mut st, calls, 20_000_000, &mut sig);
        sig.surprise[Feature::BytesShort.index()]
    }

    #[test]
    fn a_young_agent_is_as_uncertain_as_its_peers_differ() {
        let unknown = first_pull_bits(15, None);
        let alike = first_pull_bits(15, Some(0.25));
        let unlike = first_pull_bits(15, Some(9.0));
        // Peers that return about the same: a pull of 20 MB by a key an
        // hour old is far outside anything its team does.
        assert!(alike > 7.2, "{alike}");
        // Not knowing the team: the fixed heavy-tailed prior.
        assert!(unknown < alike - 2.0, "{unknown} vs {alike}");
        // Peers that differ widely excuse more than the fixed prior.
        assert!(unlike < unknown, "{unlike} vs {unknown}");
        // A settled baseline keeps the fixed prior whatever its peers do:
        // its own history speaks for it.
        assert_eq!(first_pull_bits(100, Some(0.25)), first_pull_bits(100, None));
    }
}
