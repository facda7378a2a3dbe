//! Shapefile and KML export through GDAL (the `gdal` feature): what a role
//! may see of a layer or of a product, for ArcGIS, QGIS and Google Earth.
//! The columns are the GeoPackage export's ([`PlainSchema`]: `id` first,
//! then every exported property in the order first seen), in WGS 84.
//!
//! - **Types**: integers as 64-bit integers (KML: 32-bit `int`, a column
//!   with a wider value text), numbers as reals, `true` and
//!   `false` as the integers 1 and 0, times (RFC 3339) and lists or objects
//!   (their JSON) as text, a null as an unset field; a column whose values
//!   differ in type is text, each value its JSON text.
//! - **Shapefile** (`.shp` with its `.shx`, `.dbf`, `.prj` and `.cpg`,
//!   UTF-8): field names are cut to the 10 bytes dBASE allows, in column
//!   order, a name already taken (any case) getting `_1`, `_2`, ... in place
//!   of its last characters ([`shapefile_names`]); text fields are as wide
//!   as their longest value, and a value over dBASE's 254 bytes refuses the
//!   export (naming the feature and property) rather than be cut; one
//!   geometry type per file (points, multipoints, lines or polygons, a
//!   single part and several together), so a mix refuses the export.
//! - **KML** (GDAL's KML writer): every property in `ExtendedData` under
//!   its own name, typed in the document's `Schema`, but `name` and
//!   `description`, which are the placemark's own.
//!
//! Written into a temporary file (Shapefile: a temporary directory) beside
//! the target and renamed into place at the end (the Shapefile's `.shp`
//! last): a failed export leaves no half-written file.

use crate::ingest::gdal::{last_message, reset, wgs84, Quiet};
use crate::store::{PlainSchema, PlainType, Result, StoreError};
use gdal::vector::{
    FieldDefn, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::{Dataset, DriverManager};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The longest text dBASE holds in a field.
pub const DBF_MAX_TEXT: usize = 254;

/// The longest field name dBASE holds.
pub const DBF_MAX_NAME: usize = 10;

/// The files of a Shapefile, the `.shp` last (renamed into place last).
const SHAPEFILE_PARTS: [&str; 5] = ["cpg", "prj", "dbf", "shx", "shp"];

/// The formats written through GDAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OgrFormat {
    /// ESRI Shapefile.
    Shapefile,
    /// KML 2.2.
    Kml,
}

impl OgrFormat {
    fn driver(self) -> &'static str {
        match self {
            OgrFormat::Shapefile => "ESRI Shapefile",
            OgrFormat::Kml => "KML",
        }
    }
}

fn fault(e: impl std::fmt::Display) -> StoreError {
    StoreError::Aborted(e.to_string())
}

/// The columns of an export, noted from every feature before writing: the
/// GeoPackage export's schema and, for Shapefile's fixed-width text, each
/// column's longest value.
#[derive(Debug, Default)]
pub struct OgrSchema {
    plain: PlainSchema,
    /// Bytes of the longest value (as written) per property, and of ids.
    longest: HashMap<String, usize>,
    longest_id: usize,
    /// Properties with an integer outside 32 bits (KML's `int` holds 32).
    wide: std::collections::HashSet<String>,
    /// The first value too long for dBASE: (feature id, property, bytes).
    too_long: Option<(String, String, usize)>,
}

/// A value as written into a text field.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn id_of(feature: &Value) -> String {
    match &feature["id"] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl OgrSchema {
    /// Notes a feature (GeoJSON, as the role sees it).
    pub fn note(&mut self, feature: &Value) {
        self.plain.note(feature);
        let id = id_of(feature);
        self.longest_id = self.longest_id.max(id.len());
        let Some(props) = feature["properties"].as_object() else {
            return;
        };
        for (k, v) in props {
            if v.as_i64().is_some_and(|n| i32::try_from(n).is_err())
                || v.is_u64() && v.as_i64().is_none()
            {
                self.wide.insert(k.clone());
            }
            let n = text_of(v).map_or(0, |t| t.len());
            let e = self.longest.entry(k.clone()).or_default();
            *e = (*e).max(n);
            if n > DBF_MAX_TEXT && self.too_long.is_none() {
                self.too_long = Some((id.clone(), k.clone(), n));
            }
        }
        if id.len() > DBF_MAX_TEXT && self.too_long.is_none() {
            self.too_long = Some((id.clone(), "id".into(), id.len()));
        }
    }
}

