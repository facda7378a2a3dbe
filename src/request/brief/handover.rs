//! The handover pack (`jointmap brief handover --months 6|12`): what
//! changed in an area of responsibility over the last 6 or 12 months, for
//! an incoming contingent.
//!
//! Like every brief it reads nothing itself: each part is an ordinary
//! analysis request run by the caller's [`Runner`] (through the gate for a
//! role), once as of the period's start ("then") and once as of the as-of
//! time ("now"), and the comparisons below are made on the gated products
//! only. The rules are written down in docs/briefs.md ("Handover pack").

use super::cells::{cells, matching, number, param_num, prop, text, weighted};
use super::{none_match, parse, rfc3339, BlindSpot, Brief, BriefRequest, Part, PartCell, Runner};
use crate::analysis::product::{Field, Fields, Item, Param, Product, Shape};
use crate::analysis::AnalysisError;
use crate::model::Layer;
use chrono::{DateTime, Duration, Utc};

/// The period a handover pack looks back over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum Months {
    /// Six months.
    #[default]
    #[value(name = "6")]
    Six,
    /// Twelve months.
    #[value(name = "12")]
    Twelve,
}

impl Months {
    /// The number of months.
    pub fn get(self) -> u32 {
        match self {
            Months::Six => 6,
            Months::Twelve => 12,
        }
    }
}

impl std::fmt::Display for Months {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// Presence at or above this is "covered" (the blind spots' default
/// `--max-presence`: below it is "no regular presence").
pub const COVERED: f64 = 0.5;
/// Presence is measured over the days ending at each date.
pub const PRESENCE_DAYS: i64 = 30;
/// A "month" of the incident counts, days.
pub const MONTH_DAYS: u32 = 30;
/// The most persistent hot spots without presence the "what to know"
/// list names; the other rules name at most [`KNOW_OTHER`] each.
pub const KNOW_PERSISTENT: usize = 5;
/// See [`KNOW_PERSISTENT`].
pub const KNOW_OTHER: usize = 3;

/// Whether an emerging hot spot pattern is a hot spot at its as-of time:
/// every hot pattern but `historical-hot` (hot once, not in the last step).
pub fn is_hot(pattern: &str) -> bool {
    pattern.ends_with("-hot") && pattern != "historical-hot"
}

/// What became of a hot spot between the period's start and the as-of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HotChange {
    /// Hot then and now.
    Persisted,
    /// Hot now, not then.
    Emerged,
    /// Hot then, not now.
    Faded,
}

/// What became of a blind spot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BlindChange {
    /// Now, overlapping no blind spot of its kind then.
    New,
    /// Now, overlapping one of its kind then.
    Persisting,
    /// Then, overlapping no blind spot of its kind now.
    Closed,
}

/// How presence in a cell changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CoverChange {
    /// Covered now, not then.
    Gained,
    /// Covered then, not now.
    Lost,
}

/// How armed-group sightings in a cell changed from the first half of the
/// period to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SightChange {
    /// None in the first half, some in the second.
    Appeared,
    /// More in the second half.
    Up,
    /// As many.
    Same,
    /// Fewer in the second half.
    Down,
    /// Some in the first half, none in the second.
    Gone,
    /// A half's count was suppressed for this role.
    Suppressed,
}

/// What became of a base between the two dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BaseChange {
    /// Reaching cells now, not then.
    Opened,
    /// Reaching cells then and now.
    Kept,
    /// Reaching cells then, not now.
    Closed,
}

macro_rules! names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// Its name in the GeoJSON and the label keys.
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),* }
            }
        }
    };
}
names!(HotChange { Emerged => "emerged", Persisted => "persisted", Faded => "faded" });
names!(BlindChange { New => "new", Persisting => "persisting", Closed => "closed" });
names!(CoverChange { Gained => "gained", Lost => "lost" });
names!(SightChange { Appeared => "appeared", Up => "up", Same => "same", Down => "down",
    Gone => "gone", Suppressed => "suppressed" });
names!(BaseChange { Opened => "opened", Kept => "kept", Closed => "closed" });

impl SightChange {
    /// The rule: by the two halves' gated counts.
    pub fn of(first: Option<u64>, second: Option<u64>) -> SightChange {
        match (first, second) {
            (Some(0), Some(s)) if s > 0 => SightChange::Appeared,
            (Some(f), Some(0)) if f > 0 => SightChange::Gone,
            (Some(f), Some(s)) if s > f => SightChange::Up,
            (Some(f), Some(s)) if s < f => SightChange::Down,
            (Some(_), Some(_)) => SightChange::Same,
            _ => SightChange::Suppressed,
        }
    }
}

