//! Per-cluster summaries of a DBSCAN / ST-DBSCAN result: where each cluster
//! is, its outline, when it happened and what dominated it.

use crate::analysis::dbscan::{unit_vector, Clustering};
use crate::analysis::Events;
use geo::{ConvexHull, MultiPoint, Point};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Radius, in metres, of the small octagon drawn around each position of a
/// cluster whose positions do not span an area (one place, two places, or
/// places on one line), so that every cluster still has a drawable polygon.
pub const HULL_BUFFER_M: f64 = 50.0;

/// Metres per degree of latitude on the sphere of
/// [`EARTH_RADIUS_M`](crate::analysis::dbscan::EARTH_RADIUS_M).
const M_PER_DEGREE: f64 = crate::analysis::dbscan::EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// One cluster, summarised.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClusterSummary {
    /// The cluster label (as in [`Clustering::labels`]).
    pub label: i32,
    /// Number of member events (core and border).
    pub count: usize,
    /// Indices of the members into the events, ascending.
    pub members: Vec<usize>,
    /// Centre `[lon, lat]` in degrees: the mean of the members' unit vectors,
    /// projected back onto the sphere (right across the antimeridian and near
    /// the poles, where averaging degrees is not).
    pub centroid: [f64; 2],
    /// Convex hull of the members as a closed `[lon, lat]` ring (first vertex
    /// repeated last), counter-clockwise. Longitudes are unwrapped around the
    /// centroid, so a cluster straddling the antimeridian has a compact ring
    /// whose longitudes may pass 180 (or -180). When the members do not span an
    /// area, the ring is the hull of [`HULL_BUFFER_M`] octagons around them: an
    /// octagon for one place, a capsule for places on a line.
    pub hull: Vec<[f64; 2]>,
    /// Earliest member time, Unix seconds.
    pub first: i64,
    /// Latest member time, Unix seconds.
    pub last: i64,
    /// Most frequent non-empty category (ties: alphabetically first); empty if none.
    pub leading_category: String,
    /// Most frequent known actor (ties: alphabetically first); empty if no
    /// member names one.
    pub leading_actor: String,
}

/// Summarises every cluster of `clustering` over `events`, in label order
/// (noise is left out; labels without members are skipped).
///
/// # Panics
///
/// If `clustering` does not have one entry per event, or the fields of `events`
/// differ in length: both are programming errors, not data errors.
pub fn summarize(events: &Events, clustering: &Clustering) -> Vec<ClusterSummary> {
    let n = events.len();
    assert_eq!(
        clustering.labels.len(),
        n,
        "summarize: the clustering has {} labels for {n} events",
        clustering.labels.len()
    );
    for (name, len) in [
        ("lat", events.lat.len()),
        ("time", events.time.len()),
        ("category", events.category.len()),
        ("actor", events.actor.len()),
    ] {
        assert_eq!(
            len, n,
            "summarize: events.{name} has {len} values for {n} events"
        );
    }
    let mut members = vec![Vec::new(); clustering.cluster_count()];
    for (i, &l) in clustering.labels.iter().enumerate() {
        if let Ok(l) = usize::try_from(l) {
            members[l].push(i);
        }
    }
    members
        .into_par_iter()
        .enumerate()
        .filter(|(_, m)| !m.is_empty())
        .map(|(label, m)| summarize_one(events, label as i32, m))
        .collect()
}

fn summarize_one(events: &Events, label: i32, members: Vec<usize>) -> ClusterSummary {
    let centroid = centroid(members.iter().map(|&i| (events.lon[i], events.lat[i])));
    let hull = hull(
        members.iter().map(|&i| (events.lon[i], events.lat[i])),
        centroid[0],
    );
    let times = members.iter().map(|&i| events.time[i]);
    ClusterSummary {
        label,
        count: members.len(),
        first: times.clone().min().unwrap_or(0),
        last: times.max().unwrap_or(0),
        leading_category: leading(members.iter().map(|&i| events.category[i].as_str())),
        leading_actor: leading(members.iter().map(|&i| events.actor[i].as_str())),
        centroid,
        hull,
        members,
    }
}

