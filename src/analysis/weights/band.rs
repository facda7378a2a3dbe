//! Binary distance-band weights on the shared spatial hash, and the default
//! band.

use super::{check_points, point_tree, Weights, BLOCK};
use crate::analysis::spatial_hash::Grid;
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
        let hash = BandHash::new(xy, threshold);
        let t2 = threshold * threshold;
        Weights::binary_rows(xy.len(), || (), |i, _, out| hash.within(i, xy[i], t2, out))
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

/// The points in the shared spatial hash, in cells one band wide (so every
/// neighbour lies in a point's own or an adjacent cell), with each point's
/// cell and the coordinates in the hash's order.
struct BandHash {
    grid: Grid<2>,
    /// Cell of each point, by input index.
    cell: Vec<u32>,
    /// Coordinates by position in the hash.
    pts: Vec<[f64; 2]>,
}

impl BandHash {
    fn new(xy: &[[f64; 2]], threshold: f64) -> BandHash {
        // The margin keeps a pair at exactly the band within adjacent cells
        // despite rounding in the division.
        let inv = 1.0 / (threshold * (1.0 + 1e-6));
        let keys: Vec<[i64; 2]> = xy
            .par_iter()
            .with_min_len(BLOCK)
            .map(|p| [(p[0] * inv).floor() as i64, (p[1] * inv).floor() as i64])
            .collect();
        let grid = Grid::new(keys);
        let mut cell = vec![0u32; xy.len()];
        for c in 0..grid.cell_count() {
            for p in grid.positions(c) {
                cell[grid.original[p] as usize] = c as u32;
            }
        }
        let pts = grid.original.iter().map(|&i| xy[i as usize]).collect();
        BandHash { grid, cell, pts }
    }

    /// Appends (in runs sorted by index, one per cell) the points within
    /// `sqrt(t2)` of point `i` at `p`, except `i` itself.
    fn within(&self, i: usize, p: [f64; 2], t2: f64, out: &mut Vec<u32>) {
        for &c in self.grid.near(self.cell[i] as usize) {
            let range = self.grid.positions(c as usize);
            for (q, &j) in self.pts[range.clone()]
                .iter()
                .zip(&self.grid.original[range])
            {
                let dx = q[0] - p[0];
                let dy = q[1] - p[1];
                if dx * dx + dy * dy <= t2 && j as usize != i {
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
