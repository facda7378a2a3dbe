//! Whole-flow tests of `jointmap serve`: the real binary on a free port over a
//! demo store plus a few hand-made incidents (antimeridian, known times).

mod common;
mod server_common;

use chrono::Datelike;
use serde_json::{json, Value};
use server_common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Hand-made incidents (hr-owned, restricted: only hr sees them): two on
/// either side of the antimeridian and one at 0,0, on three known days of 2030.
fn handmade() -> Vec<Value> {
    [
        ("am-east", 179.5, 0.5),
        ("am-west", -179.5, 0.5),
        ("zero", 0.0, 0.0),
    ]
    .iter()
    .enumerate()
    .map(|(i, (id, lon, lat))| {
        let mut f = common::incident(i);
        f["id"] = json!(id);
        f["geometry"]["coordinates"] = json!([lon, lat]);
        f["properties"]["time_start"] = json!(format!("2030-01-0{}T10:00:00Z", i + 1));
        f["properties"]["category"] = json!("abduction");
        f
    })
    .collect()
}

fn store(dir: &Path, incidents: usize) -> PathBuf {
    let store = dir.join("demo.gpkg");
    cli(&store, &["demo", "--incidents", &incidents.to_string()]);
    let fc = common::write_fc(dir, "handmade.geojson", &handmade());
    // In 2030, after the demo's data: beyond the default plausibility bound.
    cli(
        &store,
        &[
            "ingest",
            "incidents",
            fc.to_str().unwrap(),
            "--future-days",
            "3650",
        ],
    );
    store
}

/// The configuration of these tests: the hand-made incidents of 2030 are
/// within the server's time bound too (its start-up check and HTTP ingest
/// apply it), plus `extra`.
fn api_config(dir: &Path, store: &Path, extra: &str) -> PathBuf {
    let limits = "[limits]\nfuture_days = 3650\n";
    let extra = match extra.strip_prefix("[limits]\n") {
        Some(rest) => format!("{limits}{rest}"),
        None => format!("{extra}{limits}"),
    };
    config(dir, store, &extra)
}

fn setup(extra: &str) -> (TempDir, Server, PathBuf) {
    let dir = TempDir::new().unwrap();
    let store = store(dir.path(), 400);
    let cfg = api_config(dir.path(), &store, extra);
    let server = Server::start(&cfg);
    (dir, server, store)
}

