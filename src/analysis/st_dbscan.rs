//! ST-DBSCAN: DBSCAN where neighbours must be close in space *and* in time.
//!
//! After Birant & Kut (2007), "ST-DBSCAN: An algorithm for clustering
//! spatial-temporal data", in its commonly implemented form (without the
//! paper's non-spatial value threshold and cluster-average test): two events are
//! neighbours when they lie within `eps_m` metres (great-circle, inclusive, the
//! same test as [`dbscan`](crate::analysis::dbscan::dbscan)) **and** their
//! times differ by at most `eps_seconds` (inclusive). Core, border and noise
//! points, the border choice and the numbering of clusters are those of
//! [`dbscan`](crate::analysis::dbscan::dbscan) (scikit-learn's rules), so a
//! huge `eps_seconds` gives exactly DBSCAN's result.
//!
//! Events that last ([`st_dbscan_intervals`]: UCDP events span days) are
//! apart in time by the gap between their intervals, 0 when they overlap:
//! two three-week campaigns at one place that overlap are neighbours
//! however far apart they began. [`st_dbscan`] is the same on instants
//! (start times only), the form of the usual implementations.
//!
//! Two bursts of violence at the same village weeks apart are two clusters; so
//! are two simultaneous bursts in different places. A cluster may still span
//! more than `eps_seconds` overall when events chain through time (a long
//! series of attacks each within `eps_seconds` of the previous one).
//!
//! How: as DBSCAN's grid of cubes over unit vectors, with a fourth axis of
//! start-time slots `eps_seconds` plus the longest event's duration long, so
//! that neighbours in space and time are always in the same or adjacent
//! cells; the time condition is decided on the integer seconds.

use crate::analysis::dbscan::{
    by_position, cluster, rdist_degrees, unit_vector, validate, Clustering, EpsTest, Grid,
    Neighbours,
};
use crate::analysis::AnalysisError;
use rayon::prelude::*;

/// Clusters events with ST-DBSCAN.
///
/// `lon`/`lat` are WGS 84 degrees, `time` Unix seconds; `eps_m` the spatial
/// radius in metres, `eps_seconds` the time window (a neighbour is at most this
/// many seconds earlier or later; 0 means the same second), `min_points` the
/// number of neighbours, the event itself included, that make a core event.
///
/// Errors as [`dbscan`](crate::analysis::dbscan::dbscan) does, and when `time`
/// differs in length or `eps_seconds` is negative.
pub fn st_dbscan(
    lon: &[f64],
    lat: &[f64],
    time: &[i64],
    eps_m: f64,
    eps_seconds: i64,
    min_points: usize,
) -> Result<Clustering, AnalysisError> {
    st_dbscan_intervals(lon, lat, time, time, eps_m, eps_seconds, min_points)
}

/// Clusters events that last from `start` to `end` (Unix seconds, `end >=
/// start`) with ST-DBSCAN: two events are close in time when the gap
/// between their intervals, `max(0, start_j - end_i, start_i - end_j)`, is
/// at most `eps_seconds`. With `end == start` this is [`st_dbscan`].
///
/// Errors as [`st_dbscan`] does, and when `end` differs in length or an
/// event ends before it starts.
pub fn st_dbscan_intervals(
    lon: &[f64],
    lat: &[f64],
    start: &[i64],
    end: &[i64],
    eps_m: f64,
    eps_seconds: i64,
    min_points: usize,
) -> Result<Clustering, AnalysisError> {
    validate(lon, lat, eps_m, min_points)?;
    for (name, t) in [("time", start), ("time_end", end)] {
        if t.len() != lon.len() {
            return Err(AnalysisError::param(
                name,
                format!("has {} values but lon has {}", t.len(), lon.len()),
            ));
        }
    }
    if let Some(i) = (0..start.len()).find(|&i| end[i] < start[i]) {
        return Err(AnalysisError::param(
            "time_end",
            format!("event {i} ends before it starts"),
        ));
    }
    if eps_seconds < 0 {
        return Err(AnalysisError::param(
            "eps_seconds",
            format!("must be 0 or more, got {eps_seconds}"),
        ));
    }
    if lon.is_empty() {
        return Ok(Clustering::default());
    }
    let index = SpaceTimeIndex::new(lon, lat, start, end, eps_m, eps_seconds);
    Ok(cluster(&index, min_points))
}

