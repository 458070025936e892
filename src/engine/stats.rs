//! Small streaming statistics used by the detectors. Every type here is a few
//! bytes so that per-agent state stays near 1 KiB.

/// Exponentially weighted mean and variance of a (usually log-scaled) signal,
/// with a sample count so young baselines are treated as uncertain.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ewm {
    /// Weighted mean.
    pub mean: f32,
    /// Weighted variance.
    pub var: f32,
    /// Observations folded in.
    pub n: u32,
}

impl Ewm {
    /// Folds `x` in with weight `alpha` (the first sample sets the mean).
    /// `x` is winsorised to mean ± 3 sd once the baseline has some history, so
    /// an attack burst does not teach the baseline that it is normal; and a
    /// winsorised value leaves the spread alone (otherwise each clipped value
    /// widens the clip for the next, and a burst of a few hundred calls
    /// teaches itself in minutes).
    pub fn update(&mut self, x: f32, alpha: f32, min_sd: f32) {
        self.fold(x, alpha, min_sd, None);
    }

    /// z-score of `x` against this baseline. Young baselines get extra variance
    /// (`prior_var` shrinking with the sample count) so a handful of samples
    /// cannot make a tiny standard deviation.
    pub(crate) fn z(&self, x: f32, min_sd: f32, prior_var: f32) -> f32 {
        if self.n == 0 {
            return 0.0;
        }
        (x - self.mean) / self.predictive_var(min_sd, prior_var).sqrt()
    }

    /// The spread `z` scores against: the baseline's own variance (at
    /// least `min_sd` squared) plus `prior_var`, shrinking as samples come.
    fn predictive_var(&self, min_sd: f32, prior_var: f32) -> f32 {
        let shrink = 20.0 / (20.0 + self.n as f32);
        self.var.max(min_sd * min_sd) + prior_var * shrink
    }

    /// Fewer samples than a settled baseline has (`update` winsorises a
    /// settled one at its own spread).
    pub fn is_young(&self) -> bool {
        self.n < SETTLED_N
    }

    /// Folds in a sample that was just scored with `z(x, min_sd,
    /// prior_var)`. A young baseline learns fast (its weight is about one
    /// over its samples), so a sample far outside the spread it was scored
    /// against is winsorised to that spread, as a settled baseline's is to
    /// its own (`update`): otherwise the first calls of an attack on a new
    /// agent widen and shift its baseline within a few calls, and the rest
    /// of the attack scores as normal.
    pub fn learn(&mut self, x: f32, alpha: f32, min_sd: f32, prior_var: f32) {
        self.fold(x, alpha, min_sd, Some(prior_var));
    }

    /// `update` and `learn`: one winsorising fold, whose clip is the
    /// baseline's own spread once settled and, while young, the spread it
    /// was scored against when `young_prior_var` says what that was.
    fn fold(&mut self, x: f32, alpha: f32, min_sd: f32, young_prior_var: Option<f32>) {
        if self.n == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let sd = if self.n >= SETTLED_N {
                Some(self.var.sqrt().max(min_sd))
            } else if self.n >= YOUNG_CLIP_N {
                young_prior_var.map(|p| self.predictive_var(min_sd, p).sqrt())
            } else {
                None
            };
            let (x, clipped) = match sd {
                Some(sd) => {
                    let c = x.clamp(self.mean - 3.0 * sd, self.mean + 3.0 * sd);
                    (c, c != x)
                }
                None => (x, false),
            };
            let a = alpha.max(1.0 / (self.n as f32 + 1.0));
            let d = x - self.mean;
            self.mean += a * d;
            if !clipped {
                self.var = (1.0 - a) * (self.var + a * d * d);
            }
        }
        self.n = self.n.saturating_add(1);
    }
}

/// Samples after which a baseline is winsorised at its own spread
/// (`Ewm::update`).
const SETTLED_N: u32 = 30;
/// Samples after which a young baseline is winsorised at the spread it is
/// scored against (`Ewm::learn`): a cohort-seeded baseline starts here.
const YOUNG_CLIP_N: u32 = 5;

/// Decay factor for an elapsed time `dt_ms` against time constant `tau_ms`.
#[inline]
pub(crate) fn decay(dt_ms: i64, tau_ms: f32) -> f32 {
    if dt_ms <= 0 {
        1.0
    } else {
        (-(dt_ms as f32) / tau_ms).exp()
    }
}

