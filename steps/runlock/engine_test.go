package runlock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
	"github.com/hamnflow/hamnflow/workflow/storetest"
)

// block is an action that runs until it is told to go, or its context
// ends.
type block struct{ started, gate chan struct{} }

func (block) NewArgs() any              { return &struct{}{} }
func (block) Plan(string, any) []string { return []string{"block"} }
func (b block) Run(ctx context.Context, _ workflow.Call) (workflow.Outcome, error) {
	close(b.started)
	select {
	case <-b.gate:
		return workflow.Outcome{Command: "block", Ran: true}, nil
	case <-ctx.Done():
		return workflow.Outcome{Command: "block"}, ctx.Err()
	}
}

type noSecrets struct{}

func (noSecrets) Has(string) bool               { return false }
func (noSecrets) Secret(string) (string, error) { return "", errors.New("none") }

func engineWith(s workflow.Store, b block) (*workflow.Engine, *workflow.Playbook) {
	pb := &workflow.Playbook{Name: "failover", Steps: []*workflow.Step{{ID: "promote", Action: workflow.ActionRef{Kind: "block"}}}}
	e := &workflow.Engine{Store: s, Actions: workflow.ActionSet{"block": b}, Secrets: noSecrets{},
		Prompter: workflow.NoOperator{}, Who: workflow.Who{User: "alice", Host: "jump1"}, Parallel: 1,
		Loader: func(workflow.Source) (*workflow.Playbook, map[string]any, error) { return pb, map[string]any{}, nil }}
	return e, pb
}

// TestEngineRun: through the engine, a run's markers name it while it
// runs and are gone once it succeeded.
func TestEngineRun(t *testing.T) {
	f, n := newFakeMNs(t), &notes{}
	mem := storetest.NewMem()
	b := block{started: make(chan struct{}), gate: make(chan struct{})}
	e, pb := engineWith(&Store{Store: mem, Guard: guard(f, n), Ctx: context.Background()}, b)
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(context.Background(), pb, workflow.Source{}, map[string]any{}, "prod")
		done <- err
	}()
	<-b.started
	runs, _ := mem.Runs(workflow.Filter{})
	if m := f.read(t, "mn1"); m == nil || len(runs) != 1 || m.RunID != runs[0].ID || m.User != "alice" {
		t.Fatalf("marker during the run: %+v", m)
	}
	close(b.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.read(t, "mn1") != nil || f.read(t, "mn2") != nil {
		t.Error("markers left after the run succeeded")
	}
}

// TestEngineStopsWhenForcedOut: a run whose marker another operator took
// over with --force (believing it dead) stops at its next heartbeat, as
// on an interrupt, and says why; it leaves the new holder's markers.
func TestEngineStopsWhenForcedOut(t *testing.T) {
	f, n := newFakeMNs(t), &notes{}
	mem := storetest.NewMem()
	g := guard(f, n)
	g.Every = 50 * time.Millisecond
	b := block{started: make(chan struct{}), gate: make(chan struct{})}
	e, pb := engineWith(&Store{Store: mem, Guard: g, Ctx: context.Background()}, b)
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(context.Background(), pb, workflow.Source{}, map[string]any{}, "prod")
		done <- err
	}()
	<-b.started
	other := guard(f, n)
	other.Force = true
	other.Confirm = func(context.Context, []Found) (bool, error) { return true, nil }
	h, err := other.Acquire(context.Background(), "prod", bob)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(context.Background(), true)
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the run forced out did not stop")
	}
	if !errors.Is(err, workflow.ErrInterrupted) || !strings.Contains(err.Error(), "took this run's marker on the MNs over") {
		t.Errorf("forced-out run ended with: %v", err)
	}
	if m := f.read(t, "mn1"); m == nil || m.User != "bob" {
		t.Errorf("the forced-out run touched the new holder's marker: %+v", m)
	}
}
