//! H3 hexagonal cells (via `h3o`) covering an area.
//!
//! **Rule**: the usual H3 polyfill rule, a cell belongs to the grid when its
//! centre lies inside the area. Points of the area near its edge may thus
//! fall in a cell that is not in the grid; [`Grid::aggregate`] reports them
//! as outside.
//!
//! `h3o`'s own polyfill needs its `geo` feature, so the cells are found by a
//! flood fill: starting from the cell at the middle of the area's bounding
//! box, walk to neighbours whose centre lies in the bounding box widened by
//! three average edge lengths. Every cell meeting the slightly smaller box
//! (widened by two edge lengths, more than any cell's radius) is reached,
//! since those cells form a connected set, and that set holds every cell
//! whose centre is in the area.

use std::collections::VecDeque;
use std::sync::OnceLock;

use h3o::{CellIndex, LatLng, Resolution};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::within::CentreIndex;
use super::GridError;
use super::{Cell, Grid, GridKind, Laea, Lookup, Shape};

/// Authalic radius of WGS 84, metres, for the cell-count estimate.
const R: f64 = 6_371_007.18;

/// Cell lookup of an H3 grid.
#[derive(Debug, Clone)]
pub(super) struct H3Lookup {
    resolution: Resolution,
    cells: Vec<CellIndex>,
    index: FxHashMap<u64, u32>,
    /// Bucket index of the projected centres, built on first use by
    /// [`Grid::for_each_cell_within`].
    centres: OnceLock<CentreIndex>,
}

impl H3Lookup {
    /// The grid cell containing (`lon`, `lat`): H3 cell, then hash lookup.
    pub(super) fn locate(&self, lon: f64, lat: f64) -> Option<usize> {
        let cell = LatLng::new(lat, lon).ok()?.to_cell(self.resolution);
        self.index.get(&u64::from(cell)).map(|&i| i as usize)
    }

    /// Exact area of cell `i` on the authalic sphere, m2.
    pub(super) fn area_m2(&self, i: usize) -> f64 {
        self.cells[i].area_m2()
    }

    /// The H3 index of cell `i`.
    pub(super) fn cell(&self, i: usize) -> CellIndex {
        self.cells[i]
    }

    /// The index of the cells' projected centres, built on first use.
    pub(super) fn centres(&self, cells: &[Cell]) -> &CentreIndex {
        self.centres.get_or_init(|| {
            let xy: Vec<[f64; 2]> = cells.iter().map(|c| c.xy).collect();
            CentreIndex::new(&xy, self.resolution.area_m2())
        })
    }

    /// The grid index of H3 cell `c`, if it is in the grid.
    pub(super) fn index_of(&self, c: CellIndex) -> Option<usize> {
        self.index.get(&u64::from(c)).map(|&i| i as usize)
    }
}

