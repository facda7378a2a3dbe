"""Reference values for the hotspot engine: Getis-Ord Gi*, Local Moran's I and the FDR classes.

Writes the golden files that the tests at the bottom of src/analysis/{weights,getis_ord,
local_moran,fdr}.rs compare against:

    tools/reference/.venv/bin/python tools/reference/gistar_moran.py [--ucdp PATH] [--out DIR]

    --ucdp PATH  UCDP GED 23.1 CAR events (default ../shared/data/ucdp-ged-23.1-car.geojson,
                 relative to the repository root); the UCDP files are skipped when it is absent.
    --out DIR    where to write (default tests/golden).

The venv is pinned in tools/reference/requirements.txt (esda 2.9.0, libpysal 4.14.1, numpy 2.4.6,
scipy 1.17.1). Everything is deterministic: synthetic inputs come from a seeded numpy generator and
are stored in the golden files; no permutation inference is run (p-values of Local Moran depend
on the RNG and are not compared).

Files written:

* gistar_esda_fixture.json, moran_esda_fixture.json: esda's own six-point test fixture
  (DistanceBand threshold 15), Gi* with transform 'B' and 'R', Local Moran (row-standardised).
* gistar_synthetic.json, moran_synthetic.json: 2,000 jittered lattice points (1 km spacing) with
  clustered Poisson counts; weights: distance band 1,500 m and 8 nearest neighbours.
* gistar_ucdp.json, moran_ucdp.json: UCDP GED events counted on a 25 km square grid (rule below);
  outputs only, keyed by cell (ix, iy). The per-event data never enters the repository.
* fdr_synthetic.json: p-values (with ties and values exactly on the Benjamini-Hochberg line) and
  the hot/cold classes with and without FDR correction.

Conventions shared with the Rust side:

* p-values are two-sided from the normal distribution: 2 * norm.sf(|z|) (esda's p_norm is
  one-sided; ArcGIS reports two-sided values).
* Classes (ArcGIS Gi_Bin): +-3 at 99 %, +-2 at 95 %, +-1 at 90 % confidence, sign of z, 0 otherwise.
  Without FDR a cell is significant at level alpha when p <= alpha. With FDR (Benjamini-Hochberg
  step-up): sort the m finite p-values, k* = the largest k with p_(k) <= (k / m) * alpha, and the
  cells with p <= p_(k*) are significant at alpha (none when no k qualifies). The expression is
  evaluated as (k / m) * alpha in both languages so that boundary cases round alike.
* UCDP grid: lat0 = mean latitude of all events (plain left-to-right sum), x = R * radians(lon) *
  cos(radians(lat0)), y = R * radians(lat), R = 6371008.8 m; ix = floor((x - min x) / 25000),
  iy = floor((y - min y) / 25000); every cell of the nx * ny bounding grid is kept (zeros
  included), cell index = iy * nx + ix, cell centre ((ix + 0.5) * 25000, (iy + 0.5) * 25000) in
  metres from the grid origin. Distance band 60 km (between the 55.9 km and 70.7 km lattice
  distances, so no pair sits on the boundary): 20 neighbours for an inner cell.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
from scipy import stats

import esda
import libpysal
from libpysal.weights import KNN, DistanceBand
from libpysal.weights.util import min_threshold_distance

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALPHAS = ((0.10, 1), (0.05, 2), (0.01, 3))
EARTH_RADIUS_M = 6371008.8
UCDP_CELL_M = 25000.0
UCDP_BAND_M = 60000.0


def r13(a):
    """Floats with 13 significant digits: 5e-14 relative, far below the 1e-9 tolerance."""
    return [None if not math.isfinite(v) else float(f"{v:.13g}") for v in np.asarray(a, dtype=float)]


def band(xy, threshold):
    return DistanceBand(xy, threshold=threshold, binary=True, silence_warnings=True)


def knn(xy, k):
    return KNN.from_array(xy, k=k, silence_warnings=True)


def cardinalities(w):
    return [int(w.cardinalities[i]) for i in w.id_order]


def gistar(y, make_w, transform):
    """esda's Gi* on fresh binary weights (G_Local mutates the transform of what it gets)."""
    g = esda.G_Local(y, make_w(), transform=transform, star=True, permutations=0)
    z = np.asarray(g.Zs, dtype=float)
    return z, 2.0 * stats.norm.sf(np.abs(z))


def moran(y, make_w):
    m = esda.Moran_Local(y, make_w(), transformation="r", permutations=0)
    return np.asarray(m.Is, dtype=float), [int(q) for q in m.q]


def bh_critical(p, alpha):
    """Benjamini-Hochberg step-up: the largest sorted p_(k) with p_(k) <= (k / m) * alpha."""
    ps = sorted(v for v in p if math.isfinite(v))
    m = len(ps)
    crit = None
    for k in range(1, m + 1):
        if ps[k - 1] <= (k / m) * alpha:
            crit = ps[k - 1]
    return crit


