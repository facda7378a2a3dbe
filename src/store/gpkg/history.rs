//! Earlier versions of replaced features: the `jointmap_history` table.
//!
//! Replacing a feature (re-ingesting its id) first copies the stored version,
//! as jointmap GeoJSON, into `jointmap_history` with the time and the batch's
//! author (a token's name, or `cli`), in the same transaction as the
//! replacement: both are committed or neither. The table is registered in
//! `gpkg_contents` under jointmap's own data type, not as features or
//! attributes, so GeoPackage readers (GDAL, QGIS) do not list it as a layer.
//! Stores written before it existed get it on open.
//!
//! An identical re-ingest (every stored column the same, geometry bytes
//! included) writes nothing and adds no history row: re-running the same
//! import must not grow the store, and there is no earlier version to keep.

use super::{GpkgStore, Result};
use crate::model::{Feature, Layer};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection};

/// Creates the table and its index when missing, and registers jointmap's
/// own tables (this one and `jointmap_meta`) under a data type of their own,
/// an extension as GeoPackage 1.3 allows: GDAL lists every table missing from
/// `gpkg_contents` as a layer, and none of another type.
///
/// `add_change` adds the `change` column to a history table written before
/// deletions were kept.
pub(super) fn tables_sql(add_change: bool) -> String {
    let mut sql = String::new();
    if add_change {
        sql.push_str(
            "ALTER TABLE jointmap_history ADD COLUMN change TEXT NOT NULL DEFAULT 'replaced';",
        );
    }
    sql.push_str(
        "CREATE TABLE IF NOT EXISTS jointmap_history (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, layer TEXT NOT NULL, id TEXT NOT NULL,
          feature TEXT NOT NULL, replaced_at TEXT NOT NULL, replaced_by TEXT NOT NULL,
          change TEXT NOT NULL DEFAULT 'replaced');
        CREATE INDEX IF NOT EXISTS jointmap_history_id ON jointmap_history(layer, id);
        CREATE TABLE IF NOT EXISTS gpkg_extensions (
          table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
          definition TEXT NOT NULL, scope TEXT NOT NULL,
          CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));",
    );
    for table in ["jointmap_meta", "jointmap_history"] {
        sql.push_str(&internal_table_sql(table));
    }
    sql
}

/// Registers one of jointmap's own tables under its own data type (see
/// `tables_sql`).
pub(super) fn internal_table_sql(table: &str) -> String {
    // NULL column names are distinct to UNIQUE: hence NOT EXISTS.
    format!(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description)
               VALUES ('{table}', 'jointmap', '{table}', 'jointmap internal table');
             INSERT INTO gpkg_extensions SELECT '{table}', NULL, 'jointmap_store',
               'docs/data-model.md of jointmap', 'read-write'
               WHERE NOT EXISTS (SELECT 1 FROM gpkg_extensions WHERE table_name = '{table}'
                 AND extension_name = 'jointmap_store');"
    )
}

/// Why a version left the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A newer version with the same id replaced it.
    Replaced,
    /// `jointmap delete` removed it.
    Deleted,
}

impl Change {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Replaced => "replaced",
            Change::Deleted => "deleted",
        }
    }
}

/// One replaced or deleted version of a feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The layer.
    pub layer: String,
    /// The feature's id.
    pub id: String,
    /// The version that was replaced, as a jointmap GeoJSON Feature.
    pub feature: String,
    /// When it was replaced (UTC, `YYYY-MM-DDTHH:MM:SS.sssZ`).
    pub replaced_at: String,
    /// Who replaced it: a token's name, or `cli`.
    pub replaced_by: String,
    /// Whether it was replaced or deleted.
    pub change: Change,
}

