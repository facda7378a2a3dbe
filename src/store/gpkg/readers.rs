//! Connections of their own for reads, so that no read waits for a batch: the writer's
//! connection (`GpkgStore::conn`) holds the write transaction of a batch from `begin` to
//! `commit`, while in WAL mode every reader sees the last commit meanwhile.
//!
//! [`READERS`] connections, opened on first use. Slot 0 is the columns' own
//! (`columns.rs`): their stamp (`PRAGMA data_version`) counts the commits one connection
//! has not seen, so it is only comparable on the same connection. Other reads take any
//! free slot, slot 0 last, and wait for one only when all are busy.

use super::{functions, GpkgStore};
use rusqlite::{Connection, OpenFlags};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Read connections per store.
pub(super) const READERS: usize = 4;

/// How long a read waits for SQLite's own locks (in WAL mode only while a checkpoint or a
/// recovery runs), as the writer's connection does.
pub(super) const BUSY_WAIT: Duration = Duration::from_secs(10);

/// The store's read connections.
#[derive(Default)]
pub(super) struct Readers {
    slots: [Mutex<Option<Connection>>; READERS],
    next: AtomicUsize,
}

/// A read connection, given back when dropped.
pub(super) struct Reader<'a>(MutexGuard<'a, Option<Connection>>);

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.0.as_ref().expect("opened before it is handed out")
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.0.as_mut().expect("opened before it is handed out")
    }
}

impl GpkgStore {
    /// A read connection: a free one, else the next in turn when it is given back.
    pub(super) fn reader(&self) -> super::Result<Reader<'_>> {
        let start = self.readers.next.fetch_add(1, Ordering::Relaxed);
        // Slots 1.. in turn, then 0 (the columns').
        let order = (0..READERS - 1)
            .map(|i| 1 + (start + i) % (READERS - 1))
            .chain([0]);
        for i in order {
            match self.readers.slots[i].try_lock() {
                Ok(slot) => return self.ready(slot),
                // A read that panicked: the connection is still good (see `ready`).
                Err(std::sync::TryLockError::Poisoned(p)) => return self.ready(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        let i = 1 + start % (READERS - 1);
        self.ready(
            self.readers.slots[i]
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// The columns' read connection (slot 0).
    pub(super) fn columns_reader(&self) -> super::Result<Reader<'_>> {
        self.ready(
            self.readers.slots[0]
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    fn ready<'a>(&self, mut slot: MutexGuard<'a, Option<Connection>>) -> super::Result<Reader<'a>> {
        match slot.as_ref() {
            None => *slot = Some(self.open_reader().map_err(|e| self.err(e))?),
            // A read that panicked inside its read transaction left it open: without a
            // rollback this connection would keep answering from that old snapshot (an
            // old data version) and hold back the WAL's checkpoints.
            Some(conn) if !conn.is_autocommit() => {
                if conn.execute_batch("ROLLBACK").is_err() {
                    *slot = Some(self.open_reader().map_err(|e| self.err(e))?);
                }
            }
            Some(_) => {}
        }
        Ok(Reader(slot))
    }

    pub(super) fn open_reader(&self) -> rusqlite::Result<Connection> {
        // Not SQLITE_OPEN_CREATE: the writer made the file; read-write so that the columns
        // can be written back (`columns.rs`), never for anything else.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_WAIT)?;
        functions::register(&conn)?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch("PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;")?;
        Ok(conn)
    }
}

/// Runs `f` with SQLite's busy wait off on `conn`: a best-effort write from a reader
/// (the columns written back) gives up at once while a batch holds the write lock, instead
/// of making its read wait for the batch.
pub(super) fn without_waiting<T>(conn: &Connection, f: impl FnOnce() -> T) -> T {
    let _ = conn.busy_timeout(Duration::ZERO);
    let out = f();
    let _ = conn.busy_timeout(BUSY_WAIT);
    out
}
