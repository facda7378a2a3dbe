//! Dissolve: the union of grid cells as a valid lon/lat MultiPolygon.
//!
//! **Algorithm** (edge cancellation):
//!
//! 1. Every selected cell's ring (counter-clockwise) contributes its
//!    directed edges, between vertices identified by a key
//!    (`Vertices`). An edge shared by two selected cells appears once in
//!    each direction and both cancel; what is left is the boundary of the
//!    union, with the union on the left of every edge.
//! 2. The remaining edges are chained into closed walks (`trace`). Where
//!    a vertex has several outgoing edges (square cells touching only at a
//!    corner), the walk takes the sharpest left turn, so that the union's
//!    pieces on either side of the pinch stay apart; and whenever a walk
//!    comes back to a vertex it has already visited, that loop is cut off as
//!    a ring of its own. Every ring is therefore simple (no repeated vertex):
//!    there are no figure-eights and no self-touching rings.
//! 3. Counter-clockwise rings are exteriors, clockwise ones holes; each hole
//!    goes to the smallest exterior containing it (`assemble`).
//!
//! The result is valid in the OGC sense: two polygons may touch at a point
//! (cells touching diagonally, from different edge-connected components,
//! give separate polygons), and a hole may touch its exterior at a point
//! (a ring of cells closed by a diagonal contact), but rings never cross,
//! overlap along a line or touch themselves.
//!
//! **Vertices.** Square cells have rings densified to `SIDE` (4) points per
//! side, which adjacent cells share bit for bit; they are keyed by their
//! position on the quarter-cell lattice, `(SIDE * col + k, SIDE * row + m)`,
//! so matching never depends on floating point. H3 cells are keyed by their
//! coordinates, snapped to 1e-9 degrees (about 0.1 mm; shared H3 vertices
//! agree to about 1e-13 degrees, while distinct ones are at least 0.5 m
//! apart even at resolution 15), with the neighbouring snapping squares
//! checked too so that a vertex on a rounding boundary still matches.
//!
//! **What is kept.** The output's vertices are exactly the cell ring points
//! that lie on the union's boundary, at the coordinates of the cell rings:
//! the vertices of interior (cancelled) edges disappear. For square cells
//! this keeps every quarter-cell point along a straight run of boundary,
//! *including the lattice corners in the middle of a run*: the cells' sides
//! are straight in the projection, hence curved in longitude/latitude, and
//! the densification points are what keeps the polygon within a small
//! fraction of a metre of the true cells. For H3 cells every remaining
//! vertex is a real corner (three hexagons meet at 120 degrees), apart from
//! H3's own distortion vertices where a cell crosses an icosahedron edge.
//!
//! Cost: linear in the number of cell vertices (hash maps), plus the
//! point-in-ring tests that assign holes, which an R-tree of the exteriors'
//! bounding boxes keeps to the exteriors around each hole.

use std::collections::hash_map::Entry;

use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;
use rustc_hash::FxHashMap;

use super::square::SIDE;
use super::{Grid, Lookup};

