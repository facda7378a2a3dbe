"""scikit-learn's DBSCAN on the peers' synthetic points, for benches/compare/dbscan.sh.

    python benches/compare/dbscan.py N OUT_DIR [RUNS]

Generates exactly the points of /work/shared/peers/ref_bench.py (numpy default_rng(42): 60 Gaussian
clusters, sigma 0.08 degrees, plus 20 % uniform noise in 27.3-32.7 E, 5.2-8.8 N), writes them to
OUT_DIR/points-N.f64 (little-endian f64 lon, lat pairs, read by benches/clusters.rs through
JOINTMAP_BENCH_POINTS), times RUNS fits of DBSCAN(eps=2 km, min_samples=20, metric='haversine',
algorithm='ball_tree', n_jobs=-1) on radians [lat, lon], writes the labels to OUT_DIR/labels-N.i32
(little-endian int32) and prints one JSON line: fit times, median, clusters, noise, peak RSS.
"""
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN

# jointmap computes eps as eps_m / 6371008.8; the same expression here, so the labels compare exactly.
EARTH_RADIUS_M = 6371008.8


def points(rng, n):
    """ref_bench.py's generator, call for call."""
    centres = np.column_stack([rng.uniform(27.3, 32.7, 60), rng.uniform(5.2, 8.8, 60)])
    k = rng.integers(0, 60, n)
    pts = centres[k] + rng.normal(0, 0.08, (n, 2))
    noise = rng.random(n) < 0.2
    pts[noise] = np.column_stack([rng.uniform(27.3, 32.7, noise.sum()), rng.uniform(5.2, 8.8, noise.sum())])
    return pts


def main():
    n, out = int(sys.argv[1]), Path(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    out.mkdir(parents=True, exist_ok=True)
    p = points(np.random.default_rng(42), n)
    p.astype("<f8").tofile(out / f"points-{n}.f64")
    x = np.radians(p[:, ::-1])
    times, labels = [], None
    for _ in range(runs):
        t = time.perf_counter()
        labels = DBSCAN(eps=2000.0 / EARTH_RADIUS_M, min_samples=20, metric="haversine",
                        algorithm="ball_tree", n_jobs=-1).fit(x).labels_
        times.append(time.perf_counter() - t)
    labels.astype("<i4").tofile(out / f"labels-{n}.i32")
    print(json.dumps({
        "n": n, "times_s": [round(t, 4) for t in times], "median_s": statistics.median(times),
        "clusters": int(labels.max() + 1), "noise": int((labels < 0).sum()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
