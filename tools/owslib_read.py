#!/usr/bin/env python3
"""Reads a jointmap server with OWSLib's OGC API - Features client.

Usage: owslib_read.py BASE_URL TOKEN COLLECTION MIN_LON,MIN_LAT,MAX_LON,MAX_LAT

Prints one JSON object: the collection ids OWSLib lists, and the ids of the
features it reads from COLLECTION within the bbox (following every page).
Used by tests/real_clients.rs; needs `pip install OWSLib`.
"""
import json
import sys

from owslib.ogcapi.features import Features


def main() -> int:
    base, token, collection, bbox = sys.argv[1:5]
    bbox = [float(x) for x in bbox.split(",")]
    api = Features(base, headers={"Authorization": f"Bearer {token}"})
    collections = [c["id"] for c in api.collections()["collections"]]
    ids = []
    # OWSLib returns one page; walk the `next` links it exposes.
    page = api.collection_items(collection, bbox=bbox, limit=50)
    matched = page.get("numberMatched")
    while True:
        ids.extend(f["id"] for f in page["features"])
        nxt = [l["href"] for l in page.get("links", []) if l.get("rel") == "next"]
        if not nxt:
            break
        after = nxt[0].split("after=", 1)[1].split("&", 1)[0]
        from urllib.parse import unquote
        page = api.collection_items(collection, bbox=bbox, limit=50, after=unquote(after))
    print(json.dumps({"collections": collections, "ids": ids, "numberMatched": matched}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
