//! The detectors: one pass over an event updates the agent's baselines and
//! yields a surprise per feature. Each surprise is -log10 of a tail
//! probability under the agent's own baseline (or its cohort's, at cold start).

use super::agent::{AgentState, FOREIGN_PARENT_SLOT};
use super::archetype::{self, Archetypes, MIN_SHARE};
use super::catalogue::AttackCatalogue;
use super::cohort::{Cohorts, Prior, Rarity, Teaches, SENSITIVE_KIND};
use super::config::DetectorConfig;
use super::rare_parts::NOTABLE_TTL_MS;
use super::session::{is_provider_service, network_of, ua_family};
use super::stats::{decay, fingerprint, fp_kind, normal_surprise, poisson_surprise, Ewm};
use crate::event::{CallRow, Outcome};
use crate::signal::{AttackTag, Feature, Signals};

mod family;
mod places;
mod seasonal;
mod tactics;
mod trend;
mod volume;

use family::place_fingerprint;
pub(crate) use family::resource_family;
use volume::unfamiliar_context_bits;

const MIN: f32 = 60_000.0;
use crate::event::HOUR_MS;
/// Weight of one event in the agent's baselines (after the first 500, which
/// are averaged plainly). Baselines are event-weighted on purpose: they model
/// the counters as seen at the agent's own calls, which is where they are
/// scored; weighting by elapsed time would let the first call after every
/// idle gap dominate.
const BASELINE_ALPHA: f32 = 0.002;

/// Novelty kinds, in the order of `AgentState::novelty`.
const NOVELTY_KINDS: [(Feature, u8, f32); 6] = [
    (Feature::NovelAction, fp_kind::ACTION, 1.0),
    (Feature::NovelResource, fp_kind::RESOURCE_FAMILY, 0.5),
    (Feature::NovelNetwork, fp_kind::NETWORK, 1.0),
    (Feature::NovelUserAgent, fp_kind::USER_AGENT, 0.7),
    (Feature::NovelParent, fp_kind::PARENT, 1.2),
    // Crossing into another tenant crosses an authorisation boundary: the
    // first crossing by a settled agent is worth a finding on its own.
    (Feature::NovelTenant, fp_kind::TENANT, BOUNDARY_WEIGHT),
];
/// `NOVELTY_KINDS` indices of the caller's context.
pub(super) const NETWORK_KIND: usize = 2;
pub(super) const USER_AGENT_KIND: usize = 3;
const PARENT_KIND: usize = 4;
/// Weight of a first use that crosses a team boundary: a tenant the agent
/// never called into, or a parent that other teams' agents serve and this
/// team's never did (delegation from a stranger).
const BOUNDARY_WEIGHT: f32 = 2.0;
/// Other agents of the cohort moving into places of their own within four
/// hours (`cohort::MOVE_WINDOW_MS`) that make a move team-wide (a
/// migration), not one agent's.
pub(super) const TEAM_MOVE_PEERS: usize = 2;
/// Calls after which an agent has a track record: its calls shape its
/// team's day, and its first uses and moves vouch for a team-wide change.
const ESTABLISHED_CALLS: u32 = 32;
/// Novelty evidence of one kind adds up over this time constant, so a few
/// new sensitive tools used slowly over an hour still build up.
const NOVELTY_TAU_MS: f32 = 3.0 * 3_600_000.0;
/// Most confidence the seasonal rate estimate may have (Gamma shape).
pub(super) const SEASONAL_MAX_SHAPE: f32 = 8.0;
/// Evidence the team's hour-of-day shape is worth in an agent's seasonal
/// prior, in hour slots (a day of the agent's own history brings three:
/// the hour and its two neighbours).
pub(super) const TEAM_SHAPE_SLOTS: f32 = 4.5;
/// How long a new agent is treated as settling in (see `novelty`).
pub(super) const SETTLING_MS: i64 = 24 * HOUR_MS;
/// Memory of an agent's own rate of adopting new values.
const OWN_ADOPTION_TAU_MS: f32 = 6.0 * 3_600_000.0;
/// Recent adoptions (decayed over `OWN_ADOPTION_TAU_MS`) past which an
/// agent adopting on most calls counts as spraying values (see `novelty`).
const SPRAY_ADOPTIONS: f32 = 64.0;
/// Novelty kinds (indices into `NOVELTY_KINDS`) an archetype's vocabulary
/// speaks for: actions and client families are alike across tenants;
/// resource families, networks and parents are tenant- or agent-specific.
const ARCHETYPE_KINDS: [usize; 2] = [0, 3];
/// A new agent's match must be this probable before something its
/// archetype never uses keeps its full rarity while the agent settles in.
const ARCHETYPE_CONFIDENT: f32 = 0.6;
/// Drift is signalled from this surprise (the 1 % of members farthest from
/// their centroid), and again on each further rise of a bit.
const DRIFT_MIN_BITS: f32 = 2.0;

