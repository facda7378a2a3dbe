//! Aggregation grids: square cells of a fixed size on an equal-area
//! projection ([`square`]) or H3 hexagons ([`h3`]) over an [`Area`], with
//! point location and per-cell counts or weighted sums.
//!
//! Every grid carries a Lambert azimuthal equal-area projection on the WGS 84
//! ellipsoid ([`projection::Laea`]) centred on the middle of the area's
//! bounding box, so that cell centres have coordinates in metres and
//! distance-based methods (kernel density, spatial weights) can use plain
//! Euclidean distances.
//!
//! Topology, for reporting selected cells (blind spots) as areas:
//! [`Grid::edge_neighbours`] ([`neighbours`]), [`Grid::for_each_cell_within`]
//! ([`within`]: the cells whose centre lies within a distance, fast enough
//! for millions of queries), [`components()`] (edge-connected groups of
//! selected cells) and [`dissolve()`] (their union as a valid lon/lat
//! MultiPolygon).
//!
//! Areas that cross the antimeridian (a bounding box with west > east, or a
//! polygon spanning more than 180 degrees of longitude) are refused: split
//! them at 180 degrees or shift the longitudes first.

pub mod components;
pub mod dissolve;
pub mod h3;
pub mod neighbours;
pub mod projection;
pub mod square;
pub mod within;

use rayon::prelude::*;

/// Errors of the grid module: a parameter out of its domain, a grid over
/// its cell budget, or a cancelled build.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// A parameter is out of its domain; names the parameter and why.
    #[error("parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The grid would have more cells than allowed (refused before any cell
    /// is made).
    #[error(
        "{} would make about {estimate:.0} cells over this area, more than the limit of \
         {max_cells} (max_cells): {}",
        describe(kind),
        if matches!(kind, GridKind::H3 { .. }) { "use a coarser resolution or a smaller area" }
        else { "use larger cells or a smaller area" }
    )]
    TooManyCells {
        /// The grid asked for.
        kind: GridKind,
        /// Estimated number of cells.
        estimate: f64,
        /// The budget.
        max_cells: usize,
    },
    /// The build was cancelled (see [`crate::cancel`]).
    #[error(transparent)]
    Cancelled(#[from] crate::cancel::Cancelled),
}

fn describe(kind: &GridKind) -> String {
    match kind {
        GridKind::Square { cell_m } => format!("{} km square cells", cell_m / 1000.0),
        GridKind::H3 { resolution } => format!("H3 resolution {resolution}"),
    }
}

impl GridError {
    /// Shorthand for [`GridError::InvalidParameter`].
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        GridError::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

pub use components::components;
pub use dissolve::dissolve;
pub use projection::Laea;

/// The largest number of cells a grid may have. Each cell carries its key,
/// centre and boundary ring (about 400 bytes for a square cell), so this
/// caps a grid at about 2 GB. The command line's budget; the server's
/// (`[limits] max_cells`) is smaller, passed to [`Grid::build`].
pub const MAX_CELLS: usize = 5_000_000;

/// Authalic radius of WGS 84, metres.
const R_AUTHALIC: f64 = 6_371_007.18;

/// The area a grid covers, in WGS 84 degrees.
#[derive(Debug, Clone, PartialEq)]
pub enum Area {
    /// `[west, south, east, north]`, with west < east and south < north.
    BBox([f64; 4]),
    /// A polygon or several (holes allowed); edges are straight lines in
    /// longitude/latitude, as in GeoJSON. Overlapping parts cancel out
    /// (even-odd rule), so pass a valid multipolygon.
    Polygon(geo_types::MultiPolygon<f64>),
}

/// One grid cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Stable key: `r{row}c{col}` for square cells (rows and columns counted
    /// from the south-west), the H3 index as lowercase hex for H3 cells.
    pub key: String,
    /// Centre, (lon, lat) degrees.
    pub center: [f64; 2],
    /// Centre in the grid's projected metres (see [`Grid::project`]).
    pub xy: [f64; 2],
    /// Boundary as a closed (first = last), counter-clockwise lon/lat ring.
    pub ring: Vec<[f64; 2]>,
}

/// The kind of a grid and its size parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GridKind {
    /// Square cells of `cell_m` metres on the equal-area projection.
    Square {
        /// Side of a cell, metres.
        cell_m: f64,
    },
    /// H3 cells at `resolution` (0..=15).
    H3 {
        /// H3 resolution.
        resolution: u8,
    },
}

