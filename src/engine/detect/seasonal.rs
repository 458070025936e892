//! The seasonal detector: calls so far in this clock hour against the
//! agent's hour-of-week profile, with the team's day shape as the prior
//! while the agent's own history is short.

use super::super::agent::AgentState;
use super::super::stats::{neg_binomial_surprise, surge_tail_bits, EpochIndex};
use super::{Detectors, SEASONAL_MAX_SHAPE, TEAM_SHAPE_SLOTS};
use crate::event::HOUR_MS;
use crate::signal::{Feature, Signals};

/// What the agent's team says about the current hour.
#[derive(Debug, Clone, Copy)]
pub(super) struct TeamHour {
    /// How busy this clock hour is in the team's day (`Cohort::day_share`),
    /// once a day of it is known.
    pub share: Option<f32>,
    /// How busy the team is right now against its usual level
    /// (`Cohort::busy_now`), once that level is known; read only while
    /// `share` is not.
    pub busy_now: Option<f32>,
}

impl Detectors {
    /// Calls so far in this clock hour against the agent's hour-of-week
    /// profile (falling back to the same hour on earlier days of the same
    /// kind, weekday or weekend, while less than a week is known).
    ///
    /// Calls come in bursts (an LLM task, a cron run), so the count is
    /// modelled as compound: bursts of the agent's typical size B arriving
    /// at a rate learned from the profile (negative binomial predictive, wide
    /// while few days are known). The surprise is the tail of the number of
    /// bursts.
    ///
    /// Before the agent's own profile is supported, the prior for an hour
    /// is the agent's own average rate shaped by its team's day (`team.share`,
    /// the cohort's hour-of-day profile), worth `TEAM_SHAPE_SLOTS` of
    /// evidence: with one or two days known, an hour the agent happened not
    /// to work is not taken for an empty one. Until the team's day is known
    /// (a day after its first established member), the team's activity
    /// right now (`team.busy_now`) stands in for it, at a quarter of a
    /// slot: a western team's evening on its second UTC day is not taken
    /// for a night.
    ///
    /// A rise is scored no higher than a benign surge allows
    /// (`surge_tail_bits`), and that only from a familiar context (`ctx`).
    pub(super) fn seasonal(
        &self,
        st: &mut AgentState,
        ts: i64,
        surge: f32,
        team: TeamHour,
        ctx: f32,
        sig: &mut Signals,
    ) {
        // Saturated as the agent's hour index is (`EpochIndex`).
        let this_hour = EpochIndex::of(ts, HOUR_MS);
        let hour = this_hour.get();
        let hour_idx = st.hour_idx.get();
        if hour > hour_idx {
            let from = hour_idx.max(hour - 168);
            for h in from..hour {
                let count = if h == hour_idx {
                    u32::from(st.hour_count.saturating_sub(st.hour_flagged))
                } else {
                    0
                };
                let slot = hour_of_week(h);
                let full_week_known = h - 168 > st.first_ts.div_euclid(HOUR_MS);
                let c = count.min(u16::MAX as u32);
                let kept = if full_week_known {
                    (st.profile.get(slot) + c) / 2
                } else {
                    c
                };
                st.profile.set(slot, kept);
            }
            st.hour_idx = this_hour;
            st.hour_count = 0;
            st.hour_flagged = 0;
        }
        if this_hour == st.hour_idx {
            st.hour_count = st.hour_count.saturating_add(1);
        }
        st.minutes.observe(ts);
        if let Some((sum, days, same_days)) = expected_calls(st, hour) {
            // Burst size: the index of dispersion of per-minute counts (1 for
            // Poisson traffic, about the task size for an LLM agent).
            let b = st.minutes.dispersion().clamp(1.0, 30.0);
            // Gamma prior on this hour's burst rate: a tenth of the agent's
            // all-hours average, worth a quarter of a day of evidence; updated
            // by the bursts seen in this hour on the known days.
            let hours_alive = ((ts - st.first_ts) as f32 / HOUR_MS as f32).max(1.0);
            let overall = st.events as f32 / b / hours_alive;
            let (a0, b0) = match team.share {
                Some(share) => (TEAM_SHAPE_SLOTS * overall * share, TEAM_SHAPE_SLOTS),
                // Until the team's day is known, its activity right now says
                // whether this is a working hour: the agent's average rate
                // while the team works, less while it is idle (a tenth when
                // neither is known); worth a quarter of a slot.
                None => {
                    let now = team.busy_now.map_or(0.1, |r| r.clamp(MIN_NOW, 1.0));
                    (0.25 * now * overall, 0.25)
                }
            };
            // Capped: however many days are known, an hour's rate varies
            // from day to day (a shape of 8 is about 35 % of spread); and
            // until several days of this kind (weekday or weekend) are
            // known, the day's level itself is uncertain (a weekend seen
            // first says little about a Monday).
            let max_shape = (1.0 + 1.75 * same_days as f32).min(SEASONAL_MAX_SHAPE);
            let shape = (a0 + sum / b).min(max_shape);
            let rate = shape / ((a0 + sum / b) / (b0 + days as f32));
            // A team-wide surge (a deploy) raises everyone's hour alike.
            let n = st.hour_count.saturating_sub(st.hour_flagged) as f32;
            let bursts = (n / surge.exp() / b).floor();
            let mean = shape / rate;
            // Benign surges come when the work does: in the team's busy
            // hours and, once two days of this kind show it, in the agent's
            // own (an hour it barely works, in a team that works then, is
            // still quiet for it; one day cannot tell a quiet hour from a
            // schedule that drifted).
            let team_share = team.share.unwrap_or(1.0);
            let activity = if same_days >= 2 {
                team_share.min(mean / overall.max(1e-6))
            } else {
                team_share
            };
            let s = neg_binomial_surprise(bursts, mean, shape.max(0.05))
                .min(surge_tail_bits(bursts / mean.max(1e-3), activity) + ctx);
            sig.set(
                Feature::SeasonalHour,
                s,
                n as f64,
                (sum / days as f32) as f64,
            );
        }
    }
}

