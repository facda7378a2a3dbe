#!/usr/bin/env bash
# Fuzzes a running jointmap server from its own OpenAPI document and fails on
# any 5xx (schemathesis, from PyPI: `pip install schemathesis`).
#
# Usage: tools/schemathesis.sh BASE_URL TOKEN [MAX_EXAMPLES]
# Used by tests/real_clients.rs; also useful by hand against `jointmap serve`.
set -euo pipefail
base=${1:?base URL, e.g. http://127.0.0.1:8080}
token=${2:?bearer token}
examples=${3:-25}
export SCHEMATHESIS_HOOKS=
exec schemathesis run "$base/api" \
  --url "$base" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error \
  --max-examples "$examples" \
  --generation-deterministic \
  --workers 1 \
  --request-timeout 60 \
  --no-color
