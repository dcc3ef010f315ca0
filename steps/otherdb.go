package steps

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"

	"github.com/hamnflow/hamnflow/workflow"
)

// Database replication for the systems of guide 5.3: SQLite (consistent
// file copies, since SQLite has no replication) and MySQL/MariaDB
// (binary log replication, promotion of the replica).
func dbActions(env *Env) map[string]textAction {
	return map[string]textAction{
		"sqlite_sync":          SQLiteSync{Env: env},
		"sqlite_sync_script":   SQLiteSync{Env: env, Install: true},
		"sqlite_check":         SQLiteCheck{Env: env},
		"mysql_config":         MySQLConfig{Env: env},
		"mysql_repl_user":      MySQLReplUser{Env: env},
		"mysql_replica_start":  MySQLReplicaStart{Env: env},
		"mysql_replica_status": MySQLReplicaStatus{Env: env},
		"mysql_promote":        MySQLPromote{Env: env},
		"mysql_catch_up":       MySQLCatchUp{Env: env},
	}
}

// safePathRE is what the SQLite scripts accept as a path or host: they
// pass it through ssh, where quoting is not preserved.
var safePathRE = regexp.MustCompile(`^[A-Za-z0-9_./+@:-]+$`)

func checkSafe(what, v string) error {
	if !safePathRE.MatchString(v) {
		return fmt.Errorf("%s %q: use only letters, digits and _ . / + @ : -", what, v)
	}
	return nil
}

// sqliteFiles is shell that sets "$@" to the SQLite files at $src: the
// file itself, or the *.sqlite files of a directory (xCAT keeps one file
// per table in /etc/xcat).
const sqliteFiles = `if [ -d "$src" ]; then dir=$src; set -- "$src"/*.sqlite; else dir=$(dirname "$src"); set -- "$src"; fi
[ -e "$1" ] || { echo "no SQLite database at $src" >&2; exit 1; }
`

// SQLiteSyncScript is the script that copies the SQLite database at src
// (a file or a directory of *.sqlite) consistently to the same place on
// host to: sqlite3's .backup (the online backup API, safe while xcatd
// writes) into a staging directory, integrity_check of each copy, rsync
// to to's staging directory, then a rename into place there (removing
// stale -wal, -shm and -journal files). Cron runs the same script.
func SQLiteSyncScript(src, to string) string {
	return `set -eu
src=` + src + `
to=` + to + `
` + sqliteFiles + `stage=$(mktemp -d "${TMPDIR:-/tmp}/hamnflow-sqlite.XXXXXX")
trap 'rm -rf "$stage"' EXIT
for f in "$@"; do
	n=$(basename "$f")
	sqlite3 "$f" ".timeout 10000" ".backup '$stage/$n'"
	r=$(sqlite3 "$stage/$n" "PRAGMA integrity_check;")
	[ "$r" = ok ] || { echo "$n: the copy fails integrity_check: $r" >&2; exit 1; }
	echo "copied $f"
done
in=$dir/.hamnflow-incoming
ssh -o BatchMode=yes "$to" "mkdir -p $in"
rsync -a --delete "$stage/" "$to:$in/"
ssh -o BatchMode=yes "$to" "cd $dir && for f in .hamnflow-incoming/*.sqlite; do n=\${f#.hamnflow-incoming/}; rm -f \$n-wal \$n-shm \$n-journal; mv \$f \$n; done && rmdir .hamnflow-incoming"
echo "synchronised $# file(s) to $to:$dir"
`
}

// SQLiteSync copies the SQLite database from the step's host to another
// host now (sqlite_sync), or installs that copy as a script for cron
// (sqlite_sync_script, with: script).
//
//	with: path (file or directory of *.sqlite), to (host name or address
//	as the step's host reaches it by ssh); script (sqlite_sync_script)
//
// Outputs: files (sqlite_sync: how many were copied).
type SQLiteSync struct {
	Env     *Env
	Install bool
}

// Params implements workflow.Action.
func (s SQLiteSync) Params() ([]string, []string) {
	if s.Install {
		return []string{"path", "to", "script"}, nil
	}
	return []string{"path", "to"}, nil
}

// Describe implements workflow.Action.
func (s SQLiteSync) Describe(_ string, a map[string]string) string {
	d := fmt.Sprintf("sqlite3 %s .backup, PRAGMA integrity_check, rsync to %s:%s (renamed into place)", a["path"], a["to"], a["path"])
	if s.Install {
		return "write " + a["script"] + ": " + d
	}
	return d
}