/// A grid of cells over an area, with fast point location.
#[derive(Debug, Clone)]
pub struct Grid {
    /// Kind and size of the cells.
    pub kind: GridKind,
    /// The cells, in a stable order: row-major from the south-west for square
    /// grids, ascending H3 index for H3 grids.
    pub cells: Vec<Cell>,
    projection: Laea,
    lookup: Lookup,
}

/// Point location structures, one per grid kind.
#[derive(Debug, Clone)]
enum Lookup {
    Square(square::Lattice),
    H3(h3::H3Lookup),
}

/// Per-cell totals from [`Grid::aggregate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// Count (no weights given) or sum of weights of the points in each cell,
    /// in the order of [`Grid::cells`].
    pub values: Vec<f64>,
    /// Number of points in no cell (outside the grid, or with non-finite
    /// coordinates): reported, never silently dropped.
    pub outside: usize,
    /// Their total weight (equal to `outside` when counting).
    pub outside_weight: f64,
}

impl Grid {
    /// Square cells of `cell_m` metres over `area`; see [`square`] for the
    /// construction rules.
    pub fn square(area: &Area, cell_m: f64) -> Result<Grid, GridError> {
        Grid::build(area, GridKind::Square { cell_m }, MAX_CELLS)
    }

    /// Square cells of `cell_m` metres over `area`, on the lattice anchored
    /// at `anchor` (lon, lat): the same cells whatever the area (see
    /// [`square`]).
    pub fn square_anchored(area: &Area, cell_m: f64, anchor: [f64; 2]) -> Result<Grid, GridError> {
        Grid::build_anchored(area, GridKind::Square { cell_m }, MAX_CELLS, Some(anchor))
    }

    /// H3 cells at `resolution` whose centres lie inside `area`; see [`h3`].
    pub fn h3(area: &Area, resolution: u8) -> Result<Grid, GridError> {
        Grid::build(area, GridKind::H3 { resolution }, MAX_CELLS)
    }

    /// A grid of `kind` over `area` with at most `max_cells` cells: refused
    /// with [`GridError::TooManyCells`] from [`Grid::estimate_cells`] before
    /// anything is allocated, and again if the cells actually found exceed
    /// the budget.
    pub fn build(area: &Area, kind: GridKind, max_cells: usize) -> Result<Grid, GridError> {
        Grid::build_anchored(area, kind, max_cells, None)
    }

    /// [`Grid::build`], with square cells on the lattice anchored at
    /// `anchor` (lon, lat) when given (see [`square`]); H3 cells are
    /// anchored by construction.
    pub fn build_anchored(
        area: &Area,
        kind: GridKind,
        max_cells: usize,
        anchor: Option<[f64; 2]>,
    ) -> Result<Grid, GridError> {
        let shape = Shape::new(area)?;
        let estimate = estimate(&shape, area, kind)?;
        if estimate > max_cells as f64 {
            return Err(GridError::TooManyCells {
                kind,
                estimate,
                max_cells,
            });
        }
        match kind {
            GridKind::Square { cell_m } => square::build(&shape, cell_m, max_cells, anchor),
            GridKind::H3 { resolution } => h3::build(&shape, resolution, max_cells),
        }
    }

