package playbooks

import (
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/postgres"
)

// The PostgreSQL actions get the inventory's database settings; an
// inventory of another database gives them none.
func TestPostgresSettings(t *testing.T) {
	tests := []struct {
		name, from, to string
		want           postgres.Settings
	}{
		// Debian's layout: the configuration in /etc/postgresql.
		{"defaults", "", "", postgres.Settings{BinDir: "/usr/lib/postgresql/15/bin", DataDir: "/var/lib/postgresql/15/main", ConfDir: "/etc/postgresql/15/main", Port: 5432, User: "postgres"}},
		// RHEL's: in the data directory.
		{"rhel layout", "  data_dir: /var/lib/postgresql/15/main\n", "  data_dir: /var/lib/pgsql/data\n  unit: postgresql\n",
			postgres.Settings{BinDir: "/usr/lib/postgresql/15/bin", DataDir: "/var/lib/pgsql/data", Port: 5432, User: "postgres", Unit: "postgresql"}},
		{"all given", "  data_dir: /var/lib/postgresql/15/main\n",
			"  data_dir: /var/lib/postgresql/15/main\n  conf_dir: /etc/postgresql/15/main\n  port: 5433\n  owner: pgsql\n  socket: /run/postgresql\n  log: /var/log/pg.log\n",
			postgres.Settings{BinDir: "/usr/lib/postgresql/15/bin", DataDir: "/var/lib/postgresql/15/main", ConfDir: "/etc/postgresql/15/main", Port: 5433, User: "pgsql", Socket: "/run/postgresql", Log: "/var/log/pg.log"}},
		{"conf_dir same as data_dir", "  data_dir: /var/lib/postgresql/15/main\n", "  data_dir: /var/lib/postgresql/15/main\n  conf_dir: /var/lib/postgresql/15/main\n",
			postgres.Settings{BinDir: "/usr/lib/postgresql/15/bin", DataDir: "/var/lib/postgresql/15/main", Port: 5432, User: "postgres"}},
		{"another database", "  type: postgresql\n  method: streaming\n", "  type: mysql\n", postgres.Settings{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseInventory("inv.yaml", []byte(strings.Replace(goodInventory, tt.from, tt.to, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if got := inv.StepsConfig().Postgres; got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	var none *Inventory
	if got := none.StepsConfig().Postgres; got != (postgres.Settings{}) {
		t.Errorf("nil inventory: %+v", got)
	}
}
