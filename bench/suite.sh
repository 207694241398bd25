#!/usr/bin/env bash
# The generalization bench: vsr against OpenCV Telea (handed the true mask)
# on fixtures drawn at random by ../shared/bench/suite.py, scored by
# score-removal.py and score-mask.py; then the distribution (bench/suite_summary.py).
#
#   bench/suite.sh SEEDS OUT_DIR      e.g. bench/suite.sh 1-24 /tmp/suite-1
#
# Fixtures are made once into OUT_DIR/fixtures (suite.py over the clips of
# ../shared/media, 8 s each) and Telea's scores once into OUT_DIR/telea;
# vsr's outputs and scores are made anew each run, into OUT_DIR/vsr. Writes
# OUT_DIR/scores.jsonl (a line per fixture) and prints the summary.
# VSR_SHARED names ../shared elsewhere; VSR names another binary.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="${VSR_SHARED:-$here/../shared}"
vsr="${VSR:-$here/build/vsr}"
[ $# -eq 2 ] || { sed -n 2,12p "$0"; exit 2; }
seeds="$1" out="$2"
mkdir -p "$out/fixtures" "$out/telea" "$out/vsr"
if [ ! -f "$out/fixtures/cases.json" ]; then
  "$shared/bench/suite.py" "$out/fixtures" --clips "$shared"/media/*.mp4 --seeds "$seeds" >&2
fi
: > "$out/scores.jsonl"
for fx in "$out"/fixtures/s*-*/; do
  name="$(basename "$fx")"
  if [ ! -f "$out/telea/$name.json" ]; then
    "$here/bench/telea.py" "$fx" "$out/telea/$name.mp4"
    "$shared/bench/score-removal.py" "$fx" "$out/telea/$name.mp4" --json > "$out/telea/$name.json"
    rm -f "$out/telea/$name.mp4"
  fi
  if [ ! -f "$out/telea/$name-encode.json" ]; then # the input re-encoded as vsr encodes
    ffmpeg -nostdin -v error -y -i "$fx/burned.mp4" -c:v libx264 -preset veryfast -crf 18 \
      -c:a copy "$out/telea/$name-encode.mp4"
    "$shared/bench/score-removal.py" "$fx" "$out/telea/$name-encode.mp4" --json \
      > "$out/telea/$name-encode.json"
    rm -f "$out/telea/$name-encode.mp4"
  fi
  result="$out/vsr/$name.mp4" mask="$out/vsr/$name-mask.mkv"
  start=$(date +%s.%N)
  "$vsr" remove "$fx/burned.mp4" "$result" --mask-out "$mask" --json > "$out/vsr/$name.log"
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  vsr_score="$("$shared/bench/score-removal.py" "$fx" "$result" --json)"
  mask_score="$("$shared/bench/score-mask.py" "$fx" "$mask")"
  report="$(grep '"event":"done"' "$out/vsr/$name.log")"
  printf '{"name":"%s","seconds":%s,"vsr":%s,"mask":%s,"telea":%s,"encode":%s,"report":%s}\n' \
    "$name" "$seconds" "$vsr_score" "$mask_score" "$(cat "$out/telea/$name.json")" \
    "$(cat "$out/telea/$name-encode.json")" "$report" >> "$out/scores.jsonl"
  echo "$name: $(tail -1 "$out/scores.jsonl" | cut -c1-200)" >&2
  rm -f "$result" "$mask"
done
"$here/bench/suite_summary.py" "$out/scores.jsonl" "$out/fixtures/cases.json"
