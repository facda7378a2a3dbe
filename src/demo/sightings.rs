//! The sightings layer: reported armed-group presence (military information),
//! clustered in the groups' home areas and along the nearby corridors.

use serde_json::{Map, Value};

use super::world::{self, stream, PERIOD_END, PERIOD_START};
use super::{feature, point, put_str, put_time, Marking, Scenario, ACTIVITIES, RELIABILITY};
use crate::rng::Rng;

/// One sighting before serialisation.
#[derive(Debug, Clone)]
pub(crate) struct Sighting {
    pub pos: [f64; 2],
    pub t0: i64,
    pub t1: Option<i64>,
    pub actor: &'static str,
    pub strength: Option<u64>,
    pub activity: usize,
    pub reliability: usize,
    pub credibility: u8,
    pub marking: Marking,
}

impl Sighting {
    /// The GeoJSON feature for sighting number `index` (0-based).
    pub fn to_feature(&self, index: usize) -> Value {
        let mut p = Map::with_capacity(10);
        put_time(&mut p, "time_start", self.t0);
        if let Some(t1) = self.t1 {
            put_time(&mut p, "time_end", t1);
        }
        put_str(&mut p, "actor", self.actor);
        if let Some(n) = self.strength {
            p.insert("strength".into(), Value::from(n));
        }
        put_str(&mut p, "activity", ACTIVITIES[self.activity]);
        put_str(&mut p, "source_reliability", RELIABILITY[self.reliability]);
        p.insert("info_credibility".into(), Value::from(self.credibility));
        self.marking.put(&mut p);
        feature(format!("sig-{:05}", index + 1), point(self.pos), p)
    }
}

impl Scenario {
    /// Sighting number `i`, a pure function of `(seed, i)`.
    pub(crate) fn sighting(&self, i: usize) -> Sighting {
        let mut rng = Rng::for_item(self.seed, stream::SIGHTINGS, i as u64);
        let gi = self.group_table.sample(&mut rng);
        let g = &self.groups[gi];

        // Where: home villages, the home area at large, nearby roads, or
        // (rarely) further out on the group's movement range.
        let pos = match rng.weighted(&[0.35, 0.25, 0.3, 0.1]) {
            0 => {
                let v = g.villages[g.village_table.sample(&mut rng)];
                world::jitter(&mut rng, v, 3.0)
            }
            1 => world::jitter(&mut rng, g.centre, g.radius_km * 0.5),
            2 => {
                let p = self.road_point_near(&mut rng, g.centre, g.radius_km * 1.5);
                world::jitter(&mut rng, p, 1.0)
            }
            _ => world::random_in_disc(&mut rng, g.centre, g.radius_km * 2.0),
        };

        let day = g.days.sample(&mut rng) as i64;
        let t0 = PERIOD_START + day * 86_400 + rng.range_i(0, 24 * 60 - 1) * 60;

        let activity = rng.weighted(&g.activities);
        let base = g.strength;
        let strength = match activity {
            0 => 2 + rng.geometric(base * 0.4),
            1 => 10 + rng.geometric(base * 1.2),
            2 => 2 + rng.geometric(6.0),
            3 => 5 + rng.geometric(base * 0.8),
            4 => 3 + rng.geometric(base * 0.3),
            5 | 6 => 2 + rng.geometric(5.0),
            _ => rng.geometric(8.0),
        };
        // Not every report gives a head count.
        let strength = (!rng.chance(0.1)).then_some(strength.min(2000));

        // Camps and checkpoints persist for days; movements last hours.
        let t1 = match activity {
            1 if rng.chance(0.6) => Some(t0 + rng.range_i(2, 30) * 86_400),
            2 if rng.chance(0.5) => Some(t0 + rng.range_i(1, 14) * 86_400),
            0 if rng.chance(0.2) => Some(t0 + rng.range_i(1, 8) * 3600),
            _ => None,
        }
        .map(|t| t.min(PERIOD_END));

        let reliability = rng.weighted(&[3.0, 25.0, 35.0, 20.0, 7.0, 10.0]);
        // Credibility loosely follows reliability (1 = confirmed ... 6 = cannot judge).
        let credibility = if reliability == 5 {
            6
        } else {
            (rng.weighted(&[5.0, 25.0, 35.0, 20.0, 8.0]) + 1).min(5) as u8
        };
        let marking = if rng.chance(0.1) {
            Marking {
                owner: Some(["military", "mission", "hr"][rng.weighted(&[7.0, 2.0, 1.0])]),
                classification: Some(
                    ["mission", "restricted", "public", "strictly-confidential"]
                        [rng.weighted(&[50.0, 40.0, 5.0, 5.0])],
                ),
            }
        } else {
            Marking::default()
        };
        Sighting {
            pos,
            t0,
            t1,
            actor: g.name,
            strength,
            activity,
            reliability,
            credibility,
            marking,
        }
    }

    /// A point on a road, favouring roads near `c` (weight falls off beyond
    /// `scale_km`) and positions near `c` along them.
    pub(crate) fn road_point_near(&self, rng: &mut Rng, c: [f64; 2], scale_km: f64) -> [f64; 2] {
        let weights: Vec<f64> = self
            .roads
            .iter()
            .map(|r| {
                let (_, _, d) = nearest_on(r, c);
                let x = d / scale_km;
                r.len_km() / (1.0 + x * x * x * x)
            })
            .collect();
        let r = &self.roads[rng.weighted(&weights)];
        let (_, d_along, _) = nearest_on(r, c);
        let d = d_along + rng.gauss(0.0, scale_km * 0.5);
        r.point_at(d.clamp(0.0, r.len_km()))
    }
}

/// The vertex of `r` nearest to `c`: `(vertex, km along the road, distance)`.
fn nearest_on(r: &world::Road, c: [f64; 2]) -> (usize, f64, f64) {
    let mut best = (0, 0.0, f64::INFINITY);
    for (i, p) in r.pts.iter().enumerate() {
        let d = world::dist_km(*p, c);
        if d < best.2 {
            best = (i, r.cum[i], d);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{common, one_of, small};
    use super::*;

    #[test]
    fn sightings_follow_the_schema() {
        let s = small();
        let sig = s.sightings();
        assert_eq!(sig.len(), 300);
        let names: Vec<&str> = s.groups.iter().map(|g| g.name).collect();
        let mut with_end = 0;
        for f in &sig {
            let p = common(f, "sig-");
            assert_eq!(f["geometry"]["type"], "Point");
            let actor = p["actor"].as_str().expect("actor");
            assert!(names.contains(&actor));
            assert!(actor.contains("(fictional)"));
            if let Some(n) = p.get("strength") {
                assert!(n.as_u64().is_some());
            }
            one_of(p, "activity", &ACTIVITIES);
            one_of(p, "source_reliability", &RELIABILITY);
            let c = p["info_credibility"].as_u64().expect("credibility");
            assert!((1..=6).contains(&c));
            with_end += usize::from(p.contains_key("time_end"));
        }
        assert!(with_end > 10);
    }

    #[test]
    fn sightings_scale_and_are_deterministic() {
        let s = Scenario::new(&super::super::DemoConfig {
            seed: 3,
            incidents: 20_000,
        });
        assert_eq!(s.sightings().len(), 1000);
        assert_eq!(s.sightings(), s.sightings());
        // Counter-based: sighting i is the same whatever the layer size.
        let t = small();
        let u = Scenario::new(&super::super::DemoConfig {
            seed: 7,
            incidents: 100_000,
        });
        assert_eq!(t.sighting(5).to_feature(5), u.sighting(5).to_feature(5));
    }
}
