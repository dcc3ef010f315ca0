package playbooks

// Inventory names the hosts of one xCAT cluster and how its management
// nodes are kept in sync. It is read from one YAML file per cluster.
//
// Secrets never live here: Secrets only says where each one comes from.
type Inventory struct {
	Cluster string `yaml:"cluster"`
	// Mode is "identity" (the guide's takeover: the standby takes the
	// primary's hostname and address) or "floating" (a service address
	// moves between MNs that keep their own names).
	Mode           string `yaml:"mode"`
	ClusterAddress string `yaml:"cluster_address"` // identity: the primary's address; floating: the service address
	ClusterName    string `yaml:"cluster_hostname,omitempty"`
	Prefix         int    `yaml:"prefix"` // cluster-facing subnet prefix length, e.g. 24
	Gateway        string `yaml:"gateway,omitempty"`
	InstallDir     string `yaml:"installdir,omitempty"` // default /install
	HANIM          bool   `yaml:"hanim,omitempty"`      // AIX: NIM kept in sync by HANIM

	Primary string `yaml:"primary"` // host name of the primary MN
	Standby string `yaml:"standby"` // host name of the standby MN

	Database Database `yaml:"database"`
	SSH      SSH      `yaml:"ssh,omitempty"`

	Hosts  map[string]InvHost  `yaml:"hosts"`
	Groups map[string][]string `yaml:"groups,omitempty"` // e.g. service_nodes: [sn01, sn02]

	Secrets map[string]SecretSource `yaml:"secrets,omitempty"`
	Vars    map[string]string       `yaml:"vars,omitempty"` // free values playbooks may use

	// Check holds hamnflow check's thresholds and path sets (settings_check.go).
	Check CheckSettings `yaml:"check,omitempty"`

	// Journal says where runs are journaled (settings_journal.go); none:
	// the bbolt file on the operator's host.
	Journal JournalSettings `yaml:"journal,omitempty"`

	file string                // where it was read from
	line func(path string) int // YAML path to line, for messages
}

// InvHost is one machine of the cluster.
type InvHost struct {
	Hostname      string   `yaml:"hostname,omitempty"` // defaults to the key
	Address       string   `yaml:"address"`
	Port          int      `yaml:"port,omitempty"`
	User          string   `yaml:"user,omitempty"`
	IdentityFiles []string `yaml:"identity_files,omitempty"`
	Interface     string   `yaml:"interface,omitempty"` // cluster-facing interface, e.g. eth0 or en1
	OS            string   `yaml:"os,omitempty"`        // linux | aix
	// SSHAddress, when set, is dialled instead of Address (e.g. an
	// administrative network distinct from the cluster-facing one).
	SSHAddress string `yaml:"ssh_address,omitempty"`
	// Init is the host's service manager: systemd (Linux's default), sysv
	// (init scripts only) or src (AIX's System Resource Controller, AIX's
	// default).
	Init string `yaml:"init,omitempty"`
	// Services names services by role where the host's differ from the
	// usual names, e.g. {dhcp: kea-dhcp4-server, console: goconserver}.
	Services map[string]string `yaml:"services,omitempty"`
	// Env is set for every command on the host, e.g. PATH on an AIX MN
	// whose xCAT and NIM commands are outside root's login PATH.
	Env map[string]string `yaml:"env,omitempty"`
}

// Database describes the xCAT database and its replication.
type Database struct {
	Type   string `yaml:"type"`             // postgresql | mysql | sqlite | db2
	Owner  string `yaml:"owner,omitempty"`  // OS user that owns and runs it (postgres, xcatdb, mysql)
	Method string `yaml:"method,omitempty"` // postgresql: streaming | dump
	Name   string `yaml:"name,omitempty"`   // database name, default xcatdb
	Port   int    `yaml:"port,omitempty"`
	// PostgreSQL
	BinDir  string `yaml:"bin_dir,omitempty"`
	DataDir string `yaml:"data_dir,omitempty"`
	ConfDir string `yaml:"conf_dir,omitempty"` // where postgresql.conf and pg_hba.conf live; default DataDir
	Socket  string `yaml:"socket,omitempty"`   // Unix socket directory psql connects through; default libpq's
	Log     string `yaml:"log,omitempty"`      // the server log pg_ctl start writes; default /var/log/postgresql/hamnflow-postgresql.log
	// Unit is the systemd unit that runs the cluster on systemd hosts;
	// default from data_dir (postgresql@15-main for Debian's
	// /var/lib/postgresql/15/main, postgresql-15 for the PGDG RPMs'
	// /var/lib/pgsql/15/data, else postgresql); none: pg_ctl starts and
	// stops it even there.
	Unit string `yaml:"unit,omitempty"`
	// Db2
	Instance       string `yaml:"instance,omitempty"`
	HADRLocalSvc   string `yaml:"hadr_primary_service,omitempty"` // DB2_HADR_1
	HADRLocalPort  int    `yaml:"hadr_primary_port,omitempty"`    // 55001
	HADRRemoteSvc  string `yaml:"hadr_standby_service,omitempty"` // DB2_HADR_2
	HADRRemotePort int    `yaml:"hadr_standby_port,omitempty"`    // 55002
	SyncMode       string `yaml:"syncmode,omitempty"`             // NEARSYNC
	HADRTimeout    int    `yaml:"hadr_timeout,omitempty"`         // 3
	PeerWindow     int    `yaml:"peer_window,omitempty"`          // 120
	BackupDir      string `yaml:"backup_dir,omitempty"`           // /var/lib/db2/backup
	// SQLite
	File string `yaml:"file,omitempty"`
}

// SSH holds connection settings shared by all hosts.
type SSH struct {
	KnownHosts     string   `yaml:"known_hosts,omitempty"` // default ~/.ssh/known_hosts
	User           string   `yaml:"user,omitempty"`
	IdentityFiles  []string `yaml:"identity_files,omitempty"`
	ConnectTimeout string   `yaml:"connect_timeout,omitempty"` // e.g. 5s
}

// SecretSource says where one secret is read from: an environment variable
// or a file (first line, trailing newline removed).
type SecretSource struct {
	Env  string `yaml:"env,omitempty"`
	File string `yaml:"file,omitempty"`
}