#[test]
fn landing_conformance_collections_and_api() {
    let (_dir, s, _) = setup("");
    let landing = s.json("/", HR);
    for rel in ["self", "service-desc", "conformance", "data"] {
        let l = landing["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == rel)
            .unwrap_or_else(|| panic!("no {rel} link"));
        assert!(l["type"].is_string() && l["title"].is_string());
        assert!(l["href"].as_str().unwrap().starts_with(&s.base));
    }
    let conf = s.json("/conformance", HR);
    let classes: Vec<&str> = conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in ["conf/core", "conf/geojson", "conf/oas30"] {
        assert!(classes.iter().any(|x| x.ends_with(c)), "{c}");
    }
    // Collections are the layers the role may see individually.
    let ids = |token: &str| -> Vec<String> {
        s.json("/collections", token)["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(HR), ["incidents", "bases", "sites"]);
    assert_eq!(
        ids(MIL),
        ["incidents", "sightings", "patrols", "bases", "sites"]
    );
    assert_eq!(ids(JMAC), ["incidents", "sightings", "bases", "sites"]);
    assert_eq!(ids(PARTNER), ["incidents", "sightings", "bases", "sites"]);
    let c = s.json("/collections/incidents", HR);
    assert_eq!(c["id"], "incidents");
    assert_eq!(c["itemType"], "feature");
    assert_eq!(
        c["storageCrs"],
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    );
    assert_eq!(c["crs"][0], "http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    let bbox = &c["extent"]["spatial"]["bbox"][0];
    assert_eq!(
        bbox[0], -179.5,
        "the hand-made incidents widen hr's extent: {bbox}"
    );
    assert!(c["extent"]["temporal"]["interval"][0][1]
        .as_str()
        .unwrap()
        .starts_with("2030-01-03"));
    assert!(link(&c, "items")
        .unwrap()
        .ends_with("/collections/incidents/items"));
    // The military does not see the restricted hr incidents, nor their extent.
    let c = s.json("/collections/incidents", MIL);
    assert!(c["extent"]["spatial"]["bbox"][0][0].as_f64().unwrap() > 10.0);
    s.get("/collections/nothing", Some(HR)).problem(404, None);
    s.get("/collections/patrols", Some(HR)).problem(403, None);
    s.get("/collections/patrols/items", Some(PARTNER))
        .problem(403, None);
    // Content negotiation.
    assert_eq!(s.get("/collections?f=json", Some(HR)).status, 200);
    s.get("/collections?f=html", Some(HR))
        .problem(400, Some("f"));
    s.get("/collections?colour=red", Some(HR))
        .problem(400, Some("colour"));
    let r = request(
        &s.addr,
        "GET",
        "/collections",
        Some(HR),
        &[("Accept", "text/html")],
        None,
    );
    r.problem(406, None);
    let r = request(
        &s.addr,
        "GET",
        "/collections",
        Some(HR),
        &[("Accept", "text/html,*/*;q=0.8")],
        None,
    );
    assert_eq!(r.status, 200);
    // The API document.
    let r = s.get("/api", Some(HR));
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/vnd.oai.openapi+json"));
    let api = r.json();
    assert!(api["openapi"].as_str().unwrap().starts_with("3.0"));
    let paths = api["paths"].as_object().unwrap();
    for p in [
        "/",
        "/conformance",
        "/collections",
        "/collections/incidents",
        "/collections/incidents/items",
        "/collections/incidents/items/{featureId}",
        "/analysis/hotspots",
        "/analysis/clusters",
        "/analysis/coverage",
        "/analysis/blindspots",
        "/api",
        "/health",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /api");
    }
    assert!(
        !paths.contains_key("/collections/patrols"),
        "hr sees no patrols"
    );
    let names = |p: &str| -> Vec<String> {
        paths[p]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect()
    };
    let items = names("/collections/incidents/items");
    for n in [
        "limit",
        "bbox",
        "datetime",
        "after",
        "before",
        "f",
        "category",
        "narrative",
    ] {
        assert!(items.contains(&n.to_string()), "{n}");
    }
    let hot = names("/analysis/hotspots");
    for n in [
        "cell-km", "kernel", "category", "from", "to", "bbox", "no-fdr",
    ] {
        assert!(hot.contains(&n.to_string()), "{n}");
    }
    assert!(
        !hot.contains(&"area".to_string()),
        "server file paths are not offered"
    );
    for (endpoint, want) in [
        (
            "/analysis/coverage",
            &[
                "cell-km",
                "grid",
                "h3-resolution",
                "from",
                "to",
                "bbox",
                "corridor-foot-km",
                "info-radius-km",
                "all-cells",
            ][..],
        ),
        (
            "/analysis/blindspots",
            &[
                "category",
                "weight",
                "min-risk",
                "likelihood-breaks",
                "max-presence",
                "cells",
                "kernel",
                "presence-half-life-days",
            ][..],
        ),
    ] {
        let got = names(endpoint);
        for n in want {
            assert!(got.contains(&n.to_string()), "{endpoint}: {n}");
        }
        assert!(
            !got.contains(&"area".to_string()),
            "{endpoint}: area offered"
        );
    }
    {
        let got = names("/analysis/impact");
        assert!(got.contains(&"window-days".to_string()) && !got.contains(&"area".to_string()));
        let f = paths["/analysis/impact"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "f")
            .unwrap();
        assert!(f["schema"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("csv")));
        assert!(
            paths["/analysis/impact"]["get"]["responses"]["200"]["content"]
                .get("text/csv")
                .is_some()
        );
    }
    // The military's document does not offer filters on what it may not see.
    let api = s.json("/api", MIL);
    let mil_items: Vec<&str> = api["paths"]["/collections/incidents/items"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(!mil_items.contains(&"narrative") && !mil_items.contains(&"source_name"));
}

#[test]
fn tokens_401_everywhere_but_health() {
    let (_dir, s, _) = setup("");
    let r = s.get("/health", None);
    assert_eq!(r.status, 200, "{}", r.text());
    for path in [
        "/",
        "/api",
        "/conformance",
        "/collections",
        "/collections/incidents/items",
        "/collections/incidents/items/zero",
        "/analysis/hotspots",
        "/analysis/coverage",
        "/analysis/blindspots",
        "/analysis/impact",
        "/no/such/path",
    ] {
        for token in [None, Some("wrong-secret"), Some("")] {
            let r = s.get(path, token);
            r.problem(401, None);
            assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
        }
        let r = request(
            &s.addr,
            "GET",
            path,
            None,
            &[("Authorization", "Basic aHI6aHI=")],
            None,
        );
        r.problem(401, None);
    }
    let r = s.post(
        "/collections/incidents/items",
        None,
        "application/geo+json",
        b"{}",
    );
    r.problem(401, None);
    // Known path, unknown route: 404 (after authentication); wrong method: 405.
    s.get("/no/such/path", Some(HR)).problem(404, None);
    let r = request(&s.addr, "DELETE", "/collections", Some(HR), &[], None);
    r.problem(405, None);
    // Every authenticated request is audited, without the secret.
    let audit = std::fs::read_to_string(_dir.path().join("audit.ndjson")).unwrap();
    assert!(audit.lines().count() >= 2);
    assert!(!audit.contains(HR) && !audit.contains("secret"));
    let last: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(last["token"], "hr-desk");
    assert_eq!(last["role"], "hr");
    for k in ["time", "endpoint", "params", "status", "returned"] {
        assert!(last.get(k).is_some(), "{k}");
    }
}

fn ids_of(doc: &Value) -> Vec<String> {
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn items_parameters_edge_cases_and_errors() {
    let (_dir, s, _) = setup("");
    let all = s.json("/collections/incidents/items?limit=10000", HR);
    let total = all["numberMatched"].as_u64().unwrap();
    assert_eq!(all["numberReturned"].as_u64().unwrap(), total);
    assert!(total > 300, "{total}");
    assert!(all["timeStamp"].is_string());
    let first = s.get("/collections/incidents/items", Some(HR));
    assert_eq!(first.header("content-type"), Some("application/geo+json"));
    let first = first.json();
    assert_eq!(first["type"], "FeatureCollection");
    assert_eq!(first["numberReturned"], 100, "default limit");
    assert!(link(&first, "next").is_some() && link(&first, "prev").is_none());
    assert!(link(&first, "self").is_some() && link(&first, "collection").is_some());
    for bad in ["0", "10001", "-1", "ten", "1.5", ""] {
        s.get(
            &format!("/collections/incidents/items?limit={}", enc(bad)),
            Some(HR),
        )
        .problem(400, Some("limit"));
    }
    // bbox, including across the antimeridian (min_lon > max_lon).
    let ids =
        |q: &str| ids_of(&s.json(&format!("/collections/incidents/items?limit=10000&{q}"), HR));
    assert_eq!(ids("bbox=179,0,-179,1"), ["am-east", "am-west"]);
    assert_eq!(ids("bbox=179,0,180,1"), ["am-east"]);
    assert_eq!(ids("bbox=-180,0,-179,1"), ["am-west"]);
    assert_eq!(ids("bbox=-1,-1,1,1"), ["zero"]);
    assert_eq!(
        ids("bbox=-1,-1,0,0,1,5"),
        ["zero"],
        "six numbers with heights"
    );
    let car = ids("bbox=14,3,22,9");
    assert_eq!(car.len() as u64, total - 3);
    for bad in [
        "1,2,3",
        "a,b,c,d",
        "0,1,1,0",
        "0,0,181,1",
        "0,-91,1,0",
        "nan,0,1,1",
        "1,2,3,4,5",
    ] {
        s.get(
            &format!("/collections/incidents/items?bbox={}", enc(bad)),
            Some(HR),
        )
        .problem(400, Some("bbox"));
    }
    // datetime: instant, day, closed and half-open intervals.
    assert_eq!(ids("datetime=2030-01-02T10:00:00Z"), ["am-west"]);
    assert_eq!(ids("datetime=2030-01-02"), ["am-west"]);
    assert_eq!(
        ids("datetime=2030-01-02T00:00:00Z/2030-01-03T23:00:00Z"),
        ["am-west", "zero"]
    );
    assert_eq!(ids("datetime=2030-01-02/.."), ["am-west", "zero"]);
    assert_eq!(ids("datetime=2030-01-02T10:00:01Z/"), ["zero"]);
    assert_eq!(ids("datetime=../2029-12-31").len() as u64, total - 3);
    assert_eq!(ids("datetime=/2029-12-31").len() as u64, total - 3);
    assert_eq!(ids("datetime=../..").len() as u64, total);
    for bad in [
        "2030-02-01/2030-01-01",
        "soon",
        "2030-13-01",
        "a/b/c",
        "..",
        "",
    ] {
        s.get(
            &format!("/collections/incidents/items?datetime={}", enc(bad)),
            Some(HR),
        )
        .problem(400, Some("datetime"));
    }
    // Property filters: equality, repeated for any of several.
    let abd = ids("category=abduction");
    assert!(abd.contains(&"zero".to_string()));
    for f in s.json(
        "/collections/incidents/items?limit=10000&category=abduction",
        HR,
    )["features"]
        .as_array()
        .unwrap()
    {
        assert_eq!(f["properties"]["category"], "abduction");
    }
    let both = ids("category=abduction&category=killing");
    assert!(both.len() > abd.len());
    assert_eq!(
        ids("category=abduction&bbox=-1,-1,1,1&datetime=2030-01-03"),
        ["zero"]
    );
    assert!(ids("category=no-such-category").is_empty());
    s.get("/collections/incidents/items?colour=red", Some(HR))
        .problem(400, Some("colour"));
    s.get("/collections/incidents/items?limit=5&limit=6", Some(HR))
        .problem(400, Some("limit"));
    s.get("/collections/incidents/items?after=a&before=b", Some(HR))
        .problem(400, Some("before"));
    // A property the role never sees cannot be used as a filter (no oracle).
    s.get("/collections/incidents/items?narrative=x", Some(MIL))
        .problem(400, Some("narrative"));
    s.get("/collections/incidents/items?source_name=x", Some(PARTNER))
        .problem(400, Some("source_name"));
    assert_eq!(
        s.get("/collections/incidents/items?narrative=x", Some(HR))
            .status,
        200
    );
    // Single features.
    let f = s.json("/collections/incidents/items/zero", HR);
    assert_eq!(f["id"], "zero");
    assert_eq!(f["type"], "Feature");
    assert!(link(&f, "self")
        .unwrap()
        .ends_with("/collections/incidents/items/zero"));
    assert!(link(&f, "collection").is_some());
    // Absent and not visible are the same 404.
    let absent = s.get("/collections/incidents/items/no-such-id", Some(MIL));
    absent.problem(404, None);
    let hidden = s.get("/collections/incidents/items/zero", Some(MIL));
    hidden.problem(404, None);
    assert_eq!(
        absent.json()["title"],
        hidden.json()["title"],
        "absent and hidden must look alike"
    );
    s.get("/collections/incidents/items/zero", Some(PARTNER))
        .problem(404, None);
    s.get("/collections/patrols/items/x", Some(HR))
        .problem(403, None);
    let odd = s.get("/collections/incidents/items/%E2%9C%93%20x", Some(HR));
    odd.problem(404, None);
}

#[test]
fn paging_visits_every_feature_exactly_once_even_while_data_changes() {
    let (dir, s, store) = setup("");
    let all = ids_of(&s.json("/collections/incidents/items?limit=10000", HR));
    let sorted: Vec<String> = all
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(all, sorted, "items come in id order without duplicates");
    assert_eq!(walk(&s, "/collections/incidents/items?limit=7", HR), all);
    // With a filter.
    let filtered = ids_of(&s.json(
        "/collections/incidents/items?limit=10000&category=killing",
        HR,
    ));
    assert_eq!(
        walk(
            &s,
            "/collections/incidents/items?limit=3&category=killing",
            HR
        ),
        filtered
    );
    // Backwards through prev links from the last page.
    let mut doc = s.json("/collections/incidents/items?limit=9", HR);
    while let Some(n) = link(&doc, "next") {
        doc = s.json(&path_of(n), HR);
    }
    let mut back: Vec<String> = ids_of(&doc);
    while let Some(p) = link(&doc, "prev") {
        doc = s.json(&path_of(p), HR);
        let mut ids = ids_of(&doc);
        ids.extend(back);
        back = ids;
    }
    assert_eq!(back, all);
    // Other features are added (before and after the cursor) and changed
    // while a client pages: every feature that existed throughout is seen once.
    let mut seen = Vec::new();
    let mut next = Some("/collections/incidents/items?limit=25".to_string());
    let mut round = 0;
    while let Some(p) = next {
        let doc = s.json(&p, HR);
        seen.extend(ids_of(&doc));
        next = link(&doc, "next").map(path_of);
        round += 1;
        if round == 3 {
            let extra: Vec<Value> = ["aaa-new", "mid-new", "zzz-new"]
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let mut f = common::incident(9000 + i);
                    f["id"] = json!(id);
                    f
                })
                .collect();
            let fc = common::write_fc(dir.path(), "more.geojson", &extra);
            cli(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a feature was returned twice");
    for id in &all {
        assert!(unique.contains(id), "{id} was skipped");
    }
}

#[test]
fn ingest_over_http_is_all_or_nothing_with_every_problem_listed() {
    let (dir, s, _) = setup("[limits]\ningest_body_bytes = 200000\n");
    let before = s.json("/collections/incidents/items?limit=1", HR)["numberMatched"]
        .as_u64()
        .unwrap();
    let good = |i: usize| {
        let mut f = common::incident(20_000 + i);
        f["id"] = json!(format!("http-{i}"));
        f
    };
    let mut bad1 = good(1);
    bad1["properties"]["category"] = json!("not-a-category");
    let mut bad3 = good(3);
    bad3["geometry"] = json!({"type": "Point", "coordinates": [500, 0]});
    bad3["properties"]["killed_men"] = json!(-2);
    let fc =
        json!({"type": "FeatureCollection", "features": [good(0), bad1, good(2), bad3, good(4)]});
    let body = serde_json::to_vec(&fc).unwrap();
    let r = s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        &body,
    );
    let p = r.problem(400, None);
    assert!(
        p["detail"].as_str().unwrap().contains("nothing was stored"),
        "{p}"
    );
    let errors = p["errors"].as_array().unwrap();
    let indices: BTreeSet<u64> = errors
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, BTreeSet::from([1, 3]), "{p}");
    for e in errors {
        assert!(
            e["field"].is_string() && e["reason"].is_string() && e["id"].is_string(),
            "{e}"
        );
    }
    let fields: BTreeSet<&str> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains("category") && fields.contains("killed_men"),
        "{fields:?}"
    );
    let after = s.json("/collections/incidents/items?limit=1", HR)["numberMatched"]
        .as_u64()
        .unwrap();
    assert_eq!(after, before, "nothing stored");
    s.get("/collections/incidents/items/http-0", Some(HR))
        .problem(404, None);
    // A valid FeatureCollection, then a single Feature that updates one of them.
    let fc = json!({"type": "FeatureCollection", "features": [good(0), good(2)]});
    let r = s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        &serde_json::to_vec(&fc).unwrap(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v, json!({"layer": "incidents", "read": 2, "accepted": 2}));
    let mut changed = good(2);
    changed["properties"]["category"] = json!("killing");
    let r = s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/json; charset=utf-8",
        &serde_json::to_vec(&changed).unwrap(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // A replacement answers like a creation: no created/updated split.
    assert_eq!(
        r.json(),
        json!({"layer": "incidents", "read": 1, "accepted": 1})
    );
    assert_eq!(
        s.json("/collections/incidents/items/http-2", HR)["properties"]["category"],
        "killing"
    );
    assert_eq!(
        s.json("/collections/incidents/items?limit=1", HR)["numberMatched"]
            .as_u64()
            .unwrap(),
        before + 2
    );
    // Rights: the token's ingest list decides, per layer.
    let body = serde_json::to_vec(&good(5)).unwrap();
    s.post(
        "/collections/incidents/items",
        Some(HR_READER),
        "application/geo+json",
        &body,
    )
    .problem(403, None);
    s.post(
        "/collections/incidents/items",
        Some(MIL),
        "application/geo+json",
        &body,
    )
    .problem(403, None);
    s.post(
        "/collections/bases/items",
        Some(HR),
        "application/geo+json",
        &body,
    )
    .problem(403, None);
    s.post(
        "/collections/nothing/items",
        Some(HR),
        "application/geo+json",
        &body,
    )
    .problem(404, None);
    // Media type, syntax, emptiness, size.
    s.post(
        "/collections/incidents/items",
        Some(HR),
        "text/plain",
        &body,
    )
    .problem(415, None);
    s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        b"{\"type\": \"Feature\", ",
    )
    .problem(400, None);
    s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        b"[1, 2]",
    )
    .problem(400, None);
    s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        br#"{"type":"FeatureCollection","features":[]}"#,
    )
    .problem(400, None);
    let big = vec![b' '; 300_000];
    s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        &big,
    )
    .problem(413, None);
    // Rejected features never stay on disk.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("reject"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn analysis_endpoints_parse_like_the_cli_and_cache_until_an_ingest() {
    let (dir, s, _) = setup("");
    let path = "/analysis/hotspots?cell-km=10&permutations=0&category=killing,abduction";
    let t = std::time::Instant::now();
    let a = s.get(path, Some(HR));
    assert_eq!(a.status, 200, "{}", a.text());
    let first = t.elapsed();
    assert_eq!(a.header("content-type"), Some("application/geo+json"));
    let v = a.json();
    assert_eq!(v["type"], "FeatureCollection");
    assert_eq!(v["jointmap"]["analysis"], "hotspots");
    let events = v["jointmap"]["events"].as_u64().unwrap();
    assert!(events > 0);
    // Same parameters in another order and spelling: the cached bytes.
    let t = std::time::Instant::now();
    let b = s.get(
        "/analysis/hotspots?category=killing,abduction&permutations=0&cell-km=10.0&f=json",
        Some(HR),
    );
    assert_eq!(b.body, a.body);
    // Large layers are also kept gzip-compressed, for clients that ask.
    let z = request(
        &s.addr,
        "GET",
        path,
        Some(HR),
        &[("Accept-Encoding", "gzip, br")],
        None,
    );
    assert_eq!(z.header("content-encoding"), Some("gzip"));
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&z.body[..]), &mut plain).unwrap();
    assert_eq!(plain, a.body);
    assert!(a.header("content-encoding").is_none());
    eprintln!("first {first:?}, cached {:?}", t.elapsed());
    // Errors name the parameter.
    for (q, name) in [
        ("cell-km=abc", "cell-km"),
        ("cell-km=-1", "cell-km"),
        ("kernel=box", "kernel"),
        ("grid=hex", "grid"),
        ("colour=red", "colour"),
        ("area=/etc/passwd", "area"),
        ("no-fdr=maybe", "no-fdr"),
        ("from=yesterday", "from"),
        ("layer=nothing", "layer"),
        ("permutations=100000", "permutations"),
        ("cell-km=0.01", "cell-km"),
        ("weight=bogus", "weight"),
    ] {
        s.get(&format!("/analysis/hotspots?{q}"), Some(HR))
            .problem(400, Some(name));
    }
    s.get("/analysis/clusters?eps-km=0", Some(HR))
        .problem(400, Some("eps-km"));
    s.get("/analysis/clusters?min-points=x", Some(HR))
        .problem(400, Some("min-points"));
    // Individual event points only for roles with the layer in full.
    let c = s.get(
        "/analysis/clusters?eps-km=20&min-points=3&points=true",
        Some(HR),
    );
    assert_eq!(c.status, 200, "{}", c.text());
    s.get("/analysis/clusters?points=true", Some(PARTNER))
        .problem(400, Some("points"));
    let c = s.get("/analysis/clusters?eps-km=20&min-points=3", Some(PARTNER));
    assert_eq!(c.status, 200, "{}", c.text());
    // An ingest changes the data version: the cached layer is not served again.
    let more: Vec<Value> = (0..5)
        .map(|i| {
            let mut f = common::incident(30_000 + i);
            f["id"] = json!(format!("new-{i}"));
            f["properties"]["category"] = json!("killing");
            f["properties"]["classification"] = json!("mission");
            f
        })
        .collect();
    let body = serde_json::to_vec(&json!({"type": "FeatureCollection", "features": more})).unwrap();
    let r = s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        &body,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let after = s.json(path, HR);
    assert_eq!(after["jointmap"]["events"].as_u64().unwrap(), events + 5);
    // And through the CLI, behind the server's back.
    let more: Vec<Value> = (5..7)
        .map(|i| {
            let mut f = common::incident(30_000 + i);
            f["id"] = json!(format!("new-{i}"));
            f["properties"]["category"] = json!("abduction");
            f
        })
        .collect();
    let fc = common::write_fc(dir.path(), "cli.geojson", &more);
    cli(
        &dir.path().join("demo.gpkg"),
        &["ingest", "incidents", fc.to_str().unwrap()],
    );
    let after = s.json(path, HR);
    assert_eq!(after["jointmap"]["events"].as_u64().unwrap(), events + 7);
}

