//! Anselin's Local Moran's I (LISA): is a cell like its neighbours, and how
//! surprising is that?
//!
//! With `z_i = (y_i - mean) / sd` (population standard deviation) and
//! row-standardised weights (each neighbourhood averages to its mean),
//!
//! ```text
//! lag_i = sum_j w_ij z_j        I_i = (n - 1) z_i lag_i / sum_j z_j^2
//! ```
//!
//! exactly as esda 2.9's `Moran_Local(y, w, transformation='r').Is`. `I_i > 0`:
//! the cell resembles its neighbourhood (high among high, or low among low);
//! `I_i < 0`: it stands out from it. The quadrant of the Moran scatter plot
//! names which ([`Quadrant`], esda's `q` codes 1..4).
//!
//! Inference is by conditional permutation (Anselin 1995): the cell keeps its
//! value and its neighbours are replaced by `k_i` values drawn at random,
//! without replacement, from all other cells; repeated `R = permutations`
//! times. The pseudo p-value is GeoDa's documented `(M + 1) / (R + 1)`, with
//! `M` the number of draws "equal to or more extreme than" the observed
//! statistic, on the nearer tail (a two-sided, folded test):
//!
//! ```text
//! M = min(#{draws with I >= I_obs}, #{draws with I <= I_obs})      ties count in both
//! ```
//!
//! so the smallest reachable value is `1 / (R + 1)` (0.01 with 99).
//! The test is on the neighbourhood sum of the raw values, which orders the
//! draws exactly as `I` does (`z_i` and the scaling are fixed within a cell)
//! but compares integer counts without rounding, so ties are exact.
//!
//! **Ties.** On count data most draws can tie with the observed value: an
//! empty cell among empty neighbours (`I > 0`, quadrant LL) is matched by
//! every draw of empty cells. Counting ties as extreme in both directions
//! gives such a cell a large p-value, as it should: nothing distinguishes it
//! from chance. GeoDa's code (and jointmap before this rule) counts ties only
//! in the upper tail, `#{I >= I_obs}`, and folds with `R - #{I >= I_obs}`,
//! which leaves ties out of the lower tail; esda compares rounded statistics,
//! where an exact tie falls either way by rounding noise. Both can call such
//! a cell a significant low-low cluster. Without ties the three rules agree
//! (`#{>=} + #{<=} = R`). `tools/reference/moran_ties.py` re-implements the
//! generator and the draws and checks the p-values exactly
//! (`tests/golden/moran_ties.json`).
//!
//! Multiple testing: [`LocalMoran::significant`] applies the
//! Benjamini-Hochberg false discovery rate as for Gi* ([`super::fdr`]).
//! With `R` permutations no p-value is below `1 / (R + 1)`, so on a large
//! grid a correction needs many permutations to find anything.
//!
//! Each cell draws from its own generator, seeded from `(seed, cell index)`:
//! the result is identical whatever the thread count, and changing one cell's
//! neighbourhood does not reshuffle the others. The draws differ from esda's
//! (another generator), so p-values agree with esda only in distribution.
//!
//! [`local_moran_tested`] runs the permutations only on the cells a caller
//! tests (the hotspot layer: cells with an event in the cell or its
//! neighbourhood, see [`super::hotspots::tested_cells`]); the others get
//! `p_sim` NaN, which keeps them out of the false discovery rate's family.
//!
//! Where nothing can be tested, `p_sim` is 1: a cell without neighbours, a
//! cell whose value is the mean (`z_i = 0`, `I_i = 0`), or a map where every
//! value is the same (then `I = 0` everywhere and the quadrant is `LL`, esda's
//! code for `z = 0`, `lag = 0`). esda returns `1 / (permutations + 1)` for the
//! first two through its folding rule, which would flag them as significant.
//! With `permutations = 0`, `p_sim` is NaN.

use super::fdr::benjamini_hochberg;
use super::getis_ord::par_sum;
use super::weights::{check_values, Weights};
use super::AnalysisError;
use crate::rng::Rng;
use rayon::prelude::*;

/// Stream id of the permutation generator (see [`Rng::for_item`]).
const STREAM: u64 = 0x4c49_5341; // "LISA"

/// Cells per parallel work item (permutation cost is similar across cells).
const CHUNK: usize = 256;

