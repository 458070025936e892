//! What each identity was seen doing: one pass over the calls, bounded per
//! identity so that hostile cardinalities (an identity minting a credential
//! or an action name per call) cost a counter, not memory.

use crate::engine::{network_of, resource_family, ua_family};
use crate::event::{AgentType, CallRow, Outcome, DAY_MS};
use crate::keyed::KeyedMap;
use rustc_hash::FxHashMap;

/// Distinct values kept per identity and kind; the rest are counted.
pub const MAX_ACTIONS: usize = 4096;
/// Credentials (sessions, access keys) kept per identity.
pub const MAX_CREDENTIALS: usize = 1024;
/// Resource families, networks, client families and parents per identity.
pub const MAX_PLACES: usize = 256;
/// Identities a credential is remembered with (enough to call it shared).
pub const MAX_SHARERS: usize = 16;
/// Days with calls kept per identity (its activity over time).
pub const MAX_DAYS: usize = 1024;

/// Use of one value (an action, a credential, a network...) by an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Use {
    /// Calls.
    pub calls: u64,
    /// Of which denied.
    pub denied: u64,
    /// First call (ms since the epoch).
    pub first_ms: i64,
    /// Last call.
    pub last_ms: i64,
    /// Last call that was not denied.
    pub last_allowed_ms: Option<i64>,
}

impl Use {
    fn new(ts: i64) -> Self {
        Use {
            calls: 0,
            denied: 0,
            first_ms: ts,
            last_ms: ts,
            last_allowed_ms: None,
        }
    }

    fn add(&mut self, ts: i64, denied: bool) {
        self.calls += 1;
        self.denied += u64::from(denied);
        self.first_ms = self.first_ms.min(ts);
        self.last_ms = self.last_ms.max(ts);
        if !denied {
            self.last_allowed_ms = Some(self.last_allowed_ms.map_or(ts, |l| l.max(ts)));
        }
    }

    /// Calls that were not denied.
    pub fn allowed(&self) -> u64 {
        self.calls - self.denied
    }
}

/// A bounded map from value to its use.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Uses {
    /// The values kept, hashed with random keys: the values are written
    /// by callers (`crate::keyed`). Written in value order.
    #[serde(serialize_with = "crate::keyed::serialize_sorted")]
    pub values: KeyedMap<Box<str>, Use>,
    /// Calls whose value was not kept (the bound was reached).
    pub overflowed: u64,
}

impl Uses {
    /// Returns whether `value` is new to the map (and was kept).
    fn add(&mut self, value: &str, ts: i64, denied: bool, cap: usize) -> bool {
        if let Some(u) = self.values.get_mut(value) {
            u.add(ts, denied);
            false
        } else if self.values.len() < cap {
            let mut u = Use::new(ts);
            u.add(ts, denied);
            self.values.insert(value.into(), u);
            true
        } else {
            self.overflowed += 1;
            false
        }
    }

    /// Values, most recently used first (ties by name).
    pub fn sorted(&self) -> Vec<(&str, &Use)> {
        let mut v: Vec<_> = self.values.iter().map(|(k, u)| (&**k, u)).collect();
        v.sort_by(|a, b| b.1.last_ms.cmp(&a.1.last_ms).then(a.0.cmp(b.0)));
        v
    }
}

/// Everything seen of one identity.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// What kind of identity the records say it is (the last one seen).
    pub agent_type: AgentType,
    /// Tenant (account, namespace), when the records name one.
    pub tenant: Option<Box<str>>,
    /// All its calls.
    pub total: Use,
    /// Actions.
    pub actions: Uses,
    /// Credentials or sessions it used.
    pub credentials: Uses,
    /// Resource families (the place part of each resource).
    pub resource_families: Uses,
    /// Source networks.
    pub networks: Uses,
    /// Client (user-agent) families.
    pub clients: Uses,
    /// Identities it acted for (delegation parents).
    pub parents: Uses,
    /// Calls per UTC day (day number since the epoch): when it worked.
    pub days: FxHashMap<i64, u64>,
}

