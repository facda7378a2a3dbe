//! Binary distance-band weights on a uniform grid hash, and the default band.

use super::{check_points, point_tree, Block, Weights, BLOCK};
use crate::analysis::AnalysisError;
use rayon::prelude::*;

impl Weights {
    /// Binary distance-band weights: `j` is a neighbour of `i` when
    /// `|xy[i] - xy[j]| <= threshold` (metres) and `j != i`.
    ///
    /// Errors when `threshold` is not a positive finite number, a coordinate is
    /// not finite, or there are more than `u32::MAX` points.
    pub fn distance_band(xy: &[[f64; 2]], threshold: f64) -> Result<Weights, AnalysisError> {
        check_points(xy)?;
        if !(threshold.is_finite() && threshold > 0.0) {
            return Err(AnalysisError::param(
                "threshold",
                format!("must be a positive number of metres, got {threshold}"),
            ));
        }
        let grid = Grid::new(xy, threshold);
        let t2 = threshold * threshold;
        let stop = crate::cancel::current();
        let blocks: Vec<Block> = xy
            .par_chunks(BLOCK)
            .enumerate()
            .map(|(b, chunk)| {
                let mut block = Block::with_rows(chunk.len());
                if stop.stopped() {
                    return block;
                }
                for (r, p) in chunk.iter().enumerate() {
                    let start = block.neighbors.len();
                    grid.within(*p, t2, (b * BLOCK + r) as u32, &mut block.neighbors);
                    sort_row(&mut block.neighbors[start..]);
                    block.offsets.push(block.neighbors.len());
                    if r == 15 {
                        // Size the buffer from the first rows to avoid regrowth.
                        let per_row = block.neighbors.len() / 16 + 1;
                        block
                            .neighbors
                            .reserve(per_row * (chunk.len() - 16) * 5 / 4);
                    }
                }
                block
            })
            .collect();
        crate::cancel::check()?;
        Ok(Weights::binary(xy.len(), blocks))
    }
}

/// Default distance band: the largest distance from a point to its nearest
/// other point, so that the band leaves no point without a neighbour (the
/// rule of ArcGIS's default fixed distance band, "every feature has at least
/// one neighbour", and of libpysal's `min_threshold_distance`). Returned so
/// that callers can report it.
///
/// On a complete square grid this is the cell size (rook neighbours only);
/// analysts usually want a wider band and should say which they used. The
/// value is rounded up by one unit in the last place when needed so that
/// `distance_band(xy, auto_distance_band(xy)?)` has no island.
///
/// Errors with fewer than two points, non-finite coordinates, or when all
/// points coincide (the band would be 0).
pub fn auto_distance_band(xy: &[[f64; 2]]) -> Result<f64, AnalysisError> {
    check_points(xy)?;
    if xy.len() < 2 {
        return Err(AnalysisError::param(
            "xy",
            format!("needs at least two points, got {}", xy.len()),
        ));
    }
    let tree = point_tree(xy);
    let d2max = xy
        .par_iter()
        .enumerate()
        .with_min_len(BLOCK)
        .map(|(i, p)| {
            tree.nearest_neighbor_iter_with_distance_2(p)
                .find(|(item, _)| item.data as usize != i)
                .map_or(0.0, |(_, d2)| d2)
        })
        .reduce(|| 0.0, f64::max);
    if d2max <= 0.0 {
        return Err(AnalysisError::param(
            "xy",
            "all points coincide: no distance band separates them",
        ));
    }
    let mut t = d2max.sqrt();
    if t * t < d2max {
        t = f64::from_bits(t.to_bits() + 1);
    }
    Ok(t)
}

/// Sorts one neighbour row. Rows come out of the grid scan in short sorted
/// runs (one per grid cell), where insertion sort beats the general sort by
/// a wide margin; long rows (wide bands) take the general sort.
fn sort_row(row: &mut [u32]) {
    if row.len() > 64 {
        row.sort_unstable();
        return;
    }
    for i in 1..row.len() {
        let v = row[i];
        let mut j = i;
        while j > 0 && row[j - 1] > v {
            row[j] = row[j - 1];
            j -= 1;
        }
        row[j] = v;
    }
}

/// Uniform grid hash: points counting-sorted by cell (row-major), so that the
/// cells of one grid row within reach of a query are one contiguous slice.
struct Grid {
    min: [f64; 2],
    inv_cell: f64,
    nx: usize,
    ny: usize,
    /// How many cells either side a neighbour can be.
    reach: usize,
    /// `start[c]..start[c + 1]` indexes the points of cell `c` in `pts`/`ids`.
    start: Vec<u32>,
    pts: Vec<[f64; 2]>,
    ids: Vec<u32>,
}

