#!/bin/bash
# Installs on this machine (Debian 12, as root) what the lab needs, the
# systemd hosts (systemd-nspawn, debootstrap) included. Safe to run again:
# installs only what is missing. .ci/run calls it; so does lab.InstallPrereqs.
#
# --no-install-recommends: systemd-container recommends libnss-mymachines,
# which adds "mymachines" to this machine's /etc/nsswitch.conf.
set -euo pipefail
pkgs=(openssh-server openssh-client rsync postgresql iproute2 iputils-ping arping cron procps util-linux
	systemd-container debootstrap)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "lab: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
