//! Spatial weights: who is a neighbour of whom, and how much each neighbour counts.
//!
//! [`Weights`] holds the neighbour lists of `n` points in compressed sparse row
//! (CSR) form: row `i` lists the neighbours of point `i` in ascending index order,
//! never `i` itself. Coordinates are projected metres (`[x, y]`, Euclidean
//! distances); project longitude/latitude first.
//!
//! * [`Weights::distance_band`]: every point within `threshold` metres (binary),
//!   as libpysal's `DistanceBand(binary=True)`. Built on a uniform grid hash,
//!   in parallel.
//! * [`Weights::knn`]: the `k` nearest points (binary), ties at the k-th
//!   distance broken by the lower index, as libpysal's `KNN` (whose tie order
//!   is that of scipy's KD-tree).
//! * [`auto_distance_band`]: the default band, the largest nearest-neighbour
//!   distance, i.e. the smallest band that leaves no point without a neighbour.
//!
//! Every constructor gives the same result whatever the number of rayon
//! threads: points are processed in fixed blocks of consecutive indices,
//! each block built by one thread and stored as built.
//!
//! One difference from libpysal: coincident points (distance 0) are neighbours
//! of each other here; libpysal's `DistanceBand` drops them together with the
//! diagonal. Aggregated grid cells never coincide, so Gi* and Local Moran on
//! cells are unaffected.

use super::AnalysisError;
use rayon::prelude::*;
use rstar::primitives::GeomWithData;
use rstar::RTree;

/// Rows per block (a power of two): the unit of parallel construction and of
/// storage, so that building needs no final concatenation pass.
const BLOCK_SHIFT: usize = 10;
const BLOCK: usize = 1 << BLOCK_SHIFT;

/// Largest cardinality for which row-standardised binary weights are served
/// from a shared `1/k` table instead of being stored per link.
const UNIFORM_TABLE_MAX: usize = 256;

/// Spatial weights of `n` points in compressed sparse row form.
///
/// Rows are stored in blocks of 1,024 consecutive points, each block a small
/// CSR matrix: threads build blocks independently and they are kept as they
/// are. Invariants: every row is sorted by index, without duplicates and
/// without the row's own point; weights are finite and non-negative.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    n: usize,
    blocks: Vec<Block>,
    values: Values,
}

/// Rows `b * BLOCK ..` of the matrix: row `r` of the block is
/// `neighbors[offsets[r]..offsets[r + 1]]`, with `weights` alongside when
/// the values are [`Values::General`] (empty otherwise).
#[derive(Debug, Clone, PartialEq, Default)]
struct Block {
    offsets: Vec<usize>,
    neighbors: Vec<u32>,
    weights: Vec<f64>,
}

/// How the weight of each link is stored. Binary weights and their row
/// standardisation are the common case (distance band, k nearest); they need
/// no per-link storage, which halves the memory of a 200k-cell band.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// Every weight is 1; `ones` has the length of the longest row.
    Binary { ones: Vec<f64> },
    /// Binary weights divided by the row cardinality: `table[k]` is `k` copies of `1/k`.
    RowUniform { table: Vec<Vec<f64>> },
    /// One weight per link, in the blocks.
    General { row_standardized: bool },
}

impl Weights {
    /// Binary distance-band weights: `j` is a neighbour of `i` when
    /// `|xy[i] - xy[j]| <= threshold` (metres) and `j != i`.
    ///
    /// Errors when `threshold` is not a positive finite number, a coordinate is
    /// not finite, or there are more than `u32::MAX` points.
    pub fn distance_band(xy: &[[f64; 2]], threshold: f64) -> Result<Weights, AnalysisError> {
        check_points(xy)?;
        if !(threshold.is_finite() && threshold > 0.0) {
            return Err(AnalysisError::param(
                "threshold",
                format!("must be a positive number of metres, got {threshold}"),
            ));
        }
        let grid = Grid::new(xy, threshold);
        let t2 = threshold * threshold;
        let stop = crate::cancel::current();
        let blocks: Vec<Block> = xy
            .par_chunks(BLOCK)
            .enumerate()
            .map(|(b, chunk)| {
                let mut block = Block::with_rows(chunk.len());
                if stop.stopped() {
                    return block;
                }
                for (r, p) in chunk.iter().enumerate() {
                    let start = block.neighbors.len();
                    grid.within(*p, t2, (b * BLOCK + r) as u32, &mut block.neighbors);
                    sort_row(&mut block.neighbors[start..]);
                    block.offsets.push(block.neighbors.len());
                    if r == 15 {
                        // Size the buffer from the first rows to avoid regrowth.
                        let per_row = block.neighbors.len() / 16 + 1;
                        block
                            .neighbors
                            .reserve(per_row * (chunk.len() - 16) * 5 / 4);
                    }
                }
                block
            })
            .collect();
        crate::cancel::check()?;
        Ok(Weights::binary(xy.len(), blocks))
    }

