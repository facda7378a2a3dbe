//! The journal a batch writes with. A store lives in WAL mode, so that
//! readers never wait for a batch (`readers.rs`); but a write-ahead log
//! writes every page twice: once into the log, once more when the log is
//! folded into the file (the checkpoint), and a bulk load into a new file is
//! nothing but new pages. So the first batch into a file this open created
//! writes with a rollback journal, as GDAL writes a GeoPackage: new pages go
//! straight into the file, and the journal only keeps the few pages the
//! batch changes (the empty tables' roots), to undo them if the batch fails or
//! the process dies. The file goes back to WAL mode when the batch ends.
//!
//! Only when nobody else has the file open: SQLite leaves WAL mode only with
//! the file to itself, and otherwise the batch keeps the log. A reader that
//! opens the new file while this batch runs waits for it (there is nothing to
//! read yet but empty layers).

use super::readers::without_waiting;
use super::GpkgStore;
use rusqlite::Connection;
use std::sync::atomic::Ordering;

/// How a batch's pages reach the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Journal {
    /// Through the write-ahead log, folded into the file later.
    Wal,
    /// Straight into the file, old pages kept in a rollback journal.
    Rollback,
}

/// Chooses the journal of the batch about to begin on `conn` (outside a
/// transaction): a rollback journal for the first batch into a file this
/// open created, when the switch succeeds at once.
pub(super) fn for_batch(store: &GpkgStore, conn: &Connection) -> Journal {
    if !store.new_file.swap(false, Ordering::Relaxed) {
        return Journal::Wal;
    }
    let mode = without_waiting(conn, || {
        conn.query_row("PRAGMA journal_mode = DELETE", [], |r| {
            r.get::<_, String>(0)
        })
    });
    match mode.as_deref() {
        // FULL: the journal and the file are synced in order at the commit,
        // so that a power cut cannot leave a half-written file either.
        Ok("delete") if conn.execute_batch("PRAGMA synchronous = FULL").is_ok() => {
            Journal::Rollback
        }
        Ok("delete") => {
            back_to_wal(conn);
            Journal::Wal
        }
        _ => Journal::Wal,
    }
}

/// After the batch (committed or rolled back): the file goes back to WAL
/// mode. Best effort: should it fail (another process opened the file
/// meanwhile), the next open of the store switches it.
pub(super) fn after_batch(conn: &Connection, journal: Journal) {
    if journal == Journal::Rollback {
        let _ = conn.execute_batch("PRAGMA synchronous = NORMAL");
        back_to_wal(conn);
    }
}

fn back_to_wal(conn: &Connection) {
    let _ = without_waiting(conn, || {
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
    });
}

#[cfg(test)]
mod tests {
    use super::super::GpkgStore;
    use crate::model::{Feature, Layer};
    use crate::store::{FeatureSink, FeatureSource};
    use rusqlite::Connection;
    use serde_json::json;
    use std::path::Path;

    fn incident(id: &str) -> Feature {
        let v = json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
            "properties": {"time_start": "2025-02-14T03:00:00Z", "category": "killing",
                "owner": "hr", "classification": "restricted"}});
        Feature::from_geojson(Layer::Incidents, v, "").expect("valid incident")
    }

    fn side(path: &Path, suffix: &str) -> bool {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        Path::new(&p).exists()
    }

    /// The file's own record of its journal: bytes 18 and 19 of the header
    /// are 2 in WAL mode, 1 otherwise.
    fn header_says_wal(path: &Path) -> bool {
        let bytes = std::fs::read(path).expect("read the file");
        bytes[18] == 2 && bytes[19] == 2
    }

    fn ids(store: &GpkgStore) -> usize {
        store.summary(Layer::Incidents).expect("summary").count as usize
    }

    #[test]
    fn the_first_batch_into_a_new_file_skips_the_log_and_the_file_returns_to_wal() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("new.gpkg");
        let store = GpkgStore::open_unindexed(&path).expect("open");
        let mut b = store.begin().expect("begin");
        b.upsert(Layer::Incidents, &incident("a")).expect("upsert");
        assert!(side(&path, "-journal"), "a rollback journal while it runs");
        assert!(!side(&path, "-wal"), "no write-ahead log while it runs");
        b.commit().expect("commit");
        assert!(header_says_wal(&path));
        // The next batch writes through the log, as on any store.
        let mut b = store.begin().expect("begin");
        b.upsert(Layer::Incidents, &incident("b")).expect("upsert");
        assert!(side(&path, "-wal") && !side(&path, "-journal"));
        b.commit().expect("commit");
        assert_eq!(ids(&store), 2);
        drop(store);
        let conn = Connection::open(&path).expect("open again");
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        assert_eq!(check, "ok");
    }

    #[test]
    fn a_first_batch_that_fails_leaves_the_new_file_empty_and_in_wal_mode() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("new.gpkg");
        let store = GpkgStore::open_unindexed(&path).expect("open");
        let mut b = store.begin().expect("begin");
        for i in 0..2_000 {
            b.upsert(Layer::Incidents, &incident(&format!("i{i}")))
                .expect("upsert");
        }
        drop(b);
        assert!(!side(&path, "-journal"));
        assert!(header_says_wal(&path));
        assert_eq!(ids(&store), 0);
    }

    #[test]
    fn a_new_file_another_connection_has_open_keeps_the_log() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("new.gpkg");
        let store = GpkgStore::open_unindexed(&path).expect("open");
        let other = Connection::open(&path).expect("another connection");
        let n: i64 = other
            .query_row("SELECT count(*) FROM incidents", [], |r| r.get(0))
            .expect("read");
        assert_eq!(n, 0);
        let mut b = store.begin().expect("begin");
        b.upsert(Layer::Incidents, &incident("a")).expect("upsert");
        assert!(
            !side(&path, "-journal"),
            "the other connection's file keeps its log"
        );
        // It reads while the batch runs, without waiting for it.
        other
            .busy_timeout(std::time::Duration::ZERO)
            .expect("no wait");
        let n: i64 = other
            .query_row("SELECT count(*) FROM incidents", [], |r| r.get(0))
            .expect("a read while the batch runs");
        assert_eq!(n, 0);
        b.commit().expect("commit");
        assert_eq!(ids(&store), 1);
        assert!(header_says_wal(&path));
    }

    #[test]
    fn an_existing_file_keeps_the_log() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("old.gpkg");
        drop(GpkgStore::open_unindexed(&path).expect("create"));
        let store = GpkgStore::open_unindexed(&path).expect("open again");
        let mut b = store.begin().expect("begin");
        b.upsert(Layer::Incidents, &incident("a")).expect("upsert");
        assert!(!side(&path, "-journal"));
        b.commit().expect("commit");
    }
}
