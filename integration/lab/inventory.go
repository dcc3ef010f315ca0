package lab

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goccy/go-yaml"

	"github.com/hamnflow/hamnflow/playbooks"
)

// Inventory is the hamnflow inventory of the lab: floating mode, the
// cluster address 198.51.100.10 (xcatmn) on mn1, mn1 primary and mn2
// standby, dialled on their admin addresses. Tests may change it and
// write it back with WriteInventory.
func (l *Lab) Inventory() playbooks.Inventory {
	inv := playbooks.Inventory{
		Cluster:        "lab-" + l.Prefix,
		Mode:           "floating",
		ClusterAddress: ClusterAddress,
		ClusterName:    ClusterName,
		Prefix:         PrefixLen,
		Gateway:        Gateway,
		InstallDir:     "/install",
		Primary:        "mn1",
		Standby:        "mn2",
		SSH: playbooks.SSH{
			KnownHosts:     l.KnownHostsPath(),
			User:           "root",
			IdentityFiles:  []string{l.OperatorKey()},
			ConnectTimeout: "5s",
		},
		Hosts:   map[string]playbooks.InvHost{},
		Groups:  map[string][]string{},
		Secrets: map[string]playbooks.SecretSource{},
	}
	if l.Postgres {
		inv.Database = playbooks.Database{
			Type:    "postgresql",
			Owner:   "postgres",
			Method:  "streaming",
			Name:    PGDBName,
			Port:    PGPort,
			BinDir:  PGBinDir,
			DataDir: PGDataDir,
		}
		if !l.Systemd {
			// The namespace hosts' cluster is initdb's: its
			// configuration is in the data directory. The systemd
			// hosts' is Debian's (/etc/postgresql/15/main, the
			// inventory's default for this data directory), run by
			// postgresql@15-main.
			inv.Database.ConfDir = PGDataDir
		}
	}
	if l.RealXCAT && !l.Postgres {
		// xcatconfig's SQLite: one file a table in /etc/xcat.
		inv.Database = playbooks.Database{Type: "sqlite", File: "/etc/xcat"}
	}
	if l.Db2 && !l.Postgres {
		inv.Database = playbooks.Database{Type: "db2", Owner: Db2Instance, Instance: Db2Instance, HADRTimeout: 2, PeerWindow: 60}
	}
	for _, h := range l.Hosts {
		if h.Role == RoleOperator {
			continue
		}
		ih := playbooks.InvHost{
			Address:    h.Address,
			SSHAddress: h.AdminAddress,
			Interface:  h.Interface,
			OS:         l.os(),
		}
		switch {
		case l.os() == "aix":
			// The AIX stand-ins live outside the SSH PATH, as NIM's
			// methods do; the host's environment puts them first.
			ih.Env = map[string]string{"PATH": AIXPath}
			if l.Db2 {
				// That PATH replaces the instance owner's too, whose
				// profile would put sqllib's programs on it (su - db2inst1).
				ih.Env["PATH"] += ":" + Db2Home + "/sqllib/bin:" + Db2Home + "/sqllib/adm"
			}
			ih.Services = map[string]string{"console": "conserver"}
		case !l.Systemd:
			// The namespace hosts have no systemd of their own: their
			// services are init scripts. Their /usr is this machine's,
			// without /usr/sbin/conserver: the inventory names the
			// console server.
			ih.Init = "sysv"
			ih.Services = map[string]string{"console": "conserver-server"}
		}
		inv.Hosts[h.Name] = ih
		if h.Role == RoleSN {
			inv.Groups["service_nodes"] = append(inv.Groups["service_nodes"], h.Name)
		}
	}
	for _, s := range l.secretNames() {
		inv.Secrets[s] = playbooks.SecretSource{File: filepath.Join(l.SecretsDir(), s)}
	}
	if l.os() == "aix" {
		inv.Mode = "identity" // AIX moves the identity with mktcpip
	}
	return inv
}

// AIXPath is the PATH of the AIX lab hosts: the stand-ins of AIX's and
// NIM's commands first.
const AIXPath = "/opt/aix/bin:/opt/aix/nim/methods:" + GuestPath

func (l *Lab) os() string {
	if l.OS == "" {
		return "linux"
	}
	return l.OS
}

// WriteInventory writes inv to InventoryPath.
func (l *Lab) WriteInventory(inv playbooks.Inventory) error {
	b, err := yaml.Marshal(inv)
	if err != nil {
		return fmt.Errorf("lab %s: encode inventory: %w", l.Prefix, err)
	}
	b = append([]byte("# hamnflow lab "+l.Prefix+" (written by integration/lab)\n"), b...)
	if err := os.WriteFile(l.InventoryPath(), b, 0o644); err != nil {
		return fmt.Errorf("lab %s: write inventory: %w", l.Prefix, err)
	}
	return nil
}
