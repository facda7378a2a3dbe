//! The hotspot layer: events aggregated on a grid, with kernel density,
//! Getis-Ord Gi* (hot and cold spots, FDR-corrected classes) and Anselin Local
//! Moran's I (clusters and outliers) per cell, in one pass over the grid.

use super::fdr::{classify, HotspotClass};
use super::getis_ord::{gi_star, Transform};
use super::kde::{default_bandwidth, kde, Kernel};
use super::local_moran::{local_moran_sequential, local_moran_tested};
use super::product::{Field, Item, Param, Product, ProductGrid, Shape};
use super::weights::{auto_distance_band, Weights};
use super::{AnalysisError, Events};
use crate::grid::{Area, Grid, GridKind};
use crate::model::Layer;

/// Which grid to aggregate on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GridSpec {
    /// Square cells of this size in metres on an equal-area projection.
    Square {
        /// Cell side in metres.
        cell_m: f64,
    },
    /// H3 hexagons at this resolution.
    H3 {
        /// 0..15.
        resolution: u8,
    },
}

/// Who counts as a cell's neighbour for Gi* and Local Moran's I.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Neighbours {
    /// On H3 grids the ring-1 cells (contiguity, as [`Neighbours::Rings`]
    /// with 1); on square grids a distance band chosen from the data (see
    /// [`auto_distance_band`]) and reported.
    Auto,
    /// The cells within this many grid steps ([`Weights::grid_disk`]: H3's
    /// `grid_disk`, queen blocks on square grids).
    Rings(u32),
    /// Cells whose centres lie within this many metres.
    DistanceBand(f64),
    /// The k nearest cells.
    Knn(usize),
}

/// Parameters of a hotspot analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct HotspotParams {
    /// The grid.
    pub grid: GridSpec,
    /// The area; by default the events' extent padded by one cell and the
    /// bandwidth given, or by three cells when the bandwidth is by rule.
    pub area: Option<Area>,
    /// Kernel for the density surface.
    pub kernel: Kernel,
    /// Kernel bandwidth in metres; by default the rule in [`default_bandwidth`].
    pub bandwidth_m: Option<f64>,
    /// Neighbourhood for Gi* and Local Moran's I.
    pub neighbours: Neighbours,
    /// Weights transform for Gi*.
    pub transform: Transform,
    /// Correct the hot/cold classes and the Local Moran types for multiple
    /// testing (Benjamini-Hochberg).
    pub fdr: bool,
    /// Permutations for Local Moran's I inference (0 skips Local Moran's I);
    /// `None`: chosen from the tested cells by [`auto_permutations`].
    pub permutations: Option<usize>,
    /// The most permutations [`auto_permutations`] may choose (a server
    /// sets its own budget).
    pub max_auto_permutations: usize,
    /// Seed of the permutations.
    pub seed: u64,
    /// Anchor (lon, lat) of square grids: cells on whole multiples of the
    /// cell size from it, whatever the area ([`Grid::square_anchored`]);
    /// `None` centres the grid on the area.
    pub anchor: Option<[f64; 2]>,
    /// The layer the events come from (what the cells' counts count).
    pub layer: Layer,
    /// The smallest default bandwidth, metres (events released at cell
    /// centres: no narrower kernel means anything); also the bandwidth when
    /// the rule finds no spread. 0: none.
    pub min_bandwidth_m: f64,
    /// The most cells the grid may have (refused before it is built).
    pub max_cells: usize,
}

impl Default for HotspotParams {
    fn default() -> Self {
        HotspotParams {
            grid: GridSpec::Square { cell_m: 5_000.0 },
            area: None,
            kernel: Kernel::Quartic,
            bandwidth_m: None,
            neighbours: Neighbours::Auto,
            transform: Transform::Binary,
            fdr: true,
            permutations: None,
            max_auto_permutations: MAX_AUTO_PERMUTATIONS,
            seed: 20261123,
            anchor: None,
            layer: Layer::Incidents,
            min_bandwidth_m: 0.0,
            max_cells: crate::grid::MAX_CELLS,
        }
    }
}

