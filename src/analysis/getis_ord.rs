//! Getis-Ord Gi*: where high (or low) values cluster more than chance allows.
//!
//! For each cell `i`, Gi* compares the weighted sum of the values in its
//! neighbourhood, the cell itself included, with what that sum would be if the
//! values were spread at random over the map (total randomisation: all `n`
//! values permuted over all `n` cells, Getis & Ord 1992, Ord & Getis 1995):
//!
//! ```text
//! L_i = sum_j w*_ij y_j    W_i = sum_j w*_ij    S1_i = sum_j w*_ij^2    (j over the neighbours and i)
//! z_i = (L_i - W_i Y / n) / (S sqrt((n S1_i - W_i^2) / (n - 1)))
//!     = (n L_i - W_i Y) / (n S sqrt((n S1_i - W_i^2) / (n - 1)))
//! ```
//!
//! with `Y` the sum of all values, `n` the number of cells and `S` the
//! population standard deviation of the values: the general form for
//! arbitrary weights that ArcGIS documents for its Hot Spot Analysis. The
//! rearranged second line is exact for integer counts (no cancellation in
//! the numerator) and keeps "hot" meaning "high values" even when the mean is
//! not positive.
//!
//! Transforms:
//! * [`Transform::Binary`]: every neighbour and the cell itself weigh 1, so
//!   `W_i = S1_i = k_i + 1` and the variance term is `W_i (n - W_i) / (n - 1)`.
//!   Non-binary weights are binarised. This is exactly esda's
//!   `G_Local(y, w, transform='B', star=True).Zs` (golden tests).
//! * [`Transform::RowStandardized`]: the cell itself weighs as much as its
//!   heaviest neighbour (1 for binary weights), then each row is divided by
//!   its sum, so `W_i = 1` and `S1_i` is the row's sum of squares. The
//!   z-score above does not change when a row is multiplied by a constant,
//!   so for binary weights (distance band, k nearest) it equals the binary
//!   Gi*; it differs only for weights that vary within a row.
//!
//!   **Departure from esda.** esda's `G_Local(transform='R')` (and GeoDa's
//!   G*) standardise the rows but keep the variance of binary weights,
//!   `W_i (n - W_i) / (n - 1)` with `W_i = 1`, which ignores that the row's
//!   weight is spread over `k_i + 1` cells: its variance is too large by
//!   `(n - 1) / (n S1_i - 1)` (about `k_i + 1`), and its z-scores too small
//!   by the square root of that. On the README example (1,848 UCDP events,
//!   5 km cells, 15 km band) esda's form finds 29 hot cells where binary
//!   Gi* finds 353. The variance used here is the exact one under total
//!   randomisation, checked against a permutation reference
//!   (`tests/golden/gistar_row_permutation.json`).
//!
//! p-values are two-sided from the standard normal distribution,
//! `p = erfc(|z| / sqrt 2)` (esda's `p_norm` is one-sided: half of this).
//!
//! Degenerate inputs: when every value is the same, or a neighbourhood covers
//! every cell with equal weights (`n S1_i <= W_i^2`), nothing can be tested:
//! `z = 0` and `p = 1`.

use super::weights::{check_values, Weights};
use super::AnalysisError;
use rayon::prelude::*;

/// Cells per parallel work item.
const CHUNK: usize = 4096;

/// How the spatial weights enter Gi* (esda's `transform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Transform {
    /// Every neighbour and the cell itself weigh 1 (ArcGIS's fixed distance
    /// band; esda `'B'`). The default.
    #[default]
    Binary,
    /// Each row, the cell itself included, sums to 1 (esda `'R'`, GeoDa).
    #[value(name = "row")]
    RowStandardized,
}

/// Gi* z-scores and their two-sided normal p-values, one per cell.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GiStar {
    /// Standardised Gi*: positive where high values cluster, negative where low ones do.
    pub z: Vec<f64>,
    /// Two-sided p-value of `z` under the normal approximation.
    pub p: Vec<f64>,
}