/// Upper-tail surprise of a standard normal: -log10 P(Z >= z); 0 for z <= 0.
pub(crate) fn normal_surprise(z: f32) -> f32 {
    if z <= 0.0 {
        return 0.0;
    }
    let z = z as f64;
    // erfc via Abramowitz-Stegun 7.1.26 for moderate z, the asymptotic
    // expansion for large z (where log-space matters).
    let p_log10 = if z < 5.0 {
        let x = z / std::f64::consts::SQRT_2;
        let t = 1.0 / (1.0 + 0.3275911 * x);
        let poly = t
            * (0.254829592
                + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
        (0.5 * poly * (-x * x).exp()).max(1e-300).log10()
    } else {
        let ln_p = -0.5 * z * z - z.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            + (1.0 - 1.0 / (z * z)).ln();
        ln_p / std::f64::consts::LN_10
    };
    (-p_log10) as f32
}

/// Upper-tail surprise of a Poisson count: -log10 P(X >= k | mean mu).
/// Non-integer `k` (decayed counts) is floored. 0 when k <= mu.
pub(crate) fn poisson_surprise(k: f32, mu: f32) -> f32 {
    let mu = (mu as f64).max(1e-6);
    let k = (k as f64).floor();
    if k <= mu || k < 1.0 {
        return 0.0;
    }
    // P(X >= k) = P(X = k) * sum_{j>=0} mu^j k!/(k+j)!, and that sum lies
    // between 1 and (k+1)/(k+1-mu); take the upper bound (conservative).
    let ln_pk = k * mu.ln() - mu - ln_gamma(k + 1.0);
    let ln_tail = ln_pk + ((k + 1.0) / (k + 1.0 - mu)).ln();
    (-(ln_tail.min(0.0)) / std::f64::consts::LN_10) as f32
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Bits of surprise a rise of `ratio` times the expected volume can carry
/// at most: volume is heavy-tailed beyond any day-to-day model. Backfills,
/// re-processing and catch-up runs make an agent's hour some multiple M of
/// its usual with P(M >= m) = `SURGE_SHARE` * m^-`SURGE_TAIL` (a Pareto tail
/// on one hour in a hundred). A rise is scored against the likelier of the
/// baseline model and that tail, so ten times the usual work at the usual
/// hours is worth 4 bits (a finding needs 7.2), while working at an hour
/// that is nearly always silent, or a hundredfold rise, still stands out.
///
/// Surges happen when the team works: `activity` is how busy this hour is
/// for the agent's team relative to its average hour (`DayShape::share`,
/// 1 when unknown), and scales the share of surge hours (never above one
/// in a hundred). At 3 a.m. for a team that works days, a twentyfold rise
/// is worth over 5 bits.
pub(crate) fn surge_tail_bits(ratio: f32, activity: f32) -> f32 {
    if ratio.is_nan() || ratio <= 1.0 {
        return 0.0;
    }
    let share = SURGE_SHARE * activity.clamp(0.01, 1.0);
    -share.log10() + SURGE_TAIL * ratio.log10()
}

/// See `surge_tail_bits`.
const SURGE_SHARE: f32 = 0.01;
const SURGE_TAIL: f32 = 2.0;

/// Upper-tail surprise of a negative binomial count (the predictive of a
/// Poisson rate with a Gamma(shape, shape/mean) posterior):
/// -log10 P(X >= k). Over-dispersed where evidence is thin (small shape).
pub(crate) fn neg_binomial_surprise(k: f32, mean: f32, shape: f32) -> f32 {
    let (k, mean, r) = (
        (k as f64).floor(),
        (mean as f64).max(1e-6),
        (shape as f64).max(1e-3),
    );
    if k <= mean || k < 1.0 {
        return 0.0;
    }
    let q = mean / (mean + r); // success probability of each extra count
    let ln_pk = ln_gamma(k + r) - ln_gamma(r) - ln_gamma(k + 1.0) + r * (1.0 - q).ln() + k * q.ln();
    // Successive pmf ratios are (j + r) / (j + 1) * q; beyond k they stay
    // below max(ratio(k), q), so a geometric sum bounds the tail from above.
    let ratio = ((k + r) / (k + 1.0) * q).max(q);
    if ratio >= 1.0 {
        return 0.0;
    }
    let ln_tail = ln_pk - (1.0 - ratio).ln();
    (-(ln_tail.min(0.0)) / std::f64::consts::LN_10) as f32
}

/// Upper-tail surprise of `k` successes in `n` trials whose success
/// probability is uncertain, Beta(`a`, `b`): the beta-binomial predictive,
/// -log10 P(X >= k). A habit known from few trials (small `a + b`) stays
/// over-dispersed, so thin evidence cannot claim certainty.
pub(crate) fn beta_binomial_surprise(k: f32, n: f32, a: f32, b: f32) -> f32 {
    let (k, n) = ((k as f64).floor(), (n as f64).floor());
    let (a, b) = ((a as f64).max(1e-3), (b as f64).max(1e-3));
    if k < 1.0 || k > n || k <= n * a / (a + b) {
        return 0.0;
    }
    let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
    let ln_pk = ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
        + ln_beta(k + a, n - k + b)
        - ln_beta(a, b);
    // Sum the terms from k up by their ratios; past the mean they fall
    // quickly, and a bounded number of them is plenty.
    let (mut term, mut sum, mut x) = (1.0f64, 1.0f64, k);
    while x < n && x < k + 4096.0 {
        term *= (n - x) * (x + a) / ((x + 1.0) * (n - x - 1.0 + b));
        sum += term;
        if term < 1e-12 * sum {
            break;
        }
        x += 1.0;
    }
    let ln_tail = ln_pk + sum.ln();
    (-(ln_tail.min(0.0)) / std::f64::consts::LN_10) as f32
}

/// The kinds a fingerprint is seeded with, defined once: the same value
/// fingerprinted as two kinds never collides, and detectors and archetype
/// vocabularies that fingerprint one kind must agree on its number (they
/// are persisted in agent state and in model files).
pub(crate) mod fp_kind {
    /// An action (novelty, distinct counts, archetype vocabularies).
    pub(crate) const ACTION: u8 = 10;
    /// A resource family.
    pub(crate) const RESOURCE_FAMILY: u8 = 11;
    /// A source network.
    pub(crate) const NETWORK: u8 = 12;
    /// A client (user-agent) family.
    pub(crate) const USER_AGENT: u8 = 13;
    /// A parent (delegating) identity.
    pub(crate) const PARENT: u8 = 14;
    /// A tenant named by a call.
    pub(crate) const TENANT: u8 = 15;
    /// An agent id (to tell agents apart in cohort memories).
    pub(crate) const AGENT: u8 = 16;
    /// A session's network, as part of its context.
    pub(crate) const SESSION_NETWORK: u8 = 20;
    /// A session's client, as part of its context.
    pub(crate) const SESSION_CLIENT: u8 = 21;
    /// A session id.
    pub(crate) const SESSION: u8 = 22;
}

/// 64-bit fingerprint of a string, stable across runs and platforms.
#[inline]
pub(crate) fn fingerprint(kind: u8, s: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(s.as_bytes(), kind as u64)
}

/// A fixed 1024-bit Bloom filter with two probes: "has this agent seen this
/// value before". At 100 values its false-positive rate is about 3 %; a false
/// positive only hides one novelty, it never invents one.
#[derive(Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Bloom1k([u64; 16]);

impl std::fmt::Debug for Bloom1k {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bloom1k({} bits set)", self.count_ones())
    }
}

impl Bloom1k {
    #[inline]
    fn probes(fp: u64) -> [(usize, u64); 2] {
        let a = (fp & 1023) as usize;
        let b = ((fp >> 10) & 1023) as usize;
        [(a / 64, 1 << (a % 64)), (b / 64, 1 << (b % 64))]
    }

    /// Inserts; returns true when the value was (probably) new.
    #[inline]
    pub fn insert(&mut self, fp: u64) -> bool {
        let mut new = false;
        for (w, bit) in Self::probes(fp) {
            new |= self.0[w] & bit == 0;
            self.0[w] |= bit;
        }
        new
    }

    #[inline]
    pub fn contains(&self, fp: u64) -> bool {
        Self::probes(fp)
            .iter()
            .all(|(w, bit)| self.0[*w] & bit != 0)
    }

    pub(crate) fn count_ones(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

/// "Has this agent seen this value", built so that it cannot be saturated
/// into blindness. A single fixed filter fills up: an identity that sprays a
/// million distinct values sets every bit, and from then on every value,
/// its privilege escalation's first IAM call included, reads as seen. Here
/// the values live in two generations: when the current one passes
/// `ROTATE_AT_BITS` (about 175 values, a 6 % false-positive rate) it becomes
/// the previous one and a fresh one starts. A value found only in the
/// previous generation is copied forward, so what the agent keeps using is
/// kept and what it stopped using ages out. An agent with fewer values than
/// that never rotates and reads exactly as one filter would. (A spray is
/// also seen as such: `distinct_burst`, and `detect`'s spraying check.)
///
/// Most agents never rotate, so the previous generation is held only once
/// there is one: 8 bytes instead of 128 for them. It is written as the
/// all-zero filter it stood for, so the state format is unchanged (test
/// `seen_values_are_written_as_before`).
#[derive(Clone, PartialEq, Eq, Default, Debug)]
pub(crate) struct SeenValues {
    cur: Bloom1k,
    prev: Option<Box<Bloom1k>>,
}

impl SeenValues {
    /// Bits set in the current generation that start a new one (of 1024).
    const ROTATE_AT_BITS: u32 = 300;

    /// Inserts; returns true when the value was (probably) new.
    #[inline]
    pub fn insert(&mut self, fp: u64) -> bool {
        if self.cur.contains(fp) {
            return false;
        }
        let new = !self.prev.as_ref().is_some_and(|p| p.contains(fp));
        self.cur.insert(fp);
        if self.cur.count_ones() >= Self::ROTATE_AT_BITS {
            self.prev = Some(Box::new(std::mem::take(&mut self.cur)));
        }
        new
    }

    /// Bytes held on the heap (the previous generation, once there is one).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.prev
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<Bloom1k>())
    }
}

/// Written as the state topic has always held it, two whole filters in a
/// row (a two-field struct and a pair are the same bytes in postcard).
impl serde::Serialize for SeenValues {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const EMPTY: Bloom1k = Bloom1k([0; 16]);
        (&self.cur, self.prev.as_deref().unwrap_or(&EMPTY)).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for SeenValues {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (cur, prev) = <(Bloom1k, Bloom1k)>::deserialize(d)?;
        // A generation with no bit set holds nothing: reading it as absent
        // changes no answer.
        let prev = (prev != Bloom1k::default()).then(|| Box::new(prev));
        Ok(SeenValues { cur, prev })
    }
}

/// Distinct values in a sliding window of two 128-bit linear-counting bitmaps
/// (the current and the previous window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DistinctWindow {
    cur: Bits128,
    prev: Bits128,
    /// In 32 bits (`EpochIndex`): windows of 2 seconds, the shortest the
    /// configuration allows, reach the year 2106.
    window_idx: EpochIndex,
}

