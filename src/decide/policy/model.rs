//! Warden's request model for guardrail policies: what `principal`,
//! `action`, `resource` and `context` are for one call, as a Cedar schema
//! (so policies are type-checked against it) and as the attributes the
//! native evaluator reads.

use crate::event::{CallRow, DAY_MS, HOUR_MS, MINUTE_MS};

/// The principal's entity type: every identity is an `Agent`.
pub(crate) const AGENT: &str = "Agent";
/// The resource's entity type; its id is the call's resource ("" without one).
pub(crate) const RESOURCE: &str = "Resource";
/// The action's entity type; its id is the API action (`iam:CreateUser`).
pub(crate) const ACTION: &str = "Action";
/// The action every policy set declares, so a set naming no action still
/// type-checks.
pub(crate) const ANY_ACTION: &str = "call";

/// The schema, with `actions` (every action a policy names) declared.
/// Optional attributes (`?`) must be guarded with `has` before use, which
/// Cedar's validator enforces.
pub(crate) fn schema_text(actions: &[String]) -> String {
    let mut s = String::from(
        "entity Agent = {\n\
         \x20 type: String,\n\
         \x20 cohort: String,\n\
         \x20 tenant?: String,\n\
         \x20 owner?: String,\n\
         \x20 network?: ipaddr,\n\
         \x20 end_of_life?: Long,\n\
         };\n\
         entity Resource;\n\
         type CallContext = {\n\
         \x20 action: String,\n\
         \x20 service: String,\n\
         \x20 operation: String,\n\
         \x20 resource?: String,\n\
         \x20 tenant?: String,\n\
         \x20 parent?: String,\n\
         \x20 src_ip?: ipaddr,\n\
         \x20 client?: String,\n\
         \x20 outcome: String,\n\
         \x20 status?: Long,\n\
         \x20 bytes_out?: Long,\n\
         \x20 bytes_in?: Long,\n\
         \x20 time: Long,\n\
         \x20 hour: Long,\n\
         \x20 minute_of_day: Long,\n\
         \x20 weekday: Long,\n\
         };\n",
    );
    let mut names: Vec<&str> = actions.iter().map(String::as_str).collect();
    names.push(ANY_ACTION);
    names.sort_unstable();
    names.dedup();
    for a in names {
        s.push_str("action ");
        s.push_str(&serde_json::Value::from(a).to_string());
        s.push_str(
            " appliesTo { principal: [Agent], resource: [Resource], context: CallContext };\n",
        );
    }
    s
}

/// An attribute of `principal`. `Type` and `Cohort` come from the call and
/// the engine; the rest from the identities file, when it lists the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrincipalAttr {
    Type,
    Cohort,
    Tenant,
    Owner,
    Network,
    EndOfLife,
}

impl PrincipalAttr {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "type" => Self::Type,
            "cohort" => Self::Cohort,
            "tenant" => Self::Tenant,
            "owner" => Self::Owner,
            "network" => Self::Network,
            "end_of_life" => Self::EndOfLife,
            _ => return None,
        })
    }
}

/// An attribute of `context`, all taken from the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextAttr {
    Action,
    Service,
    Operation,
    Resource,
    Tenant,
    Parent,
    SrcIp,
    Client,
    Outcome,
    Status,
    BytesOut,
    BytesIn,
    Time,
    Hour,
    MinuteOfDay,
    Weekday,
    SessionAge,
}

impl ContextAttr {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "action" => Self::Action,
            "service" => Self::Service,
            "operation" => Self::Operation,
            "resource" => Self::Resource,
            "tenant" => Self::Tenant,
            "parent" => Self::Parent,
            "src_ip" => Self::SrcIp,
            "client" => Self::Client,
            "outcome" => Self::Outcome,
            "status" => Self::Status,
            "bytes_out" => Self::BytesOut,
            "bytes_in" => Self::BytesIn,
            "time" => Self::Time,
            "hour" => Self::Hour,
            "minute_of_day" => Self::MinuteOfDay,
            "weekday" => Self::Weekday,
            "session_age" => Self::SessionAge,
            _ => return None,
        })
    }
}

/// An IP address or CIDR range, with Cedar's `ipaddr` semantics (a single
/// address is its own /32 or /128; equality compares address and prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpRange {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses as Cedar's `ip()` does: at most 43 characters, no IPv4
    /// embedded in IPv6, a prefix without leading zeros.
    pub(crate) fn parse(s: &str) -> Option<IpRange> {
        if s.len() > 43 || (s.matches(':').count() >= 2 && s.matches('.').count() >= 2) {
            return None;
        }
        match s.split_once('/') {
            Some((a, p)) => {
                let addr: std::net::IpAddr = a.parse().ok()?;
                let (max, max_len) = if addr.is_ipv4() { (32, 2) } else { (128, 3) };
                if p.is_empty()
                    || p.len() > max_len
                    || !p.bytes().all(|b| b.is_ascii_digit())
                    || (p.starts_with('0') && p != "0")
                {
                    return None;
                }
                let prefix: u8 = p.parse().ok()?;
                (prefix <= max).then_some(IpRange { addr, prefix })
            }
            None => {
                let addr: std::net::IpAddr = s.parse().ok()?;
                let prefix = if addr.is_ipv4() { 32 } else { 128 };
                Some(IpRange { addr, prefix })
            }
        }
    }

    fn bounds(&self) -> (u128, u128, bool) {
        let (v, bits, v4) = match self.addr {
            std::net::IpAddr::V4(a) => (u32::from(a) as u128, 32u32, true),
            std::net::IpAddr::V6(a) => (u128::from(a), 128u32, false),
        };
        let host = if self.prefix as u32 >= bits {
            0
        } else {
            (u128::MAX >> (128 - bits)) >> self.prefix
        };
        (v & !host, v | host, v4)
    }

    /// Whether this range lies within `other` (Cedar's `isInRange`).
    pub(crate) fn in_range(&self, other: &IpRange) -> bool {
        let (lo, hi, v4) = self.bounds();
        let (olo, ohi, ov4) = other.bounds();
        v4 == ov4 && olo <= lo && hi <= ohi
    }

    pub(crate) fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    pub(crate) fn is_loopback(&self) -> bool {
        self.addr.is_loopback() && self.prefix >= if self.is_ipv4() { 8 } else { 128 }
    }

    pub(crate) fn is_multicast(&self) -> bool {
        self.addr.is_multicast() && self.prefix >= if self.is_ipv4() { 4 } else { 8 }
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// What the identities file says about one agent (attributes a call does
/// not carry: its home tenant, owner, network and end of life).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registered {
    pub(crate) tenant: Option<String>,
    pub(crate) owner: Option<String>,
    pub(crate) network: Option<IpRange>,
    /// Seconds since the epoch after which the credential must not be used.
    pub(crate) end_of_life: Option<i64>,
}

