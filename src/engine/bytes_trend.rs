//! Exfiltration that ramps: bytes returned per call on the agent's usual
//! actions creeping up over hours. Short and long windows (`volume`) follow
//! a slow ramp because their baselines adapt; a one-sided CUSUM per action
//! against a slow baseline accumulates a sustained rise instead.

use super::stats::{decay, Stamp};
use serde::{Deserialize, Serialize};

/// Actions followed per agent: its busiest (a new action takes the slot
/// of the one called least lately, by calls decayed over a day).
const SLOTS: usize = 6;
/// Memory of how busy an action is, for keeping its slot.
const BUSY_TAU_MS: f32 = 24.0 * 3_600_000.0;
/// Calls of an action before its rise is scored.
const MIN_CALLS: u32 = 50;
/// Memory of the slow baseline: about three days.
const BASELINE_TAU_MS: f32 = 3.0 * 24.0 * 3_600_000.0;
/// Smallest weight of one call in the baseline once it is formed.
const MIN_ALPHA: f32 = 0.000_2;
/// Spread floor of log bytes per call (payloads are heavy-tailed).
const MIN_SD: f32 = 0.5;
/// Reference value of the CUSUM, in standard deviations: rises smaller
/// than about twice this are not accumulated.
const REFERENCE_SD: f32 = 1.0;
/// A CUSUM above this is a rise in progress: the baseline stops learning.
const HOLD: f32 = 5.0;
/// Bits per unit of CUSUM. Under the baseline, a one-sided CUSUM with
/// reference 1 sd exceeds h with probability about e^(-2h) per call; half
/// that rate (0.43 bits per unit would be e^-1) leaves room for payloads
/// heavier-tailed than log-normal.
pub(crate) const BITS_PER_UNIT: f32 = 0.5;
pub(crate) const MAX_BITS: f32 = 12.0;
/// The CUSUM is capped where it stops adding bits, so a return to normal
/// brings it down within a few calls.
const MAX_CUSUM: f32 = MAX_BITS / BITS_PER_UNIT;
/// The CUSUM fades with this time constant between calls of the action.
const FADE_MS: f32 = 2.0 * 3_600_000.0;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct ActionBytes {
    /// The action (`ActionKey`); 0 = free.
    action: ActionKey,
    /// Calls folded into the baseline, counted while they matter (up to
    /// `MIN_CALLS + 1`). Written as a `u32`; a larger one reads as 255.
    #[serde(with = "super::stats::narrow_u32")]
    calls: u8,
    mean: f32,
    var: f32,
    cusum: f32,
    last_ts: Stamp,
    /// Calls decayed over `BUSY_TAU_MS`, as of `last_ts`.
    busy: f32,
}

const _: () = assert!(MIN_CALLS < u8::MAX as u32, "calls are counted in a byte");

/// An action's slot key: the low 24 bits of its fingerprint (never 0). A
/// collision only shares a baseline: for an agent calling 30 distinct
/// actions, the odds that one of them shares a followed action's key are
/// about one in 86,000 (6 × 30 pairs in 2^24 keys). Three bytes
/// leave room for the call count in the fourth: 28 bytes a slot instead of
/// 32. Written as a `u32`; a key written with 32 bits (state written before
/// this layout) reads as its low 24, which is the key the same action gets
/// now. A build from before this layout reading these keys relearns the
/// followed actions' baselines (`MIN_CALLS` calls each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ActionKey([u8; 3]);

impl ActionKey {
    fn of(fingerprint: u64) -> Self {
        Self::from_bits(fingerprint as u32)
    }

    fn from_bits(bits: u32) -> Self {
        let [a, b, c, _] = (bits & 0xFF_FFFF).max(1).to_le_bytes();
        ActionKey([a, b, c])
    }

    fn is_free(self) -> bool {
        self.0 == [0; 3]
    }

    fn bits(self) -> u32 {
        let [a, b, c] = self.0;
        u32::from_le_bytes([a, b, c, 0])
    }
}

