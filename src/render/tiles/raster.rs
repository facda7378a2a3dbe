//! Raster tiles: the gated content of a tile drawn anti-aliased with
//! tiny-skia and encoded as PNG (tiny-skia's own encoder, over the `png`
//! crate: no second image library).

use super::aggregate::{self, bins, Bin};
use super::classes::{self, CellStyle};
use super::grade;
use super::hatch;
use super::heat::{self, HeatParams};
use super::mercator::{Frame, TileId};
use super::overlay::OverlayCell;
use super::palette::{viridis, Rgba, HALO};
use super::stamp;
use super::stream::LayerContent;
use super::style::{self, LineStyle, PointStyle, Shape};
use super::{TileError, TileLayer, AGGREGATE_BELOW_ZOOM, CROWDED_ABOVE};
use crate::access::{TileContent, TileFeature};
use geo_types::Geometry;
use tiny_skia::{FillRule, Paint, Path, PathBuilder, Pixmap, Rect, Stroke, StrokeDash, Transform};

/// Pixel density of a raster tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scale {
    /// 256 px.
    X1,
    /// 512 px (`@2x`), the same map at twice the density.
    X2,
}

impl Scale {
    /// Side of the image, pixels.
    pub fn pixels(self) -> u32 {
        match self {
            Scale::X1 => 256,
            Scale::X2 => 512,
        }
    }

    fn factor(self) -> f32 {
        match self {
            Scale::X1 => 1.0,
            Scale::X2 => 2.0,
        }
    }
}

/// The PNG of `layer`'s `content` on `tile` at `scale`. Drawing is in the
/// frame of a 256-px tile scaled by the density, so both densities show
/// the same map.
pub fn png(
    layer: TileLayer,
    tile: TileId,
    scale: Scale,
    content: &TileContent,
    heat_params: &HeatParams,
) -> Result<Vec<u8>, TileError> {
    let mut canvas = Canvas::new(tile, scale)?;
    canvas.content(layer, content, heat_params)?;
    canvas.png()
}

/// The PNG of a store layer's [`LayerContent`] on `tile` at `scale`: the
/// same bytes as [`png`] of the collected content.
pub fn png_of(
    layer: TileLayer,
    tile: TileId,
    scale: Scale,
    content: &LayerContent,
    heat_params: &HeatParams,
) -> Result<Vec<u8>, TileError> {
    let mut canvas = Canvas::new(tile, scale)?;
    canvas.layer(layer, content, heat_params)?;
    canvas.png()
}

/// One raster tile being drawn, layer over layer (the joint map draws
/// several on one canvas).
pub struct Canvas {
    pixmap: Pixmap,
    tile: TileId,
    t: Transform,
    frame: Frame,
    /// Whether anything was drawn yet.
    drawn: bool,
}

impl Canvas {
    /// A transparent tile.
    pub fn new(tile: TileId, scale: Scale) -> Result<Canvas, TileError> {
        let side = scale.pixels();
        let pixmap =
            Pixmap::new(side, side).ok_or_else(|| TileError::Encode("no pixmap".into()))?;
        Ok(Canvas {
            pixmap,
            tile,
            t: Transform::from_scale(scale.factor(), scale.factor()),
            frame: Frame::new(tile, 256.0),
            drawn: false,
        })
    }

    /// The tile as PNG.
    pub fn png(self) -> Result<Vec<u8>, TileError> {
        super::encode::png(self.pixmap)
    }

