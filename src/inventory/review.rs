//! The review: each identity's inventory entry, its flags (dormant, new,
//! unrotated, shared credential, growing action set), and its grants
//! against its use, with a least-privilege suggestion.

use super::grants::{Grant, GrantSet};
use super::observe::{Identity, Observed, Use, Uses};
use super::suggest;
use crate::event::AgentType;
use crate::keyed::KeyedMap;
use serde::Serialize;

use crate::event::DAY_MS;

/// What the review is asked.
#[derive(Debug, Clone)]
pub struct ReviewOptions {
    /// The review's "now" (default: the last call read).
    pub as_of_ms: Option<i64>,
    /// Quiet this long before `as_of`: dormant.
    pub dormant_after_ms: i64,
    /// A credential in use for longer than this: not rotated.
    pub rotate_after_ms: i64,
    /// Grants must have been used within this long before `as_of` (default:
    /// the whole input); older uses are reported as last uses.
    pub unused_after_ms: Option<i64>,
}

impl Default for ReviewOptions {
    fn default() -> Self {
        ReviewOptions {
            as_of_ms: None,
            dormant_after_ms: 7 * DAY_MS,
            rotate_after_ms: 90 * DAY_MS,
            unused_after_ms: None,
        }
    }
}

/// Something a reviewer should look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// No call for longer than the dormancy threshold.
    Dormant,
    /// Granted, but no call at all in the input.
    NeverSeen,
    /// First seen well into the window (later than the dormancy threshold
    /// after the first call read): it did not exist before.
    New,
    /// Its oldest credential still in use is older than the rotation threshold.
    Unrotated,
    /// A credential it used was used by another identity too.
    SharedCredential,
    /// Its action set grew in the second half of the window.
    ActionGrowth,
    /// Granted actions or patterns it never used.
    UnusedGrants,
}

/// One value's use, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct ValueUse {
    /// The value (an action, a network, ...).
    pub value: String,
    /// Calls.
    pub calls: u64,
    /// Of which denied.
    pub denied: u64,
    /// First call (ms).
    pub first_ms: i64,
    /// Last call (ms).
    pub last_ms: i64,
}

fn values(u: &Uses) -> Vec<ValueUse> {
    u.sorted()
        .into_iter()
        .map(|(v, u)| ValueUse {
            value: v.to_string(),
            calls: u.calls,
            denied: u.denied,
            first_ms: u.first_ms,
            last_ms: u.last_ms,
        })
        .collect()
}

/// An identity's credentials.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    /// Distinct credentials or sessions seen.
    pub seen: usize,
    /// The oldest one still in use (used after the newest one first appeared).
    pub oldest_in_use: Option<String>,
    /// Its age at `as_of` (ms): at least this, as it may predate the input.
    pub rotation_age_ms: Option<i64>,
    /// Credentials it shared, with the other identities that used them.
    pub shared: Vec<(String, Vec<String>)>,
}

/// A grant the identity did not use within the review window.
#[derive(Debug, Clone, Serialize)]
pub struct UnusedGrant {
    /// The grant as written.
    pub grant: String,
    /// Where it was granted.
    pub source: String,
    /// Its last use before the window, if the input holds one.
    pub last_used_ms: Option<i64>,
}

/// A broad grant used for only some of what it allows.
#[derive(Debug, Clone, Serialize)]
pub struct Narrowed {
    /// The grant as written.
    pub grant: String,
    /// Where it was granted.
    pub source: String,
    /// What of it was used.
    pub used: Vec<String>,
}

/// Grants against use.
#[derive(Debug, Clone, Serialize)]
pub struct GrantReview {
    /// Grants that apply (its groups' included).
    pub granted: usize,
    /// Never used in the window.
    pub unused: Vec<UnusedGrant>,
    /// Broad grants (wildcards) and the part of them used.
    pub narrowed: Vec<Narrowed>,
    /// Actions used (allowed) that no grant read covers: granted elsewhere
    /// (a resource policy, a file not given) or by what could not be resolved.
    pub used_without_grant: Vec<String>,
    /// A least-privilege replacement covering exactly what was used.
    pub suggestion: serde_json::Value,
}

