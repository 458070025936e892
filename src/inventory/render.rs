//! The review as a terminal table, JSON (everything, for tools) or CSV (one
//! row per identity, for spreadsheets). Identity names come from records an
//! attacker may write: the table shows control characters escaped, and CSV
//! cells that a spreadsheet would run as a formula are quoted as text.

use super::review::{Entry, Flag, Inventory};
use crate::event::{format_rfc3339_ms, DAY_MS};
use serde::Serialize;
use std::io::{self, Write};

/// How `warden inventory` writes its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns, then each identity's unused grants.
    Table,
    /// One JSON document: summary, notes and every entry in full.
    Json,
    /// One row per identity.
    Csv,
}

/// Counts of each flag, for the summary.
#[derive(Debug, Serialize)]
struct Summary {
    identities: usize,
    dormant: usize,
    never_seen: usize,
    new: usize,
    unrotated: usize,
    shared_credential: usize,
    action_growth: usize,
    with_grants: usize,
    with_unused_grants: usize,
    unused_grants: usize,
}

fn summary(inv: &Inventory) -> Summary {
    Summary {
        identities: inv.entries.len(),
        dormant: inv.count(Flag::Dormant),
        never_seen: inv.count(Flag::NeverSeen),
        new: inv.count(Flag::New),
        unrotated: inv.count(Flag::Unrotated),
        shared_credential: inv.count(Flag::SharedCredential),
        action_growth: inv.count(Flag::ActionGrowth),
        with_grants: inv.entries.iter().filter(|e| e.grants.is_some()).count(),
        with_unused_grants: inv.count(Flag::UnusedGrants),
        unused_grants: inv
            .entries
            .iter()
            .filter_map(|e| e.grants.as_ref())
            .map(|g| g.unused.len())
            .sum(),
    }
}