/// Mean direction of the positions, as `[lon, lat]`. For positions whose unit
/// vectors cancel out (spread evenly around the globe) there is no meaningful
/// centre: the first position is returned.
fn centroid(points: impl Iterator<Item = (f64, f64)>) -> [f64; 2] {
    let mut sum = [0.0f64; 3];
    let mut first = None;
    let mut count = 0usize;
    for (lon, lat) in points {
        first.get_or_insert([lon, lat]);
        let v = unit_vector(lon, lat);
        for k in 0..3 {
            sum[k] += v[k];
        }
        count += 1;
    }
    let norm = (sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]).sqrt();
    if norm <= 1e-9 * count as f64 {
        return first.unwrap_or([0.0, 0.0]);
    }
    let [x, y, z] = sum.map(|c| c / norm);
    // At the poles the longitude is arbitrary; atan2(0, 0) gives 0.
    [y.atan2(x).to_degrees(), z.atan2(x.hypot(y)).to_degrees()]
}

/// The closed convex hull ring, longitudes unwrapped around `lon0`.
fn hull(points: impl Iterator<Item = (f64, f64)>, lon0: f64) -> Vec<[f64; 2]> {
    let mut pts: Vec<[f64; 2]> = points
        .map(|(lon, lat)| {
            // Shift by whole turns only, so that ordinary clusters keep their
            // exact coordinates (and members stay exactly on the ring).
            let d = lon - lon0;
            let lon = if d > 180.0 {
                lon - 360.0
            } else if d < -180.0 {
                lon + 360.0
            } else {
                lon
            };
            [lon, lat]
        })
        .collect();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() >= 3 {
        let ring = convex_ring(&pts);
        if !is_degenerate(&ring) {
            return ring;
        }
    }
    // No area: buffer each distinct position with an octagon and take the hull of those.
    let buffered: Vec<[f64; 2]> = pts
        .iter()
        .flat_map(|&[lon, lat]| {
            let dlat = HULL_BUFFER_M / M_PER_DEGREE;
            // Keeps the octagon bounded at the poles (where it becomes a band).
            let dlon = dlat / lat.to_radians().cos().max(0.01);
            (0..8).map(move |k| {
                let a = (k as f64 + 0.5) * std::f64::consts::FRAC_PI_4;
                [
                    lon + dlon * a.cos(),
                    (lat + dlat * a.sin()).clamp(-90.0, 90.0),
                ]
            })
        })
        .collect();
    convex_ring(&buffered)
}

/// geo's convex hull as a closed counter-clockwise ring.
fn convex_ring(pts: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mp: MultiPoint<f64> = pts.iter().map(|&[x, y]| Point::new(x, y)).collect();
    let mut ring: Vec<[f64; 2]> = mp
        .convex_hull()
        .exterior()
        .coords()
        .map(|c| [c.x, c.y])
        .collect();
    if ring.first() != ring.last() {
        if let Some(&f) = ring.first() {
            ring.push(f);
        }
    }
    if signed_area(&ring) < 0.0 {
        ring.reverse();
    }
    ring
}

/// Shoelace area of a closed ring (positive when counter-clockwise).
fn signed_area(ring: &[[f64; 2]]) -> f64 {
    ring.windows(2)
        .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
        .sum::<f64>()
        / 2.0
}

/// Fewer than three distinct vertices, or an area negligible against the
/// extent (numerically collinear).
fn is_degenerate(ring: &[[f64; 2]]) -> bool {
    if ring.len() < 4 {
        return true;
    }
    let (mut w, mut h) = (0.0f64, 0.0f64);
    for p in ring {
        w = w.max((p[0] - ring[0][0]).abs());
        h = h.max((p[1] - ring[0][1]).abs());
    }
    let extent = w.max(h);
    signed_area(ring).abs() <= 1e-9 * extent * extent
}

