//! `warden splice`: real attack records spliced into simulated principals.
//!
//! Real detonation logs (Stratus Red Team techniques, the Invictus IR hour)
//! have attacks but no baseline; the simulator has baselines but made-up
//! attacks. Splicing puts each real unit (a technique's file, or one
//! principal of a captured hour) into the stream of one simulated principal
//! with a steady history: identity, account and times are rewritten, and the
//! label-bearing user-agent marker is stripped, so the detectors see the real
//! calls as that principal's next calls. Labels come from the data set's own
//! ground truth and are never read by the detectors.

use crate::adapt::Format;
use crate::decide::Decision;
use crate::engine::{Engine, EngineError};
use crate::event::{AgentType, CallBatchBuilder, CallColumns, CallEvent};
use crate::input::{expand_inputs, EventReader, InputError, ReadOptions};
use crate::offline::eval::{WINDOW_AFTER_MS, WINDOW_BEFORE_MS};
use crate::sim::{self, SimConfig};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
/// Why a splice could not be made.
pub enum SpliceError {
    #[error(transparent)]
    /// An input could not be read.
    Source(#[from] InputError),
    #[error("{0}")]
    /// The inputs do not fit the plan (no units, too long for the background).
    Plan(String),
}

/// What one spliced unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SpliceUnit {
    /// Each input file is one unit, labelled with its file stem (Stratus: the technique).
    File,
    /// Each principal is one unit, labelled by the Invictus IR ground truth.
    Principal,
}

/// How `warden splice` places real attack logs into a simulated background.
pub struct SpliceConfig {
    /// The simulated background fleet.
    pub background: SimConfig,
    /// The CloudTrail inputs holding the real attacks.
    pub inputs: Vec<String>,
    /// What one spliced unit is.
    pub unit: SpliceUnit,
    /// When the first unit starts, after the background's start (baselines form first).
    pub start_after_ms: i64,
    /// Gap between unit starts, so units do not overlap.
    pub spacing_ms: i64,
}

/// One unit's placement and, after `evaluate`, what Warden made of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnitReport {
    /// The unit's name (file stem or principal).
    pub unit: String,
    /// The background agent it was mapped onto.
    pub host: String,
    /// That agent's type.
    pub host_type: &'static str,
    /// Calls in the unit.
    pub events: u64,
    /// Events per label (`benign` for unlabelled).
    pub labels: BTreeMap<String, u64>,
    /// When the unit's first call was placed (ms since the epoch).
    pub start_ms: i64,
    /// When its last call was placed.
    pub end_ms: i64,
    /// Whether a finding was raised on the host in the unit's window.
    pub detected: bool,
    /// Seconds from the unit's first call to the first finding.
    pub delay_s: Option<f64>,
    /// Highest risk of a finding in the window.
    pub max_risk: u8,
    /// Whether the host's credential was revoked in the window.
    pub revoked: bool,
    /// Detectors behind the unit's first finding.
    pub features: Vec<String>,
}

/// A background with the real attacks placed into it.
pub struct Spliced {
    /// Every call, background and spliced, in time order.
    pub events: Vec<CallEvent<'static>>,
    /// Where each unit went.
    pub units: Vec<UnitReport>,
}

/// Removes the `stratus-red-team_<id>` marker (and brackets around a user
/// agent that was only wrapped for it). `None` when nothing is left.
pub(crate) fn strip_marker(ua: &str) -> Option<String> {
    let mut out = String::with_capacity(ua.len());
    for tok in ua.split(' ') {
        let t = tok.trim_matches(|c| c == '[' || c == ']');
        if t.starts_with("stratus-red-team_") {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(tok);
    }
    let out = out
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim()
        .to_string();
    (!out.is_empty()).then_some(out)
}

/// The Invictus IR ground truth (its README): user agents starting with the
/// Stratus marker are attack steps; other calls carrying it, and everything
/// by `bert-jan` or a `stratus-red-team*` principal, are attack set-up; the
/// rest (the `benjamin` user, AWS services) is benign.
fn invictus_label(agent: &str, ua: Option<&str>) -> Option<&'static str> {
    let ua = ua.unwrap_or("");
    let bare = ua.trim_start_matches('[');
    if bare.starts_with("stratus-red-team_") {
        Some("attack_step")
    } else if ua.contains("stratus-red-team_")
        || agent.contains("bert-jan")
        || agent.contains("stratus-red-team")
    {
        Some("attack_setup")
    } else {
        None
    }
}

