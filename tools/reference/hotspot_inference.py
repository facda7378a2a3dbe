"""Reference values for the inference of the hotspot engine: Local Moran's pseudo p-values with
ties, their FDR correction, and row-standardised Gi* against a permutation reference.

Writes the golden files that the tests in src/analysis/{local_moran,getis_ord}.rs compare against:

    tools/reference/.venv/bin/python tools/reference/hotspot_inference.py [--out DIR]

(venv pinned in tools/reference/requirements.txt; numpy, esda and libpysal are used.)

* moran_ties.json: Local Moran's I on a 14 x 14 lattice of sparse Poisson counts (many ties),
  queen neighbours (distance band 1.5), row-standardised. esda's Moran_Local draws its
  permutations with its own generator, so the p-values cannot be compared through esda. Instead
  this script re-implements jointmap's documented draws exactly (src/rng.rs: SplitMix64 seeding,
  xoshiro256++, Lemire's multiply-high `below`, the per-cell stream `for_item(seed, "LISA", c)`;
  src/analysis/local_moran.rs: Floyd's sample of k cells among the n - 1 others) and computes
  every p-value from those draws with exact integer neighbourhood sums:

      M = min(#{draws with I >= I_obs}, #{draws with I <= I_obs})   (ties in both tails)
      p = (M + 1) / (R + 1);  1 for a cell without neighbours or with the mean value

  so the Rust p-values must be equal bit for bit. It also records GeoDa's rule (ties counted
  only in the upper tail, folded with R - count) to show where the two differ, esda's I and q,
  and the Benjamini-Hochberg significance at 0.05 of the p-values.
* moran_sequential.json: the same lattice and draws with sequential Monte Carlo p-values
  (Besag and Clifford 1991), jointmap's default: a cell stops drawing once h = 10 draws are at
  least as extreme on the nearer tail, p = h / l after l draws; a cell that never gets there
  within R = 9,999 draws has (M + 1) / (R + 1). Equal bit for bit, with the draws each cell made.
* gistar_row_permutation.json: Gi* with row-standardised inverse-distance weights (distance band
  2,500 m, the cell itself weighing as its heaviest neighbour) on 400 jittered lattice points with
  clustered Poisson counts. The closed form is ArcGIS's general Getis-Ord z for arbitrary weights,
      z_i = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n sum_j w_ij^2 - W_i^2) / (n - 1))),
  evaluated here in numpy as written (not rearranged). The permutation reference randomises all
  n values over all n cells (the randomisation under which Getis & Ord derive the moments; the
  cell's own value is part of Gi*), 20,000 times: z_perm = (L_obs - mean) / sd of the permuted
  statistic, with its Monte Carlo standard error from the permutation sample's kurtosis.
"""

import argparse
import json
import math
import os
from fractions import Fraction

import numpy as np

import esda
import libpysal

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
LISA_STREAM = 0x4C495341


def mix64(x):
    z = x & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Rng:
    """jointmap's generator (src/rng.rs): xoshiro256++ seeded by SplitMix64."""

    def __init__(self, seed):
        state = seed & M64
        s = []
        for _ in range(4):
            state = (state + GOLDEN) & M64
            s.append(mix64(state))
        self.s = s

    @classmethod
    def for_item(cls, seed, stream, index):
        key = mix64(seed ^ mix64(((stream * GOLDEN) & M64) ^ 0xD1B54A32D192ED03)) ^ mix64(
            ((index + 1) * GOLDEN) & M64
        )
        return cls(key)

    def next_u64(self):
        s = self.s
        result = (rotl((s[0] + s[3]) & M64, 23) + s[0]) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        return (self.next_u64() * n) >> 64


def draw_others(rng, n, own, k):
    """Floyd's sample of k cells among the n - 1 cells other than `own`, in jointmap's order."""
    skip = lambda t: t + 1 if t >= own else t
    taken = set()
    drawn = []
    others = n - 1
    for top in range(others - k, others):
        t = rng.below(top + 1)
        pick = top if skip(t) in taken else t
        j = skip(pick)
        taken.add(j)
        drawn.append(j)
    return drawn


