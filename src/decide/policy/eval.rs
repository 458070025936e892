//! Evaluates compiled policies against one call, with Cedar's semantics: a
//! condition that errors (a type mismatch, an overflow, an absent optional
//! attribute read without `has`) makes its policy not apply.

use super::compile::{
    ActionScope, BinOp, Compiled, Const, EntityScope, Expr, Glob, Guard, IpFn, Var,
};
use super::model::{ContextAttr, IpRange, PolicyCall, PrincipalAttr, ACTION, AGENT, RESOURCE};

#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Bool(bool),
    Long(i64),
    Str(&'a str),
    Ip(IpRange),
    Entity(&'a str, &'a str),
    Set(Vec<Val<'a>>),
}

/// Evaluation stopped: the policy does not apply.
struct Error;

type Res<T> = Result<T, Error>;

impl<'a> Val<'a> {
    fn of(c: &'a Const) -> Val<'a> {
        match c {
            Const::Bool(b) => Val::Bool(*b),
            Const::Long(n) => Val::Long(*n),
            Const::Str(s) => Val::Str(s),
            Const::Ip(ip) => Val::Ip(*ip),
            Const::Entity(t, i) => Val::Entity(t, i),
            Const::Set(items) => Val::Set(items.iter().map(Val::of).collect()),
        }
    }

    fn bool(self) -> Res<bool> {
        match self {
            Val::Bool(b) => Ok(b),
            _ => Err(Error),
        }
    }

    fn long(self) -> Res<i64> {
        match self {
            Val::Long(n) => Ok(n),
            _ => Err(Error),
        }
    }

    fn set(self) -> Res<Vec<Val<'a>>> {
        match self {
            Val::Set(s) => Ok(s),
            _ => Err(Error),
        }
    }

    fn ip(self) -> Res<IpRange> {
        match self {
            Val::Ip(ip) => Ok(ip),
            _ => Err(Error),
        }
    }

    /// Cedar's `==`: values of different types are unequal; sets are
    /// equal as sets.
    fn equals(&self, other: &Val<'_>) -> bool {
        match (self, other) {
            (Val::Set(a), Val::Set(b)) => {
                a.iter().all(|x| b.iter().any(|y| x.equals(y)))
                    && b.iter().all(|y| a.iter().any(|x| x.equals(y)))
            }
            (Val::Bool(a), Val::Bool(b)) => a == b,
            (Val::Long(a), Val::Long(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => a == b,
            (Val::Ip(a), Val::Ip(b)) => a == b,
            (Val::Entity(t, i), Val::Entity(u, j)) => t == u && i == j,
            _ => false,
        }
    }
}

fn entity_matches(scope: &EntityScope, ty: &str, id: &str) -> bool {
    match scope {
        EntityScope::Any => true,
        EntityScope::Eq(t, i) => t == ty && i == id,
        EntityScope::Is(t, within) => {
            t == ty && within.as_ref().is_none_or(|(wt, wi)| wt == ty && wi == id)
        }
    }
}

/// Whether `policy` is satisfied by `call` (its scope admits the call and
/// every condition evaluates to true).
pub(crate) fn satisfied(policy: &Compiled, call: &PolicyCall<'_>) -> bool {
    let row = call.row;
    if !entity_matches(&policy.principal, AGENT, row.agent_id)
        || !entity_matches(&policy.resource, RESOURCE, row.resource.unwrap_or(""))
    {
        return false;
    }
    if let ActionScope::OneOf(ids) = &policy.action {
        if !ids.iter().any(|a| a == row.action) {
            return false;
        }
    }
    policy
        .conditions
        .iter()
        .all(|c| matches!(eval(c, call), Ok(Val::Bool(true))))
}

/// The call's value of a guard's attribute, when it has one (a string).
pub(crate) fn guard_value<'a>(g: Guard, call: &PolicyCall<'a>) -> Option<&'a str> {
    match g {
        Guard::Principal(a) => match principal(a, call)? {
            Val::Str(s) => Some(s),
            _ => None,
        },
        Guard::Context(a) => match context(a, call)? {
            Val::Str(s) => Some(s),
            _ => None,
        },
    }
}

fn principal<'a>(a: PrincipalAttr, call: &PolicyCall<'a>) -> Option<Val<'a>> {
    let reg = call.identity;
    Some(match a {
        PrincipalAttr::Type => Val::Str(call.row.agent_type.as_str()),
        PrincipalAttr::Cohort => Val::Str(call.cohort),
        PrincipalAttr::Tenant => Val::Str(reg?.tenant.as_deref()?),
        PrincipalAttr::Owner => Val::Str(reg?.owner.as_deref()?),
        PrincipalAttr::Network => Val::Ip(reg?.network?),
        PrincipalAttr::EndOfLife => Val::Long(reg?.end_of_life?),
    })
}