/// Least share of the agent's average an hour is given while its team is
/// idle and the team's day is not known yet.
const MIN_NOW: f32 = 0.02;

/// Hour-of-week slot, 0 = Monday 00:00 UTC (the epoch fell on a Thursday).
pub(super) fn hour_of_week(hour: i64) -> usize {
    (hour + 72).rem_euclid(168) as usize
}

fn is_weekend(hour: i64) -> bool {
    hour_of_week(hour) >= 120
}

/// Calls seen around clock hour `h` on earlier, fully observed days:
/// (sum of calls, number of hour slots), from days of the same kind (weekday or
/// weekend, by UTC) or from all days, whichever is busier. The busier is the
/// cautious choice: the agent's own weekend may not fall on UTC's, and only
/// rises are scored. `None` before a full day is known. The third number
/// is how many earlier days of the same kind are known at all: until a
/// weekday has been seen, a weekday's level is unknown.
fn expected_calls(st: &AgentState, h: i64) -> Option<(f32, u32, u32)> {
    let first_hour = st.first_ts.div_euclid(HOUR_MS);
    let (mut same, mut same_n, mut any, mut any_n) = (0.0f32, 0, 0.0f32, 0);
    let mut same_days = 0;
    for j in 1..=7 {
        let before = same_n;
        // The hour and its two neighbours on day -j: a smoothed profile
        // triples the evidence and forgives a schedule that drifts an hour.
        for hh in [h - 24 * j - 1, h - 24 * j, h - 24 * j + 1] {
            if hh <= first_hour || hh >= st.hour_idx.get() {
                continue;
            }
            let v = st.profile.get(hour_of_week(hh)) as f32;
            any += v;
            any_n += 1;
            if is_weekend(hh) == is_weekend(h) {
                same += v;
                same_n += 1;
            }
        }
        same_days += u32::from(same_n > before);
    }
    if same_n > 0 && same / same_n as f32 >= any / any_n as f32 {
        Some((same, same_n, same_days))
    } else if any_n > 0 {
        Some((any, any_n, same_days))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bits of `seasonal_hour` for a key that worked 08:00-18:00 UTC on a
    /// Monday, one call a minute, and makes its usual hour's worth of calls
    /// at 20:00 on Tuesday, an hour it has not worked yet.
    fn tuesday_evening(share: Option<f32>, busy_now: Option<f32>) -> f32 {
        let d = Detectors::new(&crate::engine::config::DetectorConfig::default(), None);
        let monday = crate::event::parse_rfc3339_ms("2026-11-23T08:00:00Z").unwrap();
        let mut st = AgentState::new(0, crate::event::AgentType::ApiKey, monday);
        let mut sig = Signals::default();
        let evening = monday + 36 * HOUR_MS;
        let minutes = (0..600).map(|m| monday + m * 60_000);
        for ts in minutes.chain((0..60).map(|m| evening + m * 60_000)) {
            st.events += 1;
            let team = TeamHour { share, busy_now };
            d.seasonal(&mut st, ts, 0.0, team, 0.0, &mut sig);
        }
        sig.surprise[Feature::SeasonalHour.index()]
    }

    /// Before the team's day is known, an hour the agent has not worked yet
    /// is judged by whether its team is working now: its usual volume while
    /// the team works stays well under a finding (7.2 bits); the same calls
    /// while the team is idle, or in an hour the team's day shows as night,
    /// stand out. (The prior was a tenth of the agent's average whatever the
    /// team did, which put the first case at 7.3 bits.)
    #[test]
    fn an_unknown_hour_is_judged_by_whether_the_team_works_now() {
        let team_working = tuesday_evening(None, Some(1.0));
        assert!(team_working > 3.0 && team_working < 6.0, "{team_working}");
        let team_idle = tuesday_evening(None, Some(0.02));
        assert!(team_idle > 7.2, "{team_idle}");
        let team_night = tuesday_evening(Some(0.02), Some(1.0));
        assert!(team_night > 7.2, "{team_night}");
    }

    #[test]
    fn hour_of_week_starts_monday() {
        // 2026-11-23T00:00Z is a Monday.
        let monday = crate::event::parse_rfc3339_ms("2026-11-23T00:00:00Z").unwrap() / HOUR_MS;
        assert_eq!(hour_of_week(monday), 0);
        assert!(!is_weekend(monday));
        assert!(is_weekend(monday - 1)); // Sunday 23:00
        assert!(!is_weekend(monday - 48 - 1)); // Friday 23:00
    }
}