/// Quadrant of the Moran scatter plot: the cell's value against its
/// neighbourhood average, both relative to the mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quadrant {
    /// High value among high values (esda q = 1): part of a hot cluster.
    HH,
    /// Low value among high values (q = 2): a cold outlier.
    LH,
    /// Low value among low values (q = 3): part of a cold cluster.
    LL,
    /// High value among low values (q = 4): a hot outlier.
    HL,
}

impl Quadrant {
    /// esda's `q` code: 1 HH, 2 LH, 3 LL, 4 HL.
    pub fn code(&self) -> u8 {
        match self {
            Quadrant::HH => 1,
            Quadrant::LH => 2,
            Quadrant::LL => 3,
            Quadrant::HL => 4,
        }
    }

    /// `"HH"`, `"LH"`, `"LL"` or `"HL"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Quadrant::HH => "HH",
            Quadrant::LH => "LH",
            Quadrant::LL => "LL",
            Quadrant::HL => "HL",
        }
    }

    /// Quadrant of a standardised value and its spatial lag, with esda's
    /// rule: "high" means strictly above the mean.
    pub fn of(z: f64, lag: f64) -> Quadrant {
        match (z > 0.0, lag > 0.0) {
            (true, true) => Quadrant::HH,
            (false, true) => Quadrant::LH,
            (false, false) => Quadrant::LL,
            (true, false) => Quadrant::HL,
        }
    }
}

/// Local Moran's I per cell with its pseudo p-value and quadrant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalMoran {
    /// Local Moran's I (esda's `Is`).
    pub i: Vec<f64>,
    /// Folded pseudo p-value from conditional permutations (esda's `p_sim`).
    pub p_sim: Vec<f64>,
    /// Moran scatter plot quadrant (esda's `q`).
    pub quadrant: Vec<Quadrant>,
}

impl LocalMoran {
    /// Whether each cell is significant at level `alpha`: `p_sim <= alpha`,
    /// or with `fdr` the Benjamini-Hochberg step-up over every tested cell
    /// (NaN p-values are not tested), as for Gi* classes.
    pub fn significant(&self, alpha: f64, fdr: bool) -> Vec<bool> {
        if fdr {
            benjamini_hochberg(&self.p_sim, alpha)
        } else {
            self.p_sim.iter().map(|&p| p <= alpha).collect()
        }
    }
}

/// Local Moran's I of `values` over `w`, row-standardised here, with
/// `permutations` conditional permutations seeded by `seed` (99 or 999 are
/// usual), for every cell. Runs in parallel over cells; identical whatever
/// the thread count.
///
/// Errors when lengths differ, there are fewer than two cells, or a value is
/// not finite.
pub fn local_moran(
    values: &[f64],
    w: &Weights,
    permutations: usize,
    seed: u64,
) -> Result<LocalMoran, AnalysisError> {
    local_moran_tested(values, w, permutations, seed, None)
}

/// [`local_moran`] with permutation tests only where `tested[c]` is true:
/// the other cells keep their `I` and quadrant but get `p_sim` NaN (not
/// tested: not significant and not counted in a false discovery rate), and
/// no permutation is spent on them. A tested cell's p-value is the same bit
/// for bit as in [`local_moran`] (its draws are seeded by the cell alone),
/// whichever other cells are tested. `None` tests every cell.
///
/// Errors as [`local_moran`], and when `tested` has another length.
pub fn local_moran_tested(
    values: &[f64],
    w: &Weights,
    permutations: usize,
    seed: u64,
    tested: Option<&[bool]>,
) -> Result<LocalMoran, AnalysisError> {
    local_moran_inner(values, w, permutations, None, seed, tested)
}

