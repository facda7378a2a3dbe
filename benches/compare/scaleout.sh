#!/usr/bin/env bash
# Several jointmap servers on one PostGIS store, behind nginx (deploy/nginx/jointmap.conf), and
# what readers see while a large ingest runs. Two measurements, each printed and written into
# bench-out/scaleout/:
#
#   1. throughput: wrk at 64 connections through nginx with one server, then two, on one page
#      of items and on one cached analysis (medians of ROUNDS runs of DURATION each, and the
#      ratio two / one);
#   2. latency under ingest: p50/p99 of an item page and a cached analysis (wrk --latency,
#      4 connections) while `jointmap ingest` of the N-incident demo file runs in another
#      process, on PostGIS and on a GeoPackage.
#
#   benches/compare/scaleout.sh [N_INCIDENTS] [ROUNDS] [DURATION]   (default 1000000 3 10s)
#   BIN=target/debug/jointmap benches/compare/scaleout.sh 2000 1 2s  (checks the script only)
#
# Needs postgresql-15, postgresql-15-postgis-3, nginx (nginx-light) and wrk from Debian.
set -euo pipefail
N=${1:-1000000}
ROUNDS=${2:-3}
DURATION=${3:-10s}
# Latency runs inside one ingest batch each: LATENCY_DURATION (default 5s).
LATENCY_DURATION=${LATENCY_DURATION:-5s}
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/bench-out/scaleout
mkdir -p "$OUT"
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/jointmap
fi
BIN=$(realpath "$BIN")
# The demo's incidents, shared with postgis.sh.
IN=$ROOT/bench-out/postgis-$N/incidents.geojson
[ -f "$IN" ] || "$BIN" --quiet demo --incidents "$N" --write-geojson "$(dirname "$IN")" --no-store
# A small mission the servers answer from while the big file goes in.
BASE=$OUT/base
[ -f "$BASE/incidents.geojson" ] || "$BIN" --quiet demo --incidents 20000 --write-geojson "$BASE" --no-store

WORK=$(mktemp -d)
[ "$(id -u)" = 0 ] && chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx/nginx.pid" ] && kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
  tools/pg-test-cluster.sh stop "$WORK/c" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
URL=$(tools/pg-test-cluster.sh start "$WORK/c")

SECRET=bench-secret-0123456789abcdef
HASH=$(printf %s "$SECRET" | "$BIN" token --stdin --name bench --role hr | grep '^sha256')
AUTH="Authorization: Bearer $SECRET"
GZIP="Accept-Encoding: gzip"
ITEMS=/collections/incidents/items?limit=100
ANALYSIS='/analysis/hotspots?cell-km=10&permutations=0'

