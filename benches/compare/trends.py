"""Python reference for the trends benchmark (benches/compare/trends.sh): the same
classification jointmap's `classify_bins` does (benches/trends.rs, "classify 240k x 52"),
on the same cube, read from the same file.

    trends.py cube OUT [--side 490] [--steps 52] [--seed 20261202]
        writes a seeded cube of side x side lattice cells (unit spacing) x steps of counts:
        header b"JMCUBE1\\0", u32 cols, u32 rows, u32 steps, u32 0, then f64 LE values,
        cell-major (cell = row * cols + col, then step).
    trends.py classify CUBE [--repeat 3] [--subset 2000] [--patterns FILE]
        classifies it (window 1, FDR, trend alpha 0.05, band 1.5: the eight queen neighbours)
        twice: (1) vectorised numpy, exact (the same float operations pymannkendall does, per
        row), timed `--repeat` times; (2) pymannkendall.original_test per cell (on the values
        and on the Gi* z series, with Sen's slope), timed on `--subset` cells and scaled
        linearly to the whole cube (plus the whole-cube Gi* and FDR, which are array
        operations either way); the subset's pymannkendall results are checked against (1)
        within 1e-9. With --patterns (one category per line, written by the bench), the
        categories are compared cell by cell with jointmap's.

The steps of the classification (src/analysis/trends/):
* space-time Gi* per bin (st_gistar.rs): L = the cell and its band neighbours in the step
  (window 1), W their number, z = (n L - W Y) / (n S sqrt(W (n - W) / (n - 1))), Y the sum and
  S the population standard deviation of every bin, p = erfc(|z| / sqrt 2);
* the bins' classes at 90/95/99 % with Benjamini-Hochberg over every bin (fdr.rs);
* per cell, Mann-Kendall (S, variance with tie correction, z, p: pymannkendall's
  original_test) on the values and on the z series, and Sen's slope of both;
* the emerging hot spot category of each cell (emerging.rs, ESRI's rules).
"""

import argparse
import math
import statistics
import struct
import sys
import time

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree
from scipy.special import erfc
from scipy.stats import norm

MAGIC = b"JMCUBE1\0"
PATTERNS = [
    "no-pattern",
    "new-hot", "consecutive-hot", "intensifying-hot", "persistent-hot",
    "diminishing-hot", "sporadic-hot", "oscillating-hot", "historical-hot",
    "new-cold", "consecutive-cold", "intensifying-cold", "persistent-cold",
    "diminishing-cold", "sporadic-cold", "oscillating-cold", "historical-cold",
]
LEVELS = [(0.10, 1), (0.05, 2), (0.01, 3)]
BAND = 1.5
WINDOW = 1
ALPHA = 0.05


def make_cube(out, side, steps, seed):
    """Poisson counts: a quiet background, escalating blocks (last 20 steps), lasting hot
    blocks, fading blocks and near-empty (cold) blocks, on 40 x 40 cell blocks."""
    rng = np.random.default_rng(seed)
    r, c = np.divmod(np.arange(side * side), side)
    block = (c // 40) * 7 + (r // 40) * 3
    t = np.arange(steps)[None, :]
    rate = np.full((side * side, steps), 0.6)
    esc = (block % 11 == 0)[:, None] & (t >= steps - 20)
    rate = rate + np.where(esc, 3.0 * (t - (steps - 20) + 1) / 20.0, 0.0)
    rate = rate + np.where((block % 13 == 1)[:, None], 1.4, 0.0)
    rate = rate + np.where((block % 17 == 2)[:, None], 2.0 * (1.0 - t / steps), 0.0)
    rate = np.where((block % 19 == 3)[:, None], 0.05, rate)
    values = rng.poisson(rate).astype("<f8")
    with open(out, "wb") as f:
        f.write(struct.pack("<8sIIII", MAGIC, side, side, steps, 0))
        f.write(values.tobytes())


def read_cube(path):
    with open(path, "rb") as f:
        magic, cols, rows, steps, _ = struct.unpack("<8sIIII", f.read(24))
        if magic != MAGIC:
            sys.exit(f"{path}: not a cube file")
        v = np.frombuffer(f.read(), dtype="<f8")
    if v.size != cols * rows * steps:
        sys.exit(f"{path}: {v.size} values for {cols} x {rows} x {steps}")
    r, c = np.divmod(np.arange(cols * rows), cols)
    xy = np.column_stack([c, r]).astype(float)
    return xy, v.reshape(cols * rows, steps).astype(float)


def weights(xy):
    """Binary distance-band weights (the cell itself excluded), as a sparse matrix."""
    pairs = cKDTree(xy).query_pairs(BAND, output_type="ndarray")
    n = len(xy)
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))