fn agent_type_name<S: serde::Serializer>(t: &AgentType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.as_str())
}

/// One identity's entry.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The identity.
    pub id: String,
    /// Its kind.
    #[serde(serialize_with = "agent_type_name")]
    pub agent_type: AgentType,
    /// Tenant (account, namespace).
    pub tenant: Option<String>,
    /// Owner, when a grants file names one.
    pub owner: Option<String>,
    /// First call (ms), if any.
    pub first_seen_ms: Option<i64>,
    /// Last call (ms), if any.
    pub last_seen_ms: Option<i64>,
    /// Calls.
    pub calls: u64,
    /// Of which denied.
    pub denied: u64,
    /// Actions, most recent first.
    pub actions: Vec<ValueUse>,
    /// Actions first used in the second half of the window.
    pub actions_added: Vec<String>,
    /// Resource families.
    pub resource_families: Vec<ValueUse>,
    /// Source networks.
    pub networks: Vec<ValueUse>,
    /// Client families.
    pub clients: Vec<ValueUse>,
    /// Identities it acted for, with calls.
    pub parents: Vec<(String, u64)>,
    /// Identities that acted for it, with calls.
    pub children: Vec<(String, u64)>,
    /// Its credentials.
    pub credentials: Credentials,
    /// Values past the per-identity bounds (counted, not kept).
    pub overflowed_calls: u64,
    /// What to look at.
    pub flags: Vec<Flag>,
    /// Grants against use, when grants were given for it.
    pub grants: Option<GrantReview>,
}

/// The whole review.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// The review's "now" (ms).
    pub as_of_ms: i64,
    /// The first call read (ms).
    pub first_call_ms: i64,
    /// Start of the window grants were checked over (ms).
    pub unused_since_ms: i64,
    /// Every identity seen or granted, by id.
    pub entries: Vec<Entry>,
    /// What was read but could not be resolved or kept.
    pub notes: Vec<String>,
}

impl Inventory {
    /// How many entries carry `flag`.
    pub fn count(&self, flag: Flag) -> usize {
        self.entries
            .iter()
            .filter(|e| e.flags.contains(&flag))
            .count()
    }
}

/// Reviews what was observed against the grants.
pub fn review(observed: &Observed, grants: &GrantSet, opts: &ReviewOptions) -> Inventory {
    let (first, last) = observed.span().unwrap_or((0, 0));
    let as_of = opts.as_of_ms.unwrap_or(last);
    let unused_since = opts.unused_after_ms.map_or(first, |w| as_of - w);
    let children = observed.children();
    let mut ids: Vec<&str> = observed.identities.keys().map(|k| &**k).collect();
    ids.extend(
        grants
            .identities()
            .filter(|g| !observed.identities.contains_key(*g)),
    );
    ids.sort_unstable();
    let mut notes = grants.unresolved.clone();
    for (n, what) in [
        (observed.after_as_of, "calls after --as-of left out"),
        (
            observed.identities_overflowed,
            "calls of identities past the identity bound left out",
        ),
        (
            observed.credentials_overflowed,
            "credentials past the credential index's bound not checked for sharing",
        ),
    ] {
        if n > 0 {
            notes.push(format!("{n} {what}"));
        }
    }
    let window = Window {
        as_of,
        first,
        unused_since,
    };
    let entries = ids
        .into_iter()
        .map(|id| {
            let who = observed.identities.get(id);
            let mut e = reviewed_entry(id, who, &observed.credential_users, grants, opts, &window);
            e.children = children
                .get(id)
                .map(|c| c.iter().map(|(k, n)| (k.to_string(), *n)).collect())
                .unwrap_or_default();
            e
        })
        .collect();
    Inventory {
        as_of_ms: as_of,
        first_call_ms: first,
        unused_since_ms: unused_since,
        entries,
        notes,
    }
}

/// The times a review judges by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// The review's "now".
    pub as_of: i64,
    /// The first call read: identities first seen well after it are new.
    pub first: i64,
    /// Grants must have been used since this.
    pub unused_since: i64,
}

