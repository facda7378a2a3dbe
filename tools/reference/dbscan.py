"""Golden files for jointmap's DBSCAN (src/analysis/dbscan.rs), made with scikit-learn.

Usage (from the repository root; deterministic, so rerunning rewrites identical files):

    tools/reference/.venv/bin/python tools/reference/dbscan.py [UCDP_GEOJSON]

UCDP_GEOJSON defaults to ../shared/data/ucdp-ged-23.1-car.geojson (UCDP GED 23.1, CC BY 4.0).
Writes
  tests/golden/dbscan_synthetic.json  seeded synthetic points (coordinates included) and, per
                                      (eps, min_samples), sklearn's label and core flag per point;
  tests/golden/dbscan_ucdp_car.json   per UCDP event id (file order) the label and core flag for
                                      (25 km, 10) and (50 km, 20). It holds no coordinates: the
                                      Rust test reads them from the shared data file.
The UCDP file is skipped, with a message, when the data file is absent.

The reference is scikit-learn's DBSCAN(eps=eps_m / 6371008.8, min_samples=m, metric='haversine',
algorithm='ball_tree') on np.radians([lat, lon]), which is what jointmap reproduces.
"""

import json
import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn.cluster import DBSCAN

EARTH_RADIUS_M = 6371008.8
ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


def sklearn_dbscan(lon, lat, eps_m, min_samples):
    """Labels (-1 noise) and core flags, in input order."""
    x = np.radians(np.column_stack([lat, lon]))
    model = DBSCAN(
        eps=eps_m / EARTH_RADIUS_M,
        min_samples=min_samples,
        metric="haversine",
        algorithm="ball_tree",
    ).fit(x)
    core = np.zeros(len(lon), dtype=bool)
    core[model.core_sample_indices_] = True
    return model.labels_.astype(int), core


def synthetic():
    """5,000 points: Gaussian clusters and noise in the peer area near 7N 30E, two clusters
    straddling the antimeridian, one around the North Pole, and exact duplicates (as in GED,
    where many events share a village's coordinates). Rounded to 6 decimals before clustering,
    so the JSON holds exactly the values that were clustered."""
    rng = np.random.default_rng(20240601)
    parts = []
    centres = np.column_stack([rng.uniform(27.3, 32.7, 30), rng.uniform(5.2, 8.8, 30)])
    sizes = rng.integers(40, 180, 30)
    sizes = (sizes * 3400 / sizes.sum()).astype(int)
    for c, k, s in zip(centres, sizes, rng.uniform(0.02, 0.1, 30)):
        parts.append(c + rng.normal(0, s, (k, 2)))
    used = sum(len(p) for p in parts)
    parts.append(np.column_stack([rng.uniform(27.3, 32.7, 4000 - used), rng.uniform(5.2, 8.8, 4000 - used)]))
    for lat0 in (-17.0, 65.0):  # antimeridian: Fiji and the Bering Strait
        p = np.column_stack([180.0 + rng.normal(0, 0.06, 250), lat0 + rng.normal(0, 0.04, 250)])
        p[:, 0] = (p[:, 0] + 180.0) % 360.0 - 180.0
        parts.append(p)
    pole = np.column_stack([rng.uniform(-180.0, 180.0, 300), 90.0 - np.abs(rng.normal(0, 0.05, 300))])
    parts.append(pole)
    pts = np.concatenate(parts)
    dup = pts[rng.integers(0, len(pts), 5000 - len(pts))]
    pts = np.round(np.concatenate([pts, dup]), 6)
    pts = pts[rng.permutation(len(pts))]
    return pts[:, 0], pts[:, 1]


def summary(labels, core):
    return {"clusters": int(labels.max() + 1), "noise": int((labels < 0).sum()), "core": int(core.sum())}


def write(path, doc):
    text = json.dumps(doc, separators=(",", ":"))
    path.write_text(text + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(text) / 1024:.0f} KB)")


def main():
    GOLDEN.mkdir(parents=True, exist_ok=True)
    lon, lat = synthetic()
    runs = []
    for eps_m, m in [(2000.0, 3), (5000.0, 5), (10000.0, 15)]:
        labels, core = sklearn_dbscan(lon, lat, eps_m, m)
        runs.append({"eps_m": eps_m, "min_samples": m, **summary(labels, core),
                     "labels": labels.tolist(), "core": core.astype(int).tolist()})
        print(f"synthetic eps {eps_m:.0f} m, min {m}: {summary(labels, core)}")
    write(GOLDEN / "dbscan_synthetic.json", {
        "generator": "tools/reference/dbscan.py synthetic(), numpy default_rng(20240601)",
        "reference": f"scikit-learn {sklearn.__version__} DBSCAN(metric='haversine', algorithm='ball_tree'), "
                     f"eps = eps_m / {EARTH_RADIUS_M}",
        "lon": lon.tolist(), "lat": lat.tolist(), "runs": runs})

    src = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "ucdp-ged-23.1-car.geojson"
    if not src.exists():
        print(f"SKIPPED UCDP golden: {src} is absent")
        return
    feats = json.loads(src.read_text())["features"]
    ids = [f["properties"]["id"] for f in feats]
    lon = np.array([f["geometry"]["coordinates"][0] for f in feats], dtype=float)
    lat = np.array([f["geometry"]["coordinates"][1] for f in feats], dtype=float)
    runs = []
    for eps_m, m in [(25000.0, 10), (50000.0, 20)]:
        labels, core = sklearn_dbscan(lon, lat, eps_m, m)
        runs.append({"eps_m": eps_m, "min_samples": m, **summary(labels, core),
                     "events": [[i, int(l), int(c)] for i, l, c in zip(ids, labels, core)]})
        print(f"UCDP eps {eps_m:.0f} m, min {m}: {summary(labels, core)}")
    write(GOLDEN / "dbscan_ucdp_car.json", {
        "source": "UCDP GED 23.1, Central African Republic (ucdp-ged-23.1-car.geojson), CC BY 4.0; "
                  "Davies, Pettersson & Oberg (2023); Sundberg & Melander (2013)",
        "reference": f"scikit-learn {sklearn.__version__} DBSCAN(metric='haversine', algorithm='ball_tree'), "
                     f"eps = eps_m / {EARTH_RADIUS_M}, events in file order",
        "columns": ["id", "label", "core"], "runs": runs})


if __name__ == "__main__":
    main()
