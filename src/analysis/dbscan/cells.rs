//! Grid DBSCAN on the sphere (Gunawan 2013; de Berg, Gunawan and Roeloffzen
//! 2019): the clustering of [`label::cluster`](super::label::cluster) over
//! the pair-by-pair eps test, with few distance tests in dense places.
//!
//! The unit vectors are sorted into cubes whose diagonal lies surely within
//! eps (side just under chord / sqrt 3), so any two points of one cube are
//! neighbours, and a point's neighbours lie at most [`Cubes::reach`] cubes
//! away (2). Then:
//!
//! - **core**: a cube holding at least `min_points` points is wholly core,
//!   without a test; any other point counts its neighbours cube by cube (a
//!   cube surely within eps of it counted whole) until `min_points`;
//! - **links**: the core points of one cube are one connected set; two cubes'
//!   sets are joined when some pair of their core points are neighbours,
//!   found by a test that stops at the first such pair, and not tested at all
//!   when the union-find already joins them;
//! - **borders**: a non-core point joins, among its core neighbours'
//!   clusters, the one with the smallest first input index (a cube surely
//!   within eps taken whole, a cube whose clusters cannot improve on the best
//!   so far skipped).
//!
//! Every shortcut calls a pair neighbours only when the squared chord the
//! pair-by-pair test would compute is surely below its "inside" threshold, so
//! the neighbour relation, and with it every core flag and label, is that
//! test's: scikit-learn's.

use super::label::{number, positions_in, NONE};
use super::sphere::{at, by_position, rdist_degrees, EpsTest, CUBE_SLACK};
use super::union_find::UnionFind;
use super::Clustering;
use crate::analysis::spatial_hash::Grid;
use rayon::prelude::*;
use std::ops::Range;

/// The cubes of grid DBSCAN for one eps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cubes {
    /// Side, unit-sphere units.
    side: f64,
    /// How many cubes away along an axis a neighbour may lie.
    reach: u32,
}

/// Most cubes a neighbour may lie away along an axis before the cubes are
/// not worth it (only for an eps so small that the rounding allowance is
/// comparable to the chord: a few micrometres).
const MAX_REACH: f64 = 3.0;

impl Cubes {
    /// The cubes for `eps`, or `None` when eps is too small for a cube whose
    /// diagonal, with the rounding allowance, is surely inside.
    pub(super) fn new(eps: &EpsTest) -> Option<Cubes> {
        let inside = eps.inside2.sqrt();
        // The diagonal of a cube widened by the allowance on both sides is
        // the inside chord less a relative margin far beyond rounding.
        let side = inside / 3f64.sqrt() * (1.0 - 1e-6) - 2.0 * CUBE_SLACK;
        if side.is_nan() || side <= 0.0 {
            return None;
        }
        let cubes = Cubes { side, reach: 0 };
        if !cubes.surely(3.0 * (side + 2.0 * CUBE_SLACK).powi(2), eps) {
            return None;
        }
        // Neighbours within the outer chord, the cubes widened by the
        // allowance, are at most this many cubes apart along an axis.
        let reach = ((eps.outside2.sqrt() + 2.0 * CUBE_SLACK) / side).floor() + 1.0;
        (reach <= MAX_REACH).then_some(Cubes {
            side,
            reach: reach as u32,
        })
    }

    /// The cube holding a unit vector.
    fn cube(&self, v: &[f64; 3]) -> [i64; 3] {
        v.map(|x| ((x + 1.0) / self.side).floor() as i64)
    }

    /// The least and the greatest squared distance from `v` to the cube
    /// `key`, widened by the rounding allowance.
    #[inline]
    fn range2(&self, v: &[f64; 3], key: &[i64; 3]) -> (f64, f64) {
        let (mut least, mut most) = (0.0, 0.0);
        for a in 0..3 {
            let lo = key[a] as f64 * self.side - 1.0 - CUBE_SLACK;
            let hi = lo + self.side + 2.0 * CUBE_SLACK;
            let near = (lo - v[a]).max(v[a] - hi).max(0.0);
            let far = (v[a] - lo).max(hi - v[a]);
            least += near * near;
            most += far * far;
        }
        (least, most)
    }

    /// Whether every squared chord the eps test computes for points at most
    /// `most2` apart (squared) is below its inside threshold: the computed
    /// chord exceeds the exact one by a few ulps at most.
    #[inline]
    fn surely(&self, most2: f64, eps: &EpsTest) -> bool {
        most2 * (1.0 + 1e-12) <= eps.inside2
    }
}