/// A hot spot then or now.
#[derive(Debug, Clone, PartialEq)]
pub struct HotSpot {
    /// Its cell key (now's grid; then's for a faded one).
    pub cell: String,
    /// Its closed ring.
    pub ring: Vec<[f64; 2]>,
    /// Its centre.
    pub centre: [f64; 2],
    /// Its pattern at the period's start.
    pub then: String,
    /// Its pattern at the as-of time.
    pub now: String,
    /// Emerged, persisted or faded.
    pub change: HotChange,
    /// The gated incident count of its trend cube (now; then for a faded one).
    pub count: Field,
    /// Presence now (0 where none was written or the part is unavailable).
    pub presence_now: f64,
    /// The blind spot now its centre lies in: kind and rank.
    pub blind_now: Option<(String, u64)>,
    /// Its number in the table and on the maps (1-based).
    pub label: usize,
}

/// Armed-group sightings in a cell, first half against second half.
#[derive(Debug, Clone, PartialEq)]
pub struct SightCell {
    /// The cell key.
    pub cell: String,
    /// Its ring.
    pub ring: Vec<[f64; 2]>,
    /// Gated count of the first half (`None`: suppressed).
    pub first: Option<u64>,
    /// Gated count of the second half.
    pub second: Option<u64>,
    /// The change.
    pub change: SightChange,
}

/// A cell whose coverage changed.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverCell {
    /// Its ring.
    pub ring: Vec<[f64; 2]>,
    /// Presence then (over the cell, by overlap).
    pub then: f64,
    /// Presence now.
    pub now: f64,
    /// Gained or lost.
    pub change: CoverChange,
}

/// A blind spot then or now and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoverBlind {
    /// The blind spot (its own date's rank).
    pub spot: BlindSpot,
    /// New, persisting or closed.
    pub change: BlindChange,
    /// Civilian sites within reach and their people, as gated (`None`:
    /// suppressed).
    pub sites: Option<(u64, f64)>,
}

/// A base as the coverage parts show it (the nearest base of cells).
#[derive(Debug, Clone, PartialEq)]
pub struct Base {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The centre of the cell nearest it.
    pub centre: [f64; 2],
    /// Opened, kept or closed.
    pub change: BaseChange,
}

/// Incident counts per month, all categories and per category.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Monthly {
    /// The steps' start dates.
    pub steps: Vec<String>,
    /// The step as applied, days (whole protection steps for a role
    /// without full view).
    pub step_days: f64,
    /// `(category or "all", counts per step)`; a count is the sum of the
    /// gated cells' counts (cells suppressed for the role are left out).
    pub rows: Vec<(String, Vec<u64>)>,
}

/// One line of the "what to know" list.
#[derive(Debug, Clone, PartialEq)]
pub struct Know {
    /// Which rule (`persistent-uncovered`, `emerged-blind`,
    /// `sightings-rising`, `new-blind-spot`).
    pub rule: &'static str,
    /// The cell or blind spot named.
    pub subject: String,
    /// The number the rule ranks by (incidents, increase, rank).
    pub value: u64,
}

/// The handover pack's content, computed from the gated parts.
#[derive(Debug, Clone, Default)]
pub struct Handover {
    /// The period.
    pub months: Months,
    /// The period's start (the as-of time less `months`).
    pub start: DateTime<Utc>,
    /// Hot spots: persisted, emerged, faded (in that order, then by count).
    pub hot: Vec<HotSpot>,
    /// Cells with sightings in either half.
    pub sightings: Vec<SightCell>,
    /// The halves' step as applied, days.
    pub half_days: f64,
    /// Cells with presence then / now (for the maps).
    pub presence_then: Vec<PartCell>,
    /// See `presence_then`.
    pub presence_now: Vec<PartCell>,
    /// Cells whose coverage changed.
    pub coverage: Vec<CoverCell>,
    /// Cells covered then and now.
    pub covered_kept: usize,
    /// Blind spots then and now.
    pub blind: Vec<HandoverBlind>,
    /// Bases (`None`: the role may not see bases).
    pub bases: Option<Vec<Base>>,
    /// Incident counts per month.
    pub monthly: Monthly,
    /// The "what to know" list.
    pub know: Vec<Know>,
}

/// The ranking and classification rules, in one sentence (docs/briefs.md).
pub const RULE: &str = "hot spot = any hot emerging pattern but historical; emerged hot now \
    not then, persisted both, faded then not now (cells matched by overlap); covered = presence \
    >= 0.5 over the 30 days before each date; blind spots matched by overlap within a kind; \
    sightings first half vs second half; what to know: up to 5 persisted hot spots with \
    presence now < 0.5 by incidents, up to 3 emerged hot spots in a blind spot now, up to 3 \
    cells where sightings rose most, up to 3 new blind spots by rank";

