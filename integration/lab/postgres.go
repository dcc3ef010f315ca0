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
		if _, err := l.Exec(ctx, mns[i], pgScript(mns[i] == "mn1", pw, sns)); err != nil {
			return fmt.Errorf("postgresql on %s: %w", mns[i], err)
		}
		return nil
	})
}

// pgScript initialises the cluster, creates xcatdb and leaves the server
// running (primary) or stopped (standby).
func pgScript(primary bool, password string, sns []string) string {
	var sql strings.Builder
	fmt.Fprintf(&sql, "CREATE ROLE xcatadm LOGIN PASSWORD '%s';\n", password)
	fmt.Fprintf(&sql, "CREATE DATABASE %s OWNER xcatadm;\n\\c %s\n", PGDBName, PGDBName)
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

# hamnflow lab
listen_addresses = '*'
port = ` + fmt.Sprint(PGPort) + `
unix_socket_directories = '/var/run/postgresql'
wal_level = replica
max_wal_senders = 10
wal_keep_size = '64MB'
hot_standby = on
EOF
cat >"$PGDATA/pg_hba.conf" <<'EOF'
# hamnflow lab: the lab subnet is trusted
local   all          all                      trust
local   replication  all                      trust
host    all          all     127.0.0.1/32     trust
host    all          all     ` + Subnet + `  trust
host    replication  all     ` + Subnet + `  trust
EOF
as_pg "$PGBIN/pg_ctl -D $PGDATA -l ` + PGLogFile + ` -w -t 30 start" >/dev/null
as_pg "$PGBIN/psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -d postgres" <<'EOF'
` + sql.String() + `EOF
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
