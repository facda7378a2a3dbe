//! How each analysis request is restricted for a role ([`Analysis`] for
//! the request types of [`crate::request`]).
//!
//! For every role: the budget (cell size, H3 resolution, permutations) and
//! the patrol delay. For a role without full view of the analysed events:
//! cells of at least the minimum size; windows widened to whole time
//! steps; no filter that would split the gate's groups (perpetrator,
//! verification, precision); weights only on numeric fields the role may
//! see; no individual event points.

use super::run::{Analysis, Context};
use crate::analysis::events::Weight;
use crate::analysis::AnalysisError;
use crate::model::{FieldKind, Layer};
use crate::request::{self, Outcome, Protect};
use crate::store::FeatureSource;
use chrono::{DateTime, Utc};

fn param(name: &'static str, reason: impl Into<String>) -> crate::Error {
    AnalysisError::param(name, reason).into()
}

/// Side in metres of a square with the mean area of an H3 cell.
fn h3_cell_m(res: u8) -> f64 {
    h3o::Resolution::try_from(res).map_or(f64::INFINITY, |r| r.area_m2().sqrt())
}

/// Holds a grid to the budget and coarsens it to the rules' minimum cell.
fn restrict_grid(
    grid: request::surface::GridType,
    cell_km: &mut f64,
    h3_resolution: &mut u8,
    cx: &Context<'_>,
) -> crate::Result<()> {
    if grid == request::surface::GridType::H3 {
        if *h3_resolution > cx.budget.max_h3_resolution {
            return Err(param(
                "h3-resolution",
                format!("at most {} on this server", cx.budget.max_h3_resolution),
            ));
        }
        while *h3_resolution > 0 && h3_cell_m(*h3_resolution) < cx.rules.min_cell_m {
            *h3_resolution -= 1;
        }
    } else {
        if cell_km.is_finite() && *cell_km < cx.budget.min_cell_km {
            return Err(param(
                "cell-km",
                format!("at least {} km on this server", cx.budget.min_cell_km),
            ));
        }
        *cell_km = cell_km.max(cx.rules.min_cell_m / 1000.0);
    }
    Ok(())
}

fn restrict_grid_args(g: &mut request::surface::GridArgs, cx: &Context<'_>) -> crate::Result<()> {
    g.max_cells = cx.budget.max_cells;
    restrict_grid(g.grid, &mut g.cell_km, &mut g.h3_resolution, cx)
}

/// The most cells an analysis grid may have: fewer when every cell is
/// written (`all-cells`).
fn cell_budget(cx: &Context<'_>, all_cells: bool) -> usize {
    if all_cells {
        cx.budget.max_output_cells.min(cx.budget.max_cells)
    } else {
        cx.budget.max_cells
    }
}

/// Restricts an event selection of `layer`: the delay cutoff for everyone;
/// for a role without full view of that layer, whole time steps, no
/// group-splitting filter (category, perpetrator, verification, precision),
/// and weights on visible numeric fields only.
pub(super) fn restrict_filter(
    f: &mut request::events::FilterArgs,
    layer: Layer,
    cx: &Context<'_>,
) -> crate::Result<()> {
    if let Some(c) = cx.rules.cutoff(cx.now) {
        f.to = Some(f.to.map_or(c, |t| t.min(c)));
    }
    // A layer the role sees in full is not released in groups (see
    // `run.rs`): any filter on it is fine.
    let layer_full = cx.layers.get(&layer).is_some_and(|r| r.full);
    if let Ok(Weight::Field(name)) = f.weight.parse::<Weight>() {
        let numeric = layer.fields().iter().any(|s| {
            s.name == name
                && matches!(
                    s.kind,
                    FieldKind::Count
                        | FieldKind::IntRange(..)
                        | FieldKind::PositiveReal
                        | FieldKind::Fraction
                )
        });
        if !(layer_full || numeric && (cx.field_visible)(layer, &name)) {
            return Err(param(
                "weight",
                "only numeric fields of the layer this role may see can weigh events",
            ));
        }
    }
    if layer_full {
        return Ok(());
    }
    let refuse = |name: &'static str| {
        param(
            name,
            format!(
                "not available to role {} for aggregates: it would split the groups that \
                 protect individual records",
                cx.rules.role
            ),
        )
    };
    if !f.category.is_empty() {
        return Err(refuse("category"));
    }
    if !f.perpetrator.is_empty() {
        return Err(refuse("perpetrator"));
    }
    if f.min_verification.is_some() {
        return Err(refuse("min-verification"));
    }
    if f.min_precision.is_some() {
        return Err(refuse("min-precision"));
    }
    let (from, to) = cx
        .partition
        .snap_window(f.from.map(|t| t.timestamp()), f.to.map(|t| t.timestamp()));
    let at = |t: Option<i64>| t.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
    f.from = at(from);
    f.to = at(to);
    Ok(())
}

