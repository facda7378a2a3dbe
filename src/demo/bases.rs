//! The bases layer: mission HQ, operating bases, team sites, field offices,
//! police posts, a protection-of-civilians site and short-lived temporary
//! operating bases (TOB) and standing combat deployments (SCD).

use serde_json::{Map, Value};

use super::world::{self, stream, t, PERIOD_DAYS, PERIOD_END, PERIOD_START, TOWNS};
use super::{feature, point, polygon, put_str, put_time, Marking, Scenario};
use crate::rng::Rng;

/// Base types (schema values; the generator writes literals, tests check them).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const BASE_TYPES: [&str; 9] = [
    "mission-hq",
    "pob",
    "cob",
    "tob",
    "scd",
    "team-site",
    "field-office",
    "police-post",
    "poc-site",
];

/// A base with the internal data the patrol generator needs.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub id: String,
    pub name: String,
    pub base_type: &'static str,
    /// Reference position (the centroid for polygon bases); patrols start here.
    pub pos: [f64; 2],
    /// Outline for the HQ and the PoC site.
    pub ring: Option<Vec<[f64; 2]>>,
    /// The town the base belongs to (None for TOB/SCD in the bush).
    pub town: Option<usize>,
    pub open: i64,
    pub close: Option<i64>,
    pub reach_km: Option<f64>,
    /// Units that patrol from here (empty: the base does not patrol).
    pub units: Vec<String>,
    /// Helicopters can land (air patrols start and end at such bases).
    pub airstrip: bool,
    /// Relative share of the patrols launched from this base.
    pub patrol_weight: f64,
    /// Nearest road vertex `(road, vertex, distance_km)`.
    pub road: (usize, usize, f64),
    pub marking: Marking,
}

impl Base {
    /// Whether the base is open at `t` (inclusive bounds).
    pub fn is_open(&self, t: i64) -> bool {
        self.open <= t && self.close.is_none_or(|c| t <= c)
    }

    /// The GeoJSON feature.
    pub fn to_feature(&self) -> Value {
        let mut p = Map::with_capacity(8);
        put_str(&mut p, "name", &self.name);
        put_str(&mut p, "base_type", self.base_type);
        put_time(&mut p, "time_start", self.open);
        if let Some(c) = self.close {
            put_time(&mut p, "time_end", c);
        }
        if let Some(r) = self.reach_km {
            p.insert("reach_km".into(), Value::from(r));
        }
        self.marking.put(&mut p);
        let geom = match &self.ring {
            Some(ring) => polygon(ring),
            None => point(self.pos),
        };
        feature(self.id.clone(), geom, p)
    }
}

/// Fictional contingents by region (Syldavia, Borduria, Freedonia and Aurelia
/// are fictional countries): west, north, centre, east, Bangui.
fn contingent(town: usize) -> &'static str {
    match town {
        t::BOUAR | t::BOZOUM | t::PAOUA | t::BOCARANGA | t::YALOKE => "SYLBAT-1",
        t::BOSSANGOA | t::BATANGAFO | t::KABO | t::MARKOUNDA | t::BOSSEMBELE => "BORBAT-2",
        t::KAGA_BANDORO | t::DEKOA | t::SIBUT | t::DAMARA => "FREBAT-1",
        t::BAMBARI | t::GRIMARI => "AURBAT-3",
        _ => "BORBAT-1",
    }
}

/// Police units by region (formed police units and individual officers).
fn police_unit(town: usize) -> &'static str {
    match town {
        t::BOUAR | t::BOZOUM | t::PAOUA => "FPU-SYL",
        t::BAMBARI => "FPU-AUR",
        t::KAGA_BANDORO | t::BOSSANGOA => "FPU-FRE",
        _ => "FPU-BOR",
    }
}

/// Day `d` of the scenario as Unix seconds (midnight UTC).
fn day(d: i64) -> i64 {
    PERIOD_START + d.clamp(0, PERIOD_DAYS - 1) * 86_400
}

struct Builder<'a> {
    s: &'a Scenario,
    rng: Rng,
    out: Vec<Base>,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        name: String,
        base_type: &'static str,
        pos: [f64; 2],
        town: Option<usize>,
        open: i64,
        close: Option<i64>,
        units: Vec<String>,
        patrol_weight: f64,
    ) -> usize {
        let pos = world::clamp_aor(pos);
        let airstrip = matches!(base_type, "mission-hq" | "pob" | "cob" | "tob");
        let idx = self.out.len();
        self.out.push(Base {
            id: format!("base-{:03}", idx + 1),
            name,
            base_type,
            pos,
            ring: None,
            town,
            open,
            close,
            reach_km: None,
            units,
            airstrip,
            patrol_weight,
            road: world::nearest_road_vertex(&self.s.roads, pos),
            marking: Marking::default(),
        });
        idx
    }

    /// A position near a town: a few hundred metres to ~2 km off its centre,
    /// pushed east at the western AOR edge (Bouar and Bocaranga sit on it).
    fn near_town(&mut self, town: usize, max_km: f64) -> [f64; 2] {
        let c = TOWNS[town].pos;
        let r = self.rng.range(0.3, max_km);
        let th = self.rng.range(0.0, 2.0 * std::f64::consts::PI);
        let (s, co) = crate::rng::sin_cos(th);
        let mut dx = r * co;
        if c[0] - world::AOR[0] < 0.1 {
            dx = dx.abs();
        }
        world::offset_km(c, dx, r * s)
    }
}

