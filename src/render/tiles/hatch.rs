//! Diagonal hatching anchored in the world's pixel grid, so that a hatched
//! area continues without a seam across tile edges: the lines are
//! `gx + gy = k * SPACING` (rising) or `gx - gy = k * SPACING` (falling)
//! in global pixels of the 256-px pyramid at the tile's zoom, whatever the
//! tile, and are stroked anti-aliased through a mask of the area.

use super::mercator::TileId;
use tiny_skia::{
    FillRule, Mask, Paint, Path, PathBuilder, Pixmap, Stroke, Transform,
};

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