    /// About how many cells a grid of `kind` over `area` has, from areas
    /// alone (no cell is made): the area on the authalic sphere divided by
    /// the cell area (`cell_m^2`, or H3's mean cell area at the
    /// resolution), plus, for square cells, the cells cut by the boundary.
    pub fn estimate_cells(area: &Area, kind: GridKind) -> Result<f64, GridError> {
        estimate(&Shape::new(area)?, area, kind)
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the grid has no cells.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The grid's equal-area projection.
    pub fn projection(&self) -> &Laea {
        &self.projection
    }

    /// Projects (`lon`, `lat`) degrees into the grid's metres.
    pub fn project(&self, lon: f64, lat: f64) -> [f64; 2] {
        self.projection.forward(lon, lat)
    }

    /// Cell centres in projected metres, in cell order (the `at` argument of
    /// [`crate::analysis::kde::kde`]).
    pub fn centres_xy(&self) -> Vec<[f64; 2]> {
        self.cells.iter().map(|c| c.xy).collect()
    }

    /// The index of the cell containing (`lon`, `lat`), if any. Square cells
    /// are half-open (a point on a west or south edge belongs to the cell).
    pub fn locate(&self, lon: f64, lat: f64) -> Option<usize> {
        match &self.lookup {
            Lookup::Square(l) => {
                let [x, y] = self.projection.forward(lon, lat);
                l.locate_xy(x, y)
            }
            Lookup::H3(l) => l.locate(lon, lat),
        }
    }

    /// Area of cell `i` in square metres: `cell_m^2` for square cells (the
    /// projection is equal-area; cells cut by the area's edge still count in
    /// full), the exact spherical area for H3 cells.
    ///
    /// # Panics
    /// If `i` is not a cell index.
    pub fn cell_area_m2(&self, i: usize) -> f64 {
        assert!(i < self.cells.len(), "cell index {i} out of range");
        match &self.lookup {
            Lookup::Square(l) => l.cell_m * l.cell_m,
            Lookup::H3(l) => l.area_m2(i),
        }
    }

    /// Counts (when `weight` is empty) or sums `weight` of the points
    /// (`lon[i]`, `lat[i]`) per cell.
    ///
    /// Cells are found in parallel, then summed sequentially in input order,
    /// so the result is identical whatever the thread count. Points in no cell
    /// are counted in [`Aggregate::outside`].
    pub fn aggregate(
        &self,
        lon: &[f64],
        lat: &[f64],
        weight: &[f64],
    ) -> Result<Aggregate, GridError> {
        if lon.len() != lat.len() {
            return Err(GridError::param(
                "lat",
                format!("{} latitudes for {} longitudes", lat.len(), lon.len()),
            ));
        }
        if !weight.is_empty() && weight.len() != lon.len() {
            return Err(GridError::param(
                "weight",
                format!(
                    "{} weights for {} points (pass none to count)",
                    weight.len(),
                    lon.len()
                ),
            ));
        }
        if let Some(i) = weight.iter().position(|w| !w.is_finite()) {
            return Err(GridError::param(
                "weight",
                format!("weight of point {i} is not a finite number"),
            ));
        }
        let cell: Vec<u32> = lon
            .par_iter()
            .zip(lat.par_iter())
            .map(|(&x, &y)| self.locate(x, y).map_or(u32::MAX, |c| c as u32))
            .collect();
        Ok(Self::sum_located(self.cells.len(), &cell, weight))
    }

    /// The cell of each point (`lon[i]`, `lat[i]`) as [`Grid::locate`] gives
    /// it (`u32::MAX` for none), in parallel; `xy` are the same points already
    /// projected by [`Grid::project`] (square cells are found from them, not
    /// projected again). For [`Grid::aggregate_located`].
    pub fn locate_all(
        &self,
        lon: &[f64],
        lat: &[f64],
        xy: &[[f64; 2]],
    ) -> Result<Vec<u32>, GridError> {
        if lon.len() != lat.len() || xy.len() != lon.len() {
            return Err(GridError::param(
                "lat",
                format!(
                    "{} latitudes and {} projected points for {} longitudes",
                    lat.len(),
                    xy.len(),
                    lon.len()
                ),
            ));
        }
        let found = |c: Option<usize>| c.map_or(u32::MAX, |c| c as u32);
        Ok(match &self.lookup {
            Lookup::Square(l) => xy
                .par_iter()
                .map(|p| found(l.locate_xy(p[0], p[1])))
                .collect(),
            Lookup::H3(l) => lon
                .par_iter()
                .zip(lat.par_iter())
                .map(|(&x, &y)| found(l.locate(x, y)))
                .collect(),
        })
    }

    /// [`Grid::aggregate`] of points already located by [`Grid::locate_all`]:
    /// the same sums, in the same order.
    pub fn aggregate_located(&self, cell: &[u32], weight: &[f64]) -> Result<Aggregate, GridError> {
        if !weight.is_empty() && weight.len() != cell.len() {
            return Err(GridError::param(
                "weight",
                format!(
                    "{} weights for {} points (pass none to count)",
                    weight.len(),
                    cell.len()
                ),
            ));
        }
        if let Some(i) = weight.iter().position(|w| !w.is_finite()) {
            return Err(GridError::param(
                "weight",
                format!("weight of point {i} is not a finite number"),
            ));
        }
        Ok(Self::sum_located(self.cells.len(), cell, weight))
    }

    /// Sums `weight` (1 each when empty) per cell, sequentially in input order.
    fn sum_located(cells: usize, cell: &[u32], weight: &[f64]) -> Aggregate {
        let mut out = Aggregate {
            values: vec![0.0; cells],
            outside: 0,
            outside_weight: 0.0,
        };
        for (i, &c) in cell.iter().enumerate() {
            let w = weight.get(i).copied().unwrap_or(1.0);
            match out.values.get_mut(c as usize) {
                Some(v) => *v += w,
                None => {
                    out.outside += 1;
                    out.outside_weight += w;
                }
            }
        }
        out
    }
}

/// See [`Grid::estimate_cells`]; `shape` is `area` validated.
fn estimate(shape: &Shape, area: &Area, kind: GridKind) -> Result<f64, GridError> {
    let area_m2 = match area {
        Area::BBox([w, s, e, n]) => {
            R_AUTHALIC
                * R_AUTHALIC
                * (e - w).to_radians()
                * (n.to_radians().sin() - s.to_radians().sin())
        }
        Area::Polygon(mp) => {
            use geo::ChamberlainDuquetteArea;
            mp.chamberlain_duquette_unsigned_area()
        }
    };
    match kind {
        GridKind::Square { cell_m } => {
            if !(cell_m.is_finite() && cell_m > 0.0) {
                return Err(GridError::param(
                    "cell_m",
                    format!("cell size {cell_m} m must be a positive number"),
                ));
            }
            // Boundary cells: the rings' length (in degrees, at most
            // 111.32 km each) over the cell side.
            let perimeter_m: f64 = shape
                .rings
                .iter()
                .flat_map(|r| r.windows(2))
                .map(|w| (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1]) * 111_320.0)
                .sum();
            Ok(area_m2 / (cell_m * cell_m) + perimeter_m / cell_m)
        }
        GridKind::H3 { resolution } => {
            let res = ::h3o::Resolution::try_from(resolution).map_err(|_| {
                GridError::param(
                    "resolution",
                    format!("H3 resolution {resolution} is not in 0..=15"),
                )
            })?;
            Ok(area_m2 / res.area_m2())
        }
    }
}

