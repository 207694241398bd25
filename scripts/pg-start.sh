#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 (Debian's postgresql-15) on loopback for
# tests and benchmarks, and prints its URL on stdout. Idempotent: when the
# server in DIR already runs, it only prints the URL.
#   scripts/pg-start.sh [DIR]      default DIR: $VSR_PG_DIR or /tmp/vsr-pg
# Port: $VSR_PG_PORT (default 55432). Trust authentication on 127.0.0.1 only,
# fsync off: for tests, never for data that matters. Runs the server as the
# "postgres" user when started as root (PostgreSQL refuses to run as root).
# Stop it with scripts/pg-stop.sh [DIR].
set -euo pipefail
dir="${1:-${VSR_PG_DIR:-/tmp/vsr-pg}}"
port="${VSR_PG_PORT:-55432}"
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/pg_ctl" ] || { echo "pg-start: $bin/pg_ctl missing; run scripts/install-deps.sh" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
if [ ! -f "$dir/data/PG_VERSION" ]; then
  as_owner "$bin/initdb" -D "$dir/data" -U vsr --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
fi
if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null ||
    { tail -20 "$dir/server.log" >&2; exit 1; }
fi
url="postgres://vsr@127.0.0.1:$port/vsr"
if ! "$bin/psql" -qAt "postgres://vsr@127.0.0.1:$port/postgres" \
     -c "SELECT 1 FROM pg_database WHERE datname = 'vsr'" | grep -q 1; then
  "$bin/psql" -q "postgres://vsr@127.0.0.1:$port/postgres" -c "CREATE DATABASE vsr" >/dev/null
fi
echo "$url"
