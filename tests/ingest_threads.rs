//! Ingest gives the same store, the same rejects and the same first error
//! whatever the thread count (`RAYON_NUM_THREADS`): validation runs in
//! parallel, the writer takes the results in input order.

mod common;

use common::*;
use rusqlite::types::Value as Sql;
use rusqlite::Connection;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use tempfile::TempDir;

const THREADS: [&str; 3] = ["1", "2", "4"];

fn ingest(threads: &str, store: &Path, args: &[&str]) -> Output {
    bin()
        .env("RAYON_NUM_THREADS", threads)
        .arg("--store")
        .arg(store)
        .arg("--quiet")
        .args(["ingest", "incidents"])
        .args(args)
        .output()
        .expect("run jointmap")
}

/// Every row of `sql`, every column, as SQLite holds it.
fn rows(store: &Path, sql: &str) -> Vec<Vec<Sql>> {
    let conn = Connection::open(store).expect("open store");
    let mut stmt = conn.prepare(sql).expect("prepare");
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| (0..n).map(|i| r.get::<_, Sql>(i)).collect())
        .expect("query");
    rows.collect::<rusqlite::Result<_>>().expect("rows")
}

/// What must be identical: the layer's rows, the R-tree index (entries and
/// nodes), and the history without its wall-clock time.
fn snapshot(store: &Path) -> Vec<Vec<Vec<Sql>>> {
    [
        "SELECT * FROM incidents ORDER BY fid",
        "SELECT * FROM rtree_incidents_geom ORDER BY id",
        "SELECT * FROM rtree_incidents_geom_node ORDER BY nodeno",
        "SELECT layer, id, feature, replaced_by, change FROM jointmap_history ORDER BY rowid",
    ]
    .iter()
    .map(|sql| rows(store, sql))
    .collect()
}

/// The seeded demo's incidents as a file.
fn demo(dir: &Path, n: usize) -> PathBuf {
    let out = bin()
        .args([
            "--quiet",
            "demo",
            "--seed",
            "16",
            "--no-store",
            "--incidents",
        ])
        .arg(n.to_string())
        .arg("--write-geojson")
        .arg(dir)
        .output()
        .expect("run demo");
    assert!(out.status.success(), "{}", stderr(&out));
    dir.join("incidents.geojson")
}

#[test]
fn every_thread_count_stores_the_same_bytes() {
    let dir = TempDir::new().unwrap();
    let first = demo(dir.path(), 12_000);
    // A second batch replacing some records (history) and adding others.
    let again: Vec<Value> = (0..3000).map(incident).collect();
    let second = write_fc(dir.path(), "second.geojson", &again);
    let mut snapshots = Vec::new();
    for t in THREADS {
        let store = dir.path().join(format!("s{t}.gpkg"));
        for file in [&first, &second, &first] {
            let o = ingest(t, &store, &[file.to_str().unwrap()]);
            assert!(o.status.success(), "{t} threads: {}", stderr(&o));
        }
        let s = snapshot(&store);
        assert_eq!(s[0].len(), 15_000);
        assert_eq!(s[1].len(), 15_000);
        let check: String = Connection::open(&store)
            .unwrap()
            .query_row("SELECT rtreecheck('rtree_incidents_geom')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(check, "ok");
        snapshots.push(s);
    }
    for (t, s) in THREADS.iter().zip(&snapshots).skip(1) {
        assert!(*s == snapshots[0], "{t} threads differ from 1");
    }
}

/// Exit code and message of the refused ingest, its rejects file, then exit
/// code and stored rows of the same input with `--skip-invalid`.
type Outcome = (Option<i32>, String, String, Option<i32>, String);

#[test]
fn every_thread_count_reports_the_same_first_error_and_rejects() {
    let dir = TempDir::new().unwrap();
    let mut feats: Vec<Value> = (0..20_000).map(incident).collect();
    // Faults spread over several chunks: an enum, a duplicate id, a count,
    // a geometry.
    feats[4100]["properties"]["category"] = "not-a-category".into();
    feats[9000]["id"] = feats[8999]["id"].clone();
    feats[13_000]["properties"]["killed_men"] = (-3).into();
    feats[19_999]["geometry"]["coordinates"] = serde_json::json!([400.0, 4.0]);
    let file = write_fc(dir.path(), "bad.geojson", &feats);
    let mut seen: Vec<Outcome> = Vec::new();
    for t in THREADS {
        let store = dir.path().join(format!("s{t}.gpkg"));
        let rejects = dir.path().join(format!("r{t}.ndjson"));
        let o = ingest(
            t,
            &store,
            &[
                file.to_str().unwrap(),
                "--rejects",
                rejects.to_str().unwrap(),
            ],
        );
        let err = stderr(&o).replace(&format!("r{t}.ndjson"), "REJECTS");
        let refused = std::fs::read_to_string(&rejects).expect("rejects");
        assert_eq!(refused.lines().count(), 4, "{t} threads");
        // With --skip-invalid the other 19,996 are stored, the same way.
        let skip = ingest(
            t,
            &store,
            &[
                file.to_str().unwrap(),
                "--skip-invalid",
                "--rejects",
                rejects.to_str().unwrap(),
            ],
        );
        assert_eq!(count(&store, "incidents"), 19_996, "{t} threads");
        seen.push((
            o.status.code(),
            err,
            refused,
            skip.status.code(),
            format!("{:?}", rows(&store, "SELECT * FROM incidents ORDER BY fid")),
        ));
    }
    assert_eq!(seen[0].0, Some(2));
    assert!(seen[0].1.contains("#4100"), "{}", seen[0].1);
    for (t, s) in THREADS.iter().zip(&seen).skip(1) {
        assert!(*s == seen[0], "{t} threads differ from 1: {}", s.1);
    }
}
