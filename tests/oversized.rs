//! Records larger than the broker takes, through `warden run` on the
//! embedded cluster: a 2 MB call whose finding would be 2 MB, and a 2 MB
//! record that cannot be decoded. Neither may stop the service (before, the
//! failed produce was fatal, and the restart met the same record again):
//! the finding goes out truncated, the dead letter with the start of its
//! bytes, both counted, and every offset is committed.

mod common;

use common::stream::*;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn two_megabyte_records_are_truncated_counted_and_the_service_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let broker = DevBroker::start(1);
    let fleet = simulate(dir.path(), 6, "10h", 24);
    let mut recs = fleet_records(&fleet);
    let (want, _) = replay_ids(dir.path(), &fleet);
    assert!(!want.is_empty());
    // The call that triggers the first finding gets a 2 MB user agent: its
    // finding carries it as evidence.
    let (first, trigger) = first_finding_trigger(dir.path(), &recs);
    let mut call: Value = serde_json::from_str(&recs[trigger].1).unwrap();
    call["user_agent"] = json!(format!("curl/{}", "7".repeat(2_000_000)));
    recs[trigger].1 = call.to_string();
    // A 2 MB record cut off mid-string: undecodable, so a dead letter that
    // would carry all of it.
    let bad_at = recs.len() / 2;
    let bad = format!(r#"{{"agent_id":"huge","action":"{}"#, "a".repeat(2_000_000));

    // Descriptive fields may be long here, so the finding really is larger
    // than a message (by default they are cut to 4 KB at decode).
    let cfg = write_config(dir.path(), "w.toml", &broker.bootstrap, "");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[input]\nmax_field_bytes = 4194304\n");
    std::fs::write(&cfg, text).unwrap();
    let svc = Service::start(&cfg, &dir.path().join("svc.log"));

    let big: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .set("message.max.bytes", "5000000")
        .create()
        .unwrap();
    // Records taken in: calls scored plus records dead-lettered.
    let taken =
        |s: &Service| s.metric("warden_events_total") + s.metric("warden_dead_letters_total");
    let mut sent = 0usize;
    for (i, (k, v)) in recs.iter().enumerate() {
        if i == bad_at {
            big.send(BaseRecord::to(CALLS).key("huge").payload(&bad))
                .map_err(|(e, _)| e)
                .unwrap();
            sent += 1;
        }
        big.send(BaseRecord::to(CALLS).key(k).payload(v))
            .map_err(|(e, _)| e)
            .unwrap();
        sent += 1;
        // Stay within the embedded cluster's 5 MB per partition: the big
        // records are taken in before more is sent.
        if sent.is_multiple_of(1000) || i == trigger || i == bad_at {
            big.flush(Duration::from_secs(30)).unwrap();
            let all = sent as f64;
            svc.wait_until("records taken in", Duration::from_secs(60), |s| {
                taken(s) >= all
            });
        }
    }
    big.flush(Duration::from_secs(30)).unwrap();
    let all = sent as f64;
    svc.wait_until("every record taken in", Duration::from_secs(120), |s| {
        taken(s) >= all
    });
    svc.wait_until("everything committed", Duration::from_secs(60), |_| {
        committed(&broker.bootstrap, 1)[0] >= all as i64
    });
    assert!(svc.get("/healthz").is_some_and(|(c, _)| c == 200));
    let truncated = svc.metric("warden_outputs_truncated_total");
    let summary = svc.terminate();
    assert_eq!(summary["outputs_refused_too_large"], 0, "{summary}");
    assert!(truncated >= 2.0, "{truncated} outputs truncated");
    assert_eq!(summary["outputs_truncated"].as_f64(), Some(truncated));

    // The dead letter: the start of the original bytes, the size it had,
    // the reason once.
    let dlq = read_topic(&broker.bootstrap, DLQ);
    assert_eq!(dlq.len(), 1);
    let d = &dlq[0];
    assert!(d.value.len() < 1_000_000 && bad.as_bytes().starts_with(&d.value));
    assert_eq!(
        d.headers["warden_truncated_from_bytes"],
        bad.len().to_string()
    );
    assert!(!d.headers.contains_key("warden_error_reason"));
    assert!(
        d.headers["warden_error"].len() < 1024,
        "{}",
        d.headers["warden_error"]
    );

    // Every finding arrived, the big one cut to fit with its ids kept.
    let alerts = read_topic(&broker.bootstrap, ALERTS);
    let cut: Vec<Value> = alerts
        .iter()
        .map(|a| a.json())
        .filter(|j| j["unmapped"].get("warden_truncated").is_some())
        .collect();
    assert!(!cut.is_empty(), "no finding was truncated");
    for j in &cut {
        assert!(serde_json::to_vec(j).unwrap().len() < 1_000_000);
        assert!(
            j["unmapped"]["warden_truncated"]["original_bytes"]
                .as_u64()
                .unwrap()
                > 2_000_000
        );
        assert!(j["finding_info"]["uid"].is_string() && j["metadata"]["uid"].is_string());
        assert!(j["finding_info"]["analytic"]["uid"].is_string());
    }
    let got: std::collections::BTreeSet<String> = alerts
        .iter()
        .filter(|a| a.json()["class_uid"] == 2004)
        .map(|a| a.headers["ce_id"].clone())
        .collect();
    assert!(
        got.contains(first["metadata"]["uid"].as_str().unwrap()),
        "the first finding, with the 2 MB evidence, did not arrive"
    );
}