/// The union of the given cells' boundaries as a valid lon/lat MultiPolygon: counter-clockwise
/// exterior rings, clockwise holes, closed rings, no repeated or collinear-redundant vertices left
/// from interior edges (keep vertices that are real corners; for square cells a straight run of
/// boundary may keep intermediate lattice corners or drop them, but document which), no
/// self-touching rings (where two cells touch only at a corner, the result must still be valid
/// OGC: either separate polygons or an exterior with a hole touching at one point, not a
/// figure-eight ring).
///
/// Square cells keep every ring point on the boundary, lattice corners on
/// straight runs included (see the [module documentation](self)). Repeated
/// indices in `cells` count once; no cells give an empty MultiPolygon.
/// Polygons come in the order in which their exterior is first reached from
/// the smallest cell index, holes likewise: the result depends only on the
/// set of cells.
///
/// # Panics
/// If an index in `cells` is not a cell of `grid`.
pub fn dissolve(grid: &Grid, cells: &[usize]) -> MultiPolygon<f64> {
    let mut cells = cells.to_vec();
    cells.sort_unstable();
    cells.dedup();
    if let Some(&i) = cells.last() {
        assert!(i < grid.len(), "cell index {i} out of range");
    }
    let mut vertices = Vertices::default();
    let mut edges = Edges::default();
    let mut ring_ids = Vec::new();
    for &i in &cells {
        let ring = &grid.cells[i].ring;
        let open = &ring[..ring.len().saturating_sub(1)];
        ring_ids.clear();
        match &grid.lookup {
            Lookup::Square(l) => {
                let (row, col) = l.row_col(i);
                assert_eq!(
                    open.len(),
                    4 * SIDE,
                    "square cell ring of {} points",
                    ring.len()
                );
                for (k, &p) in open.iter().enumerate() {
                    ring_ids.push(vertices.by_key(square_key(row, col, k), p));
                }
            }
            Lookup::H3(_) => {
                for &p in open {
                    ring_ids.push(vertices.snapped(p));
                }
            }
        }
        for k in 0..ring_ids.len() {
            edges.add(ring_ids[k], ring_ids[(k + 1) % ring_ids.len()]);
        }
    }
    let rings = trace(&vertices.coords, &edges.remaining());
    assemble(&vertices.coords, rings)
}

/// Quarter-lattice key of point `k` of the ring of the square cell at
/// (`row`, `col`); the ring runs counter-clockwise from the south-west
/// corner with [`SIDE`] points per side (as built by `square::make_cells`).
fn square_key(row: usize, col: usize, k: usize) -> u64 {
    let (x, y) = (SIDE * col, SIDE * row);
    let t = k % SIDE;
    let (qx, qy) = match k / SIDE {
        0 => (x + t, y),
        1 => (x + SIDE, y + t),
        2 => (x + SIDE - t, y + SIDE),
        _ => (x, y + SIDE - t),
    };
    ((qx as u64) << 32) | qy as u64
}

/// Vertex table: dense ids for vertex keys, with the coordinates of the
/// first ring point seen for each.
#[derive(Default)]
struct Vertices {
    coords: Vec<[f64; 2]>,
    keys: FxHashMap<u64, u32>,
    snap: FxHashMap<(i64, i64), u32>,
}

/// Snapping step for H3 vertices, degrees.
const SNAP: f64 = 1e-9;

impl Vertices {
    /// The id of the vertex with an exact `key`, created at `p` if new.
    fn by_key(&mut self, key: u64, p: [f64; 2]) -> u32 {
        let next = self.coords.len() as u32;
        let id = *self.keys.entry(key).or_insert(next);
        if id == next {
            self.coords.push(p);
        }
        id
    }

    /// The id of the vertex within [`SNAP`] of `p` (in both coordinates),
    /// created at `p` if there is none.
    fn snapped(&mut self, p: [f64; 2]) -> u32 {
        let q = ((p[0] / SNAP).round() as i64, (p[1] / SNAP).round() as i64);
        // The point's own square first, then its eight neighbours.
        const AROUND: [(i64, i64); 9] = [
            (0, 0),
            (-1, -1),
            (0, -1),
            (1, -1),
            (-1, 0),
            (1, 0),
            (-1, 1),
            (0, 1),
            (1, 1),
        ];
        for (dx, dy) in AROUND {
            if let Some(&id) = self.snap.get(&(q.0 + dx, q.1 + dy)) {
                let c = self.coords[id as usize];
                if (c[0] - p[0]).abs() <= SNAP && (c[1] - p[1]).abs() <= SNAP {
                    return id;
                }
            }
        }
        let id = self.coords.len() as u32;
        self.coords.push(p);
        self.snap.entry(q).or_insert(id);
        id
    }
}

/// Directed edges with cancellation of opposite pairs, in insertion order.
#[derive(Default)]
struct Edges {
    list: Vec<(u32, u32)>,
    alive: Vec<bool>,
    at: FxHashMap<u64, u32>,
}

