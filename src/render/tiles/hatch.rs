//! Diagonal hatching anchored in the world's pixel grid, so that a hatched
//! area continues without a seam across tile edges: the lines are
//! `gx + gy = k * SPACING` (rising) or `gx - gy = k * SPACING` (falling)
//! in global pixels of the 256-px pyramid at the tile's zoom, whatever the
//! tile, and are stroked anti-aliased through a mask of the area.

use super::mercator::TileId;
use tiny_skia::{FillRule, Mask, Paint, Path, PathBuilder, Pixmap, Stroke, Transform};

/// Distance between hatch lines along an axis, pixels of a 256-px tile.
/// Not a divisor of 256, so lines anchored per tile would break at edges.
pub const SPACING: u64 = 10;

/// Hatch line width, pixels of a 256-px tile.
pub const WIDTH: f32 = 1.5;

/// Where line `k = 0` of the family falls in the tile: the offset of the
/// tile's origin in the family's coordinate, modulo the spacing.
fn phase(tile: TileId, rising: bool) -> f64 {
    let (ox, oy) = (i128::from(tile.x) * 256, i128::from(tile.y) * 256);
    let o = if rising { ox + oy } else { ox - oy };
    o.rem_euclid(i128::from(SPACING)) as f64
}

/// The hatch lines crossing the tile (and a margin), in the tile's 256-px
/// frame.
pub fn lines(tile: TileId, rising: bool) -> Option<Path> {
    let s = SPACING as f64;
    let phase = phase(tile, rising);
    let (lo, hi) = (-8.0f64, 264.0f64);
    let mut pb = PathBuilder::new();
    // Local coordinate c = x + y (rising) or x - y (falling) of line k is
    // k * s - phase; walk every line meeting [lo, hi]^2.
    let (cmin, cmax) = if rising {
        (2.0 * lo, 2.0 * hi)
    } else {
        (lo - hi, hi - lo)
    };
    let mut c = ((cmin + phase) / s).floor() * s - phase;
    while c <= cmax {
        if rising {
            // x + y = c, from the top edge to the bottom edge.
            pb.move_to((c - lo) as f32, lo as f32);
            pb.line_to((c - hi) as f32, hi as f32);
        } else {
            // x - y = c.
            pb.move_to((c + lo) as f32, lo as f32);
            pb.line_to((c + hi) as f32, hi as f32);
        }
        c += s;
    }
    pb.finish()
}

/// Hatches `area` (a path in the 256-px frame) on `pixmap` drawn with
/// transform `t`: lines in `paint`, clipped anti-aliased to the area.
pub fn draw(
    pixmap: &mut Pixmap,
    tile: TileId,
    area: &Path,
    rising: bool,
    paint: &Paint<'_>,
    t: Transform,
) {
    let Some(mut mask) = Mask::new(pixmap.width(), pixmap.height()) else {
        return;
    };
    mask.fill_path(area, FillRule::EvenOdd, true, t);
    let Some(lines) = lines(tile, rising) else {
        return;
    };
    let stroke = Stroke {
        width: WIDTH,
        ..Stroke::default()
    };
    pixmap.stroke_path(&lines, paint, &stroke, t, Some(&mask));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tiles::mercator::Frame;
    use crate::render::tiles::{Canvas, OverlayCell, Scale, TileLayer};

    /// A hatched blind spot straddling the corner of four tiles: the
    /// stitched tiles are one pattern, constant along the hatch direction
    /// and periodic across it, over both seams.
    #[test]
    fn a_hatched_area_on_a_tile_corner_continues_across_the_four_tiles() {
        let (z, x, y) = (12, 2258, 1998);
        let nw = TileId::new(z, x, y).unwrap();
        let f = Frame::new(nw, 256.0);
        let ring: Vec<(f64, f64)> = [
            (196.0, 196.0),
            (316.0, 196.0),
            (316.0, 316.0),
            (196.0, 316.0),
            (196.0, 196.0),
        ]
        .iter()
        .map(|&(px, py)| {
            let [lon, lat] = f.unproject(px, py);
            (lon, lat)
        })
        .collect();
        let poly = geo_types::Polygon::new(ring.into(), vec![]);
        for (kind, rising) in [("threat", true), ("information", false)] {
            let cell = OverlayCell {
                id: "T1".into(),
                geometry: geo_types::MultiPolygon(vec![poly.clone()]),
                bbox: [-180.0, -85.0, 180.0, 85.0],
                properties: serde_json::json!({"kind": kind})
                    .as_object()
                    .unwrap()
                    .clone(),
            };
            // Stitched alpha of the four tiles, 512 x 512.
            let mut a = vec![0u8; 512 * 512];
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let t = TileId::new(z, x + dx, y + dy).unwrap();
                let mut c = Canvas::new(t, Scale::X1).unwrap();
                c.overlay(TileLayer::Blindspots, std::iter::once(&cell));
                let p = Pixmap::decode_png(&c.png().unwrap()).unwrap();
                let mut lit = 0;
                for py in 0..256 {
                    for px in 0..256 {
                        let v = p.pixel(px, py).unwrap().alpha();
                        a[(dy * 256 + py) as usize * 512 + (dx * 256 + px) as usize] = v;
                        lit += usize::from(v > 150);
                    }
                }
                assert!(lit > 300, "{kind}: tile {dx},{dy} has {lit} hatch pixels");
            }
            let at = |px: i64, py: i64| a[(py * 512 + px) as usize];
            // Inside the area, off its outline (196..316 in stitched pixels).
            let (mut along, mut period) = (0, 0);
            for py in 204..308i64 {
                for px in 204..296i64 {
                    let next = if rising {
                        at(px + 1, py - 1)
                    } else {
                        at(px + 1, py + 1)
                    };
                    assert!(
                        at(px, py).abs_diff(next) <= 3,
                        "{kind}: breaks at {px},{py}"
                    );
                    assert!(
                        at(px, py).abs_diff(at(px + SPACING as i64, py)) <= 3,
                        "{kind}: not periodic at {px},{py}"
                    );
                    along += 1;
                    period += usize::from(at(px, py) > 150);
                }
            }
            // Lines of 1.5 px every 10 px along x: about a fifth lit.
            assert!(
                period * 10 > along && period * 3 < along,
                "{kind}: {period}/{along}"
            );
        }
    }

    #[test]
    fn the_phase_follows_the_global_grid() {
        let a = TileId::new(10, 0, 0).unwrap();
        assert_eq!(phase(a, true), 0.0);
        // One tile east: the origin moved 256 px, 6 past a whole line.
        let b = TileId::new(10, 1, 0).unwrap();
        assert_eq!(phase(b, true), 6.0);
        assert_eq!(phase(b, false), 6.0);
        let c = TileId::new(10, 0, 1).unwrap();
        assert_eq!(phase(c, false), 4.0);
        // The deepest tiles do not overflow.
        let d = TileId::new(18, (1 << 18) - 1, (1 << 18) - 1).unwrap();
        assert!(phase(d, true) < SPACING as f64);
        assert!(lines(d, false).is_some());
    }
}