/// Caps the end of a presence window at the delay cutoff, and for a role
/// without full view of the main layer `main` widens it to whole steps
/// (other layers' events are released on whole steps in any case).
fn restrict_window(
    main: Layer,
    from: &mut Option<DateTime<Utc>>,
    to: &mut Option<DateTime<Utc>>,
    cx: &Context<'_>,
) {
    if let (Some(c), Some(t)) = (cx.rules.cutoff(cx.now), to.as_mut()) {
        *t = (*t).min(c);
    }
    if !cx.layers.get(&main).is_some_and(|r| r.full) {
        let (f, t) = cx
            .partition
            .snap_window(from.map(|t| t.timestamp()), to.map(|t| t.timestamp()));
        *from = f.and_then(|t| DateTime::from_timestamp(t, 0));
        *to = t.and_then(|t| DateTime::from_timestamp(t, 0));
        if let (Some(c), Some(t)) = (cx.rules.cutoff(cx.now), to.as_mut()) {
            *t = (*t).min(c);
        }
    }
}

impl Analysis for request::hotspots::HotspotRequest {
    const NAME: &'static str = "hotspots";
    fn layer(&self) -> Layer {
        self.events.layer
    }
    fn restrict(&mut self, cx: &Context<'_>) -> crate::Result<()> {
        if self
            .permutations
            .is_some_and(|p| p > cx.budget.max_permutations)
        {
            return Err(param(
                "permutations",
                format!("at most {} on this server", cx.budget.max_permutations),
            ));
        }
        self.max_auto_permutations = self.max_auto_permutations.min(cx.budget.max_permutations);
        restrict_grid(self.grid, &mut self.cell_km, &mut self.h3_resolution, cx)?;
        self.max_cells = cell_budget(cx, self.all_cells);
        restrict_filter(&mut self.events.filter, self.events.layer, cx)
    }
    fn run(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        self.run_protected(store, protect)
    }
}

impl Analysis for request::clusters::ClusterRequest {
    const NAME: &'static str = "clusters";
    fn layer(&self) -> Layer {
        self.events.layer
    }
    fn restrict(&mut self, cx: &Context<'_>) -> crate::Result<()> {
        if self.points && !cx.rules.full {
            return Err(param(
                "points",
                "individual events are only for roles that see this layer in full",
            ));
        }
        restrict_filter(&mut self.events.filter, self.events.layer, cx)
    }
    fn run(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        self.run_protected(store, protect)
    }
}

/// Presence per cell: patrols (the main layer: their rules coarsen and
/// delay the surface for roles other than military), bases, and incidents
/// and sightings as reports.
impl Analysis for request::coverage::CoverageRequest {
    const NAME: &'static str = "coverage";
    fn layer(&self) -> Layer {
        Layer::Patrols
    }
    fn reads(&self) -> Vec<Layer> {
        vec![
            Layer::Patrols,
            Layer::Bases,
            Layer::Incidents,
            Layer::Sightings,
        ]
    }
    fn restrict(&mut self, cx: &Context<'_>) -> crate::Result<()> {
        restrict_grid_args(&mut self.grid, cx)?;
        self.grid.max_cells = cell_budget(cx, self.all_cells);
        restrict_window(Layer::Patrols, &mut self.from, &mut self.to, cx);
        Ok(())
    }
    fn run(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        self.run_protected(store, protect)
    }
}