fn context<'a>(a: ContextAttr, call: &PolicyCall<'a>) -> Option<Val<'a>> {
    let row = call.row;
    let long = |v: Option<u64>| v.and_then(|n| i64::try_from(n).ok()).map(Val::Long);
    Some(match a {
        ContextAttr::Action => Val::Str(row.action),
        ContextAttr::Service => Val::Str(call.service_operation().0),
        ContextAttr::Operation => Val::Str(call.service_operation().1),
        ContextAttr::Resource => Val::Str(row.resource?),
        ContextAttr::Tenant => Val::Str(row.tenant?),
        ContextAttr::Parent => Val::Str(row.parent_id?),
        ContextAttr::SrcIp => Val::Ip(call.src_ip()?),
        ContextAttr::Client => Val::Str(row.user_agent?),
        ContextAttr::Outcome => Val::Str(row.outcome.as_str()),
        ContextAttr::Status => Val::Long(row.status?),
        ContextAttr::BytesOut => return long(row.bytes_out),
        ContextAttr::BytesIn => return long(row.bytes_in),
        ContextAttr::Time => Val::Long(call.time_s()),
        ContextAttr::Hour => Val::Long(call.hour()),
        ContextAttr::MinuteOfDay => Val::Long(call.minute_of_day()),
        ContextAttr::Weekday => Val::Long(call.weekday()),
        ContextAttr::SessionAge => Val::Long(call.session_age_s()?),
    })
}

