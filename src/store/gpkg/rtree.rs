//! The GeoPackage R-tree spatial index extension (`gpkg_rtree_index`) on
//! each layer's `geom` column: a virtual table `rtree_<layer>_geom` kept
//! current by the triggers GeoPackage 1.3 Annex F.3 gives (GDAL writes the
//! same, under the same names), so QGIS and GDAL filter by extent without a
//! full scan. The triggers call the functions of `functions.rs`.
//!
//! A store made before the index existed, or one where GDAL or QGIS already
//! created it, is brought to the same state on open: what is missing is
//! created, and a new virtual table is filled from the stored geometries, in
//! the opening transaction.

use crate::model::Layer;

/// The virtual table of a layer's index.
pub(super) fn table(layer: Layer) -> String {
    format!("rtree_{}_geom", layer.name())
}

/// The SQL that creates the index of `layer` and registers the extension.
/// `fill` also indexes the rows already stored (a new virtual table on an
/// existing layer); the triggers keep it current from then on.
pub(super) fn create_sql(layer: Layer, fill: bool) -> String {
    let t = layer.name();
    let r = table(layer);
    // The envelope of a non-empty new geometry, as the triggers insert it.
    let values = r#"(NEW."fid", ST_MinX(NEW."geom"), ST_MaxX(NEW."geom"), ST_MinY(NEW."geom"), ST_MaxY(NEW."geom"))"#;
    let mut sql = format!(
        r#"CREATE VIRTUAL TABLE IF NOT EXISTS "{r}" USING rtree(id, minx, maxx, miny, maxy);
        CREATE TRIGGER IF NOT EXISTS "{r}_insert" AFTER INSERT ON "{t}"
          WHEN (new."geom" NOT NULL AND NOT ST_IsEmpty(NEW."geom"))
          BEGIN INSERT OR REPLACE INTO "{r}" VALUES {values}; END;
        CREATE TRIGGER IF NOT EXISTS "{r}_update1" AFTER UPDATE OF "geom" ON "{t}"
          WHEN OLD."fid" = NEW."fid" AND (NEW."geom" NOTNULL AND NOT ST_IsEmpty(NEW."geom"))
          BEGIN INSERT OR REPLACE INTO "{r}" VALUES {values}; END;
        CREATE TRIGGER IF NOT EXISTS "{r}_update2" AFTER UPDATE OF "geom" ON "{t}"
          WHEN OLD."fid" = NEW."fid" AND (NEW."geom" ISNULL OR ST_IsEmpty(NEW."geom"))
          BEGIN DELETE FROM "{r}" WHERE id = OLD."fid"; END;
        CREATE TRIGGER IF NOT EXISTS "{r}_update3" AFTER UPDATE ON "{t}"
          WHEN OLD."fid" != NEW."fid" AND (NEW."geom" NOTNULL AND NOT ST_IsEmpty(NEW."geom"))
          BEGIN DELETE FROM "{r}" WHERE id = OLD."fid"; INSERT OR REPLACE INTO "{r}" VALUES {values}; END;
        CREATE TRIGGER IF NOT EXISTS "{r}_update4" AFTER UPDATE ON "{t}"
          WHEN OLD."fid" != NEW."fid" AND (NEW."geom" ISNULL OR ST_IsEmpty(NEW."geom"))
          BEGIN DELETE FROM "{r}" WHERE id IN (OLD."fid", NEW."fid"); END;
        CREATE TRIGGER IF NOT EXISTS "{r}_delete" AFTER DELETE ON "{t}"
          WHEN old."geom" NOT NULL
          BEGIN DELETE FROM "{r}" WHERE id = OLD."fid"; END;
        INSERT INTO gpkg_extensions SELECT '{t}', 'geom', 'gpkg_rtree_index',
          'http://www.geopackage.org/spec120/#extension_rtree', 'write-only'
          WHERE NOT EXISTS (SELECT 1 FROM gpkg_extensions WHERE table_name = '{t}'
            AND column_name = 'geom' AND extension_name = 'gpkg_rtree_index');"#
    );
    if fill {
        sql.push_str(&format!(
            r#"INSERT OR REPLACE INTO "{r}" SELECT fid, ST_MinX(geom), ST_MaxX(geom), ST_MinY(geom), ST_MaxY(geom)
               FROM "{t}" WHERE geom NOT NULL AND NOT ST_IsEmpty(geom);"#
        ));
    }
    sql
}

