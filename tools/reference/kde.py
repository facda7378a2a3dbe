#!/usr/bin/env python3
"""Golden file for jointmap's Gaussian kernel density (src/analysis/kde.rs).

Usage (from the repository root; pinned versions in requirements.txt):

    tools/reference/.venv/bin/python tools/reference/kde.py

writes tests/golden/kde_gaussian.json. The Rust test
`analysis::kde::tests::gaussian_matches_scikit_learn` compares against it
(1e-6 relative).

Data: 3,000 seeded synthetic events in projected metres (three clusters of
different spread plus a uniform background over 200 x 150 km), integer
weights 1..5, and a 40 x 30 lattice of "cell centres" at 5 km over the same
extent. The bandwidth is 5 km.

Conversion: scikit-learn's KernelDensity(kernel="gaussian", bandwidth=h)
.score_samples returns ln( sum_i w_i K(d_i) / sum_i w_i ) with
K(d) = exp(-d^2 / (2 h^2)) / (2 pi h^2) per m^2 (w_i = 1 unweighted).
jointmap reports the un-normalised density per km^2, so
    density = exp(score) * sum_i w_i * 1e6.
The script checks sklearn against a brute-force numpy sum before writing.

It also records ArcGIS's default bandwidth (see default_bandwidth in
kde.rs), computed here independently with numpy:
    h = 0.9 * min(SD, sqrt(1 / ln 2) * Dm) * n^-0.2.
"""

import json
import math
import pathlib

import numpy as np
from sklearn.neighbors import KernelDensity

SEED = 20240611
N = 3000
BANDWIDTH = 5000.0
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "golden" / "kde_gaussian.json"


def synthetic_events(rng):
    clusters = [((60e3, 50e3), 4e3, 900), ((140e3, 100e3), 9e3, 900), ((90e3, 120e3), 2.5e3, 600)]
    parts = [rng.normal(centre, sd, size=(n, 2)) for centre, sd, n in clusters]
    parts.append(rng.uniform((0.0, 0.0), (200e3, 150e3), size=(N - sum(c[2] for c in clusters), 2)))
    xy = np.concatenate(parts)
    return xy[rng.permutation(len(xy))]


def brute_force(points, weights, at, h):
    d2 = ((at[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    k = np.exp(-d2 / (2.0 * h * h)) / (2.0 * math.pi * h * h)
    return (k * weights[None, :]).sum(axis=1) * 1e6


def sklearn_density(points, weights, at, h):
    kd = KernelDensity(kernel="gaussian", bandwidth=h, atol=0.0, rtol=0.0)
    kd.fit(points, sample_weight=weights)
    return np.exp(kd.score_samples(at)) * weights.sum() * 1e6


def weighted_median(values, weights):
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    half = w.sum() / 2.0
    k = int(np.searchsorted(cum, half, side="left"))
    if cum[k] == half:
        nxt = k + 1 + int(np.argmax(w[k + 1:] > 0))
        return (v[k] + v[nxt]) / 2.0
    return v[k]


def default_bandwidth(points, weights):
    total = weights.sum()
    centre = (points * weights[:, None]).sum(axis=0) / total
    d = np.sqrt(((points - centre) ** 2).sum(axis=1))
    sd = math.sqrt((weights * d**2).sum() / total)
    dm = weighted_median(d, weights)
    return 0.9 * min(sd, math.sqrt(1.0 / math.log(2.0)) * dm) * total**-0.2


def main():
    rng = np.random.default_rng(SEED)
    points = synthetic_events(rng)
    weights = rng.integers(1, 6, size=N).astype(float)
    gx, gy = np.meshgrid(np.arange(40) * 5e3 + 2.5e3, np.arange(30) * 5e3 + 2.5e3)
    centres = np.column_stack([gx.ravel(), gy.ravel()])
    ones = np.ones(N)

    out = {"bandwidth": BANDWIDTH}
    for name, w in [("unweighted", ones), ("weighted", weights)]:
        ours = sklearn_density(points, w, centres, BANDWIDTH)
        check = brute_force(points, w, centres, BANDWIDTH)
        err = np.max(np.abs(ours / check - 1.0))
        assert err < 1e-10, f"sklearn and brute force disagree: {err}"
        out[f"density_{name}"] = ours.tolist()
        out[f"default_bandwidth_{name}"] = default_bandwidth(points, w)
    out["points"] = points.tolist()
    out["weights"] = weights.tolist()
    out["centres"] = centres.tolist()
    out["generator"] = f"tools/reference/kde.py seed {SEED}"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes); min density {min(out['density_unweighted']):.3e}")


if __name__ == "__main__":
    main()