/// One grid cell's results.
#[derive(Debug, Clone, PartialEq)]
pub struct HotspotCell {
    /// Cell index in the grid.
    pub cell: usize,
    /// Count or weighted sum of the events in the cell.
    pub value: f64,
    /// Kernel density at the cell centre (weight per km2).
    pub density: f64,
    /// Gi* z-score.
    pub z: f64,
    /// Gi* two-sided p-value (NaN when the cell is not tested).
    pub p: f64,
    /// Hot/cold class; `None` when the cell is not tested.
    pub class: Option<HotspotClass>,
    /// Local Moran's I (NaN when skipped).
    pub moran_i: f64,
    /// Its pseudo p-value (NaN when skipped or the cell is not tested).
    pub moran_p: f64,
    /// Cluster/outlier type when significant at 0.05 (FDR-corrected when
    /// the parameters say so): HH, LL, HL, LH.
    pub moran_type: Option<String>,
    /// Whether the cell or one of its neighbours holds an event: whether it
    /// is tested (see [`tested_cells`]).
    pub events_nearby: bool,
    /// Events in the cell (whatever their weight): for the access gate's
    /// minimum count.
    pub count: u64,
    /// Of which sexual-violence or child cases.
    pub count_sensitive: u64,
}

impl HotspotCell {
    /// Whether the cell is a significant Gi* hot or cold spot or a
    /// significant Local Moran cluster or outlier (only tested cells can be).
    pub fn significant(&self) -> bool {
        self.class.is_some_and(|c| c.is_significant()) || self.moran_type.is_some()
    }
}

/// A hotspot analysis: the grid, per-cell results and what was chosen.
#[derive(Debug, Clone)]
pub struct Hotspots {
    /// The grid the events were aggregated on.
    pub grid: Grid,
    /// One entry per grid cell, in grid order.
    pub cells: Vec<HotspotCell>,
    /// Events analysed.
    pub events: usize,
    /// Events outside the area (not counted).
    pub outside: usize,
    /// Kernel bandwidth used, metres.
    pub bandwidth_m: f64,
    /// Distance band used, metres (None with k nearest neighbours).
    pub band_m: Option<f64>,
    /// The area the grid covers (the default one resolved).
    pub area: Area,
    /// The parameters.
    pub params: HotspotParams,
    /// Local Moran's I permutations run (`params.permutations`, or the
    /// number [`auto_permutations`] chose).
    pub permutations: usize,
    /// What an analyst should know before reading the map (sparse data,
    /// too few permutations for the correction), in plain words.
    pub warnings: Vec<String>,
}

/// Significance level of Local Moran's I clusters and outliers.
pub const MORAN_ALPHA: f64 = 0.05;

/// Local Moran's I permutations without the correction, and the least with
/// it: GeoDa's default.
pub const BASE_PERMUTATIONS: usize = 999;

/// The most permutations [`auto_permutations`] chooses on the command line.
pub const MAX_AUTO_PERMUTATIONS: usize = 999_999;

/// By default a cell stops drawing once this many draws are at least as
/// extreme as its observed value (sequential p-values, Besag and Clifford
/// 1991; see [`local_moran_sequential`]).
pub const SEQUENTIAL_H: usize = 10;

/// The default number of Local Moran's I permutations over `tested` cells:
/// [`BASE_PERMUTATIONS`] (999), raised when the false discovery rate
/// correction is on to the least `R` whose smallest attainable pseudo
/// p-value, `1 / (R + 1)`, passes the Benjamini-Hochberg line of a single
/// cell, `alpha / tested` (so `R + 1 >= tested / alpha`); at most `cap`.
/// Without the raise, 999 permutations over 8,487 tested cells (the README
/// example) cannot call any cell significant unless 170 of them reach the
/// floor together. The default runs them sequentially ([`SEQUENTIAL_H`]), so
/// only the cells near significance draw that many.
pub fn auto_permutations(tested: usize, fdr: bool, cap: usize) -> usize {
    if !fdr || tested == 0 {
        return BASE_PERMUTATIONS.min(cap);
    }
    let m = tested as f64;
    // As `fdr::critical_sorted` compares: p <= (1 / m) * alpha.
    let passes = |r: usize| 1.0 / (r + 1) as f64 <= (1.0 / m) * MORAN_ALPHA;
    let mut r = ((m / MORAN_ALPHA).ceil() as usize).saturating_sub(1);
    while !passes(r) {
        r += 1;
    }
    r.max(BASE_PERMUTATIONS).min(cap)
}

/// The rule choosing the tested cells, as recorded in the product.
pub const TESTED_RULE: &str = "cells with at least one event in the cell or its neighbourhood \
     (weights row); the others get no p-value and no class and are not in the FDR family \
     (independent filtering, Bourgon, Gentleman & Huber 2010)";