/// Getis-Ord Gi* of `values` (one per row of `w`, e.g. event counts per cell).
///
/// `w` is used without the cell itself (as [`Weights`] always is); the self
/// weight is added here as the transform prescribes. Runs in parallel over
/// cells; the result does not depend on the thread count.
///
/// Errors when lengths differ, there are fewer than two cells, or a value is
/// not finite.
pub fn gi_star(values: &[f64], w: &Weights, transform: Transform) -> Result<GiStar, AnalysisError> {
    check_values(values, w, "Gi*")?;
    let n = values.len();
    let nf = n as f64;
    let total = par_sum(values, |v| v);
    let mean = total / nf;
    let sd = (par_sum(values, |v| (v - mean) * (v - mean)) / nf).sqrt();
    let constant = values.par_iter().all(|&v| v == values[0]);

    let stop = crate::cancel::current();
    let (z, p): (Vec<f64>, Vec<f64>) = (0..n)
        .into_par_iter()
        .with_min_len(CHUNK)
        .map(|i| {
            if constant || stop.stopped() {
                return (0.0, 1.0);
            }
            let (nb, wv) = w.neighbors(i);
            let (l, var) = match transform {
                Transform::Binary => {
                    let l = values[i] + nb.iter().map(|&j| values[j as usize]).sum::<f64>();
                    let wi = (nb.len() + 1) as f64;
                    (nf * l - wi * total, wi * (nf - wi) / (nf - 1.0))
                }
                Transform::RowStandardized => {
                    // The row as given (self = heaviest neighbour): z does not
                    // change when a row is scaled, so dividing by its sum first
                    // would only add rounding.
                    let own = wv.iter().copied().fold(0.0, f64::max);
                    let own = if nb.is_empty() { 1.0 } else { own };
                    let (mut l, mut wsum, mut s1) = (own * values[i], own, own * own);
                    for (&j, &v) in nb.iter().zip(wv) {
                        l += v * values[j as usize];
                        wsum += v;
                        s1 += v * v;
                    }
                    let var = (nf * s1 - wsum * wsum) / (nf - 1.0);
                    // Equal weights over every cell: zero up to rounding.
                    let var = if var <= 4.0 * f64::EPSILON * nf * s1 {
                        0.0
                    } else {
                        var
                    };
                    (nf * l - wsum * total, var)
                }
            };
            if var <= 0.0 {
                return (0.0, 1.0);
            }
            let z = l / (nf * sd * var.sqrt());
            (z, p_two_sided(z))
        })
        .unzip();
    crate::cancel::check()?;
    Ok(GiStar { z, p })
}

/// Two-sided p-value of a standard normal z-score: `P(|Z| >= |z|) = erfc(|z| / sqrt 2)`.
///
/// Relative error below 1e-15 against scipy's `2 * norm.sf(|z|)`; 1 for
/// `z = 0`, underflows to 0 beyond |z| of about 38; NaN for NaN.
pub fn p_two_sided(z: f64) -> f64 {
    erfc(z.abs() * std::f64::consts::FRAC_1_SQRT_2)
}

/// `sum_i f(xs[i])`, compensated (Neumaier) within fixed chunks that are
/// summed in parallel and combined in order: as accurate as a serial
/// compensated sum (esda's numpy sums are pairwise) and bit-identical
/// whatever the thread count.
pub(crate) fn par_sum(xs: &[f64], f: impl Fn(f64) -> f64 + Sync) -> f64 {
    let partial: Vec<(f64, f64)> = xs
        .par_chunks(CHUNK)
        .map(|chunk| neumaier(chunk.iter().map(|&x| f(x))))
        .collect();
    let (s, c) = neumaier(partial.iter().flat_map(|&(s, c)| [s, c]));
    s + c
}

/// Neumaier's compensated sum: (sum, compensation).
fn neumaier(it: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for v in it {
        let t = s + v;
        if s.abs() >= v.abs() {
            c += (s - t) + v;
        } else {
            c += (v - t) + s;
        }
        s = t;
    }
    (s, c)
}

