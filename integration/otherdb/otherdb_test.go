//go:build lab

// Package otherdb tests hamnflow's MariaDB replication (guide 5.3, binary
// log replication) end to end on the namespace lab, with the real
// MariaDB and xCAT's commands as stand-ins, through set-up, failover and
// failback. SQLite runs with the real xCAT on the real lab
// (integration/linux, TestSQLiteRealXCAT).
package otherdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/integration/lab"
	"github.com/hamnflow/hamnflow/integration/labtest"
	"github.com/hamnflow/hamnflow/playbooks"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// prepareStandby leaves on mn2 what the guide's file synchronisation
// (6.0) would: the install directory the failover checks.
func prepareStandby(t *testing.T, env *labtest.Env) {
	t.Helper()
	env.Exec(t, "mn1", "rsync -a /install/ mn2:/install/")
}

// checkTakeover checks what a failover (to mn2) or failback (to mn1) does
// besides the database: the cluster address on host only, and xCAT
// started there before DNS and conserver are regenerated; from is the
// number of host's stand-in calls before the run.
func checkTakeover(t *testing.T, env *labtest.Env, host string, from int) {
	t.Helper()
	other := map[string]string{"mn1": "mn2", "mn2": "mn1"}[host]
	addrs := func(host string) string { return env.Exec(t, host, "ip -o -4 addr show") }
	if !strings.Contains(addrs(host), " "+lab.ClusterAddress+"/") || strings.Contains(addrs(other), " "+lab.ClusterAddress+"/") {
		t.Errorf("%s must hold %s and %s not", host, lab.ClusterAddress, other)
	}
	var lines []string
	for _, c := range env.Calls(t, host)[from:] {
		lines = append(lines, strings.TrimSpace(filepath.Base(c.Command)+" "+strings.Join(c.Args, " ")))
	}
	at := 0
	for _, w := range []string{"xcatd start", "makedns -n", "makedhcp -n", "makedhcp -a", "makeconservercf"} {
		i := slices.IndexFunc(lines[at:], func(l string) bool { return strings.HasPrefix(l, w) })
		if i < 0 {
			t.Errorf("stand-in calls on %s: no %q after call %d in\n%s", host, w, at, strings.Join(lines, "\n"))
			return
		}
		at += i + 1
	}
}

// sqlite3 runs SQL on a database file of host.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// MariaDB in the lab: per MN a server with its own datadir, socket and
// config under /opt/mariadb (each host has its own /opt), started by
// /opt/mariadb/start and restarted by /opt/mariadb/restart; the client
// finds the socket through /root/.my.cnf.
const mariadbSetup = `set -e
d=/opt/mariadb
mkdir -p $d/data $d/run $d/conf.d
cat > $d/my.cnf <<'EOF'
[mysqld]
user = mysql
datadir = /opt/mariadb/data
socket = /opt/mariadb/run/mysqld.sock
pid-file = /opt/mariadb/run/mysqld.pid
port = 3306
bind-address = 0.0.0.0
skip-name-resolve
log-error = /opt/mariadb/mysqld.log
innodb_buffer_pool_size = 16M
innodb_log_file_size = 8M
!includedir /opt/mariadb/conf.d
EOF
cat > /root/.my.cnf <<'EOF'
[client]
socket = /opt/mariadb/run/mysqld.sock
EOF
cat > $d/start <<'EOF'
#!/bin/sh
setsid /usr/sbin/mariadbd --defaults-file=/opt/mariadb/my.cnf </dev/null >/dev/null 2>&1 &
i=0
until mysql -e 'SELECT 1' >/dev/null 2>&1; do
	i=$((i+1)); [ $i -lt 150 ] || { tail -20 /opt/mariadb/mysqld.log >&2; exit 1; }; sleep 0.2
done
EOF
cat > $d/restart <<'EOF'
#!/bin/sh
if [ -f /opt/mariadb/run/mysqld.pid ]; then
	pid=$(cat /opt/mariadb/run/mysqld.pid)
	kill "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
fi
exec /opt/mariadb/start
EOF
chmod 755 $d/start $d/restart
chown -R mysql:mysql $d
mariadb-install-db --defaults-file=$d/my.cnf --skip-test-db >/dev/null
$d/start
`