impl Identity {
    /// Share of its calls made at or after `ts` (by whole days: the day
    /// holding `ts` counts by the part of it after `ts`).
    pub fn share_after(&self, ts: i64) -> f64 {
        let total: u64 = self.days.values().sum();
        if total == 0 {
            return 0.0;
        }
        let day = ts.div_euclid(DAY_MS);
        let part = 1.0 - ts.rem_euclid(DAY_MS) as f64 / DAY_MS as f64;
        let after: f64 = self
            .days
            .iter()
            .map(|(&d, &n)| match d.cmp(&day) {
                std::cmp::Ordering::Greater => n as f64,
                std::cmp::Ordering::Equal => n as f64 * part,
                std::cmp::Ordering::Less => 0.0,
            })
            .sum();
        after / total as f64
    }
}

/// What one call taught about its identity, beyond counts and times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Learned {
    /// An action it had not used before.
    pub action: bool,
    /// A credential it had not used before.
    pub credential: bool,
    /// Another new value: a network, client, resource family, parent, its
    /// type or tenant.
    pub other: bool,
}

impl Learned {
    /// Anything new at all.
    pub fn any(&self) -> bool {
        self.action || self.credential || self.other
    }
}

impl Identity {
    pub(crate) fn new(ts: i64, agent_type: AgentType) -> Self {
        Identity {
            agent_type,
            tenant: None,
            total: Use::new(ts),
            actions: Uses::default(),
            credentials: Uses::default(),
            resource_families: Uses::default(),
            networks: Uses::default(),
            clients: Uses::default(),
            parents: Uses::default(),
            days: FxHashMap::default(),
        }
    }

    /// Takes in one of its calls.
    pub(crate) fn add(&mut self, row: &CallRow<'_>) -> Learned {
        let ts = row.ts_ms;
        let mut learned = Learned::default();
        let denied = row.outcome == Outcome::Denied;
        self.total.add(ts, denied);
        if row.agent_type != AgentType::Unknown && row.agent_type != self.agent_type {
            self.agent_type = row.agent_type;
            learned.other = true;
        }
        if let Some(t) = row.tenant.filter(|t| !t.is_empty()) {
            if self.tenant.as_deref() != Some(t) {
                self.tenant = Some(t.into());
                learned.other = true;
            }
        }
        let day = ts.div_euclid(DAY_MS);
        if let Some(n) = self.days.get_mut(&day) {
            *n += 1;
        } else if self.days.len() < MAX_DAYS {
            self.days.insert(day, 1);
        }
        learned.action = self.actions.add(row.action, ts, denied, MAX_ACTIONS);
        if let Some(r) = row.resource.filter(|r| !r.is_empty()) {
            learned.other |= self
                .resource_families
                .add(resource_family(r), ts, denied, MAX_PLACES);
        }
        if let Some(ip) = row.src_ip.filter(|s| !s.is_empty()) {
            learned.other |= self.networks.add(&network_of(ip), ts, denied, MAX_PLACES);
        }
        if let Some(ua) = row.user_agent.filter(|s| !s.is_empty()) {
            learned.other |= self.clients.add(ua_family(ua), ts, denied, MAX_PLACES);
        }
        if let Some(p) = row.parent_id.filter(|s| !s.is_empty()) {
            learned.other |= self.parents.add(p, ts, denied, MAX_PLACES);
        }
        if let Some(c) = row.session_id.filter(|s| !s.is_empty()) {
            learned.credential = self.credentials.add(c, ts, denied, MAX_CREDENTIALS);
        }
        learned
    }
}

/// The observations of a whole input.
#[derive(Debug, Default)]
pub struct Observed {
    /// By identity id (caller-written, so hashed with random keys).
    pub identities: KeyedMap<Box<str>, Identity>,
    /// For each credential, the identities that used it (bounded).
    pub credential_users: KeyedMap<Box<str>, Vec<Box<str>>>,
    /// Calls after `--as-of`, left out.
    pub after_as_of: u64,
    /// Calls of identities past the identity bound, left out.
    pub identities_overflowed: u64,
    /// Credentials past the credential index's bound (not checked for sharing).
    pub credentials_overflowed: u64,
    max_identities: usize,
    as_of_ms: Option<i64>,
}

impl Observed {
    /// Observes up to `max_identities` identities, leaving out calls after
    /// `as_of_ms` when given.
    pub fn new(max_identities: usize, as_of_ms: Option<i64>) -> Self {
        Observed {
            max_identities,
            as_of_ms,
            ..Default::default()
        }
    }

