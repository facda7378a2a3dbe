//! The corridor search: a patrol's track split into short pieces under a
//! tree of bounding circles, and the exact part of a piece within the
//! half-width of a cell centre (segment / circle intersection).

use super::{dist, Patrol};
use crate::grid::Grid;

/// Tree leaves hold up to this many consecutive pieces, tested one by one.
const CHUNK: usize = 8;

/// A straight piece of track in projected metres, with the times (seconds
/// after `from`) at its ends.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seg {
    pub(super) a: [f64; 2],
    pub(super) b: [f64; 2],
    pub(super) ta: f64,
    pub(super) tb: f64,
}

/// A node of the bounding-circle tree over the pieces of one line: a circle
/// holding consecutive pieces (from piece `lo`), travelled from `ta` to `tb`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    pub(super) c: [f64; 2],
    pub(super) rad: f64,
    pub(super) ta: f64,
    pub(super) tb: f64,
    lo: u32,
    hi: u32,
    /// Children, or `u32::MAX` for a leaf (one piece).
    left: u32,
    right: u32,
}

/// One patrol prepared for the corridor search.
#[derive(Default)]
pub(super) struct Track {
    pub(super) segs: Vec<Seg>,
    pub(super) nodes: Vec<Node>,
    /// Root node of each run of consecutive pieces.
    pub(super) runs: Vec<u32>,
}

/// Bounding box of points.
#[derive(Debug, Clone, Copy)]
struct Bbox {
    lo: [f64; 2],
    hi: [f64; 2],
}

impl Bbox {
    fn of(s: &Seg) -> Bbox {
        let mut b = Bbox { lo: s.a, hi: s.a };
        b.add(s.b);
        b
    }

    fn add(&mut self, p: [f64; 2]) {
        self.lo = [self.lo[0].min(p[0]), self.lo[1].min(p[1])];
        self.hi = [self.hi[0].max(p[0]), self.hi[1].max(p[1])];
    }

    fn half_diagonal(&self) -> f64 {
        dist(self.lo, self.hi) / 2.0
    }
}

impl Track {
    /// Projects `p`, splits its lines into pieces of at most `max_piece`
    /// metres (times relative to `from`), groups consecutive pieces into runs
    /// whose vertices fit in a box of half-diagonal at most `max_piece / 2`,
    /// and builds a bounding-circle tree over each run.
    pub(super) fn build(&mut self, grid: &Grid, p: &Patrol, from: i64, max_piece: f64) {
        self.segs.clear();
        self.nodes.clear();
        self.runs.clear();
        for (part, times) in p.parts.iter().zip(&p.times) {
            if part.is_empty() {
                continue;
            }
            let lo = self.segs.len();
            let xy: Vec<[f64; 2]> = part.iter().map(|v| grid.project(v[0], v[1])).collect();
            let t: Vec<f64> = times.iter().map(|t| (t - from) as f64).collect();
            if xy.len() == 1 {
                self.segs.push(Seg {
                    a: xy[0],
                    b: xy[0],
                    ta: t[0],
                    tb: t[0],
                });
            }
            for k in 1..xy.len() {
                let (a, b, ta, tb) = (xy[k - 1], xy[k], t[k - 1], t[k]);
                let len = dist(a, b);
                let pieces = (len / max_piece).ceil().clamp(1.0, 1e7) as usize;
                let at = |j: usize| -> ([f64; 2], f64) {
                    if j == pieces {
                        return (b, tb);
                    }
                    let s = j as f64 / pieces as f64;
                    (
                        [a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s],
                        ta + (tb - ta) * s,
                    )
                };
                let mut prev = (a, ta);
                for j in 1..=pieces {
                    let next = at(j);
                    self.segs.push(Seg {
                        a: prev.0,
                        b: next.0,
                        ta: prev.1,
                        tb: next.1,
                    });
                    prev = next;
                }
            }
            let hi = self.segs.len();
            // Greedy runs.
            let half = max_piece / 2.0;
            let mut start = lo;
            let mut bb = Bbox::of(&self.segs[lo]);
            for k in lo + 1..hi {
                let mut grown = bb;
                grown.add(self.segs[k].b);
                if grown.half_diagonal() > half {
                    let root = self.node(start, k);
                    self.runs.push(root);
                    start = k;
                    bb = Bbox::of(&self.segs[k]);
                } else {
                    bb = grown;
                }
            }
            let root = self.node(start, hi);
            self.runs.push(root);
        }
    }

