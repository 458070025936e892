//! `--report-html`: one self-contained HTML file (inline CSS and SVG, no
//! scripts, no network) that a team opens to look at a replay or a tuning
//! run: events and findings over time, score distributions, the
//! precision/recall curve, recall per attack scenario, and the agents that
//! drew findings with the reasons.

pub mod svg;

use crate::decide::{Decision, Finding};
use crate::emit::{DecisionSink, Rendered, SinkError};
use crate::event::format_rfc3339_ms;
use crate::offline::eval::{EvalReport, ScenarioReport};
use crate::signal::RiskHistogram;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use svg::{escape, LineChart, Series};

use crate::event::HOUR_MS;

/// Events and new findings per hour of event time.
#[derive(Debug, Default, Clone)]
pub struct Timeline {
    hours: BTreeMap<i64, (u64, u64)>,
    /// The hour being counted (calls arrive mostly in time order).
    current: Option<(i64, u64)>,
}

impl Timeline {
    pub(crate) fn add_event(&mut self, ts_ms: i64) {
        let h = ts_ms.div_euclid(HOUR_MS);
        match &mut self.current {
            Some((hour, n)) if *hour == h => *n += 1,
            _ => {
                self.flush();
                self.current = Some((h, 1));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((h, n)) = self.current.take() {
            self.hours.entry(h).or_default().0 += n;
        }
    }

    pub(crate) fn add_finding(&mut self, ts_ms: i64) {
        self.hours.entry(ts_ms.div_euclid(HOUR_MS)).or_default().1 += 1;
    }

    pub(crate) fn chart(&mut self) -> String {
        self.flush();
        let (Some(&first), Some(&last)) = (self.hours.keys().next(), self.hours.keys().last())
        else {
            return String::new();
        };
        let mut events = Vec::new();
        let mut findings = Vec::new();
        for h in first..=last {
            let (e, f) = self.hours.get(&h).copied().unwrap_or_default();
            let x = (h - first) as f64;
            events.push((x, e as f64));
            findings.push((x, f as f64));
        }
        let start = first * HOUR_MS;
        let tick = move |x: f64| {
            let t = format_rfc3339_ms(start + (x * HOUR_MS as f64) as i64);
            format!("{} {}h", &t[5..10], &t[11..13])
        };
        let ev = LineChart::new("Calls per hour", "event time (UTC)", "calls").render(
            &[Series {
                name: "calls",
                points: events,
            }],
            &tick,
        );
        let fi = LineChart::new("New findings per hour", "event time (UTC)", "findings").render(
            &[Series {
                name: "new findings",
                points: findings,
            }],
            &tick,
        );
        format!("{ev}\n{fi}")
    }
}

/// An agent that drew findings, with the reason for its riskiest one.
#[derive(Debug, Clone, Default)]
pub struct AgentSummary {
    /// Findings created on the agent.
    pub findings: u64,
    /// Highest risk of them.
    pub max_risk: u8,
    /// When the first was raised (ms since the epoch).
    pub first_ms: i64,
    /// Why its riskiest finding was raised, in one line.
    pub explanation: String,
}

/// Agents by new findings (a `DecisionSink` for replay).
#[derive(Debug, Default, Clone)]
pub struct TopAgents {
    agents: HashMap<String, AgentSummary>,
}

impl TopAgents {
    /// Counts one new finding on `agent`.
    pub fn add(&mut self, agent: &str, time_ms: i64, risk: u8, explanation: &str) {
        let a = self
            .agents
            .entry(agent.to_string())
            .or_insert(AgentSummary {
                first_ms: time_ms,
                ..AgentSummary::default()
            });
        a.findings += 1;
        a.first_ms = a.first_ms.min(time_ms);
        if risk > a.max_risk || a.explanation.is_empty() {
            a.max_risk = risk;
            a.explanation = explanation.to_string();
        }
    }

    /// The `n` agents with most findings (then highest risk).
    pub fn top(&self, n: usize) -> Vec<(&str, &AgentSummary)> {
        let mut v: Vec<_> = self.agents.iter().map(|(k, v)| (k.as_str(), v)).collect();
        v.sort_by(|a, b| {
            (b.1.findings, b.1.max_risk)
                .cmp(&(a.1.findings, a.1.max_risk))
                .then(a.0.cmp(b.0))
        });
        v.truncate(n);
        v
    }

    pub(crate) fn table(&self) -> String {
        let rows = self.top(20);
        if rows.is_empty() {
            return "<p>No findings.</p>".into();
        }
        let mut t = String::from(
            "<table><tr><th>agent</th><th>new findings</th><th>max risk</th><th>first</th><th>why (riskiest finding)</th></tr>",
        );
        for (agent, s) in rows {
            let _ = write!(
                t,
                "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td>{}</td></tr>",
                escape(agent),
                s.findings,
                s.max_risk,
                escape(&format_rfc3339_ms(s.first_ms)),
                escape(&s.explanation)
            );
        }
        t.push_str("</table>");
        t
    }
}

/// A finding's explanation: each contributing detector, observed against
/// expected.
pub(crate) fn explain(f: &Finding) -> String {
    f.contributions
        .iter()
        .map(|c| match &c.value {
            Some(v) => format!(
                "{} {:.1} bits (new: {})",
                c.feature.name(),
                c.surprise,
                crate::event::echo(v)
            ),
            None => format!(
                "{} {:.1} bits (observed {}, expected {})",
                c.feature.name(),
                c.surprise,
                short(c.observed),
                short(c.expected)
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn short(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

impl DecisionSink for TopAgents {
    /// It keeps decisions, not records: nothing is rendered for it.
    fn needs_records(&self) -> bool {
        false
    }

    fn accept(&mut self, d: &Rendered<'_>, _: &()) -> Result<u32, SinkError> {
        if let Decision::Finding(f) = d.decision {
            if f.seq == 0 {
                self.add(&f.agent_id, f.time_ms, f.risk, &explain(f));
            }
        }
        Ok(0)
    }
}

/// Score distribution and the call-level precision/recall curve (how well
/// risk alone separates attack calls from the rest).
pub(crate) fn score_charts(h: &RiskHistogram, labelled: bool) -> String {
    let bins: Vec<f64> = (0..=100).map(f64::from).collect();
    let mut out = if labelled {
        svg::histogram(
            "Risk of every call",
            "risk",
            &bins,
            &[("other calls", &h.other), ("attack calls", &h.attack)],
        )
    } else {
        let all: Vec<u64> = h.other.iter().zip(&h.attack).map(|(a, b)| a + b).collect();
        svg::histogram("Risk of every call", "risk", &bins, &[("calls", &all)])
    };
    let attack_total: u64 = h.attack.iter().sum();
    if labelled && attack_total > 0 {
        let mut pts = Vec::new();
        let (mut tp, mut fp) = (0u64, 0u64);
        for t in (1..=100).rev() {
            tp += h.attack[t];
            fp += h.other[t];
            if tp + fp > 0 {
                pts.push((
                    tp as f64 / attack_total as f64,
                    tp as f64 / (tp + fp) as f64,
                ));
            }
        }
        out.push('\n');
        out.push_str(
            &LineChart::new(
                "Precision/recall of attack calls by risk threshold",
                "recall (attack calls at or above the threshold)",
                "precision",
            )
            .unit_square()
            .render(
                &[Series {
                    name: "calls",
                    points: pts,
                }],
                &|v| format!("{v:.2}"),
            ),
        );
    }
    out
}

pub(crate) fn scenario_chart(title: &str, scenarios: &[ScenarioReport]) -> String {
    if scenarios.is_empty() {
        return "<p>The input carries no attack labels.</p>".into();
    }
    let bars: Vec<(String, f64, String)> = scenarios
        .iter()
        .map(|s| {
            (
                s.scenario.clone(),
                s.recall,
                format!("{}/{}", s.detected, s.episodes),
            )
        })
        .collect();
    svg::bar_chart(title, &bars)
}

pub(crate) fn eval_table(e: &EvalReport) -> String {
    let opt = |v: Option<f64>, d: usize| v.map_or("-".into(), |x| format!("{x:.d$}"));
    format!(
        "<table><tr><th>events</th><th>agents</th><th>agent-days</th><th>new findings</th><th>revocations</th><th>attack episodes</th><th>recall</th><th>false findings / 1,000 agent-days</th><th>wrongful revocations</th><th>median delay</th></tr>\
         <tr><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{:.2}</td><td class=n>{}</td><td class=n>{}</td></tr></table>",
        e.events,
        e.agents,
        e.agent_days,
        e.findings_created,
        e.revocations,
        e.attack_episodes,
        opt(e.recall, 3),
        e.false_findings_per_1000_agent_days,
        e.wrongful_revocations,
        opt(e.median_delay_s, 0).to_string() + "s"
    )
}

/// The page around the sections.
pub(crate) fn page(title: &str, subtitle: &str, sections: &[(&str, String)]) -> String {
    let mut body = String::new();
    for (h, html) in sections {
        let _ = write!(body, "<section><h2>{}</h2>{html}</section>", escape(h));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1320px;color:#222;padding:0 1em}}\
         h1{{font-size:1.5em}}h2{{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}}\
         svg{{max-width:100%;height:auto;margin:.4em .6em .4em 0;vertical-align:top;border:1px solid #eee}}\
         table{{border-collapse:collapse;font-size:.9em;margin:.5em 0}}th,td{{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}}\
         th{{background:#f5f5f5}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}.sub{{color:#666}}\
         </style></head><body><h1>{t}</h1><p class=sub>{s}</p>{body}</body></html>\n",
        t = escape(title),
        s = escape(subtitle)
    )
}

pub(crate) fn subtitle(inputs: &[String]) -> String {
    format!(
        "Warden {} · inputs: {}",
        env!("CARGO_PKG_VERSION"),
        inputs.join(", ")
    )
}

/// The replay report.
pub fn replay_page(
    inputs: &[String],
    eval: &EvalReport,
    timeline: &Timeline,
    risks: &RiskHistogram,
    top: &TopAgents,
) -> String {
    let labelled = eval.labelled_events > 0;
    page(
        "Warden replay",
        &subtitle(inputs),
        &[
            ("Summary", eval_table(eval)),
            ("Events and findings over time", timeline.clone().chart()),
            ("Score distribution", score_charts(risks, labelled)),
            (
                "Recall per attack scenario",
                scenario_chart("Recall per attack scenario", &eval.scenarios),
            ),
            ("Agents with findings", top.table()),
        ],
    )
}