/// `erfc` from FreeBSD's libm. The coefficients keep their published digits
/// (more than an f64 holds) so that they can be checked against the source.
#[allow(clippy::excessive_precision)]
mod fdlibm {
    // The complementary error function for x >= 0, ported from FreeBSD's
    // msun/src/s_erf.c (below 1 ulp; scipy uses Cephes, which agrees to ~1e-16):
    //
    // ====================================================
    // Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
    //
    // Developed at SunPro, a Sun Microsystems, Inc. business.
    // Permission to use, copy, modify, and distribute this
    // software is freely granted, provided that this notice
    // is preserved.
    // ====================================================

    const ERX: f64 = 8.45062911510467529297e-01;
    const PP: [f64; 5] = [
        1.28379167095512558561e-01,
        -3.25042107247001499370e-01,
        -2.84817495755985104766e-02,
        -5.77027029648944159157e-03,
        -2.37630166566501626084e-05,
    ];
    const QQ: [f64; 5] = [
        3.97917223959155352819e-01,
        6.50222499887672944485e-02,
        5.08130628187576562776e-03,
        1.32494738004321644526e-04,
        -3.96022827877536812320e-06,
    ];
    const PA: [f64; 7] = [
        -2.36211856075265944077e-03,
        4.14856118683748331666e-01,
        -3.72207876035701323847e-01,
        3.18346619901161753674e-01,
        -1.10894694282396677476e-01,
        3.54783043256182359371e-02,
        -2.16637559486879084300e-03,
    ];
    const QA: [f64; 6] = [
        1.06420880400844228286e-01,
        5.40397917702171048937e-01,
        7.18286544141962662868e-02,
        1.26171219808761642112e-01,
        1.36370839120290507362e-02,
        1.19844998467991074170e-02,
    ];
    const RA: [f64; 8] = [
        -9.86494403484714822705e-03,
        -6.93858572707181764372e-01,
        -1.05586262253232909814e+01,
        -6.23753324503260060396e+01,
        -1.62396669462573470355e+02,
        -1.84605092906711035994e+02,
        -8.12874355063065934246e+01,
        -9.81432934416914548592e+00,
    ];
    const SA: [f64; 8] = [
        1.96512716674392571292e+01,
        1.37657754143519042600e+02,
        4.34565877475229228821e+02,
        6.45387271733267880336e+02,
        4.29008140027567833386e+02,
        1.08635005541779435134e+02,
        6.57024977031928170135e+00,
        -6.04244152148580987438e-02,
    ];
    const RB: [f64; 7] = [
        -9.86494292470009928597e-03,
        -7.99283237680523006574e-01,
        -1.77579549177547519889e+01,
        -1.60636384855821916062e+02,
        -6.37566443368389627722e+02,
        -1.02509513161107724954e+03,
        -4.83519191608651397019e+02,
    ];
    const SB: [f64; 7] = [
        3.03380607434824582924e+01,
        3.25792512996573918826e+02,
        1.53672958608443695994e+03,
        3.19985821950859553908e+03,
        2.55305040643316442583e+03,
        4.74528541206955367215e+02,
        -2.24409524465858183362e+01,
    ];

    /// Horner evaluation of `c[0] + x c[1] + x^2 c[2] + ...`.
    fn poly(c: &[f64], x: f64) -> f64 {
        c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
    }

    /// `erfc(x)` for `x >= 0` (NaN propagates).
    pub(super) fn erfc(x: f64) -> f64 {
        if x.is_nan() {
            return x;
        }
        if x < 0.84375 {
            if x < f64::from_bits(0x3c70_0000_0000_0000) {
                return 1.0 - x; // below 2^-56
            }
            let z = x * x;
            let y = poly(&PP, z) / (1.0 + z * poly(&QQ, z));
            return if x < 0.25 {
                1.0 - (x + x * y)
            } else {
                0.5 - (x - 0.5 + x * y)
            };
        }
        if x < 1.25 {
            let s = x - 1.0;
            return 1.0 - ERX - poly(&PA, s) / (1.0 + s * poly(&QA, s));
        }
        if x >= 28.0 {
            return 0.0;
        }
        let s = 1.0 / (x * x);
        let (r, big_s) = if x < 1.0 / 0.35 {
            (poly(&RA, s), 1.0 + s * poly(&SA, s))
        } else {
            (poly(&RB, s), 1.0 + s * poly(&SB, s))
        };
        // exp(-x^2) split as exp(-z^2) exp((z - x)(z + x)) with z = x truncated to
        // 32 significant bits, so that -z^2 is exact.
        let z = f64::from_bits(x.to_bits() & 0xffff_ffff_0000_0000);
        (-z * z - 0.5625).exp() * ((z - x) * (z + x) + r / big_s).exp() / x
    }
}

