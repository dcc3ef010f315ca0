package playbooks

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/hamnflow/hamnflow/steps"
	"github.com/hamnflow/hamnflow/steps/postgres"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// LoadInventory reads and checks an inventory file.
func LoadInventory(path string) (*Inventory, []byte, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read inventory: %w (give one with --inventory or $HAMNFLOW_INVENTORY)", err)
	}
	inv, err := ParseInventory(path, text)
	return inv, text, err
}

// ParseInventory parses and checks an inventory. Problems come back as
// workflow.Diagnostics with file and line.
func ParseInventory(file string, text []byte) (*Inventory, error) {
	var inv Inventory
	if err := workflow.CheckYAMLBounds(file, "an inventory", text); err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalWithOptions(text, &inv, yaml.Strict()); err != nil {
		return nil, workflow.Diagnostics{yamlDiag(file, err)}
	}
	inv.file = file
	if f, err := parser.ParseBytes(text, 0); err == nil {
		inv.line = func(path string) int {
			p, err := yaml.PathString(path)
			if err != nil {
				return 0
			}
			n, err := p.FilterFile(f)
			if err != nil || n == nil || n.GetToken() == nil || n.GetToken().Position == nil {
				return 0
			}
			return n.GetToken().Position.Line
		}
	}
	inv.applyDefaults()
	if diags := inv.check(); len(diags) > 0 {
		return nil, diags
	}
	return &inv, nil
}

func yamlDiag(file string, err error) workflow.Diag {
	var ye yaml.Error
	if e, ok := err.(yaml.Error); ok {
		ye = e
	}
	if ye != nil && ye.GetToken() != nil && ye.GetToken().Position != nil {
		return workflow.Diag{File: file, Line: ye.GetToken().Position.Line, Msg: ye.GetMessage()}
	}
	return workflow.Diag{File: file, Msg: err.Error()}
}

func (inv *Inventory) applyDefaults() {
	if inv.InstallDir == "" {
		inv.InstallDir = "/install"
	}
	if inv.Mode == "" {
		inv.Mode = "identity"
	}
	if inv.Database.Name == "" {
		inv.Database.Name = "xcatdb"
	}
	db := &inv.Database
	switch db.Type {
	case "postgresql":
		if db.Owner == "" {
			db.Owner = "postgres"
		}
		if db.Port == 0 {
			db.Port = 5432
		}
		if db.Method == "" {
			db.Method = "streaming"
		}
		if db.ConfDir == "" {
			// Debian's postgresql-common keeps the configuration in /etc.
			db.ConfDir = postgres.DebianConfDir(db.DataDir)
		}
		if db.ConfDir == "" {
			db.ConfDir = db.DataDir
		}
	case "db2":
		if db.Owner == "" {
			db.Owner = "xcatdb"
		}
		if db.Instance == "" {
			db.Instance = db.Owner
		}
		if db.HADRLocalSvc == "" {
			db.HADRLocalSvc, db.HADRLocalPort = "DB2_HADR_1", 55001
		}
		if db.HADRRemoteSvc == "" {
			db.HADRRemoteSvc, db.HADRRemotePort = "DB2_HADR_2", 55002
		}
		if db.SyncMode == "" {
			db.SyncMode = "NEARSYNC"
		}
		if db.HADRTimeout == 0 {
			db.HADRTimeout = 3
		}
		if db.PeerWindow == 0 {
			db.PeerWindow = 120
		}
		if db.BackupDir == "" {
			db.BackupDir = "/var/lib/db2/backup"
		}
		if db.Port == 0 {
			db.Port = 60000
		}
	case "mysql":
		if db.Owner == "" {
			db.Owner = "mysql"
		}
		if db.Port == 0 {
			db.Port = 3306
		}
	}
	for name, h := range inv.Hosts {
		if h.Hostname == "" {
			h.Hostname = name
		}
		if h.OS == "" {
			h.OS = "linux"
		}
		if h.Init == "" {
			h.Init = map[string]string{"aix": "src"}[h.OS]
			if h.Init == "" {
				h.Init = "systemd"
			}
		}
		inv.Hosts[name] = h
	}
}

