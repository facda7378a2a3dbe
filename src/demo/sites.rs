//! The sites layer: civilian sites, the vulnerability layer of the blind-spot
//! analysis. The towns themselves; markets, schools, health posts, places of
//! worship and boreholes in them; about forty villages along the corridors and
//! in the armed groups' home areas; six to ten IDP sites, most next to towns
//! with a base and some far from any base; and two artisanal gold mines.
//!
//! Town populations are rough orders of magnitude of the real towns; village
//! names are invented; everything else is synthetic.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::bases::ring;
use super::world::{self, stream, t, PERIOD_DAYS, PERIOD_START, TOWNS};
use super::{feature, point, polygon, put_str, put_time, Marking, Scenario};
use crate::rng::Rng;

/// Site kinds (schema values; the generator writes literals, tests check them).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const SITE_KINDS: [&str; 9] = [
    "idp-site",
    "village",
    "town",
    "market",
    "school",
    "health-post",
    "water-point",
    "place-of-worship",
    "other",
];

/// Rough population of each town of [`TOWNS`] (same order).
const TOWN_POPULATION: [u64; 17] = [
    889_000, 43_000, 22_000, 40_000, 9_000, 27_000, 24_000, 51_000, 17_000, 18_000, 16_000, 13_000,
    11_000, 9_000, 11_000, 7_000, 8_000,
];

/// Towns where displaced people gather next to a mission base, by preference.
const IDP_TOWNS: [(usize, f64); 9] = [
    (t::KAGA_BANDORO, 4.0),
    (t::BAMBARI, 4.0),
    (t::BOSSANGOA, 3.0),
    (t::BATANGAFO, 3.0),
    (t::PAOUA, 2.0),
    (t::BANGUI, 1.5),
    (t::BOZOUM, 1.5),
    (t::SIBUT, 1.0),
    (t::BOUAR, 1.0),
];

/// An IDP site "far from any base" is at least this far from every base
/// (including temporary ones), beyond the largest default reach (40 km).
pub(crate) const FAR_FROM_BASES_KM: f64 = 45.0;

/// Syllables of the invented village names.
const NAME_HEADS: [&str; 16] = [
    "Bo", "Nda", "Ka", "Ngo", "Ba", "Zo", "Ma", "Be", "Gba", "Yo", "Ko", "Da", "Se", "Ndo", "Bou",
    "Ga",
];
const NAME_TAILS: [&str; 14] = [
    "ngo", "la", "ssi", "kara", "mbo", "ye", "ndi", "gou", "le", "ra", "koro", "mba", "dja", "zere",
];

/// One civilian site before serialisation.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub name: String,
    pub kind: &'static str,
    /// Reference position (the centre of polygon sites).
    pub pos: [f64; 2],
    /// Outline, for Bangui and the large IDP sites.
    pub ring: Option<Vec<[f64; 2]>>,
    pub open: i64,
    pub close: Option<i64>,
    pub population: Option<u64>,
    /// Set when the site differs from its kind's default.
    pub vulnerability: Option<i64>,
    /// Set when the site differs from its kind's default.
    pub exposure: Option<f64>,
    pub marking: Marking,
}

impl Site {
    /// The GeoJSON feature for site number `index` (0-based).
    pub fn to_feature(&self, index: usize) -> Value {
        let mut p = Map::with_capacity(10);
        put_str(&mut p, "name", &self.name);
        put_str(&mut p, "site_type", self.kind);
        put_time(&mut p, "time_start", self.open);
        if let Some(c) = self.close {
            put_time(&mut p, "time_end", c);
        }
        if let Some(n) = self.population {
            p.insert("population".into(), Value::from(n));
        }
        if let Some(v) = self.vulnerability {
            p.insert("vulnerability".into(), Value::from(v));
        }
        if let Some(e) = self.exposure {
            p.insert("exposure".into(), Value::from(e));
        }
        self.marking.put(&mut p);
        let geom = match &self.ring {
            Some(r) => polygon(r),
            None => point(self.pos),
        };
        feature(format!("site-{:03}", index + 1), geom, p)
    }
}

