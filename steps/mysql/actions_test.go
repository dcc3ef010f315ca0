package mysql

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// server is what a fake host's MySQL/MariaDB answers.
type server struct {
	version  string
	status   string   // SHOW SLAVE|REPLICA STATUS\G
	binlog   string   // SHOW MASTER|BINARY LOG STATUS\G
	posWait  string   // MASTER_POS_WAIT / SOURCE_POS_WAIT
	settings []string // SELECT @@server_id, @@log_bin, @@read_only, one answer per call (the last repeats)
	readOnly []string // SELECT @@read_only, likewise
	conf     string   // the settings file ("" none)
	dump     string
	restarts int
}

func next(l *[]string) string {
	if len(*l) == 0 {
		return ""
	}
	v := (*l)[0]
	if len(*l) > 1 {
		*l = (*l)[1:]
	}
	return v
}

type ran struct{ host, script, stdin string }

// fake answers the actions' commands from servers by host, and records
// every command with its host and stdin.
type fake struct {
	mu      sync.Mutex
	servers map[string]*server
	ran     []ran
}

func (f *fake) Exec(_ context.Context, h remote.Host, c remote.Command) (remote.Result, error) {
	var stdin string
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		stdin = string(b)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, ran{h.Name, c.Script, stdin})
	s := f.servers[h.Name]
	out := func(s string) (remote.Result, error) { return remote.Result{Stdout: []byte(s)}, nil }
	switch {
	case s == nil:
		return remote.Result{Exit: -1}, errors.New("no route to host " + h.Name)
	case strings.HasPrefix(c.Script, "cat "):
		if s.conf == "" {
			return remote.Result{Exit: 1}, nil
		}
		return out(s.conf)
	case strings.HasPrefix(c.Script, "mysqldump "):
		return out(s.dump)
	case strings.HasPrefix(c.Script, "set -e\n"):
		_, rest, _ := strings.Cut(c.Script, "<<'HAMNFLOW_EOF'\n")
		s.conf, _, _ = strings.Cut(rest, "HAMNFLOW_EOF\n")
		s.restarts++
		return out("")
	case strings.HasPrefix(c.Script, "if [ -f "):
		s.conf = strings.Replace(s.conf, "read_only = ON", "read_only = OFF", 1)
		return out("")
	case !strings.HasPrefix(c.Script, "mysql ") || !strings.HasSuffix(c.Script, " --batch"):
		return remote.Result{Exit: 127, Stderr: []byte("unexpected command: " + c.Script)}, nil
	case stdin == "SELECT VERSION();\n":
		return out(s.version + "\n")
	case strings.Contains(stdin, "SLAVE STATUS\\G") || strings.Contains(stdin, "REPLICA STATUS\\G"):
		return out(s.status)
	case strings.Contains(stdin, "MASTER STATUS\\G") || strings.Contains(stdin, "BINARY LOG STATUS\\G"):
		return out(s.binlog)
	case strings.HasPrefix(stdin, "SELECT @@server_id"):
		return out(next(&s.settings) + "\n")
	case stdin == "SELECT @@read_only;\n":
		return out(next(&s.readOnly) + "\n")
	case strings.Contains(stdin, "_POS_WAIT("):
		return out(s.posWait + "\n")
	}
	return out("") // statements that print nothing
}

func (f *fake) Close() error { return nil }

func (f *fake) take() []ran {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.ran
	f.ran = nil
	return r
}

var testSettings = Settings{Database: "xcatdb", ConfFile: "/etc/mysql/mariadb.conf.d/60-hamnflow-replication.cnf", Restart: "systemctl restart mariadb"}

func newFake(servers map[string]*server) (*fake, map[string]workflow.Action) {
	f := &fake{servers: servers}
	env := &act.Env{Transport: f, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name, Address: name}, nil }}
	return f, Actions(env, testSettings)
}

const mariadb = "10.11.19-MariaDB-0+deb12u1-log"

// decode decodes with: into a's arguments as the engine does.
func decode(a workflow.Action, with map[string]any) (any, []error) {
	args := a.NewArgs()
	if d, ok := args.(workflow.ArgDecoder); ok {
		return args, d.DecodeArgs(with, nil)
	}
	return args, workflow.DecodeArgs(args, with, nil)
}

