//! A plain GeoPackage of one feature table, for exports: what a role may see
//! of a layer or of a product, for QGIS, ArcGIS or GDAL, with no jointmap
//! tables. Unlike a
//! store, its columns are the exported properties (a role's share may lack
//! fields the store requires), typed from the values: INTEGER, REAL,
//! BOOLEAN, DATETIME (RFC 3339 in UTC) or TEXT (objects and arrays as their
//! JSON text). The file is written with a rollback journal, so it is one
//! file, and indexed with the GeoPackage R-tree extension.

use super::{backend_error, functions, rtree, GPKG_APPLICATION_ID, GPKG_USER_VERSION, WGS84_WKT};
use crate::store::{wkb, Result, StoreError};
use geo_types::Geometry;
use rusqlite::types::Value as Sql;
use rusqlite::Connection;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The SQL type of an exported column, from every value it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainType {
    /// Whole numbers only.
    Integer,
    /// Numbers.
    Real,
    /// `true` and `false` only.
    Boolean,
    /// RFC 3339 times in UTC only.
    DateTime,
    /// Anything else.
    Text,
    /// Objects and arrays only (a TEXT column of their JSON text in a
    /// GeoPackage; a JSON column in FlatGeobuf).
    Json,
}

impl PlainType {
    fn of(v: &Value) -> Option<PlainType> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(_) => PlainType::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => PlainType::Integer,
            Value::Number(_) => PlainType::Real,
            Value::String(s) if is_utc_time(s) => PlainType::DateTime,
            Value::Array(_) | Value::Object(_) => PlainType::Json,
            _ => PlainType::Text,
        })
    }

    /// The narrowest type holding values of both.
    fn join(self, other: PlainType) -> PlainType {
        use PlainType::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Integer, Real) | (Real, Integer) => Real,
            _ => Text,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            PlainType::Integer => "INTEGER",
            PlainType::Real => "REAL",
            PlainType::Boolean => "BOOLEAN",
            PlainType::DateTime => "DATETIME",
            PlainType::Text | PlainType::Json => "TEXT",
        }
    }
}

/// A GeoPackage DATETIME: an RFC 3339 time in UTC (`Z`).
fn is_utc_time(s: &str) -> bool {
    s.ends_with('Z') && s.len() >= 20 && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// Columns that the table itself uses: a property of that name is written
/// under the name with `_1` appended.
const RESERVED: [&str; 3] = ["fid", "geom", "id"];

/// The columns of an export, noted from every feature before writing (one
/// pass over the features, like the CSV export's header).
#[derive(Debug, Default, Clone)]
pub struct PlainSchema {
    columns: Vec<(String, Option<PlainType>)>,
    kinds: Vec<&'static str>,
}

impl PlainSchema {
    /// Notes a feature (GeoJSON, as the role sees it): its properties'
    /// names and types and its geometry's type.
    pub fn note(&mut self, feature: &Value) {
        if let Some(t) = feature["geometry"]["type"].as_str() {
            let t = geometry_type(t);
            if !self.kinds.contains(&t) {
                self.kinds.push(t);
            }
        }
        let Some(props) = feature["properties"].as_object() else {
            return;
        };
        for (k, v) in props {
            let t = PlainType::of(v);
            match self.columns.iter_mut().find(|(n, _)| n == k) {
                Some((_, have)) => {
                    *have = match (*have, t) {
                        (Some(a), Some(b)) => Some(a.join(b)),
                        (a, b) => a.or(b),
                    }
                }
                None => self.columns.push((k.clone(), t)),
            }
        }
    }

    /// The columns noted, in order: the name each is written under (a
    /// property named like a column of the table itself gets `_1`
    /// appended), the property it holds and its type (`None`: only nulls
    /// were seen). For other writers of the same export (FlatGeobuf).
    pub fn columns(&self) -> impl Iterator<Item = (String, &str, Option<PlainType>)> + '_ {
        self.columns
            .iter()
            .map(|(n, t)| (PlainSchema::column_name(n), n.as_str(), *t))
    }

    /// The geometry types noted, as GeoPackage names them (`POINT`, ...).
    pub fn geometry_types(&self) -> &[&'static str] {
        &self.kinds
    }

    /// The geometry type name of the table: the one type noted, or
    /// `GEOMETRY` when they differ (or none was noted).
    fn geometry_type(&self) -> &'static str {
        match self.kinds.as_slice() {
            [one] => one,
            _ => "GEOMETRY",
        }
    }

    fn column_name(name: &str) -> String {
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            format!("{name}_1")
        } else {
            name.to_string()
        }
    }
}

