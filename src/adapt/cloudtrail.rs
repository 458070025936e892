//! AWS CloudTrail records → call events (mapping table: `docs/adapters.md`).

use super::{field_error, lenient, lenient_f64, lenient_vec, parse_log_time, AdaptError, Text};
use crate::event::{AgentType, CallEvent, Outcome};
use serde::Deserialize;
use std::borrow::Cow;

mod scan;
pub(super) use scan::each_record;

/// One CloudTrail record. Every field is lenient: only a syntax error fails
/// the parse, so a whole S3 object of records is read in one pass and each
/// record is then checked on its own (`from_record`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Record<'a> {
    #[serde(borrow, default)]
    event_time: Text<'a>,
    #[serde(borrow, default)]
    event_source: Text<'a>,
    #[serde(borrow, default)]
    event_name: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    user_identity: Option<Identity<'a>>,
    #[serde(rename = "sourceIPAddress", borrow, default)]
    source_ip_address: Text<'a>,
    #[serde(borrow, default)]
    user_agent: Text<'a>,
    #[serde(borrow, default)]
    error_code: Text<'a>,
    #[serde(rename = "eventID", borrow, default)]
    event_id: Text<'a>,
    #[serde(borrow, default)]
    recipient_account_id: Text<'a>,
    #[serde(borrow, default)]
    aws_region: Text<'a>,
    #[serde(borrow, default)]
    event_type: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient_vec")]
    resources: Vec<Resource<'a>>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    request_parameters: Option<Params<'a>>,
    #[serde(default, deserialize_with = "lenient")]
    additional_event_data: Option<BytesData>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Text<'a>,
    #[serde(borrow, default)]
    principal_id: Text<'a>,
    #[serde(borrow, default)]
    arn: Text<'a>,
    #[serde(borrow, default)]
    account_id: Text<'a>,
    #[serde(borrow, default)]
    access_key_id: Text<'a>,
    #[serde(borrow, default)]
    user_name: Text<'a>,
    #[serde(borrow, default)]
    invoked_by: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient")]
    session_context: Option<SessionContext<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    #[serde(default, borrow, deserialize_with = "lenient")]
    session_issuer: Option<Issuer<'a>>,
    #[serde(borrow, default)]
    source_identity: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Issuer<'a> {
    #[serde(borrow, default)]
    arn: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Resource<'a> {
    #[serde(rename = "ARN", borrow, default)]
    arn: Text<'a>,
}

/// Request parameters that name the object acted on, most specific first.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Params<'a> {
    #[serde(borrow, default)]
    bucket_name: Text<'a>,
    #[serde(borrow, default)]
    key: Text<'a>,
    #[serde(borrow, default)]
    role_name: Text<'a>,
    #[serde(borrow, default)]
    user_name: Text<'a>,
    #[serde(borrow, default)]
    policy_arn: Text<'a>,
    #[serde(borrow, default)]
    secret_id: Text<'a>,
    #[serde(borrow, default)]
    function_name: Text<'a>,
    #[serde(borrow, default)]
    instance_id: Text<'a>,
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    key_id: Text<'a>,
    #[serde(borrow, default)]
    trail_name: Text<'a>,
    #[serde(borrow, default)]
    group_name: Text<'a>,
}

/// CloudTrail error codes that mean "not allowed" rather than "failed".
fn is_denial(code: &str) -> bool {
    let c = code.to_ascii_lowercase();
    c.contains("accessdenied")
        || c.contains("unauthorized")
        || c.contains("forbidden")
        || c.contains("notauthorized")
}

/// `arn:aws:sts::123:assumed-role/Role/Session` → (`arn:aws:sts::123`,
/// `Role`, `Session`). The role's own ARN is built (`role_arn`) only when
/// the record has no session issuer to name it.
fn split_assumed_role(arn: &str) -> Option<(&str, &str, &str)> {
    let (head, rest) = split_field(arn, ":assumed-role/")?;
    let (role, session) = rest.rsplit_once('/')?;
    Some((head, role, session))
}