// Run implements workflow.Action.
func (s SQLiteSync) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	for _, k := range []string{"path", "to", "script"} {
		if v, ok := c.Args[k]; ok {
			if err := checkSafe(k, v); err != nil {
				return workflow.Outcome{}, err
			}
		}
	}
	body := SQLiteSyncScript(c.Args["path"], c.Args["to"])
	if s.Install {
		script := c.Args["script"]
		inst := "set -e\nmkdir -p $(dirname " + script + ")\ncat > " + script + ".tmp <<'HAMNFLOW_EOF'\n#!/bin/sh\n# written by hamnflow: copy the xCAT SQLite database to the standby MN\n" +
			body + "HAMNFLOW_EOF\nchmod 755 " + script + ".tmp\nmv " + script + ".tmp " + script + "\n"
		o, _, err := runText(s.Env, ctx, c, inst, "", nil)
		if err != nil {
			return o, fmt.Errorf("install the SQLite sync script %s: %w", script, err)
		}
		return o, nil
	}
	o, _, err := runText(s.Env, ctx, c, body, "", nil)
	if err != nil {
		return o, fmt.Errorf("copy SQLite %s to %s: %w", c.Args["path"], c.Args["to"], err)
	}
	o.Outputs = map[string]string{"files": strconv.Itoa(strings.Count(o.Stdout, "copied "))}
	return o, nil
}

// SQLiteCheck runs PRAGMA integrity_check on the SQLite database at path
// (a file or a directory of *.sqlite): success when every file is "ok".
//
//	with: path
//
// Outputs: files (how many were checked).
type SQLiteCheck struct{ Env *Env }

// Params implements workflow.Action.
func (SQLiteCheck) Params() ([]string, []string) { return []string{"path"}, nil }

// Describe implements workflow.Action.
func (SQLiteCheck) Describe(_ string, a map[string]string) string {
	return "sqlite3 FILE 'PRAGMA integrity_check' for each database file at " + a["path"]
}

// Run implements workflow.Action.
func (s SQLiteCheck) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	script := "src=" + remote.ShellQuote(c.Args["path"]) + "\n" + sqliteFiles +
		`for f in "$@"; do echo "== $f"; sqlite3 "$f" ".timeout 10000" "PRAGMA integrity_check;" 2>&1 || echo "sqlite3 exit $?"; done`
	o, _, err := runText(s.Env, ctx, c, script, "", nil)
	if err != nil {
		return o, fmt.Errorf("integrity check of SQLite %s: %w", c.Args["path"], err)
	}
	rep, err := ParseIntegrityReport(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("integrity check of SQLite %s on %s: %w", c.Args["path"], c.Host, err)
	}
	o.Outputs = map[string]string{"files": strconv.Itoa(len(rep.Files))}
	if !rep.OK() {
		var bad []string
		for f, p := range rep.Problems {
			bad = append(bad, f+": "+strings.Join(p, "; "))
		}
		return o, fmt.Errorf("SQLite integrity check on %s failed: %s", c.Host, strings.Join(bad, " | "))
	}
	return o, nil
}

// sql runs SQL given on stdin with the MySQL client on host (the call's
// host when host is ""). The SQL may hold secrets: it never reaches a
// command line, and the Outcome shows only what.
func runSQL(e *Env, ctx context.Context, c Call, host, client, sql, what string) (workflow.Outcome, error) {
	if host == "" {
		host = c.Host
	}
	o := workflow.Outcome{Command: what}
	h, err := hostOf(e, host)
	if err != nil {
		return o, err
	}
	res, err := e.Transport.Exec(ctx, h, remote.Command{Script: withDefault(client, "mysql") + " --batch", Stdin: strings.NewReader(sql)})
	o.Stdout, o.Stderr, o.Exit = string(res.Stdout), string(res.Stderr), res.Exit
	if err != nil {
		return o, fmt.Errorf("%s on %s: %w", what, h.Label(), err)
	}
	o.Ran = true
	if res.Exit != 0 {
		return o, fmt.Errorf("%s on %s: exit status %d%s", what, h.Label(), res.Exit, act.Tail(res.Stderr, res.Stdout))
	}
	return o, nil
}

// query runs one statement without secrets and returns its tab-separated
// output without column names.
func query(e *Env, ctx context.Context, c Call, host, client, q string) (string, error) {
	o, err := runSQL(e, ctx, c, host, withDefault(client, "mysql")+" --skip-column-names", q+";\n", q)
	return strings.TrimSpace(o.Stdout), err
}