impl Grid {
    fn new(xy: &[[f64; 2]], threshold: f64) -> Grid {
        let (min, max) = xy
            .par_chunks(BLOCK)
            .map(|chunk| {
                let mut min = [f64::INFINITY; 2];
                let mut max = [f64::NEG_INFINITY; 2];
                for p in chunk {
                    for d in 0..2 {
                        min[d] = min[d].min(p[d]);
                        max[d] = max[d].max(p[d]);
                    }
                }
                Some((min, max))
            })
            .reduce(
                || None,
                |a, b| match (a, b) {
                    (Some(a), Some(b)) => Some((
                        [a.0[0].min(b.0[0]), a.0[1].min(b.0[1])],
                        [a.1[0].max(b.1[0]), a.1[1].max(b.1[1])],
                    )),
                    (a, b) => a.or(b),
                },
            )
            .unwrap_or(([0.0; 2], [0.0; 2]));
        let (wx, wy) = (max[0] - min[0], max[1] - min[1]);
        // Half-band cells (5 x 5 scan) cover 6.25 t^2 against 9 t^2 for
        // band-sized cells; fall back to larger cells when the grid would
        // have far more cells than points (tiny band over a wide area). The
        // 1e-6 margin keeps a pair at exactly the band within `reach` cells
        // despite rounding in the cell computation.
        let budget = 2.0 * xy.len() as f64 + 32.0;
        let cells = |s: f64| (wx / s + 1.0) * (wy / s + 1.0);
        let (cell, reach) = if cells(threshold / 2.0) <= 2.0 * budget {
            (threshold / 2.0 * (1.0 + 1e-6), 2)
        } else {
            let s = threshold
                .max((wx * wy / budget).sqrt())
                .max((wx + wy) / budget);
            (s * (1.0 + 1e-6), 1)
        };
        let inv_cell = 1.0 / cell;
        let nx = (wx * inv_cell) as usize + 1;
        let ny = (wy * inv_cell) as usize + 1;
        let mut grid = Grid {
            min,
            inv_cell,
            nx,
            ny,
            reach,
            start: vec![0; nx * ny + 1],
            pts: Vec::new(),
            ids: Vec::new(),
        };
        let cell_of: Vec<u32> = xy
            .par_iter()
            .with_min_len(BLOCK)
            .map(|p| {
                let (cx, cy) = grid.cell(*p);
                (cy * nx + cx) as u32
            })
            .collect();
        for &c in &cell_of {
            grid.start[c as usize + 1] += 1;
        }
        for c in 0..nx * ny {
            grid.start[c + 1] += grid.start[c];
        }
        let mut fill = grid.start.clone();
        grid.pts = vec![[0.0; 2]; xy.len()];
        grid.ids = vec![0; xy.len()];
        for (i, &c) in cell_of.iter().enumerate() {
            let slot = fill[c as usize] as usize;
            fill[c as usize] += 1;
            grid.pts[slot] = xy[i];
            grid.ids[slot] = i as u32;
        }
        grid
    }

    fn cell(&self, p: [f64; 2]) -> (usize, usize) {
        let cx = ((p[0] - self.min[0]) * self.inv_cell) as usize;
        let cy = ((p[1] - self.min[1]) * self.inv_cell) as usize;
        (cx.min(self.nx - 1), cy.min(self.ny - 1))
    }