func (inv *Inventory) at(path string) int {
	if inv.line == nil {
		return 0
	}
	for p := path; p != ""; {
		if l := inv.line(p); l > 0 {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 1 {
			break
		}
		p = p[:i]
	}
	return 1
}

func (inv *Inventory) check() workflow.Diagnostics {
	var diags workflow.Diagnostics
	add := func(path, format string, a ...any) {
		diags = append(diags, workflow.Diag{File: inv.file, Line: inv.at(path), Msg: fmt.Sprintf(format, a...)})
	}
	inv.checkJournal(add)
	if inv.Cluster == "" {
		add("$", "cluster: give the cluster a name (it names the run lock and the runs in history)")
	}
	if inv.Mode != "identity" && inv.Mode != "floating" {
		add("$.mode", "mode %q: use identity (the standby takes the primary's hostname and address, as the guide does) or floating (a service address moves)", inv.Mode)
	}
	if net.ParseIP(inv.ClusterAddress) == nil {
		add("$.cluster_address", "cluster_address %q is not an IP address", inv.ClusterAddress)
	}
	if inv.Prefix < 1 || inv.Prefix > 32 {
		add("$.prefix", "prefix %d: give the cluster network's prefix length, 1 to 32 (e.g. 24, or 26 for the guide's 255.255.255.192)", inv.Prefix)
	}
	if inv.Gateway != "" && net.ParseIP(inv.Gateway) == nil {
		add("$.gateway", "gateway %q is not an IP address", inv.Gateway)
	}
	if len(inv.Hosts) == 0 {
		add("$", "hosts: list the management nodes (and service nodes)")
	}
	for _, role := range []struct{ key, name string }{{"primary", inv.Primary}, {"standby", inv.Standby}} {
		if role.name == "" {
			add("$."+role.key, "%s: name the %s management node (a key of hosts)", role.key, role.key)
		} else if _, ok := inv.Hosts[role.name]; !ok {
			add("$."+role.key, "%s %q is not in hosts", role.key, role.name)
		}
	}
	if p, ok := inv.Hosts[inv.Primary]; ok && p.OS == "aix" && inv.Mode == "floating" {
		add("$.mode", "mode floating on AIX: AIX takes over the primary's hostname and address with mktcpip (guide 8.0 step 4); use mode identity")
	}
	if inv.Primary != "" && inv.Primary == inv.Standby {
		add("$.standby", "standby and primary are both %q: they must be two different management nodes", inv.Primary)
	}
	for _, name := range sortedKeys(inv.Hosts) {
		h := inv.Hosts[name]
		at := "$.hosts." + name
		if h.Address == "" {
			add(at, "host %s has no address", name)
		} else if net.ParseIP(h.Address) == nil && !validHostname(h.Address) {
			add(at+".address", "host %s: address %q is neither an IP address nor a host name", name, h.Address)
		}
		if h.Port < 0 || h.Port > 65535 {
			add(at+".port", "host %s: port %d is out of range", name, h.Port)
		}
		if h.OS != "linux" && h.OS != "aix" {
			add(at+".os", "host %s: os %q: use linux or aix", name, h.OS)
		}
		switch {
		case h.Init != "systemd" && h.Init != "sysv" && h.Init != "src":
			add(at+".init", "host %s: init %q: use systemd, sysv (init scripts only) or src (AIX)", name, h.Init)
		case (h.Init == "src") != (h.OS == "aix"):
			add(at+".init", "host %s: init %s does not go with os %s (AIX uses src; Linux systemd or sysv)", name, h.Init, h.OS)
		}
		for _, role := range sortedKeys(h.Services) {
			if !validService(h.Services[role]) {
				add(at+".services."+role, "host %s: service %s: %q is not a service name", name, role, h.Services[role])
			}
		}
		if (name == inv.Primary || name == inv.Standby) && h.Interface == "" {
			add(at, "management node %s: give its cluster-facing interface (e.g. eth0, en1)", name)
		}
	}
	// The guide's takeover needs both MNs and the cluster address on one
	// subnet: the standby announces the address on its own link.
	if ca := net.ParseIP(inv.ClusterAddress); ca != nil && inv.Prefix >= 1 && inv.Prefix <= 32 {
		for _, mn := range []string{inv.Primary, inv.Standby} {
			h, ok := inv.Hosts[mn]
			if ip := net.ParseIP(h.Address).To4(); ok && ip != nil && ca.To4() != nil {
				subnet := net.IPNet{IP: ip.Mask(net.CIDRMask(inv.Prefix, 32)), Mask: net.CIDRMask(inv.Prefix, 32)}
				if !subnet.Contains(ca) {
					add("$.cluster_address", "cluster_address %s is not in the subnet of %s (%s/%d): the standby could not take it over on its link", inv.ClusterAddress, mn, h.Address, inv.Prefix)
				}
			}
		}
	}
	// Two hosts at one address are one host under two names: a step meant
	// for one would act on the other. (In identity mode the standby takes
	// the primary's address at failover, but the inventory names each by
	// its own.)
	byAddr := map[string]string{}
	for _, name := range sortedKeys(inv.Hosts) {
		a := strings.ToLower(inv.Hosts[name].Address)
		if ip := net.ParseIP(a); ip != nil {
			a = ip.String()
		}
		if a == "" {
			continue
		}
		if other, ok := byAddr[a]; ok {
			add("$.hosts."+name+".address", "hosts %s and %s have the same address %s: give each host its own", other, name, inv.Hosts[name].Address)
			continue
		}
		byAddr[a] = name
	}
	if ca := net.ParseIP(inv.ClusterAddress); ca != nil {
		for _, mn := range []string{inv.Primary, inv.Standby} {
			h, ok := inv.Hosts[mn]
			ip := net.ParseIP(h.Address)
			switch {
			case !ok || ip == nil:
			case inv.Mode == "floating" && ip.Equal(ca):
				add("$.cluster_address", "cluster_address %s is the own address of %s: in floating mode the cluster address is a second address that moves between the management nodes", inv.ClusterAddress, mn)
			case (ip.To4() == nil) != (ca.To4() == nil):
				add("$.cluster_address", "cluster_address %s and %s's address %s are not of one IP version: the standby could not take it over on its link", inv.ClusterAddress, mn, h.Address)
			}
		}
	}
	for _, g := range sortedKeys(inv.Groups) {
		seen := map[string]bool{}
		for i, m := range inv.Groups[g] {
			if _, ok := inv.Hosts[m]; !ok {
				add(fmt.Sprintf("$.groups.%s[%d]", g, i), "group %s: %q is not in hosts", g, m)
			}
			if seen[m] {
				add(fmt.Sprintf("$.groups.%s[%d]", g, i), "group %s lists %s twice: a step for each member would run twice on it", g, m)
			}
			seen[m] = true
		}
	}
	switch inv.Database.Type {
	case "postgresql":
		if inv.Database.DataDir == "" || inv.Database.BinDir == "" {
			add("$.database", "database postgresql: give bin_dir and data_dir (e.g. /usr/lib/postgresql/15/bin and /var/lib/postgresql/15/main)")
		}
		if m := inv.Database.Method; m != "streaming" && m != "dump" {
			add("$.database.method", "database method %q: use streaming (replication) or dump (the guide's pg_dump/pg_restore by cron)", m)
		}
	case "db2", "mysql", "sqlite", "":
	default:
		add("$.database.type", "database type %q: use postgresql, mysql, sqlite or db2", inv.Database.Type)
	}
	inv.checkCheck(add) // settings_check.go
	for _, name := range sortedKeys(inv.Secrets) {
		s := inv.Secrets[name]
		if (s.Env == "") == (s.File == "") {
			add("$.secrets."+name, "secret %s: give exactly one of env: VARIABLE or file: PATH (secrets never live in the inventory)", name)
		}
	}
	return diags
}

func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	// A name whose last label is all digits is a mistyped address
	// (1.2.3.4.5), not a host name (RFC 3696 section 2).
	if l := s[strings.LastIndexByte(s, '.')+1:]; strings.Trim(l, "0123456789") == "" {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// Dir is the directory relative paths in the inventory start from.
func (inv *Inventory) Dir() string { return filepath.Dir(inv.file) }

func (inv *Inventory) path(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "~") {
		return p
	}
	return filepath.Join(inv.Dir(), p)
}

// KnownHostsFile is the known_hosts file to check host keys against; ""
// means the SSH default.
func (inv *Inventory) KnownHostsFile() string { return inv.path(inv.SSH.KnownHosts) }

// Host turns an inventory host into a transport host.
func (inv *Inventory) Host(name string) (remote.Host, error) {
	h, ok := inv.Hosts[name]
	if !ok {
		return remote.Host{}, fmt.Errorf("host %q is not in the inventory %s (it has: %s)", name, inv.file, strings.Join(sortedKeys(inv.Hosts), ", "))
	}
	addr := h.Address
	if h.SSHAddress != "" {
		addr = h.SSHAddress
	}
	user := h.User
	if user == "" {
		user = inv.SSH.User
	}
	var ids []string
	for _, f := range append(slices.Clone(h.IdentityFiles), inv.SSH.IdentityFiles...) {
		ids = append(ids, inv.path(f))
	}
	return remote.Host{Name: name, Address: addr, Port: h.Port, User: user, IdentityFiles: ids,
		Env: h.Env, Init: h.Init, Services: h.Services}, nil
}

// validService accepts a systemd unit, init script or SRC subsystem name.
func validService(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r)) {
			return false
		}
	}
	return true
}

