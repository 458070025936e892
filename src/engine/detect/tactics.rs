//! The first call of an ATT&CK tactic by an agent, from the catalogue in
//! `models/` (`catalogue`).

use super::super::agent::AgentState;
use super::super::catalogue::Class;
use super::Detectors;
use crate::signal::{Feature, Signals};

/// Bits of the first call of a high-impact ATT&CK tactic by an agent:
/// past the finding line (7.2 bits) on its own.
const FIRST_HIGH_IMPACT_BITS: f32 = 7.5;

impl Detectors {
    /// The first call of an ATT&CK tactic by this agent (`catalogue`): a
    /// high-impact tactic (defence evasion, destruction, new credentials)
    /// is worth a finding on its own. A watched one (reading a secret,
    /// listing accounts) adds nothing beyond what first use already scores
    /// (`novel_action`, with its sensitive-action rate), and is tagged. A team
    /// taking the action up together (`discount`) and an agent still
    /// settling in (`own_cap`) lower it as for any first use.
    pub(super) fn first_of_tactic(
        &self,
        st: &mut AgentState,
        action: &str,
        discount: f32,
        own_cap: f32,
        sig: &mut Signals,
    ) {
        let Some(entry) = self.catalogue.lookup(action) else {
            return;
        };
        let bit = 1u32 << entry.tactic_bit;
        if st.tactics & bit != 0 {
            return;
        }
        st.tactics |= bit;
        sig.attack = Some(entry.tag.clone());
        if entry.class == Class::Watch {
            return;
        }
        let bits = (FIRST_HIGH_IMPACT_BITS - discount).min(own_cap).max(0.0);
        sig.set(Feature::CataloguedAction, bits, 1.0, 0.0);
        sig.novel_value[Feature::CataloguedAction.index()] = Some(
            format!(
                "{action}: {} {} ({})",
                entry.tag.technique_uid, entry.tag.technique, entry.tag.tactic
            )
            .into(),
        );
    }
}
