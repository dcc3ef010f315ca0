package postgres

import (
	"errors"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/workflow"
)

// Bad with: values fail at decoding (hamnflow validate), each naming its
// argument.
func TestArgsRejected(t *testing.T) {
	acts := Actions(&act.Env{}, testSettings)
	tests := []struct {
		kind string
		with map[string]any
		arg  string // the argument the error names
		msg  string
	}{
		{"pg_status", map[string]any{"allow_down": "yes"}, "allow_down", `"yes" is not a boolean: use true or false`},
		{"pg_status", map[string]any{"bin_dri": "/x"}, "bin_dri", `has no argument "bin_dri" (did you mean "bin_dir"?`},
		{"pg_status", map[string]any{"data_dir": "/x"}, "data_dir", `has no argument "data_dir"`},
		{"pg_status", map[string]any{"min_replicas": "many"}, "min_replicas", `"many" is not a whole number`},
		{"pg_status", map[string]any{"min_replicas": "-1"}, "min_replicas", "is negative"},
		{"pg_status", map[string]any{"expect_role": "leader"}, "expect_role", `"leader" is not one of primary, standby`},
		{"pg_status", map[string]any{"min_replay_lsn": "3000BC0"}, "min_replay_lsn", "want HI/LO"},
		{"pg_status", map[string]any{"port": "postgres"}, "port", `"postgres" is not a whole number`},
		{"pg_status", map[string]any{"port": "70000"}, "port", "not a TCP port"},
		{"pg_status", map[string]any{"user": []string{"a", "b"}}, "user", "is a list"},
		{"pg_promote", map[string]any{"log": "/x"}, "log", `has no argument "log"`},
		{"pg_service", map[string]any{}, "state", `needs argument "state"`},
		{"pg_service", map[string]any{"state": "started"}, "state", `"started" is not one of running, stopped`},
		{"pg_service", map[string]any{"state": "stopped", "check": "yes"}, "check", "not a boolean"},
		{"pg_service", map[string]any{"state": "stopped", "if_reachable": "1"}, "if_reachable", "not a boolean"},
		{"pg_conf", map[string]any{"set": "wal_level"}, "set", "want key = value"},
		{"pg_conf", map[string]any{"apply": "restart"}, "apply", `"restart" is not one of reload, none`},
		{"pg_basebackup", map[string]any{}, "primary", `needs argument "primary"`},
		{"pg_basebackup", map[string]any{"primary": " "}, "primary", "name the primary's address"},
		{"pg_rewind", map[string]any{"source": "mn2", "fallback": "dump"}, "fallback", `"dump" is not one of basebackup, none`},
		{"pg_rewind", map[string]any{"primary": "mn2"}, "primary", `has no argument "primary"`},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.arg, func(t *testing.T) {
			errs := acts[tt.kind].NewArgs().(workflow.ArgDecoder).DecodeArgs(tt.with, nil)
			var found bool
			for _, err := range errs {
				var ae *workflow.ArgError
				if errors.As(err, &ae) && ae.Arg == tt.arg && strings.Contains(ae.Msg, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("errors %v, want one about %s saying %q", errs, tt.arg, tt.msg)
			}
		})
	}
}

