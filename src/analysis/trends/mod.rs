//! Trends: the space-time cube, space-time Gi* per bin, the Mann-Kendall
//! trend test and Sen's slope per cell, and the emerging hot spot category
//! of each cell (ArcGIS's Create Space Time Cube and Emerging Hot Spot
//! Analysis). One algorithm per file: `cube.rs`, `st_gistar.rs`,
//! `mann_kendall.rs`, `sen.rs` (and `pairs.rs`, both in one pass over a
//! series' pairs, for speed), `emerging.rs`; this file composes them into
//! a typed product.

pub mod cube;
pub mod emerging;
pub mod mann_kendall;
pub mod pairs;
pub mod sen;
pub mod st_gistar;

use super::fdr::{classify, HotspotClass};
use super::hotspots::{default_area, grid_param, GridSpec};
use super::product::{Field, Fields, Item, Param, Product, Shape};
use super::weights::{auto_distance_band, Weights};
use super::{AnalysisError, Events};
use crate::grid::{Area, Grid, GridKind};
use crate::model::Layer;
use cube::{build_cube, Cube, Steps};
use emerging::Pattern;
use mann_kendall::MannKendall;
use rayon::prelude::*;

/// The most time steps a cube may have.
pub const MAX_STEPS: usize = 1_000;

/// The default most bins (cells with events x steps) of a cube.
pub const MAX_BINS: usize = 50_000_000;

/// Fewer steps than this and the Mann-Kendall test says little (ArcGIS
/// requires ten for Emerging Hot Spot Analysis): a warning.
pub const MIN_TREND_STEPS: usize = 10;

/// Parameters of a trends analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendParams {
    /// The grid.
    pub grid: GridSpec,
    /// The area; by default the events' extent padded by one cell.
    pub area: Option<Area>,
    /// Anchor of square grids (see [`Grid::square_anchored`]).
    pub anchor: Option<[f64; 2]>,
    /// Distance band of the space-time neighbourhood, metres; by default
    /// the largest nearest-neighbour distance between the cube's cells.
    pub band_m: Option<f64>,
    /// Length of a time step, seconds.
    pub step_s: i64,
    /// A time step boundaries are aligned to (Unix seconds); `None`: the
    /// steps end exactly after the as-of time.
    pub reference: Option<i64>,
    /// The time the cube ends at (inclusive, Unix seconds); by default the
    /// latest event's start.
    pub as_of: Option<i64>,
    /// Start of the period (Unix seconds): the steps reach back to cover it;
    /// by default the earliest event's start.
    pub from: Option<i64>,
    /// Number of steps; by default enough to cover `from`.
    pub steps: Option<usize>,
    /// Steps in the space-time neighbourhood: the current one and the
    /// `window - 1` before it.
    pub window: usize,
    /// Correct the bin classes for multiple testing (Benjamini-Hochberg over
    /// every bin of the cube).
    pub fdr: bool,
    /// Significance level of the Mann-Kendall trend of a cell's z-scores
    /// (intensifying and diminishing).
    pub trend_alpha: f64,
    /// The layer the events come from.
    pub layer: Layer,
    /// The most cells the grid may have.
    pub max_cells: usize,
    /// The most bins of the cube.
    pub max_bins: usize,
}

impl Default for TrendParams {
    fn default() -> Self {
        TrendParams {
            grid: GridSpec::Square { cell_m: 5_000.0 },
            area: None,
            anchor: None,
            band_m: None,
            step_s: 14 * 86_400,
            reference: None,
            as_of: None,
            from: None,
            steps: None,
            window: 1,
            fdr: true,
            trend_alpha: 0.05,
            layer: Layer::Incidents,
            max_cells: crate::grid::MAX_CELLS,
            max_bins: MAX_BINS,
        }
    }
}

/// One cell's trend results.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendCell {
    /// Grid index of the cell.
    pub cell: usize,
    /// Its emerging hot spot category.
    pub pattern: Pattern,
    /// Mann-Kendall of the per-step values (counts or weights).
    pub mk_value: MannKendall,
    /// Sen's slope of the per-step values, per step.
    pub sen_value: f64,
    /// Mann-Kendall of the per-step Gi* z-scores.
    pub mk_z: MannKendall,
    /// Sen's slope of the per-step z-scores, per step.
    pub sen_z: f64,
    /// Steps that are significant hot (cold) spots.
    pub hot_steps: usize,
    /// Steps that are significant cold spots.
    pub cold_steps: usize,
}

