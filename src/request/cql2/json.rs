//! CQL2 JSON (OGC 21-065, the JSON encoding) into the same typed tree as
//! CQL2 text, through the same checks ([`super::check`]) and bounds:
//!
//! ```text
//! bool      = true | false | {"op": "and" | "or", "args": [bool, bool, ...]}
//!           | {"op": "not", "args": [bool]}
//!           | {"op": "=" | "<>" | "<" | "<=" | ">" | ">=", "args": [scalar, scalar]}
//!           | {"op": "like", "args": [scalar, "pattern"]}
//!           | {"op": "between", "args": [scalar, scalar, scalar]}
//!           | {"op": "in", "args": [scalar, [scalar, ...]]}
//!           | {"op": "isNull", "args": [scalar]}
//!           | {"op": "s_intersects", "args": [geom, geom]}
//!           | {"op": "t_intersects", "args": [time, time]}
//! scalar    = {"property": name} | string | number | true | false
//!           | {"timestamp": "..."} | {"date": "..."}
//! geom      = {"property": name} | {"bbox": [4 or 6 numbers]}
//!           | GeoJSON Point or Polygon ({"type", "coordinates"})
//! time      = {"property": name} | {"timestamp": ...} | {"date": ...}
//!           | {"interval": [end, end]}
//! end       = ".." | a date or time string | {"property": name}
//!           | {"timestamp": ...} | {"date": ...}
//! ```
//!
//! The text is strict JSON (a repeated key is an error) of at most
//! [`MAX_CHARS`] characters and [`MAX_TOKENS`] values and keys; serde_json
//! refuses nesting beyond 128 levels while reading, and this walk descends
//! only through `and`/`or`/`not`, counted against [`MAX_DEPTH`] before each
//! step down, so no filter can exhaust the stack. Every fault is reported
//! with the JSON Pointer of the member at fault (or the line and column of
//! text that is not JSON). A property the caller may not see gives the very
//! error a made-up one gives, at the same pointer.

use super::ast::{Bound, CmpOp, Expr, Interval, Literal, Scalar, SpatialLiteral};
use super::check::{self, InstantKind};
use super::{
    Cql2Error, Fault, Location, Queryables, MAX_CHARS, MAX_DEPTH, MAX_IN_ITEMS, MAX_NODES,
    MAX_POLYGON_VERTICES, MAX_TOKENS,
};
use crate::model::json::JsonProblem;
use serde_json::{Map, Value};

/// The operators served, as their `op` is spelled.
const OPS: &[&str] = &[
    "and",
    "or",
    "not",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "like",
    "between",
    "in",
    "isNull",
    "s_intersects",
    "t_intersects",
];

/// Parses a whole CQL2 JSON filter.
pub fn parse(text: &str, queryables: &Queryables) -> Result<Expr, Cql2Error> {
    let whole = Ptr::Root;
    let n = text.chars().count();
    if n > MAX_CHARS {
        return Err(whole.fail(Fault::TooComplex(format!(
            "{n} characters (at most {MAX_CHARS})"
        ))));
    }
    let value = crate::model::json::parse(text, MAX_CHARS).map_err(|e| {
        let fault = match e.problem {
            JsonProblem::Syntax(m) if m.contains("recursion limit") => {
                Fault::TooComplex(format!("JSON nested deeper than serde_json reads ({m})"))
            }
            JsonProblem::Syntax(m) => Fault::Syntax(format!("not JSON: {m}")),
            JsonProblem::Duplicate(k) => Fault::Syntax(format!(
                "the key {k:?} is repeated in one object (a key may occur once)"
            )),
            JsonProblem::TooLong(b) => Fault::TooComplex(format!("a string of {b} bytes")),
        };
        Cql2Error {
            fault,
            at: Location::Text {
                line: e.line,
                column: char_column(text, e.line, e.column),
            },
        }
    })?;
    let tokens = count_tokens(&value);
    if tokens > MAX_TOKENS {
        return Err(whole.fail(Fault::TooComplex(format!(
            "{tokens} JSON values and keys (at most {MAX_TOKENS})"
        ))));
    }
    let mut w = Walker {
        queryables,
        nodes: 0,
        depth: 0,
    };
    w.boolean(&value, &whole, false)
}

/// serde_json's byte column on `line` as a column in characters.
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(l) = text.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column;
    };
    let bytes = l.as_bytes();
    let cut = byte_column.saturating_sub(1).min(bytes.len());
    String::from_utf8_lossy(&bytes[..cut]).chars().count() + 1
}

