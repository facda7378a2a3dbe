//! The write side of the GeoPackage: an atomic batch in one SQLite transaction.

use super::*;
use crate::store::{Prepared, Ready};
use rusqlite::types::{ToSqlOutput, ValueRef};

pub(super) struct GpkgBatch<'a> {
    store: &'a GpkgStore,
    conn: Option<MutexGuard<'a, Connection>>,
    /// Upserts that added a row (the others replaced one).
    inserts: u64,
    upserts: u64,
    bbox: [Option<[f64; 4]>; N_LAYERS],
    /// Update statement per layer, built once per batch.
    sql: [String; N_LAYERS],
    /// Insert-if-new statement per layer: a new id costs one statement, and
    /// only a replacement reads the stored version for the history.
    insert: [String; N_LAYERS],
    /// Who replacements are recorded as.
    author: String,
    /// The provenance of the rows written; the author when not set.
    source: Option<String>,
    /// Per layer: whether its first upsert took the index's insert trigger
    /// out, and the index work left for [`GpkgBatch::settle`].
    deferred: [Option<Option<rtree::Deferred>>; N_LAYERS],
    /// Per layer: the rows inserted since the index's trigger was taken out
    /// of a layer that was empty, with their index cells; `None` once a row
    /// was replaced or cannot be packed (then the index reads the table).
    inserted: [Option<rtree::Inserted>; N_LAYERS],
    /// Per layer: the secondary indexes its first upsert took out because
    /// the layer was empty (built in bulk by [`GpkgBatch::settle`]).
    indexes: [Option<bulk::Deferred>; N_LAYERS],
    /// Per layer: `insert`, prepared once per batch; finalized before the
    /// batch lets the connection go.
    prepared: [Option<bind::Insert>; N_LAYERS],
    /// The journal this batch writes with (`journal.rs`).
    journal: journal::Journal,
}

fn layer_slot(layer: Layer) -> usize {
    Layer::ALL.iter().position(|l| *l == layer).unwrap_or(0)
}

/// Replaces the feature with the bound id: binds `geom`, then
/// `columns(layer)`, then the provenance column, as `insert_sql` does. A
/// plain UPDATE, not an upsert: an upsert's conflict clause would override
/// the `INSERT OR REPLACE` of the R-tree triggers GDAL and GeoPackage 1.3
/// write, and fail on the index.
fn update_sql(layer: Layer) -> String {
    let mut cols = columns(layer);
    cols.push(SOURCE_COLUMN);
    let sets: Vec<String> = std::iter::once("geom = ?1".to_string())
        .chain(
            cols.iter()
                .enumerate()
                .filter(|(_, c)| **c != "id")
                .map(|(i, c)| format!("\"{c}\" = ?{}", i + 2)),
        )
        .collect();
    format!(
        "UPDATE {} SET {} WHERE id = ?2",
        layer.name(),
        sets.join(", ")
    )
}

/// Inserts a feature, doing nothing when the id exists: a new id costs one
/// statement.
fn insert_sql(layer: Layer) -> String {
    let mut cols = columns(layer);
    cols.push(SOURCE_COLUMN);
    let quoted: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
    let placeholders: Vec<String> = (1..=cols.len() + 1).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {} (geom, {}) VALUES ({}) ON CONFLICT(id) DO NOTHING",
        layer.name(),
        quoted.join(", "),
        placeholders.join(", ")
    )
}