func stripNotes(cmd string) string {
	for strings.HasPrefix(cmd, "# ") {
		_, cmd, _ = strings.Cut(cmd, "\n")
	}
	return cmd
}

// run decodes with:, runs the action on mn2 and checks what ran against
// its plan (made from with: with the secrets masked): every command ran
// as the plan shows it (with a run-time value put back as the plan's
// placeholder by the pairs of atRunTime), in the plan's order, and when
// the run succeeded every planned command before the first "# ..." note
// ran. No command line holds a secret.
func run(t *testing.T, f *fake, a workflow.Action, with map[string]any, secrets []string, atRunTime ...string) ([]ran, workflow.Outcome, error) {
	t.Helper()
	args, errs := decode(a, with)
	if len(errs) > 0 {
		t.Fatalf("decode %v: %v", with, errors.Join(errs...))
	}
	shownWith := map[string]any{}
	for k, v := range with {
		if s, ok := v.(string); ok {
			v = mask(s, secrets)
		}
		shownWith[k] = v
	}
	shownArgs, _ := decode(a, shownWith)
	plan := a.Plan("mn2", shownArgs)
	f.take()
	o, err := a.Run(context.Background(), workflow.Call{Host: "mn2", Args: args, Secrets: secrets})
	cmds := f.take()
	back := strings.NewReplacer(atRunTime...)
	at, used := 0, map[int]bool{}
	for _, r := range cmds {
		for _, s := range secrets {
			if strings.Contains(r.script, s) {
				t.Errorf("a command line holds the secret: %s", r.script)
			}
		}
		got := mask(back.Replace(command{host: hostOf("mn2", r.host), script: r.script, stdin: r.stdin}.String()), secrets)
		i := at
		for i < len(plan) && stripNotes(plan[i]) != got {
			i++
		}
		if i == len(plan) {
			t.Fatalf("ran a command the plan does not show (or not in its order):\n%s\n--- plan:\n%s", got, strings.Join(plan, "\n---\n"))
		}
		at, used[i] = i, true
	}
	if err == nil {
		for i, p := range plan {
			if strings.HasPrefix(p, "# ") {
				break
			}
			if !used[i] {
				t.Errorf("planned command %d did not run:\n%s", i, p)
			}
		}
	}
	return cmds, o, err
}

// withSyntax makes plans speak the dialect of version for the test.
func withSyntax(t *testing.T, version string) {
	t.Helper()
	old := planSyntax
	s, err := SyntaxFor(version)
	if err != nil {
		t.Fatal(err)
	}
	planSyntax = s
	t.Cleanup(func() { planSyntax = old })
}

func TestReplUser(t *testing.T) {
	const pw = "it's-S3cret"
	f, acts := newFake(map[string]*server{"mn2": {version: mariadb}})
	cmds, o, err := run(t, f, acts["mysql_repl_user"], map[string]any{"user": "repl", "password": pw}, []string{pw})
	if err != nil {
		t.Fatal(err)
	}
	want := "CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'it''s-S3cret';\nALTER USER 'repl'@'%' IDENTIFIED BY 'it''s-S3cret';\nGRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';\n"
	if len(cmds) != 1 || cmds[0].script != "mysql --batch" || cmds[0].stdin != want {
		t.Errorf("ran %+v", cmds)
	}
	if strings.Contains(o.Command, pw) || !strings.Contains(o.Command, "IDENTIFIED BY '********'") {
		t.Errorf("outcome command %q", o.Command)
	}
}

const (
	dump        = "-- MariaDB dump 10.19\nCHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000002', MASTER_LOG_POS=1146;\nCREATE DATABASE xcatdb;\n"
	replicaWith = "mysql --batch <<'SQL'\nSTOP SLAVE;\nCHANGE MASTER TO MASTER_HOST='198.51.100.11', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='********', MASTER_CONNECT_RETRY=5;\n"
)

