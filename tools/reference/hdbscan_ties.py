"""Tied merges in the `hdbscan` package, and the golden file for jointmap's tie rule.

Usage (from the repository root; deterministic, so rerunning rewrites an identical file):

    python -m venv /tmp/venv-hdbscan && /tmp/venv-hdbscan/bin/pip install numpy scikit-learn hdbscan==0.8.44
    /tmp/venv-hdbscan/bin/python tools/reference/hdbscan_ties.py [UCDP_GEOJSON]

Why. With duplicate coordinates or min_samples > 1 many mutual reachability distances are equal.
The package binarises a merge of several components at one distance in the order its edges
leave `min_spanning_tree[np.argsort(weights)]`: which spanning tree its algorithm found among
the tied ones (Boruvka and Prim's find different ones) and numpy's default argsort, which is
unstable (introsort, or a SIMD sort chosen by the CPU), so the order of equal weights is not
part of the package's answer. This script shows it: for each run it relabels the package's own
spanning trees (exact Boruvka, the default, and exact Prim's) with the tied edges in shuffled
orders and in stable order, through the package's own `label` and `_tree_to_labels`, and records
whether all of them give the package's labels ("robust").

jointmap's rule (docs/analysis.md, "Tied merges"). Edges are taken by weight; all edges of one
weight form a group. Within a group, the components joined into one (a "post-component") are
merged from the components that existed below that weight ("pre-components") in the order
(size descending, smallest point index ascending): the largest first, then each next one joined
to the union. Components are named by their smallest point index, post-components processed in
the order of their smallest point index. In the condensed tree this means: fragments smaller
than min_cluster_size that join at the same distance as two or more clusters split fall out of
the parent (they go to no one of the children), and each large pre-component is a child
cluster. The rule does not depend on which spanning tree was found, so the script applies it to
the package's Prim's tree and labels the result with the package's own functions
(`rule_labels`); jointmap must equal that exactly everywhere, and equals the package's default
answer wherever that answer is robust (the script asserts it).

Writes tests/golden/hdbscan_ties.json: synthetic points with many exact duplicates (planar and
lon/lat), and UCDP CAR events (all, and seeded subsets, by event id), each with several
(min_cluster_size, min_samples), per run the package's labels and probabilities, the rule's,
`robust` and the variants' agreement.
"""

import json
import sys
from pathlib import Path

import hdbscan
import numpy as np
from hdbscan._hdbscan_linkage import label
from hdbscan.hdbscan_ import _tree_to_labels
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SHUFFLES = 12


def fit(x, mcs, ms, metric, algorithm="best"):
    return hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=ms, metric=metric,
                           approx_min_span_tree=False, algorithm=algorithm,
                           gen_min_span_tree=True).fit(x)


def relabel(mst, n, mcs):
    """The package's own labelling of an edge list taken in the given order."""
    slt = label(np.ascontiguousarray(mst, dtype=np.float64))
    labels, probs, _, _, _ = _tree_to_labels(None, slt, mcs)
    return labels, probs


def rule_order(mst, n):
    """jointmap's tie rule: an edge list (a, b, w) the package's `label` binarises as the rule says."""
    w = mst[:, 2]
    order = np.argsort(w, kind="stable")
    parent = list(range(n))
    size = [1] * n
    low = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    out = []
    i = 0
    m = len(order)
    while i < m:
        j = i
        while j < m and w[order[j]] == w[order[i]]:
            j += 1
        group = [(int(mst[e, 0]), int(mst[e, 1])) for e in order[i:j]]
        # Post-components: union the group's pre-components in a scratch structure.
        scratch = {}

        def sfind(x):
            while scratch.get(x, x) != x:
                x = scratch[x]
            return x

        for a, b in group:
            ra, rb = sfind(find(a)), sfind(find(b))
            if ra != rb:
                scratch[max(ra, rb)] = min(ra, rb)
        members = {}
        for a, b in group:
            for r in (find(a), find(b)):
                members.setdefault(sfind(r), set()).add(r)
        posts = sorted(members.values(), key=lambda pre: min(low[r] for r in pre))
        for pre in posts:
            pre = sorted(pre, key=lambda r: (-size[r], low[r]))
            first = low[pre[0]]
            for r in pre[1:]:
                out.append((first, low[r], w[order[i]]))
            # Merge in the real structure (root: the smallest index's).
            for r in pre[1:]:
                ra, rb = find(first), find(low[r])
                keep, drop = (ra, rb) if low[ra] < low[rb] else (rb, ra)
                parent[drop] = keep
                size[keep] += size[drop]
                low[keep] = min(low[keep], low[drop])
        i = j
    return np.array(out, dtype=np.float64).reshape(-1, 3)


def same(a, b):
    return adjusted_rand_score(a, b) == 1.0 and bool(np.all((np.asarray(a) < 0) == (np.asarray(b) < 0)))