/// The cells the hotspot layer tests: those with at least one event
/// (`counts > 0`) in the cell itself or in its row of `w`.
///
/// A cell with no event in its neighbourhood has a Gi* z and a Local
/// Moran's I fixed by emptiness alone (the same for every such cell), so
/// testing it adds no evidence, only members to the false discovery rate's
/// family: on the README example 99 % of the cells, enough to leave no
/// Local Moran cell significant. Leaving them out is independent filtering
/// (Bourgon, Gentleman & Huber 2010, PNAS 107:9546): the filter, whether
/// an event is near, is chosen without looking at the test statistic.
pub fn tested_cells(counts: &[f64], w: &Weights) -> Vec<bool> {
    (0..counts.len())
        .map(|i| counts[i] > 0.0 || w.neighbors(i).0.iter().any(|&j| counts[j as usize] > 0.0))
        .collect()
}

/// Share of empty cells above which the data are too sparse for the grid:
/// most cells then compare an empty cell with empty neighbours, and Gi*
/// and Local Moran's I say more about the grid than about the events.
pub const SPARSE_EMPTY_SHARE: f64 = 0.9;

pub(crate) fn default_area(events: &Events, pad_m: f64) -> Area {
    let (mut b0, mut b1, mut b2, mut b3) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in events.lon.iter().zip(&events.lat) {
        b0 = b0.min(*x);
        b1 = b1.min(*y);
        b2 = b2.max(*x);
        b3 = b3.max(*y);
    }
    // Pad in degrees of latitude (and longitude at the widest latitude).
    let dlat = pad_m / 111_320.0;
    let coslat = b1.abs().max(b3.abs()).to_radians().cos().max(0.05);
    let dlon = dlat / coslat;
    Area::BBox([
        (b0 - dlon).max(-180.0),
        (b1 - dlat).max(-90.0),
        (b2 + dlon).min(180.0),
        (b3 + dlat).min(90.0),
    ])
}

