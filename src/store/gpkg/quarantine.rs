//! The quarantine: rows `jointmap check --fix-mode quarantine` moved out of
//! their layer, unchanged, with the reasons, the time and who did it.
//!
//! One table per layer, `jointmap_quarantine_<layer>`, with the layer's
//! columns under the same declared types (so SQLite stores every value as
//! the layer did, byte for byte), the row's `fid`, and the quarantine's own
//! columns. Registered as jointmap's own tables, so GDAL and QGIS do not
//! list them as layers; analyses never read them. Restoring copies a row
//! back under its old `fid` (which AUTOINCREMENT never hands out again).

use super::{column_type, columns, geometry_type_name, history, GpkgStore, Result, SOURCE_COLUMN};
use crate::model::Layer;
use crate::store::{Quarantined, StoreError};
use rusqlite::{Connection, OptionalExtension};

/// The quarantine table of a layer.
pub(super) fn table(layer: Layer) -> String {
    format!("jointmap_quarantine_{}", layer.name())
}

/// The layer's columns a quarantined row keeps, quoted, in order.
fn kept(layer: Layer) -> String {
    let mut cols = vec!["fid".to_string(), "geom".to_string()];
    cols.extend(columns(layer).iter().map(|c| format!("\"{c}\"")));
    cols.push(SOURCE_COLUMN.to_string());
    cols.join(", ")
}

/// Creates and registers the tables when missing.
pub(super) fn tables_sql() -> String {
    let mut sql = String::new();
    for layer in Layer::ALL {
        let t = table(layer);
        let mut cols = format!(
            "seq INTEGER PRIMARY KEY AUTOINCREMENT, fid INTEGER NOT NULL, geom {},
             id TEXT, time_start DATETIME, time_end DATETIME, owner TEXT, classification TEXT",
            geometry_type_name(layer)
        );
        for f in layer.fields() {
            cols.push_str(&format!(", \"{}\" {}", f.name, column_type(f)));
        }
        cols.push_str(&format!(
            ", extra TEXT, {SOURCE_COLUMN} TEXT, reasons TEXT NOT NULL,
             quarantined_at TEXT NOT NULL, quarantined_by TEXT NOT NULL"
        ));
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {t} ({cols});
             CREATE INDEX IF NOT EXISTS {t}_id ON {t}(id);"
        ));
        sql.push_str(&history::internal_table_sql(&t));
    }
    sql
}

impl GpkgStore {
    /// Moves row `fid` of `layer` into its quarantine, on `conn`.
    pub(super) fn quarantine_on(
        &self,
        conn: &Connection,
        layer: Layer,
        fid: i64,
        reasons: &str,
        author: &str,
    ) -> Result<()> {
        let sql = |e| self.err(e);
        let cols = kept(layer);
        let moved = conn
            .prepare_cached(&format!(
                "INSERT INTO {} ({cols}, reasons, quarantined_at, quarantined_by)
                 SELECT {cols}, ?2, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?3 FROM {} WHERE fid = ?1",
                table(layer),
                layer.name()
            ))
            .and_then(|mut s| s.execute(rusqlite::params![fid, reasons, author]))
            .map_err(sql)?;
        if moved != 1 {
            return Err(StoreError::BadQuery(format!(
                "{layer}: no row {fid} to quarantine"
            )));
        }
        conn.prepare_cached(&format!("DELETE FROM {} WHERE fid = ?1", layer.name()))
            .and_then(|mut s| s.execute([fid]))
            .map_err(sql)?;
        Ok(())
    }

    /// Puts the most recently quarantined row with `id` back into `layer`,
    /// on `conn`; 0 when there is none.
    pub(super) fn restore_on(&self, conn: &Connection, layer: Layer, id: &str) -> Result<u64> {
        let sql = |e| self.err(e);
        let t = table(layer);
        let seq: Option<i64> = conn
            .query_row(
                &format!("SELECT max(seq) FROM {t} WHERE id = ?1"),
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?
            .flatten();
        let Some(seq) = seq else { return Ok(0) };
        let stored: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {} WHERE id = ?1", layer.name()),
                [id],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if stored > 0 {
            return Err(StoreError::BadQuery(format!(
                "{layer}: {id:?} is stored again since it was quarantined; delete it first \
                 (`jointmap delete {layer} --id {id}`) to restore the quarantined version"
            )));
        }
        let cols = kept(layer);
        conn.execute(
            &format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {t} WHERE seq = ?1",
                layer.name()
            ),
            [seq],
        )
        .map_err(sql)?;
        conn.execute(&format!("DELETE FROM {t} WHERE seq = ?1"), [seq])
            .map_err(sql)?;
        Ok(1)
    }

