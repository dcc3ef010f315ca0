#!/usr/bin/env bash
# make demo: build hamnflow and the lab, bring up the real lab (two
# management nodes that boot a real systemd, with real xCAT 2.19 on
# PostgreSQL, and two service nodes), set up streaming replication and the
# standby's files, run the failover, show what real xCAT answers from the
# new primary, the history and the run's timeline, and tear the lab down
# (also on failure or Ctrl-C). The first run builds the lab's Debian 12
# base root (a few minutes, cached in /var/cache/hamnflow-lab).
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

echo "== bringing up the lab (real systemd, real xCAT 2.19 on PostgreSQL)"
"$labbin" up --dir "$labdir" --xcat --service-nodes 2 >/dev/null
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
if ((rc == 0)); then
	sshl() { ip netns exec "$prefix-op" ssh -F "$labdir/ssh_config" "$@"; }
	echo "== real xCAT, from the new primary mn2 and a service node"
	sshl mn2 'XCATROOT=/opt/xcat /opt/xcat/bin/lsdef cn01 -i mac,xcatmaster'
	sshl sn01 'host cn01.lab 198.51.100.10 | tail -1'
	sshl mn2 'echo "consoles in conserver.cf: $(grep -c "^console " /etc/conserver.cf)"'
	sshl mn1 'echo "old primary mn1: xcatd $(systemctl is-active xcatd) and $(systemctl is-enabled xcatd), dhcpd $(systemctl is-active isc-dhcp-server)"'
fi
exit $rc
