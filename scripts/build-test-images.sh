#!/usr/bin/env bash
# Build every local test image (one per images/NAME recipe) with
# scripts/build-test-image.sh, MS5_IMAGE_JOBS at a time (default 3: debootstrap
# waits on the network more than on the CPU). Up-to-date images are only checked.
# Usage: scripts/build-test-images.sh [NAME...]   (default: every recipe)
set -euo pipefail
cd "$(dirname "$0")/.."
logs=".cache/image-logs"
mkdir -p "$logs"
if [ "$#" -gt 0 ]; then
  names=("$@")
else
  names=()
  for d in images/*/; do names+=("$(basename "$d")"); done
fi
jobs="${MS5_IMAGE_JOBS:-3}"
pids=()
declare -A pid_name=()
for n in "${names[@]}"; do
  bash scripts/build-test-image.sh "$n" >"$logs/$n.log" 2>&1 &
  pid_name[$!]="$n"
  pids+=("$!")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
failed=0
for p in "${pids[@]}"; do
  n="${pid_name[$p]}"
  if wait "$p"; then
    tail -n 1 "$logs/$n.log"
  else
    failed=1
    echo "build-test-images: $n failed; last lines of $logs/$n.log:" >&2
    tail -n 30 "$logs/$n.log" >&2
  fi
done
exit "$failed"
