//! GeoJSON geometry parsing and validation (RFC 7946, WGS 84 longitude/latitude).

use geo_types::{Coord, Geometry, LineString, MultiLineString, MultiPolygon, Point, Polygon};
use serde_json::{json, Value};
use std::fmt;

/// Geometry types the layers accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeomKind {
    /// `Point`
    Point,
    /// `LineString`
    LineString,
    /// `MultiLineString`
    MultiLineString,
    /// `Polygon`
    Polygon,
    /// `MultiPolygon`
    MultiPolygon,
}

impl GeomKind {
    /// The GeoJSON type name.
    pub fn name(self) -> &'static str {
        match self {
            GeomKind::Point => "Point",
            GeomKind::LineString => "LineString",
            GeomKind::MultiLineString => "MultiLineString",
            GeomKind::Polygon => "Polygon",
            GeomKind::MultiPolygon => "MultiPolygon",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "Point" => GeomKind::Point,
            "LineString" => GeomKind::LineString,
            "MultiLineString" => GeomKind::MultiLineString,
            "Polygon" => GeomKind::Polygon,
            "MultiPolygon" => GeomKind::MultiPolygon,
            _ => return None,
        })
    }

    /// The kind of a geometry, if it is one jointmap stores.
    pub fn of(g: &Geometry<f64>) -> Option<Self> {
        Some(match g {
            Geometry::Point(_) => GeomKind::Point,
            Geometry::LineString(_) => GeomKind::LineString,
            Geometry::MultiLineString(_) => GeomKind::MultiLineString,
            Geometry::Polygon(_) => GeomKind::Polygon,
            Geometry::MultiPolygon(_) => GeomKind::MultiPolygon,
            _ => return None,
        })
    }
}

impl fmt::Display for GeomKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a geometry was refused (the message names the offending part).
pub type GeomError = String;

/// Parses and validates a GeoJSON geometry object for a layer that accepts `allowed`.
pub fn parse_geometry(v: &Value, allowed: &[GeomKind]) -> Result<Geometry<f64>, GeomError> {
    let obj = match v {
        Value::Null => return Err("missing geometry (null)".into()),
        Value::Object(o) => o,
        _ => return Err("geometry must be a GeoJSON geometry object".into()),
    };
    let ty = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or("geometry has no \"type\"")?;
    let list = |names: &[GeomKind]| {
        names
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let kind = match GeomKind::from_name(ty) {
        Some(k) if allowed.contains(&k) => k,
        _ => {
            return Err(format!(
                "wrong geometry type {ty}; this layer takes {}",
                list(allowed)
            ))
        }
    };
    let coords = obj
        .get("coordinates")
        .ok_or_else(|| format!("{ty} has no \"coordinates\""))?;
    Ok(match kind {
        GeomKind::Point => Geometry::Point(Point(position(coords)?)),
        GeomKind::LineString => Geometry::LineString(line(coords, "")?),
        GeomKind::MultiLineString => {
            let parts = array(coords, "")?;
            if parts.is_empty() {
                return Err("empty geometry: MultiLineString has no lines".into());
            }
            let lines = parts
                .iter()
                .enumerate()
                .map(|(i, l)| line(l, &format!(" (line {i})")))
                .collect::<Result<Vec<_>, _>>()?;
            Geometry::MultiLineString(MultiLineString(lines))
        }
        GeomKind::Polygon => {
            let p = polygon(coords, "")?;
            valid_polygon(&p, "")?;
            Geometry::Polygon(p)
        }
        GeomKind::MultiPolygon => {
            let parts = array(coords, "")?;
            if parts.is_empty() {
                return Err("empty geometry: MultiPolygon has no polygons".into());
            }
            let polys = parts
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, &format!(" (polygon {i})")))
                .collect::<Result<Vec<_>, _>>()?;
            for (i, p) in polys.iter().enumerate() {
                valid_polygon(p, &format!(" (polygon {i})"))?;
            }
            let multi = MultiPolygon(polys);
            valid_parts(&multi)?;
            Geometry::MultiPolygon(multi)
        }
    })
}

fn array<'a>(v: &'a Value, at: &str) -> Result<&'a Vec<Value>, GeomError> {
    v.as_array()
        .ok_or_else(|| format!("coordinates{at} must be an array"))
}

