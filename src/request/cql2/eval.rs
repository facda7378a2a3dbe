//! Evaluation of a parsed filter on one feature, in SQL's three-valued
//! logic (`None` is unknown), and `LIKE` patterns as a bit-parallel
//! automaton: one pass over the value, one machine word of state, whatever
//! the pattern.

use super::ast::{Bound, CmpOp, Expr, Interval, Literal, Scalar, SpatialLiteral};
use super::{Fault, MAX_LIKE_TOKENS};
use geo::Intersects;
use std::cmp::Ordering;

/// A property value as a filter reads it (borrowed from the feature).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Text.
    Str(&'a str),
    /// A number.
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// An instant in milliseconds.
    Instant(i64),
}

/// What a filter is evaluated on: one feature as the caller was shown it.
pub trait Subject {
    /// The value of queryable `name`; `None` when the feature has none
    /// (null). Instant queryables give [`Value::Instant`].
    fn value(&self, name: &str) -> Option<Value<'_>>;
    /// The feature's geometry, in CRS84.
    fn geometry(&self) -> Option<&geo_types::Geometry<f64>>;
}

fn literal(l: &Literal) -> Value<'_> {
    match l {
        Literal::Str(s) => Value::Str(s),
        Literal::Num(x) => Value::Num(*x),
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Instant(t) => Value::Instant(*t),
    }
}

fn scalar<'a>(s: &'a Scalar, subject: &'a dyn Subject) -> Option<Value<'a>> {
    match s {
        Scalar::Property(name, _) => subject.value(name),
        Scalar::Literal(l) => Some(literal(l)),
    }
}

