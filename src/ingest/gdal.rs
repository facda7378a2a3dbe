//! Input through GDAL (the `gdal` feature): any vector format GDAL reads
//! (Shapefile, GeoPackage, KML/KMZ, GML, CSV, GPX, ...), each record turned
//! into a GeoJSON Feature text for the common pipeline (mappings, presets,
//! validation, rejects, atomicity), reprojected from the layer's CRS to WGS
//! 84 longitude/latitude through GDAL's OSR (traditional GIS axis order).
//!
//! - **CRS**: the layer's own, else a `.prj` beside the file; a layer
//!   without one is WGS 84 only in formats that are WGS 84 by definition
//!   (KML, GPX, GeoJSON, CSV, as the pure-Rust readers take them); any
//!   other layer without a CRS is refused: jointmap does not guess.
//! - **Fields** become properties under their names; a text field is typed
//!   by its column as the CSV reader types cells (`ingest/csv.rs`), an empty
//!   or null one is absent; dates and times are written in RFC 3339 as
//!   GDAL holds them (no zone added when the file gives none); lists are
//!   JSON lists. KML's `Name`/`Description` are `name`/`description`; its
//!   presentation fields (altitude mode, tessellate, extrude, visibility,
//!   draw order, icon) are not data and are left out.
//! - **Layers**: every layer of KML and GPX (but GPX's `track_points` and
//!   `route_points`, which repeat the tracks' and routes' vertices); of any
//!   other dataset with more than one layer holding records, the one named
//!   with `--source-layer` (an error lists them otherwise).
//! - **Faults**: a file GDAL cannot open, a Shapefile without its `.shx` or
//!   `.dbf`, or any error or warning GDAL raises while reading a record
//!   (a truncated `.shp`, ...) refuses the file, naming the layer and FID;
//!   nothing is stored. GDAL reads a GPX `<time>` that is no time as
//!   midnight of its date without a warning, so a GPX file's times are
//!   first checked by jointmap's GPX reader (`gpx::check_times`), which
//!   names the line. A record GDAL reads but
//!   that is not a valid feature (no geometry, a KML placemark without
//!   coordinates, a bad value) is refused by validation like any format's,
//!   its message naming the layer and FID too.

use super::csv::Columns;
use super::formats::prj_beside;
use super::IngestOptions;
use crate::model::RawFeature;
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::{FieldValue, Geometry, LayerAccess, OGRFieldType};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use serde_json::{Map, Number, Value};
use std::ffi::CStr;
use std::path::Path;

/// Drivers whose data is WGS 84 longitude/latitude by definition.
const WGS84_DRIVERS: &[&str] = &["KML", "LIBKML", "GPX", "GeoJSON", "GeoJSONSeq", "CSV"];

/// Drivers whose several layers are all read by default.
const ALL_LAYERS_DRIVERS: &[&str] = &["KML", "LIBKML", "GPX"];

/// GPX's layers of the tracks' and routes' vertices, read only when named.
const GPX_POINT_LAYERS: &[&str] = &["track_points", "route_points"];

/// KML fields about presentation, not data.
const KML_STYLE_FIELDS: &[&str] = &[
    "altitudeMode",
    "tessellate",
    "extrude",
    "visibility",
    "drawOrder",
    "icon",
    "snippet",
];

/// GDAL's CSV driver told where jointmap's CSV reader finds the geometry.
const CSV_OPEN_OPTIONS: &[&str] = &[
    "X_POSSIBLE_NAMES=longitude,lon,lng,long,x",
    "Y_POSSIBLE_NAMES=latitude,lat,y",
    "GEOM_POSSIBLE_NAMES=wkt,geom_wkt,wkt_geom,the_geom,geometry",
    "KEEP_GEOM_COLUMNS=NO",
    "EMPTY_STRING_AS_NULL=YES",
];

/// While it lives, GDAL's messages on this thread are kept (for
/// [`last_message`]) instead of printed.
pub struct Quiet;