    /// Draws a store layer's (or heat's) gated content over what is drawn.
    pub fn content(
        &mut self,
        layer: TileLayer,
        content: &TileContent,
        heat_params: &HeatParams,
    ) -> Result<(), TileError> {
        let (tile, t, frame) = (self.tile, self.t, self.frame);
        let pixmap = &mut self.pixmap;
        let first = !std::mem::replace(&mut self.drawn, true);
        if layer == TileLayer::Heat && first {
            return heat::draw(pixmap, tile, content, heat_params);
        }
        if layer == TileLayer::Heat {
            // The surface is written pixel by pixel: on its own image,
            // laid over what is drawn.
            let mut heat = Pixmap::new(pixmap.width(), pixmap.height())
                .ok_or_else(|| TileError::Encode("no pixmap".into()))?;
            heat::draw(&mut heat, tile, content, heat_params)?;
            pixmap.draw_pixmap(
                0,
                0,
                heat.as_ref(),
                &tiny_skia::PixmapPaint::default(),
                Transform::identity(),
                None,
            );
            return Ok(());
        }
        match content {
            TileContent::Cells { cells, .. } => {
                for c in cells {
                    let ring: Vec<[f64; 2]> =
                        c.ring.iter().map(|p| frame.project(p[0], p[1])).collect();
                    if let Some(path) = polygon_path(&[ring]) {
                        let colour = viridis(aggregate::ramp(c.count)).alpha(190);
                        fill(pixmap, &path, colour, t);
                        stroke(pixmap, &path, HALO.alpha(160), 0.5, &[], t);
                    }
                }
            }
            TileContent::Features(features) => {
                let points_only = features
                    .iter()
                    .all(|f| matches!(f.geometry, Geometry::Point(_)));
                let counted = tile.z < AGGREGATE_BELOW_ZOOM || crowded(tile, features);
                if points_only && counted && layer != TileLayer::Patrols {
                    let pts = features.iter().filter_map(|f| match f.geometry {
                        Geometry::Point(p) => Some(([p.x(), p.y()], 1)),
                        _ => None,
                    });
                    draw_bins(pixmap, &bins(tile, pts), t);
                } else if points_only && layer != TileLayer::Bases {
                    // Bases draw their reach ring under the symbol: by path.
                    let symbols: Vec<([f64; 2], PointStyle)> = features
                        .iter()
                        .filter_map(|f| match f.geometry {
                            Geometry::Point(p) => Some((
                                frame.project(p.x(), p.y()),
                                point_style(layer, tile, &f.properties),
                            )),
                            _ => None,
                        })
                        .collect();
                    stamp::draw(pixmap, t.sx, &symbols);
                } else {
                    for f in features {
                        feature(pixmap, layer, tile, &frame, f, t);
                    }
                }
            }
        }
        Ok(())
    }

    /// Draws a store layer's content, collected or counted while it
    /// streamed ([`LayerContent`]), over what is drawn: the same pixels as
    /// [`Canvas::content`] of the collected features.
    pub fn layer(
        &mut self,
        layer: TileLayer,
        content: &LayerContent,
        heat_params: &HeatParams,
    ) -> Result<(), TileError> {
        match content {
            LayerContent::Gated(c) => self.content(layer, c, heat_params),
            LayerContent::Counted(c) => {
                self.drawn = true;
                draw_bins(&mut self.pixmap, c.bins(), self.t);
                Ok(())
            }
        }
    }

    /// Draws the cells of an analysis overlay (in their order) that meet
    /// the tile, by their class ([`classes::style`]).
    pub fn overlay<'a>(&mut self, layer: TileLayer, cells: impl Iterator<Item = &'a OverlayCell>) {
        let (tile, t, frame) = (self.tile, self.t, self.frame);
        self.drawn = true;
        for c in cells {
            let Some(style) = classes::style(layer, &c.properties) else {
                continue;
            };
            let rings: Vec<Vec<[f64; 2]>> = c
                .geometry
                .iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .map(|r| r.coords().map(|q| frame.project(q.x, q.y)).collect())
                .collect();
            let Some(path) = polygon_path(&rings) else {
                continue;
            };
            let pixmap = &mut self.pixmap;
            match style {
                CellStyle::Fill(colour) => {
                    fill(pixmap, &path, colour.alpha(170), t);
                    stroke(pixmap, &path, colour.alpha(220), 0.5, &[], t);
                }
                CellStyle::Outline(colour) => {
                    stroke(pixmap, &path, colour, 0.75, &[2.0, 2.0], t);
                }
                CellStyle::Hatch { colour, rising } => {
                    fill(pixmap, &path, colour.alpha(40), t);
                    hatch::draw(pixmap, tile, &path, rising, &paint(colour.alpha(220)), t);
                    stroke(pixmap, &path, colour, 1.25, &[], t);
                }
            }
        }
    }
}

/// Whether more than [`CROWDED_ABOVE`] of `features` lie on `tile` itself:
/// more symbols than the tile can show one by one.
fn crowded(tile: TileId, features: &[TileFeature]) -> bool {
    if features.len() <= CROWDED_ABOVE {
        return false;
    }
    let [w, s, e, n] = tile.bounds();
    features
        .iter()
        .filter(|f| match f.geometry {
            Geometry::Point(p) => p.x() >= w && p.x() <= e && p.y() >= s && p.y() <= n,
            _ => false,
        })
        .count()
        > CROWDED_ABOVE
}

