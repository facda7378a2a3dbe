//! Patrol and base impact: do incidents fall where the mission arrives?
//!
//! For each patrol mode and each base opened in the window, the cells where
//! presence *began* are compared with comparable cells where the mission was
//! not, before and after, with every count behind every rate. This is
//! association, not proof: patrols go where trouble is expected, incidents
//! are reported more where the mission is, and many other things change at
//! once.
//!
//! **Onsets.** A cell's patrol onset for a mode is the first visit by a
//! patrol of that mode (see [`super::coverage`] for what a visit is) at a
//! time `t` in `[from, to - window]` after at least `window` days without any
//! patrol visit and outside every active base's reach. A base's onset is its
//! opening, for the cells whose centres lie within its reach, when it opened
//! in `[from, to - window]` and those cells had no other base and no patrol
//! in the `window` days before. Onsets are taken at the start of their UTC
//! day.
//!
//! **Before and after.** Incidents last (see "Time: events last" in
//! docs/analysis.md), so they are placed by their interval `[start, end]`:
//! *before* when the incident ended before the onset and within the window
//! before it (`t - window <= end < t`), *after* when it began at or after the
//! onset and within the window after it (`t <= start < t + window`). An
//! incident that spans the onset (`start < t <= end`) was under way when
//! presence began: it is neither before nor after, and is counted apart
//! (`spanning`), in treated and comparable cells alike. An instantaneous
//! incident is before when `t - window <= start < t`, after when
//! `t <= start < t + window`.
//!
//! **Comparable cells.** For a treated cell with onset day `t`: every cell
//! with no patrol visit and no base reach in `[t - window, t + window)` whose
//! count in `[t - window, t)` falls in the same stratum (0, 1, 2-3, 4 or
//! more): matched on the same dates and on the same level of violence
//! before. Their mean before and after counts are the treated cell's
//! expectation; summed over a group they give `control_before` and
//! `control_after`, directly comparable with `before` and `after`. A treated
//! cell without any comparable cell is counted in `unmatched` and left out of
//! both sides.

use super::coverage::{Base, Presence};
use super::product::{Field, Fields, Item, Param, Product, ProductGrid, Shape};
use super::{AnalysisError, Events};
use crate::grid::Grid;
use crate::model::Layer;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Seconds in a day.
const DAY: i64 = 86_400;

/// Parameters of the impact comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpactParams {
    /// Start of the period in which onsets are sought, Unix seconds.
    pub from: i64,
    /// End of the data period, Unix seconds.
    pub to: i64,
    /// Length of the before and after windows, days (default 30).
    pub window_days: i64,
}

impl ImpactParams {
    /// Checks every parameter, naming the bad one.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        if self.window_days < 1 || self.window_days > 3650 {
            return Err(AnalysisError::param(
                "window-days",
                "must be 1 to 3650 days",
            ));
        }
        if self.to - self.from < self.window_days * DAY {
            return Err(AnalysisError::param(
                "from",
                "the period must be at least one window long (onsets need a full window after them)",
            ));
        }
        Ok(())
    }
}

/// One treated cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Treated {
    /// Index of the group in [`Impact::groups`].
    pub group: usize,
    /// The cell.
    pub cell: usize,
    /// Onset, Unix seconds (start of the UTC day).
    pub onset: i64,
    /// Incidents before and after.
    pub before: u32,
    /// Incidents after.
    pub after: u32,
    /// Incidents under way at the onset (begun before, ended at or after
    /// it): neither before nor after.
    pub spanning: u32,
    /// Of before + after, sexual-violence or child cases.
    pub sensitive: u32,
    /// Expected before and after from comparable cells (None: no comparable cell).
    pub control: Option<(f64, f64)>,
    /// Number of comparable cells.
    pub controls: usize,
    /// Id of the patrol whose first visit, or the base whose opening, is
    /// the onset (what the cell shows about an individual).
    pub by: String,
}

