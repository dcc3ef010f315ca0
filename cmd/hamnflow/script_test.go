package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/hamnflow/hamnflow/workflow"

	"github.com/rogpeppe/go-internal/testscript"
	bolt "go.etcd.io/bbolt"

	"github.com/hamnflow/hamnflow/journal"
	etcdjournal "github.com/hamnflow/hamnflow/journal/etcd"
)

// TestMain registers hamnflow as a command of the test scripts: the test
// binary runs main when invoked as "hamnflow".
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"hamnflow": main})
}

// TestScripts runs testdata/script/*.txtar: the command line end to end,
// each script with its own journal in $WORK and no inventory.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HAMNFLOW_JOURNAL", filepath.Join(env.WorkDir, "journal.db"))
			env.Setenv("HAMNFLOW_LOCK_DIR", filepath.Join(env.WorkDir, ".locks"))
			env.Setenv("HAMNFLOW_INVENTORY", "")
			env.Setenv("HAMNFLOW_PLAYBOOKS", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":      cmdExits,
			"lastrun":    cmdLastRun,
			"truncate":   cmdTruncate,
			"oldjournal": cmdOldJournal,
		},
	})
}

// exits CODE COMMAND [ARGS...] runs a command and checks its exit status;
// its stdout and stderr are kept for stdout/stderr checks.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			got = 128 + int(ws.Signal()) // as a shell says it
		}
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// lastrun VAR sets $VAR to the id of the run started last in
// $HAMNFLOW_JOURNAL. (Ids order runs to the second only.)
func cmdLastRun(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: lastrun VAR")
	}
	var j workflow.Store
	if where := ts.Getenv("HAMNFLOW_JOURNAL"); etcdjournal.IsURL(where) {
		j = openEtcd(ts)
	} else {
		bj, err := journal.Open(where)
		ts.Check(err)
		j = bj
	}
	runs, err := j.Runs(workflow.Filter{})
	ts.Check(err)
	if len(runs) == 0 {
		ts.Fatalf("lastrun: no runs in %s", ts.Getenv("HAMNFLOW_JOURNAL"))
	}
	last := runs[0]
	for _, r := range runs {
		if r.StartedAt.After(last.StartedAt) {
			last = r
		}
	}
	ts.Setenv(args[0], last.ID)
}

// truncate FILE SIZE cuts a file short, as a crash or full disk might.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), n))
}

// oldjournal FILE VERSION|foreign writes a journal of another format
// version, or a bbolt database of another application.
func cmdOldJournal(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: oldjournal FILE VERSION|foreign")
	}
	db, err := bolt.Open(ts.MkAbs(args[0]), 0o600, nil)
	ts.Check(err)
	defer db.Close()
	ts.Check(db.Update(func(tx *bolt.Tx) error {
		if args[1] == "foreign" {
			_, err := tx.CreateBucket([]byte("settings"))
			return err
		}
		m, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if err := m.Put([]byte("format"), []byte("hamnflow-journal")); err != nil {
			return err
		}
		if err := m.Put([]byte("version"), []byte(args[1])); err != nil {
			return err
		}
		for _, b := range []string{"runs", "sources", "events"} {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	}))
}
