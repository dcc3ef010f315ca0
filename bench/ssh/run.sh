#!/usr/bin/env bash
# bench/ssh: what hamnflow's remote steps cost, against the floor and the
# usual alternatives, on a lab (network namespaces; run as root):
#
#   1. N sequential commands (`true`) on one host, mn1:
#        hamnflow      a playbook of N steps, each needing the one before
#        ssh           one ssh process per command
#        ssh session   one ssh process running all N commands (the floor)
#        ansible       ansible-playbook, N command tasks (default settings,
#                      then with pipelining), same key and known_hosts
#   2. one command (`hostname`) on SNS service nodes, at most BOUND at once:
#        hamnflow      a fan-out step; total time and the slowest host's
#        xargs -P      one ssh process per node, BOUND at once (reference)
#
# Each figure is the median of ROUNDS runs (min in brackets), after one
# warm-up. The lab is brought up here and always torn down (trap). The
# lab holds at most 79 service nodes (its address plan).
#
#   sudo bench/ssh/run.sh                    # N=100 SNS=64 BOUND=16 ROUNDS=3
#   sudo N=50 SNS=16 ROUNDS=1 bench/ssh/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
N=${N:-100} SNS=${SNS:-64} BOUND=${BOUND:-16} ROUNDS=${ROUNDS:-3}

