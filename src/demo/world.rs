//! The static synthetic world: area, period, towns, roads and armed groups,
//! plus the small geometry and time helpers the layer generators share.
//!
//! Town coordinates are real (approximate) so that the demo looks plausible on
//! a base map; everything else (road geometry, armed groups, events) is
//! invented.

use crate::rng::{cos, Rng, Table};

/// Area of responsibility: `[min_lon, min_lat, max_lon, max_lat]`.
pub(crate) const AOR: [f64; 4] = [15.6, 4.2, 21.0, 7.8];

/// 2024-01-01T00:00:00Z.
pub(crate) const PERIOD_START: i64 = 1_704_067_200;
/// Number of days in the scenario (2024 is a leap year).
pub(crate) const PERIOD_DAYS: i64 = 731;
/// 2025-12-31T23:59:59Z, the last second of the scenario (inclusive).
pub(crate) const PERIOD_END: i64 = PERIOD_START + PERIOD_DAYS * 86_400 - 1;

/// Seed of the parts of the world that do not move with the scenario seed
/// (road geometry): roads are geography, not events.
const WORLD_SEED: u64 = 0x4A4F_494E_544D_4150; // "JOINTMAP"

/// Stream identifiers for [`Rng::for_item`]; never renumber (output would change).
pub(crate) mod stream {
    pub const ROADS: u64 = 1;
    pub const GROUPS: u64 = 2;
    pub const FLARES: u64 = 3;
    pub const BASES: u64 = 4;
    pub const SIGHTINGS: u64 = 5;
    pub const PATROLS: u64 = 6;
    pub const INCIDENTS: u64 = 7;
    pub const SITES: u64 = 8;
    pub const ESCALATION: u64 = 9;
}

const KM_PER_DEG_LAT: f64 = 110.574;
const KM_PER_DEG_LON_EQ: f64 = 111.320;

/// A town: real name and approximate position; `weight` is its relative size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Town {
    pub name: &'static str,
    pub pos: [f64; 2],
    pub weight: f64,
}

/// Towns of the AOR. Indices are used by [`ROAD_EDGES`] and the base lists.
pub(crate) const TOWNS: [Town; 17] = [
    town("Bangui", 18.555, 4.365, 10.0),
    town("Bossangoa", 17.45, 6.49, 4.0),
    town("Bozoum", 16.38, 6.32, 3.0),
    town("Bouar", 15.60, 5.93, 4.0),
    town("Bossembele", 17.65, 5.27, 2.0),
    town("Kaga-Bandoro", 19.18, 6.99, 4.0),
    town("Sibut", 19.08, 5.72, 2.5),
    town("Bambari", 20.67, 5.76, 5.0),
    town("Batangafo", 18.30, 7.30, 2.5),
    town("Paoua", 16.44, 7.24, 3.0),
    town("Bocaranga", 15.64, 6.99, 2.0),
    town("Yaloke", 17.09, 5.32, 2.0),
    town("Damara", 18.70, 4.96, 2.0),
    town("Dekoa", 19.07, 6.32, 1.5),
    town("Grimari", 20.05, 5.73, 1.5),
    town("Markounda", 17.00, 7.62, 1.0),
    town("Kabo", 18.62, 7.70, 1.5),
];

const fn town(name: &'static str, lon: f64, lat: f64, weight: f64) -> Town {
    Town {
        name,
        pos: [lon, lat],
        weight,
    }
}

/// Town indices (see [`TOWNS`]).
pub(crate) mod t {
    pub const BANGUI: usize = 0;
    pub const BOSSANGOA: usize = 1;
    pub const BOZOUM: usize = 2;
    pub const BOUAR: usize = 3;
    pub const BOSSEMBELE: usize = 4;
    pub const KAGA_BANDORO: usize = 5;
    pub const SIBUT: usize = 6;
    pub const BAMBARI: usize = 7;
    pub const BATANGAFO: usize = 8;
    pub const PAOUA: usize = 9;
    pub const BOCARANGA: usize = 10;
    pub const YALOKE: usize = 11;
    pub const DAMARA: usize = 12;
    pub const DEKOA: usize = 13;
    pub const GRIMARI: usize = 14;
    pub const MARKOUNDA: usize = 15;
    pub const KABO: usize = 16;
}

