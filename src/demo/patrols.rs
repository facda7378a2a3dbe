//! The patrols layer: tracks leaving open bases along the corridors (vehicle),
//! loops around the base (foot), flights between bases (air) and rare river
//! patrols on the Ubangi at Bangui (boat).

use serde_json::{Map, Value};

use super::world::{self, stream, t, Road, PERIOD_DAYS, PERIOD_END, PERIOD_START, UBANGI};
use super::{feature, line_string, put_str, put_time, Marking, Scenario};
use crate::rng::{sin_cos, Rng};

/// Patrol modes (schema values).
pub(crate) const MODES: [&str; 4] = ["foot", "vehicle", "air", "boat"];
const FOOT: usize = 0;
const VEHICLE: usize = 1;
const AIR: usize = 2;
const BOAT: usize = 3;

/// Patrol kinds (schema values).
pub(crate) const KINDS: [&str; 8] = [
    "routine",
    "integrated",
    "joint-police",
    "robust",
    "escort",
    "market",
    "firewood",
    "water-route",
];
const JOINT_POLICE: usize = 2;
const ESCORT: usize = 4;

/// Vehicle patrols from bases further than this from a road drive a loop
/// through the bush instead of using a corridor.
const MAX_ROAD_LINK_KM: f64 = 25.0;

/// One patrol before serialisation.
#[derive(Debug, Clone)]
pub(crate) struct Patrol {
    /// Index of the base the patrol starts from (checked by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    pub base: usize,
    pub unit: String,
    pub mode: usize,
    pub kind: usize,
    pub night: bool,
    pub t0: i64,
    pub t1: i64,
    pub pts: Vec<[f64; 2]>,
    /// One time per vertex (about 30 % of patrols).
    pub vertex_times: Option<Vec<i64>>,
    pub marking: Marking,
}

impl Patrol {
    /// The GeoJSON feature for patrol number `index` (0-based).
    pub fn to_feature(&self, index: usize) -> Value {
        let mut p = Map::with_capacity(10);
        put_time(&mut p, "time_start", self.t0);
        put_time(&mut p, "time_end", self.t1);
        put_str(&mut p, "unit", &self.unit);
        put_str(&mut p, "mode", MODES[self.mode]);
        put_str(&mut p, "kind", KINDS[self.kind]);
        put_str(&mut p, "period", if self.night { "night" } else { "day" });
        if let Some(vt) = &self.vertex_times {
            p.insert(
                "vertex_times".into(),
                Value::Array(
                    vt.iter()
                        .map(|t| Value::from(world::fmt_time(*t)))
                        .collect(),
                ),
            );
        }
        self.marking.put(&mut p);
        feature(format!("pat-{:05}", index + 1), line_string(&self.pts), p)
    }
}

