package files

import (
	"context"
	"errors"
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
	answer func(script string) remote.Result
}

func (f *recorder) Exec(_ context.Context, _ remote.Host, c remote.Command) (remote.Result, error) {
	f.ran = append(f.ran, c)
	in := ""
	if c.Stdin != nil {
		b, _ := io.ReadAll(c.Stdin)
		in = string(b)
	}
	f.stdins = append(f.stdins, in)
	return f.answer(c.Script), nil
}

func (f *recorder) Close() error { return nil }

func (f *recorder) shown() []string {
	var out []string
	for _, c := range f.ran {
		out = append(out, act.Script{Text: c.Script, AsUser: c.AsUser}.Shown())
	}
	return out
}

func fakeEnv(answer func(string) remote.Result) (*act.Env, *recorder) {
	ft := &recorder{answer: answer}
	return &act.Env{Transport: ft, Hosts: func(name string) (remote.Host, error) { return remote.Host{Name: name}, nil }}, ft
}

func decoded(t *testing.T, a workflow.Action, vals map[string]any) any {
	t.Helper()
	args := a.NewArgs()
	if errs := args.(workflow.ArgDecoder).DecodeArgs(vals, nil); len(errs) > 0 {
		t.Fatalf("decode %v: %v", vals, errs)
	}
	return args
}

