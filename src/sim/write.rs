//! Serialising a generated fleet as canonical JSON lines.

use super::{Fleet, SCENARIOS};
use crate::event::format_rfc3339_ms;
use std::io::{self, Write};

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Writes the fleet as canonical JSON lines; returns the lines written.
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
            strs[if e.tenant != 0 {
                e.tenant
            } else {
                fleet.tenants[a]
            } as usize],
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

/// The fleet as CloudTrail S3-delivery objects (`{"Records":[...]}`, one per
/// line, `per_object` records each): the same calls in the shape of real
/// CloudTrail, to measure the CloudTrail path against the native one. Each
/// agent acts through an assumed role named after it, with its session as the
/// access key. Labels are not CloudTrail fields and are left out.
pub fn write_cloudtrail(fleet: &Fleet, out: &mut dyn Write, per_object: usize) -> io::Result<u64> {
    let mut n = 0;
    for chunk in fleet.events.chunks(per_object.max(1)) {
        let mut records = Vec::with_capacity(chunk.len());
        for e in chunk {
            let agent = fleet.strings.get(fleet.agent_names[e.agent as usize]);
            let action = fleet.strings.get(e.action);
            let (source, name) = match action.split_once(':') {
                Some((svc, op)) if !svc.contains(' ') => {
                    (format!("{svc}.amazonaws.com"), op.to_string())
                }
                _ => ("execute-api.amazonaws.com".to_string(), action.to_string()),
            };
            let session = fleet.strings.get(e.session);
            let mut r = serde_json::json!({
                "eventVersion": "1.09",
                "userIdentity": {
                    "type": "AssumedRole",
                    "principalId": format!("AROAEXAMPLE:{agent}"),
                    "arn": format!("arn:aws:sts::000000000000:assumed-role/{agent}/{agent}-session"),
                    "accountId": "000000000000",
                    "accessKeyId": session,
                    "sessionContext": {
                        "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": format!("arn:aws:iam::000000000000:role/{agent}"), "accountId": "000000000000", "userName": agent},
                        "attributes": {"creationDate": format_rfc3339_ms(e.ts), "mfaAuthenticated": "false"}
                    }
                },
                "eventTime": format_rfc3339_ms(e.ts),
                "eventSource": source,
                "eventName": name,
                "awsRegion": "eu-west-1",
                "sourceIPAddress": fleet.strings.get(e.ip),
                "userAgent": fleet.strings.get(e.ua),
                "requestParameters": {"resourceArn": fleet.strings.get(e.resource)},
                "responseElements": null,
                "additionalEventData": {"bytesTransferredOut": e.bytes_out},
                "requestID": format!("{:016x}", e.event_id.rotate_left(17)),
                "eventID": format!("evt-{:016x}", e.event_id),
                "readOnly": true,
                "eventType": "AwsApiCall",
                "managementEvent": true,
                "recipientAccountId": fleet.strings.get(fleet.tenants[e.agent as usize]),
                "eventCategory": "Management",
                "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": source}
            });
            match e.outcome {
                1 => {
                    r["errorCode"] = "AccessDenied".into();
                    r["errorMessage"] = "User is not authorized to perform this operation".into();
                }
                2 => r["errorCode"] = "InternalError".into(),
                _ => {}
            }
            records.push(r);
        }
        n += records.len() as u64;
        serde_json::to_writer(&mut *out, &serde_json::json!({ "Records": records }))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(n)
}
