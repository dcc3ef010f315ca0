package playbooks

import (
	"fmt"
	"strings"

	"github.com/hamnflow/hamnflow/steps/check"
)

// CheckSettings is the inventory's check: block, for hamnflow check and
// prereq. Everything is optional:
//
//	check:
//	  thresholds:                 # steps/check.LimitNames; "off" turns one off
//	    replay_lag_bytes: {warn: 16MiB, crit: 1GiB}
//	    replay_lag: {warn: 30s, crit: 5m}
//	    cert_days: {warn: 60, crit: 14}
//	    drift: {warn: "0", crit: "off"}
//	  home: /root                 # whose ~/.xcat holds the client credentials
//	  path_sets:                  # replace sync-setup's three (credentials, install, network)
//	    install: {paths: [/install]}
//	    credentials: {paths: [/etc/xcat/ca, /etc/xcat/cert], checksum: true, delete: true}
type CheckSettings struct {
	Thresholds map[string]CheckLimit   `yaml:"thresholds,omitempty"`
	Home       string                  `yaml:"home,omitempty"`
	PathSets   map[string]CheckPathSet `yaml:"path_sets,omitempty"`
}

// CheckLimit is one threshold's warning and critical values, written in
// the threshold's units (30s, 16MiB, 14) or off; "" keeps the default.
type CheckLimit struct {
	Warn string `yaml:"warn,omitempty"`
	Crit string `yaml:"crit,omitempty"`
}

// CheckPathSet is one set of paths the drift check compares.
type CheckPathSet struct {
	Paths    []string `yaml:"paths"`
	Checksum bool     `yaml:"checksum,omitempty"`
	Delete   bool     `yaml:"delete,omitempty"`
}

// checkCheck validates the check: block.
func (inv *Inventory) checkCheck(add func(path, format string, a ...any)) {
	if _, err := inv.Check.limits(); err != nil {
		add("$.check.thresholds", "check: %v", err)
	}
	if h := inv.Check.Home; h != "" && !strings.HasPrefix(h, "/") {
		add("$.check.home", "check: home %q is not absolute", h)
	}
	for _, name := range sortedKeys(inv.Check.PathSets) {
		ps := inv.Check.PathSets[name]
		if len(ps.Paths) == 0 {
			add("$.check.path_sets."+name, "check: path set %s: list its paths", name)
		}
		for _, p := range ps.Paths {
			if !strings.HasPrefix(p, "/") {
				add("$.check.path_sets."+name, "check: path set %s: %q is not absolute", name, p)
			}
		}
	}
}

// limits are the thresholds: the defaults, changed by the block's.
func (cs CheckSettings) limits() (check.Limits, error) {
	l := check.Defaults()
	for _, name := range sortedKeys(cs.Thresholds) {
		t := cs.Thresholds[name]
		for _, w := range []struct{ which, v string }{{"warn", t.Warn}, {"crit", t.Crit}} {
			if w.v == "" {
				continue
			}
			if err := l.Set(name, w.which, w.v); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// CheckConfig is what hamnflow check and prereq check on this cluster:
// its MNs, database, path sets (sync-setup's by default) and thresholds.
func (inv *Inventory) CheckConfig() (check.Config, error) {
	limits, err := inv.Check.limits()
	if err != nil {
		return check.Config{}, fmt.Errorf("inventory %s: check: %w", inv.file, err)
	}
	host := func(name string) check.Host {
		h := inv.Hosts[name]
		return check.Host{Name: name, Hostname: h.Hostname, Address: h.Address, Init: h.Init, Services: h.Services, Interface: h.Interface}
	}
	db := inv.Database
	c := check.Config{
		Cluster: inv.Cluster, Primary: host(inv.Primary), Standby: host(inv.Standby), Limits: limits,
		ClusterAddress: inv.ClusterAddress, ClusterHostname: inv.ClusterName,
		DB: check.Database{Type: db.Type, Owner: db.Owner, BinDir: db.BinDir, Port: db.Port, Socket: db.Socket,
			Name: db.Name, Instance: db.Instance, File: db.File},
		Credentials: check.DefaultCredentials(inv.Check.Home),
		PathSets:    check.DefaultPathSets(inv.InstallDir, inv.Check.Home),
	}
	for _, sn := range inv.Groups["service_nodes"] {
		if _, ok := inv.Hosts[sn]; ok {
			c.ServiceNodes = append(c.ServiceNodes, host(sn))
		}
	}
	if c.DB.Type == "sqlite" && c.DB.File == "" {
		c.DB.File = "/etc/xcat" // xCAT's SQLite tables, one file each
	}
	if len(inv.Check.PathSets) > 0 {
		c.PathSets = nil
		for _, name := range sortedKeys(inv.Check.PathSets) {
			ps := inv.Check.PathSets[name]
			c.PathSets = append(c.PathSets, check.PathSet{Name: name, Paths: ps.Paths, Checksum: ps.Checksum, Delete: ps.Delete})
		}
	}
	return c, nil
}
