#!/usr/bin/env bash
# Refreshes the viewer's vendored Leaflet (BSD-2-Clause) from the npm registry:
# the minified script (without its source-map comment, so a browser never asks
# for a file jointmap does not serve), the stylesheet and the licence.
# Usage: tools/refresh-leaflet.sh [VERSION]   (default 1.9.4)
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-1.9.4}"
out=src/server/viewer/vendor/leaflet
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# npm pack checks the tarball against the registry's integrity hash.
(cd "$tmp" && npm pack "leaflet@$version" --silent >/dev/null && tar xzf "leaflet-$version.tgz")
mkdir -p "$out"
grep -v '^//# sourceMappingURL=' "$tmp/package/dist/leaflet.js" >"$out/leaflet.js"
cp "$tmp/package/dist/leaflet.css" "$out/leaflet.css"
cp "$tmp/package/LICENSE" "$out/LICENSE"
echo "$version" >"$out/VERSION"
echo "Leaflet $version vendored in $out"
