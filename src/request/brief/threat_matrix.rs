//! The threat-matrix draft (`jointmap brief threat-matrix`): the threats
//! on the risk surface, each with its location, type, actors, civilians at
//! risk, nearest base, patrol coverage, response to date and its place on
//! the POC handbook's 5x5 likelihood x impact grid, pre-filled for
//! analysts to edit (docs/briefs.md, "Threat-matrix draft").
//!
//! Like every brief it reads nothing itself: each part (the risk surface,
//! presence, incident counts per category, the bases, sites and sightings
//! a role may see) is asked of the [`Runner`], which runs it through the
//! access gate for the brief's role. Rules here apply to gated products
//! only.

use super::cells::{cells, number, polygon, text, weighted};
use super::{parse, rfc3339, Area, BlindSpot, Brief, BriefKind, BriefRequest};
use super::{Part, Runner};
use crate::analysis::product::{Field, Fields, Item, Param, Product, Shape};
use crate::analysis::threat::RiskLevel;
use crate::analysis::AnalysisError;
use crate::model::schema::{CATEGORIES, PERPETRATOR_CATEGORIES};
use crate::model::Layer;
use chrono::{DateTime, Duration, Utc};
use geo::{Contains, Distance, Haversine};
use std::collections::{BTreeMap, HashMap};

/// The individual features of one layer a brief needs (bases, sites,
/// sightings), as the role's feature view shows them: the runner reads
/// them through `access::Gate::features`, never around it.
#[derive(Debug, Clone)]
pub struct LayerRequest {
    /// The layer.
    pub layer: Layer,
    /// Only within min_lon,min_lat,max_lon,max_lat.
    pub bbox: Option<[f64; 4]>,
    /// Events: those overlapping `[from, to]`; places (bases, sites,
    /// `from` None): those existing at `to`.
    pub from: Option<DateTime<Utc>>,
    /// The as-of time.
    pub to: DateTime<Utc>,
    /// Refused unless the role sees the layer in full (individual
    /// sightings never reach a role with a redacted view through a brief).
    pub full_only: bool,
}

/// The rule that makes, places and orders the threats (also in
/// docs/briefs.md).
pub const RULE: &str = "threat = edge-connected cells of the risk surface at or above \
     min_risk (likelihood x impact on the 5x5 grid: 1-4 low, 5-9 medium, 10-16 high, 20-25 \
     extreme); its likelihood and impact are those of its peak cell (highest risk, then \
     likelihood, then impact, then cell key), its id T-<peak cell key>; threats ordered by \
     risk, likelihood, impact, number of cells (all descending), then id";

/// One threat of the draft.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixThreat {
    /// Stable id: `T-` and the key of its peak cell.
    pub id: String,
    /// 1-based number in the draft's order.
    pub number: usize,
    /// Its cells' closed rings.
    pub rings: Vec<Vec<[f64; 2]>>,
    /// The ring of its peak cell.
    pub peak_ring: Vec<[f64; 2]>,
    /// Mean of its cells' centres, lon/lat.
    pub centroid: [f64; 2],
    /// 1..5, of the peak cell.
    pub likelihood: u8,
    /// 1..5, of the peak cell.
    pub impact: u8,
    /// likelihood x impact.
    pub risk: u8,
    /// The handbook's level of `risk`.
    pub level: RiskLevel,
    /// Incidents in its cells in the window (`None`: a cell's count was
    /// suppressed by the gate).
    pub incidents: Option<u64>,
    /// Sightings in its cells in the window (`None`: suppressed).
    pub sightings: Option<u64>,
    /// The dominant incident categories with their counts (`None`: not
    /// available to the role).
    pub types: Option<Vec<(String, u64)>>,
    /// The dominant perpetrator categories (`None`: not available).
    pub actors: Option<Vec<(String, u64)>>,
    /// Armed groups seen in or near it, with sightings (`None`: not
    /// available to the role).
    pub armed_groups: Option<Vec<(String, u64)>>,
    /// The nearest civilian site the role may see: name and km.
    pub place: Option<(String, f64)>,
    /// Civilian sites in or near it: name and population (`None`: the
    /// role may not see sites).
    pub sites: Option<Vec<(String, Option<u64>)>>,
    /// The nearest base open at the as-of time: name and km.
    pub base: Option<(String, f64)>,
    /// Mean presence over its cells in the last 7 and 30 days.
    pub presence: [Option<f64>; 2],
    /// Patrol cell-visits in its cells in the window (`None`: not
    /// available or suppressed).
    pub visits: Option<u64>,
}

