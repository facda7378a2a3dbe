//! The incidents layer: human-rights incidents clustered in space and time.
//!
//! Each incident is drawn from one of four processes: an episodic flare-up
//! (many incidents within days and ~10 km), a group's home area (around its
//! villages, following its seasonal curve), a road corridor near the towns
//! (banditry, checkpoints, ambushes) or scattered background violence; one
//! in [`ESCALATION`]'s `every` belongs instead to the seeded escalation
//! (`escalation.rs`), drawn from a stream of its own. Incident `i` is generated from its own counter-based seed, so the stream
//! needs O(1) memory and could be generated in parallel.

use serde_json::{Map, Value};

use super::escalation::ESCALATION;
use super::world::{self, stream, PERIOD_END, PERIOD_START, TOWNS};
use super::{feature, point, put_str, put_time, Marking, Scenario, CATEGORIES, RELIABILITY};
use crate::rng::Rng;

// Category indices (see CATEGORIES).
const KILLING: usize = 0;
const INJURY: usize = 1;
const ABDUCTION: usize = 2;
const SEXUAL_VIOLENCE: usize = 3;
const ATTACK_SITE: usize = 4;
const LOOTING: usize = 5;
const DISPLACEMENT: usize = 6;
const CHILD_RECRUITMENT: usize = 7;
const DETENTION: usize = 8;
const THREAT: usize = 9;
const EXPLOSIVE: usize = 10;

/// Perpetrator categories (schema values).
pub(crate) const PERPETRATOR_CATEGORIES: [&str; 7] = [
    "non-state-armed-group",
    "state-forces",
    "foreign-forces",
    "community-based",
    "criminal",
    "mission",
    "unknown",
];
const NSAG: usize = 0;
const STATE: usize = 1;
const FOREIGN: usize = 2;
const COMMUNITY: usize = 3;
const CRIMINAL: usize = 4;
const MISSION: usize = 5;

/// Site types of attacks on civilian sites (schema values).
pub(crate) const SITE_TYPES: [&str; 6] = [
    "school",
    "health-post",
    "idp-site",
    "place-of-worship",
    "market",
    "other",
];
/// Verification statuses (schema values).
pub(crate) const VERIFICATION: [&str; 4] = ["alert", "reported", "corroborated", "verified"];
/// Source types (schema values).
pub(crate) const SOURCE_TYPES: [&str; 11] = [
    "victim",
    "witness",
    "community-alert-network",
    "civil-society",
    "open-source",
    "media",
    "authorities",
    "un-agency",
    "mission",
    "other",
    "unknown",
];
// Source-type indices (see SOURCE_TYPES) that change reliability or consent.
const VICTIM: usize = 0;
const WITNESS: usize = 1;
const OPEN_SOURCE: usize = 4;
const MEDIA: usize = 5;
const AUTHORITIES: usize = 6;
const UN_AGENCY: usize = 7;
const MISSION_SOURCE: usize = 8;
const UNKNOWN_SOURCE: usize = 10;

/// Location precisions (schema values).
pub(crate) const PRECISION: [&str; 4] = ["exact", "settlement", "district", "province"];
/// Consent scopes (schema values).
pub(crate) const CONSENT: [&str; 4] = ["none", "hr-only", "mission", "partners"];

/// People-count properties in output order: killed, injured, affected, each
/// disaggregated women, men, girls, boys, unknown.
pub(crate) const COUNT_KEYS: [&str; 15] = [
    "killed_women",
    "killed_men",
    "killed_girls",
    "killed_boys",
    "killed_unknown",
    "injured_women",
    "injured_men",
    "injured_girls",
    "injured_boys",
    "injured_unknown",
    "affected_women",
    "affected_men",
    "affected_girls",
    "affected_boys",
    "affected_unknown",
];

