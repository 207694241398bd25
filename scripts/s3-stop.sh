#!/usr/bin/env bash
# Stops the radosgw, OSD and monitor started by scripts/s3-start.sh [DIR]
# and removes its folder. Succeeds when nothing runs there.
set -euo pipefail
dir="${1:-${VSR_S3_DIR:-/tmp/vsr-s3}}"
for name in client.rgw.vsr osd.0 mon.a; do
  pidfile="$dir/run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
done
rm -rf "$dir"