    /// Binary k-nearest-neighbour weights: the `k` points closest to each point
    /// (itself excluded). When several points tie at the k-th distance, those
    /// with the lower index are taken, so the result never depends on the
    /// tree layout or on the thread count.
    ///
    /// Errors when `k` is 0 or not smaller than the number of points, or a
    /// coordinate is not finite.
    pub fn knn(xy: &[[f64; 2]], k: usize) -> Result<Weights, AnalysisError> {
        check_points(xy)?;
        if k == 0 || k >= xy.len() {
            return Err(AnalysisError::param(
                "k",
                format!(
                    "must be between 1 and the number of points minus one ({}), got {k}",
                    xy.len().saturating_sub(1)
                ),
            ));
        }
        let tree = point_tree(xy);
        let stop = crate::cancel::current();
        let blocks: Vec<Block> = xy
            .par_chunks(BLOCK)
            .enumerate()
            .map(|(b, chunk)| {
                let mut block = Block::with_rows(chunk.len());
                if stop.stopped() {
                    return block;
                }
                block.neighbors.reserve(chunk.len() * k);
                let mut found: Vec<(f64, u32)> = Vec::with_capacity(k + 8);
                for (r, p) in chunk.iter().enumerate() {
                    let i = (b * BLOCK + r) as u32;
                    found.clear();
                    for (item, d2) in tree.nearest_neighbor_iter_with_distance_2(p) {
                        if item.data == i {
                            continue;
                        }
                        // Keep going past k while the distance ties with the k-th.
                        if found.len() >= k && d2 > found[k - 1].0 {
                            break;
                        }
                        found.push((d2, item.data));
                    }
                    found.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    found.truncate(k);
                    let start = block.neighbors.len();
                    block.neighbors.extend(found.iter().map(|&(_, j)| j));
                    block.neighbors[start..].sort_unstable();
                    block.offsets.push(block.neighbors.len());
                }
                block
            })
            .collect();
        crate::cancel::check()?;
        Ok(Weights::binary(xy.len(), blocks))
    }

    /// Weights from an explicit CSR structure, e.g. grid contiguity built elsewhere.
    ///
    /// `offsets` has `n + 1` entries starting at 0; row `i` is
    /// `neighbors[offsets[i]..offsets[i + 1]]` with the matching `weights`.
    /// Rows are sorted here; a row must not contain `i` itself or the same
    /// neighbour twice, and weights must be finite and non-negative.
    pub fn from_csr(
        offsets: Vec<usize>,
        neighbors: Vec<u32>,
        weights: Vec<f64>,
    ) -> Result<Weights, AnalysisError> {
        let n = offsets
            .len()
            .checked_sub(1)
            .ok_or_else(|| AnalysisError::param("offsets", "needs n + 1 entries, got none"))?;
        if offsets[0] != 0 || offsets[n] != neighbors.len() || weights.len() != neighbors.len() {
            return Err(AnalysisError::param(
                "offsets",
                format!(
                    "must start at 0 and end at the number of links ({} neighbours, {} weights), got {}..{}",
                    neighbors.len(),
                    weights.len(),
                    offsets[0],
                    offsets[n]
                ),
            ));
        }
        if n > u32::MAX as usize {
            return Err(AnalysisError::param("offsets", "more than u32::MAX rows"));
        }
        let mut blocks = Vec::with_capacity(n.div_ceil(BLOCK));
        let mut row: Vec<(u32, f64)> = Vec::new();
        for first in (0..n).step_by(BLOCK) {
            let mut block = Block::with_rows(BLOCK.min(n - first));
            for i in first..(first + BLOCK).min(n) {
                let (a, b) = (offsets[i], offsets[i + 1]);
                if a > b {
                    return Err(AnalysisError::param(
                        "offsets",
                        format!("decrease at row {i} ({a} > {b})"),
                    ));
                }
                row.clear();
                row.extend(
                    neighbors[a..b]
                        .iter()
                        .copied()
                        .zip(weights[a..b].iter().copied()),
                );
                row.sort_unstable_by_key(|&(j, _)| j);
                for (m, &(j, w)) in row.iter().enumerate() {
                    if j as usize >= n || j as usize == i {
                        return Err(AnalysisError::param(
                            "neighbors",
                            format!("row {i} lists {j}, which is itself or out of range (n = {n})"),
                        ));
                    }
                    if m > 0 && row[m - 1].0 == j {
                        return Err(AnalysisError::param(
                            "neighbors",
                            format!("row {i} lists {j} twice"),
                        ));
                    }
                    if !(w.is_finite() && w >= 0.0) {
                        return Err(AnalysisError::param(
                            "weights",
                            format!("row {i}, neighbour {j}: weight {w} is not a finite non-negative number"),
                        ));
                    }
                }
                block.neighbors.extend(row.iter().map(|&(j, _)| j));
                block.weights.extend(row.iter().map(|&(_, w)| w));
                block.offsets.push(block.neighbors.len());
            }
            blocks.push(block);
        }
        Ok(Weights {
            n,
            blocks,
            values: Values::General {
                row_standardized: false,
            },
        })
    }