impl DistinctWindow {
    pub fn insert(&mut self, fp: u64, ts_ms: i64, window_ms: i64) {
        let idx = EpochIndex::of(ts_ms, window_ms);
        if idx.get() > self.window_idx.get() {
            self.prev = if idx.get() == self.window_idx.get() + 1 {
                self.cur
            } else {
                Bits128::default()
            };
            self.cur = Bits128::default();
            self.window_idx = idx;
        }
        self.cur.set(fp % 128);
    }

    /// Linear-counting estimate over the current and previous window.
    pub(crate) fn estimate(&self) -> f32 {
        let m = 128.0f32;
        let zeros = (self.cur.get() | self.prev.get()).count_zeros() as f32;
        if zeros == 0.0 {
            return m * m.ln();
        }
        -m * (zeros / m).ln()
    }
}

/// An event time (ms since the epoch) kept as two 32-bit halves. An `i64`
/// field aligns whatever holds it to 8 bytes, and the small records kept
/// per slot (`bytes_trend`, `session`) carried 4 bytes of padding each for
/// it. It is written as the `i64` it is, so the state format does not
/// change (test `a_stamp_is_written_as_an_i64`).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stamp([u32; 2]);

impl Stamp {
    #[inline]
    pub(crate) fn new(ms: i64) -> Self {
        Stamp([ms as u32, (ms >> 32) as u32])
    }

