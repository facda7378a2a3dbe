#!/usr/bin/env bash
# Shapefile and FlatGeobuf ingest side by side (issue 19): the demo's incidents written once
# as GeoJSON (`jointmap demo --write-geojson`), converted once by ogr2ogr into a Shapefile
# (times kept as their text: -oo DATE_AS_STRING=YES) and a FlatGeobuf, then in every round,
# taking turns on the same files:
#   jointmap-shp       jointmap ingest of the Shapefile (read through GDAL, the `gdal` feature),
#                      with a mapping of ogr2ogr's 10-byte field names back to the schema's
#   ogr2ogr-shp        ogr2ogr -f GPKG of the same Shapefile
#   jointmap-fgb       jointmap ingest of the FlatGeobuf (its own pure-Rust reader)
#   jointmap-fgb-gdal  the same file read through GDAL (--format gdal)
#   ogr2ogr-fgb        ogr2ogr -f GPKG of the same FlatGeobuf
# each into a fresh file under /usr/bin/time -v. Prints every run (round, tool, seconds, max RSS
# in KB, CPU seconds, load average; kept in bench-out/ingest-gdal-N/runs.tsv), then per tool the
# medians and the ratios jointmap / ogr2ogr per input format.
#
#   benches/compare/ingest_gdal.sh [N_INCIDENTS] [ROUNDS]      (default 1000000 3)
#
# Needs: gdal-bin and time (Debian), libgdal-dev to build jointmap with the gdal feature.
# JOINTMAP_BIN=path takes that jointmap binary (built with --features gdal) instead of building
# one; SKIP="ogr2ogr-fgb ..." (space-separated names) leaves tools out.
set -euo pipefail
N=${1:-1000000}
ROUNDS=${2:-3}
SKIP=${SKIP:-}
cd "$(dirname "$0")/../.."
OUT=bench-out/ingest-gdal-$N
mkdir -p "$OUT"
BIN=${JOINTMAP_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet --features gdal
  BIN=target/release/jointmap
fi
GEOJSON=$OUT/incidents.geojson
[ -f "$GEOJSON" ] || $BIN --quiet demo --incidents "$N" --write-geojson "$OUT" --no-store
SHP=$OUT/incidents.shp
FGB=$OUT/incidents.fgb
[ -f "$SHP" ] || ogr2ogr -q -oo DATE_AS_STRING=YES "$SHP" "$GEOJSON"
[ -f "$FGB" ] || ogr2ogr -q -f FlatGeobuf "$FGB" "$GEOJSON"
# ogr2ogr cut the field names to 10 bytes (and orders them its own way): a mapping names them
# back, each cut name matched to the one property it is the cut of (the demo writes a feature a line).
MAP=$OUT/shp-mapping.toml
python3 - "$GEOJSON" "$SHP" "$MAP" <<'PY'
import itertools, json, subprocess, sys
geojson, shp, out = sys.argv[1:]
props = []
with open(geojson) as f:
    for line in itertools.islice(f, 1, 20001):
        line = line.strip().rstrip(",")
        if not line.startswith("{"):
            continue
        for k in json.loads(line)["properties"]:
            if k not in props:
                props.append(k)
info = subprocess.run(["ogrinfo", "-ro", "-so", "-al", shp], capture_output=True, text=True, check=True).stdout
fields, on = [], False
for line in info.splitlines():
    if line.startswith("Data axis to CRS axis mapping"):
        on = True
        continue
    if on and ": " in line and "(" in line:
        fields.append(line.split(": ")[0])
rename, left = {}, [p for p in props if p not in fields]
for f in fields:  # in GDAL's order: the plain cut before x_1, x_2, ...
    if f in props:
        continue
    match = [p for p in left if p[:10] == f]
    if not match and "_" in f:
        match = [p for p in left if p.startswith(f[: f.rindex("_")])]
    if match:
        rename[match[0]] = f
        left.remove(match[0])
with open(out, "w") as m:
    m.write("[rename]\n")
    for long, short in rename.items():
        m.write(f'{long} = "{short}"\n')
PY
echo "inputs: $N incidents; $SHP $(du -chL "$OUT"/incidents.{shp,shx,dbf,prj} | tail -1 | cut -f1), $FGB $(du -hL "$FGB" | cut -f1)"

names=(jointmap-shp ogr2ogr-shp jointmap-fgb jointmap-fgb-gdal ogr2ogr-fgb)
cmds=("$BIN --quiet --store $OUT/j.gpkg ingest incidents $SHP --mapping $MAP"
      "ogr2ogr -f GPKG $OUT/o.gpkg $SHP"
      "$BIN --quiet --store $OUT/j.gpkg ingest incidents $FGB"
      "$BIN --quiet --store $OUT/j.gpkg ingest incidents $FGB --format gdal"
      "ogr2ogr -f GPKG $OUT/o.gpkg $FGB")

RUNS=$OUT/runs.tsv
: > "$RUNS"
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!names[@]}"; do
    name=${names[$i]}
    case " $SKIP " in *" $name "*) continue ;; esac
    rm -f "$OUT"/j.gpkg* "$OUT"/o.gpkg*
    sync
    log=$OUT/time-$name.txt
    /usr/bin/time -v ${cmds[$i]} > /dev/null 2> "$log" || { echo "$name failed:"; cat "$log"; exit 1; }
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + t[k]; print s}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$log")
    load=$(cut -d' ' -f1 /proc/loadavg)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$secs" "$rss" "$cpu" "$load" | tee -a "$RUNS"
  done
done

python3 - "$RUNS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    _, name, secs, rss, cpu, _ = line.split("\t")
    runs.setdefault(name, []).append((float(secs), int(rss), float(cpu)))
med = {n: tuple(statistics.median(x[i] for x in r) for i in range(3)) for n, r in runs.items()}
print(f"\nmedians over {max(len(r) for r in runs.values())} round(s), tools alternating:")
for n, (s, kb, cpu) in med.items():
    print(f"  {n:18s} {s:7.2f} s   peak {kb / 1024:6.0f} MB   CPU (user + system) {cpu:7.2f} s")
for j, o in [("jointmap-shp", "ogr2ogr-shp"), ("jointmap-fgb", "ogr2ogr-fgb"), ("jointmap-fgb-gdal", "ogr2ogr-fgb")]:
    if j in med and o in med:
        print(f"  {j} / {o} = {med[j][0] / med[o][0]:.2f}x (wall time)")
PY
