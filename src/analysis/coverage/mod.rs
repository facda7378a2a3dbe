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
//!
//! One file per part: `params.rs` (the parameters, recency), `presence.rs`
//! (patrols and bases) and `load.rs` (reading them from the store),
//! `sums.rs` (the fixed-point sums), `corridor.rs` (the bounding-circle tree
//! and the segment / circle intersection), `track_length.rs` (length per
//! cell), `patrols.rs` (what each patrol adds, in Z-order), `bases.rs`,
//! `reports.rs` and `output.rs` (the typed product); this file holds the
//! result types and composes them. Tests: `tests/`, by subject.

mod bases;
mod corridor;
mod load;
mod output;
mod params;
mod patrols;
mod presence;
mod reports;
mod sums;
mod track_length;

pub use load::load_presence;
pub(crate) use output::time_param;
pub use params::CoverageParams;
pub use presence::{Base, Patrol, Presence};

use super::AnalysisError;
use super::Events;
use crate::grid::Grid;
use crate::model::schema::MODES;
use bases::nearest_bases;
use patrols::patrol_sums;
use rayon::prelude::*;
use reports::report_sums;
use sums::{PER_METRE, PER_SECOND, PER_WEIGHT};

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

/// Euclidean distance between two points in projected metres.
fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
    (dx * dx + dy * dy).sqrt()
}

/// Query radius a little over `r`, so a cell exactly at `r` is never lost
/// to rounding in the grid's search (each candidate is tested again here).
fn search_radius(r: f64) -> f64 {
    r * (1.0 + 1e-9) + 1e-6
}

#[cfg(test)]
mod tests;
