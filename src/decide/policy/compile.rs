//! Cedar policies (their JSON form, as `cedar-policy` parsed and checked
//! them) compiled to an expression tree the evaluator walks without
//! building Cedar requests: Cedar's own evaluator costs microseconds a
//! call, this a few hundred nanoseconds for a realistic set.
//!
//! Warden's model has no entity hierarchy, so `in` is `==` (or membership
//! of a set of entities), as Cedar's semantics give for entities without
//! parents. Constructs the model cannot hold (templates, records, tags,
//! attributes of entities other than `principal`) are refused by name.

use super::model::{ContextAttr, IpRange, PrincipalAttr, ACTION};
use serde_json::Value as Json;

/// A constant: a literal of the policy text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Const {
    Bool(bool),
    Long(i64),
    Str(String),
    Ip(IpRange),
    Entity(String, String),
    Set(Vec<Const>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Var {
    Principal,
    Action,
    Resource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    In,
    Contains,
    ContainsAll,
    ContainsAny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpFn {
    Ip,
    IsIpv4,
    IsIpv6,
    IsLoopback,
    IsMulticast,
    IsInRange,
}

/// One element of a `like` pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Glob {
    Any,
    Lit(Box<Literal>),
}

/// A literal run of a `like` pattern with its substring searcher.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    pub text: String,
    pub finder: memchr::memmem::Finder<'static>,
}

impl Literal {
    pub(crate) fn new(text: String) -> Literal {
        Literal {
            finder: memchr::memmem::Finder::new(text.as_bytes()).into_owned(),
            text,
        }
    }
}

impl PartialEq for Literal {
    fn eq(&self, other: &Literal) -> bool {
        self.text == other.text
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Lit(Const),
    Var(Var),
    Principal(PrincipalAttr),
    PrincipalHas(PrincipalAttr),
    Context(ContextAttr),
    ContextHas(ContextAttr),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    If(Box<(Expr, Expr, Expr)>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Like(Box<Expr>, Vec<Glob>),
    Is(Box<Expr>, String, Option<Box<Expr>>),
    IsEmpty(Box<Expr>),
    Set(Vec<Expr>),
    Ip(IpFn, Vec<Expr>),
}

impl Expr {
    /// Whether the expression reads (or tests for) context attribute `a`.
    pub(crate) fn reads(&self, a: ContextAttr) -> bool {
        match self {
            Expr::Context(b) | Expr::ContextHas(b) => *b == a,
            Expr::Lit(_) | Expr::Var(_) | Expr::Principal(_) | Expr::PrincipalHas(_) => false,
            Expr::Not(e) | Expr::Neg(e) | Expr::Like(e, _) | Expr::IsEmpty(e) => e.reads(a),
            Expr::And(x, y) | Expr::Or(x, y) | Expr::Bin(_, x, y) => x.reads(a) || y.reads(a),
            Expr::If(b) => b.0.reads(a) || b.1.reads(a) || b.2.reads(a),
            Expr::Is(e, _, within) => e.reads(a) || within.as_ref().is_some_and(|w| w.reads(a)),
            Expr::Set(v) | Expr::Ip(_, v) => v.iter().any(|e| e.reads(a)),
        }
    }
}

/// What a scope clause of `principal` or `resource` admits.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EntityScope {
    Any,
    /// `==` or `in` one entity (the same without a hierarchy).
    Eq(String, String),
    /// `is T`, optionally `in` one entity.
    Is(String, Option<(String, String)>),
}

/// What the action scope admits: any action, or these (ids of `Action`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ActionScope {
    Any,
    OneOf(Vec<String>),
}

/// One forbid policy, compiled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Compiled {
    pub principal: EntityScope,
    pub action: ActionScope,
    pub resource: EntityScope,
    /// `when` conditions as they are, `unless` ones negated; all must hold.
    pub conditions: Vec<Expr>,
}

pub(crate) type CompileResult<T> = Result<T, String>;

/// Compiles one policy's JSON form.
pub(crate) fn compile(est: &Json) -> CompileResult<Compiled> {
    let obj = est.as_object().ok_or("not a policy object")?;
    let scope = |k: &str| obj.get(k).ok_or_else(|| format!("no {k} scope"));
    let principal = entity_scope(scope("principal")?)?;
    let action = action_scope(scope("action")?)?;
    let resource = entity_scope(scope("resource")?)?;
    let mut conditions = Vec::new();
    for c in obj
        .get("conditions")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let body = expr(c.get("body").ok_or("a condition without a body")?)?;
        conditions.push(match c.get("kind").and_then(Json::as_str) {
            Some("when") => body,
            Some("unless") => Expr::Not(Box::new(body)),
            other => return Err(format!("a condition of kind {other:?}")),
        });
    }
    Ok(Compiled {
        principal,
        action,
        resource,
        conditions,
    })
}