/// The IAM role ARN for an assumed role's `head` (`arn:aws:sts::123`)
/// and role name: `arn:aws:iam::123:role/Role`.
fn role_arn(head: &str, role: &str) -> String {
    match split_field(head, ":sts:") {
        Some((partition, account)) => concat(&[partition, ":iam:", account, ":role/", role]),
        None => concat(&[head, ":role/", role]),
    }
}

/// The parts joined, in one allocation of the exact size (`format!` costs
/// several times as much, and this runs a few times per record).
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// Appends `v` as a JSON string. Text without quotes, backslashes or
/// control characters is copied as it is; anything else goes through
/// serde_json's escaper.
fn push_json_str(out: &mut String, v: &str) {
    if v.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "null".into()));
    } else {
        out.push('"');
        out.push_str(v);
        out.push('"');
    }
}

/// `s` around the first occurrence of `pat`, which starts with `:`, as
/// `split_once` would give it. Tried at each colon: an ARN has a handful,
/// and this runs on every CloudTrail record, where building a substring
/// searcher per call cost 3 % of replay.
fn split_field<'s>(s: &'s str, pat: &str) -> Option<(&'s str, &'s str)> {
    debug_assert!(pat.starts_with(':'));
    let at = memchr::memchr_iter(b':', s.as_bytes())
        .find(|&i| s.as_bytes()[i..].starts_with(pat.as_bytes()))?;
    Some((s.get(..at)?, s.get(at + pat.len()..)?))
}

fn resource_of(rec: &Record<'_>) -> Option<String> {
    if let Some(arn) = rec.resources.iter().find_map(|x| x.arn.0.as_deref()) {
        return Some(arn.to_string());
    }
    let empty = Params::default();
    let p = rec.request_parameters.as_ref().unwrap_or(&empty);
    if let Some(b) = &p.bucket_name.0 {
        return Some(match &p.key.0 {
            Some(k) => concat(&["arn:aws:s3:::", b, "/", k]),
            None => concat(&["arn:aws:s3:::", b]),
        });
    }
    let svc = rec
        .event_source
        .0
        .as_deref()
        .and_then(|s| s.split('.').next())
        .unwrap_or("aws");
    let named = [
        (&p.role_name, "role"),
        (&p.user_name, "user"),
        (&p.group_name, "group"),
        (&p.function_name, "function"),
        (&p.secret_id, "secret"),
        (&p.instance_id, "instance"),
        (&p.trail_name, "trail"),
        (&p.key_id, "key"),
        (&p.name, "name"),
    ];
    if let Some(arn) = &p.policy_arn.0 {
        return Some(arn.to_string());
    }
    named.iter().find_map(|(v, kind)| {
        v.0.as_deref().map(|v| {
            if v.starts_with("arn:") {
                v.to_string()
            } else {
                concat(&[svc, ":", kind, "/", v])
            }
        })
    })
}

/// Maps one CloudTrail record. `Ok(None)` is never returned: every record
/// becomes an event (principals that cannot be named are `anonymous`).
pub fn map(raw: &str, line: u64) -> Result<CallEvent<'_>, AdaptError> {
    let rec: Record = serde_json::from_str(raw)
        .map_err(|e| AdaptError::from_json::<Record>(line, raw, "CloudTrail record", &e))?;
    from_record(rec, line)
}

