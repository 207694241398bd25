#!/usr/bin/env bash
# Stops the PostgreSQL started by scripts/pg-start.sh [DIR] and removes its
# folder. Succeeds when nothing runs there.
set -euo pipefail
dir="${1:-${VSR_PG_DIR:-/tmp/vsr-pg}}"
bin=/usr/lib/postgresql/15/bin
if [ -f "$dir/data/PG_VERSION" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  else
    "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
fi
rm -rf "$dir"