/// Runs the hotspot analysis.
pub fn hotspots(events: &Events, params: &HotspotParams) -> Result<Hotspots, AnalysisError> {
    if events.is_empty() {
        return Err(AnalysisError::param(
            "filters",
            "no events match: nothing to analyse",
        ));
    }
    if let Some(b) = params.bandwidth_m {
        if !(b.is_finite() && b > 0.0) {
            return Err(AnalysisError::param(
                "bandwidth",
                "must be a positive number of metres",
            ));
        }
    }
    let cell_m = match params.grid {
        GridSpec::Square { cell_m } => cell_m,
        // H3 edge length grows about 2.65x per coarser resolution; 1 km at res 8.
        GridSpec::H3 { resolution } => 1_000.0 * 2.65f64.powi(8 - i32::from(resolution.min(15))),
    };
    // Pad so that density near the edge is not cut off: one cell plus the
    // bandwidth when given; the rule's bandwidth needs the grid's projection,
    // so without one, two more cells.
    let pad = cell_m + params.bandwidth_m.unwrap_or(cell_m * 2.0);
    let area = params
        .area
        .clone()
        .unwrap_or_else(|| default_area(events, pad));
    let kind = match params.grid {
        GridSpec::Square { cell_m } => GridKind::Square { cell_m },
        GridSpec::H3 { resolution } => GridKind::H3 { resolution },
    };
    let grid = Grid::build_anchored(&area, kind, params.max_cells, params.anchor)?;
    if grid.cells.len() < 3 {
        return Err(AnalysisError::param(
            "cell",
            "the grid has fewer than 3 cells: use smaller cells or a larger area",
        ));
    }
    // Each event projected (once per grid and events: kept for the next
    // analysis, see `projected`) and located once, in parallel.
    let points = super::projected::project_all(&grid, &events.lon, &events.lat);
    let located = grid.locate_all(&events.lon, &events.lat, &points)?;
    let agg = grid.aggregate_located(&located, &events.weight)?;
    let counts = grid.aggregate_located(&located, &[])?;
    let flags: Vec<f64> = (0..events.len())
        .map(|i| f64::from(u8::from(events.sensitive.get(i).copied().unwrap_or(false))))
        .collect();
    let sensitive = grid.aggregate_located(&located, &flags)?;
    let centres: Vec<[f64; 2]> = grid.cells.iter().map(|c| c.xy).collect();
    let bandwidth_m = match params.bandwidth_m {
        Some(b) => b,
        None => match default_bandwidth(&points, &events.weight) {
            Ok(b) => b.max(params.min_bandwidth_m),
            Err(_) if params.min_bandwidth_m > 0.0 => params.min_bandwidth_m,
            Err(e) => return Err(e),
        },
    };
    let density = kde(
        &points,
        &events.weight,
        &centres,
        params.kernel,
        bandwidth_m,
    )?;
    let (w, band_m) = match params.neighbours {
        Neighbours::Auto if matches!(params.grid, GridSpec::H3 { .. }) => {
            (Weights::grid_disk(&grid, 1)?, None)
        }
        Neighbours::Rings(k) => (Weights::grid_disk(&grid, k)?, None),
        Neighbours::Auto => {
            let band = auto_distance_band(&centres)?;
            (Weights::distance_band(&centres, band)?, Some(band))
        }
        Neighbours::DistanceBand(d) => (Weights::distance_band(&centres, d)?, Some(d)),
        Neighbours::Knn(k) => (Weights::knn(&centres, k)?, None),
    };
    crate::cancel::check()?;
    // The family of tests: untested cells get p NaN, which keeps them out of
    // the Benjamini-Hochberg family and of every class.
    let events_nearby = tested_cells(&counts.values, &w);
    let tested = events_nearby.iter().filter(|&&t| t).count();
    let mut gi = gi_star(&agg.values, &w, params.transform)?;
    for (p, _) in gi.p.iter_mut().zip(&events_nearby).filter(|(_, &t)| !t) {
        *p = f64::NAN;
    }
    let classes = classify(&gi.z, &gi.p, params.fdr);
    let permutations = params
        .permutations
        .unwrap_or_else(|| auto_permutations(tested, params.fdr, params.max_auto_permutations));
    let moran = if permutations == 0 {
        None
    } else if params.permutations.is_none() {
        Some(local_moran_sequential(
            &agg.values,
            &w.row_standardized(),
            permutations,
            SEQUENTIAL_H,
            params.seed,
            Some(&events_nearby),
        )?)
    } else {
        Some(local_moran_tested(
            &agg.values,
            &w.row_standardized(),
            permutations,
            params.seed,
            Some(&events_nearby),
        )?)
    };
    let significant = moran
        .as_ref()
        .map(|m| m.significant(MORAN_ALPHA, params.fdr));
    let cells: Vec<HotspotCell> = (0..grid.cells.len())
        .map(|i| {
            let (moran_i, moran_p, moran_type) = match (&moran, &significant) {
                (Some(m), Some(sig)) => (
                    m.i[i],
                    m.p_sim[i],
                    sig[i].then(|| m.quadrant[i].as_str().to_string()),
                ),
                _ => (f64::NAN, f64::NAN, None),
            };
            HotspotCell {
                cell: i,
                value: agg.values[i],
                count: counts.values[i] as u64,
                count_sensitive: sensitive.values[i] as u64,
                density: density[i],
                z: gi.z[i],
                p: gi.p[i],
                class: events_nearby[i].then_some(classes[i]),
                moran_i,
                moran_p,
                moran_type,
                events_nearby: events_nearby[i],
            }
        })
        .collect();
    let mut warnings = Vec::new();
    let empty = cells.iter().filter(|c| c.count == 0).count();
    let share = empty as f64 / cells.len() as f64;
    if share > SPARSE_EMPTY_SHARE {
        warnings.push(format!(
            "sparse data: {empty} of {} cells ({:.1} %) hold no event (more than {:.0} %); \
             Gi* and Local Moran's I then mostly compare empty cells with empty neighbourhoods: \
             use larger cells, a smaller area or a longer period",
            cells.len(),
            100.0 * share,
            100.0 * SPARSE_EMPTY_SHARE
        ));
    }
    if let (Some(m), true) = (&moran, params.fdr) {
        let uncorrected = m
            .significant(MORAN_ALPHA, false)
            .iter()
            .filter(|&&s| s)
            .count();
        let kept = cells.iter().filter(|c| c.moran_type.is_some()).count();
        // Only when the permutations are what holds cells back: fewer than
        // would let one cell pass the correction alone.
        if kept < uncorrected && permutations < auto_permutations(tested, true, usize::MAX) {
            warnings.push(fdr_warning(kept, uncorrected, tested, permutations));
        }
    }
    Ok(Hotspots {
        grid,
        cells,
        events: events.len(),
        outside: agg.outside,
        bandwidth_m,
        band_m,
        area,
        params: params.clone(),
        permutations,
        warnings,
    })
}

