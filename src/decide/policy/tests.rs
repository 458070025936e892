//! The native evaluator against Cedar's own authorizer: for random calls,
//! the rules it finds violated are exactly the forbid policies Cedar's
//! authorizer names as the reasons for its Deny.

use super::model::{IpRange, PolicyCall, Registered};
use super::*;
use crate::event::{AgentType, CallRow, Outcome};
use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request,
    RestrictedExpression,
};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

/// Rules that exercise every construct the compiler takes.
const RULES: &str = r#"
@id("ai-no-iam-write") @severity("high") @revoke("true")
forbid (principal, action, resource)
when { principal.type == "ai_agent" && context.service == "iam" &&
       !(context.operation like "Get*" || context.operation like "List*") };

@id("sa-own-network")
forbid (principal, action, resource)
when { principal.type == "service_account" && principal has network }
unless { context has src_ip && context.src_ip.isInRange(principal.network) };

@id("no-cross-tenant") @severity("critical")
forbid (principal, action, resource)
when { principal has tenant && context has tenant && context.tenant != principal.tenant };

@id("end-of-life")
forbid (principal, action, resource)
when { principal has end_of_life && context.time >= principal.end_of_life };

@id("scoped-actions")
forbid (principal, action in [Action::"s3:DeleteBucket", Action::"kms:ScheduleKeyDeletion"], resource)
unless { context.outcome == "denied" };

@id("one-action")
forbid (principal == Agent::"a1", action == Action::"s3:GetObject", resource)
when { context has resource && context.resource like "*secret*" };

@id("night")
forbid (principal is Agent, action, resource is Resource)
when { (context.hour < 6 || context.hour >= 22) && context.weekday >= 5 &&
       ["ai_agent", "api_key"].contains(principal.type) };

@id("bytes")
forbid (principal, action, resource)
when { context has bytes_out && context.bytes_out * 2 > 1000 - 1 && !(context.bytes_out == 0) };

@id("loopback")
forbid (principal, action, resource)
when { context has src_ip && (context.src_ip.isLoopback() || context.src_ip.isIpv6()) };

@id("parent")
forbid (principal, action, resource == Resource::"r1")
when { if context has parent then context.parent != "orch" else principal.cohort like "*|x" };

@id("sets")
forbid (principal, action, resource)
when { [context.action, "x"].containsAny(["iam:GetUser", "y"]) && !["a"].isEmpty() &&
       principal in [Agent::"a2", Agent::"a3"] && action in Action::"iam:GetUser" };

@id("secret-anywhere")
forbid (principal, action, resource)
when { context has resource && context.resource like "*secret*" && context.outcome != "denied" };

@id("user-actions")
forbid (principal, action, resource)
when { context.action like "iam:*User*" && principal.cohort like "c|*" };

@id("keys-in-buckets")
forbid (principal, action, resource)
when { context has resource && context.resource like "*-key" } unless { context has resource && context.resource like "bucket*" };

@id("long-session")
forbid (principal, action, resource)
when { principal.type == "ai_agent" && context has session_age && context.session_age > 3600 };
"#;

fn set() -> PolicySet {
    let mut ids = FxHashMap::default();
    ids.insert(
        "a1".to_string(),
        Registered {
            tenant: Some("t1".into()),
            owner: Some("o".into()),
            network: IpRange::parse("10.1.0.0/16"),
            end_of_life: Some(1_800_000_000),
        },
    );
    ids.insert(
        "a2".to_string(),
        Registered {
            network: IpRange::parse("192.168.0.0/24"),
            ..Registered::default()
        },
    );
    PolicySet::compile(
        &[Source {
            name: "rules.cedar".into(),
            text: RULES.into(),
        }],
        ids,
    )
    .unwrap()
}

fn uid(t: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(EntityTypeName::from_str(t).unwrap(), EntityId::new(id))
}

