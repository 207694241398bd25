#!/usr/bin/env bash
# test_rolling_deploy.sh: deploy/rolling-deploy.sh against local processes
# (the units of deploy/systemd run by tests/ops/systemctl-local.sh: one API,
# two workers, on SQLite): a deploy while jobs run drains each worker in the
# middle of a job, starts the new one, and every job succeeds; a release
# whose API does not come up is rolled back by itself; --rollback goes back.
. "$(dirname "$0")/lib.sh"
need curl
need ffmpeg
export LOCAL_UNITS="$repo/deploy/systemd" LOCAL_STATE="$work/units" LOCAL_ROOT="$work/root"
export SYSTEMCTL="$repo/tests/ops/systemctl-local.sh" VSR_PREFIX="$work/root/opt/vsr"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export VSR_API_URLS="http://127.0.0.1:$port" VSR_WORKER_UNITS="vsr-worker@1 vsr-worker@2"
export VSR_HEALTH_TIMEOUT=60 VSR_WORKER_SETTLE=1
mkdir -p "$LOCAL_ROOT/etc/vsr"
cat >"$LOCAL_ROOT/etc/vsr/vsr.env" <<ENV
VSR_DATA_DIR=$work/data
VSR_LISTEN=127.0.0.1:$port
VSR_TEST_JOB_TYPES=1
VSR_POLL_MS=100
VSR_MIN_FREE_MB=0
VSR_HTTP_THREADS=2
ASAN_OPTIONS=$ASAN_OPTIONS
ENV
units="vsr-api vsr-worker@1 vsr-worker@2"
stop_units() { "$SYSTEMCTL" stop $units || true; }
trap 'stop_units; ops_cleanup' EXIT
exe_of() { readlink "/proc/$(cat "$LOCAL_STATE/$1.pid")/exe"; }

# Three releases: v1, v2 (another build: other bytes), and a broken one whose
# API exits at once.
mkdir -p "$work/v1" "$work/v2" "$work/bad"
cp "$VSR_BIN" "$work/v1/vsr"
cp "$VSR_BIN" "$work/v2/vsr" && printf 'v2' >>"$work/v2/vsr"
printf '#!/bin/sh\n[ "$1" = serve ] && exit 1\nexec %s "$@"\n' "$VSR_BIN" >"$work/bad/vsr"
chmod +x "$work/bad/vsr"

deploy="$repo/deploy/rolling-deploy.sh"
"$deploy" "$work/v1/vsr" || fail "first deploy"
url="$VSR_API_URLS"
curl -fsS "$url/health/readyz" >/dev/null
set -a; . "$LOCAL_ROOT/etc/vsr/vsr.env"; set +a
key="$("$VSR_BIN" keys create --name ops | sed -n 's/.*\(vsr_[A-Za-z0-9_]*\).*/\1/p' | head -1)"
[ -n "$key" ] || fail "no key"
make_clip "$work/clip.mp4"

submit() { # sleep_ms -> job id
  curl -fsS -H "Authorization: Bearer $key" -F file=@"$work/clip.mp4" -F type=noop \
    -F "options={\"sleep_ms\":$1}" "$url/api/v1/jobs" | jq -r .id
}
state() { curl -fsS -H "Authorization: Bearer $key" "$url/api/v1/jobs/$1" | jq -r .status; }
jobs=()
for _ in 1 2 3 4; do jobs+=("$(submit 3000)"); done
# Both workers are in the middle of a job when the deploy starts with them.
for j in "${jobs[0]}" "${jobs[1]}"; do
  wait_for 30 bash -c "[ \"\$(curl -fsS -H 'Authorization: Bearer $key' '$url/api/v1/jobs/$j' | jq -r .status)\" = processing ]" ||
    fail "job $j did not start"
done

"$deploy" "$work/v2/vsr" 2>"$work/deploy-v2.log" || { cat "$work/deploy-v2.log"; fail "deploy of v2"; }
[[ "$(readlink "$VSR_PREFIX/current")" == *"$(sha256sum "$work/v2/vsr" | cut -c1-12)" ]] || fail "current is not v2"
for u in $units; do [[ "$(exe_of "$u")" == "$VSR_PREFIX"/releases/*/vsr ]] || fail "$u runs $(exe_of "$u")"; done
[ "$(exe_of vsr-worker@1)" = "$(readlink -f "$VSR_PREFIX/current/vsr")" ] || fail "worker 1 is not on v2"
# The first worker was stopped in the middle of a job and drained it.
grep -h '"worker.draining"' "$LOCAL_STATE"/vsr-worker@1.log | head -1 | grep -q '"busy":1' ||
  fail "no worker was draining a job: $(grep -h worker.draining "$LOCAL_STATE"/*.log)"

# Nothing lost: every job succeeds and its result downloads.
for j in "${jobs[@]}"; do
  wait_for 120 bash -c "s=\$(curl -fsS -H 'Authorization: Bearer $key' '$url/api/v1/jobs/$j' | jq -r .status); [ \"\$s\" = succeeded ] || [ \"\$s\" = failed ]"
  [ "$(state "$j")" = succeeded ] || fail "job $j ended $(state "$j")"
  curl -fsS -o /dev/null -H "Authorization: Bearer $key" "$url/api/v1/jobs/$j/result" || fail "no result for $j"
done

# A broken release: the API does not come up, the script goes back to v2.
v2_release="$(readlink "$VSR_PREFIX/current")"
if "$deploy" "$work/bad/vsr" 2>"$work/deploy-bad.log"; then fail "the broken deploy succeeded"; fi
grep -q 'rolled back' "$work/deploy-bad.log" || { cat "$work/deploy-bad.log"; fail "no rollback"; }
[ "$(readlink "$VSR_PREFIX/current")" = "$v2_release" ] || fail "current is not v2 after the rollback"
curl -fsS "$url/health/readyz" >/dev/null || fail "API not healthy after the rollback"
j="$(submit 0)"
wait_for 60 bash -c "[ \"\$(curl -fsS -H 'Authorization: Bearer $key' '$url/api/v1/jobs/$j' | jq -r .status)\" = succeeded ]" ||
  fail "job after the rollback: $(state "$j")"

# --rollback: back to v1, which the broken release did not displace.
"$deploy" --rollback 2>"$work/rollback.log" || { cat "$work/rollback.log"; fail "--rollback"; }
[[ "$(readlink "$VSR_PREFIX/current")" == *"$(sha256sum "$work/v1/vsr" | cut -c1-12)" ]] || fail "current is not v1"
[ "$(exe_of vsr-api)" = "$(readlink -f "$VSR_PREFIX/current/vsr")" ] || fail "the API is not on v1"
curl -fsS "$url/health/readyz" >/dev/null || fail "API not healthy on v1"
grep -h "worker.draining\|worker.stopped" "$LOCAL_STATE"/vsr-worker@*.log | head -4
cat "$work/deploy-bad.log"
echo "deployed v2 with ${#jobs[@]} jobs running, rolled back a broken release, rolled back to v1"