/// Maps an already parsed record (see `adapt::for_each_cloudtrail_record`).
pub(super) fn from_record(rec: Record<'_>, line: u64) -> Result<CallEvent<'_>, AdaptError> {
    let ts = rec
        .event_time
        .0
        .as_deref()
        .ok_or_else(|| field_error(line, "eventTime", "missing"))
        .and_then(|t| {
            parse_log_time(t).ok_or_else(|| {
                field_error(
                    line,
                    "eventTime",
                    &format!("`{t}` is not an RFC 3339 date-time"),
                )
            })
        })?;
    let source = rec
        .event_source
        .0
        .as_deref()
        .ok_or_else(|| field_error(line, "eventSource", "missing"))?;
    let name = rec
        .event_name
        .0
        .as_deref()
        .ok_or_else(|| field_error(line, "eventName", "missing"))?;
    let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
    let mut ev = CallEvent {
        ts_ms: ts,
        action: Cow::Owned(concat(&[service, ":", name])),
        ..CallEvent::default()
    };
    let id = rec.user_identity.as_ref();
    let kind = id.and_then(|i| i.kind.0.as_deref()).unwrap_or("");
    let arn = id.and_then(|i| i.arn.0.as_deref());
    let invoked_by = id.and_then(|i| i.invoked_by.0.as_deref());
    let account = id.and_then(|i| i.account_id.0.as_deref());
    let key = id.and_then(|i| i.access_key_id.0.clone());
    let (agent, agent_type, session, parent): (
        String,
        AgentType,
        Option<Cow<str>>,
        Option<Cow<str>>,
    ) = match kind {
        "AssumedRole" => {
            let issuer = id
                .and_then(|i| i.session_context.as_ref())
                .and_then(|s| s.session_issuer.as_ref())
                .and_then(|s| s.arn.0.as_deref());
            let parts = arn.and_then(split_assumed_role);
            let session_name = parts.map(|(_, _, s)| s);
            let role = issuer
                .map(String::from)
                .or_else(|| parts.map(|(head, role, _)| role_arn(head, role)))
                .or_else(|| arn.map(String::from))
                .unwrap_or_else(|| "unknown-role".into());
            let source_identity = id
                .and_then(|i| i.session_context.as_ref())
                .and_then(|s| s.source_identity.0.clone());
            let t = if invoked_by.is_some() || session_name.is_some_and(|s| s.starts_with("i-")) {
                AgentType::Workload
            } else {
                AgentType::ServiceAccount
            };
            let session = key.or_else(|| session_name.map(|s| Cow::Owned(s.to_string())));
            (
                role,
                t,
                session,
                source_identity.or_else(|| invoked_by.map(|s| Cow::Owned(s.to_string()))),
            )
        }
        "IAMUser" => {
            let user = arn
                .map(String::from)
                .or_else(|| id.and_then(|i| i.user_name.0.as_deref()).map(String::from))
                .unwrap_or_else(|| "unknown-user".into());
            (
                user,
                AgentType::ServiceAccount,
                key,
                invoked_by.map(|s| Cow::Owned(s.to_string())),
            )
        }
        "Root" => (
            arn.map(String::from)
                .unwrap_or_else(|| format!("arn:aws:iam::{}:root", account.unwrap_or("?"))),
            AgentType::Human,
            key,
            None,
        ),
        "FederatedUser" => (
            arn.map(String::from)
                .unwrap_or_else(|| "unknown-federated".into()),
            AgentType::Human,
            key,
            None,
        ),
        "AWSAccount" => (
            format!(
                "aws-account:{}:{}",
                account.unwrap_or("?"),
                id.and_then(|i| i.principal_id.0.as_deref()).unwrap_or("?")
            ),
            AgentType::Unknown,
            key,
            None,
        ),
        "IdentityCenterUser" | "SAMLUser" | "WebIdentityUser" => (
            arn.or(id.and_then(|i| i.principal_id.0.as_deref()))
                .or(id.and_then(|i| i.user_name.0.as_deref()))
                .unwrap_or("unknown-federated")
                .to_string(),
            AgentType::Human,
            key,
            None,
        ),
        _ => {
            // AWSService, records without a type (service-initiated events
            // carry only `invokedBy`), Anonymous and Unknown.
            match (invoked_by, arn) {
                (Some(svc), _) => (svc.to_string(), AgentType::Workload, None, None),
                (None, Some(a)) => (a.to_string(), AgentType::Unknown, key, None),
                (None, None) => ("anonymous".to_string(), AgentType::Unknown, None, None),
            }
        }
    };
    ev.agent_id = Cow::Owned(agent);
    ev.agent_type = agent_type;
    ev.session_id = session;
    ev.parent_id = parent;
    ev.tenant = rec
        .recipient_account_id
        .0
        .clone()
        .or_else(|| account.map(|a| Cow::Owned(a.to_string())));
    ev.resource = resource_of(&rec).map(Cow::Owned);
    ev.src_ip = rec.source_ip_address.0.clone();
    ev.user_agent = rec.user_agent.0.clone();
    ev.event_id = rec.event_id.0.clone();
    ev.outcome = match rec.error_code.0.as_deref() {
        None | Some("") => Outcome::Success,
        Some(c) if is_denial(c) => Outcome::Denied,
        Some(_) => Outcome::Error,
    };
    if let Some(bytes) = rec
        .additional_event_data
        .as_ref()
        .and_then(|b| b.bytes_transferred_out)
    {
        ev.bytes_out = Some(bytes.max(0.0) as u64);
    }
    // Pass-through fields, written directly (a JSON map per record costs more
    // than the rest of the mapping).
    let mut extra = String::with_capacity(128);
    extra.push_str(r#"{"source_format":"cloudtrail""#);
    let kind_text = id.and_then(|i| i.kind.0.as_deref());
    for (k, v) in [
        ("awsRegion", rec.aws_region.0.as_deref()),
        ("eventType", rec.event_type.0.as_deref()),
        ("errorCode", rec.error_code.0.as_deref()),
        ("identityType", kind_text),
    ] {
        if let Some(v) = v {
            extra.push_str(",\"");
            extra.push_str(k);
            extra.push_str("\":");
            push_json_str(&mut extra, v);
        }
    }
    extra.push('}');
    ev.extra = Some(extra);
    Ok(ev)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct BytesData {
    #[serde(default, deserialize_with = "lenient_f64")]
    bytes_transferred_out: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The colon-anchored search finds what `split_once` and
        /// `replacen` found, on ARN-like text with the patterns anywhere.
        #[test]
        fn assumed_role_split_is_the_substring_split(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "arn", ":", "aws", "sts", ":sts:", "::", "123", ":assumed-role/",
                    "assumed-role", "/", "Role", "sess", "iam", "é", ":sts",
                ]),
                0..12,
            )
        ) {
            let arn: String = parts.concat();
            let reference = arn.split_once(":assumed-role/").and_then(|(head, rest)| {
                let (role, session) = rest.rsplit_once('/')?;
                let head = head.replacen(":sts:", ":iam:", 1);
                Some((format!("{head}:role/{role}"), session))
            });
            let ours = split_assumed_role(&arn)
                .map(|(head, role, session)| (role_arn(head, role), session));
            proptest::prop_assert_eq!(ours, reference);
        }
    }

    proptest::proptest! {
        /// Text copied into the pass-through JSON reads back as itself.
        #[test]
        fn pass_through_text_is_valid_json(v in "\\PC*|[\"\\\\\u{0}-\u{1f}a-z]*") {
            let mut out = String::new();
            push_json_str(&mut out, &v);
            let back: String = serde_json::from_str(&out).unwrap();
            proptest::prop_assert_eq!(back, v);
        }
    }

    #[test]
    fn assumed_role_maps_role_session_and_source() {
        let raw = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA:sess","arn":"arn:aws:sts::123:assumed-role/Deployer/ci-run-42","accountId":"123","accessKeyId":"ASIAXYZ","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123:role/Deployer"},"sourceIdentity":"alice"}},"eventTime":"2023-07-10T11:42:36Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","sourceIPAddress":"075.050.255.67","userAgent":"aws-cli/2","requestParameters":{"bucketName":"b","key":"k.csv"},"eventID":"e1","recipientAccountId":"123","errorCode":"AccessDenied","additionalEventData":{"bytesTransferredOut":375}}"#;
        let ev = map(raw, 7).unwrap();
        assert_eq!(ev.agent_id, "arn:aws:iam::123:role/Deployer");
        assert_eq!(ev.session_id.as_deref(), Some("ASIAXYZ"));
        assert_eq!(ev.parent_id.as_deref(), Some("alice"));
        assert_eq!(ev.action, "s3:GetObject");
        assert_eq!(ev.resource.as_deref(), Some("arn:aws:s3:::b/k.csv"));
        assert_eq!(ev.outcome, Outcome::Denied);
        assert_eq!(ev.src_ip.as_deref(), Some("075.050.255.67"), "kept as text");
        assert_eq!(ev.bytes_out, Some(375));
        assert_eq!(ev.tenant.as_deref(), Some("123"));
        assert!(ev
            .extra
            .as_deref()
            .unwrap()
            .contains("\"identityType\":\"AssumedRole\""));
    }

    #[test]
    fn every_identity_type_names_an_agent() {
        let mk = |ident: &str| {
            format!(
                r#"{{"eventTime":"2023-07-10T11:42:36Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","userIdentity":{ident}}}"#
            )
        };
        let cases = [
            (
                r#"{"type":"IAMUser","arn":"arn:aws:iam::1:user/bob","accessKeyId":"AKIA1"}"#,
                "arn:aws:iam::1:user/bob",
                AgentType::ServiceAccount,
            ),
            (
                r#"{"type":"Root","arn":"arn:aws:iam::1:root"}"#,
                "arn:aws:iam::1:root",
                AgentType::Human,
            ),
            (
                r#"{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}"#,
                "ec2.amazonaws.com",
                AgentType::Workload,
            ),
            (
                r#"{"accountId":"1","invokedBy":"secretsmanager.amazonaws.com"}"#,
                "secretsmanager.amazonaws.com",
                AgentType::Workload,
            ),
            (
                r#"{"type":"FederatedUser","arn":"arn:aws:sts::1:federated-user/x"}"#,
                "arn:aws:sts::1:federated-user/x",
                AgentType::Human,
            ),
            (
                r#"{"type":"AWSAccount","accountId":"2","principalId":"AIDA2"}"#,
                "aws-account:2:AIDA2",
                AgentType::Unknown,
            ),
            (r#"{"type":"Anonymous"}"#, "anonymous", AgentType::Unknown),
        ];
        for (ident, agent, t) in cases {
            let raw = mk(ident);
            let ev = map(&raw, 1).unwrap();
            assert_eq!((ev.agent_id.as_ref(), ev.agent_type), (agent, t), "{ident}");
        }
    }

    #[test]
    fn malformed_records_name_the_field() {
        let e = map(r#"{"eventSource":"s3.amazonaws.com","eventName":"X"}"#, 3).unwrap_err();
        assert_eq!(e.0.field.as_deref(), Some("eventTime"));
        let e = map(
            r#"{"eventTime":"yesterday","eventSource":"s3.amazonaws.com","eventName":"X"}"#,
            3,
        )
        .unwrap_err();
        assert_eq!(e.0.field.as_deref(), Some("eventTime"));
        let e = map(
            r#"{"eventTime":17,"eventSource":"s3.amazonaws.com","eventName":"X"}"#,
            3,
        )
        .unwrap_err();
        assert_eq!((e.0.line, e.0.field.as_deref()), (3, Some("eventTime")));
        // An optional part of odd shape does not reject the record.
        let ev = map(r#"{"eventTime":"2023-07-10T11:42:36Z","eventSource":"s3.amazonaws.com","eventName":"X","userIdentity":"root"}"#, 3).unwrap();
        assert_eq!(ev.agent_id, "anonymous");
        assert!(map(
            r#"{"eventTime":"2023-07-10T11:42:36Z","eventSource":"s3.amazonaws.com""#,
            3
        )
        .is_err());
    }
}
