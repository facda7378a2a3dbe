//! Grammar, evaluation and bounds of CQL2 text, and a seeded fuzz loop.

use super::*;
use std::collections::HashMap;

pub(super) fn queryables() -> Queryables {
    let mut q = Queryables::default();
    q.add("id", Type::String);
    q.add("category", Type::String);
    q.add("perpetrator", Type::String);
    q.add("killed_total", Type::Number);
    q.add("source_reliability", Type::String);
    q.add("time_start", Type::Instant);
    q.add("time_end", Type::Instant);
    q.add("geometry", Type::Geometry);
    q.add("with space", Type::String);
    q
}

/// A feature for the evaluator: values by name and a point.
pub(super) struct F {
    pub(super) values: HashMap<&'static str, Owned>,
    pub(super) geom: Option<geo_types::Geometry<f64>>,
}

pub(super) enum Owned {
    S(String),
    N(f64),
    T(i64),
}

impl Subject for F {
    fn value(&self, name: &str) -> Option<Value<'_>> {
        self.values.get(name).map(|v| match v {
            Owned::S(s) => Value::Str(s),
            Owned::N(x) => Value::Num(*x),
            Owned::T(t) => Value::Instant(*t),
        })
    }
    fn geometry(&self) -> Option<&geo_types::Geometry<f64>> {
        self.geom.as_ref()
    }
}

pub(super) fn ms(s: &str) -> i64 {
    crate::model::time::parse_time(s)
        .unwrap()
        .timestamp_millis()
}

pub(super) fn feature() -> F {
    let mut values = HashMap::new();
    values.insert("id", Owned::S("inc-7".into()));
    values.insert("category", Owned::S("killing".into()));
    values.insert("perpetrator", Owned::S("Front 50% d'Alpha".into()));
    values.insert("killed_total", Owned::N(3.0));
    values.insert("time_start", Owned::T(ms("2025-02-14T03:00:00Z")));
    values.insert("with space", Owned::S("x".into()));
    F {
        values,
        geom: Some(geo_types::Geometry::Point(
            geo_types::point!(x: 18.5, y: 4.4),
        )),
    }
}

fn run(text: &str) -> bool {
    Filter::parse(text, &queryables())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .matches(&feature())
}

fn fault(text: &str) -> Cql2Error {
    Filter::parse(text, &queryables()).expect_err(text)
}

#[test]
fn comparisons() {
    for (f, want) in [
        ("category = 'killing'", true),
        ("category <> 'killing'", false),
        ("killed_total < 4", true),
        ("killed_total <= 3", true),
        ("killed_total > 3", false),
        ("killed_total >= 3.0", true),
        ("killed_total > -1e2", true),
        ("killed_total = +3", true),
        ("'killing' = category", true),
        ("category < 'l'", true),
        ("time_start > TIMESTAMP('2025-02-14T02:59:59Z')", true),
        ("time_start = '2025-02-14T03:00:00Z'", true),
        ("time_start >= DATE('2025-02-15')", false),
        ("TRUE", true),
        ("FALSE", false),
        ("TRUE = FALSE", false),
        ("\"with space\" = 'x'", true),
        ("CATEGORY = 'killing'", false),
    ] {
        if f == "CATEGORY = 'killing'" {
            // Property names are case-sensitive: an unknown name.
            assert!(matches!(fault(f).fault, Fault::UnknownProperty(_)));
            continue;
        }
        assert_eq!(run(f), want, "{f}");
    }
}

#[test]
fn connectives_and_precedence() {
    // AND binds tighter than OR; NOT tighter than both.
    assert!(run(
        "category = 'x' AND killed_total = 1 OR category = 'killing'"
    ));
    assert!(!run(
        "category = 'x' AND (killed_total = 1 OR category = 'killing')"
    ));
    assert!(run("NOT category = 'x' AND killed_total = 3"));
    assert!(!run("NOT (category = 'killing' AND killed_total = 3)"));
    assert!(run("not not category = 'killing'"));
    assert!(run("((((category = 'killing'))))"));
    assert!(run(
        "category = 'a' or category = 'b' or category = 'killing'"
    ));
}