impl Quiet {
    /// Keeps GDAL's messages on this thread until dropped (on this thread).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Quiet {
        // SAFETY: pushes a handler GDAL provides onto this thread's stack;
        // popped by Drop on the same thread.
        unsafe { gdal_sys::CPLPushErrorHandler(Some(gdal_sys::CPLQuietErrorHandler)) };
        Quiet
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        // SAFETY: pops the handler `new` pushed on this thread.
        unsafe { gdal_sys::CPLPopErrorHandler() };
    }
}

/// Forgets the last message GDAL raised on this thread.
pub fn reset() {
    // SAFETY: resets this thread's error state; no pointers involved.
    unsafe { gdal_sys::CPLErrorReset() };
}

/// The warning or error GDAL raised on this thread since [`reset`], if any.
pub fn last_message() -> Option<String> {
    // SAFETY: reads this thread's error state; the message pointer is
    // GDAL's own buffer, copied before any other GDAL call.
    unsafe {
        let class = gdal_sys::CPLGetLastErrorType();
        if class == gdal_sys::CPLErr::CE_None || class == gdal_sys::CPLErr::CE_Debug {
            return None;
        }
        let msg = gdal_sys::CPLGetLastErrorMsg();
        let text = if msg.is_null() {
            String::new()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        };
        let kind = if class == gdal_sys::CPLErr::CE_Warning {
            "warning"
        } else {
            "error"
        };
        Some(format!("GDAL {kind}: {}", text.trim()))
    }
}