/// An episodic flare-up: a burst of incidents by one group around one place.
#[derive(Debug, Clone)]
pub(crate) struct Flare {
    group: usize,
    centre: [f64; 2],
    radius_km: f64,
    start: i64,
    duration: i64,
    /// The flare-up's dominant incident category.
    category: usize,
}

/// Precomputes the flare-ups: one per ~60 incidents (at least 24), so their
/// density stays the same whatever the size of the scenario.
pub(crate) fn build_flares(s: &Scenario) -> Vec<Flare> {
    let n = (s.n_incidents / 60).clamp(24, 50_000);
    (0..n)
        .map(|k| {
            let mut rng = Rng::for_item(s.seed, stream::FLARES, k as u64);
            let gi = s.group_table.sample(&mut rng);
            let g = &s.groups[gi];
            let centre = if rng.chance(0.7) {
                let v = g.villages[g.village_table.sample(&mut rng)];
                world::jitter(&mut rng, v, 2.0)
            } else {
                s.road_point_near(&mut rng, g.centre, g.radius_km)
            };
            let day = g.days.sample(&mut rng) as i64;
            let start = PERIOD_START + day * 86_400 + rng.range_i(0, 1439) * 60;
            let duration = rng.range_i(1, 6) * 86_400;
            Flare {
                group: gi,
                centre,
                radius_km: rng.range(4.0, 12.0),
                start,
                duration: duration.min(PERIOD_END - start),
                category: rng.weighted(&g.categories),
            }
        })
        .collect()
}

/// One incident before serialisation.
#[derive(Debug, Clone)]
pub(crate) struct Incident {
    pub pos: [f64; 2],
    pub t0: i64,
    pub t1: Option<i64>,
    pub category: usize,
    pub site_type: Option<usize>,
    pub perpetrator: String,
    pub perpetrator_category: usize,
    pub counts: [u32; 15],
    pub verification: usize,
    pub source_type: usize,
    pub reliability: usize,
    pub precision: usize,
    pub consent: usize,
    pub narrative: Option<String>,
    pub marking: Marking,
}

impl Incident {
    /// The GeoJSON feature for incident number `index` (0-based). Zero counts
    /// are omitted.
    pub fn to_feature(&self, index: usize) -> Value {
        let mut p = Map::with_capacity(24);
        put_time(&mut p, "time_start", self.t0);
        if let Some(t1) = self.t1 {
            put_time(&mut p, "time_end", t1);
        }
        put_str(&mut p, "category", CATEGORIES[self.category]);
        if let Some(st) = self.site_type {
            put_str(&mut p, "site_type", SITE_TYPES[st]);
        }
        put_str(&mut p, "perpetrator", &self.perpetrator);
        put_str(
            &mut p,
            "perpetrator_category",
            PERPETRATOR_CATEGORIES[self.perpetrator_category],
        );
        for (k, &n) in COUNT_KEYS.iter().zip(&self.counts) {
            if n > 0 {
                p.insert((*k).into(), Value::from(n));
            }
        }
        put_str(&mut p, "verification", VERIFICATION[self.verification]);
        put_str(&mut p, "source_type", SOURCE_TYPES[self.source_type]);
        put_str(&mut p, "source_reliability", RELIABILITY[self.reliability]);
        put_str(&mut p, "location_precision", PRECISION[self.precision]);
        put_str(&mut p, "consent", CONSENT[self.consent]);
        if let Some(n) = &self.narrative {
            put_str(&mut p, "narrative", n);
        }
        self.marking.put(&mut p);
        feature(format!("inc-{:06}", index + 1), point(self.pos), p)
    }
}

/// The process number of the escalation's incidents (the others are 0 to 3).
const CAMPAIGN: usize = 4;

/// The escalation's dominant categories: killings, looting and burning,
/// displacement and attacks on civilian sites (order of [`CATEGORIES`]).
const CAMPAIGN_CATEGORIES: [f64; 12] = [30., 8., 8., 4., 10., 25., 15., 0., 0., 0., 0., 0.];

