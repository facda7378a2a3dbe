//! DBSCAN on lon/lat points with great-circle distances in metres.
//!
//! Files: this one (parameters, checks, the entry point), `sphere.rs` (the
//! eps test on unit vectors and scikit-learn's haversine), `cells.rs` (grid
//! DBSCAN over cubes surely within eps), `label.rs` (core, border and noise
//! over any neighbour relation, pair by pair, and scikit-learn's numbering),
//! `union_find.rs` (the lock-free union-find), `tests.rs`; the grid of cells
//! is the shared [`spatial_hash`](crate::analysis::spatial_hash).
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
//! poles. Pairs whose chord lies within a hair of the threshold are decided
//! with scikit-learn's own haversine formula, so boundary cases fall the same
//! way (`sphere.rs`). The vectors are sorted into a grid of cubes whose
//! diagonal is surely within eps (`cells.rs`, grid DBSCAN after Gunawan 2013):
//! any two points of a cube are neighbours, so a cube of at least `min_points`
//! points is wholly core without a distance test, a cube's core points are
//! one connected set, and two cubes are linked by the first pair of core
//! points found within eps (not searched when the union-find already joins
//! them). Parallel passes over the cubes keep memory O(n), about 100 bytes a
//! point (no neighbour lists are stored): count neighbours (stopping at
//! `min_points`), link cubes in a lock-free union-find, attach border points.
//! Time grows mostly with the number of points and occupied cubes rather
//! than with neighbour pairs: thousands of events at one coordinate make one
//! cube, wholly core, with no test at all. For an eps of micrometres, where no cube is
//! surely inside, `label.rs` runs the pair-by-pair test over cubes one chord
//! wide instead (ST-DBSCAN uses that path too).

mod cells;
mod label;
mod sphere;
mod union_find;

#[cfg(test)]
pub(crate) mod tests;

pub(crate) use crate::analysis::spatial_hash::Grid;
pub(crate) use label::{cluster, Neighbours};
pub(crate) use sphere::{by_position, haversine_rdist, rdist_degrees, unit_vector, EpsTest};

use crate::analysis::AnalysisError;
use cells::Cubes;
use sphere::SphereIndex;

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
    dbscan_unit(lon, lat, &unit_vectors(lon, lat), eps_m, min_points)
}

/// [`dbscan`] on points already checked by [`validate`] (at any eps), with
/// their [`unit_vectors`]: for several runs over the same points.
pub(crate) fn dbscan_unit(
    lon: &[f64],
    lat: &[f64],
    xyz: &[[f64; 3]],
    eps_m: f64,
    min_points: usize,
) -> Result<Clustering, AnalysisError> {
    validate(&[], &[], eps_m, min_points)?;
    let eps = EpsTest::new(eps_m);
    let clustering = match Cubes::new(&eps) {
        Some(cubes) => cells::cluster(lon, lat, xyz, eps, cubes, min_points),
        // An eps of micrometres: the pair-by-pair test over cubes one eps wide.
        None => cluster(&SphereIndex::new(lon, lat, eps_m), min_points),
    };
    crate::cancel::check()?;
    Ok(clustering)
}

/// The unit vectors of lon/lat points in degrees, in parallel.
pub(crate) fn unit_vectors(lon: &[f64], lat: &[f64]) -> Vec<[f64; 3]> {
    use rayon::prelude::*;
    lon.par_iter()
        .zip(lat)
        .map(|(&x, &y)| unit_vector(x, y))
        .collect()
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
