package postgres

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

// recorder is a transport that answers scripts by a function and records
// what it ran.
type recorder struct {
	ran    []remote.Command
	stdins []string
	answer func(script string) (remote.Result, error)
}

func (f *recorder) Exec(_ context.Context, _ remote.Host, c remote.Command) (remote.Result, error) {
	f.ran = append(f.ran, c)
	in := ""
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		in = string(b)
	}
	f.stdins = append(f.stdins, in)
	if f.answer == nil {
		return remote.Result{}, nil
	}
	return f.answer(c.Script)
}

func (f *recorder) Close() error { return nil }

// shown is what the recorder ran, as plans show it.
func (f *recorder) shown() []string {
	var out []string
	for _, c := range f.ran {
		out = append(out, act.Script{Text: c.Script, AsUser: c.AsUser}.Shown())
	}
	return out
}

func fakeEnv(answer func(string) (remote.Result, error)) (*act.Env, *recorder) {
	ft := &recorder{answer: answer}
	return &act.Env{Transport: ft, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name, Address: name}, nil }}, ft
}

func ok(stdout string) (remote.Result, error) { return remote.Result{Stdout: []byte(stdout)}, nil }

// testSettings are the inventory's settings of the tests (Debian's layout).
var testSettings = Settings{BinDir: "/usr/lib/postgresql/15/bin", DataDir: "/var/lib/postgresql/15/main", User: "postgres", Port: 5432}

// decoded decodes with: values (text, or []string for lists) for an action.
func decoded(t *testing.T, a workflow.Action, vals map[string]any) any {
	t.Helper()
	args := a.NewArgs()
	if errs := args.(workflow.ArgDecoder).DecodeArgs(vals, nil); len(errs) > 0 {
		t.Fatalf("decode %v: %v", vals, errs)
	}
	return args
}

func run(t *testing.T, a workflow.Action, host string, args any, secrets ...string) (workflow.Outcome, error) {
	t.Helper()
	return a.Run(context.Background(), workflow.Call{Host: host, Args: args, Secrets: secrets})
}

// The replication password reaches pg_basebackup and pg_rewind through
// stdin only: never in the script, the plan or the outcome.
func TestPasswordOnStdin(t *testing.T) {
	const pw = "s3cret-pw"
	for _, tt := range []struct {
		kind string
		with map[string]any
		want []string
	}{
		{"pg_basebackup", map[string]any{"primary": "198.51.100.11", "repl_user": "replicator", "password": pw},
			[]string{`pg_basebackup -h 198.51.100.11 -p 5432 -U replicator -D "$new" -R -X stream -c fast -w`, `mv "$new" /var/lib/postgresql/15/main`}},
		{"pg_rewind", map[string]any{"source": "198.51.100.12", "repl_user": "replicator", "password": pw},
			[]string{`pg_rewind -D /var/lib/postgresql/15/main --source-server='host=198.51.100.12 port=5432 user=replicator dbname=postgres' -R --progress`,
				`pg_basebackup -h 198.51.100.12 -p 5432 -U replicator -D "$new" -R -X stream -c fast -w`}},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			env, ft := fakeEnv(nil)
			a := Actions(env, testSettings)[tt.kind]
			args := decoded(t, a, tt.with)
			o, err := run(t, a, "mn2", args, pw)
			if err != nil {
				t.Fatal(err)
			}
			if len(ft.ran) != 1 || ft.ran[0].AsUser != "postgres" {
				t.Fatalf("ran %+v", ft.ran)
			}
			for _, shown := range append([]string{ft.ran[0].Script, o.Command}, a.Plan("mn2", args)...) {
				if strings.Contains(shown, pw) {
					t.Errorf("password in a command: %s", shown)
				}
			}
			if ft.stdins[0] != pw+"\n" {
				t.Errorf("stdin %q", ft.stdins[0])
			}
			if !strings.Contains(ft.ran[0].Script, "IFS= read -r PGPASSWORD") {
				t.Errorf("script does not read the password:\n%s", ft.ran[0].Script)
			}
			for _, want := range tt.want {
				if !strings.Contains(ft.ran[0].Script, want) {
					t.Errorf("script lacks %q:\n%s", want, ft.ran[0].Script)
				}
			}
		})
	}
}

