//! OCSF 1.8.0 Detection Finding (class 2004) for findings.

use crate::decide::{Contribution, Finding, FindingActivity, SuppressedFinding, Violation};
use crate::event::{AgentType, Outcome};
use serde_json::{json, Map, Value};

pub(crate) const OCSF_VERSION: &str = "1.8.0";

/// (severity_id, severity, risk_level_id, risk_level) for a risk score.
pub fn severity(risk: u8) -> (u8, &'static str, u8, &'static str) {
    match risk {
        90..=100 => (5, "Critical", 4, "Critical"),
        75..=89 => (4, "High", 3, "High"),
        50..=74 => (3, "Medium", 2, "Medium"),
        25..=49 => (2, "Low", 1, "Low"),
        _ => (1, "Informational", 0, "Info"),
    }
}

pub(crate) fn user_type(t: AgentType) -> (u8, &'static str) {
    match t {
        AgentType::Human => (1, "User"),
        AgentType::Unknown => (0, "Unknown"),
        _ => (4, "Service"),
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x:.2}")
    }
}

fn describe(c: &Contribution) -> String {
    let f = c.feature;
    match &c.value {
        Some(v) => format!(
            "{} `{}` ({:.1} bits)",
            f.name(),
            crate::event::echo(v),
            c.surprise
        ),
        None => format!(
            "{} {} {} vs baseline {} ({:.1} bits)",
            f.name(),
            fmt_num(c.observed),
            f.unit(),
            fmt_num(c.expected),
            c.surprise
        ),
    }
}

/// The record's own id (`metadata.uid`): the finding's uid and its place in
/// the episode, so a Create, each Update and the Close are distinct records
/// of one finding.
pub(crate) fn finding_record_uid(f: &Finding) -> String {
    format!("{}:{}", f.uid, f.seq)
}

/// A finding suppressions covered, as an OCSF 1.8.0 Detection Finding
/// with status Suppressed: what would have been raised, and who said it is
/// benign and why (`status_detail`, `comment`).
pub fn suppressed_finding(s: &SuppressedFinding) -> Value {
    let mut v = detection_finding(&s.finding);
    v["status_id"] = json!(3);
    v["status"] = json!("Suppressed");
    let why: Vec<String> = s.by.iter().map(|r| r.describe()).collect();
    v["status_detail"] = json!(why.join("; "));
    if let Some(first) = s.by.first() {
        v["comment"] = json!(first.reason);
    }
    if let Some(m) = v["message"].as_str() {
        v["message"] = json!(format!("{m} [suppressed]"));
    }
    v
}

/// A guardrail policy violation as an OCSF 1.8.0 Detection Finding: the
/// rule is the analytic (type Rule) and sets the severity; the call's
/// behavioural risk stays in `risk_score`.
pub fn policy_violation(v: &Violation) -> Value {
    let f = &v.finding;
    let rule = &v.rule;
    let mut out = detection_finding(f);
    let (severity_id, severity) = (rule.severity.id(), rule.severity.caption());
    out["severity_id"] = json!(severity_id);
    out["severity"] = json!(severity);
    let message = format!(
        "{} ({}) violated guardrail policy {}: {} (call {}{})",
        f.agent_id,
        f.agent_type.as_str(),
        rule.id,
        rule.description,
        f.trigger.action,
        f.trigger
            .resource
            .as_deref()
            .map(|r| format!(" on {r}"))
            .unwrap_or_default()
    );
    out["message"] = json!(message);
    let info = &mut out["finding_info"];
    info["title"] = json!(format!("Guardrail policy violated: {}", rule.id));
    info["desc"] = json!(message);
    info["types"] = json!(["Policy Violation"]);
    info["analytic"] = json!({
        "type_id": 1,
        "type": "Rule",
        "uid": rule.id,
        "name": rule.description,
        "version": env!("CARGO_PKG_VERSION"),
    });
    out["unmapped"]["policy"] = json!({
        "rule": rule.id,
        "source": rule.source,
        "revoke": rule.revoke,
    });
    if let Some(o) = out.as_object_mut() {
        o.remove("anomaly_analyses");
    }
    out
}

