package playbooks

import "github.com/hamnflow/hamnflow/steps/sqlite"

// sqliteSettings are what the SQLite actions take from the inventory
// when its database is SQLite: database.file (default /etc/xcat, where
// xCAT keeps one file per table).
func (inv *Inventory) sqliteSettings() sqlite.Settings {
	if inv.Database.Type != "sqlite" {
		return sqlite.Settings{}
	}
	p := inv.Database.File
	if p == "" {
		p = "/etc/xcat"
	}
	return sqlite.Settings{Path: p}
}