impl Scenario {
    /// Patrol number `i`, a pure function of `(seed, i)`.
    pub(crate) fn patrol(&self, i: usize) -> Patrol {
        let mut rng = Rng::for_item(self.seed, stream::PATROLS, i as u64);
        let night = rng.chance(0.2);
        // Up to the second-to-last day, so even a night patrol starting after
        // midnight ends well inside the period.
        let day = rng.range_i(0, PERIOD_DAYS - 2);
        let minute = if night {
            rng.range_i(18 * 60 + 30, 27 * 60) // 18:30 to 03:00 next day
        } else {
            rng.range_i(6 * 60, 16 * 60) // 06:00 to 16:00
        };
        let t0 = PERIOD_START + day * 86_400 + minute * 60;

        // Only bases open now and still open tomorrow (the patrol returns).
        let open = |b: &super::bases::Base| b.is_open(t0) && b.is_open(t0 + 86_400);
        let weights: Vec<f64> = self
            .bases
            .iter()
            .map(|b| if open(b) { b.patrol_weight } else { 0.0 })
            .collect();
        // The HQ is always open and patrols, so some weight is positive.
        let bi = rng.weighted(&weights);
        let base = &self.bases[bi];

        let air_dests: Vec<usize> = self
            .bases
            .iter()
            .enumerate()
            .filter(|(j, b)| {
                *j != bi && b.airstrip && open(b) && world::dist_km(b.pos, base.pos) > 30.0
            })
            .map(|(j, _)| j)
            .collect();
        let bangui_river = base.town == Some(t::BANGUI)
            && matches!(base.base_type, "mission-hq" | "cob" | "police-post");
        let foot_w: f64 = match base.base_type {
            "poc-site" => 1.0,
            "police-post" => 0.7,
            "team-site" => 0.5,
            "tob" | "scd" => 0.35,
            _ => 0.45,
        };
        let air_w = if base.airstrip && !night && !air_dests.is_empty() {
            0.06
        } else {
            0.0
        };
        let boat_w = if bangui_river && !night { 0.05 } else { 0.0 };
        let vehicle_w = if base.base_type == "poc-site" {
            0.0
        } else {
            (1.0 - foot_w - air_w - boat_w).max(0.0)
        };
        let mode = rng.weighted(&[foot_w, vehicle_w, air_w, boat_w]);

        let mut kw: [f64; 8] = match mode {
            FOOT => [40., 8., 10., 6., 0., 12., 12., 10.],
            VEHICLE => [50., 12., 8., 12., 15., 3., 0., 0.],
            AIR => [80., 20., 0., 0., 0., 0., 0., 0.],
            _ => [40., 0., 0., 0., 0., 0., 0., 60.],
        };
        if base.base_type == "police-post" {
            kw[JOINT_POLICE] = 40.0;
        }
        if base.base_type == "poc-site" {
            kw = [25., 5., 20., 0., 0., 10., 25., 20.];
        }
        if night {
            // Market, firewood and water escorts follow civilians' daytime routines.
            kw[5] = 0.0;
            kw[6] = 0.0;
            kw[7] = 0.0;
        }
        let kind = rng.weighted(&kw);

        let (pts, speed_kmh, pause) = match mode {
            FOOT => {
                let len = rng.range(3.0, 12.0);
                let pts = loop_track(&mut rng, base.pos, len, 0.6);
                (pts, rng.range(3.2, 4.8), rng.range(0.0, 0.3))
            }
            VEHICLE => {
                let len = rng.range(20.0, 80.0);
                let pts = self.vehicle_track(&mut rng, bi, len, kind == ESCORT);
                (pts, rng.range(18.0, 32.0), rng.range(0.0, 0.4))
            }
            AIR => {
                // Non-empty by the weight above.
                let dest = rng.pick(&air_dests).copied().unwrap_or(bi);
                let pts = air_track(&mut rng, base.pos, self.bases[dest].pos);
                (pts, rng.range(150.0, 220.0), rng.range(0.0, 0.1))
            }
            _ => {
                let len = rng.range(10.0, 40.0);
                let pts = boat_track(&mut rng, base.pos, len);
                (pts, rng.range(10.0, 18.0), rng.range(0.0, 0.3))
            }
        };

        let cum = world::cumulative_km(&pts);
        let len_km = cum.last().copied().unwrap_or(0.0);
        let secs = len_km / speed_kmh * (1.0 + pause) * 3600.0;
        let dur = ((secs / 60.0).ceil() as i64).max(20) * 60;
        let t1 = (t0 + dur).min(PERIOD_END);

        let vertex_times = rng.chance(0.3).then(|| {
            let mut vt: Vec<i64> = cum
                .iter()
                .map(|c| {
                    let f = if len_km > 0.0 { c / len_km } else { 0.0 };
                    t0 + ((t1 - t0) as f64 * f).round() as i64
                })
                .collect();
            if let Some(last) = vt.last_mut() {
                *last = t1;
            }
            vt
        });

        let mut unit = match mode {
            AIR => format!("AURAVN Heli Flt {}", rng.range_i(1, 2)),
            BOAT => "Riverine Unit (BOR)".to_string(),
            // Patrolling bases always have units; the fallback is unreachable.
            _ => rng
                .pick(&base.units)
                .cloned()
                .unwrap_or_else(|| base.name.clone()),
        };
        if kind == JOINT_POLICE && base.base_type != "police-post" && base.base_type != "poc-site" {
            unit.push_str(" + IPO");
        }
        let marking = if rng.chance(0.1) {
            Marking {
                owner: Some(["military", "mission"][rng.weighted(&[8.0, 2.0])]),
                classification: Some(
                    ["mission", "restricted", "public"][rng.weighted(&[6.0, 3.0, 1.0])],
                ),
            }
        } else {
            Marking::default()
        };
        Patrol {
            base: bi,
            unit,
            mode,
            kind,
            night,
            t0,
            t1,
            pts,
            vertex_times,
            marking,
        }
    }

