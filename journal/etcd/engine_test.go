package etcd

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamnflow/hamnflow/workflow"
)

// step is an action that records which operator ran which step, and
// runs a hook first.
type step struct {
	mu   *sync.Mutex
	ran  *[]string
	who  string
	hook func(ctx context.Context, step string) error
}

type noArgs struct{}

func (step) NewArgs() any                     { return &noArgs{} }
func (step) Plan(host string, _ any) []string { return []string{"step"} }
func (a step) Run(ctx context.Context, c workflow.Call) (workflow.Outcome, error) {
	if a.hook != nil {
		if err := a.hook(ctx, c.Step); err != nil {
			return workflow.Outcome{}, err
		}
	}
	a.mu.Lock()
	*a.ran = append(*a.ran, a.who+":"+c.Step)
	a.mu.Unlock()
	return workflow.Outcome{Ran: true}, nil
}

const threeSteps = `name: failover
steps:
  - id: fence
    action: step
  - id: promote
    action: step
    needs: [fence]
  - id: move_address
    action: step
    needs: [promote]
`

// The engine on an etcd journal: the first operator's lease lapses while
// a step runs; it runs nothing more, and says the lock was lost and what
// to do. The second operator resumes the run from its own host and ends
// it.
func TestEngineStopsWhenLockLost(t *testing.T) {
	cfg := testConfig(t)
	first, second := twoOperators(t, cfg)
	pb, err := workflow.Parse("failover.yaml", []byte(threeSteps))
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"params": map[string]string{}}
	var mu sync.Mutex
	var ran []string
	engine := func(s *Store, who string, hook func(context.Context, string) error) *workflow.Engine {
		return &workflow.Engine{
			Store: s, Actions: workflow.ActionSet{"step": step{mu: &mu, ran: &ran, who: who, hook: hook}},
			Prompter: workflow.NoOperator{}, Who: workflow.Who{User: who, Host: who + "-host"}, Parallel: 1,
			Loader: func(workflow.Source) (*workflow.Playbook, map[string]any, error) { return pb, data, nil },
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// While promote runs, the first operator's lease goes (as it would
	// while the process is paused): revoke it.
	lapse := func(_ context.Context, s string) error {
		if s != "promote" {
			return nil
		}
		l := first.heldLock("c1")
		if _, err := second.cli.Revoke(ctx, l.session.Lease()); err != nil {
			t.Error(err)
		}
		return nil
	}
	id, err := engine(first, "alice", lapse).Start(ctx, pb, workflow.Source{PlaybookText: threeSteps}, data, "c1")
	var re *workflow.RunError
	if !errors.As(err, &re) || !errors.Is(err, workflow.ErrJournal) {
		t.Fatalf("first operator: %v, want a RunError of ErrJournal", err)
	}
	msg := re.Msg
	t.Log(msg)
	for _, want := range []string{"lock of cluster c1", "was lost", "hamnflow resume " + id, "nothing more was run"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "free space") {
		t.Errorf("message speaks of a full disk: %s", msg)
	}
	if got := strings.Join(ran, " "); got != "alice:fence alice:promote" {
		t.Fatalf("first operator ran %q, want fence and promote only", got)
	}

	// The second operator resumes: promote's end was never recorded, so
	// it is in doubt; the operator says it is done.
	if err := engine(second, "bob", nil).Resume(ctx, id, workflow.ResumeOptions{AssumeDone: []string{"promote"}}); err != nil {
		t.Fatalf("second operator's resume: %v", err)
	}
	if got := strings.Join(ran, " "); got != "alice:fence alice:promote bob:move_address" {
		t.Fatalf("ran %q", got)
	}
	run, err := second.Run(id)
	if err != nil || run.Status != workflow.RunSucceeded {
		t.Fatalf("run: %+v, %v", run, err)
	}
	evs, _ := second.Events(id)
	var starts []string
	for _, ev := range evs {
		if ev.Type == workflow.EvStepStarted {
			starts = append(starts, ev.Step)
		}
	}
	if got := strings.Join(starts, " "); got != "fence promote move_address" {
		t.Fatalf("steps started in the journal: %q", got)
	}
}

// The lease stops being renewed while a step runs (as when the process
// was paused past the TTL and then continued): the engine stops that step
// at once, as on an interrupt, rather than letting it act on beside the
// operator who may take over; it records nothing more.
func TestEngineStopsStepWhenLeaseLapses(t *testing.T) {
	first, second := twoOperators(t, testConfig(t))
	pb, err := workflow.Parse("failover.yaml", []byte(threeSteps))
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"params": map[string]string{}}
	var mu sync.Mutex
	var ran []string
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	hook := func(stepCtx context.Context, s string) error {
		if s != "promote" {
			return nil
		}
		first.heldLock("c1").session.Orphan() // renewals stop
		select {
		case <-stepCtx.Done():
			stopped <- context.Cause(stepCtx)
			return stepCtx.Err()
		case <-time.After(10 * time.Second):
			stopped <- errors.New("the step was not stopped")
			return nil
		}
	}
	e := &workflow.Engine{
		Store: first, Actions: workflow.ActionSet{"step": step{mu: &mu, ran: &ran, who: "alice", hook: hook}},
		Prompter: workflow.NoOperator{}, Who: workflow.Who{User: "alice"}, Parallel: 1,
		Loader: func(workflow.Source) (*workflow.Playbook, map[string]any, error) { return pb, data, nil },
	}
	id, err := e.Start(ctx, pb, workflow.Source{}, data, "c1")
	if cause := <-stopped; !errors.Is(cause, workflow.ErrLockLost) {
		t.Fatalf("step ended by %v, want ErrLockLost", cause)
	}
	if !errors.Is(err, workflow.ErrLockLost) && !strings.Contains(err.Error(), "lease") {
		t.Fatalf("run: %v", err)
	}
	t.Log(err)
	evs, _ := second.Events(id)
	for _, ev := range evs {
		if ev.Step == "promote" && ev.Type != workflow.EvStepStarted {
			t.Fatalf("recorded after the lease lapsed: %+v", ev)
		}
	}
}