fn position(v: &Value) -> Result<Coord<f64>, GeomError> {
    let a = v
        .as_array()
        .ok_or("a position must be an array [lon, lat]")?;
    if a.is_empty() {
        return Err("empty geometry: position has no coordinates".into());
    }
    if a.len() < 2 {
        return Err("a position needs at least [lon, lat]".into());
    }
    let num = |i: usize, name: &str| -> Result<f64, GeomError> {
        match &a[i] {
            Value::Number(n) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("{name} {n} is not a finite number")),
            other => Err(format!("{name} {other} is not a finite number")),
        }
    };
    let x = num(0, "longitude")?;
    let y = num(1, "latitude")?;
    if !(-180.0..=180.0).contains(&x) {
        return Err(format!("longitude {x} out of range [-180, 180]"));
    }
    if !(-90.0..=90.0).contains(&y) {
        return Err(format!("latitude {y} out of range [-90, 90]"));
    }
    if a.len() > 3 {
        // RFC 7946 3.1.1: [lon, lat] or [lon, lat, altitude]; more is not
        // silently dropped (a fourth value would be lost on export).
        return Err(format!(
            "a position has {} elements; expected [lon, lat] or [lon, lat, altitude]",
            a.len()
        ));
    }
    if a.len() > 2 {
        // Altitude is accepted but must still be a number.
        num(2, "altitude")?;
    }
    Ok(Coord { x, y })
}

fn positions(v: &Value, at: &str) -> Result<Vec<Coord<f64>>, GeomError> {
    array(v, at)?.iter().map(position).collect()
}

fn line(v: &Value, at: &str) -> Result<LineString<f64>, GeomError> {
    let pts = positions(v, at)?;
    if pts.is_empty() {
        return Err(format!("empty geometry: LineString{at} has no positions"));
    }
    if pts.len() < 2 || pts.iter().all(|p| *p == pts[0]) {
        return Err(format!(
            "degenerate LineString{at}: needs at least two distinct positions"
        ));
    }
    Ok(LineString(pts))
}

fn polygon(v: &Value, at: &str) -> Result<Polygon<f64>, GeomError> {
    let rings = array(v, at)?;
    if rings.is_empty() {
        return Err(format!("empty geometry: Polygon{at} has no rings"));
    }
    let mut out = Vec::with_capacity(rings.len());
    for (i, r) in rings.iter().enumerate() {
        let pts = positions(r, at)?;
        let which = if i == 0 {
            "exterior ring".to_string()
        } else {
            format!("hole {i}")
        };
        if pts.is_empty() {
            return Err(format!(
                "empty geometry: Polygon{at} {which} has no positions"
            ));
        }
        if pts.len() < 4 {
            return Err(format!(
                "degenerate Polygon{at}: {which} has {} positions, needs at least 4",
                pts.len()
            ));
        }
        if pts.first() != pts.last() {
            return Err(format!(
                "degenerate Polygon{at}: {which} is not closed (first and last positions differ)"
            ));
        }
        if ring_area(&pts) == 0.0 {
            return Err(format!("degenerate Polygon{at}: {which} has zero area"));
        }
        out.push(LineString(pts));
    }
    let exterior = out.remove(0);
    Ok(Polygon::new(exterior, out))
}

/// A polygon valid as OGC Simple Features defines it (rings simple, holes
/// inside the shell, rings touching at most at points), else the fault with
/// its position.
fn valid_polygon(p: &Polygon<f64>, at: &str) -> Result<(), GeomError> {
    use geo::algorithm::validation::{InvalidPolygon, RingRole};
    use geo::Validation;
    let Err(fault) = p.check_validation() else {
        return Ok(());
    };
    let ring = |role: &RingRole| match role {
        RingRole::Exterior => ("exterior ring".to_string(), p.exterior()),
        RingRole::Interior(i) => (format!("hole {}", i + 1), &p.interiors()[*i]),
    };
    Err(match &fault {
        InvalidPolygon::SelfIntersection(role) => {
            let (name, r) = ring(role);
            match self_crossing(r) {
                Some((i, j, c)) => format!(
                    "invalid Polygon{at}: {name} crosses itself at [{}, {}] (its segments {i} and {j})",
                    c.x, c.y
                ),
                None => format!("invalid Polygon{at}: {name} crosses itself"),
            }
        }
        other => format!("invalid Polygon{at}: {other}"),
    })
}

