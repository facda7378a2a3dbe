//! FlatGeobuf export (version 3): what a role may see of a layer or of a
//! product, for QGIS, ArcGIS and GDAL, with the packed Hilbert R-tree
//! (`fgb/index.rs`) they use for spatial filters. The columns are those of
//! the GeoPackage export ([`PlainSchema`]: `id` first, then every exported
//! property, typed from its values: Long, Double, Bool, DateTime, Json,
//! String);
//! a null is an absent value. WGS 84 (EPSG:4326).
//!
//! The features are encoded as they come into a spill file beside the
//! target (only their boxes and offsets are held), then written sorted
//! along the Hilbert curve after the header and the index to a file beside
//! the target, renamed into place at the end: a failed export leaves no
//! half-written file and never destroys the previous one.

mod index;

use crate::model::geometry::{parse_geometry, GeomKind};
use crate::store::{PlainSchema, PlainType, Result, StoreError};
use flatbuffers::{FlatBufferBuilder, WIPOffset};
use geo_types::{Coord, Geometry, LineString, Polygon};
use index::Node;
use serde_json::Value;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Magic bytes: `fgb`, major version 3, `fgb`, patch version 1.
const MAGIC: [u8; 8] = *b"fgb\x03fgb\x01";
/// Index node size (the format's default).
const NODE_SIZE: u16 = 16;

/// FlatGeobuf's column type codes used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Bool = 2,
    Long = 7,
    Double = 10,
    String = 11,
    Json = 12,
    DateTime = 13,
}

impl ColumnType {
    fn of(t: Option<PlainType>) -> ColumnType {
        match t {
            Some(PlainType::Integer) => ColumnType::Long,
            Some(PlainType::Real) => ColumnType::Double,
            Some(PlainType::Boolean) => ColumnType::Bool,
            Some(PlainType::DateTime) => ColumnType::DateTime,
            Some(PlainType::Json) => ColumnType::Json,
            Some(PlainType::Text) | None => ColumnType::String,
        }
    }
}

/// A column: the name written, the property it holds (`None`: the id).
struct Column {
    name: String,
    property: Option<String>,
    ty: ColumnType,
}

/// A feature spilled: its box, where it is in the spill file, its size.
struct Spilled {
    bbox: [f64; 4],
    at: u64,
    size: u32,
}

/// A FlatGeobuf file being written; see the module's documentation.
pub struct FgbWriter {
    path: PathBuf,
    name: String,
    description: String,
    columns: Vec<Column>,
    /// 0 (Unknown: each feature says) when the schema noted several.
    geometry_type: u8,
    spill: BufWriter<File>,
    spilled: Vec<Spilled>,
    at: u64,
    fbb: FlatBufferBuilder<'static>,
    props: Vec<u8>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Aborted(format!("{}: {e}", path.display()))
}

fn geometry_code(gpkg_name: &str) -> u8 {
    match gpkg_name {
        "POINT" => 1,
        "LINESTRING" => 2,
        "POLYGON" => 3,
        "MULTIPOINT" => 4,
        "MULTILINESTRING" => 5,
        "MULTIPOLYGON" => 6,
        _ => 0,
    }
}

