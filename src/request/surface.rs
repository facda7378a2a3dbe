//! Arguments shared by the presence, threat, blind-spot and impact requests:
//! the time window, the grid, and the presence and threat parameters, with
//! how their defaults are resolved from the data.

use super::{positive_km, read_area};
use crate::analysis::coverage::CoverageParams;
use crate::analysis::kde::Kernel;
use crate::analysis::threat::ThreatParams;
use crate::analysis::AnalysisError;
use crate::grid::{Area, Grid, GridKind};
use crate::model::Layer;
use crate::store::FeatureSource;
use std::path::PathBuf;

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// Length of the default window, days.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;

/// The grid to compute on.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct GridArgs {
    /// Grid: square (equal-area, --cell-km) or h3 (hexagons, --h3-resolution).
    #[arg(long, value_enum, default_value_t = GridType::Square)]
    #[serde(serialize_with = "super::record::value_enum")]
    pub grid: GridType,
    /// Square cell size in km.
    #[arg(long, default_value_t = 5.0)]
    pub cell_km: f64,
    /// H3 resolution (0-15; 7 is about 5 km2 a cell).
    #[arg(long, default_value_t = 7)]
    pub h3_resolution: u8,
    /// Analysis area: a GeoJSON file of polygons (default: --bbox, else the extent of all layers,
    /// padded by the widest corridor, or the threat bandwidth for blindspots).
    #[arg(long, value_name = "FILE")]
    pub area: Option<PathBuf>,
    /// The most cells the grid may have (the server sets its own limit).
    #[arg(skip = crate::grid::MAX_CELLS)]
    #[serde(skip)]
    pub max_cells: usize,
}

impl GridArgs {
    /// Builds the grid over `--area`, else `bbox`, else the extent of every
    /// layer in the store padded by `pad_m`.
    pub fn build(
        &self,
        store: &dyn FeatureSource,
        bbox: Option<[f64; 4]>,
        pad_m: f64,
    ) -> crate::Result<Grid> {
        Ok(self.build_anchored(store, bbox, pad_m, None)?.0)
    }

    /// [`GridArgs::build`], with square cells on the lattice anchored at
    /// `anchor` when given (the gate's fixed mission grid); returns the
    /// grid with the area it covers.
    pub fn build_anchored(
        &self,
        store: &dyn FeatureSource,
        bbox: Option<[f64; 4]>,
        pad_m: f64,
        anchor: Option<[f64; 2]>,
    ) -> crate::Result<(Grid, Area)> {
        positive_km("cell-km", Some(self.cell_km))?;
        let area = match (&self.area, bbox) {
            (Some(path), _) => read_area(path)?,
            (None, Some(b)) => Area::BBox(b),
            (None, None) => Area::BBox(store_extent(store, pad_m)?),
        };
        let kind = if self.grid == GridType::H3 {
            GridKind::H3 {
                resolution: self.h3_resolution,
            }
        } else {
            GridKind::Square {
                cell_m: self.cell_km * 1000.0,
            }
        };
        let grid = Grid::build_anchored(&area, kind, self.max_cells, anchor)
            .map_err(AnalysisError::from)?;
        Ok((grid, area))
    }
}

/// The extent of every layer, padded by `pad_m`.
fn store_extent(store: &dyn FeatureSource, pad_m: f64) -> crate::Result<[f64; 4]> {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for layer in Layer::ALL {
        if let Some(e) = store.summary(layer)?.bbox {
            b = [
                b[0].min(e[0]),
                b[1].min(e[1]),
                b[2].max(e[2]),
                b[3].max(e[3]),
            ];
        }
    }
    if !b[0].is_finite() {
        return Err(AnalysisError::param("area", "the store is empty: nothing to map").into());
    }
    let dlat = pad_m / 111_320.0;
    let dlon = dlat / b[1].abs().max(b[3].abs()).to_radians().cos().max(0.05);
    Ok([
        (b[0] - dlon).max(-180.0),
        (b[1] - dlat).max(-90.0),
        (b[2] + dlon).min(180.0),
        (b[3] + dlat).min(90.0),
    ])
}