/// Values and object keys in `v`, counted without recursion.
fn count_tokens(v: &Value) -> usize {
    let mut n = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n += 1;
        match v {
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(o) => {
                n += o.len();
                stack.extend(o.values());
            }
            _ => {}
        }
        if n > MAX_TOKENS {
            break;
        }
    }
    n
}

/// Where a member lies: a chain of keys and indices up from the root, so
/// that a pointer is spelled out only for a fault.
#[derive(Clone, Copy)]
enum Ptr<'a> {
    Root,
    Key(&'a Ptr<'a>, &'a str),
    Index(&'a Ptr<'a>, usize),
}

impl Ptr<'_> {
    /// The RFC 6901 pointer.
    fn pointer(&self) -> String {
        let mut segs = Vec::new();
        let mut p = self;
        loop {
            match p {
                Ptr::Root => break,
                Ptr::Key(up, k) => {
                    segs.push(k.replace('~', "~0").replace('/', "~1"));
                    p = up;
                }
                Ptr::Index(up, i) => {
                    segs.push(i.to_string());
                    p = up;
                }
            }
        }
        segs.iter().rev().map(|s| format!("/{s}")).collect()
    }

    fn fail(&self, fault: Fault) -> Cql2Error {
        Cql2Error {
            fault,
            at: Location::Pointer(self.pointer()),
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(o) => match o.keys().next() {
            Some(k) => format!("an object with {k:?}"),
            None => "an empty object".into(),
        },
    }
}

/// The one member of an object `{key: value}` shaped as `keys` allows:
/// which key it has and its value; any other member is refused at its
/// pointer.
fn single<'v>(
    o: &'v Map<String, Value>,
    at: &Ptr<'_>,
    what: &str,
) -> Result<(&'v str, &'v Value), Cql2Error> {
    let mut it = o.iter();
    match (it.next(), it.next()) {
        (Some((k, v)), None) => Ok((k.as_str(), v)),
        (None, _) => Err(at.fail(Fault::Syntax(format!(
            "expected {what}, found an empty object"
        )))),
        (Some(_), Some((k, _))) => {
            Err(Ptr::Key(at, k).fail(Fault::Syntax(format!("unexpected member {k:?} in {what}"))))
        }
    }
}

struct Walker<'q> {
    queryables: &'q Queryables,
    nodes: usize,
    depth: usize,
}

