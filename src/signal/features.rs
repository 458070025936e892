//! The features every event is scored on, and the per-event signal vector.

/// One scored aspect of behaviour. Each maps to a detector group, and each
/// group carries one weight in the config.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Feature {
    /// Calls in the last minute against the agent's expected rate.
    Rate1m,
    /// Calls in the last 15 minutes against the agent's expected rate.
    Rate15m,
    /// Calls in this hour of the week against the agent's seasonal profile.
    SeasonalHour,
    /// An action the agent (and its cohort) has rarely or never used.
    NovelAction,
    /// A resource family new to the agent.
    NovelResource,
    /// A network (/24 or /48) new to the agent.
    NovelNetwork,
    /// A user-agent family new to the agent.
    NovelUserAgent,
    /// A parent (delegating identity) new to the agent.
    NovelParent,
    /// Many distinct actions or resources in a short burst (enumeration).
    DistinctBurst,
    /// Denied or failed calls above the agent's usual failure rate.
    FailedCalls,
    /// Bytes returned in the last 5 minutes against the baseline.
    BytesShort,
    /// Bytes returned in the last 2 hours against the baseline.
    BytesLong,
    /// One session used from several networks or clients at once.
    SessionConcurrency,
    /// A settled agent's profile far from its archetype (`warden train`).
    ArchetypeDrift,
    /// One of a burst of new identities in the agent's cohort (tenant and
    /// type): minted credentials, or a spray meant to push baselines out.
    NewIdentityBurst,
    /// A tenant (account, project) the agent never called into.
    NovelTenant,
    /// Calls into places (resource families) the agent first touched in
    /// the last two hours, against its usual share of such calls.
    NewPlaceTraffic,
    /// A sustained rise of bytes returned per call on the agent's usual
    /// actions (one-sided CUSUM): exfiltration that ramps up slowly.
    BytesTrend,
    /// The first call of an ATT&CK tactic (from the catalogue in `models/`)
    /// by an identity that never made one.
    CataloguedAction,
}

/// Independent families of evidence. A revocation needs two of them (or the
/// session group alone), so one noisy statistic can never cut a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Rates and their season.
    Volume,
    /// Values new to the agent.
    Novelty,
    /// Denied and failed calls.
    Outcome,
    /// Data volume out of the API.
    Exfil,
    /// Session misuse.
    Session,
}

/// Number of features.
pub const FEATURE_COUNT: usize = 19;

impl Feature {
    /// Every feature, in index order.
    pub const ALL: [Feature; FEATURE_COUNT] = [
        Feature::Rate1m,
        Feature::Rate15m,
        Feature::SeasonalHour,
        Feature::NovelAction,
        Feature::NovelResource,
        Feature::NovelNetwork,
        Feature::NovelUserAgent,
        Feature::NovelParent,
        Feature::DistinctBurst,
        Feature::FailedCalls,
        Feature::BytesShort,
        Feature::BytesLong,
        Feature::SessionConcurrency,
        Feature::ArchetypeDrift,
        Feature::NewIdentityBurst,
        Feature::NovelTenant,
        Feature::NewPlaceTraffic,
        Feature::BytesTrend,
        Feature::CataloguedAction,
    ];

