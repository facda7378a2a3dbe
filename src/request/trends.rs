//! The trends request (`jointmap trends`, `/analysis/trends`): the space-time
//! cube, emerging hot spots and Mann-Kendall trends per cell.

use super::events::EventArgs;
use super::surface::GridType;
use super::{parse_time_arg, parse_to_arg, positive_km, read_area, Outcome, Protect};
use crate::analysis::hotspots::GridSpec;
use crate::analysis::trends::emerging::Pattern;
use crate::analysis::trends::{trends, TrendParams, MAX_BINS};
use crate::analysis::AnalysisError;
use crate::grid::Area;
use crate::store::FeatureSource;
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// The most days a time step may last.
pub const MAX_STEP_DAYS: u32 = 3_660;

/// Parameters of a trends analysis.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TrendRequest {
    /// Which events and their weight.
    #[command(flatten)]
    #[serde(flatten)]
    pub events: EventArgs,
    /// Grid: square (equal-area, --cell-km) or h3 (hexagons, --h3-resolution).
    #[arg(long, value_enum, default_value_t = GridType::Square)]
    #[serde(serialize_with = "super::record::value_enum")]
    pub grid: GridType,
    /// Square cell size in km.
    #[arg(long, default_value_t = 5.0)]
    pub cell_km: f64,
    /// H3 resolution (0-15).
    #[arg(long, default_value_t = 7)]
    pub h3_resolution: u8,
    /// Analysis area: a GeoJSON file of polygons (default: --bbox, else the events' extent).
    #[arg(long, value_name = "FILE")]
    pub area: Option<PathBuf>,
    /// Distance band of the space-time neighbourhood in km (default: the
    /// largest nearest-neighbour distance between cells with events, reported).
    #[arg(long)]
    pub band_km: Option<f64>,
    /// Length of a time step in days.
    #[arg(long, default_value_t = 14)]
    pub step_days: u32,
    /// Time steps in the neighbourhood: the current one and the window - 1 before it.
    #[arg(long, default_value_t = 1)]
    pub window_steps: u32,
    /// The time the last step ends at (RFC 3339, or a date: through the end
    /// of that day); default: --to, else the latest event.
    #[arg(long, value_parser = parse_to_arg)]
    #[serde(serialize_with = "super::record::time")]
    pub as_of: Option<DateTime<Utc>>,
    /// Align step boundaries to this time (RFC 3339 or date); the last step
    /// is then the one holding the as-of time. Default: steps end right
    /// after the as-of time.
    #[arg(long, value_parser = parse_time_arg)]
    #[serde(serialize_with = "super::record::time")]
    pub reference: Option<DateTime<Utc>>,
    /// Number of steps (default: back to --from, else to the first event).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Do not correct the bins' hot/cold classes for multiple testing (FDR
    /// over every bin is on by default).
    #[arg(long)]
    pub no_fdr: bool,
    /// Significance level of a cell's z-score trend (intensifying, diminishing).
    #[arg(long, default_value_t = 0.05)]
    pub trend_alpha: f64,
    /// Write every cell with events, not only cells with a pattern.
    #[arg(long)]
    pub all_cells: bool,
    /// The most cells the grid may have (the server sets its own limit).
    #[arg(skip = crate::grid::MAX_CELLS)]
    #[serde(skip)]
    pub max_cells: usize,
    /// The most bins of the cube (the server sets its own limit).
    #[arg(skip = MAX_BINS)]
    #[serde(skip)]
    pub max_bins: usize,
}

impl TrendRequest {
    /// Runs the analysis against `store`.
    pub fn run(&self, store: &dyn FeatureSource) -> crate::Result<Outcome> {
        run(store, self, None)
    }

    /// Runs the analysis against `store` with the gate's `protect` (see
    /// [`Protect`]): anchored cells, released events, and an empty product
    /// (not an error) when no released event is left.
    pub fn run_protected(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        run(store, self, protect)
    }

    /// The as-of time: given, else `--to`.
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of.or(self.events.filter.to)
    }
}

fn run(
    store: &dyn FeatureSource,
    args: &TrendRequest,
    protect: Option<&Protect<'_>>,
) -> crate::Result<Outcome> {
    positive_km("cell-km", Some(args.cell_km))?;
    positive_km("band-km", args.band_km)?;
    if args.step_days == 0 || args.step_days > MAX_STEP_DAYS {
        return Err(AnalysisError::param(
            "step-days",
            format!("between 1 and {MAX_STEP_DAYS} days"),
        )
        .into());
    }
    if args.window_steps == 0 || args.steps.is_some_and(|s| (args.window_steps as usize) > s) {
        return Err(
            AnalysisError::param("window-steps", "between 1 and the number of steps").into(),
        );
    }
    let area = match (&args.area, args.events.filter.bbox) {
        (Some(path), _) => Some(read_area(path)?),
        (None, Some(b)) => Some(Area::BBox(b)),
        (None, None) => None,
    };
    // Events after the as-of time are not read.
    let mut events_args = args.events.clone();
    events_args.filter.to = args.as_of();
    events_args
        .filter
        .event_filter()?
        .validate(args.events.layer)?;
    let params = TrendParams {
        grid: if args.grid == GridType::H3 {
            GridSpec::H3 {
                resolution: args.h3_resolution,
            }
        } else {
            GridSpec::Square {
                cell_m: args.cell_km * 1000.0,
            }
        },
        area,
        anchor: protect.map(|p| p.anchor),
        band_m: args.band_km.map(|b| b * 1000.0),
        step_s: i64::from(args.step_days) * 86_400,
        reference: args.reference.map(|t| t.timestamp()),
        as_of: events_args.filter.to.map(|t| t.timestamp()),
        from: args.events.filter.from.map(|t| t.timestamp()),
        steps: args.steps,
        window: args.window_steps as usize,
        fdr: !args.no_fdr,
        trend_alpha: args.trend_alpha,
        layer: args.events.layer,
        max_cells: args.max_cells,
        max_bins: args.max_bins,
    };
    let events = events_args.load_protected_shared(store, protect)?;
    let window =
        super::record::window_param(args.events.filter.from.map(|t| t.timestamp()), params.as_of);
    if protect.is_some() && events.is_empty() {
        let mut product = params.empty_product();
        super::record::stamp(&mut product, args, vec![("window", window)], store)?;
        return Ok(Outcome {
            product,
            summary: "trends: no released events".into(),
        });
    }
    let result = trends(&events, &params)?;
    let summary = format!(
        "trends: {} events on {} cells with events x {} steps of {} days to {}; band {:.1} km, window {}",
        result.cube.events,
        result.cube.len(),
        result.cube.steps(),
        args.step_days,
        DateTime::<Utc>::from_timestamp(result.cube.steps.end, 0)
            .map_or_else(String::new, |t| crate::model::time::format_time(&t)),
        result.band_m / 1000.0,
        args.window_steps,
    ) + "\n  "
        + &Pattern::ALL
            .iter()
            .filter(|&&p| p != Pattern::NoPattern)
            .map(|&p| format!("{p}: {}", result.count(p)))
            .collect::<Vec<_>>()
            .join(", ")
        + &result
            .warnings
            .iter()
            .map(|w| format!("\nwarning: {w}"))
            .collect::<String>();
    let mut product = result.to_product(args.all_cells);
    let mut applied = vec![("window", window)];
    applied.extend(super::record::grid_applied(&result.area, &result.cube.grid));
    super::record::stamp(&mut product, args, applied, store)?;
    Ok(Outcome { product, summary })
}
