//! CQL2 text filters (OGC 21-065) on the features one caller sees: a small
//! hand-written recursive-descent parser ([`parser`]) over a lexer
//! ([`lexer`]) into a typed tree ([`ast`]), evaluated per feature
//! ([`eval`]) on whatever the caller was shown of it.
//!
//! Supported: `=`, `<>`, `<`, `<=`, `>`, `>=`; `AND`, `OR`, `NOT` and
//! parentheses; `[NOT] IN (...)`, `[NOT] BETWEEN ... AND ...`,
//! `[NOT] LIKE` (`%`, `_`, `\` escapes), `IS [NOT] NULL`; `TRUE`, `FALSE`,
//! strings, numbers, `TIMESTAMP('...')`, `DATE('...')`;
//! `S_INTERSECTS(geometry, BBOX(...) | POINT(...) | POLYGON(...))` in CRS84;
//! `T_INTERSECTS(a, b)` with instants (properties, `TIMESTAMP`, `DATE`) and
//! `INTERVAL(start, end)` (`'..'` for an open end). Property names are
//! resolved against the caller's [`Queryables`]: a name the caller may not
//! see gives the very error a made-up name gives.
//!
//! The cost is bounded before anything is evaluated: the text
//! ([`MAX_CHARS`]), its tokens ([`MAX_TOKENS`]), the nesting
//! ([`MAX_DEPTH`]), the tree ([`MAX_NODES`]), `IN` lists ([`MAX_IN_ITEMS`]),
//! polygons ([`MAX_POLYGON_VERTICES`]) and `LIKE` patterns
//! ([`MAX_LIKE_TOKENS`], matched in one pass over the value whatever the
//! pattern). Logic is SQL's three-valued one: a comparison with a missing
//! (null) value is unknown, and only features for which the filter is true
//! pass.

pub mod ast;
pub mod eval;
pub mod lexer;
pub mod parser;
#[cfg(test)]
mod tests;

pub use ast::{Expr, Type};
pub use eval::{Subject, Value};

/// Longest filter text, in characters.
pub const MAX_CHARS: usize = 16_384;
/// Most tokens in a filter.
pub const MAX_TOKENS: usize = 4_096;
/// Deepest nesting of parentheses and `NOT`.
pub const MAX_DEPTH: usize = 20;
/// Most predicates, connectives and operands in a filter (polygon
/// vertices are bounded on their own).
pub const MAX_NODES: usize = 256;
/// Most values in one `IN` list.
pub const MAX_IN_ITEMS: usize = 100;
/// Most vertices of all rings of one polygon literal.
pub const MAX_POLYGON_VERTICES: usize = 500;
/// Most characters and wildcards in a `LIKE` pattern (runs of `%` count
/// once): the pattern is matched as a bit-parallel automaton of one
/// machine word.
pub const MAX_LIKE_TOKENS: usize = 63;

/// What is wrong with a filter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Fault {
    /// Not CQL2 text (or not the part of it served here).
    #[error("{0}")]
    Syntax(String),
    /// A property that is not a queryable of the collection for the caller.
    #[error("unknown property {0:?} (see the collection's queryables)")]
    UnknownProperty(String),
    /// Operands of the wrong types.
    #[error("{0}")]
    Type(String),
    /// A literal out of its domain (time, coordinate, polygon).
    #[error("{0}")]
    Literal(String),
    /// Beyond one of the documented bounds.
    #[error("too complex: {0}")]
    TooComplex(String),
}

/// A filter refused, with the column (1-based, in characters) of the fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{fault} at column {column}")]
pub struct Cql2Error {
    /// What is wrong.
    pub fault: Fault,
    /// Where.
    pub column: usize,
}

impl Cql2Error {
    /// A fault at a column.
    pub fn new(fault: Fault, column: usize) -> Self {
        Cql2Error { fault, column }
    }
}

/// The properties a filter may name, with their types: the queryables of
/// one collection as one caller sees them.
#[derive(Debug, Clone, Default)]
pub struct Queryables {
    props: Vec<(String, Type)>,
}

impl Queryables {
    /// Adds a queryable.
    pub fn add(&mut self, name: impl Into<String>, ty: Type) {
        self.props.push((name.into(), ty));
    }

    /// The type of `name`, when it is a queryable.
    pub fn get(&self, name: &str) -> Option<Type> {
        self.props.iter().find(|(n, _)| n == name).map(|(_, t)| *t)
    }

    /// Every queryable in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Type)> {
        self.props.iter().map(|(n, t)| (n.as_str(), *t))
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: Expr,
}

impl Filter {
    /// Parses CQL2 text against the caller's queryables.
    pub fn parse(text: &str, queryables: &Queryables) -> Result<Filter, Cql2Error> {
        parser::parse(text, queryables).map(|expr| Filter { expr })
    }

    /// The expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// A box every passing feature's geometry touches, when the filter
    /// requires one (an `S_INTERSECTS` with one shape, alone or in a
    /// top-level `AND`): a store may pre-filter on it.
    pub fn bbox(&self) -> Option<[f64; 4]> {
        use geo::BoundingRect;
        let one = |e: &Expr| match e {
            Expr::SIntersects(ast::SpatialLiteral::Shapes(s)) if s.len() == 1 => {
                let r = s[0].bounding_rect()?;
                Some([r.min().x, r.min().y, r.max().x, r.max().y])
            }
            _ => None,
        };
        match &self.expr {
            Expr::And(items) => items.iter().find_map(one),
            e => one(e),
        }
    }

    /// Whether the filter is true for `subject` (unknown is not true).
    pub fn matches(&self, subject: &dyn Subject) -> bool {
        eval::eval(&self.expr, subject) == Some(true)
    }
}
