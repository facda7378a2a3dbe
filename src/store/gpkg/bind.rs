//! An insert statement that binds texts and blobs by reference.
//!
//! rusqlite binds every text and blob as `SQLITE_TRANSIENT`, so SQLite copies
//! each value before the insert copies it once more into the record. The
//! batch's writer binds a prepared row's values, which outlive the statement's
//! step, so it can hand SQLite the row's own bytes (`SQLITE_STATIC`) and
//! clear the bindings before the row goes.

use rusqlite::ffi;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;
use std::ffi::{c_int, c_void, CStr, CString};

/// A statement prepared on the batch's connection, finalized on drop: its
/// owner drops it before it lets the connection go (the connection is used
/// by one thread at a time).
pub(super) struct Insert {
    stmt: *mut ffi::sqlite3_stmt,
}

/// The error SQLite reports for `code`, as rusqlite words it.
fn error(db: *mut ffi::sqlite3, code: c_int) -> rusqlite::Error {
    // SAFETY: `db` is the live connection the statement belongs to; the
    // message is copied before any other call on it.
    let message = unsafe {
        if ffi::sqlite3_errcode(db) == code {
            CStr::from_ptr(ffi::sqlite3_errmsg(db))
        } else {
            CStr::from_ptr(ffi::sqlite3_errstr(code))
        }
    };
    rusqlite::Error::SqliteFailure(
        ffi::Error::new(code),
        Some(message.to_string_lossy().into_owned()),
    )
}

impl Insert {
    /// Prepares `sql` (one statement) on `conn`.
    pub(super) fn prepare(conn: &Connection, sql: &str) -> rusqlite::Result<Self> {
        let text = CString::new(sql).map_err(rusqlite::Error::NulError)?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: the handle is the connection's, used on this thread only
        // while `conn` is borrowed; the statement is finalized on drop.
        unsafe {
            let db = conn.handle();
            let rc =
                ffi::sqlite3_prepare_v2(db, text.as_ptr(), -1, &mut stmt, std::ptr::null_mut());
            if rc != ffi::SQLITE_OK {
                return Err(error(db, rc));
            }
        }
        Ok(Insert { stmt })
    }

    /// Binds `values` to the parameters 1, 2, ..., steps the statement once
    /// and resets it; the number of rows changed. No binding outlives the
    /// call, so the values need only live as long as it.
    pub(super) fn execute<'v>(
        &mut self,
        conn: &Connection,
        values: impl Iterator<Item = ToSqlOutput<'v>>,
    ) -> rusqlite::Result<usize> {
        // SAFETY: only the pointer is read; `conn` is the statement's connection.
        let db = unsafe { conn.handle() };
        let result = self.bind_and_step(db, values);
        // SAFETY: the statement is live; clearing drops every pointer to the
        // values bound above (SQLite keeps bindings across a reset).
        unsafe {
            ffi::sqlite3_reset(self.stmt);
            ffi::sqlite3_clear_bindings(self.stmt);
        }
        result
    }

    fn bind_and_step<'v>(
        &mut self,
        db: *mut ffi::sqlite3,
        values: impl Iterator<Item = ToSqlOutput<'v>>,
    ) -> rusqlite::Result<usize> {
        let stmt = self.stmt;
        for (i, v) in values.enumerate() {
            let n = (i + 1) as c_int;
            let value = match &v {
                ToSqlOutput::Borrowed(v) => *v,
                ToSqlOutput::Owned(v) => ValueRef::from(v),
                _ => {
                    return Err(rusqlite::Error::ToSqlConversionFailure(
                        "only plain values are bound here".into(),
                    ))
                }
            };
            // SAFETY: `stmt` is live; texts and blobs are bound as static:
            // `execute` clears the bindings before `values` can go.
            let rc = unsafe {
                match value {
                    ValueRef::Null => ffi::sqlite3_bind_null(stmt, n),
                    ValueRef::Integer(x) => ffi::sqlite3_bind_int64(stmt, n, x),
                    ValueRef::Real(x) => ffi::sqlite3_bind_double(stmt, n, x),
                    ValueRef::Text(t) => ffi::sqlite3_bind_text64(
                        stmt,
                        n,
                        // SQLite reads `len` bytes; an empty text needs a valid pointer.
                        if t.is_empty() {
                            c"".as_ptr()
                        } else {
                            t.as_ptr().cast()
                        },
                        t.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    // As rusqlite binds an empty blob: a zero-length blob.
                    ValueRef::Blob([]) => ffi::sqlite3_bind_zeroblob64(stmt, n, 0),
                    ValueRef::Blob(b) => ffi::sqlite3_bind_blob64(
                        stmt,
                        n,
                        b.as_ptr().cast::<c_void>(),
                        b.len() as u64,
                        ffi::SQLITE_STATIC(),
                    ),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error(db, rc));
            }
        }
        // SAFETY: the statement is live and every parameter bound.
        match unsafe { ffi::sqlite3_step(stmt) } {
            // SAFETY: the connection is live.
            ffi::SQLITE_DONE => Ok(unsafe { ffi::sqlite3_changes64(db) } as usize),
            ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
            rc => Err(error(db, rc)),
        }
    }
}

impl Drop for Insert {
    fn drop(&mut self) {
        // SAFETY: the statement is live and finalized once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}