    #[inline]
    pub(crate) fn get(self) -> i64 {
        (i64::from(self.0[1] as i32) << 32) | i64::from(self.0[0])
    }
}

impl std::fmt::Debug for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl serde::Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(Stamp::new)
    }
}

/// An event time's index in whole units (hours, minutes) since the epoch,
/// kept in 32 bits: an `i64` field aligns whatever holds it to 8 bytes and
/// costs 4 bytes that no real time needs (2^31 minutes reach the year
/// 6053). A time beyond that saturates, so a caller stamping calls in the
/// far future only moves its own agent's index to the end (every later
/// call then counts in that last unit). Written as the `i64` it stood
/// for, so the state format does not change (test
/// `an_epoch_index_is_written_as_an_i64`).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EpochIndex(i32);

impl EpochIndex {
    /// The index of `ts_ms` in units of `unit_ms`, saturated to 32 bits.
    #[inline]
    pub(crate) fn of(ts_ms: i64, unit_ms: i64) -> Self {
        Self::saturating(ts_ms.div_euclid(unit_ms))
    }

    #[inline]
    fn saturating(index: i64) -> Self {
        EpochIndex(index.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }

    #[inline]
    pub(crate) fn get(self) -> i64 {
        i64::from(self.0)
    }
}

impl std::fmt::Debug for EpochIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl serde::Serialize for EpochIndex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for EpochIndex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(EpochIndex::saturating)
    }
}

