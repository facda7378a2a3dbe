//! A k-d tree over points in `D` dimensions (2: planar coordinates, 3: unit
//! vectors on the sphere, where the straight-line chord is monotone in the
//! great-circle distance), for k-nearest-neighbour distances (the automatic
//! DBSCAN radius, HDBSCAN's core distances) and for HDBSCAN's Boruvka
//! spanning tree, which walks [`KdTree::nodes`] itself.
//!
//! Distances inside the tree are squared Euclidean distances, summed axis by
//! axis in order (scikit-learn's `rdist` for the Euclidean metric).

/// Most points in a leaf.
const LEAF: usize = 16;

/// One box of the tree: the points at positions `start..end`.
#[derive(Debug, Clone)]
pub(crate) struct Node<const D: usize> {
    /// Lower corner of the bounding box.
    pub(crate) lo: [f64; D],
    /// Upper corner of the bounding box.
    pub(crate) hi: [f64; D],
    /// First position.
    pub(crate) start: u32,
    /// One past the last position.
    pub(crate) end: u32,
    /// Children (node indices), or 0 for a leaf: the root is node 0 and never a
    /// child, and children come after their parent in [`KdTree::nodes`].
    pub(crate) children: [u32; 2],
}

impl<const D: usize> Node<D> {
    /// Whether the node is a leaf.
    #[inline]
    pub(crate) fn is_leaf(&self) -> bool {
        self.children[0] == 0
    }

    /// Positions of its points.
    #[inline]
    pub(crate) fn positions(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Squared distance from `q` to the box (0 inside).
    #[inline]
    pub(crate) fn min_d2(&self, q: &[f64; D]) -> f64 {
        let mut s = 0.0;
        for ((lo, hi), x) in self.lo.iter().zip(&self.hi).zip(q) {
            let v = (lo - x).max(x - hi).max(0.0);
            s += v * v;
        }
        s
    }
}

/// Squared Euclidean distance, summed axis by axis.
#[inline]
pub(crate) fn d2<const D: usize>(a: &[f64; D], b: &[f64; D]) -> f64 {
    let mut s = 0.0;
    for d in 0..D {
        let v = a[d] - b[d];
        s += v * v;
    }
    s
}

/// The tree. A point's *position* is its rank in the tree order.
#[derive(Debug, Clone)]
pub(crate) struct KdTree<const D: usize> {
    /// Points by position.
    pub(crate) pts: Vec<[f64; D]>,
    /// Input index by position.
    pub(crate) index: Vec<u32>,
    /// Boxes; node 0 is the root.
    pub(crate) nodes: Vec<Node<D>>,
}

impl<const D: usize> KdTree<D> {
    /// Builds the tree: each box splits at the median of its widest axis
    /// (ties by input index, so the tree depends on the input only).
    pub(crate) fn new(points: &[[f64; D]]) -> Self {
        let mut order: Vec<u32> = (0..points.len() as u32).collect();
        let mut nodes = Vec::with_capacity(2 * points.len() / LEAF + 2);
        if !points.is_empty() {
            build(points, &mut order, 0, &mut nodes);
        }
        let pts = order.iter().map(|&i| points[i as usize]).collect();
        KdTree {
            pts,
            index: order,
            nodes,
        }
    }

    /// The `k` nearest positions to `q` (a point of the tree counts itself) as
    /// `(squared distance, position)`, ascending, into `out`. Ties at the k-th
    /// distance are broken arbitrarily, so callers use only its value.
    pub(crate) fn knn(&self, q: &[f64; D], k: usize, out: &mut Vec<(f64, u32)>) {
        out.clear();
        if k == 0 || self.nodes.is_empty() {
            return;
        }
        let mut stack: Vec<(u32, f64)> = vec![(0, 0.0)];
        while let Some((id, lb)) = stack.pop() {
            if out.len() == k && lb >= out[k - 1].0 {
                continue;
            }
            let node = &self.nodes[id as usize];
            if node.is_leaf() {
                for p in node.positions() {
                    let d = d2(&self.pts[p], q);
                    if out.len() < k || d < out[k - 1].0 {
                        if out.len() == k {
                            out.pop();
                        }
                        let at = out.partition_point(|e| e.0 <= d);
                        out.insert(at, (d, p as u32));
                    }
                }
            } else {
                let [a, b] = node.children;
                let (la, lb) = (
                    self.nodes[a as usize].min_d2(q),
                    self.nodes[b as usize].min_d2(q),
                );
                // Nearer box last, so it is searched first.
                if la <= lb {
                    stack.push((b, lb));
                    stack.push((a, la));
                } else {
                    stack.push((a, la));
                    stack.push((b, lb));
                }
            }
        }
    }