/// A validated area: closed lon/lat rings, bounding box and a point-in-area
/// test.
#[derive(Debug, Clone)]
struct Shape {
    bbox: [f64; 4],
    rings: Vec<Vec<[f64; 2]>>,
    bands: Option<Bands>,
}

impl Shape {
    fn new(area: &Area) -> Result<Shape, GridError> {
        match area {
            Area::BBox(b) => {
                let [w, s, e, n] = *b;
                if b.iter().any(|v| !v.is_finite()) {
                    return Err(GridError::param(
                        "area",
                        "bounding box has a non-finite value",
                    ));
                }
                if !(-180.0..=180.0).contains(&w)
                    || !(-180.0..=180.0).contains(&e)
                    || !(-90.0..=90.0).contains(&s)
                    || !(-90.0..=90.0).contains(&n)
                {
                    return Err(GridError::param(
                        "area",
                        format!("bounding box {b:?} is outside [-180, -90, 180, 90]"),
                    ));
                }
                if w > e {
                    return Err(GridError::param(
                        "area",
                        format!(
                            "bounding box {b:?} crosses the antimeridian (west > east): \
                             split it at 180 degrees"
                        ),
                    ));
                }
                if w == e || s >= n {
                    return Err(GridError::param(
                        "area",
                        format!("bounding box {b:?} is empty or inverted (need west < east, south < north)"),
                    ));
                }
                let ring = vec![[w, s], [e, s], [e, n], [w, n], [w, s]];
                Ok(Shape {
                    bbox: *b,
                    rings: vec![ring],
                    bands: None,
                })
            }
            Area::Polygon(mp) => {
                let mut rings = Vec::new();
                for poly in &mp.0 {
                    for ls in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                        let mut ring: Vec<[f64; 2]> = ls.0.iter().map(|c| [c.x, c.y]).collect();
                        if ring.iter().flatten().any(|v| !v.is_finite()) {
                            return Err(GridError::param(
                                "area",
                                "polygon has a non-finite coordinate",
                            ));
                        }
                        if ring.iter().any(|p| p[0].abs() > 180.0 || p[1].abs() > 90.0) {
                            return Err(GridError::param(
                                "area",
                                "polygon coordinates must be lon/lat degrees within [-180, -90, 180, 90]",
                            ));
                        }
                        if ring.first() != ring.last() {
                            ring.push(ring[0]);
                        }
                        if ring.len() >= 4 {
                            rings.push(ring);
                        }
                    }
                }
                if rings.is_empty() {
                    return Err(GridError::param("area", "polygon is empty"));
                }
                let mut bbox = [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ];
                for p in rings.iter().flatten() {
                    bbox = [
                        bbox[0].min(p[0]),
                        bbox[1].min(p[1]),
                        bbox[2].max(p[0]),
                        bbox[3].max(p[1]),
                    ];
                }
                if bbox[2] - bbox[0] > 180.0 {
                    return Err(GridError::param(
                        "area",
                        "polygon spans more than 180 degrees of longitude (does it cross the \
                         antimeridian?): split it at 180 degrees",
                    ));
                }
                if bbox[0] >= bbox[2] || bbox[1] >= bbox[3] {
                    return Err(GridError::param("area", "polygon has no area"));
                }
                let bands = Some(Bands::new(&rings, bbox));
                Ok(Shape { bbox, rings, bands })
            }
        }
    }

    /// Whether (`lon`, `lat`) is inside the area (boundary points of a
    /// bounding box count as inside; of a polygon, either way).
    fn contains(&self, lon: f64, lat: f64) -> bool {
        let [w, s, e, n] = self.bbox;
        if !(lon >= w && lon <= e && lat >= s && lat <= n) {
            return false;
        }
        match &self.bands {
            None => true,
            Some(b) => b.contains(lon, lat),
        }
    }

    /// Centre of the bounding box: where grids centre their projection.
    fn centre(&self) -> [f64; 2] {
        let [w, s, e, n] = self.bbox;
        [(w + e) / 2.0, (s + n) / 2.0]
    }
}

