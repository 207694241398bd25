# shellcheck shell=bash
# lib.sh: what the operations tests share: a scratch folder removed at exit,
# the CLI under test, and a `vsr serve` or `vsr worker` on SQLite in the
# background whose port is read from its first log line.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VSR_BIN="${VSR_BIN:-$repo/build/asan/vsr}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
work="$(mktemp -d "${TMPDIR:-/tmp}/vsr-ops.XXXXXX")"
ops_pids=()
ops_cleanup() {
  for pid in "${ops_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${ops_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap ops_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || { echo "$1 is not installed (scripts/install-deps.sh)"; exit 77; }; }

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds.
wait_for() {
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt $deadline ] || return 1
    sleep 0.1
  done
}

# start_serve LOG [options...]: `vsr serve` on 127.0.0.1:0 in the background;
# sets SERVE_PID and SERVE_URL once it listens.
start_serve() {
  local log="$1"; shift
  "$VSR_BIN" serve --listen 127.0.0.1:0 "$@" 2>"$log" &
  SERVE_PID=$!; ops_pids+=("$SERVE_PID")
  wait_for 30 grep -q '"serve.started"' "$log" || { cat "$log" >&2; fail "vsr serve did not start"; }
  SERVE_URL="http://127.0.0.1:$(sed -n 's/.*"serve.started","port":\([0-9]*\).*/\1/p' "$log" | head -1)"
}

# A small real video (1 s, 160x120, H.264) made by ffmpeg.
make_clip() {
  ffmpeg -v error -y -f lavfi -i testsrc=size=160x120:rate=10:duration=1 -c:v libx264 \
    -pix_fmt yuv420p "$1"
}