/// WGS 84 longitude/latitude, the CRS every record is turned into.
pub fn wgs84() -> Result<SpatialRef, String> {
    let mut srs = SpatialRef::from_epsg(4326).map_err(|e| format!("EPSG:4326: {e}"))?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// A Shapefile is three files at least: refuses one whose `.shx` or `.dbf`
/// is missing, naming it (GDAL would read a `.shp` without its `.dbf` as
/// records without attributes).
fn check_shapefile_parts(path: &Path) -> Result<(), String> {
    let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
        return Ok(());
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    for part in ["shx", "dbf"] {
        let found = [part.to_string(), part.to_ascii_uppercase()]
            .iter()
            .any(|e| dir.join(format!("{stem}.{e}")).is_file());
        if !found {
            return Err(format!(
                "the Shapefile has no .{part} file beside it ({stem}.{part}): a Shapefile is its .shp, .shx and .dbf together"
            ));
        }
    }
    Ok(())
}

/// Reads every record of the dataset at `path` (`-`: standard input) and
/// hands each to `sink` as a GeoJSON Feature text in WGS 84; the number of
/// records, or a message naming the fault and the record.
pub fn read_features(
    path: &Path,
    opts: &IngestOptions,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    let _quiet = Quiet::new();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if ext == "shp" {
        check_shapefile_parts(path)?;
    }
    let name = if path.as_os_str() == "-" {
        std::path::PathBuf::from("/vsistdin/")
    } else if ext == "kmz" {
        kml_in_kmz(path)
    } else {
        path.to_path_buf()
    };
    let (drivers, open_options): (Option<&[&str]>, Option<&[&str]>) = match ext.as_str() {
        "csv" => (Some(&["CSV"]), Some(CSV_OPEN_OPTIONS)),
        "kml" | "kmz" => (Some(&["LIBKML", "KML"]), None),
        _ => (None, None),
    };
    reset();
    let ds = Dataset::open_ex(
        &name,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
            allowed_drivers: drivers,
            open_options,
            sibling_files: None,
        },
    )
    .map_err(|e| {
        let why = last_message().unwrap_or_else(|| e.to_string());
        format!("GDAL cannot read it as vector data: {why}")
    })?;
    if let Some(msg) = last_message() {
        return Err(format!("opening it: {msg}"));
    }
    let driver = ds.driver().short_name();
    if driver == "GPX" && path.as_os_str() != "-" {
        // GDAL reads a <time> that is no time as midnight of its date,
        // silently: jointmap's own check names it.
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        super::gpx::check_times(std::io::BufReader::new(file))?;
    }
    let target = wgs84()?;
    let prj = match prj_beside(path) {
        Some(p) => Some(std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let columns = Columns::plan(opts);
    let layers = chosen_layers(&ds, &driver, opts.source_layer.as_deref())?;
    let kml = driver == "KML" || driver == "LIBKML";
    let mut index = 0usize;
    for li in layers {
        let mut layer = ds.layer(li).map_err(|e| format!("layer {li}: {e}"))?;
        let lname = layer.name();
        let transform = layer_transform(&layer, &driver, prj.as_deref(), &target)
            .map_err(|e| format!("layer {lname:?}: {e}"))?;
        let fields: Vec<(String, OGRFieldType::Type)> = layer
            .defn()
            .fields()
            .map(|f| (f.name(), f.field_type()))
            .collect();
        let mut features = layer.features();
        loop {
            reset();
            let Some(f) = features.next() else {
                if let Some(msg) = last_message() {
                    return Err(format!(
                        "layer {lname:?}: after {index} records: {msg} (a truncated or corrupt file?)"
                    ));
                }
                break;
            };
            let origin = match f.fid() {
                Some(fid) => format!("layer {lname:?} FID {fid}"),
                None => format!("layer {lname:?}, record {index}"),
            };
            if let Some(msg) = last_message() {
                return Err(format!("{origin}: {msg}"));
            }
            let text = feature_text(&f, &fields, transform.as_ref(), &columns, kml)
                .map_err(|e| format!("{origin}: {e}"))?;
            if text.len() > opts.bounds.max_feature_bytes {
                return Err(format!(
                    "{origin}: {} bytes as GeoJSON, more than the maximum feature size {} (see --max-feature-bytes)",
                    text.len(),
                    opts.bounds.max_feature_bytes
                ));
            }
            sink(RawFeature {
                index,
                text,
                start: None,
                origin: Some(origin),
            })?;
            index += 1;
        }
    }
    Ok(index)
}

/// The KML document of a KMZ archive as GDAL names it inside the zip (its
/// `doc.kml`, else its first `.kml`): read there, LIBKML finds the
/// document's `Schema`, which it misses reading the archive itself (every
/// `ExtendedData` field then lost). The archive itself when it has none.
fn kml_in_kmz(path: &Path) -> std::path::PathBuf {
    let zip = std::path::PathBuf::from(format!("/vsizip/{}", path.display()));
    let entries = gdal::vsi::read_dir(&zip, false).unwrap_or_default();
    let is_kml = |p: &&std::path::PathBuf| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("kml"))
    };
    let doc = entries
        .iter()
        .find(|p| p.as_os_str().eq_ignore_ascii_case("doc.kml"))
        .or_else(|| entries.iter().find(is_kml));
    match doc {
        Some(d) => zip.join(d),
        None => path.to_path_buf(),
    }
}

