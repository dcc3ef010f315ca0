#!/usr/bin/env bash
# Installs, on Debian 12 as root, what hamnflow's lab and its tests need
# and are missing: make test, make demo and .ci/run all call it, so that
# either of the README's two commands works on a fresh machine. It installs
# nothing that is already there, and never starts a service.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
	echo "deps: the lab needs root (network namespaces); run as root" >&2
	exit 2
fi
# The lab's own: sshd, PostgreSQL, rsync, iproute2, systemd-nspawn, debootstrap, ...
bash integration/lab/install-prereqs.sh
# The other databases' tests run these on the namespace hosts.
pkgs=(sqlite3 mariadb-server mariadb-client)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