impl<'a> GpkgBatch<'a> {
    /// Opens the write transaction.
    pub(super) fn begin(store: &'a GpkgStore) -> Result<Self> {
        let conn = store.conn();
        let journal = journal::for_batch(store, &conn);
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            journal::after_batch(&conn, journal);
            return Err(store.err(e));
        }
        Ok(GpkgBatch {
            store,
            conn: Some(conn),
            inserts: 0,
            upserts: 0,
            bbox: [None; N_LAYERS],
            sql: Layer::ALL.map(update_sql),
            insert: Layer::ALL.map(insert_sql),
            author: LOCAL_AUTHOR.to_string(),
            source: None,
            deferred: [const { None }; N_LAYERS],
            indexes: [const { None }; N_LAYERS],
            inserted: [const { None }; N_LAYERS],
            prepared: [const { None }; N_LAYERS],
            journal,
        })
    }

    /// Indexes the rows inserted so far in bulk and puts every insert
    /// trigger and secondary index taken out back, so the indexes are whole
    /// again: before the commit, and before any other kind of write or read
    /// in the batch.
    fn settle(&mut self) -> Result<()> {
        let conn = self
            .conn
            .as_deref()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
        for (i, layer) in Layer::ALL.iter().enumerate() {
            let indexes = self.indexes[i].take();
            let build = || indexes.map_or(Ok(()), |d| bulk::settle(conn, d));
            let inserted = self.inserted[i].take();
            match self.deferred[i].take() {
                // The R-tree is packed on another thread while SQLite builds the other indexes.
                Some(Some(d)) => rtree::settle(conn, *layer, d, inserted, build),
                _ => build(),
            }
            .map_err(|e| self.store.err(e))?;
        }
        Ok(())
    }

    /// The batch's connection, inside its transaction.
    fn live(&self) -> Result<&Connection> {
        self.conn
            .as_deref()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))
    }
}

impl GpkgBatch<'_> {
    /// Writes encoded rows in order through one prepared statement: a new id
    /// costs one insert; an existing one is replaced, keeping its history.
    fn write_rows(
        &mut self,
        layer: Layer,
        rows: impl Iterator<Item = impl std::borrow::Borrow<Row>>,
    ) -> Result<()> {
        let store = self.store;
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
        let slot = layer_slot(layer);
        if self.deferred[slot].is_none() {
            // Index this layer's new rows in bulk at the end (see `settle`).
            let d = rtree::defer(conn, layer).map_err(|e| store.err(e))?;
            self.inserted[slot] = d
                .as_ref()
                .filter(|d| d.empty_before())
                .map(|_| rtree::Inserted::default());
            self.deferred[slot] = Some(d);
            self.indexes[slot] = bulk::defer(conn, layer).map_err(|e| store.err(e))?;
        }
        let source = self.source.as_deref().unwrap_or(&self.author);
        if self.prepared[slot].is_none() {
            self.prepared[slot] =
                Some(bind::Insert::prepare(conn, &self.insert[slot]).map_err(|e| store.err(e))?);
        }
        let Some(insert) = self.prepared[slot].as_mut() else {
            return Err(StoreError::Aborted("statement not prepared".into()));
        };
        let bbox = &mut self.bbox[slot];
        let source = ToSqlOutput::Borrowed(ValueRef::Text(source.as_bytes()));
        for row in rows {
            let row = row.borrow();
            let values = || row.values().chain(std::iter::once(source.clone()));
            let added = insert.execute(conn, values()).map_err(|e| store.err(e))?;
            let inserted = &mut self.inserted[slot];
            if added == 0 {
                // A replaced row's old cell would be packed: the index reads the table.
                *inserted = None;
                let values: Vec<_> = values().collect();
                store.replace_on(conn, layer, &row.id, &values, &self.sql[slot], &self.author)?;
            } else {
                self.inserts += 1;
                if let Some(i) = inserted {
                    if !i.add(conn.last_insert_rowid(), row.rtree) {
                        *inserted = None;
                    }
                }
            }
            let b = row.bbox;
            *bbox = Some(match *bbox {
                None => b,
                Some(a) => [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ],
            });
            self.upserts += 1;
        }
        Ok(())
    }
}