func TestReplicaStart(t *testing.T) {
	const pw = "S3cret"
	running := readTestdata(t, "mariadb_slave_running.txt")
	with := map[string]any{"source": "mn1", "source_address": "198.51.100.11", "user": "repl", "password": pw, "port": "3306"}
	withDump := []string{dump, dumpPlaceholder}

	// A replica of the source already: left alone.
	f, acts := newFake(map[string]*server{"mn2": {version: mariadb, status: running}, "mn1": {version: mariadb, dump: dump}})
	a := acts["mysql_replica_start"]
	cmds, o, err := run(t, f, a, with, []string{pw}, withDump...)
	if err != nil || o.Outputs["seeded"] != "no" || len(cmds) != 2 {
		t.Fatalf("healthy replica: %v %v, ran %+v", err, o.Outputs, cmds)
	}

	// No replica yet, or reseed: dumped on the source, loaded here.
	for _, tt := range []struct {
		status string
		reseed string
	}{{"", "false"}, {running, "true"}} {
		f.servers["mn2"].status = tt.status
		w := map[string]any{"reseed": tt.reseed}
		for k, v := range with {
			w[k] = v
		}
		cmds, o, err = run(t, f, a, w, []string{pw}, withDump...)
		if err != nil || o.Outputs["seeded"] != "yes" {
			t.Fatalf("seed (reseed %s): %v %v", tt.reseed, err, o.Outputs)
		}
		d := cmds[len(cmds)-2]
		if d.host != "mn1" || d.script != "mysqldump --single-transaction --master-data=1 --databases xcatdb" {
			t.Errorf("dump %+v", d)
		}
		load := cmds[len(cmds)-1]
		if load.host != "mn2" || load.script != "mysql --batch" || !strings.Contains(load.stdin, "MASTER_PASSWORD='"+pw+"'") ||
			!strings.HasSuffix(load.stdin, dump+"\nSTART SLAVE;\n") {
			t.Errorf("load %+v", load)
		}
		if !strings.HasPrefix(o.Command, replicaWith) || strings.Contains(o.Command, pw) || strings.Contains(o.Command, "CREATE DATABASE") {
			t.Errorf("outcome command %q", o.Command)
		}
	}

	// A source without a binary log.
	f.servers["mn1"].dump = "CREATE DATABASE xcatdb;\n"
	f.servers["mn2"].status = ""
	if _, _, err := run(t, f, a, with, []string{pw}); err == nil || !strings.Contains(err.Error(), "is log_bin on there?") {
		t.Errorf("dump without position: %v", err)
	}

	// MySQL 8 on both sides: the plan in MySQL 8's dialect is what runs.
	withSyntax(t, "8.0.36")
	f.servers["mn1"] = &server{version: "8.0.36", dump: dump}
	f.servers["mn2"] = &server{version: "8.0.36"}
	cmds, _, err = run(t, f, a, with, []string{pw}, withDump...)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmds[len(cmds)-2].script; !strings.Contains(d, "--source-data=1") {
		t.Errorf("dump %q", d)
	}
	if l := cmds[len(cmds)-1].stdin; !strings.HasPrefix(l, "STOP REPLICA;\nCHANGE REPLICATION SOURCE TO SOURCE_HOST='198.51.100.11'") {
		t.Errorf("load %q", l)
	}
}