/// The draft: its threats and what it was made with.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreatMatrix {
    /// The threats, in order.
    pub threats: Vec<MatrixThreat>,
    /// The window's start (its end is the as-of time).
    pub from: DateTime<Utc>,
    /// The lowest risk level a threat's cells have.
    pub min_risk: RiskLevel,
}

/// How many categories the type and actor columns list.
const TOP: usize = 3;

/// A cell of the risk surface: ring, centre, key, likelihood, impact,
/// risk and the gated incident and sighting counts.
#[derive(Debug, Clone)]
pub(super) struct RiskCell {
    pub ring: Vec<[f64; 2]>,
    pub centre: [f64; 2],
    pub key: String,
    pub likelihood: u8,
    pub impact: u8,
    pub risk: u8,
    pub incidents: Option<u64>,
    pub sightings: Option<u64>,
}

/// The cells of a blind-spot product's risk surface.
fn risk_cells(p: &Product) -> Vec<RiskCell> {
    cells(p, "risk")
        .into_iter()
        .filter(|(_, it)| text(it, "kind").as_deref() == Some("cell"))
        .map(|(c, it)| RiskCell {
            key: match &it.id {
                Field::Key(k) => k.clone(),
                _ => String::new(),
            },
            likelihood: number(it, "likelihood").unwrap_or(1.0) as u8,
            impact: number(it, "impact").unwrap_or(1.0) as u8,
            risk: c.value as u8,
            incidents: number(it, "incidents").map(|n| n as u64),
            sightings: number(it, "sightings").map(|n| n as u64),
            ring: c.ring,
            centre: c.centre,
        })
        .collect()
}

fn corner(p: [f64; 2]) -> (i64, i64) {
    ((p[0] * 1e6).round() as i64, (p[1] * 1e6).round() as i64)
}