    /// Row-standardised copy: each weight divided by its row sum, so every
    /// row with neighbours sums to 1 (esda's transform `'R'`). Islands stay
    /// empty. Already standardised weights are returned unchanged.
    pub fn row_standardized(&self) -> Weights {
        match &self.values {
            Values::Binary { ones } if ones.len() <= UNIFORM_TABLE_MAX => Weights {
                n: self.n,
                blocks: self.blocks.clone(),
                values: Values::RowUniform {
                    table: (0..=ones.len()).map(|k| vec![1.0 / k as f64; k]).collect(),
                },
            },
            Values::RowUniform { .. }
            | Values::General {
                row_standardized: true,
            } => self.clone(),
            _ => {
                let blocks = (0..self.blocks.len())
                    .into_par_iter()
                    .map(|b| {
                        let mut block = self.blocks[b].clone();
                        let rows = block.offsets.len() - 1;
                        block.weights = Vec::with_capacity(block.neighbors.len());
                        for r in 0..rows {
                            let (_, row) = self.neighbors(b * BLOCK + r);
                            let sum: f64 = row.iter().sum();
                            if sum > 0.0 {
                                block.weights.extend(row.iter().map(|v| v / sum));
                            } else {
                                block.weights.extend_from_slice(row);
                            }
                        }
                        block
                    })
                    .collect();
                Weights {
                    n: self.n,
                    blocks,
                    values: Values::General {
                        row_standardized: true,
                    },
                }
            }
        }
    }

    /// Number of points (rows).
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Neighbours of point `i` (ascending indices) and their weights.
    ///
    /// # Panics
    /// When `i >= self.len()`, like slice indexing.
    pub fn neighbors(&self, i: usize) -> (&[u32], &[f64]) {
        let block = &self.blocks[i >> BLOCK_SHIFT];
        let r = i & (BLOCK - 1);
        let (a, b) = (block.offsets[r], block.offsets[r + 1]);
        let w: &[f64] = match &self.values {
            Values::Binary { ones } => &ones[..b - a],
            Values::RowUniform { table } => &table[b - a],
            Values::General { .. } => &block.weights[a..b],
        };
        (&block.neighbors[a..b], w)
    }

    /// Number of neighbours of point `i`.
    pub fn cardinality(&self, i: usize) -> usize {
        let block = &self.blocks[i >> BLOCK_SHIFT];
        let r = i & (BLOCK - 1);
        block.offsets[r + 1] - block.offsets[r]
    }

    /// Number of neighbours of every point.
    pub fn cardinalities(&self) -> Vec<usize> {
        self.blocks
            .iter()
            .flat_map(|b| b.offsets.windows(2).map(|w| w[1] - w[0]))
            .collect()
    }

    /// Largest number of neighbours of any point.
    pub fn max_cardinality(&self) -> usize {
        self.blocks
            .iter()
            .flat_map(|b| b.offsets.windows(2).map(|w| w[1] - w[0]))
            .max()
            .unwrap_or(0)
    }

    /// Points without any neighbour, ascending.
    pub fn islands(&self) -> Vec<usize> {
        (0..self.n).filter(|&i| self.cardinality(i) == 0).collect()
    }

    /// Total number of (directed) links.
    pub fn n_links(&self) -> usize {
        self.blocks.iter().map(|b| b.neighbors.len()).sum()
    }

    /// Whether every weight is 1.
    pub fn is_binary(&self) -> bool {
        match &self.values {
            Values::Binary { .. } => true,
            Values::RowUniform { .. } => false,
            Values::General { .. } => self
                .blocks
                .iter()
                .all(|b| b.weights.iter().all(|&v| v == 1.0)),
        }
    }

    /// Whether the weights are row-standardised (made by [`Weights::row_standardized`]).
    pub fn is_row_standardized(&self) -> bool {
        matches!(
            self.values,
            Values::RowUniform { .. }
                | Values::General {
                    row_standardized: true,
                }
        )
    }

    /// Binary weights from blocks built in order.
    fn binary(n: usize, blocks: Vec<Block>) -> Weights {
        let mut w = Weights {
            n,
            blocks,
            values: Values::Binary { ones: Vec::new() },
        };
        w.values = Values::Binary {
            ones: vec![1.0; w.max_cardinality()],
        };
        w
    }
}

impl Block {
    fn with_rows(rows: usize) -> Block {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Block {
            offsets,
            neighbors: Vec::with_capacity(16 * 64),
            weights: Vec::new(),
        }
    }
}

