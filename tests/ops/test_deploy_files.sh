#!/usr/bin/env bash
# test_deploy_files.sh: deploy/'s systemd units pass `systemd-analyze
# verify` with nothing to say, the workers' stop timeout covers their drain
# time, and the Dockerfile and compose file pass their linters
# (dockerfile-utils, dclint; npm, tests/ops/package.json) and hold what the
# deployment needs. No Docker engine runs here: nothing is built or started.
. "$(dirname "$0")/lib.sh"
need systemd-analyze
need node
deploy="$repo/deploy"
bin="$repo/tests/ops/node_modules/.bin"
[ -x "$bin/dclint" ] && [ -x "$bin/dockerfile-utils" ] ||
  { echo "tests/ops/node_modules is missing (scripts/install-deps.sh)"; exit 77; }

# The units as installed: a root with the binary and the configuration they
# name, and systemd's own units for the targets they order against.
root="$work/root"
mkdir -p "$root/opt/vsr/current" "$root/etc/vsr" "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp "$VSR_BIN" "$root/opt/vsr/current/vsr"
: >"$root/etc/vsr/vsr.env"
cp "$deploy"/systemd/*.service "$root/etc/systemd/system/"
# verify warns (and still exits 0) on a setting it cannot parse: any output fails.
out="$(systemd-analyze verify --root="$root" vsr-api.service vsr-worker@1.service \
  vsr-worker-anytime@1.service 2>&1)" || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify says: $out"

# A worker's stop timeout is its drain time plus 15 s to release and exit.
for unit in "$deploy"/systemd/vsr-worker*.service; do
  drain=$(sed -n 's/^ExecStart=.*--drain-seconds \([0-9]*\).*/\1/p' "$unit")
  stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$unit")
  [ -n "$drain" ] && [ "$stop" = $((drain + 15)) ] ||
    fail "$(basename "$unit"): TimeoutStopSec=$stop for --drain-seconds $drain"
done
"$VSR_BIN" worker --help 2>&1 | grep -q -- '--drain-seconds' || fail "vsr worker has no --drain-seconds"
"$VSR_BIN" worker --help 2>&1 | grep -q -- '--business-hours-only' || fail "no --business-hours-only"

out="$("$bin/dockerfile-utils" lint "$deploy/Dockerfile" 2>&1)" || fail "dockerfile-utils: $out"
[ -z "$out" ] || fail "dockerfile-utils says: $out"
python3 - "$deploy/Dockerfile" <<'PY'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
froms = re.findall(r'^FROM (\S+)', text, re.M)
assert len(froms) >= 2, "not multi-stage"
assert all(f.startswith("debian:12") for f in froms), froms
final = text.split("\nFROM ")[-1]
user = re.findall(r'^USER (\S+)', final, re.M)
assert user and user[-1] not in ("root", "0"), "the last stage runs as root"
assert re.search(r'^HEALTHCHECK .*CMD .*/health/healthz', final, re.M), "no healthcheck"
PY

out="$(cd "$deploy" && "$bin/dclint" compose.yaml 2>&1)" || fail "dclint: $out"
[ -z "$(echo "$out" | tr -d '[:space:]')" ] || fail "dclint says: $out"
python3 - "$deploy/compose.yaml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
s = c["services"]
for name in ("api", "worker", "postgres", "s3", "prometheus"):
    assert name in s, f"no service {name}"
assert s["worker"]["command"][0] == "worker" and s["worker"]["deploy"]["replicas"] >= 2
assert any("vsr-rules.yml" in v for v in s["prometheus"]["volumes"])
PY
