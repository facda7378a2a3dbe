//! The presence request (`jointmap coverage`, `/analysis/coverage`): patrol
//! effort, base reach and information coverage per grid cell.

use super::record::{grid_applied, stamp, window_param};
use super::surface::{
    read_bbox, released, resolve_window, GridArgs, PresenceArgs, DEFAULT_WINDOW_DAYS,
};
use super::{parse_bbox, parse_time_arg, parse_to_arg, Outcome, Protect};
use crate::analysis::coverage::{coverage, load_presence};
use crate::analysis::events::{load_events, EventFilter, Weight};
use crate::analysis::{AnalysisError, Events};
use crate::model::Layer;
use crate::store::FeatureSource;
use chrono::{DateTime, Utc};

/// Parameters of the presence surface.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CoverageRequest {
    /// Window start (default: 90 days before --to).
    #[arg(long, value_parser = parse_time_arg)]
    #[serde(serialize_with = "super::record::time")]
    pub from: Option<DateTime<Utc>>,
    /// Window end and "as of" time (default: the latest incident, sighting or patrol).
    #[arg(long, value_parser = parse_to_arg)]
    #[serde(serialize_with = "super::record::time")]
    pub to: Option<DateTime<Utc>>,
    /// Only data within min_lon,min_lat,max_lon,max_lat (also the default area).
    #[arg(long, value_parser = parse_bbox, allow_hyphen_values = true)]
    pub bbox: Option<[f64; 4]>,
    /// The grid.
    #[command(flatten)]
    #[serde(flatten)]
    pub grid: GridArgs,
    /// Presence parameters.
    #[command(flatten)]
    #[serde(flatten)]
    pub presence: PresenceArgs,
    /// Write every cell, not only cells with some presence or report.
    #[arg(long)]
    pub all_cells: bool,
}

/// Incidents and sightings in the window: the mission's information.
pub fn load_reports(
    store: &dyn FeatureSource,
    from: i64,
    to: i64,
    bbox: Option<[f64; 4]>,
) -> Result<Events, AnalysisError> {
    let filter = EventFilter {
        from: DateTime::from_timestamp(from, 0),
        to: DateTime::from_timestamp(to, 0),
        bbox,
        ..Default::default()
    };
    let mut all = load_events(store, Layer::Incidents, &filter, &Weight::Count)?;
    all.extend_from(&load_events(
        store,
        Layer::Sightings,
        &filter,
        &Weight::Count,
    )?);
    Ok(all)
}

impl CoverageRequest {
    /// Runs the analysis against `store`.
    pub fn run(&self, store: &dyn FeatureSource) -> crate::Result<Outcome> {
        self.run_protected(store, None)
    }

    /// Runs the analysis with the gate's `protect` (see [`Protect`]):
    /// anchored cells, released reports.
    pub fn run_protected(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        let (from, to) = resolve_window(store, protect, self.from, self.to, DEFAULT_WINDOW_DAYS)?;
        let params = self.presence.params(from, to)?;
        let pad = params.corridor_m.iter().fold(0.0f64, |a, b| a.max(*b));
        let (grid, area) =
            self.grid
                .build_anchored(store, self.bbox, pad, protect.map(|p| p.anchor))?;
        let presence = load_presence(store, from, to, self.bbox)?;
        let reports = released(
            protect,
            Layer::Incidents,
            load_reports(store, from, to, read_bbox(protect, self.bbox))?,
            (from, to),
            self.bbox,
        );
        let result = coverage(&grid, &presence, &reports, &params)?;
        let covered = result.cells.iter().filter(|c| c.presence >= 0.5).count();
        let summary = format!(
            "coverage: {} patrols and {} active bases on {} cells; {} cells ({:.0} %) with presence >= 0.5; {} reports",
            result.patrols_used,
            result.bases_active,
            grid.len(),
            covered,
            100.0 * covered as f64 / grid.len().max(1) as f64,
            reports.len()
        );
        let mut product = result.to_product(&grid, self.all_cells);
        let resolved = CoverageRequest {
            from: DateTime::from_timestamp(from, 0),
            to: DateTime::from_timestamp(to, 0),
            ..self.clone()
        };
        let mut applied = vec![("window", window_param(Some(from), Some(to)))];
        applied.extend(grid_applied(&area, &grid));
        stamp(&mut product, &resolved, applied, store)?;
        Ok(Outcome { product, summary })
    }
}