def classes(z, p, fdr):
    z = list(map(float, z))
    p = list(map(float, p))
    out = [0] * len(z)
    for alpha, level in ALPHAS:  # weakest level first, so stronger ones overwrite
        if fdr:
            crit = bh_critical(p, alpha)
            sig = [crit is not None and math.isfinite(v) and v <= crit for v in p]
        else:
            sig = [math.isfinite(v) and v <= alpha for v in p]
        for i, s in enumerate(sig):
            if s and z[i] != 0.0:
                out[i] = level if z[i] > 0 else -level
    return out


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
        "generator": "tools/reference/gistar_moran.py",
        "esda": esda.__version__,
        "libpysal": libpysal.__version__,
        "numpy": np.__version__,
        **kw,
    }


def esda_fixture(out_dir):
    points = [(10.0, 10.0), (20.0, 10.0), (40.0, 10.0), (15.0, 20.0), (30.0, 20.0), (30.0, 30.0)]
    y = np.array([2, 3, 3.2, 5, 8, 7], dtype=float)
    xy = np.array(points)
    mk = lambda: band(xy, 15.0)  # noqa: E731
    zb, pb = gistar(y, mk, "B")
    zr, pr = gistar(y, mk, "R")
    # The doctest values of esda's G_Local(star=True): a guard against a silently different esda.
    assert np.allclose(zb, [-1.39727626, -0.28917762, 0.65064964, -0.28917762, 1.23452088, 2.02424331])
    assert np.allclose(zr, [-0.62488094, -0.09144599, 0.41150696, -0.09144599, 0.24690418, 1.28024388])
    w = mk()
    dump(out_dir, "gistar_esda_fixture.json", {
        "meta": meta(source="esda's G_Local doctest / tests: DistanceBand(points, threshold=15)"),
        "xy": xy.tolist(), "threshold": 15.0, "y": y.tolist(),
        "neighbors": [sorted(int(j) for j in w.neighbors[i]) for i in w.id_order],
        "z_binary": zb.tolist(), "p_binary": pb.tolist(),
        "z_row": zr.tolist(), "p_row": pr.tolist(),
    })
    is_, q = moran(y, mk)
    dump(out_dir, "moran_esda_fixture.json", {
        "meta": meta(source="esda fixture points, Moran_Local(transformation='r', permutations=0)"),
        "xy": xy.tolist(), "threshold": 15.0, "y": y.tolist(),
        "is": is_.tolist(), "q": q,
    })


def synthetic_inputs():
    rng = np.random.default_rng(20261123)
    nx, ny, step = 50, 40, 1000.0
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny))
    x = gx.ravel() * step + rng.uniform(-300, 300, nx * ny)
    y = gy.ravel() * step + rng.uniform(-300, 300, nx * ny)
    x, y = np.round(x, 2), np.round(y, 2)  # stored exactly as used

    def bump(cx, cy, s):
        return np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))

    lam = 3.0 + 9.0 * bump(12e3, 10e3, 3e3) + 6.0 * bump(38e3, 28e3, 4e3) - 2.8 * bump(30e3, 8e3, 5e3)
    values = rng.poisson(np.maximum(lam, 0.05)).astype(float)
    return np.column_stack([x, y]), values


def synthetic(out_dir):
    xy, v = synthetic_inputs()
    mk_band = lambda: band(xy, 1500.0)  # noqa: E731
    mk_knn = lambda: knn(xy, 8)  # noqa: E731
    zb, pb = gistar(v, mk_band, "B")
    zr, pr = gistar(v, mk_band, "R")
    zkb, _ = gistar(v, mk_knn, "B")
    zkr, _ = gistar(v, mk_knn, "R")
    xs, ys = xy[:, 0].tolist(), xy[:, 1].tolist()
    dump(out_dir, "gistar_synthetic.json", {
        "meta": meta(source="seeded jittered 50 x 40 lattice, 1 km spacing, clustered Poisson counts"),
        "x": xs, "y": ys, "values": v.astype(int).tolist(),
        "threshold": 1500.0, "k": 8,
        "auto_band": float(min_threshold_distance(xy)),
        "band_cardinalities": cardinalities(mk_band()),
        "z_binary": r13(zb), "p_binary": r13(pb), "z_row": r13(zr), "p_row": r13(pr),
        "knn_z_binary": r13(zkb), "knn_z_row": r13(zkr),
        "class_binary": classes(zb, pb, False), "class_binary_fdr": classes(zb, pb, True),
        "class_row": classes(zr, pr, False), "class_row_fdr": classes(zr, pr, True),
    })
    ib, qb = moran(v, mk_band)
    ik, qk = moran(v, mk_knn)
    dump(out_dir, "moran_synthetic.json", {
        "meta": meta(source="same inputs as gistar_synthetic.json"),
        "x": xs, "y": ys, "values": v.astype(int).tolist(),
        "threshold": 1500.0, "k": 8,
        "is_band": r13(ib), "q_band": qb, "is_knn": r13(ik), "q_knn": qk,
    })


