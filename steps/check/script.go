package check

import (
	"strconv"
	"strings"

	"github.com/hamnflow/hamnflow/steps/postgres"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/steps/services"
)

// Role is which MN a script is for.
type Role string

// The two MNs.
const (
	Primary Role = "primary"
	Standby Role = "standby"
)

// marker starts a section of a host script's output: "@@hf NAME [ARG]".
const marker = "@@hf "

// jobMark tags the lines of a section that ran in the background:
// "@@j N line".
const jobMark = "@@j "

// rcMark ends a command's output in a section with its exit status.
const rcMark = "@@rc "

// sshOpts are the SSH options of the trust check and rsync's dry run: never
// prompt, never accept an unknown or changed host key (as sync does).
const sshOpts = "-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5"

// Script is the one read-only script that gathers every fact of role's
// host: its clock first, then facts, SSH to the peer, the database, the
// credentials' checksums, the certificates, and on the standby its
// services and the SQLite copy, on the primary rsync's dry run per path
// set. Each section starts with a marker line; nothing is written on the
// host.
func Script(c Config, role Role) string {
	c = c.withDefaults()
	self, peer := c.Primary, c.Standby
	if role == Standby {
		self, peer = c.Standby, c.Primary
	}
	var b strings.Builder
	sec := func(name string, body string) {
		b.WriteString("echo " + remote.ShellQuote(marker+name) + "\n" + body + "\n")
	}
	// The sections that open an SSH connection to the peer (a key
	// exchange each, a quarter of a second on a busy MN) run at once, in
	// the background; each of their lines goes out whole (one write, under
	// PIPE_BUF) with the job's tag, and SplitSections puts them back
	// together.
	jobs := 0
	job := func(name string, body string) {
		jobs++
		tag := jobMark + strconv.Itoa(jobs) + " "
		b.WriteString("( echo " + remote.ShellQuote(marker+name) + "\n" + body + "\n) 2>&1 | awk '{ print \"" + tag + "\" $0; fflush() }' &\n")
	}
	b.WriteString("cd / || exit 1\n")
	// Whole seconds, the one format every date has (AIX's knows no %N):
	// the skew is known to a second.
	sec("clock", "date +%s")
	sec("facts", factsScript(c, peer))
	job("ssh", `out=$(ssh -n `+sshOpts+` `+remote.ShellQuote(peer.Address)+` true 2>&1 </dev/null); echo "`+rcMark+`$?"; printf '%s\n' "$out" | tail -n 2`)
	if db := dbScript(c, role); db != "" && !c.Prereq {
		sec("db "+c.DB.Type, db)
	}
	if len(c.Credentials) > 0 {
		sec("sums", sumsScript(c.Credentials))
	}
	for _, cert := range c.Certs {
		sec("cert "+cert.Name, "openssl x509 -enddate -noout -in "+remote.ShellQuote(cert.Path)+` 2>&1; echo "`+rcMark+`$?"`)
	}
	if role == Standby {
		for _, r := range c.StandbyRoles {
			sec("service "+r, "("+services.Discovery(r, initOf(self.Init), self.Services)+") 2>&1")
		}
	}
	if role == Primary && !c.NoDrift {
		for _, g := range driftGroups(c.PathSets) {
			job("drift "+g.Name, driftScript(g, peer.Hostname)+` 2>&1; echo "`+rcMark+`$?"`)
		}
	}
	b.WriteString("wait\nexit 0\n")
	return b.String()
}

func initOf(init string) string {
	if init == "" {
		return "systemd"
	}
	return init
}

// factsScript prints os, xcat, db (versions), subnet and resolve (the
// peer's hostname as this host resolves it) as key=value lines.
func factsScript(c Config, peer Host) string {
	var db string
	switch c.DB.Type {
	case "postgresql":
		db = `echo "db=$(` + remote.ShellQuote(strings.TrimRight(c.DB.BinDir, "/")+"/postgres") + ` --version 2>&1)"`
	case "db2":
		db = `echo "db=$(su - ` + remote.ShellQuote(c.DB.Instance) + ` -c db2level 2>&1 | grep -m1 -i 'informational tokens')"`
	case "mysql":
		db = `echo "db=$(` + c.DB.Client + ` --version 2>&1)"`
	case "sqlite":
		db = `echo "db=$(sqlite3 --version 2>&1 | cut -d' ' -f1)"`
	default:
		db = `echo db=none`
	}
	return `. /etc/os-release 2>/dev/null; echo "os=${PRETTY_NAME:-$(uname -sr)}"
x=$(cat /opt/xcat/version 2>/dev/null || rpm -q --qf '%{VERSION}-%{RELEASE}' xCAT-server 2>/dev/null || dpkg-query -W -f '${Version}' xcat-server 2>/dev/null)
[ -n "$x" ] || { if [ -e /opt/xcat/sbin/xcatd ]; then x="installed (version unknown)"; else x="not installed"; fi; }
echo "xcat=$x"
` + db + `
echo "subnet=$(ip -o -4 route show scope link proto kernel 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' ')"
echo "resolve=$(getent hosts ` + remote.ShellQuote(peer.Hostname) + ` | awk '{print $1; exit}')"`
}