// syntaxOn asks host's server for its version and the syntax it takes.
func syntaxOn(e *Env, ctx context.Context, c Call, host, client string) (ReplicationSyntax, error) {
	v, err := query(e, ctx, c, host, client, "SELECT VERSION()")
	if err != nil {
		return ReplicationSyntax{}, err
	}
	return SyntaxFor(v)
}

// MySQLConfig makes a MySQL/MariaDB server run with the replication
// settings: it writes them to conf_file and restarts the server, unless
// the server already runs with them.
//
//	with: conf_file, server_id, restart (the command that restarts the
//	server); log_bin (mysql-bin), read_only (OFF), client (mysql)
//
// Outputs: changed (yes|no).
type MySQLConfig struct{ Env *Env }

// Params implements workflow.Action.
func (MySQLConfig) Params() ([]string, []string) {
	return []string{"conf_file", "server_id", "restart"}, []string{"log_bin", "read_only", "client"}
}

func mysqlConf(a map[string]string) string {
	return "# written by hamnflow (mysql-setup): replication settings\n[mysqld]\n" +
		"server_id = " + a["server_id"] + "\n" +
		"log_bin = " + withDefault(a["log_bin"], "mysql-bin") + "\n" +
		"relay_log = relay-bin\n" + // not named after the host, which a takeover renames
		"read_only = " + strings.ToUpper(withDefault(a["read_only"], "OFF")) + "\n"
}

// Describe implements workflow.Action.
func (MySQLConfig) Describe(_ string, a map[string]string) string {
	return "write " + a["conf_file"] + ":\n" + mysqlConf(a) + "then, unless the server runs with these: " + a["restart"]
}

// Run implements workflow.Action.
func (m MySQLConfig) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	if _, err := strconv.Atoi(c.Args["server_id"]); err != nil {
		return workflow.Outcome{}, fmt.Errorf("server_id %q: want a number", c.Args["server_id"])
	}
	client := c.Args["client"]
	wantRO := "0"
	if strings.EqualFold(withDefault(c.Args["read_only"], "OFF"), "ON") {
		wantRO = "1"
	}
	want := c.Args["server_id"] + "\t1\t" + wantRO
	conf := mysqlConf(c.Args)
	file := remote.ShellQuote(c.Args["conf_file"])
	current := func() string {
		v, _ := query(m.Env, ctx, c, "", client, "SELECT @@server_id, @@log_bin, @@read_only")
		return v
	}
	same, _, _ := runText(m.Env, ctx, c, "cat "+file+" 2>/dev/null", "", []int{0, 1})
	if current() == want && same.Stdout == conf {
		return workflow.Outcome{Ran: true, Command: "nothing to change", Outputs: map[string]string{"changed": "no"}}, nil
	}
	script := "set -e\nmkdir -p \"$(dirname " + file + ")\"\ncat > " + file + ".tmp <<'HAMNFLOW_EOF'\n" + conf + "HAMNFLOW_EOF\nmv " + file + ".tmp " + file + "\n" +
		c.Args["restart"] + "\n" +
		"i=0; until " + withDefault(client, "mysql") + " -e 'SELECT 1' >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 60 ] || { echo 'the server did not come back within 60s' >&2; exit 1; }; sleep 1; done\n"
	o, _, err := runText(m.Env, ctx, c, script, "", nil)
	if err != nil {
		return o, fmt.Errorf("configure MySQL replication settings in %s: %w", c.Args["conf_file"], err)
	}
	if got := current(); got != want {
		return o, fmt.Errorf("after the restart the server runs with server_id, log_bin, read_only = %q, want %q: is %s read by the server?", got, want, c.Args["conf_file"])
	}
	o.Outputs = map[string]string{"changed": "yes"}
	return o, nil
}

// MySQLReplUser creates (or updates) the replication user on the source.
//
//	with: user, password (a secret); host ('%'), client
type MySQLReplUser struct{ Env *Env }

// Params implements workflow.Action.
func (MySQLReplUser) Params() ([]string, []string) {
	return []string{"user", "password"}, []string{"host", "client"}
}

func replUserSQL(a map[string]string) string {
	acct := sqlString(a["user"]) + "@" + sqlString(withDefault(a["host"], "%"))
	return "CREATE USER IF NOT EXISTS " + acct + " IDENTIFIED BY " + sqlString(a["password"]) + ";\n" +
		"ALTER USER " + acct + " IDENTIFIED BY " + sqlString(a["password"]) + ";\n" +
		"GRANT REPLICATION SLAVE ON *.* TO " + acct + ";\n"
}

