//! The impact request (`jointmap impact`, `/analysis/impact`): incident
//! counts before and after patrol or base presence began, against
//! comparable cells without presence. Association, not proof.

use super::events::FilterArgs;
use super::record::{grid_applied, stamp, window_param};
use super::surface::{read_bbox, released, resolve_window, GridArgs, PresenceArgs, DAY};
use super::{Outcome, Protect};
use crate::analysis::coverage::load_presence;
use crate::analysis::events::load_events;
use crate::analysis::impact::{impact, ImpactParams};
use crate::analysis::visits::patrol_visits;
use crate::model::Layer;
use crate::store::FeatureSource;
use chrono::DateTime;

/// Parameters of the impact comparison.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImpactRequest {
    /// Which incidents are counted (--from/--to: the period in which presence
    /// onsets are sought; by default the 365 days up to the latest data).
    #[command(flatten)]
    #[serde(flatten)]
    pub incidents: FilterArgs,
    /// The grid.
    #[command(flatten)]
    #[serde(flatten)]
    pub grid: GridArgs,
    /// Presence parameters (what counts as a patrol visit).
    #[command(flatten)]
    #[serde(flatten)]
    pub presence: PresenceArgs,
    /// Length of the before and after windows, days.
    #[arg(long, default_value_t = 30)]
    pub window_days: i64,
}

/// Length of the default impact period, days.
const DEFAULT_PERIOD_DAYS: i64 = 365;

impl ImpactRequest {
    /// Runs the analysis against `store`.
    pub fn run(&self, store: &dyn FeatureSource) -> crate::Result<Outcome> {
        self.run_protected(store, None)
    }

    /// Runs the analysis with the gate's `protect` (see [`Protect`]):
    /// anchored cells, released incidents.
    pub fn run_protected(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        let (from, to) = resolve_window(
            store,
            protect,
            self.incidents.from,
            self.incidents.to,
            DEFAULT_PERIOD_DAYS,
        )?;
        let params = ImpactParams {
            from,
            to,
            window_days: self.window_days,
        };
        params.validate()?;
        let w = self.window_days * DAY;
        let cov = self.presence.params(from - w, to)?;
        let bbox = self.incidents.bbox;
        let pad = cov.corridor_m.iter().fold(0.0f64, |a, b| a.max(*b));
        let (grid, area) = self
            .grid
            .build_anchored(store, bbox, pad, protect.map(|p| p.anchor))?;
        let presence = load_presence(store, from - w, to, bbox)?;
        let visits = patrol_visits(&grid, &presence, &cov)?;
        let mut filter = self.incidents.event_filter()?;
        filter.from = DateTime::from_timestamp(from - w, 0);
        filter.to = DateTime::from_timestamp(to, 0);
        filter.bbox = read_bbox(protect, bbox);
        let weight = self.incidents.weight.parse()?;
        let incidents = released(
            protect,
            Layer::Incidents,
            load_events(store, Layer::Incidents, &filter, &weight)?,
            (from - w, to),
            bbox,
        );
        let result = impact(&grid, &presence, &visits, &incidents, &params)?;
        let mut summary = format!(
            "impact: {} incidents, {} patrols, {} bases on {} cells; {} onsets in {} groups (association, not proof)",
            incidents.len(),
            presence.patrols.len(),
            presence.bases.len(),
            grid.len(),
            result.treated.len(),
            result.groups.len()
        );
        for g in &result.groups {
            summary.push_str(&format!(
                "\n  {} {:<12} cells {:>6}  before {:>6} after {:>6}  comparable cells: before {:>8.1} after {:>8.1}  did {:+.1}",
                g.kind, g.key, g.cells, g.before, g.after, g.control_before, g.control_after, g.did()
            ));
        }
        let mut product = result.to_product(&grid);
        let mut resolved = self.clone();
        resolved.incidents.from = DateTime::from_timestamp(from, 0);
        resolved.incidents.to = DateTime::from_timestamp(to, 0);
        // The incidents counted reach one window before the period.
        let mut applied = vec![
            ("window", window_param(Some(from), Some(to))),
            ("incidents_window", window_param(Some(from - w), Some(to))),
        ];
        applied.extend(grid_applied(&area, &grid));
        stamp(&mut product, &resolved, applied, store)?;
        Ok(Outcome { product, summary })
    }
}
