//! Conditions compiled to typed predicates: policy values are parsed once (numbers, instants,
//! CIDRs, bytes, wildcard patterns), literal strings are compared without building patterns, and
//! only values with policy variables are resolved per check. The semantics are docs/semantics.md §3.2–§3.4,
//! the same as the reference evaluator's.

use super::view::{CKey, Val, View};
use crate::context::Layer;
use crate::pattern::{arn_matches, ArnPattern, Glob};
use crate::policy::condition::{cidr_contains, parse_date, parse_number};
use crate::policy::template::Piece;
use crate::policy::{BaseOp, CondValue, Condition, Family, SetOp, Template};
use base64::Engine as _;
use std::net::IpAddr;

/// A string policy value: a literal, or a template with variables resolved per check.
#[derive(Clone, Debug)]
enum Text {
    Lit(Box<str>),
    Var(Template),
}

/// A wildcard policy value: a parsed pattern, or a template with variables.
#[derive(Clone, Debug)]
enum Pattern {
    Lit(Glob),
    Var(Template),
}

/// An ARN policy value: split into parts once, or a template with variables.
#[derive(Clone, Debug)]
enum ArnValue {
    Lit(ArnPattern),
    Var(Template),
}

/// The policy values of one condition, typed by operator family.
#[derive(Clone, Debug)]
enum Values {
    Equal(Vec<Text>),
    EqualIgnoreCase(Vec<Text>),
    Like(Vec<Pattern>),
    Arn(Vec<ArnValue>),
    Bool(Vec<Text>),
    Number(Vec<f64>),
    Date(Vec<i128>),
    Cidr(Vec<(IpAddr, u8)>),
    Bytes(Vec<Vec<u8>>),
    Null {
        want_absent: bool,
        want_present: bool,
    },
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub struct CCondition {
    base: BaseOp,
    set: Option<SetOp>,
    if_exists: bool,
    key: CKey,
    values: Values,
}

/// Lower-cases the variable names of a template so they can be looked up directly.
pub fn lower_template_vars(t: &Template) -> Template {
    let mut t = t.clone();
    for p in &mut t.pieces {
        if let Piece::Var { key, .. } = p {
            *key = key.to_ascii_lowercase();
        }
    }
    t
}

fn text(t: &Template, lower: bool) -> Text {
    match t.as_plain() {
        Some(s) if lower => Text::Lit(s.to_lowercase().into()),
        Some(s) => Text::Lit(s.into()),
        None => Text::Var(lower_template_vars(t)),
    }
}

fn pattern(t: &Template) -> Pattern {
    match t.as_plain() {
        Some(s) => Pattern::Lit(Glob::new(&s)),
        None => Pattern::Var(lower_template_vars(t)),
    }
}

impl CCondition {
    /// Compiles a parsed condition.
    pub fn compile(c: &Condition) -> CCondition {
        let texts = |lower| {
            c.values
                .iter()
                .filter_map(|v| {
                    if let CondValue::Text(t) = v {
                        Some(text(t, lower))
                    } else {
                        None
                    }
                })
                .collect()
        };
        let patterns = || {
            c.values
                .iter()
                .filter_map(|v| {
                    if let CondValue::Text(t) = v {
                        Some(pattern(t))
                    } else {
                        None
                    }
                })
                .collect()
        };
        use BaseOp::*;
        let values = match c.operator.base {
            StringEquals | StringNotEquals => Values::Equal(texts(false)),
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => {
                Values::EqualIgnoreCase(texts(true))
            }
            StringLike | StringNotLike => Values::Like(patterns()),
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => Values::Arn(
                patterns()
                    .into_iter()
                    .map(|p| match p {
                        Pattern::Lit(g) => ArnValue::Lit(ArnPattern::new(&g)),
                        Pattern::Var(t) => ArnValue::Var(t),
                    })
                    .collect(),
            ),
            Bool => Values::Bool(texts(false)),
            Null => Values::Null {
                want_absent: c.values.contains(&CondValue::Absent(true)),
                want_present: c.values.contains(&CondValue::Absent(false)),
            },
            _ => match c.operator.base.family() {
                Family::Numeric => Values::Number(
                    c.values
                        .iter()
                        .filter_map(|v| {
                            if let CondValue::Number(n) = v {
                                Some(*n)
                            } else {
                                None
                            }
                        })
                        .collect(),
                ),
                Family::Date => Values::Date(
                    c.values
                        .iter()
                        .filter_map(|v| {
                            if let CondValue::Date(d) = v {
                                Some(*d)
                            } else {
                                None
                            }
                        })
                        .collect(),
                ),
                Family::Ip => Values::Cidr(
                    c.values
                        .iter()
                        .filter_map(|v| {
                            if let CondValue::Cidr(n, b) = v {
                                Some((*n, *b))
                            } else {
                                None
                            }
                        })
                        .collect(),
                ),
                _ => Values::Bytes(
                    c.values
                        .iter()
                        .filter_map(|v| {
                            if let CondValue::Bytes(b) = v {
                                Some(b.clone())
                            } else {
                                None
                            }
                        })
                        .collect(),
                ),
            },
        };
        CCondition {
            base: c.operator.base,
            set: c.operator.set,
            if_exists: c.operator.if_exists,
            key: CKey::new(&c.key_lower),
            values,
        }
    }