/// Default distance band: the largest distance from a point to its nearest
/// other point, so that the band leaves no point without a neighbour (the
/// rule of ArcGIS's default fixed distance band, "every feature has at least
/// one neighbour", and of libpysal's `min_threshold_distance`). Returned so
/// that callers can report it.
///
/// On a complete square grid this is the cell size (rook neighbours only);
/// analysts usually want a wider band and should say which they used. The
/// value is rounded up by one unit in the last place when needed so that
/// `distance_band(xy, auto_distance_band(xy)?)` has no island.
///
/// Errors with fewer than two points, non-finite coordinates, or when all
/// points coincide (the band would be 0).
pub fn auto_distance_band(xy: &[[f64; 2]]) -> Result<f64, AnalysisError> {
    check_points(xy)?;
    if xy.len() < 2 {
        return Err(AnalysisError::param(
            "xy",
            format!("needs at least two points, got {}", xy.len()),
        ));
    }
    let tree = point_tree(xy);
    let d2max = xy
        .par_iter()
        .enumerate()
        .with_min_len(BLOCK)
        .map(|(i, p)| {
            tree.nearest_neighbor_iter_with_distance_2(p)
                .find(|(item, _)| item.data as usize != i)
                .map_or(0.0, |(_, d2)| d2)
        })
        .reduce(|| 0.0, f64::max);
    if d2max <= 0.0 {
        return Err(AnalysisError::param(
            "xy",
            "all points coincide: no distance band separates them",
        ));
    }
    let mut t = d2max.sqrt();
    if t * t < d2max {
        t = f64::from_bits(t.to_bits() + 1);
    }
    Ok(t)
}

/// Sorts one neighbour row. Rows come out of the grid scan in short sorted
/// runs (one per grid cell), where insertion sort beats the general sort by
/// a wide margin; long rows (wide bands) take the general sort.
fn sort_row(row: &mut [u32]) {
    if row.len() > 64 {
        row.sort_unstable();
        return;
    }
    for i in 1..row.len() {
        let v = row[i];
        let mut j = i;
        while j > 0 && row[j - 1] > v {
            row[j] = row[j - 1];
            j -= 1;
        }
        row[j] = v;
    }
}

fn check_points(xy: &[[f64; 2]]) -> Result<(), AnalysisError> {
    if xy.len() > u32::MAX as usize {
        return Err(AnalysisError::param(
            "xy",
            format!("at most {} points, got {}", u32::MAX, xy.len()),
        ));
    }
    if let Some(i) = xy
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(AnalysisError::param(
            "xy",
            format!("point {i} has a non-finite coordinate {:?}", xy[i]),
        ));
    }
    Ok(())
}

fn point_tree(xy: &[[f64; 2]]) -> RTree<GeomWithData<[f64; 2], u32>> {
    RTree::bulk_load(
        xy.iter()
            .enumerate()
            .map(|(i, p)| GeomWithData::new(*p, i as u32))
            .collect(),
    )
}

/// Uniform grid hash: points counting-sorted by cell (row-major), so that the
/// cells of one grid row within reach of a query are one contiguous slice.
struct Grid {
    min: [f64; 2],
    inv_cell: f64,
    nx: usize,
    ny: usize,
    /// How many cells either side a neighbour can be.
    reach: usize,
    /// `start[c]..start[c + 1]` indexes the points of cell `c` in `pts`/`ids`.
    start: Vec<u32>,
    pts: Vec<[f64; 2]>,
    ids: Vec<u32>,
}

impl Grid {
    fn new(xy: &[[f64; 2]], threshold: f64) -> Grid {
        let (min, max) = xy
            .par_chunks(BLOCK)
            .map(|chunk| {
                let mut min = [f64::INFINITY; 2];
                let mut max = [f64::NEG_INFINITY; 2];
                for p in chunk {
                    for d in 0..2 {
                        min[d] = min[d].min(p[d]);
                        max[d] = max[d].max(p[d]);
                    }
                }
                Some((min, max))
            })
            .reduce(
                || None,
                |a, b| match (a, b) {
                    (Some(a), Some(b)) => Some((
                        [a.0[0].min(b.0[0]), a.0[1].min(b.0[1])],
                        [a.1[0].max(b.1[0]), a.1[1].max(b.1[1])],
                    )),
                    (a, b) => a.or(b),
                },
            )
            .unwrap_or(([0.0; 2], [0.0; 2]));
        let (wx, wy) = (max[0] - min[0], max[1] - min[1]);
        // Half-band cells (5 x 5 scan) cover 6.25 t^2 against 9 t^2 for
        // band-sized cells; fall back to larger cells when the grid would
        // have far more cells than points (tiny band over a wide area). The
        // 1e-6 margin keeps a pair at exactly the band within `reach` cells
        // despite rounding in the cell computation.
        let budget = 2.0 * xy.len() as f64 + 32.0;
        let cells = |s: f64| (wx / s + 1.0) * (wy / s + 1.0);
        let (cell, reach) = if cells(threshold / 2.0) <= 2.0 * budget {
            (threshold / 2.0 * (1.0 + 1e-6), 2)
        } else {
            let s = threshold
                .max((wx * wy / budget).sqrt())
                .max((wx + wy) / budget);
            (s * (1.0 + 1e-6), 1)
        };
        let inv_cell = 1.0 / cell;
        let nx = (wx * inv_cell) as usize + 1;
        let ny = (wy * inv_cell) as usize + 1;
        let mut grid = Grid {
            min,
            inv_cell,
            nx,
            ny,
            reach,
            start: vec![0; nx * ny + 1],
            pts: Vec::new(),
            ids: Vec::new(),
        };
        let cell_of: Vec<u32> = xy
            .par_iter()
            .with_min_len(BLOCK)
            .map(|p| {
                let (cx, cy) = grid.cell(*p);
                (cy * nx + cx) as u32
            })
            .collect();
        for &c in &cell_of {
            grid.start[c as usize + 1] += 1;
        }
        for c in 0..nx * ny {
            grid.start[c + 1] += grid.start[c];
        }
        let mut fill = grid.start.clone();
        grid.pts = vec![[0.0; 2]; xy.len()];
        grid.ids = vec![0; xy.len()];
        for (i, &c) in cell_of.iter().enumerate() {
            let slot = fill[c as usize] as usize;
            fill[c as usize] += 1;
            grid.pts[slot] = xy[i];
            grid.ids[slot] = i as u32;
        }
        grid
    }