/// The first place a ring crosses or touches itself away from the vertex two
/// consecutive segments share: (segment, segment, position). Segments are
/// paired through an R-tree of their envelopes, so long rings stay fast.
fn self_crossing(ring: &LineString<f64>) -> Option<(usize, usize, Coord<f64>)> {
    use geo::algorithm::line_intersection::{line_intersection, LineIntersection};
    use rstar::primitives::GeomWithData;
    use rstar::{RTree, RTreeObject};
    let lines: Vec<geo_types::Line<f64>> = ring.lines().collect();
    let n = lines.len();
    let tree = RTree::bulk_load(
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| GeomWithData::new(*l, i))
            .collect(),
    );
    let mut found: Option<(usize, usize, Coord<f64>)> = None;
    for (i, l) in lines.iter().enumerate() {
        for other in tree.locate_in_envelope_intersecting(&l.envelope()) {
            let j = other.data;
            if j <= i {
                continue;
            }
            let shared = if j == i + 1 {
                Some(l.end)
            } else if i == 0 && j == n - 1 {
                Some(l.start)
            } else {
                None
            };
            let at = match line_intersection(*l, *other.geom()) {
                None => continue,
                Some(LineIntersection::SinglePoint { intersection, .. }) => {
                    if Some(intersection) == shared {
                        continue;
                    }
                    intersection
                }
                Some(LineIntersection::Collinear { intersection }) => {
                    // Consecutive segments folding back on each other (a spike).
                    if Some(intersection.start) == shared && intersection.start == intersection.end
                    {
                        continue;
                    }
                    if Some(intersection.start) == shared {
                        intersection.end
                    } else {
                        intersection.start
                    }
                }
            };
            if found.is_none_or(|(fi, fj, _)| (i, j) < (fi, fj)) {
                found = Some((i, j, at));
            }
        }
    }
    found
}

/// MultiPolygon parts may touch only at points (OGC Simple Features).
fn valid_parts(m: &MultiPolygon<f64>) -> Result<(), GeomError> {
    use geo::algorithm::validation::InvalidMultiPolygon;
    use geo::{BooleanOps, InteriorPoint, Validation};
    match m.check_validation() {
        Ok(()) => Ok(()),
        Err(InvalidMultiPolygon::ElementsOverlaps(a, b)) => {
            let common = m.0[a.0].intersection(&m.0[b.0]);
            let at = common
                .interior_point()
                .map(|p| format!(" at [{}, {}]", p.x(), p.y()))
                .unwrap_or_default();
            Err(format!(
                "invalid MultiPolygon: polygons {} and {} overlap{at}; merge them or make them disjoint",
                a.0, b.0
            ))
        }
        Err(InvalidMultiPolygon::ElementsTouchOnALine(a, b)) => Err(format!(
            "invalid MultiPolygon: polygons {} and {} share an edge; merge them into one polygon",
            a.0, b.0
        )),
        Err(other) => Err(format!("invalid MultiPolygon: {other}")),
    }
}

fn ring_area(pts: &[Coord<f64>]) -> f64 {
    pts.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum::<f64>()
        .abs()
        / 2.0
}

/// Writes a geometry as a GeoJSON geometry object.
pub fn to_geojson(g: &Geometry<f64>) -> Value {
    fn pos(c: &Coord<f64>) -> Value {
        json!([c.x, c.y])
    }
    fn ls(l: &LineString<f64>) -> Value {
        Value::Array(l.0.iter().map(pos).collect())
    }
    fn poly(p: &Polygon<f64>) -> Value {
        Value::Array(
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(ls)
                .collect(),
        )
    }
    match g {
        Geometry::Point(p) => json!({"type": "Point", "coordinates": pos(&p.0)}),
        Geometry::LineString(l) => json!({"type": "LineString", "coordinates": ls(l)}),
        Geometry::MultiLineString(m) => json!({"type": "MultiLineString",
            "coordinates": Value::Array(m.0.iter().map(ls).collect())}),
        Geometry::Polygon(p) => json!({"type": "Polygon", "coordinates": poly(p)}),
        Geometry::MultiPolygon(m) => json!({"type": "MultiPolygon",
            "coordinates": Value::Array(m.0.iter().map(poly).collect())}),
        // The model never builds other geometry types.
        _ => Value::Null,
    }
}

