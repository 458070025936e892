//! The engine's clock for what agents share: closing other agents' quiet
//! episodes, and the time cohort statistics decay by.
//!
//! Event time is written by the caller. An agent's own baselines may follow
//! its own timestamps (a liar only fools itself), but a clock shared by every
//! agent must not: one call stamped a day ahead, taken as "now", would close
//! every open episode as quiet and freeze every cohort's decay for a day.
//! So the shared clock is a watermark that a minority of calls cannot move:
//! the lower quartile of the last 64 calls' times, and it never goes back.

/// A watermark over recent call times (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Watermark {
    recent: [i64; WINDOW],
    len: usize,
    next: usize,
    since: u32,
    value: Option<i64>,
}

/// Calls the watermark is taken over.
const WINDOW: usize = 64;
/// Calls between recomputations (the quartile is not needed per call).
const EVERY: u32 = 8;
/// How far past the watermark a call's time may count in shared state.
pub(crate) const SHARED_SKEW_MS: i64 = 5 * 60_000;

impl Default for Watermark {
    fn default() -> Self {
        Watermark {
            recent: [0; WINDOW],
            len: 0,
            next: 0,
            since: 0,
            value: None,
        }
    }
}

impl Watermark {
    /// Takes in a call's time; returns the watermark, once there have been
    /// enough calls to take one (a first call alone is not trusted).
    pub fn observe(&mut self, ts: i64) -> Option<i64> {
        self.recent[self.next] = ts;
        self.next = (self.next + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
        self.since += 1;
        if self.len < EVERY as usize {
            return self.value;
        }
        if self.value.is_none() || self.since >= EVERY {
            self.since = 0;
            let mut times = self.recent;
            let times = &mut times[..self.len];
            let (_, q, _) = times.select_nth_unstable(self.len / 4);
            let q = *q;
            self.value = Some(self.value.map_or(q, |w| w.max(q)));
        }
        self.value
    }

    /// A call's time as shared state may take it: at most `SHARED_SKEW_MS`
    /// past the watermark.
    pub fn shared(&self, ts: i64) -> i64 {
        self.value
            .map_or(ts, |w| ts.min(w.saturating_add(SHARED_SKEW_MS)))
    }
}

/// Where one call stands on the shared clock: its input position, its time
/// as shared state may take it, the watermark after it (`now`, once there
/// is one), and whether the clock's minute moved on with it (then quiet
/// episodes are closed first, as of `sweep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tick {
    pub seq: u64,
    pub shared_ts: i64,
    pub now: Option<i64>,
    pub sweep: Option<i64>,
}

/// The shared clock as calls arrive, in input order. One per engine, or one
/// per input when several engines share it out (`engine::sharded`): every
/// engine must see the same ticks for the outputs to be the same.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedClock {
    watermark: Watermark,
    swept_minute: Option<i64>,
    seq: u64,
}

impl SharedClock {
    /// The watermark as it stands (none before enough calls).
    pub fn now(&self) -> Option<i64> {
        self.watermark.value
    }

    /// The next call, stamped `ts`.
    pub fn tick(&mut self, ts: i64) -> Tick {
        let now = self.watermark.observe(ts);
        let shared_ts = self.watermark.shared(ts);
        let sweep = now.filter(|n| self.swept_minute.is_none_or(|m| n.div_euclid(60_000) > m));
        if let Some(n) = sweep {
            self.swept_minute = Some(n.div_euclid(60_000));
        }
        let seq = self.seq;
        self.seq += 1;
        Tick {
            seq,
            shared_ts,
            now,
            sweep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minority_of_future_stamps_cannot_move_it() {
        let mut w = Watermark::default();
        let day = 86_400_000;
        let mut last = 0;
        for i in 0..10_000i64 {
            // Every fifth call stamped a day ahead.
            let ts = if i % 5 == 0 { i * 1000 + day } else { i * 1000 };
            if let Some(wm) = w.observe(ts) {
                last = wm;
                assert!(last <= i * 1000, "watermark {last} ahead of {}", i * 1000);
            }
        }
        // It follows real time, a few seconds behind.
        assert!(last > 9_900_000, "{last}");
        assert_eq!(w.shared(20_000_000 + day), last + SHARED_SKEW_MS);
        assert_eq!(w.shared(1_000), 1_000);
    }

    #[test]
    fn it_never_goes_back() {
        let mut w = Watermark::default();
        for i in 0..100 {
            w.observe(1_000_000 + i);
        }
        let before = w.observe(1_000_100).unwrap();
        for _ in 0..100 {
            assert!(w.observe(0).unwrap() >= before);
        }
    }
}