impl Edges {
    /// Adds `a -> b`, or cancels it against a live `b -> a`.
    fn add(&mut self, a: u32, b: u32) {
        if a == b {
            return;
        }
        let key = |a: u32, b: u32| (u64::from(a) << 32) | u64::from(b);
        if let Some(k) = self.at.remove(&key(b, a)) {
            self.alive[k as usize] = false;
            return;
        }
        let k = self.list.len() as u32;
        // The same directed edge twice (overlapping cells) is kept once.
        if let Entry::Vacant(slot) = self.at.entry(key(a, b)) {
            slot.insert(k);
            self.list.push((a, b));
            self.alive.push(true);
        }
    }

    /// The edges that did not cancel, in insertion order.
    fn remaining(&self) -> Vec<(u32, u32)> {
        self.list
            .iter()
            .zip(&self.alive)
            .filter(|(_, &alive)| alive)
            .map(|(&e, _)| e)
            .collect()
    }
}

/// Chains directed `edges` (as many leaving as entering each vertex) into
/// simple closed rings of vertex ids (not repeating the first), starting
/// from the edges in their order: at a vertex with several unused outgoing
/// edges the sharpest left turn wins, and a walk returning to a vertex it
/// already holds has that loop cut off as a ring.
fn trace(coords: &[[f64; 2]], edges: &[(u32, u32)]) -> Vec<Vec<u32>> {
    const NONE: u32 = u32::MAX;
    let n = coords.len();
    // Outgoing edges of each vertex (CSR).
    let mut start = vec![0u32; n + 1];
    for &(a, _) in edges {
        start[a as usize + 1] += 1;
    }
    for v in 0..n {
        start[v + 1] += start[v];
    }
    let mut out = vec![0u32; edges.len()];
    let mut fill = start.clone();
    for (e, &(a, _)) in edges.iter().enumerate() {
        out[fill[a as usize] as usize] = e as u32;
        fill[a as usize] += 1;
    }
    let mut used = vec![false; edges.len()];
    let mut on_path = vec![NONE; n];
    let mut path: Vec<u32> = Vec::new();
    let mut rings = Vec::new();
    for first in 0..edges.len() {
        if used[first] {
            continue;
        }
        let (a, _) = edges[first];
        on_path[a as usize] = 0;
        path.push(a);
        let mut e = first;
        loop {
            used[e] = true;
            let (from, to) = edges[e];
            match on_path[to as usize] {
                NONE => {
                    on_path[to as usize] = path.len() as u32;
                    path.push(to);
                }
                k => {
                    // Back at a vertex of the walk: cut off the loop.
                    let k = k as usize;
                    for &v in &path[k + 1..] {
                        on_path[v as usize] = NONE;
                    }
                    rings.push(path[k..].to_vec());
                    path.truncate(k + 1);
                }
            }
            let v = to as usize;
            let candidates = out[start[v] as usize..start[v + 1] as usize]
                .iter()
                .map(|&o| o as usize)
                .filter(|&o| !used[o]);
            match sharpest_left(coords, from, to, candidates, edges) {
                Some(next) => e = next,
                None => {
                    // Only the walk's start can be left without an exit.
                    debug_assert_eq!(path.len(), 1, "unbalanced boundary edges");
                    for &v in &path {
                        on_path[v as usize] = NONE;
                    }
                    path.clear();
                    break;
                }
            }
        }
    }
    rings
}