impl Serialize for ActionKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.bits().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ActionKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bits = u32::deserialize(d)?;
        // 0 stays free rather than becoming key 1.
        Ok(if bits == 0 {
            ActionKey::default()
        } else {
            ActionKey::from_bits(bits)
        })
    }
}

/// Per-action bytes baselines and CUSUMs of one agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct BytesTrend {
    slots: [ActionBytes; SLOTS],
}

impl BytesTrend {
    /// Folds in one successful call's bytes; returns the CUSUM and the
    /// baseline's typical bytes once the action's baseline is formed and
    /// when this call adds to the rise (a call of the usual size after a
    /// ramp stopped must not be reported on the ramp's account).
    pub(crate) fn observe(&mut self, action: u64, bytes: u64, ts: i64) -> Option<(f32, f32)> {
        let action = ActionKey::of(action);
        let i = match self.slots.iter().position(|s| s.action == action) {
            Some(i) => i,
            None => {
                let (i, _) = self.slots.iter().enumerate().min_by(|(_, a), (_, b)| {
                    let busy = |s: &ActionBytes| {
                        if s.action.is_free() {
                            -1.0
                        } else {
                            s.busy * decay((ts - s.last_ts.get()).max(0), BUSY_TAU_MS)
                        }
                    };
                    busy(a).total_cmp(&busy(b))
                })?;
                self.slots[i] = ActionBytes {
                    action,
                    last_ts: Stamp::new(ts),
                    ..ActionBytes::default()
                };
                i
            }
        };
        let s = &mut self.slots[i];
        let x = (1.0 + bytes as f32).ln();
        let dt = (ts - s.last_ts.get()).max(0);
        s.busy = s.busy * decay(dt, BUSY_TAU_MS) + 1.0;
        s.last_ts = Stamp::new(s.last_ts.get().max(ts));
        let sd = s.var.sqrt().max(MIN_SD);
        let calls = u32::from(s.calls);
        let scored = if calls >= MIN_CALLS {
            let z = (x - s.mean) / sd;
            // Evidence fades when nothing feeds it: a ramp that stopped
            // hours ago is not re-reported at the action's next call.
            let faded = s.cusum * decay(dt, FADE_MS);
            s.cusum = (faded + z - REFERENCE_SD).clamp(0.0, MAX_CUSUM);
            (z > REFERENCE_SD).then_some((s.cusum, s.mean.exp() - 1.0))
        } else {
            None
        };
        if s.cusum <= HOLD {
            s.calls = s.calls.saturating_add(1);
            let calls = u32::from(s.calls);
            let alpha = if calls <= MIN_CALLS {
                1.0 / calls as f32
            } else {
                (1.0 - decay(dt, BASELINE_TAU_MS)).max(MIN_ALPHA)
            };
            // Winsorised, so one huge payload does not drag the baseline.
            let xc = if calls > MIN_CALLS {
                x.clamp(s.mean - 3.0 * sd, s.mean + 3.0 * sd)
            } else {
                x
            };
            let delta = xc - s.mean;
            s.mean += alpha * delta;
            s.var = (1.0 - alpha) * (s.var + alpha * delta * delta);
        }
        scored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    /// Log-normal-ish payloads around `median` from a fixed sequence.
    fn payload(i: i64, median: f64) -> u64 {
        let u = ((i * 7919) % 1000) as f64 / 1000.0 - 0.5;
        (median * (1.6 * u).exp()) as u64
    }

    #[test]
    fn steady_payloads_stay_quiet_and_a_thirtyfold_ramp_accumulates() {
        let mut t = BytesTrend::default();
        let mut max_quiet = 0.0f32;
        for i in 0..3000 {
            if let Some((c, _)) = t.observe(9, payload(i, 60_000.0), i * MIN) {
                max_quiet = max_quiet.max(c);
            }
        }
        assert!(max_quiet * BITS_PER_UNIT < 3.0, "quiet cusum {max_quiet}");
        // 12 hours, a call every 5 minutes, 1x to 30x.
        let t0 = 3000 * MIN;
        let mut first_alarm = None;
        for k in 0..144 {
            let growth = 30f64.powf(k as f64 / 144.0);
            let b = payload(k, 60_000.0 * growth);
            if let Some((c, _)) = t.observe(9, b, t0 + k * 5 * MIN) {
                if c * BITS_PER_UNIT >= 7.2 && first_alarm.is_none() {
                    first_alarm = Some(growth);
                }
            }
        }
        let at = first_alarm.expect("the ramp reaches a finding");
        assert!(at < 10.0, "found only at {at:.1}x");
    }

    /// A slot as the layout before `ActionKey` wrote it.
    #[derive(Serialize)]
    struct SlotAsBefore {
        action: u32,
        calls: u32,
        mean: f32,
        var: f32,
        cusum: f32,
        last_ts: i64,
        busy: f32,
    }

    proptest::proptest! {
        /// Slots are written in the old layout, read back as they were, and
        /// a slot written with a 32-bit key and a large count (before this
        /// layout) is found again by the same action.
        #[test]
        fn slots_are_written_as_before(
            calls in proptest::collection::vec((0u64..12, 0u64..10_000_000, 0i64..600_000), 0..300),
            fp in proptest::prelude::any::<u64>(),
            old_calls in 0u32..100_000,
        ) {
            let mut t = BytesTrend::default();
            let mut ts = 0;
            for (action, bytes, dt) in calls {
                ts += dt;
                t.observe(action.wrapping_mul(0x9E37_79B9_7F4A_7C15), bytes, ts);
            }
            let before: Vec<SlotAsBefore> = t
                .slots
                .iter()
                .map(|s| SlotAsBefore {
                    action: s.action.bits(),
                    calls: s.calls.into(),
                    mean: s.mean,
                    var: s.var,
                    cusum: s.cusum,
                    last_ts: s.last_ts.get(),
                    busy: s.busy,
                })
                .collect();
            let bytes = postcard::to_allocvec(&t).unwrap();
            let old: [SlotAsBefore; SLOTS] = before.try_into().ok().unwrap();
            proptest::prop_assert_eq!(&bytes, &postcard::to_allocvec(&old).unwrap());
            proptest::prop_assert_eq!(&postcard::from_bytes::<BytesTrend>(&bytes).unwrap(), &t);

            let mut old = old;
            old[0].action = (fp as u32).max(1);
            old[0].calls = old_calls;
            let read: BytesTrend = postcard::from_bytes(&postcard::to_allocvec(&old).unwrap()).unwrap();
            proptest::prop_assert_eq!(read.slots[0].action, ActionKey::of(fp));
            proptest::prop_assert_eq!(u32::from(read.slots[0].calls), old_calls.min(255));
        }
    }

    #[test]
    fn a_busy_action_keeps_its_slot_among_many_rare_ones() {
        let mut t = BytesTrend::default();
        for i in 0..400 {
            t.observe(1, 60_000, i * MIN);
            // A different rare action every call.
            t.observe(100 + i as u64, 500, i * MIN + 1);
        }
        assert!(t
            .slots
            .iter()
            .any(|s| s.action == ActionKey::of(1) && s.calls == u8::MAX));
    }

    #[test]
    fn actions_are_followed_apart() {
        let mut t = BytesTrend::default();
        for i in 0..200 {
            t.observe(1, 500, i * MIN);
            t.observe(2, 5_000_000, i * MIN + 1);
        }
        // The big action's usual size is not a rise of the small one's.
        assert_eq!(t.observe(2, 5_000_000, 300 * MIN), None);
        let big = t
            .slots
            .iter()
            .find(|s| s.action == ActionKey::of(2))
            .map(|s| s.mean.exp());
        assert!(big.is_some_and(|b| b > 1_000_000.0), "{big:?}");
        // A payload of the big action's size on the small one is.
        for k in 0..10 {
            t.observe(1, 5_000_000, 301 * MIN + k);
        }
        assert!(t
            .observe(1, 5_000_000, 302 * MIN)
            .is_some_and(|(c, _)| c > 10.0));
    }
}