impl Walker<'_> {
    /// Counts one node of the tree against [`MAX_NODES`].
    fn node(&mut self, at: &Ptr<'_>) -> Result<(), Cql2Error> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(at.fail(check::too_many_nodes()));
        }
        Ok(())
    }

    /// One level down through a logical operator, against [`MAX_DEPTH`].
    fn enter(&mut self, at: &Ptr<'_>) -> Result<(), Cql2Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(at.fail(check::too_deep()));
        }
        Ok(())
    }

    /// A boolean expression; `nested` when it is an operand of `and`,
    /// `or` or `not` (as CQL2 text would need parentheses there).
    fn boolean(&mut self, v: &Value, at: &Ptr<'_>, nested: bool) -> Result<Expr, Cql2Error> {
        let o = match v {
            Value::Bool(b) => {
                self.node(at)?;
                return Ok(Expr::Const(*b));
            }
            Value::Object(o) => o,
            other => {
                return Err(at.fail(Fault::Syntax(format!(
                    "expected a boolean expression ({{\"op\": ..., \"args\": [...]}}, true or false), found {}",
                    describe(other)
                ))))
            }
        };
        if o.contains_key("property") && o.len() == 1 {
            // A bare property is not a predicate; resolved first, so that
            // a hidden name answers as a made-up one.
            let (_, name) = single(o, at, "a property")?;
            let p = Ptr::Key(at, "property");
            let name = name
                .as_str()
                .ok_or_else(|| p.fail(Fault::Syntax("a property name must be a string".into())))?;
            check::scalar_property(name, self.queryables).map_err(|f| p.fail(f))?;
            return Err(at.fail(Fault::Syntax(
                "expected a predicate, found a property alone (compare it with a value)".into(),
            )));
        }
        let (op, args) = op_args(o, at)?;
        let args_at = Ptr::Key(at, "args");
        let arg = |i: usize| Ptr::Index(&args_at, i);
        if let Some(cmp) = CmpOp::of_symbol(op) {
            let [a, b] = take(op, args, &args_at)?;
            let a = self.scalar(a, &arg(0))?;
            let b = self.scalar(b, &arg(1))?;
            return check::comparison(cmp, a, b).map_err(|f| at.fail(f));
        }
        match op {
            "and" | "or" => {
                if args.len() < 2 {
                    return Err(args_at.fail(Fault::Syntax(format!(
                        "{op:?} takes at least 2 arguments, not {}",
                        args.len()
                    ))));
                }
                if nested {
                    self.enter(at)?;
                }
                let mut items = Vec::with_capacity(args.len());
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        self.node(&arg(i))?;
                    }
                    items.push(self.boolean(a, &arg(i), true)?);
                }
                if nested {
                    self.depth -= 1;
                }
                Ok(if op == "and" {
                    Expr::And(items)
                } else {
                    Expr::Or(items)
                })
            }
            "not" => {
                let [a] = take(op, args, &args_at)?;
                self.node(at)?;
                self.enter(at)?;
                let e = self.boolean(a, &arg(0), true)?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(e)))
            }
            "like" => {
                let [a, p] = take(op, args, &args_at)?;
                let subject = self.scalar(a, &arg(0))?;
                check::like_subject(&subject).map_err(|f| at.fail(f))?;
                let Value::String(p) = p else {
                    return Err(arg(1).fail(Fault::Syntax(format!(
                        "expected the pattern as a string, found {} (casei and accenti are not served)",
                        describe(p)
                    ))));
                };
                self.node(&arg(1))?;
                check::like(subject, p, false).map_err(|f| arg(1).fail(f))
            }
            "between" => {
                let [a, b, c] = take(op, args, &args_at)?;
                let s = self.scalar(a, &arg(0))?;
                let low = self.scalar(b, &arg(1))?;
                let high = self.scalar(c, &arg(2))?;
                check::between(s, low, high, false).map_err(|f| at.fail(f))
            }
            "in" => {
                let [a, l] = take(op, args, &args_at)?;
                let mut subject = self.scalar(a, &arg(0))?;
                let list_at = arg(1);
                let Value::Array(items) = l else {
                    return Err(list_at.fail(Fault::Syntax(format!(
                        "expected the IN list as an array, found {}",
                        describe(l)
                    ))));
                };
                if items.is_empty() {
                    return Err(list_at.fail(Fault::Syntax("an empty IN list".into())));
                }
                if items.len() > MAX_IN_ITEMS {
                    return Err(Ptr::Index(&list_at, MAX_IN_ITEMS).fail(check::too_many_in_items()));
                }
                let mut list = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let item_at = Ptr::Index(&list_at, i);
                    let item = self.scalar(item, &item_at)?;
                    let (s, item) = check::unify(subject, item).map_err(|f| item_at.fail(f))?;
                    subject = s;
                    list.push(item);
                }
                Ok(Expr::In {
                    subject,
                    list,
                    negated: false,
                })
            }
            "isNull" => {
                let [a] = take(op, args, &args_at)?;
                let subject = self.scalar(a, &arg(0))?;
                Ok(Expr::IsNull {
                    subject,
                    negated: false,
                })
            }
            "s_intersects" => {
                let [a, b] = take(op, args, &args_at)?;
                self.node(at)?;
                let mut prop = false;
                let mut shape = None;
                for (i, g) in [a, b].into_iter().enumerate() {
                    match self.geometry(g, &arg(i))? {
                        None if !prop => prop = true,
                        Some(s) if shape.is_none() => shape = Some(s),
                        _ => return Err(arg(i).fail(check::one_property_one_literal())),
                    }
                }
                match (prop, shape) {
                    (true, Some(s)) => Ok(Expr::SIntersects(s)),
                    _ => Err(args_at.fail(check::one_property_one_literal())),
                }
            }
            "t_intersects" => {
                let [a, b] = take(op, args, &args_at)?;
                self.node(at)?;
                let a = self.time(a, &arg(0))?;
                let b = self.time(b, &arg(1))?;
                Ok(Expr::TIntersects(a, b))
            }
            _ => Err(Ptr::Key(at, "op").fail(Fault::Syntax(format!(
                "the operator {op:?} is not served (served: {})",
                OPS.join(", ")
            )))),
        }
    }

    /// A property or a literal.
    fn scalar(&mut self, v: &Value, at: &Ptr<'_>) -> Result<Scalar, Cql2Error> {
        self.node(at)?;
        match v {
            Value::String(s) => Ok(Scalar::Literal(Literal::Str(s.clone()))),
            Value::Bool(b) => Ok(Scalar::Literal(Literal::Bool(*b))),
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                check::finite(x, &n.to_string())
                    .map(|x| Scalar::Literal(Literal::Num(x)))
                    .map_err(|f| at.fail(f))
            }
            Value::Object(o) if !o.contains_key("op") => {
                let (k, inner) = single(o, at, "a property or a value")?;
                let kat = Ptr::Key(at, k);
                match k {
                    "property" => {
                        let name = property_name(inner, &kat)?;
                        check::scalar_property(name, self.queryables).map_err(|f| kat.fail(f))
                    }
                    "timestamp" | "date" => {
                        let (t, _) = instant_literal(k, inner, &kat)?;
                        Ok(Scalar::Literal(Literal::Instant(t)))
                    }
                    _ => Err(kat.fail(Fault::Syntax(format!(
                        "expected a property or a value ({{\"property\": ...}}, {{\"timestamp\": ...}}, {{\"date\": ...}}, a string, number or boolean), found {}",
                        describe(v)
                    )))),
                }
            }
            Value::Object(_) => Err(at.fail(Fault::Syntax(
                "expected a property or a value, found an operation (functions and arithmetic are not served)".into(),
            ))),
            Value::Null => Err(at.fail(Fault::Syntax(
                "expected a property or a value, found null (test for it with isNull)".into(),
            ))),
            Value::Array(_) => Err(at.fail(Fault::Syntax(
                "expected a property or a value, found an array".into(),
            ))),
        }
    }

    /// An operand of `s_intersects`: `None` for the geometry property,
    /// else the literal.
    fn geometry(&mut self, v: &Value, at: &Ptr<'_>) -> Result<Option<SpatialLiteral>, Cql2Error> {
        let Value::Object(o) = v else {
            return Err(at.fail(Fault::Syntax(format!(
                "expected the geometry property, a bbox or a GeoJSON Point or Polygon, found {}",
                describe(v)
            ))));
        };
        if o.contains_key("type") {
            return self.geojson(o, at).map(Some);
        }
        let (k, inner) = single(o, at, "a geometry")?;
        let kat = Ptr::Key(at, k);
        match k {
            "property" => {
                let name = property_name(inner, &kat)?;
                check::geometry_property(name, self.queryables).map_err(|f| kat.fail(f))?;
                Ok(None)
            }
            "bbox" => {
                let Value::Array(items) = inner else {
                    return Err(kat.fail(Fault::Syntax("a bbox is an array of numbers".into())));
                };
                let mut n = Vec::with_capacity(items.len());
                for (i, x) in items.iter().enumerate() {
                    n.push(coordinate(x, &Ptr::Index(&kat, i))?);
                }
                check::bbox(&n).map(Some).map_err(|f| kat.fail(f))
            }
            _ => Err(kat.fail(Fault::Syntax(format!(
                "expected the geometry property, a bbox or a GeoJSON Point or Polygon, found {}",
                describe(v)
            )))),
        }
    }

    /// A GeoJSON geometry: Point or Polygon.
    fn geojson(
        &mut self,
        o: &Map<String, Value>,
        at: &Ptr<'_>,
    ) -> Result<SpatialLiteral, Cql2Error> {
        for k in o.keys() {
            if k != "type" && k != "coordinates" {
                return Err(Ptr::Key(at, k).fail(Fault::Syntax(format!(
                    "unexpected member {k:?} in a GeoJSON geometry"
                ))));
            }
        }
        let coords_at = Ptr::Key(at, "coordinates");
        let coords = o.get("coordinates").ok_or_else(|| {
            at.fail(Fault::Syntax(
                "a GeoJSON geometry without coordinates".into(),
            ))
        })?;
        match o.get("type").and_then(Value::as_str) {
            Some("Point") => {
                let c = position(coords, &coords_at)?;
                Ok(SpatialLiteral::Shapes(vec![geo_types::Geometry::Point(
                    c.into(),
                )]))
            }
            Some("Polygon") => {
                let Value::Array(rings) = coords else {
                    return Err(coords_at.fail(Fault::Syntax(
                        "a Polygon's coordinates are an array of rings".into(),
                    )));
                };
                if rings.is_empty() {
                    return Err(
                        coords_at.fail(Fault::Literal("a polygon needs at least one ring".into()))
                    );
                }
                let mut vertices = 0usize;
                let mut out = Vec::with_capacity(rings.len());
                for (r, ring) in rings.iter().enumerate() {
                    let ring_at = Ptr::Index(&coords_at, r);
                    let Value::Array(points) = ring else {
                        return Err(
                            ring_at.fail(Fault::Syntax("a ring is an array of positions".into()))
                        );
                    };
                    let mut ps = Vec::with_capacity(points.len().min(MAX_POLYGON_VERTICES));
                    for (i, p) in points.iter().enumerate() {
                        vertices += 1;
                        let p_at = Ptr::Index(&ring_at, i);
                        if vertices > MAX_POLYGON_VERTICES {
                            return Err(p_at.fail(check::too_many_vertices()));
                        }
                        ps.push(position(p, &p_at)?);
                    }
                    out.push(check::ring(ps).map_err(|f| ring_at.fail(f))?);
                }
                let exterior = out.remove(0);
                Ok(SpatialLiteral::polygon(geo_types::Polygon::new(
                    exterior, out,
                )))
            }
            Some(t) => Err(Ptr::Key(at, "type").fail(Fault::Literal(format!(
                "a GeoJSON {t} is not served in s_intersects (a Point, a Polygon or a bbox)"
            )))),
            None => Err(Ptr::Key(at, "type").fail(Fault::Syntax(
                "a GeoJSON geometry's type is a string".into(),
            ))),
        }
    }

    /// An operand of `t_intersects`, as a closed interval.
    fn time(&mut self, v: &Value, at: &Ptr<'_>) -> Result<Interval, Cql2Error> {
        self.node(at)?;
        let expected = || {
            at.fail(Fault::Syntax(format!(
                "expected a time ({{\"property\": ...}}, {{\"timestamp\": ...}}, {{\"date\": ...}} or {{\"interval\": [start, end]}}), found {}",
                describe(v)
            )))
        };
        let Value::Object(o) = v else {
            return Err(expected());
        };
        let (k, inner) = single(o, at, "a time")?;
        let kat = Ptr::Key(at, k);
        match k {
            "property" => {
                let name = property_name(inner, &kat)?;
                let name =
                    check::instant_property(name, self.queryables).map_err(|f| kat.fail(f))?;
                Ok(Interval {
                    start: Bound::Property(name.clone()),
                    end: Bound::Property(name),
                })
            }
            "timestamp" | "date" => {
                let (a, z) = instant_literal(k, inner, &kat)?;
                Ok(Interval {
                    start: Bound::At(a),
                    end: Bound::At(z),
                })
            }
            "interval" => {
                let Some([a, z]) = inner.as_array().map(Vec::as_slice) else {
                    return Err(kat.fail(Fault::Syntax(
                        "an interval is an array of its start and its end".into(),
                    )));
                };
                let start = self.bound(a, &Ptr::Index(&kat, 0), false)?;
                let end = self.bound(z, &Ptr::Index(&kat, 1), true)?;
                check::interval_order(&start, &end).map_err(|f| kat.fail(f))?;
                Ok(Interval { start, end })
            }
            _ => Err(expected()),
        }
    }

    /// One end of an interval; a date as the end means the end of that day.
    fn bound(&mut self, v: &Value, at: &Ptr<'_>, is_end: bool) -> Result<Bound, Cql2Error> {
        let pick = |(a, z): (i64, i64)| Bound::At(if is_end { z } else { a });
        match v {
            Value::String(s) if s == ".." => Ok(Bound::Open),
            Value::String(s) => check::instant(s).map(pick).map_err(|f| at.fail(f)),
            Value::Object(o) => {
                let (k, inner) = single(o, at, "an interval's end")?;
                let kat = Ptr::Key(at, k);
                match k {
                    "property" => {
                        let name = property_name(inner, &kat)?;
                        check::instant_property(name, self.queryables)
                            .map(Bound::Property)
                            .map_err(|f| kat.fail(f))
                    }
                    "timestamp" | "date" => instant_literal(k, inner, &kat).map(pick),
                    _ => Err(kat.fail(Fault::Syntax(format!(
                        "expected an interval's end (\"..\", a time string, {{\"property\": ...}}, {{\"timestamp\": ...}} or {{\"date\": ...}}), found {}",
                        describe(v)
                    )))),
                }
            }
            other => Err(at.fail(Fault::Syntax(format!(
                "expected an interval's end (\"..\", a time string, {{\"property\": ...}}, {{\"timestamp\": ...}} or {{\"date\": ...}}), found {}",
                describe(other)
            )))),
        }
    }
}

