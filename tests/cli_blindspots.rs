//! Whole-flow tests of `jointmap coverage`, `jointmap blindspots` and
//! `jointmap impact` on the demo mission.

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

/// Runs a command with `threads` rayon threads; returns stdout.
fn with_threads(store: &Path, threads: &str, args: &[&str]) -> Vec<u8> {
    let o = bin()
        .env("RAYON_NUM_THREADS", threads)
        .arg("--store")
        .arg(store)
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    o.stdout
}

#[test]
fn blindspots_are_ranked_and_thread_count_independent() {
    let dir = TempDir::new().unwrap();
    let store = demo_store(dir.path());
    let args = ["blindspots", "--cells"];
    let one = with_threads(&store, "1", &args);
    let two = with_threads(&store, "2", &args);
    assert!(one == two, "results depend on the thread count");
    let v: Value = serde_json::from_slice(&one).unwrap();
    let meta = &v["jointmap"];
    assert_eq!(meta["analysis"], "blindspots");
    assert_eq!(meta["parameters"]["min_risk"], "high");
    let feats = v["features"].as_array().unwrap();
    let threat: Vec<&Value> = feats
        .iter()
        .filter(|f| f["properties"]["kind"] == "threat")
        .collect();
    let info: Vec<&Value> = feats
        .iter()
        .filter(|f| f["properties"]["kind"] == "information")
        .collect();
    let cells: Vec<&Value> = feats
        .iter()
        .filter(|f| f["properties"]["kind"] == "cell")
        .collect();
    assert!(!threat.is_empty(), "the demo mission has blind spots");
    assert_eq!(meta["threat_blindspots"], threat.len());
    assert_eq!(meta["information_blindspots"], info.len());
    let mut last = f64::INFINITY;
    for (i, f) in threat.iter().enumerate() {
        let p = &f["properties"];
        assert_eq!(p["rank"], i + 1);
        assert_eq!(f["id"], format!("T{}", i + 1));
        let pr = p["priority"].as_f64().unwrap();
        assert!(pr <= last, "ranked by priority");
        last = pr;
        assert!(["high", "extreme"].contains(&p["risk_level"].as_str().unwrap()));
        assert!(p["area_km2"].as_f64().unwrap() > 0.0);
        assert_eq!(f["geometry"]["type"], "MultiPolygon");
        assert_eq!(
            p["count"],
            p["incidents"].as_u64().unwrap() + p["sightings"].as_u64().unwrap()
        );
        assert!(p["nearest_base_km"].as_f64().is_some());
    }
    // Every blind cell of the surface lies in a threat blind spot and is high risk with low presence.
    let blind: Vec<&&Value> = cells
        .iter()
        .filter(|c| c["properties"]["blind"] == true)
        .collect();
    let cells_in_spots: u64 = threat
        .iter()
        .map(|f| f["properties"]["cells"].as_u64().unwrap())
        .sum();
    assert_eq!(blind.len() as u64, cells_in_spots);
    for c in blind {
        assert!(c["properties"]["risk"].as_u64().unwrap() >= 10);
        assert!(c["properties"]["presence"].as_f64().unwrap() < 0.5);
    }
}

#[test]
fn coverage_surface_is_bounded_and_thread_count_independent() {
    let dir = TempDir::new().unwrap();
    let store = demo_store(dir.path());
    let args = ["coverage", "--cell-km", "10"];
    let one = with_threads(&store, "1", &args);
    let two = with_threads(&store, "2", &args);
    assert!(one == two, "results depend on the thread count");
    let v: Value = serde_json::from_slice(&one).unwrap();
    let feats = v["features"].as_array().unwrap();
    assert!(!feats.is_empty());
    let mut based = 0;
    for f in feats {
        let p = &f["properties"];
        let presence = p["presence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&presence));
        if p["base_id"].is_string() {
            based += 1;
            assert_eq!(presence, 1.0);
        }
    }
    assert!(based > 0, "the demo's open bases cover cells");
}

#[test]
fn bad_parameters_are_named() {
    let dir = TempDir::new().unwrap();
    let store = demo_store(dir.path());
    for (args, name) in [
        (vec!["blindspots", "--max-presence", "0"], "max-presence"),
        (
            vec!["blindspots", "--likelihood-breaks", "3,2,1,0"],
            "likelihood-breaks",
        ),
        (vec!["blindspots", "--min-risk", "dire"], "min-risk"),
        (
            vec!["blindspots", "--from", "2025-12-01", "--to", "2025-01-01"],
            "from",
        ),
        (
            vec!["coverage", "--corridor-foot-km=-1"],
            "corridor-foot-km",
        ),
        (vec!["coverage", "--cell-km", "0"], "cell-km"),
    ] {
        let o = run(&store, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(name), "{args:?}: {}", stderr(&o));
    }
    // Comma-separated breaks, as the help says.
    let o = run(&store, &["blindspots", "--likelihood-breaks", "0.5,1,2,4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["jointmap"]["parameters"]["threat"]["likelihood_breaks"],
        serde_json::json!([0.5, 1.0, 2.0, 4.0])
    );
}

#[test]
fn impact_table_in_geojson_and_csv_agree() {
    let dir = TempDir::new().unwrap();
    let store = demo_store(dir.path());
    let csv = dir.path().join("impact.csv");
    let args = ["impact", "--csv", csv.to_str().unwrap()];
    let one = with_threads(&store, "1", &args);
    let two = with_threads(&store, "2", &args);
    assert!(one == two, "results depend on the thread count");
    let v: Value = serde_json::from_slice(&one).unwrap();
    let meta = &v["jointmap"];
    assert_eq!(meta["analysis"], "impact");
    assert!(meta["caution"].as_str().unwrap().contains("not proof"));
    let table = meta["table"].as_array().unwrap();
    assert!(!table.is_empty(), "the demo has patrol and base onsets");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("group,kind,key,name,cells,unmatched,before,after,spanning,"));
    assert_eq!(lines.len(), table.len() + 1);
    for (row, line) in table.iter().zip(&lines[1..]) {
        assert!(
            line.starts_with(&format!("{},", row["group"].as_str().unwrap())),
            "{line}"
        );
        let before: u64 = line.split(',').nth(6).unwrap().parse().unwrap();
        assert_eq!(before, row["before"].as_u64().unwrap());
        let spanning: u64 = line.split(',').nth(8).unwrap().parse().unwrap();
        assert_eq!(spanning, row["spanning"].as_u64().unwrap());
    }
    // Each group's counts are the sums over its matched treated cells.
    for row in table {
        let g = row["group"].as_str().unwrap();
        let (mut b, mut a) = (0, 0);
        for f in v["features"].as_array().unwrap() {
            let p = &f["properties"];
            if p["group"] == g && !p["control_before"].is_null() {
                b += p["before"].as_u64().unwrap();
                a += p["after"].as_u64().unwrap();
            }
        }
        assert_eq!(
            (b, a),
            (
                row["before"].as_u64().unwrap(),
                row["after"].as_u64().unwrap()
            ),
            "{g}"
        );
    }
    let o = run(&store, &["impact", "--window-days", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("window-days"), "{}", stderr(&o));
}