/// Writes the review.
pub fn render(inv: &Inventory, format: OutputFormat, out: &mut dyn Write) -> io::Result<()> {
    match format {
        OutputFormat::Json => {
            #[derive(Serialize)]
            struct Doc<'a> {
                as_of: String,
                first_call: String,
                unused_since: String,
                summary: Summary,
                notes: &'a [String],
                identities: &'a [Entry],
            }
            let doc = Doc {
                as_of: format_rfc3339_ms(inv.as_of_ms),
                first_call: format_rfc3339_ms(inv.first_call_ms),
                unused_since: format_rfc3339_ms(inv.unused_since_ms),
                summary: summary(inv),
                notes: &inv.notes,
                identities: &inv.entries,
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        OutputFormat::Csv => csv(inv, out),
        OutputFormat::Table => table(inv, out),
    }
}

fn flags(e: &Entry) -> String {
    e.flags
        .iter()
        .map(|f| {
            serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn time(ms: Option<i64>) -> String {
    ms.map(format_rfc3339_ms).unwrap_or_default()
}

fn days(ms: Option<i64>) -> String {
    ms.map(|m| format!("{:.1}", m as f64 / DAY_MS as f64))
        .unwrap_or_default()
}

/// A value as a terminal shows it safely: control characters escaped.
fn shown(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// One CSV cell (RFC 4180), with a leading `= + - @` or tab made text so a
/// spreadsheet never evaluates it.
fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv(inv: &Inventory, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "identity,type,tenant,owner,first_seen,last_seen,calls,denied,actions,actions_added,resource_families,networks,clients,parents,children,credentials,oldest_credential_age_days,shared_credentials,flags,unused_grants")?;
    for e in &inv.entries {
        let unused: Vec<&str> = e
            .grants
            .iter()
            .flat_map(|g| g.unused.iter().map(|u| u.grant.as_str()))
            .collect();
        let row = [
            e.id.clone(),
            e.agent_type.as_str().to_string(),
            e.tenant.clone().unwrap_or_default(),
            e.owner.clone().unwrap_or_default(),
            time(e.first_seen_ms),
            time(e.last_seen_ms),
            e.calls.to_string(),
            e.denied.to_string(),
            e.actions.len().to_string(),
            e.actions_added.join(" "),
            e.resource_families.len().to_string(),
            e.networks.len().to_string(),
            e.clients.len().to_string(),
            e.parents
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            e.children
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            e.credentials.seen.to_string(),
            days(e.credentials.rotation_age_ms),
            e.credentials
                .shared
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            flags(e),
            unused.join(" | "),
        ];
        writeln!(
            out,
            "{}",
            row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",")
        )?;
    }
    Ok(())
}

fn table(inv: &Inventory, out: &mut dyn Write) -> io::Result<()> {
    let s = summary(inv);
    writeln!(
        out,
        "{} identities as of {} (calls from {}): {} dormant, {} never seen, {} new, {} unrotated, {} sharing a credential, {} with a growing action set, {} of {} with grants have unused grants ({} grants)",
        s.identities,
        format_rfc3339_ms(inv.as_of_ms),
        format_rfc3339_ms(inv.first_call_ms),
        s.dormant,
        s.never_seen,
        s.new,
        s.unrotated,
        s.shared_credential,
        s.action_growth,
        s.with_unused_grants,
        s.with_grants,
        s.unused_grants
    )?;
    let rows: Vec<[String; 7]> = inv
        .entries
        .iter()
        .map(|e| {
            [
                shown(&e.id),
                e.agent_type.as_str().to_string(),
                shown(e.tenant.as_deref().unwrap_or("-")),
                e.last_seen_ms.map_or("never".into(), format_rfc3339_ms),
                e.calls.to_string(),
                e.actions.len().to_string(),
                flags(e),
            ]
        })
        .collect();
    let head = [
        "IDENTITY",
        "TYPE",
        "TENANT",
        "LAST SEEN",
        "CALLS",
        "ACTIONS",
        "FLAGS",
    ];
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(&head.map(String::from)))?;
    for r in &rows {
        writeln!(out, "{}", line(r))?;
    }
    for e in inv
        .entries
        .iter()
        .filter(|e| e.grants.as_ref().is_some_and(|g| !g.unused.is_empty()))
    {
        writeln!(out, "\n{}: unused grants", shown(&e.id))?;
        for u in &e.grants.as_ref().expect("filtered").unused {
            let last = u
                .last_used_ms
                .map_or("never used in the input".into(), |l| {
                    format!("last used {}", format_rfc3339_ms(l))
                });
            writeln!(
                out,
                "  {}  ({}; {})",
                shown(&u.grant),
                shown(&u.source),
                last
            )?;
        }
    }
    for n in &inv.notes {
        writeln!(out, "note: {}", shown(n))?;
    }
    Ok(())
}

/// A self-contained HTML page of the review (`--report-html`).
pub fn html(inv: &Inventory, inputs: &[String]) -> String {
    use crate::offline::report::svg::{bar_chart, escape};
    use crate::offline::report::{page, subtitle};
    use std::fmt::Write as _;
    let s = summary(inv);
    let total = s.identities.max(1) as f64;
    let bars: Vec<(String, f64, String)> = [
        ("dormant", s.dormant),
        ("never seen", s.never_seen),
        ("new", s.new),
        ("unrotated", s.unrotated),
        ("sharing a credential", s.shared_credential),
        ("growing action set", s.action_growth),
        ("unused grants", s.with_unused_grants),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n as f64 / total, n.to_string()))
    .collect();
    let mut table = String::from("<table><tr><th>identity</th><th>type</th><th>tenant</th><th>owner</th><th>first seen</th><th>last seen</th><th>calls</th><th>actions</th><th>credentials</th><th>flags</th></tr>");
    for e in &inv.entries {
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>",
            escape(&e.id),
            e.agent_type.as_str(),
            escape(e.tenant.as_deref().unwrap_or("")),
            escape(e.owner.as_deref().unwrap_or("")),
            time(e.first_seen_ms),
            time(e.last_seen_ms),
            e.calls,
            e.actions.len(),
            e.credentials.seen,
            flags(e)
        );
    }
    table.push_str("</table>");
    let mut unused = String::from(
        "<table><tr><th>identity</th><th>grant</th><th>granted by</th><th>last used</th></tr>",
    );
    for e in &inv.entries {
        for u in e.grants.iter().flat_map(|g| &g.unused) {
            let _ = write!(
                unused,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&e.id),
                escape(&u.grant),
                escape(&u.source),
                u.last_used_ms
                    .map_or("never in the input".into(), format_rfc3339_ms)
            );
        }
    }
    unused.push_str("</table>");
    let mut sections = vec![
        ("Flags", bar_chart("Share of identities flagged", &bars)),
        ("Identities", table),
        ("Granted, never used", unused),
    ];
    if !inv.notes.is_empty() {
        let notes = inv
            .notes
            .iter()
            .map(|n| format!("<li>{}</li>", escape(n)))
            .collect::<String>();
        sections.push(("Notes", format!("<ul>{notes}</ul>")));
    }
    page(
        &format!("Warden inventory as of {}", format_rfc3339_ms(inv.as_of_ms)),
        &subtitle(inputs),
        &sections,
    )
}
