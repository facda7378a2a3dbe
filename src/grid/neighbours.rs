//! Edge adjacency of grid cells: the cells that share a side with a cell.
//!
//! Square cells have up to four edge neighbours (south, west, east, north;
//! cells touching only at a corner are *not* neighbours), found by lattice
//! arithmetic. H3 cells have up to six (five for a pentagon), found with
//! h3o's directed edges. Either way only cells of the grid count: a cell on
//! the grid's border has fewer.
//!
//! [`Grid::disk_neighbours`] widens this to every cell within `k` steps:
//! H3's `grid_disk(k)` (ring 1 is the edge neighbours), and on square grids
//! the `(2k + 1)^2` block around the cell (queen contiguity of order `k`).

use super::{Grid, Lookup};

impl Grid {
    /// Cells sharing an edge with cell `i`: up to 4 for square grids (N, S, E, W: never diagonals),
    /// up to 6 for H3; only cells that are in this grid; ascending indices.
    ///
    /// # Panics
    /// If `i` is not a cell index.
    pub fn edge_neighbours(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(6);
        self.for_each_edge_neighbour(i, |j| out.push(j));
        out.sort_unstable();
        out
    }

    /// Cells within `k` grid steps of cell `i`, itself excluded: H3's
    /// `grid_disk(k)` (6 cells for `k = 1`, 5 next to a pentagon), or the
    /// `(2k + 1)^2 - 1` cells of the block around a square cell (queen);
    /// only cells that are in this grid; ascending indices.
    ///
    /// # Panics
    /// If `i` is not a cell index.
    pub fn disk_neighbours(&self, i: usize, k: u32) -> Vec<usize> {
        assert!(i < self.cells.len(), "cell index {i} out of range");
        let mut out = Vec::new();
        match &self.lookup {
            Lookup::Square(l) => {
                let (row, col) = l.row_col(i);
                let k = k as usize;
                for r in row.saturating_sub(k)..=row + k {
                    for c in col.saturating_sub(k)..=col + k {
                        if let Some(j) = l.cell_at(r, c).filter(|&j| j != i) {
                            out.push(j);
                        }
                    }
                }
            }
            Lookup::H3(l) => {
                let disk: Vec<h3o::CellIndex> = l.cell(i).grid_disk(k);
                out.extend(
                    disk.into_iter()
                        .filter_map(|c| l.index_of(c))
                        .filter(|&j| j != i),
                );
            }
        }
        out.sort_unstable();
        out
    }