#[test]
fn in_between_like_null() {
    assert!(run("category IN ('abduction', 'killing')"));
    assert!(!run("category NOT IN ('abduction', 'killing')"));
    assert!(run("killed_total IN (1, 2, 3)"));
    assert!(run("killed_total BETWEEN 3 AND 4"));
    assert!(!run("killed_total NOT BETWEEN 1 AND 3"));
    assert!(run(
        "time_start BETWEEN '2025-02-14' AND '2025-02-14T23:00:00Z'"
    ));
    // AND after BETWEEN's bounds still joins predicates.
    assert!(run("killed_total BETWEEN 1 AND 5 AND category = 'killing'"));
    assert!(run("perpetrator LIKE 'Front%'"));
    assert!(run("perpetrator LIKE '%Alpha'"));
    assert!(run("perpetrator LIKE 'Front 50\\% d''Alpha'"));
    assert!(!run("perpetrator LIKE 'Front 50\\%'"));
    assert!(run("perpetrator LIKE 'F_ont%%%_lpha'"));
    assert!(run("perpetrator NOT LIKE 'front%'"));
    assert!(run("category LIKE '_______'"));
    assert!(!run("category LIKE '______'"));
    assert!(run("time_end IS NULL"));
    assert!(!run("time_end IS NOT NULL"));
    assert!(run("category IS NOT NULL"));
    assert!(run("source_reliability IS NULL"));
}

#[test]
fn null_is_unknown() {
    // A comparison with a missing value is unknown: neither it nor its
    // negation passes.
    assert!(!run("source_reliability = 'A'"));
    assert!(!run("NOT source_reliability = 'A'"));
    assert!(!run("source_reliability <> 'A'"));
    assert!(run("source_reliability = 'A' OR category = 'killing'"));
    assert!(!run("source_reliability = 'A' AND category = 'killing'"));
    assert!(!run("source_reliability IN ('A', 'B')"));
    assert!(!run("source_reliability NOT IN ('A', 'B')"));
    assert!(!run("T_INTERSECTS(time_end, INTERVAL('..', '..'))"));
}

#[test]
fn spatial_and_temporal() {
    assert!(run("S_INTERSECTS(geometry, BBOX(18, 4, 19, 5))"));
    assert!(run("S_INTERSECTS(BBOX(18, 4, 19, 5), geometry)"));
    assert!(!run("S_INTERSECTS(geometry, BBOX(19, 4, 20, 5))"));
    assert!(run("S_INTERSECTS(geometry, BBOX(18, 4, 0, 18.5, 5, 0))"));
    // Across the antimeridian: 170..180 and -180..19.
    assert!(run("S_INTERSECTS(geometry, BBOX(170, 4, 19, 5))"));
    assert!(!run("S_INTERSECTS(geometry, BBOX(170, 4, 18, 5))"));
    assert!(run(
        "s_intersects(geometry, POLYGON((18 4, 19 4, 19 5, 18 5, 18 4)))"
    ));
    assert!(!run(
        "S_INTERSECTS(geometry, POLYGON((18 4, 19 4, 19 5, 18 5, 18 4), (18.4 4.3, 18.6 4.3, 18.6 4.5, 18.4 4.5, 18.4 4.3)))"
    ));
    assert!(run("S_INTERSECTS(geometry, POINT(18.5 4.4))"));
    assert!(run(
        "T_INTERSECTS(time_start, INTERVAL('2025-02-14', '2025-02-14'))"
    ));
    assert!(run("T_INTERSECTS(time_start, DATE('2025-02-14'))"));
    assert!(!run("T_INTERSECTS(time_start, DATE('2025-02-15'))"));
    assert!(run(
        "T_INTERSECTS(time_start, INTERVAL('..', '2025-02-14T03:00:00Z'))"
    ));
    assert!(!run(
        "T_INTERSECTS(time_start, INTERVAL('..', TIMESTAMP('2025-02-14T02:59:59Z')))"
    ));
    assert!(run(
        "T_INTERSECTS(INTERVAL(time_start, time_start), TIMESTAMP('2025-02-14T03:00:00Z'))"
    ));
    assert!(run(
        "T_INTERSECTS(time_start, INTERVAL(DATE('2025-02-14'), '..'))"
    ));
}

