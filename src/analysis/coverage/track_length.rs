//! Track length per cell: exact at the lines of a square lattice, in short
//! pieces given to the cell of their midpoint on H3 grids.

use super::corridor::Seg;
use crate::grid::{Grid, GridKind};

/// Square lattice recovered from the cell centres, to cut tracks exactly at
/// cell edges.
pub(super) struct Lattice {
    x0: f64,
    y0: f64,
    cell_m: f64,
    ncols: usize,
    nrows: usize,
    index: Vec<u32>,
}

impl Lattice {
    fn new(grid: &Grid, cell_m: f64) -> Option<Lattice> {
        let (mut x0, mut y0) = (f64::INFINITY, f64::INFINITY);
        for c in &grid.cells {
            x0 = x0.min(c.xy[0]);
            y0 = y0.min(c.xy[1]);
        }
        if !(x0.is_finite() && y0.is_finite()) {
            return None;
        }
        let (x0, y0) = (x0 - cell_m / 2.0, y0 - cell_m / 2.0);
        let rc: Vec<(usize, usize)> = grid
            .cells
            .iter()
            .map(|c| {
                (
                    ((c.xy[1] - y0) / cell_m).floor() as usize,
                    ((c.xy[0] - x0) / cell_m).floor() as usize,
                )
            })
            .collect();
        let nrows = rc.iter().map(|p| p.0).max()? + 1;
        let ncols = rc.iter().map(|p| p.1).max()? + 1;
        let mut index = vec![u32::MAX; nrows.checked_mul(ncols)?];
        for (i, (r, c)) in rc.into_iter().enumerate() {
            index[r * ncols + c] = i as u32;
        }
        Some(Lattice {
            x0,
            y0,
            cell_m,
            ncols,
            nrows,
            index,
        })
    }

    fn locate(&self, p: [f64; 2]) -> Option<usize> {
        let fx = (p[0] - self.x0) / self.cell_m;
        let fy = (p[1] - self.y0) / self.cell_m;
        if !(fx >= 0.0 && fy >= 0.0) {
            return None;
        }
        let (c, r) = (fx as usize, fy as usize);
        if c >= self.ncols || r >= self.nrows {
            return None;
        }
        match self.index[r * self.ncols + c] {
            u32::MAX => None,
            i => Some(i as usize),
        }
    }
}

/// How track length is shared among cells.
pub(super) enum Cutter {
    /// Exactly, at the lines of a square lattice.
    Square(Lattice),
    /// In pieces of at most this many metres, by midpoint.
    Pieces(f64),
}

impl Cutter {
    pub(super) fn new(grid: &Grid) -> Cutter {
        if let GridKind::Square { cell_m } = grid.kind {
            if let Some(l) = Lattice::new(grid, cell_m) {
                return Cutter::Square(l);
            }
        }
        Cutter::Pieces(piece_m(grid))
    }
}

/// Longest piece for the midpoint rule: min(cell size / 20, 50 m).
pub(super) fn piece_m(grid: &Grid) -> f64 {
    let size = if grid.is_empty() {
        1000.0
    } else {
        grid.cell_area_m2(0).sqrt()
    };
    (size / 20.0).min(50.0)
}

/// Adds the length of `s` between parameters `s0 < s1` to the cells it
/// crosses.
pub(super) fn cut(
    grid: &Grid,
    cutter: &Cutter,
    s: &Seg,
    s0: f64,
    s1: f64,
    cuts: &mut Vec<f64>,
    add: &mut impl FnMut(usize, f64),
) {
    let d = [s.b[0] - s.a[0], s.b[1] - s.a[1]];
    let len = d[0].hypot(d[1]);
    if len == 0.0 {
        return;
    }
    let at = |u: f64| [s.a[0] + d[0] * u, s.a[1] + d[1] * u];
    match cutter {
        Cutter::Square(l) => {
            cuts.clear();
            cuts.push(s0);
            cuts.push(s1);
            for (axis, (&da, o)) in d.iter().zip([l.x0, l.y0]).enumerate() {
                if da == 0.0 {
                    continue;
                }
                let (p0, p1) = (at(s0)[axis], at(s1)[axis]);
                let (lo, hi) = (p0.min(p1), p0.max(p1));
                let k0 = ((lo - o) / l.cell_m).ceil() as i64;
                let k1 = ((hi - o) / l.cell_m).floor() as i64;
                for k in k0..=k1 {
                    let u = (o + k as f64 * l.cell_m - s.a[axis]) / da;
                    if u > s0 && u < s1 {
                        cuts.push(u);
                    }
                }
            }
            cuts.sort_unstable_by(f64::total_cmp);
            for w in cuts.windows(2) {
                if w[1] > w[0] {
                    if let Some(c) = l.locate(at((w[0] + w[1]) / 2.0)) {
                        add(c, (w[1] - w[0]) * len);
                    }
                }
            }
        }
        Cutter::Pieces(step) => {
            let n = ((s1 - s0) * len / step).ceil().clamp(1.0, 1e9) as usize;
            let du = (s1 - s0) / n as f64;
            for j in 0..n {
                let u0 = s0 + du * j as f64;
                let u1 = if j + 1 == n { s1 } else { u0 + du };
                let [x, y] = at((u0 + u1) / 2.0);
                let [lon, lat] = grid.projection().inverse(x, y);
                if let Some(c) = grid.locate(lon, lat) {
                    add(c, (u1 - u0) * len);
                }
            }
        }
    }
}
