"""Reference values for the trend engine (src/analysis/trends/): the Mann-Kendall test and
Sen's slope (pymannkendall's original_test), and Gi* over a space-time neighbourhood (a
straightforward dense numpy Gi* on the stacked space-time weights, as ArcGIS's Emerging Hot Spot
Analysis defines the neighbourhood).

    python3 -m venv /work/venv-trends && /work/venv-trends/bin/pip install pymannkendall==1.4.3
    /work/venv-trends/bin/python tools/reference/trends.py [--out DIR]

Files written (default tests/golden):

* trends_mk.json: series with ties (integer counts, repeated floats, constant, short, long),
  each with pymannkendall's s, var_s, z, p and Sen's slope.
* trends_stgistar.json: a 6 x 5 lattice of cells (1 km apart, band 1,500 m: the eight queen
  neighbours) x 14 steps of seeded Poisson counts with an escalation in a corner, and a
  weighted variant; for windows 1 and 3: the Gi* z and two-sided p of every bin (cell-major),
  and pymannkendall on each cell's values and z series.

Space-time Gi*: n bins (cells x steps); bin (i, t) has as neighbours (itself included, binary
weights) the bins (j, s) with j within the band of i (or j = i) and t - window < s <= t;
z = (L - W mean) / (S sqrt((n W - W^2) / (n - 1))), S the population standard deviation of all
bins, L the neighbourhood's sum, W its size; p = erfc(|z| / sqrt 2). Everything is deterministic
(seeded numpy generator; the inputs are stored in the golden files).
"""

import argparse
import json
import math
import os

import numpy as np
import pymannkendall as mk


def mk_record(x):
    r = mk.original_test(np.asarray(x, dtype=float))
    return {
        "s": float(r.s),
        "var_s": float(r.var_s),
        "z": float(r.z),
        "p": float(r.p),
        "slope": float(r.slope),
    }


def st_gistar(values, xy, band, steps, window):
    """values: cell-major (cell * steps + step)."""
    cells = len(xy)
    n = cells * steps
    x = np.asarray(values, dtype=float)
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    space = (d <= band).astype(float)  # includes the cell itself (distance 0)
    w = np.zeros((n, n))
    for i in range(cells):
        for t in range(steps):
            for j in range(cells):
                if space[i, j] == 0.0:
                    continue
                for s in range(max(0, t - window + 1), t + 1):
                    w[i * steps + t, j * steps + s] = 1.0
    mean = x.mean()
    sd = x.std()
    big_w = w.sum(axis=1)
    lag = w @ x
    var = (n * big_w - big_w**2) / (n - 1)
    z = (lag - big_w * mean) / (sd * np.sqrt(var))
    p = np.array([math.erfc(abs(v) / math.sqrt(2.0)) for v in z])
    return z, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/golden")
    args = ap.parse_args()
    rng = np.random.default_rng(20261202)

    series = [
        [1, 1, 2, 3, 3, 3, 5, 4, 4, 6, 7, 7],
        [5, 4, 4, 4, 3, 3, 2, 2, 2, 2, 1, 0],
        [0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 3, 0, 0],
        [2.5, 2.5, -1.25, 0.0, 2.5, 3.75, -1.25, 3.75, 3.75],
        [3, 3, 3, 3, 3, 3],
        [1, 2],
        [2, 1, 3],
        list(rng.poisson(3.0, 52).astype(float)),
        list(np.round(rng.normal(0.0, 1.0, 40) + np.linspace(0, 1.5, 40), 3)),
        list(rng.integers(0, 3, 30).astype(float)),
    ]
    mk_out = {"series": [{"x": [float(v) for v in s], **mk_record(s)} for s in series]}

    cols, rows, steps = 6, 5, 14
    xy = np.array([[1000.0 * c, 1000.0 * r] for r in range(rows) for c in range(cols)])
    cells = len(xy)
    rate = np.full((cells, steps), 1.2)
    for i in range(cells):
        c, r = i % cols, i // cols
        if c >= 4 and r >= 3:
            rate[i] += np.linspace(0.0, 6.0, steps)  # escalation in a corner
        if c == 0 and r <= 1:
            rate[i] += np.linspace(4.0, 0.0, steps)  # fading in another
    counts = rng.poisson(rate).astype(float)
    weighted = counts * np.round(rng.uniform(0.5, 3.0, counts.shape), 2)
    cases = []
    for name, vals in [("counts", counts), ("weighted", weighted)]:
        flat = vals.reshape(-1)
        for window in (1, 3):
            z, p = st_gistar(flat, xy, 1500.0, steps, window)
            zc = z.reshape(cells, steps)
            cases.append(
                {
                    "name": name,
                    "window": window,
                    "values": [float(v) for v in flat],
                    "z": [float(v) for v in z],
                    "p": [float(v) for v in p],
                    "mk_value": [mk_record(vals[i]) for i in range(cells)],
                    "mk_z": [mk_record(zc[i]) for i in range(cells)],
                }
            )
    st_out = {
        "xy": [[float(a), float(b)] for a, b in xy],
        "band": 1500.0,
        "steps": steps,
        "cases": cases,
    }
    os.makedirs(args.out, exist_ok=True)
    for name, obj in [("trends_mk.json", mk_out), ("trends_stgistar.json", st_out)]:
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
        print("wrote", os.path.join(args.out, name))


if __name__ == "__main__":
    main()
