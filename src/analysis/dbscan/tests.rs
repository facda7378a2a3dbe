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

/// A seeded layout that stresses grid DBSCAN's shortcuts: around `centre`,
/// Gaussian groups a fraction to a few eps wide, stacks of copies, points
/// exactly eps from another along a meridian or a parallel (decided by the
/// haversine arbiter), and scatter; longitudes wrapped, latitudes clamped (so
/// a group near a pole spills over it and piles points on it).
fn tricky_layout(r: &mut Rng, centre: (f64, f64), eps_m: f64, n: usize) -> (Vec<f64>, Vec<f64>) {
    let eps_deg = (eps_m / EARTH_RADIUS_M).to_degrees();
    let wrap = |x: f64| (x + 180.0).rem_euclid(360.0) - 180.0;
    let (mut lon, mut lat) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let groups: Vec<(f64, f64, f64)> = (0..1 + r.below(5))
        .map(|_| {
            let spread = 10.0 * eps_deg;
            (
                centre.0 + r.uniform(-spread, spread),
                centre.1 + r.uniform(-spread, spread),
                eps_deg * r.uniform(0.2, 3.0),
            )
        })
        .collect();
    while lon.len() < n {
        let (x, y) = match r.below(10) {
            0 | 1 if !lon.is_empty() => {
                let j = r.below(lon.len());
                (lon[j], lat[j])
            }
            2 if !lon.is_empty() => {
                let j = r.below(lon.len());
                (lon[j], lat[j] + eps_deg)
            }
            3 if !lon.is_empty() => {
                let j = r.below(lon.len());
                (lon[j] + eps_deg, lat[j])
            }
            4 => (
                centre.0 + r.uniform(-30.0, 30.0) * eps_deg,
                centre.1 + r.uniform(-30.0, 30.0) * eps_deg,
            ),
            _ => {
                let (gx, gy, sigma) = groups[r.below(groups.len())];
                (gx + sigma * r.normal(), gy + sigma * r.normal())
            }
        };
        lon.push(wrap(x));
        lat.push(y.clamp(-90.0, 90.0));
    }
    (lon, lat)
}

/// Grid DBSCAN (the cubes of `cells.rs`) against the pair-by-pair test over
/// cubes one eps wide and against scikit-learn's algorithm literally, label
/// for label and core flag for core flag, on seeded layouts with stacks of
/// copies, pairs exactly eps apart, the antimeridian and both poles, for eps
/// from a metre to 50 km and min_points from 1 to 30.
#[test]
fn grid_dbscan_equals_the_brute_force_on_random_layouts() {
    let centres = [
        (20.0, 6.0),
        (180.0, -17.0),
        (-179.99, 60.0),
        (45.0, 89.99),
        (-120.0, -90.0),
    ];
    let mut r = Rng(2026);
    // Cases with several clusters, and with border points: not trivial.
    let (mut several, mut borders) = (0, 0);
    for case in 0..120 {
        let eps_m = [1.0, 30.0, 500.0, 2000.0, 50_000.0][case % 5] * r.uniform(0.5, 2.0);
        let min_points = 1 + r.below(if case % 3 == 0 { 30 } else { 8 });
        let centre = centres[r.below(centres.len())];
        let n = 50 + r.below(500);
        let (lon, lat) = tricky_layout(&mut r, centre, eps_m, n);
        assert!(
            cells::Cubes::new(&EpsTest::new(eps_m)).is_some(),
            "eps {eps_m} takes the grid path"
        );
        let what =
            format!("case {case}: {n} points near {centre:?}, eps {eps_m} m, min {min_points}");
        let want = brute_force(n, sklearn_within(&lon, &lat, eps_m), min_points);
        let got = dbscan(&lon, &lat, eps_m, min_points).expect("valid input");
        assert_eq!(got, want, "{what}");
        let pairwise = cluster(&SphereIndex::new(&lon, &lat, eps_m), min_points);
        assert_eq!(pairwise, want, "{what}: pair by pair");
        several += usize::from(want.cluster_count() > 1);
        borders += usize::from((0..n).any(|i| !want.core[i] && want.labels[i] >= 0));
    }
    assert!(
        several > 60 && borders > 60,
        "{several} with clusters, {borders} with borders"
    );
}

/// An eps of micrometres has no cube surely inside it: the pair-by-pair path
/// answers, with the same labels.
#[test]
fn a_tiny_eps_takes_the_pair_by_pair_path() {
    let eps_m = 1e-7;
    assert!(cells::Cubes::new(&EpsTest::new(eps_m)).is_none());
    let lon = [10.0, 10.0, 10.0 + 1e-13, 11.0];
    let lat = [5.0, 5.0, 5.0, 5.0];
    let c = dbscan(&lon, &lat, eps_m, 2).expect("valid input");
    assert_eq!(c, brute_force(4, sklearn_within(&lon, &lat, eps_m), 2));
    assert_eq!(c.labels, vec![0, 0, 0, -1]);
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

/// A golden file from `tests/golden` (written by tools/reference/).
pub(crate) fn golden(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

/// A JSON array of numbers.
pub(crate) fn floats(v: &Value) -> Vec<f64> {
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