#[test]
fn errors_name_the_fault_and_column() {
    for (f, column, kind) in [
        ("", 1, "syntax"),
        ("   ", 4, "syntax"),
        ("category = ", 12, "syntax"),
        ("category = 'killing", 12, "syntax"),
        ("category == 'x'", 11, "syntax"),
        ("category = 'x' AND", 19, "syntax"),
        ("(category = 'x'", 16, "syntax"),
        ("category = 'x')", 15, "syntax"),
        ("narrative = 'x'", 1, "unknown"),
        ("category = 'x' OR \"narrative\" LIKE '%'", 19, "unknown"),
        ("killed_total = 'x'", 14, "type"),
        ("category LIKE 3", 15, "syntax"),
        ("killed_total LIKE 'x'", 14, "type"),
        ("time_start > TIMESTAMP('yesterday')", 24, "literal"),
        ("time_start > DATE('2025-01-01T00:00:00Z')", 19, "literal"),
        ("S_INTERSECTS(geometry, BBOX(1, 2, 3))", 29, "literal"),
        ("S_INTERSECTS(geometry, BBOX(0, 10, 1, 5))", 29, "literal"),
        ("S_INTERSECTS(geometry, POINT(200 0))", 30, "literal"),
        (
            "S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1)))",
            32,
            "literal",
        ),
        ("S_INTERSECTS(category, BBOX(0, 0, 1, 1))", 14, "type"),
        ("S_INTERSECTS(geometry, geometry)", 24, "syntax"),
        ("T_INTERSECTS(category, DATE('2025-01-01'))", 14, "type"),
        (
            "T_INTERSECTS(time_start, INTERVAL('2025-02-01', '2025-01-01'))",
            26,
            "literal",
        ),
        ("geometry = 'x'", 1, "type"),
        ("category = 'x' $", 16, "syntax"),
        ("killed_total > 1e999", 16, "literal"),
        ("TRUE < FALSE", 6, "type"),
        ("category = AND", 12, "syntax"),
        ("category LIKE 'x\\'", 15, "syntax"),
        ("category", 9, "syntax"),
    ] {
        let e = fault(f);
        let got = match e.fault {
            Fault::Syntax(_) => "syntax",
            Fault::UnknownProperty(_) => "unknown",
            Fault::Type(_) => "type",
            Fault::Literal(_) => "literal",
            Fault::TooComplex(_) => "bounds",
        };
        assert_eq!((got, e.column()), (kind, Some(column)), "{f}: {e}");
        assert!(
            e.to_string().ends_with(&format!("at column {column}")),
            "{e}"
        );
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = fault("category = 'é' AND zz = 1");
    assert_eq!(e.column(), Some(20), "{e}");
}

/// A hidden property and a made-up one give errors that differ only by
/// the name they echo.
#[test]
fn hidden_and_unknown_are_alike() {
    let a = fault("narrative = 'x'").to_string();
    let b = fault("zzzzzzzzz = 'x'").to_string();
    assert_eq!(a.replace("narrative", "zzzzzzzzz"), b);
}

#[test]
fn bounds() {
    let q = queryables();
    let long = format!("category = '{}'", "x".repeat(MAX_CHARS));
    assert!(matches!(
        Filter::parse(&long, &q).unwrap_err().fault,
        Fault::TooComplex(_)
    ));
    let deep = format!(
        "{}category = 'x'{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(
        Filter::parse(&deep, &q).unwrap_err().fault,
        Fault::TooComplex(_)
    ));
    let ok = format!(
        "{}category = 'x'{}",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    assert!(Filter::parse(&ok, &q).is_ok());
    let nots = format!("{}category = 'x'", "NOT ".repeat(MAX_DEPTH + 1));
    assert!(matches!(
        Filter::parse(&nots, &q).unwrap_err().fault,
        Fault::TooComplex(_)
    ));
    let many = vec!["category = 'x'"; MAX_NODES].join(" OR ");
    assert!(matches!(
        Filter::parse(&many, &q).unwrap_err().fault,
        Fault::TooComplex(_)
    ));
    let list = |n: usize| {
        format!(
            "killed_total IN ({})",
            (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
        )
    };
    assert!(Filter::parse(&list(MAX_IN_ITEMS), &q).is_ok());
    assert!(matches!(
        Filter::parse(&list(MAX_IN_ITEMS + 1), &q)
            .unwrap_err()
            .fault,
        Fault::TooComplex(_)
    ));
    let polygon = |n: usize| {
        let mut pts: Vec<String> = (0..n - 1)
            .map(|i| {
                let a = i as f64 / (n - 1) as f64 * std::f64::consts::TAU;
                format!("{:.6} {:.6}", a.cos(), a.sin())
            })
            .collect();
        pts.push(pts[0].clone());
        format!("S_INTERSECTS(geometry, POLYGON(({})))", pts.join(","))
    };
    assert!(Filter::parse(&polygon(MAX_POLYGON_VERTICES), &q).is_ok());
    assert!(matches!(
        Filter::parse(&polygon(MAX_POLYGON_VERTICES + 1), &q)
            .unwrap_err()
            .fault,
        Fault::TooComplex(_)
    ));
    let pattern = |n: usize| format!("category LIKE '{}'", "a_".repeat(n / 2));
    assert!(Filter::parse(&pattern(MAX_LIKE_TOKENS - 1), &q).is_ok());
    assert!(matches!(
        Filter::parse(&pattern(MAX_LIKE_TOKENS + 1), &q)
            .unwrap_err()
            .fault,
        Fault::TooComplex(_)
    ));
    // Runs of % count once.
    assert!(Filter::parse(&format!("category LIKE '{}'", "%".repeat(1000)), &q).is_ok());
}

/// The automaton agrees with a plain backtracking matcher.
#[test]
fn like_agrees_with_backtracking() {
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|i| reference(&p[1..], &t[i..])),
            Some('_') => !t.is_empty() && reference(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && reference(&p[1..], &t[1..]),
        }
    }
    let mut rng = R(crate::rng::Rng::new(19));
    let alphabet = ['a', 'b', 'é', '%', '_'];
    for _ in 0..20_000 {
        let p: Vec<char> = (0..rng.below(8)).map(|_| alphabet[rng.below(5)]).collect();
        let t: Vec<char> = (0..rng.below(10)).map(|_| alphabet[rng.below(3)]).collect();
        let pat = eval::LikePattern::compile(&p.iter().collect::<String>()).unwrap();
        assert_eq!(
            pat.matches(&t.iter().collect::<String>()),
            reference(&p, &t),
            "{p:?} {t:?}"
        );
    }
}

