package playbooks

import "github.com/hamnflow/hamnflow/steps/postgres"

// postgresSettings are the inventory's PostgreSQL settings for the
// PostgreSQL actions (steps/postgres): its programs, directories, port,
// owner, socket and log. An inventory of another database gives none.
func (inv *Inventory) postgresSettings() postgres.Settings {
	db := inv.Database
	if db.Type != "postgresql" {
		return postgres.Settings{}
	}
	s := postgres.Settings{BinDir: db.BinDir, DataDir: db.DataDir, Port: db.Port, User: db.Owner, Socket: db.Socket, Log: db.Log, Unit: db.Unit}
	// The inventory defaults conf_dir to data_dir; the actions do the same
	// with a data_dir of with:, so only a separate conf_dir is passed on.
	if db.ConfDir != db.DataDir {
		s.ConfDir = db.ConfDir
	}
	return s
}