    /// Appends (unsorted) the ids of points within `sqrt(t2)` of `p`, except `own`.
    fn within(&self, p: [f64; 2], t2: f64, own: u32, out: &mut Vec<u32>) {
        let (cx, cy) = self.cell(p);
        let x0 = cx.saturating_sub(self.reach);
        let x1 = (cx + self.reach).min(self.nx - 1);
        for gy in cy.saturating_sub(self.reach)..=(cy + self.reach).min(self.ny - 1) {
            let a = self.start[gy * self.nx + x0] as usize;
            let b = self.start[gy * self.nx + x1 + 1] as usize;
            for (q, &j) in self.pts[a..b].iter().zip(&self.ids[a..b]) {
                let dx = q[0] - p[0];
                let dy = q[1] - p[1];
                if dx * dx + dy * dy <= t2 && j != own {
                    out.push(j);
                }
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    /// Every pair within `t`, by brute force.
    fn brute_band(xy: &[[f64; 2]], t: f64) -> Vec<Vec<u32>> {
        (0..xy.len())
            .map(|i| {
                (0..xy.len())
                    .filter(|&j| {
                        let dx = xy[j][0] - xy[i][0];
                        let dy = xy[j][1] - xy[i][1];
                        j != i && dx * dx + dy * dy <= t * t
                    })
                    .map(|j| j as u32)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn distance_band_matches_brute_force() {
        for (seed, n, t) in [(1, 500, 40.0), (2, 800, 3.0), (3, 300, 2000.0)] {
            let xy = random_points(seed, n, 1000.0, 0.05);
            let w = Weights::distance_band(&xy, t).unwrap();
            assert_eq!(rows(&w), brute_band(&xy, t), "seed {seed}");
            assert!(w.is_binary());
            for i in 0..w.len() {
                assert!(w.neighbors(i).1.iter().all(|&v| v == 1.0));
            }
        }
    }
    #[test]
    fn distance_band_on_a_lattice_includes_the_band_itself() {
        // Integer lattice, band 3: the 29 offsets with dx^2 + dy^2 <= 9, minus self.
        let xy: Vec<[f64; 2]> = (0..400)
            .map(|i| [(i % 20) as f64, (i / 20) as f64])
            .collect();
        let w = Weights::distance_band(&xy, 3.0).unwrap();
        assert_eq!(w.cardinality(10 * 20 + 10), 28);
        assert_eq!(w.cardinality(0), 10);
        assert_eq!(rows(&w), brute_band(&xy, 3.0));
        assert!(w.islands().is_empty());
        assert_eq!(w.max_cardinality(), 28);
    }
    #[test]
    fn tiny_band_over_a_wide_area_uses_coarse_cells() {
        let mut xy = random_points(4, 300, 1.0e7, 0.05);
        xy.push([5.0, 5.0]);
        xy.push([5.5, 5.0]);
        let w = Weights::distance_band(&xy, 1.0).unwrap();
        assert_eq!(rows(&w), brute_band(&xy, 1.0));
        assert_eq!(w.neighbors(300).0, &[301]);
    }
    #[test]
    fn esda_fixture_neighbours() {
        let g = golden("gistar_esda_fixture.json");
        let xy = xy_pairs(&g["xy"]);
        let w = Weights::distance_band(&xy, g["threshold"].as_f64().unwrap()).unwrap();
        let want: Vec<Vec<u32>> = g["neighbors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| i64s(r).into_iter().map(|j| j as u32).collect())
            .collect();
        assert_eq!(rows(&w), want);
    }
    #[test]
    fn synthetic_band_cardinalities_and_auto_band_match_libpysal() {
        let g = golden("gistar_synthetic.json");
        let xy = points(&g["x"], &g["y"]);
        let w = Weights::distance_band(&xy, g["threshold"].as_f64().unwrap()).unwrap();
        let want: Vec<usize> = i64s(&g["band_cardinalities"])
            .into_iter()
            .map(|c| c as usize)
            .collect();
        assert_eq!(w.cardinalities(), want);
        let auto = auto_distance_band(&xy).unwrap();
        assert_close(
            "auto band",
            &[auto],
            &[g["auto_band"].as_f64().unwrap()],
            1e-12,
            0.0,
        );
        let wa = Weights::distance_band(&xy, auto).unwrap();
        assert!(wa.islands().is_empty());
    }
    #[test]
    fn auto_band_leaves_no_island() {
        let xy = random_points(7, 1000, 5000.0, 0.05);
        let t = auto_distance_band(&xy).unwrap();
        let w = Weights::distance_band(&xy, t).unwrap();
        assert!(w.islands().is_empty());
        // ... and it is the smallest such band.
        let below = Weights::distance_band(&xy, t * (1.0 - 1e-9)).unwrap();
        assert!(!below.islands().is_empty());
        let lattice: Vec<[f64; 2]> = (0..100)
            .map(|i| [(i % 10) as f64 * 25e3, (i / 10) as f64 * 25e3])
            .collect();
        assert_eq!(auto_distance_band(&lattice).unwrap(), 25e3);
    }

    #[test]
    fn parameters_are_checked() {
        let xy = vec![[0.0, 0.0], [1.0, 0.0]];
        for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Weights::distance_band(&xy, t).is_err());
        }
        assert!(Weights::distance_band(&[[f64::NAN, 0.0]], 1.0).is_err());
        assert!(auto_distance_band(&xy[..1]).is_err());
        assert!(auto_distance_band(&[[1.0, 1.0], [1.0, 1.0]]).is_err());
        let empty = Weights::distance_band(&[], 1.0).unwrap();
        assert!(empty.is_empty());
    }
}
