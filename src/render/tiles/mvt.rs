//! Mapbox Vector Tiles 2.1 (<https://github.com/mapbox/vector-tile-spec>),
//! written by hand: the protobuf wire format needs only varints, zigzag
//! and length-delimited fields.
//!
//! - extent 4096, one MVT layer per jointmap layer, named like it;
//! - geometry in tile coordinates (y down), clipped to the tile widened by
//!   [`BUFFER`] units (points dropped outside, lines cut with Liang-Barsky,
//!   polygon rings with Sutherland-Hodgman), repeated points dropped,
//!   exterior rings with positive area and holes negative, as the spec asks;
//! - attributes: `id` and the scalar properties the role's view shows
//!   (lists and objects as JSON text), nothing else; a protection cell
//!   carries only `count`; below [`super::AGGREGATE_BELOW_ZOOM`] point
//!   layers are screen-cell counts (`count`) as the PNG tiles draw them.

use super::aggregate::{bins, Bin};
use super::mercator::{Frame, TileId};
use super::overlay::{self, OverlayCell};
use super::stream::LayerContent;
use super::{TileLayer, AGGREGATE_BELOW_ZOOM};
use crate::access::TileContent;
use geo_types::Geometry;
use serde_json::Value;
use std::collections::HashMap;

/// Units per tile side.
pub const EXTENT: u32 = 4096;

/// Units beyond the tile edge that geometry is kept to (64 of 4096: the
/// buffer of the PNG symbols, 1/64 of a tile).
pub const BUFFER: f64 = 64.0;

/// A value of an attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum MvtValue {
    /// Text.
    Str(String),
    /// A number with a fraction.
    Double(f64),
    /// An integer.
    Int(i64),
    /// A yes/no.
    Bool(bool),
}

impl MvtValue {
    /// The value of a JSON property; `None` for null.
    pub fn from_json(v: &Value) -> Option<MvtValue> {
        Some(match v {
            Value::Null => return None,
            Value::Bool(b) => MvtValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => MvtValue::Int(i),
                None => MvtValue::Double(n.as_f64()?),
            },
            Value::String(s) => MvtValue::Str(s.clone()),
            other => MvtValue::Str(other.to_string()),
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            MvtValue::Str(s) => bytes_field(&mut out, 1, s.as_bytes()),
            MvtValue::Double(d) => {
                key(&mut out, 3, 1);
                out.extend_from_slice(&d.to_le_bytes());
            }
            MvtValue::Int(i) => {
                key(&mut out, 6, 0);
                varint(&mut out, zigzag(*i));
            }
            MvtValue::Bool(b) => {
                key(&mut out, 7, 0);
                varint(&mut out, u64::from(*b));
            }
        }
        out
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from((field << 3) | wire));
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn packed(out: &mut Vec<u8>, field: u32, values: &[u32]) {
    let mut body = Vec::with_capacity(values.len() * 2);
    for v in values {
        varint(&mut body, u64::from(*v));
    }
    bytes_field(out, field, &body);
}

/// One MVT layer being written.
pub struct LayerBuilder {
    name: String,
    keys: Vec<String>,
    key_index: HashMap<String, u32>,
    values: Vec<Vec<u8>>,
    value_index: HashMap<Vec<u8>, u32>,
    features: Vec<Vec<u8>>,
    frame: Frame,
}

/// Geometry types of the spec.
#[derive(Clone, Copy)]
enum GeomType {
    Point = 1,
    Line = 2,
    Polygon = 3,
}

impl LayerBuilder {
    /// An empty layer named `name` for `tile`.
    pub fn new(name: &str, tile: TileId) -> Self {
        LayerBuilder {
            name: name.to_string(),
            keys: Vec::new(),
            key_index: HashMap::new(),
            values: Vec::new(),
            value_index: HashMap::new(),
            features: Vec::new(),
            frame: Frame::new(tile, f64::from(EXTENT)),
        }
    }