fn ip(r: IpRange) -> RestrictedExpression {
    RestrictedExpression::new_ip(r.to_string())
}

/// What Cedar's authorizer says, with a permit-all beside the rules.
fn cedar_violations(call: &PolicyCall<'_>) -> HashSet<String> {
    let text = format!("@id(\"permit-all\") permit(principal, action, resource);\n{RULES}");
    let cedar = cedar_policy::PolicySet::from_str(&text).unwrap();
    let row = call.row;
    let mut attrs = HashMap::from([
        (
            "type".to_string(),
            RestrictedExpression::new_string(row.agent_type.as_str().into()),
        ),
        (
            "cohort".to_string(),
            RestrictedExpression::new_string(call.cohort.into()),
        ),
    ]);
    if let Some(r) = call.identity {
        if let Some(t) = &r.tenant {
            attrs.insert("tenant".into(), RestrictedExpression::new_string(t.clone()));
        }
        if let Some(o) = &r.owner {
            attrs.insert("owner".into(), RestrictedExpression::new_string(o.clone()));
        }
        if let Some(n) = r.network {
            attrs.insert("network".into(), ip(n));
        }
        if let Some(e) = r.end_of_life {
            attrs.insert("end_of_life".into(), RestrictedExpression::new_long(e));
        }
    }
    let p = uid("Agent", row.agent_id);
    let entities = Entities::from_entities(
        [Entity::new(p.clone(), attrs, HashSet::new()).unwrap()],
        None,
    )
    .unwrap();
    let (service, operation) = call.service_operation();
    let s = |v: &str| RestrictedExpression::new_string(v.into());
    let mut ctx = vec![
        ("action".to_string(), s(row.action)),
        ("service".to_string(), s(service)),
        ("operation".to_string(), s(operation)),
        ("outcome".to_string(), s(row.outcome.as_str())),
        (
            "time".to_string(),
            RestrictedExpression::new_long(call.time_s()),
        ),
        (
            "hour".to_string(),
            RestrictedExpression::new_long(call.hour()),
        ),
        (
            "minute_of_day".to_string(),
            RestrictedExpression::new_long(call.minute_of_day()),
        ),
        (
            "weekday".to_string(),
            RestrictedExpression::new_long(call.weekday()),
        ),
    ];
    for (k, v) in [
        ("resource", row.resource),
        ("tenant", row.tenant),
        ("parent", row.parent_id),
        ("client", row.user_agent),
    ] {
        if let Some(v) = v {
            ctx.push((k.to_string(), s(v)));
        }
    }
    if let Some(ipr) = call.src_ip() {
        ctx.push(("src_ip".into(), ip(ipr)));
    }
    if let Some(b) = row.bytes_out {
        ctx.push(("bytes_out".into(), RestrictedExpression::new_long(b as i64)));
    }
    if let Some(a) = call.session_age_s() {
        ctx.push(("session_age".into(), RestrictedExpression::new_long(a)));
    }
    let request = Request::new(
        p,
        uid("Action", row.action),
        uid("Resource", row.resource.unwrap_or("")),
        Context::from_pairs(ctx).unwrap(),
        None,
    )
    .unwrap();
    let response = Authorizer::new().is_authorized(&request, &cedar, &entities);
    let by_id: HashMap<String, String> = cedar
        .policies()
        .map(|p| {
            (
                p.id().to_string(),
                p.annotation("id").unwrap_or("").to_string(),
            )
        })
        .collect();
    if response.decision() == cedar_policy::Decision::Allow {
        return HashSet::new();
    }
    response
        .diagnostics()
        .reason()
        .map(|id| by_id[&id.to_string()].clone())
        .collect()
}