/// Exactly `N` arguments of `op`.
fn take<'v, const N: usize>(
    op: &str,
    args: &'v [Value],
    at: &Ptr<'_>,
) -> Result<&'v [Value; N], Cql2Error> {
    <&[Value; N]>::try_from(args).map_err(|_| {
        at.fail(Fault::Syntax(format!(
            "{op:?} takes {N} argument{}, not {}",
            if N == 1 { "" } else { "s" },
            args.len()
        )))
    })
}

/// The `op` and `args` of an operation (no other member).
fn op_args<'v>(
    o: &'v Map<String, Value>,
    at: &Ptr<'_>,
) -> Result<(&'v str, &'v [Value]), Cql2Error> {
    for k in o.keys() {
        if k != "op" && k != "args" {
            return Err(Ptr::Key(at, k).fail(Fault::Syntax(format!(
                "unexpected member {k:?} (an operation has \"op\" and \"args\")"
            ))));
        }
    }
    let op = match o.get("op") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(Ptr::Key(at, "op").fail(Fault::Syntax(format!(
                "the operator must be a string, found {}",
                describe(other)
            ))))
        }
        None => {
            return Err(at.fail(Fault::Syntax(
                "expected a boolean expression: an object with \"op\" and \"args\"".into(),
            )))
        }
    };
    match o.get("args") {
        Some(Value::Array(a)) => Ok((op, a.as_slice())),
        Some(other) => Err(Ptr::Key(at, "args").fail(Fault::Syntax(format!(
            "the arguments must be an array, found {}",
            describe(other)
        )))),
        None => Err(at.fail(Fault::Syntax(format!("{op:?} without \"args\"")))),
    }
}