/// Even-odd point-in-polygon test with the edges bucketed by latitude band,
/// so a query only looks at the edges near its latitude.
#[derive(Debug, Clone)]
struct Bands {
    south: f64,
    height: f64,
    /// Edges (x1, y1, x2, y2) of each band, stored band after band.
    edges: Vec<[f64; 4]>,
    start: Vec<usize>,
}

impl Bands {
    fn new(rings: &[Vec<[f64; 2]>], bbox: [f64; 4]) -> Bands {
        let all: Vec<[f64; 4]> = rings
            .iter()
            .flat_map(|r| r.windows(2).map(|w| [w[0][0], w[0][1], w[1][0], w[1][1]]))
            .filter(|e| e[1] != e[3])
            .collect();
        let nb = (all.len() / 4).clamp(1, 4096);
        let height = (bbox[3] - bbox[1]) / nb as f64;
        let band = |y: f64| (((y - bbox[1]) / height) as usize).min(nb - 1);
        let mut lists = vec![Vec::new(); nb];
        for e in all {
            for list in &mut lists[band(e[1].min(e[3]))..=band(e[1].max(e[3]))] {
                list.push(e);
            }
        }
        let mut start = vec![0];
        let mut edges = Vec::new();
        for l in lists {
            edges.extend(l);
            start.push(edges.len());
        }
        Bands {
            south: bbox[1],
            height,
            edges,
            start,
        }
    }

    fn contains(&self, x: f64, y: f64) -> bool {
        let nb = self.start.len() - 1;
        let b = (((y - self.south) / self.height).max(0.0) as usize).min(nb - 1);
        let mut inside = false;
        for e in &self.edges[self.start[b]..self.start[b + 1]] {
            if (e[1] > y) != (e[3] > y) {
                let xc = e[0] + (y - e[1]) * (e[2] - e[0]) / (e[3] - e[1]);
                if x < xc {
                    inside = !inside;
                }
            }
        }
        inside
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{coord, LineString, MultiPolygon, Polygon};

    /// A seeded xorshift generator, so tests need no extra dependency.
    pub(crate) struct Rng(u64);
    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub(crate) fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    pub(crate) fn ring(points: &[(f64, f64)]) -> LineString<f64> {
        LineString(points.iter().map(|&(x, y)| coord! { x: x, y: y }).collect())
    }

    #[test]
    fn refuses_bad_areas() {
        for b in [
            [f64::NAN, 0.0, 1.0, 1.0],
            [0.0, 0.0, f64::INFINITY, 1.0],
            [1.0, 0.0, 1.0, 1.0],
            [0.0, 1.0, 1.0, 0.0],
            [0.0, 0.0, 1.0, 91.0],
        ] {
            assert!(Grid::square(&Area::BBox(b), 1000.0).is_err(), "{b:?}");
            assert!(Grid::h3(&Area::BBox(b), 5).is_err(), "{b:?}");
        }
        let e = Grid::square(&Area::BBox([179.0, 0.0, -179.0, 1.0]), 1000.0).unwrap_err();
        assert!(e.to_string().contains("antimeridian"), "{e}");
        let e = Grid::h3(&Area::Polygon(MultiPolygon(vec![])), 5).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn polygon_with_hole_contains() {
        let outer = ring(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)]);
        let hole = ring(&[(1.0, 1.0), (1.0, 3.0), (3.0, 3.0), (3.0, 1.0), (1.0, 1.0)]);
        let shape = Shape::new(&Area::Polygon(MultiPolygon(vec![Polygon::new(
            outer,
            vec![hole],
        )])))
        .unwrap();
        assert!(shape.contains(0.5, 0.5));
        assert!(shape.contains(3.5, 2.0));
        assert!(!shape.contains(2.0, 2.0));
        assert!(!shape.contains(4.5, 2.0));
    }