/// Groups the cells at or above `min_risk` into threats: two cells are
/// adjacent when they share an edge (two corners, to 1e-6 degree), and a
/// threat is a connected set. Returns each threat's cells, ordered by the
/// rule ([`RULE`]), with its peak cell first.
pub(super) fn group(all: &[RiskCell], min_risk: RiskLevel) -> Vec<Vec<&RiskCell>> {
    let high: Vec<&RiskCell> = all
        .iter()
        .filter(|c| RiskLevel::of(c.risk) >= min_risk)
        .collect();
    let mut by_corner: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (i, c) in high.iter().enumerate() {
        let n = c.ring.len().saturating_sub(1).max(1);
        for p in c.ring.iter().take(n) {
            by_corner.entry(corner(*p)).or_default().push(i);
        }
    }
    let mut shared: HashMap<(usize, usize), u8> = HashMap::new();
    for v in by_corner.values() {
        for (a, &i) in v.iter().enumerate() {
            for &j in &v[a + 1..] {
                if i != j {
                    *shared.entry((i.min(j), i.max(j))).or_default() += 1;
                }
            }
        }
    }
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); high.len()];
    for (&(i, j), &n) in &shared {
        if n >= 2 {
            adj[i].push(j);
            adj[j].push(i);
        }
    }
    let mut seen = vec![false; high.len()];
    let mut out: Vec<Vec<&RiskCell>> = Vec::new();
    for s in 0..high.len() {
        if seen[s] {
            continue;
        }
        seen[s] = true;
        let mut stack = vec![s];
        let mut members = Vec::new();
        while let Some(i) = stack.pop() {
            members.push(high[i]);
            for &j in &adj[i] {
                if !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        members.sort_by(|a, b| peak_order(a, b));
        out.push(members);
    }
    out.sort_by(|a, b| {
        let (p, q) = (a[0], b[0]);
        (q.risk, q.likelihood, q.impact, b.len())
            .cmp(&(p.risk, p.likelihood, p.impact, a.len()))
            .then_with(|| p.key.cmp(&q.key))
    });
    out
}

/// Peak first: higher risk, likelihood, impact, then the smaller key.
fn peak_order(a: &RiskCell, b: &RiskCell) -> std::cmp::Ordering {
    b.risk
        .cmp(&a.risk)
        .then_with(|| b.likelihood.cmp(&a.likelihood))
        .then_with(|| b.impact.cmp(&a.impact))
        .then_with(|| a.key.cmp(&b.key))
}

/// Sums `value` of a part's cells into the threats whose cells hold their
/// centres; `None` for a threat one of whose counts the gate suppressed.
fn sum_into(threats: &[MatrixThreat], part: &Product, value: &str) -> Vec<Option<u64>> {
    let polys: Vec<Vec<geo_types::Polygon<f64>>> = threats
        .iter()
        .map(|t| t.rings.iter().map(|r| polygon(r)).collect())
        .collect();
    let mut sums: Vec<Option<u64>> = vec![Some(0); threats.len()];
    for (c, it) in cells(part, value) {
        let pt = geo_types::Point::new(c.centre[0], c.centre[1]);
        if let Some(t) = polys
            .iter()
            .position(|ps| ps.iter().any(|p| p.contains(&pt)))
        {
            sums[t] = match (sums[t], number(it, value)) {
                (Some(s), Some(n)) => Some(s + n as u64),
                _ => None,
            };
        }
    }
    sums
}

fn km(a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = Haversine.distance(
        geo_types::Point::new(a[0], a[1]),
        geo_types::Point::new(b[0], b[1]),
    );
    (d / 100.0).round() / 10.0
}

/// A point feature of a layer part: position, name (else id) and a number.
fn places(p: &Product, value: &str) -> Vec<([f64; 2], String, Option<f64>)> {
    p.items
        .iter()
        .filter_map(|it| match it.geometry {
            Shape::Point(xy) => {
                let name = text(it, "name").or_else(|| match &it.id {
                    Field::Key(k) => Some(k.clone()),
                    _ => None,
                })?;
                Some((xy, name, number(it, value)))
            }
            _ => None,
        })
        .collect()
}

/// Whether `p` lies in one of `t`'s cells or within `near_km` of its centroid.
fn in_or_near(t: &MatrixThreat, p: [f64; 2], near_km: f64) -> bool {
    let pt = geo_types::Point::new(p[0], p[1]);
    km(t.centroid, p) <= near_km || t.rings.iter().any(|r| polygon(r).contains(&pt))
}

/// The `TOP` largest non-zero counts, larger first, then in `order`.
fn top(counts: Vec<(String, u64)>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    // Stable: equal counts keep the schema's order.
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v.truncate(TOP);
    v
}

/// The bbox a product's grid was built on (`applied.area`).
fn applied_area(p: &Product) -> Option<[f64; 4]> {
    let Some(Field::Param(Param::Object(applied))) = p.meta("applied") else {
        return None;
    };
    let (_, Param::List(v)) = applied.iter().find(|(k, _)| *k == "area")? else {
        return None;
    };
    let n: Vec<f64> = v
        .iter()
        .filter_map(|x| match x {
            Param::Num(x) => Some(*x),
            _ => None,
        })
        .collect();
    <[f64; 4]>::try_from(n).ok()
}

/// No event of a category in the cube is a count of 0, not a refusal
/// (a refusal by the gate names the filter: `category`, `perpetrator`).
fn no_event(r: crate::Result<Product>) -> crate::Result<Product> {
    match r {
        Err(crate::Error::Analysis(AnalysisError::InvalidParameter {
            name: "filters" | "as-of",
            ..
        })) => Ok(Product::new("trends")),
        r => r,
    }
}

/// Makes the threat-matrix draft (see the module docs and [`RULE`]).
pub(super) fn assemble(
    req: &BriefRequest,
    role: Option<String>,
    runner: &mut dyn Runner,
) -> crate::Result<Brief> {
    let window_days = req.window_days;
    if !(1..=3660).contains(&window_days) {
        return Err(AnalysisError::param("window-days", "between 1 and 3660 days").into());
    }
    let min_risk = req.min_risk;
    let as_of = req.as_of;
    let from = as_of - Duration::days(i64::from(window_days));
    let mut common = vec!["--cell-km".to_string(), req.cell_km.to_string()];
    if let Some(b) = req.bbox {
        common.push(format!("--bbox={},{},{},{}", b[0], b[1], b[2], b[3]));
    }
    let mut brief = Brief {
        kind: BriefKind::ThreatMatrix,
        request: req.clone(),
        role,
        areas: Vec::new(),
        presence: Vec::new(),
        blind_spots: Vec::new(),
        sightings: Vec::new(),
        parts: Vec::new(),
        unavailable: Vec::new(),
        threat_matrix: None,
        outlook: None,
        handover: None,
    };
    // The risk surface over the window.
    let mut args = common.clone();
    args.extend([
        "--from".into(),
        rfc3339(from),
        "--to".into(),
        rfc3339(as_of),
        "--cells".into(),
    ]);
    // An empty store has no area to map: a draft with no threat, not an error.
    let surface = match runner.run(Part::Blindspots(Box::new(parse(&args)?))) {
        Err(crate::Error::Analysis(AnalysisError::InvalidParameter { name: "area", .. })) => {
            Product::new("blindspots")
        }
        r => r?,
    };
    let all = risk_cells(&surface);
    let mut threats: Vec<MatrixThreat> = group(&all, min_risk)
        .into_iter()
        .enumerate()
        .map(|(i, cs)| {
            let peak = cs[0];
            let n = cs.len() as f64;
            let (x, y) = cs
                .iter()
                .fold((0.0, 0.0), |(x, y), c| (x + c.centre[0], y + c.centre[1]));
            let sum = |f: fn(&RiskCell) -> Option<u64>| {
                cs.iter().try_fold(0u64, |s, c| f(c).map(|n| s + n))
            };
            MatrixThreat {
                id: format!("T-{}", peak.key),
                number: i + 1,
                rings: cs.iter().map(|c| c.ring.clone()).collect(),
                peak_ring: peak.ring.clone(),
                centroid: [x / n, y / n],
                likelihood: peak.likelihood,
                impact: peak.impact,
                risk: peak.risk,
                level: RiskLevel::of(peak.risk),
                incidents: sum(|c| c.incidents),
                sightings: sum(|c| c.sightings),
                types: None,
                actors: None,
                armed_groups: None,
                place: None,
                sites: None,
                base: None,
                presence: [None, None],
                visits: None,
            }
        })
        .collect();
    // The later parts on the surface's own area: for the operator every
    // grid is anchored on its area, so the cells coincide.
    if req.bbox.is_none() {
        if let Some(b) = applied_area(&surface) {
            common.push(format!("--bbox={},{},{},{}", b[0], b[1], b[2], b[3]));
        }
    }
    brief.parts.push(("risk_surface", surface));

    // Presence in the last 7 and 30 days, and patrol visits in the window.
    for (slot, days) in [(Some(0), 7), (Some(1), 30), (None, window_days)] {
        let mut args = common.clone();
        args.extend([
            "--from".into(),
            rfc3339(as_of - Duration::days(i64::from(days))),
            "--to".into(),
            rfc3339(as_of),
        ]);
        let name = match slot {
            Some(0) => "coverage_7d",
            Some(_) => "coverage_30d",
            None => "coverage_window",
        };
        let cov = runner.run(Part::Coverage(Box::new(parse(&args)?)));
        let Some(cov) = brief.optional(name, cov)? else {
            continue;
        };
        match slot {
            Some(s) => {
                let cov_cells = cells(&cov, "presence");
                for t in &mut threats {
                    let total: f64 = t.rings.iter().map(|r| weighted(&cov_cells, r)).sum();
                    t.presence[s] = Some(total / t.rings.len().max(1) as f64);
                }
                if s == 1 {
                    brief.presence = cov_cells
                        .into_iter()
                        .filter(|(c, _)| c.value > 0.0)
                        .map(|(c, _)| c)
                        .collect();
                }
            }
            None => {
                let visits = sum_into(&threats, &cov, "visits");
                for (t, v) in threats.iter_mut().zip(visits) {
                    t.visits = v;
                }
            }
        }
        brief.parts.push((name, cov));
    }

    // Incident counts per category and per perpetrator category: filters
    // the gate allows only to a role that sees incidents in full.
    let half = window_days.div_ceil(2);
    for (name, flag, values) in [
        ("types", "--category", CATEGORIES),
        ("actors", "--perpetrator", PERPETRATOR_CATEGORIES),
    ] {
        let mut counts: Vec<Vec<(String, u64)>> = vec![Vec::new(); threats.len()];
        let mut available = true;
        for v in values {
            let mut args = common.clone();
            args.extend([
                "--step-days".into(),
                half.to_string(),
                "--steps".into(),
                "2".into(),
                "--as-of".into(),
                rfc3339(as_of),
                "--all-cells".into(),
                flag.into(),
                (*v).into(),
            ]);
            let r = no_event(runner.run(Part::Trends(Box::new(parse(&args)?))));
            let Some(p) = brief.optional(name, r)? else {
                available = false;
                break;
            };
            for (t, n) in sum_into(&threats, &p, "count").into_iter().enumerate() {
                counts[t].push(((*v).to_string(), n.unwrap_or(0)));
            }
            if v == &values[0] {
                brief.parts.push((name, p));
            }
        }
        if available {
            for (t, c) in threats.iter_mut().zip(counts) {
                let top = Some(top(c));
                if name == "types" {
                    t.types = top;
                } else {
                    t.actors = top;
                }
            }
        }
    }

    // Bases, sites and (in full view only) sightings, as the role's
    // feature view shows them.
    let layer_part = |layer, from, full_only| {
        Part::Layer(Box::new(LayerRequest {
            layer,
            bbox: req.bbox,
            from,
            to: as_of,
            full_only,
        }))
    };
    let near = req.near_km;
    if let Some(p) = brief.optional("bases", runner.run(layer_part(Layer::Bases, None, false)))? {
        let bases = places(&p, "");
        for t in &mut threats {
            t.base = bases
                .iter()
                .map(|(xy, name, _)| (name.clone(), km(t.centroid, *xy)))
                .min_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        }
        brief.parts.push(("bases", p));
    }
    if let Some(p) = brief.optional("sites", runner.run(layer_part(Layer::Sites, None, false)))? {
        let sites = places(&p, "population");
        for t in &mut threats {
            t.place = sites
                .iter()
                .map(|(xy, name, _)| (name.clone(), km(t.centroid, *xy)))
                .min_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let mut these: Vec<(String, Option<u64>)> = sites
                .iter()
                .filter(|(xy, _, _)| in_or_near(t, *xy, near))
                .map(|(_, name, pop)| (name.clone(), pop.map(|x| x as u64)))
                .collect();
            // Most people first, then by name.
            these.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            t.sites = Some(these);
        }
        brief.parts.push(("sites", p));
    }
    let sight = runner.run(layer_part(Layer::Sightings, Some(from), true));
    if let Some(p) = brief.optional("armed_groups", sight)? {
        let seen: Vec<([f64; 2], String)> = p
            .items
            .iter()
            .filter_map(|it| match it.geometry {
                Shape::Point(xy) => Some((xy, text(it, "actor")?)),
                _ => None,
            })
            .filter(|(_, a)| !a.is_empty())
            .collect();
        for t in &mut threats {
            let mut groups: BTreeMap<String, u64> = BTreeMap::new();
            for (xy, actor) in &seen {
                if in_or_near(t, *xy, near) {
                    *groups.entry(actor.clone()).or_default() += 1;
                }
            }
            t.armed_groups = Some(top(groups.into_iter().collect()));
        }
        brief.parts.push(("armed_groups", p));
    }

    // What the shared map draws: each threat's peak cell by number, its
    // cells outlined.
    for t in &threats {
        brief.areas.push(Area {
            cell: t.id.clone(),
            ring: t.peak_ring.clone(),
            centre: t.centroid,
            pattern: t.level.as_str().into(),
            previous: None,
            count: t.incidents.map_or(Field::Null, Field::Tally),
            hot_steps: 0,
            presence: t.presence[0].unwrap_or(0.0),
            blind_spot: None,
            impact5: u64::from(t.impact),
            sightings: t.sightings,
            status: None,
            likelihood: t.likelihood,
            impact: t.impact,
            priority: None,
            score: f64::from(t.risk),
            rank: t.number,
        });
        brief.blind_spots.push(BlindSpot {
            rings: t.rings.clone(),
            kind: "threat".into(),
            rank: t.number as u64,
        });
    }
    brief.threat_matrix = Some(ThreatMatrix {
        threats,
        from,
        min_risk,
    });
    Ok(brief)
}

/// `name (n); name (n)`.
pub fn list(v: &[(String, u64)]) -> String {
    v.iter()
        .map(|(k, n)| format!("{k} ({n})"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Civilian sites as `name (population)`, `name` when unknown.
pub fn site_list(v: &[(String, Option<u64>)]) -> String {
    v.iter()
        .map(|(k, p)| match p {
            Some(p) if *p > 0 => format!("{k} ({p})"),
            _ => k.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ThreatMatrix {
    /// The draft as a product: one item per threat at its centroid, with
    /// the analysts' columns left empty.
    pub fn to_product(&self, brief: &Brief) -> Product {
        let mut p = Product::new("brief");
        let req = &brief.request;
        p.meta.extend([
            ("kind", Field::param(BriefKind::ThreatMatrix.as_str())),
            ("as_of", Field::param(rfc3339(req.as_of))),
            ("window_from", Field::param(rfc3339(self.from))),
            ("lang", Field::param(req.lang.code())),
            ("role", Field::Param(brief.role.clone().into())),
            ("mission", Field::param(req.mission.as_str())),
            ("cell_km", Field::param(req.cell_km)),
            ("near_km", Field::param(req.near_km)),
            ("min_risk", Field::param(self.min_risk.as_str())),
            ("rule", Field::param(RULE)),
            ("areas", Field::Tally(self.threats.len() as u64)),
            (
                "unavailable",
                Field::Param(Param::List(
                    brief
                        .unavailable
                        .iter()
                        .map(|(n, r)| {
                            Param::Object(vec![("part", (*n).into()), ("reason", r.clone().into())])
                        })
                        .collect(),
                )),
            ),
        ]);
        let opt_list = |v: &Option<Vec<(String, u64)>>| {
            v.as_ref().map_or(Field::Null, |v| Field::Key(list(v)))
        };
        let count = |n: Option<u64>| n.map_or(Field::Null, Field::Tally);
        let round = |x: f64| (x * 1e3).round() / 1e3;
        for t in &self.threats {
            let f: Fields = vec![
                ("threat_id", Field::Key(t.id.clone())),
                ("number", Field::Tally(t.number as u64)),
                ("lon", Field::Fixed((t.centroid[0] * 1e5).round() / 1e5)),
                ("lat", Field::Fixed((t.centroid[1] * 1e5).round() / 1e5)),
                (
                    "place",
                    t.place
                        .as_ref()
                        .map_or(Field::Null, |p| Field::Key(p.0.clone())),
                ),
                (
                    "place_km",
                    t.place.as_ref().map_or(Field::Null, |p| Field::Value(p.1)),
                ),
                ("type", opt_list(&t.types)),
                ("actors", opt_list(&t.actors)),
                ("armed_groups", opt_list(&t.armed_groups)),
                ("incidents", count(t.incidents)),
                ("sightings", count(t.sightings)),
                (
                    "civilian_sites",
                    t.sites
                        .as_ref()
                        .map_or(Field::Null, |s| Field::Key(site_list(s))),
                ),
                (
                    "population",
                    t.sites.as_ref().map_or(Field::Null, |s| {
                        Field::Tally(s.iter().filter_map(|x| x.1).sum())
                    }),
                ),
                (
                    "nearest_base",
                    t.base
                        .as_ref()
                        .map_or(Field::Null, |b| Field::Key(b.0.clone())),
                ),
                (
                    "nearest_base_km",
                    t.base.as_ref().map_or(Field::Null, |b| Field::Value(b.1)),
                ),
                (
                    "presence_7d",
                    t.presence[0].map_or(Field::Null, |x| Field::Value(round(x))),
                ),
                (
                    "presence_30d",
                    t.presence[1].map_or(Field::Null, |x| Field::Value(round(x))),
                ),
                ("patrol_visits", count(t.visits)),
                ("cells", Field::Tally(t.rings.len() as u64)),
                ("likelihood", Field::Tally(u64::from(t.likelihood))),
                ("impact", Field::Tally(u64::from(t.impact))),
                ("risk", Field::Tally(u64::from(t.risk))),
                ("risk_level", Field::Class(t.level.as_str().into())),
                ("mitigation", Field::Key(String::new())),
                ("owner", Field::Key(String::new())),
                ("notes", Field::Key(String::new())),
            ];
            p.items.push(Item {
                id: Field::Key(t.id.clone()),
                geometry: Shape::Centroid(t.centroid),
                properties: f,
            });
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(col: i32, row: i32, l: u8, i: u8) -> RiskCell {
        let (x, y) = (f64::from(col) * 0.1, f64::from(row) * 0.1);
        let ring = vec![
            [x, y],
            [x + 0.1, y],
            [x + 0.1, y + 0.1],
            [x, y + 0.1],
            [x, y],
        ];
        RiskCell {
            centre: [x + 0.05, y + 0.05],
            ring,
            key: format!("c{col}_{row}"),
            likelihood: l,
            impact: i,
            risk: l * i,
            incidents: Some(1),
            sightings: Some(0),
        }
    }

    #[test]
    fn edge_neighbours_join_diagonals_and_low_cells_do_not() {
        let cells = vec![
            cell(0, 0, 4, 4), // 16 high
            cell(1, 0, 5, 4), // 20 extreme: peak of the first threat
            cell(2, 1, 5, 5), // diagonal to (1,0): a threat of its own
            cell(5, 5, 2, 5), // 10 high, alone
            cell(3, 1, 3, 3), // 9 medium: not a threat, does not join
            cell(4, 1, 4, 3), // 12 high, touches only the medium cell
        ];
        let g = group(&cells, RiskLevel::High);
        let keys: Vec<Vec<&str>> = g
            .iter()
            .map(|t| t.iter().map(|c| c.key.as_str()).collect())
            .collect();
        assert_eq!(
            keys,
            vec![
                vec!["c2_1"],
                vec!["c1_0", "c0_0"],
                vec!["c4_1"],
                vec!["c5_5"],
            ]
        );
        // Medium and above: the medium cell joins (2,1) and (4,1).
        let g = group(&cells, RiskLevel::Medium);
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].len(), 3);
    }

    #[test]
    fn top_keeps_three_largest_in_schema_order_on_ties() {
        let v = vec![
            ("a".to_string(), 2),
            ("b".to_string(), 5),
            ("c".to_string(), 0),
            ("d".to_string(), 2),
            ("e".to_string(), 2),
        ];
        assert_eq!(list(&top(v)), "b (5); a (2); d (2)");
    }
}