/// Road corridors as town pairs (the main axes of the AOR).
pub(crate) const ROAD_EDGES: [(usize, usize); 17] = [
    (t::BANGUI, t::DAMARA),
    (t::DAMARA, t::SIBUT),
    (t::SIBUT, t::DEKOA),
    (t::DEKOA, t::KAGA_BANDORO),
    (t::SIBUT, t::GRIMARI),
    (t::GRIMARI, t::BAMBARI),
    (t::BANGUI, t::BOSSEMBELE),
    (t::BOSSEMBELE, t::YALOKE),
    (t::YALOKE, t::BOZOUM),
    (t::BOZOUM, t::BOUAR),
    (t::BOSSEMBELE, t::BOSSANGOA),
    (t::BOSSANGOA, t::BATANGAFO),
    (t::BATANGAFO, t::KABO),
    (t::BOZOUM, t::PAOUA),
    (t::BOZOUM, t::BOCARANGA),
    (t::BOSSANGOA, t::MARKOUNDA),
    (t::KAGA_BANDORO, t::BATANGAFO),
];

/// A rough synthetic trace of the Ubangi river at Bangui (for boat patrols).
pub(crate) const UBANGI: [[f64; 2]; 7] = [
    [18.42, 4.22],
    [18.47, 4.27],
    [18.52, 4.32],
    [18.57, 4.355],
    [18.64, 4.37],
    [18.72, 4.385],
    [18.81, 4.40],
];

/// A road: a jittered polyline between two towns with cumulative lengths.
#[derive(Debug, Clone)]
pub(crate) struct Road {
    pub a: usize,
    pub b: usize,
    pub pts: Vec<[f64; 2]>,
    /// `cum[i]` = length in km from `pts[0]` to `pts[i]`.
    pub cum: Vec<f64>,
}

impl Road {
    /// Total length in km.
    pub fn len_km(&self) -> f64 {
        self.cum.last().copied().unwrap_or(0.0)
    }

    /// The point `d` km from the start (clamped to the road).
    pub fn point_at(&self, d: f64) -> [f64; 2] {
        point_along(&self.pts, &self.cum, d)
    }
}

/// Builds the road network: each edge gets a few intermediate vertices with
/// a smooth lateral wiggle so the corridors do not look like ruler lines.
pub(crate) fn build_roads() -> Vec<Road> {
    ROAD_EDGES
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| {
            let mut rng = Rng::for_item(WORLD_SEED, stream::ROADS, i as u64);
            let pa = TOWNS[a].pos;
            let pb = TOWNS[b].pos;
            let len = dist_km(pa, pb);
            let n_mid = ((len / 25.0).round() as usize).clamp(2, 6);
            let mut pts = Vec::with_capacity(n_mid + 2);
            pts.push(pa);
            // Unit normal in km space, for the lateral offsets.
            let (dx, dy) = delta_km(pa, pb);
            let (nx, ny) = if len > 0.0 {
                (-dy / len, dx / len)
            } else {
                (0.0, 0.0)
            };
            let amp = len * 0.04;
            let phase = rng.range(0.0, 1.0);
            for k in 1..=n_mid {
                let f = k as f64 / (n_mid + 1) as f64 + rng.range(-0.3, 0.3) / (n_mid + 1) as f64;
                // Tapered so the road still meets the towns head-on.
                let taper = 4.0 * f * (1.0 - f);
                let off =
                    amp * taper * (rng.gauss(0.0, 0.6) + if phase < 0.5 { 0.5 } else { -0.5 });
                let base = lerp(pa, pb, f);
                pts.push(clamp_aor(offset_km(base, nx * off, ny * off)));
            }
            pts.push(pb);
            let cum = cumulative_km(&pts);
            Road { a, b, pts, cum }
        })
        .collect()
}

