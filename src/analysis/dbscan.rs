//! DBSCAN on lon/lat points with great-circle distances in metres.
//!
//! The result is the one scikit-learn gives for
//! `DBSCAN(eps=eps_m / 6371008.8, min_samples=min_points, metric="haversine",
//! algorithm="ball_tree")` on `np.radians([lat, lon])`, with the same labels,
//! not only the same partition:
//!
//! - a point is **core** when at least `min_points` points, itself included, lie
//!   within `eps_m` (inclusive) on a sphere of radius [`EARTH_RADIUS_M`];
//! - clusters are the connected components of core points (two core points are
//!   linked when they are neighbours);
//! - a non-core point with at least one core neighbour is a **border** point. It
//!   may touch several clusters; like scikit-learn (which grows one cluster at a
//!   time, in index order), it joins the one with the smallest label;
//! - every other point is **noise** (label -1);
//! - clusters are numbered 0, 1, ... in the order of their smallest core point
//!   index, which is scikit-learn's numbering. Labels depend only on the input
//!   order, never on the thread count.
//!
//! How: points become unit vectors in 3-D, so that the eps ball is a chord ball
//! (chord `2 sin(eps / 2R)`), with no special case at the antimeridian or the
//! poles. The vectors are sorted into a grid of cubes one chord wide, so that
//! every neighbour of a point lies in its own or an adjacent cube; pairs whose
//! chord lies within a hair of the threshold are decided with scikit-learn's own
//! haversine formula, so boundary cases fall the same way. Three parallel passes
//! over the cubes keep memory O(n), about 100 bytes a point (no neighbour lists
//! are stored): count neighbours (stopping at `min_points`), link core
//! neighbours in a lock-free union-find, and attach border points. As in any
//! exact DBSCAN, time grows with the number of neighbour pairs: k events at one
//! coordinate cost about k^2 / 2 distance tests.

use crate::analysis::AnalysisError;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

/// Radius of the sphere distances are measured on, in metres (the IUGG mean
/// Earth radius, as in scikit-learn's and most haversine examples).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Largest accepted `eps_m`: half the circumference of that sphere. Beyond it
/// every pair of points is within eps and the chord bound stops being monotonic.
pub const MAX_EPS_M: f64 = std::f64::consts::PI * EARTH_RADIUS_M;

/// The outcome of a density clustering, one entry per input point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clustering {
    /// Cluster label per point: 0, 1, ... in the order of each cluster's
    /// smallest core point index; -1 for noise.
    pub labels: Vec<i32>,
    /// Whether each point is a core point (dense enough to grow a cluster).
    pub core: Vec<bool>,
}

impl Clustering {
    /// Number of clusters (labels run from 0 to this minus one).
    pub fn cluster_count(&self) -> usize {
        self.labels
            .iter()
            .copied()
            .max()
            .map_or(0, |m| usize::try_from(m + 1).unwrap_or(0))
    }

    /// Number of noise points (label -1).
    pub fn noise_count(&self) -> usize {
        self.labels.iter().filter(|&&l| l < 0).count()
    }
}

/// Clusters points with DBSCAN using great-circle distances.
///
/// `lon` and `lat` are WGS 84 degrees (treated as on a sphere of radius
/// [`EARTH_RADIUS_M`]); `eps_m` is the neighbourhood radius in metres
/// (inclusive); `min_points` is the number of points, the point itself
/// included, that make it a core point. See the module documentation for the
/// exact semantics, which are scikit-learn's.
///
/// Errors when the slices differ in length, a coordinate is not finite or out of
/// range, `eps_m` is not in (0, [`MAX_EPS_M`]], or `min_points` is 0.
pub fn dbscan(
    lon: &[f64],
    lat: &[f64],
    eps_m: f64,
    min_points: usize,
) -> Result<Clustering, AnalysisError> {
    validate(lon, lat, eps_m, min_points)?;
    if lon.is_empty() {
        return Ok(Clustering::default());
    }
    let index = SphereIndex::new(lon, lat, eps_m);
    crate::cancel::check()?;
    let clustering = cluster(&index, min_points);
    crate::cancel::check()?;
    Ok(clustering)
}

/// Checks the inputs shared by [`dbscan`] and
/// [`st_dbscan`](crate::analysis::st_dbscan::st_dbscan).
pub(crate) fn validate(
    lon: &[f64],
    lat: &[f64],
    eps_m: f64,
    min_points: usize,
) -> Result<(), AnalysisError> {
    if lat.len() != lon.len() {
        return Err(AnalysisError::param(
            "lat",
            format!("has {} values but lon has {}", lat.len(), lon.len()),
        ));
    }
    if !(eps_m.is_finite() && eps_m > 0.0) {
        return Err(AnalysisError::param(
            "eps_m",
            format!("must be a finite distance in metres above 0, got {eps_m}"),
        ));
    }
    if eps_m > MAX_EPS_M {
        return Err(AnalysisError::param(
            "eps_m",
            format!(
                "must be at most half the Earth's circumference ({MAX_EPS_M:.0} m), got {eps_m}"
            ),
        ));
    }
    if min_points == 0 {
        return Err(AnalysisError::param(
            "min_points",
            "must be at least 1 (the point itself counts)",
        ));
    }
    // Indices are stored as u32 (half the memory of usize), and u32::MAX marks "none".
    if lon.len() >= u32::MAX as usize {
        return Err(AnalysisError::param(
            "lon",
            format!(
                "{} points is more than the supported {}",
                lon.len(),
                u32::MAX - 1
            ),
        ));
    }
    if let Some(i) = lon
        .iter()
        .position(|x| !(x.is_finite() && (-180.0..=180.0).contains(x)))
    {
        return Err(AnalysisError::param(
            "lon",
            format!("point {i}: {} is not a longitude in [-180, 180]", lon[i]),
        ));
    }
    if let Some(i) = lat
        .iter()
        .position(|y| !(y.is_finite() && (-90.0..=90.0).contains(y)))
    {
        return Err(AnalysisError::param(
            "lat",
            format!("point {i}: {} is not a latitude in [-90, 90]", lat[i]),
        ));
    }
    Ok(())
}