fn entity_ref(v: &Json) -> CompileResult<(String, String)> {
    let v = v.get("__entity").unwrap_or(v);
    match (
        v.get("type").and_then(Json::as_str),
        v.get("id").and_then(Json::as_str),
    ) {
        (Some(t), Some(i)) => Ok((t.to_string(), i.to_string())),
        _ => Err(format!("an entity reference Warden cannot read: {v}")),
    }
}

fn entity_scope(s: &Json) -> CompileResult<EntityScope> {
    if s.get("slot").is_some() {
        return Err("templates (?principal, ?resource) are not supported".into());
    }
    match s.get("op").and_then(Json::as_str) {
        Some("All") => Ok(EntityScope::Any),
        Some("==") | Some("in") => {
            let (t, i) = entity_ref(s.get("entity").ok_or("scope `in` a set of entities")?)?;
            Ok(EntityScope::Eq(t, i))
        }
        Some("is") => {
            let t = s
                .get("entity_type")
                .and_then(Json::as_str)
                .ok_or("`is` without a type")?
                .to_string();
            let within = match s.get("in") {
                None => None,
                Some(i) => Some(entity_ref(i.get("entity").ok_or("`is .. in` a slot")?)?),
            };
            Ok(EntityScope::Is(t, within))
        }
        other => Err(format!("scope operator {other:?}")),
    }
}

fn action_scope(s: &Json) -> CompileResult<ActionScope> {
    let only_actions = |list: Vec<(String, String)>| {
        ActionScope::OneOf(
            list.into_iter()
                .filter(|(t, _)| t == ACTION)
                .map(|(_, i)| i)
                .collect(),
        )
    };
    match s.get("op").and_then(Json::as_str) {
        Some("All") => Ok(ActionScope::Any),
        Some("==") | Some("in") => {
            if let Some(list) = s.get("entities").and_then(Json::as_array) {
                let refs = list.iter().map(entity_ref).collect::<CompileResult<_>>()?;
                Ok(only_actions(refs))
            } else {
                let one = entity_ref(s.get("entity").ok_or("action scope without an entity")?)?;
                Ok(only_actions(vec![one]))
            }
        }
        other => Err(format!("action scope operator {other:?}")),
    }
}

fn constant(v: &Json) -> CompileResult<Const> {
    Ok(match v {
        Json::Bool(b) => Const::Bool(*b),
        Json::Number(n) => Const::Long(n.as_i64().ok_or("a number that is not a Long")?),
        Json::String(s) => Const::Str(s.clone()),
        Json::Array(a) => Const::Set(a.iter().map(constant).collect::<CompileResult<_>>()?),
        Json::Object(o) if o.contains_key("__entity") => {
            let (t, i) = entity_ref(v)?;
            Const::Entity(t, i)
        }
        Json::Object(o) if o.contains_key("__extn") => {
            let e = &o["__extn"];
            match (
                e.get("fn").and_then(Json::as_str),
                e.get("arg").and_then(Json::as_str),
            ) {
                (Some("ip"), Some(a)) => Const::Ip(
                    IpRange::parse(a).ok_or_else(|| format!("ip(\"{a}\") is not an address"))?,
                ),
                _ => return Err(format!("extension value {e}")),
            }
        }
        other => return Err(format!("the literal {other} (records are not supported)")),
    })
}

/// Adjacent literals joined and runs of stars collapsed: `like` then
/// searches each literal run whole.
fn merge_globs(pattern: Vec<Glob>) -> Vec<Glob> {
    let mut out: Vec<Glob> = Vec::with_capacity(pattern.len());
    for g in pattern {
        match (out.last_mut(), g) {
            (Some(Glob::Lit(prev)), Glob::Lit(l)) => {
                **prev = Literal::new(format!("{}{}", prev.text, l.text))
            }
            (Some(Glob::Any), Glob::Any) => {}
            (_, g) => out.push(g),
        }
    }
    out
}

