//! Combining feature surprises into one calibrated risk score.
//!
//! Surprises are -log10 tail probabilities. Features are not independent (a
//! burst raises rate and distinct counts together), so rather than summing
//! them (Fisher) the strongest counts fully, the second half, the third a
//! quarter. The total is mapped linearly to 0-100 with 12 bits (p = 1e-12)
//! as 100: risk 60 is a tail probability of about 1e-7.2, risk 85 about 1e-10.

use super::features::{Feature, Signals, FEATURE_COUNT};
use super::Weights;

/// Bits of surprise that map to risk 100.
pub(crate) const BITS_AT_FULL_RISK: f32 = 12.0;
/// A feature counts as contributing (and is explained) from this surprise.
pub(crate) const CONTRIBUTING_BITS: f32 = 1.0;
/// Surprise a group needs to count as independent corroboration.
const CORROBORATING_BITS: f32 = 4.0;
/// Session concurrency from an unfamiliar context at this level is by itself
/// a high-confidence signal (two parties hold one token).
const SESSION_CONFIDENT_BITS: f32 = 5.0;

/// Most features a finding explains.
const MAX_CONTRIBUTIONS: usize = 6;

/// Scored once per call, so it lives on the stack: no allocation per event.
#[derive(Debug, Clone)]
pub(crate) struct Score {
    pub risk: f32,
    /// Every feature's weighted surprise, in feature order (ranked only
    /// when a finding asks for its contributions: most calls never do).
    weighted: [(f32, Feature); FEATURE_COUNT],
    /// Whether a revocation would be justified: two independent groups of
    /// evidence, or a confident session signal.
    pub high_confidence: bool,
}

impl Score {
    /// Contributing features, strongest first, with their weighted surprise.
    pub fn contributions(&self) -> impl Iterator<Item = (Feature, f32)> + '_ {
        let mut ranked = self.weighted;
        ranked.sort_by(stronger_first);
        ranked
            .into_iter()
            .filter(|(s, _)| *s >= CONTRIBUTING_BITS)
            .take(MAX_CONTRIBUTIONS)
            .map(|(s, f)| (f, s))
    }

    pub(crate) fn feature_mask(&self) -> u32 {
        self.contributions().fold(0, |m, (f, _)| m | 1 << f.index())
    }
}

/// Calls per risk (rounded, 0..=100), those carrying an attack label apart:
/// the score distributions of the HTML reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskHistogram {
    pub other: [u64; 101],
    pub attack: [u64; 101],
}

impl Default for RiskHistogram {
    fn default() -> Self {
        RiskHistogram {
            other: [0; 101],
            attack: [0; 101],
        }
    }
}

impl RiskHistogram {
    pub fn add(&mut self, risk: f32, attack: bool) {
        let i = (risk.round().clamp(0.0, 100.0)) as usize;
        if attack {
            self.attack[i] += 1;
        } else {
            self.other[i] += 1;
        }
    }

    /// Adds another histogram's counts (engines that scored parts of one input).
    pub fn merge(&mut self, other: &RiskHistogram) {
        for (a, b) in self.other.iter_mut().zip(&other.other) {
            *a += b;
        }
        for (a, b) in self.attack.iter_mut().zip(&other.attack) {
            *a += b;
        }
    }
}

fn weight(w: &Weights, f: Feature) -> f32 {
    match f {
        Feature::Rate1m | Feature::Rate15m => w.rate,
        Feature::SeasonalHour => w.seasonal,
        Feature::NovelAction
        | Feature::NovelResource
        | Feature::NovelNetwork
        | Feature::NovelUserAgent
        | Feature::NovelParent
        | Feature::NovelTenant
        | Feature::NewPlaceTraffic => w.novelty,
        Feature::DistinctBurst => w.distinct,
        Feature::FailedCalls => w.outcome,
        Feature::BytesShort | Feature::BytesLong | Feature::BytesTrend => w.volume,
        Feature::SessionConcurrency => w.session,
        Feature::ArchetypeDrift => w.archetype,
        Feature::NewIdentityBurst => w.new_identities,
        Feature::CataloguedAction => w.attack_catalogue,
    }
}