#[test]
fn limits_shutdown_and_configuration() {
    let (dir, mut s, store) = setup("[limits]\nbody_bytes = 1000\nmax_headers = 20\n");
    // Headers beyond the limit.
    let many: Vec<(String, String)> = (0..40).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let r = request(&s.addr, "GET", "/collections", Some(HR), &refs, None);
    assert_eq!(r.status, 431, "{}", r.text());
    let huge = "x".repeat(64 * 1024);
    let r = request(
        &s.addr,
        "GET",
        "/collections",
        Some(HR),
        &[("X-Big", &huge)],
        None,
    );
    assert_eq!(r.status, 431);
    // Garbage on the wire never takes the server down.
    for junk in [
        &b"\x00\x01\x02\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
    ] {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let _ = c.write_all(junk);
        let mut sink = Vec::new();
        let _ = c.read_to_end(&mut sink);
    }
    assert_eq!(s.get("/health", None).status, 200);
    // Bodies on non-ingest routes are limited too.
    let r = request(
        &s.addr,
        "GET",
        "/collections",
        Some(HR),
        &[],
        Some(&vec![b'x'; 200_000]),
    );
    assert!(r.status == 413 || r.status == 200, "{}", r.status);
    // Graceful stop on SIGTERM.
    let status = s.stop();
    assert!(status.success(), "{status:?}");
    assert!(s.log.lock().unwrap().iter().any(|l| l.contains("stopped")));
    // Configuration errors are named, exit code 2.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"nowhere\"\n").unwrap();
    let o = bin()
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("listen"));
    std::fs::write(
        &bad,
        "[[tokens]]\nname = \"a\"\nrole = \"admin\"\nsha256 = \"00\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    std::fs::write(&bad, "unknown_key = 1\n").unwrap();
    let o = bin()
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = bin()
        .args(["serve", "--store"])
        .arg(dir.path().join("missing.gpkg"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // Environment overrides: listen address and page size.
    let cfg = api_config(dir.path(), &store, "");
    let s2 = Server::start_with(
        &cfg,
        &[("JOINTMAP_PAGE_LIMIT", "7"), ("JOINTMAP_PAGE_MAX", "50")],
    );
    let doc = s2.json("/collections/incidents/items", HR);
    assert_eq!(doc["numberReturned"], 7);
    s2.get("/collections/incidents/items?limit=51", Some(HR))
        .problem(400, Some("limit"));
    // `jointmap token` prints a fresh secret and its hash.
    let o = bin()
        .args(["token", "--role", "jmac", "--name", "desk"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("role = \"jmac\"") && text.contains("sha256 = \""));
}

/// Layers larger than `view_max_features` are paged from the store per
/// request (by keyset on the id, one feature by key) instead of held in
/// memory: the answers are the same, but for `numberMatched`, which only a
/// held layer gives (counting would read the whole layer).
#[test]
fn scanned_layers_answer_like_held_ones() {
    let dir = TempDir::new().unwrap();
    let store = store(dir.path(), 300);
    let held = Server::start(&api_config(dir.path(), &store, ""));
    let sub = dir.path().join("scan");
    std::fs::create_dir(&sub).unwrap();
    let scanned = Server::start(&api_config(
        &sub,
        &store,
        "[cache]\nview_max_features = 50\n",
    ));
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("timeStamp");
        v.as_object_mut().unwrap().remove("links");
        v.as_object_mut().unwrap().remove("numberMatched");
        v
    };
    for (token, q) in [
        (HR, "limit=10000"),
        (HR, "limit=7&after=inc-000100"),
        (HR, "limit=5&before=inc-000100"),
        (HR, "bbox=179,0,-179,1"),
        (MIL, "limit=50&category=killing&datetime=2025-01-01/.."),
        (PARTNER, "limit=10000&bbox=16,4,19,7"),
    ] {
        let path = format!("/collections/incidents/items?{q}");
        let (h, s) = (held.json(&path, token), scanned.json(&path, token));
        assert!(h["numberMatched"].is_u64() && s.get("numberMatched").is_none());
        // The same links, but for the host.
        let rels = |v: &Value| -> Vec<(String, String)> {
            v["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let href = l["href"].as_str().unwrap();
                    let at = href.find("/collections").unwrap();
                    (
                        l["rel"].as_str().unwrap().to_string(),
                        href[at..].to_string(),
                    )
                })
                .collect()
        };
        assert_eq!(rels(&h), rels(&s), "{q}");
        assert_eq!(strip(h), strip(s), "{q}");
    }
    assert_eq!(
        walk(&scanned, "/collections/incidents/items?limit=11", MIL),
        walk(&held, "/collections/incidents/items?limit=11", MIL)
    );
    let one = "/collections/incidents/items/zero";
    assert_eq!(strip(held.json(one, HR)), strip(scanned.json(one, HR)));
    scanned.get(one, Some(MIL)).problem(404, None);
    let ext =
        |s: &Server| s.json("/collections/incidents", MIL)["extent"]["spatial"]["bbox"][0].clone();
    assert!(ext(&scanned).is_array() && ext(&held).is_array());
}

/// A sum over the features of a numeric property.
fn sum(doc: &Value, name: &str) -> f64 {
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["properties"][name].as_f64())
        .sum()
}