/// [`local_moran_tested`] with sequential Monte Carlo p-values (Besag and
/// Clifford 1991): a cell's draws stop as soon as `h` of them are at least as
/// extreme as the observed value on the nearer tail (`M` of the module
/// documentation reaches `h`), after `l` draws, and its p-value is then
/// `h / l`; a cell that never reaches `h` within `max_permutations` draws
/// gets `(M + 1) / (max_permutations + 1)` as with a fixed number. A cell far
/// from significance stops after a few dozen draws, so a large
/// `max_permutations` (for a small attainable p-value under a false
/// discovery rate over many cells) costs little more than the cells that
/// need it. The draws are those of [`local_moran_tested`]: a cell that does
/// not stop has the same p-value bit for bit.
///
/// Errors as [`local_moran_tested`], and when `h` is 0.
pub fn local_moran_sequential(
    values: &[f64],
    w: &Weights,
    max_permutations: usize,
    h: usize,
    seed: u64,
    tested: Option<&[bool]>,
) -> Result<LocalMoran, AnalysisError> {
    if h == 0 {
        return Err(AnalysisError::param(
            "h",
            "Local Moran: sequential p-values stop after at least 1 extreme draw",
        ));
    }
    local_moran_inner(values, w, max_permutations, Some(h), seed, tested)
}

fn local_moran_inner(
    values: &[f64],
    w: &Weights,
    permutations: usize,
    stop_at: Option<usize>,
    seed: u64,
    tested: Option<&[bool]>,
) -> Result<LocalMoran, AnalysisError> {
    check_values(values, w, "Local Moran")?;
    let n = values.len();
    if tested.is_some_and(|t| t.len() != n) {
        return Err(AnalysisError::param(
            "tested",
            "Local Moran: one tested flag per cell",
        ));
    }
    let is_tested = |c: usize| tested.is_none_or(|t| t[c]);
    if values.par_iter().all(|&v| v == values[0]) {
        let p = if permutations == 0 { f64::NAN } else { 1.0 };
        return Ok(LocalMoran {
            i: vec![0.0; n],
            p_sim: (0..n)
                .map(|c| if is_tested(c) { p } else { f64::NAN })
                .collect(),
            quadrant: vec![Quadrant::LL; n],
        });
    }
    let w = w.row_standardized();
    let nf = n as f64;
    let mean = par_sum(values, |v| v) / nf;
    let sd = (par_sum(values, |v| (v - mean) * (v - mean)) / nf).sqrt();
    let z: Vec<f64> = values.par_iter().map(|v| (v - mean) / sd).collect();
    let den = par_sum(&z, |v| v * v);
    let n_1 = nf - 1.0;

    let (i, quadrant): (Vec<f64>, Vec<Quadrant>) = (0..n)
        .into_par_iter()
        .with_min_len(4 * CHUNK)
        .map(|c| {
            let (nb, wv) = w.neighbors(c);
            let lag: f64 = nb.iter().zip(wv).map(|(&j, &v)| v * z[j as usize]).sum();
            (n_1 * z[c] * lag / den, Quadrant::of(z[c], lag))
        })
        .unzip();

    let stop = crate::cancel::current();
    let p_sim = if permutations == 0 {
        vec![f64::NAN; n]
    } else {
        (0..n)
            .into_par_iter()
            .with_min_len(CHUNK)
            .map_init(
                || Scratch::new(n),
                |scratch, c| {
                    if stop.stopped() || !is_tested(c) {
                        return f64::NAN;
                    }
                    pseudo_p(c, values, &z, &w, permutations, stop_at, seed, scratch)
                },
            )
            .collect()
    };
    crate::cancel::check()?;
    Ok(LocalMoran { i, p_sim, quadrant })
}

/// Per-thread buffers: a bitmap of the cells drawn in the current permutation
/// (so that rejection is O(1)) and the list of them (to clear it in O(k)).
struct Scratch {
    taken: Vec<u64>,
    drawn: Vec<u32>,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            taken: vec![0; n.div_ceil(64)],
            drawn: Vec::new(),
        }
    }
}