// Describe implements workflow.Action.
func (MySQLReplUser) Describe(_ string, a map[string]string) string { return replUserSQL(a) }

// Run implements workflow.Action.
func (m MySQLReplUser) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	shown := replUserSQL(map[string]string{"user": c.Args["user"], "host": c.Args["host"], "password": workflow.Mask})
	return runSQL(m.Env, ctx, c, "", c.Args["client"], replUserSQL(c.Args), shown)
}

// MySQLReplicaStart makes the step's host a replica of source: a
// consistent mysqldump of the database on the source (with its binary log
// position), loaded here after CHANGE MASTER TO (or CHANGE REPLICATION
// SOURCE TO) points at the source, then START SLAVE (REPLICA). A replica
// that already replicates from source_address is left alone unless
// reseed is yes.
//
//	with: source (inventory host to dump from), source_address (as this
//	host reaches it), user, password (a secret), database; port (3306),
//	client (mysql), dump (mysqldump), reseed (no)
//
// Outputs: seeded (yes|no).
type MySQLReplicaStart struct{ Env *Env }

// Params implements workflow.Action.
func (MySQLReplicaStart) Params() ([]string, []string) {
	return []string{"source", "source_address", "user", "password", "database"}, []string{"port", "client", "dump", "reseed"}
}

// Describe implements workflow.Action.
func (MySQLReplicaStart) Describe(host string, a map[string]string) string {
	return fmt.Sprintf("on %s: %s --single-transaction --master-data=1 --databases %s\non %s: STOP SLAVE; CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%s, MASTER_USER='%s', MASTER_PASSWORD='%s'; (the dump); START SLAVE\n(REPLICA/SOURCE forms on MySQL 8)",
		a["source"], withDefault(a["dump"], "mysqldump"), a["database"], host, a["source_address"], withDefault(a["port"], "3306"), a["user"], a["password"])
}

// Run implements workflow.Action.
func (m MySQLReplicaStart) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	port, err := strconv.Atoi(withDefault(c.Args["port"], "3306"))
	if err != nil {
		return workflow.Outcome{}, fmt.Errorf("port %q: want a number", c.Args["port"])
	}
	client, src := c.Args["client"], c.Args["source"]
	here, err := syntaxOn(m.Env, ctx, c, "", client)
	if err != nil {
		return workflow.Outcome{}, fmt.Errorf("replica %s: %w", c.Host, err)
	}
	if c.Args["reseed"] != "yes" {
		o, err := runSQL(m.Env, ctx, c, "", client, here.Status+"\\G\n", here.Status)
		if err != nil {
			return o, fmt.Errorf("replica %s: %w", c.Host, err)
		}
		if st, err := ParseReplicaStatus(o.Stdout); err == nil && st.Healthy() && st.SourceHost == c.Args["source_address"] {
			o.Outputs = map[string]string{"seeded": "no"}
			return o, nil
		}
	}
	there, err := syntaxOn(m.Env, ctx, c, src, client)
	if err != nil {
		return workflow.Outcome{}, fmt.Errorf("source %s: %w", src, err)
	}
	h, err := hostOf(m.Env, src)
	if err != nil {
		return workflow.Outcome{}, err
	}
	dumpCmd := withDefault(c.Args["dump"], "mysqldump") + " --single-transaction " + there.DumpFlag + "=1 --databases " + remote.ShellQuote(c.Args["database"])
	res, err := m.Env.Transport.Exec(ctx, h, remote.Command{Script: dumpCmd})
	if err == nil && res.Exit != 0 {
		err = fmt.Errorf("exit status %d%s", res.Exit, act.Tail(res.Stderr, nil))
	}
	if err != nil {
		return workflow.Outcome{Command: dumpCmd, Stderr: string(res.Stderr)}, fmt.Errorf("dump %s on %s: %w", c.Args["database"], h.Label(), err)
	}
	if !bytes.Contains(res.Stdout, []byte("_LOG_POS=")) {
		return workflow.Outcome{Command: dumpCmd}, fmt.Errorf("dump of %s on %s has no binary log position: is log_bin on there?", c.Args["database"], h.Label())
	}
	change := here.ChangeSource(c.Args["source_address"], port, c.Args["user"], c.Args["password"])
	sql := here.Stop + ";\n" + change + ";\n" + string(res.Stdout) + "\n" + here.Start + ";\n"
	shown := fmt.Sprintf("%s; %s; (dump of %s from %s, %d bytes); %s",
		here.Stop, here.ChangeSource(c.Args["source_address"], port, c.Args["user"], workflow.Mask), c.Args["database"], src, len(res.Stdout), here.Start)
	o, err := runSQL(m.Env, ctx, c, "", client, sql, shown)
	if err != nil {
		return o, fmt.Errorf("start replication from %s: %w", src, err)
	}
	o.Outputs = map[string]string{"seeded": "yes"}
	return o, nil
}

