package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hamnflow/hamnflow/steps/act"
	"github.com/hamnflow/hamnflow/steps/remote"
	"github.com/hamnflow/hamnflow/workflow"
)

func TestParseIntegrityReport(t *testing.T) {
	r, err := ParseIntegrityReport("== /etc/xcat/site.sqlite\nok\n== /etc/xcat/nodelist.sqlite\n*** in database main ***\nPage 3: btreeInitPage() returns error code 11\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || len(r.Files) != 2 || len(r.Problems["/etc/xcat/nodelist.sqlite"]) != 2 || r.Problems["/etc/xcat/site.sqlite"] != nil {
		t.Errorf("got %+v", r)
	}
	if r, _ := ParseIntegrityReport("== a\nok\n"); !r.OK() {
		t.Errorf("one sound file: %+v", r)
	}
	if r, _ := ParseIntegrityReport("== a\n"); r.OK() {
		t.Error("a file without an answer counted as sound")
	}
	if _, err := ParseIntegrityReport("ok\n"); err == nil {
		t.Error("output before any file parsed")
	}
}

// TestParseIntegrityReportReal reads what sqlite_check's script printed
// for real files (testdata, made with sqlite3 3.40: sound files, two
// damaged ones, one that is no database).
func TestParseIntegrityReportReal(t *testing.T) {
	tests := []struct {
		file  string
		files []string
		bad   map[string]string // file -> a line of what it said
	}{
		{"integrity_ok.txt", []string{"/etc/xcat/nodelist.sqlite", "/etc/xcat/site.sqlite"}, nil},
		{"integrity_damaged.txt", []string{"/etc/xcat/nodelist.sqlite", "/etc/xcat/site.sqlite"}, map[string]string{
			"/etc/xcat/nodelist.sqlite": "Page 2: free space corruption",
			"/etc/xcat/site.sqlite":     "Error: in prepare, database disk image is malformed (11)"}},
		{"integrity_notadb.txt", []string{"/etc/xcat/notdb.sqlite"}, map[string]string{
			"/etc/xcat/notdb.sqlite": "Error: in prepare, file is not a database (26)"}},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseIntegrityReport(string(b))
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if !slices.Equal(r.Files, tt.files) || r.OK() != (tt.bad == nil) || len(r.Problems) != len(tt.bad) {
			t.Errorf("%s: %+v", tt.file, r)
		}
		for f, line := range tt.bad {
			if !slices.Contains(r.Problems[f], line) {
				t.Errorf("%s: problems of %s = %q, want %q among them", tt.file, f, r.Problems[f], line)
			}
		}
	}
}

// recorder runs commands on this machine and records them.
type recorder struct{ scripts []string }

func (r *recorder) Exec(ctx context.Context, h remote.Host, c remote.Command) (remote.Result, error) {
	r.scripts = append(r.scripts, c.Script)
	if c.AsUser != "" || c.Stdin != nil {
		return remote.Result{Exit: -1}, fmt.Errorf("unexpected user %q or stdin", c.AsUser)
	}
	return remote.Local{}.Exec(ctx, h, c)
}

func (r *recorder) Close() error { return nil }

// decode decodes with: into a's arguments as the engine does.
func decode(a workflow.Action, with map[string]any) (any, []error) {
	args := a.NewArgs()
	if d, ok := args.(workflow.ArgDecoder); ok {
		return args, d.DecodeArgs(with, nil)
	}
	return args, workflow.DecodeArgs(args, with, nil)
}

// run decodes with: and runs the action on this machine, and checks that
// it ran exactly what it plans.
func run(t *testing.T, acts map[string]workflow.Action, r *recorder, name string, with map[string]any) (workflow.Outcome, error) {
	t.Helper()
	a := acts[name]
	args, errs := decode(a, with)
	if len(errs) > 0 {
		t.Fatalf("%s %v: %v", name, with, errors.Join(errs...))
	}
	plan := a.Plan("local", args)
	r.scripts = nil
	o, err := a.Run(context.Background(), workflow.Call{Host: "local", Args: args})
	if len(r.scripts) > 0 && !slices.Equal(r.scripts, plan) {
		t.Errorf("%s ran\n%s\nbut plans\n%s", name, strings.Join(r.scripts, "\n--\n"), strings.Join(plan, "\n--\n"))
	}
	if err == nil && len(r.scripts) != len(plan) {
		t.Errorf("%s ran %d commands, plans %d", name, len(r.scripts), len(plan))
	}
	return o, err
}

