//! In-memory R-tree over one layer's feature envelopes (rstar 0.12).

use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

type Entry = GeomWithData<Rectangle<[f64; 2]>, i64>;

/// Spatial index of one layer: feature envelopes to store row ids (`fid`).
#[derive(Debug, Default)]
pub struct LayerIndex {
    tree: RTree<Entry>,
}

impl LayerIndex {
    /// Bulk-loads the index from `(fid, [min_x, min_y, max_x, max_y])` pairs.
    pub fn build(items: Vec<(i64, [f64; 4])>) -> Self {
        let entries = items
            .into_iter()
            .map(|(fid, b)| {
                GeomWithData::new(Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]), fid)
            })
            .collect();
        LayerIndex {
            tree: RTree::bulk_load(entries),
        }
    }

    /// Number of indexed features.
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    /// Envelope of everything indexed, `[min_x, min_y, max_x, max_y]`.
    pub fn bbox(&self) -> Option<[f64; 4]> {
        if self.is_empty() {
            return None;
        }
        let e = self.tree.root().envelope();
        let (lo, hi) = (e.lower(), e.upper());
        Some([lo[0], lo[1], hi[0], hi[1]])
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// Row ids of features whose envelope intersects the bbox, sorted.
    /// A bbox with `min_x > max_x` crosses the antimeridian and is split in two.
    pub fn intersecting(&self, b: [f64; 4]) -> Vec<i64> {
        let boxes = if b[0] > b[2] {
            vec![[b[0], b[1], 180.0, b[3]], [-180.0, b[1], b[2], b[3]]]
        } else {
            vec![b]
        };
        let mut out: Vec<i64> = boxes
            .iter()
            .flat_map(|b| {
                self.tree
                    .locate_in_envelope_intersecting(&AABB::from_corners(
                        [b[0], b[1]],
                        [b[2], b[3]],
                    ))
                    .map(|e| e.data)
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_splits_at_antimeridian() {
        let idx = LayerIndex::build(vec![
            (1, [179.5, 0.0, 179.5, 0.0]),
            (2, [-179.5, 0.0, -179.5, 0.0]),
            (3, [0.0, 0.0, 0.0, 0.0]),
            (4, [-1.0, -1.0, 1.0, 1.0]),
        ]);
        assert_eq!(idx.intersecting([170.0, -1.0, -170.0, 1.0]), vec![1, 2]);
        assert_eq!(idx.intersecting([-0.5, -0.5, 0.5, 0.5]), vec![3, 4]);
        assert_eq!(idx.len(), 4);
    }
}
