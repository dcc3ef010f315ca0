#!/bin/sh
# A chain of N local `true` steps run by the hamnflow CLI, beside N bare
# `sh -c true` spawns: the engine's cost per step above the process spawn,
# and the run's peak memory. Nothing is asserted; compare with the targets
# in the README (at most 1 ms/step above the spawn, at most 100 MB RSS).
#
#   bench/chain.sh                 N = 100 1000 10000
#   bench/chain.sh 250 4000        other sizes
#   HAMNFLOW=/path/to/hamnflow bench/chain.sh   a given binary
set -eu
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/hamnflow-chain-XXXXXX")
trap 'rm -rf "$work"' EXIT
bin=${HAMNFLOW:-}
if [ -z "$bin" ]; then
	bin=$work/hamnflow
	go build -o "$bin" ./cmd/hamnflow
fi
sizes=${*:-100 1000 10000}
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, journal on $(df -T "$work" | awk 'NR==2 {print $2}')"
printf '%7s %10s %10s %10s %10s %9s\n' steps run_s ms/step spawn_ms/1 above_ms rss_MB
for n in $sizes; do
	pb=$work/chain$n.yaml
	awk -v n="$n" 'BEGIN {
		print "name: chain" n; print "steps:"
		for (i = 1; i <= n; i++) {
			print "  - id: s" i
			if (i > 1) print "    needs: [s" i-1 "]"
			print "    action: shell"; print "    with: {cmd: \"true\"}"
		}
	}' >"$pb"
	rm -f "$work/journal.db"
	/usr/bin/time -f '%e %M' -o "$work/time" env HAMNFLOW_JOURNAL="$work/journal.db" HAMNFLOW_LOCK_DIR="$work/locks" \
		HAMNFLOW_INVENTORY= HAMNFLOW_PLAYBOOKS= "$bin" --log-format json run "$pb" >/dev/null 2>"$work/err" ||
		{ cat "$work/err"; exit 1; }
	read -r secs kb <"$work/time"
	start=$(date +%s.%N)
	i=0
	while [ $i -lt "$n" ]; do sh -c true; i=$((i + 1)); done
	end=$(date +%s.%N)
	awk -v n="$n" -v s="$secs" -v kb="$kb" -v a="$start" -v b="$end" 'BEGIN {
		step = s * 1000 / n; spawn = (b - a) * 1000 / n
		printf "%7d %10.2f %10.3f %10.3f %10.3f %9.1f\n", n, s, step, spawn, step - spawn, kb / 1024
	}'
done
