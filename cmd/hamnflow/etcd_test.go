package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"go.etcd.io/etcd/server/v3/embed"

	etcdjournal "github.com/hamnflow/hamnflow/journal/etcd"
	"github.com/hamnflow/hamnflow/workflow"
)

// TestEtcdScripts runs testdata/etcd/*.txtar with $HAMNFLOW_JOURNAL on a
// real etcd server run in this test process (free loopback ports, a
// temporary data directory), each script under a prefix of its own.
func TestEtcdScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd server")
	}
	endpoint := startEtcd(t)
	var mu sync.Mutex
	locks := map[string]workflow.Lock{} // held by etcdlock, by cluster
	n := 0
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/etcd",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			mu.Lock()
			n++
			prefix := fmt.Sprintf("/script/%d/", n)
			mu.Unlock()
			env.Setenv("ETCD", endpoint)
			env.Setenv("HAMNFLOW_JOURNAL", "etcd://"+endpoint+prefix)
			env.Setenv("HAMNFLOW_LOCK_DIR", filepath.Join(env.WorkDir, ".locks"))
			env.Setenv("HAMNFLOW_INVENTORY", "")
			env.Setenv("HAMNFLOW_PLAYBOOKS", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":   cmdExits,
			"lastrun": cmdLastRun,
			// etcdlock CLUSTER takes the cluster's lock as another
			// operator (alice@mn2, pid 4242) would; etcdunlock gives it up.
			"etcdlock": func(ts *testscript.TestScript, neg bool, args []string) {
				s := openEtcd(ts)
				l, err := s.Lock(args[0], workflow.Holder{User: "alice", Host: "mn2", PID: 4242})
				ts.Check(err)
				mu.Lock()
				locks[ts.Getenv("HAMNFLOW_JOURNAL")+args[0]] = l
				mu.Unlock()
			},
			"etcdunlock": func(ts *testscript.TestScript, neg bool, args []string) {
				mu.Lock()
				l := locks[ts.Getenv("HAMNFLOW_JOURNAL")+args[0]]
				mu.Unlock()
				ts.Check(l.Release())
			},
		},
	})
}

// openEtcd opens the script's etcd journal.
func openEtcd(ts *testscript.TestScript) *etcdjournal.Store {
	cfg, err := etcdjournal.ParseURL(ts.Getenv("HAMNFLOW_JOURNAL"))
	ts.Check(err)
	s, err := etcdjournal.Open(context.Background(), cfg)
	ts.Check(err)
	ts.Defer(func() { s.Close() })
	return s
}

// startEtcd runs a one-member etcd until the test ends and returns its
// client address.
func startEtcd(t *testing.T) string {
	t.Helper()
	free := func() url.URL {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return url.URL{Scheme: "http", Host: l.Addr().String()}
	}
	cfg := embed.NewConfig()
	cfg.Name = "test"
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(cfg.Dir, "etcd.log")}
	client, peer := free(), free()
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatal(err)
	case <-time.After(60 * time.Second):
		t.Fatal("etcd not ready after 60s")
	}
	return e.Clients[0].Addr().String()
}

// TestEtcdPausedOperator: an operator's hamnflow is paused (SIGSTOP) in
// the middle of a step for longer than its lease; a second operator
// resumes the run and ends it; the first is continued (SIGCONT) and
// neither acts nor writes: it stops, says the lock was lost, and exits 6.
func TestEtcdPausedOperator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hamnflow and starts an etcd server")
	}
	endpoint := startEtcd(t)
	l := newCrashLab(t, buildBinary(t))
	l.journal = "etcd://" + endpoint + "/paused/?lease_ttl=2s"
	cfg, err := etcdjournal.ParseURL(l.journal)
	if err != nil {
		t.Fatal(err)
	}
	s, err := etcdjournal.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	l.hold("s2", "pre")
	first := l.start("run", l.pb, "--set", "dir="+l.dir)
	l.waitFor(first, "at-s2-pre") // s2 has started and waits at the gate
	runs, err := s.Runs(workflow.Filter{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v, %v", runs, err)
	}
	id := runs[0].ID
	if err := first.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer first.cmd.Process.Signal(syscall.SIGCONT)
	l.release()

	// The second operator is refused while the lease lives, then resumes.
	start := time.Now()
	for {
		cmd := exec.Command(l.bin, "resume", id)
		cmd.Dir = l.dir
		cmd.Env = append(os.Environ(), "HAMNFLOW_JOURNAL="+l.journal, "HAMNFLOW_INVENTORY=", "HAMNFLOW_PLAYBOOKS=")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err == nil {
			break
		}
		if !errors.As(err, &ee) || ee.ExitCode() != exitLocked || !strings.Contains(string(out), "pid "+strconv.Itoa(first.cmd.Process.Pid)) {
			t.Fatalf("second operator's resume: %v\n%s", err, out)
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the paused operator's lock still held after %s", time.Since(start))
		}
		time.Sleep(300 * time.Millisecond)
	}
	run, err := s.Run(id)
	if err != nil || run.Status != workflow.RunSucceeded {
		t.Fatalf("after the second operator: %+v, %v", run, err)
	}
	before, err := s.Events(id)
	if err != nil {
		t.Fatal(err)
	}

	// The first goes on: its step is let through the gate, if it still
	// waits there.
	if err := first.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if f, err := os.OpenFile(filepath.Join(l.dir, "gate"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		f.WriteString("go\n")
		f.Close()
	}
	if code := first.waitExit(t); code != exitJournal {
		t.Fatalf("the first operator exited %d, want %d\n%s", code, exitJournal, first.stderr.String())
	}
	first.mu.Lock()
	stderr := first.stderr.String()
	first.mu.Unlock()
	if !strings.Contains(stderr, "was lost") || !strings.Contains(stderr, "hamnflow resume "+id) {
		t.Fatalf("the first operator's message:\n%s", stderr)
	}
	t.Logf("the first operator said:\n%s", stderr)
	after, err := s.Events(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("the first operator wrote %d events after its lease lapsed: %+v", len(after)-len(before), after[len(before):])
	}
	ledger, _ := os.ReadFile(filepath.Join(l.dir, "ledger"))
	for _, step := range []string{"s3", "s4", "s5"} {
		if n := strings.Count(string(ledger), step+" "); n != 1 {
			t.Fatalf("%s ran %d times:\n%s", step, n, ledger)
		}
	}
	if run, _ := s.Run(id); run.Status != workflow.RunSucceeded {
		t.Fatalf("run now %s", run.Status)
	}
}