/// Resolves the window: `to` defaults to the latest time in the incidents,
/// sightings and patrols (the data's "now", so results are reproducible),
/// `from` to 90 days before `to`.
pub fn window(
    store: &dyn FeatureSource,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> crate::Result<(i64, i64)> {
    resolve_window(store, None, from, to, DEFAULT_WINDOW_DAYS)
}

/// Resolves the window as [`window`] does with `from` defaulting to
/// `default_days` before `to`; a window resolved from a default is then
/// restricted by the gate's `protect` as the given ones were (see
/// [`super::Protect::window`]).
pub fn resolve_window(
    store: &dyn FeatureSource,
    protect: Option<&super::Protect<'_>>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    default_days: i64,
) -> crate::Result<(i64, i64)> {
    let given = (from.is_some(), to.is_some());
    let defaulted = !(given.0 && given.1);
    let to = match to {
        Some(t) => t.timestamp(),
        None => {
            let mut last = None;
            for layer in [Layer::Incidents, Layer::Sightings, Layer::Patrols] {
                if let Some(s) = store.summary(layer)?.last {
                    if let Ok(t) = crate::model::time::parse_time(&s) {
                        last = last.max(Some(t.timestamp()));
                    }
                }
            }
            last.ok_or_else(|| {
                AnalysisError::param("to", "no dated incidents, sightings or patrols: give --to")
            })?
        }
    };
    let from = from.map_or(to - default_days * DAY, |t| t.timestamp());
    if from > to {
        return Err(AnalysisError::param("from", "the window starts after it ends").into());
    }
    // Only the ends resolved from defaults: a given end was restricted by
    // the gate already, and stays as it is.
    Ok(match protect {
        Some(p) if defaulted => {
            let (f, t) = (p.window)(from, to);
            let t = if given.1 { to } else { t };
            let f = if given.0 { from } else { f };
            (f.min(t), t)
        }
        _ => (from, to),
    })
}

/// Presence parameters.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PresenceArgs {
    /// Half-width in km seen either side of a foot patrol's track.
    #[arg(long, default_value_t = 2.0)]
    pub corridor_foot_km: f64,
    /// Half-width in km seen either side of a vehicle patrol's track.
    #[arg(long, default_value_t = 5.0)]
    pub corridor_vehicle_km: f64,
    /// Half-width in km seen either side of an air patrol's track.
    #[arg(long, default_value_t = 10.0)]
    pub corridor_air_km: f64,
    /// Half-width in km seen either side of a riverine (boat) patrol's track.
    #[arg(long, default_value_t = 3.0)]
    pub corridor_boat_km: f64,
    /// Half-life of a patrol visit's weight, days.
    #[arg(long, default_value_t = 30.0)]
    pub presence_half_life_days: f64,
    /// A report informs on cells within this many km.
    #[arg(long, default_value_t = 5.0)]
    pub info_radius_km: f64,
}

impl PresenceArgs {
    /// The coverage parameters for the window.
    pub fn params(&self, from: i64, to: i64) -> Result<CoverageParams, AnalysisError> {
        for (name, v) in [
            ("corridor-foot-km", self.corridor_foot_km),
            ("corridor-vehicle-km", self.corridor_vehicle_km),
            ("corridor-air-km", self.corridor_air_km),
            ("corridor-boat-km", self.corridor_boat_km),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(AnalysisError::param(
                    name,
                    "must be a non-negative number of km",
                ));
            }
        }
        let p = CoverageParams {
            from,
            to,
            corridor_m: [
                self.corridor_foot_km * 1000.0,
                self.corridor_vehicle_km * 1000.0,
                self.corridor_air_km * 1000.0,
                self.corridor_boat_km * 1000.0,
            ],
            half_life_days: self.presence_half_life_days,
            info_radius_m: self.info_radius_km * 1000.0,
        };
        p.validate()?;
        Ok(p)
    }
}

/// Threat parameters.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ThreatArgs {
    /// Smoothing kernel for the threat surface: quartic or gaussian.
    #[arg(long, value_enum, default_value_t = Kernel::Quartic)]
    #[serde(serialize_with = "super::record::value_enum")]
    pub kernel: Kernel,
    /// Kernel bandwidth in km (fixed, so that more events can only raise the threat).
    #[arg(long, default_value_t = 10.0)]
    pub bandwidth_km: f64,
    /// Half-life of an incident's or sighting's weight, days.
    #[arg(long, default_value_t = 60.0)]
    pub threat_half_life_days: f64,
    /// Weight of armed-group sightings against incidents.
    #[arg(long, default_value_t = 0.5)]
    pub sighting_factor: f64,
    /// Threat (weighted events per 100 km2) at which likelihood reaches 2,3,4,5.
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 2.0, 4.0, 8.0])]
    pub likelihood_breaks: Vec<f64>,
    /// A civilian site within this many km of a cell counts for its vulnerability.
    #[arg(long, default_value_t = 5.0)]
    pub site_radius_km: f64,
}

impl ThreatArgs {
    /// The threat parameters for the window.
    pub fn params(&self, from: i64, to: i64) -> Result<ThreatParams, AnalysisError> {
        let breaks = <[f64; 4]>::try_from(self.likelihood_breaks.as_slice()).map_err(|_| {
            AnalysisError::param(
                "likelihood-breaks",
                "need exactly 4 comma-separated numbers",
            )
        })?;
        let p = ThreatParams {
            kernel: self.kernel,
            bandwidth_m: self.bandwidth_km * 1000.0,
            half_life_days: self.threat_half_life_days,
            sighting_factor: self.sighting_factor,
            likelihood_breaks: breaks,
            site_radius_m: self.site_radius_km * 1000.0,
            ..ThreatParams::new(from, to)
        };
        p.validate()?;
        Ok(p)
    }
}

/// Events of `layer` as the gate releases them when `protect` is given
/// (see [`super::Protect`]); unchanged otherwise.
pub fn released(
    protect: Option<&super::Protect<'_>>,
    layer: Layer,
    events: crate::analysis::Events,
    window: (i64, i64),
    bbox: Option<[f64; 4]>,
) -> crate::analysis::Events {
    match protect {
        Some(p) => (p.release)(layer, events, (Some(window.0), Some(window.1)), bbox),
        None => events,
    }
}

/// The bbox to read with: widened by the protection margin when `protect`
/// is given, so that whole groups are read.
pub fn read_bbox(protect: Option<&super::Protect<'_>>, bbox: Option<[f64; 4]>) -> Option<[f64; 4]> {
    match protect {
        Some(p) => bbox.map(|b| super::widen_bbox(b, p.margin_m)),
        None => bbox,
    }
}

/// The kind of grid an analysis runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GridType {
    /// Equal-area square cells (`--cell-km`).
    Square,
    /// H3 hexagons (`--h3-resolution`).
    H3,
}
