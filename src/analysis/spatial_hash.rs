//! The shared spatial hash: points sorted into the cells of a regular grid in
//! `D` dimensions (cell keys are integer coordinates), with, for each occupied
//! cell, the list of occupied cells adjacent to it (keys within one on every
//! axis, or within a given reach). Cells are as wide as the largest distance a
//! query needs, so that every neighbour of a point lies in its own or an
//! adjacent cell; or narrower, with a reach of several cells (grid DBSCAN).
//!
//! Used by DBSCAN (cubes over unit vectors on the sphere), ST-DBSCAN
//! (those cubes times time slices), KDE, and the distance-band weights
//! (squares one band wide over projected cell centres). Sorting instead of hashing makes the
//! layout, and so every result computed over it, independent of the thread
//! count; the only hash map is one lookup per *column* of cells.

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::ops::Range;

/// Points sorted into cells of a regular grid in `D` dimensions. A point's
/// *position* is its rank in that order: cells hold runs of consecutive
/// positions, so neighbours sit close together in memory.
pub(crate) struct Grid<const D: usize> {
    /// Input index by position.
    pub(crate) original: Vec<u32>,
    /// Key of each cell, ascending.
    keys: Vec<[i64; D]>,
    /// Cell `c` holds positions `starts[c]..starts[c + 1]`.
    starts: Vec<u32>,
    /// Cells sharing all but the last key coordinate (a *column*) are
    /// consecutive: column `g` is cells `column_starts[g]..column_starts[g + 1]`.
    column_starts: Vec<usize>,
    /// Column index by column key (the key with its last coordinate 0).
    columns: FxHashMap<[i64; D], u32>,
    /// Cell `c`'s adjacent cells are `adjacent[adjacent_starts[c]..adjacent_starts[c + 1]]`
    /// (empty for a grid made with [`Grid::unlinked`]): itself first.
    adjacent: Vec<u32>,
    adjacent_starts: Vec<u32>,
}

/// The key of a cell's column.
fn column<const D: usize>(k: &[i64; D]) -> [i64; D] {
    let mut c = *k;
    c[D - 1] = 0;
    c
}

impl<const D: usize> Grid<D> {
    /// Sorts the points by cell key (then input index, so the order is
    /// deterministic) and finds each cell's adjacent cells, for [`Grid::near`].
    pub(crate) fn new(cell_of_point: Vec<[i64; D]>) -> Self {
        Self::with_reach(cell_of_point, 1)
    }

    /// As [`Grid::new`], with the occupied cells whose keys differ by at most
    /// `reach` (at least 1) on every axis as each cell's adjacent cells.
    pub(crate) fn with_reach(cell_of_point: Vec<[i64; D]>, reach: u32) -> Self {
        let mut grid = Self::unlinked(cell_of_point);
        let (adjacent, adjacent_starts) = adjacency(&grid, reach.max(1));
        grid.adjacent = adjacent;
        grid.adjacent_starts = adjacent_starts;
        grid
    }

    /// The sorted cells only, for box queries ([`Grid::cells_in_box`]).
    pub(crate) fn unlinked(cell_of_point: Vec<[i64; D]>) -> Self {
        let (original, keys, starts) = match counting_sort(&cell_of_point) {
            Some(sorted) => sorted,
            None => comparison_sort(cell_of_point),
        };
        let mut column_starts: Vec<usize> = (0..keys.len())
            .filter(|&c| c == 0 || column(&keys[c]) != column(&keys[c - 1]))
            .collect();
        column_starts.push(keys.len());
        let columns = column_starts[..column_starts.len() - 1]
            .iter()
            .enumerate()
            .map(|(g, &c)| (column(&keys[c]), g as u32))
            .collect();
        Grid {
            original,
            keys,
            starts,
            column_starts,
            columns,
            adjacent: Vec::new(),
            adjacent_starts: vec![0],
        }
    }

    /// Number of occupied cells.
    pub(crate) fn cell_count(&self) -> usize {
        self.keys.len()
    }

    /// The positions in cell `c`.
    pub(crate) fn positions(&self, c: usize) -> Range<usize> {
        self.starts[c] as usize..self.starts[c + 1] as usize
    }

    /// Cell `c` (first) and the occupied cells whose keys differ from its key
    /// by at most one on every axis (a grid made with [`Grid::new`]; at most
    /// the reach with [`Grid::with_reach`]).
    pub(crate) fn near(&self, c: usize) -> &[u32] {
        &self.adjacent[self.adjacent_starts[c] as usize..self.adjacent_starts[c + 1] as usize]
    }

