//! Keeping the store copyable while a server runs: checkpoints move the
//! write-ahead log into the file, and `backup` writes a consistent copy
//! through SQLite's online backup API while others keep writing.

use super::{GpkgStore, Result};
use crate::store::StoreError;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::Connection;
use std::path::Path;

/// How often a busy source is retried before the backup gives up.
const BUSY_RETRIES: u32 = 600;

impl GpkgStore {
    /// Moves the committed write-ahead log into the file. `truncate` waits
    /// for readers (up to the busy timeout) and empties the log, so the file
    /// alone is the whole store; otherwise copies what it can without waiting.
    pub fn checkpoint(&self, truncate: bool) -> Result<()> {
        let mode = if truncate { "TRUNCATE" } else { "PASSIVE" };
        self.conn()
            .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
            .map_err(|e| self.err(e))
    }

    /// Writes a consistent copy of the store to `dest` while other
    /// connections (a running server, an ingest) keep reading and writing:
    /// the copy is one read snapshot of the store (WAL mode lets writers go
    /// on meanwhile), written to a temporary file beside `dest` and renamed
    /// over it only when complete, so `dest` is never a torn copy.
    pub fn backup(&self, dest: &Path) -> Result<()> {
        let io = |reason: String| StoreError::Invalid {
            location: dest.display().to_string(),
            reason,
        };
        if same_file(&self.path, dest) {
            return Err(io("is the store itself; give another file".into()));
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".jointmap-backup-")
            .suffix(".gpkg")
            .tempfile_in(dir)
            .map_err(|e| io(format!("cannot create a file in {}: {e}", dir.display())))?;
        {
            let src = self.conn();
            let mut dst = Connection::open(tmp.path()).map_err(|e| self.err(e))?;
            let backup = Backup::new(&src, &mut dst).map_err(|e| self.err(e))?;
            let mut busy = 0;
            // All pages in one step: one read transaction, so one snapshot.
            loop {
                match backup.step(-1).map_err(|e| self.err(e))? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    StepResult::Busy | StepResult::Locked => {
                        busy += 1;
                        if busy > BUSY_RETRIES {
                            return Err(io("the store stayed locked; try again".into()));
                        }
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    _ => {}
                }
            }
            drop(backup);
            // The copy is a single file: its log folded in.
            dst.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| self.err(e))?;
            dst.close().map_err(|(_, e)| self.err(e))?;
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| io(format!("cannot sync: {e}")))?;
        tmp.persist(dest)
            .map_err(|e| io(format!("cannot write: {}", e.error)))?;
        for suffix in ["-wal", "-shm"] {
            let mut p = dest.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
        Ok(())
    }
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Feature, Layer};
    use crate::store::{FeatureSink, FeatureSource};
    use serde_json::json;

    fn incident(i: usize) -> Feature {
        let v = json!({"type": "Feature", "id": format!("i{i}"),
            "geometry": {"type": "Point", "coordinates": [18.0 + i as f64 * 0.001, 4.4]},
            "properties": {"time_start": "2025-02-14T03:00:00Z", "category": "killing",
                "owner": "hr", "classification": "restricted", "narrative": "x".repeat(200)}});
        Feature::from_geojson(Layer::Incidents, v, "").expect("valid incident")
    }

    /// A plain copy of the file alone (what an operator's `cp` or a file
    /// backup takes) holds every committed batch, and after `maintain` the
    /// log beside it is empty.
    #[test]
    fn the_file_alone_holds_every_commit_and_maintain_empties_the_log() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("s.gpkg");
        let store = GpkgStore::open(&path).expect("open");
        // A second handle reading meanwhile, as a server does.
        let server = GpkgStore::open(&path).expect("open again");
        for round in 0..3 {
            let mut b = store.begin().expect("begin");
            for i in 0..200 {
                b.upsert(Layer::Incidents, &incident(round * 200 + i))
                    .expect("upsert");
            }
            b.commit().expect("commit");
            assert_eq!(
                server.summary(Layer::Incidents).expect("summary").count,
                (round as u64 + 1) * 200
            );
            let copy = dir.path().join(format!("copy{round}.gpkg"));
            std::fs::copy(&path, &copy).expect("copy the file alone");
            let n: i64 = Connection::open(&copy)
                .and_then(|c| c.query_row("SELECT count(*) FROM incidents", [], |r| r.get(0)))
                .expect("read the copy");
            assert_eq!(n, (round as i64 + 1) * 200, "round {round}");
        }
        let wal = dir.path().join("s.gpkg-wal");
        assert!(std::fs::metadata(&wal).expect("log").len() > 0);
        server.maintain().expect("maintain");
        assert_eq!(std::fs::metadata(&wal).expect("log").len(), 0);
    }
}