    /// Calls `f(j)` for every edge neighbour `j` of cell `i`, in no
    /// particular order and without allocating.
    ///
    /// # Panics
    /// If `i` is not a cell index.
    pub(super) fn for_each_edge_neighbour(&self, i: usize, mut f: impl FnMut(usize)) {
        assert!(i < self.cells.len(), "cell index {i} out of range");
        match &self.lookup {
            Lookup::Square(l) => {
                let (row, col) = l.row_col(i);
                // South, west, east, north: ascending, as cells are row-major.
                let south = row.checked_sub(1).and_then(|r| l.cell_at(r, col));
                let west = col.checked_sub(1).and_then(|c| l.cell_at(row, c));
                let east = l.cell_at(row, col + 1);
                let north = l.cell_at(row + 1, col);
                [south, west, east, north].into_iter().flatten().for_each(f);
            }
            Lookup::H3(l) => {
                for edge in l.cell(i).edges() {
                    if let Some(j) = l.index_of(edge.destination()) {
                        f(j);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Area;
    use super::*;

    fn symmetric(g: &Grid) {
        for i in 0..g.len() {
            let n = g.edge_neighbours(i);
            assert!(n.windows(2).all(|w| w[0] < w[1]), "{n:?} not ascending");
            assert!(!n.contains(&i));
            for &j in &n {
                assert!(g.edge_neighbours(j).contains(&i), "{i} -> {j} only");
            }
        }
    }

    #[test]
    fn square_neighbours_are_the_four_sides() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.1, 4.1]), 1000.0).unwrap();
        symmetric(&g);
        let key = |i: usize| g.cells[i].key.clone();
        let find = |k: &str| g.cells.iter().position(|c| c.key == k).unwrap();
        let i = find("r3c4");
        let keys: Vec<String> = g.edge_neighbours(i).into_iter().map(key).collect();
        assert_eq!(keys, ["r2c4", "r3c3", "r3c5", "r4c4"]);
        // The south-west corner cell has only its east and north neighbours.
        let keys: Vec<String> = g.edge_neighbours(0).into_iter().map(key).collect();
        assert_eq!(keys, ["r0c1", "r1c0"]);
        // Neighbours share a whole side: two ring points in common, no more.
        for j in g.edge_neighbours(i) {
            let shared = g.cells[i]
                .ring
                .iter()
                .filter(|p| g.cells[j].ring.contains(p))
                .count();
            // The first ring point is repeated at the end.
            assert!((5..=6).contains(&shared), "{shared}");
        }
    }

    #[test]
    fn square_neighbours_skip_missing_cells() {
        // An L-shaped area: cells of the notch are not in the grid.
        use geo_types::{MultiPolygon, Polygon};
        let outer = super::super::tests::ring(&[
            (18.0, 4.0),
            (18.2, 4.0),
            (18.2, 4.1),
            (18.1, 4.1),
            (18.1, 4.2),
            (18.0, 4.2),
            (18.0, 4.0),
        ]);
        let area = Area::Polygon(MultiPolygon(vec![Polygon::new(outer, vec![])]));
        let g = Grid::square(&area, 2000.0).unwrap();
        symmetric(&g);
        let total: usize = (0..g.len()).map(|i| g.edge_neighbours(i).len()).sum();
        let interior = (0..g.len())
            .filter(|&i| g.edge_neighbours(i).len() == 4)
            .count();
        assert!(interior > 0 && interior < g.len());
        assert!(total < 4 * g.len());
    }

    #[test]
    fn h3_neighbours_are_six_and_symmetric() {
        let g = Grid::h3(&Area::BBox([18.4, 4.3, 18.7, 4.55]), 7).unwrap();
        symmetric(&g);
        let six = (0..g.len())
            .filter(|&i| g.edge_neighbours(i).len() == 6)
            .count();
        assert!(six > g.len() / 2, "{six} of {}", g.len());
        assert!((0..g.len()).all(|i| g.edge_neighbours(i).len() <= 6));
        // Neighbours are exactly the grid's cells at grid distance 1.
        let Lookup::H3(l) = &g.lookup else {
            unreachable!()
        };
        for i in 0..g.len() {
            let mut ring: Vec<usize> = l
                .cell(i)
                .grid_disk::<Vec<_>>(1)
                .into_iter()
                .filter_map(|c| l.index_of(c))
                .filter(|&j| j != i)
                .collect();
            ring.sort_unstable();
            assert_eq!(g.edge_neighbours(i), ring);
        }
    }

    #[test]
    fn h3_pentagon_has_five() {
        // Base cell 4 is a pentagon; its centre at resolution 2 is one too.
        let p = h3o::CellIndex::base_cells()
            .find(|c| c.is_pentagon())
            .unwrap()
            .center_child(h3o::Resolution::Two)
            .unwrap();
        let ll = h3o::LatLng::from(p);
        let (lon, lat) = (ll.lng(), ll.lat());
        let g = Grid::h3(&Area::BBox([lon - 8.0, lat - 8.0, lon + 8.0, lat + 8.0]), 2).unwrap();
        symmetric(&g);
        let i = g.locate(lon, lat).unwrap();
        assert_eq!(g.edge_neighbours(i).len(), 5);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_panics() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.05, 4.05]), 1000.0).unwrap();
        g.edge_neighbours(g.len());
    }
}