/// A trends analysis: the cube, per-bin Gi* and per-cell trends.
#[derive(Debug, Clone)]
pub struct Trends {
    /// The cube.
    pub cube: Cube,
    /// Gi* z per bin (cell-major, as the cube).
    pub z: Vec<f64>,
    /// Gi* two-sided p per bin.
    pub p: Vec<f64>,
    /// Hot/cold class per bin.
    pub class: Vec<HotspotClass>,
    /// One entry per cube cell.
    pub cells: Vec<TrendCell>,
    /// The distance band used, metres.
    pub band_m: f64,
    /// The area the grid covers.
    pub area: Area,
    /// The parameters.
    pub params: TrendParams,
    /// The as-of time used.
    pub as_of: i64,
    /// What an analyst should know, in plain words.
    pub warnings: Vec<String>,
}

/// The steps of a cube for `params` over `events` (see [`TrendParams`]).
pub fn resolve_steps(events: &Events, params: &TrendParams) -> Result<(Steps, i64), AnalysisError> {
    if params.step_s <= 0 {
        return Err(AnalysisError::param(
            "step-days",
            "must be at least one day",
        ));
    }
    let as_of = match params.as_of {
        Some(t) => t,
        None => events.time.iter().copied().max().ok_or_else(|| {
            AnalysisError::param("filters", "no events match: nothing to analyse")
        })?,
    };
    let step = params.step_s;
    let after = as_of.saturating_add(1);
    let end = match params.reference {
        None => after,
        Some(r) => r.saturating_add(
            (after.saturating_sub(r))
                .div_euclid(step)
                .saturating_add(i64::from((after.saturating_sub(r)).rem_euclid(step) != 0))
                .saturating_mul(step),
        ),
    };
    let count = match params.steps {
        Some(n) => n,
        None => {
            let first = params
                .from
                .or_else(|| events.time.iter().copied().filter(|&t| t <= as_of).min())
                .unwrap_or(as_of);
            let span = end.saturating_sub(first).max(1);
            usize::try_from(span.div_euclid(step) + i64::from(span.rem_euclid(step) != 0))
                .unwrap_or(usize::MAX)
        }
    };
    if count == 0 || count > MAX_STEPS {
        return Err(AnalysisError::param(
            "steps",
            format!("{count} time steps: between 1 and {MAX_STEPS} (use longer steps or a later --from)"),
        ));
    }
    Ok((
        Steps {
            end,
            step_s: step,
            count,
        },
        as_of,
    ))
}

/// The statistics of a cube's bins (cell-major `values`, `w` the spatial
/// weights of its cells): space-time Gi* per bin, its class (FDR over every
/// bin when `fdr`), and per cell the Mann-Kendall tests, Sen's slopes and the
/// emerging hot spot category (`TrendCell::cell` is the cube cell's index).
/// In parallel over cells; the same whatever the thread count.
pub fn classify_bins(
    values: &[f64],
    steps: usize,
    w: &Weights,
    window: usize,
    fdr: bool,
    trend_alpha: f64,
) -> Result<(super::getis_ord::GiStar, Vec<HotspotClass>, Vec<TrendCell>), AnalysisError> {
    let gi = st_gistar::st_gi_star_values(values, steps, w, window)?;
    let class = classify(&gi.z, &gi.p, fdr);
    let n = steps;
    let cells: Vec<TrendCell> = (0..w.len())
        .into_par_iter()
        .map_init(
            || (pairs::Scratch::default(), Vec::new()),
            |(scratch, bins), c| {
                let r = c * n..(c + 1) * n;
                bins.clear();
                bins.extend(class[r.clone()].iter().map(|k| k.bin().signum()));
                let (mk_z, sen_z) = pairs::mk_and_sen(&gi.z[r.clone()], scratch);
                let (mk_value, sen_value) = pairs::mk_and_sen(&values[r], scratch);
                TrendCell {
                    cell: c,
                    pattern: emerging::classify(bins, &mk_z, trend_alpha),
                    mk_value,
                    sen_value,
                    mk_z,
                    sen_z,
                    hot_steps: bins.iter().filter(|&&b| b > 0).count(),
                    cold_steps: bins.iter().filter(|&&b| b < 0).count(),
                }
            },
        )
        .collect();
    crate::cancel::check()?;
    Ok((gi, class, cells))
}