    /// Number of features written.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether no feature was written.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Adds a feature (lon/lat geometry) with its attributes; nothing when
    /// no part of it is within the tile and buffer.
    pub fn add(&mut self, g: &Geometry<f64>, attrs: &[(&str, MvtValue)]) {
        let Some((kind, commands)) = self.geometry(g) else {
            return;
        };
        let mut tags = Vec::with_capacity(attrs.len() * 2);
        for (k, v) in attrs {
            let ki = match self.key_index.get(*k) {
                Some(i) => *i,
                None => {
                    let i = self.keys.len() as u32;
                    self.keys.push(k.to_string());
                    self.key_index.insert(k.to_string(), i);
                    i
                }
            };
            let enc = v.encode();
            let vi = match self.value_index.get(&enc) {
                Some(i) => *i,
                None => {
                    let i = self.values.len() as u32;
                    self.values.push(enc.clone());
                    self.value_index.insert(enc, i);
                    i
                }
            };
            tags.extend([ki, vi]);
        }
        let mut f = Vec::new();
        if !tags.is_empty() {
            packed(&mut f, 2, &tags);
        }
        key(&mut f, 3, 0);
        varint(&mut f, kind as u64);
        packed(&mut f, 4, &commands);
        self.features.push(f);
    }

    fn geometry(&self, g: &Geometry<f64>) -> Option<(GeomType, Vec<u32>)> {
        let px = |c: &geo_types::Coord<f64>| self.frame.project(c.x, c.y);
        let mut enc = Encoder::default();
        let kind = match g {
            Geometry::Point(p) => {
                enc.points(&[px(&p.0)]);
                GeomType::Point
            }
            Geometry::MultiPoint(m) => {
                let pts: Vec<[f64; 2]> = m.iter().map(|p| px(&p.0)).collect();
                enc.points(&pts);
                GeomType::Point
            }
            Geometry::LineString(l) => {
                enc.line(&l.coords().map(px).collect::<Vec<_>>());
                GeomType::Line
            }
            Geometry::MultiLineString(m) => {
                for l in m {
                    enc.line(&l.coords().map(px).collect::<Vec<_>>());
                }
                GeomType::Line
            }
            Geometry::Polygon(p) => {
                enc.polygon(p, &px);
                GeomType::Polygon
            }
            Geometry::MultiPolygon(m) => {
                for p in m {
                    enc.polygon(p, &px);
                }
                GeomType::Polygon
            }
            _ => return None,
        };
        (!enc.out.is_empty()).then_some((kind, enc.out))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let mut l = Vec::new();
        key(&mut l, 15, 0);
        varint(&mut l, 2);
        bytes_field(&mut l, 1, self.name.as_bytes());
        for f in &self.features {
            bytes_field(&mut l, 2, f);
        }
        for k in &self.keys {
            bytes_field(&mut l, 3, k.as_bytes());
        }
        for v in &self.values {
            bytes_field(&mut l, 4, v);
        }
        key(&mut l, 5, 0);
        varint(&mut l, u64::from(EXTENT));
        bytes_field(out, 3, &l);
    }
}

/// Geometry commands, with the cursor the spec's deltas run from.
#[derive(Default)]
struct Encoder {
    out: Vec<u32>,
    cursor: (i64, i64),
}

const LO: f64 = -BUFFER;
const HI: f64 = EXTENT as f64 + BUFFER;

fn command(id: u32, count: usize) -> u32 {
    (id & 7) | ((count as u32) << 3)
}

fn quantise(p: [f64; 2]) -> (i64, i64) {
    (p[0].round() as i64, p[1].round() as i64)
}

impl Encoder {
    fn delta(&mut self, p: (i64, i64)) {
        self.out.push(zigzag(p.0 - self.cursor.0) as u32);
        self.out.push(zigzag(p.1 - self.cursor.1) as u32);
        self.cursor = p;
    }

    fn points(&mut self, pts: &[[f64; 2]]) {
        let kept: Vec<(i64, i64)> = pts
            .iter()
            .filter(|p| (LO..=HI).contains(&p[0]) && (LO..=HI).contains(&p[1]))
            .map(|p| quantise(*p))
            .collect();
        if kept.is_empty() {
            return;
        }
        self.out.push(command(1, kept.len()));
        for p in kept {
            self.delta(p);
        }
    }

    fn line(&mut self, pts: &[[f64; 2]]) {
        for part in clip_line(pts) {
            let mut q: Vec<(i64, i64)> = part.into_iter().map(quantise).collect();
            q.dedup();
            if q.len() < 2 {
                continue;
            }
            self.out.push(command(1, 1));
            self.delta(q[0]);
            self.out.push(command(2, q.len() - 1));
            for p in &q[1..] {
                self.delta(*p);
            }
        }
    }

