package lab

import (
	"context"
	"fmt"
	"strings"

	"github.com/hamnflow/hamnflow/steps/remote"
)

// setupPostgres initialises PostgreSQL 15 on both MNs, each inside its own
// view: database xcatdb with a nodelist table, running on mn1 (with rows)
// and stopped on mn2 (empty table), as the guide's standby.
func (l *Lab) setupPostgres(ctx context.Context) error {
	if !l.Postgres {
		return nil
	}
	pw, err := l.Secret("pg_password")
	if err != nil {
		return err
	}
	var sns []string
	for _, h := range l.Hosts {
		if h.Role == RoleSN {
			sns = append(sns, h.Name)
		}
	}
	mns := []string{"mn1", "mn2"}
	return parallel(len(mns), func(i int) error {
		script := pgScript(mns[i] == "mn1", pw, sns)
		if l.Systemd {
			script = l.pgSystemdScript(mns[i] == "mn1", pw, sns)
		}
		if _, err := l.Exec(ctx, mns[i], script); err != nil {
			return fmt.Errorf("postgresql on %s: %w", mns[i], err)
		}
		return nil
	})
}

// pgSQL is what the lab creates in PostgreSQL on the primary: xCAT's
// role and database, and without real xCAT a small nodelist table.
func pgSQL(primary bool, password string, sns []string, realXCAT bool) string {
	var sql strings.Builder
	// xCAT's pgsqlsetup (xCAT-client/bin/pgsqlsetup:1063 and :1124) creates
	// the users xcatadm and root with the password, and the database with
	// createdb as postgres (:1010). PostgreSQL 15 no longer lets other users
	// create tables in a database's public schema, so the database is
	// owned by xcatadm here, which xcatd connects as (cfgloc).
	fmt.Fprintf(&sql, "CREATE ROLE xcatadm LOGIN PASSWORD '%s';\n", password)
	if realXCAT {
		fmt.Fprintf(&sql, "CREATE ROLE root LOGIN PASSWORD '%s';\n", password)
	}
	fmt.Fprintf(&sql, "CREATE DATABASE %s OWNER xcatadm;\n\\c %s\n", PGDBName, PGDBName)
	if realXCAT {
		return sql.String() // xcatd creates its own tables (nodelist among them)
	}
	sql.WriteString("CREATE TABLE nodelist(node text PRIMARY KEY, groups text, status text);\nALTER TABLE nodelist OWNER TO xcatadm;\n")
	if primary {
		sql.WriteString("INSERT INTO nodelist VALUES\n")
		var rows []string
		for _, sn := range sns {
			rows = append(rows, fmt.Sprintf("  ('%s', 'service,all', 'booted')", sn))
		}
		for i := 1; i <= 3; i++ {
			rows = append(rows, fmt.Sprintf("  ('cn%03d', 'compute,all', 'booted')", i))
		}
		sql.WriteString(strings.Join(rows, ",\n") + ";\n")
	}
	return sql.String()
}

// pgConf is the lab's part of postgresql.conf: what xCAT's pgsqlsetup
// sets (listen_addresses, xCAT-client/bin/pgsqlsetup:800-820), the port
// and socket; with systemd (Debian's cluster, conf.d) only that, so that
// pg-setup's replication settings in postgresql.conf are not overridden
// by a later file; the namespace hosts' cluster has replication set up
// already.
func pgConf(systemd bool) string {
	s := `
# hamnflow lab
listen_addresses = '*'
port = ` + fmt.Sprint(PGPort) + `
unix_socket_directories = '/var/run/postgresql'
`
	if systemd {
		return s
	}
	return s + `wal_level = replica
max_wal_senders = 10
wal_keep_size = '64MB'
hot_standby = on
`
}