// Without bin_dir and data_dir in the inventory, with: must give them.
func TestArgsNeedSettings(t *testing.T) {
	acts := Actions(&act.Env{}, Settings{})
	for kind, want := range map[string][]string{
		"pg_status": {"bin_dir"}, "pg_promote": {"bin_dir", "data_dir"}, "pg_conf": {"bin_dir", "data_dir"},
		"pg_basebackup": {"bin_dir", "data_dir"}, "pg_rewind": {"bin_dir", "data_dir"},
	} {
		with := map[string]any{"primary": "mn1", "source": "mn1"}
		if kind != "pg_basebackup" {
			delete(with, "primary")
		}
		if kind != "pg_rewind" {
			delete(with, "source")
		}
		errs := acts[kind].NewArgs().(workflow.ArgDecoder).DecodeArgs(with, nil)
		var got []string
		for _, err := range errs {
			if ae, ok := err.(*workflow.ArgError); ok && strings.Contains(ae.Msg, "in the inventory") {
				got = append(got, ae.Arg)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: missing %v, want %v (%v)", kind, got, want, errs)
		}
		with["bin_dir"], with["data_dir"] = "/usr/lib/postgresql/15/bin", "/srv/pg"
		if kind == "pg_status" {
			delete(with, "data_dir")
		}
		if errs := acts[kind].NewArgs().(workflow.ArgDecoder).DecodeArgs(with, nil); len(errs) > 0 {
			t.Errorf("%s with bin_dir and data_dir: %v", kind, errs)
		}
	}
}

// with: overrides the inventory's settings, an empty value keeps them,
// and the defaults fill the rest.
func TestArgsOverrideSettings(t *testing.T) {
	set := Settings{BinDir: "/usr/lib/postgresql/15/bin", DataDir: "/var/lib/postgresql/15/main", ConfDir: "/etc/postgresql/15/main", Port: 5433, User: "pgsql", Socket: "/run/postgresql", Log: "/var/log/pg.log"}
	a := Service{Settings: set}
	tests := []struct {
		with map[string]any
		want server
	}{
		{map[string]any{"state": "running"}, server{bin: set.BinDir, data: set.DataDir, conf: set.ConfDir, user: "pgsql", port: 5433, socket: "/run/postgresql", log: "/var/log/pg.log"}},
		{map[string]any{"state": "running", "bin_dir": "/opt/pg/bin", "port": "5432", "user": "postgres", "log": "/tmp/l", "socket": "/tmp"},
			server{bin: "/opt/pg/bin", data: set.DataDir, conf: set.ConfDir, user: "postgres", port: 5432, socket: "/tmp", log: "/tmp/l"}},
		{map[string]any{"state": "running", "bin_dir": "", "user": "", "conf_dir": "/srv/conf"},
			server{bin: set.BinDir, data: set.DataDir, conf: "/srv/conf", user: "pgsql", port: 5433, socket: "/run/postgresql", log: "/var/log/pg.log"}},
	}
	for _, tt := range tests {
		args := decoded(t, a, tt.with).(*ServiceArgs)
		if got := args.server().withLog(args.Log); got != tt.want {
			t.Errorf("%v:\n got  %+v\n want %+v", tt.with, got, tt.want)
		}
	}
	// No settings at all: the defaults, conf_dir following data_dir.
	args := decoded(t, Service{}, map[string]any{"state": "running", "bin_dir": "/b", "data_dir": "/d"}).(*ServiceArgs)
	if got, want := args.server().withLog(args.Log), (server{bin: "/b", data: "/d", conf: "/d", user: "postgres", port: 5432, log: DefaultLog}); got != want {
		t.Errorf("defaults: got %+v, want %+v", got, want)
	}
}

// Values known only at run time are not checked at load time, and the
// plan shows their placeholder.
func TestArgsRunTimeValues(t *testing.T) {
	a := Status{Settings: testSettings}
	args := a.NewArgs()
	ph := workflow.Placeholder("steps", "stop_db", "out", "checkpoint_lsn")
	if errs := args.(workflow.ArgDecoder).DecodeArgs(map[string]any{"min_replay_lsn": ph}, map[string]bool{"min_replay_lsn": true}); len(errs) > 0 {
		t.Fatalf("run-time value rejected: %v", errs)
	}
	if errs := a.NewArgs().(workflow.ArgDecoder).DecodeArgs(map[string]any{"min_replay_lsn": ph}, nil); len(errs) == 0 {
		t.Errorf("a placeholder is not an LSN once known")
	}
}

// Lists come as YAML lists or one a line.
func TestArgsLists(t *testing.T) {
	a := Conf{Settings: testSettings}
	l := decoded(t, a, map[string]any{"set": []string{"wal_level = replica", "hot_standby = on"}, "hba": "local all all peer\nhost all all 10.0.0.0/8 md5\n"}).(*ConfArgs)
	if len(l.Set) != 2 || len(l.HBA) != 2 || l.Apply != "reload" {
		t.Errorf("decoded %+v", l)
	}
}

// The unit a systemd host runs a cluster under, by the distributions'
// layouts; and Debian's configuration directory.
func TestUnitFor(t *testing.T) {
	for _, tt := range []struct{ data, unit, conf string }{
		{"/var/lib/postgresql/15/main", "postgresql@15-main", "/etc/postgresql/15/main"}, // Debian, Ubuntu
		{"/var/lib/postgresql/9.6/xcat/", "postgresql@9.6-xcat", "/etc/postgresql/9.6/xcat"},
		{"/var/lib/pgsql/15/data", "postgresql-15", ""}, // PGDG RPMs
		{"/var/lib/pgsql/data", "postgresql", ""},       // RHEL, SLES
		{"/srv/pg", "postgresql", ""},
		{"/var/lib/postgresql/data", "postgresql", ""},
	} {
		if got := UnitFor(tt.data); got != tt.unit {
			t.Errorf("UnitFor(%q) = %q, want %q", tt.data, got, tt.unit)
		}
		if got := DebianConfDir(tt.data); got != tt.conf {
			t.Errorf("DebianConfDir(%q) = %q, want %q", tt.data, got, tt.conf)
		}
	}
}
