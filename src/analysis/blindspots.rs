//! Blind spots: where threats arise and the mission is not there.
//!
//! Two kinds, each dissolved from edge-connected grid cells into polygons:
//!
//! - **Threat blind spots**: cells whose risk reaches
//!   [`BlindSpotParams::min_risk`] (High on the handbook's matrix by default)
//!   while the mission's presence there stays below
//!   [`BlindSpotParams::max_presence`] (see [`super::coverage`]: 1 within an
//!   active base's reach, else the recency-weighted patrol visits).
//! - **Information blind spots**: cells with no presence at all and no report
//!   from any source in the window, within [`BlindSpotParams::info_margin_m`]
//!   of a statistically significant hot spot: threats may be growing there
//!   unseen.
//!
//! Each blind spot reports its area, threat and risk, the incidents and
//! sightings inside, the nearest active base and its distance, the last
//! patrol and report, civilian sites at risk (the joint-protection-team score
//! `likelihood x vulnerability x exposure / capacity`, capacity
//! `1 + 4 x presence`) and a priority:
//!
//! ```text
//! priority = sum over its cells of risk x (1 - presence) x area_km2 / 100
//!            x hotspot_bonus when it holds a significant hot spot
//! ```
//!
//! so large, risky, unvisited areas with a hot spot rank first. Information
//! blind spots rank by `sum of cell area_km2 / 100 x threat of the strongest
//! hot spot within the margin`. Ties break on the lowest cell index, so the
//! ranking is deterministic.

use super::coverage::time_param;
use super::coverage::{Coverage, Presence};
use super::product::{Field, Fields, Item, Param, Product, ProductGrid, Shape};
use super::threat::{RiskLevel, Threat};
use super::AnalysisError;
use crate::grid::{components, dissolve, Grid};
use crate::model::Layer;
use geo::{Distance, Euclidean, MapCoords};
use geo_types::{Geometry, MultiPolygon, Point};
use rayon::prelude::*;

/// Parameters of the blind-spot search.
#[derive(Debug, Clone, PartialEq)]
pub struct BlindSpotParams {
    /// Lowest risk level that counts as high threat (default High).
    pub min_risk: RiskLevel,
    /// Presence below this is "no regular presence" (default 0.5: a cell
    /// visited once within one half-life, or within a base's reach, is present).
    pub max_presence: f64,
    /// Information blind spots lie within this distance of a hot spot,
    /// metres (default 10 km).
    pub info_margin_m: f64,
    /// Priority multiplier for a blind spot holding a significant hot spot
    /// (default 1.5).
    pub hotspot_bonus: f64,
}

impl Default for BlindSpotParams {
    fn default() -> Self {
        BlindSpotParams {
            min_risk: RiskLevel::High,
            max_presence: 0.5,
            info_margin_m: 10_000.0,
            hotspot_bonus: 1.5,
        }
    }
}

impl BlindSpotParams {
    /// Checks every parameter, naming the bad one.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        if !(self.max_presence.is_finite() && self.max_presence > 0.0 && self.max_presence <= 1.0) {
            return Err(AnalysisError::param("max-presence", "must be in (0, 1]"));
        }
        if !(self.info_margin_m.is_finite() && self.info_margin_m >= 0.0) {
            return Err(AnalysisError::param(
                "info-margin",
                "must be a non-negative distance",
            ));
        }
        if !(self.hotspot_bonus.is_finite() && self.hotspot_bonus >= 1.0) {
            return Err(AnalysisError::param("hotspot-bonus", "must be at least 1"));
        }
        Ok(())
    }
}

/// The kind of a blind spot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BlindSpotKind {
    /// High risk, low presence.
    Threat,
    /// No presence and no information, next to a hot spot.
    Information,
}

impl BlindSpotKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            BlindSpotKind::Threat => "threat",
            BlindSpotKind::Information => "information",
        }
    }
}

