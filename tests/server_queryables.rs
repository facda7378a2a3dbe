//! OGC API - Features Part 3 and 5 through HTTP, as an adversary would use
//! them: a role's queryables and schema list exactly what its redacted view
//! carries; a CQL2 filter on a field the role cannot see fails exactly like
//! one on a made-up name; filters that differ only in hidden values give
//! identical answers; `numberMatched` never counts what the role cannot see.
//! CQL2 JSON filters answer exactly as their text forms, and fail alike on
//! hidden and made-up names.
//!
//! Canaries: incidents whose `narrative` and `source_name` start with
//! `CANARY-`, in one store and not in its twin (the stores are otherwise
//! byte-identical in everything a partner may see).

mod common;
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use std::collections::BTreeSet;
use tempfile::TempDir;

/// 60 incidents a partner may see (public, partner consent), ids
/// `q-00`..`q-59`; from `q-40` on they carry a narrative, a source name and
/// a site type, so no first page of 40 or fewer shows those columns. With
/// `canaries`, the narratives and source names are `CANARY-...`; without,
/// other words of the same length.
fn incidents(canaries: bool) -> Vec<Value> {
    (0..60)
        .map(|i| {
            let mut f = common::incident(i);
            f["id"] = json!(format!("q-{i:02}"));
            let p = f["properties"].as_object_mut().unwrap();
            p.insert("classification".into(), json!("public"));
            p.insert("consent".into(), json!("partners"));
            p.insert("owner".into(), json!("mission"));
            for k in ["narrative", "source_name", "village_code", "nested"] {
                p.remove(k);
            }
            p.insert(
                "category".into(),
                json!(["killing", "abduction", "attack-on-civilian-site"][i % 3]),
            );
            p.insert("killed_men".into(), json!((i % 4) as i64));
            if i >= 40 {
                let (n, s) = if canaries {
                    (
                        format!("CANARY-narrative-{i:02}"),
                        "CANARY-source".to_string(),
                    )
                } else {
                    (
                        format!("ordinary-account-{i:02}"),
                        "plain-source!".to_string(),
                    )
                };
                p.insert("narrative".into(), json!(n));
                p.insert("source_name".into(), json!(s));
                if i % 3 == 2 {
                    p.insert("site_type".into(), json!("school"));
                }
            }
            f
        })
        .collect()
}