/// Number of vertices (positions) in a geometry.
pub fn vertex_count(g: &Geometry<f64>) -> usize {
    match g {
        Geometry::Point(_) => 1,
        Geometry::LineString(l) => l.0.len(),
        Geometry::MultiLineString(m) => m.0.iter().map(|l| l.0.len()).sum(),
        Geometry::Polygon(p) => {
            p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>()
        }
        Geometry::MultiPolygon(m) => {
            m.0.iter()
                .map(|p| vertex_count(&Geometry::Polygon(p.clone())))
                .sum()
        }
        _ => 0,
    }
}

/// Bounding box `[min_x, min_y, max_x, max_y]` of a geometry.
pub fn bbox(g: &Geometry<f64>) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut add = |c: &Coord<f64>| {
        b[0] = b[0].min(c.x);
        b[1] = b[1].min(c.y);
        b[2] = b[2].max(c.x);
        b[3] = b[3].max(c.y);
    };
    match g {
        Geometry::Point(p) => add(&p.0),
        Geometry::LineString(l) => l.0.iter().for_each(&mut add),
        Geometry::MultiLineString(m) => m.0.iter().flat_map(|l| l.0.iter()).for_each(&mut add),
        Geometry::Polygon(p) => p.exterior().0.iter().for_each(&mut add),
        Geometry::MultiPolygon(m) => {
            m.0.iter()
                .flat_map(|p| p.exterior().0.iter())
                .for_each(&mut add)
        }
        _ => {}
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value, allowed: &[GeomKind]) -> Result<Geometry<f64>, GeomError> {
        parse_geometry(&v, allowed)
    }

    #[test]
    fn valid_geometries_round_trip() {
        let all = [
            GeomKind::Point,
            GeomKind::LineString,
            GeomKind::MultiLineString,
            GeomKind::Polygon,
            GeomKind::MultiPolygon,
        ];
        for v in [
            json!({"type":"Point","coordinates":[18.5,4.3]}),
            json!({"type":"LineString","coordinates":[[18.5,4.3],[18.6,4.4]]}),
            json!({"type":"MultiLineString","coordinates":[[[18.5,4.3],[18.6,4.4]],[[1.0,2.0],[1.5,2.0]]]}),
            json!({"type":"Polygon","coordinates":[[[0.0,0.0],[1.0,0.0],[1.0,1.0],[0.0,0.0]]]}),
            json!({"type":"MultiPolygon","coordinates":[[[[0.0,0.0],[1.0,0.0],[1.0,1.0],[0.0,0.0]]]]}),
        ] {
            let g = parse(v.clone(), &all).unwrap();
            assert_eq!(to_geojson(&g), v);
        }
    }

    #[test]
    fn refusals_name_the_reason() {
        let pt = [GeomKind::Point];
        let cases = [
            (
                json!({"type":"Point","coordinates":[200.0,4.0]}),
                "longitude 200 out of range",
            ),
            (
                json!({"type":"Point","coordinates":[10.0,-91.0]}),
                "latitude -91 out of range",
            ),
            (
                json!({"type":"Point","coordinates":["a",1.0]}),
                "not a finite number",
            ),
            (json!({"type":"Point","coordinates":[]}), "empty geometry"),
            (
                json!({"type":"LineString","coordinates":[[1.0,1.0],[2.0,2.0]]}),
                "wrong geometry type LineString",
            ),
            (Value::Null, "missing geometry"),
        ];
        for (v, want) in cases {
            let e = parse(v, &pt).unwrap_err();
            assert!(e.contains(want), "{e} !~ {want}");
        }
        let ln = [GeomKind::LineString];
        let e = parse(
            json!({"type":"LineString","coordinates":[[1.0,1.0],[1.0,1.0]]}),
            &ln,
        )
        .unwrap_err();
        assert!(e.contains("degenerate LineString"), "{e}");
        let pg = [GeomKind::Polygon];
        let e = parse(
            json!({"type":"Polygon","coordinates":[[[0.0,0.0],[1.0,0.0],[1.0,1.0],[0.5,0.0]]]}),
            &pg,
        )
        .unwrap_err();
        assert!(e.contains("not closed"), "{e}");
        let e = parse(
            json!({"type":"Polygon","coordinates":[[[0.0,0.0],[1.0,0.0],[2.0,0.0],[0.0,0.0]]]}),
            &pg,
        )
        .unwrap_err();
        assert!(e.contains("zero area"), "{e}");
    }

    /// OGC validity: a bow-tie ring, a hole outside its shell and overlapping
    /// MultiPolygon parts are refused with where; more than three numbers in a
    /// position is refused, not dropped.
    #[test]
    fn invalid_polygons_and_positions_name_the_fault() {
        let pg = [GeomKind::Polygon, GeomKind::MultiPolygon];
        let e = parse(
            json!({"type":"Polygon","coordinates":[[[0.0,0.0],[3.0,3.0],[3.0,0.0],[0.0,6.0],[0.0,0.0]]]}),
            &pg,
        )
        .unwrap_err();
        assert!(
            e.contains("exterior ring crosses itself at [2, 2] (its segments 0 and 2)"),
            "{e}"
        );
        let e = parse(
            json!({"type":"Polygon","coordinates":[
                [[0.0,0.0],[10.0,0.0],[10.0,10.0],[0.0,10.0],[0.0,0.0]],
                [[1.0,1.0],[4.0,4.0],[4.0,1.0],[1.0,7.0],[1.0,1.0]]]}),
            &pg,
        )
        .unwrap_err();
        assert!(e.contains("hole 1 crosses itself at [3, 3]"), "{e}");
        let e = parse(
            json!({"type":"Polygon","coordinates":[
                [[0.0,0.0],[1.0,0.0],[1.0,1.0],[0.0,1.0],[0.0,0.0]],
                [[5.0,5.0],[6.0,5.0],[6.0,6.0],[5.0,5.0]]]}),
            &pg,
        )
        .unwrap_err();
        assert!(
            e.contains("invalid Polygon") && e.contains("not contained"),
            "{e}"
        );
        let sq = |x: f64| json!([[[x, 0.0], [x + 2.0, 0.0], [x + 2.0, 2.0], [x, 2.0], [x, 0.0]]]);
        let e = parse(
            json!({"type":"MultiPolygon","coordinates":[sq(0.0), sq(10.0), sq(1.0)]}),
            &pg,
        )
        .unwrap_err();
        assert!(e.contains("polygons 0 and 2 overlap at [1.5, 1]"), "{e}");
        let e = parse(
            json!({"type":"MultiPolygon","coordinates":[sq(0.0), sq(2.0)]}),
            &pg,
        )
        .unwrap_err();
        assert!(e.contains("share an edge"), "{e}");
        // A bow-tie inside a MultiPolygon names its part.
        let e = parse(
            json!({"type":"MultiPolygon","coordinates":[sq(5.0), [[[0.0,0.0],[3.0,3.0],[3.0,0.0],[0.0,6.0],[0.0,0.0]]]]}),
            &pg,
        )
        .unwrap_err();
        assert!(
            e.contains("Polygon (polygon 1): exterior ring crosses"),
            "{e}"
        );
        // Valid: touching at one point, a hole inside.
        parse(
            json!({"type":"MultiPolygon","coordinates":[sq(0.0), [[[2.0,2.0],[3.0,2.0],[3.0,3.0],[2.0,2.0]]]]}),
            &pg,
        )
        .unwrap();
        parse(
            json!({"type":"Polygon","coordinates":[
                [[0.0,0.0],[4.0,0.0],[4.0,4.0],[0.0,4.0],[0.0,0.0]],
                [[1.0,1.0],[2.0,1.0],[2.0,2.0],[1.0,1.0]]]}),
            &pg,
        )
        .unwrap();
        let e = parse(
            json!({"type":"Point","coordinates":[18.5,4.3,300.0,7.0]}),
            &[GeomKind::Point],
        )
        .unwrap_err();
        assert!(e.contains("a position has 4 elements"), "{e}");
        parse(
            json!({"type":"Point","coordinates":[18.5,4.3,300.0]}),
            &[GeomKind::Point],
        )
        .unwrap();
    }
}