impl GpkgStore {
    /// Every replaced version of feature `id` of `layer`, oldest first. For
    /// operators (restoring a record, looking into who changed it); the
    /// server never serves it.
    pub fn history(&self, layer: Layer, id: &str) -> Result<Vec<HistoryEntry>> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare(
                "SELECT layer, id, feature, replaced_at, replaced_by, change FROM jointmap_history
                 WHERE layer = ?1 AND id = ?2 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([layer.name(), id], |r| {
                Ok(HistoryEntry {
                    layer: r.get(0)?,
                    id: r.get(1)?,
                    feature: r.get(2)?,
                    replaced_at: r.get(3)?,
                    replaced_by: r.get(4)?,
                    change: match r.get_ref(5)?.as_str()? {
                        "deleted" => Change::Deleted,
                        _ => Change::Replaced,
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// The feature stored under `id`, read on `conn` (inside its transaction).
    pub(super) fn get_on(
        &self,
        conn: &Connection,
        layer: Layer,
        id: &str,
    ) -> Result<Option<Feature>> {
        let mut stmt = conn
            .prepare_cached(&format!("{} WHERE id = ?1", Self::select_sql(layer)))
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([id]).map_err(|e| self.err(e))?;
        match rows.next().map_err(|e| self.err(e))? {
            Some(row) => self.row_to_feature(layer, row).map(Some),
            None => Ok(None),
        }
    }

    /// Replaces the stored feature `id` of `layer` with `values` (bound in
    /// `upsert_sql`'s order) by running `upsert`, after copying the stored
    /// version into the history. Does nothing when the stored row already
    /// holds exactly `values`.
    pub(super) fn replace_on(
        &self,
        conn: &Connection,
        layer: Layer,
        id: &str,
        values: &[ToSqlOutput<'_>],
        upsert: &str,
        author: &str,
    ) -> Result<()> {
        let sql = |e| self.err(e);
        let previous = {
            let mut stmt = conn
                .prepare_cached(&format!("{} WHERE id = ?1", Self::select_sql(layer)))
                .map_err(sql)?;
            let mut rows = stmt.query([id]).map_err(sql)?;
            match rows.next().map_err(sql)? {
                // `select_sql` gives `fid` first, then the bound columns in
                // order; the provenance (bound last) is not compared: the
                // same version from another source is still the same.
                Some(row) if same_row(row, &values[..values.len().saturating_sub(1)]) => {
                    return Ok(())
                }
                Some(row) => Some(self.row_to_feature(layer, row)?),
                None => None,
            }
        };
        if let Some(previous) = previous {
            self.keep_on(conn, layer, &previous, author, Change::Replaced)?;
        }
        conn.prepare_cached(upsert)
            .and_then(|mut s| s.execute(params_from_iter(values.iter())))
            .map_err(sql)?;
        Ok(())
    }

    /// Keeps `version` of a feature in the history, on `conn` (inside its
    /// transaction).
    pub(super) fn keep_on(
        &self,
        conn: &Connection,
        layer: Layer,
        version: &Feature,
        author: &str,
        change: Change,
    ) -> Result<()> {
        conn.prepare_cached(
            "INSERT INTO jointmap_history (layer, id, feature, replaced_at, replaced_by, change)
             VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(rusqlite::params![
                layer.name(),
                version.id,
                version.to_geojson().to_string(),
                author,
                change.as_str()
            ])
        })
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Number of history rows (tests).
    #[cfg(test)]
    pub(super) fn history_len(&self) -> i64 {
        self.conn()
            .query_row("SELECT count(*) FROM jointmap_history", [], |r| r.get(0))
            .unwrap_or(-1)
    }
}

/// Whether the stored row (`fid`, then the bound columns) holds exactly
/// `values`. A value that cannot be compared counts as a difference, so at
/// worst a history row too many is written.
fn same_row(row: &rusqlite::Row<'_>, values: &[ToSqlOutput<'_>]) -> bool {
    values.iter().enumerate().all(|(i, v)| {
        let new = match v {
            ToSqlOutput::Borrowed(r) => *r,
            ToSqlOutput::Owned(o) => ValueRef::from(o),
            _ => return false,
        };
        row.get_ref(i + 1).is_ok_and(|old| old == new)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FeatureSink, FeatureSource};
    use serde_json::{json, Value};

    fn incident(id: &str, narrative: &str) -> Feature {
        let v = json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
            "properties": {"time_start": "2025-02-14T03:00:00Z", "category": "killing",
                "owner": "hr", "classification": "strictly-confidential", "consent": "hr-only",
                "killed_men": 2, "narrative": narrative, "village_code": "V-17",
                "exposure_note": {"nested": [1, 2]}}});
        Feature::from_geojson(Layer::Incidents, v, "").expect("valid incident")
    }

    fn write(store: &GpkgStore, author: Option<&str>, features: &[Feature]) {
        let mut b = store.begin().expect("begin");
        if let Some(a) = author {
            b.set_author(a);
        }
        for f in features {
            b.upsert(Layer::Incidents, f).expect("upsert");
        }
        b.commit().expect("commit");
    }

    #[test]
    fn a_replacement_keeps_the_previous_version_and_an_identical_one_none() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
        let v1 = incident("a", "first account");
        write(&store, None, &[v1.clone(), incident("b", "other")]);
        assert_eq!(store.history_len(), 0, "new ids have no history");
        // The same bytes again: nothing to keep.
        write(&store, Some("hr-desk"), std::slice::from_ref(&v1));
        assert_eq!(store.history_len(), 0, "identical re-ingest");
        let v2 = incident("a", "corrected account");
        write(&store, Some("hr-desk"), std::slice::from_ref(&v2));
        let h = store.history(Layer::Incidents, "a").expect("history");
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].layer.as_str(), h[0].id.as_str()), ("incidents", "a"));
        assert_eq!(h[0].replaced_by, "hr-desk");
        assert_eq!(h[0].replaced_at.len(), "2025-01-01T00:00:00.000Z".len());
        let old: Value = serde_json::from_str(&h[0].feature).expect("json");
        assert_eq!(old, v1.to_geojson());
        // Without an author, a batch is a local operator's.
        write(&store, None, &[incident("a", "third")]);
        let h = store.history(Layer::Incidents, "a").expect("history");
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].replaced_by, "cli");
        assert_eq!(
            serde_json::from_str::<Value>(&h[1].feature).expect("json"),
            v2.to_geojson()
        );
        assert!(store
            .history(Layer::Sites, "a")
            .expect("history")
            .is_empty());
    }

    /// `get` sees committed data and the batch's own writes; a batch dropped
    /// without commit leaves neither the replacement nor its history.
    #[test]
    fn get_reads_inside_the_batch_and_a_rollback_keeps_no_history() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
        write(&store, None, &[incident("a", "kept")]);
        {
            let mut b = store.begin().expect("begin");
            let got = b.get(Layer::Incidents, "a").expect("get");
            assert_eq!(got.as_ref().and_then(|f| f.str("narrative")), Some("kept"));
            assert!(b.get(Layer::Incidents, "zzz").expect("get").is_none());
            assert!(b.get(Layer::Sightings, "a").expect("get").is_none());
            b.upsert(Layer::Incidents, &incident("a", "dropped"))
                .expect("upsert");
            b.upsert(Layer::Incidents, &incident("n", "new"))
                .expect("upsert");
            let got = b.get(Layer::Incidents, "a").expect("get");
            assert_eq!(
                got.and_then(|f| f.str("narrative").map(String::from))
                    .as_deref(),
                Some("dropped")
            );
            assert!(b.get(Layer::Incidents, "n").expect("get").is_some());
        }
        assert_eq!(store.history_len(), 0);
        let mut all = Vec::new();
        store
            .query(
                Layer::Incidents,
                &crate::store::Query::default(),
                &mut |f| {
                    all.push(f);
                    Ok(())
                },
            )
            .expect("query");
        assert_eq!(all, [incident("a", "kept")]);
    }

    #[test]
    fn a_store_without_the_history_table_gets_it_on_open() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("old.gpkg");
        {
            let store = GpkgStore::open(&path).expect("open");
            write(&store, None, &[incident("a", "one")]);
        }
        Connection::open(&path)
            .and_then(|c| {
                // What a store written before the history looks like.
                c.execute_batch(
                    "DROP TABLE jointmap_history; DROP TABLE gpkg_extensions;
                     DELETE FROM gpkg_contents WHERE data_type = 'jointmap';",
                )
            })
            .expect("drop the history table");
        let store = GpkgStore::open(&path).expect("reopen");
        write(&store, Some("x"), &[incident("a", "two")]);
        assert_eq!(
            store.history(Layer::Incidents, "a").expect("history").len(),
            1
        );
        // Registered under jointmap's own data type, not as features or
        // attributes, so GeoPackage readers list only the five layers.
        let registered: Vec<(String, String)> = {
            let conn = store.conn();
            let mut stmt = conn
                .prepare(
                    "SELECT table_name, data_type FROM gpkg_contents
                     WHERE data_type NOT IN ('features') ORDER BY table_name",
                )
                .expect("prepare");
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("query");
            rows.collect::<rusqlite::Result<_>>().expect("rows")
        };
        let mut want: Vec<(String, String)> = ["jointmap_history", "jointmap_meta"]
            .into_iter()
            .map(String::from)
            .chain(Layer::ALL.map(super::super::quarantine::table))
            .map(|t| (t, "jointmap".to_string()))
            .collect();
        want.sort();
        assert_eq!(registered, want);
    }
}
