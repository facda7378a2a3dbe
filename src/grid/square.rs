//! Square cells of a fixed size on the grid's equal-area projection.
//!
//! The area's boundary is densified (segments of at most 250 m, or
//! sqrt(800 m * cell size) for cells under 78 m, so the chords stay within
//! a thousandth of a cell of the true curved edges) and projected. The
//! lattice starts at the south-west corner of the projected extent; row 0 is
//! the southernmost, column 0 the westernmost, and a cell's key is
//! `r{row}c{col}`.
//!
//! **Rule**: a cell is kept if it *intersects* the area (not only if its
//! centre is inside), so every point of the area falls in some cell and
//! [`Grid::aggregate`] never reports a point of the area as outside. Cells
//! along the edge therefore stick out of the area; their full area
//! (`cell_m^2`) is reported by [`Grid::cell_area_m2`]. The intersection is
//! found by scan conversion: cells crossed by a boundary segment (with a
//! tolerance of a thousandth of a cell, at most 1 m, for the chord
//! approximation) plus cells whose centre lies inside (even-odd rule).

use rayon::prelude::*;

use super::GridError;
use super::{Cell, Grid, GridKind, Laea, Lookup, Shape, MAX_CELLS};

/// The most lattice positions (cells of the projected extent's rectangle,
/// kept or not) a square grid may span: the lookup table takes 4 bytes each.
const MAX_LATTICE: u64 = 4 * MAX_CELLS as u64;

/// Row/column lattice and its cell lookup table.
#[derive(Debug, Clone)]
pub(super) struct Lattice {
    x0: f64,
    y0: f64,
    pub(super) cell_m: f64,
    nrows: usize,
    ncols: usize,
    /// Added to (row, column) in cell keys: non-zero for anchored grids,
    /// whose keys count from the anchor.
    key_offset: (i64, i64),
    /// Cell index per lattice position (row-major), `u32::MAX` when the
    /// position is not a cell of the grid.
    index: Vec<u32>,
    /// Lattice position (row-major) of each cell, in cell order: the inverse
    /// of `index`.
    position: Vec<u32>,
}

impl Lattice {
    /// The cell containing projected (`x`, `y`), in O(1).
    pub(super) fn locate_xy(&self, x: f64, y: f64) -> Option<usize> {
        let fx = (x - self.x0) / self.cell_m;
        let fy = (y - self.y0) / self.cell_m;
        // Also rejects NaN.
        if !(fx >= 0.0 && fy >= 0.0) {
            return None;
        }
        let (col, row) = (fx as usize, fy as usize);
        if col >= self.ncols || row >= self.nrows {
            return None;
        }
        match self.index[row * self.ncols + col] {
            u32::MAX => None,
            i => Some(i as usize),
        }
    }

    /// Number of rows and columns of the lattice.
    pub(super) fn shape(&self) -> (usize, usize) {
        (self.nrows, self.ncols)
    }

    /// Projected (x, y) of the lattice's south-west corner.
    pub(super) fn origin(&self) -> [f64; 2] {
        [self.x0, self.y0]
    }

    /// (row, column) of cell `i`.
    pub(super) fn row_col(&self, i: usize) -> (usize, usize) {
        let pos = self.position[i] as usize;
        (pos / self.ncols, pos % self.ncols)
    }

    /// Projected centre of lattice position (`row`, `col`): the one formula
    /// behind the `xy` of square cells.
    pub(super) fn centre_xy(&self, row: usize, col: usize) -> [f64; 2] {
        let q = self.cell_m / SIDE as f64;
        [
            self.x0 + (SIDE * col + SIDE / 2) as f64 * q,
            self.y0 + (SIDE * row + SIDE / 2) as f64 * q,
        ]
    }

    /// Cell index of each column of `row` (`u32::MAX`: not a cell).
    pub(super) fn row_cells(&self, row: usize) -> &[u32] {
        &self.index[row * self.ncols..(row + 1) * self.ncols]
    }

    /// The cell at (`row`, `col`), if that position is a cell of the grid;
    /// `None` also for positions outside the lattice.
    pub(super) fn cell_at(&self, row: usize, col: usize) -> Option<usize> {
        if row >= self.nrows || col >= self.ncols {
            return None;
        }
        match self.index[row * self.ncols + col] {
            u32::MAX => None,
            i => Some(i as usize),
        }
    }
}

