//! Secondary indexes built once, in bulk, when a batch fills an empty
//! layer. Inserting a million rows in random time order into the time index
//! costs a million random B-tree descents; building the index afterwards is
//! one sort. So a batch's first write into a layer that was empty when the
//! batch began drops the layer's plain secondary indexes, and the batch
//! creates them again, from their stored SQL, before anything reads the
//! layer or the batch commits. Both happen inside the batch's transaction:
//! the file never holds the layer without its indexes (a crash or a rollback
//! restores them with everything else).
//!
//! Unique indexes are never dropped: they enforce the constraints the
//! batch's upserts rely on (`ON CONFLICT(id)`), whatever tool created them.

use crate::model::Layer;
use rusqlite::Connection;

/// The indexes a batch took out of a layer: their `CREATE INDEX` texts, as
/// stored (jointmap's or another tool's).
pub(super) struct Deferred {
    sql: Vec<String>,
}

/// Whether `sql` creates a unique index (SQLite keeps the statement as the
/// user wrote it, so the keyword is matched case-insensitively).
fn is_unique(sql: &str) -> bool {
    sql.split_whitespace()
        .nth(1)
        .is_some_and(|w| w.eq_ignore_ascii_case("UNIQUE"))
}

/// Drops the plain secondary indexes of `layer` for the rest of the
/// transaction when the layer holds no row; `None` when there is nothing to
/// defer. Automatic indexes (of `UNIQUE` and `PRIMARY KEY` columns) have no
/// stored SQL and stay.
pub(super) fn defer(conn: &Connection, layer: Layer) -> rusqlite::Result<Option<Deferred>> {
    let t = layer.name();
    let empty: bool = conn.query_row(
        &format!("SELECT NOT EXISTS (SELECT 1 FROM \"{t}\")"),
        [],
        |r| r.get(0),
    )?;
    if !empty {
        return Ok(None);
    }
    let mut stmt = conn.prepare(
        "SELECT name, sql FROM sqlite_master
         WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL ORDER BY name",
    )?;
    let found: Vec<(String, String)> = stmt
        .query_map([t], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let plain: Vec<(String, String)> = found.into_iter().filter(|(_, s)| !is_unique(s)).collect();
    if plain.is_empty() {
        return Ok(None);
    }
    for (name, _) in &plain {
        conn.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
    }
    Ok(Some(Deferred {
        sql: plain.into_iter().map(|(_, s)| s).collect(),
    }))
}

/// The sorter's settings while the indexes are built: a sorter with temporary
/// storage in memory keeps every key in one list and sorts it at the end on
/// this thread (a million keys took longer than scanning the table); with
/// temporary files and worker threads it hands each run of keys (as large as
/// the page cache) to a worker to sort while this thread goes on scanning,
/// and merges the runs on the workers too. A smaller cache makes several runs;
/// dirty pages it no longer holds go to the write-ahead log, as at the commit.
const SORT_PRAGMAS: &str =
    "PRAGMA temp_store = FILE; PRAGMA threads = 2; PRAGMA cache_size = -8192;";

/// Creates the deferred indexes again, each from the rows now stored.
pub(super) fn settle(conn: &Connection, d: Deferred) -> rusqlite::Result<()> {
    let (temp_store, threads, cache): (i64, i64, i64) = (
        conn.query_row("PRAGMA temp_store", [], |r| r.get(0))?,
        conn.query_row("PRAGMA threads", [], |r| r.get(0))?,
        conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?,
    );
    let restore = format!(
        "PRAGMA temp_store = {temp_store}; PRAGMA threads = {threads}; PRAGMA cache_size = {cache};"
    );
    // Refused when the connection has temporary tables: then as before.
    let mut sorting = conn.execute_batch(SORT_PRAGMAS).is_ok();
    for sql in &d.sql {
        match conn.execute_batch(sql) {
            Ok(()) => {}
            // A failed statement is undone alone: built again as before (e.g.
            // where no temporary file can be made).
            Err(_) if sorting => {
                sorting = false;
                conn.execute_batch(&restore)?;
                conn.execute_batch(sql)?;
            }
            Err(e) => return Err(e),
        }
    }
    if sorting {
        conn.execute_batch(&restore)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_unique;

    #[test]
    fn unique_indexes_are_told_apart_whatever_the_case() {
        assert!(is_unique("CREATE UNIQUE INDEX x ON t(id)"));
        assert!(is_unique("create  unique index x on t(id)"));
        assert!(!is_unique(
            "CREATE INDEX incidents_time ON incidents(time_start)"
        ));
        assert!(!is_unique("CREATE INDEX unique_ish ON t(a)"));
    }
}