/// Twelve-digit AWS account ids inside resource names become the simulated
/// account (`000000000000`), so a real ARN reads as the host's own.
fn rewrite_accounts(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run == 12 && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            out.push_str("000000000000");
            i += run;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let ch = s[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn read_units(cfg: &SpliceConfig) -> Result<Vec<(String, Vec<CallEvent<'static>>)>, SpliceError> {
    let mut units: BTreeMap<String, Vec<CallEvent<'static>>> = BTreeMap::new();
    for spec in expand_inputs(&cfg.inputs)? {
        let opts = ReadOptions {
            format: Format::Auto,
            ..ReadOptions::default()
        };
        let mut reader = EventReader::open(&spec, opts, Arc::new(AtomicU64::new(0)))?;
        let stem = spec
            .name()
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(".gz")
            .trim_end_matches(".json")
            .to_string();
        let mut bad = Vec::new();
        while let Some(batch) = reader.next_batch(&mut bad)? {
            let cols = CallColumns::new(&batch).map_err(|e| SpliceError::Plan(e.to_string()))?;
            for i in 0..cols.len() {
                let r = cols.row(i);
                let key = match cfg.unit {
                    SpliceUnit::File => stem.clone(),
                    SpliceUnit::Principal => r.agent_id.to_string(),
                };
                // Source tenant, pass-through fields and any label are not
                // the host's: they are replaced when the unit is placed.
                let ev = CallEvent {
                    tenant: None,
                    label: None,
                    extra: None,
                    ..r.to_event()
                };
                units.entry(key).or_default().push(ev);
            }
        }
        if let Some(b) = bad.first() {
            return Err(SpliceError::Plan(format!(
                "{} bad records in the spliced input, first: {b}",
                bad.len()
            )));
        }
    }
    Ok(units.into_iter().collect())
}

/// A background principal: first call, kind, tenant.
type HostInfo = (i64, AgentType, Option<String>);

/// Builds the spliced stream: the background fleet plus every unit in its host.
pub fn splice(cfg: &SpliceConfig) -> Result<Spliced, SpliceError> {
    let units = read_units(cfg)?;
    let fleet = sim::generate(&cfg.background);
    let mut text = Vec::new();
    sim::write_events(&fleet, &mut text).map_err(|e| SpliceError::Plan(e.to_string()))?;
    let text = String::from_utf8(text).map_err(|e| SpliceError::Plan(e.to_string()))?;
    let mut events: Vec<CallEvent<'static>> = Vec::new();
    let mut first_seen: BTreeMap<String, HostInfo> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let ev = crate::event::decode_line(line, i as u64 + 1)
            .map_err(|e| SpliceError::Plan(e.to_string()))?
            .into_owned();
        first_seen.entry(ev.agent_id.to_string()).or_insert((
            ev.ts_ms,
            ev.agent_type,
            ev.tenant.as_deref().map(String::from),
        ));
        events.push(ev);
    }
    // Hosts: automation principals (service accounts, workloads) that were
    // there from the start, so each has a full baseline.
    let start = cfg.background.start_ms;
    let hosts: Vec<(&String, &HostInfo)> = first_seen
        .iter()
        .filter(|(_, (t, kind, _))| {
            *t < start + 3_600_000
                && matches!(kind, AgentType::ServiceAccount | AgentType::Workload)
        })
        .collect();
    if hosts.len() < units.len() {
        return Err(SpliceError::Plan(format!(
            "{} units need as many host principals, the background has {} (raise --agents)",
            units.len(),
            hosts.len()
        )));
    }
    // Principals of one captured hour keep their relative timing; technique
    // files are independent and are spaced apart.
    let global_t0 = units
        .iter()
        .flat_map(|(_, r)| r.iter().map(|e| e.ts_ms))
        .min()
        .unwrap_or(0);
    let mut reports = Vec::new();
    for (k, ((unit, recs), (host, (_, host_type, tenant)))) in
        units.into_iter().zip(hosts).enumerate()
    {
        let own_t0 = recs.iter().map(|e| e.ts_ms).min().unwrap_or(0);
        let (unit_start, t0) = match cfg.unit {
            SpliceUnit::File => (
                start + cfg.start_after_ms + k as i64 * cfg.spacing_ms,
                own_t0,
            ),
            SpliceUnit::Principal => (start + cfg.start_after_ms + (own_t0 - global_t0), own_t0),
        };
        let mut labels: BTreeMap<String, u64> = BTreeMap::new();
        let mut end = unit_start;
        for mut ev in recs {
            let label = match cfg.unit {
                SpliceUnit::File => Some(unit.clone()),
                SpliceUnit::Principal => {
                    invictus_label(&ev.agent_id, ev.user_agent.as_deref()).map(String::from)
                }
            };
            *labels
                .entry(label.clone().unwrap_or_else(|| "benign".into()))
                .or_default() += 1;
            ev.ts_ms = unit_start + (ev.ts_ms - t0);
            end = end.max(ev.ts_ms);
            ev.agent_id = Cow::Owned(host.clone());
            ev.agent_type = *host_type;
            ev.tenant = tenant.clone().map(Cow::Owned);
            ev.user_agent = ev
                .user_agent
                .as_deref()
                .and_then(strip_marker)
                .map(Cow::Owned);
            ev.resource = ev
                .resource
                .as_deref()
                .map(|r| Cow::Owned(rewrite_accounts(r)));
            ev.label = label.map(Cow::Owned);
            events.push(ev);
        }
        reports.push(UnitReport {
            unit,
            host: host.clone(),
            host_type: host_type.as_str(),
            events: labels.values().sum(),
            labels,
            start_ms: unit_start,
            end_ms: end,
            detected: false,
            delay_s: None,
            max_risk: 0,
            revoked: false,
            features: Vec::new(),
        });
    }
    events.sort_by_key(|e| e.ts_ms);
    Ok(Spliced {
        events,
        units: reports,
    })
}

/// Runs the engine over the spliced stream and fills in each unit's result:
/// detected when a new finding on its host falls in the evaluation's
/// detection window ([start - 1 min, end + 5 min], as `eval` counts it).
pub fn evaluate(spliced: &mut Spliced, engine: &mut Engine) -> Result<(), EngineError> {
    let mut findings: Vec<(String, i64, u8, Vec<String>)> = Vec::new();
    let mut revocations: Vec<(String, i64)> = Vec::new();
    let mut risk: BTreeMap<String, u8> = BTreeMap::new();
    for chunk in spliced.events.chunks(4096) {
        let mut b = CallBatchBuilder::with_capacity(chunk.len());
        for e in chunk {
            b.push(e);
        }
        let batch = b.finish();
        engine.process_batch(&batch, &mut |_, d| match d {
            Decision::Finding(f) => {
                let r = risk.entry(f.agent_id.clone()).or_default();
                *r = (*r).max(f.risk);
                if f.seq == 0 {
                    findings.push((
                        f.agent_id.clone(),
                        f.time_ms,
                        f.risk,
                        f.contributions
                            .iter()
                            .map(|c| c.feature.name().to_string())
                            .collect(),
                    ));
                }
            }
            Decision::Revocation(r) => revocations.push((r.agent_id.clone(), r.time_ms)),
            Decision::Suppressed(_) | Decision::Violation(_) => {}
        })?;
    }
    for u in &mut spliced.units {
        let (lo, hi) = (u.start_ms - WINDOW_BEFORE_MS, u.end_ms + WINDOW_AFTER_MS);
        if let Some((_, t, _, feats)) = findings
            .iter()
            .find(|(a, t, _, _)| *a == u.host && *t >= lo && *t <= hi)
        {
            u.detected = true;
            u.delay_s = Some(((t - u.start_ms).max(0)) as f64 / 1000.0);
            u.features = feats.clone();
        }
        u.max_risk = findings
            .iter()
            .filter(|(a, t, _, _)| *a == u.host && *t >= lo && *t <= hi)
            .map(|f| f.2)
            .max()
            .unwrap_or(0);
        u.revoked = revocations
            .iter()
            .any(|(a, t)| *a == u.host && *t >= lo && *t <= hi);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_stripped_and_accounts_rewritten() {
        assert_eq!(strip_marker("stratus-red-team_f3f19dcd-8552"), None);
        assert_eq!(strip_marker("[stratus-red-team_abc]"), None);
        assert_eq!(
            strip_marker("aws-sdk-go/1.44 (linux) stratus-red-team_abc HashiCorp/0.17").as_deref(),
            Some("aws-sdk-go/1.44 (linux) HashiCorp/0.17")
        );
        assert_eq!(
            strip_marker("[aws-cli/2.1 stratus-red-team_x]").as_deref(),
            Some("aws-cli/2.1")
        );
        assert_eq!(
            rewrite_accounts("arn:aws:iam::946986569305:user/x"),
            "arn:aws:iam::000000000000:user/x"
        );
        assert_eq!(rewrite_accounts("i-0123456789012345"), "i-0123456789012345");
    }

    #[test]
    fn invictus_ground_truth() {
        assert_eq!(
            invictus_label("arn:aws:iam::1:user/benjamin", Some("aws-cli/2")),
            None
        );
        assert_eq!(
            invictus_label("x", Some("[stratus-red-team_1]")),
            Some("attack_step")
        );
        assert_eq!(
            invictus_label("x", Some("Terraform/1 stratus-red-team_1 exec")),
            Some("attack_setup")
        );
        assert_eq!(
            invictus_label("arn:aws:iam::1:user/bert-jan", Some("console")),
            Some("attack_setup")
        );
    }
}