/// One blind spot.
#[derive(Debug, Clone, PartialEq)]
pub struct BlindSpot {
    /// Its kind.
    pub kind: BlindSpotKind,
    /// 1-based rank within its kind, by priority.
    pub rank: usize,
    /// The cells, ascending.
    pub cells: Vec<usize>,
    /// The dissolved outline, lon/lat.
    pub polygon: MultiPolygon<f64>,
    /// Area, km2.
    pub area_km2: f64,
    /// Highest and mean threat of its cells.
    pub threat_max: f64,
    /// Mean threat of its cells.
    pub threat_mean: f64,
    /// Highest risk score (likelihood x impact).
    pub risk_max: u8,
    /// Highest likelihood and impact.
    pub likelihood_max: u8,
    /// Highest impact.
    pub impact_max: u8,
    /// Whether it holds a significant hot spot.
    pub hot: bool,
    /// Incidents inside in the window.
    pub incidents: u32,
    /// Of which sexual-violence or child cases.
    pub sensitive: u32,
    /// Sightings inside in the window.
    pub sightings: u32,
    /// Nearest base active at the end of the window: (index in
    /// [`Presence::bases`], distance in metres from the nearest cell centre).
    pub nearest_base: Option<(usize, f64)>,
    /// Last time a patrol came within its corridor of one of its cells.
    pub last_patrol: Option<i64>,
    /// Last report (incident or sighting) informing on one of its cells.
    pub last_report: Option<i64>,
    /// Highest joint-protection-team score of its cells (None: no civilian site).
    pub jpt_max: Option<f64>,
    /// People at civilian sites within reach of its cells, each site once.
    pub population: u64,
    /// Civilian sites within reach of the spot's cells (each once).
    pub sites: u32,
    /// Priority score (see the module docs).
    pub priority: f64,
}

/// The result: blind spots of both kinds, each kind ranked.
#[derive(Debug, Clone)]
pub struct BlindSpots {
    /// Threat blind spots by rank, then information blind spots by rank.
    pub spots: Vec<BlindSpot>,
    /// Per cell: is it in a threat blind spot.
    pub blind: Vec<bool>,
    /// The parameters.
    pub params: BlindSpotParams,
}

/// Joint-protection-team score of a cell: threat (likelihood) x
/// vulnerability x exposure / capacity, capacity = 1 + 4 x presence.
pub fn jpt_score(likelihood: u8, vulnerability: u8, exposure: f64, presence: f64) -> Option<f64> {
    (vulnerability > 0).then(|| {
        f64::from(likelihood) * f64::from(vulnerability) * exposure
            / (1.0 + 4.0 * presence.clamp(0.0, 1.0))
    })
}

/// Finds and ranks the blind spots.
pub fn blindspots(
    grid: &Grid,
    threat: &Threat,
    coverage: &Coverage,
    presence: &Presence,
    params: &BlindSpotParams,
) -> Result<BlindSpots, AnalysisError> {
    params.validate()?;
    let n = grid.len();
    if threat.cells.len() != n || coverage.cells.len() != n {
        return Err(AnalysisError::param(
            "grid",
            "threat, coverage and grid have different cell counts",
        ));
    }
    let blind: Vec<bool> = (0..n)
        .map(|i| {
            threat.cells[i].level() >= params.min_risk
                && coverage.cells[i].presence < params.max_presence
        })
        .collect();
    // Strongest hot-spot threat within the margin of each cell.
    let mut near_hot = vec![0.0f64; n];
    for (h, t) in threat.cells.iter().enumerate() {
        if t.hot {
            grid.for_each_cell_within(grid.cells[h].xy, params.info_margin_m, |c| {
                near_hot[c] = near_hot[c].max(t.threat);
            });
        }
    }
    crate::cancel::check()?;
    let info: Vec<bool> = (0..n)
        .map(|i| {
            let c = &coverage.cells[i];
            near_hot[i] > 0.0
                && !threat.cells[i].hot
                && !blind[i]
                && c.presence == 0.0
                && c.visits == 0
                && c.reports == 0
        })
        .collect();

    let to = coverage.params.to;
    let bases: Vec<(usize, Geometry<f64>)> = presence
        .bases
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_active(to))
        .map(|(i, b)| {
            let g = b.geometry.map_coords(|c| {
                let [x, y] = grid.project(c.x, c.y);
                geo_types::coord! { x: x, y: y }
            });
            (i, g)
        })
        .collect();

    let mut spots = Vec::new();
    for (kind, selected) in [
        (BlindSpotKind::Threat, &blind),
        (BlindSpotKind::Information, &info),
    ] {
        let mut these: Vec<BlindSpot> = components(grid, selected)
            .into_par_iter()
            .map(|cells| {
                summarise(
                    grid, threat, coverage, &bases, &near_hot, kind, cells, params,
                )
            })
            .collect();
        these.sort_by(|a, b| {
            b.priority
                .total_cmp(&a.priority)
                .then(a.cells[0].cmp(&b.cells[0]))
        });
        for (r, s) in these.iter_mut().enumerate() {
            s.rank = r + 1;
        }
        spots.extend(these);
    }
    count_sites(threat, n, &mut spots);
    Ok(BlindSpots {
        spots,
        blind,
        params: params.clone(),
    })
}