func TestReplicaStatus(t *testing.T) {
	f, acts := newFake(map[string]*server{"mn2": {version: mariadb}})
	a := acts["mysql_replica_status"]
	tests := []struct {
		status string
		with   map[string]any
		errHas string
	}{
		{"mariadb_slave_running.txt", map[string]any{}, ""},
		{"mariadb_slave_running.txt", map[string]any{"want": "running", "max_lag": "0s"}, ""},
		{"mariadb_slave_connecting.txt", map[string]any{}, "IO thread Connecting, SQL thread Yes; IO error: error connecting to master"},
		{"mariadb_slave_connecting.txt", map[string]any{}, ""}, // replaced below: with max_lag
		{"mariadb_slave_sql_error.txt", map[string]any{}, "SQL thread No; SQL error: Error 'Duplicate entry"},
		{"mariadb_no_replica.txt", map[string]any{"want": "none"}, ""},
		{"mariadb_no_replica.txt", map[string]any{}, "mn2 is no replica (SHOW SLAVE STATUS is empty)"},
		{"mariadb_slave_running.txt", map[string]any{"want": "none"}, "mn2 is still a replica of 198.51.100.11"},
	}
	tests[3] = struct {
		status string
		with   map[string]any
		errHas string
	}{"mariadb_slave_running.txt", map[string]any{"max_lag": "30s"}, ""}
	for _, tt := range tests {
		f.servers["mn2"].status = readTestdata(t, tt.status)
		cmds, o, err := run(t, f, a, tt.with, nil)
		if tt.errHas == "" && err != nil || tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)) {
			t.Errorf("%s %v: %v, want %q", tt.status, tt.with, err, tt.errHas)
		}
		if len(cmds) != 2 {
			t.Errorf("ran %+v", cmds)
		}
		if tt.status == "mariadb_slave_running.txt" && (o.Outputs["io_running"] != "Yes" || o.Outputs["seconds_behind"] != "0" || o.Outputs["source_host"] != "198.51.100.11") {
			t.Errorf("outputs %v", o.Outputs)
		}
	}
	// Lag unknown (NULL) with max_lag.
	f.servers["mn2"].status = strings.Replace(readTestdata(t, "mariadb_slave_running.txt"), "Seconds_Behind_Master: 0", "Seconds_Behind_Master: NULL", 1)
	if _, _, err := run(t, f, a, map[string]any{"max_lag": "1m"}, nil); err == nil || !strings.Contains(err.Error(), "more than 1m0s") {
		t.Errorf("unknown lag: %v", err)
	}
	withSyntax(t, "8.0.36")
	f.servers["mn2"].version = "8.0.36"
	f.servers["mn2"].status = ""
	if cmds, _, err := run(t, f, a, map[string]any{"want": "none"}, nil); err != nil || cmds[1].stdin != "SHOW REPLICA STATUS\\G\n" {
		t.Errorf("MySQL 8: %v %+v", err, cmds)
	}
}