// pgHBA is the lab's pg_hba.conf. With real xCAT it starts as xCAT's
// pgsqlsetup leaves it (xCAT-client/bin/pgsqlsetup:755-760): md5 lines
// for the MN's address and the -a addresses, here the host's own and the
// cluster address that cfgloc names.
func pgHBA(h *Host, realXCAT bool) string {
	s := "# hamnflow lab: the lab subnet is trusted\n" +
		"local   all          all                      trust\n" +
		"local   replication  all                      trust\n"
	if realXCAT {
		s += "# IPv4 local connections: (xCAT's pgsqlsetup -i -a " + ClusterAddress + ")\n"
		addrs := h.staticAddresses()
		if h.Name != "mn1" { // mn1 holds the cluster address already
			addrs = append(addrs, ClusterAddress)
		}
		for _, a := range addrs {
			s += fmt.Sprintf("host    all          all     %s/32      md5\n", a)
		}
	}
	return s + "host    all          all     127.0.0.1/32     trust\n" +
		"host    all          all     " + Subnet + "  trust\n" +
		"host    replication  all     " + Subnet + "  trust\n"
}

// pgSystemdScript creates the Debian cluster 15/main (data in PGDataDir,
// configuration in /etc/postgresql/15/main) as a systemd service:
// enabled and running with xcatdb on the primary, disabled and stopped on
// the standby (the guide's standby, made a replica later by pg-setup).
func (l *Lab) pgSystemdScript(primary bool, password string, sns []string) string {
	h := l.Host("mn2")
	if primary {
		h = l.Host("mn1")
	}
	start := "systemctl disable --now postgresql.service postgresql@15-main.service >/dev/null 2>&1"
	if primary {
		start = `systemctl enable postgresql.service >/dev/null 2>&1
systemctl start postgresql@15-main.service
su postgres -s /bin/sh -c "psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -d postgres" <<'EOF'
` + pgSQL(true, password, sns, l.RealXCAT) + `EOF`
	}
	return `set -e
pg_createcluster 15 main -e UTF8 --locale=C.UTF-8 >/var/log/postgresql/pg_createcluster.log 2>&1 ||
	{ cat /var/log/postgresql/pg_createcluster.log; exit 1; }
cat >/etc/postgresql/15/main/conf.d/hamnflow-lab.conf <<'EOF'
` + pgConf(true) + `EOF
cat >/etc/postgresql/15/main/pg_hba.conf <<'EOF'
` + pgHBA(h, l.RealXCAT) + `EOF
` + start + "\n"
}

// pgScript initialises the cluster, creates xcatdb and leaves the server
// running (primary) or stopped (standby).
func pgScript(primary bool, password string, sns []string) string {
	sql := pgSQL(primary, password, sns, false)
	stop := ""
	if !primary {
		stop = `as_pg "$PGBIN/pg_ctl -D $PGDATA -m fast -w stop" >/dev/null`
	}
	return `set -e
PGBIN=` + PGBinDir + `
PGDATA=` + PGDataDir + `
as_pg() { su postgres -s /bin/sh -c "$1"; }
install -d -o postgres -g postgres -m 0755 "$(dirname "$PGDATA")"
install -d -o postgres -g postgres -m 0700 "$PGDATA"
as_pg "$PGBIN/initdb -D $PGDATA -U postgres -A trust -E UTF8 --locale=C --no-sync" >/var/log/postgresql/initdb.log 2>&1 ||
	{ cat /var/log/postgresql/initdb.log; exit 1; }
cat >>"$PGDATA/postgresql.conf" <<'EOF'
` + pgConf(false) + `EOF
cat >"$PGDATA/pg_hba.conf" <<'EOF'
` + pgHBA(nil, false) + `EOF
as_pg "$PGBIN/pg_ctl -D $PGDATA -l ` + PGLogFile + ` -w -t 30 start" >/dev/null
as_pg "$PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -d postgres" <<'EOF'
` + sql + `EOF
` + stop + "\n"
}

// PSQL runs SQL with psql as user postgres on the host (unaligned, tuples
// only: one row a line, columns separated by |) and returns the output.
func (l *Lab) PSQL(ctx context.Context, host, sql string) (string, error) {
	psql := PGBinDir + "/psql -X -A -t -v ON_ERROR_STOP=1 -h /var/run/postgresql -p " + fmt.Sprint(PGPort) +
		" -d " + PGDBName + " -c " + remote.ShellQuote(sql)
	out, err := l.Exec(ctx, host, "su postgres -s /bin/sh -c "+remote.ShellQuote(psql))
	return string(out), err
}
