//! The presence surface: where the mission is present, per grid cell, over a
//! time window `[from, to]`, as of `to`.
//!
//! Three sources of presence meet on the grid:
//!
//! - **Patrols.** A cell is in a patrol's *corridor* when the distance from
//!   its centre to the track is at most the half-width of the patrol's mode
//!   ([`CoverageParams::corridor_m`]; closed). Tracks are straight segments
//!   between the projected vertices, in the grid's equal-area metres. For each
//!   segment the part within the radius of a cell centre is found exactly
//!   (segment / circle intersection: the interval of the segment's parameter
//!   where the distance is at most the half-width), and the vertex times are
//!   interpolated along it, which gives the time the patrol spent within its
//!   corridor of the centre. Times are clipped to the window. A cell counts a
//!   *visit* of a patrol that was within its corridor at some moment of the
//!   window (a patrol standing still, or a track reduced to one point, visits
//!   the cells within the corridor of that point), and that visit weighs
//!   `0.5^((to - t_last) / half_life)`, `t_last` the last moment of the
//!   window the patrol was within the corridor.
//!
//!   To avoid testing every segment against every nearby cell, each line of
//!   a track is split into pieces no longer than the half-width, consecutive
//!   pieces are grouped into runs whose vertices fit in a box of
//!   half-diagonal at most half the half-width, and each run gets a tree of
//!   bounding circles (leaves: up to 8 consecutive pieces). The candidate
//!   cells of a run are those within `half-width + radius` of the centre of
//!   its circle ([`Grid::for_each_cell_within`]). A node lying wholly within
//!   (or wholly beyond) the half-width of a candidate is taken (or dropped)
//!   as a whole, otherwise its children are examined; in a leaf, a piece
//!   with both ends within the half-width lies within it (the disk is
//!   convex) and the others are solved exactly. The result is the same as
//!   testing every segment against every cell.
//!
//! - **Track length.** On square grids the length of track inside each cell
//!   is exact: segments are cut where they cross the lattice lines and each
//!   piece is given to the cell holding its midpoint. On H3 grids segments
//!   are cut into pieces of at most `min(cell size / 20, 50 m)` (cell size
//!   being the square root of a cell's area) and each piece is given to the
//!   cell holding its midpoint. Only track driven, walked, flown or sailed
//!   within the window counts; track outside the grid's cells is not
//!   counted.
//!
//! - **Bases.** A base open at `to` covers the cells whose centres lie within
//!   its reach: measured from the point for point bases, from the polygon
//!   (zero inside it) for polygon bases, in projected metres. Each cell keeps
//!   the nearest covering base (ties: the smaller id).
//!
//! - **Reports** (incidents and sightings) in the window tell that the
//!   mission has *information* from an area even where it has no presence.
//!   Each report is first binned to the cell holding it (reports outside the
//!   grid's cells are counted apart); then every cell whose centre lies
//!   within `info_radius_m` of a non-empty cell's centre receives that cell's
//!   count, recency weight `0.5^((to - t) / half_life)` and latest time. So
//!   distances are measured between cell centres, not from the reports
//!   themselves (an error of at most half a cell diagonal).
//!
//! `presence` is 1 within an active base's reach, else `min(1,
//! patrol_score)`: one patrol at `to` makes a cell fully present, one a
//! half-life ago half present.
//!
//! **Deterministic.** Patrols (taken in Z-order of their first point, so
//! that the cells they touch are still in the cache), bases and report cells
//! are processed in parallel (rayon); each finished patrol is added to one of
//! a few whole-grid accumulators, which are summed at the end. Every sum
//! across patrols or reports is kept in fixed point (seconds to the
//! microsecond, metres to the micrometre, recency weights to 2^-32), and
//! integer sums do not depend on the order they are made in; so the result
//! is bit-identical for any thread count and any order of the input patrols,
//! bases and reports.

use super::product::{Field, Fields, Item, Param, Product, ProductGrid, Shape};
use super::{AnalysisError, Events};
use crate::grid::{Grid, GridKind};
use crate::model::schema::{default_reach_km, MODES};
use crate::model::time::parse_time;
use crate::model::{Feature, Layer};
use crate::store::{Query, Store, StoreError};
use chrono::{DateTime, Utc};
use geo::{BoundingRect, Distance, Euclidean, MapCoords};
use rayon::prelude::*;
use serde_json::Value;
use std::sync::{Mutex, PoisonError, TryLockError};

/// Fixed-point units per second of patrol time (microseconds).
const PER_SECOND: f64 = 1e6;
/// Fixed-point units per metre of track (micrometres).
const PER_METRE: f64 = 1e6;
/// Fixed-point units of a recency weight of 1.
const PER_WEIGHT: f64 = 4_294_967_296.0; // 2^32

/// Parameters of the presence surface.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageParams {
    /// Start of the window, Unix seconds UTC.
    pub from: i64,
    /// End of the window and the "as of" time, Unix seconds UTC.
    pub to: i64,
    /// Half-width of the corridor seen either side of a track, metres, per
    /// mode in [`MODES`] order (foot, vehicle, air, boat).
    pub corridor_m: [f64; 4],
    /// Recency half-life, days: something `a` days old weighs `0.5^(a / half_life)`.
    pub half_life_days: f64,
    /// A report informs on the cells within this distance, metres.
    pub info_radius_m: f64,
}

impl Default for CoverageParams {
    /// Foot 2 km, vehicle 5 km, air 10 km, boat (riverine) 3 km; half-life 30
    /// days; reports inform within 5 km. `from` and `to` are 0: set them.
    fn default() -> Self {
        CoverageParams {
            from: 0,
            to: 0,
            corridor_m: [2_000.0, 5_000.0, 10_000.0, 3_000.0],
            half_life_days: 30.0,
            info_radius_m: 5_000.0,
        }
    }
}

impl CoverageParams {
    /// Checks every parameter, naming the first one out of its domain.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        if self.to < self.from {
            return Err(AnalysisError::param(
                "to",
                "the time window ends before it starts",
            ));
        }
        for (m, w) in MODES.iter().zip(self.corridor_m) {
            if !(w.is_finite() && w > 0.0) {
                return Err(AnalysisError::param(
                    "corridor",
                    format!("{m} half-width {w} must be a positive number of metres"),
                ));
            }
        }
        if !(self.half_life_days.is_finite() && self.half_life_days > 0.0) {
            return Err(AnalysisError::param(
                "presence-half-life-days",
                format!("{} must be a positive number of days", self.half_life_days),
            ));
        }
        if !(self.info_radius_m.is_finite() && self.info_radius_m >= 0.0) {
            return Err(AnalysisError::param(
                "info-radius",
                format!("{} must be a number of metres >= 0", self.info_radius_m),
            ));
        }
        Ok(())
    }

    fn half_life_s(&self) -> f64 {
        self.half_life_days * 86_400.0
    }

    /// Recency weight of something `age_s` seconds old.
    fn recency(&self, age_s: f64) -> f64 {
        (-age_s.max(0.0) / self.half_life_s()).exp2()
    }
}

/// One patrol track.
#[derive(Debug, Clone, PartialEq)]
pub struct Patrol {
    /// Feature id.
    pub id: String,
    /// Index of the mode in [`MODES`].
    pub mode: usize,
    /// Patrol kind (`routine`, `integrated`, ...).
    pub kind: String,
    /// The lines of the track, lon/lat degrees.
    pub parts: Vec<Vec<[f64; 2]>>,
    /// Unix seconds of each vertex, same shape as `parts`, non-decreasing
    /// along each part.
    pub times: Vec<Vec<i64>>,
}

/// One base.
#[derive(Debug, Clone, PartialEq)]
pub struct Base {
    /// Feature id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Base type (`cob`, `tob`, ...).
    pub base_type: String,
    /// Point or (multi)polygon, lon/lat degrees.
    pub geometry: geo_types::Geometry<f64>,
    /// Reach of its presence, metres.
    pub reach_m: f64,
    /// Opening, Unix seconds.
    pub start: i64,
    /// Closing, Unix seconds; `None` while open.
    pub end: Option<i64>,
}

impl Base {
    /// Whether the base is open at `t` (opening and closing days included).
    pub fn is_active(&self, t: i64) -> bool {
        self.start <= t && self.end.is_none_or(|e| t <= e)
    }
}

/// Patrols and bases, as read by [`load_presence`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Presence {
    /// Patrol tracks.
    pub patrols: Vec<Patrol>,
    /// Bases.
    pub bases: Vec<Base>,
}

fn timestamp(name: &'static str, t: i64) -> Result<DateTime<Utc>, AnalysisError> {
    DateTime::from_timestamp(t, 0)
        .ok_or_else(|| AnalysisError::param(name, format!("{t} is not a representable time")))
}

/// Reads the patrols whose time overlaps `[from, to]` and all bases (open
/// at any time) within `bbox` (`[min_lon, min_lat, max_lon, max_lat]`;
/// `None`: everywhere) through the [`Store`] trait, in store order.
///
/// Vertex times are the feature's `vertex_times` when present; otherwise
/// they are spread between `time_start` and `time_end` in proportion to the
/// (haversine) distance along the track, the gaps between the lines of a
/// MultiLineString not counting; without `time_end` every vertex is at
/// `time_start`. Times are kept to the second.
pub fn load_presence(
    store: &dyn Store,
    from: i64,
    to: i64,
    bbox: Option<[f64; 4]>,
) -> Result<Presence, AnalysisError> {
    if to < from {
        return Err(AnalysisError::param(
            "to",
            "the time window ends before it starts",
        ));
    }
    let query = Query {
        bbox,
        from: Some(timestamp("from", from)?),
        to: Some(timestamp("to", to)?),
    };
    let mut out = Presence::default();
    let mut failed = None;
    let abort = |e: String, failed: &mut Option<String>| {
        *failed = Some(e.clone());
        StoreError::Aborted(e)
    };
    let read = store.query(Layer::Patrols, &query, &mut |f| {
        let p = patrol_from_feature(&f).map_err(|e| abort(e, &mut failed))?;
        out.patrols.push(p);
        Ok(())
    });
    if let Some(e) = failed.take() {
        return Err(AnalysisError::param("patrols", e));
    }
    read?;
    let query = Query {
        bbox,
        from: None,
        to: None,
    };
    let read = store.query(Layer::Bases, &query, &mut |f| {
        let b = base_from_feature(&f).map_err(|e| abort(e, &mut failed))?;
        out.bases.push(b);
        Ok(())
    });
    if let Some(e) = failed {
        return Err(AnalysisError::param("bases", e));
    }
    read?;
    Ok(out)
}

fn haversine_m(a: [f64; 2], b: [f64; 2]) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (a[1].to_radians(), b[1].to_radians());
    let dp = p2 - p1;
    let dl = (b[0] - a[0]).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