/// One row of the impact table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// `patrol` or `base`.
    pub kind: &'static str,
    /// The mode (foot, vehicle, air, boat) or the base id.
    pub key: String,
    /// The base's name (empty for patrol modes).
    pub name: String,
    /// Treated cells with comparable cells.
    pub cells: usize,
    /// Treated cells without any comparable cell (left out).
    pub unmatched: usize,
    /// Incidents in the treated cells before onset.
    pub before: u64,
    /// And after.
    pub after: u64,
    /// Incidents in the treated cells under way at their onset (in neither).
    pub spanning: u64,
    /// Expected before from the comparable cells.
    pub control_before: f64,
    /// Expected after from the comparable cells.
    pub control_after: f64,
    /// Sensitive incidents (sexual-violence or child cases) in before + after.
    pub sensitive: u64,
}

impl Group {
    /// Incidents per cell per 30 days, before and after.
    pub fn rates(&self, window_days: i64) -> (f64, f64) {
        let cell_months = self.cells as f64 * window_days as f64 / 30.0;
        if cell_months == 0.0 {
            return (f64::NAN, f64::NAN);
        }
        (
            self.before as f64 / cell_months,
            self.after as f64 / cell_months,
        )
    }

    /// The difference in differences: `(after - before) - (control_after -
    /// control_before)`, in incidents. Negative: fewer incidents after onset
    /// than comparable cells would suggest.
    pub fn did(&self) -> f64 {
        (self.after as f64 - self.before as f64) - (self.control_after - self.control_before)
    }
}

/// The impact comparison.
#[derive(Debug, Clone)]
pub struct Impact {
    /// One row per patrol mode with onsets, then per base opened in the period.
    pub groups: Vec<Group>,
    /// Every treated cell, by group then cell.
    pub treated: Vec<Treated>,
    /// The parameters.
    pub params: ImpactParams,
}

/// Per onset day: [`Split`] incidents per cell with any, and per stratum
/// the comparable cells' (number, sum before, sum after).
type DayCounts = (FxHashMap<usize, Split>, [(usize, f64, f64); 4]);

/// A cell's incidents around one onset.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Split {
    before: u32,
    after: u32,
    spanning: u32,
    /// Sexual-violence or child cases among before and after.
    sensitive: u32,
}

/// Where an incident lasting `[start, end]` falls against an onset at `t`
/// with windows of `w` seconds (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Before,
    After,
    /// Under way at the onset.
    Spanning,
    /// Outside both windows.
    Outside,
}

fn side(start: i64, end: i64, t: i64, w: i64) -> Side {
    let end = end.max(start);
    if end < t {
        if end >= t - w {
            Side::Before
        } else {
            Side::Outside
        }
    } else if start >= t {
        if start < t + w {
            Side::After
        } else {
            Side::Outside
        }
    } else {
        Side::Spanning
    }
}

fn stratum(n: u32) -> u8 {
    match n {
        0 => 0,
        1 => 1,
        2 | 3 => 2,
        _ => 3,
    }
}