/// Folded pseudo p-value of cell `c` (module docs: ties count in both
/// tails); with `stop_at = Some(h)`, the sequential p-value of
/// [`local_moran_sequential`].
#[allow(clippy::too_many_arguments)]
fn pseudo_p(
    c: usize,
    y: &[f64],
    z: &[f64],
    w: &Weights,
    permutations: usize,
    stop_at: Option<usize>,
    seed: u64,
    s: &mut Scratch,
) -> f64 {
    let (nb, wv) = w.neighbors(c);
    let k = nb.len();
    if k == 0 || z[c] == 0.0 {
        return 1.0;
    }
    let n = y.len();
    // Equal weights (always, for binary input): compare plain sums, exact for counts.
    let uniform = wv.iter().all(|&v| v == wv[0]);
    let neighbourhood = |ids: &[u32]| -> f64 {
        if uniform {
            ids.iter().map(|&j| y[j as usize]).sum()
        } else {
            ids.iter().zip(wv).map(|(&j, &v)| v * y[j as usize]).sum()
        }
    };
    let observed = neighbourhood(nb);
    let mut rng = Rng::for_item(seed, STREAM, c as u64);
    let mut tails = Tails::default();
    for l in 1..=permutations {
        draw_others(&mut rng, n, c, k, s);
        if !uniform {
            shuffle(&mut rng, &mut s.drawn);
        }
        tails.add(neighbourhood(&s.drawn), observed);
        for &j in &s.drawn {
            s.taken[j as usize / 64] &= !(1u64 << (j % 64));
        }
        if let Some(h) = stop_at {
            if tails.ge.min(tails.le) >= h {
                return h as f64 / l as f64;
            }
        }
    }
    tails.pseudo_p(permutations)
}

/// Draws at least as large and at least as small as the observed
/// neighbourhood sum. `I` of a draw is `z_i` times its sum up to a positive
/// factor, so for `z_i > 0` these count `I >= I_obs` and `I <= I_obs`, and
/// the other way round for `z_i < 0`: the folded minimum is the same.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Tails {
    ge: usize,
    le: usize,
}

impl Tails {
    fn add(&mut self, draw: f64, observed: f64) {
        self.ge += usize::from(draw >= observed);
        self.le += usize::from(draw <= observed);
    }

    /// `(M + 1) / (R + 1)` with `M` the smaller tail, ties counted in both.
    fn pseudo_p(&self, permutations: usize) -> f64 {
        (self.ge.min(self.le) + 1) as f64 / (permutations + 1) as f64
    }
}

/// Draws `k` distinct cells other than `own` into `s.drawn` (Floyd's
/// algorithm over the `n - 1` other cells: exactly `k` draws, no rejection
/// loop even when `k` is close to `n - 1`).
fn draw_others(rng: &mut Rng, n: usize, own: usize, k: usize, s: &mut Scratch) {
    s.drawn.clear();
    let others = (n - 1) as u64;
    for top in (others - k as u64)..others {
        let t = rng.below(top + 1);
        let pick = if is_taken(&s.taken, skip(t, own)) {
            top
        } else {
            t
        };
        let j = skip(pick, own);
        s.taken[j / 64] |= 1u64 << (j % 64);
        s.drawn.push(j as u32);
    }
}

/// Maps `0..n-1` onto the cells other than `own`.
fn skip(t: u64, own: usize) -> usize {
    let t = t as usize;
    if t >= own {
        t + 1
    } else {
        t
    }
}

fn is_taken(taken: &[u64], j: usize) -> bool {
    taken[j / 64] & (1u64 << (j % 64)) != 0
}