// Bad with: values fail at decoding, each naming its argument.
func TestArgsRejected(t *testing.T) {
	acts := Actions(&act.Env{})
	sync := map[string]any{"to": "mn2", "paths": "/etc/hosts"}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for kk, vv := range m {
			if kk != k {
				out[kk] = vv
			}
		}
		return out
	}
	tests := []struct {
		kind string
		with map[string]any
		arg  string
		msg  string
	}{
		{"rsync", with(sync, "delete", "yes"), "delete", `"yes" is not a boolean: use true or false`},
		{"rsync", with(sync, "checksum", "on"), "checksum", "not a boolean"},
		{"drift", with(sync, "ignore_missing", "1"), "ignore_missing", "not a boolean"},
		{"rsync", with(sync, "pathz", "/x"), "pathz", `has no argument "pathz" (did you mean "paths"?`},
		{"rsync", with(sync, "to", []string{"mn2", "mn3"}), "to", "is a list"},
		{"drift", map[string]any{"to": "mn2"}, "paths", `needs argument "paths"`},
		{"drift", with(sync, "paths", "etc/hosts"), "paths", `"etc/hosts" is not absolute`},
		{"rsync", with(sync, "to", "mn2:/tmp"), "to", "want a host name"},
		{"rsync", with(sync, "dest", "tmp"), "dest", "not absolute"},
		{"crontab", map[string]any{"state": "gone"}, "state", `"gone" is not one of present, absent`},
		{"crontab", map[string]any{"block": "two words", "state": "absent"}, "block", "want one word"},
		{"crontab", map[string]any{"entries": "0 1 * * /bin/x"}, "entries", "not a crontab line"},
		{"crontab", map[string]any{}, "entries", "none given"},
		{"crontab", map[string]any{"entry": "@daily x"}, "entry", `has no argument "entry" (it takes: entries, block, user, state)`},
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

// Values known only at run time are checked when they are known.
func TestArgsRunTimeValues(t *testing.T) {
	ph := workflow.Placeholder("steps", "sync_credentials", "out", "cron_command")
	a := Crontab{}.NewArgs().(*CrontabArgs)
	if errs := a.DecodeArgs(map[string]any{"entries": "0 1 * * * " + ph}, map[string]bool{"entries": true}); len(errs) > 0 {
		t.Errorf("crontab: %v", errs)
	}
	s := Rsync{}.NewArgs().(*SyncArgs)
	if errs := s.DecodeArgs(map[string]any{"to": "mn2", "paths": workflow.Placeholder("params", "paths")}, map[string]bool{"paths": true}); len(errs) > 0 {
		t.Errorf("rsync: %v", errs)
	}
}

// Every action's plan is exactly what its run executes, in order.
func TestPlanIsWhatRuns(t *testing.T) {
	itemized := remote.Result{Stdout: []byte(">f.s....... etc/hosts\n")}
	tests := []struct {
		kind   string
		with   map[string]any
		answer func(string) remote.Result
	}{
		{"rsync", map[string]any{"to": "root@mn2", "paths": "/etc/hosts /etc/resolv.conf", "checksum": "true", "rsync": "/usr/bin/rsync"}, func(string) remote.Result { return itemized }},
		{"drift", map[string]any{"to": "mn2", "paths": []string{"/install"}, "dest": "/", "delete": "true", "exclude": "*.iso"}, func(string) remote.Result { return itemized }},
		{"crontab", map[string]any{"block": "sync", "user": "xcat", "entries": "0 1 * * * /usr/bin/rsync -az /etc/hosts mn2:/\n@reboot /bin/true\n"},
			func(s string) remote.Result {
				if s == cronRead {
					return remote.Result{Exit: 1, Stderr: []byte("no crontab for xcat\n")}
				}
				return remote.Result{}
			}},
		{"crontab", map[string]any{"block": "sync", "state": "absent"},
			func(s string) remote.Result {
				if s == cronRead {
					return remote.Result{Stdout: []byte("# BEGIN hamnflow sync\n@daily x\n# END hamnflow sync\n")}
				}
				return remote.Result{}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			env, ft := fakeEnv(tt.answer)
			a := Actions(env)[tt.kind]
			args := decoded(t, a, tt.with)
			plan := a.Plan("mn1", args)
			o, err := a.Run(context.Background(), workflow.Call{Host: "mn1", Args: args})
			if err != nil {
				t.Fatal(err)
			}
			if got := ft.shown(); !reflect.DeepEqual(got, plan) {
				t.Errorf("ran:\n%s\n\nplanned:\n%s", strings.Join(got, "\n---\n"), strings.Join(plan, "\n---\n"))
			}
			if o.Command != strings.Join(plan, "\n") {
				t.Errorf("outcome command %q", o.Command)
			}
		})
	}
}

// The plan of crontab shows the block it writes; the install is fed the
// whole new table on stdin.
func TestCrontabPlanShowsBlock(t *testing.T) {
	env, ft := fakeEnv(func(s string) remote.Result {
		if s == cronRead {
			return remote.Result{Stdout: []byte("MAILTO=ops\n")}
		}
		return remote.Result{}
	})
	a := Actions(env)["crontab"]
	args := decoded(t, a, map[string]any{"block": "sync", "entries": []string{"0 1 * * * /usr/bin/rsync -az /etc/hosts mn2:/", "0 2 * * * /usr/bin/rsync -az /install mn2:/"}})
	want := []string{"crontab -l", "# set hamnflow block \"sync\" of the crontab to:\n#   0 1 * * * /usr/bin/rsync -az /etc/hosts mn2:/\n#   0 2 * * * /usr/bin/rsync -az /install mn2:/\n" + cronWrite}
	if got := a.Plan("mn1", args); !reflect.DeepEqual(got, want) {
		t.Errorf("plan:\n%q\nwant\n%q", got, want)
	}
	if _, err := a.Run(context.Background(), workflow.Call{Host: "mn1", Args: args}); err != nil {
		t.Fatal(err)
	}
	if ft.stdins[1] != "MAILTO=ops\n# BEGIN hamnflow sync\n0 1 * * * /usr/bin/rsync -az /etc/hosts mn2:/\n0 2 * * * /usr/bin/rsync -az /install mn2:/\n# END hamnflow sync\n" {
		t.Errorf("installed %q", ft.stdins[1])
	}
}

// crontab's undo puts the block back as the run found it.
func TestCrontabReverse(t *testing.T) {
	ct := Crontab{}
	tests := []struct {
		name    string
		with    map[string]any
		outputs map[string]string
		state   string
		entries []string
		restore bool
	}{
		{"added: remove", map[string]any{"entries": "@daily x"}, map[string]string{"was": "absent"}, "absent", nil, false},
		{"replaced: old entries back", map[string]any{"entries": "@daily x"}, map[string]string{"was": "present", "was_entries": "@hourly y\n5 * * * * z"}, "present", []string{"@hourly y", "5 * * * * z"}, false},
		{"removed: entries back", map[string]any{"state": "absent"}, map[string]string{"was": "present", "was_entries": "@hourly y"}, "present", []string{"@hourly y"}, false},
		{"nothing to remove: nothing", map[string]any{"state": "absent"}, map[string]string{"was": "absent"}, "absent", nil, false},
		{"plan of present", map[string]any{"entries": "@daily x"}, nil, "absent", nil, false},
		{"plan of absent", map[string]any{"state": "absent"}, nil, "present", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := decoded(t, ct, tt.with).(*CrontabArgs)
			got := ct.Reverse(args, tt.outputs).(*CrontabArgs)
			if got.State != tt.state || !reflect.DeepEqual(got.Entries, tt.entries) || got.restore != tt.restore {
				t.Errorf("got %+v", got)
			}
			if plan := ct.Plan("mn1", got); len(plan) != 2 || strings.Contains(plan[1], "<no value>") {
				t.Errorf("plan %q", plan)
			}
		})
	}
	// An undo with nothing recorded refuses instead of guessing.
	restore := ct.Reverse(decoded(t, ct, map[string]any{"state": "absent"}), map[string]string{})
	env, ft := fakeEnv(func(string) remote.Result { return remote.Result{} })
	if _, err := (Crontab{Env: env}).Run(context.Background(), workflow.Call{Host: "mn1", Args: restore}); err == nil || !strings.Contains(err.Error(), "nothing recorded") || len(ft.ran) != 0 {
		t.Errorf("restore without a record: %v, ran %v", err, ft.ran)
	}
}

