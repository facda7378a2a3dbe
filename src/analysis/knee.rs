//! The DBSCAN radius chosen from the data: the knee of the sorted k-distance
//! curve (Ester et al. 1996, section 4.2), found with Kneedle (Satopää et al.
//! 2011).
//!
//! Each point's k-distance is the great-circle distance to its k-th nearest
//! point, the point itself counted (k = `min_points`), so a point is a DBSCAN
//! core point exactly when its k-distance is at most eps. Sorted ascending, the
//! k-distances of clustered points rise slowly and those of scattered points
//! steeply; the knee between the two is the radius that makes the clustered
//! points core and leaves the rest as noise.
//!
//! Kneedle, offline form: scale the curve's index and values to [0, 1] and take
//! the point where the curve lies furthest below the chord from its first to
//! its last point (the maximum of `x - y`), the knee of a convex increasing
//! curve. On large layers the curve is the k-distances of a seeded sample of
//! [`SAMPLE`] points (to all points, not within the sample), so the choice is
//! fast, deterministic, and reproducible from the recorded parameters.
//!
//! **The chaining check** ([`choose_eps`]). The knee separates points in
//! dense places from scattered ones; it does not keep dense places apart.
//! Where towns are joined by a continuum of events along roads, DBSCAN at
//! the knee chains them into one cluster holding most of the layer (on the
//! 1,000,000-incident demo, 890,170 events in one cluster). Following the
//! advice of Schubert et al. (2017, "DBSCAN revisited, revisited", section
//! 4.4: a cluster holding a large share of the data, 20 to 50 %, means eps is
//! too large), when one cluster at the knee holds more than [`MAX_SHARE`]
//! of all points, the radius is searched below the knee, on the same sorted
//! curve: the largest radius, to within [`SEARCH_RATIO`] (10 %), at which no cluster
//! holds more than that share (bisection on the curve's ranks between its
//! first point and the knee). When not even the curve's smallest radius
//! passes (most points stacked on one coordinate), the knee stays. Every step
//! is recorded, so the radius can be checked and reproduced.

use super::dbscan::{dbscan_unit, unit_vectors, Clustering, EARTH_RADIUS_M};
use super::kdtree::KdTree;
use super::AnalysisError;
use crate::rng::SplitMix64;
use rayon::prelude::*;

/// Most points whose k-distances make the curve.
pub const SAMPLE: usize = 20_000;

/// Seed of the sample (recorded in the product with the method).
pub const SEED: u64 = 0x6b6e_6565;

/// Smallest radius returned, metres: when most points share their position
/// with k others the knee lies at 0, which is no DBSCAN radius.
pub const MIN_EPS_M: f64 = 1.0;

/// Most of all points one cluster may hold at a radius chosen from the data
/// (see the module documentation).
pub const MAX_SHARE: f64 = 0.25;

/// The chaining search stops when the radius that passes and the one that
/// fails are within this ratio.
pub const SEARCH_RATIO: f64 = 1.1;

/// The radius chosen and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KneeEps {
    /// The radius, metres: the knee's, or the one the chaining check found.
    pub eps_m: f64,
    /// The knee's radius, metres.
    pub knee_m: f64,
    /// The k of the k-distances (DBSCAN's `min_points`).
    pub k: usize,
    /// How many points made the curve.
    pub sample: usize,
    /// Rank of the knee on the sorted curve (0-based), out of `sample`.
    pub rank: usize,
    /// The chaining check, when it ran ([`choose_eps`]).
    pub chaining: Option<Chaining>,
}

/// The chaining check of [`choose_eps`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chaining {
    /// Share of all points in the largest cluster at the knee.
    pub knee_share: f64,
    /// Share of all points in the largest cluster at the radius kept.
    pub share: f64,
    /// Rank on the sorted curve of the radius kept (the knee's when none
    /// below it passes).
    pub rank: usize,
    /// DBSCAN runs of the search (the knee's included).
    pub runs: usize,
    /// Whether a radius below the knee passed.
    pub found: bool,
}

/// Chooses DBSCAN's eps for `min_points` from the knee of the k-distance
/// curve of the points (see the module documentation).
///
/// Errors when there are fewer than `min_points + 1` points (no curve to
/// read), or `min_points` is 0.
pub fn knee_eps(lon: &[f64], lat: &[f64], min_points: usize) -> Result<KneeEps, AnalysisError> {
    knee_curve(lon, lat, min_points).map(|(k, ..)| k)
}