/// Builds the H3 grid at `resolution` over `shape`, with at most
/// `max_cells` cells.
pub(super) fn build(shape: &Shape, resolution: u8, max_cells: usize) -> Result<Grid, GridError> {
    let res = Resolution::try_from(resolution).map_err(|_| {
        GridError::param(
            "resolution",
            format!("H3 resolution {resolution} is not in 0..=15"),
        )
    })?;
    let [w, s, e, n] = shape.bbox;
    // Search box: the bounding box widened by 3 average edge lengths.
    let margin = 3.0 * res.edge_length_m() / R;
    let s_m = (s.to_radians() - margin).max(-std::f64::consts::FRAC_PI_2);
    let n_m = (n.to_radians() + margin).min(std::f64::consts::FRAC_PI_2);
    let cos_max = s_m.cos().min(n_m.cos());
    let lon_margin = if cos_max * 180.0 > margin.to_degrees() {
        (margin / cos_max).to_degrees()
    } else {
        360.0
    };
    let (w_m, e_m) = (w - lon_margin, e + lon_margin);
    let (s_m, n_m) = (s_m.to_degrees(), n_m.to_degrees());
    let box_area = R
        * R
        * ((e_m.min(180.0) - w_m.max(-180.0)).to_radians())
        * (n_m.to_radians().sin() - s_m.to_radians().sin());
    // The search visits every cell of the widened box: bound it too (the
    // box of a thin or slanted area can be far larger than the area).
    let estimate = box_area / res.area_m2();
    if estimate > 2.0 * max_cells as f64 {
        return Err(GridError::TooManyCells {
            kind: GridKind::H3 { resolution },
            estimate,
            max_cells,
        });
    }
    let in_box = |c: CellIndex| {
        let ll = LatLng::from(c);
        (s_m..=n_m).contains(&ll.lat()) && (w_m..=e_m).contains(&ll.lng())
    };

    let [clon, clat] = shape.centre();
    let seed = LatLng::new(clat, clon)
        .map_err(|_| GridError::param("area", "area centre is not a valid position"))?
        .to_cell(res);
    let mut seen = FxHashSet::default();
    let mut queue = VecDeque::from([seed]);
    seen.insert(seed);
    let mut found = Vec::new();
    let mut steps = 0usize;
    while let Some(cell) = queue.pop_front() {
        steps += 1;
        if steps % 4096 == 0 {
            crate::cancel::check()?;
        }
        let ll = LatLng::from(cell);
        if shape.contains(ll.lng(), ll.lat()) {
            found.push(cell);
            if found.len() > max_cells {
                return Err(GridError::TooManyCells {
                    kind: GridKind::H3 { resolution },
                    estimate: found.len() as f64,
                    max_cells,
                });
            }
        }
        for next in cell.grid_disk::<Vec<_>>(1) {
            if seen.insert(next) && in_box(next) {
                queue.push_back(next);
            }
        }
    }
    found.sort_unstable();

    let projection = Laea::wgs84(clon, clat);
    let cells = found
        .par_iter()
        .map(|&c| make_cell(c, &projection))
        .collect();
    let index = found
        .iter()
        .enumerate()
        .map(|(i, &c)| (u64::from(c), i as u32))
        .collect();
    Ok(Grid {
        kind: GridKind::H3 { resolution },
        cells,
        projection,
        lookup: Lookup::H3(H3Lookup {
            resolution: res,
            cells: found,
            index,
            centres: OnceLock::new(),
        }),
    })
}

