#!/usr/bin/env bash
# Scale-out benchmark: queue throughput and removal throughput on the two
# store pairs, SQLite + folder and PostgreSQL + S3 (radosgw), with several
# `vsr worker` processes sharing them. Starts and stops PostgreSQL and
# radosgw with the project's scripts; writes bench/SCALEOUT_RESULTS.md.
#   bench/scaleout.sh            (or: make bench-scaleout)
# NOOP_JOBS (default 300) no-op jobs per run: each is enqueued, claimed,
# run (its 16-byte input fetched, copied and stored as the result) and
# completed; REMOVE_JOBS (default 6) removal jobs of a 4 s 640x360 clip;
# each case runs REPEAT (default 3) times and the median is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
make -s build/vsr build/queue-tool
noop_jobs="${NOOP_JOBS:-300}"
remove_jobs="${REMOVE_JOBS:-6}"
repeat="${REPEAT:-3}" # runs per case; the median is reported
work=$(mktemp -d /tmp/vsr-bench-scaleout-XXXXXX)
pg_dir=/tmp/vsr-bench-pg
s3_dir=/tmp/vsr-bench-s3
workers=()
cleanup() {
  for pid in "${workers[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/pg-stop.sh "$pg_dir" || true
  scripts/s3-stop.sh "$s3_dir" || true
  rm -rf "$work"
}
trap cleanup EXIT

pg_url=$(VSR_PG_PORT=55433 scripts/pg-start.sh "$pg_dir")
s3_env=$(VSR_S3_PORT=7481 VSR_S3_MON_PORT=6798 scripts/s3-start.sh "$s3_dir")
eval "$s3_env"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

printf 'sixteen bytes!!\n' >"$work/noop-input.bin"
shared="${VSR_SHARED:-../shared}"
if [ -f "$shared/media/bottle-detection.mp4" ]; then
  ffmpeg -v error -y -t 4 -i "$shared/media/bottle-detection.mp4" -an -vf scale=640:360 \
    -c:v libx264 -preset ultrafast "$work/clip.mp4"
else
  ffmpeg -v error -y -f lavfi -i testsrc=size=640x360:rate=25 -t 4 \
    -vf "drawbox=x=100:y=300:w=440:h=30:color=white:t=fill" -pix_fmt yuv420p \
    -c:v libx264 -preset ultrafast "$work/clip.mp4"
fi

echo 0 >"$work/runs"
# run STORE WORKERS TYPE COUNT OPTIONS INPUT: prints queue-tool's JSON line.
# Each run gets a fresh database and folder (or bucket prefix), numbered
# through a file because runs happen in subshells.
run() {
  local store=$1 count_workers=$2 type=$3 count=$4 options=$5 input=$6
  local run_index=$(($(cat "$work/runs") + 1))
  echo "$run_index" >"$work/runs"
  local dir="$work/run-$run_index" db storage
  mkdir -p "$dir"
  if [ "$store" = sqlite ]; then
    db="$dir/vsr.db"
    storage="$dir/blobs"
  else
    psql -q "$pg_url" -c "CREATE DATABASE bench_$run_index" >/dev/null
    db="${pg_url%/*}/bench_$run_index"
    storage="${VSR_S3_URL%%\?*}/run-$run_index?${VSR_S3_URL#*\?}"
  fi
  build/vsr migrate --data-dir "$dir" --database "$db" --storage "$storage" >/dev/null
  workers=()
  for i in $(seq 1 "$count_workers"); do
    VSR_TEST_JOB_TYPES=1 build/vsr worker --data-dir "$dir" --database "$db" --storage "$storage" \
      --workers 1 --threads-per-job 1 2>"$dir/worker-$i.log" &
    workers+=($!)
  done
  sleep 0.5 # the workers are up and idle
  build/queue-tool "$db" "$storage" "$count" "$type" "$options" "$input"
  for pid in "${workers[@]}"; do kill "$pid"; wait "$pid" || true; done
  workers=()
}

field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }

# Every case runs REPEAT times, the stores taking turns (so that load from
# other work on the machine falls on both alike); the run with the median
# jobs/s is reported.
cases=("noop 1" "noop 3" "remove 1" "remove 2")
for rep in $(seq 1 "$repeat"); do
  for store in sqlite postgres; do
    for c in "${cases[@]}"; do
      set -- $c
      if [ "$1" = noop ]; then
        line=$(run "$store" "$2" noop "$noop_jobs" '{}' "$work/noop-input.bin")
      else
        line=$(run "$store" "$2" remove "$remove_jobs" '{"preset":"ultrafast"}' "$work/clip.mp4")
      fi
      echo "$store $1 workers=$2: $line" >&2
      echo "$line" >>"$work/case-$store-$1-$2"
    done
  done
done
median() { sort -t: -k5 -g "$work/case-$1" | sed -n "$(((repeat + 1) / 2))p"; }

declare -A noop remove
for store in sqlite postgres; do
  for n in 1 3; do
    line=$(median "$store-noop-$n")
    noop[$store,$n]=$(echo "$line" | field jobs_per_second)
    noop[$store,$n,enqueue]=$(echo "$line" | field enqueued_per_second)
  done
  for n in 1 2; do
    remove[$store,$n]=$(median "$store-remove-$n" | field jobs_per_second)
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
per_min() { awk -v a="$1" 'BEGIN { printf "%.1f", a * 60 }'; }
{
  echo "# Scale-out benchmark"
  echo
  echo "Made by \`bench/scaleout.sh\` (\`make bench-scaleout\`) on $(date -u +%Y-%m-%d), commit"
  echo "$(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores"
  echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), shared with other work:"
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; each figure is the median"
  echo "of $repeat runs, the two stores taking turns). PostgreSQL 15 and radosgw (Ceph 16,"
  echo "memstore) run on the same machine, started by scripts/pg-start.sh and"
  echo "scripts/s3-start.sh; PostgreSQL with fsync off, as in the tests."
  echo
  echo "## No-op jobs per second"
  echo
  echo "$noop_jobs jobs enqueued as fast as one client can, each claimed by a \`vsr worker\`"
  echo "process (one job thread each), run (16-byte input fetched from the file store,"
  echo "copied, stored as the result) and completed; jobs/s from the first enqueue to"
  echo "the last completion."
  echo
  echo "| store | 1 worker | 3 workers | 3 / 1 | enqueue only (jobs/s) |"
  echo "|---|---|---|---|---|"
  for store in sqlite postgres; do
    label=$([ "$store" = sqlite ] && echo "SQLite + folder" || echo "PostgreSQL + S3")
    echo "| $label | ${noop[$store,1]} | ${noop[$store,3]} | $(ratio "${noop[$store,3]}" "${noop[$store,1]}") | ${noop[$store,1,enqueue]} |"
  done
  echo
  echo "## Removal throughput"
  echo
  echo "$remove_jobs removal jobs of a 4 s 640x360 clip (x264 ultrafast), \`vsr worker\`"
  echo "processes with one job thread and one codec thread each (--threads-per-job 1)."
  echo
  echo "| store | 1 worker (jobs/min) | 2 workers (jobs/min) | 2 / 1 |"
  echo "|---|---|---|---|"
  for store in sqlite postgres; do
    label=$([ "$store" = sqlite ] && echo "SQLite + folder" || echo "PostgreSQL + S3")
    echo "| $label | $(per_min "${remove[$store,1]}") | $(per_min "${remove[$store,2]}") | $(ratio "${remove[$store,2]}" "${remove[$store,1]}") |"
  done
} >bench/SCALEOUT_RESULTS.md
cat bench/SCALEOUT_RESULTS.md