/// The radius from the knee with the chaining check (see the module
/// documentation), and the DBSCAN clustering at that radius.
///
/// Errors as [`knee_eps`].
pub fn choose_eps(
    lon: &[f64],
    lat: &[f64],
    min_points: usize,
) -> Result<(KneeEps, Clustering), AnalysisError> {
    let (mut knee, curve, xyz) = knee_curve(lon, lat, min_points)?;
    // The points were checked and made unit vectors once, for every run.
    let dbscan = |eps_m: f64| dbscan_unit(lon, lat, &xyz, eps_m, min_points);
    let n = lon.len() as f64;
    let share = |c: &Clustering| {
        let mut sizes = vec![0usize; c.cluster_count()];
        for &l in &c.labels {
            if let Ok(l) = usize::try_from(l) {
                sizes[l] += 1;
            }
        }
        sizes.into_iter().max().unwrap_or(0) as f64 / n
    };
    let radius = |rank: usize| curve[rank].max(MIN_EPS_M);
    let at_knee = dbscan(knee.eps_m)?;
    let knee_share = share(&at_knee);
    if knee_share <= MAX_SHARE {
        return Ok((knee, at_knee));
    }
    // Bisection on ranks: `hi` fails; `lo` passes once a run showed it (the
    // curve's first point is tried last, only if nothing above it passed).
    let (mut lo, mut hi) = (0, knee.rank);
    let mut runs = 1;
    let mut best: Option<(Clustering, f64)> = None;
    while hi > lo + 1 && radius(hi) > SEARCH_RATIO * radius(lo) {
        crate::cancel::check()?;
        let mid = lo + (hi - lo) / 2;
        let c = dbscan(radius(mid))?;
        runs += 1;
        let s = share(&c);
        if s <= MAX_SHARE {
            (lo, best) = (mid, Some((c, s)));
        } else {
            hi = mid;
        }
    }
    if best.is_none() && radius(lo) < knee.eps_m {
        let c = dbscan(radius(lo))?;
        runs += 1;
        let s = share(&c);
        if s <= MAX_SHARE {
            best = Some((c, s));
        }
    }
    let found = best.is_some();
    let (best, best_share) = match best {
        Some(b) => {
            knee.eps_m = radius(lo);
            b
        }
        None => {
            lo = knee.rank;
            (at_knee, knee_share)
        }
    };
    knee.chaining = Some(Chaining {
        knee_share,
        share: best_share,
        rank: lo,
        runs,
        found,
    });
    Ok((knee, best))
}

/// The knee, the sorted sampled k-distance curve it was read from, and the
/// points' unit vectors.
type KneeCurve = (KneeEps, Vec<f64>, Vec<[f64; 3]>);

/// The [`KneeCurve`] of the points.
fn knee_curve(lon: &[f64], lat: &[f64], min_points: usize) -> Result<KneeCurve, AnalysisError> {
    super::dbscan::validate(lon, lat, 1.0, min_points)?;
    let n = lon.len();
    if n <= min_points {
        return Err(AnalysisError::param(
            "eps_m",
            format!(
                "cannot be chosen from {n} events with min_points {min_points}: give it, or use more events"
            ),
        ));
    }
    let xyz = unit_vectors(lon, lat);
    let tree = KdTree::new(&xyz);
    crate::cancel::check()?;
    let sample = sample(n, SAMPLE, SEED);
    let mut kdist: Vec<f64> = sample
        .par_iter()
        .map_init(Vec::new, |out, &i| {
            tree.knn(&xyz[i], min_points, out);
            let chord = out.last().map_or(0.0, |e| e.0.sqrt());
            2.0 * (0.5 * chord).min(1.0).asin() * EARTH_RADIUS_M
        })
        .collect();
    crate::cancel::check()?;
    kdist.sort_by(f64::total_cmp);
    let rank = kneedle(&kdist);
    // The knee's own distance, or the first positive one after it.
    let eps_m = kdist[rank..]
        .iter()
        .copied()
        .find(|&d| d >= MIN_EPS_M)
        .unwrap_or(MIN_EPS_M);
    Ok((
        KneeEps {
            eps_m,
            knee_m: eps_m,
            k: min_points,
            sample: kdist.len(),
            rank,
            chaining: None,
        },
        kdist,
        xyz,
    ))
}