/// What several detectors derive from one call, computed once per call.
struct Derived<'r> {
    family: Option<&'r str>,
    network: Option<std::borrow::Cow<'r, str>>,
    ua: Option<&'r str>,
    /// Fingerprints of the action and resource family (`fp_kind`;
    /// the distinct-count windows use the same ones).
    fp_action: u64,
    fp_family: Option<u64>,
    /// The call's time as its cohort may take it (`clock`).
    shared_ts: i64,
    /// Made by a cloud provider's service on the agent's behalf
    /// (`session::is_provider_service`): counted in the agent's volume,
    /// but neither its first uses nor its context are the holder's.
    service_made: bool,
}

impl<'r> Derived<'r> {
    fn of(row: &CallRow<'r>, shared_ts: i64) -> Self {
        let family = row.resource.map(resource_family);
        let service_made = row.src_ip.is_some_and(is_provider_service);
        Derived {
            family,
            network: row.src_ip.filter(|_| !service_made).map(network_of),
            ua: row.user_agent.filter(|_| !service_made).map(ua_family),
            fp_action: fingerprint(fp_kind::ACTION, row.action),
            fp_family: family.map(place_fingerprint),
            shared_ts,
            service_made,
        }
    }
}

/// Slot of `AgentState::own_by_kind` a first use counts in: the kind the
/// cohort's adoption rates use (`kind_idx`: sensitive actions apart), except
/// a parent its team never served (one other teams' agents serve), which is
/// a rarer event than an ordinary new parent and is judged by its own rate.
fn own_slot(kind_idx: usize, elsewhere: bool) -> usize {
    if kind_idx == PARENT_KIND && elsewhere {
        FOREIGN_PARENT_SLOT
    } else {
        kind_idx
    }
}
/// What `novelty` learned about a call beyond its signals.
#[derive(Default)]
struct NoveltyOutcome {
    /// The caller's context (network or user agent) is unfamiliar.
    ctx_novel: bool,
    /// The call is the agent's first into a place of its own (a resource
    /// family its peers do not use and are not moving into together).
    new_place: bool,
}

/// Stateless scoring rules built from the config; the state is the agent's.
pub(crate) struct Detectors {
    sensitive: Vec<String>,
    distinct_window_ms: i64,
    rate_min_sd: f32,
    archetypes: Option<std::sync::Arc<Archetypes>>,
    catalogue: std::sync::Arc<AttackCatalogue>,
}

impl Detectors {
    pub fn new(cfg: &DetectorConfig, archetypes: Option<std::sync::Arc<Archetypes>>) -> Self {
        Detectors {
            archetypes,
            sensitive: cfg
                .sensitive_actions
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            distinct_window_ms: cfg.distinct_window_seconds as i64 * 1000,
            rate_min_sd: cfg.rate_min_sd,
            catalogue: AttackCatalogue::shipped(),
        }
    }

    /// Uses `catalogue` (the shipped one plus a team's own).
    pub(crate) fn set_catalogue(&mut self, catalogue: std::sync::Arc<AttackCatalogue>) {
        self.catalogue = catalogue;
    }

    /// The ATT&CK tag of `action`, if catalogued.
    pub(crate) fn attack_tag(&self, action: &str) -> Option<AttackTag> {
        self.catalogue.lookup(action).map(|e| e.tag.clone())
    }

    pub(crate) fn is_sensitive(&self, action: &str) -> bool {
        let lower = action.to_ascii_lowercase();
        self.sensitive.iter().any(|s| lower.contains(s.as_str()))
    }

