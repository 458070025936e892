//! The parts of an agent's state that few agents hold at a time, behind one
//! pointer instead of one each: the evidence ids of its recent notable calls
//! (held for two hours after one) and its archetype (only with a model).

use super::archetype::ArchetypeState;

/// See the module docs. Written as the two `Option`s it replaced
/// (`notable`, then `archetype`), so the state format does not change (test
/// `rare_parts_are_written_as_before`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RareParts(Option<Box<Held>>);

#[derive(Debug, Clone, Default, PartialEq)]
struct Held {
    notable: Option<Notable>,
    archetype: Option<ArchetypeState>,
}

impl RareParts {
    pub(crate) fn notable(&self) -> Option<&Notable> {
        self.0.as_ref()?.notable.as_ref()
    }

    /// The agent's notable calls, started empty when it has none.
    pub(crate) fn notable_or_default(&mut self) -> &mut Notable {
        self.0
            .get_or_insert_with(Box::default)
            .notable
            .get_or_insert_with(Notable::default)
    }

    pub(crate) fn forget_notable(&mut self) {
        if let Some(held) = &mut self.0 {
            held.notable = None;
            self.free_if_empty();
        }
    }

    pub(crate) fn archetype(&self) -> Option<&ArchetypeState> {
        self.0.as_ref()?.archetype.as_ref()
    }

    pub(crate) fn archetype_mut(&mut self) -> Option<&mut ArchetypeState> {
        self.0.as_mut()?.archetype.as_mut()
    }

    pub(crate) fn set_archetype(&mut self, a: ArchetypeState) {
        self.0.get_or_insert_with(Box::default).archetype = Some(a);
    }

    fn free_if_empty(&mut self) {
        if self
            .0
            .as_ref()
            .is_some_and(|h| h.notable.is_none() && h.archetype.is_none())
        {
            self.0 = None;
        }
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |h| {
            std::mem::size_of::<Held>()
                + h.notable.as_ref().map_or(0, Notable::heap_bytes)
                + h.archetype
                    .as_ref()
                    .map_or(0, |a| a.evidence.capacity() * std::mem::size_of::<f32>())
        })
    }
}

impl serde::Serialize for RareParts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.notable(), self.archetype()).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for RareParts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (notable, archetype) = <(Option<Notable>, Option<ArchetypeState>)>::deserialize(d)?;
        let mut parts = RareParts(Some(Box::new(Held { notable, archetype })));
        parts.free_if_empty();
        Ok(parts)
    }
}

/// Ring of the last few event ids that had a notable surprise: the evidence
/// a finding cites.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Notable {
    pub ids: Vec<(i64, Box<str>)>,
}

const NOTABLE_KEEP: usize = 12;
/// Evidence older than this is forgotten (and the ring freed).
pub(crate) const NOTABLE_TTL_MS: i64 = 2 * 3_600_000;

impl Notable {
    pub fn push(&mut self, ts: i64, id: &str) {
        // (A restored ring may hold more than are kept.)
        let over = (self.ids.len() + 1).saturating_sub(NOTABLE_KEEP);
        self.ids.drain(..over);
        // Grown 4, 8, 12: doubling would hold 16 slots for the 12 kept.
        if self.ids.len() == self.ids.capacity() {
            let more = self.ids.len().max(4).min(NOTABLE_KEEP - self.ids.len());
            self.ids.reserve_exact(more);
        }
        self.ids.push((ts, id.into()));
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.ids.capacity() * std::mem::size_of::<(i64, Box<str>)>()
            + self.ids.iter().map(|(_, s)| s.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The two fields as `AgentState` held them before they shared a box.
    #[derive(serde::Serialize)]
    struct AsBefore {
        notable: Option<Box<Notable>>,
        archetype: Option<Box<ArchetypeState>>,
    }

    fn archetype(current: u16, evidence: Vec<f32>) -> ArchetypeState {
        ArchetypeState {
            model: 7,
            current,
            settled: evidence.is_empty(),
            evidence,
            drift_signalled: 1.5,
        }
    }

    proptest! {
        #[test]
        fn rare_parts_are_written_as_before(
            ids in proptest::option::of(proptest::collection::vec((any::<i64>(), "[a-z0-9-]{0,12}"), 0..12)),
            arch in proptest::option::of((any::<u16>(), proptest::collection::vec(-5.0f32..5.0, 0..6))),
        ) {
            let mut parts = RareParts::default();
            let notable = ids.map(|ids| {
                let n = parts.notable_or_default();
                for (ts, id) in &ids {
                    n.push(*ts, id);
                }
                n.clone()
            });
            let arch = arch.map(|(c, e)| archetype(c, e));
            if let Some(a) = &arch {
                parts.set_archetype(a.clone());
            }
            let before = AsBefore {
                notable: notable.map(Box::new),
                archetype: arch.map(Box::new),
            };
            let bytes = postcard::to_allocvec(&parts).unwrap();
            prop_assert_eq!(&bytes, &postcard::to_allocvec(&before).unwrap());
            prop_assert_eq!(postcard::from_bytes::<RareParts>(&bytes).unwrap(), parts);
        }
    }

    #[test]
    fn the_notable_ring_keeps_the_last_twelve_in_twelve_slots() {
        let mut n = Notable::default();
        for i in 0..40 {
            n.push(i, &format!("e-{i}"));
            assert!(n.ids.capacity() <= NOTABLE_KEEP, "{}", n.ids.capacity());
        }
        let kept: Vec<i64> = n.ids.iter().map(|(t, _)| *t).collect();
        assert_eq!(kept, (28..40).collect::<Vec<_>>());
        // A restored ring holding more than are kept is cut back.
        let mut big = Notable {
            ids: (0..30).map(|i| (i, format!("e-{i}").into())).collect(),
        };
        big.push(30, "e-30");
        assert_eq!(big.ids.len(), NOTABLE_KEEP);
        assert_eq!(big.ids.first().map(|(t, _)| *t), Some(19));
    }

    #[test]
    fn the_box_goes_when_nothing_is_held() {
        let mut parts = RareParts::default();
        assert_eq!(parts.heap_bytes(), 0);
        parts.notable_or_default().push(1, "e-1");
        assert_eq!(parts.notable().map(|n| n.ids.len()), Some(1));
        assert!(parts.heap_bytes() > 0);
        parts.forget_notable();
        assert_eq!(parts, RareParts::default());
        parts.set_archetype(archetype(2, vec![0.5]));
        parts.notable_or_default().push(1, "e-1");
        parts.forget_notable();
        assert_eq!(parts.archetype().map(|a| a.current), Some(2));
        assert!(parts.notable().is_none());
        let none = postcard::to_allocvec(&(None::<Notable>, None::<ArchetypeState>)).unwrap();
        assert_eq!(
            postcard::from_bytes::<RareParts>(&none).unwrap(),
            RareParts::default()
        );
    }
}
