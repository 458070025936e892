//! A cohort's hour-of-day shape: how busy each UTC hour of the day is for
//! the team, relative to its average hour. An agent with one or two days of
//! its own history borrows it (`detect::seasonal`), so an hour the agent
//! happened not to work yesterday is not claimed to be empty.

use serde::{Deserialize, Serialize};

const HOUR_MS: i64 = 3_600_000;
/// Weight of the newest day in each hour's average: recent days dominate,
/// so a daylight-saving shift or a new schedule is taken up within days.
const DAY_WEIGHT: f32 = 0.3;
/// Least relative level an hour is given: even a team's quietest hour is
/// never claimed to be empty.
const MIN_SHARE: f32 = 0.02;

/// Calls per UTC hour of the day, averaged over days (exponentially).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DayShape {
    /// The hour (since the epoch) being counted, `i64::MIN` before any call.
    hour: i64,
    /// Calls in that hour so far.
    count: f32,
    slots: [f32; 24],
    /// Hours folded into `slots` (capped), for support.
    folded: u32,
}

impl Default for DayShape {
    fn default() -> Self {
        DayShape {
            hour: i64::MIN,
            count: 0.0,
            slots: [0.0; 24],
            folded: 0,
        }
    }
}

impl DayShape {
    /// Counts one call at `ts`. A call from an hour already folded (a late
    /// partition) counts towards its own hour-of-day slot at the weight of
    /// a day's sample, so arrival order changes little.
    pub fn observe(&mut self, ts: i64) {
        let hour = ts.div_euclid(HOUR_MS);
        if self.hour == i64::MIN {
            self.hour = hour;
        }
        if hour > self.hour {
            // Fold the finished hour and any silent ones after it, at most
            // a day of them (older slots would be overwritten anyway).
            let from = self.hour.max(hour - 24);
            for h in from..hour {
                let c = if h == self.hour { self.count } else { 0.0 };
                let slot = &mut self.slots[h.rem_euclid(24) as usize];
                *slot = if self.folded < 24 {
                    c
                } else {
                    *slot + DAY_WEIGHT * (c - *slot)
                };
                self.folded = (self.folded + 1).min(1 << 20);
            }
            self.hour = hour;
            self.count = 0.0;
        }
        if hour == self.hour {
            self.count += 1.0;
        } else {
            let slot = &mut self.slots[hour.rem_euclid(24) as usize];
            *slot += DAY_WEIGHT;
        }
    }

    /// How busy clock hour `hour` (since the epoch) is for the team, and
    /// its neighbours (a schedule drifts by an hour), relative to the team's
    /// average hour: about 2 in working hours of a 12-hour day, near 0 at
    /// night, 1 for round-the-clock work. `None` until a full day is known.
    pub fn share(&self, hour: i64) -> Option<f32> {
        if self.folded < 24 {
            return None;
        }
        let mean = self.slots.iter().sum::<f32>() / 24.0;
        if mean <= 0.0 {
            return None;
        }
        let at = |h: i64| self.slots[h.rem_euclid(24) as usize];
        let around = (at(hour - 1) + at(hour) + at(hour + 1)) / 3.0;
        Some((around / mean).max(MIN_SHARE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A team that works ten hours from `start_h` UTC on `days`, ten calls an hour.
    fn office_days(shape: &mut DayShape, days: std::ops::Range<i64>, start_h: i64) {
        for d in days {
            for h in start_h..start_h + 10 {
                for k in 0..10 {
                    shape.observe((d * 24 + h) * HOUR_MS + k * 1000);
                }
            }
        }
    }

    #[test]
    fn unknown_until_a_day_is_folded() {
        let mut s = DayShape::default();
        office_days(&mut s, 0..1, 8);
        assert_eq!(s.share(12), None);
        office_days(&mut s, 1..2, 8);
        assert!(s.share(12).is_some());
    }

    #[test]
    fn working_hours_stand_out_and_nights_are_quiet_but_never_empty() {
        let mut s = DayShape::default();
        office_days(&mut s, 0..3, 8);
        let noon = s.share(2 * 24 + 12).unwrap_or(0.0);
        let night = s.share(2 * 24 + 3).unwrap_or(1.0);
        assert!((noon - 2.4).abs() < 0.1, "noon {noon}");
        assert_eq!(night, MIN_SHARE);
        // The edge of the day borrows from its neighbour (drift).
        let seven = s.share(2 * 24 + 7).unwrap_or(0.0);
        assert!(seven > 0.5 && seven < noon, "07:00 {seven}");
    }

    #[test]
    fn a_shifted_schedule_is_taken_up_within_days() {
        let mut s = DayShape::default();
        office_days(&mut s, 0..4, 8);
        // From day 4 the team works an hour later (daylight saving).
        office_days(&mut s, 4..10, 9);
        // 18:00 was the team's first quiet hour; now it is a working one.
        let late = s.share(10 * 24 + 18).unwrap_or(0.0);
        assert!(late > 1.2, "18:00 after the shift {late}");
    }

    #[test]
    fn late_calls_count_without_moving_the_clock_back() {
        let mut s = DayShape::default();
        office_days(&mut s, 0..2, 8);
        let before = s.clone();
        s.observe(9 * HOUR_MS);
        assert_eq!(s.hour, before.hour);
        assert!(s.slots[9] > before.slots[9]);
    }
}