/// Orders two values of one kind; `None` for different kinds (a property
/// whose stored value is not of its declared type) or NaN.
fn compare(a: Value<'_>, b: Value<'_>) -> Option<Ordering> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(&y),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(&y)),
        (Value::Instant(x), Value::Instant(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}

fn not(v: Option<bool>, negated: bool) -> Option<bool> {
    v.map(|b| b != negated)
}

/// The value of `e` for `subject`: `Some(true)`, `Some(false)` or unknown.
pub fn eval(e: &Expr, subject: &dyn Subject) -> Option<bool> {
    match e {
        Expr::Const(b) => Some(*b),
        Expr::And(items) => {
            let mut unknown = false;
            for i in items {
                match eval(i, subject) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            (!unknown).then_some(true)
        }
        Expr::Or(items) => {
            let mut unknown = false;
            for i in items {
                match eval(i, subject) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            (!unknown).then_some(false)
        }
        Expr::Not(inner) => eval(inner, subject).map(|b| !b),
        Expr::Cmp(op, a, b) => {
            let o = compare(scalar(a, subject)?, scalar(b, subject)?)?;
            Some(match op {
                CmpOp::Eq => o == Ordering::Equal,
                CmpOp::Ne => o != Ordering::Equal,
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
                CmpOp::Gt => o == Ordering::Greater,
                CmpOp::Ge => o != Ordering::Less,
            })
        }
        Expr::Like {
            subject: s,
            pattern,
            negated,
        } => match scalar(s, subject)? {
            Value::Str(text) => not(Some(pattern.matches(text)), *negated),
            _ => None,
        },
        Expr::Between {
            subject: s,
            low,
            high,
            negated,
        } => {
            let v = scalar(s, subject)?;
            let lo = compare(v, scalar(low, subject)?)?;
            let hi = compare(v, scalar(high, subject)?)?;
            not(
                Some(lo != Ordering::Less && hi != Ordering::Greater),
                *negated,
            )
        }
        Expr::In {
            subject: s,
            list,
            negated,
        } => {
            let v = scalar(s, subject)?;
            let mut unknown = false;
            for item in list {
                match scalar(item, subject).and_then(|x| compare(v, x)) {
                    Some(Ordering::Equal) => return not(Some(true), *negated),
                    Some(_) => {}
                    None => unknown = true,
                }
            }
            if unknown {
                None
            } else {
                not(Some(false), *negated)
            }
        }
        Expr::IsNull {
            subject: s,
            negated,
        } => not(Some(scalar(s, subject).is_none()), *negated),
        Expr::SIntersects(SpatialLiteral::Shapes(shapes)) => {
            let g = subject.geometry()?;
            Some(shapes.iter().any(|s| g.intersects(s)))
        }
        Expr::TIntersects(a, b) => {
            let (a0, a1) = interval(a, subject)?;
            let (b0, b1) = interval(b, subject)?;
            Some(a0 <= b1 && b0 <= a1)
        }
    }
}

fn bound(b: &Bound, subject: &dyn Subject, open: i64) -> Option<i64> {
    match b {
        Bound::Open => Some(open),
        Bound::At(t) => Some(*t),
        Bound::Property(name) => match subject.value(name)? {
            Value::Instant(t) => Some(t),
            _ => None,
        },
    }
}

fn interval(i: &Interval, subject: &dyn Subject) -> Option<(i64, i64)> {
    Some((
        bound(&i.start, subject, i64::MIN)?,
        bound(&i.end, subject, i64::MAX)?,
    ))
}

/// A compiled `LIKE` pattern: `%` any run of characters, `_` one
/// character, `\` makes the next character literal. State `i` of the
/// automaton means "the first `i` pattern items matched"; bit `i` of a
/// word holds it, so at most [`MAX_LIKE_TOKENS`] items.
#[derive(Debug, Clone, PartialEq)]
pub struct LikePattern {
    /// Items that are `_`.
    one: u64,
    /// Items that are `%`.
    many: u64,
    /// For each ASCII character, the literal items equal to it.
    ascii: Vec<u64>,
    /// The same for other characters.
    other: Vec<(char, u64)>,
    /// The accepting state.
    accept: u64,
}

impl LikePattern {
    /// Compiles a pattern (runs of `%` collapse to one).
    pub fn compile(p: &str) -> Result<LikePattern, Fault> {
        let mut pat = LikePattern {
            one: 0,
            many: 0,
            ascii: vec![0; 128],
            other: Vec::new(),
            accept: 0,
        };
        let mut k = 0usize;
        let mut chars = p.chars();
        let mut last_many = false;
        while let Some(c) = chars.next() {
            let (lit, is_many, is_one) = match c {
                '\\' => match chars.next() {
                    Some(e) => (Some(e), false, false),
                    None => {
                        return Err(Fault::Syntax(
                            "LIKE pattern ends with an escape '\\'".into(),
                        ))
                    }
                },
                '%' => (None, true, false),
                '_' => (None, false, true),
                c => (Some(c), false, false),
            };
            if is_many && last_many {
                continue;
            }
            last_many = is_many;
            if k >= MAX_LIKE_TOKENS {
                return Err(Fault::TooComplex(format!(
                    "a LIKE pattern of more than {MAX_LIKE_TOKENS} characters and wildcards"
                )));
            }
            let bit = 1u64 << k;
            if is_many {
                pat.many |= bit;
            } else if is_one {
                pat.one |= bit;
            } else if let Some(c) = lit {
                match pat.ascii.get_mut(c as usize) {
                    Some(m) => *m |= bit,
                    None => match pat.other.iter_mut().find(|(o, _)| *o == c) {
                        Some((_, m)) => *m |= bit,
                        None => pat.other.push((c, bit)),
                    },
                }
            }
            k += 1;
        }
        pat.accept = 1u64 << k;
        Ok(pat)
    }

    /// States reached from `s` by skipping a `%` (runs collapsed: one step).
    fn closure(&self, s: u64) -> u64 {
        s | ((s & self.many) << 1)
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        let mut s = self.closure(1);
        for c in text.chars() {
            let lit = match self.ascii.get(c as usize) {
                Some(m) => *m,
                None => self
                    .other
                    .iter()
                    .find(|(o, _)| *o == c)
                    .map_or(0, |(_, m)| *m),
            };
            s = self.closure(((s & (lit | self.one)) << 1) | (s & self.many));
            if s == 0 {
                return false;
            }
        }
        s & self.accept != 0
    }
}