    /// Its name in findings, reports and `[detection.weights]`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Rate1m => "rate_1m",
            Feature::Rate15m => "rate_15m",
            Feature::SeasonalHour => "seasonal_hour",
            Feature::NovelAction => "novel_action",
            Feature::NovelResource => "novel_resource_family",
            Feature::NovelNetwork => "novel_network",
            Feature::NovelUserAgent => "novel_user_agent",
            Feature::NovelParent => "novel_parent",
            Feature::DistinctBurst => "distinct_burst",
            Feature::FailedCalls => "failed_calls",
            Feature::BytesShort => "bytes_out_5m",
            Feature::BytesLong => "bytes_out_2h",
            Feature::SessionConcurrency => "session_concurrency",
            Feature::ArchetypeDrift => "archetype_drift",
            Feature::NewIdentityBurst => "new_identity_burst",
            Feature::NovelTenant => "novel_tenant",
            Feature::NewPlaceTraffic => "new_place_traffic",
            Feature::BytesTrend => "bytes_trend",
            Feature::CataloguedAction => "attack_technique",
        }
    }

    /// What the observed/expected numbers of this feature are measured in.
    pub fn unit(self) -> &'static str {
        match self {
            Feature::Rate1m | Feature::Rate15m | Feature::SeasonalHour => "calls",
            Feature::NovelAction
            | Feature::NovelResource
            | Feature::NovelNetwork
            | Feature::NovelUserAgent
            | Feature::NovelParent
            | Feature::NovelTenant
            | Feature::CataloguedAction => "rarity_bits",
            Feature::DistinctBurst => "distinct_values",
            Feature::FailedCalls => "failed_calls",
            Feature::BytesShort | Feature::BytesLong => "bytes",
            Feature::SessionConcurrency => "context_switches",
            Feature::ArchetypeDrift => "profile_distance",
            Feature::NewIdentityBurst => "new_identities",
            Feature::NewPlaceTraffic => "calls",
            Feature::BytesTrend => "bytes_per_call",
        }
    }

    /// The evidence family it belongs to.
    pub fn group(self) -> Group {
        match self {
            Feature::Rate1m
            | Feature::Rate15m
            | Feature::SeasonalHour
            | Feature::DistinctBurst
            | Feature::NewIdentityBurst => Group::Volume,
            Feature::NovelAction
            | Feature::NovelResource
            | Feature::NovelNetwork
            | Feature::NovelUserAgent
            | Feature::NovelParent
            | Feature::NovelTenant
            | Feature::NewPlaceTraffic
            | Feature::CataloguedAction
            | Feature::ArchetypeDrift => Group::Novelty,
            Feature::FailedCalls => Group::Outcome,
            Feature::BytesShort | Feature::BytesLong | Feature::BytesTrend => Group::Exfil,
            Feature::SessionConcurrency => Group::Session,
        }
    }

    /// Its position in per-feature arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Per-event output of the detectors: surprise (-log10 of a tail probability)
/// and the observed and expected values behind it, per feature.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// Surprise per feature, in bits.
    pub surprise: [f32; FEATURE_COUNT],
    /// What was observed, per feature.
    pub observed: [f64; FEATURE_COUNT],
    /// What the baseline expected, per feature.
    pub expected: [f64; FEATURE_COUNT],
    /// For novelty features: the value that was new on this event, if any.
    pub novel_value: [Option<Box<str>>; FEATURE_COUNT],
    /// Cohort adoption counters this call incremented (kind, rarity class),
    /// so they can be taken back if the call turns out to be flagged.
    pub adoptions: Vec<(usize, usize)>,
    /// The ATT&CK technique the call's action is catalogued under, when it
    /// reaches a decision (findings carry it as OCSF `attacks[]`).
    pub attack: Option<AttackTag>,
}

/// A MITRE ATT&CK tactic and technique (OCSF `attack`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttackTag {
    /// Tactic id, e.g. `TA0005`.
    pub tactic_uid: Box<str>,
    /// Tactic name, e.g. `Defense Evasion`.
    pub tactic: Box<str>,
    /// Technique id, e.g. `T1562.008`.
    pub technique_uid: Box<str>,
    /// Technique name.
    pub technique: Box<str>,
    /// The ATT&CK version the mapping was made against, e.g. `v16`.
    pub version: Box<str>,
}

impl Signals {
    /// Records one feature's signal; a non-finite surprise counts as none.
    pub fn set(&mut self, f: Feature, surprise: f32, observed: f64, expected: f64) {
        let i = f.index();
        self.surprise[i] = if surprise.is_finite() {
            surprise.max(0.0)
        } else {
            0.0
        };
        self.observed[i] = observed;
        self.expected[i] = expected;
    }

    pub(crate) fn max_surprise(&self) -> f32 {
        self.surprise.iter().cloned().fold(0.0, f32::max)
    }
}