fn boxed(v: &Json) -> CompileResult<Box<Expr>> {
    expr(v).map(Box::new)
}

fn left_right(v: &Json) -> CompileResult<(Box<Expr>, Box<Expr>)> {
    Ok((
        boxed(v.get("left").ok_or("an operator without its left side")?)?,
        boxed(v.get("right").ok_or("an operator without its right side")?)?,
    ))
}

fn var_of(v: &Json) -> Option<&str> {
    v.get("Var").and_then(Json::as_str)
}

fn attr_of(op: &str, v: &Json) -> CompileResult<Expr> {
    let attr = v
        .get("attr")
        .and_then(Json::as_str)
        .ok_or("attribute name")?;
    let left = v.get("left").ok_or("attribute of nothing")?;
    let has = op == "has";
    match var_of(left) {
        Some("principal") => {
            let a = PrincipalAttr::parse(attr)
                .ok_or_else(|| format!("principal has no attribute `{attr}`"))?;
            Ok(if has { Expr::PrincipalHas(a) } else { Expr::Principal(a) })
        }
        Some("context") => {
            let a = ContextAttr::parse(attr)
                .ok_or_else(|| format!("context has no attribute `{attr}`"))?;
            Ok(if has { Expr::ContextHas(a) } else { Expr::Context(a) })
        }
        _ => Err(format!(
            "`{op} {attr}` of something other than principal or context (only those carry attributes)"
        )),
    }
}

fn ip_fn(name: &str) -> Option<IpFn> {
    Some(match name {
        "ip" => IpFn::Ip,
        "isIpv4" => IpFn::IsIpv4,
        "isIpv6" => IpFn::IsIpv6,
        "isLoopback" => IpFn::IsLoopback,
        "isMulticast" => IpFn::IsMulticast,
        "isInRange" => IpFn::IsInRange,
        _ => return None,
    })
}

fn expr(v: &Json) -> CompileResult<Expr> {
    let obj = v.as_object().ok_or("an expression that is not an object")?;
    let (op, arg) = match (obj.len(), obj.iter().next()) {
        (1, Some((k, a))) => (k.as_str(), a),
        _ => return Err(format!("expression {v}")),
    };
    let bin = |o: BinOp| -> CompileResult<Expr> {
        let (l, r) = left_right(arg)?;
        Ok(Expr::Bin(o, l, r))
    };
    Ok(match op {
        "Value" => Expr::Lit(constant(arg)?),
        "Var" => match arg.as_str() {
            Some("principal") => Expr::Var(Var::Principal),
            Some("action") => Expr::Var(Var::Action),
            Some("resource") => Expr::Var(Var::Resource),
            _ => return Err("`context` used as a whole (use its attributes)".into()),
        },
        "!" => Expr::Not(boxed(arg.get("arg").ok_or("! of nothing")?)?),
        "neg" => Expr::Neg(boxed(arg.get("arg").ok_or("- of nothing")?)?),
        "&&" => {
            let (l, r) = left_right(arg)?;
            Expr::And(l, r)
        }
        "||" => {
            let (l, r) = left_right(arg)?;
            Expr::Or(l, r)
        }
        "==" => bin(BinOp::Eq)?,
        "!=" => bin(BinOp::Ne)?,
        "<" => bin(BinOp::Lt)?,
        "<=" => bin(BinOp::Le)?,
        ">" => bin(BinOp::Gt)?,
        ">=" => bin(BinOp::Ge)?,
        "+" => bin(BinOp::Add)?,
        "-" => bin(BinOp::Sub)?,
        "*" => bin(BinOp::Mul)?,
        "in" => bin(BinOp::In)?,
        "contains" => bin(BinOp::Contains)?,
        "containsAll" => bin(BinOp::ContainsAll)?,
        "containsAny" => bin(BinOp::ContainsAny)?,
        "isEmpty" => Expr::IsEmpty(boxed(arg.get("arg").ok_or("isEmpty of nothing")?)?),
        "." | "has" => attr_of(op, arg)?,
        "like" => {
            let left = boxed(arg.get("left").ok_or("like of nothing")?)?;
            let pattern = arg
                .get("pattern")
                .and_then(Json::as_array)
                .ok_or("like without a pattern")?
                .iter()
                .map(|p| match p {
                    Json::String(s) if s == "Wildcard" => Ok(Glob::Any),
                    _ => p
                        .get("Literal")
                        .and_then(Json::as_str)
                        .map(|s| Glob::Lit(Box::new(Literal::new(s.to_string()))))
                        .ok_or_else(|| format!("pattern element {p}")),
                })
                .collect::<CompileResult<Vec<_>>>()?;
            Expr::Like(left, merge_globs(pattern))
        }
        "is" => {
            let left = boxed(arg.get("left").ok_or("is of nothing")?)?;
            let t = arg
                .get("entity_type")
                .and_then(Json::as_str)
                .ok_or("is without a type")?;
            let within = arg.get("in").map(boxed).transpose()?;
            Expr::Is(left, t.to_string(), within)
        }
        "if-then-else" => Expr::If(Box::new((
            expr(arg.get("if").ok_or("if without a condition")?)?,
            expr(arg.get("then").ok_or("if without then")?)?,
            expr(arg.get("else").ok_or("if without else")?)?,
        ))),
        "Set" => Expr::Set(
            arg.as_array()
                .ok_or("a set that is not a list")?
                .iter()
                .map(expr)
                .collect::<CompileResult<_>>()?,
        ),
        name => {
            let f = ip_fn(name).ok_or_else(|| format!("`{name}` is not supported"))?;
            let args: Vec<Expr> = arg
                .as_array()
                .ok_or("function arguments")?
                .iter()
                .map(expr)
                .collect::<CompileResult<_>>()?;
            // ip("literal") is folded (and checked) here.
            if let (IpFn::Ip, [Expr::Lit(Const::Str(s))]) = (f, args.as_slice()) {
                Expr::Lit(Const::Ip(
                    IpRange::parse(s).ok_or_else(|| format!("ip(\"{s}\") is not an address"))?,
                ))
            } else {
                Expr::Ip(f, args)
            }
        }
    })
}