/// Builds the square grid of `cell_m` metres over `shape`, with at most
/// `max_cells` cells.
///
/// With an `anchor` (lon, lat), the projection is centred there and the
/// lattice lines fall on whole multiples of `cell_m` from it, whatever the
/// area: grids over different areas share their cells, and no cell moves
/// with the data or the request (the access gate's fixed mission grid).
/// Cell keys then count rows and columns from the anchor.
pub(super) fn build(
    shape: &Shape,
    cell_m: f64,
    max_cells: usize,
    anchor: Option<[f64; 2]>,
) -> Result<Grid, GridError> {
    if !(cell_m.is_finite() && cell_m > 0.0) {
        return Err(GridError::param(
            "cell_m",
            format!("cell size {cell_m} m must be a positive number"),
        ));
    }
    let [lon0, lat0] = anchor.unwrap_or_else(|| shape.centre());
    if !(lon0.is_finite() && lat0.is_finite() && lon0.abs() <= 180.0 && lat0.abs() < 90.0) {
        return Err(GridError::param(
            "anchor",
            format!("grid anchor ({lon0}, {lat0}) is not a longitude/latitude"),
        ));
    }
    let projection = Laea::wgs84(lon0, lat0);
    let step = (800.0 * cell_m).sqrt().min(250.0);
    let eps = (cell_m * 1e-3).min(1.0);
    let rings: Vec<Vec<[f64; 2]>> = shape
        .rings
        .iter()
        .map(|r| {
            densify(r, step)
                .into_iter()
                .map(|[lon, lat]| projection.forward(lon, lat))
                .collect()
        })
        .collect();
    let mut ext = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for p in rings.iter().flatten() {
        ext = [
            ext[0].min(p[0]),
            ext[1].min(p[1]),
            ext[2].max(p[0]),
            ext[3].max(p[1]),
        ];
    }
    if !ext.iter().all(|v| v.is_finite()) {
        return Err(GridError::param(
            "area",
            "area cannot be projected (does it span half the globe?)",
        ));
    }
    let (x0, y0) = match anchor {
        Some(_) => (
            ((ext[0] - eps) / cell_m).floor() * cell_m,
            ((ext[1] - eps) / cell_m).floor() * cell_m,
        ),
        None => (ext[0] - eps, ext[1] - eps),
    };
    let key_offset = match anchor {
        Some(_) => ((y0 / cell_m).round() as i64, (x0 / cell_m).round() as i64),
        None => (0, 0),
    };
    let ncols = ((ext[2] + eps - x0) / cell_m).floor() + 1.0;
    let nrows = ((ext[3] + eps - y0) / cell_m).floor() + 1.0;
    if ncols * nrows > MAX_LATTICE as f64 {
        return Err(GridError::param(
            "cell_m",
            format!(
                "{cell_m} m cells would span {ncols} x {nrows} positions over this area \
                 (at most {MAX_LATTICE}): use larger cells"
            ),
        ));
    }
    let mut lattice = Lattice {
        x0,
        y0,
        cell_m,
        nrows: nrows as usize,
        ncols: ncols as usize,
        key_offset,
        index: Vec::new(),
        position: Vec::new(),
    };
    crate::cancel::check()?;
    let mut keep = vec![false; lattice.nrows * lattice.ncols];
    mark_boundary(&lattice, &rings, eps, &mut keep);
    crate::cancel::check()?;
    mark_interior(&lattice, &rings, &mut keep);
    crate::cancel::check()?;
    let kept: Vec<usize> = keep
        .iter()
        .enumerate()
        .filter(|(_, &k)| k)
        .map(|(i, _)| i)
        .collect();
    if kept.len() > max_cells {
        return Err(GridError::TooManyCells {
            kind: GridKind::Square { cell_m },
            estimate: kept.len() as f64,
            max_cells,
        });
    }
    lattice.index = vec![u32::MAX; keep.len()];
    for (i, &pos) in kept.iter().enumerate() {
        lattice.index[pos] = i as u32;
    }
    lattice.position = kept.iter().map(|&pos| pos as u32).collect();
    let cells = make_cells(&lattice, &projection, &kept);
    Ok(Grid {
        kind: GridKind::Square { cell_m },
        cells,
        projection,
        lookup: Lookup::Square(lattice),
    })
}

