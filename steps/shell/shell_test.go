package shell

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

func decoded(t *testing.T, a workflow.Action, vals map[string]any) any {
	t.Helper()
	args := a.NewArgs()
	var errs []error
	if d, ok := args.(workflow.ArgDecoder); ok {
		errs = d.DecodeArgs(vals, nil)
	} else {
		errs = workflow.DecodeArgs(args, vals, nil)
	}
	if len(errs) > 0 {
		t.Fatalf("decode %v: %v", vals, errs)
	}
	return args
}

func TestShellAction(t *testing.T) {
	env := &act.Env{Transport: remote.Router{Local: remote.Local{}}}
	sh := Actions(env)["shell"]
	run := func(host string, vals map[string]any) (workflow.Outcome, error) {
		return sh.Run(context.Background(), workflow.Call{Host: host, Args: decoded(t, sh, vals)})
	}
	o, err := run("", map[string]any{"cmd": "printf 'a\\nb\\n'", "items": "lines"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Items) != 2 || o.Items[0]["name"] != "a" || o.Items[1]["name"] != "b" {
		t.Errorf("items = %v", o.Items)
	}
	_, err = run("", map[string]any{"cmd": "echo boom >&2; exit 4"})
	if err == nil || !strings.Contains(err.Error(), "exit status 4") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("want exit status 4 with stderr, got %v", err)
	}
	if _, err = run("", map[string]any{"cmd": "exit 1", "ok_exit": "0,1"}); err != nil {
		t.Errorf("ok_exit 0,1: %v", err)
	}
	if o, err = run("", map[string]any{"cmd": "exit 3", "ok_exit": []string{"0", "3"}}); err != nil || o.Outputs["exit"] != "3" {
		t.Errorf("ok_exit [0, 3]: %v %v", o.Outputs, err)
	}
	_, err = run("mn1", map[string]any{"cmd": "true"})
	if err == nil || !strings.Contains(err.Error(), "mn1") {
		t.Errorf("a remote host without inventory: %v", err)
	}
}

// Bad with: values fail at decoding, each naming its argument.
func TestArgsRejected(t *testing.T) {
	acts := Actions(&act.Env{})
	tests := []struct {
		kind string
		with map[string]any
		arg  string
		msg  string
	}{
		{"shell", map[string]any{}, "cmd", `needs argument "cmd"`},
		{"shell", map[string]any{"cmd": "true", "ok_exit": "0,one"}, "ok_exit", `"one" is not an exit status`},
		{"shell", map[string]any{"cmd": "true", "ok_exit": []string{"0", "256"}}, "ok_exit", `"256" is not an exit status`},
		{"shell", map[string]any{"cmd": "true", "items": "words"}, "items", `"words" is not one of lines`},
		{"shell", map[string]any{"cmd": "true", "usr": "db2inst1"}, "usr", `has no argument "usr" (did you mean "user"?`},
		{"shell", map[string]any{"cmd": []string{"a", "b"}}, "cmd", "is a list"},
		{"sleep", map[string]any{"for": "5"}, "for", `"5" is not a duration`},
		{"sleep", map[string]any{"for": "-1s"}, "for", "not a duration"},
		{"sleep", map[string]any{"fro": "1s"}, "fro", `has no argument "fro"`},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.arg, func(t *testing.T) {
			args := acts[tt.kind].NewArgs()
			var errs []error
			if d, ok := args.(workflow.ArgDecoder); ok {
				errs = d.DecodeArgs(tt.with, nil)
			} else {
				errs = workflow.DecodeArgs(args, tt.with, nil)
			}
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

type recorder struct{ ran []remote.Command }

func (r *recorder) Exec(_ context.Context, _ remote.Host, c remote.Command) (remote.Result, error) {
	r.ran = append(r.ran, c)
	return remote.Result{Stdout: []byte("x\n")}, nil
}
func (r *recorder) Close() error { return nil }

// shell's plan is exactly what it runs, as whom.
func TestPlanIsWhatRuns(t *testing.T) {
	for _, with := range []map[string]any{
		{"cmd": "db2 get db cfg for xcatdb", "user": "xcatdb"},
		{"cmd": "hostname mn && echo mn > /etc/hostname\n", "ok_exit": "0"},
	} {
		ft := &recorder{}
		sh := Actions(&act.Env{Transport: ft, Hosts: func(n string) (remote.Host, error) { return remote.Host{Name: n}, nil }})["shell"]
		args := decoded(t, sh, with)
		plan := sh.Plan("mn1", args)
		o, err := sh.Run(context.Background(), workflow.Call{Host: "mn1", Args: args})
		if err != nil {
			t.Fatal(err)
		}
		var ran []string
		for _, c := range ft.ran {
			ran = append(ran, act.Script{Text: c.Script, AsUser: c.AsUser}.Shown())
		}
		if !reflect.DeepEqual(ran, plan) || o.Command != plan[0] {
			t.Errorf("ran %q, planned %q, outcome %q", ran, plan, o.Command)
		}
	}
}

func TestSleep(t *testing.T) {
	s := Sleep{}
	for in, want := range map[string]string{"": "sleep 0", "30s": "sleep 30", "1m30s": "sleep 90", "250ms": "sleep 0.25"} {
		with := map[string]any{}
		if in != "" {
			with["for"] = in
		}
		if got := s.Plan("local", decoded(t, s, with)); !reflect.DeepEqual(got, []string{want}) {
			t.Errorf("for %q: plan %q, want %q", in, got, want)
		}
	}
	o, err := s.Run(context.Background(), workflow.Call{Args: decoded(t, s, map[string]any{"for": "10ms"})})
	if err != nil || !o.Ran || o.Command != "sleep 0.01" {
		t.Errorf("sleep 10ms: %+v %v", o, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Run(ctx, workflow.Call{Args: decoded(t, s, map[string]any{"for": "1h"})}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled sleep: %v", err)
	}
}
