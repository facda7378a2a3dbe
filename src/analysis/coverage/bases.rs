//! The nearest base open at `to` whose reach covers each cell centre.

use super::{dist, search_radius, Base};
use crate::grid::Grid;
use geo::{BoundingRect, Distance, Euclidean, MapCoords};
use rayon::prelude::*;

/// Nearest active base per cell: (index, distance m).
pub(super) fn nearest_bases(grid: &Grid, bases: &[Base], to: i64) -> Vec<Option<(usize, f64)>> {
    let hits: Vec<Vec<(u32, f64)>> = bases
        .par_iter()
        .map(|b| {
            let mut out = Vec::new();
            if !b.is_active(to) {
                return out;
            }
            let g = b.geometry.map_coords(|c| {
                let [x, y] = grid.project(c.x, c.y);
                geo_types::coord! { x: x, y: y }
            });
            let (anchor, bound) = match &g {
                geo_types::Geometry::Point(p) => ([p.x(), p.y()], 0.0),
                other => match other.bounding_rect() {
                    Some(r) => {
                        let (lo, hi) = (r.min(), r.max());
                        let c = [(lo.x + hi.x) / 2.0, (lo.y + hi.y) / 2.0];
                        (c, dist(c, [hi.x, hi.y]))
                    }
                    None => return out,
                },
            };
            if !(anchor[0].is_finite() && anchor[1].is_finite()) {
                return out;
            }
            grid.for_each_cell_within(anchor, search_radius(b.reach_m + bound), |cell| {
                let xy = grid.cells[cell].xy;
                let d = match &g {
                    geo_types::Geometry::Point(_) => dist(xy, anchor),
                    other => Euclidean.distance(&geo_types::Point::new(xy[0], xy[1]), other),
                };
                if d <= b.reach_m {
                    out.push((cell as u32, d));
                }
            });
            out
        })
        .collect();
    let mut best: Vec<Option<(usize, f64)>> = vec![None; grid.len()];
    for (bi, list) in hits.iter().enumerate() {
        for &(cell, d) in list {
            let slot = &mut best[cell as usize];
            let better = match *slot {
                None => true,
                Some((bj, dj)) => d
                    .total_cmp(&dj)
                    .then_with(|| bases[bi].id.cmp(&bases[bj].id))
                    .then(bi.cmp(&bj))
                    .is_lt(),
            };
            if better {
                *slot = Some((bi, d));
            }
        }
    }
    best
}
