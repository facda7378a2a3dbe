//! Edge-connected components of a selection of cells.
//!
//! Two selected cells are connected when a chain of selected cells leads
//! from one to the other, each sharing an edge with the next
//! ([`Grid::edge_neighbours`]): square cells touching only at a corner are
//! *not* connected. The search is a depth-first flood fill from each
//! selected cell not yet reached, in ascending index order, so the result
//! depends on nothing but the grid and the selection.

use super::Grid;

/// Edge-connected components of the selected cells (`selected.len() == grid.len()`), each as
/// ascending cell indices; components ordered by their smallest index. Deterministic.
///
/// # Panics
/// If `selected.len() != grid.len()`.
pub fn components(grid: &Grid, selected: &[bool]) -> Vec<Vec<usize>> {
    assert_eq!(
        selected.len(),
        grid.len(),
        "selection of {} cells for a grid of {}",
        selected.len(),
        grid.len()
    );
    let mut seen = vec![false; grid.len()];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    for start in 0..grid.len() {
        if !selected[start] || seen[start] {
            continue;
        }
        // `start` is the smallest index of its component: every smaller
        // selected cell has been reached already.
        let mut component = vec![start];
        seen[start] = true;
        stack.push(start);
        while let Some(i) = stack.pop() {
            grid.for_each_edge_neighbour(i, |j| {
                if selected[j] && !seen[j] {
                    seen[j] = true;
                    component.push(j);
                    stack.push(j);
                }
            });
        }
        component.sort_unstable();
        out.push(component);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Area;
    use super::*;

    fn select(g: &Grid, keep: impl Fn(usize) -> bool) -> Vec<bool> {
        (0..g.len()).map(keep).collect()
    }

    /// (row, col) of a square cell from its key `r{row}c{col}`.
    fn row_col(g: &Grid, i: usize) -> (usize, usize) {
        let k = &g.cells[i].key[1..];
        let (r, c) = k.split_once('c').unwrap();
        (r.parse().unwrap(), c.parse().unwrap())
    }

    #[test]
    fn checkerboard_is_all_singletons() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.1, 4.1]), 1000.0).unwrap();
        let sel = select(&g, |i| {
            let (r, c) = row_col(&g, i);
            (r + c) % 2 == 0
        });
        let comps = components(&g, &sel);
        let n = sel.iter().filter(|&&s| s).count();
        assert!(n > 40);
        assert_eq!(comps.len(), n);
        let firsts: Vec<usize> = comps.iter().map(|c| c[0]).collect();
        assert!(comps.iter().all(|c| c.len() == 1));
        assert!(firsts.windows(2).all(|w| w[0] < w[1]));
        // The complement is a checkerboard too.
        let inv: Vec<bool> = sel.iter().map(|s| !s).collect();
        assert_eq!(components(&g, &inv).len(), g.len() - n);
    }

    #[test]
    fn h3_stripes_and_checkerboard() {
        // Select cells by the parity of their (i, j) local coordinates along
        // one axis: stripes one cell wide, each its own component.
        let g = Grid::h3(&Area::BBox([18.4, 4.3, 18.7, 4.55]), 7).unwrap();
        let origin =
            h3o::CellIndex::try_from(u64::from_str_radix(&g.cells[0].key, 16).unwrap()).unwrap();
        let local = |i: usize| {
            let c = h3o::CellIndex::try_from(u64::from_str_radix(&g.cells[i].key, 16).unwrap())
                .unwrap();
            c.to_local_ij(origin).unwrap()
        };
        let sel = select(&g, |i| local(i).coord.i.rem_euclid(2) == 0);
        let comps = components(&g, &sel);
        // Every component is a stripe: constant i, and no two components
        // are edge neighbours of each other.
        let mut owner = vec![usize::MAX; g.len()];
        for (k, c) in comps.iter().enumerate() {
            let i0 = local(c[0]).coord.i;
            assert!(c.iter().all(|&j| local(j).coord.i == i0));
            c.iter().for_each(|&j| owner[j] = k);
        }
        for i in (0..g.len()).filter(|&i| sel[i]) {
            for j in g.edge_neighbours(i) {
                assert!(!sel[j] || owner[j] == owner[i]);
            }
        }
        assert!(comps.len() > 5, "{}", comps.len());
        // The full selection is one component (the grid is connected).
        assert_eq!(components(&g, &vec![true; g.len()]).len(), 1);
        // The hexagonal checkerboard: colour (i + j) mod 3 differs between
        // any two neighbours, so one colour class is all singletons.
        for colour in 0..3 {
            let sel = select(&g, |i| {
                let ij = local(i).coord;
                (ij.i + ij.j).rem_euclid(3) == colour
            });
            let n = sel.iter().filter(|&&s| s).count();
            assert!(n > g.len() / 4, "{n}");
            let comps = components(&g, &sel);
            assert_eq!(comps.len(), n);
            assert!(comps.windows(2).all(|w| w[0][0] < w[1][0]));
        }
    }

    #[test]
    fn diagonal_cells_are_two_components_and_order_is_stable() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.1, 4.1]), 1000.0).unwrap();
        let find = |k: &str| g.cells.iter().position(|c| c.key == k).unwrap();
        let (a, b, c, d) = (find("r2c2"), find("r3c3"), find("r3c2"), find("r6c6"));
        let mut sel = vec![false; g.len()];
        sel[a] = true;
        sel[b] = true;
        sel[d] = true;
        assert_eq!(components(&g, &sel), vec![vec![a], vec![b], vec![d]]);
        // Joined through an edge neighbour of both.
        sel[c] = true;
        let mut abc = vec![a, b, c];
        abc.sort_unstable();
        assert_eq!(components(&g, &sel), vec![abc, vec![d]]);
        assert!(components(&g, &vec![false; g.len()]).is_empty());
    }

    #[test]
    #[should_panic(expected = "selection of")]
    fn wrong_length_panics() {
        let g = Grid::square(&Area::BBox([18.0, 4.0, 18.05, 4.05]), 1000.0).unwrap();
        components(&g, &[true]);
    }
}
