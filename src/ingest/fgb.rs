//! FlatGeobuf input (version 3, as GDAL, QGIS and the flatgeobuf libraries
//! write it), read as a stream: the magic bytes, the header, the spatial
//! index skipped unread, then each feature turned into a GeoJSON Feature
//! text for the common pipeline (validation, mappings, rejects, atomicity).
//!
//! A column named `id` becomes the feature's `id`; every other column a
//! property, typed by its column (`Json` columns parsed, `Binary` as hex).
//! Only WGS 84 is read (EPSG:4326 or OGC CRS84): any other CRS, or none, is
//! refused naming what the header declares, since without GDAL jointmap
//! does not reproject and will not guess.
//!
//! A fault of the file refuses it, naming where: bad magic bytes, a header
//! or a feature cut short or larger than the bounds allow, offsets outside
//! their buffer, a geometry whose parts do not add up, a feature count that
//! the features do not match. What is wrong with a well-encoded feature
//! (its geometry's validity, its fields) is refused by validation like any
//! feature's, by index and id.

mod flat;

use crate::model::RawFeature;
use flat::{Table, Vector};
use serde_json::{Map, Number, Value};
use std::io::{BufRead, Read};

/// The magic bytes' first three and last four (the fourth is the major
/// version, the eighth the patch version).
const MAGIC: &[u8; 3] = b"fgb";
/// The major version read.
const VERSION: u8 = 3;
/// The largest header read (as GDAL and the reference reader bound it).
pub const MAX_HEADER_BYTES: usize = 10 << 20;

/// Whether `head` (the first bytes of an input) starts like a FlatGeobuf file.
pub fn looks_like(head: &[u8]) -> bool {
    head.len() >= 7 && &head[..3] == MAGIC && &head[4..7] == MAGIC
}

/// FlatGeobuf's geometry types (those jointmap reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GeomType {
    Point = 1,
    LineString = 2,
    Polygon = 3,
    MultiPoint = 4,
    MultiLineString = 5,
    MultiPolygon = 6,
}

impl GeomType {
    fn of(code: u8) -> Result<GeomType, String> {
        use GeomType::*;
        Ok(match code {
            1 => Point,
            2 => LineString,
            3 => Polygon,
            4 => MultiPoint,
            5 => MultiLineString,
            6 => MultiPolygon,
            0 => return Err("its geometry type is Unknown".into()),
            c => {
                return Err(format!(
                    "geometry type {c} is not read (only points, lines and polygons)"
                ))
            }
        })
    }

    fn name(self) -> &'static str {
        use GeomType::*;
        match self {
            Point => "Point",
            LineString => "LineString",
            Polygon => "Polygon",
            MultiPoint => "MultiPoint",
            MultiLineString => "MultiLineString",
            MultiPolygon => "MultiPolygon",
        }
    }
}

/// FlatGeobuf's column types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Byte,
    UByte,
    Bool,
    Short,
    UShort,
    Int,
    UInt,
    Long,
    ULong,
    Float,
    Double,
    String,
    Json,
    DateTime,
    Binary,
}

impl ColumnType {
    fn of(code: u8) -> Option<ColumnType> {
        use ColumnType::*;
        [
            Byte, UByte, Bool, Short, UShort, Int, UInt, Long, ULong, Float, Double, String, Json,
            DateTime, Binary,
        ]
        .get(code as usize)
        .copied()
    }
}

/// What the header says.
struct Header {
    geometry_type: u8,
    has_z: bool,
    columns: Vec<(String, ColumnType)>,
    features_count: u64,
    index_node_size: u16,
}

