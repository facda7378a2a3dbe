//! `jointmap store-copy` and `jointmap migrate`: copies that export
//! identically, across backends, all or nothing; schema versions reported, a
//! newer schema refused.

mod common;

use common::*;
use std::path::Path;
use std::process::Output;
use tempfile::TempDir;

const LAYERS: [&str; 5] = ["incidents", "sightings", "patrols", "bases", "sites"];

/// `jointmap <args>` without a store of its own (store-copy names both).
fn jm(args: &[&str]) -> Output {
    bin().args(args).output().expect("run jointmap")
}

/// The `export` of every layer, asserting success.
fn exports(store: &str) -> Vec<Vec<u8>> {
    LAYERS
        .iter()
        .map(|l| {
            let o = run(Path::new(store), &["export", l]);
            assert!(o.status.success(), "export {l} of {store}: {}", stderr(&o));
            o.stdout
        })
        .collect()
}

/// A demo mission at `dir/name`.
fn demo(dir: &Path, name: &str, incidents: &str) -> String {
    let path = dir.join(name).to_str().unwrap().to_string();
    let o = run(Path::new(&path), &["demo", "--incidents", incidents]);
    assert!(o.status.success(), "{}", stderr(&o));
    path
}

fn copy(src: &str, dst: &str, extra: &[&str]) -> Output {
    let mut args = vec!["store-copy", src, dst];
    args.extend_from_slice(extra);
    jm(&args)
}

/// The per-layer counts store-copy printed.
fn counts(o: &Output) -> Vec<(String, u64)> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let (layer, n) = l.split_once('\t').expect("layer<TAB>count");
            (layer.to_string(), n.parse().expect("a count"))
        })
        .collect()
}

