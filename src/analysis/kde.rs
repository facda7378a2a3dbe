//! Kernel density estimation of weighted point events at given locations
//! (usually grid cell centres), in projected metres.
//!
//! **Units**: the output is a density per square kilometre of the event
//! weights, `1e6 * sum_i w_i K(d_i)` with `K` in 1/m2. With unit weights it
//! reads "events per km2"; integrated over the plane it gives back the total
//! weight (it is *not* divided by the number of events, unlike statistical
//! KDE libraries such as scikit-learn, whose `score_samples` is
//! `ln(sum_i w_i K(d_i) / sum_i w_i)`).
//!
//! **Kernels** (`h` = bandwidth, `d` = distance):
//! - [`Kernel::Quartic`] (biweight), `K(d) = 3 / (pi h^2) (1 - d^2/h^2)^2` for
//!   `d < h`, 0 beyond: ArcGIS Kernel Density's kernel (Silverman 1986,
//!   eq. 4.5), normalised to integrate to 1. QGIS's Heatmap uses the same
//!   shape but its "scaled" output multiplies it by `116 / (5 pi h^2) * 15/16`
//!   (about 7.3 times ours) and its default "raw" output by 1: QGIS surfaces
//!   differ from ours by a constant factor, not in shape.
//! - [`Kernel::Gaussian`], `K(d) = 1 / (2 pi h^2) exp(-d^2 / (2 h^2))`, the
//!   2-D normal with standard deviation `h` per axis. It is truncated at
//!   [`GAUSSIAN_CUTOFF`] bandwidths: each left-out event contributes less
//!   than `exp(-32) = 1.3e-14` of its kernel's peak, so the absolute error is
//!   below `1.3e-14 * W * K(0)` (`W` the total weight), under 1e-9 relative
//!   wherever the density is at least 1.3e-5 of `W * K(0)`.
//!
//! **Algorithm**: events are bucketed on a square grid of half the kernel's
//! support radius; each output location sums the events of the buckets its
//! support disk overlaps, bucket by bucket (row-major), each bucket in event
//! order. Locations are processed in parallel, each one's sum in that fixed
//! order, so results are identical whatever the thread count.

use crate::analysis::spatial_hash::Grid;
use rayon::prelude::*;

use super::AnalysisError;

/// Gaussian kernels are truncated at this many bandwidths.
pub const GAUSSIAN_CUTOFF: f64 = 8.0;

/// Kernel function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kernel {
    /// Quartic (biweight) with support radius = bandwidth, as ArcGIS and
    /// QGIS heat maps use.
    Quartic,
    /// Gaussian with standard deviation = bandwidth.
    Gaussian,
}

impl Kernel {
    /// Radius beyond which the kernel is zero (or truncated), metres.
    pub fn support_radius(self, bandwidth_m: f64) -> f64 {
        match self {
            Kernel::Quartic => bandwidth_m,
            Kernel::Gaussian => GAUSSIAN_CUTOFF * bandwidth_m,
        }
    }
}

/// ArcGIS Kernel Density's default search radius (ArcGIS 10.2.1 and later,
/// "How Kernel Density works", Spatial Analyst documentation): a spatial
/// variant of Silverman's rule of thumb, robust to outliers,
///
/// `h = 0.9 * min(SD, sqrt(1 / ln 2) * Dm) * n^-0.2`
///
/// with `SD` the (weighted) standard distance from the (weighted) mean
/// centre, `Dm` the (weighted) median distance to it, and `n` the number of
/// events, or the sum of the weights when weights are given (empty `weights`
/// = all 1). The weighted median is the distance where the cumulative weight,
/// in increasing distance, first exceeds half the total (the average of the
/// two middle distances when it reaches exactly half, as `numpy.median`
/// does for unit weights).
///
/// Errors when there are no events or weights, or when all events are at
/// the same place (no spread to derive a bandwidth from).
pub fn default_bandwidth(xy: &[[f64; 2]], weights: &[f64]) -> Result<f64, AnalysisError> {
    check_points(xy, "xy")?;
    check_weights(weights, xy.len())?;
    let w = |i: usize| weights.get(i).copied().unwrap_or(1.0);
    let total: f64 = (0..xy.len()).map(w).sum();
    if total <= 0.0 {
        return Err(AnalysisError::param(
            "weights",
            "no events, or all weights are zero",
        ));
    }
    let mx = xy.iter().enumerate().map(|(i, p)| w(i) * p[0]).sum::<f64>() / total;
    let my = xy.iter().enumerate().map(|(i, p)| w(i) * p[1]).sum::<f64>() / total;
    let d2: Vec<f64> = xy
        .iter()
        .map(|p| (p[0] - mx).powi(2) + (p[1] - my).powi(2))
        .collect();
    let sd = ((0..xy.len()).map(|i| w(i) * d2[i]).sum::<f64>() / total).sqrt();
    let dm = match unit_median(&d2, weights) {
        Some(dm) => dm,
        None => weighted_median(&d2, &w, total),
    };
    let h = 0.9 * sd.min((1.0 / std::f64::consts::LN_2).sqrt() * dm) * total.powf(-0.2);
    if h > 0.0 && h.is_finite() {
        Ok(h)
    } else {
        Err(AnalysisError::param(
            "bandwidth",
            "events have no spread (all at one place): give a bandwidth",
        ))
    }
}