    /// Scores `row` against `st` and folds it into `st`. `shared_ts` is the
    /// call's time as the cohort may take it (see `clock`).
    pub(crate) fn observe(
        &self,
        st: &mut AgentState,
        cohorts: &mut Cohorts,
        row: &CallRow,
        shared_ts: i64,
        sig: &mut Signals,
    ) {
        let ts = row.ts_ms;
        let first = st.events == 0;
        let derived = Derived::of(row, shared_ts);
        match (&self.archetypes, first) {
            (Some(m), true) => seed_from_archetype(m, st, &derived),
            (None, true) => self.seed_from_cohort(st, cohorts),
            (Some(m), false) => rematch_under(m, st, ts),
            (None, false) => {}
        }
        let dt = if first { 0 } else { ts - st.last_ts };
        if ts > st.last_ts {
            st.last_ts = ts;
        }
        let alpha = BASELINE_ALPHA;
        cohorts.observe(st.cohort, shared_ts, st.events >= ESTABLISHED_CALLS);
        // Counters first, so the surge can leave this agent's own calls out.
        st.c1m = st.c1m * decay(dt, MIN) + 1.0;
        st.c15m = st.c15m * decay(dt, 15.0 * MIN) + 1.0;
        let surge = cohorts.get(st.cohort).surge(st.c15m);

        // Novelty evidence decays once per call, before the volume
        // detectors read the context part of it and `novelty` adds to it.
        let d_novelty = decay(dt, NOVELTY_TAU_MS);
        for n in &mut st.novelty {
            *n *= d_novelty;
        }

        let cohort = cohorts.get(st.cohort);
        let bytes_spread = [Prior::BytesShort, Prior::BytesLong].map(|p| cohort.member_spread(p));
        let team_share = cohort.day_share(ts.div_euclid(HOUR_MS));
        let ctx = unfamiliar_context_bits(st);
        self.rate(st, alpha, surge, team_share.unwrap_or(1.0), ctx, sig);
        // The team's activity now is only read while its day is unknown.
        let team = seasonal::TeamHour {
            share: team_share,
            busy_now: team_share.map_or_else(|| cohort.busy_now(st.c15m), |_| None),
        };
        self.seasonal(st, ts, surge, team, ctx, sig);
        let novel = self.novelty(st, cohorts, row, &derived, dt, sig);
        self.new_places(st, cohorts, row, &derived, novel.new_place, dt, sig);
        self.bytes_trend(st, row, &derived, sig);
        self.distinct(st, row, &derived, alpha, sig);
        self.failures(st, row, dt, sig);
        self.volume(st, row, dt, alpha, bytes_spread, sig);
        self.session(st, row, &derived, novel.ctx_novel, sig);

        st.events = st.events.saturating_add(1);
        if let Some(m) = &self.archetypes {
            archetype_fit(m, st, ts, sig);
        }
        if st.events.is_multiple_of(64) {
            for (p, e) in [
                (Prior::Rate1m, st.rate1),
                (Prior::Rate15m, st.rate15),
                (Prior::Distinct, st.distinct),
                (Prior::BytesShort, st.bytes_s),
                (Prior::BytesLong, st.bytes_l),
            ] {
                cohorts.update_prior(st.cohort, p, e.mean);
            }
        }
        self.remember_evidence(st, row, sig);
    }

    /// Cold start: a new agent's baselines start at its cohort's typical
    /// member (with few pseudo-samples, so they are wide and adapt fast).
    fn seed_from_cohort(&self, st: &mut AgentState, cohorts: &Cohorts) {
        let priors = cohorts.get(st.cohort).priors;
        let seed = |p: Ewm| {
            if p.n < 3 {
                Ewm::default()
            } else {
                Ewm {
                    mean: p.mean,
                    var: p.var.max(0.25),
                    n: 5,
                }
            }
        };
        st.rate1 = seed(priors[Prior::Rate1m as usize]);
        st.rate15 = seed(priors[Prior::Rate15m as usize]);
        st.distinct = seed(priors[Prior::Distinct as usize]);
        st.bytes_s = seed(priors[Prior::BytesShort as usize]);
        st.bytes_l = seed(priors[Prior::BytesLong as usize]);
    }