/// Hour-of-day weights: attacks cluster at night and dawn, reports of
/// detentions and threats during the day.
const HOURS: [f64; 24] = [
    4., 4., 4., 5., 6., 6., 5., 4., 3., 3., 3., 3., 3., 3., 3., 3., 3., 4., 4., 5., 5., 5., 5., 4.,
];

/// Category weights for perpetrators other than armed groups.
fn categories_for(perp: usize) -> [f64; 12] {
    match perp {
        STATE => [15., 15., 0., 5., 0., 5., 0., 0., 35., 15., 0., 10.],
        FOREIGN => [30., 20., 0., 10., 0., 10., 0., 0., 20., 10., 0., 0.],
        COMMUNITY => [25., 25., 0., 0., 0., 20., 10., 0., 0., 15., 0., 5.],
        CRIMINAL => [10., 20., 15., 0., 0., 40., 0., 0., 0., 15., 0., 0.],
        MISSION => [0., 30., 0., 30., 0., 0., 0., 0., 0., 0., 0., 40.],
        _ => [30., 20., 15., 0., 0., 0., 0., 0., 0., 0., 15., 20.],
    }
}

impl Scenario {
    /// Incident number `i`, a pure function of `(seed, i)` and the flare-ups.
    pub(crate) fn incident_record(&self, i: usize) -> Incident {
        // The escalation's incidents come from a stream of their own, so the
        // others are exactly what they would be without it.
        let campaign = ESCALATION.includes(i);
        let mut rng = if campaign {
            Rng::for_item(self.seed, stream::ESCALATION, i as u64)
        } else {
            Rng::for_item(self.seed, stream::INCIDENTS, i as u64)
        };

        // Where, when and by whom (group index for armed-group perpetrators).
        let process = if campaign {
            CAMPAIGN
        } else {
            rng.weighted(&[0.22, 0.43, 0.25, 0.10])
        };
        let (true_pos, t0, group, perp, flare_cat) = match process {
            CAMPAIGN => {
                // The escalation: around its village, rising to the end.
                let (pos, t) = ESCALATION.draw(&mut rng);
                let perp = rng.weighted(&[90., 3., 0., 2., 0., 0., 5.]);
                let cat = rng.weighted(&CAMPAIGN_CATEGORIES);
                (pos, t, self.escalation_group, perp, Some(cat))
            }
            0 => {
                // Flare-up: within a few days and ~10 km of its centre.
                let k = rng.below(self.flares.len() as u64) as usize;
                let f = &self.flares[k];
                let pos = world::jitter(&mut rng, f.centre, f.radius_km * 0.5);
                let t = f.start + rng.range_i(0, f.duration / 60) * 60;
                let perp = rng.weighted(&[86., 4., 1., 4., 0., 0., 5.]);
                (pos, t, f.group, perp, Some(f.category))
            }
            1 => {
                // Home area: mostly around the group's villages.
                let gi = self.group_table.sample(&mut rng);
                let g = &self.groups[gi];
                let pos = if rng.chance(0.7) {
                    let v = g.villages[g.village_table.sample(&mut rng)];
                    world::jitter(&mut rng, v, 2.5)
                } else {
                    world::jitter(&mut rng, g.centre, g.radius_km * 0.5)
                };
                let day = g.days.sample(&mut rng) as i64;
                let t = self.incident_time(&mut rng, day);
                let perp = rng.weighted(&[86., 4., 1., 4., 0., 0., 5.]);
                (pos, t, gi, perp, None)
            }
            2 => {
                // Corridors, mostly within ~10 km of a town.
                let r = &self.roads[self.road_table.sample(&mut rng)];
                let d = if rng.chance(0.75) {
                    let from_end = rng.exponential(10.0).min(r.len_km());
                    if rng.chance(0.5) {
                        from_end
                    } else {
                        r.len_km() - from_end
                    }
                } else {
                    rng.range(0.0, r.len_km())
                };
                let pos = world::jitter(&mut rng, r.point_at(d), 0.8);
                let day = self.all_days.sample(&mut rng) as i64;
                let t = self.incident_time(&mut rng, day);
                let perp = rng.weighted(&[30., 20., 1., 5., 32., 0.4, 12.]);
                (pos, t, self.nearest_group(&mut rng, pos), perp, None)
            }
            _ => {
                // Scattered: around a random town (weighted by size) or anywhere.
                let pos = if rng.chance(0.5) {
                    let town = rng.weighted(&TOWNS.map(|t| t.weight));
                    world::jitter(&mut rng, TOWNS[town].pos, 25.0)
                } else {
                    [
                        rng.range(world::AOR[0] + 0.1, world::AOR[2] - 0.1),
                        rng.range(world::AOR[1] + 0.1, world::AOR[3] - 0.1),
                    ]
                };
                let day = self.all_days.sample(&mut rng) as i64;
                let t = self.incident_time(&mut rng, day);
                let perp = rng.weighted(&[25., 10., 1.5, 35., 10., 0.5, 18.]);
                (pos, t, self.nearest_group(&mut rng, pos), perp, None)
            }
        };

        let category = match (perp, flare_cat) {
            (NSAG, Some(c)) if rng.chance(0.55) => c,
            (NSAG, _) => rng.weighted(&self.groups[group].categories),
            _ => rng.weighted(&categories_for(perp)),
        };
        let site_type =
            (category == ATTACK_SITE).then(|| rng.weighted(&[25., 25., 15., 15., 15., 5.]));

        let verification = rng.weighted(&[15., 40., 25., 20.]);
        let perpetrator = self.perpetrator_text(&mut rng, perp, group, verification);
        let counts = counts(&mut rng, category);
        let t1 = incident_end(&mut rng, category, t0);

        let source_type = rng.weighted(match verification {
            0 => &[5., 15., 45., 10., 5., 5., 5., 2., 3., 2., 3.],
            1 => &[15., 25., 15., 12., 5., 5., 8., 5., 5., 3., 2.],
            2 => &[20., 25., 8., 10., 3., 3., 6., 10., 13., 2., 0.],
            _ => &[30., 25., 3., 5., 0., 0., 4., 10., 23., 0., 0.],
        });
        let reliability = rng.weighted(match source_type {
            UN_AGENCY | MISSION_SOURCE => &[25., 50., 20., 4., 1., 0.],
            OPEN_SOURCE | MEDIA => &[0., 10., 35., 30., 10., 15.],
            UNKNOWN_SOURCE => &[0., 0., 10., 20., 20., 50.],
            _ => &[5., 35., 35., 15., 5., 5.],
        });
        let precision = rng.weighted(&[45., 38., 12., 5.]);
        // Coarser precision: the recorded point is only a district/province
        // representative, so it drifts further from the true place.
        let sigma_km = [0.05, 1.0, 12.0, 35.0][precision];
        let pos = world::jitter(&mut rng, true_pos, sigma_km);

        let consent = match (category, source_type) {
            (SEXUAL_VIOLENCE, _) => rng.weighted(&[35., 60., 5., 0.]),
            (_, VICTIM | WITNESS) => rng.weighted(&[20., 40., 25., 15.]),
            (_, OPEN_SOURCE | MEDIA | AUTHORITIES) => rng.weighted(&[10., 10., 30., 50.]),
            _ => rng.weighted(&[20., 35., 30., 15.]),
        };
        let narrative = rng
            .chance(0.35)
            .then(|| narrative(&mut rng, category, site_type, &counts));
        let marking = if rng.chance(0.1) {
            let sensitive = matches!(category, SEXUAL_VIOLENCE | CHILD_RECRUITMENT);
            Marking {
                owner: Some(["hr", "mission", "military"][rng.weighted(&[75., 15., 10.])]),
                classification: Some(if sensitive {
                    ["restricted", "strictly-confidential"][rng.weighted(&[1., 1.])]
                } else {
                    ["public", "mission", "restricted", "strictly-confidential"]
                        [rng.weighted(&[15., 45., 35., 5.])]
                }),
            }
        } else {
            Marking::default()
        };
        Incident {
            pos,
            t0,
            t1,
            category,
            site_type,
            perpetrator,
            perpetrator_category: perp,
            counts,
            verification,
            source_type,
            reliability,
            precision,
            consent,
            narrative,
            marking,
        }
    }