/// One identity's entry with its flags, owner and grants against its use
/// (children are left to the caller, who knows the other identities).
/// `credential_users` says who else used each credential.
pub(crate) fn reviewed_entry(
    id: &str,
    who: Option<&Identity>,
    credential_users: &KeyedMap<Box<str>, Vec<Box<str>>>,
    grants: &GrantSet,
    opts: &ReviewOptions,
    window: &Window,
) -> Entry {
    let mut e = match who {
        Some(who) => entry(id, who, credential_users, opts, window),
        None => never_seen(id),
    };
    e.owner = grants.owner(id).map(String::from);
    let applying = grants.for_identity(id);
    if !applying.is_empty() || grants.names(id) {
        e.grants = Some(review_grants(
            id,
            who,
            grants,
            &applying,
            window.unused_since,
        ));
        if e.grants.as_ref().is_some_and(|g| !g.unused.is_empty()) {
            e.flags.push(Flag::UnusedGrants);
        }
    }
    e.flags.sort();
    e
}

fn never_seen(id: &str) -> Entry {
    Entry {
        id: id.to_string(),
        agent_type: AgentType::Unknown,
        tenant: None,
        owner: None,
        first_seen_ms: None,
        last_seen_ms: None,
        calls: 0,
        denied: 0,
        actions: Vec::new(),
        actions_added: Vec::new(),
        resource_families: Vec::new(),
        networks: Vec::new(),
        clients: Vec::new(),
        parents: Vec::new(),
        children: Vec::new(),
        credentials: Credentials {
            seen: 0,
            oldest_in_use: None,
            rotation_age_ms: None,
            shared: Vec::new(),
        },
        overflowed_calls: 0,
        flags: vec![Flag::NeverSeen],
        grants: None,
    }
}

