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
    let hierarchy = single_linkage(n, edges);
    let rows = condense(n, &hierarchy, min_cluster_size);
    select(n, &rows)
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
