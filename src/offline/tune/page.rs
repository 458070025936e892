//! The tuning report as a self-contained HTML page (`warden tune
//! --report-html`): the sweep's charts and table, the recommendation and
//! the same panels as the replay page.

use crate::offline::report::svg::{escape, LineChart, Series};
use crate::offline::report::{page, scenario_chart, score_charts, subtitle, Timeline, TopAgents};
use crate::signal::RiskHistogram;

/// The tuning report.
pub fn tune_page(
    inputs: &[String],
    r: &super::TuneReport,
    timeline: &Timeline,
    risks: &RiskHistogram,
    top: &TopAgents,
) -> String {
    let x = |f: fn(&super::FindingRow) -> Option<f64>| -> Vec<(f64, f64)> {
        r.finding_sweep
            .iter()
            .filter_map(|row| f(row).map(|y| (row.finding_threshold as f64, y)))
            .collect()
    };
    let threshold_tick = |v: f64| format!("{v:.0}");
    let mut sweep = String::new();
    if r.labelled {
        let pr: Vec<(f64, f64)> = r
            .finding_sweep
            .iter()
            .filter_map(|row| Some((row.recall?, row.precision?)))
            .collect();
        let charts = [
            LineChart::new(
                "Recall and precision by finding threshold",
                "finding threshold (risk)",
                "",
            )
            .unit_y()
            .render(
                &[
                    Series {
                        name: "recall",
                        points: x(|r| r.recall),
                    },
                    Series {
                        name: "precision",
                        points: x(|r| r.precision),
                    },
                ],
                &threshold_tick,
            ),
            LineChart::new(
                "Precision/recall of findings (one point per threshold)",
                "recall (attack episodes detected)",
                "precision (findings in an attack)",
            )
            .unit_square()
            .render(
                &[Series {
                    name: "thresholds",
                    points: pr,
                }],
                &|v| format!("{v:.2}"),
            ),
            LineChart::new(
                "False findings per 1,000 agent-days",
                "finding threshold (risk)",
                "false findings / 1,000 agent-days",
            )
            .render(
                &[Series {
                    name: "false findings",
                    points: x(|r| r.false_findings_per_1000_agent_days),
                }],
                &threshold_tick,
            ),
        ];
        sweep.push_str(&charts.concat());
    }
    sweep.push_str(
        &LineChart::new(
            "New findings per day by finding threshold",
            "finding threshold (risk)",
            "findings per day",
        )
        .render(
            &[Series {
                name: "findings/day",
                points: x(|r| Some(r.findings_per_day)),
            }],
            &threshold_tick,
        ),
    );
    sweep.push_str("<pre>");
    sweep.push_str(&escape(&super::render::text(r)));
    sweep.push_str("</pre>");
    let (rec_text, scenarios) = match &r.recommendation {
        Some(rec) => (
            format!(
                "<p>Recommended: <b>finding_threshold = {:.1}</b>, <b>revoke_threshold = {:.1}</b> ({}). On this input: {}.</p>",
                rec.finding_threshold,
                rec.revoke_threshold,
                escape(&rec.why),
                escape(&super::render::summary_line(&rec.figures))
            ),
            scenario_chart(
                "Recall per attack scenario at the recommendation",
                &rec.figures.scenarios,
            ),
        ),
        None => (
            format!(
                "<p>No recommendation: {}.</p>",
                escape(r.no_recommendation.as_deref().unwrap_or("none"))
            ),
            String::new(),
        ),
    };
    page(
        "Warden tune",
        &subtitle(inputs),
        &[
            ("Recommendation", rec_text),
            ("Threshold sweep", sweep),
            (
                "Events and findings over time (at the recommendation)",
                timeline.clone().chart(),
            ),
            (
                "Score distribution (at the recommendation)",
                score_charts(risks, r.labelled),
            ),
            ("Recall per attack scenario", scenarios),
            ("Agents with findings (at the recommendation)", top.table()),
        ],
    )
}
