//! An agent's calls per hour-of-week slot, one byte per slot.
//!
//! A count is kept exactly up to 63 and, above that, to the nearest of 16
//! steps per doubling (within 3.2 %, up to 63,488). The seasonal model
//! that reads the profile allows an hour's rate about 35 % of spread from
//! day to day (`SEASONAL_MAX_SHAPE`), ten times that rounding; the two
//! bytes per slot the profile held before cost every agent 168 bytes for
//! precision nothing used.
//!
//! State records hold the profile as the 168 `u16`s they always did (the
//! counts as read back), so the state format is unchanged: a record
//! written before is read with its counts rounded, and a record written
//! now reads in an earlier build (test `a_profile_is_written_as_before`).

use serde::{Deserialize, Serialize};

/// Hour-of-week slots (slot 0 = Monday 00:00 UTC).
pub(crate) const SLOTS: usize = 168;

/// Counts below this are kept exactly.
const EXACT: u32 = 64;
/// Steps per doubling above `EXACT` (a power of two).
const STEPS: u32 = 16;
/// The code of the largest count kept: 31 × 2^11 = 63,488, the last step
/// under `u16::MAX`.
const TOP_CODE: u8 = 223;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HourProfile([u8; SLOTS]);

impl Default for HourProfile {
    fn default() -> Self {
        HourProfile([0; SLOTS])
    }
}

/// The code nearest to `count` (larger counts take the top code).
fn encode(count: u32) -> u8 {
    if count < EXACT {
        return count as u8;
    }
    // count = m × 2^shift with m in [STEPS, 2 × STEPS), rounded to nearest.
    let msb = 31 - count.leading_zeros();
    let shift = msb - STEPS.trailing_zeros();
    let rounded = (count >> shift) + ((count >> (shift - 1)) & 1);
    let (m, shift) = if rounded == 2 * STEPS {
        (STEPS, shift + 1)
    } else {
        (rounded, shift)
    };
    let octave = shift - (EXACT / STEPS).trailing_zeros();
    let code = EXACT + octave * STEPS + (m - STEPS);
    code.min(u32::from(TOP_CODE)) as u8
}

/// The count a code stands for.
fn decode(code: u8) -> u32 {
    let code = u32::from(code);
    if code < EXACT {
        return code;
    }
    let (octave, m) = ((code - EXACT) / STEPS, (code - EXACT) % STEPS);
    (STEPS + m) << (octave + (EXACT / STEPS).trailing_zeros())
}

impl HourProfile {
    /// Calls counted in `slot` (`slot < SLOTS`), as kept.
    #[inline]
    pub(crate) fn get(&self, slot: usize) -> u32 {
        decode(self.0[slot])
    }

    /// Sets `slot`'s count (`slot < SLOTS`), rounded as the module says.
    #[inline]
    pub(crate) fn set(&mut self, slot: usize, count: u32) {
        self.0[slot] = encode(count);
    }

    /// Every slot's count, from slot 0.
    pub(crate) fn counts(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().map(|&c| decode(c))
    }
}

/// The profile as state records hold it: 168 `u16`s.
#[derive(Serialize, Deserialize)]
struct Wire(#[serde(with = "serde_big_array::BigArray")] [u16; SLOTS]);

impl Serialize for HourProfile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Every code decodes to at most 63,488 (`TOP_CODE`).
        Wire(self.0.map(|c| decode(c) as u16)).serialize(s)
    }
}

impl<'de> Deserialize<'de> for HourProfile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Wire::deserialize(d).map(|w| HourProfile(w.0.map(|c| encode(u32::from(c)))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// How `AgentState` held the profile before.
    #[derive(Serialize)]
    struct AsBefore(#[serde(with = "serde_big_array::BigArray")] [u16; SLOTS]);

    #[test]
    fn codes_are_exact_below_64_and_monotone_after() {
        for c in 0..64 {
            assert_eq!(decode(encode(c)), c);
        }
        assert_eq!(decode(TOP_CODE), 63_488);
        for code in 0..TOP_CODE {
            assert!(decode(code) < decode(code + 1), "{code}");
            assert_eq!(encode(decode(code)), code);
        }
        assert_eq!(encode(u32::from(u16::MAX)), TOP_CODE);
        assert_eq!(encode(u32::MAX), TOP_CODE);
    }

    proptest! {
        /// Every count up to `u16::MAX` is kept within 3.2 % (half a step),
        /// and rounding never moves it past a neighbour's code.
        #[test]
        fn a_count_is_kept_within_half_a_step(count in 0u32..=63_488) {
            let kept = decode(encode(count));
            let err = (kept as f64 - count as f64).abs();
            prop_assert!(err <= count as f64 / 31.0 + 1e-9, "{} -> {}", count, kept);
            prop_assert!(encode(count) <= encode(count + 1));
        }

        /// A record holds the counts as read back, in the layout of 168
        /// `u16`s it always had; what it holds reads back to the same
        /// profile; and a record written before (any counts) reads as
        /// those counts rounded.
        #[test]
        fn a_profile_is_written_as_before(
            writes in proptest::collection::vec((0..SLOTS, prop_oneof![0u32..300, 0u32..=65_535]), 0..400)
        ) {
            let (mut now, mut before) = (HourProfile::default(), [0u16; SLOTS]);
            for (slot, count) in writes {
                now.set(slot, count);
                before[slot] = count as u16;
            }
            let shown: [u16; SLOTS] = std::array::from_fn(|s| now.get(s) as u16);
            let bytes = postcard::to_allocvec(&now).unwrap();
            prop_assert_eq!(&bytes, &postcard::to_allocvec(&AsBefore(shown)).unwrap());
            let read: HourProfile = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&read, &now);
            let old: HourProfile =
                postcard::from_bytes(&postcard::to_allocvec(&AsBefore(before)).unwrap()).unwrap();
            prop_assert_eq!(old, now);
        }
    }
}