/// Compares incident counts before and after presence began.
///
/// `visits[p]` lists, for patrol `p` of `presence.patrols`, the cells it
/// visited as `(cell, first, last)` Unix seconds (see
/// [`super::visits::patrol_visits`]); they must cover `[from - window, to]`.
/// `incidents` must hold the incidents of `[from - window, to]`.
pub fn impact(
    grid: &Grid,
    presence: &Presence,
    visits: &[Vec<(usize, i64, i64)>],
    incidents: &Events,
    params: &ImpactParams,
) -> Result<Impact, AnalysisError> {
    params.validate()?;
    if visits.len() != presence.patrols.len() {
        return Err(AnalysisError::param(
            "visits",
            "one visit list per patrol is needed",
        ));
    }
    let n = grid.len();
    let w = params.window_days * DAY;
    let day = |t: i64| t.div_euclid(DAY) * DAY;

    // Per cell: every visit interval (any mode), sorted; and per mode the visits.
    let mut cell_visits: Vec<Vec<(i64, i64, usize, usize)>> = vec![Vec::new(); n];
    for (p, list) in visits.iter().enumerate() {
        let mode = presence.patrols[p].mode;
        for &(c, first, last) in list {
            if c < n {
                cell_visits[c].push((first, last, mode, p));
            }
        }
    }
    cell_visits.par_iter_mut().for_each(|v| v.sort_unstable());
    // Per cell: base reach intervals (bases sorted by id for determinism).
    let mut bases: Vec<&Base> = presence.bases.iter().collect();
    bases.sort_by(|a, b| a.id.cmp(&b.id));
    let mut reach: Vec<Vec<(i64, i64, usize)>> = vec![Vec::new(); n];
    for (bi, b) in bases.iter().enumerate() {
        for c in base_cells(grid, b) {
            reach[c].push((b.start, b.end.unwrap_or(i64::MAX), bi));
        }
    }
    let present = |c: usize, a: i64, b: i64| -> bool {
        // Any patrol visit overlapping [a, b) or any base active in it.
        let v = &cell_visits[c];
        let i = v.partition_point(|x| x.0 < b);
        v[..i].iter().any(|x| x.1 >= a) || reach[c].iter().any(|r| r.0 < b && r.1 >= a)
    };

    // Treated cells.
    let mut groups: Vec<Group> = Vec::new();
    let mut treated: Vec<Treated> = Vec::new();
    let last_onset = params.to - w;
    for (m, mode) in crate::model::schema::MODES.iter().enumerate() {
        let g = groups.len();
        let mut any = false;
        for (c, visits) in cell_visits.iter().enumerate() {
            let first = visits
                .iter()
                .filter(|v| v.2 == m && v.0 >= params.from && v.0 <= last_onset)
                .find(|v| !present(c, v.0 - w, v.0));
            if let Some(&(t, _, _, p)) = first {
                any = true;
                treated.push(Treated {
                    group: g,
                    cell: c,
                    onset: day(t),
                    by: presence.patrols[p].id.clone(),
                    ..Default::default()
                });
            }
        }
        if any {
            groups.push(Group {
                kind: "patrol",
                key: (*mode).to_string(),
                name: String::new(),
                ..Default::default()
            });
        }
    }
    for (bi, b) in bases.iter().enumerate() {
        if b.start < params.from || b.start > last_onset {
            continue;
        }
        let g = groups.len();
        let t = b.start;
        let mut any = false;
        for c in base_cells(grid, b) {
            let other_base = reach[c]
                .iter()
                .any(|r| r.2 != bi && r.0 < t && r.1 >= t - w);
            let v = &cell_visits[c];
            let patrolled = v.iter().any(|x| x.0 < t && x.1 >= t - w);
            if !other_base && !patrolled {
                any = true;
                treated.push(Treated {
                    group: g,
                    cell: c,
                    onset: day(t),
                    by: b.id.clone(),
                    ..Default::default()
                });
            }
        }
        if any {
            groups.push(Group {
                kind: "base",
                key: b.id.clone(),
                name: b.name.clone(),
                ..Default::default()
            });
        }
    }

    // Incidents by start, with their ends and cells.
    let ends = incidents.ends();
    let mut inc: Vec<(i64, i64, usize, bool)> = (0..incidents.len())
        .into_par_iter()
        .filter_map(|i| {
            grid.locate(incidents.lon[i], incidents.lat[i]).map(|c| {
                (
                    incidents.time[i],
                    ends[i].max(incidents.time[i]),
                    c,
                    incidents.sensitive.get(i).copied().unwrap_or(false),
                )
            })
        })
        .collect();
    inc.sort_unstable();
    // The longest incident bounds how early one ending in a window began.
    let longest = inc.iter().map(|x| x.1 - x.0).max().unwrap_or(0);
    let in_range = |a: i64, b: i64| {
        let lo = inc.partition_point(|x| x.0 < a.saturating_sub(longest));
        let hi = inc.partition_point(|x| x.0 < b);
        &inc[lo..hi]
    };

    // Per onset day: counts before/after per cell, and the comparable cells' means per stratum.
    let mut days: Vec<i64> = treated.iter().map(|t| t.onset).collect();
    days.sort_unstable();
    days.dedup();
    let per_day: Vec<DayCounts> = days
        .par_iter()
        .map(|&d| {
            let mut counts: FxHashMap<usize, Split> = FxHashMap::default();
            for &(start, end, c, s) in in_range(d - w, d + w) {
                let e = counts.entry(c).or_default();
                match side(start, end, d, w) {
                    Side::Before => e.before += 1,
                    Side::After => e.after += 1,
                    Side::Spanning => {
                        e.spanning += 1;
                        continue;
                    }
                    Side::Outside => continue,
                }
                e.sensitive += u32::from(s);
            }
            let mut strata = [(0usize, 0.0f64, 0.0f64); 4];
            for c in 0..n {
                if present(c, d - w, d + w) {
                    continue;
                }
                let x = counts.get(&c).copied().unwrap_or_default();
                let s = &mut strata[stratum(x.before) as usize];
                s.0 += 1;
                s.1 += f64::from(x.before);
                s.2 += f64::from(x.after);
            }
            (counts, strata)
        })
        .collect();
    for t in treated.iter_mut() {
        let k = days.partition_point(|d| *d < t.onset);
        let (counts, strata) = &per_day[k];
        let x = counts.get(&t.cell).copied().unwrap_or_default();
        let (b, a, s) = (x.before, x.after, x.sensitive);
        t.before = b;
        t.after = a;
        t.spanning = x.spanning;
        t.sensitive = s;
        let st = strata[stratum(b) as usize];
        t.controls = st.0;
        if st.0 > 0 {
            t.control = Some((st.1 / st.0 as f64, st.2 / st.0 as f64));
        }
        let g = &mut groups[t.group];
        match t.control {
            Some((cb, ca)) => {
                g.cells += 1;
                g.before += u64::from(b);
                g.after += u64::from(a);
                g.spanning += u64::from(x.spanning);
                g.sensitive += u64::from(s);
                g.control_before += cb;
                g.control_after += ca;
            }
            None => g.unmatched += 1,
        }
    }
    Ok(Impact {
        groups,
        treated,
        params: params.clone(),
    })
}