/// A string attribute a rule may be indexed by: a top-level conjunct
/// `attr == "literal"` must hold for the rule to be satisfied (false or an
/// error there, and the whole rule is), so only calls whose `attr` is that
/// literal need to look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    Principal(PrincipalAttr),
    Context(ContextAttr),
}

fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::And(l, r) => {
            conjuncts(l, out);
            conjuncts(r, out);
        }
        other => out.push(other),
    }
}

/// The string attribute `e` reads, when it is one a rule can be indexed by.
fn guard_attr(e: &Expr) -> Option<Guard> {
    Some(match e {
        Expr::Principal(p @ (PrincipalAttr::Type | PrincipalAttr::Cohort)) => Guard::Principal(*p),
        Expr::Context(
            c @ (ContextAttr::Action
            | ContextAttr::Service
            | ContextAttr::Operation
            | ContextAttr::Tenant
            | ContextAttr::Parent
            | ContextAttr::Outcome
            | ContextAttr::Resource
            | ContextAttr::Client),
        ) => Guard::Context(*c),
        _ => return None,
    })
}

fn top_level(c: &Compiled) -> Vec<&Expr> {
    let mut all = Vec::new();
    for cond in &c.conditions {
        conjuncts(cond, &mut all);
    }
    all
}

/// The first `attr == "literal"` among the rule's top-level conjuncts, on
/// a string attribute.
pub(crate) fn guard(c: &Compiled) -> Option<(Guard, String)> {
    top_level(c).into_iter().find_map(|e| {
        let Expr::Bin(BinOp::Eq, l, r) = e else {
            return None;
        };
        let (attr, lit) = match (&**l, &**r) {
            (a, Expr::Lit(Const::Str(s))) | (Expr::Lit(Const::Str(s)), a) => (a, s),
            _ => return None,
        };
        Some((guard_attr(attr)?, lit.clone()))
    })
}

/// For a rule with a top-level conjunct `attr like "…"` on a string
/// attribute, that attribute and the pattern's longest literal run: a call
/// whose `attr` does not contain the run cannot satisfy the rule (the
/// conjunct is false, or an error when the attribute is absent).
pub(crate) fn literal_guard(c: &Compiled) -> Option<(Guard, String)> {
    top_level(c).into_iter().find_map(|e| {
        let Expr::Like(attr, pattern) = e else {
            return None;
        };
        let longest = pattern
            .iter()
            .filter_map(|g| match g {
                Glob::Lit(l) => Some(&l.text),
                Glob::Any => None,
            })
            .max_by_key(|t| t.len())?;
        Some((guard_attr(attr)?, longest.clone()))
    })
}
