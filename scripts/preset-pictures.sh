#!/usr/bin/env bash
# preset-pictures.sh: renders one picture per caption style preset with
# build/vsr itself (vsr burn on 2 s of a shared clip, one frame taken out),
# into docs/presets/NAME.png, for the README.
#   VSR_SHARED   the shared folder (default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${VSR_SHARED:-../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ff() { ffmpeg -nostdin -v error -y "$@"; }
ff -ss 3 -i "$shared/media/car-detection.mp4" -t 2 -an -c:v libx264 -preset veryfast -crf 12 "$work/clip.mp4"
printf '1\n00:00:00,000 --> 00:00:02,000\nCaptions drawn by vsr burn,\nin the %s style\n' STYLE >"$work/template.srt"
# Karaoke: word timings as ASS \k tags (centiseconds); at 1.0 s the third word is being spoken.
cat >"$work/karaoke.ass" <<'ASS'
[Script Info]
ScriptType: v4.00+
PlayResX: 384
PlayResY: 288

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.00,0:00:02.00,Default,,0,0,0,,{\k35}Every {\k35}word {\k40}lights {\k40}up {\k50}when spoken
ASS
for style in classic yellow boxed social karaoke; do
  subs=$work/$style.srt
  case $style in
    social) printf '1\n00:00:00,000 --> 00:00:02,000\nBIG BOLD WORDS\n' >"$subs" ;;
    karaoke) subs=$work/karaoke.ass ;;
    *) sed "s/STYLE/$style/" "$work/template.srt" >"$subs" ;;
  esac
  build/vsr burn "$work/clip.mp4" "$subs" "$work/$style.mp4" --style "$style"
  ff -ss 1.0 -i "$work/$style.mp4" -frames:v 1 "docs/presets/$style.png"
  echo "docs/presets/$style.png"
done
