package lab

import (
	"context"
	_ "embed"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Real xCAT on the MNs (Config.RealXCAT). Paths of the form file:line are
// in the xCAT source tree (Lab.XCATSrc, ../shared/xcat-core).
//
// Both MNs get xCAT laid out from the source as its spec files install it
// (xcat-layout.sh) and configured by xCAT's own `xcatconfig -i`, as the
// RPM's %post does. The database is PostgreSQL:
//
//   - mn1, the primary, follows what `xcatconfig -i` does when XCATPGPW is
//     set (xCAT-server/sbin/xcatconfig:163-186): pgsqlsetup -i -N first,
//     then the database initialised (-d). pgsqlsetup itself cannot run on
//     Debian 12: it looks for a postgresql-9* package to find the binaries
//     and the configuration (xCAT-client/bin/pgsqlsetup:211-222) and falls
//     back to 9.1's paths. The lab does its steps for PostgreSQL 15 instead
//     (postgres.go: pg_hba md5 lines, xcatadm and root, xcatdb) and writes
//     cfgloc as createcfgloc does (pgsqlsetup:1349), then runs
//     `xcatconfig -i -d`.
//   - mn2, the standby, is installed the way a standby is before it is
//     paired: `xcatconfig -i` on its own SQLite database (credentials, site
//     defaults), then pointed at the shared database and its xcatd, dhcpd
//     and named stopped and disabled, as the guide asks.
//
// Both cfgloc files name the cluster address (ClusterAddress), not mn1:
// in a real HA pair the database is reached where the active MN is, the
// floating address moves with the database on failover (PostgreSQL on mn2
// promoted, the address taken over), and cfgloc never needs editing. mn1's
// xcatd therefore connects to its own PostgreSQL through 198.51.100.10,
// which pg_hba lets in with a password (pgHBA).

//go:embed xcat-layout.sh
var xcatLayoutScript string

// xcatSetupTimeout bounds the whole xCAT set-up (xcatconfig -i takes
// 13-28 s a host, more under load).
const xcatSetupTimeout = 10 * time.Minute

// Compute nodes the lab defines in xCAT: cn01..cnNN.
const (
	ComputeNodes = 12
	computeBase  = 110 // cnNN is 198.51.100.(110+NN)
	bmcBase      = 150 // its BMC 198.51.100.(150+NN): nobody answers
)

// Osimages the lab defines, with placeholder kernels under their pkgdir.
var Osimages = []string{"rhels8.6-x86_64-install-compute", "rhels9.2-x86_64-install-compute"}

// ComputeNode is the name, address and MAC of compute node i (1-based).
func ComputeNode(i int) (name, ip, mac string) {
	return fmt.Sprintf("cn%02d", i), fmt.Sprintf("198.51.100.%d", computeBase+i), fmt.Sprintf("02:42:c6:33:65:%02x", i)
}

// XCATEnv is the environment of xCAT commands run in the lab: what
// /etc/profile.d/xcat.sh sets, and `container`, as systemd-nspawn sets it
// for PID 1 (xcatconfig skips host-wide sysctls then, xcatconfig:862).
const XCATEnv = "export XCATROOT=/opt/xcat PERL_BADLANG=0 container=systemd-nspawn\n"

// installXCAT lays xCAT out on both MNs and configures it.
func (l *Lab) installXCAT(ctx context.Context) error {
	if !l.RealXCAT {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, xcatSetupTimeout)
	defer cancel()
	mns := []*Host{l.Host("mn1"), l.Host("mn2")}
	if err := parallel(len(mns), func(i int) error {
		h := mns[i]
		if err := l.layoutXCAT(ctx, h); err != nil {
			return fmt.Errorf("lay out xCAT on %s: %w", h.Name, err)
		}
		l.logf("lab %s: xcatconfig -i on %s", l.Prefix, h.Name)
		if err := l.xcatExec(ctx, h.Name, "configure xCAT", l.xcatconfigScript(h)); err != nil {
			return err
		}
		return nil
	}); err != nil {
		return err
	}
	l.logf("lab %s: xCAT definitions and services on mn1", l.Prefix)
	if err := l.xcatExec(ctx, "mn1", "define the cluster", l.definitionsScript()); err != nil {
		return err
	}
	if err := l.xcatExec(ctx, "mn1", "start the primary's services", primaryServicesScript); err != nil {
		return err
	}
	standby := standbyServicesScript
	if l.Postgres {
		standby += l.cfglocScript()
	}
	return l.xcatExec(ctx, "mn2", "stop the standby's services", standby)
}

// xcatExec runs an xCAT set-up script on host, with xCAT's environment.
func (l *Lab) xcatExec(ctx context.Context, host, what, script string) error {
	if _, err := l.Exec(ctx, host, "set -e\n"+XCATEnv+script); err != nil {
		return fmt.Errorf("%s on %s: %w", what, host, err)
	}
	return nil
}

// layoutXCAT copies xCAT from the source tree into h's root
// (xcat-layout.sh), and bridges Debian's names for conserver as the lab
// hosts need (../shared/testbed.md).
func (l *Lab) layoutXCAT(ctx context.Context, h *Host) error {
	cmd := exec.CommandContext(ctx, "/bin/bash", "-c", xcatLayoutScript, "xcat-layout.sh", l.XCATSrc, h.Root)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("xcat-layout.sh %s %s: %w: %s", l.XCATSrc, h.Root, err, lastLines(string(out), 20))
	}
	return nil
}