// Without a password nothing reads stdin (a transport without stdin must
// not hang on it).
func TestNoPasswordNoRead(t *testing.T) {
	env, ft := fakeEnv(nil)
	a := Actions(env, testSettings)["pg_basebackup"]
	if _, err := run(t, a, "mn2", decoded(t, a, map[string]any{"primary": "198.51.100.11"})); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ft.ran[0].Script, "read") || ft.ran[0].Stdin != nil {
		t.Errorf("reads a password that was not given:\n%s", ft.ran[0].Script)
	}
	if !strings.Contains(ft.ran[0].Script, "-U postgres ") {
		t.Errorf("repl_user does not default to postgres:\n%s", ft.ran[0].Script)
	}
}

// pg_conf reads both files, writes back only what changed, keeps a
// backup, then reloads.
func TestConfEditsAndReloads(t *testing.T) {
	files := map[string]string{
		"/var/lib/postgresql/15/main/postgresql.conf": "listen_addresses = 'localhost'\nport = 5432\n",
		"/var/lib/postgresql/15/main/pg_hba.conf":     "host all all 198.51.100.10/32 md5\n",
	}
	env, ft := fakeEnv(func(script string) (remote.Result, error) {
		if p, ok := strings.CutPrefix(script, "cat "); ok {
			return remote.Result{Stdout: []byte(files[p])}, nil
		}
		if strings.Contains(script, "pending_restart") {
			return ok("restart needed for: listen_addresses\nrestarted=yes\n")
		}
		if strings.Contains(script, " -C ") {
			return ok("listen_addresses=localhost\n")
		}
		return ok("")
	})
	a := Actions(env, testSettings)["pg_conf"]
	args := decoded(t, a, map[string]any{"set": "listen_addresses += 198.51.100.10", "hba": "host all all 198.51.100.10/32 md5"})
	o, err := run(t, a, "mn2", args)
	if err != nil {
		t.Fatal(err)
	}
	var writes []string
	for i, c := range ft.ran {
		if strings.Contains(c.Script, ".hamnflow-new") {
			writes = append(writes, ft.stdins[i])
			if !strings.Contains(c.Script, ".hamnflow-bak") {
				t.Errorf("write without backup: %s", c.Script)
			}
		}
	}
	if len(writes) != 1 || !strings.Contains(writes[0], "listen_addresses = 'localhost,198.51.100.10' # set by hamnflow") {
		t.Errorf("writes %q (pg_hba.conf already had the record)", writes)
	}
	if o.Outputs["changed"] != "listen_addresses" || o.Outputs["restarted"] != "true" {
		t.Errorf("outputs %v", o.Outputs)
	}
	if last := ft.ran[len(ft.ran)-1]; last.AsUser != "postgres" || !strings.Contains(last.Script, "pg_ctl -D /var/lib/postgresql/15/main reload") {
		t.Errorf("last command %+v", last)
	}
	// The files' text is not journaled: only what changed.
	if strings.Contains(o.Stdout, "port = 5432") {
		t.Errorf("stdout holds the file: %q", o.Stdout)
	}
}

// listen_addresses += adds to the list in effect, which postgres -C reads
// from every file: a later file's "*" (Debian's conf.d, as xCAT's
// pgsqlsetup or an administrator leaves it) already holds every address,
// and appending "localhost,ADDR" to postgresql.conf would override it and
// stop the server listening on its own address (the real lab's failback
// met exactly that).
func TestConfAddsToTheValueInEffect(t *testing.T) {
	for _, tt := range []struct {
		effective, want string // want "": no write
	}{
		{"*", ""},
		{"localhost,198.51.100.12", "listen_addresses = 'localhost,198.51.100.12,198.51.100.10' # set by hamnflow"},
		{"198.51.100.10", ""},
	} {
		env, ft := fakeEnv(func(script string) (remote.Result, error) {
			switch {
			case strings.HasPrefix(script, "cat "):
				return ok("listen_addresses = 'localhost'\ninclude_dir = 'conf.d'\n")
			case strings.Contains(script, " -C "):
				return ok("listen_addresses=" + tt.effective + "\n")
			}
			return ok("reloaded\n")
		})
		a := Actions(env, testSettings)["pg_conf"]
		if _, err := run(t, a, "mn2", decoded(t, a, map[string]any{"set": "listen_addresses += 198.51.100.10"})); err != nil {
			t.Fatal(err)
		}
		var writes []string
		for i, c := range ft.ran {
			if strings.Contains(c.Script, ".hamnflow-new") {
				writes = append(writes, ft.stdins[i])
			}
		}
		switch {
		case tt.want == "" && len(writes) > 0:
			t.Errorf("in effect %q: wrote %q, want no change", tt.effective, writes)
		case tt.want != "" && (len(writes) != 1 || !strings.Contains(writes[0], tt.want)):
			t.Errorf("in effect %q: wrote %q, want %q", tt.effective, writes, tt.want)
		}
	}
}

