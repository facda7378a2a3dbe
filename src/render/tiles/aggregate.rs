//! Points counted per screen cell, for low zooms: cells of [`CELL_PX`]
//! pixels of the whole world's pixel grid at the tile's zoom, so that
//! neighbouring tiles count every cell alike (no seams).

use super::mercator::{Frame, TileId};

/// Side of a screen cell, pixels of a 256-px tile.
pub const CELL_PX: f64 = 16.0;

/// A screen cell with points in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    /// The cell's centre, in the tile's frame (256 units per side).
    pub centre: [f64; 2],
    /// The sum of the points' weights.
    pub count: u64,
}

/// The non-empty screen cells of `points` (lon/lat, each weighing its
/// count), in a fixed order.
pub fn bins(tile: TileId, points: impl Iterator<Item = ([f64; 2], u64)>) -> Vec<Bin> {
    let mut cells = ScreenCells::new(tile);
    for (p, n) in points {
        cells.add(p, n);
    }
    cells.bins()
}

/// Weights summed per screen cell of one tile, point by point: all a
/// low-zoom tile keeps of its points, whatever their number.
#[derive(Debug, Clone)]
pub struct ScreenCells {
    frame: Frame,
    cells: std::collections::BTreeMap<(i64, i64), u64>,
}

impl ScreenCells {
    /// No point yet, on `tile`.
    pub fn new(tile: TileId) -> Self {
        ScreenCells {
            frame: Frame::new(tile, 256.0),
            cells: Default::default(),
        }
    }

    /// Adds the point `[lon, lat]` weighing `n` to its cell (none when it
    /// does not project).
    pub fn add(&mut self, [lon, lat]: [f64; 2], n: u64) {
        let [px, py] = self.frame.project(lon, lat);
        if !(px.is_finite() && py.is_finite()) {
            return;
        }
        let key = ((px / CELL_PX).floor() as i64, (py / CELL_PX).floor() as i64);
        *self.cells.entry(key).or_default() += n;
    }

    /// The non-empty cells, in a fixed order (whatever the points' order).
    pub fn bins(&self) -> Vec<Bin> {
        // The tile's origin is a multiple of CELL_PX in world pixels (256
        // is), so the cells are the world's.
        self.cells
            .iter()
            .map(|(&(cx, cy), &count)| Bin {
                centre: [(cx as f64 + 0.5) * CELL_PX, (cy as f64 + 0.5) * CELL_PX],
                count,
            })
            .collect()
    }
}

/// The radius of a bin's graduated circle, pixels of a 256-px tile: grows
/// with the logarithm of the count, from 3 to 24.
pub fn radius(count: u64) -> f64 {
    (3.0 + 2.5 * (count.max(1) as f64).log2()).min(24.0)
}

/// Where a count falls on the colour ramp, 0 (1) to 1 (100,000 or more).
pub fn ramp(count: u64) -> f64 {
    ((count.max(1) as f64).log10() / 5.0).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_tiles_agree_on_cells() {
        // Points near the shared edge of two tiles: the same world cells.
        let a = TileId::new(6, 33, 31).unwrap();
        let b = TileId::new(6, 34, 31).unwrap();
        let edge = a.bounds()[2];
        let pts = vec![
            ([edge - 0.01, 3.0], 1),
            ([edge + 0.01, 3.0], 2),
            ([edge + 0.02, 3.0], 4),
        ];
        let ba = bins(a, pts.clone().into_iter());
        let bb = bins(b, pts.into_iter());
        assert_eq!(ba.len(), bb.len());
        for (x, y) in ba.iter().zip(&bb) {
            assert_eq!(x.count, y.count);
            assert!((x.centre[0] - 256.0 - y.centre[0]).abs() < 1e-9);
        }
        assert_eq!(ba.iter().map(|b| b.count).sum::<u64>(), 7);
    }

    #[test]
    fn sizes_and_ramp_are_bounded() {
        assert_eq!(radius(0), 3.0);
        assert_eq!(radius(u64::MAX), 24.0);
        assert!(radius(10) < radius(100));
        assert_eq!(ramp(1), 0.0);
        assert_eq!(ramp(10_000_000), 1.0);
    }
}