/// Day `d` of the scenario as Unix seconds (midnight UTC).
fn day(d: i64) -> i64 {
    PERIOD_START + d.clamp(0, PERIOD_DAYS - 1) * 86_400
}

/// Rounds a head count to two significant figures (figures people report).
fn round_count(n: u64) -> u64 {
    let mut unit = 1;
    while n / unit >= 100 {
        unit *= 10;
    }
    (n + unit / 2) / unit * unit
}

struct Builder<'a> {
    s: &'a Scenario,
    rng: Rng,
    out: Vec<Site>,
    names: BTreeSet<String>,
}

impl Builder<'_> {
    fn add(&mut self, name: String, kind: &'static str, pos: [f64; 2]) -> usize {
        self.names.insert(name.clone());
        self.out.push(Site {
            name,
            kind,
            pos: world::clamp_aor(pos),
            ring: None,
            open: PERIOD_START,
            close: None,
            population: None,
            vulnerability: None,
            exposure: None,
            marking: Marking::default(),
        });
        self.out.len() - 1
    }

    /// A position `min_km..max_km` off a town's centre, pushed east at the
    /// western AOR edge (Bouar and Bocaranga sit on it).
    fn near_town(&mut self, town: usize, min_km: f64, max_km: f64) -> [f64; 2] {
        self.near(TOWNS[town].pos, min_km, max_km)
    }

    /// A position `min_km..max_km` off `c` in a random direction.
    fn near(&mut self, c: [f64; 2], min_km: f64, max_km: f64) -> [f64; 2] {
        let r = self.rng.range(min_km, max_km);
        let th = self.rng.range(0.0, 2.0 * std::f64::consts::PI);
        let (s, co) = crate::rng::sin_cos(th);
        let mut dx = r * co;
        if c[0] - world::AOR[0] < 0.1 {
            dx = dx.abs();
        }
        world::clamp_aor(world::offset_km(c, dx, r * s))
    }

    /// An invented village name not used yet.
    fn village_name(&mut self) -> String {
        for _ in 0..64 {
            let head = self.rng.pick(&NAME_HEADS).copied().unwrap_or("Bo");
            let tail = self.rng.pick(&NAME_TAILS).copied().unwrap_or("la");
            let name = format!("{head}{tail}");
            if !self.names.contains(&name) {
                return name;
            }
        }
        format!("Village {}", self.out.len() + 1)
    }

    /// Distance in km from `p` to the nearest base (any type, any time).
    fn base_distance(&self, p: [f64; 2]) -> f64 {
        self.s
            .bases
            .iter()
            .map(|b| world::dist_km(p, b.pos))
            .fold(f64::INFINITY, f64::min)
    }

    /// Distance in km from `p` to the nearest town or village placed so far.
    fn settlement_distance(&self, p: [f64; 2]) -> f64 {
        let towns = TOWNS.iter().map(|t| world::dist_km(p, t.pos));
        let villages = self
            .out
            .iter()
            .filter(|s| s.kind == "village")
            .map(|s| world::dist_km(p, s.pos));
        towns.chain(villages).fold(f64::INFINITY, f64::min)
    }
}