/// Cells whose centres lie within a base's reach.
fn base_cells(grid: &Grid, b: &Base) -> Vec<usize> {
    use geo::{Centroid, Distance, Euclidean, MapCoords};
    let g = b.geometry.map_coords(|c| {
        let [x, y] = grid.project(c.x, c.y);
        geo_types::coord! { x: x, y: y }
    });
    let Some(centre) = g.centroid() else {
        return Vec::new();
    };
    // Search from the centroid far enough to hold the whole polygon's reach.
    let extent = match &g {
        geo_types::Geometry::Point(_) => 0.0,
        other => {
            use geo::BoundingRect;
            other.bounding_rect().map_or(0.0, |r| {
                let (w, h) = (r.width(), r.height());
                (w * w + h * h).sqrt()
            })
        }
    };
    let mut out = Vec::new();
    grid.for_each_cell_within([centre.x(), centre.y()], b.reach_m + extent, |c| {
        let xy = grid.cells[c].xy;
        if Euclidean.distance(&geo_types::Point::new(xy[0], xy[1]), &g) <= b.reach_m {
            out.push(c);
        }
    });
    out
}

impl Impact {
    /// The table row of group `i`.
    fn row(&self, i: usize) -> Fields {
        let g = &self.groups[i];
        let (rb, ra) = g.rates(self.params.window_days);
        let cells = g.cells as f64;
        let months = self.params.window_days as f64 / 30.0;
        let (cb, ca) = if cells > 0.0 {
            (
                g.control_before / cells / months,
                g.control_after / cells / months,
            )
        } else {
            (f64::NAN, f64::NAN)
        };
        let (group, key, name, presence) = group_fields(g);
        vec![
            ("group", group),
            ("kind", Field::Key(g.kind.to_string())),
            ("key", key),
            ("name", name),
            ("cells", Field::Tally(g.cells as u64)),
            ("presence", presence),
            ("unmatched", Field::Tally(g.unmatched as u64)),
            ("before", Field::Tally(g.before)),
            ("after", Field::Tally(g.after)),
            ("spanning", Field::Tally(g.spanning)),
            ("rate_before", Field::Value(rb)),
            ("rate_after", Field::Value(ra)),
            ("control_before", Field::Value(g.control_before)),
            ("control_after", Field::Value(g.control_after)),
            ("control_rate_before", Field::Value(cb)),
            ("control_rate_after", Field::Value(ca)),
            ("did", Field::Value(g.did())),
            (
                "count",
                Field::Count {
                    layer: Layer::Incidents,
                    n: g.before + g.after,
                },
            ),
            ("count_sensitive", Field::Sensitive(g.sensitive)),
        ]
    }