    /// First use of a value by this agent, weighted by how rare it is among
    /// the agent's peers.
    fn novelty(
        &self,
        st: &mut AgentState,
        cohorts: &mut Cohorts,
        row: &CallRow,
        derived: &Derived<'_>,
        dt: i64,
        sig: &mut Signals,
    ) -> NoveltyOutcome {
        let values: [Option<&str>; 6] = [
            Some(row.action),
            derived.family,
            derived.network.as_deref(),
            derived.ua,
            row.parent_id,
            row.tenant,
        ];
        let known_fps = [Some(derived.fp_action), derived.fp_family];
        // An agent adopting a new value on most of its calls, dozens of
        // them lately, is spraying values: its adoptions are scored as
        // usual but not taught to its cohort.
        let spraying = st.own_adoptions > SPRAY_ADOPTIONS && st.own_adoptions > 0.5 * st.own_calls;
        let mut out = NoveltyOutcome::default();
        let mut adopted = false;
        // A watched action's first use waits for the call's context, and
        // counts when the call's own network or client is new to the agent
        // (a first use that scored: not one its team took up together).
        let mut watched = None;
        let mut ctx_fresh = false;
        let d_own = decay(dt, OWN_ADOPTION_TAU_MS);
        st.own_calls *= d_own;
        st.own_adoptions *= d_own;
        for n in &mut st.own_by_kind {
            *n *= d_own;
        }
        if derived.service_made {
            return out;
        }
        for (k, ((feature, kind, weight), value)) in NOVELTY_KINDS.iter().zip(values).enumerate() {
            let mut fresh = None;
            if let Some(v) = value {
                let fp = known_fps
                    .get(k)
                    .copied()
                    .flatten()
                    .unwrap_or_else(|| fingerprint(*kind, v));
                if st.seen.insert(fp) {
                    let sensitive = *feature == Feature::NovelAction && self.is_sensitive(v);
                    let kind_idx = if sensitive { SENSITIVE_KIND } else { k };
                    let n = cohorts.adopt(
                        st.cohort,
                        st.agent_type,
                        kind_idx,
                        fp,
                        derived.shared_ts,
                        if spraying {
                            Teaches::Nothing
                        } else if st.events >= ESTABLISHED_CALLS {
                            Teaches::All
                        } else {
                            Teaches::Prevalence
                        },
                    );
                    sig.adoptions.extend(n.recorded);
                    // An agent that is still settling in adopts values all the
                    // time: in its first day an adoption is only as surprising
                    // as the rarer of the cohort's and its own recent adoption
                    // rates allows. Afterwards its own rate is not used: a
                    // settled agent that starts adopting is the signal.
                    // The rate is the one of this kind of value: a new agent
                    // learning its tools says nothing about how often it
                    // changes tenant, parent or network, which it does not.
                    let slot = own_slot(kind_idx, n.elsewhere);
                    let own_count = st.own_by_kind[slot];
                    let settling = row.ts_ms - st.first_ts < SETTLING_MS;
                    let own = if settling {
                        -((own_count + 0.02) / (st.own_calls + 1.0)).min(1.0).log10()
                    } else {
                        f32::INFINITY
                    };
                    adopted = true;
                    st.own_by_kind[slot] += 1.0;
                    // A place of its own: not one its peers use, nor one
                    // its team is moving into together (a migration; the
                    // move is remembered so the team's other moves are
                    // told apart from one agent's).
                    if *feature == Feature::NovelResource && n.class != Rarity::Common {
                        if st.events >= ESTABLISHED_CALLS {
                            let me = fingerprint(fp_kind::AGENT, row.agent_id) as u32;
                            cohorts.moved(st.cohort, me, derived.shared_ts);
                        }
                        out.new_place = n.recent_peers < 2.0;
                    }
                    let weight = if k == PARENT_KIND && n.elsewhere {
                        BOUNDARY_WEIGHT
                    } else {
                        *weight
                    };
                    if k == 0 {
                        watched = self.first_catalogued_use(st, v, n.discount, own, sig);
                    }
                    let b = self.first_use_bits(st, k, fp, n.bits, own) * weight;
                    if b > 0.0 {
                        st.novelty[k] += b;
                        fresh = Some(v);
                    }
                }
            }
            if matches!(feature, Feature::NovelNetwork | Feature::NovelUserAgent) {
                ctx_fresh |= fresh.is_some();
                out.ctx_novel |= fresh.is_some() || st.novelty[k] > 0.5;
            }
            // Recent novelty counts only on a call that brings a new value
            // itself: lingering evidence must not re-trigger on ordinary calls.
            let acc = st.novelty[k];
            if fresh.is_some() {
                sig.set(*feature, acc, acc as f64, 0.0);
            }
            sig.novel_value[feature.index()] = fresh.map(Into::into);
        }
        if let Some(w) = watched.filter(|_| ctx_fresh) {
            self.watched_from_elsewhere(w, sig);
        }
        st.own_calls += 1.0;
        if adopted {
            st.own_adoptions += 1.0;
        }
        out
    }