/// A fictional armed group with its home area, repertoire and seasonality.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub name: &'static str,
    pub centre: [f64; 2],
    pub radius_km: f64,
    /// Relative activity level among groups.
    pub weight: f64,
    /// Weights over [`super::CATEGORIES`].
    pub categories: [f64; 12],
    /// Weights over [`super::ACTIVITIES`].
    pub activities: [f64; 8],
    /// Typical fighters in an armed movement.
    pub strength: f64,
    /// Villages where the group's incidents cluster, with Zipf-like weights.
    pub villages: Vec<[f64; 2]>,
    pub village_table: Table,
    /// Activity per day of the scenario (season, peak month, trend).
    pub days: Table,
    /// Raw per-day weights (kept to build the combined curve).
    pub day_weights: Vec<f64>,
}

struct GroupSpec {
    name: &'static str,
    centre: [f64; 2],
    radius_km: f64,
    weight: f64,
    peak_month: f64,
    trend: f64,
    categories: [f64; 12],
    activities: [f64; 8],
    strength: f64,
}

/// The fictional armed groups. Category order: killing, injury, abduction,
/// sexual-violence, attack-on-civilian-site, looting-burning,
/// forced-displacement, child-recruitment, arbitrary-detention,
/// threat-intimidation, explosive-ordnance, other. Activity order: movement,
/// encampment, checkpoint, attack, looting, recruitment, taxation, other.
const GROUP_SPECS: [GroupSpec; 4] = [
    GroupSpec {
        name: "Front Alpha (fictional)",
        centre: [16.15, 7.0],
        radius_km: 55.0,
        weight: 1.0,
        peak_month: 2.0,
        trend: 0.25,
        categories: [18., 10., 8., 6., 4., 20., 14., 3., 2., 10., 1., 4.],
        activities: [30., 15., 20., 10., 10., 3., 10., 2.],
        strength: 40.0,
    },
    GroupSpec {
        name: "Mouvement Bravo (fictional)",
        centre: [18.75, 7.1],
        radius_km: 65.0,
        weight: 1.2,
        peak_month: 3.0,
        trend: -0.2,
        categories: [16., 10., 15., 10., 8., 10., 10., 8., 3., 7., 1., 2.],
        activities: [30., 20., 15., 12., 8., 8., 5., 2.],
        strength: 60.0,
    },
    GroupSpec {
        name: "Coalition Charlie (fictional)",
        centre: [20.35, 5.95],
        radius_km: 50.0,
        weight: 0.9,
        peak_month: 1.0,
        trend: 0.4,
        categories: [20., 12., 6., 8., 6., 14., 16., 4., 2., 6., 4., 2.],
        activities: [35., 15., 15., 15., 10., 4., 4., 2.],
        strength: 50.0,
    },
    GroupSpec {
        name: "Milice Delta (fictional)",
        centre: [17.35, 6.1],
        radius_km: 45.0,
        weight: 0.7,
        peak_month: 4.0,
        trend: 0.0,
        categories: [22., 18., 5., 5., 5., 15., 10., 5., 1., 12., 0., 2.],
        activities: [25., 10., 25., 15., 10., 5., 8., 2.],
        strength: 25.0,
    },
];

/// Builds the groups: static parameters plus seeded villages and the
/// per-day activity curve.
pub(crate) fn build_groups(seed: u64) -> Vec<Group> {
    GROUP_SPECS
        .iter()
        .enumerate()
        .map(|(gi, spec)| {
            let mut rng = Rng::for_item(seed, stream::GROUPS, gi as u64);
            let villages: Vec<[f64; 2]> = (0..10)
                .map(|_| random_in_disc(&mut rng, spec.centre, spec.radius_km * 0.95))
                .collect();
            let vw: Vec<f64> = (0..villages.len())
                .map(|k| 1.0 / (k as f64 + 1.0))
                .collect();
            let day_weights: Vec<f64> = (0..PERIOD_DAYS)
                .map(|d| day_weight(d, spec.peak_month, spec.trend))
                .collect();
            Group {
                name: spec.name,
                centre: spec.centre,
                radius_km: spec.radius_km,
                weight: spec.weight,
                categories: spec.categories,
                activities: spec.activities,
                strength: spec.strength,
                village_table: Table::new(&vw),
                villages,
                days: Table::new(&day_weights),
                day_weights,
            }
        })
        .collect()
}