    /// Treated cells as features and the per-group table, with the method
    /// and the period. Every treated cell shows one patrol's or one base's
    /// onset, so it is about that individual for the gate.
    pub fn to_product(&self, grid: &Grid) -> Product {
        let items: Vec<Item> = self
            .treated
            .iter()
            .map(|t| {
                let cell = &grid.cells[t.cell];
                let g = &self.groups[t.group];
                let (group, _, _, _) = group_fields(g);
                Item {
                    id: Field::Key(format!("t{}:{}", t.group, cell.key)),
                    geometry: Shape::Cell(cell.ring.clone()),
                    properties: vec![
                        ("kind", Field::Key("treated-cell".into())),
                        ("group", group),
                        ("cell", Field::Key(cell.key.clone())),
                        ("onset", Field::EventTime(t.onset)),
                        ("before", Field::Tally(u64::from(t.before))),
                        ("after", Field::Tally(u64::from(t.after))),
                        ("spanning", Field::Tally(u64::from(t.spanning))),
                        (
                            "control_before",
                            t.control.map_or(Field::Null, |c| Field::Value(c.0)),
                        ),
                        (
                            "control_after",
                            t.control.map_or(Field::Null, |c| Field::Value(c.1)),
                        ),
                        ("comparable_cells", Field::Tally(t.controls as u64)),
                        (
                            "count",
                            Field::Count {
                                layer: Layer::Incidents,
                                n: u64::from(t.before + t.after),
                            },
                        ),
                        ("count_sensitive", Field::Sensitive(u64::from(t.sensitive))),
                        onset_of(g, &t.by),
                    ],
                }
            })
            .collect();
        let table: Vec<Fields> = (0..self.groups.len()).map(|i| self.row(i)).collect();
        let p = &self.params;
        let mut out = Product::new("impact");
        out.grid = Some(match grid.kind {
            crate::grid::GridKind::Square { cell_m } => ProductGrid::Square(cell_m),
            crate::grid::GridKind::H3 { resolution } => ProductGrid::H3(resolution),
        });
        out.meta.extend([
            ("caution", Field::param("Association, not proof: patrols and bases go where trouble is expected, incidents are reported more where the mission is, and much else changes at the same time.")),
            ("method", Field::param("per patrol mode and per base opened in the period: cells where presence began (after a window without any), incidents in the window before (ended before onset) and after (began at or after onset; incidents under way at onset are counted apart as spanning), against cells without presence on the same dates and in the same stratum of incidents before (0, 1, 2-3, 4+); rates are incidents per cell per 30 days; did = (after - before) - (control_after - control_before) (docs/analysis.md)")),
            (
                "period",
                Field::Param(Param::Object(vec![
                    ("from", super::coverage::time_param(p.from)),
                    ("to", super::coverage::time_param(p.to)),
                ])),
            ),
            ("window_days", Field::param(p.window_days)),
        ]);
        out.items = items;
        out.tables.push(("table", table));
        out
    }
}

/// What a treated cell's onset shows, for the gate: the first visit of one
/// patrol, or the opening of one base, in that cell. The cell reaches only
/// roles that may see that patrol or base individually.
fn onset_of(g: &Group, by: &str) -> (&'static str, Field) {
    let layer = if g.kind == "base" {
        Layer::Bases
    } else {
        Layer::Patrols
    };
    (
        "onset_of",
        Field::Subject {
            layer,
            id: by.to_string(),
        },
    )
}

