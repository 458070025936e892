//! The canonical input schema is a public contract: the decoder must accept
//! exactly what `schemas/call-event.schema.json` describes.

use serde_json::Value;
use std::collections::BTreeSet;
use warden::event::{decode_line, AgentType, Outcome, CALL_EVENT_FIELDS};

fn schema() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/call-event.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn schema_and_decoder_name_the_same_fields() {
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let props: BTreeSet<&str> = s["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let known: BTreeSet<&str> = CALL_EVENT_FIELDS.iter().copied().collect();
    assert_eq!(props, known);
    let required: BTreeSet<&str> = s["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["ts", "agent_id", "action"]));
    assert_eq!(
        s["additionalProperties"], true,
        "unknown fields are kept, never rejected"
    );
}

#[test]
fn schema_enums_match_the_decoder() {
    let s = schema();
    let agent_types: Vec<&str> = s["properties"]["agent_type"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        agent_types,
        AgentType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
    );
    for t in &agent_types {
        let line = format!(r#"{{"ts":1,"agent_id":"a","action":"b","agent_type":"{t}"}}"#);
        assert_eq!(decode_line(&line, 1).unwrap().agent_type.as_str(), *t);
    }
    for o in s["properties"]["outcome"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
    {
        let line = format!(r#"{{"ts":1,"agent_id":"a","action":"b","outcome":"{o}"}}"#);
        assert_eq!(
            decode_line(&line, 1).unwrap().outcome,
            Outcome::parse(o).unwrap()
        );
    }
    assert!(decode_line(
        r#"{"ts":1,"agent_id":"a","action":"b","agent_type":"robot"}"#,
        1
    )
    .is_err());
}
