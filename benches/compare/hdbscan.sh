#!/usr/bin/env bash
# Side by side, same points, same run: jointmap's HDBSCAN (criterion, 1 and 2 threads) vs
# fast-hdbscan (numba, warm), the fastest peer found, and the hdbscan package with the exact tree
# (the reference jointmap's golden tests compare with). Points: the peers' synthetic layout
# (/work/shared/peers/ref_bench2.py `hdbscan` modes), projected to metres, min cluster size 20.
# Prints medians, the ratio, and the adjusted Rand index of the three label sets.
#
#   benches/compare/hdbscan.sh [N] [RUNS]      (default 100000 3)
#
# Python: a venv with numpy, scikit-learn, hdbscan and fast-hdbscan, given as $PY
# (default tools/reference/.venv/bin/python).
set -euo pipefail
N=${1:-100000}
RUNS=${2:-3}
cd "$(dirname "$0")/../.."
OUT=bench-out/hdbscan
mkdir -p "$OUT"
PY=${PY:-tools/reference/.venv/bin/python}
[ -x "$PY" ] || { echo "missing $PY: pip install numpy scikit-learn hdbscan fast-hdbscan into a venv, pass PY=..."; exit 1; }
BIN=$(cargo bench --bench clusters --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "clusters":
        print(m["executable"])')
echo "bench binary: $BIN; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $N points: fast-hdbscan (warm, $RUNS runs) and hdbscan exact (once) =="
$PY benches/compare/hdbscan_peers.py "$N" "$OUT" "$RUNS" | tee "$OUT/peers-$N.json"
echo "== $N points: jointmap (criterion, 10 samples, 1 and 2 threads) =="
JOINTMAP_BENCH_HDBSCAN_POINTS="$OUT/hdbscan-points-$N.f64" "$BIN" --bench --warm-up-time 2 "hdbscan_file/$N/" 2>&1 |
  grep -E "^hdbscan_file|time:"
JOINTMAP_BENCH_ONCE=1 JOINTMAP_BENCH_HDBSCAN_POINTS="$OUT/hdbscan-points-$N.f64" \
  JOINTMAP_BENCH_LABELS_OUT="$OUT/jointmap-labels-$N.i32" "$BIN"

$PY - "$OUT" "$N" <<'PY'
import json, sys
import numpy as np
from sklearn.metrics import adjusted_rand_score as ari
out, n = sys.argv[1], sys.argv[2]
peers = json.load(open(f"{out}/peers-{n}.json"))
def median_s(t):
    with open(f"target/criterion/hdbscan_file/{n}/t{t}/new/estimates.json") as f:
        return json.load(f)["median"]["point_estimate"] / 1e9
t1, t2 = median_s(1), median_s(2)
lab = {k: np.fromfile(f"{out}/{k}-labels-{n}.i32", dtype="<i4") for k in ("jointmap", "fast-hdbscan", "hdbscan-exact")}
print(f"\nsummary, {n} points (medians; ratio = fast-hdbscan time / jointmap 2-thread time)")
print(f"fast-hdbscan {peers['median_s']:.3f} s | jointmap 1t {t1:.3f} s, 2t {t2:.3f} s | ratio {peers['median_s'] / t2:.2f}x"
      f" | hdbscan exact {peers['hdbscan_exact_s']:.2f} s")
for a, b in (("jointmap", "hdbscan-exact"), ("jointmap", "fast-hdbscan"), ("fast-hdbscan", "hdbscan-exact")):
    print(f"ARI {a} vs {b}: {ari(lab[a], lab[b]):.4f} (clusters {lab[a].max() + 1} vs {lab[b].max() + 1})")
PY
