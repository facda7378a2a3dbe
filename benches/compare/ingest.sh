#!/usr/bin/env bash
# Side by side, same GeoJSON file, same run: jointmap ingest vs `ogr2ogr -f GPKG`
# (Debian's GDAL) vs pyogrio (the fastest peer found, GDAL through Arrow).
# Prints hyperfine medians, ratios and each tool's peak memory.
#
#   benches/compare/ingest.sh [N_INCIDENTS] [RUNS]      (default 1000000 3)
#
# Needs: hyperfine, gdal-bin, /usr/bin/time (Debian: apt-get install hyperfine gdal-bin time);
# pyogrio is installed into benches/compare/.venv on first use (skipped if that fails).
set -euo pipefail
N=${1:-1000000}
RUNS=${2:-3}
cd "$(dirname "$0")/../.."
OUT=bench-out/ingest-$N
mkdir -p "$OUT"
cargo build --release --quiet
BIN=target/release/jointmap
IN=$OUT/incidents.geojson
[ -f "$IN" ] || $BIN --quiet demo --incidents "$N" --write-geojson "$OUT" --no-store
echo "input: $IN, $N incidents, $(du -h "$IN" | cut -f1)"

VENV=benches/compare/.venv
if [ ! -x $VENV/bin/python ]; then
  python3 -m venv $VENV && $VENV/bin/pip install -q pyogrio pyarrow || echo "pyogrio unavailable: skipped"
fi
names=(jointmap ogr2ogr)
cmds=("$BIN --quiet --store $OUT/j.gpkg ingest incidents $IN"
      "ogr2ogr -f GPKG $OUT/o.gpkg $IN")
if [ -x $VENV/bin/python ] && $VENV/bin/python -c 'import pyogrio' 2>/dev/null; then
  names+=(pyogrio)
  cmds+=("$VENV/bin/python benches/compare/ingest_pyogrio.py $IN $OUT/p.gpkg")
fi
args=()
for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
clean="rm -f $OUT/j.gpkg* $OUT/o.gpkg* $OUT/p.gpkg*"
hyperfine --runs "$RUNS" --prepare "$clean" --export-json "$OUT/hyperfine.json" "${args[@]}"

echo "peak memory (max RSS, one run each):"
for i in "${!names[@]}"; do
  $clean
  /usr/bin/time -f "  ${names[$i]} %M KB" ${cmds[$i]} > /dev/null
done

python3 - "$OUT/hyperfine.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
j = r["jointmap"]["median"]
print("medians and ratios (jointmap time / peer time):")
for name, x in r.items():
    print(f"  {name:9s} median {x['median']:7.2f} s   jointmap/{name} = {j / x['median']:.2f}")
PY