    fn cell(&self, p: [f64; 2]) -> (usize, usize) {
        let cx = ((p[0] - self.min[0]) * self.inv_cell) as usize;
        let cy = ((p[1] - self.min[1]) * self.inv_cell) as usize;
        (cx.min(self.nx - 1), cy.min(self.ny - 1))
    }

    /// Appends (unsorted) the ids of points within `sqrt(t2)` of `p`, except `own`.
    fn within(&self, p: [f64; 2], t2: f64, own: u32, out: &mut Vec<u32>) {
        let (cx, cy) = self.cell(p);
        let x0 = cx.saturating_sub(self.reach);
        let x1 = (cx + self.reach).min(self.nx - 1);
        for gy in cy.saturating_sub(self.reach)..=(cy + self.reach).min(self.ny - 1) {
            let a = self.start[gy * self.nx + x0] as usize;
            let b = self.start[gy * self.nx + x1 + 1] as usize;
            for (q, &j) in self.pts[a..b].iter().zip(&self.ids[a..b]) {
                let dx = q[0] - p[0];
                let dy = q[1] - p[1];
                if dx * dx + dy * dy <= t2 && j != own {
                    out.push(j);
                }
            }
        }
    }
}

/// Shared by the tests of the hotspot files: golden files, the UCDP grid, a
/// seeded generator and tolerant comparisons.
/// Checks per-cell values against the weights: one finite value per cell, and
/// at least two cells. `method` names the statistic in the message.
pub(crate) fn check_values(values: &[f64], w: &Weights, method: &str) -> Result<(), AnalysisError> {
    let n = values.len();
    if n != w.len() {
        return Err(AnalysisError::param(
            "values",
            format!("{n} values for {} cells in the weights", w.len()),
        ));
    }
    if n < 2 {
        return Err(AnalysisError::param(
            "values",
            format!("{method} needs at least two cells, got {n}"),
        ));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(AnalysisError::param(
            "values",
            format!("value {} of cell {i} is not finite", values[i]),
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::Value;
    use std::path::{Path, PathBuf};

    /// A golden file from `tests/golden` (written by tools/reference/gistar_moran.py).
    pub fn golden(name: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run tools/reference/gistar_moran.py",
                path.display()
            )
        });
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// A JSON array of numbers (null = NaN).
    pub fn f64s(v: &Value) -> Vec<f64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NAN))
            .collect()
    }

    /// A JSON array of integers.
    /// `[[x, y], ...]` as coordinate pairs.
    pub fn xy_pairs(v: &Value) -> Vec<[f64; 2]> {
        v.as_array()
            .expect("array of pairs")
            .iter()
            .map(|p| [p[0].as_f64().expect("x"), p[1].as_f64().expect("y")])
            .collect()
    }

    pub fn i64s(v: &Value) -> Vec<i64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_i64().expect("integer"))
            .collect()
    }

    /// Points from parallel `x` and `y` arrays.
    pub fn points(x: &Value, y: &Value) -> Vec<[f64; 2]> {
        f64s(x)
            .into_iter()
            .zip(f64s(y))
            .map(|(a, b)| [a, b])
            .collect()
    }

    /// Largest relative error `|a - b| / max(|b|, floor)`; panics above `tol`.
    ///
    /// The floor keeps values that are zero up to rounding (a z-score whose
    /// numerator cancels exactly) from dominating a relative measure.
    pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64, floor: f64) -> f64 {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        let mut worst = 0.0f64;
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            if w.is_nan() {
                assert!(g.is_nan(), "{what}[{i}]: got {g}, want NaN");
                continue;
            }
            let err = (g - w).abs() / w.abs().max(floor);
            assert!(
                err <= tol,
                "{what}[{i}]: got {g}, want {w} (relative error {err:e})"
            );
            worst = worst.max(err);
        }
        eprintln!(
            "{what}: max relative error {worst:.2e} over {} values",
            got.len()
        );
        worst
    }

    /// UCDP GED 23.1 CAR, if present next to the repository.
    pub fn ucdp_path() -> Option<PathBuf> {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ucdp-ged-23.1-car.geojson");
        p.exists().then_some(p)
    }

    /// The UCDP events counted on the 25 km grid of gistar_moran.py (rule in
    /// its docstring): cell centres in metres from the grid origin, counts,
    /// and (nx, ny). Computed here from the raw file, never stored.
    pub fn ucdp_grid(path: &Path) -> (Vec<[f64; 2]>, Vec<f64>, usize, usize) {
        const R: f64 = 6371008.8;
        const CELL: f64 = 25000.0;
        let text = std::fs::read_to_string(path).expect("read UCDP");
        let fc: Value = serde_json::from_str(&text).expect("parse UCDP");
        let feats = fc["features"].as_array().expect("features");
        let lonlat: Vec<[f64; 2]> = feats
            .iter()
            .map(|f| {
                let c = &f["geometry"]["coordinates"];
                [c[0].as_f64().expect("lon"), c[1].as_f64().expect("lat")]
            })
            .collect();
        let mut s = 0.0;
        for p in &lonlat {
            s += p[1];
        }
        let lat0 = s / lonlat.len() as f64;
        let c = lat0.to_radians().cos();
        let x: Vec<f64> = lonlat.iter().map(|p| R * p[0].to_radians() * c).collect();
        let y: Vec<f64> = lonlat.iter().map(|p| R * p[1].to_radians()).collect();
        let x0 = x.iter().copied().fold(f64::INFINITY, f64::min);
        let y0 = y.iter().copied().fold(f64::INFINITY, f64::min);
        let ix: Vec<usize> = x
            .iter()
            .map(|v| ((v - x0) / CELL).floor() as usize)
            .collect();
        let iy: Vec<usize> = y
            .iter()
            .map(|v| ((v - y0) / CELL).floor() as usize)
            .collect();
        let nx = ix.iter().max().expect("events") + 1;
        let ny = iy.iter().max().expect("events") + 1;
        let mut counts = vec![0.0; nx * ny];
        for (a, b) in ix.iter().zip(&iy) {
            counts[b * nx + a] += 1.0;
        }
        let xy = (0..nx * ny)
            .map(|c| {
                [
                    ((c % nx) as f64 + 0.5) * CELL,
                    ((c / nx) as f64 + 0.5) * CELL,
                ]
            })
            .collect();
        (xy, counts, nx, ny)
    }

    /// Seeded random points in a `side` x `side` square; a share `dup` of them
    /// repeat an earlier point exactly.
    pub fn random_points(seed: u64, n: usize, side: f64, dup: f64) -> Vec<[f64; 2]> {
        let mut rng = crate::rng::Rng::new(seed);
        let mut pts: Vec<[f64; 2]> = Vec::with_capacity(n);
        for i in 0..n {
            if i > 0 && rng.chance(dup) {
                let j = rng.below(i as u64) as usize;
                pts.push(pts[j]);
            } else {
                pts.push([rng.range(0.0, side), rng.range(0.0, side)]);
            }
        }
        pts
    }

    /// A seeded permutation of `0..n`.
    pub fn permutation(seed: u64, n: usize) -> Vec<usize> {
        let mut rng = crate::rng::Rng::new(seed);
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            p.swap(i, rng.below(i as u64 + 1) as usize);
        }
        p
    }

    /// The lattice of benches/hotspots.rs and benches/compare/gistar.py (keep
    /// the three in step): `floor(sqrt(cells))^2` unit cells, hashed counts
    /// plus planted 40 x 40 hot blocks.
    pub fn bench_lattice(cells: usize) -> (Vec<[f64; 2]>, Vec<f64>) {
        const SEED: u64 = 20261123;
        const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
        let side = (cells as f64).sqrt() as usize;
        let mut xy = Vec::with_capacity(side * side);
        let mut y = Vec::with_capacity(side * side);
        for r in 0..side {
            for c in 0..side {
                let i = (r * side + c) as u64;
                xy.push([c as f64, r as f64]);
                let noise = crate::rng::mix64(i.wrapping_mul(GOLDEN) ^ SEED) >> 62;
                let hot = ((c / 40) * 7 + (r / 40) * 3) % 11 == 0;
                y.push((noise + if hot { 4 } else { 0 }) as f64);
            }
        }
        (xy, y)
    }

    /// A peer's result written by `benches/compare/gistar.py` into
    /// `$JOINTMAP_PEER_DIR` (raw little-endian f64), with the lattice size.
    pub fn peer_result(name: &str) -> Option<(usize, Vec<f64>)> {
        let dir = std::env::var("JOINTMAP_PEER_DIR").ok()?;
        let cells: usize = std::env::var("JOINTMAP_PEER_CELLS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200_000);
        let bytes = std::fs::read(Path::new(&dir).join(name)).ok()?;
        let v = bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        Some((cells, v))
    }

    /// Runs `f` in a rayon pool of `threads` threads.
    pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool")
            .install(f)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn brute_band(xy: &[[f64; 2]], t: f64) -> Vec<Vec<u32>> {
        (0..xy.len())
            .map(|i| {
                (0..xy.len())
                    .filter(|&j| {
                        let dx = xy[j][0] - xy[i][0];
                        let dy = xy[j][1] - xy[i][1];
                        j != i && dx * dx + dy * dy <= t * t
                    })
                    .map(|j| j as u32)
                    .collect()
            })
            .collect()
    }

    fn rows(w: &Weights) -> Vec<Vec<u32>> {
        (0..w.len()).map(|i| w.neighbors(i).0.to_vec()).collect()
    }

    #[test]
    fn distance_band_matches_brute_force() {
        for (seed, n, t) in [(1, 500, 40.0), (2, 800, 3.0), (3, 300, 2000.0)] {
            let xy = random_points(seed, n, 1000.0, 0.05);
            let w = Weights::distance_band(&xy, t).unwrap();
            assert_eq!(rows(&w), brute_band(&xy, t), "seed {seed}");
            assert!(w.is_binary());
            for i in 0..w.len() {
                assert!(w.neighbors(i).1.iter().all(|&v| v == 1.0));
            }
        }
    }

    #[test]
    fn distance_band_on_a_lattice_includes_the_band_itself() {
        // Integer lattice, band 3: the 29 offsets with dx^2 + dy^2 <= 9, minus self.
        let xy: Vec<[f64; 2]> = (0..400)
            .map(|i| [(i % 20) as f64, (i / 20) as f64])
            .collect();
        let w = Weights::distance_band(&xy, 3.0).unwrap();
        assert_eq!(w.cardinality(10 * 20 + 10), 28);
        assert_eq!(w.cardinality(0), 10);
        assert_eq!(rows(&w), brute_band(&xy, 3.0));
        assert!(w.islands().is_empty());
        assert_eq!(w.max_cardinality(), 28);
    }

    #[test]
    fn tiny_band_over_a_wide_area_uses_coarse_cells() {
        let mut xy = random_points(4, 300, 1.0e7, 0.05);
        xy.push([5.0, 5.0]);
        xy.push([5.5, 5.0]);
        let w = Weights::distance_band(&xy, 1.0).unwrap();
        assert_eq!(rows(&w), brute_band(&xy, 1.0));
        assert_eq!(w.neighbors(300).0, &[301]);
    }

    #[test]
    fn esda_fixture_neighbours() {
        let g = golden("gistar_esda_fixture.json");
        let xy = xy_pairs(&g["xy"]);
        let w = Weights::distance_band(&xy, g["threshold"].as_f64().unwrap()).unwrap();
        let want: Vec<Vec<u32>> = g["neighbors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| i64s(r).into_iter().map(|j| j as u32).collect())
            .collect();
        assert_eq!(rows(&w), want);
    }

    #[test]
    fn synthetic_band_cardinalities_and_auto_band_match_libpysal() {
        let g = golden("gistar_synthetic.json");
        let xy = points(&g["x"], &g["y"]);
        let w = Weights::distance_band(&xy, g["threshold"].as_f64().unwrap()).unwrap();
        let want: Vec<usize> = i64s(&g["band_cardinalities"])
            .into_iter()
            .map(|c| c as usize)
            .collect();
        assert_eq!(w.cardinalities(), want);
        let auto = auto_distance_band(&xy).unwrap();
        assert_close(
            "auto band",
            &[auto],
            &[g["auto_band"].as_f64().unwrap()],
            1e-12,
            0.0,
        );
        let wa = Weights::distance_band(&xy, auto).unwrap();
        assert!(wa.islands().is_empty());
    }

    #[test]
    fn knn_matches_brute_force_with_ties_by_index() {
        // A lattice has many ties at every distance.
        let xy: Vec<[f64; 2]> = (0..300)
            .map(|i| [(i % 15) as f64, (i / 15) as f64])
            .collect();
        let mut pts = random_points(5, 300, 100.0, 0.05);
        pts.extend_from_slice(&xy);
        for k in [1, 3, 4, 7, 12] {
            let w = Weights::knn(&pts, k).unwrap();
            for i in 0..pts.len() {
                let mut all: Vec<(f64, u32)> = (0..pts.len())
                    .filter(|&j| j != i)
                    .map(|j| {
                        let dx = pts[j][0] - pts[i][0];
                        let dy = pts[j][1] - pts[i][1];
                        (dx * dx + dy * dy, j as u32)
                    })
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let mut want: Vec<u32> = all[..k].iter().map(|p| p.1).collect();
                want.sort_unstable();
                assert_eq!(w.neighbors(i).0, &want[..], "k {k}, point {i}");
            }
        }
    }

    #[test]
    fn row_standardisation_sums_to_one() {
        let xy = random_points(6, 400, 1000.0, 0.05);
        let w = Weights::distance_band(&xy, 60.0).unwrap();
        let r = w.row_standardized();
        assert!(r.is_row_standardized() && !w.is_row_standardized());
        for i in 0..r.len() {
            let (nb, wv) = r.neighbors(i);
            assert_eq!(nb, w.neighbors(i).0);
            if !nb.is_empty() {
                assert!((wv.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
        assert_eq!(r.row_standardized(), r);
        // General weights take the per-link path.
        let g = Weights::from_csr(vec![0, 2, 3, 3], vec![2, 1, 0], vec![3.0, 1.0, 5.0]).unwrap();
        let gr = g.row_standardized();
        assert_eq!(gr.neighbors(0), (&[1u32, 2][..], &[0.25, 0.75][..]));
        assert_eq!(gr.neighbors(1).1, &[1.0]);
        assert_eq!(gr.islands(), vec![2]);
    }

    #[test]
    fn from_csr_refuses_bad_structures() {
        assert!(Weights::from_csr(vec![], vec![], vec![]).is_err());
        assert!(
            Weights::from_csr(vec![0, 1], vec![0], vec![1.0]).is_err(),
            "self link"
        );
        assert!(
            Weights::from_csr(vec![0, 1, 1], vec![5], vec![1.0]).is_err(),
            "range"
        );
        assert!(Weights::from_csr(vec![0, 2, 2, 2], vec![1, 1], vec![1.0, 1.0]).is_err());
        assert!(Weights::from_csr(vec![0, 1, 1], vec![1], vec![-1.0]).is_err());
        assert!(Weights::from_csr(vec![0, 1, 0], vec![1], vec![1.0]).is_err());
    }

    #[test]
    fn parameters_are_checked() {
        let xy = vec![[0.0, 0.0], [1.0, 0.0]];
        for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Weights::distance_band(&xy, t).is_err());
        }
        assert!(Weights::distance_band(&[[f64::NAN, 0.0]], 1.0).is_err());
        assert!(Weights::knn(&xy, 0).is_err());
        assert!(Weights::knn(&xy, 2).is_err());
        assert!(auto_distance_band(&xy[..1]).is_err());
        assert!(auto_distance_band(&[[1.0, 1.0], [1.0, 1.0]]).is_err());
        let empty = Weights::distance_band(&[], 1.0).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn auto_band_leaves_no_island() {
        let xy = random_points(7, 1000, 5000.0, 0.05);
        let t = auto_distance_band(&xy).unwrap();
        let w = Weights::distance_band(&xy, t).unwrap();
        assert!(w.islands().is_empty());
        // ... and it is the smallest such band.
        let below = Weights::distance_band(&xy, t * (1.0 - 1e-9)).unwrap();
        assert!(!below.islands().is_empty());
        let lattice: Vec<[f64; 2]> = (0..100)
            .map(|i| [(i % 10) as f64 * 25e3, (i / 10) as f64 * 25e3])
            .collect();
        assert_eq!(auto_distance_band(&lattice).unwrap(), 25e3);
    }

    #[test]
    fn permuting_points_permutes_neighbour_lists() {
        // No duplicates: k-nearest ties are broken by index, which a
        // permutation changes, so exact ties would legitimately differ.
        let xy = random_points(8, 3000, 10000.0, 0.0);
        let perm = permutation(9, xy.len());
        let moved: Vec<[f64; 2]> = perm.iter().map(|&i| xy[i]).collect();
        let mut inverse = vec![0u32; perm.len()];
        for (new, &old) in perm.iter().enumerate() {
            inverse[old] = new as u32;
        }
        let band = |p: &[[f64; 2]]| Weights::distance_band(p, 300.0).unwrap();
        let knn = |p: &[[f64; 2]]| Weights::knn(p, 6).unwrap();
        for (w, wm) in [(band(&xy), band(&moved)), (knn(&xy), knn(&moved))] {
            for (new, &old) in perm.iter().enumerate() {
                let mut want: Vec<u32> = w
                    .neighbors(old)
                    .0
                    .iter()
                    .map(|&j| inverse[j as usize])
                    .collect();
                want.sort_unstable();
                assert_eq!(wm.neighbors(new).0, &want[..]);
            }
        }
    }

    #[test]
    fn identical_with_one_and_two_threads() {
        let xy = random_points(10, 20000, 50000.0, 0.05);
        let one = with_threads(1, || {
            (
                Weights::distance_band(&xy, 500.0).unwrap(),
                Weights::knn(&xy, 5).unwrap(),
                auto_distance_band(&xy).unwrap(),
            )
        });
        let two = with_threads(2, || {
            (
                Weights::distance_band(&xy, 500.0).unwrap(),
                Weights::knn(&xy, 5).unwrap(),
                auto_distance_band(&xy).unwrap(),
            )
        });
        assert_eq!(one, two);
    }
}
