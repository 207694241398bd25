#!/usr/bin/env bash
# test_runbook.sh: runs every command block of docs/RUNBOOK.md, in order and
# as written, against real vsr processes: the units of deploy/systemd run by
# tests/ops/systemctl-local.sh (systemctl on PATH), vsr on PATH, SQLite, in
# business-hours mode closed now so that the bypass has a job to run. The
# `sh postgres` blocks then run against a throwaway PostgreSQL 15
# (scripts/pg-start.sh). Also checks that every alert's runbook_url names a
# section of the runbook.
. "$(dirname "$0")/lib.sh"
need curl
need jq
need sqlite3
need ffmpeg
runbook="$repo/docs/RUNBOOK.md"

# Every runbook_url of the rules is a heading of the runbook.
python3 - "$runbook" "$repo/deploy/prometheus/vsr-rules.yml" <<'PY'
import re, sys, yaml
anchors = {re.sub(r'[^a-z0-9 -]', '', h.strip().lower()).replace(' ', '-')
           for h in re.findall(r'^#+ (.*)$', open(sys.argv[1]).read(), re.M)}
for g in yaml.safe_load(open(sys.argv[2]))["groups"]:
    for r in g["rules"]:
        url = r["annotations"]["runbook_url"]
        assert url.startswith("docs/RUNBOOK.md#") and url.split("#")[1] in anchors, (r["alert"], url)
PY

# The blocks, as scripts: one for SQLite (```sh), one for PostgreSQL
# (```sh postgres); each block announces its line so that a failure says which.
python3 - "$runbook" "$work" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
out = {"sh": [], "sh postgres": []}
i = 0
while i < len(lines):
    tag = lines[i][3:].strip() if lines[i].startswith("```") else None
    if tag in out:
        start = i + 1
        i += 1
        body = []
        while not lines[i].startswith("```"):
            body.append(lines[i]); i += 1
        out[tag].append(f'echo "== docs/RUNBOOK.md:{start} $(date +%T)" >&2\n' + "\n".join(body) + "\n")
    i += 1
for tag, name in (("sh", "sqlite"), ("sh postgres", "postgres")):
    open(f"{sys.argv[2]}/runbook-{name}.sh", "w").write("".join(out[tag]))
    print(f"{name}: {len(out[tag])} blocks")
PY
blocks="$(grep -h -c '^echo "== ' "$work"/runbook-*.sh | paste -sd+ | bc)"
[ "$blocks" = "$(grep -c '^```sh' "$runbook")" ] || fail "$blocks blocks extracted of $(grep -c '^```sh' "$runbook")"

# The deployment: units, a release in VSR_PREFIX, vsr and systemctl on PATH,
# a checkout with the new build for the deploy section.
export LOCAL_UNITS="$repo/deploy/systemd" LOCAL_STATE="$work/units" LOCAL_ROOT="$work/root"
export VSR_PREFIX="$work/root/opt/vsr" VSR_ENV="$work/root/etc/vsr/vsr.env"
export VSR_WORKER_SETTLE=1 BACKUP_DIR="$work/backups"
mkdir -p "$work/bin" "$work/checkout/build" "$LOCAL_ROOT/etc/vsr"
ln -s "$VSR_BIN" "$work/bin/vsr"
ln -s "$repo/tests/ops/systemctl-local.sh" "$work/bin/systemctl"
ln -s "$repo/deploy" "$work/checkout/deploy"
cp "$VSR_BIN" "$work/checkout/build/vsr" && printf 'next' >>"$work/checkout/build/vsr"
export PATH="$work/bin:$PATH"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Business hours that are closed now: from 2 to 3 hours from now, UTC.
hours="$(date -u -d '+2 hours' +%H):00-$(date -u -d '+3 hours' +%H):00"
cat >"$VSR_ENV" <<ENV
VSR_LISTEN=127.0.0.1:$port
VSR_DATA_DIR=$work/data
VSR_TEST_JOB_TYPES=1
VSR_POLL_MS=100
VSR_MIN_FREE_MB=0
VSR_HTTP_THREADS=2
VSR_WEBHOOK_ALLOW_PRIVATE=1
VSR_WEBHOOK_BACKOFF_MS=200
VSR_BUSINESS_HOURS_ONLY=1
VSR_BUSINESS_HOURS=$hours
VSR_TIMEZONE=UTC
ASAN_OPTIONS=$ASAN_OPTIONS
ENV
units="vsr-api vsr-worker@1 vsr-worker@2 vsr-worker@3 vsr-worker-anytime@1"
trap 'systemctl stop $units || true; [ -z "${pg_dir:-}" ] || { "$repo/scripts/pg-stop.sh" "$pg_dir" || true; rm -rf "$pg_dir"; }; ops_cleanup' EXIT
url="http://127.0.0.1:$port"
VSR_API_URLS="$url" VSR_WORKER_UNITS="vsr-worker@1 vsr-worker@2" \
  "$repo/deploy/rolling-deploy.sh" "$VSR_BIN" 2>"$work/first-deploy.log" ||
  { cat "$work/first-deploy.log"; fail "first deploy"; }