/// Strongest first; equal surprises by feature, so output is deterministic.
fn stronger_first(a: &(f32, Feature), b: &(f32, Feature)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

pub(crate) fn combine(sig: &Signals, weights: &Weights) -> Score {
    // Most features measure nothing on most calls: those stay at zero and
    // take no part in the ranking (weights are finite and at least zero,
    // `Weights::check`, so a zero surprise weighs zero).
    let mut weighted: [(f32, Feature); FEATURE_COUNT] = ZERO_WEIGHTED;
    // The three strongest, in `stronger_first` order, kept as we go: a
    // full sort per call was a measurable share of replay. Zeros stand for
    // the places no feature fills: they add nothing to the sum.
    let mut top = [(0.0, Feature::Rate1m); 3];
    let mut groups = 0u8;
    let mut session_confident = false;
    for (i, f) in Feature::ALL.iter().enumerate() {
        let s = sig.surprise[i];
        if s == 0.0 {
            continue;
        }
        let w = (s * weight(weights, *f), *f);
        weighted[i] = w;
        if w.0 >= CORROBORATING_BITS {
            groups |= 1 << (f.group() as u8);
        }
        if *f == Feature::SessionConcurrency && w.0 >= SESSION_CONFIDENT_BITS {
            session_confident = true;
        }
        if stronger_first(&w, &top[2]).is_lt() {
            top[2] = w;
            if stronger_first(&top[2], &top[1]).is_lt() {
                top.swap(1, 2);
                if stronger_first(&top[1], &top[0]).is_lt() {
                    top.swap(0, 1);
                }
            }
        }
    }
    let bits = top[0].0 + 0.5 * top[1].0 + 0.25 * top[2].0;
    let risk = (bits * 100.0 / BITS_AT_FULL_RISK).clamp(0.0, 100.0);
    Score {
        risk,
        weighted,
        high_confidence: groups.count_ones() >= 2 || session_confident,
    }
}

/// Every feature at zero, in feature order.
const ZERO_WEIGHTED: [(f32, Feature); FEATURE_COUNT] = {
    let mut out = [(0.0, Feature::Rate1m); FEATURE_COUNT];
    let mut i = 0;
    while i < FEATURE_COUNT {
        out[i] = (0.0, Feature::ALL[i]);
        i += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(pairs: &[(Feature, f32)]) -> Signals {
        let mut s = Signals::default();
        for (f, v) in pairs {
            s.set(*f, *v, 0.0, 0.0);
        }
        s
    }

    proptest::proptest! {
        /// The running top three is the head of the full ranking, ties
        /// included (surprises drawn from a few values to force them).
        #[test]
        fn the_risk_is_taken_from_the_three_strongest(
            picks in proptest::collection::vec(0usize..5, FEATURE_COUNT),
            weight_picks in proptest::collection::vec(0usize..4, 10),
        ) {
            let levels = [0.0f32, 0.5, 2.0, 2.0, 7.25];
            let pairs: Vec<(Feature, f32)> =
                Feature::ALL.iter().zip(&picks).map(|(f, p)| (*f, levels[*p])).collect();
            // Weights of zero too: a feature weighed to nothing ranks as none.
            let wl = [0.0f32, 0.5, 1.0, 2.0];
            let w = Weights {
                rate: wl[weight_picks[0]],
                seasonal: wl[weight_picks[1]],
                novelty: wl[weight_picks[2]],
                distinct: wl[weight_picks[3]],
                outcome: wl[weight_picks[4]],
                volume: wl[weight_picks[5]],
                session: wl[weight_picks[6]],
                archetype: wl[weight_picks[7]],
                new_identities: wl[weight_picks[8]],
                attack_catalogue: wl[weight_picks[9]],
            };
            let signals = sig(&pairs);
            let score = combine(&signals, &w);
            // Every feature's weighted surprise, as the full product.
            let expected: Vec<(f32, Feature)> = Feature::ALL
                .iter()
                .enumerate()
                .map(|(i, f)| (signals.surprise[i] * weight(&w, *f), *f))
                .collect();
            proptest::prop_assert_eq!(score.weighted.to_vec(), expected.clone());
            let mut ranked = expected;
            ranked.sort_by(stronger_first);
            let bits = ranked[0].0 + 0.5 * ranked[1].0 + 0.25 * ranked[2].0;
            let risk = (bits * 100.0 / BITS_AT_FULL_RISK).clamp(0.0, 100.0);
            proptest::prop_assert_eq!(score.risk.to_bits(), risk.to_bits());
            let groups: std::collections::BTreeSet<u8> = ranked
                .iter()
                .filter(|(s, _)| *s >= CORROBORATING_BITS)
                .map(|(_, f)| f.group() as u8)
                .collect();
            let session = ranked.iter().any(|(s, f)| {
                *f == Feature::SessionConcurrency && *s >= SESSION_CONFIDENT_BITS
            });
            proptest::prop_assert_eq!(score.high_confidence, groups.len() >= 2 || session);
        }
    }

    #[test]
    fn calibration_maps_bits_to_risk() {
        let w = Weights::default();
        assert_eq!(combine(&sig(&[]), &w).risk, 0.0);
        assert!((combine(&sig(&[(Feature::Rate1m, 6.0)]), &w).risk - 50.0).abs() < 1e-3);
        assert_eq!(combine(&sig(&[(Feature::Rate1m, 30.0)]), &w).risk, 100.0);
    }

    #[test]
    fn dependent_evidence_is_discounted() {
        let w = Weights::default();
        let s = combine(
            &sig(&[
                (Feature::Rate1m, 4.0),
                (Feature::Rate15m, 4.0),
                (Feature::DistinctBurst, 4.0),
            ]),
            &w,
        );
        // 4 + 4/2 + 4/4 = 7 bits, not 12.
        assert!((s.risk - 7.0 * 100.0 / BITS_AT_FULL_RISK).abs() < 1e-3);
        assert_eq!(s.contributions().count(), 3);
        assert!(!s.high_confidence, "one group only");
    }

    #[test]
    fn two_groups_or_a_confident_session_signal_are_high_confidence() {
        let w = Weights::default();
        assert!(
            combine(
                &sig(&[(Feature::NovelAction, 5.0), (Feature::FailedCalls, 5.0)]),
                &w
            )
            .high_confidence
        );
        assert!(combine(&sig(&[(Feature::SessionConcurrency, 6.0)]), &w).high_confidence);
        assert!(!combine(&sig(&[(Feature::NovelAction, 12.0)]), &w).high_confidence);
    }

    #[test]
    fn weights_scale_detectors() {
        let w = Weights {
            rate: 0.0,
            ..Weights::default()
        };
        assert_eq!(combine(&sig(&[(Feature::Rate1m, 10.0)]), &w).risk, 0.0);
    }
}