die() { echo "bench/ssh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (the lab uses network namespaces)"
for p in go jq ssh ip; do command -v "$p" >/dev/null || die "needs $p"; done
have_ansible=1
command -v ansible-playbook >/dev/null || have_ansible=0

work=$(mktemp -d /tmp/hamnflow-bench-ssh.XXXXXX)
lab=$work/lab
hf=$work/hamnflow
cleanup() {
	local rc=$?
	if [ -f "$lab/state.json" ]; then
		if ! "$work/hamnflow-lab" down --dir "$lab"; then
			echo "bench/ssh: lab down failed; retry with: $work/hamnflow-lab down --dir $lab" >&2
			exit 1
		fi
	fi
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building hamnflow" >&2
go build -o "$hf" ./cmd/hamnflow
go build -o "$work/hamnflow-lab" ./cmd/hamnflow-lab
echo "bringing up a lab with $SNS service nodes" >&2
"$work/hamnflow-lab" up --dir "$lab" --sn "$SNS" >/dev/null
prefix=$(jq -r .prefix "$lab/state.json")
op=$prefix-op
addr=$(jq -r '.hosts[] | select(.name=="mn1") | .admin_address' "$lab/state.json")
key=$lab/id_ed25519 kh=$lab/known_hosts
sshopts=(-i "$key" -o IdentitiesOnly=yes -o UserKnownHostsFile="$kh" -o StrictHostKeyChecking=yes -o BatchMode=yes -l root)
inop() { ip netns exec "$op" "$@"; }
hfrun() { inop env HAMNFLOW_INVENTORY="$lab/inventory.yaml" HAMNFLOW_JOURNAL="$work/journal.db" "$hf" --log-level error "$@"; }

# The playbooks and Ansible's files.
{
	echo "name: chain"
	echo "description: $N sequential commands on mn1"
	echo "steps:"
	for i in $(seq 1 "$N"); do
		echo "  - id: c$i"
		echo "    title: command $i"
		[ "$i" -gt 1 ] && echo "    needs: [c$((i - 1))]"
		echo "    host: mn1"
		echo "    action: shell"
		echo "    with: {cmd: \"true\"}"
	done
} >"$work/chain.yaml"
cat >"$work/fanout.yaml" <<YAML
name: fanout
description: one command on every service node, $BOUND at once
steps:
  - id: cmd
    title: hostname on {{ .item.name }}
    host: "{{ .item.name }}"
    foreach: {over: inv.groups.service_nodes, parallel: $BOUND}
    action: shell
    with: {cmd: hostname}
YAML
cat >"$work/hosts.ini" <<INI
[lab]
mn1 ansible_host=$addr ansible_user=root ansible_ssh_private_key_file=$key ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-o UserKnownHostsFile=$kh -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'
INI
{
	echo "- hosts: mn1"
	echo "  gather_facts: false"
	echo "  tasks:"
	for i in $(seq 1 "$N"); do
		echo "    - name: command $i"
		echo "      ansible.builtin.command: /bin/true"
		echo "      changed_when: false"
	done
} >"$work/chain-ansible.yaml"
seq 1 "$N" | sed 's/.*/true/' >"$work/commands.sh"
sns=$(jq -r '.hosts[] | select(.role=="sn") | .name' "$lab/state.json")

now() { date +%s%N; }
# measure NAME CMD...: run CMD ROUNDS times (after a warm-up), print the
# median and the minimum in ms, and per command when PER is set.
measure() {
	local name=$1
	shift
	"$@" >/dev/null 2>&1 || { echo "bench/ssh: $name failed:" >&2; "$@" >&2 || true; exit 1; }
	local ms=() t0 t1
	for _ in $(seq 1 "$ROUNDS"); do
		t0=$(now)
		"$@" >/dev/null 2>&1 || { echo "bench/ssh: $name failed" >&2; exit 1; }
		t1=$(now)
		ms+=($(((t1 - t0) / 1000000)))
	done
	local sorted
	sorted=$(printf '%s\n' "${ms[@]}" | sort -n)
	local med min
	med=$(echo "$sorted" | sed -n "$(((ROUNDS + 1) / 2))p")
	min=$(echo "$sorted" | head -1)
	if [ -n "${PER:-}" ]; then
		printf '  %-34s %7d ms  [min %6d]  %6.1f ms/command\n' "$name" "$med" "$min" "$(awk -v m="$med" -v n="$PER" 'BEGIN { print m / n }')"
	else
		printf '  %-34s %7d ms  [min %6d]\n' "$name" "$med" "$min"
	fi
}

per_ssh() { inop sh -c 'i=0; while [ $i -lt '"$N"' ]; do ssh "$@" true || exit 1; i=$((i+1)); done' sh "${sshopts[@]}" "$addr"; }
one_session() { inop ssh "${sshopts[@]}" "$addr" sh <"$work/commands.sh"; }
ansible_chain() { inop env ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_PIPELINING="$1" ANSIBLE_LOCAL_TEMP="$work/ansible-tmp" \
	ANSIBLE_SSH_CONTROL_PATH_DIR="$work/ansible-cp" ansible-playbook -i "$work/hosts.ini" "$work/chain-ansible.yaml"; }
xargs_fanout() { echo "$sns" | inop xargs -P "$BOUND" -I{} ssh "${sshopts[@]}" {} hostname; }

echo
echo "$N sequential commands on mn1 (median of $ROUNDS):"
PER=$N measure "hamnflow, $N-step chain" hfrun run "$work/chain.yaml"
PER=$N measure "ssh, one process per command" per_ssh
PER=$N measure "ssh, one session (floor)" one_session
if [ "$have_ansible" = 1 ]; then
	PER=$N measure "ansible-playbook, $N tasks" ansible_chain False
	PER=$N measure "ansible-playbook, pipelining" ansible_chain True
else
	echo "  ansible-playbook: not installed (apt-get install -y ansible)"
fi

echo
echo "one command on $SNS service nodes, at most $BOUND at once (median of $ROUNDS):"
measure "hamnflow fan-out, total" hfrun run "$work/fanout.yaml" --parallel "$BOUND"
id=$(hfrun history --output json --limit 1 | jq -r '.[0].id')
hfrun show "$id" --output json | jq -r --arg n "$SNS" '
	[.steps[] | select(.step | startswith("cmd[")) | .duration_ns / 1e6] | sort as $d |
	"  last run: \($d | length) hosts; slowest host \($d[-1] | floor) ms, median host \($d[($d | length) / 2 | floor] | floor) ms, fastest \($d[0] | floor) ms"'
measure "xargs -P$BOUND ssh (reference)" xargs_fanout
