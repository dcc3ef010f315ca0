#!/usr/bin/env bash
# bench/failover: how long the real lab's PostgreSQL failover takes with
# hamnflow (systemd hosts, real xCAT 2.19), against the floor: the same
# commands (those `hamnflow plan failover` shows for the lab's inventory,
# one remote command a step) run by a plain shell script over ssh, one
# multiplexed connection per host. It also times the lab's bring-up.
#
# The two alternate (which goes first flips each round), ROUNDS times each;
# after every failover the lab is failed back with hamnflow (not timed).
# Prints each time, the medians and the ratio hamnflow/floor (target:
# within 10%), then hamnflow's per-step durations of its last run (from
# `hamnflow show ID --output json`). The lab is brought up here and always
# torn down (trap).
#
#   sudo bench/failover/run.sh               # ROUNDS=5
#   sudo ROUNDS=3 bench/failover/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
ROUNDS=${ROUNDS:-5}

die() { echo "bench/failover: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (the lab uses network namespaces)"
for p in go jq ssh ip nsenter; do command -v "$p" >/dev/null || die "needs $p"; done

work=$(mktemp -d /tmp/hamnflow-bench-failover.XXXXXX)
lab=$work/lab
hf=$work/hamnflow
cleanup() {
	local rc=$?
	for h in mn1 mn2; do ssh -o ControlPath="$work/cm-$h" -O exit x >/dev/null 2>&1 || true; done
	if [ -f "$lab/state.json" ]; then
		if ! "$work/hamnflow-lab" down --dir "$lab"; then
			echo "bench/failover: lab down failed; retry with: $work/hamnflow-lab down --dir $lab" >&2
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
t0=$(date +%s.%N)
"$work/hamnflow-lab" up --dir "$lab" --xcat --sn 1 >/dev/null 2>&1 || die "lab up failed"
printf 'lab up (real xCAT on both MNs, one service node, base cached): %.1fs\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
prefix=$(jq -r .prefix "$lab/state.json")
op=$prefix-op
sshaddr() { jq -r --arg h "$1" '.hosts[] | select(.name==$h) | .admin_address' "$lab/state.json"; }
hfrun() { ip netns exec "$op" env NO_COLOR=1 HAMNFLOW_INVENTORY="$lab/inventory.yaml" HAMNFLOW_JOURNAL="$work/journal.db" "$hf" --log-level error "$@"; }

hfrun run sync-setup --yes >/dev/null
hfrun run pg-setup --yes >/dev/null

echo "# the failover's commands, as hamnflow plans them for the lab:" >&2
hfrun plan failover | grep -E '^ *[0-9]+\. |^    \$ ' >&2

# The floor: the plan's commands, one ssh command a step, in the plan's
# order, over one multiplexed connection per host (opened in the run, as
# hamnflow opens its own). Read-only steps read what hamnflow reads.
key=$lab/id_ed25519 kh=$lab/known_hosts
cat >"$work/floor.sh" <<EOF
#!/bin/sh
set -e
A=198.51.100.10 IF=eth0 PG=/usr/lib/postgresql/15/bin D=/var/lib/postgresql/15/main C=/etc/postgresql/15/main
s() { h=\$1; shift; ssh -i $key -o IdentitiesOnly=yes -o UserKnownHostsFile=$kh -o StrictHostKeyChecking=yes -o BatchMode=yes \\
	-o ControlMaster=auto -o ControlPath=$work/cm-\$h -o ControlPersist=60 -l root "\$(eval echo \\\$addr_\$h)" "cd / && \$*"; }
addr_mn1=$(sshaddr mn1) addr_mn2=$(sshaddr mn2)
psql() { echo "su postgres -s /bin/sh -c \\"\$PG/psql -X -A -t -p 5432 -d postgres -c '\$1'\\""; }
s mn1 true                                                                   # old_primary
s mn1 "\$(psql 'SELECT pg_is_in_recovery(), pg_current_wal_lsn()')" >/dev/null # primary_db_position
s mn2 "\$(psql 'SELECT pg_is_in_recovery(), pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()')" >/dev/null # standby_db_position
s mn1 true                                                                   # node_reachable
s mn1 "systemctl disable --now conserver-server.service" 2>/dev/null         # stop_console
s mn1 "systemctl disable --now isc-dhcp-server.service" 2>/dev/null          # stop_dhcp
s mn1 "systemctl disable --now named.service" 2>/dev/null                    # stop_dns
s mn1 "systemctl disable --now xcatd.service" 2>/dev/null                    # stop_xcatd
s mn1 "systemctl stop postgresql@15-main.service"                            # stop_db
s mn1 "ip addr del \$A/24 dev \$IF"                                          # release_address
s mn2 "! arping -i \$IF -c 3 -W 0.5 -w 3 \$A >/dev/null"                     # fence_check: nobody answers
s mn1 "! ip -o addr show | grep -qF ' \$A/'"                                 #   and the old primary holds nothing
s mn2 "systemctl is-active -q xcatd.service || true"                         # standby_xcatd
s mn2 "systemctl is-active -q isc-dhcp-server.service || true"               # standby_dhcp
s mn2 "su postgres -s /bin/sh -c '\$PG/pg_ctl -D \$D promote -w -t 120'" >/dev/null # promote
s mn2 "ip addr add \$A/24 dev \$IF && { arping -U -S \$A -i \$IF -c 2 -W 0.2 \$A; arping -U -P -S \$A -i \$IF -c 2 -W 0.2 \$A; } >/dev/null 2>&1 || true" # take_address
s mn2 "grep -qxF 'host all all \$A/32 md5' \$C/pg_hba.conf || echo 'host all all \$A/32 md5' >> \$C/pg_hba.conf; su postgres -s /bin/sh -c '\$PG/pg_ctl -D \$D reload'" >/dev/null # pg_address
s mn2 "systemctl enable --now xcatd.service" 2>/dev/null                     # start_xcatd
s mn2 "export XCATROOT=/opt/xcat; /opt/xcat/bin/lsdef -t osimage -l" >/dev/null # osimages
s mn2 "export XCATROOT=/opt/xcat; /opt/xcat/sbin/makedns -n" >/dev/null      # makedns
s mn2 "systemctl enable --now named.service" 2>/dev/null                     # start_dns
s mn2 "export XCATROOT=/opt/xcat; /opt/xcat/sbin/makedhcp -n" >/dev/null     # makedhcp_new
s mn2 "systemctl enable --now isc-dhcp-server.service" 2>/dev/null           # start_dhcp
s mn2 "export XCATROOT=/opt/xcat; /opt/xcat/sbin/makedhcp -a" >/dev/null     # makedhcp_all
s mn2 "export XCATROOT=/opt/xcat; /opt/xcat/sbin/makeconservercf" >/dev/null # consoles
s mn2 "systemctl enable --now conserver-server.service" 2>/dev/null          # start_console
EOF
chmod +x "$work/floor.sh"

now() { date +%s.%N; }
closecm() { for h in mn1 mn2; do ssh -o ControlPath="$work/cm-$h" -O exit x >/dev/null 2>&1 || true; done; }
time_hamnflow() {
	local t0 t1
	t0=$(now)
	hfrun run failover --yes >/dev/null 2>&1 || die "hamnflow failover failed: $(hfrun history | sed -n 2p)"
	t1=$(now)
	echo "$t1 - $t0" | bc
}
time_floor() {
	local t0 t1
	closecm
	t0=$(now)
	ip netns exec "$op" "$work/floor.sh" || die "floor script failed"
	t1=$(now)
	closecm
	echo "$t1 - $t0" | bc
}
failback() { hfrun run failback --yes >/dev/null 2>&1 || die "failback failed: $(hfrun history | sed -n 2p)"; }

# One warm-up of each, then the rounds.
time_hamnflow >/dev/null; failback
time_floor >/dev/null; failback
hs=() fs=()
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		h=$(time_hamnflow); failback; f=$(time_floor); failback
	else
		f=$(time_floor); failback; h=$(time_hamnflow); failback
	fi
	hs+=("$h") fs+=("$f")
	printf 'round %d: hamnflow %.3fs  floor %.3fs\n' "$r" "$h" "$f"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mh=$(median "${hs[@]}") mf=$(median "${fs[@]}")
printf 'median of %d: hamnflow %.3fs  floor %.3fs  ratio %.3f (target <= 1.10)\n' "$ROUNDS" "$mh" "$mf" "$(echo "$mh / $mf" | bc -l)"

last=$(hfrun history --output json | jq -r '[.[] | select(.playbook=="failover")] | sort_by(.started_at) | last | .id')
echo "# per-step durations of hamnflow run $last (hamnflow show $last --output json):"
hfrun show "$last" --output json | jq -r '.steps[] | select(.duration_ns != null) | "\(.duration_ns / 1e6 | floor)ms\t\(.step)"' | sort -rn | head -12