fn patrol_from_feature(f: &Feature) -> Result<Patrol, String> {
    let line = |l: &geo_types::LineString<f64>| -> Vec<[f64; 2]> {
        l.0.iter().map(|c| [c.x, c.y]).collect()
    };
    let parts: Vec<Vec<[f64; 2]>> = match &f.geometry {
        geo_types::Geometry::LineString(l) => vec![line(l)],
        geo_types::Geometry::MultiLineString(m) => m.0.iter().map(line).collect(),
        other => {
            return Err(format!(
                "patrol {}: a track must be a LineString or MultiLineString, not {other:?}",
                f.id
            ))
        }
    };
    let mode = f.str("mode").unwrap_or("");
    let mode = MODES
        .iter()
        .position(|m| *m == mode)
        .ok_or_else(|| format!("patrol {}: unknown mode {mode:?}", f.id))?;
    let start = f.time.start.timestamp();
    let end = f.time.end.map(|e| e.timestamp());
    let times = match f.properties.get("vertex_times") {
        Some(Value::Array(list)) => {
            let mut flat = Vec::with_capacity(list.len());
            for v in list {
                let t = v
                    .as_str()
                    .ok_or_else(|| format!("patrol {}: vertex time {v} is not a string", f.id))
                    .and_then(|s| parse_time(s).map_err(|e| format!("patrol {}: {e}", f.id)))?;
                flat.push(t.timestamp());
            }
            let n: usize = parts.iter().map(Vec::len).sum();
            if flat.len() != n {
                return Err(format!(
                    "patrol {}: {} vertex times for {n} vertices",
                    f.id,
                    flat.len()
                ));
            }
            let mut it = flat.into_iter();
            parts
                .iter()
                .map(|p| it.by_ref().take(p.len()).collect())
                .collect()
        }
        _ => spread_times(&parts, start, end),
    };
    Ok(Patrol {
        id: f.id.clone(),
        mode,
        kind: f.str("kind").unwrap_or("").to_string(),
        parts,
        times,
    })
}

/// Vertex times in proportion to distance along the track (see
/// [`load_presence`]); evenly by vertex when the track has no length.
fn spread_times(parts: &[Vec<[f64; 2]>], start: i64, end: Option<i64>) -> Vec<Vec<i64>> {
    let Some(end) = end.filter(|e| *e > start) else {
        return parts.iter().map(|p| vec![start; p.len()]).collect();
    };
    let cum: Vec<Vec<f64>> = {
        let mut total = 0.0;
        parts
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if i > 0 {
                            total += haversine_m(p[i - 1], *v);
                        }
                        total
                    })
                    .collect()
            })
            .collect()
    };
    let total = cum.iter().flatten().copied().fold(0.0, f64::max);
    let n: usize = parts.iter().map(Vec::len).sum();
    let span = (end - start) as f64;
    let mut k = 0usize;
    cum.iter()
        .map(|c| {
            c.iter()
                .map(|d| {
                    let frac = if total > 0.0 {
                        d / total
                    } else {
                        k as f64 / (n.max(2) - 1) as f64
                    };
                    k += 1;
                    start + (span * frac.clamp(0.0, 1.0)).round() as i64
                })
                .collect()
        })
        .collect()
}

fn base_from_feature(f: &Feature) -> Result<Base, String> {
    let base_type = f.str("base_type").unwrap_or("").to_string();
    let reach_km = f
        .properties
        .get("reach_km")
        .and_then(Value::as_f64)
        .or_else(|| default_reach_km(&base_type))
        .ok_or_else(|| format!("base {}: no reach_km and unknown base type", f.id))?;
    Ok(Base {
        id: f.id.clone(),
        name: f.str("name").unwrap_or("").to_string(),
        base_type,
        geometry: f.geometry.clone(),
        reach_m: reach_km * 1000.0,
        start: f.time.start.timestamp(),
        end: f.time.end.map(|e| e.timestamp()),
    })
}

/// The presence of one grid cell in the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellCoverage {
    /// Km of track inside the cell in the window, per mode ([`MODES`] order).
    pub km: [f64; 4],
    /// Hours patrols of each mode spent within their corridor of the cell
    /// centre in the window.
    pub hours: [f64; 4],
    /// Patrols that came within their corridor of the cell centre in the window.
    pub visits: u32,
    /// Sum over those patrols of `0.5^((to - t_last) / half_life)`.
    pub patrol_score: f64,
    /// The last time (Unix seconds) a patrol was within its corridor.
    pub last_patrol: Option<i64>,
    /// The nearest base open at `to` whose reach covers the cell centre:
    /// (index in [`Presence::bases`], distance in metres; 0 inside a polygon).
    pub base: Option<(usize, f64)>,
    /// Incident and sighting reports in the window informing on the cell.
    pub reports: u32,
    /// Sum of their recency weights.
    pub info_score: f64,
    /// Time of the latest of them.
    pub last_report: Option<i64>,
    /// 1 within an active base's reach, else `min(1, patrol_score)`.
    pub presence: f64,
}

impl CellCoverage {
    fn has_anything(&self) -> bool {
        self.presence > 0.0
            || self.visits > 0
            || self.reports > 0
            || self.km.iter().any(|k| *k > 0.0)
    }
}

/// What a cell's base was, for output without the [`Presence`].
#[derive(Debug, Clone, PartialEq)]
pub struct BaseLabel {
    /// Feature id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Base type.
    pub base_type: String,
}

/// The presence surface.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// One entry per grid cell, in grid order.
    pub cells: Vec<CellCoverage>,
    /// Patrols that came within their corridor of some cell centre in the window.
    pub patrols_used: usize,
    /// Bases open at `to`.
    pub bases_active: usize,
    /// Reports in the window inside the grid's cells.
    pub reports_used: usize,
    /// Reports in the window outside the grid's cells (not counted).
    pub reports_outside: usize,
    /// Id, name and type of every base, indexed like [`Presence::bases`].
    pub bases: Vec<BaseLabel>,
    /// The parameters.
    pub params: CoverageParams,
}

/// Computes the presence surface on `grid` from `presence` and the report
/// events `reports` (incidents and sightings: lon, lat, time; their weights
/// are not used). See the module documentation for the method.
pub fn coverage(
    grid: &Grid,
    presence: &Presence,
    reports: &Events,
    params: &CoverageParams,
) -> Result<Coverage, AnalysisError> {
    params.validate()?;
    for p in &presence.patrols {
        check_patrol(p)?;
    }
    for b in &presence.bases {
        if !(b.reach_m.is_finite() && b.reach_m >= 0.0) {
            return Err(AnalysisError::param(
                "bases",
                format!("base {}: reach {} m must be a number >= 0", b.id, b.reach_m),
            ));
        }
    }
    if reports.lat.len() != reports.lon.len() || reports.time.len() != reports.lon.len() {
        return Err(AnalysisError::param(
            "reports",
            "longitudes, latitudes and times differ in number",
        ));
    }
    let n = grid.len();
    crate::cancel::check()?;
    let (patrols_used, sums) = patrol_sums(grid, &presence.patrols, params);
    crate::cancel::check()?;
    let base = nearest_bases(grid, &presence.bases, params.to);
    crate::cancel::check()?;
    let info = report_sums(grid, reports, params);
    crate::cancel::check()?;
    let bases_active = presence
        .bases
        .iter()
        .filter(|b| b.is_active(params.to))
        .count();
    let cells = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut km = [0.0; 4];
            let mut hours = [0.0; 4];
            for m in 0..4 {
                km[m] = sums[i].metres[m] as f64 / (PER_METRE * 1000.0);
                hours[m] = sums[i].secs[m] as f64 / (PER_SECOND * 3600.0);
            }
            let patrol_score = sums[i].score as f64 / PER_WEIGHT;
            let last = sums[i].last;
            let (reports, weight, last_report) = info.cells[i];
            let base = base[i];
            CellCoverage {
                km,
                hours,
                visits: sums[i].visits,
                patrol_score,
                last_patrol: (last != i64::MIN).then_some(last),
                base,
                reports,
                info_score: weight as f64 / PER_WEIGHT,
                last_report,
                presence: if base.is_some() {
                    1.0
                } else {
                    patrol_score.min(1.0)
                },
            }
        })
        .collect();
    Ok(Coverage {
        cells,
        patrols_used,
        bases_active,
        reports_used: info.used,
        reports_outside: info.outside,
        bases: presence
            .bases
            .iter()
            .map(|b| BaseLabel {
                id: b.id.clone(),
                name: b.name.clone(),
                base_type: b.base_type.clone(),
            })
            .collect(),
        params: params.clone(),
    })
}