/// "No index": no core neighbour, hence noise.
const NONE: u32 = u32::MAX;

/// Points sorted into cells of a regular grid in `D` dimensions. A point's
/// *position* is its rank in that order: cells hold runs of consecutive
/// positions, so neighbours sit close together in memory.
pub(crate) struct Grid<const D: usize> {
    /// Input index by position.
    pub(crate) original: Vec<u32>,
    /// Key of each cell, ascending.
    keys: Vec<[i64; D]>,
    /// Cell `c` holds positions `starts[c]..starts[c + 1]`.
    starts: Vec<u32>,
    /// Cell `c`'s adjacent cells are `adjacent[adjacent_starts[c]..adjacent_starts[c + 1]]`.
    adjacent: Vec<u32>,
    adjacent_starts: Vec<u32>,
}

impl<const D: usize> Grid<D> {
    /// Sorts the points by cell key (then input index, so the order is
    /// deterministic).
    pub(crate) fn new(cell_of_point: Vec<[i64; D]>) -> Self {
        let mut sorted: Vec<([i64; D], u32)> = cell_of_point
            .into_par_iter()
            .enumerate()
            .map(|(i, k)| (k, i as u32))
            .collect();
        sorted.par_sort_unstable();
        let mut keys = Vec::new();
        let mut starts = Vec::new();
        for (p, (k, _)) in sorted.iter().enumerate() {
            if keys.last() != Some(k) {
                keys.push(*k);
                starts.push(p as u32);
            }
        }
        starts.push(sorted.len() as u32);
        let original = sorted.into_iter().map(|(_, i)| i).collect();
        let (adjacent, adjacent_starts) = adjacency(&keys);
        Grid {
            original,
            keys,
            starts,
            adjacent,
            adjacent_starts,
        }
    }

    fn cell_count(&self) -> usize {
        self.keys.len()
    }

    fn positions(&self, c: usize) -> Range<usize> {
        self.starts[c] as usize..self.starts[c + 1] as usize
    }

    /// Cell `c` and the occupied cells whose keys differ from its key by at
    /// most one on every axis.
    fn near(&self, c: usize) -> &[u32] {
        &self.adjacent[self.adjacent_starts[c] as usize..self.adjacent_starts[c + 1] as usize]
    }

    /// The key of cell `c`.
    fn key(&self, c: u32) -> &[i64; D] {
        &self.keys[c as usize]
    }
}

/// For each cell (keys sorted), itself and the occupied cells whose keys differ
/// by at most one on every axis, as a flat list and its offsets. Found once,
/// used by all three passes.
///
/// Cells sharing all but the last coordinate (a *column*) are consecutive in
/// key order, so only the 3^(D-1) neighbouring columns are looked up, once per
/// column, and the cells of each are found by binary search on the last
/// coordinate: few hash lookups even when most cells hold a single point
/// (short ST-DBSCAN time windows).
fn adjacency<const D: usize>(keys: &[[i64; D]]) -> (Vec<u32>, Vec<u32>) {
    let column = |k: &[i64; D]| {
        let mut c = *k;
        c[D - 1] = 0;
        c
    };
    let mut column_starts: Vec<usize> = (0..keys.len())
        .filter(|&c| c == 0 || column(&keys[c]) != column(&keys[c - 1]))
        .collect();
    column_starts.push(keys.len());
    let lookup: FxHashMap<[i64; D], u32> = column_starts[..column_starts.len() - 1]
        .iter()
        .enumerate()
        .map(|(g, &c)| (column(&keys[c]), g as u32))
        .collect();
    let lists: Vec<Vec<u32>> = column_starts
        .par_windows(2)
        .flat_map_iter(|w| {
            let own = column(&keys[w[0]]);
            let mut columns = Vec::with_capacity(3usize.pow(D as u32 - 1));
            for code in 0..3usize.pow(D as u32 - 1) {
                let mut k = own;
                let mut rest = code;
                for axis in k[..D - 1].iter_mut() {
                    *axis += (rest % 3) as i64 - 1;
                    rest /= 3;
                }
                if let Some(&g) = lookup.get(&k) {
                    columns.push(column_starts[g as usize]..column_starts[g as usize + 1]);
                }
            }
            (w[0]..w[1]).map(move |c| {
                let last = keys[c][D - 1];
                let mut near = vec![c as u32];
                for run in &columns {
                    let cells = &keys[run.clone()];
                    let from = cells.partition_point(|k| k[D - 1] < last.saturating_sub(1));
                    for (i, k) in cells[from..].iter().enumerate() {
                        if k[D - 1] > last.saturating_add(1) {
                            break;
                        }
                        let other = run.start + from + i;
                        if other != c {
                            near.push(other as u32);
                        }
                    }
                }
                near
            })
        })
        .collect();
    let mut starts = Vec::with_capacity(lists.len() + 1);
    starts.push(0u32);
    let mut flat = Vec::with_capacity(lists.iter().map(Vec::len).sum());
    for l in lists {
        flat.extend_from_slice(&l);
        starts.push(flat.len() as u32);
    }
    (flat, starts)
}