/// Runs the trends analysis.
pub fn trends(events: &Events, params: &TrendParams) -> Result<Trends, AnalysisError> {
    if events.is_empty() {
        return Err(AnalysisError::param(
            "filters",
            "no events match: nothing to analyse",
        ));
    }
    if params.window == 0 {
        return Err(AnalysisError::param("window", "at least one time step"));
    }
    if let Some(b) = params.band_m {
        if !(b.is_finite() && b > 0.0) {
            return Err(AnalysisError::param(
                "band-km",
                "must be a positive number of km",
            ));
        }
    }
    if !(params.trend_alpha > 0.0 && params.trend_alpha < 1.0) {
        return Err(AnalysisError::param(
            "trend-alpha",
            "must lie strictly between 0 and 1",
        ));
    }
    let (steps, as_of) = resolve_steps(events, params)?;
    let (kind, cell_m) = match params.grid {
        GridSpec::Square { cell_m } => (GridKind::Square { cell_m }, cell_m),
        GridSpec::H3 { resolution } => (
            GridKind::H3 { resolution },
            h3o::Resolution::try_from(resolution).map_or(1_000.0, |r| r.area_m2().sqrt()),
        ),
    };
    let area = params
        .area
        .clone()
        .unwrap_or_else(|| default_area(events, cell_m));
    let grid = Grid::build_anchored(&area, kind, params.max_cells, params.anchor)?;
    let cube = build_cube(events, grid, steps)?;
    if cube.is_empty() {
        return Err(AnalysisError::param(
            "as-of",
            "no event falls in the cube's cells and steps",
        ));
    }
    let bins = cube.len().saturating_mul(steps.count);
    if bins > params.max_bins {
        return Err(AnalysisError::param(
            "steps",
            format!(
                "{} cells x {} steps = {bins} bins, more than {} (use larger cells or steps)",
                cube.len(),
                steps.count,
                params.max_bins
            ),
        ));
    }
    let centres: Vec<[f64; 2]> = cube
        .cells
        .iter()
        .map(|&c| cube.grid.cells[c as usize].xy)
        .collect();
    let band_m = match params.band_m {
        Some(b) => b,
        None if centres.len() >= 2 => auto_distance_band(&centres)?,
        None => cell_m,
    };
    let w = Weights::distance_band(&centres, band_m)?;
    let (gi, class, mut cells) = classify_bins(
        &cube.values,
        steps.count,
        &w,
        params.window,
        params.fdr,
        params.trend_alpha,
    )?;
    for c in &mut cells {
        c.cell = cube.cells[c.cell] as usize;
    }
    let n = steps.count;
    crate::cancel::check()?;
    let mut warnings = Vec::new();
    if n < MIN_TREND_STEPS {
        warnings.push(format!(
            "{n} time steps: the Mann-Kendall test and the emerging hot spot categories need at \
             least {MIN_TREND_STEPS} (ArcGIS refuses fewer); use shorter steps or a longer period"
        ));
    }
    if steps.end > as_of.saturating_add(1) {
        warnings.push(format!(
            "the last step is partial: it ends {:.1} days after the as-of time, so its counts \
             are low (align the reference to the as-of date, or leave it out)",
            (steps.end - as_of - 1) as f64 / 86_400.0
        ));
    }
    Ok(Trends {
        z: gi.z,
        p: gi.p,
        class,
        cells,
        band_m,
        area,
        params: params.clone(),
        as_of,
        warnings,
        cube,
    })
}

