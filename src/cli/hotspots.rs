//! `jointmap hotspots`

use super::analysis_args::EventArgs;
use super::Cli;
use crate::analysis::fdr::HotspotClass;
use crate::analysis::getis_ord::Transform;
use crate::analysis::hotspots::{hotspots, GridSpec, HotspotParams, Neighbours};
use crate::analysis::kde::Kernel;
use crate::analysis::AnalysisError;
use crate::grid::Area;
use std::path::PathBuf;

/// Arguments of `jointmap hotspots`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which events, their weight, and the output.
    #[command(flatten)]
    pub events: EventArgs,
    /// Grid: square (equal-area, --cell-km) or h3 (hexagons, --h3-resolution).
    #[arg(long, default_value = "square", value_parser = ["square", "h3"])]
    pub grid: String,
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
    #[arg(long, default_value = "quartic", value_parser = ["quartic", "gaussian"])]
    pub kernel: String,
    /// Kernel bandwidth in km (default: a rule of thumb from the data, reported in the output).
    #[arg(long)]
    pub bandwidth_km: Option<f64>,
    /// Gi* distance band in km (default: chosen from the grid, reported in the output).
    #[arg(long, conflicts_with = "knn")]
    pub band_km: Option<f64>,
    /// Use the k nearest cells as neighbours instead of a distance band.
    #[arg(long)]
    pub knn: Option<usize>,
    /// Gi* weights: binary or row (row-standardised).
    #[arg(long, default_value = "binary", value_parser = ["binary", "row"])]
    pub transform: String,
    /// Do not correct hot/cold classes for multiple testing (FDR is on by default).
    #[arg(long)]
    pub no_fdr: bool,
    /// Permutations for Local Moran's I (0 skips it).
    #[arg(long, default_value_t = 99)]
    pub permutations: usize,
    /// Seed for the permutations.
    #[arg(long, default_value_t = 20261123)]
    pub seed: u64,
    /// Write every cell, not only cells with events or a significant result.
    #[arg(long)]
    pub all_cells: bool,
}

/// Reads polygons from a GeoJSON file (FeatureCollection, Feature or geometry).
fn read_area(path: &PathBuf) -> crate::Result<Area> {
    use crate::model::geometry::{parse_geometry, GeomKind};
    let bad =
        |reason: String| AnalysisError::param("area", format!("{}: {reason}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let geoms: Vec<&serde_json::Value> = match v.get("type").and_then(|t| t.as_str()) {
        Some("FeatureCollection") => v["features"]
            .as_array()
            .map(|a| a.iter().map(|f| &f["geometry"]).collect())
            .unwrap_or_default(),
        Some("Feature") => vec![&v["geometry"]],
        _ => vec![&v],
    };
    let mut polys = Vec::new();
    for (i, g) in geoms.into_iter().enumerate() {
        match parse_geometry(g, &[GeomKind::Polygon, GeomKind::MultiPolygon])
            .map_err(|e| bad(format!("feature #{i}: {e}")))?
        {
            geo_types::Geometry::Polygon(p) => polys.push(p),
            geo_types::Geometry::MultiPolygon(m) => polys.extend(m.0),
            _ => {}
        }
    }
    if polys.is_empty() {
        return Err(bad("no polygons".into()).into());
    }
    Ok(Area::Polygon(geo_types::MultiPolygon(polys)))
}

pub(super) fn run(cli: &Cli, args: &Args) -> crate::Result<()> {
    let positive = |name: &'static str, v: Option<f64>| match v {
        Some(x) if !(x.is_finite() && x > 0.0) => Err(AnalysisError::param(
            name,
            "must be a positive number of km",
        )),
        _ => Ok(()),
    };
    positive("cell-km", Some(args.cell_km))?;
    positive("bandwidth-km", args.bandwidth_km)?;
    positive("band-km", args.band_km)?;
    let area = match (&args.area, args.events.bbox) {
        (Some(path), _) => Some(read_area(path)?),
        (None, Some(b)) => Some(Area::BBox(b)),
        (None, None) => None,
    };
    let params = HotspotParams {
        grid: if args.grid == "h3" {
            GridSpec::H3 {
                resolution: args.h3_resolution,
            }
        } else {
            GridSpec::Square {
                cell_m: args.cell_km * 1000.0,
            }
        },
        area,
        kernel: if args.kernel == "gaussian" {
            Kernel::Gaussian
        } else {
            Kernel::Quartic
        },
        bandwidth_m: args.bandwidth_km.map(|b| b * 1000.0),
        neighbours: match (args.band_km, args.knn) {
            (Some(d), _) => Neighbours::DistanceBand(d * 1000.0),
            (None, Some(k)) => Neighbours::Knn(k),
            (None, None) => Neighbours::Auto,
        },
        transform: if args.transform == "row" {
            Transform::RowStandardized
        } else {
            Transform::Binary
        },
        fdr: !args.no_fdr,
        permutations: args.permutations,
        seed: args.seed,
    };
    let store = super::existing_store(cli)?;
    let events = args.events.load(&store)?;
    let result = hotspots(&events, &params)?;
    if !cli.quiet {
        let count = |c: HotspotClass| result.cells.iter().filter(|x| x.class == c).count();
        eprintln!(
            "hotspots: {} events on {} cells ({} outside the area); bandwidth {:.1} km; {}",
            result.events,
            result.grid.cells.len(),
            result.outside,
            result.bandwidth_m / 1000.0,
            result.band_m.map_or_else(
                || "k nearest neighbours".to_string(),
                |b| format!("distance band {:.1} km", b / 1000.0)
            ),
        );
        eprintln!(
            "  hot cells 99/95/90 %: {}/{}/{}; cold cells 99/95/90 %: {}/{}/{}{}",
            count(HotspotClass::Hot99),
            count(HotspotClass::Hot95),
            count(HotspotClass::Hot90),
            count(HotspotClass::Cold99),
            count(HotspotClass::Cold95),
            count(HotspotClass::Cold90),
            if params.fdr { " (FDR-corrected)" } else { "" }
        );
    }
    args.events.write(&result.to_geojson(args.all_cells))
}