    /// Takes in one call.
    pub fn add(&mut self, row: &CallRow<'_>) {
        let ts = row.ts_ms;
        if self.as_of_ms.is_some_and(|a| ts > a) {
            self.after_as_of += 1;
            return;
        }
        let n = self.identities.len();
        let who = match self.identities.get_mut(row.agent_id) {
            Some(i) => i,
            None if n < self.max_identities => self
                .identities
                .entry(row.agent_id.into())
                .or_insert_with(|| Identity::new(ts, row.agent_type)),
            None => {
                self.identities_overflowed += 1;
                return;
            }
        };
        let learned = who.add(row);
        if learned.credential {
            if let Some(c) = row.session_id {
                self.note_credential(c, row.agent_id);
            }
        }
    }

    fn note_credential(&mut self, credential: &str, identity: &str) {
        if let Some(users) = self.credential_users.get_mut(credential) {
            if users.len() < MAX_SHARERS && !users.iter().any(|u| &**u == identity) {
                users.push(identity.into());
            }
        } else if self.credential_users.len() < self.max_identities.saturating_mul(4) {
            self.credential_users
                .insert(credential.into(), vec![identity.into()]);
        } else {
            self.credentials_overflowed += 1;
        }
    }

    /// Children of each identity: who acted for it, with how many calls.
    pub fn children(&self) -> KeyedMap<&str, Vec<(&str, u64)>> {
        let mut out: KeyedMap<&str, Vec<(&str, u64)>> = KeyedMap::default();
        for (id, who) in &self.identities {
            for (parent, u) in &who.parents.values {
                out.entry(&**parent).or_default().push((&**id, u.calls));
            }
        }
        for v in out.values_mut() {
            v.sort();
        }
        out
    }

    /// The earliest and latest call kept.
    pub fn span(&self) -> Option<(i64, i64)> {
        let first = self.identities.values().map(|i| i.total.first_ms).min()?;
        let last = self.identities.values().map(|i| i.total.last_ms).max()?;
        Some((first, last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::CallEvent;
    use std::borrow::Cow;

    fn call(agent: &str, ts: i64, action: &str, session: &str) -> CallEvent<'static> {
        CallEvent {
            ts_ms: ts,
            agent_id: Cow::Owned(agent.into()),
            action: Cow::Owned(action.into()),
            session_id: Some(Cow::Owned(session.into())),
            ..CallEvent::default()
        }
    }

    fn observe(events: &[CallEvent<'_>], max: usize) -> Observed {
        let batch = crate::event::CallBatchBuilder::batch_of(events);
        let cols = crate::event::CallColumns::new(&batch).unwrap();
        let mut o = Observed::new(max, None);
        for i in 0..cols.len() {
            o.add(&cols.row(i));
        }
        o
    }

    #[test]
    fn a_credential_used_by_two_identities_is_remembered_with_both() {
        let o = observe(
            &[
                call("a", 1, "s3:GetObject", "K1"),
                call("b", 2, "s3:GetObject", "K1"),
                call("b", 3, "s3:PutObject", "K2"),
            ],
            10,
        );
        assert_eq!(o.credential_users["K1"].len(), 2);
        assert_eq!(o.credential_users["K2"].len(), 1);
        let b = &o.identities["b"];
        assert_eq!(b.actions.values["s3:PutObject"].last_ms, 3);
        assert_eq!(
            (b.total.first_ms, b.total.last_ms, b.total.calls),
            (2, 3, 2)
        );
    }

    #[test]
    fn hostile_cardinalities_are_bounded_and_counted() {
        let events: Vec<_> = (0..(MAX_ACTIONS as i64 + 50))
            .map(|i| call("a", i, &format!("svc:Act{i}"), &format!("S{i}")))
            .chain((0..20).map(|i| call(&format!("x{i}"), 1, "svc:Act", "S")))
            .collect();
        let o = observe(&events, 5);
        let a = &o.identities["a"];
        assert_eq!(a.actions.values.len(), MAX_ACTIONS);
        assert_eq!(a.actions.overflowed, 50);
        assert_eq!(a.credentials.values.len(), MAX_CREDENTIALS);
        assert_eq!(o.identities.len(), 5);
        assert_eq!(o.identities_overflowed, 16);
    }
}
