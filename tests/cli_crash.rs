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

    // The big batch updates the first BASE ids and adds the rest.
    let big = dir.path().join("big.ndjson");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
    for i in 0..BIG {
        let mut f = incident(i);
        f["properties"]["verification"] = json!("verified");
        writeln!(w, "{f}").unwrap();
    }
    w.flush().unwrap();
    drop(w);

    // How long a whole ingest takes here, to spread the kills over it.
    let probe = dir.path().join("probe.gpkg");
    std::fs::copy(&baseline, &probe).unwrap();
    let t = Instant::now();
    assert!(run(&probe, &["ingest", "incidents", big.to_str().unwrap()])
        .status
        .success());
    let full = t.elapsed();
    assert_eq!(count(&probe, "incidents"), BIG as u64);

    let mut outcomes = (0, 0);
    for step in 1..=6u32 {
        let store = dir.path().join(format!("kill{step}.gpkg"));
        std::fs::copy(&baseline, &store).unwrap();
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

        let conn = rusqlite::Connection::open(&store).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "kill {step}: integrity");
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
        drop(conn);
        if n == BASE as i64 {
            assert_eq!(verified, 0, "kill {step}: none of the batch");
            outcomes.0 += 1;
        } else {
            assert_eq!(n, BIG as i64, "kill {step}: all of the batch or none");
            assert_eq!(verified, BIG as i64, "kill {step}: all of the batch");
            outcomes.1 += 1;
        }
        // And it is still a working store.
        assert!(run(&store, &["layers"]).status.success());
    }
    eprintln!(
        "full ingest {full:?}; kills that left none: {}, all: {}",
        outcomes.0, outcomes.1
    );
    assert!(outcomes.0 > 0, "at least one kill landed before the commit");
}
