//! Serialising a generated fleet as canonical JSON lines.

use super::{Fleet, SCENARIOS};
use crate::event::format_rfc3339_ms;
use std::io::{self, Write};

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

pub fn write_events(fleet: &Fleet, out: &mut dyn Write) -> io::Result<u64> {
    let strs: Vec<String> = (0..fleet.strings.strs.len() as u32)
        .map(|i| json_str(fleet.strings.get(i)))
        .collect();
    let mut line = String::with_capacity(512);
    let mut n = 0;
    for e in &fleet.events {
        use std::fmt::Write as _;
        line.clear();
        let a = e.agent as usize;
        let _ = write!(
            line,
            "{{\"ts\":\"{}\",\"agent_id\":{},\"action\":{},\"agent_type\":\"{}\",\"tenant\":{}",
            format_rfc3339_ms(e.ts),
            strs[fleet.agent_names[a] as usize],
            strs[e.action as usize],
            fleet.agent_types[a].as_str(),
            strs[fleet.tenants[a] as usize],
        );
        for (k, v) in [
            ("session_id", e.session),
            ("parent_id", e.parent),
            ("resource", e.resource),
            ("src_ip", e.ip),
            ("user_agent", e.ua),
        ] {
            if v != 0 {
                let _ = write!(line, ",\"{k}\":{}", strs[v as usize]);
            }
        }
        let outcome = ["success", "denied", "error"][e.outcome as usize];
        let _ = write!(
            line,
            ",\"event_id\":\"evt-{:016x}\",\"outcome\":\"{}\",\"status\":{},\"latency_ms\":{:.1},\"bytes_out\":{},\"bytes_in\":{}",
            e.event_id, outcome, e.status, e.latency_ms, e.bytes_out, e.bytes_in
        );
        if e.label > 0 {
            let _ = write!(line, ",\"label\":\"{}\"", SCENARIOS[e.label as usize - 1]);
        }
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}