    /// The key of cell `c`.
    pub(crate) fn key(&self, c: u32) -> &[i64; D] {
        &self.keys[c as usize]
    }

    /// The cells of column `column_key` whose last key coordinate lies in
    /// `lo..=hi`, as a range of cells.
    fn column_run(&self, column_key: &[i64; D], lo: i64, hi: i64) -> Range<usize> {
        let Some(&g) = self.columns.get(column_key) else {
            return 0..0;
        };
        let run = self.column_starts[g as usize]..self.column_starts[g as usize + 1];
        let cells = &self.keys[run.clone()];
        let from = cells.partition_point(|k| k[D - 1] < lo);
        let to = cells.partition_point(|k| k[D - 1] <= hi);
        run.start + from..run.start + to.max(from)
    }

    /// Calls `f(cell)` for every occupied cell whose key lies within
    /// `lo..=hi` on every axis, in key order.
    pub(crate) fn cells_in_box(&self, lo: &[i64; D], hi: &[i64; D], mut f: impl FnMut(usize)) {
        if (0..D).any(|d| lo[d] > hi[d]) {
            return;
        }
        // Odometer over the columns (all axes but the last).
        let mut k = *lo;
        loop {
            k[D - 1] = 0;
            for c in self.column_run(&k, lo[D - 1], hi[D - 1]) {
                f(c);
            }
            let mut axis = D - 1;
            loop {
                if axis == 0 {
                    return;
                }
                axis -= 1;
                if k[axis] < hi[axis] {
                    k[axis] += 1;
                    break;
                }
                k[axis] = lo[axis];
            }
        }
    }
}

/// Points in key order (then input index): input index by position, the
/// distinct keys ascending, and each key's first position (and the end).
type Sorted<const D: usize> = (Vec<u32>, Vec<[i64; D]>, Vec<u32>);

/// [`Sorted`] by a parallel sort of (key, index) pairs: any keys.
fn comparison_sort<const D: usize>(cell_of_point: Vec<[i64; D]>) -> Sorted<D> {
    let mut sorted: Vec<([i64; D], u32)> = cell_of_point
        .into_par_iter()
        .enumerate()
        .map(|(i, k)| (k, i as u32))
        .collect();
    sorted.par_sort_unstable();
    let mut keys = Vec::new();
    let mut starts = Vec::new();
    for (p, (k, _)) in sorted.iter().enumerate() {
        if keys.last() != Some(k) {
            keys.push(*k);
            starts.push(p as u32);
        }
    }
    starts.push(sorted.len() as u32);
    let original = sorted.into_iter().map(|(_, i)| i).collect();
    (original, keys, starts)
}

/// [`Sorted`] by a counting sort over the box the keys span (row-major, the
/// first axis slowest: key order), stable, so ties keep input order: the
/// order [`comparison_sort`] gives, in linear time. `None` when the box has
/// many more cells than there are points (sparse keys: sort them instead).
fn counting_sort<const D: usize>(cell_of_point: &[[i64; D]]) -> Option<Sorted<D>> {
    let n = cell_of_point.len();
    if n == 0 || n >= u32::MAX as usize {
        return None;
    }
    // The box the keys span: a key is the box of itself.
    let span = |(mut lo, mut hi): ([i64; D], [i64; D]), (l, h): ([i64; D], [i64; D])| {
        for d in 0..D {
            lo[d] = lo[d].min(l[d]);
            hi[d] = hi[d].max(h[d]);
        }
        (lo, hi)
    };
    let none = || ([i64::MAX; D], [i64::MIN; D]);
    let (lo, hi) = cell_of_point
        .par_iter()
        .fold(none, |b, k| span(b, (*k, *k)))
        .reduce(none, span);
    // At most a few buckets per point (and a floor for small inputs).
    let limit = (2 * n).max(1 << 16) as u128;
    let mut stride = [0u64; D];
    let mut cells: u128 = 1;
    for d in (0..D).rev() {
        stride[d] = cells as u64;
        cells *= (i128::from(hi[d]) - i128::from(lo[d]) + 1) as u128;
        if cells > limit {
            return None;
        }
    }
    let bucket = |k: &[i64; D]| -> usize {
        (0..D)
            .map(|d| (k[d].wrapping_sub(lo[d]) as u64) * stride[d])
            .sum::<u64>() as usize
    };
    let ids: Vec<u32> = cell_of_point.par_iter().map(|k| bucket(k) as u32).collect();
    let mut next = vec![0u32; cells as usize + 1];
    for &b in &ids {
        next[b as usize + 1] += 1;
    }
    let mut keys = Vec::new();
    let mut starts = Vec::new();
    for b in 0..cells as usize {
        let count = next[b + 1];
        next[b + 1] = next[b] + count;
        if count > 0 {
            starts.push(next[b]);
        }
    }
    starts.push(n as u32);
    let mut original = vec![0u32; n];
    for (i, &b) in ids.iter().enumerate() {
        let at = &mut next[b as usize];
        original[*at as usize] = i as u32;
        *at += 1;
    }
    keys.extend(
        starts[..starts.len() - 1]
            .iter()
            .map(|&p| cell_of_point[original[p as usize] as usize]),
    );
    Some((original, keys, starts))
}