// pg_conf's failures say which file and which host.
func TestConfReadFails(t *testing.T) {
	env, _ := fakeEnv(func(script string) (remote.Result, error) {
		return remote.Result{Exit: 1, Stderr: []byte("cat: /etc/postgresql/15/main/postgresql.conf: Permission denied\n")}, nil
	})
	a := Actions(env, testSettings)["pg_conf"]
	_, err := run(t, a, "mn2", decoded(t, a, map[string]any{"conf_dir": "/etc/postgresql/15/main", "set": "wal_level = replica"}))
	if err == nil || !strings.Contains(err.Error(), "configure PostgreSQL on mn2: read /etc/postgresql/15/main/postgresql.conf: exit status 1: cat:") {
		t.Errorf("err = %v", err)
	}
}

// pg_status checks what the step expects, on real psql output.
func TestStatusChecks(t *testing.T) {
	primary := readTestdata(t, "status_primary_streaming.txt")
	standby := readTestdata(t, "status_standby_streaming.txt")
	tests := []struct {
		name, out string
		with      map[string]any
		err       string
		outputs   map[string]string
	}{
		{"primary as expected", primary, map[string]any{"expect_role": "primary", "min_replicas": "1"}, "",
			map[string]string{"role": "primary", "current_lsn": "0/3015FD0", "replicas": "1", "max_replay_lag": "0.044"}},
		{"too few replicas", primary, map[string]any{"min_replicas": "2"}, "has 1 streaming replica(s), want at least 2", nil},
		{"wrong role", standby, map[string]any{"expect_role": "primary"}, "PostgreSQL on mn2 is a standby, expected a primary", nil},
		{"loss window", standby, map[string]any{"primary_lsn": "0/3016015"}, "",
			map[string]string{"role": "standby", "loss_bytes": "69", "replay_lsn": "0/3015FD0", "receiver": "streaming"}},
		{"primary unknown", standby, map[string]any{"primary_lsn": ""}, "", map[string]string{"loss_bytes": "-1"}},
		{"replayed far enough", standby, map[string]any{"min_replay_lsn": "0/3015FD0"}, "", nil},
		{"not yet replayed", standby, map[string]any{"min_replay_lsn": "0/3016040"}, "standby mn2 replayed WAL up to 0/3015FD0, not yet 0/3016040", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := fakeEnv(func(string) (remote.Result, error) { return ok(tt.out) })
			a := Actions(env, testSettings)["pg_status"]
			o, err := run(t, a, "mn2", decoded(t, a, tt.with))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.outputs {
				if o.Outputs[k] != v {
					t.Errorf("%s = %q, want %q (outputs %v)", k, o.Outputs[k], v, o.Outputs)
				}
			}
		})
	}
}

// A server that does not answer is role "down" only with allow_down.
func TestStatusAllowDown(t *testing.T) {
	down := readTestdata(t, "status_down.txt")
	env, _ := fakeEnv(func(string) (remote.Result, error) { return remote.Result{Exit: 2, Stderr: []byte(down)}, nil })
	a := Actions(env, testSettings)["pg_status"]
	o, err := run(t, a, "mn1", decoded(t, a, map[string]any{"allow_down": "true"}))
	if err != nil || o.Outputs["role"] != "down" || o.Outputs["loss_bytes"] != "-1" {
		t.Errorf("allow_down: %v %v", o.Outputs, err)
	}
	_, err = run(t, a, "mn1", decoded(t, a, nil))
	if err == nil || !strings.Contains(err.Error(), "query PostgreSQL status on mn1: exit status 2") {
		t.Errorf("without allow_down: %v", err)
	}
}

