//! The checks both encodings share, so that CQL2 text and CQL2 JSON build
//! the same tree and refuse the same filters for the same reasons: property
//! resolution against the caller's queryables, operand types, literals
//! (times, numbers, coordinates, boxes, rings, intervals). Each returns the
//! [`Fault`]; the caller says where it lies.

use super::ast::{Bound, CmpOp, Expr, Literal, Scalar, SpatialLiteral, Type};
use super::eval::LikePattern;
use super::{Fault, Queryables};

/// An RFC 3339 time or a date: its first and last millisecond.
pub fn instant(s: &str) -> Result<(i64, i64), Fault> {
    let a = crate::model::time::parse_time(s).map_err(Fault::Literal)?;
    let z = crate::request::parse_to_arg(s).map_err(Fault::Literal)?;
    Ok((a.timestamp_millis(), z.timestamp_millis()))
}

/// Which instant literal: `TIMESTAMP('...')` / `{"timestamp": ...}` or
/// `DATE('...')` / `{"date": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstantKind {
    /// A date and time.
    Timestamp,
    /// A whole day.
    Date,
}

/// A timestamp or date literal: its first and last millisecond (a date's
/// last is the end of that day).
pub fn instant_literal(kind: InstantKind, s: &str) -> Result<(i64, i64), Fault> {
    let date_only = crate::model::time::is_date_only(s);
    match kind {
        InstantKind::Date if !date_only => {
            Err(Fault::Literal(format!("DATE('{s}'): expected YYYY-MM-DD")))
        }
        InstantKind::Timestamp if date_only => Err(Fault::Literal(format!(
            "TIMESTAMP('{s}'): expected a date and time (use DATE for a day)"
        ))),
        _ => instant(s),
    }
}

/// `x` (already signed) when it is finite; `text` names it otherwise.
pub fn finite(x: f64, text: &str) -> Result<f64, Fault> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(Fault::Literal(format!("{text:?} is not a finite number")))
    }
}

/// `lon lat` within the CRS84 ranges.
pub fn lonlat(x: f64, y: f64) -> Result<geo_types::Coord<f64>, Fault> {
    if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
        return Err(Fault::Literal(format!(
            "({x} {y}) is outside CRS84 (longitude in [-180, 180], latitude in [-90, 90])"
        )));
    }
    Ok(geo_types::coord! {x: x, y: y})
}

/// A box of 4 numbers (or 6 with heights) in CRS84.
pub fn bbox(n: &[f64]) -> Result<SpatialLiteral, Fault> {
    let b = match *n {
        [a, b, c, d] => [a, b, c, d],
        [a, b, _, d, e, _] => [a, b, d, e],
        _ => {
            return Err(Fault::Literal(format!(
                "BBOX takes 4 numbers (or 6 with heights), not {}",
                n.len()
            )))
        }
    };
    lonlat(b[0], b[1])?;
    lonlat(b[2], b[3])?;
    if b[1] > b[3] {
        return Err(Fault::Literal(
            "BBOX: the southern edge is north of the northern one".into(),
        ));
    }
    Ok(SpatialLiteral::bbox(b))
}

/// A closed polygon ring of checked positions.
pub fn ring(positions: Vec<geo_types::Coord<f64>>) -> Result<geo_types::LineString<f64>, Fault> {
    if positions.len() < 4 || positions.first() != positions.last() {
        return Err(Fault::Literal(
            "a polygon ring needs at least 4 positions, the last equal to the first".into(),
        ));
    }
    Ok(geo_types::LineString::new(positions))
}

/// The fault of too many polygon vertices.
pub fn too_many_vertices() -> Fault {
    Fault::TooComplex(format!(
        "a polygon of more than {} vertices",
        super::MAX_POLYGON_VERTICES
    ))
}

/// Checks an interval's fixed ends are in order.
pub fn interval_order(start: &Bound, end: &Bound) -> Result<(), Fault> {
    if let (Bound::At(a), Bound::At(z)) = (start, end) {
        if z < a {
            return Err(Fault::Literal("the interval ends before it starts".into()));
        }
    }
    Ok(())
}

/// A queryable used as a scalar operand (not the geometry).
pub fn scalar_property(name: &str, q: &Queryables) -> Result<Scalar, Fault> {
    match q.get(name) {
        Some(Type::Geometry) => Err(Fault::Type(format!(
            "{name:?} is a geometry: use it in S_INTERSECTS"
        ))),
        Some(ty) => Ok(Scalar::Property(name.to_string(), ty)),
        None => Err(Fault::UnknownProperty(name.to_string())),
    }
}

