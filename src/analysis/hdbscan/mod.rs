//! HDBSCAN: hierarchical density-based clustering (Campello, Moulavi and
//! Sander 2013), clusters of varying density without a radius.
//!
//! The result is the one the `hdbscan` Python package (McInnes et al.) gives
//! with `HDBSCAN(min_cluster_size, min_samples, approx_min_span_tree=False)`
//! and its defaults otherwise (`alpha` 1, excess-of-mass selection, no single
//! cluster): the same labels up to their numbering, and the same membership
//! probabilities, wherever the package's answer does not depend on the order
//! of its tied edges; where it does, a stated tie rule ([`tree`], and
//! docs/analysis.md "Tied merges"). Steps:
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
//! sphere the tree holds unit vectors and only prunes the searches; every
//! comparison that decides the hierarchy is made on the squared chord from the
//! haversine's own terms (unit vectors' differences cancel, ~1e-12 relative at
//! 50 m, and could order nearly equal distances the other way), and every
//! distance that enters the hierarchy is scikit-learn's haversine, bit for bit.

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
    run(xy.to_vec(), xy, super::kdtree::d2, f64::sqrt, params)
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
    let xyz = lon
        .par_iter()
        .zip(lat)
        .map(|(&x, &y)| unit_vector(x, y))
        .collect();
    // The key is the squared chord (4 sin²(d/2)) from the haversine's own
    // terms, exact where the unit vectors' difference cancels; the distance
    // is scikit-learn's 2 asin(sqrt(sin²(d/2))), bit for bit.
    let key = |a: &[f64; 2], b: &[f64; 2]| 4.0 * haversine_rdist(a[0], a[1], b[0], b[1]);
    let dist = |k: f64| 2.0 * (k / 4.0).sqrt().asin();
    run(xyz, &rad, key, dist, params)
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

/// The pipeline over points in the tree's space (`pts`). `key(a, b)` on the
/// points' `coords` is a number monotone in the distance and computed without
/// the tree's rounding (planar: the squared distance; sphere: the squared
/// chord), `dist(key)` the distance. Every comparison that decides the
/// hierarchy is made on keys, so the spanning tree is minimal in the metric
/// itself, and ties are the metric's ties; the tree's space only prunes, with
/// a margin ([`loose`]).
fn run<const D: usize>(
    pts: Vec<[f64; D]>,
    coords: &[[f64; 2]],
    key: impl Fn(&[f64; 2], &[f64; 2]) -> f64 + Sync,
    dist: impl Fn(f64) -> f64 + Sync,
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
    // Coordinates in the tree's order, for the keys.
    let at: Vec<[f64; 2]> = tree.index.iter().map(|&i| coords[i as usize]).collect();
    let key_at = |p: usize, q: usize| key(&at[p], &at[q]);
    crate::cancel::check()?;
    let core_key = core_keys(&tree, m, &key_at);
    crate::cancel::check()?;
    let edges = mst::boruvka(&tree, &core_key, &key_at)?;
    // Back to input indices, weighed in the metric.
    let mut edges: Vec<(f64, u32, u32)> = edges
        .into_par_iter()
        .map(|(p, q)| {
            let (pu, qu) = (p as usize, q as usize);
            let w = dist(core_key[pu].max(core_key[qu]).max(key_at(pu, qu)));
            let (i, j) = (tree.index[pu], tree.index[qu]);
            (w, i.min(j), i.max(j))
        })
        .collect();
    edges.par_sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    crate::cancel::check()?;
    Ok(tree::labels(n, &edges, params.min_cluster_size))
}

/// A bound in the tree's space widened to cover its rounding against the
/// key: relative 1e-6 and absolute 1e-22 (a unit vector's chord is off by
/// ~1e-15 absolute, so its square by ~2e-15 times the chord).
fn loose(x: f64) -> f64 {
    x * (1.0 + 1e-6) + 1e-22
}

/// Core distances as keys, by tree position: the key of the `m`-th nearest
/// other point.
///
/// The tree finds the `m + 1` nearest points (the point itself first); the
/// keys then rank every point within a margin of the last of them, so that
/// the result is the exact `m`-th key even where the tree's space and the key
/// round differently.
fn core_keys<const D: usize>(
    tree: &KdTree<D>,
    m: usize,
    key_at: &(impl Fn(usize, usize) -> f64 + Sync),
) -> Vec<f64> {
    (0..tree.pts.len())
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(knn, keys), p| {
                tree.knn(&tree.pts[p], m + 1, knn);
                let r2 = knn.last().map_or(0.0, |e| e.0);
                keys.clear();
                tree.within(&tree.pts[p], loose(r2), |q| keys.push(key_at(p, q)));
                keys.sort_by(f64::total_cmp);
                // The point itself is among them (key 0), so index m is the
                // m-th other point.
                keys[m.min(keys.len() - 1)]
            },
        )
        .collect()
}