def fdr_synthetic(out_dir):
    rng = np.random.default_rng(7)
    m = 400
    p = rng.uniform(0, 1, m)
    p[:60] = rng.uniform(0, 0.002, 60)  # a block of strong signals
    p[60:70] = 0.01  # ties
    p[70:75] = 0.05
    p[75:80] = 0.1
    # values exactly on the BH line of their own rank lead to ties at the step-up boundary
    for j, k in enumerate((80, 95, 110)):
        p[80 + j] = (k / m) * 0.05
    p[90] = 1.0
    p[91] = 0.0
    z = stats.norm.isf(p / 2) * np.where(rng.uniform(0, 1, m) < 0.5, -1.0, 1.0)
    z[91] = 40.0  # p underflows to 0 far out in the tail
    z[92] = 0.0  # z = 0 with p = 1 is never significant
    p[92] = 1.0
    p[93] = float("nan")  # a cell without a test: never significant, not counted in m
    p_list = [None if not math.isfinite(v) else float(v) for v in p]  # JSON has no NaN: null
    dump(out_dir, "fdr_synthetic.json", {
        "meta": meta(source="seeded p-values; BH step-up as documented in gistar_moran.py"),
        "z": z.tolist(), "p": p_list,
        "class": classes(z, p, False), "class_fdr": classes(z, p, True),
        "critical": {str(a): bh_critical(p, a) for a, _ in ALPHAS},
    })


def ucdp_cells(path):
    with open(path) as f:
        fc = json.load(f)
    lon = [float(ft["geometry"]["coordinates"][0]) for ft in fc["features"]]
    lat = [float(ft["geometry"]["coordinates"][1]) for ft in fc["features"]]
    s = 0.0
    for v in lat:  # plain left-to-right sum, as the Rust test does
        s += v
    lat0 = s / len(lat)
    c = math.cos(math.radians(lat0))
    x = [EARTH_RADIUS_M * math.radians(v) * c for v in lon]
    y = [EARTH_RADIUS_M * math.radians(v) for v in lat]
    x0, y0 = min(x), min(y)
    ix = [math.floor((v - x0) / UCDP_CELL_M) for v in x]
    iy = [math.floor((v - y0) / UCDP_CELL_M) for v in y]
    nx, ny = max(ix) + 1, max(iy) + 1
    counts = np.zeros(nx * ny)
    for a, b in zip(ix, iy):
        counts[b * nx + a] += 1.0
    cx = np.tile((np.arange(nx) + 0.5) * UCDP_CELL_M, ny)
    cy = np.repeat((np.arange(ny) + 0.5) * UCDP_CELL_M, nx)
    return len(lon), lat0, nx, ny, np.column_stack([cx, cy]), counts


def ucdp(out_dir, path):
    if not os.path.exists(path):
        print(f"SKIPPED UCDP: {path} is absent", file=sys.stderr)
        return
    n_events, lat0, nx, ny, xy, v = ucdp_cells(path)
    assert v.sum() == n_events
    mk = lambda: band(xy, UCDP_BAND_M)  # noqa: E731
    zb, pb = gistar(v, mk, "B")
    zr, pr = gistar(v, mk, "R")
    grid = {"events": n_events, "lat0": lat0, "cell_m": UCDP_CELL_M, "nx": nx, "ny": ny,
            "threshold": UCDP_BAND_M, "auto_band": float(min_threshold_distance(xy)),
            "cell_index": "iy * nx + ix"}
    ix = [i % nx for i in range(nx * ny)]
    iy = [i // nx for i in range(nx * ny)]
    src = "UCDP GED 23.1 CAR (CC BY 4.0), all events counted on the 25 km grid; outputs only"
    dump(out_dir, "gistar_ucdp.json", {
        "meta": meta(source=src), "grid": grid, "ix": ix, "iy": iy,
        "z_binary": r13(zb), "p_binary": r13(pb), "z_row": r13(zr),
        "class_binary": classes(zb, pb, False), "class_binary_fdr": classes(zb, pb, True),
    })
    is_, q = moran(v, mk)
    dump(out_dir, "moran_ucdp.json", {
        "meta": meta(source=src), "grid": grid, "ix": ix, "iy": iy, "is": r13(is_), "q": q,
    })


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ucdp", default=os.path.join(os.path.dirname(ROOT), "shared", "data", "ucdp-ged-23.1-car.geojson"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    esda_fixture(a.out)
    synthetic(a.out)
    fdr_synthetic(a.out)
    ucdp(a.out, a.ucdp)


if __name__ == "__main__":
    main()
