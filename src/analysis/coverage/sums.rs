//! Fixed-point sums across patrols: integers, so their totals do not depend
//! on the order they are made in (nor on the thread count).

use rayon::prelude::*;
use std::sync::{Mutex, PoisonError, TryLockError};

/// Fixed-point units per second of patrol time (microseconds).
pub(super) const PER_SECOND: f64 = 1e6;
/// Fixed-point units per metre of track (micrometres).
pub(super) const PER_METRE: f64 = 1e6;
/// Fixed-point units of a recency weight of 1.
pub(super) const PER_WEIGHT: f64 = 4_294_967_296.0; // 2^32

/// One cell's fixed-point sums over patrols.
#[derive(Debug, Clone, Copy)]
pub(super) struct CellSums {
    pub(super) visits: u32,
    pub(super) last: i64,
    pub(super) score: u64,
    pub(super) secs: [u64; 4],
    pub(super) metres: [u64; 4],
}

impl Default for CellSums {
    fn default() -> Self {
        CellSums {
            visits: 0,
            last: i64::MIN,
            score: 0,
            secs: [0; 4],
            metres: [0; 4],
        }
    }
}

impl CellSums {
    fn merge(&mut self, o: &CellSums) {
        self.visits += o.visits;
        self.last = self.last.max(o.last);
        self.score += o.score;
        for m in 0..4 {
            self.secs[m] += o.secs[m];
            self.metres[m] += o.metres[m];
        }
    }
}

/// The most per-cell accumulators patrols are summed into at once.
const MAX_ACCUMULATORS: usize = 8;

/// A few whole-grid accumulators that workers add finished patrols to, each
/// taking whichever is free (preferably its own). The sums are integers, so
/// which patrol went into which accumulator, and in what order, does not
/// matter: the totals are always the same.
pub(super) struct SumPool {
    cells: usize,
    accs: Vec<Mutex<Vec<CellSums>>>,
}

impl SumPool {
    pub(super) fn new(cells: usize) -> SumPool {
        let k = rayon::current_num_threads().clamp(1, MAX_ACCUMULATORS);
        SumPool {
            cells,
            accs: (0..k).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Runs `f` on a free accumulator (allocated on first use).
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut [CellSums]) -> R) -> R {
        let k = self.accs.len();
        let start = rayon::current_thread_index().unwrap_or(0) % k;
        let mut guard = None;
        for i in 0..k {
            match self.accs[(start + i) % k].try_lock() {
                Ok(g) => guard = Some(g),
                Err(TryLockError::Poisoned(p)) => guard = Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => continue,
            }
            break;
        }
        let mut g = guard.unwrap_or_else(|| {
            self.accs[start]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        });
        if g.is_empty() {
            *g = vec![CellSums::default(); self.cells];
        }
        f(&mut g)
    }

    /// The totals per cell.
    pub(super) fn total(self) -> Vec<CellSums> {
        let mut used: Vec<Vec<CellSums>> = self
            .accs
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
            .filter(|a| !a.is_empty())
            .collect();
        match used.len() {
            0 => vec![CellSums::default(); self.cells],
            1 => used.pop().unwrap_or_default(),
            _ => (0..self.cells)
                .into_par_iter()
                .map(|i| {
                    let mut t = used[0][i];
                    for a in &used[1..] {
                        t.merge(&a[i]);
                    }
                    t
                })
                .collect(),
        }
    }
}