    /// A time on scenario day `day`, at minute precision, night-heavy.
    fn incident_time(&self, rng: &mut Rng, day: i64) -> i64 {
        let hour = rng.weighted(&HOURS) as i64;
        PERIOD_START + day * 86_400 + hour * 3600 + rng.range_i(0, 59) * 60
    }

    /// A group likely to operate at `p`: closer home areas are likelier.
    fn nearest_group(&self, rng: &mut Rng, p: [f64; 2]) -> usize {
        let w: Vec<f64> = self
            .groups
            .iter()
            .map(|g| {
                let x = world::dist_km(p, g.centre) / (g.radius_km + 40.0);
                g.weight / (1.0 + x * x * x)
            })
            .collect();
        rng.weighted(&w)
    }

    /// Free-text perpetrator, fictional or generic.
    fn perpetrator_text(
        &self,
        rng: &mut Rng,
        perp: usize,
        group: usize,
        verification: usize,
    ) -> String {
        let pick =
            |rng: &mut Rng, xs: &[&str]| rng.pick(xs).copied().unwrap_or("Unknown").to_string();
        match perp {
            NSAG => {
                let name = self.groups[group].name;
                if verification <= 1 && rng.chance(0.3) {
                    format!("Suspected elements of {name}")
                } else {
                    name.to_string()
                }
            }
            STATE => pick(
                rng,
                &[
                    "National armed forces (synthetic unit)",
                    "National police (synthetic unit)",
                    "Gendarmerie (synthetic unit)",
                ],
            ),
            FOREIGN => "Foreign armed personnel (synthetic)".to_string(),
            COMMUNITY => pick(
                rng,
                &[
                    "Local self-defence group (synthetic)",
                    "Village vigilance committee (synthetic)",
                ],
            ),
            CRIMINAL => pick(
                rng,
                &[
                    "Road bandits (synthetic)",
                    "Armed criminal gang (synthetic)",
                ],
            ),
            MISSION => "Mission personnel (synthetic allegation)".to_string(),
            _ => pick(rng, &["Unidentified armed men", "Unknown"]),
        }
    }
}