fn property_name<'v>(v: &'v Value, at: &Ptr<'_>) -> Result<&'v str, Cql2Error> {
    v.as_str()
        .ok_or_else(|| at.fail(Fault::Syntax("a property name must be a string".into())))
}

/// `{"timestamp": "..."}` or `{"date": "..."}`'s value: its first and last
/// millisecond.
fn instant_literal(kind: &str, v: &Value, at: &Ptr<'_>) -> Result<(i64, i64), Cql2Error> {
    let kind = if kind == "date" {
        InstantKind::Date
    } else {
        InstantKind::Timestamp
    };
    let s = v.as_str().ok_or_else(|| {
        at.fail(Fault::Syntax(format!(
            "expected a time string, found {}",
            describe(v)
        )))
    })?;
    check::instant_literal(kind, s).map_err(|f| at.fail(f))
}

/// A coordinate: a finite number.
fn coordinate(v: &Value, at: &Ptr<'_>) -> Result<f64, Cql2Error> {
    match v {
        Value::Number(n) => {
            check::finite(n.as_f64().unwrap_or(f64::NAN), &n.to_string()).map_err(|f| at.fail(f))
        }
        other => Err(at.fail(Fault::Syntax(format!(
            "expected a number, found {}",
            describe(other)
        )))),
    }
}

/// A GeoJSON position `[lon, lat]` (a height is ignored) in CRS84.
fn position(v: &Value, at: &Ptr<'_>) -> Result<geo_types::Coord<f64>, Cql2Error> {
    let Value::Array(xy) = v else {
        return Err(at.fail(Fault::Syntax(format!(
            "expected a position [longitude, latitude], found {}",
            describe(v)
        ))));
    };
    let (x, y, z) = match xy.as_slice() {
        [x, y] => (x, y, None),
        [x, y, z] => (x, y, Some(z)),
        _ => {
            return Err(at.fail(Fault::Literal(format!(
                "a position has 2 numbers (or 3 with a height), not {}",
                xy.len()
            ))))
        }
    };
    let x = coordinate(x, &Ptr::Index(at, 0))?;
    let y = coordinate(y, &Ptr::Index(at, 1))?;
    if let Some(z) = z {
        coordinate(z, &Ptr::Index(at, 2))?;
    }
    check::lonlat(x, y).map_err(|f| at.fail(f))
}
