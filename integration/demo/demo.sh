#!/usr/bin/env bash
# make demo: build hamnflow and the lab's stand-ins, bring up a lab (two
# management nodes with PostgreSQL streaming replication and the xCAT
# stand-ins, two service nodes), run the failover on it, show the history
# and the run's timeline, and tear the lab down (also on failure or Ctrl-C).
#
# Usage: integration/demo/demo.sh [BIN] [-- extra hamnflow run flags, e.g. --step]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH

bin=${1:-bin/hamnflow}
shift || true
[[ "${1:-}" == "--" ]] && shift
runflags=("$@")
if ((${#runflags[@]} == 0)); then
	runflags=(--yes) # unattended; pass -- --step to step through
fi

if [[ $(id -u) != 0 ]]; then
	echo "demo: the lab uses network namespaces; run as root" >&2
	exit 2
fi

# What the lab needs (a fresh Debian 12 machine has none of it).
./integration/deps.sh

bindir=$(dirname "$bin")
mkdir -p "$bindir"
go build -o "$bin" ./cmd/hamnflow
go build -o "$bindir/hamnflow-lab" ./cmd/hamnflow-lab
go build -o "$bindir/xcat-standin" ./integration/standins/cmd/xcat-standin
go build -o "$bindir/db2model" ./integration/db2model/cmd/db2model
bin=$(realpath "$bin")
labbin=$(dirname "$bin")/hamnflow-lab

work=$(mktemp -d /tmp/hamnflow-demo-XXXXXX)
labdir=$work/lab
export HAMNFLOW_JOURNAL=$work/journal.db
down() {
	echo
	echo "== tearing the lab down"
	"$labbin" down --dir "$labdir" || true
	rm -rf "$work"
}
trap down EXIT
trap 'exit 130' INT TERM

echo "== bringing up the lab"
"$labbin" up --dir "$labdir" --postgres --xcat --service-nodes 2 >/dev/null
prefix=$(sed -n 's/.*"prefix": *"\([^"]*\)".*/\1/p' "$labdir/state.json" | head -1)
op() { ip netns exec "$prefix-op" "$bin" --inventory "$labdir/inventory.yaml" --log-format text "$@"; }

echo "== replication: pg-setup (streaming) from mn1 to mn2"
op run pg-setup --yes

echo "== file sync: sync-setup copies xCAT's credentials, /install, /etc/hosts to mn2 and installs the crontab"
op run sync-setup --yes

echo "== failover: mn2 takes over from mn1"
set +e
op run failover "${runflags[@]}"
rc=$?
set -e
echo "== hamnflow history"
op history
id=$(op history --output json | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -1)
echo "== hamnflow show $id"
op show "$id"
exit $rc
