#!/usr/bin/env bash
# run.sh: runs the operations tests (tests/ops/test_*.sh), or those whose
# names contain one of the arguments, like build/asan/vsr-tests does, and
# ends with "N passed, N failed". Each script exits 0 (pass), 77 (skip: a
# tool is missing) or anything else (fail); its output is shown on failure.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
passed=0 failed=0 skipped=0 any=0
for script in "$here"/test_*.sh; do
  name="ops_$(basename "$script" .sh | sed 's/^test_//')"
  if [ $# -gt 0 ]; then
    hit=0; for want in "$@"; do case "$name" in *"$want"*) hit=1 ;; esac; done
    [ $hit = 1 ] || continue
  fi
  any=1
  log="$(mktemp)"
  start=$(date +%s.%N)
  bash "$script" >"$log" 2>&1; rc=$?
  secs=$(printf '%.2f' "$(echo "$(date +%s.%N) - $start" | bc)")
  if [ $rc = 0 ]; then passed=$((passed + 1)); echo "ok   $name (${secs}s)"
  elif [ $rc = 77 ]; then skipped=$((skipped + 1)); echo "skip $name: $(tail -1 "$log")"
  else failed=$((failed + 1)); echo "FAIL $name (${secs}s)"; sed 's/^/  /' "$log"; fi
  rm -f "$log"
done
# With names given and none of them an operations test, say nothing.
[ $any = 1 ] || [ $# = 0 ] || exit 0
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