    fn polygon(
        &mut self,
        p: &geo_types::Polygon<f64>,
        px: &dyn Fn(&geo_types::Coord<f64>) -> [f64; 2],
    ) {
        let mut rings = std::iter::once(p.exterior()).chain(p.interiors());
        let exterior = rings.next().map(|r| self.ring(r, px, true));
        if exterior != Some(true) {
            // No exterior left in the tile: nothing of the polygon is.
            return;
        }
        for r in rings {
            self.ring(r, px, false);
        }
    }

    /// Writes one ring (clipped, oriented); whether it was written.
    fn ring(
        &mut self,
        r: &geo_types::LineString<f64>,
        px: &dyn Fn(&geo_types::Coord<f64>) -> [f64; 2],
        exterior: bool,
    ) -> bool {
        let pts: Vec<[f64; 2]> = r.coords().map(px).collect();
        let mut q: Vec<(i64, i64)> = clip_ring(&pts).into_iter().map(quantise).collect();
        q.dedup();
        while q.len() > 1 && q.first() == q.last() {
            q.pop();
        }
        if q.len() < 3 {
            return false;
        }
        let area2: i64 = (0..q.len())
            .map(|i| {
                let (a, b) = (q[i], q[(i + 1) % q.len()]);
                a.0 * b.1 - b.0 * a.1
            })
            .sum();
        if area2 == 0 {
            return false;
        }
        // Exterior positive, holes negative (y down: clockwise on screen).
        if (area2 > 0) != exterior {
            q.reverse();
        }
        self.out.push(command(1, 1));
        self.delta(q[0]);
        self.out.push(command(2, q.len() - 1));
        for p in &q[1..] {
            self.delta(*p);
        }
        self.out.push(command(7, 1));
        true
    }
}

/// The parts of a polyline within the buffered tile (Liang-Barsky per
/// segment, joined where consecutive).
fn clip_line(pts: &[[f64; 2]]) -> Vec<Vec<[f64; 2]>> {
    let mut parts: Vec<Vec<[f64; 2]>> = Vec::new();
    let mut current: Vec<[f64; 2]> = Vec::new();
    for w in pts.windows(2) {
        match clip_segment(w[0], w[1]) {
            Some((a, b)) => {
                if current.last() != Some(&a) {
                    if current.len() >= 2 {
                        parts.push(std::mem::take(&mut current));
                    }
                    current.clear();
                    current.push(a);
                }
                current.push(b);
            }
            None => {
                if current.len() >= 2 {
                    parts.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() >= 2 {
        parts.push(current);
    }
    parts
}

fn clip_segment(a: [f64; 2], b: [f64; 2]) -> Option<([f64; 2], [f64; 2])> {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a[0] - LO),
        (dx, HI - a[0]),
        (-dy, a[1] - LO),
        (dy, HI - a[1]),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 || !(t0.is_finite() && t1.is_finite()) {
        return None;
    }
    let at = |t: f64| [a[0] + t * dx, a[1] + t * dy];
    Some((
        if t0 == 0.0 { a } else { at(t0) },
        if t1 == 1.0 { b } else { at(t1) },
    ))
}

/// A ring clipped to the buffered tile (Sutherland-Hodgman; the tile is
/// convex, so the result is one ring).
fn clip_ring(pts: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = pts.to_vec();
    if ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    let edges: [(usize, f64, bool); 4] =
        [(0, LO, true), (0, HI, false), (1, LO, true), (1, HI, false)];
    for (axis, v, keep_above) in edges {
        let inside = |p: &[f64; 2]| {
            if keep_above {
                p[axis] >= v
            } else {
                p[axis] <= v
            }
        };
        let mut out = Vec::with_capacity(ring.len() + 4);
        for i in 0..ring.len() {
            let (cur, prev) = (ring[i], ring[(i + ring.len() - 1) % ring.len()]);
            let cross = |a: [f64; 2], b: [f64; 2]| {
                let t = (v - a[axis]) / (b[axis] - a[axis]);
                let mut p = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
                p[axis] = v;
                p
            };
            match (inside(&prev), inside(&cur)) {
                (true, true) => out.push(cur),
                (true, false) => out.push(cross(prev, cur)),
                (false, true) => {
                    out.push(cross(prev, cur));
                    out.push(cur);
                }
                (false, false) => {}
            }
        }
        ring = out;
        if ring.is_empty() {
            break;
        }
    }
    ring
}

/// The vector tile of `layer`'s `content` on `tile`: one MVT layer named
/// like the jointmap layer (empty tiles have the layer with no feature).
pub fn encode(layer: TileLayer, tile: TileId, content: &TileContent) -> Vec<u8> {
    let mut out = Vec::new();
    content_layer(layer, tile, content).encode(&mut out);
    out
}

/// The MVT layer of a store layer's (gated) `content` on `tile`.
pub fn content_layer(layer: TileLayer, tile: TileId, content: &TileContent) -> LayerBuilder {
    let mut b = LayerBuilder::new(layer.name(), tile);
    match content {
        TileContent::Cells { cells, .. } => {
            for c in cells {
                let ring: geo_types::LineString<f64> = c
                    .ring
                    .iter()
                    .map(|p| (p[0], p[1]))
                    .collect::<Vec<_>>()
                    .into();
                let g = Geometry::Polygon(geo_types::Polygon::new(ring, vec![]));
                b.add(&g, &[("count", MvtValue::Int(c.count as i64))]);
            }
        }
        TileContent::Features(features) => {
            let points_only = features
                .iter()
                .all(|f| matches!(f.geometry, Geometry::Point(_)));
            if points_only && tile.z < AGGREGATE_BELOW_ZOOM && layer != TileLayer::Patrols {
                let pts = features.iter().filter_map(|f| match f.geometry {
                    Geometry::Point(p) => Some(([p.x(), p.y()], 1)),
                    _ => None,
                });
                add_bins(&mut b, tile, &bins(tile, pts));
            } else {
                for f in features {
                    let mut attrs: Vec<(&str, MvtValue)> =
                        vec![("id", MvtValue::Str(f.id.clone()))];
                    for (k, v) in &f.properties {
                        if let Some(v) = MvtValue::from_json(v) {
                            attrs.push((k.as_str(), v));
                        }
                    }
                    b.add(&f.geometry, &attrs);
                }
            }
        }
    }
    b
}

/// Screen-cell counts as points carrying `count` only.
fn add_bins(b: &mut LayerBuilder, tile: TileId, bins: &[Bin]) {
    let frame = Frame::new(tile, 256.0);
    for bin in bins {
        let [lon, lat] = frame.unproject(bin.centre[0], bin.centre[1]);
        b.add(
            &Geometry::Point(geo_types::Point::new(lon, lat)),
            &[("count", MvtValue::Int(bin.count as i64))],
        );
    }
}

/// The MVT layer of a store layer's [`LayerContent`] on `tile`: the same
/// as [`content_layer`] of the collected content.
pub fn layer_of(layer: TileLayer, tile: TileId, content: &LayerContent) -> LayerBuilder {
    match content {
        LayerContent::Gated(c) => content_layer(layer, tile, c),
        LayerContent::Counted(c) => {
            let mut b = LayerBuilder::new(layer.name(), tile);
            add_bins(&mut b, tile, c.bins());
            b
        }
    }
}

/// The vector tile of `layer`'s [`LayerContent`] on `tile`: the same bytes
/// as [`encode`] of the collected content.
pub fn encode_of(layer: TileLayer, tile: TileId, content: &LayerContent) -> Vec<u8> {
    let mut out = Vec::new();
    layer_of(layer, tile, content).encode(&mut out);
    out
}

/// The MVT layer of an analysis overlay's `cells` on `tile`: each cell's
/// `id` and the layer's attributes ([`overlay::attributes`]) among the
/// properties the role was given; nulls are left out.
pub fn overlay_layer<'a>(
    layer: TileLayer,
    tile: TileId,
    cells: impl Iterator<Item = &'a OverlayCell>,
) -> LayerBuilder {
    let mut b = LayerBuilder::new(layer.name(), tile);
    let names = overlay::attributes(layer);
    for c in cells {
        let mut attrs: Vec<(&str, MvtValue)> = Vec::with_capacity(names.len() + 1);
        if !c.id.is_empty() {
            attrs.push(("id", MvtValue::Str(c.id.clone())));
        }
        for (name, _) in names {
            if let Some(v) = c.properties.get(*name).and_then(MvtValue::from_json) {
                attrs.push((name, v));
            }
        }
        b.add(&Geometry::MultiPolygon(c.geometry.clone()), &attrs);
    }
    b
}

/// A vector tile of several layers, in order.
pub fn tile(layers: &[LayerBuilder]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in layers {
        l.encode(&mut out);
    }
    out
}

#[cfg(test)]
#[path = "mvt_tests.rs"]
mod tests;
