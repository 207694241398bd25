#!/usr/bin/env bash
# Installs, when missing, the Debian 12 packages vsr needs to build, run and
# test. Idempotent: a machine that has them all costs one dpkg query.
#   scripts/install-deps.sh            build + run + test dependencies
set -euo pipefail

pkgs=(
  build-essential pkg-config clang libclang-rt-14-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  ffmpeg fonts-dejavu-core python3-numpy
  libass-dev libmicrohttpd-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev
  libjansson-dev libssl-dev
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