/// Of the `candidates` edges leaving `to`, the one turning most to the left
/// coming from `from` (angles in a local equirectangular frame); ties keep
/// the first.
fn sharpest_left(
    coords: &[[f64; 2]],
    from: u32,
    to: u32,
    mut candidates: impl Iterator<Item = usize>,
    edges: &[(u32, u32)],
) -> Option<usize> {
    let first = candidates.next()?;
    let Some(second) = candidates.next() else {
        return Some(first);
    };
    let (p, q) = (coords[from as usize], coords[to as usize]);
    let k = q[1].to_radians().cos();
    let d_in = [(q[0] - p[0]) * k, q[1] - p[1]];
    let turn = |e: usize| {
        let r = coords[edges[e].1 as usize];
        let d = [(r[0] - q[0]) * k, r[1] - q[1]];
        let cross = d_in[0] * d[1] - d_in[1] * d[0];
        let dot = d_in[0] * d[0] + d_in[1] * d[1];
        cross.atan2(dot)
    };
    let mut best = (first, turn(first));
    for e in std::iter::once(second).chain(candidates) {
        let t = turn(e);
        if t > best.1 {
            best = (e, t);
        }
    }
    Some(best.0)
}

/// Twice the signed area of a ring of points (open or closed), positive when
/// counter-clockwise; relative to the first point for precision.
fn signed_area2(ring: &[[f64; 2]]) -> f64 {
    let o = ring[0];
    let mut s = 0.0;
    for k in 0..ring.len() {
        let a = ring[k];
        let b = ring[(k + 1) % ring.len()];
        s += (a[0] - o[0]) * (b[1] - o[1]) - (b[0] - o[0]) * (a[1] - o[1]);
    }
    s
}

