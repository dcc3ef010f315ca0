package services

// The names a service has, by role and service manager. A host's
// inventory entry may name its own (services: {dhcp: kea-dhcp4-server});
// otherwise the first of these that exists on the host is used.
//
// Sources: xCAT's own map of service names (perl-xCAT/xCAT/Utils.pm,
// servicemap, line 4076: dhcp, kea-dhcp4, named, nfs, http, mysql), the
// unit files xCAT installs (xCAT-server/etc/xcatd.service), Debian's and
// RHEL's package names, and for AIX the SRC subsystems xCAT creates
// (xCAT-server/sbin/xcatconfig line 368: mkssys ... -s xcatd;
// perl-xCAT/xCAT/Utils.pm line 3301: mkssys ... -s conserver) and AIX's own
// (dhcpsd, named, nfsd, tftpd under inetd).
var names = map[string]map[string][]string{
	"xcatd": {
		"systemd": {"xcatd"},
		"sysv":    {"xcatd"},
		"src":     {"xcatd"},
	},
	"dhcp": {
		"systemd": {"isc-dhcp-server", "dhcpd", "kea-dhcp4-server", "kea-dhcp4", "isc-kea-dhcp4-server"},
		"sysv":    {"isc-dhcp-server", "dhcpd", "dhcp3-server"},
		"src":     {"dhcpsd"},
	},
	"dns": {
		"systemd": {"named", "bind9"},
		"sysv":    {"bind9", "named"},
		"src":     {"named"},
	},
	"console": {
		"systemd": {"goconserver", "conserver", "conserver-server"},
		"sysv":    {"conserver-server", "conserver", "goconserver"},
		"src":     {"conserver"},
	},
	"tftp": {
		"systemd": {"tftpd-hpa", "tftp.socket", "tftp-server"},
		"sysv":    {"tftpd-hpa"},
		"src":     {"tftpd"},
	},
	"http": {
		"systemd": {"apache2", "httpd"},
		"sysv":    {"apache2", "httpd"},
		"src":     {"httpd"},
	},
	"nfs": {
		"systemd": {"nfs-server", "nfs-kernel-server", "nfsserver"},
		"sysv":    {"nfs-kernel-server", "nfs"},
		"src":     {"nfsd"},
	},
	"postgresql": {
		"systemd": {"postgresql"},
		"sysv":    {"postgresql"},
	},
	"mysql": {
		"systemd": {"mariadb", "mysqld", "mysql"},
		"sysv":    {"mariadb", "mysql", "mysqld"},
		"src":     {"mysql"},
	},
	"cron": {
		"systemd": {"cron", "crond", "cronie"},
		"sysv":    {"cron", "crond"},
		"src":     {"cron"},
	},
	"sshd": {
		"systemd": {"ssh", "sshd"},
		"sysv":    {"ssh", "sshd"},
		"src":     {"sshd"},
	},
}

// inittab is the /etc/inittab entry that starts an SRC subsystem at boot
// on AIX, as xCAT writes it (xCAT-server/sbin/xcatconfig line 381 for
// xcatd; perl-xCAT/xCAT/Utils.pm line 3317 for conserver).
var inittab = map[string]string{
	"xcatd":     "xcatd:2:once:/opt/xcat/sbin/restartxcatd > /dev/console 2>&1",
	"conserver": "conserver:2:once:/usr/bin/startsrc -s conserver > /dev/console 2>&1",
}

// Roles lists the roles the table knows.
func Roles() []string {
	out := make([]string, 0, len(names))
	for r := range names {
		out = append(out, r)
	}
	return out
}

// candidates are the names to look for: the host's own if the inventory
// gives one, else the table's for the role, else the role itself (a unit
// or script name given directly).
func candidates(role, init string, own map[string]string) []string {
	if n := own[role]; n != "" {
		return []string{n}
	}
	if byInit, ok := names[role]; ok {
		if l := byInit[init]; len(l) > 0 {
			return l
		}
	}
	return []string{role}
}