/// A queryable of type instant.
pub fn instant_property(name: &str, q: &Queryables) -> Result<String, Fault> {
    match q.get(name) {
        Some(Type::Instant) => Ok(name.to_string()),
        Some(t) => Err(Fault::Type(format!(
            "{name:?} is {}, not an instant",
            t.name()
        ))),
        None => Err(Fault::UnknownProperty(name.to_string())),
    }
}

/// A queryable that must be the geometry.
pub fn geometry_property(name: &str, q: &Queryables) -> Result<(), Fault> {
    match q.get(name) {
        Some(Type::Geometry) => Ok(()),
        Some(t) => Err(Fault::Type(format!(
            "{name:?} is {}, not a geometry",
            t.name()
        ))),
        None => Err(Fault::UnknownProperty(name.to_string())),
    }
}

/// The fault of an `S_INTERSECTS` without exactly one geometry property
/// and one literal.
pub fn one_property_one_literal() -> Fault {
    Fault::Syntax("S_INTERSECTS compares the geometry property with one literal".into())
}

/// Checks two operands compare, turning a string compared with an instant
/// into that instant.
pub fn unify(a: Scalar, b: Scalar) -> Result<(Scalar, Scalar), Fault> {
    let to_instant = |s: Scalar| -> Result<Scalar, Fault> {
        match s {
            Scalar::Literal(Literal::Str(t)) => {
                let (ms, _) = instant(&t)?;
                Ok(Scalar::Literal(Literal::Instant(ms)))
            }
            other => Ok(other),
        }
    };
    let (a, b) = match (a.ty(), b.ty()) {
        (Type::Instant, Type::String) => (a, to_instant(b)?),
        (Type::String, Type::Instant) => (to_instant(a)?, b),
        _ => (a, b),
    };
    if a.ty() != b.ty() {
        return Err(Fault::Type(format!(
            "cannot compare {} with {}",
            a.ty().name(),
            b.ty().name()
        )));
    }
    Ok((a, b))
}

/// `a op b`, typed.
pub fn comparison(op: CmpOp, a: Scalar, b: Scalar) -> Result<Expr, Fault> {
    let (a, b) = unify(a, b)?;
    if a.ty() == Type::Boolean && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
        return Err(Fault::Type("booleans compare only with = and <>".into()));
    }
    Ok(Expr::Cmp(op, a, b))
}

/// `subject [NOT] BETWEEN low AND high`, typed.
pub fn between(subject: Scalar, low: Scalar, high: Scalar, negated: bool) -> Result<Expr, Fault> {
    let (subject, low) = unify(subject, low)?;
    let (subject, high) = unify(subject, high)?;
    if !matches!(subject.ty(), Type::Number | Type::Instant | Type::String) {
        return Err(Fault::Type(format!(
            "BETWEEN does not apply to {}",
            subject.ty().name()
        )));
    }
    Ok(Expr::Between {
        subject,
        low,
        high,
        negated,
    })
}

/// Checks the subject of `LIKE` is a string.
pub fn like_subject(subject: &Scalar) -> Result<(), Fault> {
    if subject.ty() != Type::String {
        return Err(Fault::Type(format!(
            "LIKE applies to strings, not to {}",
            subject.ty().name()
        )));
    }
    Ok(())
}

/// `subject [NOT] LIKE pattern`, compiled.
pub fn like(subject: Scalar, pattern: &str, negated: bool) -> Result<Expr, Fault> {
    let pattern = LikePattern::compile(pattern)?;
    Ok(Expr::Like {
        subject,
        pattern,
        negated,
    })
}

/// The fault of an `IN` list beyond [`super::MAX_IN_ITEMS`].
pub fn too_many_in_items() -> Fault {
    Fault::TooComplex(format!(
        "more than {} values in an IN list",
        super::MAX_IN_ITEMS
    ))
}

/// The fault of a tree beyond [`super::MAX_NODES`].
pub fn too_many_nodes() -> Fault {
    Fault::TooComplex(format!(
        "more than {} predicates and operands",
        super::MAX_NODES
    ))
}

/// The fault of nesting beyond [`super::MAX_DEPTH`].
pub fn too_deep() -> Fault {
    Fault::TooComplex(format!("nested deeper than {}", super::MAX_DEPTH))
}