// crontab records the block it found, for its undo.
func TestCrontabRecordsWas(t *testing.T) {
	env, _ := fakeEnv(func(s string) remote.Result {
		if s == cronRead {
			return remote.Result{Stdout: []byte("MAILTO=ops\n# BEGIN hamnflow sync\n@hourly old\n# END hamnflow sync\n")}
		}
		return remote.Result{}
	})
	a := Actions(env)["crontab"]
	o, err := a.Run(context.Background(), workflow.Call{Host: "mn1", Args: decoded(t, a, map[string]any{"block": "sync", "entries": "@daily new"})})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"changed": "true", "entries": "1", "was": "present", "was_entries": "@hourly old"}
	if !reflect.DeepEqual(o.Outputs, want) {
		t.Errorf("outputs %v", o.Outputs)
	}
	if strings.Contains(o.Stdout, "MAILTO") {
		t.Errorf("stdout holds another line of the crontab: %q", o.Stdout)
	}
}

// rsync's failures name what, where and why.
func TestRsyncFails(t *testing.T) {
	env, _ := fakeEnv(func(string) remote.Result {
		return remote.Result{Exit: 23, Stderr: []byte("rsync: [sender] link_stat \"/etc/nope\" failed: No such file or directory (2)\nrsync error: some files/attrs were not transferred (see previous errors) (code 23)\n")}
	})
	a := Actions(env)["rsync"]
	_, err := a.Run(context.Background(), workflow.Call{Host: "mn1", Args: decoded(t, a, map[string]any{"to": "mn2", "paths": "/etc/nope"})})
	if err == nil || !strings.Contains(err.Error(), "sync /etc/nope to mn2 on mn1: rsync exit status 23: rsync: [sender] link_stat") {
		t.Errorf("err = %v", err)
	}
}