/// The neighbour relation the clustering runs on, over the positions of a
/// [`Grid`] whose cells are at least as wide as the neighbourhood, so that
/// neighbours are always in the same or adjacent cells. The relation must be
/// symmetric and reflexive (a point is its own neighbour).
pub(crate) trait Neighbours<const D: usize>: Sync {
    /// The grid.
    fn grid(&self) -> &Grid<D>;
    /// False when no point of the cell with this key can be a neighbour of
    /// position `p` (a cheap test on the cell's bounds).
    fn may_reach(&self, p: usize, cell: &[i64; D]) -> bool;
    /// The neighbours of position `p` among positions `start..start + len`
    /// (`len` at most 64): bit `k` is set when `start + k` is one. Answering
    /// for a run at a time keeps the distance loop free of branches.
    fn mask(&self, p: usize, start: usize, len: usize) -> u64;
}

/// Finds the neighbours `q < limit` of position `p` in the cells `near`, run
/// by run: calls `f(start, mask)` as [`Neighbours::mask`] describes, for
/// non-empty masks, until `f` returns false.
#[inline]
fn scan<const D: usize, N: Neighbours<D>>(
    nb: &N,
    p: usize,
    near: &[u32],
    limit: usize,
    mut f: impl FnMut(usize, u64) -> bool,
) {
    let grid = nb.grid();
    for &c in near {
        let range = grid.positions(c as usize);
        let end = range.end.min(limit);
        if range.start >= end || !nb.may_reach(p, grid.key(c)) {
            continue;
        }
        let mut start = range.start;
        while start < end {
            let len = (end - start).min(64);
            let mask = nb.mask(p, start, len);
            if mask != 0 && !f(start, mask) {
                return;
            }
            start += len;
        }
    }
}

/// The positions whose bits are set in `mask`, counting from `start`.
#[inline]
fn positions_in(start: usize, mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let k = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            start + k
        })
    })
}

/// `f(p, near)` for every position, in position order, where `near` are the
/// cells adjacent to p's (found once per cell, reused for all its points).
fn per_point<const D: usize, T: Send>(
    grid: &Grid<D>,
    f: impl Fn(usize, &[u32]) -> T + Sync,
) -> Vec<T> {
    let f = &f;
    (0..grid.cell_count())
        .into_par_iter()
        .flat_map_iter(|c| {
            let near = grid.near(c);
            grid.positions(c).map(move |p| f(p, near))
        })
        .collect()
}

/// Core / border / noise and scikit-learn's labelling over any neighbour relation.
pub(crate) fn cluster<const D: usize, N: Neighbours<D>>(nb: &N, min_points: usize) -> Clustering {
    let grid = nb.grid();
    let orig = &grid.original;
    let n = orig.len();
    let cells = grid.cell_count();

    // Pass 1: core flags. Counting stops at min_points, so dense areas cost
    // about min_points tests per point instead of their whole neighbourhoods.
    let core: Vec<bool> = per_point(grid, |p, near| {
        let mut count = 0usize;
        scan(nb, p, near, n, |_, mask| {
            count += mask.count_ones() as usize;
            count < min_points
        });
        count >= min_points
    });

    // Pass 2: link core neighbours, each pair once (from its larger position,
    // so only earlier cells are searched). The components do not depend on the
    // order the threads ran in.
    let sets = UnionFind::new(n);
    (0..cells).into_par_iter().for_each(|c| {
        let near = grid.near(c);
        for p in grid.positions(c).filter(|&p| core[p]) {
            // p's root, kept at hand: most neighbours are already in its set.
            let mut root = sets.find(p as u32);
            scan(nb, p, near, p, |start, mask| {
                for q in positions_in(start, mask).filter(|&q| core[q]) {
                    let other = sets.find(q as u32);
                    if other != root {
                        sets.union(root, other);
                        root = sets.find(root);
                    }
                }
                true
            });
        }
    });
    let root: Vec<u32> = (0..n)
        .into_par_iter()
        .map(|p| if core[p] { sets.find(p as u32) } else { NONE })
        .collect();
    drop(sets);

    // Each component is known by its smallest input index among core points
    // (kept at its root's position): scikit-learn numbers clusters in that order.
    let mut first = vec![NONE; n];
    for p in 0..n {
        if core[p] {
            let r = root[p] as usize;
            first[r] = first[r].min(orig[p]);
        }
    }

    // Pass 3: a border point joins the adjacent cluster that comes first, the
    // one scikit-learn's in-order expansion reaches first. Non-core points have
    // fewer than min_points neighbours: cheap.
    let attach: Vec<u32> = per_point(grid, |p, near| {
        if core[p] {
            return first[root[p] as usize];
        }
        let mut best = NONE;
        scan(nb, p, near, n, |start, mask| {
            for q in positions_in(start, mask).filter(|&q| core[q]) {
                best = best.min(first[root[q] as usize]);
            }
            true
        });
        best
    });
    drop(root);
    drop(first);

    // Number the clusters in the order of their first input index.
    let mut label_at = vec![-1i32; n];
    for (p, &c) in core.iter().enumerate() {
        if c {
            label_at[attach[p] as usize] = 0;
        }
    }
    for (next, l) in label_at.iter_mut().filter(|l| **l == 0).enumerate() {
        *l = next as i32;
    }
    // Back to input order.
    let mut labels = vec![-1i32; n];
    let mut core_out = vec![false; n];
    for p in 0..n {
        let i = orig[p] as usize;
        core_out[i] = core[p];
        if attach[p] != NONE {
            labels[i] = label_at[attach[p] as usize];
        }
    }
    Clustering {
        labels,
        core: core_out,
    }
}