use fdlibm::erfc;

#[cfg(test)]
mod tests {
    use super::super::fdr::{classify, HotspotClass};
    use super::super::weights::test_support::*;
    use super::*;

    /// z-scores are compared relative to max(|z|, 1e-6): a numerator that is
    /// exactly zero here is rounding noise (~1e-15) in esda.
    const Z_FLOOR: f64 = 1e-6;

    fn bins(c: &[HotspotClass]) -> Vec<i64> {
        c.iter().map(|c| c.bin() as i64).collect()
    }

    #[test]
    fn erfc_matches_reference_values() {
        // scipy.special.erfc (Cephes) at a few points.
        let cases = [
            (0.0, 1.0),
            (0.1, 0.8875370839817152),
            (0.3, 0.6713732405408726),
            (0.5, 0.4795001221869535),
            (0.8, 0.2578990352923395),
            (1.0, 0.15729920705028516),
            (1.2, 0.08968602177036462),
            (2.0, 0.004677734981047266),
            (2.5, 0.00040695201744495886),
            (3.0, 2.2090496998585445e-05),
            (5.0, 1.5374597944280347e-12),
            (10.0, 2.0884875837625446e-45),
        ];
        for (x, want) in cases {
            let got = erfc(x);
            let rel = ((got - want) / want).abs();
            assert!(rel < 1e-15, "erfc({x}) = {got}, want {want} ({rel:e})");
        }
        assert!(erfc(27.0) < 1e-300 && erfc(27.0) >= 0.0);
        assert_eq!(p_two_sided(0.0), 1.0);
        assert_eq!(p_two_sided(-1.5), p_two_sided(1.5));
        assert_eq!(p_two_sided(50.0), 0.0);
        assert!(p_two_sided(f64::NAN).is_nan());
    }

    /// esda's row-standardised z from ours: esda keeps the binary variance
    /// term with `W_i = 1`, so its z is ours times
    /// `sqrt((n S1_i - 1) / (n - 1))` with `S1_i` the sum of the squared
    /// row-standardised weights (self = heaviest neighbour).
    fn esda_row(ours: &GiStar, w: &Weights) -> GiStar {
        let nf = w.len() as f64;
        let z: Vec<f64> = (0..w.len())
            .map(|i| {
                let (nb, wv) = w.neighbors(i);
                let own = if nb.is_empty() {
                    1.0
                } else {
                    wv.iter().copied().fold(0.0, f64::max)
                };
                let sum: f64 = own + wv.iter().sum::<f64>();
                let s1: f64 = (own * own + wv.iter().map(|v| v * v).sum::<f64>()) / (sum * sum);
                ours.z[i] * ((nf * s1 - 1.0) / (nf - 1.0)).sqrt()
            })
            .collect();
        let p = z.iter().map(|&v| p_two_sided(v)).collect();
        GiStar { z, p }
    }