/// Each spot's civilian sites within reach of any of its cells, each site
/// counted once: their number and population.
fn count_sites(threat: &Threat, n: usize, spots: &mut [BlindSpot]) {
    let mut spot_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, s) in spots.iter().enumerate() {
        for &c in &s.cells {
            spot_of[c].push(i as u32);
        }
    }
    let mut hit: Vec<u32> = Vec::new();
    for (population, reach) in &threat.site_reach {
        hit.clear();
        for &c in reach {
            hit.extend_from_slice(&spot_of[c as usize]);
        }
        hit.sort_unstable();
        hit.dedup();
        for &i in &hit {
            let s = &mut spots[i as usize];
            s.population += population;
            s.sites += 1;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn summarise(
    grid: &Grid,
    threat: &Threat,
    coverage: &Coverage,
    bases: &[(usize, Geometry<f64>)],
    near_hot: &[f64],
    kind: BlindSpotKind,
    cells: Vec<usize>,
    params: &BlindSpotParams,
) -> BlindSpot {
    let mut s = BlindSpot {
        kind,
        rank: 0,
        polygon: dissolve(grid, &cells),
        area_km2: 0.0,
        threat_max: 0.0,
        threat_mean: 0.0,
        risk_max: 0,
        likelihood_max: 0,
        impact_max: 0,
        hot: false,
        incidents: 0,
        sensitive: 0,
        sightings: 0,
        nearest_base: None,
        last_patrol: None,
        last_report: None,
        jpt_max: None,
        population: 0,
        sites: 0,
        priority: 0.0,
        cells: Vec::new(),
    };
    let mut sum_threat = 0.0;
    for &c in &cells {
        let t = &threat.cells[c];
        let p = &coverage.cells[c];
        let area = grid.cell_area_m2(c) / 1e6;
        s.area_km2 += area;
        sum_threat += t.threat;
        s.threat_max = s.threat_max.max(t.threat);
        s.risk_max = s.risk_max.max(t.risk);
        s.likelihood_max = s.likelihood_max.max(t.likelihood);
        s.impact_max = s.impact_max.max(t.impact);
        s.hot |= t.hot;
        s.incidents += t.incidents;
        s.sensitive += t.sensitive;
        s.sightings += t.sightings;
        s.last_patrol = s.last_patrol.max(p.last_patrol);
        s.last_report = s.last_report.max(p.last_report);
        if let Some(j) = jpt_score(t.likelihood, t.vulnerability, t.exposure, p.presence) {
            s.jpt_max = Some(s.jpt_max.map_or(j, |m: f64| m.max(j)));
        }
        s.priority += match kind {
            BlindSpotKind::Threat => {
                f64::from(t.risk) * (1.0 - p.presence.clamp(0.0, 1.0)) * area / 100.0
            }
            BlindSpotKind::Information => near_hot[c] * area / 100.0,
        };
        let centre = Point::new(grid.cells[c].xy[0], grid.cells[c].xy[1]);
        for (i, g) in bases {
            let d = Euclidean.distance(&centre, g);
            if s.nearest_base
                .is_none_or(|(j, best)| d < best || (d == best && *i < j))
            {
                s.nearest_base = Some((*i, d));
            }
        }
    }
    s.threat_mean = sum_threat / cells.len().max(1) as f64;
    if kind == BlindSpotKind::Threat && s.hot {
        s.priority *= params.hotspot_bonus;
    }
    s.cells = cells;
    s
}

/// Days from `t` to `to`, one decimal (null when absent): computed from
/// individual patrol or report times, so a value.
fn days_since(t: Option<i64>, to: i64) -> Field {
    t.map_or(Field::Null, |t| {
        Field::Value(((to - t) as f64 / 86_400.0 * 10.0).round() / 10.0)
    })
}

impl BlindSpots {
    /// The blind spots as a GeoJSON FeatureCollection of (multi)polygons,
    /// ranked, with every figure behind the rank; with `with_cells`, also the
    /// risk surface (every cell with some threat or presence, `kind: "cell"`).
    /// Aggregate features carry `count` (incidents and sightings behind them)
    /// and `count_sensitive` for the access gate's minimum-count rule. A
    /// `jointmap` member records the method and every parameter used.
    pub fn to_product(
        &self,
        grid: &Grid,
        threat: &Threat,
        coverage: &Coverage,
        presence: &Presence,
        with_cells: bool,
    ) -> Product {
        let to = coverage.params.to;
        let counts = |incidents: u32, sightings: u32, sensitive: u32| -> Fields {
            vec![
                (
                    "incidents",
                    Field::Count {
                        layer: Layer::Incidents,
                        n: u64::from(incidents),
                    },
                ),
                (
                    "sightings",
                    Field::Count {
                        layer: Layer::Sightings,
                        n: u64::from(sightings),
                    },
                ),
                ("count", Field::Tally(u64::from(incidents + sightings))),
                ("count_sensitive", Field::Sensitive(u64::from(sensitive))),
            ]
        };
        let mut items: Vec<Item> = self
            .spots
            .iter()
            .map(|s| {
                let prefix = match s.kind {
                    BlindSpotKind::Threat => "T",
                    BlindSpotKind::Information => "I",
                };
                let base = s
                    .nearest_base
                    .and_then(|(i, d)| presence.bases.get(i).map(|b| (b, d)));
                let mut props: Fields = vec![
                    ("kind", Field::Key(s.kind.as_str().into())),
                    ("rank", Field::Tally(s.rank as u64)),
                    ("priority", Field::Value(s.priority)),
                    ("area_km2", Field::Fixed(s.area_km2)),
                    ("cells", Field::Tally(s.cells.len() as u64)),
                    ("threat_max", Field::Value(s.threat_max)),
                    ("threat_mean", Field::Value(s.threat_mean)),
                    ("risk_max", Field::Tally(u64::from(s.risk_max))),
                    (
                        "risk_level",
                        Field::Class(RiskLevel::of(s.risk_max).as_str().into()),
                    ),
                    ("likelihood_max", Field::Tally(u64::from(s.likelihood_max))),
                    ("impact_max", Field::Tally(u64::from(s.impact_max))),
                    ("hotspot", Field::Flag(s.hot)),
                ];
                props.extend(counts(s.incidents, s.sightings, s.sensitive));
                match base {
                    Some((b, d)) => {
                        let rel = |value| Field::relation(Layer::Bases, &b.id, value);
                        props.extend([
                            ("nearest_base_id", rel(Field::Key(b.id.clone()))),
                            ("nearest_base_name", rel(Field::Key(b.name.clone()))),
                            (
                                "nearest_base_km",
                                rel(Field::Value((d / 100.0).round() / 10.0)),
                            ),
                        ])
                    }
                    None => props.extend([
                        ("nearest_base_id", Field::no_relation(Layer::Bases)),
                        ("nearest_base_name", Field::no_relation(Layer::Bases)),
                        ("nearest_base_km", Field::no_relation(Layer::Bases)),
                    ]),
                }
                props.extend([
                    ("last_patrol", Field::time(s.last_patrol)),
                    ("days_since_patrol", days_since(s.last_patrol, to)),
                    ("last_report", Field::time(s.last_report)),
                    ("days_since_report", days_since(s.last_report, to)),
                    ("jpt_max", s.jpt_max.map_or(Field::Null, Field::Value)),
                    (
                        "site_population",
                        Field::Sum {
                            layer: Layer::Sites,
                            n: u64::from(s.sites),
                            value: s.population as f64,
                        },
                    ),
                ]);
                Item {
                    id: Field::Key(format!("{prefix}{}", s.rank)),
                    geometry: Shape::Cells(s.polygon.clone()),
                    properties: props,
                }
            })
            .collect();
        if with_cells {
            for (i, cell) in grid.cells.iter().enumerate() {
                let t = &threat.cells[i];
                let c = &coverage.cells[i];
                if t.threat == 0.0 && c.presence == 0.0 && t.incidents + t.sightings == 0 {
                    continue;
                }
                let mut props: Fields = vec![
                    ("kind", Field::Key("cell".into())),
                    ("threat", Field::Value(t.threat)),
                    ("incident_density", Field::Value(t.incident_density)),
                    ("sighting_density", Field::Value(t.sighting_density)),
                    ("likelihood", Field::Tally(u64::from(t.likelihood))),
                    ("impact", Field::Tally(u64::from(t.impact))),
                    ("risk", Field::Tally(u64::from(t.risk))),
                    ("risk_level", Field::Class(t.level().as_str().into())),
                    ("hotspot", Field::Flag(t.hot)),
                    ("gi_z", Field::Value(t.gi_z)),
                    ("presence", Field::Value(c.presence)),
                    ("blind", Field::Flag(self.blind[i])),
                ];
                props.extend(counts(t.incidents, t.sightings, t.sensitive));
                props.push((
                    "jpt",
                    jpt_score(t.likelihood, t.vulnerability, t.exposure, c.presence)
                        .map_or(Field::Null, Field::Value),
                ));
                let ring = if cell.ring.len() < 4 {
                    Shape::None
                } else {
                    Shape::Cell(cell.ring.clone())
                };
                items.push(Item {
                    id: Field::Key(cell.key.clone()),
                    geometry: ring,
                    properties: props,
                });
            }
        }
        let tp = &threat.params;
        let p = &self.params;
        let count = |k: BlindSpotKind| self.spots.iter().filter(|s| s.kind == k).count();
        let area = |k: BlindSpotKind| -> f64 {
            self.spots
                .iter()
                .filter(|s| s.kind == k)
                .map(|s| s.area_km2)
                .sum()
        };
        let cp = &coverage.params;
        let (grid_param, product_grid) = grid_param(grid);
        let mut out = Product::new("blindspots");
        out.grid = Some(product_grid);
        out.meta.extend([
            ("method", Field::param("threat blind spots: cells with risk (likelihood x impact, POC handbook 5x5 matrix) at or above min_risk and presence below max_presence; information blind spots: cells with no presence and no report within info_margin of a Gi* hot spot (95 %, FDR); edge-connected cells dissolved; ranked by priority (docs/analysis.md)")),
            (
                "window",
                Field::Param(Param::Object(vec![
                    ("from", time_param(cp.from)),
                    ("to", time_param(to)),
                ])),
            ),
            ("grid", Field::Param(grid_param)),
            ("threat_blindspots", Field::Tally(count(BlindSpotKind::Threat) as u64)),
            ("threat_blindspot_km2", Field::Fixed(area(BlindSpotKind::Threat))),
            (
                "information_blindspots",
                Field::Tally(count(BlindSpotKind::Information) as u64),
            ),
            (
                "information_blindspot_km2",
                Field::Fixed(area(BlindSpotKind::Information)),
            ),
            (
                "parameters",
                Field::Param(Param::Object(vec![
                    ("min_risk", p.min_risk.as_str().into()),
                    ("max_presence", p.max_presence.into()),
                    ("info_margin_km", (p.info_margin_m / 1000.0).into()),
                    ("hotspot_bonus", p.hotspot_bonus.into()),
                    (
                        "threat",
                        Param::Object(vec![
                            ("kernel", format!("{:?}", tp.kernel).to_lowercase().into()),
                            ("bandwidth_km", (tp.bandwidth_m / 1000.0).into()),
                            ("half_life_days", tp.half_life_days.into()),
                            ("sighting_factor", tp.sighting_factor.into()),
                            (
                                "likelihood_breaks",
                                Param::List(tp.likelihood_breaks.iter().map(|b| Param::Num(*b)).collect()),
                            ),
                            ("site_radius_km", (tp.site_radius_m / 1000.0).into()),
                            ("gi_band_km", (threat.band_m / 1000.0).into()),
                        ]),
                    ),
                    (
                        "presence",
                        Param::Object(vec![
                            (
                                "corridor_km",
                                Param::Object(vec![
                                    ("foot", (cp.corridor_m[0] / 1000.0).into()),
                                    ("vehicle", (cp.corridor_m[1] / 1000.0).into()),
                                    ("air", (cp.corridor_m[2] / 1000.0).into()),
                                    ("boat", (cp.corridor_m[3] / 1000.0).into()),
                                ]),
                            ),
                            ("half_life_days", cp.half_life_days.into()),
                            ("info_radius_km", (cp.info_radius_m / 1000.0).into()),
                        ]),
                    ),
                ])),
            ),
        ]);
        out.items = items;
        out
    }
}

/// The grid's description for output metadata, and its kind for the gate.
fn grid_param(grid: &Grid) -> (Param, ProductGrid) {
    match grid.kind {
        crate::grid::GridKind::Square { cell_m } => (
            Param::Object(vec![
                ("kind", "square".into()),
                ("cell_km", (cell_m / 1000.0).into()),
                ("cells", grid.len().into()),
            ]),
            ProductGrid::Square(cell_m),
        ),
        crate::grid::GridKind::H3 { resolution } => (
            Param::Object(vec![
                ("kind", "h3".into()),
                ("resolution", resolution.into()),
                ("cells", grid.len().into()),
            ]),
            ProductGrid::H3(resolution),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::coverage::{coverage, Base, CoverageParams, Patrol};
    use crate::analysis::threat::{threat, ThreatParams};
    use crate::analysis::weights::test_support::with_threads;
    use crate::analysis::Events;
    use crate::grid::Area;

    const DAY: i64 = 86_400;
    const TO: i64 = 400 * DAY;

    /// A 1 km grid of about 60 x 40 km in western CAR.
    fn grid() -> Grid {
        Grid::square(&Area::BBox([16.0, 5.0, 16.54, 5.36]), 1_000.0).unwrap()
    }

    fn cell_near(g: &Grid, lon: f64, lat: f64) -> usize {
        g.locate(lon, lat).unwrap()
    }

    /// `n` killings at the centre of `cell`, a day before the end of the window.
    fn hotspot(g: &Grid, cell: usize, n: usize) -> Events {
        let mut e = Events::default();
        let [lon, lat] = g.cells[cell].center;
        for k in 0..n {
            e.push(
                format!("h{k}"),
                lon,
                lat,
                TO - DAY,
                1.0,
                "killing".into(),
                String::new(),
            );
        }
        e
    }

    fn threat_params() -> ThreatParams {
        ThreatParams {
            bandwidth_m: 3_000.0,
            ..ThreatParams::new(TO - 90 * DAY, TO)
        }
    }

    fn cov_params() -> CoverageParams {
        CoverageParams {
            from: TO - 90 * DAY,
            to: TO,
            ..CoverageParams::default()
        }
    }

    fn run(g: &Grid, incidents: &Events, presence: &Presence) -> BlindSpots {
        let cov = coverage(g, presence, incidents, &cov_params()).unwrap();
        let thr = threat(g, incidents, &Events::default(), &[], &threat_params()).unwrap();
        blindspots(g, &thr, &cov, presence, &BlindSpotParams::default()).unwrap()
    }

    fn threat_spots(b: &BlindSpots) -> Vec<&BlindSpot> {
        b.spots
            .iter()
            .filter(|s| s.kind == BlindSpotKind::Threat)
            .collect()
    }

    /// A vehicle patrol along the parallel through `lat`, across the grid, at `t`.
    fn patrol_along(id: &str, lat: f64, t: i64) -> Patrol {
        Patrol {
            id: id.into(),
            mode: 1,
            kind: "routine".into(),
            parts: vec![vec![[15.9, lat], [16.7, lat]]],
            times: vec![vec![t, t + 4 * 3600]],
        }
    }

    fn base(id: &str, lonlat: [f64; 2], reach_m: f64, end: Option<i64>) -> Base {
        Base {
            id: id.into(),
            name: format!("Base {id}"),
            base_type: "tob".into(),
            geometry: geo_types::Point::new(lonlat[0], lonlat[1]).into(),
            reach_m,
            start: 0,
            end,
        }
    }

    /// The known answer: with only killings (impact 5), risk is High or more
    /// exactly where likelihood >= 2, i.e. threat >= the first break; the
    /// quartic density of `n` events at distance d is
    /// `n w 3 / (pi h^2) (1 - d^2/h^2)^2`, so the blind cells are those whose
    /// centre satisfies that inequality.
    fn expected_cells(g: &Grid, centre: usize, n: usize) -> Vec<usize> {
        let p = threat_params();
        let h = p.bandwidth_m;
        let w = n as f64 * p.recency(TO - DAY);
        let c = g.cells[centre].xy;
        (0..g.len())
            .filter(|&i| {
                let xy = g.cells[i].xy;
                let d2 = (xy[0] - c[0]).powi(2) + (xy[1] - c[1]).powi(2);
                d2 < h * h
                    && w * 3.0 / (std::f64::consts::PI * h * h) * (1.0 - d2 / (h * h)).powi(2) * 1e8
                        >= p.likelihood_breaks[0]
            })
            .collect()
    }

    #[test]
    fn one_hotspot_outside_all_reach_is_one_blind_spot_of_the_expected_area() {
        let g = grid();
        let c = cell_near(&g, 16.27, 5.18);
        let inc = hotspot(&g, c, 20);
        // A base far away: present, but out of reach.
        let presence = Presence {
            patrols: vec![],
            bases: vec![base("far", [16.03, 5.03], 10_000.0, None)],
        };
        let b = run(&g, &inc, &presence);
        let spots = threat_spots(&b);
        assert_eq!(
            spots.len(),
            1,
            "{:?}",
            spots.iter().map(|s| s.cells.len()).collect::<Vec<_>>()
        );
        let want = expected_cells(&g, c, 20);
        assert_eq!(spots[0].cells, want);
        let area: f64 = want.iter().map(|&i| g.cell_area_m2(i) / 1e6).sum();
        assert!((spots[0].area_km2 - area).abs() < 1e-9 * area);
        // Equal-area cells of 1 km: the area is the cell count in km2.
        assert!((spots[0].area_km2 - want.len() as f64).abs() < 1e-6 * area);
        assert_eq!(spots[0].incidents, 20);
        assert_eq!(spots[0].rank, 1);
        assert!(spots[0].hot);
        assert_eq!(spots[0].last_patrol, None);
        let (bi, d) = spots[0].nearest_base.unwrap();
        assert_eq!(presence.bases[bi].id, "far");
        assert!(d > 10_000.0);
        // The outline is the union of the cells.
        use geo::Area as _;
        let projected = spots[0].polygon.map_coords(|p| {
            let [x, y] = g.project(p.x, p.y);
            geo_types::coord! { x: x, y: y }
        });
        assert!((projected.unsigned_area() / 1e6 - area).abs() < 0.01 * area);
    }

    #[test]
    fn a_patrol_through_it_removes_it() {
        let g = grid();
        let c = cell_near(&g, 16.27, 5.18);
        let inc = hotspot(&g, c, 20);
        let lat = g.cells[c].center[1];
        let with_patrol = Presence {
            patrols: vec![patrol_along("p1", lat, TO - 2 * DAY)],
            bases: vec![],
        };
        let b = run(&g, &inc, &with_patrol);
        assert!(threat_spots(&b).is_empty(), "{:?}", threat_spots(&b).len());
        // A patrol that passes 20 km north changes nothing.
        let elsewhere = Presence {
            patrols: vec![patrol_along("p2", lat + 0.18, TO - 2 * DAY)],
            bases: vec![],
        };
        let b = run(&g, &inc, &elsewhere);
        assert_eq!(threat_spots(&b)[0].cells, expected_cells(&g, c, 20));
        assert!(threat_spots(&b)[0].last_patrol.is_none());
    }

    #[test]
    fn a_closed_base_stops_counting_after_its_close_date() {
        let g = grid();
        let c = cell_near(&g, 16.27, 5.18);
        let inc = hotspot(&g, c, 20);
        let site = g.cells[c].center;
        let open = Presence {
            patrols: vec![],
            bases: vec![base("b", site, 15_000.0, None)],
        };
        assert!(threat_spots(&run(&g, &inc, &open)).is_empty());
        let still_open = Presence {
            patrols: vec![],
            bases: vec![base("b", site, 15_000.0, Some(TO))],
        };
        assert!(threat_spots(&run(&g, &inc, &still_open)).is_empty());
        let closed = Presence {
            patrols: vec![],
            bases: vec![base("b", site, 15_000.0, Some(TO - 10 * DAY))],
        };
        let b = run(&g, &inc, &closed);
        assert_eq!(threat_spots(&b).len(), 1);
        assert_eq!(threat_spots(&b)[0].cells, expected_cells(&g, c, 20));
    }

    /// A seeded random scenario: clustered incidents, some patrols, bases.
    fn random_scenario(seed: u64, g: &Grid) -> (Events, Presence) {
        let mut rng = crate::rng::Rng::new(seed);
        let mut inc = Events::default();
        for k in 0..300 {
            let centre = [
                16.1 + 0.1 * rng.below(4) as f64,
                5.08 + 0.07 * rng.below(4) as f64,
            ];
            let lon = centre[0] + rng.gauss(0.0, 0.02);
            let lat = centre[1] + rng.gauss(0.0, 0.02);
            let t = TO - rng.below(89) as i64 * DAY;
            let cat = if rng.chance(0.5) {
                "killing"
            } else {
                "looting-burning"
            };
            inc.push(format!("i{k}"), lon, lat, t, 1.0, cat.into(), String::new());
        }
        let patrols = (0..6)
            .map(|k| {
                patrol_along(
                    &format!("p{k}"),
                    5.02 + 0.06 * k as f64,
                    TO - rng.below(80) as i64 * DAY,
                )
            })
            .collect();
        let bases = vec![
            base("b0", [16.1, 5.1], 8_000.0, None),
            base("b1", [16.45, 5.3], 8_000.0, Some(TO - DAY)),
        ];
        let _ = g;
        (inc, Presence { patrols, bases })
    }

    fn threat_area(b: &BlindSpots) -> f64 {
        threat_spots(b).iter().map(|s| s.area_km2).sum()
    }

    #[test]
    fn adding_presence_never_grows_blind_spot_area() {
        let g = grid();
        for seed in 1..4 {
            let (inc, mut presence) = random_scenario(seed, &g);
            let mut area = threat_area(&run(&g, &inc, &presence));
            let mut blind = run(&g, &inc, &presence).blind;
            let mut rng = crate::rng::Rng::new(seed + 100);
            for k in 0..4 {
                if k % 2 == 0 {
                    let lat = 5.0 + rng.f64() * 0.36;
                    presence.patrols.push(patrol_along(
                        &format!("x{k}"),
                        lat,
                        TO - rng.below(60) as i64 * DAY,
                    ));
                } else {
                    let at = [16.0 + rng.f64() * 0.54, 5.0 + rng.f64() * 0.36];
                    presence
                        .bases
                        .push(base(&format!("y{k}"), at, 6_000.0, None));
                }
                let b = run(&g, &inc, &presence);
                let a = threat_area(&b);
                assert!(a <= area + 1e-9, "seed {seed} step {k}: {a} > {area}");
                // Cell by cell: nothing becomes blind.
                assert!(b
                    .blind
                    .iter()
                    .zip(&blind)
                    .all(|(now, before)| !*now || *before));
                area = a;
                blind = b.blind;
            }
        }
    }

    #[test]
    fn independent_of_input_order_and_thread_count() {
        let g = grid();
        let (inc, presence) = random_scenario(9, &g);
        let a = with_threads(1, || run(&g, &inc, &presence));
        // Reverse every input.
        let mut rev = Events::default();
        for i in (0..inc.len()).rev() {
            rev.push(
                inc.id[i].clone(),
                inc.lon[i],
                inc.lat[i],
                inc.time[i],
                inc.weight[i],
                inc.category[i].clone(),
                inc.actor[i].clone(),
            );
        }
        let mut p2 = presence.clone();
        p2.patrols.reverse();
        p2.bases.reverse();
        let b = with_threads(2, || run(&g, &rev, &p2));
        assert_eq!(a.blind, b.blind);
        assert_eq!(a.spots.len(), b.spots.len());
        for (x, y) in a.spots.iter().zip(&b.spots) {
            assert_eq!((x.kind, x.rank, &x.cells), (y.kind, y.rank, &y.cells));
            assert!((x.priority - y.priority).abs() <= 1e-9 * x.priority.max(1.0));
            assert_eq!(x.polygon, y.polygon);
            let name =
                |p: &Presence, s: &BlindSpot| s.nearest_base.map(|(i, _)| p.bases[i].id.clone());
            assert_eq!(name(&presence, x), name(&p2, y));
        }
        assert!(!a.spots.is_empty());
    }

    #[test]
    fn jpt_divides_by_capacity() {
        assert_eq!(jpt_score(5, 0, 1.0, 0.0), None);
        assert_eq!(jpt_score(5, 4, 1.0, 0.0), Some(20.0));
        assert_eq!(jpt_score(5, 4, 0.5, 1.0), Some(2.0));
    }

    #[test]
    fn parameters_are_checked() {
        let p = BlindSpotParams {
            max_presence: 0.0,
            ..Default::default()
        };
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max-presence"));
        let p = BlindSpotParams {
            hotspot_bonus: 0.5,
            ..Default::default()
        };
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("hotspot-bonus"));
    }
}