    /// A vehicle track of about `len_km`: drive to the nearest corridor, follow
    /// it (turning at towns) and come back the same way, or keep going for an
    /// escort. Bases far from any road get a loop instead.
    fn vehicle_track(&self, rng: &mut Rng, bi: usize, len_km: f64, one_way: bool) -> Vec<[f64; 2]> {
        let base = &self.bases[bi];
        let (ri, vi, link) = base.road;
        if link > MAX_ROAD_LINK_KM {
            return loop_track(rng, base.pos, len_km, 3.0);
        }
        let target = if one_way { len_km } else { len_km / 2.0 };
        let along = (target - link).max(3.0);
        let forward = rng.chance(0.5);
        let walk = world::road_walk(&self.roads, &self.town_roads, (ri, vi, forward), along, rng);
        let mut out = vec![base.pos];
        out.extend(walk);
        let half_km = world::cumulative_km(&out).last().copied().unwrap_or(0.0);
        if one_way {
            let n = ((half_km / 3.0).round() as usize).clamp(5, 40);
            gps_noise(rng, world::resample(&out, n), false)
        } else {
            let n = ((half_km / 3.0).round() as usize).clamp(3, 20);
            out_and_back(rng, &world::resample(&out, n))
        }
    }
}

/// A roughly circular loop of about `len_km` starting and ending at `home`,
/// with a vertex every `step_km` or so (8 to 24 vertices).
fn loop_track(rng: &mut Rng, home: [f64; 2], len_km: f64, step_km: f64) -> Vec<[f64; 2]> {
    let n = ((len_km / step_km).round() as usize).clamp(8, 24);
    let r = len_km / (2.0 * std::f64::consts::PI);
    let th0 = rng.range(0.0, 2.0 * std::f64::consts::PI);
    let (s0, c0) = sin_cos(th0);
    let centre = world::offset_km(home, r * c0, r * s0);
    let dir = if rng.chance(0.5) { 1.0 } else { -1.0 };
    let mut pts = Vec::with_capacity(n);
    pts.push(home);
    for k in 1..n - 1 {
        let th = th0
            + std::f64::consts::PI
            + dir * 2.0 * std::f64::consts::PI * k as f64 / (n - 1) as f64;
        let rr = r * (1.0 + rng.gauss(0.0, 0.12)).clamp(0.6, 1.4);
        let (s, c) = sin_cos(th);
        pts.push(world::clamp_aor(world::offset_km(centre, rr * c, rr * s)));
    }
    pts.push(home);
    // The radius noise changes the perimeter: rescale about home so the loop
    // has the intended length (then keep it inside the AOR).
    let actual = world::cumulative_km(&pts).last().copied().unwrap_or(0.0);
    if actual > 0.0 {
        let f = len_km / actual;
        for p in &mut pts {
            *p = world::clamp_aor([
                home[0] + (p[0] - home[0]) * f,
                home[1] + (p[1] - home[1]) * f,
            ]);
        }
    }
    pts
}

/// The outbound track, then the same way back with independent GPS noise;
/// starts and ends exactly at the first point.
fn out_and_back(rng: &mut Rng, outbound: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut pts = gps_noise(rng, outbound.to_vec(), false);
    let back: Vec<[f64; 2]> = outbound.iter().rev().skip(1).copied().collect();
    pts.extend(gps_noise(rng, back, true));
    pts
}

/// Adds ~25 m of noise to every vertex except the first (and the last if
/// `keep_last`), as recorded tracks do.
fn gps_noise(rng: &mut Rng, mut pts: Vec<[f64; 2]>, keep_last: bool) -> Vec<[f64; 2]> {
    let n = pts.len();
    for (k, p) in pts.iter_mut().enumerate() {
        if k == 0 || (keep_last && k + 1 == n) {
            continue;
        }
        *p = world::jitter(rng, *p, 0.025);
    }
    pts
}

/// A flight between two bases: a gentle arc of 5 to 8 vertices.
fn air_track(rng: &mut Rng, a: [f64; 2], b: [f64; 2]) -> Vec<[f64; 2]> {
    let n = rng.range_i(5, 8) as usize;
    let (dx, dy) = world::delta_km(a, b);
    let bow = rng.range(-0.05, 0.05);
    (0..n)
        .map(|k| {
            let f = k as f64 / (n - 1) as f64;
            if k == 0 {
                return a;
            }
            if k == n - 1 {
                return b;
            }
            // Perpendicular offset, zero at both ends.
            let off = bow * 4.0 * f * (1.0 - f);
            world::clamp_aor(world::offset_km(world::lerp(a, b, f), -dy * off, dx * off))
        })
        .collect()
}