/// Points per cell side in the rings.
pub(super) const SIDE: usize = 4;

/// The cells at lattice positions `kept` (row-major): key, centre, and the
/// projected square inverse-projected with [`SIDE`] points per side,
/// counter-clockwise from the south-west corner.
///
/// Ring points lie on the lattice lines at multiples of a quarter cell; they
/// are inverse-projected once per line, from integer multiples of that
/// quarter step, so neighbouring cells share bit-identical vertices (no
/// slivers on a map) and each point costs one inverse projection, not two.
fn make_cells(l: &Lattice, p: &Laea, kept: &[usize]) -> Vec<Cell> {
    let q = l.cell_m / SIDE as f64;
    let (mut rows, mut cols) = (vec![None; l.nrows], vec![None; l.ncols]);
    for &pos in kept {
        let (r, c) = (pos / l.ncols, pos % l.ncols);
        widen(&mut rows[r], c);
        widen(&mut cols[c], r);
    }
    // Line j lies between rows (columns) j - 1 and j.
    let span = |ranges: &[Option<(usize, usize)>], j: usize| {
        let below = j.checked_sub(1).and_then(|k| ranges[k]);
        let above = ranges.get(j).copied().flatten();
        match (below, above) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        }
    };
    let horizontal = LinePoints::new(
        l.nrows + 1,
        |j| span(&rows, j),
        |j, i| p.inverse(l.x0 + i as f64 * q, l.y0 + (SIDE * j) as f64 * q),
    );
    let vertical = LinePoints::new(
        l.ncols + 1,
        |j| span(&cols, j),
        |j, i| p.inverse(l.x0 + (SIDE * j) as f64 * q, l.y0 + i as f64 * q),
    );
    kept.par_iter()
        .map(|&pos| {
            let (row, col) = (pos / l.ncols, pos % l.ncols);
            let (r4, c4) = (SIDE * row, SIDE * col);
            let mut ring = Vec::with_capacity(4 * SIDE + 1);
            ring.extend((0..SIDE).map(|k| horizontal.get(row, c4 + k)));
            ring.extend((0..SIDE).map(|k| vertical.get(col + 1, r4 + k)));
            ring.extend((0..SIDE).map(|k| horizontal.get(row + 1, c4 + SIDE - k)));
            ring.extend((0..SIDE).map(|k| vertical.get(col, r4 + SIDE - k)));
            ring.push(ring[0]);
            let xy = l.centre_xy(row, col);
            Cell {
                key: format!(
                    "r{}c{}",
                    row as i64 + l.key_offset.0,
                    col as i64 + l.key_offset.1
                ),
                center: p.inverse(xy[0], xy[1]),
                xy,
                ring,
            }
        })
        .collect()
}

fn widen(range: &mut Option<(usize, usize)>, v: usize) {
    *range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
}

/// Inverse-projected points along lattice lines, at quarter-cell steps over
/// the span of cells each line borders.
struct LinePoints {
    first: Vec<usize>,
    points: Vec<Vec<[f64; 2]>>,
}

impl LinePoints {
    fn new(
        lines: usize,
        span: impl Fn(usize) -> Option<(usize, usize)> + Sync,
        point: impl Fn(usize, usize) -> [f64; 2] + Sync,
    ) -> LinePoints {
        let (first, points) = (0..lines)
            .into_par_iter()
            .map(|j| match span(j) {
                Some((lo, hi)) => (
                    SIDE * lo,
                    (SIDE * lo..=SIDE * (hi + 1)).map(|i| point(j, i)).collect(),
                ),
                None => (0, Vec::new()),
            })
            .unzip();
        LinePoints { first, points }
    }

    /// Point `i` (in quarter steps from the lattice origin) of line `j`.
    fn get(&self, j: usize, i: usize) -> [f64; 2] {
        self.points[j][i - self.first[j]]
    }
}