impl FgbWriter {
    /// Starts writing the layer `name`, described by `description` in the
    /// header, with `schema`'s columns, to `path`.
    pub fn create(
        path: &Path,
        name: &str,
        description: &str,
        schema: &PlainSchema,
    ) -> Result<FgbWriter> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let spill = tempfile::tempfile_in(dir).map_err(io(dir))?;
        let mut columns = vec![Column {
            name: "id".into(),
            property: None,
            ty: ColumnType::String,
        }];
        columns.extend(schema.columns().map(|(name, property, t)| Column {
            name,
            property: Some(property.to_string()),
            ty: ColumnType::of(t),
        }));
        let geometry_type = match schema.geometry_types() {
            [one] => geometry_code(one),
            _ => 0,
        };
        Ok(FgbWriter {
            path: path.to_path_buf(),
            name: name.to_string(),
            description: description.to_string(),
            columns,
            geometry_type,
            spill: BufWriter::new(spill),
            spilled: Vec::new(),
            at: 0,
            fbb: FlatBufferBuilder::new(),
            props: Vec::new(),
        })
    }

    /// Writes one feature (GeoJSON, as the role sees it), its geometry
    /// parsed as the store's are.
    pub fn add(&mut self, feature: &Value) -> Result<()> {
        let id = match &feature["id"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let named = || format!("feature {}", id.as_deref().unwrap_or("(no id)"));
        let geometry = parse_geometry(
            &feature["geometry"],
            &[
                GeomKind::Point,
                GeomKind::LineString,
                GeomKind::MultiLineString,
                GeomKind::Polygon,
                GeomKind::MultiPolygon,
            ],
        )
        .map_err(|reason| StoreError::Aborted(format!("{}: its geometry: {reason}", named())))?;
        self.props.clear();
        if let Some(id) = &id {
            put_string(&mut self.props, 0, id);
        }
        let props = feature["properties"].as_object();
        for (i, c) in self.columns.iter().enumerate().skip(1) {
            let Some(v) = c.property.as_ref().and_then(|p| props?.get(p)) else {
                continue;
            };
            let col = i as u16;
            match (c.ty, v) {
                (_, Value::Null) => {}
                (ColumnType::Bool, Value::Bool(b)) => {
                    self.props.extend_from_slice(&col.to_le_bytes());
                    self.props.push(u8::from(*b));
                }
                (ColumnType::Long, Value::Number(n)) if n.is_i64() => {
                    self.props.extend_from_slice(&col.to_le_bytes());
                    self.props
                        .extend_from_slice(&n.as_i64().unwrap_or_default().to_le_bytes());
                }
                (ColumnType::Double | ColumnType::Long, Value::Number(n)) => {
                    let Some(x) = n.as_f64().filter(|_| c.ty == ColumnType::Double) else {
                        return Err(StoreError::Aborted(format!(
                            "{}: property {:?} is {n}, beyond a 64-bit integer column",
                            named(),
                            c.name
                        )));
                    };
                    self.props.extend_from_slice(&col.to_le_bytes());
                    self.props.extend_from_slice(&x.to_le_bytes());
                }
                (_, Value::String(s)) => put_string(&mut self.props, col, s),
                (_, other) => put_string(&mut self.props, col, &other.to_string()),
            }
        }
        let mut bbox = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        self.fbb.reset();
        let g = encode_geometry(&mut self.fbb, &geometry, self.geometry_type == 0, &mut bbox);
        let props = self.fbb.create_vector(&self.props);
        let start = self.fbb.start_table();
        self.fbb.push_slot_always(4, g);
        self.fbb.push_slot_always(6, props);
        let root = self.fbb.end_table(start);
        self.fbb.finish_size_prefixed(root, None);
        let data = self.fbb.finished_data();
        self.spill.write_all(data).map_err(io(&self.path))?;
        let size = u32::try_from(data.len())
            .map_err(|_| StoreError::Aborted(format!("{}: larger than 4 GiB", named())))?;
        self.spilled.push(Spilled {
            bbox,
            at: self.at,
            size,
        });
        self.at += u64::from(size);
        Ok(())
    }

    fn header(&self, extent: Option<[f64; 4]>) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::new();
        let cols: Vec<_> = self
            .columns
            .iter()
            .map(|c| {
                let name = fbb.create_string(&c.name);
                let s = fbb.start_table();
                fbb.push_slot_always(4, name);
                fbb.push_slot::<u8>(6, c.ty as u8, 0);
                fbb.end_table(s)
            })
            .collect();
        let cols = fbb.create_vector(&cols);
        let org = fbb.create_string("EPSG");
        let crs_name = fbb.create_string("WGS 84");
        let s = fbb.start_table();
        fbb.push_slot_always(4, org);
        fbb.push_slot::<i32>(6, 4326, 0);
        fbb.push_slot_always(8, crs_name);
        let crs = fbb.end_table(s);
        let name = fbb.create_string(&self.name);
        let description = fbb.create_string(&self.description);
        let envelope = extent.map(|e| fbb.create_vector(&e));
        let n = self.spilled.len() as u64;
        let s = fbb.start_table();
        fbb.push_slot_always(4, name);
        if let Some(e) = envelope {
            fbb.push_slot_always(6, e);
        }
        fbb.push_slot::<u8>(8, self.geometry_type, 0);
        fbb.push_slot_always(18, cols);
        fbb.push_slot::<u64>(20, n, 0);
        // No features, no index (GDAL reads an index only after features).
        fbb.push_slot::<u16>(22, if n == 0 { 0 } else { NODE_SIZE }, 16);
        fbb.push_slot_always(24, crs);
        fbb.push_slot_always(28, description);
        let h = fbb.end_table(s);
        fbb.finish_size_prefixed(h, None);
        fbb.finished_data().to_vec()
    }

    /// Writes the header, the index and the features sorted along the
    /// Hilbert curve, and puts the file in place; the number of features.
    pub fn finish(mut self) -> Result<u64> {
        let path = self.path.clone();
        self.spill.flush().map_err(io(&path))?;
        let extent = self.spilled.iter().fold(None, |e: Option<[f64; 4]>, s| {
            let b = s.bbox;
            Some(match e {
                None => b,
                Some(a) => [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ],
            })
        });
        if let Some(extent) = extent {
            // Descending Hilbert order; ties in input order (deterministic).
            self.spilled
                .sort_by_key(|s| std::cmp::Reverse(index::hilbert_of(&s.bbox, &extent)));
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let header = self.header(extent);
        let spill = self.spill.get_mut();
        let written = (|| -> std::io::Result<()> {
            let mut out = BufWriter::with_capacity(1 << 20, File::create(&partial)?);
            out.write_all(&MAGIC)?;
            out.write_all(&header)?;
            if !self.spilled.is_empty() {
                let mut offset = 0u64;
                let leaves: Vec<Node> = self
                    .spilled
                    .iter()
                    .map(|s| {
                        let n = Node {
                            min_x: s.bbox[0],
                            min_y: s.bbox[1],
                            max_x: s.bbox[2],
                            max_y: s.bbox[3],
                            offset,
                        };
                        offset += u64::from(s.size);
                        n
                    })
                    .collect();
                for node in index::build(&leaves, NODE_SIZE) {
                    out.write_all(&node.bytes())?;
                }
            }
            let mut buf = Vec::new();
            for s in &self.spilled {
                spill.seek(SeekFrom::Start(s.at))?;
                buf.resize(s.size as usize, 0);
                spill.read_exact(&mut buf)?;
                out.write_all(&buf)?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&partial);
            return Err(io(&partial)(e));
        }
        std::fs::rename(&partial, &path).map_err(io(&path))?;
        Ok(self.spilled.len() as u64)
    }
}

fn put_string(props: &mut Vec<u8>, col: u16, s: &str) {
    props.extend_from_slice(&col.to_le_bytes());
    props.extend_from_slice(&(s.len() as u32).to_le_bytes());
    props.extend_from_slice(s.as_bytes());
}

/// The points of lines or rings into `xy`, the index after each one's last
/// point into `ends`, and the box.
fn add_points<'a>(
    lines: impl Iterator<Item = &'a LineString<f64>>,
    xy: &mut Vec<f64>,
    ends: &mut Vec<u32>,
    bbox: &mut [f64; 4],
) {
    for l in lines {
        for Coord { x, y } in &l.0 {
            xy.extend([*x, *y]);
            bbox[0] = bbox[0].min(*x);
            bbox[1] = bbox[1].min(*y);
            bbox[2] = bbox[2].max(*x);
            bbox[3] = bbox[3].max(*y);
        }
        ends.push((xy.len() / 2) as u32);
    }
}

