//! `warden tune` on the terminal: the sweep tables and the recommendation.

use super::{EvalSummary, TuneReport};
use std::fmt::Write;

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.digits$}"))
}

fn count(v: Option<u64>) -> String {
    v.map_or("-".into(), |x| x.to_string())
}

pub(crate) fn summary_line(s: &EvalSummary) -> String {
    format!(
        "recall {}, {} false findings per 1,000 agent-days, {} wrongful revocations, \
         {} findings ({:.1}/day), median delay {}s",
        opt(s.recall, 3),
        opt(s.false_findings_per_1000_agent_days, 2),
        count(s.wrongful_revocations),
        s.findings,
        s.findings_per_day,
        opt(s.median_delay_s, 0)
    )
}

/// The tune report as the terminal shows it.
pub fn text(r: &TuneReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} events, {} agents, {} agent-days over {} days; {} calls at or above the lowest \
         threshold recorded; {}",
        r.events,
        r.agents,
        r.agent_days,
        r.days,
        r.calls_recorded,
        if r.labelled {
            format!("{} labelled attack episodes", r.attack_episodes)
        } else {
            "unlabelled".to_string()
        }
    );
    if r.labelled && r.false_finding_budget < r.false_finding_resolution {
        let _ = writeln!(
            o,
            "note: one false finding in {} agent-days is {:.2} per 1,000, so a budget of {} \
             means none at all on this input; replay more history to resolve it",
            r.agent_days, r.false_finding_resolution, r.false_finding_budget
        );
    }
    let _ = writeln!(
        o,
        "\nfinding threshold sweep (each row as `warden replay` at that threshold)"
    );
    let _ = writeln!(
        o,
        "{:>9} {:>8} {:>8} {:>7} {:>8} {:>7} {:>9} {:>6} {:>9} {:>8}",
        "threshold",
        "findings",
        "per day",
        "agents",
        "detected",
        "recall",
        "precision",
        "false",
        "FF/1000ad",
        "delay s"
    );
    for f in &r.finding_sweep {
        let _ = writeln!(
            o,
            "{:>9.1} {:>8} {:>8.1} {:>7} {:>8} {:>7} {:>9} {:>6} {:>9} {:>8}",
            f.finding_threshold,
            f.findings,
            f.findings_per_day,
            f.agents_with_findings,
            if r.labelled {
                f.detected_episodes.to_string()
            } else {
                "-".to_string()
            },
            opt(f.recall, 3),
            opt(f.precision, 3),
            count(f.false_findings),
            opt(f.false_findings_per_1000_agent_days, 2),
            opt(f.median_delay_s, 0)
        );
    }
    if let Some(rec) = &r.recommendation {
        if !r.revoke_sweep.is_empty() {
            let _ = writeln!(
                o,
                "\nrevocation threshold sweep at finding threshold {:.1}",
                rec.finding_threshold
            );
            let _ = writeln!(
                o,
                "{:>9} {:>11} {:>16} {:>8}",
                "threshold", "revocations", "attacks revoked", "wrongful"
            );
            for v in &r.revoke_sweep {
                let _ = writeln!(
                    o,
                    "{:>9.1} {:>11} {:>16} {:>8}",
                    v.revoke_threshold,
                    v.revocations,
                    count(v.episodes_revoked),
                    count(v.wrongful_revocations)
                );
            }
        }
        if !r.weight_sweep.is_empty() {
            let _ = writeln!(
                o,
                "\none detector down-weighted, at the recommended thresholds (indicative: \
                 recorded calls re-scored, baselines not re-learned)"
            );
            let _ = writeln!(
                o,
                "{:>9} {:>6} {:>7} {:>9} {:>8}",
                "detector", "weight", "recall", "FF/1000ad", "wrongful"
            );
            for w in &r.weight_sweep {
                let _ = writeln!(
                    o,
                    "{:>9} {:>6.2} {:>7} {:>9} {:>8}",
                    w.detector,
                    w.weight,
                    opt(w.recall, 3),
                    opt(w.false_findings_per_1000_agent_days, 2),
                    count(w.wrongful_revocations)
                );
            }
        }
        let _ = writeln!(
            o,
            "\nrecommended: finding_threshold = {:.1}, revoke_threshold = {:.1} ({})",
            rec.finding_threshold, rec.revoke_threshold, rec.why
        );
        let _ = writeln!(o, "  on this input: {}", summary_line(&rec.figures));
    } else if let Some(why) = &r.no_recommendation {
        let _ = writeln!(o, "\nno recommendation: {why}");
    }
    o
}