fn io_fault(what: &str, e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        format!("FlatGeobuf: the file ends inside {what} (truncated)")
    } else {
        format!("FlatGeobuf: reading {what}: {e}")
    }
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` at a clean end of input
/// (nothing read), an error if it ends part way.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn read_header<R: BufRead>(reader: &mut R) -> Result<Header, String> {
    let mut magic = [0u8; 8];
    match read_full(reader, &mut magic) {
        Ok(true) => {}
        Ok(false) => return Err("FlatGeobuf: the file is empty".into()),
        Err(e) => return Err(io_fault("the magic bytes", e)),
    }
    if !looks_like(&magic) {
        return Err(
            "FlatGeobuf: not a FlatGeobuf file (its first bytes are not `fgb`, version, `fgb`)"
                .into(),
        );
    }
    if magic[3] != VERSION {
        return Err(format!(
            "FlatGeobuf: version {} is not read (version {VERSION} is)",
            magic[3]
        ));
    }
    let mut size = [0u8; 4];
    read_full(reader, &mut size)
        .and_then(|ok| {
            if ok {
                Ok(())
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            }
        })
        .map_err(|e| io_fault("the header's size", e))?;
    let size = u32::from_le_bytes(size) as usize;
    if !(8..=MAX_HEADER_BYTES).contains(&size) {
        return Err(format!(
            "FlatGeobuf: the header declares {size} bytes (a header is 8 to {MAX_HEADER_BYTES})"
        ));
    }
    let mut buf = vec![0u8; size];
    reader
        .read_exact(&mut buf)
        .map_err(|e| io_fault(&format!("the header (declared {size} bytes)"), e))?;
    let fault = |e: String| format!("FlatGeobuf: the header is corrupt: {e}");
    let h = Table::root(&buf).map_err(fault)?;
    let mut columns = Vec::new();
    if let Some(cols) = h.vector(7, 4).map_err(fault)? {
        for i in 0..cols.len {
            let c = cols.table(i).map_err(fault)?;
            let name = c
                .str(0)
                .map_err(fault)?
                .ok_or_else(|| format!("FlatGeobuf: column {i} has no name"))?;
            let code = c.u8(1, 0).map_err(fault)?;
            let ty = ColumnType::of(code)
                .ok_or_else(|| format!("FlatGeobuf: column {name:?} has unknown type {code}"))?;
            columns.push((name.to_string(), ty));
        }
    }
    check_crs(&h).map_err(|e| format!("FlatGeobuf: {e}"))?;
    Ok(Header {
        geometry_type: h.u8(2, 0).map_err(fault)?,
        has_z: h.u8(3, 0).map_err(fault)? != 0,
        columns,
        features_count: h.u64(8, 0).map_err(fault)?,
        index_node_size: h.u16(9, 16).map_err(fault)?,
    })
}

/// WGS 84 longitude/latitude, or an error naming the declared CRS.
fn check_crs(h: &Table<'_>) -> Result<(), String> {
    let Some(crs) = h.table(10)? else {
        return Err(
            "the file declares no CRS; jointmap reads WGS 84 (EPSG:4326) only without the gdal feature, and does not guess".into(),
        );
    };
    let org = crs.str(0)?.unwrap_or("");
    let code = crs.i32(1, 0)?;
    let code_string = crs.str(5)?.unwrap_or("");
    let name = crs.str(2)?.unwrap_or("");
    let wgs84 = (org.eq_ignore_ascii_case("EPSG") || org.is_empty()) && code == 4326
        || org.eq_ignore_ascii_case("OGC") && code_string.eq_ignore_ascii_case("CRS84");
    if wgs84 {
        return Ok(());
    }
    let org = if org.is_empty() { "EPSG" } else { org };
    let id = if code != 0 {
        format!("{org}:{code}")
    } else if !code_string.is_empty() {
        format!("{org}:{code_string}")
    } else {
        "an unidentified CRS".to_string()
    };
    let named = if name.is_empty() {
        String::new()
    } else {
        format!(" ({name})")
    };
    let how = if cfg!(feature = "gdal") {
        "read it with --format gdal, which reprojects through GDAL"
    } else {
        super::formats::NO_GDAL
    };
    Err(format!(
        "the file's CRS is {id}{named}, not WGS 84 (EPSG:4326), and jointmap does not guess: {how}"
    ))
}

/// The bytes of the packed Hilbert R-tree that follows the header.
fn index_bytes(count: u64, node_size: u16) -> Result<u64, String> {
    if count == 0 || node_size == 0 {
        return Ok(0);
    }
    if node_size < 2 {
        return Err(format!(
            "FlatGeobuf: the header declares an index node size of {node_size} (at least 2)"
        ));
    }
    let mut n = count;
    let mut nodes = n;
    loop {
        n = n.div_ceil(u64::from(node_size));
        nodes = nodes
            .checked_add(n)
            .ok_or("FlatGeobuf: index size overflows")?;
        if n == 1 {
            break;
        }
    }
    nodes
        .checked_mul(40)
        .ok_or_else(|| format!("FlatGeobuf: the header declares {count} features, too many"))
}

/// Reads every feature of a FlatGeobuf file and hands each to `sink` as a
/// GeoJSON Feature text; the number of features, or a message naming the
/// fault and the feature.
pub fn read_features<R: BufRead>(
    mut reader: R,
    max_feature_bytes: usize,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    let header = read_header(&mut reader)?;
    let index = index_bytes(header.features_count, header.index_node_size)?;
    let skipped = std::io::copy(&mut (&mut reader).take(index), &mut std::io::sink())
        .map_err(|e| io_fault("the spatial index", e))?;
    if skipped < index {
        return Err(format!(
            "FlatGeobuf: the file ends inside the spatial index ({index} bytes for {} features; {skipped} present): truncated, or the feature count is wrong",
            header.features_count
        ));
    }
    let mut buf = Vec::new();
    let mut index = 0usize;
    loop {
        let mut size = [0u8; 4];
        match read_full(&mut reader, &mut size) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(io_fault(&format!("feature {index}'s size"), e)),
        }
        if header.features_count != 0 && index as u64 >= header.features_count {
            return Err(format!(
                "FlatGeobuf: the header declares {} features, the file holds more",
                header.features_count
            ));
        }
        let size = u32::from_le_bytes(size) as usize;
        if size > max_feature_bytes {
            return Err(format!(
                "FlatGeobuf: feature {index} declares {size} bytes, more than the limit of {max_feature_bytes}"
            ));
        }
        buf.clear();
        buf.resize(size, 0);
        reader
            .read_exact(&mut buf)
            .map_err(|e| io_fault(&format!("feature {index} (declared {size} bytes)"), e))?;
        let text =
            feature_text(&buf, &header).map_err(|e| format!("FlatGeobuf: feature {index}: {e}"))?;
        sink(RawFeature {
            index,
            text,
            start: None,
            origin: None,
        })?;
        index += 1;
    }
    if header.features_count != 0 && index as u64 != header.features_count {
        return Err(format!(
            "FlatGeobuf: the header declares {} features, the file holds {index}",
            header.features_count
        ));
    }
    Ok(index)
}

/// One feature as a GeoJSON Feature text.
fn feature_text(buf: &[u8], header: &Header) -> Result<String, String> {
    let f = Table::root(buf)?;
    if f.vector(2, 4)?.is_some_and(|c| c.len > 0) {
        return Err("per-feature columns are not read".into());
    }
    let geometry = match f.table(0)? {
        None => Value::Null,
        Some(g) => {
            let ty = match GeomType::of(header.geometry_type) {
                Ok(t) => t,
                Err(_) if header.geometry_type == 0 => GeomType::of(g.u8(6, 0)?)?,
                Err(e) => return Err(e),
            };
            geometry(&g, ty, header.has_z)?
        }
    };
    let mut id = Value::Null;
    let mut props = Map::new();
    if let Some(p) = f.vector(1, 1)? {
        properties(p.bytes(), &header.columns, &mut |name, v| {
            if name == "id" && id.is_null() && matches!(v, Value::String(_) | Value::Number(_)) {
                id = v;
            } else {
                props.insert(name.to_string(), v);
            }
        })?;
    }
    let mut out = Map::new();
    out.insert("type".into(), "Feature".into());
    if !id.is_null() {
        out.insert("id".into(), id);
    }
    out.insert("geometry".into(), geometry);
    out.insert("properties".into(), Value::Object(props));
    Ok(Value::Object(out).to_string())
}

fn number(x: f64) -> Result<Value, String> {
    Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| format!("a coordinate is {x}, not a finite number"))
}

/// Point `i` of a geometry as a GeoJSON position.
fn position(xy: &Vector<'_>, z: Option<&Vector<'_>>, i: usize) -> Result<Value, String> {
    let mut p = vec![number(xy.f64(2 * i)?)?, number(xy.f64(2 * i + 1)?)?];
    if let Some(z) = z {
        p.push(number(z.f64(i)?)?);
    }
    Ok(Value::Array(p))
}

/// Points `from..to` of a geometry as GeoJSON positions.
fn positions(
    xy: &Vector<'_>,
    z: Option<&Vector<'_>>,
    from: usize,
    to: usize,
) -> Result<Value, String> {
    (from..to)
        .map(|i| position(xy, z, i))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// The parts of a geometry by its `ends` (the index after each part's last
/// point), checked to be increasing and to end at the last point.
fn parts(g: &Table<'_>, points: usize) -> Result<Vec<(usize, usize)>, String> {
    let Some(ends) = g.vector(0, 4)? else {
        return Ok(vec![(0, points)]);
    };
    let mut out = Vec::with_capacity(ends.len);
    let mut from = 0;
    for i in 0..ends.len {
        let end = ends.u32(i)? as usize;
        if end <= from || end > points {
            return Err(format!(
                "its geometry's part {i} ends at point {end}, outside {from}..{points}"
            ));
        }
        out.push((from, end));
        from = end;
    }
    if from != points {
        return Err(format!(
            "its geometry's parts end at point {from} of {points}"
        ));
    }
    Ok(out)
}

fn geometry(g: &Table<'_>, ty: GeomType, has_z: bool) -> Result<Value, String> {
    let coordinates = if ty == GeomType::MultiPolygon {
        let Some(ps) = g.vector(7, 4)? else {
            return Err("its MultiPolygon has no parts".into());
        };
        let mut polys = Vec::with_capacity(ps.len);
        for i in 0..ps.len {
            let part = ps.table(i)?;
            polys.push(flat_coordinates(&part, GeomType::Polygon, has_z)?);
        }
        Value::Array(polys)
    } else {
        flat_coordinates(g, ty, has_z)?
    };
    let mut out = Map::new();
    out.insert("type".into(), ty.name().into());
    out.insert("coordinates".into(), coordinates);
    Ok(Value::Object(out))
}

/// The coordinates of a geometry held in one `xy` array (every type but
/// MultiPolygon).
fn flat_coordinates(g: &Table<'_>, ty: GeomType, has_z: bool) -> Result<Value, String> {
    let xy = g
        .vector(1, 8)?
        .ok_or_else(|| format!("its {} has no coordinates", ty.name()))?;
    if xy.len % 2 != 0 {
        return Err(format!(
            "its geometry has {} ordinates, an odd number",
            xy.len
        ));
    }
    let points = xy.len / 2;
    let z = match g.vector(2, 8)? {
        Some(z) if has_z => {
            if z.len != points {
                return Err(format!(
                    "its geometry has {points} points and {} z values",
                    z.len
                ));
            }
            Some(z)
        }
        _ => None,
    };
    let z = z.as_ref();
    Ok(match ty {
        GeomType::Point => {
            if points != 1 {
                return Err(format!("its Point has {points} points"));
            }
            position(&xy, z, 0)?
        }
        GeomType::LineString | GeomType::MultiPoint => positions(&xy, z, 0, points)?,
        GeomType::Polygon | GeomType::MultiLineString => Value::Array(
            parts(g, points)?
                .into_iter()
                .map(|(a, b)| positions(&xy, z, a, b))
                .collect::<Result<_, _>>()?,
        ),
        GeomType::MultiPolygon => return Err("a MultiPolygon inside a MultiPolygon".into()),
    })
}

/// Decodes a feature's properties: (column index, value) pairs.
fn properties(
    b: &[u8],
    columns: &[(String, ColumnType)],
    put: &mut dyn FnMut(&str, Value),
) -> Result<(), String> {
    let mut at = 0usize;
    while at < b.len() {
        let col = flat::u16_at(b, at)
            .map_err(|_| "its properties end inside a column index".to_string())?
            as usize;
        at += 2;
        let (name, ty) = columns.get(col).ok_or_else(|| {
            format!(
                "its properties name column {col}, the header has {}",
                columns.len()
            )
        })?;
        let fixed = |n: usize, at: usize| -> Result<&[u8], String> {
            b.get(at..at.saturating_add(n))
                .filter(|s| s.len() == n)
                .ok_or_else(|| format!("its property {name:?} is cut short"))
        };
        use ColumnType as C;
        let width = match ty {
            C::Byte | C::UByte | C::Bool => 1,
            C::Short | C::UShort => 2,
            C::Int | C::UInt | C::Float => 4,
            C::Long | C::ULong | C::Double => 8,
            C::String | C::Json | C::DateTime | C::Binary => {
                let len = flat::u32_at(b, at)
                    .map_err(|_| format!("its property {name:?} is cut short"))?
                    as usize;
                at += 4;
                let s = fixed(len, at)?;
                at += len;
                let text = || {
                    std::str::from_utf8(s)
                        .map(str::to_string)
                        .map_err(|_| format!("its property {name:?} is not UTF-8"))
                };
                let v = match ty {
                    C::Binary => Value::String(s.iter().map(|x| format!("{x:02x}")).collect()),
                    C::Json => {
                        let t = text()?;
                        serde_json::from_str(&t).unwrap_or(Value::String(t))
                    }
                    _ => Value::String(text()?),
                };
                put(name, v);
                continue;
            }
        };
        let s = fixed(width, at)?;
        at += width;
        let mut a = [0u8; 8];
        a[..width].copy_from_slice(s);
        let v = match ty {
            C::Byte => Value::from(s[0] as i8),
            C::UByte => Value::from(s[0]),
            C::Bool => Value::Bool(s[0] != 0),
            C::Short => Value::from(i16::from_le_bytes([s[0], s[1]])),
            C::UShort => Value::from(u16::from_le_bytes([s[0], s[1]])),
            C::Int => Value::from(i32::from_le_bytes([a[0], a[1], a[2], a[3]])),
            C::UInt => Value::from(u32::from_le_bytes([a[0], a[1], a[2], a[3]])),
            C::Long => Value::from(i64::from_le_bytes(a)),
            C::ULong => Value::from(u64::from_le_bytes(a)),
            C::Float => Number::from_f64(f64::from(f32::from_le_bytes([a[0], a[1], a[2], a[3]])))
                .map_or(Value::Null, Value::Number),
            _ => Number::from_f64(f64::from_le_bytes(a)).map_or(Value::Null, Value::Number),
        };
        put(name, v);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