func TestSQLiteCheckLocal(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Fatal("sqlite3 is not installed (apt-get install sqlite3)")
	}
	dir := t.TempDir()
	for _, n := range []string{"site", "nodelist"} {
		if out, err := exec.Command("sqlite3", filepath.Join(dir, n+".sqlite"), "CREATE TABLE t(x); INSERT INTO t VALUES(1);").CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	r := &recorder{}
	acts := Actions(&act.Env{Transport: r}, Settings{Path: dir})
	o, err := run(t, acts, r, "sqlite_check", map[string]any{"path": dir})
	if err != nil || o.Outputs["files"] != "2" {
		t.Fatalf("check of two sound files: %v %v", o.Outputs, err)
	}
	// Without path, the inventory's.
	if o, err := run(t, acts, r, "sqlite_check", map[string]any{}); err != nil || o.Outputs["files"] != "2" {
		t.Fatalf("check of the inventory's database: %v %v", o.Outputs, err)
	}
	if err := exec.Command("sh", "-c", "printf garbage | dd of="+filepath.Join(dir, "site.sqlite")+" bs=1 seek=100 conv=notrunc 2>/dev/null").Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, acts, r, "sqlite_check", map[string]any{"path": dir}); err == nil || !strings.Contains(err.Error(), "site.sqlite") {
		t.Errorf("a damaged file passed: %v", err)
	}
	if _, err := run(t, acts, r, "sqlite_check", map[string]any{"path": filepath.Join(dir, "none")}); err == nil {
		t.Error("a missing database passed")
	}
	sync := Actions(&act.Env{}, Settings{})["sqlite_sync"]
	if _, err := sync.Run(context.Background(), workflow.Call{Args: &SyncArgs{Path: "/etc/x y", To: "mn2"}}); err == nil {
		t.Error("a path with a space was accepted")
	}
	if _, err := sync.Run(context.Background(), workflow.Call{Args: &SyncArgs{To: "mn2"}}); err == nil || !strings.Contains(err.Error(), "path") {
		t.Errorf("no path anywhere: %v", err)
	}
}

// TestSyncScriptInstall installs the copy script on this machine: the
// script is what sqlite_sync runs, for the inventory's database.
func TestSyncScriptInstall(t *testing.T) {
	r := &recorder{}
	acts := Actions(&act.Env{Transport: r}, Settings{Path: "/etc/xcat"})
	script := filepath.Join(t.TempDir(), "bin", "sqlite-sync")
	if _, err := run(t, acts, r, "sqlite_sync_script", map[string]any{"to": "mn2", "script": script}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	syncArgs, _ := decode(acts["sqlite_sync"], map[string]any{"to": "mn2"})
	want := "#!/bin/sh\n# written by hamnflow: copy the xCAT SQLite database to the standby MN\n" + acts["sqlite_sync"].Plan("mn1", syncArgs)[0]
	if string(b) != want {
		t.Errorf("installed script:\n%s\nwant\n%s", b, want)
	}
	if fi, _ := os.Stat(script); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v", fi.Mode())
	}
	if !strings.Contains(want, "src=/etc/xcat\nto=mn2\n") {
		t.Errorf("script does not copy /etc/xcat to mn2:\n%s", want)
	}
}

// TestArgs checks that with: is decoded into each action's typed
// arguments, and that a bad value fails naming its argument.
func TestArgs(t *testing.T) {
	acts := Actions(&act.Env{}, Settings{Path: "/etc/xcat"})
	tests := []struct {
		action string
		with   map[string]any
		badArg string
		msg    string
	}{
		{"sqlite_sync", map[string]any{"path": "/etc/xcat", "to": "mn2"}, "", ""},
		{"sqlite_sync", map[string]any{"to": "root@198.51.100.12"}, "", ""},
		{"sqlite_sync", map[string]any{"path": "/etc/x y", "to": "mn2"}, "path", "use only letters"},
		{"sqlite_sync", map[string]any{"to": "mn2;reboot"}, "to", "use only letters"},
		{"sqlite_sync", map[string]any{"path": "/etc/xcat"}, "to", "needs argument"},
		{"sqlite_sync", map[string]any{"to": "mn2", "script": "/x"}, "script", "has no argument"},
		{"sqlite_sync", map[string]any{"to": []string{"mn2", "mn3"}}, "to", "is a list"},
		{"sqlite_sync_script", map[string]any{"to": "mn2", "script": "/opt/hamnflow/bin/sqlite-sync"}, "", ""},
		{"sqlite_sync_script", map[string]any{"to": "mn2", "script": "/opt/my script"}, "script", "use only letters"},
		{"sqlite_sync_script", map[string]any{"to": "mn2"}, "script", "needs argument"},
		{"sqlite_check", map[string]any{"path": "/etc/x y"}, "", ""}, // quoted: any path
		{"sqlite_check", map[string]any{"pth": "/etc/xcat"}, "pth", `did you mean "path"`},
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
	// A value known only at run time is not checked yet.
	args := acts["sqlite_sync"].NewArgs().(workflow.ArgDecoder)
	if errs := args.DecodeArgs(map[string]any{"to": "<steps.x.out.host>"}, map[string]bool{"to": true}); len(errs) > 0 {
		t.Errorf("run-time to: %v", errs)
	}
}