/// The names of the index's triggers (what a complete store has).
pub(super) fn trigger_names(layer: Layer) -> Vec<String> {
    let r = table(layer);
    [
        "insert", "update1", "update2", "update3", "update4", "delete",
    ]
    .iter()
    .map(|s| format!("{r}_{s}"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::super::GpkgStore;
    use super::*;
    use crate::model::Feature;
    use crate::store::{Batch, FeatureSink, Selection};
    use rusqlite::Connection;
    use serde_json::json;

    fn incident(id: &str, lon: f64, lat: f64) -> Feature {
        let v = json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"time_start": "2025-02-14T03:00:00Z", "category": "killing",
                "owner": "hr", "classification": "restricted"}});
        Feature::from_geojson(Layer::Incidents, v, "").expect("valid incident")
    }

    fn patrol() -> Feature {
        let v = json!({"type": "Feature", "id": "p",
            "geometry": {"type": "LineString", "coordinates": [[18.5, 4.4], [18.7, 4.2]]},
            "properties": {"time_start": "2025-02-01T06:00:00Z", "time_end": "2025-02-01T09:00:00Z",
                "owner": "military", "classification": "restricted", "unit": "A", "mode": "foot",
                "kind": "routine", "period": "day"}});
        Feature::from_geojson(Layer::Patrols, v, "").expect("valid patrol")
    }

    /// `(fid, minx, maxx, miny, maxy)` of every entry, by fid.
    fn entries(store: &GpkgStore, layer: Layer) -> Vec<(i64, [f64; 4])> {
        let conn = store.conn();
        let mut s = conn
            .prepare(&format!("SELECT * FROM {} ORDER BY id", table(layer)))
            .expect("prepare");
        let rows = s
            .query_map([], |r| {
                Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
            })
            .expect("query");
        rows.collect::<rusqlite::Result<_>>().expect("rows")
    }

    /// rtree stores 32-bit floats, rounded outwards.
    fn near(a: [f64; 4], b: [f64; 4]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    fn write(store: &GpkgStore, f: impl FnOnce(&mut dyn Batch)) {
        let mut b = store.begin().expect("begin");
        f(b.as_mut());
        b.commit().expect("commit");
    }

    #[test]
    fn the_index_follows_inserts_replacements_and_deletes() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
        write(&store, |b| {
            for (id, x) in [("a", 18.0), ("b", 19.0), ("c", 20.0)] {
                b.upsert(Layer::Incidents, &incident(id, x, 4.0))
                    .expect("upsert");
            }
            b.upsert(Layer::Patrols, &patrol()).expect("upsert");
        });
        let got = entries(&store, Layer::Incidents);
        assert_eq!(got.len(), 3);
        assert!(near(got[1].1, [19.0, 19.0, 4.0, 4.0]), "{got:?}");
        assert!(near(
            entries(&store, Layer::Patrols)[0].1,
            [18.5, 18.7, 4.2, 4.4]
        ));
        // A replacement moves its entry; a delete removes it.
        write(&store, |b| {
            b.upsert(Layer::Incidents, &incident("b", 17.25, 5.5))
                .expect("upsert");
        });
        write(&store, |b| {
            b.delete(Layer::Incidents, &Selection::Ids(vec!["a".into()]))
                .expect("delete");
        });
        let got = entries(&store, Layer::Incidents);
        assert_eq!(got.len(), 2);
        assert!(near(got[0].1, [17.25, 17.25, 5.5, 5.5]), "{got:?}");
        assert!(near(got[1].1, [20.0, 20.0, 4.0, 4.0]), "{got:?}");
        let registered: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'
                 AND column_name = 'geom' AND scope = 'write-only'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(registered, Layer::ALL.len() as i64);
    }

    /// A store written before the index existed gets it on open, filled
    /// from the stored rows; the next writes keep it current.
    #[test]
    fn a_store_without_the_index_gets_it_filled_on_open() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("old.gpkg");
        {
            let store = GpkgStore::open(&path).expect("open");
            write(&store, |b| {
                for (id, x) in [("a", 18.0), ("b", 19.0)] {
                    b.upsert(Layer::Incidents, &incident(id, x, 4.0))
                        .expect("upsert");
                }
            });
        }
        let mut sql =
            String::from("DELETE FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index';");
        for layer in Layer::ALL {
            for t in trigger_names(layer) {
                sql.push_str(&format!("DROP TRIGGER \"{t}\";"));
            }
            sql.push_str(&format!("DROP TABLE {};", table(layer)));
        }
        Connection::open(&path)
            .and_then(|c| c.execute_batch(&sql))
            .expect("drop the index");
        let store = GpkgStore::open(&path).expect("reopen");
        assert_eq!(entries(&store, Layer::Incidents).len(), 2);
        write(&store, |b| {
            b.upsert(Layer::Incidents, &incident("c", 20.0, 4.0))
                .expect("upsert");
        });
        assert_eq!(entries(&store, Layer::Incidents).len(), 3);
    }

    #[test]
    fn declared_geometry_types_are_the_narrowest_that_hold_every_accepted_kind() {
        use super::super::geometry_type_name;
        let want = [
            (Layer::Incidents, "POINT"),
            (Layer::Sightings, "POINT"),
            (Layer::Patrols, "GEOMETRY"),
            (Layer::Bases, "GEOMETRY"),
            (Layer::Sites, "GEOMETRY"),
        ];
        for (layer, t) in want {
            assert_eq!(geometry_type_name(layer), t, "{layer}");
        }
    }
}
