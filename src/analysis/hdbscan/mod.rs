//! HDBSCAN: hierarchical density-based clustering (Campello, Moulavi and
//! Sander 2013), clusters of varying density without a radius.
//!
//! The result is the one the `hdbscan` Python package (McInnes et al.) gives
//! with `HDBSCAN(min_cluster_size, min_samples, approx_min_span_tree=False)`
//! and its defaults otherwise (`alpha` 1, excess-of-mass selection, no single
//! cluster): the same labels up to their numbering, and the same membership
//! probabilities. Steps:
//!
//! 1. **core distance** of each point: the distance to its `min_samples`-th
//!    nearest other point (the package's convention; `min_samples` is capped at
//!    n - 1), from a k-d tree ([`super::kdtree`]);
//! 2. **minimum spanning tree** of the mutual reachability distance
//!    `max(core(a), core(b), d(a, b))`, exact, by Boruvka over the k-d tree
//!    ([`mst`]);
//! 3. the **single-linkage hierarchy**, **condensed** at `min_cluster_size`,
//!    cluster **stability**, **excess-of-mass** selection, labels and
//!    probabilities, as the package computes them ([`tree`]).
//!
//! Two metrics: planar (Euclidean, e.g. projected metres) and haversine
//! (lon/lat degrees; distances in radians, scikit-learn's formula). For the
//! sphere the tree holds unit vectors: the chord is monotone in the
//! great-circle distance, so neighbours and the spanning tree are the same;
//! every distance that enters the hierarchy is computed with the haversine
//! formula.

mod mst;
mod tree;

#[cfg(test)]
mod tests;

use super::dbscan::{haversine_rdist, unit_vector};
use super::kdtree::KdTree;
use super::AnalysisError;
use rayon::prelude::*;

/// Parameters of HDBSCAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HdbscanParams {
    /// Smallest group called a cluster (at least 2).
    pub min_cluster_size: usize,
    /// Neighbours (the point itself not counted) behind a core distance;
    /// `None`: `min_cluster_size`, as in the package.
    pub min_samples: Option<usize>,
}

/// The outcome, one entry per input point.
#[derive(Debug, Clone, PartialEq)]
pub struct Hdbscan {
    /// Cluster label: 0, 1, ... (in the order of the condensed tree's cluster
    /// ids, as the package numbers them); -1 for noise.
    pub labels: Vec<i32>,
    /// Membership strength in [0, 1] (0 for noise), the package's
    /// `probabilities_`.
    pub probabilities: Vec<f64>,
}

/// HDBSCAN on planar points (Euclidean distance).
///
/// Errors when a coordinate is not finite, `min_cluster_size` is below 2 or
/// `min_samples` is 0. Fewer than two points are noise.
pub fn hdbscan_planar(xy: &[[f64; 2]], params: &HdbscanParams) -> Result<Hdbscan, AnalysisError> {
    validate(params)?;
    if let Some(i) = xy
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(AnalysisError::param(
            "xy",
            format!("point {i}: {:?} is not a finite position", xy[i]),
        ));
    }
    let dist = |i: usize, j: usize| {
        let (a, b) = (xy[i], xy[j]);
        super::kdtree::d2(&a, &b).sqrt()
    };
    run(xy.to_vec(), dist, params)
}

/// HDBSCAN on lon/lat points in degrees with great-circle distances (the
/// package's `metric="haversine"` on `np.radians([lat, lon])`).
///
/// Errors as [`dbscan`](super::dbscan::dbscan) does on the coordinates, and as
/// [`hdbscan_planar`] on the parameters.
pub fn hdbscan_haversine(
    lon: &[f64],
    lat: &[f64],
    params: &HdbscanParams,
) -> Result<Hdbscan, AnalysisError> {
    validate(params)?;
    super::dbscan::validate(lon, lat, 1.0, 1)?;
    let rad: Vec<[f64; 2]> = lat
        .iter()
        .zip(lon)
        .map(|(y, x)| [y.to_radians(), x.to_radians()])
        .collect();
    let dist = |i: usize, j: usize| {
        let (a, b) = (rad[i], rad[j]);
        2.0 * haversine_rdist(a[0], a[1], b[0], b[1]).sqrt().asin()
    };
    let xyz = lon
        .par_iter()
        .zip(lat)
        .map(|(&x, &y)| unit_vector(x, y))
        .collect();
    run(xyz, dist, params)
}

