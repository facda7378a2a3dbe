#!/usr/bin/env bash
# Side by side, same GeoJSON file, same run: `jointmap ingest` into PostGIS (into the empty layer
# of a fresh store: binary COPY into a fresh table on a second connection, indexes built at the
# end on two connections at once, swapped in at the batch's commit) vs `ogr2ogr -f PostgreSQL` of the
# same file (Debian's GDAL, its default COPY mode), each into a fresh schema of a throw-away
# cluster (tools/pg-test-cluster.sh; fsync off for both). The tools take turns within each round.
# A warm-up round, not timed, runs each tool once first: a new cluster has no WAL segments to
# recycle, and whichever tool ran first would pay for creating them (WARMUP=0 skips it).
# Prints each run, then per tool the median wall time and the ratio ogr2ogr / jointmap.
#
#   benches/compare/postgis.sh [N_INCIDENTS] [ROUNDS]      (default 100000 3)
#   BIN=target/debug/jointmap benches/compare/postgis.sh 2000 1   (checks the script only)
#
# Needs postgresql-15, postgresql-15-postgis-3 and gdal-bin from Debian.
set -euo pipefail
N=${1:-100000}
ROUNDS=${2:-3}
cd "$(dirname "$0")/../.."
OUT=bench-out/postgis-$N
mkdir -p "$OUT"
# BIN=path/to/jointmap uses that binary instead of building the release one.
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/jointmap
fi
IN=$OUT/incidents.geojson
[ -f "$IN" ] || $BIN --quiet demo --incidents "$N" --write-geojson "$OUT" --no-store
echo "input: $IN, $N incidents, $(du -hL "$IN" | cut -f1)"

CLUSTER=$(mktemp -d)
[ "$(id -u)" = 0 ] && chmod 755 "$CLUSTER"
trap 'tools/pg-test-cluster.sh stop "$CLUSTER/c"; rm -rf "$CLUSTER"' EXIT
URL=$(tools/pg-test-cluster.sh start "$CLUSTER/c")
# ogr2ogr's connection string from the same URL: host, port, user, database.
HOSTPORT=${URL#postgresql://*@}; HOSTPORT=${HOSTPORT%%/*}
USER_=${URL#postgresql://}; USER_=${USER_%%@*}
PG="PG:host=${HOSTPORT%:*} port=${HOSTPORT#*:} user=$USER_ dbname=${URL##*/}"

RUNS=$OUT/runs.tsv
: > "$RUNS"
WARMUP=${WARMUP:-1}
for round in $(seq $((1 - WARMUP)) "$ROUNDS"); do
  for name in jointmap ogr2ogr; do
    schema=bench_${name}_$round
    case $name in
      jointmap) cmd=("$BIN" --quiet --store "$URL?schema=$schema" ingest incidents "$IN") ;;
      ogr2ogr)
        /usr/lib/postgresql/15/bin/psql -q "$URL" -c "CREATE SCHEMA $schema" >/dev/null
        cmd=(ogr2ogr -f PostgreSQL "$PG" "$IN" -nln "$schema.incidents" -lco GEOMETRY_NAME=geom) ;;
    esac
    start=$(date +%s.%N)
    "${cmd[@]}" > /dev/null
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    rows=$(/usr/lib/postgresql/15/bin/psql -qtA "$URL" -c "SELECT count(*) FROM $schema.incidents")
    [ "$rows" = "$N" ] || { echo "$name stored $rows rows, not $N"; exit 1; }
    if [ "$round" -lt 1 ]; then
      printf 'warm-up\t%s\t%.3f (not counted)\n' "$name" "$secs"
      continue
    fi
    printf '%s\t%s\t%.3f\n' "$round" "$name" "$secs" | tee -a "$RUNS"
  done
done
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
j=$(awk -F'\t' '$2 == "jointmap" {print $3}' "$RUNS" | median)
o=$(awk -F'\t' '$2 == "ogr2ogr" {print $3}' "$RUNS" | median)
echo "median wall time: jointmap ${j} s, ogr2ogr ${o} s; ogr2ogr / jointmap = $(echo "scale=2; $o / $j" | bc)"
