//! CQL2 JSON: the same tree and answers as CQL2 text, pair by pair; every
//! malformed and costly form refused with its place; no input overflows
//! the stack.

use super::tests::{feature, ms, queryables, Owned, F, R};
use super::*;

/// The same filter in both encodings.
const PAIRS: &[(&str, &str)] = &[
    ("TRUE", r#"true"#),
    ("FALSE", r#"false"#),
    (
        "category = 'killing'",
        r#"{"op":"=","args":[{"property":"category"},"killing"]}"#,
    ),
    (
        "'killing' = category",
        r#"{"op":"=","args":["killing",{"property":"category"}]}"#,
    ),
    (
        "category <> 'killing'",
        r#"{"op":"<>","args":[{"property":"category"},"killing"]}"#,
    ),
    (
        "killed_total < 3",
        r#"{"op":"<","args":[{"property":"killed_total"},3]}"#,
    ),
    (
        "killed_total <= 3",
        r#"{"op":"<=","args":[{"property":"killed_total"},3.0]}"#,
    ),
    (
        "killed_total > -2.5",
        r#"{"op":">","args":[{"property":"killed_total"},-2.5]}"#,
    ),
    (
        "killed_total >= 3e0",
        r#"{"op":">=","args":[{"property":"killed_total"},3e0]}"#,
    ),
    (
        "time_start > TIMESTAMP('2025-02-14T02:00:00Z')",
        r#"{"op":">","args":[{"property":"time_start"},{"timestamp":"2025-02-14T02:00:00Z"}]}"#,
    ),
    (
        "time_start < DATE('2025-02-15')",
        r#"{"op":"<","args":[{"property":"time_start"},{"date":"2025-02-15"}]}"#,
    ),
    (
        "time_start >= '2025-02-14'",
        r#"{"op":">=","args":[{"property":"time_start"},"2025-02-14"]}"#,
    ),
    (
        "category = 'killing' AND killed_total > 1 AND id = 'inc-7'",
        r#"{"op":"and","args":[
            {"op":"=","args":[{"property":"category"},"killing"]},
            {"op":">","args":[{"property":"killed_total"},1]},
            {"op":"=","args":[{"property":"id"},"inc-7"]}]}"#,
    ),
    (
        "category = 'x' OR (killed_total > 1 AND NOT id = 'inc-7')",
        r#"{"op":"or","args":[
            {"op":"=","args":[{"property":"category"},"x"]},
            {"op":"and","args":[
                {"op":">","args":[{"property":"killed_total"},1]},
                {"op":"not","args":[{"op":"=","args":[{"property":"id"},"inc-7"]}]}]}]}"#,
    ),
    (
        "NOT (category = 'x' OR category = 'y')",
        r#"{"op":"not","args":[{"op":"or","args":[
            {"op":"=","args":[{"property":"category"},"x"]},
            {"op":"=","args":[{"property":"category"},"y"]}]}]}"#,
    ),
    (
        "NOT NOT TRUE",
        r#"{"op":"not","args":[{"op":"not","args":[true]}]}"#,
    ),
    (
        "perpetrator LIKE 'Front 50\\% d%'",
        r#"{"op":"like","args":[{"property":"perpetrator"},"Front 50\\% d%"]}"#,
    ),
    (
        "NOT (category LIKE 'k_ll%')",
        r#"{"op":"not","args":[{"op":"like","args":[{"property":"category"},"k_ll%"]}]}"#,
    ),
    (
        "killed_total BETWEEN 1 AND 5",
        r#"{"op":"between","args":[{"property":"killed_total"},1,5]}"#,
    ),
    (
        "time_start BETWEEN '2025-01-01' AND TIMESTAMP('2025-03-01T00:00:00Z')",
        r#"{"op":"between","args":[{"property":"time_start"},"2025-01-01",{"timestamp":"2025-03-01T00:00:00Z"}]}"#,
    ),
    (
        "category IN ('abduction', 'killing')",
        r#"{"op":"in","args":[{"property":"category"},["abduction","killing"]]}"#,
    ),
    (
        "killed_total IN (1, 2, 3)",
        r#"{"op":"in","args":[{"property":"killed_total"},[1,2,3]]}"#,
    ),
    (
        "category IN (perpetrator, 'killing')",
        r#"{"op":"in","args":[{"property":"category"},[{"property":"perpetrator"},"killing"]]}"#,
    ),
    (
        "source_reliability IS NULL",
        r#"{"op":"isNull","args":[{"property":"source_reliability"}]}"#,
    ),
    (
        "NOT (killed_total IS NULL)",
        r#"{"op":"not","args":[{"op":"isNull","args":[{"property":"killed_total"}]}]}"#,
    ),
    (
        "\"with space\" = 'x'",
        r#"{"op":"=","args":[{"property":"with space"},"x"]}"#,
    ),
    (
        "S_INTERSECTS(geometry, BBOX(18, 4, 19, 5))",
        r#"{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[18,4,19,5]}]}"#,
    ),
    (
        "S_INTERSECTS(BBOX(170, 4, 19, 5), geometry)",
        r#"{"op":"s_intersects","args":[{"bbox":[170,4,19,5]},{"property":"geometry"}]}"#,
    ),
    (
        "S_INTERSECTS(geometry, BBOX(18, 4, 0, 18.5, 5, 10))",
        r#"{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[18,4,0,18.5,5,10]}]}"#,
    ),
    (
        "S_INTERSECTS(geometry, POINT(18.5 4.4))",
        r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[18.5,4.4]}]}"#,
    ),
    (
        "S_INTERSECTS(geometry, POLYGON((18 4, 19 4, 19 5, 18 5, 18 4), (18.4 4.3, 18.6 4.3, 18.6 4.5, 18.4 4.5, 18.4 4.3)))",
        r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[
            [[18,4],[19,4],[19,5],[18,5],[18,4]],
            [[18.4,4.3],[18.6,4.3],[18.6,4.5],[18.4,4.5],[18.4,4.3]]]}]}"#,
    ),
    (
        "T_INTERSECTS(time_start, INTERVAL('2025-02-14', '2025-02-14'))",
        r#"{"op":"t_intersects","args":[{"property":"time_start"},{"interval":["2025-02-14","2025-02-14"]}]}"#,
    ),
    (
        "T_INTERSECTS(time_start, DATE('2025-02-14'))",
        r#"{"op":"t_intersects","args":[{"property":"time_start"},{"date":"2025-02-14"}]}"#,
    ),
    (
        "T_INTERSECTS(time_start, TIMESTAMP('2025-02-14T03:00:00Z'))",
        r#"{"op":"t_intersects","args":[{"property":"time_start"},{"timestamp":"2025-02-14T03:00:00Z"}]}"#,
    ),
    (
        "T_INTERSECTS(time_start, INTERVAL('..', '2025-02-14T02:59:59Z'))",
        r#"{"op":"t_intersects","args":[{"property":"time_start"},{"interval":["..","2025-02-14T02:59:59Z"]}]}"#,
    ),
    (
        "T_INTERSECTS(INTERVAL(time_start, time_end), INTERVAL(DATE('2025-02-14'), '..'))",
        r#"{"op":"t_intersects","args":[{"interval":[{"property":"time_start"},{"property":"time_end"}]},{"interval":[{"date":"2025-02-14"},".."]}]}"#,
    ),
    (
        "T_INTERSECTS(time_end, INTERVAL('..', '..'))",
        r#"{"op":"t_intersects","args":[{"property":"time_end"},{"interval":["..",".."]}]}"#,
    ),
    (
        "category = 'killing' AND S_INTERSECTS(geometry, BBOX(1, 2, 3, 4))",
        r#"{"op":"and","args":[{"op":"=","args":[{"property":"category"},"killing"]},{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[1,2,3,4]}]}]}"#,
    ),
    (
        "TRUE = FALSE",
        r#"{"op":"=","args":[true,false]}"#,
    ),
    (
        "category = 'é\"x'",
        r#"{"op":"=","args":[{"property":"category"},"\u00e9\"x"]}"#,
    ),
];

