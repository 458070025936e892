//! librdkafka client settings: the user's `[kafka]` properties first, then
//! what Warden's delivery guarantees need (which the user may not override).

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum ConfigConflict {
    #[error("[kafka] {key} = {value} conflicts with at-least-once processing (Warden sets {key} = {needed})")]
    Forbidden {
        key: &'static str,
        value: String,
        needed: &'static str,
    },
}

fn base(props: &BTreeMap<String, String>) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in props {
        c.set(k, v);
    }
    c
}

/// Producer settings (idempotence and bounds are added by `Outputs`).
pub(crate) fn producer_config(props: &BTreeMap<String, String>) -> ClientConfig {
    base(props)
}

/// The group consumer of the calls topic. Offsets are stored by Warden once
/// a record's outputs are acknowledged and committed in the background.
pub(crate) fn consumer_config(
    props: &BTreeMap<String, String>,
    group_id: &str,
) -> Result<ClientConfig, ConfigConflict> {
    let mut c = base(props);
    for (key, needed) in [
        ("enable.auto.offset.store", "false"),
        ("enable.auto.commit", "true"),
    ] {
        if let Some(v) = props.get(key) {
            if v != needed {
                return Err(ConfigConflict::Forbidden {
                    key,
                    value: v.clone(),
                    needed,
                });
            }
        }
        c.set(key, needed);
    }
    c.set("group.id", group_id);
    for (k, v) in [
        ("auto.offset.reset", "earliest"),
        // Only the partitions that move are revoked: the others keep working
        // (and keep their state in memory) through a rebalance.
        ("partition.assignment.strategy", "cooperative-sticky"),
        ("enable.partition.eof", "false"),
        // Consumer lag for /metrics comes from librdkafka's statistics.
        ("statistics.interval.ms", "1000"),
    ] {
        if !props.contains_key(k) {
            c.set(k, v);
        }
    }
    Ok(c)
}

/// A consumer that reads state-topic and calls-topic partitions directly
/// (assign, never subscribe or commit) while a partition is being taken
/// over. librdkafka wants a group id even so; it is never joined.
pub(crate) fn restore_config(props: &BTreeMap<String, String>, group_id: &str) -> ClientConfig {
    let mut c = base(props);
    c.set("group.id", format!("{group_id}.restore"));
    c.remove("group.instance.id");
    c.remove("partition.assignment.strategy");
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    // A restore reads to the end the fetches report, not only to the end a
    // ListOffsets answered before it: some brokers (tansu 0.6) answer that
    // with the last batch's first offset + 1, which cut restores short.
    c.set("enable.partition.eof", "true");
    c
}

/// librdkafka's own log lines, as tracing events.
pub(crate) fn log_librdkafka(client: &str, level: RDKafkaLogLevel, fac: &str, msg: &str) {
    // `[kafka]` feeds both the consumer and the producers, so each is told
    // about the other's properties: expected, not worth a warning.
    if fac == "CONFWARN" && (msg.contains("consumer property") || msg.contains("producer property"))
    {
        tracing::debug!(target: "librdkafka", client, fac, "{msg}");
        return;
    }
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", client, fac, "{msg}"),
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", client, fac, "{msg}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", client, fac, "{msg}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", client, fac, "{msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_pass_through_but_cannot_break_delivery() {
        let mut p = BTreeMap::new();
        p.insert("bootstrap.servers".to_string(), "b:1".to_string());
        p.insert("session.timeout.ms".to_string(), "12000".to_string());
        p.insert(
            "partition.assignment.strategy".to_string(),
            "range".to_string(),
        );
        let c = consumer_config(&p, "g").unwrap();
        assert_eq!(c.get("session.timeout.ms"), Some("12000"));
        assert_eq!(c.get("partition.assignment.strategy"), Some("range"));
        assert_eq!(c.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(c.get("group.id"), Some("g"));
        p.insert("enable.auto.offset.store".to_string(), "true".to_string());
        let e = consumer_config(&p, "g").unwrap_err();
        assert!(e.to_string().contains("enable.auto.offset.store"), "{e}");
        assert_eq!(restore_config(&p, "g").get("group.id"), Some("g.restore"));
    }
}