/// A counter kept narrower than the `u32` the state format holds it as
/// (`#[serde(with = "stats::narrow_u32")]`): written as that `u32`, so the
/// format does not change, and a larger count read back is taken as the
/// narrow type's largest (tests `narrowed_counters_are_written_as_before`,
/// `slots_are_written_as_before`).
pub(crate) mod narrow_u32 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// An unsigned type narrower than `u32`.
    pub(crate) trait Narrow: Copy + Into<u32> + TryFrom<u32> {
        const MAX: Self;
    }

    impl Narrow for u8 {
        const MAX: Self = u8::MAX;
    }

    impl Narrow for u16 {
        const MAX: Self = u16::MAX;
    }

    pub(crate) fn serialize<T: Narrow, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        (*v).into().serialize(s)
    }

    pub(crate) fn deserialize<'de, T: Narrow, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        u32::deserialize(d).map(|v| T::try_from(v).unwrap_or(T::MAX))
    }
}

/// A 128-bit bitmap kept as four 32-bit words. A `u128` field aligns
/// whatever holds it to 16 bytes, and a `u64` one to 8: with its 32-bit
/// window index a `DistinctWindow` is 36 bytes, not 40. It is written as
/// the `u128` it was, so the state format does not change (test
/// `a_distinct_window_is_written_as_before`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bits128([u32; 4]);

impl Bits128 {
    fn get(self) -> u128 {
        self.0
            .iter()
            .rev()
            .fold(0u128, |acc, &w| (acc << 32) | u128::from(w))
    }

    fn set(&mut self, bit: u64) {
        self.0[(bit / 32) as usize % 4] |= 1u32 << (bit % 32);
    }
}

impl From<u128> for Bits128 {
    fn from(v: u128) -> Self {
        Bits128([
            v as u32,
            (v >> 32) as u32,
            (v >> 64) as u32,
            (v >> 96) as u32,
        ])
    }
}

