#!/usr/bin/env bash
# A throw-away PostgreSQL 15 + PostGIS cluster for the PostGIS store tests.
#
#   tools/pg-test-cluster.sh start [DIR]   # prints the connection URL (export it as JOINTMAP_TEST_PG)
#   tools/pg-test-cluster.sh stop  [DIR]   # stops the server and removes DIR
#
# DIR defaults to $TMPDIR/jointmap-pg. The server runs as an unprivileged user (the caller, or the
# `postgres` user when called as root), listens on 127.0.0.1 on a free port only (no unix socket
# outside DIR), trusts local connections and is tuned for tests, not durability (fsync off).
# Needs postgresql-15 and postgresql-15-postgis-3 (Debian).
set -euo pipefail

cmd=${1:-}
dir=${2:-${TMPDIR:-/tmp}/jointmap-pg}
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    # initdb and postgres refuse to run as root.
    runuser -u "${PG_USER:-postgres}" -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
  start)
    if [ -f "$dir/url" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      cat "$dir/url"
      exit 0
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown "${PG_USER:-postgres}" "$dir"
    # A free port: bind to port 0 and read what the kernel gave.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U jointmap --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
          -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    url="postgresql://jointmap@127.0.0.1:$port/postgres"
    # PostGIS once, as the superuser the cluster was made with; tests create their own schemas.
    as_owner "$bin/psql" -q -h "$dir" -p "$port" -U jointmap -d postgres \
      -c 'CREATE EXTENSION IF NOT EXISTS postgis' >/dev/null
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop [DIR]" >&2
    exit 64
    ;;
esac