/// A finding as an OCSF 1.8.0 Detection Finding.
pub fn detection_finding(f: &Finding) -> Value {
    let (activity_id, activity_name) = match f.activity {
        FindingActivity::Create => (1, "Create"),
        // OCSF has no reopening: it updates the closed finding.
        FindingActivity::Update | FindingActivity::Reopen => (2, "Update"),
        FindingActivity::Close => (3, "Close"),
    };
    let (severity_id, severity_name, risk_level_id, risk_level) = severity(f.risk);
    let (user_type_id, user_type_name) = user_type(f.agent_type);
    let explanation: Vec<String> = f.contributions.iter().map(describe).collect();
    let message = if f.activity == FindingActivity::Close {
        format!(
            "{} ({}): episode closed, quiet since its last finding-level call (last finding: {})",
            f.agent_id,
            f.agent_type.as_str(),
            explanation.join("; ")
        )
    } else if f.activity == FindingActivity::Reopen {
        format!(
            "{} ({}) deviates again soon after this finding was closed, so it is reopened: {}",
            f.agent_id,
            f.agent_type.as_str(),
            explanation.join("; ")
        )
    } else {
        format!(
            "{} ({}) deviates from its baseline: {}",
            f.agent_id,
            f.agent_type.as_str(),
            explanation.join("; ")
        )
    };
    // Status is the consumer's to set; Warden says what it knows: new,
    // still being updated, or closed by Warden after going quiet.
    let (status_id, status) = match f.activity {
        FindingActivity::Create => (1, "New"),
        FindingActivity::Update | FindingActivity::Reopen => (2, "In Progress"),
        FindingActivity::Close => (5, "Archived"),
    };
    let title = match f.contributions.first() {
        Some(c) => format!(
            "Anomalous {} by non-human identity",
            c.feature.name().replace('_', " ")
        ),
        None => "Anomalous behaviour by non-human identity".to_string(),
    };
    let obs = |p: &str, v: f64| json!({"observation_parameter": p, "observation_type": "Behavioral Analysis", "observations": [{"value": fmt_num(v)}]});
    let anomaly_analyses: Vec<Value> = f
        .contributions
        .iter()
        .map(|c| {
            let param = format!("{}[{}]", c.feature.name(), c.feature.unit());
            let mut anomaly = obs(&param, c.observed);
            if let Some(v) = &c.value {
                anomaly["observed_pattern"] = json!(v);
            }
            json!({
                "analysis_targets": [{"name": f.agent_id, "type": "Non-Human Identity"}],
                "anomalies": [anomaly],
                "baselines": [obs(&param, c.expected)],
            })
        })
        .collect();
    let ev = &f.trigger;
    let mut user = json!({"uid": f.agent_id, "name": f.agent_id, "type_id": user_type_id, "type": user_type_name});
    if let Some(s) = &f.session_id {
        user["credential_uid"] = json!(s);
    }
    let mut actor = json!({"user": user});
    if let Some(p) = &ev.parent_id {
        actor["invoked_by"] = json!(p);
    }
    let (service, operation) = match ev.action.split_once(':') {
        Some((svc, op)) if !svc.contains(' ') => (Some(svc), op),
        _ => (None, ev.action.as_str()),
    };
    let mut api = json!({"operation": operation});
    if let Some(svc) = service {
        api["service"] = json!({"name": svc});
    }
    if let Some(id) = &ev.event_id {
        api["request"] = json!({"uid": id});
    }
    let mut evidence = json!({"actor": actor, "api": api});
    let mut src = Map::new();
    if let Some(ip) = &ev.src_ip {
        // OCSF `ip` is an IP address type; text that is not an address goes to `hostname`.
        if ip.parse::<std::net::IpAddr>().is_ok() {
            src.insert("ip".into(), json!(ip));
        } else {
            src.insert("hostname".into(), json!(ip));
        }
    }
    if !src.is_empty() {
        evidence["src_endpoint"] = Value::Object(src);
    }
    if let Some(ua) = &ev.user_agent {
        evidence["http_request"] = json!({"user_agent": ua});
    }
    if let Some(r) = &ev.resource {
        evidence["resources"] = json!([{"uid": r}]);
    }
    let mut data = Map::new();
    data.insert(
        "outcome".into(),
        json!(match ev.outcome {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }),
    );
    if let Some(extra) = ev
        .extra
        .as_deref()
        .and_then(|e| serde_json::from_str::<Value>(e).ok())
    {
        data.insert("extra".into(), extra);
    }
    evidence["data"] = Value::Object(data);

    let related: Vec<Value> = f
        .related_event_ids
        .iter()
        .map(|id| json!({"uid": id}))
        .collect();
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "product": {"name": "Warden", "vendor_name": "Warden", "version": env!("CARGO_PKG_VERSION"), "uid": "warden"},
        "uid": finding_record_uid(f),
        "correlation_uid": f.uid,
        "log_name": "warden.findings",
    });
    if let Some(t) = &f.tenant {
        metadata["tenant_uid"] = json!(t);
    }
    let mut out = json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 200400 + activity_id,
        "type_name": format!("Detection Finding: {activity_name}"),
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": status_id,
        "status": status,
        "time": f.time_ms,
        "risk_score": f.risk,
        "risk_level_id": risk_level_id,
        "risk_level": risk_level,
        "message": message,
        "metadata": metadata,
        "finding_info": {
            "uid": f.uid,
            "title": title,
            "desc": message,
            "types": ["Behavioral Anomaly"],
            "analytic": {
                "type_id": 2,
                "type": "Behavioral",
                "uid": f.contributions.first().map_or("warden", |c| c.feature.name()),
                "name": format!("warden behavioural baseline: {}", f.contributions.iter().map(|c| c.feature.name()).collect::<Vec<_>>().join("+")),
                "version": env!("CARGO_PKG_VERSION"),
            },
            "first_seen_time": f.first_seen_ms,
            "last_seen_time": f.time_ms,
            "related_events_count": related.len(),
            "related_events": related,
        },
        "evidences": [evidence],
        "anomaly_analyses": anomaly_analyses,
        "unmapped": {"cohort": f.cohort},
    });
    // Only the Create is an alert (the published schema says so): a
    // reopening updates the finding the analyst already has.
    if f.activity == FindingActivity::Create {
        out["is_alert"] = json!(true);
    }
    if !f.attacks.is_empty() {
        out["finding_info"]["attacks"] = f.attacks.iter().map(attack).collect();
    }
    out
}

/// An ATT&CK tag as an OCSF `attack` object.
fn attack(t: &crate::signal::AttackTag) -> Value {
    json!({
        "tactic": {"uid": &*t.tactic_uid, "name": &*t.tactic},
        "technique": {"uid": &*t.technique_uid, "name": &*t.technique},
        "version": &*t.version,
    })
}