/// A river patrol of about `len_km`: to the Ubangi, along it and back.
fn boat_track(rng: &mut Rng, home: [f64; 2], len_km: f64) -> Vec<[f64; 2]> {
    // The river as a dead-end "road" (sentinel town indices never match a
    // real town, so the walk turns around at its ends).
    let river = Road {
        a: usize::MAX - 1,
        b: usize::MAX,
        pts: UBANGI.to_vec(),
        cum: world::cumulative_km(&UBANGI),
    };
    let (_, vi, link) = world::nearest_road_vertex(std::slice::from_ref(&river), home);
    let along = (len_km / 2.0 - link).max(3.0);
    let forward = rng.chance(0.5);
    let walk = world::road_walk(
        std::slice::from_ref(&river),
        &[],
        (0, vi, forward),
        along,
        rng,
    );
    let mut out = vec![home];
    out.extend(walk);
    let half_km = world::cumulative_km(&out).last().copied().unwrap_or(0.0);
    let n = ((half_km / 2.0).round() as usize).clamp(3, 10);
    out_and_back(rng, &world::resample(&out, n))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{common, one_of, secs, small};
    use super::*;

    #[test]
    fn patrols_follow_the_schema() {
        let s = small();
        let feats = s.patrols();
        assert_eq!(feats.len(), 600);
        let mut night = 0;
        let mut with_times = 0;
        for f in &feats {
            let p = common(f, "pat-");
            assert_eq!(f["geometry"]["type"], "LineString");
            one_of(p, "mode", &MODES);
            one_of(p, "kind", &KINDS);
            one_of(p, "period", &["day", "night"]);
            // Night means a start between 18:00 and 05:59 UTC.
            let hour = (secs(&p["time_start"]) / 3600) % 24;
            let is_night = !(6..18).contains(&hour);
            assert_eq!(p["period"] == "night", is_night);
            assert!(p["unit"].as_str().is_some_and(|u| !u.is_empty()));
            let t0 = secs(&p["time_start"]);
            let t1 = secs(&p["time_end"]);
            assert!(t1 > t0);
            let coords = f["geometry"]["coordinates"].as_array().expect("coords");
            assert!(
                (5..=40).contains(&coords.len()),
                "{} vertices",
                coords.len()
            );
            if let Some(vt) = p.get("vertex_times") {
                with_times += 1;
                let vt: Vec<i64> = vt.as_array().expect("array").iter().map(secs).collect();
                assert_eq!(vt.len(), coords.len());
                assert!(vt.windows(2).all(|w| w[0] <= w[1]));
                assert_eq!(vt.first(), Some(&t0));
                assert_eq!(vt.last(), Some(&t1));
            }
            night += usize::from(p["period"] == "night");
        }
        assert!((60..=180).contains(&night), "{night} night patrols");
        assert!(
            (120..=240).contains(&with_times),
            "{with_times} with vertex_times"
        );
    }

    #[test]
    fn patrols_start_at_an_open_base_and_are_plausible() {
        let s = small();
        let mut modes = [0usize; 4];
        for i in 0..s.patrol_count() {
            let p = s.patrol(i);
            let b = &s.bases[p.base];
            assert!(b.is_open(p.t0) && b.is_open(p.t1), "{} closed", b.id);
            assert!(b.patrol_weight > 0.0);
            assert_eq!(p.pts[0], b.pos);
            let len = world::cumulative_km(&p.pts).last().copied().unwrap_or(0.0);
            let hours = (p.t1 - p.t0) as f64 / 3600.0;
            let speed = len / hours;
            match p.mode {
                FOOT => {
                    assert!((2.5..12.5).contains(&len), "foot {len} km");
                    assert!(speed < 5.0, "foot {speed} km/h");
                    assert_eq!(p.pts.last(), Some(&b.pos));
                }
                VEHICLE => {
                    assert!((12.0..110.0).contains(&len), "vehicle {len} km");
                    assert!(speed < 33.0, "vehicle {speed} km/h");
                }
                AIR => assert!(len > 25.0 && speed < 230.0),
                _ => {
                    assert_eq!(b.town, Some(t::BANGUI));
                    assert!(speed < 19.0);
                }
            }
            modes[p.mode] += 1;
        }
        assert!(modes[FOOT] > 150 && modes[VEHICLE] > 150, "{modes:?}");
        assert!(modes[AIR] > 5, "{modes:?}");
    }

    #[test]
    fn boats_exist_in_larger_scenarios() {
        let s = Scenario::new(&super::super::DemoConfig {
            seed: 11,
            incidents: 200_000,
        });
        let boats = (0..s.patrol_count())
            .filter(|i| s.patrol(*i).mode == BOAT)
            .count();
        assert!(boats > 0 && boats < s.patrol_count() / 50, "{boats}");
    }
}
