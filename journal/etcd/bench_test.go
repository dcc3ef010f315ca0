package etcd

import (
	"testing"

	"github.com/hamnflow/hamnflow/workflow"
)

// lockedRun is a store holding the lock of cluster c1 and a run of it, as
// the engine writes during a run: every Append conditional on the lock.
func lockedRun(b *testing.B) (*Store, workflow.Run) {
	s := openStore(b, testConfig(b))
	l, err := s.Lock("c1", workflow.Holder{User: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Release() })
	r, err := s.CreateRun(workflow.Run{Playbook: "failover", Cluster: "c1", Steps: 1 << 30}, workflow.Source{})
	if err != nil {
		b.Fatal(err)
	}
	return s, r
}

// BenchmarkAppend is one step's commit, as the engine makes it: the
// previous step's end and this step's start in one Append, with the
// summary updated, under the cluster lock, against a one-member etcd on
// this machine (so with its fsync, without a network).
func BenchmarkAppend(b *testing.B) {
	s, r := lockedRun(b)
	exit := 0
	evs := []workflow.Event{
		{Type: workflow.EvStepSucceeded, Step: "stop-services", Host: "mn1", Exit: &exit, Stdout: "ok\n"},
		{Type: workflow.EvStepStarted, Step: "promote", Host: "mn2", Command: "pg_ctl promote -D /var/lib/postgresql/15/main"},
	}
	for b.Loop() {
		if _, err := s.Append(r.ID, func(r *workflow.Run) { r.Done++ }, evs...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvents1000 reads the log of a run with 1,000 events.
func BenchmarkEvents1000(b *testing.B) {
	s, r := lockedRun(b)
	var evs []workflow.Event
	for range 100 {
		evs = append(evs, workflow.Event{Type: workflow.EvNote, Step: "s", Message: "a note of some length, as steps write"})
	}
	for range 10 {
		if _, err := s.Append(r.ID, nil, evs...); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if got, err := s.Events(r.ID); err != nil || len(got) != 1000 {
			b.Fatal(len(got), err)
		}
	}
}

// BenchmarkAppend3Members is BenchmarkAppend against a three-member
// cluster (as on two MNs and a service node), all three in this process
// on loopback, each with its own data directory: every commit waits for a
// second member's fsync.
func BenchmarkAppend3Members(b *testing.B) {
	es, err := startCluster(b.TempDir(), 3)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { // after the store's cleanup: it closes first
		for _, e := range es {
			e.Close()
		}
	})
	var eps []string
	for _, e := range es {
		eps = append(eps, e.Clients[0].Addr().String())
	}
	s := openStore(b, Config{Endpoints: eps, Prefix: "/bench/"})
	l, err := s.Lock("c1", workflow.Holder{User: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Release()
	r, err := s.CreateRun(workflow.Run{Playbook: "failover", Cluster: "c1"}, workflow.Source{})
	if err != nil {
		b.Fatal(err)
	}
	exit := 0
	evs := []workflow.Event{
		{Type: workflow.EvStepSucceeded, Step: "stop-services", Host: "mn1", Exit: &exit, Stdout: "ok\n"},
		{Type: workflow.EvStepStarted, Step: "promote", Host: "mn2", Command: "pg_ctl promote -D /var/lib/postgresql/15/main"},
	}
	for b.Loop() {
		if _, err := s.Append(r.ID, func(r *workflow.Run) { r.Done++ }, evs...); err != nil {
			b.Fatal(err)
		}
	}
}