/// Screen-cell counts as graduated circles on the viridis ramp, stamped
/// ([`stamp`]: a crowded tile has hundreds of large overlapping circles).
fn draw_bins(pixmap: &mut Pixmap, bins: &[Bin], t: Transform) {
    let symbols: Vec<([f64; 2], PointStyle)> = bins
        .iter()
        .map(|b| {
            let style = PointStyle {
                colour: viridis(aggregate::ramp(b.count)),
                shape: Shape::Circle,
                radius: aggregate::radius(b.count),
                hollow: false,
                grade: None,
            };
            (b.centre, style)
        })
        .collect();
    stamp::draw(pixmap, t.sx, &symbols);
}

fn feature(
    pixmap: &mut Pixmap,
    layer: TileLayer,
    tile: TileId,
    frame: &Frame,
    f: &TileFeature,
    t: Transform,
) {
    let props = &f.properties;
    let point_style = point_style(layer, tile, props);
    if layer == TileLayer::Bases && tile.z >= 10 {
        // The reach ring, around the base's position (a polygon base's centre).
        if let (Some(reach), Some(c)) = (style::base_reach_m(props), centre(&f.geometry)) {
            let [x, y] = frame.project(c[0], c[1]);
            let r = reach / tile.metres_per_pixel(c[1], 256.0);
            if let Some(path) = PathBuilder::from_circle(x as f32, y as f32, r as f32) {
                stroke(
                    pixmap,
                    &path,
                    point_style.colour.alpha(200),
                    1.5,
                    &[4.0, 3.0],
                    t,
                );
            }
        }
    }
    let line = style::patrol(props);
    draw_geometry(pixmap, frame, &f.geometry, &point_style, &line, t);
}

/// The symbol of a point feature of `layer` with `props` on `tile`; an
/// event's source grade ring from [`grade::GRADE_FROM_ZOOM`], when `props`
/// show it.
fn point_style(
    layer: TileLayer,
    tile: TileId,
    props: &serde_json::Map<String, serde_json::Value>,
) -> PointStyle {
    let mut s = match layer {
        TileLayer::Incidents => style::incident(props, tile.z),
        TileLayer::Sightings => style::sighting(props),
        TileLayer::Bases => style::base(props),
        _ => style::site(props),
    };
    if tile.z >= grade::GRADE_FROM_ZOOM {
        s.grade = grade::band(layer, props);
    }
    s
}

fn draw_geometry(
    pixmap: &mut Pixmap,
    frame: &Frame,
    g: &Geometry<f64>,
    point_style: &PointStyle,
    line: &LineStyle,
    t: Transform,
) {
    let project = |cs: &mut dyn Iterator<Item = geo_types::Coord<f64>>| -> Vec<[f64; 2]> {
        cs.map(|c| frame.project(c.x, c.y)).collect()
    };
    match g {
        Geometry::Point(p) => symbol(pixmap, frame.project(p.x(), p.y()), point_style, t),
        Geometry::MultiPoint(m) => {
            for p in m {
                symbol(pixmap, frame.project(p.x(), p.y()), point_style, t);
            }
        }
        Geometry::LineString(l) => track(pixmap, &project(&mut l.coords().copied()), line, t),
        Geometry::MultiLineString(m) => {
            for l in m {
                track(pixmap, &project(&mut l.coords().copied()), line, t);
            }
        }
        Geometry::Polygon(p) => area(pixmap, frame, p, point_style.colour, t),
        Geometry::MultiPolygon(m) => {
            for p in m {
                area(pixmap, frame, p, point_style.colour, t);
            }
        }
        Geometry::GeometryCollection(c) => {
            for g in c {
                draw_geometry(pixmap, frame, g, point_style, line, t);
            }
        }
        _ => {}
    }
}

fn centre(g: &Geometry<f64>) -> Option<[f64; 2]> {
    use geo::BoundingRect;
    let r = g.bounding_rect()?;
    Some([(r.min().x + r.max().x) / 2.0, (r.min().y + r.max().y) / 2.0])
}

