//! Several servers on one PostGIS store: what one server writes, every other
//! one serves within a second, with its caches dropped; a killed ingest leaves
//! the whole batch or none (tests/cli_crash.rs).
//!
//! Runs when `JOINTMAP_TEST_PG` names a PostgreSQL server
//! (`tools/pg-test-cluster.sh start`).

mod common;
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use std::path::Path;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// `n` incidents from `common::incident`, moved to `[lon, lat]` and renamed
/// `prefix-<i>`.
fn incidents_at(prefix: &str, n: usize, lon: f64, lat: f64) -> Value {
    let features: Vec<Value> = (0..n)
        .map(|i| {
            let mut f = common::incident(i);
            f["id"] = json!(format!("{prefix}-{i}"));
            f["geometry"]["coordinates"] = json!([lon + i as f64 * 1e-4, lat]);
            f
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

/// The number of events a hotspots answer counted, over its cells.
fn counted(answer: &Value) -> u64 {
    answer["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|c| c["properties"]["count"].as_u64())
        .sum()
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn an_ingest_through_one_server_is_served_by_the_other_within_a_second() {
    let dir = TempDir::new().unwrap();
    let store = common::postgis_store("scaleout");
    let store = Path::new(&store);
    let first = dir.path().join("first.geojson");
    std::fs::write(&first, incidents_at("base", 300, 18.0, 5.0).to_string()).unwrap();
    cli(store, &["ingest", "incidents", first.to_str().unwrap()]);
    let cfg = config(dir.path(), store, "");
    let a = Server::start(&cfg);
    let b = Server::start(&cfg);

    // B answers and caches an analysis and a tile.
    let path = "/analysis/hotspots?cell-km=10&permutations=0";
    let before = b.json(path, HR);
    assert_eq!(counted(&before), 300, "{before}");
    assert_eq!(b.json(path, HR), before, "a cached answer is the same");
    let tile = "/tiles/incidents/6/35/31.mvt";
    let tile_before = b.get(tile, Some(HR));
    assert_eq!(tile_before.status, 200, "{}", tile_before.text());
    let etag_before = tile_before.header("etag").expect("an ETag").to_string();
    assert_eq!(
        b.get("/collections/incidents/items/new-0", Some(HR)).status,
        404
    );

    // Written through A.
    let r = a.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        incidents_at("new", 40, 18.3, 5.2).to_string().as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let written = Instant::now();

    // B serves the new data within a second: the analysis, the item, the tile.
    let mut seen = None;
    while written.elapsed() < Duration::from_secs(1) {
        let now = b.json(path, HR);
        if counted(&now) == 340 {
            seen = Some(now);
            break;
        }
        assert_eq!(now, before, "either the old answer or the new one");
        std::thread::sleep(Duration::from_millis(10));
    }
    let after = seen.unwrap_or_else(|| panic!("B still answers as before 1 s after the write"));
    assert_eq!(
        b.json("/collections/incidents/items/new-0", HR)["id"],
        "new-0"
    );
    let tile_after = b.get(tile, Some(HR));
    assert_eq!(tile_after.status, 200);
    assert_ne!(tile_after.header("etag"), Some(etag_before.as_str()));
    assert!(
        written.elapsed() < Duration::from_secs(1),
        "{:?}",
        written.elapsed()
    );
    // And the same again from A, which wrote it.
    assert_eq!(a.json(path, HR), after);

    // A write by another process (the CLI) reaches both servers too.
    let more = dir.path().join("more.geojson");
    std::fs::write(&more, incidents_at("cli", 10, 18.6, 5.4).to_string()).unwrap();
    cli(store, &["ingest", "incidents", more.to_str().unwrap()]);
    let written = Instant::now();
    for s in [&a, &b] {
        while counted(&s.json(path, HR)) != 350 {
            assert!(
                written.elapsed() < Duration::from_secs(1),
                "a CLI ingest unseen after 1 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