/// Cedar's `like` (`*` matches any run of characters, `\*` a star) on
/// a pattern cut into the literal runs between its stars: the first run
/// must start the text, the last end it, and the ones between are found
/// left to right, each after the one before (leftmost is always safe when
/// the only wildcard is `*`). No allocation, linear in the text.
fn like(s: &str, pattern: &[Glob]) -> bool {
    fn lit(g: &Glob) -> Option<&str> {
        match g {
            Glob::Lit(l) => Some(&l.text),
            Glob::Any => None,
        }
    }
    let Some(star) = pattern.iter().position(|g| matches!(g, Glob::Any)) else {
        // No star: the literal runs must spell the text exactly.
        let mut rest = s;
        for g in pattern {
            match lit(g).and_then(|l| rest.strip_prefix(l)) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        return rest.is_empty();
    };
    let mut rest = s;
    for g in &pattern[..star] {
        match lit(g).and_then(|l| rest.strip_prefix(l)) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    let last_star = pattern
        .iter()
        .rposition(|g| matches!(g, Glob::Any))
        .unwrap_or(star);
    for g in pattern[last_star + 1..].iter().rev() {
        match lit(g).and_then(|l| rest.strip_suffix(l)) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    let mut run_start = star + 1;
    while run_start <= last_star {
        // The literal run pattern[run_start..next_star], found as a whole.
        let next_star = pattern[run_start..]
            .iter()
            .position(|g| matches!(g, Glob::Any))
            .map_or(last_star, |p| run_start + p);
        let run = &pattern[run_start..next_star];
        if let [Glob::Lit(l)] = run {
            // One literal (as the compiler leaves them): a substring search.
            // A byte match of a whole UTF-8 literal starts on a
            // character boundary.
            match l.finder.find(rest.as_bytes()) {
                Some(at) => rest = &rest[at + l.text.len()..],
                None => return false,
            }
        } else if !run.is_empty() {
            let found = (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .find_map(|i| {
                    let mut r = &rest[i..];
                    for g in run {
                        r = r.strip_prefix(lit(g)?)?;
                    }
                    Some(r)
                });
            match found {
                Some(r) => rest = r,
                None => return false,
            }
        }
        run_start = next_star + 1;
    }
    true
}

/// The operators guardrails use most, evaluated here; the rest in
/// `eval_rest`, out of line, to keep this frame small (it recurses).
fn eval<'a>(e: &'a Expr, call: &PolicyCall<'a>) -> Res<Val<'a>> {
    Ok(match e {
        Expr::Lit(c) => Val::of(c),
        Expr::Principal(a) => principal(*a, call).ok_or(Error)?,
        Expr::PrincipalHas(a) => Val::Bool(principal(*a, call).is_some()),
        Expr::Context(a) => context(*a, call).ok_or(Error)?,
        Expr::ContextHas(a) => Val::Bool(context(*a, call).is_some()),
        Expr::Not(x) => Val::Bool(!eval(x, call)?.bool()?),
        Expr::And(l, r) => Val::Bool(eval(l, call)?.bool()? && eval(r, call)?.bool()?),
        Expr::Or(l, r) => Val::Bool(eval(l, call)?.bool()? || eval(r, call)?.bool()?),
        Expr::Like(x, pattern) => match eval(x, call)? {
            Val::Str(s) => Val::Bool(like(s, pattern)),
            _ => return Err(Error),
        },
        _ => return eval_rest(e, call),
    })
}

#[inline(never)]
fn eval_rest<'a>(e: &'a Expr, call: &PolicyCall<'a>) -> Res<Val<'a>> {
    Ok(match e {
        // `eval` takes these itself.
        Expr::Lit(_)
        | Expr::Principal(_)
        | Expr::PrincipalHas(_)
        | Expr::Context(_)
        | Expr::ContextHas(_)
        | Expr::Not(_)
        | Expr::And(..)
        | Expr::Or(..)
        | Expr::Like(..) => return eval(e, call),
        Expr::Var(Var::Principal) => Val::Entity(AGENT, call.row.agent_id),
        Expr::Var(Var::Action) => Val::Entity(ACTION, call.row.action),
        Expr::Var(Var::Resource) => Val::Entity(RESOURCE, call.row.resource.unwrap_or("")),
        Expr::Neg(x) => Val::Long(eval(x, call)?.long()?.checked_neg().ok_or(Error)?),
        Expr::If(b) => {
            if eval(&b.0, call)?.bool()? {
                eval(&b.1, call)?
            } else {
                eval(&b.2, call)?
            }
        }
        Expr::Bin(op, l, r) => binary(*op, eval(l, call)?, eval(r, call)?)?,
        Expr::Is(x, ty, within) => match eval(x, call)? {
            Val::Entity(t, _) if t != ty => Val::Bool(false),
            v @ Val::Entity(..) => match within {
                None => Val::Bool(true),
                Some(w) => binary(BinOp::In, v, eval(w, call)?)?,
            },
            _ => return Err(Error),
        },
        Expr::IsEmpty(x) => Val::Bool(eval(x, call)?.set()?.is_empty()),
        Expr::Set(items) => Val::Set(items.iter().map(|i| eval(i, call)).collect::<Res<_>>()?),
        Expr::Ip(f, args) => {
            let mut vals = args.iter().map(|a| eval(a, call));
            let first = vals.next().ok_or(Error)??;
            match (f, vals.next().transpose()?) {
                (IpFn::Ip, None) => match first {
                    Val::Str(s) => Val::Ip(IpRange::parse(s).ok_or(Error)?),
                    _ => return Err(Error),
                },
                (IpFn::IsIpv4, None) => Val::Bool(first.ip()?.is_ipv4()),
                (IpFn::IsIpv6, None) => Val::Bool(!first.ip()?.is_ipv4()),
                (IpFn::IsLoopback, None) => Val::Bool(first.ip()?.is_loopback()),
                (IpFn::IsMulticast, None) => Val::Bool(first.ip()?.is_multicast()),
                (IpFn::IsInRange, Some(range)) => Val::Bool(first.ip()?.in_range(&range.ip()?)),
                _ => return Err(Error),
            }
        }
    })
}

fn binary<'a>(op: BinOp, l: Val<'a>, r: Val<'a>) -> Res<Val<'a>> {
    let arith = |f: fn(i64, i64) -> Option<i64>, l: Val<'a>, r: Val<'a>| -> Res<Val<'a>> {
        Ok(Val::Long(f(l.long()?, r.long()?).ok_or(Error)?))
    };
    let cmp = |f: fn(&i64, &i64) -> bool, l: Val<'a>, r: Val<'a>| -> Res<Val<'a>> {
        Ok(Val::Bool(f(&l.long()?, &r.long()?)))
    };
    match op {
        BinOp::Eq => Ok(Val::Bool(l.equals(&r))),
        BinOp::Ne => Ok(Val::Bool(!l.equals(&r))),
        BinOp::Lt => cmp(i64::lt, l, r),
        BinOp::Le => cmp(i64::le, l, r),
        BinOp::Gt => cmp(i64::gt, l, r),
        BinOp::Ge => cmp(i64::ge, l, r),
        BinOp::Add => arith(i64::checked_add, l, r),
        BinOp::Sub => arith(i64::checked_sub, l, r),
        BinOp::Mul => arith(i64::checked_mul, l, r),
        BinOp::In => {
            // No entity has parents in Warden's model: `in` is equality,
            // or membership of a set of entities.
            let Val::Entity(..) = l else {
                return Err(Error);
            };
            match r {
                e @ Val::Entity(..) => Ok(Val::Bool(l.equals(&e))),
                Val::Set(items) => {
                    let mut found = false;
                    for i in &items {
                        if !matches!(i, Val::Entity(..)) {
                            return Err(Error);
                        }
                        found |= l.equals(i);
                    }
                    Ok(Val::Bool(found))
                }
                _ => Err(Error),
            }
        }
        BinOp::Contains => Ok(Val::Bool(l.set()?.iter().any(|x| x.equals(&r)))),
        BinOp::ContainsAll => {
            let (a, b) = (l.set()?, r.set()?);
            Ok(Val::Bool(b.iter().all(|y| a.iter().any(|x| x.equals(y)))))
        }
        BinOp::ContainsAny => {
            let (a, b) = (l.set()?, r.set()?);
            Ok(Val::Bool(b.iter().any(|y| a.iter().any(|x| x.equals(y)))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_cedar_wildcards() {
        let p = |parts: &[&str]| -> Vec<Glob> {
            parts
                .iter()
                .map(|s| {
                    if *s == "*" {
                        Glob::Any
                    } else {
                        Glob::Lit(Box::new(super::super::compile::Literal::new(s.to_string())))
                    }
                })
                .collect()
        };
        assert!(like("iam:CreateUser", &p(&["iam:", "*"])));
        assert!(like("iam:CreateUser", &p(&["*", "User"])));
        assert!(like("aXbXc", &p(&["a", "*", "c"])));
        assert!(like("", &p(&["*"])));
        assert!(!like("iam:GetUser", &p(&["iam:Create", "*"])));
        assert!(like("ab", &p(&["*", "a", "*", "b", "*"])));
        assert!(!like("ba", &p(&["*", "a", "*", "b"])));
        assert!(like("日本語", &p(&["日", "*"])));
        assert!(!like("a", &p(&["a", "*", "a"])));
        assert!(like("aa", &p(&["a", "*", "a"])));
        assert!(like("abab", &p(&["*", "ab", "*", "ab"])));
        assert!(like("ab", &p(&["ab", "*"])));
        assert!(like("xaybz", &p(&["*", "a", "*", "b", "*"])));
        assert!(!like("xaybz", &p(&["*", "b", "*", "a", "*"])));
        assert!(like("abc", &p(&["a", "b", "c"])) && !like("abcd", &p(&["a", "b", "c"])));
    }
}
