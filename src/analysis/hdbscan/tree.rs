//! From the sorted spanning tree to labels and probabilities, step by step as
//! the `hdbscan` package (0.8, `_hdbscan_linkage.pyx` and `_hdbscan_tree.pyx`)
//! does: the single-linkage hierarchy, the tree condensed at
//! `min_cluster_size`, cluster stabilities, excess-of-mass selection, and the
//! labelling. Node numbering, traversal order and float operations follow the
//! package, so that ties and sums fall the same way.

use super::Hdbscan;

/// One merge of the single-linkage hierarchy (scipy's format).
struct Merge {
    left: usize,
    right: usize,
    dist: f64,
    size: usize,
}

/// One row of the condensed tree: `child` (a point below `n`, or a cluster id
/// from `n` on; the root is `n`) leaves or splits from `parent` at `lambda`.
struct Row {
    parent: usize,
    child: usize,
    lambda: f64,
    size: usize,
}

/// Labels and probabilities from the spanning tree's edges sorted by weight
/// (`(weight, a, b)`, input indices).
pub(super) fn labels(n: usize, edges: &[(f64, u32, u32)], min_cluster_size: usize) -> Hdbscan {
    let hierarchy = single_linkage(n, &tie_rule(n, edges));
    let rows = condense(n, &hierarchy, min_cluster_size);
    select(n, &rows)
}