/// Features the pairs are evaluated on: the tests' feature and variants
/// with other values, nulls and places.
fn features() -> Vec<F> {
    let mut out = vec![feature()];
    let mut f = feature();
    f.values.remove("killed_total");
    f.values.remove("time_start");
    f.values.insert("category", Owned::S("abduction".into()));
    out.push(f);
    let mut f = feature();
    f.values.insert("killed_total", Owned::N(1.0));
    f.values.insert("id", Owned::S("inc-8".into()));
    f.values.insert("source_reliability", Owned::S("A".into()));
    f.values
        .insert("time_end", Owned::T(ms("2025-02-20T00:00:00Z")));
    f.geom = Some(geo_types::Geometry::Point(
        geo_types::point!(x: 171.0, y: 4.5),
    ));
    out.push(f);
    let mut f = feature();
    f.values.insert("category", Owned::S("x".into()));
    f.values
        .insert("time_start", Owned::T(ms("2025-02-13T23:59:59Z")));
    f.geom = None;
    out.push(f);
    out
}

fn json(text: &str) -> Filter {
    Filter::parse_json(text, &queryables()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn json_fault(text: &str) -> Cql2Error {
    Filter::parse_json(text, &queryables()).expect_err(text)
}

#[test]
fn text_and_json_give_the_same_tree_and_answers() {
    let q = queryables();
    let fs = features();
    let mut differ = 0;
    for (t, j) in PAIRS {
        let a = Filter::parse(t, &q).unwrap_or_else(|e| panic!("{t}: {e}"));
        let b = json(j);
        assert_eq!(a, b, "{t}\n{j}");
        assert_eq!(a.bbox(), b.bbox(), "{t}");
        let answers: Vec<bool> = fs.iter().map(|f| a.matches(f)).collect();
        assert_eq!(
            answers,
            fs.iter().map(|f| b.matches(f)).collect::<Vec<_>>(),
            "{t}"
        );
        // The features tell filters apart: not every pair is all-true or
        // all-false on them.
        if answers.contains(&true) && answers.contains(&false) {
            differ += 1;
        }
    }
    assert!(differ >= PAIRS.len() / 2, "{differ} of {}", PAIRS.len());
    // Whitespace and member order do not matter.
    assert_eq!(
        json(r#" { "args" : [ { "property" : "category" } , "killing" ] , "op" : "=" } "#),
        json(r#"{"op":"=","args":[{"property":"category"},"killing"]}"#)
    );
}

/// Text's negated forms (`NOT LIKE`, `NOT IN`, `NOT BETWEEN`, `IS NOT
/// NULL`) have no JSON spelling but `not`: the same answers, unknown
/// included (a null under `not` stays unknown).
#[test]
fn negated_forms_agree_with_not() {
    let q = queryables();
    for (t, j) in [
        (
            "category NOT LIKE 'k%'",
            r#"{"op":"not","args":[{"op":"like","args":[{"property":"category"},"k%"]}]}"#,
        ),
        (
            "killed_total NOT IN (1, 3)",
            r#"{"op":"not","args":[{"op":"in","args":[{"property":"killed_total"},[1,3]]}]}"#,
        ),
        (
            "killed_total NOT BETWEEN 2 AND 4",
            r#"{"op":"not","args":[{"op":"between","args":[{"property":"killed_total"},2,4]}]}"#,
        ),
        (
            "source_reliability IS NOT NULL",
            r#"{"op":"not","args":[{"op":"isNull","args":[{"property":"source_reliability"}]}]}"#,
        ),
    ] {
        let a = Filter::parse(t, &q).unwrap();
        let b = json(j);
        for (i, f) in features().iter().enumerate() {
            assert_eq!(
                eval::eval(a.expr(), f),
                eval::eval(b.expr(), f),
                "{t} on feature {i}"
            );
        }
    }
}

fn kind(f: &Fault) -> &'static str {
    match f {
        Fault::Syntax(_) => "syntax",
        Fault::UnknownProperty(_) => "unknown",
        Fault::Type(_) => "type",
        Fault::Literal(_) => "literal",
        Fault::TooComplex(_) => "bounds",
    }
}

fn ptr(p: &str) -> Location {
    Location::Pointer(p.into())
}

#[test]
fn malformed_json_is_refused_where_it_lies() {
    let cmp = |a: &str, b: &str| format!(r#"{{"op":"=","args":[{a},{b}]}}"#);
    let cases: Vec<(String, Location, &str)> = vec![
        // Not JSON at all, or not strict JSON.
        ("".into(), Location::Text { line: 1, column: 1 }, "syntax"),
        ("{".into(), Location::Text { line: 1, column: 1 }, "syntax"),
        (
            "category = 'killing'".into(),
            Location::Text { line: 1, column: 1 },
            "syntax",
        ),
        (
            r#"{"op":"=","args":[{"property":"category"},"x"]} x"#.into(),
            Location::Text { line: 1, column: 49 },
            "syntax",
        ),
        (
            "{\"op\":\"=\",\n\"args\":[{\"property\":\"category\"},'x']}".into(),
            Location::Text { line: 2, column: 33 },
            "syntax",
        ),
        (
            r#"{"op":"=","op":"<>","args":[{"property":"category"},"x"]}"#.into(),
            Location::Text { line: 1, column: 14 },
            "syntax",
        ),
        (
            cmp(r#"{"property":"category","property":"id"}"#, r#""x""#),
            Location::Text { line: 1, column: 51 },
            "syntax",
        ),
        // Numbers JSON cannot hold, and strings that only look like numbers.
        (
            cmp(r#"{"property":"killed_total"}"#, "1e999"),
            Location::Text { line: 1, column: 51 },
            "syntax",
        ),
        (
            cmp(r#"{"property":"killed_total"}"#, "-1e400"),
            Location::Text { line: 1, column: 52 },
            "syntax",
        ),
        (
            cmp(r#"{"property":"killed_total"}"#, "NaN"),
            Location::Text { line: 1, column: 47 },
            "syntax",
        ),
        (
            cmp(r#"{"property":"killed_total"}"#, "Infinity"),
            Location::Text { line: 1, column: 47 },
            "syntax",
        ),
        (cmp(r#"{"property":"killed_total"}"#, r#""NaN""#), ptr(""), "type"),
        (
            cmp(r#"{"property":"killed_total"}"#, r#""1e999""#),
            ptr(""),
            "type",
        ),
        (
            cmp(r#"{"property":"time_start"}"#, r#""NaN""#),
            ptr(""),
            "literal",
        ),
        // Shapes that are not CQL2 JSON.
        ("null".into(), ptr(""), "syntax"),
        ("1".into(), ptr(""), "syntax"),
        (r#""category = 'x'""#.into(), ptr(""), "syntax"),
        ("[]".into(), ptr(""), "syntax"),
        ("{}".into(), ptr(""), "syntax"),
        (r#"{"op":"="}"#.into(), ptr(""), "syntax"),
        (r#"{"args":[]}"#.into(), ptr(""), "syntax"),
        (r#"{"op":1,"args":[]}"#.into(), ptr("/op"), "syntax"),
        (r#"{"op":"and","args":{}}"#.into(), ptr("/args"), "syntax"),
        (r#"{"op":"and","args":[true]}"#.into(), ptr("/args"), "syntax"),
        (r#"{"op":"not","args":[true,true]}"#.into(), ptr("/args"), "syntax"),
        (r#"{"op":"not","args":[]}"#.into(), ptr("/args"), "syntax"),
        (
            r#"{"op":"=","args":[{"property":"category"}]}"#.into(),
            ptr("/args"),
            "syntax",
        ),
        (
            r#"{"op":"between","args":[{"property":"killed_total"},1]}"#.into(),
            ptr("/args"),
            "syntax",
        ),
        (
            r#"{"op":"=","args":[{"property":"category"},"x"],"extra":1}"#.into(),
            ptr("/extra"),
            "syntax",
        ),
        (
            r#"{"op":"and","args":[true,{"op":"=","args":[{"property":"category"},"x"],"x":1}]}"#
                .into(),
            ptr("/args/1/x"),
            "syntax",
        ),
        (r#"{"op":"and","args":[true,1]}"#.into(), ptr("/args/1"), "syntax"),
        (r#"{"op":"and","args":[true,null]}"#.into(), ptr("/args/1"), "syntax"),
        (
            r#"{"op":"and","args":[true,{"property":"category"}]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        // Unknown operators, and CQL2 operators not served.
        (r#"{"op":"xor","args":[true,true]}"#.into(), ptr("/op"), "syntax"),
        (r#"{"op":"AND","args":[true,true]}"#.into(), ptr("/op"), "syntax"),
        (
            r#"{"op":"casei","args":[{"property":"category"}]}"#.into(),
            ptr("/op"),
            "syntax",
        ),
        (
            r#"{"op":"s_contains","args":[{"property":"geometry"},{"bbox":[0,0,1,1]}]}"#.into(),
            ptr("/op"),
            "syntax",
        ),
        (
            r#"{"op":"t_before","args":[{"property":"time_start"},{"date":"2025-01-01"}]}"#.into(),
            ptr("/op"),
            "syntax",
        ),
        (
            r#"{"op":"a_equals","args":[[1],[1]]}"#.into(),
            ptr("/op"),
            "syntax",
        ),
        (
            cmp(r#"{"op":"+","args":[{"property":"killed_total"},1]}"#, "3"),
            ptr("/args/0"),
            "syntax",
        ),
        (
            cmp(r#"{"function":{"name":"upper","args":[]}}"#, "3"),
            ptr("/args/0/function"),
            "syntax",
        ),
        (
            r#"{"op":"like","args":[{"property":"category"},{"op":"casei","args":["K%"]}]}"#
                .into(),
            ptr("/args/1"),
            "syntax",
        ),
        // Wrong types.
        (cmp(r#"{"property":"killed_total"}"#, r#""x""#), ptr(""), "type"),
        (cmp(r#"{"property":"category"}"#, "3"), ptr(""), "type"),
        (cmp(r#"{"property":"category"}"#, "true"), ptr(""), "type"),
        (cmp(r#"{"property":"category"}"#, "null"), ptr("/args/1"), "syntax"),
        (cmp(r#"{"property":"category"}"#, "[\"x\"]"), ptr("/args/1"), "syntax"),
        (cmp(r#"{"property":3}"#, r#""x""#), ptr("/args/0/property"), "syntax"),
        (cmp(r#"{"property":"geometry"}"#, r#""x""#), ptr("/args/0/property"), "type"),
        (r#"{"op":"<","args":[true,false]}"#.into(), ptr(""), "type"),
        (
            r#"{"op":"like","args":[{"property":"killed_total"},"1%"]}"#.into(),
            ptr(""),
            "type",
        ),
        (
            r#"{"op":"like","args":[{"property":"category"},3]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        (
            r#"{"op":"like","args":[{"property":"category"},"x\\"]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        (
            r#"{"op":"between","args":[{"property":"category"},1,2]}"#.into(),
            ptr(""),
            "type",
        ),
        (
            r#"{"op":"between","args":[true,false,true]}"#.into(),
            ptr(""),
            "type",
        ),
        (
            r#"{"op":"in","args":[{"property":"category"},"killing"]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        (
            r#"{"op":"in","args":[{"property":"category"},[]]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        (
            r#"{"op":"in","args":[{"property":"category"},["a",2]]}"#.into(),
            ptr("/args/1/1"),
            "type",
        ),
        (
            r#"{"op":"isNull","args":[{"property":"nowhere"}]}"#.into(),
            ptr("/args/0/property"),
            "unknown",
        ),
        // Literals out of their domain.
        (
            cmp(r#"{"property":"time_start"}"#, r#"{"timestamp":"yesterday"}"#),
            ptr("/args/1/timestamp"),
            "literal",
        ),
        (
            cmp(r#"{"property":"time_start"}"#, r#"{"timestamp":"2025-01-01"}"#),
            ptr("/args/1/timestamp"),
            "literal",
        ),
        (
            cmp(r#"{"property":"time_start"}"#, r#"{"date":"2025-01-01T00:00:00Z"}"#),
            ptr("/args/1/date"),
            "literal",
        ),
        (
            cmp(r#"{"property":"time_start"}"#, r#"{"date":20250101}"#),
            ptr("/args/1/date"),
            "syntax",
        ),
        (
            cmp(r#"{"property":"time_start"}"#, r#"{"date":"2025-02-30"}"#),
            ptr("/args/1/date"),
            "literal",
        ),
        (
            cmp(r#"{"property":"time_start"}"#, r#"{"timestamp":"2025-01-01T00:00:00Z","date":"2025-01-01"}"#),
            ptr("/args/1/date"),
            "syntax",
        ),
        // Spatial.
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[1,2,3]}]}"#.into(),
            ptr("/args/1/bbox"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[0,10,1,5]}]}"#.into(),
            ptr("/args/1/bbox"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[0,0,"1",1]}]}"#.into(),
            ptr("/args/1/bbox/2"),
            "syntax",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[0,0,181,1]}]}"#.into(),
            ptr("/args/1/bbox"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[200,0]}]}"#.into(),
            ptr("/args/1/coordinates"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[1]}]}"#.into(),
            ptr("/args/1/coordinates"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[1,2,3,4]}]}"#.into(),
            ptr("/args/1/coordinates"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point"}]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}]}"#.into(),
            ptr("/args/1/coordinates/0"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}]}"#.into(),
            ptr("/args/1/coordinates/0"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[]}]}"#.into(),
            ptr("/args/1/coordinates"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,"x"],[0,0]]]}]}"#.into(),
            ptr("/args/1/coordinates/0/2/1"),
            "syntax",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"LineString","coordinates":[[0,0],[1,1]]}]}"#.into(),
            ptr("/args/1/type"),
            "literal",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[1,2],"crs":"x"}]}"#.into(),
            ptr("/args/1/crs"),
            "syntax",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"property":"geometry"}]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        (
            r#"{"op":"s_intersects","args":[{"bbox":[0,0,1,1]},{"bbox":[0,0,1,1]}]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"category"},{"bbox":[0,0,1,1]}]}"#.into(),
            ptr("/args/0/property"),
            "type",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},"POINT(1 2)"]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        // Temporal.
        (
            r#"{"op":"t_intersects","args":[{"property":"category"},{"date":"2025-01-01"}]}"#.into(),
            ptr("/args/0/property"),
            "type",
        ),
        (
            r#"{"op":"t_intersects","args":[{"property":"time_start"},{"interval":["2025-02-01","2025-01-01"]}]}"#.into(),
            ptr("/args/1/interval"),
            "literal",
        ),
        (
            r#"{"op":"t_intersects","args":[{"property":"time_start"},{"interval":["2025-02-01"]}]}"#.into(),
            ptr("/args/1/interval"),
            "syntax",
        ),
        (
            r#"{"op":"t_intersects","args":[{"property":"time_start"},{"interval":["2025-02-01",3]}]}"#.into(),
            ptr("/args/1/interval/1"),
            "syntax",
        ),
        (
            r#"{"op":"t_intersects","args":[{"property":"time_start"},{"interval":["soon",".."]}]}"#.into(),
            ptr("/args/1/interval/0"),
            "literal",
        ),
        (
            r#"{"op":"t_intersects","args":[{"property":"time_start"},"2025-01-01"]}"#.into(),
            ptr("/args/1"),
            "syntax",
        ),
        (
            r#"{"op":"t_intersects","args":[{"property":"time_start"},{"interval":[{"property":"narrative"},".."]}]}"#.into(),
            ptr("/args/1/interval/0/property"),
            "unknown",
        ),
    ];
    let mut wrong = Vec::new();
    for (text, at, want) in cases {
        let e = json_fault(&text);
        if (kind(&e.fault), &e.at) != (want, &at) {
            wrong.push(format!("{text}\n  want {want} at {at:?}\n  got {e:?}: {e}"));
        }
        assert!(e.to_string().ends_with(&e.at.to_string()), "{e}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A hidden property and a made-up one give the same error at the same
/// pointer, whatever the predicate.
#[test]
fn hidden_and_unknown_are_alike_in_json() {
    for probe in [
        r#"{"op":"=","args":[{"property":"narrative"},"x"]}"#,
        r#"{"op":"and","args":[true,{"op":"like","args":[{"property":"narrative"},"C%"]}]}"#,
        r#"{"op":"isNull","args":[{"property":"narrative"}]}"#,
        r#"{"op":"in","args":[{"property":"category"},["x",{"property":"narrative"}]]}"#,
        r#"{"op":"s_intersects","args":[{"property":"narrative"},{"bbox":[0,0,1,1]}]}"#,
        r#"{"op":"t_intersects","args":[{"property":"narrative"},{"date":"2025-01-01"}]}"#,
        r#"{"op":"not","args":[{"property":"narrative"}]}"#,
    ] {
        let a = json_fault(probe);
        let b = json_fault(&probe.replace("narrative", "zzzzzzzzz"));
        assert!(matches!(a.fault, Fault::UnknownProperty(_)), "{probe}: {a}");
        assert_eq!(a.at, b.at, "{probe}");
        assert_eq!(
            a.to_string().replace("narrative", "zzzzzzzzz"),
            b.to_string(),
            "{probe}"
        );
    }
}

/// Runs `f` on a thread with a small stack: a filter that recursed once
/// per level of its nesting would overflow it.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no stack overflow")
}

fn too_complex(text: String, words: &str) -> Cql2Error {
    let e = json_fault(&text);
    assert!(
        matches!(e.fault, Fault::TooComplex(_)) && e.to_string().contains(words),
        "{}: {e}",
        &text[..text.len().min(80)]
    );
    e
}

#[test]
fn costly_json_is_refused_before_it_costs() {
    let cmp = r#"{"op":"=","args":[{"property":"category"},"x"]}"#;
    let nots = |n: usize| {
        format!(
            "{}{cmp}{}",
            r#"{"op":"not","args":["#.repeat(n),
            "]}".repeat(n)
        )
    };
    assert!(Filter::parse_json(&nots(MAX_DEPTH), &queryables()).is_ok());
    let e = too_complex(nots(MAX_DEPTH + 1), "nested deeper than 20");
    assert_eq!(e.at, ptr(&"/args/0".repeat(MAX_DEPTH)));
    // Alternating and/or: each nested one is a level, as parentheses in text.
    let alternating = |n: usize| {
        let mut s = cmp.to_string();
        for i in 0..n {
            let op = if i % 2 == 0 { "and" } else { "or" };
            s = format!(r#"{{"op":"{op}","args":[true,{s}]}}"#);
        }
        s
    };
    assert!(Filter::parse_json(&alternating(MAX_DEPTH + 1), &queryables()).is_ok());
    too_complex(alternating(MAX_DEPTH + 2), "nested deeper");
    // Bombs: nesting far beyond what serde_json reads, within the size
    // bound, and beyond the size bound; never a stack overflow.
    for text in [
        "[".repeat(10_000),
        format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000)),
        r#"{"op":"not","args":["#.repeat(700),
        r#"{"a":"#.repeat(3_000),
        r#"{"op":"not","args":["#.repeat(100_000),
        "[".repeat(1_000_000),
    ] {
        let e = on_small_stack(move || Filter::parse_json(&text, &queryables()).unwrap_err());
        assert!(matches!(e.fault, Fault::TooComplex(_)), "{e}");
    }
    // More predicates and operands than MAX_NODES.
    let many = format!(
        r#"{{"op":"or","args":[{}]}}"#,
        vec![cmp; MAX_NODES / 2].join(",")
    );
    too_complex(many, "predicates and operands");
    // IN lists: MAX_IN_ITEMS pass, one more is refused at the first extra.
    let list = |n: usize| {
        format!(
            r#"{{"op":"in","args":[{{"property":"killed_total"}},[{}]]}}"#,
            (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
        )
    };
    assert!(Filter::parse_json(&list(MAX_IN_ITEMS), &queryables()).is_ok());
    let e = too_complex(list(MAX_IN_ITEMS + 1), "IN list");
    assert_eq!(e.at, ptr("/args/1/100"));
    too_complex(list(3_000), "IN list");
    // Polygons: MAX_POLYGON_VERTICES over all rings.
    let polygon = |n: usize| {
        let mut pts: Vec<String> = (0..n - 1)
            .map(|i| {
                let a = i as f64 / (n - 1) as f64 * std::f64::consts::TAU;
                format!("[{:.4},{:.4}]", a.cos(), a.sin())
            })
            .collect();
        pts.push(pts[0].clone());
        format!(
            r#"{{"op":"s_intersects","args":[{{"property":"geometry"}},{{"type":"Polygon","coordinates":[[{}]]}}]}}"#,
            pts.join(",")
        )
    };
    assert!(Filter::parse_json(&polygon(MAX_POLYGON_VERTICES), &queryables()).is_ok());
    let e = too_complex(polygon(MAX_POLYGON_VERTICES + 1), "vertices");
    assert_eq!(e.at, ptr("/args/1/coordinates/0/500"));
    // LIKE patterns.
    let like = |p: String| format!(r#"{{"op":"like","args":[{{"property":"category"}},"{p}"]}}"#);
    assert!(Filter::parse_json(&like("a_".repeat(31)), &queryables()).is_ok());
    too_complex(like("a_".repeat(32)), "LIKE pattern");
    assert!(Filter::parse_json(&like("%".repeat(1000)), &queryables()).is_ok());
    // The text bound, and the token bound within it.
    too_complex(
        format!(
            r#"{{"op":"=","args":[{{"property":"category"}},"{}"]}}"#,
            "x".repeat(MAX_CHARS)
        ),
        "characters",
    );
    let tokens = format!(
        r#"{{"op":"s_intersects","args":[{{"property":"geometry"}},{{"bbox":[{}]}}]}}"#,
        vec!["0"; 5_000].join(",")
    );
    let e = too_complex(tokens, "JSON values");
    assert_eq!(e.at, ptr(""));
}

/// Random mutations of valid JSON filters and random bytes: never a
/// panic; every error located, a text position within the text.
#[test]
fn fuzz_json_never_panics() {
    let q = queryables();
    let fs = features();
    let pieces = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        "null",
        "true",
        "1e308",
        "-",
        "..",
        r#"{"property":"category"}"#,
        r#"{"op":"not","args":["#,
        r#""op":"#,
        "é",
    ];
    let mut rng = R(crate::rng::Rng::new(21_065));
    let mut accepted = 0;
    for round in 0..20_000 {
        let text: String = if round % 4 == 0 {
            let bytes: Vec<u8> = (0..rng.below(60)).map(|_| rng.below(256) as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            let mut s: Vec<char> = PAIRS[rng.below(PAIRS.len())].1.chars().collect();
            for _ in 0..1 + rng.below(3) {
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
                        let end = (at + rng.below(6)).min(s.len());
                        s.drain(at..end);
                    }
                }
            }
            s.into_iter().collect()
        };
        match Filter::parse_json(&text, &q) {
            Ok(f) => {
                accepted += 1;
                for x in &fs {
                    let _ = f.matches(x);
                }
            }
            Err(e) => match &e.at {
                Location::Text { line, column } => {
                    let lines: Vec<&str> = text.split('\n').collect();
                    assert!(*line >= 1 && *line <= lines.len(), "{text:?}: {e}");
                    assert!(
                        *column >= 1 && *column <= lines[line - 1].chars().count() + 1,
                        "{text:?}: {e}"
                    );
                }
                Location::Pointer(p) => assert!(p.is_empty() || p.starts_with('/'), "{e}"),
                Location::Column(_) => panic!("a text column for JSON: {e}"),
            },
        }
    }
    assert!(accepted > 300, "{accepted}");
}