impl Batch for GpkgBatch<'_> {
    fn get(&mut self, layer: Layer, id: &str) -> Result<Option<Feature>> {
        let conn = self.live()?;
        self.store.get_on(conn, layer, id)
    }

    fn set_author(&mut self, author: &str) {
        self.author = author.to_string();
    }

    fn set_source(&mut self, source: &str) {
        self.source = Some(source.to_string());
    }

    fn delete(&mut self, layer: Layer, selection: &Selection) -> Result<Vec<String>> {
        self.settle()?;
        let conn = self.live()?;
        self.store.delete_on(conn, layer, selection, &self.author)
    }

    fn inspect(
        &mut self,
        layer: Layer,
        visit: &mut dyn FnMut(StoredRow) -> Result<()>,
    ) -> Result<u64> {
        self.settle()?;
        let conn = self.live()?;
        self.store.inspect_on(conn, layer, visit)
    }

    fn quarantine(&mut self, layer: Layer, key: i64, reasons: &str) -> Result<()> {
        self.settle()?;
        let conn = self.live()?;
        self.store
            .quarantine_on(conn, layer, key, reasons, &self.author)
    }

    fn sources(&mut self, layer: Layer) -> Result<Vec<(Option<String>, u64)>> {
        let conn = self.live()?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {SOURCE_COLUMN}, count(*) FROM {} GROUP BY 1 ORDER BY 1",
                layer.name()
            ))
            .map_err(|e| self.store.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(|e| self.store.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.store.err(e))
    }

    fn restore(&mut self, layer: Layer, id: &str) -> Result<u64> {
        self.settle()?;
        let conn = self.live()?;
        self.store.restore_on(conn, layer, id)
    }

    fn upsert(&mut self, layer: Layer, f: &Feature) -> Result<()> {
        self.write_rows(layer, std::iter::once(Row::encode(layer, f)))
    }

    fn upsert_prepared(&mut self, layer: Layer, items: &[Prepared]) -> Result<()> {
        use std::borrow::Cow;
        if items.iter().any(|item| matches!(item.0, Ready::Pg(_))) {
            return Err(StoreError::Aborted(
                "a feature prepared by another kind of store".into(),
            ));
        }
        self.write_rows(
            layer,
            items.iter().map(|item| match &item.0 {
                Ready::Row(r) => Cow::Borrowed(r),
                // Not prepared by this store: encoded here.
                Ready::Feature(f) => Cow::Owned(Row::encode(layer, f)),
                Ready::Pg(_) => unreachable!("refused above"),
            }),
        )
    }

    fn commit(mut self: Box<Self>) -> Result<BatchStats> {
        self.settle()?;
        // Finalized while the connection is still this batch's.
        self.prepared = [const { None }; N_LAYERS];
        let store = self.store;
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
        let run = |conn: &Connection| -> rusqlite::Result<()> {
            for (i, layer) in Layer::ALL.iter().enumerate() {
                let Some(b) = self.bbox[i] else { continue };
                // The extent only grows on upsert: GeoPackage readers treat it as informative.
                conn.execute(
                    "UPDATE gpkg_contents SET
                       min_x = min(COALESCE(min_x, ?1), ?1), min_y = min(COALESCE(min_y, ?2), ?2),
                       max_x = max(COALESCE(max_x, ?3), ?3), max_y = max(COALESCE(max_y, ?4), ?4),
                       last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now')
                     WHERE table_name = ?5",
                    rusqlite::params![b[0], b[1], b[2], b[3], layer.name()],
                )?;
            }
            conn.execute(
                "UPDATE jointmap_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_version'",
                [],
            )?;
            conn.execute_batch("COMMIT")?;
            Ok(())
        };
        if let Err(e) = run(&conn) {
            let _ = conn.execute_batch("ROLLBACK");
            journal::after_batch(&conn, self.journal);
            return Err(store.err(e));
        }
        match self.journal {
            // Fold what this batch logged into the file where no reader
            // needs the log (never waits): the file stays close to a whole copy.
            journal::Journal::Wal => {
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
            journal::Journal::Rollback => journal::after_batch(&conn, self.journal),
        }
        drop(conn);
        store
            .indexes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(BatchStats {
            inserted: self.inserts,
            updated: self.upserts - self.inserts,
        })
    }
}

impl Drop for GpkgBatch<'_> {
    fn drop(&mut self) {
        // Finalized while the connection is still this batch's.
        self.prepared = [const { None }; N_LAYERS];
        if let Some(conn) = self.conn.take() {
            // Not committed: discard everything this batch wrote.
            let _ = conn.execute_batch("ROLLBACK");
            journal::after_batch(&conn, self.journal);
        }
    }
}
