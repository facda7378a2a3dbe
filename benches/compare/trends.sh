#!/usr/bin/env bash
# Side by side, same cube, same run: jointmap's trend classification (criterion bench `trends`,
# "classify 240k x 52") vs a Python reference (benches/compare/trends.py), for issue 18's
# acceptance figure: a cube of 240,100 cells (a 490 x 490 unit lattice, band 1.5: the eight
# queen neighbours) x 52 steps, from the values to each cell's emerging hot spot category
# (weights, Gi* per bin, FDR classes, Mann-Kendall and Sen's slope per cell on the values and
# on the z series, the category).
#
#   benches/compare/trends.sh [SIDE] [SUBSET]    (defaults 490 and 2000)
#
# The cube is made once, seeded, by trends.py and written to bench-out/trends/cube.bin; both
# read it. The bench writes its categories beside it and trends.py checks them cell by cell.
# Python: numpy vectorised (exact: the same float operations as pymannkendall, checked against
# it) timed in full, and pymannkendall.original_test per cell timed on SUBSET cells and scaled
# linearly (a full run takes hours). Python lives in $TRENDS_VENV (default
# bench-out/venv-trends), set up on first use from tools/reference/requirements.txt's pins.
set -euo pipefail
SIDE=${1:-490}
SUBSET=${2:-2000}
cd "$(dirname "$0")/../.."
OUT=bench-out/trends
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
VENV=${TRENDS_VENV:-bench-out/venv-trends}
if ! "$VENV/bin/python" -c "import numpy, scipy, pymannkendall" 2>/dev/null; then
  { [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"; } &&
    "$VENV/bin/python" -m pip install -q numpy==2.4.6 scipy==1.17.1 pymannkendall==1.4.3
fi
PY="$VENV/bin/python"

echo "== $(date -u +%FT%TZ), load: $(uptime | sed 's/.*load average/load average/')"
echo "== the cube: $SIDE x $SIDE cells x 52 steps"
"$PY" benches/compare/trends.py cube "$OUT/cube.bin" --side "$SIDE"

echo "== jointmap (criterion, release, $(nproc) rayon threads)"
JOINTMAP_TRENDS_CUBE="$OUT/cube.bin" CRITERION_HOME="$OUT/criterion" \
  cargo bench --bench trends -- "classify" 2>&1 | grep -E "^(classify|trends/)|time:" || true

echo "== Python reference (numpy $("$PY" -c 'import numpy; print(numpy.__version__)'), pymannkendall)"
"$PY" benches/compare/trends.py classify "$OUT/cube.bin" --subset "$SUBSET" --patterns "$OUT/cube.patterns"
echo "== load after: $(uptime | sed 's/.*load average/load average/')"
