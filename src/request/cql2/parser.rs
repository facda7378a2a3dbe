//! Recursive descent over the tokens of CQL2 text:
//!
//! ```text
//! or        = and { OR and }
//! and       = not { AND not }
//! not       = NOT not | primary
//! primary   = "(" or ")" | S_INTERSECTS "(" geom "," geom ")"
//!           | T_INTERSECTS "(" time "," time ")" | predicate
//! predicate = scalar ( cmp scalar | [NOT] LIKE string
//!           | [NOT] BETWEEN scalar AND scalar | [NOT] IN "(" scalar {"," scalar} ")"
//!           | IS [NOT] NULL ) | TRUE | FALSE
//! scalar    = property | string | [sign] number | TRUE | FALSE
//!           | TIMESTAMP "(" string ")" | DATE "(" string ")"
//! geom      = property | BBOX "(" n "," n "," n "," n ["," n "," n] ")"
//!           | POINT "(" n n ")" | POLYGON "(" ring {"," ring} ")"
//! ring      = "(" n n {"," n n} ")"
//! time      = property | TIMESTAMP(...) | DATE(...) | INTERVAL "(" end "," end ")"
//! end       = string ('..' is open) | TIMESTAMP(...) | DATE(...) | property
//! ```
//!
//! Keywords are case-insensitive; a property written in double quotes is
//! never a keyword.

use super::ast::{Bound, CmpOp, Expr, Interval, Literal, Scalar, SpatialLiteral};
use super::check::{self, InstantKind};
use super::lexer::{tokens, Tok, Token};
use super::{
    Cql2Error, Fault, Queryables, MAX_CHARS, MAX_DEPTH, MAX_IN_ITEMS, MAX_NODES,
    MAX_POLYGON_VERTICES, MAX_TOKENS,
};

/// Words that are never a property unless quoted.
const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "LIKE",
    "BETWEEN",
    "IN",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "S_INTERSECTS",
    "T_INTERSECTS",
    "BBOX",
    "POINT",
    "POLYGON",
    "TIMESTAMP",
    "DATE",
    "INTERVAL",
];

/// Parses a whole filter.
pub fn parse(text: &str, queryables: &Queryables) -> Result<Expr, Cql2Error> {
    let n = text.chars().count();
    if n > MAX_CHARS {
        return Err(Cql2Error::new(
            Fault::TooComplex(format!("{n} characters (at most {MAX_CHARS})")),
            MAX_CHARS + 1,
        ));
    }
    let toks = tokens(text, MAX_TOKENS)?;
    let mut p = Parser {
        toks,
        pos: 0,
        nodes: 0,
        depth: 0,
        queryables,
    };
    if matches!(p.peek(), Tok::End) {
        return Err(p.fail(Fault::Syntax("empty filter".into())));
    }
    let e = p.or()?;
    if !matches!(p.peek(), Tok::End) {
        return Err(p.fail(Fault::Syntax(format!(
            "unexpected {} after a complete expression",
            describe(p.peek())
        ))));
    }
    Ok(e)
}

