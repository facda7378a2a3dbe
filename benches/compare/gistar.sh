#!/usr/bin/env bash
# Side by side, same lattice, same run: jointmap's hotspot engine (criterion bench `hotspots`,
# 1 and 2 rayon threads) vs esda (PySAL) vs pygeoda (libgeoda, 2 threads), for
#   * Gi*: distance-band weights + Gi* with analytic z (binary, band 3), and
#   * Local Moran's I with 99 conditional permutations (row-standardised, band 3).
# Then checks that the answers agree (esda vs pygeoda, and jointmap vs esda on the full lattice
# through the ignored `peer_lattice` tests), and prints medians, ratios and peak memory.
#
#   benches/compare/gistar.sh [CELLS]        (default 200000: a 447 x 447 lattice, 199,809 cells)
#
# Python peers live in $GISTAR_VENV (default benches/compare/.venv, shared with ingest.sh), set up on first use
# with numpy esda libpysal pygeoda geopandas numba. Needs /usr/bin/time (Debian: apt-get install time).
# esda needs about 2.5 GB and half a minute per mode at 200k cells. Results go to bench-out/gistar-CELLS.
set -euo pipefail
N=${1:-200000}
cd "$(dirname "$0")/../.."
OUT=bench-out/gistar-$N
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
VENV=${GISTAR_VENV:-benches/compare/.venv}
if ! "$VENV/bin/python" -c "import esda, libpysal, pygeoda, geopandas, numba" 2>/dev/null; then
  { [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"; } && "$VENV/bin/pip" install -q numpy esda libpysal pygeoda geopandas numba
fi
PY="$VENV/bin/python"

echo "== building the criterion bench (release)"
BIN=$(cargo bench --bench hotspots --no-run --message-format=json 2>/dev/null |
  python3 -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "hotspots":
        print(m["executable"])')
export CRITERION_HOME="$OUT/criterion" JOINTMAP_BENCH_CELLS=$N

for t in 1 2; do
  echo "== jointmap, $t thread(s)"
  RAYON_NUM_THREADS=$t /usr/bin/time -o "$OUT/jointmap-t$t.rss" -f %M \
    "$BIN" --bench --save-baseline "t$t" 2>&1 | grep -E "^(lattice|hotspots/)|time:" || true
done

for mode in esda_gistar geoda_gistar esda_moran geoda_moran; do
  echo "== $mode"
  /usr/bin/time -o "$OUT/$mode.rss" -f %M "$PY" benches/compare/gistar.py "$mode" "$N" "$OUT" \
    2> >(grep -v -i warn >&2) | tee "$OUT/$mode.json"
done

echo "== answers"
"$PY" benches/compare/gistar.py compare "$N" "$OUT"
JOINTMAP_PEER_DIR="$OUT" JOINTMAP_PEER_CELLS=$N cargo test --quiet --lib -- --ignored peer_lattice --nocapture 2>&1 |
  grep -E "max relative error|share p_sim|test result|panicked" || true

echo "== summary"
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def crit(bench, base):
    d = os.path.join(out, "criterion", "hotspots")
    name = next((x for x in os.listdir(d) if x.startswith(bench + "_")), None)
    with open(os.path.join(d, name, base, "estimates.json")) as f:
        return json.load(f)["median"]["point_estimate"] / 1e9
def peer(mode):
    with open(os.path.join(out, mode + ".json")) as f:
        return json.loads(f.read().strip().splitlines()[-1])
def rss(name):
    with open(os.path.join(out, name + ".rss")) as f:
        return int(f.read().split()[-1]) / 1024
j = {b: {t: crit(b, t) for t in ("t1", "t2")} for b in ("weights_band3", "gistar_stat", "gistar_total", "local_moran_99_total")}
print(f"jointmap medians (s)     1 thread   2 threads   1T/2T")
for b, v in j.items():
    print(f"  {b:22s} {v['t1']:9.4f}   {v['t2']:9.4f}   {v['t1'] / v['t2']:5.2f}x")
print(f"  peak RSS (whole bench process): 1T {rss('jointmap-t1'):.0f} MB, 2T {rss('jointmap-t2'):.0f} MB")
for work, bench, modes in (("Gi* (weights + statistic)", "gistar_total", ("esda_gistar", "geoda_gistar")),
                           ("Local Moran 99 perms (weights + statistic)", "local_moran_99_total", ("esda_moran", "geoda_moran"))):
    print(f"{work}: jointmap 2 threads {j[bench]['t2']:.3f} s")
    for m in modes:
        p = peer(m)
        print(f"  {p['tool']:8s} weights {p['weights_s']:7.3f} s + statistic {p['stat_s']:7.3f} s = {p['total_s']:7.3f} s, "
              f"peak {rss(m):5.0f} MB  ->  jointmap is {p['total_s'] / j[bench]['t2']:6.1f}x faster")
PY
