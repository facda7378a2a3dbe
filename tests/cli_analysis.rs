//! Whole-flow tests of `jointmap hotspots` and `jointmap clusters`.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use tempfile::TempDir;

fn demo_store(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("demo.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    store
}

fn json_of(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("GeoJSON output")
}

#[test]
fn hotspots_layer_is_reported_and_thread_count_independent() {
    let dir = TempDir::new().unwrap();
    let store = demo_store(dir.path());
    let args = ["hotspots", "--cell-km", "10", "--weight", "people-affected"];
    let one = bin()
        .env("RAYON_NUM_THREADS", "1")
        .arg("--store")
        .arg(&store)
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap();
    let two = bin()
        .env("RAYON_NUM_THREADS", "2")
        .arg("--store")
        .arg(&store)
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap();
    assert!(
        one.stdout == two.stdout,
        "results depend on the thread count"
    );
    let v = json_of(&one);
    let meta = &v["jointmap"];
    assert_eq!(meta["analysis"], "hotspots");
    assert_eq!(meta["events"], 3000);
    assert!(meta["bandwidth_m"].as_f64().unwrap() > 0.0);
    let feats = v["features"].as_array().unwrap();
    assert!(!feats.is_empty());
    // Every cell with events is written, with its event count (whatever the weight).
    let counted: u64 = feats
        .iter()
        .map(|f| f["properties"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted + meta["events_outside_area"].as_u64().unwrap(),
        3000
    );
    assert!(feats
        .iter()
        .all(|f| f["properties"]["count_sensitive"].as_u64().unwrap()
            <= f["properties"]["count"].as_u64().unwrap()));
    let hot = feats
        .iter()
        .filter(|f| {
            f["properties"]["class"]
                .as_str()
                .unwrap()
                .starts_with("hot")
        })
        .count();
    assert!(hot > 0, "a clustered scenario has hot spots");
    for f in feats {
        assert_eq!(f["geometry"]["type"], "Polygon");
        let p = &f["properties"];
        assert!(p["gi_z"].is_number() && p["density_km2"].is_number(), "{p}");
    }
    // H3 and filters.
    let v = json_of(&run(
        &store,
        &[
            "hotspots",
            "--grid",
            "h3",
            "--h3-resolution",
            "5",
            "--category",
            "killing,abduction",
            "--min-precision",
            "settlement",
        ],
    ));
    assert_eq!(v["jointmap"]["grid"]["type"], "h3");
    assert!(v["jointmap"]["events"].as_u64().unwrap() < 3000);
}

#[test]
fn clusters_layers_are_separate_files() {
    let dir = TempDir::new().unwrap();
    let store = demo_store(dir.path());
    let out = dir.path().join("c.geojson");
    let o = run(
        &store,
        &[
            "clusters",
            "--eps-km",
            "5",
            "--min-points",
            "8",
            "--points",
            "--centroids",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |name: &str| -> Value {
        let text = std::fs::read(dir.path().join(name)).expect(name);
        serde_json::from_slice(&text).expect("GeoJSON")
    };
    let (hulls, points, centres) = (
        read("c.geojson"),
        read("c-points.geojson"),
        read("c-centroids.geojson"),
    );
    let feats = |v: &Value| v["features"].as_array().unwrap().clone();
    let types = |v: &Value| -> Vec<String> {
        let mut t: Vec<String> = feats(v)
            .iter()
            .map(|f| f["geometry"]["type"].as_str().unwrap().to_owned())
            .collect();
        t.dedup();
        t
    };
    // One geometry type per layer; centres are Point geometries, not properties.
    assert_eq!(types(&hulls), vec!["Polygon"]);
    assert_eq!(types(&points), vec!["Point"]);
    assert_eq!(types(&centres), vec!["Point"]);
    assert_eq!(points["jointmap"]["features"], "points");
    let clusters = feats(&hulls);
    assert!(!clusters.is_empty());
    assert_eq!(feats(&centres).len(), clusters.len());
    for (h, c) in clusters.iter().zip(feats(&centres)) {
        assert!(h["properties"].get("centroid").is_none());
        assert_eq!(h["properties"]["cluster"], c["properties"]["cluster"]);
        assert_eq!(h["properties"]["count"], c["properties"]["count"]);
    }
    let points = feats(&points);
    assert_eq!(points.len(), 3000);
    let members: u64 = clusters
        .iter()
        .map(|c| c["properties"]["count"].as_u64().unwrap())
        .sum();
    let labelled = points
        .iter()
        .filter(|p| p["properties"]["cluster"].as_i64().unwrap() >= 0)
        .count() as u64;
    assert_eq!(members, labelled);
    assert_eq!(
        hulls["jointmap"]["noise"].as_u64().unwrap(),
        3000 - labelled
    );
    assert_eq!(hulls["jointmap"]["eps_chosen"]["method"], "given");
    // Cluster polygons never list member ids.
    for c in &clusters {
        assert!(c["properties"].get("members").is_none());
    }
    // No radius given: chosen from the data, reported in the output and on stderr.
    let o = bin()
        .arg("--store")
        .arg(&store)
        .arg("clusters")
        .output()
        .unwrap();
    let v = json_of(&o);
    let chosen = &v["jointmap"]["eps_chosen"];
    assert!(
        chosen["method"]
            .as_str()
            .unwrap()
            .starts_with("kneedle on the sorted k-distance curve, then the chaining check"),
        "{chosen}"
    );
    // min_points from the layer size: max(5, round(ln 3000)) = 8, recorded.
    assert_eq!(chosen["k"], 8);
    assert_eq!(v["jointmap"]["min_points"], 8);
    assert_eq!(
        v["jointmap"]["min_points_rule"],
        "max(5, round(ln(events)))"
    );
    assert_eq!(v["jointmap"]["request"]["min-points"], "auto");
    assert_eq!(chosen["max_share"], 0.25);
    let eps = v["jointmap"]["eps_m"].as_f64().unwrap();
    assert!(eps > 0.0 && eps < 50_000.0, "{eps}");
    assert!(
        stderr(&o).contains("chosen from the data"),
        "{}",
        stderr(&o)
    );
    let n = v["jointmap"]["clusters"].as_u64().unwrap();
    assert!(n > 1, "{n} clusters");
    // HDBSCAN through the same product path.
    let h = json_of(&run(
        &store,
        &[
            "clusters",
            "--method",
            "hdbscan",
            "--min-cluster-size",
            "15",
        ],
    ));
    assert_eq!(h["jointmap"]["clustering"]["method"], "hdbscan");
    assert_eq!(h["jointmap"]["clustering"]["min_samples"], 15);
    assert!(h["jointmap"]["clusters"].as_u64().unwrap() > 1);
    let st = json_of(&run(
        &store,
        &[
            "clusters",
            "--method",
            "st-dbscan",
            "--eps-km",
            "10",
            "--eps-days",
            "7",
            "--min-points",
            "5",
        ],
    ));
    assert_eq!(st["jointmap"]["clustering"]["method"], "st-dbscan");
}

#[test]
fn bad_analysis_parameters_are_named() {
    let dir = TempDir::new().unwrap();
    let store = demo_store(dir.path());
    for (args, want) in [
        (vec!["hotspots", "--cell-km", "0"], "cell-km"),
        (
            vec!["hotspots", "--category", "kiling"],
            "parameter `category`",
        ),
        (
            vec!["hotspots", "--min-verification", "sure"],
            "min-verification",
        ),
        (vec!["hotspots", "--weight", "bodies"], "parameter `weight`"),
        (
            vec!["hotspots", "--grid", "h3", "--h3-resolution", "16"],
            "resolution",
        ),
        (vec!["clusters", "--eps-km=-1"], "eps-km"),
        (
            vec!["clusters", "--method", "hdbscan", "--min-cluster-size", "1"],
            "min_cluster_size",
        ),
        (vec!["hotspots", "--layer", "patrols"], "not point events"),
        (vec!["hotspots", "--from", "2030-01-01"], "no events match"),
    ] {
        let o = run(&store, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

#[test]
#[cfg_attr(
    not(jointmap_shared_data),
    ignore = "../shared/data/ucdp-ged-23.1-car.geojson is absent"
)]
fn ucdp_events_give_hotspots_and_clusters() {
    let ged =
        shared_data("ucdp-ged-23.1-car.geojson").expect("../shared/data/ucdp-ged-23.1-car.geojson");
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("ged.gpkg");
    assert!(run(
        &store,
        &[
            "ingest",
            "incidents",
            ged.to_str().unwrap(),
            "--preset",
            "ucdp-ged"
        ]
    )
    .status
    .success());
    let v = json_of(&run(
        &store,
        &[
            "hotspots",
            "--cell-km",
            "25",
            "--weight",
            "fatalities",
            "--min-precision",
            "district",
        ],
    ));
    assert!(v["features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["properties"]["class"] == "hot-99"));
    // Same partition as scikit-learn's golden run (checked per event in the library tests).
    let c = json_of(&run(
        &store,
        &["clusters", "--eps-km", "25", "--min-points", "10"],
    ));
    assert_eq!(c["jointmap"]["clusters"], 41);
    assert_eq!(c["jointmap"]["noise"], 339);
}
