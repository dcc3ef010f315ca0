#!/usr/bin/env bash
# bench/check: how long `hamnflow check` takes against a healthy real lab
# (systemd hosts, real xCAT 2.19 on PostgreSQL 15 streaming, after
# pg-setup and sync-setup): the whole command, wall clock, from the
# operator's namespace, ROUNDS times; prints each time, the median and the
# slowest. Every run must exit 0 (a healthy lab), or the bench fails. The
# lab is brought up here and always torn down (trap).
#
#   sudo bench/check/run.sh             # ROUNDS=20
#   sudo ROUNDS=5 bench/check/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
ROUNDS=${ROUNDS:-20}

die() { echo "bench/check: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (the lab uses network namespaces)"
for p in go jq ip; do command -v "$p" >/dev/null || die "needs $p"; done

work=$(mktemp -d /tmp/hamnflow-bench-check.XXXXXX)
lab=$work/lab
hf=$work/hamnflow
cleanup() {
	local rc=$?
	if [ -f "$lab/state.json" ]; then
		if ! "$work/hamnflow-lab" down --dir "$lab"; then
			echo "bench/check: lab down failed; retry with: $work/hamnflow-lab down --dir $lab" >&2
			exit 1
		fi
	fi
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building hamnflow and the lab" >&2
go build -o "$hf" ./cmd/hamnflow
go build -o "$work/hamnflow-lab" ./cmd/hamnflow-lab
"$work/hamnflow-lab" up --dir "$lab" --xcat --sn 1 >/dev/null 2>&1 || die "lab up failed"
op=$(jq -r .prefix "$lab/state.json")-op
hfrun() { ip netns exec "$op" env NO_COLOR=1 HAMNFLOW_INVENTORY="$lab/inventory.yaml" HAMNFLOW_JOURNAL="$work/journal.db" "$hf" --log-level error "$@"; }
hfrun run pg-setup --yes >/dev/null
hfrun run sync-setup --yes >/dev/null

hfrun check || die "the lab is not healthy: hamnflow check exited $?"
n=$(hfrun check --output json | jq '.results | length')
times=()
for i in $(seq "$ROUNDS"); do
	t0=$(date +%s%N)
	hfrun check --nagios >/dev/null || die "round $i: hamnflow check exited $?"
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	times+=("$ms")
	echo "round $i: ${ms} ms"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}')
slowest=$(echo "$sorted" | tail -1)
echo "hamnflow check on a healthy lab, $ROUNDS rounds: median ${median} ms, slowest ${slowest} ms (2 MNs, $n checks, exit 0)"
