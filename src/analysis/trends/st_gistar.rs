//! Getis-Ord Gi* over a space-time neighbourhood, as ArcGIS's Emerging Hot
//! Spot Analysis defines it: the neighbours of bin (cell `i`, step `t`) are
//! the bins of the cells within the distance band of `i` (and `i` itself)
//! in step `t` and in the `window - 1` steps before it (fewer at the start of
//! the cube). Every bin of the cube is one observation: with `n` bins, `Y`
//! the sum and `S` the population standard deviation of all bin values,
//! binary weights and `W` the number of bins in the neighbourhood,
//!
//! ```text
//! L = sum of the neighbourhood's values
//! z = (n L - W Y) / (n S sqrt(W (n - W) / (n - 1)))
//! ```
//!
//! the binary Gi* of [`crate::analysis::getis_ord`] on the stacked
//! space-time weights (esda `G_Local(transform='B', star=True)` on them;
//! checked against a numpy reference, `tools/reference/trends.py`). The
//! weights are not symmetric (a step sees the steps before it, not after).
//! Two-sided normal p-values. Every bin equal, or a neighbourhood of every
//! bin: z 0, p 1.

use super::cube::Cube;
use crate::analysis::getis_ord::{p_two_sided, GiStar};
use crate::analysis::weights::Weights;
use crate::analysis::AnalysisError;
use rayon::prelude::*;

/// Space-time Gi* of every bin of `cube` (cell-major, as [`Cube::values`]),
/// `w` the spatial weights of the cube's cells (the distance band, without
/// the cell itself) and `window` the steps of the neighbourhood (1: the
/// same step only). In parallel over cells; the same result whatever the
/// thread count (each bin's sums in a fixed order).
pub fn st_gi_star(cube: &Cube, w: &Weights, window: usize) -> Result<GiStar, AnalysisError> {
    st_gi_star_values(&cube.values, cube.steps(), w, window)
}

/// [`st_gi_star`] on cell-major `values` (`cell * steps + step`).
pub fn st_gi_star_values(
    values: &[f64],
    steps: usize,
    w: &Weights,
    window: usize,
) -> Result<GiStar, AnalysisError> {
    if window == 0 {
        return Err(AnalysisError::param("window", "at least one time step"));
    }
    if steps == 0 || values.len() != w.len() * steps {
        return Err(AnalysisError::param(
            "values",
            format!(
                "{} bin values for {} cells x {steps} steps",
                values.len(),
                w.len()
            ),
        ));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(AnalysisError::param(
            "weight",
            format!("bin {i} is not a finite number"),
        ));
    }
    let n = values.len();
    if n < 2 {
        return Err(AnalysisError::param("cells", "fewer than two bins"));
    }
    let nf = n as f64;
    let total = crate::analysis::getis_ord::par_sum(values, |v| v);
    let mean = total / nf;
    let sd = (crate::analysis::getis_ord::par_sum(values, |v| (v - mean) * (v - mean)) / nf).sqrt();
    let constant = values.par_iter().all(|&v| v == values[0]);
    let stop = crate::cancel::current();
    let per_cell: Vec<(Vec<f64>, Vec<f64>)> = (0..w.len())
        .into_par_iter()
        .with_min_len(64)
        .map(|i| {
            if constant || stop.stopped() {
                return (vec![0.0; steps], vec![1.0; steps]);
            }
            let (nb, _) = w.neighbors(i);
            // The spatial sum of each step: the cell, then its neighbours in order.
            let mut space: Vec<f64> = values[i * steps..(i + 1) * steps].to_vec();
            for &j in nb {
                let row = &values[j as usize * steps..(j as usize + 1) * steps];
                for (s, v) in space.iter_mut().zip(row) {
                    *s += v;
                }
            }
            let k = (nb.len() + 1) as f64;
            let mut z = Vec::with_capacity(steps);
            let mut p = Vec::with_capacity(steps);
            for t in 0..steps {
                let first = (t + 1).saturating_sub(window);
                let l: f64 = space[first..=t].iter().sum();
                let wi = k * (t + 1 - first) as f64;
                let var = wi * (nf - wi) / (nf - 1.0);
                if var <= 0.0 || sd == 0.0 {
                    z.push(0.0);
                    p.push(1.0);
                    continue;
                }
                let zi = (nf * l - wi * total) / (nf * sd * var.sqrt());
                z.push(zi);
                p.push(p_two_sided(zi));
            }
            (z, p)
        })
        .collect();
    crate::cancel::check()?;
    let mut out = GiStar {
        z: Vec::with_capacity(n),
        p: Vec::with_capacity(n),
    };
    for (z, p) in per_cell {
        out.z.extend(z);
        out.p.extend(p);
    }
    Ok(out)
}
