#!/usr/bin/env bash
# Map tiles side by side on the 1M-incident demo (issue 17):
#   1. pre-rendering: `jointmap export-mbtiles` and `jointmap render-tiles` of
#      LAYER over the demo area at zooms ZOOMS as ROLE, timed (/usr/bin/time);
#   2. cached tile throughput on loopback: `jointmap serve` (its tile cache
#      large enough for every tile, warmed by asking for each tile once) and
#      martin (crates.io, built once into bench-out/tools/martin) serving the
#      MBTiles of step 1, the same tiles by the same paths; wrk, 64
#      connections, cycling through every tile of the package
#      (benches/compare/tiles.lua), jointmap with the role's bearer token.
#      ROUNDS rounds, the tools taking turns (A B A B), medians of tiles/s.
#
#   benches/compare/tiles.sh [STORE] [ROUNDS] [SECONDS]
#
# STORE: a demo store (default: bench-out/tiles/demo.gpkg, made by
# `jointmap demo --incidents 1000000` when missing); it is copied into
# bench-out/tiles/ first, so the given file is never opened for writing.
# Environment: LAYER (incidents), ZOOMS (5-12), ROLE (hr), BBOX (the demo's
# area), JOINTMAP_BIN (default: a release build of this tree), MARTIN (a
# martin binary; default: built by `cargo install` when missing), SKIP_MARTIN=1,
# PRERENDER=0 (serve the package of the last run again, without step 1).
# Needs wrk, sqlite3 and curl (Debian: apt-get install wrk sqlite3 curl).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${2:-3}
SECS=${3:-15}
LAYER=${LAYER:-incidents}
ZOOMS=${ZOOMS:-5-12}
ROLE=${ROLE:-hr}
BBOX=${BBOX:-15.6,4.2,21.0,7.8}
OUT=${OUT:-bench-out/tiles}
mkdir -p "$OUT"
for tool in wrk sqlite3 curl; do
  command -v $tool >/dev/null || { echo "$tool is not installed (apt-get install $tool)"; exit 1; }
done
if [ -z "${JOINTMAP_BIN:-}" ]; then
  cargo build --release --quiet
  JOINTMAP_BIN=target/release/jointmap
fi
BIN=$JOINTMAP_BIN
STORE=$OUT/demo.gpkg
if [ -n "${1:-}" ]; then
  [ "$1" -ef "$STORE" ] || [ -f "$STORE" ] || cp "$1" "$STORE"
elif [ ! -f "$STORE" ]; then
  $BIN --quiet --store "$STORE" demo --incidents 1000000
fi

# martin from crates.io, built once (a long compile: started at low priority).
MARTIN=${MARTIN:-$PWD/bench-out/tools/martin/bin/martin}
if [ -z "${SKIP_MARTIN:-}" ] && [ ! -x "$MARTIN" ]; then
  nice -n 19 cargo install martin --version 1.14.0 --locked --no-default-features \
    --features mbtiles --root bench-out/tools/martin --target-dir bench-out/tools/martin-target \
    || echo "martin did not build; measuring jointmap only"
fi
[ -x "$MARTIN" ] || SKIP_MARTIN=1

echo "jointmap $($BIN --version | cut -d' ' -f2), $LAYER z$ZOOMS over $BBOX as $ROLE, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
PKG=$OUT/$LAYER.mbtiles
# PRERENDER=0 serves the package of an earlier run again (no timing of step 1).
[ "${PRERENDER:-1}" = 0 ] && [ -f "$PKG" ] || for cmd in export-mbtiles render-tiles; do
  [ $cmd = render-tiles ] && rm -rf "$OUT/tree"
  target=(-o "$PKG")
  [ $cmd = render-tiles ] && target=(--out "$OUT/tree")
  /usr/bin/time -f "$cmd: %e s wall, %U s user, %S s system, %M KB peak" \
    $BIN --quiet --store "$STORE" $cmd --layer "$LAYER" --bbox "$BBOX" --zoom "$ZOOMS" \
      --as-role "$ROLE" "${target[@]}"
done
N=$(sqlite3 "$PKG" "select count(*) from tiles")
echo "$N tiles, $(du -k "$PKG" | cut -f1) KB package"