/// A group's label (`mode:foot`, `base:<id>`), key and name, and what its
/// presence is for the gate: the patrols' onsets as a count (a group of
/// fewer patrol onsets than the minimum count is withheld), a base's under
/// its label (a row of figures, never a place).
fn group_fields(g: &Group) -> (Field, Field, Field, Field) {
    let presence = if g.kind == "base" {
        Field::Null
    } else {
        Field::Count {
            layer: Layer::Patrols,
            n: g.cells as u64,
        }
    };
    if g.kind == "base" {
        (
            Field::Reference {
                prefix: "base:",
                layer: Layer::Bases,
                id: g.key.clone(),
            },
            Field::Reference {
                prefix: "",
                layer: Layer::Bases,
                id: g.key.clone(),
            },
            Field::Name {
                layer: Layer::Bases,
                id: g.key.clone(),
                name: g.name.clone(),
            },
            presence,
        )
    } else {
        (
            Field::Key(format!("{}:{}", g.kind, g.key)),
            Field::Key(g.key.clone()),
            Field::Key(g.name.clone()),
            presence,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::coverage::Patrol;
    use crate::grid::Area;

    fn grid() -> Grid {
        Grid::square(&Area::BBox([18.0, 5.0, 18.3, 5.2]), 2_000.0).unwrap()
    }

    fn events(g: &Grid, spec: &[(usize, i64)]) -> Events {
        let mut e = Events::default();
        for (k, &(c, t)) in spec.iter().enumerate() {
            let [lon, lat] = g.cells[c].center;
            e.push(
                format!("e{k}"),
                lon,
                lat,
                t,
                1.0,
                "killing".into(),
                String::new(),
            );
        }
        e
    }

    fn patrol(mode: usize) -> Patrol {
        Patrol {
            id: format!("p{mode}"),
            mode,
            kind: "routine".into(),
            parts: vec![],
            times: vec![],
        }
    }

    #[test]
    fn counts_before_and_after_against_matched_cells() {
        let g = grid();
        let day = DAY;
        let onset = 100 * day;
        let treated_cell = 10;
        let presence = Presence {
            patrols: vec![patrol(0)],
            bases: vec![],
        };
        let visits = vec![vec![(treated_cell, onset + 3600, onset + 7200)]];
        // Treated cell: 4 before, 1 after. Two controls with 4+ before: one 4 -> 4, one 5 -> 3.
        let mut spec = Vec::new();
        for k in 0..4 {
            spec.push((treated_cell, onset - (k + 1) * day));
        }
        spec.push((treated_cell, onset + day));
        for k in 0..4 {
            spec.push((20, onset - (k + 1) * day));
            spec.push((20, onset + (k + 1) * day));
        }
        for k in 0..5 {
            spec.push((30, onset - (k + 1) * day));
        }
        for k in 0..3 {
            spec.push((30, onset + (k + 1) * day));
        }
        let p = ImpactParams {
            from: 0,
            to: 300 * day,
            window_days: 30,
        };
        let r = impact(&g, &presence, &visits, &events(&g, &spec), &p).unwrap();
        assert_eq!(r.groups.len(), 1);
        let grp = &r.groups[0];
        assert_eq!((grp.kind, grp.key.as_str()), ("patrol", "foot"));
        assert_eq!((grp.cells, grp.before, grp.after), (1, 4, 1));
        assert!((grp.control_before - 4.5).abs() < 1e-12);
        assert!((grp.control_after - 3.5).abs() < 1e-12);
        assert!((grp.did() - (-3.0 - (-1.0))).abs() < 1e-12);
        assert_eq!(r.treated[0].controls, 2);
    }

    /// Incidents are placed by their interval: ended before the onset
    /// (within the window), begun at or after it (within the window), or
    /// under way at it (neither), in treated and comparable cells alike.
    #[test]
    fn incidents_spanning_the_onset_are_neither_before_nor_after() {
        let g = grid();
        let onset = 100 * DAY;
        let w = 30 * DAY;
        let presence = Presence {
            patrols: vec![patrol(0)],
            bases: vec![],
        };
        // The first visit is mid-day; the onset is the start of its day.
        let visits = vec![vec![(10, onset + 3600, onset + 7200)]];
        // (start, end) of each incident, in the treated cell 10 and the same
        // again in the comparable cell 20.
        let spans = [
            (onset - 3 * DAY, onset - DAY),         // before
            (onset - 200 * DAY, onset - w),         // before: ends on the window's first moment
            (onset - 200 * DAY, onset - w - 1),     // ended before the window: outside
            (onset - w, onset - w),                 // instant on the window's start: before
            (onset - 2 * DAY, onset + 2 * DAY),     // spanning
            (onset - 1, onset),                     // ends on the onset: spanning
            (onset - 300 * DAY, onset + 300 * DAY), // spanning, long
            (onset, onset + 5 * DAY),               // after: begins on the onset
            (onset + w - 1, onset + w + DAY),       // after: begins in the window
            (onset + w, onset + w),                 // outside
        ];
        let mut e = Events::default();
        for (k, &(start, end)) in spans.iter().enumerate() {
            for cell in [10, 20] {
                let [lon, lat] = g.cells[cell].center;
                e.push(
                    format!("e{cell}-{k}"),
                    lon,
                    lat,
                    start,
                    1.0,
                    "killing".into(),
                    String::new(),
                );
                e.set_last_end(end);
            }
        }
        let p = ImpactParams {
            from: 0,
            to: 400 * DAY,
            window_days: 30,
        };
        let r = impact(&g, &presence, &visits, &e, &p).unwrap();
        let t = &r.treated[0];
        assert_eq!((t.cell, t.onset), (10, onset));
        assert_eq!((t.before, t.after, t.spanning), (3, 2, 3));
        let grp = &r.groups[0];
        assert_eq!((grp.before, grp.after, grp.spanning), (3, 2, 3));
        // Cell 20 is the only comparable cell with 3 before (stratum 2-3),
        // split by the same rule.
        assert_eq!((t.controls, t.control), (1, Some((3.0, 2.0))));
        for (k, want) in [
            Side::Before,
            Side::Before,
            Side::Outside,
            Side::Before,
            Side::Spanning,
            Side::Spanning,
            Side::Spanning,
            Side::After,
            Side::After,
            Side::Outside,
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(side(spans[k].0, spans[k].1, onset, w), want, "incident {k}");
        }
        // An end before the start is taken as the start.
        assert_eq!(side(onset + DAY, onset - DAY, onset, w), Side::After);
    }

    #[test]
    fn a_cell_patrolled_just_before_is_not_an_onset() {
        let g = grid();
        let onset = 100 * DAY;
        let presence = Presence {
            patrols: vec![patrol(1), patrol(1)],
            bases: vec![],
        };
        let visits = vec![
            vec![(5, onset - 10 * DAY, onset - 10 * DAY)],
            vec![(5, onset, onset)],
        ];
        let p = ImpactParams {
            from: onset - 5 * DAY,
            to: 300 * DAY,
            window_days: 30,
        };
        let r = impact(&g, &presence, &visits, &Events::default(), &p).unwrap();
        assert!(r.groups.is_empty(), "{:?}", r.groups);
    }

    #[test]
    fn a_base_opening_treats_the_cells_in_its_reach() {
        let g = grid();
        let start = 120 * DAY;
        let c = g.len() / 2;
        let [lon, lat] = g.cells[c].center;
        let base = Base {
            id: "b1".into(),
            name: "TOB North".into(),
            base_type: "tob".into(),
            geometry: geo_types::Point::new(lon, lat).into(),
            reach_m: 3_000.0,
            start,
            end: None,
        };
        let presence = Presence {
            patrols: vec![],
            bases: vec![base],
        };
        let p = ImpactParams {
            from: 0,
            to: 300 * DAY,
            window_days: 30,
        };
        // The treated centre: 2 before, 0 after; a comparable cell far away: 2 before, 1 after.
        let e = events(
            &g,
            &[
                (c, start - DAY),
                (c, start - 2 * DAY),
                (0, start - DAY),
                (0, start - 3 * DAY),
                (0, start + DAY),
            ],
        );
        let r = impact(&g, &presence, &[], &e, &p).unwrap();
        assert_eq!(r.groups.len(), 1);
        let grp = &r.groups[0];
        assert_eq!(
            (grp.kind, grp.key.as_str(), grp.name.as_str()),
            ("base", "b1", "TOB North")
        );
        let mut want = 0;
        for cell in &g.cells {
            let d = ((cell.xy[0] - g.cells[c].xy[0]).powi(2)
                + (cell.xy[1] - g.cells[c].xy[1]).powi(2))
            .sqrt();
            want += usize::from(d <= 3_000.0);
        }
        assert_eq!(grp.cells + grp.unmatched, want);
        // Only the centre has a comparable cell (stratum 2-3); the other treated
        // cells (0 before) are compared with the many quiet cells.
        assert_eq!((grp.before, grp.after), (2, 0));
        assert_eq!(grp.unmatched, 0);
        let centre = r.treated.iter().find(|t| t.cell == c).unwrap();
        assert_eq!((centre.controls, centre.control), (1, Some((2.0, 1.0))));
    }

    #[test]
    fn the_period_must_hold_a_window() {
        let g = grid();
        let p = ImpactParams {
            from: 0,
            to: 10 * DAY,
            window_days: 30,
        };
        let e = impact(
            &g,
            &Presence {
                patrols: vec![],
                bases: vec![],
            },
            &[],
            &Events::default(),
            &p,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`from`"), "{e}");
    }
}