    /// Row-standardised inverse-distance weights: the general z against
    /// ArcGIS's closed form (evaluated as written, in numpy) and against the
    /// mean and variance of 20,000 total randomisations
    /// (tools/reference/hotspot_inference.py).
    #[test]
    fn row_standardised_matches_closed_form_and_permutation_reference() {
        let g = golden("gistar_row_permutation.json");
        let xy = points(&g["x"], &g["y"]);
        let y = f64s(&g["values"]);
        let band = Weights::distance_band(&xy, g["meta"]["threshold"].as_f64().unwrap()).unwrap();
        let mut offsets = vec![0];
        let (mut nbs, mut ws) = (Vec::new(), Vec::new());
        for i in 0..band.len() {
            for &j in band.neighbors(i).0 {
                let (dx, dy) = (xy[i][0] - xy[j as usize][0], xy[i][1] - xy[j as usize][1]);
                nbs.push(j);
                ws.push(1.0 / (dx * dx + dy * dy).sqrt());
            }
            offsets.push(nbs.len());
        }
        let w = Weights::from_csr(offsets, nbs, ws).unwrap();
        let r = gi_star(&y, &w, Transform::RowStandardized).unwrap();
        assert_close("closed form", &r.z, &f64s(&g["z"]), 1e-12, Z_FLOOR);
        // Passing the rows already standardised changes nothing.
        let rs = gi_star(&y, &w.row_standardized(), Transform::RowStandardized).unwrap();
        assert_close("standardised input", &rs.z, &r.z, 1e-13, Z_FLOOR);
        let (zp, se) = (f64s(&g["z_perm"]), f64s(&g["z_perm_se"]));
        let worst = (0..y.len())
            .map(|i| (r.z[i] - zp[i]).abs() / se[i])
            .fold(0.0, f64::max);
        eprintln!("row Gi*: largest |z - z_perm| {worst:.2} Monte Carlo standard errors");
        assert!(worst < 5.0, "{worst}");
        // esda's form (binary variance with W_i = 1) is not consistent with
        // the permutation distribution: its z is too small nearly everywhere.
        let esda = esda_row(&r, &w);
        assert_close(
            "esda form",
            &esda.z,
            &f64s(&g["z_esda_form"]),
            1e-12,
            Z_FLOOR,
        );
        let off = (0..y.len())
            .filter(|&i| (esda.z[i] - zp[i]).abs() > 5.0 * se[i])
            .count();
        assert!(off > y.len() * 9 / 10, "{off}");
    }

    #[test]
    fn esda_fixture() {
        let g = golden("gistar_esda_fixture.json");
        let xy = xy_pairs(&g["xy"]);
        let y = f64s(&g["y"]);
        let w = Weights::distance_band(&xy, g["threshold"].as_f64().unwrap()).unwrap();
        for (t, z, p) in [
            (Transform::Binary, "z_binary", "p_binary"),
            (Transform::RowStandardized, "z_row", "p_row"),
        ] {
            let r = gi_star(&y, &w, t).unwrap();
            let r_esda = match t {
                Transform::Binary => r.clone(),
                Transform::RowStandardized => esda_row(&r, &w),
            };
            assert_close(
                &format!("fixture {z}"),
                &r_esda.z,
                &f64s(&g[z]),
                1e-12,
                Z_FLOOR,
            );
            assert_close(
                &format!("fixture {p}"),
                &r_esda.p,
                &f64s(&g[p]),
                1e-13,
                1e-300,
            );
            // Passing row-standardised weights changes nothing: the transform decides.
            let rs = gi_star(&y, &w.row_standardized(), t).unwrap();
            assert_close("fixture, standardised input", &rs.z, &r.z, 1e-14, Z_FLOOR);
        }
    }

    #[test]
    fn synthetic_matches_esda() {
        let g = golden("gistar_synthetic.json");
        let xy = points(&g["x"], &g["y"]);
        let y = f64s(&g["values"]);
        let band = Weights::distance_band(&xy, g["threshold"].as_f64().unwrap()).unwrap();
        let knn = Weights::knn(&xy, g["k"].as_u64().unwrap() as usize).unwrap();
        let b = gi_star(&y, &band, Transform::Binary).unwrap();
        let row = gi_star(&y, &band, Transform::RowStandardized).unwrap();
        // Binary weights: row standardisation leaves the general z unchanged.
        assert_close("band z R = z B", &row.z, &b.z, 1e-13, Z_FLOOR);
        let r = esda_row(&row, &band);
        assert_close(
            "synthetic band z B",
            &b.z,
            &f64s(&g["z_binary"]),
            1e-9,
            Z_FLOOR,
        );
        assert_close(
            "synthetic band p B",
            &b.p,
            &f64s(&g["p_binary"]),
            1e-9,
            1e-300,
        );
        assert_close(
            "synthetic band z R",
            &r.z,
            &f64s(&g["z_row"]),
            1e-9,
            Z_FLOOR,
        );
        assert_close("synthetic band p R", &r.p, &f64s(&g["p_row"]), 1e-9, 1e-300);
        let kb = gi_star(&y, &knn, Transform::Binary).unwrap();
        let kr_general = gi_star(&y, &knn, Transform::RowStandardized).unwrap();
        assert_close("knn z R = z B", &kr_general.z, &kb.z, 1e-13, Z_FLOOR);
        let kr = esda_row(&kr_general, &knn);
        assert_close(
            "synthetic knn z B",
            &kb.z,
            &f64s(&g["knn_z_binary"]),
            1e-9,
            Z_FLOOR,
        );
        assert_close(
            "synthetic knn z R",
            &kr.z,
            &f64s(&g["knn_z_row"]),
            1e-9,
            Z_FLOOR,
        );
        assert_eq!(bins(&classify(&b.z, &b.p, false)), i64s(&g["class_binary"]));
        assert_eq!(
            bins(&classify(&b.z, &b.p, true)),
            i64s(&g["class_binary_fdr"])
        );
        assert_eq!(bins(&classify(&r.z, &r.p, false)), i64s(&g["class_row"]));
        assert_eq!(bins(&classify(&r.z, &r.p, true)), i64s(&g["class_row_fdr"]));
    }