// xcatconfigScript is xCAT-server.spec's %post on a systemd host
// (xCAT-server/xCAT-server.spec:510-517: xcatd-init-compat configure,
// daemon-reload, enable xcatd.service), then xcatconfig -i: on mn1 on
// PostgreSQL (cfgloc written first, -d as xcatconfig:184 does after
// pgsqlsetup), on mn2 on SQLite; without Postgres both on SQLite.
func (l *Lab) xcatconfigScript(h *Host) string {
	var b strings.Builder
	b.WriteString(`# Debian's conserver is conserver-server and reads /etc/conserver/conserver.cf;
# xCAT writes /etc/conserver.cf and runs /etc/init.d/conserver stop, then
# start (xCAT-server/lib/xcat/plugins/conserver.pm:501, :523-526). The
# script hands that to the one unit, conserver-server.service; the unit
# systemd would generate from the script is masked. conserver runs as root,
# as xCAT's own conserver-xcat does: it reads xCAT's credentials
# (/etc/xcat/cert/server-cred.pem, root's only).
ln -sf /etc/conserver.cf /etc/conserver/conserver.cf
printf '#!/bin/sh\n# hamnflow lab: xCAT calls this; Debian names the service conserver-server.\nexec systemctl "$@" conserver-server.service\n' >/etc/init.d/conserver
chmod 755 /etc/init.d/conserver
systemctl mask conserver.service >/dev/null 2>&1
mkdir -p /etc/systemd/system/conserver-server.service.d
printf '[Service]\nUser=root\n' >/etc/systemd/system/conserver-server.service.d/hamnflow-lab.conf
# xcatd.service orders itself only after network and syslog
# (xCAT-server/etc/init.d/xcatd.service:3): halted with its database on the
# same host, it waits its 30 s stop timeout for PostgreSQL, stopped first.
# The MNs' database is local, so xcatd starts after it and stops before it.
mkdir -p /etc/systemd/system/xcatd.service.d
printf '[Unit]\nAfter=postgresql.service postgresql@15-main.service\n' >/etc/systemd/system/xcatd.service.d/hamnflow-lab.conf
/opt/xcat/share/xcat/scripts/xcatd-init-compat configure --explicit-target
systemctl daemon-reload
systemctl enable xcatd.service >/dev/null 2>&1
`)
	flags := "-i"
	if h.Name == "mn1" && l.Postgres {
		b.WriteString(l.cfglocScript())
		flags = "-i -d"
	}
	fmt.Fprintf(&b, "xcatconfig %s >/var/log/xcat-xcatconfig.log 2>&1 || { tail -30 /var/log/xcat-xcatconfig.log; exit 1; }\n", flags)
	// xcatconfig returns before xcatd answers.
	b.WriteString("for i in $(seq 100); do lsxcatd -v >/dev/null 2>&1 && break; sleep 0.3; done\nlsxcatd -v\n")
	return b.String()
}

// cfglocScript writes /etc/xcat/cfgloc as pgsqlsetup's createcfgloc does
// (xCAT-client/bin/pgsqlsetup:1349-1366): Pg:dbname=...;host=...|user|pw,
// mode 0600; host is the cluster address (see the package comment).
func (l *Lab) cfglocScript() string {
	return fmt.Sprintf("mkdir -p /etc/xcat\n(umask 077; echo 'Pg:dbname=%s;host=%s|xcatadm|%s' >/etc/xcat/cfgloc)\n",
		PGDBName, ClusterAddress, l.mustSecret("pg_password"))
}

