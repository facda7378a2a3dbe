//! `jointmap rerun`: every product, re-run from nothing but its `jointmap`
//! member, is the same file byte for byte; a changed store or
//! configuration is refused by name.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn demo_store(dir: &Path) -> PathBuf {
    let store = dir.join("demo.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    store
}

/// Runs `args` writing `out`, and returns the product.
fn make(store: &Path, out: &Path, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    let out_s = out.to_str().unwrap();
    all.extend(["-o", out_s]);
    let o = run(store, &all);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

/// Re-runs `product` into `out`; returns the process output.
fn rerun(store: &Path, product: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut all = vec![
        "rerun",
        product.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    all.extend(extra);
    run(store, &all)
}

fn assert_same(store: &Path, product: &Path, extra: &[&str]) {
    let again = product.with_extension("again.geojson");
    let o = rerun(store, product, &again, extra);
    assert!(o.status.success(), "{}: {}", product.display(), stderr(&o));
    let (a, b) = (
        std::fs::read(product).unwrap(),
        std::fs::read(&again).unwrap(),
    );
    assert!(
        a == b,
        "{}: the re-run differs\n{}\n{}",
        product.display(),
        String::from_utf8_lossy(&a[..a.len().min(2000)]),
        String::from_utf8_lossy(&b[..b.len().min(2000)])
    );
}

#[test]
fn every_product_reruns_byte_for_byte() {
    let dir = TempDir::new().unwrap();
    let store = demo_store(dir.path());
    let area = dir.path().join("area.geojson");
    std::fs::write(
        &area,
        r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":
        [[[15.2,4.1],[18.3,4.3],[18.1,7.2],[15.6,6.9],[15.2,4.1]]]}}"#,
    )
    .unwrap();
    let area_s = area.to_str().unwrap();
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("hotspots", vec!["hotspots", "--cell-km", "10"]),
        (
            "hotspots-area",
            vec![
                "hotspots",
                "--area",
                area_s,
                "--grid",
                "h3",
                "--h3-resolution",
                "6",
                "--weight",
                "people-affected",
                "--to",
                "2025-06-30",
                "--knn",
                "6",
            ],
        ),
        ("clusters", vec!["clusters", "--eps-km", "15", "--points"]),
        (
            "st-dbscan",
            vec![
                "clusters",
                "--method",
                "st-dbscan",
                "--eps-days",
                "10",
                "--from",
                "2025-01-01",
            ],
        ),
        ("coverage", vec!["coverage", "--cell-km", "10"]),
        (
            "blindspots",
            vec!["blindspots", "--cells", "--category", "killing,abduction"],
        ),
        (
            "impact",
            vec!["impact", "--cell-km", "10", "--area", area_s],
        ),
        ("hotspots-partner", vec!["hotspots", "--as-role", "partner"]),
        ("coverage-jmac", vec!["coverage", "--as-role", "jmac"]),
        (
            "blindspots-military",
            vec!["blindspots", "--as-role", "military"],
        ),
    ];
    let mut products = Vec::new();
    for (name, args) in &runs {
        let out = dir.path().join(format!("{name}.geojson"));
        let v = make(&store, &out, args);
        let meta = &v["jointmap"];
        assert!(meta["request"].is_object(), "{name}: no request recorded");
        // A role's product records no store version: it would date writes
        // the role may not see.
        assert_eq!(
            meta["data_version"].as_u64().is_some(),
            !args.contains(&"--as-role"),
            "{name}"
        );
        assert!(meta.get("gate").is_some(), "{name}");
        if !args.contains(&"--as-role") {
            assert!(
                !v["features"].as_array().unwrap().is_empty(),
                "{name}: an empty product proves little"
            );
        }
        products.push(out);
    }
    // Time-dependent defaults are recorded resolved: the window of every
    // surface product, the gate's "now" of every role's product.
    let cov: Value = serde_json::from_slice(&std::fs::read(&products[4]).unwrap()).unwrap();
    let req = &cov["jointmap"]["request"];
    assert!(req["from"].is_string() && req["to"].is_string(), "{req}");
    assert_eq!(cov["jointmap"]["applied"]["window"][1], req["to"]);
    assert!(cov["jointmap"]["applied"]["projection_centre"].is_array());
    let partner: Value = serde_json::from_slice(&std::fs::read(&products[7]).unwrap()).unwrap();
    assert_eq!(partner["jointmap"]["gate"]["role"], "partner");
    assert!(partner["jointmap"]["gate"]["now_unix_s"].is_i64());
    // The area file is recorded in full: the re-run does not need it.
    std::fs::remove_file(&area).unwrap();
    for p in &products {
        assert_same(&store, p, &[]);
    }
}

#[test]
fn rerun_refuses_changed_data_and_configuration() {
    let dir = TempDir::new().unwrap();
    let store = demo_store(dir.path());
    let hot = dir.path().join("hot.geojson");
    let before = make(&store, &hot, &["hotspots", "--cell-km", "10"]);

    // A configuration: re-run only with the same file.
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[access]\ntime_step_days = 7\n").unwrap();
    let gated = dir.path().join("gated.geojson");
    let cfg_s = cfg.to_str().unwrap();
    make(
        &store,
        &gated,
        &["coverage", "--as-role", "partner", "--config", cfg_s],
    );
    let out = dir.path().join("out.geojson");
    let o = rerun(&store, &gated, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--config"), "{}", stderr(&o));
    assert_same(&store, &gated, &["--config", cfg_s]);
    std::fs::write(&cfg, "[access]\ntime_step_days = 14\n").unwrap();
    let o = rerun(&store, &gated, &out, &["--config", cfg_s]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("SHA-256"), "{}", stderr(&o));
    let o = rerun(&store, &hot, &out, &["--config", cfg_s]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // Not a product.
    let junk = dir.path().join("junk.geojson");
    std::fs::write(&junk, r#"{"type":"FeatureCollection","features":[]}"#).unwrap();
    let o = rerun(&store, &junk, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("jointmap"), "{}", stderr(&o));

    // New data: refused by name, accepted when asked, and then different.
    let extra = write_fc(dir.path(), "new.geojson", &[incident(1)]);
    let o = run(&store, &["ingest", "incidents", extra.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = rerun(&store, &hot, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("data version"), "{}", stderr(&o));
    let o = rerun(&store, &hot, &out, &["--allow-data-change"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        after["jointmap"]["events"].as_u64().unwrap(),
        before["jointmap"]["events"].as_u64().unwrap() + 1
    );
    assert_eq!(
        after["jointmap"]["data_version"].as_u64().unwrap(),
        before["jointmap"]["data_version"].as_u64().unwrap() + 1
    );
}
