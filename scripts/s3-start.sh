#!/usr/bin/env bash
# Starts a throwaway S3 server on loopback for tests and benchmarks: Ceph's
# radosgw from Debian's packages, on a one-monitor, one-OSD cluster whose OSD
# keeps objects in memory (memstore) and with authentication between the
# daemons off. Creates an S3 user and a bucket, then prints on stdout the
# lines to eval:
#   VSR_S3_URL=s3://vsr?endpoint=http://127.0.0.1:PORT&region=us-east-1
#   AWS_ACCESS_KEY_ID=...  AWS_SECRET_ACCESS_KEY=...
# Idempotent: when it already runs in DIR, it prints the same lines.
#   scripts/s3-start.sh [DIR]     default DIR: $VSR_S3_DIR or /tmp/vsr-s3
# Port: $VSR_S3_PORT (default 7480); monitor on 127.0.0.1:$VSR_S3_MON_PORT
# (default 6799). Stop with scripts/s3-stop.sh [DIR]. For tests only: the
# data lives in memory and is gone when the OSD stops.
set -euo pipefail
dir="${1:-${VSR_S3_DIR:-/tmp/vsr-s3}}"
port="${VSR_S3_PORT:-7480}"
mon_port="${VSR_S3_MON_PORT:-6799}"
bucket=vsr
access=VSRTESTACCESSKEY0001
secret=vsrtestsecretkey0000000000000000000000001
conf="$dir/ceph.conf"
trap 'echo "s3-start: failed at line $LINENO (exit $?); logs in $dir/log" >&2' ERR

print_env() {
  echo "VSR_S3_URL='s3://$bucket?endpoint=http://127.0.0.1:$port&region=us-east-1'"
  echo "AWS_ACCESS_KEY_ID=$access"
  echo "AWS_SECRET_ACCESS_KEY=$secret"
}

alive() { [ -f "$dir/run/$1.pid" ] && kill -0 "$(cat "$dir/run/$1.pid")" 2>/dev/null; }

for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl; do
  command -v $tool >/dev/null || { echo "s3-start: $tool missing; run scripts/install-deps.sh" >&2; exit 1; }
done

if alive mon.a && alive osd.0 && alive client.rgw.vsr; then print_env; exit 0; fi
[ -d "$dir" ] && "$(dirname "$0")/s3-stop.sh" "$dir"
if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  echo "s3-start: port $port is taken by another server; stop it or set VSR_S3_PORT" >&2; exit 1
fi
mkdir -p "$dir"/{run,log,mon,osd}
fsid=$(cat /proc/sys/kernel/random/uuid)
cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms bind msgr2 = false
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon data = $dir/mon/\$id
osd data = $dir/osd/\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd class update on start = false
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd max object name len = 460
osd max object namespace len = 64
# tcp_nodelay: beast writes headers and body apart; without it a small body
# waits for the client's delayed ACK (40 ms a request on Linux).
[client.rgw.vsr]
rgw frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1
rgw enable usage log = false
rgw dns name = 127.0.0.1
CONF

monmaptool --create --clobber --fsid "$fsid" --addv a "[v1:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >"$dir/log/mkfs-mon.log" 2>&1
ceph-mon -c "$conf" -i a
# The monitor takes a moment to form its quorum; commands sent before may
# fail (EPERM), so wait until it answers.
for _ in $(seq 1 60); do
  ceph -c "$conf" --connect-timeout 5 mon stat >/dev/null 2>&1 && break
  sleep 0.5
done
uuid=$(cat /proc/sys/kernel/random/uuid)
id=""
for _ in $(seq 1 20); do
  id=$(ceph -c "$conf" --connect-timeout 10 osd new "$uuid" 2>/dev/null) && break
  sleep 0.5
done
[ -n "$id" ] || { echo "s3-start: the monitor refused to add an OSD; see $dir/log" >&2; exit 1; }
mkdir -p "$dir/osd/$id"
ceph-osd -c "$conf" -i "$id" --mkfs --osd-uuid "$uuid" >"$dir/log/mkfs-osd.log" 2>&1
# The OSD's first start sometimes meets the monitor still committing the
# new OSD ("wrong fsid" in its log) and exits; a later start succeeds.
for try in $(seq 1 10); do
  ceph-osd -c "$conf" -i "$id" 2>/dev/null && break
  if [ "$try" -eq 10 ]; then
    echo "s3-start: ceph-osd would not start; the end of $dir/log/osd.$id.log:" >&2
    grep -v '^ ' "$dir/log/osd.$id.log" | tail -5 >&2
    exit 1
  fi
  sleep 2
done
radosgw -c "$conf" -n client.rgw.vsr
for _ in $(seq 1 120); do
  curl -fs -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.5
done
curl -fs -o /dev/null "http://127.0.0.1:$port/" || { echo "s3-start: radosgw did not answer; see $dir/log" >&2; exit 1; }
for try in $(seq 1 10); do
  radosgw-admin -c "$conf" user create --uid=vsr --display-name=vsr \
    --access-key="$access" --secret="$secret" >"$dir/log/user-create.log" 2>&1 && break
  [ "$try" -lt 10 ] || { cat "$dir/log/user-create.log" >&2; exit 1; }
  sleep 1
done
# The bucket, made with the user's keys (curl signs with SigV4).
curl -fsS -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "http://127.0.0.1:$port/$bucket" >/dev/null
print_env