/// Index of the knee of an ascending curve: the maximum of `x - y` with both
/// scaled to [0, 1] (the first one on ties); 0 for a flat or one-point curve.
pub(crate) fn kneedle(y: &[f64]) -> usize {
    let (Some(&first), Some(&last)) = (y.first(), y.last()) else {
        return 0;
    };
    if y.len() < 3 || last <= first {
        return 0;
    }
    let span = last - first;
    let step = 1.0 / (y.len() - 1) as f64;
    let mut best = (f64::NEG_INFINITY, 0);
    for (i, &v) in y.iter().enumerate() {
        let d = i as f64 * step - (v - first) / span;
        if d > best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// `m` distinct indices below `n`, ascending (all of them when `n <= m`),
/// from a seeded partial Fisher-Yates shuffle.
fn sample(n: usize, m: usize, seed: u64) -> Vec<usize> {
    if n <= m {
        return (0..n).collect();
    }
    let mut rng = SplitMix64::new(seed);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..m {
        let j = i + (rng.next_u64() % (n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx.sort_unstable();
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dbscan::tests::{blobs, Rng};
    use crate::analysis::dbscan::{dbscan, haversine_rdist};

    #[test]
    fn kneedle_finds_the_corner_of_a_hockey_stick() {
        // Flat at 1 for 80 points, then rising steeply: the corner is at 79.
        let y: Vec<f64> = (0..100)
            .map(|i| {
                if i < 80 {
                    1.0
                } else {
                    1.0 + (i - 79) as f64 * 10.0
                }
            })
            .collect();
        assert_eq!(kneedle(&y), 79);
        assert_eq!(kneedle(&[2.0; 10]), 0, "flat");
        assert_eq!(kneedle(&[]), 0);
        assert_eq!(kneedle(&[1.0, 5.0]), 0);
        // A straight line has no knee: every point ties at 0, the first wins.
        let line: Vec<f64> = (0..50).map(f64::from).collect();
        assert_eq!(kneedle(&line), 0);
    }

    #[test]
    fn k_distances_are_the_brute_force_ones() {
        let (lon, lat) = blobs(21, 800, 20.0, 5.0);
        let k = 6;
        let got = knee_eps(&lon, &lat, k).expect("valid input");
        let mut kdist: Vec<f64> = (0..lon.len())
            .map(|i| {
                let mut d: Vec<f64> = (0..lon.len())
                    .map(|j| {
                        let r = haversine_rdist(
                            lat[i].to_radians(),
                            lon[i].to_radians(),
                            lat[j].to_radians(),
                            lon[j].to_radians(),
                        );
                        2.0 * r.sqrt().asin() * EARTH_RADIUS_M
                    })
                    .collect();
                d.sort_by(f64::total_cmp);
                d[k - 1]
            })
            .collect();
        kdist.sort_by(f64::total_cmp);
        assert_eq!(got.sample, 800);
        assert_eq!(got.rank, kneedle(&kdist));
        let want = kdist[got.rank..]
            .iter()
            .copied()
            .find(|&d| d >= MIN_EPS_M)
            .expect("positive");
        assert!((got.eps_m - want).abs() < 1e-6 * want, "{got:?} vs {want}");
    }

    #[test]
    fn the_knee_separates_blobs_from_scattered_noise() {
        // 10 tight groups of 300 (sigma ~ 200 m) over uniform noise at one
        // point per ~100 km2: the radius clusters the groups, not the noise.
        let mut r = Rng(8);
        let (mut lon, mut lat) = (vec![], vec![]);
        for g in 0..10 {
            let (cx, cy) = (20.0 + g as f64 * 0.3, 6.0 + (g % 3) as f64 * 0.4);
            for _ in 0..300 {
                lon.push(cx + 0.002 * r.normal());
                lat.push(cy + 0.002 * r.normal());
            }
        }
        for _ in 0..500 {
            lon.push(r.uniform(19.0, 24.0));
            lat.push(r.uniform(5.0, 8.0));
        }
        let k = knee_eps(&lon, &lat, 5).expect("valid input");
        assert!(k.eps_m > 100.0 && k.eps_m < 5_000.0, "{k:?}");
        let c = dbscan(&lon, &lat, k.eps_m, 5).expect("valid input");
        assert!(
            (10..=14).contains(&c.cluster_count()),
            "{} clusters",
            c.cluster_count()
        );
        let clustered_noise = c.labels[3000..].iter().filter(|&&l| l >= 0).count();
        assert!(
            clustered_noise < 50,
            "{clustered_noise} scattered points clustered"
        );
    }

    /// Six towns on a line, each joined to the next by a road along which
    /// events are as dense as the knee's radius, and scattered events: at
    /// the knee the roads chain the towns into one cluster; the chaining
    /// check lowers the radius until each town is its own cluster.
    #[test]
    fn chained_towns_are_not_one_giant_cluster() {
        let mut r = Rng(31);
        let (mut lon, mut lat) = (vec![], vec![]);
        let towns: Vec<(f64, f64)> = (0..6).map(|t| (20.0 + 0.3 * t as f64, 6.0)).collect();
        for &(x, y) in &towns {
            for _ in 0..400 {
                lon.push(x + 0.01 * r.normal());
                lat.push(y + 0.01 * r.normal());
            }
        }
        for w in towns.windows(2) {
            for _ in 0..300 {
                let t = r.uniform(0.0, 1.0);
                lon.push(w[0].0 + t * (w[1].0 - w[0].0) + 0.002 * r.normal());
                lat.push(w[0].1 + 0.002 * r.normal());
            }
        }
        for _ in 0..500 {
            lon.push(r.uniform(19.5, 22.0));
            lat.push(r.uniform(5.5, 6.5));
        }
        let n = lon.len();
        let k = crate::analysis::cluster_layer::MinPoints::Auto.resolve(n);
        assert_eq!(k, 8);
        let largest = |c: &Clustering| {
            let mut sizes = vec![0usize; c.cluster_count()];
            for &l in c.labels.iter().filter(|&&l| l >= 0) {
                sizes[l as usize] += 1;
            }
            sizes.sort_unstable_by(|a, b| b.cmp(a));
            sizes
        };
        let (eps, c) = choose_eps(&lon, &lat, k).expect("valid input");
        // The knee alone chains the towns: the case the check is for.
        let at_knee = dbscan(&lon, &lat, eps.knee_m, k).expect("valid input");
        assert!(
            largest(&at_knee)[0] > n / 2,
            "the knee ({} m) does not chain the towns: {:?}",
            eps.knee_m,
            &largest(&at_knee)[..3]
        );
        let chaining = eps.chaining.expect("the check ran");
        assert!(chaining.found && chaining.knee_share > 0.5, "{eps:?}");
        assert!(eps.eps_m < eps.knee_m);
        let sizes = largest(&c);
        assert!(sizes[0] as f64 <= MAX_SHARE * n as f64, "{sizes:?}");
        assert_eq!(chaining.share, sizes[0] as f64 / n as f64);
        // Every town is found, each in a cluster of its own.
        assert!(
            sizes.iter().filter(|&&s| s >= 200).count() >= 6,
            "{sizes:?}"
        );
        let town_label = |t: usize| {
            let mut labels: Vec<i32> = c.labels[t * 400..(t + 1) * 400].to_vec();
            labels.sort_unstable();
            labels[200]
        };
        let mut majority: Vec<i32> = (0..6).map(town_label).collect();
        assert!(majority.iter().all(|&l| l >= 0), "{majority:?}");
        majority.dedup();
        assert_eq!(majority.len(), 6, "towns share a cluster: {majority:?}");
        // The clustering returned is DBSCAN's at the radius reported.
        assert_eq!(c, dbscan(&lon, &lat, eps.eps_m, k).expect("valid input"));
        // A layer without chaining keeps the knee and runs no search.
        let (blobs_lon, blobs_lat) = blobs(21, 800, 20.0, 5.0);
        let (plain, _) = choose_eps(&blobs_lon, &blobs_lat, 6).expect("valid input");
        assert_eq!(plain.chaining, None);
        assert_eq!(plain.eps_m, plain.knee_m);
    }

    #[test]
    fn sampling_is_seeded_and_bounded() {
        let s = sample(100_000, 1000, SEED);
        assert_eq!(s.len(), 1000);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s, sample(100_000, 1000, SEED));
        assert_ne!(s, sample(100_000, 1000, SEED + 1));
        assert_eq!(sample(5, 10, SEED), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn too_few_points_or_all_in_one_place() {
        let msg = knee_eps(&[1.0, 2.0], &[1.0, 2.0], 5)
            .expect_err("too few")
            .to_string();
        assert!(msg.contains("cannot be chosen from 2 events"), "{msg}");
        // Every point at one position: every k-distance is 0, the floor applies.
        let k = knee_eps(&[10.0; 50], &[5.0; 50], 5).expect("valid input");
        assert_eq!(k.eps_m, MIN_EPS_M);
        assert!(knee_eps(&[1.0], &[f64::NAN], 1).is_err());
    }
}