fn rings(p: &Polygon<f64>) -> impl Iterator<Item = &LineString<f64>> {
    std::iter::once(p.exterior()).chain(p.interiors())
}

/// A `Geometry` table: `ends` written only for more than one part (as GDAL
/// does), the type when the header leaves it Unknown, or for a part.
fn geometry_table<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    xy: &[f64],
    ends: &[u32],
    parts: Option<Vec<WIPOffset<flatbuffers::TableFinishedWIPOffset>>>,
    ty: Option<u8>,
) -> WIPOffset<flatbuffers::TableFinishedWIPOffset> {
    let ends = (ends.len() > 1).then(|| fbb.create_vector(ends));
    let xy = (!xy.is_empty()).then(|| fbb.create_vector(xy));
    let parts = parts.map(|p| fbb.create_vector(&p));
    let s = fbb.start_table();
    if let Some(e) = ends {
        fbb.push_slot_always(4, e);
    }
    if let Some(xy) = xy {
        fbb.push_slot_always(6, xy);
    }
    if let Some(t) = ty {
        fbb.push_slot::<u8>(16, t, 0);
    }
    if let Some(p) = parts {
        fbb.push_slot_always(18, p);
    }
    fbb.end_table(s)
}

fn encode_geometry<'a>(
    fbb: &mut FlatBufferBuilder<'a>,
    g: &Geometry<f64>,
    typed: bool,
    bbox: &mut [f64; 4],
) -> WIPOffset<flatbuffers::TableFinishedWIPOffset> {
    let mut xy = Vec::new();
    let mut ends = Vec::new();
    let (code, parts) = match g {
        Geometry::Point(p) => {
            add_points(
                std::iter::once(&LineString(vec![p.0])),
                &mut xy,
                &mut ends,
                bbox,
            );
            (1, None)
        }
        Geometry::LineString(l) => {
            add_points(std::iter::once(l), &mut xy, &mut ends, bbox);
            (2, None)
        }
        Geometry::Polygon(p) => {
            add_points(rings(p), &mut xy, &mut ends, bbox);
            (3, None)
        }
        Geometry::MultiLineString(m) => {
            add_points(m.0.iter(), &mut xy, &mut ends, bbox);
            (5, None)
        }
        Geometry::MultiPolygon(m) => {
            let parts =
                m.0.iter()
                    .map(|p| {
                        let (mut xy, mut ends) = (Vec::new(), Vec::new());
                        add_points(rings(p), &mut xy, &mut ends, bbox);
                        geometry_table(fbb, &xy, &ends, None, Some(3))
                    })
                    .collect();
            (6, Some(parts))
        }
        // `parse_geometry` was given only the kinds above.
        _ => (0, None),
    };
    geometry_table(fbb, &xy, &ends, parts, typed.then_some(code))
}