    /// Seeded points over and around [18, 4, 18.6, 4.5], with integer
    /// weights so that sums are exact in any order.
    fn points(n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(42);
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            out.0.push(17.95 + 0.7 * rng.uniform());
            out.1.push(3.95 + 0.6 * rng.uniform());
            out.2.push((1.0 + 5.0 * rng.uniform()).floor());
        }
        (out.0, out.1, out.2)
    }

    #[test]
    fn aggregate_invariants() {
        let area = Area::BBox([18.0, 4.0, 18.6, 4.5]);
        let grids = [
            Grid::square(&area, 1000.0).unwrap(),
            Grid::h3(&area, 7).unwrap(),
        ];
        let (lon, lat, w) = points(50_000);
        for g in &grids {
            let counts = g.aggregate(&lon, &lat, &[]).unwrap();
            assert!(counts.outside > 1_000, "{:?}", g.kind);
            assert_eq!(
                counts.values.iter().sum::<f64>(),
                (lon.len() - counts.outside) as f64
            );
            assert_eq!(counts.outside_weight, counts.outside as f64);
            let sums = g.aggregate(&lon, &lat, &w).unwrap();
            assert_eq!(
                sums.values.iter().sum::<f64>() + sums.outside_weight,
                w.iter().sum::<f64>()
            );

            // Duplicating every point doubles every value.
            let twice = |v: &[f64]| [v, v].concat();
            let dup = g.aggregate(&twice(&lon), &twice(&lat), &twice(&w)).unwrap();
            assert_eq!(dup.outside, 2 * sums.outside);
            assert!(dup
                .values
                .iter()
                .zip(&sums.values)
                .all(|(d, s)| *d == 2.0 * s));

            // Permuting the input changes nothing.
            let perm: Vec<usize> = (0..lon.len()).map(|i| (i * 7_919) % lon.len()).collect();
            let pick = |v: &[f64]| perm.iter().map(|&i| v[i]).collect::<Vec<_>>();
            assert_eq!(
                g.aggregate(&pick(&lon), &pick(&lat), &pick(&w)).unwrap(),
                sums
            );

            // One thread or many: identical.
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap();
            assert_eq!(pool.install(|| g.aggregate(&lon, &lat, &w)).unwrap(), sums);
        }
    }

    #[test]
    fn grids_are_identical_on_one_thread() {
        let area = Area::BBox([18.0, 4.0, 18.6, 4.5]);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let (a, b) = (
            Grid::square(&area, 500.0).unwrap(),
            pool.install(|| Grid::square(&area, 500.0)).unwrap(),
        );
        assert_eq!(a.cells, b.cells);
        let (a, b) = (
            Grid::h3(&area, 8).unwrap(),
            pool.install(|| Grid::h3(&area, 8)).unwrap(),
        );
        assert_eq!(a.cells, b.cells);
    }

    #[test]
    fn aggregate_checks_lengths_and_weights() {
        let g = Grid::square(&Area::BBox([20.0, 5.0, 20.1, 5.1]), 1000.0).unwrap();
        assert!(g.aggregate(&[20.05], &[], &[]).is_err());
        assert!(g.aggregate(&[20.05], &[5.05], &[1.0, 2.0]).is_err());
        assert!(g.aggregate(&[20.05], &[5.05], &[f64::NAN]).is_err());
        let a = g
            .aggregate(
                &[20.05, f64::NAN, 30.0],
                &[5.05, 5.0, 5.0],
                &[2.0, 3.0, 4.0],
            )
            .unwrap();
        assert_eq!(a.values.iter().sum::<f64>(), 2.0);
        assert_eq!((a.outside, a.outside_weight), (2, 7.0));
    }
}