/// The warning when the false discovery rate correction removed Local Moran
/// types: with `R` permutations no p-value is below `1 / (R + 1)`, and over
/// `m` tested cells the Benjamini-Hochberg line at rank `k` is
/// `alpha k / m`, so `k` cells at that floor survive only when
/// `1 / (R + 1) <= alpha k / m`; one cell alone needs `R >= m / alpha - 1`.
fn fdr_warning(kept: usize, uncorrected: usize, m: usize, permutations: usize) -> String {
    let floor = 1.0 / (permutations + 1) as f64;
    let k = (floor * m as f64 / MORAN_ALPHA).ceil().max(1.0);
    let alone = (m as f64 / MORAN_ALPHA).ceil() as u64 - 1;
    format!(
        "Local Moran's I: the false discovery rate correction keeps {kept} of {uncorrected} cells \
         significant at {MORAN_ALPHA}; with {permutations} permutations no p-value is below {floor:.2e}, \
         and over {m} tested cells at least {k} cells must reach that floor for any to be kept; \
         {alone} permutations would let a single cell be significant alone (--permutations)"
    )
}

/// A grid as a product records it (type, size, projection, anchor) and
/// the product's grid, for the gate's minimum cell.
pub(crate) fn grid_param(grid: GridSpec, anchor: Option<[f64; 2]>) -> (Param, ProductGrid) {
    match grid {
        GridSpec::Square { cell_m } => (
            Param::Object(vec![
                ("type", "square".into()),
                ("cell_m", cell_m.into()),
                ("projection", "Lambert azimuthal equal-area".into()),
                (
                    "anchor",
                    anchor.map_or(Param::Text("area".into()), |[x, y]| {
                        Param::List(vec![x.into(), y.into()])
                    }),
                ),
            ]),
            ProductGrid::Square(cell_m),
        ),
        GridSpec::H3 { resolution } => (
            Param::Object(vec![
                ("type", "h3".into()),
                ("resolution", resolution.into()),
            ]),
            ProductGrid::H3(resolution),
        ),
    }
}

