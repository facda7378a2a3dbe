#!/usr/bin/env python3
"""Draws a blind-spot map from jointmap's GeoJSON outputs (docs/blindspots-demo.png).

    jointmap demo
    jointmap blindspots --cells -o blindspots.geojson
    jointmap export bases -o bases.geojson
    jointmap export patrols --from 2025-10-03 -o patrols.geojson
    jointmap export sites -o sites.geojson
    python tools/plot_blindspots.py blindspots.geojson bases.geojson patrols.geojson sites.geojson out.png

Needs matplotlib (pip install matplotlib). Risk cells are shaded by level, threat blind spots
outlined in red with their rank, information blind spots hatched, patrols in blue, bases as
triangles (hollow: closed before the end of the window), civilian sites as dots.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Polygon as Patch

RISK = {"low": "#fff7bc", "medium": "#fec44f", "high": "#ec7014", "extreme": "#993404"}


def rings(geom):
    if geom["type"] == "Polygon":
        yield from geom["coordinates"]
    elif geom["type"] == "MultiPolygon":
        for poly in geom["coordinates"]:
            yield from poly


def main(blind, bases, patrols, sites, out):
    fc = json.load(open(blind))
    fig, ax = plt.subplots(figsize=(11, 7.5), dpi=110)
    for f in fc["features"]:
        p = f["properties"]
        if p["kind"] == "cell" and p["risk_level"] != "low":
            for r in rings(f["geometry"]):
                ax.add_patch(Patch(r, closed=True, facecolor=RISK[p["risk_level"]], edgecolor="none", alpha=0.8))
    for f in json.load(open(patrols))["features"]:
        g = f["geometry"]
        parts = [g["coordinates"]] if g["type"] == "LineString" else g["coordinates"]
        for part in parts:
            ax.plot([c[0] for c in part], [c[1] for c in part], color="#2c7fb8", lw=0.6, alpha=0.6)
    for f in fc["features"]:
        p = f["properties"]
        if p["kind"] == "threat":
            for r in rings(f["geometry"]):
                ax.add_patch(Patch(r, closed=True, fill=False, edgecolor="#d7191c", lw=1.6))
            if p["rank"] <= 5:
                c = f["geometry"]["coordinates"][0][0][0]
                ax.annotate(f"T{p['rank']}", c, color="#d7191c", fontsize=10, weight="bold")
        elif p["kind"] == "information":
            for r in rings(f["geometry"]):
                ax.add_patch(Patch(r, closed=True, fill=False, edgecolor="#7b3294", lw=0.8, hatch="///"))
    for f in json.load(open(sites))["features"]:
        g = f["geometry"]
        if g["type"] == "Point":
            ax.plot(*g["coordinates"], "o", color="#4d4d4d", ms=2)
    meta = fc["jointmap"]
    to = meta["window"]["to"]
    for f in json.load(open(bases))["features"]:
        g = f["geometry"]
        if g["type"] != "Point":
            continue
        end = f["properties"].get("time_end")
        if end is None or end >= to:
            ax.plot(*g["coordinates"], "^", color="#1a9641", ms=7, mec="black", mew=0.5)
        else:
            ax.plot(*g["coordinates"], "^", color="none", ms=7, mec="#4d4d4d", mew=0.8)
    ax.set_title(
        f"Blind spots, demo mission, {meta['window']['from'][:10]} to {meta['window']['to'][:10]}: "
        f"{meta['threat_blindspots']} threat (red), {meta['information_blindspots']} information (hatched)",
        fontsize=10,
    )
    ax.set_aspect(1.0)
    ax.autoscale_view()
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    handles = [Patch([[0, 0]], facecolor=RISK[k], label=f"risk {k}") for k in ("medium", "high", "extreme")]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    main(*sys.argv[1:6])