/// People killed, injured and affected for an incident of `category`
/// (see [`COUNT_KEYS`] for the layout).
fn counts(rng: &mut Rng, category: usize) -> [u32; 15] {
    let mut c = [0u32; 15];
    // Sex/age profiles: women, men, girls, boys, unknown.
    const ADULTS: [f64; 5] = [18., 55., 7., 10., 10.];
    const WOUNDED: [f64; 5] = [20., 55., 7., 10., 8.];
    const EVERYONE: [f64; 5] = [28., 24., 20., 20., 8.];
    let mut add = |rng: &mut Rng, block: usize, total: u64, profile: &[f64; 5]| {
        split(rng, total, profile, &mut c[block * 5..block * 5 + 5]);
    };
    const K: usize = 0; // killed
    const I: usize = 1; // injured
    const A: usize = 2; // affected
    match category {
        KILLING => {
            let n = if rng.chance(0.03) {
                6 + rng.geometric(8.0)
            } else {
                1 + rng.geometric(0.8)
            };
            add(rng, K, n, &ADULTS);
            if rng.chance(0.25) {
                let n = 1 + rng.geometric(1.0);
                add(rng, I, n, &WOUNDED);
            }
        }
        INJURY => {
            let n = 1 + rng.geometric(1.2);
            add(rng, I, n, &WOUNDED);
            if rng.chance(0.05) {
                add(rng, K, 1, &ADULTS);
            }
        }
        ABDUCTION => {
            let n = 1 + rng.geometric(1.5);
            add(rng, A, n, &[20., 50., 12., 13., 5.]);
        }
        SEXUAL_VIOLENCE => {
            let n = 1 + rng.geometric(0.3);
            add(rng, A, n, &[70., 3., 25., 1., 1.]);
        }
        ATTACK_SITE => {
            if rng.chance(0.4) {
                let n = 5 + rng.geometric(30.0);
                add(rng, A, n, &EVERYONE);
            }
            if rng.chance(0.15) {
                let n = 1 + rng.geometric(1.0);
                add(rng, K, n, &ADULTS);
            }
            if rng.chance(0.2) {
                let n = 1 + rng.geometric(1.5);
                add(rng, I, n, &WOUNDED);
            }
        }
        LOOTING => {
            if rng.chance(0.6) {
                let n = 2 + rng.geometric(20.0);
                add(rng, A, n, &[25., 25., 20., 20., 10.]);
            }
            if rng.chance(0.05) {
                add(rng, K, 1, &ADULTS);
            }
        }
        DISPLACEMENT => {
            let n = (10 + rng.geometric(80.0)).min(400);
            add(rng, A, n, &[30., 22., 22., 20., 6.]);
        }
        CHILD_RECRUITMENT => {
            let n = 1 + rng.geometric(1.2);
            add(rng, A, n, &[0., 0., 15., 80., 5.]);
        }
        DETENTION => {
            let n = 1 + rng.geometric(1.0);
            add(rng, A, n, &[10., 80., 2., 6., 2.]);
        }
        THREAT => {
            if rng.chance(0.6) {
                let n = 1 + rng.geometric(3.0);
                add(rng, A, n, &[30., 50., 5., 5., 10.]);
            }
        }
        EXPLOSIVE => {
            if rng.chance(0.5) {
                let n = 1 + rng.geometric(0.8);
                add(rng, K, n, &[15., 50., 10., 15., 10.]);
            }
            if rng.chance(0.7) {
                let n = 1 + rng.geometric(1.5);
                add(rng, I, n, &[15., 50., 10., 15., 10.]);
            }
        }
        _ => {
            if rng.chance(0.4) {
                let n = 1 + rng.geometric(4.0);
                add(rng, A, n, &EVERYONE);
            }
        }
    }
    c
}

