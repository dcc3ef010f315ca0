package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

// Conformance runs the tests every workflow.Store must pass. open gives a
// new, empty store for each test.
func Conformance(t *testing.T, open func(t *testing.T) workflow.Store) {
	t.Run("CreateRun", func(t *testing.T) {
		s := open(t)
		r, err := s.CreateRun(workflow.Run{Playbook: "failover", Cluster: "c1", Status: workflow.RunRunning},
			workflow.Source{PlaybookPath: "p.yaml", PlaybookText: "name: failover\n", Params: map[string]string{"a": "b"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.ID == "" || r.StartedAt.IsZero() || r.UpdatedAt.IsZero() {
			t.Fatalf("created run lacks id or times: %+v", r)
		}
		got, err := s.Run(r.ID)
		if err != nil || got.Playbook != "failover" || got.Cluster != "c1" || !got.StartedAt.Equal(r.StartedAt) {
			t.Fatalf("Run(%s) = %+v, %v", r.ID, got, err)
		}
		src, err := s.Source(r.ID[:len(r.ID)-1])
		if err != nil || src.PlaybookText != "name: failover\n" || src.Params["a"] != "b" {
			t.Fatalf("Source by prefix = %+v, %v", src, err)
		}
		if _, err := s.Run("no-such-run"); err == nil {
			t.Fatal("Run of an unknown id did not fail")
		}
		if _, err := s.CreateRun(workflow.Run{ID: r.ID, Playbook: "x"}, workflow.Source{}); err == nil {
			t.Fatal("a second run with the same id was created")
		}
	})
	t.Run("Append", func(t *testing.T) {
		s := open(t)
		r := mustCreate(t, s, "c1")
		evs, err := s.Append(r.ID, func(run *workflow.Run) { run.Done = 1; run.ID = "changed" },
			workflow.Event{Type: workflow.EvStepStarted, Step: "a", Attempt: 1},
			workflow.Event{Type: workflow.EvStepSucceeded, Step: "a", Outputs: map[string]string{"k": "v"}})
		if err != nil {
			t.Fatal(err)
		}
		if evs[0].Seq != 1 || evs[1].Seq != 2 || evs[0].Time.IsZero() {
			t.Fatalf("stored events: %+v", evs)
		}
		more, err := s.Append(r.ID, nil, workflow.Event{Type: workflow.EvNote, Step: "a"})
		if err != nil || more[0].Seq != 3 {
			t.Fatalf("third event: %+v, %v", more, err)
		}
		got, err := s.Run(r.ID)
		if err != nil || got.Done != 1 || got.ID != r.ID {
			t.Fatalf("update not applied, or it changed the id: %+v, %v", got, err)
		}
		all, err := s.Events(r.ID)
		if err != nil || len(all) != 3 || all[1].Outputs["k"] != "v" || all[2].Type != workflow.EvNote {
			t.Fatalf("Events = %+v, %v", all, err)
		}
		if _, err := s.Append("no-such-run", nil, workflow.Event{Type: workflow.EvNote}); err == nil {
			t.Fatal("Append to an unknown run did not fail")
		}
	})
	t.Run("ConcurrentAppends", func(t *testing.T) {
		s := open(t)
		r := mustCreate(t, s, "c1")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 5 {
					if _, err := s.Append(r.ID, func(run *workflow.Run) { run.Done++ },
						workflow.Event{Type: workflow.EvNote, Step: fmt.Sprintf("s%d", i), Message: fmt.Sprint(j)}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		evs, _ := s.Events(r.ID)
		for i, ev := range evs {
			if ev.Seq != uint64(i+1) {
				t.Fatalf("event %d has seq %d", i, ev.Seq)
			}
		}
		if got, _ := s.Run(r.ID); len(evs) != 40 || got.Done != 40 {
			t.Fatalf("%d events, done %d; want 40 and 40", len(evs), got.Done)
		}
	})
	t.Run("Runs", func(t *testing.T) {
		s := open(t)
		var ids []string
		for i := range 3 {
			r, err := s.CreateRun(workflow.Run{Playbook: []string{"failover", "sync", "failover"}[i], Cluster: "c1",
				Status: workflow.RunSucceeded, StartedAt: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)}, workflow.Source{})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		all, err := s.Runs(workflow.Filter{})
		if err != nil || len(all) != 3 || all[0].ID != ids[2] || all[2].ID != ids[0] {
			t.Fatalf("Runs: newest first wanted %v, got %v, %v", ids, runIDs(all), err)
		}
		fo, _ := s.Runs(workflow.Filter{Playbook: "failover", Limit: 1})
		if len(fo) != 1 || fo[0].ID != ids[2] {
			t.Fatalf("Runs(failover, limit 1) = %v", runIDs(fo))
		}
		since, _ := s.Runs(workflow.Filter{Since: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)})
		if len(since) != 2 {
			t.Fatalf("Runs(since) = %v", runIDs(since))
		}
	})
	t.Run("Lock", func(t *testing.T) {
		s := open(t)
		l, err := s.Lock("c1", workflow.Holder{User: "alice", Host: "mn2", PID: 42})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.SetRun("run-1"); err != nil {
			t.Fatal(err)
		}
		_, err = s.Lock("c1", workflow.Holder{User: "bob", Host: "jump", PID: 43})
		var le *workflow.LockedError
		if !errors.As(err, &le) || le.Holder.User != "alice" || le.Holder.RunID != "run-1" {
			t.Fatalf("second Lock: %v, want a LockedError naming alice and run-1", err)
		}
		other, err := s.Lock("c2", workflow.Holder{User: "bob"})
		if err != nil {
			t.Fatalf("another cluster's lock: %v", err)
		}
		other.Release()
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(); err != nil {
			t.Fatalf("second Release: %v", err)
		}
		again, err := s.Lock("c1", workflow.Holder{User: "bob"})
		if err != nil {
			t.Fatalf("Lock after Release: %v", err)
		}
		again.Release()
	})
}

func mustCreate(t *testing.T, s workflow.Store, cluster string) workflow.Run {
	t.Helper()
	r, err := s.CreateRun(workflow.Run{Playbook: "p", Cluster: cluster, Status: workflow.RunRunning}, workflow.Source{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func runIDs(rs []workflow.Run) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}