/// Neighbours within eps in space and eps_seconds in time, from a grid whose
/// cells are the cubes of [`EpsTest`] times intervals `eps_seconds` long.
struct SpaceTimeIndex<'a> {
    lon: &'a [f64],
    lat: &'a [f64],
    /// Unit vectors by position, one array per axis.
    xyz: [Vec<f64>; 3],
    /// Start and end times by position.
    time: Vec<(i64, i64)>,
    grid: Grid<4>,
    eps: EpsTest,
    eps_seconds: i128,
}

/// The gap between two intervals, 0 when they overlap (in i128: any two
/// i64 intervals).
#[inline]
fn gap((s1, e1): (i64, i64), (s2, e2): (i64, i64)) -> i128 {
    (i128::from(s2) - i128::from(e1))
        .max(i128::from(s1) - i128::from(e2))
        .max(0)
}

impl<'a> SpaceTimeIndex<'a> {
    fn new(
        lon: &'a [f64],
        lat: &'a [f64],
        time: &[i64],
        end: &[i64],
        eps_m: f64,
        eps_seconds: i64,
    ) -> Self {
        let eps = EpsTest::new(eps_m);
        let t0 = time.iter().copied().min().unwrap_or(0);
        // Integer slots of start times: events whose intervals lie within
        // eps_seconds start at most eps_seconds plus the longer duration
        // apart, so they are in the same or adjacent slots. In i128 and
        // shifted down by 2^63, so that any span of i64 times gives slot
        // numbers that fit an i64.
        let longest = (0..time.len())
            .map(|i| i128::from(end[i]) - i128::from(time[i]))
            .max()
            .unwrap_or(0);
        let slot = i128::from(eps_seconds.max(1)) + longest;
        let xyz: Vec<[f64; 3]> = lon
            .par_iter()
            .zip(lat)
            .map(|(&x, &y)| unit_vector(x, y))
            .collect();
        let cells = xyz
            .par_iter()
            .zip(time)
            .map(|(v, &t)| {
                let [a, b, c] = eps.cube(v);
                [
                    a,
                    b,
                    c,
                    ((i128::from(t) - i128::from(t0)) / slot + i128::from(i64::MIN)) as i64,
                ]
            })
            .collect();
        let grid = Grid::new(cells);
        let xyz = by_position(&grid.original, &xyz);
        let time = grid
            .original
            .par_iter()
            .map(|&i| (time[i as usize], end[i as usize]))
            .collect();
        SpaceTimeIndex {
            lon,
            lat,
            xyz,
            time,
            grid,
            eps,
            eps_seconds: i128::from(eps_seconds),
        }
    }
}