/// Even-odd test of point `p` against an open ring.
fn in_ring(ring: &[[f64; 2]], p: [f64; 2]) -> bool {
    let mut inside = false;
    let mut j = ring.len() - 1;
    for i in 0..ring.len() {
        let (a, b) = (ring[i], ring[j]);
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
        {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Builds the MultiPolygon: counter-clockwise rings are exteriors, in their
/// order; each clockwise ring becomes a hole of the smallest exterior that
/// contains the midpoint of its first edge (a hole may share vertices with
/// its exterior, never an edge, so that midpoint is strictly inside).
fn assemble(coords: &[[f64; 2]], rings: Vec<Vec<u32>>) -> MultiPolygon<f64> {
    let rings: Vec<(Vec<[f64; 2]>, f64)> = rings
        .into_iter()
        .map(|r| {
            let pts: Vec<[f64; 2]> = r.iter().map(|&v| coords[v as usize]).collect();
            let a = signed_area2(&pts);
            (pts, a)
        })
        .collect();
    let exteriors: Vec<usize> = (0..rings.len()).filter(|&k| rings[k].1 > 0.0).collect();
    let tree = RTree::bulk_load(
        exteriors
            .iter()
            .enumerate()
            .map(|(x, &k)| {
                let (lo, hi) = bbox(&rings[k].0);
                GeomWithData::new(Rectangle::from_corners(lo, hi), x)
            })
            .collect(),
    );
    let mut holes: Vec<Vec<usize>> = vec![Vec::new(); exteriors.len()];
    for (k, (ring, area)) in rings.iter().enumerate() {
        if *area >= 0.0 {
            debug_assert!(*area > 0.0, "degenerate ring");
            continue;
        }
        let p = [
            (ring[0][0] + ring[1][0]) / 2.0,
            (ring[0][1] + ring[1][1]) / 2.0,
        ];
        let owner = tree
            .locate_all_at_point(&p)
            .map(|g| g.data)
            .filter(|&x| in_ring(&rings[exteriors[x]].0, p))
            .min_by(|&x, &y| rings[exteriors[x]].1.total_cmp(&rings[exteriors[y]].1));
        match owner {
            Some(x) => holes[x].push(k),
            None => debug_assert!(false, "hole outside every exterior"),
        }
    }
    let line = |ring: &[[f64; 2]]| {
        let mut cs: Vec<Coord<f64>> = ring.iter().map(|p| Coord { x: p[0], y: p[1] }).collect();
        cs.push(cs[0]);
        LineString(cs)
    };
    MultiPolygon(
        exteriors
            .iter()
            .zip(holes)
            .map(|(&k, hs)| {
                Polygon::new(
                    line(&rings[k].0),
                    hs.iter().map(|&h| line(&rings[h].0)).collect(),
                )
            })
            .collect(),
    )
}

/// Bounding box corners of a ring.
fn bbox(ring: &[[f64; 2]]) -> ([f64; 2], [f64; 2]) {
    ring.iter().fold(
        ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]),
        |(lo, hi), p| {
            (
                [lo[0].min(p[0]), lo[1].min(p[1])],
                [hi[0].max(p[0]), hi[1].max(p[1])],
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::Rng;
    use super::super::{components, Area};
    use super::*;
    use geo::{Area as _, Validation};

    /// About 11 x 11 cells of 1 km.
    fn squares() -> Grid {
        Grid::square(&Area::BBox([18.0, 4.0, 18.1, 4.1]), 1000.0).unwrap()
    }

    /// The square cell at (`row`, `col`) + (2, 2), away from the border.
    fn at(g: &Grid, row: usize, col: usize) -> usize {
        let key = format!("r{}c{}", row + 2, col + 2);
        g.cells.iter().position(|c| c.key == key).unwrap()
    }

    fn pts(ls: &LineString<f64>) -> Vec<[f64; 2]> {
        ls.0.iter().map(|c| [c.x, c.y]).collect()
    }

    /// Validity as geo sees it, plus what geo does not check: orientation,
    /// closure, and no vertex twice in a ring.
    fn check(mp: &MultiPolygon<f64>) {
        if let Err(e) = mp.check_validation() {
            panic!("invalid: {e}");
        }
        for poly in &mp.0 {
            for (k, ls) in std::iter::once(poly.exterior())
                .chain(poly.interiors())
                .enumerate()
            {
                let r = pts(ls);
                assert!(r.len() >= 4 && r[0] == r[r.len() - 1], "not closed");
                let open = &r[..r.len() - 1];
                let a = signed_area2(open);
                assert!(
                    if k == 0 { a > 0.0 } else { a < 0.0 },
                    "ring {k} orientation"
                );
                let mut sorted: Vec<(u64, u64)> = open
                    .iter()
                    .map(|p| (p[0].to_bits(), p[1].to_bits()))
                    .collect();
                sorted.sort_unstable();
                let n = sorted.len();
                sorted.dedup();
                assert_eq!(sorted.len(), n, "repeated vertex in ring {k}");
            }
        }
    }

    /// Area of the projected MultiPolygon, m2 (square grids: the vertices
    /// project back onto the lattice, so this is exact up to rounding).
    fn projected_area(g: &Grid, mp: &MultiPolygon<f64>) -> f64 {
        use geo::MapCoords;
        mp.map_coords(|c| {
            let [x, y] = g.project(c.x, c.y);
            Coord { x, y }
        })
        .unsigned_area()
    }

    /// Area on h3o's sphere with great-circle edges (as `CellIndex::area_m2`).
    fn sphere_area(mp: &MultiPolygon<f64>) -> f64 {
        const R: f64 = 6_371_007.180_918_475;
        let unit = |p: &[f64; 2]| {
            let (lon, lat) = (p[0].to_radians(), p[1].to_radians());
            [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
        };
        let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let cross = |a: [f64; 3], b: [f64; 3]| {
            [
                a[1] * b[2] - a[2] * b[1],
                a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0],
            ]
        };
        // Signed spherical excess of a fan from the first vertex
        // (Van Oosterom and Strackee).
        let ring = |ls: &LineString<f64>| {
            let v: Vec<[f64; 3]> = pts(ls).iter().map(unit).collect();
            (1..v.len() - 1)
                .map(|k| {
                    let (a, b, c) = (v[0], v[k], v[k + 1]);
                    let num = dot(a, cross(b, c));
                    let den = 1.0 + dot(a, b) + dot(b, c) + dot(c, a);
                    2.0 * num.atan2(den)
                })
                .sum::<f64>()
        };
        R * R
            * mp.0
                .iter()
                .map(|p| ring(p.exterior()) + p.interiors().iter().map(ring).sum::<f64>())
                .sum::<f64>()
    }

    #[test]
    fn single_cell_gives_its_own_ring() {
        let s = squares();
        let h = Grid::h3(&Area::BBox([18.4, 4.3, 18.7, 4.55]), 7).unwrap();
        for (g, i) in [(&s, at(&s, 3, 3)), (&h, 17)] {
            let mp = dissolve(g, &[i]);
            check(&mp);
            assert_eq!(mp.0.len(), 1);
            assert!(mp.0[0].interiors().is_empty());
            assert_eq!(pts(mp.0[0].exterior()), g.cells[i].ring);
            // Repeats count once.
            assert_eq!(dissolve(g, &[i, i, i]), mp);
        }
        assert!(dissolve(&s, &[]).0.is_empty());
    }

    #[test]
    fn l_shape_of_three_squares() {
        let g = squares();
        let cells = [at(&g, 0, 0), at(&g, 0, 1), at(&g, 1, 0)];
        let mp = dissolve(&g, &cells);
        check(&mp);
        assert_eq!(mp.0.len(), 1);
        assert!(mp.0[0].interiors().is_empty());
        let area = projected_area(&g, &mp);
        let want: f64 = cells.iter().map(|&i| g.cell_area_m2(i)).sum();
        assert!((area / want - 1.0).abs() < 1e-9, "{area} {want}");
        // 8 cell sides of boundary, 4 points each (lattice corners kept).
        assert_eq!(mp.0[0].exterior().0.len(), 8 * SIDE + 1);
        // The shared edges' inner points are gone: the point in the middle
        // of the side between (0, 0) and (0, 1) is no vertex.
        let mid = g.cells[cells[0]].ring[SIDE + SIDE / 2];
        assert!(!pts(mp.0[0].exterior()).contains(&mid));
    }

    #[test]
    fn block_with_centre_missing_has_one_hole() {
        let g = squares();
        let mut cells = Vec::new();
        for r in 0..3 {
            for c in 0..3 {
                if (r, c) != (1, 1) {
                    cells.push(at(&g, r, c));
                }
            }
        }
        let mp = dissolve(&g, &cells);
        check(&mp);
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(mp.0[0].exterior().0.len(), 12 * SIDE + 1);
        // The hole is the missing cell's ring, clockwise.
        let mut hole = pts(&mp.0[0].interiors()[0]);
        hole.pop();
        let centre = &g.cells[at(&g, 1, 1)].ring;
        assert_eq!(hole.len(), centre.len() - 1);
        assert!(hole.iter().all(|p| centre.contains(p)));
        let area = projected_area(&g, &mp);
        assert!((area / 8e6 - 1.0).abs() < 1e-9, "{area}");
    }

    #[test]
    fn diagonal_cells_make_two_polygons() {
        let g = squares();
        let (a, b) = (at(&g, 0, 0), at(&g, 1, 1));
        let mut sel = vec![false; g.len()];
        sel[a] = true;
        sel[b] = true;
        assert_eq!(components(&g, &sel), vec![vec![a], vec![b]]);
        let mp = dissolve(&g, &[b, a]);
        check(&mp);
        assert_eq!(mp.0.len(), 2);
        assert_eq!(pts(mp.0[0].exterior()), g.cells[a].ring);
        assert_eq!(pts(mp.0[1].exterior()), g.cells[b].ring);
        // The other diagonal too.
        let (c, d) = (at(&g, 0, 1), at(&g, 1, 0));
        let mp = dissolve(&g, &[c, d]);
        check(&mp);
        assert_eq!(mp.0.len(), 2);
    }

    #[test]
    fn hole_touching_the_exterior_at_a_corner() {
        // A 3 x 3 block without its centre and its north-east corner: the
        // hole meets the outside at one point, where (1, 2) and (2, 1)
        // touch diagonally.
        let g = squares();
        let mut cells = Vec::new();
        for r in 0..3 {
            for c in 0..3 {
                if (r, c) != (1, 1) && (r, c) != (2, 2) {
                    cells.push(at(&g, r, c));
                }
            }
        }
        let mp = dissolve(&g, &cells);
        check(&mp);
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1);
        let ext = pts(mp.0[0].exterior());
        let hole = pts(&mp.0[0].interiors()[0]);
        let shared: Vec<_> = hole[1..].iter().filter(|p| ext.contains(p)).collect();
        assert_eq!(shared.len(), 1);
        let area = projected_area(&g, &mp);
        assert!((area / 7e6 - 1.0).abs() < 1e-9, "{area}");
        // As one self-touching ring ("inverted hole") it would be invalid,
        // and the check above would catch it.
        let mut inverted = ext.clone();
        let k = ext.iter().position(|p| p == shared[0]).unwrap();
        let h = hole.iter().position(|p| p == shared[0]).unwrap();
        inverted.splice(
            k..k,
            hole[h..hole.len() - 1].iter().chain(&hole[..h]).copied(),
        );
        let bad = Polygon::new(
            LineString(
                inverted
                    .iter()
                    .map(|p| Coord { x: p[0], y: p[1] })
                    .collect(),
            ),
            vec![],
        );
        assert!(!bad.is_valid());
    }

    #[test]
    fn h3_cell_and_its_six_neighbours() {
        let g = Grid::h3(&Area::BBox([18.4, 4.3, 18.7, 4.55]), 7).unwrap();
        let centre = g.locate(18.55, 4.42).unwrap();
        let mut cells = g.edge_neighbours(centre);
        assert_eq!(cells.len(), 6);
        let ring_only = cells.clone();
        cells.push(centre);
        let mp = dissolve(&g, &cells);
        check(&mp);
        assert_eq!(mp.0.len(), 1);
        assert!(mp.0[0].interiors().is_empty());
        // The outline of 7 hexagons has 18 corners.
        assert_eq!(mp.0[0].exterior().0.len(), 18 + 1);
        let want: f64 = cells.iter().map(|&i| g.cell_area_m2(i)).sum();
        let area = sphere_area(&mp);
        assert!((area / want - 1.0).abs() < 1e-6, "{area} {want}");
        // Without the centre: one hole, the centre cell.
        let mp = dissolve(&g, &ring_only);
        check(&mp);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(mp.0[0].interiors()[0].0.len(), 7);
        let area = sphere_area(&mp);
        let want = want - g.cell_area_m2(centre);
        assert!((area / want - 1.0).abs() < 1e-6, "{area} {want}");
    }

    /// Random selections: valid, one polygon per edge-connected component,
    /// the right area, and exactly the boundary's ring points as vertices.
    #[test]
    fn random_square_selections() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.2, 4.2]), 1000.0).unwrap();
        let mut rng = Rng::new(99);
        for round in 0..30 {
            let p = [0.3, 0.5, 0.6, 0.7, 0.9][round % 5];
            let sel: Vec<bool> = (0..g.len()).map(|_| rng.uniform() < p).collect();
            let cells: Vec<usize> = (0..g.len()).filter(|&i| sel[i]).collect();
            let mp = dissolve(&g, &cells);
            check(&mp);
            let comps = components(&g, &sel);
            assert_eq!(mp.0.len(), comps.len(), "round {round}");
            let area = projected_area(&g, &mp);
            let want = cells.len() as f64 * 1e6;
            assert!((area / want - 1.0).abs() < 1e-9, "{area} {want}");
            // Boundary sides: cell sides with no selected cell across.
            let sides: usize = cells
                .iter()
                .map(|&i| 4 - g.edge_neighbours(i).iter().filter(|&&j| sel[j]).count())
                .sum();
            let vertices: usize =
                mp.0.iter()
                    .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                    .map(|ls| ls.0.len() - 1)
                    .sum();
            assert_eq!(vertices, SIDE * sides);
            // Component by component: one polygon each, same total.
            let parts: f64 = comps
                .iter()
                .map(|c| {
                    let mp = dissolve(&g, c);
                    assert_eq!(mp.0.len(), 1);
                    projected_area(&g, &mp)
                })
                .sum();
            assert!((parts / area - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn random_h3_selections() {
        let g = Grid::h3(&Area::BBox([18.4, 4.3, 18.7, 4.55]), 8).unwrap();
        let mut rng = Rng::new(5);
        for round in 0..20 {
            let p = [0.3, 0.5, 0.7, 0.9][round % 4];
            let sel: Vec<bool> = (0..g.len()).map(|_| rng.uniform() < p).collect();
            let cells: Vec<usize> = (0..g.len()).filter(|&i| sel[i]).collect();
            let mp = dissolve(&g, &cells);
            check(&mp);
            assert_eq!(mp.0.len(), components(&g, &sel).len());
            let want: f64 = cells.iter().map(|&i| g.cell_area_m2(i)).sum();
            let area = sphere_area(&mp);
            assert!((area / want - 1.0).abs() < 1e-9, "{area} {want}");
            // Every vertex is a real corner: the boundary turns there.
            for ls in
                mp.0.iter()
                    .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            {
                let r = pts(ls);
                let n = r.len() - 1;
                for k in 0..n {
                    let (a, b, c) = (r[(k + n - 1) % n], r[k], r[k + 1]);
                    let (u, v) = ([b[0] - a[0], b[1] - a[1]], [c[0] - b[0], c[1] - b[1]]);
                    let sin = (u[0] * v[1] - u[1] * v[0]) / (u[0].hypot(u[1]) * v[0].hypot(v[1]));
                    assert!(sin.abs() > 0.5, "{sin} at {b:?}");
                }
            }
        }
    }

    /// Near an icosahedron edge, odd-resolution cells carry extra
    /// distortion vertices; neighbours must still share them.
    #[test]
    fn h3_across_an_icosahedron_edge() {
        let distorted = |c: &h3o::CellIndex| {
            let ll = h3o::LatLng::from(*c);
            !c.is_pentagon()
                && c.boundary().len() > 6
                && ll.lng().abs() < 150.0
                && ll.lat().abs() < 60.0
        };
        let crossing = h3o::CellIndex::base_cells()
            .flat_map(|c| c.children(h3o::Resolution::One))
            .filter(distorted)
            .flat_map(|c| c.children(h3o::Resolution::Five))
            .find(distorted)
            .unwrap();
        let ll = h3o::LatLng::from(crossing);
        let (lon, lat) = (ll.lng(), ll.lat());
        let g = Grid::h3(&Area::BBox([lon - 1.0, lat - 1.0, lon + 1.0, lat + 1.0]), 5).unwrap();
        let distorted = g.cells.iter().filter(|c| c.ring.len() > 7).count();
        assert!(distorted > 5, "{distorted}");
        let all: Vec<usize> = (0..g.len()).collect();
        let mp = dissolve(&g, &all);
        check(&mp);
        assert_eq!(mp.0.len(), 1);
        assert!(mp.0[0].interiors().is_empty());
        let want: f64 = all.iter().map(|&i| g.cell_area_m2(i)).sum();
        let area = sphere_area(&mp);
        assert!((area / want - 1.0).abs() < 1e-9, "{area} {want}");
        // Shared vertices agree far below the snapping step.
        let mut worst: f64 = 0.0;
        for i in 0..g.len() {
            for j in g.edge_neighbours(i) {
                let mut shared = 0;
                for p in &g.cells[i].ring[1..] {
                    for q in &g.cells[j].ring[1..] {
                        let d = (p[0] - q[0]).abs().max((p[1] - q[1]).abs());
                        if d < 1e-6 {
                            shared += 1;
                            worst = worst.max(d);
                        }
                    }
                }
                assert!(shared >= 2, "{i} {j}: {shared}");
            }
        }
        println!("{} cells, {distorted} with distortion vertices; shared vertices differ by {worst:e} degrees at most", g.len());
        assert!(worst < SNAP / 100.0, "{worst}");
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_panics() {
        let g = squares();
        dissolve(&g, &[0, g.len()]);
    }
}
