#!/usr/bin/env bash
# End-to-end CLI times of the analyses on the demo store (1M incidents by
# default), with each run's time split into store read and the rest:
#   hotspots; clusters --eps-km 2 --min-points 20; blindspots.
# Prints the median of RUNS runs of each: total wall time, store read (the
# columns and presence reads the commands log at info level), and the rest
# (events built from columns, the analysis itself, writing the product,
# process start).
#
#   benches/compare/analyses.sh [N_INCIDENTS] [RUNS]      (default 1000000 5)
#
# JOINTMAP_BIN overrides the binary (default: a release build of this tree);
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
python3 - "$STORE" "$RUNS" "$OUT" "$JOINTMAP_BIN" "${JOINTMAP_BASE_BIN:-}" <<'PY'
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
    p = subprocess.run([b, "--quiet", "--store", store] + args, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    total = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {p.stderr[-2000:]}")
    reads = [float(m) / 1e3 for m in read_re.findall(p.stderr)]
    return total, (sum(reads) if reads else None)
bins = [("jointmap", binary)] + ([("base", base)] if base else [])
print(f"store {store}, {runs} runs each, medians in seconds")
print(f"{'binary':9s} {'command':11s} {'total':>7s} {'read':>7s} {'rest':>7s}")
for name, b in bins:
    for label, args in commands:
        run(b, args)  # warm-up: writes the columns when the layer changed
        totals, reads = [], []
        for _ in range(runs):
            total, read = run(b, args)
            totals.append(total)
            if read is not None:
                reads.append(read)
        t = statistics.median(totals)
        r = statistics.median(reads) if reads else None
        fmt = lambda x: f"{x:7.3f}" if x is not None else "    n/a"
        print(f"{name:9s} {label:11s} {t:7.3f} {fmt(r)} {fmt(t - r if r is not None else None)}")
PY