/// The centre of a closed ring (the mean of its corners).
pub fn ring_centre(ring: &[[f64; 2]]) -> [f64; 2] {
    super::cells::centre(ring)
}

fn days(t: DateTime<Utc>, d: i64) -> DateTime<Utc> {
    t - Duration::days(d)
}

/// Makes the handover pack: the brief's checks are done by the caller.
pub(super) fn assemble(
    req: &BriefRequest,
    role: Option<String>,
    runner: &mut dyn Runner,
) -> crate::Result<Brief> {
    if let Some(b) = req.bbox {
        if b[0] > b[2] {
            return Err(AnalysisError::param(
                "bbox",
                "min_lon is greater than max_lon: an area of responsibility may not cross \
                 the antimeridian (give min_lon,min_lat,max_lon,max_lat)",
            )
            .into());
        }
    }
    let as_of = req.as_of;
    let months = req.months;
    let start = as_of
        .checked_sub_months(chrono::Months::new(months.get()))
        .ok_or_else(|| AnalysisError::param("as-of", "too early for the period"))?;
    let period_days = (as_of - start).num_days().max(2);
    let step_days = req
        .step_days
        .unwrap_or(super::BriefKind::Handover.step_days());
    let mut brief = Brief {
        kind: super::BriefKind::Handover,
        request: req.clone(),
        role,
        areas: Vec::new(),
        presence: Vec::new(),
        blind_spots: Vec::new(),
        sightings: Vec::new(),
        parts: Vec::new(),
        unavailable: Vec::new(),
        handover: None,
        outlook: None,
        threat_matrix: None,
    };
    let trend =
        |bbox: &Option<String>, step: u32, steps: usize, at: DateTime<Utc>, extra: &[&str]| {
            let mut v = vec!["--cell-km".to_string(), req.cell_km.to_string()];
            v.extend(bbox.clone());
            v.extend([
                "--step-days".into(),
                step.to_string(),
                "--steps".into(),
                steps.to_string(),
                "--as-of".into(),
                rfc3339(at),
            ]);
            v.extend(extra.iter().map(|s| s.to_string()));
            v
        };
    let given = req
        .bbox
        .map(|b| format!("--bbox={},{},{},{}", b[0], b[1], b[2], b[3]));
    let now = none_match(runner.run(Part::Trends(Box::new(parse(&trend(
        &given,
        step_days,
        req.steps,
        as_of,
        &[],
    ))?))))?;
    // Without an AOR, every other part takes the area the first one
    // applied, so their grids are the same cells (the operator's grids are
    // anchored on their own area; a role's on the gate's partition).
    let bbox = given.or_else(|| applied_area(&now));
    let then = none_match(runner.run(Part::Trends(Box::new(parse(&trend(
        &bbox,
        step_days,
        req.steps,
        start,
        &[],
    ))?))))?;
    let mut common = vec!["--cell-km".to_string(), req.cell_km.to_string()];
    common.extend(bbox.clone());
    let window = |to: DateTime<Utc>| {
        let mut v = common.clone();
        v.extend([
            "--from".into(),
            rfc3339(days(to, PRESENCE_DAYS)),
            "--to".into(),
            rfc3339(to),
        ]);
        v
    };
    let cov_now = runner.run(Part::Coverage(Box::new(parse(&window(as_of))?)));
    let cov_now = brief.optional("coverage_now", cov_now)?;
    let cov_then = runner.run(Part::Coverage(Box::new(parse(&window(start))?)));
    let cov_then = brief.optional("coverage_then", cov_then)?;
    let blind_at = |to: DateTime<Utc>| {
        let mut v = common.clone();
        v.extend(["--to".into(), rfc3339(to)]);
        v
    };
    let blind_now = runner.run(Part::Blindspots(Box::new(parse(&blind_at(as_of))?)));
    let blind_now = brief.optional("blindspots_now", blind_now)?;
    let blind_then = runner.run(Part::Blindspots(Box::new(parse(&blind_at(start))?)));
    let blind_then = brief.optional("blindspots_then", blind_then)?;
    let half = u32::try_from((period_days + 1) / 2).unwrap_or(u32::MAX);
    let sight = runner.run(Part::Trends(Box::new(parse(&trend(
        &bbox,
        half,
        2,
        as_of,
        &["--layer", "sightings", "--all-cells"],
    ))?)));
    let sight = brief.optional("sightings", none_match(sight))?;
    let monthly_args = |steps: usize, cat: Option<&str>| {
        let mut extra = vec!["--all-cells"];
        if let Some(c) = cat {
            extra.extend(["--category", c]);
        }
        trend(&bbox, MONTH_DAYS, steps, as_of, &extra)
    };
    let mut steps = months.get() as usize;
    let mut monthly = runner.run(Part::Trends(Box::new(parse(&monthly_args(steps, None))?)));
    // A role's whole protection steps are longer than a month: as many of
    // them as cover the period.
    if let Ok(p) = &monthly {
        if let Some(applied) = param_num(p, "step_days").filter(|d| *d > f64::from(MONTH_DAYS)) {
            steps = ((f64::from(MONTH_DAYS) * steps as f64) / applied).ceil() as usize;
            monthly = runner.run(Part::Trends(Box::new(parse(&monthly_args(steps, None))?)));
        }
    }
    let monthly = brief.optional("monthly", none_match(monthly))?;
    let mut by_category = Vec::new();
    if monthly.is_some() {
        for &c in crate::model::schema::CATEGORIES {
            let r = runner.run(Part::Trends(Box::new(parse(&monthly_args(
                steps,
                Some(c),
            ))?)));
            match brief.optional("monthly_by_category", none_match(r))? {
                Some(p) => by_category.push((c.to_string(), p)),
                // Refused for this role: no other category will be granted.
                None => break,
            }
        }
    }
    let mut h = Handover {
        months,
        start,
        ..Handover::default()
    };
    h.compare_hot(&now, &then, cov_now.as_ref(), blind_now.as_ref());
    h.compare_coverage(cov_then.as_ref(), cov_now.as_ref());
    h.compare_blind(blind_then.as_ref(), blind_now.as_ref());
    if let Some(s) = &sight {
        h.half_days = param_num(s, "step_days").unwrap_or(f64::from(half));
        h.sightings = sight_cells(s);
    }
    if let Some(m) = &monthly {
        h.monthly = monthly_counts(m, &by_category);
    }
    h.know = h.what_to_know();
    brief.parts.push(("trends_now", now));
    brief.parts.push(("trends_then", then));
    for (name, p) in [
        ("coverage_now", cov_now),
        ("coverage_then", cov_then),
        ("blindspots_now", blind_now),
        ("blindspots_then", blind_then),
        ("sightings", sight),
        ("monthly", monthly),
    ] {
        if let Some(p) = p {
            brief.parts.push((name, p));
        }
    }
    brief.handover = Some(Box::new(h));
    Ok(brief)
}

