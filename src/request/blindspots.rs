//! The blind-spot request (`jointmap blindspots`, `/analysis/blindspots`):
//! presence, threat and risk on one grid, and the ranked blind spots.

use super::coverage::load_reports;
use super::events::FilterArgs;
use super::record::{grid_applied, stamp, window_param};
use super::surface::{
    read_bbox, released, resolve_window, GridArgs, PresenceArgs, ThreatArgs, DEFAULT_WINDOW_DAYS,
};
use super::{Outcome, Protect};
use crate::analysis::blindspots::{blindspots, BlindSpotKind, BlindSpotParams};
use crate::analysis::coverage::{coverage, load_presence};
use crate::analysis::events::load_events;
use crate::analysis::threat::{load_sightings, load_sites, threat, RiskLevel};
use crate::model::Layer;
use crate::store::FeatureSource;
use chrono::DateTime;

/// Parameters of the blind-spot analysis.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct BlindspotRequest {
    /// Which incidents make the threat, and what each weighs (--from/--to
    /// are the window: by default the 90 days up to the latest data).
    #[command(flatten)]
    #[serde(flatten)]
    pub incidents: FilterArgs,
    /// The grid.
    #[command(flatten)]
    #[serde(flatten)]
    pub grid: GridArgs,
    /// Presence parameters.
    #[command(flatten)]
    #[serde(flatten)]
    pub presence: PresenceArgs,
    /// Threat parameters.
    #[command(flatten)]
    #[serde(flatten)]
    pub threat: ThreatArgs,
    /// Lowest risk level that counts as high threat: low, medium, high, extreme.
    #[arg(long, default_value = "high")]
    #[serde(serialize_with = "super::record::risk")]
    pub min_risk: RiskLevel,
    /// Presence below this is "no regular presence" (0-1).
    #[arg(long, default_value_t = 0.5)]
    pub max_presence: f64,
    /// Information blind spots lie within this many km of a hot spot.
    #[arg(long, default_value_t = 10.0)]
    pub info_margin_km: f64,
    /// Priority multiplier for a blind spot holding a significant hot spot.
    #[arg(long, default_value_t = 1.5)]
    pub hotspot_bonus: f64,
    /// Also write the risk surface: every cell with some threat or presence.
    #[arg(long)]
    pub cells: bool,
}

impl BlindspotRequest {
    /// Runs the analysis against `store`.
    pub fn run(&self, store: &dyn FeatureSource) -> crate::Result<Outcome> {
        self.run_protected(store, None)
    }

    /// Runs the analysis with the gate's `protect` (see [`Protect`]):
    /// anchored cells, released incidents and sightings.
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
            DEFAULT_WINDOW_DAYS,
        )?;
        let bbox = self.incidents.bbox;
        let cov_params = self.presence.params(from, to)?;
        let threat_params = self.threat.params(from, to)?;
        let params = BlindSpotParams {
            min_risk: self.min_risk,
            max_presence: self.max_presence,
            info_margin_m: self.info_margin_km * 1000.0,
            hotspot_bonus: self.hotspot_bonus,
        };
        params.validate()?;
        let (grid, area) = self.grid.build_anchored(
            store,
            bbox,
            threat_params.bandwidth_m,
            protect.map(|p| p.anchor),
        )?;
        let mut filter = self.incidents.event_filter()?;
        filter.from = DateTime::from_timestamp(from, 0);
        filter.to = DateTime::from_timestamp(to, 0);
        filter.bbox = read_bbox(protect, bbox);
        let weight = self.incidents.weight.parse()?;
        let incidents = released(
            protect,
            Layer::Incidents,
            load_events(store, Layer::Incidents, &filter, &weight)?,
            (from, to),
            bbox,
        );
        let sightings = released(
            protect,
            Layer::Sightings,
            load_sightings(store, from, to, read_bbox(protect, bbox))?,
            (from, to),
            bbox,
        );
        let sites = load_sites(store, bbox, to)?;
        let presence = load_presence(store, from, to, bbox)?;
        // Every incident and sighting of the window informs; reuse what is
        // loaded when the incident filter keeps them all.
        let reports = if self.incidents.is_plain() {
            let mut r = incidents.clone();
            r.extend_from(&sightings);
            r
        } else {
            released(
                protect,
                Layer::Incidents,
                load_reports(store, from, to, read_bbox(protect, bbox))?,
                (from, to),
                bbox,
            )
        };
        let cov = coverage(&grid, &presence, &reports, &cov_params)?;
        let thr = threat(&grid, &incidents, &sightings, &sites, &threat_params)?;
        let result = blindspots(&grid, &thr, &cov, &presence, &params)?;
        let (mut n_threat, mut area_threat, mut n_info, mut area_info) = (0, 0.0, 0, 0.0);
        for s in &result.spots {
            match s.kind {
                BlindSpotKind::Threat => {
                    n_threat += 1;
                    area_threat += s.area_km2;
                }
                BlindSpotKind::Information => {
                    n_info += 1;
                    area_info += s.area_km2;
                }
            }
        }
        let summary = format!(
            "blindspots: {} incidents, {} sightings, {} patrols, {} active bases, {} sites on {} cells\n  \
             {} threat blind spots ({:.0} km2), {} information blind spots ({:.0} km2)",
            incidents.len(),
            sightings.len(),
            cov.patrols_used,
            cov.bases_active,
            sites.len(),
            grid.len(),
            n_threat,
            area_threat,
            n_info,
            area_info
        );
        let mut product = result.to_product(&grid, &thr, &cov, &presence, self.cells);
        let mut resolved = self.clone();
        resolved.incidents.from = DateTime::from_timestamp(from, 0);
        resolved.incidents.to = DateTime::from_timestamp(to, 0);
        let mut applied = vec![("window", window_param(Some(from), Some(to)))];
        applied.extend(grid_applied(&area, &grid));
        stamp(&mut product, &resolved, applied, store)?;
        Ok(Outcome { product, summary })
    }
}
