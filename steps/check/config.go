package check

import (
	"strings"
	"time"
)

// Host is one MN as the checks need it.
type Host struct {
	Name     string // the inventory's name: the host the transport runs on
	Hostname string // the name the other MN reaches it by (rsync's target, as sync uses it)
	Address  string // the address the other MN's SSH trust check dials
	Init     string // systemd, sysv or src
	// Interface faces the nodes (xcatprobe's -i).
	Interface string
	// Services names the host's services by role where they differ from
	// the usual names (the inventory's services:).
	Services map[string]string
}

// Database is the xCAT database and where its programs are.
type Database struct {
	Type     string // postgresql, mysql, sqlite, db2 or "" (none kept in sync)
	Owner    string // the OS user psql runs as (postgres)
	BinDir   string // PostgreSQL's programs
	Port     int
	Socket   string // psql's socket directory; "": libpq's default
	Name     string // Db2: the database (xcatdb)
	Instance string // Db2: the instance owner db2pd runs as
	File     string // SQLite: the database file, or the directory of *.sqlite files
	Client   string // MySQL: the client command; "": mysql
}

// PathSet is one group of paths kept in sync from the primary to the
// standby, as sync-setup's crontab entries copy them.
type PathSet struct {
	Name     string
	Paths    []string
	Checksum bool // compare contents (rsync -c)
	Delete   bool // files only the standby has count as drift (rsync --delete)
}

// Cert is one of xCAT's certificates.
type Cert struct {
	Name string // ca, server
	Path string
}

// JournalRun is a run of a procedure as the journal holds it.
type JournalRun struct {
	ID       string
	Playbook string
	Ended    time.Time
}

// History answers from the journal: the newest successful run of any of
// the playbooks for the cluster; ok false when there is none.
type History interface {
	LastSucceeded(cluster string, playbooks ...string) (r JournalRun, ok bool, err error)
}

// Config is what to check.
type Config struct {
	Cluster          string
	Primary, Standby Host
	// ClusterAddress and ClusterHostname are what nodes and service
	// nodes reach the serving MN by (cluster_verify).
	ClusterAddress, ClusterHostname string
	// ServiceNodes are the inventory's groups.service_nodes, from which
	// cluster_verify checks DNS and TFTP through the cluster address.
	ServiceNodes []Host
	DB           Database
	PathSets     []PathSet // nil: DefaultPathSets
	Credentials  []string  // paths whose checksums must match; nil: DefaultCredentials
	Certs        []Cert    // nil: DefaultCerts
	// StandbyRoles are the services that must be stopped and not enabled
	// on the standby; nil: DefaultStandbyRoles.
	StandbyRoles []string
	Limits       Limits  // nil: Defaults
	History      History // nil: the journal's checks are UNKNOWN
	Now          func() time.Time
	// NoDrift leaves out rsync's dry run (prereq: before sync-setup the
	// standby has nothing yet).
	NoDrift bool
	// Prereq adds the guide's prerequisites (the same OS, xCAT, database
	// and subnet on both MNs; each resolving the other's hostname to its
	// inventory address) and leaves out the journal's checks.
	Prereq bool
}

// Home is the home directory whose ~/.xcat holds xCAT's client
// credentials on the MNs (root's, as sync-setup's default).
const Home = "/root"

// DefaultCredentials are the credentials whose checksums must match on
// both MNs: xCAT's CA and server certificate, the node host keys, and the
// client credentials (guide 6.1 to 6.3).
// home is the home directory of ~/.xcat; "": Home.
func DefaultCredentials(home string) []string {
	if home == "" {
		home = Home
	}
	return []string{"/etc/xcat/ca", "/etc/xcat/cert", "/etc/xcat/hostkeys", strings.TrimRight(home, "/") + "/.xcat"}
}

// DefaultPathSets are sync-setup's three crontab entries: the credentials
// (by content, with deletes), the install directory, and the network
// files.
func DefaultPathSets(installdir, home string) []PathSet {
	if installdir == "" {
		installdir = "/install"
	}
	return []PathSet{
		{Name: "credentials", Paths: append(DefaultCredentials(home), installdir+"/postscripts/ca", installdir+"/postscripts/_xcat",
			installdir+"/postscripts/_ssh", installdir+"/postscripts/hostkeys"), Checksum: true, Delete: true},
		{Name: "install", Paths: []string{installdir}},
		{Name: "network", Paths: []string{"/etc/hosts", "/etc/resolv.conf"}},
	}
}

// DefaultCerts are xCAT's CA and server certificates as xcatconfig makes
// them (xCAT-server/share/xcat/scripts/setup-xcat-ca.sh line 39:
// ca-cert.pem; setup-server-cert.sh line 43: server-cert.pem).
func DefaultCerts() []Cert {
	return []Cert{{"ca", "/etc/xcat/ca/ca-cert.pem"}, {"server", "/etc/xcat/cert/server-cert.pem"}}
}

// DefaultStandbyRoles are the services a standby must not run nor start at
// boot: xcatd, DHCP, DNS and the console server (guide 4.0: the standby's
// xCAT services are stopped and disabled).
func DefaultStandbyRoles() []string { return []string{"xcatd", "dhcp", "dns", "console"} }

// host is the inventory host name among the MNs and service nodes; a
// name it does not know is a Host of that name alone.
func (c Config) host(name string) Host {
	for _, h := range append([]Host{c.Primary, c.Standby}, c.ServiceNodes...) {
		if h.Name == name {
			return h
		}
	}
	return Host{Name: name}
}

func (c Config) withDefaults() Config {
	if c.PathSets == nil {
		c.PathSets = DefaultPathSets("", "")
	}
	if c.Credentials == nil {
		c.Credentials = DefaultCredentials("")
	}
	if c.Certs == nil {
		c.Certs = DefaultCerts()
	}
	if c.StandbyRoles == nil {
		c.StandbyRoles = DefaultStandbyRoles()
	}
	l := Defaults()
	for k, v := range c.Limits {
		l[k] = v
	}
	c.Limits = l
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.DB.Owner == "" && c.DB.Type == "postgresql" {
		c.DB.Owner = "postgres"
	}
	if c.DB.Port == 0 && c.DB.Type == "postgresql" {
		c.DB.Port = 5432
	}
	if c.DB.Client == "" {
		c.DB.Client = "mysql"
	}
	if c.Primary.Hostname == "" {
		c.Primary.Hostname = c.Primary.Name
	}
	if c.Standby.Hostname == "" {
		c.Standby.Hostname = c.Standby.Name
	}
	return c
}