/// `name` cut to at most `bytes` bytes, at a character boundary.
fn cut(name: &str, bytes: usize) -> &str {
    let mut end = name.len().min(bytes);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.get(..end).unwrap_or("")
}

/// The Shapefile field name of each column, in order: the name cut to 10
/// bytes; when that is taken already (compared in any case), its first
/// bytes followed by `_1`, `_2`, ... (as many as the number needs) instead.
pub fn shapefile_names(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    let taken = |out: &[String], c: &str| out.iter().any(|o| o.eq_ignore_ascii_case(c));
    for name in names {
        let mut candidate = cut(name, DBF_MAX_NAME).to_string();
        let mut n = 1u32;
        while taken(&out, &candidate) {
            let suffix = format!("_{n}");
            candidate = format!(
                "{}{suffix}",
                cut(name, DBF_MAX_NAME.saturating_sub(suffix.len()))
            );
            n += 1;
        }
        out.push(candidate);
    }
    out
}

/// How a column is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Real,
    Boolean,
    Text,
}

/// A column: the property it holds (`None`: the id), its kind, the index
/// of its field in the layer.
struct Column {
    property: Option<String>,
    kind: Kind,
    field: usize,
}

/// A Shapefile or KML file being written; see the module's documentation.
pub struct OgrWriter {
    // First: closed before the temporary files go.
    ds: Option<Dataset>,
    target: PathBuf,
    /// The temporary directory (Shapefile) or file (KML) written.
    tmp: Tmp,
    columns: Vec<Column>,
    count: u64,
    // Last: GDAL's handler is popped after the dataset is closed.
    _quiet: Quiet,
}

enum Tmp {
    /// The directory (removed when dropped) and the `.shp` in it.
    Dir {
        _dir: tempfile::TempDir,
        shp: PathBuf,
    },
    File(tempfile::TempPath),
}

impl Tmp {
    fn path(&self) -> &Path {
        match self {
            Tmp::Dir { shp, .. } => shp,
            Tmp::File(p) => p,
        }
    }
}

/// The geometry type of a Shapefile holding the types noted.
fn shapefile_type(kinds: &[&str]) -> Result<OGRwkbGeometryType::Type> {
    let class = |k: &str| match k {
        "POINT" => "points",
        "MULTIPOINT" => "multipoints",
        "LINESTRING" | "MULTILINESTRING" => "lines",
        "POLYGON" | "MULTIPOLYGON" => "polygons",
        _ => "other geometries",
    };
    let mut classes: Vec<&str> = kinds.iter().map(|k| class(k)).collect();
    classes.dedup();
    classes.sort_unstable();
    classes.dedup();
    Ok(match classes.as_slice() {
        [] | ["points"] => OGRwkbGeometryType::wkbPoint,
        ["multipoints"] => OGRwkbGeometryType::wkbMultiPoint,
        ["lines"] => OGRwkbGeometryType::wkbLineString,
        ["polygons"] => OGRwkbGeometryType::wkbPolygon,
        more => {
            return Err(StoreError::Aborted(format!(
                "a Shapefile holds one geometry type, and this export has {}: export it as gpkg, fgb or kml",
                more.join(" and ")
            )))
        }
    })
}