impl serde::Serialize for Bits128 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Bits128 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <u128 as serde::Deserialize>::deserialize(d).map(Bits128::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `DistinctWindow` as it was before its bitmaps became `Bits128`.
    #[derive(Default, serde::Serialize)]
    struct WindowAsBefore {
        cur: u128,
        prev: u128,
        window_idx: i64,
    }

    impl WindowAsBefore {
        fn insert(&mut self, fp: u64, ts_ms: i64, window_ms: i64) {
            let idx = ts_ms.div_euclid(window_ms);
            if idx > self.window_idx {
                self.prev = if idx == self.window_idx + 1 {
                    self.cur
                } else {
                    0
                };
                self.cur = 0;
                self.window_idx = idx;
            }
            self.cur |= 1u128 << (fp % 128);
        }
    }

    proptest! {
        /// Every time reads back as itself and is written as the `i64`.
        #[test]
        fn a_stamp_is_written_as_an_i64(ms in any::<i64>()) {
            let s = Stamp::new(ms);
            prop_assert_eq!(s.get(), ms);
            let bytes = postcard::to_allocvec(&s).unwrap();
            prop_assert_eq!(&bytes, &postcard::to_allocvec(&ms).unwrap());
            prop_assert_eq!(postcard::from_bytes::<Stamp>(&bytes).unwrap(), s);
        }
    }

    proptest! {
        /// Every index of a real time reads back as itself and is written
        /// as the `i64` it stands for; any `i64` read saturates.
        #[test]
        fn an_epoch_index_is_written_as_an_i64(ms in any::<i64>(), unit in 1i64..10_000_000) {
            let i = EpochIndex::of(ms, unit);
            let exact = ms.div_euclid(unit);
            if i32::try_from(exact).is_ok() {
                prop_assert_eq!(i.get(), exact);
            } else {
                prop_assert_eq!(i.get(), if exact < 0 { i64::from(i32::MIN) } else { i64::from(i32::MAX) });
            }
            let bytes = postcard::to_allocvec(&i).unwrap();
            prop_assert_eq!(&bytes, &postcard::to_allocvec(&i.get()).unwrap());
            prop_assert_eq!(postcard::from_bytes::<EpochIndex>(&bytes).unwrap(), i);
            let wide = postcard::to_allocvec(&exact).unwrap();
            prop_assert_eq!(postcard::from_bytes::<EpochIndex>(&wide).unwrap(), i);
        }
    }

    /// `SeenValues` as it was before its previous generation was boxed.
    #[derive(Default, serde::Serialize)]
    struct SeenAsBefore {
        cur: Bloom1k,
        prev: Bloom1k,
    }

    impl SeenAsBefore {
        fn insert(&mut self, fp: u64) -> bool {
            if self.cur.contains(fp) {
                return false;
            }
            let new = !self.prev.contains(fp);
            self.cur.insert(fp);
            if self.cur.count_ones() >= SeenValues::ROTATE_AT_BITS {
                self.prev = std::mem::take(&mut self.cur);
            }
            new
        }
    }

    proptest! {
        /// Before and after rotations, the boxed form answers every insert
        /// as the two whole filters did, writes the same bytes into a
        /// state record, and reads them back: the state format is unchanged.
        #[test]
        fn seen_values_are_written_as_before(
            values in proptest::collection::vec(any::<u64>(), 0..900)
        ) {
            let (mut now, mut before) = (SeenValues::default(), SeenAsBefore::default());
            for v in values {
                prop_assert_eq!(now.insert(v), before.insert(v));
            }
            prop_assert_eq!(now.prev.is_some(), before.prev != Bloom1k::default());
            let bytes = postcard::to_allocvec(&now).unwrap();
            prop_assert_eq!(&bytes, &postcard::to_allocvec(&before).unwrap());
            let read: SeenValues = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(read, now);
        }
    }

    proptest! {
        /// The same calls give the same bitmaps, the same estimate and the
        /// same bytes in a state record as the `u128` layout did, and those
        /// bytes read back: the state format is unchanged.
        #[test]
        fn a_distinct_window_is_written_as_before(
            start in 0i64..4_102_444_800_000, // up to the year 2100
            window_ms in 2_000i64..=3_600_000, // the configuration allows 2 s and up
            calls in proptest::collection::vec((any::<u64>(), 0i64..150_000), 0..200)
        ) {
            let (mut now, mut before) = (DistinctWindow::default(), WindowAsBefore::default());
            let mut ts = start;
            for (fp, dt) in calls {
                ts += dt;
                now.insert(fp, ts, window_ms);
                before.insert(fp, ts, window_ms);
            }
            prop_assert_eq!(now.cur.get(), before.cur);
            prop_assert_eq!(now.prev.get(), before.prev);
            let bytes = postcard::to_allocvec(&now).unwrap();
            prop_assert_eq!(&bytes, &postcard::to_allocvec(&before).unwrap());
            let read: DistinctWindow = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(read, now);
        }
    }

    #[test]
    fn a_tenfold_surge_of_the_usual_work_is_worth_four_bits() {
        assert_eq!(surge_tail_bits(0.5, 1.0), 0.0);
        assert!((surge_tail_bits(10.0, 1.0) - 4.0).abs() < 1e-5);
        assert!((surge_tail_bits(10.0, 2.4) - 4.0).abs() < 1e-5);
        assert!(surge_tail_bits(1000.0, 1.0) > 6.4);
        assert!(surge_tail_bits(f32::INFINITY, 1.0).is_infinite());
        // The same rise in the team's quietest hour.
        assert!(surge_tail_bits(20.0, 0.02) > 5.5);
    }

    #[test]
    fn normal_surprise_matches_known_tails() {
        assert_eq!(normal_surprise(-1.0), 0.0);
        assert!((normal_surprise(1.6449) - 1.301).abs() < 0.01); // p = 0.05
        assert!((normal_surprise(3.0902) - 3.0).abs() < 0.02); // p = 1e-3
        assert!((normal_surprise(5.9978) - 9.0).abs() < 0.05); // p = 1e-9
                                                               // continuous across the switch of approximations
        assert!((normal_surprise(4.999) - normal_surprise(5.001)).abs() < 0.05);
    }

    #[test]
    fn beta_binomial_surprise_matches_exact_sums() {
        // Exact P(X >= k) from the pmf by plain summation.
        fn exact(k: u32, n: u32, a: f64, b: f64) -> f32 {
            let lb = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
            let tail: f64 = (k..=n)
                .map(|x| {
                    let (x, n) = (x as f64, n as f64);
                    (ln_gamma(n + 1.0) - ln_gamma(x + 1.0) - ln_gamma(n - x + 1.0)
                        + lb(x + a, n - x + b)
                        - lb(a, b))
                    .exp()
                })
                .sum();
            (-tail.log10()) as f32
        }
        for (k, n, a, b) in [
            (3u32, 3u32, 0.5, 300.0),
            (5, 40, 0.5, 25.0),
            (20, 60, 2.0, 400.0),
        ] {
            let got = beta_binomial_surprise(k as f32, n as f32, a as f32, b as f32);
            let want = exact(k, n, a, b);
            assert!((got - want).abs() < 0.01, "{k}/{n}: {got} vs {want}");
        }
        // At or below the mean there is nothing to score.
        assert_eq!(beta_binomial_surprise(1.0, 100.0, 1.0, 9.0), 0.0);
        // Uncertainty caps surprise: the same count says less when the
        // habit rests on fewer trials.
        assert!(
            beta_binomial_surprise(5.0, 5.0, 0.1, 10.0)
                < beta_binomial_surprise(5.0, 5.0, 1.0, 100.0)
        );
    }

    #[test]
    fn poisson_surprise_matches_exact_sums() {
        // Exact P(X >= k) by summing the upper terms (1 - cdf would cancel).
        fn exact(k: u32, mu: f64) -> f32 {
            let mut p = (-mu).exp();
            for j in 0..k {
                p *= mu / (j as f64 + 1.0);
            }
            let mut tail = 0.0;
            let mut j = k as f64;
            while p > 1e-300 && j < k as f64 + 500.0 {
                tail += p;
                j += 1.0;
                p *= mu / j;
            }
            (-tail.log10()) as f32
        }
        for (k, mu) in [(5u32, 1.0f64), (10, 2.0), (30, 4.0), (12, 10.0), (60, 20.0)] {
            let got = poisson_surprise(k as f32, mu as f32);
            let want = exact(k, mu);
            // The upper bound may only under-state surprise, and only a little.
            assert!(
                got <= want + 0.02 && got >= want - 0.35,
                "k={k} mu={mu}: {got} vs {want}"
            );
        }
        assert_eq!(poisson_surprise(1.0, 3.0), 0.0);
    }

    #[test]
    fn ln_gamma_matches_factorials_and_half() {
        for n in 1..20u64 {
            let f: f64 = (1..n).map(|i| (i as f64).ln()).sum();
            assert!((ln_gamma(n as f64) - f).abs() < 1e-9, "n={n}");
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-9);
    }

    #[test]
    fn neg_binomial_is_wider_than_poisson_and_converges_to_it() {
        let p = poisson_surprise(10.0, 2.0);
        let thin = neg_binomial_surprise(10.0, 2.0, 0.5);
        let thick = neg_binomial_surprise(10.0, 2.0, 1e4);
        assert!(thin < p, "{thin} vs {p}");
        assert!((thick - p).abs() < 0.3, "{thick} vs {p}");
        // Exact tail for shape 1 (geometric): P(X >= k) = q^k.
        let q: f64 = 2.0 / 3.0;
        let exact = -(q.powi(10)).log10() as f32;
        let got = neg_binomial_surprise(10.0, 2.0, 1.0);
        assert!(got <= exact + 1e-3 && got > exact - 0.1, "{got} vs {exact}");
    }

    #[test]
    fn ewm_learns_mean_and_spread() {
        let mut e = Ewm::default();
        for i in 0..2000 {
            e.update(if i % 2 == 0 { 1.0 } else { 3.0 }, 0.01, 0.0);
        }
        assert!((e.mean - 2.0).abs() < 0.1);
        assert!((e.var.sqrt() - 1.0).abs() < 0.1);
        assert!(e.z(5.0, 0.1, 0.0) > 2.5);
    }

    #[test]
    fn ewm_winsorises_outliers() {
        let mut e = Ewm::default();
        for _ in 0..100 {
            e.update(1.0, 0.05, 0.1);
        }
        e.update(1000.0, 0.05, 0.1);
        assert!(e.mean < 1.1, "one outlier moved the mean to {}", e.mean);
    }

    /// A cohort-seeded baseline (five pseudo-samples) and eleven calls of
    /// its own, then a bulk pull: 5-minute bytes a thousand times the
    /// usual, growing call by call (the shape of a bulk exfiltration on an
    /// agent an hour old).
    fn young_bytes_under_attack(learn: bool) -> Vec<f32> {
        let (min_sd, prior_var) = (0.8, 4.0);
        let mut e = Ewm {
            mean: 7.5,
            var: 0.5,
            n: 5,
        };
        for i in 0..11 {
            let x = 7.0 + (i % 3) as f32 * 0.5;
            e.learn(x, 0.002, min_sd, prior_var);
        }
        let mut z = Vec::new();
        let mut total = 0.0f32;
        for _ in 0..40 {
            total += 30e6;
            let x = (1.0 + total).ln();
            z.push(e.z(x, min_sd, prior_var));
            if learn {
                e.learn(x, 0.002, min_sd, prior_var);
            } else {
                e.update(x, 0.002, min_sd);
            }
        }
        z
    }

    #[test]
    fn a_young_baseline_is_not_taught_an_attack_by_its_first_calls() {
        let learnt = young_bytes_under_attack(true);
        let plain = young_bytes_under_attack(false);
        // The first call scores the same either way; what differs is what
        // the baseline learns from it.
        assert_eq!(learnt[0], plain[0]);
        assert!(learnt[0] > 4.0, "{}", learnt[0]);
        // Unclipped, the spread explodes within a few calls and the rest
        // of the pull reads as normal.
        assert!(plain[5] < 2.0, "{:?}", &plain[..6]);
        // Winsorised at the spread it was scored against, the baseline
        // holds the whole pull five sd out.
        assert!(learnt.iter().all(|z| *z > 5.0), "{learnt:?}");
    }

    #[test]
    fn a_young_baseline_still_follows_a_new_level() {
        // An agent whose own level is far from its cohort's seed converges
        // to it: winsorising moves the mean by up to three sd a call.
        let mut e = Ewm {
            mean: 5.0,
            var: 0.25,
            n: 5,
        };
        for _ in 0..200 {
            e.learn(15.0, 0.002, 0.8, 4.0);
        }
        assert!((e.mean - 15.0).abs() < 0.5, "{e:?}");
        assert!(e.z(15.0, 0.8, 4.0) < 1.0, "{e:?}");
    }

    #[test]
    fn learning_without_outliers_is_plain_updating() {
        let (mut a, mut b) = (Ewm::default(), Ewm::default());
        for i in 0..100 {
            let x = 3.0 + (i % 5) as f32 * 0.1;
            a.learn(x, 0.01, 0.3, 0.5);
            b.update(x, 0.01, 0.3);
        }
        assert_eq!(a, b);
    }

    #[test]
    fn bloom_reports_new_once() {
        let mut b = Bloom1k::default();
        assert!(b.insert(fingerprint(0, "s3:GetObject")));
        assert!(!b.insert(fingerprint(0, "s3:GetObject")));
        assert!(b.contains(fingerprint(0, "s3:GetObject")));
    }

    #[test]
    fn seen_values_cannot_be_saturated_into_blindness() {
        let mut s = SeenValues::default();
        let kept = fingerprint(0, "s3:GetObject");
        assert!(s.insert(kept));
        // A spray of a million distinct values, the agent's own action in use
        // throughout.
        for i in 0..1_000_000u32 {
            s.insert(fingerprint(2, &i.to_string()));
            if i % 50 == 0 {
                assert!(!s.insert(kept), "a value in use was forgotten at {i}");
            }
        }
        // Values never seen still read as new, as often as a 29 %-full pair
        // of generations allows: the spray did not blind the filter.
        let fresh = (0..1000)
            .filter(|i| s.clone().insert(fingerprint(0, &format!("iam:Action{i}"))))
            .count();
        assert!(
            fresh > 800,
            "only {fresh} of 1000 unseen values read as new"
        );
    }

    #[test]
    fn distinct_window_slides() {
        let mut d = DistinctWindow::default();
        for i in 0..20 {
            d.insert(fingerprint(1, &format!("r{i}")), 1_000, 60_000);
        }
        let est = d.estimate();
        assert!((15.0..26.0).contains(&est), "{est}");
        d.insert(fingerprint(1, "x"), 61_000, 60_000); // previous window still counts
        assert!(d.estimate() >= est);
        d.insert(fingerprint(1, "x"), 200_000, 60_000); // both old windows gone
        assert!(d.estimate() < 2.0);
    }

    proptest! {
        #[test]
        fn seen_values_below_rotation_are_one_bloom_filter(values in proptest::collection::vec(0u64..u64::MAX, 0..170)) {
            let (mut one, mut two) = (Bloom1k::default(), SeenValues::default());
            for v in values {
                if two.prev.is_some() {
                    break; // rotated: from here on it is meant to differ
                }
                prop_assert_eq!(one.insert(v), two.insert(v));
            }
        }

        #[test]
        fn bloom_has_no_false_negatives(values in proptest::collection::vec(".{0,12}", 0..200)) {
            let mut b = Bloom1k::default();
            for v in &values { b.insert(fingerprint(3, v)); }
            for v in &values { prop_assert!(b.contains(fingerprint(3, v))); }
        }

        #[test]
        fn distinct_estimate_tracks_truth(n in 0usize..60) {
            let mut d = DistinctWindow::default();
            for i in 0..n { d.insert(fingerprint(2, &i.to_string()), 0, 60_000); }
            let est = d.estimate();
            prop_assert!(est <= n as f32 * 1.6 + 1.0 && est >= n as f32 * 0.6 - 1.0, "n={} est={}", n, est);
        }

        #[test]
        fn ewm_mean_stays_within_sample_range(xs in proptest::collection::vec(-50.0f32..50.0, 1..300)) {
            let mut e = Ewm::default();
            for x in &xs { e.update(*x, 0.02, 0.1); }
            let lo = xs.iter().cloned().fold(f32::INFINITY, f32::min);
            let hi = xs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            prop_assert!(e.mean >= lo - 1e-3 && e.mean <= hi + 1e-3);
            prop_assert!(e.var >= 0.0);
        }

        #[test]
        fn surprises_are_monotone(k in 1u32..200, mu in 0.01f32..50.0) {
            prop_assert!(poisson_surprise(k as f32 + 1.0, mu) >= poisson_surprise(k as f32, mu) - 1e-3);
            let z = k as f32 / 20.0;
            prop_assert!(normal_surprise(z + 0.05) >= normal_surprise(z));
        }
    }
}
