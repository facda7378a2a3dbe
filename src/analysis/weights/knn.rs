//! Binary k-nearest-neighbour weights, ties broken by index.

use super::{check_points, point_tree, Weights};
use crate::analysis::AnalysisError;

impl Weights {
    /// Binary k-nearest-neighbour weights: the `k` points closest to each point
    /// (itself excluded). When several points tie at the k-th distance, those
    /// with the lower index are taken, so the result never depends on the
    /// tree layout or on the thread count.
    ///
    /// Errors when `k` is 0 or not smaller than the number of points, or a
    /// coordinate is not finite.
    pub fn knn(xy: &[[f64; 2]], k: usize) -> Result<Weights, AnalysisError> {
        check_points(xy)?;
        if k == 0 || k >= xy.len() {
            return Err(AnalysisError::param(
                "k",
                format!(
                    "must be between 1 and the number of points minus one ({}), got {k}",
                    xy.len().saturating_sub(1)
                ),
            ));
        }
        let tree = point_tree(xy);
        Weights::binary_rows(
            xy.len(),
            || Vec::<(f64, u32)>::with_capacity(k + 8),
            |i, found, out| {
                let i = i as u32;
                found.clear();
                for (item, d2) in tree.nearest_neighbor_iter_with_distance_2(&xy[i as usize]) {
                    if item.data == i {
                        continue;
                    }
                    // Keep going past k while the distance ties with the k-th.
                    if found.len() >= k && d2 > found[k - 1].0 {
                        break;
                    }
                    found.push((d2, item.data));
                }
                found.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                out.extend(found.iter().take(k).map(|&(_, j)| j));
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn knn_matches_brute_force_with_ties_by_index() {
        // A lattice has many ties at every distance.
        let xy: Vec<[f64; 2]> = (0..300)
            .map(|i| [(i % 15) as f64, (i / 15) as f64])
            .collect();
        let mut pts = random_points(5, 300, 100.0, 0.05);
        pts.extend_from_slice(&xy);
        for k in [1, 3, 4, 7, 12] {
            let w = Weights::knn(&pts, k).unwrap();
            for i in 0..pts.len() {
                let mut all: Vec<(f64, u32)> = (0..pts.len())
                    .filter(|&j| j != i)
                    .map(|j| {
                        let dx = pts[j][0] - pts[i][0];
                        let dy = pts[j][1] - pts[i][1];
                        (dx * dx + dy * dy, j as u32)
                    })
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let mut want: Vec<u32> = all[..k].iter().map(|p| p.1).collect();
                want.sort_unstable();
                assert_eq!(w.neighbors(i).0, &want[..], "k {k}, point {i}");
            }
        }
    }

    #[test]
    fn parameters_are_checked() {
        let xy = vec![[0.0, 0.0], [1.0, 0.0]];
        assert!(Weights::knn(&xy, 0).is_err());
        assert!(Weights::knn(&xy, 2).is_err());
        assert!(Weights::knn(&[[f64::NAN, 0.0], [1.0, 0.0], [2.0, 0.0]], 1).is_err());
    }
}