def st_gistar(v, w):
    cells, steps = v.shape
    n = v.size
    total = v.sum()
    sd = math.sqrt(((v - total / n) ** 2).sum() / n)
    space = v + w @ v
    k = np.asarray(w.sum(axis=1)).ravel() + 1.0
    csum = np.cumsum(space, axis=1)
    first = np.maximum(np.arange(steps) + 1 - WINDOW, 0)
    lag = csum - np.where(first > 0, csum[:, np.maximum(first - 1, 0)], 0.0)
    wi = k[:, None] * (np.arange(steps) + 1 - first)[None, :]
    var = wi * (n - wi) / (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (n * lag - wi * total) / (n * sd * np.sqrt(var))
    bad = (var <= 0) | (sd == 0)
    z[bad] = 0.0
    p = erfc(np.abs(z) / math.sqrt(2.0))
    p[bad] = 1.0
    return z, p


def fdr_bins(z, p):
    flat = np.sort(p[np.isfinite(p)])
    m = flat.size
    bins = np.zeros(z.shape, dtype=np.int8)
    for alpha, level in LEVELS:
        ok = np.nonzero(flat <= (np.arange(1, m + 1) / m) * alpha)[0]
        if ok.size == 0:
            continue
        crit = flat[ok[-1]]
        sig = (p <= crit) & (z != 0)
        bins = np.where(sig, np.where(z > 0, level, -level), bins).astype(np.int8)
    return bins


def mann_kendall(x):
    """pymannkendall.original_test's s, var_s, z, p for every row of x."""
    rows, n = x.shape
    s = np.zeros(rows)
    for k in range(n - 1):
        s += np.sign(x[:, k + 1:] - x[:, k:k + 1]).sum(axis=1)
    srt = np.sort(x, axis=1)
    start = np.ones(srt.shape, dtype=bool)
    start[:, 1:] = srt[:, 1:] != srt[:, :-1]
    gid = np.cumsum(start.ravel()) - 1
    size = np.bincount(gid).astype(float)
    grow = np.repeat(np.arange(rows), n)[start.ravel()]
    ties = np.bincount(grow, weights=size * (size - 1) * (2 * size + 5), minlength=rows)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    p = 2 * (1 - norm.cdf(np.abs(z)))
    return s, var, z, p


def sen_slope(x, chunk=8192):
    """pymannkendall.sens_slope's slope for every row: the median of the pairwise slopes."""
    n = x.shape[1]
    i, j = np.triu_indices(n, 1)
    order = np.lexsort((j, i))  # pymannkendall's order: by i, then j
    i, j = i[order], j[order]
    out = np.empty(x.shape[0])
    for a in range(0, x.shape[0], chunk):
        b = min(a + chunk, x.shape[0])
        out[a:b] = np.median((x[a:b, j] - x[a:b, i]) / (j - i), axis=1)
    return out


def emerging(bins, mk_z, mk_p):
    cells, n = bins.shape
    bins = np.sign(bins)  # hot or cold at any level, as `k.bin().signum()`
    direction = np.where((mk_p <= ALPHA) & (mk_z != 0), np.sign(mk_z), 0).astype(int)
    out = np.zeros(cells, dtype=np.int64)
    done = np.zeros(cells, dtype=bool)
    for sign, base in [(1, 1), (-1, 9)]:
        on = bins == sign
        opp = bins == -sign
        count = on.sum(axis=1)
        most = 10 * count >= 9 * n
        last = on[:, -1]
        run = np.cumprod(on[:, ::-1], axis=1).sum(axis=1)
        before = count - run
        opp_before = (opp & (np.arange(n)[None, :] < (n - run)[:, None])).any(axis=1)
        d = direction * sign
        cat = np.select(
            [~last & most, ~last, count == 1, (before == 0) & ~most,
             most & (d == 1), most & (d == -1), most, opp_before],
            [base + 7, -1, base + 0, base + 1, base + 2, base + 4, base + 3, base + 6],
            default=base + 5,
        )
        take = ~done & (cat >= 0)
        out[take] = cat[take]
        done |= take
    return out


def classify_numpy(xy, v):
    w = weights(xy)
    z, p = st_gistar(v, w)
    bins = fdr_bins(z, p)
    mk_v = mann_kendall(v)
    mk_z = mann_kendall(z)
    sen_v = sen_slope(v)
    sen_z = sen_slope(z)
    return emerging(bins, mk_z[2], mk_z[3]), (mk_v, mk_z, sen_v, sen_z), (z, bins)


def per_cell_pymannkendall(v, z, bins, subset):
    import pymannkendall as mk

    out = []
    for c in subset:
        rv = mk.original_test(v[c])
        rz = mk.original_test(z[c])
        out.append((rv, rz, emerging(bins[c:c + 1], np.array([rz.z]), np.array([rz.p]))[0]))
    return out


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("cube")
    a.add_argument("out")
    a.add_argument("--side", type=int, default=490)
    a.add_argument("--steps", type=int, default=52)
    a.add_argument("--seed", type=int, default=20261202)
    b = sub.add_parser("classify")
    b.add_argument("cube")
    b.add_argument("--repeat", type=int, default=3)
    b.add_argument("--subset", type=int, default=2000)
    b.add_argument("--patterns")
    args = ap.parse_args()
    if args.cmd == "cube":
        make_cube(args.out, args.side, args.steps, args.seed)
        return
    xy, v = read_cube(args.cube)
    cells, steps = v.shape
    print(f"cube: {cells} cells x {steps} steps ({args.cube})")

    times, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        cats, (mk_v, mk_z, sen_v, sen_z), (z, bins) = classify_numpy(xy, v)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    numpy_median = statistics.median(times)
    print(f"numpy vectorised (exact): median {numpy_median:.2f} s wall, "
          f"{statistics.median(cpu):.2f} s CPU, over {args.repeat} runs "
          f"({', '.join(f'{t:.2f}' for t in times)})")
    counts = np.bincount(cats, minlength=len(PATTERNS))
    print("categories: " + ", ".join(f"{PATTERNS[i]} {counts[i]}" for i in range(len(PATTERNS)) if counts[i]))

    # Gi* and FDR over the whole cube (array operations in any Python version), then the
    # per-cell part with pymannkendall on a spread subset, scaled linearly.
    t0, c0 = time.perf_counter(), time.process_time()
    z2, p2 = st_gistar(v, weights(xy))
    bins2 = fdr_bins(z2, p2)
    t_array, c_array = time.perf_counter() - t0, time.process_time() - c0
    subset = np.linspace(0, cells - 1, min(args.subset, cells)).astype(int)
    t0, c0 = time.perf_counter(), time.process_time()
    ref = per_cell_pymannkendall(v, z2, bins2, subset)
    t_subset, c_subset = time.perf_counter() - t0, time.process_time() - c0
    scale = cells / len(subset)
    per_cell_total = t_array + t_subset * scale
    print(f"pymannkendall per cell: {per_cell_total:.1f} s wall, "
          f"{c_array + c_subset * scale:.1f} s CPU (Gi* and FDR on the whole cube "
          f"{t_array:.2f} s + {len(subset)} cells in {t_subset:.2f} s, scaled linearly to {cells})")
    worst = 0.0
    for c, (rv, rz, cat) in zip(subset, ref):
        for r, (s, var, zz, pp), slope in [(rv, mk_v, sen_v), (rz, mk_z, sen_z)]:
            for got, want in [(s[c], r.s), (var[c], r.var_s), (zz[c], r.z), (pp[c], r.p), (slope[c], r.slope)]:
                worst = max(worst, abs(got - want))
        if cat != cats[c]:
            sys.exit(f"cell {c}: per-cell category {PATTERNS[cat]}, vectorised {PATTERNS[cats[c]]}")
    if worst > 1e-9:
        sys.exit(f"vectorised Mann-Kendall/Sen differ from pymannkendall by {worst}")
    print(f"vectorised = pymannkendall on {len(subset)} cells (largest difference {worst:.1e})")

    if args.patterns:
        with open(args.patterns) as f:
            theirs = [line.strip() for line in f]
        if len(theirs) != cells:
            sys.exit(f"{args.patterns}: {len(theirs)} categories for {cells} cells")
        differ = [c for c in range(cells) if theirs[c] != PATTERNS[cats[c]]]
        print(f"jointmap's categories: {cells - len(differ)} of {cells} cells the same")
        for c in differ[:10]:
            print(f"  cell {c}: jointmap {theirs[c]}, python {PATTERNS[cats[c]]}")
        if differ:
            sys.exit(1)
    print(f"PYTHON_NUMPY_MEDIAN_S={numpy_median:.3f}")
    print(f"PYTHON_PER_CELL_S={per_cell_total:.1f}")


if __name__ == "__main__":
    main()