fn check_patrol(p: &Patrol) -> Result<(), AnalysisError> {
    let bad = |why: String| AnalysisError::param("patrols", format!("patrol {}: {why}", p.id));
    if p.mode >= MODES.len() {
        return Err(bad(format!(
            "mode index {} is not one of {}",
            p.mode,
            MODES.join(", ")
        )));
    }
    if p.parts.len() != p.times.len() {
        return Err(bad(format!(
            "{} lines but {} lists of vertex times",
            p.parts.len(),
            p.times.len()
        )));
    }
    for (part, times) in p.parts.iter().zip(&p.times) {
        if part.len() != times.len() {
            return Err(bad(format!(
                "{} vertex times for {} vertices",
                times.len(),
                part.len()
            )));
        }
        if times.windows(2).any(|w| w[1] < w[0]) {
            return Err(bad("vertex times go backwards".into()));
        }
        if part.iter().flatten().any(|v| !v.is_finite()) {
            return Err(bad("a vertex is not a finite position".into()));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- patrols

/// One cell's fixed-point sums over patrols.
#[derive(Debug, Clone, Copy)]
struct CellSums {
    visits: u32,
    last: i64,
    score: u64,
    secs: [u64; 4],
    metres: [u64; 4],
}

impl Default for CellSums {
    fn default() -> Self {
        CellSums {
            visits: 0,
            last: i64::MIN,
            score: 0,
            secs: [0; 4],
            metres: [0; 4],
        }
    }
}

impl CellSums {
    fn merge(&mut self, o: &CellSums) {
        self.visits += o.visits;
        self.last = self.last.max(o.last);
        self.score += o.score;
        for m in 0..4 {
            self.secs[m] += o.secs[m];
            self.metres[m] += o.metres[m];
        }
    }
}

/// The most per-cell accumulators patrols are summed into at once.
const MAX_ACCUMULATORS: usize = 8;

/// A few whole-grid accumulators that workers add finished patrols to, each
/// taking whichever is free (preferably its own). The sums are integers, so
/// which patrol went into which accumulator, and in what order, does not
/// matter: the totals are always the same.
struct SumPool {
    cells: usize,
    accs: Vec<Mutex<Vec<CellSums>>>,
}

impl SumPool {
    fn new(cells: usize) -> SumPool {
        let k = rayon::current_num_threads().clamp(1, MAX_ACCUMULATORS);
        SumPool {
            cells,
            accs: (0..k).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Runs `f` on a free accumulator (allocated on first use).
    fn with<R>(&self, f: impl FnOnce(&mut [CellSums]) -> R) -> R {
        let k = self.accs.len();
        let start = rayon::current_thread_index().unwrap_or(0) % k;
        let mut guard = None;
        for i in 0..k {
            match self.accs[(start + i) % k].try_lock() {
                Ok(g) => guard = Some(g),
                Err(TryLockError::Poisoned(p)) => guard = Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => continue,
            }
            break;
        }
        let mut g = guard.unwrap_or_else(|| {
            self.accs[start]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        });
        if g.is_empty() {
            *g = vec![CellSums::default(); self.cells];
        }
        f(&mut g)
    }

    /// The totals per cell.
    fn total(self) -> Vec<CellSums> {
        let mut used: Vec<Vec<CellSums>> = self
            .accs
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
            .filter(|a| !a.is_empty())
            .collect();
        match used.len() {
            0 => vec![CellSums::default(); self.cells],
            1 => used.pop().unwrap_or_default(),
            _ => (0..self.cells)
                .into_par_iter()
                .map(|i| {
                    let mut t = used[0][i];
                    for a in &used[1..] {
                        t.merge(&a[i]);
                    }
                    t
                })
                .collect(),
        }
    }
}

/// Tree leaves hold up to this many consecutive pieces, tested one by one.
const CHUNK: usize = 8;

/// A straight piece of track in projected metres, with the times (seconds
/// after `from`) at its ends.
#[derive(Debug, Clone, Copy)]
struct Seg {
    a: [f64; 2],
    b: [f64; 2],
    ta: f64,
    tb: f64,
}

/// A node of the bounding-circle tree over the pieces of one line: a circle
/// holding consecutive pieces (from piece `lo`), travelled from `ta` to `tb`.
#[derive(Debug, Clone, Copy)]
struct Node {
    c: [f64; 2],
    rad: f64,
    ta: f64,
    tb: f64,
    lo: u32,
    hi: u32,
    /// Children, or `u32::MAX` for a leaf (one piece).
    left: u32,
    right: u32,
}

/// One patrol prepared for the corridor search.
#[derive(Default)]
struct Track {
    segs: Vec<Seg>,
    nodes: Vec<Node>,
    /// Root node of each run of consecutive pieces.
    runs: Vec<u32>,
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
    (dx * dx + dy * dy).sqrt()
}

/// Bounding box of points.
#[derive(Debug, Clone, Copy)]
struct Bbox {
    lo: [f64; 2],
    hi: [f64; 2],
}

impl Bbox {
    fn of(s: &Seg) -> Bbox {
        let mut b = Bbox { lo: s.a, hi: s.a };
        b.add(s.b);
        b
    }

    fn add(&mut self, p: [f64; 2]) {
        self.lo = [self.lo[0].min(p[0]), self.lo[1].min(p[1])];
        self.hi = [self.hi[0].max(p[0]), self.hi[1].max(p[1])];
    }

    fn half_diagonal(&self) -> f64 {
        dist(self.lo, self.hi) / 2.0
    }
}

impl Track {
    /// Projects `p`, splits its lines into pieces of at most `max_piece`
    /// metres (times relative to `from`), groups consecutive pieces into runs
    /// whose vertices fit in a box of half-diagonal at most `max_piece / 2`,
    /// and builds a bounding-circle tree over each run.
    fn build(&mut self, grid: &Grid, p: &Patrol, from: i64, max_piece: f64) {
        self.segs.clear();
        self.nodes.clear();
        self.runs.clear();
        for (part, times) in p.parts.iter().zip(&p.times) {
            if part.is_empty() {
                continue;
            }
            let lo = self.segs.len();
            let xy: Vec<[f64; 2]> = part.iter().map(|v| grid.project(v[0], v[1])).collect();
            let t: Vec<f64> = times.iter().map(|t| (t - from) as f64).collect();
            if xy.len() == 1 {
                self.segs.push(Seg {
                    a: xy[0],
                    b: xy[0],
                    ta: t[0],
                    tb: t[0],
                });
            }
            for k in 1..xy.len() {
                let (a, b, ta, tb) = (xy[k - 1], xy[k], t[k - 1], t[k]);
                let len = dist(a, b);
                let pieces = (len / max_piece).ceil().clamp(1.0, 1e7) as usize;
                let at = |j: usize| -> ([f64; 2], f64) {
                    if j == pieces {
                        return (b, tb);
                    }
                    let s = j as f64 / pieces as f64;
                    (
                        [a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s],
                        ta + (tb - ta) * s,
                    )
                };
                let mut prev = (a, ta);
                for j in 1..=pieces {
                    let next = at(j);
                    self.segs.push(Seg {
                        a: prev.0,
                        b: next.0,
                        ta: prev.1,
                        tb: next.1,
                    });
                    prev = next;
                }
            }
            let hi = self.segs.len();
            // Greedy runs.
            let half = max_piece / 2.0;
            let mut start = lo;
            let mut bb = Bbox::of(&self.segs[lo]);
            for k in lo + 1..hi {
                let mut grown = bb;
                grown.add(self.segs[k].b);
                if grown.half_diagonal() > half {
                    let root = self.node(start, k);
                    self.runs.push(root);
                    start = k;
                    bb = Bbox::of(&self.segs[k]);
                } else {
                    bb = grown;
                }
            }
            let root = self.node(start, hi);
            self.runs.push(root);
        }
    }

    /// The tree over pieces `lo..hi`: each node's circle is centred on the
    /// bounding box of its vertices and reaches the farthest one.
    fn node(&mut self, lo: usize, hi: usize) -> u32 {
        let segs = &self.segs[lo..hi];
        let mut bb = Bbox::of(&segs[0]);
        for s in segs {
            bb.add(s.b);
        }
        let c = [(bb.lo[0] + bb.hi[0]) / 2.0, (bb.lo[1] + bb.hi[1]) / 2.0];
        let d2 = |p: [f64; 2]| (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2);
        let far2 = segs
            .iter()
            .map(|s| d2(s.a).max(d2(s.b)))
            .fold(0.0, f64::max);
        // A hair of slack against rounding: the circle must hold the pieces.
        let rad = far2.sqrt() * (1.0 + 1e-12) + 1e-9;
        let (left, right) = if hi - lo <= CHUNK {
            (u32::MAX, u32::MAX)
        } else {
            let mid = (lo + hi) / 2;
            (self.node(lo, mid), self.node(mid, hi))
        };
        self.nodes.push(Node {
            c,
            rad,
            ta: self.segs[lo].ta,
            tb: self.segs[hi - 1].tb,
            lo: lo as u32,
            hi: hi as u32,
            left,
            right,
        });
        (self.nodes.len() - 1) as u32
    }

    /// Calls `out(ta, tb)` for the time intervals during which the track
    /// under `n` is within `r` of `p` (disjoint, in travel order), skipping
    /// subtrees travelled wholly outside the window `[0, w1]`.
    fn within(&self, n: u32, p: [f64; 2], r: f64, w1: f64, out: &mut impl FnMut(f64, f64)) {
        let node = &self.nodes[n as usize];
        if node.tb < 0.0 || node.ta > w1 {
            return; // wholly outside the window [0, w1]
        }
        let (dx, dy) = (p[0] - node.c[0], p[1] - node.c[1]);
        let d2 = dx * dx + dy * dy;
        let far = r + node.rad;
        if d2 > far * far {
            return;
        }
        let near = r - node.rad;
        if near >= 0.0 && d2 <= near * near {
            out(node.ta, node.tb);
            return;
        }
        if node.left != u32::MAX {
            self.within(node.left, p, r, w1, out);
            self.within(node.right, p, r, w1, out);
            return;
        }
        // A chunk of pieces, one by one. A piece whose ends are both within
        // r lies within r (the disk is convex); otherwise solve for the part
        // of it within r.
        let r2 = r * r;
        let inside = |v: [f64; 2]| {
            let (dx, dy) = (v[0] - p[0], v[1] - p[1]);
            dx * dx + dy * dy <= r2
        };
        let segs = &self.segs[node.lo as usize..node.hi as usize];
        let mut a_in = inside(segs[0].a);
        for s in segs {
            let b_in = inside(s.b);
            if a_in && b_in {
                out(s.ta, s.tb);
            } else if let Some((s0, s1)) = chord(s, p, r2, a_in, b_in) {
                let dt = s.tb - s.ta;
                out(s.ta + dt * s0, s.ta + dt * s1);
            }
            a_in = b_in;
        }
    }
}

/// The parameter interval `[s0, s1]` of `s` where `|a + s (b - a) - p|^2 <=
/// r2`, if any, knowing whether each end is within r (`a_in`, `b_in`, not
/// both: a piece with both ends within r lies within r, the disk being
/// convex). Only the roots that can matter are computed.
#[inline]
fn chord(s: &Seg, p: [f64; 2], r2: f64, a_in: bool, b_in: bool) -> Option<(f64, f64)> {
    let d = [s.b[0] - s.a[0], s.b[1] - s.a[1]];
    let f = [s.a[0] - p[0], s.a[1] - p[1]];
    let qa = d[0] * d[0] + d[1] * d[1];
    let qb = f[0] * d[0] + f[1] * d[1];
    if !a_in && !b_in && (qb >= 0.0 || -qb >= qa) {
        // Both ends beyond r and the nearest point of the line is not
        // between them: the nearest point of the piece is an end.
        return None;
    }
    if qa == 0.0 {
        return None; // no length, and its point is beyond r
    }
    let qc = f[0] * f[0] + f[1] * f[1] - r2;
    let disc = qb * qb - qa * qc;
    if disc < 0.0 && !(a_in || b_in) {
        return None;
    }
    let sq = disc.max(0.0).sqrt();
    let s0 = if a_in {
        0.0
    } else {
        ((-qb - sq) / qa).max(0.0)
    };
    let s1 = if b_in {
        1.0
    } else {
        ((-qb + sq) / qa).min(1.0)
    };
    (s0 <= s1).then_some((s0, s1))
}

/// What one patrol did in one cell (scratch, before adding to the sums).
#[derive(Debug, Clone, Copy)]
struct Acc {
    cell: u32,
    secs: f64,
    last: f64,
    visited: bool,
    metres: f64,
}

/// Per-worker scratch: the cells one patrol touched.
struct Scratch {
    slot: Vec<u32>,
    acc: Vec<Acc>,
    cuts: Vec<f64>,
    track: Track,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            slot: vec![u32::MAX; n],
            acc: Vec::new(),
            cuts: Vec::new(),
            track: Track::default(),
        }
    }

    fn get(slot: &mut [u32], acc: &mut Vec<Acc>, cell: usize) -> usize {
        let k = slot[cell];
        if k != u32::MAX {
            return k as usize;
        }
        slot[cell] = acc.len() as u32;
        acc.push(Acc {
            cell: cell as u32,
            secs: 0.0,
            last: f64::NEG_INFINITY,
            visited: false,
            metres: 0.0,
        });
        acc.len() - 1
    }
}

/// Square lattice recovered from the cell centres, to cut tracks exactly at
/// cell edges.
struct Lattice {
    x0: f64,
    y0: f64,
    cell_m: f64,
    ncols: usize,
    nrows: usize,
    index: Vec<u32>,
}

impl Lattice {
    fn new(grid: &Grid, cell_m: f64) -> Option<Lattice> {
        let (mut x0, mut y0) = (f64::INFINITY, f64::INFINITY);
        for c in &grid.cells {
            x0 = x0.min(c.xy[0]);
            y0 = y0.min(c.xy[1]);
        }
        if !(x0.is_finite() && y0.is_finite()) {
            return None;
        }
        let (x0, y0) = (x0 - cell_m / 2.0, y0 - cell_m / 2.0);
        let rc: Vec<(usize, usize)> = grid
            .cells
            .iter()
            .map(|c| {
                (
                    ((c.xy[1] - y0) / cell_m).floor() as usize,
                    ((c.xy[0] - x0) / cell_m).floor() as usize,
                )
            })
            .collect();
        let nrows = rc.iter().map(|p| p.0).max()? + 1;
        let ncols = rc.iter().map(|p| p.1).max()? + 1;
        let mut index = vec![u32::MAX; nrows.checked_mul(ncols)?];
        for (i, (r, c)) in rc.into_iter().enumerate() {
            index[r * ncols + c] = i as u32;
        }
        Some(Lattice {
            x0,
            y0,
            cell_m,
            ncols,
            nrows,
            index,
        })
    }

    fn locate(&self, p: [f64; 2]) -> Option<usize> {
        let fx = (p[0] - self.x0) / self.cell_m;
        let fy = (p[1] - self.y0) / self.cell_m;
        if !(fx >= 0.0 && fy >= 0.0) {
            return None;
        }
        let (c, r) = (fx as usize, fy as usize);
        if c >= self.ncols || r >= self.nrows {
            return None;
        }
        match self.index[r * self.ncols + c] {
            u32::MAX => None,
            i => Some(i as usize),
        }
    }
}

/// How track length is shared among cells.
enum Cutter {
    /// Exactly, at the lines of a square lattice.
    Square(Lattice),
    /// In pieces of at most this many metres, by midpoint.
    Pieces(f64),
}

impl Cutter {
    fn new(grid: &Grid) -> Cutter {
        if let GridKind::Square { cell_m } = grid.kind {
            if let Some(l) = Lattice::new(grid, cell_m) {
                return Cutter::Square(l);
            }
        }
        Cutter::Pieces(piece_m(grid))
    }
}

/// Longest piece for the midpoint rule: min(cell size / 20, 50 m).
fn piece_m(grid: &Grid) -> f64 {
    let size = if grid.is_empty() {
        1000.0
    } else {
        grid.cell_area_m2(0).sqrt()
    };
    (size / 20.0).min(50.0)
}

/// Adds the length of `s` between parameters `s0 < s1` to the cells it
/// crosses.
fn cut(
    grid: &Grid,
    cutter: &Cutter,
    s: &Seg,
    s0: f64,
    s1: f64,
    cuts: &mut Vec<f64>,
    add: &mut impl FnMut(usize, f64),
) {
    let d = [s.b[0] - s.a[0], s.b[1] - s.a[1]];
    let len = d[0].hypot(d[1]);
    if len == 0.0 {
        return;
    }
    let at = |u: f64| [s.a[0] + d[0] * u, s.a[1] + d[1] * u];
    match cutter {
        Cutter::Square(l) => {
            cuts.clear();
            cuts.push(s0);
            cuts.push(s1);
            for (axis, (&da, o)) in d.iter().zip([l.x0, l.y0]).enumerate() {
                if da == 0.0 {
                    continue;
                }
                let (p0, p1) = (at(s0)[axis], at(s1)[axis]);
                let (lo, hi) = (p0.min(p1), p0.max(p1));
                let k0 = ((lo - o) / l.cell_m).ceil() as i64;
                let k1 = ((hi - o) / l.cell_m).floor() as i64;
                for k in k0..=k1 {
                    let u = (o + k as f64 * l.cell_m - s.a[axis]) / da;
                    if u > s0 && u < s1 {
                        cuts.push(u);
                    }
                }
            }
            cuts.sort_unstable_by(f64::total_cmp);
            for w in cuts.windows(2) {
                if w[1] > w[0] {
                    if let Some(c) = l.locate(at((w[0] + w[1]) / 2.0)) {
                        add(c, (w[1] - w[0]) * len);
                    }
                }
            }
        }
        Cutter::Pieces(step) => {
            let n = ((s1 - s0) * len / step).ceil().clamp(1.0, 1e9) as usize;
            let du = (s1 - s0) / n as f64;
            for j in 0..n {
                let u0 = s0 + du * j as f64;
                let u1 = if j + 1 == n { s1 } else { u0 + du };
                let [x, y] = at((u0 + u1) / 2.0);
                let [lon, lat] = grid.projection().inverse(x, y);
                if let Some(c) = grid.locate(lon, lat) {
                    add(c, (u1 - u0) * len);
                }
            }
        }
    }
}

/// Query radius a little over `r`, so a cell exactly at `r` is never lost
/// to rounding in the grid's search (each candidate is tested again here).
fn search_radius(r: f64) -> f64 {
    r * (1.0 + 1e-9) + 1e-6
}

/// Everything one patrol adds to the sums; returns whether it visited a cell.
fn one_patrol(
    grid: &Grid,
    cutter: &Cutter,
    p: &Patrol,
    params: &CoverageParams,
    pool: &SumPool,
    sc: &mut Scratch,
) -> bool {
    let r = params.corridor_m[p.mode];
    let w1 = (params.to - params.from) as f64;
    sc.track.build(grid, p, params.from, r);
    let Scratch {
        slot,
        acc,
        cuts,
        track,
    } = sc;
    for &run in &track.runs {
        let node = &track.nodes[run as usize];
        if node.tb < 0.0 || node.ta > w1 {
            continue; // wholly outside the window
        }
        grid.for_each_cell_within(node.c, search_radius(r + node.rad), |cell| {
            let xy = grid.cells[cell].xy;
            let (mut secs, mut last, mut hit) = (0.0, f64::NEG_INFINITY, false);
            track.within(run, xy, r, w1, &mut |ta, tb| {
                if tb < 0.0 || ta > w1 {
                    return;
                }
                let (lo, hi) = (ta.max(0.0), tb.min(w1));
                secs += hi - lo;
                last = last.max(hi);
                hit = true;
            });
            if hit {
                let k = Scratch::get(slot, acc, cell);
                let a = &mut acc[k];
                a.secs += secs;
                a.visited = true;
                a.last = a.last.max(last);
            }
        });
    }
    for s in &track.segs {
        // The part of the piece travelled within the window.
        let (s0, s1) = if s.tb > s.ta {
            (
                ((0.0 - s.ta) / (s.tb - s.ta)).clamp(0.0, 1.0),
                ((w1 - s.ta) / (s.tb - s.ta)).clamp(0.0, 1.0),
            )
        } else if s.ta >= 0.0 && s.ta <= w1 {
            (0.0, 1.0)
        } else {
            continue;
        };
        if s1 > s0 {
            cut(grid, cutter, s, s0, s1, cuts, &mut |cell, m| {
                let k = Scratch::get(slot, acc, cell);
                acc[k].metres += m;
            });
        }
    }
    let mode = p.mode;
    for a in acc.iter() {
        slot[a.cell as usize] = u32::MAX;
    }
    let visited = acc.iter().any(|a| a.visited);
    if !acc.is_empty() {
        pool.with(|sums| {
            for a in acc.iter() {
                let sums = &mut sums[a.cell as usize];
                sums.metres[mode] += (a.metres * PER_METRE).round() as u64;
                if a.visited {
                    sums.visits += 1;
                    sums.secs[mode] += (a.secs * PER_SECOND).round() as u64;
                    let w = params.recency(w1 - a.last);
                    sums.score += (w * PER_WEIGHT).round() as u64;
                    let last = params.from + a.last.round() as i64;
                    sums.last = sums.last.max(last);
                }
            }
        });
    }
    acc.clear();
    visited
}

/// Interleaves the low 16 bits of `x` and `y`.
fn z_order(x: u64, y: u64) -> u64 {
    let spread = |mut v: u64| {
        v &= 0xffff;
        v = (v | (v << 8)) & 0x00ff_00ff;
        v = (v | (v << 4)) & 0x0f0f_0f0f;
        v = (v | (v << 2)) & 0x3333_3333;
        (v | (v << 1)) & 0x5555_5555
    };
    spread(x) | (spread(y) << 1)
}

fn patrol_sums(grid: &Grid, patrols: &[Patrol], params: &CoverageParams) -> (usize, Vec<CellSums>) {
    let pool = SumPool::new(grid.len());
    let cutter = Cutter::new(grid);
    // Patrols near each other one after the other (Z-order of their first
    // point), so that the cells they touch are still in the cache. The order
    // does not change the integer sums.
    let mut order: Vec<(u64, usize)> = patrols
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let first = p.parts.iter().flatten().next();
            let key = first.map_or(u64::MAX, |v| {
                let [x, y] = grid.project(v[0], v[1]);
                let q = |c: f64| ((c / 4_096.0 + 32_768.0).clamp(0.0, 65_535.0)) as u64;
                z_order(q(x), q(y))
            });
            (key, i)
        })
        .collect();
    order.par_sort_unstable();
    // Workers skip the remaining patrols once the request is given up; the
    // caller then returns `Cancelled` (crate::cancel).
    let stop = crate::cancel::current();
    let used = order
        .par_iter()
        .with_min_len(64)
        .map_init(
            || Scratch::new(grid.len()),
            |sc, &(_, i)| {
                if stop.stopped() {
                    return 0;
                }
                usize::from(one_patrol(grid, &cutter, &patrols[i], params, &pool, sc))
            },
        )
        .sum();
    (used, pool.total())
}

// ------------------------------------------------------------------ bases

/// Nearest active base per cell: (index, distance m).
fn nearest_bases(grid: &Grid, bases: &[Base], to: i64) -> Vec<Option<(usize, f64)>> {
    let hits: Vec<Vec<(u32, f64)>> = bases
        .par_iter()
        .map(|b| {
            let mut out = Vec::new();
            if !b.is_active(to) {
                return out;
            }
            let g = b.geometry.map_coords(|c| {
                let [x, y] = grid.project(c.x, c.y);
                geo_types::coord! { x: x, y: y }
            });
            let (anchor, bound) = match &g {
                geo_types::Geometry::Point(p) => ([p.x(), p.y()], 0.0),
                other => match other.bounding_rect() {
                    Some(r) => {
                        let (lo, hi) = (r.min(), r.max());
                        let c = [(lo.x + hi.x) / 2.0, (lo.y + hi.y) / 2.0];
                        (c, dist(c, [hi.x, hi.y]))
                    }
                    None => return out,
                },
            };
            if !(anchor[0].is_finite() && anchor[1].is_finite()) {
                return out;
            }
            grid.for_each_cell_within(anchor, search_radius(b.reach_m + bound), |cell| {
                let xy = grid.cells[cell].xy;
                let d = match &g {
                    geo_types::Geometry::Point(_) => dist(xy, anchor),
                    other => Euclidean.distance(&geo_types::Point::new(xy[0], xy[1]), other),
                };
                if d <= b.reach_m {
                    out.push((cell as u32, d));
                }
            });
            out
        })
        .collect();
    let mut best: Vec<Option<(usize, f64)>> = vec![None; grid.len()];
    for (bi, list) in hits.iter().enumerate() {
        for &(cell, d) in list {
            let slot = &mut best[cell as usize];
            let better = match *slot {
                None => true,
                Some((bj, dj)) => d
                    .total_cmp(&dj)
                    .then_with(|| bases[bi].id.cmp(&bases[bj].id))
                    .then(bi.cmp(&bj))
                    .is_lt(),
            };
            if better {
                *slot = Some((bi, d));
            }
        }
    }
    best
}

// ---------------------------------------------------------------- reports

struct ReportSums {
    /// Per cell: reports informing on it, fixed-point weight, latest time.
    cells: Vec<(u32, u64, Option<i64>)>,
    used: usize,
    outside: usize,
}

fn report_sums(grid: &Grid, reports: &Events, params: &CoverageParams) -> ReportSums {
    let n = grid.len();
    let (from, to) = (params.from, params.to);
    let located: Vec<Option<u32>> = (0..reports.len())
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            let t = reports.time[i];
            if t < from || t > to {
                return None;
            }
            Some(
                grid.locate(reports.lon[i], reports.lat[i])
                    .map_or(u32::MAX, |c| c as u32),
            )
        })
        .collect();
    // Binning: integer sums and maxima, so the order of reports is immaterial.
    let mut count = vec![0u32; n];
    let mut weight = vec![0u64; n];
    let mut latest = vec![i64::MIN; n];
    let (mut used, mut outside) = (0, 0);
    for (i, c) in located.iter().enumerate() {
        match *c {
            None => {}
            Some(u32::MAX) => outside += 1,
            Some(c) => {
                let c = c as usize;
                used += 1;
                count[c] += 1;
                let t = reports.time[i];
                weight[c] += (params.recency((to - t) as f64) * PER_WEIGHT).round() as u64;
                latest[c] = latest[c].max(t);
            }
        }
    }
    let r = params.info_radius_m;
    let cells = (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| {
            let xy = grid.cells[i].xy;
            let (mut k, mut w, mut t) = (0u32, 0u64, i64::MIN);
            // The grid's test is exactly the closed disk of radius r.
            grid.for_each_cell_within(xy, r, |j| {
                if count[j] > 0 {
                    k += count[j];
                    w += weight[j];
                    t = t.max(latest[j]);
                }
            });
            (k, w, (t != i64::MIN).then_some(t))
        })
        .collect();
    ReportSums {
        cells,
        used,
        outside,
    }
}