/// The `--bbox` argument of the area a product applied.
fn applied_area(p: &Product) -> Option<String> {
    let Some(Field::Param(Param::Object(applied))) = p.meta("applied") else {
        return None;
    };
    let (_, Param::List(b)) = applied.iter().find(|(k, _)| *k == "area")? else {
        return None;
    };
    let b: Vec<f64> = b
        .iter()
        .filter_map(|x| match x {
            Param::Num(x) => Some(*x),
            _ => None,
        })
        .collect();
    (b.len() == 4).then(|| format!("--bbox={},{},{},{}", b[0], b[1], b[2], b[3]))
}

/// The gated blind spots of a product, with their sites.
fn blind_spots(p: &Product) -> Vec<(BlindSpot, Option<(u64, f64)>)> {
    p.items
        .iter()
        .filter_map(|it| match (&it.geometry, text(it, "kind")) {
            (Shape::Cells(mp), Some(kind)) if kind != "cell" => {
                let rings =
                    mp.0.iter()
                        .map(|p| p.exterior().0.iter().map(|c| [c.x, c.y]).collect())
                        .collect();
                let rank = number(it, "rank").unwrap_or(0.0) as u64;
                let sites = match prop(it, "site_population") {
                    Some(Field::Sum { n, value, .. }) => Some((*n, *value)),
                    _ => None,
                };
                Some((BlindSpot { rings, kind, rank }, sites))
            }
            _ => None,
        })
        .collect()
}

fn overlap(a: &BlindSpot, b: &BlindSpot) -> bool {
    use geo::{Area as _, BooleanOps};
    a.kind == b.kind
        && a.rings.iter().any(|ra| {
            let pa = super::cells::polygon(ra);
            b.rings
                .iter()
                .any(|rb| pa.intersection(&super::cells::polygon(rb)).unsigned_area() > 1e-12)
        })
}