fn make_cell(c: CellIndex, p: &Laea) -> Cell {
    let ll = LatLng::from(c);
    let mut ring: Vec<[f64; 2]> = c.boundary().iter().map(|v| [v.lng(), v.lat()]).collect();
    // A cell straddling the antimeridian: keep its ring on the centre's side.
    if ring.iter().any(|v| v[0] > 90.0) && ring.iter().any(|v| v[0] < -90.0) {
        let shift: f64 = if ll.lng() > 0.0 { 360.0 } else { -360.0 };
        for v in &mut ring {
            if v[0].signum() != shift.signum() {
                v[0] += shift;
            }
        }
    }
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    Cell {
        key: c.to_string(),
        center: [ll.lng(), ll.lat()],
        xy: p.forward(ll.lng(), ll.lat()),
        ring,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ring, Rng};
    use super::super::Area;
    use super::*;
    use geo_types::{MultiPolygon, Polygon};

    const BANGUI: [f64; 4] = [18.4, 4.3, 18.7, 4.55];

    fn signed_area(r: &[[f64; 2]]) -> f64 {
        r.windows(2)
            .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
            .sum::<f64>()
            / 2.0
    }

    #[test]
    fn resolution_7_centres_inside_and_complete() {
        let g = Grid::h3(&Area::BBox(BANGUI), 7).unwrap();
        let [w, s, e, n] = BANGUI;
        assert!(g.len() > 150, "{}", g.len());
        for (i, c) in g.cells.iter().enumerate() {
            assert!(c.center[0] >= w && c.center[0] <= e && c.center[1] >= s && c.center[1] <= n);
            let idx = CellIndex::try_from(u64::from_str_radix(&c.key, 16).unwrap()).unwrap();
            assert_eq!(idx.resolution(), Resolution::Seven);
            assert_eq!(c.ring.first(), c.ring.last());
            assert!(signed_area(&c.ring) > 0.0, "ring not counter-clockwise");
            assert_eq!(g.locate(c.center[0], c.center[1]), Some(i));
            let a = g.cell_area_m2(i);
            assert!(a > 0.5 * Resolution::Seven.area_m2() && a < 2.0 * Resolution::Seven.area_m2());
        }
        // Completeness: any res-7 cell of a point near the box whose centre
        // is in the box is in the grid.
        let mut rng = Rng::new(3);
        for _ in 0..20_000 {
            let (lon, lat) = (
                w - 0.05 + 0.4 * rng.uniform(),
                s - 0.05 + 0.35 * rng.uniform(),
            );
            let cell = LatLng::new(lat, lon).unwrap().to_cell(Resolution::Seven);
            let ll = LatLng::from(cell);
            let inside = ll.lng() >= w && ll.lng() <= e && ll.lat() >= s && ll.lat() <= n;
            assert_eq!(g.locate(lon, lat).is_some(), inside, "{lon} {lat}");
        }
        // Sorted by index, keys unique.
        assert!(g.cells.windows(2).all(|p| p[0].key < p[1].key));
    }

    #[test]
    fn polygon_area_uses_centres() {
        let tri = Polygon::new(
            ring(&[(18.4, 4.3), (18.9, 4.3), (18.4, 4.8), (18.4, 4.3)]),
            vec![],
        );
        let g = Grid::h3(&Area::Polygon(MultiPolygon(vec![tri])), 6).unwrap();
        assert!(!g.is_empty());
        for c in &g.cells {
            let [x, y] = c.center;
            assert!(
                x >= 18.4 && y >= 4.3 && (x - 18.4) + (y - 4.3) <= 0.5,
                "{x} {y}"
            );
        }
    }

    #[test]
    fn refuses_bad_resolutions() {
        assert!(Grid::h3(&Area::BBox(BANGUI), 16).is_err());
        let e = Grid::h3(&Area::BBox([10.0, 0.0, 30.0, 20.0]), 12).unwrap_err();
        assert!(e.to_string().contains("coarser"), "{e}");
        // A budget: refused from the estimate, before any cell is made.
        let area = Area::BBox([15.5, 4.0, 20.92, 7.62]);
        let n = Grid::estimate_cells(&area, GridKind::H3 { resolution: 7 }).unwrap();
        let g = Grid::h3(&area, 7).unwrap();
        assert!((n / g.len() as f64 - 1.0).abs() < 0.05, "{n} {}", g.len());
        let e = Grid::build(&area, GridKind::H3 { resolution: 7 }, g.len() / 2).unwrap_err();
        assert!(matches!(e, GridError::TooManyCells { .. }), "{e}");
        assert!(e.to_string().contains("max_cells"), "{e}");
        assert!(Grid::build(&area, GridKind::H3 { resolution: 7 }, g.len() * 2).is_ok());
    }

    #[test]
    fn a_cancelled_build_stops() {
        let t = crate::cancel::Token::new();
        t.cancel();
        let r = crate::cancel::scope(t, || Grid::h3(&Area::BBox(BANGUI), 9));
        assert!(matches!(r, Err(GridError::Cancelled(_))), "{r:?}");
        let r = crate::cancel::scope(crate::cancel::Token::new(), || {
            Grid::square(&Area::BBox(BANGUI), 500.0)
        });
        assert!(r.is_ok());
    }

    #[test]
    fn coarse_resolution_over_a_pole() {
        // A cap around the north pole: the search box takes all longitudes.
        let g = Grid::h3(&Area::BBox([-180.0, 80.0, 180.0, 90.0]), 2).unwrap();
        assert!(g.cells.iter().all(|c| c.center[1] >= 80.0));
        assert!(g.len() > 30, "{}", g.len());
    }
}
