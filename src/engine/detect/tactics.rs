//! The first call of an ATT&CK tactic by an agent, from the catalogue in
//! `models/` (`catalogue`).

use super::super::agent::AgentState;
use super::super::catalogue::{Class, Entry};
use super::Detectors;
use crate::signal::{Feature, Signals};

/// Bits of the first call of a high-impact ATT&CK tactic by an agent:
/// past the finding line (7.2 bits) on its own.
const FIRST_HIGH_IMPACT_BITS: f32 = 7.5;

/// A watched action's first use, held until the call's context is known
/// (`Detectors::watched_from_elsewhere`). Borrowed: most are never scored,
/// so nothing is formatted or cloned for them.
pub(super) struct WatchedFirstUse<'a> {
    discount: f32,
    own_cap: f32,
    action: &'a str,
    entry: &'a Entry,
}

impl Detectors {
    /// A catalogued action's first use by this agent (`catalogue`; called
    /// on first uses only). The first call of a high-impact tactic (defence
    /// evasion, destruction, new credentials) is worth a finding on its
    /// own, and is tagged. A watched action (reading a secret, listing
    /// accounts) adds nothing beyond what first use already scores
    /// (`novel_action`, with its sensitive-action rate) unless it comes
    /// from an unfamiliar context: it is returned for
    /// `watched_from_elsewhere` to judge once the call's network and client
    /// are known, and tagged when it opens its tactic. A team taking the
    /// action up together (`discount`) and an agent still settling in
    /// (`own_cap`) lower it as for any first use.
    pub(super) fn first_catalogued_use<'a>(
        &'a self,
        st: &mut AgentState,
        action: &'a str,
        discount: f32,
        own_cap: f32,
        sig: &mut Signals,
    ) -> Option<WatchedFirstUse<'a>> {
        let entry = self.catalogue.lookup(action)?;
        let bit = 1u32 << entry.tactic_bit;
        let opens_tactic = st.tactics & bit == 0;
        st.tactics |= bit;
        if opens_tactic {
            sig.attack = Some(entry.tag.clone());
        }
        if entry.class == Class::Watch {
            return Some(WatchedFirstUse {
                discount,
                own_cap,
                action,
                entry,
            });
        }
        if opens_tactic {
            score_first_use(discount, own_cap, note(action, entry, ""), sig);
        }
        None
    }

    /// A watched action's first use on a call whose network or client is
    /// itself new to the agent (a first use that scored, so not one its
    /// team took up together). Reading secrets or listing accounts for the
    /// first time is routine when a service takes up a feature, and a
    /// feature comes with the service's own deploy: its own network, its
    /// own client. The routine explanation has to explain the new context
    /// as well, and the usual one for both at once is a credential used
    /// from elsewhere (T1555, T1087 after initial access): scored as a
    /// high-impact first use. The same reasoning puts a benign surge's
    /// allowance under the context's surprise (`volume`). Only the call
    /// that brings the new context counts: recent novelty lingers for
    /// hours (after an egress move, or after an intruder left), and a
    /// roll-out read from the agent's usual place in that time is no one's
    /// arrival.
    pub(super) fn watched_from_elsewhere(&self, w: WatchedFirstUse<'_>, sig: &mut Signals) {
        let note = note(w.action, w.entry, " from an unfamiliar network or client");
        score_first_use(w.discount, w.own_cap, note, sig);
        sig.attack = Some(w.entry.tag.clone());
    }
}

/// What a scored first use says: the action, its technique and tactic,
/// and `why`.
fn note(action: &str, entry: &Entry, why: &str) -> Box<str> {
    let tag = &entry.tag;
    format!(
        "{action}: {} {} ({}){why}",
        tag.technique_uid, tag.technique, tag.tactic
    )
    .into()
}

/// Scores the first call of a tactic as high-impact, `note` saying which.
fn score_first_use(discount: f32, own_cap: f32, note: Box<str>, sig: &mut Signals) {
    let bits = (FIRST_HIGH_IMPACT_BITS - discount).min(own_cap).max(0.0);
    sig.set(Feature::CataloguedAction, bits, 1.0, 0.0);
    sig.novel_value[Feature::CataloguedAction.index()] = Some(note);
}