/// The indexes of the layers to read (see the module's documentation).
fn chosen_layers(ds: &Dataset, driver: &str, named: Option<&str>) -> Result<Vec<usize>, String> {
    let mut all = Vec::new();
    for i in 0..ds.layer_count() {
        let layer = ds.layer(i).map_err(|e| format!("layer {i}: {e}"))?;
        all.push((i, layer.name(), layer.feature_count()));
    }
    let names = || {
        all.iter()
            .map(|(_, n, c)| format!("{n:?} ({c} records)"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(want) = named {
        return all
            .iter()
            .find(|(_, n, _)| n == want)
            .map(|(i, _, _)| vec![*i])
            .ok_or_else(|| format!("no layer {want:?}; its layers: {}", names()));
    }
    let read: Vec<usize> = all
        .iter()
        .filter(|(_, n, _)| !(driver == "GPX" && GPX_POINT_LAYERS.contains(&n.as_str())))
        .map(|(i, _, _)| *i)
        .collect();
    let holding = all.iter().filter(|(_, _, c)| *c > 0).count();
    if holding > 1 && !ALL_LAYERS_DRIVERS.contains(&driver) {
        return Err(format!(
            "it has {holding} layers holding records: {}; name the one to read with --source-layer",
            names()
        ));
    }
    Ok(read)
}

/// The transformation of a layer's coordinates into WGS 84, `None` when
/// they are WGS 84 longitude/latitude already by the format's definition.
fn layer_transform(
    layer: &gdal::vector::Layer<'_>,
    driver: &str,
    prj: Option<&str>,
    target: &SpatialRef,
) -> Result<Option<CoordTransform>, String> {
    let srs = match (layer.spatial_ref(), prj) {
        (Some(s), _) => s,
        (None, Some(wkt)) => SpatialRef::from_esri(wkt)
            .or_else(|_| SpatialRef::from_wkt(wkt))
            .map_err(|e| format!("the .prj beside it is not a CRS GDAL reads: {e}"))?,
        (None, None) if WGS84_DRIVERS.contains(&driver) => return Ok(None),
        (None, None) => {
            return Err(format!(
                "it declares no CRS (a {driver} layer without one, and no .prj beside the file); jointmap does not guess: assign one first (ogr2ogr -a_srs EPSG:NNNN)"
            ))
        }
    };
    let mut srs = srs;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&srs, target)
        .map(Some)
        .map_err(|e| format!("no transformation from its CRS to WGS 84: {e}"))
}

/// One record as a GeoJSON Feature text.
fn feature_text(
    f: &gdal::vector::Feature<'_>,
    fields: &[(String, OGRFieldType::Type)],
    transform: Option<&CoordTransform>,
    columns: &Columns,
    kml: bool,
) -> Result<String, String> {
    let geometry = match f.geometry() {
        None => Value::Null,
        Some(g) if g.is_empty() => Value::Null,
        Some(g) => match transform {
            Some(t) => {
                let g = g
                    .transform(t)
                    .map_err(|e| format!("its geometry cannot be reprojected to WGS 84: {e}"))?;
                geojson_geometry(&g)?
            }
            None => geojson_geometry(g)?,
        },
    };
    let mut props = Map::new();
    for (i, (name, ty)) in fields.iter().enumerate() {
        if kml && KML_STYLE_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let key = match name.as_str() {
            "Name" if kml => "name",
            "Description" if kml => "description",
            n => n,
        };
        let bad = |e: gdal::errors::GdalError| format!("its field {name:?}: {e}");
        let value = match *ty {
            OGRFieldType::OFTString => f
                .field_as_string(i)
                .map_err(bad)?
                .and_then(|s| columns.typed(key, &s)),
            OGRFieldType::OFTDate | OGRFieldType::OFTDateTime | OGRFieldType::OFTTime => f
                .field_as_string(i)
                .map_err(bad)?
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(rfc3339(&s))),
            OGRFieldType::OFTBinary => f
                .field_as_string(i)
                .map_err(bad)?
                .filter(|s| !s.is_empty())
                .map(Value::String),
            _ => f.field(i).map_err(bad)?.map(json_value),
        };
        if let Some(v) = value {
            props.insert(key.to_string(), v);
        }
    }
    let mut out = Map::new();
    out.insert("type".into(), "Feature".into());
    out.insert("geometry".into(), geometry);
    out.insert("properties".into(), Value::Object(props));
    Ok(Value::Object(out).to_string())
}

fn number(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// A field's value as JSON (lists as lists).
fn json_value(v: FieldValue) -> Value {
    match v {
        FieldValue::IntegerValue(n) => Value::from(n),
        FieldValue::Integer64Value(n) => Value::from(n),
        FieldValue::RealValue(x) => number(x),
        FieldValue::StringValue(s) => Value::String(s),
        FieldValue::IntegerListValue(l) => l.into_iter().map(Value::from).collect(),
        FieldValue::Integer64ListValue(l) => l.into_iter().map(Value::from).collect(),
        FieldValue::RealListValue(l) => l.into_iter().map(number).collect(),
        FieldValue::StringListValue(l) => l.into_iter().map(Value::String).collect(),
        FieldValue::DateValue(d) => Value::String(d.format("%Y-%m-%d").to_string()),
        FieldValue::DateTimeValue(t) => Value::String(t.to_rfc3339()),
    }
}

/// GDAL's text of a date or time (`2024/03/01 06:00:00.5+00`) in RFC 3339
/// (`2024-03-01T06:00:00.5Z`); the zone only when GDAL has one, so a time
/// without a zone stays one for validation to judge. Anything else as it
/// was.
pub fn rfc3339(gdal: &str) -> String {
    let s = gdal.trim();
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t.trim())),
        None if s.contains(':') => return s.to_string(),
        None => (s, None),
    };
    let date = date.replace('/', "-");
    let Some(time) = time else {
        return date;
    };
    // The zone starts at a sign after the hours.
    let (clock, zone) = match time
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
    {
        Some((at, _)) => time.split_at(at),
        None => (time, ""),
    };
    let zone = match (zone.len(), zone.get(..3), zone.get(3..)) {
        (0, ..) => String::new(),
        _ if matches!(zone, "+00" | "-00" | "+0000" | "+00:00") => "Z".to_string(),
        (3, ..) => format!("{zone}:00"),
        (5, Some(h), Some(m)) if !zone.contains(':') => format!("{h}:{m}"),
        _ => zone.to_string(),
    };
    format!("{date}T{clock}{zone}")
}

