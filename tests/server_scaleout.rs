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

/// Tells whether a batch holds the store's write lock right now, from
/// outside the server.
enum WriteProbe {
    /// A connection of the test's own to the GeoPackage: `BEGIN IMMEDIATE`
    /// fails at once while another connection writes.
    Gpkg(rusqlite::Connection),
    /// A connection to the database, and the store's schema: a batch holds
    /// the data version's row from `begin` to `commit`.
    Pg(Box<postgres::Client>, String),
}

impl WriteProbe {
    fn of(location: &str) -> WriteProbe {
        match location.rsplit_once("schema=") {
            Some((_, schema)) => WriteProbe::Pg(
                Box::new(
                    postgres::Client::connect(
                        &std::env::var("JOINTMAP_TEST_PG").unwrap(),
                        postgres::NoTls,
                    )
                    .unwrap(),
                ),
                schema.to_string(),
            ),
            None => {
                let c = rusqlite::Connection::open(location).unwrap();
                c.busy_timeout(Duration::ZERO).unwrap();
                WriteProbe::Gpkg(c)
            }
        }
    }

    fn writer_holds(&mut self) -> bool {
        match self {
            WriteProbe::Gpkg(c) => match c.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => {
                    c.execute_batch("ROLLBACK").unwrap();
                    false
                }
                Err(e) => {
                    assert_eq!(
                        e.sqlite_error_code(),
                        Some(rusqlite::ErrorCode::DatabaseBusy),
                        "{e}"
                    );
                    true
                }
            },
            WriteProbe::Pg(c, schema) => {
                let mut tx = c.transaction().unwrap();
                let locked = tx.query(
                    &format!(
                        "SELECT 1 FROM \"{schema}\".jointmap_meta \
                         WHERE key = 'data_version' FOR UPDATE NOWAIT"
                    ),
                    &[],
                );
                match locked {
                    Ok(_) => false,
                    Err(e) => {
                        assert_eq!(e.code().map(|c| c.code()), Some("55P03"), "{e}");
                        true
                    }
                }
            }
        }
    }
}

/// While the server's own ingest of a large batch holds the write lock, an
/// item, a page of items and a cached analysis are answered (each request
/// ends while the lock is still held), with the data as it was before.
fn reads_are_answered_while_a_batch_holds_the_write_lock(location: &str) {
    const BIG: usize = 12_000;
    let dir = TempDir::new().unwrap();
    let store = Path::new(location);
    let first = dir.path().join("first.geojson");
    std::fs::write(&first, incidents_at("base", 300, 18.0, 5.0).to_string()).unwrap();
    cli(store, &["ingest", "incidents", first.to_str().unwrap()]);
    let server = Server::start(&config(dir.path(), store, ""));
    let path = "/analysis/hotspots?cell-km=10&permutations=0";
    let before = server.json(path, HR);
    let page = server.json("/collections/incidents/items?limit=5", HR);
    let body = incidents_at("big", BIG, 18.3, 5.2).to_string().into_bytes();
    let mut probe = WriteProbe::of(location);
    assert!(!probe.writer_holds());
    std::thread::scope(|s| {
        let ingest = s.spawn(|| {
            server.post(
                "/collections/incidents/items",
                Some(HR),
                "application/geo+json",
                &body,
            )
        });
        while !probe.writer_holds() {
            assert!(!ingest.is_finished(), "the batch ended before it was seen");
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut answered_while_held = 0;
        while !ingest.is_finished() {
            let t = Instant::now();
            let item = server.get("/collections/incidents/items/base-7", Some(HR));
            let items = server.json("/collections/incidents/items?limit=5", HR);
            let answer = server.json(path, HR);
            let took = t.elapsed();
            // Only rounds that ended inside the batch count: the commit may
            // come at any moment, and then the new data is served.
            if probe.writer_holds() {
                answered_while_held += 1;
                assert_eq!(item.status, 200, "{}", item.text());
                assert!(
                    items["features"] == page["features"],
                    "a page changed inside the batch"
                );
                assert!(answer == before, "the analysis changed inside the batch");
                assert!(took < Duration::from_secs(2), "{took:?}");
            }
        }
        let r = ingest.join().unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        assert!(
            answered_while_held >= 3,
            "only {answered_while_held} rounds of reads ended inside the batch"
        );
    });
    assert_eq!(counted(&server.json(path, HR)), 300 + BIG as u64);
}

#[test]
fn reads_never_wait_for_a_writer_on_the_geopackage() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    reads_are_answered_while_a_batch_holds_the_write_lock(store.to_str().unwrap());
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn reads_never_wait_for_a_writer_on_postgis() {
    reads_are_answered_while_a_batch_holds_the_write_lock(&common::postgis_store("readers"));
}

/// `jointmap serve` on `location`: refused at start, with this on stderr.
fn serve_refuses(location: &str, expect: &[&str]) {
    let dir = TempDir::new().unwrap();
    let cfg = config(dir.path(), Path::new(location), "");
    let o = bin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .expect("run jointmap serve");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    for e in expect {
        assert!(err.to_lowercase().contains(e), "{e:?} not in {err}");
    }
    assert!(!err.contains("secret"), "{err}");
    assert!(!err.contains("listening"), "{err}");
}

#[test]
fn a_server_on_an_unreachable_database_says_so_and_stops() {
    // Nothing listens on port 1.
    serve_refuses(
        "postgresql://jm:secret@127.0.0.1:1/jointmap?connect_timeout=2",
        &["cannot connect", "refused", "jm:***@127.0.0.1:1"],
    );
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_server_on_a_schema_from_a_newer_jointmap_says_so_and_stops() {
    let store = common::postgis_store("newer");
    cli(Path::new(&store), &["migrate"]);
    let (_, schema) = store.rsplit_once("schema=").unwrap();
    let mut db =
        postgres::Client::connect(&std::env::var("JOINTMAP_TEST_PG").unwrap(), postgres::NoTls)
            .unwrap();
    db.execute(
        &format!(
            "UPDATE \"{schema}\".jointmap_meta SET value = value + 1 WHERE key = 'schema_version'"
        ),
        &[],
    )
    .unwrap();
    serve_refuses(&store, &["newer than this jointmap", "upgrade jointmap"]);
}
