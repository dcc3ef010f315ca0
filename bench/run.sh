#!/bin/sh
# Run hamnflow's benchmarks and print their figures. Nothing is asserted:
# compare the figures with the targets in each benchmark's comment.
#
#   bench/run.sh                 every package under bench/
#   bench/run.sh ./bench/engine  one package
#   BENCH=History bench/run.sh   only benchmarks matching a pattern
#   BENCHTIME=2s bench/run.sh    longer runs (default: 10 iterations each)
set -eu
cd "$(dirname "$0")/.."
pkgs=${*:-./bench/...}
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(go version) $(nproc) CPUs, journal on $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}')"
echo "# go test -run '^\$' -bench '${BENCH:-.}' -benchtime ${BENCHTIME:-10x} -count 1 $pkgs"
# shellcheck disable=SC2086 # pkgs is a list
go test -run '^$' -bench "${BENCH:-.}" -benchtime "${BENCHTIME:-10x}" -count 1 $pkgs 2>&1 |
	grep -E '^(Benchmark|ok|FAIL|---|panic|pkg:)|_test.go' || true