fn entry(
    id: &str,
    who: &Identity,
    credential_users: &KeyedMap<Box<str>, Vec<Box<str>>>,
    opts: &ReviewOptions,
    window: &Window,
) -> Entry {
    let (as_of, first) = (window.as_of, window.first);
    let mid = first + (as_of - first) / 2;
    let mut flags = Vec::new();
    if as_of - who.total.last_ms > opts.dormant_after_ms {
        flags.push(Flag::Dormant);
    }
    if who.total.first_ms - first > opts.dormant_after_ms {
        flags.push(Flag::New);
    }
    // Credentials: the oldest still in use, and any another identity used.
    // One is in use while it is used after the newest one first appeared:
    // a key replaced by a new one is retired, two keys used side by side
    // are both live.
    let newest_first = who.credentials.values.values().map(|u| u.first_ms).max();
    let in_use = |u: &Use| newest_first.is_some_and(|n| u.last_ms >= n);
    let oldest = who
        .credentials
        .values
        .iter()
        .filter(|(_, u)| in_use(u))
        .min_by(|a, b| a.1.first_ms.cmp(&b.1.first_ms).then(a.0.cmp(b.0)));
    let rotation_age = oldest.map(|(_, u)| as_of - u.first_ms);
    if rotation_age.is_some_and(|a| a > opts.rotate_after_ms) {
        flags.push(Flag::Unrotated);
    }
    let mut shared: Vec<(String, Vec<String>)> = who
        .credentials
        .values
        .keys()
        .filter_map(|c| {
            let users = credential_users.get(c)?;
            (users.len() > 1).then(|| {
                let mut others: Vec<String> = users
                    .iter()
                    .filter(|u| &***u != id)
                    .map(|u| u.to_string())
                    .collect();
                others.sort();
                (c.to_string(), others)
            })
        })
        .collect();
    shared.sort();
    if !shared.is_empty() {
        flags.push(Flag::SharedCredential);
    }
    // Growth: actions first used in the window's second half, by an
    // identity already working in the first, beyond what its own rare
    // actions explain. For a steady identity whose share q of calls fell in
    // the second half, an action used k times shows up there first with
    // probability q^k; the count of such actions has mean Σ q^k and
    // variance Σ q^k (1 - q^k). Flagged past mean + 3 sd + 1.
    let mut added: Vec<String> = Vec::new();
    if who.total.first_ms < mid {
        let q = who.share_after(mid).clamp(0.0, 1.0);
        let (mut mean, mut var) = (0.0, 0.0);
        // In name order: the map's own order changes from run to run
        // (random keys), and so would the sums' last bits.
        let mut actions: Vec<(&str, &Use)> =
            who.actions.values.iter().map(|(a, u)| (&**a, u)).collect();
        actions.sort_unstable_by_key(|(a, _)| *a);
        for (a, u) in actions {
            let p = q.powi(u.calls.min(i32::MAX as u64) as i32);
            mean += p;
            var += p * (1.0 - p);
            if u.first_ms >= mid {
                added.push(a.to_string());
            }
        }
        added.sort();
        if added.len() as f64 > mean + 3.0 * var.sqrt() + 1.0 {
            flags.push(Flag::ActionGrowth);
        }
    }
    let overflowed = [
        &who.actions,
        &who.credentials,
        &who.resource_families,
        &who.networks,
        &who.clients,
        &who.parents,
    ]
    .iter()
    .map(|u| u.overflowed)
    .sum();
    Entry {
        id: id.to_string(),
        agent_type: who.agent_type,
        tenant: who.tenant.as_deref().map(String::from),
        owner: None,
        first_seen_ms: Some(who.total.first_ms),
        last_seen_ms: Some(who.total.last_ms),
        calls: who.total.calls,
        denied: who.total.denied,
        actions: values(&who.actions),
        actions_added: added,
        resource_families: values(&who.resource_families),
        networks: values(&who.networks),
        clients: values(&who.clients),
        parents: who
            .parents
            .sorted()
            .into_iter()
            .map(|(p, u)| (p.to_string(), u.calls))
            .collect(),
        children: Vec::new(),
        credentials: Credentials {
            seen: who.credentials.values.len(),
            oldest_in_use: oldest.map(|(c, _)| c.to_string()),
            rotation_age_ms: rotation_age,
            shared,
        },
        overflowed_calls: overflowed,
        flags,
        grants: None,
    }
}

fn review_grants(
    id: &str,
    who: Option<&Identity>,
    grants: &GrantSet,
    applying: &[&Grant],
    since: i64,
) -> GrantReview {
    // Used: allowed within the window, and not taken away by a deny.
    let mut used: Vec<&str> = Vec::new();
    let mut last_allowed: Vec<(&str, i64)> = Vec::new();
    if let Some(who) = who {
        for (a, u) in &who.actions.values {
            if let Some(l) = u.last_allowed_ms {
                last_allowed.push((a, l));
                if l >= since && !grants.denied(id, a) {
                    used.push(a);
                }
            }
        }
    }
    used.sort_unstable();
    let mut unused = Vec::new();
    let mut narrowed = Vec::new();
    for g in applying {
        let covered: Vec<String> = used
            .iter()
            .filter(|a| g.allows(a))
            .map(|a| a.to_string())
            .collect();
        if covered.is_empty() {
            unused.push(UnusedGrant {
                grant: g.display.clone(),
                source: g.source.clone(),
                last_used_ms: last_allowed
                    .iter()
                    .filter(|(a, _)| g.allows(a))
                    .map(|(_, l)| *l)
                    .max(),
            });
        } else if g.is_broad() {
            narrowed.push(Narrowed {
                grant: g.display.clone(),
                source: g.source.clone(),
                used: covered,
            });
        }
    }
    let used_without_grant = used
        .iter()
        .filter(|a| !applying.iter().any(|g| g.allows(a)))
        .map(|a| a.to_string())
        .collect();
    let system = applying
        .first()
        .map(|g| g.system)
        .unwrap_or_else(|| suggest::system_of(id));
    GrantReview {
        granted: applying.len(),
        unused,
        narrowed,
        used_without_grant,
        suggestion: suggest::suggestion(id, system, &used),
    }
}
