#!/usr/bin/env bash
# rolling-deploy.sh: puts a new vsr binary in service without losing a job,
# and goes back to the previous one if the new one does not come up.
#
#   deploy/rolling-deploy.sh NEW_VSR      deploy this binary (build/vsr)
#   deploy/rolling-deploy.sh --rollback   go back to the previous release
#
# Releases live in $VSR_PREFIX/releases/VERSION-SHA/vsr; $VSR_PREFIX/current
# is what the systemd units run (deploy/systemd) and $VSR_PREFIX/previous the
# release before it. Steps:
#   1. the new binary must run (`vsr --version`); it is copied in and
#      `current` is switched to it (atomically, by rename);
#   2. each worker unit is restarted in turn: systemd's stop sends SIGTERM
#      and waits, the worker claims nothing more and finishes its job within
#      its --drain-seconds (or gives it back to the queue for another
#      worker), then the new one starts and must stay up VSR_WORKER_SETTLE s;
#   3. each API unit is restarted in turn, and must answer /health/healthz
#      and /health/readyz within VSR_HEALTH_TIMEOUT seconds before the next
#      one goes (the load balancer sends nothing to an API that does not
#      answer its health check);
#   4. if any step fails, `current` goes back to the previous release and
#      every unit is restarted on it; the script then exits 1.
#
# Settings (environment):
#   VSR_PREFIX          /opt/vsr
#   VSR_API_UNITS       "vsr-api"                units restarted one at a time
#   VSR_API_URLS        "http://127.0.0.1:8080"  each API unit's own address
#   VSR_WORKER_UNITS    the active vsr-worker*@* units
#   VSR_HEALTH_TIMEOUT  60
#   VSR_WORKER_SETTLE   5
#   SYSTEMCTL           systemctl (tests/ops puts a stand-in for local processes here)
set -euo pipefail

prefix="${VSR_PREFIX:-/opt/vsr}"
read -ra api_units <<<"${VSR_API_UNITS:-vsr-api}"
read -ra api_urls <<<"${VSR_API_URLS:-http://127.0.0.1:8080}"
health_timeout="${VSR_HEALTH_TIMEOUT:-60}"
settle="${VSR_WORKER_SETTLE:-5}"
systemctl="${SYSTEMCTL:-systemctl}"

say() { echo "rolling-deploy: $*" >&2; }
usage() { sed -n '5,6p' "$0" | sed 's/^# *//' >&2; exit 2; }

[ $# = 1 ] || usage
[ ${#api_units[@]} = ${#api_urls[@]} ] || { say "VSR_API_UNITS and VSR_API_URLS differ in length"; exit 2; }
if [ -n "${VSR_WORKER_UNITS+set}" ]; then
  read -ra worker_units <<<"$VSR_WORKER_UNITS"
else
  read -ra worker_units <<<"$($systemctl list-units --type=service --state=active --plain \
                               --no-legend 'vsr-worker*@*.service' | awk '{print $1}' | xargs)"
fi

# switch_to RELEASE_DIR: current -> RELEASE_DIR, previous -> what current was.
switch_to() {
  local old; old="$(readlink "$prefix/current" 2>/dev/null || true)"
  ln -sfn "$1" "$prefix/current.new" && mv -T "$prefix/current.new" "$prefix/current"
  if [ -n "$old" ] && [ "$old" != "$1" ]; then
    ln -sfn "$old" "$prefix/previous.new" && mv -T "$prefix/previous.new" "$prefix/previous"
  fi
  say "current is now $(basename "$1")"
}

healthy() { # URL: both health endpoints answer 2xx
  curl -fsS -m 5 -o /dev/null "$1/health/healthz" && curl -fsS -m 5 -o /dev/null "$1/health/readyz"
}

wait_healthy() {
  local deadline=$(($(date +%s) + health_timeout))
  until healthy "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt $deadline ] || return 1
    sleep 0.5
  done
}

# roll: restarts every unit in turn on what `current` points to; 1 at the
# first unit that does not come back.
roll() {
  local i unit
  for unit in "${worker_units[@]}"; do
    say "draining and restarting $unit"
    $systemctl restart "$unit" || { say "$unit did not restart"; return 1; }
    sleep "$settle"
    $systemctl is-active --quiet "$unit" || { say "$unit did not stay up"; return 1; }
    say "$unit is running"
  done
  for i in "${!api_units[@]}"; do
    unit="${api_units[$i]}"
    say "restarting $unit"
    $systemctl restart "$unit" || { say "$unit did not restart"; return 1; }
    wait_healthy "${api_urls[$i]}" || { say "$unit is not healthy at ${api_urls[$i]}"; return 1; }
    say "$unit is healthy"
  done
}

rollback_to() {
  say "rolling back to $(basename "$1")"
  switch_to "$1"
  roll || { say "the rollback did not come up either: see the units' logs"; exit 1; }
  say "rolled back"
}

mkdir -p "$prefix/releases"
if [ "$1" = --rollback ]; then
  target="$(readlink "$prefix/previous" 2>/dev/null)" || { say "no previous release"; exit 1; }
  rollback_to "$target"
  exit 0
fi

new="$1"
version="$("$new" --version 2>&1)" || { say "$new does not run: $version"; exit 1; }
release="$prefix/releases/$(echo "$version" | awk '{print $NF}')-$(sha256sum "$new" | cut -c1-12)"
mkdir -p "$release"
cp "$new" "$release/vsr.new" && chmod 755 "$release/vsr.new" && mv "$release/vsr.new" "$release/vsr"
before="$(readlink "$prefix/current" 2>/dev/null || true)"
previous_before="$(readlink "$prefix/previous" 2>/dev/null || true)"
say "deploying $version as $(basename "$release")"
switch_to "$release"
if roll; then
  say "deployed $(basename "$release")"
  exit 0
fi
[ -n "$before" ] && [ "$before" != "$release" ] || { say "no earlier release to go back to"; exit 1; }
rollback_to "$before"
# The failed release is no rollback target: previous stays what it was.
if [ -n "$previous_before" ]; then
  ln -sfn "$previous_before" "$prefix/previous"
else
  rm -f "$prefix/previous"
fi
exit 1