/// Splits `total` people over the five sex/age bins of `profile`.
///
/// Small totals draw each person; large ones use perturbed proportions so a
/// displacement of hundreds costs a handful of draws, not hundreds.
fn split(rng: &mut Rng, total: u64, profile: &[f64; 5], out: &mut [u32]) {
    let total = total.min(100_000) as u32;
    if total <= 20 {
        for _ in 0..total {
            out[rng.weighted(profile)] += 1;
        }
        return;
    }
    let w: Vec<f64> = profile.iter().map(|p| p * rng.range(0.8, 1.2)).collect();
    let sum: f64 = w.iter().sum();
    let mut assigned = 0;
    for (o, wi) in out.iter_mut().zip(&w) {
        *o = (total as f64 * wi / sum).floor() as u32;
        assigned += *o;
    }
    // The rounding remainder goes to the largest bin (ties: the first).
    let mut best = 0;
    for k in 1..out.len() {
        if w[k] > w[best] {
            best = k;
        }
    }
    out[best] += total - assigned;
}

/// An end time for lasting incidents: captivity, detention, displacement.
fn incident_end(rng: &mut Rng, category: usize, t0: i64) -> Option<i64> {
    let secs = match category {
        ABDUCTION if rng.chance(0.4) => rng.range_i(1, 30) * 86_400,
        DETENTION if rng.chance(0.5) => rng.range_i(1, 20) * 86_400,
        DISPLACEMENT if rng.chance(0.5) => rng.range_i(2, 60) * 86_400,
        CHILD_RECRUITMENT if rng.chance(0.2) => rng.range_i(30, 180) * 86_400,
        LOOTING if rng.chance(0.2) => rng.range_i(1, 8) * 3600,
        _ if rng.chance(0.05) => rng.range_i(1, 6) * 3600,
        _ => return None,
    };
    Some((t0 + secs).min(PERIOD_END))
}