/// The merges, as edges between components' smallest points, in the order
/// jointmap's tie rule takes them (docs/analysis.md, "Tied merges").
///
/// The package binarises a merge of several components at one distance in
/// whatever order its tied edges leave numpy's unstable argsort, over whichever
/// of the tied spanning trees its algorithm found; that order is not part of
/// its answer (`tools/reference/hdbscan_ties.py` shows the package's labels
/// changing with it). Here all edges of one weight are a group; the
/// components below that weight ("pre-components") that the group joins into
/// one are merged largest first (size descending, then smallest point index),
/// each next one joined to the union. Joined groups are taken in the order of
/// their smallest point index. The result depends only on the weights, not on
/// the spanning tree: fragments smaller than `min_cluster_size` that join at
/// the distance where two or more clusters split fall out of the parent,
/// and each large pre-component becomes a child cluster.
fn tie_rule(n: usize, edges: &[(f64, u32, u32)]) -> Vec<(f64, u32, u32)> {
    // Pre-components: union-find with size and smallest index per root.
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut size = vec![1usize; n];
    let mut low: Vec<u32> = (0..n as u32).collect();
    // Scratch union-find over pre-component roots, reset after each group.
    let mut joined: Vec<u32> = (0..n as u32).collect();
    let mut post_low = vec![u32::MAX; n];
    let mut touched: Vec<u32> = Vec::new();
    let mut out = Vec::with_capacity(edges.len());
    let mut order = Vec::new();
    for group in edges.chunk_by(|a, b| a.0 == b.0) {
        let w = group[0].0;
        if let [(_, a, b)] = *group {
            // One edge (the common case): the larger side first.
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            let key = |r: u32| (std::cmp::Reverse(size[r as usize]), low[r as usize]);
            let (first, r) = if key(ra) <= key(rb) {
                (ra, rb)
            } else {
                (rb, ra)
            };
            out.push((w, low[first as usize], low[r as usize]));
            union(&mut parent, &mut size, &mut low, first, r);
            continue;
        }
        touched.clear();
        for &(_, a, b) in group {
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            touched.extend([ra, rb]);
            let (sa, sb) = (find(&mut joined, ra), find(&mut joined, rb));
            if sa != sb {
                joined[sa.max(sb) as usize] = sa.min(sb);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for &r in &touched {
            let s = find(&mut joined, r) as usize;
            post_low[s] = post_low[s].min(low[r as usize]);
        }
        let key = |r: u32, joined: &mut Vec<u32>| {
            let s = find(joined, r) as usize;
            (
                post_low[s],
                std::cmp::Reverse(size[r as usize]),
                low[r as usize],
            )
        };
        order.clear();
        order.extend(touched.iter().map(|&r| (key(r, &mut joined), r)));
        order.sort_unstable();
        for post in order.chunk_by(|a, b| a.0 .0 == b.0 .0) {
            let first = post[0].1;
            let first_low = low[first as usize];
            let mut root = first;
            for &(_, r) in &post[1..] {
                out.push((w, first_low, low[r as usize]));
                root = union(&mut parent, &mut size, &mut low, root, r);
            }
        }
        for &r in &touched {
            let s = find(&mut joined, r) as usize;
            post_low[s] = u32::MAX;
        }
        for &r in &touched {
            joined[r as usize] = r;
        }
    }
    out
}

/// Joins two pre-component roots; returns the new root.
fn union(parent: &mut [u32], size: &mut [usize], low: &mut [u32], a: u32, b: u32) -> u32 {
    let (keep, drop) = (a.min(b) as usize, a.max(b) as usize);
    parent[drop] = keep as u32;
    size[keep] += size[drop];
    low[keep] = low[keep].min(low[drop]);
    keep as u32
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let g = parent[parent[x as usize] as usize];
        parent[x as usize] = g;
        x = g;
    }
    x
}

/// The package's `label`: merges in edge order, new nodes numbered from `n`.
fn single_linkage(n: usize, edges: &[(f64, u32, u32)]) -> Vec<Merge> {
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    let mut size = vec![1usize; 2 * n - 1];
    let find = |parent: &mut Vec<usize>, mut x: usize| {
        let mut root = x;
        while parent[root] != root {
            root = parent[root];
        }
        while parent[x] != root {
            let next = parent[x];
            parent[x] = root;
            x = next;
        }
        root
    };
    edges
        .iter()
        .enumerate()
        .map(|(k, &(dist, a, b))| {
            let (aa, bb) = (find(&mut parent, a as usize), find(&mut parent, b as usize));
            let next = n + k;
            parent[aa] = next;
            parent[bb] = next;
            size[next] = size[aa] + size[bb];
            Merge {
                left: aa,
                right: bb,
                dist,
                size: size[next],
            }
        })
        .collect()
}

/// Breadth-first order of the hierarchy below `root`, left before right.
fn bfs(n: usize, hierarchy: &[Merge], root: usize) -> Vec<usize> {
    let mut out = vec![root];
    let mut at = 0;
    while at < out.len() {
        let x = out[at];
        at += 1;
        if x >= n {
            let m = &hierarchy[x - n];
            out.push(m.left);
            out.push(m.right);
        }
    }
    out
}

/// The package's `condense_tree`.
fn condense(n: usize, hierarchy: &[Merge], min_cluster_size: usize) -> Vec<Row> {
    let root = 2 * hierarchy.len();
    let mut next_label = n + 1;
    let mut relabel = vec![0usize; root + 1];
    relabel[root] = n;
    let mut ignore = vec![false; root + 1];
    let mut rows = Vec::with_capacity(2 * n);
    let count = |x: usize| if x >= n { hierarchy[x - n].size } else { 1 };
    for node in bfs(n, hierarchy, root) {
        if ignore[node] || node < n {
            continue;
        }
        let m = &hierarchy[node - n];
        let (left, right) = (m.left, m.right);
        let lambda = if m.dist > 0.0 {
            1.0 / m.dist
        } else {
            f64::INFINITY
        };
        let (lc, rc) = (count(left), count(right));
        let parent = relabel[node];
        let fall_out = |side: usize, rows: &mut Vec<Row>, ignore: &mut Vec<bool>| {
            for sub in bfs(n, hierarchy, side) {
                if sub < n {
                    rows.push(Row {
                        parent,
                        child: sub,
                        lambda,
                        size: 1,
                    });
                }
                ignore[sub] = true;
            }
        };
        if lc >= min_cluster_size && rc >= min_cluster_size {
            for (side, size) in [(left, lc), (right, rc)] {
                relabel[side] = next_label;
                next_label += 1;
                rows.push(Row {
                    parent,
                    child: relabel[side],
                    lambda,
                    size,
                });
            }
        } else if lc < min_cluster_size && rc < min_cluster_size {
            fall_out(left, &mut rows, &mut ignore);
            fall_out(right, &mut rows, &mut ignore);
        } else if lc < min_cluster_size {
            relabel[right] = parent;
            fall_out(left, &mut rows, &mut ignore);
        } else {
            relabel[left] = parent;
            fall_out(right, &mut rows, &mut ignore);
        }
    }
    rows
}

/// The package's `compute_stability`, `get_clusters` (excess of mass, no
/// single cluster), `do_labelling` and `get_probabilities`.
fn select(n: usize, rows: &[Row]) -> Hdbscan {
    let mut labels = vec![-1i32; n];
    let mut probabilities = vec![0.0; n];
    let Some(last) = rows.iter().map(|r| r.parent).max() else {
        return Hdbscan {
            labels,
            probabilities,
        };
    };
    let root = n;
    let clusters = last - root + 1;
    // Birth of each cluster: the lambda of the row that made it (root: 0).
    let mut birth = vec![0.0f64; clusters];
    let mut up = vec![usize::MAX; clusters];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); clusters];
    let mut death = vec![0.0f64; clusters];
    for r in rows {
        if r.child >= n {
            birth[r.child - root] = r.lambda;
            up[r.child - root] = r.parent;
            children[r.parent - root].push(r.child);
        }
        let d = &mut death[r.parent - root];
        *d = d.max(r.lambda);
    }
    birth[0] = 0.0;
    let mut stability = vec![0.0f64; clusters];
    for r in rows {
        stability[r.parent - root] += (r.lambda - birth[r.parent - root]) * r.size as f64;
    }
    // Excess of mass, children before parents (ids descend), root excluded.
    // The package sums the children's stabilities into a C `float`.
    let mut chosen = vec![true; clusters];
    chosen[0] = false;
    for c in (1..clusters).rev() {
        let mut sub = 0.0f32;
        for &ch in &children[c] {
            sub = (f64::from(sub) + stability[ch - root]) as f32;
        }
        if f64::from(sub) > stability[c] {
            chosen[c] = false;
            stability[c] = f64::from(sub);
        } else {
            let mut stack = children[c].clone();
            while let Some(x) = stack.pop() {
                chosen[x - root] = false;
                stack.extend_from_slice(&children[x - root]);
            }
        }
    }
    // Label numbers in id order; each cluster's selected ancestor (or itself).
    let mut number = vec![-1i32; clusters];
    let mut next = 0;
    for c in 0..clusters {
        if chosen[c] {
            number[c] = next;
            next += 1;
        }
    }
    let mut selected = vec![usize::MAX; clusters];
    for c in 1..clusters {
        selected[c] = if chosen[c] { c } else { selected[up[c] - root] };
    }
    for r in rows.iter().filter(|r| r.child < n) {
        let s = selected[r.parent - root];
        if s == usize::MAX {
            continue;
        }
        labels[r.child] = number[s];
        let max_lambda = death[s];
        probabilities[r.child] = if max_lambda == 0.0 || !r.lambda.is_finite() {
            1.0
        } else {
            r.lambda.min(max_lambda) / max_lambda
        };
    }
    Hdbscan {
        labels,
        probabilities,
    }
}