/// Most frequent non-empty value; ties go to the alphabetically first.
fn leading<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut counts: FxHashMap<&str, usize> = FxHashMap::default();
    for v in values.filter(|v| !v.is_empty()) {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(v, _)| v.to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dbscan::dbscan;
    use crate::analysis::dbscan::tests::ucdp_events;
    use geo::{Intersects, LineString, Polygon};

    fn events(rows: &[(f64, f64, i64, &str, &str)]) -> Events {
        let mut e = Events::default();
        for (k, &(lon, lat, t, cat, actor)) in rows.iter().enumerate() {
            e.push(format!("e{k}"), lon, lat, t, 1.0, cat.into(), actor.into());
        }
        e
    }

    fn polygon(ring: &[[f64; 2]]) -> Polygon<f64> {
        Polygon::new(
            LineString::from(ring.iter().map(|&[x, y]| (x, y)).collect::<Vec<_>>()),
            vec![],
        )
    }

    fn assert_ring(ring: &[[f64; 2]]) {
        assert!(ring.len() >= 4, "ring {ring:?}");
        assert_eq!(ring.first(), ring.last(), "closed");
        assert!(signed_area(ring) > 0.0, "counter-clockwise with an area");
    }

    #[test]
    fn two_clusters_summarised() {
        let e = events(&[
            (20.00, 5.00, 100, "killing", "ArmedGroupA"),
            (20.02, 5.00, 300, "looting", ""),
            (20.01, 5.02, 200, "killing", "ArmedGroupB"),
            (21.00, 6.00, 50, "abduction", "ArmedGroupB"),
            (20.01, 5.01, 400, "looting", "ArmedGroupB"),
            (30.00, 9.00, 10, "killing", "X"),
            (21.00, 6.00, 70, "abduction", ""),
        ]);
        let c = Clustering {
            labels: vec![0, 0, 0, 1, 0, -1, 1],
            core: vec![true; 7],
        };
        let s = summarize(&e, &c);
        assert_eq!(s.len(), 2);
        let a = &s[0];
        assert_eq!(
            (a.label, a.count, a.members.clone()),
            (0, 4, vec![0, 1, 2, 4])
        );
        assert_eq!((a.first, a.last), (100, 400));
        // killing 2, looting 2: the tie goes to the alphabetically first.
        assert_eq!(a.leading_category, "killing");
        // The unknown actor does not count.
        assert_eq!(a.leading_actor, "ArmedGroupB");
        assert!((a.centroid[0] - 20.01).abs() < 1e-3 && (a.centroid[1] - 5.0075).abs() < 1e-3);
        assert_ring(&a.hull);
        // The interior point (20.01, 5.01) is not a vertex: a triangle.
        assert_eq!(a.hull.len(), 4);
        let poly = polygon(&a.hull);
        for &i in &a.members {
            assert!(poly.intersects(&Point::new(e.lon[i], e.lat[i])));
        }
        let b = &s[1];
        assert_eq!((b.label, b.count, b.members.clone()), (1, 2, vec![3, 6]));
        assert_eq!((b.first, b.last), (50, 70));
        assert_eq!(b.leading_actor, "ArmedGroupB");
        assert!((b.centroid[0] - 21.0).abs() < 1e-9 && (b.centroid[1] - 6.0).abs() < 1e-9);
    }

    #[test]
    fn one_place_gives_an_octagon_and_a_line_gives_a_capsule() {
        let e = events(&[
            (18.58, 4.36, 1, "killing", ""),
            (18.58, 4.36, 2, "killing", ""),
            (18.60, 4.36, 3, "killing", ""),
            (18.62, 4.36, 4, "killing", ""),
        ]);
        let one = summarize(
            &e,
            &Clustering {
                labels: vec![0, 0, -1, -1],
                core: vec![true; 4],
            },
        );
        let ring = &one[0].hull;
        assert_ring(ring);
        assert_eq!(ring.len(), 9, "an octagon");
        for p in &ring[..8] {
            let dy = (p[1] - 4.36) * M_PER_DEGREE;
            let dx = (p[0] - 18.58) * M_PER_DEGREE * 4.36f64.to_radians().cos();
            assert!((dx.hypot(dy) - HULL_BUFFER_M).abs() < 0.01, "{p:?}");
        }
        assert_eq!(one[0].leading_actor, "");
        let line = summarize(
            &e,
            &Clustering {
                labels: vec![0; 4],
                core: vec![true; 4],
            },
        );
        let ring = &line[0].hull;
        assert_ring(ring);
        let poly = polygon(ring);
        for i in 0..4 {
            assert!(poly.intersects(&Point::new(e.lon[i], e.lat[i])));
        }
        let (lo, hi) = ring.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p[1]), hi.max(p[1]))
        });
        assert!(
            (hi - lo) * M_PER_DEGREE < 2.0 * HULL_BUFFER_M + 1e-6,
            "a thin capsule"
        );
        // Two distinct places on a meridian, too.
        let e = events(&[(18.58, 4.36, 1, "a", ""), (18.58, 4.40, 2, "b", "")]);
        let two = summarize(
            &e,
            &Clustering {
                labels: vec![0; 2],
                core: vec![true; 2],
            },
        );
        assert_ring(&two[0].hull);
        assert_eq!(two[0].leading_category, "a");
    }

    #[test]
    fn antimeridian_cluster_has_a_compact_hull() {
        let e = events(&[
            (179.99, -17.0, 0, "k", ""),
            (-179.99, -17.0, 0, "k", ""),
            (179.995, -17.01, 0, "k", ""),
            (-179.995, -16.99, 0, "k", ""),
        ]);
        let s = summarize(
            &e,
            &Clustering {
                labels: vec![0; 4],
                core: vec![true; 4],
            },
        );
        let c = s[0].centroid;
        assert!(
            (c[0].abs() - 180.0).abs() < 1e-6 && (c[1] + 17.0).abs() < 1e-3,
            "{c:?}"
        );
        assert_ring(&s[0].hull);
        let (lo, hi) = s[0].hull.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p[0]), hi.max(p[0]))
        });
        assert!(hi - lo < 0.05, "unwrapped: {lo}..{hi}");
    }

    #[test]
    fn a_cluster_at_the_pole_has_a_centre_at_the_pole() {
        let e = events(&[
            (0.0, 89.99, 0, "k", ""),
            (90.0, 89.99, 0, "k", ""),
            (180.0, 89.99, 0, "k", ""),
            (-90.0, 89.99, 0, "k", ""),
        ]);
        let s = summarize(
            &e,
            &Clustering {
                labels: vec![0; 4],
                core: vec![true; 4],
            },
        );
        assert!((s[0].centroid[1] - 90.0).abs() < 1e-9);
        assert_ring(&s[0].hull);
    }

    #[test]
    #[cfg_attr(
        not(jointmap_shared_data),
        ignore = "../shared/data/ucdp-ged-23.1-car.geojson is absent"
    )]
    fn ucdp_clusters_are_summarised_consistently() {
        let rows = ucdp_events().expect("../shared/data/ucdp-ged-23.1-car.geojson");
        let mut e = Events::default();
        for (k, (id, lon, lat, _)) in rows.iter().enumerate() {
            let cat = ["state-based", "non-state", "one-sided"][k % 3];
            e.push(
                id.to_string(),
                *lon,
                *lat,
                k as i64,
                1.0,
                cat.into(),
                String::new(),
            );
        }
        let c = dbscan(&e.lon, &e.lat, 25_000.0, 10).expect("valid input");
        let s = summarize(&e, &c);
        assert_eq!(s.len(), c.cluster_count());
        assert_eq!(
            s.iter().map(|x| x.count).sum::<usize>(),
            e.len() - c.noise_count()
        );
        for (k, x) in s.iter().enumerate() {
            assert_eq!(x.label, k as i32);
            assert_ring(&x.hull);
            let poly = polygon(&x.hull);
            for &i in &x.members {
                assert_eq!(c.labels[i], x.label);
                assert!(
                    poly.intersects(&Point::new(e.lon[i], e.lat[i])),
                    "cluster {k} member {i}"
                );
            }
            assert!(x.first <= x.last);
        }
        // Deterministic: the same again, whatever the thread count.
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("thread pool")
            .install(|| summarize(&e, &c));
        assert_eq!(one, s);
    }
}
