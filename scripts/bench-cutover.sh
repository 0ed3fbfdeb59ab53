#!/usr/bin/env bash
# make bench-cutover [ARGS="--scale 1 --scale 4"]: the cutover's write pause and total
# time for the test data and per GB (bench/ms5bench/cutover.py). Runs the cutover's
# data path between two throwaway containers of the local test images
# (ms5-test-postgres15, ms5-test-timescaledb; make setup builds them) on this machine's
# Docker engine and removes them afterwards. The JSON report is saved in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
for a in "$@"; do
  case "$a" in -h|--help) PYTHONPATH=bench python3 -m ms5bench.cutover --help; exit 0 ;; esac
done
for image in "${MS5_TEST_POSTGRES15_IMAGE:-ms5-test-postgres15:latest}" "${MS5_TEST_TIMESCALEDB_IMAGE:-ms5-test-timescaledb:latest}"; do
  docker image inspect "$image" >/dev/null 2>&1 \
    || { echo "bench-cutover: image $image is missing: run 'make setup' (or 'make images')" >&2; exit 1; }
done
mkdir -p bench/results
out="bench/results/cutover-$(date -u +%Y%m%dT%H%M%SZ).json"
PYTHONPATH=bench python3 -m ms5bench.cutover --json "$out" "$@"
echo "bench-cutover: JSON report: $out"