/// Relative activity on scenario day `d`: dry season (December-April) is
/// busier, each group has a peak month, and a linear trend over the period.
fn day_weight(d: i64, peak_month: f64, trend: f64) -> f64 {
    let (_, month, _) = civil_from_days(PERIOD_START / 86_400 + d);
    let doy = (d % 365) as f64 / 365.0;
    let dry = if month == 12 || month <= 4 { 1.35 } else { 0.8 };
    let peak = 1.0 + 0.25 * cos(2.0 * std::f64::consts::PI * (doy - (peak_month - 0.5) / 12.0));
    let progress = d as f64 / (PERIOD_DAYS - 1) as f64;
    let tr = 1.0 + trend * (2.0 * progress - 1.0);
    dry * peak * tr.max(0.05)
}

/// A point uniformly distributed in a disc of `radius_km` around `c`, kept in
/// the AOR by rejection (then clamping as a last resort).
pub(crate) fn random_in_disc(rng: &mut Rng, c: [f64; 2], radius_km: f64) -> [f64; 2] {
    for _ in 0..16 {
        let r = radius_km * rng.f64().sqrt();
        let th = rng.range(0.0, 2.0 * std::f64::consts::PI);
        let (s, co) = crate::rng::sin_cos(th);
        let p = offset_km(c, r * co, r * s);
        if in_aor(p) {
            return p;
        }
    }
    clamp_aor(c)
}

/// `p` displaced by a 2-D Gaussian of `sigma_km`, kept in the AOR by
/// rejection (then clamping) so edge towns do not pile points on the border.
pub(crate) fn jitter(rng: &mut Rng, p: [f64; 2], sigma_km: f64) -> [f64; 2] {
    if sigma_km <= 0.0 {
        return clamp_aor(p);
    }
    for _ in 0..8 {
        let q = offset_km(p, rng.gauss(0.0, sigma_km), rng.gauss(0.0, sigma_km));
        if in_aor(q) {
            return q;
        }
    }
    clamp_aor(p)
}

/// `p` moved by `dx_km` east and `dy_km` north (local flat-earth approximation).
pub(crate) fn offset_km(p: [f64; 2], dx_km: f64, dy_km: f64) -> [f64; 2] {
    let lat = p[1] + dy_km / KM_PER_DEG_LAT;
    let coslat = cos(p[1].to_radians()).max(0.1);
    [p[0] + dx_km / (KM_PER_DEG_LON_EQ * coslat), lat]
}

/// East/north displacement from `a` to `b` in km.
pub(crate) fn delta_km(a: [f64; 2], b: [f64; 2]) -> (f64, f64) {
    let coslat = cos(((a[1] + b[1]) * 0.5).to_radians());
    (
        (b[0] - a[0]) * KM_PER_DEG_LON_EQ * coslat,
        (b[1] - a[1]) * KM_PER_DEG_LAT,
    )
}

/// Distance in km (equirectangular; ample at these scales).
pub(crate) fn dist_km(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = delta_km(a, b);
    (dx * dx + dy * dy).sqrt()
}

/// Linear interpolation between two points.
pub(crate) fn lerp(a: [f64; 2], b: [f64; 2], f: f64) -> [f64; 2] {
    [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f]
}

/// Cumulative lengths in km along a polyline (first entry 0).
pub(crate) fn cumulative_km(pts: &[[f64; 2]]) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cum = Vec::with_capacity(pts.len());
    for (i, p) in pts.iter().enumerate() {
        if i > 0 {
            acc += dist_km(pts[i - 1], *p);
        }
        cum.push(acc);
    }
    cum
}

/// The point `d` km along a polyline with cumulative lengths `cum`.
pub(crate) fn point_along(pts: &[[f64; 2]], cum: &[f64], d: f64) -> [f64; 2] {
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return [AOR[0], AOR[1]];
    };
    if d <= 0.0 {
        return *first;
    }
    let i = cum.partition_point(|c| *c < d);
    if i == 0 {
        return *first;
    }
    if i >= pts.len() {
        return *last;
    }
    let seg = cum[i] - cum[i - 1];
    let f = if seg > 0.0 {
        (d - cum[i - 1]) / seg
    } else {
        0.0
    };
    lerp(pts[i - 1], pts[i], f)
}

