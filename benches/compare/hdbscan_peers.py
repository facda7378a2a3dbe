"""The peers' HDBSCAN (named _peers so that `import hdbscan` finds the package, not this file) on their synthetic points, for benches/compare/hdbscan.sh.

    python benches/compare/hdbscan_peers.py N OUT_DIR [RUNS]

Generates exactly the points of /work/shared/peers/ref_bench2.py (numpy default_rng(42): 60 Gaussian
clusters, sigma 0.08 degrees, plus 20 % uniform noise in 27.3-32.7 E, 5.2-8.8 N), projected to metres
as its `proj_m` does, writes them to OUT_DIR/hdbscan-points-N.f64 (little-endian f64 x, y pairs, read
by benches/clusters.rs through JOINTMAP_BENCH_HDBSCAN_POINTS), then times fast_hdbscan.HDBSCAN
(min_cluster_size=20) warm (one untimed fit first, so numba has compiled) RUNS times, and the hdbscan
package with the exact tree once. Writes both label sets (little-endian int32) and prints one JSON
line: times, median, clusters, noise, peak RSS.
"""
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# The same generator as the DBSCAN comparison (ref_bench.py's `points`, call for call).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dbscan import points  # noqa: E402


def proj_m(p):
    r = 6371008.8
    return np.column_stack([np.radians(p[:, 0]) * r * np.cos(np.radians(7.0)), np.radians(p[:, 1]) * r])


def main():
    n, out = int(sys.argv[1]), Path(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    out.mkdir(parents=True, exist_ok=True)
    x = proj_m(points(np.random.default_rng(42), n))
    x.astype("<f8").tofile(out / f"hdbscan-points-{n}.f64")
    import fast_hdbscan
    fast_hdbscan.HDBSCAN(min_cluster_size=20).fit(x)  # numba compiles here
    times, labels = [], None
    for _ in range(runs):
        t = time.perf_counter()
        labels = fast_hdbscan.HDBSCAN(min_cluster_size=20).fit(x).labels_
        times.append(time.perf_counter() - t)
    labels.astype("<i4").tofile(out / f"fast-hdbscan-labels-{n}.i32")
    import hdbscan
    t = time.perf_counter()
    exact = hdbscan.HDBSCAN(min_cluster_size=20, approx_min_span_tree=False, core_dist_n_jobs=-1).fit(x).labels_
    exact_s = time.perf_counter() - t
    exact.astype("<i4").tofile(out / f"hdbscan-exact-labels-{n}.i32")
    print(json.dumps({
        "n": n, "fast_hdbscan_times_s": [round(t, 4) for t in times], "median_s": statistics.median(times),
        "clusters": int(labels.max() + 1), "noise": int((labels < 0).sum()),
        "hdbscan_exact_s": round(exact_s, 3), "hdbscan_exact_clusters": int(exact.max() + 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