    /// Calls `f(position)` for every point within squared distance `r2` of
    /// `q` (inclusive).
    pub(crate) fn within(&self, q: &[f64; D], r2: f64, mut f: impl FnMut(usize)) {
        if self.nodes.is_empty() {
            return;
        }
        let mut stack = vec![0u32];
        while let Some(id) = stack.pop() {
            let node = &self.nodes[id as usize];
            if node.min_d2(q) > r2 {
                continue;
            }
            if node.is_leaf() {
                for p in node.positions() {
                    if d2(&self.pts[p], q) <= r2 {
                        f(p);
                    }
                }
            } else {
                stack.extend(node.children);
            }
        }
    }
}

fn build<const D: usize>(
    points: &[[f64; D]],
    order: &mut [u32],
    offset: usize,
    nodes: &mut Vec<Node<D>>,
) -> u32 {
    let mut lo = [f64::INFINITY; D];
    let mut hi = [f64::NEG_INFINITY; D];
    for &i in order.iter() {
        let p = &points[i as usize];
        for d in 0..D {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    let id = nodes.len() as u32;
    nodes.push(Node {
        lo,
        hi,
        start: offset as u32,
        end: (offset + order.len()) as u32,
        children: [0, 0],
    });
    if order.len() > LEAF {
        let mut axis = 0;
        for d in 1..D {
            if hi[d] - lo[d] > hi[axis] - lo[axis] {
                axis = d;
            }
        }
        let mid = order.len() / 2;
        order.select_nth_unstable_by(mid, |&a, &b| {
            points[a as usize][axis]
                .total_cmp(&points[b as usize][axis])
                .then(a.cmp(&b))
        });
        let (l, r) = order.split_at_mut(mid);
        let left = build(points, l, offset, nodes);
        let right = build(points, r, offset + mid, nodes);
        nodes[id as usize].children = [left, right];
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dbscan::tests::Rng;

    fn cloud(seed: u64, n: usize) -> Vec<[f64; 2]> {
        let mut r = Rng(seed);
        (0..n)
            .map(|k| {
                if k % 7 == 6 {
                    [1.0, 1.0] // duplicates
                } else {
                    [r.uniform(0.0, 10.0), r.normal()]
                }
            })
            .collect()
    }

    #[test]
    fn knn_and_within_match_brute_force() {
        let pts = cloud(3, 700);
        let tree = KdTree::new(&pts);
        let mut out = Vec::new();
        for (i, q) in pts.iter().enumerate().step_by(7) {
            let mut all: Vec<f64> = pts.iter().map(|p| d2(p, q)).collect();
            all.sort_by(f64::total_cmp);
            for k in [1, 5, 40] {
                tree.knn(q, k, &mut out);
                let got: Vec<f64> = out.iter().map(|e| e.0).collect();
                assert_eq!(got, all[..k], "point {i}, k {k}");
                for &(d, p) in &out {
                    assert_eq!(d2(&tree.pts[p as usize], q), d);
                }
            }
            let r2 = all[12];
            let mut n = 0;
            tree.within(q, r2, |p| {
                assert!(d2(&tree.pts[p], q) <= r2);
                n += 1;
            });
            assert_eq!(n, all.iter().filter(|&&d| d <= r2).count());
        }
        let mut seen: Vec<u32> = tree.index.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..700).collect::<Vec<u32>>());
    }

    #[test]
    fn empty_and_tiny_trees() {
        let tree = KdTree::<2>::new(&[]);
        let mut out = vec![(1.0, 1)];
        tree.knn(&[0.0, 0.0], 3, &mut out);
        assert!(out.is_empty());
        let tree = KdTree::new(&[[0.0, 0.0], [3.0, 4.0]]);
        tree.knn(&[0.0, 0.0], 5, &mut out);
        assert_eq!(out.iter().map(|e| e.0).collect::<Vec<_>>(), vec![0.0, 25.0]);
    }
}
