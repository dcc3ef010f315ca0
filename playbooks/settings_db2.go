package playbooks

import (
	"fmt"

	"github.com/hamnflow/hamnflow/steps/db2"
)

// db2Settings are what the Db2 actions take from the inventory: its
// database when that is Db2, none otherwise (the actions' own defaults).
func (inv *Inventory) db2Settings() db2.Settings {
	db := inv.Database
	if db.Type != "db2" {
		return db2.Settings{}
	}
	return db2.Settings{
		Owner: db.Owner, Database: db.Name, BackupDir: db.BackupDir,
		Services: []string{
			fmt.Sprintf("%s:%d", db.HADRLocalSvc, db.HADRLocalPort),
			fmt.Sprintf("%s:%d", db.HADRRemoteSvc, db.HADRRemotePort),
		},
	}
}
