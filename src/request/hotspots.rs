//! The hotspot request (`jointmap hotspots`, `/analysis/hotspots`).

use super::events::EventArgs;
use super::surface::GridType;
use super::{positive_km, read_area, Outcome, Protect};
use crate::analysis::fdr::HotspotClass;
use crate::analysis::getis_ord::Transform;
use crate::analysis::hotspots::{hotspots, GridSpec, HotspotParams, Neighbours};
use crate::analysis::kde::Kernel;
use crate::grid::Area;
use crate::store::FeatureSource;
use std::path::PathBuf;

/// Parameters of a hotspot analysis.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct HotspotRequest {
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
    /// H3 resolution (0-15; 7 is about 5 km2 a cell).
    #[arg(long, default_value_t = 7)]
    pub h3_resolution: u8,
    /// Analysis area: a GeoJSON file of polygons (default: --bbox, else the events' extent).
    #[arg(long, value_name = "FILE")]
    pub area: Option<PathBuf>,
    /// Density kernel: quartic (as QGIS and ArcGIS) or gaussian.
    #[arg(long, value_enum, default_value_t = Kernel::Quartic)]
    #[serde(serialize_with = "super::record::value_enum")]
    pub kernel: Kernel,
    /// Kernel bandwidth in km (default: a rule of thumb from the data, reported in the output).
    #[arg(long)]
    pub bandwidth_km: Option<f64>,
    /// Gi* distance band in km (default: on H3 grids the ring-1 cells, on
    /// square grids a band chosen from the grid, reported in the output).
    #[arg(long, conflicts_with_all = ["knn", "rings"])]
    pub band_km: Option<f64>,
    /// Use the k nearest cells as neighbours instead of a distance band.
    #[arg(long, conflicts_with = "rings")]
    pub knn: Option<usize>,
    /// Use the cells within this many grid steps as neighbours (contiguity:
    /// H3 grid_disk, queen blocks on square grids; 1..=10).
    #[arg(long)]
    pub rings: Option<u32>,
    /// Gi* weights: binary or row (row-standardised).
    #[arg(long, value_enum, default_value_t = Transform::Binary)]
    #[serde(serialize_with = "super::record::value_enum")]
    pub transform: Transform,
    /// Do not correct hot/cold classes and Local Moran types for multiple
    /// testing (FDR is on by default).
    #[arg(long)]
    pub no_fdr: bool,
    /// Permutations for Local Moran's I, each cell exactly that many (0 skips
    /// it). Default: up to 999 per cell, raised with the FDR correction until
    /// one cell can pass it alone (tested cells / 0.05 - 1, at most 999,999),
    /// drawn sequentially: a cell stops after 10 draws as extreme as its own
    /// value (reported in the output).
    #[arg(long)]
    pub permutations: Option<usize>,
    /// Seed for the permutations.
    #[arg(long, default_value_t = 20261123)]
    pub seed: u64,
    /// Write every cell, not only cells with events or a significant result
    /// with an event in the neighbourhood.
    #[arg(long)]
    pub all_cells: bool,
    /// The most cells the grid may have (the server sets its own limit).
    #[arg(skip = crate::grid::MAX_CELLS)]
    #[serde(skip)]
    pub max_cells: usize,
    /// The most permutations the default may choose (the server sets its
    /// own budget).
    #[arg(skip = crate::analysis::hotspots::MAX_AUTO_PERMUTATIONS)]
    #[serde(skip)]
    pub max_auto_permutations: usize,
}

impl HotspotRequest {
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
}

fn run(
    store: &dyn FeatureSource,
    args: &HotspotRequest,
    protect: Option<&Protect<'_>>,
) -> crate::Result<Outcome> {
    positive_km("cell-km", Some(args.cell_km))?;
    positive_km("bandwidth-km", args.bandwidth_km)?;
    positive_km("band-km", args.band_km)?;
    let area = match (&args.area, args.events.filter.bbox) {
        (Some(path), _) => Some(read_area(path)?),
        (None, Some(b)) => Some(Area::BBox(b)),
        (None, None) => None,
    };
    let params = HotspotParams {
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
        kernel: args.kernel,
        bandwidth_m: args.bandwidth_km.map(|b| b * 1000.0),
        neighbours: match (args.band_km, args.knn, args.rings) {
            (Some(d), _, _) => Neighbours::DistanceBand(d * 1000.0),
            (None, Some(k), _) => Neighbours::Knn(k),
            (None, None, Some(r)) => Neighbours::Rings(r),
            (None, None, None) => Neighbours::Auto,
        },
        transform: args.transform,
        fdr: !args.no_fdr,
        permutations: args.permutations,
        max_auto_permutations: args.max_auto_permutations,
        seed: args.seed,
        anchor: protect.map(|p| p.anchor),
        layer: args.events.layer,
        min_bandwidth_m: protect.map_or(0.0, |p| p.cell_m),
        max_cells: args.max_cells,
    };
    args.events
        .filter
        .event_filter()?
        .validate(args.events.layer)?;
    let events = args.events.load_protected_shared(store, protect)?;
    let window = super::record::window_param(
        args.events.filter.from.map(|t| t.timestamp()),
        args.events.filter.to.map(|t| t.timestamp()),
    );
    if protect.is_some() && events.is_empty() {
        let mut product = params.empty_product();
        super::record::stamp(&mut product, args, vec![("window", window)], store)?;
        return Ok(Outcome {
            product,
            summary: "hotspots: no released events".into(),
        });
    }
    let result = hotspots(&events, &params)?;
    let summary = {
        let count = |c: HotspotClass| result.cells.iter().filter(|x| x.class == Some(c)).count();
        format!(
            "hotspots: {} events on {} cells ({} outside the area); bandwidth {:.1} km; {}",
            result.events,
            result.grid.cells.len(),
            result.outside,
            result.bandwidth_m / 1000.0,
            result.neighbours_text(),
        ) + &format!(
            "\n  hot cells 99/95/90 %: {}/{}/{}; cold cells 99/95/90 %: {}/{}/{}{}",
            count(HotspotClass::Hot99),
            count(HotspotClass::Hot95),
            count(HotspotClass::Hot90),
            count(HotspotClass::Cold99),
            count(HotspotClass::Cold95),
            count(HotspotClass::Cold90),
            if params.fdr { " (FDR-corrected)" } else { "" }
        ) + &result
            .warnings
            .iter()
            .map(|w| format!("\nwarning: {w}"))
            .collect::<String>()
    };
    let mut product = result.to_product(args.all_cells);
    let mut applied = vec![("window", window)];
    applied.extend(super::record::grid_applied(&result.area, &result.grid));
    super::record::stamp(&mut product, args, applied, store)?;
    Ok(Outcome { product, summary })
}