    /// Rarity bits a first use counts for. While an agent settles in, its
    /// own adoption rate caps them (it adopts values all the time). With an
    /// archetype, an action or client its archetype's members commonly use
    /// is expected (capped by how common), while one none of them uses keeps
    /// its full rarity once the match is confident: a new agent used for
    /// something agents of its kind never do stands out from its first
    /// hour. The value is judged against the match as it stood before it,
    /// then moves the match, so an odd value cannot explain itself.
    fn first_use_bits(
        &self,
        st: &mut AgentState,
        kind: usize,
        fp: u64,
        cohort_bits: f32,
        own_cap: f32,
    ) -> f32 {
        let first = st.events == 0;
        let (Some(m), Some(a)) = (&self.archetypes, st.rare.archetype_mut()) else {
            return cohort_bits.min(own_cap);
        };
        if a.settled || !ARCHETYPE_KINDS.contains(&kind) {
            return cohort_bits.min(own_cap);
        }
        let bits = match m.share(a.current, fp) {
            Some(share) if share >= MIN_SHARE => cohort_bits.min(own_cap).min(-share.log10()),
            _ if m.confidence(a) >= ARCHETYPE_CONFIDENT => cohort_bits,
            _ => cohort_bits.min(own_cap),
        };
        // The first call's values already made the match (`seed_from_archetype`).
        if !first {
            m.add_evidence(a, fp);
        }
        bits
    }

    /// Distinct actions plus distinct resource families in a short window:
    /// enumeration touches many of both.
    fn distinct(
        &self,
        st: &mut AgentState,
        row: &CallRow,
        derived: &Derived<'_>,
        alpha: f32,
        sig: &mut Signals,
    ) {
        let w = self.distinct_window_ms;
        st.actions_win.insert(derived.fp_action, row.ts_ms, w);
        if let Some(fp) = derived.fp_family {
            st.families_win.insert(fp, row.ts_ms, w);
        }
        let n = st.actions_win.estimate() + st.families_win.estimate();
        let x = (1.0 + n).ln();
        let z = st.distinct.z(x, 0.3, 0.5);
        sig.set(
            Feature::DistinctBurst,
            normal_surprise(z),
            n as f64,
            (st.distinct.mean.exp() - 1.0) as f64,
        );
        st.distinct.learn(x, alpha, 0.3, 0.5);
    }

    /// Denied (and, at lower weight, errored) calls in the last ~10 minutes
    /// against the agent's usual failure share: a Poisson tail.
    fn failures(&self, st: &mut AgentState, row: &CallRow, dt: i64, sig: &mut Signals) {
        let d = decay(dt, 10.0 * MIN);
        let w = match row.outcome {
            Outcome::Success => 0.0,
            Outcome::Denied => 1.0,
            Outcome::Error => 0.3,
        };
        st.c10m_total = st.c10m_total * d + 1.0;
        st.c10m_failed = st.c10m_failed * d + w;
        let expected = st.c10m_total * (st.fail_share + 0.02) + 0.5;
        sig.set(
            Feature::FailedCalls,
            poisson_surprise(st.c10m_failed, expected),
            st.c10m_failed as f64,
            expected as f64,
        );
        st.fail_share += 0.002 * (w - st.fail_share);
    }

    fn session(
        &self,
        st: &mut AgentState,
        row: &CallRow,
        derived: &Derived<'_>,
        ctx_novel: bool,
        sig: &mut Signals,
    ) {
        let Some(session) = row.session_id.filter(|_| !derived.service_made) else {
            return;
        };
        let net = derived.network.as_deref();
        let ctx = (fingerprint(fp_kind::SESSION_NETWORK, net.unwrap_or(""))
            ^ fingerprint(fp_kind::SESSION_CLIENT, derived.ua.unwrap_or("")))
            as u32;
        let c = st.sessions.observe(
            crate::engine::session::session_key(session),
            ctx,
            ctx_novel,
            row.ts_ms,
        );
        let per_switch = if c.unfamiliar { 2.5 } else { 0.5 };
        let cap = if c.unfamiliar { 14.0 } else { 3.0 };
        let s = (c.switches as f32 * per_switch).min(cap);
        sig.set(Feature::SessionConcurrency, s, c.switches as f64, 0.0);
        if c.switches > 0 {
            let ua = derived.ua.unwrap_or("-");
            let net = net.unwrap_or("-");
            let which = if c.unfamiliar {
                "one of them new to the agent"
            } else {
                "both known"
            };
            sig.novel_value[Feature::SessionConcurrency.index()] =
                Some(format!("session alternates between two contexts ({which}); this call from {net} via {ua}").into());
        }
    }

