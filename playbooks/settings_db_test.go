package playbooks

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hamnflow/hamnflow/steps/mysql"
	"github.com/hamnflow/hamnflow/steps/sqlite"
)

// TestDatabaseSettings checks what StepsConfig gives the database actions
// from the test inventories: the database the inventory names, nothing
// for the others.
func TestDatabaseSettings(t *testing.T) {
	load := func(name string) *Inventory {
		t.Helper()
		text, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		inv, err := ParseInventory(filepath.Join("testdata", name), text)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	db2 := load("db2.yaml").StepsConfig()
	if s := db2.Db2; s.Owner != "xcatdb" || s.Database != "xcatdb" || s.BackupDir != "/var/lib/db2/backup" ||
		!slices.Equal(s.Services, []string{"DB2_HADR_1:55001", "DB2_HADR_2:55002"}) {
		t.Errorf("db2 settings %+v", s)
	}
	if db2.MySQL != (mysql.Settings{}) || db2.SQLite != (sqlite.Settings{}) {
		t.Errorf("a Db2 inventory gives other databases settings: %+v %+v", db2.MySQL, db2.SQLite)
	}
	my := load("mysql.yaml").StepsConfig()
	want := mysql.Settings{Database: "xcatdb", Port: 3306, ConfFile: "/etc/mysql/mariadb.conf.d/60-hamnflow-replication.cnf", Restart: "systemctl restart mariadb"}
	if my.MySQL != want || my.Db2.Owner != "" {
		t.Errorf("mysql settings %+v, db2 %+v", my.MySQL, my.Db2)
	}
	if s := load("sqlite.yaml").StepsConfig().SQLite; s.Path != "/etc/xcat" {
		t.Errorf("sqlite settings %+v", s)
	}
	if cfg := (*Inventory)(nil).StepsConfig(); cfg.Db2.Owner != "" || cfg.SQLite.Path != "" {
		t.Errorf("nil inventory: %+v", cfg)
	}
}
