#!/usr/bin/env bash
# The server's read path on a large store: how long a hotspot layer takes
#   1. the first time (columns from the file, events, the analysis),
#   2. again with other parameters (columns warm in the server: the read is
#      what issue 16 asks under 50 ms; the log's "events loaded" lines give it),
#   3. after one ingest of 1,000 new incidents through POST (columns extended,
#      events and the analysis made again; issue 16's target: under 0.5 s).
# Each step is timed by curl (time_total) over REPS requests with distinct
# parameters (so the response cache never answers), and the median printed.
#
#   benches/compare/server_ingest.sh [N_INCIDENTS] [REPS]    (default 1000000 5)
#
# JOINTMAP_BIN overrides the binary (default: a release build of this tree).
# The store is made once under bench-out/ (or JOINTMAP_BENCH_STORE names a demo
# store of N incidents) and copied for each run.
set -euo pipefail
N=${1:-1000000}
REPS=${2:-5}
cd "$(dirname "$0")/../.."
OUT=bench-out/server-ingest-$N
mkdir -p "$OUT"
if [ -z "${JOINTMAP_BIN:-}" ]; then
  cargo build --release --quiet
  JOINTMAP_BIN=target/release/jointmap
fi
BIN=$JOINTMAP_BIN
BASE_STORE=${JOINTMAP_BENCH_STORE:-$OUT/demo.gpkg}
[ -f "$BASE_STORE" ] || $BIN --quiet --store "$BASE_STORE" demo --incidents "$N"
# 1,000 new incidents for each ingest step: another seed's demo, ids renamed
# so that they add rows rather than replace them.
for r in $(seq "$REPS"); do
  NEW=$OUT/new-$r.geojson
  [ -f "$NEW" ] && continue
  rm -f "$OUT/new.gpkg"
  $BIN --quiet --store "$OUT/new.gpkg" demo --incidents 1000 --seed $((r + 7))
  $BIN --quiet --store "$OUT/new.gpkg" export incidents -o "$OUT/new-raw.geojson"
  python3 - "$OUT/new-raw.geojson" "$NEW" "$r" <<'EOF'
import json, sys
fc = json.load(open(sys.argv[1]))
for f in fc["features"]:
    f["id"] = f"bench-{sys.argv[3]}-{f['id']}"
    f.get("properties", {}).pop("id", None)
    f["properties"]["owner"] = "hr"  # what the bench token may write
json.dump(fc, open(sys.argv[2], "w"))
EOF
done
STORE=$OUT/run.gpkg
cp "$BASE_STORE" "$STORE"
rm -f "$STORE-wal" "$STORE-shm"
SECRET=server-ingest-bench-0123456789
{
  echo 'listen = "127.0.0.1:0"'
  echo "store = \"$STORE\""
  echo "audit_log = \"$OUT/audit.ndjson\""
  echo '[limits]'
  echo 'analysis_timeout_s = 600'
  printf '%s' "$SECRET" | $BIN token --stdin --name bench --role hr \
    | sed 's/^ingest = .*/ingest = ["incidents"]/'
} > "$OUT/jointmap.toml"
START=$(date +%s.%N)
JOINTMAP_LOG=jointmap=info $BIN serve --config "$OUT/jointmap.toml" 2> "$OUT/serve.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
until grep -q "listening on" "$OUT/serve.log"; do
  kill -0 $PID 2>/dev/null || { cat "$OUT/serve.log"; exit 1; }
  sleep 0.2
done
echo "jointmap $($BIN --version | cut -d' ' -f2), $N incidents, $(nproc) cores"
echo "server start-up (store check included): $(echo "$(date +%s.%N) - $START" | bc) s"
URL=$(grep -o "http://127.0.0.1:[0-9]*" "$OUT/serve.log" | head -1)
AUTH="Authorization: Bearer $SECRET"
# Medians of lines "wall cpu".
mid() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
median() {
  local t
  t=$(cat)
  echo "$(echo "$t" | cut -d' ' -f1 | mid) s wall, $(echo "$t" | cut -d' ' -f2 | mid) s CPU"
}
# The server's CPU seconds (user + system, all threads) so far: on a shared
# machine the CPU a step costs is steadier than its wall time.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$PID/stat"; }
hot() {
  local before wall
  before=$(cpu)
  wall=$(curl -sf -o /dev/null -w '%{time_total}' -H "$AUTH" "$URL/analysis/hotspots?seed=$1")
  echo "$wall $(echo "$(cpu) - $before" | bc)"
}
echo "first hotspot layer: $(echo "$(hot 1)" | median)"
for r in $(seq "$REPS"); do hot $((100 + r)); done | median | sed 's/^/warm columns, new parameters (median): /'
for r in $(seq "$REPS"); do
  curl -sf -o /dev/null -H "$AUTH" -H 'Content-Type: application/geo+json' \
    --data-binary "@$OUT/new-$r.geojson" "$URL/collections/incidents/items"
  hot $((200 + r))
done | median | sed 's/^/after an ingest of 1,000 new incidents (median): /'
echo "read times from the server log (events loaded):"
grep -o 'events loaded.*' "$OUT/serve.log" | tail -n $((2 * REPS + 1)) | sed 's/^/  /'