fn geometry_type(geojson: &str) -> &'static str {
    match geojson {
        "Point" => "POINT",
        "LineString" => "LINESTRING",
        "Polygon" => "POLYGON",
        "MultiPoint" => "MULTIPOINT",
        "MultiLineString" => "MULTILINESTRING",
        "MultiPolygon" => "MULTIPOLYGON",
        _ => "GEOMETRY",
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A plain GeoPackage being written: one table named after the layer, in
/// one transaction, made visible under its name only by [`PlainGpkg::finish`].
pub struct PlainGpkg {
    /// Open until [`PlainGpkg::finish`] closes it.
    conn: Option<Connection>,
    path: PathBuf,
    partial: PathBuf,
    table: String,
    names: Vec<String>,
    insert: String,
    blob: Vec<u8>,
    extent: Option<[f64; 4]>,
    written: u64,
}

impl PlainGpkg {
    /// Starts writing the table `table` (its name reduced to lower-case
    /// letters, digits and `_`), described by `description` in
    /// `gpkg_contents`, with `schema`'s columns to `path` (written beside it
    /// and renamed at the end, so a failed export never leaves a
    /// half-written file nor destroys the previous one).
    pub fn create(
        path: &Path,
        table: &str,
        description: &str,
        schema: &PlainSchema,
    ) -> Result<PlainGpkg> {
        let t: String = table
            .chars()
            .map(|c| match c {
                'a'..='z' | '0'..='9' | '_' => c,
                'A'..='Z' => c.to_ascii_lowercase(),
                _ => '_',
            })
            .collect();
        let t = if t.starts_with(|c: char| c.is_ascii_lowercase()) {
            t
        } else {
            format!("t_{t}")
        };
        let description = description.replace('\'', "''");
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let location = partial.display().to_string();
        let fail = |e| backend_error(&location, e);
        let _ = std::fs::remove_file(&partial);
        let conn = Connection::open(&partial).map_err(fail)?;
        functions::register(&conn).map_err(fail)?;
        let mut cols = String::from("fid INTEGER PRIMARY KEY AUTOINCREMENT");
        cols.push_str(&format!(
            ", geom {} NOT NULL, id TEXT",
            schema.geometry_type()
        ));
        let mut names = Vec::new();
        for (name, ty) in &schema.columns {
            let ty = ty.unwrap_or(PlainType::Text);
            cols.push_str(&format!(
                ", {} {}",
                quote(&PlainSchema::column_name(name)),
                ty.sql()
            ));
            names.push(name.clone());
        }
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = DELETE;
             PRAGMA application_id = {GPKG_APPLICATION_ID};
             PRAGMA user_version = {GPKG_USER_VERSION};
             BEGIN;
             CREATE TABLE gpkg_spatial_ref_sys (
               srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
               organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
             INSERT INTO gpkg_spatial_ref_sys VALUES
               ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
               ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
               ('WGS 84 geodetic', 4326, 'EPSG', 4326, '{WGS84_WKT}', 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
             CREATE TABLE gpkg_contents (
               table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
               description TEXT DEFAULT '',
               last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
               min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
               CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
             CREATE TABLE gpkg_geometry_columns (
               table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
               srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
               CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
               CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
               CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
             CREATE TABLE gpkg_extensions (
               table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
               definition TEXT NOT NULL, scope TEXT NOT NULL,
               CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
             CREATE TABLE {t} ({cols});
             INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
               VALUES ('{t}', 'features', '{t}', '{description}', 4326);
             INSERT INTO gpkg_geometry_columns VALUES ('{t}', 'geom', '{}', 4326, 0, 0);",
            schema.geometry_type()
        ))
        .map_err(fail)?;
        let mut quoted = vec!["geom".to_string(), "id".to_string()];
        quoted.extend(names.iter().map(|n| quote(&PlainSchema::column_name(n))));
        let marks: Vec<String> = (1..=quoted.len()).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {t} ({}) VALUES ({})",
            quoted.join(", "),
            marks.join(", ")
        );
        Ok(PlainGpkg {
            conn: Some(conn),
            path: path.to_path_buf(),
            partial,
            table: t,
            names,
            insert,
            blob: Vec::new(),
            extent: None,
            written: 0,
        })
    }

    fn fail(&self, e: rusqlite::Error) -> StoreError {
        backend_error(&self.partial.display().to_string(), e)
    }

    fn conn(&self) -> Result<&Connection> {
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Aborted("the export is already finished".into()))
    }

    /// Writes one feature (GeoJSON, as the role sees it), its geometry
    /// parsed as the store's are.
    pub fn add(&mut self, feature: &Value) -> Result<()> {
        let id = match &feature["id"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let geometry = crate::model::geometry::parse_geometry(
            &feature["geometry"],
            &[
                crate::model::geometry::GeomKind::Point,
                crate::model::geometry::GeomKind::LineString,
                crate::model::geometry::GeomKind::MultiLineString,
                crate::model::geometry::GeomKind::Polygon,
                crate::model::geometry::GeomKind::MultiPolygon,
            ],
        )
        .map_err(|reason| {
            StoreError::Aborted(format!(
                "feature {}: its geometry: {reason}",
                id.as_deref().unwrap_or("(no id)")
            ))
        })?;
        self.add_geometry(id, &geometry, feature["properties"].as_object())
    }

    fn add_geometry(
        &mut self,
        id: Option<String>,
        geometry: &Geometry<f64>,
        props: Option<&Map<String, Value>>,
    ) -> Result<()> {
        wkb::encode(geometry, &mut self.blob);
        let e = wkb::envelope(&self.blob)
            .map_err(|e| StoreError::Aborted(format!("encoding a geometry: {e}")))?;
        self.extent = Some(match self.extent {
            None => e,
            Some(a) => [
                a[0].min(e[0]),
                a[1].min(e[1]),
                a[2].max(e[2]),
                a[3].max(e[3]),
            ],
        });
        let mut values = vec![
            Sql::Blob(self.blob.clone()),
            id.map_or(Sql::Null, Sql::Text),
        ];
        for name in &self.names {
            values.push(match props.and_then(|p| p.get(name)) {
                None | Some(Value::Null) => Sql::Null,
                Some(Value::Bool(b)) => Sql::Integer(i64::from(*b)),
                Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Sql::Integer(i),
                    (None, Some(f)) => Sql::Real(f),
                    _ => Sql::Text(n.to_string()),
                },
                Some(Value::String(s)) => Sql::Text(s.clone()),
                Some(other) => Sql::Text(other.to_string()),
            });
        }
        let mut stmt = self
            .conn()?
            .prepare_cached(&self.insert)
            .map_err(|e| self.fail(e))?;
        stmt.execute(rusqlite::params_from_iter(values))
            .map_err(|e| self.fail(e))?;
        drop(stmt);
        self.written += 1;
        Ok(())
    }

    /// Indexes the table, records its extent, commits, and puts the file in
    /// place; the number of features written.
    pub fn finish(mut self) -> Result<u64> {
        let t = &self.table;
        let mut sql = rtree::create_sql_for(t, true);
        if let Some(e) = self.extent {
            sql.push_str(&format!(
                "UPDATE gpkg_contents SET min_x = {}, min_y = {}, max_x = {}, max_y = {} WHERE table_name = '{t}';",
                e[0], e[1], e[2], e[3]
            ));
        }
        sql.push_str("COMMIT;");
        let conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Aborted("the export is already finished".into()))?;
        conn.execute_batch(&sql).map_err(|e| self.fail(e))?;
        conn.close()
            .map_err(|(_, e)| backend_error(&self.partial.display().to_string(), e))?;
        std::fs::rename(&self.partial, &self.path)
            .map_err(|e| StoreError::Aborted(format!("{}: {e}", self.path.display())))?;
        Ok(self.written)
    }
}

impl Drop for PlainGpkg {
    fn drop(&mut self) {
        // Not finished: no half-written file is left behind. (After
        // `finish` the partial file has been renamed: nothing to remove.)
        drop(self.conn.take());
        let _ = std::fs::remove_file(&self.partial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn column_types_are_the_narrowest_for_every_value() {
        let mut s = PlainSchema::default();
        for p in [
            json!({"n": 1, "x": 1, "b": true, "t": "2024-01-02T03:04:05.000Z", "m": "a", "z": null}),
            json!({"n": 2, "x": 1.5, "b": false, "t": "2024-02-02T03:04:05Z", "m": 3, "z": null}),
        ] {
            s.note(&json!({"geometry": {"type": "Point"}, "properties": p}));
        }
        let got: Vec<(&str, Option<PlainType>)> =
            s.columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        use PlainType::*;
        assert_eq!(
            got,
            [
                ("n", Some(Integer)),
                ("x", Some(Real)),
                ("b", Some(Boolean)),
                ("t", Some(DateTime)),
                ("m", Some(Text)),
                ("z", None),
            ]
        );
        assert_eq!(s.geometry_type(), "POINT");
        s.note(&json!({"geometry": {"type": "Polygon"}, "properties": {}}));
        assert_eq!(s.geometry_type(), "GEOMETRY");
        assert!(!is_utc_time("2024-01-02T03:04:05+01:00"));
        assert_eq!(PlainSchema::column_name("ID"), "ID_1");
    }

    #[test]
    fn an_unfinished_export_leaves_no_file() {
        let dir = tempfile::TempDir::new().expect("dir");
        let path = dir.path().join("x.gpkg");
        let mut s = PlainSchema::default();
        let f = json!({"type": "Feature", "id": "a",
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]}, "properties": {"k": 1}});
        s.note(&f);
        let mut w = PlainGpkg::create(&path, "incidents", "test", &s).expect("create");
        w.add(&f).expect("add");
        let bad = json!({"type": "Feature", "id": "b",
            "geometry": {"type": "Point", "coordinates": [218.5, 4.4]}, "properties": {}});
        let e = w.add(&bad).expect_err("out of range");
        assert!(e.to_string().contains("feature b"), "{e}");
        drop(w);
        assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none());
    }
}
