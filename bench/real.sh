#!/usr/bin/env bash
# vsr on the real hard-subbed clips of ../shared/media/real, which have no
# clean original: the text a detector still finds inside each clip's
# subtitle band (residual, 1 = nothing removed) and the PSNR against the
# input outside it (damage: scene text and picture kept), by
# ../shared/bench/text-residual.py; and frames before and after into
# docs/real/ to look at.
#
#   bench/real.sh [OUT_DIR]       (default /tmp/vsr-real)
#
# Prints a Markdown table. The bands are SOURCES.md's.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="${VSR_SHARED:-$here/../shared}"
vsr="${VSR:-$here/build/vsr}"
out="${1:-/tmp/vsr-real}"
mkdir -p "$out" "$here/docs/real"
declare -A band=([cyrillic-cut-timed]=0,0.84,1,1 [film-bilingual-letterbox]=0,0.68,1,0.98
                 [talk-small-white]=0,0.92,1,1 [karaoke-montage-1080p]=0,0.6,1,1)
# Times (s) of the frames shown: a line on screen in each.
declare -A shown=([cyrillic-cut-timed]="1 4" [film-bilingual-letterbox]="2 7"
                  [talk-small-white]="3 12" [karaoke-montage-1080p]="1.4 5.2")
echo "| clip | frames | with text | from other frames | residual | damage (dB) | seconds |"
echo "|---|---|---|---|---|---|---|"
for clip in cyrillic-cut-timed film-bilingual-letterbox talk-small-white karaoke-montage-1080p; do
  in="$shared/media/real/$clip.mp4"
  start=$(date +%s.%N)
  "$vsr" remove "$in" "$out/$clip.mp4" --json > "$out/$clip.log"
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  judged="$("$shared/bench/text-residual.py" "$in" "$out/$clip.mp4" --band "${band[$clip]}" --json)"
  done_line="$(grep '"event":"done"' "$out/$clip.log")"
  python3 - "$clip" "$done_line" "$judged" "$seconds" <<'PY'
import json, sys
clip, d, j, s = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), float(sys.argv[4])
print(f"| {clip} | {d['frames']} | {d['frames_with_text']} | {100 * d['share_temporal']:.0f}% "
      f"| {j['residual']:.3f} | {j['damage_psnr']:.2f} | {s:.1f} |")
PY
  # Before above after, each frame scaled to 640 wide.
  args=() n=0
  for t in ${shown[$clip]}; do
    args+=(-ss "$t" -i "$in" -ss "$t" -i "$out/$clip.mp4")
    n=$((n + 2))
  done
  graph="" inputs=""
  for ((i = 0; i < n; i++)); do graph+="[$i:v]scale=640:-2,setsar=1[v$i];"; inputs+="[v$i]"; done
  ffmpeg -nostdin -v error -y "${args[@]}" -filter_complex "${graph}${inputs}vstack=inputs=$n" \
    -frames:v 1 "$here/docs/real/$clip.jpg"
done
