"""Reference H3 neighbours from the `h3` Python package (Uber's C library), independent of h3o.

Writes tests/golden/h3_rings.json, compared by src/analysis/weights/contiguity.rs:

    tools/reference/.venv/bin/python tools/reference/h3_rings.py [--out DIR]

For the box 15.5..19.5 E, 3.5..7.5 N (western CAR) at resolution 5: the cells whose centre lies in
the box (h3.geo_to_cells, the polyfill rule jointmap's H3 grid uses) and, for each, its ring-1
cells (h3.grid_ring(cell, 1)), as lowercase hex indices.
"""

import argparse
import json
import os

import h3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BBOX = (15.5, 3.5, 19.5, 7.5)
RESOLUTION = 5


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    args = ap.parse_args()
    w, s, e, n = BBOX
    poly = h3.LatLngPoly([(s, w), (s, e), (n, e), (n, w)])
    cells = sorted(h3.geo_to_cells(poly, RESOLUTION))
    rings = {c: sorted(h3.grid_ring(c, 1)) for c in cells}
    path = os.path.join(args.out, "h3_rings.json")
    with open(path, "w") as f:
        json.dump(
            {
                "meta": {
                    "generator": "tools/reference/h3_rings.py",
                    "h3": h3.__version__,
                    "bbox": BBOX,
                    "resolution": RESOLUTION,
                },
                "cells": cells,
                "rings": [rings[c] for c in cells],
            },
            f,
            separators=(",", ":"),
        )
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path) / 1000:.0f} kB, {len(cells)} cells)")


if __name__ == "__main__":
    main()
