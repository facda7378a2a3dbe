//! The store as GIS tools and operators use it: GDAL's spatial index,
//! `check` after an edit in a GIS, `delete`, `backup` under load, and the
//! demo kept apart from real data.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

/// `ogrinfo <args>`, asserting success; stdout and stderr together.
fn ogrinfo(args: &[&str], store: &Path) -> String {
    let o = Command::new("ogrinfo")
        .args(args)
        .arg(store)
        .output()
        .expect("run ogrinfo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "ogrinfo {args:?}:\n{text}");
    text
}

/// One SQL statement through GDAL (with its GeoPackage functions, as QGIS
/// writes): the output.
fn gdal_sql(store: &Path, sql: &str) -> String {
    ogrinfo(&["-q", "-sql", sql], store)
}

fn ingest(store: &Path, dir: &Path, name: &str, features: &[Value], extra: &[&str]) -> Output {
    let file = write_fc(dir, name, features);
    let mut args = vec!["ingest", "incidents", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(store, &args)
}

fn ids(store: &Path) -> Vec<String> {
    let o = run(store, &["export", "incidents"]);
    assert!(o.status.success(), "{}", stderr(&o));
    features_of(&o.stdout)
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// The acceptance test of the spatial index: GDAL (re)creates it as QGIS
/// would, jointmap still ingests into the store (the triggers call
/// ST_IsEmpty, ST_MinX ...), reads it back, and GDAL answers a bbox query
/// through the index, which holds every feature.
#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "ogrinfo not installed (apt-get install gdal-bin)"
)]
fn a_store_indexed_by_gdal_stays_writable_and_gdal_uses_the_index() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let first: Vec<Value> = (0..100).map(incident).collect();
    assert!(ingest(&store, dir.path(), "a.geojson", &first, &[])
        .status
        .success());
    // A store without jointmap's index, indexed by GDAL instead.
    gdal_sql(&store, "SELECT DisableSpatialIndex('incidents', 'geom')");
    assert!(gdal_sql(&store, "SELECT HasSpatialIndex('incidents', 'geom')").contains("= 0"));
    gdal_sql(&store, "SELECT CreateSpatialIndex('incidents', 'geom')");
    // New features and replacements both fire GDAL's triggers.
    let mut more: Vec<Value> = (100..150).map(incident).collect();
    let mut moved = incident(3);
    moved["geometry"]["coordinates"] = json!([21.5, 7.25]);
    more.push(moved);
    let o = ingest(&store, dir.path(), "b.geojson", &more, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ids(&store).len(), 150);
    assert!(gdal_sql(&store, "SELECT HasSpatialIndex('incidents', 'geom')").contains("= 1"));
    let n = gdal_sql(&store, "SELECT count(*) AS n FROM rtree_incidents_geom");
    assert!(n.contains("n (Integer) = 150"), "{n}");
    // GDAL's bbox query joins the R-tree and finds the moved point.
    let o = Command::new("ogrinfo")
        .args(["-ro", "-q", "-spat", "21.4", "7.2", "21.6", "7.3"])
        .arg(&store)
        .arg("incidents")
        .env("CPL_DEBUG", "ON")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let debug = String::from_utf8_lossy(&o.stderr);
    assert!(debug.contains("rtree_incidents_geom"), "{debug}");
    assert!(out.contains("id (String) = inc-3"), "{out}");
    assert_eq!(out.matches("OGRFeature(incidents)").count(), 1, "{out}");
    // Exactly the five layers: the index, history and quarantine are no layers.
    let listing = ogrinfo(&["-ro"], &store);
    let layers: Vec<&str> = listing
        .lines()
        .filter(|l| {
            l.split_once(": ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .collect();
    assert_eq!(layers.len(), 5, "{listing}");
    // JSON columns carry GDAL's JSON subtype.
    let o = Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(&store)
        .arg("incidents")
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&o.stdout);
    assert!(so.contains("extra: String(JSON)"), "{so}");
    let o = Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(&store)
        .arg("patrols")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("vertex_times: String(JSON)"));
}

/// A QGIS-style edit (plain SQL UPDATE) that ingest would refuse is caught
/// by `check`, keeps the server from starting, and once quarantined no
/// longer reaches analyses.
#[test]
#[cfg_attr(
    not(jointmap_ogrinfo),
    ignore = "ogrinfo not installed (apt-get install gdal-bin)"
)]
fn an_edit_in_a_gis_is_caught_quarantined_and_kept_out_of_analyses() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let all: Vec<Value> = (0..60).map(incident).collect();
    assert!(ingest(&store, dir.path(), "a.geojson", &all, &[])
        .status
        .success());
    assert!(run(&store, &["check"]).status.success());
    gdal_sql(
        &store,
        "UPDATE incidents SET category = 'kiling' WHERE id = 'inc-7'",
    );
    let o = run(&store, &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("incidents: stored feature (id \"inc-7\"): field `category`")
            && err.contains("kiling"),
        "{err}"
    );
    // The server refuses such a store, unless told otherwise.
    let o = bin()
        .args([
            "--store",
            store.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("JOINTMAP_ALLOW_INVALID_STORE"),
        "{}",
        stderr(&o)
    );
    assert_eq!(served(&store, true), Some(true));

    let o = run(&store, &["check", "--fix-mode", "quarantine"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(run(&store, &["check"]).status.success());
    assert_eq!(ids(&store).len(), 59);
    // Analyses see the store as if the edited feature had never been ingested.
    let clean = dir.path().join("clean.gpkg");
    let rest: Vec<Value> = all.iter().filter(|f| f["id"] != "inc-7").cloned().collect();
    assert!(ingest(&clean, dir.path(), "b.geojson", &rest, &[])
        .status
        .success());
    let hotspots = |s: &Path| {
        let o = run(s, &["hotspots", "--cell-km", "20"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut v: Value = serde_json::from_slice(&o.stdout).expect("GeoJSON");
        // The two stores differ in their write history, nothing else.
        v["jointmap"]
            .as_object_mut()
            .expect("jointmap member")
            .remove("data_version")
            .expect("data_version recorded");
        v
    };
    assert!(hotspots(&store) == hotspots(&clean));
    // Restored as it was: the check finds it again.
    let o = run(
        &store,
        &["check", "--layer", "incidents", "--restore", "inc-7"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(run(&store, &["check"]).status.code(), Some(2));
    assert_eq!(served(&store, false), Some(false));
}

/// Starts `serve` on `store` (with JOINTMAP_ALLOW_INVALID_STORE=1 when
/// `allow`): whether it listened, stopped at once.
fn served(store: &Path, allow: bool) -> Option<bool> {
    use std::io::{BufRead, BufReader};
    let mut cmd = bin();
    cmd.args([
        "--store",
        store.to_str()?,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ])
    .stderr(std::process::Stdio::piped());
    if allow {
        cmd.env("JOINTMAP_ALLOW_INVALID_STORE", "1");
    }
    let mut child = cmd.spawn().ok()?;
    let err = child.stderr.take()?;
    let listened = BufReader::new(err)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("jointmap: listening on"));
    let _ = child.kill();
    let _ = child.wait();
    Some(listened)
}

/// Deletes are all or nothing, by id, source or time, and each deleted
/// version is kept in the history, from which re-ingesting restores it.
#[test]
fn delete_by_id_source_and_time_is_atomic_and_recoverable() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    let a: Vec<Value> = (0..10).map(incident).collect();
    let b: Vec<Value> = (10..20).map(incident).collect();
    assert!(ingest(&store, dir.path(), "week1.geojson", &a, &[])
        .status
        .success());
    assert!(
        ingest(&store, dir.path(), "x.geojson", &b, &["--source", "week2"])
            .status
            .success()
    );
    // An unknown id among known ones deletes nothing.
    let o = run(&store, &["delete", "incidents", "--id", "inc-1", "inc-404"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("inc-404"), "{}", stderr(&o));
    assert_eq!(ids(&store).len(), 20);
    let o = run(
        &store,
        &["delete", "incidents", "--source", "week1.geojson"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let left = ids(&store);
    assert_eq!(left.len(), 10);
    assert!(left
        .iter()
        .all(|id| id.trim_start_matches("inc-").parse::<u32>().unwrap() >= 10));
    let o = run(&store, &["delete", "incidents", "--id", "inc-11", "inc-12"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ids(&store).len(), 8);
    // incident(i) happens in month i % 12 + 1 of 2024: 10, 11 -> Nov, Dec;
    // 13..19 -> Feb..Aug. Before 2024-06-01: 13 (Feb), 14, 15, 16 (May).
    let o = run(&store, &["delete", "incidents", "--before", "2024-06-01"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut left = ids(&store);
    left.sort();
    assert_eq!(left, ["inc-10", "inc-17", "inc-18", "inc-19"]);
    // Every deleted version is in the history, whole: re-ingesting restores it.
    let history = jointmap::store::GpkgStore::open(&store)
        .unwrap()
        .history(jointmap::model::Layer::Incidents, "inc-3")
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].change, jointmap::store::Change::Deleted);
    let kept: Value = serde_json::from_str(&history[0].feature).unwrap();
    let o = ingest(&store, dir.path(), "back.geojson", &[kept], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = run(&store, &["export", "incidents"]).stdout;
    let back = features_of(&out)
        .into_iter()
        .find(|f| f["id"] == "inc-3")
        .expect("restored");
    assert_eq!(back, incident(3));
    // Nothing selected, nothing wrong: no error, nothing deleted.
    let o = run(&store, &["delete", "incidents", "--source", "nobody"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(ids(&store).len(), 5);
}

/// `backup` while ingests keep committing: every copy opens, passes the
/// check, and holds a whole number of batches.
#[test]
fn backup_during_concurrent_ingest_is_a_consistent_store() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store.gpkg");
    const BATCH: usize = 3000;
    assert!(ingest(
        &store,
        dir.path(),
        "b0.geojson",
        &(0..BATCH).map(incident).collect::<Vec<_>>(),
        &[]
    )
    .status
    .success());
    let files: Vec<_> = (1..6)
        .map(|k| {
            write_fc(
                dir.path(),
                &format!("b{k}.geojson"),
                &(k * BATCH..(k + 1) * BATCH)
                    .map(incident)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for f in &files {
                let o = run(&store, &["ingest", "incidents", f.to_str().unwrap()]);
                assert!(o.status.success(), "{}", stderr(&o));
            }
        })
    };
    let mut copies = Vec::new();
    // Copies while the writer commits (a few suffice: each is checked).
    while (!writer.is_finished() && copies.len() < 6) || copies.is_empty() {
        let copy = dir.path().join(format!("copy{}.gpkg", copies.len()));
        let o = run(&store, &["backup", copy.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        copies.push(copy);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    writer.join().unwrap();
    for copy in &copies {
        // The copy is one file: no log beside it.
        assert!(!Path::new(&format!("{}-wal", copy.display())).exists());
        let n = count(copy, "incidents") as usize;
        assert_eq!(n % BATCH, 0, "{}: {n}", copy.display());
        let o = run(copy, &["check"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // Refused: the store itself as the destination.
    let o = run(&store, &["backup", store.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

/// `demo` writes into a store of its own unless told otherwise, and never
/// into a store holding real data.
#[test]
fn the_demo_keeps_to_its_own_store() {
    let dir = TempDir::new().unwrap();
    let o = bin()
        .current_dir(dir.path())
        .args(["--quiet", "demo", "--incidents", "200"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("demo.gpkg").exists());
    assert!(!dir.path().join("jointmap.gpkg").exists());
    // Every demo feature is marked as the demo's: one delete removes them.
    let demo = dir.path().join("demo.gpkg");
    assert_eq!(count(&demo, "incidents"), 200);
    let o = run(&demo, &["delete", "incidents", "--source", "demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(count(&demo, "incidents"), 0);
    // A real store is refused, unchanged.
    let real = dir.path().join("real.gpkg");
    assert!(ingest(&real, dir.path(), "r.geojson", &[incident(1)], &[])
        .status
        .success());
    let before = ids(&real);
    let o = run(&real, &["demo", "--incidents", "200"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("r.geojson"), "{}", stderr(&o));
    assert_eq!(ids(&real), before);
}

/// `--store` and `JOINTMAP_STORE` take a location: a path is a GeoPackage,
/// `memory:` an empty in-memory store, `postgresql://` a PostGIS database
/// (here one nobody listens for: an error naming it, password never shown),
/// any other scheme is refused; every command and `serve` open the store the
/// same way.
#[test]
fn store_locations_are_opened_the_same_way_by_every_command() {
    let dir = TempDir::new().unwrap();
    let url = "postgresql://jm:s3cret@127.0.0.1:1/mission?connect_timeout=2";
    let failed = |o: &Output, code: i32, says: &str| {
        let e = stderr(o);
        assert_eq!(o.status.code(), Some(code), "{e}");
        assert!(e.contains(says) && !e.contains("s3cret"), "{e}");
    };
    let refused = |o: &Output, says: &str| failed(o, 2, says);
    let unreachable = |o: &Output| failed(o, 1, "cannot connect");
    let cfg = dir.path().join("serve.toml");
    std::fs::write(&cfg, format!("store = {url:?}\n")).unwrap();
    let config = cfg.to_str().unwrap();
    for args in [
        vec!["layers"],
        vec!["export", "incidents"],
        vec!["check"],
        vec!["hotspots"],
        vec!["serve", "--listen", "127.0.0.1:0"],
    ] {
        unreachable(&run(Path::new(url), &args));
        let o = bin()
            .env("JOINTMAP_STORE", url)
            .args(&args)
            .output()
            .unwrap();
        unreachable(&o);
    }
    let o = bin()
        .args(["serve", "--config", config, "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    unreachable(&o);
    let file = write_fc(
        dir.path(),
        "in.geojson",
        &[json!({"type": "Feature", "id": "a",
            "geometry": {"type": "Point", "coordinates": [18.0, 5.0]},
            "properties": {"time": "2024-01-01", "category": "killing"}})],
    );
    let o = run(
        Path::new(url),
        &["ingest", "incidents", file.to_str().unwrap()],
    );
    unreachable(&o);
    refused(
        &run(Path::new("ftp://x/y.gpkg"), &["layers"]),
        "no store backend for ftp://",
    );
    // An in-memory store: empty, and gone when the command ends.
    let o = bin()
        .args(["--store", "memory:", "layers"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        Path::new("memory:"),
        &["ingest", "incidents", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!Path::new("memory:").exists());
    let backup = dir.path().join("b.gpkg");
    let o = run(Path::new("memory:"), &["backup", backup.to_str().unwrap()]);
    refused(&o, "works on a GeoPackage file only");
    // A path: created by ingest, refused when missing elsewhere.
    let missing = dir.path().join("missing.gpkg");
    refused(&run(&missing, &["layers"]), "no such store");
    assert!(!missing.exists());
}

/// The same commands on a GeoPackage and on PostGIS give the same answers: a
/// demo mission written by `demo`, then `layers`, `export`, `hotspots`,
/// `clusters`, `check`, `delete` and an analysis after it.
#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn every_command_answers_the_same_on_postgis() {
    let dir = TempDir::new().unwrap();
    let gpkg = dir.path().join("m.gpkg");
    let pg = postgis_store("cli_flow");
    let stores = [Path::new(gpkg.to_str().unwrap()), Path::new(pg.as_str())];
    // Before anything is written, reading commands refuse a store that is not there.
    let o = run(stores[1], &["layers"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no jointmap store"), "{}", stderr(&o));
    let steps: &[&[&str]] = &[
        &["demo", "--incidents", "300"],
        &["layers"],
        &["export", "incidents"],
        &["export", "patrols"],
        &["hotspots"],
        &["clusters", "--eps-km", "10", "--min-points", "5"],
        &["check"],
        &["delete", "incidents", "--before", "2024-06-01"],
        &["layers"],
        &["hotspots"],
    ];
    for step in steps {
        let out: Vec<String> = stores
            .iter()
            .map(|s| {
                let o = run(s, step);
                assert!(o.status.success(), "{step:?} on {s:?}: {}", stderr(&o));
                String::from_utf8_lossy(&o.stdout).into_owned()
            })
            .collect();
        let answers = ["export", "hotspots", "clusters"].contains(&step[0]);
        assert!(!answers || !out[0].is_empty(), "{step:?}: no output");
        assert_eq!(out[0], out[1], "{step:?}: the backends differ");
    }
}
