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