/// Concurrent union-find on u32 indices. Links always point from a larger root
/// to a smaller one, so parents only ever decrease and the sets do not depend
/// on the order of the unions.
struct UnionFind {
    parent: Vec<AtomicU32>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).map(AtomicU32::new).collect(),
        }
    }

    fn find(&self, mut x: u32) -> u32 {
        loop {
            let p = self.parent[x as usize].load(Ordering::Acquire);
            if p == x {
                return x;
            }
            let g = self.parent[p as usize].load(Ordering::Acquire);
            if g != p {
                // Path halving; losing the race only leaves a longer path.
                let _ = self.parent[x as usize].compare_exchange_weak(
                    p,
                    g,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
            x = g;
        }
    }

    fn union(&self, a: u32, b: u32) {
        let (mut a, mut b) = (a, b);
        loop {
            a = self.find(a);
            b = self.find(b);
            if a == b {
                return;
            }
            let (hi, lo) = if a > b { (a, b) } else { (b, a) };
            // Only a root is linked; if `hi` stopped being one meanwhile, retry.
            if self.parent[hi as usize]
                .compare_exchange(hi, lo, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
            a = hi;
            b = lo;
        }
    }
}

/// Unit vector of a lon/lat position in degrees.
pub(crate) fn unit_vector(lon: f64, lat: f64) -> [f64; 3] {
    let (lon, lat) = (lon.to_radians(), lat.to_radians());
    let (slat, clat) = lat.sin_cos();
    let (slon, clon) = lon.sin_cos();
    [clat * clon, clat * slon, slat]
}

/// The eps test on unit vectors, with scikit-learn's haversine formula as the
/// arbiter near the boundary, and the grid of cubes it runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EpsTest {
    /// Squared chords below this are inside for sure.
    inside2: f64,
    /// Squared chords above this are outside for sure.
    outside2: f64,
    /// scikit-learn's reduced eps, `sin(eps / 2)^2`, eps in radians.
    rdist_eps: f64,
    /// Side of the grid cubes: above the outer chord by more than the rounding
    /// of the cube coordinates, so that neighbours are in adjacent cubes.
    side: f64,
}

/// Rounding allowance for cube coordinates and bounds (unit-sphere units).
const CUBE_SLACK: f64 = 1e-14;

impl EpsTest {
    pub(crate) fn new(eps_m: f64) -> Self {
        // The same operations as the reference script: eps_m / R, then sin(0.5 * eps)^2.
        let eps = eps_m / EARTH_RADIUS_M;
        let s = (0.5 * eps).sin();
        let chord = 2.0 * s;
        // Chords from unit vectors carry errors near 1e-15 (absolute) and the
        // reference's haversine about the same; the band is orders wider.
        let band = 1e-9 * chord + 1e-12;
        let outer = chord + band;
        EpsTest {
            inside2: (chord - band).max(0.0).powi(2),
            outside2: outer * outer,
            rdist_eps: s * s,
            side: outer * (1.0 + 1e-9) + 10.0 * CUBE_SLACK,
        }
    }

    /// The bits of a run of candidates: `(inside, near)` flags for squared
    /// chord `d2` at bit `k`, to be merged with `|=` and settled by [`Self::settle`].
    #[inline]
    pub(crate) fn flags(&self, d2: f64, k: usize) -> (u64, u64) {
        (
            u64::from(d2 <= self.inside2) << k,
            u64::from(d2 <= self.outside2) << k,
        )
    }

    /// The neighbours of a run: those surely inside, plus those in the
    /// boundary band (`near` but not `inside`) for which `rdist(k)` (their
    /// [`haversine_rdist`], rarely needed) is within eps.
    #[inline]
    pub(crate) fn settle(&self, inside: u64, near: u64, rdist: impl Fn(usize) -> f64) -> u64 {
        let mut result = inside;
        let mut band = near & !inside;
        while band != 0 {
            let k = band.trailing_zeros() as usize;
            band &= band - 1;
            if rdist(k) <= self.rdist_eps {
                result |= 1 << k;
            }
        }
        result
    }

    /// The cube holding a unit vector.
    pub(crate) fn cube(&self, v: &[f64; 3]) -> [i64; 3] {
        v.map(|x| ((x + 1.0) / self.side).floor() as i64)
    }

    /// False when no point of the cube `cube` can be within eps of `v`.
    #[inline]
    pub(crate) fn may_reach(&self, v: &[f64; 3], cube: &[i64]) -> bool {
        let mut d2 = 0.0;
        for k in 0..3 {
            let lo = cube[k] as f64 * self.side - 1.0 - CUBE_SLACK;
            let hi = lo + self.side + 2.0 * CUBE_SLACK;
            let d = (lo - v[k]).max(v[k] - hi).max(0.0);
            d2 += d * d;
        }
        d2 <= self.outside2
    }
}

/// [`haversine_rdist`] of points `i` and `j` given in degrees.
pub(crate) fn rdist_degrees(lon: &[f64], lat: &[f64], i: usize, j: usize) -> f64 {
    haversine_rdist(
        lat[i].to_radians(),
        lon[i].to_radians(),
        lat[j].to_radians(),
        lon[j].to_radians(),
    )
}

/// scikit-learn's reduced haversine distance, operation for operation
/// (`sklearn/metrics/_dist_metrics.pyx.tp`), radians.
#[inline]
pub(crate) fn haversine_rdist(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let s0 = (0.5 * (lat1 - lat2)).sin();
    let s1 = (0.5 * (lon1 - lon2)).sin();
    s0 * s0 + lat1.cos() * lat2.cos() * s1 * s1
}

/// Neighbours within eps on the sphere, from a grid of cubes over unit vectors.
struct SphereIndex<'a> {
    lon: &'a [f64],
    lat: &'a [f64],
    /// Unit vectors by position, one array per axis (for the distance loop).
    xyz: [Vec<f64>; 3],
    grid: Grid<3>,
    eps: EpsTest,
}