// pg_service reports the state it found and, after a stop, where the WAL
// ends; an unreachable host counts as stopped only with if_reachable.
func TestService(t *testing.T) {
	stopped := "was=running\nstate=stopped\n" + readTestdata(t, "controldata_primary_stopped.txt")
	env, _ := fakeEnv(func(string) (remote.Result, error) { return ok(stopped) })
	a := Actions(env, testSettings)["pg_service"]
	o, err := run(t, a, "mn1", decoded(t, a, map[string]any{"state": "stopped"}))
	want := map[string]string{"was": "running", "state": "stopped", "reachable": "true", "cluster_state": "shut down", "checkpoint_lsn": "0/3015FD0"}
	if err != nil || !reflect.DeepEqual(o.Outputs, want) {
		t.Errorf("stop: %v %v", o.Outputs, err)
	}
	if _, err := run(t, a, "mn1", decoded(t, a, map[string]any{"state": "running"})); err == nil || !strings.Contains(err.Error(), "PostgreSQL on mn1 is stopped, wanted running") {
		t.Errorf("state not reached: %v", err)
	}

	dead := &act.Env{Transport: deadTransport{}, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name}, nil }}
	a = Actions(dead, testSettings)["pg_service"]
	o, err = run(t, a, "mn1", decoded(t, a, map[string]any{"state": "stopped", "if_reachable": "true"}))
	if err != nil || o.Outputs["reachable"] != "false" {
		t.Errorf("if_reachable: %v %v", o.Outputs, err)
	}
	if _, err := run(t, a, "mn1", decoded(t, a, map[string]any{"state": "stopped"})); err == nil || !strings.Contains(err.Error(), "PostgreSQL stopped on mn1") {
		t.Errorf("unreachable host without if_reachable: %v", err)
	}
}

type deadTransport struct{}

func (deadTransport) Exec(context.Context, remote.Host, remote.Command) (remote.Result, error) {
	return remote.Result{Exit: -1}, io.ErrUnexpectedEOF
}
func (deadTransport) Close() error { return nil }

// pg_service's undo puts back the state it recorded.
func TestServiceReverse(t *testing.T) {
	svc := Service{Settings: testSettings}
	tests := []struct {
		with    map[string]any
		outputs map[string]string
		state   string
		check   bool
	}{
		{map[string]any{"state": "stopped"}, map[string]string{"was": "running", "state": "stopped"}, "running", false},
		{map[string]any{"state": "stopped"}, map[string]string{"was": "stopped", "state": "stopped"}, "stopped", false},
		{map[string]any{"state": "running"}, map[string]string{"was": "stopped", "state": "running"}, "stopped", false},
		{map[string]any{"state": "running"}, map[string]string{"was": "running", "state": "running"}, "running", false},
		{map[string]any{"state": "stopped", "if_reachable": "true"}, map[string]string{"reachable": "false"}, "stopped", false},
		{map[string]any{"state": "stopped"}, nil, "running", false}, // planning
		{map[string]any{"state": "running"}, nil, "stopped", false},
		{map[string]any{"state": "stopped", "check": "true"}, map[string]string{"was": "stopped"}, "stopped", true},
	}
	for _, tt := range tests {
		args := decoded(t, svc, tt.with).(*ServiceArgs)
		before := *args
		got := svc.Reverse(args, tt.outputs).(*ServiceArgs)
		if got.State != tt.state || got.Check != tt.check {
			t.Errorf("Reverse(%v, %v) = state %s check %v, want %s %v", tt.with, tt.outputs, got.State, got.Check, tt.state, tt.check)
		}
		if !reflect.DeepEqual(*args, before) {
			t.Errorf("Reverse changed its argument")
		}
		if got.server() != args.server() {
			t.Errorf("Reverse lost the settings: %+v", got.server())
		}
	}
}

