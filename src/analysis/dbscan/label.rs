//! Core, border and noise over any symmetric neighbour relation on a
//! [`Grid`], with scikit-learn's labels: three parallel passes (count
//! neighbours up to `min_points`, link core neighbours, attach border points).

use super::union_find::UnionFind;
use super::Clustering;
use crate::analysis::spatial_hash::Grid;
use rayon::prelude::*;

/// "No index": no core neighbour, hence noise.
pub(super) const NONE: u32 = u32::MAX;

/// The neighbour relation the clustering runs on, over the positions of a
/// [`Grid`] whose cells are at least as wide as the neighbourhood, so that
/// neighbours are always in the same or adjacent cells. The relation must be
/// symmetric and reflexive (a point is its own neighbour).
pub(crate) trait Neighbours<const D: usize>: Sync {
    /// The grid.
    fn grid(&self) -> &Grid<D>;
    /// False when no point of the cell with this key can be a neighbour of
    /// position `p` (a cheap test on the cell's bounds).
    fn may_reach(&self, p: usize, cell: &[i64; D]) -> bool;
    /// The neighbours of position `p` among positions `start..start + len`
    /// (`len` at most 64): bit `k` is set when `start + k` is one. Answering
    /// for a run at a time keeps the distance loop free of branches.
    fn mask(&self, p: usize, start: usize, len: usize) -> u64;
}

/// Finds the neighbours `q < limit` of position `p` in the cells `near`, run
/// by run: calls `f(start, mask)` as [`Neighbours::mask`] describes, for
/// non-empty masks, until `f` returns false.
#[inline]
fn scan<const D: usize, N: Neighbours<D>>(
    nb: &N,
    p: usize,
    near: &[u32],
    limit: usize,
    mut f: impl FnMut(usize, u64) -> bool,
) {
    let grid = nb.grid();
    for &c in near {
        let range = grid.positions(c as usize);
        let end = range.end.min(limit);
        if range.start >= end || !nb.may_reach(p, grid.key(c)) {
            continue;
        }
        let mut start = range.start;
        while start < end {
            let len = (end - start).min(64);
            let mask = nb.mask(p, start, len);
            if mask != 0 && !f(start, mask) {
                return;
            }
            start += len;
        }
    }
}

/// The positions whose bits are set in `mask`, counting from `start`.
#[inline]
pub(super) fn positions_in(start: usize, mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let k = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            start + k
        })
    })
}

/// `f(p, near)` for every position, in position order, where `near` are the
/// cells adjacent to p's (found once per cell, reused for all its points).
fn per_point<const D: usize, T: Send>(
    grid: &Grid<D>,
    f: impl Fn(usize, &[u32]) -> T + Sync,
) -> Vec<T> {
    let f = &f;
    (0..grid.cell_count())
        .into_par_iter()
        .flat_map_iter(|c| {
            let near = grid.near(c);
            grid.positions(c).map(move |p| f(p, near))
        })
        .collect()
}

/// Core / border / noise and scikit-learn's labelling over any neighbour relation.
pub(crate) fn cluster<const D: usize, N: Neighbours<D>>(nb: &N, min_points: usize) -> Clustering {
    let grid = nb.grid();
    let orig = &grid.original;
    let n = orig.len();
    let cells = grid.cell_count();

    // Pass 1: core flags. Counting stops at min_points, so dense areas cost
    // about min_points tests per point instead of their whole neighbourhoods.
    let core: Vec<bool> = per_point(grid, |p, near| {
        let mut count = 0usize;
        scan(nb, p, near, n, |_, mask| {
            count += mask.count_ones() as usize;
            count < min_points
        });
        count >= min_points
    });

    // Pass 2: link core neighbours, each pair once (from its larger position,
    // so only earlier cells are searched). The components do not depend on the
    // order the threads ran in.
    let sets = UnionFind::new(n);
    (0..cells).into_par_iter().for_each(|c| {
        let near = grid.near(c);
        for p in grid.positions(c).filter(|&p| core[p]) {
            // p's root, kept at hand: most neighbours are already in its set.
            let mut root = sets.find(p as u32);
            scan(nb, p, near, p, |start, mask| {
                for q in positions_in(start, mask).filter(|&q| core[q]) {
                    let other = sets.find(q as u32);
                    if other != root {
                        sets.union(root, other);
                        root = sets.find(root);
                    }
                }
                true
            });
        }
    });
    let root: Vec<u32> = (0..n)
        .into_par_iter()
        .map(|p| if core[p] { sets.find(p as u32) } else { NONE })
        .collect();
    drop(sets);

    // Each component is known by its smallest input index among core points
    // (kept at its root's position): scikit-learn numbers clusters in that order.
    let mut first = vec![NONE; n];
    for p in 0..n {
        if core[p] {
            let r = root[p] as usize;
            first[r] = first[r].min(orig[p]);
        }
    }

    // Pass 3: a border point joins the adjacent cluster that comes first, the
    // one scikit-learn's in-order expansion reaches first. Non-core points have
    // fewer than min_points neighbours: cheap.
    let attach: Vec<u32> = per_point(grid, |p, near| {
        if core[p] {
            return first[root[p] as usize];
        }
        let mut best = NONE;
        scan(nb, p, near, n, |start, mask| {
            for q in positions_in(start, mask).filter(|&q| core[q]) {
                best = best.min(first[root[q] as usize]);
            }
            true
        });
        best
    });
    drop(root);
    drop(first);
    number(orig, &core, &attach)
}

/// Clusters numbered in the order of their first input index, back in input
/// order: `attach[p]` is the first input index of position `p`'s cluster
/// ([`NONE`] for noise), `orig[p]` its input index.
pub(super) fn number(orig: &[u32], core: &[bool], attach: &[u32]) -> Clustering {
    let n = orig.len();
    let mut label_at = vec![-1i32; n];
    for (p, &c) in core.iter().enumerate() {
        if c {
            label_at[attach[p] as usize] = 0;
        }
    }
    for (next, l) in label_at.iter_mut().filter(|l| **l == 0).enumerate() {
        *l = next as i32;
    }
    // Back to input order.
    let mut labels = vec![-1i32; n];
    let mut core_out = vec![false; n];
    for p in 0..n {
        let i = orig[p] as usize;
        core_out[i] = core[p];
        if attach[p] != NONE {
            labels[i] = label_at[attach[p] as usize];
        }
    }
    Clustering {
        labels,
        core: core_out,
    }
}
