//! A store killed (SIGKILL) at any moment of an ingest reopens with the whole
//! batch or none of it.

mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::time::Instant;
use tempfile::TempDir;

const BIG: usize = 60_000;
const BASE: usize = 1_000;

/// The big batch: it updates the first BASE ids (as verified) and adds the rest.
fn big_batch(dir: &std::path::Path) -> std::path::PathBuf {
    let big = dir.join("big.ndjson");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    for i in 0..BIG {
        let mut f = incident(i);
        f["properties"]["verification"] = json!("verified");
        writeln!(w, "{f}").unwrap();
    }
    w.flush().unwrap();
    big
}

#[test]
fn sigkill_during_ingest_leaves_all_or_nothing() {
    let dir = TempDir::new().unwrap();
    let baseline = dir.path().join("baseline.gpkg");
    let first: Vec<_> = (0..BASE).map(incident).collect();
    let file = write_fc(dir.path(), "first.geojson", &first);
    assert!(
        run(&baseline, &["ingest", "incidents", file.to_str().unwrap()])
            .status
            .success()
    );
    kill_during_ingests(dir.path(), Some(&baseline));
}

/// The first batch into a new file writes with a rollback journal instead of
/// the write-ahead log: a kill at any moment leaves the file with all of the
/// batch or none of it all the same, and the next open puts it back in WAL mode.
#[test]
fn sigkill_during_the_first_ingest_into_a_new_file_leaves_all_or_nothing() {
    let dir = TempDir::new().unwrap();
    kill_during_ingests(dir.path(), None);
}

