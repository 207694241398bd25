#!/usr/bin/env bash
# api.sh: API throughput of `vsr serve` under wrk (-t2 -c64), against the
# job-status endpoint (random ids among 10,000 jobs, a valid key) and
# /health/healthz, first with the workers idle and then while a removal job
# runs; and the same status endpoint on a minimal FastAPI + uvicorn app
# reading the same SQLite database (bench/fastapi_status.py). Writes
# bench/API_RESULTS.md. Not a test: figures depend on the machine.
#   bench/api.sh                 (DURATION=10s by default)
# Needs: wrk, uvicorn + python3-fastapi (Debian), ffmpeg, build/vsr (built
# here when missing); scripts/install-deps.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
VSR=${VSR:-build/vsr}
DURATION=${DURATION:-10s}
PY=/usr/bin/python3 # Debian's, which has fastapi
OUT=bench/API_RESULTS.md
for tool in wrk uvicorn ffmpeg curl "$PY"; do
  command -v "$tool" >/dev/null || { echo "api.sh: $tool is missing; run scripts/install-deps.sh" >&2; exit 2; }
done
[ -x "$VSR" ] || make -j2 build/vsr >/dev/null

work=$(mktemp -d /tmp/vsr-bench-api.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

token=$("$VSR" keys create --name bench --data-dir "$work" 2>/dev/null | sed -n 's/^token: //p')
"$PY" - "$work/vsr.db" "$work/ids.txt" <<'PYEOF'
import secrets, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
key = db.execute("SELECT id FROM api_keys").fetchone()[0]
now = int(time.time() * 1000)
ids = ["job_" + secrets.token_hex(12) for _ in range(10000)]
db.executemany(
    "INSERT INTO jobs(id, key_id, type, state, progress, upload_id, input_blob, output_blob,"
    " options, max_attempts, attempts, created_at, started_at, finished_at, updated_at)"
    " VALUES(?, ?, 'remove', 'succeeded', 100, 'upl_bench', 'uploads/upl_bench', ?, '{}', 3, 1,"
    " ?, ?, ?, ?)",
    [(j, key, "results/%s.mp4" % j, now - 60000, now - 50000, now - 10000, now) for j in ids])
db.commit()
open(sys.argv[2], "w").write("\n".join(ids) + "\n")
PYEOF

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
VSR_LOG_REQUESTS=1 "$VSR" serve --data-dir "$work" --listen 127.0.0.1:0 --workers 1 \
  2>"$work/serve.log" &
pids+=($!)
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*"serve.started","port":\([0-9]*\).*/\1/p' "$work/serve.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "api.sh: vsr serve did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
base="http://127.0.0.1:$port"

export IDS_FILE="$work/ids.txt" TOKEN="$token"
results=()
# CPU time (user + system, in clock ticks) of the server under test.
server_ticks() { awk '{print $14 + $15}' "/proc/${pids[0]}/stat"; }
# run NAME URL [LUA]: one wrk run; appends "NAME|req/s|p99 ms|requests|errors|server CPU us per
# request" to results. The CPU figure does not depend on what else runs on the machine.
run() {
  local name=$1 url=$2 script=${3:-}
  local args=(-t2 -c64 -d"$DURATION" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  local t0 t1
  t0=$(server_ticks)
  wrk "${args[@]}" "$url" >"$work/wrk.txt" 2>&1
  t1=$(server_ticks)
  local rps p99 total non2xx sock
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.2f", v}' "$work/wrk.txt")
  total=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt"); non2xx=${non2xx:-0}
  sock=$(awk '/Socket errors/ {gsub(/,/,""); print $4+$6+$8+$10}' "$work/wrk.txt"); sock=${sock:-0}
  local cpu
  cpu=$(awk -v t="$((t1 - t0))" -v n="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", t / hz * 1e6 / n}')
  results+=("$name|$rps|$p99|$total|$((non2xx + sock))|$cpu")
  printf '%-44s %10s req/s  p99 %7s ms  %9s requests  %s errors  %s us CPU/request\n' "$name" "$rps" "$p99" "$total" "$((non2xx + sock))" "$cpu"
}

# A request that must succeed before measuring.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
  "$base/api/v1/jobs/$(head -1 "$work/ids.txt")")
[ "$code" = 200 ] || { echo "api.sh: status endpoint answered $code" >&2; exit 1; }

run "vsr: GET /api/v1/jobs/{id}, idle" "$base" bench/status.lua
run "vsr: GET /health/healthz, idle" "$base/health/healthz"

# A removal job that outlasts both runs: the longest shared clip, or a
# synthetic 2-minute one.
clip="$work/clip.mp4"
if [ -f ../shared/media/one-by-one-person-detection.mp4 ]; then
  cp ../shared/media/one-by-one-person-detection.mp4 "$clip"
else
  ffmpeg -v error -f lavfi -i testsrc=size=768x432:rate=10 -t 120 -pix_fmt yuv420p \
    -c:v libx264 -preset ultrafast "$clip"
fi
size=$(stat -c%s "$clip")
upload=$(curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"fileName\":\"clip.mp4\",\"fileSize\":$size}" "$base/api/v1/uploads")
upload_id=$(printf '%s' "$upload" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl -s -o /dev/null -H "Authorization: Bearer $token" -T "$clip" "$base/api/v1/uploads/$upload_id"
job=$(curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"upload_id\":\"$upload_id\"}" "$base/api/v1/jobs")
job_id=$(printf '%s' "$job" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
job_state() {
  curl -s -H "Authorization: Bearer $token" "$base/api/v1/jobs/$job_id" |
    "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(j["status"], j["progress"])'
}
for _ in $(seq 100); do
  [ "$(job_state | cut -d' ' -f1)" = processing ] && break
  sleep 0.1
done
state_before=$(job_state)
run "vsr: GET /api/v1/jobs/{id}, removal job running" "$base" bench/status.lua
run "vsr: GET /health/healthz, removal job running" "$base/health/healthz"
state_after=$(job_state)
echo "removal job: at start '$state_before', at end '$state_after'"

# The reference: FastAPI + uvicorn on the same database, workers idle again.
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
fport=$((port + 1))
VSR_DB="$work/vsr.db" uvicorn --app-dir bench fastapi_status:app --host 127.0.0.1 \
  --port "$fport" --log-level warning --no-access-log 2>"$work/uvicorn.log" &
pids+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$fport/health/healthz" && break
  sleep 0.1
done
run "FastAPI+uvicorn: GET /api/v1/jobs/{id}" "http://127.0.0.1:$fport" bench/status.lua
run "FastAPI+uvicorn: GET /health/healthz" "http://127.0.0.1:$fport/health/healthz"

field() { printf '%s' "${results[$1]}" | cut -d'|' -f"$2"; }
ratio=$(awk -v a="$(field 0 2)" -v b="$(field 4 2)" 'BEGIN {printf "%.1f", a / b}')
busy_ratio=$(awk -v a="$(field 2 2)" -v b="$(field 4 2)" 'BEGIN {printf "%.1f", a / b}')
cpu_ratio=$(awk -v a="$(field 4 6)" -v b="$(field 0 6)" 'BEGIN {printf "%.1f", a / b}')
{
  echo "# API benchmark (bench/api.sh)"
  echo
  echo "wrk -t2 -c64 -d$DURATION on $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)),"
  echo "$(date -u +%Y-%m-%d). Status requests: random ids among 10,000 jobs with a valid key."
  echo "\`vsr serve\`: release build, HTTP threads: one per CPU, 1 worker, one JSON log line per request (to a file)."
  echo "Machine load (1, 5, 15 min) when vsr started: $load_before; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "The removal job ran the whole time ('$state_before' at the start, '$state_after' at the end)."
  echo
  echo "| run | req/s | p99 ms | requests | errors | server CPU µs/request |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for r in "${results[@]}"; do echo "| ${r//|/ | } |"; done
  echo
  echo "Status endpoint, vsr over FastAPI+uvicorn: **${ratio}x** idle, **${busy_ratio}x** with a removal job running;"
  echo "server CPU per status request: $(field 0 6) µs against $(field 4 6) µs (**${cpu_ratio}x** less)."
  echo
  echo "wrk, the server and (in the second pair) the removal job share the same cores, and"
  echo "other processes on this machine may run too (see the load above), so req/s and p99 move"
  echo "between runs; the server's CPU time per request does not depend on that load (in the"
  echo "'removal job running' rows it includes the job's own CPU, which runs in the same process)."
  echo "The 1 GB streamed-upload figure is a test: http_big_upload_memory (peak RSS ~47 MB under ASan)."
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "api.sh: wrote $OUT (ratio ${ratio}x idle, ${busy_ratio}x busy)"