fn pick(choices: &[&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(choices.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn native_evaluation_agrees_with_cedars_authorizer(
        agent in pick(&["a1", "a2", "a3"]),
        ty in proptest::sample::select(AgentType::ALL.to_vec()),
        action in pick(&["iam:CreateUser", "iam:GetUser", "iam:ListRoles", "s3:GetObject",
                         "s3:DeleteBucket", "kms:ScheduleKeyDeletion", "tools/call", "x"]),
        resource in proptest::option::of(pick(&["r1", "my-secret-key", "bucket/a", ""])),
        tenant in proptest::option::of(pick(&["t1", "t2"])),
        parent in proptest::option::of(pick(&["orch", "other"])),
        src_ip in proptest::option::of(pick(&["10.1.2.3", "10.2.0.1", "192.168.0.9", "127.0.0.1",
                                               "::1", "2001:db8::1", "not-an-ip"])),
        outcome in proptest::sample::select(vec![Outcome::Success, Outcome::Denied, Outcome::Error]),
        ts_ms in 1_700_000_000_000i64..1_900_000_000_000,
        bytes_out in proptest::option::of(0u64..2_000),
        cohort in pick(&["c|x", "c|y"]),
        session_age_ms in proptest::option::of(0i64..8_000_000),
    ) {
        let ps = set();
        let row = CallRow {
            ts_ms, agent_id: agent, action, agent_type: ty, resource, tenant,
            parent_id: parent, src_ip, outcome, bytes_out, ..CallRow::default()
        };
        let call = PolicyCall::new(&row, cohort, ps.identity(agent))
            .with_session_age_ms(session_age_ms);
        let mut m = Matches::default();
        ps.violations(&call, &mut m);
        let ours: HashSet<String> = m.rules().iter().map(|r| r.id.clone()).collect();
        prop_assert_eq!(ours, cedar_violations(&call));
    }
}

fn refused(text: &str) -> String {
    PolicySet::compile(
        &[Source {
            name: "p.cedar".into(),
            text: text.into(),
        }],
        FxHashMap::default(),
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn refusals_name_the_file_and_position() {
    let e = refused(
        "@id(\"a\")\nforbid (principal, action, resource)\n  when { context.netwrk == \"x\" };",
    );
    assert!(e.starts_with("p.cedar:3:"), "{e}");
    assert!(e.contains("netwrk"), "{e}");
    let e = refused("@id(\"a\") forbid (principal, action, resource) when { context.hour > };");
    assert!(e.starts_with("p.cedar:1:"), "{e}");
    let e = refused("\n\n@id(\"b\") permit (principal, action, resource);");
    assert!(e.starts_with("p.cedar:3:") && e.contains("forbid"), "{e}");
    let e = refused("forbid (principal, action, resource);");
    assert!(e.contains("@id"), "{e}");
    let e = refused("@id(\"c\") @severty(\"high\") forbid (principal, action, resource);");
    assert!(e.contains("@severty"), "{e}");
    let e = refused("@id(\"c\") forbid (principal, action, resource);\n@id(\"c\") forbid (principal, action, resource);");
    assert!(e.contains("also used"), "{e}");
    // Optional attributes must be guarded (Cedar's strict validation).
    let e = refused(
        "@id(\"d\") forbid (principal, action, resource) when { principal.tenant == \"x\" };",
    );
    assert!(e.contains("tenant"), "{e}");
}

#[test]
fn violations_come_in_file_order() {
    let ps = set();
    let row = CallRow {
        ts_ms: 1_850_000_000_000,
        agent_id: "a1",
        action: "iam:CreateUser",
        agent_type: AgentType::AiAgent,
        tenant: Some("t2"),
        ..CallRow::default()
    };
    let call = PolicyCall::new(&row, "c", ps.identity("a1"));
    let mut m = Matches::default();
    ps.violations(&call, &mut m);
    let out = m.rules();
    let ids: Vec<&str> = out.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["ai-no-iam-write", "no-cross-tenant", "end-of-life"]);
    assert!(out[0].revoke && out[0].severity == Severity::High);
    assert_eq!(out[0].source, "rules.cedar:2");
}
