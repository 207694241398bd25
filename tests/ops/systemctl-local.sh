#!/usr/bin/env bash
# systemctl-local.sh: a stand-in for systemctl where no systemd runs (the
# tests' machines), for the units of deploy/systemd only. It starts each
# unit's real ExecStart with its EnvironmentFile as local processes, and
# stops them as systemd does with KillMode=mixed: SIGTERM, then SIGKILL
# after TimeoutStopSec. Paths of the units are mapped into a scratch tree:
#   LOCAL_UNITS   folder of the unit files (deploy/systemd)
#   LOCAL_STATE   folder for each unit's pid file and log (UNIT.pid, UNIT.log)
#   LOCAL_ROOT    what / is for /opt/vsr and /etc/vsr in the units
# Verbs: start, stop, restart, is-active [--quiet], status, list-units.
set -euo pipefail
: "${LOCAL_UNITS:?}" "${LOCAL_STATE:?}" "${LOCAL_ROOT:?}"
mkdir -p "$LOCAL_STATE"

unit_file() { # vsr-worker@2 -> LOCAL_UNITS/vsr-worker@.service
  local name="${1%.service}"
  case "$name" in *@*) name="${name%%@*}@" ;; esac
  [ -f "$LOCAL_UNITS/$name.service" ] || { echo "Unit ${1%.service}.service not found." >&2; exit 5; }
  echo "$LOCAL_UNITS/$name.service"
}
setting() { sed -n "s/^$2=//p" "$1" | tail -1; }
pid_of() { cat "$LOCAL_STATE/${1%.service}.pid" 2>/dev/null || true; }
# A process that has exited but is not reaped yet (a zombie: an init that
# reaps slowly, as in some containers) counts as stopped, as for systemd.
alive() { kill -0 "$1" 2>/dev/null && [ "$(sed -n 's/^State:\t\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)" != Z ]; }
running() { local pid; pid="$(pid_of "$1")"; [ -n "$pid" ] && alive "$pid"; }

start() {
  running "$1" && return 0
  local file exec envfile
  file="$(unit_file "$1")"
  exec="$(setting "$file" ExecStart | sed "s|^/opt/|$LOCAL_ROOT/opt/|")"
  envfile="$LOCAL_ROOT$(setting "$file" EnvironmentFile)"
  # setsid: the process outlives this command, as a service outlives systemctl.
  setsid bash -c 'set -a; . "$1"; set +a; shift; exec "$@"' _ "$envfile" $exec \
    </dev/null >>"$LOCAL_STATE/${1%.service}.log" 2>&1 &
  echo $! >"$LOCAL_STATE/${1%.service}.pid"
  sleep 0.2
  running "$1" || { echo "Job for $1 failed." >&2; return 1; }
}

stop() {
  running "$1" || return 0
  local pid timeout deadline
  pid="$(pid_of "$1")"
  timeout="$(setting "$(unit_file "$1")" TimeoutStopSec)"
  deadline=$(($(date +%s) + ${timeout:-90}))
  kill -TERM "$pid"
  while alive "$pid"; do
    if [ "$(date +%s)" -ge $deadline ]; then kill -KILL "$pid"; break; fi
    sleep 0.1
  done
  rm -f "$LOCAL_STATE/${1%.service}.pid"
}

verb="${1:-}"; shift || true
case "$verb" in
  start) for u; do start "$u"; done ;;
  stop) for u; do stop "$u"; done ;;
  restart) for u; do stop "$u"; start "$u"; done ;;
  is-active)
    [ "${1:-}" = --quiet ] && { shift; quiet=1; } || quiet=0
    running "$1" && { [ $quiet = 1 ] || echo active; exit 0; }
    [ $quiet = 1 ] || echo inactive; exit 3 ;;
  status)
    for u; do
      if running "$u"; then echo "● ${u%.service}.service - active (running), pid $(pid_of "$u")"
      else echo "○ ${u%.service}.service - inactive (dead)"; rc=3; fi
      tail -n 5 "$LOCAL_STATE/${u%.service}.log" 2>/dev/null | sed 's/^/    /'
    done
    exit "${rc:-0}" ;;
  list-units)
    pattern="${!#}"
    for f in "$LOCAL_STATE"/*.pid; do
      [ -e "$f" ] || continue
      u="$(basename "$f" .pid)"
      # shellcheck disable=SC2053
      [[ "$u.service" == $pattern ]] && running "$u" && echo "$u.service loaded active running"
    done; exit 0 ;;
  *) echo "systemctl-local: unknown verb $verb" >&2; exit 2 ;;
esac
