#!/usr/bin/env bash
# End-to-end CLI times of the analyses on the demo store (1M incidents by
# default), with each run's time split into store read and the rest:
#   hotspots; clusters --eps-km 2 --min-points 20; blindspots.
# Prints the median of RUNS runs of each: total wall time, store read (the
# columns and presence reads the commands log at info level), the rest
# (events built from columns, the analysis itself, writing the product,
# process start), and the process' CPU time.
#
#   benches/compare/analyses.sh [N_INCIDENTS] [RUNS]      (default 1000000 5)
#
# Then, through the server (`jointmap serve` on loopback, an hr token): the
# hotspot layer warm, and recomputed after a CLI ingest (another process) of
# 1,000 new incidents, median of RUNS ingests (needs curl).
#
# JOINTMAP_BIN overrides the binary (default: a release build of this tree;
# JOINTMAP_SERVER_ONLY=1 runs the server part only);
# JOINTMAP_BASE_BIN, when set, runs the same commands with that binary too
# (e.g. a build of an older commit), side by side on the same store.
# The demo store is built once, in bench-out/analyses-N/. A layer's first
# read after it changed writes its columns to the store (one warm-up run
# per command is not timed), so every timed run is a cold process reading
# the store file.
set -euo pipefail
N=${1:-1000000}
RUNS=${2:-5}
cd "$(dirname "$0")/../.."
OUT=bench-out/analyses-$N
mkdir -p "$OUT"
if [ -z "${JOINTMAP_BIN:-}" ]; then
  cargo build --release --quiet
  JOINTMAP_BIN=target/release/jointmap
fi
STORE=$OUT/demo.gpkg
[ -f "$STORE" ] || "$JOINTMAP_BIN" --quiet --store "$STORE" demo --incidents "$N"
[ -n "${JOINTMAP_SERVER_ONLY:-}" ] || python3 - "$STORE" "$RUNS" "$OUT" "$JOINTMAP_BIN" "${JOINTMAP_BASE_BIN:-}" <<'PY'
import os, re, statistics, subprocess, sys, time
store, runs, out, binary, base = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
commands = [
    ("hotspots", ["hotspots"]),
    ("clusters", ["clusters", "--eps-km", "2", "--min-points", "20"]),
    ("blindspots", ["blindspots"]),
]
env = dict(os.environ, JOINTMAP_LOG="jointmap=info", NO_COLOR="1")
read_re = re.compile(r"store (?:columns|presence) read.*?read_ms=([0-9.]+)")
def run(b, args):
    t = time.perf_counter()
    p = subprocess.Popen([b, "--quiet", "--store", store] + args, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    total = time.perf_counter() - t
    if status != 0:
        sys.exit(f"{' '.join(args)} failed: {err[-2000:]}")
    reads = [float(m) / 1e3 for m in read_re.findall(err)]
    return total, (sum(reads) if reads else None), usage.ru_utime + usage.ru_stime
bins = [("jointmap", binary)] + ([("base", base)] if base else [])
print(f"store {store}, {runs} runs each, medians in seconds")
print(f"(cpu: user + system time of the process, all threads; on a loaded machine")
print(f"wall times grow with the load, cpu times much less)")
print(f"{'binary':9s} {'command':11s} {'total':>7s} {'read':>7s} {'rest':>7s} {'cpu':>7s}")
for name, b in bins:
    for label, args in commands:
        run(b, args)  # warm-up: writes the columns when the layer changed
        totals, reads, cpus = [], [], []
        for _ in range(runs):
            total, read, cpu = run(b, args)
            totals.append(total)
            cpus.append(cpu)
            if read is not None:
                reads.append(read)
        t = statistics.median(totals)
        r = statistics.median(reads) if reads else None
        fmt = lambda x: f"{x:7.3f}" if x is not None else "    n/a"
        print(f"{name:9s} {label:11s} {t:7.3f} {fmt(r)} {fmt(t - r if r is not None else None)} "
              f"{statistics.median(cpus):7.3f}")
PY

command -v curl >/dev/null || { echo "curl is not installed: server part skipped"; exit 0; }
# The server part works on a copy: its ingests must not grow the demo store.
cp "$STORE" "$OUT/server.gpkg"
rm -f "$OUT/server.gpkg-wal" "$OUT/server.gpkg-shm"
SECRET=analyses-bench-secret-0123456789
{
  echo 'listen = "127.0.0.1:0"'
  echo "store = \"$OUT/server.gpkg\""
  echo "audit_log = \"$OUT/audit.ndjson\""
  printf '%s' "$SECRET" | "$JOINTMAP_BIN" token --stdin --name bench --role hr
} > "$OUT/jointmap.toml"
"$JOINTMAP_BIN" serve --config "$OUT/jointmap.toml" 2> "$OUT/serve.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
# Start-up checks every stored feature (docs/operations.md): minutes on 1M.
for _ in $(seq 6000); do
  grep -q "listening on" "$OUT/serve.log" && break
  sleep 0.1
done
grep -q "listening on" "$OUT/serve.log" || { cat "$OUT/serve.log"; exit 1; }
BASE=$(grep -o "http://127.0.0.1:[0-9]*" "$OUT/serve.log" | head -1)
python3 - "$BASE" "$SECRET" "$JOINTMAP_BIN" "$OUT/server.gpkg" "$RUNS" "$OUT" <<'PY'
import json, statistics, subprocess, sys, time, urllib.request
base, secret, binary, store, runs, out = sys.argv[1:7]
runs = int(runs)
def get(path):
    req = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read()
def hot(extra=""):
    t = time.perf_counter()
    get(f"/analysis/hotspots?cell-km=5{extra}")
    return time.perf_counter() - t
# New incidents at the time of a stored one (within the data's span).
import sqlite3
when = sqlite3.connect(store).execute("SELECT time_start FROM incidents LIMIT 1").fetchone()[0]
first = hot()
warm = [hot(f"&permutations={99 + i}") for i in range(runs)]
after = []
for i in range(runs):
    feats = []
    for j in range(1000):
        feats.append({"type": "Feature", "id": f"bench-new-{time.time_ns()}-{j}",
                      "geometry": {"type": "Point", "coordinates": [16 + (j % 37) * 0.05, 5 + (j % 23) * 0.05]},
                      "properties": {"time_start": when, "category": "killing",
                                     "consent": "mission", "killed_men": 1}})
    path = f"{out}/new-{i}.geojson"
    json.dump({"type": "FeatureCollection", "features": feats}, open(path, "w"))
    subprocess.run([binary, "--quiet", "--store", store, "ingest", "incidents", path], check=True)
    after.append(hot())
print(f"server, hr token: first hotspot request {first:.3f} s (columns made or read), "
      f"other parameters on warm columns {statistics.median(warm):.3f} s, "
      f"recomputed after an ingest of 1,000 new incidents {statistics.median(after):.3f} s (medians)")
PY