/// Random bytes and random mutations of valid filters: never a panic,
/// always a filter or an error whose column lies within the text (+1).
#[test]
fn fuzz_never_panics() {
    let q = queryables();
    let f = feature();
    let seeds = [
        "category = 'killing' AND killed_total BETWEEN 1 AND 5",
        "NOT (category IN ('a', 'b') OR perpetrator LIKE 'F%\\_')",
        "S_INTERSECTS(geometry, POLYGON((18 4, 19 4, 19 5, 18 5, 18 4)))",
        "T_INTERSECTS(time_start, INTERVAL('2025-01-01', '..')) OR time_end IS NULL",
        "S_INTERSECTS(geometry, BBOX(170, -5, -170, 5)) AND \"with space\" <> 'x'",
        "killed_total >= -3.5e1 AND time_start < TIMESTAMP('2025-02-14T03:00:00Z')",
    ];
    let pieces = [
        "(",
        ")",
        "'",
        "\"",
        ",",
        " AND ",
        " OR ",
        " NOT ",
        "%",
        "_",
        "\\",
        "..",
        "-",
        "1e308",
        "BBOX(",
        "POLYGON((",
        "INTERVAL(",
        "DATE(",
        " IS NULL",
        " IN (",
        "é",
        "\u{0}",
    ];
    let mut rng = R(crate::rng::Rng::new(2026));
    let mut accepted = 0;
    for round in 0..30_000 {
        let text: String = if round % 3 == 0 {
            let bytes: Vec<u8> = (0..rng.below(60)).map(|_| rng.below(256) as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            let mut s: Vec<char> = seeds[rng.below(seeds.len())].chars().collect();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(s.len() + 1);
                match rng.below(3) {
                    0 if at < s.len() => {
                        s.remove(at);
                    }
                    1 => {
                        let p = pieces[rng.below(pieces.len())];
                        for (i, c) in p.chars().enumerate() {
                            s.insert(at + i, c);
                        }
                    }
                    _ => {
                        let end = (at + rng.below(8)).min(s.len());
                        s.drain(at..end);
                    }
                }
            }
            s.into_iter().collect()
        };
        match Filter::parse(&text, &q) {
            Ok(filter) => {
                accepted += 1;
                let _ = filter.matches(&f);
            }
            Err(e) => assert!(
                e.column()
                    .is_some_and(|c| c >= 1 && c <= text.chars().count() + 1),
                "{text:?}: {e}"
            ),
        }
    }
    // The mutations keep some filters valid: evaluation is exercised too.
    assert!(accepted > 500, "{accepted}");
}

/// The crate's seeded generator, with `usize` draws.
pub(super) struct R(pub(super) crate::rng::Rng);

impl R {
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }
}

#[test]
fn bbox_for_the_store() {
    let q = queryables();
    let b = |t: &str| Filter::parse(t, &q).unwrap().bbox();
    assert_eq!(
        b("S_INTERSECTS(geometry, BBOX(1, 2, 3, 4))"),
        Some([1.0, 2.0, 3.0, 4.0])
    );
    assert_eq!(
        b("category = 'x' AND S_INTERSECTS(geometry, POLYGON((0 0, 2 0, 2 1, 0 0)))"),
        Some([0.0, 0.0, 2.0, 1.0])
    );
    // Not required (OR, NOT) or split at the antimeridian: no box.
    assert_eq!(
        b("category = 'x' OR S_INTERSECTS(geometry, BBOX(1, 2, 3, 4))"),
        None
    );
    assert_eq!(b("NOT S_INTERSECTS(geometry, BBOX(1, 2, 3, 4))"), None);
    assert_eq!(b("S_INTERSECTS(geometry, BBOX(170, 2, -170, 4))"), None);
}