/// Splits each lon/lat segment of `ring` into pieces of at most about
/// `step_m` metres.
fn densify(ring: &[[f64; 2]], step_m: f64) -> Vec<[f64; 2]> {
    // Upper bounds of a degree's length, so pieces are never longer.
    const M_PER_DEG_LON: f64 = 111_320.0;
    const M_PER_DEG_LAT: f64 = 111_700.0;
    let mut out = Vec::with_capacity(ring.len());
    for w in ring.windows(2) {
        let ([lon1, lat1], [lon2, lat2]) = (w[0], w[1]);
        let coslat = if lat1 * lat2 <= 0.0 {
            1.0
        } else {
            lat1.abs().min(lat2.abs()).to_radians().cos()
        };
        let len = ((lon2 - lon1) * M_PER_DEG_LON * coslat).hypot((lat2 - lat1) * M_PER_DEG_LAT);
        let n = (len / step_m).ceil().max(1.0) as usize;
        for k in 0..n {
            let t = k as f64 / n as f64;
            out.push([lon1 + t * (lon2 - lon1), lat1 + t * (lat2 - lat1)]);
        }
    }
    if let Some(&last) = ring.last() {
        out.push(last);
    }
    out
}

/// Marks every cell that a boundary segment passes within `eps` of.
fn mark_boundary(l: &Lattice, rings: &[Vec<[f64; 2]>], eps: f64, keep: &mut [bool]) {
    let c = l.cell_m;
    let last_row = (l.nrows - 1) as f64;
    let last_col = (l.ncols - 1) as f64;
    for w in rings.iter().flat_map(|r| r.windows(2)) {
        let ([px, py], [qx, qy]) = (w[0], w[1]);
        let (dx, dy) = (qx - px, qy - py);
        let r0 = ((py.min(qy) - eps - l.y0) / c).floor().clamp(0.0, last_row) as usize;
        let r1 = ((py.max(qy) + eps - l.y0) / c).floor().clamp(0.0, last_row) as usize;
        for row in r0..=r1 {
            let lo = l.y0 + row as f64 * c - eps;
            let hi = lo + c + 2.0 * eps;
            // The part of the segment within the row's (widened) band.
            let (xa, xb) = if dy == 0.0 {
                (px.min(qx), px.max(qx))
            } else {
                let (ta, tb) = ((lo - py) / dy, (hi - py) / dy);
                let (t0, t1) = (ta.min(tb).max(0.0), ta.max(tb).min(1.0));
                if t0 > t1 {
                    continue;
                }
                let (xa, xb) = (px + t0 * dx, px + t1 * dx);
                (xa.min(xb), xa.max(xb))
            };
            let c0 = ((xa - eps - l.x0) / c).floor().clamp(0.0, last_col) as usize;
            let c1 = ((xb + eps - l.x0) / c).floor().clamp(0.0, last_col) as usize;
            keep[row * l.ncols + c0..=row * l.ncols + c1].fill(true);
        }
    }
}