/// Kills the ingest of the big batch at 1/6 .. 6/6 of its measured duration,
/// each time into a copy of `baseline` (BASE incidents) or into a new file,
/// and checks what each kill left.
fn kill_during_ingests(dir: &std::path::Path, baseline: Option<&std::path::Path>) {
    let base = if baseline.is_some() { BASE as i64 } else { 0 };
    let fresh = |name: &str| {
        let store = dir.join(name);
        if let Some(b) = baseline {
            std::fs::copy(b, &store).unwrap();
        }
        store
    };
    let big = big_batch(dir);

    // How long a whole ingest takes here, to spread the kills over it.
    let probe = fresh("probe.gpkg");
    let t = Instant::now();
    assert!(run(&probe, &["ingest", "incidents", big.to_str().unwrap()])
        .status
        .success());
    let full = t.elapsed();
    assert_eq!(count(&probe, "incidents"), BIG as u64);

    let mut outcomes = (0, 0);
    for step in 1..=6u32 {
        let store = fresh(&format!("kill{step}.gpkg"));
        let mut child = bin()
            .arg("--store")
            .arg(&store)
            .args(["--quiet", "ingest", "incidents", big.to_str().unwrap()])
            .spawn()
            .unwrap();
        // Kill at 1/6 .. 6/6 of the measured duration (the last ones land in or after the commit).
        std::thread::sleep(full.mul_f64(f64::from(step) / 6.0));
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();
        if !store.exists() {
            // Killed before it created the file: nothing of the batch anywhere.
            assert_eq!(base, 0, "kill {step}: the baseline copy is gone");
            outcomes.0 += 1;
            continue;
        }

        let conn = rusqlite::Connection::open(&store).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "kill {step}: integrity");
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'incidents'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if tables == 0 {
            // Killed while it created the schema: an empty file that the next
            // open completes.
            assert_eq!(base, 0, "kill {step}: the baseline's tables are gone");
            drop(conn);
            assert!(run(&store, &["layers"]).status.success());
            outcomes.0 += 1;
            continue;
        }
        let n: i64 = conn
            .query_row("SELECT count(*) FROM incidents", [], |r| r.get(0))
            .unwrap();
        let verified: i64 = conn
            .query_row(
                "SELECT count(*) FROM incidents WHERE verification = 'verified'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        // The R-tree index is whole, with its triggers, whichever way it went
        // (the batch takes the insert trigger out inside its transaction).
        let (rtree, triggers): (String, i64) = conn
            .query_row(
                "SELECT rtreecheck('rtree_incidents_geom'),
                   (SELECT count(*) FROM sqlite_master WHERE type = 'trigger'
                      AND name LIKE 'rtree_incidents_geom_%')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let entries: i64 = conn
            .query_row("SELECT count(*) FROM rtree_incidents_geom", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            (rtree.as_str(), triggers, entries),
            ("ok", 6, n),
            "kill {step}: index"
        );
        drop(conn);
        if n == base {
            assert_eq!(verified, 0, "kill {step}: none of the batch");
            outcomes.0 += 1;
        } else {
            assert_eq!(n, BIG as i64, "kill {step}: all of the batch or none");
            assert_eq!(verified, BIG as i64, "kill {step}: all of the batch");
            outcomes.1 += 1;
        }
        // And it is still a working store, in WAL mode once jointmap opened it.
        assert!(run(&store, &["layers"]).status.success());
        let header = std::fs::read(&store).unwrap();
        assert_eq!(header[18..20], [2, 2], "kill {step}: WAL mode");
    }
    eprintln!(
        "full ingest {full:?}; kills that left none: {}, all: {}",
        outcomes.0, outcomes.1
    );
    assert!(outcomes.0 > 0, "at least one kill landed before the commit");
}

/// With --skip-invalid, a kill at any moment leaves the store and the rejects
/// file consistent: the rejects file is either an earlier run's (nothing of
/// this batch stored) or absent, or complete, and complete only when the batch
/// was stored; never torn.
#[test]
fn sigkill_during_skip_invalid_keeps_store_and_rejects_consistent() {
    const BAD: usize = 600;
    let dir = TempDir::new().unwrap();
    let baseline = dir.path().join("baseline.gpkg");
    let first: Vec<_> = (0..BASE).map(incident).collect();
    let file = write_fc(dir.path(), "first.geojson", &first);
    assert!(
        run(&baseline, &["ingest", "incidents", file.to_str().unwrap()])
            .status
            .success()
    );
    let big = dir.path().join("mixed.ndjson");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    for i in 0..BIG {
        writeln!(w, "{}", incident(i)).unwrap();
        if i % (BIG / BAD) == 0 {
            let mut bad = incident(BIG + i);
            bad["properties"]["category"] = json!("nope");
            writeln!(w, "{bad}").unwrap();
        }
    }
    w.flush().unwrap();
    drop(w);
    let rejects = dir.path().join("rejects.ndjson");
    let earlier = "{\"an earlier run's rejects\":true}\n";
    let ingest = |store: &std::path::Path| {
        let mut c = bin();
        c.arg("--store")
            .arg(store)
            .args(["--quiet", "ingest", "incidents", big.to_str().unwrap()])
            .args(["--skip-invalid", "--rejects", rejects.to_str().unwrap()]);
        c
    };

    let probe = dir.path().join("probe.gpkg");
    std::fs::copy(&baseline, &probe).unwrap();
    std::fs::write(&rejects, earlier).unwrap();
    let t = Instant::now();
    assert!(ingest(&probe).status().unwrap().success());
    let full = t.elapsed();
    assert_eq!(count(&probe, "incidents"), BIG as u64);
    let complete = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(complete.lines().count(), BAD);

    let mut outcomes = (0, 0);
    for step in 1..=8u32 {
        let store = dir.path().join(format!("kill{step}.gpkg"));
        std::fs::copy(&baseline, &store).unwrap();
        std::fs::write(&rejects, earlier).unwrap();
        let mut child = ingest(&store).spawn().unwrap();
        std::thread::sleep(full.mul_f64(f64::from(step) / 7.0));
        let _ = child.kill();
        let _ = child.wait();

        let conn = rusqlite::Connection::open(&store).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "kill {step}: integrity");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM incidents", [], |r| r.get(0))
            .unwrap();
        drop(conn);
        let stored = match n {
            n if n == BASE as i64 => false,
            n if n == BIG as i64 => true,
            n => panic!("kill {step}: {n} features, neither all nor none of the batch"),
        };
        match std::fs::read_to_string(&rejects) {
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
            Ok(text) if text == earlier => {
                assert!(
                    !stored,
                    "kill {step}: an earlier run's rejects after a stored batch"
                )
            }
            Ok(text) => {
                assert!(
                    stored,
                    "kill {step}: rejects of a batch that was not stored"
                );
                assert_eq!(text, complete, "kill {step}: rejects file torn");
            }
        }
        if stored {
            outcomes.1 += 1;
        } else {
            outcomes.0 += 1;
        }
    }
    eprintln!(
        "full ingest {full:?}; kills that left none: {}, all: {}",
        outcomes.0, outcomes.1
    );
    assert!(outcomes.0 > 0, "at least one kill landed before the commit");
    assert!(outcomes.1 > 0, "at least one kill landed after the commit");
}