/// `/analysis/coverage` and `/analysis/blindspots`: every parameter class,
/// coarsening, the patrol delay on the window end, limits, named errors,
/// and caching until an ingest.
#[test]
fn presence_and_blind_spot_endpoints_every_parameter_delay_and_cache() {
    let (dir, s, _) = setup("");
    let bbox = "bbox=15.5,4.2,21,7.8";
    let now = chrono::Utc::now();
    let cutoff = now - chrono::Duration::hours(72);
    let time = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("{v}")))
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    // Coverage: window, grid, presence parameters, all cells.
    let q = format!(
        "/analysis/coverage?{bbox}&from=2025-07-01&to=2025-12-31&cell-km=12&corridor-foot-km=1\
         &corridor-vehicle-km=4&corridor-air-km=8&corridor-boat-km=2&presence-half-life-days=20\
         &info-radius-km=3&all-cells=true"
    );
    let r = s.get(&q, Some(MIL));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/geo+json"));
    let cov = r.json();
    let j = &cov["jointmap"];
    assert_eq!(j["analysis"], "coverage");
    assert_eq!(j["from"], "2025-07-01T00:00:00Z");
    assert_eq!(j["to"], "2025-12-31T23:59:59Z");
    assert_eq!(
        j["corridor_m"],
        json!({"foot": 1000.0, "vehicle": 4000.0, "air": 8000.0, "boat": 2000.0})
    );
    assert_eq!(j["half_life_days"], 20.0);
    assert_eq!(j["info_radius_m"], 3000.0);
    assert_eq!(j["grid"]["cell_m"], 12_000.0);
    // Every cell written; those under k withheld, and counted.
    let cells = j["cells"].as_u64().unwrap();
    assert_eq!(
        cov["features"].as_array().unwrap().len() as u64 + j["suppressed"].as_u64().unwrap(),
        cells
    );
    assert!(j["patrols_used"].as_u64().unwrap() > 0 && j["bases_active"].as_u64().unwrap() > 0);
    // Cells with enough patrols and reports behind them are shown.
    assert!(sum(&cov, "visits") > 0.0, "no patrolled cell shown");
    for f in cov["features"].as_array().unwrap() {
        let p = &f["properties"];
        let c = p["count"].as_u64().unwrap();
        assert!(c == 0 || c >= 5, "{f}");
        if p["reports"].as_u64().unwrap() > 0
            && p.get("count_sensitive")
                .is_none_or(|s| s.as_u64() != Some(0))
        {
            assert!(c >= 10, "{f}");
        }
        assert!(
            p.get("base_name").is_none() && p.get("base_id").is_none(),
            "{f}"
        );
    }
    // Coarsened to 10 km for every role (no role sees all four layers in full).
    for token in [HR, MIL, JMAC, PARTNER] {
        let c = s.json(
            &format!("/analysis/coverage?{bbox}&cell-km=2&to=2025-12-31"),
            token,
        );
        assert_eq!(c["jointmap"]["grid"]["cell_m"], 10_000.0);
        let c = s.json(
            &format!("/analysis/coverage?{bbox}&grid=h3&h3-resolution=9&to=2025-12-31"),
            token,
        );
        assert_eq!(
            c["jointmap"]["grid"],
            json!({"type": "h3", "resolution": 5})
        );
    }
    // The patrol delay cuts the window for every role but the military,
    // given or not: the hand-made incidents of 2030 are admitted, but the
    // default end stops at the cutoff.
    let c = s.json(&format!("/analysis/coverage?{bbox}&to=2030-01-05"), MIL);
    assert_eq!(c["jointmap"]["to"], "2030-01-05T23:59:59Z");
    // The default end comes from data released to the role: the hand-made
    // incidents of 2030 are fewer than k in their week, so they do not move
    // it (the end of the latest week with a released group does).
    let b = s.json(&format!("/analysis/blindspots?{bbox}"), MIL);
    let to = time(&b["jointmap"]["window"]["to"]);
    assert!(to.year() < 2030, "{to}");
    // The end of a whole step: a Sunday, 23:59:59.
    assert_eq!(to.weekday(), chrono::Weekday::Sun, "{to}");
    assert_eq!(to.format("%H:%M:%S").to_string(), "23:59:59");
    for token in [HR, JMAC, PARTNER] {
        let c = s.json(&format!("/analysis/coverage?{bbox}&to=2030-01-05"), token);
        let to = time(&c["jointmap"]["to"]);
        assert!(
            to <= cutoff && to > cutoff - chrono::Duration::hours(2),
            "{to}"
        );
        let b = s.json(&format!("/analysis/blindspots?{bbox}"), token);
        let to = time(&b["jointmap"]["window"]["to"]);
        assert!(
            to <= cutoff && to > cutoff - chrono::Duration::hours(2),
            "{to}"
        );
        // An end before the cutoff is kept (to the end of its 13-week step:
        // these roles see patrols only aggregated).
        let c = s.json(&format!("/analysis/coverage?{bbox}&to=2025-06-30"), token);
        assert_eq!(c["jointmap"]["to"], "2025-07-27T23:59:59Z");
    }
    // Blind spots: incident filter, grid, presence and threat parameters.
    let q = format!(
        "/analysis/blindspots?{bbox}&from=2025-01-01&to=2025-12-31&category=killing,abduction,looting-burning\
         &min-verification=reported&min-precision=district&weight=casualties&kernel=gaussian&bandwidth-km=15\
         &threat-half-life-days=40&sighting-factor=0.3&likelihood-breaks=0.5,1,2,4&site-radius-km=3\
         &min-risk=medium&max-presence=0.4&info-margin-km=12&hotspot-bonus=2&cells=true&corridor-foot-km=1\
         &cell-km=15"
    );
    let bs = s.json(&q, HR);
    let j = &bs["jointmap"];
    assert_eq!(j["analysis"], "blindspots");
    assert_eq!(j["window"]["from"], "2025-01-01T00:00:00Z");
    assert_eq!(j["grid"]["cell_km"], 15.0);
    let p = &j["parameters"];
    assert_eq!(p["min_risk"], "medium");
    assert_eq!(p["max_presence"], 0.4);
    assert_eq!(p["info_margin_km"], 12.0);
    assert_eq!(p["hotspot_bonus"], 2.0);
    assert_eq!(p["threat"]["kernel"], "gaussian");
    assert_eq!(p["threat"]["bandwidth_km"], 15.0);
    assert_eq!(p["threat"]["half_life_days"], 40.0);
    assert_eq!(p["threat"]["sighting_factor"], 0.3);
    assert_eq!(
        p["threat"]["likelihood_breaks"],
        json!([0.5, 1.0, 2.0, 4.0])
    );
    assert_eq!(p["threat"]["site_radius_km"], 3.0);
    assert_eq!(p["presence"]["corridor_km"]["foot"], 1.0);
    let kinds: BTreeSet<&str> = bs["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains("cell"), "{kinds:?}");
    // The gate: no base named, no small count, for every role.
    for token in [HR, MIL, JMAC, PARTNER] {
        let b = s.json(
            &format!("/analysis/blindspots?{bbox}&to=2025-12-31&cells=true&min-risk=low"),
            token,
        );
        for f in b["features"].as_array().unwrap() {
            let p = f["properties"].as_object().unwrap();
            assert!(
                p.keys()
                    .all(|k| !k.starts_with("nearest_base") && !k.starts_with("base_")),
                "{f}"
            );
            let c = p["count"].as_u64().unwrap();
            assert!(c == 0 || c >= 5, "{f}");
            if p["count_sensitive"].as_u64().unwrap() > 0 {
                assert!(c >= 10, "{f}");
            }
        }
    }
    // Bad values: 400 naming the parameter (parsed or checked by the analysis).
    for (q, name) in [
        ("cell-km=abc", "cell-km"),
        ("cell-km=-1", "cell-km"),
        ("cell-km=0.01", "cell-km"),
        ("grid=hex", "grid"),
        ("h3-resolution=12&grid=h3", "h3-resolution"),
        ("h3-resolution=99&grid=h3", "h3-resolution"),
        ("from=yesterday", "from"),
        ("to=tomorrow", "to"),
        ("from=2025-12-01&to=2025-01-01", "from"),
        ("bbox=1,2,3", "bbox"),
        ("corridor-foot-km=-1", "corridor-foot-km"),
        ("corridor-air-km=wide", "corridor-air-km"),
        ("info-radius-km=-3", "info-radius-km"),
        ("all-cells=perhaps", "all-cells"),
        ("area=/etc/passwd", "area"),
        ("layer=incidents", "layer"),
        ("f=csv", "f"),
        ("colour=red", "colour"),
    ] {
        s.get(&format!("/analysis/coverage?{bbox}&{q}"), Some(MIL))
            .problem(400, Some(name));
    }
    for (q, name) in [
        ("category=", "category"),
        ("weight=bogus", "weight"),
        ("min-verification=rumour", "min-verification"),
        ("min-risk=dire", "min-risk"),
        ("max-presence=2", "max-presence"),
        ("max-presence=lots", "max-presence"),
        ("likelihood-breaks=1,2", "likelihood-breaks"),
        ("likelihood-breaks=4,3,2,1", "likelihood-breaks"),
        ("bandwidth-km=0", "bandwidth-km"),
        ("sighting-factor=-1", "sighting-factor"),
        ("site-radius-km=-1", "site-radius-km"),
        ("info-margin-km=-1", "info-margin-km"),
        ("hotspot-bonus=0.5", "hotspot-bonus"),
        ("kernel=box", "kernel"),
        ("cells=maybe", "cells"),
        ("area=/etc/passwd", "area"),
        ("permutations=9", "permutations"),
    ] {
        let r = s.get(
            &format!("/analysis/blindspots?{bbox}&to=2025-12-31&{q}"),
            Some(PARTNER),
        );
        if name == "category" && r.status == 200 {
            continue; // an empty list is no filter
        }
        r.problem(400, Some(name));
    }
    // Cached by normalised parameters until an ingest.
    let path =
        format!("/analysis/blindspots?{bbox}&from=2025-01-01&to=2025-12-31&cells=true&cell-km=10");
    let a = s.get(&path, Some(HR));
    assert_eq!(a.status, 200);
    let b = s.get(&format!("/analysis/blindspots?cells=true&cell-km=10.0&to=2025-12-31&{bbox}&from=2025-01-01&f=json"), Some(HR));
    assert_eq!(a.body, b.body);
    // hr asked for 5 km: coarsened, the same entry as 10 km.
    let c = s.get(
        &format!("/analysis/blindspots?{bbox}&from=2025-01-01&to=2025-12-31&cells=true&cell-km=5"),
        Some(HR),
    );
    assert_eq!(a.body, c.body);
    let cov_path = format!("/analysis/coverage?{bbox}&from=2025-01-01&to=2025-12-31");
    let cov_before = s.json(&cov_path, JMAC);
    let before = a.json();
    let more: Vec<Value> = (0..12)
        .map(|i| {
            let mut f = common::incident(40_000 + i);
            f["id"] = json!(format!("cluster-{i}"));
            f["geometry"]["coordinates"] = json!([17.305, 5.305]);
            // One week (Monday 3 to Sunday 9 November): one group of 12,
            // released whole to roles that see incidents only aggregated.
            f["properties"]["time_start"] =
                json!(format!("2025-11-{:02}T{:02}:00:00Z", 3 + i % 7, 8 + i));
            f["properties"]["category"] = json!("killing");
            f
        })
        .collect();
    let body = serde_json::to_vec(&json!({"type": "FeatureCollection", "features": more})).unwrap();
    let r = s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        &body,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let after = s.json(&path, HR);
    assert_ne!(after, before);
    assert!(
        sum(&after, "incidents") >= sum(&before, "incidents") + 12.0,
        "{} -> {}",
        sum(&before, "incidents"),
        sum(&after, "incidents")
    );
    let cov_after = s.json(&cov_path, JMAC);
    assert_eq!(
        cov_after["jointmap"]["reports_used"].as_u64().unwrap(),
        cov_before["jointmap"]["reports_used"].as_u64().unwrap() + 12
    );
    // Every request was audited with the features it returned.
    let audit = std::fs::read_to_string(dir.path().join("audit.ndjson")).unwrap();
    let last: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(last["endpoint"], "GET /analysis/coverage");
    assert_eq!(last["role"], "jmac");
}

