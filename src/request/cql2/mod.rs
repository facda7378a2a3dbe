//! CQL2 filters (OGC 21-065) on the features one caller sees, in CQL2
//! text or CQL2 JSON: a small hand-written recursive-descent parser
//! ([`parser`]) over a lexer ([`lexer`]), and a walk over strict JSON
//! ([`json`]), both into one typed tree ([`ast`]) through the same checks
//! (`check.rs`), evaluated per feature ([`eval`]) on whatever the caller was
//! shown of it.
//!
//! Supported: `=`, `<>`, `<`, `<=`, `>`, `>=`; `AND`, `OR`, `NOT` and
//! parentheses; `[NOT] IN (...)`, `[NOT] BETWEEN ... AND ...`,
//! `[NOT] LIKE` (`%`, `_`, `\` escapes), `IS [NOT] NULL`; `TRUE`, `FALSE`,
//! strings, numbers, `TIMESTAMP('...')`, `DATE('...')`;
//! `S_INTERSECTS(geometry, BBOX(...) | POINT(...) | POLYGON(...))` in CRS84;
//! `T_INTERSECTS(a, b)` with instants (properties, `TIMESTAMP`, `DATE`) and
//! `INTERVAL(start, end)` (`'..'` for an open end); the same in JSON (see
//! [`json`]). Property names are resolved against the caller's
//! [`Queryables`]: a name the caller may not see gives the very error a
//! made-up name gives.
//!
//! The cost is bounded before anything is evaluated: the text
//! ([`MAX_CHARS`]), its tokens ([`MAX_TOKENS`]; JSON values and keys), the
//! nesting ([`MAX_DEPTH`]), the tree ([`MAX_NODES`]), `IN` lists ([`MAX_IN_ITEMS`]),
//! polygons ([`MAX_POLYGON_VERTICES`]) and `LIKE` patterns
//! ([`MAX_LIKE_TOKENS`], matched in one pass over the value whatever the
//! pattern). Logic is SQL's three-valued one: a comparison with a missing
//! (null) value is unknown, and only features for which the filter is true
//! pass.

pub mod ast;
mod check;
pub mod eval;
pub mod json;
#[cfg(test)]
mod json_tests;
pub mod lexer;
pub mod parser;
#[cfg(test)]
mod tests;

pub use ast::{Expr, Type};
pub use eval::{Subject, Value};

/// The encodings of a filter (`filter-lang`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `cql2-text`.
    Text,
    /// `cql2-json`.
    Json,
}

impl Lang {
    /// Both, in the order documents list them.
    pub const ALL: [Lang; 2] = [Lang::Text, Lang::Json];

    /// The `filter-lang` value.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Text => "cql2-text",
            Lang::Json => "cql2-json",
        }
    }

    /// The language named `s` (exactly, as `filter-lang` gives it).
    pub fn from_name(s: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.name() == s)
    }
}

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

/// Where in a filter its fault lies.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// CQL2 text: the 1-based column, in characters.
    Column(usize),
    /// CQL2 JSON that is not JSON (or repeats a key): the 1-based line and
    /// column (in characters) of the JSON text.
    Text {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// CQL2 JSON: the JSON Pointer (RFC 6901) of the member at fault (`""`
    /// is the whole document).
    Pointer(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Column(c) => write!(f, "column {c}"),
            Location::Text { line, column } => write!(f, "line {line} column {column}"),
            Location::Pointer(p) if p.is_empty() => {
                f.write_str("the top of the JSON (pointer \"\")")
            }
            Location::Pointer(p) => write!(f, "JSON pointer {p}"),
        }
    }
}

/// A filter refused, with where the fault lies.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{fault} at {at}")]
pub struct Cql2Error {
    /// What is wrong.
    pub fault: Fault,
    /// Where.
    pub at: Location,
}

impl Cql2Error {
    /// A fault at a column of CQL2 text.
    pub fn new(fault: Fault, column: usize) -> Self {
        Cql2Error {
            fault,
            at: Location::Column(column),
        }
    }

    /// The column of a fault in CQL2 text.
    pub fn column(&self) -> Option<usize> {
        match self.at {
            Location::Column(c) => Some(c),
            _ => None,
        }
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

    /// Parses CQL2 JSON against the caller's queryables: the same tree,
    /// checks and bounds as [`Filter::parse`].
    pub fn parse_json(text: &str, queryables: &Queryables) -> Result<Filter, Cql2Error> {
        json::parse(text, queryables).map(|expr| Filter { expr })
    }

    /// Parses `text` in `lang`.
    pub fn parse_in(lang: Lang, text: &str, queryables: &Queryables) -> Result<Filter, Cql2Error> {
        match lang {
            Lang::Text => Filter::parse(text, queryables),
            Lang::Json => Filter::parse_json(text, queryables),
        }
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