fn area(
    pixmap: &mut Pixmap,
    frame: &Frame,
    p: &geo_types::Polygon<f64>,
    colour: Rgba,
    t: Transform,
) {
    let rings: Vec<Vec<[f64; 2]>> = std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(|r| r.coords().map(|c| frame.project(c.x, c.y)).collect())
        .collect();
    if let Some(path) = polygon_path(&rings) {
        fill(pixmap, &path, colour.alpha(90), t);
        stroke(pixmap, &path, colour, 1.5, &[], t);
    }
}

fn polygon_path(rings: &[Vec<[f64; 2]>]) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for ring in rings {
        let mut it = ring.iter();
        let first = it.next()?;
        pb.move_to(first[0] as f32, first[1] as f32);
        for p in it {
            pb.line_to(p[0] as f32, p[1] as f32);
        }
        pb.close();
    }
    pb.finish()
}

fn track(pixmap: &mut Pixmap, pts: &[[f64; 2]], line: &LineStyle, t: Transform) {
    let mut pb = PathBuilder::new();
    let mut it = pts.iter();
    let Some(first) = it.next() else { return };
    pb.move_to(first[0] as f32, first[1] as f32);
    for p in it {
        pb.line_to(p[0] as f32, p[1] as f32);
    }
    if let Some(path) = pb.finish() {
        stroke(pixmap, &path, HALO, (line.width + 2.0) as f32, &[], t);
        stroke(pixmap, &path, line.colour, line.width as f32, &line.dash, t);
    }
}

/// A point symbol centred at `c` (256-px frame), with a white halo.
pub(super) fn symbol(pixmap: &mut Pixmap, c: [f64; 2], s: &PointStyle, t: Transform) {
    let (x, y, r) = (c[0] as f32, c[1] as f32, s.radius as f32);
    let path = match s.shape {
        Shape::Circle => PathBuilder::from_circle(x, y, r),
        Shape::Square => Rect::from_xywh(x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7)
            .map(PathBuilder::from_rect),
        Shape::Triangle => {
            let mut pb = PathBuilder::new();
            pb.move_to(x, y - r * 1.1);
            pb.line_to(x + r, y + r * 0.8);
            pb.line_to(x - r, y + r * 0.8);
            pb.close();
            pb.finish()
        }
        Shape::Diamond => {
            let mut pb = PathBuilder::new();
            pb.move_to(x, y - r * 1.15);
            pb.line_to(x + r * 1.15, y);
            pb.line_to(x, y + r * 1.15);
            pb.line_to(x - r * 1.15, y);
            pb.close();
            pb.finish()
        }
    };
    let Some(path) = path else { return };
    if s.hollow {
        stroke(pixmap, &path, HALO, 3.5, &[], t);
        stroke(pixmap, &path, s.colour, 2.0, &[], t);
    } else {
        fill(pixmap, &path, s.colour.alpha(235), t);
        stroke(pixmap, &path, HALO, 1.0, &[], t);
    }
    if let Some(band) = s.grade {
        let rr = grade::ring_radius(s.radius) as f32;
        if let Some(ring) = PathBuilder::from_circle(x, y, rr) {
            stroke(pixmap, &ring, HALO, grade::HALO_WIDTH, &[], t);
            stroke(
                pixmap,
                &ring,
                grade::RING,
                grade::RING_WIDTH,
                band.dash(),
                t,
            );
        }
    }
}

fn paint(colour: Rgba) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(colour.skia());
    p.anti_alias = true;
    p
}

fn fill(pixmap: &mut Pixmap, path: &Path, colour: Rgba, t: Transform) {
    pixmap.fill_path(path, &paint(colour), FillRule::EvenOdd, t, None);
}

