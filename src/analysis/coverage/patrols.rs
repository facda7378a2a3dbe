//! What every patrol adds to the per-cell sums: time within its corridor,
//! visits, recency and track length, patrols taken in Z-order.

use super::corridor::Track;
use super::sums::{CellSums, SumPool, PER_METRE, PER_SECOND, PER_WEIGHT};
use super::track_length::{cut, Cutter};
use super::{search_radius, CoverageParams, Patrol};
use crate::grid::Grid;
use rayon::prelude::*;

/// What one patrol did in one cell (scratch, before adding to the sums).
#[derive(Debug, Clone, Copy)]
struct Acc {
    cell: u32,
    secs: f64,
    last: f64,
    visited: bool,
    metres: f64,
}

/// Per-worker scratch: the cells one patrol touched.
struct Scratch {
    slot: Vec<u32>,
    acc: Vec<Acc>,
    cuts: Vec<f64>,
    track: Track,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            slot: vec![u32::MAX; n],
            acc: Vec::new(),
            cuts: Vec::new(),
            track: Track::default(),
        }
    }

    fn get(slot: &mut [u32], acc: &mut Vec<Acc>, cell: usize) -> usize {
        let k = slot[cell];
        if k != u32::MAX {
            return k as usize;
        }
        slot[cell] = acc.len() as u32;
        acc.push(Acc {
            cell: cell as u32,
            secs: 0.0,
            last: f64::NEG_INFINITY,
            visited: false,
            metres: 0.0,
        });
        acc.len() - 1
    }
}

/// Everything one patrol adds to the sums; returns whether it visited a cell.
fn one_patrol(
    grid: &Grid,
    cutter: &Cutter,
    p: &Patrol,
    params: &CoverageParams,
    pool: &SumPool,
    sc: &mut Scratch,
) -> bool {
    let r = params.corridor_m[p.mode];
    let w1 = (params.to - params.from) as f64;
    sc.track.build(grid, p, params.from, r);
    let Scratch {
        slot,
        acc,
        cuts,
        track,
    } = sc;
    for &run in &track.runs {
        let node = &track.nodes[run as usize];
        if node.tb < 0.0 || node.ta > w1 {
            continue; // wholly outside the window
        }
        grid.for_each_cell_within(node.c, search_radius(r + node.rad), |cell| {
            let xy = grid.cells[cell].xy;
            let (mut secs, mut last, mut hit) = (0.0, f64::NEG_INFINITY, false);
            track.within(run, xy, r, w1, &mut |ta, tb| {
                if tb < 0.0 || ta > w1 {
                    return;
                }
                let (lo, hi) = (ta.max(0.0), tb.min(w1));
                secs += hi - lo;
                last = last.max(hi);
                hit = true;
            });
            if hit {
                let k = Scratch::get(slot, acc, cell);
                let a = &mut acc[k];
                a.secs += secs;
                a.visited = true;
                a.last = a.last.max(last);
            }
        });
    }
    for s in &track.segs {
        // The part of the piece travelled within the window.
        let (s0, s1) = if s.tb > s.ta {
            (
                ((0.0 - s.ta) / (s.tb - s.ta)).clamp(0.0, 1.0),
                ((w1 - s.ta) / (s.tb - s.ta)).clamp(0.0, 1.0),
            )
        } else if s.ta >= 0.0 && s.ta <= w1 {
            (0.0, 1.0)
        } else {
            continue;
        };
        if s1 > s0 {
            cut(grid, cutter, s, s0, s1, cuts, &mut |cell, m| {
                let k = Scratch::get(slot, acc, cell);
                acc[k].metres += m;
            });
        }
    }
    let mode = p.mode;
    for a in acc.iter() {
        slot[a.cell as usize] = u32::MAX;
    }
    let visited = acc.iter().any(|a| a.visited);
    if !acc.is_empty() {
        pool.with(|sums| {
            for a in acc.iter() {
                let sums = &mut sums[a.cell as usize];
                sums.metres[mode] += (a.metres * PER_METRE).round() as u64;
                if a.visited {
                    sums.visits += 1;
                    sums.secs[mode] += (a.secs * PER_SECOND).round() as u64;
                    let w = params.recency(w1 - a.last);
                    sums.score += (w * PER_WEIGHT).round() as u64;
                    let last = params.from + a.last.round() as i64;
                    sums.last = sums.last.max(last);
                }
            }
        });
    }
    acc.clear();
    visited
}

/// Interleaves the low 16 bits of `x` and `y`.
fn z_order(x: u64, y: u64) -> u64 {
    let spread = |mut v: u64| {
        v &= 0xffff;
        v = (v | (v << 8)) & 0x00ff_00ff;
        v = (v | (v << 4)) & 0x0f0f_0f0f;
        v = (v | (v << 2)) & 0x3333_3333;
        (v | (v << 1)) & 0x5555_5555
    };
    spread(x) | (spread(y) << 1)
}

pub(super) fn patrol_sums(
    grid: &Grid,
    patrols: &[Patrol],
    params: &CoverageParams,
) -> (usize, Vec<CellSums>) {
    let pool = SumPool::new(grid.len());
    let cutter = Cutter::new(grid);
    // Patrols near each other one after the other (Z-order of their first
    // point), so that the cells they touch are still in the cache. The order
    // does not change the integer sums.
    let mut order: Vec<(u64, usize)> = patrols
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let first = p.parts.iter().flatten().next();
            let key = first.map_or(u64::MAX, |v| {
                let [x, y] = grid.project(v[0], v[1]);
                let q = |c: f64| ((c / 4_096.0 + 32_768.0).clamp(0.0, 65_535.0)) as u64;
                z_order(q(x), q(y))
            });
            (key, i)
        })
        .collect();
    order.par_sort_unstable();
    // Workers skip the remaining patrols once the request is given up; the
    // caller then returns `Cancelled` (crate::cancel).
    let stop = crate::cancel::current();
    let used = order
        .par_iter()
        .with_min_len(64)
        .map_init(
            || Scratch::new(grid.len()),
            |sc, &(_, i)| {
                if stop.stopped() {
                    return 0;
                }
                usize::from(one_patrol(grid, &cutter, &patrols[i], params, &pool, sc))
            },
        )
        .sum();
    (used, pool.total())
}
