//! FlatGeobuf's spatial index: a packed Hilbert R-tree. The features are
//! sorted by the Hilbert value of their bounding box's centre (descending,
//! as GDAL and the reference writers sort), the leaves are their boxes in
//! that order, and each level above packs `node_size` nodes of the one
//! below; the root comes first in the file, the leaves last. A leaf's
//! offset is its feature's byte offset in the features section, an inner
//! node's the index of its first child.

/// The largest Hilbert coordinate (16 bits per axis).
const HILBERT_MAX: f64 = ((1u32 << 16) - 1) as f64;

/// A node: its box and offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Node {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
    pub offset: u64,
}

impl Node {
    fn empty(offset: u64) -> Node {
        Node {
            min_x: f64::INFINITY,
            min_y: f64::INFINITY,
            max_x: f64::NEG_INFINITY,
            max_y: f64::NEG_INFINITY,
            offset,
        }
    }

    fn expand(&mut self, o: &Node) {
        self.min_x = self.min_x.min(o.min_x);
        self.min_y = self.min_y.min(o.min_y);
        self.max_x = self.max_x.max(o.max_x);
        self.max_y = self.max_y.max(o.max_y);
    }

    /// The node's 40 bytes as written.
    pub fn bytes(&self) -> [u8; 40] {
        let mut b = [0u8; 40];
        for (i, v) in [self.min_x, self.min_y, self.max_x, self.max_y]
            .iter()
            .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b[32..].copy_from_slice(&self.offset.to_le_bytes());
        b
    }
}

/// The Hilbert curve index of (x, y), each in 0..65536 (the reference
/// implementation's bit-parallel form).
fn hilbert(x: u32, y: u32) -> u32 {
    let mut a = x ^ y;
    let mut b = 0xFFFF ^ a;
    let mut c = 0xFFFF ^ (x | y);
    let mut d = x & (y ^ 0xFFFF);
    let mut aa = a | (b >> 1);
    let mut bb = (a >> 1) ^ a;
    let mut cc = ((c >> 1) ^ (b & (d >> 1))) ^ c;
    let mut dd = ((a & (c >> 1)) ^ (d >> 1)) ^ d;
    a = aa;
    b = bb;
    c = cc;
    d = dd;
    aa = (a & (a >> 2)) ^ (b & (b >> 2));
    bb = (a & (b >> 2)) ^ (b & ((a ^ b) >> 2));
    cc ^= (a & (c >> 2)) ^ (b & (d >> 2));
    dd ^= (b & (c >> 2)) ^ ((a ^ b) & (d >> 2));
    a = aa;
    b = bb;
    c = cc;
    d = dd;
    aa = (a & (a >> 4)) ^ (b & (b >> 4));
    bb = (a & (b >> 4)) ^ (b & ((a ^ b) >> 4));
    cc ^= (a & (c >> 4)) ^ (b & (d >> 4));
    dd ^= (b & (c >> 4)) ^ ((a ^ b) & (d >> 4));
    a = aa;
    b = bb;
    c = cc;
    d = dd;
    cc ^= (a & (c >> 8)) ^ (b & (d >> 8));
    dd ^= (b & (c >> 8)) ^ ((a ^ b) & (d >> 8));
    a = cc ^ (cc >> 1);
    b = dd ^ (dd >> 1);
    let mut i0 = x ^ y;
    let mut i1 = b | (0xFFFF ^ (i0 | a));
    i0 = (i0 | (i0 << 8)) & 0x00FF_00FF;
    i0 = (i0 | (i0 << 4)) & 0x0F0F_0F0F;
    i0 = (i0 | (i0 << 2)) & 0x3333_3333;
    i0 = (i0 | (i0 << 1)) & 0x5555_5555;
    i1 = (i1 | (i1 << 8)) & 0x00FF_00FF;
    i1 = (i1 | (i1 << 4)) & 0x0F0F_0F0F;
    i1 = (i1 | (i1 << 2)) & 0x3333_3333;
    i1 = (i1 | (i1 << 1)) & 0x5555_5555;
    (i1 << 1) | i0
}