// definitionsScript defines a realistic cluster in mn1's xCAT: site
// settings, the lab network, compute nodes cn01..cn12 with MACs and BMCs,
// the lab's service nodes in group service, and osimages with placeholder
// kernels (nodeset needs the osimage's kernel and initrd under its pkgdir,
// the node's MAC, a networks entry and site.master; ../shared/testbed.md).
func (l *Lab) definitionsScript() string {
	var st strings.Builder
	for i := 1; i <= ComputeNodes; i++ {
		name, ip, mac := ComputeNode(i)
		fmt.Fprintf(&st, "%s:\n    objtype=node\n    groups=compute,all\n    ip=%s\n    mac=%s\n    arch=x86_64\n    netboot=pxe\n"+
			"    mgt=ipmi\n    cons=ipmi\n    bmc=198.51.100.%d\n    os=rhels8.6\n    profile=compute\n    installnic=mac\n    primarynic=mac\n"+
			// The nodes are served from the cluster address, which moves
			// with the active MN.
			"    xcatmaster=%s\n    tftpserver=%s\n    nfsserver=%s\n",
			name, ip, mac, bmcBase+i, ClusterAddress, ClusterAddress, ClusterAddress)
	}
	for _, h := range l.Hosts {
		if h.Role == RoleSN {
			// No setupdhcp/setuptftp...: the lab's SNs run no xcatd, and
			// xCAT would dispatch to them (hierarchy) if they served.
			fmt.Fprintf(&st, "%s:\n    objtype=node\n    groups=service,all\n    ip=%s\n    mac=%s\n    arch=x86_64\n    netboot=pxe\n    mgt=ipmi\n",
				h.Name, h.Address, h.MAC)
		}
	}
	for _, img := range Osimages {
		f := strings.Split(img, "-") // rhels8.6 x86_64 install compute
		major := strings.SplitN(strings.TrimPrefix(f[0], "rhels"), ".", 2)[0]
		fmt.Fprintf(&st, "%s:\n    objtype=osimage\n    imagetype=linux\n    osname=Linux\n    osvers=%s\n    osarch=%s\n"+
			"    provmethod=%s\n    profile=%s\n    osdistroname=%s-%s\n    pkgdir=/install/%s/%s\n"+
			"    template=/opt/xcat/share/xcat/install/rh/compute.rhels%s.tmpl\n    pkglist=/opt/xcat/share/xcat/install/rh/compute.rhels%s.pkglist\n",
			img, f[0], f[1], f[2], f[3], f[0], f[1], f[0], f[1], major, major)
	}
	var kernels strings.Builder
	for _, img := range Osimages {
		f := strings.Split(img, "-")
		fmt.Fprintf(&kernels, "d=/install/%s/%s/images/pxeboot; mkdir -p $d\n", f[0], f[1])
		fmt.Fprintf(&kernels, "echo 'placeholder kernel of the hamnflow lab' >$d/vmlinuz; echo 'placeholder initrd of the hamnflow lab' >$d/initrd.img\n")
	}
	return `# site: the cluster's address is the master and name server (what
# compute and service nodes are told); DHCP on the lab's interface;
# consoles only on demand (no BMC answers).
chdef -t site master=` + ClusterAddress + ` nameservers=` + ClusterAddress + ` domain=` + Domain +
		` dhcpinterfaces=` + Interface + ` consoleondemand=yes forwarders= >/dev/null
# xcatconfig -i made the network entry from eth0 (xcatconfig makenetworks):
# complete it; make it if it is missing.
net=$(lsdef -t network 2>/dev/null | awk '/198_51_100_0/ {print $1; exit}')
if [ -z "$net" ]; then
	net=198_51_100_0-255_255_255_0
	mkdef -t network -o $net net=198.51.100.0 mask=255.255.255.0 mgtifname=` + Interface + ` >/dev/null
fi
chdef -t network -o $net gateway=` + Gateway + ` dhcpserver=` + ClusterAddress + ` tftpserver=` + ClusterAddress + ` nameservers=` + ClusterAddress +
		` domain=` + Domain + ` dynamicrange=198.51.100.200-198.51.100.250 >/dev/null
mkdef -z >/dev/null <<'EOF'
` + st.String() + `EOF
` + kernels.String() + `makehosts compute
`
}

// primaryServicesScript starts the primary's network services the way
// xCAT's commands do: makedns -n (ddns.pm, starts named), makedhcp -n and
// -a (dhcp.pm, restarts dhcpd, then adds the hosts through OMAPI) and
// makeconservercf (conserver.pm). They are enabled first, as on a primary;
// the base has them disabled. tftpd is xcatd's own: when xcatd starts on
// an MN it stops tftpd-hpa and runs in.tftpd itself
// (xCAT-server/lib/xcat/plugins/AAsn.pm:1346-1408, :1473), so
// tftpd-hpa.service stays disabled.
const primaryServicesScript = `systemctl enable named.service isc-dhcp-server.service conserver-server.service >/dev/null 2>&1
makedns -n >/var/log/xcat-makedns.log 2>&1 || { cat /var/log/xcat-makedns.log; exit 1; }
makedhcp -n >/var/log/xcat-makedhcp.log 2>&1 || { cat /var/log/xcat-makedhcp.log; exit 1; }
makedhcp -a >>/var/log/xcat-makedhcp.log 2>&1 || { cat /var/log/xcat-makedhcp.log; exit 1; }
makeconservercf >/var/log/xcat-makeconservercf.log 2>&1 || { cat /var/log/xcat-makeconservercf.log; exit 1; }
systemctl is-active xcatd named isc-dhcp-server conserver-server
pgrep -x in.tftpd >/dev/null
`

// standbyServicesScript leaves the standby's xCAT services stopped and
// disabled, as the guide asks, and points it at the shared database.
const standbyServicesScript = `systemctl disable --now xcatd.service named.service isc-dhcp-server.service conserver-server.service tftpd-hpa.service >/dev/null 2>&1
`