// dbScript reads the database's replication state on role's host.
func dbScript(c Config, role Role) string {
	d := c.DB
	rc := `; echo "` + rcMark + `$?"`
	switch d.Type {
	case "postgresql":
		psql := remote.ShellQuote(strings.TrimRight(d.BinDir, "/")+"/psql") + " -X -A -t -q -v ON_ERROR_STOP=1 -p " + strconv.Itoa(d.Port) + " -d postgres"
		if d.Socket != "" {
			psql += " -h " + remote.ShellQuote(d.Socket)
		}
		for _, q := range postgres.StatusQueries() {
			psql += " -c " + remote.ShellQuote(q)
		}
		// As the server's owner: runuser when root (peer authentication
		// maps the OS user), else as the login user.
		return `if [ "$(id -u)" = 0 ]; then set -- runuser -u ` + remote.ShellQuote(d.Owner) + ` --; else set --; fi
"$@" ` + psql + ` 2>&1` + rc
	case "mysql":
		if role != Standby {
			return ""
		}
		// SHOW REPLICA STATUS from MySQL 8.0.22 and MariaDB 10.5.1; the
		// older spelling before (MySQL 8.4 dropped it).
		return `{ ` + d.Client + ` -e 'SHOW REPLICA STATUS\G' 2>/dev/null || ` + d.Client + ` -e 'SHOW SLAVE STATUS\G'; } 2>&1` + rc
	case "db2":
		return `su - ` + remote.ShellQuote(d.Instance) + ` -c ` + remote.ShellQuote("db2pd -hadr -db "+d.Name) + ` 2>&1` + rc
	case "sqlite":
		if role != Standby {
			return ""
		}
		f := remote.ShellQuote(d.File)
		// The newest of the copy's files: one file, or a directory of
		// *.sqlite files as xCAT keeps them in /etc/xcat.
		return `if [ -d ` + f + ` ]; then set -- ` + f + `/*.sqlite; else set -- ` + f + `; fi
for x in "$@"; do [ -f "$x" ] && { stat -c '%Y %n' "$x" 2>/dev/null || perl -e 'printf "%d %s\n", (stat $ARGV[0])[9], $ARGV[0]' "$x"; }; done` + rc
	}
	return ""
}

// sumsScript prints "sha256  path" for every file under the paths,
// relative to /, sorted.
func sumsScript(paths []string) string {
	var qs []string
	for _, p := range paths {
		qs = append(qs, remote.ShellQuote(strings.TrimPrefix(p, "/")))
	}
	return `for p in ` + strings.Join(qs, " ") + `; do [ -e "$p" ] && find "$p" -type f; done | LC_ALL=C sort | tr '\n' '\0' | xargs -0 -r sha256sum` + ` 2>&1; echo "` + rcMark + `$?"`
}

// driftGroups joins the path sets that rsync compares alike (the same
// checksum and delete) into one dry run each, named "set+set", so that
// sync-setup's three sets take two SSH connections, not three; Evaluate
// gives each set the changes under its paths.
func driftGroups(sets []PathSet) []PathSet {
	var groups []PathSet
	at := map[[2]bool]int{}
	for _, ps := range sets {
		k := [2]bool{ps.Checksum, ps.Delete}
		i, ok := at[k]
		if !ok {
			at[k] = len(groups)
			groups = append(groups, PathSet{Name: ps.Name, Checksum: ps.Checksum, Delete: ps.Delete, Paths: append([]string(nil), ps.Paths...)})
			continue
		}
		groups[i].Name += "+" + ps.Name
		groups[i].Paths = append(groups[i].Paths, ps.Paths...)
	}
	return groups
}

// driftScript is sync's rsync with -n: what would be copied to the peer
// now, one "@@item %i %n%L" line per item.
func driftScript(ps PathSet, to string) string {
	w := []string{"rsync", "-az", "-R", "-n", "--ignore-missing-args"}
	if ps.Checksum {
		w = append(w, "-c")
	}
	if ps.Delete {
		w = append(w, "--delete")
	}
	w = append(w, remote.ShellQuote("--out-format="+itemMark+"%i %n%L"), "-e", remote.ShellQuote("ssh "+sshOpts))
	for _, p := range ps.Paths {
		w = append(w, remote.ShellQuote(p))
	}
	return strings.Join(append(w, remote.ShellQuote(to+":/")), " ")
}

// itemMark starts rsync's lines of items in the drift sections.
const itemMark = "@@item "
