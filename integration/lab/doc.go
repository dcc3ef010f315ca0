// Package lab builds an isolated network of real hosts on this machine, on
// which hamnflow's end-to-end tests and demo run.
//
// Every host is a network namespace named <prefix>-<host> with one port
// (eth0) on a bridge that lives in its own namespace, <prefix>-sw:
//
//	<prefix>-op    operator   198.51.100.2    runs hamnflow (ip netns exec)
//	<prefix>-mn1   primary    198.51.100.11   admin .101, cluster .10 (floating)
//	<prefix>-mn2   standby    198.51.100.12   admin .102
//	<prefix>-sn01  service    198.51.100.21   ... one per service node
//
// Management and service nodes also get their own mount, UTS and PID
// namespaces: an init process (bash, process 1 of the host, reaping orphans)
// mounts the host's view and sets its hostname; a real OpenSSH sshd runs
// inside that view. The view is, from <Dir>/hosts/<name>/: /etc as an
// overlay (lower: this machine's /etc, upper: hosts/<name>/etc with the
// host's own files), and bind mounts of /root, /opt, /tmp, /run, /var/log,
// /var/lib/postgresql, /var/lib/db2, /var/spool/cron and /install. Exec
// enters it with nsenter, so tests and provisioning see exactly what SSH
// sessions see, `ps` included.
//
// Change a running host's /etc through Exec (or SSH): hosts/<name>/etc is
// the overlay's upper layer, and writing it from outside while the host runs
// is not reliably seen. The other directories are plain bind mounts.
//
// Nothing of the lab touches the root namespace's network: no veth end,
// address or route is created there, only 198.51.100.0/24 is used, and Down
// kills every process whose network namespace is one of the lab's (by pid),
// deletes the namespaces and removes what Up wrote.
//
// # Hosts with a real systemd
//
// With Config.Systemd the MNs and SNs are systemd-nspawn containers instead
// (nspawn.go): each boots a real systemd as its PID 1, in its network
// namespace above, from one shared Debian 12 root made with debootstrap
// (base.go: built once, minutes, cached in BaseCacheDir under the hash of
// its recipe) through an overlay of its own: lower the base, upper
// Dir/hosts/<name>/upper, merged at Dir/hosts/<name>/root, which is then
// Host.Root. sshd, PostgreSQL (Debian's cluster 15/main) and xCAT's
// services are systemd units there. Exec enters the container through its
// PID 1; Down halts each container cleanly (SIGTERM to its nspawn), kills
// what is left in its cgroup by pid, and unmounts the overlays.
// InstallPrereqs (install-prereqs.sh) installs systemd-nspawn and
// debootstrap. Config.RealXCAT then installs the real xCAT 2.19 on both
// MNs, on PostgreSQL (xcat.go).
//
// A command that brings a lab up for a person should tear it down on
// Ctrl-C. During Up, cancel its context on a signal (Up then tears down
// what it built); afterwards, SetupSignalTeardown does the same for a
// process that keeps the lab for its lifetime:
//
//	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
//	l, err := lab.Up(ctx, cfg) // interrupted: torn down, err != nil
//	stop()
//	if err != nil { ... }
//	defer lab.SetupSignalTeardown(l)() // only if the lab dies with the process
package lab
