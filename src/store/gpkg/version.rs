//! The data version, read without waiting: a connection of its own keeps the version it
//! last read with SQLite's `PRAGMA data_version` at that moment, a counter that moves
//! when any other connection (of this process or another one) commits, read from the
//! WAL index in shared memory. While it has not moved, the version is the one read
//! before and no table is read; so a server can ask on every request, on its own
//! thread (`FeatureSource::data_version_now`), instead of handing each request to a
//! blocking thread for a query.

use super::{readers, GpkgStore};
use rusqlite::{Connection, OptionalExtension};
use std::sync::Mutex;

/// The version connection and what it read last.
#[derive(Default)]
pub(super) struct VersionReader(Mutex<Option<Stamped>>);

struct Stamped {
    conn: Connection,
    /// `PRAGMA data_version` when `version` was read (`None`: not read yet).
    stamp: Option<i64>,
    version: u64,
}

impl Stamped {
    fn read(&mut self) -> rusqlite::Result<u64> {
        // Prepared once per connection: parsing the pragma cost as much as running it.
        let stamp: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if self.stamp != Some(stamp) {
            // A commit may land between the two reads: the version read is then newer
            // than the stamp, and the next call reads it again. Never older.
            self.version = read_meta(&self.conn)?;
            self.stamp = Some(stamp);
        }
        Ok(self.version)
    }
}

/// The stored data version (0 in a store that never had a write).
pub(super) fn read_meta(conn: &Connection) -> rusqlite::Result<u64> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM jointmap_meta WHERE key = 'data_version'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

impl GpkgStore {
    /// The data version, waiting for the version connection (opened on first use) and
    /// for SQLite's locks as any read does.
    pub(super) fn stamped_version(&self) -> super::Result<u64> {
        let mut slot = self.version.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            let conn = self.open_reader().map_err(|e| self.err(e))?;
            *slot = Some(Stamped {
                conn,
                stamp: None,
                version: 0,
            });
        }
        let s = slot.as_mut().expect("opened above");
        s.read().map_err(|e| self.err(e))
    }

    /// The data version if it can be had at once: the version connection is open and
    /// free, and SQLite answers without waiting for a lock. `None` otherwise (the
    /// caller then asks [`GpkgStore::stamped_version`] on a blocking thread).
    pub(super) fn version_at_once(&self) -> Option<super::Result<u64>> {
        let mut slot = match self.version.0.try_lock() {
            Ok(s) => s,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        let s = slot.as_mut()?;
        let _ = s.conn.busy_timeout(std::time::Duration::ZERO);
        let r = s.read();
        let _ = s.conn.busy_timeout(readers::BUSY_WAIT);
        match r {
            Ok(v) => Some(Ok(v)),
            // A checkpoint or a recovery holds a lock: wait for it elsewhere.
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) =>
            {
                None
            }
            Err(e) => Some(Err(self.err(e))),
        }
    }
}