# A user's job, queued out of hours, with a webhook nobody answers.
key="$(set -a; . "$VSR_ENV"; vsr keys create --name user | sed -n 's/^token: //p')"
make_clip "$work/clip.mp4"
job="$(curl -fsS -H "Authorization: Bearer $key" -F file=@"$work/clip.mp4" -F type=noop \
  -F 'options={"sleep_ms":500}' -F webhook_url=http://127.0.0.1:9/hook "$url/api/v1/jobs" | jq -r .id)"
sleep 1
[ "$(curl -fsS -H "Authorization: Bearer $key" "$url/api/v1/jobs/$job" | jq -r .status)" = queued ] ||
  fail "the job did not wait for business hours"

(cd "$work/checkout" && bash -e -o pipefail "$work/runbook-sqlite.sh") >"$work/sqlite.log" 2>&1 ||
  { cat "$work/sqlite.log"; fail "a runbook block failed (the last == line above)"; }

# What the runbook did: the bypass ran the job, the restore kept it and its
# result, the deploy and rollback left the first release current, the
# session's admin key is revoked.
[ "$(curl -fsS -H "Authorization: Bearer $key" "$url/api/v1/jobs/$job" | jq -r .status)" = succeeded ] ||
  fail "the job queued out of hours did not run"
curl -fsS -o /dev/null -H "Authorization: Bearer $key" "$url/api/v1/jobs/$job/result" || fail "no result"
grep -q 'rolled back' "$work/sqlite.log" || fail "the rollback block did not roll back"
[[ "$(readlink "$VSR_PREFIX/current")" == *"$(sha256sum "$VSR_BIN" | cut -c1-12)" ]] ||
  fail "--rollback did not go back to the first release"
(set -a; . "$VSR_ENV"; vsr keys list) | grep oncall- | grep -q revoked || fail "the on-call key is not revoked"
for f in manifest.json database.sqlite files; do
  ls -d "$BACKUP_DIR"/vsr-*/"$f" >/dev/null || fail "the backup has no $f"
done
ls "$work"/data.before-restore-*/vsr.db >/dev/null || fail "the data folder was not moved aside"

# The PostgreSQL blocks.
if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
  pg_dir="$(mktemp -d /tmp/vsr-ops-pg.XXXXXX)"
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  pg_url="$(VSR_PG_PORT=$pg_port "$repo/scripts/pg-start.sh" "$pg_dir")"
  export VSR_DATABASE_URL="$pg_url"
  vsr migrate >/dev/null
  export BACKUP_DIR="$work/backups-pg"
  (cd "$work/checkout" && bash -e -o pipefail "$work/runbook-postgres.sh") >"$work/pg.log" 2>&1 ||
    { cat "$work/pg.log"; fail "a runbook postgres block failed (the last == line above)"; }
  ls "$BACKUP_DIR"/vsr-*/database.pgdump "$BACKUP_DIR"/vsr-*/manifest.json >/dev/null
else
  echo "PostgreSQL 15 is not installed: the postgres blocks did not run" >&2; exit 77
fi
cat "$work/sqlite.log" "$work/pg.log"