/// By distance, then index: a total order, so every way of ranking
/// (distance, index) pairs gives the one order a stable sort gives.
fn by_distance(a: &(f64, usize), b: &(f64, usize)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// The median distance of [`default_bandwidth`] when every weight is 1:
/// the cumulative weight at rank `k` is then `k + 1` exactly, so the ranks
/// the weighted median reads are known in advance (`n / 2`, and `n / 2 - 1`
/// when `n` is even) and found by selection rather than a sort. `None` when
/// some weight is not 1.
fn unit_median(d2: &[f64], weights: &[f64]) -> Option<f64> {
    if d2.is_empty() || weights.iter().any(|&w| w != 1.0) {
        return None;
    }
    let mut keyed: Vec<(f64, usize)> = d2.iter().copied().zip(0..).collect();
    let n = keyed.len();
    if n % 2 == 1 {
        // The first rank whose cumulative weight k + 1 exceeds n / 2.
        let (_, at, _) = keyed.select_nth_unstable_by(n / 2, by_distance);
        return Some(at.0.sqrt());
    }
    // Exactly half the weight up to rank n / 2 - 1: the mean with the next.
    let (_, at, rest) = keyed.select_nth_unstable_by(n / 2 - 1, by_distance);
    let at = *at;
    let next = rest
        .iter()
        .min_by(|a, b| by_distance(a, b))
        .map_or(at.0, |b| b.0);
    Some((at.0.sqrt() + next.sqrt()) / 2.0)
}

/// The weighted median distance of [`default_bandwidth`]: in increasing
/// distance (then index), where the cumulative weight first exceeds half
/// the total (the mean with the next distance when it reaches half).
fn weighted_median(d2: &[f64], w: &dyn Fn(usize) -> f64, total: f64) -> f64 {
    let mut keyed: Vec<(f64, usize)> = d2.iter().copied().zip(0..).collect();
    {
        use rayon::prelude::*;
        keyed.par_sort_unstable_by(by_distance);
    }
    let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    let half = total / 2.0;
    let mut cum = 0.0;
    let mut dm = 0.0;
    for (k, &i) in order.iter().enumerate() {
        cum += w(i);
        if cum == half {
            // Exactly half the weight below: average with the next distance.
            let next = order[k + 1..]
                .iter()
                .find(|&&j| w(j) > 0.0)
                .map_or(d2[i], |&j| d2[j]);
            dm = (d2[i].sqrt() + next.sqrt()) / 2.0;
            break;
        }
        if cum > half {
            dm = d2[i].sqrt();
            break;
        }
    }
    dm
}

/// Kernel density of the events `points_xy` (projected metres) with
/// `weights` (empty = all 1; otherwise one finite, non-negative weight per
/// event) at the locations `at`, in weight per km2 (see the module docs).
/// Locations farther than the kernel's support from every event get 0.
pub fn kde(
    points_xy: &[[f64; 2]],
    weights: &[f64],
    at: &[[f64; 2]],
    kernel: Kernel,
    bandwidth_m: f64,
) -> Result<Vec<f64>, AnalysisError> {
    check_points(points_xy, "points_xy")?;
    check_points(at, "at")?;
    check_weights(weights, points_xy.len())?;
    if !(bandwidth_m.is_finite() && bandwidth_m > 0.0) {
        return Err(AnalysisError::param(
            "bandwidth",
            format!("bandwidth {bandwidth_m} m must be a positive number"),
        ));
    }
    if points_xy.is_empty() {
        return Ok(vec![0.0; at.len()]);
    }
    let radius = kernel.support_radius(bandwidth_m);
    let buckets = Buckets::new(points_xy, weights, radius);
    let h2 = bandwidth_m * bandwidth_m;
    let r2 = radius * radius;
    // Per-km2 normalising constants.
    let scale = match kernel {
        Kernel::Quartic => 3.0 / (std::f64::consts::PI * h2) * 1e6,
        Kernel::Gaussian => 1.0 / (2.0 * std::f64::consts::PI * h2) * 1e6,
    };
    let inv_h2 = 1.0 / h2;
    let half_inv_h2 = 0.5 / h2;
    // Workers skip the rest once the request is given up (crate::cancel).
    let stop = crate::cancel::current();
    let out = at
        .par_iter()
        .map(|&p| {
            if stop.stopped() {
                return 0.0;
            }
            let mut sum = 0.0;
            match kernel {
                Kernel::Quartic => buckets.for_each_near(p, radius, |d2, w| {
                    if d2 < r2 {
                        let t = 1.0 - d2 * inv_h2;
                        sum += w * t * t;
                    }
                }),
                Kernel::Gaussian => buckets.for_each_near(p, radius, |d2, w| {
                    if d2 < r2 {
                        sum += w * (-d2 * half_inv_h2).exp();
                    }
                }),
            }
            sum * scale
        })
        .collect();
    crate::cancel::check()?;
    Ok(out)
}

fn check_points(xy: &[[f64; 2]], name: &'static str) -> Result<(), AnalysisError> {
    match xy
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        Some(i) => Err(AnalysisError::param(
            name,
            format!("point {i} has a non-finite coordinate"),
        )),
        None => Ok(()),
    }
}

