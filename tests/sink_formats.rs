//! Golden tests of the sink formats against the reference payloads in
//! ../shared/examples (skipped with a message when the folder is absent):
//! the example OCSF finding, run through Warden's HEC envelope and its
//! syslog/CEF rendering with the example's settings, gives the example's
//! bytes exactly. Then the same renderings of Warden's own outputs.

mod common;

use serde_json::Value;
use std::path::Path;
use warden::emit::RecordKind;
use warden::sinks::cef;
use warden::sinks::hec::HecConfig;
use warden::sinks::hec::HecEnvelope;
use warden::sinks::syslog::SyslogFormat;
use warden::sinks::syslog::{SyslogConfig, SyslogFraming};

const EXAMPLES: &str = "../shared/examples";

fn example(name: &str) -> Option<String> {
    let p = Path::new(EXAMPLES).join(name);
    match std::fs::read_to_string(&p) {
        Ok(s) => Some(s),
        Err(_) => {
            common::skip_missing(&p);
            None
        }
    }
}

fn hec_config(host: &str, source: &str, index: &str) -> HecConfig {
    toml::from_str(&format!(
        "url = \"https://splunk.example:8088/services/collector/event\"\n\
         host = \"{host}\"\nsource = \"{source}\"\nindex = \"{index}\""
    ))
    .unwrap()
}

fn syslog_format(hostname: &str, app: &str, msg_id: &str, sd_id: &str) -> SyslogFormat {
    let c: SyslogConfig = toml::from_str(&format!(
        "address = \"collector:6514\"\nhostname = \"{hostname}\"\napp_name = \"{app}\"\n\
         msg_id = \"{msg_id}\"\nsd_id = \"{sd_id}\"\nfacility = 16"
    ))
    .unwrap();
    SyslogFormat::from_config(&c)
}

#[test]
fn hec_envelope_of_the_example_finding_is_the_example_envelope() {
    let Some(text) = example("splunk_hec.json") else {
        return;
    };
    let want: Value = serde_json::from_str(&text).unwrap();
    let env = HecEnvelope::from_config(&hec_config(
        "nhi-detector-0",
        "nhi-detector",
        "security_alerts",
    ));
    let got = env.wrap(RecordKind::Finding, &want["event"]);
    assert_eq!(got, want);
    // And as HEC reads it: one JSON object per event, time in seconds.
    let line = serde_json::to_string(&got).unwrap();
    assert!(line.contains(r#""time":1763884062.0"#), "{line}");
}

#[test]
fn syslog_cef_of_the_example_finding_is_the_example_line_and_frame() {
    let (Some(text), Some(hec)) = (
        example("cef_syslog_rfc5424.txt"),
        example("splunk_hec.json"),
    ) else {
        return;
    };
    let event = serde_json::from_str::<Value>(&hec).unwrap()["event"].clone();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let (want_line, want_frame) = (lines[0], lines[2]);
    let mut f = syslog_format("nhi-detector-0", "nhi-detector", "NHI_ALERT", "nhi@32473");
    assert_eq!(f.message(&event), want_line);
    assert_eq!(String::from_utf8(f.frame(&event)).unwrap(), want_frame);
    // The frame's length counts bytes of the message.
    let (len, msg) = want_frame.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), msg.len());
    f.framing = SyslogFraming::NonTransparent;
    assert_eq!(
        String::from_utf8(f.frame(&event)).unwrap(),
        format!("{want_line}\n")
    );
}

#[test]
fn warden_outputs_render_for_hec_and_syslog() {
    let dir = tempfile::tempdir().unwrap();
    let (alerts, _) = common::replayed_fleet(dir.path(), 40, "2d", 11);
    let events: Vec<Value> = std::fs::read_to_string(alerts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().any(|e| e["class_uid"] == 2004));
    assert!(events.iter().any(|e| e["class_uid"] == 7001));
    let env = HecEnvelope::from_config(&hec_config("h", "warden", ""));
    let f = syslog_format("host-1", "warden", "WARDEN_ALERT", "warden@32473");
    for e in &events {
        let remediation = e["class_uid"] == 7001;
        let kind = if remediation {
            RecordKind::Remediation
        } else {
            RecordKind::Finding
        };
        let h = env.wrap(kind, e);
        assert_eq!(
            h["sourcetype"],
            if remediation {
                "ocsf:remediation_activity"
            } else {
                "ocsf:detection_finding"
            }
        );
        assert!(h.get("index").is_none(), "empty index is left out");
        assert_eq!(h["fields"]["class_uid"], e["class_uid"].to_string());
        assert_eq!(h["event"], *e);

        let m = f.message(e);
        assert!(m.starts_with('<') && m.contains(">1 "), "{m}");
        assert!(!m.contains('\n'));
        let cef_line = cef::from_ocsf(e);
        assert!(m.ends_with(&cef_line));
        let header: Vec<&str> = cef_line.splitn(8, '|').collect();
        assert_eq!(&header[..3], ["CEF:0", "Warden", "Warden"]);
        let sev: u8 = header[6].parse().unwrap();
        assert_eq!(sev, cef::severity(e["severity_id"].as_u64().unwrap()));
        if remediation {
            assert!(m.contains(" WARDEN_REMEDIATION [warden@32473 class_uid=\"7001\""));
            assert!(cef_line.contains(&format!(
                "externalId={}",
                e["command_uid"].as_str().unwrap()
            )));
        } else {
            let uid = e["finding_info"]["uid"].as_str().unwrap();
            assert!(m.contains(&format!("finding_uid=\"{uid}\"")));
            assert!(cef_line.contains(&format!("externalId={uid}")));
        }
    }
}