# serve STORE PORT: a server in the background, waiting until it listens.
serve() {
  local store=$1 port=$2
  local cfg=$WORK/serve-$port.toml
  printf 'listen = "127.0.0.1:%s"\nstore = "%s"\naudit_log = "%s"\n[[tokens]]\nname = "bench"\nrole = "hr"\n%s\ningest = ["incidents"]\n' \
    "$port" "$store" "$WORK/audit-$port.jsonl" "$HASH" > "$cfg"
  "$BIN" serve --config "$cfg" 2> "$WORK/serve-$port.log" &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    grep -q "listening" "$WORK/serve-$port.log" && return 0
    sleep 0.1
  done
  cat "$WORK/serve-$port.log"; exit 1
}
warm() {  # warm PORT: the analysis and the page computed once.
  curl -sf -o /dev/null -H "$AUTH" "http://127.0.0.1:$1$ANALYSIS"
  curl -sf -o /dev/null -H "$AUTH" "http://127.0.0.1:$1$ITEMS"
}
# nginx with deploy/nginx/jointmap.conf, its upstream servers replaced by PORTS.
proxy() {
  local dir=$WORK/nginx
  [ -f "$dir/nginx.pid" ] && { kill "$(cat "$dir/nginx.pid")"; sleep 0.5; }
  mkdir -p "$dir"
  awk -v ports="$*" '
    /^ *server 127\.0\.0\.1:808[0-9]/ { if (!done) { n = split(ports, p, " ");
        for (i = 1; i <= n; i++) print "    server 127.0.0.1:" p[i] " max_fails=1 fail_timeout=5s;"; done = 1 }
      next }
    /^ *listen 80;/ { print "    listen 127.0.0.1:8090;"; next }
    { print }' deploy/nginx/jointmap.conf > "$dir/jointmap.conf"
  cat > "$dir/nginx.conf" <<CONF
worker_processes auto;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; include $dir/jointmap.conf; }
CONF
  nginx -c "$dir/nginx.conf" -p "$dir"
  sleep 0.3
}
# ticks PID...: CPU time (user + system, clock ticks) the living processes among PIDs used so far.
ticks() {
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
# busy: "total idle" clock ticks of the whole machine (all cores) so far.
busy() { awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6}' /proc/stat; }
# rps PATH SERVER_PIDS: requests per second through the proxy, 64 connections. Also writes
# where the machine's CPU went during the run to $WORK/cpu (percent of all cores: servers,
# nginx, PostgreSQL, the rest (wrk and anything else), idle): what limits the throughput.
rps() {
  local path=$1 servers=$2 pg nginx
  pg=$(pgrep -P "$(head -1 "$WORK/c/data/postmaster.pid")" | tr '\n' ' ')
  nginx=$(pgrep -f "nginx: (master|worker)" | tr '\n' ' ')
  # shellcheck disable=SC2086
  local s0 n0 p0 m0
  s0=$(ticks $servers); n0=$(ticks $nginx); p0=$(ticks $pg); m0=$(busy)
  local r
  r=$(wrk -t2 -c64 -d"$DURATION" -H "$AUTH" -H "$GZIP" "http://127.0.0.1:8090$path" | awk '/Requests\/sec/ {print $2}')
  # shellcheck disable=SC2086
  echo "$(($(ticks $servers) - s0)) $(($(ticks $nginx) - n0)) $(($(ticks $pg) - p0)) $m0 $(busy)" |
    awk '{total = $6 - $4; idle = $7 - $5; rest = total - idle - $1 - $2 - $3;
      printf "%.0f\t%.0f\t%.0f\t%.0f\t%.0f\n", 100 * $1 / total, 100 * $2 / total, 100 * $3 / total,
        100 * rest / total, 100 * idle / total}' > "$WORK/cpu"
  echo "$r"
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "== uptime: $(uptime)"
PGSTORE="$URL?schema=bench_scaleout&pool=8"
"$BIN" --quiet --store "$PGSTORE" ingest incidents "$BASE/incidents.geojson"
serve "$PGSTORE" 8081; serve "$PGSTORE" 8082
warm 8081; warm 8082

echo "== 1. throughput through nginx, 64 connections, $ROUNDS x $DURATION"
TP=$OUT/throughput.tsv
: > "$TP"
printf 'round\tservers\trequest\treq/s\tservers %%\tnginx %%\tpostgres %%\twrk+rest %%\tidle %%\n' | tee "$TP"
for round in $(seq 1 "$ROUNDS"); do
  for servers in "8081" "8081 8082"; do
    proxy $servers
    n=$(echo $servers | wc -w)
    spids=${PIDS[0]}
    [ "$n" = 2 ] && spids="${PIDS[0]} ${PIDS[1]}"
    for what in items analysis; do
      case $what in items) path=$ITEMS ;; analysis) path=$ANALYSIS ;; esac
      r=$(rps "$path" "$spids")
      printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$n" "$what" "$r" "$(cat "$WORK/cpu")" | tee -a "$TP"
    done
  done
done
for what in items analysis; do
  one=$(awk -F'\t' -v w=$what '$2 == 1 && $3 == w {print $4}' "$TP" | median)
  two=$(awk -F'\t' -v w=$what '$2 == 2 && $3 == w {print $4}' "$TP" | median)
  echo "$what: one server $one req/s, two servers $two req/s, two / one = $(echo "scale=2; $two / $one" | bc)"
done
echo "(CPU columns: percent of both cores during each run; idle near 0 means the machine, not the servers, is the limit)"

echo "== 2. latency while $N incidents are ingested by another process (wrk --latency, 4 connections)"
# latency STORE PORT LABEL
latency() {
  local store=$1 port=$2 label=$3
  warm "$port"
  for what in items analysis; do
    case $what in items) path=$ITEMS ;; analysis) path=$ANALYSIS ;; esac
    # An ingest of its own for each request, measured inside its batch (a 1M batch takes
    # about 9 s here: keep DURATION + 2 s under it).
    "$BIN" --quiet --store "$store" ingest incidents "$IN" &
    local ingest=$!
    sleep 2  # into the batch
    wrk -t1 -c4 -d"$LATENCY_DURATION" --latency -H "$AUTH" -H "$GZIP" "http://127.0.0.1:$port$path" > "$OUT/latency-$label-$what.txt"
    kill -0 "$ingest" 2>/dev/null || echo "($label $what: the ingest ended before the measurement did)"
    awk -v l="$label" -v w="$what" '/^ +50%/ {p50 = $2} /^ +99%/ {p99 = $2} /Requests\/sec/ {r = $2}
      END {printf "%s %s: p50 %s, p99 %s, %s req/s\n", l, w, p50, p99, r}' "$OUT/latency-$label-$what.txt"
    # Only the time under the batch matters: the ingest is stopped (its batch rolled back).
    if kill -0 "$ingest" 2>/dev/null; then kill "$ingest"; fi
    wait "$ingest" 2>/dev/null || true
  done
}
latency "$PGSTORE" 8081 postgis
GPKG=$WORK/mission.gpkg
"$BIN" --quiet --store "$GPKG" ingest incidents "$BASE/incidents.geojson"
serve "$GPKG" 8083
latency "$GPKG" 8083 geopackage