fn validate(params: &HdbscanParams) -> Result<(), AnalysisError> {
    if params.min_cluster_size < 2 {
        return Err(AnalysisError::param(
            "min_cluster_size",
            format!("must be at least 2, got {}", params.min_cluster_size),
        ));
    }
    if params.min_samples == Some(0) {
        return Err(AnalysisError::param("min_samples", "must be at least 1"));
    }
    Ok(())
}

/// The pipeline over points in the tree's space (`pts`, whose squared
/// Euclidean distances are monotone in `dist`), with `dist(i, j)` the exact
/// metric on input indices.
fn run<const D: usize>(
    pts: Vec<[f64; D]>,
    dist: impl Fn(usize, usize) -> f64 + Sync,
    params: &HdbscanParams,
) -> Result<Hdbscan, AnalysisError> {
    let n = pts.len();
    if n < 2 {
        return Ok(Hdbscan {
            labels: vec![-1; n],
            probabilities: vec![0.0; n],
        });
    }
    if n >= u32::MAX as usize {
        return Err(AnalysisError::param("points", format!("{n} is too many")));
    }
    let m = params
        .min_samples
        .unwrap_or(params.min_cluster_size)
        .min(n - 1)
        .max(1);
    let tree = KdTree::new(&pts);
    crate::cancel::check()?;
    let (core, core2) = core_distances(&tree, m, &dist);
    crate::cancel::check()?;
    let edges = mst::boruvka(&tree, &core2)?;
    // Back to input indices, weighed with the exact metric.
    let mut edges: Vec<(f64, u32, u32)> = edges
        .into_par_iter()
        .map(|(p, q)| {
            let (i, j) = (tree.index[p as usize], tree.index[q as usize]);
            let w = core[i as usize]
                .max(core[j as usize])
                .max(dist(i as usize, j as usize));
            (w, i.min(j), i.max(j))
        })
        .collect();
    edges.par_sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    crate::cancel::check()?;
    Ok(tree::labels(n, &edges, params.min_cluster_size))
}

/// Core distances by input index in the exact metric, and by tree position in
/// the tree's squared space (for the spanning tree's search).
///
/// The tree finds the `m + 1` nearest points (the point itself first); the
/// exact metric then ranks every point within a hair of the last of them, so
/// that the result is the exact k-th distance even where the tree's space and
/// the metric round differently.
fn core_distances<const D: usize>(
    tree: &KdTree<D>,
    m: usize,
    dist: &(impl Fn(usize, usize) -> f64 + Sync),
) -> (Vec<f64>, Vec<f64>) {
    let by_position: Vec<(f64, f64)> = (0..tree.pts.len())
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(knn, exact), p| {
                tree.knn(&tree.pts[p], m + 1, knn);
                let r2 = knn.last().map_or(0.0, |e| e.0);
                let i = tree.index[p] as usize;
                exact.clear();
                tree.within(&tree.pts[p], r2 * (1.0 + 1e-9) + 1e-300, |q| {
                    exact.push(dist(i, tree.index[q] as usize));
                });
                exact.sort_by(f64::total_cmp);
                // The point itself is among them (distance 0), so index m is
                // the m-th other point.
                (exact[m.min(exact.len() - 1)], r2)
            },
        )
        .collect();
    let mut core = vec![0.0; tree.pts.len()];
    for (p, &(c, _)) in by_position.iter().enumerate() {
        core[tree.index[p] as usize] = c;
    }
    (core, by_position.into_iter().map(|(_, r2)| r2).collect())
}
