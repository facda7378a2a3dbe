#!/usr/bin/python3
"""Reads jointmap's outputs with QGIS's own Python API, headless.

Usage (Debian's python3 with python3-qgis and qgis-providers):
  qgis_read.py gpkg STORE.gpkg LAYER...
  qgis_read.py oapif BASE_URL TOKEN COLLECTION
  qgis_read.py xyz BASE_URL TOKEN LAYER Z X Y

TOKEN "-" sends none.

Prints one JSON object:
  gpkg:  {"layers": {LAYER: {"valid", "count", "fields", "ids"}}} from QGIS's
         OGR provider reading the store file directly;
  oapif: {"valid", "count", "fields", "ids"} from QGIS's OAPIF provider
         (every feature of the collection, as QGIS pages through it);
  xyz:   {"valid", "width", "height", "opaque", "differ", "direct_opaque"}:
         QGIS's XYZ layer (the wms provider) rendered over tile Z/X/Y's own
         extent at 256 x 256, compared pixel by pixel with the PNG fetched
         directly from the server.

QGIS 3.22 (Debian 12) has neither the `http-header:` URI parameter nor the
API-header auth method, so the bearer token is added to every request to
BASE_URL by a request preprocessor on QGIS's network access manager, the
hook QGIS offers plugins for this; the providers then do their own HTTP.
Used by tests/qgis_client.rs.
"""
import json
import math
import os
import sys
import tempfile
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsFeatureRequest,
    QgsNetworkAccessManager,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QByteArray  # noqa: E402
from qgis.PyQt.QtGui import QImage  # noqa: E402


def with_token(base, token):
    """Adds `Authorization: Bearer TOKEN` to QGIS's requests to BASE."""

    if token == "-":
        return

    def preprocess(request):
        if request.url().toString().startswith(base):
            request.setRawHeader(b"Authorization", f"Bearer {token}".encode())

    QgsNetworkAccessManager.setRequestPreprocessor(preprocess)


def describe(layer):
    ids = []
    req = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)
    id_field = layer.fields().indexOf("id")
    for f in layer.getFeatures(req):
        ids.append(f.attribute(id_field) if id_field >= 0 else f.id())
    return {
        "valid": layer.isValid(),
        "count": len(ids),
        "feature_count": layer.featureCount(),
        "fields": [f.name() for f in layer.fields()],
        "ids": sorted(str(i) for i in ids),
    }


def gpkg(store, layers):
    out = {}
    for name in layers:
        layer = QgsVectorLayer(f"{store}|layername={name}", name, "ogr")
        out[name] = describe(layer)
    return {"layers": out}


def oapif(base, token, collection):
    with_token(base, token)
    uri = f"url='{base}' typename='{collection}' pagingEnabled='true'"
    layer = QgsVectorLayer(uri, collection, "OAPIF")
    if not layer.isValid():
        # (layer.error() of an invalid OAPIF layer crashes QGIS 3.22.)
        return {"valid": False}
    return describe(layer)


def tile_extent(z, x, y):
    """Tile Z/X/Y's extent in Web Mercator metres."""
    r = 6378137.0 * math.pi
    size = 2 * r / (1 << z)
    return QgsRectangle(-r + x * size, r - (y + 1) * size, -r + (x + 1) * size, r - y * size)


def opaque(img):
    n = 0
    for j in range(img.height()):
        for i in range(img.width()):
            if img.pixelColor(i, j).alpha() > 0:
                n += 1
    return n


def xyz(base, token, name, z, x, y):
    with_token(base, token)
    url = f"{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.png"
    layer = QgsRasterLayer(f"type=xyz&url={url}&zmin=0&zmax=18", name, "wms")
    if not layer.isValid():
        return {"valid": False}
    block = layer.dataProvider().block(1, tile_extent(z, x, y), 256, 256)
    img = block.image() if block is not None else QImage()
    # Compared premultiplied, as QGIS keeps rendered images: a colour under
    # alpha 1/255 does not survive premultiplication, in either image.
    img = img.convertToFormat(QImage.Format_ARGB32_Premultiplied)
    # The same tile straight from the server.
    req = urllib.request.Request(
        f"{base}/tiles/{name}/{z}/{x}/{y}.png", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req) as r:
        direct = QImage.fromData(QByteArray(r.read()), "PNG").convertToFormat(
            QImage.Format_ARGB32_Premultiplied
        )
    differ = 0
    if img.size() == direct.size():
        for j in range(img.height()):
            for i in range(img.width()):
                if img.pixel(i, j) != direct.pixel(i, j):
                    differ += 1
    else:
        differ = -1
    return {
        "valid": True,
        "width": img.width(),
        "height": img.height(),
        "opaque": opaque(img),
        "direct_opaque": opaque(direct),
        "differ": differ,
    }


def main():
    # A fresh profile, settings and network cache for each run: QGIS's disk
    # cache (Qt's, under XDG_CACHE_HOME) keys responses by URL alone and
    # ignores `Vary: Authorization`, so a tile drawn for one token would be
    # shown for the next.
    profile = tempfile.TemporaryDirectory(prefix="qgis-profile-")
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        os.environ[var] = os.path.join(profile.name, var.lower())
    app = QgsApplication([], False, profile.name)
    app.initQgis()
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "gpkg":
        out = gpkg(args[0], args[1:])
    elif kind == "oapif":
        out = oapif(*args[:3])
    elif kind == "xyz":
        base, token, name = args[:3]
        z, x, y = (int(a) for a in args[3:6])
        out = xyz(base, token, name, z, x, y)
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    print(json.dumps(out))
    sys.stdout.flush()
    app.exitQgis()
    profile.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