    /// The tree over pieces `lo..hi`: each node's circle is centred on the
    /// bounding box of its vertices and reaches the farthest one.
    fn node(&mut self, lo: usize, hi: usize) -> u32 {
        let segs = &self.segs[lo..hi];
        let mut bb = Bbox::of(&segs[0]);
        for s in segs {
            bb.add(s.b);
        }
        let c = [(bb.lo[0] + bb.hi[0]) / 2.0, (bb.lo[1] + bb.hi[1]) / 2.0];
        let d2 = |p: [f64; 2]| (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2);
        let far2 = segs
            .iter()
            .map(|s| d2(s.a).max(d2(s.b)))
            .fold(0.0, f64::max);
        // A hair of slack against rounding: the circle must hold the pieces.
        let rad = far2.sqrt() * (1.0 + 1e-12) + 1e-9;
        let (left, right) = if hi - lo <= CHUNK {
            (u32::MAX, u32::MAX)
        } else {
            let mid = (lo + hi) / 2;
            (self.node(lo, mid), self.node(mid, hi))
        };
        self.nodes.push(Node {
            c,
            rad,
            ta: self.segs[lo].ta,
            tb: self.segs[hi - 1].tb,
            lo: lo as u32,
            hi: hi as u32,
            left,
            right,
        });
        (self.nodes.len() - 1) as u32
    }

    /// Calls `out(ta, tb)` for the time intervals during which the track
    /// under `n` is within `r` of `p` (disjoint, in travel order), skipping
    /// subtrees travelled wholly outside the window `[0, w1]`.
    pub(super) fn within(
        &self,
        n: u32,
        p: [f64; 2],
        r: f64,
        w1: f64,
        out: &mut impl FnMut(f64, f64),
    ) {
        let node = &self.nodes[n as usize];
        if node.tb < 0.0 || node.ta > w1 {
            return; // wholly outside the window [0, w1]
        }
        let (dx, dy) = (p[0] - node.c[0], p[1] - node.c[1]);
        let d2 = dx * dx + dy * dy;
        let far = r + node.rad;
        if d2 > far * far {
            return;
        }
        let near = r - node.rad;
        if near >= 0.0 && d2 <= near * near {
            out(node.ta, node.tb);
            return;
        }
        if node.left != u32::MAX {
            self.within(node.left, p, r, w1, out);
            self.within(node.right, p, r, w1, out);
            return;
        }
        // A chunk of pieces, one by one. A piece whose ends are both within
        // r lies within r (the disk is convex); otherwise solve for the part
        // of it within r.
        let r2 = r * r;
        let inside = |v: [f64; 2]| {
            let (dx, dy) = (v[0] - p[0], v[1] - p[1]);
            dx * dx + dy * dy <= r2
        };
        let segs = &self.segs[node.lo as usize..node.hi as usize];
        let mut a_in = inside(segs[0].a);
        for s in segs {
            let b_in = inside(s.b);
            if a_in && b_in {
                out(s.ta, s.tb);
            } else if let Some((s0, s1)) = chord(s, p, r2, a_in, b_in) {
                let dt = s.tb - s.ta;
                out(s.ta + dt * s0, s.ta + dt * s1);
            }
            a_in = b_in;
        }
    }
}

/// The parameter interval `[s0, s1]` of `s` where `|a + s (b - a) - p|^2 <=
/// r2`, if any, knowing whether each end is within r (`a_in`, `b_in`, not
/// both: a piece with both ends within r lies within r, the disk being
/// convex). Only the roots that can matter are computed.
#[inline]
fn chord(s: &Seg, p: [f64; 2], r2: f64, a_in: bool, b_in: bool) -> Option<(f64, f64)> {
    let d = [s.b[0] - s.a[0], s.b[1] - s.a[1]];
    let f = [s.a[0] - p[0], s.a[1] - p[1]];
    let qa = d[0] * d[0] + d[1] * d[1];
    let qb = f[0] * d[0] + f[1] * d[1];
    if !a_in && !b_in && (qb >= 0.0 || -qb >= qa) {
        // Both ends beyond r and the nearest point of the line is not
        // between them: the nearest point of the piece is an end.
        return None;
    }
    if qa == 0.0 {
        return None; // no length, and its point is beyond r
    }
    let qc = f[0] * f[0] + f[1] * f[1] - r2;
    let disc = qb * qb - qa * qc;
    if disc < 0.0 && !(a_in || b_in) {
        return None;
    }
    let sq = disc.max(0.0).sqrt();
    let s0 = if a_in {
        0.0
    } else {
        ((-qb - sq) / qa).max(0.0)
    };
    let s1 = if b_in {
        1.0
    } else {
        ((-qb + sq) / qa).min(1.0)
    };
    (s0 <= s1).then_some((s0, s1))
}