impl OgrWriter {
    /// Starts writing `path` (a Shapefile's `.shp`, or a KML file) with the
    /// columns of `schema`; `name` names the layer (KML's folder).
    pub fn create(format: OgrFormat, path: &Path, name: &str, schema: &OgrSchema) -> Result<Self> {
        let quiet = Quiet::new();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = match format {
            OgrFormat::Shapefile => {
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !ext.eq_ignore_ascii_case("shp") {
                    return Err(StoreError::Aborted(format!(
                        "{}: a Shapefile export is named NAME.shp (its .shx, .dbf, .prj and .cpg are written beside it)",
                        path.display()
                    )));
                }
                if let Some((id, property, n)) = &schema.too_long {
                    return Err(StoreError::Aborted(format!(
                        "feature {id:?}: property {property:?} holds {n} bytes, and a Shapefile holds at most {DBF_MAX_TEXT} in a field: export it as gpkg, fgb or kml, which keep it whole"
                    )));
                }
                let d = tempfile::Builder::new()
                    .prefix(".jointmap-export-")
                    .tempdir_in(&dir)
                    .map_err(|e| fault(format!("{}: {e}", dir.display())))?;
                let file = d.path().join(path.file_name().unwrap_or_default());
                Tmp::Dir { _dir: d, shp: file }
            }
            OgrFormat::Kml => {
                let f = tempfile::Builder::new()
                    .prefix(".jointmap-export-")
                    .suffix(".kml")
                    .tempfile_in(&dir)
                    .map_err(|e| fault(format!("{}: {e}", dir.display())))?;
                Tmp::File(f.into_temp_path())
            }
        };
        let driver = DriverManager::get_driver_by_name(format.driver()).map_err(fault)?;
        reset();
        let mut ds = driver
            .create_vector_only(tmp.path())
            .map_err(|e| fault(format!("{}: {e}", path.display())))?;
        let srs = wgs84().map_err(fault)?;
        let (ty, options): (_, Option<&[&str]>) = match format {
            OgrFormat::Shapefile => (
                shapefile_type(schema.plain.geometry_types())?,
                Some(&["ENCODING=UTF-8"]),
            ),
            OgrFormat::Kml => (OGRwkbGeometryType::wkbUnknown, None),
        };
        let layer = ds
            .create_layer(LayerOptions {
                name,
                srs: Some(&srs),
                ty,
                options,
            })
            .map_err(fault)?;
        let mut columns = vec![Column {
            property: None,
            kind: Kind::Text,
            field: 0,
        }];
        let mut names = vec!["id".to_string()];
        let mut widths = vec![schema.longest_id];
        for (written, property, t) in schema.plain.columns() {
            let kind = match t {
                Some(PlainType::Integer) => Kind::Integer,
                Some(PlainType::Real) => Kind::Real,
                Some(PlainType::Boolean) => Kind::Boolean,
                _ => Kind::Text,
            };
            columns.push(Column {
                property: Some(property.to_string()),
                kind,
                field: 0,
            });
            names.push(written);
            widths.push(schema.longest.get(property).copied().unwrap_or(0));
        }
        if format == OgrFormat::Shapefile {
            names = shapefile_names(&names);
        }
        for ((c, n), w) in columns.iter_mut().zip(&names).zip(widths) {
            let wide = c.property.as_ref().is_some_and(|p| schema.wide.contains(p));
            if format == OgrFormat::Kml && c.kind == Kind::Integer && wide {
                // KML's Schema types integers as 32-bit `int`.
                c.kind = Kind::Text;
            }
            let ty = match c.kind {
                Kind::Integer if format == OgrFormat::Kml => OGRFieldType::OFTInteger,
                Kind::Integer => OGRFieldType::OFTInteger64,
                Kind::Real => OGRFieldType::OFTReal,
                Kind::Boolean => OGRFieldType::OFTInteger,
                Kind::Text => OGRFieldType::OFTString,
            };
            let field = FieldDefn::new(n, ty).map_err(fault)?;
            if format == OgrFormat::Shapefile && c.kind == Kind::Text {
                field.set_width(w.clamp(1, DBF_MAX_TEXT) as i32);
            }
            field.add_to_layer(&layer).map_err(fault)?;
        }
        // The field each column went to: KML's layer has its own `Name` and
        // `Description` first, which `name` and `description` are.
        let defn = layer.defn();
        for (c, n) in columns.iter_mut().zip(&names) {
            c.field = defn
                .field_index(n)
                .map_err(|e| fault(format!("field {n:?}: {e}")))?;
        }
        if let Some(msg) = last_message() {
            return Err(StoreError::Aborted(format!("{}: {msg}", path.display())));
        }
        Ok(OgrWriter {
            target: path.to_path_buf(),
            tmp,
            ds: Some(ds),
            columns,
            count: 0,
            _quiet: quiet,
        })
    }