/// Builds the sites in a fixed order (ids `site-001`...): towns, their
/// facilities, villages, IDP sites (each followed by its water point), mines.
pub(crate) fn build_sites(s: &Scenario) -> Vec<Site> {
    let mut b = Builder {
        s,
        rng: Rng::for_item(s.seed, stream::SITES, 0),
        out: Vec::with_capacity(160),
        names: BTreeSet::new(),
    };

    // The towns: public knowledge.
    for (ti, town) in TOWNS.iter().enumerate() {
        let i = b.add(town.name.to_string(), "town", town.pos);
        b.out[i].population = Some(TOWN_POPULATION[ti]);
        b.out[i].marking = Marking {
            owner: None,
            classification: Some("public"),
        };
        if ti == t::BANGUI {
            b.out[i].ring = Some(ring(&mut b.rng, town.pos, 0.11));
        }
    }

    // Facilities in the towns, sized by the town.
    for (ti, town) in TOWNS.iter().enumerate() {
        let w = town.weight;
        let spread = if ti == t::BANGUI { 6.0 } else { 1.5 };
        let markets = if w >= 5.0 { 2 } else { 1 };
        for k in 0..markets {
            let name = if k == 0 {
                format!("{} central market", town.name)
            } else {
                format!("{} market {}", town.name, k + 1)
            };
            let pos = b.near_town(ti, 0.1, spread);
            let i = b.add(name, "market", pos);
            b.out[i].population = Some(round_count(
                (w * b.rng.range(300.0, 700.0)) as u64 + b.rng.geometric(400.0),
            ));
            // Big towns trade every day; small ones hold a weekly market.
            if w >= 4.0 {
                b.out[i].exposure = Some(0.5);
            } else if w < 2.0 {
                b.out[i].exposure = Some(0.15);
            }
        }
        let schools = 1 + usize::from(w >= 4.0) + usize::from(w >= 5.0);
        for k in 0..schools {
            let pos = b.near_town(ti, 0.2, spread);
            let i = b.add(format!("{} school {}", town.name, k + 1), "school", pos);
            b.out[i].population = Some(round_count(150 + b.rng.geometric(350.0)));
        }
        let posts = 1 + usize::from(ti == t::BANGUI);
        for k in 0..posts {
            let name = if posts == 1 {
                format!("{} health post", town.name)
            } else {
                format!("{} health post {}", town.name, k + 1)
            };
            let pos = b.near_town(ti, 0.2, spread);
            let i = b.add(name, "health-post", pos);
            b.out[i].population = Some(round_count(40 + b.rng.geometric(120.0)));
        }
        if w >= 2.0 {
            let church = b.rng.chance(0.65);
            let name = format!("{} {}", town.name, if church { "church" } else { "mosque" });
            let pos = b.near_town(ti, 0.1, spread);
            let i = b.add(name, "place-of-worship", pos);
            b.out[i].population = Some(round_count(200 + b.rng.geometric(600.0)));
        } else {
            let pos = b.near_town(ti, 0.3, spread);
            let i = b.add(format!("{} borehole", town.name), "water-point", pos);
            b.out[i].population = Some(round_count(150 + b.rng.geometric(300.0)));
        }
    }

    // Villages along the corridors, away from the towns...
    for _ in 0..28 {
        let mut pos = TOWNS[t::BANGUI].pos;
        for _ in 0..32 {
            let road = &s.roads[s.road_table.sample(&mut b.rng)];
            let along = b.rng.range(0.0, road.len_km());
            pos = world::jitter(&mut b.rng, road.point_at(along), 2.5);
            if b.settlement_distance(pos) > 5.0 {
                break;
            }
        }
        let name = b.village_name();
        let i = b.add(name, "village", pos);
        // Not every village has been counted.
        b.out[i].population =
            (!b.rng.chance(0.1)).then(|| round_count(150 + b.rng.geometric(700.0)));
    }
    // ...and in the armed groups' home areas, where some are abandoned after
    // attacks during the period.
    for g in &s.groups {
        for v in g.villages.iter().take(3) {
            let pos = world::jitter(&mut b.rng, *v, 0.5);
            let name = b.village_name();
            let i = b.add(name, "village", pos);
            b.out[i].population = Some(round_count(200 + b.rng.geometric(900.0)));
            if b.rng.chance(0.25) {
                b.out[i].close = Some(day(b.rng.range_i(200, 650)));
            }
        }
    }

    // IDP sites: most next to a town with a base, some far from any base.
    let n = b.rng.range_i(6, 10) as usize;
    let far = 2 + usize::from(n >= 8);
    let mut weights: Vec<f64> = IDP_TOWNS.iter().map(|(_, w)| *w).collect();
    let mut per_town = [0usize; TOWNS.len()];
    for _ in 0..n - far {
        let k = b.rng.weighted(&weights);
        weights[k] *= 0.3; // a second site in the same town is less likely
        let town = IDP_TOWNS[k].0;
        per_town[town] += 1;
        let pos = b.near_town(town, 1.0, 4.0);
        let name = format!("{} IDP site {}", TOWNS[town].name, per_town[town]);
        let population = round_count((800 + b.rng.geometric(7000.0)).min(40_000));
        let i = b.add(name, "idp-site", pos);
        b.out[i].population = Some(population);
        if population >= 10_000 {
            b.out[i].ring = Some(ring(&mut b.rng, pos, 0.008));
        }
        // Most sites predate the period; some open after new violence and a
        // few close when people return or are relocated.
        if b.rng.chance(0.4) {
            b.out[i].open = day(b.rng.range_i(30, 600));
        } else if b.rng.chance(0.2) {
            b.out[i].close = Some(day(b.rng.range_i(300, 700)));
        }
        add_water_point(&mut b, i);
    }
    for k in 0..far {
        let g = &s.groups[k % s.groups.len()];
        // The candidate farthest from every base, stopping at the first far enough.
        let mut best = (g.centre, -1.0);
        for _ in 0..200 {
            let p = world::random_in_disc(&mut b.rng, g.centre, g.radius_km * 1.5);
            let d = b.base_distance(p);
            if d > best.1 {
                best = (p, d);
            }
            if d >= FAR_FROM_BASES_KM {
                break;
            }
        }
        let near = TOWNS[world::nearest_town(best.0)].name;
        let name = format!("IDP site {} (bush, {} area)", k + 1, near);
        let i = b.add(name, "idp-site", best.0);
        b.out[i].population = Some(round_count(b.rng.range_i(3, 50) as u64 * 100));
        b.out[i].open = day(b.rng.range_i(60, 650));
        // Known to human rights officers only (the displaced fear reprisals).
        if k == 0 {
            b.out[i].marking = Marking {
                owner: Some("hr"),
                classification: Some("restricted"),
            };
        }
        add_water_point(&mut b, i);
    }

    // Artisanal gold mines in the armed groups' areas (taxed by them).
    for k in 0..2 {
        let g = &s.groups[(k * 2 + 1) % s.groups.len()];
        let pos = world::random_in_disc(&mut b.rng, g.centre, g.radius_km * 0.8);
        let near = TOWNS[world::nearest_town(pos)].name;
        let i = b.add(
            format!("Gold mining site {} ({} area)", k + 1, near),
            "other",
            pos,
        );
        b.out[i].population = Some(round_count(300 + b.rng.geometric(800.0)));
        b.out[i].vulnerability = Some(3);
        b.out[i].exposure = Some(0.6);
    }

    // Schools sheltering displaced families are more vulnerable than most.
    let idp_towns: BTreeSet<&str> = b
        .out
        .iter()
        .filter(|x| x.kind == "idp-site")
        .filter_map(|x| x.name.split(" IDP site").next())
        .collect();
    let sheltering: Vec<usize> = (0..b.out.len())
        .filter(|&i| {
            let x = &b.out[i];
            x.kind == "school"
                && x.name.ends_with(" school 1")
                && idp_towns.contains(x.name.trim_end_matches(" school 1"))
        })
        .collect();
    for i in sheltering {
        if b.rng.chance(0.5) {
            b.out[i].vulnerability = Some(5);
        }
    }
    b.out
}