/// The same on PostGIS: a killed ingest (its connection gone in the middle of
/// the COPY, the upsert or the commit) leaves the whole batch or none.
#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn sigkill_during_ingest_into_postgis_leaves_all_or_nothing() {
    sigkill_into_postgis(BASE);
}

/// The same into an empty layer: the batch loads a fresh table that takes the layer's place
/// at the commit; killed, the layer stays empty and whole.
#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn sigkill_during_a_load_into_an_empty_postgis_layer_leaves_all_or_nothing() {
    sigkill_into_postgis(0);
}

/// Kills ingests of the big batch into stores holding the first `base` incidents.
fn sigkill_into_postgis(base: usize) {
    let dir = TempDir::new().unwrap();
    let first: Vec<_> = (0..base).map(incident).collect();
    let file = write_fc(dir.path(), "first.geojson", &first);
    let big = big_batch(dir.path());
    let fresh = |tag: &str| {
        let store = postgis_store(&format!("{tag}_{base}"));
        let args: &[&str] = if base == 0 {
            &["migrate"]
        } else {
            &["ingest", "incidents", file.to_str().unwrap()]
        };
        let o = run(std::path::Path::new(&store), args);
        assert!(o.status.success(), "{}", stderr(&o));
        store
    };
    // Rows and verified rows, read by SQL on the schema the location names.
    let mut db =
        postgres::Client::connect(&std::env::var("JOINTMAP_TEST_PG").unwrap(), postgres::NoTls)
            .unwrap();
    let counts = |db: &mut postgres::Client, store: &str| -> (i64, i64) {
        let (_, schema) = store.rsplit_once("schema=").unwrap();
        let row = db
            .query_one(
                &format!(
                    "SELECT count(*), count(*) FILTER (WHERE verification = 'verified') \
                     FROM \"{schema}\".incidents"
                ),
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    // Tables of loads into an empty layer left behind: one whose batch was killed after
    // the load's own commit, until the store is opened again with no batch running.
    let loads = |db: &mut postgres::Client, store: &str| -> i64 {
        let (_, schema) = store.rsplit_once("schema=").unwrap();
        db.query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'jm_load_%' \
             AND relnamespace = $1::text::regnamespace",
            &[&schema],
        )
        .unwrap()
        .get(0)
    };
    let probe = fresh("crash_probe");
    let t = Instant::now();
    let o = run(
        std::path::Path::new(&probe),
        &["ingest", "incidents", big.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let full = t.elapsed();
    assert_eq!(counts(&mut db, &probe), (BIG as i64, BIG as i64));
    assert_eq!(
        loads(&mut db, &probe),
        0,
        "a committed load leaves no table of its own"
    );

    let mut outcomes = (0, 0);
    for step in 1..=6u32 {
        let store = fresh(&format!("crash{step}"));
        let mut child = bin()
            .arg("--store")
            .arg(&store)
            .args(["--quiet", "ingest", "incidents", big.to_str().unwrap()])
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(f64::from(step) / 6.0));
        let _ = child.kill();
        let _ = child.wait();
        match counts(&mut db, &store) {
            (n, 0) if n == base as i64 => outcomes.0 += 1,
            (n, v) if n == BIG as i64 && v == BIG as i64 => outcomes.1 += 1,
            other => panic!("kill {step}: {other:?} rows (all, verified): neither all nor none"),
        }
        // Opening the store drops them once the killed batch's connections are gone (a
        // backend in the middle of an index build notices only at its end).
        let mut opens = 0;
        loop {
            let o = run(std::path::Path::new(&store), &["layers"]);
            assert!(o.status.success(), "kill {step}: {}", stderr(&o));
            opens += 1;
            if loads(&mut db, &store) == 0 {
                break;
            }
            assert!(
                opens < 20,
                "kill {step}: a load's table is left after {opens} opens"
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    eprintln!(
        "full ingest {full:?}; kills that left none: {}, all: {}",
        outcomes.0, outcomes.1
    );
    assert!(outcomes.0 > 0, "at least one kill landed before the commit");
}