/// Resamples a polyline to `n >= 2` points evenly spaced along its length
/// (keeps both ends exactly).
pub(crate) fn resample(pts: &[[f64; 2]], n: usize) -> Vec<[f64; 2]> {
    let cum = cumulative_km(pts);
    let total = cum.last().copied().unwrap_or(0.0);
    let n = n.max(2);
    let mut out: Vec<[f64; 2]> = (0..n)
        .map(|k| point_along(pts, &cum, total * k as f64 / (n - 1) as f64))
        .collect();
    if let (Some(o), Some(p)) = (out.last_mut(), pts.last()) {
        *o = *p;
    }
    out
}

/// Whether `p` lies in the AOR (inclusive).
pub(crate) fn in_aor(p: [f64; 2]) -> bool {
    p[0] >= AOR[0] && p[0] <= AOR[2] && p[1] >= AOR[1] && p[1] <= AOR[3]
}

/// `p` clamped into the AOR.
pub(crate) fn clamp_aor(p: [f64; 2]) -> [f64; 2] {
    [p[0].clamp(AOR[0], AOR[2]), p[1].clamp(AOR[1], AOR[3])]
}

/// Rounds to 5 decimals (about 1 m), the precision written to GeoJSON.
pub(crate) fn round5(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

/// Walks the road network from vertex `v` of road `r` for `target_km`,
/// heading towards the road's end (`forward`) or its start. At a town the
/// walk turns onto another road at random; it stops early at a dead end.
/// Returns the visited points, the last one at `target_km` unless stopped.
pub(crate) fn road_walk(
    roads: &[Road],
    town_roads: &[Vec<usize>],
    start: (usize, usize, bool),
    target_km: f64,
    rng: &mut Rng,
) -> Vec<[f64; 2]> {
    let (mut r, mut v, mut fwd) = start;
    let mut out = Vec::new();
    let Some(road) = roads.get(r) else {
        return out;
    };
    let Some(&p0) = road.pts.get(v) else {
        return out;
    };
    out.push(p0);
    let mut done = 0.0;
    // Bounded: each step advances one vertex; 10k vertices is far beyond any walk.
    for _ in 0..10_000 {
        let road = &roads[r];
        let next = if fwd {
            Some(v + 1).filter(|n| *n < road.pts.len())
        } else {
            v.checked_sub(1)
        };
        match next {
            Some(n) => {
                let (p, q) = (road.pts[v], road.pts[n]);
                let seg = dist_km(p, q);
                if done + seg >= target_km && seg > 0.0 {
                    out.push(lerp(p, q, (target_km - done) / seg));
                    return out;
                }
                done += seg;
                if seg > 0.0 {
                    out.push(q);
                }
                v = n;
            }
            None => {
                let town = if fwd { road.b } else { road.a };
                let options: Vec<usize> = town_roads
                    .get(town)
                    .map(|rs| rs.iter().copied().filter(|x| *x != r).collect())
                    .unwrap_or_default();
                // A dead end ends the walk, unless the walk starts there
                // heading out of the network (then it turns around).
                if options.is_empty() && done > 0.0 {
                    return out;
                }
                r = rng.pick(&options).copied().unwrap_or(r);
                fwd = roads[r].a == town;
                v = if fwd { 0 } else { roads[r].pts.len() - 1 };
            }
        }
    }
    out
}

/// For each town, the indices of roads ending there.
pub(crate) fn town_roads(roads: &[Road]) -> Vec<Vec<usize>> {
    let mut tr = vec![Vec::new(); TOWNS.len()];
    for (i, r) in roads.iter().enumerate() {
        tr[r.a].push(i);
        tr[r.b].push(i);
    }
    tr
}

/// The road vertex nearest to `p`: `(road, vertex, distance_km)`.
pub(crate) fn nearest_road_vertex(roads: &[Road], p: [f64; 2]) -> (usize, usize, f64) {
    let mut best = (0, 0, f64::INFINITY);
    for (ri, r) in roads.iter().enumerate() {
        for (vi, q) in r.pts.iter().enumerate() {
            let d = dist_km(p, *q);
            if d < best.2 {
                best = (ri, vi, d);
            }
        }
    }
    best
}

/// The nearest town index to `p`.
pub(crate) fn nearest_town(p: [f64; 2]) -> usize {
    let mut best = (0, f64::INFINITY);
    for (i, t) in TOWNS.iter().enumerate() {
        let d = dist_km(p, t.pos);
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

/// Days since 1970-01-01 to `(year, month, day)` (Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats Unix seconds as RFC 3339 UTC (`2024-03-05T14:30:00Z`).
///
/// Hand-rolled rather than via chrono: it is on the hot path of the incident
/// generator and its output can never change with a dependency upgrade.
pub(crate) fn fmt_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        y,
        m,
        d,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_constants() {
        assert_eq!(fmt_time(PERIOD_START), "2024-01-01T00:00:00Z");
        assert_eq!(fmt_time(PERIOD_END), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn fmt_time_matches_chrono() {
        let mut rng = Rng::new(1);
        for _ in 0..2000 {
            let s = PERIOD_START - 86_400 * 400 + rng.below(86_400 * 1500) as i64;
            let c = chrono::DateTime::from_timestamp(s, 0)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            assert_eq!(Some(fmt_time(s)), c);
        }
    }

    #[test]
    fn towns_and_roads_inside_aor() {
        for t in TOWNS {
            assert!(in_aor(t.pos), "{}", t.name);
        }
        let roads = build_roads();
        assert_eq!(roads.len(), ROAD_EDGES.len());
        for r in &roads {
            assert!(r.pts.iter().all(|p| in_aor(*p)));
            assert_eq!(r.pts[0], TOWNS[r.a].pos);
            assert_eq!(*r.pts.last().unwrap_or(&[0.0, 0.0]), TOWNS[r.b].pos);
            assert!(r.len_km() > 20.0 && r.len_km() < 300.0, "{}", r.len_km());
        }
        for p in UBANGI {
            assert!(in_aor(p));
        }
        // Every town is on the network.
        let tr = town_roads(&roads);
        assert!(tr.iter().all(|v| !v.is_empty()));
    }

    #[test]
    fn road_walk_reaches_target() {
        let roads = build_roads();
        let tr = town_roads(&roads);
        let mut rng = Rng::new(5);
        for target in [5.0, 40.0, 150.0] {
            let pts = road_walk(&roads, &tr, (0, 0, true), target, &mut rng);
            let cum = cumulative_km(&pts);
            let len = cum.last().copied().unwrap_or(0.0);
            // Interpolating in degrees is not exactly linear in km.
            assert!((len - target).abs() < 1e-3 * target, "{len} vs {target}");
        }
        // Batangafo-Kabo: Kabo is a dead end, so the walk stops there...
        let kabo = 12;
        assert_eq!(roads[kabo].b, t::KABO);
        let pts = road_walk(&roads, &tr, (kabo, 0, true), 1000.0, &mut rng);
        let len = cumulative_km(&pts).last().copied().unwrap_or(0.0);
        assert!((len - roads[kabo].len_km()).abs() < 1e-6);
        // ...but a walk starting at Kabo and heading out turns around.
        let last = roads[kabo].pts.len() - 1;
        let pts = road_walk(&roads, &tr, (kabo, last, true), 10.0, &mut rng);
        let len = cumulative_km(&pts).last().copied().unwrap_or(0.0);
        assert!((len - 10.0).abs() < 0.01, "{len}");
    }

    #[test]
    fn resample_keeps_ends() {
        let pts = [[16.0, 5.0], [16.1, 5.0], [16.1, 5.2]];
        let r = resample(&pts, 7);
        assert_eq!(r.len(), 7);
        assert_eq!(r[0], pts[0]);
        assert_eq!(r[6], pts[2]);
    }

    #[test]
    fn groups_have_villages_inside() {
        let g = build_groups(1);
        assert_eq!(g.len(), 4);
        for grp in &g {
            assert!(grp.villages.iter().all(|p| in_aor(*p)));
            assert_eq!(grp.days.len(), PERIOD_DAYS as usize);
        }
    }
}