fn check_weights(weights: &[f64], n: usize) -> Result<(), AnalysisError> {
    if !weights.is_empty() && weights.len() != n {
        return Err(AnalysisError::param(
            "weights",
            format!(
                "{} weights for {n} events (pass none for unit weights)",
                weights.len()
            ),
        ));
    }
    match weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
        Some(i) => Err(AnalysisError::param(
            "weights",
            format!(
                "weight {} of event {i} must be finite and non-negative",
                weights[i]
            ),
        )),
        None => Ok(()),
    }
}

/// Events in the cells of the shared spatial hash
/// ([`Grid`](crate::analysis::spatial_hash::Grid)), half the support radius
/// wide, stored cell by cell (each cell in event order) as (x, y, weight) for
/// cache-friendly scans.
struct Buckets {
    side: f64,
    grid: Grid<2>,
    xyw: Vec<[f64; 3]>,
}

impl Buckets {
    fn new(xy: &[[f64; 2]], weights: &[f64], radius: f64) -> Buckets {
        let side = radius / 2.0;
        let grid = Grid::unlinked(xy.par_iter().map(|p| cell(p, side)).collect());
        let xyw = grid
            .original
            .iter()
            .map(|&i| {
                let p = xy[i as usize];
                [p[0], p[1], weights.get(i as usize).copied().unwrap_or(1.0)]
            })
            .collect();
        Buckets { side, grid, xyw }
    }

    /// Calls `f(squared distance, weight)` for every event in the cells
    /// overlapping the square of half-side `radius` around `p`, in a fixed
    /// order.
    fn for_each_near(&self, p: [f64; 2], radius: f64, mut f: impl FnMut(f64, f64)) {
        let lo = cell(&[p[0] - radius, p[1] - radius], self.side);
        let hi = cell(&[p[0] + radius, p[1] + radius], self.side);
        self.grid.cells_in_box(&lo, &hi, |c| {
            for e in &self.xyw[self.grid.positions(c)] {
                let (dx, dy) = (e[0] - p[0], e[1] - p[1]);
                f(dx * dx + dy * dy, e[2]);
            }
        });
    }
}