/// The points in [`Cubes`], and their core points compacted by cube.
struct CubeIndex<'a> {
    lon: &'a [f64],
    lat: &'a [f64],
    eps: EpsTest,
    cubes: Cubes,
    grid: Grid<3>,
    /// Unit vectors by position, one array per axis.
    xyz: [Vec<f64>; 3],
}

/// The core points, compacted in position order: cube `c` holds core points
/// `starts[c]..starts[c + 1]`.
struct Cores {
    starts: Vec<u32>,
    /// Input index of each core point.
    orig: Vec<u32>,
    /// Unit vectors of the core points, one array per axis.
    xyz: [Vec<f64>; 3],
    /// Core point number by position ([`NONE`] for a non-core point).
    of_position: Vec<u32>,
}

impl Cores {
    fn range(&self, c: usize) -> Range<usize> {
        self.starts[c] as usize..self.starts[c + 1] as usize
    }
}

/// Runs of at most 64 out of a range, for the eps test's masks.
fn runs(r: Range<usize>) -> impl Iterator<Item = Range<usize>> {
    r.clone().step_by(64).map(move |s| s..(s + 64).min(r.end))
}

/// DBSCAN over the cubes of the points' unit vectors `xyz`; see the module
/// documentation.
pub(super) fn cluster(
    lon: &[f64],
    lat: &[f64],
    xyz: &[[f64; 3]],
    eps: EpsTest,
    cubes: Cubes,
    min_points: usize,
) -> Clustering {
    let grid = Grid::with_reach(xyz.par_iter().map(|v| cubes.cube(v)).collect(), cubes.reach);
    let xyz = by_position(&grid.original, xyz);
    let index = CubeIndex {
        lon,
        lat,
        eps,
        cubes,
        grid,
        xyz,
    };
    let core = index.core(min_points);
    let cores = index.compact(&core);
    let cluster_of = index.link(&cores);
    let attach = index.attach(&core, &cores, &cluster_of);
    number(&index.grid.original, &core, &attach)
}