/// The Hilbert value of a box's centre within `extent` ([min x, min y,
/// max x, max y]).
pub(super) fn hilbert_of(b: &[f64; 4], extent: &[f64; 4]) -> u32 {
    let w = extent[2] - extent[0];
    let h = extent[3] - extent[1];
    // A degenerate extent (one point) maps to 0, as the reference does
    // (NaN casts to 0).
    let x = (HILBERT_MAX * ((b[0] + b[2]) / 2.0 - extent[0]) / w).floor() as u32;
    let y = (HILBERT_MAX * ((b[1] + b[3]) / 2.0 - extent[1]) / h).floor() as u32;
    hilbert(x, y)
}

/// The (start, end) of each level in the node array, leaves first.
fn level_bounds(items: usize, node_size: usize) -> Vec<(usize, usize)> {
    let mut n = items;
    let mut counts = vec![n];
    let mut total = n;
    loop {
        n = n.div_ceil(node_size);
        total += n;
        counts.push(n);
        if n == 1 {
            break;
        }
    }
    let mut out = Vec::with_capacity(counts.len());
    let mut end = total;
    for c in counts {
        out.push((end - c, end));
        end -= c;
    }
    out
}

/// The whole tree over `leaves` (in feature order, at least one), root
/// first.
pub(super) fn build(leaves: &[Node], node_size: u16) -> Vec<Node> {
    let node_size = usize::from(node_size.max(2));
    let levels = level_bounds(leaves.len(), node_size);
    let total = levels[0].1;
    let mut nodes = vec![Node::empty(0); total];
    nodes[levels[0].0..].copy_from_slice(leaves);
    for w in levels.windows(2) {
        let ((mut pos, end), (mut up, _)) = (w[0], w[1]);
        while pos < end {
            let mut node = Node::empty(pos as u64);
            for child in &nodes[pos..end.min(pos + node_size)] {
                node.expand(child);
            }
            pos = end.min(pos + node_size);
            nodes[up] = node;
            up += 1;
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(x: f64, y: f64, offset: u64) -> Node {
        Node {
            min_x: x,
            min_y: y,
            max_x: x,
            max_y: y,
            offset,
        }
    }

    #[test]
    fn the_tree_packs_levels_root_first() {
        let leaves: Vec<Node> = (0..20).map(|i| leaf(i as f64, 0.0, i * 10)).collect();
        let t = build(&leaves, 16);
        // 20 leaves, 2 nodes above them, one root.
        assert_eq!(t.len(), 23);
        assert_eq!((t[0].min_x, t[0].max_x, t[0].offset), (0.0, 19.0, 1));
        assert_eq!((t[1].min_x, t[1].max_x, t[1].offset), (0.0, 15.0, 3));
        assert_eq!((t[2].min_x, t[2].max_x, t[2].offset), (16.0, 19.0, 19));
        assert_eq!(t[3..], leaves[..]);
        let one = build(&[leaf(1.0, 2.0, 0)], 16);
        assert_eq!(one.len(), 2);
        assert_eq!((one[0].min_y, one[0].offset), (2.0, 1));
    }

    #[test]
    fn hilbert_values_walk_the_curve_from_the_corner() {
        // The first 4^k values fill the 2^k square at the origin, and each
        // step moves to an edge neighbour: the curve, not merely an order.
        let mut cells: Vec<(u32, u32, u32)> = (0..64u32)
            .flat_map(|x| (0..64u32).map(move |y| (hilbert(x, y), x, y)))
            .collect();
        cells.sort_unstable();
        for (i, w) in cells.windows(2).enumerate() {
            assert_eq!(w[0].0, i as u32);
            let step = w[0].1.abs_diff(w[1].1) + w[0].2.abs_diff(w[1].2);
            assert_eq!(step, 1, "{w:?}");
        }
        assert_eq!(cells.last().map(|c| c.0), Some(4095));
    }
}