/// The key of the cell holding `p` (saturating far outside any real extent).
fn cell(p: &[f64; 2], side: f64) -> [i64; 2] {
    [(p[0] / side).floor() as i64, (p[1] / side).floor() as i64]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Under a cancelled token the density stops with `Cancelled`; under
    /// none (the command line) it is computed.
    #[test]
    fn a_cancelled_request_stops_the_density() {
        let pts: Vec<[f64; 2]> = (0..200).map(|i| [f64::from(i) * 10.0, 0.0]).collect();
        let at: Vec<[f64; 2]> = (0..5_000).map(|i| [f64::from(i), 5.0]).collect();
        let run = || kde(&pts, &[], &at, Kernel::Quartic, 500.0);
        assert_eq!(run().unwrap().len(), at.len());
        let t = crate::cancel::Token::new();
        t.cancel();
        let r = crate::cancel::scope(t, run);
        assert!(matches!(r, Err(AnalysisError::Cancelled(_))), "{r:?}");
    }

    /// The golden file written by tools/reference/kde.py.
    #[derive(serde::Deserialize)]
    struct Golden {
        bandwidth: f64,
        points: Vec<[f64; 2]>,
        weights: Vec<f64>,
        centres: Vec<[f64; 2]>,
        density_unweighted: Vec<f64>,
        density_weighted: Vec<f64>,
        default_bandwidth_unweighted: f64,
        default_bandwidth_weighted: f64,
    }

    fn golden() -> Golden {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/kde_gaussian.json"
        );
        let text = std::fs::read_to_string(path).expect("golden file (run tools/reference/kde.py)");
        serde_json::from_str(&text).expect("golden file parses")
    }

    fn max_rel(ours: &[f64], theirs: &[f64]) -> f64 {
        assert_eq!(ours.len(), theirs.len());
        ours.iter()
            .zip(theirs)
            .map(|(a, b)| ((a - b) / b).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn gaussian_matches_scikit_learn() {
        let g = golden();
        let ours = kde(&g.points, &[], &g.centres, Kernel::Gaussian, g.bandwidth).unwrap();
        let e = max_rel(&ours, &g.density_unweighted);
        println!("unweighted: max relative error {e:.2e}");
        assert!(e < 1e-6, "{e}");
        let ours = kde(
            &g.points,
            &g.weights,
            &g.centres,
            Kernel::Gaussian,
            g.bandwidth,
        )
        .unwrap();
        let e = max_rel(&ours, &g.density_weighted);
        println!("weighted: max relative error {e:.2e}");
        assert!(e < 1e-6, "{e}");
    }

    #[test]
    fn default_bandwidth_matches_numpy() {
        let g = golden();
        let h = default_bandwidth(&g.points, &[]).unwrap();
        assert!(
            (h / g.default_bandwidth_unweighted - 1.0).abs() < 1e-9,
            "{h}"
        );
        let h = default_bandwidth(&g.points, &g.weights).unwrap();
        assert!((h / g.default_bandwidth_weighted - 1.0).abs() < 1e-9, "{h}");
    }

    #[test]
    fn quartic_by_hand() {
        // h = 10 km. At the origin: the event there contributes 1 * 1^2, the
        // one at 5 km (weight 2) 2 * (1 - 0.25)^2 = 1.125, the one at 12 km
        // nothing; times 3 / (pi h^2) per m2, times 1e6 per km2.
        let pts = [[0.0, 0.0], [3_000.0, 4_000.0], [12_000.0, 0.0]];
        let w = [1.0, 2.0, 5.0];
        let d = kde(
            &pts,
            &w,
            &[[0.0, 0.0], [-20_000.0, 0.0]],
            Kernel::Quartic,
            10_000.0,
        )
        .unwrap();
        let expected = 2.125 * 3.0 / (std::f64::consts::PI * 1e8) * 1e6;
        assert!((d[0] - expected).abs() < 1e-15, "{} {expected}", d[0]);
        assert!((d[0] - 0.020_292_255_244_657_7).abs() < 1e-12);
        assert_eq!(d[1], 0.0);
    }

    #[test]
    fn integrates_to_total_weight() {
        // Sum of density x cell area over a fine grid = total weight.
        let pts = [[0.0, 0.0], [700.0, -300.0], [5_000.0, 5_000.0]];
        let w = [1.0, 2.5, 0.5];
        let (c, n) = (100.0, 200);
        let at: Vec<[f64; 2]> = (0..n * n)
            .map(|i| {
                [
                    -8_000.0 + c * ((i % n) as f64 + 0.5),
                    -8_000.0 + c * ((i / n) as f64 + 0.5),
                ]
            })
            .collect();
        for (kernel, h) in [(Kernel::Quartic, 2_000.0), (Kernel::Gaussian, 700.0)] {
            let d = kde(&pts, &w, &at, kernel, h).unwrap();
            let total: f64 = d.iter().sum::<f64>() * (c * c / 1e6);
            assert!((total - 4.0).abs() < 2e-3, "{kernel:?} {total}");
        }
    }

    #[test]
    fn same_result_on_one_thread() {
        let g = golden();
        let at: Vec<[f64; 2]> = g
            .centres
            .iter()
            .map(|p| [p[0] + 123.0, p[1] - 77.0])
            .collect();
        let many = kde(&g.points, &g.weights, &at, Kernel::Quartic, 4_000.0).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool
            .install(|| kde(&g.points, &g.weights, &at, Kernel::Quartic, 4_000.0))
            .unwrap();
        assert_eq!(many, one);
    }

    #[test]
    fn sparse_events_far_apart() {
        // Two events 10 000 km apart with a 10 m kernel: buckets stay few.
        let pts = [[0.0, 0.0], [1e7, 1e7]];
        let d = kde(
            &pts,
            &[],
            &[[0.0, 0.0], [1e7, 1e7], [5e6, 5e6], [-1e9, 0.0]],
            Kernel::Quartic,
            10.0,
        )
        .unwrap();
        let peak = 3.0 / (std::f64::consts::PI * 100.0) * 1e6;
        assert_eq!(d, vec![peak, peak, 0.0, 0.0]);
    }

    #[test]
    fn refuses_bad_input() {
        let p = [[0.0, 0.0], [1.0, 1.0]];
        assert!(kde(&p, &[], &p, Kernel::Quartic, 0.0).is_err());
        assert!(kde(&p, &[], &p, Kernel::Quartic, f64::NAN).is_err());
        assert!(kde(&p, &[1.0], &p, Kernel::Quartic, 1.0).is_err());
        assert!(kde(&p, &[1.0, -1.0], &p, Kernel::Quartic, 1.0).is_err());
        assert!(kde(&[[f64::NAN, 0.0]], &[], &p, Kernel::Quartic, 1.0).is_err());
        assert!(kde(&p, &[], &[[0.0, f64::INFINITY]], Kernel::Quartic, 1.0).is_err());
        assert_eq!(
            kde(&[], &[], &p, Kernel::Gaussian, 1.0).unwrap(),
            vec![0.0, 0.0]
        );
        assert!(default_bandwidth(&[[1.0, 1.0], [1.0, 1.0]], &[]).is_err());
        assert!(default_bandwidth(&[], &[]).is_err());
        assert!(default_bandwidth(&p, &[0.0, 0.0]).is_err());
    }

    #[test]
    fn default_bandwidth_small_case() {
        // Four corners of a 2 km square: mean centre in the middle, every
        // distance sqrt(2) km, so SD = Dm = 1414.2 m and
        // h = 0.9 * 1414.2 * 4^-0.2.
        let p = [
            [0.0, 0.0],
            [2_000.0, 0.0],
            [0.0, 2_000.0],
            [2_000.0, 2_000.0],
        ];
        let h = default_bandwidth(&p, &[]).unwrap();
        let expected = 0.9 * 2f64.sqrt() * 1_000.0 * 4f64.powf(-0.2);
        assert!((h - expected).abs() < 1e-9, "{h} {expected}");
    }

    /// With unit weights the median found by selection equals the one the
    /// sorted cumulative weights give, ties and odd or even counts included.
    #[test]
    fn unit_weights_median_by_selection_equals_the_sorted_one() {
        let mut r = crate::rng::mix64(7);
        for n in [1usize, 2, 3, 4, 5, 10, 11, 1_000, 1_001] {
            for coarse in [false, true] {
                let d2: Vec<f64> = (0..n)
                    .map(|_| {
                        r = crate::rng::mix64(r);
                        // Coarse distances repeat: ties broken by index.
                        if coarse {
                            (r % 5) as f64
                        } else {
                            (r % 1_000_000) as f64 * 0.37
                        }
                    })
                    .collect();
                let ones = vec![1.0; n];
                let sorted = weighted_median(&d2, &|_| 1.0, n as f64);
                assert_eq!(
                    unit_median(&d2, &[]).unwrap().to_bits(),
                    sorted.to_bits(),
                    "{n}"
                );
                assert_eq!(unit_median(&d2, &ones).unwrap().to_bits(), sorted.to_bits());
            }
        }
        assert_eq!(unit_median(&[1.0, 2.0], &[1.0, 2.0]), None);
    }
}