impl Neighbours<4> for SpaceTimeIndex<'_> {
    fn grid(&self) -> &Grid<4> {
        &self.grid
    }

    #[inline]
    fn may_reach(&self, p: usize, cell: &[i64; 4]) -> bool {
        self.eps
            .may_reach(&self.xyz.each_ref().map(|a| a[p]), &cell[..3])
    }

    #[inline]
    fn mask(&self, p: usize, start: usize, len: usize) -> u64 {
        let [x, y, z] = &self.xyz;
        let (px, py, pz, pt) = (x[p], y[p], z[p], self.time[p]);
        let run = start..start + len;
        let (mut inside, mut near) = (0u64, 0u64);
        let coords = x[run.clone()]
            .iter()
            .zip(&y[run.clone()])
            .zip(&z[run.clone()]);
        for (k, (((qx, qy), qz), &qt)) in coords.zip(&self.time[run]).enumerate() {
            let (dx, dy, dz) = (px - qx, py - qy, pz - qz);
            let (i, n) = self.eps.flags(dx * dx + dy * dy + dz * dz, k);
            let when = u64::from(gap(pt, qt) <= self.eps_seconds) << k;
            inside |= i & when;
            near |= n & when;
        }
        let o = &self.grid.original;
        self.eps.settle(inside, near, |k| {
            rdist_degrees(self.lon, self.lat, o[p] as usize, o[start + k] as usize)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dbscan::dbscan;
    use crate::analysis::dbscan::tests::{
        assert_equivalent, blobs, brute_force, sklearn_within, ucdp_events, Rng,
    };

    const DAY: i64 = 86_400;

    /// `n` events around (lon, lat) within about 300 m, one every `step` seconds from `t0`.
    fn burst(
        lon: f64,
        lat: f64,
        t0: i64,
        step: i64,
        n: usize,
        out: &mut (Vec<f64>, Vec<f64>, Vec<i64>),
    ) {
        for k in 0..n {
            let a = k as f64 * 2.399_963; // golden angle: a small spiral
            let r = 0.002 * (k as f64 / n as f64).sqrt();
            out.0.push(lon + r * a.cos());
            out.1.push(lat + r * a.sin());
            out.2.push(t0 + k as i64 * step);
        }
    }

    #[test]
    fn two_bursts_at_one_place_weeks_apart_are_two_clusters() {
        let mut e = (vec![], vec![], vec![]);
        burst(18.55, 4.36, 1_600_000_000, 3600, 10, &mut e);
        burst(18.55, 4.36, 1_600_000_000 + 30 * DAY, 3600, 10, &mut e);
        let c = st_dbscan(&e.0, &e.1, &e.2, 1000.0, 7 * DAY, 5).expect("valid input");
        assert_eq!(c.labels, [vec![0; 10], vec![1; 10]].concat());
        // Plain DBSCAN sees one place.
        let d = dbscan(&e.0, &e.1, 1000.0, 5).expect("valid input");
        assert_eq!(d.labels, vec![0; 20]);
        // A window longer than the gap joins them again.
        let c = st_dbscan(&e.0, &e.1, &e.2, 1000.0, 31 * DAY, 5).expect("valid input");
        assert_eq!(c, d);
    }

    #[test]
    fn one_moment_at_two_places_is_two_clusters() {
        let mut e = (vec![], vec![], vec![]);
        burst(18.55, 4.36, 1_600_000_000, 600, 8, &mut e);
        burst(18.75, 4.36, 1_600_000_000, 600, 8, &mut e); // 22 km east, same hours
        burst(40.0, 4.36, 1_600_000_000, 600, 2, &mut e); // far away, too few: noise
        let c = st_dbscan(&e.0, &e.1, &e.2, 5000.0, DAY, 4).expect("valid input");
        assert_eq!(c.labels, [vec![0; 8], vec![1; 8], vec![-1; 2]].concat());
        assert_eq!(c.cluster_count(), 2);
    }

    #[test]
    fn the_time_window_is_inclusive_and_chains() {
        // Same place, one event a day: with a one-day window every event has
        // its predecessor and successor as neighbours, so the series chains
        // into one cluster spanning 20 days; with a window a second shorter,
        // nothing is a neighbour of anything else.
        let lon = vec![20.0; 20];
        let lat = vec![5.0; 20];
        let time: Vec<i64> = (0..20).map(|k| k * DAY).collect();
        let c = st_dbscan(&lon, &lat, &time, 10.0, DAY, 3).expect("valid input");
        assert_eq!(c.labels, vec![0; 20]);
        assert!(!c.core[0] && c.core[1..19].iter().all(|&x| x) && !c.core[19]);
        let c = st_dbscan(&lon, &lat, &time, 10.0, DAY - 1, 2).expect("valid input");
        assert_eq!(c.labels, vec![-1; 20]);
        // eps_seconds 0: only simultaneous events are neighbours.
        let c = st_dbscan(&[20.0; 3], &[5.0; 3], &[7, 7, 8], 10.0, 0, 2).expect("valid input");
        assert_eq!(c.labels, vec![0, 0, -1]);
    }

    #[test]
    fn matches_a_brute_force_reference() {
        let (lon, lat) = blobs(21, 2000, 25.0, 5.0);
        let mut r = Rng(7);
        let time: Vec<i64> = (0..lon.len())
            .map(|k| {
                if k % 7 == 0 {
                    1_500_000_000
                } else {
                    1_500_000_000 + (r.uniform(0.0, 120.0) * DAY as f64) as i64
                }
            })
            .collect();
        for (eps_m, eps_s, m) in [(5000.0, 10 * DAY, 4), (3000.0, 3 * DAY, 3), (8000.0, 0, 2)] {
            let got = st_dbscan(&lon, &lat, &time, eps_m, eps_s, m).expect("valid input");
            let space = sklearn_within(&lon, &lat, eps_m);
            let within = |i: usize, j: usize| space(i, j) && (time[i] - time[j]).abs() <= eps_s;
            let want = brute_force(lon.len(), within, m);
            assert!(want.cluster_count() > 1);
            assert_eq!(got, want, "eps {eps_m} m, {eps_s} s, min {m}");
        }
    }

    #[test]
    fn an_unbounded_window_is_plain_dbscan_and_extreme_times_work() {
        let (lon, lat) = blobs(22, 3000, -70.0, -30.0);
        let mut r = Rng(8);
        // Differences up to 2^62 s: all within an i64::MAX window.
        let time: Vec<i64> = (0..lon.len()).map(|_| r.next_u64() as i64 >> 2).collect();
        let c = st_dbscan(&lon, &lat, &time, 4000.0, i64::MAX, 5).expect("valid input");
        assert_eq!(c, dbscan(&lon, &lat, 4000.0, 5).expect("valid input"));
        // The ends of the i64 range, one second apart, with no overflow.
        let time = [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX, 0, 2];
        let c = st_dbscan(&[7.0; 6], &[7.0; 6], &time, 10.0, 1, 2).expect("valid input");
        assert_eq!(c.labels, vec![0, 0, 1, 1, -1, -1]);
        let c = st_dbscan(&[7.0; 6], &[7.0; 6], &time, 10.0, 0, 1).expect("valid input");
        assert_eq!(c.labels, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn threads_and_permutations_do_not_change_the_result() {
        let (lon, lat) = blobs(23, 10_000, 30.0, 7.0);
        let mut r = Rng(9);
        let time: Vec<i64> = (0..lon.len())
            .map(|_| (r.uniform(0.0, 365.0) * DAY as f64) as i64)
            .collect();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool")
                .install(|| st_dbscan(&lon, &lat, &time, 5000.0, 30 * DAY, 5).expect("valid input"))
        };
        let one = run(1);
        assert!(one.cluster_count() > 1);
        assert_eq!(run(2), one);
        let perm: Vec<usize> = (0..lon.len()).rev().collect();
        let pick = |v: &[f64]| perm.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let ptime: Vec<i64> = perm.iter().map(|&i| time[i]).collect();
        let c =
            st_dbscan(&pick(&lon), &pick(&lat), &ptime, 5000.0, 30 * DAY, 5).expect("valid input");
        let mut back = Clustering {
            labels: vec![0; lon.len()],
            core: vec![false; lon.len()],
        };
        for (k, &i) in perm.iter().enumerate() {
            back.labels[i] = c.labels[k];
            back.core[i] = c.core[k];
        }
        assert_equivalent(&back, &one, "reversed input");
    }

    #[test]
    fn overlapping_multi_day_events_are_neighbours_however_far_apart_they_began() {
        // Two campaigns at one village: one runs 30 days, the other starts on
        // day 25 (its start 25 days after the first's) and runs 15 days; a
        // third begins 8 days after the second ends.
        let (lon, lat) = (vec![20.0; 3], vec![5.0; 3]);
        let start = [0, 25 * DAY, 48 * DAY];
        let end = [30 * DAY, 40 * DAY, 50 * DAY];
        let c = st_dbscan_intervals(&lon, &lat, &start, &end, 100.0, 7 * DAY, 2).unwrap();
        assert_eq!(c.labels, [0, 0, -1]);
        // A week and a day after the second ended: the gap is what counts.
        let c = st_dbscan_intervals(&lon, &lat, &start, &end, 100.0, 8 * DAY, 2).unwrap();
        assert_eq!(c.labels, [0, 0, 0]);
        // On start times alone, all three are apart.
        let c = st_dbscan(&lon, &lat, &start, 100.0, 7 * DAY, 2).unwrap();
        assert_eq!(c.labels, [-1, -1, -1]);
        // Instants are intervals of no length.
        assert_eq!(
            st_dbscan_intervals(&lon, &lat, &start, &start, 100.0, 7 * DAY, 2).unwrap(),
            c
        );
        // An event ending before it starts is refused by name.
        let e = st_dbscan_intervals(&lon, &lat, &start, &[0, 0, 0], 100.0, DAY, 2).unwrap_err();
        assert!(e.to_string().contains("`time_end`"), "{e}");
    }

    #[test]
    fn intervals_match_a_brute_force_reference() {
        let (lon, lat) = blobs(24, 2000, 25.0, 5.0);
        let mut r = Rng(11);
        let start: Vec<i64> = (0..lon.len())
            .map(|_| 1_500_000_000 + (r.uniform(0.0, 200.0) * DAY as f64) as i64)
            .collect();
        // Most events last a day, some weeks, one a whole year.
        let end: Vec<i64> = (0..lon.len())
            .map(|k| {
                let d = match k % 10 {
                    0 => r.uniform(0.0, 60.0),
                    _ => r.uniform(0.0, 1.0),
                };
                start[k]
                    + if k == 5 {
                        365 * DAY
                    } else {
                        (d * DAY as f64) as i64
                    }
            })
            .collect();
        for (eps_m, eps_s, m) in [(5000.0, 5 * DAY, 4), (3000.0, 0, 3), (8000.0, DAY, 2)] {
            let got = st_dbscan_intervals(&lon, &lat, &start, &end, eps_m, eps_s, m).unwrap();
            let space = sklearn_within(&lon, &lat, eps_m);
            let within = |i: usize, j: usize| {
                let g = (start[j] - end[i]).max(start[i] - end[j]).max(0);
                space(i, j) && g <= eps_s
            };
            let want = brute_force(lon.len(), within, m);
            assert!(want.cluster_count() > 1);
            assert_eq!(got, want, "eps {eps_m} m, {eps_s} s, min {m}");
            // Intervals only ever join: never fewer neighbours than starts.
            let starts = st_dbscan(&lon, &lat, &start, eps_m, eps_s, m).unwrap();
            assert!(got.noise_count() <= starts.noise_count());
        }
    }

    #[test]
    fn bad_parameters() {
        let msg = |r: Result<Clustering, AnalysisError>| r.expect_err("must fail").to_string();
        assert!(msg(st_dbscan(&[0.0], &[0.0], &[], 10.0, 5, 1)).contains("`time`: has 0 values"));
        assert!(msg(st_dbscan(&[0.0], &[0.0], &[0], 10.0, -1, 1)).contains("`eps_seconds`"));
        assert!(msg(st_dbscan(&[0.0], &[0.0], &[0], -1.0, 5, 1)).contains("`eps_m`"));
        assert_eq!(
            st_dbscan(&[], &[], &[], 10.0, 5, 1).expect("empty"),
            Clustering::default()
        );
    }

    #[test]
    #[cfg_attr(
        not(jointmap_shared_data),
        ignore = "../shared/data/ucdp-ged-23.1-car.geojson is absent"
    )]
    fn ucdp_events_split_by_time() {
        let events = ucdp_events().expect("../shared/data/ucdp-ged-23.1-car.geojson");
        let lon: Vec<f64> = events.iter().map(|e| e.1).collect();
        let lat: Vec<f64> = events.iter().map(|e| e.2).collect();
        let time: Vec<i64> = events
            .iter()
            .map(|e| {
                chrono::NaiveDateTime::parse_from_str(&e.3, "%Y-%m-%dT%H:%M:%S")
                    .map(|d| d.and_utc().timestamp())
                    .expect("date_start")
            })
            .collect();
        let st = st_dbscan(&lon, &lat, &time, 25_000.0, 14 * DAY, 5).expect("valid input");
        let space = sklearn_within(&lon, &lat, 25_000.0);
        let want = brute_force(
            lon.len(),
            |i, j| space(i, j) && (time[i] - time[j]).abs() <= 14 * DAY,
            5,
        );
        assert_eq!(st, want);
        let d = dbscan(&lon, &lat, 25_000.0, 5).expect("valid input");
        eprintln!(
            "UCDP CAR, 25 km, min 5: DBSCAN {} clusters / {} noise; ST-DBSCAN with 14 days {} clusters / {} noise",
            d.cluster_count(),
            d.noise_count(),
            st.cluster_count(),
            st.noise_count()
        );
        // Events isolated in time become noise; dense places split into episodes.
        assert!(st.noise_count() > d.noise_count());
    }
}
