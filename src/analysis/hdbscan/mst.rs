//! The exact minimum spanning tree of the mutual reachability distance, by
//! Boruvka's algorithm over the k-d tree.
//!
//! Each round, every point searches the tree for its nearest point of another
//! component under `max(core(p), core(q), d(p, q))`, compared as keys (see
//! `run`: a number monotone in the distance, computed in the metric, not in
//! the tree's space), and each component keeps its cheapest edge. The search
//! skips boxes whose points all belong to the point's own component and boxes
//! whose lower bound `max(core(p), min core in the box, distance to the box)`
//! exceeds, by more than the tree's rounding (`loose`), the best found so far
//! by the point or by any point of its component (a shared atomic bound).
//! Edges compare by (key, smaller end, larger end), a total order, so the tree
//! is a true minimum spanning tree in the metric and does not depend on the
//! thread count. About log2(n) rounds.

use super::super::kdtree::KdTree;
use crate::analysis::AnalysisError;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

const NONE: u32 = u32::MAX;

/// An edge key: (weight as key, smaller position, larger position).
type Key = (f64, u32, u32);

fn less(a: &Key, b: &Key) -> bool {
    a.0 < b.0 || (a.0 == b.0 && (a.1, a.2) < (b.1, b.2))
}

/// The `n - 1` edges (pairs of tree positions) of a minimum spanning tree,
/// with `core2` the core distances as keys by position and `key(p, q)` the
/// key of two positions.
pub(super) fn boruvka<const D: usize>(
    tree: &KdTree<D>,
    core2: &[f64],
    key: &(impl Fn(usize, usize) -> f64 + Sync),
) -> Result<Vec<(u32, u32)>, AnalysisError> {
    let n = tree.pts.len();
    let nodes = &tree.nodes;
    // Smallest core distance per box; children follow their parent.
    let mut min_core = vec![0.0f64; nodes.len()];
    for (id, node) in nodes.iter().enumerate().rev() {
        min_core[id] = if node.is_leaf() {
            core2[node.positions()]
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
        } else {
            min_core[node.children[0] as usize].min(min_core[node.children[1] as usize])
        };
    }
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut comp: Vec<u32> = (0..n as u32).collect();
    let mut node_comp = vec![NONE; nodes.len()];
    let mut edges = Vec::with_capacity(n.saturating_sub(1));
    while edges.len() + 1 < n {
        crate::cancel::check()?;
        // The component of each box, if all its points share one.
        for (id, node) in nodes.iter().enumerate().rev() {
            node_comp[id] = if node.is_leaf() {
                let c = comp[node.start as usize];
                if comp[node.positions()].iter().all(|&x| x == c) {
                    c
                } else {
                    NONE
                }
            } else {
                let [a, b] = node.children.map(|c| node_comp[c as usize]);
                if a == b {
                    a
                } else {
                    NONE
                }
            };
        }
        let bound: Vec<AtomicU64> = (0..n)
            .map(|_| AtomicU64::new(f64::INFINITY.to_bits()))
            .collect();
        let found: Vec<Option<Key>> = (0..n)
            .into_par_iter()
            .map_init(Vec::new, |stack, p| {
                nearest_other(
                    tree, core2, key, &min_core, &comp, &node_comp, &bound, p, stack,
                )
            })
            .collect();
        // Each component's cheapest edge.
        let mut best: Vec<Option<Key>> = vec![None; n];
        for (p, f) in found.into_iter().enumerate() {
            if let Some(k) = f {
                let c = comp[p] as usize;
                if best[c].is_none_or(|b| less(&k, &b)) {
                    best[c] = Some(k);
                }
            }
        }
        let before = edges.len();
        for (_, a, b) in best.into_iter().flatten() {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            if ra != rb {
                parent[ra.max(rb) as usize] = ra.min(rb);
                edges.push((a, b));
            }
        }
        if edges.len() == before {
            // Cannot happen with finite coordinates; refuse rather than loop.
            return Err(AnalysisError::param(
                "points",
                "the spanning tree made no progress (non-finite distances?)",
            ));
        }
        for (p, c) in comp.iter_mut().enumerate() {
            *c = find(&mut parent, p as u32);
        }
    }
    Ok(edges)
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let g = parent[parent[x as usize] as usize];
        parent[x as usize] = g;
        x = g;
    }
    x
}

/// Point `p`'s cheapest edge to another component, unless its component
/// already has a cheaper one.
#[allow(clippy::too_many_arguments)]
fn nearest_other<const D: usize>(
    tree: &KdTree<D>,
    core2: &[f64],
    key: &impl Fn(usize, usize) -> f64,
    min_core: &[f64],
    comp: &[u32],
    node_comp: &[u32],
    bound: &[AtomicU64],
    p: usize,
    stack: &mut Vec<(u32, f64)>,
) -> Option<Key> {
    let cp = comp[p];
    let cb = &bound[cp as usize];
    let shared = || f64::from_bits(cb.load(Ordering::Relaxed));
    let c2 = core2[p];
    if c2 > shared() {
        return None;
    }
    let q0 = &tree.pts[p];
    let mut best: Option<Key> = None;
    stack.clear();
    stack.push((0, c2.max(min_core[0])));
    while let Some((id, lb)) = stack.pop() {
        // Strictly greater: ties stay, so the choice among them is the key's.
        let limit = best.map_or(f64::INFINITY, |b| b.0).min(shared());
        if lb > super::loose(limit) || node_comp[id as usize] == cp {
            continue;
        }
        let node = &tree.nodes[id as usize];
        if node.is_leaf() {
            for q in node.positions() {
                if comp[q] == cp {
                    continue;
                }
                let w = c2.max(core2[q]).max(key(p, q));
                let k = (w, (p as u32).min(q as u32), (p as u32).max(q as u32));
                if best.is_none_or(|b| less(&k, &b)) {
                    best = Some(k);
                }
            }
            if let Some(b) = best {
                cb.fetch_min(b.0.to_bits(), Ordering::Relaxed);
            }
        } else {
            let [a, b] = node.children;
            let la = c2
                .max(min_core[a as usize])
                .max(tree.nodes[a as usize].min_d2(q0));
            let lb = c2
                .max(min_core[b as usize])
                .max(tree.nodes[b as usize].min_d2(q0));
            if la <= lb {
                stack.push((b, lb));
                stack.push((a, la));
            } else {
                stack.push((a, la));
                stack.push((b, lb));
            }
        }
    }
    best
}