// Data is the inventory as playbook templates see it under .inv.
func (inv *Inventory) Data() map[string]any {
	hostMap := func(name string) map[string]any {
		h := inv.Hosts[name]
		addr := h.Address
		ssh := h.Address
		if h.SSHAddress != "" {
			ssh = h.SSHAddress
		}
		return map[string]any{
			"name": name, "hostname": h.Hostname, "address": addr, "ssh_address": ssh,
			"interface": h.Interface, "os": h.OS,
		}
	}
	hosts := map[string]any{}
	for name := range inv.Hosts {
		hosts[name] = hostMap(name)
	}
	groups := map[string]any{}
	for g, members := range inv.Groups {
		l := make([]any, len(members))
		for i, m := range members {
			l[i] = m
		}
		groups[g] = l
	}
	if _, ok := groups["service_nodes"]; !ok {
		groups["service_nodes"] = []any{}
	}
	db := inv.Database
	vars := map[string]any{}
	for k, v := range inv.Vars {
		vars[k] = v
	}
	clusterName := inv.ClusterName
	if clusterName == "" && inv.Primary != "" {
		clusterName = inv.Hosts[inv.Primary].Hostname
	}
	return map[string]any{
		"cluster": inv.Cluster, "mode": inv.Mode,
		"cluster_address": inv.ClusterAddress, "cluster_hostname": clusterName,
		"prefix": fmt.Sprint(inv.Prefix), "netmask": netmask(inv.Prefix), "gateway": inv.Gateway,
		"installdir": inv.InstallDir, "hanim": fmt.Sprint(inv.HANIM),
		"primary": hostMap(inv.Primary), "standby": hostMap(inv.Standby),
		"hosts": hosts, "groups": groups, "vars": vars,
		"database": map[string]any{
			"type": dbType(db.Type), "owner": db.Owner, "method": db.Method, "name": db.Name, "port": fmt.Sprint(db.Port),
			"bin_dir": db.BinDir, "data_dir": db.DataDir, "conf_dir": db.ConfDir,
			"instance": db.Instance, "hadr_primary_service": db.HADRLocalSvc, "hadr_primary_port": fmt.Sprint(db.HADRLocalPort),
			"hadr_standby_service": db.HADRRemoteSvc, "hadr_standby_port": fmt.Sprint(db.HADRRemotePort),
			"syncmode": db.SyncMode, "hadr_timeout": fmt.Sprint(db.HADRTimeout), "peer_window": fmt.Sprint(db.PeerWindow),
			"backup_dir": db.BackupDir, "file": db.File,
		},
	}
}

