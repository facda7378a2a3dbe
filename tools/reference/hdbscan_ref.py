"""Golden files for jointmap's HDBSCAN (src/analysis/hdbscan/), made with the `hdbscan` package.

Usage (from the repository root; deterministic, so rerunning rewrites identical files):

    python -m venv /tmp/venv-hdbscan && /tmp/venv-hdbscan/bin/pip install numpy hdbscan==0.8.44
    /tmp/venv-hdbscan/bin/python tools/reference/hdbscan_ref.py [UCDP_GEOJSON]

Writes
  tests/golden/hdbscan_synthetic.json  seeded synthetic points of varying density (planar x, y and
                                       lon/lat), and per run (metric, min_cluster_size, min_samples)
                                       the package's labels and probabilities;
  tests/golden/hdbscan_ucdp_car.json   per UCDP event id the label and probability for three runs with
                                       the haversine metric (coordinates are read by the Rust test
                                       from the shared data file). Skipped when the file is absent.

The reference is HDBSCAN(min_cluster_size, min_samples, approx_min_span_tree=False) with the
package's other defaults; its default approximate spanning tree changes the answer. Haversine runs
take np.radians([lat, lon]).

Runs with min_samples = 1 have no tied mutual reachability distances on continuous data, so the
package's answer is unique and jointmap must give it exactly. Runs with min_samples > 1 record
`package_self_ari`, the package against its own answers with tied edges reordered (see
self_agreement).
"""

import json
import sys
from pathlib import Path

import hdbscan
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hdbscan_ties import study  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


def run(x, mcs, ms, metric):
    model = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=ms, metric=metric,
                            approx_min_span_tree=False)
    model.fit(x)
    return model.labels_.astype(int).tolist(), model.probabilities_.tolist()


def self_agreement(x, mcs, ms, metric, labels):
    """The package against itself: the smallest adjusted Rand index between its default answer
    and its own spanning trees (exact Boruvka and Prim's) relabelled with the tied edges in other
    orders (see hdbscan_ties.py).

    With min_samples > 1 many mutual reachability distances tie (a point's core distance is the
    weight of its edges to all its closer neighbours), and the package binarises tied merges in the
    order numpy's unstable argsort leaves them, so the package disagrees with itself. Recorded so
    the Rust test can hold jointmap to the same standard on those runs; the exact comparison under
    jointmap's tie rule is tests/golden/hdbscan_ties.json.
    """
    r = study(x, mcs, ms, metric, np.random.default_rng(7))
    assert r["labels"] == list(labels)
    return r["package_variants_min_ari"]


def synthetic(rng):
    """Blobs of three densities, a ring, uniform noise; metres."""
    parts = []
    for k, (n, sigma) in enumerate([(400, 300.0), (300, 1500.0), (200, 80.0), (150, 4000.0)]):
        centre = rng.uniform(-40_000, 40_000, 2)
        parts.append(centre + rng.normal(0, sigma, (n, 2)))
    t = rng.uniform(0, 2 * np.pi, 250)
    parts.append(np.column_stack([20_000 + 6000 * np.cos(t), -20_000 + 6000 * np.sin(t)])
                 + rng.normal(0, 150, (250, 2)))
    parts.append(rng.uniform(-50_000, 50_000, (300, 2)))
    return np.vstack(parts)


def main():
    rng = np.random.default_rng(20261201)
    xy = synthetic(rng)
    # The same layout on the sphere near 6N 21E: metres to degrees.
    lon = 21.0 + xy[:, 0] / 111_195.0 / np.cos(np.radians(6.0))
    lat = 6.0 + xy[:, 1] / 111_195.0
    runs = []
    for mcs, ms in [(15, 1), (30, 1), (8, 1), (15, None), (30, 5)]:
        labels, probs = run(xy, mcs, ms, "euclidean")
        runs.append({"metric": "planar", "min_cluster_size": mcs, "min_samples": ms,
                     "labels": labels, "probabilities": probs,
                     "package_self_ari": self_agreement(xy, mcs, ms, "euclidean", labels)})
        sphere = np.radians(np.column_stack([lat, lon]))
        labels, probs = run(sphere, mcs, ms, "haversine")
        runs.append({"metric": "haversine", "min_cluster_size": mcs, "min_samples": ms,
                     "labels": labels, "probabilities": probs,
                     "package_self_ari": self_agreement(sphere, mcs, ms, "haversine", labels)})
    out = {"generator": f"tools/reference/hdbscan_ref.py, hdbscan {hdbscan.__version__ if hasattr(hdbscan, '__version__') else '0.8.44'}",
           "x": xy[:, 0].tolist(), "y": xy[:, 1].tolist(),
           "lon": lon.tolist(), "lat": lat.tolist(), "runs": runs}
    (GOLDEN / "hdbscan_synthetic.json").write_text(json.dumps(out) + "\n")
    for r in runs:
        lab = np.array(r["labels"])
        print(f"synthetic {r['metric']} mcs {r['min_cluster_size']} ms {r['min_samples']}: "
              f"{lab.max() + 1} clusters, {(lab < 0).sum()} noise, package self ARI (tie orders) {r['package_self_ari']:.4f}")

    ucdp = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".." / "shared" / "data" / "ucdp-ged-23.1-car.geojson"
    if not ucdp.exists():
        print(f"{ucdp} absent: UCDP golden not written")
        return
    feats = json.loads(ucdp.read_text())["features"]
    ids = [f["properties"]["id"] for f in feats]
    lon = np.array([f["geometry"]["coordinates"][0] for f in feats], dtype=float)
    lat = np.array([f["geometry"]["coordinates"][1] for f in feats], dtype=float)
    x = np.radians(np.column_stack([lat, lon]))
    uruns = []
    for mcs, ms in [(10, 1), (25, 1), (10, None)]:
        labels, probs = run(x, mcs, ms, "haversine")
        self_ari = self_agreement(x, mcs, ms, "haversine", labels)
        uruns.append({"min_cluster_size": mcs, "min_samples": ms, "package_self_ari": self_ari,
                      "events": [[i, l, p] for i, l, p in zip(ids, labels, probs)]})
        lab = np.array(labels)
        print(f"UCDP mcs {mcs} ms {ms}: {lab.max() + 1} clusters, {(lab < 0).sum()} noise, "
              f"package self ARI (tie orders) {self_ari:.4f}")
    (GOLDEN / "hdbscan_ucdp_car.json").write_text(json.dumps({"runs": uruns}) + "\n")


if __name__ == "__main__":
    main()