    /// Writes one feature (GeoJSON, as the role sees it).
    pub fn add(&mut self, feature: &Value) -> Result<()> {
        let id = id_of(feature);
        let named = |e: String| StoreError::Aborted(format!("feature {id:?}: {e}"));
        let ds = self
            .ds
            .as_ref()
            .ok_or_else(|| fault("the export is finished"))?;
        let layer = ds.layer(0).map_err(fault)?;
        let mut f = gdal::vector::Feature::new(layer.defn()).map_err(fault)?;
        reset();
        for c in &self.columns {
            let i = c.field;
            let v = match &c.property {
                None => &feature["id"],
                Some(p) => &feature["properties"][p.as_str()],
            };
            let set = match (c.kind, v) {
                (_, Value::Null) => Ok(()),
                (Kind::Integer, Value::Number(n)) if n.as_i64().is_some() => {
                    f.set_field_integer64(i, n.as_i64().unwrap_or_default())
                }
                (Kind::Real | Kind::Integer, Value::Number(n)) => {
                    f.set_field_double(i, n.as_f64().unwrap_or(f64::NAN))
                }
                (Kind::Boolean, Value::Bool(b)) => f.set_field_integer(i, i32::from(*b)),
                (_, v) => f.set_field_string(i, &text_of(v).unwrap_or_default()),
            };
            set.map_err(|e| named(e.to_string()))?;
        }
        let g = &feature["geometry"];
        if !g.is_null() {
            let geometry = Geometry::from_geojson(&g.to_string())
                .map_err(|e| named(format!("its geometry: {e}")))?;
            f.set_geometry(geometry)
                .map_err(|e| named(format!("its geometry: {e}")))?;
        }
        f.create(&layer).map_err(|e| named(e.to_string()))?;
        if let Some(msg) = last_message() {
            return Err(named(msg));
        }
        self.count += 1;
        Ok(())
    }

    /// Closes the file and moves it into place; the number of features.
    pub fn finish(mut self) -> Result<u64> {
        reset();
        if let Some(ds) = self.ds.take() {
            ds.close().map_err(fault)?;
        }
        if let Some(msg) = last_message() {
            return Err(StoreError::Aborted(format!(
                "{}: {msg}",
                self.target.display()
            )));
        }
        let moved = |from: &Path, to: &Path| {
            std::fs::rename(from, to).map_err(|e| fault(format!("{}: {e}", to.display())))
        };
        match &self.tmp {
            Tmp::File(p) => moved(p, &self.target)?,
            Tmp::Dir { shp, .. } => {
                for part in SHAPEFILE_PARTS {
                    let from = shp.with_extension(part);
                    if from.exists() {
                        moved(&from, &self.target.with_extension(part))?;
                    }
                }
            }
        }
        Ok(self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        shapefile_names(&n.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn shapefile_names_are_cut_and_unique() {
        assert_eq!(
            names(&[
                "id",
                "time_start",
                "perpetrator",
                "perpetrator_category",
                "PERPETRATOR_x",
                "source_reliability",
                "source_relief",
            ]),
            [
                "id",
                "time_start",
                "perpetrato",
                "perpetra_1",
                "PERPETRA_2",
                "source_rel",
                "source_r_1"
            ]
        );
        // A name taken by an earlier cut is not given again.
        assert_eq!(
            names(&["ab_1", "abcdefghijkl", "ab"]),
            ["ab_1", "abcdefghij", "ab"]
        );
        let many: Vec<String> = (0..12).map(|i| format!("long_name_{i:02}x")).collect();
        let cut = shapefile_names(&many);
        assert_eq!(cut[0], "long_name_");
        assert_eq!(cut[10], "long_na_10");
        assert_eq!(cut[11], "long_na_11");
        // Never cut inside a character.
        assert_eq!(names(&["éééééé"]), ["ééééé"]);
        for n in cut.iter().chain(&names(&["x"; 30])) {
            assert!(n.len() <= DBF_MAX_NAME, "{n}");
        }
        let thirty = names(&["x"; 30]);
        let mut unique = thirty.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 30);
    }

    #[test]
    fn one_geometry_type_per_shapefile() {
        assert_eq!(
            shapefile_type(&["POLYGON", "MULTIPOLYGON"]).ok(),
            Some(OGRwkbGeometryType::wkbPolygon)
        );
        assert_eq!(shapefile_type(&[]).ok(), Some(OGRwkbGeometryType::wkbPoint));
        let e = shapefile_type(&["POINT", "POLYGON"]).expect_err("mixed");
        assert!(e.to_string().contains("points and polygons"), "{e}");
    }
}