func netmask(prefix int) string {
	if prefix < 0 || prefix > 32 {
		return ""
	}
	m := net.CIDRMask(prefix, 32)
	return net.IP(m).String()
}

// Secrets reads the inventory's secrets from their sources, once each.
type Secrets struct {
	inv   *Inventory
	mu    sync.Mutex
	cache map[string]string
}

// minSecret is the shortest secret hamnflow takes.
const minSecret = 4

// NewSecrets returns the secret source of inv.
func NewSecrets(inv *Inventory) *Secrets { return &Secrets{inv: inv, cache: map[string]string{}} }

// Has implements workflow.Secrets.
func (s *Secrets) Has(name string) bool {
	_, ok := s.inv.Secrets[name]
	return ok
}

// Secret implements workflow.Secrets.
func (s *Secrets) Secret(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.cache[name]; ok {
		return v, nil
	}
	src, ok := s.inv.Secrets[name]
	if !ok {
		return "", fmt.Errorf("secret %q is not declared in the inventory's secrets", name)
	}
	var v string
	switch {
	case src.Env != "":
		var ok bool
		if v, ok = os.LookupEnv(src.Env); !ok || v == "" {
			return "", fmt.Errorf("secret %q: environment variable %s is not set", name, src.Env)
		}
	default:
		p := s.inv.path(src.File)
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("secret %q: %w", name, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("secret %q: %s can be read by others (mode %o): chmod 600 %s", name, p, fi.Mode().Perm(), p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("secret %q: %w", name, err)
		}
		v = strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
		if v == "" {
			return "", fmt.Errorf("secret %q: file %s is empty", name, p)
		}
	}
	if len(v) < minSecret {
		// Masking a secret this short in logs and the journal would
		// garble them, and tell the secret by what it masks.
		return "", fmt.Errorf("secret %q has %d characters: give one of at least %d", name, len(v), minSecret)
	}
	s.cache[name] = v
	return v, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SampleInventory is an inventory with every field set, for checking a
// playbook's references to .inv when no inventory is at hand (hamnflow
// validate without --inventory). Its values are placeholders.
func SampleInventory() *Inventory {
	inv := &Inventory{
		Cluster: "sample", Mode: "floating", ClusterAddress: "192.0.2.10", ClusterName: "xcatmn",
		Prefix: 24, Gateway: "192.0.2.1", InstallDir: "/install", Primary: "mn1", Standby: "mn2",
		Database: Database{
			Type: "postgresql", Owner: "postgres", Method: "streaming", Name: "xcatdb", Port: 5432,
			BinDir: "/usr/lib/postgresql/15/bin", DataDir: "/var/lib/postgresql/15/main", Instance: "xcatdb",
		},
		Hosts: map[string]InvHost{
			"mn1":  {Hostname: "mn1", Address: "192.0.2.11", Interface: "eth0", OS: "linux"},
			"mn2":  {Hostname: "mn2", Address: "192.0.2.12", Interface: "eth0", OS: "linux"},
			"sn01": {Hostname: "sn01", Address: "192.0.2.21", OS: "linux"},
		},
		Groups: map[string][]string{"service_nodes": {"sn01"}},
		Vars:   map[string]string{},
	}
	return inv
}

// StepsConfig gives the actions what they take from the inventory (the
// database's programs and directories, ...). A nil inventory gives none.
func (inv *Inventory) StepsConfig() steps.Config {
	var cfg steps.Config
	if inv == nil {
		return cfg
	}
	cfg.Postgres = inv.postgresSettings() // settings_postgres.go
	cfg.Db2 = inv.db2Settings()           // settings_db2.go
	cfg.MySQL = inv.mysqlSettings()       // settings_mysql.go
	cfg.SQLite = inv.sqliteSettings()     // settings_sqlite.go
	cfg.Check, _ = inv.CheckConfig()      // settings_check.go (checked when parsed)
	return cfg
}

// dbType is the database's type as playbooks see it: "none" when the
// inventory names none (parts/db/none: nothing kept in sync).
func dbType(t string) string {
	if t == "" {
		return "none"
	}
	return t
}