/// A short, clearly synthetic narrative.
fn narrative(rng: &mut Rng, category: usize, site: Option<usize>, c: &[u32; 15]) -> String {
    let killed: u32 = c[0..5].iter().sum();
    let injured: u32 = c[5..10].iter().sum();
    let affected: u32 = c[10..15].iter().sum();
    let site = site.map_or("building", |s| {
        [
            "school",
            "health post",
            "IDP site",
            "place of worship",
            "market",
            "public building",
        ][s]
    });
    let opening = ["", " Initial information, pending verification."];
    let tail = opening[rng.below(2) as usize];
    let body = match category {
        KILLING => {
            let v = [
                format!("armed men entered the village at night and killed {killed} civilian(s); survivors fled to the bush."),
                format!("{killed} civilian(s) were shot dead on the road between two villages while returning from the fields."),
            ];
            v[rng.below(2) as usize].clone()
        }
        INJURY => format!(
            "{injured} civilian(s) were wounded by gunfire during an exchange of fire near the village."
        ),
        ABDUCTION => {
            let v = [
                format!("{affected} traveller(s) were abducted on the road to the weekly market; a ransom was reportedly demanded."),
                format!("armed elements took {affected} villager(s) from their homes before dawn."),
            ];
            v[rng.below(2) as usize].clone()
        }
        SEXUAL_VIOLENCE => "a survivor reported an assault by armed elements while collecting firewood; referred to medical and psychosocial care.".to_string(),
        ATTACK_SITE => format!("armed elements occupied the {site}, looted it and damaged the building."),
        LOOTING => "houses and granaries were looted and several huts set on fire after the population fled.".to_string(),
        DISPLACEMENT => format!("about {affected} residents fled towards the nearest town after threats by armed elements."),
        CHILD_RECRUITMENT => format!("{affected} child(ren) were reportedly taken from the village to serve at an armed group position."),
        DETENTION => format!("{affected} person(s) were held without charge at a checkpoint and released after payment."),
        THREAT => "community leaders received threats after refusing to pay illegal taxes at a checkpoint.".to_string(),
        EXPLOSIVE => "an explosive device detonated on a secondary road as a motorbike passed.".to_string(),
        _ => "community alert network reported suspicious armed movements near the village.".to_string(),
    };
    format!("Synthetic record: {body}{tail}")
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{common, one_of, small};
    use super::super::DemoConfig;
    use super::*;

    #[test]
    fn incidents_follow_the_schema() {
        let s = small();
        let mut n = 0;
        let mut marked = 0;
        let mut narratives = 0;
        let mut perp_counts = [0usize; 7];
        let mut cat_counts = [0usize; 12];
        for f in s.incidents() {
            let p = common(&f, "inc-");
            assert_eq!(f["geometry"]["type"], "Point");
            one_of(p, "category", &CATEGORIES);
            let cat = p["category"].as_str().unwrap_or_default();
            assert_eq!(
                p.contains_key("site_type"),
                cat == "attack-on-civilian-site"
            );
            one_of(p, "site_type", &SITE_TYPES);
            one_of(p, "perpetrator_category", &PERPETRATOR_CATEGORIES);
            one_of(p, "verification", &VERIFICATION);
            one_of(p, "source_type", &SOURCE_TYPES);
            one_of(p, "source_reliability", &RELIABILITY);
            one_of(p, "location_precision", &PRECISION);
            one_of(p, "consent", &CONSENT);
            assert!(p["perpetrator"].as_str().is_some_and(|s| !s.is_empty()));
            for k in COUNT_KEYS {
                if let Some(v) = p.get(k) {
                    assert!(v.as_u64().is_some_and(|v| v > 0 && v <= 400), "{k}={v}");
                }
            }
            if let Some(t) = p.get("narrative") {
                assert!(t
                    .as_str()
                    .is_some_and(|t| t.starts_with("Synthetic record:")));
                narratives += 1;
            }
            marked += usize::from(p.contains_key("owner"));
            let pc = p["perpetrator_category"].as_str().unwrap_or_default();
            perp_counts[PERPETRATOR_CATEGORIES
                .iter()
                .position(|x| *x == pc)
                .unwrap_or(0)] += 1;
            cat_counts[CATEGORIES.iter().position(|x| *x == cat).unwrap_or(0)] += 1;
            n += 1;
        }
        assert_eq!(n, 3000);
        assert!((200..=400).contains(&marked), "{marked} marked");
        assert!(
            (800..=1300).contains(&narratives),
            "{narratives} narratives"
        );
        // Mostly armed groups, but every other major category present.
        assert!(perp_counts[NSAG] > n / 2, "{perp_counts:?}");
        for k in [STATE, COMMUNITY, CRIMINAL, 6] {
            assert!(perp_counts[k] > n / 50, "{perp_counts:?}");
        }
        assert!(cat_counts.iter().all(|c| *c > 0), "{cat_counts:?}");
    }

    #[test]
    fn killings_have_killed_counts() {
        let s = small();
        for i in 0..2000 {
            let r = s.incident_record(i);
            let killed: u32 = r.counts[0..5].iter().sum();
            let injured: u32 = r.counts[5..10].iter().sum();
            let affected: u32 = r.counts[10..15].iter().sum();
            match r.category {
                KILLING => assert!(killed > 0),
                INJURY => assert!(injured > 0),
                ABDUCTION | DISPLACEMENT | CHILD_RECRUITMENT | DETENTION | SEXUAL_VIOLENCE => {
                    assert!(affected > 0)
                }
                _ => {}
            }
            if r.category == CHILD_RECRUITMENT {
                assert_eq!(
                    r.counts[10] + r.counts[11],
                    0,
                    "adults recruited as children"
                );
            }
        }
    }

    #[test]
    fn incidents_are_deterministic_and_counter_based() {
        let a = small();
        let b = small();
        assert!(a.incidents().zip(b.incidents()).all(|(x, y)| x == y));
        // Random access equals streaming.
        let streamed: Vec<Value> = a.incidents().take(20).collect();
        let direct: Vec<Value> = (0..20).map(|i| a.incident(i)).collect();
        assert_eq!(streamed, direct);
    }

    #[test]
    fn incidents_cluster_in_time_and_season() {
        // Dry-season months (Dec-Apr) are busier than the rainy season.
        let s = small();
        let mut dry = 0usize;
        let mut wet = 0usize;
        for i in 0..3000 {
            let r = s.incident_record(i);
            let (_, m, _) = world::civil_from_days(r.t0.div_euclid(86_400));
            if m == 12 || m <= 4 {
                dry += 1;
            } else {
                wet += 1;
            }
        }
        // 5 dry months vs 7 wet: equal rates would give dry/wet ~ 0.71.
        assert!(dry as f64 / wet as f64 > 1.0, "dry {dry} wet {wet}");
    }

    #[test]
    fn flare_count_scales() {
        let s = Scenario::new(&DemoConfig {
            seed: 1,
            incidents: 600_000,
        });
        assert_eq!(s.flares.len(), 10_000);
        for f in s.flares.iter().take(500) {
            assert!(f.start >= PERIOD_START && f.start + f.duration <= PERIOD_END);
            assert!(world::in_aor(f.centre));
        }
    }
}