impl<'a> SphereIndex<'a> {
    fn new(lon: &'a [f64], lat: &'a [f64], eps_m: f64) -> Self {
        let eps = EpsTest::new(eps_m);
        let xyz: Vec<[f64; 3]> = lon
            .par_iter()
            .zip(lat)
            .map(|(&x, &y)| unit_vector(x, y))
            .collect();
        let grid = Grid::new(xyz.par_iter().map(|v| eps.cube(v)).collect());
        let xyz = by_position(&grid.original, &xyz);
        SphereIndex {
            lon,
            lat,
            xyz,
            grid,
            eps,
        }
    }
}

impl Neighbours<3> for SphereIndex<'_> {
    fn grid(&self) -> &Grid<3> {
        &self.grid
    }

    #[inline]
    fn may_reach(&self, p: usize, cell: &[i64; 3]) -> bool {
        self.eps.may_reach(&self.xyz.each_ref().map(|a| a[p]), cell)
    }

    #[inline]
    fn mask(&self, p: usize, start: usize, len: usize) -> u64 {
        let [x, y, z] = &self.xyz;
        let (px, py, pz) = (x[p], y[p], z[p]);
        let run = start..start + len;
        let (mut inside, mut near) = (0u64, 0u64);
        for (k, ((qx, qy), qz)) in x[run.clone()]
            .iter()
            .zip(&y[run.clone()])
            .zip(&z[run])
            .enumerate()
        {
            let (dx, dy, dz) = (px - qx, py - qy, pz - qz);
            let (i, n) = self.eps.flags(dx * dx + dy * dy + dz * dz, k);
            inside |= i;
            near |= n;
        }
        let o = &self.grid.original;
        self.eps.settle(inside, near, |k| {
            rdist_degrees(self.lon, self.lat, o[p] as usize, o[start + k] as usize)
        })
    }
}