// ----------------------------------------------------------------- output

impl Coverage {
    /// Cells as a GeoJSON FeatureCollection of polygons with their presence
    /// figures. Unless `all_cells`, only cells with some presence, track or
    /// reports are written. A `jointmap` member records the method and every
    /// parameter used. `grid` must be the grid the coverage was computed on.
    pub fn to_product(&self, grid: &Grid, all_cells: bool) -> Product {
        const KM: [&str; 4] = ["km_foot", "km_vehicle", "km_air", "km_boat"];
        const HOURS: [&str; 4] = ["hours_foot", "hours_vehicle", "hours_air", "hours_boat"];
        debug_assert!(MODES.iter().zip(KM).all(|(m, k)| k.ends_with(m)));
        let p = &self.params;
        let items: Vec<Item> = self
            .cells
            .iter()
            .zip(&grid.cells)
            .filter(|(c, _)| all_cells || c.has_anything())
            .map(|(c, cell)| {
                let mut props: Fields = vec![("cell", Field::Key(cell.key.clone()))];
                for (m, name) in KM.iter().enumerate() {
                    props.push((name, Field::Value(c.km[m])));
                }
                for (m, name) in HOURS.iter().enumerate() {
                    props.push((name, Field::Value(c.hours[m])));
                }
                props.push((
                    "visits",
                    Field::Count {
                        layer: Layer::Patrols,
                        n: u64::from(c.visits),
                    },
                ));
                props.push(("patrol_score", Field::Value(c.patrol_score)));
                props.push(("last_patrol", Field::time(c.last_patrol)));
                let base = c.base.and_then(|(i, d)| self.bases.get(i).map(|b| (b, d)));
                match base {
                    Some((b, d)) => {
                        let rel = |value| Field::relation(Layer::Bases, &b.id, value);
                        props.extend([
                            ("base_id", rel(Field::Key(b.id.clone()))),
                            ("base_name", rel(Field::Key(b.name.clone()))),
                            ("base_type", rel(Field::Key(b.base_type.clone()))),
                            ("base_distance_km", rel(Field::Value(d / 1000.0))),
                        ])
                    }
                    None => props.extend([
                        ("base_id", Field::no_relation(Layer::Bases)),
                        ("base_name", Field::no_relation(Layer::Bases)),
                        ("base_type", Field::no_relation(Layer::Bases)),
                        ("base_distance_km", Field::no_relation(Layer::Bases)),
                    ]),
                }
                // Reports mix incidents and sightings with no sensitive
                // count: counted as incidents, so the gate presumes them
                // sensitive (k_sensitive).
                props.push((
                    "reports",
                    Field::Count {
                        layer: Layer::Incidents,
                        n: u64::from(c.reports),
                    },
                ));
                props.push(("info_score", Field::Value(c.info_score)));
                props.push(("last_report", Field::time(c.last_report)));
                props.push(("presence", Field::Value(c.presence)));
                // Patrols and reports behind the cell (bases are not counted:
                // a cell covered only by a base's reach holds no individual
                // record); each is held to its own minimum above.
                props.push((
                    "count",
                    Field::Tally(u64::from(c.visits) + u64::from(c.reports)),
                ));
                Item {
                    id: Field::Key(cell.key.clone()),
                    geometry: Shape::Cell(cell.ring.clone()),
                    properties: props,
                }
            })
            .collect();
        let (grid_param, km_method, product_grid) = match grid.kind {
            GridKind::Square { cell_m } => (
                Param::Object(vec![
                    ("type", "square".into()),
                    ("cell_m", cell_m.into()),
                    ("projection", "Lambert azimuthal equal-area".into()),
                ]),
                "exact length per cell (tracks cut at cell edges)".to_string(),
                ProductGrid::Square(cell_m),
            ),
            GridKind::H3 { resolution } => (
                Param::Object(vec![
                    ("type", "h3".into()),
                    ("resolution", resolution.into()),
                ]),
                format!(
                    "tracks cut in pieces of at most {} m, each given to the cell of its midpoint",
                    piece_m(grid)
                ),
                ProductGrid::H3(resolution),
            ),
        };
        let corridor = Param::Object(
            MODES
                .iter()
                .zip(p.corridor_m)
                .map(|(m, w)| (*m, Param::Num(w)))
                .collect(),
        );
        let mut out = Product::new("coverage");
        out.grid = Some(product_grid);
        out.meta.extend([
            (
                "method",
                Field::param(
                    "patrol corridors (cells whose centre is within the mode's half-width of the \
                     track, segment/circle intersection in equal-area metres, vertex times \
                     interpolated and clipped to the window); bases open at `to` cover cells \
                     within their reach; reports binned to cells, then spread to cells whose \
                     centres lie within the information radius; recency weight \
                     0.5^(age / half_life); presence = 1 within a base's reach, else \
                     min(1, patrol_score)",
                ),
            ),
            ("from", Field::Param(time_param(p.from))),
            ("to", Field::Param(time_param(p.to))),
            ("as_of", Field::Param(time_param(p.to))),
            ("corridor_m", Field::Param(corridor)),
            ("half_life_days", Field::param(p.half_life_days)),
            ("info_radius_m", Field::param(p.info_radius_m)),
            ("km_per_cell", Field::param(km_method)),
            (
                "report_binning",
                Field::param(
                    "each report counts in the cell holding it; a cell is informed by \
                     the cells whose centres lie within info_radius_m of its centre",
                ),
            ),
            ("cells", Field::param(grid.len())),
            ("grid", Field::Param(grid_param)),
            (
                "patrols_used",
                Field::Count {
                    layer: Layer::Patrols,
                    n: self.patrols_used as u64,
                },
            ),
            (
                "bases_active",
                Field::Count {
                    layer: Layer::Bases,
                    n: self.bases_active as u64,
                },
            ),
            (
                "reports_used",
                Field::Count {
                    layer: Layer::Incidents,
                    n: self.reports_used as u64,
                },
            ),
            (
                "reports_outside",
                Field::Count {
                    layer: Layer::Incidents,
                    n: self.reports_outside as u64,
                },
            ),
        ]);
        out.items = items;
        out
    }
}