impl HotspotParams {
    /// The product of an analysis over no event: no cell, the parameters.
    pub fn empty_product(&self) -> Product {
        let mut p = Product::new("hotspots");
        p.grid = Some(match self.grid {
            GridSpec::Square { cell_m } => ProductGrid::Square(cell_m),
            GridSpec::H3 { resolution } => ProductGrid::H3(resolution),
        });
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

impl Hotspots {
    /// The neighbourhood used, in words (for summaries).
    pub fn neighbours_text(&self) -> String {
        match (self.params.neighbours, self.band_m) {
            (_, Some(b)) => format!("distance band {:.1} km", b / 1000.0),
            (Neighbours::Knn(k), None) => format!("{k} nearest neighbours"),
            (Neighbours::Rings(k), None) => format!("cells within {k} rings"),
            _ => "ring-1 cells (contiguity)".to_string(),
        }
    }

    /// Cells as a GeoJSON FeatureCollection of polygons with value, density,
    /// z, p, class and Local Moran's I. Unless `all_cells`, only cells that
    /// hold events, or are significant (Gi* class or Local Moran type) with
    /// an event in their neighbourhood, are written: an empty cell among
    /// empty neighbours says nothing about the events. A `jointmap` member
    /// records the method, every parameter used and the warnings, so a map
    /// can be defended.
    pub fn to_product(&self, all_cells: bool) -> Product {
        let written = |c: &HotspotCell| {
            all_cells || c.value > 0.0 || c.count > 0 || (c.significant() && c.events_nearby)
        };
        // Zero since only tested cells (an event nearby) can be significant;
        // kept as a check that the rule holds.
        let omitted = self
            .cells
            .iter()
            .filter(|c| c.significant() && !written(c))
            .count();
        let items: Vec<Item> = self
            .cells
            .iter()
            .filter(|c| written(c))
            .map(|c| {
                let cell = &self.grid.cells[c.cell];
                Item {
                    id: Field::Key(cell.key.clone()),
                    geometry: Shape::Cell(cell.ring.clone()),
                    properties: vec![
                        ("cell", Field::Key(cell.key.clone())),
                        ("value", Field::Value(c.value)),
                        (
                            "count",
                            Field::Count {
                                layer: self.params.layer,
                                n: c.count,
                            },
                        ),
                        ("count_sensitive", Field::Sensitive(c.count_sensitive)),
                        ("density_km2", Field::Value(c.density)),
                        ("gi_z", Field::Value(c.z)),
                        ("gi_p", Field::Value(c.p)),
                        ("class", Field::class(c.class.map(|c| c.as_str()))),
                        ("moran_i", Field::Value(c.moran_i)),
                        ("moran_p", Field::Value(c.moran_p)),
                        ("moran_type", Field::class(c.moran_type.clone())),
                    ],
                }
            })
            .collect();
        let (grid, product_grid) = grid_param(self.params.grid, self.params.anchor);
        let neighbours = match self.params.neighbours {
            Neighbours::Auto if self.band_m.is_none() => Param::Object(vec![
                ("type", "contiguity".into()),
                ("chosen", "auto".into()),
                ("rings", Param::Int(1)),
            ]),
            Neighbours::Rings(k) => Param::Object(vec![
                ("type", "contiguity".into()),
                ("rings", Param::Int(i64::from(k))),
            ]),
            Neighbours::Auto => Param::Object(vec![
                ("type", "distance-band".into()),
                ("chosen", "auto".into()),
                ("band_m", self.band_m.into()),
            ]),
            Neighbours::DistanceBand(d) => {
                Param::Object(vec![("type", "distance-band".into()), ("band_m", d.into())])
            }
            Neighbours::Knn(k) => Param::Object(vec![("type", "knn".into()), ("k", k.into())]),
        };
        let mut p = Product::new("hotspots");
        p.grid = Some(product_grid);
        p.meta.extend([
            (
                "events",
                Field::Count {
                    layer: self.params.layer,
                    n: self.events as u64,
                },
            ),
            (
                "events_outside_area",
                Field::Count {
                    layer: self.params.layer,
                    n: self.outside as u64,
                },
            ),
            ("cells", Field::param(self.grid.cells.len())),
            ("grid", Field::Param(grid)),
            (
                "kernel",
                Field::param(format!("{:?}", self.params.kernel).to_lowercase()),
            ),
            ("bandwidth_m", Field::Value(self.bandwidth_m)),
            (
                "bandwidth",
                Field::param(if self.params.bandwidth_m.is_some() {
                    "given"
                } else {
                    "default rule"
                }),
            ),
            ("neighbours", Field::Param(neighbours)),
            (
                "gi_transform",
                Field::param(format!("{:?}", self.params.transform)),
            ),
            (
                "gi_variance",
                Field::param(match self.params.transform {
                    Transform::Binary => "binary weights (esda G_Local 'B')",
                    Transform::RowStandardized => {
                        "general Getis-Ord: sum and sum of squares of the row's weights (ArcGIS); not esda's 'R'"
                    }
                }),
            ),
            ("fdr", Field::param(self.params.fdr)),
            (
                "tested_cells",
                Field::Tally(self.cells.iter().filter(|c| c.events_nearby).count() as u64),
            ),
            ("tested_rule", Field::param(TESTED_RULE)),
            ("moran_permutations", Field::param(self.permutations)),
            (
                "moran_permutations_rule",
                Field::param(match self.params.permutations {
                    Some(_) => "given".to_string(),
                    None if !self.params.fdr => format!("default: {BASE_PERMUTATIONS}"),
                    None => format!(
                        "default: at most R draws per cell, R the least >= {BASE_PERMUTATIONS} \
                         with 1 / (R + 1) <= {MORAN_ALPHA} / tested_cells (one cell can pass the \
                         FDR line alone), at most {}; sequential (Besag and Clifford 1991): a \
                         cell stops after {SEQUENTIAL_H} draws at least as extreme, p = \
                         {SEQUENTIAL_H} / draws; else (M + 1) / (R + 1)",
                        self.params.max_auto_permutations
                    ),
                }),
            ),
            (
                "moran_p",
                Field::param(
                    "(M + 1) / (R + 1), M = min(#{I >= I_obs}, #{I <= I_obs}), ties in both tails",
                ),
            ),
            ("moran_alpha", Field::Value(MORAN_ALPHA)),
            ("moran_fdr", Field::param(self.params.fdr)),
            ("seed", Field::param(self.params.seed as i64)),
            (
                "cells_written",
                Field::param(if all_cells {
                    "all"
                } else {
                    "with events, or significant with an event in the neighbourhood"
                }),
            ),
            (
                "significant_cells_omitted",
                Field::param(omitted),
            ),
            (
                "warnings",
                Field::Param(Param::List(
                    self.warnings.iter().map(|w| w.as_str().into()).collect(),
                )),
            ),
        ]);
        p.items = items;
        p
    }
}

#[cfg(test)]
mod tests;