func provisionMariaDB(ctx context.Context, l *lab.Lab, h *lab.Host) error {
	if h.Role != lab.RoleMN {
		return nil
	}
	script := mariadbSetup
	if h.Name == "mn1" {
		script += `mysql -e "CREATE DATABASE xcatdb; CREATE TABLE xcatdb.site (name VARCHAR(64) PRIMARY KEY, value TEXT); INSERT INTO xcatdb.site VALUES ('master', '198.51.100.10');"` + "\n"
	}
	if out, err := l.Exec(ctx, h.Name, script); err != nil {
		return fmt.Errorf("mariadb on %s: %w\n%s", h.Name, err, out)
	}
	return nil
}

func mysql(t *testing.T, env *labtest.Env, host, sql string) string {
	t.Helper()
	return strings.TrimSpace(env.Exec(t, host, "mysql -N -B -e "+shq(sql)))
}

// eventually polls f until it is true or 15 s have passed.
func eventually(f func() bool) bool {
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if f() {
			return true
		}
	}
	return f()
}

func TestMariaDB(t *testing.T) {
	env := labtest.Up(t, labtest.Options{ServiceNodes: 1, XCAT: true, Provision: provisionMariaDB})
	prepareStandby(t, env)
	inv := env.Lab.Inventory()
	inv.Database = playbooks.Database{Type: "mysql", Owner: "mysql", Name: "xcatdb", Port: 3306, ConfDir: "/opt/mariadb/conf.d"}
	inv.Vars = map[string]string{"mysql_restart": "/opt/mariadb/restart"}
	const password = "repl-S3cret-pw"
	pwFile := filepath.Join(env.Dir, "mysql_repl_password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv.Secrets["mysql_repl_password"] = playbooks.SecretSource{File: pwFile}
	if err := env.Lab.WriteInventory(inv); err != nil {
		t.Fatal(err)
	}

	r := env.MustRun(t, 0, "run", "mysql-setup", "--yes")
	if strings.Contains(r.Combined(), password) || strings.Contains(string(env.JournalBytes(t)), password) {
		t.Error("the replication password reached the output or the journal")
	}
	if got := mysql(t, env, "mn2", "SELECT value FROM xcatdb.site WHERE name='master'"); got != "198.51.100.10" {
		t.Errorf("standby after setup: %q", got)
	}
	if got := mysql(t, env, "mn2", "SELECT @@server_id, @@read_only"); got != "2\t1" {
		t.Errorf("standby server_id, read_only = %q", got)
	}
	// A write on the primary reaches the standby.
	mysql(t, env, "mn1", "INSERT INTO xcatdb.site VALUES ('domain', 'lab')")
	if !eventually(func() bool {
		return mysql(t, env, "mn2", "SELECT count(*) FROM xcatdb.site WHERE name='domain'") == "1"
	}) {
		t.Fatalf("the write on mn1 did not reach mn2: %s", env.Exec(t, "mn2", `mysql -e 'SHOW SLAVE STATUS\G'`))
	}
	// Running setup again changes nothing and keeps replicating.
	pid := env.Exec(t, "mn1", "cat /opt/mariadb/run/mysqld.pid")
	env.MustRun(t, 0, "run", "mysql-setup", "--yes")
	if again := env.Exec(t, "mn1", "cat /opt/mariadb/run/mysqld.pid"); again != pid {
		t.Error("a second setup restarted the primary's server")
	}
	if j := string(env.JournalBytes(t)); !strings.Contains(j, `"seeded":"yes"`) || !strings.Contains(j, `"seeded":"no"`) {
		t.Error("a second setup seeded the replicating standby again")
	}

	// Failover, with the playbook every database shares: the standby
	// stops replicating and takes writes, and holds the address and xCAT.
	before := len(env.Calls(t, "mn2"))
	env.MustRun(t, 0, "run", "failover", "--yes")
	checkTakeover(t, env, "mn2", before)
	if got := mysql(t, env, "mn2", "SELECT @@read_only"); got != "0" {
		t.Errorf("standby read_only after promotion: %s", got)
	}
	if got := mysql(t, env, "mn2", "SELECT count(*) FROM xcatdb.site"); got != "2" {
		t.Errorf("standby after promotion has %s rows, want 2", got)
	}
	mysql(t, env, "mn2", "INSERT INTO xcatdb.site VALUES ('promoted', 'yes')")
	if got := env.Exec(t, "mn2", "grep read_only /opt/mariadb/conf.d/60-hamnflow-replication.cnf"); !strings.Contains(got, "OFF") {
		t.Errorf("the settings file still makes the server read-only after a restart: %s", got)
	}
	env.Exec(t, "mn2", "/opt/mariadb/restart")
	if got := mysql(t, env, "mn2", "SELECT @@read_only, count(*) FROM xcatdb.site"); got != "0\t3" {
		t.Errorf("promoted standby after a restart: read_only, rows = %q", got)
	}

	// Failback (guide 9.0). xCAT's own account keeps writing on mn2 while
	// mn1 re-joins, until the switchover makes mn2 read-only: every write
	// mn2 took must be on mn1 when it is promoted.
	mysql(t, env, "mn2", "CREATE TABLE xcatdb.writes (id INT AUTO_INCREMENT PRIMARY KEY, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6)); "+
		"CREATE USER 'xcat'@'localhost'; GRANT INSERT, SELECT ON xcatdb.* TO 'xcat'@'localhost'")
	writer := strings.TrimSpace(env.Exec(t, "mn2", startWriter))
	t.Cleanup(func() { env.Lab.Exec(context.Background(), "mn2", "kill "+writer+" 2>/dev/null || true") })
	if !eventually(func() bool { return mysql(t, env, "mn2", "SELECT count(*) > 0 FROM xcatdb.writes") == "1" }) {
		t.Fatal("the writer on mn2 wrote nothing")
	}
	before = len(env.Calls(t, "mn1"))
	r = env.MustRun(t, 0, "run", "failback", "--yes")
	if strings.Contains(r.Combined(), password) || strings.Contains(string(env.JournalBytes(t)), password) {
		t.Error("the replication password reached the failback's output or the journal")
	}
	if env.Exec(t, "mn2", "grep -q '^State:[[:space:]]*[^Z]' /proc/"+writer+"/status 2>/dev/null && echo running || true") != "" {
		t.Error("the writer on mn2 still writes after the failback: mn2 is not read-only")
	}
	onMN2 := mysql(t, env, "mn2", "SELECT count(*), max(id) FROM xcatdb.writes")
	t.Logf("mn2 took %s (count, max id) writes before it became read-only", onMN2)
	if got := mysql(t, env, "mn1", "SELECT count(*), max(id) FROM xcatdb.writes"); got != onMN2 || strings.HasPrefix(got, "0\t") {
		t.Errorf("writes on mn1 after failback: count, max id = %q; mn2 took %q", got, onMN2)
	}
	if got := mysql(t, env, "mn1", "SELECT value FROM xcatdb.site WHERE name='promoted'"); got != "yes" {
		t.Errorf("the row written during the failover is not on mn1: %q", got)
	}
	if got := mysql(t, env, "mn1", "SELECT @@read_only"); got != "0" {
		t.Errorf("mn1 read_only after failback: %s", got)
	}
	if got := env.Exec(t, "mn1", `mysql -e 'SHOW SLAVE STATUS\G'`); strings.TrimSpace(got) != "" {
		t.Errorf("mn1 is still a replica after failback:\n%s", got)
	}
	checkTakeover(t, env, "mn1", before)
	// mn2 is the read-only replica of mn1 again, and a write on mn1 reaches it.
	if got := mysql(t, env, "mn2", "SELECT @@read_only"); got != "1" {
		t.Errorf("mn2 read_only after failback: %s", got)
	}
	if got := env.Exec(t, "mn2", "grep read_only /opt/mariadb/conf.d/60-hamnflow-replication.cnf"); !strings.Contains(got, "ON") {
		t.Errorf("mn2's settings file would make it writable after a restart: %s", got)
	}
	if st := env.Exec(t, "mn2", `mysql -e 'SHOW SLAVE STATUS\G'`); !strings.Contains(st, "Master_Host: "+inv.Hosts["mn1"].Address) {
		t.Errorf("mn2 does not replicate from mn1:\n%s", st)
	}
	mysql(t, env, "mn1", "INSERT INTO xcatdb.site VALUES ('failed_back', 'yes')")
	if !eventually(func() bool {
		return mysql(t, env, "mn2", "SELECT count(*) FROM xcatdb.site WHERE name='failed_back'") == "1"
	}) {
		t.Errorf("a write on mn1 after failback did not reach mn2: %s", env.Exec(t, "mn2", `mysql -e 'SHOW SLAVE STATUS\G'`))
	}
}

// startWriter starts, on a MariaDB host, xCAT's account inserting a row
// every 20 ms until the server refuses (read_only) or 3000 rows (about a
// minute) are written, and prints the writer's pid.
const startWriter = `i=0
(while [ $i -lt 3000 ] && mysql -u xcat -e 'INSERT INTO xcatdb.writes () VALUES ()' 2>/dev/null; do i=$((i+1)); sleep 0.02; done) </dev/null >/dev/null 2>&1 &
echo $!
`