// MySQLReplicaStatus reads SHOW SLAVE STATUS (SHOW REPLICA STATUS).
//
//	with: want (running: both threads run, the default; none: the server
//	is no replica), max_lag (seconds), client
//
// Outputs: io_running, sql_running, seconds_behind (-1 unknown), source_host.
type MySQLReplicaStatus struct{ Env *Env }

// Params implements workflow.Action.
func (MySQLReplicaStatus) Params() ([]string, []string) {
	return nil, []string{"want", "max_lag", "client"}
}

// Describe implements workflow.Action.
func (MySQLReplicaStatus) Describe(_ string, a map[string]string) string {
	return "SHOW SLAVE STATUS (want " + withDefault(a["want"], "running") + ")"
}

// Run implements workflow.Action.
func (m MySQLReplicaStatus) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	syn, err := syntaxOn(m.Env, ctx, c, "", c.Args["client"])
	if err != nil {
		return workflow.Outcome{}, err
	}
	o, err := runSQL(m.Env, ctx, c, "", c.Args["client"], syn.Status+"\\G\n", syn.Status)
	if err != nil {
		return o, err
	}
	st, err := ParseReplicaStatus(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("%s on %s: %w", syn.Status, c.Host, err)
	}
	o.Outputs = map[string]string{"io_running": st.IORunning, "sql_running": st.SQLRunning,
		"seconds_behind": strconv.Itoa(st.SecondsBehind), "source_host": st.SourceHost}
	switch want := withDefault(c.Args["want"], "running"); want {
	case "none":
		if st.Configured {
			return o, fmt.Errorf("%s is still a replica of %s", c.Host, st.SourceHost)
		}
		return o, nil
	case "running":
	default:
		return o, fmt.Errorf("want %q: use running or none", want)
	}
	if !st.Configured {
		return o, fmt.Errorf("%s is no replica (%s is empty)", c.Host, syn.Status)
	}
	if !st.Healthy() {
		return o, fmt.Errorf("replication on %s: IO thread %s, SQL thread %s%s%s", c.Host, st.IORunning, st.SQLRunning,
			prefixed("; IO error: ", st.LastIOError), prefixed("; SQL error: ", st.LastSQLError))
	}
	if v := c.Args["max_lag"]; v != "" {
		lim, err := strconv.Atoi(v)
		if err != nil {
			return o, fmt.Errorf("max_lag %q: want seconds", v)
		}
		if st.SecondsBehind < 0 || st.SecondsBehind > lim {
			return o, fmt.Errorf("replication on %s is %ds behind, more than %ds", c.Host, st.SecondsBehind, lim)
		}
	}
	return o, nil
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// MySQLPromote makes a replica a writable primary: STOP SLAVE, RESET
// SLAVE ALL, SET GLOBAL read_only = OFF (REPLICA forms on MySQL 8), and
// read_only = OFF in conf_file so that a restart keeps it.
//
//	with: conf_file (optional), client
type MySQLPromote struct{ Env *Env }

// Params implements workflow.Action.
func (MySQLPromote) Params() ([]string, []string) { return nil, []string{"conf_file", "client"} }

// Describe implements workflow.Action.
func (MySQLPromote) Describe(_ string, a map[string]string) string {
	d := "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF"
	if a["conf_file"] != "" {
		d += "; read_only = OFF in " + a["conf_file"]
	}
	return d
}

