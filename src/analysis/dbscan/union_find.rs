//! A lock-free union-find for DBSCAN's parallel linking pass.

use std::sync::atomic::{AtomicU32, Ordering};

/// Concurrent union-find on u32 indices. Links always point from a larger root
/// to a smaller one, so parents only ever decrease and the sets do not depend
/// on the order of the unions.
pub(super) struct UnionFind {
    parent: Vec<AtomicU32>,
}

impl UnionFind {
    pub(super) fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).map(AtomicU32::new).collect(),
        }
    }

    pub(super) fn find(&self, mut x: u32) -> u32 {
        loop {
            let p = self.parent[x as usize].load(Ordering::Acquire);
            if p == x {
                return x;
            }
            let g = self.parent[p as usize].load(Ordering::Acquire);
            if g != p {
                // Path halving; losing the race only leaves a longer path.
                let _ = self.parent[x as usize].compare_exchange_weak(
                    p,
                    g,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
            x = g;
        }
    }

    pub(super) fn union(&self, a: u32, b: u32) {
        let (mut a, mut b) = (a, b);
        loop {
            a = self.find(a);
            b = self.find(b);
            if a == b {
                return;
            }
            let (hi, lo) = if a > b { (a, b) } else { (b, a) };
            // Only a root is linked; if `hi` stopped being one meanwhile, retry.
            if self.parent[hi as usize]
                .compare_exchange(hi, lo, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
            a = hi;
            b = lo;
        }
    }
}
