#!/usr/bin/env bash
# Load test of `jointmap serve` on loopback with wrk (Debian: apt-get install wrk):
# 64 connections on a demo store, for
#   1. an items page of 100 features (first page, and a page deep in the layer),
#   2. an items page with a bbox and a property filter (a scan of the role's view),
#   4. the same hotspot layer as most clients ask for it (gzip) and uncompressed.
# Prints wrk's throughput and latency percentiles for each.
#
#   benches/compare/load.sh [N_INCIDENTS] [SECONDS]      (default 5000 20)
#
# JOINTMAP_BIN overrides the binary (default: a release build of this tree).
# Traffic goes to 127.0.0.1 only; every run is bounded by SECONDS.
set -euo pipefail
N=${1:-5000}
SECS=${2:-20}
cd "$(dirname "$0")/../.."
OUT=bench-out/load-$N
mkdir -p "$OUT"
if [ -z "${JOINTMAP_BIN:-}" ]; then
  cargo build --release --quiet
  JOINTMAP_BIN=target/release/jointmap
fi
BIN=$JOINTMAP_BIN
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
STORE=$OUT/demo.gpkg
[ -f "$STORE" ] || $BIN --quiet --store "$STORE" demo --incidents "$N"
SECRET=load-test-secret-0123456789
{
  echo 'listen = "127.0.0.1:0"'
  echo "store = \"$STORE\""
  echo "audit_log = \"$OUT/audit.ndjson\""
  printf '%s' "$SECRET" | $BIN token --stdin --name load --role hr
} > "$OUT/jointmap.toml"
$BIN serve --config "$OUT/jointmap.toml" 2> "$OUT/serve.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$OUT/serve.log" && break
  sleep 0.1
done
BASE=$(grep -o "http://127.0.0.1:[0-9]*" "$OUT/serve.log" | head -1)
AUTH="Authorization: Bearer $SECRET"
MID=$(curl -sf -H "$AUTH" "$BASE/collections/incidents/items?limit=$((N / 2))" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["features"][-1]["id"])')
HOT="$BASE/analysis/hotspots?cell-km=5&permutations=99"
declare -a NAMES=("items, first page of 100" "items, page of 100 after $MID" "items, bbox + category filter, limit 100" "hotspots (cached), Accept-Encoding: gzip" "hotspots (cached), uncompressed")
declare -a URLS=("$BASE/collections/incidents/items?limit=100"
                 "$BASE/collections/incidents/items?limit=100&after=$MID"
                 "$BASE/collections/incidents/items?limit=100&bbox=16,4,19,7&category=killing&category=abduction"
                 "$HOT" "$HOT")
declare -a ENCODING=("identity" "identity" "identity" "gzip" "identity")
# Warm up: the role's view of the layer and the hotspot layer are built once.
for u in "${URLS[@]}"; do curl -sf -o /dev/null -H "$AUTH" "$u"; done
echo "jointmap $($BIN --version | cut -d' ' -f2), $N incidents, $(nproc) cores, wrk -t2 -c64 -d${SECS}s --latency"
for i in "${!URLS[@]}"; do
  BYTES=$(curl -sf -H "$AUTH" -H "Accept-Encoding: ${ENCODING[$i]}" "${URLS[$i]}" | wc -c)
  echo
  echo "== ${NAMES[$i]} ($BYTES bytes a response)"
  wrk -t2 -c64 -d"${SECS}s" --timeout 5s --latency -H "$AUTH" -H "Accept-Encoding: ${ENCODING[$i]}" "${URLS[$i]}" \
    | grep -E "Requests/sec|Transfer/sec|Non-2xx|Socket errors|^ +(50|90|99)%|Latency "
done