/// For each cell (keys sorted), itself and the occupied cells whose keys differ
/// by at most `reach` on every axis, as a flat list and its offsets. Found
/// once, used by all the passes of a clustering.
///
/// Cells sharing all but the last coordinate (a *column*) are consecutive in
/// key order, so only the (2 reach + 1)^(D-1) neighbouring columns are looked up, once per
/// column, and the cells of each are found by binary search on the last
/// coordinate: few hash lookups even when most cells hold a single point
/// (short ST-DBSCAN time windows).
fn adjacency<const D: usize>(grid: &Grid<D>, reach: u32) -> (Vec<u32>, Vec<u32>) {
    let keys = &grid.keys;
    let column_starts = &grid.column_starts;
    let lookup = &grid.columns;
    let width = 2 * reach as usize + 1;
    let reach = i64::from(reach);
    let lists: Vec<Vec<u32>> = column_starts
        .par_windows(2)
        .flat_map_iter(|w| {
            let own = column(&keys[w[0]]);
            let mut columns = Vec::with_capacity(width.pow(D as u32 - 1));
            for code in 0..width.pow(D as u32 - 1) {
                let mut k = own;
                let mut rest = code;
                // A key at the edge of i64 (a band of a few ulps: every
                // point saturates to one cell) has no column beyond it.
                let mut inside = true;
                for axis in k[..D - 1].iter_mut() {
                    match axis.checked_add((rest % width) as i64 - reach) {
                        Some(v) => *axis = v,
                        None => inside = false,
                    }
                    rest /= width;
                }
                if !inside {
                    continue;
                }
                if let Some(&g) = lookup.get(&k) {
                    columns.push(column_starts[g as usize]..column_starts[g as usize + 1]);
                }
            }
            (w[0]..w[1]).map(move |c| {
                let last = keys[c][D - 1];
                let mut near = vec![c as u32];
                for run in &columns {
                    let cells = &keys[run.clone()];
                    let from = cells.partition_point(|k| k[D - 1] < last.saturating_sub(reach));
                    for (i, k) in cells[from..].iter().enumerate() {
                        if k[D - 1] > last.saturating_add(reach) {
                            break;
                        }
                        let other = run.start + from + i;
                        if other != c {
                            near.push(other as u32);
                        }
                    }
                }
                near
            })
        })
        .collect();
    let mut starts = Vec::with_capacity(lists.len() + 1);
    starts.push(0u32);
    let mut flat = Vec::with_capacity(lists.iter().map(Vec::len).sum());
    for l in lists {
        flat.extend_from_slice(&l);
        starts.push(flat.len() as u32);
    }
    (flat, starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dbscan::tests::Rng;

    fn keys<const D: usize>(seed: u64, n: usize, span: u64) -> Vec<[i64; D]> {
        let mut r = Rng(seed);
        (0..n)
            .map(|_| std::array::from_fn(|_| (r.next_u64() % span) as i64 - (span / 2) as i64))
            .collect()
    }

    fn check_box<const D: usize>(seed: u64, reach: u32) {
        let k = keys::<D>(seed, 500, 9);
        let grid = Grid::with_reach(k.clone(), reach);
        let mut r = Rng(seed + 100);
        for _ in 0..50 {
            let lo: [i64; D] = std::array::from_fn(|_| (r.next_u64() % 9) as i64 - 5);
            let hi: [i64; D] = std::array::from_fn(|d| lo[d] + (r.next_u64() % 4) as i64);
            let mut got = Vec::new();
            grid.cells_in_box(&lo, &hi, |c| {
                got.extend(grid.positions(c).map(|p| grid.original[p]))
            });
            got.sort_unstable();
            let want: Vec<u32> = (0..k.len() as u32)
                .filter(|&i| (0..D).all(|d| (lo[d]..=hi[d]).contains(&k[i as usize][d])))
                .collect();
            assert_eq!(got, want, "box {lo:?}..={hi:?}");
        }
        // Adjacent cells: exactly the occupied keys within the reach on every
        // axis, the cell itself first.
        for c in 0..grid.cell_count() {
            assert_eq!(grid.near(c)[0] as usize, c);
            let mut near: Vec<[i64; D]> = grid.near(c).iter().map(|&o| *grid.key(o)).collect();
            near.sort_unstable();
            let own = grid.key(c as u32);
            let mut want: Vec<[i64; D]> = (0..grid.cell_count() as u32)
                .map(|o| *grid.key(o))
                .filter(|o| (0..D).all(|d| (o[d] - own[d]).abs() <= i64::from(reach)))
                .collect();
            want.sort_unstable();
            assert_eq!(near, want);
        }
    }

    #[test]
    fn box_queries_and_adjacency_match_brute_force() {
        check_box::<2>(1, 1);
        check_box::<3>(2, 1);
        check_box::<4>(3, 1);
        check_box::<2>(4, 2);
        check_box::<3>(5, 2);
        check_box::<3>(6, 3);
        // An empty box and an empty grid.
        let grid = Grid::<2>::unlinked(vec![[0, 0], [5, 5]]);
        let mut n = 0;
        grid.cells_in_box(&[1, 1], &[0, 0], |_| n += 1);
        grid.cells_in_box(&[1, 1], &[4, 4], |_| n += 1);
        assert_eq!(n, 0);
        let empty = Grid::<3>::new(Vec::new());
        assert_eq!(empty.cell_count(), 0);
    }

    /// The counting sort gives the comparison sort's order (key, then
    /// input index) on dense keys, and declines sparse ones.
    #[test]
    fn counting_sort_equals_the_comparison_sort() {
        fn same<const D: usize>(k: Vec<[i64; D]>) {
            let got = counting_sort(&k).expect("dense keys");
            assert_eq!(got, comparison_sort(k));
        }
        for seed in 1..6 {
            same::<2>(keys(seed, 2_000, 7));
            same::<3>(keys(seed + 10, 3_000, 5));
            same::<4>(keys(seed + 20, 500, 3));
            // Shifted far from zero, negative, one key.
            same::<2>(
                keys::<2>(seed, 100, 4)
                    .iter()
                    .map(|k| [k[0] - 1_000_000_007, k[1] + 5])
                    .collect(),
            );
            same::<2>(vec![[3, -4]; 10]);
        }
        assert!(counting_sort::<2>(&[[0, 0], [1 << 40, 0]]).is_none());
        assert!(counting_sort::<2>(&[[i64::MIN, 0], [i64::MAX, 0]]).is_none());
        assert!(counting_sort::<3>(&[]).is_none());
    }

    /// Keys at the ends of i64 (a band of a few ulps saturates every key)
    /// have no neighbours beyond them, and building the grid does not
    /// overflow.
    #[test]
    fn keys_at_the_ends_of_i64_are_adjacent_only_within_range() {
        let (lo, hi) = (i64::MIN, i64::MAX);
        let keys = vec![
            [hi, hi],
            [hi, hi - 1],
            [lo, lo],
            [lo + 1, lo],
            [hi, lo],
            [0, 0],
        ];
        let grid = Grid::<2>::new(keys);
        for c in 0..grid.cell_count() {
            let own = grid.key(c as u32);
            let mut near: Vec<[i64; 2]> = grid.near(c).iter().map(|&o| *grid.key(o)).collect();
            near.sort_unstable();
            let mut want: Vec<[i64; 2]> = (0..grid.cell_count() as u32)
                .map(|o| *grid.key(o))
                .filter(|o| (0..2).all(|d| (o[d] as i128 - own[d] as i128).abs() <= 1))
                .collect();
            want.sort_unstable();
            assert_eq!(near, want, "{own:?}");
        }
    }
}
