//! The detection engine: per-agent baselines, per-event scoring, decisions.
//! It reads call events only as Arrow batches (`event::call_schema`), so the
//! replay and the streaming service share this one code path.

mod agent;
pub(crate) mod archetype;
mod bytes_trend;
mod catalogue;
mod clock;
mod cohort;
mod config;
mod detect;
mod fresh_places;
mod global;
mod hour_profile;
mod rare_parts;
mod session;
mod shape;
pub(crate) mod sharded;
pub mod snapshot;
pub mod stats;

pub(crate) use agent::AgentState;
pub use catalogue::AttackCatalogue;
pub use config::{CohortKey, DetectionConfig, DetectorConfig, EngineConfig};
pub(crate) use detect::resource_family;
pub(crate) use session::{network_of, ua_family};

use crate::decide::policy::{Matches, PolicyCall, PolicySet};
use crate::decide::{Decider, Decision, DecisionInput, FindingActivity, SuppressionSet};
use crate::event::{CallColumns, CallRow};
use crate::signal::{combine, Feature, RiskHistogram, Signals, FEATURE_COUNT};
use agent::AgentTable;
use archetype::{ArchetypeModel, Archetypes, ModelError};
use arrow_array::RecordBatch;
use clock::Tick;
use cohort::Cohorts;
use detect::Detectors;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
/// Why the engine could not be built or fed.
pub enum EngineError {
    #[error("input batch does not have the call-event layout: {0}")]
    /// A batch does not have the call-event layout.
    Schema(#[from] arrow_schema::ArrowError),
    #[error(transparent)]
    /// An archetype model could not be loaded.
    Model(#[from] ModelError),
    #[error(transparent)]
    /// The suppressions file could not be loaded.
    Suppressions(#[from] crate::decide::suppress::SuppressFileError),
    #[error(transparent)]
    /// The guardrail policies could not be loaded.
    Policies(#[from] crate::decide::policy::PolicyError),
}

/// Running totals, for logs, metrics and the replay report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineCounters {
    /// Calls scored.
    pub events: u64,
    /// Findings created.
    pub findings_created: u64,
    /// Finding updates.
    pub findings_updated: u64,
    /// Findings closed after their episode went quiet.
    pub findings_closed: u64,
    /// Closed findings raised again within `episode_reopen_minutes`.
    pub findings_reopened: u64,
    /// Revocations decided.
    pub revocations: u64,
    /// Calls whose finding suppressions covered (one suppressed finding is
    /// recorded per run of them).
    pub findings_suppressed: u64,
    /// Guardrail policy violations (one per violating call and rule).
    pub policy_violations: u64,
    /// Agents evicted to stay within `max_agents`.
    pub agents_evicted: u64,
    /// Of those, agents still on probation (new identities with few calls).
    pub agents_evicted_on_probation: u64,
    /// New agents put in their type's fallback cohort because
    /// `max_cohorts` was reached.
    pub cohorts_overflowed: u64,
    /// Cohorts whose agents came on more than one input partition
    /// (`cohort::Home`): on a stream, each member holds a sample of them.
    pub cohorts_split: u64,
}

impl EngineCounters {
    /// The totals of engines that scored parts of one input.
    pub fn sum(all: impl IntoIterator<Item = EngineCounters>) -> EngineCounters {
        all.into_iter()
            .fold(EngineCounters::default(), |a, c| EngineCounters {
                events: a.events + c.events,
                findings_created: a.findings_created + c.findings_created,
                findings_updated: a.findings_updated + c.findings_updated,
                findings_closed: a.findings_closed + c.findings_closed,
                findings_reopened: a.findings_reopened + c.findings_reopened,
                revocations: a.revocations + c.revocations,
                findings_suppressed: a.findings_suppressed + c.findings_suppressed,
                policy_violations: a.policy_violations + c.policy_violations,
                agents_evicted: a.agents_evicted + c.agents_evicted,
                agents_evicted_on_probation: a.agents_evicted_on_probation
                    + c.agents_evicted_on_probation,
                cohorts_overflowed: a.cohorts_overflowed + c.cohorts_overflowed,
                cohorts_split: a.cohorts_split + c.cohorts_split,
            })
    }
}

/// A call that reached the decision stage, kept for `warden tune`: enough
/// to decide it again under other thresholds and detector weights.
#[derive(Debug, Clone)]
pub(crate) struct ScoredHit {
    pub agent_id: Box<str>,
    pub ts_ms: i64,
    /// Each detector's surprise before weights (`Feature::ALL` order).
    pub surprise: [f32; FEATURE_COUNT],
    /// xxh3 of the session id, 0 without one: a target is revoked once per
    /// episode.
    pub session: u64,
}

/// The detection engine: per-agent baselines and cohort priors, scoring
/// every call and deciding findings and revocations. Feed it Arrow windows of
/// calls in time order; it is deterministic for the same input and config.
pub struct Engine {
    cfg: DetectionConfig,
    /// `warden tune`: every call at or above the finding threshold.
    hits: Option<Vec<ScoredHit>>,
    /// Every call's risk (reports).
    risks: Box<RiskHistogram>,
    detectors: Detectors,
    agents: AgentTable,
    cohorts: Cohorts,
    /// Per state partition, `Cohorts::changes()` and the changes of the
    /// agent-type-wide view (or of the partition's share of it) when its
    /// shared statistics were last written (checkpoints write only what
    /// changed since).
    shared_written: rustc_hash::FxHashMap<u32, (u64, u64)>,
    /// Per owned partition, the changes to its share of the agent-type-wide
    /// view when it was last published to the fleet topic.
    fleet_published: rustc_hash::FxHashMap<u32, u64>,
    decider: Decider,
    /// Analysts' suppressions in force (`decide::suppress`).
    suppressions: Arc<SuppressionSet>,
    /// Guardrail policies in force (`decide::policy`).
    policies: Arc<PolicySet>,
    scratch_rules: Matches,
    counters: EngineCounters,
    scratch_evicted: Vec<u32>,
    scratch_decisions: Vec<Decision>,
    cohort_key: String,
    trace_agent: Option<String>,
    /// The shared clock: sweeps and cohort decay run on it, not on any one
    /// call's time (see `clock`).
    clock: clock::SharedClock,
}

/// Loads the archetype model `[engine] archetypes` names, if any; engines
/// built from one config share it.
/// The files a config names (archetype model, attack catalogue,
/// suppressions, guardrail policies), read and checked once and shared by
/// every engine built from that config: a sharded replay's engines read
/// them once, not once each.
pub(crate) struct EngineFiles {
    archetypes: Option<Arc<Archetypes>>,
    catalogue: Option<Arc<AttackCatalogue>>,
    suppressions: Option<Arc<SuppressionSet>>,
    policies: Arc<PolicySet>,
}

impl EngineFiles {
    pub(crate) fn load(cfg: &DetectionConfig) -> Result<EngineFiles, EngineError> {
        let archetypes = load_archetypes(&cfg.engine)?;
        let catalogue = cfg
            .detectors
            .attack_catalogue
            .as_deref()
            .map(AttackCatalogue::shipped_and)
            .transpose()?;
        let suppressions =
            crate::decide::suppress::load_configured(cfg.decisions.suppressions_file.as_deref())?;
        Ok(EngineFiles {
            archetypes,
            catalogue: catalogue.map(Arc::new),
            suppressions: (!suppressions.is_empty())
                .then(|| Arc::new(SuppressionSet::new(suppressions.into_iter().map(Arc::new)))),
            policies: crate::decide::policy::load_configured(
                &cfg.decisions.policy_files,
                cfg.decisions.identities_file.as_deref(),
            )?,
        })
    }
}

pub(crate) fn load_archetypes(cfg: &EngineConfig) -> Result<Option<Arc<Archetypes>>, ModelError> {
    let Some(path) = &cfg.archetypes else {
        return Ok(None);
    };
    let model = ArchetypeModel::load(path)?;
    Archetypes::new(model)
        .map(|a| Some(Arc::new(a)))
        .map_err(|reason| ModelError::Invalid {
            path: path.display().to_string(),
            reason,
        })
}

impl Engine {
    /// An engine with no archetype model (new agents start from their
    /// cohort): `[engine] archetypes` is not read here; see `from_config`.
    pub fn new(cfg: impl Into<DetectionConfig>) -> Self {
        Self::with_archetypes(cfg, None)
    }

    /// An engine as the config describes it, archetype model included.
    pub fn from_config(cfg: impl Into<DetectionConfig>) -> Result<Self, EngineError> {
        let cfg = cfg.into();
        let files = EngineFiles::load(&cfg)?;
        Ok(Self::with_files(cfg, &files))
    }

    /// An engine for `cfg` with the files it names already loaded.
    pub(crate) fn with_files(cfg: DetectionConfig, files: &EngineFiles) -> Self {
        let mut engine = Self::with_archetypes(cfg, files.archetypes.clone());
        engine.set_policies(files.policies.clone());
        if let Some(c) = &files.catalogue {
            engine.detectors.set_catalogue(c.clone());
        }
        if let Some(s) = &files.suppressions {
            engine.set_suppressions(s.clone());
        }
        engine
    }

    pub(crate) fn with_archetypes(
        cfg: impl Into<DetectionConfig>,
        archetypes: Option<Arc<Archetypes>>,
    ) -> Self {
        let cfg = cfg.into();
        Engine {
            detectors: Detectors::new(&cfg.detectors, archetypes),
            agents: AgentTable::new(cfg.engine.max_agents),
            cohorts: Cohorts::with_cap(cfg.engine.max_cohorts),
            shared_written: rustc_hash::FxHashMap::default(),
            fleet_published: rustc_hash::FxHashMap::default(),
            decider: Decider::new(cfg.decisions.clone()),
            suppressions: Arc::default(),
            policies: Arc::default(),
            scratch_rules: Matches::default(),
            counters: EngineCounters::default(),
            scratch_evicted: Vec::new(),
            scratch_decisions: Vec::new(),
            cohort_key: String::new(),
            trace_agent: None,
            clock: clock::SharedClock::default(),
            hits: None,
            risks: Box::default(),
            cfg,
        }
    }

    /// Keeps every call that reaches the decision stage (risk at or above
    /// the finding threshold) for `take_hits`.
    pub(crate) fn record_hits(&mut self) {
        self.hits = Some(Vec::new());
    }

    /// Puts `suppressions` in force from the next call on.
    pub fn set_suppressions(&mut self, suppressions: Arc<SuppressionSet>) {
        self.suppressions = suppressions;
    }

    /// Puts `policies` in force from the next call on.
    pub fn set_policies(&mut self, policies: Arc<PolicySet>) {
        self.policies = policies;
    }

    /// The guardrail policies in force.
    pub fn policies(&self) -> &Arc<PolicySet> {
        &self.policies
    }

    /// Calls scored so far by risk.
    pub(crate) fn risk_histogram(&self) -> &RiskHistogram {
        &self.risks
    }

    pub(crate) fn hits(&self) -> &[ScoredHit] {
        self.hits.as_deref().unwrap_or_default()
    }

    pub(crate) fn take_hits(&mut self) -> Vec<ScoredHit> {
        self.hits.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Logs every call of one agent with its per-feature surprises (why did
    /// or didn't it fire?).
    pub fn trace_agent(&mut self, agent_id: Option<String>) {
        self.trace_agent = agent_id;
    }

    /// The detection config it runs with.
    pub fn config(&self) -> &DetectionConfig {
        &self.cfg
    }

    /// Running totals.
    pub fn counters(&self) -> EngineCounters {
        EngineCounters {
            agents_evicted: self.agents.evicted,
            agents_evicted_on_probation: self.agents.evicted_on_probation,
            cohorts_overflowed: self.cohorts.overflowed,
            cohorts_split: self.cohorts.split,
            ..self.counters
        }
    }

    /// Every agent's state, by id (`warden train` reads their profiles).
    pub(crate) fn agent_states(&self) -> impl Iterator<Item = (&str, &AgentState)> + '_ {
        self.agents.iter()
    }

    /// Agents held now.
    pub fn agents_tracked(&self) -> usize {
        self.agents.len()
    }

    /// Bytes of per-agent state held now.
    pub fn state_bytes(&self) -> usize {
        self.agents.state_bytes()
    }

    /// Scores every event of `batch` in order; decisions go to `on_decision`
    /// as they are made (with the row that caused them).
    pub fn process_batch(
        &mut self,
        batch: &RecordBatch,
        on_decision: &mut dyn FnMut(&CallRow<'_>, &Decision),
    ) -> Result<(), EngineError> {
        let cols = CallColumns::new(batch)?;
        for i in 0..cols.len() {
            let row = cols.row(i);
            self.process_row(&row, on_decision);
        }
        Ok(())
    }

    fn cohort_key_of(&mut self, row: &CallRow<'_>) -> &str {
        CohortKey::write_key(&self.cfg.engine.cohort_keys, row, &mut self.cohort_key);
        &self.cohort_key
    }

    /// Scores one event. Public so a caller holding rows rather than batches
    /// (tests, benches) takes the same path.
    pub(crate) fn process_row(
        &mut self,
        row: &CallRow<'_>,
        on_decision: &mut dyn FnMut(&CallRow<'_>, &Decision),
    ) {
        self.process_row_in(row, 0, on_decision)
    }

    /// Scores one event that arrived on input `partition`: the agent's state
    /// belongs to that partition (see `snapshot`).
    pub(crate) fn process_row_in(
        &mut self,
        row: &CallRow<'_>,
        partition: u32,
        on_decision: &mut dyn FnMut(&CallRow<'_>, &Decision),
    ) {
        let tick = self.clock.tick(row.ts_ms);
        self.process_ticked(row, partition, &tick, on_decision);
    }

    /// Shares the agent-type-wide prevalence through `exchange` (several
    /// engines over one input, `sharded`).
    pub(crate) fn set_global_exchange(&mut self, exchange: Box<dyn global::GlobalExchange>) {
        self.cohorts.global_mut().set_exchange(exchange);
    }

    /// Moves the shared windows to input position `seq` (an engine that
    /// saw no call of its own lately still publishes its windows).
    pub(crate) fn advance_global(&mut self, seq: u64) {
        self.cohorts.global_mut().advance(seq);
    }

    /// Moves this engine to `tick` without a call of its own (the call is
    /// another engine's): quiet episodes close, shared windows turn.
    pub(crate) fn advance(
        &mut self,
        row: &CallRow<'_>,
        tick: &Tick,
        on_decision: &mut dyn FnMut(&CallRow<'_>, &Decision),
    ) {
        self.cohorts.global_mut().advance(tick.seq);
        // Once per minute of the shared clock: close the episodes that went
        // quiet. The Close goes out with the call that moved the clock on
        // (its offset is what an at-least-once consumer commits it against).
        if let Some(now) = tick.sweep {
            if self.decider.has_episodes() {
                self.scratch_decisions.clear();
                self.decider.close_quiet(now, &mut self.scratch_decisions);
                for d in &self.scratch_decisions {
                    self.counters.findings_closed += 1;
                    on_decision(row, d);
                }
            }
        }
    }

    /// Evaluates the guardrail policies on the call of agent `idx`: a
    /// violation finding (and revocation, where the rule says so) for
    /// each rule it satisfies, whatever its risk.
    fn check_policies(
        &mut self,
        row: &CallRow<'_>,
        idx: u32,
        signals: &Signals,
        score: &crate::signal::Score,
        on_decision: &mut dyn FnMut(&CallRow<'_>, &Decision),
    ) {
        let st = self.agents.state_ref(idx);
        let cohort = &self.cohorts.get(st.cohort).key;
        let session_age = match row.session_id {
            Some(s) if self.policies.reads_session_age() => {
                st.sessions.age_ms(session::session_key(s), row.ts_ms)
            }
            _ => None,
        };
        let call = PolicyCall::new(row, cohort, self.policies.identity(row.agent_id))
            .with_session_age_ms(session_age);
        self.policies.violations(&call, &mut self.scratch_rules);
        if self.scratch_rules.rules().is_empty() {
            return;
        }
        let input = DecisionInput {
            agent_idx: idx,
            agent_id: row.agent_id,
            cohort,
            row,
            signals,
            score,
            evidence_ids: &[],
        };
        self.scratch_decisions.clear();
        for rule in self.scratch_rules.rules() {
            self.counters.policy_violations += 1;
            self.decider
                .violation(&input, rule, &mut self.scratch_decisions);
        }
        for d in &self.scratch_decisions {
            if let Decision::Revocation(_) = d {
                self.counters.revocations += 1;
            }
            on_decision(row, d);
        }
    }

    /// Scores one event at `tick` of the shared clock.
    pub(crate) fn process_ticked(
        &mut self,
        row: &CallRow<'_>,
        partition: u32,
        tick: &Tick,
        on_decision: &mut dyn FnMut(&CallRow<'_>, &Decision),
    ) {
        self.counters.events += 1;
        self.advance(row, tick, on_decision);
        self.cohorts.global_mut().set_partition(partition);
        let shared_ts = tick.shared_ts;
        let mut burst = None;
        let idx = match self.agents.lookup(row.agent_id) {
            Some(i) => i,
            None => {
                let key = self.cohort_key_of(row).to_string();
                let cohort = self.cohorts.join(&key, row.agent_type);
                burst = self.cohorts.newcomer(cohort, shared_ts);
                self.cohorts.add_agent(cohort, row.agent_type, shared_ts);
                let st = AgentState::new(cohort, row.agent_type, row.ts_ms);
                self.scratch_evicted.clear();
                let idx = self
                    .agents
                    .insert(row.agent_id, st, &mut self.scratch_evicted);
                for e in self.scratch_evicted.drain(..) {
                    self.decider.forget(e);
                }
                self.cohorts.note_partition(cohort, partition);
                idx
            }
        };
        if self.agents.touch(idx, partition) {
            // The agent came on another partition than before (its calls
            // are keyed by something that changed): its cohort spans both.
            let cohort = self.agents.state_ref(idx).cohort;
            self.cohorts.note_partition(cohort, partition);
        }
        let mut signals = Signals::default();
        let st = self.agents.state(idx);
        self.detectors
            .observe(st, &mut self.cohorts, row, shared_ts, &mut signals);
        if let Some((observed, expected)) = burst {
            // Poisson tail of this many new identities in 15 minutes where
            // the cohort's day says `expected` (at least one).
            let s = stats::poisson_surprise(observed, expected.max(1.0));
            signals.set(
                Feature::NewIdentityBurst,
                s,
                observed as f64,
                expected as f64,
            );
        }
        let mut score = combine(&signals, &self.cfg.detectors.weights);
        self.risks.add(score.risk, row.label.is_some());
        if !self.policies.is_empty() {
            self.check_policies(row, idx, &signals, &score, on_decision);
        }
        if self.trace_agent.as_deref() == Some(row.agent_id) {
            let parts: Vec<String> = Feature::ALL
                .iter()
                .filter(|f| signals.surprise[f.index()] >= 0.1 || **f == Feature::SeasonalHour)
                .map(|f| {
                    format!(
                        "{}={:.1}({:.1}/{:.1})",
                        f.name(),
                        signals.surprise[f.index()],
                        signals.observed[f.index()],
                        signals.expected[f.index()]
                    )
                })
                .collect();
            tracing::info!(target: "warden::trace", agent = row.agent_id, ts = row.ts_ms, action = row.action, label = row.label.unwrap_or(""), risk = score.risk, "{}", parts.join(" "));
        }
        if score.risk < self.cfg.decisions.finding_threshold {
            return;
        }
        let mut suppressed_by = None;
        if !self.suppressions.is_empty() {
            if let Some(covered) =
                self.suppressions
                    .covering(row.agent_id, row.ts_ms, &signals, row.action)
            {
                // The evidence left once the covered contributions are
                // taken out decides: a finding on it alone, or none.
                let kept = covered.without(&signals);
                let rescored = combine(&kept, &self.cfg.detectors.weights);
                if rescored.risk < self.cfg.decisions.finding_threshold {
                    suppressed_by = Some(covered);
                } else {
                    signals = kept;
                    score = rescored;
                }
            }
        }
        if signals.attack.is_none() {
            signals.attack = self.detectors.attack_tag(row.action);
        }
        if let Some(hits) = self.hits.as_mut().filter(|_| suppressed_by.is_none()) {
            hits.push(ScoredHit {
                agent_id: row.agent_id.into(),
                ts_ms: row.ts_ms,
                surprise: signals.surprise,
                session: row
                    .session_id
                    .map_or(0, |s| xxhash_rust::xxh3::xxh3_64(s.as_bytes()).max(1)),
            });
        }
        // A flagged call is kept out of the baseline; one a suppression
        // that teaches covered counts as normal.
        let st = self.agents.state(idx);
        if !suppressed_by.as_ref().is_some_and(|c| c.teach) {
            st.forget_flagged(row);
            let cohort_of_agent = st.cohort;
            self.cohorts
                .forget_adoptions(cohort_of_agent, &signals.adoptions);
        }
        let cohort_idx = st.cohort;
        let evidence: Vec<String> = st
            .rare
            .notable()
            .map(|n| n.ids.iter().map(|(_, id)| id.to_string()).collect())
            .unwrap_or_default();
        let cohort = self.cohorts.get(cohort_idx).key.clone();
        let input = DecisionInput {
            agent_idx: idx,
            agent_id: self.agents.id(idx),
            cohort: &cohort,
            row,
            signals: &signals,
            score: &score,
            evidence_ids: &evidence,
        };
        self.scratch_decisions.clear();
        match suppressed_by {
            Some(covered) => {
                self.counters.findings_suppressed += 1;
                self.decider
                    .suppressed(&input, covered.by, &mut self.scratch_decisions)
            }
            None => self.decider.decide(&input, &mut self.scratch_decisions),
        }
        self.decider.note_clock(idx, row.ts_ms, tick.now);
        for d in &self.scratch_decisions {
            match d {
                Decision::Finding(f) if f.seq == 0 => self.counters.findings_created += 1,
                Decision::Finding(f) if f.activity == FindingActivity::Close => {
                    self.counters.findings_closed += 1
                }
                Decision::Finding(f) if f.activity == FindingActivity::Reopen => {
                    self.counters.findings_reopened += 1
                }
                Decision::Finding(_) => self.counters.findings_updated += 1,
                Decision::Revocation(_) => self.counters.revocations += 1,
                Decision::Suppressed(_) | Decision::Violation(_) => {}
            }
            on_decision(row, d);
        }
    }
}
