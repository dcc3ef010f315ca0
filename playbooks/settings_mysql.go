package playbooks

import (
	"path"

	"github.com/hamnflow/hamnflow/steps/mysql"
)

// mysqlSettings are what the MySQL/MariaDB actions take from the
// inventory when its database is MySQL: the database, its port, the
// settings file in database.conf_dir (default MariaDB's
// /etc/mysql/mariadb.conf.d) and vars.mysql_restart (default systemctl
// restart mariadb), as mysql-setup documents them.
func (inv *Inventory) mysqlSettings() mysql.Settings {
	db := inv.Database
	if db.Type != "mysql" {
		return mysql.Settings{}
	}
	dir, restart := db.ConfDir, inv.Vars["mysql_restart"]
	if dir == "" {
		dir = "/etc/mysql/mariadb.conf.d"
	}
	if restart == "" {
		restart = "systemctl restart mariadb"
	}
	return mysql.Settings{Database: db.Name, Port: db.Port, ConfFile: path.Join(dir, "60-hamnflow-replication.cnf"), Restart: restart}
}
