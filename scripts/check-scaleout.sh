#!/usr/bin/env bash
# The second half of `make check`: the service tests (job store, file store,
# HTTP API, service processes, webhooks, scale-out) again, on PostgreSQL and
# S3 (radosgw) instead of SQLite and a folder. Starts both servers with the
# project's scripts, stops them on exit, whatever happened.
#   scripts/check-scaleout.sh TEST_RUNNER [NAME_PREFIX...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runner="$1"
shift
[ $# -gt 0 ] || set -- store blob http service webhook scaleout
pg_dir="${VSR_PG_DIR:-/tmp/vsr-check-pg}"
s3_dir="${VSR_S3_DIR:-/tmp/vsr-check-s3}"
cleanup() {
  "$here/pg-stop.sh" "$pg_dir" || true
  "$here/s3-stop.sh" "$s3_dir" || true
}
trap cleanup EXIT
echo "== PostgreSQL + S3: starting the servers (scripts/pg-start.sh, scripts/s3-start.sh)" >&2
VSR_TEST_DB="$("$here/pg-start.sh" "$pg_dir")"
s3_env="$("$here/s3-start.sh" "$s3_dir")"
eval "$s3_env"
export VSR_TEST_DB VSR_TEST_STORAGE="$VSR_S3_URL" AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
echo "== PostgreSQL + S3: $VSR_TEST_DB, $VSR_TEST_STORAGE" >&2
"$runner" "$@"