impl CubeIndex<'_> {
    /// Core flags by position.
    fn core(&self, min_points: usize) -> Vec<bool> {
        let grid = &self.grid;
        (0..grid.cell_count())
            .into_par_iter()
            .flat_map_iter(|c| {
                let own = grid.positions(c);
                let whole = own.len() >= min_points;
                let others = &grid.near(c)[1..];
                let count = own.len();
                own.map(move |p| whole || self.dense(p, count, others, min_points))
            })
            .collect()
    }

    /// Whether position `p`, with `count` neighbours in its own cube, has at
    /// least `min_points` neighbours counting the cubes `others`.
    fn dense(&self, p: usize, mut count: usize, others: &[u32], min_points: usize) -> bool {
        let v = at(&self.xyz, p);
        let o = &self.grid.original;
        for &d in others {
            let (least, most) = self.cubes.range2(&v, self.grid.key(d));
            if least > self.eps.outside2 {
                continue;
            }
            let run = self.grid.positions(d as usize);
            if self.cubes.surely(most, &self.eps) {
                count += run.len();
            } else {
                for r in runs(run) {
                    let start = r.start;
                    let mask = self.eps.mask(&v, &self.xyz, r, |k| {
                        rdist_degrees(self.lon, self.lat, o[p] as usize, o[start + k] as usize)
                    });
                    count += mask.count_ones() as usize;
                    if count >= min_points {
                        return true;
                    }
                }
            }
            if count >= min_points {
                return true;
            }
        }
        count >= min_points
    }

    /// The core points compacted by cube.
    fn compact(&self, core: &[bool]) -> Cores {
        let grid = &self.grid;
        let mut cores = Cores {
            starts: Vec::with_capacity(grid.cell_count() + 1),
            orig: Vec::new(),
            xyz: [Vec::new(), Vec::new(), Vec::new()],
            of_position: vec![NONE; core.len()],
        };
        cores.starts.push(0);
        for c in 0..grid.cell_count() {
            for p in grid.positions(c).filter(|&p| core[p]) {
                cores.of_position[p] = cores.orig.len() as u32;
                cores.orig.push(grid.original[p]);
                for a in 0..3 {
                    cores.xyz[a].push(self.xyz[a][p]);
                }
            }
            cores.starts.push(cores.orig.len() as u32);
        }
        cores
    }

    /// Links the core points into clusters; returns each core point's
    /// cluster, known by its smallest input index.
    fn link(&self, cores: &Cores) -> Vec<u32> {
        let grid = &self.grid;
        let m = cores.orig.len();
        let sets = UnionFind::new(m);
        (0..grid.cell_count()).into_par_iter().for_each(|c| {
            let own = cores.range(c);
            let Some(first) = own.clone().next() else {
                return;
            };
            let first = first as u32;
            for i in own.clone().skip(1) {
                sets.union(first, i as u32);
            }
            // Each pair of cubes once, from the later one.
            for &d in grid.near(c)[1..].iter().filter(|&&d| (d as usize) < c) {
                let other = cores.range(d as usize);
                if other.is_empty() || sets.find(first) == sets.find(other.start as u32) {
                    continue;
                }
                if self.touch(cores, own.clone(), d as usize, other.clone()) {
                    sets.union(first, other.start as u32);
                }
            }
        });
        let root: Vec<u32> = (0..m as u32)
            .into_par_iter()
            .map(|i| sets.find(i))
            .collect();
        drop(sets);
        let mut first = vec![NONE; m];
        for (i, &r) in root.iter().enumerate() {
            first[r as usize] = first[r as usize].min(cores.orig[i]);
        }
        root.into_iter().map(|r| first[r as usize]).collect()
    }

    /// Whether some core point of `own` is a neighbour of some core point
    /// `other` of cube `d`: stops at the first pair.
    fn touch(&self, cores: &Cores, mut own: Range<usize>, d: usize, other: Range<usize>) -> bool {
        let key = self.grid.key(d as u32);
        own.any(|a| {
            let v = at(&cores.xyz, a);
            let (least, most) = self.cubes.range2(&v, key);
            if least > self.eps.outside2 {
                return false;
            }
            if self.cubes.surely(most, &self.eps) {
                return true;
            }
            runs(other.clone()).any(|r| {
                let start = r.start;
                self.eps.mask(&v, &cores.xyz, r, |k| {
                    rdist_degrees(
                        self.lon,
                        self.lat,
                        cores.orig[a] as usize,
                        cores.orig[start + k] as usize,
                    )
                }) != 0
            })
        })
    }

    /// The cluster each position joins, known by its smallest input index
    /// ([`NONE`]: noise): a core point's own, a border point's first among
    /// its core neighbours'.
    fn attach(&self, core: &[bool], cores: &Cores, cluster_of: &[u32]) -> Vec<u32> {
        let grid = &self.grid;
        // The first cluster among each cube's core points.
        let cube_first: Vec<u32> = (0..grid.cell_count())
            .into_par_iter()
            .map(|c| {
                cluster_of[cores.range(c)]
                    .iter()
                    .copied()
                    .min()
                    .unwrap_or(NONE)
            })
            .collect();
        (0..grid.cell_count())
            .into_par_iter()
            .flat_map_iter(|c| {
                let near = grid.near(c);
                let cube_first = &cube_first;
                grid.positions(c).map(move |p| {
                    if core[p] {
                        cluster_of[cores.of_position[p] as usize]
                    } else {
                        self.border(p, near, cores, cluster_of, cube_first)
                    }
                })
            })
            .collect()
    }

    /// The first cluster among the core neighbours of the non-core position
    /// `p` in the cubes `near`.
    fn border(
        &self,
        p: usize,
        near: &[u32],
        cores: &Cores,
        cluster_of: &[u32],
        cube_first: &[u32],
    ) -> u32 {
        let v = at(&self.xyz, p);
        let i = self.grid.original[p] as usize;
        let mut best = NONE;
        for &d in near {
            if cube_first[d as usize] >= best {
                continue;
            }
            let (least, most) = self.cubes.range2(&v, self.grid.key(d));
            if least > self.eps.outside2 {
                continue;
            }
            if self.cubes.surely(most, &self.eps) {
                best = cube_first[d as usize];
                continue;
            }
            for r in runs(cores.range(d as usize)) {
                let start = r.start;
                let mask = self.eps.mask(&v, &cores.xyz, r, |k| {
                    rdist_degrees(self.lon, self.lat, i, cores.orig[start + k] as usize)
                });
                for q in positions_in(start, mask) {
                    best = best.min(cluster_of[q]);
                }
            }
        }
        best
    }
}