// Every action's plan is exactly what its run executes, in order: the
// recorder's scripts (and their users) equal the plan's lines.
func TestPlanIsWhatRuns(t *testing.T) {
	status := readTestdata(t, "status_standby_streaming.txt")
	tests := []struct {
		kind   string
		with   map[string]any
		answer func(string) (remote.Result, error)
		lines  int
	}{
		{"pg_status", map[string]any{"expect_role": "standby", "socket": "/run/postgresql"}, func(string) (remote.Result, error) { return ok(status) }, 1},
		{"pg_promote", nil, func(string) (remote.Result, error) { return ok("promoted=yes\n") }, 1},
		{"pg_service", map[string]any{"state": "running", "conf_dir": "/etc/postgresql/15/main", "log": "/var/log/pg.log"},
			func(string) (remote.Result, error) { return ok("was=stopped\nstate=running\n") }, 1},
		{"pg_basebackup", map[string]any{"primary": "198.51.100.11", "password": workflow.Mask}, nil, 1},
		{"pg_rewind", map[string]any{"source": "198.51.100.11", "fallback": "none"}, func(string) (remote.Result, error) { return ok("method=rewind\n") }, 1},
		{"pg_conf", map[string]any{"set": []string{"wal_level = replica", "listen_addresses += 198.51.100.10"}, "hba": "host replication replicator 198.51.100.12/32 scram-sha-256"},
			func(s string) (remote.Result, error) {
				if strings.HasPrefix(s, "cat ") {
					return ok("# empty\n")
				}
				if strings.Contains(s, " -C ") {
					return ok("listen_addresses=localhost\n")
				}
				return ok("reloaded\n")
			}, 6},
		{"pg_conf", map[string]any{"set": "wal_level = replica", "apply": "none"}, func(string) (remote.Result, error) { return ok("") }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			env, ft := fakeEnv(tt.answer)
			a := Actions(env, testSettings)[tt.kind]
			args := decoded(t, a, tt.with)
			plan := a.Plan("mn2", args)
			o, err := run(t, a, "mn2", args)
			if err != nil {
				t.Fatal(err)
			}
			if got := ft.shown(); !reflect.DeepEqual(got, plan) {
				t.Errorf("ran:\n%s\n\nplanned:\n%s", strings.Join(got, "\n---\n"), strings.Join(plan, "\n---\n"))
			}
			if len(plan) != tt.lines {
				t.Errorf("%d commands planned, want %d", len(plan), tt.lines)
			}
			if o.Command != strings.Join(plan, "\n") {
				t.Errorf("outcome command %q", o.Command)
			}
			for _, l := range plan {
				if strings.Contains(l, "<no value>") || strings.TrimSpace(l) == "" {
					t.Errorf("plan line %q", l)
				}
			}
		})
	}
}

// A plan shows the edit pg_conf makes, the settings' programs and the
// overrides of with:.
func TestPlanShows(t *testing.T) {
	acts := Actions(&act.Env{}, Settings{BinDir: "/usr/lib/postgresql/15/bin", DataDir: "/var/lib/postgresql/15/main", ConfDir: "/etc/postgresql/15/main"})
	tests := []struct {
		kind string
		with map[string]any
		want []string
	}{
		{"pg_conf", map[string]any{"set": "wal_level = replica; hot_standby = on", "hba": "host  all all 198.51.100.10/32  md5"}, []string{
			"cat /etc/postgresql/15/main/postgresql.conf",
			"# set wal_level = replica in /etc/postgresql/15/main/postgresql.conf\n# set hot_standby = on in /etc/postgresql/15/main/postgresql.conf\nset -e\n",
			"cat /etc/postgresql/15/main/pg_hba.conf",
			`# ensure "host all all 198.51.100.10/32 md5" in /etc/postgresql/15/main/pg_hba.conf` + "\nset -e\n",
			"[as postgres] set -e\nif ! /usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/15/main -o '-c config_file=/etc/postgresql/15/main/postgresql.conf' status",
		}},
		{"pg_status", map[string]any{"bin_dir": "/opt/pg/bin", "port": "5433", "user": "pgowner"}, []string{
			"[as pgowner] /opt/pg/bin/psql -X -A -t -q -v ON_ERROR_STOP=1 -p 5433 -d postgres -c 'SELECT '\\''node'\\'', pg_is_in_recovery()",
		}},
		{"pg_service", map[string]any{"state": "stopped", "data_dir": "/srv/pg", "conf_dir": "/srv/pg"}, []string{
			"[as postgres] if /usr/lib/postgresql/15/bin/pg_ctl -D /srv/pg status >/dev/null 2>&1; then was=running; else was=stopped; fi\necho \"was=$was\"\nset -e\n[ \"$was\" = stopped ] || /usr/lib/postgresql/15/bin/pg_ctl -D /srv/pg -m fast -w -t 120 stop >/dev/null\n",
		}},
	}
	for _, tt := range tests {
		a := acts[tt.kind]
		plan := a.Plan("mn2", decoded(t, a, tt.with))
		if len(plan) != len(tt.want) {
			t.Fatalf("%s: plan %q", tt.kind, plan)
		}
		for i, w := range tt.want {
			if !strings.HasPrefix(plan[i], w) {
				t.Errorf("%s: line %d\n%s\nwant prefix\n%s", tt.kind, i, plan[i], w)
			}
		}
	}
}