    /// The quarantined rows of `layer`, oldest first.
    pub fn quarantined(&self, layer: Layer) -> Result<Vec<Quarantined>> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT CAST(id AS TEXT), reasons, quarantined_at, quarantined_by FROM {} ORDER BY seq",
                table(layer)
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Quarantined {
                    layer: layer.name().to_string(),
                    id: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    reasons: r.get(1)?,
                    at: r.get(2)?,
                    by: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{functions, GpkgStore};
    use crate::model::{Feature, Layer};
    use crate::store::check::{check, Fix};
    use crate::store::{FeatureSink, FeatureSource, Query};
    use rusqlite::Connection;
    use serde_json::json;

    fn incident(id: &str, category: &str) -> Feature {
        let v = json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
            "properties": {"time_start": "2025-02-14T03:00:00Z", "category": category,
                "owner": "hr", "classification": "restricted", "killed_men": 2}});
        Feature::from_geojson(Layer::Incidents, v, "").expect("valid incident")
    }

    fn ids(store: &GpkgStore) -> Vec<String> {
        let mut out = Vec::new();
        store
            .query(Layer::Incidents, &Query::default(), &mut |f| {
                out.push(f.id);
                Ok(())
            })
            .expect("query");
        out
    }

    /// Edits as a GIS would make them, each caught, quarantined without
    /// loss, and restored byte for byte.
    #[test]
    fn edits_outside_jointmap_are_found_quarantined_and_restored() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("s.gpkg");
        let store = GpkgStore::open(&path).expect("open");
        let mut b = store.begin().expect("begin");
        for (i, id) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
            let cat = ["killing", "abduction"][i % 2];
            b.upsert(Layer::Incidents, &incident(id, cat))
                .expect("upsert");
        }
        b.commit().expect("commit");
        let clean = check(&store, &Layer::ALL, Fix::Report, &Default::default()).expect("check");
        assert_eq!((clean.checked, clean.findings.len()), (6, 0));
        // Another program with the GeoPackage functions, as QGIS has them.
        let raw = |sql: &str| {
            let c = Connection::open(&path).expect("open");
            functions::register(&c).expect("functions");
            c.execute_batch(sql).expect("edit")
        };
        let dump = || -> Vec<String> {
            let c = Connection::open(&path).expect("open");
            let mut s = c
                .prepare("SELECT quote(geom) || quote(category) || quote(killed_men) || quote(owner) FROM incidents ORDER BY fid")
                .expect("prepare");
            let rows = s.query_map([], |r| r.get(0)).expect("rows");
            rows.collect::<rusqlite::Result<_>>().expect("rows")
        };
        let before = dump();
        raw("UPDATE incidents SET category = 'kiling' WHERE id = 'b';
             UPDATE incidents SET killed_men = -3 WHERE id = 'c';
             UPDATE incidents SET owner = 'nobody' WHERE id = 'e';");
        let report = check(
            &store,
            &[Layer::Incidents],
            Fix::Report,
            &Default::default(),
        )
        .expect("check");
        let found: Vec<(&str, &str)> = report
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.problems[0].field.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("b", "category"),
                ("c", "killed_men"),
                ("e", "(stored row)")
            ]
        );
        assert!(
            report.findings[0].to_string().contains("kiling"),
            "{}",
            report.findings[0]
        );
        // Reporting writes nothing.
        assert_eq!(dump().len(), 6);
        let report = check(
            &store,
            &[Layer::Incidents],
            Fix::Quarantine,
            &Default::default(),
        )
        .expect("quarantine");
        assert_eq!(report.quarantined, 3);
        assert_eq!(ids(&store), ["a", "d", "f"]);
        let q = store.quarantined(Layer::Incidents).expect("list");
        assert_eq!(
            q.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
            ["b", "c", "e"]
        );
        assert!(
            q[0].reasons.contains("category") && q[0].by == "cli",
            "{q:?}"
        );
        assert!(check(&store, &Layer::ALL, Fix::Report, &Default::default())
            .expect("check")
            .findings
            .is_empty());
        // Restored as they were, under their fids: the table is back to the edited state.
        let mut b = store.begin().expect("begin");
        for id in ["b", "c", "e"] {
            assert_eq!(b.restore(Layer::Incidents, id).expect("restore"), 1);
        }
        assert_eq!(b.restore(Layer::Incidents, "zz").expect("restore"), 0);
        b.commit().expect("commit");
        raw("UPDATE incidents SET category = 'abduction' WHERE id = 'b';
             UPDATE incidents SET killed_men = 2 WHERE id = 'c';
             UPDATE incidents SET owner = 'hr' WHERE id = 'e';");
        assert_eq!(dump(), before);
        assert!(store
            .quarantined(Layer::Incidents)
            .expect("list")
            .is_empty());
    }
}
