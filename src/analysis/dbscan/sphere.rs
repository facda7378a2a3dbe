//! The sphere: unit vectors, the eps test on chords with scikit-learn's
//! haversine as the arbiter near the boundary, and the neighbour relation of
//! DBSCAN over a grid of cubes.

use super::label::Neighbours;
use super::EARTH_RADIUS_M;
use crate::analysis::spatial_hash::Grid;
use rayon::prelude::*;

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
    pub(super) inside2: f64,
    /// Squared chords above this are outside for sure.
    pub(super) outside2: f64,
    /// scikit-learn's reduced eps, `sin(eps / 2)^2`, eps in radians.
    rdist_eps: f64,
    /// Side of the grid cubes: above the outer chord by more than the rounding
    /// of the cube coordinates, so that neighbours are in adjacent cubes.
    pub(super) side: f64,
}

/// Rounding allowance for cube coordinates and bounds (unit-sphere units).
pub(super) const CUBE_SLACK: f64 = 1e-14;

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

    /// The neighbours of `v` among the unit vectors `run` of `xyz` (at most
    /// 64): bit `k` is set when `run.start + k` is within eps, `rdist(k)`
    /// giving its [`haversine_rdist`] to `v` for the boundary band.
    #[inline]
    pub(super) fn mask(
        &self,
        v: &[f64; 3],
        xyz: &[Vec<f64>; 3],
        run: std::ops::Range<usize>,
        rdist: impl Fn(usize) -> f64,
    ) -> u64 {
        let [x, y, z] = xyz;
        let [px, py, pz] = *v;
        let (mut inside, mut near) = (0u64, 0u64);
        for (k, ((qx, qy), qz)) in x[run.clone()]
            .iter()
            .zip(&y[run.clone()])
            .zip(&z[run])
            .enumerate()
        {
            let (dx, dy, dz) = (px - qx, py - qy, pz - qz);
            let (i, n) = self.flags(dx * dx + dy * dy + dz * dz, k);
            inside |= i;
            near |= n;
        }
        self.settle(inside, near, rdist)
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
///
/// Not geo's `Haversine`: geo takes the differences of the coordinates in
/// degrees before converting them, and returns metres, so its rounding differs
/// from scikit-learn's in the last bits. Points exactly eps apart (frequent: events
/// geocoded to the same places) would then fall on the other side of the
/// boundary than in scikit-learn, and the golden labels would no longer match.
#[inline]
pub(crate) fn haversine_rdist(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let s0 = (0.5 * (lat1 - lat2)).sin();
    let s1 = (0.5 * (lon1 - lon2)).sin();
    s0 * s0 + lat1.cos() * lat2.cos() * s1 * s1
}

/// Neighbours within eps on the sphere, from a grid of cubes over unit vectors.
pub(super) struct SphereIndex<'a> {
    lon: &'a [f64],
    lat: &'a [f64],
    /// Unit vectors by position, one array per axis (for the distance loop).
    xyz: [Vec<f64>; 3],
    grid: Grid<3>,
    eps: EpsTest,
}

impl<'a> SphereIndex<'a> {
    pub(super) fn new(lon: &'a [f64], lat: &'a [f64], eps_m: f64) -> Self {
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
        let o = &self.grid.original;
        self.eps
            .mask(&at(&self.xyz, p), &self.xyz, start..start + len, |k| {
                rdist_degrees(self.lon, self.lat, o[p] as usize, o[start + k] as usize)
            })
    }
}

/// The unit vector at index `i` of arrays by axis.
#[inline]
pub(super) fn at(xyz: &[Vec<f64>; 3], i: usize) -> [f64; 3] {
    [xyz[0][i], xyz[1][i], xyz[2][i]]
}

/// Unit vectors reordered by position, one array per axis.
pub(crate) fn by_position(original: &[u32], xyz: &[[f64; 3]]) -> [Vec<f64>; 3] {
    [0, 1, 2].map(|a| original.par_iter().map(|&i| xyz[i as usize][a]).collect())
}