/// Unit vectors reordered by position, one array per axis.
pub(crate) fn by_position(original: &[u32], xyz: &[[f64; 3]]) -> [Vec<f64>; 3] {
    [0, 1, 2].map(|a| original.par_iter().map(|&i| xyz[i as usize][a]).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::HashMap;
    use std::path::Path;

    /// Small deterministic PRNG for the generators (splitmix64).
    pub(crate) struct Rng(pub u64);

    impl Rng {
        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
        }
        pub(crate) fn normal(&mut self) -> f64 {
            let u = self.uniform(f64::MIN_POSITIVE, 1.0);
            let v = self.uniform(0.0, std::f64::consts::TAU);
            (-2.0 * u.ln()).sqrt() * v.cos()
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// Gaussian clusters (sigma in degrees) plus uniform noise around (lon0, lat0),
    /// with a few exact duplicates.
    pub(crate) fn blobs(seed: u64, n: usize, lon0: f64, lat0: f64) -> (Vec<f64>, Vec<f64>) {
        let mut r = Rng(seed);
        let centres: Vec<(f64, f64)> = (0..8)
            .map(|_| (lon0 + r.uniform(-1.0, 1.0), lat0 + r.uniform(-0.7, 0.7)))
            .collect();
        let (mut lon, mut lat) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for k in 0..n {
            let (x, y) = if k % 5 == 4 {
                (lon0 + r.uniform(-1.2, 1.2), lat0 + r.uniform(-0.9, 0.9))
            } else if k % 17 == 16 {
                let j = r.below(k);
                (lon[j], lat[j])
            } else {
                let c = centres[r.below(centres.len())];
                (c.0 + 0.05 * r.normal(), c.1 + 0.05 * r.normal())
            };
            lon.push(x);
            lat.push(y);
        }
        (lon, lat)
    }

    /// scikit-learn's algorithm, literally: all-pairs neighbour lists with the
    /// haversine rdist test, then `dbscan_inner`'s depth-first expansion.
    pub(crate) fn brute_force(
        n: usize,
        within: impl Fn(usize, usize) -> bool,
        min_points: usize,
    ) -> Clustering {
        let nbrs: Vec<Vec<usize>> = (0..n)
            .map(|i| (0..n).filter(|&j| within(i, j)).collect())
            .collect();
        let core: Vec<bool> = nbrs.iter().map(|v| v.len() >= min_points).collect();
        let mut labels = vec![-1i32; n];
        let mut next = 0;
        for start in 0..n {
            if labels[start] != -1 || !core[start] {
                continue;
            }
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                if labels[i] == -1 {
                    labels[i] = next;
                    if core[i] {
                        stack.extend(nbrs[i].iter().filter(|&&v| labels[v] == -1));
                    }
                }
            }
            next += 1;
        }
        Clustering { labels, core }
    }

    pub(crate) fn sklearn_within<'a>(
        lon: &'a [f64],
        lat: &'a [f64],
        eps_m: f64,
    ) -> impl Fn(usize, usize) -> bool + 'a {
        let s = (0.5 * (eps_m / EARTH_RADIUS_M)).sin();
        let thr = s * s;
        move |i, j| {
            haversine_rdist(
                lat[i].to_radians(),
                lon[i].to_radians(),
                lat[j].to_radians(),
                lon[j].to_radians(),
            ) <= thr
        }
    }

    /// Labels renumbered by first appearance over the selected points, so that
    /// two labellings of the same partition compare equal.
    pub(crate) fn canonical(labels: &[i32], keep: impl Fn(usize) -> bool) -> Vec<i32> {
        let mut map = HashMap::new();
        (0..labels.len())
            .filter(|&i| keep(i))
            .map(|i| {
                if labels[i] < 0 {
                    -1
                } else {
                    let next = map.len() as i32;
                    *map.entry(labels[i]).or_insert(next)
                }
            })
            .collect()
    }

    /// Asserts the same core set, the same partition of the core points and the
    /// same noise set; returns how many labels differ outright.
    pub(crate) fn assert_equivalent(got: &Clustering, want: &Clustering, what: &str) -> usize {
        assert_eq!(got.labels.len(), want.labels.len(), "{what}: length");
        assert_eq!(got.core, want.core, "{what}: core flags");
        let core = |i: usize| want.core[i];
        assert_eq!(
            canonical(&got.labels, core),
            canonical(&want.labels, core),
            "{what}: core-point partition"
        );
        let noise = |c: &Clustering| -> Vec<usize> {
            (0..c.labels.len()).filter(|&i| c.labels[i] < 0).collect()
        };
        assert_eq!(noise(got), noise(want), "{what}: noise set");
        got.labels
            .iter()
            .zip(&want.labels)
            .filter(|(a, b)| a != b)
            .count()
    }

    #[test]
    fn matches_the_brute_force_reference_exactly() {
        for (seed, eps_m, min_points) in [
            (1, 3000.0, 4),
            (2, 5000.0, 8),
            (3, 1500.0, 2),
            (4, 8000.0, 1),
        ] {
            let (lon, lat) = blobs(seed, 1500, 20.0, 6.0);
            let got = dbscan(&lon, &lat, eps_m, min_points).expect("valid input");
            let want = brute_force(lon.len(), sklearn_within(&lon, &lat, eps_m), min_points);
            assert!(
                want.cluster_count() > 1,
                "seed {seed}: a trivial case tests little"
            );
            assert_eq!(got, want, "seed {seed}, eps {eps_m}, min {min_points}");
        }
    }

    #[test]
    fn boundary_pairs_fall_as_in_the_reference() {
        // Points exactly eps apart along a meridian and a parallel: decided by
        // the haversine formula, not by the chord approximation.
        let eps_m = 1000.0;
        let dlat = (eps_m / EARTH_RADIUS_M).to_degrees();
        let mut lon = vec![];
        let mut lat = vec![];
        for k in 0..40 {
            lon.push(10.0);
            lat.push(k as f64 * dlat);
            lon.push(50.0 + k as f64 * dlat);
            lat.push(0.0);
        }
        let got = dbscan(&lon, &lat, eps_m, 2).expect("valid input");
        let want = brute_force(lon.len(), sklearn_within(&lon, &lat, eps_m), 2);
        assert_eq!(got, want);
    }

    #[test]
    fn two_separated_groups_and_noise() {
        let lon = [30.0, 30.001, 30.002, 31.0, 31.001, 31.002, 35.0];
        let lat = [7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0];
        let c = dbscan(&lon, &lat, 500.0, 3).expect("valid input");
        assert_eq!(c.labels, vec![0, 0, 0, 1, 1, 1, -1]);
        assert_eq!(c.core, vec![true, true, true, true, true, true, false]);
        assert_eq!(c.cluster_count(), 2);
        assert_eq!(c.noise_count(), 1);
        // A chain: the middle point is core, the ends are border points.
        let c = dbscan(&[0.0, 0.004, 0.008], &[0.0; 3], 500.0, 3).expect("valid input");
        assert_eq!(c.labels, vec![0, 0, 0]);
        assert_eq!(c.core, vec![false, true, false]);
    }

    #[test]
    fn empty_input_and_bad_parameters() {
        assert_eq!(
            dbscan(&[], &[], 10.0, 3).expect("empty is fine"),
            Clustering::default()
        );
        let msg = |r: Result<Clustering, AnalysisError>| r.expect_err("must fail").to_string();
        assert!(msg(dbscan(&[0.0], &[], 10.0, 3)).contains("`lat`: has 0 values but lon has 1"));
        assert!(msg(dbscan(&[0.0], &[0.0], 0.0, 3)).contains("`eps_m`"));
        assert!(msg(dbscan(&[0.0], &[0.0], f64::NAN, 3)).contains("`eps_m`"));
        assert!(msg(dbscan(&[0.0], &[0.0], 3e7, 3)).contains("half the Earth"));
        assert!(msg(dbscan(&[0.0], &[0.0], 10.0, 0)).contains("`min_points`"));
        assert!(msg(dbscan(&[0.0, 181.0], &[0.0, 0.0], 10.0, 1)).contains("point 1: 181"));
        assert!(msg(dbscan(&[0.0], &[f64::NAN], 10.0, 1)).contains("`lat`: point 0"));
    }

    #[test]
    fn shifting_longitudes_changes_nothing() {
        // Haversine distances depend on longitude differences only, so a shift
        // in longitude keeps every distance (up to rounding); a shift in latitude
        // would not (parallels converge towards the poles).
        let (lon, lat) = blobs(11, 3000, 20.0, 40.0);
        let base = dbscan(&lon, &lat, 4000.0, 6).expect("valid input");
        for shift in [37.5, -123.25, 155.0] {
            let moved: Vec<f64> = lon
                .iter()
                .map(|x| (x + shift + 180.0).rem_euclid(360.0) - 180.0)
                .collect();
            let c = dbscan(&moved, &lat, 4000.0, 6).expect("valid input");
            assert_eq!(c, base, "shift {shift}");
        }
    }

    #[test]
    fn permuting_the_input_keeps_the_partition() {
        let (lon, lat) = blobs(12, 3000, 30.0, 7.0);
        let base = dbscan(&lon, &lat, 3000.0, 5).expect("valid input");
        let mut perm: Vec<usize> = (0..lon.len()).collect();
        let mut r = Rng(99);
        for i in (1..perm.len()).rev() {
            perm.swap(i, r.below(i + 1));
        }
        let plon: Vec<f64> = perm.iter().map(|&i| lon[i]).collect();
        let plat: Vec<f64> = perm.iter().map(|&i| lat[i]).collect();
        let c = dbscan(&plon, &plat, 3000.0, 5).expect("valid input");
        // Back to the original order, then compare canonically (the numbering
        // and border choices follow the input order).
        let mut back = Clustering {
            labels: vec![0; lon.len()],
            core: vec![false; lon.len()],
        };
        for (k, &i) in perm.iter().enumerate() {
            back.labels[i] = c.labels[k];
            back.core[i] = c.core[k];
        }
        assert_equivalent(&back, &base, "permuted");
        assert_eq!(c.cluster_count(), base.cluster_count());
    }

    #[test]
    fn duplicating_every_point_doubles_every_cluster() {
        let (lon, lat) = blobs(13, 2000, -60.0, -10.0);
        let base = dbscan(&lon, &lat, 3000.0, 4).expect("valid input");
        let lon2 = [lon.clone(), lon.clone()].concat();
        let lat2 = [lat.clone(), lat.clone()].concat();
        let c = dbscan(&lon2, &lat2, 3000.0, 8).expect("valid input");
        // Every neighbour count doubles, so with min_points doubled the cores,
        // clusters and labels stay; each copy carries its original's label.
        assert_eq!(&c.labels[..lon.len()], &base.labels[..]);
        assert_eq!(&c.labels[lon.len()..], &base.labels[..]);
        assert_eq!(&c.core[..lon.len()], &base.core[..]);
        for k in 0..base.cluster_count() as i32 {
            let count = |l: &[i32]| l.iter().filter(|&&x| x == k).count();
            assert_eq!(count(&c.labels), 2 * count(&base.labels));
        }
    }

    #[test]
    fn one_and_two_threads_give_identical_results() {
        let (lon, lat) = blobs(14, 20_000, 30.0, 7.0);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool")
                .install(|| dbscan(&lon, &lat, 2000.0, 10).expect("valid input"))
        };
        let one = run(1);
        assert!(one.cluster_count() > 1);
        assert_eq!(run(2), one);
        assert_eq!(run(4), one);
    }

    #[test]
    fn antimeridian_and_poles() {
        // A group straddling 180 degrees, and a group around the North Pole
        // spread over all longitudes: each is one cluster on the sphere.
        let mut r = Rng(5);
        let (mut lon, mut lat) = (vec![], vec![]);
        for _ in 0..200 {
            let x: f64 = 180.0 + 0.02 * r.normal();
            lon.push(if x > 180.0 { x - 360.0 } else { x });
            lat.push(-17.0 + 0.02 * r.normal());
        }
        for _ in 0..200 {
            lon.push(r.uniform(-180.0, 180.0));
            lat.push(90.0 - 0.02 * r.normal().abs());
        }
        lon.extend([180.0, -180.0, 0.0, 0.0]);
        lat.extend([-89.0, -89.0, 90.0, -90.0]);
        let c = dbscan(&lon, &lat, 5000.0, 5).expect("valid input");
        assert!(lon[..200].iter().any(|&x| x < 0.0) && lon[..200].iter().any(|&x| x > 0.0));
        for (group, label) in [(0..200, 0), (200..400, 1)] {
            let clustered: Vec<i32> = c.labels[group]
                .iter()
                .copied()
                .filter(|&l| l >= 0)
                .collect();
            assert!(
                clustered.len() >= 190,
                "group {label}: {} clustered",
                clustered.len()
            );
            assert!(clustered.iter().all(|&l| l == label), "group {label} split");
        }
        assert_eq!(c.labels[402], 1, "the pole itself joins the polar group");
        assert_eq!(&c.labels[400..402], &[-1, -1]);
        assert_eq!(c.labels[403], -1);
        let want = brute_force(lon.len(), sklearn_within(&lon, &lat, 5000.0), 5);
        assert_eq!(c, want);
        // 180 and -180 are the same meridian.
        let c = dbscan(&[180.0, -180.0], &[-89.0, -89.0], 1.0, 2).expect("valid input");
        assert_eq!(c.labels, vec![0, 0]);
    }

    fn golden(name: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("golden JSON")
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    }

    fn ints(v: &Value) -> Vec<i64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_i64().expect("integer"))
            .collect()
    }

    /// Compares with a golden run and prints the figures for the report.
    fn check_golden(
        lon: &[f64],
        lat: &[f64],
        eps_m: f64,
        m: usize,
        labels: Vec<i32>,
        core: Vec<bool>,
        what: &str,
    ) {
        let want = Clustering { labels, core };
        let got = dbscan(lon, lat, eps_m, m).expect("valid input");
        let differ = assert_equivalent(&got, &want, what);
        assert_eq!(got.cluster_count(), want.cluster_count(), "{what}");
        // Same input order, so even border choices and numbering agree.
        assert_eq!(differ, 0, "{what}: labels differing from scikit-learn's");
        eprintln!(
            "{what}: {} clusters, {} core, {} noise; identical to scikit-learn",
            got.cluster_count(),
            got.core.iter().filter(|&&c| c).count(),
            got.noise_count()
        );
    }

    #[test]
    fn golden_synthetic_matches_scikit_learn() {
        let g = golden("dbscan_synthetic.json");
        let (lon, lat) = (floats(&g["lon"]), floats(&g["lat"]));
        let runs = g["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 3);
        for run in runs {
            let eps_m = run["eps_m"].as_f64().expect("eps_m");
            let m = run["min_samples"].as_u64().expect("min_samples") as usize;
            let labels = ints(&run["labels"]).into_iter().map(|l| l as i32).collect();
            let core = ints(&run["core"]).into_iter().map(|c| c == 1).collect();
            check_golden(
                &lon,
                &lat,
                eps_m,
                m,
                labels,
                core,
                &format!("synthetic eps {eps_m} m, min {m}"),
            );
        }
    }

    /// The UCDP GED events for Central African Republic, from the shared data
    /// folder (never copied into the repository): (id, lon, lat, date_start).
    pub(crate) fn ucdp_events() -> Option<Vec<(i64, f64, f64, String)>> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ucdp-ged-23.1-car.geojson");
        let text = std::fs::read_to_string(path).ok()?;
        let doc: Value = serde_json::from_str(&text).expect("UCDP GeoJSON");
        let events = doc["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| {
                let c = &f["geometry"]["coordinates"];
                (
                    f["properties"]["id"].as_i64().expect("id"),
                    c[0].as_f64().expect("lon"),
                    c[1].as_f64().expect("lat"),
                    f["properties"]["date_start"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        Some(events)
    }

    #[test]
    #[cfg_attr(
        not(jointmap_shared_data),
        ignore = "../shared/data/ucdp-ged-23.1-car.geojson is absent"
    )]
    fn golden_ucdp_matches_scikit_learn() {
        let events = ucdp_events().expect("../shared/data/ucdp-ged-23.1-car.geojson");
        let lon: Vec<f64> = events.iter().map(|e| e.1).collect();
        let lat: Vec<f64> = events.iter().map(|e| e.2).collect();
        let g = golden("dbscan_ucdp_car.json");
        for run in g["runs"].as_array().expect("runs") {
            let eps_m = run["eps_m"].as_f64().expect("eps_m");
            let m = run["min_samples"].as_u64().expect("min_samples") as usize;
            let by_id: HashMap<i64, (i32, bool)> = run["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| {
                    let v = ints(e);
                    (v[0], (v[1] as i32, v[2] == 1))
                })
                .collect();
            assert_eq!(by_id.len(), events.len(), "one golden row per event");
            let (labels, core) = events.iter().map(|e| by_id[&e.0]).unzip();
            check_golden(
                &lon,
                &lat,
                eps_m,
                m,
                labels,
                core,
                &format!("UCDP CAR eps {eps_m} m, min {m}"),
            );
        }
    }
}
