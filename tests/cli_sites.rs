//! The sites layer (civilian sites, the vulnerability layer) through the binary:
//! committed sample up to date, demo loads it, ingest/export with derived
//! defaults, named problems.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use tempfile::TempDir;

#[test]
fn committed_sites_sample_matches_the_generator() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("demo");
    let o = bin()
        .args([
            "--quiet",
            "demo",
            "--incidents",
            "1000",
            "--no-store",
            "--write-geojson",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
    let fresh = std::fs::read(out.join("sites.geojson")).unwrap();
    let kept = std::fs::read(committed.join("sites.geojson")).unwrap();
    assert!(
        fresh == kept,
        "data/demo/sites.geojson is stale: regenerate it (see data/README.md)"
    );
    let total: u64 = std::fs::read_dir(&committed)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total < 1024 * 1024, "data/demo is {total} bytes");
}

#[test]
fn demo_loads_sites_with_their_defaults() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("d.gpkg");
    let o = bin()
        .arg("--store")
        .arg(&store)
        .args(["demo", "--incidents", "1000"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("sites"));
    let n = count(&store, "sites");
    assert!((120..=180).contains(&n), "{n} sites");
    let out = run(&store, &["export", "sites"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let feats = features_of(&out.stdout);
    assert_eq!(feats.len() as u64, n);
    for f in &feats {
        let p = &f["properties"];
        let v = p["vulnerability"].as_i64().expect("vulnerability derived");
        let e = p["exposure"].as_f64().expect("exposure derived");
        assert!((1..=5).contains(&v) && e > 0.0 && e <= 1.0, "{f}");
        assert!(p["owner"].is_string() && p["classification"].is_string());
    }
    let idp: Vec<&Value> = feats
        .iter()
        .filter(|f| f["properties"]["site_type"] == "idp-site")
        .collect();
    assert!((6..=10).contains(&idp.len()));
    assert!(idp.iter().all(|f| f["properties"]["vulnerability"] == 5));
}

#[test]
fn sites_ingest_export_and_named_problems() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let good = vec![
        json!({"type": "Feature", "id": "site-a",
          "geometry": {"type": "Point", "coordinates": [20.66, 5.77]},
          "properties": {"time_start": "2024-01-01", "name": "Bambari IDP site", "site_type": "IDP site",
            "population": 12000, "camp_ref": "B-1"}}),
        json!({"type": "Feature", "id": "site-b",
          "geometry": {"type": "MultiPolygon", "coordinates": [[[[18.0, 5.0], [18.02, 5.0], [18.02, 5.02], [18.0, 5.0]]]]},
          "properties": {"time_start": "2024-01-01", "time_end": "2024-06-30", "name": "Market",
            "site_type": "market", "exposure": 0.5, "vulnerability": 4, "classification": "public"}}),
    ];
    let file = write_fc(dir.path(), "sites.geojson", &good);
    let o = run(&store, &["ingest", "site", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = run(&store, &["export", "sites"]);
    let got = features_of(&out.stdout);
    assert_eq!(got.len(), 2);
    let a = &got[0]["properties"];
    assert_eq!(a["site_type"], "idp-site");
    assert_eq!(a["vulnerability"], 5);
    assert_eq!(a["exposure"], 1.0);
    assert_eq!(a["owner"], "mission");
    assert_eq!(a["classification"], "mission");
    assert_eq!(a["camp_ref"], "B-1");
    assert!(a.get("time_end").is_none());
    let b = &got[1]["properties"];
    assert_eq!(
        (b["vulnerability"].clone(), b["exposure"].clone()),
        (json!(4), json!(0.5))
    );
    assert_eq!(b["classification"], "public");
    // Still there without an end: found by a window long after it opened.
    let late = run(
        &store,
        &[
            "export",
            "sites",
            "--from",
            "2025-06-01",
            "--to",
            "2025-06-30",
        ],
    );
    let ids: Vec<Value> = features_of(&late.stdout)
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    assert_eq!(ids, [json!("site-a")]);

    // Bad values are refused with their field named; the store is unchanged.
    let before = std::fs::read(&store).unwrap();
    let bad = [
        json!({"type": "Feature", "id": "bad-1", "geometry": {"type": "Point", "coordinates": [18.0, 5.0]},
          "properties": {"time_start": "2024-01-01", "name": "X"}}),
        json!({"type": "Feature", "id": "bad-2", "geometry": {"type": "Point", "coordinates": [18.0, 5.0]},
          "properties": {"time_start": "2024-01-01", "name": "X", "site_type": "camp"}}),
        json!({"type": "Feature", "id": "bad-3", "geometry": {"type": "Point", "coordinates": [18.0, 5.0]},
          "properties": {"time_start": "2024-01-01", "name": "X", "site_type": "village", "vulnerability": 6}}),
        json!({"type": "Feature", "id": "bad-4", "geometry": {"type": "Point", "coordinates": [18.0, 5.0]},
          "properties": {"time_start": "2024-01-01", "name": "X", "site_type": "village", "exposure": 1.5}}),
        json!({"type": "Feature", "id": "bad-5", "geometry": {"type": "LineString", "coordinates": [[18.0, 5.0], [18.1, 5.0]]},
          "properties": {"time_start": "2024-01-01", "name": "X", "site_type": "village"}}),
    ];
    // Newline-delimited, so that each reject (which embeds its feature verbatim) is one line.
    let file = dir.path().join("bad.ndjson");
    let text: Vec<String> = bad.iter().map(Value::to_string).collect();
    std::fs::write(&file, text.join("\n")).unwrap();
    let rejects = dir.path().join("rejects.ndjson");
    let o = run(
        &store,
        &[
            "ingest",
            "sites",
            file.to_str().unwrap(),
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read(&store).unwrap(), before);
    let lines: Vec<Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let fields: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap_or_default().to_string(),
                l["problems"][0]["field"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let want = [
        ("bad-1", "site_type"),
        ("bad-2", "site_type"),
        ("bad-3", "vulnerability"),
        ("bad-4", "exposure"),
        ("bad-5", "geometry"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(fields, want, "{}", stderr(&o));
}