    fn remember_evidence(&self, st: &mut AgentState, row: &CallRow, sig: &Signals) {
        if st.rare.notable().is_some_and(|n| {
            n.ids
                .last()
                .is_some_and(|(t, _)| row.ts_ms - t > NOTABLE_TTL_MS)
        }) {
            st.rare.forget_notable();
        }
        if sig.max_surprise() >= 2.0 {
            let id = match row.event_id {
                Some(id) => id.to_string(),
                None => format!("{}@{}", row.agent_id, row.ts_ms),
            };
            st.rare.notable_or_default().push(row.ts_ms, &id);
        }
    }
}

/// A new agent with an archetype model: matched from its type, first action
/// and client, and its baselines start at that archetype's typical member.
fn seed_from_archetype(m: &Archetypes, st: &mut AgentState, d: &Derived<'_>) {
    let mut a = m.start(st.agent_type);
    m.add_evidence(&mut a, d.fp_action);
    if let Some(ua) = d.ua {
        m.add_evidence(&mut a, fingerprint(fp_kind::USER_AGENT, ua));
    }
    let b = m.seed_baselines(a.current);
    st.rate1 = archetype::seed(&b.log_calls_1m);
    st.rate15 = archetype::seed(&b.log_calls_15m);
    st.distinct = archetype::seed(&b.log_distinct);
    st.bytes_s = archetype::seed(&b.log_bytes_5m);
    st.bytes_l = archetype::seed(&b.log_bytes_2h);
    st.rare.set_archetype(a);
}

/// State made without this model (restored from a run with none, or with
/// another model): a settled agent is bound to its nearest archetype now, a
/// settling one starts matching from its type.
fn rematch_under(m: &Archetypes, st: &mut AgentState, ts: i64) {
    if st.rare.archetype().is_some_and(|a| m.fits(a)) {
        return;
    }
    let mut a = m.start(st.agent_type);
    if ts - st.first_ts >= SETTLING_MS {
        m.settle(&mut a, &st.profile_vector());
    }
    st.rare.set_archetype(a);
}

/// After a day an agent is bound to the archetype nearest its profile;
/// from then on, every 64 calls, a profile beyond what the archetype's
/// members span is signalled (once per further bit of surprise).
fn archetype_fit(m: &Archetypes, st: &mut AgentState, ts: i64, sig: &mut Signals) {
    let Some(settled) = st.rare.archetype().map(|a| a.settled) else {
        return;
    };
    if !settled {
        if ts - st.first_ts >= SETTLING_MS {
            let v = st.profile_vector();
            if let Some(a) = st.rare.archetype_mut() {
                m.settle(a, &v);
            }
        }
        return;
    }
    if !st.events.is_multiple_of(64) {
        return;
    }
    let v = st.profile_vector();
    let Some(a) = st.rare.archetype_mut() else {
        return;
    };
    let d = m.distance(a.current, &v);
    let s = m.drift_surprise(a.current, d);
    if s < a.drift_signalled - 2.0 {
        // Back among its archetype's members: a later drift signals anew.
        a.drift_signalled = s;
    }
    if s >= DRIFT_MIN_BITS && s >= a.drift_signalled + 1.0 {
        a.drift_signalled = s;
        let near = m.nearest(&v).0;
        let typical = m.model().archetypes[a.current as usize]
            .member_distances
            .p90;
        sig.set(Feature::ArchetypeDrift, s, d as f64, typical as f64);
        sig.novel_value[Feature::ArchetypeDrift.index()] = Some(
            if near == a.current {
                format!("far from archetype {}", m.label(a.current))
            } else {
                format!(
                    "from archetype {} toward {}",
                    m.label(a.current),
                    m.label(near)
                )
            }
            .into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_matching_is_case_insensitive() {
        let d = Detectors::new(&DetectorConfig::default(), None);
        assert!(d.is_sensitive("iam:CreateAccessKey"));
        assert!(d.is_sensitive("secretsmanager:GetSecretValue"));
        assert!(!d.is_sensitive("s3:GetObject"));
    }
}