/// Fisher-Yates: Floyd's sample is a uniform set but not in uniform order,
/// which matters only when neighbours weigh differently.
fn shuffle(rng: &mut Rng, v: &mut [u32]) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i as u64 + 1) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::super::weights::test_support::*;
    use super::*;

    /// I is compared relative to max(|I|, 1e-6): a lag that cancels to zero
    /// is rounding noise in both implementations.
    const FLOOR: f64 = 1e-6;

    fn codes(q: &[Quadrant]) -> Vec<i64> {
        q.iter().map(|q| q.code() as i64).collect()
    }

    #[test]
    fn esda_fixture() {
        let g = golden("moran_esda_fixture.json");
        let xy = xy_pairs(&g["xy"]);
        let w = Weights::distance_band(&xy, g["threshold"].as_f64().unwrap()).unwrap();
        let r = local_moran(&f64s(&g["y"]), &w, 99, 1).unwrap();
        assert_close("fixture Is", &r.i, &f64s(&g["is"]), 1e-12, FLOOR);
        assert_eq!(codes(&r.quadrant), i64s(&g["q"]));
    }

    #[test]
    fn synthetic_matches_esda() {
        let g = golden("moran_synthetic.json");
        let xy = points(&g["x"], &g["y"]);
        let y = f64s(&g["values"]);
        let band = Weights::distance_band(&xy, g["threshold"].as_f64().unwrap()).unwrap();
        let knn = Weights::knn(&xy, g["k"].as_u64().unwrap() as usize).unwrap();
        let b = local_moran(&y, &band, 0, 0).unwrap();
        assert_close("synthetic band Is", &b.i, &f64s(&g["is_band"]), 1e-9, FLOOR);
        assert_eq!(codes(&b.quadrant), i64s(&g["q_band"]));
        assert!(b.p_sim.iter().all(|p| p.is_nan()));
        let k = local_moran(&y, &knn, 0, 0).unwrap();
        assert_close("synthetic knn Is", &k.i, &f64s(&g["is_knn"]), 1e-9, FLOOR);
        assert_eq!(codes(&k.quadrant), i64s(&g["q_knn"]));
    }

    #[test]
    #[cfg_attr(
        not(jointmap_shared_data),
        ignore = "../shared/data/ucdp-ged-23.1-car.geojson is absent"
    )]
    fn ucdp_grid_matches_esda() {
        let path = ucdp_path().expect("../shared/data/ucdp-ged-23.1-car.geojson");
        let g = golden("moran_ucdp.json");
        let (xy, counts, nx, _) = ucdp_grid(&path);
        let (ix, iy) = (i64s(&g["ix"]), i64s(&g["iy"]));
        for c in 0..xy.len() {
            assert_eq!((ix[c] as usize, iy[c] as usize), (c % nx, c / nx));
        }
        let w = Weights::distance_band(&xy, g["grid"]["threshold"].as_f64().unwrap()).unwrap();
        let r = local_moran(&counts, &w, 99, 7).unwrap();
        assert_close("UCDP Is", &r.i, &f64s(&g["is"]), 1e-9, FLOOR);
        assert_eq!(codes(&r.quadrant), i64s(&g["q"]));
    }

    /// The benchmark lattice against esda's answer from benches/compare/gistar.py
    /// (run by benches/compare/gistar.sh, which sets JOINTMAP_PEER_DIR).
    #[test]
    #[ignore = "needs JOINTMAP_PEER_DIR from benches/compare/gistar.sh"]
    fn peer_lattice_matches_esda() {
        let Some((cells, want)) = peer_result("esda_moran_is.f64") else {
            eprintln!("SKIPPED: JOINTMAP_PEER_DIR/esda_moran_is.f64 is absent");
            return;
        };
        let (xy, y) = bench_lattice(cells);
        let w = Weights::distance_band(&xy, 3.0).unwrap();
        let r = local_moran(&y, &w, 99, 12345).unwrap();
        assert_close("lattice Local Moran Is vs esda", &r.i, &want, 1e-9, FLOOR);
        if let Some((_, p)) = peer_result("esda_moran_p.f64") {
            let share =
                |v: &[f64]| v.iter().filter(|&&x| x <= 0.05).count() as f64 / v.len() as f64;
            let (ours, theirs) = (share(&r.p_sim), share(&p));
            eprintln!("share p_sim <= 0.05: jointmap {ours:.4}, esda {theirs:.4}");
            // Exact ties count as "at least as extreme" here; esda breaks them by
            // rounding noise (module docs): a few points apart, as esda and
            // pygeoda are from each other.
            assert!((ours - theirs).abs() < 0.08);
        }
    }

    /// A lattice with one hot and one cold block on a noisy background.
    fn clustered(side: usize, seed: u64) -> (Vec<[f64; 2]>, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let xy: Vec<[f64; 2]> = (0..side * side)
            .map(|i| [(i % side) as f64, (i / side) as f64])
            .collect();
        let y = xy
            .iter()
            .map(|p| {
                let base = rng.below(5) as f64;
                if p[0] < 10.0 && p[1] < 10.0 {
                    base + 8.0
                } else if p[0] >= 30.0 && p[1] >= 30.0 && p[0] < 40.0 && p[1] < 40.0 {
                    0.0
                } else {
                    base + 2.0
                }
            })
            .collect();
        (xy, y)
    }

    #[test]
    fn p_values_are_sane() {
        // Random values: p_sim is folded (the nearer tail), so about 10 % of
        // cells fall at or below 0.05, and none below 1 / (P + 1).
        let side = 60;
        let xy: Vec<[f64; 2]> = (0..side * side)
            .map(|i| [(i % side) as f64, (i / side) as f64])
            .collect();
        let mut rng = Rng::new(3);
        let y: Vec<f64> = (0..xy.len()).map(|_| rng.f64() * 10.0).collect();
        let w = Weights::distance_band(&xy, 1.5).unwrap();
        let r = local_moran(&y, &w, 99, 42).unwrap();
        let share = r.p_sim.iter().filter(|&&p| p <= 0.05).count() as f64 / xy.len() as f64;
        assert!((0.06..=0.14).contains(&share), "share p <= 0.05: {share}");
        assert!(r.p_sim.iter().all(|&p| (0.01..=1.0).contains(&p)));
        let mean = r.p_sim.iter().sum::<f64>() / xy.len() as f64;
        // Folded: (min(larger, 99 - larger) + 1) / 100 averages about 0.255.
        assert!((0.2..=0.31).contains(&mean), "mean p {mean}");

        // Planted clusters: their interiors are HH / LL at the floor of p.
        let (xy, y) = clustered(50, 4);
        let w = Weights::distance_band(&xy, 1.5).unwrap();
        let r = local_moran(&y, &w, 99, 42).unwrap();
        let hot = 5 * 50 + 5;
        let cold = 35 * 50 + 35;
        assert_eq!(
            (r.quadrant[hot], r.quadrant[cold]),
            (Quadrant::HH, Quadrant::LL)
        );
        assert!(r.i[hot] > 0.0 && r.i[cold] > 0.0);
        assert_eq!((r.p_sim[hot], r.p_sim[cold]), (0.01, 0.01));
        // More permutations resolve smaller p-values.
        let r999 = local_moran(&y, &w, 999, 42).unwrap();
        assert_eq!(r999.p_sim[hot], 0.001);
    }

    #[test]
    fn identical_with_one_and_two_threads() {
        let (xy, y) = clustered(120, 5);
        let run = || {
            let band = Weights::distance_band(&xy, 2.5).unwrap();
            local_moran(&y, &band, 99, 9).unwrap()
        };
        let one = with_threads(1, run);
        let two = with_threads(2, run);
        assert_eq!(one.i, two.i);
        assert_eq!(one.quadrant, two.quadrant);
        assert_eq!(
            one.p_sim.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
            two.p_sim.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
        );
        // Another seed gives other draws but the same statistic.
        let (xy2, y2) = clustered(40, 5);
        let w2 = Weights::distance_band(&xy2, 2.5).unwrap();
        let a = local_moran(&y2, &w2, 99, 1).unwrap();
        let b = local_moran(&y2, &w2, 99, 2).unwrap();
        assert_eq!(a.i, b.i);
        assert_ne!(a.p_sim, b.p_sim);
    }

    #[test]
    fn general_weights_are_permuted_in_random_order() {
        // Inverse-distance weights through from_csr: unequal within a row.
        let (xy, y) = clustered(30, 6);
        let band = Weights::distance_band(&xy, 2.5).unwrap();
        let mut offsets = vec![0];
        let mut nbs = Vec::new();
        let mut ws = Vec::new();
        for i in 0..band.len() {
            for &j in band.neighbors(i).0 {
                let d = ((xy[i][0] - xy[j as usize][0]).powi(2)
                    + (xy[i][1] - xy[j as usize][1]).powi(2))
                .sqrt();
                nbs.push(j);
                ws.push(1.0 / d);
            }
            offsets.push(nbs.len());
        }
        let w = Weights::from_csr(offsets, nbs, ws).unwrap();
        let run = || local_moran(&y, &w, 199, 3).unwrap();
        let one = with_threads(1, run);
        assert_eq!(one, with_threads(2, run));
        assert_eq!(one.p_sim[5 * 30 + 5], 0.005);
        assert!(one.p_sim.iter().all(|&p| (0.005..=1.0).contains(&p)));
    }

    #[test]
    fn permuting_cells_permutes_statistic_and_quadrants() {
        let (xy, y) = clustered(40, 7);
        let perm = permutation(8, xy.len());
        let xy2: Vec<[f64; 2]> = perm.iter().map(|&i| xy[i]).collect();
        let y2: Vec<f64> = perm.iter().map(|&i| y[i]).collect();
        let a = local_moran(&y, &Weights::distance_band(&xy, 2.0).unwrap(), 0, 0).unwrap();
        let b = local_moran(&y2, &Weights::distance_band(&xy2, 2.0).unwrap(), 0, 0).unwrap();
        for (new, &old) in perm.iter().enumerate() {
            assert!((a.i[old] - b.i[new]).abs() <= 1e-12 * a.i[old].abs().max(1e-6));
            assert_eq!(a.quadrant[old], b.quadrant[new]);
        }
    }

    /// A lattice golden file of the reference script: the file, its values
    /// and their weights.
    fn lattice_golden(name: &str) -> (serde_json::Value, Vec<f64>, Weights) {
        let g = golden(name);
        let m = &g["meta"];
        let side = m["side"].as_u64().unwrap() as usize;
        let xy: Vec<[f64; 2]> = (0..side * side)
            .map(|i| [(i % side) as f64, (i / side) as f64])
            .collect();
        let y = f64s(&g["y"]);
        let w = Weights::distance_band(&xy, m["threshold"].as_f64().unwrap()).unwrap();
        (g, y, w)
    }

    /// The pseudo p-values, bit for bit, from the reference script's own
    /// re-implementation of the draws (tools/reference/hotspot_inference.py),
    /// with esda's I and quadrants and the FDR-corrected significance.
    #[test]
    fn tie_rule_matches_the_reference_draws_exactly() {
        let (g, y, w) = lattice_golden("moran_ties.json");
        let m = &g["meta"];
        let permutations = m["permutations"].as_u64().unwrap() as usize;
        let r = local_moran(&y, &w, permutations, m["seed"].as_u64().unwrap()).unwrap();
        assert_close("ties Is", &r.i, &f64s(&g["is"]), 1e-12, FLOOR);
        assert_eq!(codes(&r.quadrant), i64s(&g["q"]));
        let want = f64s(&g["p_sim"]);
        assert_eq!(
            r.p_sim.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
        );
        // The data have ties where the rule matters: GeoDa's differs on many cells.
        let geoda = f64s(&g["p_geoda_rule"]);
        assert!(want.iter().zip(&geoda).filter(|(a, b)| a != b).count() > 50);
        let bools = |v: &serde_json::Value| -> Vec<bool> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_bool().unwrap())
                .collect()
        };
        let (sig, sig_fdr) = (bools(&g["significant"]), bools(&g["significant_fdr"]));
        assert_eq!(r.significant(0.05, false), sig);
        assert_eq!(r.significant(0.05, true), sig_fdr);
        assert!(sig_fdr.iter().any(|&s| s) && sig_fdr != sig);
    }

    /// Sequential p-values (Besag and Clifford) equal the reference's bit for
    /// bit; a cell that never stops has the fixed-R p-value.
    #[test]
    fn sequential_p_values_match_the_reference_draws_exactly() {
        let (g, y, w) = lattice_golden("moran_sequential.json");
        let m = &g["meta"];
        let r_max = m["permutations"].as_u64().unwrap() as usize;
        let h = m["h"].as_u64().unwrap() as usize;
        let seed = m["seed"].as_u64().unwrap();
        let r = local_moran_sequential(&y, &w, r_max, h, seed, None).unwrap();
        let want = f64s(&g["p_sim"]);
        assert_eq!(
            r.p_sim.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
        );
        let fdr: Vec<bool> = g["significant_fdr"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect();
        assert_eq!(r.significant(0.05, true), fdr);
        assert!(fdr.iter().any(|&s| s));
        // Cells that ran every draw have the fixed-R p-value; most cells stop early.
        let fixed = local_moran(&y, &w, r_max, seed).unwrap();
        let draws = i64s(&g["draws"]);
        let full = draws.iter().filter(|&&d| d as usize == r_max).count();
        assert!(
            full > 0 && full < draws.len() / 4,
            "{full} cells ran all draws"
        );
        for (c, &d) in draws.iter().enumerate() {
            if d as usize == r_max {
                assert_eq!(r.p_sim[c].to_bits(), fixed.p_sim[c].to_bits(), "cell {c}");
            }
        }
        assert!(local_moran_sequential(&y, &w, r_max, 0, seed, None).is_err());
    }

    #[test]
    fn ties_count_as_extreme_in_both_tails() {
        let mut t = Tails::default();
        for draw in [0.0, 0.0, 0.0, 1.0] {
            t.add(draw, 0.0);
        }
        // 4 draws >= 0, 3 draws <= 0: M = 3 (GeoDa: min(3, 4 - 3) = 1, p 0.4).
        assert_eq!(t, Tails { ge: 4, le: 3 });
        assert_eq!(t.pseudo_p(4), 0.8);
        let mut strict = Tails::default();
        for draw in [1.0, 2.0, 3.0, -1.0] {
            strict.add(draw, 0.5);
        }
        // Without ties the two tails partition the draws, as in esda.
        assert_eq!(strict.ge + strict.le, 4);
        assert_eq!(strict.pseudo_p(4), 0.4);
    }

    #[test]
    fn empty_cells_among_empty_neighbours_are_not_low_low_clusters() {
        // A sparse map: one event in 30 cells on average, a 3 x 3 block of
        // events in one corner, the rest empty.
        let side = 60;
        let xy: Vec<[f64; 2]> = (0..side * side)
            .map(|i| [(i % side) as f64, (i / side) as f64])
            .collect();
        let mut rng = Rng::new(12);
        let y: Vec<f64> = xy
            .iter()
            .map(|p| {
                if p[0] < 3.0 && p[1] < 3.0 {
                    5.0
                } else {
                    f64::from(u8::from(rng.chance(1.0 / 30.0)))
                }
            })
            .collect();
        let w = Weights::distance_band(&xy, 1.5).unwrap();
        let r = local_moran(&y, &w, 999, 3).unwrap();
        let empty_among_empty: Vec<usize> = (0..y.len())
            .filter(|&c| y[c] == 0.0 && w.neighbors(c).0.iter().all(|&j| y[j as usize] == 0.0))
            .collect();
        assert!(empty_among_empty.len() > 1500);
        for &c in &empty_among_empty {
            assert_eq!(r.quadrant[c], Quadrant::LL);
            // P(8 empty draws) is about (29/30)^8 = 0.76: far from significant.
            assert!(r.p_sim[c] > 0.5, "cell {c}: p {}", r.p_sim[c]);
        }
        // The planted block is found; the FDR correction keeps a subset (with
        // 999 permutations over 3,600 cells, p = 0.001 passes it only when
        // at least 72 cells reach it).
        let (sig, sig_fdr) = (r.significant(0.05, false), r.significant(0.05, true));
        assert_eq!(
            (r.quadrant[side + 1], r.p_sim[side + 1]),
            (Quadrant::HH, 0.001)
        );
        assert!(sig[side + 1]);
        assert!(sig_fdr.iter().zip(&sig).all(|(&f, &s)| !f || s));
        assert!(empty_among_empty.iter().all(|&c| !sig[c]));
    }

    #[test]
    fn degenerate_cells_are_not_significant() {
        // Cell 0 is an island; cell 1 has the mean value (z = 0).
        let xy = vec![
            [0.0, 0.0],
            [100.0, 0.0],
            [101.0, 0.0],
            [102.0, 0.0],
            [103.0, 0.0],
        ];
        let y = vec![9.0, 4.0, 1.0, 3.0, 3.0];
        let w = Weights::distance_band(&xy, 1.5).unwrap();
        let r = local_moran(&y, &w, 99, 1).unwrap();
        assert_eq!(
            (r.i[0], r.p_sim[0], r.quadrant[0]),
            (0.0, 1.0, Quadrant::HL)
        );
        assert_eq!((r.i[1], r.p_sim[1]), (0.0, 1.0));
        let c = local_moran(&[2.0; 5], &w, 99, 1).unwrap();
        assert!(c.i.iter().all(|&v| v == 0.0) && c.p_sim.iter().all(|&p| p == 1.0));
        assert!(c.quadrant.iter().all(|&q| q == Quadrant::LL));
        // n = 2: the only other cell is always drawn, so every draw ties
        // with the observation: nothing to test (GeoDa's rule gives 0.1).
        let two = Weights::distance_band(&xy[2..4], 1.5).unwrap();
        let r2 = local_moran(&[1.0, 3.0], &two, 9, 1).unwrap();
        assert!(r2.p_sim.iter().all(|&p| p == 1.0));
        assert!(local_moran(&y[..2], &w, 9, 1).is_err());
        assert!(local_moran(&[1.0, f64::NAN, 1.0, 1.0, 1.0], &w, 9, 1).is_err());
        assert_eq!(Quadrant::HL.as_str(), "HL");
    }
}