/// Marks every cell whose centre is inside the rings (even-odd rule), by
/// intersecting each row's centre line with the boundary.
fn mark_interior(l: &Lattice, rings: &[Vec<[f64; 2]>], keep: &mut [bool]) {
    let c = l.cell_m;
    let row_y = |r: usize| l.y0 + (r as f64 + 0.5) * c;
    let last_row = (l.nrows - 1) as f64;
    let mut crossings: Vec<Vec<f64>> = vec![Vec::new(); l.nrows];
    for w in rings.iter().flat_map(|r| r.windows(2)) {
        let ([px, py], [qx, qy]) = (w[0], w[1]);
        if py == qy {
            continue;
        }
        // A generous row range, then the exact half-open test per row.
        let r0 = ((py.min(qy) - l.y0) / c - 1.5).ceil().clamp(0.0, last_row) as usize;
        let r1 = ((py.max(qy) - l.y0) / c + 0.5).floor().clamp(0.0, last_row) as usize;
        for (r, list) in crossings.iter_mut().enumerate().take(r1 + 1).skip(r0) {
            let y = row_y(r);
            if (py > y) != (qy > y) {
                list.push(px + (y - py) * (qx - px) / (qy - py));
            }
        }
    }
    let last_col = l.ncols as f64 - 1.0;
    for (r, mut xs) in crossings.into_iter().enumerate() {
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            // Columns whose centre x0 + (col + 0.5) c lies in [a, b].
            let a = ((pair[0] - l.x0) / c - 0.5).ceil().max(0.0);
            let b = ((pair[1] - l.x0) / c - 0.5).floor().min(last_col);
            if a <= b {
                keep[r * l.ncols + a as usize..=r * l.ncols + b as usize].fill(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ring, Rng};
    use super::super::Area;
    use super::*;
    use geo::{Contains, GeodesicArea};
    use geo_types::{coord, LineString, MultiPolygon, Point, Polygon};

    /// About 600 km east-west by 400 km north-south in western CAR.
    const CAR: [f64; 4] = [15.5, 4.0, 20.92, 7.62];

    fn polygon(r: &[[f64; 2]]) -> Polygon<f64> {
        Polygon::new(
            LineString(r.iter().map(|p| coord! { x: p[0], y: p[1] }).collect()),
            vec![],
        )
    }

    #[test]
    fn car_at_1km_has_the_right_cells() {
        let g = Grid::square(&Area::BBox(CAR), 1000.0).unwrap();
        // Geodesic area and perimeter of the box, its parallels densified.
        let [w, s, e, n] = CAR;
        let mut b = Vec::new();
        for k in 0..=1000 {
            b.push([w + (e - w) * f64::from(k) / 1000.0, s]);
        }
        for k in 0..=1000 {
            b.push([e - (e - w) * f64::from(k) / 1000.0, n]);
        }
        b.push([w, s]);
        let (perimeter, area) = polygon(&b).geodesic_perimeter_area_unsigned();
        assert!((area / 1e6 - 240_000.0).abs() < 2_000.0, "{area}");
        // The cells cover the area; the extra ones straddle its boundary.
        let cells = g.len() as f64;
        let full = area / 1e6;
        println!(
            "{cells} cells for {full:.1} km2, perimeter {:.1} km",
            perimeter / 1e3
        );
        assert!(
            cells >= full && cells <= full + 1.5 * perimeter / 1e3 + 8.0,
            "{cells} {full}"
        );
        // Every cell is 1 km2 on the ellipsoid, and keys follow the lattice.
        let worst = g
            .cells
            .par_iter()
            .map(|c| (polygon(&c.ring).geodesic_area_unsigned() / 1e6 - 1.0).abs())
            .reduce(|| 0.0, f64::max);
        println!("worst relative cell-area error {worst:.2e}");
        assert!(worst < 1e-8, "{worst}");
        assert!(g
            .cells
            .iter()
            .all(|c| c.ring.len() == 17 && c.ring[0] == c.ring[16]));
        let mut keys: Vec<&str> = g.cells.iter().map(|c| c.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), g.len());
        assert_eq!(g.cell_area_m2(0), 1e6);
    }

    #[test]
    fn points_fall_in_the_cell_whose_ring_contains_them() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.5, 4.4]), 1000.0).unwrap();
        let mut rng = Rng::new(7);
        for _ in 0..20_000 {
            let lon = 18.0 + 0.5 * rng.uniform();
            let lat = 4.0 + 0.4 * rng.uniform();
            // Never outside: cells cover the whole box.
            let i = g.locate(lon, lat).unwrap();
            let cell = &g.cells[i];
            assert!(
                polygon(&cell.ring).contains(&Point::new(lon, lat)),
                "{lon} {lat} {}",
                cell.key
            );
            let [x, y] = g.project(lon, lat);
            assert!((x - cell.xy[0]).abs() <= 500.0 && (y - cell.xy[1]).abs() <= 500.0);
        }
        assert_eq!(g.locate(19.0, 4.2), None);
        assert_eq!(g.locate(f64::NAN, 4.2), None);
    }

    #[test]
    fn centre_and_keys() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.2, 4.1]), 2000.0).unwrap();
        let c = &g.cells[0];
        assert!(c.key.starts_with("r0c"));
        assert_eq!(g.locate(c.center[0], c.center[1]), Some(0));
        let [x, y] = g.project(c.center[0], c.center[1]);
        assert!((x - c.xy[0]).abs() < 1e-6 && (y - c.xy[1]).abs() < 1e-6);
        // Row-major from the south-west: a cell further east or north comes later.
        let last = g.cells.last().unwrap();
        assert!(last.center[1] > c.center[1]);
    }

    #[test]
    fn neighbours_share_vertices_exactly() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.2, 4.1]), 1000.0).unwrap();
        let by_key = |k: &str| g.cells.iter().find(|c| c.key == k).unwrap();
        let (a, east, north) = (by_key("r3c4"), by_key("r3c5"), by_key("r4c4"));
        // a's east side (SE..NE) is east's west side (SW..NW), reversed.
        let a_east: Vec<_> = a.ring[4..=8].to_vec();
        let mut e_west: Vec<_> = east.ring[12..=16].to_vec();
        e_west.reverse();
        assert_eq!(a_east, e_west);
        // a's north side (NE..NW) is north's south side (SW..SE), reversed.
        let a_north: Vec<_> = a.ring[8..=12].to_vec();
        let mut n_south: Vec<_> = north.ring[0..=4].to_vec();
        n_south.reverse();
        assert_eq!(a_north, n_south);
    }

    #[test]
    fn polygon_with_hole_covers_its_inside_only() {
        let outer = ring(&[
            (18.0, 4.0),
            (18.6, 4.0),
            (18.6, 4.2),
            (18.2, 4.2),
            (18.2, 4.5),
            (18.0, 4.5),
            (18.0, 4.0),
        ]);
        let hole = ring(&[
            (18.3, 4.05),
            (18.3, 4.15),
            (18.5, 4.15),
            (18.5, 4.05),
            (18.3, 4.05),
        ]);
        let poly = Polygon::new(outer, vec![hole]);
        let g = Grid::square(&Area::Polygon(MultiPolygon(vec![poly.clone()])), 1000.0).unwrap();
        let bbox = Grid::square(&Area::BBox([18.0, 4.0, 18.6, 4.5]), 1000.0).unwrap();
        assert!(g.len() < bbox.len() * 2 / 3, "{} {}", g.len(), bbox.len());
        let mut rng = Rng::new(11);
        let mut inside = 0;
        for _ in 0..20_000 {
            let (lon, lat) = (18.0 + 0.6 * rng.uniform(), 4.0 + 0.5 * rng.uniform());
            if poly.contains(&Point::new(lon, lat)) {
                inside += 1;
                assert!(g.locate(lon, lat).is_some(), "{lon} {lat}");
            }
        }
        assert!(inside > 5_000);
        // Deep inside the hole (more than a cell from its edge): no cell.
        assert_eq!(g.locate(18.4, 4.1), None);
    }

    #[test]
    fn refuses_bad_sizes() {
        let area = Area::BBox(CAR);
        for c in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Grid::square(&area, c).is_err());
        }
        let e = Grid::square(&area, 100.0).unwrap_err();
        assert!(e.to_string().contains("larger cells"), "{e}");
        // Absurd sizes and areas are refused from the estimate at once,
        // before the boundary is densified or a lattice allocated.
        let t = std::time::Instant::now();
        for (a, c) in [(CAR, 1e-300), ([-180.0, -90.0, 180.0, 90.0], 500.0)] {
            let e = Grid::square(&Area::BBox(a), c).unwrap_err();
            assert!(matches!(e, GridError::TooManyCells { .. }), "{e}");
        }
        assert!(t.elapsed() < std::time::Duration::from_millis(100));
        // The estimate is close to the cells made; a budget below it refuses.
        let kind = GridKind::Square { cell_m: 2000.0 };
        let n = Grid::estimate_cells(&area, kind).unwrap();
        let g = Grid::square(&area, 2000.0).unwrap();
        assert!(
            n >= g.len() as f64 && n < 1.05 * g.len() as f64,
            "{n} {}",
            g.len()
        );
        assert!(Grid::build(&area, kind, g.len() - 1).is_err());
        assert_eq!(
            Grid::build(&area, kind, n.ceil() as usize).unwrap().len(),
            g.len()
        );
    }

    #[test]
    fn densify_keeps_ends_and_bounds_steps() {
        let d = densify(&[[0.0, 0.0], [1.0, 0.0]], 250.0);
        assert_eq!(d.first(), Some(&[0.0, 0.0]));
        assert_eq!(d.last(), Some(&[1.0, 0.0]));
        assert_eq!(d.len(), 447);
    }
}