/// `/analysis/impact`: parameters, the CSV table of the gated result,
/// anonymous labels for bases the caller may not see, named errors, cache.
#[test]
fn impact_endpoint_parameters_csv_and_base_labels() {
    let (_dir, s, _) = setup("");
    let bbox = "bbox=15.5,4.2,21,7.8";
    let q = format!(
        "/analysis/impact?{bbox}&from=2024-03-01&to=2025-12-31&window-days=45&cell-km=12\
         &corridor-vehicle-km=6&weight=count"
    );
    // A category filter would split the groups incidents are released in
    // to roles that see them only aggregated: refused for them, not for hr.
    let cat = format!("{q}&category=killing,abduction,looting-burning");
    for token in [MIL, JMAC, PARTNER] {
        s.get(&cat, Some(token)).problem(400, Some("category"));
    }
    assert_eq!(s.get(&cat, Some(HR)).status, 200);
    let r = s.get(&q, Some(MIL));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/geo+json"));
    let v = r.json();
    let j = &v["jointmap"];
    assert_eq!(j["analysis"], "impact");
    assert_eq!(j["window_days"], 45);
    // Widened to whole steps (13 weeks from Monday 1970-01-05) for the
    // military, who sees incidents only aggregated.
    assert_eq!(j["period"]["from"], "2024-01-29T00:00:00Z");
    assert!(j["caution"].as_str().unwrap().contains("not proof"));
    let table = j["table"].as_array().unwrap();
    assert!(!table.is_empty());
    assert!(j["suppressed"].is_u64());
    // Treated cells show where one patrol first went: only the military,
    // who sees patrols one by one, gets those of patrols.
    let treated = |v: &Value, prefix: &str| {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["properties"]["group"]
                    .as_str()
                    .is_some_and(|g| g.starts_with(prefix))
            })
            .count()
    };
    assert!(treated(&v, "patrol:") > 0, "{v}");
    // The military sees every base: groups keep their ids and names.
    assert!(table
        .iter()
        .any(|r| r["kind"] == "base" && r["name"].as_str().unwrap().starts_with("TOB")));
    // The same table as CSV, from the same gated result.
    let c = s.get(&format!("{q}&f=csv"), Some(MIL));
    assert_eq!(c.status, 200, "{}", c.text());
    assert!(c.header("content-type").unwrap().starts_with("text/csv"));
    let text = c.text();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("group,kind,key,name,cells,"));
    assert_eq!(lines.count(), table.len());
    let c2 = s.get(&format!("{q}&f=CSV"), Some(MIL));
    assert_eq!(c2.body, c.body);
    // Hr sees the mission's bases but not the force's temporary ones: those
    // groups get anonymous labels, in the table, the CSV and the cells.
    for token in [HR, JMAC, PARTNER] {
        let v = s.json(&q, token);
        assert_eq!(treated(&v, "patrol:"), 0, "{v}");
        let text = s.get(&format!("{q}&f=csv"), Some(token)).text();
        assert!(!text.contains("TOB") && !text.contains("SCD"), "{text}");
        let body = v.to_string();
        assert!(!body.contains("TOB") && !body.contains("SCD"));
        assert!(!body.contains("base-031") && !body.contains("base-040"));
        let labelled = v["jointmap"]["table"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["key"].as_str().unwrap().starts_with('#'))
            .count();
        assert!(labelled > 0, "{body}");
        for r in v["jointmap"]["table"].as_array().unwrap() {
            let c = r["count"].as_u64().unwrap();
            assert!(c == 0 || c >= 5, "{r}");
        }
    }
    let p = s.json(&q, PARTNER);
    assert!(
        !p.to_string().contains("Markounda team site"),
        "mission bases are not for partners"
    );
    // Coarsened and delayed like the others.
    let v = s.json(
        &format!("/analysis/impact?{bbox}&cell-km=2&from=2024-03-01&to=2030-01-05"),
        HR,
    );
    let to = chrono::DateTime::parse_from_rfc3339(v["jointmap"]["period"]["to"].as_str().unwrap())
        .unwrap();
    assert!(to.with_timezone(&chrono::Utc) <= chrono::Utc::now() - chrono::Duration::hours(72));
    // Errors name the parameter.
    for (q, name) in [
        ("window-days=0", "window-days"),
        ("window-days=x", "window-days"),
        ("from=2025-12-20&to=2025-12-31", "from"),
        ("f=xml", "f"),
        ("area=/etc/passwd", "area"),
        ("cell-km=0.1", "cell-km"),
        ("grid=h3&h3-resolution=10", "h3-resolution"),
        ("weight=bogus", "weight"),
        ("min-risk=high", "min-risk"),
    ] {
        s.get(&format!("/analysis/impact?{bbox}&{q}"), Some(HR))
            .problem(400, Some(name));
    }
    // Cached: JSON and CSV are separate entries, each served again as it was.
    let a = s.get(&q, Some(HR));
    let b = s.get(&format!("{q}&f=json"), Some(HR));
    assert_eq!(a.body, b.body);
}
