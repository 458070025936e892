//! Which rules one call has to be evaluated against. Most guardrails can
//! only hold for a few calls, and the index finds those without walking
//! every rule:
//!
//! - a rule whose scope names actions, by action;
//! - else, by the first top-level `attr == "literal"` conjunct (a hash
//!   lookup of the call's `attr`);
//! - else, by the longest literal run of the first top-level `attr like
//!   "…"` conjunct: one Aho-Corasick pass over the call's `attr` finds
//!   every such rule whose literal it contains;
//! - the rest are looked at for every call.
//!
//! Each skip is sound because a false (or erroring) top-level conjunct
//! makes the whole rule false, whatever the other conjuncts say.

use super::compile::{self, ActionScope, Compiled, Guard};
use super::eval;
use super::model::PolicyCall;
use aho_corasick::AhoCorasick;
use rustc_hash::FxHashMap;

/// The rules of one set, indexed (rules are numbered in file order).
#[derive(Default)]
pub(crate) struct RuleIndex {
    by_action: FxHashMap<String, Vec<u32>>,
    /// One map per attribute guarded on.
    guarded: Vec<(Guard, FxHashMap<String, Vec<u32>>)>,
    /// One automaton per attribute.
    by_literal: Vec<LiteralIndex>,
    unguarded: Vec<u32>,
}

struct LiteralIndex {
    attr: Guard,
    automaton: AhoCorasick,
    /// The rules needing each pattern, by pattern id.
    rules: Vec<Vec<u32>>,
}

/// Each distinct literal of one attribute, with the rules that need it.
type Literals = Vec<(String, Vec<u32>)>;

/// Builds a `RuleIndex` one rule at a time.
#[derive(Default)]
pub(crate) struct IndexBuilder {
    index: RuleIndex,
    /// Per attribute.
    literals: Vec<(Guard, Literals)>,
}

impl IndexBuilder {
    /// Files rule `idx` under the cheapest key its conditions allow.
    pub(crate) fn add(&mut self, idx: u32, rule: &Compiled) {
        let ix = &mut self.index;
        if let ActionScope::OneOf(list) = &rule.action {
            let mut list = list.clone();
            list.sort_unstable();
            list.dedup();
            for a in list {
                ix.by_action.entry(a).or_default().push(idx);
            }
        } else if let Some((g, value)) = compile::guard(rule) {
            let at = match ix.guarded.iter().position(|(h, _)| *h == g) {
                Some(at) => at,
                None => {
                    ix.guarded.push((g, FxHashMap::default()));
                    ix.guarded.len() - 1
                }
            };
            ix.guarded[at].1.entry(value).or_default().push(idx);
        } else if let Some((g, lit)) = compile::literal_guard(rule) {
            let at = match self.literals.iter().position(|(h, _)| *h == g) {
                Some(at) => at,
                None => {
                    self.literals.push((g, Vec::new()));
                    self.literals.len() - 1
                }
            };
            let lits = &mut self.literals[at].1;
            match lits.iter_mut().find(|(l, _)| *l == lit) {
                Some((_, rules)) => rules.push(idx),
                None => lits.push((lit, vec![idx])),
            }
        } else {
            ix.unguarded.push(idx);
        }
    }

    pub(crate) fn build(mut self) -> RuleIndex {
        for (attr, lits) in self.literals {
            match AhoCorasick::new(lits.iter().map(|(l, _)| l)) {
                Ok(automaton) => self.index.by_literal.push(LiteralIndex {
                    attr,
                    automaton,
                    rules: lits.into_iter().map(|(_, r)| r).collect(),
                }),
                // Too large an automaton: evaluate those rules for every
                // call instead (slower, never wrong).
                Err(_) => {
                    for (_, rules) in lits {
                        self.index.unguarded.extend(rules);
                    }
                }
            }
        }
        self.index.unguarded.sort_unstable();
        self.index
    }
}

/// Scratch for `RuleIndex::candidates`, kept between calls.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    candidates: Vec<u32>,
    /// Patterns already found in this call's attribute.
    found: Vec<bool>,
}

impl RuleIndex {
    /// The rules `call` may satisfy, in file order, each once.
    pub(crate) fn candidates<'s>(&self, call: &PolicyCall<'_>, s: &'s mut Scratch) -> &'s [u32] {
        let c = &mut s.candidates;
        c.clear();
        c.extend_from_slice(&self.unguarded);
        let mut sorted = true;
        let mut add = |c: &mut Vec<u32>, list: &[u32]| {
            if !list.is_empty() {
                sorted &= c.is_empty();
                c.extend_from_slice(list);
            }
        };
        if let Some(list) = self.by_action.get(call.row.action) {
            add(c, list);
        }
        for (g, index) in &self.guarded {
            if let Some(list) = eval::guard_value(*g, call).and_then(|v| index.get(v)) {
                add(c, list);
            }
        }
        for ix in &self.by_literal {
            let Some(text) = eval::guard_value(ix.attr, call) else {
                continue;
            };
            s.found.clear();
            s.found.resize(ix.rules.len(), false);
            let Ok(matches) = ix.automaton.try_find_overlapping_iter(text) else {
                // Not expected (the automaton is built for overlapping
                // search); every rule of the index stays a candidate.
                ix.rules.iter().for_each(|r| add(c, r));
                continue;
            };
            for m in matches {
                let p = m.pattern().as_usize();
                if !s.found[p] {
                    s.found[p] = true;
                    add(c, &ix.rules[p]);
                }
            }
        }
        if !sorted {
            c.sort_unstable();
            c.dedup();
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PolicySet, Source};
    use crate::decide::policy::PolicyCall;
    use crate::event::CallRow;

    fn set(text: &str) -> PolicySet {
        let src = Source {
            name: "t.cedar".into(),
            text: text.into(),
        };
        PolicySet::compile(&[src], Default::default()).unwrap()
    }

    #[test]
    fn each_rule_is_filed_under_its_cheapest_key() {
        let ps = set(r#"
@id("a") forbid (principal, action == Action::"s3:GetObject", resource);
@id("b") forbid (principal, action, resource) when { context.service == "iam" };
@id("c") forbid (principal, action, resource) when { context has resource && context.resource like "*secret*" };
@id("d") forbid (principal, action, resource) when { context has resource && context.resource like "*secret*/x/*" };
@id("e") forbid (principal, action, resource) when { context.hour < 3 };
"#);
        let ix = &ps.index;
        assert_eq!(ix.by_action["s3:GetObject"], [0]);
        assert_eq!(ix.guarded.len(), 1);
        assert_eq!(
            ix.by_literal.len(),
            1,
            "both `like` rules read the resource"
        );
        assert_eq!(
            ix.by_literal[0].rules,
            [vec![2, 3]],
            "one pattern, `secret`"
        );
        assert_eq!(ix.unguarded, [4]);
    }

    #[test]
    fn a_hostile_attribute_finds_each_rule_once() {
        let ps = set(r#"
@id("a") forbid (principal, action, resource) when { context has resource && context.resource like "*ab*" };
@id("b") forbid (principal, action, resource) when { context has resource && context.resource like "*ba*" };
@id("c") forbid (principal, action, resource) when { context has resource && context.resource like "*zz*" };
"#);
        let resource = "ab".repeat(50_000);
        let row = CallRow {
            action: "s3:GetObject",
            resource: Some(&resource),
            ..CallRow::default()
        };
        let call = PolicyCall::new(&row, "c", None);
        let mut s = super::Scratch::default();
        assert_eq!(ps.index.candidates(&call, &mut s), [0, 1]);
    }
}