/// One call as policies see it.
pub struct PolicyCall<'a> {
    pub(crate) row: &'a CallRow<'a>,
    pub(crate) cohort: &'a str,
    pub(crate) identity: Option<&'a Registered>,
    /// `src_ip` parsed at most once, when a rule first reads it (absent
    /// when it is not an address).
    src_ip: std::cell::OnceCell<Option<IpRange>>,
    /// The action split at its first `:` (read by most rules; split once).
    service: &'a str,
    operation: &'a str,
    /// Seconds since the agent's first call with the call's session (the
    /// engine's session tracking; absent without a session id).
    session_age: Option<i64>,
}

impl<'a> PolicyCall<'a> {
    /// The call `row` of an agent in `cohort`, with what the identities
    /// file says about it.
    pub fn new(row: &'a CallRow<'a>, cohort: &'a str, identity: Option<&'a Registered>) -> Self {
        let (service, operation) = row.action.split_once(':').unwrap_or((row.action, ""));
        PolicyCall {
            row,
            cohort,
            identity,
            src_ip: std::cell::OnceCell::new(),
            service,
            operation,
            session_age: None,
        }
    }

    /// The same call, with its session's age in milliseconds (floored to
    /// whole seconds, as policies see it).
    pub fn with_session_age_ms(mut self, age_ms: Option<i64>) -> Self {
        self.session_age = age_ms.map(|ms| ms.div_euclid(1000));
        self
    }

    pub(crate) fn session_age_s(&self) -> Option<i64> {
        self.session_age
    }

    /// The caller's address, when it parses as one.
    pub(crate) fn src_ip(&self) -> Option<IpRange> {
        *self
            .src_ip
            .get_or_init(|| self.row.src_ip.and_then(IpRange::parse))
    }

    /// `service` and `operation`: the action split at its first `:` (or
    /// the whole action and "" without one).
    pub(crate) fn service_operation(&self) -> (&'a str, &'a str) {
        (self.service, self.operation)
    }

    /// Seconds since the epoch (floor).
    pub(crate) fn time_s(&self) -> i64 {
        self.row.ts_ms.div_euclid(1000)
    }

    pub(crate) fn hour(&self) -> i64 {
        self.row.ts_ms.rem_euclid(DAY_MS) / HOUR_MS
    }

    pub(crate) fn minute_of_day(&self) -> i64 {
        self.row.ts_ms.rem_euclid(DAY_MS) / MINUTE_MS
    }

    /// 0 for Monday .. 6 for Sunday (UTC); 1970-01-01 was a Thursday.
    pub(crate) fn weekday(&self) -> i64 {
        (self.row.ts_ms.div_euclid(DAY_MS) + 3).rem_euclid(7)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_cedar() {
        let r = |s| IpRange::parse(s).unwrap();
        assert!(r("10.1.2.3").in_range(&r("10.1.0.0/16")));
        assert!(!r("10.2.2.3").in_range(&r("10.1.0.0/16")));
        assert!(r("10.1.0.0/24").in_range(&r("10.1.0.0/16")));
        assert!(!r("10.1.0.0/8").in_range(&r("10.1.0.0/16")));
        assert!(!r("::1").in_range(&r("0.0.0.0/0")));
        assert!(r("::1").in_range(&r("::/0")));
        assert!(r("1.2.3.4").in_range(&r("0.0.0.0/0")));
        for bad in [
            "10.0.0.1/033",
            "10.0.0.1/33",
            "::ffff:1.2.3.4",
            "x",
            "10.0.0.1/",
            "",
        ] {
            assert_eq!(IpRange::parse(bad), None, "{bad}");
        }
        assert!(r("127.0.0.1").is_loopback() && !r("127.0.0.0/7").is_loopback());
    }

    #[test]
    fn weekday_counts_from_monday() {
        // 2026-11-23 was a Monday.
        let ts = crate::event::parse_rfc3339_ms("2026-11-23T12:34:00Z").unwrap();
        let row = CallRow {
            ts_ms: ts,
            ..CallRow::default()
        };
        let call = PolicyCall::new(&row, "c", None);
        assert_eq!(
            (call.weekday(), call.hour(), call.minute_of_day()),
            (0, 12, 754)
        );
    }
}
