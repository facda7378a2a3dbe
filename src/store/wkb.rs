//! GeoPackage geometry blobs: the `GP` header (with envelope) followed by
//! ISO WKB, as OGC 12-128r18 section 2.1.3 defines them.

use geo_types::{Coord, Geometry, LineString, MultiLineString, MultiPolygon, Point, Polygon};

/// SRS id of WGS 84 longitude/latitude in the store.
pub const SRS_WGS84: i32 = 4326;

/// Encodes a geometry as a GeoPackage blob (little-endian; envelope for non-points).
pub fn encode(g: &Geometry<f64>, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"GP");
    out.push(0); // version 1.x
    let with_env = !matches!(g, Geometry::Point(_));
    // bit 0: little-endian; bits 1-3: envelope type 1 (minx, maxx, miny, maxy).
    out.push(if with_env { 0b0000_0011 } else { 0b0000_0001 });
    out.extend_from_slice(&SRS_WGS84.to_le_bytes());
    if with_env {
        let b = crate::model::geometry::bbox(g);
        for v in [b[0], b[2], b[1], b[3]] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    wkb(g, out);
}

fn wkb(g: &Geometry<f64>, out: &mut Vec<u8>) {
    fn head(out: &mut Vec<u8>, ty: u32) {
        out.push(1);
        out.extend_from_slice(&ty.to_le_bytes());
    }
    fn coord(out: &mut Vec<u8>, c: &Coord<f64>) {
        out.extend_from_slice(&c.x.to_le_bytes());
        out.extend_from_slice(&c.y.to_le_bytes());
    }
    fn ring(out: &mut Vec<u8>, l: &LineString<f64>) {
        out.extend_from_slice(&(l.0.len() as u32).to_le_bytes());
        l.0.iter().for_each(|c| coord(out, c));
    }
    fn poly(out: &mut Vec<u8>, p: &Polygon<f64>) {
        head(out, 3);
        out.extend_from_slice(&(1 + p.interiors().len() as u32).to_le_bytes());
        ring(out, p.exterior());
        p.interiors().iter().for_each(|r| ring(out, r));
    }
    match g {
        Geometry::Point(p) => {
            head(out, 1);
            coord(out, &p.0);
        }
        Geometry::LineString(l) => {
            head(out, 2);
            ring(out, l);
        }
        Geometry::Polygon(p) => poly(out, p),
        Geometry::MultiLineString(m) => {
            head(out, 5);
            out.extend_from_slice(&(m.0.len() as u32).to_le_bytes());
            for l in &m.0 {
                head(out, 2);
                ring(out, l);
            }
        }
        Geometry::MultiPolygon(m) => {
            head(out, 6);
            out.extend_from_slice(&(m.0.len() as u32).to_le_bytes());
            m.0.iter().for_each(|p| poly(out, p));
        }
        // The model only builds the five types above.
        _ => {}
    }
}

/// Why a blob could not be decoded.
pub type DecodeError = String;

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    le: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self
            .b
            .get(self.pos..self.pos + N)
            .ok_or("geometry blob is truncated")?;
        self.pos += N;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let a = self.take::<4>()?;
        Ok(if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
    fn f64(&mut self) -> Result<f64, DecodeError> {
        let a = self.take::<8>()?;
        Ok(if self.le {
            f64::from_le_bytes(a)
        } else {
            f64::from_be_bytes(a)
        })
    }
    fn coord(&mut self, dims: usize) -> Result<Coord<f64>, DecodeError> {
        let x = self.f64()?;
        let y = self.f64()?;
        for _ in 2..dims {
            self.f64()?;
        }
        Ok(Coord { x, y })
    }
    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        // A count larger than the remaining bytes can hold is corruption, not a reason to allocate.
        if n > self.b.len() {
            return Err("geometry blob has an impossible element count".into());
        }
        Ok(n)
    }
    fn line(&mut self, dims: usize) -> Result<LineString<f64>, DecodeError> {
        let n = self.count()?;
        (0..n)
            .map(|_| self.coord(dims))
            .collect::<Result<Vec<_>, _>>()
            .map(LineString)
    }
    fn geometry(&mut self) -> Result<Geometry<f64>, DecodeError> {
        self.geometry_at(0)
    }

    /// `depth` bounds nesting: members of a multi-geometry are simple, so a
    /// damaged blob cannot recurse without end.
    fn geometry_at(&mut self, depth: u8) -> Result<Geometry<f64>, DecodeError> {
        if depth > 1 {
            return Err("geometry blob nests collections".into());
        }
        self.le = self.take::<1>()?[0] == 1;
        let ty = self.u32()?;
        // ISO WKB: 1000s add Z, 2000s M, 3000s ZM.
        let (base, dims) = (
            ty % 1000,
            2 + match ty / 1000 {
                1 | 2 => 1,
                3 => 2,
                _ => 0,
            },
        );
        Ok(match base {
            1 => Geometry::Point(Point(self.coord(dims)?)),
            2 => Geometry::LineString(self.line(dims)?),
            3 => Geometry::Polygon(self.polygon(dims)?),
            5 => {
                let n = self.count()?;
                let mut lines = Vec::with_capacity(n);
                for _ in 0..n {
                    match self.geometry_at(depth + 1)? {
                        Geometry::LineString(l) => lines.push(l),
                        _ => return Err("MultiLineString member is not a LineString".into()),
                    }
                }
                Geometry::MultiLineString(MultiLineString(lines))
            }
            6 => {
                let n = self.count()?;
                let mut polys = Vec::with_capacity(n);
                for _ in 0..n {
                    match self.geometry_at(depth + 1)? {
                        Geometry::Polygon(p) => polys.push(p),
                        _ => return Err("MultiPolygon member is not a Polygon".into()),
                    }
                }
                Geometry::MultiPolygon(MultiPolygon(polys))
            }
            other => return Err(format!("unsupported WKB geometry type {other}")),
        })
    }
    fn polygon(&mut self, dims: usize) -> Result<Polygon<f64>, DecodeError> {
        let n = self.count()?;
        let mut rings = (0..n)
            .map(|_| self.line(dims))
            .collect::<Result<Vec<_>, _>>()?;
        if rings.is_empty() {
            return Err("empty polygon".into());
        }
        let ext = rings.remove(0);
        Ok(Polygon::new(ext, rings))
    }
}