def study(x, mcs, ms, metric, rng):
    n = len(x)
    default = fit(x, mcs, ms, metric)
    prim_alg = "prims_kdtree" if metric == "euclidean" else "prims_balltree"
    prim = fit(x, mcs, ms, metric, prim_alg)
    base = default.labels_
    variants = {"prims": prim.labels_}
    for name, model in (("boruvka", default), ("prims", prim)):
        mst = model._min_spanning_tree
        w = mst[:, 2]
        variants[f"{name}_stable"] = relabel(mst[np.argsort(w, kind="stable")], n, mcs)[0]
        variants[f"{name}_reversed"] = relabel(
            mst[np.lexsort((-np.arange(len(w)), w))], n, mcs)[0]
        for s in range(SHUFFLES):
            key = rng.permutation(len(w))
            variants[f"{name}_shuffle{s}"] = relabel(mst[np.lexsort((key, w))], n, mcs)[0]
    robust = all(same(base, v) for v in variants.values())
    worst = min(adjusted_rand_score(base, v) for v in variants.values())
    rule_labels, rule_probs = relabel(rule_order(prim._min_spanning_tree, n), n, mcs)
    rule_b, _ = relabel(rule_order(default._min_spanning_tree, n), n, mcs)
    assert same(rule_labels, rule_b), "the rule must not depend on the spanning tree"
    if robust:
        assert same(rule_labels, base), f"robust run {mcs} {ms} {metric}: rule differs"
    ties = int(len(w) - len(np.unique(w)))
    return {"min_cluster_size": mcs, "min_samples": ms, "robust": robust,
            "package_variants_min_ari": float(worst), "tied_edges": ties,
            "rule_vs_package_ari": float(adjusted_rand_score(rule_labels, base)),
            "labels": base.astype(int).tolist(), "probabilities": default.probabilities_.tolist(),
            "rule_labels": rule_labels.astype(int).tolist(), "rule_probabilities": rule_probs.tolist()}


def duplicated(rng):
    """Blobs snapped to a 50 m grid plus stacks of exact copies: metres."""
    parts = []
    for n, sigma in [(300, 400.0), (200, 1500.0), (150, 120.0), (120, 3000.0)]:
        parts.append(rng.uniform(-30_000, 30_000, 2) + rng.normal(0, sigma, (n, 2)))
    parts.append(rng.uniform(-40_000, 40_000, (150, 2)))
    xy = np.round(np.vstack(parts) / 50.0) * 50.0
    stacks = xy[rng.choice(len(xy), 60, replace=False)]
    copies = np.repeat(stacks, rng.integers(1, 25, len(stacks)), axis=0)
    xy = np.vstack([xy, copies])
    return xy[rng.permutation(len(xy))]


def report(name, r):
    lab = np.array(r["labels"])
    print(f"{name} mcs {r['min_cluster_size']} ms {r['min_samples']}: {lab.max() + 1} clusters, "
          f"{r['tied_edges']} tied edges, robust {r['robust']}, package variants min ARI "
          f"{r['package_variants_min_ari']:.4f}, rule vs package ARI {r['rule_vs_package_ari']:.4f}")


def main():
    rng = np.random.default_rng(20261202)
    datasets = []
    xy = duplicated(rng)
    lon = 21.0 + xy[:, 0] / 111_195.0 / np.cos(np.radians(6.0))
    lat = 6.0 + xy[:, 1] / 111_195.0
    sphere = np.radians(np.column_stack([lat, lon]))
    grid = [(10, 1), (10, 5), (20, None), (5, 3), (40, 10)]
    for metric, x in (("planar", xy), ("haversine", sphere)):
        runs = []
        for mcs, ms in grid:
            r = study(x, mcs, ms, "euclidean" if metric == "planar" else "haversine", rng)
            report(f"duplicated {metric}", r)
            runs.append(r)
        datasets.append({"name": f"duplicated {metric}", "metric": metric, "runs": runs})
    out = {"generator": "tools/reference/hdbscan_ties.py, hdbscan 0.8.44",
           "x": xy[:, 0].tolist(), "y": xy[:, 1].tolist(), "lon": lon.tolist(), "lat": lat.tolist(),
           "datasets": datasets}

    ucdp = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".." / "shared" / "data" / "ucdp-ged-23.1-car.geojson"
    if ucdp.exists():
        feats = json.loads(ucdp.read_text())["features"]
        ids = np.array([f["properties"]["id"] for f in feats])
        lon = np.array([f["geometry"]["coordinates"][0] for f in feats], dtype=float)
        lat = np.array([f["geometry"]["coordinates"][1] for f in feats], dtype=float)
        x = np.radians(np.column_stack([lat, lon]))
        subsets = [("UCDP all", np.arange(len(ids)), [(10, None), (10, 5), (25, 5), (5, 3), (15, 1)])]
        for k in range(3):
            size = int(rng.integers(300, len(ids)))
            pick = np.sort(rng.choice(len(ids), size, replace=False))
            params = [(int(rng.integers(4, 30)), int(rng.integers(1, 12))) for _ in range(2)]
            subsets.append((f"UCDP subset {k}", pick, params))
        for name, pick, params in subsets:
            runs = []
            for mcs, ms in params:
                r = study(x[pick], mcs, ms, "haversine", rng)
                report(name, r)
                runs.append(r)
            datasets.append({"name": name, "metric": "ucdp", "ids": ids[pick].tolist(), "runs": runs})
    else:
        print(f"{ucdp} absent: UCDP runs not written")
    (GOLDEN / "hdbscan_ties.json").write_text(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
