//! JSON columns declared as such: the GeoPackage schema extension's
//! `gpkg_data_columns` with `mime_type` `application/json`, as GDAL writes it
//! for a field of its JSON subtype. GDAL and QGIS then read `extra` (the
//! properties outside the schema) and `vertex_times` (a patrol's times) as
//! JSON rather than plain strings.

use crate::model::schema::FieldKind;
use crate::model::Layer;

/// The columns of `layer` that hold JSON text.
pub(super) fn json_columns(layer: Layer) -> Vec<&'static str> {
    layer
        .fields()
        .iter()
        .filter(|f| f.kind == FieldKind::TimeList)
        .map(|f| f.name)
        .chain(std::iter::once("extra"))
        .collect()
}

/// Creates the extension's tables when missing, registers them, and
/// declares every JSON column of every layer.
pub(super) fn create_sql() -> String {
    let mut sql = String::from(
        "CREATE TABLE IF NOT EXISTS gpkg_data_columns (
          table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT,
          description TEXT, mime_type TEXT, constraint_name TEXT,
          CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
          CONSTRAINT gdc_tn UNIQUE (table_name, name));
        CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
          constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT,
          min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, max_is_inclusive BOOLEAN,
          description TEXT,
          CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value));",
    );
    for table in ["gpkg_data_columns", "gpkg_data_column_constraints"] {
        sql.push_str(&format!(
            "INSERT INTO gpkg_extensions SELECT '{table}', NULL, 'gpkg_schema',
               'http://www.geopackage.org/spec/#extension_schema', 'read-write'
               WHERE NOT EXISTS (SELECT 1 FROM gpkg_extensions WHERE table_name = '{table}'
                 AND extension_name = 'gpkg_schema');"
        ));
    }
    for layer in Layer::ALL {
        for column in json_columns(layer) {
            sql.push_str(&format!(
                "INSERT OR IGNORE INTO gpkg_data_columns (table_name, column_name, mime_type)
                   VALUES ('{layer}', '{column}', 'application/json');"
            ));
        }
    }
    sql
}

/// Number of `gpkg_data_columns` rows a complete store has.
pub(super) fn declared() -> usize {
    Layer::ALL.iter().map(|l| json_columns(*l).len()).sum()
}