    #[test]
    #[cfg_attr(
        not(jointmap_shared_data),
        ignore = "../shared/data/ucdp-ged-23.1-car.geojson is absent"
    )]
    fn ucdp_grid_matches_esda() {
        let path = ucdp_path().expect("../shared/data/ucdp-ged-23.1-car.geojson");
        let g = golden("gistar_ucdp.json");
        let (xy, counts, nx, ny) = ucdp_grid(&path);
        let grid = &g["grid"];
        assert_eq!(
            (nx as u64, ny as u64),
            (grid["nx"].as_u64().unwrap(), grid["ny"].as_u64().unwrap())
        );
        assert_eq!(counts.iter().sum::<f64>(), grid["events"].as_f64().unwrap());
        // Outputs are keyed by cell: check the key order is ours.
        let (ix, iy) = (i64s(&g["ix"]), i64s(&g["iy"]));
        for c in 0..nx * ny {
            assert_eq!((ix[c] as usize, iy[c] as usize), (c % nx, c / nx));
        }
        assert_eq!(auto_band(&xy), grid["auto_band"].as_f64().unwrap());
        let w = Weights::distance_band(&xy, grid["threshold"].as_f64().unwrap()).unwrap();
        let b = gi_star(&counts, &w, Transform::Binary).unwrap();
        let r = esda_row(
            &gi_star(&counts, &w, Transform::RowStandardized).unwrap(),
            &w,
        );
        assert_close("UCDP z B", &b.z, &f64s(&g["z_binary"]), 1e-9, Z_FLOOR);
        assert_close("UCDP p B", &b.p, &f64s(&g["p_binary"]), 1e-9, 1e-300);
        assert_close("UCDP z R", &r.z, &f64s(&g["z_row"]), 1e-9, Z_FLOOR);
        assert_eq!(bins(&classify(&b.z, &b.p, false)), i64s(&g["class_binary"]));
        assert_eq!(
            bins(&classify(&b.z, &b.p, true)),
            i64s(&g["class_binary_fdr"])
        );
    }

    /// The benchmark lattice against esda's answer from benches/compare/gistar.py
    /// (run by benches/compare/gistar.sh, which sets JOINTMAP_PEER_DIR).
    #[test]
    #[ignore = "needs JOINTMAP_PEER_DIR from benches/compare/gistar.sh"]
    fn peer_lattice_matches_esda() {
        let Some((cells, want)) = peer_result("esda_gistar_z.f64") else {
            eprintln!("SKIPPED: JOINTMAP_PEER_DIR/esda_gistar_z.f64 is absent");
            return;
        };
        let (xy, y) = bench_lattice(cells);
        let w = Weights::distance_band(&xy, 3.0).unwrap();
        let r = gi_star(&y, &w, Transform::Binary).unwrap();
        assert_close("lattice Gi* z vs esda", &r.z, &want, 1e-9, Z_FLOOR);
    }

    fn auto_band(xy: &[[f64; 2]]) -> f64 {
        super::super::weights::auto_distance_band(xy).unwrap()
    }

    fn lattice(side: usize, seed: u64) -> (Vec<[f64; 2]>, Vec<f64>) {
        let mut rng = crate::rng::Rng::new(seed);
        let xy: Vec<[f64; 2]> = (0..side * side)
            .map(|i| [(i % side) as f64 * 100.0, (i / side) as f64 * 100.0])
            .collect();
        let y = xy
            .iter()
            .map(|p| {
                let hot = ((p[0] - 2000.0).powi(2) + (p[1] - 3000.0).powi(2)).sqrt() < 800.0;
                (rng.below(4) + if hot { 3 } else { 0 }) as f64
            })
            .collect();
        (xy, y)
    }

    #[test]
    fn permuting_cells_permutes_the_result() {
        let (xy, y) = lattice(60, 1);
        let perm = permutation(2, xy.len());
        let xy2: Vec<[f64; 2]> = perm.iter().map(|&i| xy[i]).collect();
        let y2: Vec<f64> = perm.iter().map(|&i| y[i]).collect();
        for t in [Transform::Binary, Transform::RowStandardized] {
            let a = gi_star(&y, &Weights::distance_band(&xy, 250.0).unwrap(), t).unwrap();
            let b = gi_star(&y2, &Weights::distance_band(&xy2, 250.0).unwrap(), t).unwrap();
            for (new, &old) in perm.iter().enumerate() {
                // Same neighbour set, possibly summed in another order.
                assert!((a.z[old] - b.z[new]).abs() <= 1e-12 * a.z[old].abs().max(1.0));
            }
        }
    }

    #[test]
    fn identical_with_one_and_two_threads() {
        let (xy, y) = lattice(150, 3);
        let run = || {
            let w = Weights::distance_band(&xy, 300.0).unwrap();
            (
                gi_star(&y, &w, Transform::Binary).unwrap(),
                gi_star(&y, &w, Transform::RowStandardized).unwrap(),
            )
        };
        assert_eq!(with_threads(1, run), with_threads(2, run));
    }

    #[test]
    fn constant_field_and_full_neighbourhoods_are_not_significant() {
        let (xy, _) = lattice(10, 4);
        let w = Weights::distance_band(&xy, 250.0).unwrap();
        for v in [0.0, 0.1, 7.0] {
            let r = gi_star(&vec![v; xy.len()], &w, Transform::Binary).unwrap();
            assert!(r.z.iter().all(|&z| z == 0.0) && r.p.iter().all(|&p| p == 1.0));
        }
        // Every cell sees every cell: W_i = n, no variance left.
        let all = Weights::distance_band(&xy, 1e6).unwrap();
        let y: Vec<f64> = (0..xy.len()).map(|i| (i % 5) as f64).collect();
        let r = gi_star(&y, &all, Transform::Binary).unwrap();
        assert!(r.z.iter().all(|&z| z == 0.0) && r.p.iter().all(|&p| p == 1.0));
    }

    #[test]
    fn hot_spot_is_found_and_sign_follows_values() {
        let (xy, y) = lattice(60, 5);
        let w = Weights::distance_band(&xy, 250.0).unwrap();
        let r = gi_star(&y, &w, Transform::Binary).unwrap();
        let centre = 30 * 60 + 20;
        assert!(r.z[centre] > 5.0 && r.p[centre] < 1e-6);
        // Negating the values turns hot into cold.
        let neg: Vec<f64> = y.iter().map(|v| -v).collect();
        let rn = gi_star(&neg, &w, Transform::Binary).unwrap();
        for (a, b) in r.z.iter().zip(&rn.z) {
            assert!((a + b).abs() <= 1e-12 * a.abs().max(1.0));
        }
    }

    #[test]
    fn bad_inputs_are_refused() {
        let (xy, y) = lattice(5, 6);
        let w = Weights::distance_band(&xy, 150.0).unwrap();
        assert!(gi_star(&y[..3], &w, Transform::Binary).is_err());
        let mut bad = y.clone();
        bad[2] = f64::NAN;
        assert!(gi_star(&bad, &w, Transform::Binary).is_err());
        let one = Weights::distance_band(&xy[..1], 150.0).unwrap();
        assert!(gi_star(&y[..1], &one, Transform::Binary).is_err());
    }
}