/// A small closed ring of about `size_deg` around `c` (slightly irregular).
pub(crate) fn ring(rng: &mut Rng, c: [f64; 2], size_deg: f64) -> Vec<[f64; 2]> {
    let h = size_deg / 2.0;
    let mut r: Vec<[f64; 2]> = [[-h, -h], [h, -h], [h, h], [-h * 0.6, h], [-h, h * 0.4]]
        .iter()
        .map(|d| {
            world::clamp_aor([
                c[0] + d[0] + rng.range(-0.1, 0.1) * h,
                c[1] + d[1] + rng.range(-0.1, 0.1) * h,
            ])
        })
        .collect();
    r.push(r[0]);
    r
}

/// Builds the ~40 bases in a fixed order (ids `base-001`...).
pub(crate) fn build_bases(s: &Scenario) -> Vec<Base> {
    let mut b = Builder {
        s,
        rng: Rng::for_item(s.seed, stream::BASES, 0),
        out: Vec::with_capacity(48),
    };
    let start = PERIOD_START;

    // Mission HQ (a compound polygon) in Bangui.
    let hq_pos = [18.5405, 4.3765];
    let hq = b.add(
        "Mission HQ Bangui".into(),
        "mission-hq",
        hq_pos,
        Some(t::BANGUI),
        start,
        None,
        vec!["BORBAT-1 QRF Coy".into(), "HQ Guard Coy (FRE)".into()],
        1.0,
    );
    b.out[hq].ring = Some(ring(&mut b.rng, hq_pos, 0.012));
    b.out[hq].marking = Marking {
        owner: Some("mission"),
        classification: Some("public"),
    };

    // Permanent operating bases in the larger towns.
    for (town, coys) in [
        (t::BOUAR, ["Coy A", "Coy B"]),
        (t::BOSSANGOA, ["Coy A", "Coy B"]),
        (t::KAGA_BANDORO, ["Coy A", "Coy B"]),
        (t::BAMBARI, ["Coy A", "Coy B"]),
        (t::PAOUA, ["Coy C", "Coy D"]),
    ] {
        let pos = b.near_town(town, 2.0);
        let units = coys
            .iter()
            .map(|c| format!("{} {}", contingent(town), c))
            .collect();
        b.add(
            format!("{} POB", TOWNS[town].name),
            "pob",
            pos,
            Some(town),
            start,
            None,
            units,
            3.0,
        );
    }

    // Company operating bases.
    for (town, coy) in [
        (t::BANGUI, "Coy D"),
        (t::BOZOUM, "Coy C"),
        (t::BATANGAFO, "Coy C"),
        (t::SIBUT, "Coy C"),
        (t::BOSSEMBELE, "Coy D"),
        (t::BOCARANGA, "Coy B"),
    ] {
        let pos = b.near_town(town, 2.5);
        let name = if town == t::BANGUI {
            "Bangui COB North".to_string()
        } else {
            format!("{} COB", TOWNS[town].name)
        };
        b.add(
            name,
            "cob",
            pos,
            Some(town),
            start,
            None,
            vec![format!("{} {}", contingent(town), coy)],
            2.0,
        );
    }

    // Team sites (platoon strength); some opened or closed during the period.
    for (k, (town, open_day, close_day)) in [
        (t::MARKOUNDA, 167, None),
        (t::KABO, 0, Some(546)),
        (t::DEKOA, 0, None),
        (t::GRIMARI, 0, None),
        (t::YALOKE, 0, None),
        (t::DAMARA, 0, None),
    ]
    .into_iter()
    .enumerate()
    {
        let pos = b.near_town(town, 1.5);
        b.add(
            format!("{} team site", TOWNS[town].name),
            "team-site",
            pos,
            Some(town),
            day(open_day),
            close_day.map(day),
            vec![format!("{} Pl {}", contingent(town), k % 3 + 1)],
            1.0,
        );
    }

    // Civilian field offices (human rights, civil affairs): they do not patrol.
    for (town, open_day) in [
        (t::BOSSANGOA, 0),
        (t::BAMBARI, 0),
        (t::KAGA_BANDORO, 0),
        (t::BOUAR, 0),
        (t::PAOUA, 60),
    ] {
        let pos = b.near_town(town, 1.5);
        b.add(
            format!("{} field office", TOWNS[town].name),
            "field-office",
            pos,
            Some(town),
            day(open_day),
            None,
            Vec::new(),
            0.0,
        );
    }

    // Police posts.
    for (town, label) in [
        (t::BANGUI, "Bangui police post 1"),
        (t::BANGUI, "Bangui police post 2"),
        (t::BAMBARI, "Bambari police post"),
        (t::BOUAR, "Bouar police post"),
        (t::KAGA_BANDORO, "Kaga-Bandoro police post"),
        (t::BOSSANGOA, "Bossangoa police post"),
    ] {
        let pos = b.near_town(town, 2.0);
        let n = b.out.len() % 3 + 1;
        b.add(
            label.to_string(),
            "police-post",
            pos,
            Some(town),
            start,
            None,
            vec![format!("{} Pl {}", police_unit(town), n)],
            1.0,
        );
    }

    // Protection-of-civilians site next to Kaga-Bandoro (a polygon).
    let poc_pos = world::offset_km(TOWNS[t::KAGA_BANDORO].pos, 2.2, -1.4);
    let poc = b.add(
        "Kaga-Bandoro PoC site".into(),
        "poc-site",
        poc_pos,
        Some(t::KAGA_BANDORO),
        start,
        None,
        vec![format!("{} Pl 3", police_unit(t::KAGA_BANDORO))],
        0.7,
    );
    b.out[poc].ring = Some(ring(&mut b.rng, poc_pos, 0.01));
    b.out[poc].marking = Marking {
        owner: Some("mission"),
        classification: Some("public"),
    };

    // Temporary operating bases near the armed groups' villages: opened
    // during the period, most closed again after one to six months.
    for k in 0..7 {
        let gi = k % s.groups.len();
        let g = &s.groups[gi];
        let v = g.villages[(k / s.groups.len()) % g.villages.len()];
        let pos = world::jitter(&mut b.rng, v, 3.0);
        let town = world::nearest_town(pos);
        let open_day = b.rng.range_i(20, 600);
        let dur = b.rng.range_i(30, 200);
        let close =
            (k < 5 && open_day + dur < PERIOD_DAYS - 2).then(|| day(open_day + dur) + 12 * 3600);
        let unit = format!("{} Coy {}", contingent(town), ["A", "B", "C", "D"][k % 4]);
        let i = b.add(
            format!("TOB {} (near {})", k + 1, TOWNS[town].name),
            "tob",
            pos,
            None,
            day(open_day) + 6 * 3600,
            close,
            vec![unit],
            1.5,
        );
        b.out[i].reach_km = Some(b.rng.range_i(12, 25) as f64);
    }

    // Standing combat deployments on the corridors in hot areas: days to
    // weeks, all closed.
    for k in 0..4 {
        let g = &s.groups[(k + 1) % s.groups.len()];
        let (ri, vi, _) = world::nearest_road_vertex(&s.roads, g.centre);
        let road = &s.roads[ri];
        let along = road.cum[vi] + b.rng.range(-15.0, 15.0);
        let pos = world::jitter(&mut b.rng, road.point_at(along), 0.3);
        let town = world::nearest_town(pos);
        let open_day = b.rng.range_i(15, 680);
        let dur = b.rng.range_i(5, 40);
        let close = day((open_day + dur).min(PERIOD_DAYS - 1)) + 18 * 3600;
        let unit = format!("{} Coy {}", contingent(town), ["B", "C", "D", "A"][k % 4]);
        let i = b.add(
            format!("SCD {} ({} axis)", k + 1, TOWNS[town].name),
            "scd",
            pos,
            None,
            day(open_day) + 5 * 3600,
            Some(close.min(PERIOD_END)),
            vec![unit],
            1.5,
        );
        b.out[i].reach_km = Some(10.0);
        b.out[i].marking = Marking {
            owner: Some("military"),
            classification: Some("restricted"),
        };
    }
    b.out
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{common, one_of, small};
    use super::*;

    #[test]
    fn bases_follow_the_schema() {
        let s = small();
        let bases = s.bases();
        assert_eq!(bases.len(), 41);
        let mut types = std::collections::BTreeSet::new();
        for f in &bases {
            let p = common(f, "base-");
            assert!(p["name"].as_str().is_some_and(|n| !n.is_empty()));
            one_of(p, "base_type", &BASE_TYPES);
            let bt = p["base_type"].as_str().unwrap_or_default();
            types.insert(bt.to_string());
            let gt = f["geometry"]["type"].as_str().unwrap_or_default();
            if bt == "mission-hq" || bt == "poc-site" {
                assert_eq!(gt, "Polygon");
                let ring = f["geometry"]["coordinates"][0].as_array().expect("ring");
                assert!(ring.len() >= 4);
                assert_eq!(ring.first(), ring.last());
            } else {
                assert_eq!(gt, "Point");
            }
            if let Some(r) = p.get("reach_km") {
                assert!(r.as_f64().is_some_and(|r| r > 0.0));
            }
        }
        assert_eq!(types.len(), BASE_TYPES.len(), "{types:?}");
        // Some TOB/SCD close during the period.
        let closed = bases
            .iter()
            .filter(|f| f["properties"].get("time_end").is_some())
            .count();
        assert!(closed >= 6, "{closed}");
    }

    #[test]
    fn bases_are_deterministic() {
        assert_eq!(small().bases(), small().bases());
    }
}