fn stroke(pixmap: &mut Pixmap, path: &Path, colour: Rgba, width: f32, dash: &[f32], t: Transform) {
    let s = Stroke {
        width,
        dash: if dash.len() >= 2 && dash.len() % 2 == 0 {
            StrokeDash::new(dash.to_vec(), 0.0)
        } else {
            None
        },
        ..Stroke::default()
    };
    pixmap.stroke_path(path, &paint(colour), &s, t, None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::TileFeature;

    fn decode(png: &[u8]) -> Pixmap {
        Pixmap::decode_png(png).unwrap()
    }

    fn heat() -> HeatParams {
        HeatParams {
            anchor: [18.0, 4.0],
            bandwidth_m: 10_000.0,
        }
    }

    /// A symbol on the corner of four tiles is drawn in all four, and the
    /// pixels on each side of every shared edge agree (no seam).
    #[test]
    fn a_symbol_on_a_tile_corner_continues_across_the_four_tiles() {
        let (z, x, y) = (12, 2258, 1998);
        let corner = TileId::new(z, x + 1, y + 1).unwrap().bounds();
        let f = TileFeature {
            id: "c".into(),
            geometry: Geometry::Point(geo_types::Point::new(corner[0], corner[3])),
            properties: serde_json::json!({"category": "killing"})
                .as_object()
                .unwrap()
                .clone(),
        };
        let content = TileContent::Features(vec![f]);
        let draw = |dx: u32, dy: u32| {
            let t = TileId::new(z, x + dx, y + dy).unwrap();
            decode(&png(TileLayer::Incidents, t, Scale::X1, &content, &heat()).unwrap())
        };
        let (nw, ne, sw, se) = (draw(0, 0), draw(1, 0), draw(0, 1), draw(1, 1));
        for p in [&nw, &ne, &sw, &se] {
            assert!(p.pixels().iter().filter(|c| c.alpha() > 0).count() > 10);
        }
        // The symbol is symmetric about the corner: mirrored pixels match.
        for i in 0..8u32 {
            let a = nw.pixel(255 - i, 255).unwrap();
            let b = ne.pixel(i, 255).unwrap();
            assert!(a.alpha().abs_diff(b.alpha()) <= 2, "row edge {i}");
            let c = sw.pixel(255 - i, 0).unwrap();
            let d = se.pixel(i, 0).unwrap();
            assert!(c.alpha().abs_diff(d.alpha()) <= 2, "row edge {i}");
            let e = nw.pixel(255, 255 - i).unwrap();
            let g = sw.pixel(255, i).unwrap();
            assert!(e.alpha().abs_diff(g.alpha()) <= 2, "column edge {i}");
        }
    }

    /// A tile with more than [`CROWDED_ABOVE`] points on it is drawn as the
    /// counts per screen cell; one point fewer, as symbols.
    #[test]
    fn a_crowded_tile_is_drawn_as_counts_per_screen_cell() {
        let t = TileId::new(12, 2250, 2001).unwrap();
        let b = t.bounds();
        let mut rng = crate::rng::Rng::new(3);
        let many: Vec<TileFeature> = (0..=CROWDED_ABOVE)
            .map(|i| TileFeature {
                id: format!("p{i}"),
                geometry: Geometry::Point(geo_types::Point::new(
                    rng.range(b[0], b[2]),
                    rng.range(b[1], b[3]),
                )),
                properties: serde_json::json!({"category": "killing"})
                    .as_object()
                    .unwrap()
                    .clone(),
            })
            .collect();
        let counts = |fs: &[TileFeature]| {
            let mut p = Pixmap::new(256, 256).unwrap();
            let pts = fs.iter().map(|f| match f.geometry {
                Geometry::Point(p) => ([p.x(), p.y()], 1),
                _ => unreachable!(),
            });
            draw_bins(&mut p, &bins(t, pts), Transform::identity());
            super::super::encode::png(p).unwrap()
        };
        let drawn = |fs: &[TileFeature]| {
            let content = TileContent::Features(fs.to_vec());
            png(TileLayer::Incidents, t, Scale::X1, &content, &heat()).unwrap()
        };
        assert_eq!(drawn(&many), counts(&many));
        let fewer = &many[..CROWDED_ABOVE];
        assert_ne!(drawn(fewer), counts(fewer));
    }

    #[test]
    fn empty_content_is_one_transparent_image_per_scale() {
        let t = TileId::new(7, 70, 62).unwrap();
        let empty = TileContent::Features(vec![]);
        let cells = TileContent::Cells {
            cell_m: 10_000.0,
            cells: vec![],
        };
        for scale in [Scale::X1, Scale::X2] {
            let a = png(TileLayer::Incidents, t, scale, &empty, &heat()).unwrap();
            let b = png(TileLayer::Incidents, t, scale, &cells, &heat()).unwrap();
            let h = png(TileLayer::Heat, t, scale, &cells, &heat()).unwrap();
            assert_eq!(a, b);
            assert_eq!(a, h);
            let p = decode(&a);
            assert_eq!(p.width(), scale.pixels());
            assert!(p.pixels().iter().all(|c| c.alpha() == 0));
        }
    }
}