/// Byte offset of the WKB after the header, and the envelope if present
/// (`[min_x, min_y, max_x, max_y]`).
fn header(b: &[u8]) -> Result<(usize, Option<[f64; 4]>), DecodeError> {
    if b.len() < 8 || &b[0..2] != b"GP" {
        return Err("not a GeoPackage geometry blob".into());
    }
    let flags = b[3];
    let le = flags & 1 == 1;
    let env_len = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        _ => return Err("invalid envelope type in geometry blob".into()),
    };
    let env = if env_len > 0 {
        let mut r = Reader { b, pos: 8, le };
        let (minx, maxx, miny, maxy) = (r.f64()?, r.f64()?, r.f64()?, r.f64()?);
        Some([minx, miny, maxx, maxy])
    } else {
        None
    };
    Ok((8 + env_len, env))
}

/// Decodes a GeoPackage blob.
pub fn decode(b: &[u8]) -> Result<Geometry<f64>, DecodeError> {
    let (start, _) = header(b)?;
    Reader {
        b,
        pos: start,
        le: true,
    }
    .geometry()
}

/// The bounding box of a blob, from its envelope, or by decoding when it has none.
pub fn envelope(b: &[u8]) -> Result<[f64; 4], DecodeError> {
    match header(b)? {
        (_, Some(env)) => Ok(env),
        (_, None) => decode(b).map(|g| crate::model::geometry::bbox(&g)),
    }
}

/// Whether the blob's header flags it empty (flags bit 4).
pub fn is_empty(b: &[u8]) -> Result<bool, DecodeError> {
    header(b)?;
    Ok(b[3] & 0x10 != 0)
}

/// The SRS id in the blob's header.
pub fn srs_id(b: &[u8]) -> Result<i32, DecodeError> {
    header(b)?;
    let id = [b[4], b[5], b[6], b[7]];
    Ok(if b[3] & 1 == 1 {
        i32::from_le_bytes(id)
    } else {
        i32::from_be_bytes(id)
    })
}

/// The geometry type name of the blob's WKB (`POINT`, `LINESTRING`, ...), as
/// `gpkg_geometry_columns` spells them; Z, M and ZM variants by their base type.
pub fn type_name(b: &[u8]) -> Result<&'static str, DecodeError> {
    let (start, _) = header(b)?;
    let order = *b.get(start).ok_or("geometry blob is truncated")?;
    let mut r = Reader {
        b,
        pos: start + 1,
        le: order == 1,
    };
    Ok(match r.u32()? % 1000 {
        1 => "POINT",
        2 => "LINESTRING",
        3 => "POLYGON",
        4 => "MULTIPOINT",
        5 => "MULTILINESTRING",
        6 => "MULTIPOLYGON",
        7 => "GEOMETRYCOLLECTION",
        other => return Err(format!("unsupported WKB geometry type {other}")),
    })
}

/// Whether a geometry of type `actual` may be stored in a column declared
/// `expected` (GeoPackage 1.3, Annex G: the type or one of its subtypes).
pub fn is_assignable(expected: &str, actual: &str) -> bool {
    let (e, a) = (expected.to_ascii_uppercase(), actual.to_ascii_uppercase());
    e == a
        || e == "GEOMETRY"
        || (e == "GEOMETRYCOLLECTION"
            && matches!(
                a.as_str(),
                "MULTIPOINT" | "MULTILINESTRING" | "MULTIPOLYGON"
            ))
        || (e == "MULTICURVE" && a == "MULTILINESTRING")
        || (e == "MULTISURFACE" && a == "MULTIPOLYGON")
        || (e == "CURVE" && a == "LINESTRING")
        || (e == "SURFACE" && a == "POLYGON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{line_string, point, polygon};

    #[test]
    fn round_trip() {
        let geoms: Vec<Geometry<f64>> = vec![
            point!(x: 18.5, y: 4.25).into(),
            line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)].into(),
            polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)].into(),
            MultiLineString(vec![line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)]]).into(),
        ];
        let mut buf = Vec::new();
        for g in geoms {
            encode(&g, &mut buf);
            assert_eq!(decode(&buf).unwrap(), g);
            assert_eq!(envelope(&buf).unwrap(), crate::model::geometry::bbox(&g));
        }
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        let mut buf = Vec::new();
        encode(
            &line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)].into(),
            &mut buf,
        );
        for n in 0..buf.len() {
            let _ = decode(&buf[..n]);
        }
        assert!(decode(b"XX").is_err());
        // Deeply nested collections are refused, not recursed into.
        let mut nested = b"GP\x00\x01\xe6\x10\x00\x00".to_vec();
        for _ in 0..20_000 {
            nested.extend_from_slice(&[1, 5, 0, 0, 0, 1, 0, 0, 0]);
        }
        assert!(decode(&nested).is_err());
    }
}