#[test]
fn a_copy_to_a_fresh_geopackage_exports_byte_identically() {
    let dir = TempDir::new().unwrap();
    let src = demo(dir.path(), "src.gpkg", "400");
    let dst = dir.path().join("dst.gpkg").to_str().unwrap().to_string();
    let o = copy(&src, &dst, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = counts(&o);
    assert_eq!(
        printed.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(),
        LAYERS
    );
    assert_eq!(printed[0].1, 400);
    let (a, b) = (exports(&src), exports(&dst));
    for (i, layer) in LAYERS.iter().enumerate() {
        assert!(!a[i].is_empty(), "{layer}: nothing exported");
        assert!(a[i] == b[i], "{layer}: the copy exports differently");
    }
    // Each layer's printed count is what the copy holds.
    for (layer, n) in &printed {
        let o = run(Path::new(&dst), &["export", layer]);
        assert_eq!(features_of(&o.stdout).len() as u64, *n, "{layer}");
    }
    // Provenance comes along: deleting the demo's source empties the copy too.
    let o = run(
        Path::new(&dst),
        &["delete", "incidents", "--source", "demo"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(Path::new(&dst), &["export", "incidents"]);
    assert!(features_of(&o.stdout).is_empty());
}

#[test]
fn a_destination_that_holds_features_is_refused_unless_replace() {
    let dir = TempDir::new().unwrap();
    let src = demo(dir.path(), "src.gpkg", "200");
    let dst = demo(dir.path(), "dst.gpkg", "50");
    let before = exports(&dst);
    let o = copy(&src, &dst, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    assert_eq!(exports(&dst), before, "a refused copy changed DST");
    // The same store on both sides, by another spelling, is refused too.
    let again = dir.path().join(".").join("src.gpkg");
    let o = copy(&src, again.to_str().unwrap(), &["--replace"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // --replace: DST holds exactly SRC afterwards, none of its own features.
    let o = copy(&src, &dst, &["--replace"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(exports(&dst), exports(&src));
}

/// Runs `sql` on the GeoPackage at `path` as a GIS might, without jointmap's
/// functions: the `sites` triggers, which call them, are dropped first (the
/// next open by jointmap puts them back).
fn edit_sites(path: &str, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'sites'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in triggers {
        conn.execute_batch(&format!("DROP TRIGGER \"{t}\""))
            .unwrap();
    }
    conn.execute_batch(sql).unwrap();
}

#[test]
fn a_failure_mid_copy_leaves_the_destination_unchanged() {
    let dir = TempDir::new().unwrap();
    let src = demo(dir.path(), "src.gpkg", "200");
    let dst = demo(dir.path(), "dst.gpkg", "50");
    // The last layer copied holds a row that cannot be read as a feature (as
    // an edit in a GIS may leave it): the copy fails after four layers.
    edit_sites(
        &src,
        "UPDATE sites SET classification = 'bogus' WHERE fid = (SELECT max(fid) FROM sites)",
    );
    let before = exports(&dst);
    let o = copy(&src, &dst, &["--replace"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("sites"), "{}", stderr(&o));
    assert_eq!(exports(&dst), before, "a failed copy changed DST");
    // A DST that cannot be created (its directory is a file): an error, and
    // nothing made.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let inside = blocker.join("dst.gpkg");
    let good = demo(dir.path(), "good.gpkg", "20");
    let o = copy(&good, inside.to_str().unwrap(), &[]);
    assert!(!o.status.success());
    assert!(!inside.exists());
    // A SRC that does not exist is refused, and DST is not created.
    let absent = dir.path().join("absent.gpkg");
    let fresh = dir.path().join("fresh.gpkg");
    let o = copy(absent.to_str().unwrap(), fresh.to_str().unwrap(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!absent.exists() && !fresh.exists());
}

/// Sets the schema version stored in the GeoPackage at `path`.
fn mark_version(path: &Path, v: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "UPDATE jointmap_meta SET value = ?1 WHERE key = 'schema_version'",
        [v],
    )
    .unwrap();
}

#[test]
fn migrate_reports_versions_and_refuses_a_newer_schema_by_name() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("m.gpkg");
    let out = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let migrate = |extra: &[&str]| {
        let mut args = vec!["--store", store.to_str().unwrap(), "migrate"];
        args.extend_from_slice(extra);
        jm(&args)
    };
    // A dry run on a missing store says what would happen, and creates nothing.
    let o = migrate(&["--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out(&o).contains("would migrate the schema from version none (no store) to 1"));
    assert!(!store.exists());
    let o = migrate(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out(&o).contains("migrated the schema from version none (no store) to 1"),
        "{}",
        out(&o)
    );
    let o = migrate(&[]);
    assert!(
        out(&o).contains("schema version 1, up to date"),
        "{}",
        out(&o)
    );
    // A store that lacks a part (an older store) is migrated, and reads again.
    let demo_store = demo(dir.path(), "d.gpkg", "30");
    let exported = exports(&demo_store);
    {
        let conn = rusqlite::Connection::open(&demo_store).unwrap();
        conn.execute_batch("DROP TABLE jointmap_quarantine_sites")
            .unwrap();
    }
    let o = jm(&["--store", &demo_store, "migrate", "--dry-run"]);
    assert!(out(&o).contains("would migrate"), "{}", out(&o));
    let o = jm(&["--store", &demo_store, "migrate"]);
    assert!(
        out(&o).contains("migrated the schema from version 1 to 1"),
        "{}",
        out(&o)
    );
    let o = jm(&["--store", &demo_store, "migrate", "--dry-run"]);
    assert!(out(&o).contains("up to date"), "{}", out(&o));
    assert_eq!(exports(&demo_store), exported);
    // From a newer jointmap: refused by both versions, by migrate and by every
    // other command, and left as it is.
    mark_version(&store, "9");
    for args in [&["migrate"][..], &["migrate", "--dry-run"], &["layers"]] {
        let mut all = vec!["--store", store.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = jm(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("schema is version 9, newer than this jointmap's 1"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let conn = rusqlite::Connection::open(&store).unwrap();
    let v: String = conn
        .query_row(
            "SELECT value FROM jointmap_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v, "9");
}

/// GeoPackage -> PostGIS -> GeoPackage exports identically; a PostGIS DST
/// that is refused or fails leaves nothing behind; migrate on PostGIS reports
/// its versions and refuses a newer schema.
#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_round_trip_through_postgis_is_identical() {
    let dir = TempDir::new().unwrap();
    let src = demo(dir.path(), "src.gpkg", "300");
    let pg = postgis_store("copy_trip");
    let back = dir.path().join("back.gpkg").to_str().unwrap().to_string();
    let o = copy(&src, &pg, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = copy(&pg, &back, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(&o)[0], ("incidents".to_string(), 300));
    let (a, b, c) = (exports(&src), exports(&pg), exports(&back));
    for (i, layer) in LAYERS.iter().enumerate() {
        assert!(a[i] == b[i], "{layer}: PostGIS exports differently");
        assert!(a[i] == c[i], "{layer}: the round trip exports differently");
    }
    // Refused when not empty, unchanged; a replace with a failing SRC row too.
    let o = copy(&src, &pg, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let small = demo(dir.path(), "small.gpkg", "20");
    edit_sites(&small, "UPDATE sites SET owner = 'nobody'");
    let o = copy(&small, &pg, &["--replace"]);
    assert!(!o.status.success());
    assert_eq!(exports(&pg), b, "a failed copy changed the PostGIS DST");
    // A schema name PostgreSQL cannot have: an error, and the source untouched.
    let url = std::env::var("JOINTMAP_TEST_PG").unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let bad = format!("{url}{sep}schema=bad\"name");
    let o = copy(&src, &bad, &[]);
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(exports(&src), a);
    // migrate on PostGIS: a fresh schema, an up-to-date one, a newer one (version 2:
    // the audit table, src/store/postgis/schema.rs).
    let fresh = postgis_store("copy_mig");
    let o = jm(&["--store", &fresh, "migrate", "--dry-run"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains("would migrate the schema from version none (no store) to 2"),
        "{text}"
    );
    let o = jm(&["--store", &fresh, "migrate"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains("migrated the schema from version none (no store) to 2"),
        "{text}"
    );
    let o = jm(&["--store", &pg, "migrate"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("schema version 2, up to date"), "{text}");
    let schema = fresh.rsplit_once("schema=").unwrap().1;
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .execute(
            &format!(
                "UPDATE \"{schema}\".jointmap_meta SET value = 4 WHERE key = 'schema_version'"
            ),
            &[],
        )
        .unwrap();
    for args in [&["migrate"][..], &["migrate", "--dry-run"], &["layers"]] {
        let mut all = vec!["--store", fresh.as_str()];
        all.extend_from_slice(args);
        let o = jm(&all);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            stderr(&o).contains("schema is version 4, newer than this jointmap's 2"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

/// A copy killed (SIGKILL) after its first layer was written into the batch
/// leaves DST as it was: the batch commits only at the end.
#[test]
fn a_copy_killed_midway_leaves_the_destination_unchanged() {
    use std::io::BufRead;
    let dir = TempDir::new().unwrap();
    let src = demo(dir.path(), "src.gpkg", "200");
    // Many sightings, copied after incidents: the kill lands well before the commit.
    let (sighting, _, _) = others();
    let many: Vec<_> = (0..20_000)
        .map(|i| {
            let mut f = sighting.clone();
            f["id"] = format!("sig-many-{i}").into();
            f
        })
        .collect();
    let file = write_fc(dir.path(), "sightings.geojson", &many);
    let o = run(
        Path::new(&src),
        &["ingest", "sightings", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let dst = demo(dir.path(), "dst.gpkg", "50");
    let before = exports(&dst);
    let mut child = bin()
        .args(["store-copy", &src, &dst, "--replace"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a progress line").unwrap();
    // Incidents are in the batch; the 20,000 sightings are not yet.
    assert!(first.starts_with("incidents: 200"), "{first}");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the copy finished before it was killed");
    assert_eq!(exports(&dst), before, "a killed copy changed DST");
    // And the store is whole: a copy after it works.
    let o = copy(&src, &dst, &["--replace"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(exports(&dst), exports(&src));
}