/// Cells of the sightings part: the first step's and the second's counts.
fn sight_cells(p: &Product) -> Vec<SightCell> {
    let rings: Vec<(String, Vec<[f64; 2]>)> = p
        .items
        .iter()
        .filter_map(|it| match (&it.geometry, text(it, "cell")) {
            (Shape::Cell(r), Some(k)) => Some((k, r.clone())),
            _ => None,
        })
        .collect();
    let series = table(p, "series");
    let mut steps: Vec<String> = series.iter().filter_map(|r| key(r, "step")).collect();
    steps.sort();
    steps.dedup();
    let (Some(first), Some(second)) = (steps.first(), steps.get(1)) else {
        return Vec::new();
    };
    let count = |cell: &str, step: &str| {
        series
            .iter()
            .find(|r| {
                key(r, "cell").as_deref() == Some(cell) && key(r, "step").as_deref() == Some(step)
            })
            .and_then(|r| match field(r, "count") {
                Some(Field::Count { n, .. }) => Some(*n),
                _ => None,
            })
    };
    let mut out: Vec<SightCell> = rings
        .into_iter()
        .map(|(cell, ring)| {
            let (f, s) = (count(&cell, first), count(&cell, second));
            SightCell {
                change: SightChange::of(f, s),
                first: f,
                second: s,
                cell,
                ring,
            }
        })
        .filter(|c| c.first != Some(0) || c.second != Some(0))
        .collect();
    out.sort_by(|a, b| a.cell.cmp(&b.cell));
    out
}

fn table<'a>(p: &'a Product, name: &str) -> &'a [Fields] {
    p.tables
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[], |(_, rows)| rows.as_slice())
}

fn field<'a>(row: &'a Fields, name: &str) -> Option<&'a Field> {
    row.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn key(row: &Fields, name: &str) -> Option<String> {
    match field(row, name)? {
        Field::Key(s) | Field::Class(s) => Some(s.clone()),
        _ => None,
    }
}

/// Counts per step summed over a trends part's gated series rows.
fn step_counts(p: &Product, steps: &[String]) -> Vec<u64> {
    let mut out = vec![0; steps.len()];
    for r in table(p, "series") {
        if let (Some(s), Some(Field::Count { n, .. })) = (key(r, "step"), field(r, "count")) {
            if let Some(i) = steps.iter().position(|x| *x == s) {
                out[i] += n;
            }
        }
    }
    out
}

fn monthly_counts(all: &Product, by_category: &[(String, Product)]) -> Monthly {
    let mut steps: Vec<String> = table(all, "series")
        .iter()
        .filter_map(|r| key(r, "step"))
        .collect();
    steps.sort();
    steps.dedup();
    let mut rows = vec![("all".to_string(), step_counts(all, &steps))];
    for (c, p) in by_category {
        let counts = step_counts(p, &steps);
        if counts.iter().any(|&n| n > 0) {
            rows.push((c.clone(), counts));
        }
    }
    Monthly {
        step_days: param_num(all, "step_days").unwrap_or(f64::from(MONTH_DAYS)),
        steps,
        rows,
    }
}

fn count_of(f: &Field) -> u64 {
    match f {
        Field::Count { n, .. } => *n,
        _ => 0,
    }
}

fn base_of(it: &Item) -> Option<(String, String, f64)> {
    let inner = |name: &str| match prop(it, name)? {
        Field::Relation { value, .. } => match value.as_ref() {
            Field::Key(s) => Some(s.clone()),
            Field::Value(x) => Some(x.to_string()),
            _ => None,
        },
        Field::Key(s) => Some(s.clone()),
        _ => None,
    };
    let d = match prop(it, "base_distance_km")? {
        Field::Relation { value, .. } => match value.as_ref() {
            Field::Value(x) => *x,
            _ => f64::MAX,
        },
        _ => f64::MAX,
    };
    Some((inner("base_id")?, inner("base_name").unwrap_or_default(), d))
}

/// The bases a coverage part names, each at its nearest cell's centre.
fn bases(p: &Product) -> Vec<(String, String, [f64; 2])> {
    let mut best: Vec<(String, String, f64, [f64; 2])> = Vec::new();
    for (c, it) in cells(p, "presence") {
        if let Some((id, name, d)) = base_of(it) {
            match best.iter_mut().find(|b| b.0 == id) {
                Some(b) if d < b.2 => *b = (id, name, d, c.centre),
                Some(_) => {}
                None => best.push((id, name, d, c.centre)),
            }
        }
    }
    best.into_iter().map(|(i, n, _, c)| (i, n, c)).collect()
}

mod compare;

#[cfg(test)]
#[path = "handover_tests.rs"]
mod tests;
