//! Benign changes real fleets go through, drawn per tenant (team) and per
//! agent: the things a detector must take in its stride. Each one is an
//! alert a naive detector raises, so the evaluation has to contain them:
//! daylight-saving shifts, working schedules that drift from day to day,
//! team-wide roll-outs of a sensitive API, egress moves to a new network,
//! client-library upgrades, storage migrations, outages with retries and
//! one-off backfills.

use super::{HOUR, MINUTE};
use crate::event::AgentType;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Sensitive calls a team may start using all at once (a new feature that
/// reads a secret, decrypts a key, fetches a parameter).
const SENSITIVE_ROLLOUTS: [&str; 4] = [
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "ssm:GetParameter",
    "sts:AssumeRole",
];

/// One team's changes over the run; `None` where the team has none.
#[derive(Debug, Default, Clone)]
pub(crate) struct TeamChanges {
    /// Daylight saving: from this time, local time is this many hours later.
    pub dst: Option<(i64, i64)>,
    /// From this time the team's internal addresses come from a new /16.
    pub egress_at: Option<i64>,
    /// From about this time (each agent within an hour) clients are upgraded.
    pub upgrade_at: Option<i64>,
    /// Agents of this kind start calling this sensitive action from about
    /// this time (each within 20 minutes).
    pub rollout: Option<(AgentType, &'static str, i64)>,
    /// From this time storage names carry a new suffix (a migration).
    pub migration_at: Option<i64>,
    /// A dependency outage: calls fail with 503 and are retried.
    pub outage: Option<(i64, i64)>,
}

impl TeamChanges {
    /// Draws a team's changes for a run of `[start, end)`; the changes land
    /// after the first sixth of the run, so some history precedes them.
    /// With `every` (the `busy-teams` variant) the team goes through each
    /// kind of change.
    pub fn draw(rng: &mut ChaCha8Rng, start: i64, end: i64, every: bool) -> TeamChanges {
        let span = (end - start).max(HOUR);
        let at = |rng: &mut ChaCha8Rng| start + span / 6 + rng.random_range(0..span * 2 / 3);
        let p = |share: f64| if every { 1.0 } else { share };
        let dst = rng
            .random_bool(p(0.3))
            .then(|| (at(rng), if rng.random_bool(0.5) { 1 } else { -1 }));
        let egress_at = rng.random_bool(p(0.3)).then(|| at(rng));
        let upgrade_at = rng.random_bool(p(0.4)).then(|| at(rng));
        let rollout = rng.random_bool(p(0.5)).then(|| {
            let kind = [
                AgentType::AiAgent,
                AgentType::ServiceAccount,
                AgentType::Workload,
            ][rng.random_range(0..3)];
            let action = SENSITIVE_ROLLOUTS[rng.random_range(0..SENSITIVE_ROLLOUTS.len())];
            (kind, action, at(rng))
        });
        let migration_at = rng.random_bool(p(0.25)).then(|| at(rng));
        let outage = rng.random_bool(p(0.35)).then(|| {
            let s = at(rng);
            (s, s + rng.random_range(15..45) * MINUTE)
        });
        TeamChanges {
            dst,
            egress_at,
            upgrade_at,
            rollout,
            migration_at,
            outage,
        }
    }

    /// Hours added to the team's time zone at `t`.
    pub fn dst_shift(&self, t: i64) -> i64 {
        match self.dst {
            Some((at, shift)) if t >= at => shift,
            _ => 0,
        }
    }

    pub fn in_outage(&self, t: i64) -> bool {
        self.outage.is_some_and(|(s, e)| t >= s && t < e)
    }
}

/// An agent's own schedule drift on one day, in ms: people start work
/// earlier or later from day to day, and so do the keys they drive. Up to
/// ±50 minutes, fixed per agent and day.
pub(crate) fn schedule_drift(agent_name: u32, day: i64) -> i64 {
    let h = (u64::from(agent_name) ^ (day as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let h = h ^ (h >> 31);
    (h % 101) as i64 * MINUTE - 50 * MINUTE
}

/// A one-off backfill: this agent runs at ten times its volume, with its
/// usual actions, for two hours from this time.
pub(crate) fn draw_backfill(
    rng: &mut ChaCha8Rng,
    kind: AgentType,
    start: i64,
    end: i64,
) -> Option<i64> {
    let eligible = matches!(kind, AgentType::ServiceAccount | AgentType::Workload);
    (eligible && end - start > 8 * HOUR && rng.random_bool(0.06))
        .then(|| start + 4 * HOUR + rng.random_range(0..end - start - 7 * HOUR))
}

/// A one-off backfill under the `night-backfills` variant: any kind of
/// agent, 15 % of them, starting in the team's night (local 00:00–04:00;
/// `tz_h` is the team's offset from UTC, daylight saving aside).
pub(crate) fn draw_night_backfill(
    rng: &mut ChaCha8Rng,
    start: i64,
    end: i64,
    tz_h: i64,
) -> Option<i64> {
    if end - start <= 8 * HOUR || !rng.random_bool(0.15) {
        return None;
    }
    let mut t = start + 4 * HOUR + rng.random_range(0..end - start - 7 * HOUR);
    let local_hour = |t: i64| (t.div_euclid(HOUR) + tz_h).rem_euclid(24);
    while local_hour(t) >= 4 {
        t += HOUR;
    }
    let t = t + rng.random_range(0..HOUR);
    (t + BACKFILL_MS <= end).then_some(t)
}

/// Backfill volume multiplier.
pub(crate) const BACKFILL_MULT: f64 = 10.0;
/// How long a backfill runs.
pub(crate) const BACKFILL_MS: i64 = 2 * HOUR;

/// A client string after a library upgrade: the first version number's
/// minor part goes up (`Boto3/1.34.2 …` → `Boto3/1.35.0 …`); the product
/// stays the same, as it does in a real upgrade.
pub(crate) fn upgraded(ua: &str) -> String {
    let Some(slash) = ua.find('/') else {
        return format!("{ua}/2");
    };
    let (head, rest) = ua.split_at(slash + 1);
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (version, tail) = rest.split_at(end);
    let mut parts: Vec<u64> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    match parts.len() {
        0 => return format!("{head}2{tail}"),
        1 => parts[0] += 1,
        _ => {
            parts[1] += 1;
            for p in parts.iter_mut().skip(2) {
                *p = 0;
            }
        }
    }
    let v: Vec<String> = parts.iter().map(u64::to_string).collect();
    format!("{head}{}{tail}", v.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_bump_the_minor_version_and_keep_the_product() {
        assert_eq!(
            upgraded("Boto3/1.34.2 Python/3.11.7"),
            "Boto3/1.35.0 Python/3.11.7"
        );
        assert_eq!(upgraded("openai-agents/1.4.2"), "openai-agents/1.5.0");
        assert_eq!(upgraded("PartnerSync/3.2"), "PartnerSync/3.3");
        assert_eq!(upgraded("curl"), "curl/2");
    }

    #[test]
    fn drift_stays_within_fifty_minutes_and_varies_by_day() {
        let d: Vec<i64> = (0..30).map(|day| schedule_drift(7, day)).collect();
        assert!(d.iter().all(|x| x.abs() <= 50 * MINUTE));
        assert!(d.iter().any(|x| *x != d[0]));
    }
}