fn server(dir: &std::path::Path, canaries: bool, extra: &str) -> Server {
    let store = dir.join("q.gpkg");
    let fc = common::write_fc(dir, "incidents.geojson", &incidents(canaries));
    cli(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    let (s, p, b) = common::others();
    let others = common::write_fc(dir, "bases.geojson", &[b]);
    cli(&store, &["ingest", "bases", others.to_str().unwrap()]);
    let _ = (s, p);
    Server::start(&config(dir, &store, extra))
}

fn items(s: &Server, token: &str, filter: &str, more: &str) -> Resp {
    s.get(
        &format!(
            "/collections/incidents/items?limit=1000&filter={}{more}",
            enc(filter)
        ),
        Some(token),
    )
}

fn ids(doc: &Value) -> Vec<String> {
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn keys(doc: &Value) -> BTreeSet<String> {
    doc["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// The answer without its time stamp and with the server's address
/// replaced, for byte comparison.
fn stable(s: &Server, r: &Resp) -> (u16, String) {
    let mut v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("timeStamp");
    }
    (r.status, v.to_string().replace(&s.base, "BASE"))
}

#[test]
fn queryables_and_schemas_list_what_each_role_sees() {
    let dir = TempDir::new().unwrap();
    let s = server(dir.path(), true, "");
    let conf = s.json("/conformance", HR);
    for c in [
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    ] {
        assert!(
            conf["conformsTo"].as_array().unwrap().contains(&json!(c)),
            "{c}"
        );
    }
    for (role, token) in ROLES {
        let coll = s.json("/collections/incidents", token);
        for (rel, path) in [
            (
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "/collections/incidents/queryables",
            ),
            (
                "http://www.opengis.net/def/rel/ogc/1.0/schema",
                "/collections/incidents/schema",
            ),
            ("describedBy", "/collections/incidents/schema/geojson"),
        ] {
            let l = coll["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["rel"] == rel);
            let l = l.unwrap_or_else(|| panic!("{role}: no {rel} link"));
            assert_eq!(l["type"], "application/schema+json");
            assert_eq!(path_of(l["href"].as_str().unwrap()), path);
        }
        let q = s.get("/collections/incidents/queryables", Some(token));
        assert_eq!(q.header("content-type"), Some("application/schema+json"));
        let q = q.json();
        let schema = s.json("/collections/incidents/schema", token);
        let geojson = s.json("/collections/incidents/schema/geojson", token);
        for doc in [&q, &schema, &geojson] {
            assert_eq!(
                doc["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            assert!(doc["$id"].as_str().unwrap().starts_with("http"));
            assert_eq!(doc["type"], "object");
        }
        assert_eq!(schema["properties"]["id"]["x-ogc-role"], "id");
        assert_eq!(
            schema["properties"]["geometry"]["x-ogc-role"],
            "primary-geometry"
        );
        assert_eq!(schema["properties"]["geometry"]["format"], "geometry-point");
        assert_eq!(schema["properties"]["time_start"]["format"], "date-time");
        assert_eq!(
            schema["properties"]["time_start"]["x-ogc-role"],
            "primary-interval-start"
        );
        assert_eq!(
            schema["properties"]["category"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            12
        );
        let props = keys(&schema);
        let hidden_canaries = ["narrative", "source_name", "killed_men", "source_type"];
        if role == "hr" {
            for k in hidden_canaries.iter().chain(&["site_type", "perpetrator"]) {
                assert!(props.contains(*k), "hr schema lacks {k}");
            }
            assert!(!props.contains("killed_total"));
        } else {
            for k in hidden_canaries {
                assert!(!props.contains(k), "{role} schema lists {k}");
                assert!(!keys(&q).contains(k), "{role} queryables list {k}");
                assert!(!keys(&geojson["properties"]["properties"]).contains(k));
            }
            assert!(props.contains("killed_total") && props.contains("site_type"));
            assert_eq!(props.contains("perpetrator"), role == "jmac");
        }
        // What the role receives is described: every property of every
        // feature is in the schema, and the GeoJSON schema has the same.
        let page = s.json("/collections/incidents/items?limit=1000", token);
        for f in page["features"].as_array().unwrap() {
            for k in f["properties"].as_object().unwrap().keys() {
                assert!(
                    props.contains(k),
                    "{role}: {k} received but not in the schema"
                );
            }
        }
        let mut flat = props.clone();
        flat.remove("id");
        flat.remove("geometry");
        assert_eq!(keys(&geojson["properties"]["properties"]), flat, "{role}");
        // No raw text of a canary anywhere in the role's documents.
        if role != "hr" {
            for doc in [&q, &schema, &geojson, &page] {
                assert!(!doc.to_string().contains("CANARY"), "{role}");
            }
        }
    }
    // A collection the role may not see: 403, as for its items.
    s.get("/collections/patrols/queryables", Some(HR))
        .problem(403, None);
    s.get("/collections/nothing/schema", Some(HR))
        .problem(404, None);
    s.get("/collections/incidents/schema?x=1", Some(HR))
        .problem(400, Some("x"));
}

#[test]
fn hidden_fields_are_unknown_and_filters_on_them_reveal_nothing() {
    let dir_a = TempDir::new().unwrap();
    let dir_b = TempDir::new().unwrap();
    let a = server(dir_a.path(), true, "");
    let b = server(dir_b.path(), false, "");
    // For hr the two stores differ (the canaries are real) ...
    let hr = |s: &Server| {
        ids(&items(
            s,
            HR,
            "narrative LIKE 'CANARY%' AND source_name = 'CANARY-source'",
            "",
        )
        .json())
    };
    assert_eq!(hr(&a).len(), 20);
    assert!(hr(&b).is_empty());
    // ... and for every other role nothing tells them apart.
    let probes = [
        "narrative LIKE 'CANARY%'",
        "narrative IS NULL",
        "narrative IS NOT NULL",
        "source_name = 'CANARY-source'",
        "\"source_name\" <> 'x'",
        "NOT narrative = 'x' OR category = 'killing'",
        "category = 'killing' AND narrative LIKE 'C%'",
        "killed_men > 1",
        "source_type = 'witness'",
        "category IN ('killing', narrative)",
        "T_INTERSECTS(narrative, DATE('2024-01-01'))",
        "S_INTERSECTS(narrative, BBOX(0,0,1,1))",
    ];
    for (role, token) in ROLES.into_iter().filter(|(r, _)| *r != "hr") {
        for probe in probes {
            let ra = items(&a, token, probe, "");
            let rb = items(&b, token, probe, "");
            assert_eq!(stable(&a, &ra), stable(&b, &rb), "{role}: {probe}");
            // The same 400 as a name that exists nowhere, at the same column.
            let made_up = probe
                .replace("narrative", "zzzzzzzzz")
                .replace("source_name", "zzzzzzzzzzz")
                .replace("killed_men", "zzzzzzzzzz")
                .replace("source_type", "zzzzzzzzzzz");
            let rz = items(&a, token, &made_up, "");
            let pa = ra.problem(400, Some("filter"));
            let pz = rz.problem(400, Some("filter"));
            assert_eq!(pa["column"], pz["column"], "{role}: {probe}");
            let norm = |v: &Value| {
                v["detail"]
                    .as_str()
                    .unwrap()
                    .replace("narrative", "X")
                    .replace("source_name", "X")
                    .replace("killed_men", "X")
                    .replace("source_type", "X")
                    .replace("zzzzzzzzzzz", "X")
                    .replace("zzzzzzzzzz", "X")
                    .replace("zzzzzzzzz", "X")
            };
            assert_eq!(norm(&pa), norm(&pz), "{role}: {probe}");
        }
        // Filters on what the role does see agree between the twins too.
        for f in [
            "category = 'killing'",
            "killed_total >= 1",
            "site_type = 'school' OR site_type IS NULL",
            "id > 'q-39'",
        ] {
            let ra = items(&a, token, f, "");
            assert_eq!(ra.status, 200, "{role} {f}: {}", ra.text());
            assert_eq!(
                stable(&a, &ra),
                stable(&b, &items(&b, token, f, "")),
                "{role}: {f}"
            );
        }
    }
}

#[test]
fn filtered_counts_and_pages_are_those_of_the_role() {
    let dir = TempDir::new().unwrap();
    let s = server(dir.path(), true, "");
    let filters = [
        "category = 'killing'",
        "category <> 'killing' AND NOT killed_total = 0",
        "killed_total BETWEEN 1 AND 2",
        "category IN ('abduction', 'killing')",
        "category LIKE 'attack%'",
        "site_type IS NOT NULL",
        "S_INTERSECTS(geometry, BBOX(16.05, 4.0, 16.3, 5.0))",
        "T_INTERSECTS(time_start, INTERVAL('2024-03-01', '2024-06-30'))",
        "TRUE",
        "FALSE",
    ];
    for (role, token) in ROLES {
        let all = s.json("/collections/incidents/items?limit=1000", token);
        let seen = all["numberMatched"].as_u64().unwrap();
        assert_eq!(seen as usize, ids(&all).len());
        for f in filters {
            let r = items(&s, token, f, "");
            if role == "hr" && f.contains("killed_total") {
                // hr sees per-sex counts, not totals: an unknown property.
                r.problem(400, Some("filter"));
                continue;
            }
            assert_eq!(r.status, 200, "{role} {f}: {}", r.text());
            let doc = r.json();
            let got = ids(&doc);
            let matched = doc["numberMatched"].as_u64().unwrap();
            assert_eq!(matched as usize, got.len(), "{role} {f}");
            assert!(matched <= seen);
            // Walking small pages gives the same features.
            let walked = walk(
                &s,
                &format!("/collections/incidents/items?limit=7&filter={}", enc(f)),
                token,
            );
            assert_eq!(walked, got, "{role} {f}");
            // Evaluated by hand on what the role received unfiltered.
            let want: Vec<String> = all["features"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| by_hand(f, x))
                .map(|x| x["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(got, want, "{role} {f}");
        }
    }
    // The spatial and temporal predicates agree with bbox and datetime.
    let by_param = ids(&s.json(
        "/collections/incidents/items?limit=1000&bbox=16.05,4.0,16.3,5.0&datetime=2024-03-01/2024-06-30",
        HR,
    ));
    let by_filter = ids(&items(
        &s,
        HR,
        "S_INTERSECTS(geometry, BBOX(16.05, 4.0, 16.3, 5.0)) AND T_INTERSECTS(time_start, INTERVAL('2024-03-01', '2024-06-30'))",
        "",
    )
    .json());
    assert!(!by_param.is_empty());
    assert_eq!(by_param, by_filter);
}

/// The test filters above, evaluated on a received feature.
fn by_hand(f: &str, x: &Value) -> bool {
    let p = &x["properties"];
    let lon = x["geometry"]["coordinates"][0].as_f64().unwrap();
    let lat = x["geometry"]["coordinates"][1].as_f64().unwrap();
    let total = p["killed_total"].as_i64().unwrap_or(-1);
    let cat = p["category"].as_str().unwrap();
    let t = p["time_start"].as_str().unwrap();
    match f {
        "category = 'killing'" => cat == "killing",
        "category <> 'killing' AND NOT killed_total = 0" => cat != "killing" && total != 0,
        "killed_total BETWEEN 1 AND 2" => (1..=2).contains(&total),
        "category IN ('abduction', 'killing')" => cat == "abduction" || cat == "killing",
        "category LIKE 'attack%'" => cat.starts_with("attack"),
        "site_type IS NOT NULL" => p.get("site_type").is_some(),
        "S_INTERSECTS(geometry, BBOX(16.05, 4.0, 16.3, 5.0))" => {
            (16.05..=16.3).contains(&lon) && (4.0..=5.0).contains(&lat)
        }
        "T_INTERSECTS(time_start, INTERVAL('2024-03-01', '2024-06-30'))" => {
            ("2024-03-01".."2024-07-01").contains(&t)
        }
        "TRUE" => true,
        "FALSE" => false,
        other => panic!("no hand evaluation of {other}"),
    }
}

#[test]
fn bad_and_costly_filters_are_400_with_the_fault_and_column() {
    let dir = TempDir::new().unwrap();
    // A small view limit: pages come from the store by keyset, and the
    // filter applies there the same way.
    // Request lines up to 64 KiB, so that the filter's own length bound
    // answers (the default header limit, 16 KiB, would answer 431 first).
    let s = server(
        dir.path(),
        true,
        "[cache]\nview_max_features = 10\n[limits]\nheader_bytes = 65536\n",
    );
    for (f, column, words) in [
        ("category = ", 12, "expected a property or a value"),
        ("category = 'killing", 12, "unterminated string"),
        ("category == 'x'", 11, "expected a property or a value"),
        ("(category = 'x'", 16, "expected ')'"),
        ("killed_men = 1", 1, "unknown property"),
        ("killed_total = 'x'", 14, "cannot compare"),
        ("S_INTERSECTS(geometry, POINT(200 0))", 30, "outside CRS84"),
        ("time_start > TIMESTAMP('yesterday')", 24, "time"),
    ] {
        let r = items(&s, PARTNER, f, "");
        let p = r.problem(400, Some("filter"));
        assert_eq!(p["column"], column, "{f}: {p}");
        let d = p["detail"].as_str().unwrap();
        assert!(
            d.contains(words) && d.contains(&format!("column {column}")),
            "{f}: {d}"
        );
    }
    for (f, words) in [
        (
            format!("{}category = 'x'{}", "(".repeat(40), ")".repeat(40)),
            "nested deeper",
        ),
        (vec!["category = 'x'"; 300].join(" OR "), "more than"),
        (
            format!("category IN ({})", vec!["'x'"; 101].join(",")),
            "IN list",
        ),
        (
            format!("category LIKE '{}'", "_".repeat(64)),
            "LIKE pattern",
        ),
        (format!("category = '{}'", "x".repeat(40_000)), "characters"),
    ] {
        let r = items(&s, PARTNER, &f, "");
        let p = r.problem(400, Some("filter"));
        assert!(p["detail"].as_str().unwrap().contains(words), "{p}");
    }
    // Text given as JSON is not JSON: a 400 on the filter, at its first character.
    let p = items(
        &s,
        PARTNER,
        "category = 'killing'",
        "&filter-lang=cql2-json",
    )
    .problem(400, Some("filter"));
    assert_eq!((&p["line"], &p["column"]), (&json!(1), &json!(1)), "{p}");
    items(
        &s,
        PARTNER,
        "category = 'killing'",
        "&filter-lang=cql2-JSON",
    )
    .problem(400, Some("filter-lang"));
    items(&s, PARTNER, "category = 'killing'", "&filter-crs=EPSG:4326")
        .problem(400, Some("filter-crs"));
    items(&s, PARTNER, "category = 'killing'", "&filter=TRUE").problem(400, Some("filter"));
    let ok = items(
        &s,
        PARTNER,
        "category = 'killing'",
        "&filter-lang=cql2-text&filter-crs=http%3A%2F%2Fwww.opengis.net%2Fdef%2Fcrs%2FOGC%2F1.3%2FCRS84",
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    // Keyset pages: no numberMatched, but the same features as a walk.
    let doc = ok.json();
    assert!(doc.get("numberMatched").is_none());
    let walked = walk(
        &s,
        &format!(
            "/collections/incidents/items?limit=3&filter={}",
            enc("category = 'killing'")
        ),
        PARTNER,
    );
    assert_eq!(walked, ids(&doc));
    assert_eq!(walked.len(), 20);
    // A box the filter requires also narrows the store read: same answer.
    let walked = walk(
        &s,
        &format!(
            "/collections/incidents/items?limit=4&filter={}",
            enc("S_INTERSECTS(geometry, BBOX(16.045, 4.0, 16.305, 5.0)) AND category <> 'x'")
        ),
        PARTNER,
    );
    let want: Vec<String> = (5..=30).map(|i| format!("q-{i:02}")).collect();
    assert_eq!(walked, want);
    assert!(s.get("/health", None).status == 200);
}

/// The fields `ogrinfo` lists for a layer (`name: Type (w.p)` lines).
fn ogr_fields(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(": ")?;
            let ty = rest.split(' ').next()?;
            [
                "String",
                "Integer",
                "Integer64",
                "Real",
                "DateTime",
                "StringList",
            ]
            .contains(&ty)
            .then(|| name.trim().to_string())
        })
        .collect()
}

/// GDAL's OAPIF driver takes a layer's columns from the `describedBy`
/// schema, not from the first page: with pages of 10 features, none of
/// which has a narrative, source name or site type, hr still gets those
/// columns (and their values, through ogr2ogr to a GeoPackage); a partner
/// gets none of its hidden fields.
#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "ogrinfo is not installed (apt-get install gdal-bin)"
)]
fn gdal_reads_every_column_before_the_first_page_has_it() {
    use std::process::Command;
    let dir = TempDir::new().unwrap();
    let s = server(dir.path(), true, "");
    let ogr = |tool: &str, token: &str, args: &[&str]| {
        let o = Command::new(tool)
            .args(args)
            .env(
                "GDAL_HTTP_HEADERS",
                format!("Authorization: Bearer {token}"),
            )
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{tool} {args:?}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out
    };
    let url = format!("OAPIF:{}", s.base);
    let first = s.json("/collections/incidents/items?limit=10", HR);
    for f in first["features"].as_array().unwrap() {
        for k in ["narrative", "source_name", "site_type"] {
            assert!(f["properties"].get(k).is_none(), "the first page has {k}");
        }
    }
    let hr = ogr_fields(&ogr(
        "ogrinfo",
        HR,
        &["-ro", "-so", "-oo", "PAGE_SIZE=10", &url, "incidents"],
    ));
    for k in [
        "narrative",
        "source_name",
        "site_type",
        "killed_men",
        "time_start",
    ] {
        assert!(hr.contains(k), "hr: GDAL lacks {k}: {hr:?}");
    }
    let partner = ogr_fields(&ogr(
        "ogrinfo",
        PARTNER,
        &["-ro", "-so", "-oo", "PAGE_SIZE=10", &url, "incidents"],
    ));
    assert!(partner.contains("killed_total") && partner.contains("site_type"));
    for k in [
        "narrative",
        "source_name",
        "killed_men",
        "perpetrator",
        "source_type",
    ] {
        assert!(!partner.contains(k), "partner: GDAL lists {k}");
    }
    // ogr2ogr keeps every column and its values, whatever the first page held.
    let gpkg = dir.path().join("out.gpkg");
    ogr(
        "ogr2ogr",
        HR,
        &[
            "-f",
            "GPKG",
            gpkg.to_str().unwrap(),
            &url,
            "incidents",
            "-oo",
            "PAGE_SIZE=10",
        ],
    );
    let dump = ogr(
        "ogrinfo",
        HR,
        &[
            "-ro",
            "-al",
            gpkg.to_str().unwrap(),
            "-where",
            "narrative LIKE 'CANARY%'",
        ],
    );
    assert_eq!(dump.matches("OGRFeature(incidents)").count(), 20, "{dump}");
    assert!(dump.contains("source_name (String) = CANARY-source"));
    assert_eq!(dump.matches("site_type (String) = school").count(), 7);
}

/// A text filter and its CQL2 JSON form.
const JSON_PAIRS: &[(&str, &str)] = &[
    (
        "category = 'killing'",
        r#"{"op":"=","args":[{"property":"category"},"killing"]}"#,
    ),
    (
        "category <> 'killing' AND NOT killed_total = 0",
        r#"{"op":"and","args":[{"op":"<>","args":[{"property":"category"},"killing"]},{"op":"not","args":[{"op":"=","args":[{"property":"killed_total"},0]}]}]}"#,
    ),
    (
        "killed_total BETWEEN 1 AND 2",
        r#"{"op":"between","args":[{"property":"killed_total"},1,2]}"#,
    ),
    (
        "category IN ('abduction', 'killing')",
        r#"{"op":"in","args":[{"property":"category"},["abduction","killing"]]}"#,
    ),
    (
        "category LIKE 'attack%'",
        r#"{"op":"like","args":[{"property":"category"},"attack%"]}"#,
    ),
    (
        "NOT (site_type IS NULL)",
        r#"{"op":"not","args":[{"op":"isNull","args":[{"property":"site_type"}]}]}"#,
    ),
    (
        "S_INTERSECTS(geometry, BBOX(16.05, 4.0, 16.3, 5.0))",
        r#"{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[16.05,4.0,16.3,5.0]}]}"#,
    ),
    (
        "S_INTERSECTS(geometry, POLYGON((16.05 4, 16.3 4, 16.3 5, 16.05 5, 16.05 4)))",
        r#"{"op":"s_intersects","args":[{"type":"Polygon","coordinates":[[[16.05,4],[16.3,4],[16.3,5],[16.05,5],[16.05,4]]]},{"property":"geometry"}]}"#,
    ),
    (
        "T_INTERSECTS(time_start, INTERVAL('2024-03-01', '2024-06-30'))",
        r#"{"op":"t_intersects","args":[{"property":"time_start"},{"interval":["2024-03-01","2024-06-30"]}]}"#,
    ),
    (
        "time_start >= TIMESTAMP('2024-05-01T00:00:00Z') OR id = 'q-03'",
        r#"{"op":"or","args":[{"op":">=","args":[{"property":"time_start"},{"timestamp":"2024-05-01T00:00:00Z"}]},{"op":"=","args":[{"property":"id"},"q-03"]}]}"#,
    ),
    ("FALSE", "false"),
];

fn json_items(s: &Server, token: &str, filter: &str, more: &str) -> Resp {
    items(s, token, filter, &format!("&filter-lang=cql2-json{more}"))
}

#[test]
fn cql2_json_filters_answer_as_their_text() {
    let dir = TempDir::new().unwrap();
    let s = server(dir.path(), true, "");
    for (role, token) in ROLES {
        let mut nonempty = 0;
        for (t, j) in JSON_PAIRS {
            let rt = items(&s, token, t, "");
            let rj = json_items(&s, token, j, "");
            if role == "hr" && t.contains("killed_total") {
                // hr sees per-sex counts, not totals: unknown in both.
                rt.problem(400, Some("filter"));
                let p = rj.problem(400, Some("filter"));
                assert!(p["pointer"].as_str().unwrap().ends_with("/property"), "{p}");
                continue;
            }
            assert_eq!(rt.status, 200, "{role} {t}: {}", rt.text());
            assert_eq!(rj.status, 200, "{role} {j}: {}", rj.text());
            let (dt, dj) = (rt.json(), rj.json());
            assert_eq!(ids(&dt), ids(&dj), "{role} {t}");
            assert_eq!(dt["numberMatched"], dj["numberMatched"], "{role} {t}");
            assert_eq!(dt["features"], dj["features"], "{role} {t}");
            nonempty += usize::from(!ids(&dj).is_empty());
            // Small pages: the next links keep filter-lang.
            let walked = walk(
                &s,
                &format!(
                    "/collections/incidents/items?limit=7&filter-lang=cql2-json&filter={}",
                    enc(j)
                ),
                token,
            );
            assert_eq!(walked, ids(&dj), "{role} {j}");
        }
        assert!(nonempty >= 5, "{role}: {nonempty}");
    }
}

#[test]
fn hidden_fields_in_json_filters_reveal_nothing() {
    let dir_a = TempDir::new().unwrap();
    let dir_b = TempDir::new().unwrap();
    let a = server(dir_a.path(), true, "");
    let b = server(dir_b.path(), false, "");
    let canary = r#"{"op":"like","args":[{"property":"narrative"},"CANARY%"]}"#;
    assert_eq!(ids(&json_items(&a, HR, canary, "").json()).len(), 20);
    assert!(ids(&json_items(&b, HR, canary, "").json()).is_empty());
    let probes = [
        canary,
        r#"{"op":"isNull","args":[{"property":"narrative"}]}"#,
        r#"{"op":"not","args":[{"op":"isNull","args":[{"property":"source_name"}]}]}"#,
        r#"{"op":"=","args":[{"property":"source_name"},"CANARY-source"]}"#,
        r#"{"op":"or","args":[{"op":"=","args":[{"property":"category"},"killing"]},{"op":"<>","args":[{"property":"narrative"},"x"]}]}"#,
        r#"{"op":"in","args":[{"property":"category"},["killing",{"property":"narrative"}]]}"#,
        r#"{"op":">","args":[{"property":"killed_men"},1]}"#,
        r#"{"op":"t_intersects","args":[{"property":"narrative"},{"date":"2024-01-01"}]}"#,
        r#"{"op":"s_intersects","args":[{"property":"source_name"},{"bbox":[0,0,1,1]}]}"#,
        r#"{"op":"not","args":[{"property":"narrative"}]}"#,
    ];
    let made_up = |p: &str| {
        p.replace("narrative", "zzzzzzzzz")
            .replace("source_name", "zzzzzzzzzzz")
            .replace("killed_men", "zzzzzzzzzz")
    };
    let norm = |r: &Resp| {
        String::from_utf8_lossy(&r.body)
            .replace("narrative", "X")
            .replace("source_name", "X")
            .replace("killed_men", "X")
            .replace("zzzzzzzzzzz", "X")
            .replace("zzzzzzzzzz", "X")
            .replace("zzzzzzzzz", "X")
    };
    for (role, token) in ROLES.into_iter().filter(|(r, _)| *r != "hr") {
        for probe in probes {
            let ra = json_items(&a, token, probe, "");
            let rb = json_items(&b, token, probe, "");
            assert_eq!(stable(&a, &ra), stable(&b, &rb), "{role}: {probe}");
            let rz = json_items(&a, token, &made_up(probe), "");
            let pa = ra.problem(400, Some("filter"));
            rz.problem(400, Some("filter"));
            assert!(
                pa["detail"].as_str().unwrap().contains("unknown property"),
                "{pa}"
            );
            // The whole answer, byte for byte but the name it echoes.
            assert_eq!(norm(&ra), norm(&rz), "{role}: {probe}");
            assert!(!String::from_utf8_lossy(&ra.body).contains("CANARY-"));
        }
    }
}

#[test]
fn bad_and_costly_json_filters_are_400_with_the_fault_and_place() {
    let dir = TempDir::new().unwrap();
    let s = server(dir.path(), true, "[limits]\nheader_bytes = 65536\n");
    for (f, pointer, words) in [
        (r#"{"op":"xor","args":[true,true]}"#, "/op", "not served"),
        (
            r#"{"op":"=","args":[{"property":"killed_total"},"NaN"]}"#,
            "",
            "cannot compare",
        ),
        (
            r#"{"op":"=","args":[{"property":"category"},"x"],"op2":1}"#,
            "/op2",
            "unexpected member",
        ),
        (
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[200,0]}]}"#,
            "/args/1/coordinates",
            "outside CRS84",
        ),
        (
            r#"{"op":"in","args":[{"property":"category"},[]]}"#,
            "/args/1",
            "empty IN list",
        ),
    ] {
        let p = json_items(&s, PARTNER, f, "").problem(400, Some("filter"));
        assert_eq!(p["pointer"], pointer, "{f}: {p}");
        assert!(p["detail"].as_str().unwrap().contains(words), "{f}: {p}");
    }
    for (f, line, column) in [
        (r#"{"op":"=","op":"<>","args":[]}"#, 1, 14),
        (
            r#"{"op":"=","args":[{"property":"killed_total"},1e999]}"#,
            1,
            51,
        ),
        (
            "{\"op\":\n\"=\",\"args\":[{\"property\":\"category\"},'x']}",
            2,
            37,
        ),
    ] {
        let p = json_items(&s, PARTNER, f, "").problem(400, Some("filter"));
        assert_eq!(
            (&p["line"], &p["column"]),
            (&json!(line), &json!(column)),
            "{f}: {p}"
        );
    }
    let not = r#"{"op":"not","args":["#;
    let cmp = r#"{"op":"=","args":[{"property":"category"},"x"]}"#;
    for (f, words) in [
        (
            format!("{}{cmp}{}", not.repeat(21), "]}".repeat(21)),
            "nested deeper than 20",
        ),
        ("[".repeat(16_000), "nested deeper than serde_json reads"),
        (not.repeat(700), "nested deeper than serde_json reads"),
        (
            format!(
                r#"{{"op":"in","args":[{{"property":"category"}},[{}]]}}"#,
                vec!["\"x\""; 101].join(",")
            ),
            "IN list",
        ),
        (
            format!(r#"{{"op":"or","args":[{}]}}"#, vec![cmp; 200].join(",")),
            "predicates and operands",
        ),
        (format!(r#""{}""#, "x".repeat(20_000)), "characters"),
    ] {
        let p = json_items(&s, PARTNER, &f, "").problem(400, Some("filter"));
        assert!(p["detail"].as_str().unwrap().contains(words), "{p}");
    }
    assert_eq!(s.get("/health", None).status, 200);
}