/// A Unix time as an RFC 3339 parameter.
pub(crate) fn time_param(t: i64) -> Param {
    chrono::DateTime::from_timestamp(t, 0).map_or(Param::Null, |d| {
        Param::Text(crate::model::time::format_time(&d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Area;
    use serde_json::json;

    /// 2025-01-01T00:00:00Z.
    const T0: i64 = 1_735_689_600;
    const H: i64 = 3600;
    const DAY: i64 = 86_400;

    /// A seeded xorshift generator.
    struct Rng(u64);
    impl Rng {
        fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn range(&mut self, a: f64, b: f64) -> f64 {
            a + (b - a) * self.uniform()
        }
    }

    fn square_grid() -> Grid {
        Grid::square(&Area::BBox([18.0, 4.0, 18.6, 4.5]), 1000.0).unwrap()
    }

    fn lonlat(g: &Grid, xy: [f64; 2]) -> [f64; 2] {
        g.projection().inverse(xy[0], xy[1])
    }

    fn cell_at(g: &Grid, xy: [f64; 2]) -> usize {
        let [lon, lat] = lonlat(g, xy);
        g.locate(lon, lat).unwrap()
    }

    /// Centre of the cell at the middle of the grid.
    fn middle(g: &Grid) -> [f64; 2] {
        g.cells[g.locate(18.3, 4.25).unwrap()].xy
    }

    fn off(p: [f64; 2], dx: f64, dy: f64) -> [f64; 2] {
        [p[0] + dx, p[1] + dy]
    }

    fn patrol(g: &Grid, id: &str, mode: usize, xy: &[[f64; 2]], times: &[i64]) -> Patrol {
        Patrol {
            id: id.into(),
            mode,
            kind: "routine".into(),
            parts: vec![xy.iter().map(|p| lonlat(g, *p)).collect()],
            times: vec![times.to_vec()],
        }
    }

    fn params(from: i64, to: i64) -> CoverageParams {
        CoverageParams {
            from,
            to,
            ..Default::default()
        }
    }

    fn patrols_only(patrols: Vec<Patrol>) -> Presence {
        Presence {
            patrols,
            bases: vec![],
        }
    }

    /// Distance from `p` to the segment `a`-`b`, by projection onto it.
    fn seg_dist(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
        let d = [b[0] - a[0], b[1] - a[1]];
        let l2 = d[0] * d[0] + d[1] * d[1];
        let t = if l2 == 0.0 {
            0.0
        } else {
            (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / l2).clamp(0.0, 1.0)
        };
        dist(p, [a[0] + t * d[0], a[1] + t * d[1]])
    }

    /// The track as the coverage sees it: lon/lat projected again.
    fn projected(g: &Grid, p: &Patrol) -> Vec<Vec<[f64; 2]>> {
        p.parts
            .iter()
            .map(|l| l.iter().map(|v| g.project(v[0], v[1])).collect())
            .collect()
    }

    fn track_dist(g: &Grid, p: &Patrol, xy: [f64; 2]) -> f64 {
        projected(g, p)
            .iter()
            .flat_map(|l| {
                if l.len() == 1 {
                    vec![dist(xy, l[0])]
                } else {
                    l.windows(2).map(|w| seg_dist(xy, w[0], w[1])).collect()
                }
            })
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn foot_corridor_is_exactly_the_cells_within_2_km() {
        let g = square_grid();
        let m = middle(&g);
        // East-west, 1 m north of the middle row's centres: rows at 1, 999,
        // 1001, 1999 and 2001 m from the line.
        let (a, b) = (off(m, -15_300.0, 1.0), off(m, 14_700.0, 1.0));
        for (mode, r) in [(0, 2_000.0), (1, 5_000.0)] {
            let p = patrol(&g, "p", mode, &[a, b], &[T0, T0 + 3 * H]);
            let cov = coverage(
                &g,
                &patrols_only(vec![p.clone()]),
                &Events::default(),
                &params(T0 - H, T0 + 4 * H),
            )
            .unwrap();
            let mut covered = 0;
            for (i, c) in g.cells.iter().enumerate() {
                let inside = track_dist(&g, &p, c.xy) <= r;
                assert_eq!(cov.cells[i].visits, u32::from(inside), "cell {}", c.key);
                assert_eq!(cov.cells[i].last_patrol.is_some(), inside);
                covered += usize::from(inside);
            }
            assert_eq!(cov.patrols_used, 1);
            let at = |dx: f64, dy: f64| &cov.cells[cell_at(&g, off(m, dx, dy))];
            let k = r / 1000.0;
            // Just inside (r - 1 m) to the north, just outside (r + 1 m) to the south.
            assert_eq!(at(0.0, 1000.0 * k).visits, 1);
            assert_eq!(at(0.0, -1000.0 * k).visits, 0);
            assert_eq!(at(0.0, -1000.0 * (k - 1.0)).visits, 1);
            assert_eq!(at(0.0, 1000.0 * (k + 1.0)).visits, 0);
            // Round caps at the ends: 1.7 km west of the start in, 2.7 km out.
            if mode == 0 {
                assert_eq!(at(-17_000.0, 0.0).visits, 1);
                assert_eq!(at(-18_000.0, 0.0).visits, 0);
                assert_eq!(at(17_000.0, 0.0).visits, 0);
                assert!(at(16_000.0, 0.0).hours[0] > 0.0);
                assert!(at(0.0, 0.0).hours[1..].iter().all(|h| *h == 0.0));
            }
            // About 30 km x 2r plus the caps.
            let expect = 30.0 * 2.0 * k + std::f64::consts::PI * k * k;
            assert!(
                (covered as f64 - expect).abs() < 0.1 * expect,
                "{covered} {expect}"
            );
        }
    }

    #[test]
    fn corridor_matches_brute_force_on_square_and_h3_grids() {
        let area = Area::BBox([18.0, 4.0, 18.6, 4.5]);
        for g in [
            Grid::square(&area, 1000.0).unwrap(),
            Grid::h3(&area, 8).unwrap(),
        ] {
            let m = middle(&g);
            let mut rng = Rng::new(7);
            let mut patrols = Vec::new();
            for k in 0..12 {
                let mut xy = vec![off(m, rng.range(-15e3, 15e3), rng.range(-12e3, 12e3))];
                // Some dense (GPS-like) tracks, some sparse ones.
                let step = if k % 2 == 0 { 150.0 } else { 4_000.0 };
                for _ in 0..rng.range(1.0, 40.0) as usize {
                    let last = xy[xy.len() - 1];
                    let h = rng.range(0.0, std::f64::consts::TAU);
                    xy.push(off(last, step * h.cos(), step * h.sin()));
                }
                let times: Vec<i64> = (0..xy.len() as i64).map(|i| T0 + 60 * i).collect();
                patrols.push(patrol(&g, &format!("p{k}"), k % 4, &xy, &times));
            }
            let par = params(T0, T0 + DAY);
            let cov =
                coverage(&g, &patrols_only(patrols.clone()), &Events::default(), &par).unwrap();
            for (i, c) in g.cells.iter().enumerate() {
                let want = patrols
                    .iter()
                    .filter(|p| track_dist(&g, p, c.xy) <= par.corridor_m[p.mode])
                    .count();
                assert_eq!(cov.cells[i].visits as usize, want, "{:?} {}", g.kind, c.key);
            }
        }
    }

    #[test]
    fn hours_equal_the_chord_time_at_constant_speed() {
        let g = square_grid();
        let m = middle(&g);
        // 30 km at 2.5 m/s in 12 000 s, through four collinear vertices.
        let a = off(m, -15_300.0, 1.0);
        let xs = [0.0, 10_300.0, 19_300.0, 30_000.0];
        let xy: Vec<[f64; 2]> = xs.iter().map(|x| off(a, *x, 0.0)).collect();
        let times: Vec<i64> = xs.iter().map(|x| T0 + (x / 2.5) as i64).collect();
        let p = patrol(&g, "p", 0, &xy, &times);
        let cov = coverage(
            &g,
            &patrols_only(vec![p]),
            &Events::default(),
            &params(T0, T0 + DAY),
        )
        .unwrap();
        let r: f64 = 2_000.0;
        let chord = |h: f64| 2.0 * (r * r - h * h).sqrt();
        // (cell offset from the middle, length of track within r of its centre)
        let cases = [
            (0.0, 0.0, chord(1.0)),
            (0.0, 1_000.0, chord(999.0)),
            (0.0, -1_000.0, chord(1_001.0)),
            (0.0, 2_000.0, chord(1_999.0)),
            // Spans the vertex at 10.3 km.
            (-5_000.0, 0.0, chord(1.0)),
            // 300 m beyond the end: from centre - half chord to the end.
            (15_000.0, 0.0, chord(1.0) / 2.0 - 300.0),
        ];
        for (dx, dy, len) in cases {
            let c = &cov.cells[cell_at(&g, off(m, dx, dy))];
            let want = len / 2.5 / 3600.0;
            assert!(
                (c.hours[0] - want).abs() < 1e-7,
                "({dx}, {dy}): {} h, want {want} h",
                c.hours[0]
            );
        }
        // Length: cells crossed from edge to edge hold exactly 1 km; the
        // first cell 0.8 km (the track starts 300 m into it).
        let km = |dx: f64| cov.cells[cell_at(&g, off(m, dx, 0.0))].km[0];
        assert!((km(0.0) - 1.0).abs() < 1e-9, "{}", km(0.0));
        assert!((km(-5_000.0) - 1.0).abs() < 1e-9);
        assert!((km(-15_000.0) - 0.8).abs() < 1e-9, "{}", km(-15_000.0));
        assert!((km(15_000.0) - 0.2).abs() < 1e-9, "{}", km(15_000.0));
        assert_eq!(km(16_000.0), 0.0);
    }

    #[test]
    fn km_per_cell_sum_to_the_track_length() {
        let area = Area::BBox([18.0, 4.0, 18.6, 4.5]);
        for g in [
            Grid::square(&area, 1000.0).unwrap(),
            Grid::square(&area, 730.0).unwrap(),
            Grid::h3(&area, 7).unwrap(),
        ] {
            let m = middle(&g);
            let mut rng = Rng::new(11);
            let mut xy = vec![m];
            for _ in 0..25 {
                let last = xy[xy.len() - 1];
                let h = rng.range(0.0, std::f64::consts::TAU);
                let len = rng.range(10.0, 3_000.0);
                let next = off(last, len * h.cos(), len * h.sin());
                // Stay well inside the area.
                if dist(next, m) < 15_000.0 {
                    xy.push(next);
                }
            }
            // Exactly along a lattice line and through a lattice corner too.
            xy.push(off(m, 500.0, 500.0));
            xy.push(off(m, 2_500.0, 500.0));
            xy.push(off(m, 4_500.0, 2_500.0));
            let times: Vec<i64> = (0..xy.len() as i64).map(|i| T0 + 600 * i).collect();
            let p = patrol(&g, "p", 1, &xy, &times);
            let total: f64 = projected(&g, &p)[0]
                .windows(2)
                .map(|w| dist(w[0], w[1]))
                .sum::<f64>()
                / 1000.0;
            let cov = coverage(
                &g,
                &patrols_only(vec![p]),
                &Events::default(),
                &params(T0, T0 + DAY),
            )
            .unwrap();
            let sum: f64 = cov.cells.iter().map(|c| c.km[1]).sum();
            assert!(
                ((sum - total) / total).abs() < 1e-6,
                "{:?}: {sum} km of {total} km",
                g.kind
            );
            assert!(cov.cells.iter().all(|c| c.km[0] == 0.0 && c.km[2] == 0.0));
        }
    }

    #[test]
    fn the_window_clips_patrols() {
        let g = square_grid();
        let m = middle(&g);
        let (a, b) = (off(m, -5_000.0, 1.0), off(m, 5_000.0, 1.0));
        let total = |c: &Coverage| c.cells.iter().map(|c| c.km[0]).sum::<f64>();
        // Wholly before the window: nothing.
        let before = patrol(&g, "before", 0, &[a, b], &[T0, T0 + H]);
        let cov = coverage(
            &g,
            &patrols_only(vec![before]),
            &Events::default(),
            &params(T0 + 2 * H, T0 + 3 * H),
        )
        .unwrap();
        assert_eq!(cov.patrols_used, 0);
        assert!(cov.cells.iter().all(|c| c == &CellCoverage::default()));
        // Half in the window: half the km, only the second half's cells.
        let half = patrol(&g, "half", 0, &[a, b], &[T0 - H, T0 + H]);
        let cov = coverage(
            &g,
            &patrols_only(vec![half.clone()]),
            &Events::default(),
            &params(T0, T0 + DAY),
        )
        .unwrap();
        assert!((total(&cov) - 5.0).abs() < 1e-9, "{}", total(&cov));
        let at = |cov: &Coverage, dx: f64| cov.cells[cell_at(&g, off(m, dx, 0.0))].clone();
        assert_eq!(at(&cov, -5_000.0).visits, 0);
        assert_eq!(at(&cov, 5_000.0).visits, 1);
        assert_eq!(at(&cov, 5_000.0).last_patrol, Some(T0 + H));
        // The middle cell: within 2 km from 3 to 7 km along, i.e. T0 - 1440 s
        // to T0 + 1440 s, of which the window holds the second half.
        let mid = at(&cov, 0.0);
        assert!((mid.hours[0] - 0.4).abs() < 1e-6, "{}", mid.hours[0]);
        assert_eq!(mid.last_patrol, Some(T0 + 1440));
        // A window ending at T0 + 1800: t_last is clipped to it.
        let cov = coverage(
            &g,
            &patrols_only(vec![half]),
            &Events::default(),
            &params(T0 - 2 * DAY, T0 + 1800),
        )
        .unwrap();
        assert_eq!(at(&cov, 5_000.0).visits, 0);
        assert_eq!(at(&cov, 3_000.0).last_patrol, Some(T0 + 1800));
        assert!((total(&cov) - 7.5).abs() < 1e-9, "{}", total(&cov));
    }

    #[test]
    fn bases_cover_their_reach_while_open() {
        let g = square_grid();
        let m = middle(&g);
        let point = |id: &str, xy: [f64; 2], start: i64, end: Option<i64>| Base {
            id: id.into(),
            name: format!("{id} base"),
            base_type: "cob".into(),
            geometry: geo_types::Point::from(lonlat(&g, xy)).into(),
            reach_m: 10_000.5,
            start,
            end,
        };
        let to = T0 + 10 * DAY;
        let square = |c: [f64; 2], h: f64| {
            let ring: Vec<(f64, f64)> = [(-h, -h), (h, -h), (h, h), (-h, h), (-h, -h)]
                .iter()
                .map(|(dx, dy)| {
                    let [lon, lat] = lonlat(&g, off(c, *dx, *dy));
                    (lon, lat)
                })
                .collect();
            geo_types::Polygon::new(ring.into(), vec![])
        };
        let pc = off(m, -20_000.0, 12_000.0);
        let bases = vec![
            point("open", m, T0 - 100 * DAY, None),
            point(
                "closed",
                off(m, 25_000.0, 0.0),
                T0 - 100 * DAY,
                Some(to - DAY),
            ),
            point("later", off(m, 25_000.0, 0.0), to + 1, None),
            Base {
                geometry: square(pc, 2_000.0).into(),
                reach_m: 2_000.0,
                ..point("poly", pc, T0, Some(to))
            },
        ];
        let cov = coverage(
            &g,
            &Presence {
                patrols: vec![],
                bases: bases.clone(),
            },
            &Events::default(),
            &params(T0, to),
        )
        .unwrap();
        assert_eq!(cov.bases_active, 2);
        let open_xy = g.project(lonlat(&g, m)[0], lonlat(&g, m)[1]);
        for (i, c) in g.cells.iter().enumerate() {
            let d = dist(c.xy, open_xy);
            let cc = &cov.cells[i];
            if d <= 10_000.5 {
                assert_eq!(cc.base.map(|b| b.0), Some(0), "{}", c.key);
                assert!((cc.base.unwrap().1 - d).abs() < 1e-6);
                assert_eq!(cc.presence, 1.0);
            } else if cc.base.is_some() {
                assert_eq!(cc.base.unwrap().0, 3, "{}", c.key);
            } else {
                assert_eq!(cc.presence, 0.0);
            }
        }
        let at = |dx: f64, dy: f64| cov.cells[cell_at(&g, off(m, dx, dy))].base;
        // Just within and beyond the point base's reach (centres at 10 km, 11 km).
        assert_eq!(at(10_000.0, 0.0).map(|b| b.0), Some(0));
        assert_eq!(at(11_000.0, 0.0), None);
        // The closed base and the one not yet open cover nothing.
        assert_eq!(at(25_000.0, 0.0), None);
        // The polygon base: 0 inside, measured from its edge outside.
        assert_eq!(at(-20_000.0, 12_000.0), Some((3, 0.0)));
        let (bi, d) = at(-16_000.0, 12_000.0).unwrap();
        assert_eq!(bi, 3);
        assert!((d - 2_000.0).abs() < 1.0, "{d}");
        assert_eq!(at(-15_000.0, 12_000.0), None);
        // Without all cells, the product holds exactly the covered cells.
        let p = cov.to_product(&g, false);
        let n = cov.cells.iter().filter(|c| c.base.is_some()).count();
        assert_eq!(p.items.len(), n);
        let prop = |item: &crate::analysis::product::Item, name: &str| {
            item.properties
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        };
        let rel = |v: &str| {
            Some(Field::Relation {
                layer: Layer::Bases,
                id: "poly".into(),
                value: Box::new(Field::Key(v.into())),
            })
        };
        let f = p
            .items
            .iter()
            .find(|i| prop(i, "base_id") == rel("poly"))
            .unwrap();
        assert_eq!(prop(f, "base_name"), rel("poly base"));
        assert_eq!(prop(f, "presence"), Some(Field::Value(1.0)));
    }

    #[test]
    fn recency_halves_the_score_at_one_half_life() {
        let g = square_grid();
        let m = middle(&g);
        let to = T0 + 100 * DAY;
        let hl = 30 * DAY;
        // Point patrols (one vertex) and a zero-length track still visit.
        let stop = |id: &str, t: i64| patrol(&g, id, 0, &[m], &[t]);
        let score = |patrols: Vec<Patrol>| {
            let cov = coverage(
                &g,
                &patrols_only(patrols),
                &Events::default(),
                &params(T0, to),
            )
            .unwrap();
            cov.cells[cell_at(&g, m)].clone()
        };
        let eps = 1e-9;
        let c = score(vec![stop("now", to)]);
        assert!((c.patrol_score - 1.0).abs() < eps && c.presence == 1.0 && c.visits == 1);
        let c = score(vec![stop("a", to - hl)]);
        assert!((c.patrol_score - 0.5).abs() < eps, "{}", c.patrol_score);
        assert!((c.presence - 0.5).abs() < eps);
        assert_eq!(c.last_patrol, Some(to - hl));
        let c = score(vec![stop("a", to - hl), stop("b", to - 2 * hl)]);
        assert!((c.patrol_score - 0.75).abs() < eps, "{}", c.patrol_score);
        assert_eq!((c.visits, c.last_patrol), (2, Some(to - hl)));
        let still = patrol(&g, "still", 0, &[m, m], &[to - hl - H, to - hl]);
        let c = score(vec![still]);
        assert!((c.patrol_score - 0.5).abs() < eps);
        assert!((c.hours[0] - 1.0).abs() < eps);
        assert_eq!(c.km[0], 0.0);
        // A longer half-life: the same visit weighs more.
        let p = CoverageParams {
            half_life_days: 60.0,
            ..params(T0, to)
        };
        let cov = coverage(
            &g,
            &patrols_only(vec![stop("a", to - hl)]),
            &Events::default(),
            &p,
        )
        .unwrap();
        let s = cov.cells[cell_at(&g, m)].patrol_score;
        assert!((s - 0.5f64.sqrt()).abs() < eps, "{s}");
        // Reports: the same recency weights.
        let mut ev = Events::default();
        let [lon, lat] = lonlat(&g, m);
        for t in [to - hl, to] {
            ev.push(
                "r".into(),
                lon,
                lat,
                t,
                1.0,
                "killing".into(),
                String::new(),
            );
        }
        let cov = coverage(&g, &Presence::default(), &ev, &params(T0, to)).unwrap();
        let c = &cov.cells[cell_at(&g, m)];
        assert_eq!((c.reports, c.last_report), (2, Some(to)));
        assert!((c.info_score - 1.5).abs() < eps);
        assert_eq!(c.presence, 0.0);
    }

    #[test]
    fn reports_inform_cells_within_the_radius() {
        let g = square_grid();
        let m = middle(&g);
        let mut ev = Events::default();
        let mut push = |xy: [f64; 2], t: i64| {
            let [lon, lat] = lonlat(&g, xy);
            ev.push("r".into(), lon, lat, t, 1.0, "other".into(), String::new());
        };
        push(off(m, 300.0, -200.0), T0 + H); // in the middle cell
        push(off(m, 2_400.0, 0.0), T0 + 2 * H); // two cells east
        push(off(m, 0.0, 0.0), T0 - 1); // before the window
        push([1e9, 1e9], T0 + H); // nowhere: outside the grid
        let par = params(T0, T0 + DAY);
        let cov = coverage(&g, &Presence::default(), &ev, &par).unwrap();
        assert_eq!((cov.reports_used, cov.reports_outside), (2, 1));
        let (c1, c2) = (
            g.cells[cell_at(&g, m)].xy,
            g.cells[cell_at(&g, off(m, 2_000.0, 0.0))].xy,
        );
        for (i, c) in g.cells.iter().enumerate() {
            let n = u32::from(dist(c.xy, c1) <= 5_000.0) + u32::from(dist(c.xy, c2) <= 5_000.0);
            assert_eq!(cov.cells[i].reports, n, "{}", c.key);
            let last = if dist(c.xy, c2) <= 5_000.0 {
                Some(T0 + 2 * H)
            } else if n > 0 {
                Some(T0 + H)
            } else {
                None
            };
            assert_eq!(cov.cells[i].last_report, last);
        }
        // Reports outside the grid's cells are counted apart.
        ev.push(
            "far".into(),
            30.0,
            10.0,
            T0 + H,
            1.0,
            "other".into(),
            String::new(),
        );
        let cov = coverage(&g, &Presence::default(), &ev, &par).unwrap();
        assert_eq!((cov.reports_used, cov.reports_outside), (2, 2));
        // A radius of 0: each report informs its own cell only.
        let own = CoverageParams {
            info_radius_m: 0.0,
            ..par
        };
        let cov = coverage(&g, &Presence::default(), &ev, &own).unwrap();
        assert_eq!(cov.cells.iter().map(|c| c.reports).sum::<u32>(), 2);
        assert_eq!(cov.cells[cell_at(&g, m)].reports, 1);
    }

    /// A seeded mission: patrols of every mode (dense and sparse tracks),
    /// point and polygon bases, reports.
    fn world(g: &Grid, seed: u64, patrols: usize, reports: usize) -> (Presence, Events) {
        let m = middle(g);
        let mut rng = Rng::new(seed);
        let mut pr = Presence::default();
        for k in 0..patrols {
            let mut parts = Vec::new();
            let mut times = Vec::new();
            let mut t = T0 + rng.range(-5.0, 40.0) as i64 * DAY + rng.range(0.0, 86_400.0) as i64;
            for _ in 0..1 + usize::from(k % 7 == 0) {
                let mut xy = vec![off(m, rng.range(-25e3, 25e3), rng.range(-20e3, 20e3))];
                let step = [100.0, 800.0, 3_000.0][k % 3];
                let mut h = rng.range(0.0, std::f64::consts::TAU);
                for _ in 0..rng.range(0.0, 30_000.0 / step) as usize {
                    let last = xy[xy.len() - 1];
                    h += rng.range(-0.5, 0.5);
                    xy.push(off(last, step * h.cos(), step * h.sin()));
                }
                let mut tt = Vec::new();
                for _ in 0..xy.len() {
                    tt.push(t);
                    t += rng.range(0.0, 900.0) as i64;
                }
                parts.push(xy.iter().map(|p| lonlat(g, *p)).collect());
                times.push(tt);
            }
            pr.patrols.push(Patrol {
                id: format!("p{k:05}"),
                mode: (k * 7 + k / 3) % 4,
                kind: "routine".into(),
                parts,
                times,
            });
        }
        for k in 0..8 {
            let c = off(m, rng.range(-25e3, 25e3), rng.range(-20e3, 20e3));
            let geometry = if k % 3 == 0 {
                let ring: Vec<(f64, f64)> =
                    [(-1., -1.), (1., -1.), (1.5, 1.), (-1., 1.), (-1., -1.)]
                        .iter()
                        .map(|(dx, dy)| {
                            let [lon, lat] = lonlat(g, off(c, dx * 1500.0, dy * 1500.0));
                            (lon, lat)
                        })
                        .collect();
                geo_types::Polygon::new(ring.into(), vec![]).into()
            } else {
                geo_types::Point::from(lonlat(g, c)).into()
            };
            pr.bases.push(Base {
                id: format!("b{k}"),
                name: format!("Base {k}"),
                base_type: "tob".into(),
                geometry,
                reach_m: rng.range(3_000.0, 15_000.0),
                start: T0 - DAY,
                end: (k % 4 == 1).then_some(T0 + DAY),
            });
        }
        let mut ev = Events::default();
        for k in 0..reports {
            let [lon, lat] = lonlat(g, off(m, rng.range(-32e3, 32e3), rng.range(-28e3, 28e3)));
            let t = T0 + rng.range(-5.0, 40.0) as i64 * DAY;
            ev.push(
                format!("r{k}"),
                lon,
                lat,
                t,
                1.0,
                "other".into(),
                String::new(),
            );
        }
        (pr, ev)
    }

    #[test]
    fn order_and_thread_count_do_not_change_anything() {
        let area = Area::BBox([18.0, 4.0, 18.6, 4.5]);
        for g in [
            Grid::square(&area, 1000.0).unwrap(),
            Grid::h3(&area, 7).unwrap(),
        ] {
            let (pr, ev) = world(&g, 3, 300, 5_000);
            let par = params(T0, T0 + 30 * DAY);
            let pool = |n: usize| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .unwrap()
            };
            let one = pool(1).install(|| coverage(&g, &pr, &ev, &par)).unwrap();
            let two = pool(2).install(|| coverage(&g, &pr, &ev, &par)).unwrap();
            let four = pool(4).install(|| coverage(&g, &pr, &ev, &par)).unwrap();
            assert_eq!(one, two);
            assert_eq!(one, four);
            assert!(one.patrols_used > 100, "{}", one.patrols_used);
            assert!(one.cells.iter().filter(|c| c.base.is_some()).count() > 100);
            assert!(one.cells.iter().any(|c| c.reports > 0));

            // Permuted input: the same map (base indices follow the bases).
            let mut shuffled = pr.clone();
            shuffled.patrols.reverse();
            shuffled.patrols.rotate_left(17);
            shuffled.bases.rotate_left(3);
            let perm: Vec<usize> = (0..ev.len()).map(|i| (i * 7_919) % ev.len()).collect();
            let mut ev2 = Events::default();
            for &i in &perm {
                ev2.push(
                    ev.id[i].clone(),
                    ev.lon[i],
                    ev.lat[i],
                    ev.time[i],
                    ev.weight[i],
                    ev.category[i].clone(),
                    ev.actor[i].clone(),
                );
            }
            let other = pool(2)
                .install(|| coverage(&g, &shuffled, &ev2, &par))
                .unwrap();
            assert_eq!(one.to_product(&g, true), other.to_product(&g, true));
            let unbase = |c: &Coverage| -> Vec<CellCoverage> {
                c.cells
                    .iter()
                    .map(|c| CellCoverage {
                        base: None,
                        ..c.clone()
                    })
                    .collect()
            };
            assert_eq!(unbase(&one), unbase(&other));
        }
    }

    #[test]
    fn geojson_records_the_method_and_parameters() {
        let g = square_grid();
        let (pr, ev) = world(&g, 5, 40, 500);
        let par = params(T0, T0 + 30 * DAY);
        let cov = coverage(&g, &pr, &ev, &par).unwrap();
        let all = crate::render::geojson::to_value(&cov.to_product(&g, true));
        assert_eq!(all["features"].as_array().unwrap().len(), g.len());
        let some = crate::render::geojson::to_value(&cov.to_product(&g, false));
        let n = some["features"].as_array().unwrap().len();
        assert!(n > 0 && n < g.len(), "{n}");
        for (f, c) in all["features"].as_array().unwrap().iter().zip(&cov.cells) {
            assert_eq!(f["properties"]["count"], u64::from(c.visits + c.reports));
        }
        let j = &some["jointmap"];
        assert_eq!(j["analysis"], "coverage");
        assert_eq!(j["from"], "2025-01-01T00:00:00Z");
        assert_eq!(j["to"], "2025-01-31T00:00:00Z");
        assert_eq!(
            j["corridor_m"],
            json!({"foot": 2000.0, "vehicle": 5000.0, "air": 10000.0, "boat": 3000.0})
        );
        assert_eq!(j["half_life_days"], 30.0);
        assert_eq!(j["info_radius_m"], 5000.0);
        assert_eq!(j["patrols_used"], cov.patrols_used);
        assert_eq!(j["grid"]["cell_m"], 1000.0);
        assert!(j["km_per_cell"].as_str().unwrap().starts_with("exact"));
        let f = some["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["visits"].as_u64() > Some(0))
            .unwrap();
        let p = &f["properties"];
        for k in [
            "cell",
            "km_foot",
            "km_vehicle",
            "km_air",
            "km_boat",
            "hours_foot",
            "hours_vehicle",
            "hours_air",
            "hours_boat",
            "visits",
            "patrol_score",
            "last_patrol",
            "base_id",
            "base_name",
            "base_type",
            "base_distance_km",
            "reports",
            "info_score",
            "last_report",
            "presence",
        ] {
            assert!(p.get(k).is_some(), "{k} missing");
        }
        assert!(p["last_patrol"].as_str().unwrap().ends_with('Z'));
        assert_eq!(f["geometry"]["type"], "Polygon");
    }

    #[test]
    fn refuses_bad_parameters_by_name() {
        let g = square_grid();
        let m = middle(&g);
        let ok = patrol(&g, "p", 0, &[m, off(m, 100.0, 0.0)], &[T0, T0 + 60]);
        let run = |pr: &Presence, p: &CoverageParams| {
            coverage(&g, pr, &Events::default(), p)
                .unwrap_err()
                .to_string()
        };
        let pr = patrols_only(vec![ok.clone()]);
        let cases: Vec<(CoverageParams, &str)> = vec![
            (params(T0, T0 - 1), "parameter `to`"),
            (
                CoverageParams {
                    corridor_m: [2_000.0, 0.0, 1.0, 1.0],
                    ..params(T0, T0)
                },
                "parameter `corridor`: vehicle",
            ),
            (
                CoverageParams {
                    corridor_m: [f64::NAN, 1.0, 1.0, 1.0],
                    ..params(T0, T0)
                },
                "parameter `corridor`: foot",
            ),
            (
                CoverageParams {
                    half_life_days: 0.0,
                    ..params(T0, T0)
                },
                "parameter `presence-half-life-days`",
            ),
            (
                CoverageParams {
                    info_radius_m: -1.0,
                    ..params(T0, T0)
                },
                "parameter `info-radius`",
            ),
        ];
        for (p, want) in cases {
            let e = run(&pr, &p);
            assert!(e.contains(want), "{e}");
        }
        let par = params(T0, T0 + H);
        let bad_mode = Patrol {
            mode: 4,
            ..ok.clone()
        };
        assert!(run(&patrols_only(vec![bad_mode]), &par).contains("parameter `patrols`: patrol p"));
        let backwards = Patrol {
            times: vec![vec![T0 + 60, T0]],
            ..ok.clone()
        };
        assert!(run(&patrols_only(vec![backwards]), &par).contains("backwards"));
        let short = Patrol {
            times: vec![vec![T0]],
            ..ok.clone()
        };
        assert!(run(&patrols_only(vec![short]), &par).contains("1 vertex times for 2 vertices"));
        let base = Base {
            id: "b".into(),
            name: "B".into(),
            base_type: "cob".into(),
            geometry: geo_types::Point::new(18.3, 4.2).into(),
            reach_m: f64::NAN,
            start: T0,
            end: None,
        };
        let pr = Presence {
            patrols: vec![],
            bases: vec![base],
        };
        assert!(run(&pr, &par).contains("parameter `bases`: base b"));
        // An empty window is fine: one instant.
        assert!(coverage(
            &g,
            &patrols_only(vec![ok]),
            &Events::default(),
            &params(T0, T0)
        )
        .is_ok());
    }

    #[test]
    fn load_presence_reads_patrols_and_bases_from_the_store() {
        use crate::ingest::{ingest, IngestOptions, Input};
        use crate::store::GpkgStore;
        let dir = tempfile::TempDir::new().unwrap();
        let store = GpkgStore::open(dir.path().join("s.gpkg")).unwrap();
        let put = |layer: Layer, features: Vec<Value>| {
            let input = Input::Features {
                name: "test".into(),
                features: Box::new(features.into_iter().map(|v| v.to_string())),
            };
            let mut opts = IngestOptions::new(layer);
            opts.rejects = dir.path().join("rejects.ndjson");
            ingest(&store, &opts, vec![input], &|_, _| {}).unwrap();
        };
        let line = |id: &str, coords: Value, props: Value| json!({"type": "Feature", "id": id, "geometry": {"type": "LineString", "coordinates": coords}, "properties": props});
        put(
            Layer::Patrols,
            vec![
                line(
                    "p1",
                    json!([[18.0, 4.0], [18.1, 4.0], [18.2, 4.0]]),
                    json!({"unit": "A", "mode": "vehicle", "time_start": "2025-01-10T08:00:00Z",
                           "time_end": "2025-01-10T10:00:00Z", "vertex_times":
                           ["2025-01-10T08:00:00Z", "2025-01-10T08:10:00Z", "2025-01-10T10:00:00Z"]}),
                ),
                // Spread by distance: 1/3 of the way at the second vertex.
                line(
                    "p2",
                    json!([[18.0, 4.1], [18.1, 4.1], [18.3, 4.1]]),
                    json!({"unit": "B", "mode": "foot", "kind": "escort",
                           "time_start": "2025-01-11T06:00:00Z", "time_end": "2025-01-11T09:00:00Z"}),
                ),
                json!({"type": "Feature", "id": "p3", "geometry": {"type": "MultiLineString",
                       "coordinates": [[[18.0, 4.2], [18.1, 4.2]], [[18.3, 4.2], [18.4, 4.2]]]},
                       "properties": {"unit": "C", "mode": "boat",
                       "time_start": "2025-01-12T00:00:00Z", "time_end": "2025-01-12T02:00:00Z"}}),
                // Outside the window.
                line(
                    "p4",
                    json!([[18.0, 4.3], [18.1, 4.3]]),
                    json!({"unit": "D", "mode": "air", "time_start": "2024-06-01T00:00:00Z",
                           "time_end": "2024-06-01T01:00:00Z"}),
                ),
            ],
        );
        put(
            Layer::Bases,
            vec![
                json!({"type": "Feature", "id": "b1", "geometry": {"type": "Point", "coordinates": [18.2, 4.2]},
                       "properties": {"name": "Alpha COB", "base_type": "cob", "time_start": "2024-01-01"}}),
                json!({"type": "Feature", "id": "b2", "geometry": {"type": "Polygon", "coordinates":
                       [[[18.3, 4.3], [18.32, 4.3], [18.32, 4.32], [18.3, 4.32], [18.3, 4.3]]]},
                       "properties": {"name": "Bravo TOB", "base_type": "tob", "reach_km": 3,
                       "time_start": "2023-01-01", "time_end": "2023-06-01"}}),
            ],
        );
        let t = |s: &str| parse_time(s).unwrap().timestamp();
        let (from, to) = (t("2025-01-01"), t("2025-01-31"));
        let pr = load_presence(&store, from, to, None).unwrap();
        let ids: Vec<&str> = pr.patrols.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p1", "p2", "p3"]);
        let (p1, p2, p3) = (&pr.patrols[0], &pr.patrols[1], &pr.patrols[2]);
        assert_eq!((p1.mode, p2.mode, p3.mode), (1, 0, 3));
        assert_eq!(p2.kind, "escort");
        assert_eq!(
            p1.times,
            [[
                t("2025-01-10T08:00:00Z"),
                t("2025-01-10T08:10:00Z"),
                t("2025-01-10T10:00:00Z")
            ]]
        );
        let s2 = t("2025-01-11T06:00:00Z");
        assert_eq!(p2.times, [[s2, s2 + 3_600, s2 + 3 * 3_600]]);
        // Two lines of equal length: the gap between them takes no time.
        let s3 = t("2025-01-12T00:00:00Z");
        assert_eq!(p3.parts.len(), 2);
        assert_eq!(p3.times, [[s3, s3 + 3_600], [s3 + 3_600, s3 + 7_200]]);
        assert_eq!(pr.bases.len(), 2);
        let (b1, b2) = (&pr.bases[0], &pr.bases[1]);
        assert_eq!(
            (b1.name.as_str(), b1.reach_m, b1.end),
            ("Alpha COB", 25_000.0, None)
        );
        assert_eq!((b2.base_type.as_str(), b2.reach_m), ("tob", 3_000.0));
        assert!(b1.is_active(to) && !b2.is_active(to));
        assert!(matches!(b2.geometry, geo_types::Geometry::Polygon(_)));
        // A bounding box keeps what lies in it.
        let west = load_presence(&store, from, to, Some([17.9, 3.9, 18.15, 4.15])).unwrap();
        let ids: Vec<&str> = west.patrols.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p1", "p2"]);
        assert!(west.bases.is_empty());
        assert!(load_presence(&store, to, from, None).is_err());
        // And the loaded presence maps.
        let g = Grid::square(&Area::BBox([17.9, 3.9, 18.5, 4.4]), 1000.0).unwrap();
        let cov = coverage(&g, &pr, &Events::default(), &params(from, to)).unwrap();
        assert_eq!((cov.patrols_used, cov.bases_active), (3, 1));
        let km: f64 = cov.cells.iter().map(|c| c.km[3]).sum();
        assert!((km - 22.2).abs() < 0.2, "{km}");
    }
}