func TestPromote(t *testing.T) {
	f, acts := newFake(map[string]*server{"mn2": {version: mariadb, readOnly: []string{"1", "0"}, conf: "[mysqld]\nread_only = ON\n"}})
	a := acts["mysql_promote"]
	cmds, _, err := run(t, f, a, map[string]any{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 5 || cmds[1].stdin != "STOP SLAVE;\nRESET SLAVE ALL;\nSET GLOBAL read_only = OFF;\n" ||
		cmds[2].script != "if [ -f /etc/mysql/mariadb.conf.d/60-hamnflow-replication.cnf ]; then sed -i 's/^read_only *=.*/read_only = OFF/' /etc/mysql/mariadb.conf.d/60-hamnflow-replication.cnf; fi" {
		t.Errorf("ran %+v", cmds)
	}
	if f.servers["mn2"].conf != "[mysqld]\nread_only = OFF\n" {
		t.Errorf("conf %q", f.servers["mn2"].conf)
	}
	// Still read-only after the tries.
	f.servers["mn2"].readOnly = []string{"1"}
	if _, _, err := run(t, f, a, map[string]any{"conf_file": "/etc/my.cnf.d/repl.cnf"}, nil); err == nil || !strings.Contains(err.Error(), `read_only is still "1"`) {
		t.Errorf("still read-only: %v", err)
	}
	// No settings file anywhere: the server's settings only.
	f2, acts2 := newFake(map[string]*server{"mn2": {version: "8.0.36", readOnly: []string{"0"}}})
	acts2["mysql_promote"].(*Promote).Settings.ConfFile = ""
	withSyntax(t, "8.0.36")
	cmds, _, err = run(t, f2, acts2["mysql_promote"], map[string]any{}, nil)
	if err != nil || len(cmds) != 3 || cmds[1].stdin != "STOP REPLICA;\nRESET REPLICA ALL;\nSET GLOBAL read_only = OFF;\n" {
		t.Errorf("MySQL 8 without conf file: %v %+v", err, cmds)
	}
}

func TestCatchUp(t *testing.T) {
	f, acts := newFake(map[string]*server{
		"mn1": {version: mariadb, binlog: readTestdata(t, "mariadb_master_status.txt")},
		"mn2": {version: mariadb, posWait: strings.TrimSpace(readTestdata(t, "mariadb_pos_wait.txt"))},
	})
	a := acts["mysql_catch_up"]
	pos := []string{"'mysql-bin.000002', 1146", "'<File>', <Position>"}
	cmds, o, err := run(t, f, a, map[string]any{"source": "mn1"}, nil, pos...)
	if err != nil || o.Outputs["file"] != "mysql-bin.000002" || o.Outputs["position"] != "1146" || o.Outputs["events"] != "0" {
		t.Fatalf("%v %v", err, o.Outputs)
	}
	if len(cmds) != 4 || cmds[1].host != "mn1" || cmds[3].stdin != "SELECT MASTER_POS_WAIT('mysql-bin.000002', 1146, 60);\n" {
		t.Errorf("ran %+v", cmds)
	}
	f.servers["mn2"].posWait = strings.TrimSpace(readTestdata(t, "mariadb_pos_wait_timeout.txt"))
	cmds, _, err = run(t, f, a, map[string]any{"source": "mn1", "wait": "1m30s"}, nil, pos...)
	if err == nil || !strings.Contains(err.Error(), "(90s): timed out") || !strings.Contains(cmds[3].stdin, ", 90)") {
		t.Errorf("timeout: %v %+v", err, cmds)
	}
	if _, _, err := run(t, f, a, map[string]any{"source": "mn1", "wait": "0s"}, nil, pos...); err == nil || !strings.Contains(err.Error(), "at least 1s") {
		t.Errorf("wait 0s: %v", err)
	}
	// MySQL 8.4 on both: SHOW BINARY LOG STATUS and SOURCE_POS_WAIT.
	withSyntax(t, "8.4.0")
	f.servers["mn1"].version, f.servers["mn2"].version, f.servers["mn2"].posWait = "8.4.0", "8.4.0", "3"
	cmds, o, err = run(t, f, a, map[string]any{"source": "mn1"}, nil, pos...)
	if err != nil || o.Outputs["events"] != "3" || cmds[1].stdin != "SHOW BINARY LOG STATUS\\G\n" || !strings.HasPrefix(cmds[3].stdin, "SELECT SOURCE_POS_WAIT(") {
		t.Errorf("MySQL 8.4: %v %+v", err, cmds)
	}
}

func TestConfig(t *testing.T) {
	f, acts := newFake(map[string]*server{"mn2": {version: mariadb, settings: []string{"1\t0\t0", "2\t1\t1"}}})
	a := acts["mysql_config"]
	with := map[string]any{"server_id": "2", "read_only": "true"}
	cmds, o, err := run(t, f, a, with, nil)
	if err != nil || o.Outputs["changed"] != "yes" || len(cmds) != 4 || f.servers["mn2"].restarts != 1 {
		t.Fatalf("first: %v %v %+v", err, o.Outputs, cmds)
	}
	want := "# written by hamnflow (mysql-setup): replication settings\n[mysqld]\nserver_id = 2\nlog_bin = mysql-bin\nrelay_log = relay-bin\nread_only = ON\n"
	if f.servers["mn2"].conf != want {
		t.Errorf("conf:\n%s", f.servers["mn2"].conf)
	}
	if !strings.Contains(cmds[2].script, "\nsystemctl restart mariadb\n") {
		t.Errorf("restart: %s", cmds[2].script)
	}
	// Again: nothing to change, no restart.
	cmds, o, err = run(t, f, a, with, nil)
	if err != nil || o.Outputs["changed"] != "no" || len(cmds) != 2 || f.servers["mn2"].restarts != 1 {
		t.Fatalf("again: %v %v %+v", err, o.Outputs, cmds)
	}
	// The server ignores the file.
	f.servers["mn2"].settings = []string{"1\t0\t0"}
	with = map[string]any{"server_id": "2", "read_only": "false", "conf_file": "/etc/my.cnf.d/x.cnf", "restart": "/opt/mariadb/restart"}
	if _, _, err := run(t, f, a, with, nil); err == nil || !strings.Contains(err.Error(), "is /etc/my.cnf.d/x.cnf read by the server?") {
		t.Errorf("ignored file: %v", err)
	}
	// No file or restart command anywhere.
	c := acts["mysql_config"].(*Config)
	c.Settings.ConfFile = ""
	if _, err := c.Run(context.Background(), workflow.Call{Host: "mn2", Args: &ConfigArgs{ServerID: 1}}); err == nil || !strings.Contains(err.Error(), "conf_file") {
		t.Errorf("no conf file: %v", err)
	}
}

// TestArgs checks that with: is decoded into each action's typed
// arguments, and that a bad value fails naming its argument.
func TestArgs(t *testing.T) {
	_, acts := newFake(nil)
	tests := []struct {
		action string
		with   map[string]any
		badArg string
		msg    string
	}{
		{"mysql_config", map[string]any{"server_id": "1", "read_only": "false", "log_bin": "bin", "conf_file": "/c", "restart": "r", "client": "mariadb"}, "", ""},
		{"mysql_config", map[string]any{"server_id": "1", "read_only": "OFF"}, "read_only", "not a boolean"},
		{"mysql_config", map[string]any{"server_id": "one"}, "server_id", "not a whole number"},
		{"mysql_config", map[string]any{}, "server_id", "needs argument"},
		{"mysql_repl_user", map[string]any{"user": "repl", "password": "p", "host": "10.%"}, "", ""},
		{"mysql_repl_user", map[string]any{"user": "repl"}, "password", "needs argument"},
		{"mysql_replica_start", map[string]any{"source": "mn1", "source_address": "a", "user": "u", "password": "p", "port": "3307", "reseed": "true", "database": "x", "dump": "mariadb-dump"}, "", ""},
		{"mysql_replica_start", map[string]any{"source": "mn1", "source_address": "a", "user": "u", "password": "p", "reseed": "yes"}, "reseed", "not a boolean"},
		{"mysql_replica_start", map[string]any{"source": "mn1", "source_address": "a", "user": "u", "password": "p", "port": "3306/tcp"}, "port", "not a whole number"},
		{"mysql_replica_start", map[string]any{"source": "mn1", "source_adress": "a", "source_address": "a", "user": "u", "password": "p"}, "source_adress", `did you mean "source_address"`},
		{"mysql_replica_status", map[string]any{"want": "none", "max_lag": "30s"}, "", ""},
		{"mysql_replica_status", map[string]any{"want": "stopped"}, "want", "not one of running, none"},
		{"mysql_replica_status", map[string]any{"max_lag": "30"}, "max_lag", "not a duration"},
		{"mysql_promote", map[string]any{"conf_file": "/c", "client": "mysql"}, "", ""},
		{"mysql_promote", map[string]any{"read_only": "false"}, "read_only", "has no argument"},
		{"mysql_catch_up", map[string]any{"source": "mn1", "wait": "90s"}, "", ""},
		{"mysql_catch_up", map[string]any{"source": "mn1", "wait": "60"}, "wait", "not a duration"},
		{"mysql_catch_up", map[string]any{"source": []string{"mn1", "mn3"}}, "source", "is a list"},
	}
	for _, tt := range tests {
		_, errs := decode(acts[tt.action], tt.with)
		if tt.badArg == "" {
			if len(errs) > 0 {
				t.Errorf("%s %v: %v", tt.action, tt.with, errors.Join(errs...))
			}
			continue
		}
		var ae *workflow.ArgError
		if len(errs) != 1 || !errors.As(errs[0], &ae) || ae.Arg != tt.badArg || !strings.Contains(ae.Msg, tt.msg) || !strings.Contains(ae.Msg, tt.badArg) {
			t.Errorf("%s %v: errors %v, want one naming %s with %q", tt.action, tt.with, errs, tt.badArg, tt.msg)
		}
	}
	for name, a := range acts {
		workflow.SpecOf(a.NewArgs())
		if len(a.Plan("mn2", a.NewArgs())) == 0 {
			t.Errorf("%s plans nothing", name)
		}
	}
}