/// A water point serving IDP site `i`, when the site is large enough.
fn add_water_point(b: &mut Builder<'_>, i: usize) {
    let site = &b.out[i];
    if site.population.unwrap_or(0) < 2000 {
        return;
    }
    let (name, c, open, close) = (
        format!("{} water point", site.name),
        site.pos,
        site.open,
        site.close,
    );
    let pos = b.near(c, 0.3, 1.2);
    let w = b.add(name, "water-point", pos);
    b.out[w].open = open;
    b.out[w].close = close;
    b.out[w].population = Some(round_count(300 + b.rng.geometric(900.0)));
    // Women and girls fetching water far from the site are exposed longer.
    b.out[w].exposure = Some(0.5);
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{common, one_of, small};
    use super::*;
    use crate::model::{Feature, Layer};

    #[test]
    fn sites_follow_the_schema() {
        let s = small();
        let sites = s.sites();
        assert!((120..=180).contains(&sites.len()), "{} sites", sites.len());
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        let mut polygons = 0;
        for f in &sites {
            let p = common(f, "site-");
            assert!(p["name"].as_str().is_some_and(|n| !n.is_empty()));
            one_of(p, "site_type", &SITE_KINDS);
            *kinds
                .entry(p["site_type"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
            if let Some(n) = p.get("population") {
                assert!(n.as_u64().is_some_and(|n| n > 0), "{n}");
            }
            if let Some(v) = p.get("vulnerability") {
                assert!(v.as_i64().is_some_and(|v| (1..=5).contains(&v)));
            }
            if let Some(e) = p.get("exposure") {
                assert!(e.as_f64().is_some_and(|e| e > 0.0 && e <= 1.0));
            }
            let gt = f["geometry"]["type"].as_str().unwrap_or_default();
            assert!(gt == "Point" || gt == "Polygon", "{gt}");
            polygons += usize::from(gt == "Polygon");
            // Every demo site validates as it is.
            let v = Feature::from_geojson_str(Layer::Sites, &f.to_string());
            assert!(v.is_ok(), "{f}: {v:?}");
        }
        assert_eq!(kinds.len(), SITE_KINDS.len(), "{kinds:?}");
        assert!(polygons >= 1, "Bangui is drawn as a polygon");
        // Some sites close during the period; most are still there.
        let closed = sites
            .iter()
            .filter(|f| f["properties"].get("time_end").is_some())
            .count();
        assert!(closed >= 1 && closed < sites.len() / 4, "{closed}");
        assert_eq!(kinds["town"], TOWNS.len());
        assert!((35..=45).contains(&kinds["village"]), "{kinds:?}");
        assert!((6..=10).contains(&kinds["idp-site"]), "{kinds:?}");
        let names: BTreeSet<&str> = sites
            .iter()
            .filter_map(|f| f["properties"]["name"].as_str())
            .collect();
        assert_eq!(names.len(), sites.len(), "site names are unique");
    }

    #[test]
    fn idp_sites_near_bases_and_far_from_any() {
        for seed in [7, 20_261_123, 99] {
            let s = Scenario::new(&super::super::DemoConfig {
                seed,
                incidents: 1000,
            });
            let idp: Vec<Site> = build_sites(&s)
                .into_iter()
                .filter(|x| x.kind == "idp-site")
                .collect();
            let dist = |p: [f64; 2]| {
                s.bases
                    .iter()
                    .map(|b| world::dist_km(p, b.pos))
                    .fold(f64::INFINITY, f64::min)
            };
            let near = idp.iter().filter(|x| dist(x.pos) < 10.0).count();
            let far = idp
                .iter()
                .filter(|x| dist(x.pos) >= FAR_FROM_BASES_KM)
                .count();
            assert!(near >= 3, "seed {seed}: {near} IDP sites near a base");
            assert!(far >= 2, "seed {seed}: {far} IDP sites far from bases");
        }
    }

    #[test]
    fn sites_are_deterministic_and_follow_the_seed() {
        assert_eq!(small().sites(), small().sites());
        let other = Scenario::new(&super::super::DemoConfig {
            seed: 8,
            incidents: 3000,
        });
        assert_ne!(small().sites(), other.sites());
        // Independent of the number of incidents.
        let bigger = Scenario::new(&super::super::DemoConfig {
            seed: 7,
            incidents: 20_000,
        });
        assert_eq!(small().sites(), bigger.sites());
    }

    #[test]
    fn counts_are_rounded() {
        assert_eq!(round_count(7), 7);
        assert_eq!(round_count(99), 99);
        assert_eq!(round_count(1234), 1200);
        assert_eq!(round_count(1250), 1300);
        assert_eq!(round_count(889_000), 890_000);
    }
}