// On a systemd host the server is started and stopped through its unit
// (so that systemd knows its state), the scripts run as root and the
// server's programs as its owner through runuser (pg_ctl refuses root); on
// a SysV host, and with unit: none, pg_ctl does it as the owner.
func TestSystemdUnit(t *testing.T) {
	hosts := map[string]string{"mn1": "systemd", "mn2": "sysv"}
	ft := &recorder{answer: func(string) (remote.Result, error) { return ok("was=running\nstate=stopped\n") }}
	env := &act.Env{Transport: ft, Hosts: func(name string) (remote.Host, error) {
		return remote.Host{Name: name, Address: name, Init: hosts[name]}, nil
	}}
	for _, tt := range []struct {
		host, unit string
		settings   Settings
		asUser     string
		has, hasNo []string
	}{
		{"mn1", "", testSettings, "", []string{"systemctl stop postgresql@15-main.service", "runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D"}, []string{"-m fast"}},
		{"mn1", "pg-xcat", testSettings, "", []string{"systemctl stop pg-xcat.service"}, nil},
		{"mn1", "none", testSettings, "postgres", []string{"pg_ctl -D /var/lib/postgresql/15/main -m fast -w -t 120 stop"}, []string{"systemctl", "runuser"}},
		{"mn2", "", testSettings, "postgres", []string{"-m fast -w -t 120 stop"}, []string{"systemctl", "runuser"}},
		{"mn1", "", Settings{BinDir: "/usr/pgsql-15/bin", DataDir: "/var/lib/pgsql/15/data"}, "", []string{"systemctl stop postgresql-15.service"}, nil},
	} {
		ft.ran = nil
		a := Actions(env, tt.settings)["pg_service"]
		args := decoded(t, a, map[string]any{"state": "stopped", "unit": tt.unit})
		if _, err := run(t, a, tt.host, args); err != nil {
			t.Fatalf("%s unit %q: %v", tt.host, tt.unit, err)
		}
		c := ft.ran[0]
		if c.AsUser != tt.asUser {
			t.Errorf("%s unit %q: runs as %q, want %q", tt.host, tt.unit, c.AsUser, tt.asUser)
		}
		plan := strings.Join(a.Plan(tt.host, args), "\n")
		for _, s := range []string{c.Script, plan} {
			for _, w := range tt.has {
				if !strings.Contains(s, w) {
					t.Errorf("%s unit %q: no %q in\n%s", tt.host, tt.unit, w, s)
				}
			}
			for _, w := range tt.hasNo {
				if strings.Contains(s, w) {
					t.Errorf("%s unit %q: %q in\n%s", tt.host, tt.unit, w, s)
				}
			}
		}
	}
	// pg_basebackup starts the clone through the unit too.
	ft.ran = nil
	a := Actions(env, testSettings)["pg_basebackup"]
	if _, err := run(t, a, "mn1", decoded(t, a, map[string]any{"primary": "198.51.100.11"})); err != nil {
		t.Fatal(err)
	}
	if s := ft.ran[0].Script; !strings.Contains(s, "systemctl start postgresql@15-main.service") || !strings.Contains(s, "runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_basebackup") {
		t.Errorf("pg_basebackup on systemd:\n%s", s)
	}
}