/// Blind spots: incidents (the main layer) and every other layer.
impl Analysis for request::blindspots::BlindspotRequest {
    const NAME: &'static str = "blindspots";
    fn layer(&self) -> Layer {
        Layer::Incidents
    }
    fn reads(&self) -> Vec<Layer> {
        Layer::ALL.to_vec()
    }
    fn restrict(&mut self, cx: &Context<'_>) -> crate::Result<()> {
        restrict_grid_args(&mut self.grid, cx)?;
        restrict_filter(&mut self.incidents, Layer::Incidents, cx)?;
        restrict_window(
            Layer::Incidents,
            &mut self.incidents.from,
            &mut self.incidents.to,
            cx,
        );
        Ok(())
    }
    fn run(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        self.run_protected(store, protect)
    }
}

/// Patrol and base impact: incidents (the main layer) before and after
/// presence began, patrols and bases.
impl Analysis for request::impact::ImpactRequest {
    const NAME: &'static str = "impact";
    fn layer(&self) -> Layer {
        Layer::Incidents
    }
    fn reads(&self) -> Vec<Layer> {
        vec![Layer::Incidents, Layer::Patrols, Layer::Bases]
    }
    fn restrict(&mut self, cx: &Context<'_>) -> crate::Result<()> {
        restrict_grid_args(&mut self.grid, cx)?;
        restrict_filter(&mut self.incidents, Layer::Incidents, cx)?;
        restrict_window(
            Layer::Incidents,
            &mut self.incidents.from,
            &mut self.incidents.to,
            cx,
        );
        Ok(())
    }
    fn run(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        self.run_protected(store, protect)
    }
}

/// Trends: the space-time cube of one point layer. For a role without full
/// view of it, besides the event filter's restrictions: steps of whole
/// protection time steps (the step rounded up to a multiple of the
/// partition's), aligned to the partition's first step, and an as-of time
/// at the end of a protection step, so every bin is a sum of whole
/// released groups.
impl Analysis for request::trends::TrendRequest {
    const NAME: &'static str = "trends";
    fn layer(&self) -> Layer {
        self.events.layer
    }
    fn restrict(&mut self, cx: &Context<'_>) -> crate::Result<()> {
        restrict_grid(self.grid, &mut self.cell_km, &mut self.h3_resolution, cx)?;
        self.max_cells = cell_budget(cx, self.all_cells);
        // At most 100 steps of a full grid on this server.
        self.max_bins = self.max_bins.min(cx.budget.max_cells.saturating_mul(100));
        restrict_filter(&mut self.events.filter, self.events.layer, cx)?;
        if let Some(c) = cx.rules.cutoff(cx.now) {
            self.as_of = self.as_of.map(|t| t.min(c));
        }
        if cx.layers.get(&self.events.layer).is_some_and(|r| r.full) {
            return Ok(());
        }
        let part_days = (cx.partition.step_s / 86_400).max(1);
        let days = i64::from(self.step_days.max(1));
        let whole = (days + part_days - 1) / part_days * part_days;
        self.step_days = u32::try_from(whole)
            .map_err(|_| param("step-days", "too long for this role's protection steps"))?;
        if self.step_days > request::trends::MAX_STEP_DAYS {
            return Err(param(
                "step-days",
                format!(
                    "whole protection steps of {part_days} days make {} days, more than {}",
                    self.step_days,
                    request::trends::MAX_STEP_DAYS
                ),
            ));
        }
        self.reference = DateTime::from_timestamp(cx.partition.step_start(0), 0);
        let (_, to) = cx
            .partition
            .snap_window(None, self.as_of.map(|t| t.timestamp()));
        if let Some(t) = to {
            self.as_of = DateTime::from_timestamp(t, 0);
        }
        Ok(())
    }
    fn run(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        self.run_protected(store, protect)
    }
}
