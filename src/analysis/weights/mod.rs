//! Spatial weights: who is a neighbour of whom, and how much each neighbour counts.
//!
//! [`Weights`] holds the neighbour lists of `n` points in compressed sparse row
//! (CSR) form: row `i` lists the neighbours of point `i` in ascending index order,
//! never `i` itself. Coordinates are projected metres (`[x, y]`, Euclidean
//! distances); project longitude/latitude first.
//!
//! * [`Weights::distance_band`]: every point within `threshold` metres (binary),
//!   as libpysal's `DistanceBand(binary=True)`. Built on the shared spatial
//!   hash, in parallel.
//! * [`Weights::knn`]: the `k` nearest points (binary), ties at the k-th
//!   distance broken by the lower index, as libpysal's `KNN` (whose tie order
//!   is that of scipy's KD-tree).
//! * [`auto_distance_band`]: the default band, the largest nearest-neighbour
//!   distance, i.e. the smallest band that leaves no point without a neighbour.
//! * [`Weights::grid_disk`]: grid contiguity, the cells within k steps (H3 `grid_disk`).
//! * [`Weights::from_csr`]: any structure built elsewhere.
//!
//! One purpose per file: this file holds the CSR structure and its
//! accessors and the one parallel row builder they share, `band.rs` the
//! distance band (on the shared [`spatial_hash`](super::spatial_hash)),
//! `knn.rs` the k nearest neighbours, `contiguity.rs` grid contiguity.
//!
//! Every constructor gives the same result whatever the number of rayon
//! threads: points are processed in fixed blocks of consecutive indices,
//! each block built by one thread and stored as built.
//!
//! One difference from libpysal: coincident points (distance 0) are neighbours
//! of each other here; libpysal's `DistanceBand` drops them together with the
//! diagonal. Aggregated grid cells never coincide, so Gi* and Local Moran on
//! cells are unaffected.

mod band;
mod contiguity;
mod knn;
#[cfg(test)]
pub(crate) mod test_support;

pub use band::auto_distance_band;
pub use contiguity::MAX_RINGS;

use super::AnalysisError;
use rayon::prelude::*;
use rstar::primitives::GeomWithData;
use rstar::RTree;

/// Rows per block (a power of two): the unit of parallel construction and of
/// storage, so that building needs no final concatenation pass.
pub(super) const BLOCK_SHIFT: usize = 10;
pub(super) const BLOCK: usize = 1 << BLOCK_SHIFT;

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

    /// Binary weights of `n` points built row by row: `row(i, scratch, out)`
    /// appends the neighbours of point `i` to `out` (each once, never `i`, in
    /// any order; the row is sorted here). Rows are built in parallel in
    /// fixed blocks of consecutive points, each with its own `scratch`, so
    /// the result does not depend on the thread count; a cancelled run
    /// stops between blocks and returns `Cancelled`.
    fn binary_rows<S>(
        n: usize,
        scratch: impl Fn() -> S + Sync + Send,
        row: impl Fn(usize, &mut S, &mut Vec<u32>) + Sync + Send,
    ) -> Result<Weights, AnalysisError> {
        let stop = crate::cancel::current();
        let blocks: Vec<Block> = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map_init(scratch, |s, b| {
                let rows = BLOCK.min(n - b * BLOCK);
                let mut block = Block::with_rows(rows);
                if stop.stopped() {
                    return block;
                }
                for r in 0..rows {
                    let start = block.neighbors.len();
                    row(b * BLOCK + r, s, &mut block.neighbors);
                    sort_row(&mut block.neighbors[start..]);
                    block.offsets.push(block.neighbors.len());
                    if r == 15 && rows > 16 {
                        // Size the buffer from the first rows to avoid regrowth.
                        let per_row = block.neighbors.len() / 16 + 1;
                        block.neighbors.reserve(per_row * (rows - 16) * 5 / 4);
                    }
                }
                block
            })
            .collect();
        crate::cancel::check()?;
        Ok(Weights::binary(n, blocks))
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

/// Sorts one neighbour row. Rows are built in short sorted runs (one per
/// grid cell, or one already sorted), where insertion sort beats the
/// general sort by a wide margin; long rows take the general sort.
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
mod tests {
    use super::test_support::*;
    use super::*;

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
