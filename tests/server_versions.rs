//! A role's products must not date the writes it may not see. The store's
//! data version advances with every batch, of any record: a partner polling
//! a hotspot layer that carried it would learn when hr ingested, even of
//! records it is never shown. Attacked from outside: a partner's answers
//! before and after an hr ingest of records hidden from it are compared
//! byte for byte, and every answer is searched for the version.

mod common;
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use tempfile::TempDir;

/// The analyses a partner may ask for, with small cells so that a change
/// would show.
const ANALYSES: [&str; 3] = [
    "/analysis/hotspots?cell-km=5&permutations=99",
    "/analysis/clusters?eps-km=5&min-points=3",
    "/analysis/coverage",
];

/// Every value of `v` called `data_version`, wherever it sits.
fn versions(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "data_version" {
                    out.push(x.clone());
                }
                versions(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| versions(x, out)),
        _ => {}
    }
}

/// The answer without the gate's clock, which moves on its own (by the
/// hour): anything else that differs came from the data.
fn answer(s: &Server, path: &str, token: &str) -> Value {
    let mut v = s.json(path, token);
    if let Some(g) = v
        .pointer_mut("/jointmap/gate")
        .and_then(Value::as_object_mut)
    {
        g.remove("now_unix_s");
    }
    v
}

#[test]
fn a_partners_products_do_not_date_hidden_writes() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    // Public, partner-consented incidents in a few towns: a partner sees
    // their aggregates.
    let seen: Vec<Value> = (0..120)
        .map(|i| {
            let mut f = common::incident(i);
            f["geometry"]["coordinates"] = json!([
                17.0 + (i % 3) as f64 * 0.5 + (i % 7) as f64 * 0.002,
                5.0 + (i % 5) as f64 * 0.003
            ]);
            f["properties"]["classification"] = json!("public");
            f["properties"]["consent"] = json!("partners");
            f
        })
        .collect();
    let input = common::write_fc(dir.path(), "seen.geojson", &seen);
    let o = common::run(&store, &["ingest", "incidents", input.to_str().unwrap()]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let s = Server::start(&config(dir.path(), &store, ""));
    let before: Vec<Value> = ANALYSES.iter().map(|p| answer(&s, p, PARTNER)).collect();
    // hr ingests records a partner may not see, not even counted in an
    // aggregate (no consent to any use beyond hr: `none`), inside the
    // partner's towns and far from them.
    for (n, at) in [[17.0, 5.0], [17.5, 5.01], [22.0, 8.0]].iter().enumerate() {
        let mut f = common::incident(900 + n);
        f["id"] = json!(format!("hidden-canary-{n}"));
        f["geometry"]["coordinates"] = json!(at);
        f["properties"]["classification"] = json!("strictly-confidential");
        f["properties"]["consent"] = json!("none");
        let r = s.post(
            "/collections/incidents/items",
            Some(HR),
            "application/geo+json",
            &serde_json::to_vec(&json!({"type": "FeatureCollection", "features": [f]})).unwrap(),
        );
        assert!(r.status < 300, "hr ingest: {} {}", r.status, r.text());
    }
    for (path, was) in ANALYSES.iter().zip(&before) {
        let now = answer(&s, path, PARTNER);
        assert!(
            now == *was,
            "{path}: a partner's answer changed after writes it may not see"
        );
        let mut found = Vec::new();
        versions(&now, &mut found);
        assert!(
            found.is_empty(),
            "{path}: a partner's answer carries {found:?}"
        );
        assert!(!now.to_string().contains("hidden-canary"), "{path}");
    }
    // hr sees the writes, in the data; its answers do not carry the
    // counter either (every server answer is made for a role).
    let hr = answer(&s, ANALYSES[0], HR);
    let mut found = Vec::new();
    versions(&hr, &mut found);
    assert!(found.is_empty(), "hr's answer carries {found:?}");
}