fn day(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(
        || t.to_string(),
        |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

fn mk_fields(prefix: [&'static str; 5], m: &MannKendall, slope: f64) -> Fields {
    vec![
        (prefix[0], Field::Value(m.s as f64)),
        (prefix[1], Field::Value(m.var_s)),
        (prefix[2], Field::Value(m.z)),
        (prefix[3], Field::Value(m.p)),
        (prefix[4], Field::Value(slope)),
    ]
}

impl TrendParams {
    /// The product of an analysis over no event: no cell, the parameters.
    pub fn empty_product(&self) -> Product {
        let mut p = Product::new("trends");
        p.grid = Some(grid_param(self.grid, self.anchor).1);
        p.meta.push((
            "events",
            Field::Count {
                layer: self.layer,
                n: 0,
            },
        ));
        p
    }
}

impl Trends {
    /// How many cells fall in `pattern`.
    pub fn count(&self, pattern: Pattern) -> usize {
        self.cells.iter().filter(|c| c.pattern == pattern).count()
    }

    /// Cells as map items with their category, the Mann-Kendall statistics
    /// of their values and z-scores and Sen's slopes; the per-step series
    /// (count, value, Gi* z, p and class per bin) in the `series` table,
    /// one row per bin of each written cell. Unless `all_cells`, only cells
    /// with a pattern are written.
    pub fn to_product(&self, all_cells: bool) -> Product {
        let layer = self.params.layer;
        let n = self.cube.steps();
        let mut items = Vec::new();
        let mut series = Vec::new();
        for (c, t) in self.cells.iter().enumerate() {
            if !all_cells && t.pattern == Pattern::NoPattern {
                continue;
            }
            let cell = &self.cube.grid.cells[t.cell];
            let r = c * n..(c + 1) * n;
            let count: u64 = self.cube.counts[r.clone()]
                .iter()
                .map(|&x| u64::from(x))
                .sum();
            let sensitive: u64 = self.cube.sensitive[r.clone()]
                .iter()
                .map(|&x| u64::from(x))
                .sum();
            let value: f64 = self.cube.values[r.clone()].iter().sum();
            let mut properties = vec![
                ("cell", Field::Key(cell.key.clone())),
                ("pattern", Field::Class(t.pattern.as_str().to_string())),
                ("count", Field::Count { layer, n: count }),
                ("count_sensitive", Field::Sensitive(sensitive)),
                ("value", Field::Value(value)),
                ("hot_steps", Field::Tally(t.hot_steps as u64)),
                ("cold_steps", Field::Tally(t.cold_steps as u64)),
            ];
            properties.extend(mk_fields(
                [
                    "value_mk_s",
                    "value_mk_var",
                    "value_mk_z",
                    "value_mk_p",
                    "value_sen_slope",
                ],
                &t.mk_value,
                t.sen_value,
            ));
            properties.extend(mk_fields(
                ["z_mk_s", "z_mk_var", "z_mk_z", "z_mk_p", "z_sen_slope"],
                &t.mk_z,
                t.sen_z,
            ));
            items.push(Item {
                id: Field::Key(cell.key.clone()),
                geometry: Shape::Cell(cell.ring.clone()),
                properties,
            });
            for (k, b) in r.enumerate() {
                series.push(vec![
                    ("cell", Field::Key(cell.key.clone())),
                    ("step", Field::Key(day(self.cube.steps.step_start(k)))),
                    (
                        "count",
                        Field::Count {
                            layer,
                            n: u64::from(self.cube.counts[b]),
                        },
                    ),
                    (
                        "count_sensitive",
                        Field::Sensitive(u64::from(self.cube.sensitive[b])),
                    ),
                    // The cell's total too: the gate drops every row of a cell
                    // whose total is under k with the cell's item, so no zero
                    // row tells that a suppressed cell held events.
                    ("cell_count", Field::Count { layer, n: count }),
                    ("value", Field::Value(self.cube.values[b])),
                    ("gi_z", Field::Value(self.z[b])),
                    ("gi_p", Field::Value(self.p[b])),
                    ("class", Field::Class(self.class[b].as_str().to_string())),
                ]);
            }
        }
        let (grid, product_grid) = grid_param(self.params.grid, self.params.anchor);
        let steps = self.cube.steps;
        let mut p = Product::new("trends");
        p.grid = Some(product_grid);
        p.meta.extend([
            ("events", Field::Count { layer, n: self.cube.events as u64 }),
            (
                "events_outside_cube",
                Field::Count {
                    layer,
                    n: self.cube.outside as u64,
                },
            ),
            ("grid", Field::Param(grid)),
            ("cube_cells", Field::Tally(self.cube.len() as u64)),
            ("steps", Field::param(steps.count)),
            ("step_days", Field::param(steps.step_s as f64 / 86_400.0)),
            ("first_step_start", Field::param(day(steps.start()))),
            ("cube_end", Field::param(day(steps.end))),
            ("as_of", Field::param(day(self.as_of))),
            (
                "reference",
                Field::param(self.params.reference.map(day)),
            ),
            ("band_m", Field::Value(self.band_m)),
            (
                "band",
                Field::param(if self.params.band_m.is_some() {
                    "given"
                } else {
                    "default: the largest nearest-neighbour distance between the cube's cells"
                }),
            ),
            ("window_steps", Field::param(self.params.window)),
            (
                "neighbourhood",
                Field::param(
                    "bins of the cells within the band (and the cell) in the same step and the \
                     window - 1 steps before it (ArcGIS Emerging Hot Spot Analysis)",
                ),
            ),
            (
                "gi",
                Field::param("binary Gi* over every bin of the cube (esda G_Local 'B' on the space-time weights)"),
            ),
            ("fdr", Field::param(self.params.fdr)),
            ("trend_test", Field::param("Mann-Kendall (pymannkendall original_test), Sen's slope per step")),
            ("trend_alpha", Field::Value(self.params.trend_alpha)),
            (
                "cells_written",
                Field::param(if all_cells { "all cube cells" } else { "cells with a pattern" }),
            ),
            (
                "warnings",
                Field::Param(Param::List(
                    self.warnings.iter().map(|w| w.as_str().into()).collect(),
                )),
            ),
        ]);
        p.items = items;
        p.tables.push(("series", series));
        p
    }
}

#[cfg(test)]
mod tests;
