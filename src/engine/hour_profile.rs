//! An agent's calls per hour-of-week slot, held in as few bytes as its
//! counts need.
//!
//! Most agents never make more than 255 calls in an hour, so every slot's
//! low byte is kept inline and the high bytes only once some slot needs
//! one: 176 bytes instead of 336 for those agents, and 8 more than before
//! for the busy ones. The counts are exact either way, and the profile is
//! written into state records as the 168 `u16`s it always was (test
//! `a_profile_is_written_as_before`), so the state format is unchanged.

use serde::{Deserialize, Serialize};

/// Hour-of-week slots (slot 0 = Monday 00:00 UTC).
pub(crate) const SLOTS: usize = 168;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HourProfile {
    low: [u8; SLOTS],
    /// High bytes, while any slot's count is over 255.
    high: Option<Box<[u8; SLOTS]>>,
}

impl Default for HourProfile {
    fn default() -> Self {
        HourProfile {
            low: [0; SLOTS],
            high: None,
        }
    }
}

impl HourProfile {
    /// Calls counted in `slot` (`slot < SLOTS`).
    #[inline]
    pub(crate) fn get(&self, slot: usize) -> u16 {
        let high = self.high.as_ref().map_or(0, |h| h[slot]);
        u16::from_le_bytes([self.low[slot], high])
    }

    /// Sets `slot`'s count (`slot < SLOTS`). The high bytes are kept while
    /// some slot needs one and let go when none does.
    pub(crate) fn set(&mut self, slot: usize, count: u16) {
        let [low, high] = count.to_le_bytes();
        self.low[slot] = low;
        match &mut self.high {
            Some(h) => {
                h[slot] = high;
                if high == 0 && h.iter().all(|&b| b == 0) {
                    self.high = None;
                }
            }
            None if high != 0 => {
                let mut h = Box::new([0; SLOTS]);
                h[slot] = high;
                self.high = Some(h);
            }
            None => {}
        }
    }

    /// Every slot's count, from slot 0.
    pub(crate) fn counts(&self) -> impl Iterator<Item = u16> + '_ {
        (0..SLOTS).map(|s| self.get(s))
    }

    /// Bytes held on the heap (the high bytes, while there are any).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.high.as_ref().map_or(0, |_| SLOTS)
    }

    fn to_array(&self) -> [u16; SLOTS] {
        std::array::from_fn(|s| self.get(s))
    }

    fn from_array(counts: &[u16; SLOTS]) -> Self {
        let mut p = HourProfile::default();
        for (s, &c) in counts.iter().enumerate() {
            p.set(s, c);
        }
        p
    }
}

/// The profile as state records hold it: 168 `u16`s.
#[derive(Serialize, Deserialize)]
struct Wire(#[serde(with = "serde_big_array::BigArray")] [u16; SLOTS]);

impl Serialize for HourProfile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire(self.to_array()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for HourProfile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Wire::deserialize(d).map(|w| HourProfile::from_array(&w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// How `AgentState` held the profile before.
    #[derive(Serialize)]
    struct AsBefore(#[serde(with = "serde_big_array::BigArray")] [u16; SLOTS]);

    proptest! {
        /// Any sequence of writes reads back exactly as a plain array of
        /// `u16`s would, writes the same state-record bytes, and reads them
        /// back; the high bytes are held exactly while some count needs them.
        #[test]
        fn a_profile_is_written_as_before(
            writes in proptest::collection::vec((0..SLOTS, prop_oneof![0u16..300, any::<u16>()]), 0..400)
        ) {
            let (mut now, mut before) = (HourProfile::default(), [0u16; SLOTS]);
            for (slot, count) in writes {
                now.set(slot, count);
                before[slot] = count;
                prop_assert_eq!(now.get(slot), count);
            }
            prop_assert!(now.counts().eq(before.iter().copied()));
            prop_assert_eq!(now.high.is_some(), before.iter().any(|&c| c > 255));
            let bytes = postcard::to_allocvec(&now).unwrap();
            prop_assert_eq!(&bytes, &postcard::to_allocvec(&AsBefore(before)).unwrap());
            let read: HourProfile = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(read, now);
        }
    }

    #[test]
    fn a_quiet_agent_holds_no_high_bytes() {
        let mut p = HourProfile::default();
        p.set(3, 255);
        assert_eq!((p.heap_bytes(), p.get(3)), (0, 255));
        p.set(4, 256);
        assert_eq!((p.heap_bytes(), p.get(4)), (SLOTS, 256));
        p.set(4, 12);
        assert_eq!((p.heap_bytes(), p.get(4), p.get(3)), (0, 12, 255));
    }
}