    /// The condition key, lower-cased.
    pub fn key(&self) -> &str {
        &self.key.name
    }

    /// Whether the condition holds in `view` for a policy of `layer` (docs/semantics.md §3.2).
    pub fn holds(&self, view: &View, layer: Layer) -> bool {
        let value = view.get(&self.key, layer);
        if let Values::Null {
            want_absent,
            want_present,
        } = self.values
        {
            let present = match &value {
                None => false,
                Some(Val::One(_)) => true,
                Some(Val::Many(m)) => !m.is_empty(),
            };
            return (want_absent && !present) || (want_present && present);
        }
        let each = |f: &mut dyn FnMut(&str) -> bool, all: bool| -> Option<bool> {
            match &value {
                None => None,
                Some(Val::One(s)) => Some(f(s)),
                Some(Val::Many(m)) if m.is_empty() => None,
                Some(Val::Many(m)) => Some(if all {
                    (0..m.len()).all(|i| f(m.get(i)))
                } else {
                    (0..m.len()).any(|i| f(m.get(i)))
                }),
            }
        };
        let mut matches = |v: &str| self.base_match(v, view, layer);
        match self.set {
            Some(SetOp::ForAllValues) => each(&mut matches, true).unwrap_or(true),
            Some(SetOp::ForAnyValue) => each(&mut matches, false).unwrap_or(self.if_exists),
            None => match &value {
                None => self.if_exists || self.base.is_negated(),
                Some(Val::Many(_)) => false,
                Some(Val::One(s)) => matches(s),
            },
        }
    }

    fn base_match(&self, v: &str, view: &View, layer: Layer) -> bool {
        self.any_positive(v, view, layer) != self.base.is_negated()
    }

    fn any_positive(&self, v: &str, view: &View, layer: Layer) -> bool {
        let lookup = |k: &str| view.single(k, layer);
        match &self.values {
            Values::Equal(ts) => ts.iter().any(|t| match t {
                Text::Lit(p) => **p == *v,
                Text::Var(t) => resolve(t, &lookup).is_some_and(|p| p == v),
            }),
            Values::EqualIgnoreCase(ts) => {
                let v = v.to_lowercase();
                ts.iter().any(|t| match t {
                    Text::Lit(p) => **p == *v,
                    Text::Var(t) => resolve(t, &lookup).is_some_and(|p| p.to_lowercase() == v),
                })
            }
            Values::Like(ps) => ps.iter().any(|p| match p {
                Pattern::Lit(g) => g.matches(v, false),
                Pattern::Var(t) => glob(t, &lookup).is_some_and(|g| g.matches(v, false)),
            }),
            Values::Arn(ps) => ps.iter().any(|p| match p {
                ArnValue::Lit(p) => p.matches(v),
                ArnValue::Var(t) => glob(t, &lookup).is_some_and(|g| arn_matches(&g, v, false)),
            }),
            Values::Bool(ts) => {
                let Some(x) = as_bool(v) else { return false };
                ts.iter().any(|t| match t {
                    Text::Lit(p) => as_bool(p) == Some(x),
                    Text::Var(t) => resolve(t, &lookup).and_then(|p| as_bool(&p)) == Some(x),
                })
            }
            Values::Number(ns) => parse_number(v)
                .is_some_and(|x| ns.iter().any(|n| self.base.accepts(x.partial_cmp(n)))),
            Values::Date(ds) => {
                parse_date(v).is_some_and(|x| ds.iter().any(|d| self.base.accepts(Some(x.cmp(d)))))
            }
            Values::Cidr(cs) => v
                .parse::<IpAddr>()
                .is_ok_and(|ip| cs.iter().any(|(n, b)| cidr_contains(*n, *b, ip))),
            Values::Bytes(bs) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .unwrap_or_else(|_| v.as_bytes().to_vec());
                bs.contains(&bytes)
            }
            Values::Null { .. } => false,
        }
    }
}

fn resolve<'v>(
    t: &Template,
    lookup: &dyn Fn(&str) -> Option<std::borrow::Cow<'v, str>>,
) -> Option<String> {
    let mut out = String::new();
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) => out.push_str(s),
            Piece::Escaped(c) => out.push(*c),
            Piece::Var { key, default } => match lookup(key) {
                Some(v) => out.push_str(&v),
                None => out.push_str(default.as_deref()?),
            },
        }
    }
    Some(out)
}

fn glob<'v>(
    t: &Template,
    lookup: &dyn Fn(&str) -> Option<std::borrow::Cow<'v, str>>,
) -> Option<Glob> {
    let mut g = Glob::default();
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) => g.push_pattern(s),
            Piece::Escaped(c) => g.push_literal(c.encode_utf8(&mut [0; 4])),
            Piece::Var { key, default } => match lookup(key) {
                Some(v) => g.push_literal(&v),
                None => g.push_literal(default.as_deref()?),
            },
        }
    }
    Some(g)
}

fn as_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Resolves a template to a wildcard pattern against the view (resource patterns with variables).
pub fn resource_glob(t: &Template, view: &View, layer: Layer) -> Option<Glob> {
    glob(t, &|k: &str| view.single(k, layer))
}