/// A GDAL geometry as a GeoJSON geometry (two dimensions, exact doubles,
/// polygon rings oriented as RFC 7946 says).
fn geojson_geometry(g: &Geometry) -> Result<Value, String> {
    let geo = g
        .to_geo()
        .map_err(|e| format!("its geometry ({}) is not read: {e}", g.geometry_name()))?;
    to_geojson(&geo)
}

fn position(c: geo_types::Coord<f64>) -> Value {
    Value::Array(vec![number(c.x), number(c.y)])
}

fn line(l: &geo_types::LineString<f64>) -> Value {
    Value::Array(l.coords().map(|c| position(*c)).collect())
}

fn polygon(p: &geo_types::Polygon<f64>) -> Value {
    let mut rings = vec![line(p.exterior())];
    rings.extend(p.interiors().iter().map(line));
    Value::Array(rings)
}

fn to_geojson(g: &geo_types::Geometry<f64>) -> Result<Value, String> {
    use geo::orient::{Direction, Orient};
    use geo_types::Geometry as G;
    // Rings as RFC 7946 wants them (exterior counter-clockwise, holes
    // clockwise): a Shapefile's are the other way round.
    let oriented;
    let g = match g {
        G::Polygon(p) => {
            oriented = G::Polygon(p.orient(Direction::Default));
            &oriented
        }
        G::MultiPolygon(m) => {
            oriented = G::MultiPolygon(m.orient(Direction::Default));
            &oriented
        }
        other => other,
    };
    let (kind, coordinates) = match g {
        G::Point(p) => ("Point", position(p.0)),
        G::LineString(l) => ("LineString", line(l)),
        G::Polygon(p) => ("Polygon", polygon(p)),
        G::MultiPoint(m) => (
            "MultiPoint",
            Value::Array(m.0.iter().map(|p| position(p.0)).collect()),
        ),
        G::MultiLineString(m) => (
            "MultiLineString",
            Value::Array(m.0.iter().map(line).collect()),
        ),
        G::MultiPolygon(m) => (
            "MultiPolygon",
            Value::Array(m.0.iter().map(polygon).collect()),
        ),
        G::GeometryCollection(_) => {
            return Err(
                "its geometry is a GeometryCollection, which jointmap does not store".into(),
            )
        }
        other => return Err(format!("its geometry {other:?} is not read")),
    };
    let mut out = Map::new();
    out.insert("type".into(), kind.into());
    out.insert("coordinates".into(), coordinates);
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests;