struct Parser<'q> {
    toks: Vec<Token>,
    pos: usize,
    nodes: usize,
    depth: usize,
    queryables: &'q Queryables,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident { name, .. } => format!("{name:?}"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Num(n) => format!("number {n}"),
        Tok::Open => "'('".into(),
        Tok::Close => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Op(o) => format!("'{o}'"),
        Tok::Sign(c) => format!("'{c}'"),
        Tok::End => "the end of the filter".into(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.toks[(self.pos + ahead).min(self.toks.len() - 1)].tok
    }

    fn column(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].column
    }

    fn fail(&self, fault: Fault) -> Cql2Error {
        Cql2Error::new(fault, self.column())
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    /// Counts one node of the tree against [`MAX_NODES`].
    fn node(&mut self) -> Result<(), Cql2Error> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.fail(check::too_many_nodes()));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), Cql2Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fail(check::too_deep()));
        }
        Ok(())
    }

    /// Whether the next token is the unquoted keyword `kw`.
    fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    fn is_kw_at(&self, ahead: usize, kw: &str) -> bool {
        matches!(self.peek_at(ahead), Tok::Ident { name, quoted: false } if name.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), Cql2Error> {
        if *self.peek() == want {
            self.next();
            Ok(())
        } else {
            Err(self.fail(Fault::Syntax(format!(
                "expected {what}, found {}",
                describe(self.peek())
            ))))
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), Cql2Error> {
        if self.is_kw(kw) {
            self.next();
            Ok(())
        } else {
            Err(self.fail(Fault::Syntax(format!(
                "expected {kw}, found {}",
                describe(self.peek())
            ))))
        }
    }

    fn or(&mut self) -> Result<Expr, Cql2Error> {
        let mut terms = vec![self.and()?];
        while self.is_kw("OR") {
            self.next();
            self.node()?;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, Cql2Error> {
        let mut factors = vec![self.not()?];
        while self.is_kw("AND") {
            self.next();
            self.node()?;
            factors.push(self.not()?);
        }
        Ok(if factors.len() == 1 {
            factors.remove(0)
        } else {
            Expr::And(factors)
        })
    }

    fn not(&mut self) -> Result<Expr, Cql2Error> {
        if self.is_kw("NOT") {
            self.next();
            self.node()?;
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, Cql2Error> {
        if *self.peek() == Tok::Open {
            self.next();
            self.enter()?;
            let e = self.or()?;
            self.depth -= 1;
            self.expect(Tok::Close, "')'")?;
            return Ok(e);
        }
        if self.is_kw("S_INTERSECTS") && *self.peek_at(1) == Tok::Open {
            return self.spatial();
        }
        if self.is_kw("T_INTERSECTS") && *self.peek_at(1) == Tok::Open {
            return self.temporal();
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, Cql2Error> {
        let at = self.column();
        let subject = self.scalar()?;
        self.node()?;
        let op_at = self.column();
        if let Some(op) = match self.peek() {
            Tok::Op(symbol) => CmpOp::of_symbol(symbol),
            _ => None,
        } {
            self.next();
            let other = self.scalar()?;
            self.node()?;
            return check::comparison(op, subject, other).map_err(|f| Cql2Error::new(f, op_at));
        }
        let negated = self.is_kw("NOT")
            && (self.is_kw_at(1, "LIKE") || self.is_kw_at(1, "BETWEEN") || self.is_kw_at(1, "IN"));
        if negated {
            self.next();
        }
        if self.is_kw("LIKE") {
            self.next();
            return self.like(subject, negated, op_at);
        }
        if self.is_kw("BETWEEN") {
            self.next();
            let low = self.scalar()?;
            self.node()?;
            self.expect_kw("AND")?;
            let high = self.scalar()?;
            self.node()?;
            return check::between(subject, low, high, negated)
                .map_err(|f| Cql2Error::new(f, op_at));
        }
        if self.is_kw("IN") {
            self.next();
            self.expect(Tok::Open, "'(' after IN")?;
            let mut list = Vec::new();
            let mut subject = subject;
            loop {
                if list.len() >= MAX_IN_ITEMS {
                    return Err(self.fail(check::too_many_in_items()));
                }
                let item_at = self.column();
                let item = self.scalar()?;
                self.node()?;
                let (s, item) =
                    check::unify(subject, item).map_err(|f| Cql2Error::new(f, item_at))?;
                subject = s;
                list.push(item);
                if *self.peek() == Tok::Comma {
                    self.next();
                    continue;
                }
                self.expect(Tok::Close, "',' or ')' in the IN list")?;
                break;
            }
            return Ok(Expr::In {
                subject,
                list,
                negated,
            });
        }
        if self.is_kw("IS") {
            self.next();
            let negated = self.is_kw("NOT");
            if negated {
                self.next();
            }
            self.expect_kw("NULL")?;
            return Ok(Expr::IsNull { subject, negated });
        }
        if let Scalar::Literal(Literal::Bool(b)) = subject {
            return Ok(Expr::Const(b));
        }
        Err(Cql2Error::new(
            Fault::Syntax(format!(
                "expected a comparison (=, <>, <, <=, >, >=, LIKE, BETWEEN, IN or IS NULL) after the operand at column {at}, found {}",
                describe(self.peek())
            )),
            op_at,
        ))
    }

    fn like(&mut self, subject: Scalar, negated: bool, op_at: usize) -> Result<Expr, Cql2Error> {
        check::like_subject(&subject).map_err(|f| Cql2Error::new(f, op_at))?;
        let at = self.column();
        let Tok::Str(p) = self.next() else {
            return Err(Cql2Error::new(
                Fault::Syntax("expected a quoted pattern after LIKE".into()),
                at,
            ));
        };
        self.node()?;
        check::like(subject, &p, negated).map_err(|f| Cql2Error::new(f, at))
    }

    /// A property or a literal.
    fn scalar(&mut self) -> Result<Scalar, Cql2Error> {
        let at = self.column();
        match self.next() {
            Tok::Str(s) => Ok(Scalar::Literal(Literal::Str(s))),
            Tok::Num(n) => Ok(Scalar::Literal(Literal::Num(number(&n, 1.0, at)?))),
            Tok::Sign(c) => {
                let at = self.column();
                match self.next() {
                    Tok::Num(n) => {
                        let sign = if c == '-' { -1.0 } else { 1.0 };
                        Ok(Scalar::Literal(Literal::Num(number(&n, sign, at)?)))
                    }
                    other => Err(Cql2Error::new(
                        Fault::Syntax(format!(
                            "expected a number after '{c}', found {}",
                            describe(&other)
                        )),
                        at,
                    )),
                }
            }
            Tok::Ident { name, quoted } => {
                if !quoted {
                    let up = name.to_ascii_uppercase();
                    match up.as_str() {
                        "TRUE" => return Ok(Scalar::Literal(Literal::Bool(true))),
                        "FALSE" => return Ok(Scalar::Literal(Literal::Bool(false))),
                        "TIMESTAMP" | "DATE" if *self.peek() == Tok::Open => {
                            let (t, _) = self.instant_literal(&up)?;
                            return Ok(Scalar::Literal(Literal::Instant(t)));
                        }
                        _ if KEYWORDS.contains(&up.as_str()) => {
                            return Err(Cql2Error::new(
                                Fault::Syntax(format!(
                                    "expected a property or a value, found the keyword {name}"
                                )),
                                at,
                            ))
                        }
                        _ => {}
                    }
                }
                check::scalar_property(&name, self.queryables).map_err(|f| Cql2Error::new(f, at))
            }
            other => Err(Cql2Error::new(
                Fault::Syntax(format!(
                    "expected a property or a value, found {}",
                    describe(&other)
                )),
                at,
            )),
        }
    }

    /// `TIMESTAMP('...')` or `DATE('...')` after the keyword: the instant,
    /// and for a date the last millisecond of that day.
    fn instant_literal(&mut self, kw: &str) -> Result<(i64, i64), Cql2Error> {
        self.expect(Tok::Open, "'('")?;
        let s_at = self.column();
        let Tok::Str(s) = self.next() else {
            return Err(Cql2Error::new(
                Fault::Syntax(format!("expected a quoted time in {kw}(...)")),
                s_at,
            ));
        };
        self.expect(Tok::Close, "')'")?;
        let kind = if kw == "DATE" {
            InstantKind::Date
        } else {
            InstantKind::Timestamp
        };
        check::instant_literal(kind, &s).map_err(|f| Cql2Error::new(f, s_at))
    }

    fn spatial(&mut self) -> Result<Expr, Cql2Error> {
        self.next();
        self.node()?;
        self.expect(Tok::Open, "'('")?;
        let mut prop = false;
        let mut shape = None;
        for i in 0..2 {
            if i == 1 {
                self.expect(Tok::Comma, "',' between the two geometries")?;
            }
            let at = self.column();
            let word = match self.peek() {
                Tok::Ident { name, quoted } => Some((name.clone(), *quoted)),
                _ => None,
            };
            match word {
                Some((name, false))
                    if ["BBOX", "POINT", "POLYGON"]
                        .iter()
                        .any(|k| name.eq_ignore_ascii_case(k)) =>
                {
                    self.next();
                    if shape.is_some() {
                        return Err(Cql2Error::new(check::one_property_one_literal(), at));
                    }
                    shape = Some(self.geometry_literal(&name.to_ascii_uppercase())?);
                }
                Some((name, _)) => {
                    self.next();
                    check::geometry_property(&name, self.queryables)
                        .map_err(|f| Cql2Error::new(f, at))?;
                    if prop {
                        return Err(Cql2Error::new(check::one_property_one_literal(), at));
                    }
                    prop = true;
                }
                None => {
                    return Err(self.fail(Fault::Syntax(format!(
                        "expected a geometry property, BBOX, POINT or POLYGON, found {}",
                        describe(self.peek())
                    ))))
                }
            }
        }
        self.expect(Tok::Close, "')'")?;
        match (prop, shape) {
            (true, Some(s)) => Ok(Expr::SIntersects(s)),
            _ => Err(self.fail(check::one_property_one_literal())),
        }
    }

    /// A signed number.
    fn coordinate(&mut self) -> Result<f64, Cql2Error> {
        let at = self.column();
        let sign = match self.peek() {
            Tok::Sign(c) => {
                let s = if *c == '-' { -1.0 } else { 1.0 };
                self.next();
                s
            }
            _ => 1.0,
        };
        let at_n = self.column();
        match self.next() {
            Tok::Num(n) => number(&n, sign, at_n),
            other => Err(Cql2Error::new(
                Fault::Syntax(format!("expected a number, found {}", describe(&other))),
                at,
            )),
        }
    }

    /// `lon lat` within the CRS84 ranges.
    fn position(&mut self) -> Result<geo_types::Coord<f64>, Cql2Error> {
        let at = self.column();
        let x = self.coordinate()?;
        let y = self.coordinate()?;
        check::lonlat(x, y).map_err(|f| Cql2Error::new(f, at))
    }

    fn geometry_literal(&mut self, kw: &str) -> Result<SpatialLiteral, Cql2Error> {
        self.expect(Tok::Open, "'('")?;
        let at = self.column();
        let lit = match kw {
            "BBOX" => {
                let mut n = vec![self.coordinate()?];
                while *self.peek() == Tok::Comma && n.len() < 6 {
                    self.next();
                    n.push(self.coordinate()?);
                }
                check::bbox(&n).map_err(|f| Cql2Error::new(f, at))?
            }
            "POINT" => {
                let c = self.position()?;
                SpatialLiteral::Shapes(vec![geo_types::Geometry::Point(c.into())])
            }
            _ => {
                let mut rings: Vec<geo_types::LineString<f64>> = Vec::new();
                let mut vertices = 0usize;
                loop {
                    let ring_at = self.column();
                    self.expect(Tok::Open, "'(' opening a ring")?;
                    let mut ring = Vec::new();
                    loop {
                        vertices += 1;
                        if vertices > MAX_POLYGON_VERTICES {
                            return Err(self.fail(check::too_many_vertices()));
                        }
                        ring.push(self.position()?);
                        if *self.peek() == Tok::Comma {
                            self.next();
                            continue;
                        }
                        self.expect(Tok::Close, "',' or ')' in a ring")?;
                        break;
                    }
                    rings.push(check::ring(ring).map_err(|f| Cql2Error::new(f, ring_at))?);
                    if *self.peek() == Tok::Comma {
                        self.next();
                        continue;
                    }
                    break;
                }
                let exterior = rings.remove(0);
                SpatialLiteral::polygon(geo_types::Polygon::new(exterior, rings))
            }
        };
        self.expect(Tok::Close, "')'")?;
        Ok(lit)
    }

    fn temporal(&mut self) -> Result<Expr, Cql2Error> {
        self.next();
        self.node()?;
        self.expect(Tok::Open, "'('")?;
        let a = self.time_operand()?;
        self.expect(Tok::Comma, "',' between the two times")?;
        let b = self.time_operand()?;
        self.expect(Tok::Close, "')'")?;
        Ok(Expr::TIntersects(a, b))
    }

    /// An instant property, `TIMESTAMP`, `DATE` (the whole day) or
    /// `INTERVAL(start, end)`.
    fn time_operand(&mut self) -> Result<Interval, Cql2Error> {
        let at = self.column();
        self.node()?;
        if self.is_kw("INTERVAL") && *self.peek_at(1) == Tok::Open {
            self.next();
            self.next();
            let start = self.bound(false)?;
            self.expect(Tok::Comma, "',' between the interval's ends")?;
            let end = self.bound(true)?;
            self.expect(Tok::Close, "')'")?;
            check::interval_order(&start, &end).map_err(|f| Cql2Error::new(f, at))?;
            return Ok(Interval { start, end });
        }
        for kw in ["TIMESTAMP", "DATE"] {
            if self.is_kw(kw) && *self.peek_at(1) == Tok::Open {
                self.next();
                let (a, z) = self.instant_literal(kw)?;
                return Ok(Interval {
                    start: Bound::At(a),
                    end: Bound::At(z),
                });
            }
        }
        let name = self.instant_property()?;
        Ok(Interval {
            start: Bound::Property(name.clone()),
            end: Bound::Property(name),
        })
    }

    /// A property of type instant.
    fn instant_property(&mut self) -> Result<String, Cql2Error> {
        let at = self.column();
        match self.next() {
            Tok::Ident { name, quoted } => {
                if !quoted && KEYWORDS.iter().any(|k| name.eq_ignore_ascii_case(k)) {
                    return Err(Cql2Error::new(
                        Fault::Syntax(format!("expected a time, found the keyword {name}")),
                        at,
                    ));
                }
                check::instant_property(&name, self.queryables).map_err(|f| Cql2Error::new(f, at))
            }
            other => Err(Cql2Error::new(
                Fault::Syntax(format!(
                    "expected a time property, TIMESTAMP, DATE or INTERVAL, found {}",
                    describe(&other)
                )),
                at,
            )),
        }
    }

    /// One end of `INTERVAL(...)`; a date as the end means the end of that day.
    fn bound(&mut self, is_end: bool) -> Result<Bound, Cql2Error> {
        let at = self.column();
        if let Tok::Str(s) = self.peek().clone() {
            self.next();
            if s == ".." {
                return Ok(Bound::Open);
            }
            let (a, z) = check::instant(&s).map_err(|f| Cql2Error::new(f, at))?;
            return Ok(Bound::At(if is_end { z } else { a }));
        }
        for kw in ["TIMESTAMP", "DATE"] {
            if self.is_kw(kw) && *self.peek_at(1) == Tok::Open {
                self.next();
                let (a, z) = self.instant_literal(kw)?;
                return Ok(Bound::At(if is_end { z } else { a }));
            }
        }
        Ok(Bound::Property(self.instant_property()?))
    }
}

fn number(text: &str, sign: f64, at: usize) -> Result<f64, Cql2Error> {
    let x = text.parse::<f64>().unwrap_or(f64::NAN);
    check::finite(sign * x, text).map_err(|f| Cql2Error::new(f, at))
}