def bh_critical(p, alpha):
    ps = sorted(v for v in p if math.isfinite(v))
    m = len(ps)
    crit = None
    for k in range(1, m + 1):
        if ps[k - 1] <= (k / m) * alpha:
            crit = ps[k - 1]
    return crit


def dump(out_dir, name, obj):
    path = os.path.join(out_dir, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    size = os.path.getsize(path)
    assert size < 500_000, f"{name} is {size} bytes"
    print(f"wrote {path} ({size / 1000:.0f} kB)")


def meta(**kw):
    return {
        "generator": "tools/reference/hotspot_inference.py",
        "esda": esda.__version__,
        "libpysal": libpysal.__version__,
        "numpy": np.__version__,
        **kw,
    }


def band_neighbours(xy, threshold):
    n = len(xy)
    out = []
    for i in range(n):
        row = []
        for j in range(n):
            if j != i:
                dx = xy[j][0] - xy[i][0]
                dy = xy[j][1] - xy[i][1]
                if dx * dx + dy * dy <= threshold * threshold:
                    row.append(j)
        out.append(row)
    return out


def ties_lattice(side):
    """The lattice of moran_ties: sparse Poisson counts with a block of 4 more in one corner, and
    its queen neighbours (band 1.5)."""
    rng = np.random.default_rng(20261201)
    n = side * side
    xy = [(float(i % side), float(i // side)) for i in range(n)]
    y = rng.poisson(0.25, n).astype(int)
    for i in range(n):
        if xy[i][0] < 3 and xy[i][1] < 3:
            y[i] += 4
    y = [int(v) for v in y]
    return n, y, band_neighbours(xy, 1.5), sum(y)


def moran_ties(out_dir):
    side, permutations, seed, alpha = 14, 999, 77, 0.05
    n, y, nb, total = ties_lattice(side)
    p, p_geoda, ties = [], [], []
    for c in range(n):
        k = len(nb[c])
        if k == 0 or Fraction(y[c]) == Fraction(total, n):
            p.append(1.0)
            p_geoda.append(1.0)
            ties.append(0)
            continue
        observed = sum(y[j] for j in nb[c])
        r = Rng.for_item(seed, LISA_STREAM, c)
        ge = le = tie = 0
        for _ in range(permutations):
            s = sum(y[j] for j in draw_others(r, n, c, k))
            ge += s >= observed
            le += s <= observed
            tie += s == observed
        p.append((min(ge, le) + 1) / (permutations + 1))
        # GeoDa: count I >= I_obs (ties included), fold with R - count.
        larger = ge if y[c] * n > total else le
        p_geoda.append((min(larger, permutations - larger) + 1) / (permutations + 1))
        ties.append(tie)
    w = libpysal.weights.W({i: nb[i] for i in range(n)}, silence_warnings=True)
    m = esda.Moran_Local(np.array(y, dtype=float), w, transformation="r", permutations=0)
    crit = bh_critical(p, alpha)
    dump(
        out_dir,
        "moran_ties.json",
        {
            "meta": meta(
                what="Local Moran pseudo p-values from jointmap's draws, ties in both tails",
                side=side,
                threshold=1.5,
                permutations=permutations,
                seed=seed,
                alpha=alpha,
            ),
            "y": y,
            "p_sim": p,
            "p_geoda_rule": p_geoda,
            "ties": ties,
            "is": [float(v) for v in m.Is],
            "q": [int(v) for v in m.q],
            "significant": [v <= alpha for v in p],
            "significant_fdr": [crit is not None and v <= crit for v in p],
        },
    )


def gistar_row_permutation(out_dir):
    side, spacing, threshold, permutations = 20, 1000.0, 2500.0, 20000
    rng = np.random.default_rng(20261202)
    n = side * side
    xy = [
        (
            float((i % side) * spacing + rng.uniform(-300.0, 300.0)),
            float((i // side) * spacing + rng.uniform(-300.0, 300.0)),
        )
        for i in range(n)
    ]
    lam = np.array(
        [0.6 + 5.0 * math.exp(-((x - 6e3) ** 2 + (yy - 7e3) ** 2) / (2 * 2.5e3**2)) for x, yy in xy]
    )
    y = rng.poisson(lam).astype(float)
    nb = band_neighbours(xy, threshold)
    wfull = np.zeros((n, n))
    for i in range(n):
        for j in nb[i]:
            dx = xy[i][0] - xy[j][0]
            dy = xy[i][1] - xy[j][1]
            wfull[i, j] = 1.0 / math.sqrt(dx * dx + dy * dy)
        wfull[i, i] = wfull[i].max() if nb[i] else 1.0
        wfull[i] /= wfull[i].sum()
    xbar = y.mean()
    s = math.sqrt((y * y).mean() - xbar * xbar)
    wi = wfull.sum(axis=1)
    s1 = (wfull * wfull).sum(axis=1)
    lobs = wfull @ y
    z = (lobs - xbar * wi) / (s * np.sqrt((n * s1 - wi * wi) / (n - 1)))
    z_esda_form = (lobs - xbar * wi) / (s * np.sqrt(wi * (n - wi) / (n - 1)))
    perm = np.empty((permutations, n))
    prng = np.random.default_rng(7)
    for r in range(permutations):
        perm[r] = prng.permutation(y)
    lp = perm @ wfull.T
    mean = lp.mean(axis=0)
    sd = lp.std(axis=0)
    z_perm = (lobs - mean) / sd
    kurt = ((lp - mean) ** 4).mean(axis=0) / sd**4
    se = np.sqrt((1.0 + z_perm**2 * (kurt - 1.0) / 4.0) / permutations)
    dump(
        out_dir,
        "gistar_row_permutation.json",
        {
            "meta": meta(
                what="row-standardised inverse-distance Gi*: ArcGIS closed form and total randomisation",
                threshold=threshold,
                permutations=permutations,
            ),
            "x": [p[0] for p in xy],
            "y": [p[1] for p in xy],
            "values": [float(v) for v in y],
            "z": [float(v) for v in z],
            "z_esda_form": [float(v) for v in z_esda_form],
            "z_perm": [float(v) for v in z_perm],
            "z_perm_se": [float(v) for v in se],
        },
    )


def moran_sequential(out_dir):
    """moran_sequential.json: the lattice of moran_ties with sequential Monte Carlo p-values
    (Besag and Clifford 1991): a cell's draws stop once h of them are at least as extreme on the
    nearer tail (ties in both tails), p = h / l after l draws; otherwise (M + 1) / (R + 1)."""
    side, permutations, h, seed, alpha = 14, 9999, 10, 77, 0.05
    n, y, nb, total = ties_lattice(side)
    p, draws = [], []
    for c in range(n):
        k = len(nb[c])
        if k == 0 or Fraction(y[c]) == Fraction(total, n):
            p.append(1.0)
            draws.append(0)
            continue
        observed = sum(y[j] for j in nb[c])
        r = Rng.for_item(seed, LISA_STREAM, c)
        ge = le = 0
        value = None
        for l in range(1, permutations + 1):
            s = sum(y[j] for j in draw_others(r, n, c, k))
            ge += s >= observed
            le += s <= observed
            if min(ge, le) >= h:
                value = (h / l, l)
                break
        if value is None:
            value = ((min(ge, le) + 1) / (permutations + 1), permutations)
        p.append(value[0])
        draws.append(value[1])
    crit = bh_critical(p, alpha)
    dump(
        out_dir,
        "moran_sequential.json",
        {
            "meta": meta(
                what="Local Moran sequential p-values (Besag and Clifford 1991) from jointmap's draws",
                side=side,
                threshold=1.5,
                permutations=permutations,
                h=h,
                seed=seed,
                alpha=alpha,
            ),
            "y": y,
            "p_sim": p,
            "draws": draws,
            "significant_fdr": [crit is not None and v <= crit for v in p],
        },
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    args = ap.parse_args()
    moran_ties(args.out)
    moran_sequential(args.out)
    gistar_row_permutation(args.out)


if __name__ == "__main__":
    main()
