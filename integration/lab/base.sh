#!/bin/bash
# Builds the Debian root that the lab's systemd hosts boot from (see base.go).
# Usage: base.sh TARGET SUITE MIRROR SOURCES PACKAGES...
# TARGET is a fresh temporary directory; the caller renames it into the
# cache only when this script exits 0. SOURCES is a deb822 file with this
# machine's Debian entries, used by apt inside the root.
#
# The chroot phase runs in private mount and PID namespaces: the mounts it
# makes (proc, dev, resolv.conf) and any daemon a package's postinst starts
# despite policy-rc.d end with it.
set -euo pipefail
target=$1 suite=$2 mirror=$3 sources=$4
shift 4

say() { echo "base: $*" >&3; }

say "debootstrap $suite from $mirror (minbase)"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2 \
	"$suite" "$target" "$mirror"

# No service starts while packages are installed (invoke-rc.d asks this).
printf '#!/bin/sh\nexit 101\n' >"$target/usr/sbin/policy-rc.d"
chmod 755 "$target/usr/sbin/policy-rc.d"
# The lab creates each MN's PostgreSQL cluster itself (its own system id).
mkdir -p "$target/etc/postgresql-common/createcluster.d"
echo 'create_main_cluster = false' >"$target/etc/postgresql-common/createcluster.d/hamnflow-lab.conf"
rm -f "$target/etc/apt/sources.list"
cp "$sources" "$target/etc/apt/sources.list.d/debian.sources"
: >"$target/etc/resolv.conf"

say "installing $# packages in the chroot"
export target
unshare --mount --pid --fork --propagation private -- /bin/bash -euo pipefail -c '
	mount -t proc proc "$target/proc"
	mount --rbind /dev "$target/dev"
	mount --bind /etc/resolv.conf "$target/etc/resolv.conf"
	export DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8
	chroot "$target" apt-get update -q
	chroot "$target" apt-get install -y -q --no-install-recommends "$@"
	chroot "$target" apt-get clean
' base-chroot "$@"

say "configuring the root"
# The Db2 model's instance owner (integration/db2model), as on the
# namespace hosts.
chroot "$target" /bin/sh -euc '
	getent group xcatdb >/dev/null || groupadd -g 2001 xcatdb
	getent passwd xcatdb >/dev/null || useradd -u 2001 -g 2001 -M -d /var/lib/db2 -s /bin/sh -c "Db2 instance owner" xcatdb
	# Services start only where the lab enables them; sshd and cron everywhere.
	for u in postgresql named isc-dhcp-server conserver-server tftpd-hpa mariadb; do
		systemctl disable "$u" >/dev/null 2>&1 || true
	done
	systemctl enable ssh cron >/dev/null 2>&1
	systemctl mask console-getty.service getty@tty1.service systemd-networkd-wait-online.service >/dev/null 2>&1 || true
'
rm -f "$target/usr/sbin/policy-rc.d"
# Every host gets its own host keys and machine id.
rm -f "$target"/etc/ssh/ssh_host_*
: >"$target/etc/machine-id"
rm -f "$target/var/lib/dbus/machine-id"
rm -rf "$target"/var/lib/apt/lists/* "$target"/var/cache/apt/*.bin "$target"/var/log/*.log
echo "hamnflow-lab" >"$target/etc/hostname"
say "done"