// Run implements workflow.Action.
func (m MySQLPromote) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	client := c.Args["client"]
	syn, err := syntaxOn(m.Env, ctx, c, "", client)
	if err != nil {
		return workflow.Outcome{}, fmt.Errorf("promote %s: %w", c.Host, err)
	}
	q := syn.Stop + ";\n" + syn.ResetAll + ";\nSET GLOBAL read_only = OFF;\n"
	o, err := runSQL(m.Env, ctx, c, "", client, q, strings.ReplaceAll(strings.TrimSpace(q), "\n", " "))
	if err != nil {
		return o, fmt.Errorf("promote %s: %w", c.Host, err)
	}
	if f := c.Args["conf_file"]; f != "" {
		fo, _, err := runText(m.Env, ctx, c, "if [ -f "+remote.ShellQuote(f)+" ]; then sed -i 's/^read_only *=.*/read_only = OFF/' "+remote.ShellQuote(f)+"; fi", "", nil)
		if err != nil {
			return fo, fmt.Errorf("promote %s: read_only in %s: %w", c.Host, f, err)
		}
	}
	// The server may take a moment to drop read_only for clients.
	for i := 0; ; i++ {
		v, err := query(m.Env, ctx, c, "", client, "SELECT @@read_only")
		if err == nil && v == "0" {
			break
		}
		if i == 10 {
			return o, fmt.Errorf("promote %s: read_only is still %q (%v)", c.Host, v, err)
		}
		select {
		case <-ctx.Done():
			return o, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return o, nil
}

// MySQLCatchUp waits until the step's host, a replica of source, has
// applied everything source wrote to its binary log: it reads source's
// position (SHOW MASTER STATUS, SHOW BINARY LOG STATUS on MySQL 8.2+) and
// waits for it on the replica with MASTER_POS_WAIT (SOURCE_POS_WAIT on
// MySQL 8.0.26+). Stop the writes on source first, or the position moves
// on after it was read.
//
//	with: source (inventory host); wait (seconds, 60), client
//
// Outputs: file, position (source's binary log position), events (how
// many events the replica still had to apply).
type MySQLCatchUp struct{ Env *Env }

// Params implements workflow.Action.
func (MySQLCatchUp) Params() ([]string, []string) {
	return []string{"source"}, []string{"wait", "client"}
}

// Describe implements workflow.Action.
func (MySQLCatchUp) Describe(host string, a map[string]string) string {
	return fmt.Sprintf("on %s: SHOW MASTER STATUS\non %s: SELECT MASTER_POS_WAIT(File, Position, %s)\n(SHOW BINARY LOG STATUS, SOURCE_POS_WAIT on MySQL 8)",
		a["source"], host, withDefault(a["wait"], "60"))
}

// Run implements workflow.Action.
func (m MySQLCatchUp) Run(ctx context.Context, c Call) (workflow.Outcome, error) {
	wait, err := strconv.Atoi(withDefault(c.Args["wait"], "60"))
	if err != nil || wait <= 0 {
		return workflow.Outcome{}, fmt.Errorf("wait %q: want seconds above 0", c.Args["wait"])
	}
	client, src := c.Args["client"], c.Args["source"]
	there, err := syntaxOn(m.Env, ctx, c, src, client)
	if err != nil {
		return workflow.Outcome{}, fmt.Errorf("source %s: %w", src, err)
	}
	so, err := runSQL(m.Env, ctx, c, src, client, there.SourceStatus+"\\G\n", there.SourceStatus)
	if err != nil {
		return so, fmt.Errorf("binary log position of %s: %w", src, err)
	}
	pos, err := ParseBinlogPosition(so.Stdout)
	if err != nil {
		return so, fmt.Errorf("%s on %s: %w", there.SourceStatus, src, err)
	}
	here, err := syntaxOn(m.Env, ctx, c, "", client)
	if err != nil {
		return so, fmt.Errorf("replica %s: %w", c.Host, err)
	}
	q := fmt.Sprintf("SELECT %s(%s, %d, %d)", here.PosWait, sqlString(pos.File), pos.Position, wait)
	o, err := runSQL(m.Env, ctx, c, "", withDefault(client, "mysql")+" --skip-column-names", q+";\n", q)
	o.Command = there.SourceStatus + " on " + src + ": " + pos.File + " " + strconv.FormatInt(pos.Position, 10) + "\n" + q
	o.Outputs = map[string]string{"file": pos.File, "position": strconv.FormatInt(pos.Position, 10)}
	if err != nil {
		return o, fmt.Errorf("wait for %s to reach %s:%d of %s: %w", c.Host, pos.File, pos.Position, src, err)
	}
	n, err := ParsePosWait(o.Stdout)
	if err != nil {
		return o, fmt.Errorf("wait for %s to reach %s:%d of %s (%ds): %w", c.Host, pos.File, pos.Position, src, wait, err)
	}
	o.Outputs["events"] = strconv.Itoa(n)
	return o, nil
}