# The same tiles by each server's paths (the package's TMS rows flipped).
sqlite3 "$PKG" "select zoom_level||'/'||tile_column||'/'||((1<<zoom_level)-1-tile_row) from tiles" > "$OUT/zxy.txt"
sed "s|^|/tiles/$LAYER/|; s|$|.png|" "$OUT/zxy.txt" > "$OUT/jointmap.txt"
sed "s|^|/$LAYER/|" "$OUT/zxy.txt" > "$OUT/martin.txt"

SECRET=tiles-bench-secret-0123456789
{
  echo 'listen = "127.0.0.1:0"'
  echo "store = \"$STORE\""
  echo "audit_log = \"$OUT/audit.ndjson\""
  printf '%s' "$SECRET" | $BIN token --stdin --name bench --role "$ROLE"
  printf '[cache]\nentries = %d\nbytes = %d\n' $((N + 1000)) $((1 << 30))
} > "$OUT/jointmap.toml"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM $p 2>/dev/null || true; wait $p 2>/dev/null || true; done' EXIT
$BIN serve --config "$OUT/jointmap.toml" 2> "$OUT/serve.log" &
PIDS+=($!)
# The server checks the whole store before it listens: minutes for 1M incidents.
for _ in $(seq 6000); do grep -q "listening on" "$OUT/serve.log" && break; sleep 0.1; done
JM=$(grep -o "http://127.0.0.1:[0-9]*" "$OUT/serve.log" | head -1)
[ -n "$JM" ] || { echo "jointmap serve did not start: $(tail -3 "$OUT/serve.log")"; exit 1; }
echo "jointmap serve listening after $SECONDS s of this script"
AUTH="Authorization: Bearer $SECRET"
# Warm the cache: every tile once (drawn now, cached from here on), and
# check that the server's tile is the package's.
t0=$(date +%s.%N)
xargs -P 2 -I{} curl -sf -o /dev/null -H "$AUTH" "$JM{}" < "$OUT/jointmap.txt"
echo "jointmap: drew and cached $N tiles in $(echo "$(date +%s.%N) - $t0" | bc) s"
first=$(head -1 "$OUT/zxy.txt")
served=$(curl -sf -H "$AUTH" "$JM/tiles/$LAYER/$first.png" | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F)
packed=$(sqlite3 "$PKG" "select hex(tile_data) from tiles where zoom_level||'/'||tile_column||'/'||((1<<zoom_level)-1-tile_row) = '$first'")
[ "$served" = "$packed" ] && echo "tile $first: the server's bytes are the package's" \
  || echo "tile $first: the server's bytes differ from the package's"

if [ -z "${SKIP_MARTIN:-}" ]; then
  MPORT=$((20000 + RANDOM % 20000))
  "$MARTIN" --listen-addresses "127.0.0.1:$MPORT" "$PKG" > "$OUT/martin.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$MPORT/catalog" && break; sleep 0.1; done
  MA=http://127.0.0.1:$MPORT
  curl -sf -o /dev/null "$MA$(head -1 "$OUT/martin.txt")" || { echo "martin does not serve $PKG"; exit 1; }
fi

run() { # tool base list [header]
  local tool=$1 base=$2 list=$3; shift 3
  local r
  r=$(TILES_LIST=$list wrk -t2 -c64 -d"${SECS}s" --timeout 5s --latency "$@" -s benches/compare/tiles.lua "$base" \
      | tee -a "$OUT/wrk-$tool.log" | awk '/Requests\/sec/ {print $2}')
  echo "$tool $r" | tee -a "$OUT/runs.txt"
}
: > "$OUT/runs.txt"
for round in $(seq "$ROUNDS"); do
  echo "round $round, load $(cut -d' ' -f1-3 /proc/loadavg)"
  run jointmap "$JM" "$OUT/jointmap.txt" -H "$AUTH"
  [ -n "${SKIP_MARTIN:-}" ] || run martin "$MA" "$OUT/martin.txt"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
echo
for tool in jointmap martin; do
  grep -q "^$tool " "$OUT/runs.txt" || continue
  m=$(awk -v t=$tool '$1 == t {print $2}' "$OUT/runs.txt" | median)
  echo "$tool: median $m tiles/s over $ROUNDS runs of ${SECS}s (wrk -t2 -c64)"
done
grep -h "Non-2xx\|Socket errors" "$OUT"/wrk-*.log | sort | uniq -c || true
