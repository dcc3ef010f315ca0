package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sync"
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
