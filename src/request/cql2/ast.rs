//! The parsed form of a CQL2 filter: every property already resolved
//! against the caller's queryables and typed, every literal checked.

use geo_types::{Geometry, Polygon, Rect};

/// The type of a queryable (and of a scalar expression).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Text, including enumerations.
    String,
    /// Integers and reals.
    Number,
    /// `TRUE` / `FALSE`.
    Boolean,
    /// An instant (RFC 3339 or a date), compared as milliseconds.
    Instant,
    /// The feature geometry (only in spatial predicates).
    Geometry,
}

impl Type {
    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Type::String => "a string",
            Type::Number => "a number",
            Type::Boolean => "a boolean",
            Type::Instant => "an instant",
            Type::Geometry => "a geometry",
        }
    }
}

/// A literal or property value a comparison works on.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A character string.
    Str(String),
    /// A number.
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// An instant in milliseconds since the epoch.
    Instant(i64),
}

/// An operand of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A queryable, by name, with its type.
    Property(String, Type),
    /// A constant.
    Literal(Literal),
}

impl Scalar {
    /// Its static type.
    pub fn ty(&self) -> Type {
        match self {
            Scalar::Property(_, t) => *t,
            Scalar::Literal(Literal::Str(_)) => Type::String,
            Scalar::Literal(Literal::Num(_)) => Type::Number,
            Scalar::Literal(Literal::Bool(_)) => Type::Boolean,
            Scalar::Literal(Literal::Instant(_)) => Type::Instant,
        }
    }
}

/// Binary comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator of its symbol (`=`, `<>`, `<`, `<=`, `>`, `>=`), the same
    /// in CQL2 text and JSON.
    pub fn of_symbol(symbol: &str) -> Option<CmpOp> {
        Some(match symbol {
            "=" => CmpOp::Eq,
            "<>" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            _ => return None,
        })
    }
}

/// A spatial literal of `S_INTERSECTS`, in CRS84.
#[derive(Debug, Clone, PartialEq)]
pub enum SpatialLiteral {
    /// A point, a polygon, or a box (`BBOX`; a box crossing the
    /// antimeridian is split in two rectangles).
    Shapes(Vec<Geometry<f64>>),
}

impl SpatialLiteral {
    /// A box `[min_lon, min_lat, max_lon, max_lat]`; `min_lon > max_lon`
    /// crosses the antimeridian.
    pub fn bbox(b: [f64; 4]) -> SpatialLiteral {
        let rect = |a: f64, z: f64| {
            Geometry::Rect(Rect::new(
                geo_types::coord! {x: a, y: b[1]},
                geo_types::coord! {x: z, y: b[3]},
            ))
        };
        if b[0] > b[2] {
            SpatialLiteral::Shapes(vec![rect(b[0], 180.0), rect(-180.0, b[2])])
        } else {
            SpatialLiteral::Shapes(vec![rect(b[0], b[2])])
        }
    }

    /// A polygon.
    pub fn polygon(p: Polygon<f64>) -> SpatialLiteral {
        SpatialLiteral::Shapes(vec![Geometry::Polygon(p)])
    }
}

/// One end of a time interval.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// `'..'`: unbounded.
    Open,
    /// A fixed instant in milliseconds (a date as an interval's end is the
    /// last millisecond of that day).
    At(i64),
    /// A property's instant.
    Property(String),
}

/// A temporal operand of `T_INTERSECTS`, as a closed interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Start.
    pub start: Bound,
    /// End.
    pub end: Bound,
}

/// A boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `TRUE` or `FALSE`.
    Const(bool),
    /// `a AND b AND ...`
    And(Vec<Expr>),
    /// `a OR b OR ...`
    Or(Vec<Expr>),
    /// `NOT a`
    Not(Box<Expr>),
    /// `a op b`
    Cmp(CmpOp, Scalar, Scalar),
    /// `a [NOT] LIKE 'pattern'`
    Like {
        /// The string tested.
        subject: Scalar,
        /// The compiled pattern.
        pattern: super::eval::LikePattern,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `a [NOT] BETWEEN low AND high`
    Between {
        /// The value tested.
        subject: Scalar,
        /// Lower bound (inclusive).
        low: Scalar,
        /// Upper bound (inclusive).
        high: Scalar,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `a [NOT] IN (x, y, ...)`
    In {
        /// The value tested.
        subject: Scalar,
        /// The list.
        list: Vec<Scalar>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `a IS [NOT] NULL`
    IsNull {
        /// The value tested.
        subject: Scalar,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `S_INTERSECTS(geometry, literal)`
    SIntersects(SpatialLiteral),
    /// `T_INTERSECTS(a, b)`
    TIntersects(Interval, Interval),
}
